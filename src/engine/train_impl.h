/* engine/train_impl.h - internals shared by train.c, train_progress.c, evaluate.c and the
 * checkpoint files (formats/train_ckpt.c). */
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
/* Checkpoint files are a file format: src/formats/train_ckpt.c reads and writes them, and the
 * public ng_train / ng_train_soft (also there) hand these functions to the engine's trainer,
 * so the engine builds and links without src/formats/. */
typedef struct ng_ckpt_io {
    /* Write the model and its training state after an epoch, each atomically. */
    ng_status (*write)(const char *path, const ng_model *m, const ng_ckpt *c, ng_optim *opt);
    /* *found = 0 and NG_OK when path has no saved state; else load weights and state. */
    ng_status (*read)(const char *path, ng_model *m, ng_ckpt *c, ng_optim *opt, int *found);
} ng_ckpt_io;
/* The trainer behind ng_train / ng_train_soft; io may be NULL only when o->checkpoint is NULL. */
ng_status ng_train_io(ng_model *m, const ng_dataset *train, const ng_dataset *test,
                      const ng_train_options *o, ng_train_result *r, const ng_ckpt_io *io);
ng_status ng_train_soft_io(ng_model *m, const float *x, const float *targets, int64_t n,
                           const ng_dataset *test, const ng_train_options *o, ng_train_result *r,
                           const ng_ckpt_io *io);
#endif
