/* test_securenet: SecureNet stamps re-derived from their definition with libsodium (known
 * answers), determinism, blend arithmetic, bad parameters, metadata parsing, and the license
 * training path on a tiny budget (reproducible from its seed). The accuracy bounds of a real
 * license training are in test_securenet_train.c. */
#include <sodium.h>
#include "tutil.h"
#include "protect/securenet/securenet_impl.h"

static void test_stamp(void)
{
    ng_key k = { .len = 32 };
    for (int i = 0; i < 32; i++) k.k[i] = (uint8_t)i;
    /* the derivation, done here from securenet.h's definition */
    uint8_t sub[32], b[4 + 784], nonce[24] = {0};
    const char *label = "nnguard-securenet-stamp-v1";
    crypto_generichash(sub, 32, (const uint8_t *)label, strlen(label), k.k, 32);
    crypto_stream_xchacha20(b, sizeof b, nonce, sub);
    const int row = (b[0] | b[1] << 8) % 25, col = (b[2] | b[3] << 8) % 25;
    ng_stamp_options o = ng_stamp_options_default();
    CHECK(o.mode == NG_STAMP_PATCH && o.patch == 4 && fabsf(o.alpha - 0.1f) < 1e-7f);
    ng_stamper *s, *s2;
    CHECK_OK(ng_stamper_new(&k, &o, 1, 28, 28, &s));
    int r, c;
    ng_stamper_position(s, &r, &c);
    CHECK(r == row && c == col);
    /* known answer (regression): key 00 01 .. 1f puts its patch at (0, 4) */
    CHECKF(r == 0 && c == 4, "position (%d, %d)", r, c);
    float x[2 * 784], y[2 * 784];
    for (int i = 0; i < 2 * 784; i++) x[i] = y[i] = 0.5f;
    ng_license_stamp(s, x, 2);
    int bad = 0;
    for (int n = 0; n < 2; n++)
        for (int i = 0; i < 28; i++)
            for (int j = 0; j < 28; j++) {
                float want = 0.5f;
                if (i >= row && i < row + 4 && j >= col && j < col + 4) want = (float)b[4 + (i - row) * 4 + (j - col)] / 255.0f;
                bad += x[n * 784 + i * 28 + j] != want;
            }
    CHECK(bad == 0);
    /* deterministic: a second stamper of the same key writes the same bytes */
    CHECK_OK(ng_stamper_new(&k, &o, 1, 28, 28, &s2));
    ng_license_stamp(s2, y, 2);
    CHECK(!memcmp(x, y, sizeof x));
    ng_stamper_free(s2);
    /* another key (one bit flipped) stamps something else */
    k.k[31] ^= 1;
    for (int i = 0; i < 2 * 784; i++) y[i] = 0.5f;
    CHECK_OK(ng_stamper_new(&k, &o, 1, 28, 28, &s2));
    ng_license_stamp(s2, y, 2);
    CHECK(memcmp(x, y, sizeof x) != 0);
    ng_stamper_free(s2);
    k.k[31] ^= 1;
    ng_stamper_free(s);
    /* blend: x' = 0.9 x + 0.1 P over the whole image */
    o.mode = NG_STAMP_BLEND;
    CHECK_OK(ng_stamper_new(&k, &o, 1, 28, 28, &s));
    for (int i = 0; i < 784; i++) x[i] = (float)(i % 7) / 7.0f;
    ng_license_stamp(s, x, 1);
    double err = 0;
    for (int i = 0; i < 784; i++) err = fmax(err, fabs(x[i] - (0.9 * (i % 7) / 7.0 + 0.1 * b[4 + i] / 255.0)));
    CHECK(err < 1e-6);
    /* bit for bit: fl(fl(b x) + fl(a p)) on every element, whichever ISA clone runs (no FMA); a
     * zero image stamps to fl(a p) exactly; then two images in one call. */
    {
        static float z[3 * 784], w[3 * 784];
        ng_license_stamp(s, z, 1);   /* z[0..783] = fl(a p) */
        for (int i = 0; i < 3 * 784; i++) w[i] = (float)((i * 37) % 101) / 101.0f;
        memcpy(z + 784, w, 2 * 784 * sizeof(float));
        ng_license_stamp(s, z + 784, 2);
        int same = 1;
        for (int i = 0; i < 2 * 784; i++) {
            volatile float bx = (1.0f - 0.1f) * w[i], want = bx + z[i % 784];
            same &= memcmp((const void *)&want, &z[784 + i], sizeof(float)) == 0;
        }
        CHECK(same);
    }
    ng_stamper_free(s);
    /* key id: first 8 bytes of BLAKE2b(key = K, "nnguard-securenet-id-v1") */
    char id[17], want[17];
    uint8_t h[32];
    crypto_generichash(h, 32, (const uint8_t *)"nnguard-securenet-id-v1", 23, k.k, 32);
    sodium_bin2hex(want, sizeof want, h, 8);
    ng_license_key_id(&k, id);
    CHECK(!strcmp(id, want));
    /* bad parameters */
    o = ng_stamp_options_default();
    o.patch = 29;
    CHECK_ST(ng_stamper_new(&k, &o, 1, 28, 28, &s), NG_E_INVALID);
    CHECK(s == NULL && strstr(ng_last_error(), "does not fit"));
    o.patch = 4;
    o.mode = NG_STAMP_BLEND;
    o.alpha = 0;
    CHECK_ST(ng_stamper_new(&k, &o, 1, 28, 28, &s), NG_E_INVALID);
    o.alpha = 1.5f;
    CHECK_ST(ng_stamper_new(&k, &o, 1, 28, 28, &s), NG_E_INVALID);
    ng_key k128 = { .len = 16 };
    CHECK_ST(ng_stamper_new(&k128, &o, 1, 28, 28, &s), NG_E_KEY);
    CHECK(strstr(ng_last_error(), "256 bits") != NULL);
}

