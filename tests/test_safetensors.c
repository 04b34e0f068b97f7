/* test_safetensors: safetensors files built byte by byte here; open/save round trips bit-exact
 * (NaN/Inf/denormal patterns, F32/F16/BF16/F64 params, I64 kept), metadata kept and edited,
 * parameter order = data-offset order, every malformed variant refused with a message naming
 * the file, the model id against a hand-built SHA-256, the streaming header API agreeing with
 * ng_weights, and ng_model_save_safetensors. */
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>
#include "tutil.h"
#include "core/core.h"
#include "nnguard/safetensors.h"

static char g_path[4096];

static const char *tmp(const char *name)
{
    snprintf(g_path, sizeof g_path, "%s/%s", tu_tmpdir(), name);
    return g_path;
}

/* Write u64le(len(json)) | json | data to path. */
static void write_st(const char *path, const char *json, const uint8_t *data, size_t n)
{
    size_t jl = strlen(json);
    uint8_t *b = malloc(8 + jl + n + 1);
    ng_put_le64(b, jl);
    memcpy(b + 8, json, jl);
    if (n) memcpy(b + 8 + jl, data, n);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, 8 + jl + n, f);
    fclose(f);
    free(b);
}

static uint8_t *slurp(const char *path, size_t *n)
{
    uint8_t *b = NULL;
    if (ng_read_file(path, 1 << 30, &b, n) != NG_OK) { *n = 0; return NULL; }
    return b;
}

/* The data section of the main fixture (48 bytes), in file order:
 *   [0,16)  a.f32  F32 [2,2]: 1.5, NaN payload 0x7fc12345, -Inf, smallest denormal
 *   [16,32) idx    I64 [2]:   -1, 0x0102030405060708
 *   [32,38) b.f16  F16 [3]:   1.0, NaN 0x7e01, denormal 0x0001
 *   [38,40) c.bf16 BF16 []:   -0.0 (0x8000), a scalar
 *   [40,48) d.f64  F64 [1]:   +Inf */
static uint8_t g_data[48];
static const char *g_json =
    "{\"d.f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[40,48]},"
    "\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\\u00e9llo\"},"
    "\"idx\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16,32]},"
    "\"b.f16\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[32,38]},"
    "\"a.f32\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"c.bf16\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[38,40]}}";

static void make_data(void)
{
    uint32_t f32[4] = {0x3fc00000u, 0x7fc12345u, 0xff800000u, 0x00000001u};
    for (int i = 0; i < 4; i++) ng_put_le32(g_data + 4 * i, f32[i]);
    ng_put_le64(g_data + 16, UINT64_MAX);
    ng_put_le64(g_data + 24, 0x0102030405060708ull);
    uint16_t f16[4] = {0x3c00, 0x7e01, 0x0001, 0x8000};
    for (int i = 0; i < 4; i++) { g_data[32 + 2 * i] = (uint8_t)f16[i]; g_data[33 + 2 * i] = (uint8_t)(f16[i] >> 8); }
    ng_put_le64(g_data + 40, 0x7ff0000000000000ull);
}

static const char *const g_pnames[4] = {"a.f32", "b.f16", "c.bf16", "d.f64"};
static const ng_dtype g_ptypes[4] = {NG_DT_F32, NG_DT_F16, NG_DT_BF16, NG_DT_F64};
static const size_t g_poff[4] = {0, 32, 38, 40}, g_plen[4] = {16, 6, 2, 8};

