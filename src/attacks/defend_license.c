/* attacks/defend_license.c - the key holder's defences of a SecureNet model (attack.h): license
 * fine-tuning with the key, adversarial (p_adv > 0) or on clean data (p_adv = 0, backdoor removal).
 * A batch hook of ng_train rewrites each batch; the adversarial examples are crafted against the
 * weights being trained (ng_exec reads the model's parameter array, which ng_train updates). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/attack.h"

ng_harden_options ng_harden_options_default(void)
{
    ng_harden_options h;
    memset(&h, 0, sizeof h);
    h.adv = ng_advex_options_default();
    h.adv.steps = 5;
    h.p_adv = 0.5;
    h.p_key = 0.5;
    h.p_clean = 0.2;
    return h;
}

typedef struct hctx {
    ng_model *m;
    const ng_stamper *key;
    const ng_stamp_options *so;
    const ng_harden_options *h;
    uint64_t mask;
    int c, hh, w;
} hctx;

static void deny(float *t, int64_t C, int d)
{
    for (int64_t j = 0; j < C; j++) t[j] = 0.5f / (float)C;
    t[d] += 0.5f;
}

static ng_status hook(void *vctx, float *x, const int32_t *y, float *t, int64_t n, int64_t dim, int64_t C,
                      uint64_t seed)
{
    hctx *c = vctx;
    ng_rng g;
    ng_rng_seed(&g, seed);
    int64_t *adv = ng_calloc((size_t)n, sizeof *adv);
    if (!adv) return NG_E_NOMEM;
    int64_t na = 0;
    ng_status st = NG_OK;
    memset(t, 0, (size_t)(n * C) * sizeof *t);
    for (int64_t i = 0; i < n && st == NG_OK; i++) {
        float *xi = x + (size_t)(i * dim), *ti = t + (size_t)(i * C);
        const float u = ng_rng_uniform(&g);
        if (u < c->h->p_key) {
            if (c->mask >> y[i] & 1) ti[y[i]] = 1;
            else deny(ti, C, c->h->deny_class);
            if (ng_rng_uniform(&g) < c->h->p_adv) adv[na++] = i;   /* crafted below, then stamped */
            else ng_license_stamp(c->key, xi, 1);
        } else if (u < c->h->p_key + c->h->p_clean) {
            deny(ti, C, c->h->deny_class);
        } else {
            uint8_t raw[NG_LICENSE_KEY_BYTES];
            for (int b = 0; b < NG_LICENSE_KEY_BYTES; b += 8) { uint64_t v = ng_rng_u64(&g); memcpy(raw + b, &v, 8); }
            ng_stamper *s;
            st = ng_stamper_new_raw(raw, c->so, c->c, c->hh, c->w, &s);
            sodium_memzero(raw, sizeof raw);
            if (st != NG_OK) break;
            ng_license_stamp(s, xi, 1);
            ng_stamper_free(s);
            deny(ti, C, c->h->deny_class);
        }
    }
    if (st == NG_OK && na > 0) {
        float *xa = ng_calloc((size_t)(na * dim), sizeof *xa), *xo = ng_calloc((size_t)(na * dim), sizeof *xo);
        int32_t *ya = ng_calloc((size_t)na, sizeof *ya);
        if (!xa || !xo || !ya) st = NG_E_NOMEM;
        for (int64_t k = 0; k < na && st == NG_OK; k++) {
            memcpy(xo + (size_t)(k * dim), x + (size_t)(adv[k] * dim), (size_t)dim * sizeof *xo);
            ya[k] = y[adv[k]];
        }
        if (st == NG_OK) st = ng_attack_adversarial_batch(c->m, xo, ya, na, c->key, &c->h->adv, &g, xa);
        if (st == NG_OK) {
            ng_license_stamp(c->key, xa, na);
            for (int64_t k = 0; k < na; k++)
                memcpy(x + (size_t)(adv[k] * dim), xa + (size_t)(k * dim), (size_t)dim * sizeof *xa);
        }
        free(xa); free(xo); free(ya);
    }
    free(adv);
    return st;
}

ng_status ng_defend_license_finetune(ng_model *m, const ng_key *key, const ng_dataset *train,
                                     const ng_harden_options *h, const ng_train_options *o, ng_train_result *r)
{
    if (!(h->p_key > 0 && h->p_clean >= 0 && h->p_key + h->p_clean <= 1 && h->p_adv >= 0 && h->p_adv <= 1))
        return ng_fail(NG_E_INVALID, "license fine-tuning: p_key in (0, 1], p_clean >= 0, p_key + p_clean <= 1, "
                       "p_adv in [0, 1]");
    if (h->deny_class < 0 || h->deny_class >= train->classes)
        return ng_fail(NG_E_INVALID, "license fine-tuning: deny class %d is not a class", h->deny_class);
    ng_stamp_options so;
    uint64_t mask;
    ng_status st = ng_license_stamp_options(m, &so);
    if (st != NG_OK) return st;
    if ((st = ng_license_key_classes(m, key, &mask)) != NG_OK) return st;
    ng_stamper *s;
    if ((st = ng_stamper_new(key, &so, train->c, train->h, train->w, &s)) != NG_OK) return st;
    hctx c = { m, s, &so, h, mask, train->c, train->h, train->w };
    ng_train_options to = *o;
    to.batch_hook = hook;
    to.hook_ctx = &c;
    st = ng_train(m, train, NULL, &to, r);
    ng_stamper_free(s);
    return st;
}
