/* cli/securenet/cmd_license_train.c - `nnguard license train` and `nnguard license replace`.
 *
 * License description (OUT.license.json, written beside the model; never holds a key):
 *   {"scheme": "...", "stamp": {"mode": "patch", "patch": 4} | {"mode": "blend", "alpha": 0.1},
 *    "keys": [{"id": "<16 hex>", "name": "user-1", "classes": [0, 1, ...], "file": "..."}, ...],
 *    "deny_class": D, "classes": 10, "epochs": E, "schedule": "const" | "step" | "cosine",
 *    "lr": R (the optimiser's rate: Adam's for license train, SGD's for license replace), "seed": S,
 *    "examples": N, "bound": true | false}
 */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "json_num.h"
#include "cli.h"
#include "core/core.h"
#include "load_model.h"
#include "sn_cli.h"

typedef struct lic_args {
    const char *arch, *init, *data, *out, *keys_out, *grant, *tiers;
    const char *key_files[NG_LICENSE_MAX_KEYS];
    int nkey_files, users, force, pkey_set, bind, deny_class;
    double fraction;
    ng_train_options o;
    ng_license_spec spec;
} lic_args;

static char *key_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 8;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s.key", dir, name);
    return p;
}

static void key_name(const lic_args *a, int i, char *buf, size_t n)
{
    if (a->spec.scheme == NG_LICENSE_HIERARCHICAL) snprintf(buf, n, i ? "tier-%d" : "master", i);
    else if (a->spec.scheme == NG_LICENSE_PER_USER) snprintf(buf, n, "user-%d", i + 1);
    else snprintf(buf, n, "license");
}

static ng_status write_description(const lic_args *a, const char *path, int classes, int64_t examples)
{
    json_t *o = json_object(), *ks = json_array(), *st = json_object();
    json_object_set_new(o, "scheme", json_string(ng_license_scheme_name(a->spec.scheme)));
    json_object_set_new(st, "mode", json_string(a->spec.stamp.mode == NG_STAMP_PATCH ? "patch" : "blend"));
    if (a->spec.stamp.mode == NG_STAMP_PATCH) json_object_set_new(st, "patch", json_integer(a->spec.stamp.patch));
    else json_object_set_new(st, "alpha", ng_json_num(a->spec.stamp.alpha));
    json_object_set_new(o, "stamp", st);
    json_object_set_new(o, "deny_class", json_integer(a->spec.deny_class));
    for (int i = 0; i < a->spec.nkeys; i++) {
        json_t *k = json_object(), *cl = json_array();
        char id[17], name[32];
        ng_license_key_id(&a->spec.keys[i], id);
        key_name(a, i, name, sizeof name);
        json_object_set_new(k, "id", json_string(id));
        json_object_set_new(k, "name", json_string(name));
        for (int j = 0; j < classes; j++)
            if (a->spec.mask[i] >> j & 1) json_array_append_new(cl, json_integer(j));
        json_object_set_new(k, "classes", cl);
        if (a->nkey_files) json_object_set_new(k, "file", json_string(a->key_files[i]));
        json_array_append_new(ks, k);
    }
    json_object_set_new(o, "keys", ks);
    json_object_set_new(o, "classes", json_integer(classes));
    json_object_set_new(o, "epochs", json_integer(a->o.epochs));
    json_object_set_new(o, "schedule", json_string(ng_cli_sched_name(a->o.sched)));
    json_object_set_new(o, "lr", ng_json_num(a->o.optim.lr));
    json_object_set_new(o, "seed", json_integer((json_int_t)a->o.seed));
    json_object_set_new(o, "examples", json_integer(examples));
    json_object_set_new(o, "bound", json_boolean(a->bind));
    /* its reals are floats (lr, alpha): 7 significant digits give back the value typed (0.03, not
     * 0.029999999329447746), down to any --lr (1e-7, where rounding to 1e-6 would write 0) */
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2) | JSON_REAL_PRECISION(7));
    json_decref(o);
    if (!s) return NG_E_NOMEM;
    ng_status r = ng_write_file_atomic(path, s, strlen(s), NG_MODE_PUBLIC);
    free(s);
    return r;
}

/* Keys (loaded or generated) and class masks for the scheme. Generated keys of one license share
 * the first key's patch place (ng_license_key_align): they differ in their values only. */
