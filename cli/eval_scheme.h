/* cli/eval_scheme.h - `nnguard eval-scheme`: one protection scheme measured end to end on a
 * trained model, every attack run the same way, JSON report + readable table. */
#ifndef NG_EVAL_SCHEME_H
#define NG_EVAL_SCHEME_H
#include <jansson.h>
#include "nnguard/attack.h"

#define NG_ES_MAX_LIST 16
typedef struct ng_es_ctx {
    const char *data, *model, *workdir, *report;
    const char *archs[NG_ES_MAX_LIST]; int n_archs;
    double fractions[NG_ES_MAX_LIST]; int n_fractions;
    double rates[NG_ES_MAX_LIST]; int n_rates;
    int train_epochs, attack_epochs, prune_epochs, trials, budget, threads;
    int keystream;            /* Deep-Lock: NG_KS_CTR / NG_KS_EXPAND */
    int ft_sanity;            /* fine-tuning: also the sanity run (the attack on an all-fresh model) */
    int64_t limit;            /* test images used (0 = all) */
    int paper;                /* advparams: paper form (GRAD, 0.15) instead of the hardened one */
    int dead;                 /* advparams: hardened form with a dead layer at this eligible tensor (1 = the first; ng_adv_options.dead) */
    int dead_layers;          /* advparams: consecutive dead layers from `dead` (0: one; ng_adv_options.dead_layers) */
    double curve[NG_ES_MAX_LIST]; int n_curve;   /* advparams: budgets of the fine-tuning curve */
    int curve_only;           /* advparams: the curve alone (no encryption/attack rows before it) */
    int down;                 /* advparams: hardened rounds only lower values (ng_adv_options.down) */
    int reset_proof;          /* advparams: hardened rounds move values into the centre band (ng_adv_options.reset_proof) */
    int spread;               /* advparams: hardened rounds' spread (ng_adv_options.spread; 0 = its default) */
    int every_det;            /* advparams: the top-1x reset + fine-tuning with every detector (ng_attack_adaptive_each) */
    int hide;                 /* advparams: camouflage rounds of the hardened forms (ng_adv_options.hide) */
    uint64_t seed;
    ng_dataset train, test;
    /* dynamarks */
    double budgets[NG_ES_MAX_LIST]; int n_budgets;
    int independent;            /* independently trained models for false positives */
    const char *surrogate_arch;
    double wm_rate;             /* label mode */
    /* securenet */
    int64_t train_count;        /* train on this many images (stratified; 0 = all) */
    int sn_attacks_only;        /* only the single-key model and its input-side attacks and defences */
    const char *parts;          /* comma-separated parts to run (NULL: all; see --parts) */
    int sn_deny_class;          /* the license trainings' deny class (default 0) */
    int sn_sched;               /* normal and license trainings' schedule (ng_sched_kind; default const) */
    double sn_replace_lr;       /* key replacement's SGD rate (0: license replace's default) */
} ng_es_ctx;

/* The schemes eval-scheme and evaluate know, in evaluate's order; NULL-terminated. */
extern const char *const ng_es_schemes[];
/* Index of name in ng_es_schemes, or -1. */
int ng_es_scheme_index(const char *name);
/* The defaults of `eval-scheme <scheme>` (the full budgets): data folder, epochs, fractions, ... */
void ng_es_defaults(ng_es_ctx *c, const char *scheme);
/* Load c->data's training split and the first c->limit test images (0 = all) into c->train/test. */
ng_status ng_es_load_data(ng_es_ctx *c);
/* Run one scheme's evaluation on c (data loaded) and fill report (a JSON object) with the header
 * (scheme, data, seed, image counts) and the scheme's figures; prints the table on stdout. */
ng_status ng_es_run(ng_es_ctx *c, const char *scheme, json_t *report);

/* The model to protect: --model, or arch trained for train_epochs and saved in workdir.
 * *path receives the file the scheme works on (malloc'ed). */
ng_status ng_es_base_model(ng_es_ctx *c, const char *arch, ng_model **m, char **path);
/* Fine-tuning attack at every fraction, as a JSON array; also prints the table. */
ng_status ng_es_finetune(ng_es_ctx *c, const ng_model *victim, json_t **out);

ng_status ng_es_deeplock(ng_es_ctx *c, json_t *report);
/* Seal and unseal GB/s in memory over data (bytes, a multiple of 4) on threads cores, best of reps,
 * into o (seal_gb_s, unseal_gb_s, seal_aead): the Deep-Lock throughput rows' seal half
 * (cli/seal/seal_throughput.c). NG_E_INTERNAL when the round trip is not exact. */
ng_status ng_cli_seal_throughput(const uint8_t *data, size_t bytes, int threads, int reps, json_t *o);
ng_status ng_es_advparams(ng_es_ctx *c, json_t *report);
ng_status ng_es_dynamarks(ng_es_ctx *c, json_t *report);
ng_status ng_es_securenet(ng_es_ctx *c, json_t *report);
/* SecureNet's input-side attacks and the key holder's defences on the single-key model (key; base:
 * the normally trained model, may be NULL), into att (cli/securenet/eval_securenet_attacks.c). */
ng_status ng_es_sn_attacks(ng_es_ctx *c, const ng_dataset *train, ng_model *single, ng_model *base,
                           const ng_key *key, json_t *att);
/* Trigger reverse-engineering (patch or blend as so) on m with 10% of train, into out[name]. */
ng_status ng_es_sn_trigger(ng_es_ctx *c, const ng_dataset *train, ng_model *m, const ng_stamp_options *so,
                           const char *name, json_t *out);
/* The bound license (cli/securenet/eval_securenet_bind.c): single (key k1) and blend (key kb, may
 * be NULL) bound to their keys; bit-exact unlock, accuracy with the key, no key and 100 random keys
 * (none opens a slot; the locked model stamped with them), unlock time per load beside inference,
 * fine-tuning without the key (c->train: the attacker's pool) and trigger reverse-engineering. */
ng_status ng_es_sn_bind(ng_es_ctx *c, const ng_dataset *train, const ng_model *single, const ng_key *k1,
                        const ng_model *blend, const ng_key *kb, json_t *out);
#endif
