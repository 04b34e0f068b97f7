/* test_securenet_bind: a bound license (ng_license_bind / ng_license_unbind) on LeNet-5.
 * Binding scrambles every parameter and unbinding with any granted key gives them back bit for
 * bit, also through an ONNX file; a wrong key, an altered slot, altered parameters or bind
 * metadata are refused and leave the model as it was; a second bind and a pattern matching
 * nothing are refused. */
#include <sodium.h>
#include <unistd.h>
#include "tutil.h"

static ng_status lenet(ng_model **m) { return ng_model_from_arch("lenet5", 1, 28, 28, 10, 5, m); }

static void keys_new(ng_key *k, int n)
{
    for (int i = 0; i < n; i++) CHECK_OK(ng_key_generate(256, &k[i]));
}

/* Parameters of a and b equal bit for bit. */
static int same(const ng_model *a, const ng_model *b)
{
    return ng_model_nparams(a) == ng_model_nparams(b) &&
           !memcmp(ng_model_params_c(a), ng_model_params_c(b), ng_model_nparams(a) * sizeof(float));
}

/* Share of parameter words that changed (bit patterns). */
static double changed(const ng_model *a, const ng_model *b)
{
    const uint32_t *x = (const uint32_t *)ng_model_params_c(a), *y = (const uint32_t *)ng_model_params_c(b);
    size_t n = ng_model_nparams(a), d = 0;
    for (size_t i = 0; i < n; i++) d += x[i] != y[i];
    return (double)d / (double)n;
}

static void test_round_trip(void)
{
    ng_model *ref, *m, *l;
    ng_key k[3], other;
    keys_new(k, 3);
    keys_new(&other, 1);
    CHECK_OK(lenet(&ref));
    CHECK_OK(ng_model_clone(ref, &m));
    CHECK(!ng_license_is_bound(m));
    CHECK_OK(ng_license_bind(m, k, 3, NULL));
    CHECK(ng_license_is_bound(m));
    const double ch = changed(ref, m);
    CHECKF(ch > 0.99, "bound: %.4f of the parameters changed", ch);
    const char *slots = ng_model_meta_get(m, "nnguard.license.slots");
    CHECKF(slots && strlen(slots) == 3 * 163 - 1, "slots: %zu chars", slots ? strlen(slots) : 0);
    CHECK_ST(ng_license_bind(m, k, 1, NULL), NG_E_STATE);
    /* every key opens its own slot and gives the parameters back bit for bit */
    for (int i = 0; i < 3; i++) {
        ng_model *c;
        CHECK_OK(ng_model_clone(m, &c));
        CHECK_OK(ng_license_unbind(c, &k[i]));
        CHECK(same(c, ref));
        CHECK(!ng_license_is_bound(c) && !ng_model_meta_get(c, "nnguard.license.slots"));
        ng_model_free(c);
    }
    /* a key that opens no slot: refused, m unchanged */
    CHECK_OK(ng_model_clone(m, &l));
    CHECK_ST(ng_license_unbind(m, &other), NG_E_KEY);
    CHECK(strstr(ng_last_error(), "opens none") != NULL);
    CHECK(same(m, l) && ng_license_is_bound(m));
    /* through an ONNX file */
    char path[] = "/tmp/ng_bind_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    ng_model *f = NULL;
    CHECK_OK(ng_model_save_onnx(m, path));
    CHECK_OK(ng_model_load(path, &f));
    if (f) {
        CHECK(same(f, m));
        CHECK_OK(ng_license_unbind(f, &k[1]));
        CHECK(same(f, ref));
    }
    unlink(path);
    ng_model_free(f);
    ng_model_free(l);
    ng_model_free(m);
    ng_model_free(ref);
    for (int i = 0; i < 3; i++) ng_key_wipe(&k[i]);
    ng_key_wipe(&other);
}

