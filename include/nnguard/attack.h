/* nnguard/attack.h - the attacks every protection scheme is judged by, the same way.
 *
 * Fine-tuning: the attacker holds the protected model and a fraction of the
 * training data. First it re-initialises every parameter that is out of
 * distribution, the way a fresh layer would be (ng_reinit_ood: not finite, or
 * |w| more than ood_factor x the fresh-init scale of its tensor, or a BatchNorm
 * variance <= 0 -> a fresh draw: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
 * and biases, the BatchNorm defaults), and keeps the rest; then it fine-tunes for
 * some epochs. The baseline the papers compare with trains the same architecture
 * from a fresh initialisation on the same data for the same epochs. The sanity
 * run makes the attack itself accountable: the same preparation and fine-tuning
 * on the model with every weight fresh must reach the scratch accuracy, and the
 * training loss must fall (loss_before -> loss_attacked), so that "attacked <=
 * scratch" cannot hold merely because the attack did nothing.
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
#include "weights.h"
#include "securenet.h"
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
    float    sanitize_abs; /* |w| above this is out of distribution whatever the tensor (0 = no re-init at all) */
    float    ood_factor;   /* ... and above this x the tensor's fresh-init scale (default 8; 0 = only sanitize_abs) */
    int      sanity;       /* 1: also run the attack on the model with all weights fresh (acc_sanity) */
    FILE    *log;          /* progress lines, or NULL */
} ng_finetune_options;
ng_finetune_options ng_finetune_options_default(void);

typedef struct ng_finetune_result {
    int     epochs;
    int64_t n_train;
    int64_t n_sanitized;                       /* parameters re-initialised before fine-tuning */
    double  acc_before;                        /* test accuracy of the attacked model after the re-init */
    double  loss_before;                       /* its mean training loss on the attacker's data, before any step */
    double  acc_attacked[NG_ATTACK_MAX_EPOCHS];/* after each epoch of fine-tuning the model */
    double  loss_attacked[NG_ATTACK_MAX_EPOCHS];/* mean training loss of each epoch */
    double  acc_scratch[NG_ATTACK_MAX_EPOCHS]; /* after each epoch of training a fresh init */
    double  loss_scratch[NG_ATTACK_MAX_EPOCHS];
    double  acc_sanity[NG_ATTACK_MAX_EPOCHS];  /* the attack on the all-fresh model (options.sanity) */
    double  loss_sanity[NG_ATTACK_MAX_EPOCHS];
} ng_finetune_result;

/* Fine-tune a copy of m (m is not changed). arch: built-in architecture of the same shape
 * for the scratch baseline; NULL re-initialises m's own graph (clone with fresh weights). */
ng_status ng_attack_finetune(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_finetune_options *o, ng_finetune_result *r);

/* The same, and *tuned (may be NULL) receives the fine-tuned model (the caller frees it): the
 * watermark removal attacks verify the tuned model afterwards. */
ng_status ng_attack_finetune_keep(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                                  const ng_finetune_options *o, ng_finetune_result *r, ng_model **tuned);

/* Re-initialise, as a fresh layer would be (nnguard/model.h ng_model_init_rule), every parameter
 * that is not finite, or has |w| > abs_limit, or |w| > factor x its tensor's fresh-init scale
 * (factor 0: not used), or is a BatchNorm variance <= 0; the rest stay. Returns how many. */
int64_t ng_reinit_ood(ng_model *m, float abs_limit, float factor, uint64_t seed);
/* (ng_model_reinit, the all-fresh model of the scratch baseline, is in nnguard/model.h.) */

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
 * (tensor, index) positions, only to score how many the attacker found: with it, also the
 * detector table (ng_attack_detect, k = 10 x truth) and the same reset + fine-tune applied to
 * the top k of the detector that found most, and to its top 1 x truth. Also the dead-layer
 * attacker (see dead_tensor below). */
