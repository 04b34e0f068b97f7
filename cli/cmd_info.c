/* cli/cmd_info.c - `nnguard info MODEL [--json]`: what a model file holds.
 *
 * Parameters, model id and metadata come from ng_weights (any file, mapped, never read
 * whole); the graph (layers, input shape, classes) from the engine when it can build one
 * (ONNX, or safetensors with --arch); ONNX header fields (IR version, producer, opsets)
 * from a scan of the file's top-level protobuf fields.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "core/core.h"
#include "load_model.h"

#define MAX_OPSETS 16

/* ONNX ModelProto fields outside the graph. */
typedef struct onnx_head {
    int64_t ir_version;
    char producer[128], producer_version[64];
    int nopsets;
    char opset_domain[MAX_OPSETS][64];
    int64_t opset_version[MAX_OPSETS];
} onnx_head;

/* Read a protobuf varint at *p (< end); -1 if it runs past end or is too long. */
static int pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

static void pb_str(char *dst, size_t cap, const uint8_t *s, uint64_t len)
{
    size_t n = len < cap - 1 ? (size_t)len : cap - 1;
    for (size_t i = 0; i < n; i++) dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    dst[n] = 0;
}

/* One OperatorSetIdProto: 1 domain, 2 version. */
static void pb_opset(onnx_head *h, const uint8_t *p, const uint8_t *end)
{
    if (h->nopsets >= MAX_OPSETS) return;
    int i = h->nopsets++;
    h->opset_domain[i][0] = 0; h->opset_version[i] = 0;
    while (p < end) {
        uint64_t tag, v;
        if (pb_varint(&p, end, &tag)) return;
        if ((tag & 7) == 0) {
            if (pb_varint(&p, end, &v)) return;
            if (tag >> 3 == 2) h->opset_version[i] = (int64_t)v;
        } else if ((tag & 7) == 2) {
            if (pb_varint(&p, end, &v) || v > (uint64_t)(end - p)) return;
            if (tag >> 3 == 1) pb_str(h->opset_domain[i], sizeof h->opset_domain[i], p, v);
            p += v;
        } else {
            return;
        }
    }
}

