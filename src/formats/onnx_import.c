/* formats/onnx_import.c - an ONNX graph (opsets 11..17) -> engine graph (ng_model).
 *
 * What is accepted:
 *   - exactly one graph input that is not an initializer (float, batch dim
 *     symbolic or fixed -> any batch, other dims fixed) and exactly one output;
 *   - the ops of ng_ops[] with their ONNX attributes (onnx_attrs.c);
 *   - every float initializer becomes a parameter, in graph.initializer order
 *     (the same list as ng_weights), converted to float32;
 *   - integer tensors (int64/int32/bool initializers and Constant nodes) are
 *     folded at import time, with the integer ops torch emits around them:
 *     Shape -> Gather -> Unsqueeze -> Concat feeding Reshape (x.view(x.size(0), -1))
 *     becomes a constant Reshape shape when every element is either a number
 *     or a dim that does not depend on the batch size (or copies the same dim);
 *   - float Constant nodes become non-trainable parameters after the
 *     initializers; Dropout's ratio/training_mode inputs are folded;
 *     Identity of a parameter is bypassed.
 */
#include <stdlib.h>
#include <string.h>
#include "engine/graph.h"
#include "formats/weights_impl.h"
#include "formats/onnx_internal.h"

/* An integer tensor known at import time: element i is v[i], or dim sym[i] of value of[i]. */
typedef struct icst {
    const char *name;
    int     n;               /* elements; -1: the whole shape of value of[0] (Shape op) */
    int64_t v[NG_MAX_DIMS];
    int     of[NG_MAX_DIMS]; /* -1: v[i] is a number */
    int     sym[NG_MAX_DIMS];
} icst;

/* A float Constant node, made a parameter on first use. */
typedef struct fcst { const char *name; const Onnx__NodeProto *nd; } fcst;
typedef struct alias { const char *from, *to; } alias;

typedef struct imp {
    ng_onnx_ctx c;
    const Onnx__GraphProto *g;
    icst  *ic; int n_ic;
    fcst  *fc; int n_fc;
    alias *al; int n_al;
} imp;

#define NODE_FAIL(I, nd, st, fmt, ...) \
    ng_fail(st, "%s: node '%s' (op %s): " fmt, (I)->c.file, ng_onnx_node_label(nd), \
            (nd)->op_type ? (nd)->op_type : "?", __VA_ARGS__)

static const char *resolve(const imp *I, const char *name)
{
    for (int i = I->n_al - 1; i >= 0; i--)
        if (strcmp(I->al[i].from, name) == 0) name = I->al[i].to;
    return name;
}

static icst *find_ic(imp *I, const char *name)
{
    for (int i = I->n_ic - 1; i >= 0; i--)
        if (strcmp(I->ic[i].name, name) == 0) return &I->ic[i];
    return NULL;
}

static const fcst *find_fc(const imp *I, const char *name)
{
    for (int i = I->n_fc - 1; i >= 0; i--)
        if (strcmp(I->fc[i].name, name) == 0) return &I->fc[i];
    return NULL;
}

static const Onnx__AttributeProto *node_attr(const Onnx__NodeProto *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (nd->attribute[i]->name && strcmp(nd->attribute[i]->name, name) == 0) return nd->attribute[i];
    return NULL;
}

