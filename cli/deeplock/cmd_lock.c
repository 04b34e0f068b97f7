/* cli/cmd_lock.c - `nnguard lock MODEL -o OUT --key KEY|--passphrase-file F [--keystream ctr|expand]
 * [--only PATTERN]`: Deep-Lock every (or every matching) parameter tensor. safetensors files are
 * streamed with bounded memory on all cores; ONNX files are locked in memory. */
#include <getopt.h>
#include <string.h>
#include "cli.h"
#include "dl_secret.h"
#include "core/core.h"

static int usage_lock(FILE *f)
{
    fprintf(f, "usage: nnguard lock MODEL -o OUT (--key KEY | --passphrase-file FILE) [--keystream ctr|expand]\n"
               "                    [--paper-exact] [--only PATTERN] [--threads N] [--in-memory] [--force]\n\n"
               "Deep-Lock (SCHEMES.md section 1), format 3: every parameter byte b becomes S(b XOR k), S the\n"
               "AES S-box, k from a key stream derived from the key and a fresh random salt, so one key can\n"
               "lock many models (and re-lock a fine-tuned one) without two locks ever sharing a stream.\n"
               "OUT is a valid ONNX/safetensors file that computes garbage without the key; its nnguard.*\n"
               "metadata holds the salt, a key check value and keyed MACs of the graph and of the plaintext\n"
               "parameters (no plaintext id in clear): unlock refuses a wrong key or an edited file.\n\n"
               "  -o, --output OUT        the locked file to write (atomically)\n"
               "  --key KEY               key file (nnguard keygen); 256-bit for ctr, 128-bit for expand\n"
               "  --passphrase-file FILE  derive the key from a passphrase (Argon2id; salt stored in OUT);\n"
               "                          with --key: the passphrase of a sealed key file; '-' asks\n"
               "  --keystream ctr|expand  ctr (default): per-tensor AES-256-CTR under a BLAKE2b subkey;\n"
               "                          expand: the paper's extended AES-128 key schedule (WEAK: one\n"
               "                          leaked round key gives them all)\n"
               "  --paper-exact           expand: run the schedule on the key itself, as the paper does (for\n"
               "                          known answers; never lock a second model with that key)\n"
               "  --only PATTERN          lock only tensors whose names match (fnmatch; comma-separated list)\n"
               "  --threads N             workers (default: all cores)\n"
               "  --in-memory             read the whole file instead of streaming safetensors\n"
               NG_CLI_FORCE_HELP
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_lock(int argc, char **argv)
{
    enum { OPT_KEY = 0x100, OPT_PASS, OPT_KS, OPT_ONLY, OPT_THREADS, OPT_INMEM, OPT_PAPER };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"key", required_argument, NULL, OPT_KEY},
        {"passphrase-file", required_argument, NULL, OPT_PASS}, {"keystream", required_argument, NULL, OPT_KS},
        {"only", required_argument, NULL, OPT_ONLY}, {"threads", required_argument, NULL, OPT_THREADS},
        {"in-memory", no_argument, NULL, OPT_INMEM}, {"paper-exact", no_argument, NULL, OPT_PAPER}, NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
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
        case OPT_KS:
            if (ng_keystream_parse(optarg) < 0) return ng_cli_usage("lock", "--keystream must be ctr or expand, not '%s'", optarg);
            o.keystream = (ng_keystream)ng_keystream_parse(optarg);
            break;
        case OPT_ONLY: o.only = optarg; break;
        case OPT_THREADS:
            if (ng_cli_int("lock", "--threads", optarg, 0, 1024, &v) != 0) return NG_EXIT_USAGE;
            o.threads = (int)v;
            break;
        case OPT_INMEM: in_memory = 1; break;
        case OPT_PAPER: o.paper_exact = 1; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'h': return usage_lock(stdout);
        default: return usage_lock(stderr);
        }
    }
    if (optind + 1 != argc) return ng_cli_usage("lock", "give exactly one MODEL");
    if (!out) return ng_cli_usage("lock", "give the output file with -o OUT");
    if (!key_file && !pass_file) return ng_cli_usage("lock", "give --key KEY or --passphrase-file FILE");
    if (o.paper_exact && o.keystream != NG_KS_EXPAND) return ng_cli_usage("lock", "--paper-exact needs --keystream expand");
    o.log = stderr;
    const char *in = argv[optind];
    const char *ins[] = {in, key_file, pass_file && strcmp(pass_file, "-") ? pass_file : NULL};
    ng_status st = ng_cli_check_outputs(&out, 1, ins, 3, force);
    if (st != NG_OK) return ng_cli_fail("lock", st);
    ng_cli_secret sec;
    if ((st = ng_cli_secret_load(key_file, pass_file, &sec)) != NG_OK) return ng_cli_fail("lock", st);
    int stream = !in_memory && ng_format_detect(in) == NG_FMT_SAFETENSORS;
    double t0 = ng_now();
    st = stream ? ng_deeplock_lock_stream(in, out, &sec.s, &o) : ng_deeplock_lock_file(in, out, &sec.s, &o);
    ng_cli_secret_free(&sec);
    if (st != NG_OK) return ng_cli_fail("lock", st);
    printf("locked %s -> %s (Deep-Lock format 3, keystream %s%s, only '%s', %s, %.2f s)\n", in, out,
           ng_keystream_name(o.keystream), o.keystream != NG_KS_EXPAND ? "" : o.paper_exact ? " paper-exact" : " salted",
           o.only ? o.only : "*", stream ? "streamed" : "in memory", ng_now() - t0);
    return NG_EXIT_OK;
}
