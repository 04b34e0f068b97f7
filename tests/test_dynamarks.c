/* test_dynamarks: the DynaMarks watermark and its statistics on exact numbers.
 * - key derivation, rankings, input hash h(x), strength and label selection against known answers
 *   computed independently (tests/dynamarks_kat.py: hashlib's blake2b, the cryptography package's
 *   ChaCha20, NH in Python integers; the derivations of nnguard/dynamarks.h); every NH
 *   implementation against the portable one at every chunk length;
 * - Mahonian null, Kendall inversions and binomial tail against hand/closed-form values;
 * - soft mode on the whole Fashion-MNIST test set: every label identical; label mode alters
 *   about r; the watermarked answers themselves verify as stolen, independent keys do not;
 * - the /v1/predict body parser and the clients file on good and bad inputs.
 * ctest-label: slow */
#include <float.h>
#include <jansson.h>
#include "tutil.h"
#include "nnguard/dynamarks.h"
#include "nnguard/serve.h"
#include "nnguard/rng.h"
#include "protect/dynamarks/nh.h"

static void fixed_key(ng_key *k, uint8_t base)
{
    k->len = 32;
    for (int i = 0; i < 32; i++) k->k[i] = (uint8_t)(base + i);
}

static void test_known_answers(void)
{
    ng_key k;
    fixed_key(&k, 0);
    ng_wm *w;
    CHECK_OK(ng_wm_new(&k, 10, NULL, &w));
    static const int r0[9] = {2, 1, 8, 4, 9, 3, 5, 6, 7}, r3[9] = {6, 8, 5, 2, 7, 9, 0, 1, 4},
                     r9[9] = {7, 0, 8, 5, 6, 1, 2, 3, 4};
    int o[9];
    ng_wm_ranking(w, 0, o); CHECK(!memcmp(o, r0, sizeof o));
    ng_wm_ranking(w, 3, o); CHECK(!memcmp(o, r3, sizeof o));
    ng_wm_ranking(w, 9, o); CHECK(!memcmp(o, r9, sizeof o));
    float x[784];
    for (int i = 0; i < 784; i++) x[i] = (float)((double)i / 784.0);
    uint8_t d[NG_WM_HASH_BYTES];
    ng_wm_hash(w, x, 784, d);
    /* tests/dynamarks_kat.py computes these with hashlib, the cryptography package's ChaCha20 and
     * NH in Python integers */
    static const uint8_t dref[64] = {0x4d,0x8d,0xf0,0xce,0x0f,0xc5,0x5e,0x5c,0xed,0x85,0xab,0x3c,0x2d,0x21,0xea,0x28,
                                     0xe9,0x81,0x12,0xa4,0x40,0x99,0x41,0xb3,0x51,0x7c,0xd5,0x4f,0x7d,0xc6,0x0d,0x27,
                                     0x7d,0x35,0x6d,0xc1,0x11,0x18,0x18,0xa5,0xb1,0x02,0x8d,0x96,0x79,0x0f,0x7f,0x41,
                                     0x45,0xb6,0xe2,0x95,0xed,0x1b,0x1e,0xa7,0x2e,0x67,0x1f,0xe9,0x08,0x14,0x9a,0x6d};
    CHECK(!memcmp(d, dref, 64));
    /* three NH chunks, the last one 13 words (zero-padded to 16); an odd length in one chunk */
    static const uint8_t d2061[32] = {0x0d,0xa4,0xa7,0x70,0xf6,0x7f,0x51,0x8b,0x93,0x77,0x8e,0xd9,0x45,0x81,0x43,0x60,
                                      0x40,0x43,0x13,0xdb,0x42,0xfd,0x21,0x58,0xad,0xe6,0x08,0xfb,0x03,0xcb,0xfb,0x85},
                         d783[32] = {0x76,0x58,0x77,0xcf,0x13,0xd2,0xf1,0xf8,0xce,0x41,0x8f,0xdc,0x8c,0x3d,0xc6,0x19,
                                     0x84,0xd0,0x8b,0x1b,0x41,0xef,0x88,0x8b,0xed,0x40,0xc3,0x9e,0x11,0x9b,0xb6,0x1f};
    float *xl = malloc(2061 * sizeof *xl);
    for (int i = 0; i < 2061; i++) xl[i] = (float)((double)i / 784.0);
    uint8_t d3[NG_WM_HASH_BYTES];
    ng_wm_hash(w, xl, 2061, d3);
    CHECK(!memcmp(d3, d2061, 32));
    ng_wm_hash(w, x, 783, d3);
    CHECK(!memcmp(d3, d783, 32));
    memcpy(xl + 1, x, 783 * sizeof *x);   /* one float off alignment: the same hash */
    ng_wm_hash(w, xl + 1, 783, d3);
    CHECK(!memcmp(d3, d783, 32));
    /* a batch gives each input's hash; one bit more in one input changes its hash */
    memcpy(xl, x, sizeof x);
    memcpy(xl + 784, x, sizeof x);
    xl[784 + 5] = nextafterf(xl[784 + 5], 1.0f);
    uint8_t db[2 * NG_WM_HASH_BYTES];
    ng_wm_hash_batch(w, xl, 2, 784, db);
    CHECK(!memcmp(db, dref, 64) && memcmp(db + 64, dref, 32) != 0);
    free(xl);
    /* a confident answer: the strength is not bounded, so it is the keyed draw 0.493469668674905 */
    float p[10] = {0.91f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f, 0.01f};
    ng_wm_answer a;
    CHECK_OK(ng_wm_apply(w, x, 784, p, &a));
    CHECK(a.marked && a.label == 0 && a.label_true == 0);
    CHECK(!memcmp(a.digest, dref, 32));
    CHECK_NEAR(a.strength, 0.493469668674905, 1e-12);
    /* p'_j = (1-a) 0.01 + a 0.09 q_r with q_r = 2(9-r)/90: the class ranked first gets the most */
    CHECK_NEAR(p[2], (1 - a.strength) * 0.01 + a.strength * 0.09 * 18.0 / 90, 1e-7);
    CHECK_NEAR(p[7], (1 - a.strength) * 0.01 + a.strength * 0.09 * 2.0 / 90, 1e-7);
    CHECK(p[0] == 0.91f);
    double sum = 0;
    for (int j = 0; j < 10; j++) sum += p[j];
    CHECK_NEAR(sum, 1.0, 1e-6);
    ng_wm_free(w);
    /* label mode: selection draw 0.255845 (selected iff r > 0.255845), wrong label offset 7 */
    ng_wm_options lo = ng_wm_options_default();
    lo.mode = NG_WM_LABEL;
    lo.rate = 0.26;
    CHECK_OK(ng_wm_new(&k, 10, &lo, &w));
    float q[10] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.5f, 0.0f, 0.0f, 0.0f};
    CHECK_OK(ng_wm_apply(w, x, 784, q, &a));
    CHECK(a.marked && a.label_true == 6 && a.label == (6 + 1 + 7) % 10 && q[a.label] == 1.0f);
    ng_wm_free(w);
    lo.rate = 0.25;
    CHECK_OK(ng_wm_new(&k, 10, &lo, &w));
    float q2[10] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.5f, 0.0f, 0.0f, 0.0f};
    CHECK_OK(ng_wm_apply(w, x, 784, q2, &a));
    CHECK(!a.marked && a.label == 6 && q2[6] == 1.0f);
    ng_wm_free(w);
    /* bad keys and options */
    ng_key k16 = k;
    k16.len = 16;
    CHECK_ST(ng_wm_new(&k16, 10, NULL, &w), NG_E_KEY);
    CHECK_ST(ng_wm_new(&k, 2, NULL, &w), NG_E_UNSUPPORTED);
    ng_wm_options bad = ng_wm_options_default();
    bad.a_max = 1.0;
    CHECK_ST(ng_wm_new(&k, 10, &bad, &w), NG_E_INVALID);
    double a0, a1;
    CHECK(ng_wm_parse_strength("0.6", &a0, &a1) == 0 && a0 == 0.3 && a1 == 0.6);
    CHECK(ng_wm_parse_strength("0.2,0.5", &a0, &a1) == 0 && a0 == 0.2 && a1 == 0.5);
    CHECK(ng_wm_parse_strength("0.5,0.2", &a0, &a1) < 0 && ng_wm_parse_strength("1", &a0, &a1) < 0);
    CHECK(ng_wm_parse_strength("", &a0, &a1) < 0 && ng_wm_parse_strength("-0.1", &a0, &a1) < 0);
    CHECK(ng_wm_parse_strength("0.3,", &a0, &a1) < 0 && ng_wm_parse_strength("nan", &a0, &a1) < 0);
}

