/* formats/st_stream.c - the safetensors header: parse + validate (the one validator used by
 * both the streaming API and ng_weights), build, serialize. Layout and checks in
 * nnguard/safetensors.h. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "formats/st_internal.h"

typedef unsigned long long ull;

static ng_status push_tensor(ng_st_header *h, const ng_st_tensor *t)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        ng_st_tensor *nt = ng_reallocarray(h->t, cap, sizeof *nt);
        if (!nt) return NG_E_NOMEM;
        h->t = nt; h->cap = cap;
    }
    h->t[h->n++] = *t;
    return NG_OK;
}

/* nbytes of a dtype/shape, or a failure naming the tensor. */
static ng_status tensor_nbytes(const char *name, const char *tname, ng_dtype dt, const ng_shape *s, uint64_t *nb)
{
    int64_t numel = ng_shape_numel(s);
    for (int i = 0; i < s->ndim; i++)
        if (s->d[i] < 0) return ng_fail(NG_E_FORMAT, "%s: tensor %s has a negative dim (%lld)", name, tname, (long long)s->d[i]);
    /* ng_shape_numel stops at a 0 dim: check the product of the non-zero dims for overflow too */
    uint64_t p = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] == 0) continue;
        if (p > UINT64_MAX / (uint64_t)s->d[i]) { numel = -1; break; }
        p *= (uint64_t)s->d[i];
    }
    uint64_t es = ng_dtype_size(dt);
    if (numel < 0 || p > INT64_MAX / es)
        return ng_fail(NG_E_FORMAT, "%s: tensor %s: shape too large (element count overflows)", name, tname);
    *nb = (uint64_t)numel * es;
    return NG_OK;
}

static ng_status get_uint(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return NG_E_FORMAT;
    *out = (uint64_t)json_integer_value(v);
    return NG_OK;
}

static ng_status parse_tensor(const char *name, const char *key, json_t *v, uint64_t data_size, ng_st_tensor *t)
{
    memset(t, 0, sizeof *t);
    if (!json_is_object(v)) return ng_fail(NG_E_FORMAT, "%s: entry %s is not an object", name, key);
    const char *k;
    json_t *f;
    json_object_foreach(v, k, f)
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return ng_fail(NG_E_FORMAT, "%s: tensor %s has an unexpected field \"%s\"", name, key, k);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return ng_fail(NG_E_FORMAT, "%s: tensor %s: \"dtype\" missing or not a string", name, key);
    t->dtype = ng_dtype_from_name(json_string_value(dt));
    if (t->dtype == NG_DT_UNKNOWN)
        return ng_fail(NG_E_UNSUPPORTED, "%s: tensor %s has dtype \"%s\", which nnguard does not know", name, key,
                       json_string_value(dt));
    if (!json_is_array(sh)) return ng_fail(NG_E_FORMAT, "%s: tensor %s: \"shape\" missing or not an array", name, key);
    if (json_array_size(sh) > NG_MAX_DIMS)
        return ng_fail(NG_E_UNSUPPORTED, "%s: tensor %s has %zu dims, at most %d are supported", name, key,
                       json_array_size(sh), NG_MAX_DIMS);
    t->shape.ndim = (int)json_array_size(sh);
    for (int i = 0; i < t->shape.ndim; i++) {
        uint64_t d;
        if (get_uint(json_array_get(sh, (size_t)i), &d) != NG_OK)
            return ng_fail(NG_E_FORMAT, "%s: tensor %s: dim %d is not a non-negative integer", name, key, i);
        t->shape.d[i] = (int64_t)d;
    }
    uint64_t want, b, e;
    ng_status st = tensor_nbytes(name, key, t->dtype, &t->shape, &want);
    if (st != NG_OK) return st;
    if (!json_is_array(off) || json_array_size(off) != 2 || get_uint(json_array_get(off, 0), &b) != NG_OK ||
        get_uint(json_array_get(off, 1), &e) != NG_OK)
        return ng_fail(NG_E_FORMAT, "%s: tensor %s: \"data_offsets\" must be [begin, end] of non-negative integers", name, key);
    if (e < b) return ng_fail(NG_E_FORMAT, "%s: tensor %s: data_offsets [%llu, %llu] end before begin", name, key, (ull)b, (ull)e);
    if (e > data_size)
        return ng_fail(NG_E_FORMAT, "%s: tensor %s: data_offsets [%llu, %llu] beyond the data section of %llu bytes "
                       "(file truncated?)", name, key, (ull)b, (ull)e, (ull)data_size);
    if (e - b != want)
        return ng_fail(NG_E_FORMAT, "%s: tensor %s: %llu data bytes, but %s x %lld elements need %llu", name, key,
                       (ull)(e - b), ng_dtype_name(t->dtype), (long long)ng_shape_numel(&t->shape), (ull)want);
    t->begin = b; t->nbytes = e - b;
    return NG_OK;
}

