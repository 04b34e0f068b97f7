/* cli/seal/cmd_license_ops.c - `nnguard license issue` and `nnguard license verify` (licenses of
 * sealed models, nnguard/license.h); dispatched by cli/cmd_license.c. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "cli.h"
#include "seal_cli.h"
#include "core/core.h"

static int usage_issue(FILE *f)
{
    fprintf(f, "usage: nnguard license issue --issuer ISSUER --to LICENSEE.pub --model SEALED\n"
               "                             (--key KEY | --passphrase-file FILE) --expires YYYY-MM-DD\n"
               "                             [--classes LIST] -o LICENSE [--force]\n\n"
               "Issue a license for a sealed model: names the licensee, the model (its nnguard.seal.id) and the\n"
               "expiry date (valid to the end of that day, UTC), carries the model's key sealed to the licensee's\n"
               "X25519 key, and is signed with the issuer's Ed25519 key. The key is checked against the model\n"
               "first. The licensee opens the model with --license LICENSE --identity ME --issuer-pub ISSUER.pub.\n\n"
               "  --issuer ISSUER         your secret identity file (nnguard identity new)\n"
               "  --to LICENSEE.pub       the licensee's public identity file\n"
               "  --model SEALED          the sealed model the license opens\n"
               "  --key KEY               the key file it was sealed with\n"
               "  --passphrase-file FILE  or the passphrase it was sealed with ('-' asks)\n"
               "  --expires YYYY-MM-DD    last day of validity\n"
               "  --classes LIST          grant only these classes (e.g. 0,1,2 or 0-4,7; signed in the license):\n"
               "                          eval, predict and serve then answer only them (others get probability\n"
               "                          0), and unseal to a file is refused. Enforced by nnguard's runtime, not\n"
               "                          by the weights (see docs/threat-model.md). Default: every class\n"
               "  -o, --output LICENSE    the license file to write\n"
               NG_CLI_FORCE_HELP
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_license_issue(int argc, char **argv)
{
    enum { OPT_ISSUER = 0x100, OPT_TO, OPT_MODEL, OPT_KEY, OPT_PASS, OPT_EXP, OPT_CLASSES };
    static const struct option opts[] = {
        {"issuer", required_argument, NULL, OPT_ISSUER}, {"to", required_argument, NULL, OPT_TO},
        {"model", required_argument, NULL, OPT_MODEL}, {"key", required_argument, NULL, OPT_KEY},
        {"passphrase-file", required_argument, NULL, OPT_PASS}, {"expires", required_argument, NULL, OPT_EXP},
        {"classes", required_argument, NULL, OPT_CLASSES},
        {"output", required_argument, NULL, 'o'}, NG_CLI_FORCE_LONGOPT, {"help", no_argument, NULL, 'h'}, {0}};
    const char *issuer = NULL, *to = NULL, *model = NULL, *exp = NULL, *out = NULL, *classes = NULL;
    ng_cli_seal_src src = {0};
    int force = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ISSUER: issuer = optarg; break;
        case OPT_TO: to = optarg; break;
        case OPT_MODEL: model = optarg; break;
        case OPT_KEY: src.key_file = optarg; break;
        case OPT_PASS: src.pass_file = optarg; break;
        case OPT_EXP: exp = optarg; break;
        case OPT_CLASSES: classes = optarg; break;
        case 'o': out = optarg; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'h': return usage_issue(stdout);
        default: return usage_issue(stderr);
        }
    }
    if (optind != argc) return ng_cli_usage("license issue", "unexpected argument '%s'", argv[optind]);
    if (!issuer || !to || !model || !exp || !out)
        return ng_cli_usage("license issue", "give --issuer, --to, --model, --expires and -o");
    if (!src.key_file && !src.pass_file) return ng_cli_usage("license issue", "give the model's --key or --passphrase-file");
    const char *ins[] = {issuer, to, model, src.key_file, src.pass_file && strcmp(src.pass_file, "-") ? src.pass_file : NULL};
    ng_class_set granted = {0};
    if (classes) {
        ng_status cs = ng_class_set_parse(classes, "--classes", &granted);
        if (cs != NG_OK) return ng_cli_usage("license issue", "%s", ng_last_error());
    }
    ng_status st = ng_cli_check_outputs(&out, 1, ins, 5, force);
    ng_identity iss;
    ng_identity_pub lic;
    ng_weights *w = NULL;
    ng_cli_secret sec;
    ng_key key;
    uint8_t id[32];
    char *text = NULL;
    size_t len = 0;
    memset(&key, 0, sizeof key);
    if (st == NG_OK) st = ng_identity_pub_load(to, &lic);
    if (st == NG_OK) st = ng_weights_open(model, &w);
    if (st == NG_OK) st = ng_seal_id(w, id);
    if (st == NG_OK && (st = ng_cli_seal_secret(&src, w, model, &sec, NULL)) == NG_OK) {
        st = ng_seal_key(w, &sec.s, &key);
        ng_cli_secret_free(&sec);
    }
    if (st == NG_OK && granted.limited && ng_weights_format(w) == NG_FMT_ONNX) {   /* the graph tells the classes */
        ng_model *m;
        if (ng_model_from_weights(w, &m) == NG_OK) {
            uint8_t mask[NG_SEAL_LICENSE_MAX_CLASSES];
            int n = ng_model_num_classes(m);
            ng_model_free(m);
            if (n > 0 && n <= NG_SEAL_LICENSE_MAX_CLASSES) st = ng_class_set_mask(&granted, n, model, mask);
        } else {
            ng_clear_error();
        }
    }
    ng_weights_free(w);
    if (st == NG_OK && (st = ng_identity_load(issuer, &iss)) == NG_OK) {
        st = ng_license_issue(&iss, &lic, id, exp, &granted, &key, &text, &len);
        ng_identity_wipe(&iss);
    }
    ng_key_wipe(&key);
    if (st == NG_OK) st = ng_write_file_atomic(out, text, len, NG_MODE_PUBLIC);
    free(text);
    if (st != NG_OK) return ng_cli_fail("license issue", st);
    char hex[65];
    ng_id_hex(id, hex);
    char cl[5 * NG_SEAL_LICENSE_MAX_CLASSES + 8] = "all";
    if (granted.limited) ng_class_set_text(&granted, cl, sizeof cl);
    printf("license %s: model %s, expires %s (end of day, UTC), classes %s\n", out, hex, exp, cl);
    if (time(NULL) >= ng_license_expiry(exp))
        fprintf(stderr, "nnguard license issue: warning: %s is already expired (%s is in the past)\n", out, exp);
    return NG_EXIT_OK;
}

