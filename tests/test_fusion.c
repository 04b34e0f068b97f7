/* test_fusion: the exec's inference fusions (Conv -> Relu, Add -> Relu) and Conv's several-images-
 * per-GEMM path give the same numbers as running every node on its own.
 *
 * Graph (a residual block): x -> depthwise Conv3x3(+bias) -> Relu -> Conv3x3(+bias) -> Add(., relu1) -> Relu
 * -> Conv1x1 stride 2 -> y. Conv1 and Add feed their Relu alone (fused in inference); relu1 feeds two
 * nodes, so its alias must be what both read. Checked at batch 1 (one GEMM per image, the
 * single-item path) and batch 7 (6x6 outputs: several images per GEMM):
 *   - inference with fusion against inference with NG_NO_FUSION set: bit-identical outputs, and
 *     bit-identical input gradients (ng_exec_backward in inference mode, as the attacks run it);
 *   - inference against training mode (no BatchNorm or Dropout here, so the same function; training
 *     fuses the Relus too): bit-identical;
 *   - against a naive double-precision reference of the whole block: relative error below 1e-5.
 *
 * Second graph (LeNet's pattern): x -> Conv3x3 pad 1 -> Relu -> MaxPool 2x2 -> Conv3x3 pad 1 -> MaxPool 2x2 -> y.
 * In inference both MaxPools are folded into the Conv before them (the direct kernel writes the
 * pooled output; ng_exec_folded_pools says so), with and without a Relu between. Checked: outputs
 * bit-identical to NG_NO_FUSION and to training mode; input gradients bit-identical too (backward
 * after a folded forward runs the forward again unfolded); the next forward on that exec folds
 * nothing (an exec used for gradients keeps its activations) and still gives the same output.
 *
 * Third graph (MobileNetV2's pattern, ReLU6 = Clip): x -> Conv3x3 stride 2 -> Clip -> depthwise Conv3x3 -> Clip
 * -> Conv1x1 -> Clip -> y, bounds [-0.25, 0.5] so both bounds and the inside are hit. In inference each
 * Clip is folded into its Conv (im2col + GEMM, the depthwise kernel, the direct kernel); at batch 1 the
 * GEMMs run split inside the image. Checked against NG_NO_FUSION and training mode: outputs bit-identical,
 * input gradients bit-identical (a backward after a folded Clip reruns the forward unfolded: the Clip's
 * input is needed to tell x == hi from x > hi), and against a double reference within 1e-5.
 * Fourth graph (training): Conv -> BatchNormalization -> Relu -> Conv -> Add -> Relu, the training
 * fusions (BatchNormalization's forward and backward with its Relu, Add's forward) against
 * NG_TRAIN_FUSION=0: outputs, gradients and running statistics bit-identical (test_train_bn).
 * Fifth graph (test_residuals): MobileNetV2's inverted residual blocks, the Add folded into the projection.
 * Sixth graph (test_resnet_adds): ResNet's Conv -> Add -> Relu, the Add and its Relu folded into the
 * Conv on the grid, Winograd and the pointwise kernel (also after a downsample's column matrix).
 * Seventh graph (test_stem_pool): ResNet's stem, Conv 7x7 stride 2 [-> Relu] -> MaxPool 3x3 stride 2
 * pads 1, the pool folded into the Conv's blocks of rows (conv_pool.c).
 * ctest-engine-only: links nnguard_engine alone. */
#include "tutil.h"
#include "engine/graph.h"
#include "graph_build.h"

enum { C = 4, H = 6, W = 6, M = 5 };


/* Naive double reference of one conv (pad k/2; dwise: depthwise) on one image. */
static void ref_conv(const double *x, int cin, int h, int w, const float *wt, const float *b, int cout,
                     int k, int stride, int dwise, double *y, int oh, int ow)
{
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double s = b[o];
                for (int c = dwise ? o : 0; c < (dwise ? o + 1 : cin); c++)
                    for (int u = 0; u < k; u++)
                        for (int v = 0; v < k; v++) {
                            int hi = i * stride - k / 2 + u, wj = j * stride - k / 2 + v;
                            if (hi < 0 || hi >= h || wj < 0 || wj >= w) continue;
                            int wc = dwise ? 0 : c;
                            s += (double)wt[((o * (dwise ? 1 : cin) + wc) * k + u) * k + v] * x[(c * h + hi) * w + wj];
                        }
                y[(o * oh + i) * ow + j] = s;
            }
}

static const float *param(const ng_model *m, const char *name)
{
    return m->params + m->vals[ng_model_find_value(m, name)].off;
}

static double ref_error(const ng_model *m, const float *x, const float *y, int n)
{
    double worst = 0, a[C * H * W], b1[C * H * W], b2[C * H * W], out[M * 3 * 3];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < C * H * W; k++) a[k] = x[i * C * H * W + k];
        ref_conv(a, C, H, W, param(m, "conv1.w"), param(m, "conv1.b"), C, 3, 1, 1, b1, H, W);
        for (int k = 0; k < C * H * W; k++) b1[k] = b1[k] > 0 ? b1[k] : 0;
        ref_conv(b1, C, H, W, param(m, "conv2.w"), param(m, "conv2.b"), C, 3, 1, 0, b2, H, W);
        for (int k = 0; k < C * H * W; k++) { double v = b2[k] + b1[k]; b2[k] = v > 0 ? v : 0; }
        ref_conv(b2, C, H, W, param(m, "conv3.w"), param(m, "conv3.b"), M, 1, 2, 0, out, 3, 3);
        for (int k = 0; k < M * 9; k++) {
            double e = fabs(out[k] - y[i * M * 9 + k]) / (fabs(out[k]) > 1 ? fabs(out[k]) : 1);
            if (e > worst) worst = e;
        }
    }
    return worst;
}

/* A 2-thread exec, with fusion on or off (NG_NO_FUSION is read when the exec is made); NULL on failure. */
static ng_exec *new_exec(ng_model *m, int training, int fusion)
{
    if (fusion) unsetenv("NG_NO_FUSION"); else setenv("NG_NO_FUSION", "1", 1);
    ng_exec_options o = ng_exec_options_default();
    o.threads = 2;
    o.training = training;
    ng_exec *e = NULL;
    CHECK_OK(ng_exec_new(m, &o, &e));
    unsetenv("NG_NO_FUSION");
    return e;
}

