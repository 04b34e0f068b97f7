/* formats/onnx_attrs.c - ONNX node attributes -> ng_attrs, with ONNX's defaults per op.
 *
 * Every attribute a node carries must be one this op understands (else
 * NG_E_UNSUPPORTED naming node and attribute). auto_pad (SAME_UPPER, SAME_LOWER,
 * VALID) is resolved into explicit pads from the input's spatial size:
 *     out = ceil(in / stride), total = max(0, (out - 1) * stride + (k - 1) * dilation + 1 - in)
 *     SAME_UPPER: begin = total / 2 (extra pixel at the end); SAME_LOWER: end = total / 2.
 */
#include <stdlib.h>
#include <string.h>
#include "engine/graph.h"
#include "formats/onnx_internal.h"

const char *ng_onnx_node_label(const Onnx__NodeProto *nd)
{
    if (nd->name && nd->name[0]) return nd->name;
    if (nd->n_output && nd->output[0] && nd->output[0][0]) return nd->output[0];
    return "?";
}

/* Attribute names each op accepts (comma-separated, with leading/trailing comma). */
static const char *allowed_attrs(int op)
{
    switch (op) {
    case NG_OP_CONV:      return ",auto_pad,dilations,group,kernel_shape,pads,strides,";
    case NG_OP_MAXPOOL:   return ",auto_pad,ceil_mode,dilations,kernel_shape,pads,storage_order,strides,";
    case NG_OP_AVGPOOL:   return ",auto_pad,ceil_mode,count_include_pad,kernel_shape,pads,strides,";
    case NG_OP_GEMM:      return ",alpha,beta,transA,transB,";
    case NG_OP_LEAKYRELU: return ",alpha,";
    case NG_OP_HARDSIGMOID: return ",alpha,beta,";
    case NG_OP_BATCHNORM: return ",epsilon,momentum,training_mode,spatial,";
    case NG_OP_FLATTEN: case NG_OP_SOFTMAX: case NG_OP_CONCAT: case NG_OP_GATHER: return ",axis,";
    case NG_OP_RESHAPE:   return ",allowzero,";
    case NG_OP_DROPOUT:   return ",ratio,seed,";
    case NG_OP_CLIP:      return ",min,max,";
    case NG_OP_PAD:       return ",mode,pads,value,";
    case NG_OP_TRANSPOSE: return ",perm,";
    case NG_OP_SLICE:     return ",starts,ends,axes,";
    case NG_OP_SQUEEZE: case NG_OP_UNSQUEEZE: return ",axes,";
    case NG_OP_REDUCEMEAN: return ",axes,keepdims,noop_with_empty_axes,";
    case NG_OP_LAYERNORM: return ",axis,epsilon,stash_type,";
    case NG_OP_GELU:      return ",approximate,";
    case NG_OP_LSTM:      return ",activations,direction,hidden_size,input_forget,layout,";
    case NG_OP_GRU:       return ",activations,direction,hidden_size,layout,linear_before_reset,";
    default:              return ",";
    }
}

typedef struct actx { const ng_onnx_ctx *c; const Onnx__NodeProto *nd; const char *opname; } actx;

static ng_status bad(const actx *x, ng_status st, const char *what, const char *an)
{
    return ng_fail(st, "%s: node '%s' (op %s): attribute '%s' %s", x->c->file, ng_onnx_node_label(x->nd),
                   x->opname, an, what);
}

static const Onnx__AttributeProto *find(const actx *x, const char *name)
{
    for (size_t i = 0; i < x->nd->n_attribute; i++) {
        const Onnx__AttributeProto *a = x->nd->attribute[i];
        if (a->name && strcmp(a->name, name) == 0) return a;
    }
    return NULL;
}

static ng_status get_int(const actx *x, const char *name, int64_t lo, int64_t hi, int64_t *v)
{
    const Onnx__AttributeProto *a = find(x, name);
    if (!a) return NG_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) return bad(x, NG_E_FORMAT, "must be an integer", name);
    if (a->i < lo || a->i > hi) return bad(x, NG_E_UNSUPPORTED, "has an unsupported value", name);
    *v = a->i;
    return NG_OK;
}

static ng_status get_float(const actx *x, const char *name, float *v)
{
    const Onnx__AttributeProto *a = find(x, name);
    if (!a) return NG_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) return bad(x, NG_E_FORMAT, "must be a float", name);
    *v = a->f;
    return NG_OK;
}

