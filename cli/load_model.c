/* cli/load_model.c - open a model file for running, unlocking it in memory when keys are given.
 *
 * Path of every model through here: ng_weights_open (the file's parameters and metadata),
 * then the protection hooks work on those parameter bytes in memory, then the engine graph
 * is built (ONNX: from the file's graph; safetensors: from --arch) and takes the weights.
 * Plaintext weights of a protected model therefore never touch disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "load_model.h"
#include "nnguard/advparams.h"   /* decrypt_advparams */
#include "nnguard/keys.h"
#include "deeplock/dl_secret.h"
#include "seal/seal_cli.h"

ng_cli_keys ng_cli_keys_default(void)
{
    ng_cli_keys k;
    memset(&k, 0, sizeof k);
    return k;
}

int ng_cli_parse_shape(const char *s, int *c, int *h, int *w)
{
    long v[3];
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*p < '0' || *p > '9') return -1;
        v[i] = strtol(p, &end, 10);
        if (v[i] < 1 || v[i] > 65536) return -1;
        if (i < 2 && *end != ',') return -1;
        if (i == 2 && *end) return -1;
        p = end + 1;
    }
    *c = (int)v[0]; *h = (int)v[1]; *w = (int)v[2];
    return 0;
}

int ng_cli_keys_option(const char *cmd, ng_cli_keys *k, int opt, const char *arg)
{
    long long v;
    switch (opt) {
    case NG_CLI_OPT_KEY:             k->key_file = arg; return 1;
    case NG_CLI_OPT_PASSPHRASE_FILE: k->passphrase_file = arg; return 1;
    case NG_CLI_OPT_ADVPARAMS_KEY:   k->advparams_key = arg; return 1;
    case NG_CLI_OPT_NO_CHECK:        k->no_check = 1; return 1;
    case NG_CLI_OPT_ARCH:            k->arch = arg; return 1;
    case NG_CLI_OPT_LICENSE:         k->license = arg; return 1;
    case NG_CLI_OPT_IDENTITY:        k->identity = arg; return 1;
    case NG_CLI_OPT_ISSUER_PUB:      k->issuer_pub = arg; return 1;
    case NG_CLI_OPT_INPUT_SHAPE:
        if (ng_cli_parse_shape(arg, &k->c, &k->h, &k->w) != 0) {
            ng_cli_usage(cmd, "--input-shape expects C,H,W (three whole numbers from 1 to 65536), not '%s'", arg);
            return -1;
        }
        return 1;
    case NG_CLI_OPT_CLASSES:
        if (ng_cli_int(cmd, "--classes", arg, 2, 100000, &v) != 0) return -1;
        k->classes = (int)v;
        return 1;
    default:
        return 0;
    }
}

void ng_cli_keys_set_shape(ng_cli_keys *k, int c, int h, int w)
{
    if (k->c) return;
    k->c = c; k->h = h; k->w = w;
}

ng_status ng_cli_check_input(const char *path, const ng_model *m, int c, int h, int w, const char *what)
{
    ng_shape s;
    ng_model_input_shape(m, &s);
    if (s.ndim != 4)
        return ng_fail(NG_E_SHAPE, "%s: the model's input has %d dims; nnguard runs image models with "
                       "N x C x H x W inputs", path, s.ndim);
    if (s.d[1] != c || s.d[2] != h || s.d[3] != w)
        return ng_fail(NG_E_SHAPE, "%s: the model takes %lldx%lldx%lld images but %s holds %dx%dx%d images; "
                       "use data of the model's shape", path, (long long)s.d[1], (long long)s.d[2],
                       (long long)s.d[3], what, c, h, w);
    return NG_OK;
}

