/* test_core: status messages, RNG reproducibility and statistics, dtype table,
 * atomic writes that leave the original intact on a simulated full disk; the worker pool's joins and
 * its opt-in pinning (NG_POOL_PIN=1). */
#define _GNU_SOURCE   /* pthread_{get,set}affinity_np, CPU_* */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tutil.h"
#include "core/core.h"
#include "core/pool.h"

static int count_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static void sum_body(void *arg, int64_t i0, int64_t i1, int w)
{
    int64_t *out = arg;
    for (int64_t i = i0; i < i1; i++) out[i] = i * i;
}

static void inc_body(void *arg, int64_t i0, int64_t i1, int w)
{
    int64_t *out = arg;
    for (int64_t i = i0; i < i1; i++) out[i]++;
}

/* Short loops back to back, waiters spinning (NG_POOL_SPIN_US=200, whatever the load) or sleeping
 * at once (0): after each ng_pool_for every element was incremented exactly once (a join that
 * returned early, a chunk run twice or skipped would show). */
static void pool_joins(const char *spin_us, int threads)
{
    setenv("NG_POOL_SPIN_US", spin_us, 1);
    ng_pool *p = ng_pool_new(threads);
    unsetenv("NG_POOL_SPIN_US");
    int64_t c[37] = {0};
    int bad = 0;
    for (int rep = 1; rep <= 3000; rep++) {
        ng_pool_for(p, 37, inc_body, c);
        for (int i = 0; i < 37; i++) bad += c[i] != rep;
    }
    CHECKF(bad == 0, "spin %s us, %d threads: %d elements wrong after a loop", spin_us, threads, bad);
    ng_pool_free(p);
}

/* NG_POOL_PIN=1: each thread's mask while it runs its chunk (one chunk per thread: n = threads). */
static void affinity_body(void *arg, int64_t i0, int64_t i1, int w)
{
    cpu_set_t *sets = arg;
    (void)i0; (void)i1;
    pthread_getaffinity_np(pthread_self(), sizeof sets[w], &sets[w]);
}

/* A loop of 101 squares on p comes out right. */
static int squares_right(ng_pool *p)
{
    int64_t sq[101];
    ng_pool_for(p, 101, sum_body, sq);
    int ok = 1;
    for (int i = 0; i < 101; i++) ok &= sq[i] == (int64_t)i * i;
    return ok;
}

/* With NG_POOL_PIN=1 on a caller that may run on 2+ CPUs: the caller and each worker on one CPU of
 * their own (a worker that inherited an already pinned caller's mask would share its CPU), the
 * loops still right, and the caller's mask back as it was after ng_pool_free. */
static void pool_pin(void)
{
    cpu_set_t before, after, sets[2];
    CHECK(pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0);
    if (CPU_COUNT(&before) < 2) { printf("pool_pin: the caller may run on one CPU only: not checked\n"); return; }
    setenv("NG_POOL_PIN", "1", 1);
    ng_pool *p = ng_pool_new(2);
    unsetenv("NG_POOL_PIN");
    memset(sets, 0, sizeof sets);
    ng_pool_for(p, 2, affinity_body, sets);
    CHECKF(CPU_COUNT(&sets[0]) == 1 && CPU_COUNT(&sets[1]) == 1, "pinned: caller on %d CPUs, worker on %d",
           CPU_COUNT(&sets[0]), CPU_COUNT(&sets[1]));
    CHECK(!CPU_EQUAL(&sets[0], &sets[1]));
    CPU_AND(&sets[0], &sets[0], &before);
    CPU_AND(&sets[1], &sets[1], &before);
    CHECK(CPU_COUNT(&sets[0]) == 1 && CPU_COUNT(&sets[1]) == 1);   /* CPUs the caller was allowed */
    CHECK(squares_right(p));
    ng_pool_free(p);
    CHECK(pthread_getaffinity_np(pthread_self(), sizeof after, &after) == 0);
    CHECK(CPU_EQUAL(&before, &after));
}

/* By default (no NG_POOL_PIN) each worker starts on a CPU other than the caller's and is then
 * freed again: while the loops run, every thread's mask is the caller's whole mask (nothing of the
 * caller's process is left pinned), and the caller's mask is untouched. */
static void pool_place(void)
{
    cpu_set_t before, sets[3];
    CHECK(pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0);
    ng_pool *p = ng_pool_new(3);
    memset(sets, 0, sizeof sets);
    ng_pool_for(p, 3, affinity_body, sets);
    for (int w = 0; w < 3; w++)
        CHECKF(CPU_EQUAL(&sets[w], &before), "thread %d runs on %d CPUs, the caller may on %d", w,
               CPU_COUNT(&sets[w]), CPU_COUNT(&before));
    CHECK(squares_right(p));
    ng_pool_free(p);
}

