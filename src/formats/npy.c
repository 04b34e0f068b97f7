/* formats/npy.c - NumPy .npy arrays (format in include/nnguard/inputs.h).
 *
 * The header is a Python dict literal; we parse exactly the subset NumPy writes (quoted keys,
 * a quoted descr, True/False, a tuple of non-negative integers) and refuse anything else.
 */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "nnguard/inputs.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_NUMEL ((int64_t)1 << 40)
/* float32 data is copied as it is: the host must be little-endian like the files. */
NG_STATIC_ASSERT(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.c assumes a little-endian host");

typedef struct npy_cursor {
    const char *p, *end;
    const char *name;
} npy_cursor;

static void skip_ws(npy_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(npy_cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) { c->p++; return 1; }
    return 0;
}

static ng_status bad(const npy_cursor *c, const char *what)
{
    return ng_fail(NG_E_FORMAT, "%s: malformed .npy header (%s); write the file with numpy.save", c->name, what);
}

/* A quoted string ('...' or "...", no escapes) into out (cap bytes, NUL-terminated). */
static ng_status quoted(npy_cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad(c, "expected a quoted string");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap) return bad(c, "string too long or escaped");
        out[n++] = *c->p++;
    }
    if (c->p >= c->end) return bad(c, "unterminated string");
    c->p++;
    out[n] = 0;
    return NG_OK;
}

static ng_status shape_tuple(npy_cursor *c, ng_shape *s)
{
    memset(s, 0, sizeof *s);
    if (!eat(c, '(')) return bad(c, "shape is not a tuple");
    int64_t numel = 1;
    for (;;) {
        skip_ws(c);
        if (eat(c, ')')) break;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return bad(c, "shape holds something other than whole numbers");
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            v = v * 10 + (*c->p++ - '0');
            if (v > NPY_MAX_NUMEL) return ng_fail(NG_E_UNSUPPORTED, "%s: a dimension of the array is too large", c->name);
        }
        if (c->p < c->end && *c->p == 'L') c->p++;   /* Python 2 longs */
        if (s->ndim == NG_MAX_DIMS)
            return ng_fail(NG_E_UNSUPPORTED, "%s: the array has more than %d dimensions", c->name, NG_MAX_DIMS);
        s->d[s->ndim++] = v;
        if (v && numel > NPY_MAX_NUMEL / v) return ng_fail(NG_E_UNSUPPORTED, "%s: the array is too large", c->name);
        numel *= v;
        if (eat(c, ',')) continue;
        if (eat(c, ')')) break;
        return bad(c, "shape tuple not closed");
    }
    return NG_OK;
}

enum { K_DESCR = 1, K_FORTRAN = 2, K_SHAPE = 4 };

static ng_status parse_dict(npy_cursor *c, char *descr, size_t cap, int *fortran, ng_shape *s)
{
    int seen = 0;
    if (!eat(c, '{')) return bad(c, "not a dict");
    for (;;) {
        if (eat(c, '}')) break;
        char key[32];
        ng_status st = quoted(c, key, sizeof key);
        if (st != NG_OK) return st;
        if (!eat(c, ':')) return bad(c, "expected ':'");
        int k = !strcmp(key, "descr") ? K_DESCR : !strcmp(key, "fortran_order") ? K_FORTRAN
              : !strcmp(key, "shape") ? K_SHAPE : 0;
        if (!k) return ng_fail(NG_E_FORMAT, "%s: unknown key '%s' in the .npy header", c->name, key);
        if (seen & k) return ng_fail(NG_E_FORMAT, "%s: key '%s' twice in the .npy header", c->name, key);
        seen |= k;
        if (k == K_DESCR) {
            skip_ws(c);
            if (c->p < c->end && (*c->p == '[' || *c->p == '('))
                return ng_fail(NG_E_UNSUPPORTED, "%s: a structured array (record dtype) cannot be a model input; "
                               "save a plain float32 array", c->name);
            if ((st = quoted(c, descr, cap)) != NG_OK) return st;
        } else if (k == K_FORTRAN) {
            skip_ws(c);
            if ((size_t)(c->end - c->p) >= 4 && !memcmp(c->p, "True", 4)) { *fortran = 1; c->p += 4; }
            else if ((size_t)(c->end - c->p) >= 5 && !memcmp(c->p, "False", 5)) { *fortran = 0; c->p += 5; }
            else return bad(c, "fortran_order is not True or False");
        } else if ((st = shape_tuple(c, s)) != NG_OK) {
            return st;
        }
        if (eat(c, ',')) continue;
        if (eat(c, '}')) break;
        return bad(c, "expected ',' or '}'");
    }
    if (seen != (K_DESCR | K_FORTRAN | K_SHAPE)) return bad(c, "descr, fortran_order or shape missing");
    skip_ws(c);
    if (c->p != c->end) return bad(c, "bytes after the dict");
    return NG_OK;
}

