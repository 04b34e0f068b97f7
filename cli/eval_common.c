/* cli/eval_common.c - what every scheme's evaluation shares: the base model (--model, or one
 * trained and saved in the workdir) and the fine-tuning table (the protected model fine-tuned on
 * fractions of the data beside training from scratch). Called by eval_<scheme>.c; calls nothing
 * of eval-scheme's own, so the evaluation code has no circle. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "json_num.h"
#include "cli.h"
#include "core/core.h"
#include "eval_scheme.h"
#include "nnguard/advparams.h"
#include "nnguard/deeplock.h"

ng_status ng_es_base_model(ng_es_ctx *c, const char *arch, ng_model **m, char **path)
{
    ng_status st;
    if (c->model) {
        if ((st = ng_model_load(c->model, m)) != NG_OK) return st;
        *path = ng_strdup(c->model);
        return *path ? NG_OK : NG_E_NOMEM;
    }
    size_t n = strlen(c->workdir) + strlen(arch) + 32;
    *path = malloc(n);
    if (!*path) return ng_fail(NG_E_NOMEM, "out of memory");
    snprintf(*path, n, "%s/%s.onnx", c->workdir, arch);
    if ((st = ng_model_from_arch(arch, c->train.c, c->train.h, c->train.w, c->train.classes, c->seed, m)) != NG_OK)
        goto fail;
    ng_train_options to = ng_train_options_default();
    ng_train_result *r = calloc(1, sizeof *r);
    if (!r) { st = NG_E_NOMEM; goto fail; }
    to.epochs = c->train_epochs;
    to.seed = c->seed;
    to.threads = c->threads;
    fprintf(stderr, "training %s for %d epochs on %s ...\n", arch, c->train_epochs, c->data);
    st = ng_train(*m, &c->train, NULL, &to, r);
    free(r);
    if (st == NG_OK) st = ng_model_save_onnx(*m, *path);
    if (st == NG_OK) return NG_OK;
fail:
    ng_model_free(*m);
    *m = NULL;
    free(*path);
    *path = NULL;
    return st;
}

ng_status ng_es_finetune(ng_es_ctx *c, const ng_model *victim, json_t **out)
{
    *out = json_array();
    printf("  fine-tuning attack (%d epochs; out-of-distribution parameters re-initialised as a fresh layer would be): "
           "accuracy, attacked model vs from scratch%s\n", c->attack_epochs,
           c->ft_sanity ? " vs the same attack on an all-fresh model (sanity)" : "");
    for (int f = 0; f < c->n_fractions; f++) {
        ng_finetune_options o = ng_finetune_options_default();
        o.fraction = c->fractions[f];
        o.epochs = c->attack_epochs;
        o.seed = c->seed + 1000 + (uint64_t)f;
        o.threads = c->threads;
        o.sanity = c->ft_sanity;
        ng_finetune_result *r = calloc(1, sizeof *r);
        if (!r) return NG_E_NOMEM;
        ng_status st = ng_attack_finetune(victim, &c->train, &c->test, &o, r);
        if (st != NG_OK) { free(r); return st; }
        json_t *row = json_object(), *att = json_array(), *scr = json_array(), *san = json_array(), *loss = json_array();
        printf("    %5.1f%% of the data (%6lld images):", 100 * c->fractions[f], (long long)r->n_train);
        for (int e = 0; e < r->epochs; e++) {
            json_array_append_new(att, ng_json_num(r->acc_attacked[e]));
            json_array_append_new(scr, ng_json_num(r->acc_scratch[e]));
            json_array_append_new(san, ng_json_num(r->acc_sanity[e]));
            json_array_append_new(loss, ng_json_num(r->loss_attacked[e]));
        }
        int L = r->epochs - 1;
        printf(" attacked %6.2f%% (loss %.2f -> %.2f)  scratch %6.2f%%", 100 * r->acc_attacked[L], r->loss_before,
               r->loss_attacked[L], 100 * r->acc_scratch[L]);
        if (c->ft_sanity) printf("  sanity %6.2f%%", 100 * r->acc_sanity[L]);
        printf("  (last epoch)\n");
        json_object_set_new(row, "fraction", ng_json_num(c->fractions[f]));
        json_object_set_new(row, "train_examples", json_integer(r->n_train));
        json_object_set_new(row, "params_reinitialised", json_integer(r->n_sanitized));
        json_object_set_new(row, "loss_before", ng_json_num(r->loss_before));
        json_object_set_new(row, "loss_attacked", loss);
        json_object_set_new(row, "accuracy_attacked", att);
        json_object_set_new(row, "accuracy_scratch", scr);
        if (c->ft_sanity) json_object_set_new(row, "accuracy_sanity", san);
        else json_decref(san);
        json_array_append_new(*out, row);
        free(r);
    }
    return NG_OK;
}
