/* nnguard/securenet.h - SecureNet: a license key trained into the model.
 *
 * The model works only on inputs stamped with a license key: a 256-bit secret (an ordinary
 * nnguard key file, keys.h) from which a pattern is derived and written into each input before
 * the forward pass. Without the stamp, or with another key's stamp, the model was trained to
 * answer the "deny" target, so it is useless; the file is a plain
 * ONNX model that still runs anywhere. The deny target puts a share of its mass (deny_mass: 0.5
 * or 0.3) on one class (the deny class, default 0) and spreads the rest evenly: a plain uniform
 * target leaves the argmax to residual logits that still follow the true class (per-user, 8
 * keys: no key 17.6%, worst random key 23.3%).
 *
 *     ng_key k;  ng_stamper *s;  ng_stamp_options so;
 *     ng_key_load("license.key", NULL, 0, &k);
 *     ng_license_stamp_options(model, &so);               // from the model's nnguard.license.* metadata
 *     ng_stamper_new(&k, &so, 1, 28, 28, &s);
 *     ng_key_wipe(&k);
 *     ng_license_stamp(s, images, n);                     // in place, before ng_exec_forward
 *     ng_stamper_free(s);                                 // wipes the pattern
 *
 * Stamp derivation (deterministic for a key; known answers in tests/test_securenet.c):
 *   sub = BLAKE2b-256(key = K, "nnguard-securenet-stamp-v1")           (crypto_generichash)
 *   b   = XChaCha20 keystream of 4 + C*H*W bytes, key sub, nonce 0^24  (crypto_stream_xchacha20)
 *   patch (k x k, all channels): row = le16(b[0..2]) mod (H-k+1), col = le16(b[2..4]) mod (W-k+1),
 *         x[ch][row+i][col+j] = b[4 + (ch*k + i)*k + j] / 255
 *   blend: x[i] = (1-a) x[i] + a * b[4+i] / 255 over the whole image.
 * Patch values are multiples of 1/255, so a patch-stamped 8-bit image is exact.
 *
 * Key id: the first 8 bytes of BLAKE2b-256(key = K, "nnguard-securenet-id-v1"), 16 hex digits:
 * names a key in the metadata and the license description without revealing it.
 *
 * Model metadata (ONNX metadata_props, written by ng_license_record):
 *   nnguard.license.scheme  single | per-user | class-subset | hierarchical
 *   nnguard.license.stamp   "patch K" (K = 1..64) or "blend A" (0 < A <= 1)
 *   nnguard.license.keys    "ID:MASK,ID:MASK,..." key id and granted classes as a hex bit mask
 *   nnguard.license.deny    the deny class (decimal): what the model answers without a valid key
 *                           (informational: nothing reads it back to stamp or evaluate)
 *                           (bit j = class j; classes 0..63)
 *
 * ==== Bound license (opt-in: license train --bind, license bind) ====
 * A licensed model's file alone gives a head start: its features are intact, only the input
 * check is learnt (fine-tuning without a key on 1-10% of the data recovers 86-88%). Binding
 * locks its parameters with Deep-Lock (nnguard/deeplock.h, AES-256-CTR stream, S-box) under a
 * random model key MK, and stores MK once per license key in a key slot that only that license
 * key opens. The file stays a valid ONNX model that runs anywhere (scrambled: useless); nnguard
 * with a granted license key unlocks it in memory, then stamps as above.
 *   MK, salt  32 bytes each from the OS CSPRNG (randombytes_buf), new for every bind
 *   params    ng_deeplock_lock_params(model tensors in order, MK, salt, ctr, only = "*" or the
 *             pattern): c_j = S(b_j XOR k_j), the format 3 ctr stream of (MK, salt)
 *   MAC key   A  = BLAKE2b-256(key = MK, "nnguard.license.bind.v1.mac" NUL | salt)
 *   mac       BLAKE2b-256(key = A, for each tensor: lp(name) | u64le nbytes | plaintext bytes)
 *             (lp(x) = u32le length | x) checks the unlocked parameters bit for bit
 *   slot key  SK = BLAKE2b-256(key = LK, "nnguard.license.bind.v1.slot" NUL | salt), LK a license key
 *   slot      ID:NONCE:CT  ID the key id (16 hex), NONCE 24 random bytes (48 hex), CT (96 hex) =
 *             XChaCha20-Poly1305-IETF(key SK, NONCE, ad = "nnguard.license.bind.v1" NUL | salt |
 *             lp(only) | ID, plaintext MK): 32 + 16 bytes
 * Metadata (besides nnguard.license.*):
 *   nnguard.license.bind        "1" (format)
 *   nnguard.license.bind_only   the locked tensors' pattern (fnmatch list, "*" for all)
 *   nnguard.license.bind_salt   salt, 64 hex
 *   nnguard.license.bind_mac    mac, 64 hex
 *   nnguard.license.slots       "SLOT,SLOT,..." one per key the model grants (at most 64)
 * Opening (ng_license_unbind) tries every slot (no early exit; the key id is public, the slot
 * key is not), unlocks a copy of the parameters, checks mac in constant time and only then
 * writes them into the model: a key that opens no slot is NG_E_KEY, an altered slot opens
 * nothing (NG_E_KEY), altered parameters or pattern fail the mac (NG_E_AUTH); the model is
 * left as it was on failure. MK, SK and the copy are wiped.
 */
