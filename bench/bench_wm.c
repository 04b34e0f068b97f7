/* bench/bench_wm.c - the DynaMarks watermark's CPU cost per served answer, in process, against
 * the forward pass it rides on.
 *
 *   bench_wm [MODEL] [REPS]     (default tests/fixtures/lenet5.onnx, 7 repetitions)
 *
 * On one thread (the server's loops run one executor each) and in thread CPU time, median of
 * REPS passes over the first 2,048 Fashion-MNIST test images:
 *   - hash:   ng_wm_hash per image (the input hash h(x): the server computes it where it parses
 *             the request);
 *   - apply:  ng_wm_apply_hash per answer (the soft reshaping with the strength h(x) draws);
 *   - batch:  ng_wm_hash_batch over 16 images per call (the server's usual batch);
 *   - forward + softmax per image at batch 1, 16, 32, 64 and 256 (16 is what 32 connections
 *     on 2 loops make: see docs/results/dynamarks-bench-serve.txt);
 * and the watermark's share = (hash + apply) / (forward + softmax per image at that batch). */
#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nnguard/nnguard.h"
#include "nnguard/dynamarks.h"
#include "core/core.h"
#include "bench_util.h"

#define NIMG 2048

static double tcpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);
    ng_init();
    const char *path = argc > 1 ? argv[1] : "tests/fixtures/lenet5.onnx";
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (reps < 1 || reps > MAXREPS) reps = 7;
    ng_model *m;
    ng_dataset te;
    if (ng_model_load(path, &m) != NG_OK || ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te) != NG_OK) {
        fprintf(stderr, "bench_wm: %s\n", ng_last_error());
        return 1;
    }
    int64_t n = te.n < NIMG ? te.n : NIMG, dim = (int64_t)te.c * te.h * te.w;
    int C = ng_model_num_classes(m);
    ng_key k = { .len = 32 };
    for (int i = 0; i < 32; i++) k.k[i] = (uint8_t)(17 * i + 3);
    ng_wm *w;
    if (ng_wm_new(&k, C, NULL, &w) != NG_OK) {
        fprintf(stderr, "bench_wm: %s\n", ng_last_error());
        return 1;
    }
    uint8_t *d = malloc((size_t)n * NG_WM_HASH_BYTES);
    float *p = malloc((size_t)n * (size_t)C * sizeof *p);
    double t_dig[MAXREPS], t_app[MAXREPS], t_bat[MAXREPS];
    uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = tcpu();
        for (int64_t i = 0; i < n; i++) ng_wm_hash(w, te.x + i * dim, (size_t)dim, d + i * NG_WM_HASH_BYTES);
        t_dig[r] = (tcpu() - t0) / (double)n;
        for (int64_t i = 0; i < n * C; i++) p[i] = (i % C) == (i / C) % C ? 0.82f : 0.02f;
        ng_wm_answer a;
        t0 = tcpu();
        for (int64_t i = 0; i < n; i++) { ng_wm_apply_hash(w, d + i * NG_WM_HASH_BYTES, p + i * C, &a); sink += (uint64_t)a.marked; }
        t_app[r] = (tcpu() - t0) / (double)n;
        t0 = tcpu();
        for (int64_t i = 0; i + 16 <= n; i += 16) ng_wm_hash_batch(w, te.x + i * dim, 16, (size_t)dim, d + i * NG_WM_HASH_BYTES);
        t_bat[r] = (tcpu() - t0) / (double)(n / 16 * 16);
        sink += d[0];
    }
    double dig = median(t_dig, reps), app = median(t_app, reps), bat = median(t_bat, reps);
    printf("bench_wm: %s, %lld images of %lld floats, %d classes, 1 thread, thread CPU time, median of %d\n", path,
           (long long)n, (long long)dim, C, reps);
    printf("watermark hash    : %8.0f ns/answer (ng_wm_hash)\n", 1e9 * dig);
    printf("watermark hash    : %8.0f ns/answer (ng_wm_hash_batch, 16 per call)\n", 1e9 * bat);
    printf("watermark apply   : %8.0f ns/answer (ng_wm_apply_hash, soft)\n", 1e9 * app);
    ng_exec *e;
    ng_exec_options o = ng_exec_options_default();
    o.threads = 1;
    if (ng_exec_new(m, &o, &e) != NG_OK) { fprintf(stderr, "bench_wm: %s\n", ng_last_error()); return 1; }
    static const int64_t bs[] = {1, 16, 32, 64, 256};
    for (size_t b = 0; b < sizeof bs / sizeof *bs; b++) {
        const float *z;
        ng_shape os;
        double t_fw[MAXREPS];
        ng_exec_forward(e, te.x, bs[b], &z, &os);   /* warm-up: buffers sized */
        for (int r = 0; r < reps; r++) {
            double t0 = tcpu();
            int64_t done = 0;
            for (int64_t i = 0; i + bs[b] <= n; i += bs[b]) {
                ng_exec_forward(e, te.x + i * dim, bs[b], &z, &os);
                ng_softmax_rows(z, p, bs[b], C);
                done += bs[b];
            }
            t_fw[r] = (tcpu() - t0) / (double)done;
        }
        double fw = median(t_fw, reps);
        printf("forward batch %3lld : %8.0f ns/image; watermark (hash + apply) = %.2f%% of it\n", (long long)bs[b],
               1e9 * fw, 100 * (dig + app) / fw);
    }
    if (sink == 42) printf("\n");
    ng_exec_free(e);
    ng_wm_free(w);
    ng_model_free(m);
    ng_dataset_free(&te);
    free(d);
    free(p);
    return 0;
}
