/* protect/advparams.c - AdvParams encryption (greedy adversarial perturbation of a few
 * parameters) and bit-exact decryption, on an engine model and its file (SCHEMES.md section 2).
 * The key file lives in advparams_key.c. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "nnguard/advparams.h"
#include "nnguard/train.h"
#include "core/core.h"
#include "protect/advparams/advparams_impl.h"

ng_adv_options ng_adv_options_default(void)
{
    ng_adv_options o;
    memset(&o, 0, sizeof o);
    o.budget = NG_ADV_HARDEN_BUDGET;
    o.target_acc = 0.10;
    o.rule = NG_ADV_RULE_GAIN;
    o.harden = 1;
    o.spread = 4;
    o.set_size = 512;
    o.seed = 0;
    o.batch = 256;
    return o;
}

ng_adv_options ng_adv_options_paper(void)
{
    ng_adv_options o = ng_adv_options_default();
    o.harden = 0;
    o.budget = 25;
    o.target_acc = 0.15;
    o.rule = NG_ADV_RULE_GRAD;
    return o;
}

static uint32_t f2bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

typedef ng_adv_tensor adv_tensor;

/* Does name match the comma-separated fnmatch patterns? */
static int match_patterns(const char *pat, const char *name)
{
    char buf[NG_ADV_PATTERN_MAX + 1];
    size_t n = strlen(pat);
    if (n > NG_ADV_PATTERN_MAX) return 0;
    memcpy(buf, pat, n + 1);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (fnmatch(t, name, 0) == 0) return 1;
    return 0;
}

static int default_eligible(const ng_param *p)
{
    size_t n = strlen(p->name);
    return p->shape.ndim >= 2 && n >= 7 && strcmp(p->name + n - 7, ".weight") == 0;
}

/* Collect eligible tensors; check that model and file agree bit for bit on each. */
static ng_status collect_tensors(ng_model *m, const ng_weights *w, const char *pattern,
                                 adv_tensor **out, size_t *nout)
{
    size_t nt = ng_model_ntensors(m), k = 0;
    adv_tensor *t = ng_calloc(nt ? nt : 1, sizeof *t);
    if (!t) return NG_E_NOMEM;
    for (size_t i = 0; i < nt; i++) {
        ng_param p;
        ng_model_tensor(m, i, &p);
        if (!ng_model_tensor_trainable(m, i)) continue;
        if (pattern ? !match_patterns(pattern, p.name) : !default_eligible(&p)) continue;
        long j = w ? ng_weights_find(w, p.name) : 0;
        if (!w) {
            /* model only: nothing to compare with */
        } else if (j < 0) {
            free(t);
            return ng_fail(NG_E_STATE, "%s: tensor %s of the model is not in the file", ng_weights_path(w), p.name);
        }
        const ng_param *fp = w ? ng_weights_param_c(w, (size_t)j) : &p;
        if (fp->dtype != NG_DT_F32 || fp->nbytes != p.nbytes || memcmp(fp->data, p.data, p.nbytes) != 0) {
            free(t);
            return ng_fail(NG_E_STATE, "%s: tensor %s differs between the model and the file (%s, %zu bytes); "
                           "encrypt needs the model built from this file", w ? ng_weights_path(w) : "model", p.name,
                           ng_dtype_name(fp->dtype), fp->nbytes);
        }
        size_t numel = p.nbytes / 4;
        const float *d = (const float *)(const void *)p.data;
        float lo = INFINITY, hi = -INFINITY;
        for (size_t e = 0; e < numel; e++) {
            if (isnan(d[e])) continue;
            if (d[e] < lo) lo = d[e];
            if (d[e] > hi) hi = d[e];
        }
        if (!(lo <= hi) || isinf(lo) || isinf(hi)) continue;   /* empty, all NaN or unbounded */
        t[k].name = p.name;
        t[k].off = ng_model_tensor_offset(m, i);
        t[k].numel = numel;
        t[k].lo = lo; t[k].hi = hi;
        k++;
    }
    if (k == 0) {
        free(t);
        return ng_fail(NG_E_INVALID, "%s: no eligible tensor (%s%s); check --tensors against `nnguard info`",
                       w ? ng_weights_path(w) : "model", pattern ? "pattern " : "default: *.weight with 2+ dims",
                       pattern ? pattern : "");
    }
    *out = t; *nout = k;
    return NG_OK;
}

