/* test_seal: sealed models (nnguard/seal.h) and licenses (nnguard/license.h), issue 15:
 * - round trips bit-exact: ONNX (deeplock_dtypes: F32, F16, BF16, F64, float_data; lenet5) and
 *   safetensors (tensors of several 1 MiB chunks, an empty tensor, a non-float tensor), with both
 *   AEADs, a key and a passphrase, 1 and 2 workers, in memory, from a file and from a buffer;
 * - the ciphertext and tag of a chunk equal the formulas of seal.h recomputed here with libsodium;
 * - every tamper class is refused with a message naming the tensor or field and nothing returned:
 *   a flipped bit, swapped tensors, a renamed tensor, a truncated file, an edited / added /
 *   removed nnguard.* field, an edited tag, an edited graph (non-float tensor), a wrong key;
 * - streaming (ng_seal_stream / ng_unseal_stream, chunk by chunk through a 1 MiB buffer per worker):
 *   byte-identical to in memory; a bad chunk in the middle on 2 workers, a truncated file and a disk
 *   that fills up mid-stream are refused and leave an existing output as it was;
 * - lock then seal opens with one key back to the plaintext;
 * - licenses: issue / parse / open; wrong issuer, forged, expired, other-model, other-identity
 *   licenses are refused with their own status and message. */
#include <math.h>
#include "dl_tutil.h"
#include "formats/weights_impl.h"
#include "nnguard/safetensors.h"
#include "nnguard/seal.h"
#include "nnguard/license.h"
#include "protect/seal/seal_impl.h"

static int same_params(const ng_weights *a, const ng_weights *b)
{
    if (ng_weights_count(a) != ng_weights_count(b)) return 0;
    for (size_t i = 0; i < ng_weights_count(a); i++) {
        const ng_param *p = ng_weights_param_c(a, i), *q = ng_weights_param_c(b, i);
        if (strcmp(p->name, q->name) || p->nbytes != q->nbytes || memcmp(p->data, q->data, p->nbytes)) return 0;
    }
    return 1;
}

static ng_key key_of(uint8_t b)
{
    ng_key k;
    memset(&k, 0, sizeof k);
    for (int i = 0; i < 32; i++) k.k[i] = (uint8_t)(b + i);
    k.len = 32;
    return k;
}

static int has(const char *needle) { return strstr(ng_last_error(), needle) != NULL; }
static int is_old(const char *p)   /* the file holds "old", as the tests wrote it */
{
    size_t n;
    uint8_t *d = slurp(p, &n);
    int ok = d && n == 3 && memcmp(d, "old", 3) == 0;
    free(d);
    return ok;
}

/* Seal path -> out with key k, check the round trip against path (file and buffer opens). */
static void round_trip(const char *path, const char *out, ng_aead aead, int threads, const ng_deeplock_secret *s)
{
    ng_seal_options o = ng_seal_options_default();
    o.aead = aead;
    o.threads = threads;
    CHECK_OK(ng_seal_file(path, out, s, &o));
    ng_weights *plain = NULL, *sealed = NULL, *opened = NULL;
    CHECK_OK(ng_weights_open(path, &plain));
    CHECK_OK(ng_weights_open(out, &sealed));
    if (!plain || !sealed) return;
    CHECK(ng_seal_is_sealed(sealed));
    CHECK(!strcmp(ng_weights_meta_get(sealed, "nnguard.seal.aead"), ng_aead_name(aead)));
    size_t differ = 0, total = 0;
    for (size_t i = 0; i < ng_weights_count(plain); i++) {
        const ng_param *p = ng_weights_param_c(plain, i), *q = ng_weights_param_c(sealed, i);
        for (size_t j = 0; j < p->nbytes; j++) differ += p->data[j] != q->data[j];
        total += p->nbytes;
    }
    CHECKF(differ * 100 > total * 98, "%zu of %zu bytes differ", differ, total);   /* ~255/256 */
    CHECK_OK(ng_seal_open_weights(out, s, &opened));
    CHECK(opened && same_params(plain, opened) && !ng_seal_is_sealed(opened));
    ng_weights_free(opened);
    size_t n;
    uint8_t *buf = slurp(out, &n);
    opened = NULL;
    CHECK_OK(ng_seal_open_weights_buffer(buf, n, ng_weights_format(plain), "buffer", s, &opened));
    CHECK(opened && same_params(plain, opened));
    ng_weights_free(opened);
    free(buf);
    ng_weights_free(plain);
    ng_weights_free(sealed);
}

