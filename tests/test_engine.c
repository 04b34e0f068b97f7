/* test_engine: the graph builder and executor.
 * Hand-computed outputs and gradients of a small graph, built-in architecture
 * parameter counts and output shapes, changing batch sizes, two threads on one
 * model, finalize messages that name the node, clone independence, training-
 * mode BatchNorm updating running stats (and inference never writing the model),
 * end-to-end finite differences through a residual network. */
#include <pthread.h>
#include "tutil.h"
#include "engine/graph.h"
#include "core/core.h"

static ng_model *small_graph(void)
{
    /* y = Mul(Relu(Gemm(x, W, b, trans_b)), s) */
    ng_model *m = ng_model_alloc();
    ng_shape xs = { 2, { -1, 2 } }, ws = { 2, { 2, 2 } }, bs = { 1, { 2 } };
    const float W[4] = { 1, 2, 3, 4 }, b[2] = { 0.5f, -1 }, s[2] = { 2, 0.5f };
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    int ins[3] = { x, ng_model_add_param(m, "fc.weight", &ws, W, 1), ng_model_add_param(m, "fc.bias", &bs, b, 1) };
    int h1 = ng_model_add_value(m, "h1", NG_V_ACT, NULL), h2 = ng_model_add_value(m, "h2", NG_V_ACT, NULL);
    int y = ng_model_add_value(m, "y", NG_V_ACT, NULL);
    ng_attrs a;
    ng_attrs_default(&a);
    a.trans_b = 1;
    ng_model_add_node(m, NG_OP_GEMM, "fc", ins, 3, &h1, 1, &a);
    ng_model_add_node(m, NG_OP_RELU, "relu", &h1, 1, &h2, 1, NULL);
    int mi[2] = { h2, ng_model_add_param(m, "scale", &bs, s, 1) };
    ng_model_add_node(m, NG_OP_MUL, "mul", mi, 2, &y, 1, NULL);
    m->output = y;
    return m;
}

static void check_small_graph(void)
{
    ng_model *m = small_graph();
    CHECK_OK(ng_model_finalize(m));
    CHECK(ng_model_nparams(m) == 8);
    CHECK(ng_model_ntensors(m) == 3);
    CHECK(ng_model_num_classes(m) == 2);
    CHECK(ng_model_nnodes(m) == 3 && strcmp(ng_model_node_op(m, 0), "Gemm") == 0 && strcmp(ng_model_node_name(m, 2), "mul") == 0);
    ng_exec *e;
    CHECK_OK(ng_exec_new(m, NULL, &e));
    /* x = [2, 1], [1, -1]: xW^T + b = [4.5, 9], [-0.5, -2]; relu; * [2, 0.5] */
    const float x[4] = { 2, 1, 1, -1 };
    const float *y;
    ng_shape ys;
    CHECK_OK(ng_exec_forward(e, x, 2, &y, &ys));
    CHECK(ys.ndim == 2 && ys.d[0] == 2 && ys.d[1] == 2);
    CHECK(y[0] == 9.0f && y[1] == 4.5f && y[2] == 0.0f && y[3] == 0.0f);
    /* dout = 1 on sample 0 only: d scale = [4.5, 9]; d h1 = [2, 0.5]; db = [2, 0.5];
     * dW = d h1 (x) x = [[4, 2], [1, 0.5]]; dx = W^T d h1 = [3.5, 6]. Sample 1 is cut by Relu. */
    const float dout[4] = { 1, 1, 1, 1 };
    float gp[8], gx[4];
    CHECK_OK(ng_exec_backward(e, dout, gp, gx));
    const float want_gp[8] = { 4, 2, 1, 0.5f, 2, 0.5f, 4.5f, 9 }, want_gx[4] = { 3.5f, 6, 0, 0 };
    for (int i = 0; i < 8; i++) CHECKF(gp[i] == want_gp[i], "grad param %d = %g, want %g", i, gp[i], want_gp[i]);
    for (int i = 0; i < 4; i++) CHECKF(gx[i] == want_gx[i], "grad input %d = %g, want %g", i, gx[i], want_gx[i]);
    /* backward again gives the same (gradients are overwritten, not accumulated) */
    CHECK_OK(ng_exec_backward(e, dout, gp, NULL));
    CHECK(gp[0] == 4 && gp[7] == 9);
    ng_exec_free(e);
    /* backward before forward is refused */
    CHECK_OK(ng_exec_new(m, NULL, &e));
    CHECK_ST(ng_exec_backward(e, dout, gp, gx), NG_E_STATE);
    ng_exec_free(e);
    ng_model_free(m);
}

