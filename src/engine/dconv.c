/* engine/dconv.c - direct stride-1 convolution on a padded grid (see dconv.h). */
#include <stdlib.h>
#include <string.h>
#include "engine/dconv.h"
#include "engine/v16.h"

/* yw[mi*ldy + p] (mi < MB, p < 16*VB) = bias[mi] + sum_k wb[k*MB + mi] * xp[off[k] + p]. MB x VB
 * accumulators stay in registers for the whole reduction; per tap: VB vector loads of the input,
 * MB broadcasts of the weights, MB*VB fused multiply-adds. */
static inline __attribute__((always_inline)) void
dconv_tile(const int MB, const int VB, const float *restrict xp, const int32_t *restrict off,
           const float *restrict wb, const float *restrict bias, int64_t K, float *restrict yw, int64_t ldy)
{
    ng_v16 acc[8][4];
#pragma GCC unroll 8
    for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) acc[mi][vi] = (ng_v16){0} + bias[mi];
    for (int64_t k = 0; k < K; k++) {
        const float *xs = xp + off[k], *wk = wb + k * MB;
        ng_v16 xv[4];
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) memcpy(&xv[vi], xs + 16 * vi, sizeof(ng_v16));
#pragma GCC unroll 8
        for (int mi = 0; mi < MB; mi++) {
            const float wv = wk[mi];
#pragma GCC unroll 4
            for (int vi = 0; vi < VB; vi++) acc[mi][vi] += wv * xv[vi];
        }
    }
#pragma GCC unroll 8
    for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) memcpy(yw + mi * ldy + 16 * vi, &acc[mi][vi], sizeof(ng_v16));
}

typedef void (*dconv_fn)(const ng_dconv *d, const float *wp, const float *bias, const float *xpad, float *yw);

/* Grid-point blocks outside, channel blocks inside: a block's inputs are loaded from L1 for every
 * channel block (the packed weights, Mp x K floats, stay in L1 or L2 throughout). */
#define DCONV_RUN(NAME, ATTR, MB, VB)                                                                  \
    ATTR static void NAME(const ng_dconv *d, const float *wp, const float *bias, const float *xpad,   \
                          float *yw)                                                                  \
    {                                                                                                 \
        for (int64_t p = 0; p < d->Lr; p += 16 * (VB))                                                \
            for (int64_t m = 0; m < d->Mp; m += (MB))                                                 \
                dconv_tile((MB), (VB), xpad + p, d->off, wp + m * d->K, bias + m, d->K,               \
                           yw + m * d->Lr + p, d->Lr);                                                \
    }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NG_DCONV_X86 1
#define A512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define A2   __attribute__((target("avx2,fma")))
/* AVX-512: 32 registers, up to 24 accumulators. */
DCONV_RUN(run512_8_3, A512, 8, 3)
DCONV_RUN(run512_8_2, A512, 8, 2)
DCONV_RUN(run512_8_1, A512, 8, 1)
DCONV_RUN(run512_6_4, A512, 6, 4)
DCONV_RUN(run512_6_3, A512, 6, 3)
DCONV_RUN(run512_6_2, A512, 6, 2)
DCONV_RUN(run512_6_1, A512, 6, 1)
DCONV_RUN(run512_4_4, A512, 4, 4)
DCONV_RUN(run512_4_3, A512, 4, 3)
DCONV_RUN(run512_4_2, A512, 4, 2)
DCONV_RUN(run512_4_1, A512, 4, 1)
/* AVX2: 16 registers, a vector of 16 floats takes two: 8 or 12 accumulator registers. */
DCONV_RUN(run2_6_1, A2, 6, 1)
DCONV_RUN(run2_4_1, A2, 4, 1)
#endif
DCONV_RUN(run_4_1, , 4, 1)

/* Which tiles this CPU runs: 2 AVX-512, 1 AVX2 + FMA, 0 baseline; NG_DCONV_ISA=0/1 in the
 * environment caps it (test_kernels runs every set of tiles that way). */
static int dconv_isa(void)
{
    int isa = 0;
#ifdef NG_DCONV_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = 1;
    if (isa && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) isa = 2;
#endif
    const char *cap = getenv("NG_DCONV_ISA");
    if (cap && cap[0] >= '0' && cap[0] < '0' + isa) isa = cap[0] - '0';
    return isa;
}

static dconv_fn dconv_pick(int isa, int mb, int vb)
{
#ifdef NG_DCONV_X86
    static const dconv_fn t512[3][4] = {
        { run512_4_1, run512_4_2, run512_4_3, run512_4_4 },
        { run512_6_1, run512_6_2, run512_6_3, run512_6_4 },
        { run512_8_1, run512_8_2, run512_8_3, NULL },
    };
    if (isa == 2) return t512[mb / 2 - 2][vb - 1];
    if (isa == 1) return mb == 6 ? run2_6_1 : run2_4_1;
#endif
    (void)isa; (void)mb; (void)vb;
    return run_4_1;
}

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