static ng_status parse_meta(const char *name, json_t *v, ng_meta *m)
{
    if (!json_is_object(v)) return ng_fail(NG_E_FORMAT, "%s: \"__metadata__\" is not an object", name);
    const char *k;
    json_t *s;
    json_object_foreach(v, k, s) {
        if (!json_is_string(s)) return ng_fail(NG_E_FORMAT, "%s: __metadata__ value of \"%s\" is not a string", name, k);
        if (ng_meta_set(m, k, json_string_value(s)) != NG_OK) return ng_fail(NG_E_NOMEM, "%s: out of memory", name);
    }
    return NG_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const ng_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Sorted by begin, tensors must tile [0, data_size). */
static ng_status check_tiling(const ng_st_header *h, const char *name)
{
    uint64_t at = 0;
    for (size_t i = 0; i < h->n; i++) {
        const ng_st_tensor *t = &h->t[i];
        if (t->begin < at)
            return ng_fail(NG_E_FORMAT, "%s: tensor %s [%llu, %llu) overlaps tensor %s", name, t->name, (ull)t->begin,
                           (ull)(t->begin + t->nbytes), h->t[i - 1].name);
        if (t->begin > at)
            return ng_fail(NG_E_FORMAT, "%s: %llu unused bytes before tensor %s at data offset %llu", name,
                           (ull)(t->begin - at), t->name, (ull)at);
        at += t->nbytes;
    }
    if (at != h->data_size)
        return ng_fail(NG_E_FORMAT, "%s: tensors cover %llu bytes but the data section has %llu (trailing bytes)",
                       name, (ull)at, (ull)h->data_size);
    return NG_OK;
}

ng_status ng_st_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, const char *name,
                             ng_st_header **out)
{
    *out = NULL;
    if (file_size < 8 || len < 8)
        return ng_fail(NG_E_FORMAT, "%s: %llu bytes, too short for a safetensors file (it starts with an 8-byte "
                       "header length)", name, (ull)file_size);
    uint64_t hn = ng_le64(buf);
    if (hn > NG_ST_MAX_HEADER)
        return ng_fail(NG_E_FORMAT, "%s: header length %llu is more than the %u bytes allowed (not a safetensors "
                       "file?)", name, (ull)hn, NG_ST_MAX_HEADER);
    if (hn > file_size - 8)
        return ng_fail(NG_E_FORMAT, "%s: header length %llu but only %llu bytes follow (file truncated?)", name,
                       (ull)hn, (ull)(file_size - 8));
    if (len < 8 + hn) return ng_fail(NG_E_INVALID, "%s: header parser given %zu bytes, needs %llu", name, len, (ull)(8 + hn));
    json_error_t je;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hn, JSON_REJECT_DUPLICATES, &je);
    if (!root) return ng_fail(NG_E_FORMAT, "%s: header is not valid JSON: %s (byte %d of the header)", name, je.text, je.position);
    ng_status st = NG_OK;
    ng_st_header *h = calloc(1, sizeof *h);
    if (!h) { json_decref(root); return ng_fail(NG_E_NOMEM, "%s: out of memory", name); }
    h->data_start = 8 + hn;
    h->data_size = file_size - 8 - hn;
    if (!json_is_object(root)) st = ng_fail(NG_E_FORMAT, "%s: header is JSON but not an object", name);
    const char *k;
    json_t *v;
    if (st == NG_OK) json_object_foreach(root, k, v) {
        if (strcmp(k, "__metadata__") == 0) {
            st = parse_meta(name, v, &h->meta);
        } else {
            ng_st_tensor t;
            st = parse_tensor(name, k, v, h->data_size, &t);
            if (st == NG_OK && !(t.name = ng_strdup(k))) st = NG_E_NOMEM;
            if (st == NG_OK && (st = push_tensor(h, &t)) != NG_OK) free((char *)t.name);
        }
        if (st != NG_OK) break;
    }
    json_decref(root);
    if (st == NG_OK) {
        if (h->n > 1) qsort(h->t, h->n, sizeof *h->t, cmp_begin);
        for (size_t i = 0; i < h->n; i++) h->t[i].offset = h->data_start + h->t[i].begin;
        st = check_tiling(h, name);
    }
    if (st != NG_OK) { ng_st_header_free(h); return st; }
    *out = h;
    return NG_OK;
}