/* A safetensors buffer with the tensors of small_graph (fc.weight maybe misshaped, scale maybe F64, fc.bias maybe left out). */
static size_t make_st(uint8_t *buf, int bad_shape, int f64_scale, int drop_bias)
{
    char hdr[512];
    int so = drop_bias ? 16 : 24, se = so + (f64_scale ? 16 : 8);
    int n = snprintf(hdr, sizeof hdr,
        "{\"fc.weight\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[0,16]}%s,"
        "\"scale\":{\"dtype\":\"%s\",\"shape\":[2],\"data_offsets\":[%d,%d]}}",
        bad_shape ? "[4,1]" : "[2,2]",
        drop_bias ? "" : ",\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}",
        f64_scale ? "F64" : "F32", so, se);
    while (n % 8) hdr[n++] = ' ';
    uint64_t hl = (uint64_t)n;
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, hdr, (size_t)n);
    const float v[6] = { 10, 20, 30, 40, -1, -2 }, sc[2] = { 3, 4 };
    const double sd[2] = { 3, 4 };
    memcpy(buf + 8 + n, v, drop_bias ? 16 : 24);
    if (f64_scale) memcpy(buf + 8 + n + so, sd, sizeof sd);
    else memcpy(buf + 8 + n + so, sc, sizeof sc);
    return 8 + (size_t)n + (size_t)se;
}

static void check_set_weights(void)
{
    ng_model *m = small_graph();
    CHECK_OK(ng_model_finalize(m));
    uint8_t buf[1024];
    ng_weights *w;
    size_t len = make_st(buf, 0, 0, 0);
    ng_status st = ng_weights_open_buffer(buf, len, NG_FMT_SAFETENSORS, "w.safetensors", &w);
    CHECKF(st == NG_OK, "safetensors: %s", ng_last_error());
    if (st != NG_OK) { ng_model_free(m); return; }
    CHECK_OK(ng_model_set_weights(m, w));
    const float want[8] = { 10, 20, 30, 40, -1, -2, 3, 4 };
    CHECK(memcmp(ng_model_params(m), want, sizeof want) == 0);
    uint8_t id1[32], id2[32];
    ng_model_id(m, id1);
    ng_weights_id(w, id2);
    CHECK(memcmp(id1, id2, 32) == 0);   /* same names, shapes, bytes, order */
    ng_weights_free(w);
    static const struct { int shape, f64, drop; ng_status st; const char *needle; } bad[] = {
        { 1, 0, 0, NG_E_SHAPE, "'fc.weight' has shape [4,1], the model needs [2,2]" },
        { 0, 1, 0, NG_E_UNSUPPORTED, "'scale' is F64" },
        { 0, 0, 1, NG_E_FORMAT, "'fc.bias' that the model needs is missing" },
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(bad); i++) {
        len = make_st(buf, bad[i].shape, bad[i].f64, bad[i].drop);
        if (ng_weights_open_buffer(buf, len, NG_FMT_SAFETENSORS, "w.safetensors", &w) != NG_OK) { CHECKF(0, "%s", ng_last_error()); continue; }
        CHECK_ST(ng_model_set_weights(m, w), bad[i].st);
        CHECKF(strstr(ng_last_error(), bad[i].needle) != NULL, "%s", ng_last_error());
        CHECK(memcmp(ng_model_params(m), want, sizeof want) == 0);   /* untouched on failure */
        ng_weights_free(w);
    }
    ng_model_free(m);
}

