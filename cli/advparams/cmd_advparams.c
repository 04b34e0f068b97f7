/* cli/cmd_advparams.c - `nnguard advparams encrypt|decrypt`: AdvParams (SCHEMES.md section 2).
 * encrypt perturbs parameters of a model chosen by gradient on an encryption set drawn from the
 * training data (hardened form by default, the paper's with --rule); the positions and values go to a secret key file. decrypt
 * restores the original parameters bit for bit. Refusals (wrong key, existing key file, insecure
 * key file, protected input) exit 3 with nothing written. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "load_model.h"
#include "core/core.h"
#include "nnguard/advparams.h"
#include "nnguard/keys.h"

#define NG_STR2(x) #x
#define NG_STR(x) NG_STR2(x)

static const char enc_help[] =
    "usage: nnguard advparams encrypt MODEL -o OUT --key-out KEY [--data DIR] [options]\n\n"
    "Encrypt MODEL (ONNX or safetensors) by adversarially perturbing parameters, chosen by the\n"
    "gradient of the cross-entropy on an encryption set drawn (stratified) from the training images\n"
    "in DIR. OUT is a valid model file of the same format; no metadata names the moved parameters.\n"
    "Two forms (SCHEMES.md section 2):\n"
    "  hardened (default, --harden): the whole --budget (default " NG_STR(NG_ADV_HARDEN_BUDGET) ") is spent; each new value\n"
    "    is drawn from inside its tensor's 1st..99th percentile, never its min or max, positions at\n"
    "    random among the best-scoring ones (see docs/threat-model.md for what an attacker finds);\n"
    "  the paper's (--rule grad --target-acc 0.15, or --rule gain): one parameter at a time moved to its\n"
    "    tensor's min or max until the target is met (default budget 25); those values betray\n"
    "    themselves (nnguard attack adaptive finds them all).\n"
    "KEY (created 0600, never overwritten, even with --force) holds the positions and values.\n"
    "When the budget runs out before the target accuracy is reached, nothing is written and the\n"
    "exit code is 1, unless --allow-miss.\n\n"
    "  --data DIR              training data (MNIST IDX or CIFAR-10 folder;\n"
    "                          default /usr/share/datasets/fashion-mnist)\n"
    "  -o, --output OUT        encrypted model file\n"
    "  --key-out KEY           key file to create (refused if it exists)\n"
    "  --budget N              parameters changed (hardened: exactly N; paper: at most N)\n"
    "  --target-acc A          stop when encryption-set accuracy < A (default 0.10; the spec's 0.15)\n"
    "  --rule gain|grad        paper form: pick the largest |gradient x move| (gain, ours, default: fewer changes\n"
    "                          for the same drop) or the largest |gradient| (grad, the spec's rule)\n"
    "  --tensors PATTERN       eligible tensors, comma-separated fnmatch patterns\n"
    "                          (default: every *.weight tensor with 2+ dims)\n"
    "  --encryption-set N      images in the encryption set (default 512)\n"
    "  --seed S                seed of the encryption-set draw (default 0; recorded in the key)\n"
    "  --passphrase-file F     seal the key file with the passphrase in F (Argon2id + XChaCha20-Poly1305)\n"
    "  --mark                  write nnguard.scheme=advparams into the file's metadata\n"
    "  --harden                hardened form (ours, SCHEMES.md section 2): every new value is drawn\n"
    "                          from inside its tensor's 1st..99th percentile (never its min or max),\n"
    "                          positions at random among the best-scoring ones, and the WHOLE budget\n"
    "                          is spent (the count is what leaves fine-tuning no head start)\n"
    "  --spread S              hardened: each round's positions drawn at random among the S x as many\n"
    "                          best-scoring candidates (default 4; larger: harder to single out, more needed)\n"
    "  --hide N                hardened: N camouflage rounds after the budget: at the encrypted point,\n"
    "                          the parameters the gradient-outlier detector ranks among its top\n"
    "                          15 x budget are put back and replaced by low-ranked ones (0: none)\n"
    "  --reset-proof           hardened (an experiment, off by default): the rounds move parameters whose\n"
    "                          original value matters INTO their tensor's centre band (the 10% of its\n"
    "                          values around its mean), so that resetting suspects to the mean restores\n"
    "                          nothing; on LeNet-5, with --spread 1, it holds the reset + fine-tune\n"
    "                          attacker at ~10,000 changed, the default form at ~12,000\n"
    "                          (docs/results/advparams-resetproof-lenet5.txt)\n"
    "  --dead-layer            hardened: also silence every unit of the first eligible tensor (its\n"
    "                          positive weights and biases moved to negative values from inside the\n"
    "                          tensor): those units never fire, so they pass no gradient to\n"
    "                          anything before them and fine-tuning cannot revive them; the key\n"
    "                          holds --budget + those moves. Visible to anyone who looks at the\n"
    "                          activations (docs/threat-model.md: the dead-layer attacker)\n"
    "  --dead-at K             hardened: the dead layer is the K-th eligible tensor (1 = the first, as\n"
    "                          --dead-layer); with K = 2 the layers before it pass no gradient either\n"
    "  --dead-layers N         hardened: silence N consecutive eligible tensors from the dead one (default 1):\n"
    "                          re-initialising the first alone does not revive the network\n"
    "  --allow-miss            write OUT and KEY even when the target accuracy was not reached\n"
    "  --force                 replace an existing OUT (never an existing KEY, nor an input)\n"
    "  --threads N             worker threads (default: all cores)\n"
    NG_CLI_ARCH_HELP
    "Progress (one line per changed parameter) goes to stderr.\n";

static const char dec_help[] =
    "usage: nnguard advparams decrypt ENCRYPTED --key KEY -o OUT [--passphrase-file F]\n\n"
    "Restore the original parameters of an AdvParams-encrypted model bit for bit. Refused (exit 3,\n"
    "nothing written) when the key belongs to another model or does not fit the file.\n\n"
    "  --key KEY               AdvParams key file (from advparams encrypt)\n"
    "  -o, --output OUT        decrypted model file\n"
    "  --passphrase-file F     passphrase of a sealed key file\n"
    "  --force                 replace an existing OUT (never an input)\n"
    "OUT holds the plaintext model: it is created 0600.\n";

static const char top_help[] =
    "usage: nnguard advparams encrypt|decrypt ... (nnguard advparams encrypt --help)\n\n"
    "AdvParams: parameters adversarially perturbed (hardened form by default, the paper's with --rule);\n"
    "positions and values are the key.\n";

enum { OPT_DATA = 0x4f00, OPT_KEY_OUT, OPT_BUDGET, OPT_TARGET, OPT_TENSORS, OPT_SET, OPT_SEED,
       OPT_PASS, OPT_MARK, OPT_THREADS, OPT_KEY, OPT_RULE, OPT_ALLOW_MISS, OPT_HARDEN, OPT_SPREAD, OPT_DEAD, OPT_HIDE, OPT_RPROOF, OPT_DEAD_AT, OPT_DEAD_N };

/* Passphrase from a file (keys.h helper: first line, file must be 0600), or none. */
static ng_status read_pass(const char *file, char **pass, size_t *len)
{
    *pass = NULL; *len = 0;
    return file ? ng_passphrase_read(file, NULL, pass, len) : NG_OK;
}

