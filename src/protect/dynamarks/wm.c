/* protect/dynamarks/wm.c - the DynaMarks API watermark: key derivation, secret rankings,
 * soft reshaping and DAWN-style label flips (derivations in nnguard/dynamarks.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "nnguard/dynamarks.h"
#include "core/core.h"
#include "nh.h"

/* subkey ids (nnguard/dynamarks.h); 2-6 were the strength, selection, label, GMAC and digest
 * keys of the first definition (one keyed BLAKE2b per draw over a GMAC-based digest) */
enum { SUB_RANK = 1, SUB_NH = 7, SUB_FIN = 8 };
static const char wm_ctx[crypto_kdf_CONTEXTBYTES] = {'n', 'g', 'd', 'y', 'n', 'm', 'k', '1'};
static const uint8_t nh_nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {'n', 'g', 'd', 'y', 'n', 'm', 'k', '-', 'n', 'h', '0', '1'};

struct ng_wm {
    ng_wm_options o;
    int     classes;
    ng_nh_fn nh;
    uint32_t k_nh[NG_NH_KEY_WORDS];   /* the NH key: ChaCha20 keystream under K_nh */
    /* BLAKE2b keyed with K_fin, 64-byte output, the key block already absorbed: each answer
     * copies it instead of compressing the key block again */
    crypto_generichash_state s_fin;
    int     order[NG_WM_MAX_CLASSES][NG_WM_MAX_CLASSES];  /* per predicted class: other classes, favoured first */
    int     pos[NG_WM_MAX_CLASSES][NG_WM_MAX_CLASSES];    /* per predicted class: ranking position of class j */
};

ng_wm_options ng_wm_options_default(void)
{
    ng_wm_options o = { .mode = NG_WM_SOFT, .a_min = 0.3, .a_max = 0.6, .rate = 0.005 };
    return o;
}

int ng_wm_mode_parse(const char *s)
{
    if (!strcmp(s, "soft")) return NG_WM_SOFT;
    if (!strcmp(s, "label")) return NG_WM_LABEL;
    return -1;
}

const char *ng_wm_mode_name(ng_wm_mode m) { return m == NG_WM_LABEL ? "label" : "soft"; }

static int parse_unit(const char *s, const char **end, double *v)
{
    char *e;
    if (!((*s >= '0' && *s <= '9') || *s == '.')) return -1;
    *v = strtod(s, &e);
    if (e == s || !(*v >= 0 && *v < 1)) return -1;
    *end = e;
    return 0;
}

int ng_wm_parse_strength(const char *s, double *a_min, double *a_max)
{
    const char *e;
    double a, b;
    if (parse_unit(s, &e, &a)) return -1;
    if (!*e) { *a_min = a / 2; *a_max = a; return 0; }
    if (*e != ',' || parse_unit(e + 1, &e, &b) || *e || b < a) return -1;
    *a_min = a;
    *a_max = b;
    return 0;
}

/* The watermark's PRF: the first 8 bytes of BLAKE2b(key = K, msg), little-endian, from a state
 * keyed once (prf_init) and copied for each message. */
static void prf_init(crypto_generichash_state *st, const uint8_t k[32]) { crypto_generichash_init(st, k, 32, 8); }
static uint64_t prf_st(const crypto_generichash_state *st0, const uint8_t *msg, size_t len)
{
    crypto_generichash_state st = *st0;
    uint8_t h[8];
    crypto_generichash_update(&st, msg, len);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_memzero(&st, sizeof st);
    return ng_le64(h);
}

static double unit(uint64_t u) { return (double)(u >> 11) * 0x1.0p-53; }

typedef struct { uint64_t s; int j; } scored;
static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    return x->j - y->j;
}

