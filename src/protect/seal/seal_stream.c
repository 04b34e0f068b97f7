/* protect/seal/seal_stream.c - sealing and unsealing safetensors files of any size with bounded
 * memory (format: nnguard/seal.h; the output is byte for byte what the in-memory functions write).
 *
 * The header is read and checked first (unseal: kcv, fields, tag count); the output header is
 * serialised (seal: with placeholder tags of the final length) and written; then the data section
 * streams in batches of whole 1 MiB chunks (at most NG_SEAL_BATCH bytes), one worker per core,
 * taking batches in turn. Within a batch each chunk is pread into the worker's 1 MiB buffer,
 * sealed / opened there in place and pwritten at once at the same place
 * in the output (the atomic writer's temporary file); non-float tensors are copied as they are;
 * writeback is started per batch. Reads, AEAD and writes of the two workers overlap. An opened chunk
 * is written only once its tag has passed. At the end seal writes the header again with the real
 * tags (same length); unseal checks graph_mac. The output gets its name only when everything passed
 * (a failure reports the first failing batch in file order). Memory: 1 MiB per core, and one AEAD
 * context per worker for all its chunks (AES-256-GCM: a tensor's key is expanded once, seal_gcm.h).
 *
 * Not mapped: on this project's reference VM (paravirtualised MMU) reading a tmpfs file through a
 * populated mapping ran at 2.0 GB/s against 12.3 GB/s for pread into a 1 MiB buffer, and writing
 * through a shared mapping at 0.5 GB/s against 5.5 GB/s for pwrite (docs/results/seal-bench.txt). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "nnguard/safetensors.h"
#include "core/core.h"
#include "core/pool.h"
#include "protect/seal/seal_impl.h"

#define NG_SEAL_BATCH ((size_t)16 << 20)

typedef struct piece { const ng_st_tensor *t; long param; uint64_t off, n, index; int final; } piece;

typedef struct sstate {
    int fd;
    const char *in;
    ng_st_header *h;
    ng_seal_meta m;
    size_t np;                     /* parameters */
    ng_param *p;                   /* their framing (no data) */
    uint8_t (*key)[32], (*ad)[32];
    uint8_t (*tags)[NG_SEAL_TAG];
    uint64_t ntags;
} sstate;

/* The parameters (float tensors in data order) and every piece of the data section. */
static ng_status layout(sstate *x, piece **out, size_t *npc)
{
    size_t nt = ng_st_header_count(x->h), n = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < nt; i++) {
        const ng_st_tensor *t = ng_st_header_tensor(x->h, i);
        x->np += ng_dtype_is_float(t->dtype) != 0;
        n += ng_seal_nchunks(t->nbytes);
    }
    x->p = ng_calloc(x->np + 1, sizeof *x->p);
    *out = ng_calloc(n + 1, sizeof **out);
    if (!x->p || !*out) return NG_E_NOMEM;
    size_t k = 0, j = 0;
    for (size_t i = 0; i < nt; i++) {
        const ng_st_tensor *t = ng_st_header_tensor(x->h, i);
        long param = -1;
        if (ng_dtype_is_float(t->dtype)) {
            param = (long)j;
            x->p[j++] = (ng_param){.name = t->name, .dtype = t->dtype, .shape = t->shape, .nbytes = t->nbytes};
        }
        uint64_t nc = ng_seal_nchunks(t->nbytes);
        for (uint64_t c = 0; c < nc; c++)
            (*out)[k++] = (piece){t, param, c * NG_SEAL_CHUNK, c + 1 < nc ? NG_SEAL_CHUNK : t->nbytes - c * NG_SEAL_CHUNK,
                                  c, c + 1 == nc};
        if (param >= 0) total += nc;
    }
    *npc = k;
    x->ntags = total;
    return NG_OK;
}

static void keys_ads(sstate *x, const ng_seal_keys *k, const uint8_t id[32])
{
    uint64_t off = 0;
    for (size_t i = 0; i < x->np; i++) {
        ng_seal_tensor_key(k, i, x->key[i]);
        ng_seal_tensor_ad(id, i, x->np, &x->p[i], off, x->ad[i]);
        off += x->p[i].nbytes;
    }
}

