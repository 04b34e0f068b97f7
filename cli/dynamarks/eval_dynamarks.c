/* cli/dynamarks/eval_dynamarks.c - `nnguard eval-scheme dynamarks`: SCHEMES.md section 4 "Measure".
 *
 * The owner's model is served in process on loopback by the real HTTP server (soft watermark,
 * no watermark, label watermark with clients and the SQLite log); the attacker extracts
 * surrogates of another architecture through HTTP with the real client at each budget; the
 * owner verifies them on the test split (never queried by the attacker); false positives are
 * counted over independently trained models; removal attacks run on the watermarked surrogate.
 * The watermark key is derived from --seed (BLAKE2b) so that a run can be reproduced: a real
 * API takes its key from `nnguard keygen`. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "json_num.h"
#include "cli.h"
#include "eval_scheme.h"
#include "wm_cli.h"
#include "core/core.h"
#include "nnguard/serve.h"

typedef struct dm_env {
    ng_es_ctx *c;
    ng_model *owner;
    ng_wm *soft, *label;
    double threshold;
} dm_env;

static int epochs_for(int64_t budget)
{
    /* the attacker trains to convergence: about 200k samples seen, 20 to 60 epochs
     * (1k: 60, 5k: 40, 20k: 20); the soft mark is learnt late, after the labels */
    int64_t e = 200000 / budget;
    return (int)(e < 20 ? 20 : e > 60 ? 60 : e);
}

static ng_status verify(dm_env *v, ng_model *m, ng_wm_result *r)
{
    return ng_wm_cli_verify_soft(m, v->owner, v->soft, &v->c->test, v->c->threads, v->threshold, r);
}

static json_t *result_json(const ng_wm_result *r, const char *what, double acc)
{
    json_t *o = ng_wm_cli_json(r);
    json_object_set_new(o, "model", json_string(what));
    if (acc >= 0) json_object_set_new(o, "accuracy", ng_json_num(acc));
    return o;
}

static void row(const char *what, double acc, const ng_wm_result *r)
{
    printf("    %-44s acc %6.2f%%  T %6.3f  p %-10.3g %s\n", what, 100 * acc, r->statistic, r->p_value,
           r->stolen ? "STOLEN" : "not detected");
}

/* Extract a surrogate through url at budget; *out keeps the model. */
static ng_status extract(dm_env *v, const char *url, const char *token, int64_t budget, int labels, uint64_t seed,
                         ng_model **out, ng_extract_result *er)
{
    ng_es_ctx *c = v->c;
    ng_api_client *api;
    ng_status st = ng_api_client_new(url, token, &api);
    if (st != NG_OK) return st;
    ng_model *s = NULL;
    if ((st = ng_model_from_arch(c->surrogate_arch, c->train.c, c->train.h, c->train.w, c->train.classes, seed, &s)) == NG_OK) {
        ng_extract_options o = ng_extract_options_default();
        o.budget = budget;
        o.fidelity = 1000;
        o.use_labels = labels;
        o.seed = seed;
        o.train.seed = seed;
        o.train.epochs = epochs_for(budget);
        o.train.threads = c->threads;
        st = ng_attack_extract(api, &c->train, s, &c->test, &o, er);
        if (st != NG_OK) { ng_model_free(s); s = NULL; }
    }
    ng_api_client_free(api);
    *out = s;
    return st;
}

static ng_status train_independent(ng_es_ctx *c, const char *arch, uint64_t seed, double frac, int epochs, ng_model **out)
{
    ng_dataset sub = {0};
    ng_model *m = NULL;
    ng_train_result *r = ng_calloc(1, sizeof *r);
    ng_status st = r ? ng_dataset_subset(&c->train, frac, 0, seed, &sub) : NG_E_NOMEM;
    if (st == NG_OK) st = ng_model_from_arch(arch, c->train.c, c->train.h, c->train.w, c->train.classes, seed, &m);
    if (st == NG_OK) {
        ng_train_options o = ng_train_options_default();
        o.epochs = epochs;
        o.seed = seed;
        o.threads = c->threads;
        o.quiet = 1;
        o.eval_each_epoch = 0;
        st = ng_train(m, &sub, NULL, &o, r);
    }
    free(r);
    ng_dataset_free(&sub);
    if (st != NG_OK) { ng_model_free(m); m = NULL; }
    *out = m;
    return st;
}