/* A float Constant node's value as a new non-trainable parameter. */
static ng_status add_float_const(imp *I, const fcst *f, int *id)
{
    const Onnx__AttributeProto *a = f->nd->attribute[0];
    ng_shape s = { 0, {0} };
    ng_status st;
    float one;
    float *data = NULL;
    if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) {
        one = a->f;
        data = &one;
    } else if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS) {
        s.ndim = 1; s.d[0] = (int64_t)a->n_floats;
        data = a->floats;
    } else {
        if ((st = ng_onnx_tensor_shape(a->t, I->c.file, "Constant", &s)) != NG_OK) return st;
        int64_t numel = ng_shape_numel(&s);
        if ((uint64_t)numel > ng_onnx_tensor_avail(a->t))
            return ng_fail(NG_E_FORMAT, "%s: Constant '%s' holds less data than its shape needs", I->c.file, f->name);
        data = malloc((size_t)(numel ? numel : 1) * sizeof(float));
        if (!data) return ng_fail(NG_E_NOMEM, "%s: out of memory", I->c.file);
        st = ng_onnx_tensor_floats(a->t, I->c.file, "Constant", numel, data);
        if (st == NG_OK) *id = ng_model_add_param(I->c.m, f->name, &s, data, 0);
        free(data);
        if (st != NG_OK) return st;
        return *id < 0 ? ng_fail_ctx(NG_E_NOMEM, I->c.file) : NG_OK;
    }
    *id = ng_model_add_param(I->c.m, f->name, &s, data, 0);
    return *id < 0 ? ng_fail_ctx(NG_E_NOMEM, I->c.file) : NG_OK;
}

/* Value id of a float tensor input of node nd. */
static ng_status get_value(imp *I, const Onnx__NodeProto *nd, const char *name, int *id)
{
    name = resolve(I, name);
    if ((*id = ng_model_find_value(I->c.m, name)) >= 0) return NG_OK;
    const fcst *f = find_fc(I, name);
    if (f) return add_float_const(I, f, id);
    if (find_ic(I, name))
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input '%s' is an integer tensor where a float tensor is needed", name);
    return NODE_FAIL(I, nd, NG_E_FORMAT, "input '%s' is not produced by any earlier node, initializer or graph input", name);
}

/* The float value of a scalar input (Dropout ratio): a parameter or float Constant. */
static ng_status get_scalar(imp *I, const Onnx__NodeProto *nd, const char *name, float *v)
{
    const fcst *f = find_fc(I, resolve(I, name));
    if (f) {   /* a float Constant: read it without making it a parameter */
        const Onnx__AttributeProto *a = f->nd->attribute[0];
        if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) { *v = a->f; return NG_OK; }
        ng_shape s;
        ng_status st = a->t ? ng_onnx_tensor_shape(a->t, I->c.file, "Constant", &s) : NG_E_FORMAT;
        if (st == NG_OK && ng_shape_numel(&s) == 1) return ng_onnx_tensor_floats(a->t, I->c.file, "Constant", 1, v);
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input '%s' must be a constant scalar", name);
    }
    int id;
    ng_status st = get_value(I, nd, name, &id);
    if (st != NG_OK) return st;
    const ng_value *val = &I->c.m->vals[id];
    if (val->kind != NG_V_PARAM || ng_shape_numel(&val->shape) != 1)
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input '%s' must be a constant scalar", name);
    *v = I->c.m->params[val->off];
    I->c.m->vals[id].trainable = 0;
    return NG_OK;
}

static icst *new_ic(imp *I, const char *name)
{
    icst *c = &I->ic[I->n_ic++];
    memset(c, 0, sizeof *c);
    c->name = name;
    for (int i = 0; i < NG_MAX_DIMS; i++) c->of[i] = -1;
    return c;
}

/* Integer-only ops (Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast) folded at import.
 * Returns 1 in *done when nd was handled. */
