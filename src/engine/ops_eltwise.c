/* engine/ops_eltwise.c - element-wise operators.
 *
 *   Add, Sub, Mul, Div, Pow   y = a + b, a - b, a * b, a / b, a ^ b with numpy broadcasting;
 *                 backward sums dy over the dims an operand was broadcast along
 *                 (Pow: da = dy b a^(b-1), db = dy a^b ln a, taken as 0 where a <= 0).
 *   Sqrt          y = sqrt x                    dy/dx = 1 / (2 y)
 *   Erf           y = erf x                     dy/dx = 2 / sqrt(pi) e^(-x^2)
 *   Gelu          y = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, or with approximate="tanh"
 *                 y = x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2
 *   Clip          y = min(max(x, lo), hi)       dy/dx = 1 on [lo, hi], else 0 (as PyTorch's clamp)
 *   Relu          y = max(0, x)
 *   LeakyRelu     y = x > 0 ? x : alpha * x
 *   Sigmoid       y = 1 / (1 + e^-x)            dy/dx = y (1 - y)
 *   Tanh          y = tanh x                    dy/dx = 1 - y^2
 *   HardSigmoid   y = max(0, min(1, alpha x + beta))
 *   HardSwish     y = x relu6(x + 3) / 6
 *   Identity      y = x
 *   Dropout       inference: y = x; training: y = x * mask, mask = 0 with
 *                 probability ratio else 1 / (1 - ratio) (kept for backward).
 */
#include <math.h>
#include <string.h>
#include "engine/ops.h"
#include "core/core.h"

#define PAR_MIN 32768   /* below this many elements loops run on the caller's thread */

static ng_status same_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    out[0] = *in[0];
    if (n->n_out > 1) out[1] = *in[0];
    return NG_OK;
}

/* ---- unary ops: one body function per op, run in chunks on the pool ---- */
typedef struct un_arg { const float *x, *y, *dy; float *o; float alpha, beta; } un_arg;

static void run_unary(ng_opctx *c, int64_t n, ng_pool_body body, un_arg *a)
{
    if (n >= PAR_MIN) ng_pool_for(c->pool, n, body, a);
    else body(a, 0, n, 0);
}

/* Loads are hoisted out of the selects so the loops compile branch-free and vectorised
 * (a data-dependent branch per element costs more than the arithmetic). */
#define UNARY_BODY(fname, expr) \
    static void fname(void *arg, int64_t i0, int64_t i1, int w) { \
        un_arg *A = arg; \
        const float *restrict xp = A->x, *restrict yp = A->y, *restrict dyp = A->dy; float *restrict o = A->o; \
        const float alpha = A->alpha, beta = A->beta; (void)alpha; (void)beta; \
        for (int64_t i = i0; i < i1; i++) { \
            const float x = xp ? xp[i] : 0.0f, y = yp ? yp[i] : 0.0f, dy = dyp ? dyp[i] : 0.0f; \
            (void)x; (void)y; (void)dy; expr; } }

UNARY_BODY(relu_f, o[i] = x > 0.0f ? x : 0.0f)
UNARY_BODY(relu_b, o[i] += y > 0.0f ? dy : 0.0f)
UNARY_BODY(leaky_f, o[i] = x > 0.0f ? x : alpha * x)
UNARY_BODY(leaky_b, o[i] += x > 0.0f ? dy : alpha * dy)
UNARY_BODY(sigm_f, o[i] = 1.0f / (1.0f + expf(-x)))
UNARY_BODY(sigm_b, o[i] += dy * y * (1.0f - y))
UNARY_BODY(tanh_f, o[i] = tanhf(x))
UNARY_BODY(tanh_b, o[i] += dy * (1.0f - y * y))
UNARY_BODY(hsig_f, float v = alpha * x + beta; o[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v)
UNARY_BODY(hsig_b, float v = alpha * x + beta; o[i] += (v > 0.0f && v < 1.0f) ? alpha * dy : 0.0f)
UNARY_BODY(hswi_f, float r = x + 3.0f; r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r; o[i] = x * r / 6.0f)
UNARY_BODY(hswi_b, o[i] += x < -3.0f ? 0.0f : x > 3.0f ? dy : dy * (2.0f * x + 3.0f) / 6.0f)
UNARY_BODY(copy_f, o[i] = x)
UNARY_BODY(sqrt_f, o[i] = sqrtf(x))
UNARY_BODY(sqrt_b, o[i] += y > 0.0f ? dy * 0.5f / y : 0.0f)
UNARY_BODY(erf_f, o[i] = erff(x))
UNARY_BODY(erf_b, o[i] += dy * 1.1283791670955126f * expf(-x * x))
UNARY_BODY(gelu_f, o[i] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)))
UNARY_BODY(gelu_b, o[i] += dy * (0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.3989422804014327f * expf(-0.5f * x * x)))
UNARY_BODY(gelut_f, o[i] = 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))))
UNARY_BODY(gelut_b, float t = tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x));
           o[i] += dy * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * 0.7978845608028654f * (1.0f + 0.134145f * x * x)))
