/* bench_deeplock: Deep-Lock throughput against memcpy of the same bytes in the same run.
 *
 * 1 GiB of F32 parameters (NG_BENCH_MB to change) in 16 tensors. Times, best of NG_BENCH_REPS
 * (default 3), each as GB/s (1e9 bytes/s) and as a ratio to memcpy measured in this run:
 *   memcpy      1 GiB RAM to RAM, one core (the baseline)
 *   memory      ng_deeplock_lock_params / unlock_params in place, all cores (ctr, expand)
 *   tmpfs       ng_deeplock_lock_stream / unlock_stream of a safetensors file in /dev/shm
 *               (pread, (un)lock, pwrite, SHA-256 ids of input and output, commit): what nnguard
 *               itself costs, without this machine's disk; plus a pread/pwrite copy of the file
 *   disk        the same in NG_BENCH_DIR (default /tmp), including fsync, for information
 * Removes its files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nnguard/nnguard.h"
#include "nnguard/safetensors.h"
#include "core/core.h"
#include "core/pool.h"
#include "protect/deeplock/aes_sbox.h"

#define NT 16

static double mc_gbps;   /* memcpy GB/s of this run */

static double gbps(double bytes, double s) { return bytes / s / 1e9; }

static void report(const char *label, double bytes, double secs)
{
    printf("%-46s %7.2f GB/s  %5.2fx memcpy\n", label, gbps(bytes, secs), gbps(bytes, secs) / mc_gbps);
}

static int make_file(const char *path, size_t total, const uint8_t *buf)
{
    ng_st_header *h;
    if (ng_st_header_new(&h) != NG_OK) return -1;
    for (int i = 0; i < NT; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%02d.weight", i);
        ng_shape s = {2, {(int64_t)(total / NT / 4 / 1024), 1024}};
        ng_st_header_add(h, name, NG_DT_F32, &s);
    }
    uint8_t *hdr;
    size_t hlen;
    ng_status st = ng_st_header_serialize(h, &hdr, &hlen);
    ng_st_header_free(h);
    if (st != NG_OK) return -1;
    ng_awriter w;
    st = ng_awrite_open(&w, path, NG_MODE_PUBLIC);
    if (st == NG_OK) st = ng_awrite(&w, hdr, hlen);
    if (st == NG_OK) st = ng_awrite(&w, buf, total);
    if (st == NG_OK) st = ng_awrite_commit(&w);
    free(hdr);
    return st == NG_OK ? 0 : -1;
}

/* pread/pwrite through the atomic writer (commit fsyncs): the I/O floor of the streaming path. */
static double copy_file(const char *in, const char *out, size_t chunk)
{
    double t0 = ng_now();
    int fd = open(in, O_RDONLY);
    uint8_t *b = malloc(chunk);
    ng_awriter w;
    if (fd < 0 || !b || ng_awrite_open(&w, out, NG_MODE_PUBLIC) != NG_OK) { free(b); if (fd >= 0) close(fd); return 1e9; }
    ssize_t r;
    uint64_t off = 0;
    while ((r = pread(fd, b, chunk, (off_t)off)) > 0) { ng_awrite_pwrite(&w, b, (size_t)r, off); off += (uint64_t)r; }
    ng_awrite_commit(&w);
    close(fd);
    free(b);
    return ng_now() - t0;
}

static void bench_memory(uint8_t *a, uint8_t *b, size_t total, const ng_key *k256, const ng_key *k128, int reps)
{
    ng_param p[NT];
    char names[NT][32];
    for (int i = 0; i < NT; i++) {
        snprintf(names[i], sizeof names[i], "layer%02d.weight", i);
        p[i] = (ng_param){.name = names[i], .dtype = NG_DT_F32, .data = b + (size_t)i * (total / NT), .nbytes = total / NT};
    }
    for (int ks = 0; ks < 2; ks++) {
        const ng_key *key = ks == 0 ? k256 : k128;
        double tl = 1e9, tu = 1e9;
        int exact = 1;
        memcpy(b, a, total);
        for (int rep = 0; rep < reps; rep++) {
            double t0 = ng_now();
            ng_deeplock_options o = ng_deeplock_options_default();
            o.keystream = (ng_keystream)ks;
            uint8_t salt[32] = {1};
            ng_status st = ng_deeplock_lock_params(p, NT, key, salt, &o);
            double t1 = ng_now();
            if (st == NG_OK) st = ng_deeplock_unlock_params(p, NT, key, salt, &o);
            double t2 = ng_now();
            if (st != NG_OK) { fprintf(stderr, "in-memory lock failed: %s\n", ng_last_error()); exit(1); }
            if (t1 - t0 < tl) tl = t1 - t0;
            if (t2 - t1 < tu) tu = t2 - t1;
            exact &= memcmp(a, b, total) == 0;
        }
        char label[80];
        snprintf(label, sizeof label, "memory, %s lock", ks ? "expand" : "ctr");
        report(label, (double)total, tl);
        snprintf(label, sizeof label, "memory, %s unlock%s", ks ? "expand" : "ctr", exact ? "" : " (NOT EXACT!)");
        report(label, (double)total, tu);
    }
}

