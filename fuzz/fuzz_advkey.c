/* fuzz_advkey: the AdvParams key file parser (ng_adv_key_decode) on arbitrary bytes.
 * Plain keys only (no passphrase: a sealed body stops before Argon2id), so the payload parser
 * is reached whenever the checksum fits; the harness recomputes the trailer for that purpose
 * on half of the inputs (and a consistent header). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "nnguard/nnguard.h"
#include "nnguard/advparams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) { ng_init(); inited = 1; }
    ng_adv_key *k = NULL;
    if (ng_adv_key_decode(data, size, "fuzz", NULL, 0, &k) == NG_OK) ng_adv_key_free(k);
    if (size >= 56 && (data[size - 1] & 1)) {
        /* Same bytes with a valid checksum, so the payload parser sees them. */
        uint8_t *b = malloc(size);
        memcpy(b, data, size);
        memcpy(b, "NGADVKEY", 8);
        b[8] = 1; b[9] = b[10] = b[11] = 0;                  /* version 1 */
        b[12] &= 1; b[13] = b[14] = b[15] = 0;               /* flags: plain or sealed */
        uint64_t body = size - 56;
        for (int i = 0; i < 8; i++) b[16 + i] = (uint8_t)(body >> (8 * i));
        crypto_hash_sha256(b + size - 32, b, size - 32);
        if (ng_adv_key_decode(b, size, "fuzz", NULL, 0, &k) == NG_OK) ng_adv_key_free(k);
        free(b);
    }
    return 0;
}
