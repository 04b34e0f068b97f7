/* protect/deeplock_stream.c - Deep-Lock of safetensors files of any size with bounded memory.
 *
 * The data section is cut into pieces of tensors that fill one slot of chunk_bytes per worker
 * (a slot holds several small tensors, or part of a large one). A batch is one slot per
 * worker. Two batches alternate: while the workers read (pread), (un)lock and write (pwrite
 * into the atomic writer's temp file, at the tensor's offset in the new file) batch k, the
 * SHA-256 model ids of the input and the output (ng_id_hash: the ng_params_id digest)
 * run over batch k-1, one id per worker, so all cores stay busy. Memory: 4 x chunk_bytes per
 * worker. The output header is serialized once with placeholder ids of the final length, data
 * follows it, and the real header is written over it at the end; the bytes equal
 * ng_deeplock_lock_file / unlock_file on the same input and key.
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
#include "formats/weights_impl.h"
#include "protect/deeplock/deeplock_impl.h"

#define NG_DL_SLOT_PIECES 256     /* most tensor pieces in one slot (many tiny tensors) */

typedef struct chunk {
    const ng_st_tensor *t;
    uint64_t toff;          /* offset in the tensor */
    size_t   n;
    int      param;         /* float tensor: part of the model id */
    int      locked;        /* (un)locked, else copied */
    uint64_t stream_off;
    ng_expand_cursor cur;
    uint8_t *in, *out;      /* inside the slot's buffers */
} chunk;

/* One worker's share of a batch: pieces c[0..n) packed into in/out (chunk_bytes each). */
typedef struct slot {
    chunk    c[NG_DL_SLOT_PIECES];
    int      n;
    uint8_t *in, *out;
    ng_status st;
    char     msg[256];
} slot;

typedef struct sctx {
    int       fd;
    const char *in_name;
    ng_awriter *aw;
    uint64_t  out_data_start;
    const ng_key *key;
    ng_keystream ks;
    int       unlock;
    int       skip_out_id;  /* unlock --no-check: the output's id is not needed */
    int       nw;
    slot     *cur, *prev;   /* batch being transformed, batch being hashed (nw slots each) */
    ng_id_hash h_in, h_out;
} sctx;

static void slot_fail(slot *s, ng_status st)
{
    s->st = st;
    snprintf(s->msg, sizeof s->msg, "%s", ng_last_error());
}

/* Pieces i..j-1 of a slot that are back to back both in the file and in the buffer. */
static int run_end(const slot *s, int i)
{
    int j = i + 1;
    while (j < s->n && s->c[j].t->offset + s->c[j].toff == s->c[j - 1].t->offset + s->c[j - 1].toff + s->c[j - 1].n)
        j++;
    return j;
}

static void slot_io_xform(sctx *x, slot *s)
{
    s->st = NG_OK;
    for (int i = 0; i < s->n && s->st == NG_OK; ) {   /* read */
        int j = run_end(s, i);
        const chunk *a = &s->c[i], *z = &s->c[j - 1];
        size_t want = (size_t)(z->in + z->n - a->in), got = 0;
        while (got < want) {
            ssize_t r = pread(x->fd, a->in + got, want - got, (off_t)(a->t->offset + a->toff + got));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                slot_fail(s, ng_fail(NG_E_IO, "%s: read failed in tensor %s: %s", x->in_name, a->t->name,
                                     r < 0 ? strerror(errno) : "file shrank"));
                break;
            }
            got += (size_t)r;
        }
        i = j;
    }
    for (int i = 0; i < s->n && s->st == NG_OK; i++) {   /* transform (unselected pieces are copied) */
        chunk *c = &s->c[i];
        ng_dl_piece p = {c->t->name, c->toff, c->stream_off, c->in, c->out, c->n, c->cur};
        ng_status st = c->locked ? ng_dl_piece_run(&p, x->key, x->ks, x->unlock) : NG_OK;
        if (!c->locked) memcpy(c->out, c->in, c->n);
        sodium_memzero(&p.cur, sizeof p.cur);
        sodium_memzero(&c->cur, sizeof c->cur);
        if (st != NG_OK) slot_fail(s, st);
    }
    for (int i = 0; i < s->n && s->st == NG_OK; ) {   /* write, same runs (the output keeps the layout) */
        int j = run_end(s, i);
        const chunk *a = &s->c[i], *z = &s->c[j - 1];
        size_t len = (size_t)(z->out + z->n - a->out);
        ng_status st = len ? ng_awrite_pwrite(x->aw, a->out, len, x->out_data_start + a->t->begin + a->toff) : NG_OK;
        if (st != NG_OK) slot_fail(s, st);
        i = j;
    }
}

/* Add one batch's bytes to an id, in order. */
static void hash_batch(sctx *x, int which)
{
    ng_id_hash *h = which == 0 ? &x->h_in : &x->h_out;
    if (which == 1 && x->skip_out_id) return;
    for (int w = 0; w < x->nw; w++)
        for (int i = 0; i < x->prev[w].n; i++) {
            const chunk *c = &x->prev[w].c[i];
            if (!c->param) continue;
            if (c->toff == 0) ng_id_hash_param(h, c->t->name, c->t->dtype, &c->t->shape, c->t->nbytes);
            if (c->n) ng_id_hash_bytes(h, which == 1 ? c->out : c->in, c->n);
        }
}

/* Task 2w: worker w transforms its slot of the current batch; task 2w+1: it hashes the previous
 * batch into the input id (w = 0) or the output id (w = 1); one worker does both. */
static void step_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    sctx *x = arg;
    for (int64_t i = i0; i < i1; i++) {
        int w = (int)(i / 2);
        if (i % 2 == 0) slot_io_xform(x, &x->cur[w]);
        else for (int which = w; which < 2; which += x->nw) hash_batch(x, which);
    }
}

