/* cli/cmd_predict.c - `nnguard predict MODEL --images IDX`: logits and/or labels for images.
 *
 * Output files (each written atomically; neither is written if anything fails):
 *   --logits OUT.f32  N x C float32, little-endian, row-major, in input order, no header;
 *   --labels OUT.txt  N lines, the argmax class of each image (first one on ties).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "core/core.h"
#include "idx_images.h"
#include "load_model.h"

static int usage_predict(FILE *f)
{
    fprintf(f, "usage: nnguard predict MODEL --images IDX_FILE [--logits OUT.f32] [--labels OUT.txt]\n"
               "                            [--limit N] [--batch B] [--threads T] [key options] [--license-key KEY]\n"
               "                            [--arch NAME] [--force]\n\n"
               "Run MODEL on the images of an MNIST IDX images file (gzip or plain; no labels needed)\n"
               "and write the logits and/or the predicted labels. At least one output is required.\n\n"
               "  --images FILE           IDX images file (magic 2051)\n"
               "  --logits FILE           N x C float32 little-endian logits, in input order\n"
               "  --labels FILE           one predicted class (argmax) per line\n"
               "  --limit N               only the first N images\n"
               "  --batch B               images per forward pass (default 256)\n"
               "  --threads T             worker threads (default 0: all cores)\n"
               NG_CLI_KEY_HELP NG_CLI_LICENSE_KEY_HELP NG_CLI_ARCH_HELP NG_CLI_FORCE_HELP
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

/* Open the writer and write the logits; the caller commits. */
static ng_status write_logits(ng_awriter *aw, const char *path, const float *logits, size_t count)
{
    ng_status st = ng_awrite_open(aw, path, NG_MODE_PUBLIC);
    if (st != NG_OK) return st;
    uint8_t buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &logits[i], 4);
        ng_put_le32(buf + k, bits);
        k += 4;
        if (k == sizeof buf || i + 1 == count) {
            if ((st = ng_awrite(aw, buf, k)) != NG_OK) { ng_awrite_abort(aw); return st; }
            k = 0;
        }
    }
    return NG_OK;
}

static ng_status write_labels(ng_awriter *aw, const char *path, const float *logits, int64_t n, int c)
{
    ng_status st = ng_awrite_open(aw, path, NG_MODE_PUBLIC);
    if (st != NG_OK) return st;
    char buf[4096];
    size_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *v = logits + i * c;
        int best = 0;
        for (int j = 1; j < c; j++)
            if (v[j] > v[best]) best = j;
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%d\n", best);
        if (k > sizeof buf - 16 || i + 1 == n) {
            if ((st = ng_awrite(aw, buf, k)) != NG_OK) { ng_awrite_abort(aw); return st; }
            k = 0;
        }
    }
    return NG_OK;
}

/* Write both outputs, committing only when both were written in full. */
static ng_status write_outputs(const char *logits_path, const char *labels_path, const float *logits,
                               int64_t n, int c)
{
    ng_awriter wl, wb;
    ng_status st;
    if (logits_path && (st = write_logits(&wl, logits_path, logits, (size_t)n * (size_t)c)) != NG_OK) return st;
    if (labels_path && (st = write_labels(&wb, labels_path, logits, n, c)) != NG_OK) {
        if (logits_path) ng_awrite_abort(&wl);
        return st;
    }
    if (logits_path && (st = ng_awrite_commit(&wl)) != NG_OK) {
        if (labels_path) ng_awrite_abort(&wb);
        return st;
    }
    if (labels_path && (st = ng_awrite_commit(&wb)) != NG_OK) return st;
    return NG_OK;
}

int ng_cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"images", required_argument, NULL, 'i'},
        {"logits", required_argument, NULL, 'o'},
        {"labels", required_argument, NULL, 'l'},
        {"limit", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"license-key", required_argument, NULL, NG_CLI_OPT_LICENSE_KEY},
        NG_CLI_KEY_LONGOPTS, NG_CLI_ARCH_LONGOPTS, NG_CLI_FORCE_LONGOPT,
        {0, 0, 0, 0}};
    ng_cli_keys keys = ng_cli_keys_default();
    const char *images = NULL, *logits_path = NULL, *labels_path = NULL, *license_key = NULL;
    long long limit = 0, batch = 256, threads = 0;
    int c, force = 0;
    optind = 1;
    opterr = 0;   /* our own message names the command */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = ng_cli_keys_option("predict", &keys, c, optarg);
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': return usage_predict(stdout);
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'i': images = optarg; break;
        case 'o': logits_path = optarg; break;
        case 'l': labels_path = optarg; break;
        case NG_CLI_OPT_LICENSE_KEY: license_key = optarg; break;
        case 'n': if (ng_cli_int("predict", "--limit", optarg, 1, 1000000000, &limit)) return NG_EXIT_USAGE; break;
        case 'b': if (ng_cli_int("predict", "--batch", optarg, 1, 65536, &batch)) return NG_EXIT_USAGE; break;
        case 't': if (ng_cli_int("predict", "--threads", optarg, 0, 256, &threads)) return NG_EXIT_USAGE; break;
        default: return ng_cli_usage("predict", "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ng_cli_usage("predict", "MODEL is missing");
    if (optind + 1 < argc) return ng_cli_usage("predict", "unexpected argument '%s'", argv[optind + 1]);
    if (!images) return ng_cli_usage("predict", "--images IDX_FILE is required");
    if (!logits_path && !labels_path) return ng_cli_usage("predict", "give --logits FILE and/or --labels FILE");
    const char *model = argv[optind];
    const char *outs[2] = {logits_path, labels_path};
    const char *ins[6] = {model, images, keys.key_file, keys.passphrase_file, keys.advparams_key, license_key};
    ng_status st = ng_cli_check_outputs(outs, 2, ins, 6, force);
    if (st != NG_OK) return ng_cli_fail("predict", st);

    ng_idx_images im;
    if ((st = ng_idx_images_load(images, limit, &im)) != NG_OK) return ng_cli_fail("predict", st);
    ng_cli_keys_set_shape(&keys, im.c, im.h, im.w);
    ng_model *m;
    if ((st = ng_cli_open_model("predict", model, &keys, &m)) != NG_OK) {
        ng_idx_images_free(&im);
        return ng_cli_fail("predict", st);
    }
    float *logits = NULL;
    int nc = ng_model_num_classes(m);
    if ((st = ng_cli_check_input(model, m, im.c, im.h, im.w, images)) == NG_OK && license_key)
        st = ng_cli_license_stamp("predict", model, m, license_key, im.x, im.n, im.c, im.h, im.w);
    if (st == NG_OK) {
        logits = ng_calloc((size_t)im.n, (size_t)nc * sizeof *logits);
        st = logits ? ng_model_predict(m, im.x, im.n, (int)batch, (int)threads, logits) : NG_E_NOMEM;
    }
    if (st == NG_OK) st = write_outputs(logits_path, labels_path, logits, im.n, nc);
    int rc = st == NG_OK ? NG_EXIT_OK : ng_cli_fail("predict", st);
    if (st == NG_OK)
        fprintf(stderr, "nnguard predict: %lld images x %d classes%s%s%s%s\n", (long long)im.n, nc,
                logits_path ? ", logits -> " : "", logits_path ? logits_path : "",
                labels_path ? ", labels -> " : "", labels_path ? labels_path : "");
    free(logits);
    ng_model_free(m);
    ng_idx_images_free(&im);
    return rc;
}