/* Every NH implementation this CPU runs (AVX2 / SSE2 / portable) gives the portable one's values,
 * at every length of a chunk (the zero padding of the tail) and any alignment. */
static void test_nh(void)
{
    uint32_t k[NG_NH_KEY_WORDS], m[NG_NH_CHUNK + 1];
    ng_rng r;
    ng_rng_seed(&r, 12);
    for (int i = 0; i < NG_NH_KEY_WORDS; i++) k[i] = (uint32_t)ng_rng_u64(&r);
    for (int i = 0; i <= NG_NH_CHUNK; i++) m[i] = (uint32_t)ng_rng_u64(&r);
    int bad = 0, tried = 0;
    for (int i = 1; i < 3; i++) {
        ng_nh_fn f = ng_nh_variant(i);
        if (!f) continue;
        tried++;
        for (size_t l = 0; l <= NG_NH_CHUNK; l++) {
            uint64_t a[NG_NH_ITER], b[NG_NH_ITER];
            ng_nh_ref(k, m + (l & 1), l, a);
            f(k, m + (l & 1), l, b);
            bad += memcmp(a, b, sizeof a) != 0;
        }
    }
#if defined(__x86_64__)
    CHECK(tried >= 1);   /* SSE2 at least */
#endif
    CHECK(bad == 0);
    CHECK(ng_nh_variant(0) == ng_nh_ref && ng_nh_variant(3) == NULL);
    /* a hand-checked value: l = 2, iteration 0 is (m0 + k0)(m1 + k1) plus the padding pairs */
    uint32_t one[2] = {1, 2};
    uint64_t v[NG_NH_ITER], want = (uint64_t)(uint32_t)(1 + k[0]) * (uint32_t)(2 + k[1]);
    for (int i = 2; i < NG_NH_PAD; i += 2) want += (uint64_t)k[i] * k[i + 1];
    ng_nh_ref(k, one, 2, v);
    CHECK(v[0] == want);
}

