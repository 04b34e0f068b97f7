/* bench_conv_bwd: CPU time of one Conv node's backward (dX, dW, dB) at batch 64 on 1 thread, for
 * the 3x3 stride-1 layers of vgg-small and resnet-small, with the engine's defaults against
 * NG_WINOGRAD=0 (dX through W^T dY + col2im), and of its forward in a training exec. Each figure
 * is the fastest of ROUNDS (argv[1], default 5) rounds of 10 calls, the two settings interleaved,
 * so a noisy neighbour inflates both. Process CPU time, not wall time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nnguard/nnguard.h"
#include "engine/graph.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct layer { const char *name; int64_t C, M, HW; } layer;

static ng_exec *conv_exec(const layer *l, ng_model **mp)
{
    ng_model *m = ng_model_alloc();
    ng_shape xs = { 4, { -1, l->C, l->HW, l->HW } }, ws = { 4, { l->M, l->C, 3, 3 } }, bs = { 1, { l->M } };
    int ins[3];
    ins[0] = ng_model_add_value(m, "x", NG_V_INPUT, &xs);
    ins[1] = ng_model_add_param(m, "w", &ws, NULL, 1);
    ins[2] = ng_model_add_param(m, "b", &bs, NULL, 1);
    ng_attrs a;
    ng_attrs_default(&a);
    a.pad[0] = a.pad[1] = a.pad[2] = a.pad[3] = 1;
    int y = ng_model_add_value(m, "y", NG_V_ACT, NULL);
    ng_model_add_node(m, NG_OP_CONV, "conv", ins, 3, &y, 1, &a);
    ng_exec *e = NULL;
    ng_exec_options o = ng_exec_options_default();
    o.threads = 1;
    o.training = 1;
    if (ng_model_finalize(m) || ng_exec_new(m, &o, &e)) {
        fprintf(stderr, "bench_conv_bwd: %s\n", ng_last_error());
        exit(1);
    }
    float *p = ng_model_params(m);
    for (size_t i = 0; i < ng_model_nparams(m); i++) p[i] = (float)((i * 2654435761u) % 1000) * 1e-4f - 0.05f;
    *mp = m;
    return e;
}

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);
    const int rounds = argc > 1 ? atoi(argv[1]) : 5, N = 64, reps = 10;
    static const layer layers[] = {
        { "vgg 32->32 28x28", 32, 32, 28 }, { "vgg 32->64 14x14", 32, 64, 14 }, { "vgg 64->64 14x14", 64, 64, 14 },
        { "vgg 64->128 7x7", 64, 128, 7 }, { "vgg 128->128 7x7", 128, 128, 7 },
        { "resnet 16->16 28x28", 16, 16, 28 }, { "resnet 32->32 14x14", 32, 32, 14 }, { "resnet 64->64 7x7", 64, 64, 7 },
    };
    if (ng_init()) return 1;
    printf("Conv 3x3 pad 1, batch %d, 1 thread, ms per call (fastest of %d rounds of %d)\n", N, rounds, reps);
    printf("%-22s %10s %10s %8s %10s\n", "layer", "bwd", "bwd wino0", "ratio", "fwd");
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *l = &layers[li];
        ng_model *m[2];
        ng_exec *e[2];
        for (int off = 0; off < 2; off++) {
            if (off) setenv("NG_WINOGRAD", "0", 1);
            e[off] = conv_exec(l, &m[off]);
            if (off) unsetenv("NG_WINOGRAD");
        }
        size_t nx = (size_t)(N * l->C * l->HW * l->HW), ny = (size_t)(N * l->M * l->HW * l->HW);
        float *x = malloc(nx * sizeof(float)), *gx = malloc(nx * sizeof(float)), *dy = malloc(ny * sizeof(float));
        float *gp = malloc(ng_model_nparams(m[0]) * sizeof(float));
        for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 40503u) % 2000) * 1e-3f - 1.0f;
        for (size_t i = 0; i < ny; i++) dy[i] = (float)((i * 7919u) % 2000) * 1e-3f - 1.0f;
        double best[3] = { 1e30, 1e30, 1e30 };
        for (int r = 0; r < rounds; r++)
            for (int off = 0; off < 2; off++) {
                const float *y;
                ng_shape ys;
                double t0 = cpu_now();
                for (int k = 0; k < reps; k++) ng_exec_forward(e[off], x, N, &y, &ys);
                double t1 = cpu_now();
                for (int k = 0; k < reps; k++) ng_exec_backward(e[off], dy, gp, gx);
                double t2 = cpu_now();
                if (!off && t1 - t0 < best[2]) best[2] = t1 - t0;
                if (t2 - t1 < best[off]) best[off] = t2 - t1;
            }
        printf("%-22s %10.2f %10.2f %7.2fx %10.2f\n", l->name, 1e3 * best[0] / reps, 1e3 * best[1] / reps,
               best[1] / best[0], 1e3 * best[2] / reps);
        for (int off = 0; off < 2; off++) { ng_exec_free(e[off]); ng_model_free(m[off]); }
        free(x); free(gx); free(dy); free(gp);
    }
    return 0;
}
