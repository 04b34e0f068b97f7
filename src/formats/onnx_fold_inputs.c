/* formats/onnx_fold_inputs.c - integer and constant inputs of engine ops folded into attributes:
 * Reshape's shape (numbers, 0 = "same dim as the data", at most one batch-dependent element as -1),
 * Slice's starts/ends/axes/steps, Pad's pads/value/axes, Clip's bounds, Squeeze/Unsqueeze/ReduceMean
 * axes, Gather's indices, in their opset 7..18 forms (attributes before they became inputs), and
 * Split's sizes. The integers come from the folder of onnx_fold.c.
 */
#include <string.h>
#include "formats/onnx_import_impl.h"

/* Reshape's shape input into a->shape: numbers, 0 for "same dim as the data", one -1. */
static ng_status fold_reshape(imp *I, const Onnx__NodeProto *nd, int data, ng_attrs *a)
{
    icst *c = nd->n_input > 1 ? ng_imp_find_ic(I, ng_imp_resolve(I, nd->input[1])) : NULL;
    if (!c)
        return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "shape input '%s' must be a constant (or folded shape arithmetic)",
                         nd->n_input > 1 ? nd->input[1] : "");
    icst t = *c;
    int n, free_at = -1;
    int64_t dv[NG_MAX_DIMS], dk[NG_MAX_DIMS];
    ng_status st = ng_imp_dim_forms(I, data, &n, dv, dk);
    if (st != NG_OK) return st;
    for (int i = 0; i < t.n; i++) if (!t.k[i] && t.v[i] == -1) free_at = i;
    for (int i = 0; i < t.n; i++) {
        if (!t.k[i]) { a->shape[i] = t.v[i]; continue; }
        if (i < n && dv[i] == t.v[i] && dk[i] == t.k[i] && !a->allowzero) { a->shape[i] = 0; continue; }   /* copies dim i */
        if (free_at >= 0)
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "shape element %d depends on the batch size in a way that cannot be folded", i);
        free_at = i;
        a->shape[i] = -1;
    }
    a->shape_n = t.n;
    return NG_OK;
}

/* axes from input idx (when opset >= from) or the "axes" attribute. */
static ng_status fold_axes(imp *I, const Onnx__NodeProto *nd, size_t idx, int64_t from, ng_attrs *a)
{
    int n = 0;
    ng_status st = NG_OK;
    if (I->c.opset >= from) {
        if (ng_imp_has_input(nd, idx)) st = ng_imp_const_ints(I, nd, idx, a->axes, &n, NULL);
    } else {
        st = ng_imp_attr_ints(I, nd, "axes", a->axes, &n);
        if (n < 0) n = 0;
    }
    a->n_axes = n;
    return st;
}

