/* nnguard/deeplock.h - Deep-Lock: every parameter byte locked with the AES S-box under a key stream.
 *
 * SCHEMES.md section 1. A tensor's bytes b_0..b_{n-1} (little-endian elements, row-major; any
 * float dtype: F32, F16, BF16, F64) are locked as c_j = S(b_j XOR k_j) and unlocked as
 * b_j = S^-1(c_j) XOR k_j, S the AES S-box. Locked values are bit patterns (NaN payloads,
 * infinities, denormals) and are only ever copied as bytes, so unlock is bit-exact.
 * Shapes, dtypes, names and the rest of the file stay as they were: a locked model is a valid
 * ONNX / safetensors file that computes garbage.
 *
 * Key streams (k_j):
 *   ctr (default): 256-bit master key K. For each locked tensor (name N):
 *       subkey | nonce = BLAKE2b(key = K, out = 40 bytes, "nnguard.deeplock.ctr.v2" NUL N)
 *       (crypto_generichash; 32-byte subkey, 8-byte nonce); the stream is AES-256-CTR under
 *       the subkey with the 128-bit counter block  nonce (8 bytes) || b (64-bit big-endian):
 *       k_j = byte j%16 of AES-256(subkey, nonce || be64(j/16)), block 0 at the tensor's first
 *       byte (OpenSSL EVP_aes_256_ctr; AES-NI/VAES). Any tensor, any byte range, any thread,
 *       independently. One key per model: two models locked under the same key leak the XOR
 *       of same-named tensors. (Version 1 files used XChaCha20 here and are refused.)
 *   expand (the paper's): 128-bit master key. The FIPS-197 AES-128 key expansion continued past
 *       round 10 with the same recurrence (Rcon doubles in GF(2^8) mod 0x11b); the stream is
 *       round keys 1, 2, 3, ... concatenated, running continuously over the locked tensors in
 *       order (four float32 parameters per round key).
 *       WARNING: this stream is weak. The key schedule is invertible: anyone who learns one
 *       round key computes every other round key and the master key (tests/test_aes.c does it
 *       from round 12), and unlocks the whole model. 16 known plaintext bytes on a round-key
 *       boundary are enough (k = S^-1(c) XOR b), e.g. a bias left at zero. Use ctr.
 *
 * Locked tensors: the file's parameters (nnguard/weights.h order) whose names match the
 * --only pattern (fnmatch, flags 0; a comma-separated list of patterns; default "*").
 *
 * Metadata written by lock (ONNX metadata_props / safetensors __metadata__), removed by unlock:
 *   nnguard.scheme           "deeplock"
 *   nnguard.version          "2" (version 1 expand files still unlock)
 *   nnguard.keystream        "ctr" | "expand"
 *   nnguard.only             the pattern ("*" for all)
 *   nnguard.kcv              key check value, 64 hex digits:
 *                              sub = BLAKE2b-256(key = K, "nnguard.deeplock.kcv-key.v1")
 *                              kcv = BLAKE2b-256(key = sub, "nnguard.deeplock.kcv.v1" NUL | id_before)
 *                            (id_before the 32 raw bytes of the model id before locking)
 *   nnguard.model_id_before  model id (nnguard/weights.h) before locking, 64 hex digits
 *   nnguard.model_id_after   model id of the locked parameters
 *   nnguard.kdf, nnguard.kdf_salt, nnguard.kdf_opslimit, nnguard.kdf_memlimit
 *                            passphrase keys only: "argon2id", 32 hex digits, decimal, decimal
 *
 * Unlock checks, before changing anything: the model says it is Deep-Locked (else NG_E_STATE);
 * its parameters' id equals model_id_after (else NG_E_FORMAT: locked data modified or
 * truncated); the key's KCV matches, compared in constant time (else NG_E_KEY: the key does
 * not match this model). After unlocking, the id must equal model_id_before. With no_check
 * the KCV and the final id are not checked (the paper's behaviour: a wrong key gives a
 * useless model).
 *
 *     ng_key k;  ng_key_load("model.key", NULL, 0, &k);
 *     ng_deeplock_secret s = { .key = &k };
 *     ng_deeplock_options o = ng_deeplock_options_default();
 *     ng_deeplock_lock_file("model.onnx", "locked.onnx", &s, &o);
 *     ng_model *m;  ng_deeplock_open_model("locked.onnx", &s, &m);   // plaintext stays in memory
 *     ng_key_wipe(&k);
 */
#ifndef NNGUARD_DEEPLOCK_H
#define NNGUARD_DEEPLOCK_H
#include <stddef.h>
#include <stdint.h>
#include "status.h"
#include "tensor.h"
#include "weights.h"
#include "model.h"
#include "keys.h"

