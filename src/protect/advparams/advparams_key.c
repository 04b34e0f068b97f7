/* protect/advparams_key.c - AdvParams key: in-memory form, accessors, and the key file
 * (layout in nnguard/advparams.h): plain or sealed with a passphrase (Argon2id13 +
 * XChaCha20-Poly1305-IETF), SHA-256 trailer against corruption, written exclusively 0600,
 * refused when others may read it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "nnguard/advparams.h"
#include "nnguard/keys.h"
#include "core/core.h"
#include "protect/advparams/advparams_impl.h"

#define ADV_MAGIC "NGADVKEY"
#define ADV_VERSION 2u   /* version 1 (no form field: paper form) is still read */
#define ADV_FLAG_SEALED 1u
#define ADV_HDR 24u
#define ADV_SUM 32u
#define ADV_BODY_MAX ((size_t)64 << 20)
#define ADV_SEAL_HDR (16u + 16u + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define ADV_OPS_MAX ((unsigned long long)NG_KDF_MAX_OPSLIMIT)   /* the same caps as Deep-Lock key files */
#define ADV_MEM_MAX ((unsigned long long)NG_KDF_MAX_MEMLIMIT)

/* ---- in-memory key ---- */

ng_adv_key *ng_adv_key_new(void)
{
    ng_adv_key *k = ng_calloc(1, sizeof *k);
    if (k && !(k->pattern = ng_strdup(""))) { free(k); k = NULL; }
    return k;
}

ng_status ng_adv_key_push(ng_adv_key *k, const char *name, uint64_t index, uint32_t orig, uint32_t pert)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 32;
        ng_adv_pos *p = ng_reallocarray(NULL, cap, sizeof *p);
        if (!p) return NG_E_NOMEM;
        if (k->n) memcpy(p, k->pos, k->n * sizeof *p);
        if (k->pos) sodium_memzero(k->pos, k->cap * sizeof *k->pos);
        free(k->pos);
        k->pos = p; k->cap = cap;
    }
    char *nm = ng_strdup(name);
    if (!nm) return NG_E_NOMEM;
    k->pos[k->n++] = (ng_adv_pos){nm, index, orig, pert};
    return NG_OK;
}

void ng_adv_key_free(ng_adv_key *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) {
        sodium_memzero(k->pos[i].name, strlen(k->pos[i].name));
        free(k->pos[i].name);
    }
    if (k->pos) sodium_memzero(k->pos, k->cap * sizeof *k->pos);
    free(k->pos);
    free(k->pattern);
    sodium_memzero(k, sizeof *k);
    free(k);
}

size_t ng_adv_key_count(const ng_adv_key *k) { return k->n; }
void ng_adv_key_entry(const ng_adv_key *k, size_t i, ng_adv_entry *out)
{
    *out = (ng_adv_entry){k->pos[i].name, k->pos[i].index, k->pos[i].orig, k->pos[i].pert};
}
void ng_adv_key_id_after(const ng_adv_key *k, uint8_t id[32]) { memcpy(id, k->id_after, 32); }
void ng_adv_key_id_before(const ng_adv_key *k, uint8_t id[32]) { memcpy(id, k->id_before, 32); }
ng_adv_rule ng_adv_key_rule(const ng_adv_key *k) { return (ng_adv_rule)k->rule; }
int ng_adv_key_hardened(const ng_adv_key *k) { return k->form == 1; }
const char *ng_adv_rule_name(ng_adv_rule r) { return r == NG_ADV_RULE_GAIN ? "gain" : "grad"; }
int ng_adv_rule_parse(const char *s)
{
    if (!strcmp(s, "grad")) return NG_ADV_RULE_GRAD;
    if (!strcmp(s, "gain")) return NG_ADV_RULE_GAIN;
    return -1;
}

void ng_adv_key_info(const ng_adv_key *k, uint64_t *seed, int *budget, int64_t *set_size,
                     double *target_acc, double *acc_before, double *acc_after, const char **pattern)
{
    if (seed) *seed = k->seed;
    if (budget) *budget = (int)k->budget;
    if (set_size) *set_size = k->set_size;
    if (target_acc) *target_acc = k->target_acc;
    if (acc_before) *acc_before = k->acc_before;
    if (acc_after) *acc_after = k->acc_after;
    if (pattern) *pattern = k->pattern;
}

/* ---- payload ---- */

typedef struct wbuf { uint8_t *p; size_t n; } wbuf;   /* writer over a buffer sized in advance */
static void put(wbuf *b, const void *s, size_t n) { memcpy(b->p + b->n, s, n); b->n += n; }
static void put32(wbuf *b, uint32_t v) { ng_put_le32(b->p + b->n, v); b->n += 4; }
static void put64(wbuf *b, uint64_t v) { ng_put_le64(b->p + b->n, v); b->n += 8; }
static void putf64(wbuf *b, double d) { uint64_t u; memcpy(&u, &d, 8); put64(b, u); }

