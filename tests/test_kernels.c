/* test_kernels: every compute kernel (Conv, Gemm, MatMul, MaxPool, AveragePool, GlobalAveragePool,
 * BatchNormalization) against naive reference loops in double precision, forward and backward, on
 * many shapes (groups 1/2/depthwise, strides, asymmetric pads, dilation, 1x1, batch 1 and 7, odd
 * sizes, ceil_mode). Each kernel runs inside a one-node model through the real exec on 2 workers;
 * the largest error relative to the reference's magnitude is printed and must stay below 1e-4.
 * BatchNorm training is checked against a hand computation of the running statistics (unbiased
 * variance) and its dX against finite differences of the double-precision reference.
 * ctest-engine-only: links nnguard_engine alone (the engine without src/formats/). */
#include "tutil.h"
#include "engine/graph.h"
#include "engine/pwconv.h"
#include "engine/gconv.h"
#include "engine/wconv.h"
#include "engine/abt.h"

#define TOL 1e-4

static ng_rng rng;

static float *rnd(size_t n, float lo, float hi)
{
    float *p = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * ng_rng_uniform(&rng);
    return p;
}

static ng_shape shp(int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    ng_shape s = { ndim, { a, b, c, d } };
    return s;
}

/* Max |got - want| / max(max |want|, 1e-3); prints and returns it. */
static double relerr(const char *what, const float *got, const double *want, size_t n)
{
    double e = 0.0, mag = 1e-3;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= e)) e = d;   /* NaN counts as a failure */
        if (fabs(want[i]) > mag) mag = fabs(want[i]);
    }
    double r = e / mag;
    printf("  %-44s max abs err %.3g  rel %.3g\n", what, e, r);
    return r;
}

/* A model of one node: graph input at slot in_pos, parameters (in order) in the other slots
 * (a NULL shape leaves that slot absent). */
typedef struct onenode {
    ng_model *m;
    ng_exec  *e;
    int       np;
} onenode;

static int build_const;   /* the next build's exec: ng_exec_options.const_params */

static int build(onenode *t, ng_op op, const ng_attrs *a, const ng_shape *xs, int n_in, int in_pos,
                 const ng_shape *ps, float *const *pdata, const int *trainable, int training, int fixed_batch)
{
    memset(t, 0, sizeof *t);
    t->m = ng_model_alloc();
    if (!t->m) return 0;
    int ins[8], k = 0;
    ng_shape x = *xs;
    x.d[0] = -1;
    for (int i = 0; i < n_in; i++) {
        if (i == in_pos) { ins[i] = ng_model_add_value(t->m, "x", NG_V_INPUT, &x); continue; }
        if (ps[k].ndim < 0) { ins[i] = -1; k++; continue; }
        char nm[16];
        snprintf(nm, sizeof nm, "p%d", k);
        ins[i] = ng_model_add_param(t->m, nm, &ps[k], pdata[k], trainable ? trainable[k] : 1);
        k++;
        t->np++;
    }
    int out = ng_model_add_value(t->m, "y", NG_V_ACT, NULL);
    if (ng_model_add_node(t->m, op, "k", ins, n_in, &out, 1, a) < 0) return 0;
    /* A Gemm whose C has the batch in its shape only works at that batch: finalize checks
     * shapes at batch 1, so such models skip it (the exec checks shapes at the real batch). */
    ng_status st = NG_OK;
    if (fixed_batch) t->m->output = out;
    else st = ng_model_finalize(t->m);
    if (st != NG_OK) { fprintf(stderr, "finalize: %s\n", ng_last_error()); return 0; }
    ng_exec_options o = ng_exec_options_default();
    o.threads = 2;
    o.training = training;
    o.const_params = build_const;
    st = ng_exec_new(t->m, &o, &t->e);
    if (st != NG_OK) { fprintf(stderr, "exec: %s\n", ng_last_error()); return 0; }
    return 1;
}

static void destroy(onenode *t)
{
    ng_exec_free(t->e);
    ng_model_free(t->m);
}

static const float *param(onenode *t, float *grad, int i) { return grad + ng_model_tensor_offset(t->m, (size_t)i); }

/* ---------------- Conv ---------------- */

typedef struct conv_case { int64_t N, C, H, W, M, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g; int bias; } conv_case;

static void test_conv(const conv_case *k)
{
    int64_t Cg = k->C / k->g, Mg = k->M / k->g;
    int64_t OH = (k->H + k->pt + k->pb - (k->dh * (k->kh - 1) + 1)) / k->sh + 1;
    int64_t OW = (k->W + k->pl + k->pr - (k->dw * (k->kw - 1) + 1)) / k->sw + 1;
    size_t nx = (size_t)(k->N * k->C * k->H * k->W), nw = (size_t)(k->M * Cg * k->kh * k->kw);
    size_t ny = (size_t)(k->N * k->M * OH * OW);
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -0.5f, 0.5f), *b = rnd((size_t)k->M, -1, 1), *dy = rnd(ny, -1, 1);
    double *ry = calloc(ny, sizeof(double)), *rdx = calloc(nx, sizeof(double));
    double *rdw = calloc(nw, sizeof(double)), *rdb = calloc((size_t)k->M, sizeof(double));
    /* direct convolution and its adjoint, in double */
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t m = 0; m < k->M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    size_t yi = (size_t)(((n * k->M + m) * OH + oh) * OW + ow);
                    double s = k->bias ? b[m] : 0.0, d = dy[yi];
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < k->kh; i++)
                            for (int64_t j = 0; j < k->kw; j++) {
                                int64_t h = oh * k->sh - k->pt + i * k->dh, ww = ow * k->sw - k->pl + j * k->dw;
                                if (h < 0 || h >= k->H || ww < 0 || ww >= k->W) continue;
                                size_t xi = (size_t)(((n * k->C + (m / Mg) * Cg + c) * k->H + h) * k->W + ww);
                                size_t wi = (size_t)(((m * Cg + c) * k->kh + i) * k->kw + j);
                                s += (double)w[wi] * x[xi];
                                rdw[wi] += d * x[xi];
                                rdx[xi] += d * w[wi];
                            }
                    ry[yi] = s;
                    rdb[m] += d;
                }
    onenode t;
    ng_attrs a;
    ng_attrs_default(&a);
    a.stride[0] = k->sh; a.stride[1] = k->sw; a.dilation[0] = k->dh; a.dilation[1] = k->dw; a.group = k->g;
    a.pad[0] = k->pt; a.pad[1] = k->pl; a.pad[2] = k->pb; a.pad[3] = k->pr;
    ng_shape xs = shp(4, k->N, k->C, k->H, k->W), ps[2] = { shp(4, k->M, Cg, k->kh, k->kw), shp(1, k->M, 0, 0, 0) };
    float *pd[2] = { w, b };
    printf("Conv N%lld C%lld %lldx%lld M%lld k%lldx%lld s%lld,%lld pad %lld,%lld,%lld,%lld dil %lld,%lld group %lld%s\n",
           (long long)k->N, (long long)k->C, (long long)k->H, (long long)k->W, (long long)k->M, (long long)k->kh,
           (long long)k->kw, (long long)k->sh, (long long)k->sw, (long long)k->pt, (long long)k->pl, (long long)k->pb,
           (long long)k->pr, (long long)k->dh, (long long)k->dw, (long long)k->g, k->bias ? " bias" : "");
    CHECK(build(&t, NG_OP_CONV, &a, &xs, k->bias ? 3 : 2, 0, ps, pd, NULL, 1, 0));
    const float *y;
    ng_shape ys;
    CHECK_OK(ng_exec_forward(t.e, x, k->N, &y, &ys));
    CHECK(ys.ndim == 4 && ys.d[1] == k->M && ys.d[2] == OH && ys.d[3] == OW);
    CHECK(relerr("forward y", y, ry, ny) < TOL);
    onenode ti;   /* inference picks its own kernels (pointwise, Winograd, the pointwise kernel on im2col) */
    CHECK(build(&ti, NG_OP_CONV, &a, &xs, k->bias ? 3 : 2, 0, ps, pd, NULL, 0, 0));
    CHECK_OK(ng_exec_forward(ti.e, x, k->N, &y, &ys));
    CHECK(relerr("forward y, inference", y, ry, ny) < TOL);
    destroy(&ti);
    float *gp = calloc(ng_model_nparams(t.m) + 1, sizeof(float)), *gx = calloc(nx, sizeof(float));
    CHECK_OK(ng_exec_backward(t.e, dy, gp, gx));
    CHECK(relerr("backward dX", gx, rdx, nx) < TOL);
    CHECK(relerr("backward dW", param(&t, gp, 0), rdw, nw) < TOL);
    if (k->bias) CHECK(relerr("backward dB", param(&t, gp, 1), rdb, (size_t)k->M) < TOL);
    destroy(&t);
    free(x); free(w); free(b); free(dy); free(ry); free(rdx); free(rdw); free(rdb); free(gp); free(gx);
}

/* The direct stride-1 kernel (engine/dconv.c), or for 1x1 Convs the pointwise one (engine/pwconv.c),
 * against the double reference and against the im2col + GEMM path (NG_CONV_DIRECT=0 NG_PWCONV=0),
 * within 1e-5 of the output's magnitude, with each set of tiles
 * (NG_DCONV_ISA: 2 AVX-512 (the 16-channel tiles where Mg % 16 == 0), 1 AVX2, 0 baseline;
 * capped at what the CPU has). Forward only: the
 * kernel has no backward of its own (test_conv checks the node's backward on the same cases). */