static void check_finalize_errors(void)
{
    /* a node reading a value nobody computed */
    ng_model *m = ng_model_alloc();
    ng_shape xs = { 2, { -1, 4 } };
    int x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    int h = ng_model_add_value(m, "h", NG_V_ACT, NULL), y = ng_model_add_value(m, "y", NG_V_ACT, NULL);
    ng_model_add_node(m, NG_OP_RELU, "early", &h, 1, &y, 1, NULL);
    ng_model_add_node(m, NG_OP_RELU, "late", &x, 1, &h, 1, NULL);
    m->output = y;
    CHECK_ST(ng_model_finalize(m), NG_E_FORMAT);
    CHECKF(strstr(ng_last_error(), "node 'early' (Relu)") && strstr(ng_last_error(), "'h'"), "%s", ng_last_error());
    ng_model_free(m);
    /* a weight that does not fit */
    m = ng_model_alloc();
    x = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    ng_shape ws = { 2, { 3, 5 } };
    int ins[2] = { x, ng_model_add_param(m, "fc1.weight", &ws, NULL, 1) };
    y = ng_model_add_value(m, "y", NG_V_ACT, NULL);
    ng_attrs a;
    ng_attrs_default(&a);
    a.trans_b = 1;
    ng_model_add_node(m, NG_OP_GEMM, "fc1", ins, 2, &y, 1, &a);
    CHECK_ST(ng_model_finalize(m), NG_E_SHAPE);
    CHECKF(strncmp(ng_last_error(), "node 'fc1' (Gemm): ", 19) == 0, "%s", ng_last_error());
    ng_model_free(m);
    CHECK_ST(ng_model_from_arch("alexnet", 1, 28, 28, 10, 0, &m), NG_E_INVALID);
    CHECK(strstr(ng_last_error(), "alexnet") != NULL);
    CHECK_ST(ng_model_from_arch("lenet5", 1, 4, 4, 10, 0, &m), NG_E_INVALID);
}

static void fill(float *x, size_t n, uint64_t seed)
{
    ng_rng r;
    ng_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = ng_rng_uniform(&r);
}

