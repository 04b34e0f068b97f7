/* engine/train.c - the training loop: seeded shuffles, mini-batches through the engine in
 * training mode, cross-entropy (hard labels) or soft cross-entropy (distillation), backward,
 * an optimizer step with frozen tensors masked, a per-epoch learning-rate schedule, test
 * accuracy, checkpoints and resume.
 *
 * Reproducibility: the shuffle generator is seeded once from o->seed and carried from epoch
 * to epoch (it is saved in checkpoints); each epoch runs a fresh exec whose Dropout seed is
 * derived from (seed, epoch). So a run resumed from a checkpoint takes exactly the steps of
 * an uninterrupted one. All buffers are allocated once before the first batch. */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "engine/train_impl.h"
#include "core/core.h"

typedef struct train_src {
    const float   *x;        /* n x dim */
    const int32_t *y;        /* hard labels, or NULL */
    const float   *soft;     /* n x classes targets, or NULL */
    int64_t        n, dim, classes;
} train_src;

ng_train_options ng_train_options_default(void)
{
    ng_train_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 10;
    o.batch = 64;
    o.optim = ng_optim_options_default(NG_OPTIM_ADAM);
    o.optim.lr = 1e-3f;
    o.sched = NG_SCHED_CONST;
    o.step_size = 0;        /* 0: a third of the epochs */
    o.gamma = 0.1f;
    o.seed = 0;
    o.threads = 0;
    o.eval_each_epoch = 1;
    return o;
}

/* Learning rate of epoch e (0-based); PyTorch StepLR / CosineAnnealingLR(T_max = epochs, eta_min 0). */
static float sched_lr(const ng_train_options *o, int e)
{
    const double lr = o->optim.lr;
    switch (o->sched) {
    case NG_SCHED_STEP: {
        int step = o->step_size > 0 ? o->step_size : (o->epochs / 3 > 0 ? o->epochs / 3 : 1);
        return (float)(lr * pow((double)o->gamma, (double)(e / step)));
    }
    case NG_SCHED_COSINE:
        return (float)(lr * 0.5 * (1.0 + cos(M_PI * (double)e / (double)o->epochs)));
    default:
        return (float)lr;
    }
}

/* mask[i] = 0 for parameters not trained: BN running statistics and tensors whose name
 * matches one of the comma-separated fnmatch patterns in freeze. */
static ng_status build_mask(const ng_model *m, const char *freeze, uint8_t *mask, size_t *n_frozen)
{
    const size_t nt = ng_model_ntensors(m);
    memset(mask, 1, ng_model_nparams(m));
    *n_frozen = 0;
    char *pats = freeze && *freeze ? ng_strdup(freeze) : NULL;
    if (freeze && *freeze && !pats) return NG_E_NOMEM;
    ng_status st = NG_OK;
    for (char *save = NULL, *pat = pats ? strtok_r(pats, ",", &save) : NULL; pat; pat = strtok_r(NULL, ",", &save)) {
        while (*pat == ' ') pat++;
        int hits = 0;
        for (size_t i = 0; i < nt; i++) {
            ng_param p;
            ng_model_tensor(m, i, &p);
            if (fnmatch(pat, p.name, 0) == 0) {
                /* cppcheck-suppress sizeofDivisionMemfunc ; mask has one byte per float parameter: bytes = floats */
                memset(mask + ng_model_tensor_offset(m, i), 0, p.nbytes / sizeof(float));
                *n_frozen += p.nbytes / sizeof(float);
                hits++;
            }
        }
        if (!hits) {
            ng_param p0;
            ng_model_tensor(m, 0, &p0);
            st = ng_fail(NG_E_INVALID, "freeze: pattern '%s' matches no parameter tensor (names look like '%s'; "
                         "see nnguard info)", pat, nt ? p0.name : "?");
            break;
        }
    }
    free(pats);
    for (size_t i = 0; i < nt; i++)
        if (!ng_model_tensor_trainable(m, i)) {
            ng_param p;
            ng_model_tensor(m, i, &p);
            /* cppcheck-suppress sizeofDivisionMemfunc ; mask has one byte per float parameter: bytes = floats */
            memset(mask + ng_model_tensor_offset(m, i), 0, p.nbytes / sizeof(float));
        }
    return st;
}

