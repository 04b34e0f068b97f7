/* test_train: LeNet-5 trained by nnguard on full Fashion-MNIST with the defaults (Adam 1e-3,
 * batch 64, 10 epochs, seed 0) reaches >= 89% test accuracy (PyTorch 1.13 reaches ~89.9% on
 * the same recipe); the trained model exports to ONNX that onnx.checker accepts and that
 * re-imports to bit-identical outputs; fine-tuning a PyTorch-exported LeNet-5
 * (tests/fixtures/lenet5.onnx) improves its accuracy on a held-out split.
 * ctest-label: slow heavy (11 minutes under ASan) */
#include <sys/stat.h>
#include <unistd.h>
#include "tutil.h"

static ng_dataset tr, te;

static void full_training(void)
{
    ng_model *m = NULL;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 0, &m));
    if (!m) return;
    ng_train_options o = ng_train_options_default();
    o.threads = 2;
    o.eval_each_epoch = 1;
    o.log = stdout;
    ng_train_result *r = calloc(1, sizeof *r);
    CHECK(o.epochs == 10 && o.batch == 64 && o.optim.kind == NG_OPTIM_ADAM && o.optim.lr == 1e-3f && o.seed == 0);
    CHECK_OK(ng_train(m, &tr, &te, &o, r));
    printf("LeNet-5, 10 epochs: test accuracy %.2f%%, %.0f img/s training\n", 100 * r->final_acc, r->images_per_s);
    CHECKF(r->final_acc >= 0.89, "accuracy %.4f below 0.89", r->final_acc);
    CHECK(r->epoch_acc[0] > 0.75 && r->epoch_loss[9] < r->epoch_loss[0]);

    /* export, onnx.checker, re-import */
    char path[512], cmd[1400];
    snprintf(path, sizeof path, "%s/lenet5-trained.onnx", tu_tmpdir());
    CHECK_OK(ng_model_save_onnx(m, path));
    snprintf(cmd, sizeof cmd, "%s -c 'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); "
             "print(\"onnx.checker: ok, opset\", m.opset_import[0].version)' %s", NG_PYTHON, path);
    CHECKF(system(cmd) == 0, "onnx.checker rejected %s", path);
    ng_model *back = NULL;
    CHECK_OK(ng_model_load(path, &back));
    if (back) {
        CHECK(ng_model_meta_get(back, "nnguard.train.seed") && !strcmp(ng_model_meta_get(back, "nnguard.train.seed"), "0"));
        const int64_t n = 1000;
        float *za = malloc(n * 10 * sizeof(float)), *zb = malloc(n * 10 * sizeof(float));
        CHECK_OK(ng_model_predict(m, te.x, n, 256, 2, za));
        CHECK_OK(ng_model_predict(back, te.x, n, 256, 2, zb));
        CHECK(memcmp(za, zb, n * 10 * sizeof(float)) == 0);
        double acc;
        CHECK_OK(ng_evaluate(back, &te, 0, 256, 2, &acc, NULL, NULL));
        CHECK(acc == r->final_acc);
        free(za); free(zb);
        ng_model_free(back);
    }
    free(r);
    ng_model_free(m);
}

static void fine_tune(void)
{
    ng_model *m = NULL;
    const char *fx = tu_path("fixtures/lenet5.onnx");
    if (access(fx, R_OK) == 0) {
        CHECK_OK(ng_model_load(fx, &m));
        printf("fine-tuning %s\n", fx);
    } else {   /* fixture not there: a fresh model round-tripped through ONNX stands in */
        char path[512];
        snprintf(path, sizeof path, "%s/lenet5-init.onnx", tu_tmpdir());
        ng_model *a = NULL;
        CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, 3, &a));
        if (a) CHECK_OK(ng_model_save_onnx(a, path));
        ng_model_free(a);
        CHECK_OK(ng_model_load(path, &m));
        printf("fine-tuning an nnguard-initialised LeNet-5 via ONNX (no %s)\n", fx);
    }
    if (!m) return;
    ng_dataset sub, ft, held;
    CHECK_OK(ng_dataset_subset(&tr, 0, 12000, 11, &sub));
    CHECK_OK(ng_dataset_split(&sub, 0.25, 11, &ft, &held));
    double before, after;
    CHECK_OK(ng_evaluate(m, &held, 0, 256, 2, &before, NULL, NULL));
    ng_train_options o = ng_train_options_default();
    o.epochs = 2;
    o.threads = 2;
    o.quiet = 1;
    o.optim.lr = 5e-4f;
    ng_train_result *r = calloc(1, sizeof *r);
    CHECK_OK(ng_train(m, &ft, &held, &o, r));
    after = r->final_acc;
    printf("fine-tuning on %lld examples: held-out accuracy %.2f%% -> %.2f%%\n", (long long)ft.n, 100 * before, 100 * after);
    CHECKF(after > before + 0.005, "held-out accuracy %.4f -> %.4f", before, after);
    free(r);
    ng_dataset_free(&sub); ng_dataset_free(&ft); ng_dataset_free(&held);
    ng_model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);   /* OpenBLAS's best kernels (the CLI does the same): a shorter run */
    CHECK_OK(ng_init());
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &tr));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te));
    CHECK(tr.n == 60000 && te.n == 10000);
    fine_tune();
    full_training();
    ng_dataset_free(&tr); ng_dataset_free(&te);
    return tu_done();
}
