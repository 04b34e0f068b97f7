/* protect/securenet/stamp.c - key-derived stamps (the derivation is documented in securenet.h):
 * a BLAKE2b subkey of the license key drives an XChaCha20 keystream whose first 4 bytes place the
 * patch and whose following C*H*W bytes are the pattern values. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "protect/securenet/securenet_impl.h"

static const char ng_stamp_label[] = "nnguard-securenet-stamp-v1";
static const char ng_id_label[] = "nnguard-securenet-id-v1";


ng_stamp_options ng_stamp_options_default(void)
{
    ng_stamp_options o = { NG_STAMP_PATCH, 4, 0.1f };
    return o;
}

ng_status ng_stamper_new_raw(const uint8_t key[NG_LICENSE_KEY_BYTES], const ng_stamp_options *o, int c, int h,
                             int w, ng_stamper **out)
{
    *out = NULL;
    if (c < 1 || h < 1 || w < 1 || c > 4096 || h > 65536 || w > 65536)
        return ng_fail(NG_E_SHAPE, "stamp: input shape %dx%dx%d is not an image", c, h, w);
    if (o->mode == NG_STAMP_PATCH && (o->patch < 1 || o->patch > NG_LICENSE_MAX_PATCH || o->patch > h || o->patch > w))
        return ng_fail(NG_E_INVALID, "stamp: a %dx%d patch does not fit the %dx%d images (1..min(H, W, %d))",
                       o->patch, o->patch, h, w, NG_LICENSE_MAX_PATCH);
    if (o->mode == NG_STAMP_BLEND && !(o->alpha > 0 && o->alpha <= 1))
        return ng_fail(NG_E_INVALID, "stamp: blend weight %g is outside (0, 1]", (double)o->alpha);
    if (o->mode != NG_STAMP_PATCH && o->mode != NG_STAMP_BLEND)
        return ng_fail(NG_E_INVALID, "stamp: unknown stamping mode %d", (int)o->mode);
    const size_t img = (size_t)c * (size_t)h * (size_t)w;
    const size_t np = o->mode == NG_STAMP_PATCH ? (size_t)c * (size_t)o->patch * (size_t)o->patch : img;
    ng_stamper *s = ng_calloc(1, sizeof *s);
    uint8_t *b = malloc(4 + np);
    if (!s || !b || !(s->pattern = ng_calloc(np, sizeof(float)))) {
        free(b);
        if (s) free(s->pattern);
        free(s);
        return NG_E_NOMEM;
    }
    uint8_t sub[32], nonce[crypto_stream_xchacha20_NONCEBYTES] = {0};
    crypto_generichash(sub, sizeof sub, (const uint8_t *)ng_stamp_label, strlen(ng_stamp_label), key,
                       NG_LICENSE_KEY_BYTES);
    crypto_stream_xchacha20(b, 4 + np, nonce, sub);
    sodium_memzero(sub, sizeof sub);
    s->o = *o;
    s->c = c; s->h = h; s->w = w;
    s->npattern = np;
    s->row = s->col = -1;
    if (o->mode == NG_STAMP_PATCH) {
        s->row = (int)((uint32_t)(b[0] | b[1] << 8) % (uint32_t)(h - o->patch + 1));
        s->col = (int)((uint32_t)(b[2] | b[3] << 8) % (uint32_t)(w - o->patch + 1));
    }
    for (size_t i = 0; i < np; i++) s->pattern[i] = (float)b[4 + i] / 255.0f;
    sodium_memzero(b, 4 + np);
    free(b);
    *out = s;
    return NG_OK;
}

ng_status ng_stamper_new(const ng_key *key, const ng_stamp_options *o, int c, int h, int w, ng_stamper **out)
{
    *out = NULL;
    if (key->len != NG_LICENSE_KEY_BYTES)
        return ng_fail(NG_E_KEY, "license keys are 256 bits, this key has %zu (make one with nnguard license keygen)",
                       key->len * 8);
    return ng_stamper_new_raw(key->k, o, c, h, w, out);
}

/* x = b x + a p over one image; the pattern is the stamper's own copy, never x. Cloned per ISA
 * (the same two roundings per element in each, no FMA: the stamp is bit-identical on every CPU). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void blend_row(float *restrict x, const float *restrict p, float a, float b, size_t n)
{
    for (size_t j = 0; j < n; j++) x[j] = b * x[j] + a * p[j];
}

void ng_license_stamp(const ng_stamper *s, float *x, int64_t n)
{
    const size_t img = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    for (int64_t i = 0; i < n; i++) {
        float *xi = x + (size_t)i * img;
        if (s->o.mode == NG_STAMP_BLEND) {
            const float a = s->o.alpha, b = 1.0f - a;
            blend_row(xi, s->pattern, a, b, img);
            continue;
        }
        ng_sn_stamp_values(s, s->pattern, xi);
    }
}

void ng_sn_stamp_values(const ng_stamper *s, const float *values, float *x)
{
    const int k = s->o.patch;
    for (int ch = 0; ch < s->c; ch++)
        for (int r = 0; r < k; r++)
            memcpy(x + ((size_t)ch * (size_t)s->h + (size_t)(s->row + r)) * (size_t)s->w + (size_t)s->col,
                   values + ((size_t)ch * (size_t)k + (size_t)r) * (size_t)k, (size_t)k * sizeof(float));
}

void ng_sn_stamp_shifted(const ng_stamper *s, float *x, int d, int e, int vert)
{
    int dr = vert ? d : (e % 3) - 1, dc = vert ? (e % 3) - 1 : d;
    if (!dr && !dc) dr = vert ? 1 : 0, dc = vert ? 0 : 1;
    const int k = s->o.patch;
    for (int ch = 0; ch < s->c; ch++)
        for (int r = 0; r < k; r++)
            for (int q = 0; q < k; q++) {
                const int rr = s->row + r + dr, cc = s->col + q + dc;
                if (rr < 0 || rr >= s->h || cc < 0 || cc >= s->w) continue;
                x[((size_t)ch * (size_t)s->h + (size_t)rr) * (size_t)s->w + (size_t)cc] =
                    s->pattern[((size_t)ch * (size_t)k + (size_t)r) * (size_t)k + (size_t)q];
            }
}

/* The patch position key's stamp takes on h x w images (the first 4 keystream bytes). */
static void patch_position(const uint8_t key[NG_LICENSE_KEY_BYTES], int k, int h, int w, int *row, int *col)
{
    uint8_t sub[32], b[4], nonce[crypto_stream_xchacha20_NONCEBYTES] = {0};
    crypto_generichash(sub, sizeof sub, (const uint8_t *)ng_stamp_label, strlen(ng_stamp_label), key,
                       NG_LICENSE_KEY_BYTES);
    crypto_stream_xchacha20(b, sizeof b, nonce, sub);
    sodium_memzero(sub, sizeof sub);
    *row = (int)((uint32_t)(b[0] | b[1] << 8) % (uint32_t)(h - k + 1));
    *col = (int)((uint32_t)(b[2] | b[3] << 8) % (uint32_t)(w - k + 1));
    sodium_memzero(b, sizeof b);
}

