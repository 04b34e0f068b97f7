/* nnguard/model_io.h - models from and to files: ONNX (graph + weights), safetensors (weights
 * into a built architecture), an opened ng_weights (e.g. unlocked in memory).
 *
 * The engine (nnguard/model.h) knows nothing of file formats; these calls live in the formats
 * layer, which builds engine models from what it parsed and writes them back. */
#ifndef NNGUARD_MODEL_IO_H
#define NNGUARD_MODEL_IO_H
#ifdef NG_LAYER_ENGINE
#error "src/core and src/engine must not include nnguard/model_io.h: file formats sit above the engine (CMakeLists.txt, nnguard_engine)"
#endif
#include <stddef.h>
#include "status.h"
#include "model.h"
#include "weights.h"

/* ONNX file (graph + weights). A safetensors file holds no graph: use ng_model_from_arch + ng_model_set_weights. */
ng_status ng_model_load(const char *path, ng_model **out);
ng_status ng_model_load_buffer(const void *buf, size_t len, const char *name, ng_model **out);
/* Build the engine graph from an opened ONNX file (e.g. after unlocking it in memory). */
ng_status ng_model_from_weights(const ng_weights *w, ng_model **out);
/* Copy weights into m by parameter name; every parameter of m must be found with its shape (F32). */
ng_status ng_model_set_weights(ng_model *m, const ng_weights *w);
/* Save as ONNX (graph + weights, opset 13) or safetensors (weights only) by extension; atomic. */
ng_status ng_model_save(const ng_model *m, const char *path);
ng_status ng_model_save_onnx(const ng_model *m, const char *path);
ng_status ng_model_save_safetensors(const ng_model *m, const char *path);
#endif
