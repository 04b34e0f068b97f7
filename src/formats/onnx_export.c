/* formats/onnx_export.c - engine graph (ng_model) -> ONNX file.
 *
 * Writes ir_version 8, default-domain opset 13 (14 when the graph needs
 * HardSwish or Reshape allowzero, 17 for LayerNormalization; Gelu and opset < 13
 * Softmax are refused), producer "nnguard". Parameters become FLOAT
 * initializers (raw_data, little-endian) in parameter order with their names;
 * Reshape's folded shape becomes an int64 initializer; a Dropout ratio other
 * than 0.5 a Constant node. The input's batch dim, and every output dim that
 * follows it, is the symbolic "N". metadata_props hold the model's meta.
 * All protobuf structures live in one arena freed after packing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/graph.h"
#include "formats/onnx_internal.h"
#include "nnguard/model_io.h"
#include "nnguard/version.h"

typedef struct arena { void **p; size_t n, cap; int oom; } arena;

static void *aalloc(arena *A, size_t size)
{
    if (A->n == A->cap) {
        size_t cap = A->cap ? A->cap * 2 : 256;
        void **p = realloc(A->p, cap * sizeof *p);
        if (!p) { A->oom = 1; return NULL; }
        A->p = p;
        A->cap = cap;
    }
    void *q = calloc(1, size ? size : 1);
    if (!q) { A->oom = 1; return NULL; }
    /* cppcheck-suppress memleak ; false positive: q is stored in A->p and freed with the arena */
    return A->p[A->n++] = q;
}

static char *astr(arena *A, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = aalloc(A, n);
    if (d) memcpy(d, s, n);
    return d;
}

static void afree(arena *A)
{
    for (size_t i = 0; i < A->n; i++) free(A->p[i]);
    free(A->p);
}

/* A value's name; unnamed values get "nnguard_v<id>". */
static char *vname(arena *A, const ng_model *m, int id)
{
    if (id < 0) return astr(A, "");
    if (m->vals[id].name && m->vals[id].name[0]) return astr(A, m->vals[id].name);
    char buf[32];
    snprintf(buf, sizeof buf, "nnguard_v%d", id);
    return astr(A, buf);
}