/* Work state of one encryption. */
typedef struct adv_run {
    ng_exec *e;
    const ng_dataset *set;
    int batch, classes;
    size_t np;
    float *grad, *gacc, *dlogits;
} adv_run;

/* Loss and accuracy over the set; the mean-loss gradient into r->gacc when want_grad. */
static ng_status evaluate(adv_run *r, int want_grad, double *loss, double *acc)
{
    const ng_dataset *s = r->set;
    int64_t chw = (int64_t)s->c * s->h * s->w, correct = 0;
    double lsum = 0;
    if (want_grad) memset(r->gacc, 0, r->np * sizeof(float));
    for (int64_t b = 0; b < s->n; b += r->batch) {
        int64_t nb = s->n - b < r->batch ? s->n - b : r->batch;
        const float *logits;
        ng_shape os;
        ng_status st = ng_exec_forward(r->e, s->x + b * chw, nb, &logits, &os);
        if (st != NG_OK) return st;
        if (os.ndim != 2 || os.d[0] != nb || os.d[1] != r->classes)
            return ng_fail(NG_E_SHAPE, "advparams: model output is not %lld x %d logits", (long long)nb, r->classes);
        lsum += (double)ng_loss_xent(logits, s->y + b, nb, r->classes, want_grad ? r->dlogits : NULL) * (double)nb;
        for (int64_t i = 0; i < nb; i++) {
            const float *z = logits + i * r->classes;
            int best = 0;
            for (int c = 1; c < r->classes; c++) if (z[c] > z[best]) best = c;
            correct += best == s->y[b + i];
        }
        if (!want_grad) continue;
        float scale = (float)nb / (float)s->n;      /* batch mean -> set mean */
        for (int64_t i = 0; i < nb * r->classes; i++) r->dlogits[i] *= scale;
        if ((st = ng_exec_backward(r->e, r->dlogits, r->grad, NULL)) != NG_OK) return st;
        for (size_t i = 0; i < r->np; i++) r->gacc[i] += r->grad[i];
    }
    *loss = lsum / (double)s->n;
    *acc = (double)correct / (double)s->n;
    return NG_OK;
}

/* The not-yet-chosen eligible parameter with the largest |gradient| whose move changes it. */
static int pick(const adv_run *r, ng_adv_rule rule, const float *params, const adv_tensor *t, size_t nt,
                const uint8_t *chosen, size_t *ti, size_t *ei)
{
    double best = 0;
    int found = 0;
    for (size_t a = 0; a < nt; a++) {
        const float *g = r->gacc + t[a].off, *v = params + t[a].off;
        for (size_t e = 0; e < t[a].numel; e++) {
            float to = g[e] > 0 ? t[a].hi : t[a].lo;
            double score = fabs((double)g[e]);
            if (rule == NG_ADV_RULE_GAIN) score *= fabs((double)to - (double)v[e]);
            if (!(score > best) || chosen[t[a].off + e]) continue;
            if (f2bits(to) == f2bits(v[e])) continue;
            best = score; *ti = a; *ei = e; found = 1;
        }
    }
    return found;
}

static void report(const ng_adv_options *o, const ng_adv_step *s)
{
    if (o->on_step) o->on_step(o->user, s);
    if (!o->log) return;
    if (s->step == 0)
        fprintf(o->log, "advparams: step  0  loss %.4f  accuracy %.2f%%  (encryption set, before)\n",
                s->loss, 100 * s->accuracy);
    else
        /* the position and values chosen are the key: never in the log (callers get them via on_step) */
        fprintf(o->log, "advparams: step %2d  loss %.4f  accuracy %.2f%%  %.1fs\n",
                s->step, s->loss, 100 * s->accuracy, s->seconds);
    fflush(o->log);
}