UNARY_BODY(clip_f, o[i] = x < alpha ? alpha : x > beta ? beta : x)
UNARY_BODY(clip_b, o[i] += (x >= alpha && x <= beta) ? dy : 0.0f)
UNARY_BODY(add_b, o[i] += dy)
UNARY_BODY(mask_b, o[i] += dy * y)

static ng_status unary_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out,
                           ng_pool_body body)
{
    un_arg a = { in[0]->data, NULL, NULL, out[0]->data, n->a.alpha, n->a.beta };
    run_unary(c, ng_shape_numel(&in[0]->s), body, &a);
    return NG_OK;
}

static ng_status unary_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                           const ng_tensor *const *dout, ng_tensor *const *din, ng_pool_body body)
{
    if (!din[0]) return NG_OK;
    un_arg a = { in[0]->data, out[0]->data, dout[0]->data, din[0]->data, n->a.alpha, n->a.beta };
    run_unary(c, ng_shape_numel(&in[0]->s), body, &a);
    return NG_OK;
}

#define UNARY_OP(op, fwd_body, bwd_body) \
    ng_status ng_##op##_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out) { return same_shape(n, in, out); } \
    ng_status ng_##op##_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out) \
    { return unary_fwd(c, n, in, out, fwd_body); } \
    ng_status ng_##op##_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out, \
                            const ng_tensor *const *dout, ng_tensor *const *din) \
    { return unary_bwd(c, n, in, out, dout, din, bwd_body); }

UNARY_OP(relu, relu_f, relu_b)
UNARY_OP(leakyrelu, leaky_f, leaky_b)
UNARY_OP(sigmoid, sigm_f, sigm_b)
UNARY_OP(tanh, tanh_f, tanh_b)
UNARY_OP(hardsigmoid, hsig_f, hsig_b)
UNARY_OP(hardswish, hswi_f, hswi_b)
UNARY_OP(identity, copy_f, add_b)
UNARY_OP(sqrt, sqrt_f, sqrt_b)
UNARY_OP(erf, erf_f, erf_b)

ng_status ng_gelu_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out) { return same_shape(n, in, out); }
ng_status ng_gelu_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    return unary_fwd(c, n, in, out, n->a.gelu_tanh ? gelut_f : gelu_f);
}
ng_status ng_gelu_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                      const ng_tensor *const *dout, ng_tensor *const *din)
{
    return unary_bwd(c, n, in, out, dout, din, n->a.gelu_tanh ? gelut_b : gelu_b);
}

/* Clip: the bounds travel in un_arg's alpha (lo) and beta (hi). */
ng_status ng_clip_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    if (n->a.lo > n->a.hi)
        return ng_fail(NG_E_SHAPE, "node '%s' (Clip): min %g is above max %g", n->name, (double)n->a.lo, (double)n->a.hi);
    return same_shape(n, in, out);
}
ng_status ng_clip_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    un_arg a = { in[0]->data, NULL, NULL, out[0]->data, n->a.lo, n->a.hi };
    run_unary(c, ng_shape_numel(&in[0]->s), clip_f, &a);
    return NG_OK;
}
ng_status ng_clip_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                      const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    un_arg a = { in[0]->data, out[0]->data, dout[0]->data, din[0]->data, n->a.lo, n->a.hi };
    run_unary(c, ng_shape_numel(&in[0]->s), clip_b, &a);
    return NG_OK;
}

/* ---- Dropout ---- */
ng_status ng_dropout_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    if (!(n->a.ratio >= 0.0f && n->a.ratio < 1.0f))
        return ng_fail(NG_E_UNSUPPORTED, "node '%s' (Dropout): ratio %g is not in [0, 1)", n->name, (double)n->a.ratio);
    return same_shape(n, in, out);
}

