/* nnguard/deeplock.h - Deep-Lock: every parameter byte locked with the AES S-box under a key stream.
 *
 * SCHEMES.md section 1. A tensor's bytes b_0..b_{n-1} (little-endian elements, row-major; any
 * float dtype: F32, F16, BF16, F64) are locked as c_j = S(b_j XOR k_j) and unlocked as
 * b_j = S^-1(c_j) XOR k_j, S the AES S-box. Locked values are bit patterns (NaN payloads,
 * infinities, denormals) and are only ever copied as bytes, so unlock is bit-exact.
 * Shapes, dtypes, names and the rest of the file stay as they were: a locked model is a valid
 * ONNX / safetensors file that computes garbage.
 *
 * ==== Format 3 (nnguard.version "3"; issue 10's "v2") ====
 * Every lock draws a fresh 32-byte salt from the OS CSPRNG (libsodium randombytes_buf), so no
 * two locks share a key stream, even of the same model under the same key. K is the master key
 * (16 or 32 bytes from a key file, or Argon2id of the passphrase with nnguard.kdf_*, 32 bytes
 * for ctr, 16 for expand). BLAKE2b below is libsodium's crypto_generichash with a key; labels
 * are ASCII with their terminating NUL; "|" concatenates; lp(x) = u32le length of x | x.
 *     L  = BLAKE2b-256(key = K, "nnguard.deeplock.v3.lock" NUL | salt)       per-lock key
 *     M  = BLAKE2b-256(key = L, "nnguard.deeplock.v3.mac" NUL)               MAC key
 * Key streams (k_j):
 *   ctr (default): per locked tensor (name N), subkey | nonce =
 *       BLAKE2b-320(key = L, "nnguard.deeplock.v3.ctr" NUL | N)   (32-byte subkey, 8-byte nonce);
 *       k_j = byte j%16 of AES-256(subkey, nonce || be64(j/16)): AES-256-CTR with the 128-bit
 *       counter block nonce (8 bytes) || 64-bit big-endian block number, block 0 at the tensor's
 *       first byte (OpenSSL EVP_aes_256_ctr). Any tensor, any range, any thread.
 *   expand (the paper's): the FIPS-197 AES-128 key expansion continued past round 10 with the
 *       same recurrence (Rcon doubles in GF(2^8) mod 0x11b); the stream is round keys 1, 2, 3, ...
 *       concatenated, running continuously over the locked tensors in order (four float32
 *       parameters per round key). Its 128-bit schedule key is
 *         salted (default):  BLAKE2b-128(key = L, "nnguard.deeplock.v3.expand" NUL)
 *         paper (--paper-exact): K itself, the paper's form (known answers; the same key must
 *             then never lock a second model: both would share the stream)
 *       WARNING: this stream is weak. The key schedule is invertible: anyone who learns one
 *       round key computes every other round key and the schedule key (tests/test_aes.c does
 *       it from round 12) and unlocks the whole model; 16 known plaintext bytes on a round-key
 *       boundary are enough (k = S^-1(c) XOR b), e.g. a bias left at zero. With --paper-exact
 *       that schedule key is the master key itself. Use ctr.
 * Checks (64 lowercase hex digits each in the metadata; compared in constant time):
 *     kcv        = BLAKE2b-256(key = M, "nnguard.deeplock.v3.kcv" NUL | salt | lp(keystream) |
 *                              lp(expand_key) | lp(only))      (expand_key "" for ctr)
 *     graph_mac  = BLAKE2b-256(key = M, "nnguard.deeplock.v3.graph" NUL | graph digest)
 * with the graph digest of nnguard/weights.h (the same before and after locking: it leaves out
 * parameter bytes and metadata), and params_mac, a MAC tree over the plaintext parameters (all
 * of them, locked or not, in order; i the parameter's ordinal, its bytes cut into 1 MiB leaves
 * l = 0, 1, ..., the last shorter) whose leaves are computed in parallel and while a file
 * streams through:
 *     G          = BLAKE2b-256(key = M, "nnguard.deeplock.v3.gmac" NUL)
 *     tag_il     = GMAC-AES-256(key G, 96-bit IV = u64le i | u32le l, the leaf's plaintext bytes):
 *                  AES-256-GCM with the leaf as associated data and nothing to encrypt, 16-byte
 *                  tag (OpenSSL EVP_aes_256_gcm; PCLMULQDQ, ~4x faster than SHA-256 here). G is
 *                  new for every lock and each (i, l) is one IV, so no IV repeats under a key.
 *     t_i        = BLAKE2b-256(key = M, "nnguard.deeplock.v3.tensor" NUL | lp(name) | lp(dtype
 *                  name, "F32") | u32le ndim | ndim x u64le dim | u64le nbytes | u64le nleaves |
 *                  tag_i0 | tag_i1 | ...)
 *     params_mac = BLAKE2b-256(key = M, "nnguard.deeplock.v3.params" NUL | u64le n | t_0 | ...)
 * BLAKE2b (libsodium) keys and combines; OpenSSL only runs the bulk AES (CTR, GMAC) over the
 * bytes. No digest or id of the plaintext is stored in clear (the tags are never stored), and every
 * value above is keyed by a per-lock key, so two files locked under one key cannot be linked,
 * and a guessed plaintext cannot be confirmed without the key.
 *
 * Metadata written by lock (ONNX metadata_props / safetensors __metadata__), removed by unlock:
 *   nnguard.scheme       "deeplock"
 *   nnguard.version      "3"
 *   nnguard.keystream    "ctr" | "expand"
 *   nnguard.expand_key   "salted" | "paper"                   (expand only)
 *   nnguard.only         the --only pattern ("*" for all)
 *   nnguard.salt         the salt, 64 hex digits
 *   nnguard.kcv, nnguard.graph_mac, nnguard.params_mac   as above
 *   nnguard.kdf, nnguard.kdf_salt, nnguard.kdf_opslimit, nnguard.kdf_memlimit
 *                        passphrase keys only: "argon2id", 32 hex digits, decimal, decimal
 * Locked tensors: the file's parameters (nnguard/weights.h order) whose names match the --only
 * pattern (fnmatch, flags 0; a comma-separated list of patterns; default "*").
 *
 * Unlock (and opening a locked model with a key) checks, in this order, before anything is
 * written or run: the model says it is Deep-Locked (else NG_E_STATE) in a known format;
 * kcv (else NG_E_KEY: "wrong key or altered file": another key, or the salt / key stream /
 * pattern were edited); graph_mac (else NG_E_AUTH: the key is right but the graph was edited
 * after locking, e.g. a Relu made a Tanh); after unlocking, params_mac over the result (else
 * NG_E_AUTH: locked parameters modified or truncated). A streamed unlock checks params_mac
 * before the output gets its name. With no_check none of the three is checked (the paper's
 * behaviour: a wrong key gives a useless model; for experiments).
 *
 * What format 3 does not do: the file is not sealed. Parameter values are confidential only as
 * far as the key stream hides them; nothing stops an attacker from editing the locked file
 * (unlock then refuses it), and the non-parameter parts of the file are in clear.
 *
 * Formats 1 and 2 (earlier nnguard; no salt, nnguard.model_id_before in clear): unlocked with
 * their own checks (format 1 ctr used XChaCha20 and is refused), in memory, with a warning on
 * options.log: every model locked with the same key shared the key stream. Re-lock them.
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
#include <stdio.h>
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
    int          paper_exact;     /* lock, expand: the schedule runs on the master key (warning on log) */
    const char  *only;            /* lock: tensor name pattern(s); NULL = "*" */
    int          no_check;        /* unlock: skip kcv, graph_mac and params_mac */
    int          threads;         /* workers (0 = one per core); streaming adds one writer thread */
    size_t       chunk_bytes;     /* streaming: bytes per work item (whole 1 MiB leaves); 0 = 2 MiB */
    const ng_kdf_params *kdf;     /* lock with a passphrase: use these salt/costs (tests); NULL = fresh */
    const uint8_t *salt;          /* lock: use these 32 bytes as the salt (tests only!); NULL = fresh */
    FILE        *log;             /* warnings (old format, --paper-exact), or NULL */
} ng_deeplock_options;
ng_deeplock_options ng_deeplock_options_default(void);

