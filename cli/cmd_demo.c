/* cli/cmd_demo.c - `nnguard demo`: the README's main job, end to end on Fashion-MNIST.
 * Train (or load) a LeNet-5, run it, lock it with Deep-Lock and encrypt it with AdvParams,
 * and show what an attacker gets without the key and what the owner gets with it. Every
 * file it makes goes to --out (default ./nnguard-demo), so each step can be re-run by hand. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "cli.h"
#include "core/core.h"
#include "eval_scheme.h"
#include "nnguard/advparams.h"
#include "nnguard/attack.h"
#include "nnguard/deeplock.h"

static const char help[] =
    "usage: nnguard demo [--data DIR] [--out DIR] [--epochs N] [--model FILE.onnx] [--seed S] [--threads T]\n\n"
    "Train LeNet-5 on Fashion-MNIST (or take --model), evaluate it, protect it with Deep-Lock and\n"
    "with AdvParams, and compare accuracy without a key, with wrong keys and with the right key.\n"
    "Files go to --out (default nnguard-demo); previous demo files there are replaced.\n\n"
    "  --data DIR      dataset folder (default " NG_DEFAULT_DATA_DIR ")\n"
    "  --epochs N      training epochs (default 3)\n"
    "  --wrong-keys N  random wrong keys tried on the locked model (default 10)\n"
    "  --report-schemes LIST  schemes of the closing quick report (default all; see nnguard evaluate)\n"
    "  --no-report     skip the closing quick report (nnguard evaluate --quick, a few minutes)\n";

typedef struct demo {
    const char *data, *out, *model, *report_schemes;
    int epochs, threads, wrong, no_report;
    uint64_t seed;
    ng_dataset train, test;
    char path[6][1024];   /* model, locked, key, advparams model, advparams key, report */
} demo;

static void step(const char *s) { printf("\n== %s\n", s); fflush(stdout); }

/* The closing step: `nnguard evaluate --quick` on the demo's model, the page in --out/report. */
static int quick_report(const demo *d, const char *model)
{
    char dir[1100], seed[32], threads[32];
    snprintf(dir, sizeof dir, "%s/report", d->out);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)d->seed);
    snprintf(threads, sizeof threads, "%d", d->threads);
    char *argv[] = {"evaluate", "--quick", "--force", "--model", (char *)model, "--data", (char *)d->data,
                    "--schemes", (char *)d->report_schemes, "--seed", seed, "--threads", threads, "--out", dir, NULL};
    printf("nnguard evaluate --quick --model %s --schemes %s --out %s\n", model, d->report_schemes, dir);
    fflush(stdout);
    int rc = ng_cmd_evaluate((int)(sizeof argv / sizeof argv[0]) - 1, argv);
    if (rc == NG_EXIT_OK) printf("\nthe report: open %s/report.html in a browser (one self-contained page)\n", dir);
    return rc;
}

static ng_status eval(demo *d, ng_model *m, double *acc, double *ips)
{
    return ng_evaluate(m, &d->test, 0, 256, d->threads, acc, NULL, ips);
}

static ng_status base_model(demo *d, ng_model **m, double *acc)
{
    ng_status st;
    double ips;
    if (d->model) {
        if ((st = ng_model_load(d->model, m)) != NG_OK) return st;
        printf("loaded %s\n", d->model);
    } else {
        if ((st = ng_model_from_arch("lenet5", d->train.c, d->train.h, d->train.w, d->train.classes, d->seed, m)) != NG_OK)
            return st;
        ng_train_options o = ng_train_options_default();
        ng_train_result *r = ng_calloc(1, sizeof *r);
        if (!r) return NG_E_NOMEM;
        o.epochs = d->epochs;
        o.seed = d->seed;
        o.threads = d->threads;
        o.eval_each_epoch = 1;
        printf("training LeNet-5 (Adam 1e-3, batch 64, %d epochs, seed %llu) on %lld images\n", d->epochs,
               (unsigned long long)d->seed, (long long)d->train.n);
        fflush(stdout);
        st = ng_train(*m, &d->train, &d->test, &o, r);
        if (st == NG_OK) printf("trained at %.0f images/s\n", r->images_per_s);
        free(r);
        if (st == NG_OK) st = ng_model_save_onnx(*m, d->path[0]);
        if (st != NG_OK) return st;
        printf("saved %s\n", d->path[0]);
    }
    if ((st = eval(d, *m, acc, &ips)) != NG_OK) return st;
    printf("test accuracy %.2f%% on %lld images, %.0f images/s\n", 100 * *acc, (long long)d->test.n, ips);
    return NG_OK;
}