/* A list of exactly n ints, each in [lo, hi]; *found tells whether it was present. */
static ng_status get_ints(const actx *x, const char *name, size_t n, int64_t lo, int64_t hi, int64_t *v, int *found)
{
    const Onnx__AttributeProto *a = find(x, name);
    if (found) *found = a != NULL;
    if (!a) return NG_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) return bad(x, NG_E_FORMAT, "must be a list of integers", name);
    if (a->n_ints != n) return bad(x, NG_E_UNSUPPORTED, n == 2 ? "must have 2 values (only 2-D ops are supported)"
                                                             : "must have 4 values (only 2-D ops are supported)", name);
    for (size_t i = 0; i < n; i++) {
        if (a->ints[i] < lo || a->ints[i] > hi) return bad(x, NG_E_UNSUPPORTED, "has an out-of-range value", name);
        v[i] = a->ints[i];
    }
    return NG_OK;
}

/* auto_pad: 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID. */
static ng_status get_auto_pad(const actx *x, int *mode)
{
    *mode = 0;
    const Onnx__AttributeProto *a = find(x, "auto_pad");
    if (!a) return NG_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) return bad(x, NG_E_FORMAT, "must be a string", "auto_pad");
    static const char *names[] = { "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID" };
    for (int i = 0; i < 4; i++)
        if (a->s.len == strlen(names[i]) && memcmp(a->s.data, names[i], a->s.len) == 0) { *mode = i; return NG_OK; }
    return bad(x, NG_E_UNSUPPORTED, "must be NOTSET, SAME_UPPER, SAME_LOWER or VALID", "auto_pad");
}

/* Resolve auto_pad into a->pad from the spatial size of value `in`. */
static ng_status resolve_auto_pad(const actx *x, int mode, int in, ng_attrs *a)
{
    if (mode == 0) return NG_OK;
    for (int i = 0; i < 4; i++)
        if (a->pad[i]) return bad(x, NG_E_FORMAT, "cannot be combined with explicit pads", "auto_pad");
    if (mode == 3) return NG_OK;
    ng_model *m = x->c->m;
    ng_shape *shapes = ng_calloc((size_t)m->n_vals, sizeof *shapes);
    if (!shapes) return NG_E_NOMEM;
    ng_status st = ng_model_infer_shapes(m, 1, shapes);
    ng_shape s = shapes[in];
    free(shapes);
    if (st != NG_OK) return ng_fail_ctx(st, x->c->file);
    if (s.ndim != 4)
        return ng_fail(NG_E_UNSUPPORTED, "%s: node '%s' (op %s): input has %d dims, expected 4 (NCHW)",
                       x->c->file, ng_onnx_node_label(x->nd), x->opname, s.ndim);
    for (int k = 0; k < 2; k++) {
        int64_t len = s.d[2 + k], st_ = a->stride[k];
        int64_t out = (len + st_ - 1) / st_;
        int64_t total = (out - 1) * st_ + (a->kernel[k] - 1) * a->dilation[k] + 1 - len;
        if (total < 0) total = 0;
        int64_t small = total / 2, big = total - small;
        a->pad[k] = mode == 1 ? small : big;
        a->pad[k + 2] = mode == 1 ? big : small;
    }
    return NG_OK;
}

/* Shared by Conv and the pooling ops. */
static ng_status window_attrs(const actx *x, ng_attrs *a, int in)
{
    ng_status st;
    int mode;
    if ((st = get_ints(x, "strides", 2, 1, 1 << 16, a->stride, NULL)) != NG_OK) return st;
    if ((st = get_ints(x, "pads", 4, 0, 1 << 16, a->pad, NULL)) != NG_OK) return st;
    if ((st = get_ints(x, "dilations", 2, 1, 1 << 16, a->dilation, NULL)) != NG_OK) return st;
    if ((st = get_auto_pad(x, &mode)) != NG_OK) return st;
    return resolve_auto_pad(x, mode, in, a);
}

static ng_status conv_attrs(const actx *x, const int *ins, ng_attrs *a)
{
    const ng_model *m = x->c->m;
    const ng_value *w = &m->vals[ins[1]];
    if (w->kind != NG_V_PARAM || w->shape.ndim != 4)
        return ng_fail(NG_E_UNSUPPORTED, "%s: node '%s' (op Conv): weight '%s' must be an initializer with 4 dims "
                       "(only 2-D convolution is supported)", x->c->file, ng_onnx_node_label(x->nd), w->name);
    a->kernel[0] = w->shape.d[2];
    a->kernel[1] = w->shape.d[3];
    int64_t ks[2];
    int found;
    ng_status st = get_ints(x, "kernel_shape", 2, 1, 1 << 16, ks, &found);
    if (st != NG_OK) return st;
    if (found && (ks[0] != a->kernel[0] || ks[1] != a->kernel[1]))
        return bad(x, NG_E_SHAPE, "does not match the weight's shape", "kernel_shape");
    if ((st = get_int(x, "group", 1, 1 << 20, &a->group)) != NG_OK) return st;
    return window_attrs(x, a, ins[0]);
}

