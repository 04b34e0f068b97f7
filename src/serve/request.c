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

static inline void ws(jp *j)
{
    if (j->p < j->end && (unsigned char)*j->p > ' ') return;   /* the usual case: no whitespace */
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int fail(jp *j, ng_status st, const char *msg)
{
    if (j->st == NG_OK) { j->st = st; ng_fail(st, "%s", msg); }
    return -1;
}


static const double pow10_tab[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
/* 10^-k as the nearest doubles (the compiler rounds each literal correctly) */
static const double pow10_neg_tab[23] = {1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10,
                                         1e-11, 1e-12, 1e-13, 1e-14, 1e-15, 1e-16, 1e-17, 1e-18, 1e-19,
                                         1e-20, 1e-21, 1e-22};

/* The value of the 8 ASCII digits at p, or -1 when one of them is not a digit: one 64-bit load,
 * a digit check on all 8 bytes at once (each byte's high nibble is 3 and adding 6 keeps it 3)
 * and three multiply-add steps that combine neighbouring digits, then pairs, then quads (no
 * step carries from one lane into the next: 99, 9999 and 99999999 fit their lanes). Little
 * endian only: the first digit is the lowest byte. */
static int64_t eight_digits(const char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    if (((v & 0xF0F0F0F0F0F0F0F0ull) | (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) != 0x3333333333333333ull)
        return -1;
    v -= 0x3030303030303030ull;
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFull;      /* 16-bit lanes: 2-digit values */
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFull;    /* 32-bit lanes: 4-digit values */
    return (int64_t)((v * 10000 + (v >> 32)) & 0xFFFFFFFFull);
#else
    (void)p;
    return -1;
#endif
}

/* mant x 10^exp10 (mant > 0, exact) as the correctly rounded float when one double operation
 * gets it: mant < 2^53 and |exp10| <= 22 make mantissa and power of ten exact doubles, so one
 * multiplication or division rounds correctly to double; rounding that double to float is then
 * correct too unless it sits exactly on a midpoint between two floats (float midpoints are
 * doubles, so the first rounding can only cross one by landing on it) or in the subnormal
 * range. A negative exponent multiplies by the nearest double to 10^exp10 instead of dividing:
 * two roundings put d within 3 double ulps of the exact quotient, so d rounds to the same float
 * unless a float midpoint lies within 3 ulps of d (in d's binade: midpoints sit 2^28 ulps from
 * its ends), i.e. unless d's low 29 bits are within 3 of 0x10000000 (8 checked): those divide.
 * Returns 0 and sets *out, or -1 when strtof must decide. */
static inline int decimal_to_float(uint64_t mant, int exp10, int neg, float *out)
{
    if (mant >= ((uint64_t)1 << 53) || exp10 < -22 || exp10 > 22) return -1;
    double d = exp10 < 0 ? (double)mant * pow10_neg_tab[-exp10] : (double)mant * pow10_tab[exp10];
    uint64_t bits;
    memcpy(&bits, &d, 8);
    if (exp10 < 0 && (uint32_t)((bits & 0x1fffffff) - 0x10000000 + 8) <= 16) {
        d = (double)mant / pow10_tab[-exp10];
        memcpy(&bits, &d, 8);
    }
    if (!(d >= 0x1p-125 && d <= 0x1.fffffep127 && (bits & 0x1fffffff) != 0x10000000)) return -1;
    *out = (float)(neg ? -d : d);
    return 0;
}

/* One JSON number -> float, correctly rounded (as strtof): up to 19 significant digits are
 * gathered exactly (decimal_to_float), everything else goes to strtof. */
static int number(jp *j, float *out)
{
    const char *s = j->p, *q = s;
    int neg = 0;
    if (q < j->end && *q == '-') { neg = 1; q++; }
    if (q >= j->end || *q < '0' || *q > '9') return fail(j, NG_E_FORMAT, "malformed JSON: expected a number");
    uint64_t mant = 0;
    int digits = 0, exp10 = 0, exact = 1;
    if (*q == '0') { q++; }
    else {
        /* 8 digits at a time while mant stays below 10^19 (digits counts its significant digits,
         * or more: an overcount only sends more numbers to strtof, never a wrong value) */
        int64_t e8;
        while (digits <= 11 && j->end - q >= 8 && (e8 = eight_digits(q)) >= 0) { mant = mant * 100000000u + (uint64_t)e8; digits += 8; q += 8; }
        while (q < j->end && *q >= '0' && *q <= '9') {
            if (digits < 19) { mant = mant * 10 + (uint64_t)(*q - '0'); digits += mant != 0; }
            else { exp10++; exact &= *q == '0'; }
            q++;
        }
    }
    if (q < j->end && *q == '.') {
        q++;
        if (q >= j->end || *q < '0' || *q > '9') return fail(j, NG_E_FORMAT, "malformed JSON: digits expected after '.'");
        int64_t e8;
        while (digits <= 11 && j->end - q >= 8 && (e8 = eight_digits(q)) >= 0) {
            digits = mant ? digits + 8 : e8 ? 8 : 0;   /* leading zeros of a fraction do not count */
            mant = mant * 100000000u + (uint64_t)e8;
            exp10 -= 8;
            q += 8;
        }
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
    if (mant == 0) {   /* all digits zero (background pixels): +-0 whatever the exponent */
        *out = neg ? -0.0f : 0.0f;
        fast = 1;
    } else if (exact)
        fast = decimal_to_float(mant, exp10, neg, out) == 0;
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

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NG_SWAR_NUMBERS 1
static const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The 8 bytes at p XOR '0' each: digits become 0..9, every other byte something larger. */
static inline uint64_t load_x30(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v ^ 0x3030303030303030ull;
}

/* Bytes of t (load_x30) that are not digits, as their high bits: t + 0x76 reaches 0x80 exactly
 * when t > 9 (or t has it already). A byte past 0x89 carries into the next one, which can only
 * mark a later byte falsely: the first marked byte is always the first non-digit. */
static inline uint64_t nondigits(uint64_t t)
{
    return ((t + 0x7676767676767676ull) | t) & 0x8080808080808080ull;
}

/* The value of the first k (1..8) digit bytes of t (load_x30, first digit lowest): shifted to
 * the top of the word, the bytes below read as leading zeros; then the multiply-add steps of
 * eight_digits. */
static inline uint64_t digits_value(uint64_t t, int k)
{
    t <<= 8 * (8 - k);
    t = (t * 10 + (t >> 8)) & 0x00FF00FF00FF00FFull;
    t = (t * 100 + (t >> 16)) & 0x0000FFFF0000FFFFull;
    return (t * 10000 + (t >> 32)) & 0xFFFFFFFFull;
}

/* The common numbers of a request, -?D{1,8}(.D{1,16})? without an exponent and with at most 19
 * digits, read with whole-word digit scans instead of a byte at a time: the end of the integer
 * part, of the fraction's first 8 and next 8 digits are each one mask and one count of trailing
 * zero bits. Needs 32 readable bytes at p. Returns the byte after the number with *out set, or
 * NULL when number() must read it (anything else, malformed text included, and the values
 * decimal_to_float leaves to strtof): the same value either way. */
static inline const char *swar_number(const char *p, float *out)
{
    int neg = *p == '-';
    p += neg;
    uint64_t t = load_x30(p), mant = 0;
    int ni = 1;
    if ((t & 0xffff) != (('.' ^ '0') << 8)) {   /* else "0.", the usual pixel */
        uint64_t m = nondigits(t);
        ni = m ? __builtin_ctzll(m) >> 3 : 8;
        if (ni == 0 || ni == 8 || ((t & 0xff) == 0 && ni > 1)) return NULL;   /* no digit, long, or a leading 0 */
        mant = digits_value(t, ni);
    }
    const char *q = p + ni;
    int nf = 0;
    if (*q == '.') {
        uint64_t a = load_x30(q + 1), ma = nondigits(a);
        if (ma) {
            nf = __builtin_ctzll(ma) >> 3;
            if (nf == 0) return NULL;
            mant = mant * pow10_u64[nf] + digits_value(a, nf);
        } else {
            uint64_t b = load_x30(q + 9), mb = nondigits(b);
            int nb = mb ? __builtin_ctzll(mb) >> 3 : 8;
            if (nb == 8 || ni + 8 + nb > 19) return NULL;
            mant = mant * 100000000u + digits_value(a, 8);
            if (nb) mant = mant * pow10_u64[nb] + digits_value(b, nb);
            nf = 8 + nb;
        }
        q += 1 + nf;
    }
    if ((*q | 0x20) == 'e') return NULL;
    if (mant == 0) *out = neg ? -0.0f : 0.0f;
    else if (decimal_to_float(mant, -nf, neg, out)) return NULL;
    return q;
}

/* The run of values at j->p that are zeros or swar_number's numbers, each followed by a bare
 * ',' (an image's body, bar its last value): read in one tight loop with the state in locals
 * (a third fewer instructions per body than array()'s loop, 66.9k -> 43.9k on the bench's
 * image). Stops before the first value it does not take, which array() then reads as usual;
 * adds the values read to *count and returns how many. */
static int64_t fast_values(jp *j, int64_t *count)
{
    static const char zeros4[8] = {'0', ',', '0', ',', '0', ',', '0', ','};
    const char *p = j->p, *end = j->end;
    float *v = j->v;
    size_t n = j->n, cap = j->cap;
    while (end - p >= 32 && cap - n >= 4) {
        if (p[0] == '0' && p[1] == ',') {
            if (memcmp(p, zeros4, 8) == 0) { memset(v + n, 0, 4 * sizeof *v); n += 4; p += 8; }
            else { v[n++] = 0.0f; p += 2; }
            continue;
        }
        float f;
        const char *q = swar_number(p, &f);
        if (!q || *q != ',') break;
        v[n++] = f;
        p = q + 1;
    }
    int64_t k = (int64_t)(n - j->n);
    *count += k;
    j->n = n;
    j->p = p;
    return k;
}
#endif

/* Room for one more value when j->n == j->cap (cap <= max). */
static int grow(jp *j)
{
    if (j->n == j->max) return fail(j, NG_E_SHAPE, "too many input values for the request limit");
    size_t nc = j->cap ? 2 * j->cap : 1024;
    if (nc > j->max) nc = j->max;
    float *nv = realloc(j->v, nc * sizeof *nv);
    if (!nv) return fail(j, NG_E_NOMEM, "out of memory for the inputs");
    j->v = nv;
    j->cap = nc;
    return 0;
}

static inline int push(jp *j, float f)
{
    if (j->n == j->cap && grow(j)) return -1;
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
#ifdef NG_SWAR_NUMBERS
            if (fast_values(j, &count)) continue;   /* values and their ',' read: on at the next value */
#endif
            /* runs of background pixels: "0,0,0,0," is four JSON zeros, each followed by its
             * ',' (one 8-byte compare instead of four passes of this loop) */
            static const char zeros4[8] = {'0', ',', '0', ',', '0', ',', '0', ','};
            if (j->end - j->p >= 8 && j->cap - j->n >= 4 && memcmp(j->p, zeros4, 8) == 0) {
                do {
                    memset(j->v + j->n, 0, 4 * sizeof *j->v);
                    j->n += 4;
                    count += 4;
                    j->p += 8;
                } while (j->end - j->p >= 8 && j->cap - j->n >= 4 && memcmp(j->p, zeros4, 8) == 0);
                continue;   /* each zero's ',' is consumed: the next value follows */
            }
            float f;
            /* a lone 0 (the background pixels of an image, most of its numbers) needs none of
             * number()'s work: "0" then ',' or ']' is exactly the JSON number 0 */
            if (*j->p == '0' && j->end - j->p >= 2 && (j->p[1] == ',' || j->p[1] == ']')) { f = 0.0f; j->p++; }
            else {
#ifdef NG_SWAR_NUMBERS
                const char *q = j->end - j->p >= 32 ? swar_number(j->p, &f) : NULL;
                if (q) j->p = q;
                else
#endif
                if (number(j, &f)) return -1;
            }
            if (push(j, f)) return -1;
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

/* 10^k for k = -46..54 as the nearest doubles (the compiler rounds each literal correctly). */
static const double pow10_all[101] = {
    1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35, 1e-34,
    1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21,
    1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7,
    1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
    1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26,
    1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42,
    1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54
};
static double pow10_of(int k) { return pow10_all[k + 46]; }

/* A float as JSON with 9 significant digits, the way "%.9g" writes it (fixed notation for
 * decimal exponents -5..8, else d.ddde[+-]XX; trailing zeros dropped), without printf's
 * arbitrary-precision arithmetic (a fifth of an answer's cost). The 9-digit decimal comes from
 * one double multiplication or division: its error (< 1e-15 relative) can move a result that sits
 * within 1e-7 of a rounding tie to the other neighbour, which still reads back as the same float
 * (9 digits resolve 1e-8 relative, a float needs 6e-8): strtof(output) == v always (tested).
 * Returns the length; out needs 16 bytes. v must be finite. */
static int fmt_float(float v, char *out)
{
    char *o = out;
    if (signbit(v)) { *o++ = '-'; v = -v; }
    if (v == 0) { *o++ = '0'; return (int)(o - out); }
    double d = v;
    int e2;
    frexp(d, &e2);
    int e10 = (int)floor((e2 - 1) * 0.30102999566398120);
    if (d >= pow10_of(e10 + 1)) e10++;
    else if (d < pow10_of(e10)) e10--;
    int sc = 8 - e10;   /* -30 .. 53 for floats */
    double x = sc <= 22 && sc >= -22 ? (sc >= 0 ? d * pow10_tab[sc] : d / pow10_tab[-sc])
                                     : d * pow10_of(sc);
    uint64_t m = (uint64_t)llrint(x);   /* ties to even, as printf */
    if (m >= 1000000000u) { m /= 10; e10++; }
    char dg[9];
    for (int i = 8; i >= 0; i--) { dg[i] = (char)('0' + m % 10); m /= 10; }
    int nd = 9;
    while (nd > 1 && dg[nd - 1] == '0') nd--;
    if (e10 < -4 || e10 >= 9) {
        *o++ = dg[0];
        if (nd > 1) { *o++ = '.'; memcpy(o, dg + 1, (size_t)nd - 1); o += nd - 1; }
        int e = e10 < 0 ? -e10 : e10;
        *o++ = 'e';
        *o++ = e10 < 0 ? '-' : '+';
        if (e >= 10) *o++ = (char)('0' + e / 10);
        else *o++ = '0';
        *o++ = (char)('0' + e % 10);
    } else if (e10 >= 0) {
        for (int i = 0; i <= e10; i++) *o++ = i < nd ? dg[i] : '0';
        if (nd > e10 + 1) { *o++ = '.'; memcpy(o, dg + e10 + 1, (size_t)(nd - e10 - 1)); o += nd - e10 - 1; }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -e10 - 1; i++) *o++ = '0';
        memcpy(o, dg, (size_t)nd);
        o += nd;
    }
    return (int)(o - out);
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
        for (int j = 0; j < classes; j++) {
            if (j) *p++ = ',';
            p += fmt_float(probs[i * classes + j], p);
        }
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
