/* cli/securenet/cmd_license_keys.c - `nnguard license keygen|stamp|info`, and the stamping that
 * eval and predict do with --license-key. */
#include <getopt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "core/core.h"
#include "idx_images.h"
#include "load_model.h"
#include "sn_cli.h"

ng_status ng_sn_load_key(const char *path, ng_key *k)
{
    ng_status st = ng_key_load(path, NULL, 0, k);
    if (st != NG_OK) return st;
    if (k->len != NG_LICENSE_KEY_BYTES) {
        size_t bits = k->len * 8;
        ng_key_wipe(k);
        return ng_fail(NG_E_KEY, "%s: a %zu-bit key; license keys are 256 bits (make one with nnguard license keygen)",
                       path, bits);
    }
    return NG_OK;
}

ng_status ng_sn_parse_classes(const char *opt, const char *s, int classes, uint64_t *mask)
{
    *mask = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || errno) break;
        if (*end == '-') {
            const char *q = end + 1;
            b = strtol(q, &end, 10);
            if (end == q || errno) break;
        }
        if (a < 0 || b < a || b >= classes)
            return ng_fail(NG_E_INVALID, "%s: classes %ld-%ld are out of range: the data has classes 0..%d", opt, a, b,
                           classes - 1);
        for (long k = a; k <= b; k++) *mask |= 1ULL << k;
        if (!*end) return NG_OK;
        if (*end != ',') break;
        p = end + 1;
    }
    return ng_fail(NG_E_INVALID, "%s: '%s' is not a class list like 0,1,2 or 0-4", opt, s);
}

int ng_sn_stamp_option(const char *cmd, int opt, const char *arg, ng_stamp_options *o)
{
    double v;
    switch (opt) {
    case NG_SN_OPT_STAMP:
        if (!strcmp(arg, "patch")) o->mode = NG_STAMP_PATCH;
        else if (!strcmp(arg, "blend")) o->mode = NG_STAMP_BLEND;
        else { ng_cli_usage(cmd, "--stamp is patch or blend, not '%s'", arg); return -1; }
        return 1;
    case NG_SN_OPT_PATCH:
        if (ng_cli_double(cmd, "--patch", arg, 1, NG_LICENSE_MAX_PATCH, &v) || v != (int)v) {
            if (v != (int)v) ng_cli_usage(cmd, "--patch expects a whole number");
            return -1;
        }
        o->patch = (int)v;
        return 1;
    case NG_SN_OPT_ALPHA:
        if (ng_cli_double(cmd, "--alpha", arg, 1e-6, 1, &v)) return -1;
        o->alpha = (float)v;
        return 1;
    default:
        return 0;
    }
}

ng_status ng_cli_license_stamp(const char *cmd, const char *path, ng_model *m, const char *key_file, float *x,
                               int64_t n, int c, int h, int w)
{
    ng_stamp_options so;
    ng_status st = ng_license_stamp_options(m, &so);
    if (st != NG_OK) return ng_fail_ctx(st, path);
    ng_key k;
    if ((st = ng_sn_load_key(key_file, &k)) != NG_OK) return st;
    if (ng_license_is_bound(m) && (st = ng_license_unbind(m, &k)) != NG_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", ng_last_error());   /* ng_fail rewrites the buffer it reads */
        ng_key_wipe(&k);
        return ng_fail(st, "%s: %s (--license-key %s)", path, why, key_file);
    }
    uint64_t mask;
    if (ng_license_key_classes(m, &k, &mask) == NG_E_KEY)
        fprintf(stderr, "nnguard %s: note: %s is not one of %s's license keys: expect denied outputs\n", cmd, key_file,
                path);
    ng_clear_error();
    ng_stamper *s;
    st = ng_stamper_new(&k, &so, c, h, w, &s);
    ng_key_wipe(&k);
    if (st != NG_OK) return ng_fail_ctx(st, path);
    ng_license_stamp(s, x, n);
    ng_stamper_free(s);
    return NG_OK;
}

void ng_cli_license_note(const char *cmd, const char *path, const ng_model *m)
{
    if (ng_license_is_bound(m))
        fprintf(stderr, "nnguard %s: %s is a bound licensed model (its parameters are locked); running it as it is "
                "\xe2\x80\x94 pass --license-key KEY to unlock it in memory and stamp the inputs\n", cmd, path);
}

