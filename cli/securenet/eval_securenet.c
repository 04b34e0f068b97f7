/* cli/securenet/eval_securenet.c - `nnguard eval-scheme securenet`: SCHEMES.md section 3
 * "Measure" for each architecture, on a training subset of --train-count images (0: all):
 * normal training against license training (same epochs, seed), all four schemes with the
 * right key, no key, random keys and keys one bit away, per class where it matters; key
 * replacement and its cost; fine-tuning without the key against scratch; trigger
 * reverse-engineering for the patch and the blend stamp; adversarial examples, a BadNets backdoor
 * and the key holder's defences on the single-key model (eval_securenet_attacks.c; --attacks-only:
 * those alone, beside normal training). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "eval_scheme.h"
#include "core/core.h"

#define KEYGUESS_IMAGES 2000   /* test images per guessed key (--trials random + 32 one bit away) */

typedef struct sn_run {
    ng_es_ctx *c;
    const char *arch;
    const ng_dataset *train;
    json_t *out;
    int have_normal;                          /* normal_pc holds the normal model's per-class accuracy */
    double normal_pc[NG_LICENSE_MAX_CLASSES];
} sn_run;

static ng_status fresh(const sn_run *r, ng_model **m)
{
    const ng_dataset *d = r->train;
    return ng_model_from_arch(r->arch, d->c, d->h, d->w, d->classes, r->c->seed, m);
}

static ng_train_options topts(const sn_run *r, int epochs)
{
    ng_train_options o = ng_train_options_default();
    o.epochs = epochs;
    o.sched = (ng_sched_kind)r->c->sn_sched;   /* normal and license training alike (replacement: cosine) */
    o.seed = r->c->seed;
    o.threads = r->c->threads;
    o.quiet = 1;
    return o;
}

static void fixed_key(ng_key *k, uint64_t seed, int i)
{
    ng_rng g;
    ng_rng_seed(&g, seed * 7919 + (uint64_t)i + 1);
    k->len = 32;
    for (int b = 0; b < 32; b += 8) { uint64_t v = ng_rng_u64(&g); memcpy(k->k + b, &v, 8); }
}

static json_t *jarr(const double *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, ng_json_num(v[i]));
    return a;
}

/* Accuracy and per class with key k (NULL: none), printed and stored under name in o. */
static ng_status keyed(const sn_run *r, ng_model *m, const ng_stamp_options *so, const ng_key *k, const char *name,
                       json_t *o, double *acc, double *pc)
{
    ng_status st = ng_license_evaluate(m, so, k, NULL, &r->c->test, 0, r->c->threads, acc, pc);
    if (st != NG_OK) return st;
    json_t *e = json_object();
    json_object_set_new(e, "accuracy", ng_json_num(*acc));
    json_object_set_new(e, "per_class", jarr(pc, r->c->test.classes));
    json_object_set_new(o, name, e);
    printf("    %-14s %6.2f%%  per class:", name, 100 * *acc);
    for (int j = 0; j < r->c->test.classes; j++) printf(" %3.0f", 100 * pc[j]);
    printf("\n");
    return NG_OK;
}

/* Worst and mean accuracy of --trials random keys and of min(32, trials) keys one bit away from k
 * (on the first 2000 test images). */
static ng_status keyguess(const sn_run *r, ng_model *m, const ng_stamp_options *so, const ng_key *k, json_t *o)
{
    double worst = 0, mean = 0, worst1 = 0, mean1 = 0, a;
    const int64_t lim = KEYGUESS_IMAGES < r->c->test.n ? KEYGUESS_IMAGES : r->c->test.n;
    const int nr = r->c->trials, n1 = nr < 32 ? nr : 32;
    for (int t = 0; t < nr; t++) {
        ng_key g;
        fixed_key(&g, r->c->seed + 99991, t);
        ng_status st = ng_license_evaluate(m, so, NULL, g.k, &r->c->test, lim, r->c->threads, &a, NULL);
        if (st != NG_OK) return st;
        worst = fmax(worst, a);
        mean += a / nr;
    }
    for (int t = 0; t < n1; t++) {
        ng_key g = *k;
        g.k[t] ^= (uint8_t)(1u << (t % 8));
        ng_status st = ng_license_evaluate(m, so, &g, NULL, &r->c->test, lim, r->c->threads, &a, NULL);
        ng_key_wipe(&g);
        if (st != NG_OK) return st;
        worst1 = fmax(worst1, a);
        mean1 += a / n1;
    }
    json_object_set_new(o, "random_keys", json_integer(nr));
    json_object_set_new(o, "random_keys_worst", ng_json_num(worst));
    json_object_set_new(o, "random_keys_mean", ng_json_num(mean));
    json_object_set_new(o, "one_bit_keys", json_integer(n1));
    json_object_set_new(o, "one_bit_keys_worst", ng_json_num(worst1));
    json_object_set_new(o, "one_bit_keys_mean", ng_json_num(mean1));
    json_object_set_new(o, "keyguess_images", json_integer(lim));
    printf("    %d random keys: worst %.2f%%, mean %.2f%%; %d keys one bit away: worst %.2f%%, mean %.2f%% (%lld images)\n",
           nr, 100 * worst, 100 * mean, n1, 100 * worst1, 100 * mean1, (long long)lim);
    return NG_OK;
}

