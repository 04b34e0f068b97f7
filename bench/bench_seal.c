/* bench_seal: sealed-model throughput against peers measured in the same run (issue 15).
 *
 * 512 MiB of F32 parameters (NG_BENCH_MB to change) in 16 tensors, NG_BENCH_REPS rounds (default 5),
 * medians, each as GB/s (1e9 bytes/s) and as a ratio to its peer in the same round. Every AES-256-GCM
 * figure is given for each implementation the machine has, in the same run ("gcm/ipsec-mb": Intel's
 * ipsec-mb, VAES / AVX-512 where the CPU has them; "gcm/openssl": OpenSSL EVP; the second line of the
 * output names their versions and kernels; NG_BENCH_BACKENDS=openssl|ipsec-mb keeps one):
 *   memory  ng_seal / ng_unseal of the weights in memory on all cores (AES-256-GCM per backend, then
 *           XChaCha20-Poly1305; the weights' pages made present first, untimed) against memcpy of
 *           the same bytes on one core (target: unseal >= 0.6x memcpy on 2 cores), and the CPU seconds
 *           of each (the AEAD rate of a busy core; best case on 2 free cores: 2 x memcpy CPU / unseal CPU);
 *   files   ng_seal_stream / ng_unseal_stream of a safetensors file (what `nnguard seal` runs:
 *           read, AEAD, write, fsync, rename) against `cp` of the same file as a child process (input in
 *           the page cache for both; target >= 0.8x cp), on NG_BENCH_DIR (default /tmp); also against
 *           `cp` followed by an fsync of its output (the durability seal and unseal give: cp alone leaves
 *           the data in the page cache); and the CPU seconds (user + system, all threads) of each against
 *           cp's (the work done: on a loaded machine the wall times mostly measure the other load). "on 2
 *           free cores" is the wall-time ratio the CPU figures would give with both cores free for the
 *           AEAD workers and cp on one: 2 x (cp CPU) / (seal CPU), an upper bound (perfect overlap);
 *   load    opening a sealed model with its key (ng_seal_open_weights: read, check, decrypt in
 *           memory, default backend) against opening the plain file (ng_weights_open), and the same for
 *           the lenet5 ONNX fixture as a runnable model (ng_seal_open_model against ng_model_load).
 * Removes its files. */
#include "bench_util.h"
#include <sodium.h>
#include "core/pool.h"
#include "protect/seal/seal_gcm.h"

#define NT 16

/* What is measured: AES-256-GCM with each backend this machine has (ipsec-mb first), then
 * XChaCha20-Poly1305 (memory only). NG_BENCH_BACKENDS=ipsec-mb or =openssl keeps one. */
typedef struct variant { ng_aead aead; ng_seal_backend backend; char label[32]; } variant;
static int variants(variant *v, int with_xchacha)
{
    const char *only = getenv("NG_BENCH_BACKENDS");
    int n = 0;
    for (int b = NG_SEAL_BACKEND_IPSECMB; b >= NG_SEAL_BACKEND_OPENSSL; b--) {
        ng_seal_backend got;
        if (only && *only && strcmp(only, ng_seal_backend_name((ng_seal_backend)b))) continue;
        if (ng_seal_backend_resolve((ng_seal_backend)b, &got) != NG_OK) {
            printf("# %s: not measured (%s)\n", ng_seal_backend_name((ng_seal_backend)b), ng_last_error());
            continue;
        }
        v[n] = (variant){NG_AEAD_AES256GCM, got, ""};
        snprintf(v[n].label, sizeof v[n].label, "gcm/%s", ng_seal_backend_name(got));
        n++;
    }
    if (with_xchacha) {
        v[n] = (variant){NG_AEAD_XCHACHA20POLY1305, NG_SEAL_BACKEND_OPENSSL, "xchacha20poly1305"};
        n++;
    }
    return n;
}

static ng_key bench_key(void)
{
    ng_key k;
    memset(&k, 0, sizeof k);
    for (int i = 0; i < 32; i++) k.k[i] = (uint8_t)(7 * i + 1);
    k.len = 32;
    return k;
}