static void test_statistics(void)
{
    /* Mahonian(3): inversion counts 0..3 with 1, 2, 2, 1 permutations of 6 */
    CHECK_NEAR(ng_wm_mahonian_cdf(3, 1, 0), 1.0 / 6, 1e-15);
    CHECK_NEAR(ng_wm_mahonian_cdf(3, 1, 1), 3.0 / 6, 1e-15);
    CHECK_NEAR(ng_wm_mahonian_cdf(3, 1, 3), 1.0, 1e-15);
    CHECK_NEAR(ng_wm_mahonian_cdf(3, 2, 0), 1.0 / 36, 1e-15);
    CHECK_NEAR(ng_wm_mahonian_cdf(3, 2, 1), 1.0 / 36 + 2 * 2.0 / 36, 1e-15);   /* (0,0), (0,1), (1,0) */
    CHECK_NEAR(ng_wm_mahonian_cdf(9, 1, 0), 1.0 / 362880, 1e-18);
    double p10 = ng_wm_mahonian_cdf(9, 10, 0);
    CHECK(p10 > 0 && fabs(log(p10) - 10 * log(1.0 / 362880)) < 1e-9);
    CHECK_NEAR(ng_wm_mahonian_cdf(9, 10, 360), 1.0, 1e-12);
    CHECK_NEAR(ng_wm_mahonian_cdf(9, 10, 179), 0.5 - 0.5 * (ng_wm_mahonian_cdf(9, 10, 180) - ng_wm_mahonian_cdf(9, 10, 179)), 1e-12); /* symmetric */
    CHECK(ng_wm_mahonian_cdf(9, 10, -1) == 0);
    int ref[3] = {0, 1, 2};
    double s1[3] = {3, 2, 1}, s2[3] = {1, 2, 3}, s3[3] = {1, 1, 1}, s4[3] = {2, 3, 1};
    CHECK(ng_wm_inversions(ref, s1, 3) == 0 && ng_wm_inversions(ref, s2, 3) == 3);
    CHECK(ng_wm_inversions(ref, s3, 3) == 3 && ng_wm_inversions(ref, s4, 3) == 1);
    CHECK_NEAR(ng_binom_sf(10, 10, 0.5), 1.0 / 1024, 1e-15);
    CHECK(ng_binom_sf(10, 0, 0.5) == 1 && ng_binom_sf(10, 11, 0.5) == 0);
    CHECK_NEAR(ng_binom_sf(20, 15, 0.25) / 3.813027433352545e-06, 1.0, 1e-9);
    CHECK_NEAR(ng_binom_sf(1000, 200, 1.0 / 9) / 2.2206537255033033e-16, 1.0, 1e-6);
    ng_wm_result r;
    int32_t a[40], b[40];
    for (int i = 0; i < 40; i++) { a[i] = i % 10; b[i] = i % 10; }
    CHECK_OK(ng_wm_label_verify(10, a, b, 40, 1e-6, &r));
    CHECK(r.agree == 40 && r.stolen && fabs(log(r.p_value) - 40 * log(1.0 / 9)) < 1e-9);
    for (int i = 0; i < 40; i++) b[i] = (i + 1) % 10;
    CHECK_OK(ng_wm_label_verify(10, a, b, 40, 1e-6, &r));
    CHECK(r.agree == 0 && r.p_value == 1 && !r.stolen);
    CHECK_ST(ng_wm_label_verify(10, a, b, 0, 1e-6, &r), NG_E_INVALID);
}

