/* attacks/finetune.c - fine-tuning attack against a protected model, with the train-from-scratch
 * baseline on the same data and epochs, and the sanity run (see nnguard/attack.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/attack.h"
#include "core/core.h"

ng_finetune_options ng_finetune_options_default(void)
{
    ng_finetune_options o;
    memset(&o, 0, sizeof o);
    o.fraction = 0.05;
    o.epochs = 5;
    o.batch = 64;
    o.optim = ng_optim_options_default(NG_OPTIM_ADAM);
    o.optim.lr = 1e-3f;
    o.seed = 1;
    o.scratch = 1;
    o.sanitize_abs = 1e4f;
    o.ood_factor = 8.0f;
    return o;
}

int64_t ng_reinit_ood(ng_model *m, float abs_limit, float factor, uint64_t seed)
{
    ng_rng r;
    ng_rng_seed(&r, seed);
    int64_t k = 0;
    for (size_t t = 0; t < ng_model_ntensors(m); t++) {
        ng_param p;
        ng_model_tensor(m, t, &p);
        float *w = (float *)p.data;
        int64_t n = ng_shape_numel(&p.shape);
        ng_init_rule rule = ng_model_init_rule(m, t);
        float ref = rule.kind == NG_INIT_UNIFORM ? rule.scale : rule.kind == NG_INIT_CONST ? fmaxf(1.0f, fabsf(rule.scale)) : 0;
        float limit = abs_limit;
        if (factor > 0 && ref > 0 && factor * ref < limit) limit = factor * ref;
        for (int64_t i = 0; i < n; i++) {
            /* classify by bits first: locked values may be NaN/Inf; compare only finite ones */
            int ood = !isfinite(w[i]) || fabsf(w[i]) > limit || (rule.variance && !(w[i] > 0.0f));
            if (ood) { w[i] = ng_model_init_draw(&rule, &r); k++; }
        }
    }
    return k;
}

/* Mean cross-entropy of m over d (the training loss before any step). */
static ng_status mean_loss(ng_model *m, const ng_dataset *d, int threads, double *loss)
{
    const int64_t bs = 256;
    int c = ng_model_num_classes(m);
    float *logits = ng_calloc((size_t)bs, (size_t)c * sizeof *logits);
    if (!logits) return NG_E_NOMEM;
    size_t in = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    double sum = 0;
    ng_status st = NG_OK;
    for (int64_t i = 0; i < d->n && st == NG_OK; i += bs) {
        int64_t n = d->n - i < bs ? d->n - i : bs;
        st = ng_model_predict(m, d->x + (size_t)i * in, n, (int)bs, threads, logits);
        if (st == NG_OK) sum += (double)ng_loss_xent(logits, d->y + i, n, c, NULL) * (double)n;
    }
    free(logits);
    *loss = d->n ? sum / (double)d->n : 0;
    return st;
}

static ng_status train_epochs(ng_model *m, const ng_dataset *tr, const ng_dataset *te,
                              const ng_finetune_options *o, uint64_t seed, double *acc, double *loss)
{
    ng_train_options to = ng_train_options_default();
    ng_train_result *res = ng_calloc(1, sizeof *res);
    if (!res) return NG_E_NOMEM;
    to.epochs = o->epochs;
    to.batch = o->batch;
    to.optim = o->optim;
    to.seed = seed;
    to.threads = o->threads;
    to.eval_each_epoch = 1;
    to.quiet = 1;
    ng_status st = ng_train(m, tr, te, &to, res);
    if (st == NG_OK)
        for (int e = 0; e < o->epochs; e++) { acc[e] = res->epoch_acc[e]; loss[e] = res->epoch_loss[e]; }
    free(res);
    return st;
}

/* The attacker's preparation (re-initialise what is out of distribution), its starting loss and
 * accuracy, then the fine-tuning. */