static void test_conv_direct(const conv_case *k)
{
    int64_t Cg = k->C / k->g, Mg = k->M / k->g;
    int64_t OH = k->H + k->pt + k->pb - k->dh * (k->kh - 1), OW = k->W + k->pl + k->pr - k->dw * (k->kw - 1);
    size_t nx = (size_t)(k->N * k->C * k->H * k->W), nw = (size_t)(k->M * Cg * k->kh * k->kw);
    size_t ny = (size_t)(k->N * k->M * OH * OW);
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -0.5f, 0.5f), *b = rnd((size_t)k->M, -1, 1), *ys[4];
    double *ry = calloc(ny, sizeof(double));
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t m = 0; m < k->M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double sum = k->bias ? b[m] : 0.0;
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t i = 0; i < k->kh; i++)
                            for (int64_t j = 0; j < k->kw; j++) {
                                int64_t h = oh - k->pt + i * k->dh, ww = ow - k->pl + j * k->dw;
                                if (h < 0 || h >= k->H || ww < 0 || ww >= k->W) continue;
                                sum += (double)w[((m * Cg + c) * k->kh + i) * k->kw + j] *
                                       x[((n * k->C + (m / Mg) * Cg + c) * k->H + h) * k->W + ww];
                            }
                    ry[((n * k->M + m) * OH + oh) * OW + ow] = sum;
                }
    ng_attrs a;
    ng_attrs_default(&a);
    a.dilation[0] = k->dh; a.dilation[1] = k->dw; a.group = k->g;
    a.pad[0] = k->pt; a.pad[1] = k->pl; a.pad[2] = k->pb; a.pad[3] = k->pr;
    ng_shape xs = shp(4, k->N, k->C, k->H, k->W), ps[2] = { shp(4, k->M, Cg, k->kh, k->kw), shp(1, k->M, 0, 0, 0) };
    float *pd[2] = { w, b };
    printf("direct Conv N%lld C%lld %lldx%lld M%lld k%lldx%lld pad %lld,%lld,%lld,%lld dil %lld,%lld group %lld%s\n",
           (long long)k->N, (long long)k->C, (long long)k->H, (long long)k->W, (long long)k->M, (long long)k->kh,
           (long long)k->kw, (long long)k->pt, (long long)k->pl, (long long)k->pb, (long long)k->pr, (long long)k->dh,
           (long long)k->dw, (long long)k->g, k->bias ? " bias" : "");
    static const char *const paths[4][2] = { { NULL, NULL }, { "NG_DCONV_ISA", "1" }, { "NG_DCONV_ISA", "0" },
                                             { "NG_CONV_DIRECT", "0" } };
    static const char *const what[4] = { "forward y, best tiles", "forward y, AVX2 tiles", "forward y, baseline tiles",
                                         "forward y, im2col + GEMM" };
    for (int p = 0; p < 4; p++) {
        if (paths[p][0]) setenv(paths[p][0], paths[p][1], 1);
        if (p == 3) setenv("NG_PWCONV", "0", 1);   /* 1x1 Convs: the pointwise kernel off too */
        onenode t;
        CHECK(build(&t, NG_OP_CONV, &a, &xs, k->bias ? 3 : 2, 0, ps, pd, NULL, 0, 0));
        const float *y;
        ng_shape ysh;
        CHECK_OK(ng_exec_forward(t.e, x, k->N, &y, &ysh));
        CHECK(ysh.ndim == 4 && ysh.d[1] == k->M && ysh.d[2] == OH && ysh.d[3] == OW);
        CHECK(relerr(what[p], y, ry, ny) < 1e-5);
        ys[p] = malloc(ny * sizeof(float));
        memcpy(ys[p], y, ny * sizeof(float));
        destroy(&t);
        if (paths[p][0]) unsetenv(paths[p][0]);
        unsetenv("NG_PWCONV");
    }
    double *gemm = malloc(ny * sizeof(double));
    for (size_t i = 0; i < ny; i++) gemm[i] = ys[3][i];
    CHECK(relerr("direct against im2col + GEMM", ys[0], gemm, ny) < 1e-5);
    for (int p = 0; p < 4; p++) free(ys[p]);
    free(gemm); free(x); free(w); free(b); free(ry);
}

/* Winograd F(2x2, 3x3) (engine/wconv.c), 3x3 stride-1 group-1 convolutions: ng_wino_fwd called
 * directly on a 2-worker pool with chunk sizes that give one chunk, several shared chunks and
 * per-worker chunks (p.own), with and without Relu, against the double reference within 1e-5 of
 * the output's magnitude; then the Conv node in an inference exec (where ops_conv.c picks Winograd)
 * against the same reference and against NG_WINOGRAD=0 (im2col + GEMM). */
typedef struct wino_case { int64_t N, C, H, W, M, pt, pl, pb, pr; int bias; } wino_case;

/* The wino_case's 3x3 Conv as a one-node exec (training for a backward), its parameters w and b. */
static int wino_node(onenode *t, const wino_case *k, float *w, float *b, int training)
{
    ng_attrs a;
    ng_attrs_default(&a);
    a.pad[0] = k->pt; a.pad[1] = k->pl; a.pad[2] = k->pb; a.pad[3] = k->pr;
    ng_shape xs = shp(4, k->N, k->C, k->H, k->W), ps[2] = { shp(4, k->M, k->C, 3, 3), shp(1, k->M, 0, 0, 0) };
    float *pd[2] = { w, b };
    return build(t, NG_OP_CONV, &a, &xs, k->bias ? 3 : 2, 0, ps, pd, NULL, training, 0);
}

