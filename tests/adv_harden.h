/* adv_harden.h - shared checks of the hardened AdvParams form (test_advparams_harden: the LeNet-5
 * fixture on all of Fashion-MNIST; test_advparams_hardq: the same paths on small subsets, short
 * enough for ASan). */
#ifndef NG_TEST_ADV_HARDEN_H
#define NG_TEST_ADV_HARDEN_H
#include <unistd.h>
#include "tutil.h"
#include "nnguard/advparams.h"
#include "nnguard/attack.h"
#include "core/core.h"

/* The small sets of the quick hardened tests: 2,000 training images, the first 1,000 test images
 * (stratified, seed 3) and 200 attacker images (seed 4); 0 when Fashion-MNIST failed to load. */
static inline int ah_small_sets(ng_dataset *tr, ng_dataset *te, ng_dataset *atk)
{
    ng_dataset full, tefull;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &full));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &tefull));
    if (tu_fail) return 0;
    CHECK_OK(ng_dataset_subset(&full, 0, 2000, 3, tr));
    CHECK_OK(ng_dataset_subset(&tefull, 0, 1000, 3, te));
    CHECK_OK(ng_dataset_subset(&full, 0, 200, 4, atk));
    ng_dataset_free(&full);
    ng_dataset_free(&tefull);
    return !tu_fail;
}

