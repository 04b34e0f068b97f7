/* protect/seal/seal_impl.h - what seal.c (API, in memory), seal_meta.c (keys, metadata, MACs) and
 * seal_crypt.c (the chunk AEAD on all cores) share. Format: nnguard/seal.h. */
#ifndef NG_PROTECT_SEAL_IMPL_H
#define NG_PROTECT_SEAL_IMPL_H
#include "nnguard/seal.h"

#define NG_SEAL_VERSION "1"
#define NG_SEAL_TAG 16

/* The keys of one sealed file, from (K, salt). */
typedef struct ng_seal_keys {
    uint8_t F[32], M[32];
} ng_seal_keys;
void ng_seal_keys_init(ng_seal_keys *k, const ng_key *key, const uint8_t salt[32]);
void ng_seal_keys_wipe(ng_seal_keys *k);
void ng_seal_kcv(const ng_seal_keys *k, const uint8_t salt[32], ng_aead aead, const uint8_t id[32], uint8_t out[32]);
void ng_seal_graph_mac(const ng_seal_keys *k, const uint8_t graph[32], uint8_t out[32]);
void ng_seal_field_mac(const ng_seal_keys *k, const char *key, const char *value, uint8_t out[16]);
void ng_seal_tensor_key(const ng_seal_keys *k, uint64_t i, uint8_t out[32]);
void ng_seal_tensor_ad(const uint8_t id[32], uint64_t i, uint64_t n, const ng_param *p, uint64_t offset, uint8_t out[32]);
static inline uint64_t ng_seal_nchunks(uint64_t nbytes) { return (nbytes + NG_SEAL_CHUNK - 1) / NG_SEAL_CHUNK; }

/* What a sealed model's metadata says (strings point into the metadata). */
typedef struct ng_seal_state {
    ng_aead  aead;
    uint8_t  id[32], salt[32], kcv[32], graph_mac[32];
    int      has_kdf;
    ng_kdf_params kdf;
    const char *tags, *fields, *meta_mac;
} ng_seal_state;
/* NG_E_STATE when not sealed; NG_E_UNSUPPORTED / NG_E_FORMAT naming the field when malformed. */
ng_status ng_seal_read_state(const ng_weights *w, ng_seal_state *st);
/* Each nnguard.* field against meta_mac (NG_E_AUTH naming the field edited, added or removed). */
ng_status ng_seal_check_fields(const ng_weights *w, const ng_seal_state *st, const ng_seal_keys *k);
/* Write fields and meta_mac over w's nnguard.* keys (tags must be set already). */
ng_status ng_seal_write_fields(ng_weights *w, const ng_seal_keys *k);
/* Remove every nnguard.seal.* key. */
ng_status ng_seal_clear_meta(ng_weights *w);

/* Encrypt (or decrypt and check) every parameter of w in place on `threads` workers, chunk by
 * chunk; tags[] holds one tag per chunk in order (written when sealing, checked when opening).
 * Unseal: NG_E_AUTH naming the first tensor (in order) whose tag fails. */
ng_status ng_seal_crypt(ng_weights *w, const ng_seal_keys *k, ng_aead aead, const uint8_t id[32],
                        uint8_t (*tags)[NG_SEAL_TAG], int threads, int open);
#endif
