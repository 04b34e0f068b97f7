/* engine/graph.h - internal layout of ng_model and ng_exec, and the operator table.
 *
 * A model is a list of values (tensors) and a list of nodes in topological
 * order. Values are: the graph input, parameters (views into the one
 * contiguous float array m->params) and activations (computed per run).
 * Integer constants that ONNX passes as tensors (Reshape's shape, Slice's
 * starts, Pad's pads, Gather's indices, ...) are folded into node attributes by
 * the importer, so the engine sees only floats.
 *
 * Operators are an enum plus ONE table (ng_ops[], ops.c) of
 *     { name, shape, forward, backward }
 * with a compile-time check that the table covers the enum. Each op kernel
 * file (ops_conv.c, ops_pool.c, ...) implements its functions.
 */
#ifndef NG_ENGINE_GRAPH_H
#define NG_ENGINE_GRAPH_H
#include <stdint.h>
#include <stddef.h>
#include "nnguard/model.h"
#include "nnguard/rng.h"
#include "core/pool.h"
#include "core/core.h"

typedef enum ng_op {
    NG_OP_CONV = 0,
    NG_OP_MAXPOOL,
    NG_OP_AVGPOOL,
    NG_OP_GLOBALAVGPOOL,
    NG_OP_GEMM,
    NG_OP_MATMUL,
    NG_OP_ADD,
    NG_OP_MUL,
    NG_OP_RELU,
    NG_OP_LEAKYRELU,
    NG_OP_SIGMOID,
    NG_OP_TANH,
    NG_OP_HARDSIGMOID,
    NG_OP_HARDSWISH,
    NG_OP_BATCHNORM,
    NG_OP_FLATTEN,
    NG_OP_RESHAPE,
    NG_OP_IDENTITY,
    NG_OP_DROPOUT,
    NG_OP_SOFTMAX,
    NG_OP_CONCAT,
    NG_OP_SUB,
    NG_OP_DIV,
    NG_OP_POW,
    NG_OP_SQRT,
    NG_OP_ERF,
    NG_OP_GELU,
    NG_OP_CLIP,
    NG_OP_TRANSPOSE,
    NG_OP_SLICE,
    NG_OP_PAD,
    NG_OP_GATHER,
    NG_OP_SQUEEZE,
    NG_OP_UNSQUEEZE,
    NG_OP_REDUCEMEAN,
    NG_OP_LAYERNORM,
    NG_OP_LSTM,
    NG_OP_GRU,
    NG_OP_COUNT
} ng_op;

/* Parsed attributes of a node (only the fields its op uses are meaningful).
 * Defaults are set by ng_attrs_default() before the importer fills them. */
typedef struct ng_attrs {
    int64_t kernel[2];      /* pooling kernel (Conv takes it from W's shape) */
    int64_t stride[2];
    int64_t pad[4];         /* top, left, bottom, right (ONNX order: begins then ends) */
    int64_t dilation[2];
    int64_t group;
    int     ceil_mode;      /* pooling */
    int     count_include_pad; /* AveragePool */
    float   alpha, beta;    /* Gemm alpha/beta; LeakyRelu alpha; HardSigmoid alpha/beta */
    int     trans_a, trans_b;  /* Gemm */
    int64_t axis;           /* Flatten, Softmax, Concat */
    float   epsilon, momentum; /* BatchNormalization (ONNX momentum: running = m*running + (1-m)*batch) */
    float   ratio;          /* Dropout */
    int     shape_n;        /* Reshape target shape (ONNX semantics: 0 copies, -1 infers) */
    int64_t shape[NG_MAX_DIMS];
    int     allowzero;
    int     softmax_2d;     /* Softmax before opset 13: over the input flattened to 2-D at axis */
    float   lo, hi;         /* Clip bounds (-inf, +inf when absent) */
    /* Transpose perm (n_axes = 0: reverse); Squeeze/Unsqueeze/ReduceMean/Slice axes (n_axes = 0: all,
     * none for ReduceMean's noop_with_empty_axes); Slice starts/ends/steps per axis; Gather indices. */
    int     n_axes;
    int64_t axes[NG_MAX_DIMS];
    int64_t starts[NG_MAX_DIMS], ends[NG_MAX_DIMS], steps[NG_MAX_DIMS];
    int     keepdims;       /* ReduceMean */
    int64_t pads[2 * NG_MAX_DIMS]; /* Pad (constant mode): begins of every axis, then ends; may be negative */
    float   value;          /* Pad constant */
    int     n_idx, idx_scalar; /* Gather: indices (idx_scalar: one index, axis removed) */
    int64_t idx[NG_MAX_DIMS];
    int     gelu_tanh;      /* Gelu approximate="tanh" */
    int64_t hidden;         /* LSTM/GRU hidden_size */
    int     bidir, reverse; /* LSTM/GRU direction */
    int     linear_before_reset; /* GRU */
} ng_attrs;
void ng_attrs_default(ng_attrs *a);

typedef enum ng_vkind { NG_V_INPUT = 0, NG_V_PARAM, NG_V_ACT } ng_vkind;