static size_t payload_size(const ng_adv_key *k)
{
    size_t n = 64 + 8 + 4 + 4 + 4 + 4 + 8 * 3 + 4 + strlen(k->pattern) + 4;
    for (size_t i = 0; i < k->n; i++) n += 4 + strlen(k->pos[i].name) + 8 + 4 + 4;
    return n;
}

static void payload_write(const ng_adv_key *k, wbuf *b)
{
    put(b, k->id_after, 32); put(b, k->id_before, 32);
    put64(b, k->seed); put32(b, k->budget); put32(b, k->set_size); put32(b, k->rule); put32(b, k->form);
    putf64(b, k->target_acc); putf64(b, k->acc_before); putf64(b, k->acc_after);
    put32(b, (uint32_t)strlen(k->pattern)); put(b, k->pattern, strlen(k->pattern));
    put32(b, (uint32_t)k->n);
    for (size_t i = 0; i < k->n; i++) {
        size_t l = strlen(k->pos[i].name);
        put32(b, (uint32_t)l); put(b, k->pos[i].name, l);
        put64(b, k->pos[i].index); put32(b, k->pos[i].orig); put32(b, k->pos[i].pert);
    }
}

typedef struct rbuf { const uint8_t *p; size_t n, at; int bad; } rbuf;  /* bounds-checked reader */
static const uint8_t *take(rbuf *r, size_t n)
{
    if (r->bad || n > r->n - r->at) { r->bad = 1; return NULL; }
    const uint8_t *s = r->p + r->at;
    r->at += n;
    return s;
}
static uint32_t get32(rbuf *r) { const uint8_t *s = take(r, 4); return s ? ng_le32(s) : 0; }
static uint64_t get64(rbuf *r) { const uint8_t *s = take(r, 8); return s ? ng_le64(s) : 0; }
static double getf64(rbuf *r) { uint64_t u = get64(r); double d; memcpy(&d, &u, 8); return d; }

