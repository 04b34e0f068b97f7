/* protect/securenet/bind.c - a bound license: the licensed model's parameters Deep-Locked under a
 * random model key, that key stored in one AEAD slot per license key (format: the top of
 * nnguard/securenet.h). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/deeplock.h"
#include "nnguard/securenet.h"

#define BIND_AD "nnguard.license.bind.v1"
#define SLOT_CT (NG_LICENSE_KEY_BYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SLOT_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
/* ID:NONCE:CT, a comma */
#define SLOT_CHARS (16 + 1 + 2 * SLOT_NONCE + 1 + 2 * SLOT_CT + 1)

static const char *const bind_keys[] = {
    "nnguard.license.bind", "nnguard.license.bind_only", "nnguard.license.bind_salt", "nnguard.license.bind_mac",
    "nnguard.license.slots",
};

int ng_license_is_bound(const ng_model *m) { return ng_model_meta_get(m, "nnguard.license.bind") != NULL; }

static void put_lp(crypto_generichash_state *h, const char *s)
{
    uint8_t n[4];
    const uint32_t l = (uint32_t)strlen(s);
    for (int i = 0; i < 4; i++) n[i] = (uint8_t)(l >> (8 * i));
    crypto_generichash_update(h, n, 4);
    crypto_generichash_update(h, (const uint8_t *)s, l);
}

/* Key = BLAKE2b-256(key = k, label NUL | salt). */
static void derive(const uint8_t k[32], const char *label, const uint8_t salt[32], uint8_t out[32])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, k, 32, 32);
    crypto_generichash_update(&h, (const uint8_t *)label, strlen(label) + 1);
    crypto_generichash_update(&h, salt, 32);
    crypto_generichash_final(&h, out, 32);
    sodium_memzero(&h, sizeof h);
}

/* The mac over n plaintext tensors p. */
static void params_mac(const uint8_t mk[32], const uint8_t salt[32], const ng_param *p, size_t n, uint8_t out[32])
{
    uint8_t a[32];
    derive(mk, "nnguard.license.bind.v1.mac", salt, a);
    crypto_generichash_state h;
    crypto_generichash_init(&h, a, 32, 32);
    for (size_t i = 0; i < n; i++) {
        uint8_t nb[8];
        for (int b = 0; b < 8; b++) nb[b] = (uint8_t)((uint64_t)p[i].nbytes >> (8 * b));
        put_lp(&h, p[i].name);
        crypto_generichash_update(&h, nb, 8);
        crypto_generichash_update(&h, p[i].data, p[i].nbytes);
    }
    crypto_generichash_final(&h, out, 32);
    sodium_memzero(&h, sizeof h);
    sodium_memzero(a, sizeof a);
}

static void slot_ad(const uint8_t salt[32], const char *only, const char id[17], uint8_t *ad, size_t *len)
{
    size_t k = 0;
    const size_t lo = strlen(only);
    memcpy(ad, BIND_AD, sizeof BIND_AD); k += sizeof BIND_AD;
    memcpy(ad + k, salt, 32); k += 32;
    for (int i = 0; i < 4; i++) ad[k++] = (uint8_t)(lo >> (8 * i));
    memcpy(ad + k, only, lo); k += lo;
    memcpy(ad + k, id, 16); k += 16;
    *len = k;
}

/* Views of m's tensors with data pointing into base (m's own array or a copy of it). */
static ng_param *views(const ng_model *m, float *base)
{
    const size_t n = ng_model_ntensors(m);
    ng_param *p = ng_calloc(n ? n : 1, sizeof *p);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        ng_model_tensor(m, i, &p[i]);
        p[i].data = (uint8_t *)(base + ng_model_tensor_offset(m, i));
    }
    return p;
}

static ng_status set_meta(ng_model *m, const char *only, const uint8_t salt[32], const uint8_t mac[32], const char *slots)
{
    char hex[65];
    ng_status st = ng_model_meta_set(m, "nnguard.license.bind", "1");
    if (st == NG_OK) st = ng_model_meta_set(m, "nnguard.license.bind_only", only);
    sodium_bin2hex(hex, sizeof hex, salt, 32);
    if (st == NG_OK) st = ng_model_meta_set(m, "nnguard.license.bind_salt", hex);
    sodium_bin2hex(hex, sizeof hex, mac, 32);
    if (st == NG_OK) st = ng_model_meta_set(m, "nnguard.license.bind_mac", hex);
    if (st == NG_OK) st = ng_model_meta_set(m, "nnguard.license.slots", slots);
    return st;
}

