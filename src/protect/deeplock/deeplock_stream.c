/* protect/deeplock_stream.c - Deep-Lock of safetensors files of any size with bounded memory.
 *
 * The data section is cut into pieces: every tensor into the leaves of the params_mac tree (1 MiB,
 * the last shorter), and consecutive pieces are grouped into work items of about chunk_bytes, each
 * one contiguous range of the file. A pipeline over 2 x workers + 1 buffers: every worker (one
 * per core) takes a free buffer and the next item (an atomic counter, so items go out in file
 * order), reads it with one pread, and per piece MACs the plaintext leaf (GMAC) and (un)locks it
 * in place in one pass over 32 KiB blocks while they are in cache (ng_dl_piece_run), then hands
 * the buffer to the writer thread, which writes it with one pwrite at its place in the output
 * (the atomic writer's temporary file), starts its writeback to disk, and frees the buffer. One
 * writer: the threads never wait for each other on the output's inode lock. Reading, the cipher
 * and writing overlap on all cores; each byte of the data section is read once (the
 * non-float tensors twice: once more for the graph digest, before the data streams). The output
 * header is serialized first with a params_mac placeholder of the final length and written over
 * at the end. Memory: (2 x workers + 1) x chunk_bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include "nnguard/safetensors.h"
#include "core/core.h"
#include "core/pool.h"
#include "formats/weights_impl.h"
#include "protect/deeplock/deeplock_impl.h"

typedef struct piece {
    const ng_st_tensor *t;
    uint64_t toff;          /* offset in the tensor */
    uint32_t n;
    uint8_t  is_param, locked;
    uint64_t stream_off;    /* expand */
    uint64_t param, leaf;   /* parameter ordinal, leaf number in it (parameters) */
    uint64_t tag;           /* global leaf index: its tag's slot */
} piece;

typedef struct item { size_t p0, p1; uint64_t begin, len; } item;   /* pieces [p0, p1), data-section bytes */

/* One thread's failure (the message is thread-local: copied here). */
typedef struct worker {
    ng_status st;
    char      msg[256];
} worker;

typedef struct sctx {
    int        fd;
    const char *in_name;
    uint64_t   in_data;            /* data section offset in the input and the output */
    ng_awriter *aw;
    uint64_t   out_data;
    const ng_dl_stream *s;
    int        unlock;
    piece     *pc;
    item      *it;
    size_t     npc, nit, maxlen;   /* maxlen: the largest item (a buffer) */
    const uint8_t *M;              /* MAC key; NULL: no params_mac (unlock --no-check) */
    uint8_t    gk[32];             /* the leaves' GMAC key */
    uint8_t  (*tags)[16];
    worker    *wk;                 /* [0] the writer, [1..] the workers */
    atomic_size_t next;            /* next item to take */
    /* buffers: the free ones, and the filled ones waiting for the writer (item in item_of) */
    uint8_t  **buf;
    size_t    *item_of;
    int       *freeq, *readyq;
    int        nbuf, nfree, nready;
    int        failed;
    pthread_mutex_t mu;
    pthread_cond_t  cv_free, cv_ready;
} sctx;

static void fail_all(sctx *x, worker *w, ng_status st)
{
    w->st = st;
    snprintf(w->msg, sizeof w->msg, "%s", ng_last_error());
    pthread_mutex_lock(&x->mu);
    x->failed = 1;
    pthread_cond_broadcast(&x->cv_free);
    pthread_cond_broadcast(&x->cv_ready);
    pthread_mutex_unlock(&x->mu);
}