/* Lock / unlock the bytes of a list of parameters in place, with no metadata and no checks: the
 * stream of (key, salt) with o->keystream, o->paper_exact, o->only, o->threads. key: 32 bytes
 * (ctr) or 16 bytes (expand). salt: 32 bytes, or NULL for the unsalted stream of formats 1-2
 * (the key itself: ctr subkeys from "nnguard.deeplock.ctr.v2" NUL name, expand on the key). */
ng_status ng_deeplock_lock_params(ng_param *p, size_t n, const ng_key *key, const uint8_t *salt,
                                  const ng_deeplock_options *o);
ng_status ng_deeplock_unlock_params(ng_param *p, size_t n, const ng_key *key, const uint8_t *salt,
                                    const ng_deeplock_options *o);
/* The key-stream arguments a locked file's metadata gives (for ng_deeplock_unlock_params):
 * o->keystream, o->paper_exact, o->only (pointing into w's metadata) and salt (NULL for formats
 * 1-2). NG_E_STATE when w is not Deep-Locked, NG_E_FORMAT when its metadata is malformed. */
ng_status ng_deeplock_stream_of(const ng_weights *w, ng_deeplock_options *o, uint8_t salt[32], int *has_salt);

/* 1 when a tensor called name is locked under the pattern list only (NULL or "" = all). */
int       ng_deeplock_selected(const char *only, const char *name);
/* 1 when w carries nnguard.scheme = deeplock. */
int       ng_deeplock_is_locked(const ng_weights *w);
/* Lock w in memory and write the metadata (NG_E_STATE if already protected). */
ng_status ng_deeplock_lock(ng_weights *w, const ng_deeplock_secret *s, const ng_deeplock_options *o);
/* Check and unlock w in memory, removing the metadata (see the checks above). A params_mac failure
 * (NG_E_AUTH) comes after the parameters were unlocked in place: discard w then (the open
 * functions below wipe it). */
ng_status ng_deeplock_unlock(ng_weights *w, const ng_deeplock_secret *s, const ng_deeplock_options *o);

/* Whole files, in memory (any format): read in, (un)lock, write out atomically (an existing out is
 * replaced only on success; nothing is written on failure). unlock's output is created 0600. */
ng_status ng_deeplock_lock_file(const char *in, const char *out, const ng_deeplock_secret *s,
                                const ng_deeplock_options *o);
ng_status ng_deeplock_unlock_file(const char *in, const char *out, const ng_deeplock_secret *s,
                                  const ng_deeplock_options *o);
/* safetensors files of any size with bounded memory, on all cores: every worker reads a work item
 * (pread), (un)locks it and hashes its plaintext leaves in one pass while the data is in cache,
 * and writes it (pwrite) at its place in the output; the data section is read once. Output is
 * byte-identical to the in-memory functions above (same salt: options.salt); same metadata and
 * checks: kcv and graph_mac before any parameter is read, params_mac at the end, before the
 * temporary output gets its name (OUT appears only when every check passed). The output of
 * unlock is created 0600. Formats 1-2 are unlocked in memory. */
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
