/* cli/cmd_evaluate.c - `nnguard evaluate`: every scheme's eval-scheme evaluation (eval_scheme_run.c)
 * on the same trained model, data split and seeds, as one results.json and one report.html
 * (cli/report/). --quick: a subset of the data and fewer epochs, minutes instead of hours. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "json_num.h"
#include "cli.h"
#include "core/core.h"
#include "eval_scheme.h"
#include "report/results.h"

static const char help[] =
    "usage: nnguard evaluate --out DIR [--schemes all|deeplock,advparams,securenet,dynamarks]\n"
    "                        [--arch lenet5,vgg-small] [--quick] [options]\n"
    "       nnguard evaluate --render RESULTS.json --out DIR\n\n"
    "Run every scheme's evaluation (the code of `nnguard eval-scheme`) on one trained LeNet-5, one\n"
    "data split and recorded seeds; write DIR/results.json (one row per figure: scheme, model,\n"
    "setting, metric, value, seed; with the command, nnguard version and machine) and DIR/report.html\n"
    "(one self-contained page: tables, charts, the papers' figures beside ours). Models go to DIR/work.\n"
    "Progress (step, time left) on stderr; each scheme's table on stdout.\n\n"
    "  --schemes LIST      schemes to run (default all)\n"
    "  --arch LIST         advparams and securenet architectures (default lenet5)\n"
    "  --quick             20,000 training images (stratified), 2,000 test images, 3 epochs (SecureNet 5),\n"
    "                      attacks 2 epochs, 10 wrong keys, query budgets 1000,5000, 3 independent models:\n"
    "                      minutes on 2 cores instead of hours (stderr shows the time left)\n"
    "  --model FILE.onnx   the LeNet-5 to protect (deeplock, advparams, dynamarks) instead of training one\n"
    "  --data DIR          dataset folder (default " NG_DEFAULT_DATA_DIR ")\n"
    "  --limit N           test images used (default: all; 2000 with --quick)\n"
    "  --render FILE       only write DIR/report.html from an existing results.json\n"
    NG_CLI_FORCE_HELP
    "  --seed S --threads T\n";

#define NG_EVALUATE_QUICK_TRAIN 20000   /* --quick: training images (stratified subset) */

typedef struct run {
    const char *out, *model, *render, *data;
    const char *schemes[8]; int n_schemes;
    const char *archs[NG_ES_MAX_LIST]; int n_archs;
    int quick, force, threads;
    int64_t limit;
    uint64_t seed;
    ng_dataset train, test;
    char work[1024], json_path[1024], html_path[1024];
    double t0, weight_done, weight_all;
} run;

/* Relative cost of each scheme, for the time left (a --quick run at load 11: shared model 20 s,
 * deeplock 25 s, advparams 28 s, securenet 221 s (it trains 7 models), dynamarks 77 s). */
static double weight(const char *s)
{
    return !strcmp(s, "securenet") ? 8 : !strcmp(s, "dynamarks") ? 3 : 1;
}

static void progress(run *r, int step, int steps, const char *what)
{
    double el = ng_now() - r->t0, left = r->weight_done > 0 ? el / r->weight_done * (r->weight_all - r->weight_done) : -1;
    int bar = (int)(20 * r->weight_done / r->weight_all);
    fprintf(stderr, "evaluate [%.*s%*s] step %d/%d: %s; %dm%02ds elapsed", bar, "####################", 20 - bar, "",
            step, steps, what, (int)el / 60, (int)el % 60);
    if (left >= 0) fprintf(stderr, ", about %dm%02ds left", (int)left / 60, (int)left % 60);
    fputc('\n', stderr);
}

/* The context of one scheme: its eval-scheme defaults, then the shared data/model/seed, then --quick. */
static void context(run *r, const char *scheme, ng_es_ctx *c)
{
    ng_es_defaults(c, scheme);
    c->data = r->data;
    c->workdir = r->work;
    c->seed = r->seed;
    c->threads = r->threads;
    c->limit = r->limit;
    c->train = r->train;
    c->test = r->test;
    c->model = r->model;
    c->n_archs = r->n_archs;
    memcpy(c->archs, r->archs, sizeof c->archs);
    if (r->quick) {   /* measured: 374 s on 2 cores at load 11 (docs/report/README.md) */
        c->train_epochs = strcmp(scheme, "securenet") ? 3 : 5;   /* license training needs the epochs */
        c->attack_epochs = strcmp(scheme, "dynamarks") ? 2 : 1;
        c->trials = 10;
        c->budgets[0] = 1000; c->budgets[1] = 5000; c->n_budgets = 2;
        c->independent = 3;
        c->train_count = 0;   /* the quick subset */
    }
}

