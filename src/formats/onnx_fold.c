/* formats/onnx_fold.c - the importer's constant folder for integer (shape) subgraphs.
 *
 * Every integer tensor is known at import time as a list of linear forms v + k * N in the batch
 * size N (onnx_import_impl.h). Shape(x) reads x's dims from shape inference at batch 1 and 2;
 * Gather, Unsqueeze, Squeeze, Concat, Slice, Cast, Identity, Add, Sub, Mul and Div combine them
 * (Mul needs one factor independent of N, Div an exact division by such a factor). So torch's
 * Shape -> Gather -> Div/Mul -> Concat -> Reshape chains (channel shuffle, attention head split)
 * fold to constants. A Reshape target keeps at most one element that depends on N (it becomes -1)
 * besides elements equal to the same dim of the data (they become 0, "copy"). The other ops'
 * integer inputs (Slice, Pad, Squeeze, Unsqueeze, ReduceMean axes, Gather indices) must not depend
 * on N. Cast of an integer to float makes a constant parameter; ConstantOfShape of a constant shape
 * does too, of an N-dependent one a zcst (see the header).
 */
#include <stdlib.h>
#include <string.h>
#include "formats/onnx_import_impl.h"
#include "engine/kern.h"

const Onnx__AttributeProto *ng_imp_attr(const Onnx__NodeProto *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (nd->attribute[i]->name && strcmp(nd->attribute[i]->name, name) == 0) return nd->attribute[i];
    return NULL;
}

int64_t ng_imp_attr_int(const Onnx__NodeProto *nd, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = ng_imp_attr(nd, name);
    return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT ? a->i : def;
}

/* An INTS attribute into v (at most NG_MAX_DIMS); *n = -1 when absent. */
ng_status ng_imp_attr_ints(imp *I, const Onnx__NodeProto *nd, const char *name, int64_t *v, int *n)
{
    const Onnx__AttributeProto *a = ng_imp_attr(nd, name);
    *n = -1;
    if (!a) return NG_OK;
    if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS || a->n_ints > NG_MAX_DIMS)
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "attribute '%s' must be a list of at most %d integers", name, NG_MAX_DIMS);
    memcpy(v, a->ints, a->n_ints * sizeof *v);
    *n = (int)a->n_ints;
    return NG_OK;
}

/* Shapes of every value at batch 1 and 2 (recomputed when the graph grew). */
static ng_status shapes_now(imp *I)
{
    ng_model *m = I->c.m;
    if (I->s1 && I->sh_vals == m->n_vals && I->sh_nodes == m->n_nodes) return NG_OK;
    free(I->s1); free(I->s2);
    I->s1 = ng_calloc((size_t)m->n_vals + 1, sizeof *I->s1);
    I->s2 = ng_calloc((size_t)m->n_vals + 1, sizeof *I->s2);
    if (!I->s1 || !I->s2) return ng_fail(NG_E_NOMEM, "%s: out of memory", I->c.file);
    ng_status st = ng_model_infer_shapes(m, 1, I->s1);
    if (st == NG_OK) st = ng_model_infer_shapes(m, 2, I->s2);
    if (st != NG_OK) { free(I->s1); I->s1 = NULL; return ng_fail_ctx(st, I->c.file); }
    I->sh_vals = m->n_vals; I->sh_nodes = m->n_nodes;
    return NG_OK;
}

/* The dims of value id as linear forms. */
ng_status ng_imp_dim_forms(imp *I, int id, int *n, int64_t *v, int64_t *k)
{
    ng_status st = shapes_now(I);
    if (st != NG_OK) return st;
    const ng_shape *a = &I->s1[id], *b = &I->s2[id];
    *n = a->ndim;
    for (int i = 0; i < a->ndim; i++) { k[i] = b->d[i] - a->d[i]; v[i] = a->d[i] - k[i]; }
    return NG_OK;
}

/* An integer input that must not depend on the batch size; *n elements into v. */
ng_status ng_imp_const_ints(imp *I, const Onnx__NodeProto *nd, size_t idx, int64_t *v, int *n, int *scalar)
{
    const char *name = idx < nd->n_input ? nd->input[idx] : "";
    icst *c = name[0] ? ng_imp_find_ic(I, ng_imp_resolve(I, name)) : NULL;
    if (!c) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input %zu ('%s') must be a constant integer tensor", idx, name);
    for (int i = 0; i < c->n; i++)
        if (c->k[i]) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "input %zu ('%s') depends on the batch size", idx, name);
    memcpy(v, c->v, (size_t)c->n * sizeof *v);
    *n = c->n;
    if (scalar) *scalar = c->scalar;
    return NG_OK;
}

