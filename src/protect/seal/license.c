/* protect/seal/license.c - identities (Ed25519 + X25519 key pairs) and Ed25519-signed licenses
 * carrying a sealed model's key wrapped to the licensee (formats: nnguard/license.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "nnguard/license.h"
#include "core/core.h"
#include "protect/keyfile.h"

static const char id_magic[] = "nnguard-identity v1\n", pub_magic[] = "nnguard-identity-public v1\n",
                  lic_magic[] = "nnguard-license v1\n";

void ng_identity_wipe(ng_identity *id) { if (id) sodium_memzero(id, sizeof *id); }

void ng_identity_generate(ng_identity *out)
{
    crypto_sign_keypair(out->pub.sign, out->sign_sk);
    crypto_box_keypair(out->pub.box, out->box_sk);
}

/* "prefix" + hex(b) + "\n" appended to buf at *pos (cap checked by the callers' sizes). */
static void put_hex(char *buf, size_t *pos, const char *prefix, const uint8_t *b, size_t n)
{
    *pos += (size_t)sprintf(buf + *pos, "%s", prefix);
    sodium_bin2hex(buf + *pos, 2 * n + 1, b, n);
    *pos += 2 * n;
    buf[(*pos)++] = '\n';
    buf[*pos] = 0;
}

static size_t pub_text(const ng_identity_pub *p, char *buf)
{
    size_t pos = 0;
    buf[0] = 0;
    pos += (size_t)sprintf(buf, "%s", pub_magic);
    put_hex(buf, &pos, "sign-public: ", p->sign, 32);
    put_hex(buf, &pos, "box-public: ", p->box, 32);
    return pos;
}

ng_status ng_identity_save(const ng_identity *id, const char *path)
{
    char text[1024], pub[256], *pubpath = malloc(strlen(path) + 5);
    size_t pos = (size_t)sprintf(text, "%s", id_magic);
    if (!pubpath) return ng_fail(NG_E_NOMEM, "out of memory");
    put_hex(text, &pos, "sign-public: ", id->pub.sign, 32);
    put_hex(text, &pos, "box-public: ", id->pub.box, 32);
    put_hex(text, &pos, "sign-secret: ", id->sign_sk, 64);
    put_hex(text, &pos, "box-secret: ", id->box_sk, 32);
    size_t plen = pub_text(&id->pub, pub);
    sprintf(pubpath, "%s.pub", path);
    ng_awriter a, b;
    ng_status st = ng_awrite_open_excl(&a, path, NG_MODE_PRIVATE);
    if (st == NG_OK && (st = ng_awrite_open_excl(&b, pubpath, NG_MODE_PUBLIC)) != NG_OK) ng_awrite_abort(&a);
    if (st == NG_OK) {
        if ((st = ng_awrite(&a, text, pos)) == NG_OK) st = ng_awrite(&b, pub, plen);
        if (st != NG_OK) { ng_awrite_abort(&a); ng_awrite_abort(&b); }
        else if ((st = ng_awrite_commit(&b)) != NG_OK) ng_awrite_abort(&a);
        else st = ng_awrite_commit(&a);
    }
    sodium_memzero(text, sizeof text);
    free(pubpath);
    return st;
}

