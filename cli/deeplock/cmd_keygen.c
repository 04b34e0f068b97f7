/* cli/cmd_keygen.c - `nnguard keygen -o KEY [--bits 128|256] [--passphrase-file F]`:
 * a new random Deep-Lock key in a 0600 key file (never overwrites an existing file). */
#include <getopt.h>
#include <string.h>
#include "cli.h"
#include "nnguard/keys.h"

static int usage_keygen(FILE *f)
{
    fprintf(f, "usage: nnguard keygen -o KEY [--bits 128|256] [--passphrase-file FILE]\n\n"
               "Make a random key (OS CSPRNG) and write it to the key file KEY, mode 0600.\n"
               "An existing KEY is never overwritten, not even with --force: the models locked with it\n"
               "could not be unlocked any more. Remove it yourself first. Keys are never printed.\n\n"
               "  -o, --output KEY        the key file to create\n"
               "  --bits N                256 (default; Deep-Lock --keystream ctr) or 128 (--keystream expand)\n"
               "  --passphrase-file FILE  seal the key file with the passphrase on FILE's first line\n"
               "                          (Argon2id + XSalsa20-Poly1305); '-' asks on the terminal\n"
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_keygen(int argc, char **argv)
{
    enum { OPT_BITS = 0x100, OPT_PASS, OPT_FORCE };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"bits", required_argument, NULL, OPT_BITS},
        {"passphrase-file", required_argument, NULL, OPT_PASS}, {"force", no_argument, NULL, OPT_FORCE},
        {"help", no_argument, NULL, 'h'}, {0}};
    const char *out = NULL, *pass_file = NULL;
    long long bits = 256;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_BITS:
            if (ng_cli_int("keygen", "--bits", optarg, 128, 256, &bits) != 0) return NG_EXIT_USAGE;
            if (bits != 128 && bits != 256) return ng_cli_usage("keygen", "--bits must be 128 or 256");
            break;
        case OPT_PASS: pass_file = optarg; break;
        case OPT_FORCE:
            return ng_cli_usage("keygen", "--force: keygen never overwrites a key file (models locked with it could "
                                "not be unlocked any more); remove the old key yourself if you mean it");
        case 'h': return usage_keygen(stdout);
        default: return usage_keygen(stderr);
        }
    }
    if (optind != argc) return ng_cli_usage("keygen", "unexpected argument '%s'", argv[optind]);
    if (!out) return ng_cli_usage("keygen", "give the key file to create with -o KEY");
    char *pass = NULL;
    size_t plen = 0;
    ng_status st;
    if (pass_file && (st = ng_passphrase_read(strcmp(pass_file, "-") ? pass_file : NULL, "passphrase for the key file: ",
                                              &pass, &plen)) != NG_OK)
        return ng_cli_fail("keygen", st);
    ng_key k;
    st = ng_key_generate((int)bits, &k);
    if (st == NG_OK) st = ng_key_save(&k, out, pass, plen);
    ng_key_wipe(&k);
    ng_passphrase_free(pass, plen);
    if (st != NG_OK) return ng_cli_fail("keygen", st);
    printf("wrote %lld-bit key to %s (mode 0600%s)\n", bits, out, pass_file ? ", sealed with the passphrase" : "");
    return NG_EXIT_OK;
}