/* The parameters of w are exactly the fixture's, in data order, bytes from data (48 bytes). */
static void check_params(ng_weights *w, const uint8_t *data)
{
    CHECK(ng_weights_count(w) == 4);
    if (ng_weights_count(w) != 4) return;
    for (int i = 0; i < 4; i++) {
        const ng_param *p = ng_weights_param_c(w, (size_t)i);
        CHECKF(strcmp(p->name, g_pnames[i]) == 0, "param %d is %s", i, p->name);
        CHECK(p->dtype == g_ptypes[i]);
        CHECK(p->nbytes == g_plen[i]);
        CHECK(p->nbytes == g_plen[i] && memcmp(p->data, data + g_poff[i], g_plen[i]) == 0);
    }
    const ng_param *a = ng_weights_param_c(w, 0), *c = ng_weights_param_c(w, 2);
    CHECK(a->shape.ndim == 2 && a->shape.d[0] == 2 && a->shape.d[1] == 2);
    CHECK(c->shape.ndim == 0);
    CHECK(ng_weights_find(w, "idx") == -1 && ng_weights_find(w, "c.bf16") == 2);
}

/* Hand-built id: the documented byte layout, assembled here, hashed in one call. */
static void id_by_hand(ng_weights *w, uint8_t id[32])
{
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < ng_weights_count(w); i++)
        cap += 32 + strlen(ng_weights_param_c(w, i)->name) + 8 * NG_MAX_DIMS + ng_weights_param_c(w, i)->nbytes;
    uint8_t *b = malloc(cap + 1);
    for (size_t i = 0; i < ng_weights_count(w); i++) {
        const ng_param *p = ng_weights_param_c(w, i);
        const char *dt = ng_dtype_name(p->dtype);
        ng_put_le32(b + n, (uint32_t)strlen(p->name)); n += 4;
        memcpy(b + n, p->name, strlen(p->name)); n += strlen(p->name);
        ng_put_le32(b + n, (uint32_t)strlen(dt)); n += 4;
        memcpy(b + n, dt, strlen(dt)); n += strlen(dt);
        ng_put_le32(b + n, (uint32_t)p->shape.ndim); n += 4;
        for (int d = 0; d < p->shape.ndim; d++) { ng_put_le64(b + n, (uint64_t)p->shape.d[d]); n += 8; }
        ng_put_le64(b + n, p->nbytes); n += 8;
        memcpy(b + n, p->data, p->nbytes); n += p->nbytes;
    }
    crypto_hash_sha256(id, b, n);
    free(b);
}

