/* engine/archs.c - the built-in architectures (ng_model_from_arch).
 *
 *   mlp           Flatten, fc1 256, Relu, fc2 128, Relu, fc3 classes
 *   lenet5        c1 Conv 6x5x5 pad 2, Relu, MaxPool 2, c2 Conv 16x5x5, Relu, MaxPool 2,
 *                 Flatten, f1 120, Relu, f2 84, Relu, f3 classes (as the PyTorch peer script)
 *   vgg-small     [Conv3x3 pad 1 + BN + Relu] x 32,32,M,64,64,M,128,128,M, GAP, Flatten, classifier
 *   resnet-small  conv1 16 + bn1 + Relu; layer1..3 of 2 basic blocks (16/32/64 channels, stride 2
 *                 and a 1x1 conv + BN shortcut at the start of layers 2 and 3), GAP, Flatten, fc
 *
 * Parameter names follow PyTorch state_dict keys; Gemm has trans_b = 1 and weight [out, in]
 * like torch.nn.Linear. Initialisation as PyTorch's defaults: weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); BatchNorm weight 1, bias 0, running mean 0, var 1
 * (the running statistics are parameters with trainable = 0). Graph input "input"
 * [-1, c, h, w], output "logits".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/graph.h"

typedef struct builder {
    ng_model *m;
    ng_rng    rng;
    int       cur;            /* value id of the current activation */
    int64_t   c, h, w;        /* its shape (per sample); h = w = 0 after Flatten */
    int       fail;
} builder;

static int act(builder *b, const char *node, const char *out_name)
{
    char nm[160];
    snprintf(nm, sizeof nm, "%s_out", node);
    int v = ng_model_add_value(b->m, out_name ? out_name : nm, NG_V_ACT, NULL);
    if (v < 0) b->fail = 1;
    return v;
}

static void node(builder *b, ng_op op, const char *name, const int *ins, int n_in, const ng_attrs *a, const char *out_name)
{
    if (b->fail) return;
    int out = act(b, name, out_name);
    if (out < 0 || ng_model_add_node(b->m, op, name, ins, n_in, &out, 1, a) < 0) { b->fail = 1; return; }
    b->cur = out;
}

static int uniform_param(builder *b, const char *name, const ng_shape *s, int64_t fan_in)
{
    if (b->fail) return -1;
    int v = ng_model_add_param(b->m, name, s, NULL, 1);
    if (v < 0) { b->fail = 1; return -1; }
    float bound = 1.0f / sqrtf((float)fan_in);
    float *p = b->m->params + b->m->vals[v].off;
    int64_t n = ng_shape_numel(s);
    for (int64_t i = 0; i < n; i++) p[i] = (2.0f * ng_rng_uniform(&b->rng) - 1.0f) * bound;
    return v;
}

static int const_param(builder *b, const char *prefix, const char *suffix, int64_t c, float val, int trainable)
{
    char nm[128];
    snprintf(nm, sizeof nm, "%s.%s", prefix, suffix);
    ng_shape s = { 1, { c } };
    if (b->fail) return -1;
    int v = ng_model_add_param(b->m, nm, &s, NULL, trainable);
    if (v < 0) { b->fail = 1; return -1; }
    float *p = b->m->params + b->m->vals[v].off;
    for (int64_t i = 0; i < c; i++) p[i] = val;
    return v;
}

static void conv(builder *b, const char *name, int64_t cout, int k, int stride, int pad, int bias)
{
    char wn[128], bn[128];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    int64_t fan_in = b->c * k * k;
    ng_shape ws = { 4, { cout, b->c, k, k } }, bs = { 1, { cout } };
    int ins[3] = { b->cur, uniform_param(b, wn, &ws, fan_in), bias ? uniform_param(b, bn, &bs, fan_in) : -1 };
    ng_attrs a;
    ng_attrs_default(&a);
    a.kernel[0] = a.kernel[1] = k;
    a.stride[0] = a.stride[1] = stride;
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = pad;
    node(b, NG_OP_CONV, name, ins, bias ? 3 : 2, &a, NULL);
    b->h = (b->h + 2 * pad - k) / stride + 1;
    b->w = (b->w + 2 * pad - k) / stride + 1;
    b->c = cout;
}

