/* formats/onnx_weights.c - ONNX files as ng_weights: parse, expose the float initializers, save.
 *
 * The parsed ModelProto is kept whole, so everything that is not a parameter
 * (graph, integer tensors, unknown fields protobuf-c keeps) is written back as
 * it was. Each float initializer's data is turned into one raw_data byte string
 * on load (float_data/double_data/int32_data are converted), and ng_param.data
 * points into it, so edits made through ng_weights_param land in the next save.
 *
 * Large files load without copying their weights: protobuf-c copies every bytes field it
 * unpacks, so it is given a skeleton of the file instead, the same messages with each
 * initializer's raw_data of at least RAW_INPLACE_MIN bytes cut to zero length (the enclosing
 * GraphProto/ModelProto lengths re-encoded). Those raw_data then point into the file's bytes,
 * read once into a heap buffer the state owns; they are detached before the ModelProto is
 * freed. (Not a private file mapping: every page Deep-Lock then writes in place would take a
 * copy-on-write fault with a TLB shoot-down across the worker threads, 15x slower.) Anything unusual (a second graph field, raw_data twice in a tensor, malformed wire
 * bytes) falls back to unpacking the whole file, which then reports what is wrong.
 */
#include <stdlib.h>
#include <string.h>
#include "formats/weights_impl.h"
#include "formats/onnx_internal.h"

typedef struct onnx_state {
    Onnx__ModelProto *mp;
    uint8_t *file;      /* the file's bytes (owned): large raw_data point into it */
    uint8_t *inplace;   /* per initializer: 1 if its raw_data points into file */
} onnx_state;

#define RAW_INPLACE_MIN 4096

ng_dtype ng_onnx_dtype(int32_t dt)
{
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:    return NG_DT_F32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:  return NG_DT_F16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return NG_DT_BF16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:   return NG_DT_F64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:     return NG_DT_I8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:    return NG_DT_U8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:    return NG_DT_I16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:   return NG_DT_U16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:    return NG_DT_I32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:   return NG_DT_U32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:    return NG_DT_I64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64:   return NG_DT_U64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:     return NG_DT_BOOL;
    default:                                      return NG_DT_UNKNOWN;
    }
}

float ng_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;                 /* Inf / NaN */
    } else if (exp) {
        bits = sign | (exp + 112) << 23 | man << 13;           /* normal: rebias 15 -> 127 */
    } else if (man) {                                          /* subnormal: normalise */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    } else {
        bits = sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float ng_bf16_to_float(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Raw little-endian float32 bytes are copied as they are. */
NG_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "onnx_weights.c assumes a little-endian host");

void ng_onnx_bytes_to_floats(ng_dtype dt, const uint8_t *b, size_t n, float *out)
{
    switch (dt) {
    case NG_DT_F32:
        if (n) memcpy(out, b, n * 4);
        break;
    case NG_DT_F64:
        for (size_t k = 0; k < n; k++) { double d; memcpy(&d, b + 8 * k, 8); out[k] = (float)d; }
        break;
    case NG_DT_F16:
        for (size_t k = 0; k < n; k++) out[k] = ng_half_to_float((uint16_t)(b[2 * k] | b[2 * k + 1] << 8));
        break;
    default:   /* NG_DT_BF16 */
        for (size_t k = 0; k < n; k++) out[k] = ng_bf16_to_float((uint16_t)(b[2 * k] | b[2 * k + 1] << 8));
        break;
    }
}

static const char *tname(const Onnx__TensorProto *t) { return t->name ? t->name : ""; }

ng_status ng_onnx_tensor_shape(const Onnx__TensorProto *t, const char *file, const char *what, ng_shape *s)
{
    memset(s, 0, sizeof *s);
    if (t->n_dims > NG_MAX_DIMS)
        return ng_fail(NG_E_UNSUPPORTED, "%s: %s '%s' has %zu dims, at most %d are supported",
                       file, what, tname(t), t->n_dims, NG_MAX_DIMS);
    int64_t numel = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        int64_t d = t->dims[i];
        if (d < 0) return ng_fail(NG_E_FORMAT, "%s: %s '%s' has a negative dim (%lld)", file, what, tname(t), (long long)d);
        if (d > NG_ONNX_MAX_NUMEL || (d && numel > NG_ONNX_MAX_NUMEL / d))
            return ng_fail(NG_E_FORMAT, "%s: %s '%s' is too large (more than %lld elements)", file, what, tname(t),
                           (long long)NG_ONNX_MAX_NUMEL);
        numel *= d;
        s->d[i] = d;
    }
    s->ndim = (int)t->n_dims;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return ng_fail(NG_E_UNSUPPORTED, "%s: %s '%s' keeps its data in an external file; external data is not "
                       "supported (save the model with all tensors inside the .onnx file)", file, what, tname(t));
    if (t->segment)
        return ng_fail(NG_E_UNSUPPORTED, "%s: %s '%s' is a segment of a tensor; segmented tensors are not supported",
                       file, what, tname(t));
    return NG_OK;
}