/* Scan the top level of an ONNX file; skips the graph without parsing it. 0 ok, -1 malformed. */
static int onnx_scan(const uint8_t *p, size_t len, onnx_head *h)
{
    const uint8_t *end = p + len;
    memset(h, 0, sizeof *h);
    while (p < end) {
        uint64_t tag, v;
        if (pb_varint(&p, end, &tag)) return -1;
        unsigned field = (unsigned)(tag >> 3);
        switch (tag & 7) {
        case 0:
            if (pb_varint(&p, end, &v)) return -1;
            if (field == 1) h->ir_version = (int64_t)v;
            break;
        case 1: if (end - p < 8) return -1; p += 8; break;
        case 5: if (end - p < 4) return -1; p += 4; break;
        case 2:
            if (pb_varint(&p, end, &v) || v > (uint64_t)(end - p)) return -1;
            if (field == 2) pb_str(h->producer, sizeof h->producer, p, v);
            else if (field == 3) pb_str(h->producer_version, sizeof h->producer_version, p, v);
            else if (field == 8) pb_opset(h, p, p + v);
            p += v;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

static int usage_info(FILE *f)
{
    fprintf(f, "usage: nnguard info MODEL [--json] [--tensors] [--arch NAME --input-shape C,H,W]\n\n"
               "Show a model file: format, ONNX producer and opset, layers, input shape, classes,\n"
               "parameter tensors and numbers, bytes, model id and metadata (nnguard.* keys are the\n"
               "protection state). Safetensors files hold no graph: their layers are shown with --arch.\n\n"
               "  --json                  one JSON object on stdout\n"
               "  --tensors               list every parameter tensor (always in --json)\n"
               NG_CLI_ARCH_HELP
               "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

/* The facts info shows, gathered once for text and JSON output. */
typedef struct info {
    const char *path;
    ng_weights *w;
    ng_model *m;            /* NULL when no graph could be built */
    char graph_err[512];    /* why, when m is NULL */
    int have_head;
    onnx_head head;
    long long file_bytes;
    size_t ntensors;
    long long nparams, param_bytes;
    char id[65];
} info;

/* Distinct ops of m in order of first use, with counts: "Conv x2, Relu x4, ...". */
static json_t *op_counts(const ng_model *m)
{
    json_t *o = json_object();
    for (size_t i = 0; i < ng_model_nnodes(m); i++) {
        const char *op = ng_model_node_op(m, i);
        json_t *n = json_object_get(o, op);
        json_object_set_new(o, op, json_integer(n ? json_integer_value(n) + 1 : 1));
    }
    return o;
}

static json_t *shape_json(const ng_shape *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->ndim; i++) json_array_append_new(a, json_integer(s->d[i]));
    return a;
}

static void shape_text(const ng_shape *s, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < s->ndim && k < cap; i++) {
        int r = s->d[i] < 0 ? snprintf(buf + k, cap - k, "%sN", i ? "x" : "")
                            : snprintf(buf + k, cap - k, "%s%lld", i ? "x" : "", (long long)s->d[i]);
        if (r < 0) break;
        k += (size_t)r;
    }
}

/* What a Deep-Lock file's metadata says, in a sentence (NULL when not Deep-Locked). */
static const char *deeplock_summary(const ng_weights *w, char *buf, size_t cap, json_t *o)
{
    if (!ng_deeplock_is_locked(w)) return NULL;
    ng_deeplock_options so = ng_deeplock_options_default();
    uint8_t salt[32];
    int has_salt = 0;
    if (ng_deeplock_stream_of(w, &so, salt, &has_salt) != NG_OK) {
        snprintf(buf, cap, "unreadable Deep-Lock metadata: %s", ng_last_error());
        if (o) json_object_set_new(o, "error", json_string(ng_last_error()));
        return buf;
    }
    const char *ver = ng_weights_meta_get(w, "nnguard.version"), *only = so.only ? so.only : "*";
    size_t locked = 0;
    for (size_t i = 0; i < ng_weights_count(w); i++) {
        const char *n = ng_weights_param_c(w, i)->name;
        locked += ng_deeplock_selected(only, n);
    }
    const char *expand = so.keystream != NG_KS_EXPAND ? "" : so.paper_exact ? " (paper-exact: on the key itself)" : " (salted)";
    if (has_salt)
        snprintf(buf, cap, "format %s, key stream %s%s from the key and this file's salt; %zu of %zu parameter tensors "
                 "locked; key check value and keyed MACs of the graph and of the plaintext parameters (no plaintext id "
                 "in clear)%s", ver, ng_keystream_name(so.keystream), expand, locked, ng_weights_count(w),
                 ng_weights_meta_get(w, "nnguard.kdf") ? "; key from a passphrase (Argon2id)" : "");
    else
        snprintf(buf, cap, "format %s (old): key stream %s from the key alone, shared by every model locked with it, "
                 "and the plaintext model id in clear (model_id_before); unlock and lock again to get format 3; %zu of "
                 "%zu parameter tensors locked", ver, ng_keystream_name(so.keystream), locked, ng_weights_count(w));
    if (o) {
        json_object_set_new(o, "format", json_string(ver));
        json_object_set_new(o, "keystream", json_string(ng_keystream_name(so.keystream)));
        if (so.keystream == NG_KS_EXPAND) json_object_set_new(o, "expand_key", json_string(so.paper_exact ? "paper" : "salted"));
        json_object_set_new(o, "salted", json_boolean(has_salt));
        json_object_set_new(o, "locked_tensors", json_integer((json_int_t)locked));
        json_object_set_new(o, "summary", json_string(buf));
    }
    return buf;
}

static int print_json(const info *in)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(in->path));
    json_object_set_new(o, "format", json_string(ng_format_name(ng_weights_format(in->w))));
    json_object_set_new(o, "bytes", json_integer(in->file_bytes));
    if (in->have_head) {
        json_object_set_new(o, "ir_version", json_integer(in->head.ir_version));
        json_object_set_new(o, "producer", json_string(in->head.producer));
        json_object_set_new(o, "producer_version", json_string(in->head.producer_version));
        json_t *ops = json_object();
        for (int i = 0; i < in->head.nopsets; i++)
            json_object_set_new(ops, in->head.opset_domain[i][0] ? in->head.opset_domain[i] : "ai.onnx",
                                json_integer(in->head.opset_version[i]));
        json_object_set_new(o, "opsets", ops);
    }
    if (in->m) {
        ng_shape s;
        ng_model_input_shape(in->m, &s);
        json_object_set_new(o, "opset", json_integer(ng_model_opset(in->m)));
        json_object_set_new(o, "input_shape", shape_json(&s));
        json_object_set_new(o, "classes", json_integer(ng_model_num_classes(in->m)));
        json_object_set_new(o, "nodes", json_integer((json_int_t)ng_model_nnodes(in->m)));
        json_object_set_new(o, "ops", op_counts(in->m));
        ng_macs mc;
        if (ng_model_macs(in->m, &mc) == NG_OK)
            json_object_set_new(o, "macs", json_pack("{s:I, s:I}", "forward", (json_int_t)mc.forward,
                                                     "train", (json_int_t)mc.train));
        json_t *layers = json_array();
        for (size_t i = 0; i < ng_model_nnodes(in->m); i++) {
            const char *name = ng_model_node_name(in->m, i);
            json_array_append_new(layers, json_pack("{s:s, s:s}", "op", ng_model_node_op(in->m, i),
                                                    "name", name ? name : ""));
        }
        json_object_set_new(o, "layers", layers);
    } else {
        json_object_set_new(o, "graph", json_null());
        json_object_set_new(o, "graph_note", json_string(in->graph_err));
    }
    json_object_set_new(o, "parameter_tensors", json_integer((json_int_t)in->ntensors));
    json_object_set_new(o, "parameters", json_integer(in->nparams));
    json_object_set_new(o, "parameter_bytes", json_integer(in->param_bytes));
    json_object_set_new(o, "model_id", json_string(in->id));
    json_t *tensors = json_array();
    for (size_t i = 0; i < in->ntensors; i++) {
        const ng_param *p = ng_weights_param_c(in->w, i);
        json_array_append_new(tensors, json_pack("{s:s, s:s, s:o, s:I}", "name", p->name, "dtype",
                                                 ng_dtype_name(p->dtype), "shape", shape_json(&p->shape),
                                                 "bytes", (json_int_t)p->nbytes));
    }
    json_object_set_new(o, "tensors", tensors);
    json_t *meta = json_object(), *prot = json_object();
    for (size_t i = 0; i < ng_weights_meta_count(in->w); i++) {
        const char *k, *v;
        ng_weights_meta_at(in->w, i, &k, &v);
        json_object_set_new(strncmp(k, "nnguard.", 8) == 0 ? prot : meta, k, json_string(v));
    }
    const char *scheme = ng_weights_meta_get(in->w, "nnguard.scheme");
    char dl[1024];
    json_t *dj = json_object();
    if (deeplock_summary(in->w, dl, sizeof dl, dj)) json_object_set_new(o, "deeplock", dj);
    else json_decref(dj);
    json_object_set_new(o, "protection", prot);
    int sealed = ng_seal_is_sealed(in->w);
    json_object_set_new(o, "protected", scheme ? json_string(scheme) : sealed ? json_string("seal") : json_false());
    json_object_set_new(o, "sealed", json_boolean(sealed));
    json_object_set_new(o, "metadata", meta);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) { fprintf(stderr, "nnguard info: cannot format JSON\n"); return NG_EXIT_FAIL; }
    puts(s);
    free(s);
    return NG_EXIT_OK;
}

