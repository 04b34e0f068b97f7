/* cli/attack_run.c - runners for `nnguard attack finetune` and `nnguard attack prune`:
 * load the model and data, run the attack, print a table (or JSON with --json). */
#include <jansson.h>
#include <stdlib.h>
#include "json_num.h"
#include "cli.h"
#include "attack_cli.h"
#include "load_model.h"
#include "nnguard/advparams.h"
#include "nnguard/deeplock.h"

/* Open MODEL as it is, with no key (a protected model runs protected: that is what an
 * attacker holds), and the data; the model must take the data's images. */
static int open_inputs(const char *cmd, const ng_attack_args *a, ng_model **m, ng_dataset *train, ng_dataset *test)
{
    ng_status st = ng_dataset_load_dir(a->data, NG_SPLIT_TRAIN, train);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    ng_cli_keys k = ng_cli_keys_default();
    ng_cli_keys_set_shape(&k, train->c, train->h, train->w);
    if ((st = ng_cli_open_model(cmd, a->model, &k, m)) != NG_OK) { ng_dataset_free(train); return ng_cli_fail(cmd, st); }
    if ((st = ng_cli_check_input(a->model, *m, train->c, train->h, train->w, a->data)) != NG_OK) {
        ng_model_free(*m); ng_dataset_free(train); return ng_cli_fail(cmd, st);
    }
    ng_dataset full;
    if ((st = ng_dataset_load_dir(a->data, NG_SPLIT_TEST, &full)) != NG_OK) {
        ng_model_free(*m); ng_dataset_free(train); return ng_cli_fail(cmd, st);
    }
    st = ng_dataset_head(&full, a->limit, test);
    ng_dataset_free(&full);
    if (st != NG_OK) { ng_model_free(*m); ng_dataset_free(train); return ng_cli_fail(cmd, st); }
    return 0;
}

static int print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!s) return NG_EXIT_FAIL;
    puts(s);
    free(s);
    return NG_EXIT_OK;
}

static json_t *series(const double *v, int n)
{
    json_t *a = json_array();
    for (int e = 0; e < n; e++) json_array_append_new(a, ng_json_num(v[e]));
    return a;
}

static json_t *finetune_json(const ng_finetune_result *r, const ng_finetune_options *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "train_examples", json_integer(r->n_train));
    json_object_set_new(j, "params_reinitialised", json_integer(r->n_sanitized));
    json_object_set_new(j, "accuracy_before", ng_json_num(r->acc_before));
    json_object_set_new(j, "loss_before", ng_json_num(r->loss_before));
    json_object_set_new(j, "accuracy_attacked", series(r->acc_attacked, r->epochs));
    json_object_set_new(j, "loss_attacked", series(r->loss_attacked, r->epochs));
    if (o->scratch) json_object_set_new(j, "accuracy_scratch", series(r->acc_scratch, r->epochs));
    if (o->sanity) json_object_set_new(j, "accuracy_sanity", series(r->acc_sanity, r->epochs));
    return j;
}

int ng_attack_run_finetune(const ng_attack_args *a)
{
    ng_model *m;
    ng_dataset tr, te;
    int rc = open_inputs("attack finetune", a, &m, &tr, &te);
    if (rc) return rc;
    ng_finetune_result *r = calloc(1, sizeof *r);
    ng_status st = r ? ng_attack_finetune(m, &tr, &te, &a->tune, r) : NG_E_NOMEM;
    if (st != NG_OK) rc = ng_cli_fail("attack finetune", st);
    else if (a->json) rc = print_json(finetune_json(r, &a->tune));
    else {
        printf("fine-tuning attack on %s: %lld training examples, %d epochs\n", a->model,
               (long long)r->n_train, r->epochs);
        printf("%lld out-of-distribution parameters re-initialised as a fresh layer would be; accuracy then %.2f%%, "
               "training loss %.3f\n", (long long)r->n_sanitized, 100 * r->acc_before, r->loss_before);
        printf("%-6s %12s %8s %12s %12s\n", "epoch", "attacked", "loss", a->tune.scratch ? "scratch" : "",
               a->tune.sanity ? "sanity" : "");
        for (int e = 0; e < r->epochs; e++) {
            printf("%-6d %11.2f%% %8.3f", e + 1, 100 * r->acc_attacked[e], r->loss_attacked[e]);
            if (a->tune.scratch) printf(" %11.2f%%", 100 * r->acc_scratch[e]);
            if (a->tune.sanity) printf(" %11.2f%%", 100 * r->acc_sanity[e]);
            putchar('\n');
        }
    }
    free(r);
    ng_model_free(m);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    return rc;
}