int main(void)
{
    CHECK_OK(ng_init());
    /* status */
    CHECK(strcmp(ng_status_str(NG_E_FORMAT), "malformed file") == 0);
    CHECK(ng_fail(NG_E_KEY, "x.key: %d bytes", 7) == NG_E_KEY);
    CHECK(strcmp(ng_last_error(), "x.key: 7 bytes") == 0);
    ng_fail_ctx(NG_E_KEY, "lock");
    CHECK(strcmp(ng_last_error(), "lock: x.key: 7 bytes") == 0);

    /* rng: xoshiro256** from splitmix64(0): first outputs are fixed forever (reproducibility). */
    ng_rng r, r2;
    ng_rng_seed(&r, 0);
    /* splitmix64 state for seed 0 (well-known: e220a8397b1dcdaf, 6e789e6aa1b965f4, ...) */
    CHECK(r.s[0] == 0xe220a8397b1dcdafULL);
    CHECK(r.s[1] == 0x6e789e6aa1b965f4ULL);
    ng_rng_seed(&r2, 0);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= ng_rng_u64(&r) == ng_rng_u64(&r2);
    CHECK(same);
    double sum = 0, sq = 0;
    int hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        float u = ng_rng_uniform(&r);
        CHECK(u >= 0.0f && u < 1.0f);
        hist[ng_rng_below(&r, 10)]++;
        float z = ng_rng_normal(&r);
        sum += z; sq += (double)z * z;
    }
    CHECK_NEAR(sum / 100000, 0.0, 0.02);
    CHECK_NEAR(sq / 100000, 1.0, 0.02);
    for (int i = 0; i < 10; i++) CHECKF(hist[i] > 9500 && hist[i] < 10500, "bucket %d: %d", i, hist[i]);

    /* dtypes */
    CHECK(ng_dtype_size(NG_DT_BF16) == 2 && ng_dtype_size(NG_DT_F64) == 8);
    CHECK(ng_dtype_from_name("I64") == NG_DT_I64 && ng_dtype_from_name("F8") == NG_DT_UNKNOWN);
    ng_shape s = {3, {2, 3, 4}};
    CHECK(ng_shape_numel(&s) == 24);
    ng_shape big = {3, {INT64_MAX / 2, 3, 4}};
    CHECK(ng_shape_numel(&big) == -1);

    /* pool */
    ng_pool *p = ng_pool_new(2);
    int64_t sq64[1001];
    for (int rep = 0; rep < 50; rep++) ng_pool_for(p, 1001, sum_body, sq64);
    int ok = 1;
    for (int i = 0; i < 1001; i++) ok &= sq64[i] == (int64_t)i * i;
    CHECK(ok);
    ng_pool_free(p);
    pool_joins("200", 2);
    pool_joins("200", 3);
    pool_joins("0", 2);
    pool_joins("0", 3);
    pool_pin();
    pool_place();

    /* atomic write: success, then a simulated full disk keeps the original and leaves no temp file */
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/aw", tu_tmpdir());
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    CHECK_OK(ng_write_file_atomic(path, "original", 8, 0644));
    static char big_buf[1 << 20];
    memset(big_buf, 'x', sizeof big_buf);
    ng_fault_write_after(4096);
    CHECK_ST(ng_write_file_atomic(path, big_buf, sizeof big_buf, 0644), NG_E_IO);
    ng_fault_write_after(-1);
    uint8_t *data; size_t len;
    CHECK_OK(ng_read_file(path, 1 << 20, &data, &len));
    CHECK(len == 8 && memcmp(data, "original", 8) == 0);
    free(data);
    CHECK(count_entries(dir) == 1);
    /* exclusive create refuses an existing file */
    ng_awriter w;
    CHECK_ST(ng_awrite_open_excl(&w, path, 0600), NG_E_EXISTS);
    /* mode is honoured (secrets are 0600) */
    char kpath[700];
    snprintf(kpath, sizeof kpath, "%s/secret.key", dir);
    CHECK_OK(ng_awrite_open_excl(&w, kpath, 0600));
    CHECK_OK(ng_awrite(&w, "k", 1));
    CHECK_OK(ng_awrite_commit(&w));
    struct stat st;
    CHECK(stat(kpath, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* read_file size limit */
    CHECK_ST(ng_read_file(path, 4, &data, &len), NG_E_FORMAT);
    CHECK_ST(ng_read_file("/nonexistent/x", 4, &data, &len), NG_E_IO);
    CHECK(strstr(ng_last_error(), "/nonexistent/x") != NULL);
    return tu_done();
}
