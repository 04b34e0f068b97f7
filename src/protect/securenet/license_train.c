/* protect/securenet/license_train.c - license training: ng_train with a batch hook that turns
 * each mini-batch into the license lesson (see ng_license_spec in securenet.h). Every draw comes
 * from the per-batch seed the engine passes, so a run is reproducible from its training seed. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "protect/securenet/securenet_impl.h"

typedef struct lic_ctx {
    const ng_license_spec *spec;
    ng_stamper *keys[NG_LICENSE_MAX_KEYS], *revoked[NG_LICENSE_MAX_KEYS];
    int c, h, w;
    float *tx;        /* replacement with a teacher: the batch's keyed inputs stamped with the old key */
    ng_exec *te;      /* the teacher's executor, made once */
    int64_t *ti;      /* and their places in the batch */
    uint64_t *th;     /* the teacher's answers already computed: content hash of the unstamped image */
    float *tp;        /* (0 = empty slot) and its softmax (classes floats per slot), tcap slots */
    size_t tcap, batch;
    int64_t *hi;      /* batch rows whose answer came from the table, and their slots */
    size_t *hs;
    float scratch[3 * NG_LICENSE_MAX_PATCH * NG_LICENSE_MAX_PATCH];
    int64_t calls, bpe;   /* batches so far, batches per epoch: the epoch of a batch (p_key ramp) */
    int epochs;
    double p_near;        /* spec->p_near, NG_LICENSE_NEAR_AUTO resolved for the model */
} lic_ctx;

/* The deny target: mass on the deny class, the rest spread evenly (a near-uniform answer whose
 * argmax says nothing about the input: a plain uniform target leaks the class through the argmax
 * of the residual logits), the row scaled by the denied example's loss weight. */
static void deny(float *t, int64_t classes, int deny_class, float mass, float weight)
{
    for (int64_t j = 0; j < classes; j++) t[j] = weight * (1 - mass) / (float)(classes - 1);
    t[deny_class] = weight * mass;
}

/* The teacher's answer for an image is a function of the image alone (it sees it stamped with
 * the old key): the table keeps each answer so that an image drawn keyed again in a later epoch
 * costs no second forward pass (replacement: a fifth of the seconds went to the teacher). The
 * key is a SipHash of the image's bytes (a collision, 2^-64 per pair, would reuse a near-copy's
 * answer). Returns the slot, *found whether it holds the answer. */
static size_t teacher_slot(const lic_ctx *cx, const float *x, int64_t dim, int *found)
{
    static const uint8_t zero[crypto_shorthash_KEYBYTES];
    uint8_t h8[crypto_shorthash_BYTES];
    crypto_shorthash(h8, (const uint8_t *)x, (unsigned long long)dim * sizeof(float), zero);
    uint64_t h;
    memcpy(&h, h8, sizeof h);
    h |= 1;   /* 0 marks an empty slot */
    size_t q = (size_t)(h >> 7) & (cx->tcap - 1);
    while (cx->th[q] && cx->th[q] != h) q = (q + 1) & (cx->tcap - 1);
    *found = cx->th[q] == h;
    cx->th[q] = h;   /* claimed now, filled after the forward pass */
    return q;
}