static void test_roundtrip(void)
{
    const char *src = strdup(tmp("fix.safetensors"));
    write_st(src, g_json, g_data, sizeof g_data);
    CHECK(ng_format_detect(src) == NG_FMT_SAFETENSORS);
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(src, &w));
    if (!w) return;
    CHECK(ng_weights_format(w) == NG_FMT_SAFETENSORS);
    CHECK(strcmp(ng_weights_path(w), src) == 0);
    check_params(w, g_data);
    CHECK(ng_weights_meta_count(w) == 2);
    CHECK(ng_weights_meta_get(w, "format") && strcmp(ng_weights_meta_get(w, "format"), "pt") == 0);
    CHECK(ng_weights_meta_get(w, "note") && strcmp(ng_weights_meta_get(w, "note"), "h\xc3\xa9llo") == 0);

    /* model id: hand-built layout, and ng_params_id agrees with ng_weights_id */
    uint8_t id[32], want[32];
    char hex[65], whex[65];
    ng_weights_id(w, id);
    id_by_hand(w, want);
    CHECK(memcmp(id, want, 32) == 0);
    ng_id_hex(id, hex);
    sodium_bin2hex(whex, sizeof whex, want, 32);
    CHECK(strlen(hex) == 64 && strcmp(hex, whex) == 0);

    /* save unchanged: same params, same metadata, the I64 tensor kept, header padded to 8 */
    const char *out1 = strdup(tmp("out1.safetensors"));
    CHECK_OK(ng_weights_save(w, out1));
    ng_weights *w1 = NULL;
    CHECK_OK(ng_weights_open(out1, &w1));
    size_t n1;
    uint8_t *f1 = slurp(out1, &n1);
    CHECK(f1 && n1 >= 8 && ng_le64(f1) % 8 == 0 && n1 == 8 + ng_le64(f1) + 48);
    if (f1 && n1 == 8 + ng_le64(f1) + 48) CHECK(memcmp(f1 + 8 + ng_le64(f1), g_data, 48) == 0);
    if (w1) {
        check_params(w1, g_data);
        CHECK(ng_weights_meta_count(w1) == 2);
        CHECK(strcmp(ng_weights_meta_get(w1, "note"), "h\xc3\xa9llo") == 0);
        uint8_t id1[32];
        ng_weights_id(w1, id1);
        CHECK(memcmp(id, id1, 32) == 0);
        /* saving the re-opened file gives the same bytes (canonical header) */
        const char *out2 = strdup(tmp("out2.safetensors"));
        CHECK_OK(ng_weights_save(w1, out2));
        size_t n2;
        uint8_t *f2 = slurp(out2, &n2);
        CHECK(f2 && n1 == n2 && memcmp(f1, f2, n1) == 0);
        free(f2); free((void *)out2);
        ng_weights_free(w1);
    }
    free(f1);

    /* edit: metadata added/removed, parameter bytes changed to special patterns */
    CHECK_OK(ng_weights_meta_set(w, "nnguard.scheme", "deeplock"));
    CHECK_OK(ng_weights_meta_set(w, "note", NULL));
    CHECK(ng_weights_meta_get(w, "note") == NULL && ng_weights_meta_count(w) == 2);
    ng_param *a = ng_weights_param(w, 0), *b = ng_weights_param(w, 1);
    uint8_t edited[48];
    memcpy(edited, g_data, 48);
    uint32_t pat[4] = {0xffffffffu, 0x7f800001u, 0x807fffffu, 0x00000000u};
    for (int i = 0; i < 4; i++) ng_put_le32(a->data + 4 * i, pat[i]);
    memcpy(edited, a->data, 16);
    b->data[0] = 0xff; b->data[1] = 0x7f;   /* F16 NaN 0x7fff */
    edited[32] = 0xff; edited[33] = 0x7f;
    const char *out3 = strdup(tmp("out3.safetensors"));
    CHECK_OK(ng_weights_save(w, out3));
    ng_weights *w3 = NULL;
    CHECK_OK(ng_weights_open(out3, &w3));
    if (w3) {
        check_params(w3, edited);
        CHECK(ng_weights_meta_get(w3, "note") == NULL);
        CHECK(strcmp(ng_weights_meta_get(w3, "nnguard.scheme"), "deeplock") == 0);
        CHECK(strcmp(ng_weights_meta_get(w3, "format"), "pt") == 0);
        uint8_t id3[32];
        ng_weights_id(w3, id3);
        CHECK(memcmp(id, id3, 32) != 0);
        /* the I64 tensor is kept as it was */
        ng_st_header *h = NULL;
        CHECK_OK(ng_st_header_read(out3, &h));
        size_t n3;
        uint8_t *f3 = slurp(out3, &n3);
        long k = h ? ng_st_header_find(h, "idx") : -1;
        CHECK(k == 1);
        if (k >= 0 && f3) {
            const ng_st_tensor *t = ng_st_header_tensor(h, (size_t)k);
            CHECK(t->dtype == NG_DT_I64 && t->nbytes == 16 && t->offset + 16 <= n3);
            CHECK(memcmp(f3 + t->offset, g_data + 16, 16) == 0);
        }
        free(f3);
        ng_st_header_free(h);
        ng_weights_free(w3);
    }
    /* the source file is never modified */
    size_t ns;
    uint8_t *fs = slurp(src, &ns);
    CHECK(fs && ns == 8 + strlen(g_json) + 48 && memcmp(fs + ns - 48, g_data, 48) == 0);
    free(fs);

    /* from a buffer: same parameters, same id */
    size_t nb;
    uint8_t *buf = slurp(src, &nb);
    ng_weights *wb = NULL;
    CHECK_OK(ng_weights_open_buffer(buf, nb, NG_FMT_UNKNOWN, "mem.bin", &wb));
    if (wb) {
        check_params(wb, g_data);
        uint8_t idb[32];
        ng_weights_id(wb, idb);
        CHECK(memcmp(idb, want, 32) == 0);
        ng_weights_free(wb);
    }
    free(buf);
    ng_weights_free(w);
    free((void *)src); free((void *)out1); free((void *)out3);
}