ng_status ng_st_header_read_fd(int fd, const char *name, ng_st_header **out)
{
    *out = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) return ng_fail(NG_E_IO, "%s: not a regular file", name);
    uint64_t size = (uint64_t)sb.st_size;
    uint8_t len8[8];
    if (size < 8) return ng_st_header_parse(len8, 0, size, name, out);
    ng_status st = ng_pread_all(fd, name, len8, 8, 0);
    if (st != NG_OK) return st;
    uint64_t hn = ng_le64(len8);
    if (hn > NG_ST_MAX_HEADER || hn > size - 8) return ng_st_header_parse(len8, 8, size, name, out);
    uint8_t *buf = malloc((size_t)hn + 8);
    if (!buf) return ng_fail(NG_E_NOMEM, "%s: cannot allocate %llu bytes for the header", name, (ull)hn);
    memcpy(buf, len8, 8);
    st = ng_pread_all(fd, name, buf + 8, (size_t)hn, 8);
    if (st == NG_OK) st = ng_st_header_parse(buf, (size_t)hn + 8, size, name, out);
    free(buf);
    return st;
}

ng_status ng_st_header_read(const char *path, ng_st_header **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, strerror(errno));
    ng_status st = ng_st_header_read_fd(fd, path, out);
    close(fd);
    return st;
}

ng_status ng_st_header_new(ng_st_header **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? NG_OK : ng_fail(NG_E_NOMEM, "out of memory");
}

ng_status ng_st_header_add(ng_st_header *h, const char *name, ng_dtype dtype, const ng_shape *shape)
{
    if (!name || strcmp(name, "__metadata__") == 0 || ng_st_header_find(h, name) >= 0)
        return ng_fail(NG_E_INVALID, "safetensors: tensor name \"%s\" is reserved or already used", name ? name : "(null)");
    if (dtype <= NG_DT_UNKNOWN || dtype >= NG_DT_COUNT)
        return ng_fail(NG_E_INVALID, "safetensors: tensor %s: unknown dtype %d", name, (int)dtype);
    if (shape->ndim < 0 || shape->ndim > NG_MAX_DIMS)
        return ng_fail(NG_E_INVALID, "safetensors: tensor %s: %d dims (0..%d allowed)", name, shape->ndim, NG_MAX_DIMS);
    ng_st_tensor t = {.dtype = dtype, .shape = *shape, .begin = h->data_size};
    ng_status st = tensor_nbytes("safetensors", name, dtype, shape, &t.nbytes);
    if (st != NG_OK) return st;
    if (t.nbytes > UINT64_MAX / 2 - h->data_size) return ng_fail(NG_E_INVALID, "safetensors: data too large");
    t.offset = h->data_start + t.begin;
    if (!(t.name = ng_strdup(name))) return NG_E_NOMEM;
    if ((st = push_tensor(h, &t)) != NG_OK) { free((char *)t.name); return st; }
    h->data_size += t.nbytes;
    return NG_OK;
}

void ng_st_header_free(ng_st_header *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->n; i++) free((char *)h->t[i].name);
    free(h->t);
    ng_meta_free(&h->meta);
    free(h);
}

