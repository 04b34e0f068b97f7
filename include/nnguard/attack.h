/* nnguard/attack.h - the attacks every protection scheme is judged by, the same way.
 *
 * Fine-tuning: the attacker holds the protected model and a fraction of the
 * training data. It fine-tunes the model for some epochs and, as the baseline
 * the papers compare with, trains the same architecture from a fresh random
 * initialisation on the same data for the same epochs. Protected parameters
 * that are not finite or absurdly large (Deep-Lock's locked bits) are first
 * reset to 0 - the best an attacker can do without the key, and what keeps the
 * attack from being a NaN-propagation artefact.
 *
 * Pruning: magnitude pruning of every weight tensor (ndim >= 2) at a rate,
 * per tensor, optionally followed by a short fine-tune.
 *
 *     ng_finetune_options o = ng_finetune_options_default();
 *     o.fraction = 0.05; o.epochs = 5;
 *     ng_finetune_result r;
 *     ng_attack_finetune(locked, "lenet5", &train, &test, &o, &r);
 *     // r.acc_attacked[e], r.acc_scratch[e] for e in 0..o.epochs-1
 */
#ifndef NNGUARD_ATTACK_H
#define NNGUARD_ATTACK_H
#include <stdint.h>
#include "dataset.h"
#include "model.h"
#include "train.h"

#define NG_ATTACK_MAX_EPOCHS 100

typedef struct ng_finetune_options {
    double   fraction;     /* of the training set, stratified (ignored if count > 0) */
    int64_t  count;
    int      epochs, batch;
    ng_optim_options optim;
    uint64_t seed;
    int      threads;
    int      scratch;      /* 1: also train from a fresh init as the baseline */
    float    sanitize_abs; /* params with |w| > this or not finite are reset to 0 (0 = off) */
    FILE    *log;          /* progress lines, or NULL */
} ng_finetune_options;
ng_finetune_options ng_finetune_options_default(void);

typedef struct ng_finetune_result {
    int     epochs;
    int64_t n_train;
    int64_t n_sanitized;                       /* parameters reset before fine-tuning */
    double  acc_before;                        /* test accuracy of the attacked model as given */
    double  acc_attacked[NG_ATTACK_MAX_EPOCHS];/* after each epoch of fine-tuning the model */
    double  acc_scratch[NG_ATTACK_MAX_EPOCHS]; /* after each epoch of training a fresh init */
} ng_finetune_result;

/* Fine-tune a copy of m (m is not changed). arch: built-in architecture of the same shape
 * for the scratch baseline; NULL re-initialises m's own graph (clone with fresh weights). */
ng_status ng_attack_finetune(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_finetune_options *o, ng_finetune_result *r);

/* The same, and *tuned (may be NULL) receives the fine-tuned model (the caller frees it): the
 * watermark removal attacks verify the tuned model afterwards. */
ng_status ng_attack_finetune_keep(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                                  const ng_finetune_options *o, ng_finetune_result *r, ng_model **tuned);

/* Reset to 0 every parameter that is not finite or has |w| > limit; returns how many. */
int64_t ng_sanitize_params(ng_model *m, float limit);

/* Re-initialise all parameters of m as a fresh model (PyTorch-default uniform for weights and
 * biases from fan-in, BN scale 1 / shift 0 / mean 0 / var 1), from seed. */
void ng_model_reinit(ng_model *m, uint64_t seed);

/* Magnitude pruning: in each weight tensor (ndim >= 2) zero the rate fraction of smallest |w|.
 * Returns the number of parameters zeroed. */
int64_t ng_prune_magnitude(ng_model *m, double rate);

typedef struct ng_prune_point {
    double rate;
    double acc;          /* right after pruning */
    double acc_tuned;    /* after the short fine-tune (if epochs > 0), else -1 */
    int64_t zeroed;
} ng_prune_point;
/* For each rate: copy m, prune, evaluate, optionally fine-tune (o->epochs on o->fraction) and evaluate. */
ng_status ng_attack_prune(const ng_model *m, const double *rates, int n_rates, const ng_dataset *train,
                          const ng_dataset *test, const ng_finetune_options *tune, ng_prune_point *out);

