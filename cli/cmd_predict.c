/* cli/cmd_predict.c - `nnguard predict MODEL --images IDX|DIR | --input X.npy`: logits and/or
 * labels for a batch of inputs.
 *
 * Output files (each written atomically; none is written if anything fails):
 *   --logits OUT.f32  N x C float32, little-endian, row-major, in input order, no header;
 *   --output OUT.npy  the same logits as a float32 .npy array of shape (N, C);
 *   --labels OUT.txt  N lines, the argmax class of each image (first one on ties).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "core/core.h"
#include "idx_images.h"
#include "inputs.h"
#include "load_model.h"

static int usage_predict(FILE *f)
{
    fprintf(f, "usage: nnguard predict MODEL (--images IDX_FILE|DIR | --input X.npy)\n"
               "                            [--output OUT.npy] [--logits OUT.f32] [--labels OUT.txt]\n"
               "                            [--resize HxW] [--mean M] [--std S]\n"
               "                            [--limit N] [--batch B] [--threads T] [key options] [--license-key KEY]\n"
               "                            [--arch NAME] [--force]\n\n"
               "Run MODEL on a batch of inputs and write the logits and/or the predicted labels.\n"
               "At least one output is required.\n\n"
               "  --images FILE           MNIST IDX images file (magic 2051; gzip or plain; no labels needed)\n"
               "  --images DIR            the .png/.jpg/.jpeg files in DIR, in name order: decoded to the\n"
               "                          model's channels (gray <-> RGB), scaled to [0,1], then --mean/--std\n"
               "  --input X.npy           a NumPy array, batch first, of the model's input shape:\n"
               "                          float32 used as it is, uint8 scaled to [0,1] (x/255)\n"
               "  --output FILE           N x C float32 logits as a .npy array\n"
               "  --logits FILE           N x C float32 little-endian logits, in input order\n"
               "  --labels FILE           one predicted class (argmax) per line\n"
               NG_CLI_IMG_HELP
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

/* The logits as a float32 .npy array of shape (n, c). */
static ng_status write_npy(ng_awriter *aw, const char *path, const float *logits, int64_t n, int c)
{
    ng_shape s = {2, {n, c}};
    uint8_t h[128];
    size_t hn = ng_npy_header_f32(&s, h, sizeof h);
    if (!hn) return ng_fail(NG_E_INTERNAL, "%s: .npy header too long", path);
    ng_status st = ng_awrite_open(aw, path, NG_MODE_PUBLIC);
    if (st != NG_OK) return st;
    if ((st = ng_awrite(aw, h, hn)) != NG_OK) { ng_awrite_abort(aw); return st; }
    if ((st = ng_awrite(aw, logits, (size_t)n * (size_t)c * sizeof *logits)) != NG_OK) { ng_awrite_abort(aw); return st; }
    return NG_OK;
}

/* Write every output asked for (paths[i] NULL: not asked), committing only when all were written in full. */
static ng_status write_outputs(const char *const paths[3], const float *logits, int64_t n, int c)
{
    ng_awriter w[3];
    ng_status st = NG_OK;
    int k = 0;
    for (; k < 3; k++) {
        if (!paths[k]) continue;
        st = k == 0 ? write_logits(&w[0], paths[0], logits, (size_t)n * (size_t)c)
           : k == 1 ? write_labels(&w[1], paths[1], logits, n, c)
                    : write_npy(&w[2], paths[2], logits, n, c);
        if (st != NG_OK) break;   /* the failed writer aborted itself */
    }
    for (int i = 0; i < k; i++) {
        if (!paths[i]) continue;
        if (st == NG_OK) st = ng_awrite_commit(&w[i]);
        else ng_awrite_abort(&w[i]);
    }
    return st;
}

/* The batch to run, as a float array of shape (N, ...): an IDX images file, a .npy array, or
 * (after the model is open, whose input size it needs) a folder of images. */
static ng_status load_idx(const char *path, int64_t limit, ng_array *a)
{
    ng_idx_images im;
    ng_status st = ng_idx_images_load(path, limit, &im);
    if (st != NG_OK) return st;
    memset(a, 0, sizeof *a);
    a->shape = (ng_shape){4, {im.n, im.c, im.h, im.w}};
    a->x = im.x;
    return NG_OK;
}

static ng_status load_npy(const char *path, int64_t limit, ng_array *a)
{
    ng_status st = ng_npy_load(path, a);
    if (st != NG_OK) return st;
    if (a->shape.ndim == 0) { ng_array_free(a); return ng_fail(NG_E_SHAPE, "%s: a scalar, not a batch of inputs", path); }
    if (limit > 0 && a->shape.d[0] > limit) a->shape.d[0] = limit;
    return NG_OK;
}

