/* protect/deeplock.c - Deep-Lock in memory: (un)lock parameter lists and ng_weights with
 * metadata and checks, whole files, and opening a locked model with unlock at load time.
 * Scheme and metadata: nnguard/deeplock.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "core/pool.h"
#include "formats/weights_impl.h"
#include "nnguard/model_io.h"
#include "protect/deeplock/deeplock_impl.h"

typedef struct run_ctx { ng_dl_piece *pc; const ng_dl_stream *s; int unlock; atomic_int failed; } run_ctx;

/* Pieces [i0, i1) in stream order. expand: the worker runs the key schedule from round 0 to its
 * first piece and carries the cursor on (the schedule is sequential; no serial checkpoint pass). */
static void run_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)worker;
    run_ctx *c = arg;
    ng_expand_cursor cur;
    if (c->s->ks == NG_KS_EXPAND) ng_expand_init(&cur, c->s->sched);
    for (int64_t i = i0; i < i1 && !atomic_load(&c->failed); i++) {
        ng_dl_piece *p = &c->pc[i];
        int ex = p->locked && c->s->ks == NG_KS_EXPAND;
        if (ex) p->cur = cur;
        if (ng_dl_piece_run(p, c->s, c->unlock) != NG_OK) atomic_store(&c->failed, 1);
        if (ex) { cur = p->cur; sodium_memzero(&p->cur, sizeof p->cur); }
    }
    sodium_memzero(&cur, sizeof cur);
}

ng_status ng_dl_xform_params(ng_param *p, size_t n, const ng_dl_stream *s, const char *only, int threads,
                             int unlock, const uint8_t *M, uint8_t mac[32])
{
    size_t npc = 0;
    uint64_t ntags = 0;
    for (size_t i = 0; i < n; i++) {
        ntags += ng_dl_nleaves(p[i].nbytes);
        if (M || ng_dl_selected(only, p[i].name)) npc += ng_dl_nleaves(p[i].nbytes);
    }
    uint8_t (*tags)[16] = M ? ng_calloc(ntags + 1, 16) : NULL, gk[32];
    if (M) ng_dl_gmac_key(M, gk);
    ng_dl_piece *pc = npc ? ng_calloc(npc, sizeof *pc) : NULL;
    if ((M && !tags) || (npc && !pc)) { free(tags); free(pc); return NG_E_NOMEM; }
    uint64_t stream = 0, leaf = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int sel = ng_dl_selected(only, p[i].name);
        uint64_t nl = ng_dl_nleaves(p[i].nbytes);
        if (sel || M)
            for (uint64_t l = 0; l < nl; l++) {
                size_t off = (size_t)l * NG_DL_PIECE;
                ng_dl_piece *q = &pc[k++];
                q->name = p[i].name;
                q->tensor_off = off;
                q->stream_off = stream + off;
                q->src = q->dst = p[i].data + off;
                q->n = p[i].nbytes - off < NG_DL_PIECE ? p[i].nbytes - off : NG_DL_PIECE;
                q->locked = sel;
                q->gmac_key = gk;
                q->param = i;
                q->leaf = l;
                q->tag = M ? tags[leaf + l] : NULL;
            }
        leaf += nl;
        if (sel) stream += p[i].nbytes;
    }
    run_ctx c = {pc, s, unlock, 0};
    ng_pool *pool = npc > 1 ? ng_pool_new(threads) : NULL;
    if (npc) ng_pool_for(pool, (int64_t)npc, run_body, &c);
    ng_pool_free(pool);
    if (npc) sodium_memzero(pc, npc * sizeof *pc);
    free(pc);
    if (M && !atomic_load(&c.failed)) ng_dl_params_mac(M, p, n, (const uint8_t (*)[16])tags, mac);
    free(tags);
    sodium_memzero(gk, sizeof gk);
    if (atomic_load(&c.failed))   /* only OpenSSL running out of memory; the tensors are now garbage */
        return ng_fail(NG_E_NOMEM, "Deep-Lock: the AES-256-CTR key stream or GMAC failed (out of memory); the "
                       "parameters are partly transformed and must be discarded");
    return NG_OK;
}

static ng_status params_xform(ng_param *p, size_t n, const ng_key *key, const uint8_t *salt, const ng_deeplock_options *o,
                              int unlock)
{
    ng_deeplock_options def = ng_deeplock_options_default();
    if (!o) o = &def;
    ng_status st = ng_dl_check_key(key, o->keystream);
    if (st != NG_OK) return st;
    ng_dl_stream s;
    ng_dl_stream_init(&s, key, salt, o->keystream, o->paper_exact);
    st = ng_dl_xform_params(p, n, &s, o->only, o->threads, unlock, NULL, NULL);
    ng_dl_stream_wipe(&s);
    return st;
}

