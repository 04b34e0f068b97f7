/* cli/seal/cmd_seal.c - `nnguard seal MODEL -o OUT (--key KEY | --passphrase-file F) [--aead A]` and
 * `nnguard unseal SEALED -o OUT (--key KEY | --passphrase-file F | --license L --identity ME
 * --issuer-pub P)`: sealed models (nnguard/seal.h); safetensors streamed, ONNX in memory. */
#include <getopt.h>
#include <string.h>
#include <sodium.h>
#include "cli.h"
#include "seal_cli.h"
#include "core/core.h"

static int usage_seal(FILE *f, int unseal)
{
    if (!unseal)
        fprintf(f, "usage: nnguard seal MODEL -o OUT (--key KEY | --passphrase-file FILE) [--aead A] [--threads N] [--force]\n\n"
                   "Seal a model (nnguard/seal.h): every parameter tensor encrypted and authenticated in 1 MiB chunks\n"
                   "(AES-256-GCM or XChaCha20-Poly1305) under a key derived from KEY and a fresh salt, with the\n"
                   "tensor's name, dtype, shape, position and the sealed model's id as associated data; the nnguard.*\n"
                   "metadata and the graph are bound by keyed MACs. OUT is still a valid ONNX/safetensors file; it\n"
                   "opens only with the key (nnguard eval/predict/serve --key, or a license: nnguard license issue).\n"
                   "A Deep-Locked model can be sealed (lock, then seal; use one key file for both). safetensors\n"
                   "files of any size are streamed with bounded memory; ONNX files are sealed in memory.\n\n"
                   "  -o, --output OUT        the sealed file to write (atomically)\n"
                   "  --key KEY               256-bit key file (nnguard keygen)\n"
                   "  --passphrase-file FILE  derive the key from a passphrase (Argon2id; salt stored in OUT);\n"
                   "                          with --key: the passphrase of a sealed key file; '-' asks\n"
                   "  --aead A                auto (default: aes256gcm when the CPU has AES-NI, else\n"
                   "                          xchacha20poly1305), aes256gcm or xchacha20poly1305\n"
                   "  --threads N             workers (default: all cores)\n"
                   "  --in-memory             read the whole file instead of streaming safetensors\n"
                   NG_CLI_FORCE_HELP
                   "  -h, --help              this help\n\n"
                   "Environment: NG_SEAL_BACKEND=ipsec-mb|openssl picks the AES-256-GCM implementation (default:\n"
                   "Intel's ipsec-mb, VAES/AVX-512 where the CPU has them, when built with it and the CPU has AES-NI;\n"
                   "else OpenSSL). Both write and read the same bytes: files move freely between them.\n");
    else
        fprintf(f, "usage: nnguard unseal SEALED -o OUT (--key KEY | --passphrase-file FILE |\n"
                   "                      --license LICENSE --identity ME --issuer-pub P) [--threads N] [--force]\n\n"
                   "Check and decrypt a sealed model. The key (or the license: its signature, expiry, model and\n"
                   "licensee), every nnguard.* field, every tensor chunk and the graph are checked; a wrong key or\n"
                   "any edit is refused with a message naming the field or tensor, and OUT is not written. OUT\n"
                   "(created 0600) is the model as it was before sealing (still Deep-Locked if it was locked).\n\n"
                   "  -o, --output OUT        the plaintext file to write (atomically, mode 0600)\n"
                   "  --key KEY               the key file it was sealed with\n"
                   "  --passphrase-file FILE  the passphrase it was sealed with ('-' asks)\n"
                   "  --license LICENSE       a license for this model (nnguard license issue) ...\n"
                   "  --identity ME           ... issued to this identity (nnguard identity new) ...\n"
                   "  --issuer-pub P          ... and signed by this issuer (its public identity file)\n"
                   "  --threads N             workers (default: all cores)\n"
                   "  --in-memory             read the whole file instead of streaming safetensors\n"
                   NG_CLI_FORCE_HELP
                   "  -h, --help              this help\n\n"
                   "Environment: NG_SEAL_BACKEND=ipsec-mb|openssl picks the AES-256-GCM implementation (default:\n"
                   "Intel's ipsec-mb, VAES/AVX-512 where the CPU has them, when built with it and the CPU has AES-NI;\n"
                   "else OpenSSL). Both write and read the same bytes: files move freely between them.\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

/* Unsealing to a file writes every class's weights: a license that grants only some classes
 * opens the model in a runtime that enforces them (eval, predict, serve), never to disk. */
static ng_status whole(const char *in, const ng_class_set *granted)
{
    if (!granted->limited) return NG_OK;
    return ng_fail(NG_E_PERM, "%s: the license grants only some classes; it opens the model in eval, predict or serve "
                   "(which enforce them), not as a plaintext file", in);
}

static int run(int argc, char **argv, int unseal)
{
    const char *cmd = unseal ? "unseal" : "seal";
    enum { OPT_KEY = 0x100, OPT_PASS, OPT_AEAD, OPT_THREADS, OPT_LIC, OPT_ID, OPT_ISS, OPT_INMEM };
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"key", required_argument, NULL, OPT_KEY},
        {"passphrase-file", required_argument, NULL, OPT_PASS}, {"aead", required_argument, NULL, OPT_AEAD},
        {"threads", required_argument, NULL, OPT_THREADS}, {"license", required_argument, NULL, OPT_LIC},
        {"identity", required_argument, NULL, OPT_ID}, {"issuer-pub", required_argument, NULL, OPT_ISS},
        {"in-memory", no_argument, NULL, OPT_INMEM}, NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
    const char *out = NULL;
    ng_cli_seal_src src = {0};
    ng_seal_options o = ng_seal_options_default();
    int force = 0, in_memory = 0, c;
    long long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case OPT_KEY: src.key_file = optarg; break;
        case OPT_PASS: src.pass_file = optarg; break;
        case OPT_AEAD:
            if (unseal) return ng_cli_usage(cmd, "--aead applies to seal (unseal reads it from the file)");
            if (ng_aead_parse(optarg) < 0)
                return ng_cli_usage(cmd, "--aead must be auto, aes256gcm or xchacha20poly1305, not '%s'", optarg);
            o.aead = (ng_aead)ng_aead_parse(optarg);
            break;
        case OPT_THREADS:
            if (ng_cli_int(cmd, "--threads", optarg, 0, 1024, &v) != 0) return NG_EXIT_USAGE;
            o.threads = (int)v;
            break;
        case OPT_LIC: case OPT_ID: case OPT_ISS:
            if (!unseal) return ng_cli_usage(cmd, "licenses open sealed models; seal takes --key or --passphrase-file");
            *(c == OPT_LIC ? &src.license : c == OPT_ID ? &src.identity : &src.issuer_pub) = optarg;
            break;
        case OPT_INMEM: in_memory = 1; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'h': return usage_seal(stdout, unseal);
        default: return usage_seal(stderr, unseal);
        }
    }
    if (optind + 1 != argc) return ng_cli_usage(cmd, "give exactly one MODEL");
    if (!out) return ng_cli_usage(cmd, "give the output file with -o OUT");
    if (!src.key_file && !src.pass_file && !src.license && !src.identity && !src.issuer_pub)
        return ng_cli_usage(cmd, unseal ? "give --key KEY, --passphrase-file FILE or --license LICENSE --identity ME "
                            "--issuer-pub P" : "give --key KEY or --passphrase-file FILE");
    const char *in = argv[optind];
    const char *ins[] = {in, src.key_file, src.pass_file && strcmp(src.pass_file, "-") ? src.pass_file : NULL,
                         src.license, src.identity, src.issuer_pub};
    ng_status st = ng_cli_check_outputs(&out, 1, ins, 6, force);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    ng_cli_secret sec;
    ng_class_set granted;
    double t0 = ng_now();
    if (!in_memory && ng_format_detect(in) == NG_FMT_SAFETENSORS) {   /* any size, bounded memory */
        if ((st = ng_cli_seal_secret(&src, NULL, in, &sec, &granted)) == NG_OK && (st = whole(in, &granted)) == NG_OK) {
            st = unseal ? ng_unseal_stream(in, out, &sec.s, &o) : ng_seal_stream(in, out, &sec.s, &o);
            ng_cli_secret_free(&sec);
        }
        if (st != NG_OK) return ng_cli_fail(cmd, st);
        printf("%s %s -> %s (streamed, %.2f s)\n", unseal ? "unsealed" : "sealed", in, out, ng_now() - t0);
        return NG_EXIT_OK;
    }
    ng_weights *w;
    if ((st = ng_weights_open(in, &w)) != NG_OK) return ng_cli_fail(cmd, st);
    if ((st = ng_cli_seal_secret(&src, w, in, &sec, &granted)) == NG_OK && (st = whole(in, &granted)) == NG_OK) {
        st = unseal ? ng_unseal(w, &sec.s, &o) : ng_seal(w, &sec.s, &o);
        ng_cli_secret_free(&sec);
    }
    if (st == NG_OK) st = ng_weights_save_mode(w, out, unseal ? NG_MODE_PRIVATE : NG_MODE_PUBLIC);
    const char *aead = unseal ? NULL : ng_weights_meta_get(w, "nnguard.seal.aead");
    char msg[160] = "";
    if (aead) snprintf(msg, sizeof msg, "%s", aead);
    for (size_t i = 0; i < ng_weights_count(w); i++)   /* plaintext (unseal) or the user's model (seal) */
        sodium_memzero(ng_weights_param(w, i)->data, ng_weights_param(w, i)->nbytes);
    ng_weights_free(w);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    if (unseal) printf("unsealed %s -> %s (%.2f s)\n", in, out, ng_now() - t0);
    else printf("sealed %s -> %s (%s, %.2f s)\n", in, out, msg, ng_now() - t0);
    return NG_EXIT_OK;
}

int ng_cmd_seal(int argc, char **argv) { return run(argc, argv, 0); }
int ng_cmd_unseal(int argc, char **argv) { return run(argc, argv, 1); }
