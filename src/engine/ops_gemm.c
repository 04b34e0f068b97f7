/* engine/ops_gemm.c - Gemm: forward and backward with cblas_sgemm (MatMul: ops_matmul.c).
 *
 * Gemm:   Y = alpha * op(A) * op(B) + beta * C,  op(A) M x K, op(B) K x N, C broadcast to M x N
 *         (shapes [], [N], [1,N], [M,1], [M,N], ...).
 *   dA = alpha * dY * op(B)^T (transposed back if trans_a),  dB = alpha * op(A)^T * dY (likewise),
 *   dC = beta * dY summed over C's broadcast axes.
 * Large products are split into row/column blocks over the exec's workers (ng_par_sgemm).
 */
#include <string.h>
#include <cblas.h>
#include "engine/ops.h"
#include "engine/kern.h"

/* ---- Gemm ---- */

typedef struct gemm_geom { int64_t M, N, K, cm, cn; } gemm_geom;

static ng_status gemm_check(const ng_node *n, const ng_shape *as, const ng_shape *bs, const ng_shape *cs,
                            gemm_geom *g)
{
    const char *nm = NG_NODE_NAME(n);
    if (as->ndim != 2 || bs->ndim != 2)
        return ng_fail(NG_E_SHAPE, "node '%s' (Gemm): A and B must be 2-D (have %d and %d dims); "
                       "flatten the input first", nm, as->ndim, bs->ndim);
    g->M = n->a.trans_a ? as->d[1] : as->d[0];
    g->K = n->a.trans_a ? as->d[0] : as->d[1];
    int64_t kb = n->a.trans_b ? bs->d[1] : bs->d[0];
    g->N = n->a.trans_b ? bs->d[0] : bs->d[1];
    if (kb != g->K)
        return ng_fail(NG_E_SHAPE, "node '%s' (Gemm): inner dimensions differ (%lld vs %lld)", nm,
                       (long long)g->K, (long long)kb);
    g->cm = g->cn = 0;
    if (cs) {
        if (cs->ndim == 0) { g->cm = 1; g->cn = 1; }
        else if (cs->ndim == 1) { g->cm = 1; g->cn = cs->d[0]; }
        else if (cs->ndim == 2) { g->cm = cs->d[0]; g->cn = cs->d[1]; }
        else g->cm = -1;
        if (g->cm < 0 || (g->cm != 1 && g->cm != g->M) || (g->cn != 1 && g->cn != g->N))
            return ng_fail(NG_E_SHAPE, "node '%s' (Gemm): C (%d dims) does not broadcast to %lld x %lld", nm,
                           cs->ndim, (long long)g->M, (long long)g->N);
    }
    return NG_OK;
}

ng_status ng_gemm_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    gemm_geom g = {0};
    ng_status st = gemm_check(n, in[0], in[1], n->n_in > 2 ? in[2] : NULL, &g);
    if (st != NG_OK) return st;
    out[0].ndim = 2; out[0].d[0] = g.M; out[0].d[1] = g.N;
    return NG_OK;
}

/* A few rows (batch 1-4 through a classifier): each row of Y is one matrix-vector product over B
 * (cblas_sgemv), the columns of Y split over the workers. sgemm would pack all of B (K x N: 1280 x
 * 1000 floats in MobileNetV2's classifier) on every call to use each element once per row. */
#define NG_GEMV_MAX_ROWS 4
typedef struct gemv_job { const ng_node *n; const gemm_geom *g; const float *A, *B; int64_t lda, ldb; float beta; float *y; } gemv_job;

static void gemv_body(void *arg, int64_t c0, int64_t c1, int worker)
{
    const gemv_job *j = arg;
    (void)worker;
    for (int64_t i = 0; i < j->g->M; i++) {
        const float *a = j->A + i * j->lda;   /* trans_a is 0 here: row i of A */
        float *yr = j->y + i * j->g->N + c0;
        if (j->n->a.trans_b)   /* B is N x K: y[c] = sum_k B[c, k] a[k] */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (blasint)(c1 - c0), (blasint)j->g->K, j->n->a.alpha,
                        j->B + c0 * j->ldb, (blasint)j->ldb, a, 1, j->beta, yr, 1);
        else                   /* B is K x N: y[c] = sum_k B[k, c] a[k] */
            cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)j->g->K, (blasint)(c1 - c0), j->n->a.alpha, j->B + c0,
                        (blasint)j->ldb, a, 1, j->beta, yr, 1);
    }
}