typedef struct ng_value {
    char     *name;
    ng_vkind  kind;
    ng_shape  shape;      /* params: exact; input: d[0] = -1 (any batch); acts: unused */
    size_t    off;        /* params: offset in floats into m->params */
    int       trainable;  /* params: 1 unless BN running stats or frozen */
    int       tensor;     /* params: index in m->ptensors (file order) */
} ng_value;

#define NG_NODE_MAX_OUT 3
typedef struct ng_node {
    ng_op    op;
    char    *name;        /* ONNX node name (may be "") */
    int      n_in;
    int     *in;          /* value ids; -1 for an absent optional input */
    int      n_out;       /* outputs that are used (Dropout mask, BN extra outputs are dropped) */
    int      out[NG_NODE_MAX_OUT];
    ng_attrs a;
} ng_node;

struct ng_model {
    ng_value *vals;   int n_vals;
    ng_node  *nodes;  int n_nodes;
    int       input;          /* value id of the graph input */
    int       output;         /* value id of the graph output (logits) */
    float    *params;         /* ONE contiguous array, 64-byte aligned */
    size_t    n_params;       /* floats */
    size_t    params_cap;     /* floats allocated (>= n_params) */
    int      *ptensors;       /* value ids of parameters, file order */
    int       n_ptensors;
    ng_meta   meta;
    int64_t   opset;
    char     *graph_name;
    char     *input_name_hint;   /* names kept for export */
    uint8_t  *granted;        /* NULL, or one byte per class: 1 = granted (ng_model_restrict_classes) */
    int       n_granted;      /* its length (the number of classes when it was set) */
};

/* ---- building graphs (importer, built-in architectures) ---- */
ng_model *ng_model_alloc(void);
/* Add a value; returns its id or -1 (out of memory: message set). */
int  ng_model_add_value(ng_model *m, const char *name, ng_vkind kind, const ng_shape *shape);
/* Add a parameter tensor with its shape; data is copied if non-NULL, else zeros. Returns value id.
 * m->params may move (only graph.c allocates it): keep offsets, never pointers, across calls. */
int  ng_model_add_param(ng_model *m, const char *name, const ng_shape *shape, const float *data, int trainable);
/* Make room for n_params + extra floats at once (importers that know the total: no regrowth copies). */
ng_status ng_model_reserve_params(ng_model *m, size_t extra);
/* Add a node; ins copied. Returns node index or -1. */
int  ng_model_add_node(ng_model *m, ng_op op, const char *name, const int *ins, int n_in,
                       const int *outs, int n_out, const ng_attrs *a);
int  ng_model_find_value(const ng_model *m, const char *name);
/* Check the graph once built: every input defined before use, shapes of params fit ops
 * (runs shape inference with batch 1). Message names the node on failure. */
ng_status ng_model_finalize(ng_model *m);
/* Shapes of every value (array of m->n_vals) for a given batch size; message names the node on failure. */
ng_status ng_model_infer_shapes(const ng_model *m, int64_t batch, ng_shape *shapes);
/* MaxPool nodes the last forward on e folded into the Conv before them (test_fusion). */
int ng_exec_folded_pools(const ng_exec *e);
/* Add nodes the last forward on e folded into the Conv before them (test_fusion). */
int ng_exec_folded_adds(const ng_exec *e);
/* Images per sub-batch of the last forward (exec_sub.c's ng_exec_subbatch_size), 0 when it ran the batch whole. */
int64_t ng_exec_last_subbatch(const ng_exec *e);

/* ---- operator table ---- */
/* A node's weights in the form its kernel wants them (Winograd's transformed kernels), kept by an
 * exec whose parameters do not change (ng_exec_options.const_params): made at the first forward,
 * reused by the next ones; src is the weight array it was made from. */
typedef struct ng_wcache { float *data; size_t floats; const float *src; int layout; } ng_wcache;

