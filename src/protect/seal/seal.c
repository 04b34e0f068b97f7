/* protect/seal/seal.c - sealed models in memory: seal / unseal ng_weights, whole files, and opening
 * a sealed (and possibly Deep-Locked) model with decryption at load time. Format: nnguard/seal.h. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "core/core.h"
#include "formats/weights_impl.h"
#include "protect/deeplock/deeplock_impl.h"
#include "protect/seal/seal_impl.h"
#include "nnguard/model_io.h"

const char *ng_aead_name(ng_aead a)
{
    return a == NG_AEAD_AES256GCM ? "aes256gcm" : a == NG_AEAD_XCHACHA20POLY1305 ? "xchacha20poly1305" : "auto";
}

int ng_aead_parse(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "auto")) return NG_AEAD_AUTO;
    if (!strcmp(s, "aes256gcm")) return NG_AEAD_AES256GCM;
    if (!strcmp(s, "xchacha20poly1305")) return NG_AEAD_XCHACHA20POLY1305;
    return -1;
}

ng_seal_options ng_seal_options_default(void)
{
    ng_seal_options o;
    memset(&o, 0, sizeof o);
    return o;
}

int ng_seal_is_sealed(const ng_weights *w) { return ng_weights_meta_get(w, "nnguard.seal.version") != NULL; }

ng_status ng_seal_id(const ng_weights *w, uint8_t id[32])
{
    const char *h = ng_weights_meta_get(w, "nnguard.seal.id");
    size_t got = 0;
    if (!h) return ng_fail(NG_E_STATE, "%s: the model is not sealed (no nnguard.seal.id)", ng_weights_path(w));
    if (strlen(h) != 64 || sodium_hex2bin(id, 32, h, 64, NULL, &got, NULL) != 0 || got != 32)
        return ng_fail(NG_E_FORMAT, "%s: field nnguard.seal.id is not 64 hex digits", ng_weights_path(w));
    return NG_OK;
}

static uint64_t total_chunks(const ng_weights *w)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->n_params; i++) n += ng_seal_nchunks(w->params[i].nbytes);
    return n;
}

static ng_status set_hex(const ng_seal_meta *m, const char *key, const uint8_t *b, size_t n)
{
    char h[65];
    sodium_bin2hex(h, sizeof h, b, n);
    return m->set(m->obj, key, h);
}

ng_status ng_seal_set_tags(const ng_seal_meta *w, const uint8_t (*tags)[NG_SEAL_TAG], uint64_t ntags)
{
    char *hex = malloc(ntags * 2 * NG_SEAL_TAG + 1);
    if (!hex) return ng_fail(NG_E_NOMEM, "out of memory");
    hex[0] = 0;
    for (uint64_t i = 0; i < ntags; i++) sodium_bin2hex(hex + 2 * NG_SEAL_TAG * i, 2 * NG_SEAL_TAG + 1, tags[i], NG_SEAL_TAG);
    ng_status st = w->set(w->obj, "nnguard.seal.tags", hex);
    free(hex);
    return st;
}

ng_status ng_seal_write_meta(const ng_seal_meta *w, const ng_seal_keys *k, ng_aead aead, const uint8_t id[32],
                             const uint8_t salt[32], const uint8_t graph[32], const uint8_t (*tags)[NG_SEAL_TAG],
                             uint64_t ntags, const ng_kdf_params *kdf)
{
    uint8_t kcv[32], gm[32];
    ng_seal_kcv(k, salt, aead, id, kcv);
    ng_seal_graph_mac(k, graph, gm);
    ng_status st = w->set(w->obj, "nnguard.seal.version", NG_SEAL_VERSION);
    if (st == NG_OK) st = w->set(w->obj, "nnguard.seal.aead", ng_aead_name(aead));
    if (st == NG_OK) st = set_hex(w, "nnguard.seal.id", id, 32);
    if (st == NG_OK) st = set_hex(w, "nnguard.seal.salt", salt, 32);
    if (st == NG_OK) st = set_hex(w, "nnguard.seal.kcv", kcv, 32);
    if (st == NG_OK) st = set_hex(w, "nnguard.seal.graph_mac", gm, 32);
    if (st == NG_OK && kdf) {
        char num[24];
        st = w->set(w->obj, "nnguard.seal.kdf", "argon2id");
        if (st == NG_OK) st = set_hex(w, "nnguard.seal.kdf_salt", kdf->salt, 16);
        snprintf(num, sizeof num, "%" PRIu64, kdf->opslimit);
        if (st == NG_OK) st = w->set(w->obj, "nnguard.seal.kdf_opslimit", num);
        snprintf(num, sizeof num, "%" PRIu64, kdf->memlimit);
        if (st == NG_OK) st = w->set(w->obj, "nnguard.seal.kdf_memlimit", num);
    }
    if (st == NG_OK) st = ng_seal_set_tags(w, tags, ntags);
    if (st == NG_OK) st = ng_seal_write_fields(w, k);
    return st;
}

/* The 256-bit key of a secret: the key itself or Argon2id of the passphrase. */
ng_status ng_seal_resolve_key(const ng_deeplock_secret *s, const ng_kdf_params *kdf, const char *name, ng_key *key)
{
    ng_status st = ng_dl_check_secret(s);
    if (st == NG_OK && s->key && s->key->len != 32)
        st = ng_fail(NG_E_KEY, "sealing needs a 256-bit key; this key has %zu bits (nnguard keygen makes 256-bit keys)",
                     s->key->len * 8);
    if (st == NG_OK && !s->key && !kdf)
        st = ng_fail(NG_E_KEY, "the model was not sealed with a passphrase; give its key file (--key) or a license");
    if (st == NG_OK) st = ng_dl_resolve_key(s, NG_KS_CTR, kdf, key);
    return st != NG_OK && !strstr(ng_last_error(), name) ? ng_fail_ctx(st, name) : st;
}

