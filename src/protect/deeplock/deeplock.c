/* protect/deeplock.c - Deep-Lock in memory: (un)lock parameter lists and ng_weights with
 * metadata and checks, whole files, and opening a locked model with unlock at load time.
 * Scheme and metadata: nnguard/deeplock.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "core/pool.h"
#include "formats/weights_impl.h"
#include "protect/deeplock/deeplock_impl.h"

typedef struct run_ctx { ng_dl_piece *pc; const ng_key *key; ng_keystream ks; int unlock; atomic_int failed; } run_ctx;

/* Pieces [i0, i1) in stream order. expand: the worker runs the key schedule from round 0 to its
 * first piece and carries the cursor on (the schedule is sequential; no serial checkpoint pass). */
static void run_body(void *arg, int64_t i0, int64_t i1, int worker)
{
    run_ctx *c = arg;
    ng_expand_cursor cur;
    if (c->ks == NG_KS_EXPAND) ng_expand_init(&cur, c->key->k);
    for (int64_t i = i0; i < i1 && !atomic_load(&c->failed); i++) {
        ng_dl_piece *p = &c->pc[i];
        if (c->ks == NG_KS_EXPAND) p->cur = cur;
        if (ng_dl_piece_run(p, c->key, c->ks, c->unlock) != NG_OK) atomic_store(&c->failed, 1);
        if (c->ks == NG_KS_EXPAND) { cur = p->cur; sodium_memzero(&p->cur, sizeof p->cur); }
    }
    sodium_memzero(&cur, sizeof cur);
}

static ng_status xform_params(ng_param *p, size_t n, const ng_key *key, ng_keystream ks, const char *only,
                              int threads, int unlock)
{
    ng_status st = ng_dl_check_key(key, ks);
    if (st != NG_OK) return st;
    size_t npc = 0;
    for (size_t i = 0; i < n; i++)
        if (ng_dl_selected(only, p[i].name)) npc += (p[i].nbytes + NG_DL_PIECE - 1) / NG_DL_PIECE;
    if (npc == 0) return NG_OK;
    ng_dl_piece *pc = ng_calloc(npc, sizeof *pc);
    if (!pc) return NG_E_NOMEM;
    uint64_t stream = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ng_dl_selected(only, p[i].name)) continue;
        for (size_t off = 0; off < p[i].nbytes; off += NG_DL_PIECE) {
            ng_dl_piece *q = &pc[k++];
            q->name = p[i].name;
            q->tensor_off = off;
            q->stream_off = stream + off;
            q->src = q->dst = p[i].data + off;
            q->n = p[i].nbytes - off < NG_DL_PIECE ? p[i].nbytes - off : NG_DL_PIECE;
        }
        stream += p[i].nbytes;
    }
    run_ctx c = {pc, key, ks, unlock, 0};
    ng_pool *pool = npc > 1 ? ng_pool_new(threads) : NULL;
    ng_pool_for(pool, (int64_t)npc, run_body, &c);
    ng_pool_free(pool);
    sodium_memzero(pc, npc * sizeof *pc);
    free(pc);
    if (atomic_load(&c.failed))   /* only OpenSSL running out of memory; the tensors are now garbage */
        return ng_fail(NG_E_NOMEM, "Deep-Lock: the AES-256-CTR key stream failed (out of memory); the parameters "
                       "are partly transformed and must be discarded");
    return NG_OK;
}

ng_status ng_deeplock_lock_params(ng_param *p, size_t n, const ng_key *key, ng_keystream ks, const char *only, int threads)
{
    return xform_params(p, n, key, ks, only, threads, 0);
}

ng_status ng_deeplock_unlock_params(ng_param *p, size_t n, const ng_key *key, ng_keystream ks, const char *only, int threads)
{
    return xform_params(p, n, key, ks, only, threads, 1);
}

static const char *wget(const void *w, const char *k) { return ng_weights_meta_get(w, k); }
static ng_status wset(void *w, const char *k, const char *v) { return ng_weights_meta_set(w, k, v); }

int ng_deeplock_is_locked(const ng_weights *w)
{
    const char *s = ng_weights_meta_get(w, "nnguard.scheme");
    return s && strcmp(s, "deeplock") == 0;
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
    ng_kdf_params kdf;
    int has_kdf;
    ng_key key;
    ng_dl_lock_kdf(s, o, &kdf, &has_kdf);
    if ((st = ng_dl_resolve_key(s, o->keystream, has_kdf ? &kdf : NULL, &key)) != NG_OK) return ng_fail_ctx(st, name);
    uint8_t before[32], after[32];
    ng_weights_id(w, before);
    st = xform_params(w->params, w->n_params, &key, o->keystream, only, o->threads, 0);
    if (st == NG_OK) {
        ng_weights_id(w, after);
        st = ng_dl_write_meta(w, wset, o->keystream, only, &key, before, after, has_kdf ? &kdf : NULL);
    }
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
    uint8_t id[32];
    ng_weights_id(w, id);
    if (sodium_memcmp(id, ds.id_after, 32) != 0)
        return ng_fail(NG_E_FORMAT, "%s: locked data was modified or truncated (its model id is not nnguard.model_id_after)", name);
    ng_key key;
    if ((st = ng_dl_resolve_key(s, ds.ks, ds.has_kdf ? &ds.kdf : NULL, &key)) != NG_OK) return ng_fail_ctx(st, name);
    if (!o->no_check) {
        uint8_t kcv[32];
        ng_dl_kcv(&key, ds.id_before, kcv);
        if (sodium_memcmp(kcv, ds.kcv, 32) != 0) {
            ng_key_wipe(&key);
            return ng_fail(NG_E_KEY, "%s: the key does not match this model (key check value differs); nothing was changed", name);
        }
    }
    st = xform_params(w->params, w->n_params, &key, ds.ks, ds.only, o->threads, 1);
    ng_key_wipe(&key);
    if (st != NG_OK) return st;
    if (!o->no_check) {
        ng_weights_id(w, id);
        if (sodium_memcmp(id, ds.id_before, 32) != 0)
            return ng_fail(NG_E_FORMAT, "%s: unlocked model id differs from nnguard.model_id_before (the file's metadata was altered)", name);
    }
    return ng_dl_clear_meta(w, wset);
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
        ng_status st = ng_deeplock_unlock(w, s, &o);
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
