/* cli/securenet/eval_securenet_bind.c - `nnguard eval-scheme securenet --parts ...,bind`: the
 * bound license (ng_license_bind) measured against the attackers of the unbound one: the file
 * alone (no key) fine-tuned on 1/5/10% of the data beside scratch, trigger reverse-engineering
 * on the locked parameters (as they are, and re-initialised where out of distribution), 100 random keys (slots and stamps); with the key: bit-exact
 * parameters and accuracy after the unlock, and the unlock's cost per load beside inference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "eval_scheme.h"
#include "core/core.h"

#define BIND_GUESS_IMAGES 2000   /* test images per random key, as the unbound key guessing */
#define BIND_LOADS 20            /* unlocks timed */

static int same_params(const ng_model *a, const ng_model *b)
{
    return ng_model_nparams(a) == ng_model_nparams(b) &&
           !memcmp(ng_model_params_c(a), ng_model_params_c(b), ng_model_nparams(a) * sizeof(float));
}

/* Unlock cost: BIND_LOADS unbinds of fresh clones of bound (the clone not timed), mean ms wall and
 * CPU; beside one pass of the whole test set with the key (ms, and per image). */
static ng_status timing(ng_es_ctx *c, const ng_model *bound, ng_model *open, const ng_stamp_options *so,
                        const ng_key *k, json_t *o)
{
    double wall = 0, cpu = 0, acc;
    ng_status st = NG_OK;
    for (int i = 0; i < BIND_LOADS && st == NG_OK; i++) {
        ng_model *t;
        if ((st = ng_model_clone(bound, &t)) != NG_OK) break;
        const double t0 = ng_now(), c0 = ng_cpu_now();
        st = ng_license_unbind(t, k);
        wall += ng_now() - t0;
        cpu += ng_cpu_now() - c0;
        ng_model_free(t);
    }
    if (st != NG_OK) return st;
    const double t0 = ng_now(), c0 = ng_cpu_now();
    st = ng_license_evaluate(open, so, k, NULL, &c->test, 0, c->threads, &acc, NULL);
    const double iw = ng_now() - t0, ic = ng_cpu_now() - c0, n = (double)c->test.n;
    if (st != NG_OK) return st;
    json_object_set_new(o, "unlock_ms_per_load", ng_json_num(1e3 * wall / BIND_LOADS));
    json_object_set_new(o, "unlock_cpu_ms_per_load", ng_json_num(1e3 * cpu / BIND_LOADS));
    json_object_set_new(o, "inference_ms_test_set", ng_json_num(1e3 * iw));
    json_object_set_new(o, "inference_cpu_ms_test_set", ng_json_num(1e3 * ic));
    json_object_set_new(o, "inference_ms_per_image", ng_json_num(1e3 * iw / n));
    printf("    unlock per load: %.2f ms (%.2f CPU ms, mean of %d) beside inference with the key: %.1f ms for %.0f test "
           "images (%.1f CPU ms), %.4f ms per image: one load = %.1f images' inference\n", 1e3 * wall / BIND_LOADS,
           1e3 * cpu / BIND_LOADS, BIND_LOADS, 1e3 * iw, n, 1e3 * ic, 1e3 * iw / n, wall / BIND_LOADS / (iw / n));
    return NG_OK;
}

/* 100 (--trials) random keys: how many open a slot of bound, and the locked model's accuracy on
 * inputs stamped with them; the locked model with no stamp and with the right key's stamp. */
