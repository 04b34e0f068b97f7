/* protect/deeplock_keystream.c - the `expand` (extended AES-128 key schedule) and `ctr`
 * (per-tensor AES-256-CTR through OpenSSL EVP) key streams of Deep-Lock. See deeplock_keystream.h. */
#include <string.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include "protect/deeplock/aes_sbox.h"
#include "protect/deeplock/deeplock_keystream.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NG_HAVE_X86 1
#endif

/* ---- expand ---- */

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Multiply by x in GF(2^8) mod x^8 + x^4 + x^3 + x + 1 (0x11b). */
static uint8_t xtime(uint8_t a) { return (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0)); }

void ng_expand_init(ng_expand_cursor *c, const uint8_t key[16])
{
    for (int i = 0; i < 4; i++) c->w[i] = be32(key + 4 * i);
    c->rcon = 0x01;
    c->round = 0;
}

/* FIPS-197 5.2 for Nk = 4: w[i] = w[i-4] ^ SubWord(RotWord(w[i-1])) ^ Rcon when i % 4 == 0,
 * else w[i] = w[i-4] ^ w[i-1]. */
void ng_expand_next(ng_expand_cursor *c)
{
    uint32_t t = c->w[3];
    t = (uint32_t)ng_aes_sbox[(t >> 16) & 0xff] << 24 | (uint32_t)ng_aes_sbox[(t >> 8) & 0xff] << 16 |
        (uint32_t)ng_aes_sbox[t & 0xff] << 8 | ng_aes_sbox[t >> 24];
    t ^= (uint32_t)c->rcon << 24;
    c->w[0] ^= t;
    c->w[1] ^= c->w[0];
    c->w[2] ^= c->w[1];
    c->w[3] ^= c->w[2];
    c->rcon = xtime(c->rcon);
    c->round++;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void advance_portable(ng_expand_cursor *c, uint64_t r)
{
    while (c->round < r) ng_expand_next(c);
}

static void stream_portable(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n)
{
    unsigned skip = (unsigned)(off % 16);
    advance_portable(c, 1 + off / 16);
    while (n > 0) {
        uint8_t rk[16];
        for (int i = 0; i < 4; i++) put_be32(rk + 4 * i, c->w[i]);
        size_t take = 16 - skip < n ? 16 - skip : n;
        memcpy(out, rk + skip, take);
        sodium_memzero(rk, sizeof rk);
        out += take; n -= take; skip = 0;
        if (n > 0) ng_expand_next(c);
    }
}

#ifdef NG_HAVE_X86
/* The round key in a register as its 16 stream bytes (w0 big-endian first). One round:
 * t = SubWord(RotWord(w3)) ^ Rcon in every column (AESENCLAST of RotWord(w3) broadcast to all
 * columns, where ShiftRows changes nothing, with Rcon as the round key), and the new words are the
 * prefix XOR w0, w0^w1, w0^w1^w2, w0^w1^w2^w3 each XORed with t. */
__attribute__((target("aes,ssse3")))
static __m128i ni_next(__m128i k, uint8_t rcon)
{
    const __m128i rot = _mm_setr_epi8(13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12);
    __m128i t = _mm_aesenclast_si128(_mm_shuffle_epi8(k, rot), _mm_set1_epi32(rcon));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 8));
    return _mm_xor_si128(k, t);
}

__attribute__((target("aes,ssse3")))
static __m128i ni_load(const ng_expand_cursor *c)
{
    uint8_t b[16];
    for (int i = 0; i < 4; i++) put_be32(b + 4 * i, c->w[i]);
    __m128i k = _mm_loadu_si128((const __m128i *)b);
    sodium_memzero(b, sizeof b);
    return k;
}

__attribute__((target("aes,ssse3")))
static void ni_save(ng_expand_cursor *c, __m128i k)
{
    uint8_t b[16];
    _mm_storeu_si128((__m128i *)b, k);
    for (int i = 0; i < 4; i++) c->w[i] = be32(b + 4 * i);
    sodium_memzero(b, sizeof b);
}

__attribute__((target("aes,ssse3")))
static void advance_ni(ng_expand_cursor *c, uint64_t r)
{
    if (c->round >= r) return;
    __m128i k = ni_load(c);
    uint8_t rc = c->rcon;
    for (uint64_t i = c->round; i < r; i++) { k = ni_next(k, rc); rc = xtime(rc); }
    ni_save(c, k);
    c->rcon = rc;
    c->round = r;
}

__attribute__((target("aes,ssse3")))
static void stream_ni(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n)
{
    unsigned skip = (unsigned)(off % 16);
    advance_ni(c, 1 + off / 16);
    __m128i k = ni_load(c);
    uint8_t rc = c->rcon;
    uint64_t round = c->round;
    while (n > 0) {
        if (skip == 0 && n >= 16) {   /* a whole round key */
            _mm_storeu_si128((__m128i *)out, k);
            out += 16; n -= 16;
        } else {
            uint8_t rk[16];
            _mm_storeu_si128((__m128i *)rk, k);
            size_t take = 16 - skip < n ? 16 - skip : n;
            memcpy(out, rk + skip, take);
            sodium_memzero(rk, sizeof rk);
            out += take; n -= take; skip = 0;
        }
        if (n > 0) { k = ni_next(k, rc); rc = xtime(rc); round++; }
    }
    ni_save(c, k);
    c->rcon = rc;
    c->round = round;
}
#endif

static int expand_ni(ng_aes_impl impl)
{
#ifdef NG_HAVE_X86
    return impl != NG_AES_PORTABLE && ng_aes_ni_available();
#else
    (void)impl;
    return 0;
#endif
}

