/* bench_train: LeNet-5, one epoch of Fashion-MNIST at batch 64 (Adam 1e-3, seed 0) with
 * 2 threads (argv[1] overrides the epochs, argv[2] the threads); prints training images/s,
 * inference images/s on the test set, test accuracy and peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <cblas.h>
#include "nnguard/nnguard.h"

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);   /* as the CLI does: OpenBLAS's best kernels for this CPU */
    fprintf(stderr, "OpenBLAS kernels: %s\n", openblas_get_corename());
    int epochs = argc > 1 ? atoi(argv[1]) : 1, threads = argc > 2 ? atoi(argv[2]) : 2;
    ng_dataset tr, te;
    ng_model *m;
    ng_train_result *r = calloc(1, sizeof *r);
    if (!r || ng_init() || ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &tr) ||
        ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te) ||
        ng_model_from_arch("lenet5", tr.c, tr.h, tr.w, tr.classes, 0, &m)) {
        fprintf(stderr, "bench_train: %s\n", ng_last_error());
        return 1;
    }
    ng_train_options o = ng_train_options_default();
    o.epochs = epochs > 0 ? epochs : 1;
    o.threads = threads;
    o.eval_each_epoch = 0;
    o.quiet = 1;
    double acc, ips_inf;
    if (ng_train(m, &tr, NULL, &o, r) || ng_evaluate(m, &te, 0, 256, threads, &acc, NULL, &ips_inf)) {
        fprintf(stderr, "bench_train: %s\n", ng_last_error());
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("nnguard lenet5: %d epoch(s), %d threads: train %.0f img/s, infer %.0f img/s, test acc %.2f%%, "
           "peak RSS %.1f MiB\n", o.epochs, threads, r->images_per_s, ips_inf, 100 * acc, ru.ru_maxrss / 1024.0);
    ng_model_free(m);
    ng_dataset_free(&tr);
    ng_dataset_free(&te);
    free(r);
    return 0;
}
