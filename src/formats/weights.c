/* formats/weights.c - the generic ng_weights layer: format detection, dispatch to the ONNX and
 * safetensors back-ends (weights_impl.h), accessors, metadata, saving and the model id. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>
#include "formats/weights_impl.h"

#define NG_ONNX_MAX_BYTES ((size_t)4 << 30)   /* ONNX files are read whole: 4 GiB at most */

ng_format ng_format_from_ext(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot || strchr(dot, '/')) return NG_FMT_UNKNOWN;
    if (strcasecmp(dot, ".onnx") == 0) return NG_FMT_ONNX;
    if (strcasecmp(dot, ".safetensors") == 0 || strcasecmp(dot, ".st") == 0) return NG_FMT_SAFETENSORS;
    return NG_FMT_UNKNOWN;
}

const char *ng_format_name(ng_format f)
{
    switch (f) {
    case NG_FMT_ONNX: return "onnx";
    case NG_FMT_SAFETENSORS: return "safetensors";
    default: return "unknown";
    }
}

/* safetensors: u64le header length (>= 2, <= limit) then '{'. ONNX: a ModelProto almost always
 * starts with ir_version (field 1, varint: tag 0x08), else graph (0x3a) or opset_import (0x42). */
static ng_format detect_bytes(const uint8_t *b, size_t n, const char *name)
{
    if (n >= 9 && b[8] == '{') {
        uint64_t hl = ng_le64(b);
        if (hl >= 2 && hl <= (100u << 20)) return NG_FMT_SAFETENSORS;
    }
    ng_format ext = ng_format_from_ext(name);
    if (ext == NG_FMT_ONNX) return NG_FMT_ONNX;
    if (n >= 2 && (b[0] == 0x08 || b[0] == 0x3a || b[0] == 0x42)) return NG_FMT_ONNX;
    return ext;
}

ng_format ng_format_detect(const char *path)
{
    uint8_t b[16];
    ssize_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        do n = read(fd, b, sizeof b); while (n < 0 && errno == EINTR);
        close(fd);
    }
    return detect_bytes(b, n > 0 ? (size_t)n : 0, path);
}

static ng_status new_weights(const char *name, ng_format f, ng_weights **w)
{
    *w = calloc(1, sizeof **w);
    if (*w && !((*w)->path = ng_strdup(name))) { free(*w); *w = NULL; }
    if (!*w) return ng_fail(NG_E_NOMEM, "%s: out of memory", name);
    (*w)->fmt = f;
    return NG_OK;
}

/* After a failed format open: the format has released its own state (impl, params). */
static void drop_failed(ng_weights *w)
{
    ng_meta_free(&w->meta);
    free(w->path);
    free(w);
}

static ng_status unknown_format(const char *name)
{
    return ng_fail(NG_E_UNSUPPORTED, "%s: neither an ONNX nor a safetensors file (name it .onnx or .safetensors "
                   "if it is one)", name);
}

static ng_status open_path(const char *path, int anon, ng_weights **out)
{
    *out = NULL;
    if (access(path, R_OK) != 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, strerror(errno));
    ng_format f = ng_format_detect(path);
    if (f == NG_FMT_UNKNOWN) return unknown_format(path);
    ng_weights *w;
    ng_status st = new_weights(path, f, &w);
    if (st != NG_OK) return st;
    if (f == NG_FMT_ONNX) {
        uint8_t *buf;   /* read once; the large initializers stay in this buffer */
        size_t len;
        st = ng_read_file(path, NG_ONNX_MAX_BYTES, &buf, &len);
        if (st == NG_OK) st = ng_onnx_weights_open_owned(buf, len, path, w);
    } else {
        ng_map map;
        st = anon ? ng_read_file_anon(path, &map) : ng_map_file(path, &map);
        if (st == NG_OK) st = ng_st_weights_open_map(&map, path, w);
    }
    if (st != NG_OK) { drop_failed(w); return st; }
    w->fmt = f;
    *out = w;
    return NG_OK;
}

ng_status ng_weights_open(const char *path, ng_weights **out) { return open_path(path, 0, out); }
ng_status ng_weights_open_anon(const char *path, ng_weights **out) { return open_path(path, 1, out); }

ng_status ng_weights_open_buffer(const void *buf, size_t len, ng_format fmt, const char *name,
                                 ng_weights **out)
{
    *out = NULL;
    if (!name) name = "(buffer)";
    if (!buf && len) return ng_fail(NG_E_INVALID, "%s: no buffer", name);
    if (fmt == NG_FMT_UNKNOWN) fmt = detect_bytes(buf, len, name);
    if (fmt != NG_FMT_ONNX && fmt != NG_FMT_SAFETENSORS) return unknown_format(name);
    ng_weights *w;
    ng_status st = new_weights(name, fmt, &w);
    if (st != NG_OK) return st;
    if (fmt == NG_FMT_ONNX) {
        uint8_t *copy = malloc(len ? len : 1);   /* owned by the back-end, like a file read */
        if (!copy) st = ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu bytes", name, len);
        else if (len) memcpy(copy, buf, len);
        if (st == NG_OK) st = ng_onnx_weights_open_owned(copy, len, name, w);
    } else {
        /* a private anonymous mapping holds the copy, so the back-end owns it like a file map */
        ng_map map = {NULL, 0};
        if (len) {
            void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) st = ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu bytes", name, len);
            else { memcpy(p, buf, len); map.data = p; map.len = len; }
        }
        if (st == NG_OK) st = ng_st_weights_open_map(&map, name, w);
    }
    if (st != NG_OK) { drop_failed(w); return st; }
    w->fmt = fmt;
    *out = w;
    return NG_OK;
}

