/* formats/model_weights.c - the bridge between a model's graph (engine) and a weights file
 * (formats): filling a model from an ng_weights, and a model's id, the same digest a weights
 * file of its parameters has (ng_weights_id), so the two can be matched. It lives here, not in
 * the engine, so the engine builds and links without the file formats. */
#include <stdlib.h>
#include <string.h>
#include "engine/graph.h"
#include "nnguard/weights.h"

void ng_model_id(const ng_model *m, uint8_t id[32])
{
    ng_param *p = ng_calloc((size_t)(m->n_ptensors ? m->n_ptensors : 1), sizeof *p);
    if (!p) { memset(id, 0, 32); return; }
    for (int i = 0; i < m->n_ptensors; i++) ng_model_tensor(m, (size_t)i, &p[i]);
    ng_params_id(p, (size_t)m->n_ptensors, id);
    free(p);
}

static int same_shape(const ng_shape *a, const ng_shape *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++) if (a->d[i] != b->d[i]) return 0;
    return 1;
}

static void shape_str(const ng_shape *s, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < s->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)s->d[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

ng_status ng_model_set_weights(ng_model *m, const ng_weights *w)
{
    const char *src = ng_weights_path(w) ? ng_weights_path(w) : "weights";
    /* Check everything first so a failure leaves m untouched. */
    for (int i = 0; i < m->n_ptensors; i++) {
        const ng_value *v = &m->vals[m->ptensors[i]];
        long k = ng_weights_find(w, v->name);
        if (k < 0) return ng_fail(NG_E_FORMAT, "%s: tensor '%s' that the model needs is missing", src, v->name);
        const ng_param *p = ng_weights_param_c(w, (size_t)k);
        if (p->dtype != NG_DT_F32)
            return ng_fail(NG_E_UNSUPPORTED, "%s: tensor '%s' is %s, the engine needs F32", src, v->name, ng_dtype_name(p->dtype));
        if (!same_shape(&p->shape, &v->shape)) {
            char a[128], b[128];
            shape_str(&p->shape, a, sizeof a);
            shape_str(&v->shape, b, sizeof b);
            return ng_fail(NG_E_SHAPE, "%s: tensor '%s' has shape %s, the model needs %s", src, v->name, a, b);
        }
        if (p->nbytes != (size_t)ng_shape_numel(&v->shape) * sizeof(float))
            return ng_fail(NG_E_FORMAT, "%s: tensor '%s' holds %zu bytes, its shape needs %zu", src, v->name,
                           p->nbytes, (size_t)ng_shape_numel(&v->shape) * sizeof(float));
    }
    for (int i = 0; i < m->n_ptensors; i++) {
        const ng_value *v = &m->vals[m->ptensors[i]];
        const ng_param *p = ng_weights_param_c(w, (size_t)ng_weights_find(w, v->name));
        memcpy(m->params + v->off, p->data, p->nbytes);
    }
    return NG_OK;
}
