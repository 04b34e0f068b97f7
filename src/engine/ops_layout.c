/* engine/ops_layout.c - operators that move elements between positions (ONNX semantics).
 *
 *   Transpose  y[i_0..i_r-1] = x[j] with j[perm[k]] = i_k (no perm: dims reversed)
 *   Slice      per listed axis: start/end clamped to the dim as ONNX says (negative counts from the
 *              end; step > 0: [0, d], step < 0: [-1, d-1]), out = ceil((end - start) / step), >= 0
 *   Pad        constant mode: pads[k] elements of `value` before axis k, pads[r + k] after;
 *              negative pads crop
 *   Gather     along axis with constant indices (negative counts from the end); one scalar index
 *              removes the axis
 *   Squeeze    removes the listed axes (each must be 1), or every dim of size 1 when none are listed
 *   Unsqueeze  inserts dims of size 1 at the listed axes of the output
 * Backward of each adds dy to the positions of x it read (Pad: the part of dy over x).
 * All share one strided walk (ng_nd_map, kern.c).
 */
#include <string.h>
#include "engine/ops.h"
#include "engine/kern.h"

static int norm_ax(int64_t axis, int ndim, int *out)
{
    int64_t a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) return 0;
    *out = (int)a;
    return 1;
}

#define FAIL_SHAPE(n, op, ...) ng_fail(NG_E_SHAPE, "node '%s' (" op "): " __VA_ARGS__)

/* ---- Transpose ---- */
static ng_status perm_of(const ng_node *n, int r, int *p)
{
    if (n->a.n_axes == 0) { for (int k = 0; k < r; k++) p[k] = r - 1 - k; return NG_OK; }
    if (n->a.n_axes != r) return FAIL_SHAPE(n, "Transpose", "perm has %d entries for %d dims", NG_NODE_NAME(n), n->a.n_axes, r);
    int seen[NG_MAX_DIMS] = {0};
    for (int k = 0; k < r; k++) {
        if (!norm_ax(n->a.axes[k], r, &p[k]) || seen[p[k]]++)
            return FAIL_SHAPE(n, "Transpose", "perm is not a permutation of 0..%d", NG_NODE_NAME(n), r - 1);
    }
    return NG_OK;
}

ng_status ng_transpose_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    int p[NG_MAX_DIMS];
    ng_status st = perm_of(n, in[0]->ndim, p);
    if (st != NG_OK) return st;
    out[0].ndim = in[0]->ndim;
    for (int k = 0; k < in[0]->ndim; k++) out[0].d[k] = in[0]->d[p[k]];
    return NG_OK;
}

/* Strides of x seen in y's index order. */
static void transpose_plan(const ng_node *n, const ng_shape *xs, int64_t *xst, int64_t *yst, ng_shape *ys)
{
    int p[NG_MAX_DIMS];
    int64_t st[NG_MAX_DIMS];
    perm_of(n, xs->ndim, p);
    ng_strides(xs, st);
    ys->ndim = xs->ndim;
    for (int k = 0; k < xs->ndim; k++) { xst[k] = st[p[k]]; ys->d[k] = xs->d[p[k]]; }
    ng_strides(ys, yst);
}

ng_status ng_transpose_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    int64_t xst[NG_MAX_DIMS], yst[NG_MAX_DIMS];
    ng_shape ys;
    transpose_plan(n, &in[0]->s, xst, yst, &ys);
    ng_nd_map(&ys, in[0]->data, 0, xst, out[0]->data, 0, yst, 0);
    return NG_OK;
}

ng_status ng_transpose_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                           const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    int64_t xst[NG_MAX_DIMS], yst[NG_MAX_DIMS];
    ng_shape ys;
    transpose_plan(n, &in[0]->s, xst, yst, &ys);
    ng_nd_map(&ys, dout[0]->data, 0, yst, din[0]->data, 0, xst, 1);
    return NG_OK;
}

/* ---- Slice ---- */
typedef struct slice_plan { ng_shape ys; int64_t base, xst[NG_MAX_DIMS], yst[NG_MAX_DIMS]; } slice_plan;

static ng_status slice_plan_of(const ng_node *n, const ng_shape *xs, slice_plan *p)
{
    const ng_attrs *a = &n->a;
    int r = xs->ndim;
    int64_t st[NG_MAX_DIMS], start[NG_MAX_DIMS], step[NG_MAX_DIMS];
    int seen[NG_MAX_DIMS] = {0};
    ng_strides(xs, st);
    p->ys = *xs;
    for (int k = 0; k < r; k++) { start[k] = 0; step[k] = 1; }
    for (int i = 0; i < a->n_axes; i++) {
        int ax;
        if (!norm_ax(a->axes[i], r, &ax) || seen[ax]++)
            return FAIL_SHAPE(n, "Slice", "axis %lld is out of range or repeated for %d dims", NG_NODE_NAME(n), (long long)a->axes[i], r);
        int64_t len;
        if (a->steps[i] == 0) return FAIL_SHAPE(n, "Slice", "step 0 on axis %d", NG_NODE_NAME(n), ax);
        ng_slice_bounds(xs->d[ax], a->starts[i], a->ends[i], a->steps[i], &start[ax], &len);
        p->ys.d[ax] = len;
        step[ax] = len > 1 ? a->steps[i] : 1;   /* |step| <= d when more than one element is taken */
    }
    p->base = 0;
    for (int k = 0; k < r; k++) { p->base += start[k] * st[k]; p->xst[k] = st[k] * step[k]; }
    ng_strides(&p->ys, p->yst);
    return NG_OK;
}