/* The key in like_file moved to another key's place: ng_license_key_align with the stamp options
 * and input shape of model (a licensed model). */
static ng_status keygen_like(ng_key *k, const char *like_file, const char *model)
{
    ng_model *m;
    ng_status st = ng_model_load(model, &m);
    if (st != NG_OK) return st;
    ng_stamp_options so;
    ng_shape is;
    ng_model_input_shape(m, &is);
    st = ng_license_stamp_options(m, &so);
    ng_model_free(m);
    if (st != NG_OK) return ng_fail_ctx(st, model);
    if (is.ndim != 4 || is.d[1] < 1 || is.d[2] < 1 || is.d[3] < 1)
        return ng_fail(NG_E_SHAPE, "%s: the model's input is not N x C x H x W images", model);
    ng_key like;
    if ((st = ng_sn_load_key(like_file, &like)) != NG_OK) return st;
    st = ng_license_key_align(k, &like, &so, (int)is.d[1], (int)is.d[2], (int)is.d[3]);
    ng_key_wipe(&like);
    return st == NG_OK ? NG_OK : ng_fail_ctx(st, like_file);
}

int ng_cmd_license_keygen(int argc, char **argv)
{
    const char *cmd = "license keygen", *out = NULL, *like = NULL, *model = NULL;
    enum { O_LIKE = 0x100, O_MODEL };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"like", required_argument, NULL, O_LIKE},
        {"model", required_argument, NULL, O_MODEL}, {"help", no_argument, NULL, 'h'}, {0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == O_LIKE) like = optarg;
        else if (c == O_MODEL) model = optarg;
        else if (c == 'h') {
            printf("usage: nnguard license keygen [--like KEY --model MODEL.onnx] -o KEY\n\nMake a random 256-bit "
                   "SecureNet license key (OS CSPRNG) in the key file KEY,\nmode 0600 (the nnguard key file format). "
                   "KEY is never overwritten.\n"
                   "  --like KEY --model MODEL   a key whose patch stamp lands where KEY's does on MODEL's inputs\n"
                   "                             (different values): the new key of `license replace` learns\n"
                   "                             faster (eval-scheme: 86.0%% instead of 84.3%% after replacement)\n");
            return NG_EXIT_OK;
        } else return ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]);
    }
    if (optind != argc) return ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return ng_cli_usage(cmd, "give the key file to create with -o KEY");
    if (!like != !model) return ng_cli_usage(cmd, "--like KEY and --model MODEL.onnx go together");
    ng_key k;
    ng_status st = ng_key_generate(256, &k);
    if (st == NG_OK && like) st = keygen_like(&k, like, model);
    if (st == NG_OK) st = ng_key_save(&k, out, NULL, 0);
    ng_key_wipe(&k);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    printf("wrote 256-bit license key to %s (mode 0600)%s\n", out, like ? ", stamped where the --like key is" : "");
    return NG_EXIT_OK;
}

/* IDX images (u32be magic 2051, n, rows, cols, then bytes) of x quantised to 8 bits. */
static ng_status write_idx(const char *path, const float *x, int64_t n, int h, int w)
{
    ng_awriter aw;
    ng_status st = ng_awrite_open(&aw, path, NG_MODE_PUBLIC);
    if (st != NG_OK) return st;
    uint8_t hdr[16];
    const uint32_t v[4] = {2051u, (uint32_t)n, (uint32_t)h, (uint32_t)w};
    for (int i = 0; i < 4; i++) {
        hdr[4 * i] = (uint8_t)(v[i] >> 24); hdr[4 * i + 1] = (uint8_t)(v[i] >> 16);
        hdr[4 * i + 2] = (uint8_t)(v[i] >> 8); hdr[4 * i + 3] = (uint8_t)v[i];
    }
    st = ng_awrite(&aw, hdr, sizeof hdr);
    uint8_t buf[4096];
    const size_t total = (size_t)n * (size_t)h * (size_t)w;
    for (size_t i = 0; i < total && st == NG_OK; i += sizeof buf) {
        const size_t k = total - i < sizeof buf ? total - i : sizeof buf;
        for (size_t j = 0; j < k; j++) {
            float p = x[i + j] * 255.0f + 0.5f;
            buf[j] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p);
        }
        st = ng_awrite(&aw, buf, k);
    }
    if (st != NG_OK) { ng_awrite_abort(&aw); return st; }
    return ng_awrite_commit(&aw);
}

