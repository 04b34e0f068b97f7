/* engine/graph.c - building, checking, copying and inspecting ng_model graphs.
 *
 * Values hold offsets into the ONE contiguous parameter array m->params, never
 * pointers, so the array may move when parameters are added. Growth is
 * geometric (param_cap: 1/8 steps within each power of two, at most 12.5% slack);
 * an importer that knows the total reserves it once (ng_model_reserve_params), so
 * a large model is not copied again at every step.
 */
#include <stdlib.h>
#include <string.h>
#include "engine/graph.h"
#include "engine/ops.h"

/* Capacity in floats of a params array holding n floats. */
static size_t param_cap(size_t n)
{
    if (n <= 64) return 64;
    int hb = 63 - __builtin_clzll((unsigned long long)(n - 1));
    size_t step = (size_t)1 << (hb > 3 ? hb - 3 : 0);
    return (n + step - 1) / step * step;
}

ng_model *ng_model_alloc(void)
{
    ng_model *m = ng_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->input = -1;
    m->output = -1;
    m->opset = 13;
    return m;
}

int ng_model_find_value(const ng_model *m, const char *name)
{
    for (int i = 0; i < m->n_vals; i++)
        if (strcmp(m->vals[i].name, name) == 0) return i;
    return -1;
}

int ng_model_add_value(ng_model *m, const char *name, ng_vkind kind, const ng_shape *shape)
{
    ng_value *v = ng_reallocarray(m->vals, (size_t)m->n_vals + 1, sizeof *v);
    if (!v) return -1;
    m->vals = v;
    ng_value *nv = &v[m->n_vals];
    memset(nv, 0, sizeof *nv);
    nv->name = ng_strdup(name ? name : "");
    if (!nv->name) return -1;
    nv->kind = kind;
    if (shape) nv->shape = *shape;
    nv->tensor = -1;
    if (kind == NG_V_INPUT && m->input < 0) m->input = m->n_vals;
    return m->n_vals++;
}

/* Move the parameters to an array of cap floats. */
static ng_status grow_params(ng_model *m, size_t cap)
{
    if (cap > SIZE_MAX / sizeof(float)) return ng_fail(NG_E_NOMEM, "too many parameters");
    float *p = ng_alloc_aligned(cap * sizeof(float));
    if (!p) return NG_E_NOMEM;
    if (m->n_params) memcpy(p, m->params, m->n_params * sizeof(float));
    ng_free_aligned(m->params);
    m->params = p;
    m->params_cap = cap;
    return NG_OK;
}

ng_status ng_model_reserve_params(ng_model *m, size_t extra)
{
    size_t need = m->n_params + extra;
    if (need < m->n_params) return ng_fail(NG_E_NOMEM, "too many parameters");
    if (m->params && need <= m->params_cap) return NG_OK;
    return grow_params(m, param_cap(need));
}

int ng_model_add_param(ng_model *m, const char *name, const ng_shape *shape, const float *data, int trainable)
{
    int64_t numel = ng_shape_numel(shape);
    if (numel < 0) { ng_fail(NG_E_SHAPE, "parameter '%s': bad shape", name); return -1; }
    size_t need = m->n_params + (size_t)numel;
    if (need < m->n_params) { ng_fail(NG_E_NOMEM, "parameter '%s': too many parameters", name); return -1; }
    if ((!m->params || need > m->params_cap) && grow_params(m, param_cap(need)) != NG_OK) return -1;
    int *pt = ng_reallocarray(m->ptensors, (size_t)m->n_ptensors + 1, sizeof *pt);
    if (!pt) return -1;
    m->ptensors = pt;
    int id = ng_model_add_value(m, name, NG_V_PARAM, shape);
    if (id < 0) return -1;
    ng_value *v = &m->vals[id];
    v->off = m->n_params;
    v->trainable = trainable;
    v->tensor = m->n_ptensors;
    if (data) memcpy(m->params + v->off, data, (size_t)numel * sizeof(float));
    else memset(m->params + v->off, 0, (size_t)numel * sizeof(float));
    m->ptensors[m->n_ptensors++] = id;
    m->n_params = need;
    return id;
}

