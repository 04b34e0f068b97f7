/* bench_train_cpu: CPU time of a fixed training run, for before/after comparisons of engine
 * changes on a shared machine (CPU time, not wall time: neighbours barely move it).
 *   bench_train_cpu [ARCH [COUNT [THREADS [EPOCHS]]]]   (default vgg-small 6000 1 1)
 * Trains ARCH from seed 0 on a stratified COUNT of the Fashion-MNIST training set (batch 64,
 * Adam 1e-3, no per-epoch evaluation) and prints the user+system CPU seconds of ng_train alone,
 * the test accuracy and an FNV-1a hash of the trained parameters: training is deterministic at a
 * fixed thread count, so an equal hash means the change kept every bit of the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <cblas.h>
#include "nnguard/nnguard.h"

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static uint64_t fnv1a(const float *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n * sizeof(float); i++) { h ^= b[i]; h *= 1099511628211ull; }
    return h;
}

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);   /* as the CLI does: OpenBLAS's best kernels for this CPU */
    const char *arch = argc > 1 ? argv[1] : "vgg-small";
    long long count = argc > 2 ? atoll(argv[2]) : 6000;
    int threads = argc > 3 ? atoi(argv[3]) : 1, epochs = argc > 4 ? atoi(argv[4]) : 1;
    ng_dataset full, tr, te;
    ng_model *m;
    ng_train_result *r = calloc(1, sizeof *r);
    if (!r || ng_init() || ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &full) ||
        ng_dataset_subset(&full, 1.0, count, 0, &tr) || ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te) ||
        ng_model_from_arch(arch, tr.c, tr.h, tr.w, tr.classes, 0, &m)) {
        fprintf(stderr, "bench_train_cpu: %s\n", ng_last_error());
        return 1;
    }
    ng_train_options o = ng_train_options_default();
    o.epochs = epochs > 0 ? epochs : 1;
    o.threads = threads > 0 ? threads : 1;
    o.eval_each_epoch = 0;
    o.quiet = 1;
    double acc, t0 = cpu_seconds();
    if (ng_train(m, &tr, NULL, &o, r)) {
        fprintf(stderr, "bench_train_cpu: %s\n", ng_last_error());
        return 1;
    }
    double cpu = cpu_seconds() - t0;
    if (ng_evaluate(m, &te, 0, 256, o.threads, &acc, NULL, NULL)) {
        fprintf(stderr, "bench_train_cpu: %s\n", ng_last_error());
        return 1;
    }
    printf("%s: %lld images, %d epoch(s), %d thread(s): training CPU %.2f s (%.0f img per CPU s), test acc %.2f%%, "
           "params fnv1a %016llx\n", arch, (long long)tr.n, o.epochs, o.threads, cpu, (double)tr.n * o.epochs / cpu,
           100 * acc, (unsigned long long)fnv1a(ng_model_params_c(m), ng_model_nparams(m)));
    ng_model_free(m);
    ng_dataset_free(&full);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    free(r);
    return 0;
}
