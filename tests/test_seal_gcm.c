/* test_seal_gcm: the two AES-256-GCM implementations of sealed models (protect/seal/seal_gcm.h):
 * - the standard AES-256-GCM vectors (McGrew & Viega, "The Galois/Counter Mode of Operation",
 *   test cases 13-16, as in NIST's GCM validation) through each backend: ciphertext and tag, and
 *   back; a flipped bit of the ciphertext, the tag or the associated data is refused;
 * - ipsec-mb and OpenSSL agree byte for byte on random keys, nonces, associated data and lengths
 *   (0 to 3 MiB + 12, around the 16-byte block and the 1 MiB chunk), one context reused across
 *   keys (its expanded-key cache), and each opens what the other sealed;
 * - whole files: sealed with fixed salt and id, in memory and streamed, with one backend or the
 *   other, the four outputs are byte-identical (no format change) and each unseals with the other
 *   backend back to the original; a flipped ciphertext bit is refused with the tensor's name and no
 *   output; NG_SEAL_BACKEND forces a backend for the opens and a bad value is refused by name.
 * Skips the ipsec-mb parts (says so) where the build or the CPU lacks it. */
#include "dl_tutil.h"
#include "nnguard/safetensors.h"
#include "nnguard/seal.h"
#include "protect/seal/seal_gcm.h"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) sscanf(h + 2 * i, "%2hhx", &out[i]);
    return n;
}

