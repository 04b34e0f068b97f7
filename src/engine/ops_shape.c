/* engine/ops_shape.c - operators that move data without arithmetic, and Softmax.
 *
 *   Flatten   [d0..dk-1, dk..dn-1] -> [d0*..*dk-1, dk*..*dn-1] at axis k (negative counts from the end)
 *   Reshape   to attrs shape (ONNX: 0 copies the input dim unless allowzero, one -1 is inferred)
 *   Concat    along axis; all other dims equal
 *   Softmax   y = e^(x - max) / sum e^(x - max) along axis (opset 13); before opset 13
 *             (softmax_2d) over the input flattened to 2-D at axis, i.e. over all dims from axis on;
 *             backward dx = y * (dy - sum(dy * y)) along axis
 */
#include <math.h>
#include <string.h>
#include "engine/ops.h"

static int norm_axis(int64_t axis, int ndim, int allow_end, int *out)
{
    int64_t a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a > ndim - (allow_end ? 0 : 1)) return 0;
    *out = (int)a;
    return 1;
}

static void add_to(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* ---- Flatten ---- */
ng_status ng_flatten_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    int ax;
    if (!norm_axis(n->a.axis, in[0]->ndim, 1, &ax))
        return ng_fail(NG_E_SHAPE, "node '%s' (Flatten): axis %lld out of range for %d dims", n->name,
                       (long long)n->a.axis, in[0]->ndim);
    int64_t a = 1, b = 1;
    for (int k = 0; k < in[0]->ndim; k++) { if (k < ax) a *= in[0]->d[k]; else b *= in[0]->d[k]; }
    out[0].ndim = 2; out[0].d[0] = a; out[0].d[1] = b;
    return NG_OK;
}

static ng_status copy_fwd(const ng_tensor *const *in, ng_tensor *const *out)
{
    memcpy(out[0]->data, in[0]->data, (size_t)ng_shape_numel(&in[0]->s) * sizeof(float));
    return NG_OK;
}

static ng_status copy_bwd(const ng_tensor *const *in, const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (din[0]) add_to(din[0]->data, dout[0]->data, ng_shape_numel(&in[0]->s));
    return NG_OK;
}

ng_status ng_flatten_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    return copy_fwd(in, out);
}

ng_status ng_flatten_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                         const ng_tensor *const *dout, ng_tensor *const *din)
{
    return copy_bwd(in, dout, din);
}

/* ---- Reshape ---- */
ng_status ng_reshape_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    const ng_attrs *a = &n->a;
    if (a->shape_n < 0 || a->shape_n > NG_MAX_DIMS)
        return ng_fail(NG_E_UNSUPPORTED, "node '%s' (Reshape): target has %d dims (max %d)", n->name, a->shape_n, NG_MAX_DIMS);
    int64_t numel = ng_shape_numel(in[0]), known = 1;
    int infer = -1;
    ng_shape o = { .ndim = a->shape_n };
    for (int k = 0; k < a->shape_n; k++) {
        int64_t d = a->shape[k];
        if (d == 0 && !a->allowzero) {
            if (k >= in[0]->ndim)
                return ng_fail(NG_E_SHAPE, "node '%s' (Reshape): 0 at axis %d copies a dim the input lacks", n->name, k);
            d = in[0]->d[k];
        }
        if (d == -1) {
            if (infer >= 0) return ng_fail(NG_E_SHAPE, "node '%s' (Reshape): more than one -1 in the target", n->name);
            infer = k;
            d = 1;
        } else if (d < 0) {
            return ng_fail(NG_E_SHAPE, "node '%s' (Reshape): negative dim %lld", n->name, (long long)d);
        }
        o.d[k] = d;
        if (d && known > INT64_MAX / d) return ng_fail(NG_E_SHAPE, "node '%s' (Reshape): target too large", n->name);
        known *= d;
    }
    if (infer >= 0) {
        if (known == 0 || numel % known)
            return ng_fail(NG_E_SHAPE, "node '%s' (Reshape): cannot infer -1 for %lld elements", n->name, (long long)numel);
        o.d[infer] = numel / known;
        known = numel;
    }
    if (known != numel)
        return ng_fail(NG_E_SHAPE, "node '%s' (Reshape): %lld elements cannot take a shape of %lld",
                       n->name, (long long)numel, (long long)known);
    out[0] = o;
    return NG_OK;
}

ng_status ng_reshape_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    return copy_fwd(in, out);
}

ng_status ng_reshape_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                         const ng_tensor *const *dout, ng_tensor *const *din)
{
    return copy_bwd(in, dout, din);
}

