/* protect/deeplock_stream.c - Deep-Lock of safetensors files of any size with bounded memory.
 *
 * The data section is cut into chunks (one tensor each, at most chunk_bytes). A batch of
 * chunks, one per worker, is read with pread, (un)locked, and written with pwrite into the
 * atomic writer's temp file at the tensor's offset in the new file; then two workers update
 * the SHA-256 model ids of the input and the output (the same framing as ng_params_id).
 * Memory: 2 x chunk_bytes per worker. The output header is serialized once with placeholder
 * ids of the final length, data follows it, and the real header is written over it at the
 * end; the bytes equal ng_deeplock_lock_file / unlock_file on the same input and key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "nnguard/safetensors.h"
#include "core/core.h"
#include "core/pool.h"
#include "protect/deeplock_impl.h"

typedef struct chunk {
    const ng_st_tensor *t;
    uint64_t toff;          /* offset in the tensor */
    size_t   n;
    int      param;         /* float tensor: part of the model id */
    int      locked;        /* (un)locked, else copied */
    uint64_t stream_off;
    ng_expand_cursor cur;
    uint8_t *in, *out;
    ng_status st;
    char     msg[256];
} chunk;

typedef struct sctx {
    int       fd;
    const char *in_name;
    ng_awriter *aw;
    uint64_t  out_data_start;
    const ng_key *key;
    ng_keystream ks;
    int       unlock;
    chunk    *c;
    crypto_hash_sha256_state h_in, h_out;
} sctx;

static void hash_u32(crypto_hash_sha256_state *s, uint32_t v) { uint8_t b[4]; ng_put_le32(b, v); crypto_hash_sha256_update(s, b, 4); }
static void hash_u64(crypto_hash_sha256_state *s, uint64_t v) { uint8_t b[8]; ng_put_le64(b, v); crypto_hash_sha256_update(s, b, 8); }

/* ng_params_id framing of one parameter, before its bytes. */
static void hash_frame(crypto_hash_sha256_state *s, const ng_st_tensor *t)
{
    const char *dt = ng_dtype_name(t->dtype);
    hash_u32(s, (uint32_t)strlen(t->name));
    crypto_hash_sha256_update(s, (const uint8_t *)t->name, strlen(t->name));
    hash_u32(s, (uint32_t)strlen(dt));
    crypto_hash_sha256_update(s, (const uint8_t *)dt, strlen(dt));
    hash_u32(s, (uint32_t)t->shape.ndim);
    for (int d = 0; d < t->shape.ndim; d++) hash_u64(s, (uint64_t)t->shape.d[d]);
    hash_u64(s, t->nbytes);
}

static void chunk_fail(chunk *c, ng_status st)
{
    c->st = st;
    snprintf(c->msg, sizeof c->msg, "%s", ng_last_error());
}

static void work_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    sctx *x = arg;
    for (int64_t i = i0; i < i1; i++) {
        chunk *c = &x->c[i];
        c->st = NG_OK;
        size_t got = 0;
        while (got < c->n) {
            ssize_t r = pread(x->fd, c->in + got, c->n - got, (off_t)(c->t->offset + c->toff + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                chunk_fail(c, ng_fail(NG_E_IO, "%s: read failed in tensor %s: %s", x->in_name, c->t->name,
                                      r < 0 ? strerror(errno) : "file shrank"));
                break;
            }
            got += (size_t)r;
        }
        if (c->st != NG_OK) continue;
        const uint8_t *src = c->in;
        if (c->locked) {
            ng_dl_piece p = {c->t->name, c->toff, c->stream_off, c->in, c->out, c->n, c->cur};
            ng_dl_piece_run(&p, x->key, x->ks, x->unlock);
            src = c->out;
        }
        ng_status st = c->n ? ng_awrite_pwrite(x->aw, src, c->n, x->out_data_start + c->t->begin + c->toff) : NG_OK;
        if (st != NG_OK) chunk_fail(c, st);
    }
}

typedef struct hjob { sctx *x; int nc; } hjob;

static void hash_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    hjob *j = arg;
    for (int64_t which = i0; which < i1; which++) {
        crypto_hash_sha256_state *s = which == 0 ? &j->x->h_in : &j->x->h_out;
        for (int i = 0; i < j->nc; i++) {
            chunk *c = &j->x->c[i];
            if (!c->param) continue;
            if (c->toff == 0) hash_frame(s, c->t);
            const uint8_t *bytes = which == 1 && c->locked ? c->out : c->in;
            if (c->n) crypto_hash_sha256_update(s, bytes, c->n);
        }
    }
}

static const char *hget(const void *h, const char *k) { return ng_st_header_meta_get(h, k); }
static ng_status hset(void *h, const char *k, const char *v) { return ng_st_header_meta_set(h, k, v); }