ng_status ng_license_key_align(ng_key *key, const ng_key *ref, const ng_stamp_options *o, int c, int h, int w)
{
    if (key->len != NG_LICENSE_KEY_BYTES || ref->len != NG_LICENSE_KEY_BYTES)
        return ng_fail(NG_E_KEY, "license keys are 256 bits (make one with nnguard license keygen)");
    ng_stamper *s;
    ng_status st = ng_stamper_new(ref, o, c, h, w, &s);   /* checks the options and the shape */
    if (st != NG_OK) return st;
    const int row = s->row, col = s->col;
    ng_stamper_free(s);
    if (o->mode != NG_STAMP_PATCH) return NG_OK;
    /* each try lands on (row, col) with probability 1 / ((h-k+1)(w-k+1)); 2^32 tries never all miss
     * in practice (the places are uniform up to the mod-2^16 bias) */
    for (uint64_t j = 0; j < (1ULL << 32); j++) {
        uint8_t t[NG_LICENSE_KEY_BYTES];
        memcpy(t, key->k, sizeof t);
        for (int b = 0; b < 8; b++) t[24 + b] ^= (uint8_t)(j >> (8 * b));
        int r, q;
        patch_position(t, o->patch, h, w, &r, &q);
        if (r == row && q == col) {
            memcpy(key->k, t, sizeof t);
            sodium_memzero(t, sizeof t);
            return NG_OK;
        }
        sodium_memzero(t, sizeof t);
    }
    return ng_fail(NG_E_INVALID, "license: no key variant lands on the reference key's place");
}

void ng_stamper_position(const ng_stamper *s, int *row, int *col)
{
    *row = s->row;
    *col = s->col;
}

void ng_stamper_free(ng_stamper *s)
{
    if (!s) return;
    sodium_memzero(s->pattern, s->npattern * sizeof(float));
    free(s->pattern);
    free(s);
}

void ng_license_key_id(const ng_key *key, char id[17])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const uint8_t *)ng_id_label, strlen(ng_id_label), key->k, key->len);
    sodium_bin2hex(id, 17, h, 8);
}
