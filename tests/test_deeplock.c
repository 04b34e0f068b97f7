/* test_deeplock: Deep-Lock format 3 on safetensors (F32 with NaN/Inf/denormal locked patterns, F16,
 * BF16, F64, a non-float tensor, an empty tensor) and ONNX (lenet5 fixture; deeplock_dtypes.onnx
 * with FLOAT16/BFLOAT16/DOUBLE and float_data initializers): locked bytes equal the spec's formula
 * computed independently here (tests/dl_tutil.h) for the lock's salt; bit-exact round trips for
 * ctr and expand; the streaming path gives the same bytes as the in-memory path for many work
 * item sizes and worker counts; --only; passphrase keys; unlock while loading; a full disk;
 * key files (perms, corruption, overwrite, sealed); the parameter API against the reference
 * streams on 1-3 workers. Checks against altered files, key-stream reuse, formats 1-2 and
 * --paper-exact: test_deeplock_v3.c. */
#include "dl_tutil.h"
#include "nnguard/safetensors.h"
#include "protect/deeplock/aes_sbox.h"
#include "protect/deeplock/deeplock_keystream.h"

#define NA 64
static const uint8_t salt0[32] = {0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* A safetensors fixture; a.weight's first values are chosen so that under `master` (ctr, salt0)
 * they lock to a NaN with payload, +Inf, a denormal, -0 and a signalling NaN. */
static void make_fixture(const char *path, const uint8_t master[32])
{
    ng_st_header *h;
    ng_shape sa = {2, {8, 8}}, sb = {1, {13}}, sc = {2, {3, 3}}, sd = {1, {5}}, se = {1, {4}}, sz = {2, {0, 4}};
    ng_st_header_new(&h);
    ng_st_header_add(h, "a.weight", NG_DT_F32, &sa);
    ng_st_header_add(h, "a.bias", NG_DT_F16, &sb);
    ng_st_header_add(h, "steps", NG_DT_I64, &se);
    ng_st_header_add(h, "b.weight", NG_DT_BF16, &sc);
    ng_st_header_add(h, "empty", NG_DT_F32, &sz);
    ng_st_header_add(h, "c.scale", NG_DT_F64, &sd);
    uint8_t *hdr;
    size_t hlen;
    ng_st_header_serialize(h, &hdr, &hlen);
    size_t dn = ng_st_header_data_size(h);
    uint8_t *data = malloc(dn);
    ng_rng r;
    ng_rng_seed(&r, 11);
    for (size_t i = 0; i < dn; i++) data[i] = (uint8_t)ng_rng_u64(&r);
    /* a.weight: plain values incl. NaN / Inf / denormal / -0, then chosen values for locked patterns */
    float *a = (float *)data;
    for (int i = 0; i < NA; i++) a[i] = ng_rng_normal(&r) * 0.1f;
    static const uint32_t plain_pat[] = {0x7fc00123u, 0xff800000u, 0x00000003u, 0x80000000u};
    memcpy(&a[8], plain_pat, sizeof plain_pat);
    static const uint32_t locked_pat[] = {0x7fc0beefu, 0x7f800000u, 0x00000001u, 0x80000000u, 0x7f800001u};
    uint8_t ks[NA * 4], L[32];
    ref_L(master, 32, salt0, L);
    ref_ctr(L, "nnguard.deeplock.v3.ctr", "a.weight", ks, sizeof ks);
    uint8_t *ab = data;
    for (size_t i = 0; i < sizeof locked_pat / 4 * 4; i++) {
        uint8_t want = (uint8_t)(locked_pat[i / 4] >> (8 * (i % 4)));
        ab[i] = ng_aes_inv_sbox[want] ^ ks[i];
    }
    ng_awriter w;
    ng_awrite_open(&w, path, NG_MODE_PUBLIC);
    ng_awrite(&w, hdr, hlen);
    ng_awrite(&w, data, dn);
    ng_awrite_commit(&w);
    free(hdr); free(data);
    ng_st_header_free(h);
}

static void write_secret(const char *p, const char *text, unsigned mode)
{
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    chmod(p, mode);
}

int main(void)
{
    CHECK_OK(ng_init());
    ng_key k, k2, k128;
    CHECK_OK(ng_key_generate(256, &k));
    CHECK_OK(ng_key_generate(256, &k2));
    static const uint8_t fips[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
    memcpy(k128.k, fips, 16);
    k128.len = 16;
    ng_deeplock_secret s = {.key = &k}, s2 = {.key = &k2}, s128 = {.key = &k128};
    ng_deeplock_options o = ng_deeplock_options_default(), oe = ng_deeplock_options_default();
    o.salt = salt0;   /* fixed salt: the in-memory and streamed files can be compared byte for byte */
    oe.keystream = NG_KS_EXPAND;
    oe.salt = salt0;

    const char *orig = tmp("orig.safetensors");
    make_fixture(orig, k.k);

    /* ---- ctr, in memory: locked bytes as the spec says; round trip bit-exact ---- */
    const char *lk = tmp("lk.safetensors"), *un = tmp("un.safetensors");
    CHECK_OK(ng_deeplock_lock_file(orig, lk, &s, &o));
    ng_weights *wo, *wl;
    CHECK_OK(ng_weights_open(orig, &wo));
    CHECK_OK(ng_weights_open(lk, &wl));
    CHECK(ng_weights_count(wl) == 5);   /* steps (I64) is not a parameter */
    CHECK(ng_deeplock_is_locked(wl) && !ng_deeplock_is_locked(wo));
    CHECK(strcmp(ng_weights_meta_get(wl, "nnguard.keystream"), "ctr") == 0);
    CHECK(strcmp(ng_weights_meta_get(wl, "nnguard.only"), "*") == 0);
    CHECK(strcmp(ng_weights_meta_get(wl, "nnguard.version"), "3") == 0);
    uint8_t got_salt[32], L[32];
    CHECK(meta32(wl, "nnguard.salt", got_salt) && memcmp(got_salt, salt0, 32) == 0);
    CHECK(!ng_weights_meta_get(wl, "nnguard.model_id_before") && !ng_weights_meta_get(wl, "nnguard.expand_key"));
    ref_L(k.k, 32, salt0, L);
    int formula = 1;
    for (size_t i = 0; i < ng_weights_count(wo); i++) {
        ng_param *po = ng_weights_param(wo, i), *pl = param(wl, po->name);
        uint8_t *ks = malloc(po->nbytes + 1);
        ref_ctr(L, "nnguard.deeplock.v3.ctr", po->name, ks, po->nbytes);
        for (size_t j = 0; j < po->nbytes; j++) formula &= pl->data[j] == ng_aes_sbox[po->data[j] ^ ks[j]];
        free(ks);
    }
    CHECK(formula);
    static const uint32_t locked_pat[] = {0x7fc0beefu, 0x7f800000u, 0x00000001u, 0x80000000u, 0x7f800001u};
    CHECK(memcmp(param(wl, "a.weight")->data, locked_pat, sizeof locked_pat) == 0);
    ng_weights_free(wl);
    CHECK_OK(ng_deeplock_unlock_file(lk, un, &s, &o));
    CHECK(same_file(un, orig));   /* bytes, metadata and all: bit-exact incl. NaN/Inf/denormals */
    CHECKF(file_mode(un) == 0600, "unlocked file mode %o", (unsigned)file_mode(un));

    /* ---- streaming == in memory (small chunks across tensor boundaries, 2 threads) ---- */
    ng_deeplock_options os = o;
    os.chunk_bytes = 40; os.threads = 2;
    const char *lks = tmp("lks.safetensors"), *uns = tmp("uns.safetensors");
    CHECK_OK(ng_deeplock_lock_stream(orig, lks, &s, &os));
    CHECK(same_file(lks, lk));
    CHECK_OK(ng_deeplock_unlock_stream(lk, uns, &s, &os));
    CHECK(same_file(uns, orig));
    CHECKF(file_mode(uns) == 0600, "streamed unlocked file mode %o", (unsigned)file_mode(uns));
    /* other item sizes and worker counts: an item packing several whole tensors (and parts of the
     * next), one worker, three workers; --no-check unlock */
    static const struct { size_t chunk; int threads; } sv[] = {{300, 2}, {1u << 20, 2}, {64, 1}, {1u << 20, 1}, {24, 3}, {0, 0}};
    for (size_t i = 0; i < sizeof sv / sizeof sv[0]; i++) {
        ng_deeplock_options ov = o;
        ov.chunk_bytes = sv[i].chunk; ov.threads = sv[i].threads;
        ov.no_check = i % 2;
        CHECK_OK(ng_deeplock_lock_stream(orig, lks, &s, &ov));
        CHECKF(same_file(lks, lk), "stream lock, chunk %zu, %d threads", sv[i].chunk, sv[i].threads);
        CHECK_OK(ng_deeplock_unlock_stream(lk, uns, &s, &ov));
        CHECKF(same_file(uns, orig), "stream unlock, chunk %zu, %d threads", sv[i].chunk, sv[i].threads);
    }

    /* ---- expand (salted): the schedule runs on BLAKE2b-128(L, label); --paper-exact on the key
     * itself, so that the first locked bytes are S(round key 1 XOR plaintext) (FIPS-197) ---- */
    const char *le = tmp("le.safetensors"), *les = tmp("les.safetensors");
    CHECK_ST(ng_deeplock_lock_file(orig, le, &s, &oe), NG_E_KEY);   /* 256-bit key, expand wants 128 */
    CHECK(!exists(le));
    CHECK_OK(ng_deeplock_lock_file(orig, le, &s128, &oe));
    ng_deeplock_options oes = oe;
    oes.chunk_bytes = 24; oes.threads = 2;
    CHECK_OK(ng_deeplock_lock_stream(orig, les, &s128, &oes));
    CHECK(same_file(le, les));
    CHECK_OK(ng_weights_open(le, &wl));
    static const uint8_t rk1[16] = {0xa0, 0xfa, 0xfe, 0x17, 0x88, 0x54, 0x2c, 0xb1, 0x23, 0xa3, 0x39, 0x39, 0x2a, 0x6c, 0x76, 0x05};
    const uint8_t *pa = param(wo, "a.weight")->data;
    {
        uint8_t L128[32], sched[16], eks[64];
        ref_L(fips, 16, salt0, L128);
        ref_keyed(L128, 32, "nnguard.deeplock.v3.expand", NULL, 0, sched, 16);
        ng_expand_cursor ec;
        ng_expand_init(&ec, sched);
        ng_expand_stream_with(&ec, 0, eks, sizeof eks, NG_AES_PORTABLE);
        const uint8_t *la = param(wl, "a.weight")->data;
        int salted = 1, paper = 1;
        for (int j = 0; j < 64; j++) salted &= la[j] == ng_aes_sbox[pa[j] ^ eks[j]];
        for (int j = 0; j < 16; j++) paper &= la[j] == ng_aes_sbox[pa[j] ^ rk1[j]];
        CHECK(salted && !paper);
        CHECK(strcmp(ng_weights_meta_get(wl, "nnguard.expand_key"), "salted") == 0);
    }
    ng_weights_free(wl);
    CHECK_OK(ng_deeplock_unlock_stream(le, uns, &s128, &oes));
    CHECK(same_file(uns, orig));
    CHECK_OK(ng_deeplock_unlock_file(les, un, &s128, &o));
    CHECK(same_file(un, orig));
    for (int i = 0; i < 2; i++) {   /* expand checkpoints with slots holding several tensors */
        ng_deeplock_options ov = oe;
        ov.chunk_bytes = i ? 100 : 1u << 20; ov.threads = i ? 1 : 2;
        CHECK_OK(ng_deeplock_lock_stream(orig, les, &s128, &ov));
        CHECKF(same_file(le, les), "expand stream lock %d", i);
        CHECK_OK(ng_deeplock_unlock_stream(le, uns, &s128, &ov));
        CHECKF(same_file(uns, orig), "expand stream unlock %d", i);
    }
    /* --paper-exact: round keys 1, 10, 11, 12 of FIPS-197 / SCHEMES.md in the locked bytes */
    {
        const char *lp = tmp("lpaper.safetensors"), *lps = tmp("lpapers.safetensors");
        ng_deeplock_options op = oe;
        op.paper_exact = 1;
        CHECK_OK(ng_deeplock_lock_file(orig, lp, &s128, &op));
        op.chunk_bytes = 40; op.threads = 2;
        CHECK_OK(ng_deeplock_lock_stream(orig, lps, &s128, &op));
        CHECK(same_file(lp, lps));
        static const char *kat[][2] = {{"1", "a0fafe1788542cb123a339392a6c7605"}, {"10", "d014f9a8c9ee2589e13f0cc8b6630ca6"},
                                       {"11", "47eadde68e04f86f6f3bf4a7d958f801"}, {"12", "f5aba1d37baf59bc1494ad1bcdcc551a"}};
        CHECK_OK(ng_weights_open(lp, &wl));
        const uint8_t *la = param(wl, "a.weight")->data;
        for (size_t i = 0; i < 4; i++) {
            uint8_t rk[16];
            size_t got = 0, off = 16 * (size_t)(atoi(kat[i][0]) - 1);
            sodium_hex2bin(rk, 16, kat[i][1], 32, NULL, &got, NULL);
            int ok = 1;
            for (int j = 0; j < 16; j++) ok &= la[off + (size_t)j] == ng_aes_sbox[pa[off + (size_t)j] ^ rk[j]];
            CHECKF(ok, "--paper-exact: round key %s", kat[i][0]);
        }
        CHECK(strcmp(ng_weights_meta_get(wl, "nnguard.expand_key"), "paper") == 0);
        ng_weights_free(wl);
        CHECK_OK(ng_deeplock_unlock_stream(lp, uns, &s128, &o));
        CHECK(same_file(uns, orig));
    }

    /* ---- wrong key: refused, nothing written; --no-check gives a different model ---- */
    const char *bad = tmp("bad.safetensors");
    CHECK_ST(ng_deeplock_unlock_file(lk, bad, &s2, &o), NG_E_KEY);
    CHECK(strstr(ng_last_error(), "wrong key or altered file") != NULL);
    CHECK(!exists(bad));
    CHECK_ST(ng_deeplock_unlock_stream(lk, bad, &s2, &os), NG_E_KEY);
    CHECK(!exists(bad));
    ng_deeplock_options onc = o;
    onc.no_check = 1;
    CHECK_OK(ng_deeplock_unlock_file(lk, bad, &s2, &onc));
    CHECK(exists(bad) && !same_file(bad, orig));
    ng_weights *wb;
    CHECK_OK(ng_weights_open(bad, &wb));
    CHECK(!ng_deeplock_is_locked(wb));
    CHECK(memcmp(param(wb, "c.scale")->data, param(wo, "c.scale")->data, 40) != 0);
    ng_weights_free(wb);
    unlink(bad);

    /* ---- corrupted / truncated locked files; double lock; unlock of plain ---- */
    size_t n;
    uint8_t *d = slurp(lk, &n);   /* reused below */
    d[n - 3] ^= 1;   /* a byte of c.scale */
    const char *cor = tmp("cor.safetensors"), *tru = tmp("tru.safetensors");
    ng_write_file_atomic(cor, d, n, NG_MODE_PUBLIC);
    ng_write_file_atomic(tru, d, n - 8, NG_MODE_PUBLIC);
    free(d);
    CHECK_ST(ng_deeplock_unlock_file(cor, bad, &s, &o), NG_E_AUTH);
    CHECK(strstr(ng_last_error(), "modified or truncated") != NULL);
    CHECK_ST(ng_deeplock_unlock_stream(cor, bad, &s, &os), NG_E_AUTH);
    CHECK(strstr(ng_last_error(), "modified or truncated") != NULL);
    CHECK(ng_deeplock_unlock_file(tru, bad, &s, &o) != NG_OK);
    CHECK(ng_deeplock_unlock_stream(tru, bad, &s, &os) != NG_OK);
    CHECK(!exists(bad));
    CHECK_ST(ng_deeplock_lock_file(lk, bad, &s, &o), NG_E_STATE);
    CHECK_ST(ng_deeplock_lock_stream(lk, bad, &s, &os), NG_E_STATE);
    CHECK_ST(ng_deeplock_unlock_file(orig, bad, &s, &o), NG_E_STATE);
    CHECK_ST(ng_deeplock_unlock_stream(orig, bad, &s, &os), NG_E_STATE);
    CHECK(!exists(bad));

    /* ---- --only ---- */
    ng_deeplock_options oo = o;
    oo.only = "a.*";
    const char *lo = tmp("lo.safetensors"), *los = tmp("los.safetensors");
    CHECK_OK(ng_deeplock_lock_file(orig, lo, &s, &oo));
    oo.chunk_bytes = 16;
    CHECK_OK(ng_deeplock_lock_stream(orig, los, &s, &oo));
    CHECK(same_file(lo, los));
    CHECK_OK(ng_weights_open(lo, &wl));
    CHECK(memcmp(param(wl, "a.bias")->data, param(wo, "a.bias")->data, 26) != 0);
    CHECK(memcmp(param(wl, "b.weight")->data, param(wo, "b.weight")->data, 18) == 0);
    CHECK(memcmp(param(wl, "c.scale")->data, param(wo, "c.scale")->data, 40) == 0);
    CHECK(strcmp(ng_weights_meta_get(wl, "nnguard.only"), "a.*") == 0);
    ng_weights_free(wl);
    CHECK_OK(ng_deeplock_unlock_stream(lo, uns, &s, &os));
    CHECK(same_file(uns, orig));
    oo.only = "nothing*";
    CHECK_ST(ng_deeplock_lock_file(orig, bad, &s, &oo), NG_E_INVALID);

    /* ---- passphrase keys (fixed salt so both paths agree) ---- */
    ng_kdf_params kp;
    ng_kdf_params_new(&kp);
    ng_deeplock_secret sp = {.pass = "correct horse", .pass_len = 13}, spw = {.pass = "wrong horse", .pass_len = 11};
    ng_deeplock_options op = o;
    op.kdf = &kp;
    const char *lp = tmp("lp.safetensors"), *lps = tmp("lps.safetensors");
    CHECK_OK(ng_deeplock_lock_file(orig, lp, &sp, &op));
    CHECK_OK(ng_deeplock_lock_stream(orig, lps, &sp, &op));
    CHECK(same_file(lp, lps));
    CHECK_ST(ng_deeplock_unlock_file(lp, bad, &spw, &o), NG_E_KEY);
    CHECK(!exists(bad));
    CHECK_ST(ng_deeplock_unlock_file(lp, bad, &s, &o), NG_E_KEY);   /* random key on a passphrase lock */
    CHECK_OK(ng_deeplock_unlock_stream(lp, uns, &sp, &o));
    CHECK(same_file(uns, orig));
    /* a crafted Argon2id cost in the metadata is refused at once, not run for hours */
    ng_weights *wp;
    CHECK_OK(ng_weights_open(lp, &wp));
    CHECK_OK(ng_weights_meta_set(wp, "nnguard.kdf_opslimit", "4000000000"));
    const char *lpx = tmp("lpx.safetensors");
    CHECK_OK(ng_weights_save(wp, lpx));
    ng_weights_free(wp);
    double t0 = ng_now();
    CHECK_ST(ng_deeplock_unlock_file(lpx, bad, &sp, &o), NG_E_FORMAT);
    CHECK_ST(ng_deeplock_unlock_stream(lpx, bad, &sp, &o), NG_E_FORMAT);
    CHECK(ng_now() - t0 < 5.0);
    CHECK(!exists(bad));

    /* ---- ONNX (lenet5 fixture): round trip, unlock in memory ---- */
    const char *onnx = tu_path("fixtures/lenet5.onnx"), *lon = tmp("l.onnx"), *uon = tmp("u.onnx");
    CHECK_OK(ng_deeplock_lock_file(onnx, lon, &s, &o));
    CHECK_OK(ng_deeplock_unlock_file(lon, uon, &s, &o));
    ng_weights *a1, *a2, *a3;
    CHECK_OK(ng_weights_open(onnx, &a1));
    CHECK_OK(ng_weights_open(uon, &a2));
    CHECK_OK(ng_weights_open(lon, &a3));
    int onnx_ok = ng_weights_count(a1) == ng_weights_count(a2) && ng_weights_count(a1) > 0, differs = 1;
    for (size_t i = 0; onnx_ok && i < ng_weights_count(a1); i++) {
        const ng_param *p1 = ng_weights_param_c(a1, i), *p2 = ng_weights_param_c(a2, i), *p3 = ng_weights_param_c(a3, i);
        onnx_ok &= p1->nbytes == p2->nbytes && memcmp(p1->data, p2->data, p1->nbytes) == 0;
        differs &= p1->nbytes < 16 || memcmp(p1->data, p3->data, p1->nbytes) != 0;
    }
    CHECK(onnx_ok);
    CHECK(differs);
    /* the locked ONNX parameters hold NaN/Inf and denormal bit patterns, and still round-tripped */
    size_t nan_inf = 0, denorm = 0;
    for (size_t i = 0; i < ng_weights_count(a3); i++) {
        const ng_param *p3 = ng_weights_param_c(a3, i);
        for (size_t j = 0; j + 4 <= p3->nbytes; j += 4) {
            uint32_t u;
            memcpy(&u, p3->data + j, 4);
            nan_inf += (u & 0x7f800000u) == 0x7f800000u;
            denorm += (u & 0x7f800000u) == 0 && (u & 0x7fffffu) != 0;
        }
    }
    CHECKF(nan_inf > 100 && denorm > 100, "%zu NaN/Inf and %zu denormal locked values", nan_inf, denorm);
    CHECK(ng_weights_meta_get(a2, "nnguard.scheme") == NULL);
    ng_weights *a4;
    CHECK_OK(ng_deeplock_open_weights(lon, &s, 0, &a4));
    uint8_t i1[32], i4[32];
    ng_weights_id(a1, i1);
    ng_weights_id(a4, i4);
    CHECK(memcmp(i1, i4, 32) == 0);
    ng_weights_free(a4);
    CHECK_ST(ng_deeplock_open_weights(lon, &s2, 0, &a4), NG_E_KEY);
    ng_weights_free(a1); ng_weights_free(a2); ng_weights_free(a3);
    ng_weights_free(wo);

    /* ---- ONNX with every float dtype (raw and float_data FLOAT, FLOAT16, BFLOAT16, DOUBLE; NaN,
     * Inf, denormals) and an INT64 initializer: ctr and expand round trips bit for bit ---- */
    {
        char dt[600];   /* not tu_path(): its buffer holds `onnx` */
        snprintf(dt, sizeof dt, "%s/fixtures/deeplock_dtypes.onnx", NG_TEST_DIR);
        const char *ld = tmp("ld.onnx"), *ud = tmp("ud.onnx");
        ng_weights *w0, *w1, *w2;
        CHECK_OK(ng_weights_open(dt, &w0));
        CHECK(w0 && ng_weights_count(w0) == 5);
        for (int ks = 0; w0 && ks < 2; ks++) {
            const ng_deeplock_secret *sk = ks ? &s128 : &s;
            CHECK_OK(ng_deeplock_lock_file(dt, ld, sk, ks ? &oe : &o));
            CHECK_OK(ng_deeplock_unlock_file(ld, ud, sk, &o));
            CHECK_OK(ng_weights_open(ld, &w1));
            CHECK_OK(ng_weights_open(ud, &w2));
            int rt = ng_weights_count(w2) == 5, changed = 1;
            for (size_t i = 0; rt && i < 5; i++) {
                const ng_param *p0 = ng_weights_param_c(w0, i), *p1 = ng_weights_param_c(w1, i), *p2 = ng_weights_param_c(w2, i);
                rt &= p0->dtype == p2->dtype && p0->nbytes == p2->nbytes && memcmp(p0->data, p2->data, p0->nbytes) == 0;
                rt &= p1->dtype == p0->dtype && p1->nbytes == p0->nbytes;
                changed &= memcmp(p0->data, p1->data, p0->nbytes) != 0;
            }
            CHECKF(rt, "keystream %d", ks);
            CHECKF(changed, "keystream %d", ks);
            uint8_t x0[32], x2[32];
            ng_weights_id(w0, x0);
            ng_weights_id(w2, x2);
            CHECK(memcmp(x0, x2, 32) == 0);
            ng_weights_free(w1); ng_weights_free(w2);
        }
        ng_weights_free(w0);
    }

    /* ---- a full disk while writing: the call fails and leaves no OUT ---- */
    const char *full = tmp("full.safetensors");
    ng_fault_write_after(64);
    CHECK_ST(ng_deeplock_lock_stream(orig, full, &s, &os), NG_E_IO);
    CHECK_ST(ng_deeplock_lock_file(orig, full, &s, &o), NG_E_IO);
    ng_fault_write_after(-1);
    CHECK(!exists(full));

    /* ---- unlock while loading into the engine: same parameters as the original model ---- */
    ng_model *mo = NULL, *ml = NULL;
    CHECK_OK(ng_model_load(onnx, &mo));
    CHECK_OK(ng_deeplock_open_model(lon, &s, &ml));
    if (mo && ml) {
        CHECK(ng_model_nparams(mo) == ng_model_nparams(ml) && ng_model_nparams(mo) > 60000);
        CHECK(memcmp(ng_model_params_c(mo), ng_model_params_c(ml), ng_model_nparams(mo) * sizeof(float)) == 0);
    }
    ng_model_free(ml);
    ml = NULL;
    CHECK_ST(ng_deeplock_open_model(lon, &s2, &ml), NG_E_KEY);
    CHECK(ml == NULL);
    d = slurp(lon, &n);
    CHECK_OK(ng_deeplock_open_model_buffer(d, n, "l.onnx", &s, &ml));
    if (mo && ml) CHECK(memcmp(ng_model_params_c(mo), ng_model_params_c(ml), ng_model_nparams(mo) * sizeof(float)) == 0);
    free(d);
    ng_model_free(ml);
    ng_model_free(mo);

    /* ---- key files ---- */
    const char *kf = tmp("k.key"), *kfs = tmp("ks.key");
    ng_key got;
    CHECK_OK(ng_key_save(&k, kf, NULL, 0));
    struct stat st;
    CHECK(stat(kf, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_OK(ng_key_load(kf, NULL, 0, &got));
    CHECK(got.len == 32 && sodium_memcmp(got.k, k.k, 32) == 0);
    CHECK_ST(ng_key_save(&k2, kf, NULL, 0), NG_E_EXISTS);
    CHECK_OK(ng_key_load(kf, NULL, 0, &got));
    CHECK(sodium_memcmp(got.k, k.k, 32) == 0);   /* not overwritten */
    chmod(kf, 0644);
    CHECK_ST(ng_key_load(kf, NULL, 0, &got), NG_E_PERM);
    CHECK(strstr(ng_last_error(), "chmod 600") != NULL);
    chmod(kf, 0600);
    d = slurp(kf, &n);
    char *kx = strstr((char *)d, "key: ") + 5;
    kx[3] = kx[3] == 'a' ? 'b' : 'a';   /* one hex digit of the key */
    const char *kc = tmp("corrupt.key");
    ng_write_file_atomic(kc, d, n, 0600);
    CHECK_ST(ng_key_load(kc, NULL, 0, &got), NG_E_KEY);
    CHECK(strstr(ng_last_error(), "corrupted") != NULL);
    ng_write_file_atomic(tmp("short.key"), d, n / 2, 0600);
    CHECK_ST(ng_key_load(tmp("short.key"), NULL, 0, &got), NG_E_KEY);
    free(d);
    CHECK_OK(ng_key_save(&k128, kfs, "pw", 2));
    CHECK_ST(ng_key_load(kfs, NULL, 0, &got), NG_E_KEY);
    CHECK_ST(ng_key_load(kfs, "px", 2, &got), NG_E_KEY);
    CHECK_OK(ng_key_load(kfs, "pw", 2, &got));
    CHECK(got.len == 16 && memcmp(got.k, fips, 16) == 0);
    const char *pf = tmp("pass.txt");
    write_secret(pf, "correct horse\nignored\n", 0600);
    char *pass;
    size_t plen;
    CHECK_OK(ng_passphrase_read(pf, "", &pass, &plen));
    CHECK(plen == 13 && memcmp(pass, "correct horse", 13) == 0);
    ng_passphrase_free(pass, plen);
    chmod(pf, 0640);
    CHECK_ST(ng_passphrase_read(pf, "", &pass, &plen), NG_E_PERM);

    ng_key_wipe(&k); ng_key_wipe(&k2); ng_key_wipe(&got);
    /* ---- the parameter API, tensors of several 1 MiB pieces on 1-3 workers: every locked byte
     * equals S(b XOR k) with k from the reference streams (ctr: ECB reference per tensor; expand:
     * the portable schedule run from round 0 over the tensors in order), for a salt (format 3)
     * and for no salt (the unsalted stream of formats 1-2) ---- */
    {
        static const size_t sizes[] = {(3u << 20) + 12, 20, (1u << 20) + 4};   /* bytes, F32 */
        enum { NP = 3 };
        ng_param pp[NP];
        char pn[NP][16];
        uint8_t *plain[NP];
        size_t sum = 0;
        for (int i = 0; i < NP; i++) {
            snprintf(pn[i], sizeof pn[i], "big%d", i);
            plain[i] = malloc(sizes[i]);
            for (size_t j = 0; j < sizes[i]; j++) plain[i][j] = (uint8_t)(j * 131 + (size_t)i * 7 + (j >> 12));
            pp[i] = (ng_param){.name = pn[i], .dtype = NG_DT_F32, .data = malloc(sizes[i]), .nbytes = sizes[i]};
            sum += sizes[i];
        }
        uint8_t *eks[2] = {malloc(sum), malloc(sum)};
        ng_key kb, kb128;   /* the test's keys are wiped by now */
        CHECK_OK(ng_key_generate(256, &kb));
        CHECK_OK(ng_key_generate(128, &kb128));
        uint8_t Lb[32], L128[32], sched[16];
        ref_L(kb.k, 32, salt0, Lb);
        ref_L(kb128.k, 16, salt0, L128);
        ref_keyed(L128, 32, "nnguard.deeplock.v3.expand", NULL, 0, sched, 16);
        for (int legacy = 0; legacy < 2; legacy++) {
            ng_expand_cursor ec;
            ng_expand_init(&ec, legacy ? kb128.k : sched);
            ng_expand_stream_with(&ec, 0, eks[legacy], sum, NG_AES_PORTABLE);
        }
        for (int legacy = 0; legacy < 2; legacy++)
        for (int ks = 0; ks < 2; ks++)
            for (int th = 1; th <= 3; th++) {
                for (int i = 0; i < NP; i++) memcpy(pp[i].data, plain[i], sizes[i]);
                const ng_key *key = ks ? &kb128 : &kb;
                ng_deeplock_options po = ng_deeplock_options_default();
                po.keystream = (ng_keystream)ks;
                po.threads = th;
                const uint8_t *salt = legacy ? NULL : salt0;
                CHECK_OK(ng_deeplock_lock_params(pp, NP, key, salt, &po));
                int exact = 1;
                size_t so = 0;
                for (int i = 0; i < NP; i++) {
                    uint8_t *kst = malloc(sizes[i]);
                    if (ks) memcpy(kst, eks[legacy] + so, sizes[i]);
                    else if (legacy) ref_ctr(kb.k, "nnguard.deeplock.ctr.v2", pn[i], kst, sizes[i]);
                    else ref_ctr(Lb, "nnguard.deeplock.v3.ctr", pn[i], kst, sizes[i]);
                    for (size_t j = 0; j < sizes[i]; j++) exact &= pp[i].data[j] == ng_aes_sbox[plain[i][j] ^ kst[j]];
                    so += sizes[i];
                    free(kst);
                }
                CHECKF(exact, "%s%s lock in memory, %d workers, equals the reference", legacy ? "unsalted " : "",
                       ks ? "expand" : "ctr", th);
                CHECK_OK(ng_deeplock_unlock_params(pp, NP, key, salt, &po));
                int back = 1;
                for (int i = 0; i < NP; i++) back &= memcmp(pp[i].data, plain[i], sizes[i]) == 0;
                CHECKF(back, "%s round trip, %d workers", ks ? "expand" : "ctr", th);
            }
        for (int i = 0; i < NP; i++) { free(plain[i]); free(pp[i].data); }
        free(eks[0]); free(eks[1]);
        ng_key_wipe(&kb);
        ng_key_wipe(&kb128);
    }

    return tu_done();
}
