/* test_gradcheck: finite-difference check of every operator's backward.
 *
 * Each case is a tiny graph (one op, sometimes two) built with the builder.
 * Loss L = sum(out * r) with fixed random r, so dL/dout = r. The analytic
 * gradients (ng_exec_backward) of every trainable parameter element and every
 * input element are compared with central differences in double
 * (eps = 1e-2 on float32); the max relative error
 *     |analytic - numeric| / max(|analytic|, |numeric|, 0.1)
 * is printed per case and must stay below 2e-2. Inputs of ops with kinks
 * (Relu, MaxPool, HardSigmoid, ...) are kept away from the kinks. Dropout is
 * checked separately with its mask (it is random per forward).
 *
 * ctest-engine-only: links nnguard_engine alone (core + engine), so the engine cannot grow a
 * dependency on src/formats/ or above without this test failing to link.
 */
#include "tutil.h"
#include "engine/graph.h"
#include "engine/ops.h"

#define EPS 1e-2
#define BOUND 2e-2

typedef struct pspec { ng_shape s; int trainable; float lo, hi; } pspec;

typedef struct gcase {
    const char *name;
    ng_op    op;
    ng_shape x;              /* input shape, batch included */
    int      np;
    pspec    p[4];           /* parameter inputs (after x) */
    int      x_twice;        /* op(x, x) */
    int      pre_relu;       /* x -> Relu -> op (checks accumulation through a chain) */
    int      training;
    float    xlo, xhi;
    float    kinks[2]; int nkinks; /* input values to keep away from */
    int      distinct;       /* inputs all distinct (spaced) for MaxPool */
    void   (*attrs)(ng_attrs *a);
} gcase;

static void a_conv_basic(ng_attrs *a) { a->pad[0] = a->pad[1] = a->pad[2] = a->pad[3] = 1; }
static void a_conv_gsd(ng_attrs *a)
{
    a->group = 2; a->stride[0] = 2; a->stride[1] = 1; a->dilation[0] = a->dilation[1] = 2;
    a->pad[0] = 1; a->pad[1] = 2; a->pad[2] = 2; a->pad[3] = 1;
}
static void a_conv_dw(ng_attrs *a) { a->group = 3; a->pad[0] = a->pad[1] = a->pad[2] = a->pad[3] = 1; a->stride[0] = a->stride[1] = 2; }
static void a_conv_1x1(ng_attrs *a) { a->stride[0] = a->stride[1] = 2; }
static void a_gemm(ng_attrs *a) { a->trans_b = 1; a->alpha = 0.7f; a->beta = 1.3f; }
static void a_gemm_nt(ng_attrs *a) { a->alpha = 1.0f; a->beta = 1.0f; }
static void a_pool2(ng_attrs *a) { a->kernel[0] = a->kernel[1] = 2; a->stride[0] = a->stride[1] = 2; }
static void a_pool3(ng_attrs *a)
{
    a->kernel[0] = a->kernel[1] = 3; a->stride[0] = a->stride[1] = 2;
    a->pad[0] = a->pad[1] = a->pad[2] = a->pad[3] = 1;
}
static void a_pool3_incl(ng_attrs *a) { a_pool3(a); a->count_include_pad = 1; }
static void a_leaky(ng_attrs *a) { a->alpha = 0.1f; }
static void a_hsig(ng_attrs *a) { a->alpha = 0.2f; a->beta = 0.5f; }
static void a_bn(ng_attrs *a) { a->epsilon = 1e-3f; a->momentum = 0.9f; }
static void a_axis2(ng_attrs *a) { a->axis = 2; }
static void a_axism1(ng_attrs *a) { a->axis = -1; }
static void a_reshape(ng_attrs *a) { a->shape_n = 3; a->shape[0] = 0; a->shape[1] = -1; a->shape[2] = 2; }
static void a_clip(ng_attrs *a) { a->lo = -0.5f; a->hi = 0.5f; }
static void a_gelu_tanh(ng_attrs *a) { a->gelu_tanh = 1; }
static void a_perm(ng_attrs *a) { a->n_axes = 4; a->axes[0] = 0; a->axes[1] = 2; a->axes[2] = 3; a->axes[3] = 1; }
static void a_slice(ng_attrs *a)
{
    a->n_axes = 2;
    a->axes[0] = -1; a->starts[0] = -1; a->ends[0] = INT64_MIN; a->steps[0] = -2;   /* reversed, every other */
    a->axes[1] = 1; a->starts[1] = 1; a->ends[1] = 100; a->steps[1] = 1;            /* end clamped */
}
static void a_pad(ng_attrs *a)
{
    a->n_axes = 3;   /* [N, C, W]: C padded 1 before, 2 after; W cropped 1 at the start, padded 1 at the end */
    a->pads[0] = 0; a->pads[1] = 1; a->pads[2] = -1; a->pads[3] = 0; a->pads[4] = 2; a->pads[5] = 1; a->value = 0.5f;
}
static void a_gather(ng_attrs *a) { a->axis = 1; a->n_idx = 3; a->idx[0] = 2; a->idx[1] = -3; a->idx[2] = 2; }
static void a_gather1(ng_attrs *a) { a->axis = -1; a->n_idx = 1; a->idx_scalar = 1; a->idx[0] = -1; }
static void a_squeeze(ng_attrs *a) { a->n_axes = 1; a->axes[0] = 2; }
static void a_unsqueeze(ng_attrs *a) { a->n_axes = 2; a->axes[0] = 0; a->axes[1] = -1; }
static void a_rmean(ng_attrs *a) { a->n_axes = 2; a->axes[0] = 1; a->axes[1] = -1; a->keepdims = 0; }
static void a_rmean_all(ng_attrs *a) { a->n_axes = 0; a->keepdims = 1; }
static void a_ln(ng_attrs *a) { a->axis = -2; a->epsilon = 1e-5f; }
static void a_softmax2d(ng_attrs *a) { a->axis = 1; a->softmax_2d = 1; }

