/* engine/kern.c - im2col / col2im and a worker-parallel sgemm (see kern.h). */
#include <string.h>
#include <cblas.h>
#include "engine/kern.h"

int64_t ng_pool_out_len(int64_t in, int64_t k, int64_t s, int64_t pad_begin, int64_t pad_end,
                        int64_t dil, int ceil_mode)
{
    int64_t span = in + pad_begin + pad_end - (dil * (k - 1) + 1);
    if (span < 0 || s <= 0) return 0;
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    /* PyTorch/ONNX: drop a last window that would start in the right padding. */
    if (ceil_mode && (out - 1) * s >= in + pad_begin) out--;
    return out;
}

/* Outputs o in [lo, hi) whose input index o*s + off lies in [0, n). */
static void valid_range(int64_t off, int64_t s, int64_t n, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = (n - 1 - off) < 0 ? 0 : (n - 1 - off) / s + 1;
    if (a > out) a = out;
    if (b > out) b = out;
    if (b < a) b = a;
    *lo = a; *hi = b;
}

NG_KERN_CLONES void ng_im2col(const ng_win2d *g, const float *x, float *col, int64_t ld)
{
    const int64_t OW = g->OW, OH = g->OH, W = g->W;
    for (int64_t c = 0; c < g->C; c++) {
        const float *xc = x + c * g->H * W;
        for (int64_t i = 0; i < g->kh; i++) {
            int64_t hoff = i * g->dh - g->pt, oh0, oh1;
            valid_range(hoff, g->sh, g->H, OH, &oh0, &oh1);
            for (int64_t j = 0; j < g->kw; j++) {
                int64_t woff = j * g->dw - g->pl, ow0, ow1;
                valid_range(woff, g->sw, W, OW, &ow0, &ow1);
                float *row = col + ((c * g->kh + i) * g->kw + j) * ld;
                if (oh0 > 0) memset(row, 0, sizeof(float) * (size_t)(oh0 * OW));
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    float *r = row + oh * OW;
                    const float *xr = xc + (oh * g->sh + hoff) * W + woff;
                    for (int64_t ow = 0; ow < ow0; ow++) r[ow] = 0.0f;
                    if (g->sw == 1) {
                        /* rows are short (tens of floats): a loop beats a memcpy call */
                        for (int64_t ow = ow0; ow < ow1; ow++) r[ow] = xr[ow];
                    } else if (g->sw == 2) {
                        for (int64_t ow = ow0; ow < ow1; ow++) r[ow] = xr[2 * ow];
                    } else {
                        for (int64_t ow = ow0; ow < ow1; ow++) r[ow] = xr[ow * g->sw];
                    }
                    for (int64_t ow = ow1; ow < OW; ow++) r[ow] = 0.0f;
                }
                if (oh1 < OH) memset(row + oh1 * OW, 0, sizeof(float) * (size_t)((OH - oh1) * OW));
            }
        }
    }
}

NG_KERN_CLONES void ng_col2im_add(const ng_win2d *g, const float *col, float *dx, int64_t ld)
{
    const int64_t OW = g->OW, OH = g->OH, W = g->W;
    for (int64_t c = 0; c < g->C; c++) {
        float *dc = dx + c * g->H * W;
        for (int64_t i = 0; i < g->kh; i++) {
            int64_t hoff = i * g->dh - g->pt, oh0, oh1;
            valid_range(hoff, g->sh, g->H, OH, &oh0, &oh1);
            for (int64_t j = 0; j < g->kw; j++) {
                int64_t woff = j * g->dw - g->pl, ow0, ow1;
                valid_range(woff, g->sw, W, OW, &ow0, &ow1);
                const float *row = col + ((c * g->kh + i) * g->kw + j) * ld;
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    const float *r = row + oh * OW;
                    float *dr = dc + (oh * g->sh + hoff) * W + woff;
                    if (g->sw == 1) {
                        for (int64_t ow = ow0; ow < ow1; ow++) dr[ow] += r[ow];
                    } else {
                        for (int64_t ow = ow0; ow < ow1; ow++) dr[ow * g->sw] += r[ow];
                    }
                }
            }
        }
    }
}

void ng_pad_planes(const float *x, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl,
                   int64_t Hp, int64_t Wp, int64_t tail, float *xpad)
{
    memset(xpad, 0, sizeof(float) * (size_t)(C * Hp * Wp + tail));
    int64_t n = W < Wp - pl ? W : Wp - pl;   /* right padding beyond Wp is never read */
    if (n <= 0) return;
    for (int64_t c = 0; c < C; c++)
        for (int64_t h = 0; h < H && h + pt < Hp; h++)
            memcpy(xpad + (c * Hp + h + pt) * Wp + pl, x + (c * H + h) * W, sizeof(float) * (size_t)n);
}

void ng_im2col_wide(const float *xpad, int64_t C, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                    int64_t dh, int64_t dw, int64_t L, float *col, int64_t ld)
{
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++)
                memcpy(col + ((c * kh + i) * kw + j) * ld, xpad + c * Hp * Wp + i * dh * Wp + j * dw,
                       sizeof(float) * (size_t)L);
}

NG_KERN_CLONES void ng_col2im_wide_add(const float *col, int64_t C, int64_t Hp, int64_t Wp, int64_t kh, int64_t kw,
                                       int64_t dh, int64_t dw, int64_t L, const int64_t ld, float *xpad)
{
    for (int64_t c = 0; c < C; c++)
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) {
                const float *r = col + ((c * kh + i) * kw + j) * ld;
                float *d = xpad + c * Hp * Wp + i * dh * Wp + j * dw;
                for (int64_t k = 0; k < L; k++) d[k] += r[k];
            }
}