static ng_status removal(dm_env *v, ng_model *sur, int64_t budget, json_t *arr)
{
    ng_es_ctx *c = v->c;
    ng_wm_result r;
    double acc;
    ng_status st;
    printf("  removal attacks on the %lld-query surrogate:\n", (long long)budget);
    /* fine-tuning on 10% clean labelled data */
    ng_finetune_options fo = ng_finetune_options_default();
    fo.fraction = 0.1;
    fo.epochs = c->attack_epochs;
    fo.seed = c->seed + 31;
    fo.threads = c->threads;
    fo.scratch = 0;
    fo.sanitize_abs = 0;
    ng_finetune_result *fr = ng_calloc(1, sizeof *fr);
    ng_model *t = NULL;
    if (!fr) return NG_E_NOMEM;
    st = ng_attack_finetune_keep(sur, &c->train, &c->test, &fo, fr, &t);
    acc = fr->acc_attacked[fo.epochs - 1];
    free(fr);
    if (st == NG_OK && (st = verify(v, t, &r)) == NG_OK) {
        char what[96];
        snprintf(what, sizeof what, "fine-tuned on 10%% clean data, %d epochs", fo.epochs);
        row(what, acc, &r);
        json_t *o = result_json(&r, "finetune_10pct", acc);
        json_object_set_new(o, "epochs", json_integer(fo.epochs));
        json_array_append_new(arr, o);
    }
    ng_model_free(t);
    if (st != NG_OK) return st;
    /* magnitude pruning */
    static const double rates[2] = {0.3, 0.5};
    for (int i = 0; i < 2 && st == NG_OK; i++) {
        ng_model *p;
        if ((st = ng_model_clone(sur, &p)) != NG_OK) return st;
        ng_prune_magnitude(p, rates[i]);
        st = ng_evaluate(p, &c->test, 0, 256, c->threads, &acc, NULL, NULL);
        if (st == NG_OK && (st = verify(v, p, &r)) == NG_OK) {
            char what[64];
            snprintf(what, sizeof what, "pruned %.0f%% (magnitude)", 100 * rates[i]);
            row(what, acc, &r);
            json_t *o = result_json(&r, "prune", acc);
            json_object_set_new(o, "rate", ng_json_num(rates[i]));
            json_array_append_new(arr, o);
        }
        ng_model_free(p);
    }
    if (st != NG_OK) return st;
    /* re-distillation into another architecture on 20k pool images, without the API */
    const char *arch = strcmp(c->surrogate_arch, "lenet5") ? "lenet5" : "mlp";
    int64_t n = c->train.n < 20000 ? c->train.n : 20000;
    ng_model *d;
    if ((st = ng_model_from_arch(arch, c->train.c, c->train.h, c->train.w, c->train.classes, c->seed + 41, &d)) != NG_OK) return st;
    ng_train_options to = ng_train_options_default();
    to.epochs = 5;
    to.seed = c->seed + 41;
    to.threads = c->threads;
    to.quiet = 1;
    /* the attacker's own pool: the end of the training split (its queries came from a random draw) */
    st = ng_attack_distill(sur, c->train.x + (c->train.n - n) * c->train.c * c->train.h * c->train.w, n, d, &to);
    if (st == NG_OK) st = ng_evaluate(d, &c->test, 0, 256, c->threads, &acc, NULL, NULL);
    if (st == NG_OK && (st = verify(v, d, &r)) == NG_OK) {
        char what[96];
        snprintf(what, sizeof what, "re-distilled into %s (20k pool images, 5 ep.)", arch);
        row(what, acc, &r);
        json_t *o = result_json(&r, "redistill", acc);
        json_object_set_new(o, "arch", json_string(arch));
        json_object_set_new(o, "pool_images", json_integer(n));
        json_array_append_new(arr, o);
    }
    ng_model_free(d);
    return st;
}