/* License-train a fresh model for spec; secs[0] the training time, secs[1] its CPU seconds. */
static ng_status lic_train(const sn_run *r, const ng_license_spec *sp, ng_model **m, double secs[2])
{
    ng_status st = fresh(r, m);
    if (st != NG_OK) return st;
    ng_train_options o = topts(r, r->c->train_epochs);
    ng_train_result *res = calloc(1, sizeof *res);
    if (!res) return NG_E_NOMEM;
    const double t0 = ng_now(), c0 = ng_cpu_now();
    st = ng_license_train(*m, sp, r->train, NULL, &o, res);
    secs[0] = ng_now() - t0;
    secs[1] = ng_cpu_now() - c0;
    free(res);
    return st;
}

/* One scheme: train, then every key, no key (and for single: key guessing). */
static ng_status scheme(const sn_run *r, ng_license_spec *sp, const char *label, json_t *out, ng_model **keep,
                        double secs[2])
{
    ng_model *m = NULL;
    printf("  %s (%s stamp) ...\n", label, sp->stamp.mode == NG_STAMP_PATCH ? "patch" : "blend");
    fflush(stdout);
    ng_status st = lic_train(r, sp, &m, secs);
    if (st != NG_OK) { ng_model_free(m); return st; }
    json_t *o = json_object(), *keys = json_object();
    json_object_set_new(o, "scheme", json_string(ng_license_scheme_name(sp->scheme)));
    json_object_set_new(o, "stamp", json_string(sp->stamp.mode == NG_STAMP_PATCH ? "patch" : "blend"));
    json_object_set_new(o, "train_seconds", ng_json_num(secs[0]));
    json_object_set_new(o, "train_cpu_seconds", ng_json_num(secs[1]));
    double acc, pc[NG_LICENSE_MAX_CLASSES];
    for (int i = 0; i < sp->nkeys && st == NG_OK; i++) {
        char name[32];
        snprintf(name, sizeof name, sp->scheme == NG_LICENSE_HIERARCHICAL ? (i ? "tier-%d" : "master") : "key-%d", i);
        json_t *ko = json_object();
        st = keyed(r, m, &sp->stamp, &sp->keys[i], name, ko, &acc, pc);
        json_t *e = json_object_get(ko, name);
        json_object_set_new(e, "classes", json_integer((json_int_t)sp->mask[i]));
        if (st == NG_OK && r->have_normal) {   /* granted classes against the normal model, the others */
            double drop = -1e9, other = 0;
            int worst = -1;
            for (int j = 0; j < r->c->test.classes; j++) {
                if (!(sp->mask[i] >> j & 1)) { other = fmax(other, pc[j]); continue; }
                if (r->normal_pc[j] - pc[j] > drop) { drop = r->normal_pc[j] - pc[j]; worst = j; }
            }
            json_object_set_new(e, "granted_worst_drop_vs_normal", ng_json_num(drop));
            json_object_set_new(e, "other_classes_max", ng_json_num(other));
            printf("    %-14s granted classes vs normal: worst %+.1f points (class %d); other classes at most %.1f%%\n",
                   "", -100 * drop, worst, 100 * other);
        }
        json_object_set(keys, name, e);
        json_decref(ko);
    }
    json_object_set_new(o, "keys", keys);
    if (st == NG_OK) st = keyed(r, m, &sp->stamp, NULL, "no-key", o, &acc, pc);
    if (st == NG_OK) st = keyguess(r, m, &sp->stamp, &sp->keys[0], o);
    printf("    license training %.1f s (%.1f CPU s)\n", secs[0], secs[1]);
    json_object_set_new(out, label, o);
    if (st == NG_OK && keep) *keep = m;
    else ng_model_free(m);
    return st;
}

