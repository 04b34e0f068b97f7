/* engine/exec_fuse.c - which nodes inference and training fold into the node before them
 * (Conv/Add/BatchNormalization -> Relu, Conv -> Clip, Conv -> Add, Conv -> MaxPool), planned once per
 * exec from the graph; exec.c's forward carries the plan out (NG_NO_FUSION=0 turns it all off). */
#include <stdlib.h>
#include "engine/exec_impl.h"

/* Conv -> Relu, Add -> Relu (ResNet's pattern) and BatchNormalization -> Relu (VGG's): the producer
 * writes Relu of its output and the Relu node is skipped, its output an alias of the producer's
 * buffer: one pass over the activations less. Only where the producer's output feeds that Relu
 * alone and is not the graph's output. Training fuses too (NG_TRAIN_FUSION=0 turns it off): none
 * of these producers' backward reads its own output, and Relu's backward reads only its output
 * (y > 0), which the alias holds; after BatchNormalization the backward is fused as well
 * (BatchNormalization's takes the Relu's dY and masks it with y > 0; ops_norm.c). */
static int fuses_relu(int op) { return op == NG_OP_CONV || op == NG_OP_ADD || op == NG_OP_BATCHNORM; }

/* Conv -> Clip (MobileNetV2's ReLU6) the same way: the Conv clamps its output. Clip's backward
 * reads its input (dy passes where lo <= x <= hi), which the alias overwrites with the clamped
 * value, so a backward after such a forward reruns it unfused (like a folded MaxPool). */
static int fuses_clip(const ng_node *a, const ng_node *b) { return a->op == NG_OP_CONV && b->op == NG_OP_CLIP; }

/* Conv -> Add (MobileNetV2's projection and its residual): the Conv may add the Add's other input
 * to its output (the pointwise kernel does, in registers: ng_opctx.fuse_res); the Add's output is an
 * alias of the Conv's, so when the Conv declines, the Add runs in place there. Only an Add with two
 * inputs, the Conv's output on one side, and (checked per batch in prepare: the alias needs it) all
 * three of the same shape. When the Add feeds a Relu alone (ResNet's Conv -> Add -> Relu, the Add's
 * FUSE_RELU), the Conv that adds applies the Relu after it and both nodes are skipped; one that
 * declines leaves the Add to run in place with its fused Relu. Like Clip, a backward after such a
 * forward reruns it unfused. */
static int fuses_add(const ng_model *m, const int *uses, int i)
{
    const ng_node *a = &m->nodes[i], *b = &m->nodes[i + 1];
    if (a->op != NG_OP_CONV || b->op != NG_OP_ADD || a->n_out != 1 || b->n_in != 2 || b->n_out != 1) return 0;
    const int v = a->out[0];
    if (uses[v] != 1 || v == m->output || b->in[0] == b->in[1] || (b->in[0] != v && b->in[1] != v)) return 0;
    return b->in[0] == v ? 2 : 1;
}

/* Conv [-> Relu] -> MaxPool (LeNet's and VGG's pattern): the Conv may also write the pooled output
 * straight into the MaxPool's buffer (ng_opctx.pool_node; the Conv says whether it did), so the
 * full-size activation is never stored and read back. Same conditions on the values in between;
 * the MaxPool must not output indices. Nodes i, i+1 (the Relu, when fused) and the MaxPool next. */
static int pool_after(const ng_model *m, const int *uses, const char *fuse, int i)
{
    if (m->nodes[i].op != NG_OP_CONV || m->nodes[i].n_out != 1) return -1;
    if (fuse[i] == FUSE_CLIP) return -1;   /* the folded pool would not see the clamp */
    const int p = i + 1 + (fuse[i] ? 1 : 0);
    if (p >= m->n_nodes) return -1;
    const ng_node *pn = &m->nodes[p];
    const int v = m->nodes[p - 1].out[0];
    if (pn->op != NG_OP_MAXPOOL || pn->n_out != 1 || pn->n_in != 1 || pn->in[0] != v || uses[v] != 1 ||
        v == m->output)
        return -1;
    return p;
}

ng_status ng_exec_fusion_plan(ng_exec *e)
{
    const ng_model *m = e->m;
    int *uses = ng_calloc((size_t)m->n_vals, sizeof *uses);
    e->fuse = ng_calloc((size_t)m->n_nodes, 1);
    e->addc = ng_calloc((size_t)m->n_nodes, 1);
    e->fpool = ng_calloc((size_t)m->n_nodes, sizeof *e->fpool);
    e->gskip = ng_calloc((size_t)m->n_vals, 1);
    if (!uses || !e->fuse || !e->addc || !e->fpool || !e->gskip) { free(uses); return NG_E_NOMEM; }
    for (int i = 0; i < m->n_nodes; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++)
            if (m->nodes[i].in[j] >= 0) uses[m->nodes[i].in[j]]++;
    const int off = getenv("NG_NO_FUSION") != NULL;
    for (int i = 0; !off && i + 1 < m->n_nodes; i++) {
        const ng_node *a = &m->nodes[i], *b = &m->nodes[i + 1];
        const int alone = a->n_out == 1 && b->n_in == 1 && b->n_out == 1 && b->in[0] == a->out[0] &&
                          uses[a->out[0]] == 1 && a->out[0] != m->output;
        if (alone && fuses_relu(a->op) && b->op == NG_OP_RELU) e->fuse[i] = FUSE_RELU;
        else if (alone && fuses_clip(a, b)) e->fuse[i] = FUSE_CLIP;
    }
    for (int i = 0; !off && e->addfuse && i + 2 < m->n_nodes; i++)   /* (a Conv folding a Relu has no Add next) */
        if (!e->fuse[i] && (!e->fuse[i + 1] || e->fuse[i + 1] == FUSE_RELU)) e->addc[i] = (char)fuses_add(m, uses, i);
    for (int i = 0; i < m->n_nodes; i++) e->fpool[i] = off ? -1 : pool_after(m, uses, e->fuse, i);
    free(uses);
    return NG_OK;
}