size_t ng_st_header_count(const ng_st_header *h) { return h->n; }
const ng_st_tensor *ng_st_header_tensor(const ng_st_header *h, size_t i) { return i < h->n ? &h->t[i] : NULL; }
uint64_t ng_st_header_data_start(const ng_st_header *h) { return h->data_start; }
uint64_t ng_st_header_data_size(const ng_st_header *h) { return h->data_size; }

long ng_st_header_find(const ng_st_header *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->t[i].name, name) == 0) return (long)i;
    return -1;
}

const char *ng_st_header_meta_get(const ng_st_header *h, const char *key) { return ng_meta_get(&h->meta, key); }
ng_status ng_st_header_meta_set(ng_st_header *h, const char *key, const char *value)
{
    return ng_meta_set(&h->meta, key, value) == NG_OK ? NG_OK : ng_fail(NG_E_NOMEM, "out of memory");
}
size_t ng_st_header_meta_count(const ng_st_header *h) { return h->meta.n; }
void ng_st_header_meta_at(const ng_st_header *h, size_t i, const char **key, const char **value)
{
    *key = i < h->meta.n ? h->meta.kv[i].key : NULL;
    *value = i < h->meta.n ? h->meta.kv[i].value : NULL;
}

/* json_object_set_new that reports a key or value that is not valid UTF-8. */
static int set_new(json_t *obj, const char *key, json_t *v) { return v ? json_object_set_new(obj, key, v) : -1; }

ng_status ng_st_serialize_with(const ng_st_header *h, const ng_meta *meta, uint8_t **out, size_t *len)
{
    *out = NULL; *len = 0;
    json_t *root = json_object();
    ng_status st = root ? NG_OK : ng_fail(NG_E_NOMEM, "out of memory");
    if (st == NG_OK && meta->n) {
        json_t *m = json_object();
        for (size_t i = 0; m && i < meta->n && st == NG_OK; i++)
            if (set_new(m, meta->kv[i].key, json_string(meta->kv[i].value)) != 0)
                st = ng_fail(NG_E_INVALID, "safetensors: metadata \"%s\": key and value must be UTF-8 text",
                             meta->kv[i].key);
        if (set_new(root, "__metadata__", m) != 0 && st == NG_OK) st = ng_fail(NG_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < h->n && st == NG_OK; i++) {
        const ng_st_tensor *t = &h->t[i];
        json_t *o = json_object(), *shape = json_array(), *off = json_array();
        for (int d = 0; shape && d < t->shape.ndim; d++) json_array_append_new(shape, json_integer(t->shape.d[d]));
        if (off) {
            json_array_append_new(off, json_integer((json_int_t)t->begin));
            json_array_append_new(off, json_integer((json_int_t)(t->begin + t->nbytes)));
        }
        int bad = !o || set_new(o, "dtype", json_string(ng_dtype_name(t->dtype))) != 0;
        bad |= !o || set_new(o, "shape", shape) != 0;
        bad |= !o || set_new(o, "data_offsets", off) != 0;
        if (!o) { json_decref(shape); json_decref(off); }
        if (set_new(root, t->name, o) != 0 || bad)
            st = ng_fail(NG_E_INVALID, "safetensors: tensor \"%s\": name must be UTF-8 text", t->name);
    }
    char *js = st == NG_OK ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (st != NG_OK) return st;
    if (!js) return ng_fail(NG_E_NOMEM, "safetensors: cannot encode the header");
    size_t sl = strlen(js), n = (sl + 7) & ~(size_t)7;
    uint8_t *b = malloc(8 + n);
    if (!b) { free(js); return ng_fail(NG_E_NOMEM, "out of memory"); }
    ng_put_le64(b, n);
    memcpy(b + 8, js, sl);
    memset(b + 8 + sl, ' ', n - sl);
    free(js);
    *out = b; *len = 8 + n;
    return NG_OK;
}

ng_status ng_st_header_serialize(const ng_st_header *h, uint8_t **out, size_t *len)
{
    return ng_st_serialize_with(h, &h->meta, out, len);
}