static ng_status fold_int_node(imp *I, const Onnx__NodeProto *nd, int *done)
{
    const char *op = nd->op_type;
    *done = 0;
    if (nd->n_output < 1 || !nd->output[0][0]) return NG_OK;
    const char *out = nd->output[0];
    if (strcmp(op, "Constant") == 0) {
        if (nd->n_attribute != 1 || !nd->attribute[0]->name)
            return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "needs exactly one value attribute");
        const Onnx__AttributeProto *a = nd->attribute[0];
        const char *an = a->name;
        *done = 1;
        if (strcmp(an, "value_float") == 0 || strcmp(an, "value_floats") == 0 ||
            (strcmp(an, "value") == 0 && a->t && ng_dtype_is_float(ng_onnx_dtype(a->t->data_type)))) {
            if ((strcmp(an, "value") == 0 && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) ||
                (strcmp(an, "value_float") == 0 && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) ||
                (strcmp(an, "value_floats") == 0 && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS))
                return NODE_FAIL(I, nd, NG_E_FORMAT, "attribute '%s' has the wrong type", an);
            I->fc[I->n_fc].name = out;
            I->fc[I->n_fc++].nd = nd;
            return NG_OK;
        }
        icst *c = new_ic(I, out);
        if (strcmp(an, "value") == 0 && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && a->t)
            return ng_onnx_tensor_ints(a->t, I->c.file, "Constant", c->v, NG_MAX_DIMS, &c->n);
        if (strcmp(an, "value_int") == 0 && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
            c->n = 1; c->v[0] = a->i;
            return NG_OK;
        }
        if (strcmp(an, "value_ints") == 0 && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS && a->n_ints <= NG_MAX_DIMS) {
            c->n = (int)a->n_ints;
            memcpy(c->v, a->ints, a->n_ints * sizeof *c->v);
            return NG_OK;
        }
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "constant attribute '%s' is not supported", an);
    }
    if (strcmp(op, "Shape") == 0 && nd->n_input == 1) {
        if (nd->n_attribute) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "Shape with start/end is not supported");
        int id;
        ng_status st = get_value(I, nd, nd->input[0], &id);
        if (st != NG_OK) return st;
        icst *c = new_ic(I, out);
        c->n = -1; c->of[0] = id;
        *done = 1;
        return NG_OK;
    }
    /* The rest fold only when their inputs are folded integers. */
    icst *in0 = nd->n_input ? find_ic(I, resolve(I, nd->input[0])) : NULL;
    if (!in0) return NG_OK;
    if (strcmp(op, "Gather") == 0 && nd->n_input == 2) {
        const Onnx__AttributeProto *ax = node_attr(nd, "axis");
        icst *idx = find_ic(I, resolve(I, nd->input[1]));
        if ((ax && ax->i != 0) || !idx || idx->n != 1 || idx->of[0] >= 0)
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "only Gather of one constant index from a shape can be folded");
        int64_t k = idx->v[0];
        icst c = *in0;
        icst *o = new_ic(I, out);
        o->n = 1;
        if (c.n < 0) {
            if (k < 0 || k >= NG_MAX_DIMS)
                return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "index %lld into a shape is not supported", (long long)k);
            o->of[0] = c.of[0]; o->sym[0] = (int)k;
        } else {
            if (k < 0) k += c.n;
            if (k < 0 || k >= c.n) return NODE_FAIL(I, nd, NG_E_FORMAT, "index %lld is out of range", (long long)idx->v[0]);
            o->v[0] = c.v[k]; o->of[0] = c.of[k]; o->sym[0] = c.sym[k];
        }
        *done = 1;
        return NG_OK;
    }
    if (strcmp(op, "Unsqueeze") == 0 || strcmp(op, "Squeeze") == 0 || strcmp(op, "Cast") == 0 || strcmp(op, "Identity") == 0) {
        if (in0->n < 0) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "cannot fold this op on a whole shape");
        icst c = *in0;
        icst *o = new_ic(I, out);
        *o = c;
        o->name = out;
        *done = 1;
        return NG_OK;
    }
    if (strcmp(op, "Concat") == 0) {
        icst acc;
        memset(&acc, 0, sizeof acc);
        for (size_t i = 0; i < nd->n_input; i++) {
            icst *p = find_ic(I, resolve(I, nd->input[i]));
            if (!p || p->n < 0) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "cannot fold a Concat of integer and float tensors");
            if (acc.n + p->n > NG_MAX_DIMS) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "folded shape has too many dims");
            for (int j = 0; j < p->n; j++) {
                acc.v[acc.n] = p->v[j]; acc.of[acc.n] = p->of[j]; acc.sym[acc.n] = p->sym[j];
                acc.n++;
            }
        }
        icst *o = new_ic(I, out);
        *o = acc;
        o->name = out;
        *done = 1;
        return NG_OK;
    }
    return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "integer tensors can only feed Reshape, Dropout and shape arithmetic "
                     "(Shape, Gather, Unsqueeze, Concat)");
}