/* The near misses license training denies: a key's own values 1-2 pixels off its place, clipped. */
static void test_shifted(void)
{
    ng_key k = { .len = 32 };
    for (int i = 0; i < 32; i++) k.k[i] = (uint8_t)i;   /* patch at (0, 4), see test_stamp */
    uint8_t sub[32], b[4 + 16], nonce[24] = {0};
    const char *label = "nnguard-securenet-stamp-v1";
    crypto_generichash(sub, 32, (const uint8_t *)label, strlen(label), k.k, 32);
    crypto_stream_xchacha20(b, sizeof b, nonce, sub);
    ng_stamp_options o = ng_stamp_options_default();
    ng_stamper *s;
    CHECK_OK(ng_stamper_new(&k, &o, 1, 28, 28, &s));
    float x[784];
    for (int i = 0; i < 784; i++) x[i] = -1;
    ng_sn_stamp_shifted(s, x, 1, 1, 1);   /* one row down: rows 1..4, columns 4..7 */
    int bad = 0;
    for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++) {
            const int in = r >= 1 && r <= 4 && c >= 4 && c <= 7;
            bad += x[r * 28 + c] != (in ? (float)b[4 + (r - 1) * 4 + (c - 4)] / 255.0f : -1.0f);
        }
    CHECKF(bad == 0, "%d pixels wrong after a one-row shift", bad);
    for (int i = 0; i < 784; i++) x[i] = -1;
    ng_sn_stamp_shifted(s, x, -2, 2, 1);  /* two rows up and one column right, clipped: rows 0..1 */
    bad = 0;
    for (int r = 0; r < 28; r++)
        for (int c = 0; c < 28; c++) {
            const int in = r <= 1 && c >= 5 && c <= 8;
            bad += x[r * 28 + c] != (in ? (float)b[4 + (r + 2) * 4 + (c - 5)] / 255.0f : -1.0f);
        }
    CHECKF(bad == 0, "%d pixels wrong after a clipped shift", bad);
    ng_stamper_free(s);
}

/* ng_license_key_align: the key moves to the reference key's place by a counter XORed into its
 * last 8 bytes (the first 24 kept), keeps values of its own, and an aligned key stays as it is. */