typedef enum ng_keystream { NG_KS_CTR = 0, NG_KS_EXPAND = 1 } ng_keystream;

/* "ctr" / "expand"; parse returns -1 for anything else. */
const char *ng_keystream_name(ng_keystream k);
int         ng_keystream_parse(const char *s);

/* Where the key comes from: a key, or a passphrase (Argon2id with the salt/costs in the model's
 * metadata; lock makes a fresh salt unless options.kdf is given). Exactly one must be set. */
typedef struct ng_deeplock_secret {
    const ng_key *key;
    const char   *pass;
    size_t        pass_len;
} ng_deeplock_secret;

typedef struct ng_deeplock_options {
    ng_keystream keystream;       /* lock: NG_KS_CTR (default) or NG_KS_EXPAND; unlock reads the metadata */
    const char  *only;            /* lock: tensor name pattern(s); NULL = "*" */
    int          no_check;        /* unlock: skip the key check value and the final id check */
    int          threads;         /* streaming / in-memory workers; 0 = all cores */
    size_t       chunk_bytes;     /* streaming slot per worker; 0 = 8 MiB (memory: 4 slots per worker) */
    const ng_kdf_params *kdf;     /* lock with a passphrase: use these salt/costs (tests); NULL = fresh */
} ng_deeplock_options;
ng_deeplock_options ng_deeplock_options_default(void);

/* Lock / unlock bytes of a list of parameters in place (no metadata, no checks); only those whose
 * names match `only` (NULL = all). The key must be 32 bytes (ctr) or 16 bytes (expand). */
ng_status ng_deeplock_lock_params(ng_param *p, size_t n, const ng_key *key, ng_keystream ks,
                                  const char *only, int threads);
ng_status ng_deeplock_unlock_params(ng_param *p, size_t n, const ng_key *key, ng_keystream ks,
                                    const char *only, int threads);

/* 1 when w carries nnguard.scheme = deeplock. */
int       ng_deeplock_is_locked(const ng_weights *w);
/* Lock w in memory and write the metadata (NG_E_STATE if already protected). */
ng_status ng_deeplock_lock(ng_weights *w, const ng_deeplock_secret *s, const ng_deeplock_options *o);
/* Check and unlock w in memory, removing the metadata (see the checks above). */
ng_status ng_deeplock_unlock(ng_weights *w, const ng_deeplock_secret *s, const ng_deeplock_options *o);

/* Whole files, in memory (any format): read in, (un)lock, write out atomically (an existing out is
 * replaced only on success; nothing is written on failure). */
ng_status ng_deeplock_lock_file(const char *in, const char *out, const ng_deeplock_secret *s,
                                const ng_deeplock_options *o);
ng_status ng_deeplock_unlock_file(const char *in, const char *out, const ng_deeplock_secret *s,
                                  const ng_deeplock_options *o);
/* safetensors files of any size with bounded memory (chunks, all cores; the (un)locking of one batch
 * overlaps the SHA-256 ids of the previous one). Output is byte-identical
 * to the in-memory functions above; same metadata and checks. The model ids are hashed while the
 * data streams through, so the input's id is compared with model_id_after (and the output's with
 * model_id_before) at the end, before the temporary output is committed: OUT appears only when
 * every check passed. The key check value is checked before any data is read. */
ng_status ng_deeplock_lock_stream(const char *in, const char *out, const ng_deeplock_secret *s,
                                  const ng_deeplock_options *o);
ng_status ng_deeplock_unlock_stream(const char *in, const char *out, const ng_deeplock_secret *s,
                                    const ng_deeplock_options *o);

/* Open a model file (or buffer) and unlock it in memory; plaintext never touches disk.
 * A file that is not locked is returned as it is. Free with ng_weights_free. */
ng_status ng_deeplock_open_weights(const char *path, const ng_deeplock_secret *s, int no_check,
                                   ng_weights **out);
ng_status ng_deeplock_open_weights_buffer(const void *buf, size_t len, ng_format fmt, const char *name,
                                          const ng_deeplock_secret *s, int no_check, ng_weights **out);
/* Same, then build the engine model (ONNX: graph from the file; safetensors has no graph:
 * NG_E_UNSUPPORTED, use ng_deeplock_open_weights + ng_model_set_weights). */
ng_status ng_deeplock_open_model(const char *path, const ng_deeplock_secret *s, ng_model **out);
ng_status ng_deeplock_open_model_buffer(const void *buf, size_t len, const char *name,
                                        const ng_deeplock_secret *s, ng_model **out);

#endif
