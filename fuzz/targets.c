/* fuzz/targets.c - the fuzz targets (see targets.h). Compiled into each harness and
 * into tests/test_fuzz_corpus.c (which #includes it). Fixed keys, no randomness: an input
 * always takes the same path, so a crash found by libFuzzer replays in the test. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sodium.h>
#include "targets.h"
#include "nnguard/nnguard.h"
#include "nnguard/safetensors.h"
#include "core/core.h"
#include "nnguard/keys.h"
#include "nnguard/deeplock.h"
#include "nnguard/advparams.h"
#include "nnguard/dynamarks.h"
#include "nnguard/serve.h"
#include "nnguard/inputs.h"
#include "protect/advparams/advparams_impl.h"
#include "protect/deeplock/deeplock_impl.h"
#include "protect/seal/seal_impl.h"
#include "idx_images.h"
#include "cli.h"
#include <fcntl.h>

/* Bytes as a file path (memfd, no disk). Returns the fd (close it) and fills path. */
static int memfile(const uint8_t *data, size_t size, char path[64])
{
    int fd = memfd_create("ng-fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* The fixed Deep-Lock key: bytes 0, 1, 2, ... (32 for ctr, 16 for expand). */
static void fixed_key(ng_key *k, size_t len)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < len; i++) k->k[i] = (uint8_t)i;
    k->len = len;
}

static void exercise_weights(ng_weights *w)
{
    uint8_t id[32];
    char hex[65];
    for (size_t i = 0; i < ng_weights_count(w); i++) {
        ng_param *p = ng_weights_param(w, i);
        if (p->nbytes) p->data[p->nbytes - 1] ^= 1;   /* params must be writable */
    }
    for (size_t i = 0; i < ng_weights_meta_count(w); i++) {
        const char *k, *v;
        ng_weights_meta_at(w, i, &k, &v);
        (void)k; (void)v;
    }
    ng_weights_id(w, id);
    ng_id_hex(id, hex);
}

int ng_fuzz_onnx(const uint8_t *data, size_t size)
{
    ng_weights *w;
    ng_init();
    if (ng_weights_open_buffer(data, size, NG_FMT_ONNX, "fuzz.onnx", &w) != NG_OK) return 0;
    ng_model *m;
    if (ng_model_from_weights(w, &m) == NG_OK) ng_model_free(m);
    exercise_weights(w);
    ng_weights_free(w);
    return 0;
}

int ng_fuzz_safetensors(const uint8_t *data, size_t size)
{
    ng_weights *w;
    ng_init();
    if (ng_weights_open_buffer(data, size, NG_FMT_SAFETENSORS, "fuzz.safetensors", &w) != NG_OK) return 0;
    exercise_weights(w);
    ng_weights_free(w);
    return 0;
}

/* Parse, serialise, parse again: the second parse must succeed and agree. */
int ng_fuzz_st_header(const uint8_t *data, size_t size)
{
    ng_st_header *h, *h2;
    if (ng_st_header_parse(data, size, size, "fuzz.safetensors", &h) != NG_OK) return 0;
    uint8_t *out;
    size_t len;
    if (ng_st_header_serialize(h, &out, &len) == NG_OK) {
        uint64_t file_size = len + ng_st_header_data_size(h);
        if (ng_st_header_parse(out, len, file_size, "reserialised", &h2) != NG_OK) abort();
        if (ng_st_header_count(h2) != ng_st_header_count(h)) abort();
        ng_st_header_free(h2);
        free(out);
    }
    ng_st_header_free(h);
    return 0;
}

