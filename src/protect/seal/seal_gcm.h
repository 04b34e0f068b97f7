/* protect/seal/seal_gcm.h - AES-256-GCM of sealed-file chunks (96-bit nonce, 16-byte tag) with two
 * implementations that give the same bytes (NIST SP 800-38D; tests/test_seal_gcm.c checks both on
 * the standard vectors and against each other):
 *   NG_SEAL_BACKEND_IPSECMB  Intel's multi-buffer crypto library (ipsec-mb) through its direct GCM
 *                            API: the kernels of the best architecture the CPU has (VAES +
 *                            VPCLMULQDQ on 512-bit registers on AVX-512 CPUs, else AVX2 / AVX / SSE
 *                            with AES-NI and PCLMULQDQ). Only where the build found the library.
 *   NG_SEAL_BACKEND_OPENSSL  OpenSSL EVP (3.0: AES-NI and PCLMULQDQ, no VAES path for GCM).
 * One ng_gcm per thread; it keeps the last key's expanded form (round keys, hash-key powers) in
 * guarded memory and wipes it when freed.
 *
 *     ng_seal_backend b;
 *     if ((st = ng_seal_backend_resolve(o->backend, &b)) != NG_OK) return st;
 *     ng_gcm *g;  ng_gcm_new(b, &g);
 *     int ok = ng_gcm_crypt(g, key, nonce, ad, adlen, data, n, tag, open);   // in place
 *     ng_gcm_free(g);
 */
#ifndef NG_PROTECT_SEAL_GCM_H
#define NG_PROTECT_SEAL_GCM_H
#include "nnguard/seal.h"

typedef struct ng_gcm ng_gcm;
/* b must be resolved (not AUTO). NG_E_NOMEM, or NG_E_UNSUPPORTED when b is not available here. */
ng_status ng_gcm_new(ng_seal_backend b, ng_gcm **out);
/* Encrypt (open = 0: tag written) or decrypt and check (open = 1: tag read) n bytes at d in place
 * with key, nonce and the associated data. 1 ok, 0 tag mismatch (d then holds the unchecked
 * decryption: the caller wipes it), -1 the implementation failed (OpenSSL out of memory). */
int ng_gcm_crypt(ng_gcm *g, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *ad, size_t adlen,
                 uint8_t *d, size_t n, uint8_t tag[16], int open);
/* Wipes the expanded key and the GCM state; NULL is fine. */
void ng_gcm_free(ng_gcm *g);
/* What runs for b, for logs and benches: "ipsec-mb 1.3.0 (avx512, VAES)", "OpenSSL 3.0.19 ...". */
const char *ng_gcm_describe(ng_seal_backend b);
#endif