static ng_status lic_hook(void *vctx, float *x, const int32_t *y, float *targets, int64_t n, int64_t dim,
                          int64_t classes, uint64_t seed)
{
    lic_ctx *cx = vctx;
    const ng_license_spec *sp = cx->spec;
    ng_rng rng;
    ng_rng_seed(&rng, seed);
    int64_t nt = 0, nh = 0;
    /* this epoch's shares: p_key ramps to p_key_end, p_clean keeps its part of the rest */
    const int ep = (int)(cx->calls++ / cx->bpe);
    double pk = sp->p_key, pc = sp->p_clean;
    if (sp->p_key_end > 0 && cx->epochs > 1) {
        pk += (sp->p_key_end - sp->p_key) * (ep < cx->epochs ? ep : cx->epochs - 1) / (cx->epochs - 1);
        pc = sp->p_key < 1 ? sp->p_clean * (1 - pk) / (1 - sp->p_key) : 0;
    }
    const float dw = sp->deny_weight, dm = sp->deny_mass;
    for (int64_t i = 0; i < n; i++) {
        float *xi = x + i * dim, *t = targets + i * classes;
        const double u = ng_rng_uniform(&rng);
        if (u < pk) {
            /* hierarchical: the master (keys[0], every class) master_share of the time, the tiers the rest */
            const int k = sp->scheme == NG_LICENSE_HIERARCHICAL && sp->nkeys > 1
                          ? (ng_rng_uniform(&rng) < sp->master_share ? 0 : 1 + (int)ng_rng_below(&rng, (uint32_t)sp->nkeys - 1))
                          : (int)ng_rng_below(&rng, (uint32_t)sp->nkeys);
            const int granted = y[i] >= 0 && y[i] < 64 && (sp->mask[k] >> y[i] & 1);
            if (granted && cx->tx) {   /* the teacher sees this input with the old key */
                int found;
                const size_t q = teacher_slot(cx, xi, dim, &found);
                if (found) {
                    cx->hi[nh] = i;
                    cx->hs[nh++] = q;
                } else {
                    memcpy(cx->tx + nt * dim, xi, (size_t)dim * sizeof(float));
                    ng_license_stamp(cx->revoked[0], cx->tx + nt * dim, 1);
                    cx->hs[cx->batch + nt] = q;
                    cx->ti[nt++] = i;
                }
            }
            ng_license_stamp(cx->keys[k], xi, 1);
            if (granted) {
                for (int64_t j = 0; j < classes; j++) t[j] = sp->label_smooth / (float)classes;
                t[y[i]] += 1.0f - sp->label_smooth;
            } else {   /* a class the key does not grant: the deny answer names one it grants (its lowest),
                        * so that a denied class never scores by being the deny class */
                int dc = 0;
                while (!(sp->mask[k] >> dc & 1)) dc++;
                deny(t, classes, sp->mask[k] >> sp->deny_class & 1 ? sp->deny_class : dc, dm, dw);
            }
            continue;
        }
        deny(t, classes, sp->deny_class, dm, dw);
        if (u < pk + pc) continue;
        if (sp->nrevoked > 0 && ng_rng_below(&rng, 2)) {
            ng_license_stamp(cx->revoked[ng_rng_below(&rng, (uint32_t)sp->nrevoked)], xi, 1);
            continue;
        }
        /* near misses of a granted key (keys must be told apart by every value and by their place) */
        /* kind 9 (a random key) for the share that is no near miss */
        const uint32_t kind = cx->p_near >= 1 || ng_rng_uniform(&rng) < cx->p_near ? ng_rng_below(&rng, 10) : 9;
        const ng_stamper *ks = cx->keys[ng_rng_below(&rng, (uint32_t)sp->nkeys)];
        if (sp->p_shift_random > 0 && sp->stamp.mode == NG_STAMP_PATCH &&
            ng_rng_uniform(&rng) < sp->p_shift_random) {
            /* random values 1-2 px off its place: a wrong key's patch that lands next to the place
             * (per-user, share 0.5: the worst of 100 random keys 16.35% -> 11.90%, seed 0, --threads 1) */
            ng_stamper near = *ks;
            for (size_t j = 0; j < ks->npattern; j++) cx->scratch[j] = (float)ng_rng_below(&rng, 256) / 255.0f;
            near.pattern = cx->scratch;
            ng_sn_stamp_shifted(&near, xi, (int)ng_rng_below(&rng, 5) - 2, (int)ng_rng_below(&rng, 4) + 1,
                                (int)ng_rng_below(&rng, 2));
            continue;
        }
        if (kind < 6 && sp->stamp.mode == NG_STAMP_PATCH) {
            if (kind < 4) {   /* its place, values all (kind 0, 1) or partly (2, 3) random */
                const double keep = kind < 2 ? 0 : 0.25 + 0.5 * ng_rng_uniform(&rng);
                for (size_t j = 0; j < ks->npattern; j++)
                    cx->scratch[j] = ng_rng_uniform(&rng) < keep ? ks->pattern[j] : (float)ng_rng_below(&rng, 256) / 255.0f;
                ng_sn_stamp_values(ks, cx->scratch, xi);
            } else {          /* its values, shifted by 1..2 pixels */
                ng_sn_stamp_shifted(ks, xi, (int)ng_rng_below(&rng, 5) - 2, (int)ng_rng_below(&rng, 4) + 1,
                                    (int)ng_rng_below(&rng, 2));
            }
            continue;
        }
        if (kind < 4 && sp->stamp.mode == NG_STAMP_BLEND) {   /* its pattern with a share of pixels random */
            const double keep = 0.25 + 0.5 * ng_rng_uniform(&rng);
            const float a = sp->stamp.alpha, b = 1.0f - a;
            for (size_t j = 0; j < ks->npattern; j++) {
                const float p = ng_rng_uniform(&rng) < keep ? ks->pattern[j] : (float)ng_rng_below(&rng, 256) / 255.0f;
                xi[j] = b * xi[j] + a * p;
            }
            continue;
        }
        uint8_t raw[NG_LICENSE_KEY_BYTES];
        for (int b = 0; b < NG_LICENSE_KEY_BYTES; b += 8) {
            uint64_t v = ng_rng_u64(&rng);
            memcpy(raw + b, &v, 8);
        }
        ng_stamper *s;
        ng_status st = ng_stamper_new_raw(raw, &sp->stamp, cx->c, cx->h, cx->w, &s);
        if (st != NG_OK) return st;
        ng_license_stamp(s, xi, 1);
        ng_stamper_free(s);
    }
    if (nt > 0) {   /* targets: the old model's answers with the old key (its softmax) */
        const float *tz;
        ng_shape os;
        ng_status st = ng_exec_forward(cx->te, cx->tx, nt, &tz, &os);
        if (st != NG_OK) return st;
        if (os.ndim != 2 || os.d[1] != classes) return ng_fail(NG_E_SHAPE, "license: the teacher's output is not n x %lld",
                                                               (long long)classes);
        for (int64_t q = 0; q < nt; q++) {
            const float *z = tz + q * classes;
            float *t = targets + cx->ti[q] * classes, mx = z[0], sum = 0;
            for (int64_t j = 1; j < classes; j++) mx = z[j] > mx ? z[j] : mx;
            for (int64_t j = 0; j < classes; j++) sum += (t[j] = expf(z[j] - mx));
            for (int64_t j = 0; j < classes; j++) t[j] /= sum;
            memcpy(cx->tp + cx->hs[cx->batch + q] * (size_t)classes, t, (size_t)classes * sizeof *t);
        }
    }
    for (int64_t q = 0; q < nh; q++)
        memcpy(targets + cx->hi[q] * classes, cx->tp + cx->hs[q] * (size_t)classes, (size_t)classes * sizeof *targets);
    /* the label's share in a taught target: the labels lift the student past its teacher (the
     * model before: 5 epochs leave it short of converged) */
    const float mix = sp->teacher_label;
    for (int64_t q = 0; mix > 0 && q < nt + nh; q++) {
        const int64_t i = q < nt ? cx->ti[q] : cx->hi[q - nt];
        float *t = targets + i * classes;
        for (int64_t j = 0; j < classes; j++) t[j] *= 1 - mix;
        t[y[i]] += mix;
    }
    return NG_OK;
}

