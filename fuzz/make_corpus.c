/* fuzz/make_corpus.c - writes the small seed files of fuzz/corpus/<target>/ with the library
 * itself, from tests/fixtures and tiny synthetic datasets, using the fixed key and passphrase
 * of targets.h. Run by fuzz/make_corpus.sh (not part of the build); the output is committed.
 * usage: make_corpus SOURCE_DIR OUT_DIR */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <sodium.h>
#include "nnguard/nnguard.h"
#include "nnguard/safetensors.h"
#include "nnguard/keys.h"
#include "nnguard/deeplock.h"
#include "nnguard/advparams.h"
#include "protect/advparams/advparams_impl.h"
#include "core/core.h"
#include "targets.h"

static const char *src, *out;

static void die(const char *what) { fprintf(stderr, "make_corpus: %s: %s\n", what, ng_last_error()); exit(1); }

static void put(const char *target, const char *name, const void *buf, size_t n, int mode_byte)
{
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/%s", out, target);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");   /* a tool writing seed files, not the library: no atomic writer needed */
    if (!f || fwrite(buf, 1, n, f) != n) { perror(path); exit(1); }
    if (mode_byte >= 0) fputc(mode_byte, f);
    fclose(f);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *b;
    if (ng_read_file(path, 64u << 20, &b, n) != NG_OK) die(path);
    return b;
}

static void fixed_key(ng_key *k, size_t len)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < len; i++) k->k[i] = (uint8_t)i;
    k->len = len;
}

/* IDX files: n images of h x w (pixel = 37*i + j), labels i % 10. */
static size_t idx_images(uint8_t *b, int n, int h, int w)
{
    uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, (uint8_t)n, 0, 0, 0, (uint8_t)h, 0, 0, 0, (uint8_t)w};
    memcpy(b, hdr, 16);
    for (int i = 0; i < n * h * w; i++) b[16 + i] = (uint8_t)(37 * i + i / (h * w));
    return 16 + (size_t)(n * h * w);
}
static size_t idx_labels(uint8_t *b, int n)
{
    uint8_t hdr[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)n};
    memcpy(b, hdr, 8);
    for (int i = 0; i < n; i++) b[8 + i] = (uint8_t)(i % 10);
    return 8 + (size_t)n;
}
static size_t gz(const uint8_t *in, size_t n, uint8_t *o, size_t cap)
{
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);   /* 31: gzip wrapper */
    z.next_in = (uint8_t *)in; z.avail_in = (uInt)n; z.next_out = o; z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t r = z.total_out;
    deflateEnd(&z);
    return r;
}

static void datasets(void)
{
    static uint8_t im[4096], lb[64], both[8192], g[8192];
    size_t ni = idx_images(im, 3, 4, 5), nl = idx_labels(lb, 3);
    /* idx target: u32le split | images | labels */
    ng_put_le32(both, (uint32_t)ni); memcpy(both + 4, im, ni); memcpy(both + 4 + ni, lb, nl);
    put("idx", "tiny", both, 4 + ni + nl, -1);
    size_t gi = gz(im, ni, g, sizeof g);
    ng_put_le32(both, (uint32_t)gi); memcpy(both + 4, g, gi);
    size_t gl = gz(lb, nl, g, sizeof g);
    memcpy(both + 4 + gi, g, gl);
    put("idx", "tiny_gz", both, 4 + gi + gl, -1);
    put("cli_idx", "tiny", im, ni, -1);
    put("cli_idx", "tiny_gz", g, gz(im, ni, g, sizeof g), -1);
    /* real Fashion-MNIST: the first 4 test images and labels */
    gzFile fi = gzopen(NG_DEFAULT_DATA_DIR "/t10k-images-idx3-ubyte.gz", "rb");
    gzFile fl = gzopen(NG_DEFAULT_DATA_DIR "/t10k-labels-idx1-ubyte.gz", "rb");
    if (fi && fl) {
        uint8_t *rim = malloc(16 + 4 * 784), rlb[12];
        if (gzread(fi, rim, 16 + 4 * 784) == 16 + 4 * 784 && gzread(fl, rlb, 12) == 12) {
            ng_put_le32(rim + 4, 0); rim[7] = 4; rlb[7] = 4; rlb[4] = rlb[5] = rlb[6] = 0;   /* n = 4 */
            uint8_t *b = malloc(4 + 16 + 4 * 784 + 12);
            ng_put_le32(b, 16 + 4 * 784); memcpy(b + 4, rim, 16 + 4 * 784); memcpy(b + 4 + 16 + 4 * 784, rlb, 12);
            put("idx", "fmnist4", b, 4 + 16 + 4 * 784 + 12, -1);
            put("cli_idx", "fmnist4", rim, 16 + 4 * 784, -1);
            free(b);
        }
        free(rim);
    }
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    /* CIFAR-10: 2 records of label + 3072 pixels */
    static uint8_t c[2 * 3073];
    for (int i = 0; i < 2 * 3073; i++) c[i] = (uint8_t)(i * 7);
    c[0] = 3; c[3073] = 9;
    put("cifar", "two", c, sizeof c, -1);
    put("cifar", "one", c, 3073, -1);
}