/* Advparams once per architecture (LeNet-5: the shared model), the models in one report. */
static ng_status advparams(run *r, json_t *report)
{
    json_t *models = json_array();
    ng_status st = NG_OK;
    for (int i = 0; i < r->n_archs && st == NG_OK; i++) {
        ng_es_ctx c;
        context(r, "advparams", &c);
        c.archs[0] = r->archs[i];
        c.n_archs = 1;
        if (strcmp(r->archs[i], "lenet5")) c.model = NULL;
        json_t *one = json_object();
        if ((st = ng_es_run(&c, "advparams", one)) == NG_OK) {
            json_array_extend(models, json_object_get(one, "models"));
            json_object_del(one, "models");
            json_object_update(report, one);
        }
        json_decref(one);
    }
    json_object_set_new(report, "models", models);
    return st;
}

static ng_status evaluate(run *r, json_t *res)
{
    json_t *rows = json_array(), *raw = json_object();
    json_object_set_new(res, "results", rows);
    json_object_set_new(res, "schemes", raw);
    for (int i = 0; i < r->n_schemes; i++) r->weight_all += weight(r->schemes[i]);
    r->weight_all += 0.8;   /* the shared model */
    ng_status st = NG_OK;
    char *base = NULL;
    if (!r->model) {   /* one LeNet-5 for deeplock, advparams and dynamarks */
        progress(r, 0, r->n_schemes, "training the shared LeNet-5");
        ng_es_ctx c;
        context(r, "deeplock", &c);
        ng_model *m = NULL;
        if ((st = ng_es_base_model(&c, "lenet5", &m, &base)) != NG_OK) return st;
        ng_model_free(m);
        r->model = base;
        r->weight_done += 0.8;
    }
    for (int i = 0; i < r->n_schemes && st == NG_OK; i++) {
        const char *s = r->schemes[i];
        progress(r, i + 1, r->n_schemes, s);
        json_t *rep = json_object();
        double t = ng_now();
        if (!strcmp(s, "advparams")) {
            st = advparams(r, rep);
        } else {
            ng_es_ctx c;
            context(r, s, &c);
            st = ng_es_run(&c, s, rep);
        }
        fflush(stdout);
        if (st == NG_OK) {
            ng_results_flatten(rows, s, rep, (long long)r->seed);
            json_object_set_new(raw, s, json_pack("{s:f,s:O}", "wall_seconds", ng_now() - t, "report", rep));
        }
        json_decref(rep);
        r->weight_done += weight(s);
    }
    if (st == NG_OK) progress(r, r->n_schemes, r->n_schemes, "writing the report");
    if (base) r->model = NULL;
    free(base);
    return st;
}

static ng_status write_json(const json_t *j, const char *path)
{
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    ng_status st = s ? ng_write_file_atomic(path, s, strlen(s), NG_MODE_PUBLIC) : NG_E_NOMEM;
    free(s);
    return st;
}

static int parse_schemes(run *r, const char *s)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    r->n_schemes = 0;
    if (!strcmp(s, "all")) {
        for (int i = 0; ng_es_schemes[i]; i++) r->schemes[r->n_schemes++] = ng_es_schemes[i];
        return 0;
    }
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        int k = ng_es_scheme_index(t);
        if (k < 0) return ng_cli_usage("evaluate", "--schemes: unknown scheme '%s' (deeplock, advparams, securenet, dynamarks, all)", t), -1;
        for (int j = 0; j < r->n_schemes; j++)
            if (!strcmp(r->schemes[j], ng_es_schemes[k])) return ng_cli_usage("evaluate", "--schemes: '%s' twice", t), -1;
        r->schemes[r->n_schemes++] = ng_es_schemes[k];
    }
    return r->n_schemes ? 0 : (ng_cli_usage("evaluate", "--schemes is empty"), -1);
}

