/* cli/json_num.h - a JSON number that cannot vanish.
 * jansson's json_real() returns NULL for NaN and infinities, and json_object_set_new(o, k, NULL)
 * then silently drops the key: a diverged loss (NaN) or an empty ratio would be missing from a
 * report instead of visible. ng_json_num writes null for them, so the key is always there. */
#ifndef NG_CLI_JSON_NUM_H
#define NG_CLI_JSON_NUM_H
#include <math.h>
#include <jansson.h>

static inline json_t *ng_json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

#endif