/* Where a tensor's elements are: raw bytes or a typed field of count elements. Checks numel. */
static ng_status locate(const Onnx__TensorProto *t, const char *file, const char *what, int64_t numel,
                        size_t esize, size_t typed_count, int *raw)
{
    if (t->has_raw_data && t->raw_data.len) {
        if (typed_count)
            return ng_fail(NG_E_FORMAT, "%s: %s '%s' holds its data twice (raw_data and a typed field)", file, what, tname(t));
        if ((uint64_t)t->raw_data.len != (uint64_t)numel * esize)
            return ng_fail(NG_E_FORMAT, "%s: %s '%s' has %zu bytes of raw_data, its shape needs %llu",
                           file, what, tname(t), t->raw_data.len, (unsigned long long)numel * esize);
        *raw = 1;
        return NG_OK;
    }
    if ((uint64_t)typed_count != (uint64_t)numel)
        return ng_fail(NG_E_FORMAT, "%s: %s '%s' has %zu values, its shape needs %lld",
                       file, what, tname(t), typed_count, (long long)numel);
    *raw = 0;
    return NG_OK;
}

ng_status ng_onnx_tensor_ints(const Onnx__TensorProto *t, const char *file, const char *what,
                              int64_t *v, int max, int *n)
{
    ng_shape s;
    ng_status st = ng_onnx_tensor_shape(t, file, what, &s);
    if (st != NG_OK) return st;
    int64_t numel = ng_shape_numel(&s);
    if (numel > max)
        return ng_fail(NG_E_UNSUPPORTED, "%s: %s '%s' has %lld integers, at most %d are supported here",
                       file, what, tname(t), (long long)numel, max);
    int raw = 0;
    const uint8_t *p = t->raw_data.data;
    switch (t->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
        if ((st = locate(t, file, what, numel, 8, t->n_int64_data, &raw)) != NG_OK) return st;
        for (int64_t i = 0; i < numel; i++) v[i] = raw ? (int64_t)ng_le64(p + 8 * i) : t->int64_data[i];
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
        if ((st = locate(t, file, what, numel, 4, t->n_int32_data, &raw)) != NG_OK) return st;
        for (int64_t i = 0; i < numel; i++) v[i] = raw ? (int32_t)ng_le32(p + 4 * i) : t->int32_data[i];
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
        if ((st = locate(t, file, what, numel, 1, t->n_int32_data, &raw)) != NG_OK) return st;
        for (int64_t i = 0; i < numel; i++) v[i] = raw ? p[i] != 0 : t->int32_data[i] != 0;
        break;
    default:
        return ng_fail(NG_E_UNSUPPORTED, "%s: %s '%s' has data type %d, expected INT64, INT32 or BOOL",
                       file, what, tname(t), (int)t->data_type);
    }
    *n = (int)numel;
    return NG_OK;
}

size_t ng_onnx_tensor_avail(const Onnx__TensorProto *t)
{
    size_t es = ng_dtype_size(ng_onnx_dtype(t->data_type));
    if (t->has_raw_data && t->raw_data.len) return es ? t->raw_data.len / es : 0;
    return t->n_float_data + t->n_int32_data + t->n_int64_data + t->n_double_data + t->n_uint64_data;
}

