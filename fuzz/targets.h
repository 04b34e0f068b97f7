/* fuzz/targets.h - every parser nnguard exposes to untrusted bytes, as one function each.
 *
 * A target takes arbitrary bytes, runs the parser (and whatever consumes its result),
 * frees everything and returns 0. It must never crash, leak or hang, whatever the bytes.
 * Each target is used twice:
 *   fuzz/fuzz_<name>.c          a libFuzzer harness:  NG_FUZZ_HARNESS(ng_fuzz_<name>)
 *   tests/test_fuzz_corpus.c    replays fuzz/corpus/<name>/ and fuzz/regressions/<name>/
 * Adding a parser (license files, HTTP bodies) = one function here, one row in
 * ng_fuzz_targets[], one 2-line harness file, a few seed files (fuzz/make_corpus.c).
 *
 * Fixed secrets the targets use (the seeds are made with the same ones, see make_corpus.c):
 *   Deep-Lock key: bytes 0x00..0x1f (ctr, 256 bits) or 0x00..0x0f (expand, 128 bits);
 *   passphrase "fuzz-pass" for sealed key files, sealed with cheap Argon2id costs;
 *   seal key: the 256-bit Deep-Lock key above; identities (licenses): Ed25519 and X25519 key pairs
 *   from crypto_sign_seed_keypair / crypto_box_seed_keypair with seed bytes all 0x11 (issuer) or
 *   0x22 (licensee) (ng_fuzz_identity).
 */
#ifndef NG_FUZZ_TARGETS_H
#define NG_FUZZ_TARGETS_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sodium.h>
#include "nnguard/license.h"

typedef int (*ng_fuzz_fn)(const uint8_t *data, size_t size);
typedef struct ng_fuzz_target { const char *name; ng_fuzz_fn fn; } ng_fuzz_target;
extern const ng_fuzz_target ng_fuzz_targets[];
extern const int ng_fuzz_ntargets;

#define NG_FUZZ_PASS "fuzz-pass"

int ng_fuzz_onnx(const uint8_t *data, size_t size);        /* ONNX weights open + graph import */
int ng_fuzz_safetensors(const uint8_t *data, size_t size); /* safetensors in memory */
int ng_fuzz_st_header(const uint8_t *data, size_t size);   /* safetensors header parse/serialise */
int ng_fuzz_st_stream(const uint8_t *data, size_t size);   /* streaming header read + streaming unlock */
int ng_fuzz_idx(const uint8_t *data, size_t size);         /* IDX images + labels (dataset) */
int ng_fuzz_cli_idx(const uint8_t *data, size_t size);     /* the CLI's IDX images reader */
int ng_fuzz_cifar(const uint8_t *data, size_t size);       /* CIFAR-10 binary */
int ng_fuzz_key(const uint8_t *data, size_t size);         /* Deep-Lock key files, plain + sealed */
int ng_fuzz_advkey(const uint8_t *data, size_t size);      /* AdvParams key files, plain + sealed */
int ng_fuzz_locked(const uint8_t *data, size_t size);      /* locked models: unlock/decrypt with fixed keys */
int ng_fuzz_info(const uint8_t *data, size_t size);        /* `nnguard info` (its own ONNX scanner) */
int ng_fuzz_http_req(const uint8_t *data, size_t size);    /* /v1/predict: JSON / float32 bodies, bearer header */
int ng_fuzz_clients(const uint8_t *data, size_t size);     /* serve's clients file, token lookup, admission */
int ng_fuzz_wm_opts(const uint8_t *data, size_t size);     /* watermark options: --wm-strength, --wm-mode */
int ng_fuzz_license_meta(const uint8_t *data, size_t size);/* SecureNet metadata: stamp line, keys list (also a bind_only), slots */
int ng_fuzz_sealed(const uint8_t *data, size_t size);      /* sealed models: metadata, fields, tags, unseal */
int ng_fuzz_license(const uint8_t *data, size_t size);     /* license files, identity files (secret, public) */

/* The fixed identity of seed byte b (0x11 issuer, 0x22 licensee). */
static inline void ng_fuzz_identity(uint8_t b, ng_identity *out)
{
    uint8_t seed[32];
    memset(seed, b, sizeof seed);
    crypto_sign_seed_keypair(out->pub.sign, out->sign_sk, seed);
    crypto_box_seed_keypair(out->pub.box, out->box_sk, seed);
}
int ng_fuzz_npy(const uint8_t *data, size_t size);         /* NumPy .npy arrays (predict --input) */
int ng_fuzz_image(const uint8_t *data, size_t size);       /* PNG/JPEG decode + resize to a model input */

#define NG_FUZZ_HARNESS(fn) \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#endif