static int print_text(const info *in, int list_tensors)
{
    printf("file:        %s\n", in->path);
    printf("format:      %s\n", ng_format_name(ng_weights_format(in->w)));
    printf("bytes:       %lld\n", in->file_bytes);
    if (in->have_head) {
        printf("producer:    %s%s%s (IR version %lld)\n", in->head.producer[0] ? in->head.producer : "(none)",
               in->head.producer_version[0] ? " " : "", in->head.producer_version, (long long)in->head.ir_version);
        printf("opset:      ");
        for (int i = 0; i < in->head.nopsets; i++)
            printf(" %s %lld", in->head.opset_domain[i][0] ? in->head.opset_domain[i] : "ai.onnx",
                   (long long)in->head.opset_version[i]);
        printf("\n");
    }
    if (in->m) {
        ng_shape s;
        char buf[128];
        ng_model_input_shape(in->m, &s);
        shape_text(&s, buf, sizeof buf);
        printf("input:       %s\n", buf);
        printf("classes:     %d\n", ng_model_num_classes(in->m));
        json_t *ops = op_counts(in->m);
        const char *op;
        json_t *cnt;
        size_t k = 0;
        printf("ops:        ");
        json_object_foreach(ops, op, cnt) printf("%s %s x%lld", k++ ? "," : "", op, (long long)json_integer_value(cnt));
        printf("\n");
        json_decref(ops);
        ng_macs mc;
        if (ng_model_macs(in->m, &mc) == NG_OK)
            printf("compute:     %.2f M multiply-accumulates per sample forward, %.2f M per training step "
                   "(Conv, Gemm, MatMul)\n", (double)mc.forward * 1e-6, (double)mc.train * 1e-6);
        printf("layers:      %zu nodes\n", ng_model_nnodes(in->m));
        for (size_t i = 0; i < ng_model_nnodes(in->m); i++) {
            const char *name = ng_model_node_name(in->m, i);
            printf("  %3zu  %-20s %s\n", i, ng_model_node_op(in->m, i), name ? name : "");
        }
    } else {
        printf("layers:      not shown: %s\n", in->graph_err);
    }
    printf("tensors:     %zu parameter tensors\n", in->ntensors);
    printf("parameters:  %lld (%lld bytes)\n", in->nparams, in->param_bytes);
    if (list_tensors)
        for (size_t i = 0; i < in->ntensors; i++) {
            const ng_param *p = ng_weights_param_c(in->w, i);
            char buf[128];
            shape_text(&p->shape, buf, sizeof buf);
            printf("  %-32s %-5s %s\n", p->name, ng_dtype_name(p->dtype), buf);
        }
    char dl[1024];
    const char *sum = deeplock_summary(in->w, dl, sizeof dl, NULL);
    printf("model id:    %s%s\n", in->id, sum ? " (of the locked parameters as they are in the file)" : "");
    const char *scheme = ng_weights_meta_get(in->w, "nnguard.scheme");
    int sealed = ng_seal_is_sealed(in->w);
    printf("protection:  %s%s\n", scheme ? scheme : sealed ? "" : "none", sealed ? (scheme ? " then seal" : "seal") : "");
    if (sum) printf("  %s\n", sum);
    for (size_t i = 0; i < ng_weights_meta_count(in->w); i++) {
        const char *k, *v;
        ng_weights_meta_at(in->w, i, &k, &v);
        if (strncmp(k, "nnguard.", 8) == 0) printf("  %-24s %s\n", k, v);
    }
    size_t other = 0;
    for (size_t i = 0; i < ng_weights_meta_count(in->w); i++) {
        const char *k, *v;
        ng_weights_meta_at(in->w, i, &k, &v);
        if (strncmp(k, "nnguard.", 8) == 0) continue;
        if (!other++) printf("metadata:\n");
        printf("  %-24s %s\n", k, v);
    }
    return NG_EXIT_OK;
}