void ng_dconv_plan(ng_dconv *d, int64_t M, int64_t Cg, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                   int64_t dh, int64_t dw, int64_t OH)
{
    const int isa = dconv_isa();
    d->isa = isa;
    d->M = M; d->K = Cg * kh * kw; d->L = OH * Wp;
    for (int64_t c = 0, k = 0; c < Cg; c++)
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) d->off[k++] = (int32_t)(c * Hp * Wp + i * dh * Wp + j * dw);
    /* Channel block: the one that pads M least (larger blocks on a tie: fewer input loads). */
    const int mbs512[3] = { 8, 6, 4 }, mbs2[2] = { 6, 4 };
    const int *mbs = isa == 2 ? mbs512 : mbs2, nmb = isa == 2 ? 3 : isa == 1 ? 2 : 1;
    d->mb = isa ? mbs[0] : 4;
    for (int i = 1; i < nmb; i++)
        if (round_up(M, mbs[i]) < round_up(M, d->mb)) d->mb = mbs[i];
    /* Vectors per tile: as many as the registers hold, fewer when rounding L up would waste more
     * than an eighth of the grid (LeNet's second layer: L = 140). */
    int vmax = isa == 2 ? (d->mb == 8 ? 3 : 4) : 1;
    d->vb = 1;
    for (int v = vmax; v >= 1; v--)
        if (8 * (round_up(d->L, 16 * v) - d->L) <= d->L || v == 1) { d->vb = v; break; }
    d->Mp = round_up(M, d->mb);
    d->Lr = round_up(d->L, 16 * d->vb);
}

int64_t ng_dconv_xpad_len(const ng_dconv *d)
{
    int32_t mx = 0;
    for (int64_t k = 0; k < d->K; k++) if (d->off[k] > mx) mx = d->off[k];
    return mx + d->Lr;
}

void ng_dconv_pack(const ng_dconv *d, const float *w, const float *b, float *wp)
{
    const int mb = d->mb;
    for (int64_t m0 = 0; m0 < d->Mp; m0 += mb)
        for (int64_t k = 0; k < d->K; k++)
            for (int mi = 0; mi < mb; mi++)
                wp[m0 * d->K + k * mb + mi] = m0 + mi < d->M ? w[(m0 + mi) * d->K + k] : 0.0f;
    float *bias = wp + d->Mp * d->K;
    for (int64_t m = 0; m < d->Mp; m++) bias[m] = b && m < d->M ? b[m] : 0.0f;
}

void ng_dconv_run(const ng_dconv *d, const float *wp, const float *xpad, float *yw)
{
    dconv_pick(d->isa, d->mb, d->vb)(d, wp, wp + d->Mp * d->K, xpad, yw);
}

/* ---- 16 output channels per vector (ng_dconv16_*) ---- */

#ifdef NG_DCONV_X86
/* Tile: output rows oh0, oh0+1 x columns ow0 .. ow0+R-1, 16 channels: 2R accumulators, per tap one
 * weight vector and 2R broadcasts of input pixels. Then Relu / the 2x2 MaxPool as dconv_out /
 * dconv_out_pool in ops_conv.c compute them (same expressions, same order). */
static inline __attribute__((always_inline)) void
dconv16_tile(const int R, const ng_dconv16 *q, const float *restrict xp, const float *restrict wq,
             const float *restrict bias, int64_t oh0, int64_t ow0, float *restrict y, float *restrict yp)
{
    ng_v16 acc[2][12], bv;
    memcpy(&bv, bias, sizeof bv);
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++)
#pragma GCC unroll 12
        for (int c = 0; c < R; c++) acc[r][c] = bv;
    const float *x0 = xp + oh0 * q->Wp + ow0, *x1 = x0 + q->Wp;
    const int32_t *off = q->d.off;
    for (int64_t k = 0; k < q->d.K; k++) {
        ng_v16 wv;
        memcpy(&wv, wq + 16 * k, sizeof wv);
        const float *a = x0 + off[k], *b = x1 + off[k];
#pragma GCC unroll 12
        for (int c = 0; c < R; c++) { acc[0][c] += a[c] * wv; acc[1][c] += b[c] * wv; }
    }
    float t[2][12][16];
#pragma GCC unroll 2
    for (int r = 0; r < 2; r++)