static int parse_archs(run *r, const char *s)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    r->n_archs = 0;
    for (char *t = strtok(buf, ","); t && r->n_archs < NG_ES_MAX_LIST; t = strtok(NULL, ",")) {
        if (strcmp(t, "lenet5") && strcmp(t, "vgg-small"))
            return ng_cli_usage("evaluate", "--arch: '%s' is not lenet5 or vgg-small", t), -1;
        r->archs[r->n_archs++] = t;
    }
    return r->n_archs ? 0 : (ng_cli_usage("evaluate", "--arch is empty"), -1);
}

static json_t *header(const run *r, int argc, char **argv)
{
    char cmd[2048] = "nnguard";
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(cmd);
        snprintf(cmd + n, sizeof cmd - n, " %s", argv[i]);
    }
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_t *h = json_object();
    json_object_set_new(h, "schema", json_string("nnguard-results/1"));
    json_object_set_new(h, "nnguard_version", json_string(NNGUARD_VERSION));
    json_object_set_new(h, "command", json_string(cmd));
    json_object_set_new(h, "quick", json_boolean(r->quick));
    json_object_set_new(h, "started", json_string(when));
    json_object_set_new(h, "machine", ng_results_machine());
    json_object_set_new(h, "data", json_string(r->data));
    json_object_set_new(h, "seed", json_integer((json_int_t)r->seed));
    ng_es_ctx c;
    context((run *)r, "deeplock", &c);
    ng_es_ctx sn;
    context((run *)r, "securenet", &sn);
    json_object_set_new(h, "settings", json_pack("{s:I,s:I,s:i,s:i,s:i,s:i,s:s}", "train_images", (json_int_t)r->train.n,
                        "test_images", (json_int_t)r->test.n, "train_epochs", c.train_epochs, "securenet_train_epochs",
                        sn.train_epochs, "attack_epochs", c.attack_epochs, "wrong_keys", c.trials, "model",
                        r->model ? r->model : "trained (work/lenet5.onnx)"));
    return h;
}

static int render_only(run *r)
{
    json_error_t e;
    json_t *j = json_load_file(r->render, 0, &e);
    if (!j) {
        fprintf(stderr, "nnguard evaluate: %s: not a results.json (%s, line %d)\n", r->render, e.text, e.line);
        return NG_EXIT_FAIL;
    }
    if (!json_is_array(json_object_get(j, "results"))) {
        fprintf(stderr, "nnguard evaluate: %s: no \"results\" array (not written by nnguard evaluate)\n", r->render);
        json_decref(j);
        return NG_EXIT_FAIL;
    }
    ng_status st = ng_report_html_write(j, r->html_path);
    json_decref(j);
    if (st != NG_OK) return ng_cli_fail("evaluate", st);
    printf("report: %s\n", r->html_path);
    return NG_EXIT_OK;
}