int ng_imp_has_input(const Onnx__NodeProto *nd, size_t i) { return i < nd->n_input && nd->input[i][0]; }

/* A float constant parameter named `name` holding n values (shape [n], or scalar). */
static ng_status float_param(imp *I, const char *name, const ng_shape *s, float value, const int64_t *vals)
{
    int64_t numel = ng_shape_numel(s);
    if (numel < 0 || numel > (1 << 26)) return ng_fail(NG_E_UNSUPPORTED, "%s: constant '%s' is too large", I->c.file, name);
    float *f = malloc((size_t)(numel ? numel : 1) * sizeof *f);
    if (!f) return ng_fail(NG_E_NOMEM, "%s: out of memory", I->c.file);
    for (int64_t i = 0; i < numel; i++) f[i] = vals ? (float)vals[i] : value;
    int id = ng_model_add_param(I->c.m, name, s, f, 0);
    free(f);
    return id < 0 ? ng_fail_ctx(NG_E_NOMEM, I->c.file) : NG_OK;
}

/* Slice parameters from inputs (opset >= 10) or attributes; counts into *n. */
ng_status ng_imp_slice_params(imp *I, const Onnx__NodeProto *nd, int64_t *st, int64_t *en, int64_t *ax, int64_t *sp, int *n)
{
    int ns, ne, na = -1, np = -1;
    ng_status r;
    if (I->c.opset < 10) {
        if ((r = ng_imp_attr_ints(I, nd, "starts", st, &ns)) != NG_OK || (r = ng_imp_attr_ints(I, nd, "ends", en, &ne)) != NG_OK ||
            (r = ng_imp_attr_ints(I, nd, "axes", ax, &na)) != NG_OK) return r;
        if (ns < 0 || ne < 0) return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "needs starts and ends");
    } else {
        if ((r = ng_imp_const_ints(I, nd, 1, st, &ns, NULL)) != NG_OK || (r = ng_imp_const_ints(I, nd, 2, en, &ne, NULL)) != NG_OK) return r;
        if (ng_imp_has_input(nd, 3) && (r = ng_imp_const_ints(I, nd, 3, ax, &na, NULL)) != NG_OK) return r;
        if (ng_imp_has_input(nd, 4) && (r = ng_imp_const_ints(I, nd, 4, sp, &np, NULL)) != NG_OK) return r;
    }
    if (ne != ns || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "starts, ends, axes and steps differ in length");
    for (int i = 0; i < ns; i++) {
        if (na < 0) ax[i] = i;
        if (np < 0) sp[i] = 1;
        if (sp[i] == 0) return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "a step is 0");
    }
    *n = ns;
    return NG_OK;
}

/* Slice of a zcst (the only op allowed on one besides LSTM/GRU initial states). */
static ng_status fold_zc(imp *I, const Onnx__NodeProto *nd, const zcst *z, int *done)
{
    zcst o = *z;
    o.name = nd->output[0];
    if (strcmp(nd->op_type, "Slice") != 0)
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "a constant whose shape depends on the batch size can only be sliced "
                         "or used as an LSTM/GRU initial state");
    int64_t st[NG_MAX_DIMS], en[NG_MAX_DIMS], ax[NG_MAX_DIMS], sp[NG_MAX_DIMS];
    int n;
    ng_status r = ng_imp_slice_params(I, nd, st, en, ax, sp, &n);
    if (r != NG_OK) return r;
    for (int i = 0; i < n; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + o.n : ax[i], start, len;
        if (a < 0 || a >= o.n || o.k[a])
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "slicing along the batch dim is not supported");
        ng_slice_bounds(o.v[a], st[i], en[i], sp[i], &start, &len);
        o.v[a] = len;
    }
    I->zc[I->n_zc++] = o;
    *done = 1;
    return NG_OK;
}