ng_status ng_onnx_tensor_floats(const Onnx__TensorProto *t, const char *file, const char *what,
                                int64_t numel, float *out)
{
    int raw = 0;
    ng_status st;
    const uint8_t *p = t->raw_data.data;
    switch (t->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        if ((st = locate(t, file, what, numel, 4, t->n_float_data, &raw)) != NG_OK) return st;
        if (raw) memcpy(out, p, (size_t)numel * 4);
        else memcpy(out, t->float_data, (size_t)numel * 4);
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
        if ((st = locate(t, file, what, numel, 8, t->n_double_data, &raw)) != NG_OK) return st;
        for (int64_t i = 0; i < numel; i++) {
            double d;
            if (raw) { uint64_t b = ng_le64(p + 8 * i); memcpy(&d, &b, 8); } else d = t->double_data[i];
            out[i] = (float)d;
        }
        break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
        if ((st = locate(t, file, what, numel, 2, t->n_int32_data, &raw)) != NG_OK) return st;
        for (int64_t i = 0; i < numel; i++) {
            uint16_t h = raw ? (uint16_t)(p[2 * i] | p[2 * i + 1] << 8) : (uint16_t)t->int32_data[i];
            out[i] = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ? ng_half_to_float(h) : ng_bf16_to_float(h);
        }
        break;
    default:
        return ng_fail(NG_E_UNSUPPORTED, "%s: %s '%s' has data type %d, expected a float type",
                       file, what, tname(t), (int)t->data_type);
    }
    return NG_OK;
}

/* Move a float initializer's typed field into raw_data (little-endian bytes). */
static ng_status to_raw(Onnx__TensorProto *t, const char *file, int64_t numel, size_t esize)
{
    size_t typed = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT  ? t->n_float_data
                 : t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ? t->n_double_data : t->n_int32_data;
    int raw;
    ng_status st = locate(t, file, "initializer", numel, esize, typed, &raw);
    if (st != NG_OK || raw) return st;
    size_t nb = (size_t)numel * esize;
    uint8_t *buf = malloc(nb ? nb : 1);   /* freed by protobuf_c_message_free_unpacked (system allocator) */
    if (!buf) return ng_fail(NG_E_NOMEM, "%s: out of memory for initializer '%s' (%zu bytes)", file, tname(t), nb);
    for (int64_t i = 0; i < numel; i++) {
        if (esize == 4) { uint32_t b; memcpy(&b, &t->float_data[i], 4); ng_put_le32(buf + 4 * i, b); }
        else if (esize == 8) { uint64_t b; memcpy(&b, &t->double_data[i], 8); ng_put_le64(buf + 8 * i, b); }
        else { uint16_t h = (uint16_t)t->int32_data[i]; buf[2 * i] = (uint8_t)h; buf[2 * i + 1] = (uint8_t)(h >> 8); }
    }
    if (t->has_raw_data) free(t->raw_data.data);
    free(t->float_data);  t->float_data = NULL;  t->n_float_data = 0;
    free(t->double_data); t->double_data = NULL; t->n_double_data = 0;
    free(t->int32_data);  t->int32_data = NULL;  t->n_int32_data = 0;
    t->raw_data.data = buf;
    t->raw_data.len = nb;
    t->has_raw_data = 1;
    return NG_OK;
}

static void onnx_free_impl(ng_weights *w)
{
    onnx_state *s = w->impl;
    if (s) {
        if (s->mp && s->inplace && s->mp->graph)
            for (size_t i = 0; i < s->mp->graph->n_initializer; i++)
                if (s->inplace[i]) s->mp->graph->initializer[i]->raw_data.data = NULL;   /* in s->file */
        if (s->mp) onnx__model_proto__free_unpacked(s->mp, NULL);
        free(s->inplace);
        free(s->file);
        free(s);
    }
    free(w->params);
    w->params = NULL;
    w->n_params = 0;
    w->impl = NULL;
}

/* Replace metadata_props with w->meta (allocated so free_unpacked releases it). */
static ng_status put_meta(Onnx__ModelProto *mp, const ng_meta *meta, const char *path)
{
    Onnx__StringStringEntryProto **kv = calloc(meta->n ? meta->n : 1, sizeof *kv);
    if (!kv) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < meta->n; i++) {
        kv[i] = malloc(sizeof **kv);
        if (kv[i]) {
            onnx__string_string_entry_proto__init(kv[i]);
            kv[i]->key = strdup(meta->kv[i].key);
            kv[i]->value = strdup(meta->kv[i].value);
        }
        if (!kv[i] || !kv[i]->key || !kv[i]->value) {
            for (size_t j = 0; j <= i; j++)
                if (kv[j]) onnx__string_string_entry_proto__free_unpacked(kv[j], NULL);
            free(kv);
            return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
        }
    }
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        onnx__string_string_entry_proto__free_unpacked(mp->metadata_props[i], NULL);
    free(mp->metadata_props);
    mp->metadata_props = kv;
    mp->n_metadata_props = meta->n;
    return NG_OK;
}

/* protobuf-c's packer writes into this: small pieces gathered in a staging buffer, large ones
 * (tensor bytes, handed over by pointer) written straight from the model's memory. */