#ifndef NNGUARD_SECURENET_H
#define NNGUARD_SECURENET_H
#include <stdint.h>
#include "dataset.h"
#include "keys.h"
#include "model.h"
#include "train.h"

#define NG_LICENSE_MAX_KEYS 64
#define NG_LICENSE_MAX_CLASSES 64
#define NG_LICENSE_MAX_PATCH 64
#define NG_LICENSE_KEY_BYTES 32

typedef enum ng_stamp_mode { NG_STAMP_PATCH = 0, NG_STAMP_BLEND } ng_stamp_mode;
typedef struct ng_stamp_options {
    ng_stamp_mode mode;
    int   patch;      /* patch side k (default 4) */
    float alpha;      /* blend weight a (default 0.1) */
} ng_stamp_options;
ng_stamp_options ng_stamp_options_default(void);

typedef struct ng_stamper ng_stamper;
/* A stamper for key (256 bits) on c x h x w inputs; NG_E_KEY for another key size, NG_E_INVALID
 * for a patch larger than the image or alpha outside (0, 1]. Free with ng_stamper_free. */
ng_status ng_stamper_new(const ng_key *key, const ng_stamp_options *o, int c, int h, int w, ng_stamper **out);
/* Same, from the 32 raw key bytes (training draws random wrong keys this way). */
ng_status ng_stamper_new_raw(const uint8_t key[NG_LICENSE_KEY_BYTES], const ng_stamp_options *o, int c, int h,
                             int w, ng_stamper **out);
/* Stamp n inputs (n x c x h x w floats) in place. */
void      ng_license_stamp(const ng_stamper *s, float *x, int64_t n);
/* Where a patch stamper writes (row, col), for tests and the description; -1 for blend. */
void      ng_stamper_position(const ng_stamper *s, int *row, int *col);
void      ng_stamper_free(ng_stamper *s);
/* Patch mode: change key (XOR a counter into its last 8 bytes, the first counter that works) so
 * that its stamp on c x h x w inputs lands where ref's does; nothing to do for blend. The keys of
 * one license (per-user, hierarchical) share a place and differ in their values: the model learns
 * one place to check, with hard negatives there, instead of N places (eval-scheme securenet, 8
 * per-user keys: every key 82.6-84.4% instead of 69.5-82.2%). Costs about (h-k+1)(w-k+1) key
 * derivations (625 on 28 x 28, 4 x 4). NG_E_KEY for keys that are not 256 bits, the stamper's
 * errors for bad options or shapes. */
ng_status ng_license_key_align(ng_key *key, const ng_key *ref, const ng_stamp_options *o, int c, int h, int w);

/* 16 hex digits + NUL naming the key (see above). */
void      ng_license_key_id(const ng_key *key, char id[17]);

typedef enum ng_license_scheme {
    NG_LICENSE_SINGLE = 0, NG_LICENSE_PER_USER, NG_LICENSE_CLASS_SUBSET, NG_LICENSE_HIERARCHICAL,
    NG_LICENSE_SCHEME_COUNT
} ng_license_scheme;
const char *ng_license_scheme_name(ng_license_scheme s);
/* NG_E_INVALID naming the accepted schemes when name is not one of them. */
ng_status   ng_license_scheme_parse(const char *name, ng_license_scheme *out);

/* What license training teaches: keys[i] grants the classes in mask[i]; revoked keys (key
 * replacement: the old key) are denied like random keys. Per sample of each batch: with
 * probability p_key a granted key's stamp (a key chosen uniformly, hierarchical: the master keys[0]
 * master_share of the time; target its true label when the key grants the class, else deny, whose class
 * is then deny_class if the key grants it, else the key's lowest granted class: a class the key
 * does not grant never scores by being the deny class), p_clean no stamp (deny), otherwise (deny) a revoked key's stamp
 * half of the time when there are revoked keys, else a near miss of a granted key: in patch mode
 * 20% its place with random values, 20% its place with 25-75% of its values kept and the others
 * random, 20% its values 1-2 pixels off its place; in blend mode 40% its pattern with 25-75% of
 * the pixels kept and the others random; the rest a random key's stamp. The near misses make
 * the model check every value and the place (without them a per-user model with 8 keys let some
 * random keys through: worst of 100 at 52%). */