static ng_status replacement(const sn_run *r, ng_model *lic, const ng_license_spec *old, const double lic_secs[2],
                             json_t *out)
{
    ng_license_spec *sp = malloc(sizeof *sp);
    ng_model *m = NULL;
    if (!sp) return NG_E_NOMEM;
    ng_license_spec_init(sp, old->scheme);
    sp->stamp = old->stamp;
    sp->deny_class = old->deny_class;
    sp->nkeys = 1;
    sp->mask[0] = old->mask[0];
    fixed_key(&sp->keys[0], r->c->seed, 500);
    /* as license keygen --like: the new key's patch where the old one's is */
    ng_status st = ng_license_key_align(&sp->keys[0], &old->keys[0], &sp->stamp, r->train->c, r->train->h, r->train->w);
    sp->revoked[0] = old->keys[0];
    sp->nrevoked = 1;
    sp->teacher = lic;   /* the licensed model before: its answers with the old key */
    ng_dataset sub = {0};
    const double frac = NG_LICENSE_REPLACE_FRACTION;
    const int epochs = NG_LICENSE_REPLACE_EPOCHS;
    sp->p_key = NG_LICENSE_REPLACE_P_KEY;
    sp->p_clean = NG_LICENSE_REPLACE_P_CLEAN;
    sp->p_key_end = 0;
    sp->deny_weight = NG_LICENSE_REPLACE_DENY_WEIGHT;
    sp->teacher_label = NG_LICENSE_REPLACE_TEACHER_LABEL;   /* as nnguard license replace */
    if (st == NG_OK) st = ng_dataset_subset(r->train, frac, 0, r->c->seed + 5, &sub);
    if (st == NG_OK) st = ng_model_clone(lic, &m);
    ng_train_options o = topts(r, epochs);
    o.sched = NG_SCHED_COSINE;   /* as nnguard license replace, SGD with momentum */
    o.optim = ng_optim_options_default(NG_OPTIM_SGD);
    const double lr = r->c->sn_replace_lr > 0 ? r->c->sn_replace_lr : ng_license_replace_lr(lic);
    o.optim.lr = (float)lr;
    o.optim.momentum = NG_LICENSE_REPLACE_MOMENTUM;
    ng_train_result *res = calloc(1, sizeof *res);
    double secs = 0, cpu = 0, a_new, a_old, a_none, pc[NG_LICENSE_MAX_CLASSES];
    if (!res && st == NG_OK) st = NG_E_NOMEM;
    if (st == NG_OK) {
        const double t0 = ng_now(), c0 = ng_cpu_now();
        st = ng_license_train(m, sp, &sub, NULL, &o, res);
        secs = ng_now() - t0;
        cpu = ng_cpu_now() - c0;
    }
    json_t *j = json_object();
    printf("  key replacement (%.0f%% of the training data, %d epochs, SGD at %g):\n", 100 * frac, epochs, lr);
    if (st == NG_OK) st = keyed(r, m, &sp->stamp, &sp->keys[0], "new-key", j, &a_new, pc);
    if (st == NG_OK) st = keyed(r, m, &sp->stamp, &old->keys[0], "old-key", j, &a_old, pc);
    if (st == NG_OK) st = keyed(r, m, &sp->stamp, NULL, "no-key", j, &a_none, pc);
    const double img_ratio = (double)sub.n * epochs / ((double)r->train->n * r->c->train_epochs);
    if (st == NG_OK) {
        json_object_set_new(j, "fraction", ng_json_num(frac));
        json_object_set_new(j, "epochs", json_integer(epochs));
        json_object_set_new(j, "lr", ng_json_num(round(lr * 1e6) / 1e6));   /* 0.03f: 0.03, not 0.0299999993 */
        json_object_set_new(j, "examples", json_integer(sub.n));
        json_object_set_new(j, "seconds", ng_json_num(secs));
        json_object_set_new(j, "cost_images_vs_license_training", ng_json_num(img_ratio));
        json_object_set_new(j, "cpu_seconds", ng_json_num(cpu));
        json_object_set_new(j, "cost_seconds_vs_license_training", ng_json_num(secs / lic_secs[0]));
        json_object_set_new(j, "cost_cpu_seconds_vs_license_training", ng_json_num(cpu / lic_secs[1]));
        printf("    cost: %.1f s (%.1f%% of license training's %.1f s), %.1f CPU s (%.1f%% of its %.1f), %.1f%% of its "
               "image passes\n", secs, 100 * secs / lic_secs[0], lic_secs[0], cpu, 100 * cpu / lic_secs[1], lic_secs[1],
               100 * img_ratio);
        json_object_set_new(out, "replacement", j);
    } else json_decref(j);
    free(res);
    ng_model_free(m);
    ng_dataset_free(&sub);
    ng_license_spec_wipe(sp);
    free(sp);
    return st;
}