static ng_status check_inputs(ng_model *m, const ng_dataset *d, const ng_adv_options *o)
{
    if (o->budget < 1 || o->budget > NG_ADV_MAX_BUDGET)
        return ng_fail(NG_E_INVALID, "advparams: budget %d is outside 1..%d", o->budget, NG_ADV_MAX_BUDGET);
    if (!(o->target_acc >= 0 && o->target_acc <= 1))
        return ng_fail(NG_E_INVALID, "advparams: target accuracy %g is outside [0,1]", o->target_acc);
    if (o->set_size < 1 || o->set_size > UINT32_MAX || o->batch < 1)
        return ng_fail(NG_E_INVALID, "advparams: encryption-set size %lld and batch %d must be positive",
                       (long long)o->set_size, o->batch);
    if (o->harden && (o->spread < 1 || o->spread > 1000))
        return ng_fail(NG_E_INVALID, "advparams: spread %d is outside 1..1000", o->spread);
    if (o->reset_proof && (!o->harden || o->down || o->hide))
        return ng_fail(NG_E_INVALID, "advparams: the reset-proof rule is a hardened-form rule; it does not combine "
                       "with the paper form, --down or --hide");
    if (o->dead < 0 || o->dead > 1000)
        return ng_fail(NG_E_INVALID, "advparams: dead layer at eligible tensor %d is outside 1..1000 (0: none)", o->dead);
    if (o->dead_layers < 0 || o->dead_layers > 16)
        return ng_fail(NG_E_INVALID, "advparams: %d dead layers is outside 1..16", o->dead_layers);
    if (o->hide < 0 || o->hide > 100)
        return ng_fail(NG_E_INVALID, "advparams: %d camouflage rounds is outside 0..100", o->hide);
    if (o->rule != NG_ADV_RULE_GRAD && o->rule != NG_ADV_RULE_GAIN)
        return ng_fail(NG_E_INVALID, "advparams: unknown selection rule %d", (int)o->rule);
    if (o->tensors && strlen(o->tensors) > NG_ADV_PATTERN_MAX)
        return ng_fail(NG_E_INVALID, "advparams: tensor pattern longer than %d bytes", NG_ADV_PATTERN_MAX);
    ng_shape in;
    ng_model_input_shape(m, &in);
    if (d->n < 1 || in.ndim != 4 || in.d[1] != d->c || in.d[2] != d->h || in.d[3] != d->w)
        return ng_fail(NG_E_SHAPE, "advparams: the data (%lld images of %dx%dx%d) does not fit the model's input",
                       (long long)d->n, d->c, d->h, d->w);
    int classes = ng_model_num_classes(m);
    for (int64_t i = 0; i < d->n; i++)
        if (d->y[i] < 0 || d->y[i] >= classes)
            return ng_fail(NG_E_INVALID, "advparams: label %d of image %lld is outside the model's %d classes",
                           d->y[i], (long long)i, classes);
    return NG_OK;
}

/* Silence the units of tensor dt (advparams_dead.c), keep the moves when the encryption set's
 * gradient over dt and its bias is then exactly zero (the units never fire), else undo them. */
