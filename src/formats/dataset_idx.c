/* formats/dataset_idx.c - MNIST IDX files (gzip or plain, through zlib's gzread).
 *
 * Images: u32be magic 2051 (0x00000803: ubyte, 3 dims) | u32be n | u32be rows | u32be cols |
 *         n*rows*cols pixel bytes, row-major.
 * Labels: u32be magic 2049 (0x00000801: ubyte, 1 dim) | u32be n | n label bytes.
 * Limits: 1 <= n <= 100M, 1 <= rows, cols <= 4096; the data must be exactly as long as the
 * header says (checked against the decompressed bytes before the float array is allocated).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "core/core.h"
#include "nnguard/dataset.h"

#define IDX_MAX_N    100000000u
#define IDX_MAX_SIDE 4096u
#define IDX_IMAGES   2051u
#define IDX_LABELS   2049u

typedef unsigned long long ull;

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Read up to n bytes; returns the count read, or -1 on a read/decompression error. */
static int64_t gz_read_upto(gzFile g, uint8_t *buf, uint64_t n)
{
    uint64_t got = 0;
    while (got < n) {
        uint64_t chunk = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(g, buf + got, (unsigned)chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (uint64_t)r;
    }
    return (int64_t)got;
}

static ng_status gz_error(gzFile g, const char *path)
{
    int err;
    const char *m = gzerror(g, &err);
    return ng_fail(NG_E_FORMAT, "%s: cannot decompress: %s (file corrupted or truncated)", path, m ? m : "?");
}

/* Read exactly want bytes of data after the header, growing the buffer only as data arrives
 * (a header claiming huge counts cannot make us allocate more than the file holds). */
static ng_status read_body(gzFile g, const char *path, uint64_t want, uint8_t **out)
{
    *out = NULL;
    uint64_t cap = want < (1u << 20) ? want : (1u << 20), got = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return ng_fail(NG_E_NOMEM, "%s: out of memory", path);
    for (;;) {
        int64_t r = gz_read_upto(g, buf + got, cap - got);
        if (r < 0) { free(buf); return gz_error(g, path); }
        got += (uint64_t)r;
        if (got < cap || got == want) break;
        uint64_t ncap = cap * 2 < want ? cap * 2 : want;
        uint8_t *nb = realloc(buf, ncap);
        if (!nb) { free(buf); return ng_fail(NG_E_NOMEM, "%s: cannot allocate %llu bytes", path, (ull)ncap); }
        buf = nb; cap = ncap;
    }
    if (got < want) {
        free(buf);
        return ng_fail(NG_E_FORMAT, "%s: truncated: the header announces %llu data bytes, the file has %llu",
                       path, (ull)want, (ull)got);
    }
    uint8_t extra;
    int64_t r = gz_read_upto(g, &extra, 1);
    if (r != 0) {
        free(buf);
        return r < 0 ? gz_error(g, path)
                     : ng_fail(NG_E_FORMAT, "%s: more data than the header announces (%llu bytes): wrong counts?",
                               path, (ull)want);
    }
    *out = buf;
    return NG_OK;
}

static ng_status open_header(const char *path, gzFile *g, uint8_t *hdr, size_t n)
{
    *g = gzopen(path, "rb");
    if (!*g) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    int64_t r = gz_read_upto(*g, hdr, n);
    if (r < 0) { ng_status st = gz_error(*g, path); gzclose(*g); return st; }
    if ((size_t)r < n) {
        gzclose(*g);
        return ng_fail(NG_E_FORMAT, "%s: %lld bytes, too short for an IDX header (%zu bytes)", path, (long long)r, n);
    }
    return NG_OK;
}

static ng_status check_magic(const char *path, uint32_t magic, uint32_t want)
{
    if (magic == want) return NG_OK;
    const char *what = magic == IDX_IMAGES ? " (an images file)" : magic == IDX_LABELS ? " (a labels file)" : "";
    return ng_fail(NG_E_FORMAT, "%s: IDX magic %u%s, expected %u (%s file); is it an IDX file, and are images and "
                   "labels swapped?", path, magic, what, want, want == IDX_IMAGES ? "images" : "labels");
}

static ng_status read_labels(const char *path, uint32_t *n, uint8_t **lab)
{
    gzFile g;
    uint8_t h[8];
    ng_status st = open_header(path, &g, h, sizeof h);
    if (st != NG_OK) return st;
    *n = be32(h + 4);
    if ((st = check_magic(path, be32(h), IDX_LABELS)) == NG_OK && (*n == 0 || *n > IDX_MAX_N))
        st = ng_fail(NG_E_FORMAT, "%s: %u labels (1..%u allowed)", path, *n, IDX_MAX_N);
    if (st == NG_OK) st = read_body(g, path, *n, lab);
    gzclose(g);
    return st;
}

ng_status ng_dataset_load_idx(const char *images, const char *labels, ng_dataset *out)
{
    memset(out, 0, sizeof *out);
    uint32_t nl;
    uint8_t *lab = NULL, *pix = NULL;
    ng_status st = read_labels(labels, &nl, &lab);
    if (st != NG_OK) return st;
    gzFile g;
    uint8_t h[16];
    if ((st = open_header(images, &g, h, sizeof h)) != NG_OK) { free(lab); return st; }
    uint32_t n = be32(h + 4), rows = be32(h + 8), cols = be32(h + 12);
    st = check_magic(images, be32(h), IDX_IMAGES);
    if (st == NG_OK && (n == 0 || n > IDX_MAX_N))
        st = ng_fail(NG_E_FORMAT, "%s: %u images (1..%u allowed)", images, n, IDX_MAX_N);
    if (st == NG_OK && (rows == 0 || cols == 0 || rows > IDX_MAX_SIDE || cols > IDX_MAX_SIDE))
        st = ng_fail(NG_E_FORMAT, "%s: images of %u x %u pixels (1..%u per side allowed)", images, rows, cols, IDX_MAX_SIDE);
    if (st == NG_OK && n != nl)
        st = ng_fail(NG_E_FORMAT, "%s has %u images but %s has %u labels: they must agree", images, n, labels, nl);
    uint64_t npix = (uint64_t)n * rows * cols;
    if (st == NG_OK) st = read_body(g, images, npix, &pix);
    gzclose(g);
    float *x = NULL;
    int32_t *y = NULL;
    if (st == NG_OK) {
        x = malloc(npix * sizeof *x);
        y = malloc((size_t)n * sizeof *y);
        if (!x || !y) st = ng_fail(NG_E_NOMEM, "%s: cannot allocate %llu floats", images, (ull)npix);
    }
    if (st == NG_OK) {
        float lut[256];
        for (int i = 0; i < 256; i++) lut[i] = (float)i / 255.0f;
        for (uint64_t i = 0; i < npix; i++) x[i] = lut[pix[i]];
        int maxl = 0;
        for (uint32_t i = 0; i < n; i++) {
            y[i] = lab[i];
            if (lab[i] > maxl) maxl = lab[i];
        }
        *out = (ng_dataset){.n = n, .c = 1, .h = (int)rows, .w = (int)cols, .classes = maxl + 1, .x = x, .y = y};
    } else {
        free(x); free(y);
    }
    free(pix); free(lab);
    return st;
}

void ng_dataset_free(ng_dataset *d)
{
    if (!d) return;
    free(d->x); free(d->y);
    memset(d, 0, sizeof *d);
}
