/* cli/dl_secret.c - Deep-Lock secrets from --key / --passphrase-file (see dl_secret.h). */
#include <string.h>
#include "dl_secret.h"

ng_status ng_cli_secret_load(const char *key_file, const char *pass_file, ng_cli_secret *out)
{
    memset(out, 0, sizeof *out);
    ng_status st;
    if (!key_file && !pass_file) return ng_fail(NG_E_INVALID, "give --key KEY or --passphrase-file FILE");
    if (pass_file) {
        st = ng_passphrase_read(strcmp(pass_file, "-") == 0 ? NULL : pass_file, "nnguard passphrase: ",
                                &out->pass, &out->pass_len);
        if (st != NG_OK) return st;
    }
    if (key_file) {
        st = ng_key_load(key_file, out->pass, out->pass_len, &out->key);
        ng_passphrase_free(out->pass, out->pass_len);
        out->pass = NULL; out->pass_len = 0;
        if (st != NG_OK) return st;
        out->s.key = &out->key;
    } else {
        out->s.pass = out->pass;
        out->s.pass_len = out->pass_len;
    }
    return NG_OK;
}

void ng_cli_secret_free(ng_cli_secret *s)
{
    ng_key_wipe(&s->key);
    ng_passphrase_free(s->pass, s->pass_len);
    memset(s, 0, sizeof *s);
}