/* Per-run context handed to kernels. */
typedef struct ng_opctx {
    ng_pool  *pool;       /* worker threads (never NULL; may have 1 thread) */
    int       training;
    ng_rng   *rng;        /* Dropout */
    void    **saved;      /* this node's slot for state kept from forward to backward (owned by exec) */
    size_t   *saved_size; /* bytes allocated in *saved */
    float    *grad_params;/* backward: base of the gradient array (same layout as params), or NULL */
    ng_model *model;      /* BN running-stat updates in training */
    const ng_node *node;
    int       fuse_relu;  /* forward: write Relu(output) (the exec skips the Relu node that follows;
                             only ops in exec_fuse.c's fuses_relu get it; in training only with NG_TRAIN_FUSION
                             not "0"); backward, BatchNormalization in training: dout is the skipped
                             Relu's dY and out[0] its output (mask y > 0) */
    int       fuse_clip;  /* forward, inference only, Conv: write Clip(output) to [clip_lo, clip_hi] (the exec
                             skips the Clip node that follows: MobileNetV2's ReLU6); never with fuse_relu */
    float     clip_lo, clip_hi;
    const ng_node *pool_node; /* forward, inference only, Conv: a 2-D MaxPool over this node's output
                             (after the Relu when fuse_relu is set) that the Conv may compute too */
    ng_tensor *pool_out;  /* that MaxPool's output */
    int       pool_done;  /* set by the Conv when it wrote pool_out (the exec then skips the MaxPool) */
    const ng_tensor *fuse_res; /* forward, inference only, Conv: the other input of the Add right after it
                             (same shape as the output), which the Conv may add to its output (never set
                             with fuse_relu / fuse_clip); the Add's output is this node's buffer */
    int       res_relu;   /* with fuse_res: the Add feeds a Relu alone (ResNet's Conv -> Add -> Relu), which a
                             Conv that adds fuse_res applies after it (the exec then skips the Relu too) */
    int       res_done;   /* set by the Conv when it added fuse_res (the exec then skips the Add, and with
                             res_relu the Relu; else the Add runs in place on this node's output, and
                             applies its Relu as a fused Add -> Relu) */
    int       winograd;   /* 3x3 stride-1 Convs may run Winograd F(2x2, 3x3) (wconv.h) for the forward
                             and, in training, the data gradient; NG_WINOGRAD=0 in the environment at
                             ng_exec_new turns it off; in training it is on only with NG_WINOGRAD_TRAIN=1 */
    int       conv_direct;/* stride-1 Convs with few output channels may run the direct kernel (dconv.h);
                             NG_CONV_DIRECT=0 at ng_exec_new turns it off */
    int       dconv16;    /* the direct kernel may use its 16-channel tiles; NG_DCONV16=0 at ng_exec_new
                             turns them off */
    int       conv_direct_bwd; /* with conv_direct: stride-1 Convs with few channels may compute dX with the
                             direct kernel (ops_conv.c, conv_use_direct_bwd); NG_CONV_DIRECT_BWD=0 at
                             ng_exec_new turns it off */
    int       pwconv;     /* inference 1x1 Convs may run the pointwise kernel (pwconv.h); NG_PWCONV=0 at
                             ng_exec_new turns it off */
    int       gemv;       /* Gemm with at most 4 rows runs one sgemv per row (ops_gemm.c); NG_GEMV=0 at
                             ng_exec_new turns it off */
    int       pwgemm;     /* inference Convs on the im2col path run the pointwise kernel on the column
                             matrix (large outputs: per block of output rows; batch 1: whole) (ops_conv.c);
                             training Convs run their GEMMs on our kernels instead of OpenBLAS: W col and
                             W^T dY on the pointwise kernel, dY col^T on abt.h's (ops_conv*.c);
                             NG_PWGEMM=0 at ng_exec_new turns both off */
    int       dwflat;     /* 3x3 stride-1 depthwise forwards may run the flat kernel (dwconv.c); NG_DWFLAT=0
                             at ng_exec_new turns it off */
    int       wino_pw;    /* Winograd's 16 GEMMs may run on the pointwise kernel (wconv.h, ng_wino.pw);
                             NG_WINO_PW=0 at ng_exec_new keeps them on OpenBLAS */
    int       wino_small; /* ... and chunks of few tiles on the small-tile kernel (wsmall.c, ng_wino.tr);
                             NG_WINO_SMALL=0 at ng_exec_new keeps them on the pointwise kernel */
    int       gconv;      /* inference 3x3 Convs (stride 1 or 2) at batch 1 with few pixels may run the grid
                             kernel (gconv.h, ops_conv.c's conv_use_grid); NG_GCONV=0 at ng_exec_new
                             turns it off */
    ng_wcache *wcache;    /* forward on an exec with const_params, not training: this node's weight cache
                             (ng_opctx_wcache), else NULL */
} ng_opctx;

/* Fill out shapes from input shapes; return NG_OK or ng_fail(NG_E_SHAPE, "node 'x' (Conv): ..."). */
typedef ng_status (*ng_op_shape_fn)(const ng_node *n, const ng_shape *const *in, ng_shape *out);
/* Compute outputs. in[i] NULL for absent optional inputs. */
typedef ng_status (*ng_op_fwd_fn)(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out);
/* Given dout (gradients of outputs), ACCUMULATE into din[i] (NULL where not needed) for every input,
 * parameters included: for a parameter input din[i] points into the gradient array. */
typedef ng_status (*ng_op_bwd_fn)(ng_opctx *c, const ng_node *n, const ng_tensor *const *in,
                                  const ng_tensor *const *out, const ng_tensor *const *dout,
                                  ng_tensor *const *din);

typedef struct ng_op_def {
    const char     *name;     /* ONNX op_type */
    int             min_in, max_in;
    ng_op_shape_fn  shape;
    ng_op_fwd_fn    forward;
    ng_op_bwd_fn    backward; /* NULL: not differentiable (error if asked) */
} ng_op_def;

extern const ng_op_def ng_ops[NG_OP_COUNT];
/* ONNX op_type -> ng_op, or -1. */
int ng_op_from_name(const char *op_type);

#endif
