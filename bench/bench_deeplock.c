/* bench_deeplock: Deep-Lock throughput against peers measured in the same run.
 *
 * 1 GiB of F32 parameters (NG_BENCH_MB to change) in 16 tensors, NG_BENCH_REPS rounds (default 5),
 * medians reported, each as GB/s (1e9 bytes/s) and as a ratio to its peer:
 *   memory   ng_deeplock_lock_params / unlock_params in place on all cores (ctr, expand) against
 *            memcpy of the same bytes on one core (SCHEMES.md section 1 "Measure");
 *   files    ng_deeplock_lock_stream / unlock_stream of a safetensors file (format 3: read, cipher,
 *            GMAC, write, fsync, rename) against `cp` of the same file on the same file system,
 *            run as a child process in the same round (the input in the page cache for both, the
 *            outputs removed between runs, untimed), and against `cp` followed by fsync of the copy
 *            (our writer fsyncs before it renames; cp does not). Ratio = peer time / our time: 1.0
 *            is as fast as cp, the target is >= 0.8. On tmpfs (/dev/shm) and on disk
 *            (NG_BENCH_DIR, default /tmp), in the same run.
 * Removes its files. */
#include "bench_util.h"
#include "core/pool.h"
#include "protect/deeplock/aes_sbox.h"

#define NT 16

static int make_file(const char *path, size_t total, const uint8_t *buf) { return make_file_nt(path, total, buf, NT); }

static void bench_memory(uint8_t *a, uint8_t *b, size_t total, const ng_key *k256, const ng_key *k128, int reps)
{
    ng_param p[NT];
    char names[NT][32];
    for (int i = 0; i < NT; i++) {
        snprintf(names[i], sizeof names[i], "layer%02d.weight", i);
        p[i] = (ng_param){.name = names[i], .dtype = NG_DT_F32, .data = b + (size_t)i * (total / NT), .nbytes = total / NT};
    }
    static const uint8_t salt[32] = {1};
    for (int ks = 0; ks < 2; ks++) {
        const ng_key *key = ks == 0 ? k256 : k128;
        double tl[MAXREPS], tu[MAXREPS], tc[MAXREPS];
        int exact = 1;
        memcpy(b, a, total);
        ng_deeplock_options o = ng_deeplock_options_default();
        o.keystream = (ng_keystream)ks;
        for (int rep = 0; rep < reps; rep++) {
            double t0 = ng_now();
            ng_status st = ng_deeplock_lock_params(p, NT, key, salt, &o);
            double t1 = ng_now();
            if (st == NG_OK) st = ng_deeplock_unlock_params(p, NT, key, salt, &o);
            double t2 = ng_now();
            memcpy(a, b, total);   /* the peer: memcpy of the same bytes, in the same round */
            double t3 = ng_now();
            if (st != NG_OK) { fprintf(stderr, "in-memory lock failed: %s\n", ng_last_error()); exit(1); }
            tl[rep] = t1 - t0; tu[rep] = t2 - t1; tc[rep] = t3 - t2;
            exact &= memcmp(a, b, total) == 0;
        }
        double ml = median(tl, reps), mu = median(tu, reps), mc = median(tc, reps);
        printf("memory %-6s  lock %6.2f GB/s  unlock %6.2f GB/s  memcpy %6.2f GB/s   lock %.2fx  unlock %.2fx memcpy%s\n",
               ks ? "expand" : "ctr", gbps((double)total, ml), gbps((double)total, mu), gbps((double)total, mc), mc / ml,
               mc / mu, exact ? "" : "  (ROUND TRIP NOT EXACT!)");
    }
}

