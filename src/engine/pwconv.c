/* engine/pwconv.c - pointwise convolution for inference (see pwconv.h). */
#include <stdlib.h>
#include <string.h>
#include "engine/pwconv.h"
#include "engine/v16.h"

/* One step of the reduction: acc[mi] += wk[mi*K] * the VB vectors at xs. */
static inline __attribute__((always_inline)) void
pw_step(const int MB, const int VB, const float *restrict xs, const float *restrict wk, int64_t K, ng_v16 acc[8][4])
{
    ng_v16 xv[4];
#pragma GCC unroll 4
    for (int vi = 0; vi < VB; vi++) memcpy(&xv[vi], xs + 16 * vi, sizeof(ng_v16));
#pragma GCC unroll 8
    for (int mi = 0; mi < MB; mi++) {
        const float wv = wk[mi * K];
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) acc[mi][vi] += wv * xv[vi];
    }
}

/* y[mi*P + p] (mi < MB, p < 16*VB) = act(bias[mi] + sum_k w[mi*K + k] * x[k*P + p] (+ res[mi*P + p])).
 * MB x VB accumulators stay in registers for the whole reduction; per input channel: VB vector
 * loads of pixels, MB broadcasts of weights, MB*VB fused multiply-adds.
 * G: the grid form (ng_pwconv.grid), the input row of k = 9c + t at x + c*gstride + toff[t]. */
static inline __attribute__((always_inline)) void
pw_tile(const int G, const int MB, const int VB, const ng_pwconv *a, const float *restrict x, const float *restrict w,
        const float *restrict bias, const float *restrict res, float *restrict y)
{
    const int64_t K = a->K, P = ng_pwconv_ld(a), PY = ng_pwconv_ldy(a);
    ng_v16 acc[8][4];
#pragma GCC unroll 8
    for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) acc[mi][vi] = (ng_v16){0} + (bias ? bias[mi] : 0.0f);
    if (G) {
        for (int64_t c = 0; c < K / 9; c++)
#pragma GCC unroll 9
            for (int t = 0; t < 9; t++) pw_step(MB, VB, x + c * a->gstride + a->toff[t], w + 9 * c + t, K, acc);
    } else {
        for (int64_t k = 0; k < K; k++) pw_step(MB, VB, x + k * P, w + k, K, acc);
    }
    const ng_v16 lo = (ng_v16){0} + a->lo, hi = (ng_v16){0} + a->hi;
#pragma GCC unroll 8
    for (int mi = 0; mi < MB; mi++)
#pragma GCC unroll 4
        for (int vi = 0; vi < VB; vi++) {
            ng_v16 v = acc[mi][vi];
            if (res) {
                ng_v16 r;
                memcpy(&r, res + mi * PY + 16 * vi, sizeof r);
                v = v + r;
            }
            if (a->act == NG_PW_RELU) {
                v = (ng_v16)((ng_v16i)v & (ng_v16i)(v > (ng_v16){0}));   /* v > 0 ? v : +0 (the Relu op's) */
            } else if (a->act == NG_PW_CLIP) {   /* v < lo ? lo : v > hi ? hi : v (ng_clamp's) */
                ng_v16i m = (ng_v16i)(v < lo);
                v = (ng_v16)(((ng_v16i)lo & m) | ((ng_v16i)v & ~m));
                m = (ng_v16i)(v > hi);
                v = (ng_v16)(((ng_v16i)hi & m) | ((ng_v16i)v & ~m));
            }
            memcpy(y + mi * PY + 16 * vi, &v, sizeof v);
        }
}

/* Rows [m0, m1) x pixels [p0, p1) (p1 - p0 >= 16) of one image: channel blocks outside (a block's
 * weight rows stay in L1), pixel blocks inside (the chunk's input rows stay in L2). The rows past
 * the last full block of MB go in blocks of 4, 2 then 1; the pixels past the last full block of
 * 16*VB in single vectors, the last one ending at p1. */