/* Reshape's shape input, folded into a->shape. */
static ng_status fold_reshape(imp *I, const Onnx__NodeProto *nd, int data, ng_attrs *a)
{
    icst *c = find_ic(I, resolve(I, nd->input[1]));
    if (!c || c->n < 0)
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "shape input '%s' must be a constant (or a folded Shape/Gather/Concat chain)",
                         nd->input[1]);
    ng_shape *s1 = NULL, *s2 = NULL;
    ng_status st = NG_OK;
    for (int i = 0; i < c->n && st == NG_OK; i++) {
        if (c->of[i] < 0) { a->shape[i] = c->v[i]; continue; }
        if (c->of[i] == data && c->sym[i] == i && !a->allowzero) { a->shape[i] = 0; continue; }  /* copies dim i */
        if (!s1) {   /* a dim of another value: fold it when it does not depend on the batch size */
            s1 = ng_calloc((size_t)I->c.m->n_vals, sizeof *s1);
            s2 = ng_calloc((size_t)I->c.m->n_vals, sizeof *s2);
            if (!s1 || !s2) { st = NG_E_NOMEM; break; }
            if ((st = ng_model_infer_shapes(I->c.m, 1, s1)) != NG_OK || (st = ng_model_infer_shapes(I->c.m, 2, s2)) != NG_OK) {
                st = ng_fail_ctx(st, I->c.file);
                break;
            }
        }
        const ng_shape *x1 = &s1[c->of[i]], *x2 = &s2[c->of[i]];
        int k = c->sym[i];
        if (k >= x1->ndim || x1->d[k] != x2->d[k])
            st = NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "shape element %d depends on the batch size in a way that cannot be folded", i);
        else
            a->shape[i] = x1->d[k];
    }
    free(s1);
    free(s2);
    a->shape_n = c->n;
    return st;
}