int ng_model_add_node(ng_model *m, ng_op op, const char *name, const int *ins, int n_in,
                      const int *outs, int n_out, const ng_attrs *a)
{
    const char *nm = name ? name : "";
    if ((unsigned)op >= NG_OP_COUNT) { ng_fail(NG_E_UNSUPPORTED, "node '%s': unknown operator %d", nm, (int)op); return -1; }
    if (n_in < 0 || n_in > ng_ops[op].max_in || n_out < 1 || n_out > NG_NODE_MAX_OUT) {
        ng_fail(NG_E_FORMAT, "node '%s' (%s): %d inputs and %d outputs, expected %d..%d inputs and 1..%d outputs",
                nm, ng_ops[op].name, n_in, n_out, ng_ops[op].min_in, ng_ops[op].max_in, NG_NODE_MAX_OUT);
        return -1;
    }
    ng_node *nd = ng_reallocarray(m->nodes, (size_t)m->n_nodes + 1, sizeof *nd);
    if (!nd) return -1;
    m->nodes = nd;
    ng_node *n = &nd[m->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = ng_strdup(nm);
    n->in = ng_calloc((size_t)(n_in ? n_in : 1), sizeof *n->in);
    if (!n->name || !n->in) { free(n->name); free(n->in); return -1; }
    if (n_in) memcpy(n->in, ins, (size_t)n_in * sizeof *ins);
    n->n_in = n_in;
    n->n_out = n_out;
    for (int i = 0; i < NG_NODE_MAX_OUT; i++) n->out[i] = i < n_out ? outs[i] : -1;
    if (a) n->a = *a; else ng_attrs_default(&n->a);
    return m->n_nodes++;
}

/* Redo a shape function's failure so the message names the node. */
static ng_status node_fail(const ng_node *n, ng_status st)
{
    const char *msg = ng_last_error();
    if (strncmp(msg, "node '", 6) == 0) return st;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", msg[0] ? msg : ng_status_str(st));
    return ng_fail(st, "node '%s' (%s): %s", n->name, ng_ops[n->op].name, buf);
}

ng_status ng_model_infer_shapes(const ng_model *m, int64_t batch, ng_shape *shapes)
{
    if (m->input < 0 || m->input >= m->n_vals) return ng_fail(NG_E_FORMAT, "model has no graph input");
    for (int i = 0; i < m->n_vals; i++) {
        shapes[i] = m->vals[i].shape;
        if (m->vals[i].kind == NG_V_ACT) shapes[i].ndim = -1;
    }
    ng_shape *xs = &shapes[m->input];
    if (xs->ndim < 1) return ng_fail(NG_E_SHAPE, "graph input '%s' has no batch dimension", m->vals[m->input].name);
    xs->d[0] = batch;
    for (int k = 1; k < xs->ndim; k++)
        if (xs->d[k] < 0) xs->d[k] = 1;     /* unknown non-batch dims: assume 1 */
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *n = &m->nodes[i];
        const ng_shape *in[64];
        ng_shape outs[NG_NODE_MAX_OUT];
        if (n->n_in > 64) return ng_fail(NG_E_UNSUPPORTED, "node '%s': too many inputs", n->name);
        if (n->n_in < ng_ops[n->op].min_in)
            return ng_fail(NG_E_FORMAT, "node '%s' (%s): has %d inputs, needs at least %d", n->name,
                           ng_ops[n->op].name, n->n_in, ng_ops[n->op].min_in);
        for (int j = 0; j < n->n_in; j++) {
            int v = n->in[j];
            in[j] = v >= 0 ? &shapes[v] : NULL;
            if (v < 0 && j < ng_ops[n->op].min_in)   /* the shape functions trust the op table's minimum */
                return ng_fail(NG_E_FORMAT, "node '%s' (%s): required input %d is missing", n->name,
                               ng_ops[n->op].name, j);
            if (v >= 0 && shapes[v].ndim < 0)
                return ng_fail(NG_E_FORMAT, "node '%s' (%s): input '%s' is used before it is defined",
                               n->name, ng_ops[n->op].name, m->vals[v].name);
        }
        memset(outs, 0, sizeof outs);
        ng_status st = ng_ops[n->op].shape(n, in, outs);
        if (st != NG_OK) return node_fail(n, st);
        for (int j = 0; j < n->n_out; j++) {
            if (ng_shape_numel(&outs[j]) < 0)
                return ng_fail(NG_E_SHAPE, "node '%s' (%s): output has an invalid shape", n->name, ng_ops[n->op].name);
            shapes[n->out[j]] = outs[j];
        }
    }
    return NG_OK;
}