ng_status ng_wm_new(const ng_key *key, int classes, const ng_wm_options *o, ng_wm **out)
{
    *out = NULL;
    ng_wm_options def = ng_wm_options_default();
    if (!o) o = &def;
    if (!key || key->len != 32)
        return ng_fail(NG_E_KEY, "the watermark secret must be a 256-bit key (nnguard keygen writes one)");
    if (classes < 3 || classes > NG_WM_MAX_CLASSES)
        return ng_fail(NG_E_UNSUPPORTED, "watermark: the model has %d classes; DynaMarks supports 3..%d",
                       classes, NG_WM_MAX_CLASSES);
    if (!(o->a_min >= 0 && o->a_min <= o->a_max && o->a_max < 1))
        return ng_fail(NG_E_INVALID, "watermark strength range [%g, %g] must satisfy 0 <= min <= max < 1",
                       o->a_min, o->a_max);
    if (!(o->rate >= 0 && o->rate <= 1))
        return ng_fail(NG_E_INVALID, "watermark rate %g must be in [0, 1]", o->rate);
    ng_wm *w = sodium_malloc(sizeof *w);
    if (!w) return ng_fail(NG_E_NOMEM, "out of memory for the watermark state");
    memset(w, 0, sizeof *w);
    w->o = *o;
    w->classes = classes;
    w->nh = ng_nh_best();
    uint8_t sub[32];   /* each subkey lives only in what it keys */
    crypto_generichash_state s_rank;
    crypto_kdf_derive_from_key(sub, 32, SUB_RANK, wm_ctx, key->k);
    prf_init(&s_rank, sub);
    crypto_kdf_derive_from_key(sub, 32, SUB_NH, wm_ctx, key->k);
    uint8_t kb[sizeof w->k_nh];
    crypto_stream_chacha20_ietf(kb, sizeof kb, nh_nonce, sub);
    for (size_t i = 0; i < NG_NH_KEY_WORDS; i++) w->k_nh[i] = ng_le32(kb + 4 * i);
    sodium_memzero(kb, sizeof kb);
    crypto_kdf_derive_from_key(sub, 32, SUB_FIN, wm_ctx, key->k);
    crypto_generichash_init(&w->s_fin, sub, 32, NG_WM_HASH_BYTES);
    sodium_memzero(sub, sizeof sub);
    for (int c = 0; c < classes; c++) {
        scored s[NG_WM_MAX_CLASSES] = {{0, 0}};
        int m = 0;
        for (int j = 0; j < classes; j++) {
            if (j == c) continue;
            uint8_t msg[8];
            ng_put_le32(msg, (uint32_t)c);
            ng_put_le32(msg + 4, (uint32_t)j);
            s[m].s = prf_st(&s_rank, msg, sizeof msg);
            s[m].j = j;
            m++;
        }
        qsort(s, (size_t)m, sizeof *s, cmp_scored);
        for (int r = 0; r < m; r++) { w->order[c][r] = s[r].j; w->pos[c][s[r].j] = r; }
        w->pos[c][c] = -1;
        sodium_memzero(s, sizeof s);
    }
    sodium_memzero(&s_rank, sizeof s_rank);
    *out = w;
    return NG_OK;
}

void ng_wm_free(ng_wm *w) { if (w) sodium_free(w); /* sodium_free wipes */ }
int ng_wm_classes(const ng_wm *w) { return w->classes; }
double ng_wm_owner_scale(const ng_wm *w) { return 1.0 - 0.5 * (w->o.a_min + w->o.a_max); }
ng_wm_mode ng_wm_mode_of(const ng_wm *w) { return w->o.mode; }

/* h(x) (nnguard/dynamarks.h): NH of each NG_NH_CHUNK-word chunk of the input's float32 bit
 * patterns, the 4 x 64-bit values of every chunk and LE64(n) into BLAKE2b-512 keyed with K_fin. */
static void wm_hash(const ng_wm *w, const float *x, size_t n, uint8_t out[NG_WM_HASH_BYTES])
{
    crypto_generichash_state st = w->s_fin;
    uint8_t blk[4 * 8 * NG_NH_ITER + 8];   /* the NH values of up to 4 chunks, then the length */
    uint64_t v[NG_NH_ITER];
    size_t used = 0;
    for (size_t off = 0; off < n; off += NG_NH_CHUNK) {
        w->nh(w->k_nh, x + off, n - off < NG_NH_CHUNK ? n - off : NG_NH_CHUNK, v);
        for (int j = 0; j < NG_NH_ITER; j++) ng_put_le64(blk + used + 8 * j, v[j]);
        used += 8 * NG_NH_ITER;
        if (used == sizeof blk - 8) { crypto_generichash_update(&st, blk, used); used = 0; }
    }
    ng_put_le64(blk + used, (uint64_t)n);
    crypto_generichash_update(&st, blk, used + 8);
    crypto_generichash_final(&st, out, NG_WM_HASH_BYTES);
    sodium_memzero(&st, sizeof st);
    sodium_memzero(blk, sizeof blk);   /* NH values: never outside the keyed BLAKE2b */
    sodium_memzero(v, sizeof v);
}