static ng_status unsupported_op(imp *I, const Onnx__NodeProto *nd)
{
    char list[512];
    size_t k = 0;
    for (int i = 0; i < NG_OP_COUNT && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", ng_ops[i].name);
    return ng_fail(NG_E_UNSUPPORTED, "%s: node '%s' (op %s%s%s) is not supported; supported: %s", I->c.file,
                   ng_onnx_node_label(nd), nd->domain && nd->domain[0] ? nd->domain : "",
                   nd->domain && nd->domain[0] ? "." : "", nd->op_type, list);
}

static ng_status import_node(imp *I, const Onnx__NodeProto *nd)
{
    if (!nd->op_type || !nd->op_type[0])
        return ng_fail(NG_E_FORMAT, "%s: node '%s' has no op_type", I->c.file, ng_onnx_node_label(nd));
    if (nd->domain && nd->domain[0] && strcmp(nd->domain, "ai.onnx") != 0) return unsupported_op(I, nd);
    int done;
    ng_status st = fold_int_node(I, nd, &done);
    if (st != NG_OK || done) return st;
    int op = ng_op_from_name(nd->op_type);
    if (op < 0) return unsupported_op(I, nd);
    if (nd->n_output < 1 || !nd->output[0][0]) return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "has no output");
    int n_in = (int)nd->n_input;
    if (op == NG_OP_RESHAPE || op == NG_OP_DROPOUT) n_in = n_in ? 1 : 0;   /* the rest are folded */
    while (n_in > 0 && !nd->input[n_in - 1][0]) n_in--;                     /* trailing absent optionals */
    if (n_in < ng_ops[op].min_in || n_in > ng_ops[op].max_in)
        return NODE_FAIL(I, nd, NG_E_FORMAT, "has %d inputs, expected %d..%d", n_in, ng_ops[op].min_in, ng_ops[op].max_in);
    if (op == NG_OP_RESHAPE && nd->n_input != 2) return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "needs data and shape inputs");
    int ins[64];
    for (int i = 0; i < n_in; i++) {
        if (!nd->input[i][0]) {   /* absent optional input; a required one is an error (fuzz/regressions/onnx) */
            if (i < ng_ops[op].min_in) return NODE_FAIL(I, nd, NG_E_FORMAT, "input %d is required but empty", i);
            ins[i] = -1;
            continue;
        }
        if ((st = get_value(I, nd, nd->input[i], &ins[i])) != NG_OK) return st;
    }
    /* cppcheck-suppress uninitvar ; Identity has min_in = 1, so ins[0] was set in the loop above */
    if (op == NG_OP_IDENTITY && I->c.m->vals[ins[0]].kind == NG_V_PARAM) {   /* alias of a parameter */
        I->al[I->n_al].from = nd->output[0];
        I->al[I->n_al++].to = I->c.m->vals[ins[0]].name;
        return NG_OK;
    }
    ng_attrs a;
    if ((st = ng_onnx_node_attrs(&I->c, nd, op, ins, n_in, &a)) != NG_OK) return st;
    if (op == NG_OP_RESHAPE && (st = fold_reshape(I, nd, ins[0], &a)) != NG_OK) return st;
    if (op == NG_OP_DROPOUT) {
        if (nd->n_input > 1 && nd->input[1][0] && (st = get_scalar(I, nd, nd->input[1], &a.ratio)) != NG_OK) return st;
        if (nd->n_input > 2 && nd->input[2][0]) {
            icst *t = find_ic(I, resolve(I, nd->input[2]));
            if (!t || t->n != 1 || t->of[0] >= 0)
                return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "training_mode input '%s' must be a constant", nd->input[2]);
            if (t->v[0]) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "training_mode=true is not supported in a model file");
        }
        if (!(a.ratio >= 0.0f && a.ratio < 1.0f)) return NODE_FAIL(I, nd, NG_E_FORMAT, "ratio %g is not in [0, 1)", (double)a.ratio);
    }
    if (op == NG_OP_BATCHNORM)
        for (int i = 3; i < 5 && i < n_in; i++)
            if (I->c.m->vals[ins[i]].kind == NG_V_PARAM) I->c.m->vals[ins[i]].trainable = 0;
    int out;
    const char *oname = nd->output[0];
    if (ng_model_find_value(I->c.m, oname) >= 0 || find_ic(I, oname) || find_fc(I, oname))
        return NODE_FAIL(I, nd, NG_E_FORMAT, "output '%s' is defined twice", oname);
    if ((out = ng_model_add_value(I->c.m, oname, NG_V_ACT, NULL)) < 0) return ng_fail_ctx(NG_E_NOMEM, I->c.file);
    if (ng_model_add_node(I->c.m, (ng_op)op, nd->name ? nd->name : "", ins, n_in, &out, 1, &a) < 0)
        return ng_fail_ctx(NG_E_FORMAT, I->c.file);
    return NG_OK;
}

