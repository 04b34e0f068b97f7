/* nnguard/dataset.h - image classification datasets in memory.
 *
 * Formats: MNIST IDX (images magic 2051, labels magic 2049; gzip or plain) and
 * CIFAR-10 binary (records of 1 label byte + 3072 pixel bytes). Pixels are
 * scaled to [0,1] as PyTorch's ToTensor does (x/255), NCHW float32.
 *
 *     ng_dataset te;
 *     ng_dataset_load_dir("/usr/share/datasets/fashion-mnist", NG_SPLIT_TEST, &te);
 *     ... te.x[i * te.c*te.h*te.w ...], te.y[i] ...
 *     ng_dataset_free(&te);
 */
#ifndef NNGUARD_DATASET_H
#define NNGUARD_DATASET_H
#include <stdint.h>
#include "status.h"

#define NG_DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

typedef enum ng_split { NG_SPLIT_TRAIN = 0, NG_SPLIT_TEST = 1 } ng_split;

typedef struct ng_dataset {
    int64_t  n;          /* examples */
    int      c, h, w;    /* image shape */
    int      classes;    /* 1 + max label (10 for (Fashion-)MNIST and CIFAR-10) */
    float   *x;          /* n * c*h*w, owned */
    int32_t *y;          /* n, owned */
} ng_dataset;

/* IDX images + labels files (gzip detected by magic). Counts must agree. */
ng_status ng_dataset_load_idx(const char *images, const char *labels, ng_dataset *out);
/* A folder: MNIST-style names ({train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]) or
 * CIFAR-10 binary (data_batch_1..5.bin / test_batch.bin). */
ng_status ng_dataset_load_dir(const char *dir, ng_split split, ng_dataset *out);
ng_status ng_dataset_load_cifar(const char *const *files, int nfiles, ng_dataset *out);
void      ng_dataset_free(ng_dataset *d);
/* Stratified subset (fraction in (0,1] or count if count > 0), seeded; per class proportional. */
ng_status ng_dataset_subset(const ng_dataset *d, double fraction, int64_t count, uint64_t seed, ng_dataset *out);
/* Stratified split into train part and held-out part (val_fraction of each class). */
ng_status ng_dataset_split(const ng_dataset *d, double val_fraction, uint64_t seed, ng_dataset *train, ng_dataset *val);
/* First min(n, limit) examples (limit <= 0: all), copied. */
ng_status ng_dataset_head(const ng_dataset *d, int64_t limit, ng_dataset *out);
/* Copy examples idx[0..k) into out. */
ng_status ng_dataset_gather(const ng_dataset *d, const int64_t *idx, int64_t k, ng_dataset *out);

#endif