void ng_unpad_planes_add(const float *xpad, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl,
                         int64_t Hp, int64_t Wp, float *x)
{
    int64_t n = W < Wp - pl ? W : Wp - pl;
    if (n <= 0) return;
    for (int64_t c = 0; c < C; c++)
        for (int64_t h = 0; h < H && h + pt < Hp; h++) {
            const float *s = xpad + (c * Hp + h + pt) * Wp + pl;
            float *d = x + (c * H + h) * W;
            for (int64_t k = 0; k < n; k++) d[k] += s[k];
        }
}

/* ---- parallel sgemm ---- */

typedef struct gemm_job {
    int ta, tb, split_rows;
    int64_t M, N, K, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void gemm_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    const gemm_job *j = arg;
    enum CBLAS_TRANSPOSE ta = j->ta ? CblasTrans : CblasNoTrans, tb = j->tb ? CblasTrans : CblasNoTrans;
    if (j->split_rows) {
        /* rows i0..i1 of op(A) and C */
        const float *a = j->A + (j->ta ? i0 : i0 * j->lda);
        cblas_sgemm(CblasRowMajor, ta, tb, (int)(i1 - i0), (int)j->N, (int)j->K, j->alpha, a, (int)j->lda,
                    j->B, (int)j->ldb, j->beta, j->C + i0 * j->ldc, (int)j->ldc);
    } else {
        /* columns i0..i1 of op(B) and C */
        const float *b = j->B + (j->tb ? i0 * j->ldb : i0);
        cblas_sgemm(CblasRowMajor, ta, tb, (int)j->M, (int)(i1 - i0), (int)j->K, j->alpha, j->A, (int)j->lda,
                    b, (int)j->ldb, j->beta, j->C + i0, (int)j->ldc);
    }
}

/* Below this many multiply-adds one thread is faster than waking the workers. */
#define PAR_GEMM_MIN_MACS (1 << 18)

void ng_par_sgemm(ng_pool *p, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                  float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    gemm_job j = { trans_a, trans_b, 1, M, N, K, lda, ldb, ldc, alpha, beta, A, B, C };
    int nw = ng_pool_size(p);
    if (K <= 0) {
        /* Nothing to multiply: C = beta * C (cblas may not accept K == 0). */
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < N; k++) C[i * ldc + k] = beta == 0.0f ? 0.0f : beta * C[i * ldc + k];
        return;
    }
    if (nw <= 1 || (double)M * (double)N * (double)K < PAR_GEMM_MIN_MACS) {
        gemm_body(&j, 0, M, 0);
        return;
    }
    /* Split the longer side, but only into blocks of at least 16 rows/columns each. */
    j.split_rows = M >= N;
    int64_t len = j.split_rows ? M : N;
    if (len < 16 * 2) { j.split_rows = 1; gemm_body(&j, 0, M, 0); return; }
    ng_pool_for(p, len, gemm_body, &j);
}

void ng_nd_map(const ng_shape *s, const float *src, int64_t sb, const int64_t *sst,
               float *dst, int64_t db, const int64_t *dst_st, int add)
{
    int r = s->ndim;
    if (ng_shape_numel(s) <= 0) return;
    if (r == 0) { if (add) dst[db] += src[sb]; else dst[db] = src[sb]; return; }
    int64_t idx[NG_MAX_DIMS] = {0};
    int64_t n = s->d[r - 1], ss = sst[r - 1], ds = dst_st[r - 1];
    for (;;) {
        const float *a = src + sb;
        float *b = dst + db;
        if (add) for (int64_t i = 0; i < n; i++) b[i * ds] += a[i * ss];
        else if (ss == 1 && ds == 1) memcpy(b, a, (size_t)n * sizeof(float));
        else for (int64_t i = 0; i < n; i++) b[i * ds] = a[i * ss];
        int k = r - 2;
        for (; k >= 0; k--) {
            sb += sst[k]; db += dst_st[k];
            if (++idx[k] < s->d[k]) break;
            sb -= sst[k] * s->d[k]; db -= dst_st[k] * s->d[k];
            idx[k] = 0;
        }
        if (k < 0) return;
    }
}

void ng_strides(const ng_shape *s, int64_t *st)
{
    int64_t acc = 1;
    for (int k = s->ndim - 1; k >= 0; k--) { st[k] = acc; acc *= s->d[k]; }
}

void ng_slice_bounds(int64_t d, int64_t s, int64_t e, int64_t step, int64_t *start, int64_t *len)
{
    *start = 0; *len = 0;
    if (step == 0 || d < 0) return;
    if (step > d + 1) step = d + 1;           /* same elements; keeps the arithmetic below in range */
    if (step < -(d + 1)) step = -(d + 1);
    if (s < 0) s = s < -d ? -1 : s + d;
    if (e < 0) e = e < -d ? -1 : e + d;
    if (step > 0) { s = s < 0 ? 0 : s > d ? d : s; e = e < 0 ? 0 : e > d ? d : e; }
    else { s = s < 0 ? 0 : s > d - 1 ? d - 1 : s; e = e < -1 ? -1 : e > d - 1 ? d - 1 : e; }
    int64_t mag = step > 0 ? step : -step, span = step > 0 ? e - s : s - e;   /* mag >= 1 */
    int64_t n = span > 0 ? (span + mag - 1) / mag : 0;
    if (n > 0) { *start = s; *len = n; }
}

NG_KERN_CLONES void ng_clamp(float *y, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = y[i];
        y[i] = v < lo ? lo : v > hi ? hi : v;
    }
}