static void test_wino(const wino_case *k)
{
    const int64_t OH = k->H + k->pt + k->pb - 2, OW = k->W + k->pl + k->pr - 2;
    size_t nx = (size_t)(k->N * k->C * k->H * k->W), nw = (size_t)(k->M * k->C * 9), ny = (size_t)(k->N * k->M * OH * OW);
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -0.5f, 0.5f), *b = rnd((size_t)k->M, -1, 1), *y = malloc(ny * sizeof(float));
    double *ry = calloc(ny, sizeof(double)), *rr = calloc(ny, sizeof(double));
    /* a folded Add's other input (res) and the sums with it: bare and through the Relu */
    float *res = rnd(ny, -1, 1);
    double *rs = calloc(ny, sizeof(double)), *rsr = calloc(ny, sizeof(double));
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t m = 0; m < k->M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double sum = k->bias ? b[m] : 0.0;
                    for (int64_t c = 0; c < k->C; c++)
                        for (int64_t i = 0; i < 3; i++)
                            for (int64_t j = 0; j < 3; j++) {
                                int64_t h = oh - k->pt + i, ww = ow - k->pl + j;
                                if (h < 0 || h >= k->H || ww < 0 || ww >= k->W) continue;
                                sum += (double)w[(m * k->C + c) * 9 + i * 3 + j] * x[((n * k->C + c) * k->H + h) * k->W + ww];
                            }
                    size_t yi = (size_t)(((n * k->M + m) * OH + oh) * OW + ow);
                    ry[yi] = sum;
                    rr[yi] = sum > 0.0 ? sum : 0.0;
                    rs[yi] = sum + res[yi];
                    rsr[yi] = rs[yi] > 0.0 ? rs[yi] : 0.0;
                }
    printf("Winograd Conv N%lld C%lld %lldx%lld M%lld pad %lld,%lld,%lld,%lld%s\n", (long long)k->N, (long long)k->C,
           (long long)k->H, (long long)k->W, (long long)k->M, (long long)k->pt, (long long)k->pl, (long long)k->pb,
           (long long)k->pr, k->bias ? " bias" : "");
    ng_pool *pool = ng_pool_new(2);
    CHECK(pool != NULL);
    /* the default (one chunk for these sizes), two chunks of half the tile rows (shared by the workers),
     * one tile row per chunk (each worker its own) */
    const int64_t th = (OH + 1) / 2, tw = (OW + 1) / 2, row_bytes = 16 * (k->C + k->M) * tw * (int64_t)sizeof(float);
    const int64_t chunks[3] = { 0, row_bytes * ((k->N * th + 1) / 2), 1 };
    int saw_shared = 0, saw_own = 0, saw_tr = 0, saw_cb = 0;
    float *U = malloc((size_t)(16 * k->M * k->C) * sizeof(float));
    /* the 16 GEMMs on OpenBLAS (pw 0) and on the pointwise kernel (pw 1, where the CPU has its fast
     * tiles); the weights transformed per call, or once (ng_wino_weights) and passed in (form 2); each
     * without and with a folded Add's other input (ar) */
    for (int form = 0; form < 3; form++)
        for (int ci = 0; ci < 3; ci++)
            for (int it = 0; it < 4; it++) {
                const int relu = it & 1, ar = it >> 1;
                ng_wino p;
                ng_wino_plan(&p, k->N, k->C, k->M, k->H, k->W, k->pt, k->pl, OH, OW, 2, chunks[ci]);
                p.pw = form > 0 && ng_pwconv_fast();
                saw_shared |= !p.own;
                saw_own |= p.own;
                saw_tr |= p.pw && p.tr;
                saw_cb |= p.cb;
                float *scr = malloc((size_t)(form == 2 ? ng_wino_scratch_u(&p) : ng_wino_scratch(&p)) * sizeof(float));
                for (size_t i = 0; i < ny; i++) y[i] = NAN;   /* every output must be written */
                if (form == 2) {
                    for (size_t i = 0; i < (size_t)(16 * k->M * k->C); i++) U[i] = NAN;
                    ng_wino_weights(pool, &p, w, U);
                    ng_wino_fwd_u(pool, &p, x, U, k->bias ? b : NULL, ar ? res : NULL, relu, y, scr);
                } else {
                    ng_wino_fwd(pool, &p, x, w, k->bias ? b : NULL, ar ? res : NULL, relu, y, scr);
                }
                char what[128];
                snprintf(what, sizeof what, "forward y, %lld chunk(s)%s%s%s, %s%s", (long long)p.nchunks,
                         p.own ? " per worker" : "", ar ? ", + residual" : "", relu ? ", Relu" : "",
                         p.pw ? (p.tr ? "small-tile GEMMs" : "pointwise GEMMs") : "OpenBLAS",
                         form == 2 ? ", weights transformed once" : "");
                CHECK(relerr(what, y, ar ? (relu ? rsr : rs) : relu ? rr : ry, ny) < 1e-5);
                free(scr);
            }
    CHECK(saw_shared && saw_own);
    /* the small-tile kernel (wsmall.c) runs wherever M is a multiple of its 64-channel panels: one
     * tile row per chunk is under its 48 tiles in every case */
    if (ng_pwconv_fast()) CHECK(saw_tr == (k->M % NG_WINO_PANEL == 0));
    /* the input transform's gathered writes (ng_wino.cb) where a chunk's V_k are a multiple of 2 KB
     * apart: with one tile row per chunk they are C x tw floats apart */
    if (k->C * tw % 512 == 0) CHECK(saw_cb);
    free(U);
    /* the grid kernel (gconv.h) on the same Conv: every image, with and without bias, Relu, Clip,
     * with each set of tiles the CPU has (NG_DCONV_ISA: 2 AVX-512, 1 AVX2, 0 baseline); then with the
     * residual, bare and through the Relu */
    const ng_gconv gq = { .N = k->N, .C = k->C, .H = k->H, .W = k->W, .M = k->M, .sh = 1, .pt = k->pt,
                          .pl = k->pl, .OH = OH, .OW = OW };
    CHECK(ng_gconv_ok(&gq));
    float *gscr = malloc((size_t)ng_gconv_scratch(&gq) * sizeof(float));
    for (int it = 0; it < 9; it++) {
        const int act = it % 3;
        static const char *const isa[3] = { NULL, "1", "0" };
        if (isa[it / 3]) setenv("NG_DCONV_ISA", isa[it / 3], 1);
        for (size_t i = 0; i < (size_t)ng_gconv_scratch(&gq); i++) gscr[i] = NAN;   /* nothing read unwritten */
        for (size_t i = 0; i < ny; i++) y[i] = NAN;
        ng_gconv_run(pool, &gq, x, w, k->bias ? b : NULL, NULL, act, -2.0f, 4.0f, y, gscr);
        const double *want = act ? rr : ry;
        if (act == NG_PW_CLIP)
            for (size_t i = 0; i < ny; i++) rr[i] = ry[i] < -2.0 ? -2.0 : ry[i] > 4.0 ? 4.0 : ry[i];
        CHECK(relerr(act == 0 ? "grid kernel" : act == NG_PW_RELU ? "grid kernel, Relu" : "grid kernel, Clip", y,
                     want, ny) < 1e-5);
        if (act == NG_PW_CLIP)
            for (size_t i = 0; i < ny; i++) rr[i] = ry[i] > 0.0 ? ry[i] : 0.0;
        unsetenv("NG_DCONV_ISA");
    }
    for (int act = 0; act < 2; act++) {
        for (size_t i = 0; i < (size_t)ng_gconv_scratch(&gq); i++) gscr[i] = NAN;
        for (size_t i = 0; i < ny; i++) y[i] = NAN;
        ng_gconv_run(pool, &gq, x, w, k->bias ? b : NULL, res, act, -2.0f, 4.0f, y, gscr);
        CHECK(relerr(act ? "grid kernel + residual, Relu" : "grid kernel + residual", y, act ? rsr : rs, ny) < 1e-5);
    }
    free(gscr);
    ng_pool_free(pool);
    /* through the exec: Winograd by default in inference (the grid kernel off), im2col + GEMM with
     * NG_WINOGRAD=0 */
    setenv("NG_GCONV", "0", 1);
    float *ys[2];
    for (int off = 0; off < 2; off++) {
        if (off) setenv("NG_WINOGRAD", "0", 1);
        onenode t;
        CHECK(wino_node(&t, k, w, b, 0));
        const float *yo;
        ng_shape ysh;
        CHECK_OK(ng_exec_forward(t.e, x, k->N, &yo, &ysh));
        CHECK(ysh.ndim == 4 && ysh.d[1] == k->M && ysh.d[2] == OH && ysh.d[3] == OW);
        CHECK(relerr(off ? "exec, NG_WINOGRAD=0" : "exec (Winograd)", yo, ry, ny) < 1e-5);
        ys[off] = malloc(ny * sizeof(float));
        memcpy(ys[off], yo, ny * sizeof(float));
        destroy(&t);
        if (off) unsetenv("NG_WINOGRAD");
    }
    /* an exec with const_params (predict's): Winograd from 16 tiles on, its transformed weights made
     * at the first forward and kept: a weight changed behind its back leaves the output as it was
     * (which shows the cache is what ran), ng_exec_params_changed makes it follow (zero weights:
     * the bias alone) */
    build_const = 1;
    onenode t;
    CHECK(wino_node(&t, k, w, b, 0));
    build_const = 0;
    const float *yo;
    ng_shape ysh;
    CHECK_OK(ng_exec_forward(t.e, x, k->N, &yo, &ysh));
    CHECK(relerr("exec with const_params", yo, ry, ny) < 1e-5);
    float *yc = malloc(ny * sizeof(float));
    memcpy(yc, yo, ny * sizeof(float));
    if (k->N == 1) {   /* the same exec on 4 copies of the image and back: the cached U's layout follows
                        * the plan (panels for few tiles at M % 64 == 0, plain for more) */
        float *x4 = malloc(4 * nx * sizeof(float));
        for (int i = 0; i < 4; i++) memcpy(x4 + (size_t)i * nx, x, nx * sizeof(float));
        CHECK_OK(ng_exec_forward(t.e, x4, 4, &yo, &ysh));
        CHECK(ysh.d[0] == 4);
        for (int i = 0; i < 4; i++) CHECK(relerr("exec with const_params, batch 4", yo + (size_t)i * ny, ry, ny) < 1e-5);
        CHECK_OK(ng_exec_forward(t.e, x, 1, &yo, &ysh));
        CHECK(memcmp(yo, yc, ny * sizeof(float)) == 0);
        free(x4);
    }
    float *pw = ng_model_params(t.m) + ng_model_tensor_offset(t.m, 0);
    memset(pw, 0, nw * sizeof(float));
    CHECK_OK(ng_exec_forward(t.e, x, k->N, &yo, &ysh));
    /* every case has 16+ tiles per image: Winograd (and so the cache) wherever its GEMMs run on the
     * pointwise kernel (under 64 tiles only there; the exec may run the images one by one) */
    const char *wpw = getenv("NG_WINO_PW");
    if (ng_pwconv_fast() && !(wpw && wpw[0] == '0'))
        CHECK(memcmp(yo, yc, ny * sizeof(float)) == 0);
    ng_exec_params_changed(t.e);
    CHECK_OK(ng_exec_forward(t.e, x, k->N, &yo, &ysh));
    for (size_t i = 0; i < ny; i++) ry[i] = k->bias ? b[i / (size_t)(OH * OW) % (size_t)k->M] : 0.0;
    CHECK(relerr("exec with const_params after ng_exec_params_changed (zero weights)", yo, ry, ny) < 1e-6);
    destroy(&t);
    free(yc);
    unsetenv("NG_GCONV");
    /* the exec's default with const_params: the grid kernel where the image has few pixels (it reads
     * the weights as they are: a change shows at once) */
    build_const = 1;
    CHECK(wino_node(&t, k, w, b, 0));
    build_const = 0;
    CHECK_OK(ng_exec_forward(t.e, x, k->N, &yo, &ysh));
    for (size_t i = 0; i < ny; i++) rr[i] = ys[1][i];   /* ry holds the bias-only outputs by now */
    CHECK(relerr("exec with const_params, grid kernel where it applies", yo, rr, ny) < 1e-5);
    destroy(&t);
    for (size_t i = 0; i < ny; i++) ry[i] = ys[1][i];
    CHECK(relerr("Winograd against im2col + GEMM", ys[0], ry, ny) < 1e-5);
    free(ys[0]); free(ys[1]);
    free(x); free(w); free(b); free(y); free(ry); free(rr); free(res); free(rs); free(rsr);
}

/* The Winograd data gradient (ng_wino_bwd_data), 3x3 stride-1 Convs with pads in [0, 2]: called
 * directly on a 2-worker pool with the same three chunkings as test_wino, adding into a dX that
 * already holds values (backward accumulates), against the double adjoint within 1e-5 of its
 * magnitude; then the Conv node's backward in a training exec with NG_WINOGRAD_TRAIN=1 (where
 * ops_conv.c picks Winograd for dX) against the same reference and against NG_WINOGRAD=0 (W^T dY + col2im) within 1e-5.
 * The two exec results must differ in some bit: the same numbers would mean Winograd never ran. */
