/* attacks/detect.c - the AdvParams adaptive attacker's detectors (nnguard/attack.h): each ranks
 * every parameter of the eligible weight tensors by how suspect it looks; with the key's
 * positions, count how many perturbed parameters each puts in its top k. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/attack.h"
#include "core/core.h"

static const char *const det_names[NG_DETECTORS] = {
    "extremes (fewest values further out)", "duplicated values (equal to another value)",
    "magnitude z-score", "deviation from kernel/row neighbours", "gradient outlier on attacker data",
    "distribution test (over-full histogram bin)"};

const char *ng_detector_name(int d) { return d >= 0 && d < NG_DETECTORS ? det_names[d] : "?"; }

typedef struct ent { float score; uint32_t tie; uint64_t at; } ent;
static int cmp_ent(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    if (x->score != y->score) return (x->score < y->score) - (x->score > y->score);
    return (x->tie > y->tie) - (x->tie < y->tie);
}
static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static uint32_t mix(uint64_t x)   /* tie-break order: a fixed hash, not the index order */
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return (uint32_t)x;
}

/* Mean and standard deviation of n floats. */
static void moments(const float *v, int64_t n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    *mean = n ? s / (double)n : 0;
    for (int64_t i = 0; i < n; i++) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = n ? sqrt(q / (double)n) : 0;
}

/* Scores of one tensor for every detector: sc[d * stride + i]. */
static void score_tensor(const float *w, const float *g, const ng_shape *sh, int64_t n, float *sorted, float *sc,
                         size_t stride)
{
    double mean, sd, gm, gs;
    moments(w, n, &mean, &sd);
    moments(g, n, &gm, &gs);
    memcpy(sorted, w, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_f);
    /* neighbourhood: the kernel (kh x kw) of a conv weight, else the row of a matrix */
    int64_t grp = sh->ndim == 4 && sh->d[2] * sh->d[3] > 1 ? sh->d[2] * sh->d[3] : sh->d[sh->ndim - 1];
    if (grp < 2) grp = n;
    /* histogram against the normal of the same mean and sd */
    enum { BINS = 64 };
    int64_t hist[BINS] = {0};
    double lo = sorted[0], hi = sorted[n - 1], width = (hi - lo) / BINS;
    for (int64_t i = 0; i < n; i++) {
        int b = width > 0 ? (int)((w[i] - lo) / width) : 0;
        hist[b < BINS ? b : BINS - 1]++;
    }
    double gsum = 0, gsq = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = w[i];
        /* rank distance from the median, via the sorted copy */
        int64_t a = 0, b = n;
        while (a < b) { int64_t m = a + (b - a) / 2; if (sorted[m] < v) a = m + 1; else b = m; }
        int64_t last = a;
        while (last + 1 < n && sorted[last + 1] == v) last++;
        int64_t beyond = a < n - 1 - last ? a : n - 1 - last;   /* values further out than this one */
        sc[0 * stride + i] = -(float)beyond / (float)n;   /* as a share of the tensor: sizes compare */
        sc[1 * stride + i] = last > a ? 1.0f + (float)(last - a) / (float)n : 0.0f;
        sc[2 * stride + i] = sd > 0 ? (float)(fabs(v - mean) / sd) : 0.0f;
        int64_t g0 = i / grp * grp;
        if (i == g0) {
            gsum = gsq = 0;
            for (int64_t j = g0; j < g0 + grp && j < n; j++) { gsum += w[j]; gsq += (double)w[j] * w[j]; }
        }
        double ns = gsum - v, nq = gsq - (double)v * v;
        double nm = ns / (double)(grp - 1), nv = nq / (double)(grp - 1) - nm * nm;
        double nsd = sqrt(nv > 0 ? nv : 0) + 1e-3 * sd + 1e-12;
        sc[3 * stride + i] = (float)(fabs(v - nm) / nsd);
        sc[4 * stride + i] = gs > 0 ? (float)(fabs(g[i] - gm) / gs) : 0.0f;
        int bin = width > 0 ? (int)((v - lo) / width) : 0;
        if (bin >= BINS) bin = BINS - 1;
        double z0 = sd > 0 ? (lo + bin * width - mean) / sd : 0, z1 = sd > 0 ? (lo + (bin + 1) * width - mean) / sd : 0;
        double expect = (double)n * 0.5 * (erf(z1 / sqrt(2.0)) - erf(z0 / sqrt(2.0))) + 0.5;
        sc[5 * stride + i] = (float)(((double)hist[bin] - expect) / sqrt(expect));
    }
}