static int usage_verify(FILE *f)
{
    fprintf(f, "usage: nnguard license verify LICENSE --issuer-pub P [--model SEALED] [--identity ME]\n\n"
               "Check a license offline: issued by P (its public identity file), signature, not expired; with\n"
               "--model, that it names this sealed model; with --identity, that it is issued to ME and that\n"
               "its key opens with ME. Prints the licensee, model and expiry. Exit 0 when valid, 3 when not.\n\n"
               "  --issuer-pub P          the issuer's public identity file\n"
               "  --model SEALED          also check the license names this sealed model\n"
               "  --identity ME           also check it is issued to this identity (secret file)\n"
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_license_verify(int argc, char **argv)
{
    enum { OPT_ISS = 0x100, OPT_MODEL, OPT_ID };
    static const struct option opts[] = {
        {"issuer-pub", required_argument, NULL, OPT_ISS}, {"model", required_argument, NULL, OPT_MODEL},
        {"identity", required_argument, NULL, OPT_ID}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *iss_path = NULL, *model = NULL, *me_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ISS: iss_path = optarg; break;
        case OPT_MODEL: model = optarg; break;
        case OPT_ID: me_path = optarg; break;
        case 'h': return usage_verify(stdout);
        default: return usage_verify(stderr);
        }
    }
    if (optind + 1 != argc) return ng_cli_usage("license verify", "give exactly one LICENSE");
    if (!iss_path) return ng_cli_usage("license verify", "give the issuer's public identity with --issuer-pub P");
    const char *path = argv[optind];
    ng_license l;
    ng_identity_pub iss;
    ng_status st = ng_license_load(path, &l);
    if (st == NG_OK) st = ng_identity_pub_load(iss_path, &iss);
    if (st == NG_OK) st = ng_license_verify(&l, path, &iss, (int64_t)time(NULL));
    uint8_t id[32];
    memcpy(id, l.model, 32);
    if (st == NG_OK && model) {
        ng_weights *w;
        if ((st = ng_weights_open(model, &w)) == NG_OK) {
            st = ng_seal_id(w, id);
            ng_weights_free(w);
        }
    }
    if (st == NG_OK && (model || me_path)) {
        ng_identity me;
        ng_key k;
        if (!me_path) {   /* model only: compare the id */
            if (sodium_memcmp(id, l.model, 32) != 0)
                st = ng_fail(NG_E_KEY, "%s: the license is for another model, not %s", path, model);
        } else if ((st = ng_identity_load(me_path, &me)) == NG_OK) {
            st = ng_license_open(&l, path, &iss, &me, id, (int64_t)time(NULL), &k);
            ng_key_wipe(&k);
            ng_identity_wipe(&me);
        }
    }
    if (st != NG_OK) return ng_cli_fail("license verify", st);
    char mh[65], lh[65];
    ng_id_hex(l.model, mh);
    ng_id_hex(l.licensee.sign, lh);
    char cl[5 * NG_SEAL_LICENSE_MAX_CLASSES + 8] = "all";
    if (l.classes.limited) ng_class_set_text(&l.classes, cl, sizeof cl);
    printf("license %s: valid\n  issuer:   %s\n  licensee: %s\n  model:    %s\n  expires:  %s (end of day, UTC)\n"
           "  classes:  %s\n", path, iss_path, lh, mh, l.expires, cl);
    return NG_EXIT_OK;
}
