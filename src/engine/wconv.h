/* engine/wconv.h - Winograd F(2x2, 3x3) convolution forward and data gradient, for ops_conv.c.
 *
 *   Y[n, m, oh, ow] = B[m] + sum_{c, i, j} W[m, c, i, j] * X[n, c, oh - pt + i, ow - pl + j]
 *
 * (3x3 kernel, stride 1, dilation 1, group 1, any padding). The output is cut into 2x2 tiles, each
 * computed from a 4x4 input patch d (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016):  Y_tile = A^T [ (G g G^T) .* (B^T d B) ] A  with
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 *   A^T = [1 1 1 0; 0 1 -1 -1].
 * Summed over input channels, the element-wise product becomes 16 independent GEMMs
 *   Z_k (M x T) = U_k (M x C) * V_k (C x T),  k = 0..15,
 * U_k the transformed weights, V_k the transformed patches of T tiles: 16 MACs per tile and channel
 * pair instead of 36 (2.25x fewer), for three cheap linear transforms. Tiles are processed in chunks
 * of whole tile rows (V and Z of a chunk stay in cache); many chunks: each worker runs its own chunks
 * end to end; few (batch 1): chunk after chunk, each transform and the 16 GEMMs split over the workers.
 * The coefficients are 0, +-1 and 1/2 (exact in float), so the result differs from the direct sum by
 * rounding only (test_kernels checks it against a double-precision loop).
 */
#ifndef NG_ENGINE_WCONV_H
#define NG_ENGINE_WCONV_H
#include <stdint.h>
#include "core/pool.h"

typedef struct ng_wino {
    int64_t N, C, M, H, W, pt, pl, OH, OW;
    int64_t th, tw;     /* tile rows and columns per image: ceil(OH / 2), ceil(OW / 2) */
    int64_t rows;       /* tile rows per chunk */
    int64_t nchunks;    /* ceil(N * th / rows) */
    int     own;        /* each worker runs whole chunks with its own buffers */
    int     nw;         /* workers of the pool it was planned for */
    int     pw;         /* the 16 GEMMs on the pointwise kernel (pwconv.h: weights read in place, no
                           packing) instead of OpenBLAS; the plan's choice, callers may override */
    int     tr;         /* (with pw) chunks of under NG_WINO_SMALL_TILES tiles, M a multiple of
                           NG_WINO_PANEL: the GEMMs on the small-tile kernel (wsmall.c), U in panels
                           (ng_wino_weights makes that layout); callers clearing pw clear it too */
    int     cb;         /* the input transform gathers a channel's 16 x tiles values before writing them
                           (chunks whose 16 V_k are a multiple of 2 KB apart: wconv.c) */
} ng_wino;

/* The small-tile kernel's panel: U_k's output channels in blocks of 64, each block stored C x 64
 * (channel-major), so U_k[m][c] is at (m - m % 64) * C + c * 64 + m % 64. */
#define NG_WINO_PANEL 64
#define NG_WINO_SMALL_TILES 48
/* Z_k = U_k V_k for k in [k0, k1), U in panels (wsmall.c; for wconv.c). */
void ng_wino_small_gemms(const float *Up, const float *V, float *Z, int64_t M, int64_t C, int64_t k0, int64_t k1,
                         int64_t tiles, int64_t Tb);

/* Plan the forward of x (N x C x H x W) -> y (N x M x OH x OW) on a pool of nw workers, in chunks
 * of about chunk_bytes of transformed data (0: the default; tests pass small ones for many chunks). */
void ng_wino_plan(ng_wino *p, int64_t N, int64_t C, int64_t M, int64_t H, int64_t W, int64_t pt, int64_t pl,
                  int64_t OH, int64_t OW, int nw, int64_t chunk_bytes);
/* Floats of scratch ng_wino_fwd needs: one buffer, shared by the workers. */
int64_t ng_wino_scratch(const ng_wino *p);
/* y = conv(x, w (M x C x 3 x 3), b (M, or NULL)) (+ res: N x M x OH x OW, or NULL: a folded Add's other
 * input, not y), Relu of it when relu is set (the Relu op's expression). scr: ng_wino_scratch(p) floats. */
void ng_wino_fwd(ng_pool *pool, const ng_wino *p, const float *x, const float *w, const float *b,
                 const float *res, int relu, float *y, float *scr);
/* The transformed weights U (16 x M x C floats) of w, for ng_wino_fwd_u: made once, used by every
 * forward while w does not change (an inference exec's weight cache). Their layout is the plan's
 * (in panels when p->tr): a cache made for one plan serves another only with the same tr. */
void ng_wino_weights(ng_pool *pool, const ng_wino *p, const float *w, float *U);
/* ng_wino_fwd with U made by ng_wino_weights; scr: ng_wino_scratch_u(p) floats. */
void ng_wino_fwd_u(ng_pool *pool, const ng_wino *p, const float *x, const float *U, const float *b,
                   const float *res, int relu, float *y, float *scr);
int64_t ng_wino_scratch_u(const ng_wino *p);
/* The data gradient of that convolution (3x3, stride 1, every pad in [0, 2]), on the same kernels:
 * dX += conv(dY, W turned 180 degrees with its channel axes swapped, padding 2 - pt, 2 - pl).
 * Plan it with the forward's geometry (x: N x C x H x W, w: M x C x 3 x 3, dy: N x M x OH x OW);
 * returns 0 (nothing planned) for pads outside [0, 2]. Scratch: ng_wino_scratch(p) floats. */
int  ng_wino_plan_bwd_data(ng_wino *p, int64_t N, int64_t C, int64_t M, int64_t H, int64_t W, int64_t pt,
                           int64_t pl, int64_t OH, int64_t OW, int nw, int64_t chunk_bytes);
/* dx += the data gradient of dy through w (dx is added to, as backward's gradients are). */
void ng_wino_bwd_data(ng_pool *pool, const ng_wino *p, const float *dy, const float *w, float *dx, float *scr);

#endif
