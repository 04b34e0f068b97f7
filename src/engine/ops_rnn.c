/* engine/ops_rnn.c - LSTM and GRU (ONNX, layout 0, default activations): inference only.
 *
 * Inputs X [S, B, I], W [D, G*H, I], R [D, G*H, H], optional B [D, 2*G*H] (W's biases, then R's),
 * sequence_lens (absent), optional initial_h [D, B, H] (and LSTM initial_c), absent ones zero;
 * D = 2 when bidirectional, the reverse direction reading X from the last step to the first.
 * Outputs Y [S, D, B, H], Y_h [D, B, H] (and LSTM Y_c [D, B, H]).
 *   LSTM (G = 4, gates i, o, f, c):  g = X_t W^T + H_{t-1} R^T + Wb + Rb
 *       C_t = sig(f) * C_{t-1} + sig(i) * tanh(c),  H_t = sig(o) * tanh(C_t)
 *   GRU (G = 3, gates z, r, h):  z = sig(X_t Wz^T + H Rz^T + Wbz + Rbz), r likewise,
 *       linear_before_reset 0: h = tanh(X_t Wh^T + (r * H) Rh^T + Rbh + Wbh)
 *       linear_before_reset 1: h = tanh(X_t Wh^T + r * (H Rh^T + Rbh) + Wbh)     (PyTorch's export)
 *       H_t = (1 - z) * h + z * H_{t-1}
 * X W^T for every step is one sgemm per direction; each step adds H R^T with another.
 */
#include <math.h>
#include <string.h>
#include "engine/ops.h"
#include "engine/kern.h"

typedef struct rnn_geom { int64_t S, B, I, H, D, G; } rnn_geom;

static ng_status rnn_check(const ng_node *n, const ng_shape *const *in, int gates, rnn_geom *g)
{
    const char *nm = NG_NODE_NAME(n), *op = ng_ops[n->op].name;
    const ng_shape *x = in[0], *w = in[1], *r = in[2];
    g->G = gates; g->H = n->a.hidden; g->D = n->a.bidir ? 2 : 1;
    if (x->ndim != 3 || w->ndim != 3 || r->ndim != 3)
        return ng_fail(NG_E_SHAPE, "node '%s' (%s): X, W and R must have 3 dims", nm, op);
    g->S = x->d[0]; g->B = x->d[1]; g->I = x->d[2];
    if (g->H < 1 || w->d[0] != g->D || w->d[1] != gates * g->H || w->d[2] != g->I ||
        r->d[0] != g->D || r->d[1] != gates * g->H || r->d[2] != g->H)
        return ng_fail(NG_E_SHAPE, "node '%s' (%s): W or R does not match hidden_size %lld, %lld direction(s) and %lld inputs",
                       nm, op, (long long)g->H, (long long)g->D, (long long)g->I);
    if (n->n_in > 3 && in[3] && (in[3]->ndim != 2 || in[3]->d[0] != g->D || in[3]->d[1] != 2 * gates * g->H))
        return ng_fail(NG_E_SHAPE, "node '%s' (%s): B must be [%lld, %lld]", nm, op, (long long)g->D, (long long)(2 * gates * g->H));
    if (n->n_in > 4 && in[4]) return ng_fail(NG_E_UNSUPPORTED, "node '%s' (%s): sequence_lens is not supported", nm, op);
    for (int i = 5; i < n->n_in && i < 7; i++)
        if (in[i] && (in[i]->ndim != 3 || in[i]->d[0] != g->D || in[i]->d[1] != g->B || in[i]->d[2] != g->H))
            return ng_fail(NG_E_SHAPE, "node '%s' (%s): initial state must be [%lld, %lld, %lld]", nm, op,
                           (long long)g->D, (long long)g->B, (long long)g->H);
    return NG_OK;
}

static ng_status rnn_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out, int gates)
{
    rnn_geom g = {0};
    ng_status st = rnn_check(n, in, gates, &g);
    if (st != NG_OK) return st;
    out[0].ndim = 4; out[0].d[0] = g.S; out[0].d[1] = g.D; out[0].d[2] = g.B; out[0].d[3] = g.H;
    for (int i = 1; i < n->n_out; i++) { out[i].ndim = 3; out[i].d[0] = g.D; out[i].d[1] = g.B; out[i].d[2] = g.H; }
    return NG_OK;
}

static float sig(float v) { return 1.0f / (1.0f + expf(-v)); }

