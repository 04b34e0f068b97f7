/* formats/image.c - PNG (libpng) and JPEG (libjpeg-turbo) decoding from memory, and the
 * conversion of a decoded image into a model input (pipeline in include/nnguard/inputs.h).
 *
 * Both libraries report errors by longjmp out of their error callback: everything the
 * decoder allocates after setjmp is held in volatile locals and freed on that path too.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>
#include "core/core.h"
#include "nnguard/inputs.h"

#define IMAGE_MAX_PIXELS ((uint64_t)1 << 26)   /* 64 Mpixel: 192 MiB as RGB bytes */
#define JPEG_MAX_SCANS 256                     /* progressive files with more scans are abuse */
#define IMAGE_MAX_FILE ((size_t)1 << 30)

static ng_status check_size(const char *name, uint64_t w, uint64_t h)
{
    if (!w || !h || w > NG_IMAGE_MAX_SIDE || h > NG_IMAGE_MAX_SIDE || w * h > IMAGE_MAX_PIXELS)
        return ng_fail(NG_E_UNSUPPORTED, "%s: image of %llux%llu pixels; at most %dx%d and %llu pixels are supported",
                       name, (unsigned long long)w, (unsigned long long)h, NG_IMAGE_MAX_SIDE, NG_IMAGE_MAX_SIDE,
                       (unsigned long long)IMAGE_MAX_PIXELS);
    return NG_OK;
}

/* ---- PNG ------------------------------------------------------------------------------------ */

typedef struct png_src {
    const uint8_t *p;
    size_t len, off;
    char msg[200];
} png_src;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_read_cb(png_structp png, png_bytep out, size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->off) png_error(png, "file truncated");
    memcpy(out, s->p + s->off, n);
    s->off += n;
}

static ng_status decode_png(const uint8_t *buf, size_t len, const char *name, ng_image *out)
{
    png_src src = {buf, len, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ng_fail(NG_E_NOMEM, "%s: out of memory", name);
    }
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    volatile ng_status st = NG_OK;
    if (setjmp(png_jmpbuf(png))) {
        if (st == NG_OK) st = ng_fail(NG_E_FORMAT, "%s: bad PNG: %s", name, src.msg);
        goto done;
    }
    png_set_read_fn(png, &src, png_read_cb);
    png_set_user_limits(png, NG_IMAGE_MAX_SIDE, NG_IMAGE_MAX_SIDE);
    png_read_info(png, info);
    uint32_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((st = check_size(name, w, h)) != NG_OK) goto done;
    png_set_expand(png);        /* palette -> RGB, gray < 8 bits -> 8 bits, tRNS -> alpha */
    png_set_strip_16(png);      /* 16 -> 8 bits: the high byte, as PIL does */
    png_set_strip_alpha(png);   /* alpha dropped, not composited (PIL's convert('RGB')) */
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    size_t rb = png_get_rowbytes(png, info);
    if ((c != 1 && c != 3) || rb != (size_t)w * (size_t)c) {
        st = ng_fail(NG_E_UNSUPPORTED, "%s: PNG with %d channels after conversion", name, c);
        goto done;
    }
    px = malloc((size_t)h * rb);
    rows = malloc((size_t)h * sizeof *rows);
    if (!px || !rows) { st = ng_fail(NG_E_NOMEM, "%s: out of memory for a %ux%u image", name, w, h); goto done; }
    for (uint32_t y = 0; y < h; y++) rows[y] = px + (size_t)y * rb;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    out->w = (int)w; out->h = (int)h; out->c = c; out->px = px;
    px = NULL;
done:
    free(rows);
    free(px);
    png_destroy_read_struct(&png, &info, NULL);
    return st;
}

