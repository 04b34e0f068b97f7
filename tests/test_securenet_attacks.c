/* test_securenet_attacks: adversarial examples (FGSM, PGD) and the BadNets backdoor on the LeNet-5
 * fixture (83% on the first test images), with real bounds: eps 0 flips nothing, eps 0.1 flips a
 * substantial but bounded share, PGD at least as many as FGSM, every perturbation within eps and
 * the pixel range; through a patch stamp the stamped pixels get no perturbation (the stamp
 * overwrites them: zero Jacobian), through a blend stamp all may move; the trigger's known pixels;
 * fine-tuning with 10% poison plants a backdoor (success from ~1% to most) and keeps clean
 * accuracy. The licensed-model side (with and without the key, defences): test_securenet_defend.
 * Under ASan + UBSan (Debug) it takes 2 minutes at load 13 (30 s of CPU): not heavy, it is where the
 * attack and defence code runs under the sanitizers.
 * ctest-label: slow */
#include "tutil.h"
#include "nnguard/attack.h"

static void test_fgsm_pgd(ng_model *m, const ng_dataset *te)
{
    ng_advex_options o = ng_advex_options_default();
    ng_advex_result r0, rf, rp, rbig;
    o.eps = 0;
    CHECK_OK(ng_attack_adversarial(m, te, NULL, NULL, &o, &r0));
    CHECK(r0.flipped == 0 && r0.correct == r0.correct_adv && r0.linf == 0);
    CHECKF(r0.acc_clean > 0.78 && r0.acc_clean < 0.90, "fixture accuracy %.3f", r0.acc_clean);
    o.eps = 0.1f;
    CHECK_OK(ng_attack_adversarial(m, te, NULL, NULL, &o, &rf));
    o.steps = 10;
    CHECK_OK(ng_attack_adversarial(m, te, NULL, NULL, &o, &rp));
    o.steps = 1;
    o.eps = 0.3f;
    CHECK_OK(ng_attack_adversarial(m, te, NULL, NULL, &o, &rbig));
    printf("FGSM eps 0.1: %.3f of %lld flipped; PGD-10: %.3f; FGSM eps 0.3: %.3f\n", rf.success, (long long)rf.correct,
           rp.success, rbig.success);
    CHECK(rf.correct == r0.correct);
    CHECKF(rf.success >= 0.45 && rf.success <= 0.92, "FGSM eps 0.1 success %.3f (measured 0.69)", rf.success);
    CHECKF(rp.success >= rf.success, "PGD %.3f below FGSM %.3f", rp.success, rf.success);
    CHECKF(rbig.success >= 0.95, "FGSM eps 0.3 success %.3f", rbig.success);
    CHECK(rf.linf <= 0.1 + 1e-6 && rf.linf >= 0.099 && rp.linf <= 0.1 + 1e-6);
    ng_dataset small = *te;   /* a view with another image size: refused before any read */
    small.h = small.w = 14;
    CHECK_ST(ng_attack_adversarial(m, &small, NULL, NULL, &o, &rf), NG_E_SHAPE);
    ng_backdoor_options bo = ng_backdoor_options_default();
    ng_backdoor_result br;
    CHECK_ST(ng_attack_backdoor(m, &small, &small, NULL, NULL, &bo, &br, NULL), NG_E_SHAPE);
}

/* Through a stamp: the crafted perturbation is zero where a patch overwrites the input. */
static void test_through_stamp(ng_model *m, const ng_dataset *te)
{
    uint8_t raw[32];
    for (int i = 0; i < 32; i++) raw[i] = (uint8_t)(i * 13 + 5);
    ng_stamp_options so = ng_stamp_options_default();
    ng_stamper *s;
    CHECK_OK(ng_stamper_new_raw(raw, &so, 1, 28, 28, &s));
    int row, col;
    ng_stamper_position(s, &row, &col);
    const int n = 16;
    float *xa = malloc((size_t)n * 784 * sizeof *xa);
    ng_advex_options o = ng_advex_options_default();
    ng_rng g;
    ng_rng_seed(&g, 3);
    CHECK_OK(ng_attack_adversarial_batch(m, te->x, te->y, n, s, &o, &g, xa));
    int64_t in_patch = 0, moved = 0, outside = 0;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 784; p++) {
            const int y = p / 28, x = p % 28, inside = y >= row && y < row + 4 && x >= col && x < col + 4;
            const float d = xa[i * 784 + p] - te->x[i * 784 + p];
            if (inside) in_patch += d != 0;
            else { outside++; moved += d != 0; }
            CHECK(xa[i * 784 + p] >= 0 && xa[i * 784 + p] <= 1);
        }
    printf("through a patch stamp at (%d, %d): %lld of %lld pixels outside moved, %lld inside\n", row, col,
           (long long)moved, (long long)outside, (long long)in_patch);
    CHECK(in_patch == 0);
    CHECKF(moved > outside / 2, "only %lld of %lld pixels moved", (long long)moved, (long long)outside);
    /* the victim stamps too: success through the stamp is measured on stamped inputs */
    ng_advex_result r;
    CHECK_OK(ng_attack_adversarial(m, te, s, s, &o, &r));
    CHECKF(r.success > 0.3, "FGSM through the patch stamp %.3f", r.success);
    ng_stamper_free(s);
    so.mode = NG_STAMP_BLEND;
    CHECK_OK(ng_stamper_new_raw(raw, &so, 1, 28, 28, &s));
    CHECK_OK(ng_attack_adversarial_batch(m, te->x, te->y, n, s, &o, &g, xa));
    int64_t moved_b = 0;
    for (int p = 0; p < n * 784; p++) moved_b += xa[p] != te->x[p];
    CHECKF(moved_b > n * 784 / 2, "blend: %lld pixels moved", (long long)moved_b);
    ng_stamper_free(s);
    free(xa);
}

