/* formats/onnx_import.c - an ONNX graph (opsets 7..18) -> engine graph (ng_model).
 *
 * What is accepted:
 *   - exactly one graph input that is not an initializer (float, batch dim
 *     symbolic or fixed -> any batch, other dims fixed) and exactly one output;
 *   - the ops of ng_ops[] with their ONNX attributes (onnx_attrs.c), in the
 *     forms of every opset 7..18 (attributes that later became inputs: Clip's
 *     min/max, Pad's pads, Slice's starts/ends/axes, Squeeze/Unsqueeze axes,
 *     ReduceMean axes, Split's sizes; Softmax's axis semantics before 13);
 *     Split becomes one Slice per output, a float-to-float Cast an alias;
 *   - every float initializer becomes a parameter, in graph.initializer order
 *     (the same list as ng_weights), converted to float32;
 *   - integer tensors (int64/int32/bool initializers and Constant nodes) and the
 *     integer ops torch emits around them (Shape -> Gather -> Div/Mul -> Concat
 *     feeding Reshape, Slice, Pad, ...) are folded at import time (onnx_fold.c):
 *     every integer is a linear form in the batch size;
 *   - float Constant nodes become non-trainable parameters after the
 *     initializers; Dropout's ratio/training_mode inputs are folded;
 *     Identity of a parameter is bypassed; LSTM/GRU initial states that are
 *     batch-sized zeros (ConstantOfShape of a Shape) count as absent.
 */
#include <stdlib.h>
#include <string.h>
#include "engine/graph.h"
#include "formats/weights_impl.h"
#include "formats/onnx_import_impl.h"

const char *ng_imp_resolve(const imp *I, const char *name)
{
    for (int i = I->n_al - 1; i >= 0; i--)
        if (strcmp(I->al[i].from, name) == 0) name = I->al[i].to;
    return name;
}

icst *ng_imp_find_ic(imp *I, const char *name)
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
ng_status ng_imp_get_value(imp *I, const Onnx__NodeProto *nd, const char *name, int *id)
{
    name = ng_imp_resolve(I, name);
    if ((*id = ng_model_find_value(I->c.m, name)) >= 0) return NG_OK;
    const fcst *f = find_fc(I, name);
    if (f) return add_float_const(I, f, id);
    if (ng_imp_find_ic(I, name))
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input '%s' is an integer tensor where a float tensor is needed", name);
    return NODE_FAIL(I, nd, NG_E_FORMAT, "input '%s' is not produced by any earlier node, initializer or graph input", name);
}

/* The float value of a scalar input (Dropout ratio): a parameter or float Constant. */
ng_status ng_imp_get_scalar(imp *I, const Onnx__NodeProto *nd, const char *name, float *v)
{
    const fcst *f = find_fc(I, ng_imp_resolve(I, name));
    if (f) {   /* a float Constant: read it without making it a parameter */
        const Onnx__AttributeProto *a = f->nd->attribute[0];
        if (a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) { *v = a->f; return NG_OK; }
        ng_shape s;
        ng_status st = a->t ? ng_onnx_tensor_shape(a->t, I->c.file, "Constant", &s) : NG_E_FORMAT;
        if (st == NG_OK && ng_shape_numel(&s) == 1) return ng_onnx_tensor_floats(a->t, I->c.file, "Constant", 1, v);
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input '%s' must be a constant scalar", name);
    }
    int id;
    ng_status st = ng_imp_get_value(I, nd, name, &id);
    if (st != NG_OK) return st;
    const ng_value *val = &I->c.m->vals[id];
    if (val->kind != NG_V_PARAM || ng_shape_numel(&val->shape) != 1)
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input '%s' must be a constant scalar", name);
    *v = I->c.m->params[val->off];
    I->c.m->vals[id].trainable = 0;
    return NG_OK;
}

zcst *ng_imp_find_zc(imp *I, const char *name)
{
    for (int i = I->n_zc - 1; i >= 0; i--)
        if (strcmp(I->zc[i].name, name) == 0) return &I->zc[i];
    return NULL;
}

