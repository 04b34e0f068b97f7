/* protect/advparams_dead.c - the hardened AdvParams form's dead layer (SCHEMES.md section 2,
 * ours): every unit (output channel / row) of one eligible tensor is silenced by moving its
 * positive weights, and the positive biases of the tensor's companion "*.bias", to negative values
 * drawn strictly inside the tensor's own original negative values. With non-negative inputs (the
 * images in [0, 1], or a ReLU before) the units never fire: they pass no gradient, neither to
 * their own weights nor to any parameter before them, so the attacker's gradient detector sees
 * nothing there or upstream, fine-tuning cannot revive them, and no new value is an extreme of
 * its tensor (the original minimum stays, and the new maximum is an unmoved value above every
 * drawn one). The caller checks that the units are dead (zero gradient on the encryption set)
 * and undoes the moves otherwise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "protect/advparams/advparams_impl.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Draw `n` new values for the positive entries of params[off .. off+numel) (any NaN: refused),
 * strictly between the tensor's smallest usable negative value and its largest negative one;
 * 0 when the tensor has fewer than 3 distinct negative values to draw between. */
static size_t silence(const char *name, size_t off, size_t numel, size_t first, size_t count, const float *params,
                      size_t skip_low, ng_rng *rng, ng_adv_dead_move *out, size_t cap, size_t *n)
{
    float *s = ng_calloc(numel ? numel : 1, sizeof *s);
    if (!s) return 0;
    size_t k = 0, neg = 0;
    for (size_t e = 0; e < numel; e++) {
        float v = params[off + e];
        if (isnan(v)) { free(s); return 0; }
        s[k++] = v;
    }
    qsort(s, k, sizeof *s, cmp_float);
    while (neg < k && s[neg] < 0) neg++;
    size_t j0 = skip_low < neg ? skip_low : 0, moved = 0;
    float lo = s[j0], hi = neg ? s[neg - 1] : 0;
    if (neg < 3 || !(lo < hi)) { free(s); return 0; }
    for (size_t e = first; e < first + count && e < numel; e++) {
        float v = params[off + e];
        if (!(v > 0)) continue;
        float to = hi;
        for (int tries = 0; tries < 64 && !(to > lo && to < hi); tries++) {
            size_t j = j0 + ng_rng_below(rng, (uint32_t)(neg - 1 - j0));
            to = s[j] + ng_rng_uniform(rng) * (s[j + 1] - s[j]);
        }
        if (!(to > lo && to < hi)) to = lo + 0.5f * (hi - lo);
        if (!(to > lo && to < hi)) { free(s); return 0; }
        if (*n >= cap) { free(s); return 0; }
        out[(*n)++] = (ng_adv_dead_move){name, off + e, e, to};
        moved++;
    }
    free(s);
    return moved ? moved : 1;
}

/* Model tensor index of the trainable 1-D "*.bias" of `units` entries beside weight `name`, or -1. */
static long bias_of(const ng_model *m, const char *name, int64_t units)
{
    size_t len = strlen(name), nt = ng_model_ntensors(m);
    if (len < 7 || strcmp(name + len - 7, ".weight") != 0) return -1;
    for (size_t i = 0; i < nt; i++) {
        ng_param p;
        ng_model_tensor(m, i, &p);
        if (strlen(p.name) == len - 2 && strncmp(p.name, name, len - 7) == 0 && strcmp(p.name + len - 7, ".bias") == 0 &&
            p.shape.ndim == 1 && (units < 0 || p.shape.d[0] == units) && ng_model_tensor_trainable(m, i))
            return (long)i;
    }
    return -1;
}

/* Silence the positive biases of model tensor bi (nothing to do when none is positive). */
static ng_status silence_bias(const ng_model *m, long bi, const char *of, const float *params, ng_rng *rng,
                              ng_adv_dead_move *mv, size_t cap, size_t *n)
{
    if (bi < 0) return NG_OK;
    ng_param bp;
    ng_model_tensor(m, (size_t)bi, &bp);
    size_t boff = ng_model_tensor_offset(m, (size_t)bi), units = (size_t)bp.shape.d[0], before = *n;
    if (silence(bp.name, boff, units, 0, units, params, 0, rng, mv, cap, n)) return NG_OK;
    *n = before;
    for (size_t u = 0; u < units; u++)
        if (params[boff + u] > 0)
            return ng_fail(NG_E_STATE, "advparams: %s has too few negative values to silence the units of %s", bp.name, of);
    return NG_OK;
}

ng_status ng_adv_dead_plan(const ng_model *m, const ng_adv_tensor *t, const ng_adv_tensor *next, size_t nnext, const float *params,
                           ng_rng *rng, ng_adv_dead_move **out, size_t *nout)
{
    *out = NULL; *nout = 0;
    size_t nt = ng_model_ntensors(m);
    ng_param wp;
    memset(&wp, 0, sizeof wp);
    for (size_t i = 0; i < nt; i++) {
        ng_param p;
        ng_model_tensor(m, i, &p);
        if (ng_model_tensor_offset(m, i) == t->off) wp = p;
    }
    size_t len = strlen(t->name);
    if (!wp.name || wp.shape.ndim < 2 || len < 7 || strcmp(t->name + len - 7, ".weight") != 0)
        return ng_fail(NG_E_INVALID, "advparams: tensor %s has no units to silence (a *.weight of 2+ dims)", t->name);
    int64_t units = wp.shape.d[0];
    size_t cap = t->numel + (size_t)units;
    for (size_t j = 0; j < nnext; j++) cap += next[j].numel;   /* a bias has fewer entries than its weight */
    ng_adv_dead_move *mv = ng_calloc(cap, sizeof *mv);
    if (!mv) return NG_E_NOMEM;
    size_t n = 0;
    /* the weights: skip the lowest 1% of the negative values (the bulk), the biases: any */
    if (!silence(t->name, t->off, t->numel, 0, t->numel, params, (size_t)ceil(0.01 * (double)t->numel), rng, mv, cap, &n)) {
        free(mv);
        return ng_fail(NG_E_STATE, "advparams: tensor %s has too few negative values to silence its units", t->name);
    }
    ng_status st = silence_bias(m, bias_of(m, t->name, units), t->name, params, rng, mv, cap, &n);
    /* the next layers see only zeros: with their biases <= 0 too they output zeros, and no
     * gradient reaches their weights either */
    for (size_t j = 0; st == NG_OK && j < nnext; j++)
        st = silence_bias(m, bias_of(m, next[j].name, -1), next[j].name, params, rng, mv, cap, &n);
    if (st != NG_OK) { free(mv); return st; }
    *out = mv; *nout = n;
    return NG_OK;
}