#define NG_DETECTORS 6
typedef struct ng_adaptive_result {
    int64_t flagged;          /* parameters reset */
    int64_t topk, candidates; /* k of the detector table (10 x truth) and the parameters ranked */
    int64_t det_found[NG_DETECTORS];   /* perturbed positions in each detector's top k (truth only) */
    int     best;                      /* detector with the most found (-1: no truth) */
    double  acc_best_reset, acc_best_tuned;   /* its top k reset to the tensor mean, then fine-tuned
                                                 (an upper bound: the attacker cannot tell the best) */
    int64_t best1_found;                      /* the same with its top 1 x truth only: found, */
    double  acc_best1_reset, acc_best1_tuned; /* accuracy after reset, after fine-tuning */
    int64_t found;            /* of those, positions that were really perturbed */
    int64_t perturbed;        /* positions in truth */
    double  acc_before, acc_reset, acc_tuned;
    /* The dead-layer attacker (ng_attack_dead_revive): of the weight tensors whose loss gradient
     * on the attacker's data is zero everywhere (units that never fire, or nothing flowing in), the
     * first (model order) whose re-initialisation as a fresh layer (with its "*.bias") makes the
     * gradient flow into every weight tensor, else the first run of 2 or 3 consecutive ones that
     * does (else the first of them alone) is re-initialised, then fine-tuned; and, on that revived
     * model, the whole attack again against the key's other positions (dead_then). */
    char    dead_tensor[128];         /* "" when no tensor is all zero-gradient; "a,b" for a run */
    int64_t dead_reinit;              /* parameters re-initialised (weights + bias) */
    double  acc_dead_tuned;           /* after o->epochs of fine-tuning (-1: not run) */
    int64_t dead_then_perturbed, dead_then_topk, dead_then_det[NG_DETECTORS];
    int     dead_then_best;
    double  acc_dead_then_best_tuned, acc_dead_then_best1_tuned;
} ng_adaptive_result;
typedef struct ng_position { const char *tensor; uint64_t index; } ng_position;
/* The attacker's detectors (ng_detector_name(d) for d < NG_DETECTORS): extremes (fewest values
 * of its tensor further out), duplicated values, magnitude z-score, deviation from the other
 * values of the same conv kernel (kh x kw) or matrix row, gradient z-score on the attacker's
 * data (grad: mean loss gradient, nparams floats), and a per-tensor distribution test (how
 * over-full the parameter's histogram bin is against the normal of the tensor's mean and sd).
 * Each ranks every parameter of the trainable tensors with 2+ dims (*candidates of them);
 * found[d] = perturbed positions (truth) in detector d's top k. */
const char *ng_detector_name(int d);
ng_status   ng_attack_detect(const ng_model *m, const float *grad, const ng_position *truth, size_t n_truth,
                             int64_t k, int64_t found[NG_DETECTORS], int64_t *candidates);
/* Same, and sets mask[p] = 1 (nparams bytes) for the top k of detector mask_det. */
ng_status   ng_attack_detect_mask(const ng_model *m, const float *grad, const ng_position *truth, size_t n_truth,
                                  int64_t k, int64_t found[NG_DETECTORS], int64_t *candidates, int mask_det,
                                  uint8_t *mask);
ng_status ng_attack_adaptive(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_finetune_options *o, double z, const ng_position *truth,
                             size_t n_truth, ng_adaptive_result *r);
/* The dead-layer attacker's revival alone (see ng_adaptive_result): the gradient on its data
 * (o->fraction / o->count, o->seed), then the weight tensor it re-initialises with its "*.bias"
 * (name: cap bytes; *reinit: parameters drawn afresh). *out: the revived clone (free it), or NULL
 * when no weight tensor has a zero gradient everywhere. */
ng_status ng_attack_dead_revive(const ng_model *m, const ng_dataset *train, const ng_finetune_options *o,
                                ng_model **out, char *name, size_t cap, int64_t *reinit);
/* The key's positions outside the dead tensors `dead` (comma-separated) and their "*.bias" into rest (n slots); returns how many. */
size_t    ng_attack_dead_rest(const char *dead, const ng_position *truth, size_t n, ng_position *rest);
/* Why the top-1x reset attacker wins (a diagnostic: it uses the key): detector det's top n_truth
 * candidates (gradient on the attacker's data, as ng_attack_adaptive_each) reset to their tensor's
 * mean [0] all of them, [1] only the owner's untouched ones among them, [2] only the perturbed ones,
 * [3] none; then o->epochs (>= 1) of fine-tuning: the attacker's training loss before the first
 * step, and the test accuracy after the last. */
ng_status ng_attack_reset_split(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                                const ng_finetune_options *o, const ng_position *truth, size_t n_truth, int det,
                                double loss_before[4], double acc_tuned[4]);
/* The top-1x reset attacker with EVERY detector, not only the one that found most in its top
 * 10x (which is not always the one that helps the attacker most): for each detector d, its top
 * n_truth candidates (gradient on the attacker's o->fraction / o->count data) reset to the tensor
 * mean, then o->epochs of fine-tuning. found1[d]: perturbed among them; acc_tuned[d]: accuracy
 * after fine-tuning (after the reset when o->epochs is 0). n_truth must be >= 1. */