ng_status ng_dropout_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    int64_t k = ng_shape_numel(&in[0]->s);
    float ratio = n->a.ratio;
    if (!c->training || ratio <= 0.0f) {
        if (*c->saved) { ng_free_aligned(*c->saved); *c->saved = NULL; *c->saved_size = 0; }   /* no mask: backward is identity */
        memcpy(out[0]->data, in[0]->data, (size_t)k * sizeof(float));
        if (n->n_out > 1) for (int64_t i = 0; i < k; i++) out[1]->data[i] = 1.0f;
        return NG_OK;
    }
    float *mask = ng_opctx_saved(c, (size_t)k * sizeof(float));
    if (!mask) return NG_E_NOMEM;
    float keep = 1.0f / (1.0f - ratio);
    for (int64_t i = 0; i < k; i++) {
        mask[i] = ng_rng_uniform(c->rng) < ratio ? 0.0f : keep;
        out[0]->data[i] = in[0]->data[i] * mask[i];
    }
    if (n->n_out > 1) for (int64_t i = 0; i < k; i++) out[1]->data[i] = mask[i] != 0.0f;
    return NG_OK;
}

ng_status ng_dropout_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                         const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    int64_t k = ng_shape_numel(&in[0]->s);
    un_arg a = { NULL, NULL, dout[0]->data, din[0]->data, 0, 0 };
    if (!*c->saved) { run_unary(c, k, add_b, &a); return NG_OK; }   /* the forward pass dropped nothing */
    if (*c->saved_size < (size_t)k * sizeof(float))
        return ng_fail(NG_E_INTERNAL, "node '%s' (Dropout): mask is smaller than the input", n->name);
    a.y = *c->saved;
    run_unary(c, k, mask_b, &a);
    return NG_OK;
}

/* ---- Add / Mul with broadcasting ----
 * Both operands are right-aligned to the output's rank, with stride 0 along
 * broadcast dims; adjacent dims that are contiguous for both operands (or
 * broadcast in both) are merged, so NCHW + [C,1,1] becomes [N, C, H*W] with
 * b strides [0, 1, 0] and the inner loop is a scalar broadcast. */
typedef struct bcast {
    int nd;
    int64_t d[NG_MAX_DIMS], sa[NG_MAX_DIMS], sb[NG_MAX_DIMS];
} bcast;

static ng_status bcast_shape(const ng_node *n, const ng_shape *a, const ng_shape *b, ng_shape *o)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    o->ndim = r;
    for (int k = 0; k < r; k++) {
        int ia = k - (r - a->ndim), ib = k - (r - b->ndim);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ng_fail(NG_E_SHAPE, "node '%s' (%s): dims %lld and %lld at axis %d cannot broadcast",
                           n->name, ng_ops[n->op].name, (long long)da, (long long)db, k);
        o->d[k] = da == 1 ? db : da;
    }
    return NG_OK;
}

static void strides_of(const ng_shape *x, int r, const ng_shape *o, int64_t *s)
{
    int64_t acc = 1;
    for (int k = r - 1; k >= 0; k--) {
        int ix = k - (r - x->ndim);
        int64_t dx = ix >= 0 ? x->d[ix] : 1;
        s[k] = (dx == 1 && o->d[k] != 1) ? 0 : acc;
        acc *= dx;
    }
}

static void bcast_plan(const ng_shape *a, const ng_shape *b, const ng_shape *o, bcast *p)
{
    int r = o->ndim;
    int64_t sa[NG_MAX_DIMS], sb[NG_MAX_DIMS];
    strides_of(a, r, o, sa);
    strides_of(b, r, o, sb);
    p->nd = 0;
    for (int k = 0; k < r; k++) {
        if (o->d[k] == 1) continue;
        if (p->nd > 0) {
            int j = p->nd - 1;
            int okA = (sa[k] == 0 && p->sa[j] == 0) || (sa[k] != 0 && p->sa[j] == sa[k] * o->d[k]);
            int okB = (sb[k] == 0 && p->sb[j] == 0) || (sb[k] != 0 && p->sb[j] == sb[k] * o->d[k]);
            if (okA && okB) { p->d[j] *= o->d[k]; p->sa[j] = sa[k]; p->sb[j] = sb[k]; continue; }
        }
        p->d[p->nd] = o->d[k]; p->sa[p->nd] = sa[k]; p->sb[p->nd] = sb[k]; p->nd++;
    }
    if (p->nd == 0) { p->nd = 1; p->d[0] = 1; p->sa[0] = p->sb[0] = 1; }
}