static void test_wino_bwd(const wino_case *k)
{
    const int64_t OH = k->H + k->pt + k->pb - 2, OW = k->W + k->pl + k->pr - 2;
    size_t nx = (size_t)(k->N * k->C * k->H * k->W), nw = (size_t)(k->M * k->C * 9), ny = (size_t)(k->N * k->M * OH * OW);
    float *x = rnd(nx, -1, 1), *w = rnd(nw, -0.5f, 0.5f), *b = rnd((size_t)k->M, -1, 1), *dy = rnd(ny, -1, 1);
    float *dx0 = rnd(nx, -1, 1), *dx = malloc(nx * sizeof(float));
    double *rdx = calloc(nx, sizeof(double)), *racc = malloc(nx * sizeof(double));
    for (int64_t n = 0; n < k->N; n++)
        for (int64_t m = 0; m < k->M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    const double d = dy[((n * k->M + m) * OH + oh) * OW + ow];
                    for (int64_t c = 0; c < k->C; c++)
                        for (int64_t i = 0; i < 3; i++)
                            for (int64_t j = 0; j < 3; j++) {
                                int64_t h = oh - k->pt + i, ww = ow - k->pl + j;
                                if (h < 0 || h >= k->H || ww < 0 || ww >= k->W) continue;
                                rdx[((n * k->C + c) * k->H + h) * k->W + ww] += d * w[(m * k->C + c) * 9 + i * 3 + j];
                            }
                }
    for (size_t i = 0; i < nx; i++) racc[i] = dx0[i] + rdx[i];
    printf("Winograd Conv data gradient N%lld C%lld %lldx%lld M%lld pad %lld,%lld,%lld,%lld\n", (long long)k->N,
           (long long)k->C, (long long)k->H, (long long)k->W, (long long)k->M, (long long)k->pt, (long long)k->pl,
           (long long)k->pb, (long long)k->pr);
    ng_pool *pool = ng_pool_new(2);
    CHECK(pool != NULL);
    /* planned as the forward of dY (M channels, OH x OW) to dX (C channels, H x W) */
    const int64_t th = (k->H + 1) / 2, tw = (k->W + 1) / 2, row_bytes = 16 * (k->C + k->M) * tw * (int64_t)sizeof(float);
    const int64_t chunks[3] = { 0, row_bytes * ((k->N * th + 1) / 2), 1 };
    int saw_shared = 0, saw_own = 0, saw_tr = 0;
    for (int ci = 0; ci < 3; ci++) {
        ng_wino p;
        CHECK(ng_wino_plan_bwd_data(&p, k->N, k->C, k->M, k->H, k->W, k->pt, k->pl, OH, OW, 2, chunks[ci]));
        saw_shared |= !p.own;
        saw_own |= p.own;
        saw_tr |= p.pw && p.tr;
        float *scr = malloc((size_t)ng_wino_scratch(&p) * sizeof(float));
        memcpy(dx, dx0, nx * sizeof(float));
        ng_wino_bwd_data(pool, &p, dy, w, dx, scr);
        char what[96];
        snprintf(what, sizeof what, "dX += Winograd, %lld chunk(s)%s%s", (long long)p.nchunks, p.own ? " per worker" : "",
                 p.pw && p.tr ? ", small-tile GEMMs" : "");
        CHECK(relerr(what, dx, racc, nx) < 1e-5);
        free(scr);
    }
    CHECK(saw_shared && saw_own);
    /* dX's GEMMs have C output channels: the small-tile kernel's panels where C % 64 == 0 */
    if (ng_pwconv_fast()) CHECK(saw_tr == (k->C % NG_WINO_PANEL == 0));
    ng_pool_free(pool);
    float *gx[2];
    setenv("NG_WINOGRAD_TRAIN", "1", 1);   /* Winograd in training is opt-in (exec.c) */
    for (int off = 0; off < 2; off++) {
        if (off) setenv("NG_WINOGRAD", "0", 1);
        onenode t;
        CHECK(wino_node(&t, k, w, b, 1));
        const float *yo;
        ng_shape ysh;
        CHECK_OK(ng_exec_forward(t.e, x, k->N, &yo, &ysh));
        float *gp = calloc(ng_model_nparams(t.m) + 1, sizeof(float));
        gx[off] = calloc(nx, sizeof(float));
        CHECK_OK(ng_exec_backward(t.e, dy, gp, gx[off]));
        CHECK(relerr(off ? "exec backward dX, NG_WINOGRAD=0" : "exec backward dX (Winograd)", gx[off], rdx, nx) < 1e-5);
        free(gp);
        destroy(&t);
        if (off) unsetenv("NG_WINOGRAD");
    }
    unsetenv("NG_WINOGRAD_TRAIN");
    for (size_t i = 0; i < nx; i++) rdx[i] = gx[1][i];
    CHECK(relerr("Winograd dX against W^T dY + col2im", gx[0], rdx, nx) < 1e-5);
    CHECK(memcmp(gx[0], gx[1], nx * sizeof(float)) != 0);
    free(gx[0]); free(gx[1]);
    free(x); free(w); free(b); free(dy); free(dx0); free(dx); free(rdx); free(racc);
}

/* ---------------- Gemm / MatMul ---------------- */

/* Y = alpha op(A) op(B) + beta C with A or B the graph input (the other a parameter). */
static void test_gemm(int64_t M, int64_t N, int64_t K, int ta, int tb, int cdims, int64_t cm, int64_t cn,
                      float alpha, float beta)
{
    /* The graph input must lead with the batch: A (trans_a 0) is [M, K] with M the batch;
     * with trans_a 1, A is a parameter and B the input [N, K] (trans_b 1). */
    int a_input = !ta;
    int fixed = cm > 1 && a_input;   /* C's rows follow the batch */
    if (!a_input && (cn > 1 || !tb)) fixed = 1;   /* A's rows (K) follow the batch when trans_b 0 */
    size_t na = (size_t)(M * K), nb = (size_t)(K * N), nc = (size_t)(cm * cn), ny = (size_t)(M * N);
    float *A = rnd(na, -1, 1), *B = rnd(nb, -1, 1), *C = rnd(nc, -1, 1), *dy = rnd(ny, -1, 1);
    double *ry = calloc(ny, sizeof(double)), *rda = calloc(na, sizeof(double));
    double *rdb = calloc(nb, sizeof(double)), *rdc = calloc(nc, sizeof(double));
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0.0, d = dy[i * N + j];
            for (int64_t p = 0; p < K; p++) {
                size_t ai = (size_t)(ta ? p * M + i : i * K + p), bi = (size_t)(tb ? j * K + p : p * N + j);
                s += (double)A[ai] * B[bi];
                rda[ai] += alpha * d * B[bi];
                rdb[bi] += alpha * d * A[ai];
            }
            size_t ci = (size_t)((cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j));
            ry[i * N + j] = alpha * s + (cdims >= 0 ? beta * C[ci] : 0.0);
            if (cdims >= 0) rdc[ci] += beta * d;
        }
    ng_attrs a;
    ng_attrs_default(&a);
    a.trans_a = ta; a.trans_b = tb; a.alpha = alpha; a.beta = beta;
    ng_shape as = ta ? shp(2, K, M, 0, 0) : shp(2, M, K, 0, 0), bs = tb ? shp(2, N, K, 0, 0) : shp(2, K, N, 0, 0);
    ng_shape cs = cdims == 0 ? shp(0, 0, 0, 0, 0) : cdims == 1 ? shp(1, cn, 0, 0, 0) : shp(2, cm, cn, 0, 0);
    if (cdims < 0) cs.ndim = -1;
    ng_shape ps[2] = { a_input ? bs : as, cs };
    float *pd[2] = { a_input ? B : A, C };
    printf("Gemm M%lld N%lld K%lld trans %d,%d C %dd [%lld,%lld] alpha %g beta %g\n", (long long)M, (long long)N,
           (long long)K, ta, tb, cdims, (long long)cm, (long long)cn, alpha, beta);
    onenode t;
    const float *y;
    ng_shape ys;
    if (!build(&t, NG_OP_GEMM, &a, a_input ? &as : &bs, cdims >= 0 ? 3 : 2, a_input ? 0 : 1, ps, pd, NULL, 0, fixed)) {
        CHECK(0);
        return;
    }
    int64_t batch = a_input ? M : (tb ? N : K);
    CHECK_OK(ng_exec_forward(t.e, a_input ? A : B, batch, &y, &ys));
    CHECK(ys.d[0] == M && ys.d[1] == N);
    CHECK(relerr("forward y", y, ry, ny) < TOL);
    float *gp = calloc(ng_model_nparams(t.m) + 1, sizeof(float)), *gx = calloc(a_input ? na : nb, sizeof(float));
    CHECK_OK(ng_exec_backward(t.e, dy, gp, gx));
    CHECK(relerr("backward dA", a_input ? gx : param(&t, gp, 0), rda, na) < TOL);
    CHECK(relerr("backward dB", a_input ? param(&t, gp, 0) : gx, rdb, nb) < TOL);
    if (cdims >= 0) CHECK(relerr("backward dC", param(&t, gp, 1), rdc, nc) < TOL);
    destroy(&t);
    free(A); free(B); free(C); free(dy); free(ry); free(rda); free(rdb); free(rdc); free(gp); free(gx);
}

