/* engine/dwconv.c - direct depthwise convolution (see dwconv.h). */
#include <string.h>
#include "engine/dwconv.h"
#include "engine/v16.h"

typedef struct dw_job {
    const ng_win2d *g;
    int64_t N;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db;
    float *const *scr;
    int relu;
    const float *clip;   /* forward: {lo, hi} of a fused Clip, or NULL */
    int flat3;           /* forward: dw_fwd_flat3 may run */
} dw_job;

/* Output columns [*lo, *hi) whose tap at input column offset off (ow*sw + off) lies in [0, W). */
static void dw_cols(const ng_win2d *g, int64_t off, int64_t *lo, int64_t *hi)
{
    int64_t a = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
    int64_t b = g->W - 1 - off < 0 ? 0 : (g->W - 1 - off) / g->sw + 1;
    if (b > g->OW) b = g->OW;
    if (a > g->OW) a = g->OW;
    *lo = a; *hi = b < a ? a : b;
}

/* y[k] += wv * x[k*sw], k < n. */
NG_KERN_CLONES static void dw_axpy(float *restrict y, const float *restrict x, float wv, int64_t n, int64_t sw)
{
    if (sw == 1) { for (int64_t k = 0; k < n; k++) y[k] += wv * x[k]; return; }
    if (sw == 2) { for (int64_t k = 0; k < n; k++) y[k] += wv * x[2 * k]; return; }
    for (int64_t k = 0; k < n; k++) y[k] += wv * x[k * sw];
}

/* dx[k*sw] += wv * dy[k], k < n (the adjoint of dw_axpy). */
NG_KERN_CLONES static void dw_axpy_t(float *restrict dx, const float *restrict dy, float wv, int64_t n, int64_t sw)
{
    if (sw == 1) { for (int64_t k = 0; k < n; k++) dx[k] += wv * dy[k]; return; }
    for (int64_t k = 0; k < n; k++) dx[k * sw] += wv * dy[k];
}

/* acc[k] += dy[k] * x[k*sw], k < n (per-column partial sums of one tap's dW). */
NG_KERN_CLONES static void dw_mac(float *restrict acc, const float *restrict dy, const float *restrict x, int64_t n,
                                  int64_t sw)
{
    if (sw == 1) { for (int64_t k = 0; k < n; k++) acc[k] += dy[k] * x[k]; return; }
    if (sw == 2) { for (int64_t k = 0; k < n; k++) acc[k] += dy[k] * x[2 * k]; return; }
    for (int64_t k = 0; k < n; k++) acc[k] += dy[k] * x[k * sw];
}


/* Small outputs with equal strides (sh == sw == s): the plane zero-padded into a grid of Wp columns
 * (xp), and the output computed on a grid of the same width: output (oh, ow) at p = oh*Wp + ow reads
 * tap (i, j) at s*p + i*dh*Wp + j*dw, so each tap is one loop over all L = OH*Wp grid points (long
 * enough to vectorise where the rows are not); the columns ow >= OW are junk, dropped on the way out. */
typedef struct dw_grid { int64_t Wp, L, padsz; } dw_grid;

static int dw_use_grid(const ng_win2d *g, dw_grid *q)
{
    if (g->sh != g->sw || g->OW >= 32) return 0;
    const int64_t s = g->sh, need_w = (g->OW - 1) * s + g->dw * (g->kw - 1) + 1;
    q->Wp = g->pl + g->W > need_w ? g->pl + g->W : need_w;
    q->L = g->OH * q->Wp;
    q->padsz = s * q->L + g->dh * (g->kh - 1) * q->Wp + g->dw * (g->kw - 1) + 1;
    const int64_t rows = g->pt + g->H;
    if (q->padsz < rows * q->Wp) q->padsz = rows * q->Wp;
    return 1;
}