/* mode: 0 y=a+b, 1 y=a*b, 2 da+=dy (reduce), 3 db+=dy, 4 da+=dy*b, 5 db+=dy*a,
 *       6 y=a-b, 7 y=a/b, 8 y=a^b, 9 db-=dy, 10 da+=dy/b, 11 db-=dy*a/b^2, 12 da+=dy*b*a^(b-1), 13 db+=dy*a^b*ln a */
enum { BM_ADD, BM_MUL, BM_DA, BM_DB, BM_DA_MUL, BM_DB_MUL, BM_SUB, BM_DIV, BM_POW, BM_DB_SUB, BM_DA_DIV,
       BM_DB_DIV, BM_DA_POW, BM_DB_POW };
typedef struct bc_arg {
    const bcast *p; int mode;
    const float *a, *b; const float *dy; float *y; float *g;
    int relu;   /* forward: y = Relu(result) (the exec fused the next Relu node; Add only) */
} bc_arg;

/* The less common modes (Sub, Div, Pow and their gradients), one row. */
static void bc_more(int mode, int64_t inner, const float *a, int64_t ia, const float *b, int64_t ib,
                    const float *dy, float *y, float *g)
{
    switch (mode) {
    case BM_SUB: for (int64_t i = 0; i < inner; i++) y[i] = a[i * ia] - b[i * ib]; break;
    case BM_DIV: for (int64_t i = 0; i < inner; i++) y[i] = a[i * ia] / b[i * ib]; break;
    case BM_POW: for (int64_t i = 0; i < inner; i++) y[i] = powf(a[i * ia], b[i * ib]); break;
    case BM_DB_SUB: for (int64_t i = 0; i < inner; i++) g[i * ib] -= dy[i]; break;
    case BM_DA_DIV: for (int64_t i = 0; i < inner; i++) g[i * ia] += dy[i] / b[i * ib]; break;
    case BM_DB_DIV:
        for (int64_t i = 0; i < inner; i++) { float bv = b[i * ib]; g[i * ib] -= dy[i] * a[i * ia] / (bv * bv); }
        break;
    case BM_DA_POW:
        for (int64_t i = 0; i < inner; i++) {
            float av = a[i * ia], bv = b[i * ib];
            g[i * ia] += bv == 0.0f ? 0.0f : dy[i] * bv * powf(av, bv - 1.0f);
        }
        break;
    case BM_DB_POW:
        for (int64_t i = 0; i < inner; i++) {
            float av = a[i * ia];
            g[i * ib] += av > 0.0f ? dy[i] * powf(av, b[i * ib]) * logf(av) : 0.0f;
        }
        break;
    default: break;
    }
}

static void relu_row(float *y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f; }

static void bc_body(void *arg, int64_t r0, int64_t r1, int w)
{
    bc_arg *A = arg;
    const bcast *p = A->p;
    int nd = p->nd;
    int64_t inner = p->d[nd - 1], ia_s = p->sa[nd - 1], ib_s = p->sb[nd - 1];
    for (int64_t row = r0; row < r1; row++) {
        /* offsets of this row (index over the outer nd-1 dims) */
        int64_t oa = 0, ob = 0, rem = row;
        for (int k = nd - 2; k >= 0; k--) {
            int64_t ik = rem % p->d[k];
            rem /= p->d[k];
            oa += ik * p->sa[k];
            ob += ik * p->sb[k];
        }
        int64_t oy = row * inner;
        const float *a = A->a + oa, *b = A->b + ob, *dy = A->dy ? A->dy + oy : NULL;
        float *y = A->y ? A->y + oy : NULL;
        if (A->mode <= 1 && ia_s == 1 && ib_s <= 1) {   /* the common cases, vectorisable */
            if (ib_s == 1 && A->relu) {
                for (int64_t i = 0; i < inner; i++) { float v = a[i] + b[i]; y[i] = v > 0.0f ? v : 0.0f; }
                continue;
            }
            if (ib_s == 1) {
                if (A->mode == 0) for (int64_t i = 0; i < inner; i++) y[i] = a[i] + b[i];
                else              for (int64_t i = 0; i < inner; i++) y[i] = a[i] * b[i];
            } else {
                float bv = b[0];
                if (A->mode == 0) for (int64_t i = 0; i < inner; i++) y[i] = a[i] + bv;
                else              for (int64_t i = 0; i < inner; i++) y[i] = a[i] * bv;
            }
            if (A->relu) relu_row(y, inner);
            continue;
        }
        if (A->mode == 2 && ia_s == 1) { float *g = A->g + oa; for (int64_t i = 0; i < inner; i++) g[i] += dy[i]; continue; }
        if (A->mode == 3 && ib_s == 1) { float *g = A->g + ob; for (int64_t i = 0; i < inner; i++) g[i] += dy[i]; continue; }
        switch (A->mode) {
        case 0:
            for (int64_t i = 0; i < inner; i++) y[i] = a[i * ia_s] + b[i * ib_s];
            if (A->relu) relu_row(y, inner);
            break;
        case 1: for (int64_t i = 0; i < inner; i++) y[i] = a[i * ia_s] * b[i * ib_s]; break;
        case 2: { float *g = A->g + oa; for (int64_t i = 0; i < inner; i++) g[i * ia_s] += dy[i]; } break;
        case 3: { float *g = A->g + ob; for (int64_t i = 0; i < inner; i++) g[i * ib_s] += dy[i]; } break;
        case 4: { float *g = A->g + oa; for (int64_t i = 0; i < inner; i++) g[i * ia_s] += dy[i] * b[i * ib_s]; } break;
        case 5: { float *g = A->g + ob; for (int64_t i = 0; i < inner; i++) g[i * ib_s] += dy[i] * a[i * ia_s]; } break;
        default: bc_more(A->mode, inner, a, ia_s, b, ib_s, dy, y,
                         !A->g ? NULL : A->g + (A->mode == BM_DA_DIV || A->mode == BM_DA_POW ? oa : ob));
        }
    }
}

