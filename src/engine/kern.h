/* engine/kern.h - helpers shared by the compute kernels (ops_conv.c, ops_gemm.c, ...):
 * im2col / col2im for 2-D convolution and an sgemm split across the exec's workers.
 *
 * Layouts: an image is C x H x W floats (row-major). Its column matrix is
 * (C*kh*kw) x (OH*OW): row (c*kh + i)*kw + j holds, for every output pixel, the
 * input pixel that kernel tap (i, j) of channel c sees (0 where it falls in padding).
 */
#ifndef NG_ENGINE_KERN_H
#define NG_ENGINE_KERN_H
#include <stdint.h>
#include "core/pool.h"
#include "nnguard/tensor.h"

/* Hot loops are compiled for AVX-512 and AVX2 as well as the baseline, picked at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NG_KERN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NG_KERN_CLONES
#endif

/* Kernels keep per-worker pointers on the stack: a pool may have at most this many workers. */
#define NG_KERN_MAX_WORKERS 256
/* A node's name for messages ("" when it has none). */
#define NG_NODE_NAME(n) ((n)->name ? (n)->name : "")

/* Geometry of one 2-D convolution or pooling window over one image. */
typedef struct ng_win2d {
    int64_t C, H, W;        /* input channels and size */
    int64_t kh, kw;         /* kernel */
    int64_t sh, sw;         /* stride */
    int64_t pt, pl;         /* padding top, left (bottom/right are implied by OH/OW) */
    int64_t dh, dw;         /* dilation */
    int64_t OH, OW;         /* output size */
} ng_win2d;

/* Output length of one axis: floor (or ceil) of (in + pads - dilated kernel) / stride + 1, with
 * PyTorch's ceil rule (the last window must start inside the input or left padding). <= 0: empty. */
int64_t ng_pool_out_len(int64_t in, int64_t k, int64_t s, int64_t pad_begin, int64_t pad_end,
                        int64_t dil, int ceil_mode);

/* x (C x H x W) -> col ((C*kh*kw) x (OH*OW)), rows ld >= OH*OW floats apart (ld > OH*OW: the
 * columns of several images side by side, for one GEMM over all of them). */
void ng_im2col(const ng_win2d *g, const float *x, float *col, int64_t ld);
/* dx (C x H x W) += col2im(col): the adjoint of ng_im2col (rows ld floats apart). */
void ng_col2im_add(const ng_win2d *g, const float *col, float *dx, int64_t ld);

/* Stride-1 column matrix on a padded grid: xpad holds C planes of Hp x Wp floats (zero-padded image,
 * Hp = OH + dh*(kh-1), Wp = OW + dw*(kw-1)) followed by dw*(kw-1) readable floats. Row (c*kh + i)*kw + j
 * of col is the L = OH*Wp floats of plane c from offset i*dh*Wp + j*dw: output pixel (oh, ow) sits at
 * oh*Wp + ow, and the columns ow >= OW of each output row are junk to be dropped. One memcpy per row
 * instead of one per output row of each kernel tap. */
void ng_pad_planes(const float *x, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl,
                   int64_t Hp, int64_t Wp, int64_t tail, float *xpad);
void ng_im2col_wide(const float *xpad, int64_t C, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                    int64_t dh, int64_t dw, int64_t L, float *col, int64_t ld);   /* rows ld >= L apart */
/* Adjoints for backward: xpad += the rows of col put back at their offsets (ng_im2col_wide), and
 * x (C x H x W) += the image part of xpad. */
void ng_col2im_wide_add(const float *col, int64_t C, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                        int64_t dh, int64_t dw, int64_t L, int64_t ld, float *xpad);   /* rows ld apart */
void ng_unpad_planes_add(const float *xpad, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl,
                         int64_t Hp, int64_t Wp, float *x);

/* C (M x N, row-major, ldc) = alpha * op(A) * op(B) + beta * C, like cblas_sgemm (row-major),
 * split into row or column blocks over the pool's workers when the product is large enough. */
void ng_par_sgemm(ng_pool *p, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                  float beta, float *C, int64_t ldc);

/* y[i] = min(max(y[i], lo), hi), the Clip op's expression (bit for bit): a Conv's fused Clip. */
void ng_clamp(float *y, int64_t n, float lo, float hi);

/* Strided walk over shape s (row-major, innermost loop on the last dim):
 * dst[db + sum_k i_k dst_st[k]] = (add: +=) src[sb + sum_k i_k sst[k]]. Strides may be 0 or negative. */
void ng_nd_map(const ng_shape *s, const float *src, int64_t sb, const int64_t *sst,
               float *dst, int64_t db, const int64_t *dst_st, int add);
/* ONNX Slice on one axis of length d: start s and end e (negative count from the end) clamped
 * ([0, d] for step > 0, [-1, d-1] for step < 0); *start and *len (>= 0) of the result. */
void ng_slice_bounds(int64_t d, int64_t s, int64_t e, int64_t step, int64_t *start, int64_t *len);
/* Row-major element strides of shape s. */
void ng_strides(const ng_shape *s, int64_t *st);

#endif
