/* cli/cmd_train.c - `nnguard train`: train a built-in architecture from scratch, or fine-tune
 * a model file, on an image dataset folder; per-epoch test accuracy; checkpoints and resume. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "load_model.h"

static void help(FILE *f)
{
    fprintf(f,
        "usage: nnguard train (--arch NAME | --init MODEL) [options] -o OUT\n\n"
        "Train a model on an image dataset (MNIST-IDX or CIFAR-10 folder) and save it as ONNX\n"
        "(or safetensors weights, by OUT's extension). The input shape comes from the data.\n\n"
        "  --arch NAME            new model: mlp, lenet5, vgg-small, resnet-small (with --init:\n"
        "                         the architecture of safetensors weights)\n"
        "  --init MODEL           start from a model file (fine-tuning)\n"
        "  --data DIR             dataset folder (default %s)\n"
        "  --fraction F           train on a stratified fraction F in (0,1] of the training set\n"
        "  --count N              ... or on N examples\n"
        "  --val-fraction V       hold out V of the training set; per-epoch accuracy is measured on it\n"
        "  --epochs N             default 10\n"
        "  --batch B              default 64\n"
        "  --optimizer adam|sgd   default adam\n"
        "  --lr R                 learning rate (default 1e-3 for Adam, 1e-2 for SGD)\n"
        "  --momentum M           SGD momentum (default 0)\n"
        "  --weight-decay W       L2 weight decay (default 0)\n"
        "  --schedule const|step|cosine   learning-rate schedule per epoch (step: x0.1 every third)\n"
        "  --freeze PATTERNS      comma-separated tensor name patterns (fnmatch) to keep fixed\n"
        "  --seed S               shuffling / initialisation seed (default 0)\n"
        "  --threads T            worker threads (default: all cores)\n"
        "  --checkpoint PATH      save model + PATH.state after every epoch\n"
        "  --resume               continue from --checkpoint if it exists\n"
        "  -o, --output OUT       output model (.onnx or .safetensors)\n"
        "  --force                replace an existing OUT or --checkpoint (never --init)\n"
        "  -q, --quiet            no progress\n"
        "  -h, --help\n", NG_DEFAULT_DATA_DIR);
}

enum { O_ARCH = 0x100, O_INIT, O_DATA, O_FRACTION, O_COUNT, O_VAL, O_EPOCHS, O_BATCH, O_OPT, O_LR,
       O_MOM, O_WD, O_SCHED, O_FREEZE, O_SEED, O_THREADS, O_CKPT, O_RESUME };

int ng_cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"arch", required_argument, NULL, O_ARCH}, {"init", required_argument, NULL, O_INIT},
        {"data", required_argument, NULL, O_DATA}, {"fraction", required_argument, NULL, O_FRACTION},
        {"count", required_argument, NULL, O_COUNT}, {"val-fraction", required_argument, NULL, O_VAL},
        {"epochs", required_argument, NULL, O_EPOCHS}, {"batch", required_argument, NULL, O_BATCH},
        {"optimizer", required_argument, NULL, O_OPT}, {"lr", required_argument, NULL, O_LR},
        {"momentum", required_argument, NULL, O_MOM}, {"weight-decay", required_argument, NULL, O_WD},
        {"schedule", required_argument, NULL, O_SCHED}, {"freeze", required_argument, NULL, O_FREEZE},
        {"seed", required_argument, NULL, O_SEED}, {"threads", required_argument, NULL, O_THREADS},
        {"checkpoint", required_argument, NULL, O_CKPT}, {"resume", no_argument, NULL, O_RESUME},
        {"output", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'},
        NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
    const char *cmd = "train", *arch = NULL, *init = NULL, *data = NG_DEFAULT_DATA_DIR, *out = NULL;
    double fraction = 1, val = 0, lr = -1, mom = 0, wd = 0;
    long long count = 0, v;
    ng_train_options o = ng_train_options_default();
    int c, force = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(stdout); return NG_EXIT_OK;
        case 'o': out = optarg; break;
        case 'q': o.quiet = 1; break;
        case O_ARCH: arch = optarg; break;
        case O_INIT: init = optarg; break;
        case O_DATA: data = optarg; break;
        case O_FRACTION: if (ng_cli_double(cmd, "--fraction", optarg, 1e-9, 1, &fraction)) return NG_EXIT_USAGE; break;
        case O_COUNT: if (ng_cli_int(cmd, "--count", optarg, 1, 1LL << 40, &count)) return NG_EXIT_USAGE; break;
        case O_VAL: if (ng_cli_double(cmd, "--val-fraction", optarg, 0, 0.99, &val)) return NG_EXIT_USAGE; break;
        case O_EPOCHS: if (ng_cli_int(cmd, "--epochs", optarg, 1, NG_TRAIN_MAX_EPOCHS, &v)) return NG_EXIT_USAGE; o.epochs = (int)v; break;
        case O_BATCH: if (ng_cli_int(cmd, "--batch", optarg, 1, 65536, &v)) return NG_EXIT_USAGE; o.batch = (int)v; break;
        case O_OPT:
            if (!strcmp(optarg, "adam")) o.optim = ng_optim_options_default(NG_OPTIM_ADAM);
            else if (!strcmp(optarg, "sgd")) o.optim = ng_optim_options_default(NG_OPTIM_SGD);
            else return ng_cli_usage(cmd, "--optimizer is adam or sgd, not '%s'", optarg);
            break;
        case O_LR: if (ng_cli_double(cmd, "--lr", optarg, 0, 100, &lr)) return NG_EXIT_USAGE; break;
        case O_MOM: if (ng_cli_double(cmd, "--momentum", optarg, 0, 0.999999, &mom)) return NG_EXIT_USAGE; break;
        case O_WD: if (ng_cli_double(cmd, "--weight-decay", optarg, 0, 10, &wd)) return NG_EXIT_USAGE; break;
        case O_SCHED: {
            int k;
            if (ng_cli_sched(cmd, optarg, &k)) return NG_EXIT_USAGE;
            o.sched = (ng_sched_kind)k;
            break;
        }
        case O_FREEZE: o.freeze = optarg; break;
        case O_SEED: if (ng_cli_int(cmd, "--seed", optarg, 0, 1LL << 62, &v)) return NG_EXIT_USAGE; o.seed = (uint64_t)v; break;
        case O_THREADS: if (ng_cli_int(cmd, "--threads", optarg, 0, 1024, &v)) return NG_EXIT_USAGE; o.threads = (int)v; break;
        case O_CKPT: o.checkpoint = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        default: return ng_cli_usage(cmd, "unknown option");
        }
    }
    if (optind < argc) return ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!arch && !init) return ng_cli_usage(cmd, "give --arch NAME (new model) or --init MODEL");
    if (!out) return ng_cli_usage(cmd, "give the output file with -o OUT.onnx");
    if (o.resume && !o.checkpoint) return ng_cli_usage(cmd, "--resume needs --checkpoint PATH");
    /* the checkpoint is an input with --resume, an output (replaced after every epoch) without */
    const char *outs[] = {out, o.resume ? NULL : o.checkpoint}, *ins[] = {init, o.resume ? o.checkpoint : NULL};
    ng_status cst = ng_cli_check_outputs(outs, 2, ins, 2, force);
    if (cst != NG_OK) return ng_cli_fail(cmd, cst);
    if (lr >= 0) o.optim.lr = (float)lr;
    o.optim.momentum = (float)mom;
    o.optim.weight_decay = (float)wd;

    ng_dataset full = {0}, tr = {0}, sub = {0}, held = {0}, te = {0};
    ng_model *m = NULL;
    ng_train_result *r = calloc(1, sizeof *r);
    int rc = NG_EXIT_FAIL;
    ng_status st = r ? NG_OK : NG_E_NOMEM;
    if (st || (st = ng_dataset_load_dir(data, NG_SPLIT_TRAIN, &full)) || (st = ng_dataset_load_dir(data, NG_SPLIT_TEST, &te)))
        goto fail;
    const ng_dataset *train = &full;
    if (fraction < 1 || count > 0) {
        if ((st = ng_dataset_subset(train, fraction, count, o.seed, &sub))) goto fail;
        train = &sub;
    }
    if (val > 0) {
        if ((st = ng_dataset_split(train, val, o.seed, &tr, &held))) goto fail;
        train = &tr;
    }
    if (init) {
        ng_cli_keys k = ng_cli_keys_default();
        k.arch = arch;
        ng_cli_keys_set_shape(&k, full.c, full.h, full.w);
        if ((st = ng_cli_open_model(cmd, init, &k, &m))) goto fail;
        if ((st = ng_cli_check_input(init, m, full.c, full.h, full.w, "training data"))) goto fail;
    } else if ((st = ng_model_from_arch(arch, full.c, full.h, full.w, full.classes, o.seed, &m))) {
        goto fail;
    }
    if (!o.quiet)
        fprintf(stderr, "training %s on %lld examples of %s (%dx%dx%d, %d classes), %d epochs, batch %d, %s lr %g, seed %llu\n",
                init ? init : arch, (long long)train->n, data, full.c, full.h, full.w, full.classes, o.epochs, o.batch,
                o.optim.kind == NG_OPTIM_ADAM ? "adam" : "sgd", (double)o.optim.lr, (unsigned long long)o.seed);
    if (!o.quiet && val > 0)
        fprintf(stderr, "per-epoch accuracy is on the %lld held-out examples, not the test set\n", (long long)held.n);
    const ng_dataset *eval = val > 0 ? &held : &te;
    if ((st = ng_train(m, train, eval, &o, r))) goto fail;
    double acc = r->final_acc;
    if (val > 0 && (st = ng_evaluate(m, &te, 0, 256, o.threads, &acc, NULL, NULL))) goto fail;
    if (init) ng_model_meta_set(m, "nnguard.train.init", init);
    else ng_model_meta_set(m, "nnguard.train.arch", arch);
    ng_model_meta_set(m, "nnguard.train.data", data);
    char n_s[32];
    snprintf(n_s, sizeof n_s, "%lld", (long long)train->n);
    ng_model_meta_set(m, "nnguard.train.examples", n_s);
    if ((st = ng_model_save(m, out))) goto fail;
    if (val > 0) printf("held-out accuracy %.2f%%, ", 100 * r->final_acc);
    printf("test accuracy %.2f%%, %.0f img/s training, saved %s\n", 100 * acc, r->images_per_s, out);
    rc = NG_EXIT_OK;
    goto done;
fail:
    rc = ng_cli_fail(cmd, st);
done:
    ng_model_free(m);
    ng_dataset_free(&full); ng_dataset_free(&sub); ng_dataset_free(&tr); ng_dataset_free(&held); ng_dataset_free(&te);
    free(r);
    return rc;
}
