/* engine/exec.c - running a model: forward, backward, batched prediction.
 *
 * An ng_exec owns everything a run writes (activation and gradient buffers,
 * per-node saved state, per-worker scratch, its worker pool), so a model is
 * only read in inference mode and many execs may run one model at once.
 * Buffers grow when the batch grows and are reused otherwise: after the first
 * call at a given batch size, forward and backward allocate nothing.
 * (Training-mode BatchNorm writes the running statistics into the model.)
 * With the environment variable NG_PROFILE set, each exec prints the time spent
 * per node (forward and backward) to stderr when it is freed; with NG_NO_FUSION set,
 * inference runs every node on its own (no Conv/Add -> Relu, Conv -> Clip, Conv -> Add or Conv -> MaxPool fusion, see
 * exec_fuse.c);
 * with NG_WINOGRAD=0, inference runs 3x3 stride-1 Convs through im2col + GEMM instead of Winograd (wconv.h);
 * with NG_WINOGRAD_TRAIN=1, training runs them (forward and data gradient) through Winograd too.
 * Training folds a Relu into the BatchNormalization / Conv / Add before it as inference does (and runs
 * it inside BatchNormalization's backward); NG_TRAIN_FUSION=0 runs every node (same bits).
 * NG_CONV_DIRECT_BWD=0 keeps small stride-1 Convs' data gradient on W^T dY + col2im (ops_conv.c).
 * NG_PWGEMM=0 puts training Convs' GEMMs back on OpenBLAS (and inference's im2col Convs, below).
 * NG_PWCONV=0 (the pointwise kernel for 1x1 Convs), NG_DWFLAT=0 (the flat 3x3 depthwise kernel),
 * NG_GEMV=0 (sgemv for Gemms of a few rows), NG_ADDFUSE=0 (Conv -> Add folded) and NG_SUBBATCH=0
 * (inference batches in sub-batches, exec_sub.c) switch the inference kernels off to compare.
 * Inference forwards share activation buffers between values whose lives do not overlap (memplan.h:
 * the working set stays in the caches); a backward, training, or NG_MEMPLAN=0 gives every activation
 * its own buffer (a backward after a planned forward reruns it, as after a folded MaxPool).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/exec_impl.h"
#include "engine/memplan.h"

ng_exec_options ng_exec_options_default(void)
{
    ng_exec_options o = { .threads = 0, .training = 0, .seed = 0 };
    return o;
}

void ng_exec_free(ng_exec *e)
{
    if (!e) return;
    ng_model *m = e->m;
    if (e->prof) {
        double tf = 0, tb = 0;
        for (int i = 0; i < m->n_nodes; i++) { tf += e->prof[i]; tb += e->prof[m->n_nodes + i]; }
        fprintf(stderr, "nnguard profile: forward %.3f s, backward %.3f s\n", tf, tb);
        for (int i = 0; i < m->n_nodes; i++)
            fprintf(stderr, "  %-24s %-18s fwd %8.3f ms  bwd %8.3f ms\n", m->nodes[i].name, ng_ops[m->nodes[i].op].name,
                    1e3 * e->prof[i], 1e3 * e->prof[m->n_nodes + i]);
        free(e->prof);
    }
    for (int i = 0; i < m->n_vals; i++) {
        if (e->buf) ng_free_aligned(e->buf[i]);
        if (e->gbuf) ng_free_aligned(e->gbuf[i]);
    }
    for (int i = 0; e->sbuf && i < m->n_vals; i++) ng_free_aligned(e->sbuf[i]);
    for (int i = 0; e->saved && i < m->n_nodes; i++) ng_free_aligned(e->saved[i]);
    for (int i = 0; e->wcache && i < m->n_nodes; i++) ng_free_aligned(e->wcache[i].data);
    free(e->wcache);
    for (int i = 0; e->scratch && i < e->nworkers; i++) ng_free_aligned(e->scratch[i]);
    ng_free_aligned(e->xcopy);
    ng_free_aligned(e->yfull);
    free(e->shapes); free(e->t); free(e->buf); free(e->cap);
    free(e->g); free(e->gbuf); free(e->gcap); free(e->req);
    free(e->saved); free(e->saved_size); free(e->scratch); free(e->scratch_cap);
    free(e->fuse); free(e->addc); free(e->fpool); free(e->gskip);
    free(e->slot); free(e->slot_size); free(e->sbuf); free(e->scap);
    free(e->ins); free(e->outs); free(e->douts); free(e->dins); free(e->in_off);
    ng_pool_free(e->pool);
    free(e);
}

/* Whether the environment variable NAME is set to "0..." (a kernel switch turned off). */
static int env_is_zero(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] == '0';
}

