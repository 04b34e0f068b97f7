/* tests/dl_tutil.h - what the Deep-Lock tests share: temp paths, file helpers, and the format-3
 * derivations recomputed from the text of nnguard/deeplock.h with libsodium and OpenSSL (ECB, no
 * counter mode), independently of src/protect/deeplock. */
#ifndef NG_DL_TUTIL_H
#define NG_DL_TUTIL_H
#include <openssl/evp.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tutil.h"
#include "core/core.h"

static char dl_path_buf[96][512];   /* every tmp() name stays valid for the whole test */
static int dl_path_i;
static inline const char *tmp(const char *name)
{
    char *p = dl_path_buf[dl_path_i++ % 96];
    snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
    return p;
}

static inline int exists(const char *p) { return access(p, F_OK) == 0; }
static inline int file_mode(const char *p) { struct stat st; return stat(p, &st) == 0 ? (int)(st.st_mode & 0777) : -1; }

static inline uint8_t *slurp(const char *p, size_t *n)
{
    uint8_t *d = NULL;
    *n = 0;
    if (ng_read_file(p, (size_t)1 << 30, &d, n) != NG_OK) return NULL;
    return d;
}

static inline int same_file(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *da = slurp(a, &na), *db = slurp(b, &nb);
    int same = da && db && na == nb && memcmp(da, db, na) == 0;
    free(da); free(db);
    return same;
}

/* BLAKE2b(key, label NUL | a), outlen bytes. */
static inline void ref_keyed(const uint8_t *key, size_t klen, const char *label, const void *a, size_t an,
                             uint8_t *out, size_t outlen)
{
    uint8_t msg[512];
    size_t ln = strlen(label) + 1;
    memcpy(msg, label, ln);
    if (an) memcpy(msg + ln, a, an);
    crypto_generichash(out, outlen, msg, ln + an, key, klen);
}

/* L and M of deeplock.h. */
static inline void ref_L(const uint8_t *K, size_t klen, const uint8_t salt[32], uint8_t L[32])
{
    ref_keyed(K, klen, "nnguard.deeplock.v3.lock", salt, 32, L, 32);
}
static inline void ref_M(const uint8_t *K, size_t klen, const uint8_t salt[32], uint8_t M[32])
{
    uint8_t L[32];
    ref_L(K, klen, salt, L);
    ref_keyed(L, 32, "nnguard.deeplock.v3.mac", NULL, 0, M, 32);
}

/* The ctr stream of one tensor: subkey | nonce = BLAKE2b-320(key, label NUL name); block b =
 * AES-256(subkey, nonce || be64(b)), computed block by block with ECB. key: L (format 3, label
 * "nnguard.deeplock.v3.ctr") or the master key (formats 1-2, "nnguard.deeplock.ctr.v2"). */
static inline void ref_ctr(const uint8_t key[32], const char *label, const char *name, uint8_t *ks, size_t n)
{
    uint8_t out[40];
    size_t nb = (n + 15) / 16;
    ref_keyed(key, 32, label, name, strlen(name), out, sizeof out);
    uint8_t *blk = calloc(nb + 1, 16), *enc = calloc(nb + 1, 16);
    for (size_t b = 0; b < nb; b++) {
        memcpy(blk + 16 * b, out + 32, 8);
        for (int j = 0; j < 8; j++) blk[16 * b + 8 + j] = (uint8_t)((uint64_t)b >> (56 - 8 * j));
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0;
    CHECK(c && EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, out, NULL) == 1 && EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
          EVP_EncryptUpdate(c, enc, &len, blk, (int)(16 * nb)) == 1 && len == (int)(16 * nb));
    EVP_CIPHER_CTX_free(c);
    memcpy(ks, enc, n);
    free(blk); free(enc);
}

/* Metadata value as 32 bytes (0 on malformed). */
static inline int meta32(const ng_weights *w, const char *key, uint8_t out[32])
{
    const char *h = ng_weights_meta_get(w, key);
    size_t got = 0;
    return h && strlen(h) == 64 && sodium_hex2bin(out, 32, h, 64, NULL, &got, NULL) == 0 && got == 32;
}

static inline ng_param *param(ng_weights *w, const char *name)
{
    long i = ng_weights_find(w, name);
    return i < 0 ? NULL : ng_weights_param(w, (size_t)i);
}

/* Rewrite a metadata entry of a file into out. */
static inline void set_meta(const char *in, const char *out, const char *key, const char *value)
{
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(in, &w));
    if (!w) return;
    CHECK_OK(ng_weights_meta_set(w, key, value));
    CHECK_OK(ng_weights_save(w, out));
    ng_weights_free(w);
}

/* Text a FILE* received (rewinds it). */
static inline void log_text(FILE *f, char *buf, size_t cap)
{
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    rewind(f);
    if (ftruncate(fileno(f), 0) != 0) buf[0] = buf[0];
}
#endif
