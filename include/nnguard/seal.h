/* nnguard/seal.h - sealed models: every parameter tensor encrypted and authenticated (AEAD), the
 * file still a valid ONNX / safetensors file; opened in memory with a key, a passphrase or a
 * license (nnguard/license.h). SCHEMES.md section 5.
 *
 * ==== Format (nnguard.seal.version "1") ====
 * K is the 32-byte master key (a 256-bit key file) or Argon2id of the passphrase with the costs
 * and salt in nnguard.seal.kdf_*. BLAKE2b is libsodium's crypto_generichash; labels are ASCII
 * with their NUL; "|" concatenates; lp(x) = u32le length | x; id = nnguard.seal.id, 32 random
 * bytes drawn at sealing (the sealed model's id: licenses name it; it says nothing about the
 * plaintext). salt = nnguard.seal.salt, 32 random bytes per seal.
 *     F    = BLAKE2b-256(key = K, "nnguard.seal.v1.file" NUL | salt)        file key
 *     M    = BLAKE2b-256(key = F, "nnguard.seal.v1.mac" NUL)                 MAC key
 *     kcv  = BLAKE2b-256(key = M, "nnguard.seal.v1.kcv" NUL | salt | lp(aead) | id)
 *     K_i  = BLAKE2b-256(key = F, "nnguard.seal.v1.tensor" NUL | u64le i)    subkey of parameter i
 *     A_i  = BLAKE2b-256("nnguard.seal.v1.ad" NUL | id | u64le i | u64le n | lp(name) | lp(dtype
 *            name, "F32") | u32le ndim | ndim x u64le dim | u64le nbytes | u64le offset)
 *            n = number of parameters, offset = sum of the nbytes of parameters 0..i-1.
 * Parameters are those of nnguard/weights.h, in its order. Parameter i's bytes are cut into
 * chunks of 1 MiB (NG_SEAL_CHUNK; the last shorter; an empty tensor has none); chunk c is
 * encrypted in place (ciphertext as long as the plaintext, so the tensor keeps its dtype,
 * shape and place) with
 *     aead "aes256gcm":          AES-256-GCM, key K_i, 96-bit nonce u64le c | 0^4 (computed by Intel's
 *                                ipsec-mb or by OpenSSL EVP: the same bytes; see ng_seal_backend)
 *     aead "xchacha20poly1305":  XChaCha20-Poly1305-IETF (libsodium), key K_i, nonce u64le c | 0^16
 * associated data A_i | u64le c | u8 final (1 on the tensor's last chunk), and a 16-byte tag.
 * Every (K_i, nonce) is used once: K_i is new for every seal (fresh salt). A changed byte, name,
 * dtype, shape, position, a swap of two tensors, a moved, dropped or reordered chunk all fail
 * that tensor's tag. sealing picks aes256gcm when the CPU has AES-NI and PCLMUL
 * (crypto_aead_aes256gcm_is_available), xchacha20poly1305 otherwise, or what the caller asks.
 *
 * Metadata written by seal (all under nnguard.seal.; every other key is kept as it was):
 *   nnguard.seal.version    "1"
 *   nnguard.seal.aead       "aes256gcm" | "xchacha20poly1305"
 *   nnguard.seal.id         64 hex digits
 *   nnguard.seal.salt       64 hex digits
 *   nnguard.seal.kcv        64 hex digits (key check value, above)
 *   nnguard.seal.kdf, nnguard.seal.kdf_salt, nnguard.seal.kdf_opslimit, nnguard.seal.kdf_memlimit
 *                           passphrase keys only: "argon2id", 32 hex digits, decimal, decimal
 *   nnguard.seal.graph_mac  BLAKE2b-256(key = M, "nnguard.seal.v1.graph" NUL | graph digest):
 *                           the graph digest of nnguard/weights.h (nodes, attributes, non-float
 *                           tensors with their bytes, every parameter's name, dtype, shape)
 *   nnguard.seal.tags       hex of every chunk's tag, parameter 0 chunk 0 first (32 digits each)
 *   nnguard.seal.fields     the nnguard.* keys bound at sealing, sorted (strcmp), separated by
 *                           one space: every nnguard.* key of the sealed file except
 *                           nnguard.seal.tags and nnguard.seal.meta_mac (so it lists itself and
 *                           the Deep-Lock metadata of a model locked before sealing)
 *   nnguard.seal.meta_mac   hex of BLAKE2b-128(key = M, "nnguard.seal.v1.field" NUL | lp(key) |
 *                           lp(value)) for each key of nnguard.seal.fields in that order
 * Tags and MACs are compared in constant time.
 *
 * Unseal (and every open) checks, in this order, before any plaintext is returned or written:
 * the file is sealed (NG_E_STATE) in format 1 (NG_E_UNSUPPORTED) with well-formed fields
 * (NG_E_FORMAT naming the field); kcv (NG_E_KEY: wrong key, or salt / aead / id edited); each
 * nnguard.* field against its MAC (NG_E_AUTH naming the field edited, added or removed); the
 * number of tags; every chunk's tag (NG_E_AUTH naming the tensor); graph_mac (NG_E_AUTH). On any
 * failure the decrypted bytes are wiped. Metadata keys outside nnguard.* are not authenticated.
 *
 * Lock then seal: a Deep-Locked model seals like any other (its nnguard.* lock metadata is bound
 * by meta_mac); opening it with a key unseals then unlocks with the same key. Sealing a sealed
 * model is refused (NG_E_STATE).
 *
 *     ng_key k;  ng_key_load("model.key", NULL, 0, &k);
 *     ng_deeplock_secret s = { .key = &k };
 *     ng_seal_file("model.onnx", "sealed.onnx", &s, NULL);
 *     ng_model *m;  ng_seal_open_model("sealed.onnx", &s, &m);   // plaintext only in memory
 *     ng_key_wipe(&k);
 */