static void bench_files(const char *dir, const char *what, const uint8_t *a, size_t total, const ng_key *k256,
                        const ng_key *k128, int reps)
{
    char in[512], lk[512], un[512];
    snprintf(in, sizeof in, "%s/nnguard-bench-deeplock.safetensors", dir);
    snprintf(lk, sizeof lk, "%s/nnguard-bench-deeplock.locked.safetensors", dir);
    snprintf(un, sizeof un, "%s/nnguard-bench-deeplock.unlocked.safetensors", dir);
    if (make_file(in, total, a) != 0) { fprintf(stderr, "cannot write %s: %s (skipped)\n", in, ng_last_error()); return; }
    char label[80];
    double tc = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        double t = copy_file(in, lk, 8u << 20);
        if (t < tc) tc = t;
        unlink(lk);
    }
    snprintf(label, sizeof label, "%s, file copy pread/pwrite (I/O floor)", what);
    report(label, (double)total, tc);
    for (int ks = 0; ks < 2; ks++) {
        ng_deeplock_secret s = {.key = ks ? k128 : k256};
        ng_deeplock_options o = ng_deeplock_options_default();
        o.keystream = (ng_keystream)ks;
        double tl = 1e9, tu = 1e9;
        for (int rep = 0; rep < reps; rep++) {
            double t0 = ng_now();
            ng_status st = ng_deeplock_lock_stream(in, lk, &s, &o);
            double t1 = ng_now();
            if (st == NG_OK) st = ng_deeplock_unlock_stream(lk, un, &s, &o);
            double t2 = ng_now();
            if (st != NG_OK) { fprintf(stderr, "stream failed: %s\n", ng_last_error()); unlink(in); unlink(lk); return; }
            if (t1 - t0 < tl) tl = t1 - t0;
            if (t2 - t1 < tu) tu = t2 - t1;
            unlink(lk);
            unlink(un);
        }
        snprintf(label, sizeof label, "%s, stream file %s lock", what, ks ? "expand" : "ctr");
        report(label, (double)total, tl);
        snprintf(label, sizeof label, "%s, stream file %s unlock", what, ks ? "expand" : "ctr");
        report(label, (double)total, tu);
    }
    unlink(in);
}

int main(void)
{
    if (ng_init() != NG_OK) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);   /* one line per measurement, also into a file */
    const char *mb_env = getenv("NG_BENCH_MB"), *reps_env = getenv("NG_BENCH_REPS"), *dir = getenv("NG_BENCH_DIR");
    size_t mb = mb_env ? (size_t)atol(mb_env) : 1024;
    int reps = reps_env ? atoi(reps_env) : 3;
    if (mb < 1) mb = 1;
    if (reps < 1) reps = 1;
    if (!dir) dir = "/tmp";
    size_t total = mb << 20;
    uint8_t *a = ng_alloc_aligned(total), *b = ng_alloc_aligned(total);
    if (!a || !b) { fprintf(stderr, "cannot allocate 2 x %zu MiB\n", mb); return 1; }
    ng_rng r;
    ng_rng_seed(&r, 1);
    float *f = (float *)a;
    for (size_t i = 0; i < total / 4; i++) f[i] = (float)((int64_t)(ng_rng_u64(&r) >> 40) - (1 << 23)) * 1e-8f;
    memset(b, 0, total);   /* fault the pages in before timing */
    printf("Deep-Lock throughput, %zu MiB of F32 parameters in %d tensors, %d cores, S-box via %s, "
           "ctr via OpenSSL AES-256-CTR, best of %d\n", mb, NT, ng_ncpu(), ng_aes_impl_name(), reps);

    double best = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = ng_now();
        memcpy(b, a, total);
        double t = ng_now() - t0;
        if (t < best) best = t;
    }
    mc_gbps = gbps((double)total, best);
    report("memcpy (RAM to RAM, one core)", (double)total, best);

    ng_key k256, k128;
    ng_key_generate(256, &k256);
    ng_key_generate(128, &k128);
    bench_memory(a, b, total, &k256, &k128, reps);
    ng_free_aligned(b);
    bench_files("/dev/shm", "tmpfs", a, total, &k256, &k128, reps);
    bench_files(dir, "disk", a, total, &k256, &k128, reps);
    ng_key_wipe(&k256);
    ng_key_wipe(&k128);
    ng_free_aligned(a);
    return 0;
}