typedef struct aw_sink {
    ProtobufCBuffer base;
    ng_awriter *w;
    ng_status st;
    size_t n, total;
    uint8_t stage[1 << 16];
} aw_sink;

static void sink_flush(aw_sink *k)
{
    if (k->n && k->st == NG_OK) k->st = ng_awrite(k->w, k->stage, k->n);
    k->n = 0;
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    aw_sink *k = (aw_sink *)b;
    k->total += len;
    if (k->st != NG_OK) return;
    if (len > sizeof k->stage / 2) {
        sink_flush(k);
        if (k->st == NG_OK) k->st = ng_awrite(k->w, data, len);
        return;
    }
    if (k->n + len > sizeof k->stage) sink_flush(k);
    memcpy(k->stage + k->n, data, len);
    k->n += len;
}

static ng_status onnx_save(const ng_weights *w, const char *path, unsigned mode)
{
    onnx_state *s = w->impl;
    ng_status st = put_meta(s->mp, &w->meta, path);
    if (st != NG_OK) return st;
    size_t n = onnx__model_proto__get_packed_size(s->mp);
    aw_sink *k = calloc(1, sizeof *k);
    if (!k) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
    ng_awriter aw;
    if ((st = ng_awrite_open(&aw, path, mode)) != NG_OK) { free(k); return st; }
    k->base.append = sink_append;
    k->w = &aw;
    onnx__model_proto__pack_to_buffer(s->mp, &k->base);
    sink_flush(k);
    st = k->st;
    if (st == NG_OK && k->total != n)
        st = ng_fail(NG_E_INTERNAL, "%s: protobuf packed %zu bytes, expected %zu", path, k->total, n);
    free(k);
    if (st != NG_OK) { ng_awrite_abort(&aw); return st; }
    return ng_awrite_commit(&aw);
}

static const ng_weights_vtbl onnx_vtbl = { onnx_save, onnx_free_impl };

/* Collect the float initializers as parameters (raw_data made canonical). */
static ng_status collect_params(ng_weights *w, Onnx__GraphProto *g, const char *name)
{
    w->params = calloc(g->n_initializer ? g->n_initializer : 1, sizeof *w->params);
    if (!w->params) return ng_fail(NG_E_NOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *t = g->initializer[i];
        ng_shape shape;
        ng_status st = ng_onnx_tensor_shape(t, name, "initializer", &shape);
        if (st != NG_OK) return st;
        ng_dtype dt = ng_onnx_dtype(t->data_type);
        if (!ng_dtype_is_float(dt)) continue;
        int64_t numel = ng_shape_numel(&shape);
        size_t esize = ng_dtype_size(dt);
        if ((st = to_raw(t, name, numel, esize)) != NG_OK) return st;
        ng_param *p = &w->params[w->n_params++];
        p->name = tname(t);
        p->dtype = dt;
        p->shape = shape;
        p->data = t->raw_data.data;
        p->nbytes = (size_t)numel * esize;
    }
    return NG_OK;
}

/* protobuf-c parses nested messages recursively without a depth limit, so a
 * crafted file (graph attribute -> node -> attribute -> graph ...) could
 * exhaust the stack. Before unpacking, walk the wire format along the fields
 * that can nest (ModelProto -> GraphProto/TrainingInfo/Function -> NodeProto ->
 * AttributeProto -> GraphProto | TypeProto -> Sequence/Map/Optional -> ...)
 * and refuse nesting deeper than NG_ONNX_MAX_DEPTH. Malformed bytes are left
 * for protobuf-c to reject. */
#define NG_ONNX_MAX_DEPTH 64
enum { K_MODEL, K_TRAIN, K_FUNC, K_GRAPH, K_NODE, K_ATTR, K_VINFO, K_TYPE, K_SEQ, K_MAP, K_NONE = -1 };

static int child_kind(int kind, uint64_t field)
{
    switch (kind) {
    case K_MODEL: return field == 7 ? K_GRAPH : field == 20 ? K_TRAIN : field == 25 ? K_FUNC : K_NONE;
    case K_TRAIN: return field == 1 || field == 2 ? K_GRAPH : K_NONE;
    case K_FUNC:  return field == 7 ? K_NODE : K_NONE;
    case K_GRAPH: return field == 1 ? K_NODE : field >= 11 && field <= 13 ? K_VINFO : K_NONE;
    case K_NODE:  return field == 5 ? K_ATTR : K_NONE;
    case K_ATTR:  return field == 6 || field == 11 ? K_GRAPH : field == 14 || field == 15 ? K_TYPE : K_NONE;
    case K_VINFO: return field == 2 ? K_TYPE : K_NONE;
    case K_TYPE:  return field == 4 || field == 9 ? K_SEQ : field == 5 ? K_MAP : K_NONE;
    case K_SEQ:   return field == 1 ? K_TYPE : K_NONE;
    case K_MAP:   return field == 2 ? K_TYPE : K_NONE;
    default:      return K_NONE;
    }
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int sh = 0; sh < 64 && *p < end; sh += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) return 1;
    }
    return 0;
}

