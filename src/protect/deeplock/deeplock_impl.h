/* protect/deeplock_impl.h - what deeplock.c (in memory), deeplock_stream.c (files of any size) and
 * deeplock_legacy.c (formats 1-2) share: tensor selection, key derivation and MACs, the (un)lock
 * kernel over pieces, metadata. Format: nnguard/deeplock.h. */
#ifndef NG_PROTECT_DEEPLOCK_IMPL_H
#define NG_PROTECT_DEEPLOCK_IMPL_H
#include "nnguard/deeplock.h"
#include "protect/deeplock/deeplock_keystream.h"

#define NG_DL_VERSION "3"               /* 3: salted streams, keyed MACs (2: unsalted AES-256-CTR; 1: XChaCha20) */
#define NG_DL_PIECE ((size_t)1 << 20)   /* work unit: one leaf of the params_mac tree (1 MiB) */
#define NG_DL_CHUNK (2u << 20)          /* streaming work item: 2 leaves, stays in L2/L3 between read, cipher and write */
#define NG_DL_BLOCK (32u << 10)         /* fused pass: key stream XOR, S-box and hash over 32 KiB (L1/L2) */

/* 1 when name matches the pattern list `only` (comma-separated fnmatch patterns; NULL = all). */
int ng_dl_selected(const char *only, const char *name);

/* The key stream of one lock, derived from (K, salt) once: ctr subkeys come from lock_key per
 * tensor, expand runs on sched. legacy: formats 1-2 (lock_key = K, the ".ctr.v2" label). */
typedef struct ng_dl_stream {
    ng_keystream ks;
    int      legacy;
    uint8_t  lock_key[32];
    uint8_t  sched[16];
} ng_dl_stream;

/* Derive the stream of (key, salt): salt NULL = formats 1-2; paper = expand on the key itself. */
void ng_dl_stream_init(ng_dl_stream *s, const ng_key *key, const uint8_t *salt, ng_keystream ks, int paper);
void ng_dl_stream_wipe(ng_dl_stream *s);
/* L and M of deeplock.h for (K, salt). */
void ng_dl_lock_key(const ng_key *key, const uint8_t salt[32], uint8_t L[32]);
void ng_dl_mac_key(const ng_key *key, const uint8_t salt[32], uint8_t M[32]);

/* A byte range of one tensor: dst[i] = lock/unlock(src[i]) for tensor bytes [tensor_off,
 * tensor_off + n) (src == dst allowed; copied as is when !locked). stream_off is the expand
 * stream offset of src[0]; cur an expand cursor at or before round 1 + stream_off/16. tag: when
 * not NULL, receives the piece's GMAC tag over its plaintext (lock: src, unlock: dst) under
 * gmac_key with the nonce of (param, leaf); the piece must then be one whole leaf of the tree. */
typedef struct ng_dl_piece {
    const char    *name;
    uint64_t       tensor_off, stream_off;
    const uint8_t *src;
    uint8_t       *dst;
    size_t         n;
    int            locked;
    ng_expand_cursor cur;
    const uint8_t *gmac_key;       /* 32 bytes, with tag */
    uint64_t       param, leaf;    /* parameter ordinal, leaf number in it */
    uint8_t       *tag;            /* 16 bytes out, or NULL */
} ng_dl_piece;

/* NG_OK, or an OpenSSL failure (out of memory): dst is then partly transformed. expand: p->cur is
 * left at the round of the piece's last byte (a checkpoint for a later piece); the caller wipes it. */
ng_status ng_dl_piece_run(ng_dl_piece *p, const ng_dl_stream *s, int unlock);
/* Check that key fits ks (32 bytes for ctr, 16 for expand). */
ng_status ng_dl_check_key(const ng_key *key, ng_keystream ks);

/* Metadata accessor over ng_weights or an ng_st_header. */
typedef const char *(*ng_dl_meta_get)(const void *obj, const char *key);
typedef ng_status (*ng_dl_meta_set)(void *obj, const char *key, const char *value);

/* What a locked model's metadata says. */
typedef struct ng_dl_state {
    int      version;              /* 1, 2 or 3 */
    ng_keystream ks;
    int      paper;                /* expand_key "paper" */
    char     only[1024];
    uint8_t  salt[32];             /* format 3 */
    uint8_t  kcv[32], graph_mac[32], params_mac[32];   /* format 3 */
    uint8_t  id_before[32], id_after[32];              /* formats 1-2 */
    int      has_kdf;
    ng_kdf_params kdf;
} ng_dl_state;

