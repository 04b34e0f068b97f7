/* serve/request.c - request bodies of /v1/predict (JSON or float32) and the JSON answer.
 *
 * The JSON reader accepts exactly {"inputs": ARRAY} (whitespace anywhere JSON allows it):
 * ARRAY is 1 to 4 levels of rectangular arrays of JSON numbers. It is a small dedicated
 * parser rather than a general JSON library because a 28x28 image is 784 numbers and a
 * general DOM parser allocates a node for each one; every length is checked against the
 * body, numbers follow the JSON grammar, and the shape is checked against the model.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/serve.h"
#include "core/core.h"

#define MAX_DEPTH 4

typedef struct jp {
    const char *p, *end;
    float   *v;
    size_t   n, cap, max;
    int64_t  dims[MAX_DEPTH];  /* size of each level, 0 until its first array closes */
    int      depth_seen;       /* levels in the shape (leaf depth + 1) */
    int      leaf_depth;       /* depth holding numbers (-1 until known) */
    ng_status st;
} jp;

static void ws(jp *j) { while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++; }

static int fail(jp *j, ng_status st, const char *msg)
{
    if (j->st == NG_OK) { j->st = st; ng_fail(st, "%s", msg); }
    return -1;
}


static const double pow10_tab[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* One JSON number -> float, correctly rounded (as strtof). Fast path: at most 19 significant
 * digits with mantissa < 2^53 and a decimal exponent within +-22: mantissa and power of ten are
 * exact doubles, so one multiplication or division rounds correctly to double; rounding that
 * double to float is then correct too unless it sits exactly on a midpoint between two floats
 * (float midpoints are doubles, so the first rounding can only cross one by landing on it) or
 * in the subnormal range: those, and everything else, go to strtof. */
static int number(jp *j, float *out)
{
    const char *s = j->p, *q = s;
    int neg = 0;
    if (q < j->end && *q == '-') { neg = 1; q++; }
    if (q >= j->end || *q < '0' || *q > '9') return fail(j, NG_E_FORMAT, "malformed JSON: expected a number");
    uint64_t mant = 0;
    int digits = 0, exp10 = 0, exact = 1;
    if (*q == '0') { q++; }
    else while (q < j->end && *q >= '0' && *q <= '9') {
        if (digits < 19) { mant = mant * 10 + (uint64_t)(*q - '0'); digits += mant != 0; }
        else { exp10++; exact &= *q == '0'; }
        q++;
    }
    if (q < j->end && *q == '.') {
        q++;
        if (q >= j->end || *q < '0' || *q > '9') return fail(j, NG_E_FORMAT, "malformed JSON: digits expected after '.'");
        while (q < j->end && *q >= '0' && *q <= '9') {
            if (digits < 19) { mant = mant * 10 + (uint64_t)(*q - '0'); digits += mant != 0; exp10--; }
            else exact &= *q == '0';
            q++;
        }
    }
    if (q < j->end && (*q == 'e' || *q == 'E')) {
        q++;
        int eneg = 0, e = 0;
        if (q < j->end && (*q == '+' || *q == '-')) eneg = *q++ == '-';
        if (q >= j->end || *q < '0' || *q > '9') return fail(j, NG_E_FORMAT, "malformed JSON: digits expected in the exponent");
        while (q < j->end && *q >= '0' && *q <= '9') { if (e < 100000) e = e * 10 + (*q - '0'); q++; }
        exp10 += eneg ? -e : e;
    }
    size_t len = (size_t)(q - s);
    int fast = 0;
    if (exact && mant < ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = exp10 < 0 ? (double)mant / pow10_tab[-exp10] : (double)mant * pow10_tab[exp10];
        uint64_t bits;
        memcpy(&bits, &d, 8);
        if (d == 0 || (d >= 0x1p-125 && d <= 0x1.fffffep127 && (bits & 0x1fffffff) != 0x10000000)) {
            *out = (float)(neg ? -d : d);
            fast = 1;
        }
    }
    if (!fast) {
        char buf[72];
        if (len >= sizeof buf) return fail(j, NG_E_FORMAT, "a number in the request is longer than 71 characters");
        memcpy(buf, s, len);
        buf[len] = 0;
        *out = strtof(buf, NULL);
    }
    if (!isfinite(*out)) return fail(j, NG_E_INVALID, "an input value is not finite (out of float range)");
    j->p = q;
    return 0;
}

static int push(jp *j, float f)
{
    if (j->n == j->max) return fail(j, NG_E_SHAPE, "too many input values for the request limit");
    if (j->n == j->cap) {
        size_t nc = j->cap ? 2 * j->cap : 1024;
        if (nc > j->max) nc = j->max;
        float *nv = realloc(j->v, nc * sizeof *nv);
        if (!nv) return fail(j, NG_E_NOMEM, "out of memory for the inputs");
        j->v = nv;
        j->cap = nc;
    }
    j->v[j->n++] = f;
    return 0;
}

static int array(jp *j, int depth)
{
    if (depth >= MAX_DEPTH) return fail(j, NG_E_SHAPE, "inputs nest deeper than 4 levels");
    j->p++;   /* '[' */
    int64_t count = 0;
    ws(j);
    if (j->p < j->end && *j->p == ']') return fail(j, NG_E_SHAPE, "inputs contain an empty array");
    for (;;) {
        ws(j);
        if (j->p >= j->end) return fail(j, NG_E_FORMAT, "malformed JSON: the body ends inside an array");
        if (*j->p == '[') {
            if (j->leaf_depth >= 0 && depth + 1 > j->leaf_depth) return fail(j, NG_E_SHAPE, "inputs are not rectangular (arrays mixed with numbers)");
            if (array(j, depth + 1)) return -1;
        } else {
            if (j->leaf_depth < 0) j->leaf_depth = depth;
            else if (j->leaf_depth != depth) return fail(j, NG_E_SHAPE, "inputs are not rectangular (numbers at different depths)");
            float f;
            if (number(j, &f) || push(j, f)) return -1;
        }
        count++;
        ws(j);
        if (j->p >= j->end) return fail(j, NG_E_FORMAT, "malformed JSON: the body ends inside an array");
        if (*j->p == ',') { j->p++; continue; }
        if (*j->p == ']') { j->p++; break; }
        return fail(j, NG_E_FORMAT, "malformed JSON: expected ',' or ']' in an array");
    }
    if (j->dims[depth] && j->dims[depth] != count)
        return fail(j, NG_E_SHAPE, "inputs are not rectangular (rows of different lengths)");
    j->dims[depth] = count;
    if (depth + 1 > j->depth_seen) j->depth_seen = depth + 1;
    return 0;
}

/* Leading images of the parsed dims for shape s, or -1. */
static int64_t images_of(const int64_t *d, int k, const ng_req_shape *s)
{
    int64_t dim = (int64_t)s->c * s->h * s->w;
    switch (k) {
    case 1: return d[0] == dim ? 1 : -1;
    case 2: if (d[1] == dim) return d[0];
            return s->c == 1 && d[0] == s->h && d[1] == s->w ? 1 : -1;
    case 3: if (d[0] == s->c && d[1] == s->h && d[2] == s->w) return 1;
            return s->c == 1 && d[1] == s->h && d[2] == s->w ? d[0] : -1;
    case 4: return d[1] == s->c && d[2] == s->h && d[3] == s->w ? d[0] : -1;
    default: return -1;
    }
}

ng_status ng_req_parse_json(const char *body, size_t len, const ng_req_shape *s, int64_t max_images,
                            float **x, int64_t *n)
{
    *x = NULL;
    *n = 0;
    int64_t dim = (int64_t)s->c * s->h * s->w;
    if (dim <= 0 || max_images < 1) return ng_fail(NG_E_INVALID, "bad request shape");
    jp j = { .p = body, .end = body + len, .max = (size_t)(max_images * dim), .leaf_depth = -1 };
    ws(&j);
    if (j.p >= j.end || *j.p != '{') { fail(&j, NG_E_FORMAT, "malformed JSON: expected an object {\"inputs\": [...]}"); goto bad; }
    j.p++;
    ws(&j);
    static const char key[] = "\"inputs\"";
    if ((size_t)(j.end - j.p) < sizeof key - 1 || memcmp(j.p, key, sizeof key - 1) != 0) {
        fail(&j, NG_E_FORMAT, "the request object must hold exactly one field, \"inputs\"");
        goto bad;
    }
    j.p += sizeof key - 1;
    ws(&j);
    if (j.p >= j.end || *j.p != ':') { fail(&j, NG_E_FORMAT, "malformed JSON: expected ':' after \"inputs\""); goto bad; }
    j.p++;
    ws(&j);
    if (j.p >= j.end || *j.p != '[') { fail(&j, NG_E_FORMAT, "\"inputs\" must be an array of numbers"); goto bad; }
    if (array(&j, 0)) goto bad;
    ws(&j);
    if (j.p >= j.end || *j.p != '}') { fail(&j, NG_E_FORMAT, "the request object must hold exactly one field, \"inputs\""); goto bad; }
    j.p++;
    ws(&j);
    if (j.p != j.end) { fail(&j, NG_E_FORMAT, "malformed JSON: data after the object"); goto bad; }
    int64_t k = images_of(j.dims, j.depth_seen, s);
    if (k < 1 || (size_t)(k * dim) != j.n) {
        char d[96];
        int o = 0;
        for (int i = 0; i < j.depth_seen; i++) o += snprintf(d + o, sizeof d - (size_t)o, "%s%lld", i ? "x" : "", (long long)j.dims[i]);
        free(j.v);
        return ng_fail(NG_E_SHAPE, "inputs of shape %s do not fit the model's %dx%dx%d images (send [%lld], [%d][%d][%d] "
                       "or a batch of them)", d, s->c, s->h, s->w, (long long)dim, s->c, s->h, s->w);
    }
    *x = j.v;
    *n = k;
    return NG_OK;
bad:
    free(j.v);
    return j.st;
}

ng_status ng_req_parse_f32(const void *body, size_t len, const ng_req_shape *s, int64_t max_images,
                           float **x, int64_t *n)
{
    *x = NULL;
    *n = 0;
    size_t img = (size_t)s->c * (size_t)s->h * (size_t)s->w * 4;
    if (len == 0 || len % img)
        return ng_fail(NG_E_SHAPE, "a float32 body must hold whole %dx%dx%d images (%zu bytes each), not %zu bytes",
                       s->c, s->h, s->w, img, len);
    if (len / img > (size_t)max_images)
        return ng_fail(NG_E_SHAPE, "%zu images in one request; the limit is %lld", len / img, (long long)max_images);
    size_t cnt = len / 4;
    float *v = malloc(cnt * sizeof *v);
    if (!v) return ng_fail(NG_E_NOMEM, "out of memory for the inputs");
    const uint8_t *b = body;
    for (size_t i = 0; i < cnt; i++) {
        uint32_t u = ng_le32(b + 4 * i);
        memcpy(&v[i], &u, 4);
        if (!isfinite(v[i])) { free(v); return ng_fail(NG_E_INVALID, "input value %zu is not finite", i); }
    }
    *x = v;
    *n = (int64_t)(len / img);
    return NG_OK;
}

char *ng_req_format_answer(const float *probs, const int32_t *labels, int64_t n, int classes, size_t *len)
{
    size_t cap = 64 + (size_t)n * ((size_t)classes * 18 + 16);
    char *s = malloc(cap), *p = s;
    if (!s) return NULL;
    p += sprintf(p, "{\"probabilities\":[");
    for (int64_t i = 0; i < n; i++) {
        *p++ = i ? ',' : '[';
        if (i) *p++ = '[';
        for (int j = 0; j < classes; j++) p += sprintf(p, j ? ",%.9g" : "%.9g", (double)probs[i * classes + j]);
        *p++ = ']';
    }
    p += sprintf(p, "],\"labels\":[");
    for (int64_t i = 0; i < n; i++) p += sprintf(p, i ? ",%d" : "%d", (int)labels[i]);
    p += sprintf(p, "]}\n");
    *len = (size_t)(p - s);
    return s;
}

int ng_req_bearer(const char *h, const char **tok, size_t *len)
{
    if (!h || strncmp(h, "Bearer ", 7) != 0) return -1;
    const char *t = h + 7;
    while (*t == ' ') t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
    if (n == 0 || n > 256) return -1;
    *tok = t;
    *len = n;
    return 0;
}
