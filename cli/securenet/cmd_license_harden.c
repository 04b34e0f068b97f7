/* cli/securenet/cmd_license_harden.c - `nnguard license harden`: the defences of a SecureNet model
 * that its key holder runs (attack.h ng_defend_license_finetune), measured before and after on the
 * test set: accuracy with the key, without it and with a random key; FGSM and PGD success with the
 * key known to the attacker; with --backdoor-target C the success rate of the BadNets trigger of
 * `nnguard attack backdoor` (stamped with the key). */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "core/core.h"
#include "nnguard/attack.h"
#include "sn_cli.h"

static const char *const harden_help =
    "usage: nnguard license harden MODEL --key KEY --data DIR -o OUT [options]\n\n"
    "Fine-tune a SecureNet model with its license key KEY on --fraction of the training data so that\n"
    "the key still works and no key or a wrong key is still denied:\n"
    "  --mode adv    (default) adversarial training: half of the keyed examples are PGD examples\n"
    "                crafted with the key against the current weights (--eps, --steps)\n"
    "  --mode clean  plain license fine-tuning on clean data: removes a backdoor planted by\n"
    "                fine-tuning (nnguard attack backdoor), whose trigger the data does not carry\n"
    "Prints (and --json writes) the figures before and after.\n\n"
    "options:\n"
    "  --fraction F            share of the training set (default 0.2)\n"
    "  --epochs E              (default 3)\n"
    "  --eps E --steps K       adversarial examples of training and measurement (0.1, 5; PGD measured with 10)\n"
    "  --backdoor-target C     also measure the success of the BadNets trigger towards class C\n"
    "  --limit N               test images measured (default 2000)\n"
    "  --seed S --threads T --json\n"
    "  -o OUT                  the hardened model (a bound MODEL is unlocked in memory with KEY's slot\n"
    "                          and OUT is bound to KEY again)\n" NG_CLI_FORCE_HELP;

typedef struct hfig { double key, none, wrong, fgsm, pgd, bd_asr; } hfig;

static ng_status measure(ng_model *m, const ng_stamper *s, const ng_stamp_options *so, const ng_dataset *te,
                         float eps, int bd_target, int threads, uint64_t seed, hfig *f)
{
    uint8_t raw[NG_LICENSE_KEY_BYTES];
    for (int i = 0; i < NG_LICENSE_KEY_BYTES; i++) raw[i] = (uint8_t)(seed * 31 + (uint64_t)i * 151 + 7);
    ng_status st = ng_license_evaluate(m, so, NULL, NULL, te, 0, threads, &f->none, NULL);
    if (st == NG_OK) st = ng_license_evaluate(m, so, NULL, raw, te, 0, threads, &f->wrong, NULL);
    ng_advex_options o = ng_advex_options_default();
    o.eps = eps;
    o.seed = seed;
    o.threads = threads;
    ng_advex_result r;
    if (st == NG_OK && (st = ng_attack_adversarial(m, te, s, s, &o, &r)) == NG_OK) { f->fgsm = r.success; f->key = r.acc_clean; }
    o.steps = 10;
    if (st == NG_OK && (st = ng_attack_adversarial(m, te, s, s, &o, &r)) == NG_OK) f->pgd = r.success;
    f->bd_asr = -1;
    double clean;
    if (st == NG_OK && bd_target >= 0) st = ng_backdoor_measure(m, te, s, bd_target, 3, threads, &f->bd_asr, &clean);
    return st;
}

static json_t *fig_json(const hfig *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "accuracy_key", ng_json_num(f->key));
    json_object_set_new(o, "accuracy_no_key", ng_json_num(f->none));
    json_object_set_new(o, "accuracy_random_key", ng_json_num(f->wrong));
    json_object_set_new(o, "fgsm_success_key_known", ng_json_num(f->fgsm));
    json_object_set_new(o, "pgd10_success_key_known", ng_json_num(f->pgd));
    if (f->bd_asr >= 0) json_object_set_new(o, "backdoor_success_key", ng_json_num(f->bd_asr));
    return o;
}

