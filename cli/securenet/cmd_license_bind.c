/* cli/securenet/cmd_license_bind.c - `nnguard license bind`: bind an already trained licensed
 * model to (some of) its license keys (ng_license_bind; the format at the top of
 * nnguard/securenet.h). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "sn_cli.h"

static void help(void)
{
    printf("usage: nnguard license bind MODEL --key KEY [--key KEY2 ...] [--only PATTERN] -o OUT\n\n"
           "Bind a licensed model (license train) to its license keys: its parameters are Deep-Locked under a\n"
           "random 256-bit model key, and that key is stored in one key slot per given license key (XChaCha20-\n"
           "Poly1305 under a key derived from the license key). OUT still runs in any ONNX runtime, scrambled\n"
           "(useless); `nnguard eval|predict OUT --license-key KEY` unlocks it in memory with KEY's slot, then\n"
           "stamps. Keys of the model left out get no slot (they no longer open it).\n\n"
           "  --key KEY               a license key of MODEL (repeat for each key to keep)\n"
           "  --only PATTERN          lock only these tensors (fnmatch list, e.g. 'conv*'; default all)\n"
           "  -o OUT                  the bound model\n" NG_CLI_FORCE_HELP);
}

int ng_cmd_license_bind(int argc, char **argv)
{
    const char *cmd = "license bind", *out = NULL, *only = NULL;
    const char *key_files[NG_LICENSE_MAX_KEYS];
    int nk = 0, force = 0, c;
    enum { O_KEY = 0x100, O_ONLY };
    static const struct option opts[] = {
        {"key", required_argument, NULL, O_KEY}, {"only", required_argument, NULL, O_ONLY},
        {"output", required_argument, NULL, 'o'}, NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == O_KEY) {
            if (nk == NG_LICENSE_MAX_KEYS) return ng_cli_usage(cmd, "at most %d --key", NG_LICENSE_MAX_KEYS);
            key_files[nk++] = optarg;
        } else if (c == O_ONLY) only = optarg;
        else if (c == 'o') out = optarg;
        else if (c == NG_CLI_OPT_FORCE) force = 1;
        else if (c == 'h') { help(); return NG_EXIT_OK; }
        else return ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]);
    }
    if (optind + 1 != argc) return ng_cli_usage(cmd, "give one MODEL");
    if (!nk || !out) return ng_cli_usage(cmd, "give at least one --key KEY and -o OUT");
    const char *model = argv[optind], *outs[] = {out}, *ins[] = {model};
    ng_status st = ng_cli_check_outputs(outs, 1, ins, 1, force);
    ng_model *m = NULL;
    ng_key *keys = calloc((size_t)nk, sizeof *keys);
    ng_stamp_options so;
    if (st == NG_OK && !keys) st = NG_E_NOMEM;
    if (st == NG_OK) st = ng_model_load(model, &m);
    if (st == NG_OK && (st = ng_license_stamp_options(m, &so)) != NG_OK) st = ng_fail_ctx(st, model);
    if (st == NG_OK && ng_license_is_bound(m))
        st = ng_fail(NG_E_STATE, "%s is already bound to its keys (nnguard.license.bind)", model);
    for (int i = 0; i < nk && st == NG_OK; i++) {
        uint64_t mask;
        if ((st = ng_sn_load_key(key_files[i], &keys[i])) != NG_OK) break;
        if ((st = ng_license_key_classes(m, &keys[i], &mask)) != NG_OK) st = ng_fail_ctx(st, key_files[i]);
        for (int j = 0; j < i && st == NG_OK; j++)
            if (!sodium_memcmp(keys[i].k, keys[j].k, NG_LICENSE_KEY_BYTES))
                st = ng_fail(NG_E_INVALID, "--key %s is given twice", key_files[i]);
    }
    if (st == NG_OK) st = ng_license_bind(m, keys, nk, only);
    if (st == NG_OK) st = ng_model_save(m, out);
    if (st == NG_OK) printf("%s: bound %s to %d license key%s; saved %s\n", cmd, model, nk, nk == 1 ? "" : "s", out);
    if (keys) sodium_memzero(keys, (size_t)nk * sizeof *keys);
    free(keys);
    ng_model_free(m);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}