/* Open sealed (modified by edit) and expect status want with a message containing needle; nothing returned. */
static void refused(const char *sealed, const ng_deeplock_secret *s, void (*edit)(ng_weights *, void *), void *arg,
                    ng_status want, const char *needle, int line)
{
    ng_weights *w = NULL, *out = (ng_weights *)1;
    CHECK_OK(ng_weights_open(sealed, &w));
    if (!w) return;
    if (edit) edit(w, arg);
    ng_status st = ng_seal_open_opened(w, s, &out);
    CHECKF(st == want && has(needle) && out == NULL, "line %d: status %s, message '%s', wanted %s with '%s'", line,
           ng_status_str(st), ng_last_error(), ng_status_str(want), needle);
}

static void flip(ng_weights *w, void *arg) { ng_weights_param(w, *(size_t *)arg)->data[7] ^= 0x10; }
static void swap01(ng_weights *w, void *arg)
{
    (void)arg;
    ng_param *a = ng_weights_param(w, 0), *b = ng_weights_param(w, 1);
    uint8_t t[64];
    memcpy(t, a->data, 64); memcpy(a->data, b->data, 64); memcpy(b->data, t, 64);
}
static void meta(ng_weights *w, void *arg) { const char **kv = arg; ng_weights_meta_set(w, kv[0], kv[1]); }

