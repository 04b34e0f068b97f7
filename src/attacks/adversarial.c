/* attacks/adversarial.c - FGSM and PGD adversarial examples (attack.h), optionally through a
 * SecureNet stamp: the victim's pipeline is logits = f(stamp_v(x)), the attacker differentiates
 * f(stamp_a(x)) (stamp_a = stamp_v: it holds the key; NULL: it does not, and crafts on the bare
 * model). A stamp is affine per pixel, x' = (1 - m) x + m P, so its input Jacobian is the diagonal
 * J = stamp(1) - stamp(0), computed once: dL/dx = J * (dL/dx').
 *   FGSM: x_adv = clip(x + eps sign(dL/dx))
 *   PGD:  x_0 = clip(x + U(-eps, eps)), x_{k+1} = clip(proj_eps(x_k + step sign(dL/dx_k))) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/attack.h"

ng_advex_options ng_advex_options_default(void)
{
    ng_advex_options o = { .eps = 0.1f, .steps = 1, .step = 0, .random_start = 1, .lo = 0, .hi = 1, .batch = 128 };
    return o;
}

/* Input Jacobian diagonal of stamper s over dim = c*h*w values (s NULL: all ones). */
static void stamp_jacobian(const ng_stamper *s, float *jac, float *tmp, size_t dim)
{
    for (size_t j = 0; j < dim; j++) jac[j] = 1;
    if (!s) return;
    memset(tmp, 0, dim * sizeof *tmp);
    ng_license_stamp(s, jac, 1);
    ng_license_stamp(s, tmp, 1);
    for (size_t j = 0; j < dim; j++) jac[j] -= tmp[j];
}

static int argmax(const float *z, int c)
{
    int b = 0;
    for (int j = 1; j < c; j++) if (z[j] > z[b]) b = j;
    return b;
}

/* Labels the victim's pipeline gives to n inputs x (stamped copy in buf). */
static ng_status victim_labels(ng_exec *e, const ng_stamper *v, const float *x, float *buf, int64_t n, size_t dim,
                               int c, int32_t *out)
{
    memcpy(buf, x, (size_t)n * dim * sizeof *buf);
    if (v) ng_license_stamp(v, buf, n);
    const float *z;
    ng_shape os;
    ng_status st = ng_exec_forward(e, buf, n, &z, &os);
    if (st != NG_OK) return st;
    for (int64_t i = 0; i < n; i++) out[i] = argmax(z + (size_t)i * (size_t)c, c);
    return NG_OK;
}

/* gx := dL/dx of xent(f(stamp_a(x)), y) at x (n inputs). */
static ng_status input_grad(ng_exec *e, const ng_stamper *a, const float *jac, const float *x, float *buf,
                            const int32_t *y, int64_t n, size_t dim, int c, float *dz, float *gx)
{
    memcpy(buf, x, (size_t)n * dim * sizeof *buf);
    if (a) ng_license_stamp(a, buf, n);
    const float *z;
    ng_shape os;
    ng_status st = ng_exec_forward(e, buf, n, &z, &os);
    if (st != NG_OK) return st;
    ng_loss_xent(z, y, n, c, dz);
    if ((st = ng_exec_backward(e, dz, NULL, gx)) != NG_OK) return st;
    for (int64_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) gx[(size_t)i * dim + j] *= jac[j];
    return NG_OK;
}

static float sgnf(float v) { return (float)((v > 0) - (v < 0)); }
static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

ng_status ng_attack_adversarial_batch(ng_model *m, const float *x, const int32_t *y, int64_t n, const ng_stamper *craft,
                                      const ng_advex_options *o, ng_rng *rng, float *xadv)
{
    ng_shape in;
    ng_model_input_shape(m, &in);
    if (in.ndim != 4) return ng_fail(NG_E_SHAPE, "adversarial examples: the model's input is not N x C x H x W");
    const size_t dim = (size_t)in.d[1] * (size_t)in.d[2] * (size_t)in.d[3];
    const int c = ng_model_num_classes(m);
    float *jac = ng_calloc(dim, sizeof *jac), *buf = ng_calloc((size_t)n * dim, sizeof *buf),
          *gx = ng_calloc((size_t)n * dim, sizeof *gx), *dz = ng_calloc((size_t)n * (size_t)c, sizeof *dz);
    ng_exec *e = NULL;
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = o->threads;
    ng_status st = !jac || !buf || !gx || !dz ? NG_E_NOMEM : ng_exec_new(m, &eo, &e);
    if (st != NG_OK) goto out;
    stamp_jacobian(craft, jac, buf, dim);
    const size_t tot = (size_t)n * dim;
    const int pgd = o->steps > 1;
    const float step = o->step > 0 ? o->step : 2.5f * o->eps / (float)(o->steps > 0 ? o->steps : 1);
    for (size_t j = 0; j < tot; j++)
        xadv[j] = pgd && o->random_start ? clampf(x[j] + o->eps * (2 * ng_rng_uniform(rng) - 1), o->lo, o->hi) : x[j];
    if (o->eps <= 0) goto out;
    for (int k = 0; k < (pgd ? o->steps : 1); k++) {
        if ((st = input_grad(e, craft, jac, xadv, buf, y, n, dim, c, dz, gx)) != NG_OK) goto out;
        const float s = pgd ? step : o->eps;
        for (size_t j = 0; j < tot; j++) {
            float v = xadv[j] + s * sgnf(gx[j]);
            v = clampf(v, x[j] - o->eps, x[j] + o->eps);
            xadv[j] = clampf(v, o->lo, o->hi);
        }
    }
out:
    ng_exec_free(e);
    free(jac); free(buf); free(gx); free(dz);
    return st;
}