static ng_status deeplock(demo *d, const char *src, double acc0, double res[3])
{
    ng_key key;
    ng_status st = ng_key_generate(256, &key);
    if (st != NG_OK) return st;
    unlink(d->path[2]);   /* the demo's own key from an earlier run: key files are never overwritten */
    ng_deeplock_secret sec = {.key = &key};
    ng_deeplock_options o = ng_deeplock_options_default();
    o.threads = d->threads;
    ng_model *locked = NULL, *unlocked = NULL;
    ng_weights *w = NULL;
    ng_keyguess_result kg = {0};
    if ((st = ng_key_save(&key, d->path[2], NULL, 0)) != NG_OK) goto out;
    if ((st = ng_deeplock_lock_file(src, d->path[1], &sec, &o)) != NG_OK) goto out;
    printf("key %s (mode 0600), locked model %s (every parameter through the AES S-box, ctr key stream)\n",
           d->path[2], d->path[1]);
    if ((st = ng_weights_open(d->path[1], &w)) != NG_OK) goto out;
    if ((st = ng_model_from_weights(w, &locked)) != NG_OK) goto out;
    if ((st = eval(d, locked, &res[0], NULL)) != NG_OK) goto out;
    printf("attacker, no key:        %6.2f%%\n", 100 * res[0]);
    if ((st = ng_attack_keyguess(locked, w, d->wrong, d->seed + 1, &d->test, d->threads, &kg)) != NG_OK) goto out;
    res[1] = kg.acc_max;
    printf("attacker, %3d wrong keys: %6.2f%% at best (mean %.2f%%)\n", kg.trials, 100 * kg.acc_max, 100 * kg.acc_mean);
    if ((st = ng_deeplock_open_model(d->path[1], &sec, &unlocked)) != NG_OK) goto out;
    if ((st = eval(d, unlocked, &res[2], NULL)) != NG_OK) goto out;
    printf("owner, right key:        %6.2f%% (unlocked in memory; original %.2f%%)\n", 100 * res[2], 100 * acc0);
out:
    ng_key_wipe(&key);
    free(kg.acc);
    ng_model_free(locked);
    ng_model_free(unlocked);
    ng_weights_free(w);
    return st;
}

static ng_status advparams(demo *d, const char *src, ng_model *base, double res[2], size_t *changed)
{
    ng_model *m = NULL;
    ng_weights *w = NULL;
    ng_adv_key *k = NULL;
    uint8_t id0[32], id1[32];
    ng_status st = ng_weights_open(src, &w);
    if (st != NG_OK) return st;
    ng_weights_id(w, id0);
    if ((st = ng_model_clone(base, &m)) != NG_OK) goto out;
    ng_adv_options o = ng_adv_options_default();
    o.threads = d->threads;
    o.seed = d->seed;
    if ((st = ng_adv_encrypt(m, w, &d->train, &o, &k)) != NG_OK) goto out;
    *changed = ng_adv_key_count(k);
    unlink(d->path[4]);
    if ((st = ng_weights_save(w, d->path[3])) != NG_OK || (st = ng_adv_key_save(k, d->path[4], NULL, 0)) != NG_OK) goto out;
    if ((st = eval(d, m, &res[0], NULL)) != NG_OK) goto out;
    printf("encrypted model %s, key %s: %zu of %zu parameters changed (%.5f%%)\n", d->path[3], d->path[4], *changed,
           ng_model_nparams(m), 100.0 * (double)*changed / (double)ng_model_nparams(m));
    printf("attacker, no key:        %6.2f%%\n", 100 * res[0]);
    if ((st = ng_adv_decrypt(w, k)) != NG_OK) goto out;
    ng_weights_id(w, id1);
    ng_model_free(m);
    m = NULL;
    if ((st = ng_model_from_weights(w, &m)) != NG_OK) goto out;
    if ((st = eval(d, m, &res[1], NULL)) != NG_OK) goto out;
    printf("owner, right key:        %6.2f%% (decrypted in memory, parameters %s the original bit for bit)\n",
           100 * res[1], sodium_memcmp(id0, id1, 32) == 0 ? "equal" : "DIFFER FROM");
    if (sodium_memcmp(id0, id1, 32) != 0) st = ng_fail(NG_E_INTERNAL, "AdvParams decrypt was not exact");
out:
    ng_adv_key_free(k);
    ng_model_free(m);
    ng_weights_free(w);
    return st;
}