/* Output and input gradient (dL/dy = 1) of one exec. */
static void run(ng_model *m, int training, int fusion, const float *x, int n, float *y, float *gx)
{
    ng_exec *e = new_exec(m, training, fusion);
    if (!e) return;
    const float *out;
    ng_shape os;
    CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
    int64_t ny = ng_shape_numel(&os);
    memcpy(y, out, (size_t)ny * sizeof(float));
    float *dy = malloc((size_t)ny * sizeof(float));
    for (int64_t i = 0; i < ny; i++) dy[i] = 1.0f;
    memset(gx, 0, (size_t)n * C * H * W * sizeof(float));
    CHECK_OK(ng_exec_backward(e, dy, NULL, gx));
    free(dy);
    ng_exec_free(e);
}

/* Forward x (n images) on e, its output (ny floats, checked) into y and what it folded into *adds and
 * *pools (either may be NULL); then the input gradient for dL/dy = 1 + 0.001 (i mod 7) into gx (the
 * backward reruns the forward unfolded). Frees e. */
static void fwd_bwd(ng_exec *e, const float *x, int n, int64_t ny, float *y, float *gx, int *adds, int *pools)
{
    const float *out;
    ng_shape os;
    CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
    CHECK(ng_shape_numel(&os) == ny);
    memcpy(y, out, (size_t)ny * sizeof(float));
    if (adds) *adds = ng_exec_folded_adds(e);
    if (pools) *pools = ng_exec_folded_pools(e);
    float *dy = malloc((size_t)ny * sizeof(float));
    for (int64_t i = 0; i < ny; i++) dy[i] = 1.0f + 0.001f * (float)(i % 7);
    CHECK_OK(ng_exec_backward(e, dy, NULL, gx));
    free(dy);
    ng_exec_free(e);
}

/* The second graph: 3 x 10 x 12 -> conv C1 (pad 1) -> relu -> pool -> C1 x 5 x 6 -> conv C2 (pad 1) -> pool
 * -> C2 x 2 x 3 (C1, C2 = 5, 6: the grid tiles, whose pools take 16 column pairs at once and then
 * one by one; 16, 32 on AVX-512: the 16-channel tiles). */
enum { PC = 3, PH = 10, PW = 12, PYMAX = 32 * 2 * 3 };
static int C1 = 5, C2 = 6, PY = 6 * 2 * 3;

static ng_model *build_pools(ng_rng *r)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = {4, {-1, PC, PH, PW}};
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    m->input = x;
    ng_attrs pa;
    ng_attrs_default(&pa);
    pa.kernel[0] = pa.kernel[1] = 2;
    pa.stride[0] = pa.stride[1] = 2;
    int c1 = gb_conv(m, "pconv1", x, PC, C1, 3, 1, 0, r);
    int r1 = gb_node(m, NG_OP_RELU, "prelu1", &c1, 1);
    int p1 = ng_model_add_value(m, "pool1", NG_V_ACT, NULL);
    ng_model_add_node(m, NG_OP_MAXPOOL, "pool1", &r1, 1, &p1, 1, &pa);
    int c2 = gb_conv(m, "pconv2", p1, C1, C2, 3, 1, 0, r);
    int p2 = ng_model_add_value(m, "pool2", NG_V_ACT, NULL);
    ng_model_add_node(m, NG_OP_MAXPOOL, "pool2", &c2, 1, &p2, 1, &pa);
    m->output = p2;
    return m;
}

/* Output, input gradient (dL/dy = 1) and the folded MaxPools of the first forward; then a second
 * forward on the same exec must fold none and give the same output. */
static int run_pools(ng_model *m, int training, int fusion, const float *x, int n, float *y, float *gx)
{
    ng_exec *e = new_exec(m, training, fusion);
    if (!e) return -1;
    const float *out;
    ng_shape os;
    CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
    CHECK(ng_shape_numel(&os) == (int64_t)n * PY);
    memcpy(y, out, (size_t)n * PY * sizeof(float));
    const int folded = ng_exec_folded_pools(e);
    float dy[7 * PYMAX];
    for (int i = 0; i < n * PY; i++) dy[i] = 1.0f;
    memset(gx, 0, (size_t)n * PC * PH * PW * sizeof(float));
    CHECK_OK(ng_exec_backward(e, dy, NULL, gx));
    CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
    CHECKF(ng_exec_folded_pools(e) == 0, "a forward after backward folded %d MaxPools", ng_exec_folded_pools(e));
    CHECKF(!memcmp(y, out, (size_t)n * PY * sizeof(float)), "the second forward's output differs");
    ng_exec_free(e);
    return folded;
}

static void test_pools(ng_rng *r)
{
    ng_model *m = build_pools(r);
    CHECK_OK(ng_model_finalize(m));
    const int n = 7, nx = n * PC * PH * PW;
    float *x = malloc((size_t)nx * sizeof(float)), y[3][7 * PYMAX], *g[3];
    gb_fill(r, x, nx, 1.0f);
    for (int k = 0; k < 3; k++) g[k] = calloc((size_t)nx, sizeof(float));
    int f0 = run_pools(m, 0, 1, x, n, y[0], g[0]);
    int f1 = run_pools(m, 0, 0, x, n, y[1], g[1]);
    int f2 = run_pools(m, 1, 1, x, n, y[2], g[2]);
    printf("pools (conv %d -> %d channels): folded %d (fusion), %d (NG_NO_FUSION), %d (training)\n", C1, C2, f0, f1,
           f2);
    CHECKF(f0 == 2 && f1 == 0 && f2 == 0, "folded MaxPools %d / %d / %d, expected 2 / 0 / 0", f0, f1, f2);
    CHECKF(!memcmp(y[0], y[1], (size_t)n * PY * sizeof(float)), "pools: folded output differs from unfused");
    CHECKF(!memcmp(y[0], y[2], (size_t)n * PY * sizeof(float)), "pools: inference differs from training mode");
    CHECKF(!memcmp(g[0], g[1], (size_t)nx * sizeof(float)), "pools: input gradient after a folded forward differs");
    CHECKF(!memcmp(g[0], g[2], (size_t)nx * sizeof(float)), "pools: input gradient differs from training mode");
    int nz = 0;
    for (int k = 0; k < nx; k++) nz += g[0][k] != 0.0f;
    CHECKF(nz > nx / 4, "pools: only %d of %d input gradients non-zero", nz, nx);
    for (int k = 0; k < 3; k++) free(g[k]);
    free(x);
    ng_model_free(m);
}