int ng_cmd_license_stamp(int argc, char **argv)
{
    const char *cmd = "license stamp", *key_file = NULL, *in = NULL, *out = NULL, *model = NULL;
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'}, {"images", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'}, {"model", required_argument, NULL, 'm'},
        NG_SN_STAMP_LONGOPTS, NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
    ng_stamp_options so = ng_stamp_options_default();
    int c, force = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int r = ng_sn_stamp_option(cmd, c, optarg, &so);
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'k': key_file = optarg; break;
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'm': model = optarg; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'h':
            printf("usage: nnguard license stamp --key KEY --images IN.idx -o OUT.idx [--model MODEL | stamp options]\n\n"
                   "Write the images of IN (IDX, gzip or plain) stamped with the license key, as 8-bit IDX.\n"
                   "The stamping mode comes from MODEL's license metadata, or from the options:\n"
                   NG_SN_STAMP_HELP NG_CLI_FORCE_HELP);
            return NG_EXIT_OK;
        default: return ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!key_file || !in || !out) return ng_cli_usage(cmd, "give --key KEY, --images IN.idx and -o OUT.idx");
    const char *outs[] = {out}, *ins[] = {in, key_file, model};
    ng_status st = ng_cli_check_outputs(outs, 1, ins, 3, force);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    if (model) {
        ng_model *m;
        if ((st = ng_model_load(model, &m)) != NG_OK) return ng_cli_fail(cmd, st);
        st = ng_license_stamp_options(m, &so);
        ng_model_free(m);
        if (st != NG_OK) return ng_cli_fail(cmd, ng_fail_ctx(st, model));
    }
    ng_idx_images im;
    if ((st = ng_idx_images_load(in, 0, &im)) != NG_OK) return ng_cli_fail(cmd, st);
    ng_key k;
    ng_stamper *s = NULL;
    if ((st = ng_sn_load_key(key_file, &k)) == NG_OK) {
        st = ng_stamper_new(&k, &so, im.c, im.h, im.w, &s);
        ng_key_wipe(&k);
        if (st != NG_OK) st = ng_fail_ctx(st, in);
    }
    if (st == NG_OK) {
        ng_license_stamp(s, im.x, im.n);
        st = write_idx(out, im.x, im.n, im.h, im.w);
    }
    const int64_t n = im.n;   /* ng_idx_images_free clears im */
    ng_stamper_free(s);
    ng_idx_images_free(&im);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    printf("stamped %lld images (%s) into %s\n", (long long)n, so.mode == NG_STAMP_PATCH ? "patch" : "blend", out);
    return NG_EXIT_OK;
}

int ng_cmd_license_info(int argc, char **argv)
{
    const char *cmd = "license info";
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: nnguard license info MODEL\n\nThe SecureNet scheme, stamping mode and key ids (with the classes each "
               "grants) of MODEL,\nand whether it is bound (license bind) with the ids of its key slots.\n");
        return NG_EXIT_OK;
    }
    if (argc != 2) return ng_cli_usage(cmd, "give one MODEL");
    ng_model *m;
    ng_status st = ng_model_load(argv[1], &m);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    ng_stamp_options so;
    if ((st = ng_license_stamp_options(m, &so)) != NG_OK) {
        ng_fail_ctx(st, argv[1]);
        ng_model_free(m);
        return ng_cli_fail(cmd, st);
    }
    const char *sch = ng_model_meta_get(m, "nnguard.license.scheme"), *keys = ng_model_meta_get(m, "nnguard.license.keys");
    printf("%s: SecureNet scheme %s, stamp ", argv[1], sch ? sch : "?");
    if (so.mode == NG_STAMP_PATCH) printf("patch %dx%d", so.patch, so.patch);
    else printf("blend a=%g", (double)so.alpha);
    printf("\nkeys (id:granted class mask): %s\n", keys ? keys : "none");
    if (ng_license_is_bound(m)) {   /* the slots' key ids, never their contents */
        const char *sl = ng_model_meta_get(m, "nnguard.license.slots"), *only = ng_model_meta_get(m, "nnguard.license.bind_only");
        printf("bound: parameters locked (%s), key slots for:", only ? only : "?");
        for (const char *p = sl; p && strlen(p) >= 16; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p))
            printf(" %.16s", p);
        printf("\n");
    } else printf("not bound (the parameters are in clear)\n");
    ng_model_free(m);
    return NG_EXIT_OK;
}
