/* cli/cmd_eval_scheme.c - `nnguard eval-scheme deeplock|advparams|securenet|dynamarks`: options,
 * the report file (defaults, data and dispatch: eval_scheme_run.c, shared with `nnguard evaluate`;
 * the base model and the fine-tuning table every scheme uses: eval_common.c). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "core/core.h"
#include "eval_scheme.h"
#include "nnguard/advparams.h"
#include "nnguard/deeplock.h"

static const char help[] =
    "usage: nnguard eval-scheme deeplock|advparams|dynamarks|securenet [options]\n\n"
    "Measure a protection scheme on a model trained on the data (or on --model): accuracy of the\n"
    "original, protected and restored model, and the attacks (Deep-Lock: random wrong keys and\n"
    "fine-tuning; AdvParams: fine-tuning, pruning, the adaptive attack; SecureNet: the four license\n"
    "schemes, key guessing, key replacement, fine-tuning without the key, trigger reverse-engineering),\n"
    "each fine-tuning compared\n"
    "with training the same architecture from scratch on the same data for the same epochs.\n"
    "Prints a table; writes the figures as JSON with -o.\n\n"
    "  --data DIR            dataset folder (default " NG_DEFAULT_DATA_DIR ")\n"
    "  --model FILE.onnx     protect this model instead of training one\n"
    "  --arch LIST           architectures to train (deeplock: lenet5; advparams: lenet5,vgg-small)\n"
    "  --train-epochs N      epochs to train each base model (default 5)\n"
    "  --fractions LIST      attacker's share of the training data (default 0.01,0.05,0.1)\n"
    "  --attack-epochs N     fine-tuning epochs of the attacks (default 5)\n"
    "  --trials N            deeplock: random wrong keys (default 100)\n"
    "  --keystream ctr|expand  deeplock key stream (default ctr)\n"
    "  --budget N            advparams: most parameters changed (default: the form's, see advparams encrypt)\n"
    "  --form harden|dead|paper  advparams: the hardened form (default), the hardened form with a dead\n"
    "                        layer (advparams encrypt --dead-layer) or the paper's (--rule grad, target 0.15)\n"
    "  --curve LIST          advparams: also the curve parameters changed -> accuracy after reset + fine-tuning\n"
    "                        on the first --fractions share, both forms, at these budgets (paper form <= 400)\n"
    "  --curve-only          advparams: the curve alone (skips the encryption, pruning and adaptive rows)\n"
    "  --hide N              advparams: N camouflage rounds in the hardened forms (advparams encrypt --hide)\n"
    "  --down                advparams: the hardened rounds only lower values (an experiment, see\n"
    "                        docs/threat-model.md)\n"
    "  --reset-proof         advparams: the hardened rounds move values into their tensor's centre band\n"
    "                        (advparams encrypt --reset-proof; an experiment, see docs/threat-model.md)\n"
    "  --dead-at K           advparams: --form dead with the K-th eligible tensor as the dead layer\n"
    "                        (advparams encrypt --dead-at; 1 = the first, as --form dead)\n"
    "  --dead-layers N       advparams: --form dead with N consecutive dead layers (advparams encrypt --dead-layers)\n"
    "  --spread S            advparams: the hardened rounds' spread (advparams encrypt --spread; default 4)\n"
    "  --every-detector      advparams: the top-1x reset + fine-tuning attacker with every detector,\n"
    "                        not only the one that finds most in its top 10x\n"
    "  --rates LIST          advparams pruning rates (default 0.1,0.3,0.5,0.7,0.9)\n"
    "  --prune-epochs N      advparams: fine-tune after pruning (default 1)\n"
    "  --limit N             test images used (default all)\n"
    "  --budgets LIST        dynamarks: extraction query budgets (default 1000,5000,20000); the\n"
    "                        surrogate trains for 200000/budget epochs, clamped to 20..60\n"
    "  --surrogate-arch A    dynamarks: the attacker's architecture (default mlp)\n"
    "  --independent N       dynamarks: independently trained models for false positives (default 12)\n"
    "  --wm-rate R           dynamarks: label-mode rate (default 0.005)\n"
    "  --train-count N       securenet: train on N images (stratified; default all)\n"
    "  --attacks-only        securenet: only the normal and single-key models, and the adversarial\n"
    "                        examples, BadNets backdoor and defences (adversarial / clean fine-tuning\n"
    "                        with the key) measured on them\n"
    "  --deny-class N        securenet: what the licensed models answer without a valid key (default 0;\n"
    "                        license train --deny-class)\n"
    "  --schedule S          securenet: the learning rate per epoch of the normal and license trainings,\n"
    "                        const, step or cosine (default const; license train --schedule)\n"
    "  --replace-lr R        securenet: key replacement's learning rate (license replace --lr; default as\n"
    "                        there: 0.005 with BatchNormalization, else 0.03)\n"
    "  --parts LIST          securenet: only these parts (default all): normal, single, replace,\n"
    "                        blend, per-user, class-subset, hierarchical, finetune, trigger, attacks,\n"
    "                        bind (replace, finetune, attacks, bind and the patch trigger need single;\n"
    "                        the blend trigger blend). bind: the single (and blend) model bound to its\n"
    "                        key (license bind), the same attackers on the bound file, unlock cost\n"
    "DynaMarks: the owner's LeNet-5 served over HTTP on loopback (soft, plain, label+log), surrogates\n"
    "extracted through it, verified on the test split, independent models, removal attacks\n"
    "(fine-tuning on 10%, pruning 30/50%, re-distillation); --attack-epochs is the fine-tune's epochs.\n"
    "  --workdir DIR         where base and protected models are written (default ./nnguard-eval)\n"
    "  -o, --output FILE     JSON report (written atomically)\n"
    "  --force               replace an existing report\n"
    "  --seed S --threads T\n";

static int parse_list(const char *opt, const char *s, double *v, int *n, double lo, double hi)
{
    char *end;
    *n = 0;
    while (*s && *n < NG_ES_MAX_LIST) {
        double d = strtod(s, &end);
        if (end == s || !(d >= lo && d <= hi) || (*end && *end != ','))
            return ng_cli_usage("eval-scheme", "%s expects numbers in [%g,%g] separated by commas", opt, lo, hi), -1;
        v[(*n)++] = d;
        s = *end ? end + 1 : end;
    }
    return *n ? 0 : (ng_cli_usage("eval-scheme", "%s is empty", opt), -1);
}

int ng_cmd_eval_scheme(int argc, char **argv)
{
    enum { O_DATA = 0x5000, O_MODEL, O_ARCH, O_TEPOCHS, O_FRACS, O_AEPOCHS, O_TRIALS, O_KS, O_BUDGET,
           O_RATES, O_PEPOCHS, O_LIMIT, O_WORKDIR, O_SEED, O_THREADS, O_BUDGETS, O_SARCH, O_INDEP, O_WMRATE, O_TCOUNT, O_FORM, O_CURVE,
           O_SNATT, O_PARTS, O_DENY, O_SCHED, O_RLR, O_CONLY, O_HIDE, O_DOWN, O_RPROOF, O_EVERY, O_SPREAD, O_DEAD_AT, O_DEAD_N };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA}, {"model", required_argument, 0, O_MODEL},
        {"arch", required_argument, 0, O_ARCH}, {"train-epochs", required_argument, 0, O_TEPOCHS},
        {"fractions", required_argument, 0, O_FRACS}, {"attack-epochs", required_argument, 0, O_AEPOCHS},
        {"trials", required_argument, 0, O_TRIALS}, {"keystream", required_argument, 0, O_KS},
        {"budget", required_argument, 0, O_BUDGET}, {"rates", required_argument, 0, O_RATES},
        {"prune-epochs", required_argument, 0, O_PEPOCHS}, {"limit", required_argument, 0, O_LIMIT},
        {"workdir", required_argument, 0, O_WORKDIR}, {"output", required_argument, 0, 'o'},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        {"budgets", required_argument, 0, O_BUDGETS}, {"surrogate-arch", required_argument, 0, O_SARCH},
        {"independent", required_argument, 0, O_INDEP}, {"wm-rate", required_argument, 0, O_WMRATE},
        {"train-count", required_argument, 0, O_TCOUNT}, {"attacks-only", no_argument, 0, O_SNATT},
        {"parts", required_argument, 0, O_PARTS}, {"deny-class", required_argument, 0, O_DENY},
        {"schedule", required_argument, 0, O_SCHED}, {"replace-lr", required_argument, 0, O_RLR},
        {"form", required_argument, 0, O_FORM}, {"curve", required_argument, 0, O_CURVE},
        {"curve-only", no_argument, 0, O_CONLY}, {"hide", required_argument, 0, O_HIDE},
        {"down", no_argument, 0, O_DOWN}, {"reset-proof", no_argument, 0, O_RPROOF},
        {"every-detector", no_argument, 0, O_EVERY}, {"spread", required_argument, 0, O_SPREAD},
        {"dead-at", required_argument, 0, O_DEAD_AT},
        {"dead-layers", required_argument, 0, O_DEAD_N}, NG_CLI_FORCE_LONGOPT, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? NG_EXIT_USAGE : NG_EXIT_OK;
    }
    const char *scheme = argv[1];
    if (ng_es_scheme_index(scheme) < 0)
        return ng_cli_usage("eval-scheme", "unknown scheme '%s' (deeplock, advparams, dynamarks, securenet)", scheme);
    int is_sn = !strcmp(scheme, "securenet");
    ng_es_ctx c;
    ng_es_defaults(&c, scheme);
    long long v;
    int ch, force = 0, dead_at = 0, dead_n = 0;
    static char archbuf[256];
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "ho:", opts, NULL)) != -1) {
        switch (ch) {
        case O_DATA: c.data = optarg; break;
        case O_MODEL: c.model = optarg; break;
        case O_ARCH: {
            snprintf(archbuf, sizeof archbuf, "%s", optarg);
            c.n_archs = 0;
            for (char *t = strtok(archbuf, ","); t && c.n_archs < NG_ES_MAX_LIST; t = strtok(NULL, ","))
                c.archs[c.n_archs++] = t;
            break;
        }
        case O_TEPOCHS: if (ng_cli_int("eval-scheme", "--train-epochs", optarg, 1, 1000, &v)) return NG_EXIT_USAGE; c.train_epochs = (int)v; break;
        case O_AEPOCHS: if (ng_cli_int("eval-scheme", "--attack-epochs", optarg, 1, NG_ATTACK_MAX_EPOCHS, &v)) return NG_EXIT_USAGE; c.attack_epochs = (int)v; break;
        case O_PEPOCHS: if (ng_cli_int("eval-scheme", "--prune-epochs", optarg, 0, NG_ATTACK_MAX_EPOCHS, &v)) return NG_EXIT_USAGE; c.prune_epochs = (int)v; break;
        case O_TRIALS: if (ng_cli_int("eval-scheme", "--trials", optarg, 1, 100000, &v)) return NG_EXIT_USAGE; c.trials = (int)v; break;
        case O_BUDGET: if (ng_cli_int("eval-scheme", "--budget", optarg, 1, 1000000, &v)) return NG_EXIT_USAGE; c.budget = (int)v; break;
        case O_LIMIT: if (ng_cli_int("eval-scheme", "--limit", optarg, 1, 100000000, &v)) return NG_EXIT_USAGE; c.limit = v; break;
        case O_SEED: if (ng_cli_int("eval-scheme", "--seed", optarg, 0, (long long)1 << 62, &v)) return NG_EXIT_USAGE; c.seed = (uint64_t)v; break;
        case O_THREADS: if (ng_cli_int("eval-scheme", "--threads", optarg, 0, 256, &v)) return NG_EXIT_USAGE; c.threads = (int)v; break;
        case O_FRACS: if (parse_list("--fractions", optarg, c.fractions, &c.n_fractions, 1e-6, 1)) return NG_EXIT_USAGE; break;
        case O_CONLY: c.curve_only = 1; break;
        case O_DOWN: c.down = 1; break;
        case O_RPROOF: c.reset_proof = 1; break;
        case O_EVERY: c.every_det = 1; break;
        case O_DEAD_N: if (ng_cli_int("eval-scheme", "--dead-layers", optarg, 1, 16, &v)) return NG_EXIT_USAGE; dead_n = (int)v; break;
        case O_DEAD_AT: if (ng_cli_int("eval-scheme", "--dead-at", optarg, 1, 1000, &v)) return NG_EXIT_USAGE; dead_at = (int)v; break;
        case O_SPREAD: if (ng_cli_int("eval-scheme", "--spread", optarg, 1, 1000, &v)) return NG_EXIT_USAGE; c.spread = (int)v; break;
        case O_HIDE: if (ng_cli_int("eval-scheme", "--hide", optarg, 0, 100, &v)) return NG_EXIT_USAGE; c.hide = (int)v; break;
        case O_CURVE: if (parse_list("--curve", optarg, c.curve, &c.n_curve, 1, NG_ADV_MAX_BUDGET)) return NG_EXIT_USAGE; break;
        case O_FORM:
            if (strcmp(optarg, "harden") && strcmp(optarg, "paper") && strcmp(optarg, "dead"))
                return ng_cli_usage("eval-scheme", "--form expects harden, dead or paper, not '%s'", optarg);
            c.paper = !strcmp(optarg, "paper");
            c.dead = !strcmp(optarg, "dead");
            break;
        case O_RATES: if (parse_list("--rates", optarg, c.rates, &c.n_rates, 0, 1)) return NG_EXIT_USAGE; break;
        case O_KS:
            if ((c.keystream = ng_keystream_parse(optarg)) < 0)
                return ng_cli_usage("eval-scheme", "--keystream is ctr or expand, not '%s'", optarg);
            break;
        case O_WORKDIR: c.workdir = optarg; break;
        case O_BUDGETS: if (parse_list("--budgets", optarg, c.budgets, &c.n_budgets, 1, 1e8)) return NG_EXIT_USAGE; break;
        case O_SARCH: c.surrogate_arch = optarg; break;
        case O_INDEP: if (ng_cli_int("eval-scheme", "--independent", optarg, 0, 1000, &v)) return NG_EXIT_USAGE; c.independent = (int)v; break;
        case O_SNATT: c.sn_attacks_only = 1; break;
        case O_TCOUNT: if (ng_cli_int("eval-scheme", "--train-count", optarg, 0, 1LL << 40, &v)) return NG_EXIT_USAGE; c.train_count = v; break;
        case O_PARTS: c.parts = optarg; break;
        case O_DENY: if (ng_cli_int("eval-scheme", "--deny-class", optarg, 0, 63, &v)) return NG_EXIT_USAGE; c.sn_deny_class = (int)v; break;
        case O_SCHED: if (ng_cli_sched("eval-scheme", optarg, &c.sn_sched)) return NG_EXIT_USAGE; break;
        case O_RLR: if (ng_cli_double("eval-scheme", "--replace-lr", optarg, 1e-6, 10, &c.sn_replace_lr)) return NG_EXIT_USAGE; break;
        case O_WMRATE: if (ng_cli_double("eval-scheme", "--wm-rate", optarg, 0, 1, &c.wm_rate)) return NG_EXIT_USAGE; break;
        case 'o': c.report = optarg; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'h': fputs(help, stdout); return NG_EXIT_OK;
        default: return ng_cli_usage("eval-scheme", "unknown option");
        }
    }
    if (optind + 1 < argc) return ng_cli_usage("eval-scheme", "unexpected argument '%s'", argv[optind + 1]);
    if (dead_at && c.paper) return ng_cli_usage("eval-scheme", "--dead-at is a hardened-form option; drop --form paper");
    if (dead_n && c.paper) return ng_cli_usage("eval-scheme", "--dead-layers is a hardened-form option; drop --form paper");
    if (dead_at) c.dead = dead_at;   /* implies --form dead */
    if (dead_n && !c.dead) c.dead = 1;
    c.dead_layers = dead_n;
    if (c.model && is_sn)
        return ng_cli_usage("eval-scheme", "--model: securenet trains its models (normal and licensed) itself; use --arch");
    if (c.model) c.n_archs = 1;
    ng_status st = ng_cli_check_outputs(&c.report, 1, &c.model, 1, force);
    if (st != NG_OK) return ng_cli_fail("eval-scheme", st);
    int made;
    if (ng_cli_make_dir("eval-scheme", c.workdir, 0755, &made) != NG_EXIT_OK) return NG_EXIT_FAIL;
    if ((st = ng_es_load_data(&c)) != NG_OK) {
        ng_cli_unmake_dir(c.workdir, made);
        return ng_cli_fail("eval-scheme", st);
    }
    json_t *report = json_object();
    st = ng_es_run(&c, scheme, report);
    int rc = NG_EXIT_OK;
    if (st != NG_OK) rc = ng_cli_fail("eval-scheme", st);
    else if (c.report) {
        char *s = json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        st = s ? ng_write_file_atomic(c.report, s, strlen(s), NG_MODE_PUBLIC) : NG_E_NOMEM;
        free(s);
        if (st != NG_OK) rc = ng_cli_fail("eval-scheme", st);
        else printf("report written to %s\n", c.report);
    }
    json_decref(report);
    if (rc != NG_EXIT_OK) ng_cli_unmake_dir(c.workdir, made);
    ng_dataset_free(&c.train);
    ng_dataset_free(&c.test);
    return rc;
}