static ng_status pool_attrs(const actx *x, int op, const int *ins, ng_attrs *a)
{
    int found;
    ng_status st = get_ints(x, "kernel_shape", 2, 1, 1 << 16, a->kernel, &found);
    if (st != NG_OK) return st;
    if (!found) return bad(x, NG_E_FORMAT, "is required", "kernel_shape");
    int64_t v = 0;
    if ((st = get_int(x, "ceil_mode", 0, 1, &v)) != NG_OK) return st;
    a->ceil_mode = (int)v;
    if (op == NG_OP_AVGPOOL) {
        v = 0;
        if ((st = get_int(x, "count_include_pad", 0, 1, &v)) != NG_OK) return st;
        a->count_include_pad = (int)v;
    } else {
        v = 0;
        if ((st = get_int(x, "storage_order", 0, 0, &v)) != NG_OK) return st;
    }
    if ((st = window_attrs(x, a, ins[0])) != NG_OK) return st;
    if (a->dilation[0] != 1 || a->dilation[1] != 1) return bad(x, NG_E_UNSUPPORTED, "must be 1 for pooling", "dilations");
    return NG_OK;
}

/* Softmax before opset 13 flattens the input to 2-D at axis (default 1); from 13 on, one axis (default -1). */
static ng_status softmax_axis(const actx *x, ng_attrs *a)
{
    a->axis = x->c->opset >= 13 ? -1 : 1;
    a->softmax_2d = x->c->opset < 13;
    return get_int(x, "axis", -NG_MAX_DIMS, NG_MAX_DIMS - 1, &a->axis);
}

/* A STRING attribute equal to one of names[] (index into *v; absent: unchanged). */
static ng_status get_choice(const actx *x, const char *name, const char *const *names, int n, int *v)
{
    const Onnx__AttributeProto *a = find(x, name);
    if (!a) return NG_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) return bad(x, NG_E_FORMAT, "must be a string", name);
    for (int i = 0; i < n; i++)
        if (a->s.len == strlen(names[i]) && memcmp(a->s.data, names[i], a->s.len) == 0) { *v = i; return NG_OK; }
    return bad(x, NG_E_UNSUPPORTED, "has an unsupported value", name);
}

/* The attributes of the ops added for torchvision / transformer exports. */
static ng_status more_attrs(const actx *x, int op, ng_attrs *a)
{
    ng_status st = NG_OK;
    int64_t v;
    const Onnx__AttributeProto *p;
    switch (op) {
    case NG_OP_CLIP:
        if ((st = get_float(x, "min", &a->lo)) != NG_OK) return st;
        return get_float(x, "max", &a->hi);
    case NG_OP_PAD: {
        static const char *const modes[] = { "constant" };
        int mode = 0;
        if ((st = get_choice(x, "mode", modes, 1, &mode)) != NG_OK) return st;
        return get_float(x, "value", &a->value);
    }
    case NG_OP_TRANSPOSE:
        if (!(p = find(x, "perm"))) return NG_OK;
        if (p->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS || p->n_ints > NG_MAX_DIMS)
            return bad(x, NG_E_UNSUPPORTED, "must be a list of at most 8 integers", "perm");
        a->n_axes = (int)p->n_ints;
        memcpy(a->axes, p->ints, p->n_ints * sizeof *a->axes);
        return NG_OK;
    case NG_OP_GATHER:
        a->axis = 0;
        return get_int(x, "axis", -NG_MAX_DIMS, NG_MAX_DIMS - 1, &a->axis);
    case NG_OP_REDUCEMEAN:
        v = 1;
        if ((st = get_int(x, "keepdims", 0, 1, &v)) != NG_OK) return st;
        a->keepdims = (int)v;
        v = 0;
        return get_int(x, "noop_with_empty_axes", 0, 1, &v);
    case NG_OP_LAYERNORM:
        a->axis = -1;
        if ((st = get_int(x, "axis", -NG_MAX_DIMS, NG_MAX_DIMS - 1, &a->axis)) != NG_OK) return st;
        if ((st = get_float(x, "epsilon", &a->epsilon)) != NG_OK) return st;
        v = 1;
        return get_int(x, "stash_type", 1, 1, &v);
    case NG_OP_GELU: {
        static const char *const approx[] = { "none", "tanh" };
        return get_choice(x, "approximate", approx, 2, &a->gelu_tanh);
    }
    case NG_OP_LSTM: case NG_OP_GRU: {
        static const char *const dirs[] = { "forward", "reverse", "bidirectional" };
        int dir = 0;
        if (!find(x, "hidden_size")) return bad(x, NG_E_FORMAT, "is required", "hidden_size");
        if ((st = get_int(x, "hidden_size", 1, 1 << 20, &a->hidden)) != NG_OK) return st;
        if ((st = get_choice(x, "direction", dirs, 3, &dir)) != NG_OK) return st;
        a->reverse = dir == 1; a->bidir = dir == 2;
        v = 0;
        if ((st = get_int(x, "layout", 0, 0, &v)) != NG_OK) return st;
        if ((st = get_int(x, "input_forget", 0, 0, &v)) != NG_OK) return st;
        v = 0;
        if ((st = get_int(x, "linear_before_reset", 0, 1, &v)) != NG_OK) return st;
        a->linear_before_reset = (int)v;
        if ((p = find(x, "activations"))) {   /* only the defaults */
            static const char *const def[] = { "Sigmoid", "Tanh", "Tanh", "Sigmoid", "Tanh", "Tanh" };
            size_t per = op == NG_OP_LSTM ? 3 : 2;
            if (p->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS || p->n_strings != per * (size_t)(a->bidir ? 2 : 1))
                return bad(x, NG_E_UNSUPPORTED, "must list the default activations", "activations");
            for (size_t i = 0; i < p->n_strings; i++) {
                const char *want = op == NG_OP_LSTM ? def[i % 3] : (i % 2 ? "Tanh" : "Sigmoid");
                if (p->strings[i].len != strlen(want) || memcmp(p->strings[i].data, want, p->strings[i].len) != 0)
                    return bad(x, NG_E_UNSUPPORTED, "must list the default activations (Sigmoid, Tanh[, Tanh])", "activations");
            }
        }
        return NG_OK;
    }
    default:
        return NG_OK;
    }
}