int ng_attack_run_prune(const ng_attack_args *a)
{
    ng_model *m;
    ng_dataset tr, te;
    int rc = open_inputs("attack prune", a, &m, &tr, &te);
    if (rc) return rc;
    ng_finetune_options tune = a->tune;
    tune.epochs = a->prune_epochs;
    ng_prune_point pts[NG_ATTACK_MAX_RATES];
    ng_status st = ng_attack_prune(m, a->rates, a->n_rates, &tr, &te, &tune, pts);
    if (st != NG_OK) rc = ng_cli_fail("attack prune", st);
    else if (a->json) {
        json_t *arr = json_array();
        for (int i = 0; i < a->n_rates; i++) {
            json_t *p = json_object();
            json_object_set_new(p, "rate", ng_json_num(pts[i].rate));
            json_object_set_new(p, "zeroed", json_integer(pts[i].zeroed));
            json_object_set_new(p, "accuracy", ng_json_num(pts[i].acc));
            if (pts[i].acc_tuned >= 0) json_object_set_new(p, "accuracy_tuned", ng_json_num(pts[i].acc_tuned));
            json_array_append_new(arr, p);
        }
        rc = print_json(arr);
    } else {
        printf("pruning attack on %s%s\n", a->model, tune.epochs ? " (with fine-tune)" : "");
        printf("%-6s %10s %10s %12s\n", "rate", "zeroed", "accuracy", tune.epochs ? "fine-tuned" : "");
        for (int i = 0; i < a->n_rates; i++) {
            printf("%5.0f%% %10lld %9.2f%%", 100 * pts[i].rate, (long long)pts[i].zeroed, 100 * pts[i].acc);
            if (pts[i].acc_tuned >= 0) printf(" %11.2f%%", 100 * pts[i].acc_tuned);
            putchar('\n');
        }
    }
    ng_model_free(m);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    return rc;
}

int ng_attack_run_keyguess(const ng_attack_args *a)
{
    const char *cmd = "attack keyguess";
    ng_weights *w;
    ng_model *m = NULL;
    ng_dataset full, te;
    ng_status st = ng_weights_open(a->model, &w);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    if ((st = ng_model_from_weights(w, &m)) != NG_OK) { ng_weights_free(w); return ng_cli_fail(cmd, st); }
    if ((st = ng_dataset_load_dir(a->data, NG_SPLIT_TEST, &full)) != NG_OK) goto fail;
    st = ng_dataset_head(&full, a->limit, &te);
    ng_dataset_free(&full);
    if (st != NG_OK) goto fail;
    ng_keyguess_result r;
    double locked_acc;
    if ((st = ng_evaluate(m, &te, 0, 256, a->tune.threads, &locked_acc, NULL, NULL)) == NG_OK)
        st = ng_attack_keyguess(m, w, a->trials, a->tune.seed, &te, a->tune.threads, &r);
    ng_dataset_free(&te);
    if (st != NG_OK) goto fail;
    if (a->json) {
        json_t *o = json_object(), *arr = json_array();
        for (int i = 0; i < r.trials; i++) json_array_append_new(arr, ng_json_num(r.acc[i]));
        json_object_set_new(o, "trials", json_integer(r.trials));
        json_object_set_new(o, "accuracy_locked", ng_json_num(locked_acc));
        json_object_set_new(o, "accuracy_mean", ng_json_num(r.acc_mean));
        json_object_set_new(o, "accuracy_min", ng_json_num(r.acc_min));
        json_object_set_new(o, "accuracy_max", ng_json_num(r.acc_max));
        json_object_set_new(o, "accuracy", arr);
        print_json(o);
    } else {
        printf("key guessing on %s (%s key stream): %d random wrong keys\n", a->model,
               ng_weights_meta_get(w, "nnguard.keystream"), r.trials);
        printf("locked, no key:   %.2f%%\nwrong keys: mean %.2f%%  min %.2f%%  max %.2f%%\n", 100 * locked_acc,
               100 * r.acc_mean, 100 * r.acc_min, 100 * r.acc_max);
    }
    free(r.acc);
    ng_model_free(m);
    ng_weights_free(w);
    return NG_EXIT_OK;
fail:
    ng_model_free(m);
    ng_weights_free(w);
    return ng_cli_fail(cmd, st);
}

