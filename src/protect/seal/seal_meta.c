/* protect/seal/seal_meta.c - sealed-file keys, associated data and metadata MACs (format:
 * nnguard/seal.h): keyed BLAKE2b (libsodium crypto_generichash), compared in constant time. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "core/core.h"
#include "formats/weights_impl.h"
#include "nnguard/safetensors.h"
#include "protect/seal/seal_impl.h"

static void put_lp(crypto_generichash_state *h, const char *s)
{
    uint8_t n[4];
    ng_put_le32(n, (uint32_t)strlen(s));
    crypto_generichash_update(h, n, 4);
    crypto_generichash_update(h, (const uint8_t *)s, strlen(s));
}

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    uint8_t b[8];
    ng_put_le64(b, v);
    crypto_generichash_update(h, b, 8);
}

static void start(crypto_generichash_state *h, const uint8_t *key, const char *label, size_t out_len)
{
    crypto_generichash_init(h, key, key ? 32 : 0, out_len);
    crypto_generichash_update(h, (const uint8_t *)label, strlen(label) + 1);
}

static void finish(crypto_generichash_state *h, uint8_t *out, size_t out_len)
{
    crypto_generichash_final(h, out, out_len);
    sodium_memzero(h, sizeof *h);
}

void ng_seal_keys_init(ng_seal_keys *k, const ng_key *key, const uint8_t salt[32])
{
    crypto_generichash_state h;
    crypto_generichash_init(&h, key->k, key->len, 32);
    crypto_generichash_update(&h, (const uint8_t *)"nnguard.seal.v1.file", sizeof "nnguard.seal.v1.file");
    crypto_generichash_update(&h, salt, 32);
    finish(&h, k->F, 32);
    start(&h, k->F, "nnguard.seal.v1.mac", 32);
    finish(&h, k->M, 32);
}

void ng_seal_keys_wipe(ng_seal_keys *k) { sodium_memzero(k, sizeof *k); }

void ng_seal_kcv(const ng_seal_keys *k, const uint8_t salt[32], ng_aead aead, const uint8_t id[32], uint8_t out[32])
{
    crypto_generichash_state h;
    start(&h, k->M, "nnguard.seal.v1.kcv", 32);
    crypto_generichash_update(&h, salt, 32);
    put_lp(&h, ng_aead_name(aead));
    crypto_generichash_update(&h, id, 32);
    finish(&h, out, 32);
}

void ng_seal_graph_mac(const ng_seal_keys *k, const uint8_t graph[32], uint8_t out[32])
{
    crypto_generichash_state h;
    start(&h, k->M, "nnguard.seal.v1.graph", 32);
    crypto_generichash_update(&h, graph, 32);
    finish(&h, out, 32);
}

void ng_seal_field_mac(const ng_seal_keys *k, const char *key, const char *value, uint8_t out[16])
{
    crypto_generichash_state h;
    start(&h, k->M, "nnguard.seal.v1.field", 16);
    put_lp(&h, key);
    put_lp(&h, value);
    finish(&h, out, 16);
}

void ng_seal_tensor_key(const ng_seal_keys *k, uint64_t i, uint8_t out[32])
{
    crypto_generichash_state h;
    start(&h, k->F, "nnguard.seal.v1.tensor", 32);
    put_u64(&h, i);
    finish(&h, out, 32);
}

void ng_seal_tensor_ad(const uint8_t id[32], uint64_t i, uint64_t n, const ng_param *p, uint64_t offset, uint8_t out[32])
{
    crypto_generichash_state h;
    uint8_t nd[4];
    start(&h, NULL, "nnguard.seal.v1.ad", 32);
    crypto_generichash_update(&h, id, 32);
    put_u64(&h, i);
    put_u64(&h, n);
    put_lp(&h, p->name);
    put_lp(&h, ng_dtype_name(p->dtype));
    ng_put_le32(nd, (uint32_t)p->shape.ndim);
    crypto_generichash_update(&h, nd, 4);
    for (int d = 0; d < p->shape.ndim; d++) put_u64(&h, (uint64_t)p->shape.d[d]);
    put_u64(&h, p->nbytes);
    put_u64(&h, offset);
    finish(&h, out, 32);
}

static int hex_exact(const char *hex, uint8_t *out, size_t n)
{
    size_t got = 0;
    return hex && strlen(hex) == 2 * n && sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL) == 0 && got == n;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end) return 0;
    *v = x;
    return 1;
}

#define GET(k) m->get(m->obj, k)

static const char *w_get(const void *o, const char *k) { return ng_weights_meta_get(o, k); }
static ng_status w_set(void *o, const char *k, const char *v) { return ng_weights_meta_set(o, k, v); }
static size_t w_count(const void *o) { return ng_weights_meta_count(o); }
static void w_at(const void *o, size_t i, const char **k, const char **v) { ng_weights_meta_at(o, i, k, v); }
static const char *h_get(const void *o, const char *k) { return ng_st_header_meta_get(o, k); }
static ng_status h_set(void *o, const char *k, const char *v) { return ng_st_header_meta_set(o, k, v); }
static size_t h_count(const void *o) { return ng_st_header_meta_count(o); }
static void h_at(const void *o, size_t i, const char **k, const char **v) { ng_st_header_meta_at(o, i, k, v); }

ng_seal_meta ng_seal_meta_of_weights(ng_weights *w)
{
    return (ng_seal_meta){w, ng_weights_path(w), w_get, w_set, w_count, w_at};
}

ng_seal_meta ng_seal_meta_of_header(ng_st_header *h, const char *name)
{
    return (ng_seal_meta){h, name, h_get, h_set, h_count, h_at};
}

ng_status ng_seal_read_state(const ng_seal_meta *m, ng_seal_state *st)
{
    const char *name = m->name, *ver = GET("nnguard.seal.version"), *aead = GET("nnguard.seal.aead");
    memset(st, 0, sizeof *st);
    if (!ver) return ng_fail(NG_E_STATE, "%s: the model is not sealed; nothing to unseal", name);
    if (strcmp(ver, NG_SEAL_VERSION) != 0)
        return ng_fail(NG_E_UNSUPPORTED, "%s: sealed-file format '%.20s' is not supported (this nnguard reads format %s)",
                       name, ver, NG_SEAL_VERSION);
    int a = ng_aead_parse(aead);
    if (a <= 0) return ng_fail(NG_E_FORMAT, "%s: field nnguard.seal.aead: unknown AEAD '%.40s'", name, aead ? aead : "(missing)");
    st->aead = (ng_aead)a;
    static const char *const hx[] = {"nnguard.seal.id", "nnguard.seal.salt", "nnguard.seal.kcv", "nnguard.seal.graph_mac"};
    uint8_t *dst[] = {st->id, st->salt, st->kcv, st->graph_mac};
    for (int i = 0; i < 4; i++)
        if (!hex_exact(GET(hx[i]), dst[i], 32))
            return ng_fail(NG_E_FORMAT, "%s: field %s is missing or not 64 hex digits", name, hx[i]);
    const char *kdf = GET("nnguard.seal.kdf");
    if (kdf) {
        if (strcmp(kdf, "argon2id") != 0 || !hex_exact(GET("nnguard.seal.kdf_salt"), st->kdf.salt, 16) ||
            !parse_u64(GET("nnguard.seal.kdf_opslimit"), &st->kdf.opslimit) ||
            !parse_u64(GET("nnguard.seal.kdf_memlimit"), &st->kdf.memlimit))
            return ng_fail(NG_E_FORMAT, "%s: fields nnguard.seal.kdf / kdf_salt / kdf_opslimit / kdf_memlimit are malformed", name);
        st->has_kdf = 1;
    }
    st->tags = GET("nnguard.seal.tags");
    st->fields = GET("nnguard.seal.fields");
    st->meta_mac = GET("nnguard.seal.meta_mac");
    if (!st->tags) return ng_fail(NG_E_FORMAT, "%s: field nnguard.seal.tags is missing", name);
    if (!st->fields) return ng_fail(NG_E_AUTH, "%s: field nnguard.seal.fields was removed after sealing", name);
    if (!st->meta_mac) return ng_fail(NG_E_AUTH, "%s: field nnguard.seal.meta_mac was removed after sealing", name);
    return NG_OK;
}

/* Keys bound by meta_mac: every nnguard.* key but tags and meta_mac. */
static int bound(const char *key)
{
    return strncmp(key, "nnguard.", 8) == 0 && strcmp(key, "nnguard.seal.tags") != 0 &&
           strcmp(key, "nnguard.seal.meta_mac") != 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Is key in the space-separated list? */
static int listed(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, key, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

ng_status ng_seal_check_fields(const ng_seal_meta *m, const ng_seal_state *st, const ng_seal_keys *k)
{
    const char *name = m->name, *p = st->fields, *mm = st->meta_mac;
    size_t nf = 0, mlen = strlen(mm);
    for (const char *q = p; *q; q++) nf += *q == ' ';
    nf += *p != 0;
    if (mlen != nf * 32) return ng_fail(NG_E_AUTH, "%s: field nnguard.seal.fields or nnguard.seal.meta_mac was edited "
                                        "after sealing (%zu fields listed, %zu MACs)", name, nf, mlen / 32);
    char key[256];
    for (size_t i = 0; *p; i++) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || len >= sizeof key)
            return ng_fail(NG_E_AUTH, "%s: field nnguard.seal.fields was edited after sealing", name);
        memcpy(key, p, len);
        key[len] = 0;
        const char *v = GET(key);
        uint8_t want[16], got[16];
        if (!v) return ng_fail(NG_E_AUTH, "%s: field %s was removed after sealing", name, key);
        char h[33];
        memcpy(h, mm + 32 * i, 32);
        h[32] = 0;
        if (!hex_exact(h, want, 16)) return ng_fail(NG_E_AUTH, "%s: field nnguard.seal.meta_mac was edited after sealing", name);
        ng_seal_field_mac(k, key, v, got);
        if (sodium_memcmp(want, got, 16) != 0)
            return ng_fail(NG_E_AUTH, "%s: field %s was edited after sealing", name, key);
        if (!e) break;
        p = e + 1;
    }
    for (size_t i = 0; i < m->count(m->obj); i++) {
        const char *kk, *v;
        m->at(m->obj, i, &kk, &v);
        if (bound(kk) && !listed(st->fields, kk))
            return ng_fail(NG_E_AUTH, "%s: field %.200s was added after sealing", name, kk);
    }
    return NG_OK;
}