#define ALIGN_COUNTER 383
static void test_align(void)
{
    ng_key r = { .len = 32 }, k = { .len = 32 }, k0;
    for (int i = 0; i < 32; i++) { r.k[i] = (uint8_t)i; k.k[i] = (uint8_t)(100 + i); }   /* r: patch at (0, 4) */
    k0 = k;
    ng_stamp_options o = ng_stamp_options_default();
    CHECK_OK(ng_license_key_align(&k, &r, &o, 1, 28, 28));
    ng_stamper *sr, *sk;
    int rr, rc, kr, kc;
    CHECK_OK(ng_stamper_new(&r, &o, 1, 28, 28, &sr));
    CHECK_OK(ng_stamper_new(&k, &o, 1, 28, 28, &sk));
    ng_stamper_position(sr, &rr, &rc);
    ng_stamper_position(sk, &kr, &kc);
    CHECKF(rr == 0 && rc == 4 && kr == 0 && kc == 4, "aligned at (%d, %d), reference at (%d, %d)", kr, kc, rr, rc);
    CHECK(!memcmp(k.k, k0.k, 24) && memcmp(k.k + 24, k0.k + 24, 8));
    uint64_t ctr = 0;
    for (int b = 0; b < 8; b++) ctr |= (uint64_t)(k.k[24 + b] ^ k0.k[24 + b]) << (8 * b);
    CHECKF(ctr == ALIGN_COUNTER, "counter %llu", (unsigned long long)ctr);   /* known answer */
    float x[784] = {0}, y[784] = {0};
    ng_license_stamp(sr, x, 1);
    ng_license_stamp(sk, y, 1);
    CHECK(memcmp(x, y, sizeof x));   /* same place, other values */
    ng_stamper_free(sr); ng_stamper_free(sk);
    ng_key k1 = k;
    CHECK_OK(ng_license_key_align(&k1, &r, &o, 1, 28, 28));
    CHECK(!memcmp(k1.k, k.k, 32));
    o.mode = NG_STAMP_BLEND;   /* blend stamps have no place: the key is kept */
    k1 = k0;
    CHECK_OK(ng_license_key_align(&k1, &r, &o, 1, 28, 28));
    CHECK(!memcmp(k1.k, k0.k, 32));
    o = ng_stamp_options_default();
    o.patch = 30;
    CHECK_ST(ng_license_key_align(&k1, &r, &o, 1, 28, 28), NG_E_INVALID);
    o.patch = 4;
    k1.len = 16;
    CHECK_ST(ng_license_key_align(&k1, &r, &o, 1, 28, 28), NG_E_KEY);
}