NG_KERN_CLONES static void dw_fwd_grid(const ng_win2d *g, const dw_grid *q, const float *restrict x,
                                       const float *restrict wc, float bias, int relu, float *restrict xp,
                                       float *restrict yw, float *restrict y)
{
    const int64_t s = g->sh, Wp = q->Wp, L = q->L;
    memset(xp, 0, sizeof(float) * (size_t)q->padsz);
    for (int64_t h = 0; h < g->H; h++) memcpy(xp + (g->pt + h) * Wp + g->pl, x + h * g->W, sizeof(float) * (size_t)g->W);
    for (int64_t p = 0; p < L; p++) yw[p] = bias;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t t = 0; t < g->kw; t++) {
            const float wv = wc[i * g->kw + t], *xs = xp + i * g->dh * Wp + t * g->dw;
            if (s == 1) for (int64_t p = 0; p < L; p++) yw[p] += wv * xs[p];
            else if (s == 2) for (int64_t p = 0; p < L; p++) yw[p] += wv * xs[2 * p];
            else for (int64_t p = 0; p < L; p++) yw[p] += wv * xs[s * p];
        }
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *src = yw + oh * Wp;
        float *dst = y + oh * g->OW;
        if (relu) for (int64_t ow = 0; ow < g->OW; ow++) dst[ow] = src[ow] > 0.0f ? src[ow] : 0.0f;
        else memcpy(dst, src, sizeof(float) * (size_t)g->OW);
    }
}

/* 3x3 windows, dilation 1, stride 1 or 2 (MobileNetV2's depthwise layers): the plane zero-padded
 * into xp (rows Hp, columns Wp), then each output row computed in one pass with the 9 taps summed
 * in registers (bias first, taps in row-major order, as the other kernels) and Relu or Clip applied
 * on the way out, instead of one read-modify-write pass over the row per tap. Rows of at least 32
 * outputs (shorter ones go to the grid kernel, whose loops run over the whole plane); the last 16
 * columns of a row are computed as one vector ending at the row's end (overlapping the previous one:
 * the same values written twice) instead of one by one. */
static int dw_use_3x3(const ng_win2d *g, int64_t *Hp, int64_t *Wp)
{
    if (g->kh != 3 || g->kw != 3 || g->dh != 1 || g->dw != 1 || g->sh != g->sw || g->sh > 2 || g->OW < 32) return 0;
    const int64_t s = g->sh, need_h = (g->OH - 1) * s + 3, need_w = (g->OW - 1) * s + 3;
    *Hp = g->pt + g->H > need_h ? g->pt + g->H : need_h;
    *Wp = g->pl + g->W > need_w ? g->pl + g->W : need_w;
    return 1;
}

/* (macros, not functions: a 64-byte vector argument would change the ABI outside the AVX-512 clone) */
#define DW_LD(v, p) memcpy(&(v), (p), sizeof(v))
/* v = Relu (v > 0 ? v : +0) or Clip (v < lo ? lo : v > hi ? hi : v) of its 16 lanes: the ops' expressions */
#define DW_ACT(v, relu, clip) do { \
        if (clip) { \
            const ng_v16 lo_ = (ng_v16){0} + (clip)[0], hi_ = (ng_v16){0} + (clip)[1]; \
            ng_v16i m_ = (ng_v16i)((v) < lo_); \
            (v) = (ng_v16)(((ng_v16i)lo_ & m_) | ((ng_v16i)(v) & ~m_)); \
            m_ = (ng_v16i)((v) > hi_); \
            (v) = (ng_v16)(((ng_v16i)hi_ & m_) | ((ng_v16i)(v) & ~m_)); \
        } else if (relu) { \
            (v) = (ng_v16)((ng_v16i)(v) & (ng_v16i)((v) > (ng_v16){0})); \
        } \
    } while (0)