#define PW_ROWS(MBX, VBX)                                                                               \
    do {                                                                                                \
        const float *wm = w + m * K, *bm = b ? b + m : NULL;                                            \
        int64_t p = p0;                                                                                 \
        for (; p + 16 * (VBX) <= p1; p += 16 * (VBX))                                                  \
            pw_tile(0, (MBX), (VBX), a, x + p, wm, bm, res ? res + m * PY + p : NULL, y + m * PY + p); \
        for (; p < p1; p += 16) {                                                                       \
            const int64_t q = p + 16 <= p1 ? p : p1 - 16;                                               \
            pw_tile(0, (MBX), 1, a, x + q, wm, bm, res ? res + m * PY + q : NULL, y + m * PY + q);     \
        }                                                                                               \
    } while (0)

/* The grid's form: P and the chunks are whole vectors (gconv.c rounds the grid up to 16 points), so
 * the points past the last full tile go in one tile of as many vectors as are left. */
#define PW_ROWS_G(MBX, VBX)                                                                             \
    do {                                                                                                \
        const float *wm = w + m * K, *bm = b ? b + m : NULL;                                            \
        int64_t p = p0;                                                                                 \
        for (; p + 16 * (VBX) <= p1; p += 16 * (VBX))                                                  \
            pw_tile(1, (MBX), (VBX), a, x + p, wm, bm, NULL, y + m * PY + p);                           \
        switch ((p1 - p) / 16) {                                                                        \
        case 3: pw_tile(1, (MBX), 3, a, x + p, wm, bm, NULL, y + m * PY + p); break;                    \
        case 2: pw_tile(1, (MBX), 2, a, x + p, wm, bm, NULL, y + m * PY + p); break;                    \
        case 1: pw_tile(1, (MBX), 1, a, x + p, wm, bm, NULL, y + m * PY + p); break;                    \
        default: break;                                                                                 \
        }                                                                                               \
    } while (0)

/* One kernel: rows in blocks of MB, then 4, 2 and 1, each through ROWS (PW_ROWS or the grid's PW_ROWS_G). */
#define PW_RUN(NAME, ATTR, MB, VB, ROWS)                                                                 \
    ATTR static void NAME(const ng_pwconv *a, const float *x, const float *w, const float *res, float *y, \
                          int64_t m0, int64_t m1, int64_t p0, int64_t p1)                               \
    {                                                                                                   \
        const int64_t K = a->K, PY = ng_pwconv_ldy(a);                                                  \
        const float *b = a->b;                                                                          \
        int64_t m = m0;                                                                                 \
        (void)res;   /* (the grid has none) */                                                          \
        for (; m + (MB) <= m1; m += (MB)) ROWS((MB), (VB));                                             \
        for (; m + 4 <= m1; m += 4) ROWS(4, (VB));                                                      \
        for (; m + 2 <= m1; m += 2) ROWS(2, (VB));                                                      \
        for (; m < m1; m++) ROWS(1, (VB));                                                              \
    }

typedef void (*pw_fn)(const ng_pwconv *a, const float *x, const float *w, const float *res, float *y, int64_t m0,
                      int64_t m1, int64_t p0, int64_t p1);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NG_PW_X86 1
/* AVX-512: 32 registers, 24 accumulators. AVX2: 16 registers, a 16-float vector takes two. */
PW_RUN(pw_run512, __attribute__((target("avx512f,avx512vl,avx2,fma"))), 8, 3, PW_ROWS)
PW_RUN(pw_run2, __attribute__((target("avx2,fma"))), 6, 1, PW_ROWS)
/* the grid: 6 x 4 vectors (24 accumulators, 10 loads per 24 multiply-adds) */
PW_RUN(pw_grid512, __attribute__((target("avx512f,avx512vl,avx2,fma"))), 6, 4, PW_ROWS_G)
PW_RUN(pw_grid2, __attribute__((target("avx2,fma"))), 6, 1, PW_ROWS_G)
#endif
PW_RUN(pw_run_base, , 4, 1, PW_ROWS)
PW_RUN(pw_grid_base, , 4, 1, PW_ROWS_G)

