/* protect/deeplock_meta.c - Deep-Lock pieces shared by the in-memory and streaming paths:
 * tensor selection, the fused (un)lock-and-hash kernel, keys and nnguard.* metadata. */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "protect/deeplock/aes_sbox.h"
#include "protect/deeplock/deeplock_impl.h"

const char *ng_keystream_name(ng_keystream k) { return k == NG_KS_EXPAND ? "expand" : "ctr"; }

int ng_keystream_parse(const char *s)
{
    if (s && strcmp(s, "ctr") == 0) return NG_KS_CTR;
    if (s && strcmp(s, "expand") == 0) return NG_KS_EXPAND;
    return -1;
}

ng_deeplock_options ng_deeplock_options_default(void)
{
    ng_deeplock_options o = {0};
    o.keystream = NG_KS_CTR;
    return o;
}

int ng_deeplock_selected(const char *only, const char *name) { return ng_dl_selected(only, name); }

int ng_dl_selected(const char *only, const char *name)
{
    if (!only || !*only) return 1;
    char pat[1024];
    const char *p = only;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n < sizeof pat) {
            memcpy(pat, p, n);
            pat[n] = 0;
            if (n > 0 && fnmatch(pat, name, 0) == 0) return 1;
        }
        p += n + (comma ? 1 : 0);
    }
    return 0;
}

/* One fused pass per NG_DL_BLOCK: the block's plaintext goes into the leaf's GMAC, and the block
 * is XORed with the key stream and run through the S-box while it is still in cache (unlock:
 * inverse S-box, XOR, then the MAC). */
ng_status ng_dl_piece_run(ng_dl_piece *p, const ng_dl_stream *s, int unlock)
{
    ng_status st = NG_OK;
    ng_gmac_ctx h = {NULL};
    ng_ctr_ctx c = {NULL};
    uint8_t ebuf[4096];
    if (p->tag) {
        uint8_t iv[12];
        ng_dl_leaf_iv(p->param, p->leaf, iv);
        st = ng_gmac_open(&h, p->gmac_key, iv);
    }
    if (st == NG_OK && p->locked && s->ks == NG_KS_CTR) {
        ng_ctr_tensor t;
        ng_ctr_derive(s->lock_key, s->legacy ? NG_CTR_LABEL_V2 : NG_CTR_LABEL_V3, p->name, &t);
        st = ng_ctr_open(&c, &t, p->tensor_off);
        sodium_memzero(&t, sizeof t);
    }
    size_t blk = p->locked && s->ks == NG_KS_EXPAND ? sizeof ebuf : NG_DL_BLOCK;
    for (size_t done = 0; st == NG_OK && done < p->n; done += blk) {
        size_t m = p->n - done < blk ? p->n - done : blk;
        uint8_t *d = p->dst + done;
        const uint8_t *src = p->src + done;
        if (p->tag && !unlock && (st = ng_gmac_update(&h, src, m)) != NG_OK) break;
        if (!p->locked) {
            if (d != src) memcpy(d, src, m);
        } else if (s->ks == NG_KS_CTR) {
            if (unlock) {
                ng_aes_inv_sub_xor(d, src, NULL, m, NG_AES_AUTO);
                st = ng_ctr_xor(&c, d, d, m);
            } else {
                st = ng_ctr_xor(&c, d, src, m);
                ng_aes_sub_xor(d, d, NULL, m, NG_AES_AUTO);
            }
        } else {
            ng_expand_stream(&p->cur, p->stream_off + done, ebuf, m);
            if (unlock) ng_aes_inv_sub_xor(d, src, ebuf, m, NG_AES_AUTO);
            else ng_aes_sub_xor(d, src, ebuf, m, NG_AES_AUTO);
        }
        if (p->tag && unlock && st == NG_OK) st = ng_gmac_update(&h, d, m);
    }
    if (c.evp) ng_ctr_close(&c);
    sodium_memzero(ebuf, sizeof ebuf);
    if (h.evp && st == NG_OK) st = ng_gmac_final(&h, p->tag);
    ng_gmac_close(&h);
    return st;   /* expand: p->cur is left at the piece's last round for the caller to carry on or wipe */
}

ng_status ng_dl_check_key(const ng_key *key, ng_keystream ks)
{
    size_t want = ks == NG_KS_EXPAND ? 16 : 32;
    if (key->len != want)
        return ng_fail(NG_E_KEY, "the key has %zu bits; key stream '%s' needs a %zu-bit key (nnguard keygen --bits %zu)",
                       key->len * 8, ng_keystream_name(ks), want * 8, want * 8);
    return NG_OK;
}

ng_status ng_dl_check_secret(const ng_deeplock_secret *s)
{
    if (!s || (!s->key) == (!s->pass))
        return ng_fail(NG_E_INVALID, "give exactly one of a key or a passphrase");
    return NG_OK;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || !*s || *s == '-') return 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end) return 0;
    *v = x;
    return 1;
}