ng_status ng_exec_new(ng_model *m, const ng_exec_options *o, ng_exec **out)
{
    *out = NULL;
    ng_exec_options def = ng_exec_options_default();
    if (!o) o = &def;
    if (!m || m->input < 0 || m->output < 0 || m->n_nodes == 0)
        return ng_fail(NG_E_INVALID, "model is not finalized (no input, output or nodes)");
    if (o->threads < 0) return ng_fail(NG_E_INVALID, "threads must be >= 0 (0 = all cores), got %d", o->threads);
    ng_exec *e = ng_calloc(1, sizeof *e);
    if (!e) return NG_E_NOMEM;
    e->m = m;
    e->training = o->training;
    ng_rng_seed(&e->rng, o->seed);
    size_t nv = (size_t)m->n_vals, nn = (size_t)m->n_nodes, total_in = 0;
    for (int i = 0; i < m->n_nodes; i++) total_in += (size_t)m->nodes[i].n_in;
    e->pool = ng_pool_new(o->threads);
    if (!e->pool) { free(e); return NG_E_NOMEM; }
    e->nworkers = ng_pool_size(e->pool);
    e->shapes = ng_calloc(nv, sizeof *e->shapes);
    e->t = ng_calloc(nv, sizeof *e->t);
    e->buf = ng_calloc(nv, sizeof *e->buf);
    e->cap = ng_calloc(nv, sizeof *e->cap);
    e->g = ng_calloc(nv, sizeof *e->g);
    e->gbuf = ng_calloc(nv, sizeof *e->gbuf);
    e->gcap = ng_calloc(nv, sizeof *e->gcap);
    e->req = ng_calloc(nv, 1);
    e->saved = ng_calloc(nn, sizeof *e->saved);
    e->saved_size = ng_calloc(nn, sizeof *e->saved_size);
    if (o->const_params && !(e->wcache = ng_calloc(nn, sizeof *e->wcache))) { ng_exec_free(e); return NG_E_NOMEM; }
    e->scratch = ng_calloc((size_t)e->nworkers, sizeof *e->scratch);
    e->scratch_cap = ng_calloc((size_t)e->nworkers, sizeof *e->scratch_cap);
    e->ins = ng_calloc(total_in + 1, sizeof *e->ins);
    e->dins = ng_calloc(total_in + 1, sizeof *e->dins);
    e->outs = ng_calloc(nn * NG_NODE_MAX_OUT, sizeof *e->outs);
    e->douts = ng_calloc(nn * NG_NODE_MAX_OUT, sizeof *e->douts);
    e->in_off = ng_calloc(nn + 1, sizeof *e->in_off);
    e->slot = ng_calloc(nv, sizeof *e->slot);
    e->slot_size = ng_calloc(nv, sizeof *e->slot_size);
    e->sbuf = ng_calloc(nv, sizeof *e->sbuf);
    e->scap = ng_calloc(nv, sizeof *e->scap);
    if (!e->slot || !e->slot_size || !e->sbuf || !e->scap ||
        !e->shapes || !e->t || !e->buf || !e->cap || !e->g || !e->gbuf || !e->gcap || !e->req ||
        !e->saved || !e->saved_size || !e->scratch || !e->scratch_cap || !e->ins || !e->dins ||
        !e->outs || !e->douts || !e->in_off) {
        ng_exec_free(e);
        return NG_E_NOMEM;
    }
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *n = &m->nodes[i];
        e->in_off[i] = k;
        for (int j = 0; j < n->n_in; j++, k++) e->ins[k] = n->in[j] >= 0 ? &e->t[n->in[j]] : NULL;
        for (int j = 0; j < n->n_out; j++) {
            e->outs[i * NG_NODE_MAX_OUT + j] = &e->t[n->out[j]];
            e->douts[i * NG_NODE_MAX_OUT + j] = &e->g[n->out[j]];
        }
    }
    e->in_off[m->n_nodes] = k;
    e->addfuse = !env_is_zero("NG_ADDFUSE");
    const char *sb = getenv("NG_SUBBATCH");
    e->subenv = sb && sb[0] >= '0' && sb[0] <= '9' ? atoi(sb) : -1;
    e->subauto = -1;
    if (ng_exec_fusion_plan(e) != NG_OK) { ng_exec_free(e); return NG_E_NOMEM; }
    /* the kernel switches, read once per exec (not per Conv forward) */
    e->winograd = !env_is_zero("NG_WINOGRAD");
    e->wino_train = getenv("NG_WINOGRAD_TRAIN") && getenv("NG_WINOGRAD_TRAIN")[0] == '1';
    e->conv_direct = !env_is_zero("NG_CONV_DIRECT");
    e->conv_direct_bwd = !env_is_zero("NG_CONV_DIRECT_BWD");
    e->dconv16 = !env_is_zero("NG_DCONV16");
    e->pwconv = !env_is_zero("NG_PWCONV");
    e->dwflat = !env_is_zero("NG_DWFLAT");
    e->pwgemm = !env_is_zero("NG_PWGEMM");
    e->wino_pw = !env_is_zero("NG_WINO_PW");
    e->wino_small = !env_is_zero("NG_WINO_SMALL");
    e->gconv = !env_is_zero("NG_GCONV");
    e->gemv = !env_is_zero("NG_GEMV");
    e->memplan = !env_is_zero("NG_MEMPLAN");
    e->train_fuse = !env_is_zero("NG_TRAIN_FUSION");
    if (getenv("NG_PROFILE") && !(e->prof = ng_calloc(2 * nn, sizeof *e->prof))) { ng_exec_free(e); return NG_E_NOMEM; }
    *out = e;
    return NG_OK;
}

