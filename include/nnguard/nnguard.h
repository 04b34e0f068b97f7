/* nnguard/nnguard.h - umbrella header for the nnguard library.
 *
 * nnguard protects trained neural networks: Deep-Lock (S-box locking of every
 * parameter), AdvParams (adversarial perturbation of a few parameters), and the
 * engine they stand on (ONNX/safetensors files, a CPU inference and training
 * engine, datasets). Call ng_init() once before anything else.
 */
#ifndef NNGUARD_H
#define NNGUARD_H
#include "version.h"
#include "status.h"
#include "init.h"
#include "rng.h"
#include "tensor.h"
#include "weights.h"
#include "model.h"
#include "model_io.h"
#include "dataset.h"
#include "train.h"
#include "keys.h"
#include "securenet.h"
#include "deeplock.h"
#include "seal.h"
#include "license.h"
#include "dynamarks.h"
#include "serve.h"

#endif