ng_status ng_seal(ng_weights *w, const ng_deeplock_secret *s, const ng_seal_options *o)
{
    ng_seal_options def = ng_seal_options_default();
    if (!o) o = &def;
    const char *name = ng_weights_path(w);
    if (ng_seal_is_sealed(w)) return ng_fail(NG_E_STATE, "%s: the model is already sealed; refusing to seal it twice", name);
    ng_aead aead = o->aead != NG_AEAD_AUTO ? o->aead
                 : crypto_aead_aes256gcm_is_available() ? NG_AEAD_AES256GCM : NG_AEAD_XCHACHA20POLY1305;
    ng_seal_backend be;
    ng_status st = ng_seal_backend_of(o, aead, &be);
    if (st != NG_OK) return st;
    ng_kdf_params kdf;
    int has_kdf = s && s->pass;
    if (has_kdf) { if (o->kdf) kdf = *o->kdf; else ng_kdf_params_new(&kdf); }
    ng_key key;
    st = ng_seal_resolve_key(s, has_kdf ? &kdf : NULL, name, &key);
    if (st != NG_OK) return st;
    uint8_t salt[32], id[32], graph[32];
    if (o->salt) memcpy(salt, o->salt, 32); else randombytes_buf(salt, 32);
    if (o->id) memcpy(id, o->id, 32); else randombytes_buf(id, 32);
    ng_seal_keys k;
    ng_seal_keys_init(&k, &key, salt);
    ng_key_wipe(&key);
    uint64_t ntags = total_chunks(w);
    uint8_t (*tags)[NG_SEAL_TAG] = ng_calloc(ntags + 1, NG_SEAL_TAG);
    st = tags ? ng_weights_graph_digest(w, graph) : NG_E_NOMEM;
    if (st == NG_OK) st = ng_seal_crypt(w, &k, aead, be, id, tags, o->threads, 0);
    ng_seal_meta m = ng_seal_meta_of_weights(w);
    if (st == NG_OK) st = ng_seal_write_meta(&m, &k, aead, id, salt, graph, (const uint8_t (*)[NG_SEAL_TAG])tags, ntags,
                                             has_kdf ? &kdf : NULL);
    ng_seal_keys_wipe(&k);
    free(tags);
    return st;
}

