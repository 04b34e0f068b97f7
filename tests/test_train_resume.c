/* test_train_resume: the training loop's guarantees on a small Fashion-MNIST subset -
 * a run resumed from a checkpoint ends with the weights of an uninterrupted run (bit for
 * bit), the same seed gives bit-identical weights (1 and 2 threads), a different seed
 * does not, frozen tensors stay fixed, schedules and soft-target training work, and a
 * damaged or foreign checkpoint is refused with a message. */
#include <sys/stat.h>
#include <unistd.h>
#include "tutil.h"
#include "core/core.h"

static ng_dataset tr, te;

static ng_model *lenet(uint64_t seed)
{
    ng_model *m = NULL;
    CHECK_OK(ng_model_from_arch("lenet5", 1, 28, 28, 10, seed, &m));
    return m;
}

static ng_train_options opts(int epochs, int threads)
{
    ng_train_options o = ng_train_options_default();
    o.epochs = epochs;
    o.threads = threads;
    o.quiet = 1;
    o.eval_each_epoch = 0;
    return o;
}

/* Train a fresh LeNet-5 (init seed 0) and return it. */
static ng_model *train(const ng_train_options *o, ng_train_result *r)
{
    ng_model *m = lenet(0);
    if (!m) return NULL;
    CHECK_OK(ng_train(m, &tr, &te, o, r));
    return m;
}

