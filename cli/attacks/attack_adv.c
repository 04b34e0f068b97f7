/* cli/attacks/attack_adv.c - `nnguard attack fgsm|pgd` (adversarial examples) and `nnguard attack
 * backdoor` (BadNets by fine-tuning), on any model, and on a SecureNet model with and without its
 * license key (attack.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "attack_cli.h"
#include "securenet/sn_cli.h"

/* The victim's stamper for a.license_key on m (NULL without a key): the key must be 256 bits and m
 * must carry license metadata (both errors name the file). A bound model is unlocked in memory with
 * the key's slot first (the victim holds the key); with `locked` non-NULL, a copy of the file as
 * shipped (still scrambled: what an attacker without the key holds) is kept there first. */
static ng_status key_stamper(const ng_attack_args *a, ng_model *m, const ng_dataset *d, ng_stamper **s,
                             ng_model **locked)
{
    *s = NULL;
    if (!a->license_key) return NG_OK;
    ng_stamp_options so;
    ng_status st = ng_license_stamp_options(m, &so);
    if (st != NG_OK) return ng_fail_ctx(st, a->model);
    ng_key k;
    if ((st = ng_sn_load_key(a->license_key, &k)) != NG_OK) return st;
    if (ng_license_is_bound(m) && locked && (st = ng_model_clone(m, locked)) != NG_OK) {
        ng_key_wipe(&k);
        return st;
    }
    if (ng_license_is_bound(m) && (st = ng_license_unbind(m, &k)) != NG_OK) {
        ng_key_wipe(&k);
        return ng_fail_ctx(st, a->license_key);
    }
    uint64_t mask;
    if (ng_license_key_classes(m, &k, &mask) == NG_E_KEY)
        fprintf(stderr, "nnguard attack: note: %s is not one of %s's license keys: expect denied outputs\n",
                a->license_key, a->model);
    ng_clear_error();
    st = ng_stamper_new(&k, &so, d->c, d->h, d->w, s);
    ng_key_wipe(&k);
    return st == NG_OK ? NG_OK : ng_fail_ctx(st, a->model);
}

static ng_status load_split(const ng_attack_args *a, ng_split split, int64_t limit, ng_dataset *out)
{
    ng_dataset full;
    ng_status st = ng_dataset_load_dir(a->data, split, &full);
    if (st != NG_OK) return st;
    st = ng_dataset_head(&full, limit, out);
    ng_dataset_free(&full);
    return st;
}

static json_t *adv_json(const char *name, const ng_advex_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "crafted", json_string(name));
    json_object_set_new(o, "images", json_integer(r->n));
    json_object_set_new(o, "correct", json_integer(r->correct));
    json_object_set_new(o, "flipped", json_integer(r->flipped));
    json_object_set_new(o, "success_rate", ng_json_num(r->success));
    json_object_set_new(o, "accuracy_clean", ng_json_num(r->acc_clean));
    json_object_set_new(o, "accuracy_adversarial", ng_json_num(r->acc_adv));
    json_object_set_new(o, "linf", ng_json_num(r->linf));
    return o;
}