static void check_archs(void)
{
    ng_model *m;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 1, &m));
    CHECKF(ng_model_nparams(m) == 61706, "lenet5 has %zu parameters", ng_model_nparams(m));
    CHECK(ng_model_ntensors(m) == 10);
    ng_param p;
    ng_model_tensor(m, 0, &p);
    CHECK(strcmp(p.name, "c1.weight") == 0 && p.shape.ndim == 4 && p.shape.d[0] == 6 && p.shape.d[3] == 5);
    ng_model_tensor(m, 9, &p);
    CHECK(strcmp(p.name, "f3.bias") == 0 && p.nbytes == 40);
    ng_model_tensor(m, 4, &p);   /* f1.weight [120, 400], U(-1/20, 1/20) */
    CHECK(strcmp(p.name, "f1.weight") == 0 && p.shape.d[0] == 120 && p.shape.d[1] == 400);
    float mx = 0;
    for (size_t i = 0; i < p.nbytes / 4; i++) mx = fmaxf(mx, fabsf(((float *)p.data)[i]));
    CHECK(mx <= 0.05f && mx > 0.049f);
    ng_shape is;
    ng_model_input_shape(m, &is);
    CHECK(is.ndim == 4 && is.d[0] == -1 && is.d[1] == 1 && is.d[2] == 28);
    CHECK(m->vals[m->input].name && strcmp(m->vals[m->input].name, "input") == 0);
    CHECK(strcmp(m->vals[m->output].name, "logits") == 0);
    ng_model_free(m);

    static const char *names[] = { "mlp", "lenet5", "vgg-small", "resnet-small" };
    static const int64_t counts32[] = { 3 * 32 * 32 * 256 + 256 + 256 * 128 + 128 + 128 * 7 + 7, 0, 0, 0 };
    static const int geo[2][3] = { { 1, 28, 28 }, { 3, 32, 32 } };
    float *x = malloc(3 * 3 * 32 * 32 * sizeof *x);
    fill(x, 3 * 3 * 32 * 32, 7);
    for (int a = 0; a < 4; a++)
        for (int g = 0; g < 2; g++) {
            ng_status st = ng_model_from_arch(names[a], geo[g][0], geo[g][1], geo[g][2], 7, 3, &m);
            CHECKF(st == NG_OK, "%s: %s", names[a], ng_last_error());
            if (st != NG_OK) continue;
            if (g == 1 && counts32[a]) CHECK((int64_t)ng_model_nparams(m) == counts32[a]);
            CHECK(ng_model_num_classes(m) == 7);
            ng_exec *e;
            CHECK_OK(ng_exec_new(m, NULL, &e));
            const float *y;
            ng_shape ys;
            CHECK_OK(ng_exec_forward(e, x, 3, &y, &ys));
            CHECKF(ys.ndim == 2 && ys.d[0] == 3 && ys.d[1] == 7, "%s %dx%d: output shape", names[a], geo[g][1], geo[g][2]);
            int finite = 1;
            for (int i = 0; i < 21; i++) finite &= isfinite(y[i]);
            CHECK(finite);
            printf("%-12s %dx%dx%d: %zu parameters in %zu tensors, %zu nodes\n", names[a], geo[g][0], geo[g][1],
                   geo[g][2], ng_model_nparams(m), ng_model_ntensors(m), ng_model_nnodes(m));
            ng_exec_free(e);
            ng_model_free(m);
        }
    /* lenet on 32x32x3: flatten size 16*6*6 */
    CHECK_OK(ng_model_from_arch("lenet5", 3, 32, 32, 10, 1, &m));
    ng_model_tensor(m, 4, &p);
    CHECK(p.shape.d[1] == 16 * 6 * 6);
    ng_model_free(m);
    /* resnet names like torchvision */
    CHECK_OK(ng_model_from_arch("resnet-small", 3, 32, 32, 10, 1, &m));
    int found = 0;
    for (size_t t = 0; t < ng_model_ntensors(m); t++) {
        ng_model_tensor(m, t, &p);
        if (strcmp(p.name, "layer2.0.downsample.0.weight") == 0) found |= 1;
        if (strcmp(p.name, "layer3.1.bn2.running_var") == 0) found |= ng_model_tensor_trainable(m, t) ? 0 : 2;
        if (strcmp(p.name, "fc.weight") == 0 && p.shape.d[0] == 10 && p.shape.d[1] == 64) found |= 4;
    }
    CHECK(found == 7);
    ng_model_free(m);
    /* same seed, same parameters; another seed, others */
    ng_model *m1, *m2, *m3;
    CHECK_OK(ng_model_from_arch("mlp", 1, 28, 28, 10, 5, &m1));
    CHECK_OK(ng_model_from_arch("mlp", 1, 28, 28, 10, 5, &m2));
    CHECK_OK(ng_model_from_arch("mlp", 1, 28, 28, 10, 6, &m3));
    CHECK(memcmp(ng_model_params(m1), ng_model_params(m2), ng_model_nparams(m1) * 4) == 0);
    CHECK(memcmp(ng_model_params(m1), ng_model_params(m3), ng_model_nparams(m1) * 4) != 0);
    uint8_t id1[32], id2[32], id3[32];
    ng_model_id(m1, id1); ng_model_id(m2, id2); ng_model_id(m3, id3);
    CHECK(memcmp(id1, id2, 32) == 0 && memcmp(id1, id3, 32) != 0);
    ng_model_free(m1); ng_model_free(m2); ng_model_free(m3);
    free(x);
}