icst *ng_imp_new_ic(imp *I, const char *name)
{
    icst *c = &I->ic[I->n_ic++];
    memset(c, 0, sizeof *c);
    c->name = name;
    return c;
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

/* Ops whose inputs after the first are folded into attributes (integers, constant scalars). */
static int folds_inputs(int op)
{
    return op == NG_OP_RESHAPE || op == NG_OP_DROPOUT || op == NG_OP_CLIP || op == NG_OP_SLICE || op == NG_OP_PAD ||
           op == NG_OP_GATHER || op == NG_OP_SQUEEZE || op == NG_OP_UNSQUEEZE || op == NG_OP_REDUCEMEAN;
}

/* A new activation value for output name of nd (refused when the name is taken). */
static ng_status new_output(imp *I, const Onnx__NodeProto *nd, const char *oname, int *out)
{
    if (ng_model_find_value(I->c.m, oname) >= 0 || ng_imp_find_ic(I, oname) || find_fc(I, oname) || ng_imp_find_zc(I, oname))
        return NODE_FAIL(I, nd, NG_E_FORMAT, "output '%s' is defined twice", oname);
    if ((*out = ng_model_add_value(I->c.m, oname, NG_V_ACT, NULL)) < 0) return ng_fail_ctx(NG_E_NOMEM, I->c.file);
    return NG_OK;
}

/* Split -> one Slice node per output. */
static ng_status import_split(imp *I, const Onnx__NodeProto *nd)
{
    int x, n;
    int64_t sizes[NG_MAX_DIMS];
    ng_attrs a;
    ng_status st = ng_imp_get_value(I, nd, nd->input[0], &x);
    int64_t axis = 0;
    if (st == NG_OK) st = ng_imp_split_sizes(I, nd, x, sizes, &n, &axis);
    if (st != NG_OK) return st;
    int64_t pos = 0;
    for (int i = 0; i < n; i++) {
        int out;
        ng_attrs_default(&a);
        a.axis = axis;
        a.n_axes = 1;
        a.axes[0] = a.axis;
        a.starts[0] = pos;
        a.ends[0] = pos + sizes[i];
        pos += sizes[i];
        if (!nd->output[i][0]) continue;
        if ((st = new_output(I, nd, nd->output[i], &out)) != NG_OK) return st;
        if (ng_model_add_node(I->c.m, NG_OP_SLICE, nd->name ? nd->name : "", &x, 1, &out, 1, &a) < 0)
            return ng_fail_ctx(NG_E_FORMAT, I->c.file);
    }
    return NG_OK;
}

/* A float-to-float Cast is the identity: its output names its input. */
static ng_status import_cast(imp *I, const Onnx__NodeProto *nd)
{
    int id;
    const Onnx__AttributeProto *to = node_attr(nd, "to");
    if (!to || !ng_dtype_is_float(ng_onnx_dtype((int32_t)to->i)))
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "a float tensor can only be cast to a float type");
    ng_status st = ng_imp_get_value(I, nd, nd->input[0], &id);
    if (st != NG_OK) return st;
    I->al[I->n_al].from = nd->output[0];
    I->al[I->n_al++].to = I->c.m->vals[id].name;
    return NG_OK;
}

/* LSTM / GRU: initial states that are batch-sized zero constants are absent; every output gets a value. */
static ng_status import_rnn(imp *I, const Onnx__NodeProto *nd, int op)
{
    int ins[8], n_in = (int)nd->n_input, outs[NG_NODE_MAX_OUT], n_out = op == NG_OP_LSTM ? 3 : 2;
    ng_status st;
    if (n_in < 3 || n_in > ng_ops[op].max_in || nd->n_output > (size_t)n_out)
        return NODE_FAIL(I, nd, NG_E_FORMAT, "has %d inputs and %zu outputs", n_in, nd->n_output);
    if (n_in > 4 && nd->input[4][0]) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "sequence_lens is not supported");
    if (n_in > 7 && nd->input[7][0]) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "peepholes (P) are not supported");
    for (int i = 0; i < n_in; i++) {
        const zcst *z = nd->input[i][0] ? ng_imp_find_zc(I, ng_imp_resolve(I, nd->input[i])) : NULL;
        if (i >= 5 && z && z->value == 0.0f) { ins[i] = -1; continue; }   /* zeros: as if absent */
        if (!nd->input[i][0] && i < 3)
            return NODE_FAIL(I, nd, NG_E_FORMAT, "input %d (X, W or R) is required but empty", i);
        if (!nd->input[i][0] || i == 4) { ins[i] = -1; continue; }
        if ((st = ng_imp_get_value(I, nd, nd->input[i], &ins[i])) != NG_OK) return st;
    }
    while (n_in > 3 && ins[n_in - 1] < 0) n_in--;
    ng_attrs a;
    if ((st = ng_onnx_node_attrs(&I->c, nd, op, ins, n_in, &a)) != NG_OK) return st;
    for (int j = 0; j < n_out; j++) {
        char unused[64];
        const char *nm = (size_t)j < nd->n_output ? nd->output[j] : "";
        if (!nm[0]) {   /* an output nobody reads still needs a buffer */
            snprintf(unused, sizeof unused, "nnguard_unused_%d_%d", I->c.m->n_nodes, j);
            if ((outs[j] = ng_model_add_value(I->c.m, unused, NG_V_ACT, NULL)) < 0) return ng_fail_ctx(NG_E_NOMEM, I->c.file);
        } else if ((st = new_output(I, nd, nm, &outs[j])) != NG_OK) {
            return st;
        }
    }
    if (ng_model_add_node(I->c.m, (ng_op)op, nd->name ? nd->name : "", ins, n_in, outs, n_out, &a) < 0)
        return ng_fail_ctx(NG_E_FORMAT, I->c.file);
    return NG_OK;
}

