/* attacks/distill.c - re-distillation: a watermark removal attack that trains another
 * architecture on a surrogate's own soft answers, without querying the API again. */
#include <stdlib.h>
#include "nnguard/attack.h"
#include "nnguard/dynamarks.h"
#include "core/core.h"

ng_status ng_attack_distill(ng_model *teacher, const float *x, int64_t n, ng_model *student,
                            const ng_train_options *o)
{
    int C = ng_model_num_classes(teacher);
    if (C != ng_model_num_classes(student))
        return ng_fail(NG_E_SHAPE, "distillation: the teacher has %d classes, the student %d", C,
                       ng_model_num_classes(student));
    float *p = ng_calloc((size_t)n, (size_t)C * sizeof *p);
    ng_train_result *r = ng_calloc(1, sizeof *r);
    ng_status st = p && r ? ng_model_predict_proba(teacher, x, n, o->threads, p) : NG_E_NOMEM;
    if (st == NG_OK) {
        ng_train_options to = *o;
        to.eval_each_epoch = 0;
        st = ng_train_soft(student, x, p, n, NULL, &to, r);
    }
    free(p);
    free(r);
    return st;
}
