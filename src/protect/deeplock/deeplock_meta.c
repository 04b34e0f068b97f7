/* protect/deeplock_meta.c - Deep-Lock pieces shared by the in-memory and streaming paths:
 * tensor selection, the (un)lock kernel, keys, key check value and nnguard.* metadata. */
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

/* One fused pass per NG_DL_BLOCK: the block is XORed with the key stream and run through the
 * S-box while it is still in cache (unlock: inverse S-box first, then the XOR). */
ng_status ng_dl_piece_run(ng_dl_piece *p, const ng_key *key, ng_keystream ks, int unlock)
{
    ng_status st = NG_OK;
    if (ks == NG_KS_CTR) {
        ng_ctr_tensor t;
        ng_ctr_ctx c;
        ng_ctr_derive(key->k, p->name, &t);
        st = ng_ctr_open(&c, &t, p->tensor_off);
        sodium_memzero(&t, sizeof t);
        for (size_t done = 0; st == NG_OK && done < p->n; done += NG_DL_BLOCK) {
            size_t m = p->n - done < NG_DL_BLOCK ? p->n - done : NG_DL_BLOCK;
            uint8_t *d = p->dst + done;
            const uint8_t *s = p->src + done;
            if (unlock) {
                ng_aes_inv_sub_xor(d, s, NULL, m, NG_AES_AUTO);
                st = ng_ctr_xor(&c, d, d, m);
            } else {
                st = ng_ctr_xor(&c, d, s, m);
                ng_aes_sub_xor(d, d, NULL, m, NG_AES_AUTO);
            }
        }
        ng_ctr_close(&c);
        return st;
    }
    uint8_t buf[4096];
    for (size_t done = 0; done < p->n; done += sizeof buf) {
        size_t m = p->n - done < sizeof buf ? p->n - done : sizeof buf;
        ng_expand_stream(&p->cur, p->stream_off + done, buf, m);
        if (unlock) ng_aes_inv_sub_xor(p->dst + done, p->src + done, buf, m, NG_AES_AUTO);
        else ng_aes_sub_xor(p->dst + done, p->src + done, buf, m, NG_AES_AUTO);
    }
    sodium_memzero(buf, sizeof buf);
    return NG_OK;   /* p->cur is left at the piece's last round for the caller to carry on or wipe */
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

static int hex32(const char *hex, uint8_t out[32])
{
    size_t got = 0;
    return hex && strlen(hex) == 64 && sodium_hex2bin(out, 32, hex, 64, NULL, &got, NULL) == 0 && got == 32;
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

ng_status ng_dl_read_state(const void *obj, ng_dl_meta_get get, const char *name, ng_dl_state *st)
{
    memset(st, 0, sizeof *st);
    const char *scheme = get(obj, "nnguard.scheme");
    if (!scheme || strcmp(scheme, "deeplock") != 0)
        return ng_fail(NG_E_STATE, "%s: the model is not Deep-Locked; nothing to unlock", name);
    const char *ver = get(obj, "nnguard.version"), *ks = get(obj, "nnguard.keystream"), *only = get(obj, "nnguard.only");
    int k = ng_keystream_parse(ks);
    /* version 1 differs only in the ctr stream (XChaCha20); its expand files still unlock */
    int v1_expand = ver && strcmp(ver, "1") == 0 && k == NG_KS_EXPAND;
    if (!ver || (strcmp(ver, NG_DL_VERSION) != 0 && !v1_expand))
        return ng_fail(NG_E_UNSUPPORTED, "%s: Deep-Lock version '%s' with key stream '%s' is not supported (this is "
                       "version %s; version 1 ctr used XChaCha20, unlock it with that nnguard release)", name,
                       ver ? ver : "(none)", ks ? ks : "(none)", NG_DL_VERSION);
    if (k < 0) return ng_fail(NG_E_FORMAT, "%s: unknown nnguard.keystream '%s'", name, ks ? ks : "(none)");
    st->ks = (ng_keystream)k;
    if (!only || strlen(only) >= sizeof st->only) return ng_fail(NG_E_FORMAT, "%s: missing or overlong nnguard.only", name);
    strcpy(st->only, only);
    if (!hex32(get(obj, "nnguard.kcv"), st->kcv) || !hex32(get(obj, "nnguard.model_id_before"), st->id_before) ||
        !hex32(get(obj, "nnguard.model_id_after"), st->id_after))
        return ng_fail(NG_E_FORMAT, "%s: nnguard.kcv / model_id_before / model_id_after must be 64 hex digits", name);
    const char *kdf = get(obj, "nnguard.kdf");
    if (kdf) {
        const char *salt = get(obj, "nnguard.kdf_salt");
        size_t got = 0;
        if (strcmp(kdf, "argon2id") != 0) return ng_fail(NG_E_FORMAT, "%s: unknown nnguard.kdf '%s'", name, kdf);
        if (!salt || strlen(salt) != 32 || sodium_hex2bin(st->kdf.salt, 16, salt, 32, NULL, &got, NULL) != 0 || got != 16 ||
            !parse_u64(get(obj, "nnguard.kdf_opslimit"), &st->kdf.opslimit) ||
            !parse_u64(get(obj, "nnguard.kdf_memlimit"), &st->kdf.memlimit))
            return ng_fail(NG_E_FORMAT, "%s: malformed nnguard.kdf_salt / kdf_opslimit / kdf_memlimit", name);
        st->has_kdf = 1;
    }
    return NG_OK;
}

void ng_dl_lock_kdf(const ng_deeplock_secret *s, const ng_deeplock_options *o, ng_kdf_params *kdf, int *has)
{
    *has = s->pass != NULL;
    if (!*has) return;
    if (o && o->kdf) *kdf = *o->kdf;
    else ng_kdf_params_new(kdf);
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

void ng_dl_kcv(const ng_key *key, const uint8_t id_before[32], uint8_t kcv[32])
{
    static const char sub_label[] = "nnguard.deeplock.kcv-key.v1", kcv_label[] = "nnguard.deeplock.kcv.v1";
    uint8_t sub[32];
    crypto_generichash_state h;
    crypto_generichash(sub, sizeof sub, (const uint8_t *)sub_label, strlen(sub_label), key->k, key->len);
    crypto_generichash_init(&h, sub, sizeof sub, 32);
    crypto_generichash_update(&h, (const uint8_t *)kcv_label, sizeof kcv_label);   /* with its NUL */
    crypto_generichash_update(&h, id_before, 32);
    crypto_generichash_final(&h, kcv, 32);
    sodium_memzero(sub, sizeof sub);
    sodium_memzero(&h, sizeof h);
}

ng_status ng_dl_write_meta(void *obj, ng_dl_meta_set set, ng_keystream ks, const char *only,
                           const ng_key *key, const uint8_t id_before[32], const uint8_t id_after[32],
                           const ng_kdf_params *kdf)
{
    uint8_t kcv[32];
    char kcv_hex[65], before[65], after[65], salt[33], ops[24], mem[24];
    ng_dl_kcv(key, id_before, kcv);
    sodium_bin2hex(kcv_hex, sizeof kcv_hex, kcv, 32);
    sodium_bin2hex(before, sizeof before, id_before, 32);
    sodium_bin2hex(after, sizeof after, id_after, 32);
    ng_status st = NG_OK;
    if (st == NG_OK) st = set(obj, "nnguard.scheme", "deeplock");
    if (st == NG_OK) st = set(obj, "nnguard.version", NG_DL_VERSION);
    if (st == NG_OK) st = set(obj, "nnguard.keystream", ng_keystream_name(ks));
    if (st == NG_OK) st = set(obj, "nnguard.only", only && *only ? only : "*");
    if (st == NG_OK) st = set(obj, "nnguard.kcv", kcv_hex);
    if (st == NG_OK) st = set(obj, "nnguard.model_id_before", before);
    if (st == NG_OK) st = set(obj, "nnguard.model_id_after", after);
    if (st == NG_OK && kdf) {
        sodium_bin2hex(salt, sizeof salt, kdf->salt, sizeof kdf->salt);
        snprintf(ops, sizeof ops, "%" PRIu64, kdf->opslimit);
        snprintf(mem, sizeof mem, "%" PRIu64, kdf->memlimit);
        if (st == NG_OK) st = set(obj, "nnguard.kdf", "argon2id");
        if (st == NG_OK) st = set(obj, "nnguard.kdf_salt", salt);
        if (st == NG_OK) st = set(obj, "nnguard.kdf_opslimit", ops);
        if (st == NG_OK) st = set(obj, "nnguard.kdf_memlimit", mem);
    }
    return st;
}

ng_status ng_dl_clear_meta(void *obj, ng_dl_meta_set set)
{
    static const char *const keys[] = {"nnguard.scheme", "nnguard.version", "nnguard.keystream", "nnguard.only",
        "nnguard.kcv", "nnguard.model_id_before", "nnguard.model_id_after", "nnguard.kdf", "nnguard.kdf_salt",
        "nnguard.kdf_opslimit", "nnguard.kdf_memlimit"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        ng_status st = set(obj, keys[i], NULL);
        if (st != NG_OK) return st;
    }
    return NG_OK;
}
