/* engine/exec_sub.c - inference in sub-batches (NG_SUBBATCH). */
#include <stdlib.h>
#include <string.h>
#include "engine/exec_impl.h"

/* Inference batches in sub-batches: each image (or few) runs through the whole graph while its
 * activations are still in the caches, instead of every layer streaming the whole batch's
 * activations through memory (MobileNetV2 at batch 32: 154 MB for one layer's output). MobileNetV2
 * batch 32, 1 thread, CPU s per forward (loaded machine, 2 runs): whole 0.325 / 0.310, sub-batches
 * of 1 image 0.293 / 0.290, of 2 0.299 / 0.293, of 4 0.296 / 0.305. Worth it where the activations
 * of one image outweigh the weights each sub-batch reads again: auto takes as many images as the
 * pool has workers (each worker one image per layer, no image split between them) when the
 * activations of one image add up to at least half the parameters (MobileNetV2: yes; not ResNet-18,
 * whose 11.7 M parameters would be read again per sub-batch, nor LeNet-5). NG_SUBBATCH=0 turns it
 * off, NG_SUBBATCH=k forces k images (auto or forced: only on graphs whose ops never mix images,
 * per_image). Inference only, and not on an exec used for gradients. */
/* Whether every image goes through the graph on its own: only ops that never mix images, and every
 * activation led by the batch (shapes at batches 1 and 3 alike but for d[0]). */
static int per_image(const ng_model *m, const ng_shape *s1, const ng_shape *s3)
{
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *n = &m->nodes[i];
        switch (n->op) {
        case NG_OP_CONV: case NG_OP_RELU: case NG_OP_CLIP: case NG_OP_ADD: case NG_OP_MUL: case NG_OP_SUB:
        case NG_OP_DIV: case NG_OP_BATCHNORM: case NG_OP_MAXPOOL: case NG_OP_AVGPOOL: case NG_OP_GLOBALAVGPOOL:
        case NG_OP_FLATTEN: case NG_OP_RESHAPE: case NG_OP_IDENTITY: case NG_OP_DROPOUT: case NG_OP_SIGMOID:
        case NG_OP_HARDSIGMOID: case NG_OP_HARDSWISH: case NG_OP_TANH: case NG_OP_LEAKYRELU:
            break;
        case NG_OP_GEMM:
            if (n->a.trans_a) return 0;
            break;
        default:
            return 0;
        }
    }
    for (int v = 0; v < m->n_vals; v++) {
        if (m->vals[v].kind != NG_V_ACT && v != m->input) continue;
        const ng_shape *a = &s1[v], *b = &s3[v];
        if (ng_shape_numel(a) < 0) continue;   /* produced by no node */
        if (a->ndim < 1 || a->ndim != b->ndim || a->d[0] != 1 || b->d[0] != 3) return 0;
        for (int k = 1; k < a->ndim; k++)
            if (a->d[k] != b->d[k]) return 0;
    }
    return 1;
}

int64_t ng_exec_subbatch_size(ng_exec *e, int64_t n)
{
    if (e->training || e->grads || !e->memplan || n <= 1 || e->subenv == 0) return 0;
    if (e->subauto < 0) {
        const ng_model *m = e->m;
        ng_shape *s = ng_calloc(2 * (size_t)m->n_vals, sizeof *s);
        if (!s) return 0;
        double acts = 0;
        int ok = ng_model_infer_shapes(e->m, 1, s) == NG_OK && ng_model_infer_shapes(e->m, 3, s + m->n_vals) == NG_OK &&
                 per_image(m, s, s + m->n_vals);
        for (int i = 0; ok && i < m->n_vals; i++)
            if (m->vals[i].kind == NG_V_ACT && ng_shape_numel(&s[i]) > 0) acts += (double)ng_shape_numel(&s[i]);
        free(s);
        e->subok = ok;
        e->subauto = ok && acts >= 0.5 * (double)m->n_params && acts > 0 ? e->nworkers : 0;
    }
    if (!e->subok) return 0;
    if (e->subenv > 0) return e->subenv < n ? e->subenv : 0;
    return e->subauto && e->subauto < n ? e->subauto : 0;
}

ng_status ng_exec_forward_sub(ng_exec *e, const float *x, int64_t n, int64_t sb, const float **out,
                              ng_shape *out_shape)
{
    ng_model *m = e->m;
    ng_status st = ng_exec_prepare(e, sb);
    if (st != NG_OK) return st;
    const int64_t per_in = ng_shape_numel(&e->shapes[m->input]) / sb, per_out = ng_shape_numel(&e->shapes[m->output]) / sb;
    if (!ng_exec_grow(&e->xcopy, &e->xcap, (size_t)(n * per_in)) || !ng_exec_grow(&e->yfull, &e->ycap, (size_t)(n * per_out)))
        return NG_E_NOMEM;
    memcpy(e->xcopy, x, (size_t)(n * per_in) * sizeof(float));
    for (int64_t i = 0; i < n && st == NG_OK; i += sb) {
        const int64_t k = n - i < sb ? n - i : sb;
        if ((st = ng_exec_prepare(e, k)) != NG_OK) break;
        for (int j = 0; j < m->n_ptensors; j++) e->t[m->ptensors[j]].data = m->params + m->vals[m->ptensors[j]].off;
        e->t[m->input].data = e->xcopy + i * per_in;   /* the sub-batch's images, in place */
        if ((st = ng_exec_run_forward(e)) != NG_OK) break;
        memcpy(e->yfull + i * per_out, e->t[m->output].data, (size_t)(k * per_out) * sizeof(float));
    }
    e->t[m->input].data = e->xcopy;
    if (st != NG_OK) { e->ran = 0; return st; }
    e->sub_n = n;
    e->sub_sb = sb;
    *out = e->yfull;
    if (out_shape) { *out_shape = e->shapes[m->output]; out_shape->d[0] = n; }
    return NG_OK;
}
