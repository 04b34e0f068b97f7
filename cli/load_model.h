/* cli/load_model.h - how every subcommand opens a model for running.
 *
 * One function, ng_cli_open_model(), turns a model file plus the command's key
 * options into a runnable ng_model:
 *   ONNX        - graph and weights from the file;
 *   safetensors - weights only: the graph comes from --arch (built-in architecture)
 *                 for inputs --input-shape C,H,W (the caller fills in the data's
 *                 shape when the user gave none) and --classes (default 10).
 * A sealed file (nnguard.seal.*) is unsealed in memory with --key / --passphrase-file or
 * --license --identity --issuer-pub (then unlocked too when it was Deep-Locked before sealing).
 * A file whose metadata says it is protected (nnguard.scheme) is unlocked in
 * memory when a key is given (plaintext never touches disk); without a key it
 * is run as it is, with a note on stderr.
 *
 * Options are parsed the same way by every command:
 *
 *     static const struct option opts[] = {
 *         {"help", no_argument, NULL, 'h'},
 *         NG_CLI_KEY_LONGOPTS, NG_CLI_ARCH_LONGOPTS,
 *         {0}};
 *     ng_cli_keys k = ng_cli_keys_default();
 *     while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
 *         int r = ng_cli_keys_option("eval", &k, c, optarg);
 *         if (r < 0) return NG_EXIT_USAGE;
 *         if (r > 0) continue;
 *         switch (c) { ... }
 *     }
 *     if (!k.c) ng_cli_keys_set_shape(&k, data.c, data.h, data.w);
 *     if (ng_cli_open_model("eval", path, &k, &m) != NG_OK) return ng_cli_fail("eval", st);
 */
#ifndef NG_CLI_LOAD_MODEL_H
#define NG_CLI_LOAD_MODEL_H
#include <getopt.h>
#include "nnguard/nnguard.h"

typedef struct ng_cli_keys {
    const char *key_file;         /* --key FILE: Deep-Lock key file */
    const char *passphrase_file;  /* --passphrase-file FILE: passphrase instead of a key file */
    const char *advparams_key;    /* --advparams-key FILE: AdvParams key file */
    int         no_check;         /* --no-check: skip the key check value (experiments only) */
    const char *arch;             /* --arch NAME: architecture for safetensors weights */
    int         c, h, w;          /* --input-shape C,H,W (0: not given) */
    int         classes;          /* --classes N (0: not given, 10 is used) */
    const char *license, *identity, *issuer_pub;   /* --license, --identity, --issuer-pub: sealed models */
} ng_cli_keys;

/* getopt_long codes of the shared options (outside the range of short options). */
enum {
    NG_CLI_OPT_KEY = 0x4e00,
    NG_CLI_OPT_PASSPHRASE_FILE,
    NG_CLI_OPT_ADVPARAMS_KEY,
    NG_CLI_OPT_NO_CHECK,
    NG_CLI_OPT_ARCH,
    NG_CLI_OPT_INPUT_SHAPE,
    NG_CLI_OPT_CLASSES,
    NG_CLI_OPT_LICENSE,
    NG_CLI_OPT_IDENTITY,
    NG_CLI_OPT_ISSUER_PUB,
};

/* Key options, for commands that run a possibly protected model. */
#define NG_CLI_KEY_LONGOPTS \
    {"key", required_argument, NULL, NG_CLI_OPT_KEY}, \
    {"passphrase-file", required_argument, NULL, NG_CLI_OPT_PASSPHRASE_FILE}, \
    {"advparams-key", required_argument, NULL, NG_CLI_OPT_ADVPARAMS_KEY}, \
    {"no-check", no_argument, NULL, NG_CLI_OPT_NO_CHECK}, \
    {"license", required_argument, NULL, NG_CLI_OPT_LICENSE}, \
    {"identity", required_argument, NULL, NG_CLI_OPT_IDENTITY}, \
    {"issuer-pub", required_argument, NULL, NG_CLI_OPT_ISSUER_PUB}
/* Architecture options, for commands that accept safetensors weights. */
#define NG_CLI_ARCH_LONGOPTS \
    {"arch", required_argument, NULL, NG_CLI_OPT_ARCH}, \
    {"input-shape", required_argument, NULL, NG_CLI_OPT_INPUT_SHAPE}, \
    {"classes", required_argument, NULL, NG_CLI_OPT_CLASSES}

/* Help text lines for the options above. */
#define NG_CLI_KEY_HELP \
    "  --key FILE              Deep-Lock / seal key file: unlock or unseal the model in memory\n" \
    "  --passphrase-file FILE  Deep-Lock / seal passphrase (first line of FILE) instead of --key\n" \
    "  --license LICENSE       sealed model: open it with a license (with --identity, --issuer-pub)\n" \
    "  --identity ME           your identity file, the license's licensee\n" \
    "  --issuer-pub P          the license issuer's public identity file\n" \
    "  --advparams-key FILE    AdvParams key file: decrypt the model in memory\n" \
    "  --no-check              do not verify the key, the graph or the parameters (experiments only)\n"
#define NG_CLI_ARCH_HELP \
    "  --arch NAME             architecture of safetensors weights (mlp, lenet5, vgg-small, resnet-small)\n" \
    "  --input-shape C,H,W     input shape for --arch (default: the data's shape)\n" \
    "  --classes N             output classes for --arch (default 10)\n"

/* All options unset. */
ng_cli_keys ng_cli_keys_default(void);
/* Handle one getopt_long result: 1 consumed, 0 not a shared option, -1 usage error printed. */
int ng_cli_keys_option(const char *cmd, ng_cli_keys *k, int opt, const char *arg);
/* Use c x h x w as the input shape unless --input-shape was given. */
void ng_cli_keys_set_shape(ng_cli_keys *k, int c, int h, int w);
/* Parse "C,H,W" (each 1..65536); 0 ok, -1 on a malformed value (no message). */
int ng_cli_parse_shape(const char *s, int *c, int *h, int *w);

/* Open path (ONNX or safetensors) as a runnable model, unlocking it in memory when keys are given.
 * cmd names the subcommand in notes on stderr. The caller frees *out with ng_model_free. */
ng_status ng_cli_open_model(const char *cmd, const char *path, const ng_cli_keys *keys, ng_model **out);

/* Build a model for weights w that hold no graph (safetensors): --arch, shape, classes from keys. */
ng_status ng_cli_model_from_arch(const char *path, const ng_weights *w, const ng_cli_keys *keys,
                                 ng_model **out);

/* Fail with a message naming path unless the model takes c x h x w inputs. */
ng_status ng_cli_check_input(const char *path, const ng_model *m, int c, int h, int w, const char *what);

#endif
