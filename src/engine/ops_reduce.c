/* engine/ops_reduce.c - ReduceMean and LayerNormalization.
 *
 *   ReduceMean  y = mean of x over the listed axes (none listed: all), dims kept as 1 when keepdims;
 *               backward dx += dy / count, broadcast back over the reduced axes.
 *   LayerNormalization (inputs X, Scale, optional B; axis a, default -1): each row of the dims from a
 *               on is normalised: xh = (x - mu) / sqrt(var + eps) (biased variance), y = xh * Scale + B,
 *               Scale and B hold exactly one row. Backward with g = dy * Scale:
 *               dx = invstd * (g - mean(g) - xh * mean(g * xh)), dScale += sum dy * xh, dB += sum dy.
 */
#include <math.h>
#include <string.h>
#include "engine/ops.h"
#include "engine/kern.h"

/* ---- ReduceMean ---- */
/* kept: x's shape with reduced dims set to 1; red[k]: axis k is reduced. */
static ng_status rmean_plan(const ng_node *n, const ng_shape *xs, ng_shape *kept, int *red, int64_t *count)
{
    int r = xs->ndim;
    memset(red, 0, NG_MAX_DIMS * sizeof *red);
    for (int i = 0; i < n->a.n_axes; i++) {
        int64_t a = n->a.axes[i] < 0 ? n->a.axes[i] + r : n->a.axes[i];
        if (a < 0 || a >= r)
            return ng_fail(NG_E_SHAPE, "node '%s' (ReduceMean): axis %lld out of range for %d dims", NG_NODE_NAME(n),
                           (long long)n->a.axes[i], r);
        red[a] = 1;
    }
    if (n->a.n_axes == 0) for (int k = 0; k < r; k++) red[k] = 1;
    *kept = *xs;
    *count = 1;
    for (int k = 0; k < r; k++) if (red[k]) { *count *= xs->d[k]; kept->d[k] = 1; }
    return NG_OK;
}

ng_status ng_reducemean_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    ng_shape kept;
    int red[NG_MAX_DIMS];
    int64_t count;
    ng_status st = rmean_plan(n, in[0], &kept, red, &count);
    if (st != NG_OK) return st;
    if (n->a.keepdims) { out[0] = kept; return NG_OK; }
    out[0].ndim = 0;
    for (int k = 0; k < in[0]->ndim; k++) if (!red[k]) out[0].d[out[0].ndim++] = in[0]->d[k];
    return NG_OK;
}

/* Strides of y (in kept form) with 0 on the reduced axes. */
static void rmean_strides(const ng_shape *kept, const int *red, int64_t *yst)
{
    ng_strides(kept, yst);
    for (int k = 0; k < kept->ndim; k++) if (red[k]) yst[k] = 0;
}

ng_status ng_reducemean_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    ng_shape kept;
    int red[NG_MAX_DIMS];
    int64_t count, xst[NG_MAX_DIMS], yst[NG_MAX_DIMS];
    ng_status st = rmean_plan(n, &in[0]->s, &kept, red, &count);
    if (st != NG_OK) return st;
    int64_t ny = ng_shape_numel(&kept);
    float *y = out[0]->data;
    memset(y, 0, (size_t)ny * sizeof *y);
    ng_strides(&in[0]->s, xst);
    rmean_strides(&kept, red, yst);
    ng_nd_map(&in[0]->s, in[0]->data, 0, xst, y, 0, yst, 1);
    float inv = count ? 1.0f / (float)count : 0.0f;
    for (int64_t i = 0; i < ny; i++) y[i] *= inv;
    return NG_OK;
}

ng_status ng_reducemean_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                            const ng_tensor *const *dout, ng_tensor *const *din)
{
    if (!din[0]) return NG_OK;
    ng_shape kept;
    int red[NG_MAX_DIMS];
    int64_t count, xst[NG_MAX_DIMS], yst[NG_MAX_DIMS];
    ng_status st = rmean_plan(n, &in[0]->s, &kept, red, &count);
    if (st != NG_OK || count == 0) return st;
    int64_t nx = ng_shape_numel(&in[0]->s);
    float *tmp = ng_opctx_scratch(c, 0, (size_t)nx);
    if (!tmp) return NG_E_NOMEM;
    ng_strides(&in[0]->s, xst);
    rmean_strides(&kept, red, yst);
    ng_nd_map(&in[0]->s, dout[0]->data, 0, yst, tmp, 0, xst, 0);
    float inv = 1.0f / (float)count, *dx = din[0]->data;
    for (int64_t i = 0; i < nx; i++) dx[i] += tmp[i] * inv;
    return NG_OK;
}

