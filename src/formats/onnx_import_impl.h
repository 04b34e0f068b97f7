/* formats/onnx_import_impl.h - state shared by the ONNX importer (onnx_import.c) and its
 * integer folder (onnx_fold.c). Not a public interface.
 *
 * Integer tensors never reach the engine: each one known at import time is an icst whose
 * element i is v[i] + k[i] * N, N the batch size (shapes are linear in N: dims of the graph
 * input's batch dim and products of it with constants). Float tensors filled with one value
 * whose shape depends on N (ConstantOfShape of a Shape) are a zcst: they may only be sliced
 * and fed to LSTM/GRU as zero initial states, where they mean "absent".
 */
#ifndef NG_FORMATS_ONNX_IMPORT_IMPL_H
#define NG_FORMATS_ONNX_IMPORT_IMPL_H
#include "engine/graph.h"
#include "formats/onnx_internal.h"

typedef struct icst {
    const char *name;
    int     n;               /* elements */
    int     scalar;          /* rank 0 (one element) */
    int     cols;            /* > 0: a 2-D tensor [n / cols, cols] (torch's pads arithmetic); 0: 1-D */
    int64_t v[NG_MAX_DIMS];  /* value at N = 0 */
    int64_t k[NG_MAX_DIMS];  /* coefficient of the batch size N */
} icst;

typedef struct zcst {
    const char *name;
    float   value;
    int     n;               /* dims */
    int64_t v[NG_MAX_DIMS], k[NG_MAX_DIMS];
} zcst;

/* A float Constant node, made a parameter on first use. */
typedef struct fcst { const char *name; const Onnx__NodeProto *nd; } fcst;
typedef struct alias { const char *from, *to; } alias;

typedef struct imp {
    ng_onnx_ctx c;
    const Onnx__GraphProto *g;
    icst  *ic; int n_ic;
    fcst  *fc; int n_fc;
    alias *al; int n_al;
    zcst  *zc; int n_zc;
    ng_shape *s1, *s2;         /* shapes of every value at batch 1 and 2 ... */
    int    sh_vals, sh_nodes;  /* ... valid while the model has this many values and nodes */
} imp;

#define NODE_FAIL(I, nd, st, fmt, ...) \
    ng_fail(st, "%s: node '%s' (op %s): " fmt, (I)->c.file, ng_onnx_node_label(nd), \
            (nd)->op_type ? (nd)->op_type : "?", __VA_ARGS__)

const char *ng_imp_resolve(const imp *I, const char *name);
icst *ng_imp_find_ic(imp *I, const char *name);
zcst *ng_imp_find_zc(imp *I, const char *name);
icst *ng_imp_new_ic(imp *I, const char *name);
/* Value id of a float tensor input of node nd (parameters made from float Constants on first use). */
ng_status ng_imp_get_value(imp *I, const Onnx__NodeProto *nd, const char *name, int *id);
/* The float value of a constant scalar input (a parameter or float Constant). */
ng_status ng_imp_get_scalar(imp *I, const Onnx__NodeProto *nd, const char *name, float *v);

/* Fold nd when it computes an integer tensor (Constant, Shape, Gather, Unsqueeze, Squeeze, Concat,
 * Cast, Slice, Add, Sub, Mul, Div, ConstantOfShape, ...); *done = 1 when it did. */
ng_status ng_imp_fold_int_node(imp *I, const Onnx__NodeProto *nd, int *done);
/* Fold the integer (and constant float) inputs of an engine op into its attributes:
 * Reshape's shape, Slice's starts/ends/axes/steps, Pad's pads and value, Clip's bounds,
 * Squeeze/Unsqueeze/ReduceMean axes, Gather's indices. ins[0] is the data value. */
ng_status ng_imp_fold_inputs(imp *I, const Onnx__NodeProto *nd, int op, const int *ins, ng_attrs *a);

/* Helpers shared by onnx_fold.c and onnx_fold_inputs.c. */
const Onnx__AttributeProto *ng_imp_attr(const Onnx__NodeProto *nd, const char *name);
int64_t ng_imp_attr_int(const Onnx__NodeProto *nd, const char *name, int64_t def);
/* An INTS attribute into v (at most NG_MAX_DIMS); *n = -1 when absent. */
ng_status ng_imp_attr_ints(imp *I, const Onnx__NodeProto *nd, const char *name, int64_t *v, int *n);
/* The dims of value id as linear forms in the batch size. */
ng_status ng_imp_dim_forms(imp *I, int id, int *n, int64_t *v, int64_t *k);
/* Integer input idx of nd, which must not depend on the batch size; *n elements into v. */
ng_status ng_imp_const_ints(imp *I, const Onnx__NodeProto *nd, size_t idx, int64_t *v, int *n, int *scalar);
int ng_imp_has_input(const Onnx__NodeProto *nd, size_t i);
/* Slice's starts/ends/axes/steps (inputs from opset 10, attributes before); *n axes. */
ng_status ng_imp_slice_params(imp *I, const Onnx__NodeProto *nd, int64_t *st, int64_t *en, int64_t *ax, int64_t *sp, int *n);

/* Split of value x: output sizes (from the split input or attribute, or equal parts) and axis. */
ng_status ng_imp_split_sizes(imp *I, const Onnx__NodeProto *nd, int x, int64_t *sizes, int *n, int64_t *axis);

#endif