static ng_status dead_layer(adv_run *r, ng_model *m, const adv_tensor *dt, const adv_tensor *next, size_t nnext,
                            float *params, uint8_t *chosen, ng_rng *rng,
                            ng_adv_key *k, const ng_adv_options *o, double *loss, double *acc, double t0)
{
    ng_adv_dead_move *mv = NULL;
    size_t n = 0, n0 = k->n;
    ng_status st = ng_adv_dead_plan(m, dt, next, nnext, params, rng, &mv, &n);
    for (size_t i = 0; st == NG_OK && i < n; i++)
        if (chosen[mv[i].at] && !(mv[i].at >= dt->off && mv[i].at < dt->off + dt->numel))
            st = ng_fail(NG_E_INVALID, "advparams: %s is both eligible and the dead layer's bias; leave it out of --tensors",
                         mv[i].name);
    for (size_t i = 0; st == NG_OK && i < n; i++) {
        st = ng_adv_key_push(k, mv[i].name, mv[i].ei, f2bits(params[mv[i].at]), f2bits(mv[i].to));
        if (st == NG_OK) params[mv[i].at] = mv[i].to;
    }
    if (st == NG_OK) st = evaluate(r, 1, loss, acc);
    int dead = st == NG_OK;
    for (size_t e = 0; dead && e < dt->numel; e++) dead = r->gacc[dt->off + e] == 0;
    for (size_t i = 0; dead && i < n; i++) dead = r->gacc[mv[i].at] == 0;   /* the biases too */
    if (st == NG_OK && !dead) {
        for (size_t i = k->n; i-- > n0;) {
            params[mv[i - n0].at] = bits2f(k->pos[i].orig);
            sodium_memzero(k->pos[i].name, strlen(k->pos[i].name));
            free(k->pos[i].name);
        }
        k->n = n0;
        if (o->log) fprintf(o->log, "advparams: the units of %s%s still fire after silencing (inputs below 0, or no ReLU "
                            "right after?)%s\n", dt->name, nnext ? " or of the layers after it" : "",
                            nnext ? ": trying its own units alone" : ": no dead layer");
        st = evaluate(r, 0, loss, acc);
        if (st == NG_OK && nnext) st = dead_layer(r, m, dt, NULL, 0, params, chosen, rng, k, o, loss, acc, t0);
    } else if (st == NG_OK) {
        ng_adv_step s = {(int)k->n, dt->name, n ? mv[n - 1].ei : 0, 0, 0, n ? mv[n - 1].to : 0, *loss, *acc, ng_now() - t0};
        report(o, &s);
    }
    free(mv);
    return st;
}

/* Camouflage rounds (advparams_hide.c), each after a gradient at the locked point. */
static ng_status hide_rounds(adv_run *r, const ng_adv_options *o, const adv_tensor *t, size_t nt, float *params,
                             uint8_t *chosen, ng_rng *rng, ng_adv_move *moves, ng_adv_key *k, double *loss,
                             double *acc, double t0)
{
    ng_status st = NG_OK;
    for (int h = 0; h < o->hide && st == NG_OK; h++) {
        size_t n = k->n, back = 0;
        if ((st = evaluate(r, 1, loss, acc)) != NG_OK) break;
        st = ng_adv_hide_round(r->gacc, params, t, nt, chosen, k, o->spread, o->down, rng, moves, &back);
        if (o->log) fprintf(o->log, "advparams: camouflage round %d: accuracy %.2f%%, %zu of %zu changed ranked hot, "
                            "put back and redrawn\n", h + 1, 100 * *acc, back, n);
        if (back == 0) break;
    }
    if (st == NG_OK) st = evaluate(r, 0, loss, acc);
    if (st == NG_OK && o->log)
        fprintf(o->log, "advparams: after camouflage: %zu changed, loss %.4f, accuracy %.2f%%  %.1fs\n", k->n, *loss,
                100 * *acc, ng_now() - t0);
    return st;
}