typedef struct vec { const char *k, *iv, *p, *a, *c, *t; } vec;
static const vec vecs[] = {
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "", "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static void known_answers(ng_seal_backend b)
{
    ng_gcm *g = NULL;
    CHECK_OK(ng_gcm_new(b, &g));
    if (!g) return;
    for (size_t v = 0; v < sizeof vecs / sizeof *vecs; v++) {
        uint8_t k[32], iv[12], p[64], a[20], c[64], t[16], d[64], tag[16];
        unhex(vecs[v].k, k); unhex(vecs[v].iv, iv);
        size_t n = unhex(vecs[v].p, p), an = unhex(vecs[v].a, a);
        unhex(vecs[v].c, c); unhex(vecs[v].t, t);
        memcpy(d, p, n);
        CHECK(ng_gcm_crypt(g, k, iv, a, an, d, n, tag, 0) == 1);
        CHECKF(memcmp(d, c, n) == 0 && memcmp(tag, t, 16) == 0, "%s: vector %zu", ng_seal_backend_name(b), v);
        CHECK(ng_gcm_crypt(g, k, iv, a, an, d, n, tag, 1) == 1 && memcmp(d, p, n) == 0);
        /* tampering: a ciphertext bit, a tag bit, an associated-data bit */
        if (n) {
            memcpy(d, c, n); d[n / 2] ^= 1;
            CHECKF(ng_gcm_crypt(g, k, iv, a, an, d, n, tag, 1) == 0, "%s: vector %zu flipped ciphertext", ng_seal_backend_name(b), v);
        }
        memcpy(d, c, n); tag[15] ^= 0x80;
        CHECK(ng_gcm_crypt(g, k, iv, a, an, d, n, tag, 1) == 0);
        tag[15] ^= 0x80;
        if (an) {
            memcpy(d, c, n); a[0] ^= 4;
            CHECK(ng_gcm_crypt(g, k, iv, a, an, d, n, tag, 1) == 0);
        }
        iv[11] ^= 1; memcpy(d, c, n);   /* another nonce */
        CHECK(ng_gcm_crypt(g, k, iv, a, an, d, n, tag, 1) == 0);
    }
    ng_gcm_free(g);
}

/* ipsec-mb against OpenSSL on random inputs, one context per backend reused across keys. */
static void agree(void)
{
    static const size_t lens[] = {0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 4095, 4096, 4097, 65537,
                                  (1u << 20) - 3, 1u << 20, 3 * (1u << 20) + 12};
    ng_gcm *o = NULL, *m = NULL;
    CHECK_OK(ng_gcm_new(NG_SEAL_BACKEND_OPENSSL, &o));
    CHECK_OK(ng_gcm_new(NG_SEAL_BACKEND_IPSECMB, &m));
    size_t max = 3 * (1u << 20) + 12;
    uint8_t *p = malloc(max), *x = malloc(max), *y = malloc(max);
    ng_rng r;
    ng_rng_seed(&r, 11);
    for (size_t i = 0; i < max; i++) p[i] = (uint8_t)(ng_rng_u64(&r) >> 7);
    uint8_t key0[32];
    for (size_t li = 0; o && m && li < sizeof lens / sizeof *lens; li++) {
        size_t n = lens[li];
        uint8_t key[32], iv[12], ad[41], tx[16], ty[16];
        for (int i = 0; i < 32; i++) key[i] = (uint8_t)ng_rng_u64(&r);
        if (li == 0) memcpy(key0, key, 32);
        if (li % 5 == 4) memcpy(key, key0, 32);   /* back to an earlier key: the cached expansion is redone */
        for (int i = 0; i < 12; i++) iv[i] = (uint8_t)ng_rng_u64(&r);
        for (int i = 0; i < 41; i++) ad[i] = (uint8_t)ng_rng_u64(&r);
        memcpy(x, p, n); memcpy(y, p, n);
        CHECK(ng_gcm_crypt(o, key, iv, ad, 41, x, n, tx, 0) == 1);
        CHECK(ng_gcm_crypt(m, key, iv, ad, 41, y, n, ty, 0) == 1);
        CHECKF(memcmp(x, y, n) == 0 && memcmp(tx, ty, 16) == 0, "length %zu: ipsec-mb and OpenSSL differ", n);
        CHECK(ng_gcm_crypt(m, key, iv, ad, 41, x, n, tx, 1) == 1 && memcmp(x, p, n) == 0);   /* each opens the other's */
        CHECK(ng_gcm_crypt(o, key, iv, ad, 41, y, n, ty, 1) == 1 && memcmp(y, p, n) == 0);
        if (n) {
            memcpy(x, y, n);
            CHECK(ng_gcm_crypt(m, key, iv, ad, 41, x, n, tx, 0) == 1);
            x[n - 1] ^= 0x40;
            CHECKF(ng_gcm_crypt(m, key, iv, ad, 41, x, n, tx, 1) == 0, "length %zu: flipped last byte accepted", n);
        }
    }
    ng_gcm_free(o); ng_gcm_free(m);
    free(p); free(x); free(y);
}

static void files(void)
{
    ng_key k;
    memset(&k, 0, sizeof k);
    for (int i = 0; i < 32; i++) k.k[i] = (uint8_t)(3 * i + 5);
    k.len = 32;
    ng_deeplock_secret s = {.key = &k};
    uint8_t salt[32], id[32];
    for (int i = 0; i < 32; i++) { salt[i] = (uint8_t)i; id[i] = (uint8_t)(255 - i); }
    const char *st = tmp("m.safetensors");
    static const size_t sizes[] = {3 * (1u << 20) + 12, 4096, 0, 1u << 20};
    dl_make_st(st, sizes, 4, 5, 0);
    ng_seal_options o = ng_seal_options_default();
    o.aead = NG_AEAD_AES256GCM; o.salt = salt; o.id = id; o.threads = 2;
    const char *out[4] = {tmp("o_mem.st"), tmp("m_mem.st"), tmp("o_str.st"), tmp("m_str.st")};
    for (int i = 0; i < 4; i++) {
        o.backend = i % 2 ? NG_SEAL_BACKEND_IPSECMB : NG_SEAL_BACKEND_OPENSSL;
        CHECK_OK(i < 2 ? ng_seal_file(st, out[i], &s, &o) : ng_seal_stream(st, out[i], &s, &o));
    }
    for (int i = 1; i < 4; i++) CHECKF(same_file(out[0], out[i]), "%s differs from %s", out[i], out[0]);
    for (int i = 0; i < 4; i++) {   /* unseal with the other backend, in memory and streamed */
        o.backend = i % 2 ? NG_SEAL_BACKEND_OPENSSL : NG_SEAL_BACKEND_IPSECMB;
        o.threads = 1 + i / 2;
        CHECK_OK(ng_unseal_file(out[i], tmp("u1.st"), &s, &o));
        CHECK(same_file(st, tmp("u1.st")));
        CHECK_OK(ng_unseal_stream(out[i], tmp("u2.st"), &s, &o));
        CHECK(same_file(st, tmp("u2.st")));
    }
    {   /* a flipped bit in chunk 2 of t0: refused by both backends, naming the tensor, nothing written */
        size_t n;
        uint8_t *d = slurp(out[0], &n);
        d[n - (1u << 20) - 4096 - 12 - 1000] ^= 8;   /* in chunk 2 of t0 (t1 and t3 follow it) */
        FILE *f = fopen(tmp("bad.st"), "wb");
        fwrite(d, 1, n, f);
        fclose(f);
        free(d);
        for (int b = NG_SEAL_BACKEND_OPENSSL; b <= NG_SEAL_BACKEND_IPSECMB; b++) {
            o.backend = (ng_seal_backend)b;
            CHECK_ST(ng_unseal_stream(tmp("bad.st"), tmp("u3.st"), &s, &o), NG_E_AUTH);
            CHECKF(strstr(ng_last_error(), "tensor 't0.weight'") && !exists(tmp("u3.st")), "%s", ng_last_error());
            CHECK_ST(ng_unseal_file(tmp("bad.st"), tmp("u3.st"), &s, &o), NG_E_AUTH);
            CHECK(strstr(ng_last_error(), "tensor 't0.weight'") && !exists(tmp("u3.st")));
        }
    }
    /* NG_SEAL_BACKEND: the opens (AUTO) take it; a bad value is refused naming the variable */
    ng_weights *w = NULL, *p = NULL;
    CHECK_OK(ng_weights_open(st, &p));
    const char *env[] = {"openssl", "ipsec-mb", "auto"};
    for (int i = 0; i < 3; i++) {
        setenv("NG_SEAL_BACKEND", env[i], 1);
        ng_seal_backend b;
        CHECK_OK(ng_seal_backend_resolve(NG_SEAL_BACKEND_AUTO, &b));
        CHECK(i == 2 ? b == NG_SEAL_BACKEND_IPSECMB : b == (ng_seal_backend)(i + 1));
        CHECK_OK(ng_seal_open_weights(out[1], &s, &w));
        CHECK(w && p && ng_weights_count(w) == 4 &&
              memcmp(ng_weights_param_c(w, 0)->data, ng_weights_param_c(p, 0)->data, ng_weights_param_c(p, 0)->nbytes) == 0);
        ng_weights_free(w); w = NULL;
    }
    setenv("NG_SEAL_BACKEND", "aesni", 1);
    CHECK_ST(ng_seal_open_weights(out[1], &s, &w), NG_E_INVALID);
    CHECK(w == NULL && strstr(ng_last_error(), "NG_SEAL_BACKEND=aesni"));
    ng_seal_backend b = NG_SEAL_BACKEND_AUTO;
    CHECK_OK(ng_seal_backend_resolve(NG_SEAL_BACKEND_OPENSSL, &b));   /* an explicit choice ignores the variable */
    CHECK(b == NG_SEAL_BACKEND_OPENSSL);
    unsetenv("NG_SEAL_BACKEND");
    ng_weights_free(p);
}

int main(void)
{
    ng_init();
    for (int b = NG_SEAL_BACKEND_AUTO; b <= NG_SEAL_BACKEND_IPSECMB; b++)
        CHECK(ng_seal_backend_parse(ng_seal_backend_name((ng_seal_backend)b)) == b);
    CHECK(ng_seal_backend_parse("aes") == -1);
    known_answers(NG_SEAL_BACKEND_OPENSSL);
    ng_seal_backend b;
    unsetenv("NG_SEAL_BACKEND");
    if (ng_seal_backend_resolve(NG_SEAL_BACKEND_IPSECMB, &b) != NG_OK) {
        printf("test_seal_gcm: SKIP the ipsec-mb parts: %s\n", ng_last_error());
        CHECK_OK(ng_seal_backend_resolve(NG_SEAL_BACKEND_AUTO, &b));
        CHECK(b == NG_SEAL_BACKEND_OPENSSL);
        return tu_done();
    }
    printf("test_seal_gcm: %s against %s\n", ng_gcm_describe(NG_SEAL_BACKEND_IPSECMB),
           ng_gcm_describe(NG_SEAL_BACKEND_OPENSSL));
    CHECK_OK(ng_seal_backend_resolve(NG_SEAL_BACKEND_AUTO, &b));
    CHECK(b == NG_SEAL_BACKEND_IPSECMB);
    known_answers(NG_SEAL_BACKEND_IPSECMB);
    agree();
    files();
    return tu_done();
}
