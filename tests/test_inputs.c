/* tests/test_inputs.c - .npy arrays and PNG/JPEG images as model inputs (include/nnguard/inputs.h),
 * against the known answers of tests/gen_input_fixtures.py (numpy, torchvision's decoders and
 * torch.nn.functional.interpolate), and the refusals of bad files. */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/stat.h>
#include "tutil.h"
#include "nnguard/inputs.h"
#include "core/core.h"

static const char *fx(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/fixtures/inputs/%s", NG_TEST_DIR, name);
    return buf;
}

static int load(const char *name, ng_array *a)
{
    ng_status st = ng_npy_load(fx(name), a);
    if (st != NG_OK) fprintf(stderr, "%s: %s\n", name, ng_last_error());
    return st == NG_OK;
}

static void test_npy(void)
{
    ng_array u8, f, v2, v3;
    CHECK(load("fm8_u8.npy", &u8) && u8.from_u8 && u8.shape.ndim == 4 && u8.shape.d[0] == 8 && u8.shape.d[1] == 1 &&
          u8.shape.d[2] == 28 && u8.shape.d[3] == 28);
    CHECK(load("fm8_f32.npy", &f) && !f.from_u8);
    CHECK(load("fm8_f32_v2.npy", &v2));
    CHECK(load("fm8_f32_v3.npy", &v3));
    size_t n = 8 * 784;
    CHECK(u8.x && f.x && !memcmp(u8.x, f.x, n * 4));   /* uint8 / 255 is numpy's float32 / 255 bit for bit */
    CHECK(v2.x && !memcmp(v2.x, f.x, n * 4));
    CHECK(v3.x && !memcmp(v3.x, f.x, n * 4));
    /* save -> load round trip, header 64-aligned as numpy writes it */
    char out[512];
    snprintf(out, sizeof out, "%s/rt.npy", tu_tmpdir());
    CHECK_OK(ng_npy_save_f32(out, f.x, &f.shape));
    ng_array rt;
    CHECK_OK(ng_npy_load(out, &rt));
    CHECK(rt.shape.ndim == 4 && rt.shape.d[0] == 8 && rt.x && !memcmp(rt.x, f.x, n * 4));
    struct stat sb;
    CHECK(stat(out, &sb) == 0 && (sb.st_size - (off_t)n * 4) % 64 == 0);
    uint8_t h[256];
    ng_shape s1 = {1, {5}}, s0 = {0, {0}};
    size_t hn = ng_npy_header_f32(&s1, h, sizeof h);
    CHECK(hn && hn % 64 == 0 && h[hn - 1] == '\n' && memmem(h, hn, "'shape': (5,)", 13));
    hn = ng_npy_header_f32(&s0, h, sizeof h);
    CHECK(hn && hn % 64 == 0 && memmem(h, hn, "'shape': ()", 11));
    ng_array_free(&rt); ng_array_free(&u8); ng_array_free(&f); ng_array_free(&v2); ng_array_free(&v3);

    static const struct { const char *file; ng_status st; const char *needle; } bad[] = {
        {"bad_fortran.npy", NG_E_UNSUPPORTED, "ascontiguousarray"},
        {"bad_f64.npy", NG_E_UNSUPPORTED, "'<f8'"},
        {"bad_be.npy", NG_E_UNSUPPORTED, "big-endian"},
        {"bad_trunc.npy", NG_E_FORMAT, "truncated"},
        {"rgb.png", NG_E_FORMAT, "not a NumPy"},
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(bad); i++) {
        ng_array a;
        CHECK_ST(ng_npy_load(fx(bad[i].file), &a), bad[i].st);
        CHECKF(strstr(ng_last_error(), bad[i].needle) && strstr(ng_last_error(), bad[i].file), "%s", ng_last_error());
        CHECK(a.x == NULL);
    }
    /* hand-made headers: each a refusal, never a crash */
    static const char *hdrs[] = {
        "{'descr': '<f4', 'fortran_order': False}",                              /* no shape */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",       /* unknown key */
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",      /* record dtype */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3, 4, 5, 6, 7, 8, 9)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,)}",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk",
    };
    for (size_t i = 0; i < NG_ARRAY_LEN(hdrs); i++) {
        uint8_t buf[256];
        size_t k = strlen(hdrs[i]);
        memcpy(buf, "\x93NUMPY\x01\x00", 8);
        buf[8] = (uint8_t)(k + 1); buf[9] = 0;
        memcpy(buf + 10, hdrs[i], k);
        buf[10 + k] = '\n';
        memset(buf + 11 + k, 0, 4);
        ng_array a;
        ng_status st = ng_npy_parse(buf, 15 + k, "hand.npy", &a);
        CHECKF(st == NG_E_FORMAT || st == NG_E_UNSUPPORTED, "header %zu accepted", i);
        CHECK(a.x == NULL);
    }
    /* a well-formed one-float header is accepted, with Python 2 style longs */
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (1L,), }";
    uint8_t buf[128];
    size_t k = strlen(ok);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(k + 1); buf[9] = 0;
    memcpy(buf + 10, ok, k);
    buf[10 + k] = '\n';
    float one = 1.5f;
    memcpy(buf + 11 + k, &one, 4);
    ng_array a;
    CHECK_OK(ng_npy_parse(buf, 15 + k, "ok.npy", &a));
    CHECK(a.shape.ndim == 1 && a.shape.d[0] == 1 && a.x && a.x[0] == 1.5f);
    ng_array_free(&a);
}

