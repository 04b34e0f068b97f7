/* protect/keyfile.c - keys: CSPRNG generation, key files (format in nnguard/keys.h),
 * Argon2id passphrase keys, passphrases from a file or a no-echo terminal prompt. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>
#include "nnguard/keys.h"
#include "core/core.h"
#include "protect/keyfile.h"

static const char ng_key_magic[] = "nnguard-key v1\n";
static const char ng_key_check_label[] = "nnguard-key-check-v1";

void ng_key_wipe(ng_key *k) { if (k) sodium_memzero(k, sizeof *k); }

void ng_kdf_params_new(ng_kdf_params *p)
{
    randombytes_buf(p->salt, sizeof p->salt);
    p->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    p->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

ng_status ng_key_generate(int bits, ng_key *out)
{
    memset(out, 0, sizeof *out);
    if (bits != 128 && bits != 256) return ng_fail(NG_E_INVALID, "key size must be 128 or 256 bits, not %d", bits);
    out->len = (size_t)bits / 8;
    randombytes_buf(out->k, out->len);
    return NG_OK;
}

ng_status ng_key_from_passphrase(const char *pass, size_t pass_len, const ng_kdf_params *p, int bits, ng_key *out)
{
    memset(out, 0, sizeof *out);
    if (bits != 128 && bits != 256) return ng_fail(NG_E_INVALID, "key size must be 128 or 256 bits, not %d", bits);
    /* The costs come from files (a model's metadata, a sealed key file): bound them so that a
     * crafted file cannot make us spin for hours or allocate more than libsodium's "sensitive". */
    if (p->opslimit < crypto_pwhash_OPSLIMIT_MIN || p->opslimit > NG_KDF_MAX_OPSLIMIT ||
        p->memlimit < crypto_pwhash_MEMLIMIT_MIN || p->memlimit > NG_KDF_MAX_MEMLIMIT)
        return ng_fail(NG_E_FORMAT, "Argon2id costs out of range (opslimit %" PRIu64 ", memlimit %" PRIu64 ")",
                       p->opslimit, p->memlimit);
    out->len = (size_t)bits / 8;
    if (crypto_pwhash(out->k, out->len, pass, pass_len, p->salt, p->opslimit, (size_t)p->memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        ng_key_wipe(out);
        return ng_fail(NG_E_NOMEM, "Argon2id needs %" PRIu64 " bytes of memory and could not get them", p->memlimit);
    }
    return NG_OK;
}

static void key_check(const ng_key *k, uint8_t check[8])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const uint8_t *)ng_key_check_label, strlen(ng_key_check_label), k->k, k->len);
    memcpy(check, h, 8);
    sodium_memzero(h, sizeof h);   /* only 8 bytes are published; the rest stays unknown */
}

/* Key for sealing a key file with a passphrase. */
static ng_status seal_key(const char *pass, size_t pass_len, const ng_kdf_params *p, uint8_t out[32])
{
    ng_key sk;
    ng_status st = ng_key_from_passphrase(pass, pass_len, p, 256, &sk);
    if (st == NG_OK) memcpy(out, sk.k, 32);
    ng_key_wipe(&sk);
    return st;
}

ng_status ng_key_save(const ng_key *k, const char *path, const char *pass, size_t pass_len)
{
    if (k->len != 16 && k->len != 32) return ng_fail(NG_E_INVALID, "%s: key of %zu bytes; keys are 16 or 32 bytes", path, k->len);
    char text[1024];
    char hex[2 * (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + NG_KEY_MAX_BYTES) + 1];
    int n;
    if (!pass) {
        uint8_t check[8];
        char chex[17];
        key_check(k, check);
        sodium_bin2hex(hex, sizeof hex, k->k, k->len);
        sodium_bin2hex(chex, sizeof chex, check, sizeof check);
        n = snprintf(text, sizeof text, "%sbits: %zu\nkey: %s\ncheck: %s\n", ng_key_magic, k->len * 8, hex, chex);
    } else {
        ng_kdf_params p;
        uint8_t sk[32], box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + NG_KEY_MAX_BYTES];
        char salt[33];
        ng_kdf_params_new(&p);
        ng_status st = seal_key(pass, pass_len, &p, sk);
        if (st != NG_OK) return ng_fail_ctx(st, path);
        randombytes_buf(box, crypto_secretbox_NONCEBYTES);
        crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, k->k, k->len, box, sk);
        sodium_memzero(sk, sizeof sk);
        sodium_bin2hex(salt, sizeof salt, p.salt, sizeof p.salt);
        sodium_bin2hex(hex, sizeof hex, box, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + k->len);
        n = snprintf(text, sizeof text, "%sbits: %zu\nkdf: argon2id %s %" PRIu64 " %" PRIu64 "\nsealed: %s\n",
                     ng_key_magic, k->len * 8, salt, p.opslimit, p.memlimit, hex);
    }
    sodium_memzero(hex, sizeof hex);
    ng_awriter w;
    ng_status st = ng_awrite_open_excl(&w, path, NG_MODE_PRIVATE);
    if (st == NG_OK && (st = ng_awrite(&w, text, (size_t)n)) != NG_OK) ng_awrite_abort(&w);
    else if (st == NG_OK) st = ng_awrite_commit(&w);
    sodium_memzero(text, sizeof text);
    return st;
}