/* A key file sealed with the fixed passphrase and cheap Argon2id costs (the targets skip dear ones). */
static void sealed_key(const ng_key *k, char *text, size_t cap)
{
    uint8_t salt[16], sk[32], box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 32];
    char salth[33], boxh[2 * sizeof box + 1];
    memset(salt, 0x11, sizeof salt);
    memset(box, 0x22, crypto_secretbox_NONCEBYTES);
    if (crypto_pwhash(sk, 32, NG_FUZZ_PASS, strlen(NG_FUZZ_PASS), salt, 1, 8192, crypto_pwhash_ALG_ARGON2ID13) != 0) exit(1);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, k->k, k->len, box, sk);
    sodium_bin2hex(salth, sizeof salth, salt, sizeof salt);
    sodium_bin2hex(boxh, sizeof boxh, box, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + k->len);
    snprintf(text, cap, "nnguard-key v1\nbits: %zu\nkdf: argon2id %s 1 8192\nsealed: %s\n", k->len * 8, salth, boxh);
}

static void keys(const char *tmp)
{
    char path[1200], text[1024];
    size_t n;
    for (int bits = 128; bits <= 256; bits += 128) {
        ng_key k;
        fixed_key(&k, (size_t)bits / 8);
        snprintf(path, sizeof path, "%s/k%d.key", tmp, bits);
        unlink(path);
        if (ng_key_save(&k, path, NULL, 0) != NG_OK) die("key save");
        uint8_t *b = slurp(path, &n);
        snprintf(path, sizeof path, "plain%d", bits);
        put("key", path, b, n, -1);
        free(b);
        sealed_key(&k, text, sizeof text);
        snprintf(path, sizeof path, "sealed%d", bits);
        put("key", path, text, strlen(text), -1);
    }
}

/* AdvParams keys for the targets' mlp (1x4x4 input, 3 classes, seed 1): 3 positions. */
static void advkeys(void)
{
    ng_model *m;
    if (ng_model_from_arch("mlp", 1, 4, 4, 3, 1, &m) != NG_OK) die("mlp");
    ng_adv_key *k = ng_adv_key_new();
    const uint64_t at[3][2] = {{0, 5}, {2, 100}, {4, 7}};
    for (int i = 0; i < 3; i++) {
        ng_param p;
        ng_model_tensor(m, (size_t)at[i][0], &p);
        uint32_t orig, pert;
        memcpy(&orig, p.data + at[i][1] * 4, 4);
        float f = i % 2 ? 3.5f : -2.25f;
        memcpy(&pert, &f, 4);
        if (ng_adv_key_push(k, p.name, at[i][1], orig, pert) != NG_OK) die("push");
    }
    k->budget = 3; k->set_size = 16; k->target_acc = 0.15; k->seed = 9;
    free(k->pattern); k->pattern = ng_strdup("fc*.weight");
    uint8_t *b; size_t n;
    if (ng_adv_key_encode(k, NULL, 0, &b, &n) != NG_OK) die("encode");
    put("advkey", "plain3", b, n, -1);
    b[12] = 1;   /* the target seals the same payload with the fixed passphrase */
    put("advkey", "sealed3_via_target", b, n, -1);
    free(b);
    k->form = 1;   /* hardened form (version 2); plain3_v1, committed, is the version-1 layout */
    if (ng_adv_key_encode(k, NULL, 0, &b, &n) != NG_OK) die("encode");
    put("advkey", "hardened3", b, n, -1);
    free(b);
    ng_adv_key_free(k);
    ng_model_free(m);
}