/* A private folder for the streaming target's output files (removed at exit). */
static char stream_dir[64];
static void stream_dir_rm(void) { if (stream_dir[0]) rmdir(stream_dir); }
static const char *stream_out(void)
{
    static char out[128];
    if (!stream_dir[0]) {
        snprintf(stream_dir, sizeof stream_dir, "%s/ng-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(stream_dir)) { stream_dir[0] = 0; return NULL; }
        atexit(stream_dir_rm);
    }
    snprintf(out, sizeof out, "%s/out.safetensors", stream_dir);
    return out;
}

/* The streaming path: header from a file descriptor, then the streaming unlock (locked input)
 * or lock (plain input) with the fixed key, one thread, small chunks. */
int ng_fuzz_st_stream(const uint8_t *data, size_t size)
{
    ng_init();
    char in[64];
    int fd = memfile(data, size, in);
    if (fd < 0) return 0;
    ng_st_header *h;
    if (ng_st_header_read_fd(fd, "fuzz.safetensors", &h) == NG_OK) {
        const char *scheme = ng_st_header_meta_get(h, "nnguard.scheme");
        const char *ks = ng_st_header_meta_get(h, "nnguard.keystream");
        ng_key k;
        fixed_key(&k, ks && strcmp(ks, "expand") == 0 ? 16 : 32);
        ng_deeplock_secret s = {.key = &k};
        ng_deeplock_options o = ng_deeplock_options_default();
        o.threads = 1;
        o.chunk_bytes = 256;
        const char *out = stream_out();
        if (out) {
            if (scheme) ng_deeplock_unlock_stream(in, out, &s, &o);
            else ng_deeplock_lock_stream(in, out, &s, &o);
            unlink(out);
        }
        ng_st_header_free(h);
    }
    close(fd);
    return 0;
}

/* First 4 bytes: little-endian split point; images file = data[4:4+k], labels = the rest. */
int ng_fuzz_idx(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    uint32_t k = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    data += 4; size -= 4;
    if (k > size) k = (uint32_t)size;
    char p1[64], p2[64];
    int f1 = memfile(data, k, p1), f2 = memfile(data + k, size - k, p2);
    if (f1 >= 0 && f2 >= 0) {
        ng_dataset d;
        if (ng_dataset_load_idx(p1, p2, &d) == NG_OK) ng_dataset_free(&d);
    }
    if (f1 >= 0) close(f1);
    if (f2 >= 0) close(f2);
    return 0;
}

/* cli/idx_images.c: an IDX images file alone, all images and the first 3. */
int ng_fuzz_cli_idx(const uint8_t *data, size_t size)
{
    char p[64];
    int f = memfile(data, size, p);
    if (f < 0) return 0;
    ng_idx_images im;
    if (ng_idx_images_load(p, 0, &im) == NG_OK) ng_idx_images_free(&im);
    if (ng_idx_images_load(p, 3, &im) == NG_OK) ng_idx_images_free(&im);
    close(f);
    return 0;
}

int ng_fuzz_cifar(const uint8_t *data, size_t size)
{
    char p[64];
    int f = memfile(data, size, p);
    if (f < 0) return 0;
    const char *files[1] = {p};
    ng_dataset d;
    if (ng_dataset_load_cifar(files, 1, &d) == NG_OK) ng_dataset_free(&d);
    close(f);
    return 0;
}

/* Deep-Lock key files. Without a passphrase first; a sealed file whose Argon2id costs are
 * cheap (the seeds' are: opslimit 1, 8 KiB) is opened with the fixed passphrase. Dear costs
 * are skipped: a 4 GiB Argon2id is slow by design, not a bug the fuzzer should report. */
int ng_fuzz_key(const uint8_t *data, size_t size)
{
    ng_init();
    ng_key k;
    if (ng_key_parse(data, size, "fuzz.key", NULL, 0, &k) == NG_OK) { ng_key_wipe(&k); return 0; }
    const char *kdf = size < NG_KEY_FILE_MAX ? memmem(data, size, "kdf: argon2id ", 14) : NULL;
    if (!kdf) return 0;
    char line[128] = {0}, salt[64];
    size_t n = size - (size_t)(kdf - (const char *)data) - 14;
    memcpy(line, kdf + 14, n < sizeof line - 1 ? n : sizeof line - 1);
    unsigned long long ops, mem;
    if (sscanf(line, "%63s %llu %llu", salt, &ops, &mem) == 3 && ops <= 3 && mem <= (64u << 10)) {
        if (ng_key_parse(data, size, "fuzz.key", NG_FUZZ_PASS, strlen(NG_FUZZ_PASS), &k) == NG_OK) ng_key_wipe(&k);
    }
    return 0;
}

/* A small engine model that AdvParams keys are applied to (built once per process). */
static ng_model *adv_model(void)
{
    static ng_model *m;
    if (!m && ng_model_from_arch("mlp", 1, 4, 4, 3, 1, &m) != NG_OK) m = NULL;
    return m;
}

/* Decrypt with k, then re-apply it: both must refuse or succeed, and a success must round-trip. */
static void adv_use(ng_adv_key *k)
{
    ng_model *m = adv_model();
    if (!m) return;
    size_t n = ng_adv_key_count(k);
    for (size_t i = 0; i < n; i++) { ng_adv_entry e; ng_adv_key_entry(k, i, &e); }
    ng_model *c;
    if (ng_model_clone(m, &c) != NG_OK) return;
    if (ng_adv_apply_model(c, k) == NG_OK && ng_adv_decrypt_model(c, k) == NG_OK &&
        memcmp(ng_model_params_c(c), ng_model_params_c(m), ng_model_nparams(m) * sizeof(float)) != 0)
        abort();   /* apply then decrypt must give the model back bit for bit */
    ng_model_free(c);
}

/* AdvParams key files. First the bytes as they are. Then, when they are at least a header and a
 * trailer long, bytes 24..size-32 are taken as the payload and framed again as the key writer
 * would: plain (flags byte 12 even) with a consistent header and SHA-256 trailer, or sealed
 * (odd) with the fixed passphrase and cheap Argon2id costs, so the payload parser is reached
 * through both paths. Keys that parse are applied to and removed from a small model. */
int ng_fuzz_advkey(const uint8_t *data, size_t size)
{
    ng_init();
    ng_adv_key *k = NULL;
    if (ng_adv_key_decode(data, size, "fuzz", NULL, 0, &k) == NG_OK) { adv_use(k); ng_adv_key_free(k); }
    if (size < 56) return 0;
    const uint8_t *pl = data + 24;
    size_t pn = size - 56, ad = 24 + 16 + 16 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    int sealed = data[12] & 1;
    size_t body = sealed ? ad - 24 + pn + crypto_aead_xchacha20poly1305_ietf_ABYTES : pn;
    size_t total = 24 + body + 32;
    uint8_t *b = calloc(total, 1);
    if (!b) return 0;
    memcpy(b, "NGADVKEY", 8);
    b[8] = 1;                                   /* version 1 */
    b[12] = sealed ? 1 : 0;                     /* flags */
    for (int i = 0; i < 8; i++) b[16 + i] = (uint8_t)((uint64_t)body >> (8 * i));
    if (!sealed) {
        memcpy(b + 24, pl, pn);
    } else {
        uint8_t key[32], *salt = b + 24, *nonce = b + 24 + 32;
        memset(salt, 0x5a, 16);
        b[40] = 1;                              /* opslimit 1 */
        b[48 + 1] = 0x20;                       /* memlimit 8192 bytes */
        memset(nonce, 0xa5, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
        if (crypto_pwhash(key, 32, NG_FUZZ_PASS, strlen(NG_FUZZ_PASS), salt, 1, 8192, crypto_pwhash_ALG_ARGON2ID13) == 0)
            crypto_aead_xchacha20poly1305_ietf_encrypt(b + ad, NULL, pl, pn, b, ad, NULL, nonce, key);
        sodium_memzero(key, sizeof key);
    }
    crypto_hash_sha256(b + total - 32, b, total - 32);
    if (ng_adv_key_decode(b, total, "fuzz", sealed ? NG_FUZZ_PASS : NULL, sealed ? strlen(NG_FUZZ_PASS) : 0,
                          &k) == NG_OK) {
        adv_use(k);
        ng_adv_key_free(k);
    }
    free(b);
    return 0;
}

/* Locked models (nnguard.* metadata). The last byte picks: bit 0 safetensors/ONNX, bit 1 make
 * the checks pass for the fixed key so that unlock goes deeper (format 3: recompute nnguard.kcv
 * and graph_mac from the file's own salt, fields and graph; formats 1-2: set model_id_after to
 * the file's real id), bit 2 no_check. Unlock with the fixed key must refuse or succeed, never crash; then an AdvParams
 * key with positions taken from the input is tried on the same weights. */
static const char *fuzz_meta_get(const void *w, const char *k) { return ng_weights_meta_get(w, k); }

int ng_fuzz_locked(const uint8_t *data, size_t size)
{
    ng_init();
    if (size < 1) return 0;
    uint8_t mode = data[size - 1];
    ng_format fmt = (mode & 1) ? NG_FMT_SAFETENSORS : NG_FMT_ONNX;
    ng_weights *w;
    if (ng_weights_open_buffer(data, size - 1, fmt, "fuzz.locked", &w) != NG_OK) return 0;
    uint8_t id[32];
    char hex[65];
    const char *ks = ng_weights_meta_get(w, "nnguard.keystream");
    ng_key k;
    fixed_key(&k, ks && strcmp(ks, "expand") == 0 ? 16 : 32);
    if (mode & 2) {
        const char *ver = ng_weights_meta_get(w, "nnguard.version");
        ng_dl_state ds;
        uint8_t graph[32], M[32], mac[32];
        if (ver && !strcmp(ver, "3")) {
            if (ng_dl_read_state(w, fuzz_meta_get, "fuzz", &ds) == NG_OK && ng_weights_graph_digest(w, graph) == NG_OK) {
                ng_dl_mac_key(&k, ds.salt, M);
                ng_dl_kcv(M, ds.salt, ds.ks, ds.paper, ds.only, mac);
                ng_id_hex(mac, hex);
                ng_weights_meta_set(w, "nnguard.kcv", hex);
                ng_dl_graph_mac(M, graph, mac);
                ng_id_hex(mac, hex);
                ng_weights_meta_set(w, "nnguard.graph_mac", hex);
            }
        } else {
            ng_weights_id(w, id);
            ng_id_hex(id, hex);
            if (ng_weights_meta_set(w, "nnguard.model_id_after", hex) != NG_OK) { ng_weights_free(w); return 0; }
        }
    }
    ng_deeplock_secret s = {.key = &k};
    ng_deeplock_options o = ng_deeplock_options_default();
    o.threads = 1;
    o.no_check = (mode & 4) != 0;
    if (ng_deeplock_unlock(w, &s, &o) == NG_OK && fmt == NG_FMT_ONNX) {
        ng_model *m;
        if (ng_model_from_weights(w, &m) == NG_OK) ng_model_free(m);
    }
    /* AdvParams: positions in the first parameters, indices from the input's first bytes. */
    ng_adv_key *ak = ng_adv_key_new();
    if (ak) {
        ng_weights_id(w, ak->id_after);
        for (size_t i = 0; i < ng_weights_count(w) && i < 4; i++) {
            const ng_param *p = ng_weights_param_c(w, i);
            uint64_t index = i;
            if (size > 8 * (i + 1)) { index = 0; for (int j = 7; j >= 0; j--) index = index << 8 | data[8 * i + (size_t)j]; }
            if (!(mode & 8)) index %= 64;   /* mostly small indices, sometimes any u64 */
            uint32_t orig = 0, pert = 0;
            if (p->dtype == NG_DT_F32 && index < p->nbytes / 4) memcpy(&pert, p->data + index * 4, 4);
            if (ng_adv_key_push(ak, p->name, index, orig, pert) != NG_OK) break;
        }
        if (ak->n) ng_adv_decrypt(w, ak);
        ng_adv_key_free(ak);
    }
    ng_weights_free(w);
    return 0;
}

/* `nnguard info` (its own ONNX top-level scanner, then the weights/graph import) on the bytes as
 * an .onnx file (last byte even) or a .safetensors file, text and JSON output sent to /dev/null. */
int ng_fuzz_info(const uint8_t *data, size_t size)
{
    ng_init();
    if (size < 1 || !stream_out()) return 0;
    char path[128];
    snprintf(path, sizeof path, "%s/in.%s", stream_dir, (data[size - 1] & 1) ? "safetensors" : "onnx");
    if (ng_write_file_atomic(path, data, size - 1, 0600) != NG_OK) return 0;
    fflush(stdout); fflush(stderr);
    int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (out >= 0 && err >= 0 && null >= 0) {
        dup2(null, 1); dup2(null, 2);
        char *a1[] = {"info", path, NULL}, *a2[] = {"info", path, "--json", NULL};
        ng_cmd_info(2, a1);
        ng_cmd_info(3, a2);
        fflush(stdout); fflush(stderr);
        dup2(out, 1); dup2(err, 2);
    }
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    if (null >= 0) close(null);
    unlink(path);
    ng_clear_error();
    return 0;
}

/* First byte selects: 0 JSON body for 1x2x2 images, 1 JSON for 1x28x28, 2 float32 body for 1x2x2,
 * 3 an Authorization header value looked up in a fixed clients list. The rest is the input. */
int ng_fuzz_http_req(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int sel = data[0] % 4;
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    static const ng_req_shape small = {1, 2, 2}, mnist = {1, 28, 28};
    float *x = NULL;
    int64_t k = 0;
    if (sel == 0 || sel == 1) {
        if (ng_req_parse_json((const char *)b, n, sel ? &mnist : &small, 8, &x, &k) == NG_OK) {
            int32_t lab[8] = {0};
            size_t len;
            /* answer rows of 4 "probabilities": the parsed inputs themselves */
            char *ans = sel == 0 ? ng_req_format_answer(x, lab, k, 4, &len) : NULL;
            free(ans);
        }
    } else if (sel == 2) {
        ng_req_parse_f32(b, n, &small, 8, &x, &k);
    } else {
        char *h = malloc(n + 1);
        if (!h) return 0;
        memcpy(h, b, n);
        h[n] = 0;
        const char *tok;
        size_t tl;
        static const char list[] = "abcdefghijklmnop0123 alice 0 0\nqrstuvwxyzABCDEF4567 bob 3 1\n";
        ng_clients *c;
        if (ng_req_bearer(h, &tok, &tl) == 0 && ng_clients_parse(list, sizeof list - 1, "fuzz", &c) == NG_OK) {
            ng_clients_find(c, tok, tl);
            ng_clients_free(c);
        }
        free(h);
    }
    free(x);
    ng_clear_error();
    return 0;
}

int ng_fuzz_clients(const uint8_t *data, size_t size)
{
    ng_clients *c;
    if (ng_clients_parse((const char *)data, size, "fuzz", &c) == NG_OK) {
        double retry;
        for (size_t i = 0; i < ng_clients_count(c); i++) {
            ng_clients_admit(c, (int)i, 1, 0.0, &retry);
            ng_clients_admit(c, (int)i, 1000, 0.5, &retry);
            (void)ng_clients_name(c, i);
        }
        ng_clients_find(c, (const char *)data, size < 256 ? size : 256);
        ng_clients_free(c);
    }
    ng_clear_error();
    return 0;
}

int ng_fuzz_wm_opts(const uint8_t *data, size_t size)
{
    char s[256];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = 0;
    double a, b;
    if (ng_wm_parse_strength(s, &a, &b) == 0 && !(a >= 0 && a <= b && b < 1)) abort();   /* contract */
    (void)ng_wm_mode_parse(s);
    return 0;
}

int ng_fuzz_license_meta(const uint8_t *data, size_t size)
{
    char s[1024];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = 0;
    char *nl = strchr(s, '\n'), *keys = nl ? nl + 1 : s;
    if (nl) *nl = 0;
    ng_stamp_options o;
    if (ng_license_stamp_parse(s, "fuzz", &o) == NG_OK &&
        !((o.mode == NG_STAMP_PATCH && o.patch >= 1 && o.patch <= NG_LICENSE_MAX_PATCH) ||
          (o.mode == NG_STAMP_BLEND && o.alpha > 0 && o.alpha <= 1)))
        abort();   /* contract */
    char *nl2 = strchr(keys, '\n'), *slots = nl2 ? nl2 + 1 : NULL;
    if (nl2) *nl2 = 0;
    uint64_t mask;
    char id[17] = "0123456789abcdef";
    (void)ng_license_keys_find(keys, id, &mask);
    if (strlen(keys) >= 16) { memcpy(id, keys, 16); (void)ng_license_keys_find(keys, id, &mask); }
    /* a third line: a bound model's nnguard.license.slots (and the second its bind_only), opened
     * with a fixed key; no slot can be forged without the model key */
    static ng_model *bm;
    if (slots && (bm || ng_model_from_arch("mlp", 1, 4, 4, 3, 1, &bm) == NG_OK)) {
        ng_key k = {.len = 32};
        memset(k.k, 0x5a, 32);
        ng_model_meta_set(bm, "nnguard.license.bind", "1");
        ng_model_meta_set(bm, "nnguard.license.bind_only", keys);
        ng_model_meta_set(bm, "nnguard.license.bind_salt", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        ng_model_meta_set(bm, "nnguard.license.bind_mac", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
        ng_model_meta_set(bm, "nnguard.license.slots", slots);
        if (ng_license_unbind(bm, &k) == NG_OK) abort();   /* contract */
    }
    ng_clear_error();
    return 0;
}

/* Sealed model bytes, then a mode byte: bit 0 safetensors (else ONNX); bit 1 recompute kcv and
 * the field MACs under the fixed key (so edited metadata gets past them to the tags, the chunks
 * and the graph check). Then unseal with the fixed key. */
int ng_fuzz_sealed(const uint8_t *data, size_t size)
{
    ng_init();
    if (size < 1) return 0;
    uint8_t mode = data[size - 1];
    ng_format fmt = (mode & 1) ? NG_FMT_SAFETENSORS : NG_FMT_ONNX;
    ng_weights *w;
    if (ng_weights_open_buffer(data, size - 1, fmt, "fuzz.sealed", &w) != NG_OK) return 0;
    ng_key k;
    fixed_key(&k, 32);
    ng_seal_state ss;
    ng_seal_meta sm = ng_seal_meta_of_weights(w);
    if ((mode & 2) && ng_seal_read_state(&sm, &ss) == NG_OK) {
        ng_seal_keys sk;
        uint8_t kcv[32];
        char hex[65];
        ng_seal_keys_init(&sk, &k, ss.salt);
        ng_seal_kcv(&sk, ss.salt, ss.aead, ss.id, kcv);
        ng_id_hex(kcv, hex);
        if (ng_weights_meta_set(w, "nnguard.seal.kcv", hex) == NG_OK &&
            ng_weights_meta_set(w, "nnguard.seal.fields", NULL) == NG_OK)
            ng_seal_write_fields(&sm, &sk);
        ng_seal_keys_wipe(&sk);
    }
    ng_deeplock_secret s = {.key = &k};
    ng_seal_options o = ng_seal_options_default();
    o.threads = 1;
    if (ng_unseal(w, &s, &o) == NG_OK && fmt == NG_FMT_ONNX) {
        ng_model *m;
        if (ng_model_from_weights(w, &m) == NG_OK) ng_model_free(m);
    }
    ng_weights_free(w);
    return 0;
}

/* First byte selects: 0 a license (parse, verify with the fixed issuer, open with the fixed
 * licensee for the model id of all 0x5a bytes), 1 a secret identity file, 2 a public one. */
int ng_fuzz_license(const uint8_t *data, size_t size)
{
    ng_init();
    if (size < 1) return 0;
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    if (data[0] == 0) {
        ng_license l;
        ng_identity iss, me;
        ng_key k;
        uint8_t model[32];
        memset(model, 0x5a, sizeof model);
        ng_fuzz_identity(0x11, &iss);
        ng_fuzz_identity(0x22, &me);
        if (ng_license_parse(b, n, "fuzz.license", &l) == NG_OK) {
            ng_license_verify(&l, "fuzz.license", &iss.pub, 0);
            if (ng_license_open(&l, "fuzz.license", &iss.pub, &me, model, 0, &k) == NG_OK) ng_key_wipe(&k);
        }
        ng_identity_wipe(&iss);
        ng_identity_wipe(&me);
    } else if (data[0] == 1) {
        ng_identity id;
        if (ng_identity_parse(b, n, "fuzz.identity", &id) == NG_OK) ng_identity_wipe(&id);
    } else {
        ng_identity_pub p;
        ng_identity_pub_parse(b, n, "fuzz.pub", &p);
    }
    return 0;
}

/* Parse; what parses must survive a save/parse round trip bit for bit (abort otherwise). */
int ng_fuzz_npy(const uint8_t *data, size_t size)
{
    ng_array a;
    if (ng_npy_parse(data, size, "fuzz.npy", &a) != NG_OK) return 0;
    size_t nb = (size_t)ng_shape_numel(&a.shape) * sizeof(float);
    uint8_t h[640];
    size_t hn = ng_npy_header_f32(&a.shape, h, sizeof h);
    uint8_t *buf = hn ? malloc(hn + nb) : NULL;
    if (buf) {
        memcpy(buf, h, hn);
        if (nb) memcpy(buf + hn, a.x, nb);
        ng_array b;
        if (ng_npy_parse(buf, hn + nb, "rt.npy", &b) != NG_OK || b.shape.ndim != a.shape.ndim ||
            (nb && memcmp(b.x, a.x, nb) != 0))
            abort();
        ng_array_free(&b);
        free(buf);
    }
    ng_array_free(&a);
    return 0;
}

/* Decode, then feed a 3 x 5 x 7 model (resized) and a 1-channel one of the image's own size. */
int ng_fuzz_image(const uint8_t *data, size_t size)
{
    ng_image im;
    if (ng_image_decode(data, size, "fuzz.img", &im) != NG_OK) return 0;
    ng_image_options o = ng_image_options_default();
    float x[3 * 5 * 7];
    o.c = 3; o.h = 5; o.w = 7; o.resize = 1;
    (void)ng_image_to_input(&im, &o, "fuzz.img", x);
    if ((int64_t)im.w * im.h <= 4096) {
        float *y = malloc((size_t)im.w * (size_t)im.h * sizeof *y);
        o.c = 1; o.h = im.h; o.w = im.w; o.resize = 0;
        if (y) (void)ng_image_to_input(&im, &o, "fuzz.img", y);
        free(y);
    }
    ng_image_free(&im);
    return 0;
}

const ng_fuzz_target ng_fuzz_targets[] = {
    {"onnx", ng_fuzz_onnx},
    {"safetensors", ng_fuzz_safetensors},
    {"st_header", ng_fuzz_st_header},
    {"st_stream", ng_fuzz_st_stream},
    {"idx", ng_fuzz_idx},
    {"cli_idx", ng_fuzz_cli_idx},
    {"cifar", ng_fuzz_cifar},
    {"key", ng_fuzz_key},
    {"advkey", ng_fuzz_advkey},
    {"locked", ng_fuzz_locked},
    {"info", ng_fuzz_info},
    {"http_req", ng_fuzz_http_req},
    {"clients", ng_fuzz_clients},
    {"wm_opts", ng_fuzz_wm_opts},
    {"license_meta", ng_fuzz_license_meta},
    {"sealed", ng_fuzz_sealed},
    {"license", ng_fuzz_license},
    {"npy", ng_fuzz_npy},
    {"image", ng_fuzz_image},
};
const int ng_fuzz_ntargets = (int)(sizeof ng_fuzz_targets / sizeof ng_fuzz_targets[0]);