ng_status ng_npy_parse(const uint8_t *buf, size_t len, const char *name, ng_array *out)
{
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, NPY_MAGIC, 6) != 0)
        return ng_fail(NG_E_FORMAT, "%s: not a NumPy .npy file (no \\x93NUMPY signature)", name);
    int major = buf[6];
    size_t hl, off;
    if (major == 1) {
        hl = (size_t)buf[8] | (size_t)buf[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return ng_fail(NG_E_FORMAT, "%s: truncated .npy header", name);
        hl = ng_le32(buf + 8);
        off = 12;
    } else {
        return ng_fail(NG_E_UNSUPPORTED, "%s: .npy format version %d.%d; versions 1.0, 2.0 and 3.0 are supported",
                       name, major, buf[7]);
    }
    if (hl > NG_NPY_MAX_HEADER)
        return ng_fail(NG_E_UNSUPPORTED, "%s: .npy header of %zu bytes (at most %u)", name, hl, NG_NPY_MAX_HEADER);
    if (hl > len - off) return ng_fail(NG_E_FORMAT, "%s: truncated .npy header", name);
    npy_cursor c = {(const char *)buf + off, (const char *)buf + off + hl, name};
    char descr[32];
    int fortran = 0;
    ng_shape s;
    ng_status st = parse_dict(&c, descr, sizeof descr, &fortran, &s);
    if (st != NG_OK) return st;
    size_t esize;
    if (!strcmp(descr, "<f4")) esize = 4;
    else if (!strcmp(descr, "|u1") || !strcmp(descr, "<u1") || !strcmp(descr, ">u1")) esize = 1;
    else if (!strcmp(descr, ">f4"))
        return ng_fail(NG_E_UNSUPPORTED, "%s: big-endian float32 ('>f4'); save x.astype('<f4')", name);
    else
        return ng_fail(NG_E_UNSUPPORTED, "%s: dtype '%s' is not supported; inputs are float32 ('<f4') or uint8 "
                       "('|u1'): save x.astype(numpy.float32)", name, descr);
    int64_t numel = 1;
    for (int i = 0; i < s.ndim; i++) numel *= s.d[i];
    if (fortran && s.ndim > 1 && numel > 1)
        return ng_fail(NG_E_UNSUPPORTED, "%s: the array is in Fortran (column-major) order; save "
                       "numpy.ascontiguousarray(x) instead", name);
    size_t data = len - off - hl;
    if ((uint64_t)numel * esize != (uint64_t)data)
        return ng_fail(NG_E_FORMAT, "%s: %zu bytes of data but shape and dtype need %llu (file truncated?)",
                       name, data, (unsigned long long)numel * esize);
    const uint8_t *p = buf + off + hl;
    float *x = NULL;
    if (numel) {
        x = malloc((size_t)numel * sizeof *x);
        if (!x) return ng_fail(NG_E_NOMEM, "%s: out of memory for %lld floats", name, (long long)numel);
        if (esize == 4) {
            memcpy(x, p, (size_t)numel * 4);
        } else {
            for (int64_t i = 0; i < numel; i++) x[i] = (float)p[i] / 255.0f;
        }
    }
    out->shape = s;
    out->x = x;
    out->from_u8 = esize == 1;
    return NG_OK;
}

ng_status ng_npy_load(const char *path, ng_array *out)
{
    memset(out, 0, sizeof *out);
    ng_map m;
    ng_status st = ng_map_file(path, &m);
    if (st != NG_OK) return st;
    st = ng_npy_parse(m.data, m.len, path, out);
    ng_unmap(&m);
    return st;
}

size_t ng_npy_header_f32(const ng_shape *s, uint8_t *buf, size_t cap)
{
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < s->ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%lld%s", (long long)s->d[i],
                      s->ndim == 1 ? "," : i + 1 < s->ndim ? ", " : "");
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    size_t total = (10 + (size_t)k + 1 + 63) / 64 * 64;   /* magic + dict + '\n', 64-aligned */
    if (total > cap || total - 10 > 0xffff) return 0;
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (uint8_t)((total - 10) & 0xff);
    buf[9] = (uint8_t)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)k);
    memset(buf + 10 + k, ' ', total - 10 - (size_t)k - 1);
    buf[total - 1] = '\n';
    return total;
}

ng_status ng_npy_save_f32(const char *path, const float *x, const ng_shape *s)
{
    uint8_t h[640];
    size_t hn = ng_npy_header_f32(s, h, sizeof h);
    int64_t numel = ng_shape_numel(s);
    if (!hn || numel < 0) return ng_fail(NG_E_INVALID, "%s: cannot describe this shape in a .npy header", path);
    ng_awriter w;
    ng_status st = ng_awrite_open(&w, path, NG_MODE_PUBLIC);
    if (st != NG_OK) return st;
    if ((st = ng_awrite(&w, h, hn)) != NG_OK || (st = ng_awrite(&w, x, (size_t)numel * 4)) != NG_OK) {
        ng_awrite_abort(&w);
        return st;
    }
    return ng_awrite_commit(&w);
}

void ng_array_free(ng_array *a)
{
    if (!a) return;
    free(a->x);
    memset(a, 0, sizeof *a);
}