static void model_seeds(const char *tmp)
{
    /* ONNX: every small op fixture and the residual/BatchNorm model */
    static const char *const onnx[] = {"op_relu", "op_flatten", "op_avgpool_ceil", "op_maxpool_pad", "op_softmax11",
        "op_dropout11", "op_add_bcast", "op_reshape", "op_identity_dropout", "op_constants", "op_conv_depthwise",
        "op_conv_rect", "op_batchnorm17", "op_gap", "op_gemm_attrs", "op_conv_groups", "op_conv_stride_dil",
        "op_batchnorm", "op_float_data", "op_matmul", "op_add_act", "op_mixed17", "op_concat", "op_gemm",
        "op_view_chain11", "op_shuffle", "op_pad_avgpool", "op_lstm_bidir", "op_gru", "op_slice_neg", "op_unsqueeze11",
        "op_layernorm17", "op_split11", "op_clip9", "op_softmax_2d", "resbn"};
    char path[1200], name[256];
    size_t n;
    for (size_t i = 0; i < sizeof onnx / sizeof onnx[0]; i++) {
        snprintf(path, sizeof path, "%s/tests/fixtures/%s.onnx", src, onnx[i]);
        uint8_t *b = slurp(path, &n);
        put("onnx", onnx[i], b, n, -1);
        if (i % 5 == 0 || !strcmp(onnx[i], "resbn")) put("info", onnx[i], b, n, 0);   /* mode byte: .onnx */
        free(b);
    }
    /* safetensors: resbn's weights, and a hand-made file with metadata and non-float dtypes */
    ng_model *m;
    snprintf(path, sizeof path, "%s/tests/fixtures/resbn.onnx", src);
    if (ng_model_load(path, &m) != NG_OK) die("resbn");
    snprintf(path, sizeof path, "%s/resbn.safetensors", tmp);
    if (ng_model_save_safetensors(m, path) != NG_OK) die("save st");
    ng_model_free(m);
    uint8_t *st = slurp(path, &n);
    put("safetensors", "resbn", st, n, -1);
    put("st_header", "resbn", st, n, -1);
    put("st_stream", "resbn", st, n, -1);
    put("locked", "resbn_st_plain", st, n, 1);
    put("info", "resbn_safetensors", st, n, 1);
    free(st);
    {
        const char *json = "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
            "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
            "\"c\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[22,30]},"
            "\"d\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[30,32]},"
            "\"e\":{\"dtype\":\"BF16\",\"shape\":[0,4],\"data_offsets\":[32,32]}}";
        size_t jn = strlen(json), pad = (8 - jn % 8) % 8;
        uint8_t b[1024];
        ng_put_le64(b, jn + pad);
        memcpy(b + 8, json, jn);
        memset(b + 8 + jn, ' ', pad);
        for (int i = 0; i < 32; i++) b[8 + jn + pad + (size_t)i] = (uint8_t)(i * 9);
        n = 8 + jn + pad + 32;
        put("safetensors", "dtypes", b, n, -1);
        put("st_header", "dtypes", b, n, -1);
        put("st_stream", "dtypes", b, n, -1);
    }
    /* locked: resbn ONNX and safetensors locked with the fixed key (ctr, expand; format 3 with a
     * fixed salt, so the seeds are the same every run). The format 2 seeds (*_v2) were made by an
     * earlier nnguard and are kept as they are: this program cannot make them any more. */
    static const char *const ext[] = {"onnx", "safetensors"};
    for (int f = 0; f < 2; f++) {
        for (int ks = 0; ks < 2; ks++) {
            ng_key k;
            fixed_key(&k, ks ? 16 : 32);
            ng_deeplock_secret s = {.key = &k};
            ng_deeplock_options o = ng_deeplock_options_default();
            static const uint8_t salt[32] = {0x33};
            o.keystream = ks ? NG_KS_EXPAND : NG_KS_CTR;
            o.only = ks ? "*.weight" : NULL;
            o.salt = salt;
            char in[1200], lo[1200];
            snprintf(in, sizeof in, f ? "%s/resbn.safetensors" : "%s/tests/fixtures/resbn.onnx", f ? tmp : src);
            snprintf(lo, sizeof lo, "%s/locked_%d_%d.%s", tmp, f, ks, ext[f]);
            unlink(lo);
            if (ng_deeplock_lock_file(in, lo, &s, &o) != NG_OK) die("lock");
            uint8_t *b = slurp(lo, &n);
            snprintf(name, sizeof name, "resbn_%s_%s", ext[f], ks ? "expand" : "ctr");
            put("locked", name, b, n, f);
            if (f) put("st_stream", name, b, n, -1);
            else if (!ks) put("info", name, b, n, 0);
            free(b);
            unlink(lo);
        }
    }
    /* sealed: resbn ONNX and safetensors sealed with the fixed key (both AEADs; fixed salt and id) */
    for (int f = 0; f < 2; f++) {
        for (int a = 0; a < 2; a++) {
            ng_key k;
            fixed_key(&k, 32);
            ng_deeplock_secret s = {.key = &k};
            ng_seal_options o = ng_seal_options_default();
            static const uint8_t salt[32] = {0x44}, id[32] = {0x55};
            o.aead = a ? NG_AEAD_XCHACHA20POLY1305 : NG_AEAD_AES256GCM;
            o.salt = salt;
            o.id = id;
            char in[1200], so[1200];
            snprintf(in, sizeof in, f ? "%s/resbn.safetensors" : "%s/tests/fixtures/resbn.onnx", f ? tmp : src);
            snprintf(so, sizeof so, "%s/sealed_%d_%d.%s", tmp, f, a, ext[f]);
            unlink(so);
            if (ng_seal_file(in, so, &s, &o) != NG_OK) die("seal");
            uint8_t *b = slurp(so, &n);
            snprintf(name, sizeof name, "resbn_%s_%s", ext[f], ng_aead_name(o.aead));
            put("sealed", name, b, n, f | (a ? 2 : 0));
            free(b);
            unlink(so);
        }
    }
    unlink(path);
}

