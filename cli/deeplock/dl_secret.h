/* cli/dl_secret.h - Deep-Lock secrets from command-line options (--key, --passphrase-file). */
#ifndef NG_CLI_DL_SECRET_H
#define NG_CLI_DL_SECRET_H
#include "nnguard/deeplock.h"

typedef struct ng_cli_secret {
    ng_key  key;
    char   *pass;
    size_t  pass_len;
    ng_deeplock_secret s;   /* points into this struct: do not copy it */
} ng_cli_secret;

/* --key FILE (a sealed key file also needs --passphrase-file), or --passphrase-file alone
 * (a passphrase key, Argon2id). A passphrase file "-" asks on the terminal without echo. */
ng_status ng_cli_secret_load(const char *key_file, const char *pass_file, ng_cli_secret *out);
/* Wipe and free. */
void      ng_cli_secret_free(ng_cli_secret *s);
#endif