ng_status ng_adv_encrypt(ng_model *m, ng_weights *w, const ng_dataset *data, const ng_adv_options *o,
                         ng_adv_key **out)
{
    *out = NULL;
    ng_status st = check_inputs(m, data, o);
    if (st != NG_OK) return st;
    adv_tensor *t = NULL;
    size_t nt = 0;
    if ((st = collect_tensors(m, w, o->tensors, &t, &nt)) != NG_OK) return st;

    double t0 = ng_now();
    ng_dataset sub;
    memset(&sub, 0, sizeof sub);
    const ng_dataset *set = data;
    if (o->set_size < data->n) {
        if ((st = ng_dataset_subset(data, 0, o->set_size, o->seed, &sub)) != NG_OK) { free(t); return st; }
        set = &sub;
    }
    adv_run r;
    memset(&r, 0, sizeof r);
    r.set = set;
    r.batch = o->batch;
    r.classes = ng_model_num_classes(m);
    r.np = ng_model_nparams(m);
    float *params = ng_model_params(m);
    ng_adv_key *k = ng_adv_key_new();
    uint8_t *chosen = ng_calloc(r.np, 1);
    ng_adv_move one[1], *moves = one;
    ng_rng rng;
    r.grad = ng_calloc(r.np, sizeof(float));
    r.gacc = ng_calloc(r.np, sizeof(float));
    r.dlogits = ng_calloc((size_t)r.batch * (size_t)r.classes, sizeof(float));
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = o->threads;
    eo.training = 0;     /* BatchNorm on running stats (never updated), no Dropout: the deployed model */
    if (!k || !chosen || !r.grad || !r.gacc || !r.dlogits) st = NG_E_NOMEM;
    if (st == NG_OK) st = ng_exec_new(m, &eo, &r.e);
    if (st == NG_OK && o->tensors) {
        free(k->pattern);
        if (!(k->pattern = ng_strdup(o->tensors))) st = NG_E_NOMEM;
    }
    if (k && w) ng_weights_id(w, k->id_before);
    else if (k) ng_model_id(m, k->id_before);

    double loss = 0, acc = 0;
    if (st == NG_OK) st = evaluate(&r, 1, &loss, &acc);
    if (st == NG_OK) {
        k->acc_before = acc;
        ng_adv_step s = {0, NULL, 0, 0, 0, 0, loss, acc, ng_now() - t0};
        report(o, &s);
    }
    /* dead layer: the o->dead-th eligible tensor (model order; 1 = the first) is kept out of the rounds */
    size_t dead_ti = o->harden && o->dead > 0 ? (size_t)o->dead - 1 : (size_t)-1;
    int dead_n = o->dead_layers > 1 ? o->dead_layers : 1;
    if (st == NG_OK && dead_ti != (size_t)-1) {
        if (dead_ti + 1 >= nt)
            st = ng_fail(NG_E_INVALID, "advparams: a dead layer at eligible tensor %d needs at least one eligible tensor "
                         "after it (%zu eligible); lower --dead-at", o->dead, nt);
        else if (dead_ti + (size_t)dead_n >= nt)
            st = ng_fail(NG_E_INVALID, "advparams: %d dead layers from eligible tensor %d need an eligible tensor after "
                         "them (%zu eligible); lower --dead-layers", dead_n, o->dead, nt);
        for (size_t j = 0; j < (size_t)dead_n; j++)
            for (size_t e = 0; st == NG_OK && e < t[dead_ti + j].numel; e++) chosen[t[dead_ti + j].off + e] = 1;
    }
    if (st == NG_OK && o->harden) {
        st = ng_adv_harden_prepare(t, nt, params);
        moves = ng_calloc((size_t)o->budget, sizeof *moves);
        if (st == NG_OK && !moves) st = NG_E_NOMEM;
        ng_rng_seed(&rng, o->seed ^ 0x68617264656e6564ull);
    }
    /* Paper form: one parameter per step until the target is met. Hardened form: the whole
     * budget is spent (it is what leaves fine-tuning no head start), in rounds that grow by a
     * quarter of what is already changed, one gradient per round. */
    while (st == NG_OK && (int)k->n < o->budget && (o->harden || !(acc < o->target_acc))) {
        size_t nm = 0;
        if (o->harden) {
            size_t want = (k->n + 3) / 4, left = (size_t)o->budget - k->n;
            if (want < 1) want = 1;
            if (want > left) want = left;
            nm = o->reset_proof ? ng_adv_resetproof_pick(r.gacc, params, t, nt, chosen, want, o->spread, &rng, moves)
                                : ng_adv_harden_pick(r.gacc, params, t, nt, chosen, want, o->spread, o->down, &rng, moves);
        } else {
            size_t ti = 0, ei = 0;
            if (pick(&r, o->rule, params, t, nt, chosen, &ti, &ei)) {
                size_t at = t[ti].off + ei;
                moves[0] = (ng_adv_move){ti, ei, r.gacc[at] > 0 ? t[ti].hi : t[ti].lo};
                nm = 1;
            }
        }
        if (nm == 0) break;   /* nothing left that moves */
        float g = 0, old = 0;
        for (size_t i = 0; i < nm && st == NG_OK; i++) {
            size_t at = t[moves[i].ti].off + moves[i].ei;
            g = r.gacc[at]; old = params[at];
            st = ng_adv_key_push(k, t[moves[i].ti].name, moves[i].ei, f2bits(old), f2bits(moves[i].to));
            if (st == NG_OK) { params[at] = moves[i].to; chosen[at] = 1; }
        }
        if (st != NG_OK) break;
        if ((st = evaluate(&r, (int)k->n < o->budget, &loss, &acc)) != NG_OK) break;
        const ng_adv_move *lm = &moves[nm - 1];
        ng_adv_step s = {(int)k->n, t[lm->ti].name, lm->ei, g, old, lm->to, loss, acc, ng_now() - t0};
        report(o, &s);
    }
    if (st == NG_OK && o->harden && o->hide > 0 && k->n > 0)
        st = hide_rounds(&r, o, t, nt, params, chosen, &rng, moves, k, &loss, &acc, t0);
    for (size_t j = 0; st == NG_OK && dead_ti != (size_t)-1 && j < (size_t)dead_n; j++)   /* model order */
        st = dead_layer(&r, m, &t[dead_ti + j], &t[dead_ti + j + 1], nt - dead_ti - j - 2, params, chosen, &rng, k, o,
                        &loss, &acc, t0);
    if (st == NG_OK && k->n == 0)
        st = ng_fail(NG_E_STATE, "advparams: accuracy on the encryption set is already %.2f%%, below the target "
                     "%.2f%%: nothing to encrypt", 100 * acc, 100 * o->target_acc);
    if (st == NG_OK) {
        /* The file gets the same bits (little-endian); its new id names the encrypted model. */
        for (size_t i = 0; w && i < k->n; i++) {
            ng_param *fp = ng_weights_param(w, (size_t)ng_weights_find(w, k->pos[i].name));
            ng_put_le32(fp->data + 4 * k->pos[i].index, k->pos[i].pert);
        }
        if (w) ng_weights_id(w, k->id_after);
        else ng_model_id(m, k->id_after);
        k->seed = o->seed;
        k->budget = (uint32_t)o->budget;
        k->set_size = (uint32_t)set->n;
        k->rule = (uint32_t)o->rule;
        k->form = o->harden ? 1u : 0u;
        k->target_acc = o->target_acc;
        k->acc_after = acc;
    } else if (k) {
        for (size_t i = k->n; i-- > 0;) {   /* put the model back as it was */
            long j = -1;
            for (size_t a = 0; a < nt && j < 0; a++)
                if (!strcmp(t[a].name, k->pos[i].name)) j = (long)a;
            if (j >= 0) params[t[j].off + k->pos[i].index] = bits2f(k->pos[i].orig);
        }
    }
    ng_exec_free(r.e);
    for (size_t a = 0; a < nt; a++) free(t[a].sorted);
    if (moves != one) free(moves);
    free(chosen); free(r.grad); free(r.gacc); free(r.dlogits); free(t);
    if (set == &sub) ng_dataset_free(&sub);
    if (st != NG_OK) { ng_adv_key_free(k); return st; }
    *out = k;
    return NG_OK;
}