static int encrypt_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, {"output", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, OPT_DATA}, {"key-out", required_argument, NULL, OPT_KEY_OUT},
        {"budget", required_argument, NULL, OPT_BUDGET}, {"target-acc", required_argument, NULL, OPT_TARGET},
        {"tensors", required_argument, NULL, OPT_TENSORS}, {"encryption-set", required_argument, NULL, OPT_SET},
        {"seed", required_argument, NULL, OPT_SEED}, {"passphrase-file", required_argument, NULL, OPT_PASS},
        {"mark", no_argument, NULL, OPT_MARK}, {"rule", required_argument, NULL, OPT_RULE},
        {"threads", required_argument, NULL, OPT_THREADS}, {"allow-miss", no_argument, NULL, OPT_ALLOW_MISS},
        {"harden", no_argument, NULL, OPT_HARDEN}, {"spread", required_argument, NULL, OPT_SPREAD},
        {"dead-layer", no_argument, NULL, OPT_DEAD}, {"hide", required_argument, NULL, OPT_HIDE},
        {"reset-proof", no_argument, NULL, OPT_RPROOF}, {"dead-at", required_argument, NULL, OPT_DEAD_AT},
        {"dead-layers", required_argument, NULL, OPT_DEAD_N}, NG_CLI_ARCH_LONGOPTS, NG_CLI_FORCE_LONGOPT, {0, 0, 0, 0}};
    const char *cmd = "advparams encrypt", *data = NULL, *out = NULL, *key_out = NULL, *pass_file = NULL;
    int mark = 0, allow_miss = 0, force = 0, missed = 0, c, harden = -1, budget = 0;
    long long v;
    double d;
    ng_adv_options o = ng_adv_options_default();
    ng_cli_keys k = ng_cli_keys_default();
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        int r = ng_cli_keys_option(cmd, &k, c, optarg);
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': fputs(enc_help, stdout); return NG_EXIT_OK;
        case 'o': out = optarg; break;
        case OPT_DATA: data = optarg; break;
        case OPT_KEY_OUT: key_out = optarg; break;
        case OPT_BUDGET: if (ng_cli_int(cmd, "--budget", optarg, 1, NG_ADV_MAX_BUDGET, &v)) return NG_EXIT_USAGE; budget = (int)v; break;
        case OPT_TARGET: if (ng_cli_double(cmd, "--target-acc", optarg, 0, 1, &d)) return NG_EXIT_USAGE; o.target_acc = d; break;
        case OPT_TENSORS: o.tensors = optarg; break;
        case OPT_SET: if (ng_cli_int(cmd, "--encryption-set", optarg, 1, 1000000, &v)) return NG_EXIT_USAGE; o.set_size = v; break;
        case OPT_SEED: if (ng_cli_int(cmd, "--seed", optarg, 0, INT64_MAX, &v)) return NG_EXIT_USAGE; o.seed = (uint64_t)v; break;
        case OPT_PASS: pass_file = optarg; break;
        case OPT_MARK: mark = 1; break;
        case OPT_ALLOW_MISS: allow_miss = 1; break;
        case OPT_HARDEN: harden = 1; break;
        case OPT_DEAD: if (!o.dead) o.dead = 1; harden = 1; break;
        case OPT_DEAD_N:
            if (ng_cli_int(cmd, "--dead-layers", optarg, 1, 16, &v)) return NG_EXIT_USAGE;
            o.dead_layers = (int)v; if (!o.dead) o.dead = 1; harden = 1; break;
        case OPT_DEAD_AT: if (ng_cli_int(cmd, "--dead-at", optarg, 1, 1000, &v)) return NG_EXIT_USAGE; o.dead = (int)v; harden = 1; break;
        case OPT_HIDE: if (ng_cli_int(cmd, "--hide", optarg, 0, 100, &v)) return NG_EXIT_USAGE; o.hide = (int)v; harden = 1; break;
        case OPT_RPROOF: o.reset_proof = 1; harden = 1; break;
        case OPT_SPREAD: if (ng_cli_int(cmd, "--spread", optarg, 1, 1000, &v)) return NG_EXIT_USAGE; o.spread = (int)v; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case OPT_RULE:
            if (ng_adv_rule_parse(optarg) < 0) return ng_cli_usage(cmd, "--rule expects grad or gain, not '%s'", optarg);
            o.rule = (ng_adv_rule)ng_adv_rule_parse(optarg);
            if (harden < 0) harden = 0;   /* --rule alone: the paper's form */
            break;
        case OPT_THREADS: if (ng_cli_int(cmd, "--threads", optarg, 0, 1024, &v)) return NG_EXIT_USAGE; o.threads = (int)v; break;
        default: return ng_cli_usage(cmd, "unknown option");
        }
    }
    if (optind != argc - 1) return ng_cli_usage(cmd, "give exactly one MODEL file");
    o.harden = harden != 0;
    o.budget = budget ? budget : o.harden ? NG_ADV_HARDEN_BUDGET : ng_adv_options_paper().budget;
    if (!out || !key_out) return ng_cli_usage(cmd, "-o and --key-out are required");
    if (!data) data = NG_DEFAULT_DATA_DIR;
    const char *model = argv[optind];
    const char *outs[] = {out, key_out}, *ins[] = {model, pass_file};
    ng_status cst = ng_cli_check_outputs(outs, 2, ins, 2, force);
    if (cst == NG_OK && access(key_out, F_OK) == 0)
        cst = ng_fail(NG_E_EXISTS, "%s: already exists; a key file is never overwritten, even with --force", key_out);
    if (cst != NG_OK) return ng_cli_fail(cmd, cst);

    char *pass = NULL;
    size_t plen = 0;
    ng_weights *w = NULL;
    ng_model *m = NULL;
    ng_adv_key *key = NULL;
    ng_dataset train;
    memset(&train, 0, sizeof train);
    ng_status st = read_pass(pass_file, &pass, &plen);
    if (st == NG_OK) st = ng_weights_open(model, &w);
    if (st == NG_OK && ng_weights_meta_get(w, "nnguard.scheme"))
        st = ng_fail(NG_E_STATE, "%s: already protected (nnguard.scheme=%s); encrypt the plain model", model,
                     ng_weights_meta_get(w, "nnguard.scheme"));
    if (st == NG_OK) st = ng_dataset_load_dir(data, NG_SPLIT_TRAIN, &train);
    if (st == NG_OK) {
        ng_cli_keys_set_shape(&k, train.c, train.h, train.w);
        if (ng_weights_format(w) == NG_FMT_ONNX) st = ng_model_from_weights(w, &m);
        else st = ng_cli_model_from_arch(model, w, &k, &m);
    }
    if (st == NG_OK) st = ng_cli_check_input(model, m, train.c, train.h, train.w, data);
    if (st == NG_OK) {
        o.log = stderr;
        double t0 = ng_now();
        st = ng_adv_encrypt(m, w, &train, &o, &key);
        if (st == NG_OK) {
            double before, after;
            char hex[65];
            uint8_t id[32];
            ng_adv_key_info(key, NULL, NULL, NULL, NULL, &before, &after, NULL);
            ng_adv_key_id_after(key, id);
            ng_id_hex(id, hex);
            size_t n = ng_adv_key_count(key), total = ng_model_nparams(m);
            printf("changed %zu of %zu parameters (%.6f%%); encryption-set accuracy %.2f%% -> %.2f%%; %.2f s\n"
                   "encrypted model id %s\n", n, total, 100.0 * (double)n / (double)total, 100 * before,
                   100 * after, ng_now() - t0, hex);
            if (!(after < o.target_acc)) {
                missed = 1;
                fprintf(stderr, "nnguard %s: target missed: encryption-set accuracy %.2f%% is not below --target-acc "
                        "%.2f%% after %zu changes (--budget %d); %s\n", cmd, 100 * after, 100 * o.target_acc, n, o.budget,
                        allow_miss ? "writing the files anyway (--allow-miss)"
                                   : "nothing written: raise --budget or --target-acc, or accept it with --allow-miss");
            }
        }
    }
    int write = st == NG_OK && (!missed || allow_miss);
    if (write && mark) st = ng_weights_meta_set(w, "nnguard.scheme", "advparams");
    /* The key first (exclusive); if the model cannot be written the new key is removed again. */
    if (write && st == NG_OK) st = ng_adv_key_save(key, key_out, pass, plen);
    if (write && st == NG_OK && (st = ng_weights_save(w, out)) != NG_OK) unlink(key_out);
    if (pass) ng_passphrase_free(pass, plen);
    ng_adv_key_free(key);
    ng_model_free(m);
    ng_weights_free(w);
    ng_dataset_free(&train);
    if (st != NG_OK) return ng_cli_fail(cmd, st);
    return missed && !allow_miss ? NG_EXIT_FAIL : NG_EXIT_OK;
}

