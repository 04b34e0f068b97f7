/* cli/idx_images.c - read an MNIST IDX images file without its labels (format in idx_images.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "idx_images.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_MAX_SIDE 4096
#define IDX_MAX_BYTES ((int64_t)1 << 34)   /* 16 GiB of pixels */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Read n bytes (gzread does at most INT_MAX at once); returns the bytes read (< n: short or error). */
static int64_t gz_read_all(gzFile f, unsigned char *buf, int64_t n)
{
    int64_t got = 0;
    while (got < n) {
        unsigned chunk = n - got > (1 << 30) ? 1u << 30 : (unsigned)(n - got);
        int r = gzread(f, buf + got, chunk);
        if (r <= 0) break;
        got += r;
    }
    return got;
}

ng_status ng_idx_images_load(const char *path, int64_t limit, ng_idx_images *out)
{
    memset(out, 0, sizeof *out);
    gzFile f = gzopen(path, "rb");   /* reads plain files as they are */
    if (!f) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    unsigned char hdr[16];
    if (gz_read_all(f, hdr, sizeof hdr) != (int64_t)sizeof hdr) {
        gzclose(f);
        return ng_fail(NG_E_FORMAT, "%s: shorter than the 16-byte IDX images header", path);
    }
    uint32_t magic = be32(hdr), n = be32(hdr + 4), rows = be32(hdr + 8), cols = be32(hdr + 12);
    if (magic != IDX_IMAGES_MAGIC) {
        gzclose(f);
        return ng_fail(NG_E_FORMAT, "%s: not an IDX images file (magic 0x%08x, expected 0x%08x%s)", path,
                       magic, IDX_IMAGES_MAGIC, magic == 0x801 ? "; this is a labels file" : "");
    }
    if (rows < 1 || rows > IDX_MAX_SIDE || cols < 1 || cols > IDX_MAX_SIDE || n < 1) {
        gzclose(f);
        return ng_fail(NG_E_FORMAT, "%s: IDX header says %u images of %ux%u; expected at least one image "
                       "of 1..%d pixels a side", path, n, rows, cols, IDX_MAX_SIDE);
    }
    int64_t count = limit > 0 && limit < (int64_t)n ? limit : (int64_t)n;
    int64_t pix = (int64_t)rows * cols, total = count * pix;
    if (total > IDX_MAX_BYTES) {
        gzclose(f);
        return ng_fail(NG_E_NOMEM, "%s: %lld images of %ux%u are more than this reader accepts; use --limit",
                       path, (long long)count, rows, cols);
    }
    /* Grow the buffer as the bytes arrive (at most doubling): a header promising gigabytes in a
     * tiny (or gzip'ed, size unknown) file costs only what the file really holds. */
    unsigned char *raw = NULL;
    int64_t cap = 0, got = 0;
    while (got < total) {
        if (got == cap) {
            int64_t ncap = cap ? 2 * cap : (int64_t)1 << 20;
            if (ncap > total) ncap = total;
            unsigned char *r = realloc(raw, (size_t)ncap);
            if (!r) {
                free(raw); gzclose(f);
                return ng_fail(NG_E_NOMEM, "%s: cannot allocate %lld images", path, (long long)count);
            }
            raw = r; cap = ncap;
        }
        int64_t r = gz_read_all(f, raw + got, cap - got);
        got += r;
        if (got < cap) break;   /* end of file (or a read error) */
    }
    gzclose(f);
    if (got != total) {
        free(raw);
        return ng_fail(NG_E_FORMAT, "%s: truncated: the header promises %u images of %ux%u but the file "
                       "holds only %lld complete images", path, n, rows, cols, (long long)(got / pix));
    }
    float *x = malloc((size_t)total * sizeof *x);
    if (!x) { free(raw); return ng_fail(NG_E_NOMEM, "%s: cannot allocate %lld images", path, (long long)count); }
    for (int64_t i = 0; i < total; i++) x[i] = (float)raw[i] / 255.0f;
    free(raw);
    out->n = count; out->c = 1; out->h = (int)rows; out->w = (int)cols; out->x = x;
    return NG_OK;
}

void ng_idx_images_free(ng_idx_images *im)
{
    free(im->x);
    memset(im, 0, sizeof *im);
}