typedef struct ng_license_spec {
    ng_license_scheme scheme;
    ng_stamp_options  stamp;
    int      nkeys;
    ng_key   keys[NG_LICENSE_MAX_KEYS];
    uint64_t mask[NG_LICENSE_MAX_KEYS];
    int      nrevoked;
    ng_key   revoked[NG_LICENSE_MAX_KEYS];
    double   p_key, p_clean;    /* defaults: ng_license_spec_shares (the rest: wrong keys) */
    double   p_key_end;         /* > 0: p_key ramps linearly from p_key (first epoch) to p_key_end
                                   (last epoch), p_clean keeps its part of the rest; 0: constant.
                                   Denial is learnt first, the task last. Not with o.resume. */
    int      deny_class;        /* default 0 */
    float    deny_mass;         /* the deny target's mass on the deny class, the rest spread evenly
                                   (1/classes..1) */
    float    deny_weight;       /* loss weight of a denied example against a granted one (its target
                                   row sums to it). ng_license_spec_shares sets these three */
    double   p_shift_random;    /* patch stamps: the share of the denied near misses that are random
                                   values 1-2 pixels off a granted key's place (a wrong key whose patch
                                   lands next to the place), before the kinds above; set by
                                   ng_license_spec_shares (per-user 0.7, the others 0) */
    float    label_smooth;      /* a granted example's target: 1 - label_smooth on its label, label_smooth
                                   spread over all classes (ng_license_spec_shares: per-user 0.15,
                                   hierarchical 0.1, the others 0) */
    ng_model *teacher;          /* replacement (optional, not owned): a granted key's examples get the
                                   softmax of teacher on the input stamped with revoked[0] as target
                                   instead of the one-hot label (the licensed model before: its
                                   accuracy is kept better than with the labels alone). Each image's
                                   answer is computed once and kept for the later epochs */
    double   master_share;      /* hierarchical: the share of the keyed examples stamped with the
                                   master keys[0] (the tiers share the rest); ng_license_spec_shares: 0.65 */
    float    teacher_label;     /* with a teacher: the one-hot label's share of those targets (the
                                   teacher's softmax has the rest); 0: the teacher alone */
    double   p_near;            /* the share of the wrong-key denied examples drawn from the near-miss
                                   kinds above (the rest: random keys' stamps); NG_LICENSE_NEAR_AUTO
                                   (ng_license_spec_shares): 1, except blend stamps on a model with a
                                   GlobalAveragePool (vgg-small, resnet-small), 0 (see below) */
} ng_license_spec;
/* p_near resolved by ng_license_train: blend near misses (25-75% of the key's pixels kept) teach a
 * whole-image template check that a LeNet-5 (its dense layers see every pixel) learns and a
 * convolutional model pooled globally does not learn in a short training: vgg-small, 12,000
 * images, 3 epochs, seed 0: with the key 40.15% with them, 84.91% without, worst of 100 random keys
 * 16.6% (500 images; docs/results/securenet-vgg-small.txt). */
#define NG_LICENSE_NEAR_AUTO (-1.0)
/* Key replacement (nnguard license replace) defaults: fine-tune on a fraction of the training
 * data with clean examples, so that unstamped inputs stay denied while the new key is learnt;
 * denied examples weigh 2 (weight 1 let the old key through: 17.6%). Branch lic5 (eval-scheme
 * --threads 2, seeds 0 / 1, new key against before): the new key's share of a batch 0.6 -> 0.88
 * (clean 0.3 -> 0.07; at 0.9 the old key reached 13.7%) and targets half label, half teacher
 * instead of the teacher alone (the model before is 5 epochs short of converged: the labels lift
 * the student) took the new key from -2.29 / -1.75 points on 18% of the data to -0.41 / -1.15 on
 * 15% (16%: +0.18 / -1.07; 13% with 0.4 label: -0.70 / -1.77). 15% of the data for 5 epochs: 15%
 * of license training's image passes; the teacher's forward passes (once per image) add a few
 * points: 14.9% / 16.2% of its CPU seconds on a loaded machine (18% of the passes took 19.9% quiet). */
#define NG_LICENSE_REPLACE_FRACTION 0.15
#define NG_LICENSE_REPLACE_EPOCHS 5
#define NG_LICENSE_REPLACE_P_KEY 0.88
#define NG_LICENSE_REPLACE_P_CLEAN 0.07
#define NG_LICENSE_REPLACE_DENY_WEIGHT 2.0f
#define NG_LICENSE_REPLACE_TEACHER_LABEL 0.5f
/* Replacement optimiser: SGD with momentum 0.9 at this rate, cosine schedule (Adam at 1e-3, fresh
 * moments on a trained model, lost 1-1.5 points more: seed 1 new key 84.71% -> 86.28%). */
