/* tests/graph_build.h - building small graphs node by node for the engine tests (test_fusion,
 * test_memplan): uniform random parameters, a one-output node, a Conv with its weight and bias
 * (depthwise when dwise: group = cin = cout; pads k/2), and the residual block both test.
 * Include after tutil.h and engine/graph.h. */
#ifndef NG_TESTS_GRAPH_BUILD_H
#define NG_TESTS_GRAPH_BUILD_H

/* p[0..n) uniform in [-s, s). */
static inline void gb_fill(ng_rng *r, float *p, int64_t n, float s)
{
    for (int64_t i = 0; i < n; i++) p[i] = s * (2.0f * ng_rng_uniform(r) - 1.0f);
}

/* A node of op on ins[0..n_in) with one new activation named name; returns its value. */
static inline int gb_node(ng_model *m, ng_op op, const char *name, const int *ins, int n_in)
{
    int y = ng_model_add_value(m, name, NG_V_ACT, NULL);
    ng_model_add_node(m, op, name, ins, n_in, &y, 1, NULL);
    return y;
}

/* Conv k x k (stride, pads k/2) of x with parameters "<name>.w" (uniform 0.4) and "<name>.b" (0.3). */
static inline int gb_conv(ng_model *m, const char *name, int x, int cin, int cout, int k, int stride, int dwise,
                          ng_rng *r)
{
    ng_shape ws = {4, {cout, dwise ? 1 : cin, k, k}}, bs = {1, {cout}};
    char nm[64];
    snprintf(nm, sizeof nm, "%s.w", name);
    int w = ng_model_add_param(m, nm, &ws, NULL, 1);
    gb_fill(r, m->params + m->vals[w].off, ng_shape_numel(&ws), 0.4f);
    snprintf(nm, sizeof nm, "%s.b", name);
    int b = ng_model_add_param(m, nm, &bs, NULL, 1);
    gb_fill(r, m->params + m->vals[b].off, cout, 0.3f);
    ng_attrs a;
    ng_attrs_default(&a);
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.group = dwise ? cin : 1;
    for (int i = 0; i < 4; i++) a.pad[i] = k / 2;
    int ins[3] = {x, w, b}, y = ng_model_add_value(m, name, NG_V_ACT, NULL);
    ng_model_add_node(m, NG_OP_CONV, name, ins, 3, &y, 1, &a);
    return y;
}

/* A model whose input *x is [N, c, h, w] (N free). */
static inline ng_model *gb_model(int c, int h, int w, int *x)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = {4, {-1, c, h, w}};
    *x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    m->input = *x;
    return m;
}

/* The residual block x [N, c, h, w] -> depthwise Conv3x3 -> Relu r1 -> Conv3x3 -> Add(., r1) -> Relu
 * -> Conv1x1 stride 2 -> y [N, m, ...]: r1 feeds two nodes, conv1 and add feed their Relu alone. */
static inline ng_model *gb_residual(ng_rng *r, int c, int h, int w, int m_out)
{
    int x;
    ng_model *m = gb_model(c, h, w, &x);
    int c1 = gb_conv(m, "conv1", x, c, c, 3, 1, 1, r);
    int r1 = gb_node(m, NG_OP_RELU, "relu1", &c1, 1);
    int c2 = gb_conv(m, "conv2", r1, c, c, 3, 1, 0, r);
    int add_in[2] = {c2, r1};
    int s = gb_node(m, NG_OP_ADD, "add", add_in, 2);
    int r2 = gb_node(m, NG_OP_RELU, "relu2", &s, 1);
    m->output = gb_conv(m, "conv3", r2, c, m_out, 1, 2, 0, r);
    return m;
}

#endif
