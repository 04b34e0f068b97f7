/* nnguard/model.h - the CPU engine: models, execution, gradients.
 *
 * An ng_model is a graph of operators over float32 NCHW tensors with all its
 * parameters in ONE contiguous float array (ng_model_params), tensor after
 * tensor in file order; a gradient array has the same layout. A model is
 * read-only while it runs: any number of threads may run one model at once,
 * each with its own ng_exec (activation buffers, worker threads).
 *
 *     ng_model *m;  ng_exec *e;  const float *logits;  ng_shape os;
 *     ng_model_load("lenet.onnx", &m);               // nnguard/model_io.h
 *     ng_exec_options o = ng_exec_options_default();
 *     ng_exec_new(m, &o, &e);
 *     ng_exec_forward(e, images, n, &logits, &os);   // os = {n, classes}
 *     ng_exec_free(e); ng_model_free(m);
 *
 * Training: o.training = 1; forward, then a loss gives d(loss)/d(logits), then
 * ng_exec_backward fills the parameter and/or input gradients.
 */
#ifndef NNGUARD_MODEL_H
#define NNGUARD_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "status.h"
#include "rng.h"
#include "tensor.h"

typedef struct ng_model ng_model;
typedef struct ng_exec  ng_exec;

/* ---- building and copying (loading and saving: nnguard/model_io.h) ---- */
/* Built-in architecture ("mlp", "lenet5", "vgg-small", "resnet-small") for inputs c x h x w,
 * parameters initialised as PyTorch does (Kaiming-uniform), from seed. */
ng_status ng_model_from_arch(const char *arch, int c, int h, int w, int classes, uint64_t seed,
                             ng_model **out);
ng_status ng_model_clone(const ng_model *m, ng_model **out);
void      ng_model_free(ng_model *m);

/* ---- inspection ---- */
size_t   ng_model_nparams(const ng_model *m);           /* floats in the contiguous array */
float   *ng_model_params(ng_model *m);
const float *ng_model_params_c(const ng_model *m);
size_t   ng_model_ntensors(const ng_model *m);          /* parameter tensors */
/* View of parameter tensor i (dtype F32, data points into the contiguous array). */
void     ng_model_tensor(const ng_model *m, size_t i, ng_param *out);
size_t   ng_model_tensor_offset(const ng_model *m, size_t i); /* in floats */
int      ng_model_tensor_trainable(const ng_model *m, size_t i); /* 0 for BN running stats */
void     ng_model_input_shape(const ng_model *m, ng_shape *s); /* d[0] = -1: any batch */
int      ng_model_num_classes(const ng_model *m);
/* Restrict the answers of m to the granted classes (granted[c] != 0; n = ng_model_num_classes):
 * every forward pass outside training then masks the others (probabilities 0 and the granted
 * renormalised when the model ends with Softmax; logits set to NG_MASKED_LOGIT otherwise, so
 * softmax gives them 0 and argmax a granted class). A runtime rule (what a license's classes
 * ask, nnguard/license.h), not a property of the weights: code that reads the weights itself is
 * not bound by it. Clones keep it. */
#define NG_MASKED_LOGIT (-1e30f)
ng_status ng_model_restrict_classes(ng_model *m, const uint8_t *granted, int n);
/* 1 when class c may be answered (every class of an unrestricted model). */
int      ng_model_class_granted(const ng_model *m, int c);
/* Multiply-accumulates of one sample through the model's products, on the input shape it declares:
 * Conv (outputs x in_channels/group x kernel taps), Gemm and MatMul (outputs x the contracted
 * dim); pools, norms, activations and recurrent cells are not counted. train = forward plus, per
 * counted node, the forward's count again for each operand that takes a gradient (a trainable
 * weight, an activation computed from one; not the graph input nor what is computed from it
 * alone): a training step's products. FLOPs = 2 x MACs. */