/* Slots: ID (16) : NONCE (48 hex) : CT (96 hex), comma-separated: 163 characters each. */
/* Flip one character of metadata value key at off to another hex digit. */
static void flip_meta(ng_model *m, const char *key, size_t off)
{
    char *v = strdup(ng_model_meta_get(m, key));
    v[off] = v[off] == '0' ? '1' : '0';
    CHECK_OK(ng_model_meta_set(m, key, v));
    free(v);
}

static void test_tamper(void)
{
    ng_model *ref, *m, *c;
    ng_key k;
    keys_new(&k, 1);
    CHECK_OK(lenet(&ref));
    CHECK_OK(ng_model_clone(ref, &m));
    CHECK_OK(ng_license_bind(m, &k, 1, NULL));
    /* the slot's ciphertext, its nonce, its key id, the salt: the slot opens no more */
    const size_t offs[] = {17 + 48 + 1 + 5, 17 + 3, 2};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(ng_model_clone(m, &c));
        flip_meta(c, "nnguard.license.slots", offs[i]);
        CHECK_ST(ng_license_unbind(c, &k), NG_E_KEY);
        ng_model_free(c);
    }
    CHECK_OK(ng_model_clone(m, &c));
    flip_meta(c, "nnguard.license.bind_salt", 10);
    CHECK_ST(ng_license_unbind(c, &k), NG_E_KEY);
    ng_model_free(c);
    /* one locked parameter byte, the mac: the key opens the slot, the mac refuses */
    CHECK_OK(ng_model_clone(m, &c));
    ((uint8_t *)ng_model_params(c))[1234] ^= 0x5a;
    ng_model *keep;
    CHECK_OK(ng_model_clone(c, &keep));
    CHECK_ST(ng_license_unbind(c, &k), NG_E_AUTH);
    CHECK(same(c, keep) && ng_license_is_bound(c));
    ng_model_free(keep);
    ng_model_free(c);
    CHECK_OK(ng_model_clone(m, &c));
    flip_meta(c, "nnguard.license.bind_mac", 0);
    CHECK_ST(ng_license_unbind(c, &k), NG_E_AUTH);
    ng_model_free(c);
    /* malformed metadata */
    CHECK_OK(ng_model_clone(m, &c));
    CHECK_OK(ng_model_meta_set(c, "nnguard.license.slots", "abc"));
    CHECK_ST(ng_license_unbind(c, &k), NG_E_FORMAT);
    CHECK_OK(ng_model_meta_set(c, "nnguard.license.bind", "2"));
    CHECK_ST(ng_license_unbind(c, &k), NG_E_FORMAT);
    ng_model_free(c);
    CHECK_ST(ng_license_unbind(ref, &k), NG_E_STATE);
    ng_model_free(m);
    /* a pattern that matches nothing; a partial bind locks only its tensors */
    CHECK_OK(ng_model_clone(ref, &m));
    CHECK_ST(ng_license_bind(m, &k, 1, "nosuch*"), NG_E_INVALID);
    CHECK(same(m, ref) && !ng_license_is_bound(m));
    ng_param p0;
    ng_model_tensor(m, 0, &p0);
    CHECK_OK(ng_license_bind(m, &k, 1, p0.name));
    const size_t n0 = p0.nbytes / sizeof(float), n = ng_model_nparams(m);
    const size_t off0 = ng_model_tensor_offset(m, 0);
    CHECK(memcmp(ng_model_params_c(m) + off0, ng_model_params_c(ref) + off0, p0.nbytes) != 0);
    CHECK(off0 + n0 <= n && !memcmp(ng_model_params_c(m) + off0 + n0, ng_model_params_c(ref) + off0 + n0,
                                    (n - off0 - n0) * sizeof(float)));
    CHECK_OK(ng_license_unbind(m, &k));
    CHECK(same(m, ref));
    ng_model_free(m);
    ng_model_free(ref);
    ng_key_wipe(&k);
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());
    test_round_trip();
    test_tamper();
    return tu_done();
}
