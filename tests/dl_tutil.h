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
#include "nnguard/safetensors.h"

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

/* params_mac of deeplock.h over plaintext parameters p[0..n), written out byte by byte. */
static inline void ref_params_mac(const uint8_t M[32], const ng_param *p, size_t n, uint8_t out[32])
{
    static const char tl[] = "nnguard.deeplock.v3.tensor", pl[] = "nnguard.deeplock.v3.params";
    uint8_t *root = malloc(sizeof pl + 8 + 32 * n), *r = root;
    memcpy(r, pl, sizeof pl); r += sizeof pl;
    ng_put_le64(r, n); r += 8;
    for (size_t i = 0; i < n; i++) {
        size_t nl = (p[i].nbytes + (1u << 20) - 1) >> 20;
        const char *dt = ng_dtype_name(p[i].dtype);
        uint8_t *t = malloc(sizeof tl + 256 + 16 * nl), *q = t;
        memcpy(q, tl, sizeof tl); q += sizeof tl;
        ng_put_le32(q, (uint32_t)strlen(p[i].name)); q += 4;
        memcpy(q, p[i].name, strlen(p[i].name)); q += strlen(p[i].name);
        ng_put_le32(q, (uint32_t)strlen(dt)); q += 4;
        memcpy(q, dt, strlen(dt)); q += strlen(dt);
        ng_put_le32(q, (uint32_t)p[i].shape.ndim); q += 4;
        for (int d = 0; d < p[i].shape.ndim; d++) { ng_put_le64(q, (uint64_t)p[i].shape.d[d]); q += 8; }
        ng_put_le64(q, p[i].nbytes); q += 8;
        ng_put_le64(q, nl); q += 8;
        uint8_t g[32];
        ref_keyed(M, 32, "nnguard.deeplock.v3.gmac", NULL, 0, g, 32);
        for (size_t l = 0; l < nl; l++) {   /* GMAC: AES-256-GCM, the leaf as AAD only */
            uint8_t iv[12];
            ng_put_le64(iv, i);
            ng_put_le32(iv + 8, (uint32_t)l);
            size_t off = l << 20, len = p[i].nbytes - off < (1u << 20) ? p[i].nbytes - off : (1u << 20);
            EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
            int ol = 0;
            CHECK(c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, g, iv) == 1 &&   /* 12-byte IV: the default */
                  EVP_EncryptUpdate(c, NULL, &ol, p[i].data + off, (int)len) == 1 && EVP_EncryptFinal_ex(c, NULL, &ol) == 1 &&
                  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, q) == 1);
            EVP_CIPHER_CTX_free(c);
            q += 16;
        }
        crypto_generichash(r, 32, t, (size_t)(q - t), M, 32);
        r += 32;
        free(t);
    }
    crypto_generichash(out, 32, root, (size_t)(r - root), M, 32);
    free(root);
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
/* A safetensors file at PATH: N F32 tensors t<i>.weight of sizes[i] bytes; with DL_ST_STEPS an I64
 * "steps" [3] after t0; values from SEED: N(0, 0.05) floats with DL_ST_NORMAL, else random bytes. */
enum { DL_ST_STEPS = 1, DL_ST_NORMAL = 2 };
static inline void dl_make_st(const char *path, const size_t *sizes, int n, uint64_t seed, unsigned flags)
{
    ng_st_header *h;
    ng_st_header_new(&h);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d.weight", i);
        ng_shape sh = {1, {(int64_t)(sizes[i] / 4)}};
        ng_st_header_add(h, name, NG_DT_F32, &sh);
        if (i == 0 && (flags & DL_ST_STEPS)) { ng_shape s3 = {1, {3}}; ng_st_header_add(h, "steps", NG_DT_I64, &s3); }
    }
    uint8_t *hdr;
    size_t hlen, dn = ng_st_header_data_size(h);
    ng_st_header_serialize(h, &hdr, &hlen);
    uint8_t *data = malloc(dn + 1);
    ng_rng r;
    ng_rng_seed(&r, seed);
    if (flags & DL_ST_NORMAL)
        for (size_t i = 0; i + 4 <= dn; i += 4) { float f = ng_rng_normal(&r) * 0.05f; memcpy(data + i, &f, 4); }
    else
        for (size_t i = 0; i < dn; i++) data[i] = (uint8_t)(ng_rng_u64(&r) >> 13);
    ng_awriter w;
    ng_awrite_open(&w, path, NG_MODE_PUBLIC);
    ng_awrite(&w, hdr, hlen);
    ng_awrite(&w, data, dn);
    CHECK_OK(ng_awrite_commit(&w));
    free(hdr); free(data);
    ng_st_header_free(h);
}
#endif