static void wipe_params(ng_weights *w)
{
    for (size_t i = 0; i < w->n_params; i++) sodium_memzero(w->params[i].data, w->params[i].nbytes);
}

ng_status ng_seal_check_kcv(const char *name, const ng_seal_state *ss, const ng_seal_keys *k)
{
    uint8_t kcv[32];
    ng_seal_kcv(k, ss->salt, ss->aead, ss->id, kcv);
    if (sodium_memcmp(kcv, ss->kcv, 32) != 0)
        return ng_fail(NG_E_KEY, "%s: wrong key for this sealed model (or its nnguard.seal.salt / aead / id / kcv was "
                       "edited)", name);
    return NG_OK;
}

/* Key check, fields, tags count: everything before decrypting. */
ng_status ng_seal_check_header(const ng_seal_meta *m, const ng_seal_state *ss, const ng_seal_keys *k, uint64_t need,
                               uint8_t (**tags)[NG_SEAL_TAG])
{
    const char *name = m->name;
    ng_status st = ng_seal_check_kcv(name, ss, k);
    if (st == NG_OK) st = ng_seal_check_fields(m, ss, k);
    if (st != NG_OK) return st;
    uint64_t have = strlen(ss->tags) / (2 * NG_SEAL_TAG);
    if (strlen(ss->tags) % (2 * NG_SEAL_TAG) || have != need)
        return ng_fail(NG_E_AUTH, "%s: field nnguard.seal.tags holds %llu tags but the tensors have %llu chunks (a tensor "
                       "was resized or truncated, or the field edited)", name, (unsigned long long)have,
                       (unsigned long long)need);
    *tags = ng_calloc(need + 1, NG_SEAL_TAG);
    if (!*tags) return NG_E_NOMEM;
    size_t got;
    if (need && (sodium_hex2bin((uint8_t *)*tags, need * NG_SEAL_TAG, ss->tags, strlen(ss->tags), NULL, &got, NULL) != 0 ||
                 got != need * NG_SEAL_TAG))
        return ng_fail(NG_E_AUTH, "%s: field nnguard.seal.tags is not hex (edited after sealing)", name);
    return NG_OK;
}

ng_status ng_seal_key(const ng_weights *w, const ng_deeplock_secret *s, ng_key *out)
{
    ng_seal_state ss;
    ng_seal_keys k;
    ng_seal_meta m = ng_seal_meta_of_weights((ng_weights *)w);
    ng_status st = ng_seal_read_state(&m, &ss);
    if (st == NG_OK) st = ng_seal_resolve_key(s, ss.has_kdf ? &ss.kdf : NULL, ng_weights_path(w), out);
    if (st != NG_OK) return st;
    ng_seal_keys_init(&k, out, ss.salt);
    st = ng_seal_check_kcv(ng_weights_path(w), &ss, &k);
    ng_seal_keys_wipe(&k);
    if (st != NG_OK) ng_key_wipe(out);
    return st;
}

ng_status ng_unseal(ng_weights *w, const ng_deeplock_secret *s, const ng_seal_options *o)
{
    ng_seal_options def = ng_seal_options_default();
    if (!o) o = &def;
    const char *name = ng_weights_path(w);
    ng_seal_state ss;
    ng_seal_meta m = ng_seal_meta_of_weights(w);
    ng_status st = ng_seal_read_state(&m, &ss);
    ng_seal_backend be;
    if (st == NG_OK) st = ng_seal_backend_of(o, ss.aead, &be);
    if (st != NG_OK) return st;
    ng_key key;
    if ((st = ng_seal_resolve_key(s, ss.has_kdf ? &ss.kdf : NULL, name, &key)) != NG_OK) return st;
    ng_seal_keys k;
    ng_seal_keys_init(&k, &key, ss.salt);
    ng_key_wipe(&key);
    uint8_t (*tags)[NG_SEAL_TAG] = NULL, graph[32], gm[32];
    st = ng_seal_check_header(&m, &ss, &k, total_chunks(w), &tags);
    if (st == NG_OK) st = ng_seal_crypt(w, &k, ss.aead, be, ss.id, tags, o->threads, 1);
    if (st == NG_OK && (st = ng_weights_graph_digest(w, graph)) == NG_OK) {
        ng_seal_graph_mac(&k, graph, gm);
        if (sodium_memcmp(gm, ss.graph_mac, 32) != 0)
            st = ng_fail(NG_E_AUTH, "%s: field nnguard.seal.graph_mac does not match: the graph (nodes, attributes, "
                         "inputs/outputs or non-float tensors) was edited after sealing", name);
    }
    ng_seal_keys_wipe(&k);
    free(tags);
    if (st == NG_OK) st = ng_seal_clear_meta(&m);
    if (st != NG_OK) wipe_params(w);
    return st;
}

