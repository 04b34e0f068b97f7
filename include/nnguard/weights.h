/* nnguard/weights.h - a model file seen as its parameter tensors and metadata.
 *
 * ng_weights is the format layer every protection scheme works on: Deep-Lock,
 * AdvParams, sealing and saving share one code path over the parameter bytes,
 * whatever the file format. Everything in the file that is not a parameter
 * (graph, non-float tensors, unknown fields) is kept as it was when saved.
 *
 * Parameters (SCHEMES.md section 0):
 *   ONNX        - the float initializers (FLOAT, FLOAT16, BFLOAT16, DOUBLE) in
 *                 graph.initializer order; float_data/double_data are turned
 *                 into raw_data on load so each parameter is one byte string.
 *   safetensors - the tensors of dtype F32/F16/BF16/F64 in order of their data
 *                 offsets.
 * Metadata: ONNX metadata_props / safetensors __metadata__ (string -> string).
 *
 * Model id: SHA-256 over every parameter in order of
 *     u32le len(name) | name | u32le len(dtype name) | dtype name ("F32") |
 *     u32le ndim | ndim x u64le dim | u64le nbytes | bytes
 * shown by `nnguard info` as 64 hex digits.
 *
 *     ng_weights *w;
 *     if (ng_weights_open("model.onnx", &w) != NG_OK) die(ng_last_error());
 *     for (size_t i = 0; i < ng_weights_count(w); i++) {
 *         ng_param *p = ng_weights_param(w, i);   // p->data is writable
 *     }
 *     ng_weights_meta_set(w, "nnguard.scheme", "deeplock");
 *     ng_weights_save(w, "locked.onnx");          // atomic, same format
 *     ng_weights_free(w);
 */
#ifndef NNGUARD_WEIGHTS_H
#define NNGUARD_WEIGHTS_H
#ifdef NG_LAYER_ENGINE
#error "src/core and src/engine must not include nnguard/weights.h: file formats sit above the engine (CMakeLists.txt, nnguard_engine)"
#endif
#include <stddef.h>
#include <stdint.h>
#include "status.h"
#include "tensor.h"

typedef enum ng_format { NG_FMT_UNKNOWN = 0, NG_FMT_ONNX, NG_FMT_SAFETENSORS } ng_format;

typedef struct ng_weights ng_weights;

/* Format of a file from its first bytes (then its extension). */
ng_format   ng_format_detect(const char *path);
ng_format   ng_format_from_ext(const char *path);   /* ".onnx", ".safetensors"/".st" */
const char *ng_format_name(ng_format f);            /* "onnx", "safetensors" */

/* Open a model file; parameter bytes are writable in memory (the file is never modified). */
ng_status ng_weights_open(const char *path, ng_weights **out);
/* Same from a memory buffer (copied); name is used in messages. */
ng_status ng_weights_open_buffer(const void *buf, size_t len, ng_format fmt, const char *name,
                                 ng_weights **out);
void      ng_weights_free(ng_weights *w);

ng_format   ng_weights_format(const ng_weights *w);
const char *ng_weights_path(const ng_weights *w);   /* name given at open */
size_t      ng_weights_count(const ng_weights *w);  /* number of parameter tensors */
ng_param   *ng_weights_param(ng_weights *w, size_t i);
const ng_param *ng_weights_param_c(const ng_weights *w, size_t i);
/* Index of the parameter called name, or -1. */
long        ng_weights_find(const ng_weights *w, const char *name);

/* Metadata. get returns NULL when absent; set with value NULL removes the key. */
const char *ng_weights_meta_get(const ng_weights *w, const char *key);
ng_status   ng_weights_meta_set(ng_weights *w, const char *key, const char *value);
size_t      ng_weights_meta_count(const ng_weights *w);
void        ng_weights_meta_at(const ng_weights *w, size_t i, const char **key, const char **value);

/* Write to path in the same format, atomically (temp file created 0600, fsync, rename); the file
 * gets mode 0666 minus the umask (0644 under umask 022). */
ng_status ng_weights_save(const ng_weights *w, const char *path);
/* The same with a final mode (minus the umask): 0600 for files that hold plaintext of a
 * protected model (unlock, AdvParams decrypt). */