ng_status ng_license_bind(ng_model *m, const ng_key *keys, int nkeys, const char *only)
{
    if (ng_license_is_bound(m))
        return ng_fail(NG_E_STATE, "the model is already bound (nnguard.license.bind): bind a model once");
    if (nkeys < 1 || nkeys > NG_LICENSE_MAX_KEYS)
        return ng_fail(NG_E_INVALID, "license bind: 1..%d keys, not %d", NG_LICENSE_MAX_KEYS, nkeys);
    for (int i = 0; i < nkeys; i++)
        if (keys[i].len != NG_LICENSE_KEY_BYTES)
            return ng_fail(NG_E_KEY, "license bind: key %d has %zu bits; license keys have 256", i + 1, keys[i].len * 8);
    if (!only || !*only) only = "*";
    const size_t n = ng_model_ntensors(m), nf = ng_model_nparams(m);
    ng_param *p = views(m, ng_model_params(m));
    if (!p) return NG_E_NOMEM;
    size_t sel = 0;
    for (size_t i = 0; i < n; i++) sel += ng_deeplock_selected(only, p[i].name) != 0;
    if (!sel) { free(p); return ng_fail(NG_E_INVALID, "license bind: the pattern '%s' matches none of the model's %zu tensors", only, n); }
    char *slots = malloc((size_t)nkeys * SLOT_CHARS + 1);
    float *keep = malloc((nf ? nf : 1) * sizeof(float));   /* m is left as it was on failure */
    if (!slots || !keep) { free(p); free(slots); free(keep); return NG_E_NOMEM; }
    memcpy(keep, ng_model_params(m), nf * sizeof(float));
    ng_key mk = {.len = 32};
    uint8_t salt[32], mac[32], sk[32], ct[SLOT_CT], nonce[SLOT_NONCE], ad[sizeof BIND_AD + 32 + 4 + 256 + 16];
    size_t adl, k = 0;
    randombytes_buf(mk.k, 32);
    randombytes_buf(salt, sizeof salt);
    ng_status st = strlen(only) > 256 ? ng_fail(NG_E_INVALID, "license bind: the pattern is longer than 256 characters")
                                      : NG_OK;
    for (int i = 0; i < nkeys && st == NG_OK; i++) {
        char id[17];
        ng_license_key_id(&keys[i], id);
        derive(keys[i].k, "nnguard.license.bind.v1.slot", salt, sk);
        randombytes_buf(nonce, sizeof nonce);
        slot_ad(salt, only, id, ad, &adl);
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, mk.k, 32, ad, adl, NULL, nonce, sk);
        k += (size_t)snprintf(slots + k, 19, "%s%s:", i ? "," : "", id);
        sodium_bin2hex(slots + k, 2 * SLOT_NONCE + 1, nonce, SLOT_NONCE); k += 2 * SLOT_NONCE;
        slots[k++] = ':';
        sodium_bin2hex(slots + k, 2 * SLOT_CT + 1, ct, SLOT_CT); k += 2 * SLOT_CT;
    }
    if (st == NG_OK) {
        params_mac(mk.k, salt, p, n, mac);
        ng_deeplock_options o = ng_deeplock_options_default();
        o.keystream = NG_KS_CTR;
        o.only = only;
        o.threads = 1;
        st = ng_deeplock_lock_params(p, n, &mk, salt, &o);
    }
    if (st == NG_OK) st = set_meta(m, only, salt, mac, slots);
    if (st != NG_OK) {
        memcpy(ng_model_params(m), keep, nf * sizeof(float));
        for (size_t i = 0; i < sizeof bind_keys / sizeof *bind_keys; i++) ng_model_meta_set(m, bind_keys[i], NULL);
    }
    sodium_memzero(keep, nf * sizeof(float));
    ng_key_wipe(&mk);
    sodium_memzero(sk, sizeof sk);
    free(keep); free(slots); free(p);
    return st;
}

static int hex_field(const char *s, size_t nhex, uint8_t *out)
{
    size_t bl;
    const char *end;
    return sodium_hex2bin(out, nhex / 2, s, nhex, NULL, &bl, &end) == 0 && bl == nhex / 2 && end == s + nhex;
}

