/* attacks/finetune.c - fine-tuning attack against a protected model, with the
 * train-from-scratch baseline on the same data and epochs (see nnguard/attack.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/attack.h"
#include "engine/graph.h"
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
    return o;
}

int64_t ng_sanitize_params(ng_model *m, float limit)
{
    float *p = ng_model_params(m);
    size_t n = ng_model_nparams(m);
    int64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        /* classify by bits: locked values may be NaN/Inf; never compute on them before the test */
        if (!isfinite(p[i]) || fabsf(p[i]) > limit) { p[i] = 0.0f; k++; }
    }
    return k;
}

/* Fan-in of a weight as its consuming op sees it. */
static int64_t weight_fan_in(const ng_node *n, const ng_shape *w)
{
    int64_t f = 1;
    switch (n->op) {
    case NG_OP_CONV:
        for (int d = 1; d < w->ndim; d++) f *= w->d[d];
        return f;
    case NG_OP_GEMM:
        return w->ndim == 2 ? (n->a.trans_b ? w->d[1] : w->d[0]) : 1;
    case NG_OP_MATMUL:
        return w->ndim >= 2 ? w->d[w->ndim - 2] : 1;
    default:
        return 0;
    }
}

void ng_model_reinit(ng_model *m, uint64_t seed)
{
    ng_rng r;
    ng_rng_seed(&r, seed);
    /* The role of each parameter comes from the node that consumes it. */
    for (int i = 0; i < m->n_nodes; i++) {
        const ng_node *n = &m->nodes[i];
        if (n->op == NG_OP_BATCHNORM) {
            static const float init[5] = {0, 1, 0, 0, 1}; /* X, scale, B, mean, var */
            for (int k = 1; k < n->n_in && k < 5; k++) {
                int v = n->in[k];
                if (v < 0 || m->vals[v].kind != NG_V_PARAM) continue;
                float *w = m->params + m->vals[v].off;
                int64_t cnt = ng_shape_numel(&m->vals[v].shape);
                for (int64_t j = 0; j < cnt; j++) w[j] = init[k];
            }
            continue;
        }
        if (n->n_in < 2 || n->in[1] < 0 || m->vals[n->in[1]].kind != NG_V_PARAM) continue;
        int64_t fan_in = weight_fan_in(n, &m->vals[n->in[1]].shape);
        if (fan_in <= 0) continue;
        float bound = 1.0f / sqrtf((float)fan_in);
        for (int k = 1; k < n->n_in && k < 3; k++) {   /* weight, then bias (Conv B / Gemm C) */
            int v = n->in[k];
            if (v < 0 || m->vals[v].kind != NG_V_PARAM) continue;
            float *w = m->params + m->vals[v].off;
            int64_t cnt = ng_shape_numel(&m->vals[v].shape);
            for (int64_t j = 0; j < cnt; j++) w[j] = (2.0f * ng_rng_uniform(&r) - 1.0f) * bound;
        }
    }
}

static ng_status train_epochs(ng_model *m, const ng_dataset *tr, const ng_dataset *te,
                              const ng_finetune_options *o, uint64_t seed, double *acc)
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
        for (int e = 0; e < o->epochs; e++) acc[e] = res->epoch_acc[e];
    free(res);
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
    ng_model *a = NULL, *s = NULL;
    if ((st = ng_model_clone(m, &a)) != NG_OK) goto out;
    if (o->sanitize_abs > 0) r->n_sanitized = ng_sanitize_params(a, o->sanitize_abs);
    if ((st = ng_evaluate(a, test, 0, 256, o->threads, &r->acc_before, NULL, NULL)) != NG_OK) goto out;
    if (o->log) fprintf(o->log, "fine-tune attack: %lld examples, %d epochs, %lld parameters reset, accuracy before %.2f%%\n",
                        (long long)sub.n, o->epochs, (long long)r->n_sanitized, 100 * r->acc_before);
    if ((st = train_epochs(a, &sub, test, o, o->seed + 17, r->acc_attacked)) != NG_OK) goto out;
    if (o->scratch) {
        if ((st = ng_model_clone(m, &s)) != NG_OK) goto out;
        ng_model_reinit(s, o->seed + 99);
        if ((st = train_epochs(s, &sub, test, o, o->seed + 17, r->acc_scratch)) != NG_OK) goto out;
    }
    if (o->log)
        for (int e = 0; e < o->epochs; e++)
            fprintf(o->log, "  epoch %d: attacked %.2f%%  scratch %.2f%%\n", e + 1,
                    100 * r->acc_attacked[e], o->scratch ? 100 * r->acc_scratch[e] : -1.0);
out:
    if (tuned && st == NG_OK) { *tuned = a; a = NULL; }
    ng_model_free(a);
    ng_model_free(s);
    ng_dataset_free(&sub);
    return st;
}