ng_status ng_model_finalize(ng_model *m)
{
    if (m->input < 0)
        for (int i = 0; i < m->n_vals && m->input < 0; i++)
            if (m->vals[i].kind == NG_V_INPUT) m->input = i;
    if (m->input < 0) return ng_fail(NG_E_FORMAT, "model has no graph input");
    if (m->n_nodes == 0) return ng_fail(NG_E_FORMAT, "model has no nodes");
    if (m->output < 0) m->output = m->nodes[m->n_nodes - 1].out[0];
    char *defined = ng_calloc((size_t)m->n_vals, 1);
    if (!defined) return NG_E_NOMEM;
    ng_status st = NG_OK;
    for (int i = 0; i < m->n_vals; i++) defined[i] = m->vals[i].kind != NG_V_ACT;
    for (int i = 0; i < m->n_nodes && st == NG_OK; i++) {
        const ng_node *n = &m->nodes[i];
        const char *op = ng_ops[n->op].name;
        for (int j = 0; j < n->n_in && st == NG_OK; j++) {
            int v = n->in[j];
            if (v < -1 || v >= m->n_vals) st = ng_fail(NG_E_FORMAT, "node '%s' (%s): input %d is not a value", n->name, op, j);
            else if (v == -1 && j < ng_ops[n->op].min_in)
                st = ng_fail(NG_E_FORMAT, "node '%s' (%s): required input %d is missing", n->name, op, j);
            else if (v >= 0 && !defined[v])
                st = ng_fail(NG_E_FORMAT, "node '%s' (%s): input '%s' is used before it is defined",
                             n->name, op, m->vals[v].name);
        }
        if (st == NG_OK && n->n_in < ng_ops[n->op].min_in)
            st = ng_fail(NG_E_FORMAT, "node '%s' (%s): has %d inputs, needs at least %d", n->name, op, n->n_in, ng_ops[n->op].min_in);
        for (int j = 0; j < n->n_out && st == NG_OK; j++) {
            int v = n->out[j];
            if (v < 0 || v >= m->n_vals) st = ng_fail(NG_E_FORMAT, "node '%s' (%s): output %d is not a value", n->name, op, j);
            else if (m->vals[v].kind != NG_V_ACT || defined[v])
                st = ng_fail(NG_E_FORMAT, "node '%s' (%s): output '%s' is already defined", n->name, op, m->vals[v].name);
            else defined[v] = 1;
        }
    }
    if (st == NG_OK && (m->output < 0 || m->output >= m->n_vals || !defined[m->output] ||
                        m->vals[m->output].kind != NG_V_ACT))
        st = ng_fail(NG_E_FORMAT, "model output is not computed by any node");
    free(defined);
    if (st != NG_OK) return st;
    ng_shape *shapes = ng_calloc((size_t)m->n_vals, sizeof *shapes);
    if (!shapes) return NG_E_NOMEM;
    st = ng_model_infer_shapes(m, 1, shapes);
    free(shapes);
    return st;
}

void ng_model_free(ng_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_vals; i++) free(m->vals[i].name);
    for (int i = 0; i < m->n_nodes; i++) { free(m->nodes[i].name); free(m->nodes[i].in); }
    free(m->vals);
    free(m->nodes);
    ng_free_aligned(m->params);
    free(m->ptensors);
    ng_meta_free(&m->meta);
    free(m->graph_name);
    free(m->input_name_hint);
    free(m->granted);
    free(m);
}

static char *dup_or_null(const char *s, int *fail)
{
    if (!s) return NULL;
    char *d = ng_strdup(s);
    if (!d) *fail = 1;
    return d;
}

ng_status ng_model_clone(const ng_model *m, ng_model **out)
{
    *out = NULL;
    ng_model *c = ng_model_alloc();
    if (!c) return NG_E_NOMEM;
    int fail = 0;
    c->input = m->input; c->output = m->output; c->opset = m->opset;
    c->vals = ng_calloc((size_t)(m->n_vals ? m->n_vals : 1), sizeof *c->vals);
    c->nodes = ng_calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof *c->nodes);
    c->ptensors = ng_calloc((size_t)(m->n_ptensors ? m->n_ptensors : 1), sizeof *c->ptensors);
    c->params = ng_alloc_aligned(param_cap(m->n_params) * sizeof(float));
    c->params_cap = param_cap(m->n_params);
    if (!c->vals || !c->nodes || !c->ptensors || !c->params) { ng_model_free(c); return NG_E_NOMEM; }
    for (int i = 0; i < m->n_vals; i++) {
        c->vals[i] = m->vals[i];
        c->vals[i].name = dup_or_null(m->vals[i].name, &fail);
        c->n_vals = i + 1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *s = &m->nodes[i];
        ng_node *d = &c->nodes[i];
        *d = *s;
        d->name = dup_or_null(s->name, &fail);
        d->in = ng_calloc((size_t)(s->n_in ? s->n_in : 1), sizeof *d->in);
        if (!d->in) fail = 1; else if (s->n_in) memcpy(d->in, s->in, (size_t)s->n_in * sizeof *d->in);
        c->n_nodes = i + 1;
    }
    if (m->n_params) memcpy(c->params, m->params, m->n_params * sizeof(float));
    c->n_params = m->n_params;
    if (m->n_ptensors) memcpy(c->ptensors, m->ptensors, (size_t)m->n_ptensors * sizeof *c->ptensors);
    c->n_ptensors = m->n_ptensors;
    c->graph_name = dup_or_null(m->graph_name, &fail);
    c->input_name_hint = dup_or_null(m->input_name_hint, &fail);
    if (m->granted && (c->granted = malloc((size_t)m->n_granted)) != NULL) {   /* a clone stays restricted */
        memcpy(c->granted, m->granted, (size_t)m->n_granted);
        c->n_granted = m->n_granted;
    } else if (m->granted) {
        fail = 1;
    }
    if (fail || ng_meta_copy(&c->meta, &m->meta) != NG_OK) {
        ng_model_free(c);
        return ng_fail(NG_E_NOMEM, "out of memory cloning a model");
    }
    *out = c;
    return NG_OK;
}

