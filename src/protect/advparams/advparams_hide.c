/* protect/advparams_hide.c - the hardened form's camouflage rounds (ours, issue 14): after the
 * budget is spent, the gradient at the locked point singles out the perturbed parameters (the
 * adaptive attacker's "gradient outlier" detector). Each round scores every eligible parameter
 * exactly as that detector does (|g - mean| / sd of g within its tensor), flags the perturbed
 * parameters that rank among the most suspect, and lets the caller put them back and spend the
 * same count on parameters that rank low. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "protect/advparams/advparams_impl.h"

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

ng_status ng_adv_hide_scores(const float *grad, const ng_adv_tensor *t, size_t nt, size_t k_hot, size_t k_cool,
                             float *z, float *hot, float *cool)
{
    size_t total = 0;
    for (size_t a = 0; a < nt; a++) total += t[a].numel;
    float *s = ng_calloc(total ? total : 1, sizeof *s);
    if (!s) return NG_E_NOMEM;
    size_t k = 0;
    for (size_t a = 0; a < nt; a++) {
        const float *g = grad + t[a].off;
        size_t n = t[a].numel;
        double m = 0, q = 0;
        for (size_t e = 0; e < n; e++) m += g[e];
        m = n ? m / (double)n : 0;
        for (size_t e = 0; e < n; e++) q += (g[e] - m) * (g[e] - m);
        double sd = n ? sqrt(q / (double)n) : 0;
        for (size_t e = 0; e < n; e++) {
            float v = sd > 0 ? (float)(fabs(g[e] - m) / sd) : 0.0f;
            z[t[a].off + e] = v;
            s[k++] = v;
        }
    }
    qsort(s, k, sizeof *s, cmp_desc);
    /* the k-th largest score (k clamped to 1..count) */
    *hot = k ? s[(k_hot < k ? (k_hot ? k_hot : 1) : k) - 1] : INFINITY;
    *cool = k ? s[(k_cool < k ? (k_cool ? k_cool : 1) : k) - 1] : INFINITY;
    free(s);
    return NG_OK;
}
