/* cli/cmd_license.c - `nnguard license <subcommand>`: the license group, a table of subcommands
 * {name, run, summary}; each implementation lives with its scheme (cli/securenet/ for license
 * keys trained into a model, cli/seal/ for signed licenses of sealed models). */
#include <string.h>
#include "cli.h"
#include "seal/seal_cli.h"

static const ng_cmd ng_license_cmds[] = {
    {"keygen",  ng_cmd_license_keygen,  "SecureNet: make a random 256-bit license key file (0600)"},
    {"stamp",   ng_cmd_license_stamp,   "SecureNet: stamp IDX images with a license key"},
    {"train",   ng_cmd_license_train,   "SecureNet: train a model that works only with its license keys"},
    {"replace", ng_cmd_license_replace, "SecureNet: move a licensed model from an old key to a new one"},
    {"bind",    ng_cmd_license_bind,    "SecureNet: lock a licensed model's parameters, one key slot per license key"},
    {"harden",  ng_cmd_license_harden,  "SecureNet: adversarial or clean fine-tuning with the key (defences)"},
    {"info",    ng_cmd_license_info,    "SecureNet: the scheme, stamp and key ids of a licensed model"},
    {"issue",   ng_cmd_license_issue,   "sealed models: sign a license, the model key wrapped to the licensee"},
    {"verify",  ng_cmd_license_verify,  "sealed models: check a license offline (issuer, signature, expiry)"},
};

static int usage(FILE *f)
{
    fprintf(f, "usage: nnguard license <subcommand> [options]   (nnguard license <subcommand> --help)\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof ng_license_cmds / sizeof ng_license_cmds[0]; i++)
        fprintf(f, "  %-8s %s\n", ng_license_cmds[i].name, ng_license_cmds[i].summary);
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_license(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return usage(stdout);
    for (size_t i = 0; i < sizeof ng_license_cmds / sizeof ng_license_cmds[0]; i++)
        if (!strcmp(argv[1], ng_license_cmds[i].name)) return ng_license_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "nnguard license: unknown subcommand '%s'\n", argv[1]);
    return usage(stderr);
}