static void bnorm(builder *b, const char *name)
{
    int ins[5] = { b->cur, const_param(b, name, "weight", b->c, 1.0f, 1), const_param(b, name, "bias", b->c, 0.0f, 1),
                   const_param(b, name, "running_mean", b->c, 0.0f, 0), const_param(b, name, "running_var", b->c, 1.0f, 0) };
    ng_attrs a;
    ng_attrs_default(&a);
    a.epsilon = 1e-5f;
    a.momentum = 0.9f;   /* ONNX convention; PyTorch momentum 0.1 */
    node(b, NG_OP_BATCHNORM, name, ins, 5, &a, NULL);
}

static void relu(builder *b, const char *name)
{
    node(b, NG_OP_RELU, name, &b->cur, 1, NULL, NULL);
}

static void maxpool2(builder *b, const char *name)
{
    ng_attrs a;
    ng_attrs_default(&a);
    a.kernel[0] = a.kernel[1] = 2;
    a.stride[0] = a.stride[1] = 2;
    node(b, NG_OP_MAXPOOL, name, &b->cur, 1, &a, NULL);
    b->h /= 2;
    b->w /= 2;
}

static void gap_flatten(builder *b)
{
    node(b, NG_OP_GLOBALAVGPOOL, "gap", &b->cur, 1, NULL, NULL);
    b->h = b->w = 1;
}

static void flatten(builder *b)
{
    ng_attrs a;
    ng_attrs_default(&a);
    a.axis = 1;
    node(b, NG_OP_FLATTEN, "flatten", &b->cur, 1, &a, NULL);
    b->c = b->c * (b->h ? b->h : 1) * (b->w ? b->w : 1);
    b->h = b->w = 0;
}

static void linear(builder *b, const char *name, int64_t out, const char *out_name)
{
    char wn[128], bn[128];
    snprintf(wn, sizeof wn, "%s.weight", name);
    snprintf(bn, sizeof bn, "%s.bias", name);
    ng_shape ws = { 2, { out, b->c } }, bs = { 1, { out } };
    int ins[3] = { b->cur, uniform_param(b, wn, &ws, b->c), uniform_param(b, bn, &bs, b->c) };
    ng_attrs a;
    ng_attrs_default(&a);
    a.alpha = a.beta = 1.0f;
    a.trans_b = 1;
    node(b, NG_OP_GEMM, name, ins, 3, &a, out_name);
    b->c = out;
}

/* Basic residual block: conv3x3(stride)-bn-relu-conv3x3-bn (+ shortcut), add, relu. */
static void basic_block(builder *b, const char *pfx, int64_t cout, int stride)
{
    char nm[128];
    int x = b->cur;
    int64_t cin = b->c, h = b->h, w = b->w;
    snprintf(nm, sizeof nm, "%s.conv1", pfx); conv(b, nm, cout, 3, stride, 1, 0);
    snprintf(nm, sizeof nm, "%s.bn1", pfx); bnorm(b, nm);
    snprintf(nm, sizeof nm, "%s.relu1", pfx); relu(b, nm);
    snprintf(nm, sizeof nm, "%s.conv2", pfx); conv(b, nm, cout, 3, 1, 1, 0);
    snprintf(nm, sizeof nm, "%s.bn2", pfx); bnorm(b, nm);
    int main_path = b->cur;
    int64_t oh = b->h, ow = b->w;
    int shortcut = x;
    if (stride != 1 || cin != cout) {
        b->cur = x; b->c = cin; b->h = h; b->w = w;
        snprintf(nm, sizeof nm, "%s.downsample.0", pfx); conv(b, nm, cout, 1, stride, 0, 0);
        snprintf(nm, sizeof nm, "%s.downsample.1", pfx); bnorm(b, nm);
        shortcut = b->cur;
    }
    int ins[2] = { main_path, shortcut };
    snprintf(nm, sizeof nm, "%s.add", pfx); node(b, NG_OP_ADD, nm, ins, 2, NULL, NULL);
    snprintf(nm, sizeof nm, "%s.relu2", pfx); relu(b, nm);
    b->c = cout; b->h = oh; b->w = ow;
}