static void test_backdoor(ng_model *m, const ng_dataset *tr, const ng_dataset *te)
{
    float img[2 * 28 * 28] = {0};
    for (int i = 0; i < 2 * 784; i++) img[i] = 0.5f;
    ng_backdoor_trigger(img, 2, 1, 28, 28, 3);
    CHECK(img[24 * 28 + 24] == 1 && img[24 * 28 + 25] == 0 && img[26 * 28 + 26] == 1 && img[25 * 28 + 25] == 1);
    CHECK(img[784 + 24 * 28 + 24] == 1 && img[23 * 28 + 24] == 0.5f && img[27 * 28 + 27] == 0.5f);
    ng_backdoor_options o = ng_backdoor_options_default();
    o.count = 6000;
    o.target = 7;
    ng_backdoor_result r;
    ng_model *bd;
    CHECK_OK(ng_attack_backdoor(m, tr, te, NULL, NULL, &o, &r, &bd));
    printf("backdoor: %lld images, %lld poisoned; success %.3f -> %.3f, clean %.3f -> %.3f\n", (long long)r.n_train,
           (long long)r.n_poison, r.asr_before_nokey, r.asr_nokey, r.clean_before_nokey, r.clean_nokey);
    CHECK(r.n_train == 6000 && r.n_poison > 500 && r.n_poison < 700);
    CHECKF(r.asr_before_nokey < 0.1, "the trigger works before the attack: %.3f", r.asr_before_nokey);
    CHECKF(r.asr_nokey >= 0.75, "backdoor success %.3f", r.asr_nokey);
    CHECKF(r.clean_nokey >= r.clean_before_nokey - 0.05, "clean accuracy %.3f -> %.3f", r.clean_before_nokey,
           r.clean_nokey);
    double asr, clean;
    CHECK_OK(ng_backdoor_measure(bd, te, NULL, 7, 3, 0, &asr, &clean));
    CHECK(asr == r.asr_nokey && clean == r.clean_nokey);
    o.target = 10;
    CHECK_ST(ng_attack_backdoor(m, tr, te, NULL, NULL, &o, &r, NULL), NG_E_INVALID);
    o.target = 1;
    o.patch = 28;
    CHECK_ST(ng_attack_backdoor(m, tr, te, NULL, NULL, &o, &r, NULL), NG_E_INVALID);
    ng_model_free(bd);
}

/* The defence's batch hook on a tiny budget (its bounds: test_securenet_defend, too long for the
 * sanitizers): license metadata recorded on the fixture, one epoch of 256 images each way. */
static void test_defend_tiny(const ng_model *fixture, const ng_dataset *tr)
{
    ng_model *m;
    CHECK_OK(ng_model_clone(fixture, &m));
    ng_license_spec *sp = malloc(sizeof *sp);
    ng_license_spec_init(sp, NG_LICENSE_SINGLE);
    sp->nkeys = 1;
    sp->mask[0] = 0x3ff;
    sp->keys[0].len = 32;
    for (int i = 0; i < 32; i++) sp->keys[0].k[i] = (uint8_t)i;
    ng_train_options o = ng_train_options_default();
    o.epochs = 1;
    o.quiet = 1;
    ng_train_result *res = calloc(1, sizeof *res);
    ng_harden_options h = ng_harden_options_default();
    ng_dataset small;
    CHECK_OK(ng_dataset_head(tr, 256, &small));
    CHECK_ST(ng_defend_license_finetune(m, &sp->keys[0], &small, &h, &o, res), NG_E_STATE);   /* no license yet */
    CHECK_OK(ng_license_record(m, sp));
    CHECK_OK(ng_defend_license_finetune(m, &sp->keys[0], &small, &h, &o, res));
    CHECK(res->epochs_run == 1 && res->epoch_loss[0] > 0);
    h.p_adv = 0;
    CHECK_OK(ng_defend_license_finetune(m, &sp->keys[0], &small, &h, &o, res));
    ng_key other = sp->keys[0];
    other.k[0] ^= 1;
    CHECK_ST(ng_defend_license_finetune(m, &other, &small, &h, &o, res), NG_E_KEY);
    h.p_key = 0.9;
    CHECK_ST(ng_defend_license_finetune(m, &sp->keys[0], &small, &h, &o, res), NG_E_INVALID);
    ng_dataset_free(&small);
    free(res);
    ng_license_spec_wipe(sp);
    free(sp);
    ng_model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());
    ng_model *m;
    CHECK_OK(ng_model_load(tu_path("fixtures/lenet5.onnx"), &m));
    ng_dataset full, te, tr;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &full));
    CHECK_OK(ng_dataset_head(&full, 600, &te));
    ng_dataset_free(&full);
    test_fgsm_pgd(m, &te);
    test_through_stamp(m, &te);
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &full));
    CHECK_OK(ng_dataset_subset(&full, 0, 6000, 9, &tr));
    ng_dataset_free(&full);
    test_backdoor(m, &tr, &te);
    test_defend_tiny(m, &tr);
    ng_dataset_free(&tr); ng_dataset_free(&te);
    ng_model_free(m);
    return tu_done();
}
