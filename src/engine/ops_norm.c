/* engine/ops_norm.c - BatchNormalization (inputs X [N, C, ...], scale, B, mean, var, all [C]).
 *
 * Inference:  y = scale * (x - mean) / sqrt(var + eps) + B.
 * Training (c->training): mu, s2 = mean and biased variance of x over N and the spatial axes;
 *   y = scale * (x - mu) * invstd + B, invstd = 1 / sqrt(s2 + eps). The running statistics (the model
 *   parameters behind inputs 3 and 4) are updated in place, ONNX momentum m (0.9 == PyTorch's 0.1):
 *   mean = m * mean + (1 - m) * mu,  var = m * var + (1 - m) * s2 * cnt / (cnt - 1)  (unbiased, as PyTorch).
 *   mu and invstd are kept in the exec's saved slot for backward.
 * Backward, training: xh = (x - mu) * invstd; dscale += sum dy*xh; dB += sum dy;
 *   dx += scale * invstd * (dy - mean(dy) - xh * mean(dy*xh)).
 * Backward, inference: the statistics are constants: dx += dy * scale / sqrt(var + eps), dscale and dB
 *   as above with xh = (x - mean) / sqrt(var + eps). No gradient flows to the running statistics.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/ops.h"
#include "engine/kern.h"

#define BN_MAGIC 0x6e67626e737461ULL   /* marks saved batch statistics */
typedef struct bn_hdr { uint64_t magic; int64_t C; } bn_hdr;

typedef struct bn_job {
    int64_t N, C, S;               /* S = spatial size (product of dims after C) */
    const float *x, *scale, *bias, *rmean, *rvar, *dy;
    float *y, *dx, *dscale, *dbias;
    float *mu, *invstd;            /* per channel: batch (training) or running (inference) statistics */
    float eps;
} bn_job;

static ng_status bn_check(const ng_node *n, const ng_shape *const *in, int64_t *N, int64_t *C, int64_t *S)
{
    const ng_shape *xs = in[0];
    const char *nm = NG_NODE_NAME(n);
    if (xs->ndim < 2) return ng_fail(NG_E_SHAPE, "node '%s' (BatchNormalization): input has %d dims, need N x C x ...", nm, xs->ndim);
    *N = xs->d[0]; *C = xs->d[1]; *S = 1;
    for (int i = 2; i < xs->ndim; i++) *S *= xs->d[i];
    for (int i = 1; i < 5; i++)
        if (!in[i] || in[i]->ndim != 1 || in[i]->d[0] != *C)
            return ng_fail(NG_E_SHAPE, "node '%s' (BatchNormalization): input %d must have shape [%lld]", nm, i, (long long)*C);
    return NG_OK;
}

ng_status ng_batchnorm_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    int64_t N = 0, C = 0, S = 0;
    ng_status st = bn_check(n, in, &N, &C, &S);
    if (st == NG_OK) out[0] = *in[0];
    return st;
}

static ng_status bn_shapes(const ng_node *n, const ng_tensor *const *in, int64_t *N, int64_t *C, int64_t *S)
{
    const ng_shape *s[5];
    for (int i = 0; i < 5; i++) s[i] = in[i] ? &in[i]->s : NULL;
    return bn_check(n, s, N, C, S);
}

/* Batch mean and biased variance (two passes, double sums) for channels [c0, c1). */
static void bn_stats_body(void *arg, int64_t c0, int64_t c1, int worker)
{
    bn_job *j = arg;
    double cnt = (double)(j->N * j->S);
    for (int64_t ch = c0; ch < c1; ch++) {
        double s = 0.0, q = 0.0;
        for (int64_t n = 0; n < j->N; n++) {
            const float *x = j->x + (n * j->C + ch) * j->S;
            for (int64_t i = 0; i < j->S; i++) s += x[i];
        }
        double mu = s / cnt;
        for (int64_t n = 0; n < j->N; n++) {
            const float *x = j->x + (n * j->C + ch) * j->S;
            for (int64_t i = 0; i < j->S; i++) { double d = x[i] - mu; q += d * d; }
        }
        j->mu[ch] = (float)mu;
        j->invstd[ch] = (float)(q / cnt);   /* variance for now; turned into invstd by the caller */
    }
}

/* y = (x - mu) * invstd * scale + bias over planes [p0, p1) of the N*C planes. */
static void bn_apply_body(void *arg, int64_t p0, int64_t p1, int worker)
{
    const bn_job *j = arg;
    for (int64_t p = p0; p < p1; p++) {
        int64_t ch = p % j->C;
        float a = j->scale[ch] * j->invstd[ch], b = j->bias[ch] - j->mu[ch] * a;
        const float *x = j->x + p * j->S;
        float *y = j->y + p * j->S;
        for (int64_t i = 0; i < j->S; i++) y[i] = a * x[i] + b;
    }
}

/* Statistics buffer (mu then invstd, 2*C floats): the saved slot in training when there is one. */
static float *bn_stats_buf(ng_opctx *c, int64_t C, int keep, float **owned)
{
    *owned = NULL;
    if (keep && c->saved) {
        bn_hdr *h = ng_opctx_saved(c, sizeof *h + 2 * (size_t)C * sizeof(float));
        if (!h) return NULL;
        h->magic = BN_MAGIC; h->C = C;
        return (float *)(h + 1);
    }
    *owned = malloc(2 * (size_t)C * sizeof(float) + 1);
    if (!*owned) ng_fail(NG_E_NOMEM, "no memory for %lld BatchNormalization statistics", (long long)C);
    return *owned;
}

