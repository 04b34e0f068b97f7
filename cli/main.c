/* cli/main.c - `nnguard <subcommand> [options]`: the subcommand table. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static const ng_cmd ng_cmds[] = {
    {"info",     ng_cmd_info,     "show format, layers, parameters, model id and protection metadata"},
    {"eval",     ng_cmd_eval,     "test-set accuracy and images/s (runs locked models in memory with a key)"},
    {"predict",  ng_cmd_predict,  "logits / labels for IDX images, a .npy array (--input) or PNG/JPEG files (--images)"},
    {"convert",  ng_cmd_convert,  "convert weights between ONNX and safetensors"},
    {"train",    ng_cmd_train,    "train a built-in architecture or fine-tune a model on an image dataset"},
    {"attack",   ng_cmd_attack,   "attacks: finetune, prune, keyguess (Deep-Lock), adaptive (AdvParams)"},
    {"eval-scheme", ng_cmd_eval_scheme, "measure a scheme end to end under attack: deeplock, advparams, securenet, dynamarks (JSON + table)"},
    {"evaluate", ng_cmd_evaluate, "every scheme under the same attacks: results.json + report.html (--quick: minutes)"},
    {"demo",     ng_cmd_demo,     "the end-to-end demo on Fashion-MNIST"},
    {"advparams", ng_cmd_advparams, "AdvParams: encrypt a model by perturbing a few parameters, or decrypt it"},
    {"keygen",   ng_cmd_keygen,   "Deep-Lock: make a random key file (0600)"},
    {"lock",     ng_cmd_lock,     "Deep-Lock: lock every parameter with the AES S-box under a key stream"},
    {"unlock",   ng_cmd_unlock,   "Deep-Lock: check the key and restore the original parameters"},
    {"seal",     ng_cmd_seal,     "seal a model: every tensor encrypted and authenticated (AEAD), opened in memory"},
    {"unseal",   ng_cmd_unseal,   "check and decrypt a sealed model (key, passphrase or license)"},
    {"identity", ng_cmd_identity, "identity new: an Ed25519 + X25519 identity for issuing or receiving licenses"},
    {"license",  ng_cmd_license,  "SecureNet license keys (keygen, stamp, train, replace, bind, harden, info); "
                                  "sealed models' signed licenses (issue, verify)"},
    {"serve",    ng_cmd_serve,    "prediction HTTP API (batched, clients, metrics), optionally DynaMarks-watermarked"},
    {"wm",       ng_cmd_wm,       "DynaMarks: wm verify SUSPECT - is it a surrogate of your watermarked API?"},
};

static void usage(FILE *f)
{
    fprintf(f, "nnguard %s - protect trained neural networks (Deep-Lock, AdvParams, ...)\n\n"
               "usage: nnguard <command> [options]   (nnguard <command> --help for its options)\n\ncommands:\n",
            NNGUARD_VERSION);
    for (size_t i = 0; i < sizeof ng_cmds / sizeof ng_cmds[0]; i++)
        fprintf(f, "  %-12s %s\n", ng_cmds[i].name, ng_cmds[i].summary);
}

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);   /* faster GEMM kernels when OpenBLAS misjudged the CPU */
    if (argc < 2) { usage(stderr); return NG_EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("nnguard %s\n", NNGUARD_VERSION); return 0; }
    /* progress and tables reach a log file as they are printed: a long eval-scheme or train run
     * redirected to a file and stopped early would otherwise leave it empty (stdio buffers 4 KB) */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (ng_init() != NG_OK) { fprintf(stderr, "nnguard: %s\n", ng_last_error()); return NG_EXIT_FAIL; }
    for (size_t i = 0; i < sizeof ng_cmds / sizeof ng_cmds[0]; i++)
        if (!strcmp(argv[1], ng_cmds[i].name)) return ng_cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "nnguard: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return NG_EXIT_USAGE;
}

int ng_cli_fail(const char *cmd, ng_status st)
{
    const char *msg = ng_last_error();
    fprintf(stderr, "nnguard %s: %s\n", cmd, msg && *msg ? msg : ng_status_str(st));
    switch (st) {
    case NG_E_KEY: case NG_E_STATE: case NG_E_AUTH: case NG_E_EXISTS: case NG_E_PERM: return NG_EXIT_REFUSED;
    case NG_E_INVALID: return NG_EXIT_USAGE;
    default: return NG_EXIT_FAIL;
    }
}

int ng_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "nnguard %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see nnguard %s --help)\n", cmd);
    return NG_EXIT_USAGE;
}

int ng_cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        ng_cli_usage(cmd, "%s expects a whole number from %lld to %lld, not '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int ng_cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi)) {
        ng_cli_usage(cmd, "%s expects a number from %g to %g, not '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

const char *ng_cli_sched_name(int sched)
{
    return sched == NG_SCHED_STEP ? "step" : sched == NG_SCHED_COSINE ? "cosine" : "const";
}

int ng_cli_sched(const char *cmd, const char *s, int *out)
{
    static const int kinds[] = {NG_SCHED_CONST, NG_SCHED_STEP, NG_SCHED_COSINE};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, ng_cli_sched_name(kinds[i]))) { *out = kinds[i]; return 0; }
    ng_cli_usage(cmd, "--schedule is const, step or cosine, not '%s'", s);
    return -1;
}

int ng_cli_tty(void) { return isatty(2); }