static void bench_memory(const char *plain, size_t total, int reps)
{
    ng_key k = bench_key();
    ng_deeplock_secret s = {.key = &k};
    uint8_t *copy = ng_alloc_aligned(total);
    variant v[3];
    int nv = variants(v, 1);
    for (int a = 0; a < nv; a++) {
        double ts[MAXREPS], tu[MAXREPS], tc[MAXREPS], rs[MAXREPS], ru[MAXREPS], cu[MAXREPS], cc[MAXREPS];
        int exact = 1;
        ng_seal_options o = ng_seal_options_default();
        o.aead = v[a].aead;
        o.backend = v[a].backend;
        for (int rep = 0; rep < reps; rep++) {
            ng_weights *w;
            if (ng_weights_open(plain, &w) != NG_OK) { fprintf(stderr, "%s\n", ng_last_error()); exit(1); }
            for (size_t i = 0; i < ng_weights_count(w); i++)   /* the private mapping made present, untimed */
                ng_prefault_write(ng_weights_param(w, i)->data, ng_weights_param(w, i)->nbytes);
            double t0 = ng_now();
            ng_status st = ng_seal(w, &s, &o);
            double t1 = ng_now(), u1 = cpu_seconds(RUSAGE_SELF);
            if (st == NG_OK) st = ng_unseal(w, &s, &o);
            double t2 = ng_now(), u2 = cpu_seconds(RUSAGE_SELF);
            size_t off = 0;
            for (size_t i = 0; i < ng_weights_count(w); i++) {   /* the peer: memcpy of the same bytes */
                ng_param *p = ng_weights_param(w, i);
                memcpy(copy + off, p->data, p->nbytes);
                off += p->nbytes;
            }
            double t3 = ng_now(), u3 = cpu_seconds(RUSAGE_SELF);
            cu[rep] = u2 - u1; cc[rep] = u3 - u2;
            if (st != NG_OK) { fprintf(stderr, "seal/unseal failed: %s\n", ng_last_error()); exit(1); }
            if (rep == 0) {
                ng_weights *p0;
                ng_weights_open(plain, &p0);
                size_t o2 = 0;
                for (size_t i = 0; i < ng_weights_count(p0); i++) {
                    const ng_param *p = ng_weights_param_c(p0, i);
                    exact &= memcmp(copy + o2, p->data, p->nbytes) == 0;
                    o2 += p->nbytes;
                }
                ng_weights_free(p0);
            }
            ng_weights_free(w);
            ts[rep] = t1 - t0; tu[rep] = t2 - t1; tc[rep] = t3 - t2;
            rs[rep] = tc[rep] / ts[rep]; ru[rep] = tc[rep] / tu[rep];
        }
        printf("memory %-17s seal %6.2f GB/s (%.2fx memcpy)   unseal %6.2f GB/s (%.2fx memcpy)   memcpy %6.2f GB/s%s\n",
               v[a].label, gbps((double)total, median(ts, reps)), median(rs, reps),
               gbps((double)total, median(tu, reps)), median(ru, reps), gbps((double)total, median(tc, reps)),
               exact ? "" : "  (ROUND TRIP NOT EXACT!)");
        printf("memory %-17s CPU s: unseal %.3f (%.2f GB/s per core busy)   memcpy %.3f; best case on 2 free cores: "
               "unseal %.2fx memcpy\n", v[a].label, median(cu, reps), gbps((double)total, median(cu, reps)),
               median(cc, reps), 2.0 * median(cc, reps) / median(cu, reps));
        fflush(stdout);
    }
    ng_free_aligned(copy);
    ng_key_wipe(&k);
}

