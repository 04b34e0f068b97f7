/* cli/cmd_eval.c - `nnguard eval MODEL`: test-set accuracy and images/s.
 *
 * Runs the model (unlocked in memory when a key is given) over the test split of an
 * image dataset in batches and counts argmax hits, overall and per class.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "core/core.h"
#include "load_model.h"
#include "inputs.h"

static int usage_eval(FILE *f)
{
    fprintf(f, "usage: nnguard eval MODEL [--data DIR | --image-folder DIR [--resize HxW] [--mean M] [--std S]]\n"
               "                         [--limit N] [--batch B] [--threads T]\n"
               "                         [--per-class] [--json] [key options] [--license-key KEY] [--arch NAME]\n\n"
               "Accuracy of MODEL (ONNX, or safetensors with --arch) on the test split of DIR and\n"
               "its speed in images/s. A locked model runs as it is unless its key is given.\n\n"
               "  --data DIR              dataset folder (MNIST IDX or CIFAR-10 binary; default %s)\n"
               "  --image-folder DIR      all of DIR/<class>/*.png|jpg|jpeg (torchvision ImageFolder: the\n"
               "                          classes are the sub-folders sorted by name, label i = i-th)\n"
               NG_CLI_IMG_HELP
               "  --limit N               only the first N test images\n"
               "  --batch B               images per forward pass (default 256)\n"
               "  --threads T             worker threads (default 0: all cores)\n"
               "  --per-class             accuracy of each class too\n"
               "  --json                  one JSON object on stdout: accuracy (0..1), n, correct,\n"
               "                          images_per_s, seconds (and per_class)\n"
               NG_CLI_KEY_HELP NG_CLI_LICENSE_KEY_HELP NG_CLI_ARCH_HELP
               "  -h, --help              this help\n", NG_DEFAULT_DATA_DIR);
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

typedef struct eval_result {
    int64_t n, correct;
    int classes;
    int64_t *class_n, *class_hit;
    double seconds;
} eval_result;

/* Index of the largest of v[0..c); the first one on ties (as torch.argmax). */
static int argmax(const float *v, int c)
{
    int best = 0;
    for (int j = 1; j < c; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

static ng_status run_eval(ng_model *m, const ng_dataset *d, int64_t n, int batch, int threads, eval_result *r)
{
    int c = ng_model_num_classes(m);
    float *logits = ng_calloc((size_t)n, (size_t)c * sizeof *logits);
    r->class_n = ng_calloc((size_t)d->classes, sizeof *r->class_n);
    r->class_hit = ng_calloc((size_t)d->classes, sizeof *r->class_hit);
    if (!logits || !r->class_n || !r->class_hit) { free(logits); return NG_E_NOMEM; }
    double t0 = ng_now();
    ng_status st = ng_model_predict(m, d->x, n, batch, threads, logits);
    r->seconds = ng_now() - t0;
    if (st != NG_OK) { free(logits); return st; }
    r->n = n; r->classes = d->classes; r->correct = 0;
    for (int64_t i = 0; i < n; i++) {
        int y = d->y[i];
        int hit = argmax(logits + i * c, c) == y;
        r->correct += hit;
        if (y >= 0 && y < d->classes) { r->class_n[y]++; r->class_hit[y] += hit; }
    }
    free(logits);
    return NG_OK;
}

static double ratio(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : 0.0; }

static int report(const char *model, const char *data, const eval_result *r, int per_class, int json,
                  int batch, int threads)
{
    double acc = ratio(r->correct, r->n), ips = r->seconds > 0 ? (double)r->n / r->seconds : 0.0;
    if (!json) {
        printf("%s: accuracy %.2f%% (%lld/%lld) on %s (test), %.0f images/s\n", model, 100.0 * acc,
               (long long)r->correct, (long long)r->n, data, ips);
        if (per_class)
            for (int k = 0; k < r->classes; k++)
                printf("  class %2d  %6.2f%%  (%lld/%lld)\n", k, 100.0 * ratio(r->class_hit[k], r->class_n[k]),
                       (long long)r->class_hit[k], (long long)r->class_n[k]);
        return NG_EXIT_OK;
    }
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "data", json_string(data));
    json_object_set_new(o, "split", json_string("test"));
    json_object_set_new(o, "n", json_integer(r->n));
    json_object_set_new(o, "correct", json_integer(r->correct));
    json_object_set_new(o, "accuracy", ng_json_num(acc));
    json_object_set_new(o, "images_per_s", ng_json_num(ips));
    json_object_set_new(o, "seconds", ng_json_num(r->seconds));
    json_object_set_new(o, "batch", json_integer(batch));
    json_object_set_new(o, "threads", json_integer(threads));
    if (per_class) {
        json_t *a = json_array();
        for (int k = 0; k < r->classes; k++) json_array_append_new(a, ng_json_num(ratio(r->class_hit[k], r->class_n[k])));
        json_object_set_new(o, "per_class", a);
    }
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!s) { fprintf(stderr, "nnguard eval: cannot format JSON\n"); return NG_EXIT_FAIL; }
    puts(s);
    free(s);
    return NG_EXIT_OK;
}

