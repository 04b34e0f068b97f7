/* formats/dataset_ops.c - stratified subsets and splits, head and gather.
 *
 * Stratification: a total T is shared among classes in proportion to their counts by the
 * largest-remainder rule (floor(T*n_c/n) each, the rest one by one to the largest remainders,
 * ties to the lower class). Within a class the examples are chosen by shuffling its indices
 * with ng_rng seeded by seed (classes in order, one generator). Chosen examples keep their
 * original order, so the same seed always gives the same set.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/dataset.h"
#include "nnguard/rng.h"

#define MAX_CLASSES 1000

static size_t example_size(const ng_dataset *d) { return (size_t)d->c * (size_t)d->h * (size_t)d->w; }

ng_status ng_dataset_gather(const ng_dataset *d, const int64_t *idx, int64_t k, ng_dataset *out)
{
    memset(out, 0, sizeof *out);
    if (k < 0) return ng_fail(NG_E_INVALID, "dataset: negative count %lld", (long long)k);
    for (int64_t i = 0; i < k; i++)
        if (idx[i] < 0 || idx[i] >= d->n)
            return ng_fail(NG_E_INVALID, "dataset: index %lld out of range (0..%lld)", (long long)idx[i], (long long)d->n - 1);
    size_t es = example_size(d);
    float *x = ng_calloc((size_t)k ? (size_t)k * es : 1, sizeof *x);
    int32_t *y = ng_calloc(k ? (size_t)k : 1, sizeof *y);
    if (!x || !y) { free(x); free(y); return ng_fail(NG_E_NOMEM, "dataset: cannot allocate %lld examples", (long long)k); }
    for (int64_t i = 0; i < k; i++) {
        memcpy(x + (size_t)i * es, d->x + (size_t)idx[i] * es, es * sizeof *x);
        y[i] = d->y[idx[i]];
    }
    *out = (ng_dataset){.n = k, .c = d->c, .h = d->h, .w = d->w, .classes = d->classes, .x = x, .y = y};
    return NG_OK;
}

ng_status ng_dataset_head(const ng_dataset *d, int64_t limit, ng_dataset *out)
{
    int64_t k = limit <= 0 || limit > d->n ? d->n : limit;
    int64_t *idx = ng_calloc(k ? (size_t)k : 1, sizeof *idx);
    if (!idx) return ng_fail(NG_E_NOMEM, "dataset: out of memory");
    for (int64_t i = 0; i < k; i++) idx[i] = i;
    ng_status st = ng_dataset_gather(d, idx, k, out);
    free(idx);
    return st;
}

/* Largest-remainder apportionment of total over the classes (k[c] <= cnt[c]). */
static void apportion(const int64_t *cnt, int classes, int64_t n, int64_t total, int64_t *k)
{
    int64_t left = total, rem[MAX_CLASSES];
    for (int c = 0; c < classes; c++) {
        k[c] = total * cnt[c] / n;
        rem[c] = total * cnt[c] % n;
        left -= k[c];
    }
    while (left > 0) {
        int best = -1;
        for (int c = 0; c < classes; c++)
            if (k[c] < cnt[c] && (best < 0 || rem[c] > rem[best])) best = c;
        if (best < 0) break;
        k[best]++; rem[best] = -1; left--;
    }
}