/* Read item i into b, then MAC and (un)lock its pieces in place. */
static ng_status fill(sctx *x, size_t i, uint8_t *b, ng_expand_cursor *cur)
{
    const item *it = &x->it[i];
    ng_status st = ng_pread_all(x->fd, x->in_name, b, (size_t)it->len, x->in_data + it->begin);
    for (size_t k = it->p0; k < it->p1 && st == NG_OK; k++) {
        const piece *q = &x->pc[k];
        if (!q->is_param) continue;   /* non-float bytes pass through as they are */
        if (!q->locked && !x->M) continue;
        uint8_t *d = b + (q->t->begin + q->toff - it->begin);
        ng_dl_piece p = {q->t->name, q->toff, q->stream_off, d, d, q->n, q->locked, {{0}, 0, 0},
                         x->gk, q->param, q->leaf, x->M ? x->tags[q->tag] : NULL};
        int ex = q->locked && x->s->ks == NG_KS_EXPAND;
        if (ex) p.cur = *cur;   /* a worker's items come in file order: the cursor only moves forward */
        st = ng_dl_piece_run(&p, x->s, x->unlock);
        if (ex) *cur = p.cur;
        sodium_memzero(&p.cur, sizeof p.cur);
    }
    return st;
}

/* A worker: take a free buffer and the next item, fill it, hand it to the writer. */
static void work(sctx *x, worker *w)
{
    ng_expand_cursor cur;
    if (x->s->ks == NG_KS_EXPAND) ng_expand_init(&cur, x->s->sched);
    for (;;) {
        pthread_mutex_lock(&x->mu);
        while (!x->nfree && !x->failed) pthread_cond_wait(&x->cv_free, &x->mu);
        int b = x->failed ? -1 : x->freeq[--x->nfree];
        pthread_mutex_unlock(&x->mu);
        if (b < 0) break;
        size_t i = atomic_fetch_add(&x->next, 1);
        ng_status st = i < x->nit ? fill(x, i, x->buf[b], &cur) : NG_OK;
        pthread_mutex_lock(&x->mu);
        if (i < x->nit && st == NG_OK) {
            x->item_of[b] = i;
            x->readyq[x->nready++] = b;
            pthread_cond_signal(&x->cv_ready);
        } else {
            x->freeq[x->nfree++] = b;
            pthread_cond_signal(&x->cv_free);
        }
        pthread_mutex_unlock(&x->mu);
        if (st != NG_OK) { fail_all(x, w, st); break; }
        if (i >= x->nit) break;
    }
    sodium_memzero(&cur, sizeof cur);
}

/* The writer: one thread writes every filled buffer at its place (no two threads contend for the
 * output's inode lock), starts its writeback, and frees the buffer. */
static void write_all(sctx *x, worker *w)
{
    for (size_t done = 0; done < x->nit; done++) {
        pthread_mutex_lock(&x->mu);
        while (!x->nready && !x->failed) pthread_cond_wait(&x->cv_ready, &x->mu);
        int b = x->failed ? -1 : x->readyq[--x->nready];
        pthread_mutex_unlock(&x->mu);
        if (b < 0) break;
        const item *it = &x->it[x->item_of[b]];
        ng_status st = ng_awrite_pwrite(x->aw, x->buf[b], (size_t)it->len, x->out_data + it->begin);
        if (st != NG_OK) { fail_all(x, w, st); break; }
        ng_awrite_start_writeback(x->aw, x->out_data + it->begin, it->len);
        pthread_mutex_lock(&x->mu);
        x->freeq[x->nfree++] = b;
        pthread_cond_signal(&x->cv_free);
        pthread_mutex_unlock(&x->mu);
    }
}

/* Task 0 writes, tasks 1.. fill. */
static void stream_body(void *arg, int64_t t0, int64_t t1, int unused)
{
    (void)unused;
    sctx *x = arg;
    for (int64_t t = t0; t < t1; t++) {
        if (t == 0) write_all(x, &x->wk[0]);
        else work(x, &x->wk[t]);
    }
}