ng_status ng_attack_detect(const ng_model *m, const float *grad, const ng_position *truth, size_t n_truth,
                           int64_t k, int64_t found[NG_DETECTORS], int64_t *candidates)
{
    return ng_attack_detect_mask(m, grad, truth, n_truth, k, found, candidates, -1, NULL);
}

ng_status ng_attack_detect_mask(const ng_model *m, const float *grad, const ng_position *truth, size_t n_truth,
                                int64_t k, int64_t found[NG_DETECTORS], int64_t *candidates, int mask_det,
                                uint8_t *mask)
{
    memset(found, 0, NG_DETECTORS * sizeof *found);
    size_t nt = ng_model_ntensors(m), total = 0, maxn = 1;
    for (size_t t = 0; t < nt; t++) {
        ng_param p;
        ng_model_tensor(m, t, &p);
        if (p.shape.ndim < 2 || !ng_model_tensor_trainable(m, t)) continue;
        size_t n = (size_t)ng_shape_numel(&p.shape);
        total += n;
        if (n > maxn) maxn = n;
    }
    *candidates = (int64_t)total;
    ent *e = ng_calloc(total ? total : 1, sizeof *e);
    float *sc = ng_calloc((total ? total : 1) * NG_DETECTORS, sizeof *sc), *sorted = ng_calloc(maxn, sizeof *sorted);
    uint64_t *pos = ng_calloc(total ? total : 1, sizeof *pos);
    uint8_t *is_true = ng_calloc(ng_model_nparams(m) ? ng_model_nparams(m) : 1, 1);
    ng_status st = NG_OK;
    if (!e || !sc || !sorted || !is_true || !pos) { st = NG_E_NOMEM; goto out; }
    for (size_t i = 0; i < n_truth; i++)
        for (size_t t = 0; t < nt; t++) {
            ng_param p;
            ng_model_tensor(m, t, &p);
            if (strcmp(p.name, truth[i].tensor) != 0 || truth[i].index >= (uint64_t)ng_shape_numel(&p.shape)) continue;
            is_true[ng_model_tensor_offset(m, t) + truth[i].index] = 1;
        }
    size_t ne = 0;
    for (size_t t = 0; t < nt; t++) {
        ng_param p;
        ng_model_tensor(m, t, &p);
        if (p.shape.ndim < 2 || !ng_model_tensor_trainable(m, t)) continue;
        size_t off = ng_model_tensor_offset(m, t);
        int64_t n = ng_shape_numel(&p.shape);
        score_tensor((const float *)(const void *)p.data, grad + off, &p.shape, n, sorted, sc + ne, total);
        for (int64_t i = 0; i < n; i++) pos[ne + (size_t)i] = off + (uint64_t)i;
        ne += (size_t)n;
    }
    for (int d = 0; d < NG_DETECTORS; d++) {
        for (size_t i = 0; i < ne; i++) {
            float s = sc[(size_t)d * total + i];
            e[i] = (ent){isnan(s) ? 0.0f : s, mix(pos[i]), pos[i]};
        }
        qsort(e, ne, sizeof *e, cmp_ent);
        for (size_t i = 0; i < ne && (int64_t)i < k; i++) {
            found[d] += is_true[e[i].at];
            if (d == mask_det && mask) mask[e[i].at] = 1;
        }
    }
out:
    free(e); free(sc); free(sorted); free(is_true); free(pos);
    return st;
}