static void build_mlp(builder *b, int classes)
{
    flatten(b);
    linear(b, "fc1", 256, NULL); relu(b, "relu1");
    linear(b, "fc2", 128, NULL); relu(b, "relu2");
    linear(b, "fc3", classes, "logits");
}

static void build_lenet5(builder *b, int classes)
{
    conv(b, "c1", 6, 5, 1, 2, 1); relu(b, "relu1"); maxpool2(b, "pool1");
    conv(b, "c2", 16, 5, 1, 0, 1); relu(b, "relu2"); maxpool2(b, "pool2");
    flatten(b);
    linear(b, "f1", 120, NULL); relu(b, "relu3");
    linear(b, "f2", 84, NULL); relu(b, "relu4");
    linear(b, "f3", classes, "logits");
}

static void build_vgg_small(builder *b, int classes)
{
    static const int cfg[] = { 32, 32, 0, 64, 64, 0, 128, 128, 0 };   /* 0 = MaxPool */
    char nm[64];
    int idx = 0;
    for (size_t i = 0; i < NG_ARRAY_LEN(cfg); i++) {
        if (cfg[i] == 0) { snprintf(nm, sizeof nm, "features.%d", idx++); maxpool2(b, nm); continue; }
        snprintf(nm, sizeof nm, "features.%d", idx++); conv(b, nm, cfg[i], 3, 1, 1, 1);
        snprintf(nm, sizeof nm, "features.%d", idx++); bnorm(b, nm);
        snprintf(nm, sizeof nm, "features.%d", idx++); relu(b, nm);
    }
    gap_flatten(b);
    flatten(b);
    linear(b, "classifier", classes, "logits");
}

static void build_resnet_small(builder *b, int classes)
{
    static const int width[3] = { 16, 32, 64 };
    char nm[64];
    conv(b, "conv1", 16, 3, 1, 1, 0); bnorm(b, "bn1"); relu(b, "relu");
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 2; k++) {
            snprintf(nm, sizeof nm, "layer%d.%d", l + 1, k);
            basic_block(b, nm, width[l], (l > 0 && k == 0) ? 2 : 1);
        }
    gap_flatten(b);
    flatten(b);
    linear(b, "fc", classes, "logits");
}

ng_status ng_model_from_arch(const char *arch, int c, int h, int w, int classes, uint64_t seed, ng_model **out)
{
    *out = NULL;
    static const struct { const char *name; void (*build)(builder *, int); int min_hw; } archs[] = {
        { "mlp", build_mlp, 1 }, { "lenet5", build_lenet5, 12 },
        { "vgg-small", build_vgg_small, 8 }, { "resnet-small", build_resnet_small, 4 },
    };
    int which = -1;
    for (size_t i = 0; i < NG_ARRAY_LEN(archs); i++) if (strcmp(arch, archs[i].name) == 0) which = (int)i;
    if (which < 0) return ng_fail(NG_E_INVALID, "unknown architecture '%s' (mlp, lenet5, vgg-small, resnet-small)", arch);
    if (c < 1 || c > 4096 || h < archs[which].min_hw || w < archs[which].min_hw || h > 8192 || w > 8192 || classes < 1 || classes > 1000000)
        return ng_fail(NG_E_INVALID, "%s: input %dx%dx%d with %d classes is not supported (needs at least %dx%d pixels)",
                       arch, c, h, w, classes, archs[which].min_hw, archs[which].min_hw);
    builder b = { .m = ng_model_alloc(), .c = c, .h = h, .w = w };
    if (!b.m) return NG_E_NOMEM;
    ng_rng_seed(&b.rng, seed);
    ng_shape xs = { 4, { -1, c, h, w } };
    b.cur = ng_model_add_value(b.m, "input", NG_V_INPUT, &xs);
    if (b.cur < 0) { ng_model_free(b.m); return NG_E_NOMEM; }
    b.m->input = b.cur;
    archs[which].build(&b, classes);
    if (b.fail) { ng_model_free(b.m); return NG_E_NOMEM; }
    b.m->output = b.cur;
    free(b.m->graph_name);
    b.m->graph_name = ng_strdup(arch);
    ng_status st = ng_model_finalize(b.m);
    if (st != NG_OK) { ng_model_free(b.m); return st; }
    *out = b.m;
    return NG_OK;
}
