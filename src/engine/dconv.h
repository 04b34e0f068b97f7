/* engine/dconv.h - direct stride-1 convolution on a padded grid, for ops_conv.c.
 *
 * One group of a stride-1 convolution, its input zero-padded into Cg planes of Hp x Wp floats
 * (ng_pad_planes), is computed on that grid: output (m, oh, ow) sits at p = oh*Wp + ow and
 *
 *   Yw[m, p] = B[m] + sum_{k < K} W[m, k] * xpad[off[k] + p],   off[(c*kh + i)*kw + j] = c*Hp*Wp + i*dh*Wp + j*dw
 *
 * (the columns ow >= OW are junk, dropped on the way out). This is ng_im2col_wide's GEMM without the
 * column matrix: the register tile (MB output channels x VB vectors of grid points) loads its inputs
 * straight from the padded planes, so nothing is copied and the K x L column matrix is never
 * written, read back and packed again. Worth it where that copy costs as much as the arithmetic:
 * few output channels and short reductions (LeNet's convolutions); wide layers stay on the GEMM.
 * Tiles are compiled for AVX-512 and AVX2 (+FMA) as well as the baseline, picked at run time.
 */
#ifndef NG_ENGINE_DCONV_H
#define NG_ENGINE_DCONV_H
#include <stdint.h>

/* Largest K (taps per output: Cg*kh*kw) the direct kernel takes. */
#define NG_DCONV_MAX_K 256

typedef struct ng_dconv {
    int64_t M, K, L;        /* output channels, taps, grid points (OH*Wp) */
    int     isa, mb, vb;    /* tile: instruction set, channels x vectors of 16 grid points */
    int64_t Mp, Lr;         /* M rounded up to mb, L rounded up to 16*vb: Yw is Mp x Lr */
    int32_t off[NG_DCONV_MAX_K];
} ng_dconv;

/* Fills d for one group's geometry (K = Cg*kh*kw <= NG_DCONV_MAX_K). xpad must then hold
 * max(off) + Lr readable floats (ng_dconv_xpad_len), the ones past the padded image zero. */
void ng_dconv_plan(ng_dconv *d, int64_t M, int64_t Cg, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                   int64_t dh, int64_t dw, int64_t OH);
int64_t ng_dconv_xpad_len(const ng_dconv *d);
/* Floats of packed weights and bias (ng_dconv_pack). */
static inline int64_t ng_dconv_packed_len(const ng_dconv *d) { return d->Mp * d->K + d->Mp; }
/* wp = w (M x K row-major) in tile order (Mp/mb blocks of K x mb, zero rows past M), then the
 * Mp biases (b may be NULL: zeros). */
void ng_dconv_pack(const ng_dconv *d, const float *w, const float *b, float *wp);
/* yw (Mp x Lr, row-major) = the grid of outputs above, bias included. */
void ng_dconv_run(const ng_dconv *d, const float *wp, const float *xpad, float *yw);

/* Variant for Mg a multiple of 16 on AVX-512 CPUs: the vector runs over 16 output channels and
 * the tile is 2 output rows x R columns, so no grid column is computed for nothing (the grid
 * path computes Wp - OW junk columns per row: 40% more work on LeNet's second layer). Writes y
 * (M x OH x OW) directly, Relu'd when relu is set, or only the 2x2 stride-2 max-pool of it into
 * yp (M x OH/2 x OW/2). */
typedef struct ng_dconv16 {
    ng_dconv d;             /* offsets, K (its tile fields unused) */
    int64_t M, OH, OW, Wp;
    int     R, relu;
} ng_dconv16;
/* 0 when the variant does not apply (no AVX-512, M % 16, OW < 4, 1x1): use ng_dconv_* then. */
int ng_dconv16_plan(ng_dconv16 *q, int64_t M, int64_t Cg, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                    int64_t dh, int64_t dw, int64_t OH, int64_t OW);
int64_t ng_dconv16_xpad_len(const ng_dconv16 *q);
static inline int64_t ng_dconv16_packed_len(const ng_dconv16 *q) { return q->M * q->d.K + q->M; }
void ng_dconv16_pack(const ng_dconv16 *q, const float *w, const float *b, float *wq);
void ng_dconv16_run(const ng_dconv16 *q, const float *wq, const float *xpad, float *y, float *yp);

#endif