/* Deepest nesting below this message (stops early past the limit or at malformed bytes). */
static int nest_depth(const uint8_t *p, const uint8_t *end, int kind, int depth)
{
    int worst = depth;
    while (p < end && worst <= NG_ONNX_MAX_DEPTH) {
        uint64_t key, v;
        if (!varint(&p, end, &key)) break;
        switch (key & 7) {
        case 0: if (!varint(&p, end, &v)) return worst; break;
        case 1: if (end - p < 8) return worst; p += 8; break;
        case 5: if (end - p < 4) return worst; p += 4; break;
        case 2: {
            if (!varint(&p, end, &v) || v > (uint64_t)(end - p)) return worst;
            int ck = child_kind(kind, key >> 3);
            if (ck != K_NONE) {
                int d = nest_depth(p, p + v, ck, depth + 1);
                if (d > worst) worst = d;
            }
            p += v;
            break;
        }
        default: return worst;
        }
    }
    return worst;
}

/* ---- the skeleton: the file without its large initializer raw_data ------------------------- */

typedef struct raw_ref { size_t off, len; } raw_ref;   /* one per initializer, wire order; len 0: not cut */
typedef struct skel {
    const uint8_t *base;
    raw_ref *refs;
    size_t nrefs, cap;
    int ngraphs;
} skel;

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) { v >>= 7; n++; }
    return n;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) { *o++ = (uint8_t)(v | 0x80); v >>= 7; }
    *o++ = (uint8_t)v;
    return o;
}

enum { SK_MODEL, SK_GRAPH, SK_TENSOR };

/* Write the skeleton of the message p..end of kind k to o (o NULL: only count). Returns its length,
 * or (size_t)-1 where the fast path does not apply. refs are recorded only when writing. */
static size_t emit(skel *s, const uint8_t *p, const uint8_t *end, int k, uint8_t *o)
{
    size_t n = 0;
    int raws = 0;
    while (p < end) {
        const uint8_t *start = p;
        uint64_t key, v;
        if (!varint(&p, end, &key)) return (size_t)-1;
        switch (key & 7) {
        case 0: if (!varint(&p, end, &v)) return (size_t)-1; break;
        case 1: if (end - p < 8) return (size_t)-1; p += 8; break;
        case 5: if (end - p < 4) return (size_t)-1; p += 4; break;
        case 2: {
            if (!varint(&p, end, &v) || v > (uint64_t)(end - p)) return (size_t)-1;
            uint64_t f = key >> 3;
            int child = k == SK_MODEL && f == 7 ? SK_GRAPH : k == SK_GRAPH && f == 5 ? SK_TENSOR : -1;
            if (child >= 0) {
                if (child == SK_GRAPH && ++s->ngraphs > 1) return (size_t)-1;   /* merged graphs: slow path */
                if (o && child == SK_TENSOR) {
                    if (s->nrefs == s->cap) {
                        size_t cap = s->cap ? 2 * s->cap : 256;
                        raw_ref *r = realloc(s->refs, cap * sizeof *r);
                        if (!r) return (size_t)-1;
                        s->refs = r;
                        s->cap = cap;
                    }
                    s->refs[s->nrefs++] = (raw_ref){0, 0};
                }
                int ng = s->ngraphs;
                size_t sub = emit(s, p, p + v, child, NULL);
                s->ngraphs = ng;
                if (sub == (size_t)-1) return sub;
                size_t head = (size_t)(p - start) - varint_len(v);   /* the key's bytes */
                if (o) {
                    memcpy(o + n, start, head);
                    uint8_t *q = put_varint(o + n + head, sub);
                    if (emit(s, p, p + v, child, q) != sub) return (size_t)-1;
                    n = (size_t)(q - o) + sub;
                } else {
                    n += head + varint_len(sub) + sub;
                }
                p += v;
                continue;
            }
            if (k == SK_TENSOR && f == 9) {
                if (++raws > 1) return (size_t)-1;
                if (v >= RAW_INPLACE_MIN) {
                    size_t head = (size_t)(p - start) - varint_len(v);
                    if (o) {
                        memcpy(o + n, start, head);
                        o[n + head] = 0;   /* zero-length raw_data */
                        s->refs[s->nrefs - 1] = (raw_ref){(size_t)(p - s->base), (size_t)v};
                    }
                    n += head + 1;
                    p += v;
                    continue;
                }
            }
            p += v;
            break;
        }
        default: return (size_t)-1;
        }
        if (o) memcpy(o + n, start, (size_t)(p - start));
        n += (size_t)(p - start);
    }
    return n;
}