/* The third graph: CC x CH x CW -> conv CC -> CM (3x3 s2 pad 1) -> clip -> dw 3x3 -> clip -> 1x1 CM -> CO -> clip. */
enum { CC = 3, CH = 23, CW = 21, CM = 40, CO = 12, COH = 12, COW = 11 };
static const float CLO = -0.25f, CHI = 0.5f;

static int clip_node(ng_model *m, const char *name, int x)
{
    ng_attrs a;
    ng_attrs_default(&a);
    a.lo = CLO; a.hi = CHI;
    int y = ng_model_add_value(m, name, NG_V_ACT, NULL);
    ng_model_add_node(m, NG_OP_CLIP, name, &x, 1, &y, 1, &a);
    return y;
}

static ng_model *build_clips(ng_rng *r)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = {4, {-1, CC, CH, CW}};
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    m->input = x;
    int c1 = clip_node(m, "clip1", gb_conv(m, "cconv1", x, CC, CM, 3, 2, 0, r));
    int c2 = clip_node(m, "clip2", gb_conv(m, "cconv2", c1, CM, CM, 3, 1, 1, r));
    m->output = clip_node(m, "clip3", gb_conv(m, "cconv3", c2, CM, CO, 1, 1, 0, r));
    return m;
}

static double clip_ref_error(const ng_model *m, const float *x, const float *y, int n)
{
    enum { NX = CC * CH * CW, N1 = CM * COH * COW, NO = CO * COH * COW };
    static double a[NX], b1[N1], b2[N1], out[NO];
    double worst = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < NX; k++) a[k] = x[i * NX + k];
        ref_conv(a, CC, CH, CW, param(m, "cconv1.w"), param(m, "cconv1.b"), CM, 3, 2, 0, b1, COH, COW);
        for (int k = 0; k < N1; k++) b1[k] = b1[k] < CLO ? CLO : b1[k] > CHI ? CHI : b1[k];
        ref_conv(b1, CM, COH, COW, param(m, "cconv2.w"), param(m, "cconv2.b"), CM, 3, 1, 1, b2, COH, COW);
        for (int k = 0; k < N1; k++) b2[k] = b2[k] < CLO ? CLO : b2[k] > CHI ? CHI : b2[k];
        ref_conv(b2, CM, COH, COW, param(m, "cconv3.w"), param(m, "cconv3.b"), CO, 1, 1, 0, out, COH, COW);
        for (int k = 0; k < NO; k++) {
            double v = out[k] < CLO ? CLO : out[k] > CHI ? CHI : out[k];
            double e = fabs(v - y[i * NO + k]) / (fabs(v) > 1 ? fabs(v) : 1);
            if (e > worst) worst = e;
        }
    }
    return worst;
}

static void test_clips(ng_rng *r)
{
    ng_model *m = build_clips(r);
    CHECK_OK(ng_model_finalize(m));
    const int batches[2] = {1, 5};
    for (int bi = 0; bi < 2; bi++) {
        const int n = batches[bi], nx = n * CC * CH * CW, ny = n * CO * COH * COW;
        float *x = malloc((size_t)nx * sizeof(float)), *y[3], *g[3];
        gb_fill(r, x, nx, 1.0f);
        for (int k = 0; k < 3; k++) {
            y[k] = calloc((size_t)ny, sizeof(float));
            g[k] = calloc((size_t)nx, sizeof(float));
            /* bit-identity with training needs the training kernels: not the pointwise kernel
             * (cconv3's 1x1; on im2col, cconv1 at batch 1) nor sub-batches (batch 5), whose sums run
             * in another order; whether they happen to agree depends on the compiler's FMA
             * contraction (they did at -O2, not in the Debug sanitizer build). test_kernels,
             * test_memplan and test_residuals below check those kernels against references. */
            setenv("NG_PWCONV", "0", 1);
            setenv("NG_PWGEMM", "0", 1);
            setenv("NG_SUBBATCH", "0", 1);
            ng_exec *e = new_exec(m, k == 2, k != 1);
            unsetenv("NG_PWCONV");
            unsetenv("NG_PWGEMM");
            unsetenv("NG_SUBBATCH");
            if (!e) return;
            const float *out;
            ng_shape os;
            CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
            CHECK(ng_shape_numel(&os) == ny);
            memcpy(y[k], out, (size_t)ny * sizeof(float));
            float *dy = malloc((size_t)ny * sizeof(float));
            for (int i = 0; i < ny; i++) dy[i] = 1.0f + 0.001f * (float)(i % 7);
            CHECK_OK(ng_exec_backward(e, dy, NULL, g[k]));
            CHECK_OK(ng_exec_forward(e, x, n, &out, &os));   /* after backward: unfolded, same output */
            CHECKF(!memcmp(y[k], out, (size_t)ny * sizeof(float)), "clips batch %d: the second forward differs", n);
            free(dy);
            ng_exec_free(e);
        }
        CHECKF(!memcmp(y[0], y[1], (size_t)ny * sizeof(float)), "clips batch %d: fused output differs from unfused", n);
        CHECKF(!memcmp(y[0], y[2], (size_t)ny * sizeof(float)), "clips batch %d: inference differs from training", n);
        CHECKF(!memcmp(g[0], g[1], (size_t)nx * sizeof(float)), "clips batch %d: input gradient after a fused forward differs", n);
        CHECKF(!memcmp(g[0], g[2], (size_t)nx * sizeof(float)), "clips batch %d: input gradient differs from training", n);
        int at_lo = 0, at_hi = 0, nz = 0;
        for (int k = 0; k < ny; k++) { at_lo += y[0][k] == CLO; at_hi += y[0][k] == CHI; }
        for (int k = 0; k < nx; k++) nz += g[0][k] != 0.0f;
        double err = clip_ref_error(m, x, y[0], n);
        printf("clips batch %d: %d / %d outputs at the lower / upper bound of %d, %d of %d input gradients non-zero, "
               "worst relative error against the double reference %.3g\n", n, at_lo, at_hi, ny, nz, nx, err);
        CHECKF(at_lo > ny / 20 && at_hi > ny / 20 && at_lo + at_hi < ny - ny / 5,
               "clips batch %d: %d / %d of %d outputs at the bounds (a test that cannot see Clip)", n, at_lo, at_hi, ny);
        CHECKF(nz > nx / 4, "clips batch %d: only %d of %d input gradients non-zero", n, nz, nx);
        CHECKF(err < 1e-5, "clips batch %d: error %.3g against the reference", n, err);
        for (int k = 0; k < 3; k++) { free(y[k]); free(g[k]); }
        free(x);
    }
    ng_model_free(m);
}