ng_status ng_seal_write_fields(const ng_seal_meta *m, const ng_seal_keys *k)
{
    size_t n = 0, len = 0, cap = m->count(m->obj) + 1;
    const char **keys = ng_calloc(cap, sizeof *keys);
    if (!keys) return NG_E_NOMEM;
    for (size_t i = 0; i < m->count(m->obj); i++) {
        const char *kk, *v;
        m->at(m->obj, i, &kk, &v);
        if (!bound(kk) || strcmp(kk, "nnguard.seal.fields") == 0) continue;
        if (strchr(kk, ' ') || strlen(kk) >= 256) {
            free(keys);
            return ng_fail(NG_E_FORMAT, "%s: metadata key '%.200s' has a space or is over 255 bytes; it cannot be sealed",
                           m->name, kk);
        }
        keys[n++] = kk;
    }
    keys[n++] = "nnguard.seal.fields";
    qsort(keys, n, sizeof *keys, cmp_str);
    for (size_t i = 0; i < n; i++) len += strlen(keys[i]) + 1;
    char *list = malloc(len + 1), *mac = malloc(32 * n + 1);
    ng_status st = NG_OK;
    if (!list || !mac) st = ng_fail(NG_E_NOMEM, "out of memory");
    if (st == NG_OK) {
        list[0] = 0;
        for (size_t i = 0; i < n; i++) { if (i) strcat(list, " "); strcat(list, keys[i]); }
        st = m->set(m->obj, "nnguard.seal.fields", list);
    }
    if (st == NG_OK) {
        const char *p = GET("nnguard.seal.fields");
        char key[256];
        size_t i = 0;
        while (*p) {
            const char *e = strchr(p, ' ');
            size_t kl = e ? (size_t)(e - p) : strlen(p);
            uint8_t fm[16];
            memcpy(key, p, kl);
            key[kl] = 0;
            ng_seal_field_mac(k, key, GET(key), fm);
            sodium_bin2hex(mac + 32 * i++, 33, fm, 16);
            if (!e) break;
            p = e + 1;
        }
        st = m->set(m->obj, "nnguard.seal.meta_mac", mac);
    }
    free(list);
    free(mac);
    free(keys);
    return st;
}

ng_status ng_seal_clear_meta(const ng_seal_meta *m)
{
    size_t i = 0;
    while (i < m->count(m->obj)) {
        const char *k, *v;
        m->at(m->obj, i, &k, &v);
        if (strncmp(k, "nnguard.seal.", 13) == 0) {
            char *copy = ng_strdup(k);
            if (!copy) return NG_E_NOMEM;
            ng_status st = m->set(m->obj, copy, NULL);
            free(copy);
            if (st != NG_OK) return st;
        } else {
            i++;
        }
    }
    return NG_OK;
}