#ifndef NNGUARD_SEAL_H
#define NNGUARD_SEAL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "status.h"
#include "weights.h"
#include "model.h"
#include "keys.h"
#include "deeplock.h"

#define NG_SEAL_CHUNK ((size_t)1 << 20)

typedef enum ng_aead { NG_AEAD_AUTO = 0, NG_AEAD_AES256GCM, NG_AEAD_XCHACHA20POLY1305 } ng_aead;
/* "aes256gcm" / "xchacha20poly1305" ("auto" for NG_AEAD_AUTO); parse returns -1 for anything else. */
const char *ng_aead_name(ng_aead a);
int         ng_aead_parse(const char *s);

/* Which library computes AES-256-GCM (both give the same bytes: the choice is speed only, never
 * recorded in a file). AUTO: the environment variable NG_SEAL_BACKEND ("openssl", "ipsec-mb" or
 * "auto") when set, else ipsec-mb where the build has it (libipsec-mb) and the CPU has AES-NI and
 * PCLMULQDQ (its VAES / AVX-512 kernels where the CPU has those: ~3x OpenSSL 3.0's GCM), else OpenSSL. */
typedef enum ng_seal_backend { NG_SEAL_BACKEND_AUTO = 0, NG_SEAL_BACKEND_OPENSSL, NG_SEAL_BACKEND_IPSECMB } ng_seal_backend;
/* "auto" / "openssl" / "ipsec-mb"; parse returns -1 for anything else. */
const char *ng_seal_backend_name(ng_seal_backend b);
int         ng_seal_backend_parse(const char *s);
/* The implementation want gives here (never AUTO): NG_E_INVALID naming NG_SEAL_BACKEND when it holds
 * something else, NG_E_UNSUPPORTED when ipsec-mb is asked for and not available. */
ng_status   ng_seal_backend_resolve(ng_seal_backend want, ng_seal_backend *got);

typedef struct ng_seal_options {
    ng_aead        aead;       /* seal: NG_AEAD_AUTO picks AES-256-GCM with AES-NI, else XChaCha20 */
    ng_seal_backend backend;   /* AES-256-GCM implementation (AUTO: see above); opens use AUTO */
    int            threads;    /* workers (0 = one per core) */
    const ng_kdf_params *kdf;  /* seal with a passphrase: these salt/costs (tests); NULL = fresh */
    const uint8_t *salt;       /* seal: these 32 bytes as the salt (tests only!); NULL = fresh */
    const uint8_t *id;         /* seal: these 32 bytes as nnguard.seal.id (tests, fuzz seeds); NULL = fresh */
} ng_seal_options;
ng_seal_options ng_seal_options_default(void);

/* 1 when w carries nnguard.seal.version. */
int       ng_seal_is_sealed(const ng_weights *w);
/* The sealed model's id (nnguard.seal.id): NG_E_STATE when not sealed, NG_E_FORMAT when malformed. */
ng_status ng_seal_id(const ng_weights *w, uint8_t id[32]);
/* The 256-bit key of sealed model w for secret s (the key, or Argon2id of the passphrase with
 * the model's kdf fields), checked against nnguard.seal.kcv (NG_E_KEY): the key a license carries. */
ng_status ng_seal_key(const ng_weights *w, const ng_deeplock_secret *s, ng_key *out);
/* Seal w in memory (the secret's key must have 256 bits). */
ng_status ng_seal(ng_weights *w, const ng_deeplock_secret *s, const ng_seal_options *o);
/* Check and decrypt w in memory, removing the nnguard.seal.* metadata; on failure the parameters
 * hold neither plaintext nor valid ciphertext (wiped): discard w. */
ng_status ng_unseal(ng_weights *w, const ng_deeplock_secret *s, const ng_seal_options *o);

/* Whole files in memory: read, (un)seal, write atomically (nothing written on failure). The
 * output of unseal is created 0600. */
ng_status ng_seal_file(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o);
ng_status ng_unseal_file(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o);

/* safetensors files of any size with bounded memory (16 MiB per core) on all cores: the same output and
 * the same checks as the functions above; the output gets its name only when every check passed. */
ng_status ng_seal_stream(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o);
ng_status ng_unseal_stream(const char *in, const char *out, const ng_deeplock_secret *s, const ng_seal_options *o);

/* Open a model file or buffer for use: unseal it in memory when sealed, then unlock it when
 * Deep-Locked (same secret); a plain file is returned as it is. Plaintext never touches disk; on
 * failure nothing is returned and decrypted bytes are wiped. Free with ng_weights_free. */
ng_status ng_seal_open_weights(const char *path, const ng_deeplock_secret *s, ng_weights **out);
ng_status ng_seal_open_weights_buffer(const void *buf, size_t len, ng_format fmt, const char *name,
                                      const ng_deeplock_secret *s, ng_weights **out);
/* The same on weights already opened (w is freed on failure): what the functions above run. */
ng_status ng_seal_open_opened(ng_weights *w, const ng_deeplock_secret *s, ng_weights **out);
/* Same, then build the engine model (ONNX; safetensors: NG_E_UNSUPPORTED, see ng_deeplock_open_model). */
ng_status ng_seal_open_model(const char *path, const ng_deeplock_secret *s, ng_model **out);
ng_status ng_seal_open_model_buffer(const void *buf, size_t len, const char *name, const ng_deeplock_secret *s,
                                    ng_model **out);

#endif