ng_status ng_seal_file(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o)
{
    ng_weights *w;
    ng_status st = ng_weights_open_anon(in, &w);
    if (st != NG_OK) return st;
    if ((st = ng_seal(w, s, o)) == NG_OK) st = ng_weights_save(w, out);
    wipe_params(w);
    ng_weights_free(w);
    return st;
}

ng_status ng_unseal_file(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o)
{
    ng_weights *w;
    ng_status st = ng_weights_open_anon(in, &w);
    if (st != NG_OK) return st;
    if ((st = ng_unseal(w, s, o)) == NG_OK) st = ng_weights_save_mode(w, out, NG_MODE_PRIVATE);
    wipe_params(w);
    ng_weights_free(w);
    return st;
}

ng_status ng_seal_open_opened(ng_weights *w, const ng_deeplock_secret *s, ng_weights **out)
{
    *out = NULL;
    ng_status st = NG_OK;
    if (ng_seal_is_sealed(w)) {
        if (!s) st = ng_fail(NG_E_KEY, "%s: the model is sealed; give its key, passphrase or license", ng_weights_path(w));
        else st = ng_unseal(w, s, NULL);
    }
    if (st == NG_OK && s && ng_deeplock_is_locked(w)) {
        ng_deeplock_options o = ng_deeplock_options_default();
        st = ng_deeplock_unlock(w, s, &o);
    }
    if (st != NG_OK) {
        wipe_params(w);
        ng_weights_free(w);
        return st;
    }
    *out = w;
    return NG_OK;
}

ng_status ng_seal_open_weights(const char *path, const ng_deeplock_secret *s, ng_weights **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_weights_open_anon(path, &w);   /* decrypted in place: no copy-on-write faults */
    return st != NG_OK ? st : ng_seal_open_opened(w, s, out);
}

ng_status ng_seal_open_weights_buffer(const void *buf, size_t len, ng_format fmt, const char *name,
                                      const ng_deeplock_secret *s, ng_weights **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_weights_open_buffer(buf, len, fmt, name, &w);
    return st != NG_OK ? st : ng_seal_open_opened(w, s, out);
}

static ng_status model_from(ng_weights *w, ng_model **out)
{
    ng_status st = ng_weights_format(w) != NG_FMT_ONNX
        ? ng_fail(NG_E_UNSUPPORTED, "%s: a safetensors file holds no graph; use ng_seal_open_weights and "
                  "ng_model_set_weights on a model built with ng_model_from_arch", ng_weights_path(w))
        : ng_model_from_weights(w, out);
    wipe_params(w);
    ng_weights_free(w);
    return st;
}

ng_status ng_seal_open_model(const char *path, const ng_deeplock_secret *s, ng_model **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_seal_open_weights(path, s, &w);
    return st != NG_OK ? st : model_from(w, out);
}

ng_status ng_seal_open_model_buffer(const void *buf, size_t len, const char *name, const ng_deeplock_secret *s,
                                    ng_model **out)
{
    ng_weights *w;
    *out = NULL;
    ng_status st = ng_seal_open_weights_buffer(buf, len, NG_FMT_ONNX, name, s, &w);
    return st != NG_OK ? st : model_from(w, out);
}