static ng_status fold_constant(imp *I, const Onnx__NodeProto *nd, const char *out, int *done)
{
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
    icst *c = ng_imp_new_ic(I, out);
    if (strcmp(an, "value") == 0 && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR && a->t) {
        c->scalar = a->t->n_dims == 0;
        return ng_onnx_tensor_ints(a->t, I->c.file, "Constant", c->v, NG_MAX_DIMS, &c->n);
    }
    if (strcmp(an, "value_int") == 0 && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) {
        c->n = 1; c->v[0] = a->i; c->scalar = 1;
        return NG_OK;
    }
    if (strcmp(an, "value_ints") == 0 && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS && a->n_ints <= NG_MAX_DIMS) {
        c->n = (int)a->n_ints;
        memcpy(c->v, a->ints, a->n_ints * sizeof *c->v);
        return NG_OK;
    }
    return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "constant attribute '%s' is not supported", an);
}

static ng_status fold_shape(imp *I, const Onnx__NodeProto *nd, const char *out, int *done)
{
    int id, n;
    int64_t v[NG_MAX_DIMS], k[NG_MAX_DIMS];
    ng_status st = ng_imp_get_value(I, nd, nd->input[0], &id);
    if (st == NG_OK) st = ng_imp_dim_forms(I, id, &n, v, k);
    if (st != NG_OK) return st;
    int64_t s = ng_imp_attr_int(nd, "start", 0), e = ng_imp_attr_int(nd, "end", n);
    if (s < 0) s += n;
    if (e < 0) e += n;
    s = s < 0 ? 0 : s > n ? n : s;
    e = e < s ? s : e > n ? n : e;
    icst *c = ng_imp_new_ic(I, out);
    c->n = (int)(e - s);
    memcpy(c->v, v + s, (size_t)c->n * sizeof *v);
    memcpy(c->k, k + s, (size_t)c->n * sizeof *k);
    *done = 1;
    return NG_OK;
}

static ng_status fold_constant_of_shape(imp *I, const Onnx__NodeProto *nd, const icst *shp, const char *out, int *done)
{
    const Onnx__AttributeProto *a = ng_imp_attr(nd, "value");
    float value = 0.0f;
    if (a) {
        ng_shape s;
        ng_status st = a->t ? ng_onnx_tensor_shape(a->t, I->c.file, "ConstantOfShape", &s) : NG_E_FORMAT;
        if (st != NG_OK || ng_shape_numel(&s) != 1)
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "value must be one number");
        if (!ng_dtype_is_float(ng_onnx_dtype(a->t->data_type))) {   /* integers: a small 1-D constant */
            int64_t iv;
            int one;
            if ((st = ng_onnx_tensor_ints(a->t, I->c.file, "ConstantOfShape", &iv, 1, &one)) != NG_OK) return st;
            if (shp->n != 1 || shp->k[0] || shp->v[0] < 0 || shp->v[0] > NG_MAX_DIMS)
                return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "integer output must be 1-D with at most %d elements", NG_MAX_DIMS);
            icst *c = ng_imp_new_ic(I, out);
            c->n = (int)shp->v[0];
            for (int i = 0; i < c->n; i++) c->v[i] = iv;
            *done = 1;
            return NG_OK;
        }
        if ((st = ng_onnx_tensor_floats(a->t, I->c.file, "ConstantOfShape", 1, &value)) != NG_OK) return st;
    }
    int dep = 0;
    for (int i = 0; i < shp->n; i++) dep |= shp->k[i] != 0;
    *done = 1;
    if (dep) {
        zcst *z = &I->zc[I->n_zc++];
        memset(z, 0, sizeof *z);
        z->name = out; z->value = value; z->n = shp->n;
        memcpy(z->v, shp->v, sizeof z->v);
        memcpy(z->k, shp->k, sizeof z->k);
        return NG_OK;
    }
    ng_shape s = { shp->n, {0} };
    for (int i = 0; i < shp->n; i++) {
        if (shp->v[i] < 0) return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "negative dim");
        s.d[i] = shp->v[i];
    }
    return float_param(I, out, &s, value, NULL);
}

