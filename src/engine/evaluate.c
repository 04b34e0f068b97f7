/* engine/evaluate.c - test-set accuracy (overall and per class) and inference throughput. */
#include <stdlib.h>
#include <string.h>
#include "engine/train_impl.h"
#include "core/core.h"

static int argmax(const float *z, int64_t c)
{
    int64_t k = 0;
    for (int64_t j = 1; j < c; j++) if (z[j] > z[k]) k = j;
    return (int)k;
}

ng_status ng_eval_exec(ng_exec *e, const ng_dataset *d, int64_t limit, int batch,
                       double *accuracy, double *per_class, double *images_per_s)
{
    if (batch <= 0) batch = 256;
    int64_t n = limit > 0 && limit < d->n ? limit : d->n;
    if (n <= 0 || d->classes <= 0 || d->classes > 1 << 20)
        return ng_fail(NG_E_INVALID, "evaluate: the dataset has %lld examples and %d classes",
                       (long long)d->n, d->classes);
    const int64_t dim = (int64_t)d->c * d->h * d->w;
    int64_t *hit = ng_calloc((size_t)d->classes, sizeof *hit), *tot = ng_calloc((size_t)d->classes, sizeof *tot);
    if (!hit || !tot) { free(hit); free(tot); return NG_E_NOMEM; }
    ng_status st = NG_OK;
    int64_t correct = 0;
    double t0 = ng_now();
    for (int64_t i = 0; i < n && st == NG_OK; i += batch) {
        int64_t b = n - i < batch ? n - i : batch;
        const float *z;
        ng_shape os;
        if ((st = ng_exec_forward(e, d->x + i * dim, b, &z, &os)) != NG_OK) break;
        int64_t c = os.ndim == 2 ? os.d[1] : 0;
        if (os.d[0] != b || c <= 0) { st = ng_fail(NG_E_SHAPE, "evaluate: the model outputs a %d-d tensor, expected n x classes", os.ndim); break; }
        for (int64_t k = 0; k < b; k++) {
            int32_t y = d->y[i + k];
            if (y < 0 || y >= d->classes) continue;
            int ok = argmax(z + k * c, c) == y;
            correct += ok;
            hit[y] += ok;
            tot[y]++;
        }
    }
    double secs = ng_now() - t0;
    if (st == NG_OK) {
        if (accuracy) *accuracy = (double)correct / (double)n;
        if (per_class)
            for (int k = 0; k < d->classes; k++) per_class[k] = tot[k] ? (double)hit[k] / (double)tot[k] : 0.0;
        if (images_per_s) *images_per_s = secs > 0 ? (double)n / secs : 0.0;
    }
    free(hit);
    free(tot);
    return st;
}

ng_status ng_evaluate(ng_model *m, const ng_dataset *d, int64_t limit, int batch, int threads,
                      double *accuracy, double *per_class, double *images_per_s)
{
    ng_exec_options o = ng_exec_options_default();
    o.threads = threads;
    o.training = 0;
    /* the model is not changed during the call; the weight caches pay from the second forward on
     * (resnet18's first forward at batch 1: 48 ms without, 105-135 ms making them) */
    const int64_t n = limit > 0 && limit < d->n ? limit : d->n;
    o.const_params = n > (batch > 0 ? batch : 256);
    ng_exec *e;
    ng_status st = ng_exec_new(m, &o, &e);
    if (st != NG_OK) return st;
    st = ng_eval_exec(e, d, limit, batch, accuracy, per_class, images_per_s);
    ng_exec_free(e);
    return st;
}