/* Take the next line of buf (without '\n') if it starts with prefix; *rest points after the prefix. */
static int take_line(const char **pos, const char *end, const char *prefix, char *line, size_t cap)
{
    const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
    size_t plen = strlen(prefix);
    if (!nl || (size_t)(nl - *pos) < plen || memcmp(*pos, prefix, plen) != 0) return 0;
    size_t n = (size_t)(nl - *pos) - plen;
    if (n >= cap) return 0;
    memcpy(line, *pos + plen, n);
    line[n] = 0;
    *pos = nl + 1;
    return 1;
}

/* Exactly len bytes of lowercase hex. */
static int hex_exact(const char *hex, uint8_t *out, size_t len)
{
    size_t got = 0;
    if (strlen(hex) != 2 * len) return 0;
    for (const char *c = hex; *c; c++) if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return 0;
    return sodium_hex2bin(out, len, hex, 2 * len, NULL, &got, NULL) == 0 && got == len;
}

ng_status ng_key_parse(const void *buf, size_t len, const char *name, const char *pass, size_t pass_len, ng_key *out)
{
    memset(out, 0, sizeof *out);
    const char *pos = buf, *end = pos + len;
    char line[256];
    ng_status st = NG_OK;
    if (len > NG_KEY_FILE_MAX || len < sizeof ng_key_magic - 1 || memcmp(buf, ng_key_magic, sizeof ng_key_magic - 1) != 0)
        return ng_fail(NG_E_KEY, "%s: not an nnguard key file (make one with nnguard keygen)", name);
    pos += sizeof ng_key_magic - 1;
    if (!take_line(&pos, end, "bits: ", line, sizeof line) || (strcmp(line, "128") && strcmp(line, "256")))
        return ng_fail(NG_E_KEY, "%s: corrupted key file: bad 'bits:' line", name);
    out->len = strcmp(line, "128") == 0 ? 16 : 32;
    if (take_line(&pos, end, "key: ", line, sizeof line)) {
        uint8_t check[8], want[8];
        if (!hex_exact(line, out->k, out->len)) st = ng_fail(NG_E_KEY, "%s: corrupted key file: bad 'key:' line", name);
        else if (!take_line(&pos, end, "check: ", line, sizeof line) || !hex_exact(line, want, 8))
            st = ng_fail(NG_E_KEY, "%s: corrupted key file: bad 'check:' line", name);
        else {
            key_check(out, check);
            if (sodium_memcmp(check, want, 8) != 0)
                st = ng_fail(NG_E_KEY, "%s: corrupted key file: the check value does not match the key", name);
        }
    } else if (take_line(&pos, end, "kdf: argon2id ", line, sizeof line)) {
        ng_kdf_params p;
        char salt[64];
        uint8_t box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + NG_KEY_MAX_BYTES], sk[32];
        size_t boxlen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + out->len;
        char hexline[2 * sizeof box + 1];
        int used = -1;
        if (sscanf(line, "%63s %" SCNu64 " %" SCNu64 "%n", salt, &p.opslimit, &p.memlimit, &used) != 3 ||
            used < 0 || line[used] != 0 || strchr(line, '-') || !hex_exact(salt, p.salt, sizeof p.salt))
            st = ng_fail(NG_E_KEY, "%s: corrupted key file: bad 'kdf:' line", name);
        else if (!take_line(&pos, end, "sealed: ", hexline, sizeof hexline) || !hex_exact(hexline, box, boxlen))
            st = ng_fail(NG_E_KEY, "%s: corrupted key file: bad 'sealed:' line", name);
        else if (!pass)
            st = ng_fail(NG_E_KEY, "%s: the key file is sealed with a passphrase; give it with --passphrase-file", name);
        else if ((st = seal_key(pass, pass_len, &p, sk)) == NG_OK) {
            if (crypto_secretbox_open_easy(out->k, box + crypto_secretbox_NONCEBYTES, boxlen - crypto_secretbox_NONCEBYTES,
                                           box, sk) != 0)
                st = ng_fail(NG_E_KEY, "%s: wrong passphrase for this key file (or the file is corrupted)", name);
        }
        sodium_memzero(sk, sizeof sk);
    } else {
        st = ng_fail(NG_E_KEY, "%s: corrupted key file: expected a 'key:' or 'kdf:' line", name);
    }
    if (st == NG_OK && pos != end) st = ng_fail(NG_E_KEY, "%s: corrupted key file: unexpected bytes after the key", name);
    sodium_memzero(line, sizeof line);
    if (st != NG_OK) ng_key_wipe(out);
    return st;
}

