/* protect/dynamarks/verify.c - ownership tests: the sum of per-class Kendall taus against the
 * secret rankings with its exact null (convolution of Mahonian distributions), and the binomial
 * test of label mode. See nnguard/dynamarks.h for the definitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/dynamarks.h"
#include "core/core.h"

int64_t ng_wm_inversions(const int *ref, const double *score, int m)
{
    int64_t inv = 0;
    for (int a = 0; a < m; a++)
        for (int b = a + 1; b < m; b++)
            if (!(score[ref[a]] > score[ref[b]])) inv++;
    return inv;
}

/* Probabilities of 0..m(m-1)/2 inversions of a uniform permutation of m items (Mahonian). */
static double *mahonian(int m, int64_t *len)
{
    int64_t maxi = (int64_t)m * (m - 1) / 2;
    double *f = ng_calloc((size_t)maxi + 1, sizeof *f), *g = ng_calloc((size_t)maxi + 1, sizeof *g);
    if (!f || !g) { free(f); free(g); return NULL; }
    f[0] = 1;
    int64_t cur = 0;   /* highest index in use */
    for (int k = 2; k <= m; k++) {       /* insert item k: adds 0..k-1 inversions */
        int64_t nxt = cur + k - 1;
        double acc = 0;
        for (int64_t s = 0; s <= nxt; s++) {   /* sliding window sum of f[s-k+1..s] */
            if (s <= cur) acc += f[s];
            if (s - k >= 0) acc -= f[s - k];
            g[s] = acc / k;
        }
        memcpy(f, g, (size_t)(nxt + 1) * sizeof *f);
        cur = nxt;
    }
    free(g);
    *len = maxi + 1;
    return f;
}

double ng_wm_mahonian_cdf(int m, int k, int64_t s)
{
    if (m < 1 || k < 0) return NAN;
    if (s < 0) return 0;
    int64_t len;
    double *f = mahonian(m, &len);
    if (!f) return NAN;
    int64_t tot = k * (len - 1) + 1;
    double *d = ng_calloc((size_t)tot, sizeof *d), *e = ng_calloc((size_t)tot, sizeof *e);
    if (!d || !e) { free(f); free(d); free(e); return NAN; }
    d[0] = 1;
    int64_t cur = 0;
    for (int c = 0; c < k; c++) {
        memset(e, 0, (size_t)(cur + len) * sizeof *e);
        for (int64_t i = 0; i <= cur; i++)
            if (d[i] != 0)
                for (int64_t j = 0; j < len; j++) e[i + j] += d[i] * f[j];
        cur += len - 1;
        memcpy(d, e, (size_t)(cur + 1) * sizeof *d);
    }
    double p = 0;
    for (int64_t i = 0; i <= cur && i <= s; i++) p += d[i];
    free(f); free(d); free(e);
    return p > 1 ? 1 : p;
}

ng_status ng_wm_soft_verify(const ng_wm *w, const float *suspect, const float *owner, int64_t n,
                            double threshold, ng_wm_result *r)
{
    int C = ng_wm_classes(w), m = C - 1;
    memset(r, 0, sizeof *r);
    r->mode = NG_WM_SOFT;
    r->n = n;
    if (n < 1) return ng_fail(NG_E_INVALID, "watermark verification needs at least one input");
    double *sum_s = ng_calloc((size_t)C * C, sizeof *sum_s), *sum_o = ng_calloc((size_t)C * C, sizeof *sum_o);
    int64_t *cnt = ng_calloc((size_t)C, sizeof *cnt);
    if (!sum_s || !sum_o || !cnt) { free(sum_s); free(sum_o); free(cnt); return NG_E_NOMEM; }
    for (int64_t i = 0; i < n; i++) {
        const float *s = suspect + i * C, *o = owner + i * C;
        int c = 0;
        for (int j = 1; j < C; j++) if (s[j] > s[c]) c = j;
        cnt[c]++;
        for (int j = 0; j < C; j++) { sum_s[c * C + j] += s[j]; sum_o[c * C + j] += o[j]; }
    }
    int64_t inv_total = 0;
    double M = (double)m * (m - 1) / 2, keep = ng_wm_owner_scale(w);
    for (int c = 0; c < C; c++) {
        if (!cnt[c]) continue;
        int order[NG_WM_MAX_CLASSES], ref[NG_WM_MAX_CLASSES], id_of[NG_WM_MAX_CLASSES] = {0};
        double score[NG_WM_MAX_CLASSES];
        int k = 0;
        for (int j = 0; j < C; j++) {   /* compact ids 0..m-1 for the other classes */
            if (j == c) continue;
            id_of[j] = k;
            score[k++] = (sum_s[c * C + j] - keep * sum_o[c * C + j]) / (double)cnt[c];
        }
        ng_wm_ranking(w, c, order);
        for (int a = 0; a < m; a++) ref[a] = id_of[order[a]];
        int64_t inv = ng_wm_inversions(ref, score, m);
        inv_total += inv;
        r->tau[c] = 1.0 - 2.0 * (double)inv / M;
        r->statistic += r->tau[c];
        r->classes_used++;
    }
    free(sum_s); free(sum_o); free(cnt);
    r->p_value = ng_wm_mahonian_cdf(m, r->classes_used, inv_total);
    if (isnan(r->p_value)) return ng_fail(NG_E_NOMEM, "out of memory for the null distribution");
    r->stolen = r->p_value < threshold;
    return NG_OK;
}

/* log(exp(a) + exp(b)) */
static double lse(double a, double b)
{
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

double ng_binom_sf(int64_t n, int64_t k, double p)
{
    if (k <= 0) return 1;
    if (k > n) return 0;
    if (p <= 0) return 0;
    if (p >= 1) return 1;
    double lp = log(p), lq = log1p(-p), acc = -INFINITY;
    double lgn = lgamma((double)n + 1);
    for (int64_t i = k; i <= n; i++) {
        double t = lgn - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) + (double)i * lp + (double)(n - i) * lq;
        acc = lse(acc, t);
        if (t < acc - 60 && (double)i > (double)n * p) break;   /* the terms only shrink from here */
    }
    double v = exp(acc);
    return v > 1 ? 1 : v;
}

ng_status ng_wm_label_verify(int classes, const int32_t *suspect, const int32_t *given, int64_t n,
                             double threshold, ng_wm_result *r)
{
    memset(r, 0, sizeof *r);
    r->mode = NG_WM_LABEL;
    r->n = n;
    if (classes < 3) return ng_fail(NG_E_INVALID, "label-mode verification needs at least 3 classes");
    if (n < 1) return ng_fail(NG_E_INVALID, "no watermarked queries recorded for this client: nothing to verify");
    for (int64_t i = 0; i < n; i++) r->agree += suspect[i] == given[i];
    r->statistic = (double)r->agree / (double)n;
    r->p_value = ng_binom_sf(n, r->agree, 1.0 / (classes - 1));
    r->stolen = r->p_value < threshold;
    return NG_OK;
}