ng_status ng_cli_model_from_arch(const char *path, const ng_weights *w, const ng_cli_keys *keys,
                                 ng_model **out)
{
    *out = NULL;
    if (!keys->arch)
        return ng_fail(NG_E_INVALID, "%s: a safetensors file holds weights but no graph; name its "
                       "architecture with --arch (mlp, lenet5, vgg-small, resnet-small)", path);
    if (!keys->c)
        return ng_fail(NG_E_INVALID, "%s: give the input shape of --arch %s with --input-shape C,H,W",
                       path, keys->arch);
    ng_model *m;
    ng_status st = ng_model_from_arch(keys->arch, keys->c, keys->h, keys->w,
                                      keys->classes ? keys->classes : 10, 0, &m);
    if (st != NG_OK) return ng_fail_ctx(st, path);
    if ((st = ng_model_set_weights(m, w)) != NG_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", ng_last_error());   /* ng_fail rewrites the buffer it reads */
        ng_model_free(m);
        int named = strstr(why, path) != NULL;
        return ng_fail(st, "%s%s%s (is --arch %s right for these weights?)", named ? "" : path,
                       named ? "" : ": ", why[0] ? why : ng_status_str(st), keys->arch);
    }
    /* Keep the file's metadata (protection state, provenance) with the model. */
    for (size_t i = 0; i < ng_weights_meta_count(w); i++) {
        const char *key, *value;
        ng_weights_meta_at(w, i, &key, &value);
        if (ng_model_meta_get(m, key)) continue;
        if ((st = ng_model_meta_set(m, key, value)) != NG_OK) { ng_model_free(m); return st; }
    }
    *out = m;
    return NG_OK;
}

/* ==== protection hooks ======================================================================
 * Each hook gets the opened file's parameters (writable, in memory) and the key options, and
 * restores the plaintext parameters in place, or fails with a message naming the file.
 * A wrong key must be detected (key check value) and reported as NG_E_KEY before anything runs.
 */

/* ---- DEEPLOCK: unlock in memory (the deeplock engineer fills this in) ----
 * Called when --key or --passphrase-file was given. scheme is the file's nnguard.scheme
 * (NULL when absent). keys->no_check skips the key check value. */
static ng_status unlock_deeplock(const char *path, ng_weights *w, const char *scheme, const ng_cli_keys *keys)
{
    if (!scheme || strcmp(scheme, "deeplock") != 0)
        return ng_fail(NG_E_STATE, "%s: --key/--passphrase-file given but the model is not locked with "
                       "Deep-Lock (nnguard.scheme is %s)", path, scheme ? scheme : "not set");
    ng_cli_secret sec;
    ng_status st = ng_cli_secret_load(keys->key_file, keys->passphrase_file, &sec);
    if (st != NG_OK) return st;
    ng_deeplock_options o = ng_deeplock_options_default();
    o.no_check = keys->no_check;
    o.log = stderr;
    st = ng_deeplock_unlock(w, &sec.s, &o);
    ng_cli_secret_free(&sec);
    return st;
}

/* ---- ADVPARAMS: decrypt in memory (the advparams engineer fills this in) ----
 * Called when --advparams-key was given. The key file names the model id it applies to. */
static ng_status decrypt_advparams(const char *path, ng_weights *w, const ng_cli_keys *keys)
{
    /* A sealed key asks for its passphrase on the terminal (--passphrase-file is Deep-Lock's here). */
    char *pass = NULL;
    size_t plen = 0;
    ng_adv_key *k = NULL;
    ng_status st = NG_OK;
    if (ng_adv_key_file_sealed(keys->advparams_key) == 1)
        st = ng_passphrase_read(NULL, "AdvParams key passphrase: ", &pass, &plen);
    if (st == NG_OK) st = ng_adv_key_load(keys->advparams_key, pass, plen, &k);
    if (st == NG_OK) st = ng_adv_decrypt(w, k);
    if (st == NG_OK) {
        const char *s = ng_weights_meta_get(w, "nnguard.scheme");
        if (s && !strcmp(s, "advparams")) st = ng_weights_meta_set(w, "nnguard.scheme", NULL);
    }
    if (pass) ng_passphrase_free(pass, plen);
    ng_adv_key_free(k);
    if (st != NG_OK && !strstr(ng_last_error(), path)) ng_fail_ctx(st, path);
    return st;
}
/* ---- SEAL: unseal in memory with a key, a passphrase or a license (cli/seal/) ---- */
static ng_status unseal(const char *path, ng_weights *w, const ng_cli_keys *keys, int *unlocked, ng_class_set *granted)
{
    ng_cli_seal_src src = {keys->key_file, keys->passphrase_file, keys->license, keys->identity, keys->issuer_pub};
    ng_status st = ng_cli_unseal(&src, w, unlocked, granted);
    if (st != NG_OK && !strstr(ng_last_error(), path)) ng_fail_ctx(st, path);
    return st;
}
/* ==== end of protection hooks ============================================================== */

