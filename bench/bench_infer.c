/* bench_infer: LeNet-5 throughput on Fashion-MNIST, to set beside the PyTorch peer
 * (../shared/peers/torch_lenet_fmnist.py, run by scripts/bench_infer.sh).
 *
 *   bench_infer [--threads T] [--runs R] [--model lenet.onnx] [--data DIR] [--train-images N]
 *
 * Inference: the 10,000 test images at batch 256, best of R runs, images/s.
 * Training direction: forward (training mode) + cross-entropy + backward + Adam step at batch 64
 * over the first N training images (default 10,000), best of R runs, images/s.
 * Prints lines "infer <img/s> img/s" and "train <img/s> img/s" that the script parses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "nnguard/nnguard.h"
#include "core/core.h"

static int argmax(const float *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[b]) b = i;
    return b;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_infer: %s: %s\n", what, ng_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);   /* as the CLI does: OpenBLAS's best kernels for this CPU */
    fprintf(stderr, "OpenBLAS kernels: %s\n", openblas_get_corename());
    int threads = 2, runs = 5;
    int64_t train_n = 10000;
    const char *model_path = NULL, *dir = NG_FMNIST_DIR;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--train-images") && i + 1 < argc) train_n = atoll(argv[++i]);
        else { fprintf(stderr, "usage: bench_infer [--threads T] [--runs R] [--model lenet.onnx] [--data DIR] [--train-images N]\n"); return 2; }
    }
    if (ng_init() != NG_OK) return fail("init");
    ng_dataset te, tr;
    if (ng_dataset_load_dir(dir, NG_SPLIT_TEST, &te) != NG_OK) return fail("test set");
    if (ng_dataset_load_dir(dir, NG_SPLIT_TRAIN, &tr) != NG_OK) return fail("training set");
    ng_model *m;
    ng_status st = model_path ? ng_model_load(model_path, &m) : ng_model_from_arch("lenet5", 1, 28, 28, 10, 1, &m);
    if (st != NG_OK) return fail("model");
    int classes = ng_model_num_classes(m);
    size_t img = (size_t)te.c * te.h * te.w;

    /* ---- inference, batch 256 ---- */
    ng_exec_options o = ng_exec_options_default();
    o.threads = threads;
    ng_exec *e;
    if (ng_exec_new(m, &o, &e) != NG_OK) return fail("exec");
    double best = 1e30;
    int64_t correct = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = ng_now();
        correct = 0;
        for (int64_t i = 0; i < te.n; i += 256) {
            int64_t b = te.n - i < 256 ? te.n - i : 256;
            const float *y;
            ng_shape ys;
            if (ng_exec_forward(e, te.x + (size_t)i * img, b, &y, &ys) != NG_OK) return fail("forward");
            for (int64_t k = 0; k < b; k++) correct += argmax(y + k * classes, classes) == te.y[i + k];
        }
        double t = ng_now() - t0;
        if (t < best) best = t;
    }
    printf("infer %.0f img/s (LeNet-5, %lld test images, batch 256, %d threads, best of %d; acc %.2f%%)\n",
           (double)te.n / best, (long long)te.n, threads, runs, 100.0 * (double)correct / (double)te.n);
    ng_exec_free(e);

    /* ---- training direction, batch 64 ---- */
    if (train_n > tr.n) train_n = tr.n;
    o.training = 1;
    if (ng_exec_new(m, &o, &e) != NG_OK) return fail("exec");
    size_t np = ng_model_nparams(m);
    float *grad = ng_calloc(np, sizeof(float)), *dl = ng_calloc(64 * (size_t)classes, sizeof(float));
    ng_optim_options oo = ng_optim_options_default(NG_OPTIM_ADAM);
    ng_optim *opt;
    if (!grad || !dl || ng_optim_new(&oo, np, &opt) != NG_OK) return fail("optimizer");
    best = 1e30;
    double loss = 0.0;
    for (int r = 0; r < runs; r++) {
        double t0 = ng_now();
        for (int64_t i = 0; i < train_n; i += 64) {
            int64_t b = train_n - i < 64 ? train_n - i : 64;
            const float *y;
            ng_shape ys;
            if (ng_exec_forward(e, tr.x + (size_t)i * img, b, &y, &ys) != NG_OK) return fail("forward");
            loss = ng_loss_xent(y, tr.y + i, b, classes, dl);
            if (ng_exec_backward(e, dl, grad, NULL) != NG_OK) return fail("backward");
            ng_optim_step(opt, ng_model_params(m), grad, NULL, oo.lr);
        }
        double t = ng_now() - t0;
        if (t < best) best = t;
    }
    printf("train %.0f img/s (LeNet-5, %lld training images, batch 64, Adam, %d threads, best of %d; last loss %.3f)\n",
           (double)train_n / best, (long long)train_n, threads, runs, loss);
    ng_optim_free(opt);
    free(grad); free(dl);
    ng_exec_free(e);
    ng_model_free(m);
    ng_dataset_free(&te);
    ng_dataset_free(&tr);
    return 0;
}