/* The fixture LeNet-5 over the whole test set. */
static void test_on_model(void)
{
    ng_model *m;
    ng_dataset te;
    CHECK_OK(ng_model_load(tu_path("fixtures/lenet5.onnx"), &m));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te));
    int64_t n = te.n, dim = 784;
    float *po = malloc((size_t)n * 10 * sizeof *po), *pw = malloc((size_t)n * 10 * sizeof *pw);
    CHECK_OK(ng_model_predict_proba(m, te.x, n, 0, po));
    ng_key k;
    fixed_key(&k, 7);
    ng_wm *w;
    CHECK_OK(ng_wm_new(&k, 10, NULL, &w));
    int64_t same = 0, marked = 0, sum_ok = 0;
    for (int64_t i = 0; i < n; i++) {
        memcpy(pw + i * 10, po + i * 10, 10 * sizeof *pw);
        ng_wm_answer a;
        CHECK_OK(ng_wm_apply(w, te.x + i * dim, (size_t)dim, pw + i * 10, &a));
        int b0 = 0, b1 = 0;
        double s = 0;
        for (int j = 0; j < 10; j++) {
            if (po[i * 10 + j] > po[i * 10 + b0]) b0 = j;
            if (pw[i * 10 + j] > pw[i * 10 + b1]) b1 = j;
            s += pw[i * 10 + j];
        }
        same += b0 == b1 && a.label == b0;
        marked += a.marked;
        sum_ok += fabs(s - 1) < 1e-5;
    }
    CHECKF(same == n, "soft mode changed %lld of %lld labels", (long long)(n - same), (long long)n);
    CHECKF(marked > n * 99 / 100, "only %lld of %lld answers carry the mark", (long long)marked, (long long)n);
    CHECK(sum_ok == n);
    /* the watermarked answers themselves: every class's ranking recovered */
    ng_wm_result r;
    CHECK_OK(ng_wm_soft_verify(w, pw, po, n, 1e-6, &r));
    CHECKF(r.statistic > 9.5 && r.p_value < 1e-40 && r.stolen, "API answers: T = %g, p = %g", r.statistic, r.p_value);
    /* the owner's own plain answers under five other keys: nothing to find */
    for (int t = 0; t < 5; t++) {
        ng_key k2;
        ng_wm *w2;
        fixed_key(&k2, (uint8_t)(100 + t));
        CHECK_OK(ng_wm_new(&k2, 10, NULL, &w2));
        CHECK_OK(ng_wm_soft_verify(w2, po, po, n, 1e-6, &r));
        CHECKF(r.p_value > 1e-3 && !r.stolen, "plain model, key %d: p = %g", t, r.p_value);
        ng_wm_free(w2);
    }
    ng_wm_free(w);
    /* label mode at r = 5%: about 5% altered, never to the true label, deterministic */
    ng_wm_options lo = ng_wm_options_default();
    lo.mode = NG_WM_LABEL;
    lo.rate = 0.05;
    CHECK_OK(ng_wm_new(&k, 10, &lo, &w));
    int64_t alt = 0, wrong_ok = 0, det = 0, acc_plain = 0, acc_wm = 0;
    for (int64_t i = 0; i < n; i++) {
        float p1[10], p2[10];
        memcpy(p1, po + i * 10, sizeof p1);
        memcpy(p2, po + i * 10, sizeof p2);
        ng_wm_answer a1, a2;
        CHECK_OK(ng_wm_apply(w, te.x + i * dim, (size_t)dim, p1, &a1));
        CHECK_OK(ng_wm_apply(w, te.x + i * dim, (size_t)dim, p2, &a2));
        alt += a1.marked;
        wrong_ok += !a1.marked || a1.label != a1.label_true;
        det += a1.label == a2.label;
        acc_plain += a1.label_true == te.y[i];
        acc_wm += a1.label == te.y[i];
    }
    double frac = (double)alt / (double)n;
    CHECKF(fabs(frac - 0.05) < 0.01, "label mode altered %.4f of answers, expected about 0.05", frac);
    CHECK(wrong_ok == n && det == n);
    CHECKF(acc_plain - acc_wm > alt * 8 / 10 && acc_plain - acc_wm <= alt, "accuracy drop %lld for %lld altered",
           (long long)(acc_plain - acc_wm), (long long)alt);
    ng_wm_free(w);
    free(po); free(pw);
    ng_dataset_free(&te);
    ng_model_free(m);
}

