/* attacks/adaptive.c - the adaptive attacker against AdvParams (SCHEMES.md section 2):
 * it knows perturbed parameters sit at their tensor's extremes and carry outlying loss
 * gradients, resets such parameters to the tensor's mean, then fine-tunes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "attacks/adaptive_impl.h"
#include "core/core.h"

ng_status ng_attack_mean_gradient(ng_model *m, const ng_dataset *d, int threads, float *g)
{
    size_t np = ng_model_nparams(m);
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = threads;
    ng_exec *e;
    ng_status st = ng_exec_new(m, &eo, &e);
    if (st != NG_OK) return st;
    const int64_t B = 256, per = (int64_t)d->c * d->h * d->w;
    int64_t classes = ng_model_num_classes(m);
    float *gb = ng_alloc_aligned(np * sizeof(float));
    float *dl = ng_alloc_aligned((size_t)(B * classes) * sizeof(float));
    if (!gb || !dl) { st = NG_E_NOMEM; goto out; }
    memset(g, 0, np * sizeof(float));
    for (int64_t i = 0; i < d->n && st == NG_OK; i += B) {
        int64_t n = d->n - i < B ? d->n - i : B;
        const float *out;
        ng_shape os;
        if ((st = ng_exec_forward(e, d->x + i * per, n, &out, &os)) != NG_OK) break;
        ng_loss_xent(out, d->y + i, n, classes, dl);
        if ((st = ng_exec_backward(e, dl, gb, NULL)) != NG_OK) break;
        float wgt = (float)n / (float)d->n;   /* xent is a batch mean: weight batches by size */
        for (size_t j = 0; j < np; j++) g[j] += wgt * gb[j];
    }
out:
    ng_free_aligned(gb);
    ng_free_aligned(dl);
    ng_exec_free(e);
    return st;
}

static int is_truth(const ng_position *t, size_t n, const char *name, uint64_t idx)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].index == idx && strcmp(t[i].tensor, name) == 0) return 1;
    return 0;
}

/* Set every flagged parameter to the mean of its tensor's unflagged ones; count them and the
 * truly perturbed among them. */
static void reset_flagged(ng_model *a, const uint8_t *flag, const ng_position *truth, size_t n_truth,
                          int64_t *flagged, int64_t *found)
{
    *flagged = *found = 0;
    float *params = ng_model_params(a);
    for (size_t t = 0; t < ng_model_ntensors(a); t++) {
        ng_param p;
        ng_model_tensor(a, t, &p);
        size_t off = ng_model_tensor_offset(a, t);
        int64_t n = ng_shape_numel(&p.shape), kept = 0;
        float *w = params + off;
        double sum = 0;
        for (int64_t i = 0; i < n; i++) if (!flag[off + i]) { sum += w[i]; kept++; }
        float mean = kept ? (float)(sum / (double)kept) : 0.0f;
        for (int64_t i = 0; i < n; i++) {
            if (!flag[off + i]) continue;
            (*flagged)++;
            if (truth && is_truth(truth, n_truth, p.name, (uint64_t)i)) (*found)++;
            w[i] = mean;
        }
    }
}

/* Accuracy of the reset model, then after o->epochs of fine-tuning (-1 when none). */
static ng_status reset_eval_tune(ng_model *a, const ng_dataset *train, const ng_dataset *test,
                                 const ng_finetune_options *o, double *acc_reset, double *acc_tuned)
{
    *acc_tuned = -1;
    ng_status st = ng_evaluate(a, test, 0, 256, o->threads, acc_reset, NULL, NULL);
    if (st != NG_OK || o->epochs <= 0) return st;
    ng_finetune_options fo = *o;
    ng_finetune_result *fr = ng_calloc(1, sizeof *fr);
    fo.scratch = 0;
    fo.sanitize_abs = 0;
    if (!fr) return NG_E_NOMEM;
    st = ng_attack_finetune(a, train, test, &fo, fr);
    if (st == NG_OK) *acc_tuned = fr->acc_attacked[fo.epochs - 1];
    free(fr);
    return st;
}

static ng_status adaptive(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                          const ng_finetune_options *o, double z, const ng_position *truth, size_t n_truth,
                          ng_adaptive_result *r, int depth);

