/* protect/deeplock_keystream.c - the `expand` (extended AES-128 key schedule) and `ctr`
 * (per-tensor XChaCha20) key streams of Deep-Lock. See deeplock_keystream.h. */
#include <string.h>
#include <sodium.h>
#include "protect/aes_sbox.h"
#include "protect/deeplock_keystream.h"

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

void ng_expand_advance(ng_expand_cursor *c, uint64_t r)
{
    while (c->round < r) ng_expand_next(c);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

void ng_expand_stream(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n)
{
    unsigned skip = (unsigned)(off % 16);
    ng_expand_advance(c, 1 + off / 16);
    while (n > 0) {
        if (skip == 0 && n >= 16) {   /* a whole round key */
            for (int i = 0; i < 4; i++) put_be32(out + 4 * i, c->w[i]);
            out += 16; n -= 16;
        } else {
            uint8_t rk[16];
            for (int i = 0; i < 4; i++) put_be32(rk + 4 * i, c->w[i]);
            size_t take = 16 - skip < n ? 16 - skip : n;
            memcpy(out, rk + skip, take);
            sodium_memzero(rk, sizeof rk);
            out += take; n -= take; skip = 0;
        }
        if (n > 0) ng_expand_next(c);
    }
}

/* ---- ctr ---- */

static const char ng_ctr_label[] = "nnguard.deeplock.ctr.v1";

void ng_ctr_derive(const uint8_t master[32], const char *name, ng_ctr_tensor *t)
{
    uint8_t out[56];
    crypto_generichash_state st;
    crypto_generichash_init(&st, master, 32, sizeof out);
    crypto_generichash_update(&st, (const uint8_t *)ng_ctr_label, sizeof ng_ctr_label); /* with its NUL */
    crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&st, out, sizeof out);
    memcpy(t->key, out, 32);
    memcpy(t->nonce, out + 32, 24);
    sodium_memzero(out, sizeof out);
    sodium_memzero(&st, sizeof st);
}

void ng_ctr_xor(const ng_ctr_tensor *t, uint64_t off, uint8_t *buf, size_t n)
{
    while (n > 0) {
        uint64_t block = off / 64;
        size_t skip = (size_t)(off % 64);
        if (skip == 0 && n >= 64) {
            size_t take = n & ~(size_t)63;
            crypto_stream_xchacha20_xor_ic(buf, buf, take, t->nonce, block, t->key);
            buf += take; n -= take; off += take;
            continue;
        }
        uint8_t ks[64] = {0};
        crypto_stream_xchacha20_xor_ic(ks, ks, sizeof ks, t->nonce, block, t->key);
        size_t take = 64 - skip < n ? 64 - skip : n;
        for (size_t i = 0; i < take; i++) buf[i] ^= ks[skip + i];
        sodium_memzero(ks, sizeof ks);
        buf += take; n -= take; off += take;
    }
}

void ng_ctr_stream(const ng_ctr_tensor *t, uint64_t off, uint8_t *out, size_t n)
{
    memset(out, 0, n);
    ng_ctr_xor(t, off, out, n);
}