/* Copy the data section through the workers, transforming the selected tensors. */
static ng_status run_stream(sctx *x, const ng_st_header *h, const char *only, const ng_deeplock_options *o)
{
    size_t csize = o->chunk_bytes ? o->chunk_bytes : NG_DL_CHUNK;
    ng_pool *pool = ng_pool_new(o->threads);
    if (!pool) return NG_E_NOMEM;
    int nw = ng_pool_size(pool);
    x->c = ng_calloc((size_t)nw, sizeof *x->c);
    uint8_t *mem = x->c ? ng_alloc_aligned(2 * (size_t)nw * csize) : NULL;
    if (!mem) { free(x->c); ng_pool_free(pool); return NG_E_NOMEM; }
    for (int i = 0; i < nw; i++) { x->c[i].in = mem + 2 * (size_t)i * csize; x->c[i].out = x->c[i].in + csize; }
    ng_expand_cursor cur;
    if (x->ks == NG_KS_EXPAND) ng_expand_init(&cur, x->key->k);
    crypto_hash_sha256_init(&x->h_in);
    crypto_hash_sha256_init(&x->h_out);
    uint64_t stream = 0;
    ng_status st = NG_OK;
    size_t ti = 0, nt = ng_st_header_count(h);
    uint64_t toff = 0;
    while (st == NG_OK && ti < nt) {
        int nc = 0;
        while (nc < nw && ti < nt) {   /* fill a batch */
            const ng_st_tensor *t = ng_st_header_tensor(h, ti);
            chunk *c = &x->c[nc++];
            c->t = t;
            c->toff = toff;
            c->n = t->nbytes - toff < csize ? (size_t)(t->nbytes - toff) : csize;
            c->param = ng_dtype_is_float(t->dtype);
            c->locked = c->param && ng_dl_selected(only, t->name);
            c->stream_off = stream + toff;
            if (c->locked && x->ks == NG_KS_EXPAND) {
                ng_expand_advance(&cur, 1 + c->stream_off / 16);
                c->cur = cur;
            }
            toff += c->n;
            if (toff >= t->nbytes) { if (c->locked) stream += t->nbytes; ti++; toff = 0; }
        }
        ng_pool_for(pool, nc, work_body, x);
        for (int i = 0; i < nc && st == NG_OK; i++)
            if (x->c[i].st != NG_OK) st = ng_fail(x->c[i].st, "%s", x->c[i].msg);
        if (st != NG_OK) break;
        hjob j = {x, nc};
        ng_pool_for(pool, 2, hash_body, &j);
    }
    sodium_memzero(&cur, sizeof cur);
    sodium_memzero(mem, 2 * (size_t)nw * csize);
    ng_free_aligned(mem);
    free(x->c);
    x->c = NULL;
    ng_pool_free(pool);
    return st;
}

static ng_status write_header(ng_awriter *aw, const ng_st_header *h, size_t want_len)
{
    uint8_t *hdr;
    size_t hlen;
    ng_status st = ng_st_header_serialize(h, &hdr, &hlen);
    if (st != NG_OK) return st;
    if (want_len && hlen != want_len) st = ng_fail(NG_E_INTERNAL, "header length changed from %zu to %zu", want_len, hlen);
    else st = ng_awrite_pwrite(aw, hdr, hlen, 0);
    free(hdr);
    return st;
}

static size_t header_len(const ng_st_header *h)
{
    uint8_t *hdr;
    size_t hlen;
    if (ng_st_header_serialize(h, &hdr, &hlen) != NG_OK) return 0;
    free(hdr);
    return hlen;
}