/* One direction d: Y, final h (and c). xw: S*B x G*H scratch, hr: B x G*H, h, cst: B x H. */
static void rnn_dir(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out,
                    const rnn_geom *g, int64_t d, float *xw, float *hr, float *h, float *cst)
{
    int64_t GH = g->G * g->H, H = g->H, B = g->B;
    const float *W = in[1]->data + d * GH * g->I, *R = in[2]->data + d * GH * H;
    const float *bias = n->n_in > 3 && in[3] ? in[3]->data + d * 2 * GH : NULL;
    const float *h0 = n->n_in > 5 && in[5] ? in[5]->data + d * B * H : NULL;
    const float *c0 = g->G == 4 && n->n_in > 6 && in[6] ? in[6]->data + d * B * H : NULL;
    int reverse = n->a.reverse || d == 1, lbr = n->a.linear_before_reset;
    ng_par_sgemm(c->pool, 0, 1, g->S * B, GH, g->I, 1.0f, in[0]->data, g->I, W, g->I, 0.0f, xw, GH);
    if (h0) memcpy(h, h0, (size_t)(B * H) * sizeof *h); else memset(h, 0, (size_t)(B * H) * sizeof *h);
    if (c0) memcpy(cst, c0, (size_t)(B * H) * sizeof *cst); else memset(cst, 0, (size_t)(B * H) * sizeof *cst);
    for (int64_t s = 0; s < g->S; s++) {
        int64_t t = reverse ? g->S - 1 - s : s;
        ng_par_sgemm(c->pool, 0, 1, B, GH, H, 1.0f, h, H, R, H, 0.0f, hr, GH);
        for (int64_t b = 0; b < B; b++) {
            const float *xg = xw + (t * B + b) * GH;
            float *hg = hr + b * GH, *hb = h + b * H, *cb = cst + b * H;
            float *y = out[0]->data + ((t * g->D + d) * B + b) * H;
            for (int64_t j = 0; j < H; j++) {
                float wb[4] = {0}, rb[4] = {0};
                for (int k = 0; k < g->G && bias; k++) { wb[k] = bias[k * H + j]; rb[k] = bias[GH + k * H + j]; }
                if (g->G == 4) {
                    float gi = sig(xg[j] + hg[j] + wb[0] + rb[0]);
                    float go = sig(xg[H + j] + hg[H + j] + wb[1] + rb[1]);
                    float gf = sig(xg[2 * H + j] + hg[2 * H + j] + wb[2] + rb[2]);
                    float gc = tanhf(xg[3 * H + j] + hg[3 * H + j] + wb[3] + rb[3]);
                    cb[j] = gf * cb[j] + gi * gc;
                    y[j] = go * tanhf(cb[j]);
                } else {
                    float z = sig(xg[j] + hg[j] + wb[0] + rb[0]);
                    float r = sig(xg[H + j] + hg[H + j] + wb[1] + rb[1]);
                    float hh;
                    if (lbr) hh = tanhf(xg[2 * H + j] + r * (hg[2 * H + j] + rb[2]) + wb[2]);
                    else {   /* (r * H) Rh^T: a dot product per unit */
                        const float *rr = R + (2 * H + j) * H;
                        float acc = 0.0f;
                        for (int64_t k = 0; k < H; k++) acc += rr[k] * hb[k] * sig(xg[H + k] + hg[H + k] + (bias ? bias[H + k] + bias[GH + H + k] : 0.0f));
                        hh = tanhf(xg[2 * H + j] + acc + rb[2] + wb[2]);
                    }
                    cb[j] = (1.0f - z) * hh + z * hb[j];   /* new h, kept apart until every unit is done */
                }
            }
            if (g->G == 4) memcpy(hb, y, (size_t)H * sizeof *hb);
            else { memcpy(hb, cb, (size_t)H * sizeof *hb); memcpy(y, cb, (size_t)H * sizeof *y); }
        }
    }
    if (n->n_out > 1) memcpy(out[1]->data + d * B * H, h, (size_t)(B * H) * sizeof *h);
    if (g->G == 4 && n->n_out > 2) memcpy(out[2]->data + d * B * H, cst, (size_t)(B * H) * sizeof *cst);
}

static ng_status rnn_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out, int gates)
{
    const ng_shape *s[7] = {0};
    for (int i = 0; i < n->n_in && i < 7; i++) s[i] = in[i] ? &in[i]->s : NULL;
    rnn_geom g = {0};
    ng_status st = rnn_check(n, s, gates, &g);
    if (st != NG_OK) return st;
    int64_t GH = g.G * g.H;
    size_t need = (size_t)(g.S * g.B * GH + g.B * GH + 2 * g.B * g.H);
    float *buf = ng_opctx_scratch(c, 0, need);
    if (!buf) return NG_E_NOMEM;
    for (int64_t d = 0; d < g.D; d++)
        rnn_dir(c, n, in, out, &g, d, buf, buf + g.S * g.B * GH, buf + g.S * g.B * GH + g.B * GH,
                buf + g.S * g.B * GH + g.B * GH + g.B * g.H);
    return NG_OK;
}

ng_status ng_lstm_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out) { return rnn_shape(n, in, out, 4); }
ng_status ng_gru_shape(const ng_node *n, const ng_shape *const *in, ng_shape *out) { return rnn_shape(n, in, out, 3); }
ng_status ng_lstm_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out) { return rnn_fwd(c, n, in, out, 4); }
ng_status ng_gru_fwd(ng_opctx *c, const ng_node *n, const ng_tensor *const *in, ng_tensor *const *out) { return rnn_fwd(c, n, in, out, 3); }