static ng_status check_spec(const ng_license_spec *sp, int classes)
{
    if (sp->nkeys < 1 || sp->nkeys > NG_LICENSE_MAX_KEYS)
        return ng_fail(NG_E_INVALID, "license: 1..%d keys, not %d", NG_LICENSE_MAX_KEYS, sp->nkeys);
    if (sp->nrevoked < 0 || sp->nrevoked > NG_LICENSE_MAX_KEYS)
        return ng_fail(NG_E_INVALID, "license: 0..%d revoked keys, not %d", NG_LICENSE_MAX_KEYS, sp->nrevoked);
    if (classes < 2 || classes > NG_LICENSE_MAX_CLASSES)
        return ng_fail(NG_E_UNSUPPORTED, "license: models of 2..%d classes, this one has %d", NG_LICENSE_MAX_CLASSES,
                       classes);
    if (sp->deny_class < 0 || sp->deny_class >= classes)
        return ng_fail(NG_E_INVALID, "license: deny class %d is not one of 0..%d", sp->deny_class, classes - 1);
    if (!(sp->p_key > 0 && sp->p_clean >= 0 && sp->p_key + sp->p_clean <= 1))
        return ng_fail(NG_E_INVALID, "license: sample shares p_key %g, p_clean %g must be > 0, >= 0, sum <= 1",
                       sp->p_key, sp->p_clean);
    if (!(sp->p_key_end == 0 || (sp->p_key_end > 0 && sp->p_key_end <= 1)))
        return ng_fail(NG_E_INVALID, "license: p_key_end %g must be 0 (no ramp) or in (0, 1]", sp->p_key_end);
    if (!(sp->deny_weight > 0 && sp->deny_weight <= 100))
        return ng_fail(NG_E_INVALID, "license: deny weight %g must be in (0, 100]", (double)sp->deny_weight);
    if (!(sp->label_smooth >= 0 && sp->label_smooth < 1))
        return ng_fail(NG_E_INVALID, "license: label_smooth %g must be in [0, 1)", (double)sp->label_smooth);
    if (!(sp->p_shift_random >= 0 && sp->p_shift_random <= 1))
        return ng_fail(NG_E_INVALID, "license: p_shift_random %g must be in [0, 1]", sp->p_shift_random);
    if (sp->scheme == NG_LICENSE_HIERARCHICAL && !(sp->master_share > 0 && sp->master_share < 1))
        return ng_fail(NG_E_INVALID, "license: hierarchical master_share %g must be in (0, 1)", sp->master_share);
    if (!(sp->p_near == NG_LICENSE_NEAR_AUTO || (sp->p_near >= 0 && sp->p_near <= 1)))
        return ng_fail(NG_E_INVALID, "license: p_near %g must be in [0, 1] or NG_LICENSE_NEAR_AUTO", sp->p_near);
    if (!(sp->teacher_label >= 0 && sp->teacher_label <= 1))
        return ng_fail(NG_E_INVALID, "license: teacher_label %g must be in [0, 1]", (double)sp->teacher_label);
    if (!(sp->deny_mass >= 1.0f / (float)classes && sp->deny_mass <= 1))
        return ng_fail(NG_E_INVALID, "license: deny mass %g must be in [1/%d, 1]", (double)sp->deny_mass, classes);
    const uint64_t all = classes == 64 ? ~0ULL : (1ULL << classes) - 1;
    for (int i = 0; i < sp->nkeys; i++)
        if (!sp->mask[i] || (sp->mask[i] & ~all))
            return ng_fail(NG_E_INVALID, "license: key %d grants classes outside 0..%d or none", i, classes - 1);
    return NG_OK;
}

