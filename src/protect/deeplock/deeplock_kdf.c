/* protect/deeplock_kdf.c - Deep-Lock format 3 key derivation and MACs (nnguard/deeplock.h):
 * per-lock key L and MAC key M from (K, salt), the stream keys, kcv / graph_mac / params_mac
 * (keyed BLAKE2b: libsodium crypto_generichash; the params_mac leaves are GMAC, in
 * deeplock_keystream.c), compared in constant time. */
#include <string.h>
#include <sodium.h>
#include "protect/deeplock/deeplock_impl.h"

/* BLAKE2b(key = key, label NUL | a | b), out_len bytes. */
static void keyed(const uint8_t *key, size_t key_len, const char *label, const void *a, size_t an, const void *b,
                  size_t bn, uint8_t *out, size_t out_len)
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, key, key_len, out_len);
    crypto_generichash_update(&h, (const uint8_t *)label, strlen(label) + 1);
    if (an) crypto_generichash_update(&h, a, an);
    if (bn) crypto_generichash_update(&h, b, bn);
    crypto_generichash_final(&h, out, out_len);
    sodium_memzero(&h, sizeof h);
}

void ng_dl_lock_key(const ng_key *key, const uint8_t salt[32], uint8_t L[32])
{
    keyed(key->k, key->len, "nnguard.deeplock.v3.lock", salt, 32, NULL, 0, L, 32);
}

void ng_dl_mac_key(const ng_key *key, const uint8_t salt[32], uint8_t M[32])
{
    uint8_t L[32];
    ng_dl_lock_key(key, salt, L);
    keyed(L, 32, "nnguard.deeplock.v3.mac", NULL, 0, NULL, 0, M, 32);
    sodium_memzero(L, sizeof L);
}

void ng_dl_stream_init(ng_dl_stream *s, const ng_key *key, const uint8_t *salt, ng_keystream ks, int paper)
{
    memset(s, 0, sizeof *s);
    s->ks = ks;
    if (!salt) {   /* formats 1-2: the master key itself */
        s->legacy = 1;
        memcpy(ks == NG_KS_EXPAND ? s->sched : s->lock_key, key->k, ks == NG_KS_EXPAND ? 16 : 32);
        return;
    }
    ng_dl_lock_key(key, salt, s->lock_key);
    if (ks != NG_KS_EXPAND) return;
    if (paper) memcpy(s->sched, key->k, 16);
    else keyed(s->lock_key, 32, "nnguard.deeplock.v3.expand", NULL, 0, NULL, 0, s->sched, 16);
}

void ng_dl_stream_wipe(ng_dl_stream *s) { sodium_memzero(s, sizeof *s); }

static void put_lp(crypto_generichash_state *h, const char *s)
{
    uint8_t n[4];
    size_t len = strlen(s);
    n[0] = (uint8_t)len; n[1] = (uint8_t)(len >> 8); n[2] = (uint8_t)(len >> 16); n[3] = (uint8_t)(len >> 24);
    crypto_generichash_update(h, n, 4);
    crypto_generichash_update(h, (const uint8_t *)s, len);
}

void ng_dl_kcv(const uint8_t M[32], const uint8_t salt[32], ng_keystream ks, int paper, const char *only, uint8_t out[32])
{
    static const char label[] = "nnguard.deeplock.v3.kcv";
    crypto_generichash_state h;
    crypto_generichash_init(&h, M, 32, 32);
    crypto_generichash_update(&h, (const uint8_t *)label, sizeof label);
    crypto_generichash_update(&h, salt, 32);
    put_lp(&h, ng_keystream_name(ks));
    put_lp(&h, ks == NG_KS_EXPAND ? (paper ? "paper" : "salted") : "");
    put_lp(&h, only);
    crypto_generichash_final(&h, out, 32);
    sodium_memzero(&h, sizeof h);
}

void ng_dl_graph_mac(const uint8_t M[32], const uint8_t graph[32], uint8_t out[32])
{
    keyed(M, 32, "nnguard.deeplock.v3.graph", graph, 32, NULL, 0, out, 32);
}

