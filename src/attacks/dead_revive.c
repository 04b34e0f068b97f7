/* attacks/dead_revive.c - the dead-layer attacker against AdvParams' dead-layer form (nnguard/
 * attack.h): a layer whose units never fire passes no gradient, to itself or to anything before
 * it, so the attacker's loss gradient is zero over whole tensors. Which of them is dead is not
 * told by the gradient alone (everything upstream of a dead layer is zero too, and everything
 * after it when its zeros silence the next layers), so the attacker tries: the all-zero-gradient
 * weight tensors in model order, first one at a time, then runs of 2 and of 3 consecutive ones,
 * each re-initialised (with its "*.bias") as a fresh layer would be; the first try that makes the
 * gradient flow into every weight tensor is kept. When none does, the first all-zero tensor is
 * re-initialised alone (the attacker's best guess). */
#include <stdlib.h>
#include <string.h>
#include "attacks/adaptive_impl.h"
#include "core/core.h"

/* Every trainable weight tensor (2+ dims) with a zero gradient everywhere? at = -1: is any
 * such tensor left (returns 1 when one is all zero); else: is tensor `at` all zero. */
static int all_zero(const ng_model *m, const float *g, long at)
{
    size_t nt = ng_model_ntensors(m);
    for (size_t t = 0; t < nt; t++) {
        ng_param p;
        ng_model_tensor(m, t, &p);
        if ((at >= 0 && (size_t)at != t) || p.shape.ndim < 2 || !ng_model_tensor_trainable(m, t)) continue;
        size_t off = ng_model_tensor_offset(m, t), n = (size_t)ng_shape_numel(&p.shape), zero = 1;
        for (size_t i = 0; i < n && zero; i++) zero = g[off + i] == 0;
        if (zero) return 1;
    }
    return 0;
}

/* Does tensor t's name equal "<prefix of w>.bias" for the "*.weight" w? */
static int is_bias_of(const char *w, const char *t)
{
    size_t wl = strlen(w);
    return wl > 7 && !strcmp(w + wl - 7, ".weight") && strlen(t) == wl - 2 && !strncmp(t, w, wl - 7) &&
           !strcmp(t + wl - 7, ".bias");
}

/* A clone of m with tensors wi[0..n) and their "*.bias" re-initialised (one RNG stream, model order). */
static ng_status reinit(const ng_model *m, const size_t *wi, size_t n, uint64_t seed, ng_model **out, int64_t *count)
{
    ng_model *a = NULL;
    ng_status st = ng_model_clone(m, &a);
    if (st != NG_OK) return st;
    size_t nt = ng_model_ntensors(a);
    ng_rng rng;
    ng_rng_seed(&rng, seed ^ 0x646561646c6179ull);
    *count = 0;
    for (size_t t = 0; t < nt; t++) {
        ng_param p;
        ng_model_tensor(a, t, &p);
        int hit = 0;
        for (size_t j = 0; j < n && !hit; j++) {
            ng_param wp;
            ng_model_tensor(a, wi[j], &wp);
            hit = t == wi[j] || is_bias_of(wp.name, p.name);
        }
        if (!hit) continue;
        ng_model_init_tensor(a, t, &rng);
        *count += ng_shape_numel(&p.shape);
    }
    *out = a;
    return NG_OK;
}

ng_status ng_attack_dead_revive_g(const ng_model *m, const float *g, const ng_dataset *sub,
                                  const ng_finetune_options *o, ng_model **out, char *name, size_t cap,
                                  int64_t *reinit_count)
{
    *out = NULL;
    if (cap) name[0] = 0;
    *reinit_count = 0;
    size_t nt = ng_model_ntensors(m), np = ng_model_nparams(m), nz = 0, run = 0, at = 0;
    size_t *z = ng_calloc(nt ? nt : 1, sizeof *z);
    float *g2 = ng_alloc_aligned(np * sizeof(float));
    ng_status st = z && g2 ? NG_OK : NG_E_NOMEM;
    for (size_t t = 0; st == NG_OK && t < nt; t++) {
        ng_param p;
        ng_model_tensor(m, t, &p);
        if (p.shape.ndim >= 2 && ng_model_tensor_trainable(m, t) && all_zero(m, g, (long)t)) z[nz++] = t;
    }
    for (size_t k = 1; st == NG_OK && k <= 3 && !run; k++)
        for (size_t i = 0; st == NG_OK && i + k <= nz && !run; i++) {
            ng_model *a = NULL;
            int64_t c;
            if ((st = reinit(m, z + i, k, o->seed, &a, &c)) != NG_OK) break;
            if ((st = ng_attack_mean_gradient(a, sub, o->threads, g2)) == NG_OK && !all_zero(a, g2, -1)) { run = k; at = i; }
            ng_model_free(a);
        }
    ng_free_aligned(g2);
    if (st == NG_OK && nz > 0) {
        if (!run) { run = 1; at = 0; }
        size_t len = 0;
        for (size_t j = 0; j < run && cap; j++) {
            ng_param wp;
            ng_model_tensor(m, z[at + j], &wp);
            len += (size_t)snprintf(name + len, len < cap ? cap - len : 0, "%s%s", j ? "," : "", wp.name);
            if (len >= cap) len = cap - 1;
        }
        st = reinit(m, z + at, run, o->seed, out, reinit_count);
    }
    free(z);
    return st;
}

ng_status ng_attack_dead_revive(const ng_model *m, const ng_dataset *train, const ng_finetune_options *o,
                                ng_model **out, char *name, size_t cap, int64_t *reinit_count)
{
    *out = NULL;
    ng_dataset sub = {0};
    ng_status st = ng_dataset_subset(train, o->count > 0 ? 1.0 : o->fraction, o->count, o->seed, &sub);
    if (st != NG_OK) return st;
    size_t np = ng_model_nparams(m);
    float *g = ng_alloc_aligned(np * sizeof(float));
    ng_model *a = NULL;
    if (!g) st = NG_E_NOMEM;
    if (st == NG_OK) st = ng_model_clone(m, &a);
    if (st == NG_OK) st = ng_attack_mean_gradient(a, &sub, o->threads, g);
    if (st == NG_OK) st = ng_attack_dead_revive_g(m, g, &sub, o, out, name, cap, reinit_count);
    ng_model_free(a);
    ng_free_aligned(g);
    ng_dataset_free(&sub);
    return st;
}

/* Is tensor t one of the comma-separated "*.weight" names in dead, or the "*.bias" of one? */
static int in_dead(const char *dead, const char *t)
{
    char buf[256];
    for (const char *p = dead; *p;) {
        size_t l = strcspn(p, ",");
        if (l < sizeof buf) {
            memcpy(buf, p, l);
            buf[l] = 0;
            if (!strcmp(buf, t) || is_bias_of(buf, t)) return 1;
        }
        p += l + (p[l] == ',');
    }
    return 0;
}

size_t ng_attack_dead_rest(const char *dead, const ng_position *truth, size_t n, ng_position *rest)
{
    size_t nr = 0;
    for (size_t i = 0; i < n; i++)
        if (!in_dead(dead, truth[i].tensor)) rest[nr++] = truth[i];
    return nr;
}