ng_status ng_batchnorm_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    bn_job j;
    memset(&j, 0, sizeof j);
    ng_status st = bn_shapes(n, in, &j.N, &j.C, &j.S);
    if (st != NG_OK) return st;
    j.x = in[0]->data; j.scale = in[1]->data; j.bias = in[2]->data; j.y = out[0]->data;
    j.eps = n->a.epsilon;
    float *owned, *buf = bn_stats_buf(c, j.C, c->training, &owned);
    if (!buf) return ng_fail(NG_E_NOMEM, "node '%s' (BatchNormalization): no memory for statistics", NG_NODE_NAME(n));
    j.mu = buf; j.invstd = buf + j.C;
    if (c->training) {
        int64_t cnt = j.N * j.S;
        if (cnt < 1) { free(owned); return NG_OK; }
        ng_pool_for(c->pool, j.C, bn_stats_body, &j);
        float m = n->a.momentum, *rmean = in[3]->data, *rvar = in[4]->data;
        for (int64_t ch = 0; ch < j.C; ch++) {
            double var = j.invstd[ch];
            double unbiased = cnt > 1 ? var * (double)cnt / (double)(cnt - 1) : var;
            rmean[ch] = (float)(m * (double)rmean[ch] + (1.0 - m) * (double)j.mu[ch]);
            rvar[ch] = (float)(m * (double)rvar[ch] + (1.0 - m) * unbiased);
            j.invstd[ch] = (float)(1.0 / sqrt(var + (double)j.eps));
        }
    } else {
        if (c->saved && *c->saved && c->saved_size && *c->saved_size >= sizeof(bn_hdr))
            ((bn_hdr *)*c->saved)->magic = 0;   /* stale batch statistics must not be used by backward */
        for (int64_t ch = 0; ch < j.C; ch++) {
            j.mu[ch] = in[3]->data[ch];
            j.invstd[ch] = (float)(1.0 / sqrt((double)in[4]->data[ch] + (double)j.eps));
        }
    }
    ng_pool_for(c->pool, j.N * j.C, bn_apply_body, &j);
    free(owned);
    return NG_OK;
}

/* Per channel in [c0, c1): sums of dy and dy*xh, then dscale, dbias and dx. */
static void bn_bwd_body(void *arg, int64_t c0, int64_t c1, int worker)
{
    const bn_job *j = arg;
    int training = j->rmean == NULL;   /* statistics came from the batch */
    double cnt = (double)(j->N * j->S);
    for (int64_t ch = c0; ch < c1; ch++) {
        float mu = j->mu[ch], is = j->invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t n = 0; n < j->N; n++) {
            const float *x = j->x + (n * j->C + ch) * j->S, *dy = j->dy + (n * j->C + ch) * j->S;
            for (int64_t i = 0; i < j->S; i++) { sdy += dy[i]; sdyx += (double)dy[i] * (double)((x[i] - mu) * is); }
        }
        if (j->dscale) j->dscale[ch] += (float)sdyx;
        if (j->dbias) j->dbias[ch] += (float)sdy;
        if (!j->dx) continue;
        float k = j->scale[ch] * is;
        float mdy = training ? (float)(sdy / cnt) : 0.0f, mdyx = training ? (float)(sdyx / cnt) : 0.0f;
        for (int64_t n = 0; n < j->N; n++) {
            const float *x = j->x + (n * j->C + ch) * j->S, *dy = j->dy + (n * j->C + ch) * j->S;
            float *dx = j->dx + (n * j->C + ch) * j->S;
            for (int64_t i = 0; i < j->S; i++) dx[i] += k * (dy[i] - mdy - (x[i] - mu) * is * mdyx);
        }
    }
}

ng_status ng_batchnorm_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in,
                           const ng_tensor *const *out, const ng_tensor *const *dout, ng_tensor *const *din)
{
    bn_job j;
    memset(&j, 0, sizeof j);
    ng_status st = bn_shapes(n, in, &j.N, &j.C, &j.S);
    if (st != NG_OK) return st;
    j.x = in[0]->data; j.scale = in[1]->data; j.dy = dout[0]->data;
    j.dx = din[0] ? din[0]->data : NULL;
    j.dscale = din[1] ? din[1]->data : NULL;
    j.dbias = din[2] ? din[2]->data : NULL;
    j.eps = n->a.epsilon;
    if (!j.dx && !j.dscale && !j.dbias) return NG_OK;
    if (j.N * j.S < 1) return NG_OK;
    float *owned = malloc(2 * (size_t)j.C * sizeof(float) + 1);
    if (!owned) return ng_fail(NG_E_NOMEM, "node '%s' (BatchNormalization): no memory for statistics", NG_NODE_NAME(n));
    j.mu = owned; j.invstd = owned + j.C;
    if (c->training) {
        const bn_hdr *h = c->saved && *c->saved && c->saved_size &&
                          *c->saved_size >= sizeof(bn_hdr) + 2 * (size_t)j.C * sizeof(float) ? *c->saved : NULL;
        if (h && h->magic == BN_MAGIC && h->C == j.C) {
            memcpy(owned, h + 1, 2 * (size_t)j.C * sizeof(float));
        } else {
            /* No saved statistics (forward ran elsewhere): compute them again from x. */
            ng_pool_for(c->pool, j.C, bn_stats_body, &j);
            for (int64_t ch = 0; ch < j.C; ch++) j.invstd[ch] = (float)(1.0 / sqrt((double)j.invstd[ch] + (double)j.eps));
        }
    } else {
        j.rmean = in[3]->data; j.rvar = in[4]->data;
        for (int64_t ch = 0; ch < j.C; ch++) {
            j.mu[ch] = j.rmean[ch];
            j.invstd[ch] = (float)(1.0 / sqrt((double)j.rvar[ch] + (double)j.eps));
        }
    }
    ng_pool_for(c->pool, j.C, bn_bwd_body, &j);
    free(owned);
    return NG_OK;
}
