/* formats/weights_impl.h - how a file format plugs into ng_weights (weights.c).
 *
 * weights.c owns the generic part (dispatch by format, metadata list, id, the
 * accessors of nnguard/weights.h). Each format fills an ng_weights on open:
 *   params   - the parameter tensors in canonical order, data writable in memory
 *   meta     - the file's metadata as a list (written back by save)
 *   impl, vt - format state and its save/free functions
 */
#ifndef NG_FORMATS_WEIGHTS_IMPL_H
#define NG_FORMATS_WEIGHTS_IMPL_H
#include <openssl/evp.h>
#include <sodium.h>
#include "nnguard/weights.h"
#include "core/core.h"

struct ng_weights;
typedef struct ng_weights_vtbl {
    /* Serialise w (its params' current bytes and meta) to path atomically, final mode `mode`
     * (NG_MODE_PUBLIC / NG_MODE_PRIVATE, minus the umask). */
    ng_status (*save)(const struct ng_weights *w, const char *path, unsigned mode);
    void      (*free_impl)(struct ng_weights *w);
} ng_weights_vtbl;

struct ng_weights {
    ng_format  fmt;
    char      *path;
    ng_param  *params;   size_t n_params;   /* names owned by the format state */
    ng_meta    meta;
    void      *impl;
    const ng_weights_vtbl *vt;
};

/* ONNX (onnx_weights.c): parse a serialized ModelProto from a malloc'ed buffer (takes ownership of
 * buf, freed on failure too: large initializers stay in it, uncopied). */
ng_status ng_onnx_weights_open_owned(uint8_t *buf, size_t len, const char *name, struct ng_weights *w);
/* The parsed ModelProto of an ONNX ng_weights (Onnx__ModelProto *), for the graph importer. */
const void *ng_onnx_weights_proto(const struct ng_weights *w);

/* safetensors (safetensors.c): from a private mapping (takes ownership of map) or a buffer copy. */
/* ng_weights_open for code that rewrites every parameter in place (decryption): a safetensors
 * file is read into anonymous huge pages (ng_read_file_anon) instead of a private file mapping. */
ng_status ng_weights_open_anon(const char *path, struct ng_weights **out);
ng_status ng_st_weights_open_map(ng_map *map, const char *name, struct ng_weights *w);
/* The graph digest of a safetensors ng_weights (non-float bytes from the mapping). */
ng_status ng_st_weights_graph_digest(const struct ng_weights *w, uint8_t out[32]);

/* The model id (ng_params_id) piece by piece, for callers that never hold all parameters at once
 * (streaming Deep-Lock): init; for each parameter in order, ng_id_hash_param (its framing) then
 * ng_id_hash_bytes over its bytes in order; ng_id_hash_final writes the id and releases the
 * state, returning 0 if OpenSSL failed on the way (the id is then not valid). */
typedef struct ng_id_hash { EVP_MD_CTX *evp; crypto_hash_sha256_state s; int ok; } ng_id_hash;
void ng_id_hash_init(ng_id_hash *h);
void ng_id_hash_param(ng_id_hash *h, const char *name, ng_dtype dtype, const ng_shape *shape, uint64_t nbytes);
void ng_id_hash_bytes(ng_id_hash *h, const void *d, size_t n);
int  ng_id_hash_final(ng_id_hash *h, uint8_t id[32]);

#endif
