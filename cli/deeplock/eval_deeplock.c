/* cli/eval_deeplock.c - `nnguard eval-scheme deeplock`: SCHEMES.md section 1 "Measure". */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "json_num.h"
#include "cli.h"
#include "eval_scheme.h"
#include "core/core.h"
#include "nnguard/deeplock.h"

/* GB/s of lock, unlock (both cores) and memcpy over the same bytes, in the same run; then seal and
 * unseal (the AEAD layer over a model file, cli/seal/seal_throughput.c) of the same bytes. */
static ng_status throughput(ng_keystream ks, const ng_key *key, int threads, json_t *o)
{
    const size_t bytes = (size_t)256 << 20;
    uint8_t *a = ng_alloc_aligned(bytes), *b = ng_alloc_aligned(bytes);
    if (!a || !b) { ng_free_aligned(a); ng_free_aligned(b); return NG_E_NOMEM; }
    ng_rng r;
    ng_rng_seed(&r, 3);
    for (size_t i = 0; i < bytes; i += 8) { uint64_t v = ng_rng_u64(&r); memcpy(a + i, &v, 8); }
    ng_param p = {.name = "bench", .dtype = NG_DT_F32, .shape = {1, {(int64_t)(bytes / 4)}}, .data = a, .nbytes = bytes};
    double best_cp = 1e9, best_lock = 1e9, best_unlock = 1e9;
    ng_deeplock_options po = ng_deeplock_options_default();
    po.keystream = ks;
    po.threads = threads;
    uint8_t salt[32];
    randombytes_buf(salt, sizeof salt);
    ng_status st = NG_OK;
    for (int rep = 0; rep < 3 && st == NG_OK; rep++) {
        double t = ng_now();
        memcpy(b, a, bytes);
        double d = ng_now() - t;
        if (d < best_cp) best_cp = d;
        t = ng_now();
        st = ng_deeplock_lock_params(&p, 1, key, salt, &po);
        d = ng_now() - t;
        if (d < best_lock) best_lock = d;
        t = ng_now();
        if (st == NG_OK) st = ng_deeplock_unlock_params(&p, 1, key, salt, &po);
        d = ng_now() - t;
        if (d < best_unlock) best_unlock = d;
    }
    int same = st == NG_OK && memcmp(a, b, bytes) == 0;   /* b holds the plaintext copy */
    double gb = (double)bytes / 1e9;
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "lock_gb_s", ng_json_num(gb / best_lock));
    json_object_set_new(o, "unlock_gb_s", ng_json_num(gb / best_unlock));
    json_object_set_new(o, "memcpy_gb_s", ng_json_num(gb / best_cp));
    json_object_set_new(o, "lock_vs_memcpy", ng_json_num(best_cp / best_lock));
    json_object_set_new(o, "roundtrip_exact", json_boolean(same));
    printf("  throughput (%s, %zu MiB in memory): lock %.2f GB/s, unlock %.2f GB/s, memcpy %.2f GB/s (lock = %.2fx memcpy)\n",
           ng_keystream_name(ks), bytes >> 20, gb / best_lock, gb / best_unlock, gb / best_cp, best_cp / best_lock);
    if (st == NG_OK && !same) st = ng_fail(NG_E_INTERNAL, "lock/unlock round trip is not exact");
    if (st == NG_OK) st = ng_cli_seal_throughput(a, bytes, threads, 3, o);
    ng_free_aligned(a);
    ng_free_aligned(b);
    return st;
}

