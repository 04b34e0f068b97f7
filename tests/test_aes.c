/* test_aes: AES S-box known answers (FIPS-197), the S-box rebuilt from its definition, the
 * inverse property, AES-NI against the portable table on random data of odd lengths, the
 * `expand` key stream against FIPS-197 appendix A.1 and SCHEMES.md (rounds 1, 10, 11, 12),
 * checkpointed random access, recovery of the master key from one round key (the stream's
 * weakness), and the `ctr` key stream (AES-256-CTR, nonce || 64-bit big-endian block counter):
 * equal to AES-256 of each counter block computed independently with OpenSSL's ECB mode (itself
 * checked against FIPS-197 C.3), from block 0 and at random offsets, across the 2^32-block carry. */
#include <openssl/evp.h>
#include <sodium.h>
#include "tutil.h"
#include "core/core.h"
#include "protect/deeplock/aes_sbox.h"
#include "protect/deeplock/deeplock_keystream.h"

/* AES-256 of nblocks 16-byte blocks, each on its own (ECB, no padding): no counter logic inside. */
static int aes256_ecb(const uint8_t key[32], const uint8_t *in, uint8_t *out, size_t nblocks)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, key, NULL) == 1 &&
                      EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
                      EVP_EncryptUpdate(c, out, &len, in, (int)(16 * nblocks)) == 1 && len == (int)(16 * nblocks);
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* The ctr stream as deeplock.h states it: block b = AES-256(subkey, nonce || be64(b)); bytes
 * [off, off + n). */
static int ctr_ref(const ng_ctr_tensor *t, uint64_t off, uint8_t *out, size_t n)
{
    uint64_t b0 = off / 16, nb = (off % 16 + n + 15) / 16;
    uint8_t *blk = malloc(16 * nb), *ks = malloc(16 * nb);
    for (uint64_t i = 0; i < nb; i++) {
        memcpy(blk + 16 * i, t->nonce, 8);
        for (int j = 0; j < 8; j++) blk[16 * i + 8 + j] = (uint8_t)((b0 + i) >> (56 - 8 * j));
    }
    int ok = aes256_ecb(t->key, blk, ks, nb);
    memcpy(out, ks + off % 16, n);
    free(blk); free(ks);
    return ok;
}

static uint8_t gmul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    while (b) {
        if (b & 1) r ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
        b >>= 1;
    }
    return r;
}

/* FIPS-197 5.1.1: multiplicative inverse then the affine map b ^ rotl(b,1..4) ^ 0x63. */
static uint8_t sbox_def(uint8_t x)
{
    uint8_t inv = 0;
    for (int c = 1; c < 256 && x; c++) if (gmul(x, (uint8_t)c) == 1) { inv = (uint8_t)c; break; }
    uint8_t s = inv;
    for (int i = 1; i <= 4; i++) s ^= (uint8_t)((inv << i) | (inv >> (8 - i)));
    return s ^ 0x63;
}

static void hex16(const char *hex, uint8_t out[16])
{
    size_t got;
    sodium_hex2bin(out, 16, hex, 32, NULL, &got, NULL);
}