/* Switching to training means the parameters are about to change: the caches are made again at the
 * next inference forward. */
void ng_exec_set_training(ng_exec *e, int on)
{
    if (on) ng_exec_params_changed(e);
    e->training = on;
}

void ng_exec_params_changed(ng_exec *e)
{
    for (int i = 0; e->wcache && i < e->m->n_nodes; i++) e->wcache[i].src = NULL;
}

int ng_exec_folded_pools(const ng_exec *e) { return e->pooled; }
int ng_exec_folded_adds(const ng_exec *e) { return e->added; }

int64_t ng_exec_last_subbatch(const ng_exec *e) { return e->sub_n ? e->sub_sb : 0; }

int ng_exec_grow(float **buf, size_t *cap, size_t n)
{
    if (*cap >= n && *buf) return 1;
    ng_free_aligned(*buf);
    *cap = 0;
    *buf = ng_alloc_aligned((n ? n : 1) * sizeof(float));
    if (!*buf) return 0;
    *cap = n;
    return 1;
}

static int shape_eq(const ng_shape *a, const ng_shape *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->d[k] != b->d[k]) return 0;
    return 1;
}

ng_status ng_exec_prepare(ng_exec *e, int64_t n)
{
    ng_model *m = e->m;
    if (e->batch == n) return NG_OK;
    e->batch = 0;
    ng_status st = ng_model_infer_shapes(m, n, e->shapes);
    if (st != NG_OK) return st;
    for (int i = 0; i < m->n_vals; i++) {
        const ng_value *v = &m->vals[i];
        e->t[i].s = e->shapes[i];
        e->g[i].s = e->shapes[i];
        if (v->kind == NG_V_PARAM) { e->t[i].data = m->params + v->off; continue; }
        if (v->kind == NG_V_INPUT && i != m->input) continue;
        int64_t numel = ng_shape_numel(&e->shapes[i]);
        if (numel < 0) {
            if (v->kind == NG_V_ACT) continue;   /* produced by no node: unused */
            return ng_fail(NG_E_SHAPE, "value '%s' has no valid shape", v->name);
        }
        if (i == m->input) {
            if (!ng_exec_grow(&e->xcopy, &e->xcap, (size_t)numel)) return NG_E_NOMEM;
            e->t[i].data = e->xcopy;
        }
    }
    for (int i = 0; i < m->n_nodes; i++) {   /* Conv -> Add: the Add's inputs and output alike */
        if (!e->addc[i]) continue;
        const ng_node *a = &m->nodes[i + 1];
        const ng_shape *s0 = &e->shapes[a->in[0]], *s1 = &e->shapes[a->in[1]], *so = &e->shapes[a->out[0]];
        e->fuse[i] = shape_eq(s0, s1) && shape_eq(s0, so) ? FUSE_ADD : 0;
    }
    e->batch = n;
    e->plan_batch = 0;
    return NG_OK;
}