/* Deep-Lock key guessing: unlock the locked model with `trials` random wrong keys (no key
 * check, the paper's behaviour) and measure test accuracy each time. locked: the engine
 * model built from the locked file (its parameters hold the locked bits); w: that file
 * (its nnguard.keystream / nnguard.only say how it was locked). */
typedef struct ng_keyguess_result {
    int    trials;
    double acc_mean, acc_max, acc_min;
    double *acc;            /* trials values, malloc'ed: free it */
} ng_keyguess_result;
ng_status ng_attack_keyguess(const ng_model *locked, const ng_weights *w, int trials, uint64_t seed,
                             const ng_dataset *test, int threads, ng_keyguess_result *r);

/* AdvParams adaptive attack (the attacker knows the method): in every eligible weight tensor
 * flag the parameters sitting exactly at the tensor's min or max and those whose loss
 * gradient on the attacker's data is an outlier (|g - mean| > z * std), reset them to the
 * tensor's mean, then fine-tune (o->epochs, may be 0). `truth` (may be NULL) lists the key's
 * (tensor, index) positions, only to score how many the attacker found. */
typedef struct ng_adaptive_result {
    int64_t flagged;          /* parameters reset */
    int64_t found;            /* of those, positions that were really perturbed */
    int64_t perturbed;        /* positions in truth */
    double  acc_before, acc_reset, acc_tuned;
} ng_adaptive_result;
typedef struct ng_position { const char *tensor; uint64_t index; } ng_position;
ng_status ng_attack_adaptive(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_finetune_options *o, double z, const ng_position *truth,
                             size_t n_truth, ng_adaptive_result *r);

/* ---- model extraction through a prediction API (DynaMarks, nnguard serve) ----
 * The attacker holds a pool of unlabelled inputs (never the owner's verification set), sends
 * `budget` of them to the API, trains a surrogate of its own architecture on the answers
 * (soft probabilities, or one-hot labels for a label-only API) with ng_train_soft, and measures
 * fidelity (agreement with the API's labels) on `fidelity` further pool inputs. */
typedef struct ng_api_client ng_api_client;
/* url: http(s)://host:port[/v1/predict]; token: bearer token or NULL. */
ng_status ng_api_client_new(const char *url, const char *token, ng_api_client **out);
void      ng_api_client_free(ng_api_client *c);
int64_t   ng_api_client_requests(const ng_api_client *c);
/* One POST of n inputs (n x dim floats, sent as float32): probs (n x classes) and labels, either may be NULL. */
ng_status ng_api_query(ng_api_client *c, const float *x, int64_t n, int64_t dim, int classes, float *probs,
                       int32_t *labels);

typedef struct ng_extract_options {
    int64_t budget;            /* images sent for training the surrogate (default 5000) */
    int64_t fidelity;          /* further images sent to measure fidelity (default 1000) */
    int     batch;             /* images per request (default 100) */
    int     use_labels;        /* train on the labels only */
    uint64_t seed;             /* which pool images */
    ng_train_options train;    /* surrogate training (default 20 epochs, Adam 1e-3, batch 64) */
} ng_extract_options;
ng_extract_options ng_extract_options_default(void);
typedef struct ng_extract_result {
    int64_t queries, requests, fidelity_n;
    double  query_seconds, accuracy, fidelity;
} ng_extract_result;
/* Query the API, train surrogate (fresh weights of the attacker's architecture) in place. */
ng_status ng_attack_extract(ng_api_client *api, const ng_dataset *pool, ng_model *surrogate,
                            const ng_dataset *test, const ng_extract_options *o, ng_extract_result *r);

/* Re-distillation without the API: train student on teacher's probabilities for the first n
 * images of x (n x C x H x W), the removal attack that changes the architecture. */
ng_status ng_attack_distill(ng_model *teacher, const float *x, int64_t n, ng_model *student,
                            const ng_train_options *o);

#endif
