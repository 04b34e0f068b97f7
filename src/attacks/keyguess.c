/* attacks/keyguess.c - Deep-Lock under random wrong keys: how good is a guessed key? */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "nnguard/attack.h"
#include "nnguard/deeplock.h"
#include "nnguard/rng.h"
#include "core/core.h"

ng_status ng_attack_keyguess(const ng_model *locked, const ng_weights *w, int trials, uint64_t seed,
                             const ng_dataset *test, int threads, ng_keyguess_result *r)
{
    memset(r, 0, sizeof *r);
    if (!ng_deeplock_is_locked(w))
        return ng_fail(NG_E_STATE, "%s: not a Deep-Locked model; key guessing needs one", ng_weights_path(w));
    /* the attacker knows everything but the key: key stream, pattern, salt (all in the metadata) */
    ng_deeplock_options o = ng_deeplock_options_default();
    uint8_t salt[32];
    int has_salt;
    ng_status st = ng_deeplock_stream_of(w, &o, salt, &has_salt);
    if (st != NG_OK) return st;
    o.threads = threads;
    ng_keystream ks = o.keystream;
    if (trials < 1) return ng_fail(NG_E_INVALID, "key guessing: trials must be >= 1");

    ng_model *m = NULL;
    st = ng_model_clone(locked, &m);
    if (st != NG_OK) return st;
    size_t np = ng_model_nparams(m), nt = ng_model_ntensors(m);
    float *orig = ng_alloc_aligned(np * sizeof(float));
    ng_param *views = ng_calloc(nt ? nt : 1, sizeof *views);
    r->acc = ng_calloc((size_t)trials, sizeof *r->acc);
    if (!orig || !views || !r->acc) { st = NG_E_NOMEM; goto out; }
    memcpy(orig, ng_model_params(m), np * sizeof(float));
    for (size_t t = 0; t < nt; t++) ng_model_tensor(m, t, &views[t]);

    /* Wrong keys come from a seeded generator: reproducible, and no secret is involved. */
    ng_rng rng;
    ng_rng_seed(&rng, seed);
    r->acc_min = 1.0;
    for (int i = 0; i < trials; i++) {
        ng_key k;
        k.len = ks == NG_KS_EXPAND ? 16 : 32;
        for (size_t b = 0; b < k.len; b += 8) {
            uint64_t v = ng_rng_u64(&rng);
            memcpy(k.k + b, &v, 8);
        }
        memcpy(ng_model_params(m), orig, np * sizeof(float));
        st = ng_deeplock_unlock_params(views, nt, &k, has_salt ? salt : NULL, &o);
        sodium_memzero(&k, sizeof k);
        if (st != NG_OK) goto out;
        if ((st = ng_evaluate(m, test, 0, 256, threads, &r->acc[i], NULL, NULL)) != NG_OK) goto out;
        r->acc_mean += r->acc[i] / trials;
        if (r->acc[i] > r->acc_max) r->acc_max = r->acc[i];
        if (r->acc[i] < r->acc_min) r->acc_min = r->acc[i];
        r->trials = i + 1;
    }
out:
    if (st != NG_OK) { free(r->acc); r->acc = NULL; }
    ng_free_aligned(orig);
    free(views);
    ng_model_free(m);
    return st;
}