/* Point every activation at its buffer for this forward: a shared one (plan: an inference
 * forward, memplan.h) or its own. Shared buffers are planned once per batch size. */
static ng_status bind(ng_exec *e, int plan)
{
    ng_model *m = e->m;
    if (plan && e->plan_batch != e->batch) {
        e->nslots = ng_memplan(m, e->shapes, e->fuse, e->fpool, e->slot, e->slot_size);
        if (e->nslots < 0) return NG_E_NOMEM;
        for (int k = 0; k < e->nslots; k++)
            if (!ng_exec_grow(&e->sbuf[k], &e->scap[k], e->slot_size[k])) return NG_E_NOMEM;
        e->plan_batch = e->batch;
    }
    for (int i = 0; i < m->n_vals; i++) {
        if (m->vals[i].kind != NG_V_ACT || i == m->input) continue;
        int64_t numel = ng_shape_numel(&e->shapes[i]);
        if (numel < 0) continue;
        if (plan && e->slot[i] >= 0) { e->t[i].data = e->sbuf[e->slot[i]]; continue; }
        if (!ng_exec_grow(&e->buf[i], &e->cap[i], (size_t)numel)) return NG_E_NOMEM;
        e->t[i].data = e->buf[i];
    }
    e->planned = plan;
    return NG_OK;
}

static ng_status node_fail(const ng_node *n, ng_status st)
{
    const char *msg = ng_last_error();
    if (strncmp(msg, "node '", 6) == 0) return st;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", msg[0] ? msg : ng_status_str(st));
    return ng_fail(st, "node '%s' (%s): %s", n->name, ng_ops[n->op].name, buf);
}

static void ctx_init(ng_exec *e, exec_ctx *x, float *grad_params)
{
    memset(x, 0, sizeof *x);
    x->c.pool = e->pool;
    x->c.training = e->training;
    /* Winograd in training is opt-in: 8-10% less CPU at 1 thread on vgg-small, but at 2 threads
     * vgg-small trained at 410-413 img/s with it against 478 without (quiet, 2026-12-03). */
    x->c.winograd = e->winograd && (!e->training || e->wino_train);
    x->c.conv_direct = e->conv_direct;
    x->c.conv_direct_bwd = e->conv_direct_bwd;
    x->c.dconv16 = e->dconv16;
    x->c.pwconv = e->pwconv;
    x->c.dwflat = e->dwflat;
    x->c.pwgemm = e->pwgemm;
    x->c.wino_pw = e->wino_pw;
    x->c.wino_small = e->wino_small;
    x->c.gconv = e->gconv;
    x->c.gemv = e->gemv;
    x->c.rng = &e->rng;
    x->c.grad_params = grad_params;
    x->c.model = e->m;
    x->e = e;
}

/* The classes a license did not grant (ng_model_restrict_classes) can never be answered: on a
 * model whose last node is Softmax their probabilities become 0 and the granted ones are
 * renormalised to sum 1 (all granted ones 0: uniform over the granted); on logits they become
 * NG_MASKED_LOGIT, so softmax gives them exactly 0 and argmax picks a granted class. */
static void mask_classes(const ng_model *m, float *y, int64_t n)
{
    int C = m->n_granted, probs = m->n_nodes > 0 && m->nodes[m->n_nodes - 1].op == NG_OP_SOFTMAX &&
                                  m->nodes[m->n_nodes - 1].out[0] == m->output;
    int ng = 0;
    for (int c = 0; c < C; c++) ng += m->granted[c];
    for (int64_t i = 0; i < n; i++) {
        float *r = y + i * C;
        double sum = 0;
        for (int c = 0; c < C; c++) {
            if (!m->granted[c]) r[c] = probs ? 0.0f : NG_MASKED_LOGIT;
            else sum += r[c];
        }
        if (!probs || ng == 0) continue;
        for (int c = 0; c < C; c++)
            if (m->granted[c]) r[c] = sum > 0 ? (float)(r[c] / sum) : 1.0f / (float)ng;
    }
}