ng_status ng_slice_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    slice_plan p;
    ng_status st = slice_plan_of(n, in[0], &p);
    if (st == NG_OK) out[0] = p.ys;
    return st;
}

ng_status ng_slice_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    slice_plan p;
    ng_status st = slice_plan_of(n, &in[0]->s, &p);
    if (st == NG_OK) ng_nd_map(&p.ys, in[0]->data, p.base, p.xst, out[0]->data, 0, p.yst, 0);
    return st;
}

ng_status ng_slice_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                       const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    slice_plan p;
    ng_status st = slice_plan_of(n, &in[0]->s, &p);
    if (st == NG_OK) ng_nd_map(&p.ys, dout[0]->data, 0, p.yst, din[0]->data, p.base, p.xst, 1);
    return st;
}

/* ---- Pad ---- */
/* The region both x and y cover: its shape, and its offsets in x and y. */
typedef struct pad_plan { ng_shape ys, cs; int64_t xb, yb, xst[NG_MAX_DIMS], yst[NG_MAX_DIMS]; } pad_plan;

static ng_status pad_plan_of(const ng_node *n, const ng_shape *xs, pad_plan *p)
{
    int r = xs->ndim;
    if (n->a.n_axes != r)
        return FAIL_SHAPE(n, "Pad", "pads cover %d dims, the input has %d", NG_NODE_NAME(n), n->a.n_axes, r);
    p->ys = *xs; p->cs = *xs;
    int64_t xb[NG_MAX_DIMS], yb[NG_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        int64_t b = n->a.pads[k], e = n->a.pads[r + k];
        if (b < -(1LL << 40) || b > (1LL << 40) || e < -(1LL << 40) || e > (1LL << 40))
            return FAIL_SHAPE(n, "Pad", "pad %lld/%lld on axis %d is out of range", NG_NODE_NAME(n), (long long)b, (long long)e, k);
        p->ys.d[k] = xs->d[k] + b + e;
        if (p->ys.d[k] < 0) return FAIL_SHAPE(n, "Pad", "pads crop axis %d below zero", NG_NODE_NAME(n), k);
        xb[k] = b < 0 ? -b : 0;
        yb[k] = b > 0 ? b : 0;
        int64_t len = xs->d[k] - xb[k] - (e < 0 ? -e : 0);
        p->cs.d[k] = len > 0 ? len : 0;
    }
    ng_strides(xs, p->xst);
    ng_strides(&p->ys, p->yst);
    p->xb = p->yb = 0;
    for (int k = 0; k < r; k++) { p->xb += xb[k] * p->xst[k]; p->yb += yb[k] * p->yst[k]; }
    return NG_OK;
}

ng_status ng_pad_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    pad_plan p;
    ng_status st = pad_plan_of(n, in[0], &p);
    if (st == NG_OK) out[0] = p.ys;
    return st;
}

ng_status ng_pad_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    pad_plan p;
    ng_status st = pad_plan_of(n, &in[0]->s, &p);
    if (st != NG_OK) return st;
    int64_t ny = ng_shape_numel(&p.ys);
    float v = n->a.value, *y = out[0]->data;
    for (int64_t i = 0; i < ny; i++) y[i] = v;
    ng_nd_map(&p.cs, in[0]->data, p.xb, p.xst, y, p.yb, p.yst, 0);
    return NG_OK;
}

ng_status ng_pad_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                     const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    pad_plan p;
    ng_status st = pad_plan_of(n, &in[0]->s, &p);
    if (st == NG_OK) ng_nd_map(&p.cs, dout[0]->data, p.yb, p.yst, din[0]->data, p.xb, p.xst, 1);
    return st;
}