void ng_wm_hash(const ng_wm *w, const float *x, size_t n, uint8_t out[NG_WM_HASH_BYTES]) { wm_hash(w, x, n, out); }

void ng_wm_hash_batch(const ng_wm *w, const float *x, size_t count, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < count; i++) wm_hash(w, x + i * n, n, out + i * NG_WM_HASH_BYTES);
}

void ng_wm_ranking(const ng_wm *w, int c, int *order)
{
    memcpy(order, w->order[c], (size_t)(w->classes - 1) * sizeof *order);
}

static int argmax_f(const float *p, int n)
{
    int b = 0;
    for (int j = 1; j < n; j++) if (p[j] > p[b]) b = j;
    return b;
}

static void apply_soft(const ng_wm *w, const uint8_t *hx, float *p, int t, ng_wm_answer *a)
{
    int C = w->classes, m = C - 1;
    double alpha = w->o.a_min + (w->o.a_max - w->o.a_min) * unit(ng_le64(hx + NG_WM_DRAW_STR));
    double pt = p[t], R = 0;
    for (int j = 0; j < C; j++) if (j != t) R += p[j];
    if (!(R > 0) || !(pt > 0) || !isfinite(pt)) return;
    /* bound the strength so that every other class stays below the top one */
    for (int j = 0; j < C; j++) {
        if (j == t) continue;
        double q = 2.0 * (m - w->pos[t][j]) / ((double)m * (m + 1)), target = R * q;
        if (target > p[j]) {
            double lim = 0.999 * (pt - p[j]) / (target - p[j]);
            if (lim < alpha) alpha = lim;
        }
    }
    if (!(alpha > 0)) return;
    float np[NG_WM_MAX_CLASSES];
    np[t] = p[t];
    for (int j = 0; j < C; j++) {
        if (j == t) continue;
        double q = 2.0 * (m - w->pos[t][j]) / ((double)m * (m + 1));
        np[j] = (float)((1 - alpha) * p[j] + alpha * R * q);
        if (!(np[j] < np[t])) return;   /* float rounding reached the top: answer unchanged */
    }
    memcpy(p, np, (size_t)C * sizeof *p);
    a->marked = 1;
    a->strength = alpha;
}

ng_status ng_wm_apply(const ng_wm *w, const float *x, size_t dim, float *probs, ng_wm_answer *a)
{
    uint8_t hx[NG_WM_HASH_BYTES];
    wm_hash(w, x, dim, hx);
    ng_wm_apply_hash(w, hx, probs, a);
    sodium_memzero(hx, sizeof hx);
    return NG_OK;
}

void ng_wm_apply_hash(const ng_wm *w, const uint8_t hx[NG_WM_HASH_BYTES], float *probs, ng_wm_answer *a)
{
    int C = w->classes;
    memset(a, 0, sizeof *a);
    memcpy(a->digest, hx, 32);
    int t = argmax_f(probs, C);
    a->label_true = a->label = t;
    if (w->o.mode == NG_WM_SOFT) {
        apply_soft(w, hx, probs, t, a);
        return;
    }
    if (unit(ng_le64(hx + NG_WM_DRAW_SEL)) < w->o.rate) {
        a->label = (int)((t + 1 + ng_le64(hx + NG_WM_DRAW_LAB) % (uint64_t)(C - 1)) % (uint64_t)C);
        a->marked = 1;
    }
    for (int j = 0; j < C; j++) probs[j] = j == a->label ? 1.0f : 0.0f;
}

void ng_softmax_rows(const float *logits, float *probs, int64_t n, int c)
{
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * c;
        float *p = probs + i * c, mx = z[0];
        for (int k = 1; k < c; k++) if (z[k] > mx) mx = z[k];
        double sum = 0;
        for (int k = 0; k < c; k++) { p[k] = expf(z[k] - mx); sum += p[k]; }
        for (int k = 0; k < c; k++) p[k] = (float)(p[k] / sum);
    }
}

ng_status ng_model_predict_proba(ng_model *m, const float *x, int64_t n, int threads, float *probs)
{
    ng_status st = ng_model_predict(m, x, n, 256, threads, probs);
    if (st == NG_OK) ng_softmax_rows(probs, probs, n, ng_model_num_classes(m));
    return st;
}