/* One batch: pieces [i, j) covering data bytes [b0, b1), its first tag. */
typedef struct batch { size_t i, j; uint64_t b0, b1, tag; } batch;

typedef struct sctx {
    sstate *x;
    const piece *pc;
    const batch *b;
    size_t nb;
    ng_aead aead;
    ng_seal_backend backend;
    int open;
    ng_awriter *aw;
    uint64_t out_data;
    atomic_size_t next;
    atomic_int stop;
    pthread_mutex_t mu;
    size_t bad_batch;           /* lowest batch that failed (nb: none) */
    ng_status st;
    char msg[1024];
} sctx;

/* A worker: take batches in turn; each piece (at most one 1 MiB chunk) pread into the worker's
 * 1 MiB buffer, sealed / opened there in place and pwritten from there at once (the bytes are still
 * in cache for the write copy). A chunk that fails authentication is never written. Same CPU cost as
 * whole 16 MiB batches (buffers of 64 KiB to 4 MiB measured within 15% of each other), 1/16 of the
 * memory. */
static void stream_worker(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)i0; (void)i1; (void)worker;
    sctx *c = arg;
    sstate *x = c->x;
    uint8_t *buf = ng_alloc_aligned(NG_SEAL_CHUNK);
    uint64_t in_data = ng_st_header_data_start(x->h);
    ng_seal_aead a;   /* one AEAD context (expanded key) per worker, for all its chunks */
    ng_status ast = ng_seal_aead_init(&a, c->aead, c->backend);
    for (size_t k; (k = atomic_fetch_add(&c->next, 1)) < c->nb && !atomic_load(&c->stop);) {
        const batch *b = &c->b[k];
        uint64_t tag = b->tag;
        ng_status st = !buf ? NG_E_NOMEM : ast;
        for (size_t q = b->i; q < b->j && st == NG_OK; q++) {
            const piece *pc = &c->pc[q];
            uint64_t at = pc->t->begin + pc->off;
            st = ng_pread_all(x->fd, x->in, buf, (size_t)pc->n, in_data + at);
            if (st == NG_OK && pc->param >= 0) {
                ng_seal_chunk ch = {(uint32_t)pc->param, pc->index, buf, (size_t)pc->n, pc->final, x->tags[tag++]};
                int ok = ng_seal_aead_chunk(&a, &ch, x->key[ch.param], x->ad[ch.param], c->open);
                if (ok == 0) st = ng_seal_auth_error(x->in, x->p[ch.param].name, ch.param, ch.index);
                if (ok < 0) st = ng_fail(NG_E_NOMEM, "%s: AES-256-GCM failed (OpenSSL out of memory)", x->in);
            }
            if (st == NG_OK) st = ng_awrite_pwrite(c->aw, buf, (size_t)pc->n, c->out_data + at);
        }
        if (st == NG_OK) ng_awrite_start_writeback(c->aw, c->out_data + b->b0, b->b1 - b->b0);
        if (st != NG_OK) {   /* keep the first failure in file order: the message a serial run gives */
            pthread_mutex_lock(&c->mu);
            if (k < c->bad_batch) {
                c->bad_batch = k;
                c->st = st;
                snprintf(c->msg, sizeof c->msg, "%s", ng_last_error());
            }
            pthread_mutex_unlock(&c->mu);
            if (st != NG_E_AUTH) atomic_store(&c->stop, 1);
        }
    }
    ng_seal_aead_wipe(&a);
    if (buf) { sodium_memzero(buf, NG_SEAL_CHUNK); ng_free_aligned(buf); }
}

/* Stream the data section in batches of whole chunks, one batch per worker at a time: while
 * one worker's batch is read or written the other's is encrypted, so I/O and AEAD overlap. */
