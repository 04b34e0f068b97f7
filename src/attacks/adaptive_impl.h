/* attacks/adaptive_impl.h - what adaptive.c and dead_revive.c share (not public API). */
#ifndef NG_ATTACKS_ADAPTIVE_IMPL_H
#define NG_ATTACKS_ADAPTIVE_IMPL_H
#include "nnguard/attack.h"

/* Mean loss gradient over d (inference mode: the deployed model), into g (nparams floats). */
ng_status ng_attack_mean_gradient(ng_model *m, const ng_dataset *d, int threads, float *g);

/* The dead-layer attacker's revival, given g = m's loss gradient on the attacker's data sub:
 * see ng_attack_dead_revive. *out = NULL (and NG_OK) when no tensor is all zero-gradient. */
ng_status ng_attack_dead_revive_g(const ng_model *m, const float *g, const ng_dataset *sub,
                                  const ng_finetune_options *o, ng_model **out, char *name, size_t cap,
                                  int64_t *reinit);
#endif