ng_status ng_attack_adversarial(ng_model *m, const ng_dataset *d, const ng_stamper *victim, const ng_stamper *craft,
                                const ng_advex_options *o, ng_advex_result *r)
{
    return ng_attack_adversarial_transfer(m, victim, m, craft, d, o, r);
}

ng_status ng_attack_adversarial_transfer(ng_model *m, const ng_stamper *victim, ng_model *craft_m, const ng_stamper *craft,
                                         const ng_dataset *d, const ng_advex_options *o, ng_advex_result *r)
{
    memset(r, 0, sizeof *r);
    if (craft_m != m) {
        ng_shape a, b;
        ng_model_input_shape(m, &a);
        ng_model_input_shape(craft_m, &b);
        int same = a.ndim == b.ndim && ng_model_num_classes(m) == ng_model_num_classes(craft_m);
        for (int i = 1; same && i < a.ndim; i++) same = a.d[i] == b.d[i];
        if (!same)
            return ng_fail(NG_E_SHAPE, "adversarial examples: the crafting model's input or class count differs from "
                           "the victim's");
    }
    if (!(o->eps >= 0 && o->eps <= 1) || o->steps < 1 || o->batch < 1 || !(o->step >= 0))
        return ng_fail(NG_E_INVALID, "adversarial examples: eps in [0, 1], steps >= 1, batch >= 1, step >= 0");
    ng_shape in;
    ng_model_input_shape(m, &in);
    if (in.ndim != 4 || in.d[1] != d->c || in.d[2] != d->h || in.d[3] != d->w)
        return ng_fail(NG_E_SHAPE, "adversarial examples: the model takes %lld x %lld x %lld inputs, the images are "
                       "%d x %d x %d", in.ndim == 4 ? (long long)in.d[1] : -1LL, in.ndim == 4 ? (long long)in.d[2] : -1LL,
                       in.ndim == 4 ? (long long)in.d[3] : -1LL, d->c, d->h, d->w);
    const size_t dim = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    const int c = ng_model_num_classes(m);
    const int64_t B = o->batch;
    float *xa = ng_calloc((size_t)B * dim, sizeof *xa), *buf = ng_calloc((size_t)B * dim, sizeof *buf);
    int32_t *l0 = ng_calloc((size_t)B, sizeof *l0), *l1 = ng_calloc((size_t)B, sizeof *l1);
    ng_exec *e = NULL;
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = o->threads;
    ng_status st = !xa || !buf || !l0 || !l1 ? NG_E_NOMEM : ng_exec_new(m, &eo, &e);
    ng_rng rng;
    ng_rng_seed(&rng, o->seed);
    for (int64_t i = 0; i < d->n && st == NG_OK; i += B) {
        const int64_t n = d->n - i < B ? d->n - i : B;
        const float *x = d->x + (size_t)i * dim;
        const int32_t *y = d->y + i;
        if ((st = victim_labels(e, victim, x, buf, n, dim, c, l0)) != NG_OK) break;
        if ((st = ng_attack_adversarial_batch(craft_m, x, y, n, craft, o, &rng, xa)) != NG_OK) break;
        if ((st = victim_labels(e, victim, xa, buf, n, dim, c, l1)) != NG_OK) break;
        for (int64_t k = 0; k < n; k++) {
            const int ok0 = l0[k] == y[k], ok1 = l1[k] == y[k];
            r->correct += ok0;
            r->correct_adv += ok1;
            r->flipped += ok0 && l1[k] != l0[k];
            for (size_t j = 0; j < dim; j++) {
                const double dv = fabs((double)xa[(size_t)k * dim + j] - (double)x[(size_t)k * dim + j]);
                if (dv > r->linf) r->linf = dv;
            }
        }
        r->n += n;
    }
    ng_exec_free(e);
    free(xa); free(buf); free(l0); free(l1);
    if (st != NG_OK) return st;
    r->acc_clean = r->n ? (double)r->correct / (double)r->n : 0;
    r->acc_adv = r->n ? (double)r->correct_adv / (double)r->n : 0;
    r->success = r->correct ? (double)r->flipped / (double)r->correct : 0;
    return NG_OK;
}
