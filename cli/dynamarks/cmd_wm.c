/* cli/dynamarks/cmd_wm.c - `nnguard wm verify SUSPECT ...`: the DynaMarks ownership test
 * (SCHEMES.md section 4) on a suspect model file. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "load_model.h"
#include "wm_cli.h"
#include "nnguard/serve.h"

static const char wm_help[] =
    "usage: nnguard wm verify SUSPECT --wm-secret FILE [--mode soft|label] [options]\n\n"
    "Is SUSPECT (a model file) a surrogate extracted from your watermarked API?\n"
    "  soft  (default): query SUSPECT and your unwatermarked model (--owner) on a verification\n"
    "        set the attacker never saw (the test split of --data); per predicted class, rank\n"
    "        the other classes by SUSPECT's mean probability minus OWNER's; the statistic is the\n"
    "        sum of the Kendall taus against the secret rankings; its p-value is exact (the\n"
    "        null's randomness is the C keyed permutations, never the inputs).\n"
    "  label: agreement of SUSPECT with the wrong labels the API gave to client --client, as\n"
    "        recorded in --log; binomial p-value against the chance rate 1/(C-1).\n"
    "Verdict \"stolen\" when p < --threshold (default 1e-6). Exit 0 either way.\n\n"
    "  --wm-secret FILE        the API's watermark key file\n"
    "  --mode soft|label       (default soft)\n"
    "  --owner MODEL           soft: your own model as served, without the watermark\n"
    "  --data DIR              soft: dataset folder; its test split is the verification set\n"
    "                          (default " NG_DEFAULT_DATA_DIR ")\n"
    "  --limit N               soft: first N verification images (default all)\n"
    "  --log DB --client NAME  label: the API's request log and the suspected client\n"
    "  --wm-strength A         soft: the API's strength (A or AMIN,AMAX; default 0.3,0.6): the owner's\n"
    "                          probabilities are scaled by 1 - (AMIN+AMAX)/2 before the residual\n"
    "  --threshold P           (default 1e-6)\n"
    "  --threads T  --json\n"
    "key options (for a locked --owner) and architecture options (for safetensors weights):\n"
    NG_CLI_KEY_HELP NG_CLI_ARCH_HELP;

typedef struct lab_ctx {
    ng_model *suspect;
    int64_t n, cap;
    int32_t *given, *got;
    ng_status st;
    int c, h, w;
} lab_ctx;

static int on_entry(void *arg, const ng_wmlog_entry *e)
{
    lab_ctx *l = arg;
    if (e->c != l->c || e->h != l->h || e->w != l->w) {
        l->st = ng_fail(NG_E_SHAPE, "the log holds %dx%dx%d inputs, the suspect takes %dx%dx%d", e->c, e->h, e->w, l->c, l->h, l->w);
        return 1;
    }
    if (l->n == l->cap) {
        int64_t nc = l->cap ? 2 * l->cap : 256;
        int32_t *a = realloc(l->given, (size_t)nc * sizeof *a), *b = a ? realloc(l->got, (size_t)nc * sizeof *b) : NULL;
        if (a) l->given = a;
        if (b) l->got = b;
        if (!a || !b) { l->st = ng_fail(NG_E_NOMEM, "out of memory"); return 1; }
        l->cap = nc;
    }
    float z[NG_WM_MAX_CLASSES];
    if ((l->st = ng_model_predict(l->suspect, e->input, 1, 1, 1, z)) != NG_OK) return 1;
    int C = ng_model_num_classes(l->suspect), b = 0;
    for (int k = 1; k < C; k++) if (z[k] > z[b]) b = k;
    l->given[l->n] = e->label;
    l->got[l->n] = b;
    l->n++;
    return 0;
}

ng_status ng_wm_cli_verify_label(ng_model *suspect, const char *log_path, const char *client, double threshold,
                                 ng_wm_result *r)
{
    ng_wmlog *log;
    ng_status st = ng_wmlog_sqlite_open(log_path, 1, &log);
    if (st != NG_OK) return st;
    ng_shape is;
    ng_model_input_shape(suspect, &is);
    lab_ctx l = { .suspect = suspect, .c = (int)is.d[1], .h = (int)is.d[2], .w = (int)is.d[3] };
    if (ng_model_num_classes(suspect) > NG_WM_MAX_CLASSES) st = ng_fail(NG_E_UNSUPPORTED, "too many classes");
    if (st == NG_OK) st = ng_wmlog_foreach(log, client, on_entry, &l);
    if (st == NG_OK) st = l.st;
    if (st == NG_OK) st = ng_wm_label_verify(ng_model_num_classes(suspect), l.got, l.given, l.n, threshold, r);
    free(l.given);
    free(l.got);
    ng_wmlog_close(log);
    return st;
}

ng_status ng_wm_cli_verify_soft(ng_model *suspect, ng_model *owner, const ng_wm *wm, const ng_dataset *ver,
                                int threads, double threshold, ng_wm_result *r)
{
    int C = ng_wm_classes(wm);
    if (ng_model_num_classes(suspect) != C || ng_model_num_classes(owner) != C)
        return ng_fail(NG_E_SHAPE, "the suspect has %d classes, the owner's model %d, the watermark %d",
                       ng_model_num_classes(suspect), ng_model_num_classes(owner), C);
    float *ps = calloc((size_t)ver->n, (size_t)C * sizeof *ps), *po = calloc((size_t)ver->n, (size_t)C * sizeof *po);
    ng_status st = ps && po ? NG_OK : ng_fail(NG_E_NOMEM, "out of memory");
    if (st == NG_OK) st = ng_model_predict_proba(suspect, ver->x, ver->n, threads, ps);
    if (st == NG_OK) st = ng_model_predict_proba(owner, ver->x, ver->n, threads, po);
    for (int64_t i = 0; st == NG_OK && i < ver->n * C; i++)
        if (!isfinite(po[i]) || !isfinite(ps[i]))
            st = ng_fail(NG_E_STATE, "the %s model gives non-finite outputs: is it locked? (pass the owner's --key)",
                         isfinite(po[i]) ? "suspect" : "owner's");
    if (st == NG_OK) st = ng_wm_soft_verify(wm, ps, po, ver->n, threshold, r);
    free(ps);
    free(po);
    return st;
}

void ng_wm_cli_print(const ng_wm_result *r, const char *suspect, double threshold)
{
    printf("DynaMarks verification (%s mode) of %s\n", ng_wm_mode_name(r->mode), suspect);
    if (r->mode == NG_WM_SOFT) {
        printf("  %lld verification inputs, %d classes used; Kendall tau per class:", (long long)r->n, r->classes_used);
        for (int c = 0; c < r->classes_used && c < NG_WM_MAX_CLASSES; c++) printf(" %.2f", r->tau[c]);
        printf("\n  statistic (sum of taus) %.4f\n", r->statistic);
    } else {
        printf("  %lld watermarked queries recorded, suspect agrees on %lld (%.2f%%; chance at most 1/(C-1))\n",
               (long long)r->n, (long long)r->agree, 100 * r->statistic);
    }
    printf("  p-value %.3g -> %s (threshold %g)\n", r->p_value, r->stolen ? "STOLEN: the suspect carries the watermark"
                                                                           : "not detected", threshold);
}

json_t *ng_wm_cli_json(const ng_wm_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "mode", json_string(ng_wm_mode_name(r->mode)));
    json_object_set_new(o, "statistic", ng_json_num(r->statistic));
    json_object_set_new(o, "p_value", ng_json_num(r->p_value));
    json_object_set_new(o, "n", json_integer(r->n));
    json_object_set_new(o, "verdict", json_string(r->stolen ? "stolen" : "not detected"));
    if (r->mode == NG_WM_SOFT) {
        json_t *t = json_array();
        for (int c = 0; c < NG_WM_MAX_CLASSES && c < r->classes_used; c++) json_array_append_new(t, ng_json_num(r->tau[c]));
        json_object_set_new(o, "tau", t);
        json_object_set_new(o, "classes_used", json_integer(r->classes_used));
    } else {
        json_object_set_new(o, "agree", json_integer(r->agree));
    }
    return o;
}

static int verify(int argc, char **argv)
{
    enum { O_SECRET = 0x5200, O_MODE, O_OWNER, O_DATA, O_LIMIT, O_LOG, O_CLIENT, O_THRESH, O_THREADS, O_JSON, O_STRENGTH };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"wm-secret", required_argument, NULL, O_SECRET}, {"mode", required_argument, NULL, O_MODE},
        {"owner", required_argument, NULL, O_OWNER}, {"data", required_argument, NULL, O_DATA},
        {"limit", required_argument, NULL, O_LIMIT}, {"log", required_argument, NULL, O_LOG},
        {"client", required_argument, NULL, O_CLIENT}, {"threshold", required_argument, NULL, O_THRESH},
        {"threads", required_argument, NULL, O_THREADS}, {"json", no_argument, NULL, O_JSON},
        {"wm-strength", required_argument, NULL, O_STRENGTH},
        NG_CLI_KEY_LONGOPTS, NG_CLI_ARCH_LONGOPTS,
        {0, 0, 0, 0}};
    const char *cmd = "wm verify", *secret = NULL, *owner_path = NULL, *data = NG_DEFAULT_DATA_DIR;
    const char *log_path = NULL, *client = NULL;
    int mode = NG_WM_SOFT, json = 0, threads = 0;
    long long v, limit = 0;
    double threshold = NG_WM_DEFAULT_THRESHOLD;
    ng_wm_options wo = ng_wm_options_default();
    ng_cli_keys keys = ng_cli_keys_default();
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = ng_cli_keys_option(cmd, &keys, c, optarg);
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': fputs(wm_help, stdout); return NG_EXIT_OK;
        case O_SECRET: secret = optarg; break;
        case O_MODE: if ((mode = ng_wm_mode_parse(optarg)) < 0) return ng_cli_usage(cmd, "--mode is soft or label, not '%s'", optarg); break;
        case O_OWNER: owner_path = optarg; break;
        case O_DATA: data = optarg; break;
        case O_LIMIT: if (ng_cli_int(cmd, "--limit", optarg, 1, 100000000, &limit)) return NG_EXIT_USAGE; break;
        case O_LOG: log_path = optarg; break;
        case O_CLIENT: client = optarg; break;
        case O_THRESH: if (ng_cli_double(cmd, "--threshold", optarg, 0, 1, &threshold)) return NG_EXIT_USAGE; break;
        case O_THREADS: if (ng_cli_int(cmd, "--threads", optarg, 0, 256, &v)) return NG_EXIT_USAGE; threads = (int)v; break;
        case O_JSON: json = 1; break;
        case O_STRENGTH:
            if (ng_wm_parse_strength(optarg, &wo.a_min, &wo.a_max))
                return ng_cli_usage(cmd, "--wm-strength expects A or AMIN,AMAX with 0 <= AMIN <= AMAX < 1, not '%s'", optarg);
            break;
        default: return ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ng_cli_usage(cmd, "SUSPECT is missing");
    if (optind + 1 < argc) return ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
    const char *suspect_path = argv[optind];
    if (mode == NG_WM_SOFT && !secret) return ng_cli_usage(cmd, "--wm-secret FILE is required");
    if (mode == NG_WM_SOFT && !owner_path) return ng_cli_usage(cmd, "soft mode needs --owner MODEL (your unwatermarked model)");
    if (mode == NG_WM_LABEL && (!log_path || !client)) return ng_cli_usage(cmd, "label mode needs --log DB and --client NAME");
    /* the suspect is opened as it is; key options are the owner's */
    ng_cli_keys skeys = ng_cli_keys_default();
    skeys.arch = keys.arch; skeys.c = keys.c; skeys.h = keys.h; skeys.w = keys.w; skeys.classes = keys.classes;
    ng_cli_keys_set_shape(&skeys, 1, 28, 28);
    ng_cli_keys_set_shape(&keys, 1, 28, 28);
    ng_model *sus = NULL, *own = NULL;
    ng_wm *wm = NULL;
    ng_dataset full = {0}, ver = {0};
    ng_wm_result r;
    ng_status st = ng_cli_open_model(cmd, suspect_path, &skeys, &sus);
    if (st != NG_OK) goto done;
    if (mode == NG_WM_LABEL) {
        st = ng_wm_cli_verify_label(sus, log_path, client, threshold, &r);
    } else {
        ng_key k;
        if ((st = ng_key_load(secret, NULL, 0, &k)) != NG_OK) goto done;
        st = ng_wm_new(&k, ng_model_num_classes(sus), &wo, &wm);
        ng_key_wipe(&k);
        if (st != NG_OK) goto done;
        if ((st = ng_cli_open_model(cmd, owner_path, &keys, &own)) != NG_OK) goto done;
        if ((st = ng_dataset_load_dir(data, NG_SPLIT_TEST, &full)) != NG_OK) goto done;
        if ((st = ng_dataset_head(&full, limit, &ver)) != NG_OK) goto done;
        if ((st = ng_cli_check_input(suspect_path, sus, ver.c, ver.h, ver.w, data)) != NG_OK) goto done;
        if ((st = ng_cli_check_input(owner_path, own, ver.c, ver.h, ver.w, data)) != NG_OK) goto done;
        st = ng_wm_cli_verify_soft(sus, own, wm, &ver, threads, threshold, &r);
    }
    if (st != NG_OK) goto done;
    if (json) {
        json_t *o = ng_wm_cli_json(&r);
        json_object_set_new(o, "suspect", json_string(suspect_path));
        json_object_set_new(o, "threshold", ng_json_num(threshold));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        json_decref(o);
        if (s) { puts(s); free(s); }
    } else {
        ng_wm_cli_print(&r, suspect_path, threshold);
    }
done:
    ng_model_free(sus);
    ng_model_free(own);
    ng_wm_free(wm);
    ng_dataset_free(&full);
    ng_dataset_free(&ver);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}

int ng_cmd_wm(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(wm_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? NG_EXIT_USAGE : NG_EXIT_OK;
    }
    if (!strcmp(argv[1], "verify")) return verify(argc - 1, argv + 1);
    return ng_cli_usage("wm", "unknown subcommand '%s' (verify)", argv[1]);
}
