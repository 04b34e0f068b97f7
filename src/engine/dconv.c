/* engine/dconv.c - direct stride-1 convolution on a padded grid (see dconv.h). */
#include <stdlib.h>
#include <string.h>
#include "engine/dconv.h"

/* 16 floats: one AVX-512 register, two AVX2 ones (GCC's generic vectors, lowered per target). */
typedef float v16 __attribute__((vector_size(64)));

/* yw[mi*ldy + p] (mi < MB, p < 16*VB) = bias[mi] + sum_k wb[k*MB + mi] * xp[off[k] + p]. MB x VB
 * accumulators stay in registers for the whole reduction; per tap: VB vector loads of the input,
 * MB broadcasts of the weights, MB*VB fused multiply-adds. */
static inline __attribute__((always_inline)) void
dconv_tile(const int MB, const int VB, const float *restrict xp, const int32_t *restrict off,
           const float *restrict wb, const float *restrict bias, int64_t K, float *restrict yw, int64_t ldy)
{
    v16 acc[8][4];
#pragma GCC unroll 8
    for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) acc[mi][vi] = (v16){0} + bias[mi];
    for (int64_t k = 0; k < K; k++) {
        const float *xs = xp + off[k], *wk = wb + k * MB;
        v16 xv[4];
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) memcpy(&xv[vi], xs + 16 * vi, sizeof(v16));
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
        for (int vi = 0; vi < VB; vi++) memcpy(yw + mi * ldy + 16 * vi, &acc[mi][vi], sizeof(v16));
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