static uint64_t epoch_seed(uint64_t seed, int epoch)
{
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (uint64_t)(epoch + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static ng_status check_run(const ng_model *m, const train_src *s, const ng_dataset *test, const ng_train_options *o)
{
    if (o->epochs < 1 || o->epochs > NG_TRAIN_MAX_EPOCHS)
        return ng_fail(NG_E_INVALID, "train: epochs must be 1..%d, got %d", NG_TRAIN_MAX_EPOCHS, o->epochs);
    if (o->batch < 1 || o->batch > 1 << 16)
        return ng_fail(NG_E_INVALID, "train: batch size must be 1..65536, got %d", o->batch);
    if (o->threads < 0) return ng_fail(NG_E_INVALID, "train: threads must be >= 0 (0 = all cores)");
    if (o->sched == NG_SCHED_STEP && !(o->gamma > 0))
        return ng_fail(NG_E_INVALID, "train: the step schedule needs gamma > 0, got %g", o->gamma);
    if (s->n < 1) return ng_fail(NG_E_INVALID, "train: the training set is empty");
    if (s->classes < 1 || s->classes > 1 << 20) return ng_fail(NG_E_SHAPE, "train: the model has no class output");
    ng_shape is;
    ng_model_input_shape(m, &is);
    int64_t dim = 1;
    for (int k = 1; k < is.ndim; k++) dim = is.d[k] > 0 && dim > 0 ? dim * is.d[k] : -1;
    if (dim > 0 && dim != s->dim)
        return ng_fail(NG_E_SHAPE, "train: the model takes inputs of %lld values, the data has %lld per example",
                       (long long)dim, (long long)s->dim);
    if (test && dim > 0 && (int64_t)test->c * test->h * test->w != dim)
        return ng_fail(NG_E_SHAPE, "train: the test set's images (%dx%dx%d) do not fit the model input (%lld values)",
                       test->c, test->h, test->w, (long long)dim);
    if (s->y)
        for (int64_t i = 0; i < s->n; i++)
            if (s->y[i] < 0 || s->y[i] >= s->classes)
                return ng_fail(NG_E_INVALID, "train: example %lld has label %d, the model has %lld classes",
                               (long long)i, s->y[i], (long long)s->classes);
    return NG_OK;
}

/* Record how the model was trained in its metadata (written with it). */
static void record_meta(ng_model *m, const ng_train_options *o, int soft)
{
    char v[64];
    snprintf(v, sizeof v, "%llu", (unsigned long long)o->seed);
    ng_model_meta_set(m, "nnguard.train.seed", v);
    snprintf(v, sizeof v, "%d", o->epochs);
    ng_model_meta_set(m, "nnguard.train.epochs", v);
    snprintf(v, sizeof v, "%d", o->batch);
    ng_model_meta_set(m, "nnguard.train.batch", v);
    snprintf(v, sizeof v, "%s lr %g", o->optim.kind == NG_OPTIM_ADAM ? "adam" : "sgd", (double)o->optim.lr);
    ng_model_meta_set(m, "nnguard.train.optimizer", v);
    ng_model_meta_set(m, "nnguard.train.loss", soft ? "soft-xent" : "xent");
    if (o->freeze && *o->freeze) ng_model_meta_set(m, "nnguard.train.freeze", o->freeze);
    ng_clear_error();
}

typedef struct train_bufs {
    float    *xb, *tb, *dz, *grad;
    int32_t  *yb;
    uint8_t  *mask;
    uint32_t *perm;
    int       all_trained;   /* mask is all ones: step without it (a faster loop) */
} train_bufs;

static void bufs_free(train_bufs *b)
{
    ng_free_aligned(b->xb); ng_free_aligned(b->tb); ng_free_aligned(b->dz); ng_free_aligned(b->grad);
    free(b->yb); free(b->mask); free(b->perm);
}

/* One epoch over the shuffled data; *loss = mean loss. */
static ng_status run_epoch(ng_exec *e, ng_model *m, ng_optim *opt, const train_src *s, const train_bufs *b,
                           ng_rng *rng, const ng_train_options *o, int epoch, float lr, ng_progress *pg,
                           double t_start, int64_t images_before, int64_t images_total, double *loss)
{
    const int64_t n = s->n, dim = s->dim, c = s->classes;
    float *params = ng_model_params(m);
    for (int64_t i = 0; i < n; i++) b->perm[i] = (uint32_t)i;
    ng_rng_shuffle_u32(rng, b->perm, (size_t)n);
    double sum = 0;
    for (int64_t i = 0; i < n; i += o->batch) {
        const int64_t bs = n - i < o->batch ? n - i : o->batch;
        for (int64_t k = 0; k < bs; k++) {
            const int64_t j = b->perm[i + k];
            memcpy(b->xb + k * dim, s->x + j * dim, (size_t)dim * sizeof(float));
            if (s->y) b->yb[k] = s->y[j];
            else memcpy(b->tb + k * c, s->soft + j * c, (size_t)c * sizeof(float));
        }
        const float *z;
        ng_shape os;
        ng_status st;
        const int soft = !s->y || o->batch_hook;
        if (s->y && o->batch_hook &&
            (st = o->batch_hook(o->hook_ctx, b->xb, b->yb, b->tb, bs, dim, c,
                                epoch_seed(o->seed ^ (uint64_t)i, epoch))) != NG_OK)
            return st;
        st = ng_exec_forward(e, b->xb, bs, &z, &os);
        if (st != NG_OK) return st;
        if (os.ndim != 2 || os.d[0] != bs || os.d[1] != c)
            return ng_fail(NG_E_SHAPE, "train: the model outputs a %d-d tensor (%lld x %lld), expected %lld x %lld",
                           os.ndim, (long long)os.d[0], (long long)(os.ndim > 1 ? os.d[1] : 0), (long long)bs, (long long)c);
        float l = soft ? ng_loss_soft_xent(z, b->tb, bs, c, b->dz) : ng_loss_xent(z, b->yb, bs, c, b->dz);
        if (!isfinite(l))
            return ng_fail(NG_E_INVALID, "train: the loss became %g at epoch %d, example %lld: lower the learning rate",
                           (double)l, epoch + 1, (long long)i);
        if ((st = ng_exec_backward(e, b->dz, b->grad, NULL)) != NG_OK) return st;
        ng_optim_step(opt, params, b->grad, b->all_trained ? NULL : b->mask, lr);
        sum += (double)l * (double)bs;
        if (pg->tty) {
            const int64_t done = images_before + i + bs;
            const double el = ng_now() - t_start, ips = el > 0 ? (double)done / el : 0;
            ng_progress_batch(pg, epoch, i + bs, sum / (double)(i + bs), ips,
                              ips > 0 ? (double)(images_total - done) / ips : -1);
        }
    }
    *loss = sum / (double)n;
    return NG_OK;
}

static ng_status train_run(ng_model *m, const train_src *s, const ng_dataset *test, const ng_ckpt_io *io,
                           const ng_train_options *o, ng_train_result *r)
{
    ng_status st = check_run(m, s, test, o);
    if (st != NG_OK) return st;
    if (o->checkpoint && !io)
        return ng_fail(NG_E_UNSUPPORTED, "%s: checkpoints are files: train with ng_train / ng_train_soft of the "
                       "full nnguard library, not the engine alone", o->checkpoint);
    memset(r, 0, sizeof *r);
    const size_t np = ng_model_nparams(m);
    const int64_t B = o->batch, c = s->classes;
    train_bufs b = {
        .xb = ng_alloc_aligned((size_t)(B * s->dim) * sizeof(float)),
        .tb = ng_alloc_aligned((size_t)(B * c) * sizeof(float)),
        .dz = ng_alloc_aligned((size_t)(B * c) * sizeof(float)),
        .grad = ng_alloc_aligned((np ? np : 1) * sizeof(float)),
        .yb = ng_calloc((size_t)B, sizeof(int32_t)),
        .mask = ng_calloc(np ? np : 1, 1),
        .perm = ng_calloc((size_t)s->n, sizeof(uint32_t)),
    };
    ng_optim *opt = NULL;
    ng_ckpt *ck = ng_calloc(1, sizeof *ck);
    if (!b.xb || !b.tb || !b.dz || !b.grad || !b.yb || !b.mask || !b.perm || !ck) { st = NG_E_NOMEM; goto out; }
    if ((st = ng_optim_new(&o->optim, np, &opt)) != NG_OK) goto out;
    size_t n_frozen;
    if ((st = build_mask(m, o->freeze, b.mask, &n_frozen)) != NG_OK) goto out;
    b.all_trained = memchr(b.mask, 0, np) == NULL;

    ck->batch = (uint32_t)o->batch;
    ck->seed = o->seed;
    ck->optim_kind = (uint32_t)o->optim.kind;
    ng_rng_seed(&ck->rng, o->seed);
    int start = 0;
    FILE *log = o->quiet ? NULL : (o->log ? o->log : stderr);
    if (o->checkpoint && o->resume) {
        int found = 0;
        if ((st = io->read(o->checkpoint, m, ck, opt, &found)) != NG_OK) goto out;
        if (found) {
            if (ck->seed != o->seed || ck->batch != (uint32_t)o->batch || (int)ck->epochs_done > o->epochs) {
                st = ng_fail(NG_E_INVALID, "%s: saved by a run with seed %llu, batch %u after %u epochs; resume with "
                             "the same seed and batch and at least that many epochs", o->checkpoint,
                             (unsigned long long)ck->seed, ck->batch, ck->epochs_done);
                goto out;
            }
            start = (int)ck->epochs_done;
            for (int e = 0; e < start; e++) { r->epoch_loss[e] = ck->loss[e]; r->epoch_acc[e] = ck->acc[e]; }
            if (log) fprintf(log, "resuming from %s after epoch %d\n", o->checkpoint, start);
        }
    }

    record_meta(m, o, s->soft != NULL || (s->y && o->batch_hook));   /* before the first checkpoint, so it carries them */
    ng_progress pg;
    ng_progress_init(&pg, log, o->epochs, s->n);
    const double t_start = ng_now();
    double t_train = 0;
    int64_t images = 0;
    const int64_t images_total = (int64_t)(o->epochs - start) * s->n;
    for (int e = start; e < o->epochs; e++) {
        ng_exec_options eo = ng_exec_options_default();
        eo.threads = o->threads;
        eo.training = 1;
        eo.seed = epoch_seed(o->seed, e);
        ng_exec *ex;
        if ((st = ng_exec_new(m, &eo, &ex)) != NG_OK) goto out;
        const float lr = sched_lr(o, e);
        double t0 = ng_now(), loss = 0, acc = -1;
        st = run_epoch(ex, m, opt, s, &b, &ck->rng, o, e, lr, &pg, t_start, images, images_total, &loss);
        double secs = ng_now() - t0;
        t_train += secs;
        images += s->n;
        if (st == NG_OK && test && (o->eval_each_epoch || e == o->epochs - 1)) {
            ng_exec_set_training(ex, 0);
            st = ng_eval_exec(ex, test, 0, 256, &acc, NULL, NULL);
        }
        ng_exec_free(ex);
        if (st != NG_OK) goto out;
        r->epoch_loss[e] = ck->loss[e] = loss;
        r->epoch_acc[e] = ck->acc[e] = acc;
        ng_progress_epoch(&pg, e, loss, acc, secs > 0 ? (double)s->n / secs : 0, secs, lr);
        if (o->checkpoint) {
            ck->epochs_done = (uint32_t)e + 1;
            if ((st = io->write(o->checkpoint, m, ck, opt)) != NG_OK) goto out;
        }
    }
    r->epochs_run = o->epochs;
    r->images_per_s = t_train > 0 ? (double)images / t_train : 0;
    r->final_acc = test ? r->epoch_acc[o->epochs - 1] : 0;
    if (test && r->final_acc < 0)   /* resumed at the end: nothing was evaluated in this run */
        st = ng_evaluate(m, test, 0, 256, o->threads, &r->final_acc, NULL, NULL);
out:
    ng_optim_free(opt);
    bufs_free(&b);
    free(ck);
    return st;
}

ng_status ng_train_io(ng_model *m, const ng_dataset *train, const ng_dataset *test,
                      const ng_train_options *o, ng_train_result *r, const ng_ckpt_io *io)
{
    train_src s = {
        .x = train->x, .y = train->y, .n = train->n,
        .dim = (int64_t)train->c * train->h * train->w, .classes = ng_model_num_classes(m),
    };
    return train_run(m, &s, test, io, o, r);
}

ng_status ng_train_soft_io(ng_model *m, const float *x, const float *targets, int64_t n,
                           const ng_dataset *test, const ng_train_options *o, ng_train_result *r,
                           const ng_ckpt_io *io)
{
    ng_shape is;
    ng_model_input_shape(m, &is);
    int64_t dim = 1;
    for (int k = 1; k < is.ndim; k++) dim *= is.d[k];
    if (dim <= 0) return ng_fail(NG_E_SHAPE, "train: the model's input shape is not fixed; cannot size the inputs");
    train_src s = { .x = x, .soft = targets, .n = n, .dim = dim, .classes = ng_model_num_classes(m) };
    return train_run(m, &s, test, io, o, r);
}