static Onnx__AttributeProto *attr_new(arena *A, const char *name, Onnx__AttributeProto__AttributeType t)
{
    Onnx__AttributeProto *a = aalloc(A, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = astr(A, name);
    a->has_type = 1;
    a->type = t;
    return a;
}

static Onnx__AttributeProto *attr_i(arena *A, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr_new(A, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) { a->has_i = 1; a->i = v; }
    return a;
}

static Onnx__AttributeProto *attr_f(arena *A, const char *name, float v)
{
    Onnx__AttributeProto *a = attr_new(A, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) { a->has_f = 1; a->f = v; }
    return a;
}

static Onnx__AttributeProto *attr_ints(arena *A, const char *name, const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = attr_new(A, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *d = aalloc(A, n * sizeof *d);
    if (!a || !d) return NULL;
    memcpy(d, v, n * sizeof *d);
    a->ints = d;
    a->n_ints = n;
    return a;
}

static Onnx__TensorProto *tensor_new(arena *A, const char *name, int32_t dtype, const int64_t *dims, int ndim,
                                     const void *data, size_t nbytes)
{
    Onnx__TensorProto *t = aalloc(A, sizeof *t);
    int64_t *d = aalloc(A, (size_t)(ndim ? ndim : 1) * sizeof *d);
    if (!t || !d) return NULL;
    onnx__tensor_proto__init(t);
    t->name = astr(A, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    if (ndim) memcpy(d, dims, (size_t)ndim * sizeof *d);
    t->dims = d;
    t->n_dims = (size_t)ndim;
    t->has_raw_data = 1;
    t->raw_data.data = (uint8_t *)data;   /* not copied: packed before the source goes away */
    t->raw_data.len = nbytes;
    return t;
}

/* The attributes of node i (and extra initializers/Constant nodes it needs). */
typedef struct exp_ctx {
    arena A;
    const ng_model *m;
    Onnx__TensorProto **inits; size_t n_inits;
    Onnx__NodeProto  **nodes; size_t n_nodes;
} exp_ctx;

#define ADD_ATTR(list, n, expr) do { Onnx__AttributeProto *a_ = (expr); if (!a_) return NULL; (list)[(n)++] = a_; } while (0)

static Onnx__NodeProto *node_new(exp_ctx *E, const char *op, const char *name, size_t n_in, size_t n_out)
{
    Onnx__NodeProto *nd = aalloc(&E->A, sizeof *nd);
    char **in = aalloc(&E->A, (n_in ? n_in : 1) * sizeof *in);
    char **out = aalloc(&E->A, n_out * sizeof *out);
    Onnx__AttributeProto **at = aalloc(&E->A, 8 * sizeof *at);
    if (!nd || !in || !out || !at) return NULL;
    onnx__node_proto__init(nd);
    nd->op_type = astr(&E->A, op);
    nd->name = astr(&E->A, name);
    nd->input = in; nd->n_input = n_in;
    nd->output = out; nd->n_output = n_out;
    nd->attribute = at;
    return nd;
}


/* An extra input for node i: an int64 initializer (vals, n; n < 0: a scalar), or a Constant node
 * holding one float (f), which the importer folds without making it a parameter. Returns its name. */
static char *extra_init(exp_ctx *E, int i, const char *what, const int64_t *vals, int n, const float *f)
{
    arena *A = &E->A;
    char nm[64];
    snprintf(nm, sizeof nm, "nnguard_%s_%d", what, i);
    int64_t dim = n < 0 ? 1 : n;
    if (f) {
        Onnx__NodeProto *c = node_new(E, "Constant", nm, 0, 1);
        Onnx__AttributeProto *v = c ? attr_new(A, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) : NULL;
        if (!v || !(c->output[0] = astr(A, nm))) return NULL;
        if (!(v->t = tensor_new(A, what, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0, f, 4))) return NULL;   /* f lives in the model */
        c->attribute[c->n_attribute++] = v;
        E->nodes[E->n_nodes++] = c;
        return c->output[0];
    }
    uint8_t *b = aalloc(A, (size_t)(dim ? dim : 1) * 8);
    if (!b) return NULL;
    for (int64_t j = 0; j < dim; j++) ng_put_le64(b + 8 * j, (uint64_t)vals[j]);
    Onnx__TensorProto *t = tensor_new(A, nm, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, &dim, n < 0 ? 0 : 1, b, (size_t)dim * 8);
    if (!t) return NULL;
    E->inits[E->n_inits++] = t;
    return t->name;
}

/* Nodes of the ops whose integer inputs were folded into attributes (Slice, Pad, Gather, Squeeze,
 * Unsqueeze, Clip) and the other ops added for torch exports: inputs and attributes back. */
static Onnx__NodeProto *export_more(exp_ctx *E, int i)
{
    const ng_model *m = E->m;
    const ng_node *n = &m->nodes[i];
    const ng_attrs *a = &n->a;
    arena *A = &E->A;
    Onnx__NodeProto *nd = node_new(E, ng_ops[n->op].name, n->name ? n->name : "", (size_t)n->n_in + 4, (size_t)n->n_out);
    if (!nd) return NULL;
    for (int j = 0; j < n->n_out; j++)
        if (!(nd->output[j] = vname(A, m, n->out[j]))) return NULL;
    size_t ni = 0, k = 0;
    for (int j = 0; j < n->n_in; j++)
        if (!(nd->input[ni++] = vname(A, m, n->in[j]))) return NULL;
#define EXTRA(what, vals, cnt, f) do { if (!(nd->input[ni++] = extra_init(E, i, what, vals, cnt, f))) return NULL; } while (0)
    switch (n->op) {
    case NG_OP_CLIP:
        if (isfinite(a->lo)) EXTRA("min", NULL, 0, &a->lo); else nd->input[ni++] = astr(A, "");
        if (isfinite(a->hi)) EXTRA("max", NULL, 0, &a->hi);
        break;
    case NG_OP_SLICE:
        EXTRA("starts", a->starts, a->n_axes, NULL);
        EXTRA("ends", a->ends, a->n_axes, NULL);
        EXTRA("axes", a->axes, a->n_axes, NULL);
        EXTRA("steps", a->steps, a->n_axes, NULL);
        break;
    case NG_OP_PAD:
        EXTRA("pads", a->pads, 2 * a->n_axes, NULL);
        EXTRA("value", NULL, 0, &a->value);
        break;
    case NG_OP_GATHER:
        EXTRA("indices", a->idx, a->idx_scalar ? -1 : a->n_idx, NULL);
        ADD_ATTR(nd->attribute, k, attr_i(A, "axis", a->axis));
        break;
    case NG_OP_SQUEEZE: case NG_OP_UNSQUEEZE:
        if (a->n_axes) EXTRA("axes", a->axes, a->n_axes, NULL);
        break;
    case NG_OP_TRANSPOSE:
        if (a->n_axes) ADD_ATTR(nd->attribute, k, attr_ints(A, "perm", a->axes, (size_t)a->n_axes));
        break;
    case NG_OP_REDUCEMEAN:
        if (a->n_axes) ADD_ATTR(nd->attribute, k, attr_ints(A, "axes", a->axes, (size_t)a->n_axes));
        ADD_ATTR(nd->attribute, k, attr_i(A, "keepdims", a->keepdims));
        break;
    case NG_OP_LAYERNORM:
        ADD_ATTR(nd->attribute, k, attr_i(A, "axis", a->axis));
        ADD_ATTR(nd->attribute, k, attr_f(A, "epsilon", a->epsilon));
        break;
    case NG_OP_LSTM: case NG_OP_GRU: {
        Onnx__AttributeProto *d = attr_new(A, "direction", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
        char *dir = astr(A, a->bidir ? "bidirectional" : a->reverse ? "reverse" : "forward");
        if (!d || !dir) return NULL;
        d->has_s = 1;
        d->s.data = (uint8_t *)dir;
        d->s.len = strlen(dir);
        nd->attribute[k++] = d;
        ADD_ATTR(nd->attribute, k, attr_i(A, "hidden_size", a->hidden));
        if (n->op == NG_OP_GRU) ADD_ATTR(nd->attribute, k, attr_i(A, "linear_before_reset", a->linear_before_reset));
        break;
    }
    default:
        break;
    }
#undef EXTRA
    nd->n_input = ni;
    nd->n_attribute = k;
    return nd;
}

static Onnx__NodeProto *export_node(exp_ctx *E, int i)
{
    const ng_model *m = E->m;
    const ng_node *n = &m->nodes[i];
    const ng_attrs *a = &n->a;
    arena *A = &E->A;
    if (n->op >= NG_OP_SUB) return export_more(E, i);
    int n_in = n->n_in;
    char extra[64];
    snprintf(extra, sizeof extra, "nnguard_%s_%d", n->op == NG_OP_RESHAPE ? "shape" : "ratio", i);
    int has_extra = n->op == NG_OP_RESHAPE || (n->op == NG_OP_DROPOUT && a->ratio != 0.5f);
    Onnx__NodeProto *nd = node_new(E, ng_ops[n->op].name, n->name ? n->name : "", (size_t)(n_in + has_extra), 1);
    if (!nd) return NULL;
    for (int j = 0; j < n_in; j++)
        if (!(nd->input[j] = vname(A, m, n->in[j]))) return NULL;
    if (!(nd->output[0] = vname(A, m, n->out[0]))) return NULL;
    if (has_extra && !(nd->input[n_in] = astr(A, extra))) return NULL;
    size_t k = 0;
    switch (n->op) {
    case NG_OP_CONV: {
        const ng_shape *w = &m->vals[n->in[1]].shape;
        int64_t ks[2] = { w->ndim == 4 ? w->d[2] : a->kernel[0], w->ndim == 4 ? w->d[3] : a->kernel[1] };
        ADD_ATTR(nd->attribute, k, attr_ints(A, "kernel_shape", ks, 2));
        ADD_ATTR(nd->attribute, k, attr_ints(A, "strides", a->stride, 2));
        ADD_ATTR(nd->attribute, k, attr_ints(A, "pads", a->pad, 4));
        ADD_ATTR(nd->attribute, k, attr_ints(A, "dilations", a->dilation, 2));
        ADD_ATTR(nd->attribute, k, attr_i(A, "group", a->group));
        break;
    }
    case NG_OP_MAXPOOL:
    case NG_OP_AVGPOOL:
        ADD_ATTR(nd->attribute, k, attr_ints(A, "kernel_shape", a->kernel, 2));
        ADD_ATTR(nd->attribute, k, attr_ints(A, "strides", a->stride, 2));
        ADD_ATTR(nd->attribute, k, attr_ints(A, "pads", a->pad, 4));
        ADD_ATTR(nd->attribute, k, attr_i(A, "ceil_mode", a->ceil_mode));
        if (n->op == NG_OP_AVGPOOL) ADD_ATTR(nd->attribute, k, attr_i(A, "count_include_pad", a->count_include_pad));
        break;
    case NG_OP_GEMM:
        ADD_ATTR(nd->attribute, k, attr_f(A, "alpha", a->alpha));
        ADD_ATTR(nd->attribute, k, attr_f(A, "beta", a->beta));
        ADD_ATTR(nd->attribute, k, attr_i(A, "transA", a->trans_a));
        ADD_ATTR(nd->attribute, k, attr_i(A, "transB", a->trans_b));
        break;
    case NG_OP_LEAKYRELU:
        ADD_ATTR(nd->attribute, k, attr_f(A, "alpha", a->alpha));
        break;
    case NG_OP_HARDSIGMOID:
        ADD_ATTR(nd->attribute, k, attr_f(A, "alpha", a->alpha));
        ADD_ATTR(nd->attribute, k, attr_f(A, "beta", a->beta));
        break;
    case NG_OP_BATCHNORM:
        ADD_ATTR(nd->attribute, k, attr_f(A, "epsilon", a->epsilon));
        ADD_ATTR(nd->attribute, k, attr_f(A, "momentum", a->momentum));
        break;
    case NG_OP_FLATTEN:
    case NG_OP_SOFTMAX:
    case NG_OP_CONCAT:
        ADD_ATTR(nd->attribute, k, attr_i(A, "axis", a->axis));
        break;
    case NG_OP_RESHAPE: {
        int64_t dim = a->shape_n;
        int64_t *sh = aalloc(A, (size_t)(dim ? dim : 1) * 8);
        if (!sh) return NULL;
        for (int j = 0; j < a->shape_n; j++) ng_put_le64((uint8_t *)&sh[j], (uint64_t)a->shape[j]);
        Onnx__TensorProto *t = tensor_new(A, extra, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, &dim, 1, sh, (size_t)dim * 8);
        if (!t) return NULL;
        E->inits[E->n_inits++] = t;
        if (a->allowzero) ADD_ATTR(nd->attribute, k, attr_i(A, "allowzero", 1));
        break;
    }
    case NG_OP_DROPOUT:
        if (has_extra) {
            Onnx__NodeProto *c = node_new(E, "Constant", extra, 0, 1);
            Onnx__AttributeProto *v = c ? attr_new(A, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) : NULL;
            float *r = aalloc(A, sizeof *r);
            if (!v || !r || !(c->output[0] = astr(A, extra))) return NULL;
            *r = a->ratio;
            if (!(v->t = tensor_new(A, "ratio", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0, r, 4))) return NULL;
            c->attribute[c->n_attribute++] = v;
            E->nodes[E->n_nodes++] = c;
        }
        break;
    default:
        break;
    }
    nd->n_attribute = k;
    return nd;
}

/* A float tensor type with shape s; dims marked in batch[] are the symbolic "N". */
static Onnx__ValueInfoProto *value_info(arena *A, char *name, const ng_shape *s, const int *batch)
{
    Onnx__ValueInfoProto *v = aalloc(A, sizeof *v);
    Onnx__TypeProto *t = aalloc(A, sizeof *t);
    Onnx__TypeProto__Tensor *tt = aalloc(A, sizeof *tt);
    Onnx__TensorShapeProto *sp = aalloc(A, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims = aalloc(A, (size_t)(s->ndim ? s->ndim : 1) * sizeof *dims);
    if (!v || !t || !tt || !sp || !dims || !name) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    for (int i = 0; i < s->ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = aalloc(A, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (batch[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            if (!(d->dim_param = astr(A, "N"))) return NULL;
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = s->d[i];
        }
        dims[i] = d;
    }
    sp->dim = dims;
    sp->n_dim = (size_t)s->ndim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sp;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = name;
    v->type = t;
    return v;
}

/* Input and output value infos; output dims that change with the batch size are "N". */
static ng_status io_infos(exp_ctx *E, Onnx__GraphProto *g, const char *path)
{
    const ng_model *m = E->m;
    ng_shape *s1 = ng_calloc((size_t)m->n_vals, sizeof *s1), *s2 = ng_calloc((size_t)m->n_vals, sizeof *s2);
    ng_status st = s1 && s2 ? ng_model_infer_shapes(m, 1, s1) : NG_E_NOMEM;
    if (st == NG_OK) st = ng_model_infer_shapes(m, 2, s2);
    if (st == NG_OK) {
        int bi[NG_MAX_DIMS] = {1}, bo[NG_MAX_DIMS] = {0};
        ng_shape is = m->vals[m->input].shape, os = s1[m->output];
        for (int i = 0; i < os.ndim; i++) bo[i] = os.d[i] != s2[m->output].d[i];
        Onnx__ValueInfoProto **in = aalloc(&E->A, sizeof *in), **out = aalloc(&E->A, sizeof *out);
        if (!in || !out || !(in[0] = value_info(&E->A, vname(&E->A, m, m->input), &is, bi)) ||
            !(out[0] = value_info(&E->A, vname(&E->A, m, m->output), &os, bo)))
            st = NG_E_NOMEM;
        g->input = in; g->n_input = 1;
        g->output = out; g->n_output = 1;
    }
    free(s1);
    free(s2);
    return st == NG_OK ? NG_OK : ng_fail_ctx(st, path);
}

static ng_status build(exp_ctx *E, Onnx__ModelProto *mp, Onnx__GraphProto *g, const char *path)
{
    const ng_model *m = E->m;
    arena *A = &E->A;
    int64_t opset = 13;
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *n = &m->nodes[i];
        if ((n->op == NG_OP_HARDSWISH || (n->op == NG_OP_RESHAPE && n->a.allowzero)) && opset < 14) opset = 14;
        if (n->op == NG_OP_LAYERNORM) opset = 17;
        if (n->op == NG_OP_GELU || (n->op == NG_OP_SOFTMAX && n->a.softmax_2d))
            return ng_fail(NG_E_UNSUPPORTED, "%s: node '%s' (%s%s) has no equivalent in ONNX opsets 13-17; keep the "
                           "original model file", path, n->name, ng_ops[n->op].name, n->op == NG_OP_GELU ? "" :
                           ", opset < 13 semantics");
    }
    E->inits = aalloc(A, (size_t)(m->n_ptensors + 4 * m->n_nodes + 1) * sizeof *E->inits);
    E->nodes = aalloc(A, (size_t)(3 * m->n_nodes + 1) * sizeof *E->nodes);
    if (!E->inits || !E->nodes) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < m->n_ptensors; i++) {
        const ng_value *v = &m->vals[m->ptensors[i]];
        int64_t numel = ng_shape_numel(&v->shape);
        char *nm = vname(A, m, m->ptensors[i]);
        Onnx__TensorProto *t = nm ? tensor_new(A, nm, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, v->shape.d, v->shape.ndim,
                                               m->params + v->off, (size_t)numel * sizeof(float)) : NULL;
        if (!t) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
        E->inits[E->n_inits++] = t;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        Onnx__NodeProto *nd = export_node(E, i);
        if (!nd) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
        E->nodes[E->n_nodes++] = nd;
    }
    g->name = astr(A, m->graph_name && m->graph_name[0] ? m->graph_name : "nnguard");
    g->node = E->nodes; g->n_node = E->n_nodes;
    g->initializer = E->inits; g->n_initializer = E->n_inits;
    ng_status st = io_infos(E, g, path);
    if (st != NG_OK) return st;
    Onnx__OperatorSetIdProto *os = aalloc(A, sizeof *os);
    Onnx__OperatorSetIdProto **osl = aalloc(A, sizeof *osl);
    Onnx__StringStringEntryProto **kv = aalloc(A, (m->meta.n ? m->meta.n : 1) * sizeof *kv);
    if (!os || !osl || !kv) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
    onnx__operator_set_id_proto__init(os);
    os->domain = astr(A, "");
    os->has_version = 1;
    os->version = opset;
    osl[0] = os;
    for (size_t i = 0; i < m->meta.n; i++) {
        if (!(kv[i] = aalloc(A, sizeof **kv))) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
        onnx__string_string_entry_proto__init(kv[i]);
        kv[i]->key = astr(A, m->meta.kv[i].key);
        kv[i]->value = astr(A, m->meta.kv[i].value);
    }
    mp->has_ir_version = 1;
    mp->ir_version = 8;
    mp->opset_import = osl; mp->n_opset_import = 1;
    mp->producer_name = astr(A, "nnguard");
    mp->producer_version = astr(A, NNGUARD_VERSION);
    mp->graph = g;
    mp->metadata_props = kv; mp->n_metadata_props = m->meta.n;
    return A->oom ? ng_fail(NG_E_NOMEM, "%s: out of memory", path) : NG_OK;
}

ng_status ng_model_save_onnx(const ng_model *m, const char *path)
{
    if (m->input < 0 || m->output < 0 || m->n_nodes == 0)
        return ng_fail(NG_E_INVALID, "%s: the model has no graph to save", path);
    exp_ctx E;
    memset(&E, 0, sizeof E);
    E.m = m;
    Onnx__ModelProto mp;
    Onnx__GraphProto g;
    onnx__model_proto__init(&mp);
    onnx__graph_proto__init(&g);
    ng_status st = build(&E, &mp, &g, path);
    uint8_t *buf = NULL;
    if (st == NG_OK) {
        size_t n = onnx__model_proto__get_packed_size(&mp);
        buf = malloc(n ? n : 1);
        if (!buf) st = ng_fail(NG_E_NOMEM, "%s: out of memory (%zu bytes)", path, n);
        else if (onnx__model_proto__pack(&mp, buf) != n) st = ng_fail(NG_E_INTERNAL, "%s: protobuf pack size mismatch", path);
        else st = ng_write_file_atomic(path, buf, n, NG_MODE_PUBLIC);
    }
    free(buf);
    afree(&E.A);
    return st;
}