void ng_dl_gmac_key(const uint8_t M[32], uint8_t k[32])
{
    keyed(M, 32, "nnguard.deeplock.v3.gmac", NULL, 0, NULL, 0, k, 32);
}

void ng_dl_leaf_iv(uint64_t param, uint64_t leaf, uint8_t iv[12])
{
    for (int i = 0; i < 8; i++) iv[i] = (uint8_t)(param >> (8 * i));
    for (int i = 0; i < 4; i++) iv[8 + i] = (uint8_t)(leaf >> (8 * i));
}

static void put_u32(crypto_generichash_state *h, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    crypto_generichash_update(h, b, 4);
}

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    crypto_generichash_update(h, b, 8);
}

void ng_dl_params_mac(const uint8_t M[32], const ng_param *p, size_t n, const uint8_t (*tag)[16], uint8_t out[32])
{
    static const char tl[] = "nnguard.deeplock.v3.tensor", pl[] = "nnguard.deeplock.v3.params";
    crypto_generichash_state root, t;
    crypto_generichash_init(&root, M, 32, 32);
    crypto_generichash_update(&root, (const uint8_t *)pl, sizeof pl);
    put_u64(&root, n);
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ti[32];
        uint64_t nl = ng_dl_nleaves(p[i].nbytes);
        const char *name = p[i].name ? p[i].name : "", *dt = ng_dtype_name(p[i].dtype);
        crypto_generichash_init(&t, M, 32, 32);
        crypto_generichash_update(&t, (const uint8_t *)tl, sizeof tl);
        put_u32(&t, (uint32_t)strlen(name));
        crypto_generichash_update(&t, (const uint8_t *)name, strlen(name));
        put_u32(&t, (uint32_t)strlen(dt));
        crypto_generichash_update(&t, (const uint8_t *)dt, strlen(dt));
        put_u32(&t, (uint32_t)p[i].shape.ndim);
        for (int d = 0; d < p[i].shape.ndim; d++) put_u64(&t, (uint64_t)p[i].shape.d[d]);
        put_u64(&t, p[i].nbytes);
        put_u64(&t, nl);
        if (nl) crypto_generichash_update(&t, tag[k], (size_t)nl * 16);
        crypto_generichash_final(&t, ti, 32);
        crypto_generichash_update(&root, ti, 32);
        k += nl;
    }
    crypto_generichash_final(&root, out, 32);
    sodium_memzero(&root, sizeof root);
    sodium_memzero(&t, sizeof t);
}

ng_status ng_dl_check_key_graph(const ng_dl_state *ds, const ng_key *key, const uint8_t graph[32], const char *name)
{
    uint8_t M[32], kcv[32], gm[32];
    ng_dl_mac_key(key, ds->salt, M);
    ng_dl_kcv(M, ds->salt, ds->ks, ds->paper, ds->only, kcv);
    ng_dl_graph_mac(M, graph, gm);
    sodium_memzero(M, sizeof M);
    if (sodium_memcmp(kcv, ds->kcv, 32) != 0)
        return ng_fail(NG_E_KEY, "%s: wrong key or altered file: the key check value does not match (another key, or "
                       "nnguard.salt / keystream / only were edited); nothing was changed", name);
    if (sodium_memcmp(gm, ds->graph_mac, 32) != 0)
        return ng_fail(NG_E_AUTH, "%s: the graph was altered after locking (nodes, attributes, inputs/outputs, "
                       "non-float tensors or parameter shapes differ from what the key signed; the key is right); "
                       "refusing to unlock", name);
    return NG_OK;
}

ng_status ng_dl_check_params(const ng_dl_state *ds, const uint8_t mac[32], const char *name)
{
    if (sodium_memcmp(mac, ds->params_mac, 32) != 0)
        return ng_fail(NG_E_AUTH, "%s: the locked parameters were modified or truncated: the unlocked parameters do "
                       "not match nnguard.params_mac; nothing was written", name);
    return NG_OK;
}
