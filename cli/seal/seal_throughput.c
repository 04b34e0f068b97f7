/* cli/seal/seal_throughput.c - seal and unseal GB/s in memory over given bytes, for the throughput
 * rows of `nnguard eval-scheme deeplock` / `nnguard evaluate` (beside lock, unlock and memcpy of the
 * same bytes in the same run). The bytes are wrapped as one F32 tensor of an in-memory safetensors
 * model, sealed and unsealed in place on all cores (ng_seal / ng_unseal, the AEAD ng_seal picks),
 * best of reps; the round trip must give the bytes back bit for bit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "core/core.h"
#include "eval_scheme.h"

/* A safetensors image holding data as the tensor "bench" (F32, shape [bytes / 4]). */
static uint8_t *safetensors_image(const uint8_t *data, size_t bytes, size_t *len)
{
    char head[160];
    int n = snprintf(head, sizeof head, "{\"bench\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}}",
                     bytes / 4, bytes);
    size_t hl = ((size_t)n + 7) & ~(size_t)7;   /* the header padded with spaces to 8 bytes */
    uint8_t *img = malloc(8 + hl + bytes);
    if (!img) return NULL;
    for (int i = 0; i < 8; i++) img[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(img + 8, head, (size_t)n);
    memset(img + 8 + n, ' ', hl - (size_t)n);
    memcpy(img + 8 + hl, data, bytes);
    *len = 8 + hl + bytes;
    return img;
}

ng_status ng_cli_seal_throughput(const uint8_t *data, size_t bytes, int threads, int reps, json_t *o)
{
    if (bytes % 4) return ng_fail(NG_E_INVALID, "seal throughput: %zu bytes is not a whole number of F32 values", bytes);
    size_t len;
    uint8_t *img = safetensors_image(data, bytes, &len);
    if (!img) return NG_E_NOMEM;
    ng_weights *w = NULL;
    ng_status st = ng_weights_open_buffer(img, len, NG_FMT_SAFETENSORS, "seal-throughput", &w);
    free(img);
    if (st != NG_OK) return st;
    ng_key k;
    memset(&k, 0, sizeof k);
    ng_deeplock_secret s = {.key = &k};
    ng_seal_options so = ng_seal_options_default();
    so.threads = threads;
    double best_seal = 1e9, best_unseal = 1e9;
    char aead[32] = "";
    if ((st = ng_key_generate(256, &k)) != NG_OK) goto out;
    for (int rep = 0; rep < reps && st == NG_OK; rep++) {
        double t = ng_now();
        if ((st = ng_seal(w, &s, &so)) != NG_OK) break;
        double d = ng_now() - t;
        if (d < best_seal) best_seal = d;
        const char *a = ng_weights_meta_get(w, "nnguard.seal.aead");
        snprintf(aead, sizeof aead, "%s", a ? a : "?");
        t = ng_now();
        if ((st = ng_unseal(w, &s, &so)) != NG_OK) break;
        d = ng_now() - t;
        if (d < best_unseal) best_unseal = d;
    }
    if (st != NG_OK) goto out;
    const ng_param *p = ng_weights_param_c(w, 0);
    if (ng_weights_count(w) != 1 || p->nbytes != bytes || memcmp(p->data, data, bytes)) {
        st = ng_fail(NG_E_INTERNAL, "seal/unseal round trip is not exact");
        goto out;
    }
    double gb = (double)bytes / 1e9;
    json_object_set_new(o, "seal_gb_s", ng_json_num(gb / best_seal));
    json_object_set_new(o, "unseal_gb_s", ng_json_num(gb / best_unseal));
    json_object_set_new(o, "seal_aead", json_string(aead));
    json_object_set_new(o, "seal_roundtrip_exact", json_true());
    printf("  seal (%s, the same bytes as one tensor): seal %.2f GB/s, unseal %.2f GB/s\n", aead, gb / best_seal,
           gb / best_unseal);
out:
    ng_key_wipe(&k);
    ng_weights_free(w);
    return st;
}