/* Unpack buf, the large raw_data pointing into it (st->file holds it); 0 if the fast path does not apply. */
static int unpack_inplace(onnx_state *st, const uint8_t *buf, size_t len)
{
    skel s = {buf, NULL, 0, 0, 0};
    size_t n = emit(&s, buf, buf + len, SK_MODEL, NULL);
    int cut = 0;
    uint8_t *o = n != (size_t)-1 && n < len ? malloc(n ? n : 1) : NULL;   /* nothing cut: slow path is as fast */
    if (o) {
        s.ngraphs = 0;
        if (emit(&s, buf, buf + len, SK_MODEL, o) == n) {
            st->mp = onnx__model_proto__unpack(NULL, n, o);
            cut = 1;
        }
        free(o);
    }
    Onnx__GraphProto *g = st->mp ? st->mp->graph : NULL;
    if (cut && g && g->n_initializer == s.nrefs && (st->inplace = calloc(s.nrefs ? s.nrefs : 1, 1)) != NULL) {
        for (size_t i = 0; i < s.nrefs; i++) {
            Onnx__TensorProto *t = g->initializer[i];
            if (!s.refs[i].len) continue;
            free(t->raw_data.data);
            t->raw_data.data = (uint8_t *)buf + s.refs[i].off;
            t->raw_data.len = s.refs[i].len;
            t->has_raw_data = 1;
            st->inplace[i] = 1;
        }
        free(s.refs);
        return 1;
    }
    if (st->mp) onnx__model_proto__free_unpacked(st->mp, NULL);
    st->mp = NULL;
    free(s.refs);
    return 0;
}

ng_status ng_onnx_weights_open_owned(uint8_t *buf, size_t len, const char *name, ng_weights *w)
{
    onnx_state *s = calloc(1, sizeof *s);
    if (!s) { free(buf); return ng_fail(NG_E_NOMEM, "%s: out of memory", name); }
    s->file = buf;
    w->impl = s;
    w->vt = &onnx_vtbl;
    w->fmt = NG_FMT_ONNX;
    ng_status st = NG_OK;
    if (nest_depth(buf, buf + len, K_MODEL, 0) > NG_ONNX_MAX_DEPTH)
        st = ng_fail(NG_E_UNSUPPORTED, "%s: messages nested more than %d deep (graphs inside attributes); refusing "
                     "to parse it", name, NG_ONNX_MAX_DEPTH);
    if (st == NG_OK && !unpack_inplace(s, buf, len)) {
        s->mp = onnx__model_proto__unpack(NULL, len, buf);   /* copies everything: the bytes are not needed */
        free(s->file);
        s->file = NULL;
    }
    if (st == NG_OK && !s->mp) st = ng_fail(NG_E_FORMAT, "%s: not a valid ONNX model (protobuf parse failed)", name);
    else if (st == NG_OK && !s->mp->graph) st = ng_fail(NG_E_FORMAT, "%s: not an ONNX model (it has no graph)", name);
    if (st == NG_OK) st = collect_params(w, s->mp->graph, name);
    for (size_t i = 0; st == NG_OK && i < s->mp->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *kv = s->mp->metadata_props[i];
        if (!kv->key || !kv->key[0]) continue;
        if (ng_meta_set(&w->meta, kv->key, kv->value ? kv->value : "") != NG_OK)
            st = ng_fail(NG_E_NOMEM, "%s: out of memory", name);
    }
    if (st != NG_OK) {
        onnx_free_impl(w);
        w->vt = NULL;
        ng_meta_free(&w->meta);
    }
    return st;
}

const void *ng_onnx_weights_proto(const ng_weights *w)
{
    const onnx_state *s = w->impl;
    return w->fmt == NG_FMT_ONNX && s ? s->mp : NULL;
}