/* ---- Gather ---- */
/* Output shape, and the shape of the block each index copies (x's shape with axis 1). */
static ng_status gather_plan(const ng_node *n, const ng_shape *xs, int *ax, ng_shape *ys, ng_shape *blk)
{
    const ng_attrs *a = &n->a;
    if (!norm_ax(a->axis, xs->ndim, ax))
        return FAIL_SHAPE(n, "Gather", "axis %lld out of range for %d dims", NG_NODE_NAME(n), (long long)a->axis, xs->ndim);
    if (a->n_idx < 1 || (a->idx_scalar && a->n_idx != 1))
        return FAIL_SHAPE(n, "Gather", "has %d indices", NG_NODE_NAME(n), a->n_idx);
    for (int i = 0; i < a->n_idx; i++)
        if (a->idx[i] < -xs->d[*ax] || a->idx[i] >= xs->d[*ax])
            return FAIL_SHAPE(n, "Gather", "index %lld out of range for a dim of %lld", NG_NODE_NAME(n),
                              (long long)a->idx[i], (long long)xs->d[*ax]);
    *blk = *xs;
    blk->d[*ax] = 1;
    *ys = *xs;
    ys->d[*ax] = a->n_idx;
    if (a->idx_scalar) {
        ys->ndim--;
        for (int k = *ax; k < ys->ndim; k++) ys->d[k] = xs->d[k + 1];
    }
    return NG_OK;
}

ng_status ng_gather_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    int ax;
    ng_shape blk;
    return gather_plan(n, in[0], &ax, &out[0], &blk);
}

static ng_status gather_run(const ng_node *n, const ng_shape *xs, float *x, float *y, int bwd)
{
    int ax = 0;
    ng_shape ys, blk, yfull;
    ng_status st = gather_plan(n, xs, &ax, &ys, &blk);
    if (st != NG_OK) return st;
    int64_t xst[NG_MAX_DIMS], yst[NG_MAX_DIMS];
    yfull = *xs;
    yfull.d[ax] = n->a.n_idx;
    ng_strides(xs, xst);
    ng_strides(&yfull, yst);
    for (int i = 0; i < n->a.n_idx; i++) {
        int64_t k = n->a.idx[i] < 0 ? n->a.idx[i] + xs->d[ax] : n->a.idx[i];
        if (bwd) ng_nd_map(&blk, y, i * yst[ax], yst, x, k * xst[ax], xst, 1);
        else     ng_nd_map(&blk, x, k * xst[ax], xst, y, i * yst[ax], yst, 0);
    }
    return NG_OK;
}

ng_status ng_gather_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    return gather_run(n, &in[0]->s, in[0]->data, out[0]->data, 0);
}

ng_status ng_gather_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                        const ng_tensor *const *dout, ng_tensor *const *din)
{
    return din[0] ? gather_run(n, &in[0]->s, din[0]->data, dout[0]->data, 1) : NG_OK;
}

/* ---- Squeeze / Unsqueeze: new shape, same elements ---- */
ng_status ng_squeeze_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    const ng_shape *xs = in[0];
    int drop[NG_MAX_DIMS] = {0};
    for (int i = 0; i < n->a.n_axes; i++) {
        int ax;
        if (!norm_ax(n->a.axes[i], xs->ndim, &ax) || xs->d[ax] != 1)
            return FAIL_SHAPE(n, "Squeeze", "axis %lld is out of range or not of size 1", NG_NODE_NAME(n), (long long)n->a.axes[i]);
        drop[ax] = 1;
    }
    out[0].ndim = 0;
    for (int k = 0; k < xs->ndim; k++)
        if (!(n->a.n_axes ? drop[k] : xs->d[k] == 1)) out[0].d[out[0].ndim++] = xs->d[k];
    return NG_OK;
}

ng_status ng_unsqueeze_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    const ng_shape *xs = in[0];
    int r = xs->ndim + n->a.n_axes, ins[NG_MAX_DIMS] = {0};
    if (r > NG_MAX_DIMS) return FAIL_SHAPE(n, "Unsqueeze", "output would have %d dims (max %d)", NG_NODE_NAME(n), r, NG_MAX_DIMS);
    for (int i = 0; i < n->a.n_axes; i++) {
        int ax;
        if (!norm_ax(n->a.axes[i], r, &ax) || ins[ax]++)
            return FAIL_SHAPE(n, "Unsqueeze", "axis %lld is out of range or repeated", NG_NODE_NAME(n), (long long)n->a.axes[i]);
    }
    out[0].ndim = r;
    for (int k = 0, j = 0; k < r; k++) out[0].d[k] = ins[k] ? 1 : xs->d[j++];
    return NG_OK;
}

static ng_status copy_fwd(const ng_tensor *const *in, ng_tensor *const *out)
{
    memcpy(out[0]->data, in[0]->data, (size_t)ng_shape_numel(&in[0]->s) * sizeof(float));
    return NG_OK;
}

static ng_status copy_bwd(const ng_tensor *const *in, const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    int64_t k = ng_shape_numel(&in[0]->s);
    for (int64_t i = 0; i < k; i++) din[0]->data[i] += dout[0]->data[i];
    return NG_OK;
}

ng_status ng_squeeze_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out) { return copy_fwd(in, out); }
ng_status ng_unsqueeze_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out) { return copy_fwd(in, out); }

ng_status ng_squeeze_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                         const ng_tensor *const *dout, ng_tensor *const *din)
{
    return copy_bwd(in, dout, din);
}

ng_status ng_unsqueeze_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                           const ng_tensor *const *dout, ng_tensor *const *din)
{
    return copy_bwd(in, dout, din);
}
