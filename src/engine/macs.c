/* engine/macs.c - what a model's products cost per sample (ng_model_macs, nnguard/model.h).
 *
 * Counted at batch 1 on the input shape the model declares (unknown non-batch dims taken as 1, as
 * ng_model_infer_shapes does):
 *   Conv    output elements x in_channels/group x kernel taps  (= numel(W) / W.d[0] per output)
 *   Gemm    output elements x the contracted dim of A (its d[0] when trans_a, else d[1])
 *   MatMul  output elements x A's last dim
 * Training adds, per counted node, the same count again for each operand that takes a gradient:
 * a trainable parameter (dW), or an activation computed from one (dX); the graph input, frozen
 * parameters and whatever is computed from them alone take none. A conv net's step is thus close
 * to 3x its forward (the first layer's dX is not needed).
 */
#include <stdlib.h>
#include "engine/graph.h"

static int64_t numel(const ng_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}


ng_status ng_model_macs(const ng_model *m, ng_macs *out)
{
    out->forward = out->train = 0;
    const size_t nv = (size_t)(m->n_vals > 0 ? m->n_vals : 1);
    ng_shape *s = malloc(sizeof *s * nv);
    char *grad = calloc(nv, 1);   /* value takes a gradient */
    if (!s || !grad) { free(s); free(grad); return ng_fail(NG_E_NOMEM, "no memory for the model's shapes"); }
    ng_status st = ng_model_infer_shapes(m, 1, s);
    if (st != NG_OK) { free(s); free(grad); return st; }
    for (int v = 0; v < m->n_vals; v++) grad[v] = m->vals[v].kind == NG_V_PARAM && m->vals[v].trainable;
    for (int i = 0; i < m->n_nodes; i++) {   /* nodes are in execution order */
        const ng_node *n = &m->nodes[i];
        int g = 0;
        for (int k = 0; k < n->n_in; k++) g |= n->in[k] >= 0 && grad[n->in[k]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) grad[n->out[k]] = (char)g;
        if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0) continue;
        const ng_shape *a = &s[n->in[0]], *b = &s[n->in[1]], *y = &s[n->out[0]];
        int64_t k;
        if (n->op == NG_OP_CONV) k = b->ndim >= 1 && b->d[0] > 0 ? numel(b) / b->d[0] : 0;
        else if (n->op == NG_OP_GEMM) k = a->ndim == 2 ? a->d[n->a.trans_a ? 0 : 1] : 0;
        else if (n->op == NG_OP_MATMUL) k = a->ndim >= 1 ? a->d[a->ndim - 1] : 0;
        else continue;
        const int64_t f = numel(y) * k;
        out->forward += f;
        out->train += f * (1 + grad[n->in[0]] + grad[n->in[1]]);
    }
    free(s);
    free(grad);
    return NG_OK;
}
