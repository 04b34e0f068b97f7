/* cli/seal/seal_secret.c - secrets of sealed models from the command line (seal_cli.h). */
#include <string.h>
#include <time.h>
#include "seal_cli.h"

ng_status ng_cli_seal_secret(const ng_cli_seal_src *src, const ng_weights *w, ng_cli_secret *out)
{
    memset(out, 0, sizeof *out);
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
    if (st == NG_OK) st = ng_seal_id(w, id);
    if (st == NG_OK) st = ng_identity_load(src->identity, &me);
    if (st == NG_OK) {
        st = ng_license_open(&l, src->license, &iss, &me, id, (int64_t)time(NULL), &out->key);
        ng_identity_wipe(&me);
    }
    if (st == NG_OK) out->s.key = &out->key;
    return st;
}

ng_status ng_cli_unseal(const ng_cli_seal_src *src, ng_weights *w, int *unlocked)
{
    ng_cli_secret sec;
    *unlocked = 0;
    ng_status st = ng_cli_seal_secret(src, w, &sec);
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