/* Licenses and identity files of the fixed identities (targets.h), selector byte first. */
static void license_seeds(const char *tmp)
{
    ng_identity iss, me;
    ng_fuzz_identity(0x11, &iss);
    ng_fuzz_identity(0x22, &me);
    ng_key k;
    fixed_key(&k, 32);
    uint8_t model[32], buf[NG_LICENSE_FILE_MAX + 1];
    memset(model, 0x5a, sizeof model);
    char *text;
    size_t n;
    if (ng_license_issue(&iss, &me.pub, model, "2099-12-31", NULL, &k, &text, &n) != NG_OK) die("license");
    buf[0] = 0;
    memcpy(buf + 1, text, n);
    put("license", "license", buf, n + 1, -1);
    free(text);
    ng_class_set cs;   /* a license granting some classes: the parser's "classes:" line */
    if (ng_class_set_parse("0-2,7", "classes", &cs) != NG_OK ||
        ng_license_issue(&iss, &me.pub, model, "2099-12-31", &cs, &k, &text, &n) != NG_OK) die("license classes");
    buf[0] = 0;
    memcpy(buf + 1, text, n);
    put("license", "license-classes", buf, n + 1, -1);
    free(text);
    char path[1200], pub[1300];
    snprintf(path, sizeof path, "%s/me", tmp);
    snprintf(pub, sizeof pub, "%s/me.pub", tmp);
    unlink(path); unlink(pub);
    if (ng_identity_save(&me, path) != NG_OK) die("identity");
    const char *files[] = {path, pub};
    for (int i = 0; i < 2; i++) {
        uint8_t *b = slurp(files[i], &n);
        buf[0] = (uint8_t)(i + 1);
        memcpy(buf + 1, b, n);
        put("license", i ? "identity_pub" : "identity", buf, n + 1, -1);
        free(b);
        unlink(files[i]);
    }
    ng_identity_wipe(&iss);
    ng_identity_wipe(&me);
}

