/* test_securenet_train: a short license training of LeNet-5 on Fashion-MNIST (24,000 images, 4
 * epochs: on 12,000 the deny half had not converged with the near-miss negatives, no key 25.6%)
 * with bounds that a broken stamp or deny target fails: the right key works, no key, wrong keys
 * and near misses of the key do not, class-subset denies the other classes. Its code paths run under the
 * sanitizers in test_securenet (tiny budget).
 * ctest-label: slow heavy */
#include "tutil.h"
#include "protect/securenet/securenet_impl.h"

/* Train LeNet-5 for a license on 24000 examples, 4 epochs; evaluate on 2000 test images. */
static void test_train(const ng_dataset *tr, const ng_dataset *te, ng_license_scheme scheme, uint64_t grant)
{
    ng_license_spec *sp = malloc(sizeof *sp);
    ng_license_spec_init(sp, scheme);
    sp->nkeys = 1;
    sp->mask[0] = grant;
    sp->keys[0].len = 32;
    for (int i = 0; i < 32; i++) sp->keys[0].k[i] = (uint8_t)(0xa5 ^ i * 7);   /* fixed: a reproducible test */
    ng_model *m;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 7, &m));
    ng_train_options o = ng_train_options_default();
    o.epochs = 4;
    o.seed = 7;
    o.quiet = 1;
    ng_train_result *r = calloc(1, sizeof *r);
    CHECK_OK(ng_license_train(m, sp, tr, NULL, &o, r));
    ng_stamp_options so;
    CHECK_OK(ng_license_stamp_options(m, &so));
    CHECK(so.mode == NG_STAMP_PATCH && so.patch == 4);
    uint64_t mask;
    CHECK_OK(ng_license_key_classes(m, &sp->keys[0], &mask));
    CHECK(mask == grant);
    CHECK(!strcmp(ng_model_meta_get(m, "nnguard.license.scheme"), ng_license_scheme_name(scheme)));
    double acc_key, acc_none, acc_wrong = 0, pc[10];
    CHECK_OK(ng_license_evaluate(m, &so, &sp->keys[0], NULL, te, 0, 0, &acc_key, pc));
    CHECK_OK(ng_license_evaluate(m, &so, NULL, NULL, te, 0, 0, &acc_none, NULL));
    for (int t = 0; t < 5; t++) {
        uint8_t raw[32];
        double a;
        for (int i = 0; i < 32; i++) raw[i] = (uint8_t)(t * 131 + i * 17 + 1);
        CHECK_OK(ng_license_evaluate(m, &so, NULL, raw, te, 0, 0, &a, NULL));
        acc_wrong = fmax(acc_wrong, a);
    }
    /* near misses: the key's values one pixel off its place, half of its values changed */
    double acc_near = 0, acc_shift = 0;
    ng_stamper *ks;
    CHECK_OK(ng_stamper_new(&sp->keys[0], &so, 1, 28, 28, &ks));
    ng_dataset nd;
    for (int t = 0; t < 3; t++) {
        CHECK_OK(ng_dataset_head(te, 0, &nd));
        for (int64_t i = 0; i < nd.n; i++) {
            float *xi = nd.x + i * 784, v[16];
            if (t < 2) { ng_sn_stamp_shifted(ks, xi, t ? -1 : 1, 1, t); continue; }
            for (int j = 0; j < 16; j++) v[j] = j % 2 ? ks->pattern[j] : 1.0f - ks->pattern[j];
            ng_sn_stamp_values(ks, v, xi);
        }
        double a;
        CHECK_OK(ng_license_evaluate(m, &so, NULL, NULL, &nd, 0, 0, &a, NULL));
        printf("  near miss %s: %.3f\n", t == 0 ? "1 px right" : t == 1 ? "1 px up" : "half the values changed", a);
        if (t < 2) acc_shift = fmax(acc_shift, a);
        else acc_near = a;
        ng_dataset_free(&nd);
    }
    ng_stamper_free(ks);
    printf("%s: key %.3f, none %.3f, worst of 5 wrong keys %.3f\n", ng_license_scheme_name(scheme), acc_key, acc_none,
           acc_wrong);
    /* measured on this budget (single / class-subset): half the values 0.143 / 0.166; shifted 0.555,
     * 0.568 / 0.260, 0.253 (conv + pooling tolerate a shift: on this budget it is only partly
     * unlearnt; class-subset's p_key ramp to 0.8 leaves fewer denied examples in the last epochs
     * than 0.5 throughout did: 0.101, 0.185 / 0.148 then, granted classes 0.853 -> 0.881). The
     * single scheme's shifted keys move with the GEMM kernels' rounding: on a Zen 4 machine 0.577 /
     * 0.603 with OpenBLAS's own pick, 0.575 / 0.592 with OPENBLAS_CORETYPE=Haswell, 0.558 / 0.565
     * with NG_PWGEMM=0; hence 0.65, still well under the key's 0.84. */
    CHECKF(acc_near <= 0.20, "accuracy with half of the key's values changed %.3f", acc_near);
    CHECKF(acc_shift <= 0.65, "accuracy with the key 1 px off its place %.3f", acc_shift);
    if (scheme == NG_LICENSE_SINGLE) {
        CHECKF(acc_key >= 0.72, "accuracy with the key %.3f", acc_key);   /* plain training: ~0.80 on this budget */
    } else {
        double granted = 0, other = 0;
        for (int j = 0; j < 10; j++) {
            if (grant >> j & 1) granted += pc[j] / 5;
            else other = fmax(other, pc[j]);
        }
        printf("  granted classes mean %.3f, best denied class %.3f\n", granted, other);
        CHECKF(granted >= 0.75, "granted classes %.3f", granted);
        CHECKF(other <= 0.20, "a denied class reaches %.3f", other);
    }
    CHECKF(acc_none <= 0.20, "accuracy without key %.3f", acc_none);
    CHECKF(acc_wrong <= 0.20, "accuracy with a wrong key %.3f", acc_wrong);
    free(r);
    ng_model_free(m);
    ng_license_spec_wipe(sp);
    free(sp);
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());
    ng_dataset full, tr, te, teh;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &full));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te));
    CHECK_OK(ng_dataset_subset(&full, 0, 24000, 1, &tr));
    CHECK_OK(ng_dataset_head(&te, 2000, &teh));
    test_train(&tr, &teh, NG_LICENSE_SINGLE, 0x3ff);
    test_train(&tr, &teh, NG_LICENSE_CLASS_SUBSET, 0x1f);
    ng_dataset_free(&full); ng_dataset_free(&tr); ng_dataset_free(&te); ng_dataset_free(&teh);
    return tu_done();
}
