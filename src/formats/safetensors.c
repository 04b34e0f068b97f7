/* formats/safetensors.c - safetensors files as ng_weights (in memory) and engine models saved
 * as safetensors. The header is parsed and checked by st_stream.c (one validator for the
 * streaming and in-memory paths); the tensor bytes stay in the private mapping, so
 * parameters are writable without touching the file. */
#include <stdlib.h>
#include <string.h>
#include "formats/st_internal.h"
#include "formats/weights_impl.h"
#include "nnguard/model.h"

typedef struct st_impl {
    ng_map        map;
    ng_st_header *h;
} st_impl;

static void st_free(struct ng_weights *w)
{
    st_impl *s = w->impl;
    if (s) {
        ng_st_header_free(s->h);
        ng_unmap(&s->map);
        free(s);
    }
    free(w->params);
    w->params = NULL; w->n_params = 0; w->impl = NULL;
}

/* Header with meta, then every tensor in data order: parameters from their (possibly
 * changed) bytes, the others from the mapping. */
static ng_status st_save(const struct ng_weights *w, const char *path, unsigned mode)
{
    const st_impl *s = w->impl;
    uint8_t *hdr;
    size_t hlen;
    ng_status st = ng_st_serialize_with(s->h, &w->meta, &hdr, &hlen);
    if (st != NG_OK) return ng_fail_ctx(st, path);
    ng_awriter aw;
    if ((st = ng_awrite_open(&aw, path, mode)) != NG_OK) { free(hdr); return st; }
    st = ng_awrite(&aw, hdr, hlen);
    free(hdr);
    size_t pi = 0;
    for (size_t i = 0; i < s->h->n && st == NG_OK; i++) {
        const ng_st_tensor *t = &s->h->t[i];
        const uint8_t *src = (const uint8_t *)s->map.data + t->offset;
        if (ng_dtype_is_float(t->dtype)) {
            const ng_param *p = &w->params[pi++];
            if (p->nbytes != t->nbytes) {
                st = ng_fail(NG_E_INTERNAL, "%s: parameter %s changed size", path, p->name);
                break;
            }
            src = p->data;
        }
        if (t->nbytes) st = ng_awrite(&aw, src, (size_t)t->nbytes);
    }
    if (st != NG_OK) { ng_awrite_abort(&aw); return st; }
    return ng_awrite_commit(&aw);
}

static const ng_weights_vtbl st_vtbl = {st_save, st_free};

static ng_status map_read(void *ctx, uint64_t off, void *buf, size_t n)
{
    const st_impl *s = ctx;
    if (off > s->map.len || n > s->map.len - off) return ng_fail(NG_E_INTERNAL, "read past the mapping");
    memcpy(buf, (const uint8_t *)s->map.data + off, n);
    return NG_OK;
}

ng_status ng_st_weights_graph_digest(const struct ng_weights *w, uint8_t out[32])
{
    st_impl *s = w->impl;
    return ng_st_graph_digest_with(s->h, map_read, s, w->path, out);
}

ng_status ng_st_weights_open_map(ng_map *map, const char *name, struct ng_weights *w)
{
    st_impl *s = calloc(1, sizeof *s);
    if (!s) { ng_unmap(map); return ng_fail(NG_E_NOMEM, "%s: out of memory", name); }
    s->map = *map;
    map->data = NULL; map->len = 0;
    ng_status st = ng_st_header_parse(s->map.data, s->map.len, s->map.len, name, &s->h);
    size_t np = 0;
    for (size_t i = 0; st == NG_OK && i < s->h->n; i++) np += ng_dtype_is_float(s->h->t[i].dtype) != 0;
    ng_param *params = st == NG_OK ? calloc(np ? np : 1, sizeof *params) : NULL;
    if (st == NG_OK && !params) st = ng_fail(NG_E_NOMEM, "%s: out of memory", name);
    if (st == NG_OK) st = ng_meta_copy(&w->meta, &s->h->meta) == NG_OK ? NG_OK : ng_fail(NG_E_NOMEM, "%s: out of memory", name);
    if (st != NG_OK) {
        free(params);
        ng_st_header_free(s->h);
        ng_unmap(&s->map);
        free(s);
        return st;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->h->n; i++) {
        const ng_st_tensor *t = &s->h->t[i];
        if (!ng_dtype_is_float(t->dtype)) continue;
        params[k++] = (ng_param){.name = t->name, .dtype = t->dtype, .shape = t->shape,
                                 .data = (uint8_t *)s->map.data + t->offset, .nbytes = (size_t)t->nbytes};
    }
    w->fmt = NG_FMT_SAFETENSORS;
    w->params = params;
    w->n_params = np;
    w->impl = s;
    w->vt = &st_vtbl;
    return NG_OK;
}

ng_status ng_model_save_safetensors(const ng_model *m, const char *path)
{
    ng_st_header *h;
    ng_status st = ng_st_header_new(&h);
    if (st != NG_OK) return st;
    size_t nt = ng_model_ntensors(m);
    for (size_t i = 0; i < nt && st == NG_OK; i++) {
        ng_param p;
        ng_model_tensor(m, i, &p);
        st = ng_st_header_add(h, p.name, NG_DT_F32, &p.shape);
    }
    for (size_t i = 0; i < ng_model_meta_count(m) && st == NG_OK; i++) {
        const char *k, *v;
        ng_model_meta_at(m, i, &k, &v);
        st = ng_st_header_meta_set(h, k, v);
    }
    uint8_t *hdr = NULL;
    size_t hlen = 0;
    if (st == NG_OK) st = ng_st_header_serialize(h, &hdr, &hlen);
    ng_st_header_free(h);
    if (st != NG_OK) return ng_fail_ctx(st, path);
    ng_awriter aw;
    if ((st = ng_awrite_open(&aw, path, NG_MODE_PUBLIC)) != NG_OK) { free(hdr); return st; }
    st = ng_awrite(&aw, hdr, hlen);
    free(hdr);
    for (size_t i = 0; i < nt && st == NG_OK; i++) {
        ng_param p;
        ng_model_tensor(m, i, &p);
        size_t nb = (size_t)ng_shape_numel(&p.shape) * sizeof(float);   /* checked by ng_st_header_add */
        if (nb) st = ng_awrite(&aw, p.data, nb);
    }
    if (st != NG_OK) { ng_awrite_abort(&aw); return st; }
    return ng_awrite_commit(&aw);
}