int main(void)
{
    ng_init();
    ng_key k = key_of(1), k2 = key_of(2);
    ng_deeplock_secret s = {.key = &k}, s2 = {.key = &k2};
    char dtypes[4096];
    snprintf(dtypes, sizeof dtypes, "%s", tu_path("fixtures/deeplock_dtypes.onnx"));
    char lenet[4096];
    snprintf(lenet, sizeof lenet, "%s", tu_path("fixtures/lenet5.onnx"));
    const char *st = tmp("m.safetensors");
    size_t sizes[] = {3 * (1u << 20) + 12, 4096, 0, (1u << 20)};
    dl_make_st(st, sizes, 4, 7, DL_ST_STEPS);

    /* ---- round trips ---- */
    round_trip(dtypes, tmp("d_gcm.onnx"), NG_AEAD_AES256GCM, 1, &s);
    round_trip(dtypes, tmp("d_xc.onnx"), NG_AEAD_XCHACHA20POLY1305, 2, &s);
    round_trip(lenet, tmp("l_gcm.onnx"), NG_AEAD_AES256GCM, 2, &s);
    round_trip(st, tmp("s_gcm.safetensors"), NG_AEAD_AES256GCM, 2, &s);
    round_trip(st, tmp("s_xc.safetensors"), NG_AEAD_XCHACHA20POLY1305, 1, &s);
    {   /* unseal_file gives back the original file byte for byte, created 0600 */
        CHECK_OK(ng_unseal_file(tmp("l_gcm.onnx"), tmp("l_un.onnx"), &s, NULL));
        CHECK(same_file(lenet, tmp("l_un.onnx")));
        CHECK(file_mode(tmp("l_un.onnx")) == 0600);
        CHECK_OK(ng_unseal_file(tmp("s_xc.safetensors"), tmp("s_un.safetensors"), &s, NULL));
        CHECK(same_file(st, tmp("s_un.safetensors")));
        CHECK_ST(ng_seal_file(tmp("l_gcm.onnx"), tmp("twice.onnx"), &s, NULL), NG_E_STATE);
        CHECK(!exists(tmp("twice.onnx")));
    }
    {   /* passphrase, cheap Argon2id costs */
        ng_kdf_params kdf;
        ng_kdf_params_new(&kdf);
        kdf.opslimit = 1; kdf.memlimit = 8192;
        ng_seal_options o = ng_seal_options_default();
        o.kdf = &kdf;
        ng_deeplock_secret ps = {.pass = "open sesame", .pass_len = 11}, bad = {.pass = "open sesam", .pass_len = 10};
        CHECK_OK(ng_seal_file(lenet, tmp("l_pass.onnx"), &ps, &o));
        ng_weights *w = NULL, *p = NULL;
        CHECK_OK(ng_seal_open_weights(tmp("l_pass.onnx"), &ps, &w));
        CHECK_OK(ng_weights_open(lenet, &p));
        CHECK(w && p && same_params(w, p));
        ng_weights_free(w); ng_weights_free(p);
        refused(tmp("l_pass.onnx"), &bad, NULL, NULL, NG_E_KEY, "wrong key", __LINE__);
        refused(tmp("l_pass.onnx"), &s, NULL, NULL, NG_E_KEY, "wrong key", __LINE__);
    }

    /* ---- known answer: chunk 0 of parameter 0 (xchacha20poly1305) from the formulas of seal.h ---- */
    {
        ng_weights *w = NULL, *p = NULL;
        CHECK_OK(ng_weights_open(tmp("s_xc.safetensors"), &w));
        CHECK_OK(ng_weights_open(st, &p));
        uint8_t salt[32], id[32], F[32], K0[32], A0[96], ad[41], nonce[24] = {0}, tag[16], rtag[16];
        CHECK(meta32(w, "nnguard.seal.salt", salt) && meta32(w, "nnguard.seal.id", id));
        ref_keyed(k.k, 32, "nnguard.seal.v1.file", salt, 32, F, 32);
        uint8_t zero8[8] = {0};
        ref_keyed(F, 32, "nnguard.seal.v1.tensor", zero8, 8, K0, 32);
        const ng_param *p0 = ng_weights_param_c(p, 0);
        /* A_0 = BLAKE2b-256("nnguard.seal.v1.ad" NUL | id | u64 0 | u64 n | lp(name) | lp("F32") | u32 1 | u64 dim | u64 nbytes | u64 0) */
        uint8_t msg[256];
        size_t m = 0, nl = strlen(p0->name);
        memcpy(msg, "nnguard.seal.v1.ad", 19); m = 19;
        memcpy(msg + m, id, 32); m += 32;
        ng_put_le64(msg + m, 0); m += 8;
        ng_put_le64(msg + m, ng_weights_count(p)); m += 8;
        ng_put_le32(msg + m, (uint32_t)nl); m += 4; memcpy(msg + m, p0->name, nl); m += nl;
        ng_put_le32(msg + m, 3); m += 4; memcpy(msg + m, "F32", 3); m += 3;
        ng_put_le32(msg + m, 1); m += 4;
        ng_put_le64(msg + m, (uint64_t)p0->shape.d[0]); m += 8;
        ng_put_le64(msg + m, p0->nbytes); m += 8;
        ng_put_le64(msg + m, 0); m += 8;
        crypto_generichash(A0, 32, msg, m, NULL, 0);
        memcpy(ad, A0, 32); ng_put_le64(ad + 32, 0); ad[40] = 0;
        uint8_t *c = malloc(1u << 20);
        crypto_aead_xchacha20poly1305_ietf_encrypt_detached(c, rtag, NULL, p0->data, 1u << 20, ad, 41, NULL, nonce, K0);
        CHECK(memcmp(c, ng_weights_param_c(w, 0)->data, 1u << 20) == 0);
        char th[33];
        memcpy(th, ng_weights_meta_get(w, "nnguard.seal.tags"), 32); th[32] = 0;
        size_t got;
        sodium_hex2bin(tag, 16, th, 32, NULL, &got, NULL);
        CHECK(memcmp(tag, rtag, 16) == 0);
        free(c);
        ng_weights_free(w); ng_weights_free(p);
    }

    /* ---- tamper classes: each refused, naming what was changed, nothing returned ---- */
    const char *sl = tmp("l_gcm.onnx"), *ss = tmp("s_gcm.safetensors");
    size_t i2 = 2, i3 = 3;
    refused(sl, &s2, NULL, NULL, NG_E_KEY, "wrong key", __LINE__);
    refused(sl, &s, flip, &i2, NG_E_AUTH, "tensor 'c2.weight'", __LINE__);
    refused(ss, &s, flip, &i3, NG_E_AUTH, "tensor 't3.weight'", __LINE__);
    refused(ss, &s, swap01, NULL, NG_E_AUTH, "tensor 't0.weight'", __LINE__);
    const char *ed1[] = {"nnguard.seal.graph_mac", "00"};
    refused(sl, &s, meta, ed1, NG_E_FORMAT, "nnguard.seal.graph_mac", __LINE__);
    char zeros[65];
    memset(zeros, '0', 64); zeros[64] = 0;
    const char *ed2[] = {"nnguard.seal.graph_mac", zeros};
    refused(sl, &s, meta, ed2, NG_E_AUTH, "field nnguard.seal.graph_mac was edited", __LINE__);
    const char *ed3[] = {"nnguard.seal.aead", "xchacha20poly1305"};
    refused(sl, &s, meta, ed3, NG_E_KEY, "wrong key", __LINE__);
    const char *ed4[] = {"nnguard.scheme", "deeplock"};
    refused(sl, &s, meta, ed4, NG_E_AUTH, "field nnguard.scheme was added", __LINE__);
    const char *ed5[] = {"nnguard.seal.fields", NULL};
    refused(sl, &s, meta, ed5, NG_E_AUTH, "nnguard.seal.fields was removed", __LINE__);
    const char *ed6[] = {"nnguard.seal.tags", "abcd"};
    refused(sl, &s, meta, ed6, NG_E_AUTH, "nnguard.seal.tags holds 0 tags", __LINE__);
    {   /* one tag edited: names the tensor of that chunk (lenet: one chunk per tensor, tensor 4 = f1.weight) */
        ng_weights *w = NULL;
        CHECK_OK(ng_weights_open(sl, &w));
        char *t = ng_strdup(ng_weights_meta_get(w, "nnguard.seal.tags"));
        t[4 * 32] = t[4 * 32] == 'a' ? 'b' : 'a';
        const char *ed7[] = {"nnguard.seal.tags", t};
        refused(sl, &s, meta, ed7, NG_E_AUTH, "tensor 'f1.weight'", __LINE__);
        free(t);
        ng_weights_free(w);
    }
    {   /* a field the seal bound: a Deep-Lock field of a locked-then-sealed model */
        ng_deeplock_options lo = ng_deeplock_options_default();
        CHECK_OK(ng_deeplock_lock_file(lenet, tmp("l_lock.onnx"), &s, &lo));
        CHECK_OK(ng_seal_file(tmp("l_lock.onnx"), tmp("l_ls.onnx"), &s, NULL));
        const char *ed8[] = {"nnguard.only", "f*"};
        refused(tmp("l_ls.onnx"), &s, meta, ed8, NG_E_AUTH, "field nnguard.only was edited", __LINE__);
        ng_weights *w = NULL, *p = NULL;
        CHECK_OK(ng_seal_open_weights(tmp("l_ls.onnx"), &s, &w));   /* unseal then unlock, one key */
        CHECK_OK(ng_weights_open(lenet, &p));
        CHECK(w && p && same_params(w, p) && !ng_deeplock_is_locked(w));
        ng_weights_free(w); ng_weights_free(p);
        ng_model *mdl = NULL;
        CHECK_OK(ng_seal_open_model(tmp("l_ls.onnx"), &s, &mdl));
        ng_model_free(mdl);
        CHECK_OK(ng_unseal_file(tmp("l_ls.onnx"), tmp("l_ls_un.onnx"), &s, NULL));
        CHECK(same_file(tmp("l_lock.onnx"), tmp("l_ls_un.onnx")));   /* unseal gives the locked file back */
    }
    {   /* renamed tensor: same-length rename in the file's bytes (ONNX: also in the graph) */
        size_t n;
        uint8_t *b = slurp(sl, &n);
        for (size_t j = 0; j + 9 <= n; j++) if (!memcmp(b + j, "f2.weight", 9)) b[j + 1] = '9';
        ng_weights *out = (ng_weights *)1;
        ng_status r = ng_seal_open_weights_buffer(b, n, NG_FMT_ONNX, "renamed.onnx", &s, &out);
        CHECKF(r == NG_E_AUTH && has("tensor 'f9.weight'") && !out, "%s", ng_last_error());
        free(b);
        b = slurp(ss, &n);
        for (size_t j = 0; j + 9 <= n; j++) if (!memcmp(b + j, "t1.weight", 9)) b[j + 1] = '7';
        r = ng_seal_open_weights_buffer(b, n, NG_FMT_SAFETENSORS, "renamed.st", &s, &out);
        CHECKF(r == NG_E_AUTH && has("tensor 't7.weight'") && !out, "%s", ng_last_error());
        /* a non-float tensor (part of the graph) edited: graph_mac */
        free(b);
        b = slurp(ss, &n);
        ng_st_header *h = NULL;
        CHECK_OK(ng_st_header_read(ss, &h));
        long si = h ? ng_st_header_find(h, "steps") : -1;
        CHECK(si >= 0);
        if (si >= 0) b[ng_st_header_data_start(h) + ng_st_header_tensor(h, (size_t)si)->begin] ^= 1;
        r = ng_seal_open_weights_buffer(b, n, NG_FMT_SAFETENSORS, "graph.st", &s, &out);
        CHECKF(r == NG_E_AUTH && has("nnguard.seal.graph_mac") && !out, "%s", ng_last_error());
        ng_st_header_free(h);
        /* truncated */
        r = ng_seal_open_weights_buffer(b, n - 100, NG_FMT_SAFETENSORS, "cut.st", &s, &out);
        CHECKF(r == NG_E_FORMAT && !out, "%s", ng_last_error());
        free(b);
        b = slurp(sl, &n);
        r = ng_seal_open_weights_buffer(b, n / 2, NG_FMT_ONNX, "cut.onnx", &s, &out);
        CHECKF(r == NG_E_FORMAT && !out, "%s", ng_last_error());
        free(b);
    }
    {   /* a failed unseal leaves no plaintext in the weights */
        ng_weights *w = NULL;
        CHECK_OK(ng_weights_open(sl, &w));
        flip(w, &i3);
        CHECK_ST(ng_unseal(w, &s, NULL), NG_E_AUTH);
        size_t nz = 0;
        for (size_t i = 0; i < ng_weights_count(w); i++)
            for (size_t j = 0; j < ng_weights_param(w, i)->nbytes; j++) nz += ng_weights_param(w, i)->data[j] != 0;
        CHECK(nz == 0);
        ng_weights_free(w);
    }

    /* ---- streaming (safetensors, bounded memory): byte-identical to in memory, same checks ---- */
    {
        static const uint8_t salt[32] = {9}, id[32] = {8};
        size_t big[] = {17 * (1u << 20) + 20, 4096, 0, 2 * (1u << 20)};   /* > one 16 MiB batch */
        const char *bst = tmp("big.safetensors");
        dl_make_st(bst, big, 4, 11, DL_ST_STEPS);
        for (int a = 1; a <= 2; a++) {
            ng_seal_options o = ng_seal_options_default();
            o.aead = (ng_aead)a; o.salt = salt; o.id = id; o.threads = a;
            CHECK_OK(ng_seal_file(bst, tmp(a == 1 ? "bm1.st" : "bm2.st"), &s, &o));
            CHECK_OK(ng_seal_stream(bst, tmp(a == 1 ? "bs1.st" : "bs2.st"), &s, &o));
            CHECK(same_file(tmp(a == 1 ? "bm1.st" : "bm2.st"), tmp(a == 1 ? "bs1.st" : "bs2.st")));
            CHECK_OK(ng_unseal_stream(tmp(a == 1 ? "bs1.st" : "bs2.st"), tmp(a == 1 ? "bu1.st" : "bu2.st"), &s, &o));
            CHECK(same_file(bst, tmp(a == 1 ? "bu1.st" : "bu2.st")));
        }
        CHECK_ST(ng_unseal_stream(tmp("bs1.st"), tmp("bx.st"), &s2, NULL), NG_E_KEY);
        CHECK(!exists(tmp("bx.st")));
        CHECK_ST(ng_seal_stream(tmp("bs1.st"), tmp("bx.st"), &s, NULL), NG_E_STATE);
        CHECK(!exists(tmp("bx.st")));
        size_t n;
        uint8_t *b = slurp(tmp("bs1.st"), &n);
        b[n - 5] ^= 4;   /* in t3.weight, the last tensor */
        FILE *f = fopen(tmp("bflip.st"), "wb");
        fwrite(b, 1, n, f);
        fclose(f);
        free(b);
        CHECK_ST(ng_unseal_stream(tmp("bflip.st"), tmp("bx.st"), &s, NULL), NG_E_AUTH);
        CHECKF(has("tensor 't3.weight'") && !exists(tmp("bx.st")), "%s", ng_last_error());
        set_meta(tmp("bs1.st"), tmp("bmeta.st"), "nnguard.seal.extra", "1");
        CHECK_ST(ng_unseal_stream(tmp("bmeta.st"), tmp("bx.st"), &s, NULL), NG_E_AUTH);
        CHECKF(has("field nnguard.seal.extra was added") && !exists(tmp("bx.st")), "%s", ng_last_error());
    }

    /* ---- streaming reads the input through a mapping: a bad chunk in the middle on 2 workers, a
     * truncated file and a full disk are refused, and an existing output is left as it was ---- */
    {
        ng_seal_options o2 = ng_seal_options_default();
        o2.threads = 2;
        ng_st_header *h;
        CHECK_OK(ng_st_header_read(tmp("bs1.st"), &h));
        uint64_t ds = ng_st_header_data_start(h);
        ng_st_header_free(h);
        const char *old = tmp("bold.st");
        CHECK_OK(ng_write_file_atomic(old, "old", 3, NG_MODE_PUBLIC));
        size_t n;
        uint8_t *b = slurp(tmp("bs1.st"), &n);
        CHECK(b && n > ds + 6 * ((size_t)1 << 20));
        b[ds + 5 * ((size_t)1 << 20) + 7] ^= 1;   /* chunk 5 of t0.weight (17 chunks) */
        CHECK_OK(ng_write_file_atomic(tmp("bmid.st"), b, n, NG_MODE_PUBLIC));
        CHECK_ST(ng_unseal_stream(tmp("bmid.st"), old, &s, &o2), NG_E_AUTH);
        CHECKF(has("tensor 't0.weight'") && has("chunk 5:"), "%s", ng_last_error());
        CHECK(is_old(old));
        b[ds + 5 * ((size_t)1 << 20) + 7] ^= 1;
        CHECK_OK(ng_write_file_atomic(tmp("btrunc.st"), b, n - ((size_t)1 << 20), NG_MODE_PUBLIC));
        CHECK_ST(ng_unseal_stream(tmp("btrunc.st"), old, &s, &o2), NG_E_FORMAT);
        CHECKF(has("btrunc.st") && is_old(old), "%s", ng_last_error());
        free(b);
#ifdef NG_TEST_HOOKS
        ng_fault_write_after((int64_t)6 << 20);   /* the disk fills up 6 MiB into the output */
        CHECK_ST(ng_unseal_stream(tmp("bs1.st"), old, &s, &o2), NG_E_IO);
        ng_fault_write_after(-1);
        CHECKF(has("No space left") && is_old(old), "%s", ng_last_error());
        ng_fault_write_after((int64_t)6 << 20);
        CHECK_ST(ng_seal_stream(tmp("big.safetensors"), old, &s, &o2), NG_E_IO);
        ng_fault_write_after(-1);
        CHECKF(has("No space left") && is_old(old), "%s", ng_last_error());
#endif
        CHECK_OK(ng_unseal_stream(tmp("bs1.st"), old, &s, &o2));   /* and it still works after all that */
        CHECK(same_file(tmp("big.safetensors"), old));
    }

    /* ---- licenses ---- */
    {
        ng_identity iss, me, other;
        ng_identity_generate(&iss); ng_identity_generate(&me); ng_identity_generate(&other);
        CHECK_OK(ng_identity_save(&me, tmp("me")));
        CHECK(file_mode(tmp("me")) == 0600);
        ng_identity me2;
        ng_identity_pub mepub;
        CHECK_OK(ng_identity_load(tmp("me"), &me2));
        CHECK_OK(ng_identity_pub_load(tmp("me.pub"), &mepub));
        CHECK(!memcmp(&me2, &me, sizeof me) && !memcmp(&mepub, &me.pub, sizeof mepub));
        CHECK_ST(ng_identity_save(&me, tmp("me")), NG_E_EXISTS);
        ng_weights *w = NULL;
        uint8_t id[32], id2[32];
        CHECK_OK(ng_weights_open(sl, &w));
        CHECK_OK(ng_seal_id(w, id));
        ng_weights_free(w);
        memcpy(id2, id, 32); id2[0] ^= 1;
        char *text = NULL;
        size_t len = 0;
        int64_t now = 1767225600;   /* 2026-01-01 */
        CHECK_OK(ng_license_issue(&iss, &me.pub, id, "2026-06-30", NULL, &k, &text, &len));
        ng_license l;
        CHECK_OK(ng_license_parse(text, len, "lic", &l));
        ng_key got;
        CHECK_OK(ng_license_open(&l, "lic", &iss.pub, &me, id, now, &got));
        CHECK(got.len == 32 && !memcmp(got.k, k.k, 32));
        CHECK_ST(ng_license_open(&l, "lic", &other.pub, &me, id, now, &got), NG_E_AUTH);
        CHECK(has("not issued by this issuer"));
        CHECK_ST(ng_license_open(&l, "lic", &iss.pub, &me, id2, now, &got), NG_E_KEY);
        CHECK(has("another model"));
        CHECK_ST(ng_license_open(&l, "lic", &iss.pub, &other, id, now, &got), NG_E_KEY);
        CHECK(has("another identity"));
        CHECK_ST(ng_license_open(&l, "lic", &iss.pub, &me, id, 1782864000 /* 2026-07-01 */, &got), NG_E_KEY);
        CHECK(has("expired on 2026-06-30"));
        CHECK_OK(ng_license_open(&l, "lic", &iss.pub, &me, id, 1782863999, &got));
        /* forged: the expiry edited, or signed by another key claiming to be the issuer */
        char *forged = ng_strdup(text);
        memcpy(strstr(forged, "expires: ") + 9, "2099", 4);
        CHECK_OK(ng_license_parse(forged, len, "forged", &l));
        CHECK_ST(ng_license_open(&l, "forged", &iss.pub, &me, id, now, &got), NG_E_AUTH);
        CHECK(has("forged or was edited"));
        free(forged);
        char *t2 = NULL;
        size_t l2;
        CHECK_OK(ng_license_issue(&other, &me.pub, id, "2026-06-30", NULL, &k, &t2, &l2));
        memcpy(t2 + strlen("nnguard-license v1\nissuer: "), text + strlen("nnguard-license v1\nissuer: "), 64);
        CHECK_OK(ng_license_parse(t2, l2, "forged2", &l));
        CHECK_ST(ng_license_open(&l, "forged2", &iss.pub, &me, id, now, &got), NG_E_AUTH);
        CHECK(has("forged"));
        free(t2);
        /* malformed */
        CHECK_ST(ng_license_parse(text, len - 1, "cut", &l), NG_E_FORMAT);
        CHECK(has("'signature: '"));
        CHECK_ST(ng_license_issue(&iss, &me.pub, id, "2026-02-30", NULL, &k, &t2, &l2), NG_E_INVALID);
        free(text);
        ng_key_wipe(&got);
        ng_identity_wipe(&iss); ng_identity_wipe(&me); ng_identity_wipe(&me2); ng_identity_wipe(&other);
    }
    {   /* classes: parsed, signed, canonical in the file, enforced by the runtime */
        ng_identity iss, me;
        ng_identity_generate(&iss);
        ng_identity_generate(&me);
        ng_class_set cs, all = {0};
        char txt[64];
        uint8_t mask[10], id[32] = {1};
        CHECK_OK(ng_class_set_parse("7,2-4,0,3", "--classes", &cs));
        ng_class_set_text(&cs, txt, sizeof txt);
        CHECK(!strcmp(txt, "0,2,3,4,7") && ng_class_set_max(&cs) == 7 && ng_class_set_has(&cs, 3) && !ng_class_set_has(&cs, 5));
        CHECK(ng_class_set_has(&all, 999) && ng_class_set_max(&all) == -1);
        CHECK_ST(ng_class_set_parse("1,1024", "--classes", &cs), NG_E_INVALID);
        CHECK(has("out of range"));
        CHECK_ST(ng_class_set_parse("3-1", "--classes", &cs), NG_E_INVALID);
        CHECK_ST(ng_class_set_parse("", "--classes", &cs), NG_E_INVALID);
        CHECK_ST(ng_class_set_parse("1,,2", "--classes", &cs), NG_E_INVALID);
        CHECK_OK(ng_class_set_parse("0,12", "--classes", &cs));
        CHECK_ST(ng_class_set_mask(&cs, 10, "m", mask), NG_E_INVALID);
        CHECK(has("grants class 12 but the model has 10 classes"));
        CHECK_OK(ng_class_set_parse("0-2", "--classes", &cs));
        CHECK_OK(ng_class_set_mask(&cs, 10, "m", mask));
        CHECK(mask[0] && mask[1] && mask[2] && !mask[3] && !mask[9]);
        ng_key kc = key_of(3), got;
        char *text = NULL;
        size_t len = 0;
        ng_license l;
        CHECK_OK(ng_license_issue(&iss, &me.pub, id, "2099-12-31", &cs, &kc, &text, &len));
        CHECK(strstr(text, "\nclasses: 0,1,2\nkey: ") != NULL);
        CHECK_OK(ng_license_parse(text, len, "lic", &l));
        CHECK(l.classes.limited && ng_class_set_max(&l.classes) == 2 && !ng_class_set_has(&l.classes, 3));
        CHECK_OK(ng_license_open(&l, "lic", &iss.pub, &me, id, 0, &got));
        /* edited class list: refused by the signature (or by the parser when not canonical) */
        char *ed = malloc(len + 8);
        char *c = strstr(text, "classes: 0,1,2");
        size_t pre = (size_t)(c - text) + strlen("classes: 0,1,2");
        memcpy(ed, text, pre); memcpy(ed + pre, ",3", 2); memcpy(ed + pre + 2, text + pre, len - pre);
        CHECK_OK(ng_license_parse(ed, len + 2, "more", &l));
        CHECK_ST(ng_license_open(&l, "more", &iss.pub, &me, id, 0, &got), NG_E_AUTH);
        CHECK(has("forged or was edited"));
        memcpy(ed, text, len);
        ed[pre - 1] = '1';   /* 0,1,1: not ascending */
        CHECK_ST(ng_license_parse(ed, len, "dup", &l), NG_E_FORMAT);
        CHECK(has("'classes: '"));
        free(ed);
        free(text);
        ng_key_wipe(&kc); ng_key_wipe(&got);
        ng_identity_wipe(&iss); ng_identity_wipe(&me);
        /* the runtime: lenet (logits) answers only classes 0-2; a clone stays restricted */
        ng_model *m, *m2;
        ng_exec *e;
        ng_exec_options eo = ng_exec_options_default();
        CHECK_OK(ng_model_load(lenet, &m));
        float x[2 * 784], plain[20];
        for (int i = 0; i < 2 * 784; i++) x[i] = (float)((i * 37) % 101) / 100.0f;
        CHECK_OK(ng_model_predict(m, x, 2, 2, 1, plain));
        CHECK_ST(ng_model_restrict_classes(m, mask, 9), NG_E_INVALID);
        CHECK_OK(ng_model_restrict_classes(m, mask, 10));
        CHECK_OK(ng_model_clone(m, &m2));
        for (int r = 0; r < 2; r++) {
            float y[20];
            CHECK_OK(ng_model_predict(r ? m2 : m, x, 2, 2, 1, y));
            int okm = 1;
            for (int i = 0; i < 20; i++) okm &= i % 10 < 3 ? y[i] == plain[i] : y[i] == NG_MASKED_LOGIT;
            CHECK(okm);
        }
        CHECK(ng_model_class_granted(m, 2) && !ng_model_class_granted(m, 3));
        ng_model_free(m); ng_model_free(m2);
        /* a model ending in Softmax: probabilities 0 outside, the granted ones renormalised */
        CHECK_OK(ng_model_load(tu_path("fixtures/op_softmax.onnx"), &m));
        CHECK(ng_model_num_classes(m) == 48);
        uint8_t m48[48] = {0};
        m48[1] = m48[5] = m48[40] = 1;
        float xs[96], p0[96];
        for (int i = 0; i < 96; i++) xs[i] = (float)((i * 13) % 17) / 4.0f - 2.0f;
        CHECK_OK(ng_model_predict(m, xs, 2, 2, 1, p0));
        CHECK_OK(ng_model_restrict_classes(m, m48, 48));
        CHECK_OK(ng_exec_new(m, &eo, &e));
        const float *py;
        ng_shape ys;
        CHECK_OK(ng_exec_forward(e, xs, 2, &py, &ys));
        for (int r = 0; r < 2; r++) {
            const float *q = py + 48 * r, *q0 = p0 + 48 * r;
            double z = q0[1] + q0[5] + q0[40], sum = 0;
            int zero = 1;
            for (int i = 0; i < 48; i++) { sum += q[i]; if (!m48[i]) zero &= q[i] == 0.0f; }
            CHECK(zero && fabs(sum - 1.0) < 1e-5 && fabs(q[5] - q0[5] / z) < 1e-6);
        }
        ng_exec_free(e);
        ng_model_free(m);
    }
    return tu_done();
}
