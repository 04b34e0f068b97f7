/* protect/securenet/securenet_impl.h - the stamper's insides, for license training. */
#ifndef NG_SECURENET_IMPL_H
#define NG_SECURENET_IMPL_H
#include "nnguard/securenet.h"

struct ng_stamper {
    ng_stamp_options o;
    int   c, h, w, row, col;
    float *pattern;   /* patch: c*k*k values; blend: c*h*w values */
    size_t npattern;
};

/* Patch mode: write values (c*k*k) at s's position into one input x (hard negatives: the right
 * place with the wrong values). */
void ng_sn_stamp_values(const ng_stamper *s, const float *values, float *x);
/* Patch mode: s's own values written d pixels away from its place along one axis (vertical when
 * vert, else horizontal; d = -2..2 and a second offset e = 1..4 folded into the other axis as
 * (e % 3) - 1), clipped to the image: a near miss that license training denies. */
void ng_sn_stamp_shifted(const ng_stamper *s, float *x, int d, int e, int vert);
#endif