static void bc_run(ng_opctx *c, const bcast *p, bc_arg *a, int parallel)
{
    int64_t rows = 1;
    for (int k = 0; k < p->nd - 1; k++) rows *= p->d[k];
    int64_t total = rows * p->d[p->nd - 1];
    if (parallel && total >= PAR_MIN && rows > 1) ng_pool_for(c->pool, rows, bc_body, a);
    else bc_body(a, 0, rows, 0);
}

/* An operand can be reduced in parallel only if it is not broadcast (each row writes its own part). */
static int full(const int64_t *s, const bcast *p)
{
    for (int k = 0; k < p->nd; k++) if (s[k] == 0) return 0;
    return 1;
}

static ng_status binary_fwd(ng_opctx *c, const ng_tensor *const *in, ng_tensor *const *out, int mode)
{
    bcast p;
    bcast_plan(&in[0]->s, &in[1]->s, &out[0]->s, &p);
    bc_arg a = { &p, mode, in[0]->data, in[1]->data, NULL, out[0]->data, NULL, c->fuse_relu && mode == 0 };
    bc_run(c, &p, &a, 1);
    return NG_OK;
}

static ng_status binary_bwd(ng_opctx *c, const ng_tensor *const *in, const ng_tensor *const *dout,
                            ng_tensor *const *din, int mode_a, int mode_b)
{
    bcast p;
    bcast_plan(&in[0]->s, &in[1]->s, &dout[0]->s, &p);
    if (din[0]) {
        bc_arg a = { &p, mode_a, in[0]->data, in[1]->data, dout[0]->data, NULL, din[0]->data, 0 };
        bc_run(c, &p, &a, full(p.sa, &p));
    }
    if (din[1]) {
        bc_arg a = { &p, mode_b, in[0]->data, in[1]->data, dout[0]->data, NULL, din[1]->data, 0 };
        bc_run(c, &p, &a, full(p.sb, &p));
    }
    return NG_OK;
}

#define BINARY_OP(op, fmode, amode, bmode) \
    ng_status ng_##op##_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out) \
    { return bcast_shape(n, in[0], in[1], &out[0]); } \
    ng_status ng_##op##_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out) \
    { return binary_fwd(c, in, out, fmode); } \
    ng_status ng_##op##_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out, \
                            const ng_tensor *const *dout, ng_tensor *const *din) \
    { return binary_bwd(c, in, dout, din, amode, bmode); }

BINARY_OP(add, BM_ADD, BM_DA, BM_DB)
BINARY_OP(sub, BM_SUB, BM_DA, BM_DB_SUB)
BINARY_OP(mul, BM_MUL, BM_DA_MUL, BM_DB_MUL)
BINARY_OP(div, BM_DIV, BM_DA_DIV, BM_DB_DIV)
BINARY_OP(pow, BM_POW, BM_DA_POW, BM_DB_POW)
