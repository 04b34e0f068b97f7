/* engine/dwconv.h - direct depthwise 2-D convolution (group == C == M: one input and one output
 * channel per group), forward and backward, for ops_conv.c.
 *
 *   Y[n, c, oh, ow] = B[c] + sum_{i, j} W[c, 0, i, j] * X[n, c, oh*sh - pt + i*dh, ow*sw - pl + j*dw]
 *
 * Instead of an im2col of kh*kw rows and a 1 x (kh*kw) x OHW GEMM per (image, channel), each output
 * row is accumulated tap by tap over the output columns whose input pixel lies inside the image
 * (a contiguous range, so the loop has no bounds tests and vectorises); small outputs with equal
 * strides run each tap over the whole plane on a zero-padded grid instead (longer loops). Any kernel, stride,
 * padding and dilation. Forward work items are (image, channel); backward items are channels (each
 * worker owns its channels' dW and dB and their dX planes: no partial sums to add up).
 */
#ifndef NG_ENGINE_DWCONV_H
#define NG_ENGINE_DWCONV_H
#include <stdint.h>
#include "core/pool.h"
#include "engine/kern.h"

/* Floats of per-worker scratch ng_dwconv_fwd needs. */
int64_t ng_dwconv_fwd_scratch(const ng_win2d *g);
/* y (N x C x OH x OW) = depthwise conv of x (N x C x H x W) with w (C x 1 x kh x kw) and b (C, or NULL),
 * Relu of it when relu is set (the Relu op's expression), clamped to [clip[0], clip[1]] when clip is
 * not NULL (ng_clamp, the Clip op's). g->C = C. flat3: 3x3 stride-1 pad-1 planes may run the flat kernel
 * (one copy of the plane, vectors across row ends; else the padded-grid / row kernels). scr: one buffer of ng_dwconv_fwd_scratch(g) floats per
 * pool worker. */
void ng_dwconv_fwd(ng_pool *p, const ng_win2d *g, int64_t N, const float *x, const float *w,
                   const float *b, int relu, const float *clip, int flat3, float *y, float *const *scr);

/* Floats of per-worker scratch ng_dwconv_bwd needs. */
int64_t ng_dwconv_bwd_scratch(const ng_win2d *g);
/* dx += dX, dw += dW, db += dB for dy (N x C x OH x OW); any of dx, dw, db may be NULL.
 * scr: one buffer of ng_dwconv_bwd_scratch(g) floats per pool worker. */
void ng_dwconv_bwd(ng_pool *p, const ng_win2d *g, int64_t N, const float *x, const float *w,
                   const float *dy, float *dx, float *dw, float *db, float *const *scr);

#endif
