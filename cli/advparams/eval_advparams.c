/* cli/eval_advparams.c - `nnguard eval-scheme advparams`: SCHEMES.md section 2 "Measure",
 * for each architecture: the encryption itself, fine-tuning, pruning and the adaptive attack. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "json_num.h"
#include "cli.h"
#include "eval_scheme.h"
#include "attacks/attack_cli.h"
#include "core/core.h"
#include "nnguard/advparams.h"

static float bits_to_float(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }

/* Every perturbed value inside its tensor's original [min, max]? */
static int all_in_range(const ng_model *orig, const ng_adv_key *k)
{
    for (size_t i = 0; i < ng_adv_key_count(k); i++) {
        ng_adv_entry e;
        ng_adv_key_entry(k, i, &e);
        int ok = 0;
        for (size_t t = 0; t < ng_model_ntensors(orig); t++) {
            ng_param p;
            ng_model_tensor(orig, t, &p);
            if (strcmp(p.name, e.tensor) != 0) continue;
            const float *w = (const float *)p.data;
            int64_t n = ng_shape_numel(&p.shape);
            float mn = w[0], mx = w[0], v = bits_to_float(e.pert_bits);
            for (int64_t j = 1; j < n; j++) { if (w[j] < mn) mn = w[j]; if (w[j] > mx) mx = w[j]; }
            ok = v >= mn && v <= mx;
        }
        if (!ok) return 0;
    }
    return 1;
}

/* One point of the curve: encrypt a copy of base with `budget` (whole budget spent: target 0),
 * then reset + fine-tune on the first --fractions share. */
static ng_status curve_point(ng_es_ctx *c, const ng_model *base, int harden, int budget, double *scratch,
                             json_t *arr)
{
    ng_model *enc = NULL;
    ng_adv_key *k = NULL;
    ng_finetune_result *fr = calloc(1, sizeof *fr);
    ng_status st = fr ? ng_model_clone(base, &enc) : NG_E_NOMEM;
    ng_adv_options o = harden ? ng_adv_options_default() : ng_adv_options_paper();
    o.budget = budget;
    o.hide = harden ? c->hide : 0;
    o.down = harden ? c->down : 0;
    o.reset_proof = harden ? c->reset_proof : 0;
    if (c->spread > 0) o.spread = c->spread;
    o.target_acc = 0;
    o.seed = c->seed;
    o.threads = c->threads;
    double acc = 0;
    if (st == NG_OK) st = ng_adv_encrypt(enc, NULL, &c->train, &o, &k);
    if (st == NG_OK) st = ng_evaluate(enc, &c->test, 0, 256, c->threads, &acc, NULL, NULL);
    ng_finetune_options fo = ng_finetune_options_default();
    fo.fraction = c->fractions[0];
    fo.epochs = c->attack_epochs;
    fo.seed = c->seed + 1000;   /* the same attacker data and order as the main fine-tuning row */
    fo.threads = c->threads;
    fo.scratch = *scratch < 0;
    if (st == NG_OK) st = ng_attack_finetune(enc, &c->train, &c->test, &fo, fr);
    if (st == NG_OK) {
        int L = fo.epochs - 1;
        if (fo.scratch) *scratch = fr->acc_scratch[L];
        printf("    %-8s %8zu  %7.4f%%  %6.2f%%  %6.2f%%  %6.2f%%  ", harden ? (c->hide ? "hidden" : "hardened") : "paper",
               ng_adv_key_count(k), 100.0 * (double)ng_adv_key_count(k) / (double)ng_model_nparams(base), 100 * acc, 100 * fr->acc_attacked[L], 100 * *scratch);
        int bar = (int)(50 * fr->acc_attacked[L] + 0.5), sc = (int)(50 * *scratch + 0.5);
        for (int i = 0; i <= 50 && (i < bar || i <= sc); i++) putchar(i == sc ? '|' : i < bar ? (harden ? '#' : '=') : ' ');
        putchar('\n');
        fflush(stdout);
        json_array_append_new(arr, json_pack("{s:s,s:I,s:i,s:f,s:f,s:f,s:I}", "form", harden ? "hardened" : "paper", "changed",
                                             (json_int_t)ng_adv_key_count(k), "hide", o.hide, "accuracy_encrypted", acc, "accuracy_tuned", fr->acc_attacked[L],
                                             "accuracy_scratch", *scratch, "reinitialised", (json_int_t)fr->n_sanitized));
    }
    free(fr);
    ng_adv_key_free(k);
    ng_model_free(enc);
    return st;
}