/* Decode a fixture image and compare its pixels with a uint8 .npy of shape (h, w[, c]). */
static void check_pixels(const char *img, const char *px, int c)
{
    uint8_t *buf;
    size_t len;
    ng_image im;
    ng_array want;
    CHECK_OK(ng_read_file(fx(img), 1 << 20, &buf, &len));
    CHECK_OK(ng_image_decode(buf, len, img, &im));
    free(buf);
    if (!load(px, &want)) { tu_fail++; ng_image_free(&im); return; }
    CHECKF(im.w == 12 && im.h == 10 && im.c == c, "%s: %dx%dx%d", img, im.w, im.h, im.c);
    int64_t n = ng_shape_numel(&want.shape), diff = 0;
    for (int64_t i = 0; i < n && n == (int64_t)im.w * im.h * im.c; i++)
        diff += (int)(want.x[i] * 255.0f + 0.5f) != im.px[i];
    CHECKF(n == (int64_t)im.w * im.h * im.c && diff == 0, "%s: %lld pixels differ", img, (long long)diff);
    ng_array_free(&want);
    ng_image_free(&im);
}

static void check_input(const char *img, const char *want_npy, const ng_image_options *o, double tol)
{
    ng_array want;
    if (!load(want_npy, &want)) { tu_fail++; return; }
    size_t n = (size_t)o->c * (size_t)o->h * (size_t)o->w;
    float *x = calloc(n, sizeof *x);
    CHECK_OK(ng_image_load(fx(img), o, x));
    double worst = 0;
    for (size_t i = 0; i < n && (int64_t)n == ng_shape_numel(&want.shape); i++)
        worst = fmax(worst, fabs(x[i] - want.x[i]));
    CHECKF((int64_t)n == ng_shape_numel(&want.shape) && worst <= tol, "%s -> %s: max |diff| %g", img, want_npy, worst);
    free(x);
    ng_array_free(&want);
}

