/* protect/deeplock_legacy.c - unlocking files of Deep-Lock formats 1 and 2 (earlier nnguard), in
 * memory, with the checks those formats defined, and a warning about their weakness:
 *   key streams from the master key and the tensor name only (ctr: subkey | nonce =
 *     BLAKE2b-320(key = K, "nnguard.deeplock.ctr.v2" NUL name); expand on K itself);
 *   nnguard.kcv = BLAKE2b-256(key = BLAKE2b-256(key = K, "nnguard.deeplock.kcv-key.v1"),
 *                             "nnguard.deeplock.kcv.v1" NUL | model_id_before);
 *   nnguard.model_id_before / model_id_after: the model ids (nnguard/weights.h) in clear.
 * Nothing here locks: new locks are format 3. */
#include <string.h>
#include <sodium.h>
#include "formats/weights_impl.h"
#include "protect/deeplock/deeplock_impl.h"

static void legacy_kcv(const ng_key *key, const uint8_t id_before[32], uint8_t kcv[32])
{
    static const char sub_label[] = "nnguard.deeplock.kcv-key.v1", kcv_label[] = "nnguard.deeplock.kcv.v1";
    uint8_t sub[32];
    crypto_generichash_state h;
    crypto_generichash(sub, sizeof sub, (const uint8_t *)sub_label, strlen(sub_label), key->k, key->len);
    crypto_generichash_init(&h, sub, sizeof sub, 32);
    crypto_generichash_update(&h, (const uint8_t *)kcv_label, sizeof kcv_label);   /* with its NUL */
    crypto_generichash_update(&h, id_before, 32);
    crypto_generichash_final(&h, kcv, 32);
    sodium_memzero(sub, sizeof sub);
    sodium_memzero(&h, sizeof h);
}

static ng_status wset(void *w, const char *k, const char *v) { return ng_weights_meta_set(w, k, v); }

ng_status ng_dl_legacy_unlock(ng_weights *w, const ng_dl_state *ds, const ng_deeplock_secret *s,
                              const ng_deeplock_options *o)
{
    const char *name = ng_weights_path(w);
    ng_dl_warn_legacy(o, name, ds->version);
    uint8_t id[32];
    ng_weights_id(w, id);
    if (sodium_memcmp(id, ds->id_after, 32) != 0)
        return ng_fail(NG_E_AUTH, "%s: the locked parameters were modified or truncated (their model id is not "
                       "nnguard.model_id_after)", name);
    ng_key key;
    ng_status st = ng_dl_resolve_key(s, ds->ks, ds->has_kdf ? &ds->kdf : NULL, &key);
    if (st != NG_OK) return ng_fail_ctx(st, name);
    if (!o->no_check) {
        uint8_t kcv[32];
        legacy_kcv(&key, ds->id_before, kcv);
        if (sodium_memcmp(kcv, ds->kcv, 32) != 0) {
            ng_key_wipe(&key);
            return ng_fail(NG_E_KEY, "%s: wrong key or altered file: the key check value does not match; nothing "
                           "was changed", name);
        }
    }
    ng_dl_stream dst;
    ng_dl_stream_init(&dst, &key, NULL, ds->ks, 0);
    st = ng_dl_xform_params(w->params, w->n_params, &dst, ds->only, o->threads, 1, NULL, NULL);
    ng_dl_stream_wipe(&dst);
    ng_key_wipe(&key);
    if (st != NG_OK) return st;
    if (!o->no_check) {
        ng_weights_id(w, id);
        if (sodium_memcmp(id, ds->id_before, 32) != 0)
            return ng_fail(NG_E_AUTH, "%s: the unlocked model id differs from nnguard.model_id_before (the file's "
                           "metadata was altered)", name);
    }
    return ng_dl_clear_meta(w, wset);
}