/* The fourth graph (VGG's and ResNet's training pattern): x -> Conv3x3 -> BatchNormalization -> Relu r
 * -> Conv3x3 -> Add(., r) -> Relu -> y, in training mode. With the training fusions (default) the
 * BatchNormalization writes Relu(y) and its backward takes the Relu's dY masked by y > 0, the Add
 * writes its Relu too; NG_TRAIN_FUSION=0 runs every node. Both from the same parameters: outputs,
 * parameter gradients, input gradients and the updated running statistics bit-identical. */
static ng_model *build_bn(uint64_t seed)
{
    ng_rng r;
    ng_rng_seed(&r, seed);
    ng_model *m = ng_model_alloc();
    ng_shape xs = {4, {-1, C, H, W}}, cs = {1, {C}};
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    m->input = x;
    int c1 = gb_conv(m, "bconv1", x, C, C, 3, 1, 0, &r);
    int bn[5] = { c1 };
    const char *pn[4] = { "bn.scale", "bn.bias", "bn.mean", "bn.var" };
    for (int i = 0; i < 4; i++) {
        bn[i + 1] = ng_model_add_param(m, pn[i], &cs, NULL, i < 2);
        float *p = m->params + m->vals[bn[i + 1]].off;
        gb_fill(&r, p, C, 0.5f);
        for (int k = 0; k < C; k++) p[k] += i == 0 || i == 3 ? 1.0f : 0.0f;
    }
    ng_attrs a;
    ng_attrs_default(&a);
    a.epsilon = 1e-5f; a.momentum = 0.9f;
    int b = ng_model_add_value(m, "bn", NG_V_ACT, NULL);
    ng_model_add_node(m, NG_OP_BATCHNORM, "bn", bn, 5, &b, 1, &a);
    int r1 = gb_node(m, NG_OP_RELU, "brelu1", &b, 1);
    int c2 = gb_conv(m, "bconv2", r1, C, C, 3, 1, 0, &r);
    int add_in[2] = {c2, r1};
    int s = gb_node(m, NG_OP_ADD, "badd", add_in, 2);
    m->output = gb_node(m, NG_OP_RELU, "brelu2", &s, 1);
    return m;
}

static void test_train_bn(void)
{
    const int n = 5, nx = n * C * H * W, ny = nx;
    float *x = malloc((size_t)nx * sizeof(float)), *dy = malloc((size_t)ny * sizeof(float)), *y[2], *gx[2], *gp[2];
    ng_model *m[2];
    ng_rng r;
    ng_rng_seed(&r, 5);
    gb_fill(&r, x, nx, 1.0f);
    gb_fill(&r, dy, ny, 1.0f);
    for (int k = 0; k < 2; k++) {
        m[k] = build_bn(11);
        CHECK_OK(ng_model_finalize(m[k]));
        if (k) setenv("NG_TRAIN_FUSION", "0", 1);
        ng_exec_options o = ng_exec_options_default();
        o.threads = 2;
        o.training = 1;
        ng_exec *e = NULL;
        CHECK_OK(ng_exec_new(m[k], &o, &e));
        unsetenv("NG_TRAIN_FUSION");
        if (!e) return;
        const float *out;
        ng_shape os;
        CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
        CHECK(ng_shape_numel(&os) == ny);
        y[k] = malloc((size_t)ny * sizeof(float));
        memcpy(y[k], out, (size_t)ny * sizeof(float));
        gx[k] = calloc((size_t)nx, sizeof(float));
        gp[k] = calloc(ng_model_nparams(m[k]), sizeof(float));
        CHECK_OK(ng_exec_backward(e, dy, gp[k], gx[k]));
        ng_exec_free(e);
    }
    const size_t np = ng_model_nparams(m[0]);
    int zx = 0, zp = 0, zy = 0;
    for (int k = 0; k < nx; k++) { zx += gx[0][k] != 0.0f; zy += y[0][k] != 0.0f; }
    for (size_t k = 0; k < np; k++) zp += gp[0][k] != 0.0f;
    printf("training BN -> Relu, Add -> Relu: %d of %d outputs, %d of %d input and %d of %zu parameter gradients "
           "non-zero\n", zy, ny, zx, nx, zp, np);
    CHECKF(!memcmp(y[0], y[1], (size_t)ny * sizeof(float)), "training: fused output differs from NG_TRAIN_FUSION=0");
    CHECKF(!memcmp(gx[0], gx[1], (size_t)nx * sizeof(float)), "training: fused input gradient differs");
    CHECKF(!memcmp(gp[0], gp[1], np * sizeof(float)), "training: fused parameter gradients differ");
    CHECKF(!memcmp(m[0]->params, m[1]->params, np * sizeof(float)), "training: running statistics differ");
    CHECKF(zy > ny / 4 && zy < ny && zx > nx / 2, "training: a test that cannot see the Relus (%d / %d)", zy, zx);
    for (int k = 0; k < 2; k++) { free(y[k]); free(gx[k]); free(gp[k]); ng_model_free(m[k]); }
    free(x); free(dy);
}

