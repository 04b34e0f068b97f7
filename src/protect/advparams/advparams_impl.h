/* protect/advparams_impl.h - the AdvParams key as held in memory (shared by advparams.c and
 * advparams_key.c). The key file layout is documented in nnguard/advparams.h. */
#ifndef NG_PROTECT_ADVPARAMS_IMPL_H
#define NG_PROTECT_ADVPARAMS_IMPL_H
#include <stdint.h>
#include "nnguard/advparams.h"

#define NG_ADV_NAME_MAX 4096
#define NG_ADV_PATTERN_MAX 4096

typedef struct ng_adv_pos {
    char    *name;
    uint64_t index;
    uint32_t orig, pert;
} ng_adv_pos;

struct ng_adv_key {
    uint8_t  id_after[32], id_before[32];
    uint64_t seed;
    uint32_t budget, set_size, rule;
    double   target_acc, acc_before, acc_after;
    char    *pattern;          /* "" for the default rule; never NULL once built */
    ng_adv_pos *pos;
    size_t   n, cap;
};

/* Empty key (pattern ""); NULL and a message when out of memory. */
ng_adv_key *ng_adv_key_new(void);
/* Append a position (name copied). */
ng_status   ng_adv_key_push(ng_adv_key *k, const char *name, uint64_t index, uint32_t orig, uint32_t pert);

#endif