#pragma GCC unroll 12
        for (int c = 0; c < R; c++) {
            ng_v16 v = acc[r][c] + 0.0f;
            if (q->relu) v = (ng_v16)((ng_v16i)v & (ng_v16i)(v > (ng_v16){0}));   /* v > 0 ? v : +0, NaN -> +0 */
            memcpy(t[r][c], &v, sizeof v);
        }
    const int64_t OH = q->OH, OW = q->OW, OHW = OH * OW;
    const int nr = oh0 + 1 < OH ? 2 : 1, nc = ow0 + R <= OW ? R : (int)(OW - ow0);
    if (yp) {
        const int64_t PH = OH / 2, PW = OW / 2, ph = oh0 / 2, PHW = PH * PW;
        if (ph >= PH) return;
        for (int l = 0; l < 16; l++)
            for (int c = 0; c + 1 < nc && (ow0 + c) / 2 < PW; c += 2) {
                float a0 = t[0][c][l], a1 = t[0][c + 1][l], b0 = t[1][c][l], b1 = t[1][c + 1][l];
                float a = a0 > a1 ? a0 : a1, b = b0 > b1 ? b0 : b1;
                yp[l * PHW + ph * PW + (ow0 + c) / 2] = a > b ? a : b;
            }
        return;
    }
    for (int l = 0; l < 16; l++)
        for (int r = 0; r < nr; r++)
            for (int c = 0; c < nc; c++) y[l * OHW + (oh0 + r) * OW + ow0 + c] = t[r][c][l];
}

#define DCONV16_RUN(NAME, R)                                                                          \
    A512 static void NAME(const ng_dconv16 *q, const float *wq, const float *xpad, float *y, float *yp) \
    {                                                                                                 \
        const int64_t PHW = (q->OH / 2) * (q->OW / 2), OHW = q->OH * q->OW;                            \
        for (int64_t m = 0; m < q->M; m += 16)                                                        \
            for (int64_t oh = 0; oh < q->OH; oh += 2)                                                 \
                for (int64_t ow = 0; ow < q->OW; ow += (R))                                           \
                    dconv16_tile((R), q, xpad, wq + m * q->d.K, wq + q->M * q->d.K + m, oh, ow,       \
                                 y ? y + m * OHW : NULL, yp ? yp + m * PHW : NULL);                   \
    }

DCONV16_RUN(run16_8, 8)
DCONV16_RUN(run16_10, 10)
DCONV16_RUN(run16_12, 12)
#endif

int ng_dconv16_plan(ng_dconv16 *q, int64_t M, int64_t Cg, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                    int64_t dh, int64_t dw, int64_t OH, int64_t OW)
{
    ng_dconv_plan(&q->d, M, Cg, Hp, Wp, kh, kw, dh, dw, OH);
    /* 1x1: the grid has no junk columns, and the grid tiles measured faster (MobileNetV2's
     * 32 -> 16 at 112x112, batch 32: 13 against 17-19 ms) */
    if (q->d.isa != 2 || M % 16 || OW < 4 || kh * kw == 1) return 0;
    q->M = M; q->OH = OH; q->OW = OW; q->Wp = Wp; q->relu = 0;
    q->R = 12;
    for (int r = 10; r >= 8; r -= 2)
        if ((OW + r - 1) / r * r < (OW + q->R - 1) / q->R * q->R) q->R = r;
    return 1;
}

int64_t ng_dconv16_xpad_len(const ng_dconv16 *q)
{
    int32_t mx = 0;
    for (int64_t k = 0; k < q->d.K; k++) if (q->d.off[k] > mx) mx = q->d.off[k];
    /* the last tile reads up to row OH (OH odd) and column OW - 1 + R */
    return mx + (q->OH + 1) * q->Wp + q->R + 16;
}

void ng_dconv16_pack(const ng_dconv16 *q, const float *w, const float *b, float *wq)
{
    const int64_t K = q->d.K;
    for (int64_t m0 = 0; m0 < q->M; m0 += 16)
        for (int64_t k = 0; k < K; k++)
            for (int l = 0; l < 16; l++) wq[m0 * K + k * 16 + l] = w[(m0 + l) * K + k];
    for (int64_t m = 0; m < q->M; m++) wq[q->M * K + m] = b ? b[m] : 0.0f;
}

void ng_dconv16_run(const ng_dconv16 *q, const float *wq, const float *xpad, float *y, float *yp)
{
#ifdef NG_DCONV_X86
    (q->R == 8 ? run16_8 : q->R == 10 ? run16_10 : run16_12)(q, wq, xpad, yp ? NULL : y, yp);
#else
    (void)q; (void)wq; (void)xpad; (void)y; (void)yp;
#endif
}