static ng_status attack_run(ng_model *a, const ng_dataset *sub, const ng_dataset *test, const ng_finetune_options *o,
                            int64_t *n_reset, double *acc_before, double *loss_before, double *acc, double *loss)
{
    *n_reset = o->sanitize_abs > 0 ? ng_reinit_ood(a, o->sanitize_abs, o->ood_factor, o->seed + 5) : 0;
    ng_status st = ng_evaluate(a, test, 0, 256, o->threads, acc_before, NULL, NULL);
    if (st == NG_OK) st = mean_loss(a, sub, o->threads, loss_before);
    if (st == NG_OK) st = train_epochs(a, sub, test, o, o->seed + 17, acc, loss);
    return st;
}

ng_status ng_attack_finetune(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_finetune_options *o, ng_finetune_result *r)
{
    return ng_attack_finetune_keep(m, train, test, o, r, NULL);
}

ng_status ng_attack_finetune_keep(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                                  const ng_finetune_options *o, ng_finetune_result *r, ng_model **tuned)
{
    if (tuned) *tuned = NULL;
    if (o->epochs < 1 || o->epochs > NG_ATTACK_MAX_EPOCHS)
        return ng_fail(NG_E_INVALID, "fine-tuning attack: epochs must be 1..%d", NG_ATTACK_MAX_EPOCHS);
    memset(r, 0, sizeof *r);
    r->epochs = o->epochs;
    ng_dataset sub = {0};
    ng_status st = ng_dataset_subset(train, o->count > 0 ? 1.0 : o->fraction, o->count, o->seed, &sub);
    if (st != NG_OK) return st;
    r->n_train = sub.n;
    ng_model *a = NULL, *s = NULL, *c = NULL;
    if ((st = ng_model_clone(m, &a)) != NG_OK) goto out;
    if ((st = attack_run(a, &sub, test, o, &r->n_sanitized, &r->acc_before, &r->loss_before, r->acc_attacked,
                         r->loss_attacked)) != NG_OK) goto out;
    if (o->log) fprintf(o->log, "fine-tune attack: %lld examples, %d epochs, %lld parameters re-initialised, accuracy "
                        "before %.2f%%, loss %.3f -> %.3f\n", (long long)sub.n, o->epochs, (long long)r->n_sanitized,
                        100 * r->acc_before, r->loss_before, r->loss_attacked[o->epochs - 1]);
    if (o->scratch) {
        if ((st = ng_model_clone(m, &s)) != NG_OK) goto out;
        ng_model_reinit(s, o->seed + 99);
        double lb;
        if ((st = mean_loss(s, &sub, o->threads, &lb)) != NG_OK) goto out;
        if ((st = train_epochs(s, &sub, test, o, o->seed + 17, r->acc_scratch, r->loss_scratch)) != NG_OK) goto out;
    }
    if (o->sanity) {   /* the same attack on a model that is all fresh weights: must match scratch */
        if ((st = ng_model_clone(m, &c)) != NG_OK) goto out;
        ng_model_reinit(c, o->seed + 77);
        int64_t nr;
        double ab, lb;
        if ((st = attack_run(c, &sub, test, o, &nr, &ab, &lb, r->acc_sanity, r->loss_sanity)) != NG_OK) goto out;
    }
    if (o->log)
        for (int e = 0; e < o->epochs; e++)
            fprintf(o->log, "  epoch %d: attacked %.2f%% (loss %.3f)  scratch %.2f%%  sanity %.2f%%\n", e + 1,
                    100 * r->acc_attacked[e], r->loss_attacked[e], o->scratch ? 100 * r->acc_scratch[e] : -1.0,
                    o->sanity ? 100 * r->acc_sanity[e] : -1.0);
out:
    if (tuned && st == NG_OK) { *tuned = a; a = NULL; }
    ng_model_free(a);
    ng_model_free(s);
    ng_model_free(c);
    ng_dataset_free(&sub);
    return st;
}
