/* protect/deeplock_keystream.h - Deep-Lock key streams (internal; see nnguard/deeplock.h).
 *
 * expand: the FIPS-197 AES-128 key expansion run past round 10 (Rcon keeps doubling in
 *   GF(2^8) mod 0x11b). Stream byte o = byte o%16 of round key 1 + o/16. A cursor holds
 *   one round key; copies of a cursor are checkpoints, so any offset is reached by
 *   stepping forward from the nearest earlier checkpoint.
 * ctr: per tensor, BLAKE2b-448 keyed with the 256-bit master key over
 *   "nnguard.deeplock.ctr.v1" NUL name gives a 32-byte subkey and a 24-byte nonce;
 *   the stream is XChaCha20(subkey, nonce) from byte 0 of the tensor, reached at any
 *   offset with the 64-byte block counter.
 */
#ifndef NG_PROTECT_DEEPLOCK_KEYSTREAM_H
#define NG_PROTECT_DEEPLOCK_KEYSTREAM_H
#include <stddef.h>
#include <stdint.h>

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
/* Write the stream bytes [off, off+n) to out; advances c (which must not be past round 1 + off/16). */
void ng_expand_stream(ng_expand_cursor *c, uint64_t off, uint8_t *out, size_t n);

typedef struct ng_ctr_tensor {
    uint8_t key[32];
    uint8_t nonce[24];
} ng_ctr_tensor;

/* Derive the tensor's subkey and nonce from the master key and the tensor name. */
void ng_ctr_derive(const uint8_t master[32], const char *name, ng_ctr_tensor *t);
/* buf[i] ^= stream[off + i] for i < n. */
void ng_ctr_xor(const ng_ctr_tensor *t, uint64_t off, uint8_t *buf, size_t n);
/* Write the stream bytes [off, off+n) to out. */
void ng_ctr_stream(const ng_ctr_tensor *t, uint64_t off, uint8_t *out, size_t n);

#endif