/* Try every slot of value with sk (no early exit); 1 and mk filled when one opens. -1: malformed. */
static int open_slots(const char *value, const uint8_t sk[32], const uint8_t salt[32], const char *only, uint8_t mk[32])
{
    uint8_t nonce[SLOT_NONCE], ct[SLOT_CT], pt[32], ad[sizeof BIND_AD + 32 + 4 + 256 + 16];
    size_t adl, len = strlen(value);
    int found = 0, nslots = 0;
    if (!len || (len + 1) % SLOT_CHARS) return -1;
    for (const char *s = value; s < value + len; s += SLOT_CHARS, nslots++) {
        char id[17];
        if (s[16] != ':' || s[17 + 2 * SLOT_NONCE] != ':' ||
            (s + SLOT_CHARS - 1 < value + len && s[SLOT_CHARS - 1] != ',')) return -1;
        memcpy(id, s, 16);
        id[16] = 0;
        if (!hex_field(s + 17, 2 * SLOT_NONCE, nonce) || !hex_field(s + 18 + 2 * SLOT_NONCE, 2 * SLOT_CT, ct)) return -1;
        slot_ad(salt, only, id, ad, &adl);
        const int ok = crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, SLOT_CT, ad, adl, nonce, sk) == 0;
        if (ok && !found) memcpy(mk, pt, 32);
        found |= ok;
    }
    sodium_memzero(pt, sizeof pt);
    return nslots > NG_LICENSE_MAX_KEYS ? -1 : found;
}

ng_status ng_license_unbind(ng_model *m, const ng_key *key)
{
    const char *ver = ng_model_meta_get(m, "nnguard.license.bind"), *only = ng_model_meta_get(m, "nnguard.license.bind_only"),
               *shex = ng_model_meta_get(m, "nnguard.license.bind_salt"), *mhex = ng_model_meta_get(m, "nnguard.license.bind_mac"),
               *slots = ng_model_meta_get(m, "nnguard.license.slots");
    if (!ver) return ng_fail(NG_E_STATE, "the model is not bound (no nnguard.license.bind)");
    if (key->len != NG_LICENSE_KEY_BYTES) return ng_fail(NG_E_KEY, "a license key has 256 bits, not %zu", key->len * 8);
    uint8_t salt[32], mac[32], mac2[32], sk[32];
    if (strcmp(ver, "1") || !only || !*only || strlen(only) > 256 || !shex || strlen(shex) != 64 || !hex_field(shex, 64, salt) ||
        !mhex || strlen(mhex) != 64 || !hex_field(mhex, 64, mac) || !slots)
        return ng_fail(NG_E_FORMAT, "the model's nnguard.license.bind* metadata is malformed or of an unknown format "
                       "(format 1 expected)");
    ng_key mk = {.len = 32};
    derive(key->k, "nnguard.license.bind.v1.slot", salt, sk);
    const int r = open_slots(slots, sk, salt, only, mk.k);
    sodium_memzero(sk, sizeof sk);
    char id[17];
    ng_license_key_id(key, id);
    if (r < 0) return ng_fail(NG_E_FORMAT, "the model's nnguard.license.slots is malformed");
    if (!r) return ng_fail(NG_E_KEY, "this license key (id %s) opens none of the bound model's key slots: wrong key, "
                           "a revoked one, or an altered slot", id);
    const size_t n = ng_model_ntensors(m), nf = ng_model_nparams(m);
    float *copy = malloc((nf ? nf : 1) * sizeof(float));
    ng_param *p = copy ? views(m, copy) : NULL;
    ng_status st = p ? NG_OK : NG_E_NOMEM;
    if (st == NG_OK) {
        memcpy(copy, ng_model_params_c(m), nf * sizeof(float));
        ng_deeplock_options o = ng_deeplock_options_default();
        o.keystream = NG_KS_CTR;
        o.only = only;
        o.threads = 1;
        st = ng_deeplock_unlock_params(p, n, &mk, salt, &o);
    }
    if (st == NG_OK) {
        params_mac(mk.k, salt, p, n, mac2);
        if (sodium_memcmp(mac, mac2, 32))
            st = ng_fail(NG_E_AUTH, "the bound model's parameters (or nnguard.license.bind_only) were altered: the key "
                         "opened its slot but the unlocked parameters fail nnguard.license.bind_mac");
    }
    if (st == NG_OK) {
        memcpy(ng_model_params(m), copy, nf * sizeof(float));
        for (size_t i = 0; i < sizeof bind_keys / sizeof *bind_keys; i++) ng_model_meta_set(m, bind_keys[i], NULL);
    }
    if (copy) sodium_memzero(copy, nf * sizeof(float));
    free(copy); free(p);
    ng_key_wipe(&mk);
    sodium_memzero(mac2, sizeof mac2);
    return st;
}
