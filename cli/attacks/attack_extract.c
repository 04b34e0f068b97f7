/* cli/attacks/attack_extract.c - `nnguard attack extract`: knockoff extraction through a real
 * prediction API (nnguard serve or any API answering its JSON), surrogate trained with our engine. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "attack_cli.h"
#include "nnguard/attack.h"

static const char extract_help[] =
    "usage: nnguard attack extract --api URL --budget N --pool DIR --arch ARCH -o SURROGATE [options]\n\n"
    "Knockoff extraction: send N images drawn (seeded) from the attacker's pool - the training split\n"
    "of DIR, never the owner's verification set - to the prediction API, train a fresh ARCH model\n"
    "on the answers (soft probabilities, or labels with --labels), save it, and report its test\n"
    "accuracy and its fidelity (agreement with the API's labels on further pool images).\n\n"
    "  --api URL               http://host:port (the /v1/predict endpoint is appended)\n"
    "  --token T | --token-file F   bearer token (F: its first line)\n"
    "  --budget N              images queried for training (default 5000)\n"
    "  --pool DIR              attacker's dataset folder (its training split; default " NG_DEFAULT_DATA_DIR ")\n"
    "  --arch ARCH             surrogate architecture: mlp, lenet5, vgg-small, resnet-small\n"
    "  -o, --output FILE       the surrogate (.onnx or .safetensors; written atomically)\n"
    "  --labels                train on the API's labels only (one-hot)\n"
    "  --epochs E              surrogate training epochs (default 20)\n"
    "  --lr R --train-batch B  Adam learning rate (1e-3) and batch (64)\n"
    "  --query-batch B         images per HTTP request (default 100)\n"
    "  --fidelity N            further images queried to measure fidelity (default 1000; 0: none)\n"
    "  --data DIR              test split for the surrogate's accuracy (default: the pool's)\n"
    NG_CLI_FORCE_HELP
    "  --seed S --threads T --json\n";

int ng_attack_run_extract(int argc, char **argv)
{
    enum { O_API = 0x5300, O_TOKEN, O_TOKFILE, O_BUDGET, O_POOL, O_ARCH, O_LABELS, O_EPOCHS, O_LR, O_TBATCH,
           O_QBATCH, O_FID, O_DATA, O_SEED, O_THREADS, O_JSON };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, {"api", required_argument, NULL, O_API},
        {"token", required_argument, NULL, O_TOKEN}, {"token-file", required_argument, NULL, O_TOKFILE},
        {"budget", required_argument, NULL, O_BUDGET}, {"pool", required_argument, NULL, O_POOL},
        {"arch", required_argument, NULL, O_ARCH}, {"output", required_argument, NULL, 'o'},
        {"labels", no_argument, NULL, O_LABELS}, {"epochs", required_argument, NULL, O_EPOCHS},
        {"lr", required_argument, NULL, O_LR}, {"train-batch", required_argument, NULL, O_TBATCH},
        {"query-batch", required_argument, NULL, O_QBATCH}, {"fidelity", required_argument, NULL, O_FID},
        {"data", required_argument, NULL, O_DATA}, {"seed", required_argument, NULL, O_SEED},
        {"threads", required_argument, NULL, O_THREADS}, {"json", no_argument, NULL, O_JSON},
        NG_CLI_FORCE_LONGOPT, {0, 0, 0, 0}};
    const char *cmd = "attack extract", *api = NULL, *token = NULL, *tokfile = NULL, *pool_dir = NG_DEFAULT_DATA_DIR;
    const char *arch = NULL, *out = NULL, *data = NULL;
    int json = 0, force = 0;
    long long v;
    double d;
    ng_extract_options o = ng_extract_options_default();
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(extract_help, stdout); return NG_EXIT_OK;
        case O_API: api = optarg; break;
        case O_TOKEN: token = optarg; break;
        case O_TOKFILE: tokfile = optarg; break;
        case O_BUDGET: if (ng_cli_int(cmd, "--budget", optarg, 1, 100000000, &v)) return NG_EXIT_USAGE; o.budget = v; break;
        case O_POOL: pool_dir = optarg; break;
        case O_ARCH: arch = optarg; break;
        case 'o': out = optarg; break;
        case O_LABELS: o.use_labels = 1; break;
        case O_EPOCHS: if (ng_cli_int(cmd, "--epochs", optarg, 1, NG_TRAIN_MAX_EPOCHS, &v)) return NG_EXIT_USAGE; o.train.epochs = (int)v; break;
        case O_LR: if (ng_cli_double(cmd, "--lr", optarg, 1e-9, 10, &d)) return NG_EXIT_USAGE; o.train.optim.lr = (float)d; break;
        case O_TBATCH: if (ng_cli_int(cmd, "--train-batch", optarg, 1, 65536, &v)) return NG_EXIT_USAGE; o.train.batch = (int)v; break;
        case O_QBATCH: if (ng_cli_int(cmd, "--query-batch", optarg, 1, 100000, &v)) return NG_EXIT_USAGE; o.batch = (int)v; break;
        case O_FID: if (ng_cli_int(cmd, "--fidelity", optarg, 0, 100000000, &v)) return NG_EXIT_USAGE; o.fidelity = v; break;
        case O_DATA: data = optarg; break;
        case O_SEED: if (ng_cli_int(cmd, "--seed", optarg, 0, (long long)1 << 62, &v)) return NG_EXIT_USAGE; o.seed = (uint64_t)v; break;
        case O_THREADS: if (ng_cli_int(cmd, "--threads", optarg, 0, 256, &v)) return NG_EXIT_USAGE; o.train.threads = (int)v; break;
        case O_JSON: json = 1; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        default: return ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!api || !arch || !out) return ng_cli_usage(cmd, "--api URL, --arch ARCH and -o SURROGATE are required");
    if (token && tokfile) return ng_cli_usage(cmd, "give --token or --token-file, not both");
    o.train.seed = o.seed;
    char *tokbuf = NULL;
    size_t toklen = 0;
    /* checked before hours of querying and training, not at the end */
    const char *ins[] = {tokfile, pool_dir, data};
    ng_status st = ng_cli_check_outputs(&out, 1, ins, 3, force);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    if (tokfile && (st = ng_passphrase_read(tokfile, NULL, &tokbuf, &toklen)) != NG_OK) return ng_cli_fail(cmd, st);
    if (tokbuf) token = tokbuf;
    ng_dataset pool = {0}, full = {0};
    ng_model *sur = NULL;
    ng_api_client *cl = NULL;
    ng_extract_result r;
    if ((st = ng_dataset_load_dir(pool_dir, NG_SPLIT_TRAIN, &pool)) != NG_OK) goto done;
    if ((st = ng_dataset_load_dir(data ? data : pool_dir, NG_SPLIT_TEST, &full)) != NG_OK) goto done;
    if ((st = ng_model_from_arch(arch, pool.c, pool.h, pool.w, pool.classes, o.seed + 7, &sur)) != NG_OK) goto done;
    if ((st = ng_api_client_new(api, token, &cl)) != NG_OK) goto done;
    if (!json) fprintf(stderr, "nnguard %s: querying %s with %lld + %lld images ...\n", cmd, api, (long long)o.budget, (long long)o.fidelity);
    if ((st = ng_attack_extract(cl, &pool, sur, &full, &o, &r)) != NG_OK) goto done;
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o.seed);
    ng_model_meta_set(sur, "nnguard.extract.seed", seed);
    if ((st = ng_model_save(sur, out)) != NG_OK) goto done;
    if (json) {
        json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:f,s:f,s:f,s:I,s:b,s:I,s:s}", "api", api, "arch", arch,
                              "queries", (json_int_t)r.queries, "requests", (json_int_t)r.requests,
                              "query_seconds", r.query_seconds, "accuracy", r.accuracy, "fidelity", r.fidelity,
                              "fidelity_queries", (json_int_t)r.fidelity_n, "labels_only", o.use_labels,
                              "seed", (json_int_t)o.seed, "surrogate", out);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        json_decref(j);
        if (s) { puts(s); free(s); }
    } else {
        printf("extraction through %s: %lld queries in %lld requests (%.1f s), surrogate %s -> %s\n", api,
               (long long)r.queries, (long long)r.requests, r.query_seconds, arch, out);
        printf("  surrogate test accuracy %.2f%%, fidelity %.2f%% (agreement with the API on %lld further images)\n",
               100 * r.accuracy, 100 * r.fidelity, (long long)r.fidelity_n);
    }
done:
    if (tokbuf) ng_passphrase_free(tokbuf, toklen);
    ng_api_client_free(cl);
    ng_model_free(sur);
    ng_dataset_free(&pool);
    ng_dataset_free(&full);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}