ng_status ng_attack_adaptive_each(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                                  const ng_finetune_options *o, const ng_position *truth, size_t n_truth,
                                  int64_t found1[NG_DETECTORS], double acc_tuned[NG_DETECTORS]);

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

/* Key guessing against a licensed model (SecureNet): accuracy on test with `trials` random
 * 256-bit keys drawn from seed (mean, min, max in r; r->acc malloc'ed). The model's stamping
 * options come from its metadata (NG_E_STATE when it has none). */
ng_status ng_attack_license_keyguess(ng_model *m, int trials, uint64_t seed, const ng_dataset *test, int threads,
                                     ng_keyguess_result *r);

/* Trigger reverse-engineering against a licensed model (SecureNet), Neural-Cleanse style: the
 * attacker, holding labelled images but no key, optimises an input stamp by gradient descent on
 * the input so that the model answers correctly. Stamp x' = (1 - m) x + m P with P = sigmoid(p)
 * per pixel and, in blend mode, m = alpha fixed (the attacker knows mode and alpha: they are in
 * the model's metadata); in patch mode, m = sigmoid(q) per pixel, learnt, with an L1 penalty
 * lambda * mean(m) (the patch's place is unknown). Adam (lr) on p (and q) over mini-batches of
 * the attacker's data for `epochs`; accuracy of the found stamp on held-out images. */
typedef struct ng_trigger_options {
    int      blend;          /* 1: blend with alpha; 0: patch (mask learnt) */
    float    alpha, lr, lambda;
    int      epochs, batch, threads;
    uint64_t seed;
} ng_trigger_options;
ng_trigger_options ng_trigger_options_default(void);   /* blend 0.1, lr 0.1, lambda 0.01, 5 epochs, batch 64 */
typedef struct ng_trigger_result {
    double acc_before, acc_after;   /* held-out accuracy unstamped, and with the found stamp */
    double loss_first, loss_last;   /* mean loss of the first and the last epoch (it must fall) */
    double mask_mean;               /* mean of m (patch mode) */
} ng_trigger_result;
ng_status ng_attack_reverse_trigger(ng_model *m, const ng_dataset *attacker, const ng_dataset *heldout,
                                    const ng_trigger_options *o, ng_trigger_result *r);

/* ---- adversarial examples (FGSM, PGD), optionally through a SecureNet stamp ----
 * The victim's pipeline labels x as argmax f(stamp_v(x)) (stamp_v NULL: f(x)). The attacker
 * perturbs x within an L-inf ball of radius eps (pixels kept in [lo, hi]) to raise the
 * cross-entropy of the true label on f(stamp_a(x)): stamp_a = stamp_v when it holds the license
 * key (white box through the stamp), NULL when it does not (it crafts on the bare model, which
 * answers "deny", and the examples are then fed to the keyed pipeline). FGSM (steps 1):
 * x + eps sign(g). PGD (steps K > 1): random start in the ball, K steps of size `step` (0: 2.5
 * eps / K), each projected back. Success rate: of the test images the victim's pipeline labels
 * correctly, the share whose adversarial version it labels differently. */
typedef struct ng_advex_options {
    float    eps;            /* L-inf radius (default 0.1) */
    int      steps;          /* 1: FGSM (default); > 1: PGD */
    float    step;           /* PGD step size (0: 2.5 eps / steps) */
    int      random_start;   /* PGD: start at a uniform point of the ball (default 1) */
    float    lo, hi;         /* pixel range (default 0, 1) */
    int      batch, threads; /* default 128, 0 */
    uint64_t seed;
} ng_advex_options;
ng_advex_options ng_advex_options_default(void);
typedef struct ng_advex_result {
    int64_t n, correct, correct_adv, flipped;
    double  acc_clean, acc_adv;  /* the victim pipeline's accuracy on clean and adversarial inputs */
    double  success;             /* flipped / correct */
    double  linf;                /* largest |x_adv - x| seen (<= eps) */
} ng_advex_result;
ng_status ng_attack_adversarial(ng_model *m, const ng_dataset *d, const ng_stamper *victim, const ng_stamper *craft,
                                const ng_advex_options *o, ng_advex_result *r);