/* Element-wise integer arithmetic on linear forms (one side may have one element). */
static ng_status fold_arith(imp *I, const Onnx__NodeProto *nd, const icst *A, const icst *B, const char *out)
{
    const char *op = nd->op_type;
    if (A->n != B->n && A->n != 1 && B->n != 1)
        return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "operands of different lengths");
    icst r;
    memset(&r, 0, sizeof r);
    r.n = A->n > B->n ? A->n : B->n;
    r.scalar = A->scalar && B->scalar;
    for (int i = 0; i < r.n; i++) {
        int64_t av = A->v[A->n == 1 ? 0 : i], ak = A->k[A->n == 1 ? 0 : i];
        int64_t bv = B->v[B->n == 1 ? 0 : i], bk = B->k[B->n == 1 ? 0 : i];
        if (op[0] == 'A') { r.v[i] = av + bv; r.k[i] = ak + bk; }
        else if (op[0] == 'S') { r.v[i] = av - bv; r.k[i] = ak - bk; }
        else if (op[0] == 'M') {
            if (ak && bk) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "product of two batch-dependent sizes");
            r.v[i] = av * bv; r.k[i] = ak * bv + bk * av;
        } else {
            if (bk || bv == 0) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "division by a batch-dependent size or by 0");
            if (ak % bv) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "inexact division of a batch-dependent size");
            r.v[i] = av / bv; r.k[i] = ak / bv;
        }
    }
    icst *o = ng_imp_new_ic(I, out);
    r.name = o->name;
    *o = r;
    return NG_OK;
}

