/* cli/seal/seal_cli.h - what the seal, unseal, identity and license commands and the shared model
 * loader (cli/load_model.c) share: the secret of a sealed model from --key / --passphrase-file or
 * from --license LICENSE --identity ME --issuer-pub P. */
#ifndef NG_CLI_SEAL_H
#define NG_CLI_SEAL_H
#include "nnguard/nnguard.h"
#include "deeplock/dl_secret.h"

typedef struct ng_cli_seal_src {
    const char *key_file, *pass_file;              /* --key, --passphrase-file */
    const char *license, *identity, *issuer_pub;   /* --license, --identity, --issuer-pub */
} ng_cli_seal_src;

/* The secret for sealed model w (or the streamed file path when w is NULL): a key file /
 * passphrase, or the key a license carries (checked: issuer, signature, expiry, model id,
 * licensee). Usage errors (NG_E_INVALID) name the option. classes (may be NULL) gets the classes
 * the license grants (not limited without a license). */
ng_status ng_cli_seal_secret(const ng_cli_seal_src *src, const ng_weights *w, const char *path, ng_cli_secret *out,
                             ng_class_set *classes);
/* Unseal w in memory (and unlock it when it is Deep-Locked too and the key came from a license).
 * *unlocked = 1 when the Deep-Lock unlock was done here. classes (may be NULL): the classes the
 * license grants (not limited for a key or passphrase): the caller restricts the model to them. */
ng_status ng_cli_unseal(const ng_cli_seal_src *src, ng_weights *w, int *unlocked, ng_class_set *classes);

int ng_cmd_license_issue(int argc, char **argv);
int ng_cmd_license_verify(int argc, char **argv);
#endif
