/* protect/advparams_harden.c - the hardened AdvParams form (SCHEMES.md section 2, ours): the
 * perturbed values are drawn from inside each tensor's own bulk (1st..99th percentile of its
 * original values, never one of its extremes), and the positions are drawn at random among the
 * best-scoring candidates, so that neither magnitude nor gradient rank singles them out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "protect/advparams/advparams_impl.h"

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

ng_status ng_adv_harden_prepare(ng_adv_tensor *t, size_t nt, const float *params)
{
    for (size_t a = 0; a < nt; a++) {
        size_t n = t[a].numel, k = 0;
        float *s = ng_calloc(n ? n : 1, sizeof *s);
        if (!s) return NG_E_NOMEM;
        for (size_t e = 0; e < n; e++)
            if (!isnan(params[t[a].off + e])) s[k++] = params[t[a].off + e];
        qsort(s, k, sizeof *s, cmp_float);
        t[a].sorted = s;
        t[a].ns = k;
        /* bulk: 1st..99th percentile, and never the first/last sorted slot */
        size_t lo = (size_t)ceil(0.01 * (double)(k ? k - 1 : 0)), hi = (size_t)floor(0.99 * (double)(k ? k - 1 : 0));
        if (lo < 1) lo = 1;
        if (k < 2 || hi > k - 2) hi = k >= 2 ? k - 2 : 0;
        t[a].blo = lo;
        t[a].bhi = k >= 4 ? hi : 0;
        if (k < 4) t[a].blo = 1;   /* blo > bhi: unusable */
        /* reset-proof centre band: the mean's sorted index, NG_ADV_RP_BAND of the values each side */
        double mean = 0;
        for (size_t e = 0; e < k; e++) mean += s[e];
        mean = k ? mean / (double)k : 0;
        size_t c = 0, lo2 = k, hi2 = 0, h = (size_t)ceil(NG_ADV_RP_BAND * (double)k);
        while (c < k && (double)s[c] < mean) c++;
        if (t[a].blo <= t[a].bhi) {
            lo2 = c > h ? c - h : 0;
            hi2 = c + h;
            if (lo2 < t[a].blo) lo2 = t[a].blo;
            if (hi2 > t[a].bhi) hi2 = t[a].bhi;
        }
        t[a].cmid = c;
        t[a].clo = lo2;
        t[a].chi = hi2;
    }
    return NG_OK;
}

/* Index of the first sorted value >= v. */
static size_t lower_bound(const float *s, size_t n, float v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Sorted-index range [*j0, *j1) the new value is drawn from (between neighbours j and j+1), on the
 * side of v that raises the loss; 0 when there is no room. */
static int side_range(const ng_adv_tensor *t, float v, float g, int down, size_t *j0, size_t *j1)
{
    if (t->blo > t->bhi || !(g != 0) || isnan(v) || (down && g > 0)) return 0;
    size_t r = lower_bound(t->sorted, t->ns, v);
    if (g > 0) {   /* larger values: [max(blo, r), bhi) */
        *j0 = r > t->blo ? r : t->blo;
        *j1 = t->bhi;
    } else {       /* smaller values: [blo, min(bhi, r - 1)) */
        *j0 = t->blo;
        *j1 = r == 0 ? 0 : (r - 1 < t->bhi ? r - 1 : t->bhi);
    }
    return *j1 > *j0;
}

static int cmp_cand(const void *a, const void *b)
{
    float x = ((const ng_adv_cand *)a)->score, y = ((const ng_adv_cand *)b)->score;
    return (x < y) - (x > y);   /* descending */
}

size_t ng_adv_cand_pool(ng_adv_cand *c, size_t n, size_t want, int spread)
{
    qsort(c, n, sizeof *c, cmp_cand);
    return (size_t)spread * want < n ? (size_t)spread * want : n;
}

ng_adv_cand ng_adv_cand_draw(ng_adv_cand *c, size_t i, size_t pool, ng_rng *rng)
{
    size_t r = i + ng_rng_below(rng, (uint32_t)(pool - i));
    ng_adv_cand x = c[r]; c[r] = c[i]; c[i] = x;
    return x;
}

size_t ng_adv_harden_pick(const float *grad, const float *params, const ng_adv_tensor *t, size_t nt,
                          uint8_t *chosen, size_t want, int spread, int down, ng_rng *rng, ng_adv_move *out)
{
    size_t total = 0, nc = 0, done = 0;
    for (size_t a = 0; a < nt; a++) total += t[a].numel;
    ng_adv_cand *c = ng_calloc(total ? total : 1, sizeof *c);
    if (!c) return 0;
    for (size_t a = 0; a < nt; a++) {
        const float *s = t[a].sorted;
        if (t[a].blo > t[a].bhi) continue;
        float mn = s[0], mx = s[t[a].ns - 1];
        for (size_t e = 0; e < t[a].numel; e++) {
            size_t at = t[a].off + e, j0, j1;
            float v = params[at], g = grad[at];
            /* the extremes stay where they are, so that the tensor's min/max never move */
            if (chosen[at] || fbits(v) == fbits(mn) || fbits(v) == fbits(mx)) continue;
            if (!side_range(&t[a], v, g, down, &j0, &j1)) continue;
            double mid = s[j0 + (j1 - j0) / 2];
            float score = (float)(fabs((double)g) * fabs(mid - (double)v));
            if (score > 0) c[nc++] = (ng_adv_cand){score, (uint32_t)a, e};
        }
    }
    size_t pool = ng_adv_cand_pool(c, nc, want, spread);
    for (size_t i = 0; i < pool && done < want; i++) {
        ng_adv_cand x = ng_adv_cand_draw(c, i, pool, rng);   /* partial Fisher-Yates */
        const ng_adv_tensor *tt = &t[x.ti];
        size_t at = tt->off + x.ei, j0, j1;
        float v = params[at];
        chosen[at] = 1;
        if (!side_range(tt, v, grad[at], down, &j0, &j1)) continue;
        size_t j = j0 + ng_rng_below(rng, (uint32_t)(j1 - j0));
        float lo = tt->sorted[j], hi = tt->sorted[j + 1];
        float to = lo + ng_rng_uniform(rng) * (hi - lo);
        if (!(to >= lo && to <= hi)) to = lo;
        uint32_t b = fbits(to);
        if (b == fbits(tt->sorted[0]) || b == fbits(tt->sorted[tt->ns - 1]) || b == fbits(v)) continue;
        out[done++] = (ng_adv_move){x.ti, x.ei, to};
    }
    free(c);
    return done;
}