static int parse_ok(const char *body, int64_t want_n, float first, float last)
{
    ng_req_shape s = {1, 28, 28};
    float *x;
    int64_t n;
    if (ng_req_parse_json(body, strlen(body), &s, 16, &x, &n) != NG_OK) { fprintf(stderr, "%s\n", ng_last_error()); return 0; }
    int ok = n == want_n && x[0] == first && x[n * 784 - 1] == last;
    free(x);
    return ok;
}

static char *json_images(int n, int depth, const char *first, const char *rest)
{
    size_t cap = (size_t)n * 784 * (strlen(rest) + 4) + 256;
    char *b = malloc(cap), *p = b;
    p += sprintf(p, "{\"inputs\": ");
    if (depth == 2 || depth == 4) p += sprintf(p, "[");
    for (int i = 0; i < n; i++) {
        if (i) p += sprintf(p, ",");
        p += sprintf(p, depth >= 3 ? "[[" : "[");
        for (int r = 0; r < 28; r++) {
            if (depth >= 3) p += sprintf(p, r ? ",[" : "[");
            for (int c = 0; c < 28; c++) p += sprintf(p, "%s%s", (r || c) && (depth < 3 || c) ? "," : "", r == 0 && c == 0 && i == 0 ? first : rest);
            if (depth >= 3) p += sprintf(p, "]");
        }
        p += sprintf(p, depth >= 3 ? "]]" : "]");
    }
    if (depth == 2 || depth == 4) p += sprintf(p, "]");
    sprintf(p, "}");
    return b;
}

static void test_parser(void)
{
    char *b = json_images(1, 1, "0.5", "0.0039215689");
    CHECK(parse_ok(b, 1, 0.5f, strtof("0.0039215689", NULL)));
    free(b);
    b = json_images(3, 2, "-1e-3", "1");
    CHECK(parse_ok(b, 3, -1e-3f, 1.0f));
    free(b);
    b = json_images(1, 3, "0.25", "0.123456789012345678901");
    CHECK(parse_ok(b, 1, 0.25f, strtof("0.123456789012345678901", NULL)));
    free(b);
    b = json_images(2, 4, "0", "7");
    CHECK(parse_ok(b, 2, 0.0f, 7.0f));
    free(b);
    ng_req_shape s = {1, 28, 28};
    float *x = NULL;
    int64_t n;
    static const struct { const char *body; ng_status st; } bad[] = {
        {"", NG_E_FORMAT}, {"{}", NG_E_FORMAT}, {"[1]", NG_E_FORMAT}, {"{\"inputs\": []}", NG_E_SHAPE},
        {"{\"inputs\": [1,2,3]}", NG_E_SHAPE}, {"{\"inputs\": [1,2,}", NG_E_FORMAT}, {"{\"inputs\": [NaN]}", NG_E_FORMAT},
        {"{\"inputs\": [1e999]}", NG_E_INVALID}, {"{\"inputs\": [[1],[1,2]]}", NG_E_SHAPE}, {"{\"inputs\": [[1],2]}", NG_E_SHAPE},
        {"{\"inputs\": [01]}", NG_E_FORMAT}, {"{\"inputs\": [1.]}", NG_E_FORMAT}, {"{\"inputs\": [1], \"x\": 1}", NG_E_FORMAT},
        {"{\"inputs\": [[[[[1]]]]]}", NG_E_SHAPE}, {"{\"inputs\": [1]} x", NG_E_FORMAT}, {"{\"inputs\": \"a\"}", NG_E_FORMAT},
        {"{\"inputs\": [-]}", NG_E_FORMAT}, {"{\"inputs\": [1e]}", NG_E_FORMAT}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ng_status st = ng_req_parse_json(bad[i].body, strlen(bad[i].body), &s, 16, &x, &n);
        CHECKF(st == bad[i].st && !x, "'%s' -> %s (%s)", bad[i].body, ng_status_str(st), ng_last_error());
    }
    b = json_images(17, 2, "0", "0");   /* over max_images */
    CHECK(ng_req_parse_json(b, strlen(b), &s, 16, &x, &n) == NG_E_SHAPE && !x);
    free(b);
    uint8_t raw[784 * 4 * 2];
    memset(raw, 0, sizeof raw);
    CHECK_OK(ng_req_parse_f32(raw, sizeof raw, &s, 16, &x, &n));
    CHECK(n == 2);
    free(x);
    CHECK(ng_req_parse_f32(raw, 784 * 4 + 4, &s, 16, &x, &n) == NG_E_SHAPE);
    raw[3] = 0x7f; raw[2] = 0xc0;   /* a NaN */
    CHECK(ng_req_parse_f32(raw, sizeof raw, &s, 16, &x, &n) == NG_E_INVALID);
    /* the answer is valid JSON and round-trips the floats */
    float pr[4] = {0.1f, 0.2f, 0.3f, 1e-20f};
    int32_t lab[2] = {1, 0};
    size_t len;
    char *ans = ng_req_format_answer(pr, lab, 2, 2, &len);
    json_error_t err;
    json_t *j = json_loadb(ans, len, 0, &err);
    CHECK(j && (float)json_real_value(json_array_get(json_array_get(json_object_get(j, "probabilities"), 1), 1)) == 1e-20f);
    CHECK(j && json_integer_value(json_array_get(json_object_get(j, "labels"), 0)) == 1);
    json_decref(j);
    free(ans);
}

