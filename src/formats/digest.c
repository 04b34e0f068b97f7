/* formats/digest.c - the digests protection schemes bind to a key (layout in nnguard/weights.h):
 * the parameter digest (a two-level SHA-256 tree over 1 MiB leaves, computed in parallel) and
 * the graph digest (everything in a model file but the parameter bytes and the metadata). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <sodium.h>
#include "core/pool.h"
#include "formats/onnx_internal.h"
#include "formats/st_internal.h"
#include "formats/weights_impl.h"

static const char tensor_label[] = "nnguard.digest.tensor.v1", params_label[] = "nnguard.digest.params.v1",
                  graph_label[] = "nnguard.digest.graph.v1";

uint64_t ng_digest_nleaves(uint64_t nbytes) { return (nbytes + NG_DIGEST_LEAF - 1) / NG_DIGEST_LEAF; }

void ng_digest_leaf(const void *data, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    if (EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
        crypto_hash_sha256(out, data, n);   /* the same digest, when OpenSSL cannot make a context */
}

/* Everything but the leaves is small: libsodium's SHA-256 (it cannot fail). */
typedef crypto_hash_sha256_state sha;
static void put(sha *h, const void *b, size_t n) { crypto_hash_sha256_update(h, b, n); }
static void put_u32(sha *h, uint32_t v) { uint8_t b[4]; ng_put_le32(b, v); put(h, b, 4); }
static void put_u64(sha *h, uint64_t v) { uint8_t b[8]; ng_put_le64(b, v); put(h, b, 8); }
static void put_str(sha *h, const char *s) { put_u32(h, (uint32_t)strlen(s)); put(h, s, strlen(s)); }

/* The framing of a tensor: name, dtype name, ndim, dims, nbytes. */
static void put_frame(sha *h, const char *name, ng_dtype dt, const ng_shape *s, uint64_t nbytes)
{
    put_str(h, name ? name : "");
    put_str(h, ng_dtype_name(dt));
    put_u32(h, (uint32_t)s->ndim);
    for (int d = 0; d < s->ndim; d++) put_u64(h, (uint64_t)s->d[d]);
    put_u64(h, nbytes);
}

void ng_digest_tensor(const char *name, ng_dtype dtype, const ng_shape *shape, uint64_t nbytes,
                      const uint8_t (*leaf)[32], uint64_t nleaves, uint8_t out[32])
{
    sha h;
    crypto_hash_sha256_init(&h);
    put(&h, tensor_label, sizeof tensor_label);   /* with its NUL */
    put_frame(&h, name, dtype, shape, nbytes);
    put_u64(&h, nleaves);
    if (nleaves) put(&h, leaf, (size_t)nleaves * 32);
    crypto_hash_sha256_final(&h, out);
}

void ng_digest_params_root(const uint8_t (*tensor)[32], size_t n, uint8_t out[32])
{
    sha h;
    crypto_hash_sha256_init(&h);
    put(&h, params_label, sizeof params_label);
    put_u64(&h, n);
    if (n) put(&h, tensor, n * 32);
    crypto_hash_sha256_final(&h, out);
}

/* ---- the whole parameter digest, leaves on all workers ---- */

typedef struct leaf_job { const ng_param *p; size_t ti; uint64_t li; } leaf_job;
typedef struct leaves_ctx { const leaf_job *jobs; uint8_t (*out)[32]; } leaves_ctx;

static void leaves_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)worker;
    leaves_ctx *c = arg;
    for (int64_t i = i0; i < i1; i++) {
        const leaf_job *j = &c->jobs[i];
        uint64_t off = j->li * NG_DIGEST_LEAF, n = j->p->nbytes - off < NG_DIGEST_LEAF ? j->p->nbytes - off : NG_DIGEST_LEAF;
        ng_digest_leaf(j->p->data + off, (size_t)n, c->out[i]);
    }
}