ng_status ng_deeplock_lock_params(ng_param *p, size_t n, const ng_key *key, const uint8_t *salt, const ng_deeplock_options *o)
{
    return params_xform(p, n, key, salt, o, 0);
}

ng_status ng_deeplock_unlock_params(ng_param *p, size_t n, const ng_key *key, const uint8_t *salt, const ng_deeplock_options *o)
{
    return params_xform(p, n, key, salt, o, 1);
}

static const char *wget(const void *w, const char *k) { return ng_weights_meta_get(w, k); }
static ng_status wset(void *w, const char *k, const char *v) { return ng_weights_meta_set(w, k, v); }

int ng_deeplock_is_locked(const ng_weights *w)
{
    const char *s = ng_weights_meta_get(w, "nnguard.scheme");
    return s && strcmp(s, "deeplock") == 0;
}

ng_status ng_deeplock_stream_of(const ng_weights *w, ng_deeplock_options *o, uint8_t salt[32], int *has_salt)
{
    ng_dl_state ds;
    ng_status st = ng_dl_read_state(w, wget, ng_weights_path(w), &ds);
    if (st != NG_OK) return st;
    o->keystream = ds.ks;
    o->paper_exact = ds.paper;
    o->only = ng_weights_meta_get(w, "nnguard.only");
    *has_salt = ds.version >= 3;
    memcpy(salt, ds.salt, 32);
    return NG_OK;
}

ng_status ng_deeplock_lock(ng_weights *w, const ng_deeplock_secret *s, const ng_deeplock_options *o)
{
    ng_deeplock_options def = ng_deeplock_options_default();
    if (!o) o = &def;
    const char *name = ng_weights_path(w), *only = o->only && *o->only ? o->only : "*";
    ng_status st = ng_dl_check_secret(s);
    if (st == NG_OK) st = ng_dl_check_plain(w, wget, name);
    if (st != NG_OK) return st;
    size_t nsel = 0;
    for (size_t i = 0; i < w->n_params; i++) nsel += ng_dl_selected(only, w->params[i].name) != 0;
    if (nsel == 0) return ng_fail(NG_E_INVALID, "%s: --only '%s' matches no parameter tensor", name, only);
    if (o->paper_exact && o->keystream != NG_KS_EXPAND)
        return ng_fail(NG_E_INVALID, "%s: --paper-exact applies to --keystream expand only", name);
    ng_kdf_params kdf;
    int has_kdf;
    ng_key key;
    uint8_t salt[32], graph[32], M[32], mac[32];
    ng_dl_lock_kdf(s, o, &kdf, &has_kdf);
    if ((st = ng_dl_resolve_key(s, o->keystream, has_kdf ? &kdf : NULL, &key)) != NG_OK) return ng_fail_ctx(st, name);
    if (o->paper_exact) ng_dl_warn_paper(o, name);
    ng_dl_new_salt(o, salt);
    ng_dl_mac_key(&key, salt, M);
    st = ng_weights_graph_digest(w, graph);
    if (st == NG_OK) {
        ng_dl_stream ds;
        ng_dl_stream_init(&ds, &key, salt, o->keystream, o->paper_exact);
        st = ng_dl_xform_params(w->params, w->n_params, &ds, only, o->threads, 0, M, mac);
        ng_dl_stream_wipe(&ds);
    }
    if (st == NG_OK) st = ng_dl_write_meta(w, wset, o, only, &key, salt, graph, mac, has_kdf ? &kdf : NULL);
    sodium_memzero(M, sizeof M);
    ng_key_wipe(&key);
    return st;
}

