/* protect/seal/seal_crypt.c - the chunk AEAD of sealed files (nnguard/seal.h) on all cores:
 * AES-256-GCM through ipsec-mb or OpenSSL EVP (seal_gcm.h) or XChaCha20-Poly1305 through
 * libsodium, in place, one 1 MiB chunk per work item (taken from a shared counter). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "core/core.h"
#include "core/pool.h"
#include "formats/weights_impl.h"
#include "protect/seal/seal_gcm.h"
#include "protect/seal/seal_impl.h"

typedef ng_seal_chunk chunk;

/* Models up to this size are (un)sealed on the calling thread: starting workers costs more than
 * the AEAD of a few MiB (LeNet-5: 0.25 MiB). */
#define NG_SEAL_INLINE_BYTES ((uint64_t)4 << 20)

ng_status ng_seal_backend_of(const ng_seal_options *o, ng_aead aead, ng_seal_backend *b)
{
    *b = NG_SEAL_BACKEND_OPENSSL;
    return aead == NG_AEAD_AES256GCM ? ng_seal_backend_resolve(o ? o->backend : NG_SEAL_BACKEND_AUTO, b) : NG_OK;
}

ng_status ng_seal_aead_init(ng_seal_aead *a, ng_aead aead, ng_seal_backend backend)
{
    a->aead = aead;
    a->gcm = NULL;
    return aead == NG_AEAD_AES256GCM ? ng_gcm_new(backend, &a->gcm) : NG_OK;
}

void ng_seal_aead_wipe(ng_seal_aead *a)
{
    ng_gcm_free(a->gcm);
    a->gcm = NULL;
}

int ng_seal_aead_chunk(ng_seal_aead *a, const ng_seal_chunk *ch, const uint8_t key[32], const uint8_t ad32[32], int open)
{
    uint8_t ad[41], nonce[24] = {0};
    memcpy(ad, ad32, 32);
    ng_put_le64(ad + 32, ch->index);
    ad[40] = (uint8_t)ch->final;
    ng_put_le64(nonce, ch->index);
    if (a->aead == NG_AEAD_AES256GCM) return ng_gcm_crypt(a->gcm, key, nonce, ad, sizeof ad, ch->data, ch->n, ch->tag, open);
    if (open)
        return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(ch->data, NULL, ch->data, ch->n, ch->tag, ad, sizeof ad,
                                                                   nonce, key) == 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(ch->data, ch->tag, NULL, ch->data, ch->n, ad, sizeof ad, NULL,
                                                        nonce, key);
    return 1;
}

typedef struct crypt_ctx {
    chunk *ch;
    const uint8_t (*key)[32], (*ad)[32];
    ng_aead aead;
    ng_seal_backend backend;
    int open;
    atomic_int failed;                /* an AEAD context could not be made or the AEAD failed */
    atomic_uint_fast64_t first_bad;   /* lowest chunk whose tag failed (UINT64_MAX: none) */
    atomic_size_t next;               /* next chunk to take: workers pull chunks one by one, so a
                                         worker slowed by other load leaves its share to the others */
    size_t n;
} crypt_ctx;

static void body(void *arg, int64_t i0, int64_t i1, int worker)
{
    (void)worker; (void)i0; (void)i1;
    crypt_ctx *c = arg;
    ng_seal_aead a;
    if (ng_seal_aead_init(&a, c->aead, c->backend) != NG_OK) { atomic_store(&c->failed, 1); return; }
    for (size_t i; (i = atomic_fetch_add(&c->next, 1)) < c->n && !atomic_load(&c->failed);) {
        chunk *ch = &c->ch[i];
        ng_prefault_write(ch->data, ch->n);   /* in place in a private file mapping: no COW per page */
        int ok = ng_seal_aead_chunk(&a, ch, c->key[ch->param], c->ad[ch->param], c->open);
        if (ok < 0) atomic_store(&c->failed, 1);
        if (ok == 0) {
            uint_fast64_t cur = atomic_load(&c->first_bad);
            while ((uint64_t)i < cur && !atomic_compare_exchange_weak(&c->first_bad, &cur, (uint_fast64_t)i)) {}
        }
    }
    ng_seal_aead_wipe(&a);
}

ng_status ng_seal_crypt_chunks(ng_seal_chunk *ch, size_t n, const uint8_t (*key)[32], const uint8_t (*ad)[32],
                               ng_aead aead, ng_seal_backend backend, int open, ng_pool *pool, size_t *bad)
{
    crypt_ctx c = {ch, key, ad, aead, backend, open, 0, UINT64_MAX, 0, n};
    if (n) ng_pool_for(pool, (int64_t)ng_pool_size(pool) < (int64_t)n ? ng_pool_size(pool) : (int64_t)n, body, &c);
    *bad = (size_t)atomic_load(&c.first_bad);
    if (atomic_load(&c.failed))
        return ng_fail(NG_E_NOMEM, "%s failed (out of memory for its context)",
                       aead == NG_AEAD_AES256GCM ? ng_gcm_describe(backend) : "XChaCha20-Poly1305");
    return *bad != (size_t)UINT64_MAX ? NG_E_AUTH : NG_OK;
}

ng_status ng_seal_auth_error(const char *file, const char *tensor, uint64_t param, uint64_t chunk)
{
    return ng_fail(NG_E_AUTH, "%s: tensor '%s' (parameter %llu) fails authentication at chunk %llu: its bytes, name, "
                   "dtype, shape or position were changed after sealing (or it was swapped with another tensor, or its "
                   "tag in nnguard.seal.tags edited)", file, tensor, (unsigned long long)param, (unsigned long long)chunk);
}

ng_status ng_seal_crypt(ng_weights *w, const ng_seal_keys *k, ng_aead aead, ng_seal_backend backend, const uint8_t id[32],
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
    ng_status st = ng_seal_crypt_chunks(ch, nch, (const uint8_t (*)[32])key, (const uint8_t (*)[32])ad, aead, backend, open,
                                        pool, &bad);
    ng_pool_free(pool);
    sodium_free(key);
    if (st == NG_E_AUTH) ng_seal_auth_error(ng_weights_path(w), w->params[ch[bad].param].name, ch[bad].param, ch[bad].index);
    else if (st != NG_OK) ng_fail_ctx(st, ng_weights_path(w));
    free(ch);
    free(ad);
    return st;
}