int ng_attack_run_adversarial(const ng_attack_args *a, int pgd)
{
    const char *cmd = pgd ? "attack pgd" : "attack fgsm";
    if (!pgd && a->steps > 1) return ng_cli_usage(cmd, "--steps is for pgd (fgsm takes one step of --eps)");
    ng_model *m = NULL, *locked = NULL;
    ng_dataset te = {0};
    ng_stamper *s = NULL;
    json_t *rows = json_array();
    ng_status st = ng_model_load(a->model, &m);
    if (st == NG_OK) st = load_split(a, NG_SPLIT_TEST, a->limit, &te);
    if (st == NG_OK) st = key_stamper(a, m, &te, &s, &locked);
    if (st != NG_OK) goto out;
    if (!s && ng_model_meta_get(m, "nnguard.license.stamp"))
        fprintf(stderr, "nnguard %s: note: %s is a SecureNet model and no --license-key was given: its inputs are "
                "not stamped (it answers deny)\n", cmd, a->model);
    ng_advex_options o = ng_advex_options_default();
    o.eps = (float)a->eps;
    o.steps = pgd ? (a->steps ? a->steps : 10) : 1;
    o.seed = a->tune.seed;
    o.threads = a->tune.threads;
    if (!a->json)
        printf("%s on %s: eps %.3g%s, %lld test images\n", pgd ? "PGD" : "FGSM", a->model, a->eps,
               pgd ? "" : " (one step)", (long long)te.n);
    for (int with = s ? 1 : 0; with >= 0 && st == NG_OK; with--) {
        ng_advex_result r;
        const char *name = !s ? "plain" : with ? "with-key" : "without-key";
        /* key unknown on a bound file: the attacker holds only the scrambled parameters */
        ng_model *craft_m = !with && locked ? locked : m;
        if ((st = ng_attack_adversarial_transfer(m, s, craft_m, with ? s : NULL, &te, &o, &r)) != NG_OK) break;
        json_array_append_new(rows, adv_json(name, &r));
        if (!a->json)
            printf("  %-12s success %6.2f%%  (%lld of %lld correct flipped; accuracy %.2f%% -> %.2f%%)\n",
                   !s ? "crafted" : with ? "key known" : "key unknown", 100 * r.success, (long long)r.flipped,
                   (long long)r.correct, 100 * r.acc_clean, 100 * r.acc_adv);
    }
    if (st == NG_OK && !a->json && s)
        printf("  (victim stamps with %s; \"key known\": gradients through the stamp, \"key unknown\": crafted on the "
               "%s)\n", a->license_key, locked ? "bound file as shipped, its parameters still scrambled" : "bare model");
    if (st == NG_OK && a->json) {
        json_t *j = json_object();
        json_object_set_new(j, "attack", json_string(pgd ? "pgd" : "fgsm"));
        json_object_set_new(j, "eps", ng_json_num(a->eps));
        json_object_set_new(j, "steps", json_integer(o.steps));
        json_object_set_new(j, "seed", json_integer((json_int_t)o.seed));
        json_object_set_new(j, "license_key", json_boolean(s != NULL));
        if (locked) json_object_set_new(j, "key_unknown_crafted_on", json_string("bound file (scrambled)"));
        json_object_set(j, "results", rows);
        char *t = json_dumps(j, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(j);
        if (t) puts(t);
        free(t);
    }
out:
    json_decref(rows);
    ng_stamper_free(s);
    ng_model_free(locked);
    ng_model_free(m);
    ng_dataset_free(&te);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}

int ng_attack_run_backdoor(const ng_attack_args *a)
{
    const char *cmd = "attack backdoor";
    if (!a->output) return ng_cli_usage(cmd, "give the backdoored model's file with -o OUT");
    if (a->insider && !a->license_key) return ng_cli_usage(cmd, "--insider needs --license-key KEY");
    const char *outs[1] = {a->output}, *ins[3] = {a->model, a->license_key, a->data};
    ng_status st = ng_cli_check_outputs(outs, 1, ins, 3, a->force);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    ng_model *m = NULL, *bd = NULL;
    ng_dataset tr = {0}, te = {0};
    ng_stamper *s = NULL;
    if ((st = ng_model_load(a->model, &m)) != NG_OK) goto out;
    if ((st = load_split(a, NG_SPLIT_TEST, a->limit, &te)) != NG_OK) goto out;
    if ((st = key_stamper(a, m, &te, &s, NULL)) != NG_OK) goto out;
    if ((st = load_split(a, NG_SPLIT_TRAIN, 0, &tr)) != NG_OK) goto out;
    ng_backdoor_options o = ng_backdoor_options_default();
    o.poison = a->poison;
    o.target = a->target;
    if (a->fraction_set) o.fraction = a->tune.fraction;
    o.count = a->tune.count;
    if (a->epochs_set) o.epochs = a->tune.epochs;
    o.batch = a->tune.batch;
    o.lr = a->tune.optim.lr;
    o.seed = a->tune.seed;
    o.threads = a->tune.threads;
    ng_backdoor_result r;
    if ((st = ng_attack_backdoor(m, &tr, &te, a->insider ? s : NULL, s, &o, &r, &bd)) != NG_OK) goto out;
    if ((st = ng_model_save(bd, a->output)) != NG_OK) goto out;
    if (a->json) {
        printf("{\"attacker_examples\": %lld, \"poisoned\": %lld, \"poison\": %.6f, \"target\": %d, \"epochs\": %d, "
               "\"insider\": %s, \"seed\": %llu, \"without_key\": {\"asr_before\": %.6f, \"asr\": %.6f, "
               "\"clean_before\": %.6f, \"clean\": %.6f}", (long long)r.n_train, (long long)r.n_poison, o.poison,
               o.target, o.epochs, a->insider ? "true" : "false", (unsigned long long)o.seed, r.asr_before_nokey,
               r.asr_nokey, r.clean_before_nokey, r.clean_nokey);
        if (s) printf(", \"with_key\": {\"asr_before\": %.6f, \"asr\": %.6f, \"clean_before\": %.6f, \"clean\": %.6f}",
                      r.asr_before_key, r.asr_key, r.clean_before_key, r.clean_key);
        printf("}\n");
    } else {
        printf("backdoor (BadNets) on %s: %lld attacker images, %lld poisoned -> class %d, %d epochs%s\n", a->model,
               (long long)r.n_train, (long long)r.n_poison, o.target, o.epochs,
               a->insider ? ", the attacker stamps with the key" : s ? ", the attacker has no key" : "");
        printf("  without key: attack success %.2f%% -> %.2f%%, clean accuracy %.2f%% -> %.2f%%\n",
               100 * r.asr_before_nokey, 100 * r.asr_nokey, 100 * r.clean_before_nokey, 100 * r.clean_nokey);
        if (s)
            printf("  with key:    attack success %.2f%% -> %.2f%%, clean accuracy %.2f%% -> %.2f%%\n",
                   100 * r.asr_before_key, 100 * r.asr_key, 100 * r.clean_before_key, 100 * r.clean_key);
        printf("  backdoored model: %s\n", a->output);
    }
out:
    ng_stamper_free(s);
    ng_model_free(m); ng_model_free(bd);
    ng_dataset_free(&tr); ng_dataset_free(&te);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}