int ng_cmd_demo(int argc, char **argv)
{
    enum { O_DATA = 0x5100, O_OUT, O_EPOCHS, O_MODEL, O_SEED, O_THREADS, O_WRONG, O_RSCHEMES, O_NOREPORT };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA}, {"out", required_argument, 0, O_OUT},
        {"epochs", required_argument, 0, O_EPOCHS}, {"model", required_argument, 0, O_MODEL},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        {"wrong-keys", required_argument, 0, O_WRONG}, {"report-schemes", required_argument, 0, O_RSCHEMES},
        {"no-report", no_argument, 0, O_NOREPORT}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    demo d;
    memset(&d, 0, sizeof d);
    d.data = NG_DEFAULT_DATA_DIR;
    d.out = "nnguard-demo";
    d.epochs = 3;
    d.wrong = 10;
    d.report_schemes = "all";
    long long v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: d.data = optarg; break;
        case O_OUT: d.out = optarg; break;
        case O_MODEL: d.model = optarg; break;
        case O_EPOCHS: if (ng_cli_int("demo", "--epochs", optarg, 1, 1000, &v)) return NG_EXIT_USAGE; d.epochs = (int)v; break;
        case O_SEED: if (ng_cli_int("demo", "--seed", optarg, 0, (long long)1 << 62, &v)) return NG_EXIT_USAGE; d.seed = (uint64_t)v; break;
        case O_THREADS: if (ng_cli_int("demo", "--threads", optarg, 0, 256, &v)) return NG_EXIT_USAGE; d.threads = (int)v; break;
        case O_WRONG: if (ng_cli_int("demo", "--wrong-keys", optarg, 1, 10000, &v)) return NG_EXIT_USAGE; d.wrong = (int)v; break;
        case O_RSCHEMES: d.report_schemes = optarg; break;
        case O_NOREPORT: d.no_report = 1; break;
        case 'h': fputs(help, stdout); return NG_EXIT_OK;
        default: return ng_cli_usage("demo", "unknown option");
        }
    }
    if (optind < argc) return ng_cli_usage("demo", "unexpected argument '%s'", argv[optind]);
    if (strcmp(d.report_schemes, "all")) {   /* checked now, not after the demo's minutes */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", d.report_schemes);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
            if (ng_es_scheme_index(t) < 0)
                return ng_cli_usage("demo", "--report-schemes: unknown scheme '%s' (deeplock, advparams, securenet, dynamarks)", t);
    }
    int made;
    if (ng_cli_make_dir("demo", d.out, 0755, &made) != NG_EXIT_OK) return NG_EXIT_FAIL;
    static const char *const names[6] = {"lenet5.onnx", "lenet5.locked.onnx", "lenet5.key", "lenet5.advparams.onnx",
                                         "lenet5.advparams.key", ""};
    for (int i = 0; i < 5; i++) snprintf(d.path[i], sizeof d.path[i], "%s/%s", d.out, names[i]);
    const char *src = d.model ? d.model : d.path[0];
    double t0 = ng_now(), acc0 = 0, dl[3] = {0}, adv[2] = {0};
    size_t changed = 0;
    ng_model *m = NULL;
    ng_status st;
    printf("nnguard %s demo on %s\n", NNGUARD_VERSION, d.data);
    step("1. the data");
    if ((st = ng_dataset_load_dir(d.data, NG_SPLIT_TRAIN, &d.train)) != NG_OK ||
        (st = ng_dataset_load_dir(d.data, NG_SPLIT_TEST, &d.test)) != NG_OK) {
        ng_dataset_free(&d.train);
        ng_cli_unmake_dir(d.out, made);
        return ng_cli_fail("demo", st);
    }
    printf("%lld training and %lld test images of %dx%dx%d, %d classes\n", (long long)d.train.n, (long long)d.test.n,
           d.train.c, d.train.h, d.train.w, d.train.classes);
    step("2. the model to protect");
    if ((st = base_model(&d, &m, &acc0)) != NG_OK) goto out;
    step("3. Deep-Lock: lock every parameter with the AES S-box under a key stream");
    if ((st = deeplock(&d, src, acc0, dl)) != NG_OK) goto out;
    step("4. AdvParams: perturb a handful of parameters; their positions and values are the key");
    if ((st = advparams(&d, src, m, adv, &changed)) != NG_OK) goto out;
    step("summary (Fashion-MNIST test accuracy)");
    printf("%-28s %10s\n", "", "accuracy");
    printf("%-28s %9.2f%%\n", "original", 100 * acc0);
    printf("%-28s %9.2f%%\n", "Deep-Lock, no key", 100 * dl[0]);
    printf("%-28s %9.2f%%\n", "Deep-Lock, best wrong key", 100 * dl[1]);
    printf("%-28s %9.2f%%\n", "Deep-Lock, right key", 100 * dl[2]);
    printf("%-28s %9.2f%%  (%zu parameters changed)\n", "AdvParams, no key", 100 * adv[0], changed);
    printf("%-28s %9.2f%%\n", "AdvParams, right key", 100 * adv[1]);
    printf("\ndone in %.1f s. Try: nnguard eval %s --key %s\n", ng_now() - t0, d.path[1], d.path[2]);
    printf("     nnguard attack finetune %s --fraction 0.05   (fine-tuning without the key)\n", d.path[1]);
    printf("     nnguard eval-scheme deeplock                 (the full evaluation table)\n");
    if (dl[2] != acc0 || adv[1] != acc0) st = ng_fail(NG_E_INTERNAL, "the restored model does not match the original");
out:
    ng_model_free(m);
    ng_dataset_free(&d.train);
    ng_dataset_free(&d.test);
    if (st != NG_OK) { ng_cli_unmake_dir(d.out, made); return ng_cli_fail("demo", st); }
    if (d.no_report) return NG_EXIT_OK;
    step("5. every scheme under the same attacks, beside the papers' figures: the quick report");
    return quick_report(&d, src);
}