static void check_batches_and_predict(void)
{
    ng_model *m;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 11, &m));
    enum { N = 9 };
    float *x = malloc(N * 784 * sizeof *x), *ref = malloc(N * 10 * sizeof *ref), *pred = malloc(N * 10 * sizeof *pred);
    fill(x, N * 784, 3);
    ng_exec *e;
    CHECK_OK(ng_exec_new(m, NULL, &e));
    const float *y;
    ng_shape ys;
    for (int i = 0; i < N; i++) {        /* one at a time */
        CHECK_OK(ng_exec_forward(e, x + i * 784, 1, &y, &ys));
        memcpy(ref + i * 10, y, 10 * sizeof *y);
    }
    /* batch 4, then 9, then 2: same logits per sample */
    static const int bs[] = { 4, 9, 2 };
    for (int k = 0; k < 3; k++) {
        CHECK_OK(ng_exec_forward(e, x, bs[k], &y, &ys));
        CHECK(ys.d[0] == bs[k]);
        double worst = 0;
        for (int i = 0; i < bs[k] * 10; i++) worst = fmax(worst, fabs(y[i] - ref[i]));
        CHECKF(worst < 1e-5, "batch %d differs from batch 1 by %g", bs[k], worst);
    }
    CHECK_OK(ng_model_predict(m, x, N, 4, 2, pred));
    double worst = 0;
    for (int i = 0; i < N * 10; i++) worst = fmax(worst, fabs(pred[i] - ref[i]));
    CHECK(worst < 1e-5);
    ng_exec_free(e);
    ng_model_free(m);
    free(x); free(ref); free(pred);
}

typedef struct thr { ng_model *m; const float *x; int n; float *out; ng_status st; } thr;

static void *thr_run(void *arg)
{
    thr *t = arg;
    ng_exec_options o = ng_exec_options_default();
    o.threads = 1;
    ng_exec *e;
    if ((t->st = ng_exec_new(t->m, &o, &e)) != NG_OK) return NULL;
    for (int rep = 0; rep < 20 && t->st == NG_OK; rep++) {
        const float *y;
        ng_shape ys;
        t->st = ng_exec_forward(e, t->x, t->n, &y, &ys);
        if (t->st == NG_OK) memcpy(t->out, y, (size_t)t->n * 10 * sizeof *y);
    }
    ng_exec_free(e);
    return NULL;
}

static void check_threads(void)
{
    ng_model *m;
    CHECK_OK(ng_model_from_arch("resnet-small", 1, 28, 28, 10, 4, &m));
    enum { N = 6 };
    float *x = malloc(N * 784 * sizeof *x), ref[N * 10], o1[N * 10], o2[N * 10];
    fill(x, N * 784, 9);
    thr t0 = { m, x, N, ref, NG_OK };
    thr_run(&t0);
    CHECK_OK(t0.st);
    float *before = malloc(ng_model_nparams(m) * sizeof *before);
    memcpy(before, ng_model_params(m), ng_model_nparams(m) * sizeof *before);
    thr t1 = { m, x, N, o1, NG_OK }, t2 = { m, x, N, o2, NG_OK };
    pthread_t a, b;
    pthread_create(&a, NULL, thr_run, &t1);
    pthread_create(&b, NULL, thr_run, &t2);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK(t1.st == NG_OK && t2.st == NG_OK);
    CHECK(memcmp(o1, ref, sizeof ref) == 0 && memcmp(o2, ref, sizeof ref) == 0);
    /* inference never writes the model */
    CHECK(memcmp(before, ng_model_params(m), ng_model_nparams(m) * sizeof *before) == 0);
    /* a 2-worker exec agrees closely */
    ng_exec_options o = ng_exec_options_default();
    o.threads = 2;
    ng_exec *e;
    CHECK_OK(ng_exec_new(m, &o, &e));
    const float *y;
    ng_shape ys;
    CHECK_OK(ng_exec_forward(e, x, N, &y, &ys));
    double worst = 0;
    for (int i = 0; i < N * 10; i++) worst = fmax(worst, fabs(y[i] - ref[i]));
    CHECK(worst < 1e-5);
    /* training mode: BatchNorm updates running stats in the model */
    ng_exec_set_training(e, 1);
    CHECK_OK(ng_exec_forward(e, x, N, &y, &ys));
    CHECK(memcmp(before, ng_model_params(m), ng_model_nparams(m) * sizeof *before) != 0);
    size_t changed_trainable = 0;
    for (size_t t = 0; t < ng_model_ntensors(m); t++) {
        if (!ng_model_tensor_trainable(m, t)) continue;
        size_t off = ng_model_tensor_offset(m, t);
        ng_param p;
        ng_model_tensor(m, t, &p);
        changed_trainable += memcmp(before + off, p.data, p.nbytes) != 0;
    }
    CHECK(changed_trainable == 0);
    ng_exec_free(e);
    ng_model_free(m);
    free(x); free(before);
}