/* ---- Concat ---- */
ng_status ng_concat_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    int ax;
    const ng_shape *s0 = NULL;
    for (int i = 0; i < n->n_in && !s0; i++) s0 = in[i];
    if (!s0) return ng_fail(NG_E_SHAPE, "node '%s' (Concat): no inputs", n->name);
    if (!norm_axis(n->a.axis, s0->ndim, 0, &ax))
        return ng_fail(NG_E_SHAPE, "node '%s' (Concat): axis %lld out of range for %d dims", n->name, (long long)n->a.axis, s0->ndim);
    ng_shape o = *s0;
    o.d[ax] = 0;
    for (int i = 0; i < n->n_in; i++) {
        const ng_shape *s = in[i];
        if (!s) continue;
        if (s->ndim != s0->ndim) return ng_fail(NG_E_SHAPE, "node '%s' (Concat): input %d has %d dims, input 0 has %d", n->name, i, s->ndim, s0->ndim);
        for (int k = 0; k < s->ndim; k++)
            if (k != ax && s->d[k] != s0->d[k])
                return ng_fail(NG_E_SHAPE, "node '%s' (Concat): input %d has dim %lld at axis %d, input 0 has %lld",
                               n->name, i, (long long)s->d[k], k, (long long)s0->d[k]);
        o.d[ax] += s->d[ax];
    }
    out[0] = o;
    return NG_OK;
}

/* outer = product of dims before axis; each input contributes a block of d[ax]*inner per outer index. */
static void concat_geom(const ng_node *n, const ng_shape *s, int *ax, int64_t *outer, int64_t *inner)
{
    norm_axis(n->a.axis, s->ndim, 0, ax);
    *outer = 1; *inner = 1;
    for (int k = 0; k < *ax; k++) *outer *= s->d[k];
    for (int k = *ax + 1; k < s->ndim; k++) *inner *= s->d[k];
}

ng_status ng_concat_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    int ax = 0;
    int64_t outer, inner;
    concat_geom(n, &out[0]->s, &ax, &outer, &inner);
    int64_t orow = out[0]->s.d[ax] * inner, pos = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!in[i]) continue;
        int64_t blk = in[i]->s.d[ax] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy(out[0]->data + o * orow + pos, in[i]->data + o * blk, (size_t)blk * sizeof(float));
        pos += blk;
    }
    return NG_OK;
}

ng_status ng_concat_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                        const ng_tensor *const *dout, ng_tensor *const *din)
{
    int ax = 0;
    int64_t outer, inner;
    concat_geom(n, &out[0]->s, &ax, &outer, &inner);
    int64_t orow = out[0]->s.d[ax] * inner, pos = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!in[i]) continue;
        int64_t blk = in[i]->s.d[ax] * inner;
        if (din[i])
            for (int64_t o = 0; o < outer; o++)
                add_to(din[i]->data + o * blk, dout[0]->data + o * orow + pos, blk);
        pos += blk;
    }
    return NG_OK;
}

/* ---- Softmax ---- */
ng_status ng_softmax_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    int ax;
    if (!norm_axis(n->a.axis, in[0]->ndim, 0, &ax))
        return ng_fail(NG_E_SHAPE, "node '%s' (Softmax): axis %lld out of range for %d dims", n->name, (long long)n->a.axis, in[0]->ndim);
    out[0] = *in[0];
    return NG_OK;
}

static void softmax_geom(const ng_node *n, const ng_shape *s, int64_t *outer, int64_t *len, int64_t *inner)
{
    int ax = 0;
    norm_axis(n->a.axis, s->ndim, 0, &ax);
    *outer = 1; *inner = 1; *len = s->d[ax];
    for (int k = 0; k < ax; k++) *outer *= s->d[k];
    for (int k = ax + 1; k < s->ndim; k++) *inner *= s->d[k];
    if (n->a.softmax_2d) { *len *= *inner; *inner = 1; }
}

ng_status ng_softmax_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    int64_t outer, len, inner;
    softmax_geom(n, &in[0]->s, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const float *x = in[0]->data + o * len * inner + j;
            float *y = out[0]->data + o * len * inner + j;
            float mx = -INFINITY;
            for (int64_t k = 0; k < len; k++) if (x[k * inner] > mx) mx = x[k * inner];
            double sum = 0;
            for (int64_t k = 0; k < len; k++) { y[k * inner] = expf(x[k * inner] - mx); sum += y[k * inner]; }
            float inv = (float)(1.0 / sum);
            for (int64_t k = 0; k < len; k++) y[k * inner] *= inv;
        }
    return NG_OK;
}

ng_status ng_softmax_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                         const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    int64_t outer, len, inner;
    softmax_geom(n, &in[0]->s, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j;
            const float *y = out[0]->data + base, *dy = dout[0]->data + base;
            float *dx = din[0]->data + base;
            double dot = 0;
            for (int64_t k = 0; k < len; k++) dot += (double)dy[k * inner] * y[k * inner];
            for (int64_t k = 0; k < len; k++) dx[k * inner] += y[k * inner] * (dy[k * inner] - (float)dot);
        }
    return NG_OK;
}
