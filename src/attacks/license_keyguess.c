/* attacks/license_keyguess.c - random license keys against a SecureNet model (attack.h). */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/attack.h"
#include "nnguard/securenet.h"

ng_status ng_attack_license_keyguess(ng_model *m, int trials, uint64_t seed, const ng_dataset *test, int threads,
                                     ng_keyguess_result *r)
{
    memset(r, 0, sizeof *r);
    if (trials < 1) return ng_fail(NG_E_INVALID, "keyguess: trials must be >= 1");
    ng_stamp_options so;
    ng_status st = ng_license_stamp_options(m, &so);
    if (st != NG_OK) return st;
    if (!(r->acc = ng_calloc((size_t)trials, sizeof *r->acc))) return NG_E_NOMEM;
    ng_rng g;
    ng_rng_seed(&g, seed);
    r->acc_min = 1;
    for (int t = 0; t < trials; t++) {
        uint8_t raw[NG_LICENSE_KEY_BYTES];
        for (int b = 0; b < NG_LICENSE_KEY_BYTES; b += 8) { uint64_t v = ng_rng_u64(&g); memcpy(raw + b, &v, 8); }
        if ((st = ng_license_evaluate(m, &so, NULL, raw, test, 0, threads, &r->acc[t], NULL)) != NG_OK) {
            free(r->acc);
            r->acc = NULL;
            return st;
        }
        r->acc_mean += r->acc[t] / trials;
        if (r->acc[t] > r->acc_max) r->acc_max = r->acc[t];
        if (r->acc[t] < r->acc_min) r->acc_min = r->acc[t];
    }
    r->trials = trials;
    return NG_OK;
}