/* Runs of zeros (read four "0," at a time) give the same values, counts and errors as one at a
 * time: random mixes of 0, other numbers and spaces, lengths across the 1,024-value first
 * buffer, and runs that end in an error. */
static void test_zero_runs(void)
{
    ng_rng r;
    ng_rng_seed(&r, 11);
    int bad = 0;
    static char body[16384];
    static float want[2048];
    for (int t = 0; t < 3000; t++) {
        int len = t < 40 ? t + 1 : t < 60 ? 1010 + (t - 40) : 1 + (int)(ng_rng_u64(&r) % 64);
        size_t o = (size_t)sprintf(body, "{\"inputs\": [");
        int dense = (int)(ng_rng_u64(&r) % 8);   /* 0..7 in 8: share of non-zero values */
        for (int i = 0; i < len; i++) {
            uint64_t u = ng_rng_u64(&r);
            want[i] = (int)(u % 8) < dense ? (float)(1 + (int)((u >> 8) % 9)) : 0.0f;
            o += (size_t)sprintf(body + o, "%s%s%.0f", i ? "," : "", (u >> 16) % 16 == 0 ? " " : "", (double)want[i]);
        }
        o += (size_t)sprintf(body + o, "]}");
        ng_req_shape s = {1, 1, len};
        float *x;
        int64_t n;
        if (ng_req_parse_json(body, o, &s, 1, &x, &n) != NG_OK || n != 1) { bad++; continue; }
        if (memcmp(x, want, (size_t)len * sizeof *x) != 0) bad++;
        free(x);
    }
    CHECKF(bad == 0, "%d of 3000 bodies of zeros read wrong", bad);
    ng_req_shape s8 = {1, 1, 8};
    float *x = NULL;
    int64_t n;
    static const struct { const char *body; ng_status st; } errs[] = {
        {"{\"inputs\": [0,0,0,0,[1]]}", NG_E_SHAPE}, {"{\"inputs\": [0,0,0,0,", NG_E_FORMAT},
        {"{\"inputs\": [0,0,0,0,0,0,0,0,]}", NG_E_FORMAT}, {"{\"inputs\": [0,0,0,0,0,0,0,0,0]}", NG_E_SHAPE},
        {"{\"inputs\": [[0,0,0,0,0,0,0,0],[0,0,0,0]]}", NG_E_SHAPE}};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        ng_status st = ng_req_parse_json(errs[i].body, strlen(errs[i].body), &s8, 2, &x, &n);
        CHECKF(st == errs[i].st && !x, "'%s' -> %s (%s)", errs[i].body, ng_status_str(st), ng_last_error());
    }
    const char *two = "{\"inputs\": [[0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,5]]}";
    CHECK_OK(ng_req_parse_json(two, strlen(two), &s8, 2, &x, &n));
    CHECK(n == 2 && x && x[7] == 0.0f && x[15] == 5.0f);
    free(x);
}