/* ---- JPEG ----------------------------------------------------------------------------------- */

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr ci)
{
    jpeg_err *e = (jpeg_err *)ci->err;
    ci->err->format_message(ci, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_on_message(j_common_ptr ci) { (void)ci; }

static void jpeg_on_progress(j_common_ptr ci)
{
    j_decompress_ptr d = (j_decompress_ptr)ci;
    if (d->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)ci->err;
        snprintf(e->msg, sizeof e->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(e->jb, 1);
    }
}

static ng_status decode_jpeg(const uint8_t *buf, size_t len, const char *name, ng_image *out)
{
    struct jpeg_decompress_struct ci;
    jpeg_err err;
    struct jpeg_progress_mgr prog;
    memset(&ci, 0, sizeof ci);
    memset(&err, 0, sizeof err);
    memset(&prog, 0, sizeof prog);
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_on_error;
    err.pub.output_message = jpeg_on_message;
    uint8_t *volatile px = NULL;
    volatile ng_status st = NG_OK;
    if (setjmp(err.jb)) {
        if (st == NG_OK) st = ng_fail(NG_E_FORMAT, "%s: bad JPEG: %s", name, err.msg);
        goto done;
    }
    jpeg_create_decompress(&ci);
    prog.progress_monitor = jpeg_on_progress;
    ci.progress = &prog;
    ci.mem->max_memory_to_use = 512L << 20;
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if ((st = check_size(name, ci.image_width, ci.image_height)) != NG_OK) goto done;
    switch (ci.jpeg_color_space) {
    case JCS_GRAYSCALE: ci.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr: case JCS_RGB: ci.out_color_space = JCS_RGB; break;
    default:
        st = ng_fail(NG_E_UNSUPPORTED, "%s: CMYK/YCCK JPEG; convert it to RGB first", name);
        goto done;
    }
    jpeg_start_decompress(&ci);
    int c = ci.output_components;
    size_t rb = (size_t)ci.output_width * (size_t)c;
    if ((c != 1 && c != 3) || (st = check_size(name, ci.output_width, ci.output_height)) != NG_OK) {
        if (st == NG_OK) st = ng_fail(NG_E_UNSUPPORTED, "%s: JPEG with %d components", name, c);
        goto done;
    }
    px = malloc(rb * ci.output_height);
    if (!px) { st = ng_fail(NG_E_NOMEM, "%s: out of memory", name); goto done; }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = px + (size_t)ci.output_scanline * rb;
        if (jpeg_read_scanlines(&ci, &row, 1) != 1) {
            st = ng_fail(NG_E_FORMAT, "%s: bad JPEG: no more rows", name);
            goto done;
        }
    }
    jpeg_finish_decompress(&ci);
    out->w = (int)ci.output_width; out->h = (int)ci.output_height; out->c = c; out->px = px;
    px = NULL;
done:
    free(px);
    jpeg_destroy_decompress(&ci);
    return st;
}

/* ---- public -------------------------------------------------------------------------------- */

ng_status ng_image_decode(const uint8_t *buf, size_t len, const char *name, ng_image *out)
{
    memset(out, 0, sizeof *out);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && !memcmp(buf, png_sig, 8)) return decode_png(buf, len, name, out);
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff) return decode_jpeg(buf, len, name, out);
    return ng_fail(NG_E_UNSUPPORTED, "%s: not a PNG or JPEG image (PNG and JPEG are supported)", name);
}

void ng_image_free(ng_image *im)
{
    if (!im) return;
    free(im->px);
    memset(im, 0, sizeof *im);
}

ng_image_options ng_image_options_default(void)
{
    ng_image_options o;
    memset(&o, 0, sizeof o);
    for (int i = 0; i < 3; i++) o.std[i] = 1.0f;
    return o;
}

/* Channel ch of pixel (y, x) of im as the model's channel count c wants it, in [0, 1]. */
static float pixel(const ng_image *im, int c, int y, int x, int ch)
{
    const uint8_t *p = im->px + ((size_t)y * (size_t)im->w + (size_t)x) * (size_t)im->c;
    if (im->c == c) return (float)p[ch] / 255.0f;
    if (im->c == 1) return (float)p[0] / 255.0f;                     /* gray -> RGB */
    unsigned l = (p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16;   /* RGB -> gray: Pillow's "L" */
    return (float)l / 255.0f;
}

/* Source index and weight of output index i along a side of in -> out (align_corners=False). */
static void src_index(int i, int in, int out, int *i0, int *i1, float *l1)
{
    float scale = (float)in / (float)out, s = scale * ((float)i + 0.5f) - 0.5f;
    if (s < 0) s = 0;
    int a = (int)s;
    if (a > in - 1) a = in - 1;
    *i0 = a;
    *i1 = a < in - 1 ? a + 1 : a;
    *l1 = s - (float)a;
}

ng_status ng_image_to_input(const ng_image *im, const ng_image_options *o, const char *name, float *out)
{
    if (o->c != 1 && o->c != 3)
        return ng_fail(NG_E_UNSUPPORTED, "%s: the model takes %d-channel images; images feed 1- or 3-channel inputs",
                       name, o->c);
    if (!o->resize && (im->h != o->h || im->w != o->w))
        return ng_fail(NG_E_SHAPE, "%s: the image is %dx%d (HxW) but the model takes %dx%d; pass --resize %dx%d",
                       name, im->h, im->w, o->h, o->w, o->h, o->w);
    size_t plane = (size_t)o->h * (size_t)o->w;
    for (int ch = 0; ch < o->c; ch++) {
        float mean = o->mean[ch], sd = o->std[ch];
        float *dst = out + (size_t)ch * plane;
        for (int y = 0; y < o->h; y++) {
            int y0 = y, y1 = y;
            float ly = 0;
            if (im->h != o->h) src_index(y, im->h, o->h, &y0, &y1, &ly);
            for (int x = 0; x < o->w; x++) {
                int x0 = x, x1 = x;
                float lx = 0;
                if (im->w != o->w) src_index(x, im->w, o->w, &x0, &x1, &lx);
                float v = (1 - ly) * ((1 - lx) * pixel(im, o->c, y0, x0, ch) + lx * pixel(im, o->c, y0, x1, ch))
                        + ly * ((1 - lx) * pixel(im, o->c, y1, x0, ch) + lx * pixel(im, o->c, y1, x1, ch));
                dst[(size_t)y * (size_t)o->w + (size_t)x] = (v - mean) / sd;
            }
        }
    }
    return NG_OK;
}

ng_status ng_image_load(const char *path, const ng_image_options *o, float *out)
{
    uint8_t *buf;
    size_t len;
    ng_status st = ng_read_file(path, IMAGE_MAX_FILE, &buf, &len);
    if (st != NG_OK) return st;
    ng_image im;
    st = ng_image_decode(buf, len, path, &im);
    free(buf);
    if (st != NG_OK) return st;
    st = ng_image_to_input(&im, o, path, out);
    ng_image_free(&im);
    return st;
}