int main(void)
{
    CHECK_OK(ng_init());
    CHECK(ng_aes_sbox[0x00] == 0x63);
    CHECK(ng_aes_sbox[0x53] == 0xed);
    CHECK(ng_aes_inv_sbox[0x63] == 0x00);
    int all_def = 1, inv_ok = 1;
    for (int x = 0; x < 256; x++) {
        all_def &= ng_aes_sbox[x] == sbox_def((uint8_t)x);
        inv_ok &= ng_aes_inv_sbox[ng_aes_sbox[x]] == x && ng_aes_sbox[ng_aes_inv_sbox[x]] == x;
    }
    CHECK(all_def);
    CHECK(inv_ok);
    printf("S-box implementation on this CPU: %s\n", ng_aes_impl_name());

    /* both paths on all 256 bytes, then random data of odd lengths, with and without a key stream */
    uint8_t all[256], a[256], b[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    ng_aes_sub_xor(a, all, NULL, 256, NG_AES_PORTABLE);
    ng_aes_sub_xor(b, all, NULL, 256, NG_AES_NI);
    CHECK(memcmp(a, ng_aes_sbox, 256) == 0 && memcmp(b, ng_aes_sbox, 256) == 0);
    ng_aes_inv_sub_xor(a, all, NULL, 256, NG_AES_PORTABLE);
    ng_aes_inv_sub_xor(b, all, NULL, 256, NG_AES_NI);
    CHECK(memcmp(a, ng_aes_inv_sbox, 256) == 0 && memcmp(b, ng_aes_inv_sbox, 256) == 0);
    ng_rng r;
    ng_rng_seed(&r, 7);
    static const size_t lens[] = {1, 3, 15, 17, 31, 33, 255, 1001, 4097, 65537};
    for (size_t li = 0; li < NG_ARRAY_LEN(lens); li++) {
        size_t n = lens[li];
        uint8_t *src = malloc(n), *ks = malloc(n), *p = malloc(n), *q = malloc(n), *back = malloc(n);
        for (size_t i = 0; i < n; i++) { src[i] = (uint8_t)ng_rng_u64(&r); ks[i] = (uint8_t)ng_rng_u64(&r); }
        ng_aes_sub_xor(p, src, ks, n, NG_AES_PORTABLE);
        ng_aes_sub_xor(back, src, ks, n, NG_AES_VAES);
        CHECKF(memcmp(p, back, n) == 0, "lock (vaes), length %zu", n);
        ng_aes_inv_sub_xor(back, p, ks, n, NG_AES_VAES);
        CHECKF(memcmp(back, src, n) == 0, "unlock (vaes), length %zu", n);
        ng_aes_inv_sub_xor(back, p, NULL, n, NG_AES_VAES);   /* plain InvSubBytes */
        int inv_vaes = 1;
        for (size_t i = 0; i < n; i++) inv_vaes &= back[i] == ng_aes_inv_sbox[p[i]];
        CHECKF(inv_vaes, "inverse S-box (vaes), length %zu", n);
        ng_aes_sub_xor(q, src, ks, n, NG_AES_NI);
        CHECKF(memcmp(p, q, n) == 0, "lock, length %zu", n);
        int def = 1;
        for (size_t i = 0; i < n; i++) def &= p[i] == ng_aes_sbox[src[i] ^ ks[i]];
        CHECK(def);
        ng_aes_inv_sub_xor(back, q, ks, n, NG_AES_NI);
        CHECKF(memcmp(back, src, n) == 0, "unlock (aes-ni), length %zu", n);
        ng_aes_inv_sub_xor(back, p, ks, n, NG_AES_PORTABLE);
        CHECKF(memcmp(back, src, n) == 0, "unlock (portable), length %zu", n);
        memcpy(back, src, n);   /* in place */
        ng_aes_sub_xor(back, back, ks, n, NG_AES_AUTO);
        CHECK(memcmp(back, p, n) == 0);
        free(src); free(ks); free(p); free(q); free(back);
    }

    /* expand: FIPS-197 A.1 and the continuation past round 10 */
    uint8_t key[16], want[16], got[16 * 12];
    hex16("2b7e151628aed2a6abf7158809cf4f3c", key);
    ng_expand_cursor c;
    ng_expand_init(&c, key);
    ng_expand_stream(&c, 0, got, sizeof got);   /* round keys 1..12 */
    static const char *kat[][2] = {
        {"1", "a0fafe1788542cb123a339392a6c7605"},
        {"2", "f2c295f27a96b9435935807a7359f67f"},
        {"10", "d014f9a8c9ee2589e13f0cc8b6630ca6"},
        {"11", "47eadde68e04f86f6f3bf4a7d958f801"},
        {"12", "f5aba1d37baf59bc1494ad1bcdcc551a"},
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(kat); i++) {
        int round = atoi(kat[i][0]);
        hex16(kat[i][1], want);
        CHECKF(memcmp(got + 16 * (round - 1), want, 16) == 0, "expand round %d", round);
    }
    /* the weakness deeplock.h warns about: round key 12 alone gives back the master key by
     * running the schedule backwards (w[i-4] = w[i] ^ f(w[i-1])) */
    {
        uint32_t w[4];
        for (int i = 0; i < 4; i++) {
            const uint8_t *q = got + 16 * 11 + 4 * i;
            w[i] = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        }
        for (int round = 12; round >= 1; round--) {
            uint8_t rcon = 1;
            for (int j = 1; j < round; j++) rcon = (uint8_t)((rcon << 1) ^ ((rcon & 0x80) ? 0x1b : 0));
            uint32_t p3 = w[3] ^ w[2], p2 = w[2] ^ w[1], p1 = w[1] ^ w[0];
            uint32_t t = (uint32_t)ng_aes_sbox[(p3 >> 16) & 0xff] << 24 | (uint32_t)ng_aes_sbox[(p3 >> 8) & 0xff] << 16 |
                         (uint32_t)ng_aes_sbox[p3 & 0xff] << 8 | ng_aes_sbox[p3 >> 24];
            w[0] ^= t ^ (uint32_t)rcon << 24;
            w[1] = p1; w[2] = p2; w[3] = p3;
        }
        uint8_t rec[16];
        for (int i = 0; i < 4; i++) {
            rec[4 * i] = (uint8_t)(w[i] >> 24); rec[4 * i + 1] = (uint8_t)(w[i] >> 16);
            rec[4 * i + 2] = (uint8_t)(w[i] >> 8); rec[4 * i + 3] = (uint8_t)w[i];
        }
        CHECK(memcmp(rec, key, 16) == 0);
    }

    /* random access: any offset from a fresh cursor or a checkpoint equals the sequential stream */
    size_t total = 16 * 1000 + 7;
    uint8_t *seq = malloc(total), *part = malloc(total);
    ng_expand_init(&c, key);
    ng_expand_stream(&c, 0, seq, total);
    int ra = 1;
    for (int t = 0; t < 200; t++) {
        uint64_t off = ng_rng_below(&r, (uint32_t)total);
        size_t n = 1 + ng_rng_below(&r, (uint32_t)(total - off));
        ng_expand_cursor f;
        ng_expand_init(&f, key);
        if (t % 2) { ng_expand_advance(&f, 1 + off / 16); }   /* checkpoint */
        ng_expand_stream(&f, off, part, n);
        ra &= memcmp(part, seq + off, n) == 0;
    }
    CHECK(ra);
    /* piecewise consumption continues correctly */
    ng_expand_init(&c, key);
    size_t pos = 0;
    while (pos < total) {
        size_t n = 1 + ng_rng_below(&r, 40);
        if (n > total - pos) n = total - pos;
        ng_expand_stream(&c, pos, part + pos, n);
        pos += n;
    }
    CHECK(memcmp(part, seq, total) == 0);

    /* expand: the AES-NI recurrence equals the portable one, from round 0 and at random offsets
     * (incl. far past round 10, where Rcon has wrapped around GF(2^8) several times) */
    {
        size_t big = 16 * 3000 + 5;
        uint8_t *p1 = malloc(big), *p2 = malloc(big);
        ng_expand_cursor c1, c2;
        ng_expand_init(&c1, key);
        ng_expand_init(&c2, key);
        ng_expand_stream_with(&c1, 0, p1, big, NG_AES_PORTABLE);
        ng_expand_stream_with(&c2, 0, p2, big, NG_AES_NI);
        CHECK(memcmp(p1, p2, big) == 0 && memcmp(p1, seq, 16 * 1000) == 0);
        int same = c1.round == c2.round && c1.rcon == c2.rcon && memcmp(c1.w, c2.w, sizeof c1.w) == 0;
        for (int t = 0; t < 100; t++) {
            uint64_t off = ng_rng_below(&r, 1u << 24);
            size_t n = 1 + ng_rng_below(&r, 200);
            ng_expand_init(&c1, key);
            ng_expand_init(&c2, key);
            ng_expand_advance_with(&c1, off / 32, NG_AES_NI);         /* checkpoints made either way */
            ng_expand_advance_with(&c2, off / 32, NG_AES_PORTABLE);
            ng_expand_stream_with(&c1, off, p1, n, NG_AES_PORTABLE);
            ng_expand_stream_with(&c2, off, p2, n, NG_AES_NI);
            same &= memcmp(p1, p2, n) == 0 && c1.round == c2.round && c1.rcon == c2.rcon;
        }
        CHECK(same);
        free(p1); free(p2);
    }

    /* ctr: the reference itself: FIPS-197 C.3 (AES-256, key 00..1f, plaintext 00112233..ff) */
    {
        uint8_t k32[32], pt[16], ct[16], c3[16];
        for (int i = 0; i < 32; i++) k32[i] = (uint8_t)i;
        for (int i = 0; i < 16; i++) pt[i] = (uint8_t)(0x11 * i);
        hex16("8ea2b7ca516745bfeafc49904b496089", c3);
        CHECK(aes256_ecb(k32, pt, ct, 1) && memcmp(ct, c3, 16) == 0);
    }
    /* subkey/nonce depend on the name; the stream from block 0 and at random offsets equals the
     * reference */
    uint8_t master[32];
    for (int i = 0; i < 32; i++) master[i] = (uint8_t)i;
    ng_ctr_tensor t1, t2;
    ng_ctr_derive(master, NG_CTR_LABEL_V2, "conv1.weight", &t1);
    ng_ctr_derive(master, NG_CTR_LABEL_V2, "conv1.bias", &t2);
    CHECK(memcmp(t1.key, t2.key, 32) != 0 && memcmp(t1.nonce, t2.nonce, 8) != 0);
    /* derivation as documented: BLAKE2b-320 keyed with the master key over label NUL name */
    {
        static const char label[] = "nnguard.deeplock.ctr.v2";
        uint8_t msg[64], out[40];
        memcpy(msg, label, sizeof label);
        memcpy(msg + sizeof label, "conv1.weight", 12);
        crypto_generichash(out, sizeof out, msg, sizeof label + 12, master, 32);
        CHECK(memcmp(out, t1.key, 32) == 0 && memcmp(out + 32, t1.nonce, 8) == 0);
    }
    CHECK_OK(ng_ctr_stream(&t1, 0, seq, total));
    uint8_t *ref = calloc(1, total);
    CHECK(ctr_ref(&t1, 0, ref, total));
    CHECK(memcmp(seq, ref, total) == 0);
    CHECK(memcmp(seq, ref + 16, 16) != 0);   /* blocks differ (the counter moves) */
    ra = 1;
    for (int t = 0; t < 200; t++) {
        uint64_t off = ng_rng_below(&r, (uint32_t)total);
        size_t n = 1 + ng_rng_below(&r, (uint32_t)(total - off));
        ng_ctr_stream(&t1, off, part, n);
        ra &= memcmp(part, seq + off, n) == 0;
    }
    CHECK(ra);
    /* a context continues across calls of any length (what the fused lock pass does) */
    {
        ng_ctr_ctx cx;
        CHECK_OK(ng_ctr_open(&cx, &t1, 5));
        memset(part, 0, total);
        size_t at = 5;
        while (at < total) {
            size_t n = 1 + ng_rng_below(&r, 100);
            if (n > total - at) n = total - at;
            CHECK_OK(ng_ctr_xor(&cx, part + at, part + at, n));
            at += n;
        }
        ng_ctr_close(&cx);
        CHECK(memcmp(part + 5, seq + 5, total - 5) == 0);
    }
    /* far offsets: the 64-bit big-endian counter carries past 2^32 blocks, and high blocks */
    static const uint64_t far[] = {((uint64_t)1 << 32) * 16 - 37, ((uint64_t)1 << 40) * 16 + 3, ((uint64_t)0x0123456789abcdefULL >> 4) * 16 + 9};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        uint8_t fs[100], fr[100];
        CHECK_OK(ng_ctr_stream(&t2, far[i], fs, sizeof fs));
        CHECK(ctr_ref(&t2, far[i], fr, sizeof fr));
        CHECKF(memcmp(fs, fr, sizeof fs) == 0, "ctr at offset %llu", (unsigned long long)far[i]);
    }
    free(seq); free(part); free(ref);
    return tu_done();
}