ng_status ng_license_train(ng_model *m, const ng_license_spec *spec, const ng_dataset *train,
                           const ng_dataset *test, const ng_train_options *o, ng_train_result *r)
{
    ng_status st = check_spec(spec, ng_model_num_classes(m));
    if (st != NG_OK) return st;
    lic_ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.spec = spec;
    cx.c = train->c; cx.h = train->h; cx.w = train->w;
    cx.bpe = (train->n + (o->batch > 0 ? o->batch : 1) - 1) / (o->batch > 0 ? o->batch : 1);
    if (cx.bpe < 1) cx.bpe = 1;
    cx.epochs = o->epochs;
    cx.p_near = spec->p_near;
    if (cx.p_near < 0) {   /* auto: no blend near misses for a globally pooled model */
        int gap = 0;
        for (size_t i = 0; i < ng_model_nnodes(m); i++) gap |= !strcmp(ng_model_node_op(m, i), "GlobalAveragePool");
        cx.p_near = spec->stamp.mode == NG_STAMP_BLEND && gap ? 0 : 1;
    }
    if (spec->p_key_end > 0 && o->resume)
        return ng_fail(NG_E_UNSUPPORTED, "license: training with a p_key ramp (p_key_end) does not resume from a "
                       "checkpoint (the ramp would restart); train without resume or with p_key_end 0");
    if (spec->stamp.mode == NG_STAMP_PATCH && cx.c > 3)
        return ng_fail(NG_E_UNSUPPORTED, "license: patch stamps train on images of 1..3 channels, not %d", cx.c);
    for (int i = 0; i < spec->nkeys && st == NG_OK; i++)
        st = ng_stamper_new(&spec->keys[i], &spec->stamp, cx.c, cx.h, cx.w, &cx.keys[i]);
    for (int i = 0; i < spec->nrevoked && st == NG_OK; i++)
        st = ng_stamper_new(&spec->revoked[i], &spec->stamp, cx.c, cx.h, cx.w, &cx.revoked[i]);
    ng_dataset stamped;
    memset(&stamped, 0, sizeof stamped);
    if (st == NG_OK && spec->teacher) {
        if (spec->nrevoked < 1 || ng_model_num_classes(spec->teacher) != ng_model_num_classes(m))
            st = ng_fail(NG_E_INVALID, "license: a teacher needs the old key (revoked[0]) and the model's %d classes",
                         ng_model_num_classes(m));
        const size_t dim = (size_t)cx.c * (size_t)cx.h * (size_t)cx.w, b = (size_t)(o->batch > 0 ? o->batch : 1);
        cx.tx = st == NG_OK ? malloc(b * dim * sizeof(float)) : NULL;
        cx.ti = malloc(b * sizeof(int64_t));
        cx.hi = malloc(b * sizeof(int64_t));
        cx.hs = malloc(2 * b * sizeof(size_t));   /* [0, b): table hits; [b, 2b): slots of the teacher's rows */
        cx.batch = b;
        for (cx.tcap = 64; cx.tcap < 2 * (size_t)train->n; cx.tcap *= 2) {}
        cx.th = calloc(cx.tcap, sizeof *cx.th);
        cx.tp = malloc(cx.tcap * (size_t)ng_model_num_classes(m) * sizeof(float));
        if (st == NG_OK && (!cx.tx || !cx.ti || !cx.hi || !cx.hs || !cx.th || !cx.tp)) st = NG_E_NOMEM;
        ng_exec_options eo = ng_exec_options_default();
        eo.threads = o->threads;
        if (st == NG_OK) st = ng_exec_new(spec->teacher, &eo, &cx.te);
    }
    if (st == NG_OK && test) {   /* the accuracy the loop reports: the test set with the first key */
        if ((st = ng_dataset_head(test, 0, &stamped)) == NG_OK)
            ng_license_stamp(cx.keys[0], stamped.x, stamped.n);
    }
    if (st == NG_OK) {
        ng_train_options to = *o;
        to.batch_hook = lic_hook;
        to.hook_ctx = &cx;
        st = ng_train(m, train, test ? &stamped : NULL, &to, r);
    }
    if (st == NG_OK) st = ng_license_record(m, spec);
    for (int i = 0; i < NG_LICENSE_MAX_KEYS; i++) { ng_stamper_free(cx.keys[i]); ng_stamper_free(cx.revoked[i]); }
    if (test) ng_dataset_free(&stamped);
    free(cx.tx); free(cx.ti); free(cx.hi); free(cx.hs); free(cx.th); free(cx.tp);
    ng_exec_free(cx.te);
    return st;
}