ng_status ng_deeplock_unlock(ng_weights *w, const ng_deeplock_secret *s, const ng_deeplock_options *o)
{
    ng_deeplock_options def = ng_deeplock_options_default();
    if (!o) o = &def;
    const char *name = ng_weights_path(w);
    ng_dl_state ds;
    ng_status st = ng_dl_check_secret(s);
    if (st == NG_OK) st = ng_dl_read_state(w, wget, name, &ds);
    if (st != NG_OK) return st;
    if (ds.version < 3) return ng_dl_legacy_unlock(w, &ds, s, o);
    ng_key key;
    uint8_t graph[32], M[32], mac[32];
    if ((st = ng_dl_resolve_key(s, ds.ks, ds.has_kdf ? &ds.kdf : NULL, &key)) != NG_OK) return ng_fail_ctx(st, name);
    ng_dl_mac_key(&key, ds.salt, M);
    if (!o->no_check && (st = ng_weights_graph_digest(w, graph)) == NG_OK)
        st = ng_dl_check_key_graph(&ds, &key, graph, name);
    if (st == NG_OK) {
        ng_dl_stream dst;
        ng_dl_stream_init(&dst, &key, ds.salt, ds.ks, ds.paper);
        st = ng_dl_xform_params(w->params, w->n_params, &dst, ds.only, o->threads, 1, o->no_check ? NULL : M, mac);
        ng_dl_stream_wipe(&dst);
    }
    if (st == NG_OK && !o->no_check) st = ng_dl_check_params(&ds, mac, name);
    sodium_memzero(M, sizeof M);
    ng_key_wipe(&key);
    return st == NG_OK ? ng_dl_clear_meta(w, wset) : st;
}

ng_status ng_deeplock_lock_file(const char *in, const char *out, const ng_deeplock_secret *s, const ng_deeplock_options *o)
{
    ng_weights *w;
    ng_status st = ng_weights_open(in, &w);
    if (st != NG_OK) return st;
    if ((st = ng_deeplock_lock(w, s, o)) == NG_OK) st = ng_weights_save(w, out);
    ng_weights_free(w);
    return st;
}

ng_status ng_deeplock_unlock_file(const char *in, const char *out, const ng_deeplock_secret *s, const ng_deeplock_options *o)
{
    ng_weights *w;
    ng_status st = ng_weights_open(in, &w);
    if (st != NG_OK) return st;
    if ((st = ng_deeplock_unlock(w, s, o)) == NG_OK) st = ng_weights_save_mode(w, out, NG_MODE_PRIVATE);
    ng_weights_free(w);
    return st;
}

static ng_status unlock_opened(ng_weights *w, const ng_deeplock_secret *s, int no_check, ng_weights **out)
{
    if (s && ng_deeplock_is_locked(w)) {
        ng_deeplock_options o = ng_deeplock_options_default();
        o.no_check = no_check;
        ng_status st = ng_deeplock_unlock(w, s, &o);   /* a failed check leaves plaintext in memory: */
        if (st != NG_OK) {
            /* wipe whatever plaintext may be in memory */
            for (size_t i = 0; i < w->n_params; i++) sodium_memzero(w->params[i].data, w->params[i].nbytes);
            ng_weights_free(w);
            return st;
        }
    }
    *out = w;
    return NG_OK;
}

ng_status ng_deeplock_open_weights(const char *path, const ng_deeplock_secret *s, int no_check, ng_weights **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_weights_open(path, &w);
    return st != NG_OK ? st : unlock_opened(w, s, no_check, out);
}

ng_status ng_deeplock_open_weights_buffer(const void *buf, size_t len, ng_format fmt, const char *name,
                                          const ng_deeplock_secret *s, int no_check, ng_weights **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_weights_open_buffer(buf, len, fmt, name, &w);
    return st != NG_OK ? st : unlock_opened(w, s, no_check, out);
}

static ng_status model_from(ng_weights *w, ng_model **out)
{
    ng_status st;
    if (ng_weights_format(w) != NG_FMT_ONNX)
        st = ng_fail(NG_E_UNSUPPORTED, "%s: a safetensors file holds no graph; use ng_deeplock_open_weights and "
                     "ng_model_set_weights on a model built with ng_model_from_arch", ng_weights_path(w));
    else
        st = ng_model_from_weights(w, out);
    for (size_t i = 0; i < w->n_params; i++) sodium_memzero(w->params[i].data, w->params[i].nbytes);
    ng_weights_free(w);
    return st;
}

ng_status ng_deeplock_open_model(const char *path, const ng_deeplock_secret *s, ng_model **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_deeplock_open_weights(path, s, 0, &w);
    return st != NG_OK ? st : model_from(w, out);
}

ng_status ng_deeplock_open_model_buffer(const void *buf, size_t len, const char *name, const ng_deeplock_secret *s,
                                        ng_model **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_deeplock_open_weights_buffer(buf, len, NG_FMT_ONNX, name, s, 0, &w);
    return st != NG_OK ? st : model_from(w, out);
}