ng_status ng_es_deeplock(ng_es_ctx *c, json_t *report)
{
    ng_model *base = NULL, *locked = NULL, *unlocked = NULL;
    ng_weights *w = NULL;
    char *path = NULL;
    ng_key key;
    memset(&key, 0, sizeof key);
    ng_keyguess_result kg = {0};
    ng_status st = ng_es_base_model(c, c->archs[0], &base, &path);
    if (st != NG_OK) return st;
    double acc_orig, acc_locked, acc_unlocked;
    uint8_t id0[32], id1[32];
    char hex[65];
    ng_keystream ks = (ng_keystream)c->keystream;
    if ((st = ng_evaluate(base, &c->test, 0, 256, c->threads, &acc_orig, NULL, NULL)) != NG_OK) goto out;
    if ((st = ng_key_generate(ks == NG_KS_EXPAND ? 128 : 256, &key)) != NG_OK) goto out;
    if ((st = ng_weights_open(path, &w)) != NG_OK) goto out;
    ng_weights_id(w, id0);
    ng_deeplock_secret sec = {.key = &key};
    ng_deeplock_options o = ng_deeplock_options_default();
    o.keystream = ks;
    o.threads = c->threads;
    if ((st = ng_deeplock_lock(w, &sec, &o)) != NG_OK) goto out;
    if ((st = ng_model_from_weights(w, &locked)) != NG_OK) goto out;
    if ((st = ng_evaluate(locked, &c->test, 0, 256, c->threads, &acc_locked, NULL, NULL)) != NG_OK) goto out;
    ng_id_hex(id0, hex);
    printf("Deep-Lock on %s (model id %.16s..., %s key stream, %zu parameters)\n", path, hex,
           ng_keystream_name(ks), ng_model_nparams(base));
    printf("  original accuracy        %6.2f%%\n  locked, no key           %6.2f%%\n", 100 * acc_orig, 100 * acc_locked);
    fflush(stdout);
    if ((st = ng_attack_keyguess(locked, w, c->trials, c->seed + 7, &c->test, c->threads, &kg)) != NG_OK) goto out;
    printf("  %d random wrong keys     mean %.2f%%  max %.2f%%  min %.2f%%\n", kg.trials, 100 * kg.acc_mean,
           100 * kg.acc_max, 100 * kg.acc_min);
    o.no_check = 0;
    if ((st = ng_deeplock_unlock(w, &sec, &o)) != NG_OK) goto out;
    ng_weights_id(w, id1);
    int exact = sodium_memcmp(id0, id1, 32) == 0;
    if ((st = ng_model_from_weights(w, &unlocked)) != NG_OK) goto out;
    if ((st = ng_evaluate(unlocked, &c->test, 0, 256, c->threads, &acc_unlocked, NULL, NULL)) != NG_OK) goto out;
    printf("  unlocked with the key    %6.2f%% (parameters %s the original bit for bit)\n", 100 * acc_unlocked,
           exact ? "equal" : "DIFFER FROM");
    fflush(stdout);
    json_t *ft;
    c->ft_sanity = 1;
    if ((st = ng_es_finetune(c, locked, &ft)) != NG_OK) goto out;
    json_t *tp = json_object();
    st = throughput(ks, &key, c->threads, tp);
    json_t *kga = json_array();
    for (int i = 0; i < kg.trials; i++) json_array_append_new(kga, ng_json_num(kg.acc[i]));
    json_object_set_new(report, "model", json_string(path));
    json_object_set_new(report, "model_id", json_string(hex));
    json_object_set_new(report, "keystream", json_string(ng_keystream_name(ks)));
    json_object_set_new(report, "parameters", json_integer((json_int_t)ng_model_nparams(base)));
    json_object_set_new(report, "accuracy_original", ng_json_num(acc_orig));
    json_object_set_new(report, "accuracy_locked", ng_json_num(acc_locked));
    json_object_set_new(report, "accuracy_unlocked", ng_json_num(acc_unlocked));
    json_object_set_new(report, "unlock_bit_exact", json_boolean(exact));
    json_object_set_new(report, "wrong_keys", json_pack("{s:i,s:f,s:f,s:f,s:o}", "trials", kg.trials,
                        "mean", kg.acc_mean, "max", kg.acc_max, "min", kg.acc_min, "accuracy", kga));
    json_object_set_new(report, "finetune", ft);
    json_object_set_new(report, "throughput", tp);
    if (ks == NG_KS_EXPAND)
        json_object_set_new(report, "warning", json_string("expand key stream: the AES key schedule is invertible; "
                            "one leaked round key gives the master key and unlocks the whole model"));
    if (st == NG_OK && (!exact || acc_unlocked != acc_orig))
        st = ng_fail(NG_E_INTERNAL, "unlocked model differs from the original");
out:
    ng_key_wipe(&key);
    free(kg.acc);
    ng_model_free(base);
    ng_model_free(locked);
    ng_model_free(unlocked);
    ng_weights_free(w);
    free(path);
    return st;
}