ng_status ng_imp_fold_int_node(imp *I, const Onnx__NodeProto *nd, int *done)
{
    const char *op = nd->op_type;
    *done = 0;
    if (nd->n_output < 1 || !nd->output[0][0]) return NG_OK;
    const char *out = nd->output[0];
    if (strcmp(op, "Constant") == 0) return fold_constant(I, nd, out, done);
    if (strcmp(op, "Shape") == 0 && nd->n_input == 1) return fold_shape(I, nd, out, done);
    if (nd->n_input < 1) return NG_OK;
    const char *in0 = ng_imp_resolve(I, nd->input[0]);
    const zcst *z = ng_imp_find_zc(I, in0);
    if (z) return fold_zc(I, nd, z, done);
    icst *c0 = ng_imp_find_ic(I, in0);
    if (!c0) return NG_OK;
    if (strcmp(op, "ConstantOfShape") == 0) return fold_constant_of_shape(I, nd, c0, out, done);
    icst a = *c0;   /* c0 may move when a new icst is added */
    *done = 1;
    if (strcmp(op, "Gather") == 0 && nd->n_input == 2) {
        int64_t idx[NG_MAX_DIMS];
        int n, scalar;
        ng_status st = ng_imp_const_ints(I, nd, 1, idx, &n, &scalar);
        if (st != NG_OK) return st;
        if (ng_imp_attr_int(nd, "axis", 0) != 0 || a.scalar)
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "only Gather along axis 0 of a 1-D integer tensor can be folded");
        icst *o = ng_imp_new_ic(I, out);
        o->n = n; o->scalar = scalar;
        for (int i = 0; i < n; i++) {
            int64_t j = idx[i] < 0 ? idx[i] + a.n : idx[i];
            if (j < 0 || j >= a.n) return NODE_FAIL(I, nd, NG_E_FORMAT, "index %lld is out of range", (long long)idx[i]);
            o->v[i] = a.v[j]; o->k[i] = a.k[j];
        }
        return NG_OK;
    }
    if (strcmp(op, "Cast") == 0 && ng_dtype_is_float(ng_onnx_dtype((int32_t)ng_imp_attr_int(nd, "to", 0)))) {
        ng_shape s = { a.scalar ? 0 : 1, { a.n } };
        for (int i = 0; i < a.n; i++)
            if (a.k[i]) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "a batch-dependent size cast to float");
        return float_param(I, out, &s, 0.0f, a.v);
    }
    if (strcmp(op, "Reshape") == 0 && nd->n_input == 2) {   /* to 1-D or to 2-D [r, c] */
        int64_t t[NG_MAX_DIMS];
        int nt;
        ng_status st = ng_imp_const_ints(I, nd, 1, t, &nt, NULL);
        if (st != NG_OK) return st;
        if (nt == 2 && t[1] == -1 && t[0] > 0 && a.n % t[0] == 0) t[1] = a.n / t[0];
        if (nt > 2 || (nt == 2 && (t[1] <= 0 || a.n % t[1])))
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "integer tensors can only be reshaped to 1-D or 2-D");
        icst *o = ng_imp_new_ic(I, out);
        a.name = o->name;
        a.scalar = nt == 0;
        a.cols = nt == 2 ? (int)t[1] : 0;
        *o = a;
        return NG_OK;
    }
    if (strcmp(op, "Transpose") == 0 && a.cols > 0) {   /* 2-D integer transpose */
        icst *o = ng_imp_new_ic(I, out);
        int rows = a.n / a.cols;
        *o = a;
        o->name = out;
        o->cols = rows;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < a.cols; c++) { o->v[c * rows + r] = a.v[r * a.cols + c]; o->k[c * rows + r] = a.k[r * a.cols + c]; }
        return NG_OK;
    }
    if (strcmp(op, "Unsqueeze") == 0 || strcmp(op, "Squeeze") == 0 || strcmp(op, "Cast") == 0 ||
        strcmp(op, "Identity") == 0 || strcmp(op, "Flatten") == 0) {
        if (a.cols > 0 && op[0] != 'C' && op[0] != 'I')
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "only 1-D integer tensors can be (un)squeezed or flattened");
        icst *o = ng_imp_new_ic(I, out);
        a.name = o->name;
        if (op[0] == 'U' || op[0] == 'R' || op[0] == 'F') a.scalar = 0;
        if (strcmp(op, "Squeeze") == 0 && a.n == 1) a.scalar = 1;
        *o = a;
        return NG_OK;
    }
    if (strcmp(op, "Concat") == 0) {
        icst acc;
        memset(&acc, 0, sizeof acc);
        for (size_t i = 0; i < nd->n_input; i++) {
            const icst *p = ng_imp_find_ic(I, ng_imp_resolve(I, nd->input[i]));
            if (!p) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "cannot fold a Concat of integer and float tensors");
            if (p->cols) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "only 1-D integer tensors can be concatenated");
            if (acc.n + p->n > NG_MAX_DIMS) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "folded shape has too many dims");
            memcpy(acc.v + acc.n, p->v, (size_t)p->n * sizeof *p->v);
            memcpy(acc.k + acc.n, p->k, (size_t)p->n * sizeof *p->k);
            acc.n += p->n;
        }
        icst *o = ng_imp_new_ic(I, out);
        acc.name = o->name;
        *o = acc;
        return NG_OK;
    }
    if (strcmp(op, "Slice") == 0) {
        int64_t st[NG_MAX_DIMS], en[NG_MAX_DIMS], ax[NG_MAX_DIMS], sp[NG_MAX_DIMS], start, len;
        int n;
        ng_status r = ng_imp_slice_params(I, nd, st, en, ax, sp, &n);
        if (r != NG_OK) return r;
        int w = a.cols > 0 ? a.cols : 1;   /* a 2-D tensor is sliced along its rows */
        if (n != 1 || (ax[0] != 0 && !(ax[0] == -1 && a.cols == 0)) || a.scalar)
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "only 1-D integer tensors (or 2-D ones along axis 0) can be sliced");
        ng_slice_bounds(a.n / w, st[0], en[0], sp[0], &start, &len);
        icst *o = ng_imp_new_ic(I, out);
        o->n = (int)len * w;
        o->cols = a.cols;
        for (int i = 0; i < (int)len; i++)
            for (int j = 0; j < w; j++) {
                o->v[i * w + j] = a.v[(start + i * sp[0]) * w + j];
                o->k[i * w + j] = a.k[(start + i * sp[0]) * w + j];
            }
        return NG_OK;
    }
    if ((strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 || strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0) &&
        nd->n_input == 2) {
        const icst *b = ng_imp_find_ic(I, ng_imp_resolve(I, nd->input[1]));
        if (!b) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "mixes an integer and a float tensor");
        icst bb = *b;
        return fold_arith(I, nd, &a, &bb, out);
    }
    return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "this op on integer tensors is not supported (integer tensors may only "
                     "be shape arithmetic: Shape, Gather, Unsqueeze, Squeeze, Concat, Slice, Cast, Add, Sub, Mul, Div, "
                     "ConstantOfShape, feeding Reshape, Slice, Pad, Gather, Squeeze, Unsqueeze, ReduceMean)");
}