/* MatMul: input [N, R, K] (or [N, K] when R == 0) times parameter [K, P]. */
static void test_matmul(int64_t N, int64_t R, int64_t K, int64_t P)
{
    int64_t rows = N * (R ? R : 1);
    size_t na = (size_t)(rows * K), nb = (size_t)(K * P), ny = (size_t)(rows * P);
    float *A = rnd(na, -1, 1), *B = rnd(nb, -1, 1), *dy = rnd(ny, -1, 1);
    double *ry = calloc(ny, sizeof(double)), *rda = calloc(na, sizeof(double)), *rdb = calloc(nb, sizeof(double));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < P; j++) {
            double s = 0.0, d = dy[i * P + j];
            for (int64_t p = 0; p < K; p++) {
                s += (double)A[i * K + p] * B[p * P + j];
                rda[i * K + p] += d * B[p * P + j];
                rdb[p * P + j] += d * A[i * K + p];
            }
            ry[i * P + j] = s;
        }
    ng_attrs a;
    ng_attrs_default(&a);
    ng_shape xs = R ? shp(3, N, R, K, 0) : shp(2, N, K, 0, 0), ps[1] = { shp(2, K, P, 0, 0) };
    float *pd[1] = { B };
    printf("MatMul [%lld,%lld,%lld] x [%lld,%lld]\n", (long long)N, (long long)R, (long long)K, (long long)K, (long long)P);
    onenode t;
    const float *y;
    ng_shape ys;
    CHECK(build(&t, NG_OP_MATMUL, &a, &xs, 2, 0, ps, pd, NULL, 0, 0));
    CHECK_OK(ng_exec_forward(t.e, A, N, &y, &ys));
    CHECK(ys.ndim == xs.ndim && ys.d[ys.ndim - 1] == P);
    CHECK(relerr("forward y", y, ry, ny) < TOL);
    float *gp = calloc(ng_model_nparams(t.m) + 1, sizeof(float)), *gx = calloc(na, sizeof(float));
    CHECK_OK(ng_exec_backward(t.e, dy, gp, gx));
    CHECK(relerr("backward dA", gx, rda, na) < TOL);
    CHECK(relerr("backward dB", param(&t, gp, 0), rdb, nb) < TOL);
    destroy(&t);
    free(A); free(B); free(dy); free(ry); free(rda); free(rdb); free(gp); free(gx);
}

/* ---------------- pooling ---------------- */

typedef struct pool_case { int64_t N, C, H, W, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw; int ceil, incl; } pool_case;

/* Output length, written out from the definition (PyTorch's ceil rule). */
static int64_t out_len(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t d, int ceil)
{
    double q = (double)(in + p0 + p1 - d * (k - 1) - 1) / (double)s;
    int64_t o = (int64_t)(ceil ? ceilf((float)q) : floorf((float)q)) + 1;
    if (ceil && (o - 1) * s >= in + p0) o--;
    return o;
}

static void test_pool(ng_op op, const pool_case *k, int training)
{
    int avg = op == NG_OP_AVGPOOL;
    int64_t OH = out_len(k->H, k->kh, k->sh, k->pt, k->pb, k->dh, k->ceil);
    int64_t OW = out_len(k->W, k->kw, k->sw, k->pl, k->pr, k->dw, k->ceil);
    size_t nx = (size_t)(k->N * k->C * k->H * k->W), ny = (size_t)(k->N * k->C * OH * OW);
    float *x = rnd(nx, -2, 2), *dy = rnd(ny, -1, 1);
    double *ry = calloc(ny, sizeof(double)), *rdx = calloc(nx, sizeof(double));
    for (int64_t p = 0; p < k->N * k->C; p++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                size_t yi = (size_t)((p * OH + oh) * OW + ow);
                double best = -INFINITY, sum = 0.0;
                int64_t at = -1, inside = 0, padded = 0;
                /* every kernel tap: in the input, in the padding, or beyond the padding (ceil_mode) */
                for (int64_t i = 0; i < k->kh; i++)
                    for (int64_t j = 0; j < k->kw; j++) {
                        int64_t h = oh * k->sh - k->pt + i * k->dh, w = ow * k->sw - k->pl + j * k->dw;
                        if (h >= -k->pt && h < k->H + k->pb && w >= -k->pl && w < k->W + k->pr) padded++;
                        if (h < 0 || h >= k->H || w < 0 || w >= k->W) continue;
                        size_t xi = (size_t)((p * k->H + h) * k->W + w);
                        inside++;
                        sum += x[xi];
                        if (x[xi] > best) { best = x[xi]; at = (int64_t)xi; }
                    }
                if (avg) {
                    int64_t div = k->incl ? padded : inside;
                    ry[yi] = sum / (double)div;
                    for (int64_t i = 0; i < k->kh; i++)
                        for (int64_t j = 0; j < k->kw; j++) {
                            int64_t h = oh * k->sh - k->pt + i, w = ow * k->sw - k->pl + j;
                            if (h >= 0 && h < k->H && w >= 0 && w < k->W)
                                rdx[(p * k->H + h) * k->W + w] += dy[yi] / (double)div;
                        }
                } else {
                    ry[yi] = best;
                    rdx[at] += dy[yi];
                }
            }
    ng_attrs a;
    ng_attrs_default(&a);
    a.kernel[0] = k->kh; a.kernel[1] = k->kw; a.stride[0] = k->sh; a.stride[1] = k->sw;
    a.pad[0] = k->pt; a.pad[1] = k->pl; a.pad[2] = k->pb; a.pad[3] = k->pr;
    a.dilation[0] = k->dh; a.dilation[1] = k->dw; a.ceil_mode = k->ceil; a.count_include_pad = k->incl;
    ng_shape xs = shp(4, k->N, k->C, k->H, k->W);
    printf("%s N%lld C%lld %lldx%lld k%lldx%lld s%lld,%lld pad %lld,%lld,%lld,%lld dil %lld,%lld ceil %d%s%s -> %lldx%lld\n",
           avg ? "AveragePool" : "MaxPool", (long long)k->N, (long long)k->C, (long long)k->H, (long long)k->W,
           (long long)k->kh, (long long)k->kw, (long long)k->sh, (long long)k->sw, (long long)k->pt, (long long)k->pl,
           (long long)k->pb, (long long)k->pr, (long long)k->dh, (long long)k->dw, k->ceil,
           avg ? (k->incl ? " count_include_pad" : " exclude_pad") : "", training ? " training" : "",
           (long long)OH, (long long)OW);
    onenode t;
    const float *y;
    ng_shape ys;
    CHECK(build(&t, op, &a, &xs, 1, 0, NULL, NULL, NULL, training, 0));
    CHECK_OK(ng_exec_forward(t.e, x, k->N, &y, &ys));
    CHECK(ys.d[2] == OH && ys.d[3] == OW);
    CHECK(relerr("forward y", y, ry, ny) < TOL);
    float *gx = calloc(nx, sizeof(float));
    CHECK_OK(ng_exec_backward(t.e, dy, NULL, gx));
    CHECK(relerr("backward dX", gx, rdx, nx) < TOL);
    destroy(&t);
    free(x); free(dy); free(ry); free(rdx); free(gx);
}

static void test_gap(int64_t N, int64_t C, int64_t H, int64_t W)
{
    size_t nx = (size_t)(N * C * H * W), ny = (size_t)(N * C);
    float *x = rnd(nx, -1, 1), *dy = rnd(ny, -1, 1);
    double *ry = calloc(ny, sizeof(double)), *rdx = calloc(nx, sizeof(double));
    for (size_t p = 0; p < ny; p++) {
        for (int64_t i = 0; i < H * W; i++) ry[p] += x[p * (size_t)(H * W) + (size_t)i];
        ry[p] /= (double)(H * W);
        for (int64_t i = 0; i < H * W; i++) rdx[p * (size_t)(H * W) + (size_t)i] = dy[p] / (double)(H * W);
    }
    ng_attrs a;
    ng_attrs_default(&a);
    ng_shape xs = shp(4, N, C, H, W);
    printf("GlobalAveragePool N%lld C%lld %lldx%lld\n", (long long)N, (long long)C, (long long)H, (long long)W);
    onenode t;
    const float *y;
    ng_shape ys;
    CHECK(build(&t, NG_OP_GLOBALAVGPOOL, &a, &xs, 1, 0, NULL, NULL, NULL, 0, 0));
    CHECK_OK(ng_exec_forward(t.e, x, N, &y, &ys));
    CHECK(ys.ndim == 4 && ys.d[1] == C && ys.d[2] == 1 && ys.d[3] == 1);
    CHECK(relerr("forward y", y, ry, ny) < TOL);
    float *gx = calloc(nx, sizeof(float));
    CHECK_OK(ng_exec_backward(t.e, dy, NULL, gx));
    CHECK(relerr("backward dX", gx, rdx, nx) < TOL);
    destroy(&t);
    free(x); free(dy); free(ry); free(rdx); free(gx);
}

/* ---------------- BatchNormalization ---------------- */

/* Reference BN forward in double; training uses batch statistics (biased variance). */
static void bn_ref(const double *x, int64_t N, int64_t C, int64_t S, const float *sc, const float *bi,
                   const float *rm, const float *rv, double eps, int training, double *y, double *bm, double *bv)
{
    for (int64_t c = 0; c < C; c++) {
        double mu = rm[c], var = rv[c];
        if (training) {
            double s = 0, q = 0;
            for (int64_t n = 0; n < N; n++) for (int64_t i = 0; i < S; i++) s += x[(n * C + c) * S + i];
            mu = s / (double)(N * S);
            for (int64_t n = 0; n < N; n++)
                for (int64_t i = 0; i < S; i++) { double d = x[(n * C + c) * S + i] - mu; q += d * d; }
            var = q / (double)(N * S);
        }
        if (bm) { bm[c] = mu; bv[c] = var; }
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++)
                y[(n * C + c) * S + i] = sc[c] * (x[(n * C + c) * S + i] - mu) / sqrt(var + eps) + bi[c];
    }
}