/* Cut the data section into pieces and items (chunk bytes each, at least one piece). */
static ng_status plan(sctx *x, const ng_st_header *h, const char *only, size_t chunk)
{
    size_t nt = ng_st_header_count(h), npc = 0;
    for (size_t i = 0; i < nt; i++) npc += (size_t)ng_dl_nleaves(ng_st_header_tensor(h, i)->nbytes);
    x->pc = ng_calloc(npc + 1, sizeof *x->pc);
    x->it = ng_calloc(npc + 1, sizeof *x->it);
    if (!x->pc || !x->it) return ng_fail(NG_E_NOMEM, "%s: out of memory for the stream plan", x->in_name);
    uint64_t stream = 0, tag = 0, pi = 0;
    size_t k = 0;
    for (size_t i = 0; i < nt; i++) {
        const ng_st_tensor *t = ng_st_header_tensor(h, i);
        int param = ng_dtype_is_float(t->dtype), locked = param && ng_dl_selected(only, t->name);
        for (uint64_t off = 0; off < t->nbytes; off += NG_DL_PIECE) {
            piece *q = &x->pc[k++];
            q->t = t;
            q->toff = off;
            q->n = (uint32_t)(t->nbytes - off < NG_DL_PIECE ? t->nbytes - off : NG_DL_PIECE);
            q->is_param = (uint8_t)param;
            q->locked = (uint8_t)locked;
            q->stream_off = stream + off;
            q->param = pi;
            q->leaf = off / NG_DL_PIECE;
            q->tag = param ? tag++ : 0;
        }
        pi += param;
        if (locked) stream += t->nbytes;
    }
    x->npc = k;
    size_t n = 0;
    for (size_t p = 0; p < k; ) {
        item *it = &x->it[n++];
        it->p0 = p;
        it->begin = x->pc[p].t->begin + x->pc[p].toff;
        uint64_t len = 0;
        do { len += x->pc[p].n; p++; } while (p < k && len + x->pc[p].n <= chunk);
        it->p1 = p;
        it->len = len;
        if (len > x->maxlen) x->maxlen = (size_t)len;
    }
    x->nit = n;
    return NG_OK;
}