ng_status ng_onnx_node_attrs(const ng_onnx_ctx *c, const Onnx__NodeProto *nd, int op, const int *ins, int n_in,
                             ng_attrs *a)
{
    actx x = { c, nd, ng_ops[op].name };
    const char *allowed = allowed_attrs(op);
    for (size_t i = 0; i < nd->n_attribute; i++) {
        const char *an = nd->attribute[i]->name ? nd->attribute[i]->name : "";
        char key[80];
        snprintf(key, sizeof key, ",%s,", an);
        if (!an[0] || strlen(an) > 64 || !strstr(allowed, key))
            return bad(&x, NG_E_UNSUPPORTED, "is not supported", an);
    }
    ng_attrs_default(a);
    ng_status st = NG_OK;
    int64_t v;
    switch (op) {
    case NG_OP_CONV:    return conv_attrs(&x, ins, a);
    case NG_OP_MAXPOOL:
    case NG_OP_AVGPOOL: return pool_attrs(&x, op, ins, a);
    case NG_OP_GEMM:
        if ((st = get_float(&x, "alpha", &a->alpha)) != NG_OK) return st;
        if ((st = get_float(&x, "beta", &a->beta)) != NG_OK) return st;
        v = 0; if ((st = get_int(&x, "transA", 0, 1, &v)) != NG_OK) return st;
        a->trans_a = (int)v;
        v = 0; if ((st = get_int(&x, "transB", 0, 1, &v)) != NG_OK) return st;
        a->trans_b = (int)v;
        return NG_OK;
    case NG_OP_LEAKYRELU:
        a->alpha = 0.01f;
        return get_float(&x, "alpha", &a->alpha);
    case NG_OP_HARDSIGMOID:
        a->alpha = 0.2f; a->beta = 0.5f;
        if ((st = get_float(&x, "alpha", &a->alpha)) != NG_OK) return st;
        return get_float(&x, "beta", &a->beta);
    case NG_OP_BATCHNORM:
        a->epsilon = 1e-5f; a->momentum = 0.9f;
        if ((st = get_float(&x, "epsilon", &a->epsilon)) != NG_OK) return st;
        if ((st = get_float(&x, "momentum", &a->momentum)) != NG_OK) return st;
        v = 1;
        if ((st = get_int(&x, "spatial", 1, 1, &v)) != NG_OK) return st;
        v = 0;
        return get_int(&x, "training_mode", 0, 0, &v);
    case NG_OP_FLATTEN:
        a->axis = 1;
        return get_int(&x, "axis", -NG_MAX_DIMS, NG_MAX_DIMS, &a->axis);
    case NG_OP_SOFTMAX:
        return softmax_axis(&x, a);
    case NG_OP_CONCAT:
        if (!find(&x, "axis")) return bad(&x, NG_E_FORMAT, "is required", "axis");
        return get_int(&x, "axis", -NG_MAX_DIMS, NG_MAX_DIMS - 1, &a->axis);
    case NG_OP_RESHAPE:
        v = 0;
        if ((st = get_int(&x, "allowzero", 0, 1, &v)) != NG_OK) return st;
        a->allowzero = (int)v;
        return NG_OK;
    case NG_OP_DROPOUT:
        return get_float(&x, "ratio", &a->ratio);
    default:
        (void)n_in;
        return more_attrs(&x, op, a);
    }
}