/* The CPU's kernel level, detected once (ng_pwconv_serial runs per Winograd chunk and row block);
 * NG_DCONV_ISA is read per call because test_kernels changes it between runs. */
static int pw_cpu_isa(void)
{
    static int cached = -1;
    int isa = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (isa >= 0) return isa;
    isa = 0;
#ifdef NG_PW_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = 1;
    if (isa && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) isa = 2;
#endif
    __atomic_store_n(&cached, isa, __ATOMIC_RELAXED);
    return isa;
}

int ng_pwconv_isa(void)
{
    int isa = pw_cpu_isa();
    const char *cap = getenv("NG_DCONV_ISA");   /* the direct kernels' cap: test_kernels runs each */
    if (cap && cap[0] >= '0' && cap[0] < '0' + isa) isa = cap[0] - '0';
    return isa;
}

static pw_fn pw_pick(int grid)
{
    const int isa = ng_pwconv_isa();
#ifdef NG_PW_X86
    if (isa == 2) return grid ? pw_grid512 : pw_run512;
    if (isa == 1) return grid ? pw_grid2 : pw_run2;
#endif
    return grid ? pw_grid_base : pw_run_base;
}

typedef struct pw_job {
    const ng_pwconv *a;
    pw_fn fn;
    int64_t nchunks, pc, mparts, mrows;
    int rows_major;   /* items ordered by block of rows, then chunk (each worker its own rows) */
} pw_job;

/* Work item = (image, pixel chunk, block of output channels). */
static void pw_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const pw_job *j = arg;
    const ng_pwconv *a = j->a;
    (void)worker;
    for (int64_t it = i0; it < i1; it++) {
        const int64_t n = it / (j->nchunks * j->mparts), r = it % (j->nchunks * j->mparts);
        const int64_t c = j->rows_major ? r % j->nchunks : r / j->mparts;
        const int64_t mp = j->rows_major ? r / j->nchunks : r % j->mparts;
        const int64_t p0 = c * j->pc, p1 = c + 1 < j->nchunks ? p0 + j->pc : a->P;
        const int64_t m0 = mp * j->mrows, m1 = m0 + j->mrows < a->M ? m0 + j->mrows : a->M;
        if (m1 <= m0) continue;
        const int64_t ld = ng_pwconv_ld(a), ldy = ng_pwconv_ldy(a);
        j->fn(a, a->x + n * a->K * ld, a->w + n * a->wstep, a->res ? a->res + n * a->M * ldy : NULL,
              a->y + n * a->M * ldy, m0, m1, p0, p1);
    }
}

/* Input floats per pixel chunk (512 KB): the chunk's K rows stay in L2 while every channel block
 * reads them. One image is split over the workers by pixel chunks when it has at least
 * NG_PW_SPLIT_PIXELS per worker, else by channel blocks (7x7 and 14x14 planes: splitting their few
 * pixels would make every worker read all the weights for a third of a tile's columns). */
#define NG_PW_CHUNK_FLOATS 131072
#define NG_PW_SPLIT_PIXELS 384

/* The grid's split (gconv.h): its K = 9C taps make the weights the large operand, so every worker
 * takes its own rows for all grid points (the weights read once), in chunks of points whose padded
 * input rows (C x phases x (points + reach)) stay about NG_PW_GRID_FLOATS (in L2). Rows in multiples of the
 * 6-row tile. resnet18 batch 1, 2 threads, layer4 (512 -> 512, 7x7): the pointwise split above gave
 * one worker 48 points and the other 16 (1.13 ms); this one halves the rows. */