ng_status ng_es_sn_trigger(ng_es_ctx *c, const ng_dataset *train, ng_model *m, const ng_stamp_options *so,
                           const char *name, json_t *out)
{
    ng_dataset att = {0};
    ng_status st = ng_dataset_subset(train, 0.1, 0, c->seed + 77, &att);
    ng_trigger_options o = ng_trigger_options_default();
    o.blend = so->mode == NG_STAMP_BLEND;
    o.alpha = so->alpha;
    o.seed = c->seed;
    o.threads = c->threads;
    o.epochs = c->attack_epochs;
    ng_trigger_result tr;
    if (st == NG_OK) st = ng_attack_reverse_trigger(m, &att, &c->test, &o, &tr);
    if (st == NG_OK) {
        json_t *j = json_object();
        json_object_set_new(j, "attacker_examples", json_integer(att.n));
        json_object_set_new(j, "epochs", json_integer(o.epochs));
        json_object_set_new(j, "accuracy_before", ng_json_num(tr.acc_before));
        json_object_set_new(j, "accuracy_after", ng_json_num(tr.acc_after));
        json_object_set_new(j, "loss_first_epoch", ng_json_num(tr.loss_first));
        json_object_set_new(j, "loss_last_epoch", ng_json_num(tr.loss_last));
        json_object_set_new(j, "mask_mean", ng_json_num(tr.mask_mean));
        json_object_set_new(out, name, j);
        printf("  reverse-engineered trigger (%s, %lld labelled images, %d epochs): held-out accuracy %.2f%% -> %.2f%% "
               "(loss %.3f -> %.3f, mask mean %.3f)\n", name, (long long)att.n, o.epochs, 100 * tr.acc_before,
               100 * tr.acc_after, tr.loss_first, tr.loss_last, tr.mask_mean);
    }
    ng_dataset_free(&att);
    return st;
}

static const char *const sn_parts[] = {
    "normal", "single", "replace", "blend", "per-user", "class-subset", "hierarchical", "finetune", "trigger",
    "attacks", "bind", NULL,
};

/* Is part in --parts (all parts when it is not given)? */
static int want(const ng_es_ctx *c, const char *part)
{
    if (!c->parts) return 1;
    const size_t n = strlen(part);
    for (const char *p = c->parts; *p;) {
        const char *e = strchr(p, ',');
        const size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, part, n)) return 1;
        p += l + (e != NULL);
    }
    return 0;
}

static ng_status check_parts(const char *parts)
{
    for (const char *p = parts; p && *p;) {
        const char *e = strchr(p, ',');
        const size_t l = e ? (size_t)(e - p) : strlen(p);
        int ok = 0;
        for (int i = 0; sn_parts[i]; i++) ok |= strlen(sn_parts[i]) == l && !strncmp(p, sn_parts[i], l);
        if (!ok)
            return ng_fail(NG_E_INVALID, "--parts: unknown part '%.*s' (normal, single, replace, blend, per-user, "
                           "class-subset, hierarchical, finetune, trigger, attacks, bind)", (int)l, p);
        p += l + (e != NULL);
    }
    return NG_OK;
}

/* n fixed keys for seed; as license train --keys-out, they share the first key's place. */
static ng_status spec_keys(ng_license_spec *sp, uint64_t seed, int n, const uint64_t *masks, const ng_dataset *d)
{
    ng_status st = NG_OK;
    sp->nkeys = n;
    for (int i = 0; i < n; i++) { fixed_key(&sp->keys[i], seed, i); sp->mask[i] = masks[i]; }
    for (int i = 1; i < n && st == NG_OK; i++)
        st = ng_license_key_align(&sp->keys[i], &sp->keys[0], &sp->stamp, d->c, d->h, d->w);
    return st;
}