static void test_bn(int64_t N, int64_t C, int64_t H, int64_t W, int training)
{
    int64_t S = H ? H * W : 1;
    size_t nx = (size_t)(N * C * S);
    float *x = rnd(nx, -1, 3), *dy = rnd(nx, -1, 1);
    float *sc = rnd((size_t)C, 0.5f, 1.5f), *bi = rnd((size_t)C, -1, 1), *rm = rnd((size_t)C, -0.5f, 0.5f);
    float *rv = rnd((size_t)C, 0.5f, 2.0f);
    double *xd = malloc(nx * sizeof(double)), *ry = malloc(nx * sizeof(double)), *yp = malloc(nx * sizeof(double));
    double *rdx = calloc(nx, sizeof(double)), *bm = malloc((size_t)C * sizeof(double)), *bv = malloc((size_t)C * sizeof(double));
    double *rds = calloc((size_t)C, sizeof(double)), *rdb = calloc((size_t)C, sizeof(double));
    double eps = 1e-5, mom = 0.9;
    for (size_t i = 0; i < nx; i++) xd[i] = x[i];
    bn_ref(xd, N, C, S, sc, bi, rm, rv, eps, training, ry, bm, bv);
    /* dscale, dB from the definition; dX by central differences of L = sum(dy * y(x)) */
    for (int64_t c = 0; c < C; c++)
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < S; i++) {
                size_t k = (size_t)((n * C + c) * S + i);
                rds[c] += dy[k] * (xd[k] - bm[c]) / sqrt(bv[c] + eps);
                rdb[c] += dy[k];
            }
    for (size_t k = 0; k < nx; k++) {
        double h = 1e-5, lp = 0, lm = 0;
        xd[k] += h; bn_ref(xd, N, C, S, sc, bi, rm, rv, eps, training, yp, NULL, NULL);
        for (size_t i = 0; i < nx; i++) lp += dy[i] * yp[i];
        xd[k] -= 2 * h; bn_ref(xd, N, C, S, sc, bi, rm, rv, eps, training, yp, NULL, NULL);
        for (size_t i = 0; i < nx; i++) lm += dy[i] * yp[i];
        xd[k] += h;
        rdx[k] = (lp - lm) / (2 * h);
    }
    ng_attrs a;
    ng_attrs_default(&a);
    a.epsilon = (float)eps; a.momentum = (float)mom;
    ng_shape xs = H ? shp(4, N, C, H, W) : shp(2, N, C, 0, 0), cs = shp(1, C, 0, 0, 0);
    ng_shape ps[4] = { cs, cs, cs, cs };
    float *pd[4] = { sc, bi, rm, rv };
    int tr[4] = { 1, 1, 0, 0 };
    printf("BatchNormalization N%lld C%lld %lldx%lld %s\n", (long long)N, (long long)C, (long long)H, (long long)W,
           training ? "training" : "inference");
    onenode t;
    const float *y;
    ng_shape ys;
    CHECK(build(&t, NG_OP_BATCHNORM, &a, &xs, 5, 0, ps, pd, tr, training, 0));
    CHECK_OK(ng_exec_forward(t.e, x, N, &y, &ys));
    CHECK(relerr("forward y", y, ry, nx) < TOL);
    /* running statistics: unchanged in inference; in training m*old + (1-m)*batch, unbiased variance */
    const float *params = ng_model_params_c(t.m);
    const float *nrm = params + ng_model_tensor_offset(t.m, 2), *nrv = params + ng_model_tensor_offset(t.m, 3);
    double cnt = (double)(N * S), e_m = 0, e_v = 0;
    for (int64_t c = 0; c < C; c++) {
        double wm = training ? mom * rm[c] + (1 - mom) * bm[c] : rm[c];
        double wv = training ? mom * rv[c] + (1 - mom) * bv[c] * cnt / (cnt - 1) : rv[c];
        e_m = fmax(e_m, fabs(nrm[c] - wm));
        e_v = fmax(e_v, fabs(nrv[c] - wv) / wv);
    }
    printf("  %-44s mean err %.3g  var rel err %.3g\n", "running statistics", e_m, e_v);
    CHECK(e_m < 1e-6 && e_v < 1e-6);
    float *gp = calloc(ng_model_nparams(t.m) + 1, sizeof(float)), *gx = calloc(nx, sizeof(float));
    CHECK_OK(ng_exec_backward(t.e, dy, gp, gx));
    CHECK(relerr("backward dX (vs finite differences)", gx, rdx, nx) < 1e-4);
    CHECK(relerr("backward dscale", param(&t, gp, 0), rds, (size_t)C) < TOL);
    CHECK(relerr("backward dB", param(&t, gp, 1), rdb, (size_t)C) < TOL);
    double zero = 0;
    for (int64_t c = 0; c < C; c++) zero += fabs(param(&t, gp, 2)[c]) + fabs(param(&t, gp, 3)[c]);
    CHECK(zero == 0.0);   /* no gradient to running statistics */
    destroy(&t);
    free(x); free(dy); free(sc); free(bi); free(rm); free(rv); free(xd); free(ry); free(yp);
    free(rdx); free(bm); free(bv); free(rds); free(rdb); free(gp); free(gx);
}

/* Training statistics over planes longer than the kernel's float-lane pieces (65,536 floats: a
 * 300 x 300 plane is split in two) and far from zero (x in [100, 101): the one-pass combination of
 * per-piece deviations must not cancel): y and the running variance against the double reference. */
static void test_bn_long(void)
{
    const int64_t N = 2, C = 2, H = 300, W = 300, S = H * W;
    const size_t nx = (size_t)(N * C * S);
    float *x = rnd(nx, 100, 101), sc[2] = { 1.0f, 0.5f }, bi[2] = { 0.0f, 0.25f }, rm[2] = { 0, 0 }, rv[2] = { 1, 1 };
    double *xd = malloc(nx * sizeof(double)), *ry = malloc(nx * sizeof(double)), bm[2], bv[2], eps = 1e-5;
    for (size_t i = 0; i < nx; i++) xd[i] = x[i];
    bn_ref(xd, N, C, S, sc, bi, rm, rv, eps, 1, ry, bm, bv);
    ng_attrs a;
    ng_attrs_default(&a);
    a.epsilon = (float)eps; a.momentum = 0.0f;   /* running statistics = the batch's */
    ng_shape xs = shp(4, N, C, H, W), cs = shp(1, C, 0, 0, 0);
    ng_shape ps[4] = { cs, cs, cs, cs };
    float *pd[4] = { sc, bi, rm, rv };
    int tr[4] = { 1, 1, 0, 0 };
    printf("BatchNormalization N%lld C%lld %lldx%lld training (planes in two pieces, x near 100)\n", (long long)N,
           (long long)C, (long long)H, (long long)W);
    onenode t;
    const float *y;
    ng_shape ys;
    CHECK(build(&t, NG_OP_BATCHNORM, &a, &xs, 5, 0, ps, pd, tr, 1, 0));
    CHECK_OK(ng_exec_forward(t.e, x, N, &y, &ys));
    CHECK(relerr("forward y", y, ry, nx) < TOL);
    const float *nrv = ng_model_params_c(t.m) + ng_model_tensor_offset(t.m, 3);
    double e_v = 0, cnt = (double)(N * S);
    for (int64_t c = 0; c < C; c++) e_v = fmax(e_v, fabs(nrv[c] - bv[c] * cnt / (cnt - 1)) / (bv[c] * cnt / (cnt - 1)));
    printf("  %-44s var rel err %.3g (var %.4f)\n", "running variance", e_v, bv[0]);
    CHECK(e_v < 1e-5);
    destroy(&t);
    free(x); free(xd); free(ry);
}

/* A hand computation for the running-statistics update, independent of the reference code:
 * one channel, x = {1, 2, 3, 6}: mean 3, biased var 3.5, unbiased var 14/3. */
static void test_bn_hand(void)
{
    float x[4] = { 1, 2, 3, 6 }, p[4][1] = { { 2.0f }, { 0.5f }, { 1.0f }, { 2.0f } };
    ng_attrs a;
    ng_attrs_default(&a);
    a.momentum = 0.9f; a.epsilon = 1e-5f;
    ng_shape xs = shp(4, 1, 1, 2, 2), cs = shp(1, 1, 0, 0, 0), ps[4] = { cs, cs, cs, cs };
    float *pd[4] = { p[0], p[1], p[2], p[3] };
    int tr[4] = { 1, 1, 0, 0 };
    onenode t;
    const float *y;
    ng_shape ys;
    CHECK(build(&t, NG_OP_BATCHNORM, &a, &xs, 5, 0, ps, pd, tr, 1, 0));
    CHECK_OK(ng_exec_forward(t.e, x, 1, &y, &ys));
    const float *pr = ng_model_params_c(t.m);
    CHECK_NEAR(pr[ng_model_tensor_offset(t.m, 2)], 0.9 * 1.0 + 0.1 * 3.0, 1e-6);          /* 1.2 */
    CHECK_NEAR(pr[ng_model_tensor_offset(t.m, 3)], 0.9 * 2.0 + 0.1 * 14.0 / 3.0, 1e-6);   /* 2.2666... */
    CHECK_NEAR(y[3], 2.0 * (6 - 3) / sqrt(3.5 + 1e-5) + 0.5, 1e-5);
    destroy(&t);
}

