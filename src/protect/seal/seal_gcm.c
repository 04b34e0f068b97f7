/* protect/seal/seal_gcm.c - AES-256-GCM of sealed-file chunks through ipsec-mb or OpenSSL
 * (seal_gcm.h), and the choice between them (nnguard/seal.h: ng_seal_backend_resolve).
 *
 * Why ipsec-mb: on an AVX-512 CPU with VAES and VPCLMULQDQ its GCM kernels work on four blocks per
 * 512-bit register; OpenSSL 3.0 (Debian 12) has no such path for GCM (3.2+ has), and libsodium's
 * AES-256-GCM uses AES-NI on 128-bit registers only. On the project's EPYC VM, one core decrypted
 * 1 MiB chunks at 9.4-9.9 GB/s with ipsec-mb 1.3 against 3.1-3.4 GB/s with OpenSSL 3.0
 * (docs/results/seal-bench.txt). Its direct GCM API (init / update / finalize on a precomputed
 * key) takes no manager, so the function pointers of the best architecture are read from a
 * manager once and then called from every worker. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sodium.h>
#ifdef NG_HAVE_IPSECMB
#include <intel-ipsec-mb.h>
#endif
#include "core/core.h"
#include "protect/seal/seal_gcm.h"

#ifdef NG_HAVE_IPSECMB
static struct {
    int ok;                                   /* AES-NI + PCLMULQDQ, manager initialised */
    aes_gcm_pre_t pre;                        /* key expansion + hash-key powers */
    aes_gcm_init_t init;                      /* nonce + associated data */
    aes_gcm_enc_dec_update_t enc, dec;
    aes_gcm_enc_dec_finalize_t enc_final, dec_final;
    char desc[96];
} imb;
static pthread_once_t imb_once = PTHREAD_ONCE_INIT;

static void imb_setup(void)
{
    static const char *arch_name[] = {"none", "no-aesni", "sse", "avx", "avx2", "avx512"};
    IMB_MGR *m = alloc_mb_mgr(0);
    if (!m) return;
    uint64_t need = IMB_FEATURE_AESNI | IMB_FEATURE_PCLMULQDQ, wide = IMB_FEATURE_VAES | IMB_FEATURE_VPCLMULQDQ;
    IMB_ARCH arch = IMB_ARCH_NONE;
    if ((m->features & need) == need) {
        init_mb_mgr_auto(m, &arch);
        imb.pre = m->gcm256_pre;
        imb.init = m->gcm256_init;
        imb.enc = m->gcm256_enc_update;
        imb.dec = m->gcm256_dec_update;
        imb.enc_final = m->gcm256_enc_finalize;
        imb.dec_final = m->gcm256_dec_finalize;
        imb.ok = arch >= IMB_ARCH_SSE && arch < IMB_ARCH_NUM && imb_get_errno(m) == 0 && imb.pre && imb.init &&
                 imb.enc && imb.dec && imb.enc_final && imb.dec_final;
    }
    snprintf(imb.desc, sizeof imb.desc, "ipsec-mb %s (%s%s)", imb_get_version_str(),
             arch < IMB_ARCH_NUM ? arch_name[arch] : "?",
             arch == IMB_ARCH_AVX512 && (m->features & wide) == wide ? ", VAES + VPCLMULQDQ" : "");
    free_mb_mgr(m);   /* the kernels do not use it */
}
#endif

static int ipsecmb_ok(void)
{
#ifdef NG_HAVE_IPSECMB
    pthread_once(&imb_once, imb_setup);
    return imb.ok;
#else
    return 0;
#endif
}

const char *ng_seal_backend_name(ng_seal_backend b)
{
    return b == NG_SEAL_BACKEND_OPENSSL ? "openssl" : b == NG_SEAL_BACKEND_IPSECMB ? "ipsec-mb" : "auto";
}

int ng_seal_backend_parse(const char *s)
{
    for (int b = NG_SEAL_BACKEND_AUTO; b <= NG_SEAL_BACKEND_IPSECMB; b++)
        if (s && !strcmp(s, ng_seal_backend_name((ng_seal_backend)b))) return b;
    return -1;
}

ng_status ng_seal_backend_resolve(ng_seal_backend want, ng_seal_backend *got)
{
    const char *env = want == NG_SEAL_BACKEND_AUTO ? getenv("NG_SEAL_BACKEND") : NULL;
    if (env && *env) {
        int b = ng_seal_backend_parse(env);
        if (b < 0)
            return ng_fail(NG_E_INVALID, "NG_SEAL_BACKEND=%s: unknown AES-256-GCM implementation (openssl, ipsec-mb "
                           "or auto; or unset it)", env);
        want = (ng_seal_backend)b;
    }
    if (want == NG_SEAL_BACKEND_AUTO) want = ipsecmb_ok() ? NG_SEAL_BACKEND_IPSECMB : NG_SEAL_BACKEND_OPENSSL;
    if (want == NG_SEAL_BACKEND_IPSECMB && !ipsecmb_ok())
        return ng_fail(NG_E_UNSUPPORTED, "AES-256-GCM implementation ipsec-mb%s is not available: %s; use openssl",
                       env && *env ? " (asked by NG_SEAL_BACKEND)" : "",
#ifdef NG_HAVE_IPSECMB
                       "this CPU lacks AES-NI or PCLMULQDQ"
#else
                       "nnguard was built without libipsec-mb (scripts/install-deps.sh installs it)"
#endif
        );
    if (want != NG_SEAL_BACKEND_OPENSSL && want != NG_SEAL_BACKEND_IPSECMB)
        return ng_fail(NG_E_INVALID, "unknown AES-256-GCM implementation %d", (int)want);
    *got = want;
    return NG_OK;
}