static ng_status open_in(const char *in, int *fd, ng_st_header **h)
{
    *fd = open(in, O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", in, strerror(errno));
    ng_status st = ng_st_header_read_fd(*fd, in, h);
    if (st != NG_OK) { close(*fd); *fd = -1; }
    return st;
}

ng_status ng_deeplock_lock_stream(const char *in, const char *out, const ng_deeplock_secret *s, const ng_deeplock_options *o)
{
    ng_deeplock_options def = ng_deeplock_options_default();
    if (!o) o = &def;
    const char *only = o->only && *o->only ? o->only : "*";
    ng_status st = ng_dl_check_secret(s);
    if (st != NG_OK) return st;
    int fd;
    ng_st_header *h;
    if ((st = open_in(in, &fd, &h)) != NG_OK) return st;
    size_t nsel = 0;
    for (size_t i = 0; i < ng_st_header_count(h); i++) {
        const ng_st_tensor *t = ng_st_header_tensor(h, i);
        nsel += ng_dtype_is_float(t->dtype) && ng_dl_selected(only, t->name);
    }
    ng_kdf_params kdf;
    int has_kdf;
    ng_key key = {{0}, 0};
    uint8_t zero[32] = {0}, before[32], after[32];
    ng_dl_lock_kdf(s, o, &kdf, &has_kdf);
    if ((st = ng_dl_check_plain(h, hget, in)) != NG_OK) goto done;
    if (nsel == 0) { st = ng_fail(NG_E_INVALID, "%s: --only '%s' matches no parameter tensor", in, only); goto done; }
    if ((st = ng_dl_resolve_key(s, o->keystream, has_kdf ? &kdf : NULL, &key)) != NG_OK) { ng_fail_ctx(st, in); goto done; }
    /* placeholder metadata of the final length, to place the data section */
    if ((st = ng_dl_write_meta(h, hset, o->keystream, only, &key, zero, zero, has_kdf ? &kdf : NULL)) != NG_OK) goto done;
    size_t hlen = header_len(h);
    ng_awriter aw;
    if (!hlen) { st = NG_E_NOMEM; goto done; }
    if ((st = ng_awrite_open(&aw, out, 0644)) != NG_OK) goto done;
    sctx x = {.fd = fd, .in_name = in, .aw = &aw, .out_data_start = hlen, .key = &key, .ks = o->keystream, .unlock = 0};
    st = run_stream(&x, h, only, o);
    if (st == NG_OK) {
        crypto_hash_sha256_final(&x.h_in, before);
        crypto_hash_sha256_final(&x.h_out, after);
        st = ng_dl_write_meta(h, hset, o->keystream, only, &key, before, after, has_kdf ? &kdf : NULL);
    }
    if (st == NG_OK) st = write_header(&aw, h, hlen);
    if (st == NG_OK) st = ng_awrite_commit(&aw);
    else ng_awrite_abort(&aw);
done:
    ng_key_wipe(&key);
    ng_st_header_free(h);
    close(fd);
    return st;
}

ng_status ng_deeplock_unlock_stream(const char *in, const char *out, const ng_deeplock_secret *s, const ng_deeplock_options *o)
{
    ng_deeplock_options def = ng_deeplock_options_default();
    if (!o) o = &def;
    ng_status st = ng_dl_check_secret(s);
    if (st != NG_OK) return st;
    int fd;
    ng_st_header *h;
    if ((st = open_in(in, &fd, &h)) != NG_OK) return st;
    ng_dl_state ds;
    ng_key key = {{0}, 0};
    uint8_t id_in[32], id_out[32];
    if ((st = ng_dl_read_state(h, hget, in, &ds)) != NG_OK) goto done;
    if ((st = ng_dl_resolve_key(s, ds.ks, ds.has_kdf ? &ds.kdf : NULL, &key)) != NG_OK) { ng_fail_ctx(st, in); goto done; }
    if (!o->no_check) {
        uint8_t kcv[32];
        ng_dl_kcv(&key, ds.id_before, kcv);
        if (sodium_memcmp(kcv, ds.kcv, 32) != 0) {
            st = ng_fail(NG_E_KEY, "%s: the key does not match this model (key check value differs); nothing was written", in);
            goto done;
        }
    }
    if ((st = ng_dl_clear_meta(h, hset)) != NG_OK) goto done;
    size_t hlen = header_len(h);
    ng_awriter aw;
    if (!hlen) { st = NG_E_NOMEM; goto done; }
    if ((st = ng_awrite_open(&aw, out, 0644)) != NG_OK) goto done;
    sctx x = {.fd = fd, .in_name = in, .aw = &aw, .out_data_start = hlen, .key = &key, .ks = ds.ks, .unlock = 1};
    st = run_stream(&x, h, ds.only, o);
    if (st == NG_OK) {
        crypto_hash_sha256_final(&x.h_in, id_in);
        crypto_hash_sha256_final(&x.h_out, id_out);
        if (sodium_memcmp(id_in, ds.id_after, 32) != 0)
            st = ng_fail(NG_E_FORMAT, "%s: locked data was modified or truncated (its model id is not nnguard.model_id_after)", in);
        else if (!o->no_check && sodium_memcmp(id_out, ds.id_before, 32) != 0)
            st = ng_fail(NG_E_FORMAT, "%s: unlocked model id differs from nnguard.model_id_before (the file's metadata was altered)", in);
    }
    if (st == NG_OK) st = write_header(&aw, h, hlen);
    if (st == NG_OK) st = ng_awrite_commit(&aw);
    else ng_awrite_abort(&aw);
done:
    ng_key_wipe(&key);
    ng_st_header_free(h);
    close(fd);
    return st;
}
