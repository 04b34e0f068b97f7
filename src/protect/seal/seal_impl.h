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

/* The metadata of an ng_weights or of a streamed safetensors header (nnguard/safetensors.h). */
struct ng_st_header;
typedef struct ng_seal_meta {
    void       *obj;
    const char *name;
    const char *(*get)(const void *obj, const char *key);
    ng_status   (*set)(void *obj, const char *key, const char *value);
    size_t      (*count)(const void *obj);
    void        (*at)(const void *obj, size_t i, const char **key, const char **value);
} ng_seal_meta;
ng_seal_meta ng_seal_meta_of_weights(ng_weights *w);
ng_seal_meta ng_seal_meta_of_header(struct ng_st_header *h, const char *name);

/* What a sealed model's metadata says (strings point into the metadata). */
typedef struct ng_seal_state {
    ng_aead  aead;
    uint8_t  id[32], salt[32], kcv[32], graph_mac[32];
    int      has_kdf;
    ng_kdf_params kdf;
    const char *tags, *fields, *meta_mac;
} ng_seal_state;
/* NG_E_STATE when not sealed; NG_E_UNSUPPORTED / NG_E_FORMAT naming the field when malformed. */
ng_status ng_seal_read_state(const ng_seal_meta *m, ng_seal_state *st);
/* Each nnguard.* field against meta_mac (NG_E_AUTH naming the field edited, added or removed). */
ng_status ng_seal_check_fields(const ng_seal_meta *m, const ng_seal_state *st, const ng_seal_keys *k);
/* Write fields and meta_mac over w's nnguard.* keys (tags must be set already). */
ng_status ng_seal_write_fields(const ng_seal_meta *m, const ng_seal_keys *k);
/* The 256-bit key of a secret (a key, or Argon2id of the passphrase with kdf; NG_E_KEY naming name). */
ng_status ng_seal_resolve_key(const ng_deeplock_secret *s, const ng_kdf_params *kdf, const char *name, ng_key *key);
/* kcv (NG_E_KEY), the fields (NG_E_AUTH), the number of tags against need chunks (NG_E_AUTH); then
 * *tags (malloc'ed) holds them. */
ng_status ng_seal_check_kcv(const char *name, const ng_seal_state *ss, const ng_seal_keys *k);
ng_status ng_seal_check_header(const ng_seal_meta *m, const ng_seal_state *ss, const ng_seal_keys *k, uint64_t need,
                               uint8_t (**tags)[NG_SEAL_TAG]);
/* Write every nnguard.seal.* field of a new seal (tags, then fields and meta_mac last). */
ng_status ng_seal_write_meta(const ng_seal_meta *m, const ng_seal_keys *k, ng_aead aead, const uint8_t id[32],
                             const uint8_t salt[32], const uint8_t graph[32], const uint8_t (*tags)[NG_SEAL_TAG],
                             uint64_t ntags, const ng_kdf_params *kdf);
/* nnguard.seal.tags from ntags tags (same length for the same count: a streamed header is
 * serialised with placeholder tags, then again with the real ones). */
ng_status ng_seal_set_tags(const ng_seal_meta *m, const uint8_t (*tags)[NG_SEAL_TAG], uint64_t ntags);
/* Remove every nnguard.seal.* key. */
ng_status ng_seal_clear_meta(const ng_seal_meta *m);

/* One chunk of a tensor: param indexes the keys and ADs, index is c of nnguard/seal.h. */
typedef struct ng_seal_chunk {
    uint32_t param;
    uint64_t index;
    uint8_t *data;
    size_t   n;
    int      final;
    uint8_t *tag;          /* 16 bytes: written (seal) or checked (open) */
} ng_seal_chunk;
/* The chunk AEAD of one thread: AES-256-GCM through an ng_gcm of the chosen backend (seal_gcm.h:
 * its expanded key lives there, wiped by ng_seal_aead_wipe), or XChaCha20-Poly1305 (libsodium). */
struct ng_gcm;
typedef struct ng_seal_aead { ng_aead aead; struct ng_gcm *gcm; } ng_seal_aead;
/* backend: resolved (ng_seal_backend_resolve), used for AES-256-GCM only. NG_E_NOMEM / NG_E_UNSUPPORTED. */
ng_status ng_seal_aead_init(ng_seal_aead *a, ng_aead aead, ng_seal_backend backend);
/* Seal (open) chunk ch in place with its tensor's key and A_i: 1 ok, 0 tag mismatch, -1 failure. */
int       ng_seal_aead_chunk(ng_seal_aead *a, const ng_seal_chunk *ch, const uint8_t key[32], const uint8_t ad[32],
                             int open);
void      ng_seal_aead_wipe(ng_seal_aead *a);
/* The AES-256-GCM implementation of o (NULL: AUTO) as ng_seal_backend_resolve gives it; aead other
 * than AES-256-GCM: OpenSSL, never an error. */
ng_status ng_seal_backend_of(const ng_seal_options *o, ng_aead aead, ng_seal_backend *b);

struct ng_pool;
/* Seal (or open) chunks in place on pool (NULL: inline). NG_E_AUTH: *bad is the first chunk whose
 * tag failed (the caller names it with ng_seal_auth_error). */
ng_status ng_seal_crypt_chunks(ng_seal_chunk *ch, size_t n, const uint8_t (*key)[32], const uint8_t (*ad)[32],
                               ng_aead aead, ng_seal_backend backend, int open, struct ng_pool *pool, size_t *bad);
ng_status ng_seal_auth_error(const char *file, const char *tensor, uint64_t param, uint64_t chunk);

/* Encrypt (or decrypt and check) every parameter of w in place on `threads` workers, chunk by
 * chunk; tags[] holds one tag per chunk in order (written when sealing, checked when opening).
 * Unseal: NG_E_AUTH naming the first tensor (in order) whose tag fails. */
ng_status ng_seal_crypt(ng_weights *w, const ng_seal_keys *k, ng_aead aead, ng_seal_backend backend, const uint8_t id[32],
                        uint8_t (*tags)[NG_SEAL_TAG], int threads, int open);
#endif