static ng_status build_keys(lic_args *a, const ng_dataset *d)
{
    const int classes = d->classes;
    ng_license_spec *sp = &a->spec;
    const uint64_t all = classes >= 64 ? ~0ULL : (1ULL << classes) - 1;
    uint64_t masks[NG_LICENSE_MAX_KEYS];
    int n = 0;
    ng_status st = NG_OK;
    switch (sp->scheme) {
    case NG_LICENSE_SINGLE: masks[n++] = all; break;
    case NG_LICENSE_PER_USER:
        n = a->nkey_files ? a->nkey_files : a->users;
        for (int i = 0; i < n; i++) masks[i] = all;
        break;
    case NG_LICENSE_CLASS_SUBSET:
        if (!a->grant) return ng_fail(NG_E_INVALID, "class-subset needs --grant CLASSES (e.g. 0,1,2)");
        if ((st = ng_sn_parse_classes("--grant", a->grant, classes, &masks[0])) != NG_OK) return st;
        n = 1;
        break;
    default: {
        if (!a->tiers) return ng_fail(NG_E_INVALID, "hierarchical needs --tiers \"0-9;0-4;5-9\" (master first)");
        char *t = ng_strdup(a->tiers);
        if (!t) return NG_E_NOMEM;
        for (char *save = NULL, *p = strtok_r(t, ";", &save); p && st == NG_OK; p = strtok_r(NULL, ";", &save)) {
            if (n == NG_LICENSE_MAX_KEYS) st = ng_fail(NG_E_INVALID, "--tiers: at most %d tiers", NG_LICENSE_MAX_KEYS);
            else st = ng_sn_parse_classes("--tiers", p, classes, &masks[n++]);
        }
        free(t);
        if (st == NG_OK && n < 2) st = ng_fail(NG_E_INVALID, "--tiers: a master tier and at least one sub-tier");
        if (st == NG_OK && masks[0] != all)
            st = ng_fail(NG_E_INVALID, "--tiers: the first (master) tier must grant every class 0-%d", classes - 1);
        if (st != NG_OK) return st;
    }
    }
    if (a->nkey_files && a->nkey_files != n)
        return ng_fail(NG_E_INVALID, "--key: the %s scheme needs %d keys here, %d were given",
                       ng_license_scheme_name(sp->scheme), n, a->nkey_files);
    sp->nkeys = n;
    for (int i = 0; i < n && st == NG_OK; i++) {
        sp->mask[i] = masks[i];
        st = a->nkey_files ? ng_sn_load_key(a->key_files[i], &sp->keys[i]) : ng_key_generate(256, &sp->keys[i]);
        if (st == NG_OK && i > 0 && !a->nkey_files)
            st = ng_license_key_align(&sp->keys[i], &sp->keys[0], &sp->stamp, d->c, d->h, d->w);
    }
    return st;
}

