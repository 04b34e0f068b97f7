/* engine/abt.c - D += A B^T along rows (see abt.h). */
#include <string.h>
#include "engine/abt.h"
#include "engine/pwconv.h"
#include "engine/v16.h"

/* Pixels per chunk of the reduction: a tile's 6 B rows take 24 KB of L1. */
#define NG_ABT_CHUNK 1024

/* The 16 lanes' sum. */
static inline __attribute__((always_inline)) float abt_hsum(const ng_v16 *v)
{
    float h[16];
    memcpy(h, v, sizeof h);
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    for (int i = 0; i < 16; i += 4) { s0 += h[i]; s1 += h[i + 1]; s2 += h[i + 2]; s3 += h[i + 3]; }
    return (s0 + s1) + (s2 + s3);
}

/* Lane sums of several accumulators at once: red(x, y) adds the two halves of every group of w
 * lanes of x and of y, giving x's groups then y's, each w / 2 wide (RED16: w 16, ..., RED2: w 2).
 * Four levels turn 16 accumulators into one vector of their 16 sums, in order. */
#define ABT_RED16(x, y) (NG_V16_SHUF(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) + \
                         NG_V16_SHUF(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
#define ABT_RED8(x, y) (NG_V16_SHUF(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) + \
                        NG_V16_SHUF(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31))
#define ABT_RED4(x, y) (NG_V16_SHUF(x, y, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) + \
                        NG_V16_SHUF(x, y, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31))
#define ABT_RED2(x, y) (NG_V16_EVEN(x, y) + NG_V16_ODD(x, y))

/* The sums of the 16 accumulators v[0..16) into s[0..16), and of 8 into s[0..8). */
static inline __attribute__((always_inline)) void abt_sums16(const ng_v16 *v, float *s)
{
    const ng_v16 u0 = ABT_RED16(v[0], v[1]), u1 = ABT_RED16(v[2], v[3]), u2 = ABT_RED16(v[4], v[5]),
                 u3 = ABT_RED16(v[6], v[7]), u4 = ABT_RED16(v[8], v[9]), u5 = ABT_RED16(v[10], v[11]),
                 u6 = ABT_RED16(v[12], v[13]), u7 = ABT_RED16(v[14], v[15]);
    const ng_v16 t0 = ABT_RED8(u0, u1), t1 = ABT_RED8(u2, u3), t2 = ABT_RED8(u4, u5), t3 = ABT_RED8(u6, u7);
    const ng_v16 r0 = ABT_RED4(t0, t1), r1 = ABT_RED4(t2, t3), f = ABT_RED2(r0, r1);
    memcpy(s, &f, sizeof f);
}
static inline __attribute__((always_inline)) void abt_sums8(const ng_v16 *v, float *s)
{
    const ng_v16 u0 = ABT_RED16(v[0], v[1]), u1 = ABT_RED16(v[2], v[3]), u2 = ABT_RED16(v[4], v[5]),
                 u3 = ABT_RED16(v[6], v[7]);
    const ng_v16 t0 = ABT_RED8(u0, u1), t1 = ABT_RED8(u2, u3), r0 = ABT_RED4(t0, t1), z = (ng_v16){0};
    const ng_v16 f = ABT_RED2(r0, z);
    memcpy(s, &f, sizeof(float) * 8);
}

/* D[mi, ni] += sum over pixels [0, n) of a[mi*lda + p] * b[ni*ldb + p], for mi < MB, ni < NB:
 * vectors of 16 in registers, then the last n % 16 pixels as one more vector (see below). */