/* Known answer computed once with Python's hashlib over the documented layout:
 * w F32 [2] = {1.0, -2.0}; b F16 [] = 1.0. */
static void test_id_known_answer(void)
{
    uint8_t wdat[8], bdat[2] = {0x00, 0x3c};
    ng_put_le32(wdat, 0x3f800000u);
    ng_put_le32(wdat + 4, 0xc0000000u);
    ng_param p[2] = {
        {.name = "w", .dtype = NG_DT_F32, .shape = {1, {2}}, .data = wdat, .nbytes = 8},
        {.name = "b", .dtype = NG_DT_F16, .shape = {0, {0}}, .data = bdat, .nbytes = 2},
    };
    uint8_t id[32];
    char hex[65];
    ng_params_id(p, 2, id);
    ng_id_hex(id, hex);
    CHECK(strcmp(hex, "7db63f243fa3f6eb93d0cff1f0b043a023fde2c69ae73f7ecc054f2f5a867ba2") == 0);
    ng_params_id(p, 0, id);
    ng_id_hex(id, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
}

/* The streaming header agrees with ng_weights; a new header + the old data section is a valid file. */
static void test_stream(void)
{
    const char *src = strdup(tmp("fix.safetensors"));
    ng_st_header *h = NULL;
    CHECK_OK(ng_st_header_read(src, &h));
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(src, &w));
    if (!h || !w) { ng_st_header_free(h); ng_weights_free(w); free((void *)src); return; }
    CHECK(ng_st_header_count(h) == 5);
    CHECK(ng_st_header_data_start(h) == 8 + strlen(g_json));
    CHECK(ng_st_header_data_size(h) == 48);
    CHECK(ng_st_header_meta_count(h) == 2 && strcmp(ng_st_header_meta_get(h, "format"), "pt") == 0);
    size_t nf;
    uint8_t *file = slurp(src, &nf);
    size_t pi = 0;
    uint64_t prev = 0;
    for (size_t i = 0; i < ng_st_header_count(h); i++) {
        const ng_st_tensor *t = ng_st_header_tensor(h, i);
        CHECK(t->offset == ng_st_header_data_start(h) + t->begin && t->begin >= prev);
        prev = t->begin + t->nbytes;
        if (!ng_dtype_is_float(t->dtype)) continue;
        const ng_param *p = ng_weights_param_c(w, pi++);
        CHECK(p && strcmp(p->name, t->name) == 0 && p->dtype == t->dtype && p->nbytes == t->nbytes);
        CHECK(p && p->shape.ndim == t->shape.ndim && memcmp(p->shape.d, t->shape.d, sizeof(int64_t) * (size_t)t->shape.ndim) == 0);
        CHECK(p && file && memcmp(p->data, file + t->offset, t->nbytes) == 0);
    }
    CHECK(pi == 4);
    /* by fd */
    int fd = open(src, O_RDONLY);
    ng_st_header *h2 = NULL;
    CHECK_OK(ng_st_header_read_fd(fd, "fd", &h2));
    close(fd);
    CHECK(h2 && ng_st_header_count(h2) == 5 && ng_st_header_find(h2, "d.f64") == 4);
    ng_st_header_free(h2);
    /* new metadata, serialize, write header + old data section */
    CHECK_OK(ng_st_header_meta_set(h, "nnguard.scheme", "deeplock"));
    CHECK_OK(ng_st_header_meta_set(h, "format", NULL));
    uint8_t *hdr = NULL;
    size_t hl = 0;
    CHECK_OK(ng_st_header_serialize(h, &hdr, &hl));
    CHECK(hl % 8 == 0 && hl > 8 && ng_le64(hdr) == hl - 8);
    const char *dst = strdup(tmp("streamed.safetensors"));
    FILE *f = fopen(dst, "wb");
    fwrite(hdr, 1, hl, f);
    fwrite(file + ng_st_header_data_start(h), 1, 48, f);
    fclose(f);
    ng_weights *w2 = NULL;
    CHECK_OK(ng_weights_open(dst, &w2));
    if (w2) {
        check_params(w2, g_data);
        CHECK(ng_weights_meta_get(w2, "format") == NULL);
        CHECK(strcmp(ng_weights_meta_get(w2, "nnguard.scheme"), "deeplock") == 0);
        CHECK(strcmp(ng_weights_meta_get(w2, "note"), "h\xc3\xa9llo") == 0);
        ng_weights_free(w2);
    }
    /* a header built from scratch */
    ng_st_header *hb = NULL;
    CHECK_OK(ng_st_header_new(&hb));
    ng_shape s2 = {2, {3, 5}}, s0 = {0, {0}};
    CHECK_OK(ng_st_header_add(hb, "x", NG_DT_F32, &s2));
    CHECK_OK(ng_st_header_add(hb, "y", NG_DT_U8, &s0));
    CHECK(ng_st_header_add(hb, "x", NG_DT_F32, &s2) != NG_OK);
    CHECK(ng_st_header_add(hb, "__metadata__", NG_DT_F32, &s2) != NG_OK);
    CHECK(ng_st_header_data_size(hb) == 61 && ng_st_header_tensor(hb, 1)->begin == 60);
    ng_st_header_free(hb);
    free(hdr); free(file);
    ng_st_header_free(h);
    ng_weights_free(w);
    free((void *)src); free((void *)dst);
}

