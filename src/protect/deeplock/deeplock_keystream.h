/* protect/deeplock_keystream.h - Deep-Lock key streams (internal; see nnguard/deeplock.h).
 *
 * expand: the FIPS-197 AES-128 key expansion run past round 10 (Rcon keeps doubling in
 *   GF(2^8) mod 0x11b). Stream byte o = byte o%16 of round key 1 + o/16. A cursor holds
 *   one round key; copies of a cursor are checkpoints, so any offset is reached by
 *   stepping forward from the nearest earlier checkpoint.
 * ctr: per tensor, BLAKE2b-320 keyed with a 256-bit key over label NUL name gives a 32-byte
 *   subkey and an 8-byte nonce (format 3: the per-lock key L and "nnguard.deeplock.v3.ctr";
 *   formats 1-2: the master key and "nnguard.deeplock.ctr.v2"); the stream is AES-256-CTR(subkey) with the 16-byte counter block
 *   nonce || big-endian 64-bit block number, block 0 at byte 0 of the tensor. Byte o is
 *   byte o%16 of block o/16, so a context opened at any offset starts there (OpenSSL EVP,
 *   AES-NI/VAES inside; one EVP context per worker, freed and wiped by ng_ctr_close).
 */
#ifndef NG_PROTECT_DEEPLOCK_KEYSTREAM_H
#define NG_PROTECT_DEEPLOCK_KEYSTREAM_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "nnguard/status.h"
#include "protect/deeplock/aes_sbox.h"

typedef struct ng_expand_cursor {
    uint32_t w[4];      /* round key `round`, words big-endian as in FIPS-197 */
    uint8_t  rcon;      /* Rcon used to make round `round + 1` */
    uint64_t round;     /* 0 = the master key itself */
} ng_expand_cursor;

/* Cursor at round 0 (the master key). */
void ng_expand_init(ng_expand_cursor *c, const uint8_t key[16]);
/* Step forward one round. */
void ng_expand_next(ng_expand_cursor *c);
/* Step forward to round r (r >= c->round). */
void ng_expand_advance(ng_expand_cursor *c, uint64_t r);
/* Write the stream bytes [off, off+n) to out; advances c (which must not be past round 1 + off/16)
 * to the round holding the last byte. */
void ng_expand_stream(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n);
/* The same with a chosen implementation: the portable recurrence, or AES-NI (AESENCLAST does
 * SubWord of the rotated last word in all columns at once; NG_AUTO picks it when available). */
void ng_expand_advance_with(ng_expand_cursor *c, uint64_t r, ng_aes_impl impl);
void ng_expand_stream_with(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n, ng_aes_impl impl);

typedef struct ng_ctr_tensor {
    uint8_t key[32];
    uint8_t nonce[8];
} ng_ctr_tensor;

/* An AES-256-CTR stream positioned at a byte offset of one tensor's key stream. */
typedef struct ng_ctr_ctx {
    EVP_CIPHER_CTX *evp;
} ng_ctr_ctx;

#define NG_CTR_LABEL_V3 "nnguard.deeplock.v3.ctr"   /* keyed with the per-lock key L */
#define NG_CTR_LABEL_V2 "nnguard.deeplock.ctr.v2"   /* formats 1-2: keyed with the master key */
/* Derive the tensor's subkey and nonce: BLAKE2b-320(key = key, label NUL name). */
void ng_ctr_derive(const uint8_t key[32], const char *label, const char *name, ng_ctr_tensor *t);
/* Open a context at stream byte off (NG_E_NOMEM / NG_E_INTERNAL when OpenSSL fails; c is then
 * closed). The context holds its own key schedule, t may be wiped after this. */
ng_status ng_ctr_open(ng_ctr_ctx *c, const ng_ctr_tensor *t, uint64_t off);
/* dst[i] = src[i] ^ stream[pos + i] for i < n, pos the context's position; advances it by n.
 * dst may equal src. */
ng_status ng_ctr_xor(ng_ctr_ctx *c, uint8_t *dst, const uint8_t *src, size_t n);
/* Free the context (OpenSSL cleanses the key schedule); safe on a closed context. */
void ng_ctr_close(ng_ctr_ctx *c);
/* Write the stream bytes [off, off+n) to out. */
ng_status ng_ctr_stream(const ng_ctr_tensor *t, uint64_t off, uint8_t *out, size_t n);

/* GMAC (AES-256-GCM over associated data only, OpenSSL EVP: PCLMULQDQ/VPCLMULQDQ): the bulk MAC
 * of the params_mac tree's leaves. key: 32 bytes, iv: 12 bytes, used once per key. */
typedef struct ng_gmac_ctx { EVP_CIPHER_CTX *evp; } ng_gmac_ctx;
ng_status ng_gmac_open(ng_gmac_ctx *c, const uint8_t key[32], const uint8_t iv[12]);
ng_status ng_gmac_update(ng_gmac_ctx *c, const uint8_t *d, size_t n);
/* Write the 16-byte tag and close the context (also on failure). */
ng_status ng_gmac_final(ng_gmac_ctx *c, uint8_t tag[16]);
void      ng_gmac_close(ng_gmac_ctx *c);

#endif
