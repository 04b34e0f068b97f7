/* bench_securenet: the cost of SecureNet stamping beside the forward pass it precedes, in the
 * same run: LeNet-5 on the 10,000 Fashion-MNIST test images at batch 256 (best of R runs),
 * against stamping the same images (patch 4x4 and blend a = 0.1) with a license key.
 *
 *   bench_securenet [--threads T] [--runs R] [--data DIR]
 *
 * Prints "infer <ns>/image", "stamp-patch <ns>/image <pct>% of inference", "stamp-blend ...",
 * and "unbind <ms>/load" (a bound license: open the key's slot, unlock and check the parameters;
 * best of R runs of a fresh bound clone) with how many images' inference one load costs.
 * Target (issue 11): stamping under 1% of LeNet-5 inference time per image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/nnguard.h"
#include "core/core.h"

static int fail(const char *what)
{
    fprintf(stderr, "bench_securenet: %s: %s\n", what, ng_last_error());
    return 1;
}

/* Best of runs: seconds to stamp all n images of x, a batch of 256 at a time as a licensed
 * forward pass does (the batch copied to y first, in cache like a batch just read; copy not timed). */
static double time_stamp(const ng_stamper *s, const float *x, float *y, int64_t n, size_t dim, int runs)
{
    const int64_t bs = 256;
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t = 0;
        for (int64_t i = 0; i < n; i += bs) {
            const int64_t m = n - i < bs ? n - i : bs;
            memcpy(y, x + (size_t)i * dim, (size_t)m * dim * sizeof(float));
            double t0 = ng_now();
            ng_license_stamp(s, y, m);
            t += ng_now() - t0;
        }
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);
    int threads = 2, runs = 5;
    const char *dir = NG_FMNIST_DIR;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else { fprintf(stderr, "usage: bench_securenet [--threads T] [--runs R] [--data DIR]\n"); return 2; }
    }
    if (ng_init() != NG_OK) return fail("init");
    ng_dataset te;
    if (ng_dataset_load_dir(dir, NG_SPLIT_TEST, &te) != NG_OK) return fail("test set");
    ng_model *m;
    if (ng_model_from_arch("lenet5", te.c, te.h, te.w, te.classes, 1, &m) != NG_OK) return fail("lenet5");
    const size_t dim = (size_t)te.c * (size_t)te.h * (size_t)te.w;
    float *logits = malloc((size_t)te.n * (size_t)te.classes * sizeof(float)), *y = malloc((size_t)te.n * dim * sizeof(float));
    if (!logits || !y) return fail("memory");
    double inf = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = ng_now();
        if (ng_model_predict(m, te.x, te.n, 256, threads, logits) != NG_OK) return fail("predict");
        double t = ng_now() - t0;
        if (t < inf) inf = t;
    }
    ng_key k;
    if (ng_key_generate(256, &k) != NG_OK) return fail("key");
    const double per = 1e9 * inf / (double)te.n;
    printf("infer %.0f ns/image (LeNet-5, batch 256, %d threads, best of %d)\n", per, threads, runs);
    for (int mode = 0; mode < 2; mode++) {
        ng_stamp_options o = ng_stamp_options_default();
        o.mode = mode ? NG_STAMP_BLEND : NG_STAMP_PATCH;
        ng_stamper *s;
        if (ng_stamper_new(&k, &o, te.c, te.h, te.w, &s) != NG_OK) return fail("stamper");
        const double ns = 1e9 * time_stamp(s, te.x, y, te.n, dim, runs) / (double)te.n;
        printf("stamp-%s %.1f ns/image %.3f%% of inference\n", mode ? "blend" : "patch", ns, 100 * ns / per);
        ng_stamper_free(s);
    }
    double ub = 1e30;   /* a bound license: one unlock per load */
    ng_model *b;
    if (ng_model_clone(m, &b) != NG_OK || ng_license_bind(b, &k, 1, NULL) != NG_OK) return fail("bind");
    for (int r = 0; r < runs; r++) {
        ng_model *c;
        if (ng_model_clone(b, &c) != NG_OK) return fail("clone");
        double t0 = ng_now();
        if (ng_license_unbind(c, &k) != NG_OK) return fail("unbind");
        double t = ng_now() - t0;
        if (t < ub) ub = t;
        if (memcmp(ng_model_params_c(c), ng_model_params_c(m), ng_model_nparams(m) * sizeof(float)))
            return fail("unbind is not bit-exact");
        ng_model_free(c);
    }
    printf("unbind %.3f ms/load (%zu parameters) = %.1f images' inference\n", 1e3 * ub, ng_model_nparams(m),
           1e9 * ub / per);
    ng_model_free(b);
    ng_key_wipe(&k);
    free(logits); free(y);
    ng_model_free(m);
    ng_dataset_free(&te);
    return 0;
}