NG_KERN_CLONES static void dw_fwd_3x3(const ng_win2d *g, int64_t Hp, int64_t Wp, const float *restrict x,
                                      const float *restrict wc, float bias, int relu, const float *clip,
                                      float *restrict xp, float *restrict y)
{
    /* the padded plane, plus 32 floats of slack for the stride-2 vector loads past the last row */
    memset(xp, 0, sizeof(float) * (size_t)(Hp * Wp + 32));
    for (int64_t h = 0; h < g->H; h++) memcpy(xp + (g->pt + h) * Wp + g->pl, x + h * g->W, sizeof(float) * (size_t)g->W);
    const float w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
    if (g->OW < 16) return;   /* (dw_use_3x3 sends no such plane here) */
    const int64_t OW = g->OW, s = g->sh;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *restrict yr = y + oh * OW;
        const float *r0 = xp + s * oh * Wp, *r1 = r0 + Wp, *r2 = r1 + Wp;
        if (s == 1) {
            for (int64_t k0 = 0; k0 < OW; k0 += 16) {
                const int64_t k = k0 + 16 <= OW ? k0 : OW - 16;
                ng_v16 v = (ng_v16){0} + bias, a, b, c;
                DW_LD(a, r0 + k); DW_LD(b, r0 + k + 1); DW_LD(c, r0 + k + 2);
                v += w0 * a; v += w1 * b; v += w2 * c;
                DW_LD(a, r1 + k); DW_LD(b, r1 + k + 1); DW_LD(c, r1 + k + 2);
                v += w3 * a; v += w4 * b; v += w5 * c;
                DW_LD(a, r2 + k); DW_LD(b, r2 + k + 1); DW_LD(c, r2 + k + 2);
                v += w6 * a; v += w7 * b; v += w8 * c;
                DW_ACT(v, relu, clip);
                memcpy(yr + k, &v, sizeof v);
            }
        } else {
            for (int64_t k0 = 0; k0 < OW; k0 += 16) {   /* taps 0, 1: even / odd lanes; tap 2: even lanes 2 further */
                const int64_t k = k0 + 16 <= OW ? k0 : OW - 16;
                const float *rr[3] = { r0 + 2 * k, r1 + 2 * k, r2 + 2 * k }, *ww = wc;
                ng_v16 v = (ng_v16){0} + bias;
                for (int i = 0; i < 3; i++, ww += 3) {
                    ng_v16 p, q, p2, q2;
                    DW_LD(p, rr[i]); DW_LD(q, rr[i] + 16); DW_LD(p2, rr[i] + 2); DW_LD(q2, rr[i] + 18);
                    v += ww[0] * NG_V16_EVEN(p, q); v += ww[1] * NG_V16_ODD(p, q); v += ww[2] * NG_V16_EVEN(p2, q2);
                }
                DW_ACT(v, relu, clip);
                memcpy(yr + k, &v, sizeof v);
            }
        }
    }
}

/* 3x3 windows, stride 1, dilation 1, padding 1 on every side (MobileNetV2's stride-1 depthwise
 * layers): the plane is read as one flat run of H*W pixels, output p = oh*W + ow reading tap (i, t)
 * at p + (i-1)*W + (t-1). The rows above and below come from zeros around a copy of the plane in xb
 * (one memcpy, not one per row into a padded grid); the taps of column -1 and W, which the flat
 * index would take from the neighbouring row, are masked to +0 (lanes whose column is 0 or W-1), so
 * every output sums exactly what the padded kernels sum, in the same order (bias, taps row-major).
 * Vectors of 16 outputs run across row ends, so 7x7 and 14x14 planes fill whole vectors; the last
 * vector ends at H*W (overlapping the one before). Needs H*W >= 16. */
static int dw_use_flat3(const ng_win2d *g)
{
    return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 1 &&
           g->pl == 1 && g->OH == g->H && g->OW == g->W && g->H * g->W >= 16;
}
/* Floats of xb: W + 1 zeros (and 15 more, so the plane starts 64-byte aligned when xb is), the
 * plane, W + 1 + 16 zeros. */
static int64_t dw_flat3_head(const ng_win2d *g) { return (g->W + 1 + 15) / 16 * 16; }
static int64_t dw_flat3_len(const ng_win2d *g) { return dw_flat3_head(g) + g->H * g->W + g->W + 17; }