static int same_params(ng_model *a, ng_model *b)
{
    return a && b && ng_model_nparams(a) == ng_model_nparams(b) &&
           memcmp(ng_model_params(a), ng_model_params(b), ng_model_nparams(a) * sizeof(float)) == 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);   /* OpenBLAS's best kernels (the CLI does the same): a shorter run */
    CHECK_OK(ng_init());
    ng_dataset full;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TRAIN, &full));
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te));
    CHECK_OK(ng_dataset_subset(&full, 0, 3000, 7, &tr));
    ng_dataset_free(&full);
    ng_train_result *r = calloc(4, sizeof *r);

    /* (5) same seed -> bit-identical weights, single-threaded and with 2 threads */
    ng_train_options o1 = opts(2, 1);
    ng_model *a = train(&o1, &r[0]), *b = train(&o1, &r[1]);
    CHECK(same_params(a, b));
    CHECKF(r[0].final_acc > 0.55, "3000 examples, 2 epochs: accuracy %.4f", r[0].final_acc);
    printf("1 thread: acc %.4f, %.0f img/s\n", r[0].final_acc, r[0].images_per_s);
    ng_train_options o2 = opts(2, 2);
    ng_model *c = train(&o2, &r[2]), *d = train(&o2, &r[3]);
    CHECK(same_params(c, d));
    printf("2 threads: acc %.4f, %.0f img/s, equal to 1 thread: %s\n", r[2].final_acc, r[2].images_per_s,
           same_params(a, c) ? "yes" : "no");
    ng_train_options os = o1;
    os.seed = 1;
    ng_model *e = train(&os, &r[1]);
    CHECK(!same_params(a, e));   /* another seed shuffles differently */
    ng_model_free(a); ng_model_free(b); ng_model_free(c); ng_model_free(d); ng_model_free(e);

    /* (4) resume: 3 epochs at once vs 2 epochs (the interrupted run) + resume to 3; SGD with momentum,
     * weight decay, step schedule */
    char ck[512], ck2[512];
    snprintf(ck, sizeof ck, "%s/ck.onnx", tu_tmpdir());
    snprintf(ck2, sizeof ck2, "%s/ck2.onnx", tu_tmpdir());
    ng_train_options full3 = opts(3, 2);
    full3.optim = ng_optim_options_default(NG_OPTIM_SGD);
    full3.optim.lr = 0.05f; full3.optim.momentum = 0.9f; full3.optim.weight_decay = 1e-4f;
    full3.sched = NG_SCHED_STEP;   /* lr halves every epoch: the same whatever the total epochs */
    full3.step_size = 1; full3.gamma = 0.5f;
    full3.checkpoint = ck2;
    ng_model *u = train(&full3, &r[0]);
    ng_train_options part = full3;
    part.epochs = 2;
    part.checkpoint = ck;
    ng_model *p = train(&part, &r[1]);
    char st_path[600];
    snprintf(st_path, sizeof st_path, "%s.state", ck);
    struct stat sb;
    CHECK(stat(ck, &sb) == 0 && sb.st_size > 200000);
    CHECK(stat(st_path, &sb) == 0 && sb.st_size == 120 + 16 * 2 + 4 * (off_t)ng_model_nparams(p) + 32);
    ng_train_options rest = full3;
    rest.checkpoint = ck;
    rest.resume = 1;
    ng_model *q = train(&rest, &r[2]);   /* starts from the seed-0 init, must load epoch 2 */
    CHECK(same_params(u, q));
    CHECK(r[2].epochs_run == 3 && r[2].epoch_loss[0] == r[0].epoch_loss[0] && r[2].epoch_loss[2] == r[0].epoch_loss[2]);
    CHECK(r[2].final_acc == r[0].final_acc);
    printf("resume: uninterrupted acc %.4f, resumed acc %.4f, weights identical: %s\n", r[0].final_acc,
           r[2].final_acc, same_params(u, q) ? "yes" : "no");
    /* a real interruption: cosine schedule (depends on the total epochs), the disk fills up while
     * the third checkpoint is written; the run fails, the epoch-2 checkpoint stays, resume finishes */
    char ck3[512], ck4[512];
    snprintf(ck3, sizeof ck3, "%s/ck3.onnx", tu_tmpdir());
    snprintf(ck4, sizeof ck4, "%s/ck4.onnx", tu_tmpdir());
    ng_train_options cos3 = opts(3, 2);
    cos3.sched = NG_SCHED_COSINE;
    cos3.checkpoint = ck3;
    ng_model *cu = train(&cos3, &r[0]);
    const int64_t np = cu ? (int64_t)ng_model_nparams(cu) : 0;
    struct stat sm;
    CHECK(stat(ck3, &sm) == 0);
    const int64_t state1 = 120 + 16 * 1 + 8 * np + 32, state2 = state1 + 16;   /* Adam: 2 floats per parameter */
    ng_fault_write_after(2 * (int64_t)sm.st_size + state1 + state2);
    ng_train_options cos_crash = cos3;
    cos_crash.checkpoint = ck4;
    ng_model *cc = lenet(0);
    CHECK_ST(ng_train(cc, &tr, &te, &cos_crash, &r[1]), NG_E_IO);
    ng_fault_write_after(-1);
    snprintf(st_path, sizeof st_path, "%s.state", ck4);
    CHECK(stat(st_path, &sb) == 0 && sb.st_size == state2);
    ng_train_options cos_resume = cos_crash;
    cos_resume.resume = 1;
    ng_model *cr = train(&cos_resume, &r[2]);
    CHECK(same_params(cu, cr));
    printf("resume after a failed checkpoint write (cosine): weights identical: %s\n", same_params(cu, cr) ? "yes" : "no");
    ng_model_free(cu); ng_model_free(cc); ng_model_free(cr);
    snprintf(st_path, sizeof st_path, "%s.state", ck);

    /* resuming with another seed or optimizer is refused */
    ng_train_options bad = rest;
    bad.seed = 5;
    ng_model *t = lenet(0);
    CHECK_ST(ng_train(t, &tr, NULL, &bad, &r[3]), NG_E_INVALID);
    bad = rest;
    bad.optim = ng_optim_options_default(NG_OPTIM_ADAM);
    CHECK(ng_train(t, &tr, NULL, &bad, &r[3]) != NG_OK);
    /* a damaged state file is refused, not trusted */
    FILE *f = fopen(st_path, "r+b");
    if (f) { fseek(f, 130, SEEK_SET); fputc(0x55, f); fclose(f); }
    CHECK_ST(ng_train(t, &tr, NULL, &rest, &r[3]), NG_E_FORMAT);
    CHECK(strstr(ng_last_error(), "checksum") != NULL);
    ng_model_free(t); ng_model_free(u); ng_model_free(p); ng_model_free(q);

    /* freeze: matching tensors do not move, the others do; a pattern matching nothing is an error */
    ng_model *fz = lenet(0), *f0 = lenet(0);
    ng_train_options of = opts(1, 2);
    const size_t nt = ng_model_ntensors(fz);
    ng_param p0;
    ng_model_tensor(fz, 0, &p0);
    printf("first tensor: %s\n", p0.name);
    of.freeze = p0.name;
    CHECK_OK(ng_train(fz, &tr, NULL, &of, &r[0]));
    size_t off = ng_model_tensor_offset(fz, 0), n0 = p0.nbytes / 4;
    CHECK(memcmp(ng_model_params(fz) + off, ng_model_params(f0) + off, n0 * 4) == 0);
    CHECK(nt > 1 && memcmp(ng_model_params(fz) + off + n0, ng_model_params(f0) + off + n0,
                           (ng_model_nparams(fz) - off - n0) * 4) != 0);
    of.freeze = "no_such_tensor*";
    CHECK_ST(ng_train(fz, &tr, NULL, &of, &r[0]), NG_E_INVALID);
    CHECK(strstr(ng_last_error(), "no_such_tensor") != NULL);
    ng_model_free(fz); ng_model_free(f0);

    /* soft targets: one-hot targets with soft xent train exactly as hard labels do */
    float *soft = calloc((size_t)tr.n * 10, sizeof(float));
    for (int64_t i = 0; i < tr.n; i++) soft[i * 10 + tr.y[i]] = 1.0f;
    ng_model *h1 = lenet(0), *h2 = lenet(0);
    ng_train_options oh = opts(1, 1);
    CHECK_OK(ng_train(h1, &tr, &te, &oh, &r[0]));
    CHECK_OK(ng_train_soft(h2, tr.x, soft, tr.n, &te, &oh, &r[1]));
    CHECK(same_params(h1, h2));
    CHECK(r[1].final_acc > 0.5);
    CHECK(ng_model_meta_get(h2, "nnguard.train.seed") && !strcmp(ng_model_meta_get(h2, "nnguard.train.seed"), "0"));
    printf("soft targets: acc %.4f (hard labels %.4f)\n", r[1].final_acc, r[0].final_acc);
    ng_model_free(h1); ng_model_free(h2);
    free(soft);

    /* evaluate: per-class accuracies average (weighted) to the overall one */
    ng_model *ev = lenet(0);
    double acc, pc[10], ips;
    CHECK_OK(ng_evaluate(ev, &te, 1000, 128, 2, &acc, pc, &ips));
    CHECK(acc >= 0 && acc <= 1 && ips > 0);
    int64_t cnt[10] = {0};
    for (int64_t i = 0; i < 1000; i++) cnt[te.y[i]]++;
    double hits = 0;
    for (int k = 0; k < 10; k++) hits += pc[k] * (double)cnt[k];
    CHECK_NEAR(hits / 1000, acc, 1e-9);
    CHECK_ST(ng_evaluate(ev, &te, 0, 64, -1, &acc, NULL, NULL), NG_E_INVALID);
    ng_train_options ob = opts(0, 1);
    CHECK_ST(ng_train(ev, &tr, NULL, &ob, &r[0]), NG_E_INVALID);
    ng_model_free(ev);

    ng_dataset_free(&tr); ng_dataset_free(&te);
    free(r);
    return tu_done();
}