static int decrypt_cmd(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'}, {"output", required_argument, NULL, 'o'},
        {"key", required_argument, NULL, OPT_KEY}, {"passphrase-file", required_argument, NULL, OPT_PASS},
        NG_CLI_FORCE_LONGOPT, {0, 0, 0, 0}};
    const char *cmd = "advparams decrypt", *out = NULL, *keyf = NULL, *pass_file = NULL;
    int c, force = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(dec_help, stdout); return NG_EXIT_OK;
        case 'o': out = optarg; break;
        case OPT_KEY: keyf = optarg; break;
        case OPT_PASS: pass_file = optarg; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        default: return ng_cli_usage(cmd, "unknown option");
        }
    }
    if (optind != argc - 1) return ng_cli_usage(cmd, "give exactly one ENCRYPTED model file");
    if (!out || !keyf) return ng_cli_usage(cmd, "--key and -o are required");
    const char *model = argv[optind];
    char *pass = NULL;
    size_t plen = 0;
    ng_weights *w = NULL;
    ng_adv_key *key = NULL;
    const char *ins[] = {model, keyf, pass_file};
    ng_status st = ng_cli_check_outputs(&out, 1, ins, 3, force);
    if (ng_adv_key_file_sealed(keyf) == 1 && !pass_file)
        st = ng_fail(NG_E_KEY, "%s: key file is sealed; give its passphrase with --passphrase-file", keyf);
    if (st == NG_OK) st = read_pass(pass_file, &pass, &plen);
    if (st == NG_OK) st = ng_adv_key_load(keyf, pass, plen, &key);
    if (st == NG_OK) st = ng_weights_open(model, &w);
    if (st == NG_OK) st = ng_adv_decrypt(w, key);
    if (st == NG_OK) {
        const char *s = ng_weights_meta_get(w, "nnguard.scheme");
        if (s && !strcmp(s, "advparams")) st = ng_weights_meta_set(w, "nnguard.scheme", NULL);
    }
    if (st == NG_OK) st = ng_weights_save_mode(w, out, NG_MODE_PRIVATE);   /* plaintext of a protected model */
    if (st == NG_OK) printf("restored %zu parameters; %s written\n", ng_adv_key_count(key), out);
    if (pass) ng_passphrase_free(pass, plen);
    ng_adv_key_free(key);
    ng_weights_free(w);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}

int ng_cmd_advparams(int argc, char **argv)
{
    if (argc < 2) { fputs(top_help, stderr); return NG_EXIT_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { fputs(top_help, stdout); return NG_EXIT_OK; }
    if (!strcmp(argv[1], "encrypt")) return encrypt_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "decrypt")) return decrypt_cmd(argc - 1, argv + 1);
    return ng_cli_usage("advparams", "unknown action '%s' (encrypt or decrypt)", argv[1]);
}