ng_status ng_params_digest(const ng_param *p, size_t n, int threads, uint8_t out[32])
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += ng_digest_nleaves(p[i].nbytes);
    leaf_job *jobs = ng_calloc(total + 1, sizeof *jobs);
    uint8_t (*leaf)[32] = ng_calloc(total + 1, 32);
    uint8_t (*tens)[32] = ng_calloc(n + 1, 32);
    if (!jobs || !leaf || !tens) { free(jobs); free(leaf); free(tens); return ng_fail(NG_E_NOMEM, "parameter digest: out of memory"); }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (uint64_t l = 0; l < ng_digest_nleaves(p[i].nbytes); l++) jobs[k++] = (leaf_job){&p[i], i, l};
    leaves_ctx c = {jobs, leaf};
    ng_pool *pool = total > 1 ? ng_pool_new(threads) : NULL;
    ng_pool_for(pool, (int64_t)total, leaves_body, &c);
    ng_pool_free(pool);
    k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t nl = ng_digest_nleaves(p[i].nbytes);
        ng_digest_tensor(p[i].name, p[i].dtype, &p[i].shape, p[i].nbytes, leaf + k, nl, tens[i]);
        k += nl;
    }
    ng_digest_params_root((const uint8_t (*)[32])tens, n, out);
    free(jobs); free(leaf); free(tens);
    return NG_OK;
}

ng_status ng_weights_params_digest(const ng_weights *w, int threads, uint8_t out[32])
{
    return ng_params_digest(w->params, w->n_params, threads, out);
}

/* ---- graph digest ---- */

/* A record: tag, u64le length, bytes. */
static void record(sha *h, char tag, const void *b, uint64_t n)
{
    uint8_t t = (uint8_t)tag;
    put(h, &t, 1);
    put_u64(h, n);
    if (n) put(h, b, (size_t)n);
}

/* A record holding a protobuf message as protobuf-c serialises it (fields in number order). */
static ng_status record_msg(sha *h, char tag, const void *msg, const char *name)
{
    const ProtobufCMessage *m = msg;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return ng_fail(NG_E_NOMEM, "%s: out of memory for the graph digest (%zu bytes)", name, n);
    size_t got = protobuf_c_message_pack(m, b);
    record(h, tag, b, got);
    free(b);
    return got == n ? NG_OK : ng_fail(NG_E_INTERNAL, "%s: protobuf packed %zu bytes, expected %zu", name, got, n);
}

/* A tensor's framing (+ extra bytes) as a record holding their SHA-256. */
static void record_frame(sha *h, char tag, const char *name, ng_dtype dt, const ng_shape *s, uint64_t nbytes,
                         const uint8_t *extra, size_t extra_n)
{
    sha f;
    uint8_t d[32];
    crypto_hash_sha256_init(&f);
    put_frame(&f, name, dt, s, nbytes);
    if (extra_n) put(&f, extra, extra_n);
    crypto_hash_sha256_final(&f, d);
    record(h, tag, d, 32);
}