/* Copy n bytes as a NUL-terminated string with no NUL inside. */
static char *take_str(rbuf *r, size_t n)
{
    const uint8_t *s = take(r, n);
    if (!s || memchr(s, 0, n)) { r->bad = 1; return NULL; }
    char *c = malloc(n + 1);
    if (!c) { r->bad = 1; return NULL; }
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

static ng_status payload_read(const uint8_t *p, size_t n, uint32_t ver, const char *name, ng_adv_key **out)
{
    rbuf r = {p, n, 0, 0};
    ng_adv_key *k = ng_adv_key_new();
    if (!k) return NG_E_NOMEM;
    const uint8_t *ids = take(&r, 64);
    if (ids) { memcpy(k->id_after, ids, 32); memcpy(k->id_before, ids + 32, 32); }
    k->seed = get64(&r); k->budget = get32(&r); k->set_size = get32(&r); k->rule = get32(&r);
    k->form = ver >= 2 ? get32(&r) : 0;
    k->target_acc = getf64(&r); k->acc_before = getf64(&r); k->acc_after = getf64(&r);
    uint32_t pl = get32(&r);
    ng_status st = NG_OK;
    if (!r.bad && k->rule > NG_ADV_RULE_GAIN) st = ng_fail(NG_E_FORMAT, "%s: unknown selection rule %u", name, k->rule);
    if (st == NG_OK && !r.bad && k->form > 1) st = ng_fail(NG_E_FORMAT, "%s: unknown encryption form %u", name, k->form);
    if (st == NG_OK && !r.bad && pl > NG_ADV_PATTERN_MAX) st = ng_fail(NG_E_FORMAT, "%s: tensor pattern of %u bytes (limit %d)", name, pl, NG_ADV_PATTERN_MAX);
    char *pat = st == NG_OK ? take_str(&r, pl) : NULL;
    if (pat) { free(k->pattern); k->pattern = pat; }
    uint32_t ne = get32(&r);
    if (st == NG_OK && !r.bad && (ne < 1 || ne > NG_ADV_MAX_BUDGET || ne > (r.n - r.at) / 21))
        st = ng_fail(NG_E_FORMAT, "%s: %u key entries do not fit (1..%d, and the bytes left)", name, ne, NG_ADV_MAX_BUDGET);
    for (uint32_t i = 0; st == NG_OK && !r.bad && i < ne; i++) {
        uint32_t l = get32(&r);
        if (l < 1 || l > NG_ADV_NAME_MAX) { r.bad = 1; break; }
        char *nm = take_str(&r, l);
        uint64_t idx = get64(&r);
        uint32_t o = get32(&r), q = get32(&r);
        if (r.bad) { free(nm); break; }
        st = ng_adv_key_push(k, nm, idx, o, q);
        sodium_memzero(nm, l);
        free(nm);
    }
    if (st == NG_OK && r.bad) st = ng_fail(NG_E_FORMAT, "%s: key payload is truncated or malformed", name);
    if (st == NG_OK && r.at != r.n) st = ng_fail(NG_E_FORMAT, "%s: %zu stray bytes after the key entries", name, r.n - r.at);
    if (st != NG_OK) { ng_adv_key_free(k); return st; }
    *out = k;
    return NG_OK;
}

/* ---- sealing ---- */

/* Sealing key from the passphrase: Argon2id through the shared passphrase-key helper (keys.h). */
static ng_status derive(uint8_t key[32], const char *pass, size_t passlen, const ng_kdf_params *p)
{
    ng_key k;
    ng_status st = ng_key_from_passphrase(pass, passlen, p, 256, &k);
    if (st == NG_OK) memcpy(key, k.k, 32);
    ng_key_wipe(&k);
    return st;
}

ng_status ng_adv_key_encode(const ng_adv_key *k, const char *passphrase, size_t passlen,
                            uint8_t **buf, size_t *len)
{
    *buf = NULL; *len = 0;
    if (k->n == 0) return ng_fail(NG_E_INVALID, "advparams: refusing to write a key with no positions");
    size_t pn = payload_size(k);
    size_t body = passphrase ? ADV_SEAL_HDR + pn + crypto_aead_xchacha20poly1305_ietf_ABYTES : pn;
    if (body > ADV_BODY_MAX) return ng_fail(NG_E_INVALID, "advparams: key of %zu bytes exceeds the %zu-byte limit", body, ADV_BODY_MAX);
    size_t total = ADV_HDR + body + ADV_SUM;
    uint8_t *out = ng_calloc(total, 1), *plain = passphrase ? ng_calloc(pn, 1) : NULL;
    if (!out || (passphrase && !plain)) { free(out); free(plain); return NG_E_NOMEM; }
    wbuf b = {out, 0};
    put(&b, ADV_MAGIC, 8); put32(&b, ADV_VERSION); put32(&b, passphrase ? ADV_FLAG_SEALED : 0); put64(&b, body);
    if (!passphrase) {
        payload_write(k, &b);
    } else {
        wbuf pb = {plain, 0};
        payload_write(k, &pb);
        uint8_t key[32];
        ng_kdf_params kp;
        ng_kdf_params_new(&kp);   /* fresh salt, libsodium "interactive" costs */
        put(&b, kp.salt, sizeof kp.salt); put64(&b, kp.opslimit); put64(&b, kp.memlimit);
        randombytes_buf(out + b.n, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
        const uint8_t *nonce = out + b.n;
        b.n += crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
        ng_status st = derive(key, passphrase, passlen, &kp);
        if (st != NG_OK) { sodium_memzero(plain, pn); free(plain); free(out); return st; }
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(out + b.n, &clen, plain, pn, out, b.n, NULL, nonce, key);
        b.n += (size_t)clen;
        sodium_memzero(key, sizeof key);
        sodium_memzero(plain, pn);
        free(plain);
    }
    crypto_hash_sha256(out + b.n, out, b.n);
    b.n += ADV_SUM;
    *buf = out; *len = b.n;
    return NG_OK;
}

ng_status ng_adv_key_decode(const uint8_t *buf, size_t len, const char *name, const char *passphrase,
                            size_t passlen, ng_adv_key **out)
{
    *out = NULL;
    if (len < ADV_HDR + ADV_SUM || memcmp(buf, ADV_MAGIC, 8) != 0)
        return ng_fail(NG_E_KEY, "%s: not an AdvParams key file (no NGADVKEY header)", name);
    uint32_t ver = ng_le32(buf + 8), flags = ng_le32(buf + 12);
    uint64_t body = ng_le64(buf + 16);
    if (ver < 1 || ver > ADV_VERSION)
        return ng_fail(NG_E_UNSUPPORTED, "%s: key file version %u (this nnguard reads 1..%u)", name, ver, ADV_VERSION);
    if (flags & ~ADV_FLAG_SEALED) return ng_fail(NG_E_FORMAT, "%s: unknown key file flags 0x%x", name, flags);
    if (body > ADV_BODY_MAX || body != len - ADV_HDR - ADV_SUM)
        return ng_fail(NG_E_KEY, "%s: key file is %zu bytes but says its body is %llu: truncated or corrupted",
                       name, len, (unsigned long long)body);
    uint8_t sum[32];
    crypto_hash_sha256(sum, buf, len - ADV_SUM);
    if (sodium_memcmp(sum, buf + len - ADV_SUM, 32) != 0)
        return ng_fail(NG_E_KEY, "%s: key file checksum does not match: the file is corrupted", name);
    const uint8_t *b = buf + ADV_HDR;
    if (!(flags & ADV_FLAG_SEALED)) return payload_read(b, (size_t)body, ver, name, out);

    if (!passphrase) return ng_fail(NG_E_KEY, "%s: key file is sealed; give its passphrase (--passphrase-file)", name);
    if (body < ADV_SEAL_HDR + crypto_aead_xchacha20poly1305_ietf_ABYTES)
        return ng_fail(NG_E_FORMAT, "%s: sealed key body too short", name);
    ng_kdf_params kp;
    memcpy(kp.salt, b, sizeof kp.salt);
    kp.opslimit = ng_le64(b + sizeof kp.salt);
    kp.memlimit = ng_le64(b + sizeof kp.salt + 8);
    const uint8_t *nonce = b + sizeof kp.salt + 16;
    if (kp.opslimit < crypto_pwhash_OPSLIMIT_MIN || kp.opslimit > ADV_OPS_MAX ||
        kp.memlimit < crypto_pwhash_MEMLIMIT_MIN || kp.memlimit > ADV_MEM_MAX)
        return ng_fail(NG_E_FORMAT, "%s: Argon2id cost (ops %llu, memory %llu) outside the accepted limits", name,
                       (unsigned long long)kp.opslimit, (unsigned long long)kp.memlimit);
    size_t ad = ADV_HDR + ADV_SEAL_HDR, clen = (size_t)body - ADV_SEAL_HDR;
    size_t pn = clen - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    uint8_t key[32], *plain = ng_calloc(pn ? pn : 1, 1);
    if (!plain) return NG_E_NOMEM;
    ng_status st = derive(key, passphrase, passlen, &kp);
    if (st == NG_OK && crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, buf + ad, clen, buf, ad, nonce, key) != 0)
        st = ng_fail(NG_E_KEY, "%s: wrong passphrase (or the sealed key was altered)", name);
    sodium_memzero(key, sizeof key);
    if (st == NG_OK) st = payload_read(plain, pn, ver, name, out);
    sodium_memzero(plain, pn);
    free(plain);
    return st;
}

/* ---- files ---- */

ng_status ng_adv_key_save(const ng_adv_key *k, const char *path, const char *passphrase, size_t passlen)
{
    uint8_t *buf;
    size_t len;
    ng_status st = ng_adv_key_encode(k, passphrase, passlen, &buf, &len);
    if (st != NG_OK) return ng_fail_ctx(st, path);
    ng_awriter w;
    if ((st = ng_awrite_open_excl(&w, path, NG_MODE_PRIVATE)) == NG_OK) {
        if ((st = ng_awrite(&w, buf, len)) != NG_OK) ng_awrite_abort(&w);
        else st = ng_awrite_commit(&w);
    }
    sodium_memzero(buf, len);
    free(buf);
    return st;
}

/* Read a secret file: regular, not readable/writable by group or others. */
static ng_status read_secret(const char *path, uint8_t **buf, size_t *len)
{
    *buf = NULL; *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ng_fail(NG_E_IO, "%s: cannot open key file: %s", path, strerror(errno));
    struct stat s;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) { close(fd); return ng_fail(NG_E_IO, "%s: not a regular file", path); }
    if (s.st_mode & 077) {
        close(fd);
        return ng_fail(NG_E_PERM, "%s: key file is accessible by group/others (mode %03o); run chmod 600 on it",
                       path, (unsigned)(s.st_mode & 0777));
    }
    if ((uint64_t)s.st_size > ADV_HDR + ADV_BODY_MAX + ADV_SUM) {
        close(fd);
        return ng_fail(NG_E_KEY, "%s: %lld bytes is too large for an AdvParams key", path, (long long)s.st_size);
    }
    size_t n = (size_t)s.st_size, got = 0;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) { close(fd); return ng_fail(NG_E_NOMEM, "%s: cannot allocate %zu bytes", path, n); }
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { sodium_memzero(b, got); free(b); close(fd); return ng_fail(NG_E_IO, "%s: read failed", path); }
        got += (size_t)r;
    }
    close(fd);
    *buf = b; *len = n;
    return NG_OK;
}

ng_status ng_adv_key_load(const char *path, const char *passphrase, size_t passlen, ng_adv_key **out)
{
    uint8_t *buf;
    size_t len;
    ng_status st = read_secret(path, &buf, &len);
    if (st != NG_OK) return st;
    st = ng_adv_key_decode(buf, len, path, passphrase, passlen, out);
    sodium_memzero(buf, len);
    free(buf);
    return st;
}

int ng_adv_key_file_sealed(const char *path)
{
    uint8_t h[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, h, sizeof h);
    close(fd);
    if (r != (ssize_t)sizeof h || memcmp(h, ADV_MAGIC, 8) != 0) return -1;
    return (ng_le32(h + 12) & ADV_FLAG_SEALED) ? 1 : 0;
}