static void bench_files(const char *dir, const char *what, const uint8_t *a, size_t total, const ng_key *key, int reps)
{
    char in[512], lk[512], un[512], cp[512];
    snprintf(in, sizeof in, "%s/nnguard-bench-deeplock.safetensors", dir);
    snprintf(lk, sizeof lk, "%s/nnguard-bench-deeplock.locked.safetensors", dir);
    snprintf(un, sizeof un, "%s/nnguard-bench-deeplock.unlocked.safetensors", dir);
    snprintf(cp, sizeof cp, "%s/nnguard-bench-deeplock.cp.safetensors", dir);
    unlink(lk); unlink(un); unlink(cp);
    if (make_file(in, total, a) != 0) { fprintf(stderr, "cannot write %s: %s (skipped)\n", in, ng_last_error()); return; }
    warm(in);
    ng_deeplock_secret s = {.key = key};
    ng_deeplock_options o = ng_deeplock_options_default();
    double tc[MAXREPS], ts[MAXREPS], tl[MAXREPS], tu[MAXREPS], rl[MAXREPS], ru[MAXREPS], rls[MAXREPS], rus[MAXREPS];
    int exact = 1;
    for (int rep = 0; rep < reps; rep++) {
        /* cp, lock, cp, unlock, cp + fsync: each of ours between two peers */
        double c1 = run_cp(in, cp, 0);
        unlink(cp);
        double t0 = ng_now();
        ng_status st = ng_deeplock_lock_stream(in, lk, &s, &o);
        double t1 = ng_now();
        double c2 = st == NG_OK ? run_cp(in, cp, 0) : -1;
        unlink(cp);
        double t2 = ng_now();
        if (st == NG_OK) st = ng_deeplock_unlock_stream(lk, un, &s, &o);
        double t3 = ng_now();
        double c3 = st == NG_OK ? run_cp(in, cp, 1) : -1;
        unlink(cp);
        if (st != NG_OK || c1 < 0 || c2 < 0 || c3 < 0) {
            fprintf(stderr, "%s: %s\n", what, st != NG_OK ? ng_last_error() : "cp failed");
            unlink(in); unlink(lk); unlink(un);
            return;
        }
        if (rep == 0) exact = same_bytes(un, in);
        unlink(lk); unlink(un);
        tl[rep] = t1 - t0; tu[rep] = t3 - t2; tc[rep] = 0.5 * (c1 + c2); ts[rep] = c3;
        rl[rep] = c1 / tl[rep]; ru[rep] = c2 / tu[rep]; rls[rep] = c3 / tl[rep]; rus[rep] = c3 / tu[rep];
        printf("  %s round %d: cp %.3f s, lock %.3f s, cp %.3f s, unlock %.3f s, cp+fsync %.3f s\n", what, rep + 1, c1,
               tl[rep], c2, tu[rep], c3);
    }
    double b = (double)total;
    printf("%-6s cp        %6.2f GB/s   cp+fsync %6.2f GB/s\n", what, gbps(b, median(tc, reps)), gbps(b, median(ts, reps)));
    printf("%-6s lock      %6.2f GB/s   %.2fx cp   %.2fx cp+fsync\n", what, gbps(b, median(tl, reps)), median(rl, reps),
           median(rls, reps));
    printf("%-6s unlock    %6.2f GB/s   %.2fx cp   %.2fx cp+fsync%s\n", what, gbps(b, median(tu, reps)), median(ru, reps),
           median(rus, reps), exact ? "" : "  (ROUND TRIP NOT EXACT!)");
    unlink(in);
}

int main(void)
{
    if (ng_init() != NG_OK) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);   /* one line per measurement, also into a file */
    const char *mb_env = getenv("NG_BENCH_MB"), *reps_env = getenv("NG_BENCH_REPS"), *dir = getenv("NG_BENCH_DIR");
    const char *only = getenv("NG_BENCH_ONLY");   /* "memory", "tmpfs" or "disk": one part */
    size_t mb = mb_env ? (size_t)atol(mb_env) : 1024;
    int reps = reps_env ? atoi(reps_env) : 5;
    if (mb < 16) mb = 16;
    if (reps < 1) reps = 1;
    if (reps > MAXREPS) reps = MAXREPS;
    if (!dir) dir = "/tmp";
    size_t total = mb << 20;
    uint8_t *a = ng_alloc_aligned(total);
    if (!a) { fprintf(stderr, "cannot allocate %zu MiB\n", mb); return 1; }
    ng_rng r;
    ng_rng_seed(&r, 1);
    float *f = (float *)a;
    for (size_t i = 0; i < total / 4; i++) f[i] = (float)((int64_t)(ng_rng_u64(&r) >> 40) - (1 << 23)) * 1e-8f;
    printf("Deep-Lock format 3, %zu MiB of F32 parameters in %d tensors, %d cores, S-box via %s, AES-256-CTR and GMAC "
           "via OpenSSL; medians of %d rounds\n", mb, NT, ng_ncpu(), ng_aes_impl_name(), reps);
    ng_key k256, k128;
    ng_key_generate(256, &k256);
    ng_key_generate(128, &k128);
    if (!only || !strcmp(only, "memory")) {
        uint8_t *b = ng_alloc_aligned(total);
        if (!b) { fprintf(stderr, "cannot allocate 2 x %zu MiB\n", mb); return 1; }
        memset(b, 0, total);   /* fault the pages in before timing */
        bench_memory(a, b, total, &k256, &k128, reps);
        ng_free_aligned(b);
    }
    if (!only || !strcmp(only, "tmpfs")) bench_files("/dev/shm", "tmpfs", a, total, &k256, reps);
    if (!only || !strcmp(only, "disk")) bench_files(dir, "disk", a, total, &k256, reps);
    ng_key_wipe(&k256);
    ng_key_wipe(&k128);
    ng_free_aligned(a);
    return 0;
}