/* The curve: parameters changed against accuracy after fine-tuning, both forms. */
static ng_status curve(ng_es_ctx *c, const ng_model *base, json_t **out)
{
    *out = json_array();
    double scratch = -1;
    printf("  curve: parameters changed -> test accuracy encrypted, and after %d epochs of fine-tuning on %.0f%% of the "
           "data (out-of-distribution values re-initialised first); scratch = training anew on the same data\n"
           "    form       changed  fraction  encrypted  tuned  scratch  (# hardened, = paper, | scratch; 50 cols = 100%%)\n",
           c->attack_epochs, 100 * c->fractions[0]);
    ng_status st = NG_OK;
    for (int i = 0; i < c->n_curve && st == NG_OK; i++) {
        int b = (int)c->curve[i];
        if (b <= 400) st = curve_point(c, base, 0, b, &scratch, *out);
        if (st == NG_OK) st = curve_point(c, base, 1, b, &scratch, *out);
    }
    return st;
}

/* --every-detector: why the most damaging detector's top-1x reset wins, its flagged parameters split
 * by the key (ng_attack_reset_split); only when that reset lifted the model above 20%. */
static ng_status split_by_key(ng_es_ctx *c, const ng_model *m, const ng_finetune_options *ao, const ng_position *pos,
                              size_t n, const double at[NG_DETECTORS], json_t **out)
{
    *out = NULL;
    int best = 0;
    for (int d = 1; d < NG_DETECTORS; d++) if (at[d] > at[best]) best = d;
    double lb[4], ac[4];
    if (ao->epochs <= 0 || !(at[best] > 0.2)) return NG_OK;
    ng_status st = ng_attack_reset_split(m, &c->train, &c->test, ao, pos, n, best, lb, ac);
    if (st != NG_OK) return st;
    printf("    split by the key (%s): training loss before fine-tuning -> accuracy after: all flagged reset "
           "%.3f -> %.2f%%, only the untouched among them %.3f -> %.2f%%, only the perturbed %.3f -> %.2f%%, "
           "none %.3f -> %.2f%%\n", ng_detector_name(best), lb[0], 100 * ac[0], lb[1], 100 * ac[1], lb[2],
           100 * ac[2], lb[3], 100 * ac[3]);
    *out = json_pack("{s:s,s:[s,s,s,s],s:[f,f,f,f],s:[f,f,f,f]}", "detector", ng_detector_name(best), "reset", "all flagged",
                     "untouched among them", "perturbed among them", "none", "loss_before", lb[0], lb[1], lb[2], lb[3],
                     "accuracy_tuned", ac[0], ac[1], ac[2], ac[3]);
    return NG_OK;
}

/* --every-detector with the dead-layer attacker: its revived model, then every detector's top 1x
 * (of the key's positions outside the re-initialised tensor) reset and fine-tuned. */
static ng_status every_on_revived(ng_es_ctx *c, const ng_model *enc, const ng_finetune_options *ao,
                                  const ng_position *pos, size_t changed, json_t **out, json_t **split)
{
    *split = NULL;
    ng_model *rv = NULL;
    char name[128];
    int64_t reinit = 0, f1[NG_DETECTORS];
    double at[NG_DETECTORS];
    ng_position *rest = calloc(changed, sizeof *rest);
    ng_status st = rest ? ng_attack_dead_revive(enc, &c->train, ao, &rv, name, sizeof name, &reinit) : NG_E_NOMEM;
    size_t nr = st == NG_OK && rv ? ng_attack_dead_rest(name, pos, changed, rest) : 0;
    if (nr > 0 && (st = ng_attack_adaptive_each(rv, &c->train, &c->test, ao, rest, nr, f1, at)) == NG_OK) {
        *out = json_array();
        printf("  on the dead-layer attacker's revived model (%s re-initialised), every detector's top %zu of the other "
               "perturbed reset, then fine-tuned:\n", name, nr);
        for (int d = 0; d < NG_DETECTORS; d++) {
            printf("    %-52s %7lld perturbed among them  %6.2f%%\n", ng_detector_name(d), (long long)f1[d], 100 * at[d]);
            json_array_append_new(*out, json_pack("{s:s,s:I,s:f}", "detector", ng_detector_name(d), "found",
                                                  (json_int_t)f1[d], "accuracy_tuned", at[d]));
        }
        st = split_by_key(c, rv, ao, rest, nr, at, split);
    }
    ng_model_free(rv);
    free(rest);
    return st;
}