const char *ng_gcm_describe(ng_seal_backend b)
{
#ifdef NG_HAVE_IPSECMB
    if (b == NG_SEAL_BACKEND_IPSECMB) return ipsecmb_ok() ? imb.desc : "ipsec-mb (not available on this CPU)";
#endif
    if (b == NG_SEAL_BACKEND_IPSECMB) return "ipsec-mb (not built in)";
    return OpenSSL_version(OPENSSL_VERSION);
}

struct ng_gcm {
#ifdef NG_HAVE_IPSECMB
    /* 64-byte aligned, as the library's own build declares it (the header does so only when LINUX
     * is defined): the struct is then a multiple of 64 bytes, so sodium_malloc returns it aligned */
    _Alignas(64) struct gcm_key_data kd;
    struct gcm_context_data cx;
#endif
    uint8_t key[32];                /* the key kd was expanded from */
    int has_key;
    ng_seal_backend b;
    EVP_CIPHER_CTX *e;
};

ng_status ng_gcm_new(ng_seal_backend b, ng_gcm **out)
{
    *out = NULL;
    if (b == NG_SEAL_BACKEND_IPSECMB && !ipsecmb_ok())
        return ng_fail(NG_E_UNSUPPORTED, "AES-256-GCM implementation ipsec-mb is not available here");
    ng_gcm *g = sodium_malloc(sizeof *g);   /* guard pages, locked; sodium_free wipes it too */
    if (!g) return ng_fail(NG_E_NOMEM, "out of memory for an AES-256-GCM context");
    memset(g, 0, sizeof *g);
    g->b = b;
    if ((uintptr_t)g % 64 != 0 ||
        (b == NG_SEAL_BACKEND_OPENSSL && !(g->e = EVP_CIPHER_CTX_new()))) {
        sodium_free(g);
        return ng_fail(NG_E_NOMEM, "out of memory for an AES-256-GCM context");
    }
    *out = g;
    return NG_OK;
}

void ng_gcm_free(ng_gcm *g)
{
    if (!g) return;
    EVP_CIPHER_CTX_free(g->e);      /* OpenSSL cleanses its key schedule */
    sodium_memzero(g, sizeof *g);   /* expanded key, hash-key powers, GCM state, raw key */
    sodium_free(g);
}

static int openssl_gcm(EVP_CIPHER_CTX *e, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad,
                       size_t adlen, uint8_t *d, size_t n, uint8_t tag[16], int open)
{
    int len;
    if (n > INT32_MAX || adlen > INT32_MAX) return -1;
    if (!EVP_CipherInit_ex(e, EVP_aes_256_gcm(), NULL, key, nonce, !open)) return -1;
    if (adlen && !EVP_CipherUpdate(e, NULL, &len, ad, (int)adlen)) return -1;
    if (n && !EVP_CipherUpdate(e, d, &len, d, (int)n)) return -1;
    if (open) {
        if (!EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_SET_TAG, 16, tag)) return -1;
        return EVP_CipherFinal_ex(e, d + n, &len) == 1;
    }
    if (!EVP_CipherFinal_ex(e, d + n, &len)) return -1;
    return EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1 ? 1 : -1;
}

int ng_gcm_crypt(ng_gcm *g, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t adlen,
                 uint8_t *d, size_t n, uint8_t tag[16], int open)
{
    if (g->b == NG_SEAL_BACKEND_OPENSSL) return openssl_gcm(g->e, key, nonce, ad, adlen, d, n, tag, open);
#ifdef NG_HAVE_IPSECMB
    if (!g->has_key || sodium_memcmp(g->key, key, 32) != 0) {   /* a new tensor: expand its key once */
        imb.pre(key, &g->kd);
        memcpy(g->key, key, 32);
        g->has_key = 1;
    }
    imb.init(&g->kd, &g->cx, nonce, ad, adlen);
    if (!open) {
        if (n) imb.enc(&g->kd, &g->cx, d, d, n);
        imb.enc_final(&g->kd, &g->cx, tag, 16);
        return 1;
    }
    uint8_t t[16];
    if (n) imb.dec(&g->kd, &g->cx, d, d, n);
    imb.dec_final(&g->kd, &g->cx, t, 16);
    int ok = sodium_memcmp(t, tag, 16) == 0;
    sodium_memzero(t, sizeof t);
    return ok;
#else
    return -1;
#endif
}