/* The fifth graph (MobileNetV2's inverted residual, twice): x [N, RC, RH, RW] -> Conv1x1 RC -> RE -> Clip
 * -> depthwise Conv3x3 -> Clip -> Conv1x1 RE -> RC -> Add(x, .) -> b1; the same block on b1 with
 * Add(., b1) (the Conv's output on the other side) -> y. In inference each projection adds the
 * residual in its registers (the pointwise kernel) and the Add is skipped. Checked: outputs
 * bit-identical to NG_ADDFUSE=0 (the same kernels, the Add as a node) and to NG_NO_FUSION within
 * 1e-6 (no fusion at all), input gradients bit-identical to NG_ADDFUSE=0, and the output against a
 * double reference of the blocks within 1e-5. */
enum { RC = 8, RE = 24, RH = 9, RW = 10 };

static int res_block(ng_model *m, const char *pfx, int x, int conv_first, ng_rng *r)
{
    char nm[64];
    snprintf(nm, sizeof nm, "%s.expand", pfx);
    int e = clip_node(m, "", gb_conv(m, nm, x, RC, RE, 1, 1, 0, r));
    snprintf(nm, sizeof nm, "%s.dw", pfx);
    int d = clip_node(m, "", gb_conv(m, nm, e, RE, RE, 3, 1, 1, r));
    snprintf(nm, sizeof nm, "%s.project", pfx);
    int p = gb_conv(m, nm, d, RE, RC, 1, 1, 0, r);
    int ins[2] = { conv_first ? p : x, conv_first ? x : p };
    snprintf(nm, sizeof nm, "%s.add", pfx);
    return gb_node(m, NG_OP_ADD, nm, ins, 2);
}

static void res_ref(const ng_model *m, const char *pfx, const double *x, double *y)
{
    static double e[RE * RH * RW], d[RE * RH * RW];
    char nw[64], nb[64];
    snprintf(nw, sizeof nw, "%s.expand.w", pfx); snprintf(nb, sizeof nb, "%s.expand.b", pfx);
    ref_conv(x, RC, RH, RW, param(m, nw), param(m, nb), RE, 1, 1, 0, e, RH, RW);
    for (int k = 0; k < RE * RH * RW; k++) e[k] = e[k] < CLO ? CLO : e[k] > CHI ? CHI : e[k];
    snprintf(nw, sizeof nw, "%s.dw.w", pfx); snprintf(nb, sizeof nb, "%s.dw.b", pfx);
    ref_conv(e, RE, RH, RW, param(m, nw), param(m, nb), RE, 3, 1, 1, d, RH, RW);
    for (int k = 0; k < RE * RH * RW; k++) d[k] = d[k] < CLO ? CLO : d[k] > CHI ? CHI : d[k];
    snprintf(nw, sizeof nw, "%s.project.w", pfx); snprintf(nb, sizeof nb, "%s.project.b", pfx);
    ref_conv(d, RE, RH, RW, param(m, nw), param(m, nb), RC, 1, 1, 0, y, RH, RW);
    for (int k = 0; k < RC * RH * RW; k++) y[k] += x[k];
}

static void test_residuals(ng_rng *r)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = {4, {-1, RC, RH, RW}};
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    m->input = x;
    m->output = res_block(m, "b2", res_block(m, "b1", x, 0, r), 1, r);
    CHECK_OK(ng_model_finalize(m));
    const int batches[2] = {1, 3};
    for (int bi = 0; bi < 2; bi++) {
        const int n = batches[bi], nx = n * RC * RH * RW;
        float *xv = malloc((size_t)nx * sizeof(float)), *y[3], *g[3];
        gb_fill(r, xv, nx, 1.0f);
        for (int k = 0; k < 3; k++) {   /* default, NG_ADDFUSE=0, NG_NO_FUSION */
            y[k] = calloc((size_t)nx, sizeof(float));
            g[k] = calloc((size_t)nx, sizeof(float));
            if (k == 1) setenv("NG_ADDFUSE", "0", 1);
            ng_exec *e = new_exec(m, 0, k != 2);
            unsetenv("NG_ADDFUSE");
            if (!e) return;
            fwd_bwd(e, xv, n, nx, y[k], g[k], NULL, NULL);
        }
        CHECKF(!memcmp(y[0], y[1], (size_t)nx * sizeof(float)), "residuals batch %d: fused Add differs from the Add node", n);
        CHECKF(!memcmp(g[0], g[1], (size_t)nx * sizeof(float)), "residuals batch %d: input gradient differs", n);
        double worst = 0, wf = 0;
        static double a[RC * RH * RW], b1[RC * RH * RW], b2[RC * RH * RW];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < RC * RH * RW; k++) a[k] = xv[i * RC * RH * RW + k];
            res_ref(m, "b1", a, b1);
            res_ref(m, "b2", b1, b2);
            for (int k = 0; k < RC * RH * RW; k++) {
                const double want = b2[k], got = y[0][i * RC * RH * RW + k], scale = fabs(want) > 1 ? fabs(want) : 1;
                if (fabs(got - want) / scale > worst) worst = fabs(got - want) / scale;
                const double other = y[2][i * RC * RH * RW + k];
                if (fabs(got - other) / scale > wf) wf = fabs(got - other) / scale;
            }
        }
        printf("residuals batch %d: worst relative error against the double reference %.3g, against no fusion %.3g\n",
               n, worst, wf);
        CHECKF(worst < 1e-5, "residuals batch %d: error %.3g against the reference", n, worst);
        CHECKF(wf < 1e-6, "residuals batch %d: %.3g from the unfused exec", n, wf);
        for (int k = 0; k < 3; k++) { free(y[k]); free(g[k]); }
        free(xv);
    }
    ng_model_free(m);
}