/* The next line if it starts with prefix and holds exactly n bytes of lowercase hex. */
static int hex_line(const char **pos, const char *end, const char *prefix, uint8_t *out, size_t n)
{
    size_t pl = strlen(prefix), got = 0;
    const char *p = *pos;
    if ((size_t)(end - p) < pl + 2 * n + 1 || memcmp(p, prefix, pl) != 0 || p[pl + 2 * n] != '\n') return 0;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = p[pl + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    if (sodium_hex2bin(out, n, p + pl, 2 * n, NULL, &got, NULL) != 0 || got != n) return 0;
    *pos = p + pl + 2 * n + 1;
    return 1;
}

static int magic(const char **pos, const char *end, const char *m)
{
    size_t n = strlen(m);
    if ((size_t)(end - *pos) < n || memcmp(*pos, m, n) != 0) return 0;
    *pos += n;
    return 1;
}

ng_status ng_identity_parse(const void *buf, size_t len, const char *name, ng_identity *out)
{
    const char *p = buf, *end = p + len;
    uint8_t pk[32];
    memset(out, 0, sizeof *out);
    if (!magic(&p, end, id_magic))
        return ng_fail(NG_E_KEY, "%s: not an nnguard identity file (make one with nnguard identity new)", name);
    if (!hex_line(&p, end, "sign-public: ", out->pub.sign, 32) || !hex_line(&p, end, "box-public: ", out->pub.box, 32) ||
        !hex_line(&p, end, "sign-secret: ", out->sign_sk, 64) || !hex_line(&p, end, "box-secret: ", out->box_sk, 32) ||
        p != end) {
        ng_identity_wipe(out);
        return ng_fail(NG_E_KEY, "%s: corrupted identity file (a line is missing or malformed)", name);
    }
    crypto_scalarmult_base(pk, out->box_sk);
    if (sodium_memcmp(pk, out->pub.box, 32) != 0 || sodium_memcmp(out->sign_sk + 32, out->pub.sign, 32) != 0) {
        ng_identity_wipe(out);
        return ng_fail(NG_E_KEY, "%s: corrupted identity file: the public keys do not match the secret keys", name);
    }
    return NG_OK;
}

ng_status ng_identity_load(const char *path, ng_identity *out)
{
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    ng_status st = ng_secret_file_read(path, &buf, &len);
    if (st != NG_OK) return st;
    st = ng_identity_parse(buf, len, path, out);
    sodium_free(buf);
    return st;
}

ng_status ng_identity_pub_parse(const void *buf, size_t len, const char *name, ng_identity_pub *out)
{
    const char *p = buf, *end = p + len;
    memset(out, 0, sizeof *out);
    if (magic(&p, end, id_magic))
        return ng_fail(NG_E_KEY, "%s: this is a secret identity file; give its public half (%s.pub)", name, name);
    if (!magic(&p, end, pub_magic))
        return ng_fail(NG_E_KEY, "%s: not an nnguard public identity file (nnguard identity new writes ME.pub)", name);
    if (!hex_line(&p, end, "sign-public: ", out->sign, 32) || !hex_line(&p, end, "box-public: ", out->box, 32) || p != end)
        return ng_fail(NG_E_KEY, "%s: corrupted public identity file (a line is missing or malformed)", name);
    return NG_OK;
}

ng_status ng_identity_pub_load(const char *path, ng_identity_pub *out)
{
    uint8_t *buf;
    size_t len;
    ng_status st = ng_read_file(path, NG_LICENSE_FILE_MAX, &buf, &len);
    if (st != NG_OK) return st;
    st = ng_identity_pub_parse(buf, len, path, out);
    free(buf);
    return st;
}

/* YYYY-MM-DD -> unix seconds of the following midnight UTC; -1 when malformed. */
int64_t ng_license_expiry(const char *s)
{
    int y, m, d, n = -1;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || s[4] != '-' || s[7] != '-') return -1;
    for (int i = 0; i < 10; i++) if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap)) return -1;
    /* days from civil (Howard Hinnant's algorithm) */
    int yy = y - (m <= 2);
    int era = yy / 400, yoe = yy - era * 400, doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t days = (int64_t)era * 146097 + (int64_t)yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
    return (days + 1) * 86400;
}

int ng_class_set_has(const ng_class_set *s, int c)
{
    if (c < 0 || c >= NG_SEAL_LICENSE_MAX_CLASSES) return !s->limited && c >= 0;
    return !s->limited || (s->bits[c / 64] >> (c % 64) & 1);
}

int ng_class_set_max(const ng_class_set *s)
{
    if (!s->limited) return -1;
    for (int c = NG_SEAL_LICENSE_MAX_CLASSES - 1; c >= 0; c--)
        if (s->bits[c / 64] >> (c % 64) & 1) return c;
    return -1;
}

