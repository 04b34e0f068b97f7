/* attacks/prune.c - magnitude pruning attack: zero the smallest-magnitude weights
 * of every weight tensor, evaluate, optionally fine-tune briefly and evaluate again. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/attack.h"
#include "core/core.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int64_t ng_prune_magnitude(ng_model *m, double rate)
{
    if (!(rate > 0)) return 0;
    int64_t zeroed = 0;
    size_t nt = ng_model_ntensors(m);
    for (size_t t = 0; t < nt; t++) {
        ng_param p;
        ng_model_tensor(m, t, &p);
        if (p.shape.ndim < 2 || !ng_model_tensor_trainable(m, t)) continue;
        int64_t n = ng_shape_numel(&p.shape);
        int64_t k = (int64_t)floor(rate * (double)n + 0.5);
        if (k <= 0) continue;
        if (k > n) k = n;
        float *w = (float *)p.data;
        float *mag = malloc((size_t)n * sizeof *mag);
        if (!mag) continue;
        /* non-finite values (locked bits) count as the largest magnitudes */
        for (int64_t i = 0; i < n; i++) mag[i] = isfinite(w[i]) ? fabsf(w[i]) : INFINITY;
        qsort(mag, (size_t)n, sizeof *mag, cmp_float);
        float thr = mag[k - 1];
        int64_t left = k;
        /* zero those strictly below the threshold, then ties until k are zeroed */
        for (int64_t i = 0; i < n && left > 0; i++)
            if (isfinite(w[i]) && fabsf(w[i]) < thr) { w[i] = 0.0f; left--; }
        for (int64_t i = 0; i < n && left > 0; i++)
            if (isfinite(w[i]) && fabsf(w[i]) == thr && w[i] != 0.0f) { w[i] = 0.0f; left--; }
        for (int64_t i = 0; i < n && left > 0; i++)
            if (w[i] == 0.0f && fabsf(w[i]) == thr) left--; /* already-zero weights count */
        zeroed += k - left;
        free(mag);
    }
    return zeroed;
}

ng_status ng_attack_prune(const ng_model *m, const double *rates, int n_rates, const ng_dataset *train,
                          const ng_dataset *test, const ng_finetune_options *tune, ng_prune_point *out)
{
    ng_status st = NG_OK;
    for (int i = 0; i < n_rates; i++) {
        ng_model *c = NULL;
        if (!(rates[i] >= 0 && rates[i] <= 1))
            return ng_fail(NG_E_INVALID, "pruning rate %g is not in [0, 1]", rates[i]);
        if ((st = ng_model_clone(m, &c)) != NG_OK) return st;
        out[i].rate = rates[i];
        out[i].zeroed = ng_prune_magnitude(c, rates[i]);
        out[i].acc_tuned = -1;
        st = ng_evaluate(c, test, 0, 256, tune ? tune->threads : 0, &out[i].acc, NULL, NULL);
        if (st == NG_OK && tune && tune->epochs > 0 && train) {
            ng_finetune_options o = *tune;
            ng_finetune_result *r = ng_calloc(1, sizeof *r);
            o.scratch = 0;
            o.sanitize_abs = 0;
            if (!r) st = NG_E_NOMEM;
            else {
                st = ng_attack_finetune(c, train, test, &o, r);
                if (st == NG_OK) out[i].acc_tuned = r->acc_attacked[o.epochs - 1];
                free(r);
            }
        }
        ng_model_free(c);
        if (st != NG_OK) return st;
        if (tune && tune->log)
            fprintf(tune->log, "prune %.0f%%: %lld zeroed, accuracy %.2f%%%s\n", 100 * rates[i],
                    (long long)out[i].zeroed, 100 * out[i].acc, "");
    }
    return st;
}