/* ---- decryption ---- */

static const ng_param *find_f32(const ng_weights *w, const char *name, uint64_t index, long *j)
{
    *j = ng_weights_find(w, name);
    if (*j < 0) return NULL;
    const ng_param *p = ng_weights_param_c(w, (size_t)*j);
    if (p->dtype != NG_DT_F32 || index >= p->nbytes / 4) return NULL;
    return p;
}

ng_status ng_adv_decrypt(ng_weights *w, const ng_adv_key *k)
{
    uint8_t id[32];
    char hk[65], hw[65];
    ng_weights_id(w, id);
    if (sodium_memcmp(id, k->id_after, 32) != 0) {
        ng_id_hex(k->id_after, hk); ng_id_hex(id, hw);
        return ng_fail(NG_E_KEY, "%s: this key belongs to another model (id %s); this file's id is %s",
                       ng_weights_path(w), hk, hw);
    }
    for (size_t i = 0; i < k->n; i++) {      /* check everything before changing anything */
        long j;
        const ng_param *p = find_f32(w, k->pos[i].name, k->pos[i].index, &j);
        if (!p || ng_le32(p->data + 4 * k->pos[i].index) != k->pos[i].pert)
            return ng_fail(NG_E_KEY, "%s: position %zu of the key (%s) does not hold the encrypted value",
                           ng_weights_path(w), i, k->pos[i].name);
    }
    for (size_t i = 0; i < k->n; i++) {
        ng_param *p = ng_weights_param(w, (size_t)ng_weights_find(w, k->pos[i].name));
        ng_put_le32(p->data + 4 * k->pos[i].index, k->pos[i].orig);
    }
    static const uint8_t zero[32];
    if (sodium_memcmp(k->id_before, zero, 32) != 0) {
        ng_weights_id(w, id);
        if (sodium_memcmp(id, k->id_before, 32) != 0) {
            for (size_t i = k->n; i-- > 0;) {
                ng_param *p = ng_weights_param(w, (size_t)ng_weights_find(w, k->pos[i].name));
                ng_put_le32(p->data + 4 * k->pos[i].index, k->pos[i].pert);
            }
            ng_id_hex(k->id_before, hk);
            return ng_fail(NG_E_KEY, "%s: decrypting does not give the original model id %s recorded in the key; "
                           "the key is damaged or forged", ng_weights_path(w), hk);
        }
    }
    return NG_OK;
}