/* ---- LayerNormalization ---- */
static ng_status ln_geom(const ng_node *n, const ng_shape *const *in, int64_t *rows, int64_t *len)
{
    const ng_shape *xs = in[0];
    int64_t a = n->a.axis < 0 ? n->a.axis + xs->ndim : n->a.axis;
    if (a < 0 || a >= xs->ndim)
        return ng_fail(NG_E_SHAPE, "node '%s' (LayerNormalization): axis %lld out of range for %d dims", NG_NODE_NAME(n),
                       (long long)n->a.axis, xs->ndim);
    *rows = 1; *len = 1;
    for (int k = 0; k < xs->ndim; k++) { if (k < a) *rows *= xs->d[k]; else *len *= xs->d[k]; }
    for (int i = 1; i < 3; i++)
        if (in[i] && ng_shape_numel(in[i]) != *len)
            return ng_fail(NG_E_SHAPE, "node '%s' (LayerNormalization): %s has %lld elements, a row has %lld", NG_NODE_NAME(n),
                           i == 1 ? "Scale" : "B", (long long)ng_shape_numel(in[i]), (long long)*len);
    return NG_OK;
}

static const ng_shape *const *ln_shapes(const ng_node *n, const ng_tensor *const *in, const ng_shape **s)
{
    for (int i = 0; i < 3; i++) s[i] = i < n->n_in && in[i] ? &in[i]->s : NULL;
    return s;
}

ng_status ng_layernorm_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out)
{
    int64_t rows, len;
    const ng_shape *s[3] = { in[0], in[1], n->n_in > 2 ? in[2] : NULL };
    ng_status st = ln_geom(n, s, &rows, &len);
    if (st == NG_OK) out[0] = *in[0];
    return st;
}

/* Mean and 1/sqrt(var + eps) of one row (double sums). */
static void ln_stats(const float *x, int64_t len, float eps, float *mu, float *is)
{
    double s = 0, q = 0;
    for (int64_t i = 0; i < len; i++) s += x[i];
    double m = s / (double)len;
    for (int64_t i = 0; i < len; i++) { double d = x[i] - m; q += d * d; }
    *mu = (float)m;
    *is = (float)(1.0 / sqrt(q / (double)len + (double)eps));
}

typedef struct ln_job {
    int64_t len; float eps;
    const float *x, *scale, *bias, *dy;
    float *y, *dx;
} ln_job;

static void ln_fwd_body(void *arg, int64_t r0, int64_t r1, int w)
{
    const ln_job *j = arg;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->len;
        float *y = j->y + r * j->len, mu, is;
        ln_stats(x, j->len, j->eps, &mu, &is);
        for (int64_t i = 0; i < j->len; i++)
            y[i] = (x[i] - mu) * is * j->scale[i] + (j->bias ? j->bias[i] : 0.0f);
    }
}

ng_status ng_layernorm_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out)
{
    const ng_shape *s[3];
    int64_t rows, len;
    ng_status st = ln_geom(n, ln_shapes(n, in, s), &rows, &len);
    if (st != NG_OK) return st;
    ln_job j = { len, n->a.epsilon, in[0]->data, in[1]->data, n->n_in > 2 && in[2] ? in[2]->data : NULL, NULL,
                 out[0]->data, NULL };
    if (rows * len >= 32768) ng_pool_for(c->pool, rows, ln_fwd_body, &j);
    else ln_fwd_body(&j, 0, rows, 0);
    return NG_OK;
}

static void ln_dx_body(void *arg, int64_t r0, int64_t r1, int w)
{
    const ln_job *j = arg;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->len, *dy = j->dy + r * j->len;
        float *dx = j->dx + r * j->len, mu, is;
        ln_stats(x, j->len, j->eps, &mu, &is);
        double sg = 0, sgx = 0;
        for (int64_t i = 0; i < j->len; i++) {
            double g = (double)dy[i] * j->scale[i];
            sg += g;
            sgx += g * (double)((x[i] - mu) * is);
        }
        float mg = (float)(sg / (double)j->len), mgx = (float)(sgx / (double)j->len);
        for (int64_t i = 0; i < j->len; i++)
            dx[i] += is * (dy[i] * j->scale[i] - mg - (x[i] - mu) * is * mgx);
    }
}

ng_status ng_layernorm_bwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, const ng_tensor *const *out,
                           const ng_tensor *const *dout, ng_tensor *const *din)
{
    const ng_shape *s[3];
    int64_t rows, len;
    ng_status st = ln_geom(n, ln_shapes(n, in, s), &rows, &len);
    if (st != NG_OK) return st;
    ln_job j = { len, n->a.epsilon, in[0]->data, in[1]->data, NULL, dout[0]->data, NULL, din[0] ? din[0]->data : NULL };
    if (j.dx) {
        if (rows * len >= 32768) ng_pool_for(c->pool, rows, ln_dx_body, &j);
        else ln_dx_body(&j, 0, rows, 0);
    }
    float *ds = din[1] ? din[1]->data : NULL, *db = n->n_in > 2 && din[2] ? din[2]->data : NULL;
    if (!ds && !db) return NG_OK;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = j.x + r * len, *dy = j.dy + r * len;
        float mu, is;
        ln_stats(x, len, j.eps, &mu, &is);
        for (int64_t i = 0; i < len; i++) {
            if (ds) ds[i] += dy[i] * (x[i] - mu) * is;
            if (db) db[i] += dy[i];
        }
    }
    return NG_OK;
}
