/* test_memplan: inference forwards on shared activation buffers (engine/memplan.h).
 *
 *   - a chain x -> Relu a -> Relu b -> Relu c -> Relu d -> Relu y needs exactly 2 buffers (a, c share
 *     one, b, d the other); the graph input and output keep their own;
 *   - on a residual block (x -> depthwise Conv -> Relu r1 -> Conv -> Add(., r1) -> Relu -> Conv1x1 -> y:
 *     r1 is read two nodes later) with and without the Conv -> Relu fold: no two values whose lives
 *     overlap share a buffer, every buffer holds its values, a folded Relu's output is its Conv's
 *     buffer, and fewer buffers than values;
 *   - through the exec, batch 1 then 5 then 1 (a new plan per batch): outputs bit-identical to
 *     NG_MEMPLAN=0 (every activation its own buffer), and the input gradient of a backward after a
 *     planned forward (which reruns it unshared) bit-identical to the unplanned exec's; the batch of
 *     5 in sub-batches (exec_sub.c: auto 2, 2 and 1 images, NG_SUBBATCH=1: 1 each; NG_SUBBATCH=0: whole) gives
 *     the same outputs and, its backward rerunning the batch whole, the same input gradients.
 * ctest-engine-only: links nnguard_engine alone. */
#include "tutil.h"
#include "engine/graph.h"
#include "graph_build.h"
#include "engine/memplan.h"

enum { C = 4, H = 6, W = 6, M = 5 };


/* Lives [written, last read] of planned values sharing a buffer never overlap; buffers are big enough.
 * No folded MaxPools here (fpool all -1); fuse as given (a folded Relu shares its producer's life). */
static void check_plan(const ng_model *m, const ng_shape *sh, const char *fuse, const int *slot, const size_t *size,
                       int ns)
{
    const int nv = m->n_vals;
    int *born = malloc((size_t)nv * sizeof *born), *last = malloc((size_t)nv * sizeof *last);
    for (int v = 0; v < nv; v++) born[v] = last[v] = -1;
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *n = &m->nodes[i];
        const int at = i > 0 && fuse[i - 1] ? i - 1 : i;   /* a folded node runs inside its producer */
        for (int j = 0; j < n->n_out; j++) { born[n->out[j]] = at; last[n->out[j]] = i; }
        for (int j = 0; j < n->n_in; j++) if (n->in[j] >= 0) last[n->in[j]] = i;
    }
    int planned = 0, bad = 0;
    for (int v = 0; v < nv; v++) {
        if (slot[v] < 0) continue;
        planned++;
        CHECKF(slot[v] < ns && size[slot[v]] >= (size_t)ng_shape_numel(&sh[v]), "value %s: buffer %d too small",
               m->vals[v].name, slot[v]);
        for (int u = 0; u < v; u++) {
            if (slot[u] != slot[v]) continue;
            int alias = 0;
            for (int i = 0; i + 1 < m->n_nodes; i++)
                if (fuse[i] && ((m->nodes[i].out[0] == u && m->nodes[i + 1].out[0] == v) ||
                                (m->nodes[i].out[0] == v && m->nodes[i + 1].out[0] == u))) alias = 1;
            if (!alias && !(last[u] < born[v] || last[v] < born[u])) bad++;
        }
    }
    CHECKF(bad == 0, "%d pairs of values share a buffer while both are live", bad);
    CHECKF(ns < planned, "%d buffers for %d values: nothing shared", ns, planned);
    free(born);
    free(last);
}

/* What ng_memplan reads and writes for m: shapes, slots and sizes per value, no fusion, no folded pools. */
typedef struct bufs { ng_shape *sh; int *slot; size_t *size; char *fuse; int *fpool; } bufs;

static bufs bufs_new(const ng_model *m)
{
    bufs b = { calloc((size_t)m->n_vals, sizeof *b.sh), malloc((size_t)m->n_vals * sizeof *b.slot),
               malloc((size_t)m->n_vals * sizeof *b.size), calloc((size_t)m->n_nodes, 1),
               malloc((size_t)m->n_nodes * sizeof *b.fpool) };
    for (int i = 0; i < m->n_nodes; i++) b.fpool[i] = -1;
    return b;
}

static void bufs_free(bufs *b) { free(b->sh); free(b->slot); free(b->size); free(b->fuse); free(b->fpool); }

static void test_chain(void)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = {2, {-1, 8}};
    int v = ng_model_add_value(m, "x", NG_V_INPUT, &xs), ids[6];
    m->input = v;
    ids[0] = v;
    const char *nm[5] = {"a", "b", "c", "d", "y"};
    for (int i = 0; i < 5; i++) ids[i + 1] = v = gb_node(m, NG_OP_RELU, nm[i], &v, 1);
    m->output = v;
    CHECK_OK(ng_model_finalize(m));
    bufs b = bufs_new(m);
    CHECK_OK(ng_model_infer_shapes(m, 3, b.sh));
    int ns = ng_memplan(m, b.sh, b.fuse, b.fpool, b.slot, b.size);
    CHECKF(ns == 2, "chain of 4 planned values: %d buffers, want 2", ns);
    CHECK(b.slot[ids[1]] >= 0 && b.slot[ids[1]] == b.slot[ids[3]] && b.slot[ids[2]] == b.slot[ids[4]]);
    CHECK(b.slot[ids[1]] != b.slot[ids[2]]);
    CHECK(b.slot[ids[0]] == -1 && b.slot[ids[5]] == -1);   /* the graph input and output: their own */
    CHECK(ns == 2 && b.size[0] == 24 && b.size[1] == 24);
    bufs_free(&b);
    ng_model_free(m);
}

