/* cli/cmd_attack.c - `nnguard attack finetune|prune|keyguess|adaptive|reverse-trigger|fgsm|pgd|backdoor ...`: the attacks
 * every scheme is judged by, run the same way on any model file. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "attack_cli.h"
#include "nnguard/attack.h"

static const char *const attack_help =
    "usage: nnguard attack <kind> MODEL [options]\n"
    "kinds:\n"
    "  finetune  re-initialise MODEL's out-of-distribution parameters (not finite, or beyond 8 x\n"
    "            their tensor's fresh-init scale) as a fresh layer would, keep the rest, fine-tune on a\n"
    "            fraction of the training data; compare with training the same architecture from a\n"
    "            fresh random init on the same data and epochs\n"
    "  prune     magnitude pruning of every weight tensor at each rate, optional fine-tune\n"
    "  keyguess  Deep-Lock: accuracy of a locked MODEL unlocked with N random wrong keys;\n"
    "            SecureNet: accuracy of a licensed MODEL on inputs stamped with N random keys\n"
    "  adaptive  AdvParams: the adaptive attacker (knows the method) resets suspect parameters\n"
    "  reverse-trigger  SecureNet: optimise a stamp (blend pattern, or patch mask + pattern) by\n"
    "            gradient descent on the input over --fraction of the labelled training data,\n"
    "            --epochs passes (Neural-Cleanse style); accuracy of the found stamp on the test set\n"
    "  fgsm, pgd adversarial examples in an L-inf ball of --eps (pgd: --steps steps from a random\n"
    "            start): the share of correctly classified test images whose label flips. On a\n"
    "            SecureNet model with --license-key KEY the victim stamps its inputs; rows for an\n"
    "            attacker crafting with the key (through the stamp) and without it (on the bare model;\n"
    "            on a bound model, on the file as shipped, its parameters still scrambled)\n"
    "  backdoor  BadNets: fine-tune MODEL on --fraction (default 0.1) of the training data, a --poison\n"
    "            share carrying a 3x3 checkerboard trigger (bottom right) relabelled --target C, 5\n"
    "            epochs; attack success rate (triggered non-C test images labelled C) and clean\n"
    "            accuracy, with and without --license-key KEY; writes the backdoored model to -o OUT\n"
    "            (--insider: the attacker holds KEY and stamps its training data)\n"
    "  extract   model extraction through a prediction API (own options: attack extract --help)\n"
    "options (all kinds):\n"
    "  --data DIR         dataset folder (default " NG_DEFAULT_DATA_DIR ")\n"
    "  --fraction F       fraction of the training set the attacker has (default 0.05)\n"
    "  --count N          or a number of training examples\n"
    "  --epochs N         fine-tuning epochs (default 5; prune: 0 = no fine-tune)\n"
    "  --batch B --lr R   training batch (64) and Adam learning rate (1e-3)\n"
    "  --rates LIST       prune: comma-separated rates (default 0.1,0.3,0.5,0.7,0.9)\n"
    "  --trials N         keyguess: random wrong keys (default 100)\n"
    "  --advparams-key K  adaptive: the key, only to score how many perturbed parameters were found\n"
    "  --limit N          evaluate on the first N test images (default all)\n"
    "  --seed S --threads T --json\n"
    "  --eps E            fgsm/pgd: L-inf radius in pixel units [0, 1] (default 0.1)\n"
    "  --steps K          pgd: steps (default 10; fgsm: 1)\n"
    "  --license-key KEY  SecureNet license key file (fgsm, pgd, backdoor): the victim's stamp\n"
    "  --poison F         backdoor: poisoned share of the attacker's data (default 0.1)\n"
    "  --target C         backdoor: target class (default 0)\n"
    "  --insider          backdoor: the attacker stamps its training data with --license-key\n"
    "  -o OUT --force     backdoor: the backdoored model (never overwrites without --force)\n"
    "  --no-scratch       finetune: skip the from-scratch baseline\n"
    "  --sanity           finetune: also run the attack on MODEL with every weight fresh (it must\n"
    "                     reach the scratch accuracy, or the attack is too weak to mean anything)\n";


int ng_attack_parse(ng_attack_args *a, int argc, char **argv)
{
    enum { O_DATA = 1000, O_FRACTION, O_COUNT, O_EPOCHS, O_BATCH, O_LR, O_RATES, O_TRIALS,
           O_SEED, O_THREADS, O_JSON, O_NOSCRATCH, O_LIMIT, O_ADVKEY, O_HELP, O_SANITY,
           O_EPS, O_STEPS, O_LKEY, O_POISON, O_TARGET, O_INSIDER, O_FORCE };
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA}, {"fraction", required_argument, 0, O_FRACTION},
        {"count", required_argument, 0, O_COUNT}, {"epochs", required_argument, 0, O_EPOCHS},
        {"batch", required_argument, 0, O_BATCH}, {"lr", required_argument, 0, O_LR},
        {"rates", required_argument, 0, O_RATES}, {"trials", required_argument, 0, O_TRIALS},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        {"json", no_argument, 0, O_JSON}, {"no-scratch", no_argument, 0, O_NOSCRATCH},
        {"sanity", no_argument, 0, O_SANITY},
        {"limit", required_argument, 0, O_LIMIT}, {"advparams-key", required_argument, 0, O_ADVKEY},
        {"eps", required_argument, 0, O_EPS}, {"steps", required_argument, 0, O_STEPS},
        {"license-key", required_argument, 0, O_LKEY}, {"poison", required_argument, 0, O_POISON},
        {"target", required_argument, 0, O_TARGET}, {"insider", no_argument, 0, O_INSIDER},
        {"output", required_argument, 0, 'o'}, {"force", no_argument, 0, O_FORCE},
        {"help", no_argument, 0, O_HELP}, {0, 0, 0, 0}};
    long long v;
    double d;
    memset(a, 0, sizeof *a);
    a->data = NG_DEFAULT_DATA_DIR;
    a->tune = ng_finetune_options_default();
    a->trials = 100;
    a->n_rates = 5;
    for (int i = 0; i < 5; i++) a->rates[i] = 0.1 + 0.2 * i;
    a->prune_epochs = 0;
    a->eps = 0.1;
    a->steps = 0;
    a->poison = 0.1;
    int epochs_set = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA: a->data = optarg; break;
        case O_FRACTION:
            if (ng_cli_double("attack", "--fraction", optarg, 1e-6, 1.0, &d)) return -1;
            a->tune.fraction = d; a->fraction_set = 1; break;
        case O_COUNT:
            if (ng_cli_int("attack", "--count", optarg, 1, 100000000, &v)) return -1;
            a->tune.count = v; break;
        case O_EPOCHS:
            if (ng_cli_int("attack", "--epochs", optarg, 0, NG_ATTACK_MAX_EPOCHS, &v)) return -1;
            a->tune.epochs = (int)v; epochs_set = 1; break;
        case O_BATCH:
            if (ng_cli_int("attack", "--batch", optarg, 1, 65536, &v)) return -1;
            a->tune.batch = (int)v; break;
        case O_LR:
            if (ng_cli_double("attack", "--lr", optarg, 0, 10, &d)) return -1;
            a->tune.optim.lr = (float)d; break;
        case O_RATES: {
            char *s = optarg, *end;
            a->n_rates = 0;
            while (*s && a->n_rates < NG_ATTACK_MAX_RATES) {
                d = strtod(s, &end);
                if (end == s || !(d >= 0 && d <= 1)) {
                    ng_cli_usage("attack", "--rates expects numbers in [0,1] separated by commas, not '%s'", optarg);
                    return -1;
                }
                a->rates[a->n_rates++] = d;
                s = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') { ng_cli_usage("attack", "bad --rates '%s'", optarg); return -1; }
            }
            break;
        }
        case O_TRIALS:
            if (ng_cli_int("attack", "--trials", optarg, 1, 100000, &v)) return -1;
            a->trials = (int)v; break;
        case O_SEED:
            if (ng_cli_int("attack", "--seed", optarg, 0, (long long)1 << 62, &v)) return -1;
            a->tune.seed = (uint64_t)v; break;
        case O_THREADS:
            if (ng_cli_int("attack", "--threads", optarg, 0, 256, &v)) return -1;
            a->tune.threads = (int)v; break;
        case O_LIMIT:
            if (ng_cli_int("attack", "--limit", optarg, 1, 100000000, &v)) return -1;
            a->limit = v; break;
        case O_ADVKEY: a->advparams_key = optarg; break;
        case O_EPS:
            if (ng_cli_double("attack", "--eps", optarg, 0, 1, &d)) return -1;
            a->eps = d; break;
        case O_STEPS:
            if (ng_cli_int("attack", "--steps", optarg, 1, 10000, &v)) return -1;
            a->steps = (int)v; break;
        case O_POISON:
            if (ng_cli_double("attack", "--poison", optarg, 1e-6, 1, &d)) return -1;
            a->poison = d; break;
        case O_TARGET:
            if (ng_cli_int("attack", "--target", optarg, 0, 1 << 20, &v)) return -1;
            a->target = (int)v; break;
        case O_LKEY: a->license_key = optarg; break;
        case O_INSIDER: a->insider = 1; break;
        case O_FORCE: a->force = 1; break;
        case 'o': a->output = optarg; break;
        case O_JSON: a->json = 1; break;
        case O_NOSCRATCH: a->tune.scratch = 0; break;
        case O_SANITY: a->tune.sanity = 1; break;
        case O_HELP: fputs(attack_help, stdout); return 1;
        default: ng_cli_usage("attack", "unknown option"); return -1;
        }
    }
    a->prune_epochs = epochs_set ? a->tune.epochs : 0;
    a->epochs_set = epochs_set;
    if (optind >= argc) { ng_cli_usage("attack", "MODEL is missing"); return -1; }
    a->model = argv[optind];
    if (optind + 1 < argc) { ng_cli_usage("attack", "unexpected argument '%s'", argv[optind + 1]); return -1; }
    a->tune.log = stderr;
    return 0;
}

int ng_cmd_attack(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(attack_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? NG_EXIT_USAGE : NG_EXIT_OK;
    }
    const char *kind = argv[1];
    if (!strcmp(kind, "extract")) return ng_attack_run_extract(argc - 1, argv + 1);
    ng_attack_args a;
    int r = ng_attack_parse(&a, argc - 1, argv + 1);
    if (r) return r > 0 ? NG_EXIT_OK : NG_EXIT_USAGE;
    if (!strcmp(kind, "finetune")) return ng_attack_run_finetune(&a);
    if (!strcmp(kind, "prune")) return ng_attack_run_prune(&a);
    if (!strcmp(kind, "keyguess"))
        return ng_attack_is_licensed(a.model) ? ng_attack_run_license_keyguess(&a) : ng_attack_run_keyguess(&a);
    if (!strcmp(kind, "reverse-trigger")) return ng_attack_run_reverse_trigger(&a);
    if (!strcmp(kind, "adaptive")) return ng_attack_run_adaptive(&a);
    if (!strcmp(kind, "fgsm")) return ng_attack_run_adversarial(&a, 0);
    if (!strcmp(kind, "pgd")) return ng_attack_run_adversarial(&a, 1);
    if (!strcmp(kind, "backdoor")) return ng_attack_run_backdoor(&a);
    return ng_cli_usage("attack", "unknown attack '%s' (finetune, prune, keyguess, adaptive, reverse-trigger, fgsm, pgd, "
                        "backdoor, extract)", kind);
}
