/* attacks/reset_split.c - why the top-1x reset attacker wins (a diagnostic that uses the key):
 * detector d's top n_truth candidates split into the truly perturbed and the owner's untouched
 * parameters, each part reset to its tensor's mean on its own, then the same fine-tuning. */
#include <stdlib.h>
#include <string.h>
#include "attacks/adaptive_impl.h"
#include "core/core.h"

/* Reset the flagged parameters whose truth mark equals `which` (0: untouched, 1: perturbed, 2:
 * both) to the mean of their tensor's unflagged values, as the attacker's reset does. */
static void reset_part(ng_model *a, const uint8_t *flag, const uint8_t *truth, int which)
{
    float *params = ng_model_params(a);
    for (size_t t = 0; t < ng_model_ntensors(a); t++) {
        ng_param p;
        ng_model_tensor(a, t, &p);
        size_t off = ng_model_tensor_offset(a, t), n = (size_t)ng_shape_numel(&p.shape), kept = 0;
        double sum = 0;
        for (size_t i = 0; i < n; i++) if (!flag[off + i]) { sum += params[off + i]; kept++; }
        float mean = kept ? (float)(sum / (double)kept) : 0.0f;
        for (size_t i = 0; i < n; i++)
            if (flag[off + i] && (which == 2 || truth[off + i] == which)) params[off + i] = mean;
    }
}

ng_status ng_attack_reset_split(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                                const ng_finetune_options *o, const ng_position *truth, size_t n_truth, int det,
                                double loss_before[4], double acc_tuned[4])
{
    if (!truth || n_truth == 0 || det < 0 || det >= NG_DETECTORS || o->epochs <= 0)
        return ng_fail(NG_E_INVALID, "reset split: needs the key's positions, a detector and fine-tuning epochs");
    ng_dataset sub = {0};
    ng_status st = ng_dataset_subset(train, o->count > 0 ? 1.0 : o->fraction, o->count, o->seed, &sub);
    if (st != NG_OK) return st;
    size_t np = ng_model_nparams(m), nt = ng_model_ntensors(m);
    float *g = ng_alloc_aligned(np * sizeof(float));
    uint8_t *flag = ng_calloc(np, 1), *tr = ng_calloc(np, 1);
    ng_finetune_result *fr = ng_calloc(1, sizeof *fr);
    ng_model *a = NULL;
    if (!g || !flag || !tr || !fr) st = NG_E_NOMEM;
    if (st == NG_OK && (st = ng_model_clone(m, &a)) == NG_OK) st = ng_attack_mean_gradient(a, &sub, o->threads, g);
    for (size_t i = 0; st == NG_OK && i < n_truth; i++)
        for (size_t t = 0; t < nt; t++) {
            ng_param p;
            ng_model_tensor(m, t, &p);
            if (!strcmp(p.name, truth[i].tensor) && truth[i].index < (uint64_t)ng_shape_numel(&p.shape))
                tr[ng_model_tensor_offset(m, t) + truth[i].index] = 1;
        }
    int64_t f[NG_DETECTORS], c;
    if (st == NG_OK) st = ng_attack_detect_mask(m, g, truth, n_truth, (int64_t)n_truth, f, &c, det, flag);
    ng_finetune_options fo = *o;
    fo.scratch = 0;
    fo.sanitize_abs = 0;
    for (int part = 0; part < 4 && st == NG_OK; part++) {   /* all, untouched, perturbed, none */
        ng_model_free(a);
        a = NULL;
        if ((st = ng_model_clone(m, &a)) != NG_OK) break;
        if (part < 3) reset_part(a, flag, tr, part == 0 ? 2 : part == 1 ? 0 : 1);
        if ((st = ng_attack_finetune(a, train, test, &fo, fr)) != NG_OK) break;
        loss_before[part] = fr->loss_before;
        acc_tuned[part] = fr->acc_attacked[fo.epochs - 1];
    }
    ng_model_free(a);
    ng_free_aligned(g);
    free(flag);
    free(tr);
    free(fr);
    ng_dataset_free(&sub);
    return st;
}
