/* protect/seal/seal_crypt.c - the chunk AEAD of sealed files (nnguard/seal.h) on all cores:
 * AES-256-GCM through OpenSSL EVP (AES-NI / VAES, PCLMULQDQ) or XChaCha20-Poly1305 through
 * libsodium, in place, one 1 MiB chunk per work item (taken from a shared counter). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sodium.h>
#include "core/core.h"
#include "core/pool.h"
#include "formats/weights_impl.h"
#include "protect/seal/seal_impl.h"

typedef ng_seal_chunk chunk;

/* Models up to this size are (un)sealed on the calling thread: starting workers costs more than
 * the AEAD of a few MiB (LeNet-5: 0.25 MiB). */
#define NG_SEAL_INLINE_BYTES ((uint64_t)4 << 20)

typedef struct crypt_ctx {
    chunk *ch;
    const uint8_t (*key)[32], (*ad)[32];
    ng_aead aead;
    int open;
    atomic_int evp_failed;
    atomic_uint_fast64_t first_bad;   /* lowest chunk whose tag failed (UINT64_MAX: none) */
    atomic_size_t next;               /* next chunk to take: workers pull chunks one by one, so a
                                         worker slowed by other load leaves its share to the others */
    size_t n;
} crypt_ctx;

/* AES-256-GCM of one chunk in place; 1 ok, 0 tag mismatch, -1 OpenSSL failure. */
static int gcm(EVP_CIPHER_CTX *e, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t adlen,
               uint8_t *d, size_t n, uint8_t tag[16], int open)
{
    int len;
    if (!EVP_CipherInit_ex(e, EVP_aes_256_gcm(), NULL, key, nonce, !open)) return -1;
    if (!EVP_CipherUpdate(e, NULL, &len, ad, (int)adlen)) return -1;
    if (n && !EVP_CipherUpdate(e, d, &len, d, (int)n)) return -1;
    if (open) {
        if (!EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_TAG, 16, tag)) return -1;
        return EVP_CipherFinal_ex(e, d + n, &len) == 1;
    }
    if (!EVP_CipherFinal_ex(e, d + n, &len)) return -1;
    return EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 ? 1 : -1;
}

static void body(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)worker; (void)i0; (void)i1;
    crypt_ctx *c = arg;
    EVP_CIPHER_CTX *e = c->aead == NG_AEAD_AES256GCM ? EVP_CIPHER_CTX_new() : NULL;
    if (c->aead == NG_AEAD_AES256GCM && !e) { atomic_store(&c->evp_failed, 1); return; }
    for (size_t i; (i = atomic_fetch_add(&c->next, 1)) < c->n && !atomic_load(&c->evp_failed);) {
        chunk *ch = &c->ch[i];
        ng_prefault_write(ch->data, ch->n);   /* in place in a private file mapping: no COW per page */
        uint8_t ad[41], nonce[24] = {0};
        memcpy(ad, c->ad[ch->param], 32);
        ng_put_le64(ad + 32, ch->index);
        ad[40] = (uint8_t)ch->final;
        ng_put_le64(nonce, ch->index);
        int ok;
        if (e) {
            ok = gcm(e, c->key[ch->param], nonce, ad, sizeof ad, ch->data, ch->n, ch->tag, c->open);
        } else if (c->open) {
            ok = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(ch->data, NULL, ch->data, ch->n, ch->tag, ad,
                                                                     sizeof ad, nonce, c->key[ch->param]) == 0;
        } else {
            crypto_aead_xchacha20poly1305_ietf_encrypt_detached(ch->data, ch->tag, NULL, ch->data, ch->n, ad, sizeof ad,
                                                                NULL, nonce, c->key[ch->param]);
            ok = 1;
        }
        if (ok < 0) atomic_store(&c->evp_failed, 1);
        if (ok == 0) {
            uint_fast64_t cur = atomic_load(&c->first_bad);
            while ((uint64_t)i < cur && !atomic_compare_exchange_weak(&c->first_bad, &cur, (uint_fast64_t)i)) {}
        }
    }
    EVP_CIPHER_CTX_free(e);
}

ng_status ng_seal_crypt_chunks(ng_seal_chunk *ch, size_t n, const uint8_t (*key)[32], const uint8_t (*ad)[32],
                               ng_aead aead, int open, ng_pool *pool, size_t *bad)
{
    crypt_ctx c = {ch, key, ad, aead, open, 0, UINT64_MAX, 0, n};
    if (n) ng_pool_for(pool, (int64_t)ng_pool_size(pool) < (int64_t)n ? ng_pool_size(pool) : (int64_t)n, body, &c);
    *bad = (size_t)atomic_load(&c.first_bad);
    if (atomic_load(&c.evp_failed)) return ng_fail(NG_E_NOMEM, "AES-256-GCM failed (OpenSSL out of memory)");
    return *bad != (size_t)UINT64_MAX ? NG_E_AUTH : NG_OK;
}

ng_status ng_seal_auth_error(const char *file, const char *tensor, uint64_t param, uint64_t chunk)
{
    return ng_fail(NG_E_AUTH, "%s: tensor '%s' (parameter %llu) fails authentication at chunk %llu: its bytes, name, "
                   "dtype, shape or position were changed after sealing (or it was swapped with another tensor, or its "
                   "tag in nnguard.seal.tags edited)", file, tensor, (unsigned long long)param, (unsigned long long)chunk);
}

ng_status ng_seal_crypt(ng_weights *w, const ng_seal_keys *k, ng_aead aead, const uint8_t id[32],
                        uint8_t (*tags)[NG_SEAL_TAG], int threads, int open)
{
    size_t n = w->n_params, nch = 0;
    for (size_t i = 0; i < n; i++) nch += ng_seal_nchunks(w->params[i].nbytes);
    chunk *ch = ng_calloc(nch + 1, sizeof *ch);
    uint8_t (*key)[32] = sodium_allocarray(n + 1, 32), (*ad)[32] = ng_calloc(n + 1, 32);
    if (!ch || !key || !ad) {
        free(ch); free(ad);
        if (key) sodium_free(key);
        return ng_fail(NG_E_NOMEM, "%s: out of memory for %zu tensors", ng_weights_path(w), n);
    }
    uint64_t off = 0;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        ng_param *p = &w->params[i];
        ng_seal_tensor_key(k, i, key[i]);
        ng_seal_tensor_ad(id, i, n, p, off, ad[i]);
        off += p->nbytes;
        uint64_t nc = ng_seal_nchunks(p->nbytes);
        for (uint64_t c = 0; c < nc; c++, j++) {
            ch[j].param = (uint32_t)i;
            ch[j].index = c;
            ch[j].data = p->data + c * NG_SEAL_CHUNK;
            ch[j].n = c + 1 < nc ? NG_SEAL_CHUNK : p->nbytes - c * NG_SEAL_CHUNK;
            ch[j].final = c + 1 == nc;
            ch[j].tag = tags[j];
        }
    }
    ng_pool *pool = nch > 1 && off > NG_SEAL_INLINE_BYTES ? ng_pool_new(threads) : NULL;   /* small: no threads */
    size_t bad;
    ng_status st = ng_seal_crypt_chunks(ch, nch, (const uint8_t (*)[32])key, (const uint8_t (*)[32])ad, aead, open, pool, &bad);
    ng_pool_free(pool);
    sodium_free(key);
    if (st == NG_E_AUTH) ng_seal_auth_error(ng_weights_path(w), w->params[ch[bad].param].name, ch[bad].param, ch[bad].index);
    else if (st != NG_OK) ng_fail_ctx(st, ng_weights_path(w));
    free(ch);
    free(ad);
    return st;
}