/* The dead-layer attacker (see ng_adaptive_result): g is the loss gradient on its data sub. */
static ng_status dead_layer(const ng_model *m, const float *g, const ng_dataset *sub, const ng_dataset *train,
                            const ng_dataset *test, const ng_finetune_options *o, double z, const ng_position *truth,
                            size_t n_truth, ng_adaptive_result *r, int depth)
{
    ng_model *a = NULL;
    ng_position *rest = NULL;
    ng_status st = ng_attack_dead_revive_g(m, g, sub, o, &a, r->dead_tensor, sizeof r->dead_tensor, &r->dead_reinit);
    if (st != NG_OK || !a) return st;
    ng_finetune_result *fr = ng_calloc(1, sizeof *fr);
    if (!fr) { ng_model_free(a); return NG_E_NOMEM; }
    if (o->epochs > 0) {
        ng_finetune_options fo = *o;
        fo.scratch = 0;
        fo.sanitize_abs = 0;
        if ((st = ng_attack_finetune(a, train, test, &fo, fr)) == NG_OK) r->acc_dead_tuned = fr->acc_attacked[fo.epochs - 1];
    }
    if (st == NG_OK && depth == 0 && truth && n_truth) {   /* then the whole attack on the revived model */
        size_t nr = 0;
        if (!(rest = ng_calloc(n_truth, sizeof *rest))) st = NG_E_NOMEM;
        else nr = ng_attack_dead_rest(r->dead_tensor, truth, n_truth, rest);
        ng_adaptive_result *r2 = ng_calloc(1, sizeof *r2);
        if (st == NG_OK && !r2) st = NG_E_NOMEM;
        if (st == NG_OK && nr && (st = adaptive(a, train, test, o, z, rest, nr, r2, depth + 1)) == NG_OK) {
            r->dead_then_perturbed = (int64_t)nr;
            r->dead_then_topk = r2->topk;
            memcpy(r->dead_then_det, r2->det_found, sizeof r->dead_then_det);
            r->dead_then_best = r2->best;
            r->acc_dead_then_best_tuned = r2->acc_best_tuned;
            r->acc_dead_then_best1_tuned = r2->acc_best1_tuned;
        }
        free(r2);
    }
    free(rest);
    free(fr);
    ng_model_free(a);
    return st;
}

ng_status ng_attack_adaptive(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_finetune_options *o, double z, const ng_position *truth,
                             size_t n_truth, ng_adaptive_result *r)
{
    return adaptive(m, train, test, o, z, truth, n_truth, r, 0);
}