/* path must be refused by ng_weights_open and ng_st_header_read, with a message naming it. */
static void expect_bad(const char *path, const char *what)
{
    ng_weights *w = NULL;
    ng_status st = ng_weights_open(path, &w);
    CHECKF(st != NG_OK && w == NULL, "%s: opened", what);
    CHECKF(strstr(ng_last_error(), path) != NULL, "%s: message \"%s\" does not name the file", what, ng_last_error());
    ng_weights_free(w);
    ng_st_header *h = NULL;
    ng_status st2 = ng_st_header_read(path, &h);
    CHECKF(st2 != NG_OK && h == NULL, "%s: streaming header accepted it", what);
    CHECKF(st2 == st, "%s: in-memory says %s, streaming says %s", what, ng_status_str(st), ng_status_str(st2));
    ng_st_header_free(h);
}

static void bad_json(const char *json, size_t ndata, const char *what)
{
    uint8_t data[64] = {0};
    const char *p = tmp("bad.safetensors");
    write_st(p, json, data, ndata);
    expect_bad(p, what);
}

static void test_malformed(void)
{
    /* truncated at every length */
    const char *src = strdup(tmp("fix.safetensors"));
    size_t n;
    uint8_t *b = slurp(src, &n);
    const char *p = strdup(tmp("trunc.safetensors"));
    int refused = 0;
    for (size_t len = 0; b && len < n; len++) {
        FILE *f = fopen(p, "wb");
        fwrite(b, 1, len, f);
        fclose(f);
        ng_weights *w = NULL;
        if (ng_weights_open(p, &w) != NG_OK && strstr(ng_last_error(), p)) refused++;
        ng_weights_free(w);
        ng_st_header *h = NULL;
        if (len >= 8 && ng_st_header_read(p, &h) == NG_OK) refused--;
        ng_st_header_free(h);
    }
    CHECKF(refused == (int)n, "%d of %zu truncations refused", refused, n);
    /* one extra byte at the end */
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fputc(0, f);
    fclose(f);
    expect_bad(p, "trailing byte");
    /* header length larger than the limit, or than the file */
    uint8_t big[16] = {0};
    ng_put_le64(big, 200u << 20);
    big[8] = '{'; big[9] = '}';
    f = fopen(p, "wb"); fwrite(big, 1, 16, f); fclose(f);
    expect_bad(p, "header length 200 MiB");
    ng_put_le64(big, 9);
    f = fopen(p, "wb"); fwrite(big, 1, 16, f); fclose(f);
    expect_bad(p, "header length past the end");
    free(b); free((void *)src); free((void *)p);

#define T(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"
    bad_json("{" T("a", "F32", "[4]", 0, 16) "," T("b", "F32", "[4]", 8, 24) "}", 24, "overlap");
    bad_json("{" T("a", "F32", "[4]", 0, 16) "," T("b", "F32", "[4]", 20, 36) "}", 36, "gap");
    bad_json("{" T("a", "F32", "[4]", 4, 20) "}", 20, "gap at start");
    bad_json("{" T("a", "F32", "[4]", 0, 16) "}", 15, "out of bounds");
    bad_json("{" T("a", "F32", "[0]", 16, 0) "}", 16, "end < begin");
    bad_json("{" T("a", "F32", "[3]", 0, 16) "}", 16, "numel*size mismatch");
    bad_json("{" T("a", "F32", "[4]", 0, 16) "," T("a", "F32", "[4]", 16, 32) "}", 32, "duplicate names");
    bad_json("{" T("a", "F8_E4M3", "[4]", 0, 4) "}", 4, "unknown dtype");
    bad_json("[1,2]", 0, "JSON array");
    bad_json("\"x\"", 0, "JSON string");
    bad_json("{\"a\":", 0, "invalid JSON");
    bad_json("{\"__metadata__\":{\"k\":1}}", 0, "metadata value not a string");
    bad_json("{\"__metadata__\":[\"k\"]}", 0, "metadata not an object");
    bad_json("{" T("a", "F32", "[-4]", 0, 16) "}", 16, "negative dim");
    bad_json("{" T("a", "F32", "[4294967296,4294967296,4294967296]", 0, 16) "}", 16, "huge dims");
    bad_json("{" T("a", "U8", "[0,4611686018427387904,4611686018427387904]", 0, 0) "}", 0, "huge dims with a zero");
    bad_json("{" T("a", "U8", "[99999999999999999999]", 0, 16) "}", 16, "dim beyond int64");
    bad_json("{" T("a", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 1, "9 dims");
    bad_json("{" T("a", "F32", "[4.0]", 0, 16) "}", 16, "real dim");
    bad_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16, "one offset");
    bad_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, "no offsets");
    bad_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16],\"x\":1}}", 16, "extra field");
    bad_json("{\"a\":[]}", 0, "entry not an object");
    bad_json("{" T("a", "F32", "[4]", 0, 16) "}\x01", 16, "control byte after the JSON");