/* Min and max of the tensor `name` in w. */
static void ah_tensor_range(const ng_weights *w, const char *name, float *lo, float *hi)
{
    long j = ng_weights_find(w, name);
    *lo = INFINITY; *hi = -INFINITY;
    if (j < 0) return;
    const ng_param *p = ng_weights_param_c(w, (size_t)j);
    for (size_t e = 0; e < p->nbytes / 4; e++) {   /* memcpy: ONNX raw_data need not be 4-byte aligned */
        float v;
        memcpy(&v, p->data + 4 * e, 4);
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
}

/* Encrypt the file at onnx with o; *acc = accuracy on te after; w, m, k returned (NULL k on failure). */
static void ah_encrypt(const char *onnx, const ng_dataset *tr, const ng_dataset *te, const ng_adv_options *o,
                       ng_weights **w, ng_model **m, ng_adv_key **k, double *acc)
{
    *k = NULL; *acc = -1;
    CHECK_OK(ng_weights_open(onnx, w));
    CHECK_OK(ng_model_from_weights(*w, m));
    CHECK_OK(ng_adv_encrypt(*m, *w, tr, o, k));
    if (*k) CHECK_OK(ng_evaluate(*m, te, 0, 500, 0, acc, NULL, NULL));
}

/* Hardened encryption: exactly the budget changed (with a dead layer: the budget and the layer's
 * moves), never a value equal to its tensor's min or max (before or after encryption; without a
 * dead layer no tensor's range moves at all), the form kept through the key file, decrypt
 * bit-exact (model id). Returns test accuracy. */
static double ah_check_hardened(const char *onnx, const ng_dataset *tr, const ng_dataset *te, const ng_adv_options *o,
                                const char *keypath)
{
    ng_weights *w = NULL, *w0 = NULL;
    ng_model *m = NULL;
    ng_adv_key *k = NULL, *kl = NULL;
    double acc;
    uint8_t id0[32], id[32];
    CHECK_OK(ng_weights_open(onnx, &w0));
    if (w0) ng_weights_id(w0, id0);
    ah_encrypt(onnx, tr, te, o, &w, &m, &k, &acc);
    if (k) {
        size_t n = ng_adv_key_count(k), at_edge = 0;
        CHECKF(o->dead ? n > (size_t)o->budget : n == (size_t)o->budget, "%zu positions for budget %d", n, o->budget);
        CHECK(ng_adv_key_hardened(k));
        for (size_t i = 0; i < n; i++) {
            ng_adv_entry e;
            ng_adv_key_entry(k, i, &e);
            float lo, hi, v, lo0, hi0;
            ah_tensor_range(w, e.tensor, &lo, &hi);
            ah_tensor_range(w0, e.tensor, &lo0, &hi0);
            memcpy(&v, &e.pert_bits, 4);
            if (!(v > lo && v < hi && v > lo0 && v < hi0 && (o->dead || (lo == lo0 && hi == hi0)))) at_edge++;
        }
        CHECKF(at_edge == 0, "%zu hardened values equal (or moved) their tensor's min or max", at_edge);
        unlink(keypath);
        CHECK_OK(ng_adv_key_save(k, keypath, NULL, 0));
        CHECK_OK(ng_adv_key_load(keypath, NULL, 0, &kl));
        if (kl) {
            CHECK(ng_adv_key_hardened(kl) && ng_adv_key_count(kl) == n);
            CHECK_OK(ng_adv_decrypt(w, kl));
            ng_weights_id(w, id);
            CHECK(memcmp(id, id0, 32) == 0);
        }
        printf("hardened, %zu parameters: accuracy after %.2f%%, decrypt bit-exact\n", n, 100 * acc);
    }
    ng_adv_key_free(kl);
    ng_adv_key_free(k);
    ng_weights_free(w);
    ng_weights_free(w0);
    ng_model_free(m);
    return acc;
}

/* Detector table: perturbed positions in each detector's top 10 x budget (attacker data: atk);
 * the whole result in *rr when not NULL (fine-tuning: epochs, 0 = none). */
static void ah_detectors_ft(const char *label, const char *onnx, const ng_dataset *tr, const ng_dataset *te,
                            const ng_dataset *atk, const ng_adv_options *o, int epochs, int64_t found[NG_DETECTORS],
                            int64_t *n, ng_adaptive_result *rr)
{
    ng_weights *w = NULL;
    ng_model *m = NULL;
    ng_adv_key *k = NULL;
    double acc;
    ah_encrypt(onnx, tr, te, o, &w, &m, &k, &acc);
    memset(found, 0, NG_DETECTORS * sizeof *found);
    *n = 0;
    if (k) {
        *n = (int64_t)ng_adv_key_count(k);
        ng_position *pos = calloc((size_t)*n, sizeof *pos);
        for (int64_t i = 0; pos && i < *n; i++) {
            ng_adv_entry e;
            ng_adv_key_entry(k, (size_t)i, &e);
            pos[i] = (ng_position){e.tensor, e.index};
        }
        ng_finetune_options fo = ng_finetune_options_default();
        fo.fraction = 1.0;
        fo.epochs = epochs;
        ng_adaptive_result r;
        CHECK_OK(ng_attack_adaptive(m, atk, te, &fo, 6.0, pos, (size_t)*n, &r));
        printf("%s: %lld perturbed, top %lld of %lld candidates (random finds %.1f):\n", label, (long long)*n,
               (long long)r.topk, (long long)r.candidates, (double)*n * (double)r.topk / (double)r.candidates);
        for (int d = 0; d < NG_DETECTORS; d++) {
            found[d] = r.det_found[d];
            printf("  %-50s %5lld\n", ng_detector_name(d), (long long)found[d]);
        }
        if (r.dead_tensor[0]) {
            printf("  dead-layer attacker: %s re-initialised (%lld)", r.dead_tensor, (long long)r.dead_reinit);
            if (epochs) printf(", fine-tuned %.2f%%", 100 * r.acc_dead_tuned);
            printf("; then on the other %lld (top %lld):", (long long)r.dead_then_perturbed, (long long)r.dead_then_topk);
            for (int d = 0; d < NG_DETECTORS; d++) printf(" %lld", (long long)r.dead_then_det[d]);
            printf("\n");
        }
        if (epochs) printf("  reset + fine-tune: flagged %.2f%%, best detector's top k %.2f%%, its top 1x %.2f%%\n",
                           100 * r.acc_tuned, 100 * r.acc_best_tuned, 100 * r.acc_best1_tuned);
        if (rr) *rr = r;
        free(pos);
    }
    ng_adv_key_free(k);
    ng_weights_free(w);
    ng_model_free(m);
}
static inline void ah_detectors(const char *label, const char *onnx, const ng_dataset *tr, const ng_dataset *te,
                         const ng_dataset *atk, const ng_adv_options *o, int64_t found[NG_DETECTORS], int64_t *n)
{
    ah_detectors_ft(label, onnx, tr, te, atk, o, 0, found, n, NULL);
}
#endif