#define SH(...) { (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), { __VA_ARGS__ } }
#define P(t, ...) { SH(__VA_ARGS__), t, -1.0f, 1.0f }

static const gcase cases[] = {
    { "Conv 3x3 pad 1 + bias", NG_OP_CONV, SH(2, 2, 5, 5), 2, { P(1, 3, 2, 3, 3), P(1, 3) }, 0, 0, 0, -1, 1, {0}, 0, 0, a_conv_basic },
    /* training forward and dX both Winograd (C * M >= 1024, 72 tiles); W fixed: its gradient is GEMM's */
    { "Conv 3x3 pad 1 C16 M64 training (Winograd)", NG_OP_CONV, SH(1, 16, 15, 17), 1, { P(0, 64, 16, 3, 3) }, 0, 0, 1, -1, 1, {0}, 0, 0, a_conv_basic },
    { "Conv group 2 stride 2x1 dil 2 pad", NG_OP_CONV, SH(2, 4, 7, 6), 2, { P(1, 4, 2, 2, 3), P(1, 4) }, 0, 0, 0, -1, 1, {0}, 0, 0, a_conv_gsd },
    { "Conv depthwise stride 2 no bias", NG_OP_CONV, SH(2, 3, 6, 6), 1, { P(1, 3, 1, 3, 3) }, 0, 0, 0, -1, 1, {0}, 0, 0, a_conv_dw },
    { "Conv 1x1 stride 2", NG_OP_CONV, SH(1, 3, 5, 5), 2, { P(1, 4, 3, 1, 1), P(1, 4) }, 0, 0, 0, -1, 1, {0}, 0, 0, a_conv_1x1 },
    { "Gemm trans_b alpha beta + bias", NG_OP_GEMM, SH(3, 4), 2, { P(1, 5, 4), P(1, 5) }, 0, 0, 0, -1, 1, {0}, 0, 0, a_gemm },
    { "Gemm no trans, bias [1,N]", NG_OP_GEMM, SH(3, 4), 2, { P(1, 4, 5), P(1, 1, 5) }, 0, 0, 0, -1, 1, {0}, 0, 0, a_gemm_nt },
    { "MatMul 3-D x 2-D", NG_OP_MATMUL, SH(2, 3, 4), 1, { P(1, 4, 5) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "MatMul 2-D x 2-D", NG_OP_MATMUL, SH(3, 4), 1, { P(1, 4, 2) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "MaxPool 2x2 stride 2", NG_OP_MAXPOOL, SH(2, 2, 4, 6), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 1, a_pool2 },
    { "MaxPool 3x3 stride 2 pad 1", NG_OP_MAXPOOL, SH(1, 2, 5, 5), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 1, a_pool3 },
    { "AveragePool 3x3 s2 pad 1 excl", NG_OP_AVGPOOL, SH(2, 2, 5, 5), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_pool3 },
    { "AveragePool 3x3 s2 pad 1 incl", NG_OP_AVGPOOL, SH(2, 2, 5, 5), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_pool3_incl },
    { "GlobalAveragePool", NG_OP_GLOBALAVGPOOL, SH(2, 3, 3, 4), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "BatchNorm training", NG_OP_BATCHNORM, SH(4, 3, 2, 3), 4, { { SH(3), 1, 0.5f, 1.5f }, P(1, 3), P(0, 3), { SH(3), 0, 0.5f, 1.5f } },
      0, 0, 1, -2, 2, {0}, 0, 0, a_bn },
    { "BatchNorm inference", NG_OP_BATCHNORM, SH(2, 3, 2, 2), 4, { { SH(3), 1, 0.5f, 1.5f }, P(1, 3), P(0, 3), { SH(3), 0, 0.5f, 1.5f } },
      0, 0, 0, -2, 2, {0}, 0, 0, a_bn },
    { "Add same shape (x + x)", NG_OP_ADD, SH(2, 3, 2, 2), 0, {{{0}, 0, 0, 0}}, 1, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Add NCHW + [C,1,1]", NG_OP_ADD, SH(2, 3, 2, 4), 1, { P(1, 3, 1, 1) }, 0, 1, 0, -1, 1, {0}, 1, 0, NULL },
    { "Add NCHW + [W]", NG_OP_ADD, SH(2, 3, 2, 4), 1, { P(1, 4) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Add NCHW + [1,C,1,W]", NG_OP_ADD, SH(2, 3, 2, 4), 1, { P(1, 1, 3, 1, 4) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Mul NCHW * [C,1,1]", NG_OP_MUL, SH(2, 3, 2, 4), 1, { P(1, 3, 1, 1) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Mul same shape (x * x)", NG_OP_MUL, SH(2, 5), 0, {{{0}, 0, 0, 0}}, 1, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Mul [2,1] * [1,3]", NG_OP_MUL, SH(2, 1), 1, { P(1, 1, 3) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Relu", NG_OP_RELU, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 1, 0, NULL },
    { "LeakyRelu 0.1", NG_OP_LEAKYRELU, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 1, 0, a_leaky },
    { "Sigmoid", NG_OP_SIGMOID, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -3, 3, {0}, 0, 0, NULL },
    { "Tanh", NG_OP_TANH, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -2, 2, {0}, 0, 0, NULL },
    { "HardSigmoid 0.2 0.5", NG_OP_HARDSIGMOID, SH(4, 8), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -4, 4, {-2.5f, 2.5f}, 2, 0, a_hsig },
    { "HardSwish", NG_OP_HARDSWISH, SH(4, 8), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -5, 5, {-3.0f, 3.0f}, 2, 0, NULL },
    { "Identity", NG_OP_IDENTITY, SH(2, 3), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Dropout (inference)", NG_OP_DROPOUT, SH(2, 3), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Flatten axis 2", NG_OP_FLATTEN, SH(2, 3, 2, 2), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_axis2 },
    { "Reshape [0,-1,2]", NG_OP_RESHAPE, SH(2, 3, 4), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_reshape },
    { "Softmax axis 1", NG_OP_SOFTMAX, SH(2, 4, 3), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -2, 2, {0}, 0, 0, NULL },
    { "Softmax axis -1", NG_OP_SOFTMAX, SH(3, 5), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -2, 2, {0}, 0, 0, a_axism1 },
    { "Concat axis 2 (h, h), h = Relu(x)", NG_OP_CONCAT, SH(2, 2, 3), 0, {{{0}, 0, 0, 0}}, 0, 1, 0, -1, 1, {0}, 1, 0, a_axis2 },
    { "Concat axis 1 (x, x, x)", NG_OP_CONCAT, SH(2, 2, 3), 0, {{{0}, 0, 0, 0}}, 1, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "MatMul batched, broadcast [2,1,3,4]x[3,4,5]", NG_OP_MATMUL, SH(2, 1, 3, 4), 1, { P(1, 3, 4, 5) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "MatMul 3-D x 1-D", NG_OP_MATMUL, SH(2, 3, 4), 1, { P(1, 4) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "MatMul x x (batched, same operand)", NG_OP_MATMUL, SH(2, 3, 3), 0, {{{0}, 0, 0, 0}}, 1, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Sub NCHW - [C,1,1]", NG_OP_SUB, SH(2, 3, 2, 4), 1, { P(1, 3, 1, 1) }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Div NCHW / [W]", NG_OP_DIV, SH(2, 3, 2, 4), 1, { { SH(4), 1, 0.5f, 1.5f } }, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Pow x ^ [C,1]", NG_OP_POW, SH(2, 3, 4), 1, { { SH(3, 1), 1, 0.5f, 2.5f } }, 0, 0, 0, 0.5f, 1.5f, {0}, 0, 0, NULL },
    { "Sqrt", NG_OP_SQRT, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, 0.3f, 2, {0}, 0, 0, NULL },
    { "Erf", NG_OP_ERF, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -2, 2, {0}, 0, 0, NULL },
    { "Gelu", NG_OP_GELU, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -3, 3, {0}, 0, 0, NULL },
    { "Gelu tanh", NG_OP_GELU, SH(3, 7), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -3, 3, {0}, 0, 0, a_gelu_tanh },
    { "Clip [-0.5, 0.5]", NG_OP_CLIP, SH(4, 8), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {-0.5f, 0.5f}, 2, 0, a_clip },
    { "Transpose 0,2,3,1", NG_OP_TRANSPOSE, SH(2, 3, 2, 4), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_perm },
    { "Transpose (reverse)", NG_OP_TRANSPOSE, SH(2, 3, 4), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, NULL },
    { "Slice step -2, clamped end", NG_OP_SLICE, SH(2, 4, 5), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_slice },
    { "Pad value 0.5, negative pad", NG_OP_PAD, SH(2, 3, 4), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_pad },
    { "Gather axis 1 [2,-3,2]", NG_OP_GATHER, SH(2, 4, 3), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_gather },
    { "Gather scalar -1 on last axis", NG_OP_GATHER, SH(2, 4, 3), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_gather1 },
    { "Squeeze axis 2", NG_OP_SQUEEZE, SH(2, 3, 1, 2), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_squeeze },
    { "Unsqueeze 0, -1", NG_OP_UNSQUEEZE, SH(2, 3), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_unsqueeze },
    { "ReduceMean axes 1,-1", NG_OP_REDUCEMEAN, SH(2, 3, 2, 4), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_rmean },
    { "ReduceMean all, keepdims", NG_OP_REDUCEMEAN, SH(2, 3, 2), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -1, 1, {0}, 0, 0, a_rmean_all },
    { "LayerNormalization axis -2", NG_OP_LAYERNORM, SH(3, 2, 4), 2, { P(1, 2, 4), P(1, 2, 4) }, 0, 0, 0, -2, 2, {0}, 0, 0, a_ln },
    { "LayerNormalization no bias", NG_OP_LAYERNORM, SH(3, 5), 1, { { SH(5), 1, 0.5f, 1.5f } }, 0, 0, 0, -2, 2, {0}, 0, 0, NULL },
    { "Softmax opset < 13 (2-D at axis 1)", NG_OP_SOFTMAX, SH(2, 3, 4), 0, {{{0}, 0, 0, 0}}, 0, 0, 0, -2, 2, {0}, 0, 0, a_softmax2d },
};

static int covered[NG_OP_COUNT];

static float rnd(ng_rng *r, float lo, float hi) { return lo + (hi - lo) * ng_rng_uniform(r); }

static int near_kink(const gcase *c, float v)
{
    for (int k = 0; k < c->nkinks; k++) if (fabsf(v - c->kinks[k]) < 0.05f) return 1;
    return 0;
}

static ng_model *build(const gcase *c, ng_rng *r)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = c->x;
    xs.d[0] = -1;
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    m->input = x;
    int ins[8], n_in = 0;
    if (c->pre_relu) {
        int h = ng_model_add_value(m, "h", NG_V_ACT, NULL);
        ng_model_add_node(m, NG_OP_RELU, "pre", &x, 1, &h, 1, NULL);
        x = h;
    }
    ins[n_in++] = x;
    if (c->x_twice) ins[n_in++] = x;
    for (int i = 0; i < c->np; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "p%d", i);
        int v = ng_model_add_param(m, nm, &c->p[i].s, NULL, c->p[i].trainable);
        float *p = m->params + m->vals[v].off;
        for (int64_t k = 0; k < ng_shape_numel(&c->p[i].s); k++) p[k] = rnd(r, c->p[i].lo, c->p[i].hi);
        ins[n_in++] = v;
    }
    if (c->op == NG_OP_CONCAT) ins[n_in++] = x;
    ng_attrs a;
    ng_attrs_default(&a);
    if (c->attrs) c->attrs(&a);
    int y = ng_model_add_value(m, "y", NG_V_ACT, NULL);
    ng_model_add_node(m, c->op, c->name, ins, n_in, &y, 1, &a);
    m->output = y;
    return m;
}

static double loss(ng_exec *e, const float *x, int64_t n, const float *r, ng_status *st)
{
    const float *y;
    ng_shape ys;
    *st = ng_exec_forward(e, x, n, &y, &ys);
    if (*st != NG_OK) return 0;
    double l = 0;
    for (int64_t i = 0; i < ng_shape_numel(&ys); i++) l += (double)y[i] * r[i];
    return l;
}

static double rel_err(double a, double n)
{
    double d = fmax(fmax(fabs(a), fabs(n)), 0.1);
    return fabs(a - n) / d;
}

static void run_case(const gcase *c, ng_rng *r)
{
    ng_model *m = build(c, r);
    ng_status st = ng_model_finalize(m);
    CHECKF(st == NG_OK, "%s: finalize: %s", c->name, ng_last_error());
    if (st != NG_OK) { ng_model_free(m); return; }
    covered[c->op] = 1;
    int64_t nx = ng_shape_numel(&c->x);
    float *x = malloc((size_t)nx * sizeof *x);
    uint32_t *perm = malloc((size_t)nx * sizeof *perm);
    for (int64_t i = 0; i < nx; i++) perm[i] = (uint32_t)i;
    ng_rng_shuffle_u32(r, perm, (size_t)nx);
    for (int64_t i = 0; i < nx; i++) {
        if (c->distinct) { x[i] = (float)perm[i] * 0.07f - 1.0f; continue; }   /* spaced, shuffled */
        do x[i] = rnd(r, c->xlo, c->xhi); while (near_kink(c, x[i]) || (c->nkinks == 0 && c->xlo < 0 && fabsf(x[i]) < 0.05f));
    }
    free(perm);
    ng_exec_options o = ng_exec_options_default();
    o.threads = 1;
    o.training = c->training;
    ng_exec *e;
    CHECK_OK(ng_exec_new(m, &o, &e));
    const float *y;
    ng_shape ys;
    CHECK_OK(ng_exec_forward(e, x, c->x.d[0], &y, &ys));
    int64_t ny = ng_shape_numel(&ys);
    float *rw = malloc((size_t)ny * sizeof *rw);
    for (int64_t i = 0; i < ny; i++) rw[i] = rnd(r, -1, 1);
    size_t np = ng_model_nparams(m);
    float *gp = malloc((np ? np : 1) * sizeof *gp), *gx = malloc((size_t)nx * sizeof *gx);
    for (size_t i = 0; i < np; i++) gp[i] = 123.0f;   /* must be overwritten */
    CHECK_OK(ng_exec_backward(e, rw, np ? gp : NULL, gx));
    double worst = 0;
    int nchecked = 0;
    for (int64_t i = 0; i < nx; i++) {
        float keep = x[i];
        x[i] = (float)(keep + EPS); double lp = loss(e, x, c->x.d[0], rw, &st);
        x[i] = (float)(keep - EPS); double lm = loss(e, x, c->x.d[0], rw, &st);
        x[i] = keep;
        double err = rel_err(gx[i], (lp - lm) / (2 * EPS));
        if (err > worst) worst = err;
        nchecked++;
    }
    float *pa = ng_model_params(m);
    for (size_t t = 0; t < ng_model_ntensors(m); t++) {
        ng_param pt;
        ng_model_tensor(m, t, &pt);
        size_t off = ng_model_tensor_offset(m, t), cnt = pt.nbytes / 4;
        if (!ng_model_tensor_trainable(m, t)) {
            int zero = 1;
            for (size_t k = 0; k < cnt; k++) zero &= gp[off + k] == 0.0f;
            CHECKF(zero, "%s: gradient of non-trainable %s is not zero", c->name, pt.name);
            continue;
        }
        for (size_t k = off; k < off + cnt; k++) {
            float keep = pa[k];
            pa[k] = (float)(keep + EPS); double lp = loss(e, x, c->x.d[0], rw, &st);
            pa[k] = (float)(keep - EPS); double lm = loss(e, x, c->x.d[0], rw, &st);
            pa[k] = keep;
            double err = rel_err(gp[k], (lp - lm) / (2 * EPS));
            if (err > worst) worst = err;
            nchecked++;
        }
    }
    printf("%-36s %4d grads  max rel err %.2e\n", c->name, nchecked, worst);
    CHECKF(worst < BOUND, "%s: max relative error %.3g above %.3g", c->name, worst, BOUND);
    ng_exec_free(e);
    ng_model_free(m);
    free(x); free(rw); free(gp); free(gx);
}

/* Dropout in training: y = x * mask, mask in {0, 1/(1-p)}, about p dropped; backward = dout * mask. */
static void check_dropout(ng_rng *r)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = SH(-1, 1000);
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs), y = ng_model_add_value(m, "y", NG_V_ACT, NULL);
    ng_attrs a;
    ng_attrs_default(&a);
    a.ratio = 0.3f;
    ng_model_add_node(m, NG_OP_DROPOUT, "drop", &x, 1, &y, 1, &a);
    CHECK_OK(ng_model_finalize(m));
    ng_exec_options o = ng_exec_options_default();
    o.training = 1; o.seed = 5; o.threads = 1;
    ng_exec *e;
    CHECK_OK(ng_exec_new(m, &o, &e));
    float xv[2000], dy[2000], dx[2000];
    for (int i = 0; i < 2000; i++) { xv[i] = rnd(r, 0.5f, 1.5f); dy[i] = rnd(r, -1, 1); }
    const float *out;
    ng_shape os;
    CHECK_OK(ng_exec_forward(e, xv, 2, &out, &os));
    CHECK_OK(ng_exec_backward(e, dy, NULL, dx));
    int dropped = 0, bad = 0;
    float keep = 1.0f / 0.7f;
    for (int i = 0; i < 2000; i++) {
        if (out[i] == 0.0f) { dropped++; bad += dx[i] != 0.0f; }
        else { bad += fabsf(out[i] - xv[i] * keep) > 1e-5f; bad += fabsf(dx[i] - dy[i] * keep) > 1e-5f; }
    }
    printf("Dropout training: %d of 2000 dropped (ratio 0.3), %d mismatches\n", dropped, bad);
    CHECK(bad == 0);
    CHECK(dropped > 520 && dropped < 680);
    /* inference: identity */
    ng_exec_set_training(e, 0);
    CHECK_OK(ng_exec_forward(e, xv, 2, &out, &os));
    CHECK(memcmp(out, xv, sizeof xv) == 0);
    CHECK_OK(ng_exec_backward(e, dy, NULL, dx));
    CHECK(memcmp(dx, dy, sizeof dy) == 0);
    ng_exec_free(e);
    ng_model_free(m);
}

int main(void)
{
    CHECK_OK(ng_init());
    setenv("NG_WINOGRAD_TRAIN", "1", 1);   /* the training Winograd case (opt-in in the exec) */
    ng_rng r;
    ng_rng_seed(&r, 2024);
    for (size_t i = 0; i < NG_ARRAY_LEN(cases); i++) run_case(&cases[i], &r);
    check_dropout(&r);
    covered[NG_OP_DROPOUT] = 1;
    for (int op = 0; op < NG_OP_COUNT; op++)   /* LSTM and GRU are inference-only (no backward) */
        CHECKF(covered[op] || !ng_ops[op].backward, "operator %s has no gradient check", ng_ops[op].name);
    return tu_done();
}
