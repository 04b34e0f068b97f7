/* test_advparams_harden: the hardened AdvParams form (the default) on the LeNet-5 fixture and all
 * of Fashion-MNIST: <= 12% test accuracy with the default budget, never a value equal to its
 * tensor's min or max, decrypt bit-exact; the adaptive attacker's detector table against the
 * paper's form (the key only scores it). test_advparams_hardq runs the same paths under ASan.
 * ctest-label: slow heavy (all of Fashion-MNIST, a 2,000-parameter encryption) */
#include "adv_harden.h"

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());
    ng_dataset tr, te, atk;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &tr));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te));
    if (tu_fail) return tu_done();
    CHECK_OK(ng_dataset_subset(&tr, 0.01, 0, 1, &atk));   /* the attacker's 1% */
    const char *onnx = tu_path("fixtures/lenet5.onnx");
    char keyp[512];
    snprintf(keyp, sizeof keyp, "%s/h.advkey", tu_tmpdir());

    ng_adv_options o = ng_adv_options_default();
    CHECK(o.harden && o.budget == NG_ADV_HARDEN_BUDGET && o.target_acc == 0.10);
    double acc = ah_check_hardened(onnx, &tr, &te, &o, keyp);
    CHECKF(acc >= 0 && acc <= 0.12, "hardened test accuracy %.4f", acc);

    /* The paper's form: every value duplicates its tensor's extreme, found by the extremes and
     * duplicates detectors. The hardened form at 200 parameters (top 2,000 of 61,470; a random
     * ranking finds 6.5): the value detectors near the random rate (measured: 1-6); the gradient
     * detector is its known weak point (measured 83). */
    int64_t fp[NG_DETECTORS], fh[NG_DETECTORS], np_, nh;
    ng_adv_options po = ng_adv_options_paper();
    ah_detectors("paper form", onnx, &tr, &te, &atk, &po, fp, &np_);
    CHECK(np_ > 0 && fp[0] == np_ && fp[1] == np_);
    o.budget = 200;
    ah_detectors("hardened, 200 parameters", onnx, &tr, &te, &atk, &o, fh, &nh);
    CHECK(nh == 200);
    for (int d = 0; d < NG_DETECTORS; d++)
        if (d != 4) CHECKF(fh[d] <= 20, "detector %s finds %lld of 200", ng_detector_name(d), (long long)fh[d]);
    CHECKF(fh[4] <= 150, "gradient detector finds %lld of 200", (long long)fh[4]);

    /* With a dead layer (--dead-layer) at 500 (712 positions): issue 14's bar is a quarter of the
     * perturbed in each detector's top 10 x; measured here at most 77 of 712 (10.8%; a random
     * ranking finds 82.5 = 11.6%), asserted at 16%; encrypted <= 12%. */
    o.budget = 500;
    o.dead = 1;
    snprintf(keyp, sizeof keyp, "%s/hd.advkey", tu_tmpdir());
    acc = ah_check_hardened(onnx, &tr, &te, &o, keyp);
    CHECKF(acc >= 0 && acc <= 0.12, "hardened + dead layer test accuracy %.4f", acc);
    int64_t fd[NG_DETECTORS], nd;
    ng_adaptive_result r;
    ah_detectors_ft("hardened + dead layer, 500 parameters", onnx, &tr, &te, &atk, &o, 0, fd, &nd, &r);
    CHECK(nd > 500);
    for (int d = 0; d < NG_DETECTORS; d++)
        CHECKF(fd[d] * 100 <= nd * 16, "dead layer: detector %s finds %lld of %lld", ng_detector_name(d), (long long)fd[d],
               (long long)nd);
    ng_dataset_free(&atk);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    return tu_done();
}
