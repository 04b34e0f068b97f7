/* bench_deeplock: Deep-Lock throughput against memcpy of the same bytes in the same run.
 *
 * Makes a safetensors file of F32 tensors (default 1 GiB, NG_BENCH_MB to change) in /tmp, then
 * times: memcpy of the same bytes (RAM to RAM); the (un)lock kernel in memory on all cores
 * (ng_deeplock_lock_params) for ctr and expand; and the streaming file path
 * (ng_deeplock_lock_stream / unlock_stream: pread, (un)lock, pwrite, SHA-256 model ids of input
 * and output, fsync) for ctr and expand, plus a plain pread/pwrite/fsync copy of the file as the
 * I/O baseline. Prints GB/s (1e9 bytes/s) and the ratio to memcpy. Removes its files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "nnguard/nnguard.h"
#include "nnguard/safetensors.h"
#include "core/core.h"
#include "core/pool.h"

#define NT 16

static double gbps(double bytes, double s) { return bytes / s / 1e9; }

static int make_file(const char *path, size_t total, uint8_t *buf)
{
    ng_st_header *h;
    ng_st_header_new(&h);
    for (int i = 0; i < NT; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%02d.weight", i);
        ng_shape s = {2, {(int64_t)(total / NT / 4 / 1024), 1024}};
        ng_st_header_add(h, name, NG_DT_F32, &s);
    }
    uint8_t *hdr;
    size_t hlen;
    ng_st_header_serialize(h, &hdr, &hlen);
    ng_st_header_free(h);
    ng_awriter w;
    ng_status st = ng_awrite_open(&w, path, 0644);
    if (st == NG_OK) st = ng_awrite(&w, hdr, hlen);
    if (st == NG_OK) st = ng_awrite(&w, buf, total);
    if (st == NG_OK) st = ng_awrite_commit(&w);
    free(hdr);
    return st == NG_OK ? 0 : -1;
}

static double copy_file(const char *in, const char *out, size_t chunk)
{
    double t0 = ng_now();
    int fd = open(in, O_RDONLY);
    uint8_t *b = malloc(chunk);
    ng_awriter w;
    ng_awrite_open(&w, out, 0644);
    ssize_t r;
    uint64_t off = 0;
    while ((r = pread(fd, b, chunk, (off_t)off)) > 0) { ng_awrite_pwrite(&w, b, (size_t)r, off); off += (uint64_t)r; }
    ng_awrite_commit(&w);
    close(fd);
    free(b);
    return ng_now() - t0;
}

int main(void)
{
    if (ng_init() != NG_OK) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);   /* one line per measurement, also into a file */
    const char *mb_env = getenv("NG_BENCH_MB");
    size_t mb = mb_env ? (size_t)atol(mb_env) : 1024;
    size_t total = mb << 20;
    const char *in = "/tmp/nnguard-bench-deeplock.safetensors", *lk = "/tmp/nnguard-bench-deeplock.locked.safetensors",
               *un = "/tmp/nnguard-bench-deeplock.unlocked.safetensors";
    uint8_t *a = ng_alloc_aligned(total), *b = ng_alloc_aligned(total);
    if (!a || !b) { fprintf(stderr, "cannot allocate 2 x %zu MiB\n", mb); return 1; }
    ng_rng r;
    ng_rng_seed(&r, 1);
    float *f = (float *)a;
    for (size_t i = 0; i < total / 4; i++) f[i] = (float)((int64_t)(ng_rng_u64(&r) >> 40) - (1 << 23)) * 1e-8f;
    memset(b, 0, total);   /* fault the pages in before timing */
    printf("Deep-Lock throughput, %zu MiB of F32 parameters in %d tensors, %d cores, S-box via %s\n",
           mb, NT, ng_ncpu(), ng_ncpu() > 0 ? (__builtin_cpu_supports("aes") ? "AES-NI" : "table") : "?");

    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = ng_now();
        memcpy(b, a, total);
        double t = ng_now() - t0;
        if (t < best) best = t;
    }
    double mc = gbps((double)total, best);
    printf("%-44s %7.2f GB/s\n", "memcpy (RAM to RAM, best of 3)", mc);

    /* kernel in memory on all cores */
    ng_key k256, k128;
    ng_key_generate(256, &k256);
    ng_key_generate(128, &k128);
    for (int ks = 0; ks < 2; ks++) {
        ng_param p[NT];
        for (int i = 0; i < NT; i++) {
            char *name = malloc(32);
            snprintf(name, 32, "layer%02d.weight", i);
            p[i] = (ng_param){.name = name, .dtype = NG_DT_F32, .data = b + (size_t)i * (total / NT), .nbytes = total / NT};
        }
        memcpy(b, a, total);
        const ng_key *key = ks == 0 ? &k256 : &k128;
        double t0 = ng_now();
        ng_deeplock_lock_params(p, NT, key, (ng_keystream)ks, NULL, 0);
        double tl = ng_now() - t0;
        t0 = ng_now();
        ng_deeplock_unlock_params(p, NT, key, (ng_keystream)ks, NULL, 0);
        double tu = ng_now() - t0;
        int exact = memcmp(a, b, total) == 0;
        char label[64];
        snprintf(label, sizeof label, "kernel in memory, %s lock", ks ? "expand" : "ctr");
        printf("%-44s %7.2f GB/s  %.2fx memcpy\n", label, gbps((double)total, tl), gbps((double)total, tl) / mc);
        snprintf(label, sizeof label, "kernel in memory, %s unlock%s", ks ? "expand" : "ctr", exact ? "" : " (NOT EXACT!)");
        printf("%-44s %7.2f GB/s  %.2fx memcpy\n", label, gbps((double)total, tu), gbps((double)total, tu) / mc);
        for (int i = 0; i < NT; i++) free((char *)p[i].name);
    }

    /* files */
    if (make_file(in, total, a) != 0) { fprintf(stderr, "cannot write %s: %s\n", in, ng_last_error()); return 1; }
    ng_free_aligned(b);
    double tc = copy_file(in, lk, 4u << 20);
    printf("%-44s %7.2f GB/s  %.2fx memcpy\n", "file copy pread/pwrite/fsync (I/O baseline)", gbps((double)total, tc), gbps((double)total, tc) / mc);
    unlink(lk);
    for (int ks = 0; ks < 2; ks++) {
        ng_deeplock_secret s = {.key = ks ? &k128 : &k256};
        ng_deeplock_options o = ng_deeplock_options_default();
        o.keystream = (ng_keystream)ks;
        double t0 = ng_now();
        ng_status st = ng_deeplock_lock_stream(in, lk, &s, &o);
        double tl = ng_now() - t0;
        t0 = ng_now();
        if (st == NG_OK) st = ng_deeplock_unlock_stream(lk, un, &s, &o);
        double tu = ng_now() - t0;
        if (st != NG_OK) { fprintf(stderr, "stream failed: %s\n", ng_last_error()); break; }
        char label[64];
        snprintf(label, sizeof label, "stream file, %s lock", ks ? "expand" : "ctr");
        printf("%-44s %7.2f GB/s  %.2fx memcpy\n", label, gbps((double)total, tl), gbps((double)total, tl) / mc);
        snprintf(label, sizeof label, "stream file, %s unlock", ks ? "expand" : "ctr");
        printf("%-44s %7.2f GB/s  %.2fx memcpy\n", label, gbps((double)total, tu), gbps((double)total, tu) / mc);
        unlink(lk);
        unlink(un);
    }
    unlink(in); unlink(lk); unlink(un);
    ng_key_wipe(&k256); ng_key_wipe(&k128);
    ng_free_aligned(a);
    return 0;
}