ng_status ng_weights_save_mode(const ng_weights *w, const char *path, unsigned mode);

/* Model id over a list of parameters / over a file's parameters (see above). */
void ng_params_id(const ng_param *p, size_t n, uint8_t id[32]);
void ng_weights_id(const ng_weights *w, uint8_t id[32]);
void ng_id_hex(const uint8_t id[32], char hex[65]);

/* ---- Digests a protection scheme binds to its key (Deep-Lock's graph_mac, seal) ----
 *
 * Parameter digest: the model id's content as a tree, so that it is computed in parallel and
 * while a file streams through in any order. Every parameter's bytes are cut into leaves of
 * NG_DIGEST_LEAF bytes (the last one shorter; an empty tensor has none);
 *     leaf   = SHA-256(leaf bytes)
 *     tensor = SHA-256("nnguard.digest.tensor.v1" NUL | u32le len(name) | name |
 *                      u32le len(dtype) | dtype name ("F32") | u32le ndim | ndim x u64le dim |
 *                      u64le nbytes | u64le nleaves | leaf_0 | ... | leaf_{nleaves-1})
 *     digest = SHA-256("nnguard.digest.params.v1" NUL | u64le n | tensor_0 | ... | tensor_{n-1})
 * over the parameters in order (as above): an unkeyed, parallel stand-in for the model id (Deep-Lock
 * itself MACs its plaintext with a keyed tree of the same shape, see nnguard/deeplock.h). Like the
 * model id it identifies the plaintext: a protected file must never carry the digest of its
 * plaintext in clear, only a keyed MAC of it.
 *
 * Graph digest: everything in the file a runtime computes with, except the parameters' bytes
 * and the metadata: SHA-256("nnguard.digest.graph.v1" NUL | u8 kind | records), each record
 * u8 tag | u64le length | bytes:
 *   ONNX (kind 1): 'V' ir_version (u64le); 'S' each opset_import, 'F' each model-local function,
 *     'N' each graph node (attributes and subgraphs inside), 'I' each graph input, 'O' each graph
 *     output, each serialised as protobuf (fields in field-number order, as protobuf-c and
 *     Python's SerializeToString write them); then graph.initializer in order: 'P' for a
 *     parameter, holding SHA-256(framing: u32le len(name) | name | u32le len(dtype) | dtype |
 *     u32le ndim | ndim x u64le dim | u64le nbytes), 'T' for any other initializer, serialised
 *     whole (with its data); 'Z' each sparse initializer. value_info, doc strings of the graph
 *     and model, and metadata_props are not included.
 *   safetensors (kind 2): 'C' the tensor count (u64le), then every tensor in data order: 'P' for a
 *     parameter, SHA-256(framing | u64le begin), 'T' for any other tensor, SHA-256(framing |
 *     u64le begin | SHA-256(its bytes)).
 * Editing a node, an attribute, an input/output, a non-float tensor or a parameter's name, dtype
 * or shape changes it; changing parameter values or metadata does not. */
#define NG_DIGEST_LEAF ((size_t)1 << 20)
/* Parameter digest of a list of parameters, the leaves on `threads` workers (0 = all cores). */
ng_status ng_params_digest(const ng_param *p, size_t n, int threads, uint8_t out[32]);
ng_status ng_weights_params_digest(const ng_weights *w, int threads, uint8_t out[32]);
/* The pieces, for callers that see the bytes in another order (streaming): leaves of a tensor,
 * a leaf's digest, a tensor's digest from its leaves, the digest from the tensors' digests. */
uint64_t ng_digest_nleaves(uint64_t nbytes);
void     ng_digest_leaf(const void *data, size_t n, uint8_t out[32]);
void     ng_digest_tensor(const char *name, ng_dtype dtype, const ng_shape *shape, uint64_t nbytes,
                          const uint8_t (*leaf)[32], uint64_t nleaves, uint8_t out[32]);
void     ng_digest_params_root(const uint8_t (*tensor)[32], size_t n, uint8_t out[32]);
/* Graph digest of an opened file (for streamed safetensors files: ng_st_header_graph_digest). */
ng_status ng_weights_graph_digest(const ng_weights *w, uint8_t out[32]);

#endif