/* A decimal class number at *p (digits only, < NG_SEAL_LICENSE_MAX_CLASSES); -1 when not. */
static long class_number(const char **p, const char *end, int canonical)
{
    const char *q = *p;
    long v = 0;
    if (q >= end || *q < '0' || *q > '9') return -1;
    if (canonical && q[0] == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9') return -1;   /* no leading zeros */
    while (q < end && *q >= '0' && *q <= '9') {
        v = v * 10 + (*q++ - '0');
        if (v >= NG_SEAL_LICENSE_MAX_CLASSES) return -2;
    }
    *p = q;
    return v;
}

ng_status ng_class_set_parse(const char *list, const char *what, ng_class_set *out)
{
    memset(out, 0, sizeof *out);
    const char *p = list, *end = list ? list + strlen(list) : NULL;
    if (!p || !*p) return ng_fail(NG_E_INVALID, "%s: empty class list (give e.g. 0,1,2 or 0-4)", what);
    for (;;) {
        const char *tok = p;
        long a = class_number(&p, end, 0), b = a;
        if (a >= 0 && *p == '-') { p++; b = class_number(&p, end, 0); }
        if (a == -2 || b == -2)
            return ng_fail(NG_E_INVALID, "%s: class out of range in '%.20s' (classes are 0 to %d)", what, tok,
                           NG_SEAL_LICENSE_MAX_CLASSES - 1);
        if (a < 0 || b < 0 || b < a || (*p != ',' && *p != 0))
            return ng_fail(NG_E_INVALID, "%s: '%.20s' is not a class list (give e.g. 0,1,2 or 0-4)", what, tok);
        for (long c = a; c <= b; c++) out->bits[c / 64] |= (uint64_t)1 << (c % 64);
        if (!*p) break;
        p++;
    }
    out->limited = 1;
    return NG_OK;
}

void ng_class_set_text(const ng_class_set *s, char *buf, size_t cap)
{
    size_t pos = 0;
    buf[0] = 0;
    for (int c = 0; c < NG_SEAL_LICENSE_MAX_CLASSES && s->limited; c++)
        if (s->bits[c / 64] >> (c % 64) & 1) {
            int k = snprintf(buf + pos, cap - pos, "%s%d", pos ? "," : "", c);
            if (k < 0 || (size_t)k >= cap - pos) { buf[pos] = 0; return; }
            pos += (size_t)k;
        }
}

ng_status ng_class_set_mask(const ng_class_set *s, int n, const char *name, uint8_t *mask)
{
    int hi = ng_class_set_max(s);
    if (hi >= n)
        return ng_fail(NG_E_INVALID, "%s: the license grants class %d but the model has %d classes (0 to %d)", name, hi,
                       n, n - 1);
    for (int c = 0; c < n; c++) mask[c] = (uint8_t)ng_class_set_has(s, c);
    return NG_OK;
}

/* The signed part of a license. */
static size_t body(const ng_license *l, char *buf)
{
    size_t pos = (size_t)sprintf(buf, "%s", lic_magic);
    put_hex(buf, &pos, "issuer: ", l->issuer, 32);
    put_hex(buf, &pos, "licensee-sign: ", l->licensee.sign, 32);
    put_hex(buf, &pos, "licensee-box: ", l->licensee.box, 32);
    put_hex(buf, &pos, "model: ", l->model, 32);
    pos += (size_t)sprintf(buf + pos, "expires: %s\n", l->expires);
    if (l->classes.limited) {
        pos += (size_t)sprintf(buf + pos, "classes: ");
        ng_class_set_text(&l->classes, buf + pos, NG_LICENSE_FILE_MAX - 400 - pos);
        pos += strlen(buf + pos);
        buf[pos++] = '\n';
        buf[pos] = 0;
    }
    put_hex(buf, &pos, "key: ", l->wrapped, 80);
    return pos;
}

ng_status ng_license_issue(const ng_identity *issuer, const ng_identity_pub *licensee, const uint8_t model[32],
                           const char *expires, const ng_class_set *classes, const ng_key *key, char **text,
                           size_t *len)
{
    ng_license l;
    *text = NULL;
    memset(&l, 0, sizeof l);
    if (key->len != 32) return ng_fail(NG_E_KEY, "a license carries a 256-bit model key; this key has %zu bits", key->len * 8);
    if ((l.expires_at = ng_license_expiry(expires)) < 0)
        return ng_fail(NG_E_INVALID, "--expires expects a date YYYY-MM-DD (e.g. 2027-12-31), not '%.40s'", expires);
    memcpy(l.issuer, issuer->pub.sign, 32);
    l.licensee = *licensee;
    memcpy(l.model, model, 32);
    snprintf(l.expires, sizeof l.expires, "%s", expires);
    if (classes && classes->limited) {
        if (ng_class_set_max(classes) < 0) return ng_fail(NG_E_INVALID, "--classes: the license grants no class");
        l.classes = *classes;
    }
    if (crypto_box_seal(l.wrapped, key->k, 32, licensee->box) != 0)
        return ng_fail(NG_E_KEY, "the licensee's X25519 public key is not valid");
    char *buf = malloc(NG_LICENSE_FILE_MAX);
    if (!buf) return ng_fail(NG_E_NOMEM, "out of memory");
    size_t pos = body(&l, buf);
    crypto_sign_detached(l.sig, NULL, (const uint8_t *)buf, pos, issuer->sign_sk);
    put_hex(buf, &pos, "signature: ", l.sig, 64);
    *text = buf;
    *len = pos;
    return NG_OK;
}

ng_status ng_license_parse(const void *buf, size_t len, const char *name, ng_license *out)
{
    const char *p = buf, *end = p + len;
    memset(out, 0, sizeof *out);
    if (len > NG_LICENSE_FILE_MAX) return ng_fail(NG_E_FORMAT, "%s: too large for a license file", name);
    if (!magic(&p, end, lic_magic)) return ng_fail(NG_E_FORMAT, "%s: not an nnguard license file", name);
#define LINE(pre, dst, n) \
    if (!hex_line(&p, end, pre, dst, n)) return ng_fail(NG_E_FORMAT, "%s: corrupted license: bad '%s' line", name, pre)
    LINE("issuer: ", out->issuer, 32);
    LINE("licensee-sign: ", out->licensee.sign, 32);
    LINE("licensee-box: ", out->licensee.box, 32);
    LINE("model: ", out->model, 32);
    if ((size_t)(end - p) < 20 || memcmp(p, "expires: ", 9) != 0 || p[19] != '\n')
        return ng_fail(NG_E_FORMAT, "%s: corrupted license: bad 'expires: ' line", name);
    memcpy(out->expires, p + 9, 10);
    if ((out->expires_at = ng_license_expiry(out->expires)) < 0)
        return ng_fail(NG_E_FORMAT, "%s: corrupted license: 'expires:' is not a date YYYY-MM-DD", name);
    p += 20;
    if ((size_t)(end - p) > 9 && memcmp(p, "classes: ", 9) == 0) {   /* canonical: 0,3,7 ascending */
        const char *q = p + 9;
        long prev = -1;
        out->classes.limited = 1;
        for (;;) {
            long c = class_number(&q, end, 1);
            if (c < 0 || c <= prev || q >= end || (*q != ',' && *q != '\n'))
                return ng_fail(NG_E_FORMAT, "%s: corrupted license: bad 'classes: ' line (ascending class numbers "
                               "0 to %d separated by commas)", name, NG_SEAL_LICENSE_MAX_CLASSES - 1);
            out->classes.bits[c / 64] |= (uint64_t)1 << (c % 64);
            prev = c;
            if (*q++ == '\n') break;
        }
        p = q;
    }
    LINE("key: ", out->wrapped, 80);
    LINE("signature: ", out->sig, 64);
#undef LINE
    if (p != end) return ng_fail(NG_E_FORMAT, "%s: corrupted license: unexpected bytes after the signature", name);
    return NG_OK;
}

ng_status ng_license_load(const char *path, ng_license *out)
{
    uint8_t *buf;
    size_t len;
    ng_status st = ng_read_file(path, NG_LICENSE_FILE_MAX, &buf, &len);
    if (st != NG_OK) return st;
    st = ng_license_parse(buf, len, path, out);
    free(buf);
    return st;
}

ng_status ng_license_verify(const ng_license *l, const char *name, const ng_identity_pub *issuer, int64_t now)
{
    char buf[NG_LICENSE_FILE_MAX];
    if (sodium_memcmp(l->issuer, issuer->sign, 32) != 0)
        return ng_fail(NG_E_AUTH, "%s: the license was not issued by this issuer (its 'issuer:' key differs from "
                       "--issuer-pub)", name);
    size_t n = body(l, buf);
    if (crypto_sign_verify_detached(l->sig, (const uint8_t *)buf, n, issuer->sign) != 0)
        return ng_fail(NG_E_AUTH, "%s: the license signature does not verify: the license is forged or was edited", name);
    if (now >= l->expires_at) return ng_fail(NG_E_KEY, "%s: the license expired on %s (end of day, UTC)", name, l->expires);
    return NG_OK;
}

ng_status ng_license_open(const ng_license *l, const char *name, const ng_identity_pub *issuer, const ng_identity *me,
                          const uint8_t model[32], int64_t now, ng_key *key)
{
    memset(key, 0, sizeof *key);
    ng_status st = ng_license_verify(l, name, issuer, now);
    if (st != NG_OK) return st;
    if (sodium_memcmp(l->model, model, 32) != 0) {
        char a[17], b[17];
        sodium_bin2hex(a, sizeof a, l->model, 8);
        sodium_bin2hex(b, sizeof b, model, 8);
        return ng_fail(NG_E_KEY, "%s: the license is for another model (model %s..., this file is %s...)", name, a, b);
    }
    if (sodium_memcmp(l->licensee.sign, me->pub.sign, 32) != 0 || sodium_memcmp(l->licensee.box, me->pub.box, 32) != 0)
        return ng_fail(NG_E_KEY, "%s: the license is issued to another identity, not to this --identity", name);
    if (crypto_box_seal_open(key->k, l->wrapped, 80, me->pub.box, me->box_sk) != 0) {
        ng_key_wipe(key);
        return ng_fail(NG_E_AUTH, "%s: the model key in the license does not open with this identity", name);
    }
    key->len = 32;
    return NG_OK;
}