/* The sixth graph (ResNet's basic blocks, then a 1x1 one, then one with a downsample): x [N, BC, BH, BW] ->
 * Conv3x3 -> Relu -> Conv3x3 -> Add(., x) -> Relu a1 -> Conv1x1 -> Add(a1, .) -> Relu a2 -> Conv3x3 stride 2
 * -> Relu -> Conv3x3 c5; Conv1x1 stride 2 of a2 -> Add(c5, .) -> Relu -> y [N, BC, BO, BO]. In inference
 * each Add and the Relu after it are folded into the Conv right before them: the first on the grid at
 * batch 1 and on Winograd at batch 4 or with NG_GCONV=0; the second on the pointwise kernel; the third
 * (the downsample, a column matrix of the strided pixels) on the pointwise kernel, whole at batch 1
 * and in blocks of rows at batch 4. Checked: all three Adds folded (ng_exec_folded_adds), outputs
 * bit-identical to NG_ADDFUSE=0 (the same kernels, the Add and Relu as nodes), input gradients too,
 * within 1e-6 of NG_NO_FUSION and 1e-5 of a double reference (of the largest output), and a quarter
 * to three quarters of the outputs zero (the Relu seen). */
enum { BC = 48, BH = 17, BW = 17, BO = 9 };   /* over 32 channels: not the direct kernel (conv_use_direct) */

static void test_resnet_adds(ng_rng *r)
{
    int x;
    ng_model *m = gb_model(BC, BH, BW, &x);
    int c1 = gb_conv(m, "rb.conv1", x, BC, BC, 3, 1, 0, r);
    int r1 = gb_node(m, NG_OP_RELU, "rb.relu1", &c1, 1);
    int c2 = gb_conv(m, "rb.conv2", r1, BC, BC, 3, 1, 0, r);
    int s1[2] = { c2, x };
    int a1 = gb_node(m, NG_OP_ADD, "rb.add1", s1, 2);
    int q1 = gb_node(m, NG_OP_RELU, "rb.relu2", &a1, 1);
    int c3 = gb_conv(m, "rb.conv3", q1, BC, BC, 1, 1, 0, r);
    int s2[2] = { q1, c3 };
    int a2 = gb_node(m, NG_OP_ADD, "rb.add2", s2, 2);
    int q2 = gb_node(m, NG_OP_RELU, "rb.relu3", &a2, 1);
    int c4 = gb_conv(m, "rb.conv4", q2, BC, BC, 3, 2, 0, r);
    int r4 = gb_node(m, NG_OP_RELU, "rb.relu4", &c4, 1);
    int c5 = gb_conv(m, "rb.conv5", r4, BC, BC, 3, 1, 0, r);
    int ds = gb_conv(m, "rb.down", q2, BC, BC, 1, 2, 0, r);
    int s3[2] = { c5, ds };
    int a3 = gb_node(m, NG_OP_ADD, "rb.add3", s3, 2);
    m->output = gb_node(m, NG_OP_RELU, "rb.relu5", &a3, 1);
    CHECK_OK(ng_model_finalize(m));
    enum { P = BC * BH * BW, PO = BC * BO * BO };
    static double a[P], t1[P], t2[P], t3[P], t4[PO], t5[PO], t6[PO];
    for (int cfg = 0; cfg < 3; cfg++) {   /* batch 1 (the grid), batch 1 with NG_GCONV=0, batch 4 (Winograd) */
        const int n = cfg == 2 ? 4 : 1, nx = n * P, ny = n * PO;
        const char *what = cfg == 0 ? "batch 1, grid" : cfg == 1 ? "batch 1, Winograd" : "batch 4, Winograd";
        float *xv = malloc((size_t)nx * sizeof(float)), *y[3], *g[3];
        gb_fill(r, xv, nx, 1.0f);
        int folded = -1;
        for (int k = 0; k < 3; k++) {   /* default, NG_ADDFUSE=0, NG_NO_FUSION */
            y[k] = calloc((size_t)ny, sizeof(float));
            g[k] = calloc((size_t)nx, sizeof(float));
            if (k == 1) setenv("NG_ADDFUSE", "0", 1);
            if (cfg == 1) setenv("NG_GCONV", "0", 1);
            if (cfg == 2) setenv("NG_SUBBATCH", "0", 1);   /* the 4 images in one pass: the row blocks */
            ng_exec *e = new_exec(m, 0, k != 2);
            unsetenv("NG_ADDFUSE");
            unsetenv("NG_GCONV");
            unsetenv("NG_SUBBATCH");
            if (!e) return;
            int adds = -1;
            fwd_bwd(e, xv, n, ny, y[k], g[k], &adds, NULL);
            if (k == 0) folded = adds;
            else CHECK(adds == 0);
        }
        CHECKF(folded == 3, "resnet adds, %s: %d of 3 Adds folded into their Conv", what, folded);
        CHECKF(!memcmp(y[0], y[1], (size_t)ny * sizeof(float)), "resnet adds, %s: folded Add + Relu differ from the nodes", what);
        CHECKF(!memcmp(g[0], g[1], (size_t)nx * sizeof(float)), "resnet adds, %s: input gradient differs", what);
        double worst = 0, wf = 0, big = 1;   /* errors against the largest output (48-channel sums cancel) */
        int zeros = 0;
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < P; k++) a[k] = xv[i * P + k];
            ref_conv(a, BC, BH, BW, param(m, "rb.conv1.w"), param(m, "rb.conv1.b"), BC, 3, 1, 0, t1, BH, BW);
            for (int k = 0; k < P; k++) t1[k] = t1[k] > 0 ? t1[k] : 0;
            ref_conv(t1, BC, BH, BW, param(m, "rb.conv2.w"), param(m, "rb.conv2.b"), BC, 3, 1, 0, t2, BH, BW);
            for (int k = 0; k < P; k++) { const double v = t2[k] + a[k]; t2[k] = v > 0 ? v : 0; }
            ref_conv(t2, BC, BH, BW, param(m, "rb.conv3.w"), param(m, "rb.conv3.b"), BC, 1, 1, 0, t3, BH, BW);
            for (int k = 0; k < P; k++) { const double v = t3[k] + t2[k]; t3[k] = v > 0 ? v : 0; }
            ref_conv(t3, BC, BH, BW, param(m, "rb.conv4.w"), param(m, "rb.conv4.b"), BC, 3, 2, 0, t4, BO, BO);
            for (int k = 0; k < PO; k++) t4[k] = t4[k] > 0 ? t4[k] : 0;
            ref_conv(t4, BC, BO, BO, param(m, "rb.conv5.w"), param(m, "rb.conv5.b"), BC, 3, 1, 0, t5, BO, BO);
            ref_conv(t3, BC, BH, BW, param(m, "rb.down.w"), param(m, "rb.down.b"), BC, 1, 2, 0, t6, BO, BO);
            for (int k = 0; k < PO; k++) {
                const double v = t5[k] + t6[k], want = v > 0 ? v : 0, got = y[0][i * PO + k];
                if (fabs(got - want) > worst) worst = fabs(got - want);
                if (fabs(got - y[2][i * PO + k]) > wf) wf = fabs(got - y[2][i * PO + k]);
                if (want > big) big = want;
                zeros += got == 0.0f;
            }
        }
        worst /= big;
        wf /= big;
        printf("resnet adds, %s: %d Adds folded, worst relative error against the double reference %.3g, "
               "against no fusion %.3g, %d of %d outputs zero\n", what, folded, worst, wf, zeros, ny);
        CHECKF(worst < 1e-5, "resnet adds, %s: error %.3g against the reference", what, worst);
        CHECKF(wf < 1e-6, "resnet adds, %s: %.3g from the unfused exec", what, wf);
        CHECKF(zeros > ny / 4 && zeros < ny * 3 / 4, "resnet adds, %s: %d of %d outputs zero (a test that cannot see the Relu)", what, zeros, ny);
        for (int k = 0; k < 3; k++) { free(y[k]); free(g[k]); }
        free(xv);
    }
    ng_model_free(m);
}