ng_status ng_exec_forward(ng_exec *e, const float *x, int64_t n, const float **out, ng_shape *out_shape)
{
    ng_model *m = e->m;
    if (n <= 0) return ng_fail(NG_E_INVALID, "batch size must be positive, got %lld", (long long)n);
    e->ran = 0;
    e->sub_n = 0;
    const int64_t sb = ng_exec_subbatch_size(e, n);
    if (sb > 0) return ng_exec_forward_sub(e, x, n, sb, out, out_shape);
    ng_status st = ng_exec_prepare(e, n);
    if (st != NG_OK) return st;
    /* Params may have moved (set_weights does not move them, but add_param would). */
    for (int i = 0; i < m->n_ptensors; i++) {
        int v = m->ptensors[i];
        e->t[v].data = m->params + m->vals[v].off;
    }
    memcpy(e->xcopy, x, (size_t)ng_shape_numel(&e->shapes[m->input]) * sizeof(float));
    st = ng_exec_run_forward(e);
    if (st != NG_OK) return st;
    *out = e->t[m->output].data;
    if (out_shape) *out_shape = e->shapes[m->output];
    return NG_OK;
}

/* Whether a training forward folds the Relu after node i into it (fuses_relu). */
static int relu_fused_train(const ng_exec *e, int i)
{
    return e->training && e->train_fuse && e->fuse[i] == FUSE_RELU;
}

/* Whether the backward runs the Relu after node i inside node i's backward: after a
 * BatchNormalization whose training forward folded it (the BatchNormalization takes the Relu's dY). */
static int relu_bwd_fused(const ng_exec *e, int i)
{
    return i >= 0 && e->train_fused && e->fuse[i] == FUSE_RELU && e->m->nodes[i].op == NG_OP_BATCHNORM;
}

ng_status ng_exec_run_forward(ng_exec *e)
{
    ng_model *m = e->m;
    const int64_t n = e->batch;
    ng_status st = bind(e, e->memplan && !e->training && !e->grads);
    if (st != NG_OK) return st;
    exec_ctx xc;
    ctx_init(e, &xc, NULL);
    e->pooled = 0;
    e->clipped = 0;
    e->added = 0;
    e->train_fused = e->training && e->train_fuse;
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *nd = &m->nodes[i];
        const int fuse = e->training ? relu_fused_train(e, i)
                                     : e->fuse[i] && !((e->fuse[i] == FUSE_CLIP || e->fuse[i] == FUSE_ADD) && e->grads);
        if (fuse) e->t[m->nodes[i + 1].out[0]].data = e->t[nd->out[0]].data;   /* the Relu after it: an alias */
        xc.c.saved = &e->saved[i];
        xc.c.saved_size = &e->saved_size[i];
        xc.c.node = nd;
        xc.c.wcache = e->wcache && !e->training ? &e->wcache[i] : NULL;
        xc.c.fuse_relu = fuse && e->fuse[i] == FUSE_RELU;
        xc.c.fuse_clip = fuse && e->fuse[i] == FUSE_CLIP;
        if (xc.c.fuse_clip) { xc.c.clip_lo = m->nodes[i + 1].a.lo; xc.c.clip_hi = m->nodes[i + 1].a.hi; }
        const int pool = e->training || e->grads ? -1 : e->fpool[i];
        xc.c.pool_node = pool >= 0 ? &m->nodes[pool] : NULL;
        xc.c.pool_out = pool >= 0 ? e->outs[pool * NG_NODE_MAX_OUT] : NULL;
        xc.c.pool_done = 0;
        xc.c.fuse_res = fuse && e->fuse[i] == FUSE_ADD ? &e->t[m->nodes[i + 1].in[e->addc[i] - 1]] : NULL;
        xc.c.res_relu = xc.c.fuse_res && e->fuse[i + 1] == FUSE_RELU;   /* Conv -> Add -> Relu */
        xc.c.res_done = 0;
        double t0 = e->prof ? ng_now() : 0;
        st = ng_ops[nd->op].forward(&xc.c, nd, e->ins + e->in_off[i], e->outs + i * NG_NODE_MAX_OUT);
        if (st != NG_OK) return node_fail(nd, st);
        if (e->prof) e->prof[i] += ng_now() - t0;
        if (fuse && e->fuse[i] == FUSE_ADD) {   /* the Add is done, or runs next in place */
            if (xc.c.res_done) {
                e->clipped++;
                e->added++;
                i++;
                if (xc.c.res_relu) {   /* and its Relu: its output the same buffer */
                    e->t[m->nodes[i + 1].out[0]].data = e->t[nd->out[0]].data;
                    i++;
                }
            }
        } else if (fuse) { e->clipped += xc.c.fuse_clip; i++; }   /* the Relu / Clip is done */
        if (xc.c.pool_done) { i = pool; e->pooled++; }   /* and the MaxPool */
    }
    xc.c.fuse_relu = xc.c.fuse_clip = 0;
    xc.c.pool_node = NULL;
    xc.c.fuse_res = NULL;
    xc.c.res_relu = 0;
    e->ran = 1;
    if (m->granted && !e->training) mask_classes(m, e->t[m->output].data, n);
    return NG_OK;
}