NG_KERN_CLONES static void dw_fwd_flat3(const ng_win2d *g, const float *restrict x, const float *restrict wc,
                                        float bias, int relu, const float *clip, float *restrict xb,
                                        float *restrict y)
{
    const int64_t W = g->W, HW = g->H * W;
    float *xp = xb + dw_flat3_head(g);
    memcpy(xp, x, sizeof(float) * (size_t)HW);
    const float w0 = wc[0], w1 = wc[1], w2 = wc[2], w3 = wc[3], w4 = wc[4], w5 = wc[5], w6 = wc[6], w7 = wc[7], w8 = wc[8];
    ng_v16i col0 = {0};   /* column of each lane of the vector at p = 0 */
    for (int l = 0; l < 16; l++) col0[l] = (int32_t)(l % W);
    for (int64_t k0 = 0; k0 < HW; k0 += 16) {
        const int64_t p = k0 + 16 <= HW ? k0 : HW - 16;
        ng_v16i col = col0 + (int32_t)(p % W);
        col -= (ng_v16i)(col >= (int32_t)W) & (int32_t)W;   /* (p % W) + l % W < 2W */
        const ng_v16i ml = (ng_v16i)(col != 0), mr = (ng_v16i)(col != (int32_t)(W - 1));
        const float *r0 = xp + p - W - 1, *r1 = r0 + W, *r2 = r1 + W;
        ng_v16 v = (ng_v16){0} + bias, a, b, c;
        DW_LD(a, r0); DW_LD(b, r0 + 1); DW_LD(c, r0 + 2);
        a = (ng_v16)((ng_v16i)a & ml); c = (ng_v16)((ng_v16i)c & mr);
        v += w0 * a; v += w1 * b; v += w2 * c;
        DW_LD(a, r1); DW_LD(b, r1 + 1); DW_LD(c, r1 + 2);
        a = (ng_v16)((ng_v16i)a & ml); c = (ng_v16)((ng_v16i)c & mr);
        v += w3 * a; v += w4 * b; v += w5 * c;
        DW_LD(a, r2); DW_LD(b, r2 + 1); DW_LD(c, r2 + 2);
        a = (ng_v16)((ng_v16i)a & ml); c = (ng_v16)((ng_v16i)c & mr);
        v += w6 * a; v += w7 * b; v += w8 * c;
        DW_ACT(v, relu, clip);
        memcpy(y + p, &v, sizeof v);
    }
}

/* 3x3 windows, stride 2, dilation 1, outputs under 32 columns (MobileNetV2's 56 -> 28, 28 -> 14 and
 * 14 -> 7 layers): the plane zero-padded into xp (Hp rows of Wp columns), then each output row in
 * vectors of 16 outputs, which take the even / odd lanes of 32 inputs per row of taps, the 9 taps
 * summed in registers (bias first, row-major, as the other kernels), Relu / Clip applied on the way
 * out; rows of 16 or more end with a vector overlapping the one before, shorter rows go through a
 * 16-float buffer. (dw_fwd_grid computed a grid as wide as the padded input: half its stride-2
 * outputs were junk, and it made 9 read-modify-write passes.) xp's zero borders are written once
 * per worker and call: each plane overwrites only the image rows. */
typedef struct dw_s2 { int64_t Hp, Wp, xlen; } dw_s2;

static int dw_use_s2(const ng_win2d *g, dw_s2 *q)
{
    if (g->kh != 3 || g->kw != 3 || g->dh != 1 || g->dw != 1 || g->sh != 2 || g->sw != 2 || g->OW >= 32) return 0;
    q->Wp = g->pl + g->W > 2 * g->OW + 1 ? g->pl + g->W : 2 * g->OW + 1;
    q->Hp = g->pt + g->H > 2 * g->OH + 1 ? g->pt + g->H : 2 * g->OH + 1;
    q->xlen = q->Hp * q->Wp + 48;   /* a row's last vector reads up to 33 floats past its first input */
    return 1;
}

NG_KERN_CLONES static void dw_fwd_s2(const ng_win2d *g, const dw_s2 *q, const float *restrict x,
                                     const float *restrict wc, float bias, int relu, const float *clip,
                                     float *restrict xp, float *restrict y)
{
    const int64_t Wp = q->Wp, OW = g->OW;
    for (int64_t h = 0; h < g->H; h++) {
        float *d = xp + (g->pt + h) * Wp + g->pl;
        const float *r = x + h * g->W;
        for (int64_t k = 0; k < g->W; k++) d[k] = r[k];
    }
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *yr = y + oh * OW;
        for (int64_t k0 = 0; k0 < OW; k0 += 16) {
            const int64_t k = k0 + 16 <= OW || OW < 16 ? k0 : OW - 16;
            const float *ww = wc;
            ng_v16 v = (ng_v16){0} + bias;
            for (int i = 0; i < 3; i++, ww += 3) {
                const float *r = xp + (2 * oh + i) * Wp + 2 * k;
                ng_v16 a, b, a2, b2;
                DW_LD(a, r); DW_LD(b, r + 16); DW_LD(a2, r + 2); DW_LD(b2, r + 18);
                v += ww[0] * NG_V16_EVEN(a, b); v += ww[1] * NG_V16_ODD(a, b); v += ww[2] * NG_V16_EVEN(a2, b2);
            }
            DW_ACT(v, relu, clip);
            if (OW >= 16) { memcpy(yr + k, &v, sizeof v); continue; }
            float t[16];
            memcpy(t, &v, sizeof v);
            for (int64_t c = 0; c < OW; c++) yr[c] = t[c];
        }
    }
}

