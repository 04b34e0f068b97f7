/* engine/abt.h - D += A B^T with both operands row-major along the reduction: a training Conv's
 * weight gradient dW (M x K) += dY (M x P) col^T (K x P), for ops_conv_bwd.c.
 *
 *   D[m, n] += sum_{p < P} A[m, p] * B[n, p]        (m < M, n < N)
 *
 * OpenBLAS takes this as a GEMM with a transposed B and packs both operands on every call; here
 * the register tile (4 rows of A x 6 rows of B on AVX-512: 24 accumulators of 16 lanes) loads 16
 * pixels of each of its 10 rows per step and sums the lanes once at the end of a chunk of pixels.
 * The reduction runs in chunks of NG_ABT_CHUNK pixels so the tile's B rows stay in L1 while every
 * row block of A (in L2) passes them. Compiled for AVX-512 and AVX2 (+FMA) as well as the
 * baseline, picked at run time (NG_DCONV_ISA caps it, as for the other kernels).
 * Single-threaded: the caller splits the work (ops_conv_bwd.c gives each worker its own D).
 */
#ifndef NG_ENGINE_ABT_H
#define NG_ENGINE_ABT_H
#include <stdint.h>

typedef struct ng_abt {
    int64_t M, N, P;        /* rows of A and D, rows of B (columns of D), the reduction */
    const float *a, *b;     /* M x P (rows lda apart), N x P (rows ldb apart) */
    int64_t lda, ldb;
    float *d;               /* M x N, rows ldd apart: added into */
    int64_t ldd;
} ng_abt;

/* Whether this CPU runs the AVX2 or AVX-512 tiles (worth taking over OpenBLAS). */
int  ng_abt_fast(void);
/* D += A B^T on the calling thread. */
void ng_abt_serial(const ng_abt *q);

#endif