/* nnguard serve: request bodies (selector byte first, see ng_fuzz_http_req), clients files, wm options. */
static void serve_seeds(void)
{
    static const struct { const char *name; int sel; const char *body; } req[] = {
        {"json_small", 0, "{\"inputs\": [0.5, 1, -2e-3, 0.0039215689]}"},
        {"json_batch", 0, "{\"inputs\": [[[[0,1],[2,3]]], [[[4,5],[6.25,7]]]]}"},
        {"json_hw", 0, "{ \"inputs\" : [[1,2],[3,4]] }"},
        {"json_bad", 0, "{\"inputs\": [[1,2],[3]]}"},
        {"bearer", 3, "Bearer abcdefghijklmnop0123"},
        {"bearer_bad", 3, "Basic abc"}};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        char b[256];
        b[0] = (char)req[i].sel;
        size_t n = strlen(req[i].body);
        memcpy(b + 1, req[i].body, n);
        put("http_req", req[i].name, b, n + 1, -1);
    }
    uint8_t f32[1 + 32];
    f32[0] = 2;
    for (int i = 0; i < 8; i++) { float v = 0.125f * (float)i; memcpy(f32 + 1 + 4 * i, &v, 4); }
    put("http_req", "f32_two", f32, sizeof f32, -1);
    const char *cl = "# token name quota rps\nabcdefghijklmnop0123 alice 100 5\nqrstuvwxyzABCDEF4567 bob 0 0.5\n";
    put("clients", "two", cl, strlen(cl), -1);
    put("clients", "bad_fields", "abcdefghijklmnop0123 alice\n", 27, -1);
    put("wm_opts", "one", "0.6", 3, -1);
    put("wm_opts", "range", "0.3,0.6", 7, -1);
    put("wm_opts", "mode", "label", 5, -1);
    const char *lm[][2] = {{"patch", "patch 4\n0123456789abcdef:3ff,fedcba9876543210:1f"},
                           {"blend", "blend 0.1\n0123456789abcdef:3ff"}};
    for (int i = 0; i < 2; i++) put("license_meta", lm[i][0], lm[i][1], strlen(lm[i][1]), -1);
}

/* .npy and image seeds: the fixtures of tests/gen_input_fixtures.py. */
static void input_seeds(void)
{
    static const char *npy[] = {"fm8_u8.npy", "fm8_f32_v2.npy", "fm8_f32_v3.npy", "rgb_px.npy", "bad_fortran.npy",
                                "bad_be.npy", "bad_nobatch.npy"};
    static const char *img[] = {"rgb.png", "rgb.jpg", "rgba.png", "pal.png", "g16.png", "fm8/img_0.png"};
    char path[1200];
    for (size_t i = 0; i < sizeof npy / sizeof npy[0]; i++) {
        snprintf(path, sizeof path, "%s/tests/fixtures/inputs/%s", src, npy[i]);
        size_t n;
        uint8_t *b = slurp(path, &n);
        put("npy", npy[i], b, n, -1);
        free(b);
    }
    for (size_t i = 0; i < sizeof img / sizeof img[0]; i++) {
        snprintf(path, sizeof path, "%s/tests/fixtures/inputs/%s", src, img[i]);
        size_t n;
        uint8_t *b = slurp(path, &n);
        const char *base = strrchr(img[i], '/');
        put("image", base ? base + 1 : img[i], b, n, -1);
        free(b);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: make_corpus SOURCE_DIR OUT_DIR\n"); return 2; }
    src = argv[1]; out = argv[2];
    if (ng_init() != NG_OK) die("init");
    char tmp[] = "/tmp/ng-corpus-XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    mkdir(out, 0755);
    datasets();
    keys(tmp);
    advkeys();
    model_seeds(tmp);
    serve_seeds();
    license_seeds(tmp);
    input_seeds();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : 1;
}
