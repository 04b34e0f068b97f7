/* tests/test_torch_parity.c - every ONNX fixture reproduces PyTorch's outputs.
 *
 * Fixtures come from tests/gen_fixtures.py (layout documented there) and the small
 * models of tests/gen_models.py (fixtures/models: transformer, LSTM, GRU, MLP at opsets 9/17). For each
 * model: |ours - torch| <= 1e-4 * max(1, |torch|) elementwise and the same
 * argmax on >= 99.9% of rows. LeNet-5 runs on the first 2000 Fashion-MNIST test
 * images and must also match PyTorch's accuracy on them.
 */
#include "parity.h"

static void check_lenet(void)
{
    ng_dataset te;
    ng_model *m = NULL;
    size_t ny;
    float *ref = read_f32(tu_path("fixtures/lenet5_logits.f32"), &ny);
    CHECK(ref && ny == 20000);
    CHECK_OK(ng_model_load(tu_path("fixtures/lenet5.onnx"), &m));
    ng_status st = ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te);
    CHECK_OK(st);
    if (!m || !ref || ny != 20000 || st != NG_OK) { ng_model_free(m); free(ref); return; }
    float *logits = malloc(20000 * sizeof *logits);
    CHECK_OK(ng_model_predict(m, te.x, 2000, 256, 2, logits));
    int64_t agree;
    double worst = compare("lenet5", logits, ref, 2000, 10, &agree);
    int ours = 0, theirs = 0;
    for (int i = 0; i < 2000; i++) {
        int a = 0, b = 0;
        for (int c = 1; c < 10; c++) {
            if (logits[i * 10 + c] > logits[i * 10 + a]) a = c;
            if (ref[i * 10 + c] > ref[i * 10 + b]) b = c;
        }
        ours += a == te.y[i];
        theirs += b == te.y[i];
    }
    printf("lenet5: worst rel err %.2e, argmax agrees %lld/2000, accuracy ours %.2f%% torch %.2f%%\n",
           worst, (long long)agree, ours / 20.0, theirs / 20.0);
    CHECKF(worst <= 1e-4, "lenet5: worst relative error %.3g", worst);
    CHECK(agree >= 1998);
    CHECK(abs(ours - theirs) <= 2);
    CHECK(theirs > 1500);   /* the fixture is a trained model (82.85%), not noise */
    free(logits);
    free(ref);
    ng_dataset_free(&te);
    ng_model_free(m);
}

/* A fresh LayerNormalization (ng_model_reinit, the fine-tuning attack) has scale 1 and bias 0, as PyTorch's. */
static void check_layernorm_init(void)
{
    ng_model *m = NULL;
    CHECK_OK(ng_model_load(tu_path("fixtures/models/transformer17.onnx"), &m));
    int seen = 0;
    for (size_t t = 0; m && t < ng_model_ntensors(m); t++) {
        ng_param p;
        ng_model_tensor(m, t, &p);
        if (!strstr(p.name, "norm")) continue;
        ng_init_rule r = ng_model_init_rule(m, t);
        int scale = strstr(p.name, "weight") != NULL;
        CHECKF(r.kind == NG_INIT_CONST && r.scale == (scale ? 1.0f : 0.0f), "%s: init rule %d %g", p.name, (int)r.kind, (double)r.scale);
        seen++;
    }
    CHECK(seen >= 1);   /* torch shares equal initializers: every norm aliases norm1.weight (or a zero bias) */
    ng_model_free(m);
}

int main(void)
{
    int count = check_manifest("fixtures");
    CHECKF(count >= 40, "only %d fixtures in the manifest", count);
    count = check_manifest("fixtures/models");
    CHECKF(count >= 4, "only %d models in fixtures/models/manifest.txt", count);
    check_layernorm_init();
    check_lenet();
    return tu_done();
}