static ng_status stream(sstate *x, const piece *pc, size_t npc, ng_aead aead, ng_seal_backend backend, int open,
                        ng_awriter *aw, uint64_t out_data, int threads)
{
    batch *b = ng_calloc(npc + 1, sizeof *b);
    ng_pool *pool = ng_pool_new(threads);
    size_t nb = 0;
    uint64_t tag = 0;
    if (!b || !pool) { free(b); ng_pool_free(pool); return ng_fail(NG_E_NOMEM, "%s: out of memory", x->in); }
    for (size_t i = 0; i < npc;) {
        uint64_t b0 = pc[i].t->begin + pc[i].off, b1 = b0 + pc[i].n;
        size_t j = i, t0 = tag;
        while (j < npc && pc[j].t->begin + pc[j].off + pc[j].n - b0 <= NG_SEAL_BATCH) {
            b1 = pc[j].t->begin + pc[j].off + pc[j].n;
            tag += pc[j].param >= 0;
            j++;
        }
        if (j == i) { tag += pc[i].param >= 0; j = i + 1; }   /* cannot happen: pieces are at most one chunk */
        b[nb++] = (batch){i, j, b0, b1, t0};
        i = j;
    }
    sctx c = {.x = x, .pc = pc, .b = b, .nb = nb, .aead = aead, .backend = backend, .open = open, .aw = aw,
              .out_data = out_data, .bad_batch = nb, .st = NG_OK};
    atomic_init(&c.next, 0);
    atomic_init(&c.stop, 0);
    pthread_mutex_init(&c.mu, NULL);
    int nw = ng_pool_size(pool);
    if (nb) ng_pool_for(pool, nw < (int)nb ? nw : (int64_t)nb, stream_worker, &c);
    pthread_mutex_destroy(&c.mu);
    ng_pool_free(pool);
    free(b);
    if (c.st != NG_OK) return ng_fail(c.st, "%s", c.msg);
    return NG_OK;
}

static ng_status write_header(ng_awriter *aw, const ng_st_header *h, size_t want, size_t *len)
{
    uint8_t *hdr;
    ng_status st = ng_st_header_serialize(h, &hdr, len);
    if (st != NG_OK) return st;
    if (want && *len != want) st = ng_fail(NG_E_INTERNAL, "sealed header changed length (%zu, then %zu)", want, *len);
    if (st == NG_OK) st = ng_awrite_pwrite(aw, hdr, *len, 0);
    free(hdr);
    return st;
}

