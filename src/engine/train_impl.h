/* engine/train_impl.h - internals shared by train.c, train_ckpt.c, train_progress.c and evaluate.c. */
#ifndef NG_ENGINE_TRAIN_IMPL_H
#define NG_ENGINE_TRAIN_IMPL_H
#include <stdio.h>
#include "nnguard/train.h"
#include "nnguard/rng.h"

/* Accuracy of an exec (its model's current weights) on the first limit examples of d
 * (all if limit <= 0); the caller puts e in eval mode (ng_exec_set_training(e, 0)) first.
 * per_class (d->classes doubles) may be NULL. */
ng_status ng_eval_exec(ng_exec *e, const ng_dataset *d, int64_t limit, int batch,
                       double *accuracy, double *per_class, double *images_per_s);

/* ---- progress on the log stream ---- */
typedef struct ng_progress {
    FILE   *f;          /* NULL: quiet */
    int     tty;        /* redraw a bar with \r */
    int     epochs;
    int64_t n;          /* examples per epoch */
    double  last;       /* time of the last redraw */
} ng_progress;
void ng_progress_init(ng_progress *p, FILE *f, int epochs, int64_t n);
/* After a batch: examples done in this epoch, running mean loss, throughput, seconds left. */
void ng_progress_batch(ng_progress *p, int epoch, int64_t done, double loss, double ips, double eta);
/* After an epoch (acc < 0: not evaluated). */
void ng_progress_epoch(ng_progress *p, int epoch, double loss, double acc, double ips, double secs, float lr);

/* ---- checkpoints (sidecar format in nnguard/train.h) ---- */
typedef struct ng_ckpt {
    uint32_t epochs_done;
    uint32_t batch;
    uint32_t optim_kind;   /* ng_optim_kind; ng_ckpt_read checks it against the caller's */
    uint64_t seed;
    ng_rng   rng;          /* shuffle generator after epochs_done epochs */
    double   loss[NG_TRAIN_MAX_EPOCHS], acc[NG_TRAIN_MAX_EPOCHS];
} ng_ckpt;
/* Sidecar path for a checkpoint path (path + ".state"); malloc'ed. */
char *ng_ckpt_state_path(const char *path);
/* Write the model (ONNX) and its sidecar, each atomically; the sidecar is committed last. */
ng_status ng_ckpt_write(const char *path, const ng_model *m, const ng_ckpt *c, ng_optim *opt);
/* Load weights from path into m and the state from its sidecar into c and opt; checks that
 * the sidecar belongs to the model file and to this optimizer and batch size. */
ng_status ng_ckpt_read(const char *path, ng_model *m, ng_ckpt *c, ng_optim *opt);
#endif