ng_status ng_exec_backward(ng_exec *e, const float *dout, float *grad_params, float *grad_input)
{
    ng_model *m = e->m;
    if (!e->ran) return ng_fail(NG_E_STATE, "backward needs a forward pass on this exec first");
    e->grads = 1;
    if (e->sub_n) {   /* the forward ran in sub-batches: run it whole (its input is in xcopy) */
        ng_status st = ng_exec_prepare(e, e->sub_n);
        if (st != NG_OK) return st;
        e->sub_n = 0;
        if ((st = ng_exec_run_forward(e)) != NG_OK) return st;
    }
    if (e->pooled || e->clipped || e->planned) {
        /* A folded MaxPool or Clip left its input unwritten, or shared buffers overwrote activations,
         * and backward reads them: run the forward again unfolded on buffers of their own (same
         * outputs, bit for bit; after a forward in sub-batches, the whole batch's kernels may sum in
         * another order: the same within rounding). This exec folds and shares no more: an exec used
         * for gradients (the attacks) pays this once. */
        ng_status st = ng_exec_run_forward(e);
        if (st != NG_OK) return st;
    }
    if (grad_params) memset(grad_params, 0, m->n_params * sizeof(float));
    /* Which values need a gradient: trainable params / the input as asked, and
     * every activation computed from one of them. */
    memset(e->req, 0, (size_t)m->n_vals);
    for (int i = 0; i < m->n_vals; i++) {
        const ng_value *v = &m->vals[i];
        if (v->kind == NG_V_PARAM && v->trainable && grad_params) e->req[i] = 1;
        if (i == m->input && grad_input) e->req[i] = 1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *nd = &m->nodes[i];
        int any = 0;
        for (int j = 0; j < nd->n_in; j++) any |= nd->in[j] >= 0 && e->req[nd->in[j]];
        for (int j = 0; j < nd->n_out; j++) e->req[nd->out[j]] = (char)any;
    }
    /* The output of a BatchNormalization whose Relu runs inside its backward: its gradient is the
     * Relu's, this one is never read nor written (no buffer, no zeroing pass). */
    memset(e->gskip, 0, (size_t)m->n_vals);
    for (int i = 0; i < m->n_nodes; i++)
        if (relu_bwd_fused(e, i)) e->gskip[m->nodes[i].out[0]] = 1;
    /* Gradient views: params into grad_params, input into grad_input, activations zeroed buffers. */
    for (int i = 0; i < m->n_vals; i++) {
        const ng_value *v = &m->vals[i];
        int64_t numel = ng_shape_numel(&e->shapes[i]);
        e->g[i].data = NULL;
        if ((!e->req[i] || e->gskip[i]) && i != m->output) continue;
        if (v->kind == NG_V_PARAM) { e->g[i].data = grad_params + v->off; continue; }
        if (i == m->input) {
            if (grad_input) memset(grad_input, 0, (size_t)numel * sizeof(float));
            e->g[i].data = grad_input;
            continue;
        }
        if (numel < 0) continue;
        if (!ng_exec_grow(&e->gbuf[i], &e->gcap[i], (size_t)numel)) return NG_E_NOMEM;
        memset(e->gbuf[i], 0, (size_t)numel * sizeof(float));
        e->g[i].data = e->gbuf[i];
    }
    if (!e->req[m->output]) return NG_OK;   /* nothing asked depends on the output */
    int64_t on = ng_shape_numel(&e->shapes[m->output]);
    memcpy(e->g[m->output].data, dout, (size_t)on * sizeof(float));
    exec_ctx xc;
    ctx_init(e, &xc, grad_params);
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        const ng_node *nd = &m->nodes[i];
        int any = 0;
        for (int j = 0; j < nd->n_out; j++) any |= e->req[nd->out[j]];
        if (!any) continue;
        ng_tensor **din = e->dins + e->in_off[i];
        for (int j = 0; j < nd->n_in; j++) {
            int v = nd->in[j];
            din[j] = (v >= 0 && e->req[v] && e->g[v].data) ? &e->g[v] : NULL;
        }
        if (!ng_ops[nd->op].backward)
            return ng_fail(NG_E_UNSUPPORTED, "node '%s' (%s): operator has no gradient", nd->name, ng_ops[nd->op].name);
        if (relu_bwd_fused(e, i - 1)) continue;   /* this Relu: in the BatchNormalization's backward */
        xc.c.saved = &e->saved[i];
        xc.c.saved_size = &e->saved_size[i];
        xc.c.node = nd;
        /* A fused Relu's dY (its output aliases this node's, so out[0] holds y = Relu(...) for the mask) */
        xc.c.fuse_relu = relu_bwd_fused(e, i);
        const int dnode = xc.c.fuse_relu ? i + 1 : i;
        double t0 = e->prof ? ng_now() : 0;
        ng_status st = ng_ops[nd->op].backward(&xc.c, nd, e->ins + e->in_off[i],
                                               (const ng_tensor *const *)(e->outs + i * NG_NODE_MAX_OUT),
                                               e->douts + dnode * NG_NODE_MAX_OUT, din);
        if (st != NG_OK) return node_fail(nd, st);
        if (e->prof) e->prof[m->n_nodes + i] += ng_now() - t0;
    }
    return NG_OK;
}

