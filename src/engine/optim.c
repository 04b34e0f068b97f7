/* engine/optim.c - SGD (momentum) and Adam over one contiguous parameter array,
 * with PyTorch's semantics (torch.optim.SGD / Adam, 1.13, defaults elsewhere):
 *
 *   both:  g = grad + weight_decay * p            (L2 added to the gradient)
 *   SGD:   b = momentum * b + g  (b = g at the first step), p -= lr * b   (p -= lr * g if momentum 0)
 *   Adam:  m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,  t += 1
 *          p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * Frozen entries (mask 0) are skipped entirely: neither the parameter nor its
 * moments change. The moments live in one array (Adam: m then v) so a
 * checkpoint can save and restore them as they are (ng_optim_state).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/train.h"
#include "core/core.h"

struct ng_optim {
    ng_optim_options o;
    size_t  n;        /* parameters */
    int64_t t;        /* steps taken */
    float  *state;    /* SGD: n momentum buffers (if momentum != 0); Adam: m[n] then v[n] */
    size_t  nstate;
};

ng_optim_options ng_optim_options_default(ng_optim_kind kind)
{
    ng_optim_options o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = kind == NG_OPTIM_ADAM ? 1e-3f : 1e-2f;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    return o;
}

ng_status ng_optim_new(const ng_optim_options *o, size_t nparams, ng_optim **out)
{
    *out = NULL;
    if (o->kind != NG_OPTIM_SGD && o->kind != NG_OPTIM_ADAM)
        return ng_fail(NG_E_INVALID, "optimizer: unknown kind %d (use SGD or Adam)", (int)o->kind);
    if (!(o->lr >= 0) || !(o->momentum >= 0 && o->momentum < 1) || !(o->weight_decay >= 0))
        return ng_fail(NG_E_INVALID, "optimizer: lr %g, momentum %g, weight decay %g: lr and decay must be >= 0, "
                       "momentum in [0,1)", o->lr, o->momentum, o->weight_decay);
    if (o->kind == NG_OPTIM_ADAM && (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0)))
        return ng_fail(NG_E_INVALID, "optimizer: Adam betas %g, %g must be in [0,1) and eps %g > 0",
                       o->beta1, o->beta2, o->eps);
    ng_optim *p = ng_calloc(1, sizeof *p);
    if (!p) return NG_E_NOMEM;
    p->o = *o;
    p->n = nparams;
    p->nstate = o->kind == NG_OPTIM_ADAM ? 2 * nparams : (o->momentum != 0 ? nparams : 0);
    if (p->nstate) {
        p->state = ng_alloc_aligned(p->nstate * sizeof(float));
        if (!p->state) { free(p); return NG_E_NOMEM; }
        memset(p->state, 0, p->nstate * sizeof(float));
    }
    *out = p;
    return NG_OK;
}

static void sgd_step(ng_optim *opt, float *p, const float *grad, const uint8_t *mask, float lr)
{
    const float wd = opt->o.weight_decay, mu = opt->o.momentum;
    float *b = opt->state;
    const int first = opt->t == 0;
    for (size_t i = 0; i < opt->n; i++) {
        if (mask && !mask[i]) continue;
        float g = grad[i];
        if (wd != 0) g += wd * p[i];
        if (b) {
            b[i] = first ? g : mu * b[i] + g;
            g = b[i];
        }
        p[i] -= lr * g;
    }
}

/* Adam without mask and weight decay: the same operations in the same order as adam_step's
 * general loop (bit-identical results), without its per-element branches; vectorised thanks to
 * -fno-math-errno (CMakeLists.txt). */
static void adam_plain(size_t n, float *restrict p, const float *restrict grad, float *restrict m,
                       float *restrict v, float b1, float b2, float eps, float step, float bc2_sqrt)
{
    for (size_t i = 0; i < n; i++) {
        const float g = grad[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        p[i] -= step * (m[i] / (sqrtf(v[i]) / bc2_sqrt + eps));
    }
}

static void adam_step(ng_optim *opt, float *p, const float *grad, const uint8_t *mask, float lr)
{
    const float wd = opt->o.weight_decay, b1 = opt->o.beta1, b2 = opt->o.beta2, eps = opt->o.eps;
    float *m = opt->state, *v = opt->state + opt->n;
    const int64_t t = opt->t + 1;
    /* bias corrections in double as PyTorch computes them in Python floats */
    const double bc1 = 1.0 - pow((double)b1, (double)t), bc2 = 1.0 - pow((double)b2, (double)t);
    const float step = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    if (!mask && wd == 0) {   /* the common case */
        adam_plain(opt->n, p, grad, m, v, b1, b2, eps, step, bc2_sqrt);
        return;
    }
    for (size_t i = 0; i < opt->n; i++) {
        if (mask && !mask[i]) continue;
        float g = grad[i];
        if (wd != 0) g += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step * (m[i] / denom);
    }
}

void ng_optim_step(ng_optim *opt, float *params, const float *grad, const uint8_t *mask, float lr)
{
    if (opt->o.kind == NG_OPTIM_ADAM) adam_step(opt, params, grad, mask, lr);
    else sgd_step(opt, params, grad, mask, lr);
    opt->t++;
}

void ng_optim_free(ng_optim *opt)
{
    if (!opt) return;
    ng_free_aligned(opt->state);
    free(opt);
}

size_t ng_optim_state_len(const ng_optim *opt) { return opt->nstate; }
float *ng_optim_state(ng_optim *opt) { return opt->state; }
int64_t ng_optim_steps(const ng_optim *opt) { return opt->t; }
void ng_optim_set_steps(ng_optim *opt, int64_t steps) { opt->t = steps < 0 ? 0 : steps; }