static inline __attribute__((always_inline)) void
abt_tile(const int MB, const int NB, const float *restrict a, int64_t lda, const float *restrict b, int64_t ldb,
         int64_t n, float *restrict d, int64_t ldd)
{
    ng_v16 acc[4][6];
#pragma GCC unroll 4
    for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 6
        for (int ni = 0; ni < NB; ni++) acc[mi][ni] = (ng_v16){0};
    const int64_t n16 = n / 16 * 16;
    for (int64_t p = 0; p < n16; p += 16) {
        ng_v16 bv[6];
#pragma GCC unroll 6
        for (int ni = 0; ni < NB; ni++) memcpy(&bv[ni], b + ni * ldb + p, sizeof(ng_v16));
#pragma GCC unroll 4
        for (int mi = 0; mi < MB; mi++) {
            ng_v16 av;
            memcpy(&av, a + mi * lda + p, sizeof av);
#pragma GCC unroll 6
            for (int ni = 0; ni < NB; ni++) acc[mi][ni] += av * bv[ni];
        }
    }
    if (n16 < n) {
        /* The last n % 16 pixels: the vector ending at n, its lanes before n16 (already summed)
         * masked off in A's rows; under 16 pixels in all, copies padded with zeros. */
        ng_v16 bv[6];
        const int64_t q = n >= 16 ? n - 16 : 0;
        const size_t len = sizeof(float) * (size_t)(n - q);
        static const int32_t ones_from16[32] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                 -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };
        ng_v16i keep;   /* lanes i >= n16 - q all ones (a table, not a vector compare: GCC 12 at -O2
                           with the sanitizers stops with an internal error on that) */
        memcpy(&keep, ones_from16 + 16 - (n16 - q), sizeof keep);
#pragma GCC unroll 6
        for (int ni = 0; ni < NB; ni++) {
            bv[ni] = (ng_v16){0};
            if (n >= 16) memcpy(&bv[ni], b + ni * ldb + q, sizeof(ng_v16));
            else memcpy(&bv[ni], b + ni * ldb, len);
        }
#pragma GCC unroll 4
        for (int mi = 0; mi < MB; mi++) {
            ng_v16 av = (ng_v16){0};
            if (n >= 16) memcpy(&av, a + mi * lda + q, sizeof av);
            else memcpy(&av, a + mi * lda, len);
            av = (ng_v16)((ng_v16i)av & keep);
#pragma GCC unroll 6
            for (int ni = 0; ni < NB; ni++) acc[mi][ni] += av * bv[ni];
        }
    }
    float sums[24];
    if (MB * NB == 24 || MB * NB == 16) {   /* the full tiles: 16 (+ 8) sums a vector at a time */
        ng_v16 flat[24];
#pragma GCC unroll 4
        for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 6
            for (int ni = 0; ni < NB; ni++) flat[mi * NB + ni] = acc[mi][ni];
        abt_sums16(flat, sums);
        if (MB * NB == 24) abt_sums8(flat + 16, sums + 16);
    } else {
#pragma GCC unroll 4
        for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 6
            for (int ni = 0; ni < NB; ni++) sums[mi * NB + ni] = abt_hsum(&acc[mi][ni]);
    }
#pragma GCC unroll 4
    for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 6
        for (int ni = 0; ni < NB; ni++) {
            d[mi * ldd + ni] += sums[mi * NB + ni];
        }
}

/* Rows of D in blocks of MB, then one by one, for NBX columns from c (B's rows c..). */
#define ABT_ROWS(MBX, NBX)                                                                           \
    do {                                                                                             \
        const float *b = q->b + c * q->ldb + p0;                                                     \
        int64_t m = 0;                                                                               \
        for (; m + (MBX) <= q->M; m += (MBX))                                                        \
            abt_tile((MBX), (NBX), q->a + m * q->lda + p0, q->lda, b, q->ldb, n, q->d + m * q->ldd + c, q->ldd); \
        for (; m < q->M; m++)                                                                        \
            abt_tile(1, (NBX), q->a + m * q->lda + p0, q->lda, b, q->ldb, n, q->d + m * q->ldd + c, q->ldd); \
    } while (0)

/* One kernel: per chunk of pixels, the columns of D in blocks of NB (the block's B rows stay in
 * L1 while every block of A's rows, in L2, passes them), then one block of as many as are left. */
#define ABT_RUN(NAME, ATTR, MB, NB)                                                \
    ATTR static void NAME(const ng_abt *q)                                         \
    {                                                                              \
        for (int64_t p0 = 0; p0 < q->P; p0 += NG_ABT_CHUNK) {                      \
            const int64_t n = q->P - p0 < NG_ABT_CHUNK ? q->P - p0 : NG_ABT_CHUNK; \
            int64_t c = 0;                                                         \
            for (; c + (NB) <= q->N; c += (NB)) ABT_ROWS((MB), (NB));              \
            switch (q->N - c) {                                                    \
            case 5: ABT_ROWS((MB), 5); break;                                      \
            case 4: ABT_ROWS((MB), 4); break;                                      \
            case 3: ABT_ROWS((MB), 3); break;                                      \
            case 2: ABT_ROWS((MB), 2); break;                                      \
            case 1: ABT_ROWS((MB), 1); break;                                      \
            default: break;                                                        \
            }                                                                      \
        }                                                                          \
    }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NG_ABT_X86 1
/* AVX-512: 24 accumulators + 6 B vectors + 1 A vector of the 32 registers. AVX2: a 16-float
 * vector takes two of its 16 registers: 2 x 2 accumulators + 2 + 1 vectors. */
ABT_RUN(abt_run512, __attribute__((target("avx512f,avx512vl,avx2,fma"))), 4, 6)
ABT_RUN(abt_run2, __attribute__((target("avx2,fma"))), 2, 2)
#endif
ABT_RUN(abt_run_base, , 2, 2)

int ng_abt_fast(void) { return ng_pwconv_isa() >= 1; }

void ng_abt_serial(const ng_abt *q)
{
    if (q->M <= 0 || q->N <= 0 || q->P <= 0) return;
#ifdef NG_ABT_X86
    const int isa = ng_pwconv_isa();
    if (isa == 2) { abt_run512(q); return; }
    if (isa == 1) { abt_run2(q); return; }
#endif
    abt_run_base(q);
}