static ng_status one_arch(ng_es_ctx *c, const char *arch, json_t *arr)
{
    ng_dataset sub = {0};
    ng_status st = c->train_count > 0 && c->train_count < c->train.n
                   ? ng_dataset_subset(&c->train, 0, c->train_count, c->seed, &sub) : NG_OK;
    if (st != NG_OK) return st;
    sn_run r = { c, arch, sub.n ? &sub : &c->train, json_object(), 0, {0} };
    json_array_append_new(arr, r.out);
    json_object_set_new(r.out, "arch", json_string(arch));
    json_object_set_new(r.out, "train_examples", json_integer(r.train->n));
    json_object_set_new(r.out, "epochs", json_integer(c->train_epochs));
    const int C = r.train->classes;
    const uint64_t all = (1ULL << C) - 1, low = (1ULL << (C / 2)) - 1;
    printf("SecureNet on %s: %lld training images, %d epochs, seed %llu, %lld test images\n", arch,
           (long long)r.train->n, c->train_epochs, (unsigned long long)c->seed, (long long)c->test.n);
    /* normal training, same epochs and seed */
    ng_model *base = NULL, *single = NULL, *blend = NULL;
    ng_key key1 = {0};
    ng_license_spec *sp = malloc(sizeof *sp);
    ng_train_result *res = calloc(1, sizeof *res);
    double normal_secs = 0, acc_normal = 0, pc[NG_LICENSE_MAX_CLASSES], secs_single[2] = {0, 0}, secs[2];
    if (!sp || !res) { st = NG_E_NOMEM; goto out; }
    if (want(c, "normal")) {
        if ((st = fresh(&r, &base)) != NG_OK) goto out;
        ng_train_options o = topts(&r, c->train_epochs);
        double t0 = ng_now();
        if ((st = ng_train(base, r.train, NULL, &o, res)) != NG_OK) goto out;
        normal_secs = ng_now() - t0;
        if ((st = ng_license_evaluate(base, NULL, NULL, NULL, &c->test, 0, c->threads, &acc_normal, pc)) != NG_OK) goto out;
        json_t *nj = json_object();
        json_object_set_new(nj, "accuracy", ng_json_num(acc_normal));
        json_object_set_new(nj, "per_class", jarr(pc, C));
        json_object_set_new(nj, "train_seconds", ng_json_num(normal_secs));
        json_object_set_new(r.out, "normal", nj);
        r.have_normal = 1;
        memcpy(r.normal_pc, pc, (size_t)C * sizeof(double));
        printf("  normal training: %.2f%% in %.1f s  per class:", 100 * acc_normal, normal_secs);
        for (int j = 0; j < C; j++) printf(" %3.0f", 100 * pc[j]);
        printf("\n");
    }
    json_t *sch = json_object();
    json_object_set_new(r.out, "schemes", sch);
    /* single (patch), kept for replacement and attacks */
    if (want(c, "single")) {
        ng_license_spec_init(sp, NG_LICENSE_SINGLE);
        sp->deny_class = c->sn_deny_class;
        if ((st = spec_keys(sp, c->seed, 1, &all, r.train)) != NG_OK) goto out;
        if ((st = scheme(&r, sp, "single", sch, &single, secs_single)) != NG_OK) goto out;
        key1 = sp->keys[0];
        if (c->sn_attacks_only) {
            json_t *att0 = json_object();
            json_object_set_new(r.out, "attacks", att0);
            st = ng_es_sn_attacks(c, r.train, single, base, &key1, att0);
            goto out;
        }
        if (normal_secs > 0) {
            json_object_set_new(r.out, "license_vs_normal_train_time", ng_json_num(secs_single[0] / normal_secs));
            printf("  license training time / normal training time: %.2f\n", secs_single[0] / normal_secs);
        }
        if (want(c, "replace") && (st = replacement(&r, single, sp, secs_single, r.out)) != NG_OK) goto out;
    }
    if (want(c, "blend")) {
        ng_license_spec_init(sp, NG_LICENSE_SINGLE);
        sp->deny_class = c->sn_deny_class;
        sp->stamp.mode = NG_STAMP_BLEND;
        ng_license_spec_shares(sp);
        if ((st = spec_keys(sp, c->seed + 1, 1, &all, r.train)) != NG_OK) goto out;
        if ((st = scheme(&r, sp, "single-blend", sch, &blend, secs)) != NG_OK) goto out;
    }
    uint64_t m8[8] = {all, all, all, all, all, all, all, all}, grant = low, tiers[3] = {all, low, all & ~low};
    if (want(c, "per-user")) {
        ng_license_spec_init(sp, NG_LICENSE_PER_USER);
        sp->deny_class = c->sn_deny_class;
        if ((st = spec_keys(sp, c->seed + 2, 8, m8, r.train)) != NG_OK) goto out;
        if ((st = scheme(&r, sp, "per-user", sch, NULL, secs)) != NG_OK) goto out;
    }
    if (want(c, "class-subset")) {
        ng_license_spec_init(sp, NG_LICENSE_CLASS_SUBSET);
        sp->deny_class = c->sn_deny_class;
        if ((st = spec_keys(sp, c->seed + 3, 1, &grant, r.train)) != NG_OK) goto out;
        if ((st = scheme(&r, sp, "class-subset", sch, NULL, secs)) != NG_OK) goto out;
    }
    if (want(c, "hierarchical")) {
        ng_license_spec_init(sp, NG_LICENSE_HIERARCHICAL);
        sp->deny_class = c->sn_deny_class;
        if ((st = spec_keys(sp, c->seed + 4, 3, tiers, r.train)) != NG_OK) goto out;
        if ((st = scheme(&r, sp, "hierarchical", sch, NULL, secs)) != NG_OK) goto out;
    }
    /* attacks on the single-key models */
    json_t *att = json_object(), *ft;
    json_object_set_new(r.out, "attacks", att);
    if (single && want(c, "finetune")) {
        const ng_dataset keep = c->train;
        c->train = *r.train;   /* the fine-tuning attacker draws its fractions from the same training set */
        st = ng_es_finetune(c, single, &ft);
        c->train = keep;
        json_object_set_new(att, "finetune_without_key", ft);
        if (st != NG_OK) goto out;
    }
    ng_stamp_options so = ng_stamp_options_default();
    if (single && want(c, "trigger") && (st = ng_es_sn_trigger(c, r.train, single, &so, "reverse_trigger_patch", att)) != NG_OK) goto out;
    so.mode = NG_STAMP_BLEND;
    if (blend && want(c, "trigger") && (st = ng_es_sn_trigger(c, r.train, blend, &so, "reverse_trigger_blend", att)) != NG_OK) goto out;
    if (single && want(c, "attacks") && (st = ng_es_sn_attacks(c, r.train, single, base, &key1, att)) != NG_OK) goto out;
    if (single && want(c, "bind")) {   /* the bound license: the same attackers on the bound files */
        ng_key kb;
        fixed_key(&kb, c->seed + 1, 0);   /* the blend model's key (spec_keys above) */
        json_t *bj = json_object();
        json_object_set_new(r.out, "bind", bj);
        const ng_dataset keep = c->train;
        c->train = *r.train;
        st = ng_es_sn_bind(c, r.train, single, &key1, blend, &kb, bj);
        c->train = keep;
        ng_key_wipe(&kb);
    }
out:
    ng_key_wipe(&key1);
    ng_model_free(base); ng_model_free(single); ng_model_free(blend);
    if (sp) ng_license_spec_wipe(sp);
    free(sp); free(res);
    ng_dataset_free(&sub);
    return st;
}

ng_status ng_es_securenet(ng_es_ctx *c, json_t *report)
{
    ng_status pst = check_parts(c->parts);
    if (pst != NG_OK) return pst;
    json_t *arr = json_array();
    json_object_set_new(report, "models", arr);
    if (c->parts) json_object_set_new(report, "parts", json_string(c->parts));
    json_object_set_new(report, "train_count", json_integer(c->train_count));
    json_object_set_new(report, "deny_class", json_integer(c->sn_deny_class));
    json_object_set_new(report, "schedule", json_string(ng_cli_sched_name(c->sn_sched)));
    for (int i = 0; i < c->n_archs; i++) {
        ng_status st = one_arch(c, c->archs[i], arr);
        if (st != NG_OK) return st;
    }
    return NG_OK;
}
