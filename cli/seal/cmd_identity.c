/* cli/seal/cmd_identity.c - `nnguard identity new -o ME`: an Ed25519 + X25519 identity for licenses
 * (nnguard/license.h): ME (secret, 0600) and ME.pub (public half). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "seal_cli.h"

static int usage_identity(FILE *f)
{
    fprintf(f, "usage: nnguard identity new -o ME\n\n"
               "Make an identity for licenses: an Ed25519 key pair (issuers sign licenses with it) and an X25519\n"
               "key pair (licensees receive model keys with it). ME holds the secret keys (mode 0600; keep it\n"
               "private); ME.pub the public keys (give it to whoever issues you licenses, or to your licensees\n"
               "if you issue them). Neither file is ever overwritten.\n\n"
               "  -o, --output ME         the secret identity file to create (and ME.pub)\n"
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_identity(int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *out = NULL;
    int c;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return usage_identity(stdout);
    if (argc < 2 || strcmp(argv[1], "new") != 0) return ng_cli_usage("identity", "the only subcommand is 'new'");
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': return usage_identity(stdout);
        default: return usage_identity(stderr);
        }
    }
    if (optind != argc - 1) return ng_cli_usage("identity", "unexpected argument '%s'", argv[optind + 1]);
    if (!out) return ng_cli_usage("identity", "give the identity file to create with -o ME");
    char *pub = malloc(strlen(out) + 5);
    if (!pub) return ng_cli_fail("identity", NG_E_NOMEM);
    sprintf(pub, "%s.pub", out);
    const char *outs[] = {out, pub};
    ng_status st = ng_cli_check_outputs(outs, 2, NULL, 0, 0);
    if (st == NG_OK) {
        ng_identity id;
        ng_identity_generate(&id);
        st = ng_identity_save(&id, out);
        ng_identity_wipe(&id);
    }
    if (st == NG_OK) printf("identity %s (secret, 0600) and %s (public) created\n", out, pub);
    free(pub);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail("identity", st);
}
