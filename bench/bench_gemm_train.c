/* bench_gemm_train: the three products of a training Conv on our kernels against OpenBLAS, one
 * thread, on vgg-small's and resnet-small's shapes (batched columns as ops_conv*.c makes them).
 *
 * usage: bench_gemm_train [REPS=20]
 * For each shape (M output channels, K = C kh kw taps, P columns) prints the GFLOP/s (best of REPS)
 * of: the weight gradient dW += dY col^T on abt.h's kernel and as OpenBLAS's sgemm (NoTrans, Trans),
 * the forward W col on the pointwise kernel and OpenBLAS, and the ratios ours / OpenBLAS. OpenBLAS
 * runs the kernels OPENBLAS_CORETYPE picks (printed). Peers measured in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
#include "engine/abt.h"
#include "engine/pwconv.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *fill(int64_t n)
{
    float *p = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; p && i < n; i++) p[i] = (float)((i * 7919 % 1000) - 500) * 1e-3f;
    return p;
}

int main(int argc, char **argv)
{
    const int reps = argc > 1 ? atoi(argv[1]) : 20;
    static const int64_t shapes[][3] = {
        { 32, 288, 840 },    /* vgg-small features.3: 32 -> 32 at 28x28, one image on the padded grid */
        { 64, 576, 512 },    /* features.10: 64 -> 64 at 14x14, 2 images side by side */
        { 128, 1152, 504 },  /* features.17: 128 -> 128 at 7x7, 8 images */
        { 16, 144, 840 },    /* resnet-small layer1: 16 -> 16 at 28x28 */
        { 64, 576, 504 },    /* resnet-small layer3: 64 -> 64 at 7x7 */
    };
    openblas_set_num_threads(1);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("1 thread, best of %d; our kernels' ISA level %d (2 AVX-512, 1 AVX2); OPENBLAS_CORETYPE=%s\n", reps,
           ng_pwconv_isa(), ct ? ct : "(unset)");
    printf("%-18s %10s %10s %7s %10s %10s %7s\n", "M x K x P", "dW abt", "dW blas", "ratio", "fwd pw", "fwd blas", "ratio");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t M = shapes[s][0], K = shapes[s][1], P = shapes[s][2];
        float *dy = fill(M * P), *col = fill(K * P), *w = fill(M * K), *dw = fill(M * K), *y = fill(M * P);
        if (!dy || !col || !w || !dw || !y) { fprintf(stderr, "bench_gemm_train: out of memory\n"); return 1; }
        double t[4] = { 1e9, 1e9, 1e9, 1e9 };
        const ng_abt q = { .M = M, .N = K, .P = P, .a = dy, .lda = P, .b = col, .ldb = P, .d = dw, .ldd = K };
        const ng_pwconv a = { .N = 1, .M = M, .K = K, .P = P, .x = col, .w = w, .y = y };
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            ng_abt_serial(&q);
            double t1 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)K, (int)P, 1.0f, dy, (int)P, col, (int)P,
                        1.0f, dw, (int)K);
            double t2 = now();
            ng_pwconv_serial(&a);
            double t3 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)P, (int)K, 1.0f, w, (int)K, col, (int)P,
                        0.0f, y, (int)P);
            double t4 = now();
            const double d[4] = { t1 - t0, t2 - t1, t3 - t2, t4 - t3 };
            for (int i = 0; i < 4; i++) if (d[i] < t[i]) t[i] = d[i];
        }
        const double gf = 2.0 * (double)(M * K * P) * 1e-9;
        char nm[48];
        snprintf(nm, sizeof nm, "%lld x %lld x %lld", (long long)M, (long long)K, (long long)P);
        printf("%-18s %10.1f %10.1f %6.2fx %10.1f %10.1f %6.2fx\n", nm, gf / t[0], gf / t[1], t[1] / t[0], gf / t[2],
               gf / t[3], t[3] / t[2]);
        free(dy); free(col); free(w); free(dw); free(y);
    }
    return 0;
}