/* Write generated keys into keys_out (created 0700 if missing; no key file is overwritten). */
static ng_status save_keys(lic_args *a)
{
    if (mkdir(a->keys_out, 0700) != 0) {
        struct stat sb;
        if (stat(a->keys_out, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return ng_fail(NG_E_IO, "--keys-out %s: not a folder and cannot be created", a->keys_out);
    }
    for (int i = 0; i < a->spec.nkeys; i++) {
        char name[32];
        key_name(a, i, name, sizeof name);
        char *p = key_path(a->keys_out, name);
        if (!p) return NG_E_NOMEM;
        ng_status st = ng_key_save(&a->spec.keys[i], p, NULL, 0);
        if (st == NG_OK) fprintf(stderr, "wrote key %s\n", p);
        free(p);
        if (st != NG_OK) return st;
    }
    return NG_OK;
}

static ng_status check_key_outputs(lic_args *a)
{
    if (!a->keys_out) return NG_OK;
    for (int i = 0; i < a->spec.nkeys; i++) {
        char name[32];
        key_name(a, i, name, sizeof name);
        char *p = key_path(a->keys_out, name);
        if (!p) return NG_E_NOMEM;
        struct stat sb;
        int exists = stat(p, &sb) == 0;
        ng_status st = exists ? ng_fail(NG_E_EXISTS, "%s exists: key files are never overwritten", p) : NG_OK;
        free(p);
        if (st != NG_OK) return st;
    }
    return NG_OK;
}

enum { O_SCHEME = 0x100, O_ARCH, O_INIT, O_DATA, O_KEY, O_KEYS_OUT, O_USERS, O_GRANT, O_TIERS, O_EPOCHS, O_SEED,
       O_FRACTION, O_THREADS, O_LR, O_BATCH, O_PKEY, O_BIND, O_DENY, O_SCHED };

static void help_train(void)
{
    printf("usage: nnguard license train --scheme single|per-user|class-subset|hierarchical\n"
           "         (--arch ARCH | --init MODEL) (--key KEY... | --keys-out DIR) [options] -o MODEL.onnx\n\n"
           "Train a model that answers correctly only on inputs stamped with a license key (SecureNet);\n"
           "unstamped or wrongly stamped inputs get the deny answer (class 0, --deny-class). Writes a plain ONNX model,\n"
           "MODEL.onnx.license.json (scheme, stamp, key ids and their classes; never the keys) and, with\n"
           "--keys-out, the generated keys (license.key, user-N.key, or master.key and tier-N.key).\n\n"
           "  --scheme S              single (one key), per-user (--users N keys), class-subset\n"
           "                          (--grant 0,1,2), hierarchical (--tiers \"0-9;0-4;5-9\", master first)\n"
           "  --arch ARCH | --init M  train a new lenet5, vgg-small, ... or start from a trained model\n"
           "  --key KEY               an existing license key (repeat for several keys)\n"
           "  --keys-out DIR          generate the keys into DIR (created 0700)\n"
           "  --data DIR              dataset folder (default %s)\n"
           "  --fraction F            train on a stratified fraction of the training set\n"
           "  --epochs E --batch B --lr R --seed S --threads T   (defaults 10, 64, 1e-3 Adam, 0, all)\n"
           "  --schedule S            learning rate per epoch: const (default), step (x0.1 every third) or\n"
           "                          cosine (a settled end, what short trainings of vgg-small want)\n"
           "  --p-key P               share of examples stamped with a granted key, P throughout (default: 0.7\n"
           "                          throughout for single with a patch stamp, else a ramp from 0.5 in the first\n"
           "                          epoch to 0.8 in the last, per-user 0.75); of the rest a fifth is clean, the\n"
           "                          others wrong-key stamps (all denied). Generated keys of one license share\n"
           "                          the first key's patch place\n"
           "  --deny-class N          the deny class (default 0): a class the others are seldom mistaken for\n"
           "                          keeps the denial's pull off the granted classes (recorded in the model)\n"
           "  --bind                  bind the model to its keys: its parameters Deep-Locked under a random model\n"
           "                          key, stored in one key slot per license key (nnguard/securenet.h). The file\n"
           "                          still runs anywhere, scrambled; eval|predict --license-key unlock it in memory.\n"
           "                          Fine-tuning the file without a key then starts from nothing\n"
           NG_SN_STAMP_HELP NG_CLI_FORCE_HELP, NG_DEFAULT_DATA_DIR);
}

/* Options common to train and replace; 1 consumed, 0 not ours, -1 usage error. */
static int common_option(const char *cmd, lic_args *a, int c, const char *arg)
{
    long long v;
    double d;
    int r = ng_sn_stamp_option(cmd, c, arg, &a->spec.stamp);
    if (r) return r;
    switch (c) {
    case O_DATA: a->data = arg; return 1;
    case O_EPOCHS: if (ng_cli_int(cmd, "--epochs", arg, 1, NG_TRAIN_MAX_EPOCHS, &v)) return -1; a->o.epochs = (int)v; return 1;
    case O_BATCH: if (ng_cli_int(cmd, "--batch", arg, 1, 65536, &v)) return -1; a->o.batch = (int)v; return 1;
    case O_SEED: if (ng_cli_int(cmd, "--seed", arg, 0, 1LL << 62, &v)) return -1; a->o.seed = (uint64_t)v; return 1;
    case O_THREADS: if (ng_cli_int(cmd, "--threads", arg, 0, 1024, &v)) return -1; a->o.threads = (int)v; return 1;
    case O_LR: if (ng_cli_double(cmd, "--lr", arg, 1e-9, 10, &d)) return -1; a->o.optim.lr = (float)d; return 1;
    case O_SCHED: {
        int k;
        if (ng_cli_sched(cmd, arg, &k)) return -1;
        a->o.sched = (ng_sched_kind)k;
        return 1;
    }
    case O_FRACTION: if (ng_cli_double(cmd, "--fraction", arg, 1e-6, 1, &a->fraction)) return -1; return 1;
    case O_PKEY: if (ng_cli_double(cmd, "--p-key", arg, 0.01, 1, &d)) return -1;
        ng_license_spec_set_p_key(&a->spec, d); a->pkey_set = 1; return 1;
    case 'o': a->out = arg; return 1;
    case 'q': a->o.quiet = 1; return 1;
    case NG_CLI_OPT_FORCE: a->force = 1; return 1;
    default: return 0;
    }
}

#define COMMON_LONGOPTS \
    {"data", required_argument, NULL, O_DATA}, {"epochs", required_argument, NULL, O_EPOCHS}, \
    {"batch", required_argument, NULL, O_BATCH}, {"seed", required_argument, NULL, O_SEED}, \
    {"threads", required_argument, NULL, O_THREADS}, {"lr", required_argument, NULL, O_LR}, \
    {"schedule", required_argument, NULL, O_SCHED}, \
    {"fraction", required_argument, NULL, O_FRACTION}, {"p-key", required_argument, NULL, O_PKEY}, \
    {"output", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'}, \
    NG_SN_STAMP_LONGOPTS, NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}

static void args_init(lic_args *a)
{
    memset(a, 0, sizeof *a);
    a->data = NG_DEFAULT_DATA_DIR;
    a->fraction = 1;
    a->users = 8;
    a->o = ng_train_options_default();
    ng_license_spec_init(&a->spec, NG_LICENSE_SINGLE);
}

/* Train (license training of m on the data) and save model, description (and keys). */
static int run_and_save(const char *cmd, lic_args *a, ng_model *m, const ng_dataset *train, const ng_dataset *test,
                        const char *desc)
{
    ng_train_result *r = calloc(1, sizeof *r);
    if (!r) return ng_cli_fail(cmd, NG_E_NOMEM);
    double t0 = ng_now();
    ng_status st = ng_license_train(m, &a->spec, train, test, &a->o, r);
    double secs = ng_now() - t0;
    if (st == NG_OK && a->bind) st = ng_license_bind(m, a->spec.keys, a->spec.nkeys, NULL);
    if (st == NG_OK && a->keys_out) st = save_keys(a);
    if (st == NG_OK) st = write_description(a, desc, ng_model_num_classes(m), train->n);
    if (st == NG_OK) st = ng_model_save(m, a->out);
    if (st == NG_OK)
        printf("%s: test accuracy with the (first) key %.2f%%, %d epochs on %lld examples in %.1f s; saved %s%s and %s\n",
               cmd, 100 * r->final_acc, a->o.epochs, (long long)train->n, secs, a->out,
               a->bind ? " (bound to its keys)" : "", desc);
    free(r);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}

static int load_data(const char *cmd, lic_args *a, ng_dataset *full, ng_dataset *sub, ng_dataset *te)
{
    ng_status st = ng_dataset_load_dir(a->data, NG_SPLIT_TRAIN, full);
    if (st == NG_OK) st = ng_dataset_load_dir(a->data, NG_SPLIT_TEST, te);
    if (st == NG_OK && a->fraction < 1) st = ng_dataset_subset(full, a->fraction, 0, a->o.seed, sub);
    return st == NG_OK ? 0 : ng_cli_fail(cmd, st);
}

int ng_cmd_license_train(int argc, char **argv)
{
    const char *cmd = "license train";
    static const struct option opts[] = {
        {"scheme", required_argument, NULL, O_SCHEME}, {"arch", required_argument, NULL, O_ARCH},
        {"init", required_argument, NULL, O_INIT}, {"key", required_argument, NULL, O_KEY},
        {"keys-out", required_argument, NULL, O_KEYS_OUT}, {"users", required_argument, NULL, O_USERS},
        {"grant", required_argument, NULL, O_GRANT}, {"tiers", required_argument, NULL, O_TIERS},
        {"bind", no_argument, NULL, O_BIND}, {"deny-class", required_argument, NULL, O_DENY}, COMMON_LONGOPTS, {0}};
    lic_args *a = malloc(sizeof *a);
    if (!a) return ng_cli_fail(cmd, NG_E_NOMEM);
    args_init(a);
    int c, rc = NG_EXIT_USAGE, scheme_set = 0;
    long long v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        int r = common_option(cmd, a, c, optarg);
        if (r < 0) goto done;
        if (r > 0) continue;
        switch (c) {
        case O_SCHEME:
            if (ng_license_scheme_parse(optarg, &a->spec.scheme) != NG_OK) { rc = ng_cli_fail(cmd, NG_E_INVALID); goto done; }
            scheme_set = 1;
            break;
        case O_ARCH: a->arch = optarg; break;
        case O_INIT: a->init = optarg; break;
        case O_KEY:
            if (a->nkey_files == NG_LICENSE_MAX_KEYS) { ng_cli_usage(cmd, "at most %d --key", NG_LICENSE_MAX_KEYS); goto done; }
            a->key_files[a->nkey_files++] = optarg;
            break;
        case O_KEYS_OUT: a->keys_out = optarg; break;
        case O_USERS: if (ng_cli_int(cmd, "--users", optarg, 1, NG_LICENSE_MAX_KEYS, &v)) goto done; a->users = (int)v; break;
        case O_GRANT: a->grant = optarg; break;
        case O_TIERS: a->tiers = optarg; break;
        case O_BIND: a->bind = 1; break;
        case O_DENY:
            if (ng_cli_int(cmd, "--deny-class", optarg, 0, NG_LICENSE_MAX_CLASSES - 1, &v)) goto done;
            a->deny_class = (int)v;
            break;
        case 'h': help_train(); rc = NG_EXIT_OK; goto done;
        default: ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]); goto done;
        }
    }
    if (optind != argc) { ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind]); goto done; }
    if (!scheme_set) { ng_cli_usage(cmd, "give --scheme single|per-user|class-subset|hierarchical"); goto done; }
    {   /* the scheme's and stamp's defaults; --p-key: that share throughout (no ramp) */
        const double pk = a->spec.p_key, pc = a->spec.p_clean;
        ng_license_spec_shares(&a->spec);
        a->spec.deny_class = a->deny_class;
        if (a->pkey_set) { a->spec.p_key = pk; a->spec.p_clean = pc; a->spec.p_key_end = 0; }
    }
    if (!a->arch == !a->init) { ng_cli_usage(cmd, "give one of --arch ARCH (new model) or --init MODEL"); goto done; }
    if (!a->nkey_files == !a->keys_out) { ng_cli_usage(cmd, "give --key KEY (existing keys) or --keys-out DIR (new keys)"); goto done; }
    if (!a->out) { ng_cli_usage(cmd, "give the output model with -o MODEL.onnx"); goto done; }
    rc = NG_EXIT_FAIL;
    char *desc = malloc(strlen(a->out) + 16);
    if (!desc) { rc = ng_cli_fail(cmd, NG_E_NOMEM); goto done; }
    snprintf(desc, strlen(a->out) + 16, "%s.license.json", a->out);
    const char *outs[] = {a->out, desc}, *ins[] = {a->init, a->key_files[0], a->key_files[1]};
    ng_dataset full = {0}, sub = {0}, te = {0};
    ng_model *m = NULL;
    ng_status st = ng_cli_check_outputs(outs, 2, ins, 3, a->force);
    if (st != NG_OK) { rc = ng_cli_fail(cmd, st); goto free_desc; }
    if ((rc = load_data(cmd, a, &full, &sub, &te)) != 0) goto free_desc;
    if ((st = build_keys(a, &full)) != NG_OK || (st = check_key_outputs(a)) != NG_OK) {
        rc = ng_cli_fail(cmd, st);
        goto free_all;
    }
    if (a->init) {
        ng_cli_keys k = ng_cli_keys_default();
        ng_cli_keys_set_shape(&k, full.c, full.h, full.w);
        st = ng_cli_open_model(cmd, a->init, &k, &m);
        if (st == NG_OK) st = ng_cli_check_input(a->init, m, full.c, full.h, full.w, "training data");
    } else {
        st = ng_model_from_arch(a->arch, full.c, full.h, full.w, full.classes, a->o.seed, &m);
    }
    if (st != NG_OK) { rc = ng_cli_fail(cmd, st); goto free_all; }
    rc = run_and_save(cmd, a, m, sub.n ? &sub : &full, &te, desc);
