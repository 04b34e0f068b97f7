/* formats/st_internal.h - what safetensors.c shares with st_stream.c (the one header parser). */
#ifndef NG_FORMATS_ST_INTERNAL_H
#define NG_FORMATS_ST_INTERNAL_H
#include "nnguard/safetensors.h"
#include "core/core.h"

struct ng_st_header {
    ng_st_tensor *t;        /* sorted by begin; names malloc'ed */
    size_t        n, cap;
    ng_meta       meta;
    uint64_t      data_start;   /* 8 + N of the file parsed (0 for a built header) */
    uint64_t      data_size;    /* sum of nbytes */
};

/* Read n bytes at absolute file offset off into buf. */
typedef ng_status (*ng_st_reader)(void *ctx, uint64_t off, void *buf, size_t n);
/* The graph digest (nnguard/weights.h) of a safetensors file, its non-float bytes read with read. */
ng_status ng_st_graph_digest_with(const ng_st_header *h, ng_st_reader read, void *ctx, const char *name,
                                  uint8_t out[32]);

/* Serialize h's tensors with the metadata list meta (instead of h's own). */
ng_status ng_st_serialize_with(const ng_st_header *h, const ng_meta *meta, uint8_t **out, size_t *len);

#endif