static ng_status import_node(imp *I, const Onnx__NodeProto *nd)
{
    if (!nd->op_type || !nd->op_type[0])
        return ng_fail(NG_E_FORMAT, "%s: node '%s' has no op_type", I->c.file, ng_onnx_node_label(nd));
    if (nd->domain && nd->domain[0] && strcmp(nd->domain, "ai.onnx") != 0) return unsupported_op(I, nd);
    int done;
    ng_status st = ng_imp_fold_int_node(I, nd, &done);
    if (st != NG_OK || done) return st;
    if (nd->n_output < 1 || !nd->output[0][0] || nd->n_input < 1 || !nd->input[0][0]) {
        if (ng_op_from_name(nd->op_type) < 0) return unsupported_op(I, nd);
        return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "has no input or no output");
    }
    if (strcmp(nd->op_type, "Split") == 0) return import_split(I, nd);
    if (strcmp(nd->op_type, "Cast") == 0 && nd->n_output == 1) return import_cast(I, nd);
    int op = ng_op_from_name(nd->op_type);
    if (op < 0) return unsupported_op(I, nd);
    if (op == NG_OP_LSTM || op == NG_OP_GRU) return import_rnn(I, nd, op);
    int n_in = (int)nd->n_input;
    if (folds_inputs(op)) n_in = 1;                                          /* the rest are folded */
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
        if ((st = ng_imp_get_value(I, nd, nd->input[i], &ins[i])) != NG_OK) return st;
    }
    /* cppcheck-suppress uninitvar ; Identity has min_in = 1, so ins[0] was set in the loop above */
    if (op == NG_OP_IDENTITY && I->c.m->vals[ins[0]].kind == NG_V_PARAM) {   /* alias of a parameter */
        I->al[I->n_al].from = nd->output[0];
        I->al[I->n_al++].to = I->c.m->vals[ins[0]].name;
        return NG_OK;
    }
    ng_attrs a;
    if ((st = ng_onnx_node_attrs(&I->c, nd, op, ins, n_in, &a)) != NG_OK) return st;
    if ((st = ng_imp_fold_inputs(I, nd, op, ins, &a)) != NG_OK) return st;
    if (op == NG_OP_DROPOUT) {
        if (nd->n_input > 1 && nd->input[1][0] && (st = ng_imp_get_scalar(I, nd, nd->input[1], &a.ratio)) != NG_OK) return st;
        if (nd->n_input > 2 && nd->input[2][0]) {
            icst *t = ng_imp_find_ic(I, ng_imp_resolve(I, nd->input[2]));
            if (!t || t->n != 1 || t->k[0])
                return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "training_mode input '%s' must be a constant", nd->input[2]);
            if (t->v[0]) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "training_mode=true is not supported in a model file");
        }
        if (!(a.ratio >= 0.0f && a.ratio < 1.0f)) return NODE_FAIL(I, nd, NG_E_FORMAT, "ratio %g is not in [0, 1)", (double)a.ratio);
    }
    if (op == NG_OP_BATCHNORM)
        for (int i = 3; i < 5 && i < n_in; i++)
            if (I->c.m->vals[ins[i]].kind == NG_V_PARAM) I->c.m->vals[ins[i]].trainable = 0;
    int out;
    if ((st = new_output(I, nd, nd->output[0], &out)) != NG_OK) return st;
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
        icst *c = ng_imp_new_ic(I, t->name);
        c->scalar = t->n_dims == 0;
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
    if (*opset < 7 || *opset > 18)
        return ng_fail(NG_E_UNSUPPORTED, "%s: opset %lld is not supported (7..18); re-export the model with opset 13",
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
    const char *oname = ng_imp_resolve(I, I->g->output[0]->name);
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
    I.zc = calloc(cap, sizeof *I.zc);
    I.c.m = ng_model_alloc();
    ng_status st = I.ic && I.fc && I.al && I.zc && I.c.m ? build(&I, w, mp) : ng_fail(NG_E_NOMEM, "%s: out of memory", file);
    free(I.ic);
    free(I.zc);
    free(I.s1);
    free(I.s2);
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
