/* nnguard/safetensors.h - safetensors headers, read and written without the data.
 *
 * For files larger than RAM: read and check only the header, then stream the
 * tensor bytes yourself (pread at each tensor's absolute offset) and write a new
 * file as ng_st_header_serialize() bytes followed by the data section.
 * ng_weights_open() uses the same parser and validator for in-memory files.
 *
 * Byte layout (all integers little-endian):
 *   [0, 8)          u64 N: length of the JSON header in bytes
 *   [8, 8+N)        UTF-8 JSON object (files we write pad it with spaces so that
 *                   N is a multiple of 8, keeping the data section 8-byte aligned):
 *                     { "__metadata__": { "key": "value", ... },          (optional)
 *                       "name": { "dtype": "F32", "shape": [d0, d1, ...],
 *                                 "data_offsets": [begin, end] }, ... }
 *   [8+N, end)      data section; a tensor's bytes are [8+N+begin, 8+N+end),
 *                   little-endian elements, row-major.
 * Checks (a file failing any is NG_E_FORMAT, with a message naming the file):
 *   N <= 100 MiB and 8+N <= file size; the header is a JSON object with no
 *   duplicate keys; every tensor has a known dtype (F32 F16 BF16 F64 I8 U8 I16
 *   U16 I32 U32 I64 U64 BOOL), a shape of at most 8 non-negative integer dims,
 *   and end - begin == numel * dtype size (no overflow); sorted by begin, the
 *   tensors tile the data section exactly: the first begins at 0, each begins
 *   where the previous ends, the last ends at the end of the file;
 *   "__metadata__" if present maps strings to strings. No other field is allowed.
 *
 *     ng_st_header *h;
 *     if (ng_st_header_read("big.safetensors", &h) != NG_OK) die(ng_last_error());
 *     for (size_t i = 0; i < ng_st_header_count(h); i++) {
 *         const ng_st_tensor *t = ng_st_header_tensor(h, i);   // in data order
 *         ... pread(fd, buf, t->nbytes, t->offset) ...
 *     }
 *     ng_st_header_meta_set(h, "nnguard.scheme", "deeplock");
 *     uint8_t *hdr; size_t hlen;
 *     ng_st_header_serialize(h, &hdr, &hlen);  // then write hdr, then each tensor's
 *     ...                                      // bytes in order (new offset = hlen + begin)
 *     free(hdr); ng_st_header_free(h);
 */
#ifndef NNGUARD_SAFETENSORS_H
#define NNGUARD_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "status.h"
#include "tensor.h"

#define NG_ST_MAX_HEADER (100u << 20)   /* largest JSON header accepted: 100 MiB */

typedef struct ng_st_header ng_st_header;

/* One tensor entry of a header. */
typedef struct ng_st_tensor {
    const char *name;     /* owned by the header */
    ng_dtype    dtype;
    ng_shape    shape;
    uint64_t    begin;    /* offset in the data section (data_offsets[0]) */
    uint64_t    offset;   /* absolute offset in the file: data_start + begin */
    uint64_t    nbytes;   /* data_offsets[1] - data_offsets[0] */
} ng_st_tensor;

/* Read and check the header of a file (never reads the data section). */
ng_status ng_st_header_read(const char *path, ng_st_header **out);
/* Same from an open file descriptor (read with pread; the position is not used); name for messages. */
ng_status ng_st_header_read_fd(int fd, const char *name, ng_st_header **out);
/* Parse the header from the first len bytes of a file of file_size bytes (len >= 8 + N needed). */
ng_status ng_st_header_parse(const uint8_t *buf, size_t len, uint64_t file_size, const char *name,
                             ng_st_header **out);
/* An empty header (no tensors, no metadata) to build a new file with ng_st_header_add. */
ng_status ng_st_header_new(ng_st_header **out);
/* Append a tensor after the last one (its begin = the data size so far). Names must be unique. */
ng_status ng_st_header_add(ng_st_header *h, const char *name, ng_dtype dtype, const ng_shape *shape);
void      ng_st_header_free(ng_st_header *h);

size_t    ng_st_header_count(const ng_st_header *h);              /* tensors */
const ng_st_tensor *ng_st_header_tensor(const ng_st_header *h, size_t i); /* in order of begin */
long      ng_st_header_find(const ng_st_header *h, const char *name); /* index or -1 */
uint64_t  ng_st_header_data_start(const ng_st_header *h);         /* 8 + N of the file read */
uint64_t  ng_st_header_data_size(const ng_st_header *h);          /* bytes in the data section */

/* __metadata__ (ordered). get returns NULL when absent; set with value NULL removes. */
const char *ng_st_header_meta_get(const ng_st_header *h, const char *key);
ng_status   ng_st_header_meta_set(ng_st_header *h, const char *key, const char *value);
size_t      ng_st_header_meta_count(const ng_st_header *h);
void        ng_st_header_meta_at(const ng_st_header *h, size_t i, const char **key, const char **value);

/* The graph digest (nnguard/weights.h) of the file h was read from, open as fd: the same value
 * ng_weights_graph_digest gives for it; reads the non-float tensors' bytes (pread). */
ng_status ng_st_header_graph_digest(const ng_st_header *h, int fd, const char *name, uint8_t out[32]);

/* Bytes of a header for h (u64 N + JSON padded with spaces to a multiple of 8): tensors in
 * order of begin, same data_offsets, "__metadata__" first when not empty. *out is malloc'ed;
 * the data section of the new file starts at *len. */
ng_status ng_st_header_serialize(const ng_st_header *h, uint8_t **out, size_t *len);

#endif