/* abt.h (a training Conv's dW += dY col^T) on its own, with each set of tiles the CPU has
 * (NG_DCONV_ISA: 2 AVX-512, 1 AVX2, 0 baseline): rows past the 4 / 2-row blocks, columns past the
 * 6 / 2-column blocks, pixels past the last vector of 16 and past a chunk of 1024, strides wider
 * than the rows, and D's earlier values kept (it adds). */
static void test_abt(int64_t M, int64_t N, int64_t P)
{
    const int64_t lda = P + 3, ldb = P + 5, ldd = N + 2;
    float *a = rnd((size_t)(M * lda), -1, 1), *b = rnd((size_t)(N * ldb), -1, 1), *d0 = rnd((size_t)(M * ldd), -1, 1);
    float *d = malloc(sizeof(float) * (size_t)(M * ldd));
    double *want = malloc(sizeof(double) * (size_t)(M * ldd));
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < ldd; n++) {
            double s = d0[m * ldd + n];
            for (int64_t p = 0; n < N && p < P; p++) s += (double)a[m * lda + p] * b[n * ldb + p];
            want[m * ldd + n] = s;
        }
    static const char *const isa[3] = { NULL, "1", "0" };
    for (int i = 0; i < 3; i++) {
        if (isa[i]) setenv("NG_DCONV_ISA", isa[i], 1);
        memcpy(d, d0, sizeof(float) * (size_t)(M * ldd));
        const ng_abt q = { .M = M, .N = N, .P = P, .a = a, .lda = lda, .b = b, .ldb = ldb, .d = d, .ldd = ldd };
        ng_abt_serial(&q);
        char what[96];
        snprintf(what, sizeof what, "abt M %lld N %lld P %lld isa cap %s", (long long)M, (long long)N, (long long)P,
                 isa[i] ? isa[i] : "none");
        CHECK(relerr(what, d, want, (size_t)(M * ldd)) < TOL);
        if (isa[i]) unsetenv("NG_DCONV_ISA");
    }
    free(a); free(b); free(d0); free(d); free(want);
}