#undef T
    /* well-formed edge cases that are valid */
    p = tmp("empty.safetensors");
    write_st(p, "{}", NULL, 0);
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(p, &w));
    CHECK(w && ng_weights_count(w) == 0 && ng_weights_meta_count(w) == 0);
    ng_weights_free(w);
    p = tmp("zero.safetensors");
    write_st(p, "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
                "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}   ", (const uint8_t *)"\0\0\x80?", 4);
    w = NULL;
    CHECK_OK(ng_weights_open(p, &w));
    CHECK(w && ng_weights_count(w) == 2 && strcmp(ng_weights_param(w, 0)->name, "s") == 0);
    ng_weights_free(w);
    /* not a model file at all */
    p = tmp("notes.txt");
    f = fopen(p, "w"); fputs("hello world\n", f); fclose(f);
    CHECK(ng_format_detect(p) == NG_FMT_UNKNOWN);
    w = NULL;
    CHECK_ST(ng_weights_open(p, &w), NG_E_UNSUPPORTED);
    CHECK(strstr(ng_last_error(), p) != NULL);
    CHECK_ST(ng_weights_open(tmp("missing.safetensors"), &w), NG_E_IO);
    CHECK(ng_format_from_ext("a/b.ONNX") == NG_FMT_ONNX && ng_format_from_ext("x.st") == NG_FMT_SAFETENSORS);
    CHECK(ng_format_from_ext("dir.onnx/file") == NG_FMT_UNKNOWN);
    CHECK(strcmp(ng_format_name(NG_FMT_SAFETENSORS), "safetensors") == 0 && strcmp(ng_format_name(NG_FMT_ONNX), "onnx") == 0);
    p = tmp("model.bin");
    f = fopen(p, "wb"); fputs("\x08\x07\x12\x04test", f); fclose(f);
    CHECK(ng_format_detect(p) == NG_FMT_ONNX);
}