/* The sixth graph's fold on the row blocks (conv_pwrows_body) where an image spans several: x [2, BC,
 * 72, 72] -> Conv1x1 stride 2 d; Conv3x3 stride 2 of x (36 x 36 outputs, K 432: blocks of 18 rows)
 * -> Add(., d) -> Relu -> y, whole batch (NG_SUBBATCH=0). Checked as the sixth graph: the Add folded,
 * bit-identical to NG_ADDFUSE=0, within 1e-5 of a double reference. */
enum { QH = 72, QO = 36 };

static void test_rows_add(ng_rng *r)
{
    int x;
    ng_model *m = gb_model(BC, QH, QH, &x);
    int d = gb_conv(m, "q.down", x, BC, BC, 1, 2, 0, r);
    int c = gb_conv(m, "q.conv", x, BC, BC, 3, 2, 0, r);
    int s[2] = { c, d };
    int a = gb_node(m, NG_OP_ADD, "q.add", s, 2);
    m->output = gb_node(m, NG_OP_RELU, "q.relu", &a, 1);
    CHECK_OK(ng_model_finalize(m));
    enum { n = 2, PX = BC * QH * QH, PO = BC * QO * QO };
    float *xv = malloc((size_t)n * PX * sizeof(float)), *y[2];
    gb_fill(r, xv, n * PX, 1.0f);
    int folded = -1;
    for (int k = 0; k < 2; k++) {   /* default, NG_ADDFUSE=0 */
        y[k] = malloc((size_t)n * PO * sizeof(float));
        if (k == 1) setenv("NG_ADDFUSE", "0", 1);
        setenv("NG_SUBBATCH", "0", 1);
        ng_exec *e = new_exec(m, 0, 1);
        unsetenv("NG_ADDFUSE");
        unsetenv("NG_SUBBATCH");
        if (!e) return;
        const float *out;
        ng_shape os;
        CHECK_OK(ng_exec_forward(e, xv, n, &out, &os));
        CHECK(ng_shape_numel(&os) == n * PO);
        memcpy(y[k], out, (size_t)n * PO * sizeof(float));
        if (k == 0) folded = ng_exec_folded_adds(e);
        ng_exec_free(e);
    }
    static double xa[PX], t1[PO], t2[PO];
    double worst = 0, big = 1;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < PX; k++) xa[k] = xv[i * PX + k];
        ref_conv(xa, BC, QH, QH, param(m, "q.conv.w"), param(m, "q.conv.b"), BC, 3, 2, 0, t1, QO, QO);
        ref_conv(xa, BC, QH, QH, param(m, "q.down.w"), param(m, "q.down.b"), BC, 1, 2, 0, t2, QO, QO);
        for (int k = 0; k < PO; k++) {
            const double v = t1[k] + t2[k], want = v > 0 ? v : 0;
            if (fabs(y[0][i * PO + k] - want) > worst) worst = fabs(y[0][i * PO + k] - want);
            if (want > big) big = want;
        }
    }
    worst /= big;
    printf("row blocks + residual: %d Add folded, worst error against the double reference %.3g\n", folded, worst);
    CHECKF(folded == 1, "row blocks + residual: %d Adds folded, expected 1", folded);
    CHECKF(!memcmp(y[0], y[1], (size_t)n * PO * sizeof(float)), "row blocks + residual: folded Add differs from the node");
    CHECKF(worst < 1e-5, "row blocks + residual: error %.3g against the reference", worst);
    free(y[0]); free(y[1]); free(xv);
    ng_model_free(m);
}

/* The seventh graph: x [N, 3, SH, SH] -> Conv 7x7 stride 2 pads 3 (SM channels) [-> Relu] -> MaxPool 3x3
 * stride 2 pads 1 -> y. The Conv runs in blocks of output rows (SH 120: 60 rows in blocks of 14, the last
 * one 18) and pools each block in cache, the first pooled row of a block joined with the block before.
 * Checked at batch 1 and 3, with and without the Relu (without it the maxima are negative in places,
 * so padding that won would show): the pool folded (ng_exec_folded_pools), outputs bit-identical to
 * NG_NO_FUSION (the MaxPool node), input gradients too, and within 1e-5 of a double reference. */
enum { SH = 120, SO = 60, SP = 30, SM = 16 };