/* ---- inspection ---- */
size_t ng_model_nparams(const ng_model *m) { return m->n_params; }
float *ng_model_params(ng_model *m) { return m->params; }
const float *ng_model_params_c(const ng_model *m) { return m->params; }
size_t ng_model_ntensors(const ng_model *m) { return (size_t)m->n_ptensors; }

void ng_model_tensor(const ng_model *m, size_t i, ng_param *out)
{
    const ng_value *v = &m->vals[m->ptensors[i]];
    int64_t numel = ng_shape_numel(&v->shape);
    out->name = v->name;
    out->dtype = NG_DT_F32;
    out->shape = v->shape;
    out->data = (uint8_t *)(m->params + v->off);
    out->nbytes = (size_t)(numel > 0 ? numel : 0) * sizeof(float);
}

size_t ng_model_tensor_offset(const ng_model *m, size_t i) { return m->vals[m->ptensors[i]].off; }
int ng_model_tensor_trainable(const ng_model *m, size_t i) { return m->vals[m->ptensors[i]].trainable; }

void ng_model_input_shape(const ng_model *m, ng_shape *s)
{
    if (m->input < 0) { memset(s, 0, sizeof *s); return; }
    *s = m->vals[m->input].shape;
    if (s->ndim > 0) s->d[0] = -1;
}

int ng_model_num_classes(const ng_model *m)
{
    if (m->output < 0 || m->n_vals == 0) return 0;
    ng_shape *shapes = ng_calloc((size_t)m->n_vals, sizeof *shapes);
    if (!shapes) return 0;
    int classes = 0;
    if (ng_model_infer_shapes(m, 1, shapes) == NG_OK) {
        int64_t numel = ng_shape_numel(&shapes[m->output]);
        if (numel > 0 && numel <= INT32_MAX) classes = (int)numel;
    } else {
        ng_clear_error();
    }
    free(shapes);
    return classes;
}

size_t ng_model_nnodes(const ng_model *m) { return (size_t)m->n_nodes; }
const char *ng_model_node_op(const ng_model *m, size_t i) { return ng_ops[m->nodes[i].op].name; }
const char *ng_model_node_name(const ng_model *m, size_t i) { return m->nodes[i].name; }
int64_t ng_model_opset(const ng_model *m) { return m->opset; }

const char *ng_model_meta_get(const ng_model *m, const char *key) { return ng_meta_get(&m->meta, key); }
ng_status ng_model_meta_set(ng_model *m, const char *key, const char *value) { return ng_meta_set(&m->meta, key, value); }
size_t ng_model_meta_count(const ng_model *m) { return m->meta.n; }

void ng_model_meta_at(const ng_model *m, size_t i, const char **key, const char **value)
{
    *key = m->meta.kv[i].key;
    *value = m->meta.kv[i].value;
}

ng_status ng_model_restrict_classes(ng_model *m, const uint8_t *granted, int n)
{
    int c = ng_model_num_classes(m);
    if (n != c)
        return ng_fail(NG_E_INVALID, "the class mask has %d entries but the model has %d classes", n, c);
    uint8_t *g = malloc((size_t)(n > 0 ? n : 1));
    if (!g) return ng_fail(NG_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) g[i] = granted[i] != 0;
    free(m->granted);
    m->granted = g;
    m->n_granted = n;
    return NG_OK;
}

int ng_model_class_granted(const ng_model *m, int c)
{
    if (c < 0) return 0;
    if (!m->granted) return 1;
    return c < m->n_granted && m->granted[c];
}