json_t *ng_attack_detector_table(const ng_adaptive_result *r, const char *indent, int print)
{
    json_t *arr = json_array();
    int64_t kk = r->topk < r->candidates ? r->topk : r->candidates;   /* a top k past the model is all of it */
    double rnd = r->candidates > 0 ? (double)r->perturbed * (double)kk / (double)r->candidates : 0;
    if (print)
        printf("%sdetectors: perturbed parameters in each one's top %lld of %lld candidates (%lld perturbed; "
               "a random ranking finds %.1f)\n", indent, (long long)r->topk, (long long)r->candidates,
               (long long)r->perturbed, rnd);
    for (int d = 0; d < NG_DETECTORS && r->topk > 0; d++) {
        if (print)
            printf("%s  %-52s %6lld  (%5.1f%%)\n", indent, ng_detector_name(d), (long long)r->det_found[d],
                   r->perturbed ? 100.0 * (double)r->det_found[d] / (double)r->perturbed : 0.0);
        json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:I,s:f}", "detector", ng_detector_name(d), "found",
                                             (json_int_t)r->det_found[d], "top_k", (json_int_t)r->topk, "perturbed",
                                             (json_int_t)r->perturbed, "random_expected", rnd));
    }
    if (print && r->best >= 0) {
        printf("%s  the best detector (%s)'s top %lld reset to the tensor mean: accuracy %.2f%%", indent,
               ng_detector_name(r->best), (long long)r->topk, 100 * r->acc_best_reset);
        if (r->acc_best_tuned >= 0) printf(", then fine-tuned %.2f%%", 100 * r->acc_best_tuned);
        printf("\n%s  its top %lld only (%lld perturbed among them): accuracy %.2f%%", indent, (long long)r->perturbed,
               (long long)r->best1_found, 100 * r->acc_best1_reset);
        if (r->acc_best1_tuned >= 0) printf(", then fine-tuned %.2f%%", 100 * r->acc_best1_tuned);
        putchar('\n');
    }
    if (r->best >= 0)
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:f,s:f,s:I,s:I,s:f,s:f}", "detector", "best: top k reset",
                                             "which", ng_detector_name(r->best), "top_k", (json_int_t)r->topk,
                                             "accuracy_reset", r->acc_best_reset, "accuracy_tuned", r->acc_best_tuned,
                                             "top_1x", (json_int_t)r->perturbed, "found_1x", (json_int_t)r->best1_found,
                                             "accuracy_reset_1x", r->acc_best1_reset, "accuracy_tuned_1x",
                                             r->acc_best1_tuned));
    if (r->dead_tensor[0]) {
        if (print) {
            printf("%s  dead-layer attacker: %s: zero gradient everywhere, re-initialised with its bias (%lld parameters)", indent, r->dead_tensor, (long long)r->dead_reinit);
            if (r->acc_dead_tuned >= 0) printf(", then fine-tuned %.2f%%", 100 * r->acc_dead_tuned);
            putchar('\n');
        }
        if (print && r->dead_then_topk > 0) {
            printf("%s  then the detectors on the revived model (the other %lld perturbed, top %lld):", indent,
                   (long long)r->dead_then_perturbed, (long long)r->dead_then_topk);
            for (int d = 0; d < NG_DETECTORS; d++) printf(" %lld", (long long)r->dead_then_det[d]);
            printf("\n%s    best (%s) top %lld reset, fine-tuned %.2f%%; its top %lld only, fine-tuned %.2f%%\n", indent,
                   r->dead_then_best >= 0 ? ng_detector_name(r->dead_then_best) : "-", (long long)r->dead_then_topk,
                   100 * r->acc_dead_then_best_tuned, (long long)r->dead_then_perturbed, 100 * r->acc_dead_then_best1_tuned);
        }
        json_t *dl = json_pack("{s:s,s:s,s:I,s:f,s:I,s:I,s:f,s:f}", "detector", "dead layer: re-initialised",
                               "tensor", r->dead_tensor, "reinit", (json_int_t)r->dead_reinit, "accuracy_tuned",
                               r->acc_dead_tuned, "then_perturbed", (json_int_t)r->dead_then_perturbed, "then_top_k",
                               (json_int_t)r->dead_then_topk, "then_best_tuned", r->acc_dead_then_best_tuned,
                               "then_best1_tuned", r->acc_dead_then_best1_tuned);
        json_t *fd = json_array();
        for (int d = 0; d < NG_DETECTORS; d++) json_array_append_new(fd, json_integer((json_int_t)r->dead_then_det[d]));
        json_object_set_new(dl, "then_found", fd);
        json_array_append_new(arr, dl);
    }
    return arr;
}