ng_status ng_imp_fold_inputs(imp *I, const Onnx__NodeProto *nd, int op, const int *ins, ng_attrs *a)
{
    ng_status st = NG_OK;
    int n, scalar;
    switch (op) {
    case NG_OP_RESHAPE: return fold_reshape(I, nd, ins[0], a);
    case NG_OP_SQUEEZE: case NG_OP_UNSQUEEZE:
        st = fold_axes(I, nd, 1, 13, a);
        if (st == NG_OK && op == NG_OP_UNSQUEEZE && a->n_axes == 0)
            return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "needs axes");
        return st;
    case NG_OP_REDUCEMEAN:
        st = fold_axes(I, nd, 1, 18, a);
        if (st == NG_OK && a->n_axes == 0 && ng_imp_attr_int(nd, "noop_with_empty_axes", 0))
            return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "noop_with_empty_axes is not supported");
        return st;
    case NG_OP_SLICE:
        if ((st = ng_imp_slice_params(I, nd, a->starts, a->ends, a->axes, a->steps, &n)) != NG_OK) return st;
        a->n_axes = n;
        return NG_OK;
    case NG_OP_GATHER:
        if ((st = ng_imp_const_ints(I, nd, 1, a->idx, &n, &scalar)) != NG_OK) return st;
        a->n_idx = n; a->idx_scalar = scalar;
        return NG_OK;
    case NG_OP_PAD: {
        int64_t p[2 * NG_MAX_DIMS], axes[NG_MAX_DIMS];
        int na = -1, r = 0;
        if (I->c.opset < 11) {   /* pads attribute; value parsed with the attributes (onnx_attrs.c) */
            const Onnx__AttributeProto *pa = ng_imp_attr(nd, "pads");
            if (!pa || pa->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS || pa->n_ints > 2 * NG_MAX_DIMS)
                return NODE_FAIL(I, nd, NG_E_FORMAT, "%s", "needs a pads attribute of at most 16 integers");
            n = (int)pa->n_ints;
            memcpy(p, pa->ints, pa->n_ints * sizeof *p);
        } else {
            if ((st = ng_imp_const_ints(I, nd, 1, p, &n, NULL)) != NG_OK) return st;
            if (ng_imp_has_input(nd, 2) && (st = ng_imp_get_scalar(I, nd, nd->input[2], &a->value)) != NG_OK) return st;
            if (ng_imp_has_input(nd, 3) && (st = ng_imp_const_ints(I, nd, 3, axes, &na, NULL)) != NG_OK) return st;
        }
        int64_t dv[NG_MAX_DIMS], dk[NG_MAX_DIMS];
        if ((st = ng_imp_dim_forms(I, ins[0], &r, dv, dk)) != NG_OK) return st;
        int cnt = na >= 0 ? na : r;
        if (n != 2 * cnt) return NODE_FAIL(I, nd, NG_E_FORMAT, "has %d pads for %d axes", n, cnt);
        memset(a->pads, 0, sizeof a->pads);
        for (int i = 0; i < cnt; i++) {
            int64_t ax = na >= 0 ? (axes[i] < 0 ? axes[i] + r : axes[i]) : i;
            if (ax < 0 || ax >= r) return NODE_FAIL(I, nd, NG_E_FORMAT, "axis %lld out of range", (long long)axes[i]);
            a->pads[ax] = p[i];
            a->pads[r + ax] = p[cnt + i];
        }
        a->n_axes = r;
        return NG_OK;
    }
    case NG_OP_SOFTMAX: {   /* before opset 13: over the dims from axis on; the same as opset 13 on the last axis */
        int64_t dv[NG_MAX_DIMS], dk[NG_MAX_DIMS];
        if (!a->softmax_2d || (st = ng_imp_dim_forms(I, ins[0], &n, dv, dk)) != NG_OK) return st;
        if (a->axis == n - 1 || a->axis == -1) { a->softmax_2d = 0; a->axis = -1; }
        return NG_OK;
    }
    case NG_OP_CLIP:
        if (I->c.opset < 11) return NG_OK;
        if (ng_imp_has_input(nd, 1) && (st = ng_imp_get_scalar(I, nd, nd->input[1], &a->lo)) != NG_OK) return st;
        if (ng_imp_has_input(nd, 2) && (st = ng_imp_get_scalar(I, nd, nd->input[2], &a->hi)) != NG_OK) return st;
        return NG_OK;
    default:
        return NG_OK;
    }
}

ng_status ng_imp_split_sizes(imp *I, const Onnx__NodeProto *nd, int x, int64_t *sizes, int *n, int64_t *axis)
{
    int r, ns = -1;
    int64_t dv[NG_MAX_DIMS], dk[NG_MAX_DIMS];
    ng_status st = ng_imp_dim_forms(I, x, &r, dv, dk);
    if (st != NG_OK) return st;
    *axis = ng_imp_attr_int(nd, "axis", 0);
    int64_t ax = *axis < 0 ? *axis + r : *axis;
    if (ax < 0 || ax >= r || dk[ax]) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "%s", "axis is out of range or the batch dim");
    if (nd->n_output > NG_MAX_DIMS) return NODE_FAIL(I, nd, NG_E_UNSUPPORTED, "more than %d outputs", NG_MAX_DIMS);
    if (I->c.opset >= 13 && ng_imp_has_input(nd, 1)) st = ng_imp_const_ints(I, nd, 1, sizes, &ns, NULL);
    else if (I->c.opset < 13) st = ng_imp_attr_ints(I, nd, "split", sizes, &ns);
    if (st != NG_OK) return st;
    *n = (int)nd->n_output;
    if (ns < 0) {
        if (dv[ax] % *n) return NODE_FAIL(I, nd, NG_E_SHAPE, "cannot split %lld into %d equal parts", (long long)dv[ax], *n);
        for (int i = 0; i < *n; i++) sizes[i] = dv[ax] / *n;
        return NG_OK;
    }
    int64_t total = 0;
    for (int i = 0; i < ns; i++) total += sizes[i] < 0 ? -1 : sizes[i];
    if (ns != *n || total != dv[ax]) return NODE_FAIL(I, nd, NG_E_SHAPE, "%s", "split sizes do not add up to the dim");
    return NG_OK;
}