static void test_residual_plan(ng_model *m)
{
    bufs b = bufs_new(m);
    CHECK_OK(ng_model_infer_shapes(m, 2, b.sh));
    for (int f = 0; f < 2; f++) {
        b.fuse[0] = b.fuse[2] = (char)f;   /* conv1 -> relu1, add -> relu2 */
        int ns = ng_memplan(m, b.sh, b.fuse, b.fpool, b.slot, b.size);
        CHECK(ns > 0);
        if (f) CHECK(b.slot[m->nodes[0].out[0]] == b.slot[m->nodes[1].out[0]]);
        check_plan(m, b.sh, b.fuse, b.slot, b.size, ns);
    }
    bufs_free(&b);
}

/* Output (and, grad, the input gradient for dL/dy = 1) of a fresh 2-thread inference exec; sub: the
 * NG_SUBBATCH it is made with (NULL: unset, auto), want_sb the sub-batch size its forward must use. */
static void run(ng_model *m, int plan, const char *sub, int64_t want_sb, const float *x, int n, float *y, float *gx)
{
    if (plan) unsetenv("NG_MEMPLAN"); else setenv("NG_MEMPLAN", "0", 1);
    if (sub) setenv("NG_SUBBATCH", sub, 1);
    ng_exec_options o = ng_exec_options_default();
    o.threads = 2;
    ng_exec *e = NULL;
    CHECK_OK(ng_exec_new(m, &o, &e));
    unsetenv("NG_MEMPLAN");
    unsetenv("NG_SUBBATCH");
    if (!e) return;
    const float *out;
    ng_shape os;
    const int bs[3] = {1, n, 1};
    for (int k = 0; k < 3; k++) CHECK_OK(ng_exec_forward(e, x, bs[k], &out, &os));   /* replanned per batch */
    CHECK_OK(ng_exec_forward(e, x, n, &out, &os));
    CHECKF(ng_exec_last_subbatch(e) == want_sb, "NG_SUBBATCH %s: sub-batches of %lld, expected %lld", sub ? sub : "unset",
           (long long)ng_exec_last_subbatch(e), (long long)want_sb);
    CHECK(os.ndim == 4 && os.d[0] == n);
    int64_t ny = ng_shape_numel(&os);
    memcpy(y, out, (size_t)ny * sizeof(float));
    float *dy = malloc((size_t)ny * sizeof(float));
    for (int64_t i = 0; i < ny; i++) dy[i] = 1.0f;
    CHECK_OK(ng_exec_backward(e, dy, NULL, gx));
    free(dy);
    ng_exec_free(e);
}

int main(void)
{
    CHECK_OK(ng_init());
    ng_rng r;
    ng_rng_seed(&r, 5);
    test_chain();
    ng_model *m = gb_residual(&r, C, H, W, M);
    CHECK_OK(ng_model_finalize(m));
    test_residual_plan(m);
    const int n = 5, nx = n * C * H * W, ny = n * M * 9;
    float *x = malloc((size_t)nx * sizeof(float)), *y[4], *g[4];
    gb_fill(&r, x, nx, 1.0f);
    for (int k = 0; k < 4; k++) { y[k] = calloc((size_t)ny, sizeof(float)); g[k] = calloc((size_t)nx, sizeof(float)); }
    /* this block's activations outweigh its 213 parameters: auto sub-batches of 2 images (exec_sub.c: one
     * per worker) */
    run(m, 1, NULL, 2, x, n, y[0], g[0]);
    run(m, 0, NULL, 0, x, n, y[1], g[1]);   /* no plan: never sub-batched */
    run(m, 1, "0", 0, x, n, y[2], g[2]);
    run(m, 1, "1", 1, x, n, y[3], g[3]);    /* 1 image each */
    for (int k = 1; k < 4; k++) {
        CHECKF(!memcmp(y[0], y[k], (size_t)ny * sizeof(float)), "output %d differs", k);
        CHECKF(!memcmp(g[0], g[k], (size_t)nx * sizeof(float)), "input gradient %d differs", k);
    }
    int nz = 0;
    for (int k = 0; k < nx; k++) nz += g[0][k] != 0.0f;
    CHECKF(nz > nx / 4, "only %d of %d input gradients non-zero", nz, nx);
    for (int k = 0; k < 4; k++) { free(y[k]); free(g[k]); }
    free(x);
    ng_model_free(m);
    return tu_done();
}
