/* engine/gconv.h - 3x3 convolution (stride 1 or 2) for inference on a grid of padded planes,
 * through the pointwise kernel (pwconv.h), for ops_conv.c.
 *
 * Stride 1: each image's C input planes are zero-padded into Hq x Wq planes (Hq = OH + 2,
 * Wq = OW + 2); the output (m, oh, ow) is then computed at grid point p = oh*Wq + ow as
 *
 *   Yg[m, p] = act(B[m] + sum_{c, i, j} W[m, c, i, j] * xpad[c*Hq*Wq + i*Wq + j + p])
 *
 * Stride 2: the padded image is split into its four phases (even / odd rows x even / odd columns,
 * Hq = OH + 1, Wq = OW + 1 each), so that tap (i, j) of output (oh, ow), padded pixel
 * (2oh + i, 2ow + j), is point oh*Wq + ow of phase (i % 2, j % 2) shifted by (i / 2)*Wq + j / 2:
 * again one contiguous row per tap. The pointwise kernel's register tiles run with the 9 taps of a
 * channel read straight from the planes (no column matrix) and the weights broadcast from W as stored
 * (no packed copy, no transform); the Wq - OW junk columns of each grid row are dropped on the copy
 * out. Against Winograd F(2x2, 3x3) (stride 1) it does 2.25x the multiplications but reads W
 * (M x C x 9 floats) instead of U (16/9 as many), once per image, and needs no transforms: it wins where an
 * image has few tiles and many channels (resnet18 at batch 1 from its 28x28 layers on, whose U do
 * not stay in cache between forwards); at stride 2 it saves the column matrix of im2col.
 */
#ifndef NG_ENGINE_GCONV_H
#define NG_ENGINE_GCONV_H
#include <stdint.h>
#include "core/pool.h"

typedef struct ng_gconv {
    int64_t N, C, H, W, M;   /* images, input channels, input rows / columns, output channels */
    int64_t sh;              /* stride (both ways): 1 or 2 */
    int64_t pt, pl;          /* padding before (top, left) */
    int64_t OH, OW;          /* output rows / columns (OH = (H + pt + pb - 3) / sh + 1) */
} ng_gconv;

/* Whether the grid kernel takes this shape (3x3, dilation 1 and the output size checked by the
 * caller): stride 1 or 2, pads that leave the image inside the grid's reach. */
int ng_gconv_ok(const ng_gconv *g);
/* Floats of scratch ng_gconv_run needs (padded planes and the grid of outputs). */
int64_t ng_gconv_scratch(const ng_gconv *g);
/* y (N x M x OH x OW) = the convolution of x (N x C x H x W) with w (M x C x 3 x 3) and b (M or NULL),
 * plus res (shaped as y, not y; or NULL: a folded Add's other input), then act (NG_PW_NONE, NG_PW_RELU
 * or NG_PW_CLIP to [lo, hi]), over the pool's workers. */
void ng_gconv_run(ng_pool *p, const ng_gconv *g, const float *x, const float *w, const float *b,
                  const float *res, int act, float lo, float hi, float *y, float *scr);

#endif