int main(void)
{
    CHECK_OK(ng_init());
    ng_rng_seed(&rng, 7);
    static const conv_case convs[] = {
        /* N  C  H  W   M kh kw sh sw pt pl pb pr dh dw g bias */
        { 1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1 },   /* LeNet c1, batch 1 */
        { 7, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },  /* LeNet c2, batch 7 */
        { 7, 4, 11, 13, 6, 3, 3, 2, 2, 1, 0, 2, 1, 1, 1, 2, 1 },   /* groups 2, stride 2, asymmetric pads */
        { 3, 6, 9, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, 1 },    /* depthwise */
        { 2, 4, 7, 9, 8, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 4, 0 },     /* depthwise x2 multiplier, no bias */
        { 7, 8, 7, 7, 12, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },    /* 1x1 direct */
        { 1, 5, 6, 7, 4, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1 },     /* 1x1 stride 2 */
        { 2, 3, 12, 11, 5, 3, 2, 2, 1, 2, 1, 0, 3, 2, 2, 1, 1 },   /* dilation 2, odd everything */
        { 1, 16, 20, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }, /* batch 1, large: split GEMMs */
        { 7, 3, 5, 5, 2, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0 },     /* kernel = image */
        { 2, 3, 10, 9, 4, 3, 3, 1, 1, 2, 0, 1, 2, 2, 2, 1, 1 },    /* stride 1, dilation 2, asymmetric pads */
        { 7, 2, 6, 5, 4, 3, 2, 1, 1, 0, 3, 2, 0, 1, 1, 2, 1 },     /* stride 1, groups 2, left pad > kernel */
        /* depthwise (group == C == M): the direct kernel of engine/dwconv.c */
        { 7, 8, 9, 10, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 8, 1 },   /* stride 2, pad 1, batch 7 */
        { 1, 16, 14, 14, 16, 3, 3, 2, 2, 0, 1, 1, 0, 1, 1, 16, 1 },/* batch 1, stride 2, asymmetric pads */
        { 2, 5, 11, 9, 5, 3, 5, 1, 2, 2, 0, 1, 3, 2, 1, 5, 0 },    /* dilation 2x1, 3x5 kernel, strides 1x2, no bias */
        { 3, 4, 6, 6, 4, 5, 5, 3, 3, 4, 4, 4, 4, 1, 1, 4, 1 },     /* stride 3, pads 4: taps entirely in the padding */
        { 7, 3, 5, 7, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 3, 1 },     /* 1x1 depthwise */
        { 1, 6, 5, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 6, 1 },     /* dilation 3 on a 5x6 image: most taps outside */
        { 2, 3, 8, 70, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3, 1 },    /* wide rows (OW >= 32: row by row), stride 2 */
        { 1, 2, 5, 40, 2, 3, 3, 1, 1, 1, 2, 0, 1, 1, 2, 2, 0 },    /* wide rows, stride 1, dilation 1x2 */
        { 1, 4, 40, 36, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1 },   /* 3x3 rows kernel, stride 1, OW 36: overlapping last vector */
        { 2, 3, 13, 70, 3, 3, 3, 2, 2, 0, 1, 2, 1, 1, 1, 3, 1 },   /* 3x3 rows kernel, stride 2, asymmetric pads, OW 35 */
        /* 3x3 stride 1 pad 1: the flat kernel (vectors across row ends, masked edge columns) */
        { 2, 5, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5, 1 },     /* 7x7: a vector spans 3 rows */
        { 1, 3, 4, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0 },     /* 16 pixels: one vector, no bias */
        { 1, 2, 20, 1, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1 },    /* one column: both edge taps masked */
        { 3, 4, 14, 13, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 1 },   /* 14x13, last vector overlaps */
        { 1, 3, 3, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1 },     /* 15 pixels: not taken */
        /* 3x3 stride 2, outputs under 32 columns: rows of vectors on the padded plane */
        { 2, 3, 40, 44, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3, 1 },   /* OW 22: the row's last vector overlaps */
        { 1, 4, 31, 33, 4, 3, 3, 2, 2, 0, 1, 1, 0, 1, 1, 4, 0 },   /* OW 16 exactly, asymmetric pads, no bias */
        /* batch 1, group 1: one image split over the workers (conv_fwd_one) */
        { 1, 24, 40, 40, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 }, /* 1x1: blocks of output rows */
        { 1, 3, 45, 47, 20, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1 },  /* ResNet's stem: im2col, blocks of rows */
        /* inference, large outputs: im2col and the pointwise kernel per block of output rows (4-5 blocks, the last short) */
        { 1, 3, 112, 110, 20, 7, 7, 2, 2, 3, 3, 3, 2, 1, 1, 1, 1 }, /* the stem at 56x55 */
        { 1, 16, 160, 96, 24, 3, 3, 2, 2, 1, 0, 1, 0, 1, 1, 1, 0 },/* 3x3 stride 2, asymmetric pads, no bias */
        { 5, 3, 40, 38, 8, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1 },   /* batch 5: one block per image */
        { 1, 40, 5, 5, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },   /* small output: blocks of 48 / 24 channels */
        { 1, 36, 7, 7, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0 },   /* stride 2, channel blocks, no bias */
        { 3, 16, 9, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },  /* dX by the direct kernel, 16-channel tiles */
        { 2, 16, 8, 9, 8, 3, 3, 1, 1, 0, 2, 2, 0, 1, 1, 1, 1 },    /* the same, asymmetric pads (0 / 2 rows, 2 / 0 cols) */
        { 1, 64, 9, 9, 45, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },   /* inference: im2col + the pointwise kernel, K 576 */
        { 1, 20, 12, 12, 12, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1 },  /* 1x1 stride 2 (ResNet's downsample), 36 pixels */
        { 1, 8, 9, 9, 23, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },    /* 1x1, M 23: rows in blocks of 8 (or 6), 4, 2, 1 */
        { 1, 20, 12, 12, 22, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0 },  /* 1x1 stride 2, M 22 (.., 4, 2), no bias */
        /* inference at batch 1, 3x3 stride 2, at most 784 outputs: the grid kernel on the four phases
         * of the padded image (gconv.h); odd and even sizes and pads move which phase each tap reads */
        { 1, 24, 28, 28, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 }, /* resnet18's layer2.0.conv1, smaller */
        { 1, 16, 15, 13, 24, 3, 3, 2, 2, 0, 1, 1, 0, 1, 1, 1, 0 }, /* odd image, asymmetric pads, no bias */
        { 1, 17, 11, 9, 20, 3, 3, 2, 2, 2, 0, 1, 2, 1, 1, 1, 1 },  /* a top pad of 2, odd channels */
        { 1, 32, 14, 14, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 }, /* 7x7 output, rows past the 6-row tiles */
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(convs); i++) test_conv(&convs[i]);
    /* Stride 1, padded grid at most twice the output width, Mg <= 32, K <= 160: the direct kernel. */
    static const conv_case dconvs[] = {
        /* N  C  H  W   M kh kw sh sw pt pl pb pr dh dw g bias */
        { 3, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1 },   /* LeNet c1: 6-channel tiles, L = 896 */
        { 5, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },  /* LeNet c2: 8-channel tiles, L = 140 */
        { 2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },    /* M 5: padded channel block */
        { 4, 2, 10, 9, 7, 3, 2, 1, 1, 2, 0, 1, 2, 2, 2, 1, 0 },    /* M 7, asymmetric pads, dilation 2, no bias */
        { 7, 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1 },     /* groups 2 (Mg 3), batch 7 */
        { 3, 8, 7, 7, 12, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },    /* 1x1 */
        { 1, 8, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },  /* M 32, batch 1 */
        { 2, 16, 6, 7, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },   /* K 144, 24 channels (3 blocks of 8) */
        { 1, 2, 3, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },     /* tiny: one tile, mostly padding */
        /* Mg % 16 == 0 on AVX-512: the 16-channel tiles (2 rows x 8/10/12 columns) */
        { 3, 5, 9, 13, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },   /* OH odd, OW 13: 8-column tiles, junk */
        { 2, 4, 6, 30, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 },   /* 2 channel blocks, OW 30: 10 columns */
        { 2, 6, 11, 14, 16, 3, 2, 1, 1, 0, 2, 2, 1, 2, 2, 1, 1 },  /* dilation 2, asymmetric pads */
        { 2, 6, 8, 8, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1 },    /* groups 2 (Mg 16) */
        { 1, 3, 5, 5, 16, 1, 2, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1 },    /* 1x2, OW 5 */
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(dconvs); i++) {
        test_conv(&dconvs[i]);
        test_conv_direct(&dconvs[i]);
    }

    /* 1x1 stride 1, at least 16 pixels: the pointwise kernel in inference (test_conv: training's GEMM) */
    static const conv_case pwconvs[] = {
        /* N  C  H  W   M kh kw sh sw pt pl pb pr dh dw g bias */
        { 1, 7, 4, 4, 13, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },    /* 16 pixels, M 13: blocks of 8, 4, 1 */
        { 1, 19, 7, 7, 21, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0 },   /* 49 pixels: last vector overlaps, no bias */
        { 3, 24, 10, 10, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 }, /* batch 3, 100 pixels */
        { 1, 64, 14, 14, 96, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 }, /* batch 1, 14x14: split by channel blocks */
        { 1, 16, 40, 40, 27, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 }, /* batch 1, 1600 pixels: split by pixel chunks */
        { 2, 600, 30, 30, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },/* K 600: 5 chunks of 192 pixels, tail 132 */
        { 2, 33, 3, 5, 10, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 },   /* 15 pixels: not taken (GEMM) */
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(pwconvs); i++) {
        test_conv(&pwconvs[i]);
        test_conv_direct(&pwconvs[i]);
    }

    static const wino_case winos[] = {
        /* N  C  H   W   M pt pl pb pr bias */
        { 2, 20, 15, 13, 20, 1, 1, 1, 1, 1 },   /* odd output: half tiles on the right and bottom */
        { 3, 24, 12, 16, 40, 1, 1, 1, 1, 0 },   /* even, no bias */
        { 3, 16, 11, 9, 33, 2, 0, 1, 3, 1 },    /* asymmetric pads (pr 3: a tile column of padding) */
        { 1, 64, 16, 16, 64, 1, 1, 1, 1, 1 },   /* batch 1, resnet-like channels */
        { 1, 48, 7, 7, 40, 1, 1, 1, 1, 1 },     /* batch 1, 7x7: 16 tiles (const_params execs only) */
        { 1, 16, 34, 34, 40, 1, 1, 1, 1, 0 },   /* 17 tile rows of 17: chunks of unequal tiles */
        { 1, 40, 7, 7, 128, 1, 1, 1, 1, 1 },    /* resnet18's layer4 at batch 1, smaller: 16 tiles, two
                                                   panels of the small-tile kernel (6 + 6 + 4 tiles) */
        { 1, 24, 9, 11, 64, 1, 1, 1, 1, 0 },    /* 5 x 6 tiles: tile groups of 6 and a rest per row chunk */
        { 1, 128, 7, 7, 64, 1, 1, 1, 1, 1 },    /* 16 tiles of 128 channels: the V_k 8 KB apart, as
                                                   resnet18's layer4 (32 KB): gathered writes */
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(winos); i++) test_wino(&winos[i]);
    static const wino_case wbwds[] = {
        /* N  C  H   W   M pt pl pb pr bias; tiles over H x W at least 64, C * M >= 1024, H x W >= 100 */
        { 1, 32, 15, 17, 32, 1, 1, 1, 1, 1 },   /* batch 1, odd sizes: 72 tiles */
        { 3, 33, 11, 10, 40, 1, 1, 1, 1, 0 },   /* batch 3, C not a multiple of 8 */
        { 3, 16, 10, 13, 67, 0, 2, 2, 0, 1 },   /* asymmetric pads, M 67 */
        { 2, 41, 13, 12, 32, 2, 2, 2, 2, 0 },   /* pad 2: OH = H + 2 */
        { 4, 32, 14, 14, 64, 1, 1, 1, 1, 1 },   /* vgg-small-like */
        { 1, 64, 15, 17, 32, 1, 1, 1, 1, 0 },   /* C 64: dX's GEMMs on the small-tile kernel (9-tile chunks) */
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(wbwds); i++) test_wino_bwd(&wbwds[i]);

    test_abt(4, 6, 16);      /* one full tile, one vector */
    test_abt(7, 11, 37);     /* 4 + 3 rows, 6 + 5 columns, 2 vectors + 5 pixels */
    test_abt(3, 2, 5);       /* under one vector */
    test_abt(32, 288, 784);  /* vgg-small's features.3 per image (K 288) */
    test_abt(13, 17, 2061);  /* two chunks of 1024 and 13 pixels */

    test_gemm(7, 5, 9, 0, 0, 1, 1, 5, 1.0f, 1.0f);       /* C [N] */
    test_gemm(64, 120, 400, 0, 1, 1, 1, 120, 1.0f, 1.0f); /* LeNet f1 (split GEMMs) */
    test_gemm(7, 5, 9, 0, 1, 2, 1, 5, 0.5f, 2.0f);       /* C [1,N], alpha, beta */
    test_gemm(7, 5, 9, 0, 0, 2, 7, 5, 1.5f, -1.0f);      /* C [M,N] */
    test_gemm(7, 5, 9, 0, 1, 2, 7, 1, 1.0f, 0.5f);       /* C [M,1] */
    test_gemm(7, 5, 9, 0, 0, 0, 1, 1, 1.0f, 3.0f);       /* C scalar */
    test_gemm(7, 5, 9, 0, 1, -1, 1, 1, 2.0f, 1.0f);      /* no C */
    test_gemm(6, 7, 9, 1, 1, 2, 6, 1, 1.0f, 1.0f);       /* trans_a (A parameter, B input), C [M,1] */
    test_gemm(6, 7, 9, 1, 1, 1, 1, 7, 1.0f, 1.0f);       /* trans_a, C [N] */
    test_gemm(40, 70, 90, 1, 1, 2, 40, 70, 0.75f, 1.0f); /* trans_a, larger */
    test_gemm(6, 7, 9, 1, 0, 1, 1, 7, 1.0f, 1.0f);       /* trans_a, trans_b 0 (B input [K, N]) */
    test_gemm(10, 500, 300, 0, 1, 1, 1, 500, 1.0f, 1.0f); /* wide: split over columns */
    /* at most 4 rows: one sgemv per row, columns split over the workers (N >= 128) */
    test_gemm(1, 1000, 320, 0, 1, 1, 1, 1000, 1.0f, 1.0f); /* a classifier at batch 1 */
    test_gemm(3, 203, 77, 0, 0, 2, 3, 203, 0.5f, 2.0f);    /* trans_b 0, C [M,N], odd columns */
    test_gemm(2, 9, 5, 0, 1, -1, 1, 1, 2.0f, 1.0f);        /* no C, one block */
    test_gemm(4, 150, 33, 0, 1, 2, 4, 1, 1.0f, 0.5f);      /* C [M,1] */

    test_matmul(7, 0, 9, 5);
    test_matmul(3, 4, 6, 5);
    test_matmul(64, 0, 300, 100);

    static const pool_case pools[] = {
        /* N  C  H   W kh kw sh sw pt pl pb pr dh dw ceil incl */
        { 7, 6, 28, 28, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 0, 0 },   /* LeNet pool */
        { 2, 3, 7, 7, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0 },     /* ceil_mode, odd */
        { 2, 3, 11, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1 },   /* ceil, pad, include pad */
        { 1, 2, 11, 10, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0 },   /* ceil, pad, exclude pad */
        { 3, 2, 7, 9, 3, 2, 1, 2, 1, 0, 1, 1, 1, 1, 0, 1 },     /* asymmetric pads and strides */
        { 1, 4, 6, 6, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1 },     /* ceil window past the padding */
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(pools); i++) {
        test_pool(NG_OP_MAXPOOL, &pools[i], 0);
        test_pool(NG_OP_MAXPOOL, &pools[i], 1);
        test_pool(NG_OP_AVGPOOL, &pools[i], 0);
    }
    static const pool_case dil = { 2, 3, 8, 9, 2, 3, 1, 2, 1, 1, 0, 1, 2, 2, 0, 0 };   /* MaxPool dilation */
    test_pool(NG_OP_MAXPOOL, &dil, 1);
    test_gap(7, 5, 3, 4);
    test_gap(1, 16, 8, 8);

    test_bn(7, 3, 5, 4, 0);
    test_bn(7, 3, 5, 4, 1);
    test_bn(6, 4, 0, 0, 1);   /* N x C (BatchNorm1d) */
    test_bn(3, 5, 7, 9, 1);   /* 63 per plane: the 16-lane sums and their tail */
    test_bn(2, 3, 14, 14, 0);
    test_bn_hand();
    test_bn_long();
    return tu_done();
}
