/* serve/clients.c - API clients: the clients file (format in nnguard/serve.h), bearer token
 * lookup in constant time, query quotas and per-client token-bucket rate limits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include "nnguard/serve.h"
#include "core/core.h"

#define CLIENTS_FILE_MAX (1u << 20)

typedef struct client {
    uint8_t  token_hash[32];   /* BLAKE2b-256 of the token: compared in constant time */
    char     name[65];
    int64_t  quota;            /* images, 0 = unlimited */
    double   rps;              /* 0 = unlimited */
    int64_t  used;
    double   tokens, last;     /* token bucket */
} client;

struct ng_clients {
    client *c;
    size_t  n;
    pthread_mutex_t mu;
};

static int token_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           strchr("._~+/=-", ch) != NULL;
}
static int name_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("._-", ch) != NULL;
}

/* Next whitespace-separated field of the line [*p, end); 0 when none. */
static int field(const char **p, const char *end, const char **f, size_t *len)
{
    while (*p < end && (**p == ' ' || **p == '\t')) (*p)++;
    if (*p >= end) return 0;
    *f = *p;
    while (*p < end && **p != ' ' && **p != '\t') (*p)++;
    *len = (size_t)(*p - *f);
    return 1;
}

static int number(const char *f, size_t len, double maxv, double *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, f, len);
    buf[len] = 0;
    for (size_t i = 0; i < len; i++) if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.')) return -1;
    char *end;
    double v = strtod(buf, &end);
    if (*end || !(v >= 0 && v <= maxv)) return -1;
    *out = v;
    return 0;
}

ng_status ng_clients_parse(const char *text, size_t len, const char *name, ng_clients **out)
{
    *out = NULL;
    if (len > CLIENTS_FILE_MAX) return ng_fail(NG_E_FORMAT, "%s: larger than 1 MiB", name);
    ng_clients *cs = calloc(1, sizeof *cs);
    if (!cs) return ng_fail(NG_E_NOMEM, "out of memory");
    pthread_mutex_init(&cs->mu, NULL);
    size_t cap = 0;
    const char *p = text, *end = text + len;
    int line = 0;
    ng_status st = NG_OK;
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end, *q = p;
        p = nl ? nl + 1 : end;
        if (le > q && le[-1] == '\r') le--;
        const char *f[5];
        size_t fl[5];
        int k = 0;
        while (k < 5 && field(&q, le, &f[k], &fl[k])) {
            if (k == 0 && f[0][0] == '#') break;
            k++;
        }
        if (k == 0) continue;
        if (k != 4) { st = ng_fail(NG_E_FORMAT, "%s:%d: expected 4 fields TOKEN NAME QUOTA RPS", name, line); break; }
        if (fl[0] < 16 || fl[0] > 256) { st = ng_fail(NG_E_FORMAT, "%s:%d: a token must be 16 to 256 characters", name, line); break; }
        int ok = 1;
        for (size_t i = 0; i < fl[0]; i++) ok &= token_char(f[0][i]);
        for (size_t i = 0; i < fl[1]; i++) ok &= name_char(f[1][i]);
        if (!ok || fl[1] > 64) { st = ng_fail(NG_E_FORMAT, "%s:%d: a token is [A-Za-z0-9._~+/=-], a name 1..64 of [A-Za-z0-9._-]", name, line); break; }
        double quota, rps;
        if (number(f[2], fl[2], 1e15, &quota) || quota != (double)(int64_t)quota) { st = ng_fail(NG_E_FORMAT, "%s:%d: QUOTA must be a whole number >= 0 (0 = unlimited)", name, line); break; }
        if (number(f[3], fl[3], 1e9, &rps)) { st = ng_fail(NG_E_FORMAT, "%s:%d: RPS must be a number >= 0 (0 = unlimited)", name, line); break; }
        if (cs->n == NG_CLIENTS_MAX) { st = ng_fail(NG_E_FORMAT, "%s: more than %d clients", name, NG_CLIENTS_MAX); break; }
        if (cs->n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            client *nv = ng_reallocarray(cs->c, nc, sizeof *nv);
            if (!nv) { st = NG_E_NOMEM; break; }
            cs->c = nv;
            cap = nc;
        }
        client *c = &cs->c[cs->n];
        memset(c, 0, sizeof *c);
        crypto_generichash(c->token_hash, 32, (const uint8_t *)f[0], fl[0], NULL, 0);
        memcpy(c->name, f[1], fl[1]);
        c->quota = (int64_t)quota;
        c->rps = rps;
        c->tokens = rps < 1 ? 1 : rps;
        c->last = -1;
        for (size_t i = 0; i < cs->n; i++) {
            if (!strcmp(cs->c[i].name, c->name)) { st = ng_fail(NG_E_FORMAT, "%s:%d: client name '%s' used twice", name, line, c->name); break; }
            if (!sodium_memcmp(cs->c[i].token_hash, c->token_hash, 32)) { st = ng_fail(NG_E_FORMAT, "%s:%d: token used twice", name, line); break; }
        }
        if (st != NG_OK) break;
        cs->n++;
    }
    if (st == NG_OK && cs->n == 0) st = ng_fail(NG_E_FORMAT, "%s: no clients (lines TOKEN NAME QUOTA RPS)", name);
    if (st != NG_OK) { ng_clients_free(cs); return st; }
    *out = cs;
    return NG_OK;
}