/* Float initializers (the ng_weights parameters) -> model parameters; integer ones -> folded constants. */
static ng_status import_initializers(imp *I, const ng_weights *w)
{
    ng_model *m = I->c.m;
    size_t total = 0;
    for (size_t i = 0; i < ng_weights_count(w); i++) {
        const ng_param *p = ng_weights_param_c(w, i);
        int64_t numel = ng_shape_numel(&p->shape);
        if (numel < 0 || p->nbytes != (size_t)numel * ng_dtype_size(p->dtype))
            return ng_fail(NG_E_FORMAT, "%s: tensor '%s' has %zu bytes, its shape needs more", I->c.file, p->name, p->nbytes);
        total += (size_t)numel;
    }
    if (ng_model_reserve_params(m, total) != NG_OK) return ng_fail_ctx(NG_E_NOMEM, I->c.file);   /* one allocation */
    for (size_t i = 0; i < ng_weights_count(w); i++) {
        const ng_param *p = ng_weights_param_c(w, i);
        size_t numel = (size_t)ng_shape_numel(&p->shape);
        if (ng_model_find_value(m, p->name) >= 0)
            return ng_fail(NG_E_FORMAT, "%s: initializer name '%s' is used twice", I->c.file, p->name);
        int id = ng_model_add_param(m, p->name, &p->shape, NULL, 1);
        if (id < 0) return ng_fail_ctx(NG_E_NOMEM, I->c.file);
        ng_onnx_bytes_to_floats(p->dtype, p->data, numel, m->params + m->vals[id].off);
    }
    for (size_t i = 0; i < I->g->n_initializer; i++) {
        const Onnx__TensorProto *t = I->g->initializer[i];
        ng_dtype dt = ng_onnx_dtype(t->data_type);
        if (ng_dtype_is_float(dt) || !t->name) continue;
        if (dt != NG_DT_I64 && dt != NG_DT_I32 && dt != NG_DT_BOOL) continue;
        ng_shape s;
        ng_status st = ng_onnx_tensor_shape(t, I->c.file, "initializer", &s);
        if (st != NG_OK) return st;
        if (ng_shape_numel(&s) > NG_MAX_DIMS) continue;   /* too big to be a shape: refused if used */
        icst *c = new_ic(I, t->name);
        if ((st = ng_onnx_tensor_ints(t, I->c.file, "initializer", c->v, NG_MAX_DIMS, &c->n)) != NG_OK) return st;
    }
    return NG_OK;
}

static int is_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0) return 1;
    return 0;
}

static ng_status import_input(imp *I)
{
    const Onnx__ValueInfoProto *in = NULL;
    int count = 0;
    for (size_t i = 0; i < I->g->n_input; i++) {
        const Onnx__ValueInfoProto *v = I->g->input[i];
        if (!v->name || is_initializer(I->g, v->name)) continue;
        in = v;
        count++;
    }
    if (count != 1)
        return ng_fail(NG_E_UNSUPPORTED, "%s: the graph has %d inputs besides its initializers; exactly one (the images) "
                       "is supported", I->c.file, count);
    const Onnx__TypeProto *t = in->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type ||
        t->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return ng_fail(NG_E_UNSUPPORTED, "%s: graph input '%s' must be a float tensor", I->c.file, in->name);
    const Onnx__TensorShapeProto *sp = t->tensor_type->shape;
    if (!sp || sp->n_dim < 2 || sp->n_dim > NG_MAX_DIMS)
        return ng_fail(NG_E_UNSUPPORTED, "%s: graph input '%s' must have a known shape with 2..%d dims (N, C, H, W)",
                       I->c.file, in->name, NG_MAX_DIMS);
    ng_shape s;
    memset(&s, 0, sizeof s);
    s.ndim = (int)sp->n_dim;
    s.d[0] = -1;
    for (int k = 1; k < s.ndim; k++) {
        const Onnx__TensorShapeProto__Dimension *d = sp->dim[k];
        if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || d->dim_value < 1 || d->dim_value > (1 << 24))
            return ng_fail(NG_E_UNSUPPORTED, "%s: graph input '%s': dim %d must be a fixed positive size (only the batch "
                           "dim may be symbolic)", I->c.file, in->name, k);
        s.d[k] = d->dim_value;
    }
    if (ng_model_add_value(I->c.m, in->name, NG_V_INPUT, &s) < 0) return ng_fail_ctx(NG_E_NOMEM, I->c.file);
    I->c.m->input_name_hint = ng_strdup(in->name);
    return I->c.m->input_name_hint ? NG_OK : NG_E_NOMEM;
}