static void test_images(void)
{
    check_pixels("rgb.png", "rgb_px.npy", 3);
    check_pixels("rgba.png", "rgb_px.npy", 3);      /* alpha dropped */
    check_pixels("pal.png", "pal_px.npy", 3);       /* palette expanded, tRNS dropped */
    check_pixels("g16.png", "g16_px.npy", 1);       /* high byte of 16-bit gray */
    check_pixels("rgb.jpg", "rgb_jpg_px.npy", 3);   /* libjpeg-turbo as torchvision decodes it */

    ng_image_options o = ng_image_options_default();
    o.c = 3; o.h = 7; o.w = 9; o.resize = 1;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    memcpy(o.mean, mean, sizeof mean);
    memcpy(o.std, sd, sizeof sd);
    check_input("rgb.png", "rgb_resized.npy", &o, 2e-6);
    o = ng_image_options_default();
    o.c = 3; o.h = 15; o.w = 17; o.resize = 1;
    check_input("rgb.png", "rgb_up.npy", &o, 1e-6);
    o.c = 1; o.h = 10; o.w = 12; o.resize = 0;
    check_input("rgb.png", "rgb_gray.npy", &o, 0);

    /* without resize, another size is refused naming both sizes */
    float x[3 * 28 * 28];
    o.c = 3; o.h = 28; o.w = 28;
    CHECK_ST(ng_image_load(fx("rgb.png"), &o, x), NG_E_SHAPE);
    CHECKF(strstr(ng_last_error(), "10x12") && strstr(ng_last_error(), "--resize 28x28"), "%s", ng_last_error());
    /* not an image; a truncated PNG and JPEG */
    ng_image im;
    CHECK_ST(ng_image_decode((const uint8_t *)"GIF89a....", 10, "x.gif", &im), NG_E_UNSUPPORTED);
    uint8_t *buf;
    size_t len;
    const char *files[] = {"rgb.png", "rgb.jpg"};
    for (int i = 0; i < 2; i++) {
        CHECK_OK(ng_read_file(fx(files[i]), 1 << 20, &buf, &len));
        for (size_t cut = 0; cut < len; cut += len / 7 + 1) {
            ng_status st = ng_image_decode(buf, cut, files[i], &im);
            CHECKF(st != NG_OK || files[i][4] == 'j', "%s cut at %zu accepted", files[i], cut);
            ng_image_free(&im);
        }
        free(buf);
    }
}

static void test_folders(void)
{
    ng_image_options o = ng_image_options_default();
    o.c = 1; o.h = 28; o.w = 28;
    ng_dataset d;
    char **names;
    ng_array f;
    CHECK(load("fm8_f32.npy", &f));
    CHECK_OK(ng_images_load_dir(fx("fm8"), &o, 0, &d, &names));
    CHECK(d.n == 8 && d.c == 1 && names && !strcmp(names[0], "img_0.png") && !strcmp(names[7], "img_7.png"));
    CHECK(d.x && f.x && !memcmp(d.x, f.x, 8 * 784 * 4));   /* gray PNG == the IDX bytes / 255 */
    ng_names_free(names, d.n);
    ng_dataset_free(&d);
    CHECK_OK(ng_images_load_dir(fx("fm8"), &o, 3, &d, NULL));
    CHECK(d.n == 3);
    ng_dataset_free(&d);
    ng_array_free(&f);

    ng_array fx8;
    CHECK(load("folder_x_u8.npy", &fx8));
    CHECK_OK(ng_image_folder_load(fx("folder"), &o, 0, &d, &names));
    CHECK(d.n == 20 && d.classes == 10 && names && !strcmp(names[9], "c9"));
    CHECK(d.x && fx8.x && !memcmp(d.x, fx8.x, 20 * 784 * 4));
    for (int i = 0; i < 20 && d.y; i++) CHECKF(d.y[i] == i / 2, "label %d = %d", i, d.y[i]);
    ng_names_free(names, d.classes);
    ng_dataset_free(&d);
    ng_array_free(&fx8);
    CHECK_ST(ng_image_folder_load(fx("fm8"), &o, 0, &d, NULL), NG_E_INVALID);   /* no class folders */
    CHECK(strstr(ng_last_error(), "no class folders"));
    CHECK_ST(ng_images_load_dir(fx("folder"), &o, 0, &d, NULL), NG_E_INVALID);  /* no images directly in it */
    CHECK_ST(ng_images_load_dir(fx("nope"), &o, 0, &d, NULL), NG_E_IO);
}

int main(void)
{
    ng_init();
    test_npy();
    test_images();
    test_folders();
    return tu_done();
}
