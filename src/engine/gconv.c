/* engine/gconv.c - 3x3 convolution on a grid of padded planes (see gconv.h). */
#include <string.h>
#include "engine/gconv.h"
#include "engine/pwconv.h"
#include "engine/kern.h"

/* The grid's geometry: per channel, ph planes of Hq x Wq floats (stride 1: the padded image,
 * Hq = OH + 2, Wq = OW + 2; stride 2: its four phases, rows and columns of one parity each,
 * Hq = OH + 1, Wq = OW + 1), and tap (i, j) at toff = plane * Hq*Wq + (i / s)*Wq + j / s with
 * plane = (i % s)*s + j % s. Output (oh, ow) is grid point oh*Wq + ow of every tap's row. */
typedef struct g_geom { int64_t s, ph, Hq, Wq, L, P, cs, reach, slack; int64_t toff[9]; } g_geom;

static g_geom g_plan(const ng_gconv *g)
{
    g_geom q;
    q.s = g->sh;
    q.ph = q.s * q.s;
    q.Hq = g->OH + (q.s == 1 ? 2 : 1);
    q.Wq = g->OW + (q.s == 1 ? 2 : 1);
    q.L = g->OH * q.Wq;
    q.P = (q.L + 15) / 16 * 16;   /* whole vectors: the kernel's tiles never overlap */
    q.cs = q.ph * q.Hq * q.Wq;
    int64_t mx = 0;
    for (int t = 0; t < 9; t++) {
        const int64_t i = t / 3, j = t % 3;
        q.toff[t] = ((i % q.s) * q.s + j % q.s) * q.Hq * q.Wq + (i / q.s) * q.Wq + j / q.s;
        if (q.toff[t] > mx) mx = q.toff[t];
    }
    q.reach = 2 / q.s * q.Wq + 2 / q.s;
    /* the last channel's taps read up to mx + P - 1 floats past its start; its planes hold cs */
    q.slack = mx + q.P > q.cs ? mx + q.P - q.cs : 0;
    return q;
}

int ng_gconv_ok(const ng_gconv *g)
{
    if (g->OH < 1 || g->OW < 1 || g->pt < 0 || g->pl < 0 || (g->sh != 1 && g->sh != 2)) return 0;
    /* the padded image's rows and columns that the grid holds: (OH - 1)*s + 3 of them */
    const int64_t hp = (g->OH - 1) * g->sh + 3, wp = (g->OW - 1) * g->sh + 3;
    return g->pt < hp && g->pl < wp && g->H >= 1 && g->W >= 1;
}

int64_t ng_gconv_scratch(const ng_gconv *g)
{
    const g_geom q = g_plan(g);
    return g->C * q.cs + q.slack + g->M * q.P;
}

typedef struct gconv_job {
    const ng_gconv *g;
    const g_geom *q;
    const float *x, *res;
    float *xpad, *yg, *y;
    int act;            /* with res: applied here, after it (the kernel wrote the bare sums) */
    float lo, hi;
} gconv_job;

/* Channels [c0, c1) into their planes: padded image row r = h + pt, column v = w + pl goes to
 * plane (r % s)*s + v % s at (r / s, v / s); everything else zero (rows and columns of the image
 * past the grid's reach are never read by a valid output: dropped). */
static void pad_body(void *arg, int64_t c0, int64_t c1, int worker)
{
    const gconv_job *j = arg;
    const ng_gconv *g = j->g;
    const g_geom *q = j->q;
    const int64_t s = q->s, hp = q->Hq * s, wp = q->Wq * s;
    (void)worker;
    for (int64_t c = c0; c < c1; c++) {
        float *pc = j->xpad + c * q->cs;
        memset(pc, 0, sizeof(float) * (size_t)q->cs);
        for (int64_t h = 0; h < g->H && h + g->pt < hp; h++) {
            const int64_t r = h + g->pt;
            const float *src = j->x + (c * g->H + h) * g->W;
            int64_t n = g->W < wp - g->pl ? g->W : wp - g->pl;
            if (s == 1) {
                memcpy(pc + r * q->Wq + g->pl, src, sizeof(float) * (size_t)n);
                continue;
            }
            float *row = pc + ((r % 2) * 2) * q->Hq * q->Wq + (r / 2) * q->Wq;
            for (int64_t w = 0; w < n; w++) {
                const int64_t v = w + g->pl;
                row[(v % 2) * q->Hq * q->Wq + v / 2] = src[w];
            }
        }
    }
}

/* Output channels [m0, m1): the OW valid columns of each grid row; with res, act(grid + res) (the
 * conv's value rounded first, then the sum: as the Add and Relu / Clip nodes compute it). */
NG_KERN_CLONES static void out_body(void *arg, int64_t m0, int64_t m1, int worker)
{
    const gconv_job *j = arg;
    const ng_gconv *g = j->g;
    const g_geom *q = j->q;
    const int64_t OW = g->OW;
    (void)worker;
    for (int64_t m = m0; m < m1; m++)
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const float *restrict src = j->yg + m * q->P + oh * q->Wq;
            float *restrict dst = j->y + (m * g->OH + oh) * OW;
            if (!j->res) { memcpy(dst, src, sizeof(float) * (size_t)OW); continue; }
            const float *restrict r = j->res + (m * g->OH + oh) * OW;
            if (j->act == NG_PW_RELU)
                for (int64_t i = 0; i < OW; i++) { const float v = src[i] + r[i]; dst[i] = v > 0.0f ? v : 0.0f; }
            else if (j->act == NG_PW_CLIP)
                for (int64_t i = 0; i < OW; i++) {
                    const float v = src[i] + r[i];
                    dst[i] = v < j->lo ? j->lo : v > j->hi ? j->hi : v;
                }
            else
                for (int64_t i = 0; i < OW; i++) dst[i] = src[i] + r[i];
        }
}

void ng_gconv_run(ng_pool *p, const ng_gconv *g, const float *x, const float *w, const float *b,
                  const float *res, int act, float lo, float hi, float *y, float *scr)
{
    const g_geom q = g_plan(g);
    gconv_job j = { .g = g, .q = &q, .xpad = scr, .yg = scr + g->C * q.cs + q.slack, .act = act, .lo = lo, .hi = hi };
    memset(scr + g->C * q.cs, 0, sizeof(float) * (size_t)q.slack);
    ng_pwconv a = { .N = 1, .M = g->M, .K = 9 * g->C, .P = q.P, .x = j.xpad, .w = w, .b = b, .y = j.yg,
                    .act = res ? NG_PW_NONE : act, .lo = lo, .hi = hi, .grid = 1, .gstride = q.cs, .gphases = q.ph,
                    .greach = q.reach };
    memcpy(a.toff, q.toff, sizeof a.toff);
    for (int64_t n = 0; n < g->N; n++) {
        j.x = x + n * g->C * g->H * g->W;
        j.y = y + n * g->M * g->OH * g->OW;
        j.res = res ? res + n * g->M * g->OH * g->OW : NULL;
        ng_pool_for(p, g->C, pad_body, &j);
        ng_pwconv_run(p, &a);
        ng_pool_for(p, g->M, out_body, &j);
    }
}
