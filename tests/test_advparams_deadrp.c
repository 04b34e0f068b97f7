/* test_advparams_deadrp: the dead-layer form of the hardened AdvParams with the reset-proof rounds
 * (--form dead --reset-proof), and the dead layer elsewhere (--dead-at, --dead-layers), on the
 * LeNet-5 fixture and small subsets (2,000 training images, an encryption set of 128, 1,000 test
 * images): the budget and the dead layer's moves in the key, never a value equal to its tensor's
 * min or max, decrypt bit-exact (ah_check_hardened); the detector table on the encrypted model with
 * bounds a regression would fail; which tensors the dead-layer attacker re-initialises; and the
 * positions it leaves to the rest of the attack (ng_attack_dead_rest).
 * ctest-label: slow (loads Fashion-MNIST) */
#include "adv_harden.h"
#define DRP_BUDGET 150
/* Each detector's count in its top 10 x changed of the 61,470 weights, at 150 + the dead layer's
 * moves (362 changed; a random ranking finds 21.3): measured 0-19 (the gradient and duplicates
 * detectors); the plain hardened form puts 45 of 150 in the gradient detector's top 1,500. On the
 * dead-layer attacker's revived model (the other 280, top 2,800; random 12.8): measured 0-14. */
#define DRP_DET_MAX 40
#define DRP_REVIVED_DET_MAX 30

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());

    /* the positions the dead-layer attacker leaves to the rest of the attack: not the re-initialised
     * tensors (comma-separated) nor their biases */
    ng_position in[] = {{"c1.weight", 3}, {"c1.bias", 0}, {"c2.weight", 7}, {"c2.bias", 1}, {"f1.weight", 9},
                        {"c1.weightx", 2}}, rest[6];
    CHECK(ng_attack_dead_rest("c1.weight", in, 6, rest) == 4 && !strcmp(rest[0].tensor, "c2.weight"));
    CHECK(ng_attack_dead_rest("c1.weight,c2.weight", in, 6, rest) == 2 && !strcmp(rest[0].tensor, "f1.weight") &&
          !strcmp(rest[1].tensor, "c1.weightx"));

    ng_dataset tr, te, atk;
    if (!ah_small_sets(&tr, &te, &atk)) return tu_done();
    const char *onnx = tu_path("fixtures/lenet5.onnx");
    char keyp[512];
    snprintf(keyp, sizeof keyp, "%s/drp.advkey", tu_tmpdir());

    ng_adv_options o = ng_adv_options_default();
    o.budget = DRP_BUDGET;
    o.set_size = 128;
    o.dead = 1;
    o.reset_proof = 1;
    double acc = ah_check_hardened(onnx, &tr, &te, &o, keyp);
    CHECKF(acc >= 0 && acc <= 0.12, "dead layer + reset-proof test accuracy %.4f", acc);
    ng_adaptive_result r;
    int64_t f[NG_DETECTORS], n;
    ah_detectors_ft("dead layer + reset-proof, 150 parameters", onnx, &tr, &te, &atk, &o, 0, f, &n, &r);
    CHECKF(n > DRP_BUDGET && n < 2 * DRP_BUDGET + 150 && r.dead_then_perturbed > DRP_BUDGET, "%lld changed, %lld left "
           "after the dead layer", (long long)n, (long long)r.dead_then_perturbed);
    for (int d = 0; d < NG_DETECTORS; d++)
        CHECKF(f[d] <= DRP_DET_MAX && r.dead_then_det[d] <= DRP_REVIVED_DET_MAX, "detector %s finds %lld of %lld "
               "(revived model: %lld of %lld)", ng_detector_name(d), (long long)f[d], (long long)n,
               (long long)r.dead_then_det[d], (long long)r.dead_then_perturbed);
    CHECKF(!strcmp(r.dead_tensor, "c1.weight") && r.dead_reinit == 156, "dead-layer attacker re-initialised '%s' (%lld)",
           r.dead_tensor, (long long)r.dead_reinit);

    /* the second conv layer dead: c1 upstream of it is all zero-gradient too, but re-initialising
     * c1 revives nothing; the attacker re-initialises c2 (2,400 weights + 16 biases) */
    o.dead = 2;
    snprintf(keyp, sizeof keyp, "%s/drp2.advkey", tu_tmpdir());
    acc = ah_check_hardened(onnx, &tr, &te, &o, keyp);
    CHECKF(acc >= 0 && acc <= 0.12, "dead at c2 test accuracy %.4f", acc);
    ah_detectors_ft("dead at c2 + reset-proof, 150 parameters", onnx, &tr, &te, &atk, &o, 0, f, &n, &r);
    CHECKF(!strcmp(r.dead_tensor, "c2.weight") && r.dead_reinit == 2416, "dead-layer attacker re-initialised '%s' (%lld)",
           r.dead_tensor, (long long)r.dead_reinit);

    /* two consecutive dead layers: no single re-initialisation revives the network, the run of
     * both does (156 + 2,416 parameters) */
    o.dead = 1;
    o.dead_layers = 2;
    snprintf(keyp, sizeof keyp, "%s/drp12.advkey", tu_tmpdir());
    acc = ah_check_hardened(onnx, &tr, &te, &o, keyp);
    CHECKF(acc >= 0 && acc <= 0.12, "two dead layers test accuracy %.4f", acc);
    ah_detectors_ft("dead c1 and c2 + reset-proof, 150 parameters", onnx, &tr, &te, &atk, &o, 0, f, &n, &r);
    CHECKF(!strcmp(r.dead_tensor, "c1.weight,c2.weight") && r.dead_reinit == 2572,
           "dead-layer attacker re-initialised '%s' (%lld)", r.dead_tensor, (long long)r.dead_reinit);

    /* refused: a dead layer with no eligible tensor after it */
    ng_weights *w = NULL;
    ng_model *m = NULL;
    ng_adv_key *k = NULL;
    CHECK_OK(ng_weights_open(onnx, &w));
    CHECK_OK(ng_model_from_weights(w, &m));
    ng_adv_options bad = o;
    bad.dead = 5;          /* f3, the last of LeNet-5's five eligible tensors */
    bad.dead_layers = 1;
    if (m) CHECK_ST(ng_adv_encrypt(m, w, &tr, &bad, &k), NG_E_INVALID);
    bad.dead = 4;
    bad.dead_layers = 2;
    if (m) CHECK_ST(ng_adv_encrypt(m, w, &tr, &bad, &k), NG_E_INVALID);
    CHECK(k == NULL);
    ng_model_free(m);
    ng_weights_free(w);
    ng_dataset_free(&atk);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    return tu_done();
}