ng_status ng_clients_load(const char *path, ng_clients **out)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return ng_fail(NG_E_IO, "%s: cannot read the clients file", path);
    if (sb.st_mode & 077)
        return ng_fail(NG_E_PERM, "%s: the clients file holds tokens and is readable or writable by others; chmod 600 it", path);
    uint8_t *d;
    size_t len;
    ng_status st = ng_read_file(path, CLIENTS_FILE_MAX, &d, &len);
    if (st != NG_OK) return st;
    st = ng_clients_parse((const char *)d, len, path, out);
    sodium_memzero(d, len);
    free(d);
    return st;
}

void ng_clients_free(ng_clients *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c->c);
    free(c);
}

size_t ng_clients_count(const ng_clients *c) { return c->n; }
const char *ng_clients_name(const ng_clients *c, size_t i) { return c->c[i].name; }

int ng_clients_find(const ng_clients *c, const char *token, size_t len)
{
    uint8_t h[32];
    crypto_generichash(h, 32, (const uint8_t *)token, len, NULL, 0);
    int found = -1;
    for (size_t i = 0; i < c->n; i++)   /* no early exit: the time does not depend on which client */
        if (sodium_memcmp(h, c->c[i].token_hash, 32) == 0) found = (int)i;
    return found;
}

int ng_clients_admit(ng_clients *cs, int i, int64_t images, double now, double *retry_s)
{
    client *c = &cs->c[i];
    int r = 0;
    pthread_mutex_lock(&cs->mu);
    if (c->rps > 0) {
        if (c->last >= 0) {
            c->tokens += (now - c->last) * c->rps;
            double cap_tokens = c->rps < 1 ? 1 : c->rps;   /* a bucket holds one second, at least one request */
            if (c->tokens > cap_tokens) c->tokens = cap_tokens;
        }
        c->last = now;
        if (c->tokens < 1) { r = 2; *retry_s = (1 - c->tokens) / c->rps; }
    }
    if (!r && c->quota > 0 && c->used + images > c->quota) r = 1;
    if (!r) {
        if (c->rps > 0) c->tokens -= 1;
        c->used += images;
    }
    pthread_mutex_unlock(&cs->mu);
    return r;
}

int64_t ng_clients_used(const ng_clients *cs, int i)
{
    pthread_mutex_lock((pthread_mutex_t *)&cs->mu);
    int64_t u = cs->c[i].used;
    pthread_mutex_unlock((pthread_mutex_t *)&cs->mu);
    return u;
}
