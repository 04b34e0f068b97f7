/* engine/pwconv.h - pointwise convolution (1x1, stride 1, no padding, group 1) for inference, for
 * ops_conv.c: MobileNetV2's expansions and projections, most of its arithmetic.
 *
 *   Y[n, m, p] = act(B[m] + sum_{k < K} W[m, k] * X[n, k, p]  (+ R[n, m, p]))
 *
 * p runs over the P = H*W pixels of an image (NCHW: a channel's pixels are contiguous). The register
 * tile (8 output channels x 3 vectors of 16 pixels on AVX-512) loads its pixels straight from X's rows
 * and broadcasts the weights straight from W's rows: no column matrix, no packed copies of either
 * operand (OpenBLAS packs both on every call, 13% of MobileNetV2's batch-1 time), and the bias, the
 * optional residual R (a folded Add) and Relu / Clip are applied in registers before the one store.
 * The last vector of a row of pixels ends at P (overlapping the one before: the same values
 * written twice), so P must be at least 16. Work is split over pixel chunks (sized for L2) and
 * blocks of output channels, so one image is shared by the pool's workers.
 * Tiles are compiled for AVX-512 and AVX2 (+FMA) as well as the baseline, picked at run time.
 */
#ifndef NG_ENGINE_PWCONV_H
#define NG_ENGINE_PWCONV_H
#include <stdint.h>
#include "core/pool.h"

enum { NG_PW_NONE = 0, NG_PW_RELU = 1, NG_PW_CLIP = 2 };

typedef struct ng_pwconv {
    int64_t N, M, K, P;   /* images, output channels, input channels, pixels per image */
    const float *x;       /* N x K x P */
    const float *w;       /* M x K (the Conv weight, as stored) */
    const float *b;       /* M, or NULL */
    const float *res;     /* N x M x P added after the bias (a folded Add's other input), or NULL */
    float *y;             /* N x M x P (not x, not res) */
    int act;              /* NG_PW_NONE, NG_PW_RELU (v > 0 ? v : +0) or NG_PW_CLIP (to [lo, hi]) */
    float lo, hi;
    int64_t ld;           /* floats between rows of x (0: P); an image of x is K * ld floats */
    int64_t ldy;          /* floats between rows of y and res (0: as x's); an image of y is M * ldy */
    int64_t wstep;        /* floats between the images' weight matrices (0: one W for all): Winograd's
                             16 GEMMs Z_k = U_k V_k as 16 "images" (wconv.c) */
    int     grid;         /* a 3x3 convolution on a grid of padded planes (gconv.h), N = 1, res NULL: x
                             holds K / 9 channels gstride floats apart, and row k = 9c + t of the "input"
                             starts at x + c*gstride + toff[t]; P: grid points. A chunk of points p0..p1
                             reads gphases runs of p1 - p0 + greach floats per channel */
    int64_t gstride, toff[9], gphases, greach;
} ng_pwconv;

static inline int64_t ng_pwconv_ld(const ng_pwconv *a) { return a->ld > 0 ? a->ld : a->P; }
static inline int64_t ng_pwconv_ldy(const ng_pwconv *a) { return a->ldy > 0 ? a->ldy : ng_pwconv_ld(a); }

/* Whether the kernel takes this shape (P >= 16). */
static inline int ng_pwconv_ok(int64_t P) { return P >= 16; }
/* The tiles this CPU runs: 2 AVX-512, 1 AVX2 + FMA, 0 the baseline's; NG_DCONV_ISA=0/1 in the
 * environment caps it (test_kernels runs each level; abt.c picks its tiles by it too). */
int  ng_pwconv_isa(void);
/* Whether this CPU runs the AVX2 or AVX-512 tiles (not the baseline's; NG_DCONV_ISA=0 says no). */
int  ng_pwconv_fast(void);
/* Computes a->y as above over the pool's workers. */
void ng_pwconv_run(ng_pool *p, const ng_pwconv *a);
/* The same on the calling thread (from inside a pool job). */
void ng_pwconv_serial(const ng_pwconv *a);

#endif