/* chosen[i] = 1 for the examples picked: k[c] of each class, by a seeded shuffle. */
static ng_status choose(const ng_dataset *d, double fraction, int64_t count, uint64_t seed, uint8_t *chosen,
                        int64_t *nchosen)
{
    if (d->n <= 0 || d->n > UINT32_MAX) return ng_fail(NG_E_INVALID, "dataset: %lld examples", (long long)d->n);
    if (d->classes <= 0 || d->classes > MAX_CLASSES)
        return ng_fail(NG_E_INVALID, "dataset: %d classes (1..%d supported)", d->classes, MAX_CLASSES);
    int64_t total = count;
    if (count <= 0) {
        if (!(fraction > 0 && fraction <= 1))
            return ng_fail(NG_E_INVALID, "dataset: fraction %g must be in (0, 1]", fraction);
        total = llround(fraction * (double)d->n);
        if (total < 1) total = 1;
    }
    if (total > d->n)
        return ng_fail(NG_E_INVALID, "dataset: %lld examples asked for, only %lld available", (long long)total, (long long)d->n);
    int64_t cnt[MAX_CLASSES] = {0}, k[MAX_CLASSES];
    for (int64_t i = 0; i < d->n; i++) {
        if (d->y[i] < 0 || d->y[i] >= d->classes)
            return ng_fail(NG_E_INVALID, "dataset: example %lld has label %d, outside 0..%d", (long long)i, d->y[i], d->classes - 1);
        cnt[d->y[i]]++;
    }
    apportion(cnt, d->classes, d->n, total, k);
    uint32_t *idx = ng_calloc((size_t)d->n, sizeof *idx);
    if (!idx) return ng_fail(NG_E_NOMEM, "dataset: out of memory");
    int64_t *start = ng_calloc((size_t)d->classes + 1, sizeof *start);
    if (!start) { free(idx); return ng_fail(NG_E_NOMEM, "dataset: out of memory"); }
    /* bucket the indices by class (counting sort keeps original order inside a class) */
    for (int c = 0; c < d->classes; c++) start[c + 1] = start[c] + cnt[c];
    int64_t fill[MAX_CLASSES];
    memcpy(fill, start, (size_t)d->classes * sizeof *fill);
    for (int64_t i = 0; i < d->n; i++) idx[fill[d->y[i]]++] = (uint32_t)i;
    ng_rng r;
    ng_rng_seed(&r, seed);
    memset(chosen, 0, (size_t)d->n);
    *nchosen = 0;
    for (int c = 0; c < d->classes; c++) {
        ng_rng_shuffle_u32(&r, idx + start[c], (size_t)cnt[c]);
        for (int64_t j = 0; j < k[c]; j++) chosen[idx[start[c] + j]] = 1;
        *nchosen += k[c];
    }
    free(idx); free(start);
    return NG_OK;
}

/* Gather the examples with chosen[i] == want, in order. */
static ng_status gather_mask(const ng_dataset *d, const uint8_t *chosen, int want, int64_t k, ng_dataset *out)
{
    int64_t *idx = ng_calloc(k ? (size_t)k : 1, sizeof *idx), m = 0;
    if (!idx) return ng_fail(NG_E_NOMEM, "dataset: out of memory");
    for (int64_t i = 0; i < d->n && m < k; i++)
        if (chosen[i] == want) idx[m++] = i;
    ng_status st = ng_dataset_gather(d, idx, m, out);
    free(idx);
    return st;
}

ng_status ng_dataset_subset(const ng_dataset *d, double fraction, int64_t count, uint64_t seed, ng_dataset *out)
{
    memset(out, 0, sizeof *out);
    uint8_t *chosen = malloc(d->n > 0 ? (size_t)d->n : 1);
    if (!chosen) return ng_fail(NG_E_NOMEM, "dataset: out of memory");
    int64_t k;
    ng_status st = choose(d, fraction, count, seed, chosen, &k);
    if (st == NG_OK) st = gather_mask(d, chosen, 1, k, out);
    free(chosen);
    return st;
}

ng_status ng_dataset_split(const ng_dataset *d, double val_fraction, uint64_t seed, ng_dataset *train, ng_dataset *val)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (!(val_fraction > 0 && val_fraction < 1))
        return ng_fail(NG_E_INVALID, "dataset: held-out fraction %g must be in (0, 1)", val_fraction);
    uint8_t *chosen = malloc(d->n > 0 ? (size_t)d->n : 1);
    if (!chosen) return ng_fail(NG_E_NOMEM, "dataset: out of memory");
    int64_t k;
    ng_status st = choose(d, val_fraction, 0, seed, chosen, &k);
    if (st == NG_OK && (k == 0 || k == d->n))
        st = ng_fail(NG_E_INVALID, "dataset: splitting %lld examples at %g leaves one part empty", (long long)d->n, val_fraction);
    if (st == NG_OK) st = gather_mask(d, chosen, 1, k, val);
    if (st == NG_OK) st = gather_mask(d, chosen, 0, d->n - k, train);
    if (st != NG_OK) { ng_dataset_free(val); ng_dataset_free(train); }
    free(chosen);
    return st;
}