static void test_meta(void)
{
    ng_stamp_options o;
    CHECK_OK(ng_license_stamp_parse("patch 4", "m", &o));
    CHECK(o.mode == NG_STAMP_PATCH && o.patch == 4);
    CHECK_OK(ng_license_stamp_parse("blend 0.25", "m", &o));
    CHECK(o.mode == NG_STAMP_BLEND && fabsf(o.alpha - 0.25f) < 1e-7f);
    const char *bad[] = {"patch 0", "patch 65", "patch 4x", "patch -1", "blend 0", "blend 1.5", "blend x", "blend nan",
                         "patchy", "", "blend ", "patch 99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_ST(ng_license_stamp_parse(bad[i], "m", &o), NG_E_FORMAT);
    uint64_t mk = 0;
    const char *keys = "0123456789abcdef:3ff,fedcba9876543210:1f";
    CHECK_OK(ng_license_keys_find(keys, "fedcba9876543210", &mk));
    CHECK(mk == 0x1f);
    CHECK_OK(ng_license_keys_find(keys, "0123456789abcdef", &mk));
    CHECK(mk == 0x3ff);
    CHECK_ST(ng_license_keys_find(keys, "0000000000000000", &mk), NG_E_KEY);
    const char *badk[] = {"0123:1", "0123456789abcdef:", "0123456789abcdef:g", "0123456789abcdef:11111111111111111",
                          "0123456789abcdef:3ff;", "0123456789abcdef"};
    for (size_t i = 0; i < sizeof badk / sizeof badk[0]; i++)
        CHECK_ST(ng_license_keys_find(badk[i], "0000000000000000", &mk), NG_E_FORMAT);
    ng_license_scheme sc;
    CHECK_OK(ng_license_scheme_parse("hierarchical", &sc));
    CHECK(sc == NG_LICENSE_HIERARCHICAL);
    CHECK_ST(ng_license_scheme_parse("double", &sc), NG_E_INVALID);
}

/* The license training path on a tiny budget (runs under the sanitizers): the same seed gives
 * bit-identical weights, another key other weights; the metadata names scheme, stamp and key. */
static void test_train_small(const ng_dataset *tr)
{
    ng_license_spec *sp = malloc(sizeof *sp);
    /* the defaults (ng_license_spec_shares): single patch 0.7 throughout, the others a ramp */
    ng_license_spec_init(sp, NG_LICENSE_SINGLE);
    CHECK(sp->p_key == 0.7 && sp->p_key_end == 0 && sp->deny_mass == 0.5f && sp->deny_weight == 1.0f);
    sp->stamp.mode = NG_STAMP_BLEND;
    ng_license_spec_shares(sp);
    CHECK(sp->p_key == 0.5 && sp->p_key_end == 0.8 && sp->deny_mass == 0.3f && sp->deny_weight == 3.0f);
    CHECK(sp->p_shift_random == 0 && sp->label_smooth == 0);
    ng_license_spec_init(sp, NG_LICENSE_PER_USER);
    CHECK(sp->p_key == 0.5 && sp->p_key_end == 0.75 && sp->deny_mass == 0.3f && sp->deny_weight == 2.0f);
    CHECK(sp->p_shift_random == 0.7 && sp->label_smooth == 0.15f);
    ng_license_spec_init(sp, NG_LICENSE_HIERARCHICAL);
    CHECK(sp->p_key == 0.5 && sp->p_key_end == 0.8 && sp->deny_mass == 0.3f && sp->deny_weight == 1.25f);
    CHECK(sp->p_shift_random == 0 && sp->label_smooth == 0.1f && sp->master_share == 0.65);
    ng_license_spec_init(sp, NG_LICENSE_CLASS_SUBSET);
    CHECK(sp->p_key == 0.5 && sp->p_key_end == 0.8 && sp->deny_mass == 0.3f && sp->deny_weight == 2.0f);
    ng_license_spec_init(sp, NG_LICENSE_PER_USER);
    CHECK(fabs(sp->p_clean - 0.1) < 1e-12);
    sp->nkeys = 2;
    for (int k = 0; k < 2; k++) {
        sp->keys[k].len = 32;
        for (int i = 0; i < 32; i++) sp->keys[k].k[i] = (uint8_t)(k * 31 + i);
        sp->mask[k] = 0x3ff;
    }
    sp->nrevoked = 1;
    sp->revoked[0].len = 32;
    ng_train_options o = ng_train_options_default();
    o.epochs = 1;
    o.seed = 5;
    o.quiet = 1;
    ng_train_result *r = calloc(1, sizeof *r);
    ng_model *m[3];
    for (int t = 0; t < 3; t++) {
        if (t == 2) sp->keys[1].k[0] ^= 1;
        CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 7, &m[t]));
        CHECK_OK(ng_license_train(m[t], sp, tr, NULL, &o, r));
    }
    const size_t np = ng_model_nparams(m[0]);
    CHECK(!memcmp(ng_model_params_c(m[0]), ng_model_params_c(m[1]), np * sizeof(float)));
    CHECK(memcmp(ng_model_params_c(m[0]), ng_model_params_c(m[2]), np * sizeof(float)) != 0);
    /* p_near: auto is 1 for a LeNet-5 (no global pooling), bit for bit; 0 (no near misses) trains apart */
    CHECK(sp->p_near == NG_LICENSE_NEAR_AUTO);
    sp->keys[1].k[0] ^= 1;   /* m[0]'s keys */
    for (int t = 0; t < 2; t++) {
        ng_model *pn;
        sp->p_near = t ? 0 : 1;
        CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 7, &pn));
        CHECK_OK(ng_license_train(pn, sp, tr, NULL, &o, r));
        CHECK(!memcmp(ng_model_params_c(m[0]), ng_model_params_c(pn), np * sizeof(float)) == !t);
        ng_model_free(pn);
    }
    sp->p_near = NG_LICENSE_NEAR_AUTO;
    sp->keys[1].k[0] ^= 1;
    CHECK(!strcmp(ng_model_meta_get(m[0], "nnguard.license.scheme"), "per-user"));
    CHECK(!strcmp(ng_model_meta_get(m[0], "nnguard.license.stamp"), "patch 4"));
    CHECK(!strcmp(ng_model_meta_get(m[0], "nnguard.license.deny"), "0"));
    uint64_t mask = 0;
    CHECK_OK(ng_license_key_classes(m[2], &sp->keys[1], &mask));
    CHECK(mask == 0x3ff);
    CHECK_ST(ng_license_key_classes(m[2], &sp->revoked[0], &mask), NG_E_KEY);
    /* bad specs */
    sp->mask[0] = 0x400;
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    sp->mask[0] = 0x3ff;
    sp->deny_class = 10;
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    sp->deny_class = 0;
    const ng_license_spec keep = *sp;
    sp->p_key_end = 1.5;
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    *sp = keep; sp->deny_mass = 0.05f;   /* below 1/10: the deny class would not be the answer */
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    *sp = keep; sp->deny_weight = 0;
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    *sp = keep; sp->scheme = NG_LICENSE_HIERARCHICAL; sp->master_share = 1;   /* the tiers would never train */
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    sp->master_share = 0.65;   /* the master's share is used: 0.65 and 0.5 train apart */
    {
        ng_model *h[2];
        for (int t = 0; t < 2; t++) {
            sp->master_share = t ? 0.5 : 0.65;
            CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 7, &h[t]));
            CHECK_OK(ng_license_train(h[t], sp, tr, NULL, &o, r));
        }
        CHECK(memcmp(ng_model_params_c(h[0]), ng_model_params_c(h[1]), np * sizeof(float)) != 0);
        for (int t = 0; t < 2; t++) ng_model_free(h[t]);
    }
    *sp = keep; sp->p_shift_random = 1.5;
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    *sp = keep; sp->label_smooth = 1;
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    *sp = keep; sp->p_near = 1.5;
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    *sp = keep;
    o.resume = 1;   /* a ramp would restart on resume */
    CHECK_ST(ng_license_train(m[0], sp, tr, NULL, &o, r), NG_E_UNSUPPORTED);
    o.resume = 0;
    /* the ramp is used: over 2 epochs, p_key_end = p_key trains as no ramp (bit for bit), 0.8 not */
    {
        ng_model *q[3];
        o.epochs = 2;
        const double ends[3] = {0, sp->p_key, 0.8};
        for (int t = 0; t < 3; t++) {
            sp->p_key_end = ends[t];
            CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 7, &q[t]));
            CHECK_OK(ng_license_train(q[t], sp, tr, NULL, &o, r));
        }
        CHECK(!memcmp(ng_model_params_c(q[0]), ng_model_params_c(q[1]), np * sizeof(float)));
        CHECK(memcmp(ng_model_params_c(q[0]), ng_model_params_c(q[2]), np * sizeof(float)) != 0);
        for (int t = 0; t < 3; t++) ng_model_free(q[t]);
        o.epochs = 1;
        *sp = keep;
    }
    /* replacement with a teacher (the model before): reproducible, and it needs the old key */
    ng_model *t2[2];
    sp->teacher = m[0];
    for (int t = 0; t < 2; t++) {
        CHECK_OK(ng_model_clone(m[0], &t2[t]));
        CHECK_OK(ng_license_train(t2[t], sp, tr, NULL, &o, r));
    }
    CHECK(!memcmp(ng_model_params_c(t2[0]), ng_model_params_c(t2[1]), np * sizeof(float)));
    CHECK(memcmp(ng_model_params_c(t2[0]), ng_model_params_c(m[0]), np * sizeof(float)) != 0);
    /* the label's share in the taught targets is used, and bounded */
    sp->teacher_label = NG_LICENSE_REPLACE_TEACHER_LABEL;
    ng_model_free(t2[1]);
    CHECK_OK(ng_model_clone(m[0], &t2[1]));
    CHECK_OK(ng_license_train(t2[1], sp, tr, NULL, &o, r));
    CHECK(memcmp(ng_model_params_c(t2[0]), ng_model_params_c(t2[1]), np * sizeof(float)) != 0);
    sp->teacher_label = 1.5f;
    CHECK_ST(ng_license_train(t2[1], sp, tr, NULL, &o, r), NG_E_INVALID);
    sp->teacher_label = 0;
    sp->nrevoked = 0;
    CHECK_ST(ng_license_train(t2[0], sp, tr, NULL, &o, r), NG_E_INVALID);
    for (int t = 0; t < 2; t++) ng_model_free(t2[t]);
    for (int t = 0; t < 3; t++) ng_model_free(m[t]);
    free(r);
    ng_license_spec_wipe(sp);
    free(sp);
}

/* Replacement's default rate: 0.005 for a model with BatchNormalization, 0.03 without. */
static void test_replace_lr(void)
{
    ng_model *m = NULL;
    CHECK_OK(ng_model_load(tu_path("fixtures/lenet5.onnx"), &m));
    CHECK(ng_license_replace_lr(m) == NG_LICENSE_REPLACE_SGD_LR);
    ng_model_free(m);
    CHECK_OK(ng_model_load(tu_path("fixtures/op_batchnorm.onnx"), &m));
    CHECK(ng_license_replace_lr(m) == NG_LICENSE_REPLACE_SGD_LR_BN);
    ng_model_free(m);
    CHECK(NG_LICENSE_REPLACE_SGD_LR_BN == 0.005f && NG_LICENSE_REPLACE_SGD_LR == 0.03f);
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());
    test_stamp();
    test_shifted();
    test_align();
    test_meta();
    test_replace_lr();
    ng_dataset full, tr;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &full));
    CHECK_OK(ng_dataset_subset(&full, 0, 500, 1, &tr));
    test_train_small(&tr);
    ng_dataset_free(&full); ng_dataset_free(&tr);
    return tu_done();
}