static ng_status adaptive(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                          const ng_finetune_options *o, double z, const ng_position *truth, size_t n_truth,
                          ng_adaptive_result *r, int depth)
{
    memset(r, 0, sizeof *r);
    r->perturbed = (int64_t)n_truth;
    r->acc_tuned = r->acc_best_reset = r->acc_best_tuned = r->acc_best1_reset = r->acc_best1_tuned = -1;
    r->best = -1;
    r->acc_dead_tuned = r->acc_dead_then_best_tuned = r->acc_dead_then_best1_tuned = -1;
    r->dead_then_best = -1;
    ng_dataset sub = {0};
    ng_model *a = NULL;
    float *g = NULL;
    uint8_t *flag = NULL;
    ng_status st = ng_dataset_subset(train, o->count > 0 ? 1.0 : o->fraction, o->count, o->seed, &sub);
    if (st != NG_OK) return st;
    if ((st = ng_model_clone(m, &a)) != NG_OK) goto out;
    if ((st = ng_evaluate(a, test, 0, 256, o->threads, &r->acc_before, NULL, NULL)) != NG_OK) goto out;
    size_t np = ng_model_nparams(a);
    g = ng_alloc_aligned(np * sizeof(float));
    flag = ng_calloc(np, 1);
    if (!g || !flag) { st = NG_E_NOMEM; goto out; }
    if ((st = ng_attack_mean_gradient(a, &sub, o->threads, g)) != NG_OK) goto out;

    if (truth && n_truth) {
        r->topk = 10 * (int64_t)n_truth;
        if ((st = ng_attack_detect(a, g, truth, n_truth, r->topk, r->det_found, &r->candidates)) != NG_OK) goto out;
    }
    size_t nt = ng_model_ntensors(a);
    float *params = ng_model_params(a);
    for (size_t t = 0; t < nt; t++) {
        ng_param p;
        ng_model_tensor(a, t, &p);
        if (p.shape.ndim < 2 || !ng_model_tensor_trainable(a, t)) continue;
        size_t off = ng_model_tensor_offset(a, t);
        int64_t n = ng_shape_numel(&p.shape);
        float *w = params + off, mn = w[0], mx = w[0];
        double gm = 0, gs = 0;
        for (int64_t i = 0; i < n; i++) {
            if (w[i] < mn) mn = w[i];
            if (w[i] > mx) mx = w[i];
            gm += g[off + i];
        }
        gm /= (double)n;
        for (int64_t i = 0; i < n; i++) gs += (g[off + i] - gm) * (g[off + i] - gm);
        gs = sqrt(gs / (double)n);
        for (int64_t i = 0; i < n; i++)
            flag[off + i] = (uint8_t)(w[i] == mn || w[i] == mx || (gs > 0 && fabs(g[off + i] - gm) > z * gs));
    }
    reset_flagged(a, flag, truth, n_truth, &r->flagged, &r->found);
    if ((st = reset_eval_tune(a, train, test, o, &r->acc_reset, &r->acc_tuned)) != NG_OK) goto out;
    if (r->topk > 0) {   /* the best detector's top k (chosen with the key: an upper bound for the attacker) */
        /* ties (every detector finds all once 10 x budget covers the model) broken by the top 1 x
         * count, not by the table's order: the attacker's best, not its first */
        int64_t det1[NG_DETECTORS], c1;
        if ((st = ng_attack_detect(m, g, truth, n_truth, (int64_t)n_truth, det1, &c1)) != NG_OK) goto out;
        int best = 0;
        for (int d = 1; d < NG_DETECTORS; d++)
            if (r->det_found[d] > r->det_found[best] || (r->det_found[d] == r->det_found[best] && det1[d] > det1[best]))
                best = d;
        r->best = best;
        for (int pass = 0; pass < 2; pass++) {   /* its top k, then its top 1 x truth */
            ng_model_free(a);
            a = NULL;
            memset(flag, 0, np);
            int64_t f2[NG_DETECTORS], c2, fl, fo, kk = pass ? (int64_t)n_truth : r->topk;
            if ((st = ng_model_clone(m, &a)) != NG_OK) goto out;
            if ((st = ng_attack_detect_mask(a, g, truth, n_truth, kk, f2, &c2, best, flag)) != NG_OK) goto out;
            reset_flagged(a, flag, truth, n_truth, &fl, &fo);
            if (pass) r->best1_found = fo;
            if ((st = reset_eval_tune(a, train, test, o, pass ? &r->acc_best1_reset : &r->acc_best_reset,
                                      pass ? &r->acc_best1_tuned : &r->acc_best_tuned)) != NG_OK) goto out;
        }
    }
    if (depth == 0 && (st = dead_layer(m, g, &sub, train, test, o, z, truth, n_truth, r, depth)) != NG_OK) goto out;
    if (o->log)
        fprintf(o->log, "adaptive attack: %lld parameters reset (%lld of %lld perturbed found); accuracy %.2f%% -> %.2f%% reset%s\n",
                (long long)r->flagged, (long long)r->found, (long long)r->perturbed, 100 * r->acc_before,
                100 * r->acc_reset, o->epochs > 0 ? ", then fine-tuned" : "");
out:
    ng_free_aligned(g);
    free(flag);
    ng_model_free(a);
    ng_dataset_free(&sub);
    return st;
}

ng_status ng_attack_adaptive_each(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                                  const ng_finetune_options *o, const ng_position *truth, size_t n_truth,
                                  int64_t found1[NG_DETECTORS], double acc_tuned[NG_DETECTORS])
{
    if (!truth || n_truth == 0) return ng_fail(NG_E_INVALID, "adaptive attack: no perturbed positions to score");
    ng_dataset sub = {0};
    ng_status st = ng_dataset_subset(train, o->count > 0 ? 1.0 : o->fraction, o->count, o->seed, &sub);
    if (st != NG_OK) return st;
    size_t np = ng_model_nparams(m);
    float *g = ng_alloc_aligned(np * sizeof(float));
    uint8_t *flag = ng_calloc(np, 1);
    ng_model *a = NULL;
    if (!g || !flag) st = NG_E_NOMEM;
    if (st == NG_OK && (st = ng_model_clone(m, &a)) == NG_OK) st = ng_attack_mean_gradient(a, &sub, o->threads, g);
    for (int d = 0; d < NG_DETECTORS && st == NG_OK; d++) {
        int64_t f[NG_DETECTORS], c, fl;
        double acc_reset;
        ng_model_free(a);
        a = NULL;
        memset(flag, 0, np);
        if ((st = ng_model_clone(m, &a)) != NG_OK) break;
        if ((st = ng_attack_detect_mask(a, g, truth, n_truth, (int64_t)n_truth, f, &c, d, flag)) != NG_OK) break;
        reset_flagged(a, flag, truth, n_truth, &fl, &found1[d]);
        st = reset_eval_tune(a, train, test, o, &acc_reset, &acc_tuned[d]);
        if (o->epochs <= 0) acc_tuned[d] = acc_reset;
    }
    ng_model_free(a);
    ng_free_aligned(g);
    free(flag);
    ng_dataset_free(&sub);
    return st;
}
