/* bench_pool: what one parallel loop of the engine's worker pool costs to start and finish.
 *
 * usage: bench_pool [THREADS=2] [LOOPS=20000]
 * Runs LOOPS near-empty ng_pool_for loops (each worker touches one counter) and prints the median and
 * the 90th percentile of their wall time in microseconds, over batches of 100 loops. A batch-1 forward
 * is ~100-200 such loops (MobileNetV2), so this round trip times 200 is what a forward spends on
 * starting and joining workers. Compare NG_POOL_SPIN_US=0 (sleep at once on a condition variable) with
 * the default spin. */
#include <stdio.h>
#include <stdlib.h>
#include "core/core.h"
#include "core/pool.h"

#define BATCH 100
#define MAXB 1000

static void touch(void *arg, int64_t i0, int64_t i1, int w)
{
    volatile int64_t *c = arg;
    c[w * 16] += i1 - i0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, loops = argc > 2 ? atoi(argv[2]) : 20000;
    int nb = loops / BATCH;
    if (threads < 1 || threads > 64 || nb < 1 || nb > MAXB) { fprintf(stderr, "bench_pool: bad THREADS or LOOPS\n"); return 2; }
    ng_pool *p = ng_pool_new(threads);
    int64_t *cnt = calloc(64 * 16, sizeof *cnt);
    static double t[MAXB];
    if (!p || !cnt) return 1;
    for (int b = 0; b < nb; b++) {
        double t0 = ng_now();
        for (int i = 0; i < BATCH; i++) ng_pool_for(p, threads, touch, cnt);
        t[b] = (ng_now() - t0) / BATCH * 1e6;
    }
    qsort(t, (size_t)nb, sizeof *t, cmp_d);
    printf("threads %d: one loop %.2f us median, %.2f us p90 (%d batches of %d)\n",
           ng_pool_size(p), t[nb / 2], t[nb * 9 / 10], nb, BATCH);
    ng_pool_free(p);
    free(cnt);
    return 0;
}
