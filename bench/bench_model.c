/* bench_model: nnguard's inference time on one ONNX model, the nnguard side of scripts/bench_ort.sh.
 *
 * usage: bench_model MODEL.onnx BATCH ITERS [THREADS=2]
 * Loads MODEL, runs ng_exec_forward on random input of BATCH x C x H x W (the model's shape) 2 times to
 * warm up, then ITERS times; prints the median seconds per batch. A model nnguard refuses (an op it does
 * not run yet) prints "unsupported: <why>" and exits 3, so the driver can go on with the others.
 * On stderr: the median process CPU seconds per forward (all threads; on a loaded machine the work
 * done, where wall time mostly measures the other load). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "nnguard/nnguard.h"
#include "core/core.h"

#define MAXI 200

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4) { fprintf(stderr, "usage: bench_model MODEL.onnx BATCH ITERS [THREADS]\n"); return 2; }
    ng_blas_reexec(argv);   /* as the CLI does: OpenBLAS's best kernels for this CPU */
    int batch = atoi(argv[2]), iters = atoi(argv[3]), threads = argc > 4 ? atoi(argv[4]) : 2;
    if (batch < 1 || iters < 1 || iters > MAXI) { fprintf(stderr, "bench_model: bad BATCH or ITERS\n"); return 2; }
    ng_init();
    ng_model *m;
    if (ng_model_load(argv[1], &m) != NG_OK) { printf("unsupported: %s\n", ng_last_error()); return 3; }
    ng_shape s;
    ng_model_input_shape(m, &s);
    int64_t per = 1;
    for (int i = 1; i < s.ndim; i++) per *= s.d[i];
    float *x = malloc((size_t)(per * batch) * sizeof *x);
    ng_exec_options o = ng_exec_options_default();
    o.threads = threads;
    o.const_params = !getenv("NG_BENCH_VARY");   /* as predict runs it; NG_BENCH_VARY=1: as before */
    ng_exec *e;
    if (!x || ng_exec_new(m, &o, &e) != NG_OK) { printf("unsupported: %s\n", ng_last_error()); return 3; }
    ng_rng r;
    ng_rng_seed(&r, 1);
    for (int64_t i = 0; i < per * batch; i++) x[i] = ng_rng_uniform(&r);
    double t[MAXI] = {0}, cpu[MAXI] = {0};
    const float *y;
    ng_shape ys;
    for (int i = 0; i < iters + 2; i++) {
        double t0 = ng_now(), c0 = cpu_now();
        if (ng_exec_forward(e, x, batch, &y, &ys) != NG_OK) { printf("unsupported: %s\n", ng_last_error()); return 3; }
        if (i >= 2) { t[i - 2] = ng_now() - t0; cpu[i - 2] = cpu_now() - c0; }
    }
    qsort(t, (size_t)iters, sizeof *t, cmp_d);
    qsort(cpu, (size_t)iters, sizeof *cpu, cmp_d);
    printf("%.6f\n", t[iters / 2]);
    fprintf(stderr, "cpu %.6f s per forward (median, all threads)\n", cpu[iters / 2]);
    ng_exec_free(e);
    ng_model_free(m);
    free(x);
    return 0;
}