static ng_status opset_of(const Onnx__ModelProto *mp, const char *file, int64_t *opset)
{
    *opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) *opset = o->version;
    }
    if (*opset < 0) return ng_fail(NG_E_FORMAT, "%s: the model imports no default-domain opset", file);
    if (*opset < 11 || *opset > 17)
        return ng_fail(NG_E_UNSUPPORTED, "%s: opset %lld is not supported (11..17); re-export the model with opset 13",
                       file, (long long)*opset);
    return NG_OK;
}

static ng_status build(imp *I, const ng_weights *w, const Onnx__ModelProto *mp)
{
    ng_status st;
    if ((st = opset_of(mp, I->c.file, &I->c.opset)) != NG_OK) return st;
    I->c.m->opset = I->c.opset;
    if (I->g->name && !(I->c.m->graph_name = ng_strdup(I->g->name))) return NG_E_NOMEM;
    if ((st = import_initializers(I, w)) != NG_OK) return st;
    if ((st = import_input(I)) != NG_OK) return st;
    for (size_t i = 0; i < I->g->n_node; i++)
        if ((st = import_node(I, I->g->node[i])) != NG_OK) return st;
    if (I->g->n_output != 1 || !I->g->output[0]->name)
        return ng_fail(NG_E_UNSUPPORTED, "%s: the graph has %zu outputs; exactly one (the logits) is supported",
                       I->c.file, I->g->n_output);
    const char *oname = resolve(I, I->g->output[0]->name);
    int out = ng_model_find_value(I->c.m, oname);
    if (out < 0 || I->c.m->vals[out].kind != NG_V_ACT)
        return ng_fail(NG_E_FORMAT, "%s: graph output '%s' is not computed by any node", I->c.file, oname);
    I->c.m->output = out;
    if ((st = ng_meta_copy(&I->c.m->meta, &w->meta)) != NG_OK) return ng_fail_ctx(st, I->c.file);
    if ((st = ng_model_finalize(I->c.m)) != NG_OK) return ng_fail_ctx(st, I->c.file);
    return NG_OK;
}

ng_status ng_model_from_weights(const ng_weights *w, ng_model **out)
{
    *out = NULL;
    const char *file = ng_weights_path(w) ? ng_weights_path(w) : "model";
    const Onnx__ModelProto *mp = ng_weights_format(w) == NG_FMT_ONNX ? ng_onnx_weights_proto(w) : NULL;
    if (!mp)
        return ng_fail(NG_E_UNSUPPORTED, "%s: holds no graph (only ONNX files do); use ng_model_from_arch and "
                       "ng_model_set_weights", file);
    imp I;
    memset(&I, 0, sizeof I);
    I.c.file = file;
    I.g = mp->graph;
    size_t cap = I.g->n_initializer + I.g->n_node + 1;
    I.ic = calloc(cap, sizeof *I.ic);
    I.fc = calloc(cap, sizeof *I.fc);
    I.al = calloc(cap, sizeof *I.al);
    I.c.m = ng_model_alloc();
    ng_status st = I.ic && I.fc && I.al && I.c.m ? build(&I, w, mp) : ng_fail(NG_E_NOMEM, "%s: out of memory", file);
    free(I.ic);
    free(I.fc);
    free(I.al);
    if (st != NG_OK) { ng_model_free(I.c.m); return st; }
    *out = I.c.m;
    return NG_OK;
}

ng_status ng_model_load(const char *path, ng_model **out)
{
    *out = NULL;
    ng_weights *w;
    ng_status st = ng_weights_open(path, &w);
    if (st != NG_OK) return st;
    st = ng_model_from_weights(w, out);
    ng_weights_free(w);
    return st;
}

ng_status ng_model_load_buffer(const void *buf, size_t len, const char *name, ng_model **out)
{
    *out = NULL;
    ng_weights *w;
    ng_status st = ng_weights_open_buffer(buf, len, NG_FMT_ONNX, name, &w);
    if (st != NG_OK) return st;
    st = ng_model_from_weights(w, out);
    ng_weights_free(w);
    return st;
}
