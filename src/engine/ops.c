/* engine/ops.c - THE operator table: one row per ng_op. */
#include <math.h>
#include <string.h>
#include "engine/ops.h"
#include "core/core.h"

#define ROW(e, onnx, lo, hi, op) [e] = { onnx, lo, hi, ng_##op##_shape, ng_##op##_fwd, ng_##op##_bwd }
#define ROW_NOGRAD(e, onnx, lo, hi, op) [e] = { onnx, lo, hi, ng_##op##_shape, ng_##op##_fwd, NULL }
const ng_op_def ng_ops[NG_OP_COUNT] = {
    ROW(NG_OP_CONV,          "Conv",               2, 3, conv),
    ROW(NG_OP_MAXPOOL,       "MaxPool",            1, 1, maxpool),
    ROW(NG_OP_AVGPOOL,       "AveragePool",        1, 1, avgpool),
    ROW(NG_OP_GLOBALAVGPOOL, "GlobalAveragePool",  1, 1, gap),
    ROW(NG_OP_GEMM,          "Gemm",               2, 3, gemm),
    ROW(NG_OP_MATMUL,        "MatMul",             2, 2, matmul),
    ROW(NG_OP_ADD,           "Add",                2, 2, add),
    ROW(NG_OP_MUL,           "Mul",                2, 2, mul),
    ROW(NG_OP_RELU,          "Relu",               1, 1, relu),
    ROW(NG_OP_LEAKYRELU,     "LeakyRelu",          1, 1, leakyrelu),
    ROW(NG_OP_SIGMOID,       "Sigmoid",            1, 1, sigmoid),
    ROW(NG_OP_TANH,          "Tanh",               1, 1, tanh),
    ROW(NG_OP_HARDSIGMOID,   "HardSigmoid",        1, 1, hardsigmoid),
    ROW(NG_OP_HARDSWISH,     "HardSwish",          1, 1, hardswish),
    ROW(NG_OP_BATCHNORM,     "BatchNormalization", 5, 5, batchnorm),
    ROW(NG_OP_FLATTEN,       "Flatten",            1, 1, flatten),
    ROW(NG_OP_RESHAPE,       "Reshape",            1, 1, reshape),  /* shape folded into attrs */
    ROW(NG_OP_IDENTITY,      "Identity",           1, 1, identity),
    ROW(NG_OP_DROPOUT,       "Dropout",            1, 1, dropout),  /* ratio/training_mode folded */
    ROW(NG_OP_SOFTMAX,       "Softmax",            1, 1, softmax),
    ROW(NG_OP_CONCAT,        "Concat",             1, 64, concat),
    ROW(NG_OP_SUB,           "Sub",                2, 2, sub),
    ROW(NG_OP_DIV,           "Div",                2, 2, div),
    ROW(NG_OP_POW,           "Pow",                2, 2, pow),
    ROW(NG_OP_SQRT,          "Sqrt",               1, 1, sqrt),
    ROW(NG_OP_ERF,           "Erf",                1, 1, erf),
    ROW(NG_OP_GELU,          "Gelu",               1, 1, gelu),
    ROW(NG_OP_CLIP,          "Clip",               1, 1, clip),       /* min/max inputs folded */
    ROW(NG_OP_TRANSPOSE,     "Transpose",          1, 1, transpose),
    ROW(NG_OP_SLICE,         "Slice",              1, 1, slice),      /* starts/ends/axes/steps folded */
    ROW(NG_OP_PAD,           "Pad",                1, 1, pad),        /* pads/constant_value folded */
    ROW(NG_OP_GATHER,        "Gather",             1, 1, gather),     /* indices folded */
    ROW(NG_OP_SQUEEZE,       "Squeeze",            1, 1, squeeze),    /* axes folded */
    ROW(NG_OP_UNSQUEEZE,     "Unsqueeze",          1, 1, unsqueeze),  /* axes folded */
    ROW(NG_OP_REDUCEMEAN,    "ReduceMean",         1, 1, reducemean), /* axes folded */
    ROW(NG_OP_LAYERNORM,     "LayerNormalization", 2, 3, layernorm),
    ROW_NOGRAD(NG_OP_LSTM,   "LSTM",               3, 7, lstm),       /* inference only */
    ROW_NOGRAD(NG_OP_GRU,    "GRU",                3, 6, gru),
};
#undef ROW
#undef ROW_NOGRAD
NG_STATIC_ASSERT(NG_ARRAY_LEN(ng_ops) == NG_OP_COUNT, "ng_ops must cover ng_op");

int ng_op_from_name(const char *op_type)
{
    for (int i = 0; i < NG_OP_COUNT; i++)
        if (ng_ops[i].name && strcmp(ng_ops[i].name, op_type) == 0) return i;
    return -1;
}

void ng_attrs_default(ng_attrs *a)
{
    memset(a, 0, sizeof *a);
    a->stride[0] = a->stride[1] = 1;
    a->dilation[0] = a->dilation[1] = 1;
    a->group = 1;
    a->alpha = 1.0f; a->beta = 1.0f;
    a->axis = 1;
    a->epsilon = 1e-5f; a->momentum = 0.9f;
    a->ratio = 0.5f;
    a->lo = -INFINITY; a->hi = INFINITY;
    a->keepdims = 1;
    for (int i = 0; i < NG_MAX_DIMS; i++) a->steps[i] = 1;
}