/* The columns in one block per worker (whole multiples of 16). */
typedef struct gemv_split { const gemv_job *j; int64_t N, blocks; } gemv_split;
static void gemv_blocks(void *arg, int64_t b0, int64_t b1, int worker)
{
    const gemv_split *s = arg;
    const int64_t per = ((s->N + s->blocks - 1) / s->blocks + 15) / 16 * 16;
    for (int64_t b = b0; b < b1; b++) {
        const int64_t c0 = b * per, c1 = c0 + per < s->N ? c0 + per : s->N;
        if (c1 > c0) gemv_body((void *)s->j, c0, c1, worker);
    }
}

ng_status ng_gemm_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    const ng_tensor *ct = n->n_in > 2 ? in[2] : NULL;
    gemm_geom g = {0};
    ng_status st = gemm_check(n, &in[0]->s, &in[1]->s, ct ? &ct->s : NULL, &g);
    if (st != NG_OK) return st;
    float *y = out[0]->data, beta = 0.0f;
    if (ct && n->a.beta != 0.0f) {
        for (int64_t i = 0; i < g.M; i++) {
            const float *cr = ct->data + (g.cm == 1 ? 0 : i) * g.cn;
            float *yr = y + i * g.N;
            if (g.cn == 1) for (int64_t k = 0; k < g.N; k++) yr[k] = n->a.beta * cr[0];
            else for (int64_t k = 0; k < g.N; k++) yr[k] = n->a.beta * cr[k];
        }
        beta = 1.0f;
    }
    if (g.M <= NG_GEMV_MAX_ROWS && !n->a.trans_a && g.K > 0 && c->gemv) {
        gemv_job j = { n, &g, in[0]->data, in[1]->data, in[0]->s.d[1], in[1]->s.d[1], beta, y };
        const int64_t blocks = g.N >= 64 * ng_pool_size(c->pool) ? ng_pool_size(c->pool) : 1;
        gemv_split s = { &j, g.N, blocks };
        ng_pool_for(c->pool, blocks, gemv_blocks, &s);
        return NG_OK;
    }
    ng_par_sgemm(c->pool, n->a.trans_a, n->a.trans_b, g.M, g.N, g.K, n->a.alpha, in[0]->data, in[0]->s.d[1],
                 in[1]->data, in[1]->s.d[1], beta, y, g.N);
    return NG_OK;
}

ng_status ng_gemm_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in,
                      const ng_tensor *const *out, const ng_tensor *const *dout, ng_tensor *const *din)
{
    const ng_tensor *ct = n->n_in > 2 ? in[2] : NULL;
    gemm_geom g = {0};
    ng_status st = gemm_check(n, &in[0]->s, &in[1]->s, ct ? &ct->s : NULL, &g);
    if (st != NG_OK) return st;
    const float *A = in[0]->data, *B = in[1]->data, *dy = dout[0]->data;
    int64_t lda = in[0]->s.d[1], ldb = in[1]->s.d[1];
    int ta = n->a.trans_a, tb = n->a.trans_b;
    float alpha = n->a.alpha;
    if (din[0]) {
        if (!ta) /* dA (M x K) += alpha dY op(B)^T */
            ng_par_sgemm(c->pool, 0, !tb, g.M, g.K, g.N, alpha, dy, g.N, B, ldb, 1.0f, din[0]->data, g.K);
        else     /* dA (K x M) += alpha op(B) dY^T */
            ng_par_sgemm(c->pool, tb, 1, g.K, g.M, g.N, alpha, B, ldb, dy, g.N, 1.0f, din[0]->data, g.M);
    }
    if (din[1]) {
        if (!tb) /* dB (K x N) += alpha op(A)^T dY */
            ng_par_sgemm(c->pool, !ta, 0, g.K, g.N, g.M, alpha, A, lda, dy, g.N, 1.0f, din[1]->data, g.N);
        else     /* dB (N x K) += alpha dY^T op(A) */
            ng_par_sgemm(c->pool, 1, ta, g.N, g.K, g.M, alpha, dy, g.N, A, lda, 1.0f, din[1]->data, g.K);
    }
    if (ct && n->n_in > 2 && din[2] && n->a.beta != 0.0f) {
        float *dc = din[2]->data, beta = n->a.beta;
        for (int64_t i = 0; i < g.M; i++) {
            const float *r = dy + i * g.N;
            float *dr = dc + (g.cm == 1 ? 0 : i) * g.cn;
            if (g.cn == 1) {
                float s = 0.0f;
                for (int64_t k = 0; k < g.N; k++) s += r[k];
                dr[0] += beta * s;
            } else {
                for (int64_t k = 0; k < g.N; k++) dr[k] += beta * r[k];
            }
        }
    }
    return NG_OK;
}