/* One plane, row by row: each tap over the contiguous range of output columns it sees the image in. */
NG_KERN_CLONES static void dw_fwd_rows(const ng_win2d *g, const float *restrict x, const float *restrict wc,
                                       float bias, int relu, float *restrict y)
{
    const int64_t OHW = g->OH * g->OW, sw = g->sw;
    for (int64_t k = 0; k < OHW; k++) y[k] = bias;
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t t = 0; t < g->kw; t++) {
            const int64_t off = t * g->dw - g->pl;
            const float wv = wc[i * g->kw + t];
            int64_t lo, hi;
            dw_cols(g, off, &lo, &hi);
            if (lo >= hi) continue;
            for (int64_t oh = 0; oh < g->OH; oh++) {
                const int64_t ih = oh * g->sh - g->pt + i * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                float *yr = y + oh * g->OW + lo;
                const float *xr = x + ih * g->W + off + lo * sw;
                const int64_t n = hi - lo;
                if (sw == 1) for (int64_t k = 0; k < n; k++) yr[k] += wv * xr[k];
                else if (sw == 2) for (int64_t k = 0; k < n; k++) yr[k] += wv * xr[2 * k];
                else for (int64_t k = 0; k < n; k++) yr[k] += wv * xr[k * sw];
            }
        }
    if (relu) for (int64_t k = 0; k < OHW; k++) y[k] = y[k] > 0.0f ? y[k] : 0.0f;
}

static void dw_fwd_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const dw_job *j = arg;
    const ng_win2d *g = j->g;
    const int64_t HW = g->H * g->W, OHW = g->OH * g->OW, K = g->kh * g->kw;
    dw_grid q;
    int64_t Hp = 0, Wp = 0;
    dw_s2 q2;
    const int flat = j->flat3 && dw_use_flat3(g), s2 = !flat && j->flat3 && dw_use_s2(g, &q2);
    const int k3 = !flat && !s2 && dw_use_3x3(g, &Hp, &Wp), grid = !flat && !s2 && !k3 && dw_use_grid(g, &q);
    if (flat) {   /* the zeros around the plane: written once, the plane's copy never touches them */
        memset(j->scr[worker], 0, sizeof(float) * (size_t)dw_flat3_head(g));
        memset(j->scr[worker] + dw_flat3_head(g) + HW, 0, sizeof(float) * (size_t)(g->W + 17));
    }
    if (s2) memset(j->scr[worker], 0, sizeof(float) * (size_t)q2.xlen);
    for (int64_t it = i0; it < i1; it++) {
        const int64_t c = it % g->C;
        const float bias = j->b ? j->b[c] : 0.0f;
        if (flat) {
            dw_fwd_flat3(g, j->x + it * HW, j->w + c * K, bias, j->relu, j->clip, j->scr[worker], j->y + it * OHW);
            continue;
        }
        if (s2) {
            dw_fwd_s2(g, &q2, j->x + it * HW, j->w + c * K, bias, j->relu, j->clip, j->scr[worker], j->y + it * OHW);
            continue;
        }
        if (k3) {
            dw_fwd_3x3(g, Hp, Wp, j->x + it * HW, j->w + c * K, bias, j->relu, j->clip, j->scr[worker], j->y + it * OHW);
            continue;
        }
        if (grid) dw_fwd_grid(g, &q, j->x + it * HW, j->w + c * K, bias, j->relu, j->scr[worker],
                              j->scr[worker] + q.padsz, j->y + it * OHW);
        else dw_fwd_rows(g, j->x + it * HW, j->w + c * K, bias, j->relu, j->y + it * OHW);
        if (j->clip) ng_clamp(j->y + it * OHW, OHW, j->clip[0], j->clip[1]);   /* while the plane is in cache */
    }
}