/* Stream the data section through the workers; with x->M, params_mac of the plaintext into mac. */
static ng_status run_stream(sctx *x, const ng_st_header *h, const char *only, const ng_deeplock_options *o,
                            uint8_t mac[32])
{
    size_t chunk = o->chunk_bytes ? o->chunk_bytes : NG_DL_CHUNK;
    if (chunk > ((size_t)1 << 30))
        return ng_fail(NG_E_INVALID, "%s: stream chunk of %zu bytes is too large (at most 1 GiB)", x->in_name, chunk);
    ng_status st = plan(x, h, only, chunk);   /* items of one piece (<= 1 MiB) when chunk is smaller */
    uint64_t nleaves = 0;
    size_t nt = ng_st_header_count(h), np = 0;
    for (size_t i = 0; i < nt; i++)
        if (ng_dtype_is_float(ng_st_header_tensor(h, i)->dtype)) { nleaves += ng_dl_nleaves(ng_st_header_tensor(h, i)->nbytes); np++; }
    if (st == NG_OK && x->M && !(x->tags = ng_calloc(nleaves + 1, 16))) st = NG_E_NOMEM;
    if (x->M) ng_dl_gmac_key(x->M, x->gk);
    int nw = o->threads > 0 ? o->threads : ng_ncpu();   /* workers, plus the writer */
    ng_pool *pool = st == NG_OK ? ng_pool_new(nw + 1) : NULL;
    if (st == NG_OK && (!pool || ng_pool_size(pool) < 2)) st = ng_fail(NG_E_NOMEM, "%s: cannot start the stream threads", x->in_name);
    nw = pool ? ng_pool_size(pool) - 1 : 0;
    uint8_t *mem = NULL;
    size_t blen = (x->maxlen + 63) & ~(size_t)63;
    x->nbuf = 2 * nw + 1;
    if (st == NG_OK && (!(x->wk = ng_calloc((size_t)nw + 1, sizeof *x->wk)) || !(x->buf = ng_calloc((size_t)x->nbuf, sizeof *x->buf)) ||
                        !(x->item_of = ng_calloc((size_t)x->nbuf, sizeof *x->item_of)) ||
                        !(x->freeq = ng_calloc((size_t)x->nbuf, sizeof *x->freeq)) ||
                        !(x->readyq = ng_calloc((size_t)x->nbuf, sizeof *x->readyq)) ||
                        !(mem = ng_alloc_aligned((size_t)x->nbuf * blen + 64))))
        st = ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu MiB of stream buffers (lower the chunk size)", x->in_name,
                     ((size_t)x->nbuf * blen) >> 20);
    if (st == NG_OK) {
        for (int i = 0; i < x->nbuf; i++) { x->buf[i] = mem + (size_t)i * blen; x->freeq[i] = i; }
        x->nfree = x->nbuf;
        x->nready = 0;
        x->failed = 0;
        pthread_mutex_init(&x->mu, NULL);
        pthread_cond_init(&x->cv_free, NULL);
        pthread_cond_init(&x->cv_ready, NULL);
        posix_fadvise(x->fd, (off_t)x->in_data, 0, POSIX_FADV_SEQUENTIAL);
        atomic_store(&x->next, 0);
        ng_pool_for(pool, nw + 1, stream_body, x);
        for (int i = 0; i <= nw && st == NG_OK; i++)
            if (x->wk[i].st != NG_OK) st = ng_fail(x->wk[i].st, "%s", x->wk[i].msg);
        pthread_mutex_destroy(&x->mu);
        pthread_cond_destroy(&x->cv_free);
        pthread_cond_destroy(&x->cv_ready);
    }
    if (st == NG_OK && x->M) {   /* the tree: tensors in data order = parameter order */
        ng_param *pp = ng_calloc(np + 1, sizeof *pp);
        if (!pp) st = NG_E_NOMEM;
        for (size_t i = 0, k = 0; pp && i < nt; i++) {
            const ng_st_tensor *t = ng_st_header_tensor(h, i);
            if (ng_dtype_is_float(t->dtype))
                pp[k++] = (ng_param){.name = t->name, .dtype = t->dtype, .shape = t->shape, .nbytes = (size_t)t->nbytes};
        }
        if (pp) ng_dl_params_mac(x->M, pp, np, (const uint8_t (*)[16])x->tags, mac);
        free(pp);
    }
    if (mem) { sodium_memzero(mem, (size_t)x->nbuf * blen); ng_free_aligned(mem); }
    ng_pool_free(pool);
    sodium_memzero(x->gk, sizeof x->gk);
    free(x->wk); free(x->pc); free(x->it); free(x->tags); free(x->buf); free(x->item_of); free(x->freeq); free(x->readyq);
    x->wk = NULL; x->pc = NULL; x->it = NULL; x->tags = NULL; x->buf = NULL; x->item_of = NULL; x->freeq = x->readyq = NULL;
    return st;
}

