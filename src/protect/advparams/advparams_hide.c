/* protect/advparams_hide.c - the hardened form's camouflage rounds (ours, issue 14): after the
 * budget is spent, the gradient at the locked point singles out the perturbed parameters (the
 * adaptive attacker's "gradient outlier" detector). Each round scores every eligible parameter
 * exactly as that detector does (|g - mean| / sd of g within its tensor), flags the perturbed
 * parameters that rank among the most suspect, and lets the caller put them back and spend the
 * same count on parameters that rank low. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
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

static float bits_f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* Index of the eligible tensor named `name`, or nt. */
static size_t tensor_index(const ng_adv_tensor *t, size_t nt, const char *name)
{
    size_t a = 0;
    while (a < nt && strcmp(t[a].name, name) != 0) a++;
    return a;
}

ng_status ng_adv_hide_round(const float *grad, float *params, const ng_adv_tensor *t, size_t nt, uint8_t *chosen,
                            ng_adv_key *k, int spread, int down, ng_rng *rng, ng_adv_move *moves, size_t *back)
{
    *back = 0;
    size_t np = 0;
    for (size_t a = 0; a < nt; a++)
        if (t[a].off + t[a].numel > np) np = t[a].off + t[a].numel;
    float *z = ng_calloc(np ? np : 1, sizeof *z), *hz = ng_calloc(k->n ? k->n : 1, sizeof *hz);
    ng_status st = z && hz ? NG_OK : NG_E_NOMEM;
    size_t kk = (size_t)(NG_ADV_HIDE_MARGIN * 10.0 * (double)k->n);
    float hot = INFINITY, cool = INFINITY;
    if (st == NG_OK) st = ng_adv_hide_scores(grad, t, nt, kk, kk, z, &hot, &cool);
    if (st != NG_OK) { free(z); free(hz); return st; }
    /* at most an eighth of the changed per round, the hottest first, so the lock holds */
    size_t cap = (k->n + 7) / 8, nhot = 0;
    float zcap = hot;
    for (size_t i = 0; i < k->n; i++) {
        size_t a = tensor_index(t, nt, k->pos[i].name);
        if (a < nt && z[t[a].off + k->pos[i].index] >= hot) hz[nhot++] = z[t[a].off + k->pos[i].index];
    }
    if (nhot > cap) {
        qsort(hz, nhot, sizeof *hz, cmp_desc);
        zcap = hz[cap - 1];
    }
    size_t keep = 0;
    for (size_t i = 0; i < k->n; i++) {
        size_t a = tensor_index(t, nt, k->pos[i].name);
        size_t at = a < nt ? t[a].off + k->pos[i].index : 0;
        if (a < nt && z[at] >= hot && z[at] >= zcap && *back < cap) {
            params[at] = bits_f(k->pos[i].orig);   /* stays marked chosen: never drawn again */
            sodium_memzero(k->pos[i].name, strlen(k->pos[i].name));
            free(k->pos[i].name);
            (*back)++;
        } else {
            k->pos[keep++] = k->pos[i];
        }
    }
    k->n = keep;
    if (*back > 0) {
        for (size_t a = 0; a < nt; a++)   /* the hot ones are not candidates this round */
            for (size_t e = 0; e < t[a].numel; e++)
                if (!chosen[t[a].off + e] && z[t[a].off + e] >= cool) chosen[t[a].off + e] = 2;
        size_t nm = ng_adv_harden_pick(grad, params, t, nt, chosen, *back, spread, down, rng, moves);
        for (size_t a = 0; a < nt; a++)
            for (size_t e = 0; e < t[a].numel; e++)
                if (chosen[t[a].off + e] == 2) chosen[t[a].off + e] = 0;
        for (size_t i = 0; i < nm && st == NG_OK; i++) {
            size_t at = t[moves[i].ti].off + moves[i].ei;
            st = ng_adv_key_push(k, t[moves[i].ti].name, moves[i].ei, f_bits(params[at]), f_bits(moves[i].to));
            if (st == NG_OK) { params[at] = moves[i].to; chosen[at] = 1; }
        }
    }
    free(z);
    free(hz);
    return st;
}