/* Run the hooks that the key options ask for; note on stderr when a protected model runs as it is. */
static ng_status unprotect(const char *cmd, const char *path, ng_weights *w, const ng_cli_keys *keys,
                           ng_class_set *granted)
{
    int deeplock_key = keys->key_file || keys->passphrase_file, sealed = ng_seal_is_sealed(w), unlocked = 0;
    int license = keys->license || keys->identity || keys->issuer_pub;
    ng_status st;
    if (license && !sealed)
        return ng_fail(NG_E_STATE, "%s: --license given but the model is not sealed (licenses open sealed models)", path);
    if (sealed && (deeplock_key || license) && (st = unseal(path, w, keys, &unlocked, granted)) != NG_OK) return st;
    const char *scheme = ng_weights_meta_get(w, "nnguard.scheme");
    if (sealed && !deeplock_key && !license) scheme = "seal";
    if (deeplock_key && !unlocked && (!sealed || scheme) && (st = unlock_deeplock(path, w, scheme, keys)) != NG_OK)
        return st;
    if (keys->advparams_key && (st = decrypt_advparams(path, w, keys)) != NG_OK) return st;
    if (scheme && !deeplock_key && !license && !keys->advparams_key) {
        const char *verb = strcmp(cmd, "eval") == 0 ? "evaluating" : "running";
        const char *opt = strcmp(scheme, "advparams") == 0 ? "--advparams-key FILE"
                        : strcmp(scheme, "seal") == 0 ? "--key KEY or --license LICENSE" : "--key KEY";
        fprintf(stderr, "nnguard %s: %s is locked (%s); %s it as it is \xe2\x80\x94 pass %s to unlock in memory\n",
                cmd, path, scheme, verb, opt);
    }
    return NG_OK;
}

/* A license that grants some classes: the model answers only them (nnguard/license.h). */
static ng_status restrict_classes(const char *path, ng_model *m, const ng_class_set *granted)
{
    int n = ng_model_num_classes(m);
    uint8_t *mask = malloc((size_t)(n > 0 ? n : 1));
    ng_status st = mask ? ng_class_set_mask(granted, n, path, mask) : NG_E_NOMEM;
    if (st == NG_OK) st = ng_model_restrict_classes(m, mask, n);
    free(mask);
    return st;
}

ng_status ng_cli_open_model(const char *cmd, const char *path, const ng_cli_keys *keys, ng_model **out)
{
    *out = NULL;
    ng_weights *w;
    ng_status st = ng_weights_open(path, &w);
    if (st != NG_OK) return st;
    ng_class_set granted;
    memset(&granted, 0, sizeof granted);
    if ((st = unprotect(cmd, path, w, keys, &granted)) != NG_OK) { ng_weights_free(w); return st; }
    if (ng_weights_format(w) == NG_FMT_ONNX) {
        st = ng_model_from_weights(w, out);
        if (st != NG_OK && !strstr(ng_last_error(), path)) ng_fail_ctx(st, path);
    } else {
        st = ng_cli_model_from_arch(path, w, keys, out);
    }
    if (st == NG_OK && granted.limited) st = restrict_classes(path, *out, &granted);
    if (st != NG_OK && *out) { ng_model_free(*out); *out = NULL; }
    ng_weights_free(w);
    return st;
}