static ng_status load_image_dir(const char *dir, const ng_cli_img *ci, const char *model, const ng_model *m,
                                int64_t limit, ng_array *a)
{
    ng_image_options o;
    ng_dataset d;
    ng_status st = ng_cli_img_options(ci, model, m, &o);
    if (st == NG_OK) st = ng_images_load_dir(dir, &o, limit, &d, NULL);
    if (st != NG_OK) return st;
    memset(a, 0, sizeof *a);
    a->shape = (ng_shape){4, {d.n, d.c, d.h, d.w}};
    a->x = d.x;
    d.x = NULL;
    ng_dataset_free(&d);
    return NG_OK;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int ng_cmd_predict(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"images", required_argument, NULL, 'i'},
        {"input", required_argument, NULL, 'x'},
        {"output", required_argument, NULL, 'y'},
        {"logits", required_argument, NULL, 'o'},
        {"labels", required_argument, NULL, 'l'},
        {"limit", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"license-key", required_argument, NULL, NG_CLI_OPT_LICENSE_KEY},
        NG_CLI_KEY_LONGOPTS, NG_CLI_ARCH_LONGOPTS, NG_CLI_IMG_LONGOPTS, NG_CLI_FORCE_LONGOPT,
        {0, 0, 0, 0}};
    ng_cli_keys keys = ng_cli_keys_default();
    ng_cli_img img = ng_cli_img_default();
    const char *images = NULL, *input = NULL, *logits_path = NULL, *labels_path = NULL, *npy_path = NULL,
               *license_key = NULL;
    long long limit = 0, batch = 256, threads = 0;
    int c, force = 0, img_opts = 0;
    optind = 1;
    opterr = 0;   /* our own message names the command */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = ng_cli_keys_option("predict", &keys, c, optarg);
        if (!r && (r = ng_cli_img_option("predict", &img, c, optarg)) > 0) img_opts = 1;
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': return usage_predict(stdout);
        case NG_CLI_OPT_FORCE: force = 1; break;
        case 'i': images = optarg; break;
        case 'x': input = optarg; break;
        case 'y': npy_path = optarg; break;
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
    if (!images == !input) return ng_cli_usage("predict", "give the inputs with --images IDX_FILE|DIR or --input X.npy (one of them)");
    if (!logits_path && !labels_path && !npy_path)
        return ng_cli_usage("predict", "give --output FILE.npy, --logits FILE and/or --labels FILE");
    int image_dir = images && is_dir(images);
    if (img_opts && !image_dir) return ng_cli_usage("predict", "--resize, --mean and --std apply to --images DIR only");
    const char *model = argv[optind], *data = images ? images : input;
    const char *outs[3] = {logits_path, labels_path, npy_path};
    const char *ins[6] = {model, data, keys.key_file, keys.passphrase_file, keys.advparams_key, license_key};
    ng_status st = ng_cli_check_outputs(outs, 3, ins, 6, force);
    if (st != NG_OK) return ng_cli_fail("predict", st);

    ng_array a;
    memset(&a, 0, sizeof a);
    st = input ? load_npy(input, limit, &a) : image_dir ? NG_OK : load_idx(images, limit, &a);
    if (st != NG_OK) return ng_cli_fail("predict", st);
    if (a.shape.ndim == 4) ng_cli_keys_set_shape(&keys, (int)a.shape.d[1], (int)a.shape.d[2], (int)a.shape.d[3]);
    ng_model *m;
    if ((st = ng_cli_open_model("predict", model, &keys, &m)) != NG_OK) {
        ng_array_free(&a);
        return ng_cli_fail("predict", st);
    }
    if (image_dir) st = load_image_dir(images, &img, model, m, limit, &a);
    float *logits = NULL;
    int nc = ng_model_num_classes(m);
    int64_t n = a.shape.d[0];
    if (st == NG_OK && n == 0) st = ng_fail(NG_E_INVALID, "%s: no inputs in it", data);
    if (st == NG_OK && (st = ng_cli_check_array(model, m, &a.shape, data)) == NG_OK && license_key) {
        if (a.shape.ndim != 4) st = ng_fail(NG_E_SHAPE, "%s: --license-key stamps images (N x C x H x W inputs)", data);
        else st = ng_cli_license_stamp("predict", model, m, license_key, a.x, n, (int)a.shape.d[1], (int)a.shape.d[2],
                                       (int)a.shape.d[3]);
    } else if (st == NG_OK) ng_cli_license_note("predict", model, m);
    if (st == NG_OK) {
        logits = ng_calloc((size_t)n, (size_t)nc * sizeof *logits);
        st = logits ? ng_model_predict(m, a.x, n, (int)batch, (int)threads, logits) : NG_E_NOMEM;
    }
    if (st == NG_OK) st = write_outputs(outs, logits, n, nc);
    int rc = st == NG_OK ? NG_EXIT_OK : ng_cli_fail("predict", st);
    if (st == NG_OK)
        fprintf(stderr, "nnguard predict: %lld inputs x %d classes%s%s%s%s%s%s\n", (long long)n, nc,
                npy_path ? ", logits -> " : "", npy_path ? npy_path : "",
                logits_path ? ", logits -> " : "", logits_path ? logits_path : "",
                labels_path ? ", labels -> " : "", labels_path ? labels_path : "");
    free(logits);
    ng_model_free(m);
    ng_array_free(&a);
    return rc;
}
