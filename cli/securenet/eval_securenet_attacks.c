/* cli/securenet/eval_securenet_attacks.c - the rows of `nnguard eval-scheme securenet` for the
 * attacks on the input side and the key holder's defences, on the single-key (patch) model:
 * FGSM and PGD-10 at eps 0.05 and 0.1 crafted with the key (through the stamp) and without it (on
 * the bare model), both fed to the keyed pipeline, beside the normally trained model (when given);
 * a BadNets backdoor (10% of the training data, 10% poisoned, target class 7, 5 epochs) by an
 * outsider (no key) and an insider (stamps with the key); adversarial fine-tuning with the key
 * (20% of the data, 3 epochs, PGD-5 eps 0.1) and clean license fine-tuning of the insider's model
 * (the backdoor removal step), each measured before and after. */
#include <stdlib.h>
#include <string.h>
#include "json_num.h"
#include "cli.h"
#include "eval_scheme.h"
#include "core/core.h"

#define SN_BD_TARGET 7

static json_t *advj(const ng_advex_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "success_rate", ng_json_num(r->success));
    json_object_set_new(o, "flipped", json_integer(r->flipped));
    json_object_set_new(o, "correct", json_integer(r->correct));
    json_object_set_new(o, "accuracy_adversarial", ng_json_num(r->acc_adv));
    return o;
}

/* FGSM and PGD-10 at eps 0.05, 0.1: crafted with and without the key on m (and on base, unstamped). */
static ng_status adversarial(ng_es_ctx *c, ng_model *m, ng_model *base, const ng_stamper *s, json_t *out)
{
    static const float eps[2] = {0.05f, 0.1f};
    json_t *arr = json_array();
    json_object_set_new(out, "adversarial", arr);
    printf("  adversarial examples on %lld test images (success: share of correctly classified images flipped):\n",
           (long long)c->test.n);
    printf("      attack        eps   key known   key unknown   normal model\n");
    for (int e = 0; e < 2; e++)
        for (int pgd = 0; pgd < 2; pgd++) {
            ng_advex_options o = ng_advex_options_default();
            o.eps = eps[e];
            o.steps = pgd ? 10 : 1;
            o.seed = c->seed;
            o.threads = c->threads;
            ng_advex_result k, u, b = {0};
            ng_status st = ng_attack_adversarial(m, &c->test, s, s, &o, &k);
            if (st == NG_OK) st = ng_attack_adversarial(m, &c->test, s, NULL, &o, &u);
            if (st == NG_OK && base) st = ng_attack_adversarial(base, &c->test, NULL, NULL, &o, &b);
            if (st != NG_OK) return st;
            json_t *j = json_object();
            json_object_set_new(j, "attack", json_string(pgd ? "pgd" : "fgsm"));
            json_object_set_new(j, "steps", json_integer(o.steps));
            json_object_set_new(j, "eps", ng_json_num(o.eps));
            json_object_set_new(j, "key_known", advj(&k));
            json_object_set_new(j, "key_unknown", advj(&u));
            if (base) json_object_set_new(j, "normal_model", advj(&b));
            json_array_append_new(arr, j);
            printf("      %-10s  %5.2f   %8.2f%%   %10.2f%%", pgd ? "PGD-10" : "FGSM", o.eps, 100 * k.success,
                   100 * u.success);
            if (base) printf("   %10.2f%%", 100 * b.success);
            printf("\n");
        }
    return NG_OK;
}

static json_t *bdj(const ng_backdoor_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "attacker_examples", json_integer(r->n_train));
    json_object_set_new(o, "poisoned", json_integer(r->n_poison));
    json_object_set_new(o, "success_without_key", ng_json_num(r->asr_nokey));
    json_object_set_new(o, "success_with_key", ng_json_num(r->asr_key));
    json_object_set_new(o, "clean_without_key", ng_json_num(r->clean_nokey));
    json_object_set_new(o, "clean_with_key", ng_json_num(r->clean_key));
    json_object_set_new(o, "success_with_key_before", ng_json_num(r->asr_before_key));
    json_object_set_new(o, "clean_with_key_before", ng_json_num(r->clean_before_key));
    return o;
}

typedef struct dfig { double key, none, fgsm, pgd, bd; } dfig;

static ng_status dmeasure(ng_es_ctx *c, ng_model *m, const ng_stamper *s, const ng_stamp_options *so, dfig *f)
{
    ng_advex_options o = ng_advex_options_default();
    o.seed = c->seed;
    o.threads = c->threads;
    ng_advex_result r;
    double clean;
    ng_status st = ng_license_evaluate(m, so, NULL, NULL, &c->test, 0, c->threads, &f->none, NULL);
    if (st == NG_OK && (st = ng_attack_adversarial(m, &c->test, s, s, &o, &r)) == NG_OK) { f->fgsm = r.success; f->key = r.acc_clean; }
    o.steps = 10;
    if (st == NG_OK && (st = ng_attack_adversarial(m, &c->test, s, s, &o, &r)) == NG_OK) f->pgd = r.success;
    if (st == NG_OK) st = ng_backdoor_measure(m, &c->test, s, SN_BD_TARGET, 3, c->threads, &f->bd, &clean);
    return st;
}

static json_t *dj(const dfig *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "accuracy_key", ng_json_num(f->key));
    json_object_set_new(o, "accuracy_no_key", ng_json_num(f->none));
    json_object_set_new(o, "fgsm_success_key_known", ng_json_num(f->fgsm));
    json_object_set_new(o, "pgd10_success_key_known", ng_json_num(f->pgd));
    json_object_set_new(o, "backdoor_success_with_key", ng_json_num(f->bd));
    return o;
}