/* Every number the JSON reader accepts equals strtof bit for bit: random floats printed at
 * several precisions, random decimals and exponents, and values next to float midpoints. */
static void test_numbers(void)
{
    ng_req_shape one = {1, 1, 1};
    ng_rng r;
    ng_rng_seed(&r, 5);
    int bad = 0, tried = 0;
    static const char *fmts[] = {"%.9g", "%.6g", "%.17g", "%.3e", "%.12f", "%.0f"};
    for (int i = 0; i < 300000; i++) {
        char num[80], body[320];
        uint32_t u = (uint32_t)ng_rng_u64(&r);
        float f;
        if (i % 3 == 0) { memcpy(&f, &u, 4); if (!isfinite(f)) continue; snprintf(num, sizeof num, fmts[i % 6], (double)f); }
        else if (i % 3 == 1) snprintf(num, sizeof num, "%s%u.%u", i & 8 ? "-" : "", u % 1000, (uint32_t)ng_rng_u64(&r));
        else {   /* midpoints of two neighbouring floats, printed exactly enough to matter */
            f = (float)(ng_rng_uniform(&r) * 2.0);
            float g = nextafterf(f, 2.0f);
            snprintf(num, sizeof num, "%.20g", ((double)f + (double)g) / 2 + (i & 16 ? 1e-30 : 0));
        }
        snprintf(body, sizeof body, "{\"inputs\": [%s]}", num);
        float *x;
        int64_t n;
        tried++;
        if (ng_req_parse_json(body, strlen(body), &one, 1, &x, &n) != NG_OK) { bad++; continue; }
        float want = strtof(num, NULL);
        if (memcmp(&want, x, 4) != 0) { if (bad < 5) fprintf(stderr, "%s -> %.9g, strtof %.9g\n", num, (double)x[0], (double)want); bad++; }
        free(x);
        /* the same number inside a long array (the word-at-a-time reader needs 32 bytes after
         * a value), between two others of the same kind */
        ng_req_shape four = {1, 1, 4};
        snprintf(body, sizeof body, "{\"inputs\": [%s,%s,%s,0]}                                ", num, num, num);
        if (ng_req_parse_json(body, strlen(body), &four, 1, &x, &n) != NG_OK) { bad++; continue; }
        for (int k = 0; k < 3; k++)
            if (memcmp(&want, x + k, 4) != 0) { if (bad < 5) fprintf(stderr, "%s (array) -> %.9g\n", num, (double)x[k]); bad++; break; }
        free(x);
    }
    CHECKF(bad == 0, "%d of %d numbers differ from strtof", bad, tried);
    /* malformed numbers inside long arrays are refused as in short ones */
    static const char *malformed[] = {"01", "1.", "-", "1e", ".5", "1.5.2", "--1", "-01.5", "0x1", "1.e5", "00"};
    ng_req_shape s40 = {1, 1, 40};
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        char body[512];
        int o = sprintf(body, "{\"inputs\": [0.5,0");
        for (int k = 2; k < 20; k++) o += sprintf(body + o, ",%s", k == 10 ? malformed[i] : "0.25");
        for (int k = 20; k < 40; k++) o += sprintf(body + o, ",0");
        sprintf(body + o, "]}");
        float *x = NULL;
        int64_t n;
        ng_status st = ng_req_parse_json(body, strlen(body), &s40, 1, &x, &n);
        CHECKF(st == NG_E_FORMAT && !x, "'%s' in a long array -> %s", malformed[i], ng_status_str(st));
    }
}

/* The answer's numbers: every float (random bit patterns, probabilities, subnormals, powers of
 * ten and their neighbours) reads back bit for bit, and the text is printf's "%.9g" except where
 * the exact value sits within 1e-7 of a 9-digit rounding tie (a handful in a million). */