static void test_stem_pool(ng_rng *r)
{
    for (int relu = 0; relu < 2; relu++) {
        int x;
        ng_model *m = gb_model(3, SH, SH, &x);
        int c = gb_conv(m, "stem", x, 3, SM, 7, 2, 0, r);
        if (relu) c = gb_node(m, NG_OP_RELU, "stem.relu", &c, 1);
        ng_attrs pa;
        ng_attrs_default(&pa);
        pa.kernel[0] = pa.kernel[1] = 3;
        pa.stride[0] = pa.stride[1] = 2;
        for (int i = 0; i < 4; i++) pa.pad[i] = 1;
        int p = ng_model_add_value(m, "stem.pool", NG_V_ACT, NULL);
        ng_model_add_node(m, NG_OP_MAXPOOL, "stem.pool", &c, 1, &p, 1, &pa);
        m->output = p;
        CHECK_OK(ng_model_finalize(m));
        for (int n = 1; n <= 3; n += 2) {
            const int nx = n * 3 * SH * SH, ny = n * SM * SP * SP;
            float *xv = malloc((size_t)nx * sizeof(float)), *y[2], *g[2];
            gb_fill(r, xv, nx, 1.0f);
            int folded = -1;
            for (int k = 0; k < 2; k++) {   /* default, NG_NO_FUSION */
                y[k] = calloc((size_t)ny, sizeof(float));
                g[k] = calloc((size_t)nx, sizeof(float));
                ng_exec *e = new_exec(m, 0, k == 0);
                if (!e) return;
                int pools = -1;
                fwd_bwd(e, xv, n, ny, y[k], g[k], NULL, &pools);
                if (k == 0) folded = pools;
            }
            static double a[3 * SH * SH], t[SM * SO * SO];
            double worst = 0, big = 1;
            int neg = 0;
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < 3 * SH * SH; k++) a[k] = xv[i * 3 * SH * SH + k];
                ref_conv(a, 3, SH, SH, param(m, "stem.w"), param(m, "stem.b"), SM, 7, 2, 0, t, SO, SO);
                for (int k = 0; relu && k < SM * SO * SO; k++) t[k] = t[k] > 0 ? t[k] : 0;
                for (int ch = 0; ch < SM; ch++)
                    for (int ph = 0; ph < SP; ph++)
                        for (int pw = 0; pw < SP; pw++) {
                            double best = -INFINITY;
                            for (int u = 2 * ph - 1; u <= 2 * ph + 1; u++)
                                for (int v = 2 * pw - 1; v <= 2 * pw + 1; v++)
                                    if (u >= 0 && u < SO && v >= 0 && v < SO && t[(ch * SO + u) * SO + v] > best)
                                        best = t[(ch * SO + u) * SO + v];
                            const double got = y[0][((i * SM + ch) * SP + ph) * SP + pw];
                            if (fabs(got - best) > worst) worst = fabs(got - best);
                            if (fabs(best) > big) big = fabs(best);
                            neg += best < 0;
                        }
            }
            worst /= big;
            printf("stem pool%s, batch %d: %d pool folded, worst error against the double reference %.3g of the "
                   "largest output, %d negative maxima\n", relu ? " after Relu" : "", n, folded, worst, neg);
            CHECKF(folded == 1, "stem pool, batch %d: %d MaxPools folded, expected 1", n, folded);
            CHECKF(!memcmp(y[0], y[1], (size_t)ny * sizeof(float)), "stem pool, batch %d: folded pool differs from the node", n);
            CHECKF(!memcmp(g[0], g[1], (size_t)nx * sizeof(float)), "stem pool, batch %d: input gradient differs", n);
            CHECKF(worst < 1e-5, "stem pool, batch %d: error %.3g against the reference", n, worst);
            CHECKF(relu ? neg == 0 : neg > 0, "stem pool, batch %d: %d negative maxima", n, neg);
            for (int k = 0; k < 2; k++) { free(y[k]); free(g[k]); }
            free(xv);
        }
        ng_model_free(m);
    }
}

int main(void)
{
    CHECK_OK(ng_init());
    ng_rng r;
    ng_rng_seed(&r, 77);
    ng_model *m = gb_residual(&r, C, H, W, M);
    CHECK_OK(ng_model_finalize(m));
    const int batches[2] = {1, 7};
    for (int bi = 0; bi < 2; bi++) {
        const int n = batches[bi], nx = n * C * H * W, ny = n * M * 9;
        float *x = malloc((size_t)nx * sizeof(float)), *y[3], *g[3];
        gb_fill(&r, x, nx, 1.0f);
        for (int k = 0; k < 3; k++) {
            y[k] = calloc((size_t)ny, sizeof(float));
            g[k] = calloc((size_t)nx, sizeof(float));
        }
        run(m, 0, 1, x, n, y[0], g[0]);   /* inference, fused */
        run(m, 0, 0, x, n, y[1], g[1]);   /* inference, every node */
        run(m, 1, 1, x, n, y[2], g[2]);   /* training mode (fuses the Relus too) */
        CHECKF(!memcmp(y[0], y[1], (size_t)ny * sizeof(float)), "batch %d: fused output differs from unfused", n);
        CHECKF(!memcmp(g[0], g[1], (size_t)nx * sizeof(float)), "batch %d: fused input gradient differs", n);
        CHECKF(!memcmp(y[0], y[2], (size_t)ny * sizeof(float)), "batch %d: inference differs from training mode", n);
        CHECKF(!memcmp(g[0], g[2], (size_t)nx * sizeof(float)), "batch %d: input gradient differs from training mode", n);
        double err = ref_error(m, x, y[0], n);
        printf("batch %d: worst relative error against the double reference %.3g\n", n, err);
        CHECKF(err < 1e-5, "batch %d: error %.3g against the reference", n, err);
        int pos = 0;
        for (int k = 0; k < ny; k++) pos += y[0][k] != 0.0f;
        CHECKF(pos > ny / 4, "batch %d: only %d of %d outputs non-zero (a test that cannot see Relu)", n, pos, ny);
        for (int k = 0; k < 3; k++) { free(y[k]); free(g[k]); }
        free(x);
    }
    ng_model_free(m);
    test_pools(&r);
    C1 = 16; C2 = 32; PY = 32 * 2 * 3;
    test_pools(&r);
    test_clips(&r);
    test_train_bn();
    test_residuals(&r);
    test_resnet_adds(&r);
    test_rows_add(&r);
    test_stem_pool(&r);
    return tu_done();
}
