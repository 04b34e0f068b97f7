/* attacks/reverse_trigger.c - trigger reverse-engineering against a licensed model (attack.h):
 * gradient descent on the input stamp's parameters through ng_exec_backward's input gradient.
 *   x' = (1 - m) x + m P,  P = s(p),  m = alpha (blend) or s(q) (patch),  s = sigmoid
 *   dL/dp = g m P (1 - P),  dL/dq = (g (P - x) + lambda / D) m (1 - m)   (summed over the batch) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/attack.h"

ng_trigger_options ng_trigger_options_default(void)
{
    ng_trigger_options o = { .blend = 1, .alpha = 0.1f, .lr = 0.1f, .lambda = 0.01f, .epochs = 5, .batch = 64 };
    return o;
}

static float sig(float v) { return 1.0f / (1.0f + expf(-v)); }

/* Accuracy of m on d stamped with (p, q) (NULL p: unstamped). */
static ng_status held_acc(ng_model *m, const ng_dataset *d, const float *p, const float *q, float alpha, int threads,
                          double *acc)
{
    const size_t dim = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    ng_dataset s;
    ng_status st = ng_dataset_head(d, 0, &s);
    if (st != NG_OK) return st;
    if (p)
        for (int64_t i = 0; i < s.n; i++)
            for (size_t j = 0; j < dim; j++) {
                const float mk = q ? sig(q[j]) : alpha;
                s.x[(size_t)i * dim + j] = (1 - mk) * s.x[(size_t)i * dim + j] + mk * sig(p[j]);
            }
    st = ng_evaluate(m, &s, 0, 256, threads, acc, NULL, NULL);
    ng_dataset_free(&s);
    return st;
}

ng_status ng_attack_reverse_trigger(ng_model *m, const ng_dataset *a, const ng_dataset *held,
                                    const ng_trigger_options *o, ng_trigger_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || (o->blend && !(o->alpha > 0 && o->alpha <= 1)))
        return ng_fail(NG_E_INVALID, "reverse-trigger: epochs and batch >= 1, lr > 0, blend alpha in (0, 1]");
    if (a->n < 1) return ng_fail(NG_E_INVALID, "reverse-trigger: the attacker's data is empty");
    const size_t dim = (size_t)a->c * (size_t)a->h * (size_t)a->w;
    const int C = ng_model_num_classes(m);
    const int B = o->batch;
    float *p = ng_calloc(dim, sizeof *p), *q = ng_calloc(dim, sizeof *q), *gp = ng_calloc(dim, sizeof *gp),
          *gq = ng_calloc(dim, sizeof *gq), *mom = ng_calloc(4 * dim, sizeof *mom),
          *xb = ng_calloc((size_t)B * dim, sizeof *xb), *x0 = ng_calloc((size_t)B * dim, sizeof *x0),
          *gx = ng_calloc((size_t)B * dim, sizeof *gx), *dz = ng_calloc((size_t)B * (size_t)C, sizeof *dz);
    int32_t *yb = ng_calloc((size_t)B, sizeof *yb);
    uint32_t *perm = ng_calloc((size_t)a->n, sizeof *perm);
    ng_exec *e = NULL;
    ng_status st = NG_OK;
    if (!p || !q || !gp || !gq || !mom || !xb || !x0 || !gx || !dz || !yb || !perm) { st = NG_E_NOMEM; goto out; }
    ng_rng rng;
    ng_rng_seed(&rng, o->seed);
    for (size_t j = 0; j < dim; j++) { p[j] = 0.1f * ng_rng_normal(&rng); q[j] = -3.0f; }   /* m starts ~0.05 */
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = o->threads;
    if ((st = ng_exec_new(m, &eo, &e)) != NG_OK) goto out;
    if ((st = held_acc(m, held, NULL, NULL, 0, o->threads, &r->acc_before)) != NG_OK) goto out;
    int64_t step = 0;
    for (int ep = 0; ep < o->epochs; ep++) {
        for (int64_t i = 0; i < a->n; i++) perm[i] = (uint32_t)i;
        ng_rng_shuffle_u32(&rng, perm, (size_t)a->n);
        double sum = 0;
        for (int64_t i = 0; i < a->n; i += B) {
            const int64_t bs = a->n - i < B ? a->n - i : B;
            for (int64_t k = 0; k < bs; k++) {
                memcpy(x0 + (size_t)k * dim, a->x + (size_t)perm[i + k] * dim, dim * sizeof(float));
                yb[k] = a->y[perm[i + k]];
            }
            for (int64_t k = 0; k < bs; k++)
                for (size_t j = 0; j < dim; j++) {
                    const float mk = o->blend ? o->alpha : sig(q[j]);
                    xb[(size_t)k * dim + j] = (1 - mk) * x0[(size_t)k * dim + j] + mk * sig(p[j]);
                }
            const float *z;
            ng_shape os;
            if ((st = ng_exec_forward(e, xb, bs, &z, &os)) != NG_OK) goto out;
            float l = ng_loss_xent(z, yb, bs, C, dz);
            if ((st = ng_exec_backward(e, dz, NULL, gx)) != NG_OK) goto out;
            memset(gp, 0, dim * sizeof *gp);
            memset(gq, 0, dim * sizeof *gq);
            for (size_t j = 0; j < dim; j++) {
                const float P = sig(p[j]), mk = o->blend ? o->alpha : sig(q[j]);
                for (int64_t k = 0; k < bs; k++) {
                    const float g = gx[(size_t)k * dim + j];
                    gp[j] += g * mk * P * (1 - P);
                    if (!o->blend) gq[j] += g * (P - x0[(size_t)k * dim + j]) * mk * (1 - mk);
                }
                if (!o->blend) gq[j] += o->lambda / (float)dim * mk * (1 - mk);
            }
            /* Adam on p (mom[0..2dim)) and q (mom[2dim..4dim)) */
            step++;
            const float b1 = 0.9f, b2 = 0.999f, c1 = 1 - powf(b1, (float)step), c2 = 1 - powf(b2, (float)step);
            for (int t = 0; t < (o->blend ? 1 : 2); t++) {
                float *w = t ? q : p, *g = t ? gq : gp, *mm = mom + (size_t)t * 2 * dim, *vv = mm + dim;
                for (size_t j = 0; j < dim; j++) {
                    mm[j] = b1 * mm[j] + (1 - b1) * g[j];
                    vv[j] = b2 * vv[j] + (1 - b2) * g[j] * g[j];
                    w[j] -= o->lr * (mm[j] / c1) / (sqrtf(vv[j] / c2) + 1e-8f);
                }
            }
            sum += (double)l * (double)bs;
        }
        const double ml = sum / (double)a->n;
        if (ep == 0) r->loss_first = ml;
        r->loss_last = ml;
    }
    double msum = 0;
    for (size_t j = 0; j < dim; j++) msum += o->blend ? o->alpha : sig(q[j]);
    r->mask_mean = msum / (double)dim;
    st = held_acc(m, held, p, o->blend ? NULL : q, o->alpha, o->threads, &r->acc_after);
out:
    ng_exec_free(e);
    free(p); free(q); free(gp); free(gq); free(mom); free(xb); free(x0); free(gx); free(dz); free(yb); free(perm);
    return st;
}
