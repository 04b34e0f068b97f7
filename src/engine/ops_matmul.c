/* engine/ops_matmul.c - MatMul with numpy semantics: forward and backward with sgemm.
 *
 *   A [..., M, K] x B [..., K, N] -> [..., M, N]; the leading (batch) dims broadcast; a 1-D A is
 *   [1, K] and a 1-D B is [K, 1], the added dim being dropped from the output.
 *   When B has no batch dims, A's leading dims are folded into rows (one product).
 *   Backward per batch: dA += dY B^T, dB += A^T dY, accumulated into broadcast operands.
 */
#include <string.h>
#include "engine/ops.h"
#include "engine/kern.h"

typedef struct mm_plan {
    int64_t M, N, K;
    int nb;                          /* batch dims of the output */
    ng_shape bs;                     /* broadcast batch shape */
    int64_t ast[NG_MAX_DIMS], bst[NG_MAX_DIMS];  /* floats between batches of A / B per batch dim (0: broadcast) */
    ng_shape ys;
} mm_plan;

static ng_status mm_plan_of(const ng_node *n, const ng_shape *as0, const ng_shape *bs0, mm_plan *p)
{
    const char *nm = NG_NODE_NAME(n);
    if (as0->ndim < 1 || bs0->ndim < 1)
        return ng_fail(NG_E_SHAPE, "node '%s' (MatMul): operands must have at least 1 dim", nm);
    ng_shape as = *as0, bs = *bs0;
    int a1 = as.ndim == 1, b1 = bs.ndim == 1;
    if (a1) { as.ndim = 2; as.d[1] = as.d[0]; as.d[0] = 1; }
    if (b1) { bs.ndim = 2; bs.d[1] = 1; }
    p->M = as.d[as.ndim - 2]; p->K = as.d[as.ndim - 1]; p->N = bs.d[bs.ndim - 1];
    if (bs.d[bs.ndim - 2] != p->K)
        return ng_fail(NG_E_SHAPE, "node '%s' (MatMul): inner dimensions differ (%lld vs %lld)", nm,
                       (long long)p->K, (long long)bs.d[bs.ndim - 2]);
    int na = as.ndim - 2, nbb = bs.ndim - 2;
    p->nb = na > nbb ? na : nbb;
    p->bs.ndim = p->nb;
    int64_t sa = p->M * p->K, sb = p->K * p->N;
    for (int k = p->nb - 1; k >= 0; k--) {
        int ia = k - (p->nb - na), ib = k - (p->nb - nbb);
        int64_t da = ia >= 0 ? as.d[ia] : 1, db = ib >= 0 ? bs.d[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ng_fail(NG_E_SHAPE, "node '%s' (MatMul): batch dims %lld and %lld cannot broadcast", nm,
                           (long long)da, (long long)db);
        p->bs.d[k] = da == 1 ? db : da;
        p->ast[k] = da == 1 ? 0 : sa;
        p->bst[k] = db == 1 ? 0 : sb;
        sa *= da; sb *= db;
    }
    p->ys = p->bs;
    if (!a1) p->ys.d[p->ys.ndim++] = p->M;
    if (!b1) p->ys.d[p->ys.ndim++] = p->N;
    if (nbb == 0) {   /* B shared: fold every batch of A into rows */
        int64_t rows = p->M;
        for (int k = 0; k < p->nb; k++) rows *= p->bs.d[k];
        p->M = rows;
        p->nb = 0;
        p->bs.ndim = 0;
    }
    return NG_OK;
}

ng_status ng_matmul_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    mm_plan p;
    ng_status st = mm_plan_of(n, in[0], in[1], &p);
    if (st == NG_OK) out[0] = p.ys;
    return st;
}

/* Offsets of A and B for batch number b. */
static void mm_offsets(const mm_plan *p, int64_t b, int64_t *oa, int64_t *ob)
{
    *oa = 0; *ob = 0;
    for (int k = p->nb - 1; k >= 0; k--) {
        int64_t i = b % p->bs.d[k];
        b /= p->bs.d[k];
        *oa += i * p->ast[k];
        *ob += i * p->bst[k];
    }
}

ng_status ng_matmul_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    mm_plan p;
    ng_status st = mm_plan_of(n, &in[0]->s, &in[1]->s, &p);
    if (st != NG_OK) return st;
    int64_t nbatch = ng_shape_numel(&p.bs);
    for (int64_t b = 0; b < nbatch; b++) {
        int64_t oa, ob;
        mm_offsets(&p, b, &oa, &ob);
        ng_par_sgemm(c->pool, 0, 0, p.M, p.N, p.K, 1.0f, in[0]->data + oa, p.K, in[1]->data + ob, p.N, 0.0f,
                     out[0]->data + b * p.M * p.N, p.N);
    }
    return NG_OK;
}

ng_status ng_matmul_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in,
                        const ng_tensor *const *out, const ng_tensor *const *dout, ng_tensor *const *din)
{
    mm_plan p;
    ng_status st = mm_plan_of(n, &in[0]->s, &in[1]->s, &p);
    if (st != NG_OK) return st;
    int64_t nbatch = ng_shape_numel(&p.bs);
    for (int64_t b = 0; b < nbatch; b++) {
        int64_t oa, ob;
        mm_offsets(&p, b, &oa, &ob);
        const float *dy = dout[0]->data + b * p.M * p.N;
        if (din[0]) /* dA (M x K) += dY B^T */
            ng_par_sgemm(c->pool, 0, 1, p.M, p.K, p.N, 1.0f, dy, p.N, in[1]->data + ob, p.N, 1.0f, din[0]->data + oa, p.K);
        if (din[1]) /* dB (K x N) += A^T dY */
            ng_par_sgemm(c->pool, 1, 0, p.K, p.N, p.M, 1.0f, in[0]->data + oa, p.K, dy, p.N, 1.0f, din[1]->data + ob, p.N);
    }
    return NG_OK;
}
