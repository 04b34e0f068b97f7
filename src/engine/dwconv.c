/* engine/dwconv.c - direct depthwise convolution (see dwconv.h). */
#include <string.h>
#include "engine/dwconv.h"

typedef struct dw_job {
    const ng_win2d *g;
    int64_t N;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db;
    float *const *scr;
    int relu;
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

/* y[i] = Relu(y[i]): the same expression as the Relu op. */
NG_KERN_CLONES static void dw_relu(float *restrict y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

static void dw_fwd_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)worker;
    const dw_job *j = arg;
    const ng_win2d *g = j->g;
    const int64_t HW = g->H * g->W, OHW = g->OH * g->OW, K = g->kh * g->kw;
    for (int64_t it = i0; it < i1; it++) {
        const int64_t c = it % g->C;
        const float *xp = j->x + it * HW, *wc = j->w + c * K;
        float *yp = j->y + it * OHW;
        const float bias = j->b ? j->b[c] : 0.0f;
        for (int64_t k = 0; k < OHW; k++) yp[k] = bias;
        for (int64_t oh = 0; oh < g->OH; oh++) {
            float *yr = yp + oh * g->OW;
            for (int64_t i = 0; i < g->kh; i++) {
                const int64_t ih = oh * g->sh - g->pt + i * g->dh;
                if (ih < 0 || ih >= g->H) continue;
                for (int64_t t = 0; t < g->kw; t++) {
                    const int64_t off = t * g->dw - g->pl;
                    int64_t lo, hi;
                    dw_cols(g, off, &lo, &hi);
                    if (lo < hi) dw_axpy(yr + lo, xp + ih * g->W + off + lo * g->sw, wc[i * g->kw + t], hi - lo, g->sw);
                }
            }
        }
        if (j->relu) dw_relu(yp, OHW);
    }
}

void ng_dwconv_fwd(ng_pool *p, const ng_win2d *g, int64_t N, const float *x, const float *w,
                   const float *b, int relu, float *y)
{
    dw_job j;
    memset(&j, 0, sizeof j);
    j.g = g; j.N = N; j.x = x; j.w = w; j.b = b; j.y = y; j.relu = relu;
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