typedef struct ng_macs { int64_t forward, train; } ng_macs;
ng_status ng_model_macs(const ng_model *m, ng_macs *out);
size_t   ng_model_nnodes(const ng_model *m);
const char *ng_model_node_op(const ng_model *m, size_t i);   /* ONNX op type */
const char *ng_model_node_name(const ng_model *m, size_t i);
int64_t  ng_model_opset(const ng_model *m);
void     ng_model_id(const ng_model *m, uint8_t id[32]);
const char *ng_model_meta_get(const ng_model *m, const char *key);
ng_status   ng_model_meta_set(ng_model *m, const char *key, const char *value);
size_t      ng_model_meta_count(const ng_model *m);
void        ng_model_meta_at(const ng_model *m, size_t i, const char **key, const char **value);

/* ---- fresh initialisation (PyTorch's defaults, by the role the consuming node gives a tensor) ----
 * NG_INIT_UNIFORM: U(-scale, scale), scale = 1/sqrt(fan_in), for the weight and the bias of Conv
 * (fan_in = in_channels/group x kh x kw), Gemm and MatMul (the contracted dim); NG_INIT_CONST:
 * the value `scale`, for BatchNorm (scale 1, shift 0, running mean 0, running var 1: variance set);
 * NG_INIT_NONE: no node gives the tensor such a role. */
typedef enum ng_init_kind { NG_INIT_NONE = 0, NG_INIT_UNIFORM, NG_INIT_CONST } ng_init_kind;
typedef struct ng_init_rule { ng_init_kind kind; float scale; int variance; } ng_init_rule;
ng_init_rule ng_model_init_rule(const ng_model *m, size_t tensor);
/* One value drawn by a rule (0 for NG_INIT_NONE). */
float    ng_model_init_draw(const ng_init_rule *r, ng_rng *rng);
/* Draw parameter tensor `tensor` afresh by its rule (left as it is for NG_INIT_NONE). */
void     ng_model_init_tensor(ng_model *m, size_t tensor, ng_rng *rng);
/* Every parameter tensor afresh, from seed: the model as a fresh one would start. */
void     ng_model_reinit(ng_model *m, uint64_t seed);

/* ---- execution ---- */
typedef struct ng_exec_options {
    int      threads;   /* worker threads for this exec; 0 = all cores */
    int      training;  /* 1: BatchNorm uses batch statistics and updates running stats, Dropout drops */
    uint64_t seed;      /* Dropout RNG seed */
    int      const_params; /* 1: the model's parameters do not change while this exec lives (inference:
                              predict, serve, benchmarks). The exec may then keep weights in the form its
                              kernels want (Winograd's transformed 3x3 kernels: 16/9 of their size) from
                              the first forward on. Changing the parameters anyway: ng_exec_params_changed */
} ng_exec_options;
ng_exec_options ng_exec_options_default(void);

ng_status ng_exec_new(ng_model *m, const ng_exec_options *o, ng_exec **out);
void      ng_exec_free(ng_exec *e);
void      ng_exec_set_training(ng_exec *e, int on);
/* The model's parameters changed: drop what a const_params exec made from them (no-op otherwise;
 * ng_exec_set_training(e, 1) does it too). */
void      ng_exec_params_changed(ng_exec *e);
/* Run n inputs (n x C x H x W floats). *out points to n x classes floats owned by e,
 * valid until the next call on e. */
ng_status ng_exec_forward(ng_exec *e, const float *x, int64_t n, const float **out, ng_shape *out_shape);
/* After a forward pass on e: back-propagate dout (same shape as the output).
 * grad_params (ng_model_nparams floats, may be NULL) is OVERWRITTEN with d/dparams
 * (0 for non-trainable tensors); grad_input (n x C x H x W, may be NULL) with d/dx. */
ng_status ng_exec_backward(ng_exec *e, const float *dout, float *grad_params, float *grad_input);

/* Convenience: run a whole array in batches; writes n x classes logits. */
ng_status ng_model_predict(ng_model *m, const float *x, int64_t n, int batch, int threads, float *logits);

#endif