ng_status ng_dl_check_plain(const void *obj, ng_dl_meta_get get, const char *name)
{
    const char *scheme = get(obj, "nnguard.scheme");
    if (scheme && strcmp(scheme, "deeplock") == 0)
        return ng_fail(NG_E_STATE, "%s: the model is already Deep-Locked; refusing to lock it twice", name);
    if (scheme) return ng_fail(NG_E_STATE, "%s: the model is already protected (nnguard.scheme = %s)", name, scheme);
    return NG_OK;
}

static int hex_exact(const char *hex, uint8_t *out, size_t n)
{
    size_t got = 0;
    return hex && strlen(hex) == 2 * n && sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL) == 0 && got == n;
}

static ng_status read_kdf(const void *obj, ng_dl_meta_get get, const char *name, ng_dl_state *st)
{
    const char *kdf = get(obj, "nnguard.kdf");
    if (!kdf) return NG_OK;
    if (strcmp(kdf, "argon2id") != 0) return ng_fail(NG_E_FORMAT, "%s: unknown nnguard.kdf '%s'", name, kdf);
    if (!hex_exact(get(obj, "nnguard.kdf_salt"), st->kdf.salt, 16) ||
        !parse_u64(get(obj, "nnguard.kdf_opslimit"), &st->kdf.opslimit) ||
        !parse_u64(get(obj, "nnguard.kdf_memlimit"), &st->kdf.memlimit))
        return ng_fail(NG_E_FORMAT, "%s: malformed nnguard.kdf_salt / kdf_opslimit / kdf_memlimit", name);
    st->has_kdf = 1;
    return NG_OK;
}

ng_status ng_dl_read_state(const void *obj, ng_dl_meta_get get, const char *name, ng_dl_state *st)
{
    memset(st, 0, sizeof *st);
    const char *scheme = get(obj, "nnguard.scheme");
    if (!scheme || strcmp(scheme, "deeplock") != 0)
        return ng_fail(NG_E_STATE, "%s: the model is not Deep-Locked; nothing to unlock", name);
    const char *ver = get(obj, "nnguard.version"), *ks = get(obj, "nnguard.keystream"), *only = get(obj, "nnguard.only");
    int k = ng_keystream_parse(ks);
    st->version = !ver ? 0 : !strcmp(ver, "3") ? 3 : !strcmp(ver, "2") ? 2 : !strcmp(ver, "1") ? 1 : 0;
    /* format 1 differs from 2 only in the ctr stream (XChaCha20): its expand files still unlock */
    if (!st->version || (st->version == 1 && k != NG_KS_EXPAND))
        return ng_fail(NG_E_UNSUPPORTED, "%s: Deep-Lock format '%s' with key stream '%s' is not supported (this is "
                       "format %s; format 1 ctr used XChaCha20, unlock it with that nnguard release)", name,
                       ver ? ver : "(none)", ks ? ks : "(none)", NG_DL_VERSION);
    if (k < 0) return ng_fail(NG_E_FORMAT, "%s: unknown nnguard.keystream '%s'", name, ks ? ks : "(none)");
    st->ks = (ng_keystream)k;
    if (!only || strlen(only) >= sizeof st->only) return ng_fail(NG_E_FORMAT, "%s: missing or overlong nnguard.only", name);
    strcpy(st->only, only);
    if (st->version < 3) {
        if (!hex_exact(get(obj, "nnguard.kcv"), st->kcv, 32) || !hex_exact(get(obj, "nnguard.model_id_before"), st->id_before, 32) ||
            !hex_exact(get(obj, "nnguard.model_id_after"), st->id_after, 32))
            return ng_fail(NG_E_FORMAT, "%s: nnguard.kcv / model_id_before / model_id_after must be 64 hex digits", name);
        return read_kdf(obj, get, name, st);
    }
    const char *ek = get(obj, "nnguard.expand_key");
    if (st->ks == NG_KS_EXPAND) {
        if (!ek || (strcmp(ek, "salted") && strcmp(ek, "paper")))
            return ng_fail(NG_E_FORMAT, "%s: nnguard.expand_key must be 'salted' or 'paper'", name);
        st->paper = !strcmp(ek, "paper");
    } else if (ek) {
        return ng_fail(NG_E_FORMAT, "%s: nnguard.expand_key is set on a ctr lock", name);
    }
    if (!hex_exact(get(obj, "nnguard.salt"), st->salt, 32) || !hex_exact(get(obj, "nnguard.kcv"), st->kcv, 32) ||
        !hex_exact(get(obj, "nnguard.graph_mac"), st->graph_mac, 32) ||
        !hex_exact(get(obj, "nnguard.params_mac"), st->params_mac, 32))
        return ng_fail(NG_E_FORMAT, "%s: nnguard.salt / kcv / graph_mac / params_mac must be 64 hex digits", name);
    return read_kdf(obj, get, name, st);
}

void ng_dl_lock_kdf(const ng_deeplock_secret *s, const ng_deeplock_options *o, ng_kdf_params *kdf, int *has)
{
    *has = s->pass != NULL;
    if (!*has) return;
    if (o && o->kdf) *kdf = *o->kdf;
    else ng_kdf_params_new(kdf);
}

