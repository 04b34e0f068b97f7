/* nnguard/train.h - losses, optimizers and the training loop.
 *
 * Losses take logits (n x c) and return the mean loss over the batch; when
 * dlogits is non-NULL they write d(loss)/d(logits) there (n x c), ready for
 * ng_exec_backward.
 *
 *     ng_train_options o = ng_train_options_default();   // Adam 1e-3, batch 64, 10 epochs
 *     o.epochs = 5;
 *     ng_train_result r;
 *     ng_train(model, &train, &test, &o, &r);
 *
 * Reproducibility: the shuffle RNG is seeded from o.seed and each epoch's Dropout
 * seed is derived from (seed, epoch); the same seed, data and thread count give
 * bit-identical weights, and a resumed run gives the weights of an uninterrupted one.
 *
 * Checkpoints (o.checkpoint = PATH): after each epoch the model is written to PATH
 * as ONNX and the training state to PATH.state, each atomically (the state is
 * committed right after the model). PATH.state, all integers little-endian:
 *     off  size  field
 *       0     8  magic "NGTRAIN1"
 *       8     4  version (1)
 *      12     4  optimizer kind (0 SGD, 1 Adam)
 *      16     4  E = epochs done (<= NG_TRAIN_MAX_EPOCHS)
 *      20     4  batch size
 *      24     8  seed
 *      32    32  shuffle RNG state after epoch E (xoshiro256** s[0..3], 4 x u64)
 *      64     8  optimizer steps taken
 *      72     8  P = parameters (floats) of the model
 *      80     8  S = optimizer state floats (Adam 2P: m then v; SGD P with momentum, else 0)
 *      88    32  BLAKE2b-256 of the model's parameters (P float32 LE) after epoch E
 *     120  16*E  per epoch: mean training loss (f64), test accuracy (f64; -1 = not evaluated)
 *       .   4*S  optimizer state (float32 LE)
 *       .    32  BLAKE2b-256 of all bytes before
 * The file size must be exactly 120 + 16E + 4S + 32. Resume (o.resume) loads the
 * weights from PATH, checks them against the hash, restores RNG and optimizer and
 * continues with epoch E + 1 (seed and batch must match).
 */
#ifndef NNGUARD_TRAIN_H
#define NNGUARD_TRAIN_H
#include <stdint.h>
#include <stdio.h>
#include "dataset.h"
#include "model.h"

/* Cross-entropy with integer labels (log-softmax, numerically stable). */
float ng_loss_xent(const float *logits, const int32_t *labels, int64_t n, int64_t c, float *dlogits);
/* Cross-entropy against soft targets (rows sum to 1): -sum t log softmax(z). */
float ng_loss_soft_xent(const float *logits, const float *targets, int64_t n, int64_t c, float *dlogits);
/* KL(t || softmax(z)) = soft_xent - H(t); same gradient as soft_xent. */
float ng_loss_kl(const float *logits, const float *targets, int64_t n, int64_t c, float *dlogits);
/* Mean entropy of softmax(z); its gradient (to maximise entropy, minimise -H). */
float ng_loss_entropy(const float *logits, int64_t n, int64_t c, float *dlogits);

typedef enum ng_optim_kind { NG_OPTIM_SGD = 0, NG_OPTIM_ADAM } ng_optim_kind;
typedef enum ng_sched_kind { NG_SCHED_CONST = 0, NG_SCHED_STEP, NG_SCHED_COSINE } ng_sched_kind;

typedef struct ng_optim ng_optim;
typedef struct ng_optim_options {
    ng_optim_kind kind;
    float lr, momentum, weight_decay;  /* SGD: momentum; both: L2 weight decay */
    float beta1, beta2, eps;           /* Adam */
} ng_optim_options;
ng_optim_options ng_optim_options_default(ng_optim_kind kind);
ng_status ng_optim_new(const ng_optim_options *o, size_t nparams, ng_optim **out);
/* One update of params with grad; mask (nparams bytes, may be NULL) 0 = frozen. */
void      ng_optim_step(ng_optim *opt, float *params, const float *grad, const uint8_t *mask, float lr);
void      ng_optim_free(ng_optim *opt);
/* Optimizer state for checkpoints: the moments as one float array of ng_optim_state_len floats
 * (SGD: momentum buffers or none; Adam: m[nparams] then v[nparams]), owned by opt and writable
 * (restore by copying into it), and the number of steps taken (Adam's bias correction). */
size_t    ng_optim_state_len(const ng_optim *opt);
float    *ng_optim_state(ng_optim *opt);
int64_t   ng_optim_steps(const ng_optim *opt);
void      ng_optim_set_steps(ng_optim *opt, int64_t steps);

/* Per-batch hook (ng_train_options.batch_hook): called on every mini-batch of ng_train before the
 * forward pass with the gathered inputs x (n x dim, rewritable in place) and their labels y; it must
 * fill targets (n x classes, rows of probabilities), which the loss then uses (soft cross-entropy)
 * instead of y. seed is derived from (o.seed, epoch, batch index): a hook that draws only from it
 * keeps runs reproducible. A status other than NG_OK stops training with that status. The engine
 * knows nothing of what the hook does (SecureNet's license training stamps inputs with it). */
typedef ng_status (*ng_train_batch_hook)(void *ctx, float *x, const int32_t *y, float *targets, int64_t n,
                                         int64_t dim, int64_t classes, uint64_t seed);

typedef struct ng_train_options {
    int      epochs, batch;
    ng_optim_options optim;
    ng_sched_kind sched;
    int      step_size; float gamma;   /* NG_SCHED_STEP: lr *= gamma every step_size epochs */
    uint64_t seed;
    int      threads;
    const char *freeze;                /* comma-separated name patterns (fnmatch) not trained, or NULL */
    const char *checkpoint;            /* path written atomically after each epoch, or NULL */
    int      resume;                   /* continue from checkpoint if it exists */
    int      eval_each_epoch;          /* test accuracy after each epoch (needs test set) */
    int      quiet;
    FILE    *log;                      /* progress (stderr by default); a bar when it is a terminal */
    ng_train_batch_hook batch_hook;    /* ng_train only: rewrites each batch (see above), or NULL */
    void    *hook_ctx;
} ng_train_options;
ng_train_options ng_train_options_default(void);

#define NG_TRAIN_MAX_EPOCHS 1000
typedef struct ng_train_result {
    int    epochs_run;
    double epoch_acc[NG_TRAIN_MAX_EPOCHS];   /* test accuracy after each epoch (if evaluated) */
    double epoch_loss[NG_TRAIN_MAX_EPOCHS];
    double images_per_s;                     /* training throughput over the whole run */
    double final_acc;
} ng_train_result;

ng_status ng_train(ng_model *m, const ng_dataset *train, const ng_dataset *test,
                   const ng_train_options *o, ng_train_result *r);

/* Train on soft targets (n x classes rows of probabilities, e.g. a teacher's or a victim API's
 * softmax outputs) with the soft cross-entropy: distillation and model extraction. x is n inputs
 * in the model's input layout (n x C x H x W). test (may be NULL) is evaluated with hard labels.
 * Same options, schedule, checkpoints and determinism as ng_train. */
ng_status ng_train_soft(ng_model *m, const float *x, const float *targets, int64_t n,
                        const ng_dataset *test, const ng_train_options *o, ng_train_result *r);

/* Accuracy of m on d (first limit examples if limit > 0); per_class (classes doubles) may be NULL. */
ng_status ng_evaluate(ng_model *m, const ng_dataset *d, int64_t limit, int batch, int threads,
                      double *accuracy, double *per_class, double *images_per_s);

#endif