int ng_cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"data", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"per-class", no_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"license-key", required_argument, NULL, NG_CLI_OPT_LICENSE_KEY},
        {"image-folder", required_argument, NULL, 'f'},
        NG_CLI_KEY_LONGOPTS, NG_CLI_ARCH_LONGOPTS, NG_CLI_IMG_LONGOPTS,
        {0, 0, 0, 0}};
    ng_cli_keys keys = ng_cli_keys_default();
    ng_cli_img img = ng_cli_img_default();
    const char *data = NG_DEFAULT_DATA_DIR, *folder = NULL, *license_key = NULL;
    long long limit = 0, batch = 256, threads = 0;
    int per_class = 0, json = 0, c, data_given = 0, img_opts = 0;
    optind = 1;
    opterr = 0;   /* our own message names the command */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = ng_cli_keys_option("eval", &keys, c, optarg);
        if (!r && (r = ng_cli_img_option("eval", &img, c, optarg)) > 0) img_opts = 1;
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': return usage_eval(stdout);
        case 'd': data = optarg; data_given = 1; break;
        case 'f': folder = optarg; break;
        case 'n': if (ng_cli_int("eval", "--limit", optarg, 1, 1000000000, &limit)) return NG_EXIT_USAGE; break;
        case 'b': if (ng_cli_int("eval", "--batch", optarg, 1, 65536, &batch)) return NG_EXIT_USAGE; break;
        case 't': if (ng_cli_int("eval", "--threads", optarg, 0, 256, &threads)) return NG_EXIT_USAGE; break;
        case 'p': per_class = 1; break;
        case 'j': json = 1; break;
        case NG_CLI_OPT_LICENSE_KEY: license_key = optarg; break;
        default: return ng_cli_usage("eval", "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ng_cli_usage("eval", "MODEL is missing");
    if (optind + 1 < argc) return ng_cli_usage("eval", "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];
    if (folder && data_given) return ng_cli_usage("eval", "give --data DIR or --image-folder DIR, not both");
    if (img_opts && !folder) return ng_cli_usage("eval", "--resize, --mean and --std apply to --image-folder only");

    ng_dataset d;
    memset(&d, 0, sizeof d);
    ng_status st = folder ? NG_OK : ng_dataset_load_dir(data, NG_SPLIT_TEST, &d);
    if (st != NG_OK) return ng_cli_fail("eval", st);
    if (!folder) ng_cli_keys_set_shape(&keys, d.c, d.h, d.w);
    ng_model *m;
    if ((st = ng_cli_open_model("eval", path, &keys, &m)) != NG_OK) {
        ng_dataset_free(&d);
        return ng_cli_fail("eval", st);
    }
    if (folder) {
        /* The images are decoded at the model's input size: the model comes first. */
        ng_image_options o;
        data = folder;
        if ((st = ng_cli_img_options(&img, path, m, &o)) == NG_OK)
            st = ng_image_folder_load(folder, &o, limit, &d, NULL);
        if (st != NG_OK) { ng_model_free(m); return ng_cli_fail("eval", st); }
    }
    char what[1100];
    snprintf(what, sizeof what, folder ? "%s" : "the test split of %s", data);
    eval_result r;
    memset(&r, 0, sizeof r);
    int rc;
    if ((st = ng_cli_check_input(path, m, d.c, d.h, d.w, what)) != NG_OK) {
        rc = ng_cli_fail("eval", st);
    } else if (ng_model_num_classes(m) < d.classes) {
        ng_fail(NG_E_SHAPE, "%s: the model has %d classes but %s has labels 0..%d", path,
                ng_model_num_classes(m), what, d.classes - 1);
        rc = ng_cli_fail("eval", NG_E_SHAPE);
    } else {
        int64_t n = limit > 0 && limit < d.n ? limit : d.n;
        if (license_key) st = ng_cli_license_stamp("eval", path, m, license_key, d.x, n, d.c, d.h, d.w);
        else ng_cli_license_note("eval", path, m);
        if (st == NG_OK) st = run_eval(m, &d, n, (int)batch, (int)threads, &r);
        rc = st != NG_OK ? ng_cli_fail("eval", st) : report(path, data, &r, per_class, json, (int)batch, (int)threads);
    }
    free(r.class_n);
    free(r.class_hit);
    ng_model_free(m);
    ng_dataset_free(&d);
    return rc;
}