static void test_model_save(void)
{
    ng_model *m = NULL;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 7, &m));
    if (!m) return;
    CHECK_OK(ng_model_meta_set(m, "nnguard.seed", "7"));
    const char *p = strdup(tmp("lenet.safetensors"));
    CHECK_OK(ng_model_save_safetensors(m, p));
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(p, &w));
    if (w) {
        CHECK(ng_weights_count(w) == ng_model_ntensors(m) && ng_weights_count(w) > 0);
        int same = 1;
        size_t total = 0;
        for (size_t i = 0; i < ng_weights_count(w) && i < ng_model_ntensors(m); i++) {
            ng_param mp;
            ng_model_tensor(m, i, &mp);
            const ng_param *wp = ng_weights_param_c(w, i);
            same &= strcmp(mp.name, wp->name) == 0 && wp->dtype == NG_DT_F32 && wp->nbytes == mp.nbytes &&
                    memcmp(wp->data, mp.data, mp.nbytes) == 0;
            total += wp->nbytes;
        }
        CHECK(same);
        CHECK(total == ng_model_nparams(m) * sizeof(float));
        CHECK(ng_weights_meta_get(w, "nnguard.seed") && strcmp(ng_weights_meta_get(w, "nnguard.seed"), "7") == 0);
        uint8_t a[32], b[32];
        ng_weights_id(w, a);
        ng_model_id(m, b);
        CHECK(memcmp(a, b, 32) == 0);
        ng_weights_free(w);
    }
    free((void *)p);
    ng_model_free(m);
}

/* The generic layer dispatches ONNX files (by bytes, whatever the name) to the ONNX back-end. */
static void test_onnx_dispatch(void)
{
    const char *fx = tu_path("fixtures/lenet5.onnx");
    char path[4096];
    snprintf(path, sizeof path, "%s", fx);
    CHECK(ng_format_detect(path) == NG_FMT_ONNX);
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(path, &w));
    if (!w) return;
    CHECK(ng_weights_format(w) == NG_FMT_ONNX && ng_weights_count(w) > 0);
    uint8_t id[32], idb[32], idh[32];
    ng_weights_id(w, id);
    id_by_hand(w, idh);
    CHECK(memcmp(id, idh, 32) == 0);
    size_t n;
    uint8_t *b = slurp(path, &n);
    ng_weights *wb = NULL;
    CHECK_OK(ng_weights_open_buffer(b, n, NG_FMT_UNKNOWN, "lenet5.bin", &wb));
    if (wb) {
        ng_weights_id(wb, idb);
        CHECK(ng_weights_format(wb) == NG_FMT_ONNX && memcmp(id, idb, 32) == 0);
        ng_weights_free(wb);
    }
    free(b);
    ng_weights_free(w);
}

int main(void)
{
    CHECK_OK(ng_init());
    make_data();
    test_id_known_answer();
    test_roundtrip();
    test_stream();
    test_malformed();
    test_model_save();
    test_onnx_dispatch();
    return tu_done();
}