ng_status ng_model_predict(ng_model *m, const float *x, int64_t n, int batch, int threads, float *logits)
{
    if (batch <= 0) batch = 256;
    ng_exec_options o = ng_exec_options_default();
    o.threads = threads;
    o.const_params = n > batch;   /* the model does not change during the call: caches from 2 forwards on */
    ng_exec *e;
    ng_status st = ng_exec_new(m, &o, &e);
    if (st != NG_OK) return st;
    ng_shape xs;
    ng_model_input_shape(m, &xs);
    int64_t per = 1;
    for (int i = 1; i < xs.ndim; i++) per *= xs.d[i] > 0 ? xs.d[i] : 1;
    for (int64_t i = 0; i < n && st == NG_OK; i += batch) {
        int64_t b = n - i < batch ? n - i : batch;
        const float *y;
        ng_shape ys;
        st = ng_exec_forward(e, x + i * per, b, &y, &ys);
        if (st != NG_OK) break;
        int64_t k = ng_shape_numel(&ys) / b;
        memcpy(logits + i * k, y, (size_t)(b * k) * sizeof(float));
    }
    ng_exec_free(e);
    return st;
}

float *ng_opctx_scratch(ng_opctx *c, int worker, size_t floats)
{
    ng_exec *e = ((exec_ctx *)c)->e;
    if (worker < 0 || worker >= e->nworkers) { ng_fail(NG_E_INTERNAL, "scratch for unknown worker %d", worker); return NULL; }
    if (!ng_exec_grow(&e->scratch[worker], &e->scratch_cap[worker], floats)) return NULL;
    return e->scratch[worker];
}

float *ng_opctx_wcache(ng_opctx *c, const float *src, size_t floats, int layout, int *fresh)
{
    ng_wcache *w = c->wcache;
    *fresh = 1;
    if (!w) return NULL;
    if (w->data && w->floats == floats && w->src == src && w->layout == layout) { *fresh = 0; return w->data; }
    w->layout = layout;
    if (w->floats != floats || !w->data) {
        ng_free_aligned(w->data);
        w->floats = 0;
        if (!(w->data = ng_alloc_aligned((floats ? floats : 1) * sizeof(float)))) {
            w->src = NULL;
            ng_fail(NG_E_NOMEM, "node '%s': no memory for its %zu transformed weights", c->node && c->node->name ? c->node->name : "", floats);
            return NULL;
        }
        w->floats = floats;
    }
    w->src = src;   /* the caller fills it now */
    return w->data;
}

void *ng_opctx_saved(ng_opctx *c, size_t bytes)
{
    /* cppcheck-suppress identicalInnerCondition ; false positive: the inner expression is the returned value, not a condition */
    if (*c->saved_size >= bytes && *c->saved) return *c->saved;
    ng_free_aligned(*c->saved);
    *c->saved_size = 0;
    *c->saved = ng_alloc_aligned(bytes ? bytes : 1);
    if (*c->saved) *c->saved_size = bytes;
    return *c->saved;
}