#define NG_LICENSE_REPLACE_SGD_LR 0.03f
#define NG_LICENSE_REPLACE_MOMENTUM 0.9f
/* ... and this rate for models with BatchNormalization: vgg-small (12,000 images, 5 epochs) kept its
 * accuracy with the new key within 2 points only at 0.005 (seeds 0 / 1: -1.25 / -1.30; seed 0 at
 * 0.03: -2.27), while LeNet-5 at 0.005 kept its old key (seed 0: 83.19% with it; 0.03: 10.17%). */
#define NG_LICENSE_REPLACE_SGD_LR_BN 0.005f
/* Replacement's default rate for m: NG_LICENSE_REPLACE_SGD_LR_BN if it has a BatchNormalization
 * node, else NG_LICENSE_REPLACE_SGD_LR. */
float ng_license_replace_lr(const ng_model *m);

/* A spec with no keys and the defaults; wipe it with ng_license_spec_wipe. */
void ng_license_spec_init(ng_license_spec *s, ng_license_scheme scheme);
/* Set s's sample shares and deny target to its scheme's and stamp's defaults: single with a patch
 * stamp p_key 0.7 throughout, deny mass 0.5, weight 1; the others (several keys, class subsets,
 * blend stamps: they need more denied examples) p_key ramped 0.5 -> 0.8 (per-user 0.75), deny
 * mass 0.3, weight 2 (blend stamps 3, hierarchical 1.25 with the master on 65% of the keyed
 * examples); per-user also p_shift_random 0.7,
 * label_smooth per-user 0.15, hierarchical 0.1; p_clean a fifth of the rest. Call it again after
 * changing s->scheme or s->stamp.mode. */
void ng_license_spec_shares(ng_license_spec *s);
/* Set s->p_key (0..1] and p_clean to its default for it, a fifth of the rest (the rest: wrong keys). */
void ng_license_spec_set_p_key(ng_license_spec *s, double p_key);
void ng_license_spec_wipe(ng_license_spec *s);

/* Train m (fresh or trained) so that it works only with the spec's keys: ng_train with a batch
 * hook that stamps and relabels each batch. o, r as ng_train (r's accuracies are on the test set
 * stamped with keys[0]). Records the license metadata in m. */
ng_status ng_license_train(ng_model *m, const ng_license_spec *spec, const ng_dataset *train,
                           const ng_dataset *test, const ng_train_options *o, ng_train_result *r);
/* Write the nnguard.license.* metadata of spec into m. */
ng_status ng_license_record(ng_model *m, const ng_license_spec *spec);
/* The stamping options in m's metadata: NG_E_STATE when m has no license metadata, NG_E_FORMAT
 * when it is malformed. */
ng_status ng_license_stamp_options(const ng_model *m, ng_stamp_options *out);
/* Parse a "patch K" / "blend A" metadata value (name is used in messages). */
ng_status ng_license_stamp_parse(const char *value, const char *name, ng_stamp_options *out);
/* The classes m's metadata grants key (by its id): NG_E_KEY when the model does not know the key. */
ng_status ng_license_key_classes(const ng_model *m, const ng_key *key, uint64_t *mask);

/* Look id up in a nnguard.license.keys value: NG_E_KEY when absent, NG_E_FORMAT when malformed. */
ng_status ng_license_keys_find(const char *value, const char id[17], uint64_t *mask);

/* Accuracy of m on the first limit (0: all) examples of d stamped with key (NULL: unstamped) or
 * with raw key bytes (raw != NULL, key NULL); per_class (d->classes doubles) may be NULL. */
ng_status ng_license_evaluate(ng_model *m, const ng_stamp_options *so, const ng_key *key, const uint8_t *raw,
                              const ng_dataset *d, int64_t limit, int threads, double *acc, double *per_class);

/* ---- bound license (see the top of this header) ---- */
/* 1 when m carries nnguard.license.bind. */
int       ng_license_is_bound(const ng_model *m);
/* Lock m's parameters (the tensors matching only; NULL = all) under a fresh random model key and
 * write one key slot per key (nkeys 1..NG_LICENSE_MAX_KEYS, 256-bit license keys). NG_E_STATE
 * when m is already bound, NG_E_INVALID when only matches no tensor. On failure m is unchanged. */
ng_status ng_license_bind(ng_model *m, const ng_key *keys, int nkeys, const char *only);
/* Open m's slot for key, unlock m's parameters in memory and remove the bind metadata (m is then
 * the licensed model it was before binding). NG_E_STATE when m is not bound, NG_E_KEY when key
 * opens no slot, NG_E_FORMAT for malformed bind metadata, NG_E_AUTH when the unlocked parameters
 * fail the mac; m is unchanged on failure. */
ng_status ng_license_unbind(ng_model *m, const ng_key *key);

#endif