static const char *hget(const void *h, const char *k) { return ng_st_header_meta_get(h, k); }
static ng_status hset(void *h, const char *k, const char *v) { return ng_st_header_meta_set(h, k, v); }

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
    ng_dl_stream ds;
    memset(&ds, 0, sizeof ds);
    uint8_t salt[32], graph[32], M[32] = {0}, mac[32];
    ng_dl_lock_kdf(s, o, &kdf, &has_kdf);
    if ((st = ng_dl_check_plain(h, hget, in)) != NG_OK) goto done;
    if (nsel == 0) { st = ng_fail(NG_E_INVALID, "%s: --only '%s' matches no parameter tensor", in, only); goto done; }
    if (o->paper_exact && o->keystream != NG_KS_EXPAND) {
        st = ng_fail(NG_E_INVALID, "%s: --paper-exact applies to --keystream expand only", in);
        goto done;
    }
    if ((st = ng_dl_resolve_key(s, o->keystream, has_kdf ? &kdf : NULL, &key)) != NG_OK) { ng_fail_ctx(st, in); goto done; }
    if (o->paper_exact) ng_dl_warn_paper(o, in);
    ng_dl_new_salt(o, salt);
    if ((st = ng_st_header_graph_digest(h, fd, in, graph)) != NG_OK) goto done;
    /* placeholder params_mac of the final length, to place the data section */
    if ((st = ng_dl_write_meta(h, hset, o, only, &key, salt, graph, NULL, has_kdf ? &kdf : NULL)) != NG_OK) goto done;
    size_t hlen = header_len(h);
    ng_awriter aw;
    if (!hlen) { st = NG_E_NOMEM; goto done; }
    if ((st = ng_awrite_open(&aw, out, NG_MODE_PUBLIC)) != NG_OK) goto done;
    ng_dl_stream_init(&ds, &key, salt, o->keystream, o->paper_exact);
    ng_dl_mac_key(&key, salt, M);
    sctx x = {.fd = fd, .in_name = in, .in_data = ng_st_header_data_start(h), .aw = &aw, .out_data = hlen, .s = &ds, .M = M};
    st = run_stream(&x, h, only, o, mac);
    if (st == NG_OK) st = ng_dl_write_meta(h, hset, o, only, &key, salt, graph, mac, has_kdf ? &kdf : NULL);
    if (st == NG_OK) st = write_header(&aw, h, hlen);
    if (st == NG_OK) st = ng_awrite_commit(&aw);
    else ng_awrite_abort(&aw);
done:
    sodium_memzero(M, sizeof M);
    ng_dl_stream_wipe(&ds);
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
    ng_dl_stream dst;
    memset(&dst, 0, sizeof dst);
    ng_key key = {{0}, 0};
    uint8_t graph[32], M[32] = {0}, mac[32];
    if ((st = ng_dl_read_state(h, hget, in, &ds)) != NG_OK) goto done;
    if (ds.version < 3) {   /* formats 1-2: their own checks, in memory */
        ng_st_header_free(h);
        close(fd);
        return ng_deeplock_unlock_file(in, out, s, o);
    }
    if ((st = ng_dl_resolve_key(s, ds.ks, ds.has_kdf ? &ds.kdf : NULL, &key)) != NG_OK) { ng_fail_ctx(st, in); goto done; }
    if (!o->no_check) {
        if ((st = ng_st_header_graph_digest(h, fd, in, graph)) != NG_OK) goto done;
        if ((st = ng_dl_check_key_graph(&ds, &key, graph, in)) != NG_OK) goto done;
    }
    if ((st = ng_dl_clear_meta(h, hset)) != NG_OK) goto done;
    size_t hlen = header_len(h);
    ng_awriter aw;
    if (!hlen) { st = NG_E_NOMEM; goto done; }
    if ((st = ng_awrite_open(&aw, out, NG_MODE_PRIVATE)) != NG_OK) goto done;
    ng_dl_stream_init(&dst, &key, ds.salt, ds.ks, ds.paper);
    ng_dl_mac_key(&key, ds.salt, M);
    sctx x = {.fd = fd, .in_name = in, .in_data = ng_st_header_data_start(h), .aw = &aw, .out_data = hlen, .s = &dst,
              .unlock = 1, .M = o->no_check ? NULL : M};
    st = run_stream(&x, h, ds.only, o, mac);
    if (st == NG_OK && !o->no_check) st = ng_dl_check_params(&ds, mac, in);
    if (st == NG_OK) st = write_header(&aw, h, hlen);
    if (st == NG_OK) st = ng_awrite_commit(&aw);
    else ng_awrite_abort(&aw);
done:
    sodium_memzero(M, sizeof M);
    ng_dl_stream_wipe(&dst);
    ng_key_wipe(&key);
    ng_st_header_free(h);
    close(fd);
    return st;
}