/* Fine-tune a copy of m with the key (p_adv: adversarial share), before/after figures into out[name]. */
static ng_status defend(ng_es_ctx *c, const ng_dataset *train, ng_model *m, const ng_key *key, const ng_stamper *s,
                        const ng_stamp_options *so, double p_adv, const char *name, json_t *out)
{
    ng_model *h = NULL;
    ng_dataset sub = {0};
    dfig b, a;
    ng_status st = ng_model_clone(m, &h);
    if (st == NG_OK) st = ng_dataset_subset(train, 0.2, 0, c->seed + 41, &sub);
    if (st == NG_OK) st = dmeasure(c, h, s, so, &b);
    ng_harden_options ho = ng_harden_options_default();
    ho.p_adv = p_adv;
    ho.adv.threads = c->threads;
    ng_train_options o = ng_train_options_default();
    o.epochs = 3;
    o.seed = c->seed;
    o.threads = c->threads;
    o.quiet = 1;
    ng_train_result *res = calloc(1, sizeof *res);
    double secs = 0;
    if (st == NG_OK && !res) st = NG_E_NOMEM;
    if (st == NG_OK) {
        double t0 = ng_now();
        st = ng_defend_license_finetune(h, key, &sub, &ho, &o, res);
        secs = ng_now() - t0;
    }
    if (st == NG_OK) st = dmeasure(c, h, s, so, &a);
    if (st == NG_OK) {
        json_t *j = json_object();
        json_object_set_new(j, "examples", json_integer(sub.n));
        json_object_set_new(j, "epochs", json_integer(o.epochs));
        json_object_set_new(j, "adversarial_share_of_keyed", ng_json_num(p_adv));
        json_object_set_new(j, "seconds", ng_json_num(secs));
        json_object_set_new(j, "before", dj(&b));
        json_object_set_new(j, "after", dj(&a));
        json_object_set_new(out, name, j);
        printf("  defence: %s (%lld images, %d epochs, %.1f s), before -> after:\n"
               "      with key %.2f%% -> %.2f%%, no key %.2f%% -> %.2f%%, FGSM (key known) %.2f%% -> %.2f%%, "
               "PGD-10 %.2f%% -> %.2f%%, backdoor with key %.2f%% -> %.2f%%\n", name, (long long)sub.n, o.epochs,
               secs, 100 * b.key, 100 * a.key, 100 * b.none, 100 * a.none, 100 * b.fgsm, 100 * a.fgsm, 100 * b.pgd,
               100 * a.pgd, 100 * b.bd, 100 * a.bd);
    }
    free(res);
    ng_model_free(h);
    ng_dataset_free(&sub);
    return st;
}

ng_status ng_es_sn_attacks(ng_es_ctx *c, const ng_dataset *train, ng_model *single, ng_model *base,
                           const ng_key *key, json_t *att)
{
    ng_stamp_options so;
    ng_stamper *s = NULL;
    ng_model *insider = NULL;
    ng_status st = ng_license_stamp_options(single, &so);
    if (st == NG_OK) st = ng_stamper_new(key, &so, train->c, train->h, train->w, &s);
    if (st == NG_OK) st = adversarial(c, single, base, s, att);
    json_t *bd = json_object();
    json_object_set_new(att, "backdoor", bd);
    ng_backdoor_options bo = ng_backdoor_options_default();
    bo.target = SN_BD_TARGET;
    bo.seed = c->seed;
    bo.threads = c->threads;
    json_object_set_new(bd, "poison", ng_json_num(bo.poison));
    json_object_set_new(bd, "target", json_integer(bo.target));
    json_object_set_new(bd, "fraction", ng_json_num(bo.fraction));
    json_object_set_new(bd, "epochs", json_integer(bo.epochs));
    if (st == NG_OK)
        printf("  BadNets backdoor (%.0f%% of the data, %.0f%% poisoned -> class %d, %d epochs): success (triggered "
               "images labelled %d) / clean accuracy\n", 100 * bo.fraction, 100 * bo.poison, bo.target, bo.epochs,
               bo.target);
    for (int in = 0; in < 2 && st == NG_OK; in++) {
        ng_backdoor_result r;
        ng_model *out = NULL;
        if ((st = ng_attack_backdoor(single, train, &c->test, in ? s : NULL, s, &bo, &r, &out)) != NG_OK) break;
        json_object_set_new(bd, in ? "insider" : "outsider", bdj(&r));
        printf("      %-8s without key: success %6.2f%%, clean %6.2f%%   with key: success %6.2f%% (before %.2f%%), "
               "clean %6.2f%% (before %.2f%%)\n", in ? "insider" : "outsider", 100 * r.asr_nokey, 100 * r.clean_nokey,
               100 * r.asr_key, 100 * r.asr_before_key, 100 * r.clean_key, 100 * r.clean_before_key);
        if (in) insider = out;
        else ng_model_free(out);
    }
    json_t *df = json_object();
    json_object_set_new(att, "defences", df);
    if (st == NG_OK) st = defend(c, train, single, key, s, &so, 0.5, "adversarial_finetune_with_key", df);
    if (st == NG_OK) st = defend(c, train, insider, key, s, &so, 0, "clean_finetune_of_insider_backdoor", df);
    ng_model_free(insider);
    ng_stamper_free(s);
    return st;
}