static void test_answer_numbers(void)
{
    enum { K = 1000 };
    ng_rng r;
    ng_rng_seed(&r, 11);
    float v[K];
    int32_t lab = 0;
    int wrong = 0, differ = 0, total = 0;
    for (int round = 0; round < 300; round++) {
        for (int i = 0; i < K; i++) {
            uint32_t u = (uint32_t)ng_rng_u64(&r);
            switch ((round + i) % 4) {
            case 0: memcpy(&v[i], &u, 4); if (!isfinite(v[i])) v[i] = 0.5f; break;
            case 1: v[i] = (float)ng_rng_uniform(&r); break;
            case 2: v[i] = (float)(ng_rng_uniform(&r) * 1e-6); break;
            default: { float p = (float)pow(10.0, (int)(u % 80) - 44);
                       v[i] = u & 1 ? nextafterf(p, 0) : u & 2 ? nextafterf(p, INFINITY) : p; }
            }
        }
        if (round == 0) { v[0] = 0.0f; v[1] = -0.0f; v[2] = 1.0f; v[3] = 1e-45f; v[4] = FLT_MAX; v[5] = -FLT_MIN; v[6] = 123456789.0f; v[7] = 1e9f; }
        size_t len;
        char *a = ng_req_format_answer(v, &lab, 1, K, &len);
        CHECK(a && !strncmp(a, "{\"probabilities\":[[", 19));
        if (!a) return;
        const char *p = a + 19;
        for (int i = 0; i < K; i++, total++) {
            char *end;
            float back = strtof(p, &end);
            char want[32];
            snprintf(want, sizeof want, "%.9g", (double)v[i]);
            if (memcmp(&back, &v[i], 4)) { if (wrong++ < 5) fprintf(stderr, "%.9g written as %.*s\n", (double)v[i], (int)(end - p), p); }
            else if (strlen(want) != (size_t)(end - p) || strncmp(want, p, (size_t)(end - p))) { if (differ++ < 8) fprintf(stderr, "%s vs %.*s\n", want, (int)(end - p), p); }
            p = end + 1;
        }
        free(a);
    }
    CHECKF(wrong == 0, "%d of %d floats do not read back", wrong, total);
    CHECKF(differ <= total / 10000, "%d of %d numbers differ from %%.9g", differ, total);
}

static void test_clients(void)
{
    const char *good = "# token name quota rps\n\nabcdefghijklmnop0123 alice 10 0\r\n"
                       "  QRSTUVWXYZabcdef+/= bob 0 2  \n";
    ng_clients *c;
    CHECK_OK(ng_clients_parse(good, strlen(good), "clients", &c));
    CHECK(ng_clients_count(c) == 2 && !strcmp(ng_clients_name(c, 1), "bob"));
    CHECK(ng_clients_find(c, "abcdefghijklmnop0123", 20) == 0);
    CHECK(ng_clients_find(c, "QRSTUVWXYZabcdef+/=", 19) == 1);
    CHECK(ng_clients_find(c, "abcdefghijklmnop012", 19) == -1);
    double retry;
    CHECK(ng_clients_admit(c, 0, 6, 0, &retry) == 0 && ng_clients_admit(c, 0, 5, 0, &retry) == 1);
    CHECK(ng_clients_admit(c, 0, 4, 0, &retry) == 0 && ng_clients_used(c, 0) == 10);
    CHECK(ng_clients_admit(c, 1, 1, 100.0, &retry) == 0 && ng_clients_admit(c, 1, 1, 100.0, &retry) == 0);
    CHECK(ng_clients_admit(c, 1, 1, 100.0, &retry) == 2 && retry > 0.4 && retry <= 0.5);
    CHECK(ng_clients_admit(c, 1, 1, 100.6, &retry) == 0);
    ng_clients_free(c);
    static const char *bad[] = {"", "# only\n", "short alice 1 1\n", "abcdefghijklmnop0123 alice 1\n",
                                "abcdefghijklmnop0123 al!ce 1 1\n", "abcdefghijklmnop0123 alice -1 1\n",
                                "abcdefghijklmnop0123 alice 1.5 1\n", "abcdefghijklmnop0123 alice 1 x\n",
                                "abcdefghijklmnop0123 a 1 1\nabcdefghijklmnop0123 b 1 1\n",
                                "abcdefghijklmnop0123 a 1 1\nabcdefghijklmnop0124 a 1 1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(ng_clients_parse(bad[i], strlen(bad[i]), "clients", &c) == NG_E_FORMAT, "accepted '%s'", bad[i]);
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());
    test_known_answers();
    test_nh();
    test_statistics();
    test_parser();
    test_zero_runs();
    test_clients();
    test_numbers();
    test_answer_numbers();
    test_on_model();
    return tu_done();
}
