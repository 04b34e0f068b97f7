/* test_attacks: the attack library's building blocks on exact numbers - magnitude pruning
 * counts and which weights go, the fresh-init rules the engine gives each tensor, re-initialising
 * out-of-distribution (locked) values, re-initialisation by role, and the fine-tuning /
 * key-guessing attacks on a small real model: the attack trains (its loss falls and accuracy
 * rises), the same attack on an all-fresh model matches training from scratch, and the locked
 * model gives it no head start. */
#include <math.h>
#include "tutil.h"
#include "nnguard/attack.h"
#include "nnguard/deeplock.h"
#include "nnguard/keys.h"

static int64_t count_zero(const ng_model *m, size_t t)
{
    ng_param p;
    ng_model_tensor(m, t, &p);
    const float *w = (const float *)p.data;
    int64_t z = 0, n = ng_shape_numel(&p.shape);
    for (int64_t i = 0; i < n; i++) z += w[i] == 0.0f;
    return z;
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);   /* OpenBLAS's best kernels (the CLI does the same): a shorter run */
    CHECK_OK(ng_init());
    ng_model *m;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 3, &m));
    /* tensors: c1.weight [6,1,5,5]=150, c1.bias 6, c2.weight [16,6,5,5]=2400, c2.bias 16,
     * f1.weight [120,400]=48000, f1.bias, f2.weight [84,120]=10080, f2.bias, f3.weight [10,84]=840, f3.bias */
    ng_model *p;
    CHECK_OK(ng_model_clone(m, &p));
    int64_t z = ng_prune_magnitude(p, 0.5);
    CHECK(z == 75 + 1200 + 24000 + 5040 + 420);
    CHECK(count_zero(p, 0) == 75 && count_zero(p, 2) == 1200 && count_zero(p, 4) == 24000);
    CHECK(count_zero(p, 1) == 0);                     /* biases are not pruned */
    /* the survivors are exactly the larger half by magnitude in each tensor */
    {
        ng_param a, b;
        ng_model_tensor(m, 2, &a);
        ng_model_tensor(p, 2, &b);
        const float *wa = (const float *)a.data, *wb = (const float *)b.data;
        float max_pruned = 0, min_kept = INFINITY;
        for (int i = 0; i < 2400; i++) {
            if (wb[i] == 0.0f) { if (fabsf(wa[i]) > max_pruned) max_pruned = fabsf(wa[i]); }
            else { CHECK(wb[i] == wa[i]); if (fabsf(wa[i]) < min_kept) min_kept = fabsf(wa[i]); }
        }
        CHECKF(max_pruned <= min_kept, "pruned %g > kept %g", max_pruned, min_kept);
    }
    CHECK(ng_prune_magnitude(p, 0.0) == 0);
    ng_model_free(p);

    /* fresh-init rules from the consuming node: c1.weight fan-in 25, f1.weight/bias fan-in 400 */
    {
        ng_init_rule r0 = ng_model_init_rule(m, 0), r4 = ng_model_init_rule(m, 4), r5 = ng_model_init_rule(m, 5);
        CHECK(r0.kind == NG_INIT_UNIFORM && fabsf(r0.scale - 0.2f) < 1e-6f);
        CHECK(r4.kind == NG_INIT_UNIFORM && fabsf(r4.scale - 0.05f) < 1e-6f && r5.kind == NG_INIT_UNIFORM && r5.scale == r4.scale);
        CHECK(ng_model_init_rule(m, 999).kind == NG_INIT_NONE);
    }
    /* out-of-distribution values are drawn afresh (c1.weight: |w| <= 0.2); the rest stay */
    CHECK_OK(ng_model_clone(m, &p));
    float *w = ng_model_params(p);
    float keep = w[5];
    w[0] = NAN; w[1] = INFINITY; w[2] = -3e30f; w[3] = 1e-40f; /* denormal stays */
    w[4] = 9 * 0.2f;   /* beyond 8 x the init scale */
    w[6] = 7 * 0.2f;   /* within it */
    CHECK(ng_reinit_ood(p, 1e4f, 8.0f, 3) == 4);
    int fresh = 1;
    for (int i = 0; i < 5; i++) fresh &= i == 3 || (isfinite(w[i]) && fabsf(w[i]) <= 0.2f);
    CHECK(fresh && w[3] == 1e-40f && w[5] == keep && w[6] == 7 * 0.2f);
    CHECK(ng_reinit_ood(p, 1e4f, 0.0f, 3) == 0);   /* factor 0: only non-finite / > 1e4 */
    ng_model_free(p);

    /* reinit: weights and biases inside +-1/sqrt(fan_in), a different draw from the original */
    CHECK_OK(ng_model_clone(m, &p));
    ng_model_reinit(p, 99);
    {
        ng_param a;
        ng_model_tensor(p, 4, &a);   /* f1.weight, fan_in 400 */
        const float *wa = (const float *)a.data;
        float mx = 0;
        for (int i = 0; i < 48000; i++) if (fabsf(wa[i]) > mx) mx = fabsf(wa[i]);
        CHECK(mx <= 1.0f / 20.0f && mx > 0.049f);
        ng_model_tensor(p, 5, &a);   /* f1.bias, same bound */
        wa = (const float *)a.data;
        mx = 0;
        for (int i = 0; i < 120; i++) if (fabsf(wa[i]) > mx) mx = fabsf(wa[i]);
        CHECK(mx <= 0.05f && mx > 0.03f);
        CHECK(memcmp(ng_model_params(p), ng_model_params(m), ng_model_nparams(m) * 4) != 0);
    }
    ng_model_free(p);
    /* BatchNorm tensors get 1 / 0 / 0 / 1 */
    ng_model *r;
    CHECK_OK(ng_model_from_arch("resnet-small", 1, 28, 28, 10, 1, &r));
    for (size_t i = 0; i < ng_model_nparams(r); i++) ng_model_params(r)[i] = 0.5f;
    ng_model_reinit(r, 5);
    int bn_ok = 1, seen = 0;
    for (size_t t = 0; t < ng_model_ntensors(r); t++) {
        ng_param a;
        ng_model_tensor(r, t, &a);
        const float *wa = (const float *)a.data;
        float want = -1;
        if (strstr(a.name, "running_var")) want = 1;
        else if (strstr(a.name, "running_mean")) want = 0;
        else if (strstr(a.name, "bn") && strstr(a.name, ".weight")) want = 1;
        else if (strstr(a.name, "bn") && strstr(a.name, ".bias")) want = 0;
        if (want < 0) continue;
        seen++;
        for (int64_t i = 0; i < ng_shape_numel(&a.shape); i++) bn_ok &= wa[i] == want;
    }
    CHECK(seen > 0 && bn_ok);
    /* a BatchNorm variance <= 0 is out of distribution: back to 1 */
    {
        size_t vi = 0;
        for (size_t t = 0; t < ng_model_ntensors(r); t++) {
            ng_param a;
            ng_model_tensor(r, t, &a);
            if (strstr(a.name, "running_var")) { vi = t; ((float *)a.data)[0] = -0.5f; ((float *)a.data)[1] = 0.0f; break; }
        }
        ng_init_rule rv = ng_model_init_rule(r, vi);
        CHECK(rv.kind == NG_INIT_CONST && rv.variance && rv.scale == 1.0f);
        CHECK(ng_reinit_ood(r, 1e4f, 8.0f, 1) == 2);
        ng_param a;
        ng_model_tensor(r, vi, &a);
        CHECK(((float *)a.data)[0] == 1.0f && ((float *)a.data)[1] == 1.0f);
    }
    ng_model_free(r);

    /* key guessing and fine-tuning on a trained fixture: a locked model is at chance,
     * wrong keys are at chance, fine-tuning the locked model is no better than scratch */
    ng_weights *wl;
    ng_model *lm;
    CHECK_OK(ng_weights_open(tu_path("fixtures/lenet5.onnx"), &wl));
    ng_key key = {.len = 32};   /* a fixed key: the run is the same every time */
    for (int i = 0; i < 32; i++) key.k[i] = (uint8_t)(i * 7 + 1);
    ng_deeplock_secret sec = {.key = &key};
    ng_deeplock_options o = ng_deeplock_options_default();
    static const uint8_t salt[32] = {9};   /* and a fixed salt */
    o.salt = salt;
    CHECK_OK(ng_deeplock_lock(wl, &sec, &o));
    CHECK_OK(ng_model_from_weights(wl, &lm));
    ng_dataset te, full, tr;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &full));
    CHECK_OK(ng_dataset_head(&full, 1000, &te));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &tr));
    ng_keyguess_result kg;
    CHECK_OK(ng_attack_keyguess(lm, wl, 4, 1, &te, 0, &kg));
    CHECK(kg.trials == 4 && kg.acc_max < 0.2 && kg.acc_mean < 0.15);
    free(kg.acc);
    ng_finetune_options fo = ng_finetune_options_default();
    fo.count = 2000;
    fo.epochs = 3;
    fo.sanity = 1;
    ng_finetune_result *fr = calloc(1, sizeof *fr);
    CHECK_OK(ng_attack_finetune(lm, &tr, &te, &fo, fr));
    printf("fine-tune 2000 images, 3 epochs: %lld parameters re-initialised; locked %.3f -> %.3f (loss %.3f -> %.3f), "
           "scratch %.3f, sanity (the attack on an all-fresh model) %.3f\n", (long long)fr->n_sanitized, fr->acc_before,
           fr->acc_attacked[fo.epochs-1], fr->loss_before, fr->loss_attacked[fo.epochs-1], fr->acc_scratch[fo.epochs-1], fr->acc_sanity[fo.epochs-1]);
    const int L = 2;   /* last epoch */
    CHECK(fr->n_train == 2000 && fr->n_sanitized > 10000);
    CHECK(fr->acc_scratch[L] > 0.55);                           /* the baseline really learns */
    CHECKF(fr->loss_attacked[L] < 0.6 * fr->loss_before, "the attack trained: loss %.3f -> %.3f", fr->loss_before,
           fr->loss_attacked[L]);
    CHECK(fr->acc_attacked[L] > fr->acc_before + 0.3);          /* ... and learned */
    CHECKF(fabs(fr->acc_sanity[L] - fr->acc_scratch[L]) < 0.06, "sanity %.3f vs scratch %.3f", fr->acc_sanity[L],
           fr->acc_scratch[L]);                                 /* the attack is as strong as training afresh */
    /* the locked start is no head start: no better than a fresh init, up to the spread between two
     * fresh inits (scratch and sanity differ only in their init seed) */
    double fresh_best = fr->acc_scratch[L] > fr->acc_sanity[L] ? fr->acc_scratch[L] : fr->acc_sanity[L];
    CHECKF(fr->acc_attacked[L] <= fresh_best + 0.03, "attacked %.3f vs scratch %.3f / sanity %.3f", fr->acc_attacked[L],
           fr->acc_scratch[L], fr->acc_sanity[L]);
    free(fr);
    ng_key_wipe(&key);
    ng_model_free(lm);
    ng_weights_free(wl);
    ng_dataset_free(&te);
    ng_dataset_free(&full);
    ng_dataset_free(&tr);
    ng_model_free(m);
    return tu_done();
}