static ng_status onnx_graph_digest(const ng_weights *w, uint8_t out[32])
{
    const Onnx__ModelProto *mp = ng_onnx_weights_proto(w);
    const Onnx__GraphProto *g = mp->graph;
    const char *name = ng_weights_path(w);
    sha h;
    uint8_t b[8];
    crypto_hash_sha256_init(&h);
    put(&h, graph_label, sizeof graph_label);
    put(&h, "\x01", 1);   /* ONNX */
    ng_put_le64(b, (uint64_t)mp->ir_version);
    record(&h, 'V', b, 8);
    ng_status st = NG_OK;
    for (size_t i = 0; st == NG_OK && i < mp->n_opset_import; i++) st = record_msg(&h, 'S', mp->opset_import[i], name);
    for (size_t i = 0; st == NG_OK && i < mp->n_functions; i++) st = record_msg(&h, 'F', mp->functions[i], name);
    for (size_t i = 0; st == NG_OK && i < g->n_node; i++) st = record_msg(&h, 'N', g->node[i], name);
    for (size_t i = 0; st == NG_OK && i < g->n_input; i++) st = record_msg(&h, 'I', g->input[i], name);
    for (size_t i = 0; st == NG_OK && i < g->n_output; i++) st = record_msg(&h, 'O', g->output[i], name);
    for (size_t i = 0, pi = 0; st == NG_OK && i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        const ng_param *p = pi < w->n_params ? &w->params[pi] : NULL;
        if (ng_dtype_is_float(ng_onnx_dtype(t->data_type)) && p) {   /* the parameters, in the same order */
            record_frame(&h, 'P', p->name, p->dtype, &p->shape, p->nbytes, NULL, 0);
            pi++;
        } else {
            st = record_msg(&h, 'T', t, name);
        }
    }
    for (size_t i = 0; st == NG_OK && i < g->n_sparse_initializer; i++) st = record_msg(&h, 'Z', g->sparse_initializer[i], name);
    crypto_hash_sha256_final(&h, out);
    return st;
}

ng_status ng_st_graph_digest_with(const ng_st_header *hd, ng_st_reader read, void *ctx, const char *name, uint8_t out[32])
{
    uint8_t *buf = malloc(NG_DIGEST_LEAF);
    if (!buf) return ng_fail(NG_E_NOMEM, "%s: out of memory for the graph digest", name);
    sha h;
    uint8_t b[8];
    ng_status st = NG_OK;
    crypto_hash_sha256_init(&h);
    put(&h, graph_label, sizeof graph_label);
    put(&h, "\x02", 1);   /* safetensors */
    ng_put_le64(b, (uint64_t)hd->n);
    record(&h, 'C', b, 8);
    for (size_t i = 0; i < hd->n && st == NG_OK; i++) {   /* data order */
        const ng_st_tensor *t = &hd->t[i];
        uint8_t extra[40];
        ng_put_le64(extra, t->begin);
        if (ng_dtype_is_float(t->dtype)) {
            record_frame(&h, 'P', t->name, t->dtype, &t->shape, t->nbytes, extra, 8);
            continue;
        }
        sha bytes;   /* a non-float tensor's bytes are part of the graph */
        crypto_hash_sha256_init(&bytes);
        for (uint64_t off = 0; off < t->nbytes && st == NG_OK; off += NG_DIGEST_LEAF) {
            size_t n = t->nbytes - off < NG_DIGEST_LEAF ? (size_t)(t->nbytes - off) : NG_DIGEST_LEAF;
            if ((st = read(ctx, t->offset + off, buf, n)) == NG_OK) put(&bytes, buf, n);
        }
        crypto_hash_sha256_final(&bytes, extra + 8);
        record_frame(&h, 'T', t->name, t->dtype, &t->shape, t->nbytes, extra, 40);
    }
    crypto_hash_sha256_final(&h, out);
    free(buf);
    return st;
}

typedef struct fd_ctx { int fd; const char *name; } fd_ctx;

static ng_status fd_read(void *ctx, uint64_t off, void *buf, size_t n)
{
    const fd_ctx *c = ctx;
    return ng_pread_all(c->fd, c->name, buf, n, off);
}

ng_status ng_st_header_graph_digest(const ng_st_header *h, int fd, const char *name, uint8_t out[32])
{
    fd_ctx c = {fd, name};
    return ng_st_graph_digest_with(h, fd_read, &c, name, out);
}

ng_status ng_weights_graph_digest(const ng_weights *w, uint8_t out[32])
{
    if (w->fmt == NG_FMT_SAFETENSORS) return ng_st_weights_graph_digest(w, out);
    if (w->fmt != NG_FMT_ONNX || !ng_onnx_weights_proto(w))
        return ng_fail(NG_E_INTERNAL, "%s: no graph digest for this format", w->path);
    return onnx_graph_digest(w, out);
}