/* API accuracy with and without the watermark, labels changed. */
static ng_status api_accuracy(dm_env *v, json_t *report)
{
    ng_es_ctx *c = v->c;
    int C = c->test.classes;
    int64_t n = c->test.n, dim = (int64_t)c->test.c * c->test.h * c->test.w;
    float *p = ng_calloc((size_t)n, (size_t)C * sizeof *p);
    if (!p) return NG_E_NOMEM;
    ng_status st = ng_model_predict_proba(v->owner, c->test.x, n, c->threads, p);
    int64_t ok0 = 0, ok_soft = 0, ok_lab = 0, changed_soft = 0, changed_lab = 0;
    for (int64_t i = 0; st == NG_OK && i < n; i++) {
        float a[NG_WM_MAX_CLASSES], b[NG_WM_MAX_CLASSES];
        memcpy(a, p + i * C, (size_t)C * sizeof *a);
        memcpy(b, p + i * C, (size_t)C * sizeof *b);
        ng_wm_answer sa, la;
        st = ng_wm_apply(v->soft, c->test.x + i * dim, (size_t)dim, a, &sa);
        if (st == NG_OK) st = ng_wm_apply(v->label, c->test.x + i * dim, (size_t)dim, b, &la);
        if (st != NG_OK) break;
        ok0 += sa.label_true == c->test.y[i];
        ok_soft += sa.label == c->test.y[i];
        ok_lab += la.label == c->test.y[i];
        changed_soft += sa.label != sa.label_true;
        changed_lab += la.label != la.label_true;
    }
    free(p);
    if (st != NG_OK) return st;
    double N = (double)n;
    printf("  API top-1 accuracy on %lld test images: plain %.2f%%, soft watermark %.2f%% (%lld labels changed), "
           "label watermark r=%.3g %.2f%% (%lld labels changed, %.3f%%)\n", (long long)n, 100 * ok0 / N, 100 * ok_soft / N,
           (long long)changed_soft, c->wm_rate, 100 * ok_lab / N, (long long)changed_lab, 100 * changed_lab / N);
    json_object_set_new(report, "api", json_pack("{s:f,s:f,s:I,s:f,s:f,s:I}", "accuracy_plain", ok0 / N,
                        "accuracy_soft", ok_soft / N, "labels_changed_soft", (json_int_t)changed_soft,
                        "label_rate", c->wm_rate, "accuracy_label", ok_lab / N, "labels_changed_label", (json_int_t)changed_lab));
    return NG_OK;
}

