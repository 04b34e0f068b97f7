/* cli/cmd_convert.c - `nnguard convert IN -o OUT`: between ONNX and safetensors.
 *
 *   ONNX -> safetensors   the parameters and metadata (the graph is dropped), byte for byte
 *                         without the engine, so any ONNX file nnguard can open converts
 *   safetensors -> ONNX   the graph of --arch with the file's weights, by tensor name
 *   ONNX -> ONNX          re-export through the engine (opset 13)
 *   safetensors -> safetensors  rewritten as is
 * The output format follows OUT's extension. Parameter bytes are copied, never computed on,
 * so a locked model stays locked (and keeps its nnguard.* metadata) in the new format.
 * OUT is written atomically and never over IN.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "core/core.h"
#include "load_model.h"
#include "nnguard/safetensors.h"

static int usage_convert(FILE *f)
{
    fprintf(f, "usage: nnguard convert IN -o OUT [--force] [--arch NAME [--input-shape C,H,W] [--classes N]]\n\n"
               "Convert a model between ONNX and safetensors; OUT's extension (.onnx, .safetensors)\n"
               "picks the format. safetensors holds no graph: converting it to ONNX needs --arch\n"
               "(input shape default 1,28,28). Weights are copied bit for bit, metadata kept.\n\n"
               "  -o, --output FILE       the file to write (atomically; never IN itself)\n"
               NG_CLI_ARCH_HELP
               NG_CLI_FORCE_HELP
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

/* Copy the file's metadata into m where m lacks the key. */
static ng_status copy_meta(ng_model *m, const ng_weights *w)
{
    for (size_t i = 0; i < ng_weights_meta_count(w); i++) {
        const char *k, *v;
        ng_weights_meta_at(w, i, &k, &v);
        if (ng_model_meta_get(m, k)) continue;
        ng_status st = ng_model_meta_set(m, k, v);
        if (st != NG_OK) return st;
    }
    return NG_OK;
}

/* The parameters of w, in order, and its metadata as a safetensors file, written atomically. */
static ng_status write_safetensors(const ng_weights *w, const char *out)
{
    ng_st_header *h;
    ng_status st = ng_st_header_new(&h);
    if (st != NG_OK) return st;
    for (size_t i = 0; i < ng_weights_count(w) && st == NG_OK; i++) {
        const ng_param *p = ng_weights_param_c(w, i);
        st = ng_st_header_add(h, p->name, p->dtype, &p->shape);
    }
    for (size_t i = 0; i < ng_weights_meta_count(w) && st == NG_OK; i++) {
        const char *k, *v;
        ng_weights_meta_at(w, i, &k, &v);
        st = ng_st_header_meta_set(h, k, v);
    }
    uint8_t *hdr = NULL;
    size_t hlen = 0;
    if (st == NG_OK) st = ng_st_header_serialize(h, &hdr, &hlen);
    ng_st_header_free(h);
    if (st != NG_OK) return ng_fail_ctx(st, out);
    ng_awriter aw;
    if ((st = ng_awrite_open(&aw, out, NG_MODE_PUBLIC)) == NG_OK) {
        st = ng_awrite(&aw, hdr, hlen);
        for (size_t i = 0; i < ng_weights_count(w) && st == NG_OK; i++) {
            const ng_param *p = ng_weights_param_c(w, i);
            st = ng_awrite(&aw, p->data, p->nbytes);
        }
        st = st == NG_OK ? ng_awrite_commit(&aw) : (ng_awrite_abort(&aw), st);
    }
    free(hdr);
    return st;
}

static ng_status convert(const char *in, const char *out, ng_format ofmt, ng_cli_keys *keys)
{
    ng_weights *w;
    ng_status st = ng_weights_open(in, &w);
    if (st != NG_OK) return st;
    if (ofmt == NG_FMT_SAFETENSORS) {
        st = ng_weights_format(w) == NG_FMT_SAFETENSORS ? ng_weights_save(w, out) : write_safetensors(w, out);
        ng_weights_free(w);
        return st;
    }
    ng_model *m = NULL;
    if (ng_weights_format(w) == NG_FMT_ONNX) {
        st = ng_model_from_weights(w, &m);
        if (st != NG_OK && !strstr(ng_last_error(), in)) ng_fail_ctx(st, in);
    } else {
        ng_cli_keys_set_shape(keys, 1, 28, 28);
        st = ng_cli_model_from_arch(in, w, keys, &m);
    }
    if (st == NG_OK) st = copy_meta(m, w);
    ng_weights_free(w);
    if (st == NG_OK) st = ng_model_save_onnx(m, out);
    if (m) ng_model_free(m);
    return st;
}

int ng_cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"output", required_argument, NULL, 'o'},
        NG_CLI_ARCH_LONGOPTS, NG_CLI_FORCE_LONGOPT,
        {0, 0, 0, 0}};
    ng_cli_keys keys = ng_cli_keys_default();
    const char *out = NULL;
    int c, force = 0;
    optind = 1;
    opterr = 0;   /* our own message names the command */
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        int r = ng_cli_keys_option("convert", &keys, c, optarg);
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': return usage_convert(stdout);
        case 'o': out = optarg; break;
        case NG_CLI_OPT_FORCE: force = 1; break;
        default: return ng_cli_usage("convert", "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ng_cli_usage("convert", "IN is missing");
    if (optind + 1 < argc) return ng_cli_usage("convert", "unexpected argument '%s'", argv[optind + 1]);
    if (!out) return ng_cli_usage("convert", "-o OUT is required");
    const char *in = argv[optind];
    ng_format ofmt = ng_format_from_ext(out);
    if (ofmt == NG_FMT_UNKNOWN)
        return ng_cli_usage("convert", "%s: name the output .onnx or .safetensors to choose its format", out);
    ng_status st = ng_cli_check_outputs(&out, 1, &in, 1, force);
    if (st == NG_OK) st = convert(in, out, ofmt, &keys);
    if (st != NG_OK) return ng_cli_fail("convert", st);
    fprintf(stderr, "nnguard convert: %s -> %s (%s)\n", in, out, ng_format_name(ofmt));
    return NG_EXIT_OK;
}