#define NG_PW_GRID_FLOATS 131072
static void pw_grid_split(pw_job *j, int nw)
{
    const ng_pwconv *a = j->a;
    const int64_t C = a->K / 9 > 0 ? a->K / 9 : 1;
    int64_t pcmax = (NG_PW_GRID_FLOATS / (C * a->gphases) - a->greach) / 64 * 64;
    if (pcmax < 64) pcmax = 64;
    j->nchunks = (a->P + pcmax - 1) / pcmax;
    if (a->M * a->K <= NG_PW_GRID_FLOATS && nw > 1) {
        /* few weights (resnet18's layer1: 64 x 576): the points split over the workers, each
         * reading all the rows (halving 64 rows into 6-row tiles left them 36 / 28) */
        j->nchunks = (j->nchunks + nw - 1) / nw * nw;
        j->mrows = a->M;
        j->rows_major = 0;
    } else {
        j->mrows = ((a->M + nw - 1) / nw + 5) / 6 * 6;
        j->rows_major = 1;
    }
    j->pc = ((a->P + j->nchunks - 1) / j->nchunks + 15) / 16 * 16;
    j->nchunks = (a->P + j->pc - 1) / j->pc;
    j->mparts = (a->M + j->mrows - 1) / j->mrows;
}

void ng_pwconv_run(ng_pool *p, const ng_pwconv *a)
{
    const int nw = ng_pool_size(p);
    pw_job j = { .a = a, .fn = pw_pick(a->grid) };
    if (a->grid) {
        pw_grid_split(&j, nw);
        ng_pool_for(p, j.nchunks * j.mparts, pw_body, &j);
        return;
    }
    int64_t pcmax = NG_PW_CHUNK_FLOATS / (a->K > 0 ? a->K : 1);
    if (pcmax < 48) pcmax = 48;
    j.nchunks = (a->P + pcmax - 1) / pcmax;
    if (a->N < nw && a->P >= NG_PW_SPLIT_PIXELS * nw) j.nchunks = (j.nchunks + nw - 1) / nw * nw;
    j.pc = (a->P + j.nchunks - 1) / j.nchunks;
    j.pc = (j.pc + 47) / 48 * 48;   /* whole tiles */
    if (j.pc > a->P) j.pc = a->P;
    j.nchunks = a->P / j.pc + (a->P % j.pc >= 16);   /* a tail under 16 pixels joins the last chunk */
    /* channel blocks: enough items for two per worker, blocks of whole tiles (multiples of 8) */
    j.mparts = 1;
    const int64_t items = a->N * j.nchunks;
    if (items < 2 * nw) {
        j.mparts = (2 * nw + items - 1) / items;
        if (j.mparts > (a->M + 7) / 8) j.mparts = (a->M + 7) / 8;
        if (j.mparts < 1) j.mparts = 1;
    }
    j.mrows = (a->M + j.mparts - 1) / j.mparts;
    j.mrows = (j.mrows + 7) / 8 * 8;
    j.mparts = (a->M + j.mrows - 1) / j.mrows;
    ng_pool_for(p, a->N * j.nchunks * j.mparts, pw_body, &j);
}

int ng_pwconv_fast(void) { return pw_pick(0) != pw_run_base; }

void ng_pwconv_serial(const ng_pwconv *a)
{
    const pw_fn fn = pw_pick(a->grid);
    const int64_t ld = ng_pwconv_ld(a), ldy = ng_pwconv_ldy(a);
    int64_t pc = NG_PW_CHUNK_FLOATS / (a->K > 0 ? a->K : 1);
    pc = pc < 48 ? 48 : pc / 48 * 48;
    for (int64_t n = 0; n < a->N; n++)
        for (int64_t p0 = 0; p0 < a->P; p0 += pc) {
            int64_t p1 = p0 + pc < a->P ? p0 + pc : a->P;
            if (a->P - p1 < 16) p1 = a->P;   /* a tail under 16 pixels joins this chunk */
            fn(a, a->x + n * a->K * ld, a->w + n * a->wstep, a->res ? a->res + n * a->M * ldy : NULL,
               a->y + n * a->M * ldy, 0, a->M, p0, p1);
            if (p1 == a->P) break;
        }
}