static void bench_files(const char *dir, const char *plain, size_t total, int reps)
{
    ng_key k = bench_key();
    ng_deeplock_secret s = {.key = &k};
    char sealed[1024], un[1024], cp[1024];
    snprintf(sealed, sizeof sealed, "%s/nnguard-bench-seal-s.safetensors", dir);
    snprintf(un, sizeof un, "%s/nnguard-bench-seal-u.safetensors", dir);
    snprintf(cp, sizeof cp, "%s/nnguard-bench-seal-c.safetensors", dir);
    variant v[2];
    int nv = variants(v, 0);
    double tc[MAXREPS], tf[MAXREPS], cc[MAXREPS];   /* the peers: cp, cp + fsync, cp's CPU */
    double ts[2][MAXREPS], tu[2][MAXREPS], rs[2][MAXREPS], ru[2][MAXREPS], rsf[2][MAXREPS], ruf[2][MAXREPS];
    double cs[2][MAXREPS], cu[2][MAXREPS], qs[2][MAXREPS], qu[2][MAXREPS];   /* CPU seconds, their ratios */
    int exact[2] = {1, 1};
    warm(plain);
    for (int rep = 0; rep < reps; rep++) {
        unlink(sealed); unlink(un); unlink(cp);
        double k0 = cpu_seconds(RUSAGE_CHILDREN);
        double c1 = run_cp(plain, cp, 0);
        double k1 = cpu_seconds(RUSAGE_CHILDREN);
        if (c1 < 0) { fprintf(stderr, "files: cp failed\n"); exit(1); }
        unlink(cp);
        for (int i = 0; i < nv; i++) {
            int a = (i + rep) % nv;   /* the backends take turns at going first */
            ng_seal_options o = ng_seal_options_default();
            o.aead = v[a].aead;
            o.backend = v[a].backend;
            double u0 = cpu_seconds(RUSAGE_SELF), t0 = ng_now();
            ng_status st = ng_seal_stream(plain, sealed, &s, &o);
            double t1 = ng_now(), u1 = cpu_seconds(RUSAGE_SELF);
            warm(sealed);
            double k2 = cpu_seconds(RUSAGE_CHILDREN);   /* cp of the sealed file: the unseal's peer */
            double c2 = run_cp(sealed, cp, 0), kc2 = cpu_seconds(RUSAGE_CHILDREN) - k2;
            if (c2 < 0) { fprintf(stderr, "files: cp failed\n"); exit(1); }
            unlink(cp);
            double u2 = cpu_seconds(RUSAGE_SELF), t2 = ng_now();
            if (st == NG_OK) st = ng_unseal_stream(sealed, un, &s, &o);
            double t3 = ng_now(), u3 = cpu_seconds(RUSAGE_SELF);
            if (st != NG_OK) { fprintf(stderr, "files: %s\n", ng_last_error()); exit(1); }
            if (rep == 0) exact[a] = same_bytes(un, plain);
            unlink(sealed); unlink(un);
            ts[a][rep] = t1 - t0; tu[a][rep] = t3 - t2;
            cs[a][rep] = u1 - u0; cu[a][rep] = u3 - u2;
            qs[a][rep] = cs[a][rep] / (k1 - k0); qu[a][rep] = cu[a][rep] / kc2;
            rs[a][rep] = c1 / ts[a][rep]; ru[a][rep] = c2 / tu[a][rep];
        }
        unlink(cp);
        double c3 = run_cp(plain, cp, 1);   /* cp + fsync: the durable peer */
        if (c3 < 0) { fprintf(stderr, "files: cp failed\n"); exit(1); }
        tc[rep] = c1; tf[rep] = c3; cc[rep] = k1 - k0;
        for (int a = 0; a < nv; a++) { rsf[a][rep] = c3 / ts[a][rep]; ruf[a][rep] = c3 / tu[a][rep]; }
    }
    double b = (double)total;
    printf("files  %-17s cp %6.2f GB/s   cp+fsync %6.2f GB/s   (cp CPU %.3f s)\n", dir, gbps(b, median(tc, reps)),
           gbps(b, median(tf, reps)), median(cc, reps));
    for (int a = 0; a < nv; a++) {
        printf("files  %-17s seal %6.2f GB/s (%.2fx cp, %.2fx cp+fsync)   unseal %6.2f GB/s (%.2fx cp, %.2fx cp+fsync)%s\n",
               v[a].label, gbps(b, median(ts[a], reps)), median(rs[a], reps), median(rsf[a], reps),
               gbps(b, median(tu[a], reps)), median(ru[a], reps), median(ruf[a], reps),
               exact[a] ? "" : "  (ROUND TRIP NOT EXACT!)");
        printf("files  %-17s CPU s: seal %.3f (%.2fx cp)   unseal %.3f (%.2fx cp); best case on 2 free cores: "
               "seal %.2fx cp, unseal %.2fx cp\n", v[a].label, median(cs[a], reps), median(qs[a], reps),
               median(cu[a], reps), median(qu[a], reps), 2.0 / median(qs[a], reps), 2.0 / median(qu[a], reps));
    }
    fflush(stdout);
    unlink(sealed); unlink(un); unlink(cp);
    ng_key_wipe(&k);
}

