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
 * With the Relu after it fused (ng_opctx.fuse_relu, training and inference exec alike): the forward
 *   writes Relu(y); the training backward gets the Relu's dY and y = Relu(...) as out[0] and uses
 *   dy * (y > 0) (the Relu's backward, which the exec skips). Sums run per plane in float lanes
 *   (lane_sum, bn_dsums), planes combined in double.
 * Backward, inference: the statistics are constants: dx += dy * scale / sqrt(var + eps), dscale and dB
 *   as above with xh = (x - mean) / sqrt(var + eps). No gradient flows to the running statistics.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/ops.h"
#include "engine/kern.h"
#include "engine/v16.h"

#define BN_MAGIC 0x6e67626e737461ULL   /* marks saved batch statistics */
typedef struct bn_hdr { uint64_t magic; int64_t C; } bn_hdr;

typedef struct bn_job {
    int64_t N, C, S;               /* S = spatial size (product of dims after C) */
    const float *x, *scale, *bias, *rmean, *rvar, *dy;
    float *y, *dx, *dscale, *dbias;
    float *mu, *invstd;            /* per channel: batch (training) or running (inference) statistics */
    const float *ymask;            /* backward with the Relu fused: its output y; dY counts where y > 0 */
    float eps;
    int relu;                      /* forward: write Relu(y) (the exec folded the Relu in) */
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

/* Sums over one plane in NG_BN_LANES float lanes (vectorised; a plane is short enough, e.g.
 * 784 floats = 49 per lane, for float partial sums), the lanes and the tail added in double:
 * lane_sum = sum p[i]; lane_sqdev = sum (p[i] - c)^2. */
#define NG_BN_LANES 16   /* one ng_v16 */
/* (macros: a function taking or returning ng_v16 would change the ABI between the clones) */
#define V16_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
/* cppcheck-suppress objectIndex ; false positive: l points at an ng_v16, NG_BN_LANES floats wide */
static double lanes_hsum(const float *l) { double s = 0.0; for (int k = 0; k < NG_BN_LANES; k++) s += l[k]; return s; }
#define V16_HSUM(v) lanes_hsum((const float *)&(v))

NG_KERN_CLONES static double lane_sum(const float *restrict p, int64_t n)
{
    ng_v16 acc = {0};
    int64_t i = 0;
    for (; i + NG_BN_LANES <= n; i += NG_BN_LANES) { ng_v16 v; V16_LOAD(v, p + i); acc += v; }
    double s = V16_HSUM(acc);
    for (; i < n; i++) s += p[i];
    return s;
}

NG_KERN_CLONES static double lane_sqdev(const float *restrict p, int64_t n, float c)
{
    ng_v16 acc = {0};
    int64_t i = 0;
    for (; i + NG_BN_LANES <= n; i += NG_BN_LANES) { ng_v16 d; V16_LOAD(d, p + i); d -= c; acc += d * d; }
    double s = V16_HSUM(acc);
    for (; i < n; i++) { double d = (double)p[i] - c; s += d * d; }
    return s;
}

/* Batch mean and biased variance for channels [c0, c1), one pass over memory: per plane its sum,
 * then (while the plane is in cache) its squared deviations from its own mean m_p (rounded to
 * float: c_p), the planes combined in double as Chan et al.'s pairwise update:
 *   M2 = sum_p [ sum_i (x_i - c_p)^2 - S (m_p - c_p)^2 + S (m_p - mu)^2 ],  var = M2 / (N S).
 * Planes longer than 2^16 floats are split in pieces of that size (float lanes stay short). */
#define NG_BN_PIECE 65536
static void bn_stats_body(void *arg, int64_t c0, int64_t c1, int worker)
{
    bn_job *j = arg;
    (void)worker;
    const int64_t S = j->S;
    double cnt = (double)(j->N * S);
    for (int64_t ch = c0; ch < c1; ch++) {
        double s = 0.0, q = 0.0, qm = 0.0;   /* sum; sum of piece deviations; sum of len * m_p^2 */
        for (int64_t n = 0; n < j->N; n++) {
            const float *x = j->x + (n * j->C + ch) * S;
            for (int64_t i0 = 0; i0 < S; i0 += NG_BN_PIECE) {
                const int64_t len = S - i0 < NG_BN_PIECE ? S - i0 : NG_BN_PIECE;
                const double ps = lane_sum(x + i0, len), m = ps / (double)len;
                const float cp = (float)m;
                q += lane_sqdev(x + i0, len, cp) - (double)len * (m - cp) * (m - cp);
                qm += (double)len * m * m;
                s += ps;
            }
        }
        double mu = s / cnt;
        /* sum_p len (m_p - mu)^2 = sum_p len m_p^2 - cnt mu^2 (>= 0 up to rounding) */
        double between = qm - cnt * mu * mu;
        q += between > 0.0 ? between : 0.0;
        j->mu[ch] = (float)mu;
        j->invstd[ch] = (float)(q / cnt);   /* variance for now; turned into invstd by the caller */
    }
}

/* y = (x - mu) * invstd * scale + bias over planes [p0, p1) of the N*C planes, or Relu of it when
 * the exec folded the Relu in (j->relu; the Relu op's expression). */
NG_KERN_CLONES static void bn_apply_plane(const float *restrict x, float *restrict y, int64_t n, float a, float b, int relu)
{
    if (!relu) { for (int64_t i = 0; i < n; i++) y[i] = a * x[i] + b; return; }
    for (int64_t i = 0; i < n; i++) { float v = a * x[i] + b; y[i] = v > 0.0f ? v : 0.0f; }
}

static void bn_apply_body(void *arg, int64_t p0, int64_t p1, int worker)
{
    const bn_job *j = arg;
    (void)worker;
    for (int64_t p = p0; p < p1; p++) {
        int64_t ch = p % j->C;
        float a = j->scale[ch] * j->invstd[ch], b = j->bias[ch] - j->mu[ch] * a;
        bn_apply_plane(j->x + p * j->S, j->y + p * j->S, j->S, a, b, j->relu);
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
    j.relu = c->fuse_relu;
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

/* One plane's backward sums in NG_BN_LANES float lanes, added into *sdy (sum of dy) and *sdyx
 * (sum of dy (x - mu)); dy counts only where y > 0 when y is not NULL (the fused Relu's mask). */
NG_KERN_CLONES static void bn_dsums(const float *restrict x, const float *restrict dy, const float *restrict y,
                                    int64_t n, float mu, double *sdy, double *sdyx)
{
    ng_v16 a1 = {0}, a2 = {0};
    int64_t i = 0;
    for (; i + NG_BN_LANES <= n; i += NG_BN_LANES) {
        ng_v16 d, xv, yv;
        V16_LOAD(d, dy + i);
        V16_LOAD(xv, x + i);
        if (y) { V16_LOAD(yv, y + i); d = (ng_v16)((ng_v16i)d & (ng_v16i)(yv > (ng_v16){0})); }   /* y > 0 ? dy : +0 */
        a1 += d;
        a2 += d * (xv - mu);
    }
    double s1 = V16_HSUM(a1), s2 = V16_HSUM(a2);
    for (; i < n; i++) {
        float d = y && !(y[i] > 0.0f) ? 0.0f : dy[i];
        s1 += d; s2 += (double)d * (double)(x[i] - mu);
    }
    *sdy += s1; *sdyx += s2;
}

/* dx += k (dy - mdy - (x - mu) is mdyx) over one plane, dy masked as in bn_dsums. */
NG_KERN_CLONES static void bn_dx_plane(const float *restrict x, const float *restrict dy, const float *restrict y,
                                       float *restrict dx, int64_t n, float mu, float is, float k, float mdy, float mdyx)
{
    if (!y) { for (int64_t i = 0; i < n; i++) dx[i] += k * (dy[i] - mdy - (x[i] - mu) * is * mdyx); return; }
    int64_t i = 0;
    for (; i + NG_BN_LANES <= n; i += NG_BN_LANES) {
        ng_v16 d, xv, yv, o;
        V16_LOAD(d, dy + i); V16_LOAD(xv, x + i); V16_LOAD(yv, y + i); V16_LOAD(o, dx + i);
        d = (ng_v16)((ng_v16i)d & (ng_v16i)(yv > (ng_v16){0}));   /* y > 0 ? dy : +0 */
        o += k * (d - mdy - (xv - mu) * is * mdyx);
        memcpy(dx + i, &o, sizeof o);
    }
    for (; i < n; i++) {
        float d = y[i] > 0.0f ? dy[i] : 0.0f;
        dx[i] += k * (d - mdy - (x[i] - mu) * is * mdyx);
    }
}

/* Per channel in [c0, c1): sums of dy and dy*xh (xh = (x - mu) * invstd), then dscale, dbias, dx. */
static void bn_bwd_body(void *arg, int64_t c0, int64_t c1, int worker)
{
    const bn_job *j = arg;
    (void)worker;
    int training = j->rmean == NULL;   /* statistics came from the batch */
    double cnt = (double)(j->N * j->S);
    for (int64_t ch = c0; ch < c1; ch++) {
        float mu = j->mu[ch], is = j->invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t n = 0; n < j->N; n++) {
            const int64_t off = (n * j->C + ch) * j->S;
            bn_dsums(j->x + off, j->dy + off, j->ymask ? j->ymask + off : NULL, j->S, mu, &sdy, &sdyx);
        }
        sdyx *= is;
        if (j->dscale) j->dscale[ch] += (float)sdyx;
        if (j->dbias) j->dbias[ch] += (float)sdy;
        if (!j->dx) continue;
        float k = j->scale[ch] * is;
        float mdy = training ? (float)(sdy / cnt) : 0.0f, mdyx = training ? (float)(sdyx / cnt) : 0.0f;
        for (int64_t n = 0; n < j->N; n++) {
            const int64_t off = (n * j->C + ch) * j->S;
            bn_dx_plane(j->x + off, j->dy + off, j->ymask ? j->ymask + off : NULL, j->dx + off, j->S, mu, is, k, mdy, mdyx);
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
    j.ymask = c->fuse_relu ? out[0]->data : NULL;   /* the exec passed the fused Relu's dY */
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
