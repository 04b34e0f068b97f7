/* cli/seal/seal_secret.c - secrets of sealed models from the command line (seal_cli.h). */
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "nnguard/safetensors.h"
#include "seal_cli.h"

/* nnguard.seal.id of a safetensors file, from its header only. */
static ng_status header_id(const char *path, uint8_t id[32])
{
    ng_st_header *h;
    ng_status st = ng_st_header_read(path, &h);
    if (st != NG_OK) return st;
    const char *hex = ng_st_header_meta_get(h, "nnguard.seal.id");
    size_t got = 0;
    if (!hex) st = ng_fail(NG_E_STATE, "%s: the model is not sealed (no nnguard.seal.id)", path);
    else if (strlen(hex) != 64 || sodium_hex2bin(id, 32, hex, 64, NULL, &got, NULL) != 0 || got != 32)
        st = ng_fail(NG_E_FORMAT, "%s: field nnguard.seal.id is not 64 hex digits", path);
    ng_st_header_free(h);
    return st;
}

ng_status ng_cli_seal_secret(const ng_cli_seal_src *src, const ng_weights *w, const char *path, ng_cli_secret *out,
                             ng_class_set *classes)
{
    memset(out, 0, sizeof *out);
    if (classes) memset(classes, 0, sizeof *classes);
    int lic = src->license || src->identity || src->issuer_pub;
    if (lic && (src->key_file || src->pass_file))
        return ng_fail(NG_E_INVALID, "give either --key/--passphrase-file or --license, not both");
    if (!lic) return ng_cli_secret_load(src->key_file, src->pass_file, out);
    if (!src->license || !src->identity || !src->issuer_pub)
        return ng_fail(NG_E_INVALID, "a license needs all three of --license LICENSE, --identity ME and --issuer-pub P");
    ng_license l;
    ng_identity me;
    ng_identity_pub iss;
    uint8_t id[32];
    ng_status st = ng_license_load(src->license, &l);
    if (st == NG_OK) st = ng_identity_pub_load(src->issuer_pub, &iss);
    if (st == NG_OK) st = w ? ng_seal_id(w, id) : header_id(path, id);
    if (st == NG_OK) st = ng_identity_load(src->identity, &me);
    if (st == NG_OK) {
        st = ng_license_open(&l, src->license, &iss, &me, id, (int64_t)time(NULL), &out->key);
        ng_identity_wipe(&me);
    }
    if (st == NG_OK) out->s.key = &out->key;
    if (st == NG_OK && classes) *classes = l.classes;
    return st;
}

ng_status ng_cli_unseal(const ng_cli_seal_src *src, ng_weights *w, int *unlocked, ng_class_set *classes)
{
    ng_cli_secret sec;
    *unlocked = 0;
    ng_status st = ng_cli_seal_secret(src, w, ng_weights_path(w), &sec, classes);
    if (st == NG_OK) st = ng_unseal(w, &sec.s, NULL);
    if (st == NG_OK && src->license && ng_deeplock_is_locked(w)) {
        ng_deeplock_options o = ng_deeplock_options_default();
        o.log = stderr;
        st = ng_deeplock_unlock(w, &sec.s, &o);
        *unlocked = 1;
    }
    ng_cli_secret_free(&sec);
    return st;
}