static void bench_load(const char *dir, const char *plain, int reps)
{
    ng_key k = bench_key();
    ng_deeplock_secret s = {.key = &k};
    char sealed[1024], lenet[1024], slenet[1024];
    snprintf(sealed, sizeof sealed, "%s/nnguard-bench-seal-l.safetensors", dir);
    snprintf(lenet, sizeof lenet, "%s/tests/fixtures/lenet5.onnx", NG_SOURCE_DIR);
    snprintf(slenet, sizeof slenet, "%s/nnguard-bench-seal-lenet.onnx", dir);
    unlink(sealed); unlink(slenet);
    if (ng_seal_file(plain, sealed, &s, NULL) != NG_OK || ng_seal_file(lenet, slenet, &s, NULL) != NG_OK) {
        fprintf(stderr, "load: %s\n", ng_last_error());
        exit(1);
    }
    warm(sealed);
    double tp[MAXREPS], tsl[MAXREPS], mp[MAXREPS], ms[MAXREPS];
    for (int rep = 0; rep < reps; rep++) {
        ng_weights *w;
        ng_model *m;
        double t0 = ng_now();
        ng_status st = ng_weights_open(plain, &w);
        if (st == NG_OK) {   /* touch every page as a load into an engine would */
            volatile uint8_t x = 0;
            for (size_t i = 0; i < ng_weights_count(w); i++)
                for (size_t j = 0; j < ng_weights_param(w, i)->nbytes; j += 4096) x ^= ng_weights_param(w, i)->data[j];
            ng_weights_free(w);
        }
        double t1 = ng_now();
        if (st == NG_OK && (st = ng_seal_open_weights(sealed, &s, &w)) == NG_OK) ng_weights_free(w);
        double t2 = ng_now();
        if (st == NG_OK && (st = ng_model_load(lenet, &m)) == NG_OK) ng_model_free(m);
        double t3 = ng_now();
        if (st == NG_OK && (st = ng_seal_open_model(slenet, &s, &m)) == NG_OK) ng_model_free(m);
        double t4 = ng_now();
        if (st != NG_OK) { fprintf(stderr, "load: %s\n", ng_last_error()); exit(1); }
        tp[rep] = t1 - t0; tsl[rep] = t2 - t1; mp[rep] = t3 - t2; ms[rep] = t4 - t3;
    }
    printf("load   safetensors plain %.3f s   sealed %.3f s (%.2fx)\n", median(tp, reps), median(tsl, reps),
           median(tsl, reps) / median(tp, reps));
    printf("load   lenet5.onnx model plain %.2f ms   sealed %.2f ms (%.2fx)\n", 1e3 * median(mp, reps),
           1e3 * median(ms, reps), median(ms, reps) / median(mp, reps));
    unlink(sealed); unlink(slenet);
    ng_key_wipe(&k);
}

int main(void)
{
    const char *mb_env = getenv("NG_BENCH_MB"), *reps_env = getenv("NG_BENCH_REPS"), *dir = getenv("NG_BENCH_DIR");
    const char *only = getenv("NG_BENCH_ONLY");   /* "memory", "files" or "load": one part */
    size_t mb = mb_env ? (size_t)strtoull(mb_env, NULL, 10) : 512;
    int reps = reps_env ? atoi(reps_env) : 5;
    if (mb < 16) mb = 16;
    if (reps < 1 || reps > MAXREPS) reps = 5;
    if (!dir) dir = "/tmp";
    if (ng_init() != NG_OK) return 1;
    size_t total = mb << 20;
    uint8_t *a = ng_alloc_aligned(total);
    ng_rng r;
    ng_rng_seed(&r, 1);
    for (size_t i = 0; i < total; i += 8) { uint64_t v = ng_rng_u64(&r); memcpy(a + i, &v, 8); }
    char plain[1024];
    snprintf(plain, sizeof plain, "%s/nnguard-bench-seal-p.safetensors", dir);
    unlink(plain);
    if (make_file_nt(plain, total, a, NT) != 0) { fprintf(stderr, "cannot write %s\n", plain); return 1; }
    ng_free_aligned(a);
    printf("bench_seal: %zu MiB in %d F32 tensors, %d cores, AES-NI %s, medians of %d rounds, files on %s\n", mb, NT,
           ng_ncpu(), crypto_aead_aes256gcm_is_available() ? "yes" : "no", reps, dir);
    printf("bench_seal: gcm/ipsec-mb = %s; gcm/openssl = %s\n", ng_gcm_describe(NG_SEAL_BACKEND_IPSECMB),
           ng_gcm_describe(NG_SEAL_BACKEND_OPENSSL));
    if (!only || !strcmp(only, "memory")) bench_memory(plain, total, reps);
    if (!only || !strcmp(only, "files")) bench_files(dir, plain, total, reps);
    if (!only || !strcmp(only, "load")) bench_load(dir, plain, reps);
    unlink(plain);
    return 0;
}