int ng_cmd_evaluate(int argc, char **argv)
{
    enum { O_SCHEMES = 0x5200, O_ARCH, O_QUICK, O_OUT, O_MODEL, O_DATA, O_LIMIT, O_RENDER, O_SEED, O_THREADS };
    static const struct option opts[] = {
        {"schemes", required_argument, 0, O_SCHEMES}, {"arch", required_argument, 0, O_ARCH},
        {"quick", no_argument, 0, O_QUICK}, {"out", required_argument, 0, O_OUT},
        {"model", required_argument, 0, O_MODEL}, {"data", required_argument, 0, O_DATA},
        {"limit", required_argument, 0, O_LIMIT}, {"render", required_argument, 0, O_RENDER},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        NG_CLI_FORCE_LONGOPT, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    run r;
    memset(&r, 0, sizeof r);
    r.data = NG_DEFAULT_DATA_DIR;
    r.limit = -1;
    parse_schemes(&r, "all");
    r.archs[0] = "lenet5"; r.n_archs = 1;
    long long v;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_SCHEMES: if (parse_schemes(&r, optarg)) return NG_EXIT_USAGE; break;
        case O_ARCH: if (parse_archs(&r, optarg)) return NG_EXIT_USAGE; break;
        case O_QUICK: r.quick = 1; break;
        case O_OUT: r.out = optarg; break;
        case O_MODEL: r.model = optarg; break;
        case O_DATA: r.data = optarg; break;
        case O_RENDER: r.render = optarg; break;
        case O_LIMIT: if (ng_cli_int("evaluate", "--limit", optarg, 1, 100000000, &v)) return NG_EXIT_USAGE; r.limit = v; break;
        case O_SEED: if (ng_cli_int("evaluate", "--seed", optarg, 0, (long long)1 << 62, &v)) return NG_EXIT_USAGE; r.seed = (uint64_t)v; break;
        case O_THREADS: if (ng_cli_int("evaluate", "--threads", optarg, 0, 256, &v)) return NG_EXIT_USAGE; r.threads = (int)v; break;
        case NG_CLI_OPT_FORCE: r.force = 1; break;
        case 'h': fputs(help, stdout); return NG_EXIT_OK;
        default: return ng_cli_usage("evaluate", "unknown option");
        }
    }
    if (optind < argc) return ng_cli_usage("evaluate", "unexpected argument '%s'", argv[optind]);
    if (!r.out) return ng_cli_usage("evaluate", "--out DIR is required (results.json and report.html go there)");
    int made_out, made_work = 0;
    if (ng_cli_make_dir("evaluate", r.out, 0755, &made_out) != NG_EXIT_OK) return NG_EXIT_FAIL;
    snprintf(r.json_path, sizeof r.json_path, "%s/results.json", r.out);
    snprintf(r.html_path, sizeof r.html_path, "%s/report.html", r.out);
    snprintf(r.work, sizeof r.work, "%s/work", r.out);
    const char *outs[2] = {r.json_path, r.html_path}, *ins[2] = {r.model, r.render};
    ng_status st = ng_cli_check_outputs(r.render ? outs + 1 : outs, r.render ? 1 : 2, ins, 2, r.force);
    if (st != NG_OK) { ng_cli_unmake_dir(r.out, made_out); return ng_cli_fail("evaluate", st); }
    if (r.render) return render_only(&r);
    if (r.limit < 0) r.limit = r.quick ? 2000 : 0;
    if (ng_cli_make_dir("evaluate", r.work, 0755, &made_work) != NG_EXIT_OK) {
        ng_cli_unmake_dir(r.out, made_out);
        return NG_EXIT_FAIL;
    }
    ng_es_ctx c;
    ng_es_defaults(&c, "deeplock");
    c.data = r.data;
    c.limit = r.limit;
    if ((st = ng_es_load_data(&c)) != NG_OK) {
        ng_cli_unmake_dir(r.work, made_work);
        ng_cli_unmake_dir(r.out, made_out);
        return ng_cli_fail("evaluate", st);
    }
    r.test = c.test;
    r.train = c.train;
    if (r.quick && c.train.n > NG_EVALUATE_QUICK_TRAIN) {
        st = ng_dataset_subset(&c.train, 0, NG_EVALUATE_QUICK_TRAIN, r.seed, &r.train);
        ng_dataset_free(&c.train);
        if (st != NG_OK) { ng_dataset_free(&r.test); return ng_cli_fail("evaluate", st); }
    }
    r.t0 = ng_now();
    json_t *res = header(&r, argc, argv);
    st = evaluate(&r, res);
    int rc = NG_EXIT_OK;
    if (st == NG_OK) {
        json_object_set_new(res, "wall_seconds", ng_json_num(ng_now() - r.t0));
        json_t *m = ng_results_machine();
        json_object_set(json_object_get(res, "machine"), "load_end", json_object_get(m, "load"));
        json_decref(m);
        ng_results_paper(res);
        if ((st = write_json(res, r.json_path)) == NG_OK) st = ng_report_html_write(res, r.html_path);
    }
    if (st != NG_OK) rc = ng_cli_fail("evaluate", st);
    else printf("\nevaluate: %zu figures in %.0f s\nresults: %s\nreport:  %s\n",
                json_array_size(json_object_get(res, "results")), ng_now() - r.t0, r.json_path, r.html_path);
    json_decref(res);
    if (rc != NG_EXIT_OK) {
        ng_cli_unmake_dir(r.work, made_work);
        ng_cli_unmake_dir(r.out, made_out);
    }
    ng_dataset_free(&r.train);
    ng_dataset_free(&r.test);
    return rc;
}
