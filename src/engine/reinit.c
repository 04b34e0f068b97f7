/* engine/reinit.c - fresh-layer initialisation of parameter tensors (nnguard/model.h): the role of
 * each parameter comes from the node that consumes it, the values from PyTorch's defaults, the
 * same as the built-in architectures (archs.c) are initialised with. */
#include <math.h>
#include "engine/graph.h"

/* Fan-in of a weight as its consuming op sees it; 0 when the op has none. */
static int64_t weight_fan_in(const ng_node *n, const ng_shape *w)
{
    int64_t f = 1;
    switch (n->op) {
    case NG_OP_CONV:   /* [out, in/group, kh, kw] */
        for (int d = 1; d < w->ndim; d++) f *= w->d[d];
        return f;
    case NG_OP_GEMM:
        return w->ndim == 2 ? (n->a.trans_b ? w->d[1] : w->d[0]) : 0;
    case NG_OP_MATMUL:
        return w->ndim >= 2 ? w->d[w->ndim - 2] : 0;
    default:
        return 0;
    }
}

static int is_param(const ng_model *m, int v) { return v >= 0 && v < m->n_vals && m->vals[v].kind == NG_V_PARAM; }

ng_init_rule ng_model_init_rule(const ng_model *m, size_t i)
{
    ng_init_rule r = {NG_INIT_NONE, 0.0f, 0};
    if (i >= (size_t)m->n_ptensors) return r;
    int v = m->ptensors[i];
    for (int k = 0; k < m->n_nodes; k++) {
        const ng_node *n = &m->nodes[k];
        for (int j = 1; j < n->n_in; j++) {
            if (n->in[j] != v) continue;
            if (n->op == NG_OP_BATCHNORM && j < 5) {   /* X, scale, B, mean, var */
                static const float init[5] = {0, 1, 0, 0, 1};
                r.kind = NG_INIT_CONST;
                r.scale = init[j];
                r.variance = j == 4;
                return r;
            }
            if (n->op == NG_OP_LAYERNORM) {   /* X, Scale, B */
                r.kind = NG_INIT_CONST;
                r.scale = j == 1 ? 1.0f : 0.0f;
                return r;
            }
            if (j <= 2 && is_param(m, n->in[1])) {   /* weight, then bias (Conv B / Gemm C) */
                int64_t fan_in = weight_fan_in(n, &m->vals[n->in[1]].shape);
                if (fan_in <= 0) continue;
                r.kind = NG_INIT_UNIFORM;
                r.scale = 1.0f / sqrtf((float)fan_in);
                return r;
            }
        }
    }
    return r;
}

void ng_model_init_tensor(ng_model *m, size_t i, ng_rng *rng)
{
    ng_init_rule r = ng_model_init_rule(m, i);
    if (r.kind == NG_INIT_NONE) return;
    const ng_value *v = &m->vals[m->ptensors[i]];
    float *w = m->params + v->off;
    int64_t cnt = ng_shape_numel(&v->shape);
    for (int64_t j = 0; j < cnt; j++) w[j] = ng_model_init_draw(&r, rng);
}

float ng_model_init_draw(const ng_init_rule *r, ng_rng *rng)
{
    switch (r->kind) {
    case NG_INIT_UNIFORM: return (2.0f * ng_rng_uniform(rng) - 1.0f) * r->scale;
    case NG_INIT_CONST: return r->scale;
    default: return 0.0f;
    }
}

void ng_model_reinit(ng_model *m, uint64_t seed)
{
    ng_rng r;
    ng_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)m->n_ptensors; i++) ng_model_init_tensor(m, i, &r);
}
