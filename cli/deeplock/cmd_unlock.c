/* cli/cmd_unlock.c - `nnguard unlock LOCKED -o OUT --key KEY [--no-check]`: check the key against
 * the model's key check value, then restore the original parameters bit for bit. Nothing is
 * written when the key does not match or the locked data was modified. */
#include <getopt.h>
#include <string.h>
#include "cli.h"
#include "dl_secret.h"
#include "core/core.h"

static int usage_unlock(FILE *f)
{
    fprintf(f, "usage: nnguard unlock LOCKED -o OUT (--key KEY | --passphrase-file FILE) [--no-check]\n"
               "                      [--threads N] [--in-memory] [--force]\n\n"
               "Undo Deep-Lock. Before anything is written, the key is checked against the key check value\n"
               "and the graph against its keyed MAC (exit code 3: wrong key or altered file / graph altered);\n"
               "the unlocked parameters must match their keyed MAC before OUT gets its name. Plaintext goes\n"
               "only to OUT, created 0600. Files of formats 1-2 (earlier nnguard) unlock with a warning.\n\n"
               "  -o, --output OUT        the unlocked file to write (atomically)\n"
               "  --key KEY               the key file used to lock\n"
               "  --passphrase-file FILE  the passphrase used to lock (or of a sealed --key file); '-' asks\n"
               "  --no-check              skip every check (the paper's behaviour: a wrong key silently gives\n"
               "                          a useless model, an edited graph goes through; for experiments)\n"
               "  --threads N             workers (default: all cores)\n"
               "  --in-memory             read the whole file instead of streaming safetensors\n"
               NG_CLI_FORCE_HELP
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_unlock(int argc, char **argv)
{
    enum { OPT_KEY = 0x100, OPT_PASS, OPT_NOCHECK, OPT_THREADS, OPT_INMEM };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"key", required_argument, NULL, OPT_KEY},
        {"passphrase-file", required_argument, NULL, OPT_PASS}, {"no-check", no_argument, NULL, OPT_NOCHECK},
        {"threads", required_argument, NULL, OPT_THREADS}, {"in-memory", no_argument, NULL, OPT_INMEM},
        NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
    const char *out = NULL, *key_file = NULL, *pass_file = NULL;
    ng_deeplock_options o = ng_deeplock_options_default();
    int in_memory = 0, force = 0, c;
    long long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_KEY: key_file = optarg; break;
        case OPT_PASS: pass_file = optarg; break;
        case OPT_NOCHECK: o.no_check = 1; break;
        case OPT_THREADS:
            if (ng_cli_int("unlock", "--threads", optarg, 0, 1024, &v) != 0) return NG_EXIT_USAGE;
            o.threads = (int)v;
            break;
        case OPT_INMEM: in_memory = 1; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'h': return usage_unlock(stdout);
        default: return usage_unlock(stderr);
        }
    }
    if (optind + 1 != argc) return ng_cli_usage("unlock", "give exactly one LOCKED model");
    if (!out) return ng_cli_usage("unlock", "give the output file with -o OUT");
    if (!key_file && !pass_file) return ng_cli_usage("unlock", "give --key KEY or --passphrase-file FILE");
    o.log = stderr;
    const char *in = argv[optind];
    const char *ins[] = {in, key_file, pass_file && strcmp(pass_file, "-") ? pass_file : NULL};
    ng_status st = ng_cli_check_outputs(&out, 1, ins, 3, force);
    if (st != NG_OK) return ng_cli_fail("unlock", st);
    ng_cli_secret sec;
    if ((st = ng_cli_secret_load(key_file, pass_file, &sec)) != NG_OK) return ng_cli_fail("unlock", st);
    int stream = !in_memory && ng_format_detect(in) == NG_FMT_SAFETENSORS;
    double t0 = ng_now();
    st = stream ? ng_deeplock_unlock_stream(in, out, &sec.s, &o) : ng_deeplock_unlock_file(in, out, &sec.s, &o);
    ng_cli_secret_free(&sec);
    if (st != NG_OK) return ng_cli_fail("unlock", st);
    if (o.no_check)
        fprintf(stderr, "nnguard unlock: --no-check: neither the key nor the file was verified; OUT is garbage if the "
                "key was wrong, and an edited graph went through\n");
    printf("unlocked %s -> %s (%s, %.2f s)\n", in, out, stream ? "streamed" : "in memory", ng_now() - t0);
    return NG_EXIT_OK;
}