/* Model parameter float at (name, index), or NULL. */
static float *model_slot(ng_model *m, const char *name, uint64_t index)
{
    size_t nt = ng_model_ntensors(m);
    for (size_t i = 0; i < nt; i++) {
        ng_param p;
        ng_model_tensor(m, i, &p);
        if (strcmp(p.name, name) != 0) continue;
        if (index >= p.nbytes / 4) return NULL;
        return ng_model_params(m) + ng_model_tensor_offset(m, i) + index;
    }
    return NULL;
}

/* Move every position from bits `from` to bits `to` (0: decrypt, 1: apply); checks first. */
static ng_status model_swap(ng_model *m, const ng_adv_key *k, int apply)
{
    for (size_t i = 0; i < k->n; i++) {
        float *s = model_slot(m, k->pos[i].name, k->pos[i].index);
        uint32_t want = apply ? k->pos[i].orig : k->pos[i].pert;
        if (!s || f2bits(*s) != want)
            return ng_fail(NG_E_KEY, "advparams: position %zu of the key (%s) does not hold the %s value; "
                           "this key belongs to another model", i, k->pos[i].name, apply ? "original" : "encrypted");
    }
    for (size_t i = 0; i < k->n; i++)
        *model_slot(m, k->pos[i].name, k->pos[i].index) = bits2f(apply ? k->pos[i].pert : k->pos[i].orig);
    return NG_OK;
}

ng_status ng_adv_decrypt_model(ng_model *m, const ng_adv_key *k) { return model_swap(m, k, 0); }
ng_status ng_adv_apply_model(ng_model *m, const ng_adv_key *k) { return model_swap(m, k, 1); }