/* NG_E_STATE when not Deep-Locked; NG_E_FORMAT / NG_E_UNSUPPORTED when the metadata is malformed. */
ng_status ng_dl_read_state(const void *obj, ng_dl_meta_get get, const char *name, ng_dl_state *st);
/* NG_E_STATE when the model already carries nnguard.scheme. */
ng_status ng_dl_check_plain(const void *obj, ng_dl_meta_get get, const char *name);
/* The key for a secret: the given key, or Argon2id of the passphrase with kdf (bits from ks). */
ng_status ng_dl_resolve_key(const ng_deeplock_secret *s, ng_keystream ks, const ng_kdf_params *kdf, ng_key *out);
/* Lock side: the kdf params to use for s (fresh salt or o->kdf); *has = 0 for a key secret. */
void ng_dl_lock_kdf(const ng_deeplock_secret *s, const ng_deeplock_options *o, ng_kdf_params *kdf, int *has);
ng_status ng_dl_check_secret(const ng_deeplock_secret *s);
/* The lock's salt: o->salt or fresh random bytes. */
void ng_dl_new_salt(const ng_deeplock_options *o, uint8_t salt[32]);

/* Format 3 MACs (deeplock.h) under the MAC key M. */
void ng_dl_kcv(const uint8_t M[32], const uint8_t salt[32], ng_keystream ks, int paper, const char *only, uint8_t out[32]);
void ng_dl_graph_mac(const uint8_t M[32], const uint8_t graph[32], uint8_t out[32]);
/* The GMAC key of the leaves, and the nonce of leaf `leaf` of parameter `param`. */
void ng_dl_gmac_key(const uint8_t M[32], uint8_t k[32]);
void ng_dl_leaf_iv(uint64_t param, uint64_t leaf, uint8_t iv[12]);
/* params_mac from every parameter's leaf tags (parameters in order, ceil(nbytes / 1 MiB) each). */
void ng_dl_params_mac(const uint8_t M[32], const ng_param *p, size_t n, const uint8_t (*tag)[16], uint8_t out[32]);
/* Leaves of a parameter of nbytes. */
static inline uint64_t ng_dl_nleaves(uint64_t nbytes) { return (nbytes + NG_DL_PIECE - 1) / NG_DL_PIECE; }
/* kcv then graph_mac of a format-3 state against key (NG_E_KEY / NG_E_AUTH naming the file). */
ng_status ng_dl_check_key_graph(const ng_dl_state *ds, const ng_key *key, const uint8_t graph[32], const char *name);
/* params_mac of a format-3 state against the one computed over the unlocked parameters (NG_E_AUTH). */
ng_status ng_dl_check_params(const ng_dl_state *ds, const uint8_t mac[32], const char *name);

/* Write the format-3 lock metadata in a fixed order (a params_mac placeholder of the final length
 * when params_mac is NULL). */
ng_status ng_dl_write_meta(void *obj, ng_dl_meta_set set, const ng_deeplock_options *o, const char *only,
                           const ng_key *key, const uint8_t salt[32], const uint8_t graph[32],
                           const uint8_t *params_mac, const ng_kdf_params *kdf);
/* Remove every key a lock of any format wrote. */
ng_status ng_dl_clear_meta(void *obj, ng_dl_meta_set set);
/* The warning for formats 1-2 (on o->log when set). */
void ng_dl_warn_legacy(const ng_deeplock_options *o, const char *name, int version);
void ng_dl_warn_paper(const ng_deeplock_options *o, const char *name);

/* Formats 1-2, in memory (deeplock_legacy.c): checks and unlock of w as those versions define. */
ng_status ng_dl_legacy_unlock(ng_weights *w, const ng_dl_state *ds, const ng_deeplock_secret *s,
                              const ng_deeplock_options *o);

/* (Un)lock parameters in place on `threads` workers; with M, also params_mac over the plaintext
 * into mac (M NULL: no MAC, unselected parameters are not touched). */
ng_status ng_dl_xform_params(ng_param *p, size_t n, const ng_dl_stream *s, const char *only, int threads,
                             int unlock, const uint8_t *M, uint8_t mac[32]);

#endif