void ng_dl_new_salt(const ng_deeplock_options *o, uint8_t salt[32])
{
    if (o && o->salt) memcpy(salt, o->salt, 32);
    else randombytes_buf(salt, 32);
}

ng_status ng_dl_resolve_key(const ng_deeplock_secret *s, ng_keystream ks, const ng_kdf_params *kdf, ng_key *out)
{
    memset(out, 0, sizeof *out);
    if (s->key) {
        ng_status st = ng_dl_check_key(s->key, ks);
        if (st == NG_OK) *out = *s->key;
        return st;
    }
    if (!kdf) return ng_fail(NG_E_KEY, "the model was not locked with a passphrase; give its key file (--key)");
    return ng_key_from_passphrase(s->pass, s->pass_len, kdf, ks == NG_KS_EXPAND ? 128 : 256, out);
}

ng_status ng_dl_write_meta(void *obj, ng_dl_meta_set set, const ng_deeplock_options *o, const char *only,
                           const ng_key *key, const uint8_t salt[32], const uint8_t graph[32],
                           const uint8_t *params_mac, const ng_kdf_params *kdf)
{
    uint8_t M[32], kcv[32], gm[32], pm[32] = {0};
    char salt_hex[65], kcv_hex[65], gm_hex[65], pm_hex[65], ksalt[33], ops[24], mem[24];
    int paper = o->keystream == NG_KS_EXPAND && o->paper_exact;
    ng_dl_mac_key(key, salt, M);
    ng_dl_kcv(M, salt, o->keystream, paper, only, kcv);
    ng_dl_graph_mac(M, graph, gm);
    if (params_mac) memcpy(pm, params_mac, 32);
    sodium_memzero(M, sizeof M);
    sodium_bin2hex(salt_hex, sizeof salt_hex, salt, 32);
    sodium_bin2hex(kcv_hex, sizeof kcv_hex, kcv, 32);
    sodium_bin2hex(gm_hex, sizeof gm_hex, gm, 32);
    sodium_bin2hex(pm_hex, sizeof pm_hex, pm, 32);
    ng_status st = set(obj, "nnguard.scheme", "deeplock");
    if (st == NG_OK) st = set(obj, "nnguard.version", NG_DL_VERSION);
    if (st == NG_OK) st = set(obj, "nnguard.keystream", ng_keystream_name(o->keystream));
    if (st == NG_OK && o->keystream == NG_KS_EXPAND) st = set(obj, "nnguard.expand_key", paper ? "paper" : "salted");
    if (st == NG_OK) st = set(obj, "nnguard.only", only);
    if (st == NG_OK) st = set(obj, "nnguard.salt", salt_hex);
    if (st == NG_OK) st = set(obj, "nnguard.kcv", kcv_hex);
    if (st == NG_OK) st = set(obj, "nnguard.graph_mac", gm_hex);
    if (st == NG_OK) st = set(obj, "nnguard.params_mac", pm_hex);
    if (st == NG_OK && kdf) {
        sodium_bin2hex(ksalt, sizeof ksalt, kdf->salt, sizeof kdf->salt);
        snprintf(ops, sizeof ops, "%" PRIu64, kdf->opslimit);
        snprintf(mem, sizeof mem, "%" PRIu64, kdf->memlimit);
        if (st == NG_OK) st = set(obj, "nnguard.kdf", "argon2id");
        if (st == NG_OK) st = set(obj, "nnguard.kdf_salt", ksalt);
        if (st == NG_OK) st = set(obj, "nnguard.kdf_opslimit", ops);
        if (st == NG_OK) st = set(obj, "nnguard.kdf_memlimit", mem);
    }
    return st;
}

ng_status ng_dl_clear_meta(void *obj, ng_dl_meta_set set)
{
    static const char *const keys[] = {"nnguard.scheme", "nnguard.version", "nnguard.keystream", "nnguard.expand_key",
        "nnguard.only", "nnguard.salt", "nnguard.kcv", "nnguard.graph_mac", "nnguard.params_mac",
        "nnguard.model_id_before", "nnguard.model_id_after", "nnguard.kdf", "nnguard.kdf_salt",
        "nnguard.kdf_opslimit", "nnguard.kdf_memlimit"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        ng_status st = set(obj, keys[i], NULL);
        if (st != NG_OK) return st;
    }
    return NG_OK;
}

void ng_dl_warn_legacy(const ng_deeplock_options *o, const char *name, int version)
{
    if (o && o->log)
        fprintf(o->log, "nnguard: warning: %s uses Deep-Lock format %d (before %s): its key stream depends only on the "
                "key and the tensor names, so every model locked with that key shares it (the XOR of two locked files "
                "gives the XOR of their plaintexts), and it stores the plaintext model id in clear. Re-lock the "
                "unlocked model to get format %s.\n", name, version, NG_DL_VERSION, NG_DL_VERSION);
}

void ng_dl_warn_paper(const ng_deeplock_options *o, const char *name)
{
    if (o && o->log)
        fprintf(o->log, "nnguard: warning: %s: --paper-exact runs the expand key schedule on the master key itself, as "
                "the paper does: never lock a second model with this key (both would share the key stream), and one "
                "leaked round key gives the master key.\n", name);
}
