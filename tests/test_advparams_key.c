/* test_advparams_key: the AdvParams key file codec alone (fast; runs under the sanitizers):
 * encode/decode round trip, known header bytes, every truncation and every single-bit flip of a
 * plain key refused (checksum), forged payloads with a valid checksum refused by the bounds
 * checks (entry count, name length, stray bytes), sealed round trip and wrong passphrase. */
#include "tutil.h"
#include "nnguard/advparams.h"
#include "protect/advparams/advparams_impl.h"
#include "core/core.h"
#include <sodium.h>

/* Refresh the SHA-256 trailer and body length after editing a payload. */
static void reseal_sum(uint8_t *b, size_t n)
{
    ng_put_le64(b + 16, n - 56);
    crypto_hash_sha256(b + n - 32, b, n - 32);
}

int main(void)
{
    CHECK_OK(ng_init());
    ng_adv_key *k = ng_adv_key_new();
    CHECK(k != NULL);
    if (!k) return tu_done();
    for (int i = 0; i < 32; i++) { k->id_after[i] = (uint8_t)i; k->id_before[i] = (uint8_t)(255 - i); }
    k->seed = 42; k->rule = NG_ADV_RULE_GAIN; k->form = 1; k->budget = 25; k->set_size = 512; k->target_acc = 0.15; k->acc_before = 0.8; k->acc_after = 0.1;
    CHECK_OK(ng_adv_key_push(k, "c1.weight", 7, 0x3e800000u, 0xbf000000u));
    CHECK_OK(ng_adv_key_push(k, "f3.weight", 811, 0x00000001u, 0x7fc00001u));   /* denormal -> NaN payload */

    uint8_t *b;
    size_t n;
    CHECK_OK(ng_adv_key_encode(k, NULL, 0, &b, &n));
    /* 24 header + 64 ids + 8+4+4+4+4+24 + 4 pattern + 4 count + 2 entries (4+9+8+4+4) + 32 sum */
    CHECK(n == 24 + 64 + 48 + 4 + 4 + 2 * 29 + 32);
    CHECK(memcmp(b, "NGADVKEY\x02\0\0\0\0\0\0\0", 16) == 0);
    CHECK(ng_le64(b + 16) == n - 56);
    ng_adv_key *r = NULL;
    CHECK_OK(ng_adv_key_decode(b, n, "k", NULL, 0, &r));
    if (r) {
        ng_adv_entry e;
        CHECK(ng_adv_key_count(r) == 2);
        ng_adv_key_entry(r, 1, &e);
        CHECK(!strcmp(e.tensor, "f3.weight") && e.index == 811 && e.orig_bits == 1 && e.pert_bits == 0x7fc00001u);
        uint64_t seed; int budget; int64_t set; double ta, ab, aa; const char *pat;
        ng_adv_key_info(r, &seed, &budget, &set, &ta, &ab, &aa, &pat);
        CHECK(ng_adv_key_rule(r) == NG_ADV_RULE_GAIN && ng_adv_key_hardened(r));
        CHECK(seed == 42 && budget == 25 && set == 512 && ta == 0.15 && ab == 0.8 && aa == 0.1 && !strcmp(pat, ""));
        uint8_t id[32];
        ng_adv_key_id_after(r, id);
        CHECK(memcmp(id, k->id_after, 32) == 0);
        ng_adv_key_id_before(r, id);
        CHECK(memcmp(id, k->id_before, 32) == 0);
        ng_adv_key_free(r);
    }
    /* every truncation, every bit flip */
    int refused = 0, total = 0;
    for (size_t cut = 0; cut < n; cut++, total++) {
        r = NULL;
        if (ng_adv_key_decode(b, cut, "k", NULL, 0, &r) == NG_E_KEY && !r) refused++;
    }
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++, total++) {
            b[i] ^= (uint8_t)(1 << bit);
            r = NULL;
            ng_status st = ng_adv_key_decode(b, n, "k", NULL, 0, &r);
            if (st != NG_OK && !r) refused++;
            b[i] ^= (uint8_t)(1 << bit);
        }
    CHECKF(refused == total, "%d of %d damaged keys refused", refused, total);

    /* forged payloads with a valid checksum */
    size_t count_at = 24 + 64 + 48 + 4;
    ng_put_le32(b + count_at, 1000000);                  /* more entries than bytes */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_FORMAT);
    ng_put_le32(b + count_at, 1);                        /* fewer: stray bytes */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_FORMAT);
    ng_put_le32(b + count_at, 2);
    ng_put_le32(b + count_at + 4, 0xffffffffu);          /* name length */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_FORMAT);
    ng_put_le32(b + count_at + 4, 9);
    b[count_at + 8 + 2] = 0;                             /* NUL inside a name */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_FORMAT);
    ng_put_le32(b + count_at + 4, 9);
    b[count_at + 8 + 2] = '.';
    ng_put_le32(b + 24 + 64 + 16, 7);                    /* unknown rule */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_FORMAT);
    ng_put_le32(b + 24 + 64 + 16, 1);
    ng_put_le32(b + 24 + 64 + 20, 2);                    /* unknown form */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_FORMAT);
    ng_put_le32(b + 24 + 64 + 20, 1);
    reseal_sum(b, n);
    CHECK_OK(ng_adv_key_decode(b, n, "k", NULL, 0, &r));   /* repaired: accepted again */
    ng_adv_key_free(r);
    ng_put_le32(b + 8, 3);                               /* future version */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_UNSUPPORTED);
    sodium_memzero(b, n);
    free(b);

    /* sealed */
    CHECK_OK(ng_adv_key_encode(k, "pw", 2, &b, &n));
    CHECK(b[12] == 1);
    CHECK_ST(ng_adv_key_decode(b, n, "k", NULL, 0, &r), NG_E_KEY);
    CHECK_ST(ng_adv_key_decode(b, n, "k", "pX", 2, &r), NG_E_KEY);
    CHECK_OK(ng_adv_key_decode(b, n, "k", "pw", 2, &r));
    if (r) { CHECK(ng_adv_key_count(r) == 2); ng_adv_key_free(r); }
    b[24 + 16 + 16 + 24 + 5] ^= 1;                       /* ciphertext, checksum refreshed */
    reseal_sum(b, n);
    CHECK_ST(ng_adv_key_decode(b, n, "k", "pw", 2, &r), NG_E_KEY);
    free(b);

    /* version 1 (before the form field; the committed fuzz seed): still read, as the paper form */
    uint8_t *v1;
    size_t n1;
    CHECK_OK(ng_read_file(tu_path("../fuzz/corpus/advkey/plain3_v1"), 1 << 20, &v1, &n1));
    if (v1) {
        CHECK(ng_le32(v1 + 8) == 1);
        CHECK_OK(ng_adv_key_decode(v1, n1, "v1", NULL, 0, &r));
        if (r) { CHECK(ng_adv_key_count(r) == 3 && !ng_adv_key_hardened(r)); ng_adv_key_free(r); }
        free(v1);
    }

    ng_adv_key *empty = ng_adv_key_new();
    CHECK_ST(ng_adv_key_encode(empty, NULL, 0, &b, &n), NG_E_INVALID);
    ng_adv_key_free(empty);
    ng_adv_key_free(k);
    return tu_done();
}
