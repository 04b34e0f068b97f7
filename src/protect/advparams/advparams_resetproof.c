/* protect/advparams_resetproof.c - the reset-proof rule of the hardened AdvParams form (ours,
 * issue 14): the adaptive attacker who resets suspect parameters to their tensor's mean wins
 * against the plain hardened form because the perturbed value was the outlier and the mean is
 * close to the original. Here the roles are swapped: the rounds pick parameters whose ORIGINAL
 * value carries the model (far from the mean, with a gradient that says removing it raises the
 * loss) and move them into the tensor's centre band, a few sorted neighbours around its mean.
 * Resetting them to the mean then restores nothing; the key holds the original values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "protect/advparams/advparams_impl.h"

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* Sorted-index range [*j0, *j1) of the band half on the side of the mean that the gradient
 * says raises the loss (g > 0: at or above the mean, g < 0: below it); 0 when empty. */
static int band_half(const ng_adv_tensor *t, float g, size_t *j0, size_t *j1)
{
    if (t->clo >= t->chi || !(g != 0)) return 0;
    size_t c = t->cmid < t->clo ? t->clo : t->cmid > t->chi ? t->chi : t->cmid;
    if (g > 0) { *j0 = c; *j1 = t->chi; }
    else { *j0 = t->clo; *j1 = c; }
    return *j1 > *j0;
}


size_t ng_adv_resetproof_pick(const float *grad, const float *params, const ng_adv_tensor *t, size_t nt,
                              uint8_t *chosen, size_t want, int spread, ng_rng *rng, ng_adv_move *out)
{
    size_t total = 0, nc = 0, done = 0;
    for (size_t a = 0; a < nt; a++) total += t[a].numel;
    ng_adv_cand *c = ng_calloc(total ? total : 1, sizeof *c);
    if (!c) return 0;
    for (size_t a = 0; a < nt; a++) {
        const float *s = t[a].sorted;
        if (t[a].blo > t[a].bhi || t[a].clo >= t[a].chi) continue;
        float mn = s[0], mx = s[t[a].ns - 1];
        for (size_t e = 0; e < t[a].numel; e++) {
            size_t at = t[a].off + e, j0, j1;
            float v = params[at], g = grad[at];
            if (chosen[at] || isnan(v) || fbits(v) == fbits(mn) || fbits(v) == fbits(mx)) continue;
            if (!band_half(&t[a], g, &j0, &j1)) continue;
            double gain = (double)g * ((double)s[j0 + (j1 - j0) / 2] - (double)v);
            if (gain > 0) c[nc++] = (ng_adv_cand){(float)gain, (uint32_t)a, e};
        }
    }
    size_t pool = ng_adv_cand_pool(c, nc, want, spread);
    for (size_t i = 0; i < pool && done < want; i++) {
        ng_adv_cand x = ng_adv_cand_draw(c, i, pool, rng);   /* partial Fisher-Yates */
        const ng_adv_tensor *tt = &t[x.ti];
        size_t at = tt->off + x.ei, j0, j1;
        float v = params[at];
        chosen[at] = 1;
        if (!band_half(tt, grad[at], &j0, &j1)) continue;
        /* strictly between two distinct sorted neighbours: never a copy of an existing value
         * (the duplicated-values detector), nor an extreme; a few draws, then give up */
        float to = NAN;
        for (int tries = 0; tries < 8 && isnan(to); tries++) {
            size_t j = j0 + ng_rng_below(rng, (uint32_t)(j1 - j0));
            float lo = tt->sorted[j], hi = tt->sorted[j + 1], y = lo + ng_rng_uniform(rng) * (hi - lo);
            if (!(y > lo && y < hi)) y = nextafterf(lo, hi);
            if (y > lo && y < hi) to = y;
        }
        if (isnan(to) || fbits(to) == fbits(v)) continue;
        out[done++] = (ng_adv_move){x.ti, x.ei, to};
    }
    free(c);
    return done;
}
