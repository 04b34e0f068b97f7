/* cli/attacks/attack_license.c - `nnguard attack keyguess` on a SecureNet-licensed model, and
 * `nnguard attack reverse-trigger`: the attacks on license keys (attack.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "attack_cli.h"

int ng_attack_is_licensed(const char *path)
{
    ng_model *m;
    if (ng_model_load(path, &m) != NG_OK) { ng_clear_error(); return 0; }
    int lic = ng_model_meta_get(m, "nnguard.license.stamp") != NULL;
    ng_model_free(m);
    return lic;
}

static ng_status load_test(const ng_attack_args *a, ng_dataset *te)
{
    ng_dataset full;
    ng_status st = ng_dataset_load_dir(a->data, NG_SPLIT_TEST, &full);
    if (st != NG_OK) return st;
    st = ng_dataset_head(&full, a->limit, te);
    ng_dataset_free(&full);
    return st;
}

int ng_attack_run_license_keyguess(const ng_attack_args *a)
{
    const char *cmd = "attack keyguess";
    ng_model *m;
    ng_dataset te;
    ng_status st = ng_model_load(a->model, &m);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    if ((st = load_test(a, &te)) != NG_OK) { ng_model_free(m); return ng_cli_fail(cmd, st); }
    ng_keyguess_result r;
    double none = 0;
    st = ng_license_evaluate(m, NULL, NULL, NULL, &te, 0, a->tune.threads, &none, NULL);
    if (st == NG_OK) st = ng_attack_license_keyguess(m, a->trials, a->tune.seed, &te, a->tune.threads, &r);
    ng_dataset_free(&te);
    ng_model_free(m);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "trials", json_integer(r.trials));
        json_object_set_new(o, "accuracy_no_key", ng_json_num(none));
        json_object_set_new(o, "accuracy_mean", ng_json_num(r.acc_mean));
        json_object_set_new(o, "accuracy_min", ng_json_num(r.acc_min));
        json_object_set_new(o, "accuracy_max", ng_json_num(r.acc_max));
        char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(o);
        if (s) puts(s);
        free(s);
    } else {
        printf("key guessing on %s (SecureNet license): %d random keys\nno key:     %.2f%%\n"
               "wrong keys: mean %.2f%%  min %.2f%%  max %.2f%%\n", a->model, r.trials, 100 * none, 100 * r.acc_mean,
               100 * r.acc_min, 100 * r.acc_max);
    }
    free(r.acc);
    return NG_EXIT_OK;
}

int ng_attack_run_reverse_trigger(const ng_attack_args *a)
{
    const char *cmd = "attack reverse-trigger";
    ng_model *m;
    ng_dataset tr = {0}, sub = {0}, te = {0};
    ng_stamp_options so;
    ng_status st = ng_model_load(a->model, &m);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    if ((st = ng_license_stamp_options(m, &so)) != NG_OK) { ng_fail_ctx(st, a->model); goto out; }
    if ((st = ng_dataset_load_dir(a->data, NG_SPLIT_TRAIN, &tr)) != NG_OK) goto out;
    if ((st = ng_dataset_subset(&tr, a->tune.fraction, a->tune.count, a->tune.seed, &sub)) != NG_OK) goto out;
    if ((st = load_test(a, &te)) != NG_OK) goto out;
    ng_trigger_options o = ng_trigger_options_default();
    o.blend = so.mode == NG_STAMP_BLEND;
    o.alpha = so.alpha;
    o.epochs = a->tune.epochs;
    o.seed = a->tune.seed;
    o.threads = a->tune.threads;
    ng_trigger_result r;
    if ((st = ng_attack_reverse_trigger(m, &sub, &te, &o, &r)) != NG_OK) goto out;
    if (a->json) {
        printf("{\"mode\": \"%s\", \"attacker_examples\": %lld, \"epochs\": %d, \"accuracy_before\": %.6f, "
               "\"accuracy_after\": %.6f, \"loss_first_epoch\": %.6f, \"loss_last_epoch\": %.6f, \"mask_mean\": %.6f}\n",
               o.blend ? "blend" : "patch", (long long)sub.n, o.epochs, r.acc_before, r.acc_after, r.loss_first,
               r.loss_last, r.mask_mean);
    } else {
        printf("reverse-engineered %s trigger on %s from %lld labelled images, %d epochs:\n"
               "held-out accuracy %.2f%% unstamped -> %.2f%% with the found stamp (loss %.3f -> %.3f, mask mean %.3f)\n",
               o.blend ? "blend" : "patch", a->model, (long long)sub.n, o.epochs, 100 * r.acc_before, 100 * r.acc_after,
               r.loss_first, r.loss_last, r.mask_mean);
    }
out:
    ng_model_free(m);
    ng_dataset_free(&tr); ng_dataset_free(&sub); ng_dataset_free(&te);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}