/* The same with the examples crafted on another model of the same input and class count (transfer):
 * the victim runs `m`, the attacker differentiates `craft_m`, e.g. the file an attacker without the
 * key holds when m is a bound SecureNet model (its parameters scrambled until a key unlocks them). */
ng_status ng_attack_adversarial_transfer(ng_model *m, const ng_stamper *victim, ng_model *craft_m, const ng_stamper *craft,
                                         const ng_dataset *d, const ng_advex_options *o, ng_advex_result *r);
/* The crafting step alone: n adversarial versions of x (labels y) into xadv (n x dim). */
ng_status ng_attack_adversarial_batch(ng_model *m, const float *x, const int32_t *y, int64_t n, const ng_stamper *craft,
                                      const ng_advex_options *o, ng_rng *rng, float *xadv);

/* ---- BadNets-style backdoor added by fine-tuning ----
 * The attacker fine-tunes a copy of m (epochs, Adam lr) on a stratified fraction (or count) of the
 * training data, a seeded `poison` share of it carrying its trigger (ng_backdoor_trigger) and
 * relabelled `target`. attacker_key (may be NULL): an insider stamps every training input with it
 * after the trigger. Attack success rate: the share of the test images not of the target class
 * that the pipeline labels `target` once triggered; measured without a stamp and, with eval_key
 * (may be NULL), stamped after the trigger; before and after the fine-tuning; with the clean
 * accuracies. *out (may be NULL) receives the backdoored model (the caller frees it). */
typedef struct ng_backdoor_options {
    double   poison;         /* default 0.1 */
    int      target;         /* class C (default 0) */
    int      patch;          /* trigger side (default 3) */
    double   fraction;       /* of the training set the attacker holds (default 0.1; count > 0 wins) */
    int64_t  count;
    int      epochs, batch;  /* default 5, 64 */
    float    lr;             /* Adam, default 1e-3 */
    uint64_t seed;
    int      threads;
} ng_backdoor_options;
ng_backdoor_options ng_backdoor_options_default(void);
typedef struct ng_backdoor_result {
    int64_t n_train, n_poison;
    double  asr_before_nokey, clean_before_nokey, asr_before_key, clean_before_key;
    double  asr_nokey, clean_nokey, asr_key, clean_key;    /* after (the _key ones need eval_key) */
} ng_backdoor_result;
/* The trigger: a k x k checkerboard of 1 and 0 (top-left 1) whose corner is one pixel in from the
 * bottom-right corner of each image, in every channel; in place on n images. */
void      ng_backdoor_trigger(float *x, int64_t n, int c, int h, int w, int k);
/* Over the test images whose label is not target: the share the pipeline (trigger of side patch, then
 * stamp s if not NULL) labels target (*asr); the pipeline's clean accuracy over all of them (*clean). */
ng_status ng_backdoor_measure(ng_model *m, const ng_dataset *te, const ng_stamper *s, int target, int patch,
                              int threads, double *asr, double *clean);
ng_status ng_attack_backdoor(const ng_model *m, const ng_dataset *train, const ng_dataset *test,
                             const ng_stamper *attacker_key, const ng_stamper *eval_key,
                             const ng_backdoor_options *o, ng_backdoor_result *r, ng_model **out);

/* ---- defences of a licensed model (SecureNet), run by the key's holder ----
 * License fine-tuning with the key: ng_train on train with a batch hook that, per example, with
 * probability p_key stamps it with the key (target: its label when the key grants the class, else
 * deny) and makes a p_adv share of those adversarial first (ng_attack_adversarial_batch crafted
 * with the key, options adv, against the current weights: adversarial training); with p_clean
 * leaves it unstamped (deny); otherwise stamps it with a random wrong key (deny). Deny target:
 * 0.5 + 0.5/C on deny_class, 0.5/C on every other class. p_adv > 0 hardens against adversarial
 * examples; p_adv = 0 is plain license fine-tuning on clean data, the step that removes a backdoor
 * planted by fine-tuning (its trigger is not in the defender's data). The model's metadata stays. */
typedef struct ng_harden_options {
    ng_advex_options adv;         /* default: PGD eps 0.1, 5 steps */
    double p_adv, p_key, p_clean; /* default 0.5, 0.5, 0.2 */
    int    deny_class;          /* default 0 */
} ng_harden_options;
ng_harden_options ng_harden_options_default(void);
ng_status ng_defend_license_finetune(ng_model *m, const ng_key *key, const ng_dataset *train,
                                     const ng_harden_options *h, const ng_train_options *o, ng_train_result *r);

#endif