static ng_status run(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o, int unseal)
{
    ng_seal_options def = ng_seal_options_default();
    if (!o) o = &def;
    sstate x = {.in = in};
    piece *pc = NULL;
    size_t npc = 0, hlen = 0;
    ng_seal_state ss;
    ng_seal_keys k;
    ng_key key;
    ng_kdf_params kdf;
    uint8_t salt[32], id[32], graph[32], gm[32];
    int has_kdf = 0, have_keys = 0;
    ng_aead aead = NG_AEAD_AUTO;
    ng_seal_backend backend = NG_SEAL_BACKEND_OPENSSL;
    memset(&k, 0, sizeof k);
    x.fd = open(in, O_RDONLY | O_CLOEXEC);
    ng_status st = x.fd < 0 ? ng_fail(NG_E_IO, "%s: cannot open: %s", in, strerror(errno)) : NG_OK;
    if (st == NG_OK) st = ng_st_header_read_fd(x.fd, in, &x.h);
    if (st == NG_OK) {
        x.m = ng_seal_meta_of_header(x.h, in);
        st = layout(&x, &pc, &npc);
    }
    if (st == NG_OK) {
        x.key = sodium_allocarray(x.np + 1, 32);
        x.ad = ng_calloc(x.np + 1, 32);
        if (!x.key || !x.ad) st = NG_E_NOMEM;
    }
    if (st == NG_OK && !unseal) {
        if (x.m.get(x.h, "nnguard.seal.version"))
            st = ng_fail(NG_E_STATE, "%s: the model is already sealed; refusing to seal it twice", in);
        aead = o->aead != NG_AEAD_AUTO ? o->aead : crypto_aead_aes256gcm_is_available() ? NG_AEAD_AES256GCM
                                                                                        : NG_AEAD_XCHACHA20POLY1305;
        if (st == NG_OK) st = ng_seal_backend_of(o, aead, &backend);
        has_kdf = s && s->pass;
        if (has_kdf) { if (o->kdf) kdf = *o->kdf; else ng_kdf_params_new(&kdf); }
        if (st == NG_OK) st = ng_seal_resolve_key(s, has_kdf ? &kdf : NULL, in, &key);
        if (st == NG_OK) {
            if (o->salt) memcpy(salt, o->salt, 32); else randombytes_buf(salt, 32);
            if (o->id) memcpy(id, o->id, 32); else randombytes_buf(id, 32);
            ng_seal_keys_init(&k, &key, salt);
            ng_key_wipe(&key);
            have_keys = 1;
            x.tags = ng_calloc(x.ntags + 1, NG_SEAL_TAG);
            st = x.tags ? ng_st_header_graph_digest(x.h, x.fd, in, graph) : NG_E_NOMEM;
        }
        if (st == NG_OK) st = ng_seal_write_meta(&x.m, &k, aead, id, salt, graph, (const uint8_t (*)[NG_SEAL_TAG])x.tags,
                                                 x.ntags, has_kdf ? &kdf : NULL);
    } else if (st == NG_OK) {
        st = ng_seal_read_state(&x.m, &ss);
        if (st == NG_OK) st = ng_seal_backend_of(o, ss.aead, &backend);
        if (st == NG_OK) st = ng_seal_resolve_key(s, ss.has_kdf ? &ss.kdf : NULL, in, &key);
        if (st == NG_OK) {
            ng_seal_keys_init(&k, &key, ss.salt);
            ng_key_wipe(&key);
            have_keys = 1;
            aead = ss.aead;
            memcpy(id, ss.id, 32);
            st = ng_seal_check_header(&x.m, &ss, &k, x.ntags, &x.tags);
        }
        if (st == NG_OK) st = ng_st_header_graph_digest(x.h, x.fd, in, graph);
        memcpy(gm, ss.graph_mac, 32);
        if (st == NG_OK) st = ng_seal_clear_meta(&x.m);
    }
    ng_awriter aw;
    int aw_open = 0;
    if (st == NG_OK && (st = ng_awrite_open(&aw, out, unseal ? NG_MODE_PRIVATE : NG_MODE_PUBLIC)) == NG_OK) aw_open = 1;
    if (st == NG_OK) st = write_header(&aw, x.h, 0, &hlen);
    if (st == NG_OK) {
        keys_ads(&x, &k, id);
        st = stream(&x, pc, npc, aead, backend, unseal, &aw, hlen, o->threads);
    }
    if (st == NG_OK && !unseal) {
        size_t len2;
        st = ng_seal_set_tags(&x.m, (const uint8_t (*)[NG_SEAL_TAG])x.tags, x.ntags);
        if (st == NG_OK) st = write_header(&aw, x.h, hlen, &len2);
    }
    if (st == NG_OK && unseal) {
        uint8_t mac[32];
        ng_seal_graph_mac(&k, graph, mac);
        if (sodium_memcmp(mac, gm, 32) != 0)
            st = ng_fail(NG_E_AUTH, "%s: field nnguard.seal.graph_mac does not match: the graph (nodes, attributes, "
                         "inputs/outputs or non-float tensors) was edited after sealing", in);
    }
    if (aw_open) {
        if (st == NG_OK) st = ng_awrite_commit(&aw);
        else ng_awrite_abort(&aw);
    }
    if (have_keys) ng_seal_keys_wipe(&k);
    if (x.key) sodium_free(x.key);
    free(x.ad); free(x.tags); free(x.p); free(pc);
    ng_st_header_free(x.h);
    if (x.fd >= 0) close(x.fd);
    return st;
}

ng_status ng_seal_stream(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o)
{
    return run(in, out, s, o, 0);
}

ng_status ng_unseal_stream(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o)
{
    return run(in, out, s, o, 1);
}