/* A secret file (keyfile.h). */
ng_status ng_secret_file_read(const char *path, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ng_fail(NG_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat s;
    if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) { close(fd); return ng_fail(NG_E_IO, "%s: not a regular file", path); }
    if (s.st_mode & 077) {
        close(fd);
        return ng_fail(NG_E_PERM, "%s: secret file is accessible by group/others (mode %03o); run: chmod 600 %s",
                       path, (unsigned)(s.st_mode & 0777), path);
    }
    if (s.st_size > NG_KEY_FILE_MAX) { close(fd); return ng_fail(NG_E_KEY, "%s: too large for a key or passphrase file", path); }
    uint8_t *buf = sodium_malloc(NG_KEY_FILE_MAX + 1);
    if (!buf) { close(fd); return ng_fail(NG_E_NOMEM, "out of memory"); }
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, NG_KEY_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { close(fd); sodium_free(buf); return ng_fail(NG_E_IO, "%s: read failed: %s", path, strerror(errno)); }
        if (r == 0) break;
        got += (size_t)r;
        if (got > NG_KEY_FILE_MAX) { close(fd); sodium_free(buf); return ng_fail(NG_E_KEY, "%s: too large", path); }
    }
    close(fd);
    *data = buf; *len = got;
    return NG_OK;
}

ng_status ng_key_load(const char *path, const char *pass, size_t pass_len, ng_key *out)
{
    uint8_t *buf; size_t len;
    memset(out, 0, sizeof *out);
    ng_status st = ng_secret_file_read(path, &buf, &len);
    if (st != NG_OK) return st;
    st = ng_key_parse(buf, len, path, pass, pass_len, out);
    sodium_free(buf);   /* wipes */
    return st;
}

ng_status ng_passphrase_read(const char *file, const char *prompt, char **out, size_t *len)
{
    *out = NULL; *len = 0;
    char *p = malloc(NG_KEY_FILE_MAX + 1);
    if (!p) return ng_fail(NG_E_NOMEM, "out of memory");
    size_t n = 0;
    if (file) {
        uint8_t *buf; size_t blen;
        ng_status st = ng_secret_file_read(file, &buf, &blen);
        if (st != NG_OK) { free(p); return st; }
        while (n < blen && buf[n] != '\n') n++;
        memcpy(p, buf, n);
        sodium_free(buf);
        if (n > 0 && p[n - 1] == '\r') n--;
    } else {
        int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (fd < 0) { free(p); return ng_fail(NG_E_INVALID, "no terminal to ask for a passphrase; use --passphrase-file"); }
        struct termios old, quiet;
        int have_tty = tcgetattr(fd, &old) == 0;
        if (have_tty) { quiet = old; quiet.c_lflag &= ~(tcflag_t)ECHO; tcsetattr(fd, TCSAFLUSH, &quiet); }
        if (write(fd, prompt, strlen(prompt)) < 0) { /* the prompt is a courtesy */ }
        char c;
        while (n < NG_KEY_FILE_MAX && read(fd, &c, 1) == 1 && c != '\n') p[n++] = c;
        if (have_tty) tcsetattr(fd, TCSAFLUSH, &old);
        if (write(fd, "\n", 1) < 0) { /* as above */ }
        close(fd);
    }
    p[n] = 0;
    if (n == 0) { sodium_memzero(p, NG_KEY_FILE_MAX + 1); free(p); return ng_fail(NG_E_INVALID, "%s: empty passphrase", file ? file : "terminal"); }
    *out = p; *len = n;
    return NG_OK;
}

void ng_passphrase_free(char *p, size_t len)
{
    if (!p) return;
    sodium_memzero(p, len + 1);
    free(p);
}