int64_t ng_dwconv_fwd_scratch(const ng_win2d *g)
{
    dw_grid q;
    int64_t Hp, Wp;
    int64_t n = 1;
    dw_s2 q2;
    if (dw_use_flat3(g)) n = dw_flat3_len(g);   /* the exec picks the kernel after sizing the scratch */
    if (dw_use_s2(g, &q2) && q2.xlen > n) n = q2.xlen;
    if (dw_use_3x3(g, &Hp, &Wp)) return Hp * Wp + 32 > n ? Hp * Wp + 32 : n;
    return dw_use_grid(g, &q) && q.padsz + q.L > n ? q.padsz + q.L : n;
}

void ng_dwconv_fwd(ng_pool *p, const ng_win2d *g, int64_t N, const float *x, const float *w,
                   const float *b, int relu, const float *clip, int flat3, float *y, float *const *scr)
{
    dw_job j;
    memset(&j, 0, sizeof j);
    j.g = g; j.N = N; j.x = x; j.w = w; j.b = b; j.y = y; j.relu = relu; j.clip = clip; j.scr = scr;
    j.flat3 = flat3;
    ng_pool_for(p, N * g->C, dw_fwd_body, &j);
}

int64_t ng_dwconv_bwd_scratch(const ng_win2d *g) { return (g->kh * g->kw + 1) * g->OW; }

/* Sum of n floats, in double. */
static double dw_sum(const float *a, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += a[i];
    return s;
}

static void dw_bwd_body(void *arg, int64_t c0, int64_t c1, int worker)
{
    const dw_job *j = arg;
    const ng_win2d *g = j->g;
    const int64_t HW = g->H * g->W, OHW = g->OH * g->OW, K = g->kh * g->kw, OW = g->OW;
    float *acc = j->scr[worker], *accb = acc + K * OW;   /* per tap, per output column: partial dW; dB */
    for (int64_t c = c0; c < c1; c++) {
        const float *wc = j->w + c * K;
        for (int64_t n = 0; n < j->N; n++) {
            const int64_t pl = n * g->C + c;
            const float *xp = j->x + pl * HW, *dyp = j->dy + pl * OHW;
            float *dxp = j->dx ? j->dx + pl * HW : NULL;
            if (j->dw || j->db) memset(acc, 0, sizeof(float) * (size_t)((K + 1) * OW));
            for (int64_t oh = 0; oh < g->OH; oh++) {
                const float *dyr = dyp + oh * OW;
                if (j->db) dw_axpy(accb, dyr, 1.0f, OW, 1);
                for (int64_t i = 0; i < g->kh; i++) {
                    const int64_t ih = oh * g->sh - g->pt + i * g->dh;
                    if (ih < 0 || ih >= g->H) continue;
                    for (int64_t t = 0; t < g->kw; t++) {
                        const int64_t off = t * g->dw - g->pl;
                        int64_t lo, hi;
                        dw_cols(g, off, &lo, &hi);
                        if (lo >= hi) continue;
                        const int64_t xo = ih * g->W + off + lo * g->sw;
                        if (j->dw) dw_mac(acc + (i * g->kw + t) * OW + lo, dyr + lo, xp + xo, hi - lo, g->sw);
                        if (dxp) dw_axpy_t(dxp + xo, dyr + lo, wc[i * g->kw + t], hi - lo, g->sw);
                    }
                }
            }
            if (j->dw)
                for (int64_t k = 0; k < K; k++) j->dw[c * K + k] += (float)dw_sum(acc + k * OW, OW);
            if (j->db) j->db[c] += (float)dw_sum(accb, OW);
        }
    }
}

void ng_dwconv_bwd(ng_pool *p, const ng_win2d *g, int64_t N, const float *x, const float *w,
                   const float *dy, float *dx, float *dw, float *db, float *const *scr)
{
    dw_job j;
    memset(&j, 0, sizeof j);
    j.g = g; j.N = N; j.x = x; j.w = w; j.dy = dy; j.dx = dx; j.dw = dw; j.db = db; j.scr = scr;
    ng_pool_for(p, g->C, dw_bwd_body, &j);
}