int ng_cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, 'j'},
        {"tensors", no_argument, NULL, 't'},
        NG_CLI_ARCH_LONGOPTS,
        {0, 0, 0, 0}};
    ng_cli_keys keys = ng_cli_keys_default();
    int json = 0, list_tensors = 0, c;
    optind = 1;
    opterr = 0;   /* our own message names the command */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = ng_cli_keys_option("info", &keys, c, optarg);
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': return usage_info(stdout);
        case 'j': json = 1; break;
        case 't': list_tensors = 1; break;
        default: return ng_cli_usage("info", "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ng_cli_usage("info", "MODEL is missing");
    if (optind + 1 < argc) return ng_cli_usage("info", "unexpected argument '%s'", argv[optind + 1]);

    info in;
    memset(&in, 0, sizeof in);
    in.path = argv[optind];
    ng_status st = ng_weights_open(in.path, &in.w);
    if (st != NG_OK) return ng_cli_fail("info", st);
    struct stat sb;
    in.file_bytes = stat(in.path, &sb) == 0 ? (long long)sb.st_size : -1;
    in.ntensors = ng_weights_count(in.w);
    for (size_t i = 0; i < in.ntensors; i++) {
        const ng_param *p = ng_weights_param_c(in.w, i);
        int64_t n = ng_shape_numel(&p->shape);
        in.nparams += n > 0 ? n : 0;
        in.param_bytes += (long long)p->nbytes;
    }
    uint8_t id[32];
    ng_weights_id(in.w, id);
    ng_id_hex(id, in.id);

    if (ng_weights_format(in.w) == NG_FMT_ONNX) {
        ng_map map;
        if (ng_map_file(in.path, &map) == NG_OK) {
            in.have_head = onnx_scan(map.data, map.len, &in.head) == 0;
            ng_unmap(&map);
        }
        st = ng_model_from_weights(in.w, &in.m);
    } else if (keys.arch) {
        if (!keys.c) ng_cli_keys_set_shape(&keys, 1, 28, 28);
        st = ng_cli_model_from_arch(in.path, in.w, &keys, &in.m);
    } else {
        st = ng_fail(NG_E_UNSUPPORTED, "safetensors holds weights only; give --arch NAME to see its layers");
    }
    if (st != NG_OK) {
        in.m = NULL;
        snprintf(in.graph_err, sizeof in.graph_err, "%s", ng_last_error());
        ng_clear_error();
    }
    int rc = json ? print_json(&in) : print_text(&in, list_tensors);
    if (in.m) ng_model_free(in.m);
    ng_weights_free(in.w);
    return rc;
}