static ng_status guesses(ng_es_ctx *c, ng_model *bound, const ng_stamp_options *so, const ng_key *k, json_t *o)
{
    const int64_t lim = BIND_GUESS_IMAGES < c->test.n ? BIND_GUESS_IMAGES : c->test.n;
    double worst = 0, mean = 0, a, a_none, a_stamp;
    int opened = 0;
    ng_status st = NG_OK;
    for (int t = 0; t < c->trials && st == NG_OK; t++) {
        ng_key g = {.len = 32};   /* the unbound key guessing's random keys (eval_securenet.c fixed_key) */
        ng_rng rng;
        ng_rng_seed(&rng, (c->seed + 99991) * 7919 + (uint64_t)t + 1);
        for (int b = 0; b < 32; b += 8) { uint64_t v = ng_rng_u64(&rng); memcpy(g.k + b, &v, 8); }
        opened += ng_license_unbind(bound, &g) == NG_OK;   /* never: bound stays locked */
        ng_clear_error();
        st = ng_license_evaluate(bound, so, &g, NULL, &c->test, lim, c->threads, &a, NULL);
        ng_key_wipe(&g);
        worst = fmax(worst, a);
        mean += a / c->trials;
    }
    if (st == NG_OK) st = ng_license_evaluate(bound, so, NULL, NULL, &c->test, 0, c->threads, &a_none, NULL);
    if (st == NG_OK) st = ng_license_evaluate(bound, so, k, NULL, &c->test, 0, c->threads, &a_stamp, NULL);
    if (st != NG_OK) return st;
    json_object_set_new(o, "random_keys", json_integer(c->trials));
    json_object_set_new(o, "random_keys_opening_a_slot", json_integer(opened));
    json_object_set_new(o, "locked_random_stamp_worst", ng_json_num(worst));
    json_object_set_new(o, "locked_random_stamp_mean", ng_json_num(mean));
    json_object_set_new(o, "locked_no_key", ng_json_num(a_none));
    json_object_set_new(o, "locked_right_stamp", ng_json_num(a_stamp));
    printf("    %d random keys: %d open a slot; the locked model stamped with them: worst %.2f%%, mean %.2f%% (%lld "
           "images); locked, no key %.2f%%, locked with the right key's stamp (no unlock) %.2f%%\n", c->trials, opened,
           100 * worst, 100 * mean, (long long)lim, 100 * a_none, 100 * a_stamp);
    return NG_OK;
}

/* Bind a clone of m to k; check the unlock is bit-exact and give the accuracies. */
static ng_status one(ng_es_ctx *c, const ng_dataset *train, const ng_model *m, const ng_key *k, const char *name,
                     int attacks, json_t *out)
{
    ng_stamp_options so;
    ng_model *b = NULL, *u = NULL;
    json_t *o = json_object();
    json_object_set_new(out, name, o);
    ng_status st = ng_license_stamp_options(m, &so);
    if (st == NG_OK) st = ng_model_clone(m, &b);
    if (st == NG_OK) st = ng_license_bind(b, k, 1, NULL);
    if (st == NG_OK) st = ng_model_clone(b, &u);
    if (st == NG_OK) st = ng_license_unbind(u, k);
    double a_plain = 0, a_open = 0;
    if (st == NG_OK) st = ng_license_evaluate((ng_model *)m, &so, k, NULL, &c->test, 0, c->threads, &a_plain, NULL);
    if (st == NG_OK) st = ng_license_evaluate(u, &so, k, NULL, &c->test, 0, c->threads, &a_open, NULL);
    if (st == NG_OK) {
        const int exact = same_params(u, m);
        json_object_set_new(o, "unlocked_bit_exact", json_boolean(exact));
        json_object_set_new(o, "accuracy_unbound_with_key", ng_json_num(a_plain));
        json_object_set_new(o, "accuracy_bound_with_key", ng_json_num(a_open));
        printf("  bound license (%s): with the key %.2f%% (unbound %.2f%%), parameters after the unlock %s\n", name,
               100 * a_open, 100 * a_plain, exact ? "bit-exact" : "DIFFER");
        if (!exact) st = ng_fail(NG_E_INTERNAL, "bound license: the unlocked parameters differ from the model's");
    }
    if (st == NG_OK) st = guesses(c, b, &so, k, o);
    if (st == NG_OK && attacks) st = timing(c, b, u, &so, k, o);
    if (st == NG_OK && attacks) {
        json_t *ft;
        st = ng_es_finetune(c, b, &ft);
        json_object_set_new(o, "finetune_without_key", ft);
    }
    if (st == NG_OK) st = ng_es_sn_trigger(c, train, b, &so, "reverse_trigger", o);
    /* the same search after the fine-tuning attacker's preparation: out-of-distribution (locked)
     * parameters re-initialised as a fresh layer would be, the rest kept */
    ng_finetune_options fo = ng_finetune_options_default();
    if (st == NG_OK) {
        const int64_t nr = ng_reinit_ood(b, fo.sanitize_abs, fo.ood_factor, c->seed + 1000);
        json_object_set_new(o, "reinit_params", json_integer(nr));
        printf("    the trigger search again after re-initialising the %lld out-of-distribution parameters (of %zu):\n",
               (long long)nr, ng_model_nparams(b));
        st = ng_es_sn_trigger(c, train, b, &so, "reverse_trigger_reinit", o);
    }
    ng_model_free(b);
    ng_model_free(u);
    return st;
}

ng_status ng_es_sn_bind(ng_es_ctx *c, const ng_dataset *train, const ng_model *single, const ng_key *k1,
                        const ng_model *blend, const ng_key *kb, json_t *out)
{
    ng_status st = one(c, train, single, k1, "single", 1, out);
    if (st == NG_OK && blend) st = one(c, train, blend, kb, "single-blend", 0, out);
    return st;
}