static void check_clone_and_meta(void)
{
    ng_model *m, *c;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 2, &m));
    CHECK_OK(ng_model_meta_set(m, "note", "original"));
    CHECK_OK(ng_model_clone(m, &c));
    CHECK(ng_model_nparams(c) == ng_model_nparams(m) && ng_model_params(c) != ng_model_params(m));
    CHECK(memcmp(ng_model_params(c), ng_model_params(m), ng_model_nparams(m) * 4) == 0);
    CHECK(strcmp(ng_model_meta_get(c, "note"), "original") == 0);
    CHECK_OK(ng_model_meta_set(c, "note", "clone"));
    CHECK_OK(ng_model_meta_set(c, "extra", "1"));
    CHECK(strcmp(ng_model_meta_get(m, "note"), "original") == 0 && ng_model_meta_get(m, "extra") == NULL);
    CHECK(ng_model_meta_count(c) == 2);
    const char *k, *v;
    ng_model_meta_at(c, 1, &k, &v);
    CHECK(strcmp(k, "extra") == 0 && strcmp(v, "1") == 0);
    float x[784];
    fill(x, 784, 1);
    float ym[10], yc[10];
    CHECK_OK(ng_model_predict(m, x, 1, 1, 1, ym));
    ng_model_params(c)[ng_model_tensor_offset(c, 9)] += 1.0f;   /* f3.bias[0] */
    ng_model_free(m);                                            /* the clone lives on */
    CHECK_OK(ng_model_predict(c, x, 1, 1, 1, yc));
    CHECK_NEAR(yc[0], ym[0] + 1.0, 1e-5);
    CHECK(yc[1] == ym[1]);
    ng_model_free(c);
}

/* End to end: d loss / d params through residual adds and BatchNorm, against central
 * differences (eps 1e-3) on 60 random parameters. Relu kinks crossed by the perturbation
 * spoil a few numeric values, more in training mode (batch statistics couple all samples),
 * so inference mode must agree everywhere and training mode for most (and in the median). */
static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void resnet_grads(int training, int n, double *errs, int *checked)
{
    ng_model *m;
    CHECK_OK(ng_model_from_arch("resnet-small", 2, 8, 8, 3, 8, &m));
    ng_exec_options o = ng_exec_options_default();
    o.training = training;
    o.threads = 1;
    ng_exec *e;
    CHECK_OK(ng_exec_new(m, &o, &e));
    const float eps = 1e-3f;
    float *x = malloc((size_t)n * 128 * sizeof *x), *r = malloc((size_t)n * 3 * sizeof *r);
    fill(x, (size_t)n * 128, 5);
    fill(r, (size_t)n * 3, 6);
    size_t np = ng_model_nparams(m);
    float *gp = malloc(np * sizeof *gp), *pa = ng_model_params(m);
    const float *y;
    ng_shape ys;
    CHECK_OK(ng_exec_forward(e, x, n, &y, &ys));
    CHECK_OK(ng_exec_backward(e, r, gp, NULL));
    ng_rng rng;
    ng_rng_seed(&rng, 1);
    *checked = 0;
    for (int k = 0; k < 60; k++) {
        size_t t = ng_rng_below(&rng, (uint32_t)ng_model_ntensors(m));
        if (!ng_model_tensor_trainable(m, t)) continue;
        ng_param p;
        ng_model_tensor(m, t, &p);
        size_t i = ng_model_tensor_offset(m, t) + ng_rng_below(&rng, (uint32_t)(p.nbytes / 4));
        double l[2];
        float keep = pa[i];
        for (int s = 0; s < 2; s++) {
            pa[i] = keep + (s ? -eps : eps);
            CHECK_OK(ng_exec_forward(e, x, n, &y, &ys));
            l[s] = 0;
            for (int j = 0; j < n * 3; j++) l[s] += (double)y[j] * r[j];
        }
        pa[i] = keep;
        double num = (l[0] - l[1]) / (2.0 * eps);
        errs[(*checked)++] = fabs(num - gp[i]) / fmax(fmax(fabs(num), fabs(gp[i])), 0.1);
    }
    qsort(errs, (size_t)*checked, sizeof *errs, cmp_dbl);
    ng_exec_free(e);
    ng_model_free(m);
    free(gp); free(x); free(r);
}