int ng_cmd_license_harden(int argc, char **argv)
{
    const char *cmd = "license harden";
    enum { O_KEY = 0x5180, O_DATA, O_FRACTION, O_EPOCHS, O_EPS, O_STEPS, O_BD, O_LIMIT, O_SEED, O_THREADS, O_JSON,
           O_MODE };
    static const struct option opts[] = {
        {"key", required_argument, NULL, O_KEY}, {"data", required_argument, NULL, O_DATA},
        {"fraction", required_argument, NULL, O_FRACTION}, {"epochs", required_argument, NULL, O_EPOCHS},
        {"eps", required_argument, NULL, O_EPS}, {"steps", required_argument, NULL, O_STEPS},
        {"backdoor-target", required_argument, NULL, O_BD}, {"limit", required_argument, NULL, O_LIMIT},
        {"seed", required_argument, NULL, O_SEED}, {"threads", required_argument, NULL, O_THREADS},
        {"json", no_argument, NULL, O_JSON}, {"mode", required_argument, NULL, O_MODE},
        {"output", required_argument, NULL, 'o'}, NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
    const char *key_file = NULL, *data = NG_DEFAULT_DATA_DIR, *out = NULL;
    double fraction = 0.2, eps = 0.1;
    long long epochs = 3, steps = 5, bd = -1, limit = 2000, seed = 1, threads = 0;
    int json = 0, force = 0, adv = 1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case O_KEY: key_file = optarg; break;
        case O_DATA: data = optarg; break;
        case O_FRACTION: if (ng_cli_double(cmd, "--fraction", optarg, 1e-6, 1, &fraction)) return NG_EXIT_USAGE; break;
        case O_EPOCHS: if (ng_cli_int(cmd, "--epochs", optarg, 1, NG_TRAIN_MAX_EPOCHS, &epochs)) return NG_EXIT_USAGE; break;
        case O_EPS: if (ng_cli_double(cmd, "--eps", optarg, 0, 1, &eps)) return NG_EXIT_USAGE; break;
        case O_STEPS: if (ng_cli_int(cmd, "--steps", optarg, 1, 1000, &steps)) return NG_EXIT_USAGE; break;
        case O_BD: if (ng_cli_int(cmd, "--backdoor-target", optarg, 0, NG_LICENSE_MAX_CLASSES - 1, &bd)) return NG_EXIT_USAGE; break;
        case O_LIMIT: if (ng_cli_int(cmd, "--limit", optarg, 1, 100000000, &limit)) return NG_EXIT_USAGE; break;
        case O_SEED: if (ng_cli_int(cmd, "--seed", optarg, 0, (long long)1 << 62, &seed)) return NG_EXIT_USAGE; break;
        case O_THREADS: if (ng_cli_int(cmd, "--threads", optarg, 0, 256, &threads)) return NG_EXIT_USAGE; break;
        case O_JSON: json = 1; break;
        case O_MODE:
            if (!strcmp(optarg, "adv")) adv = 1;
            else if (!strcmp(optarg, "clean")) adv = 0;
            else return ng_cli_usage(cmd, "--mode is adv or clean, not '%s'", optarg);
            break;
        case 'o': out = optarg; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'h': fputs(harden_help, stdout); return NG_EXIT_OK;
        default: return ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ng_cli_usage(cmd, "MODEL is missing");
    if (optind + 1 < argc) return ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
    const char *model = argv[optind];
    if (!key_file) return ng_cli_usage(cmd, "give the license key with --key KEY");
    if (!out) return ng_cli_usage(cmd, "give the hardened model's file with -o OUT");
    const char *outs[1] = {out}, *ins[3] = {model, key_file, data};
    ng_status st = ng_cli_check_outputs(outs, 1, ins, 3, force);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    ng_model *m = NULL;
    ng_dataset tr = {0}, sub = {0}, tf = {0}, te = {0};
    ng_stamper *s = NULL;
    ng_stamp_options so;
    ng_key k = {0};
    hfig before, after;
    double secs = 0;
    if ((st = ng_model_load(model, &m)) != NG_OK) goto done;
    if ((st = ng_license_stamp_options(m, &so)) != NG_OK) { ng_fail_ctx(st, model); goto done; }
    if ((st = ng_sn_load_key(key_file, &k)) != NG_OK) goto done;
    const int bound = ng_license_is_bound(m);   /* unlocked in memory with the key's slot, re-bound to it */
    if (bound && (st = ng_license_unbind(m, &k)) != NG_OK) { ng_fail_ctx(st, key_file); goto done; }
    uint64_t mask;
    if ((st = ng_license_key_classes(m, &k, &mask)) != NG_OK) { ng_fail_ctx(st, key_file); goto done; }
    if (bd >= ng_model_num_classes(m)) {
        st = ng_fail(NG_E_INVALID, "--backdoor-target %lld is not a class of %s (0..%d)", bd, model,
                     ng_model_num_classes(m) - 1);
        goto done;
    }
    if ((st = ng_dataset_load_dir(data, NG_SPLIT_TEST, &tf)) != NG_OK) goto done;
    if ((st = ng_dataset_head(&tf, limit, &te)) != NG_OK) goto done;
    if ((st = ng_dataset_load_dir(data, NG_SPLIT_TRAIN, &tr)) != NG_OK) goto done;
    if ((st = ng_dataset_subset(&tr, fraction, 0, (uint64_t)seed, &sub)) != NG_OK) goto done;
    if ((st = ng_stamper_new(&k, &so, te.c, te.h, te.w, &s)) != NG_OK) { ng_fail_ctx(st, model); goto done; }
    if ((st = measure(m, s, &so, &te, (float)eps, (int)bd, (int)threads, (uint64_t)seed, &before)) != NG_OK) goto done;
    ng_harden_options h = ng_harden_options_default();
    h.adv.eps = (float)eps;
    h.adv.steps = (int)steps;
    h.adv.threads = (int)threads;
    h.p_adv = adv ? 0.5 : 0;
    ng_train_options o = ng_train_options_default();
    o.epochs = (int)epochs;
    o.seed = (uint64_t)seed;
    o.threads = (int)threads;
    o.quiet = json || !ng_cli_tty();
    ng_train_result *res = calloc(1, sizeof *res);
    if (!res) { st = NG_E_NOMEM; goto done; }
    double t0 = ng_now();
    st = ng_defend_license_finetune(m, &k, &sub, &h, &o, res);
    secs = ng_now() - t0;
    free(res);
    if (st != NG_OK) goto done;
    if ((st = measure(m, s, &so, &te, (float)eps, (int)bd, (int)threads, (uint64_t)seed, &after)) != NG_OK) goto done;
    if (bound && (st = ng_license_bind(m, &k, 1, NULL)) != NG_OK) goto done;
    if ((st = ng_model_save(m, out)) != NG_OK) goto done;
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "mode", json_string(adv ? "adv" : "clean"));
        json_object_set_new(j, "examples", json_integer(sub.n));
        json_object_set_new(j, "epochs", json_integer(epochs));
        json_object_set_new(j, "eps", ng_json_num(eps));
        json_object_set_new(j, "steps", json_integer(steps));
        json_object_set_new(j, "seed", json_integer(seed));
        json_object_set_new(j, "seconds", ng_json_num(secs));
        json_object_set_new(j, "test_images", json_integer(te.n));
        json_object_set_new(j, "before", fig_json(&before));
        json_object_set_new(j, "after", fig_json(&after));
        char *t = json_dumps(j, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(j);
        if (t) puts(t);
        free(t);
    } else {
        printf("license %s fine-tuning of %s: %lld images, %lld epochs, %.1f s; measured on %lld test images\n",
               adv ? "adversarial" : "clean", model, (long long)sub.n, epochs, secs, (long long)te.n);
        printf("                         before    after\n");
        printf("  accuracy with key     %6.2f%%  %6.2f%%\n", 100 * before.key, 100 * after.key);
        printf("  accuracy no key       %6.2f%%  %6.2f%%\n", 100 * before.none, 100 * after.none);
        printf("  accuracy random key   %6.2f%%  %6.2f%%\n", 100 * before.wrong, 100 * after.wrong);
        printf("  FGSM success          %6.2f%%  %6.2f%%   (eps %.3g, key known)\n", 100 * before.fgsm, 100 * after.fgsm, eps);
        printf("  PGD-10 success        %6.2f%%  %6.2f%%\n", 100 * before.pgd, 100 * after.pgd);
        if (bd >= 0) printf("  backdoor success      %6.2f%%  %6.2f%%   (trigger to class %lld, stamped)\n", 100 * before.bd_asr, 100 * after.bd_asr, bd);
        printf("hardened model: %s\n", out);
    }
done:
    ng_key_wipe(&k);
    ng_stamper_free(s);
    ng_model_free(m);
    ng_dataset_free(&tr); ng_dataset_free(&sub); ng_dataset_free(&tf); ng_dataset_free(&te);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}