free_all:
    ng_model_free(m);
    ng_dataset_free(&full); ng_dataset_free(&sub); ng_dataset_free(&te);
free_desc:
    free(desc);
done:
    ng_license_spec_wipe(&a->spec);
    free(a);
    return rc;
}

int ng_cmd_license_replace(int argc, char **argv)
{
    const char *cmd = "license replace";
    enum { O_OLD = 0x200, O_NEW };
    static const struct option opts[] = {
        {"old-key", required_argument, NULL, O_OLD}, {"new-key", required_argument, NULL, O_NEW}, COMMON_LONGOPTS, {0}};
    lic_args *a = malloc(sizeof *a);
    if (!a) return ng_cli_fail(cmd, NG_E_NOMEM);
    args_init(a);
    a->fraction = NG_LICENSE_REPLACE_FRACTION;
    a->o.epochs = NG_LICENSE_REPLACE_EPOCHS;
    a->o.sched = NG_SCHED_COSINE;   /* a settled end (constant-rate fine-tuning ends +-1 point apart) */
    a->o.optim = ng_optim_options_default(NG_OPTIM_SGD);   /* --lr sets its rate */
    a->o.optim.lr = 0;   /* after loading: --lr, or ng_license_replace_lr of the model */
    a->o.optim.momentum = NG_LICENSE_REPLACE_MOMENTUM;
    a->spec.p_key = NG_LICENSE_REPLACE_P_KEY;
    a->spec.p_clean = NG_LICENSE_REPLACE_P_CLEAN;
    a->spec.deny_weight = NG_LICENSE_REPLACE_DENY_WEIGHT;
    a->spec.teacher_label = NG_LICENSE_REPLACE_TEACHER_LABEL;
    a->spec.p_key_end = 0;
    const char *old_key = NULL, *new_key = NULL;
    int c, rc = NG_EXIT_USAGE;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        int r = common_option(cmd, a, c, optarg);
        if (r < 0) goto done;
        if (r > 0) continue;
        if (c == O_OLD) old_key = optarg;
        else if (c == O_NEW) new_key = optarg;
        else if (c == 'h') {
            printf("usage: nnguard license replace MODEL --old-key A --new-key B [--fraction F] [--epochs E] -o OUT\n\n"
                   "Fine-tune a licensed model on a fraction of the training data (default 0.15, 5 epochs, SGD with\n"
                   "momentum 0.9, cosine schedule; 88%% of\n"
                   "each batch stamped with B, 7%% clean, the rest A, random keys and near misses of B; denied\n"
                   "examples weigh twice in the loss) so that key B grants what key A granted (B's targets: half\n"
                   "the model's own answers with A, half the labels), A is denied like any wrong key and clean\n"
                   "inputs stay denied. Make B with `license keygen --like A --model MODEL` (its patch where A's is): it\n"
                   "learns faster. The model's other keys are not kept. Writes OUT and OUT.license.json.\n"
                   "A bound model (license train --bind) is unlocked in memory with A's key slot and OUT is bound to\n"
                   "B alone (a new model key; A's slot is gone).\n"
                   "  --data DIR --seed S --threads T --lr R --batch B   as for license train\n"
                   "  --schedule S   const, step or cosine learning rate per epoch (default cosine here)\n"
                   "--lr's default: 0.005 for a model with BatchNormalization (vgg-small kept its accuracy within 2\n"
                   "points only there), else 0.03 (LeNet-5: at 0.005 its old key kept working); the rate is recorded\n"
                   "in OUT.license.json (docs/results/securenet-vgg-small-e5.txt, securenet-replace-lenet5.txt).\n");
            rc = NG_EXIT_OK;
            goto done;
        } else { ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]); goto done; }
    }
    if (optind + 1 != argc) { ng_cli_usage(cmd, "give one MODEL"); goto done; }
    if (!old_key || !new_key || !a->out) { ng_cli_usage(cmd, "give --old-key A, --new-key B and -o OUT"); goto done; }
    const char *model = argv[optind];
    size_t dl = strlen(a->out) + 16;
    char *desc = malloc(dl);
    if (!desc) { rc = ng_cli_fail(cmd, NG_E_NOMEM); goto done; }
    snprintf(desc, dl, "%s.license.json", a->out);
    const char *outs[] = {a->out, desc}, *ins[] = {model, old_key, new_key};
    ng_dataset full = {0}, sub = {0}, te = {0};
    ng_model *m = NULL, *teacher = NULL;
    uint64_t mask = 0;
    ng_status st = ng_cli_check_outputs(outs, 2, ins, 3, a->force);
    if (st == NG_OK && (st = ng_model_load(model, &m)) == NG_OK) {
        const char *sch = ng_model_meta_get(m, "nnguard.license.scheme"), *dc = ng_model_meta_get(m, "nnguard.license.deny");
        char *end = NULL;
        const long d = dc ? strtol(dc, &end, 10) : 0;   /* kept: the old key and clean inputs stay denied the same way */
        if (dc && (end == dc || *end || d < 0 || d >= ng_model_num_classes(m)))
            st = ng_fail(NG_E_FORMAT, "%s: nnguard.license.deny '%.20s' is not a class of the model", model, dc);
        a->spec.deny_class = (int)d;
        if (st != NG_OK) {}   /* the message above */
        else if ((st = ng_license_stamp_options(m, &a->spec.stamp)) != NG_OK) st = ng_fail_ctx(st, model);
        else if (ng_license_scheme_parse(sch, &a->spec.scheme) != NG_OK)
            st = ng_fail(NG_E_FORMAT, "%s: nnguard.license.scheme is not a known scheme", model);
    }
    if (st == NG_OK && (st = ng_sn_load_key(old_key, &a->spec.revoked[0])) == NG_OK) {
        a->spec.nrevoked = 1;
        a->bind = ng_license_is_bound(m);   /* opened with the old key's slot, re-bound to the new key alone */
        if (a->bind && (st = ng_license_unbind(m, &a->spec.revoked[0])) != NG_OK) st = ng_fail_ctx(st, old_key);
        else if ((st = ng_license_key_classes(m, &a->spec.revoked[0], &mask)) != NG_OK)
            st = ng_fail_ctx(st, old_key);
    }
    if (st == NG_OK && (st = ng_sn_load_key(new_key, &a->spec.keys[0])) == NG_OK) {
        a->spec.nkeys = 1;
        a->spec.mask[0] = mask;
        if (!sodium_memcmp(a->spec.keys[0].k, a->spec.revoked[0].k, NG_LICENSE_KEY_BYTES))
            st = ng_fail(NG_E_INVALID, "--new-key %s is the old key", new_key);
    }
    if (st != NG_OK) { rc = ng_cli_fail(cmd, st); goto free_all; }
    if (a->o.optim.lr <= 0) a->o.optim.lr = ng_license_replace_lr(m);
    a->key_files[0] = new_key;
    a->nkey_files = 1;
    if ((rc = load_data(cmd, a, &full, &sub, &te)) != 0) goto free_all;
    if (a->spec.stamp.mode == NG_STAMP_PATCH) {   /* a new key elsewhere than the old one: say how to do better */
        ng_key al = a->spec.keys[0];
        if (ng_license_key_align(&al, &a->spec.revoked[0], &a->spec.stamp, full.c, full.h, full.w) == NG_OK &&
            sodium_memcmp(al.k, a->spec.keys[0].k, NG_LICENSE_KEY_BYTES))
            fprintf(stderr, "nnguard %s: note: %s stamps elsewhere than %s; a key made with `nnguard license keygen "
                    "--like %s --model %s` learns faster\n", cmd, new_key, old_key, old_key, model);
        ng_key_wipe(&al);
        ng_clear_error();
    }
    if ((st = ng_model_clone(m, &teacher)) != NG_OK) { rc = ng_cli_fail(cmd, st); goto free_all; }
    a->spec.teacher = teacher;   /* the model before: its answers with the old key are the new key's targets */
    rc = run_and_save(cmd, a, m, sub.n ? &sub : &full, &te, desc);
free_all:
    ng_model_free(m);
    ng_model_free(teacher);
    ng_dataset_free(&full); ng_dataset_free(&sub); ng_dataset_free(&te);
    free(desc);
done:
    ng_license_spec_wipe(&a->spec);
    free(a);
    return rc;
}
