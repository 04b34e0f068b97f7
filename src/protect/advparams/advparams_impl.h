/* protect/advparams_impl.h - the AdvParams key as held in memory (shared by advparams.c and
 * advparams_key.c). The key file layout is documented in nnguard/advparams.h. */
#ifndef NG_PROTECT_ADVPARAMS_IMPL_H
#define NG_PROTECT_ADVPARAMS_IMPL_H
#include <stdint.h>
#include "nnguard/advparams.h"
#include "nnguard/rng.h"

#define NG_ADV_NAME_MAX 4096
#define NG_ADV_PATTERN_MAX 4096

/* An eligible tensor: where it lives in the model array, its original range and (hardened form)
 * its original values sorted, with the bulk [blo, bhi] of sorted indices a perturbed value may
 * be drawn from (1st..99th percentile, never the extremes). */
typedef struct ng_adv_tensor {
    const char *name;       /* owned by the model */
    size_t off, numel;      /* in floats, in the model's contiguous array */
    float lo, hi;           /* original min/max (NaNs ignored) */
    float *sorted;          /* hardened form only (NULL otherwise): ns non-NaN values */
    size_t ns;
    size_t blo, bhi;        /* bulk of sorted; blo > bhi when the tensor is too small */
    size_t cmid, clo, chi;  /* reset-proof rule: the sorted index of the tensor's mean and the
                               centre band [clo, chi] around it (NG_ADV_RP_BAND of the values
                               each side, inside the bulk); clo >= chi when unusable */
} ng_adv_tensor;

/* One hardened move: element ei of tensor ti goes to `to`. */
typedef struct ng_adv_move { size_t ti, ei; float to; } ng_adv_move;

/* Hardened form: sort each tensor's values and set its bulk (advparams_harden.c). */
ng_status ng_adv_harden_prepare(ng_adv_tensor *t, size_t nt, const float *params);
/* A candidate parameter of the hardened picks: score (higher first), tensor, element. */
typedef struct ng_adv_cand { float score; uint32_t ti; uint64_t ei; } ng_adv_cand;
/* Sort c by descending score; the pool the picks draw from: the best spread x want of them. */
size_t ng_adv_cand_pool(ng_adv_cand *c, size_t n, size_t want, int spread);
/* Step i of a partial Fisher-Yates shuffle of c[i..pool): a uniform draw swapped into c[i]. */
ng_adv_cand ng_adv_cand_draw(ng_adv_cand *c, size_t i, size_t pool, ng_rng *rng);

/* Pick up to `want` not-yet-chosen parameters: score |g| x the expected in-bulk move on the side
 * that raises the loss, keep the top spread x want, draw `want` of them at random, and draw each new
 * value from the tensor's own sorted values between the current one and the bulk's edge
 * (interpolated between neighbours). Marks them chosen; returns how many moves were written. */
size_t ng_adv_harden_pick(const float *grad, const float *params, const ng_adv_tensor *t, size_t nt,
                          uint8_t *chosen, size_t want, int spread, int down, ng_rng *rng, ng_adv_move *out);

/* Reset-proof rule (advparams_resetproof.c): like ng_adv_harden_pick, but a chosen parameter
 * goes INTO its tensor's centre band (on the side of the mean that raises the loss), so the
 * original value is what was informative and resetting it to the tensor mean restores nothing.
 * Score: the first-order loss increase g x (band half's midpoint - v), positive only. */
size_t ng_adv_resetproof_pick(const float *grad, const float *params, const ng_adv_tensor *t, size_t nt,
                              uint8_t *chosen, size_t want, int spread, ng_rng *rng, ng_adv_move *out);

/* Camouflage rounds (advparams_hide.c): z[at] = the gradient-outlier detector's score of every
 * eligible parameter (|g - mean| / sd within its tensor); *hot and *cool = the k_hot-th and
 * k_cool-th largest of them. */
ng_status ng_adv_hide_scores(const float *grad, const ng_adv_tensor *t, size_t nt, size_t k_hot, size_t k_cool,
                             float *z, float *hot, float *cool);

/* One camouflage round on the gradient at the locked point: put back (original bits; they stay
 * marked chosen) at most an eighth of k's positions, the hottest of those ranked within the top
 * NG_ADV_HIDE_MARGIN x 10 x changed, and draw as many new ones (ng_adv_harden_pick) among the
 * parameters ranked below that, appended to k and applied to params. *back: how many were put back. */
ng_status ng_adv_hide_round(const float *grad, float *params, const ng_adv_tensor *t, size_t nt, uint8_t *chosen,
                            ng_adv_key *k, int spread, int down, ng_rng *rng, ng_adv_move *moves, size_t *back);

/* Dead layer (advparams_dead.c): one move; `at` in the model's array, `ei` in the tensor `name`. */
typedef struct ng_adv_dead_move { const char *name; size_t at, ei; float to; } ng_adv_dead_move;
/* Plan the moves that silence every unit of eligible tensor t (its positive weights, and the
 * positive biases of its "*.bias" companion, to negative values strictly inside the tensor's
 * own negative values), and the positive biases of the "*.bias" of next[0 .. nnext).
 * *out: malloc'ed, *nout moves; nothing is changed. */
ng_status ng_adv_dead_plan(const ng_model *m, const ng_adv_tensor *t, const ng_adv_tensor *next, size_t nnext,
                           const float *params,
                           ng_rng *rng, ng_adv_dead_move **out, size_t *nout);

typedef struct ng_adv_pos {
    char    *name;
    uint64_t index;
    uint32_t orig, pert;
} ng_adv_pos;

struct ng_adv_key {
    uint8_t  id_after[32], id_before[32];
    uint64_t seed;
    uint32_t budget, set_size, rule, form;   /* form: 0 paper, 1 hardened */
    double   target_acc, acc_before, acc_after;
    char    *pattern;          /* "" for the default rule; never NULL once built */
    ng_adv_pos *pos;
    size_t   n, cap;
};

/* Empty key (pattern ""); NULL and a message when out of memory. */
ng_adv_key *ng_adv_key_new(void);
/* Append a position (name copied). */
ng_status   ng_adv_key_push(ng_adv_key *k, const char *name, uint64_t index, uint32_t orig, uint32_t pert);

#endif