ng_status ng_es_dynamarks(ng_es_ctx *c, json_t *report)
{
    dm_env v = { .c = c, .threshold = NG_WM_DEFAULT_THRESHOLD };
    ng_server *s_soft = NULL, *s_plain = NULL, *s_label = NULL;
    ng_clients *cl = NULL;
    ng_wmlog *log = NULL;
    char *path = NULL, dbpath[1024], url_soft[64], url_plain[64], url_label[64];
    ng_status st = ng_es_base_model(c, "lenet5", &v.owner, &path);
    if (st != NG_OK) return st;
    /* the experiment's watermark key, from the seed (see the top of this file) */
    ng_key key = { .len = 32 };
    uint8_t seedb[8];
    ng_put_le64(seedb, c->seed);
    crypto_generichash(key.k, 32, seedb, 8, (const uint8_t *)"nnguard-eval-dynamarks", 22);
    ng_wm_options so = ng_wm_options_default(), lo = ng_wm_options_default();
    lo.mode = NG_WM_LABEL;
    lo.rate = c->wm_rate;
    if ((st = ng_wm_new(&key, c->test.classes, &so, &v.soft)) != NG_OK ||
        (st = ng_wm_new(&key, c->test.classes, &lo, &v.label)) != NG_OK) goto done;
    ng_key_wipe(&key);
    printf("DynaMarks on %s (owner: lenet5; surrogates: %s; verification set: %lld test images; threshold %g)\n",
           path, c->surrogate_arch, (long long)c->test.n, v.threshold);
    json_object_set_new(report, "owner_model", json_string(path));
    json_object_set_new(report, "surrogate_arch", json_string(c->surrogate_arch));
    json_object_set_new(report, "threshold", ng_json_num(v.threshold));
    json_object_set_new(report, "strength", json_pack("[f,f]", so.a_min, so.a_max));
    if ((st = api_accuracy(&v, report)) != NG_OK) goto done;
    /* the three APIs, served for real on loopback */
    snprintf(dbpath, sizeof dbpath, "%s/dynamarks-log.db", c->workdir);
    unlink(dbpath);
    const char *clients_txt = "evalattackertoken000001 attacker 0 0\n";
    if ((st = ng_clients_parse(clients_txt, strlen(clients_txt), "eval", &cl)) != NG_OK) goto done;
    if ((st = ng_wmlog_sqlite_open(dbpath, 0, &log)) != NG_OK) goto done;
    ng_serve_options o = ng_serve_options_default();
    o.port = 0;
    o.threads = c->threads;
    o.wm = v.soft;
    if ((st = ng_server_start(v.owner, &o, &s_soft)) != NG_OK) goto done;
    o.wm = NULL;
    if ((st = ng_server_start(v.owner, &o, &s_plain)) != NG_OK) goto done;
    o.wm = v.label;
    o.clients = cl;
    o.log = log;
    if ((st = ng_server_start(v.owner, &o, &s_label)) != NG_OK) goto done;
    snprintf(url_soft, sizeof url_soft, "http://127.0.0.1:%d", ng_server_port(s_soft));
    snprintf(url_plain, sizeof url_plain, "http://127.0.0.1:%d", ng_server_port(s_plain));
    snprintf(url_label, sizeof url_label, "http://127.0.0.1:%d", ng_server_port(s_label));

    json_t *ext = json_array(), *fp = json_array(), *rem = json_array();
    json_object_set_new(report, "extraction", ext);
    json_object_set_new(report, "independent", fp);
    json_object_set_new(report, "removal", rem);
    ng_model *keep = NULL;
    int64_t keep_budget = 0;
    printf("  extraction through HTTP (%s surrogates; fidelity on 1000 further pool images):\n", c->surrogate_arch);
    for (int b = 0; b < c->n_budgets && st == NG_OK; b++) {
        int64_t budget = (int64_t)c->budgets[b];
        for (int api = 0; api < 2 && st == NG_OK; api++) {
            ng_model *sur;
            ng_extract_result er;
            ng_wm_result r;
            st = extract(&v, api ? url_plain : url_soft, NULL, budget, 0, c->seed + 100 + (uint64_t)b, &sur, &er);
            if (st == NG_OK) st = verify(&v, sur, &r);
            if (st != NG_OK) { ng_model_free(sur); break; }
            char what[96];
            snprintf(what, sizeof what, "%s API, %lld queries (fidelity %.1f%%)", api ? "plain" : "soft-watermarked",
                     (long long)budget, 100 * er.fidelity);
            row(what, er.accuracy, &r);
            json_t *j = result_json(&r, api ? "surrogate_plain_api" : "surrogate_watermarked_api", er.accuracy);
            json_object_set_new(j, "budget", json_integer(budget));
            json_object_set_new(j, "fidelity", ng_json_num(er.fidelity));
            json_object_set_new(j, "epochs", json_integer(epochs_for(budget)));
            json_object_set_new(j, "query_seconds", ng_json_num(er.query_seconds));
            json_array_append_new(ext, j);
            if (!api && (budget == 5000 || !keep)) { ng_model_free(keep); keep = sur; keep_budget = budget; }
            else ng_model_free(sur);
        }
        fflush(stdout);
    }
    /* label mode: extraction on labels by the client "attacker"; verification from the log */
    if (st == NG_OK) {
        int64_t budget = 5000;
        ng_model *sur;
        ng_extract_result er;
        ng_wm_result r;
        st = extract(&v, url_label, "evalattackertoken000001", budget, 1, c->seed + 200, &sur, &er);
        if (st == NG_OK) { log->ops->flush(log); st = ng_wm_cli_verify_label(sur, dbpath, "attacker", v.threshold, &r); }
        if (st == NG_OK) {
            printf("  label mode (r = %g): surrogate trained on %lld labels: %lld recorded watermarked queries\n",
                   c->wm_rate, (long long)budget, (long long)r.n);
            row("label-API surrogate, 5000 queries", er.accuracy, &r);
            json_t *j = result_json(&r, "surrogate_label_api", er.accuracy);
            json_object_set_new(j, "budget", json_integer(budget));
            json_object_set_new(j, "fidelity", ng_json_num(er.fidelity));
            json_object_set_new(report, "label_mode", j);
        }
        ng_model_free(sur);
    }
    /* false positives: independently trained models of several architectures and seeds */
    if (st == NG_OK) printf("  independent models (random 20%% of the training data each):\n");
    int fps = 0, fps_label = 0;
    static const char *archs[] = {"mlp", "lenet5"};
    for (int i = 0; i < c->independent && st == NG_OK; i++) {
        const char *arch = i == c->independent - 1 && c->independent >= 10 ? "vgg-small" : archs[i % 2];
        int epochs = strcmp(arch, "vgg-small") ? 2 : 1;
        ng_model *m;
        ng_wm_result r, rl;
        double acc;
        if ((st = train_independent(c, arch, c->seed + 500 + (uint64_t)i, 0.2, epochs, &m)) != NG_OK) break;
        st = ng_evaluate(m, &c->test, 0, 256, c->threads, &acc, NULL, NULL);
        if (st == NG_OK) st = verify(&v, m, &r);
        if (st == NG_OK) st = ng_wm_cli_verify_label(m, dbpath, "attacker", v.threshold, &rl);
        if (st == NG_OK) {
            char what[64];
            snprintf(what, sizeof what, "%s, seed %llu, %d epoch(s)", arch, (unsigned long long)(c->seed + 500 + (uint64_t)i), epochs);
            row(what, acc, &r);
            json_t *j = result_json(&r, arch, acc);
            json_object_set_new(j, "seed", json_integer((json_int_t)(c->seed + 500 + (uint64_t)i)));
            json_object_set_new(j, "label_mode_p_value", ng_json_num(rl.p_value));
            json_array_append_new(fp, j);
            fps += r.stolen;
            fps_label += rl.stolen;
        }
        ng_model_free(m);
    }
    if (st == NG_OK) {
        printf("    false positives: %d of %d (soft), %d of %d (label mode, same models)\n", fps, c->independent,
               fps_label, c->independent);
        json_object_set_new(report, "false_positives", json_pack("{s:i,s:i,s:i}", "soft", fps, "label", fps_label,
                                                                 "models", c->independent));
    }
    if (st == NG_OK && keep) st = removal(&v, keep, keep_budget, rem);
    ng_model_free(keep);
done:
    ng_key_wipe(&key);
    ng_server_stop(s_soft, 2);
    ng_server_stop(s_plain, 2);
    ng_server_stop(s_label, 2);
    ng_wmlog_close(log);
    ng_clients_free(cl);
    ng_wm_free(v.soft);
    ng_wm_free(v.label);
    ng_model_free(v.owner);
    free(path);
    return st;
}