void ng_weights_free(ng_weights *w)
{
    if (!w) return;
    if (w->vt && w->vt->free_impl) w->vt->free_impl(w);
    ng_meta_free(&w->meta);
    free(w->path);
    free(w);
}

ng_format ng_weights_format(const ng_weights *w) { return w->fmt; }
const char *ng_weights_path(const ng_weights *w) { return w->path; }
size_t ng_weights_count(const ng_weights *w) { return w->n_params; }
ng_param *ng_weights_param(ng_weights *w, size_t i) { return i < w->n_params ? &w->params[i] : NULL; }
const ng_param *ng_weights_param_c(const ng_weights *w, size_t i) { return i < w->n_params ? &w->params[i] : NULL; }

long ng_weights_find(const ng_weights *w, const char *name)
{
    for (size_t i = 0; i < w->n_params; i++)
        if (w->params[i].name && strcmp(w->params[i].name, name) == 0) return (long)i;
    return -1;
}

const char *ng_weights_meta_get(const ng_weights *w, const char *key) { return key ? ng_meta_get(&w->meta, key) : NULL; }

ng_status ng_weights_meta_set(ng_weights *w, const char *key, const char *value)
{
    if (!key || !*key) return ng_fail(NG_E_INVALID, "%s: empty metadata key", w->path);
    if (ng_meta_set(&w->meta, key, value) != NG_OK) return ng_fail(NG_E_NOMEM, "%s: out of memory", w->path);
    return NG_OK;
}

size_t ng_weights_meta_count(const ng_weights *w) { return w->meta.n; }

void ng_weights_meta_at(const ng_weights *w, size_t i, const char **key, const char **value)
{
    *key = i < w->meta.n ? w->meta.kv[i].key : NULL;
    *value = i < w->meta.n ? w->meta.kv[i].value : NULL;
}

ng_status ng_weights_save_mode(const ng_weights *w, const char *path, unsigned mode)
{
    if (!w->vt || !w->vt->save) return ng_fail(NG_E_INTERNAL, "%s: this file's format cannot be saved", w->path);
    return w->vt->save(w, path, mode);
}

ng_status ng_weights_save(const ng_weights *w, const char *path) { return ng_weights_save_mode(w, path, NG_MODE_PUBLIC); }

/* The model id is SHA-256 through OpenSSL's EVP (SHA-NI when the CPU has it), or libsodium's
 * portable SHA-256 (the same digest) when OpenSSL cannot make a context. */
static void id_init(ng_id_hash *h, int use_evp)
{
    memset(h, 0, sizeof *h);
    h->ok = 1;
    if (use_evp && (h->evp = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(h->evp, EVP_sha256(), NULL) == 1)
        return;
    EVP_MD_CTX_free(h->evp);
    h->evp = NULL;
    crypto_hash_sha256_init(&h->s);
}

void ng_id_hash_init(ng_id_hash *h) { id_init(h, 1); }

void ng_id_hash_bytes(ng_id_hash *h, const void *d, size_t n)
{
    if (!h->evp) crypto_hash_sha256_update(&h->s, d, n);
    else if (h->ok) h->ok = EVP_DigestUpdate(h->evp, d, n) == 1;
}

static void hash_u32(ng_id_hash *h, uint32_t v)
{
    uint8_t b[4];
    ng_put_le32(b, v);
    ng_id_hash_bytes(h, b, 4);
}

static void hash_u64(ng_id_hash *h, uint64_t v)
{
    uint8_t b[8];
    ng_put_le64(b, v);
    ng_id_hash_bytes(h, b, 8);
}

/* Per parameter: u32 len(name) | name | u32 len(dtype) | dtype | u32 ndim | u64 dims | u64 nbytes | bytes. */
void ng_id_hash_param(ng_id_hash *h, const char *name, ng_dtype dtype, const ng_shape *shape, uint64_t nbytes)
{
    const char *dt = ng_dtype_name(dtype);
    if (!name) name = "";
    hash_u32(h, (uint32_t)strlen(name));
    ng_id_hash_bytes(h, name, strlen(name));
    hash_u32(h, (uint32_t)strlen(dt));
    ng_id_hash_bytes(h, dt, strlen(dt));
    hash_u32(h, (uint32_t)shape->ndim);
    for (int d = 0; d < shape->ndim; d++) hash_u64(h, (uint64_t)shape->d[d]);
    hash_u64(h, nbytes);
}

int ng_id_hash_final(ng_id_hash *h, uint8_t id[32])
{
    if (!h->evp) return crypto_hash_sha256_final(&h->s, id) == 0;
    unsigned len = 0;
    int ok = h->ok && EVP_DigestFinal_ex(h->evp, id, &len) == 1 && len == 32;
    EVP_MD_CTX_free(h->evp);
    h->evp = NULL;
    return ok;
}

static int params_id_with(int use_evp, const ng_param *p, size_t n, uint8_t id[32])
{
    ng_id_hash h;
    id_init(&h, use_evp);
    for (size_t i = 0; i < n; i++) {
        ng_id_hash_param(&h, p[i].name, p[i].dtype, &p[i].shape, p[i].nbytes);
        if (p[i].nbytes) ng_id_hash_bytes(&h, p[i].data, p[i].nbytes);
    }
    return ng_id_hash_final(&h, id);
}

void ng_params_id(const ng_param *p, size_t n, uint8_t id[32])
{
    if (!params_id_with(1, p, n, id)) params_id_with(0, p, n, id);   /* OpenSSL failed mid-way */
}

void ng_weights_id(const ng_weights *w, uint8_t id[32]) { ng_params_id(w->params, w->n_params, id); }

void ng_id_hex(const uint8_t id[32], char hex[65]) { sodium_bin2hex(hex, 65, id, 32); }