static const char *hget(const void *h, const char *k) { return ng_st_header_meta_get(h, k); }
static ng_status hset(void *h, const char *k, const char *v) { return ng_st_header_meta_set(h, k, v); }

typedef struct cursor { size_t ti; uint64_t toff, stream; ng_expand_cursor ex; } cursor;

/* Pack the next pieces of the data section into the current batch; 0 when nothing is left. */
static int fill_batch(sctx *x, const ng_st_header *h, const char *only, size_t csize, cursor *cu)
{
    int any = 0;
    size_t nt = ng_st_header_count(h);
    for (int w = 0; w < x->nw; w++) {
        slot *s = &x->cur[w];
        size_t used = 0;
        s->n = 0;
        while (cu->ti < nt && used < csize && s->n < NG_DL_SLOT_PIECES) {
            const ng_st_tensor *t = ng_st_header_tensor(h, cu->ti);
            chunk *c = &s->c[s->n++];
            c->t = t;
            c->toff = cu->toff;
            c->n = t->nbytes - cu->toff < csize - used ? (size_t)(t->nbytes - cu->toff) : csize - used;
            c->param = ng_dtype_is_float(t->dtype);
            c->locked = c->param && ng_dl_selected(only, t->name);
            c->stream_off = cu->stream + cu->toff;
            c->in = s->in + used;
            c->out = s->out + used;
            if (c->locked && x->ks == NG_KS_EXPAND) {   /* checkpoint for this piece */
                ng_expand_advance(&cu->ex, 1 + c->stream_off / 16);
                c->cur = cu->ex;
            }
            used += c->n;
            cu->toff += c->n;
            if (cu->toff >= t->nbytes) { if (c->locked) cu->stream += t->nbytes; cu->ti++; cu->toff = 0; }
        }
        any |= s->n > 0;
    }
    return any;
}

/* Copy the data section through the workers, transforming the selected tensors; the ids of the
 * input and the output go to id_in / id_out. */
static ng_status run_stream(sctx *x, const ng_st_header *h, const char *only, const ng_deeplock_options *o,
                            uint8_t id_in[32], uint8_t id_out[32])
{
    size_t csize = o->chunk_bytes ? o->chunk_bytes : NG_DL_CHUNK;
    if (csize > ((size_t)1 << 30))
        return ng_fail(NG_E_INVALID, "%s: stream chunk of %zu bytes is too large (at most 1 GiB)", x->in_name, csize);
    ng_pool *pool = ng_pool_new(o->threads);
    if (!pool) return ng_fail(NG_E_NOMEM, "%s: cannot start the stream workers", x->in_name);
    int nw = x->nw = ng_pool_size(pool);
    slot *slots = ng_calloc(2 * (size_t)nw, sizeof *slots);
    size_t memlen = 4 * (size_t)nw * csize;
    uint8_t *mem = slots ? ng_alloc_aligned(memlen) : NULL;
    if (!mem) {
        free(slots);
        ng_pool_free(pool);
        return ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu MiB of stream buffers (lower the chunk size)", x->in_name, memlen >> 20);
    }
    for (int i = 0; i < 2 * nw; i++) { slots[i].in = mem + 2 * (size_t)i * csize; slots[i].out = slots[i].in + csize; }
    x->cur = slots;
    x->prev = slots + nw;
    cursor cu = {0};
    if (x->ks == NG_KS_EXPAND) ng_expand_init(&cu.ex, x->key->k);
    ng_id_hash_init(&x->h_in);
    ng_id_hash_init(&x->h_out);
    ng_status st = NG_OK;
    for (;;) {
        int more = fill_batch(x, h, only, csize, &cu);
        int pending = 0;
        for (int w = 0; w < nw; w++) pending |= x->prev[w].n > 0;
        if (!more && !pending) break;
        ng_pool_for(pool, 2 * (int64_t)nw, step_body, x);
        for (int w = 0; w < nw && st == NG_OK; w++)
            if (x->cur[w].st != NG_OK) st = ng_fail(x->cur[w].st, "%s", x->cur[w].msg);
        if (st != NG_OK) break;
        slot *t = x->prev; x->prev = x->cur; x->cur = t;
        for (int w = 0; w < nw; w++) x->cur[w].n = 0;
    }
    int ok_in = ng_id_hash_final(&x->h_in, id_in), ok_out = ng_id_hash_final(&x->h_out, id_out);
    if (st == NG_OK && !(ok_in && ok_out))
        st = ng_fail(NG_E_NOMEM, "%s: OpenSSL SHA-256 of the model id failed (out of memory)", x->in_name);
    sodium_memzero(&cu, sizeof cu);
    sodium_memzero(mem, memlen);
    sodium_memzero(slots, 2 * (size_t)nw * sizeof *slots);
    ng_free_aligned(mem);
    free(slots);
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
    if ((st = ng_awrite_open(&aw, out, NG_MODE_PUBLIC)) != NG_OK) goto done;
    sctx x = {.fd = fd, .in_name = in, .aw = &aw, .out_data_start = hlen, .key = &key, .ks = o->keystream, .unlock = 0};
    st = run_stream(&x, h, only, o, before, after);
    if (st == NG_OK) {
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
    if ((st = ng_awrite_open(&aw, out, NG_MODE_PRIVATE)) != NG_OK) goto done;
    sctx x = {.fd = fd, .in_name = in, .aw = &aw, .out_data_start = hlen, .key = &key, .ks = ds.ks, .unlock = 1,
              .skip_out_id = o->no_check};
    st = run_stream(&x, h, ds.only, o, id_in, id_out);
    if (st == NG_OK) {
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