static ng_status one_arch(ng_es_ctx *c, const char *arch, json_t *out)
{
    ng_model *base = NULL, *enc = NULL;
    ng_weights *w = NULL;
    ng_adv_key *k = NULL;
    ng_position *pos = NULL;
    char *path = NULL;
    ng_status st = ng_es_base_model(c, arch, &base, &path);
    if (st != NG_OK) return st;
    double acc_before, acc_after;
    uint8_t id0[32], id1[32];
    if ((st = ng_evaluate(base, &c->test, 0, 256, c->threads, &acc_before, NULL, NULL)) != NG_OK) goto done;
    if (c->curve_only) {
        json_t *cv = NULL, *r = json_object();
        printf("AdvParams curve on %s (%s, %zu parameters, %.2f%%)\n", path, arch, ng_model_nparams(base), 100 * acc_before);
        if (c->n_curve > 0 && (st = curve(c, base, &cv)) != NG_OK) { json_decref(r); goto done; }
        json_object_set_new(r, "arch", json_string(arch));
        json_object_set_new(r, "model", json_string(path));
        json_object_set_new(r, "accuracy_before", ng_json_num(acc_before));
        json_object_set_new(r, "hide", json_integer(c->hide));
        if (cv) json_object_set_new(r, "curve", cv);
        json_array_append_new(out, r);
        goto done;
    }
    if ((st = ng_weights_open(path, &w)) != NG_OK) goto done;
    ng_weights_id(w, id0);
    if ((st = ng_model_clone(base, &enc)) != NG_OK) goto done;
    ng_adv_options o = c->paper ? ng_adv_options_paper() : ng_adv_options_default();
    o.dead = c->dead;
    o.dead_layers = c->dead_layers;
    o.hide = o.harden ? c->hide : 0;
    o.down = o.harden ? c->down : 0;
    o.reset_proof = o.harden ? c->reset_proof : 0;
    if (c->spread > 0) o.spread = c->spread;
    if (c->budget > 0) o.budget = c->budget;
    o.seed = c->seed;
    o.threads = c->threads;
    double t0 = ng_now();
    if ((st = ng_adv_encrypt(enc, w, &c->train, &o, &k)) != NG_OK) goto done;
    double secs = ng_now() - t0;
    if ((st = ng_evaluate(enc, &c->test, 0, 256, c->threads, &acc_after, NULL, NULL)) != NG_OK) goto done;
    size_t changed = ng_adv_key_count(k), total = ng_model_nparams(base);
    int in_range = all_in_range(base, k);
    printf("AdvParams (%s form%s) on %s (%s, %zu parameters)\n", o.dead ? "hardened + dead layer" : o.harden ? "hardened" : "paper's",
           o.hide ? ", camouflage rounds" : o.down ? ", moves down only" : o.reset_proof ? ", reset-proof" : "", path, arch, total);
    printf("  accuracy %.2f%% -> %.2f%% (drop %.2f points, %.1f%% relative); %zu parameters changed (%.6f%% of all), "
           "all inside their tensor's range: %s; %.2f s\n", 100 * acc_before, 100 * acc_after,
           100 * (acc_before - acc_after), 100 * (acc_before - acc_after) / acc_before, changed,
           100.0 * (double)changed / (double)total, in_range ? "yes" : "NO", secs);
    fflush(stdout);
    json_t *ft;
    if ((st = ng_es_finetune(c, enc, &ft)) != NG_OK) goto done;
    /* pruning, with and without a short fine-tune */
    ng_prune_point pts[NG_ES_MAX_LIST], ptt[NG_ES_MAX_LIST];
    ng_finetune_options po = ng_finetune_options_default();
    po.threads = c->threads;
    po.seed = c->seed + 5;
    po.epochs = 0;
    if ((st = ng_attack_prune(enc, c->rates, c->n_rates, &c->train, &c->test, &po, pts)) != NG_OK) goto done;
    po.epochs = c->prune_epochs;
    if (po.epochs > 0 && (st = ng_attack_prune(enc, c->rates, c->n_rates, &c->train, &c->test, &po, ptt)) != NG_OK)
        goto done;
    json_t *pr = json_array();
    printf("  pruning attack (then %d epoch(s) of fine-tuning on %.0f%% of the data):\n", po.epochs, 100 * po.fraction);
    for (int i = 0; i < c->n_rates; i++) {
        json_t *p = json_pack("{s:f,s:I,s:f}", "rate", pts[i].rate, "zeroed", (json_int_t)pts[i].zeroed,
                              "accuracy", pts[i].acc);
        printf("    %3.0f%%: %6.2f%%", 100 * pts[i].rate, 100 * pts[i].acc);
        if (po.epochs > 0) {
            json_object_set_new(p, "accuracy_tuned", ng_json_num(ptt[i].acc_tuned));
            printf("  fine-tuned %6.2f%%", 100 * ptt[i].acc_tuned);
        }
        putchar('\n');
        json_array_append_new(pr, p);
    }
    /* adaptive attack, scored against the key's real positions */
    pos = calloc(changed ? changed : 1, sizeof *pos);
    if (!pos) { st = NG_E_NOMEM; goto done; }
    for (size_t i = 0; i < changed; i++) {
        ng_adv_entry e;
        ng_adv_key_entry(k, i, &e);
        pos[i].tensor = e.tensor;
        pos[i].index = e.index;
    }
    ng_finetune_options ao = ng_finetune_options_default();
    ao.threads = c->threads;
    ao.seed = c->seed + 9;
    ao.epochs = c->attack_epochs;
    ao.fraction = c->fractions[0];
    ng_adaptive_result ar;
    if ((st = ng_attack_adaptive(enc, &c->train, &c->test, &ao, 6.0, pos, changed, &ar)) != NG_OK) goto done;
    printf("  adaptive attack: %lld parameters reset, %lld of the %lld perturbed found; accuracy %.2f%% after reset, "
           "%.2f%% after %d epochs of fine-tuning on %.0f%% of the data\n", (long long)ar.flagged, (long long)ar.found,
           (long long)ar.perturbed, 100 * ar.acc_reset, 100 * ar.acc_tuned, ao.epochs, 100 * ao.fraction);
    json_t *dt = ng_attack_detector_table(&ar, "  ", 1), *each = NULL, *split = NULL, *split_dead = NULL;
    if (c->every_det && changed > 0) {   /* the top 1x reset with every detector, not only the best */
        int64_t f1[NG_DETECTORS];
        double at[NG_DETECTORS];
        if ((st = ng_attack_adaptive_each(enc, &c->train, &c->test, &ao, pos, changed, f1, at)) != NG_OK) {
            json_decref(dt);
            goto done;
        }
        each = json_array();
        printf("  every detector's top %zu reset to the tensor mean, then fine-tuned (%d epochs, %.0f%% of the data):\n",
               changed, ao.epochs, 100 * ao.fraction);
        for (int d = 0; d < NG_DETECTORS; d++) {
            printf("    %-52s %7lld perturbed among them  %6.2f%%\n", ng_detector_name(d), (long long)f1[d], 100 * at[d]);
            json_array_append_new(each, json_pack("{s:s,s:I,s:f}", "detector", ng_detector_name(d), "found",
                                                  (json_int_t)f1[d], "accuracy_tuned", at[d]));
        }
        if ((st = split_by_key(c, enc, &ao, pos, changed, at, &split)) != NG_OK) {
            json_decref(dt);
            json_decref(each);
            goto done;
        }
    }
    json_t *each_dead = NULL;
    if (c->every_det && changed > 0 && ar.dead_tensor[0] &&
        (st = every_on_revived(c, enc, &ao, pos, changed, &each_dead, &split_dead)) != NG_OK) {
        json_decref(dt);
        json_decref(each);
        json_decref(split);
        json_decref(each_dead);
        goto done;
    }
    /* decrypt: bit-exact? */
    if ((st = ng_adv_decrypt(w, k)) != NG_OK) goto done;
    ng_weights_id(w, id1);
    int exact = sodium_memcmp(id0, id1, 32) == 0;
    printf("  decrypted with the key: parameters %s the original bit for bit\n", exact ? "equal" : "DIFFER FROM");
    fflush(stdout);
    json_t *cv = NULL;
    if (c->n_curve > 0 && (st = curve(c, base, &cv)) != NG_OK) goto done;
    json_t *r = json_object();
    json_object_set_new(r, "arch", json_string(arch));
    if (cv) json_object_set_new(r, "curve", cv);
    json_object_set_new(r, "form", json_string(o.dead ? "dead" : o.harden ? "hardened" : "paper"));
    json_object_set_new(r, "hide", json_integer(o.hide));
    json_object_set_new(r, "down", json_boolean(o.down));
    json_object_set_new(r, "reset_proof", json_boolean(o.reset_proof));
    json_object_set_new(r, "spread", json_integer(o.spread));
    json_object_set_new(r, "detectors", dt);
    if (each) json_object_set_new(r, "every_detector_top1x", each);
    if (each_dead) json_object_set_new(r, "every_detector_top1x_revived", each_dead);
    if (split) json_object_set_new(r, "every_detector_split", split);
    if (split_dead) json_object_set_new(r, "every_detector_split_revived", split_dead);
    json_object_set_new(r, "dead_at", json_integer(o.dead));
    json_object_set_new(r, "dead_layers", json_integer(o.dead ? (o.dead_layers > 1 ? o.dead_layers : 1) : 0));
    json_object_set_new(r, "model", json_string(path));
    json_object_set_new(r, "parameters", json_integer((json_int_t)total));
    json_object_set_new(r, "accuracy_before", ng_json_num(acc_before));
    json_object_set_new(r, "accuracy_after", ng_json_num(acc_after));
    json_object_set_new(r, "drop_points", ng_json_num(acc_before - acc_after));
    json_object_set_new(r, "drop_relative", ng_json_num((acc_before - acc_after) / acc_before));
    json_object_set_new(r, "changed", json_integer((json_int_t)changed));
    json_object_set_new(r, "changed_fraction", ng_json_num((double)changed / (double)total));
    json_object_set_new(r, "changed_in_range", json_boolean(in_range));
    json_object_set_new(r, "encrypt_seconds", ng_json_num(secs));
    json_object_set_new(r, "decrypt_bit_exact", json_boolean(exact));
    json_object_set_new(r, "finetune", ft);
    json_object_set_new(r, "prune", pr);
    json_object_set_new(r, "adaptive", json_pack("{s:I,s:I,s:I,s:f,s:f,s:f,s:i,s:f}", "flagged", (json_int_t)ar.flagged,
                        "found", (json_int_t)ar.found, "perturbed", (json_int_t)ar.perturbed, "accuracy_before",
                        ar.acc_before, "accuracy_reset", ar.acc_reset, "accuracy_tuned", ar.acc_tuned, "epochs",
                        ao.epochs, "fraction", ao.fraction));
    json_array_append_new(out, r);
    if (!exact) st = ng_fail(NG_E_INTERNAL, "decrypted model differs from the original");
done:
    free(pos);
    ng_adv_key_free(k);
    ng_weights_free(w);
    ng_model_free(base);
    ng_model_free(enc);
    free(path);
    return st;
}

ng_status ng_es_advparams(ng_es_ctx *c, json_t *report)
{
    json_t *arr = json_array();
    json_object_set_new(report, "models", arr);
    for (int i = 0; i < c->n_archs; i++) {
        ng_status st = one_arch(c, c->model ? "model" : c->archs[i], arr);
        if (st != NG_OK) return st;
    }
    return NG_OK;
}
