/* cli/eval_scheme_run.c - what `nnguard eval-scheme` and `nnguard evaluate` share: the schemes,
 * their default budgets, the data and the dispatch to each scheme's evaluation (cli/<scheme>/eval_*.c). */
#include <string.h>
#include "cli.h"
#include "eval_scheme.h"

const char *const ng_es_schemes[] = {"deeplock", "advparams", "securenet", "dynamarks", NULL};

int ng_es_scheme_index(const char *name)
{
    for (int i = 0; ng_es_schemes[i]; i++)
        if (!strcmp(name, ng_es_schemes[i])) return i;
    return -1;
}

void ng_es_defaults(ng_es_ctx *c, const char *scheme)
{
    memset(c, 0, sizeof *c);
    c->data = NG_DEFAULT_DATA_DIR;
    c->workdir = "nnguard-eval";
    c->train_epochs = 5; c->attack_epochs = 5; c->prune_epochs = 1; c->trials = 100; c->budget = 0;
    c->fractions[0] = 0.01; c->fractions[1] = 0.05; c->fractions[2] = 0.1; c->n_fractions = 3;
    for (int i = 0; i < 5; i++) c->rates[i] = 0.1 + 0.2 * i;
    c->n_rates = 5;
    c->archs[0] = "lenet5"; c->n_archs = 1;
    c->budgets[0] = 1000; c->budgets[1] = 5000; c->budgets[2] = 20000; c->n_budgets = 3;
    c->independent = 12; c->surrogate_arch = "mlp"; c->wm_rate = 0.005;
    if (!strcmp(scheme, "dynamarks")) c->attack_epochs = 2;
    if (!strcmp(scheme, "advparams")) { c->archs[1] = "vgg-small"; c->n_archs = 2; }
}

ng_status ng_es_load_data(ng_es_ctx *c)
{
    ng_dataset full;
    ng_status st = ng_dataset_load_dir(c->data, NG_SPLIT_TRAIN, &c->train);
    if (st != NG_OK) return st;
    if ((st = ng_dataset_load_dir(c->data, NG_SPLIT_TEST, &full)) != NG_OK) { ng_dataset_free(&c->train); return st; }
    st = ng_dataset_head(&full, c->limit, &c->test);
    ng_dataset_free(&full);
    if (st != NG_OK) ng_dataset_free(&c->train);
    return st;
}

ng_status ng_es_run(ng_es_ctx *c, const char *scheme, json_t *report)
{
    json_object_set_new(report, "scheme", json_string(scheme));
    json_object_set_new(report, "data", json_string(c->data));
    json_object_set_new(report, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(report, "test_images", json_integer(c->test.n));
    json_object_set_new(report, "train_images", json_integer(c->train.n));
    switch (ng_es_scheme_index(scheme)) {
    case 0: return ng_es_deeplock(c, report);
    case 1: return ng_es_advparams(c, report);
    case 2: return ng_es_securenet(c, report);
    case 3: return ng_es_dynamarks(c, report);
    default: return ng_fail(NG_E_INVALID, "unknown scheme '%s' (deeplock, advparams, securenet, dynamarks)", scheme);
    }
}
