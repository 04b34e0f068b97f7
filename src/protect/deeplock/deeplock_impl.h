/* protect/deeplock_impl.h - what deeplock.c (in memory) and deeplock_stream.c (files of any
 * size) share: tensor selection, the (un)lock kernel over pieces, key resolution, metadata. */
#ifndef NG_PROTECT_DEEPLOCK_IMPL_H
#define NG_PROTECT_DEEPLOCK_IMPL_H
#include "nnguard/deeplock.h"
#include "protect/deeplock/deeplock_keystream.h"

#define NG_DL_VERSION "2"              /* 2: ctr is AES-256-CTR (1: XChaCha20; expand unchanged) */
#define NG_DL_PIECE (1u << 20)          /* in-memory work unit: 1 MiB */
#define NG_DL_CHUNK (8u << 20)          /* streaming chunk: 8 MiB */
#define NG_DL_BLOCK (32u << 10)         /* fused pass: key stream XOR and S-box over 32 KiB (L1/L2) */

/* 1 when name matches the pattern list `only` (comma-separated fnmatch patterns; NULL = all). */
int ng_dl_selected(const char *only, const char *name);

/* A byte range of one locked tensor: dst[i] = lock/unlock(src[i]) for tensor bytes
 * [tensor_off, tensor_off + n). stream_off is the expand stream offset of src[0]; cur an expand
 * cursor at or before round 1 + stream_off/16 (checkpoint). */
typedef struct ng_dl_piece {
    const char    *name;
    uint64_t       tensor_off, stream_off;
    const uint8_t *src;
    uint8_t       *dst;
    size_t         n;
    ng_expand_cursor cur;
} ng_dl_piece;

/* NG_OK, or an OpenSSL failure (out of memory): dst is then partly transformed. expand: p->cur is
 * left at the round of the piece's last byte (a checkpoint for a later piece); the caller wipes it. */
ng_status ng_dl_piece_run(ng_dl_piece *p, const ng_key *key, ng_keystream ks, int unlock);
/* Check that key fits ks (32 bytes for ctr, 16 for expand). */
ng_status ng_dl_check_key(const ng_key *key, ng_keystream ks);

/* Metadata accessor over ng_weights or an ng_st_header. */
typedef const char *(*ng_dl_meta_get)(const void *obj, const char *key);
typedef ng_status (*ng_dl_meta_set)(void *obj, const char *key, const char *value);

/* What a locked model's metadata says. */
typedef struct ng_dl_state {
    ng_keystream ks;
    char     only[1024];
    uint8_t  kcv[32], id_before[32], id_after[32];
    int      has_kdf;
    ng_kdf_params kdf;
} ng_dl_state;

/* NG_E_STATE when not Deep-Locked; NG_E_FORMAT when the metadata is malformed. */
ng_status ng_dl_read_state(const void *obj, ng_dl_meta_get get, const char *name, ng_dl_state *st);
/* NG_E_STATE when the model already carries nnguard.scheme. */
ng_status ng_dl_check_plain(const void *obj, ng_dl_meta_get get, const char *name);
/* The key for a secret: the given key, or Argon2id of the passphrase with kdf (bits from ks). */
ng_status ng_dl_resolve_key(const ng_deeplock_secret *s, ng_keystream ks, const ng_kdf_params *kdf, ng_key *out);
/* Lock side: the kdf params to use for s (fresh salt or o->kdf); *has = 0 for a key secret. */
void ng_dl_lock_kdf(const ng_deeplock_secret *s, const ng_deeplock_options *o, ng_kdf_params *kdf, int *has);
ng_status ng_dl_check_secret(const ng_deeplock_secret *s);
void ng_dl_kcv(const ng_key *key, const uint8_t id_before[32], uint8_t kcv[32]);
/* Write the lock metadata in a fixed order. */
ng_status ng_dl_write_meta(void *obj, ng_dl_meta_set set, ng_keystream ks, const char *only,
                           const ng_key *key, const uint8_t id_before[32], const uint8_t id_after[32],
                           const ng_kdf_params *kdf);
/* Remove every key the lock wrote. */
ng_status ng_dl_clear_meta(void *obj, ng_dl_meta_set set);

#endif