int ng_attack_run_adaptive(const ng_attack_args *a)
{
    const char *cmd = "attack adaptive";
    ng_model *m;
    ng_dataset tr, te;
    int rc = open_inputs(cmd, a, &m, &tr, &te);
    if (rc) return rc;
    ng_adv_key *k = NULL;
    ng_position *pos = NULL;
    size_t npos = 0;
    ng_status st = NG_OK;
    if (a->advparams_key) {
        if ((st = ng_adv_key_load(a->advparams_key, NULL, 0, &k)) != NG_OK) goto done;
        npos = ng_adv_key_count(k);
        pos = calloc(npos ? npos : 1, sizeof *pos);
        for (size_t i = 0; pos && i < npos; i++) {
            ng_adv_entry e;
            ng_adv_key_entry(k, i, &e);
            pos[i].tensor = e.tensor;
            pos[i].index = e.index;
        }
    }
    ng_adaptive_result r;
    st = ng_attack_adaptive(m, &tr, &te, &a->tune, 6.0, pos, npos, &r);
    if (st == NG_OK) {
        if (a->json) {
            json_t *o = json_object();
            json_object_set_new(o, "flagged", json_integer(r.flagged));
            if (k) {
                json_object_set_new(o, "perturbed", json_integer(r.perturbed));
                json_object_set_new(o, "found", json_integer(r.found));
                json_object_set_new(o, "detectors", ng_attack_detector_table(&r, "", 0));
            }
            json_object_set_new(o, "accuracy_before", ng_json_num(r.acc_before));
            json_object_set_new(o, "accuracy_reset", ng_json_num(r.acc_reset));
            if (r.acc_tuned >= 0) json_object_set_new(o, "accuracy_tuned", ng_json_num(r.acc_tuned));
            print_json(o);
        } else {
            printf("adaptive attack on %s: %lld parameters flagged and reset", a->model, (long long)r.flagged);
            if (k) printf(" (%lld of the %lld perturbed ones)", (long long)r.found, (long long)r.perturbed);
            printf("\naccuracy: as given %.2f%%, after reset %.2f%%", 100 * r.acc_before, 100 * r.acc_reset);
            if (r.acc_tuned >= 0) printf(", after fine-tuning %.2f%%", 100 * r.acc_tuned);
            putchar('\n');
            if (k) json_decref(ng_attack_detector_table(&r, "", 1));
        }
    }
done:
    free(pos);
    ng_adv_key_free(k);
    ng_model_free(m);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}
