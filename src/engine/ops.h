/* engine/ops.h - the kernel functions behind ng_ops[] (see graph.h).
 * Naming: ng_<op>_shape / ng_<op>_fwd / ng_<op>_bwd, defined in the ops_*.c files:
 *   ops_conv.c   conv                  ops_gemm.c  gemm         ops_matmul.c matmul
 *   ops_pool.c   maxpool, avgpool, gap ops_norm.c  batchnorm    ops_reduce.c reducemean, layernorm
 *   ops_eltwise.c add, sub, mul, div, pow, relu, leakyrelu, sigmoid, tanh, hardsigmoid, hardswish,
 *                identity, dropout, sqrt, erf, gelu, clip
 *   ops_shape.c  flatten, reshape, concat, softmax
 *   ops_layout.c transpose, slice, pad, gather, squeeze, unsqueeze
 *   ops_rnn.c    lstm, gru (no backward)
 */
#ifndef NG_ENGINE_OPS_H
#define NG_ENGINE_OPS_H
#include "engine/graph.h"

#define NG_DECLARE_OP(op) \
    ng_status ng_##op##_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out); \
    ng_status ng_##op##_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out); \
    ng_status ng_##op##_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, \
                            const ng_tensor *const *out, const ng_tensor *const *dout, ng_tensor *const *din);

NG_DECLARE_OP(conv)
NG_DECLARE_OP(maxpool)
NG_DECLARE_OP(avgpool)
NG_DECLARE_OP(gap)
NG_DECLARE_OP(gemm)
NG_DECLARE_OP(matmul)
NG_DECLARE_OP(add)
NG_DECLARE_OP(mul)
NG_DECLARE_OP(relu)
NG_DECLARE_OP(leakyrelu)
NG_DECLARE_OP(sigmoid)
NG_DECLARE_OP(tanh)
NG_DECLARE_OP(hardsigmoid)
NG_DECLARE_OP(hardswish)
NG_DECLARE_OP(batchnorm)
NG_DECLARE_OP(flatten)
NG_DECLARE_OP(reshape)
NG_DECLARE_OP(identity)
NG_DECLARE_OP(dropout)
NG_DECLARE_OP(softmax)
NG_DECLARE_OP(concat)
NG_DECLARE_OP(sub)
NG_DECLARE_OP(div)
NG_DECLARE_OP(pow)
NG_DECLARE_OP(sqrt)
NG_DECLARE_OP(erf)
NG_DECLARE_OP(gelu)
NG_DECLARE_OP(clip)
NG_DECLARE_OP(transpose)
NG_DECLARE_OP(slice)
NG_DECLARE_OP(pad)
NG_DECLARE_OP(gather)
NG_DECLARE_OP(squeeze)
NG_DECLARE_OP(unsqueeze)
NG_DECLARE_OP(reducemean)
NG_DECLARE_OP(layernorm)
ng_status ng_lstm_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out);
ng_status ng_lstm_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out);
ng_status ng_gru_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out);
ng_status ng_gru_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out);

/* Scratch memory from the exec, reused across nodes (per worker); valid until the node returns.
 * c must be the context the exec handed to the kernel; NULL (message set) if out of memory. */
float *ng_opctx_scratch(ng_opctx *c, int worker, size_t floats);
/* This node's saved-state buffer (kept from forward to backward), grown to bytes. */
void  *ng_opctx_saved(ng_opctx *c, size_t bytes);
/* This node's weight cache (c->wcache) for floats made from the weights at src in the caller's
 * layout (a tag: Winograd's U plain or in panels): *fresh = 1 when the caller must fill it (first
 * use, or src, the size or the layout changed), 0 when it holds what the last forward made. NULL
 * when the exec keeps none (c->wcache NULL) or out of memory (message set). */
float *ng_opctx_wcache(ng_opctx *c, const float *src, size_t floats, int layout, int *fresh);

#endif