void ng_expand_advance_with(ng_expand_cursor *c, uint64_t r, ng_aes_impl impl)
{
#ifdef NG_HAVE_X86
    if (expand_ni(impl)) { advance_ni(c, r); return; }
#endif
    advance_portable(c, r);
}

void ng_expand_stream_with(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n, ng_aes_impl impl)
{
#ifdef NG_HAVE_X86
    if (expand_ni(impl)) { stream_ni(c, off, out, n); return; }
#endif
    stream_portable(c, off, out, n);
}

void ng_expand_advance(ng_expand_cursor *c, uint64_t r) { ng_expand_advance_with(c, r, NG_AES_AUTO); }

void ng_expand_stream(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n)
{
    ng_expand_stream_with(c, off, out, n, NG_AES_AUTO);
}

/* ---- ctr ---- */

void ng_ctr_derive(const uint8_t key[32], const char *label, const char *name, ng_ctr_tensor *t)
{
    uint8_t out[40];
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, sizeof out);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1); /* with its NUL */
    crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&st, out, sizeof out);
    memcpy(t->key, out, 32);
    memcpy(t->nonce, out + 32, 8);
    sodium_memzero(out, sizeof out);
    sodium_memzero(&st, sizeof st);
}

void ng_ctr_close(ng_ctr_ctx *c)
{
    EVP_CIPHER_CTX_free(c->evp);   /* frees and cleanses the key schedule; NULL is fine */
    c->evp = NULL;
}

ng_status ng_ctr_open(ng_ctr_ctx *c, const ng_ctr_tensor *t, uint64_t off)
{
    uint8_t iv[16], skip[16] = {0};
    uint64_t block = off / 16;
    memcpy(iv, t->nonce, 8);
    for (int i = 0; i < 8; i++) iv[8 + i] = (uint8_t)(block >> (56 - 8 * i));
    c->evp = EVP_CIPHER_CTX_new();
    if (!c->evp) return ng_fail(NG_E_NOMEM, "AES-256-CTR: out of memory for an OpenSSL cipher context");
    int ok = EVP_EncryptInit_ex(c->evp, EVP_aes_256_ctr(), NULL, t->key, iv) == 1;
    int len = 0;
    if (ok && off % 16) ok = EVP_EncryptUpdate(c->evp, skip, &len, skip, (int)(off % 16)) == 1;
    OPENSSL_cleanse(skip, sizeof skip);
    OPENSSL_cleanse(iv, sizeof iv);
    if (!ok) {
        ng_ctr_close(c);
        return ng_fail(NG_E_INTERNAL, "AES-256-CTR: OpenSSL EVP_EncryptInit/Update failed (libcrypto without AES-256-CTR?)");
    }
    return NG_OK;
}

ng_status ng_ctr_xor(ng_ctr_ctx *c, uint8_t *dst, const uint8_t *src, size_t n)
{
    while (n > 0) {
        int take = n > (1u << 30) ? 1 << 30 : (int)n, len = 0;
        if (EVP_EncryptUpdate(c->evp, dst, &len, src, take) != 1 || len != take)
            return ng_fail(NG_E_INTERNAL, "AES-256-CTR: OpenSSL EVP_EncryptUpdate failed");
        dst += take; src += take; n -= (size_t)take;
    }
    return NG_OK;
}

ng_status ng_ctr_stream(const ng_ctr_tensor *t, uint64_t off, uint8_t *out, size_t n)
{
    ng_ctr_ctx c;
    memset(out, 0, n);
    ng_status st = ng_ctr_open(&c, t, off);
    if (st != NG_OK) return st;
    st = ng_ctr_xor(&c, out, out, n);
    ng_ctr_close(&c);
    return st;
}

/* ---- GMAC ---- */

void ng_gmac_close(ng_gmac_ctx *c)
{
    EVP_CIPHER_CTX_free(c->evp);
    c->evp = NULL;
}

ng_status ng_gmac_open(ng_gmac_ctx *c, const uint8_t key[32], const uint8_t iv[12])
{
    c->evp = EVP_CIPHER_CTX_new();
    if (!c->evp) return ng_fail(NG_E_NOMEM, "GMAC: out of memory for an OpenSSL cipher context");
    if (EVP_EncryptInit_ex(c->evp, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->evp, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
        EVP_EncryptInit_ex(c->evp, NULL, NULL, key, iv) != 1) {
        ng_gmac_close(c);
        return ng_fail(NG_E_INTERNAL, "GMAC: OpenSSL EVP_EncryptInit failed (libcrypto without AES-256-GCM?)");
    }
    return NG_OK;
}

ng_status ng_gmac_update(ng_gmac_ctx *c, const uint8_t *d, size_t n)
{
    while (n > 0) {
        int take = n > (1u << 30) ? 1 << 30 : (int)n, len = 0;
        if (EVP_EncryptUpdate(c->evp, NULL, &len, d, take) != 1)
            return ng_fail(NG_E_INTERNAL, "GMAC: OpenSSL EVP_EncryptUpdate failed");
        d += take; n -= (size_t)take;
    }
    return NG_OK;
}

ng_status ng_gmac_final(ng_gmac_ctx *c, uint8_t tag[16])
{
    int len = 0;
    ng_status st = NG_OK;
    if (EVP_EncryptFinal_ex(c->evp, NULL, &len) != 1 || EVP_CIPHER_CTX_ctrl(c->evp, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
        st = ng_fail(NG_E_INTERNAL, "GMAC: OpenSSL EVP_EncryptFinal failed");
    ng_gmac_close(c);
    return st;
}