static void check_resnet_grads(void)
{
    double errs[60];
    int n;
    resnet_grads(0, 3, errs, &n);
    printf("resnet-small end-to-end (inference): %d parameter gradients, max rel err %.2e\n", n, errs[n - 1]);
    CHECK(n > 20 && errs[n - 1] < 2e-2);
    resnet_grads(1, 8, errs, &n);
    int good = 0;
    for (int i = 0; i < n; i++) good += errs[i] < 3e-2;
    printf("resnet-small end-to-end (training): %d parameter gradients, median rel err %.2e, %d below 3e-2\n",
           n, errs[n / 2], good);
    CHECK(n > 20 && errs[n / 2] < 1e-2 && good >= n * 8 / 10);
}

/* ng_model_macs against counts by hand (nnguard/model.h's rules). LeNet-5 on 28x28: c1 6x28x28 outputs
 * x 25 taps, c2 16x10x10 x 150, f1 400x120, f2 120x84, f3 84x10; training adds dW everywhere and dX
 * everywhere but c1 (its input is the graph's). The MLP's fc1 reads Flatten(input): no dX either.
 * resnet-small: conv1 16x784x9; layer1 four 16x784x144; layers 2 and 3 each a stride-2 3x3 (1/2 the
 * next's MACs), three full 3x3s of 1,806,336 and a 1x1 downsample; fc 64x10. */
static void check_macs(void)
{
    static const struct { const char *arch; int64_t fwd, train; } kat[] = {
        { "lenet5", 117600 + 240000 + 48000 + 10080 + 840, 2 * 117600 + 3 * (240000 + 48000 + 10080 + 840) },
        { "mlp", 200704 + 32768 + 1280, 2 * 200704 + 3 * (32768 + 1280) },
        { "resnet-small", 112896 + 4 * 1806336 + 2 * (903168 + 3 * 1806336 + 100352) + 640,
          3 * (112896 + 4 * 1806336 + 2 * (903168 + 3 * 1806336 + 100352) + 640) - 112896 },
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        ng_model *m = NULL;
        ng_macs mc = { -1, -1 };
        CHECK_OK(ng_model_from_arch(kat[i].arch, 1, 28, 28, 10, 1, &m));
        CHECK_OK(ng_model_macs(m, &mc));
        CHECKF(mc.forward == kat[i].fwd && mc.train == kat[i].train, "%s: %lld / %lld MACs, want %lld / %lld",
               kat[i].arch, (long long)mc.forward, (long long)mc.train, (long long)kat[i].fwd, (long long)kat[i].train);
        ng_model_free(m);
    }
}

int main(void)
{
    CHECK_OK(ng_init());
    check_small_graph();
    check_finalize_errors();
    check_set_weights();
    check_archs();
    check_macs();
    check_batches_and_predict();
    check_threads();
    check_clone_and_meta();
    check_resnet_grads();
    return tu_done();
}
