/* cli/report/labels.c - the words a person reads for each metric of results.json (the tables and
 * the charts both use them: report_html.c and report_svg.c). */
#include <string.h>
#include "report_impl.h"

static const struct { const char *metric, *label; } labels[] = {
    {"accuracy_original", "original model"}, {"accuracy_unlocked", "with the key"},
    {"accuracy_locked", "without the key (locked)"}, {"wrong_keys.mean", "random wrong keys, mean"},
    {"wrong_keys.max", "random wrong keys, best"}, {"unlock_bit_exact", "unlock bit-exact (1 = yes)"},
    {"parameters", "parameters changed (all)"},
    {"finetune.accuracy_attacked", "fine-tuned without the key"}, {"finetune.accuracy_scratch", "from scratch, same data"},
    {"finetune.accuracy_sanity", "same attack on a fresh model"},
    {"throughput.lock_gb_s", "lock GB/s"}, {"throughput.unlock_gb_s", "unlock GB/s (once, at load)"},
    {"throughput.seal_gb_s", "seal GB/s"}, {"throughput.unseal_gb_s", "unseal GB/s (once, at load)"},
    {"throughput.memcpy_gb_s", "memcpy GB/s"},
    {"accuracy_before", "original = with the key"}, {"accuracy_after", "without the key"},
    {"changed", "parameters changed"}, {"changed_fraction", "share of parameters changed"},
    {"encrypt_seconds", "encryption time (s)"}, {"decrypt_bit_exact", "decrypt bit-exact (1 = yes)"},
    {"prune.accuracy", "pruned"}, {"prune.accuracy_tuned", "pruned + fine-tuned"},
    {"adaptive.accuracy_reset", "adaptive attack, after reset"}, {"adaptive.accuracy_tuned", "adaptive attack, fine-tuned"},
    {"normal.accuracy", "unprotected model"}, {"normal.train_seconds", "normal training (s)"},
    {"schemes.single.keys.key-0.accuracy", "single: with the key"}, {"schemes.single.no-key.accuracy", "single: without key"},
    {"schemes.single.random_keys_worst", "single: best of random keys"},
    {"schemes.single.one_bit_keys_worst", "single: best key one bit away"},
    {"schemes.single.train_seconds", "single: license training (s)"},
    {"schemes.single-blend.keys.key-0.accuracy", "single (blend stamp): with the key"},
    {"schemes.per-user.keys.key-0.accuracy", "per-user: user 0's key"},
    {"schemes.per-user.random_keys_worst", "per-user: best of random keys"},
    {"schemes.class-subset.keys.key-0.accuracy", "class-subset: key (5 classes granted)"},
    {"schemes.hierarchical.keys.master.accuracy", "hierarchical: master key"},
    {"schemes.hierarchical.keys.tier-1.accuracy", "hierarchical: tier-1 key"},
    {"license_vs_normal_train_time", "cost: license / normal training time"},
    {"replacement.new-key.accuracy", "key replaced: new key"}, {"replacement.old-key.accuracy", "key replaced: old key"},
    {"replacement.cost_seconds_vs_license_training", "key replacement cost / license training"},
    {"attacks.finetune_without_key.accuracy_attacked", "fine-tuned without the key"},
    {"attacks.finetune_without_key.accuracy_scratch", "from scratch, same data"},
    {"attacks.reverse_trigger_patch.accuracy_after", "reverse-engineered trigger (patch)"},
    {"attacks.reverse_trigger_blend.accuracy_after", "reverse-engineered trigger (blend)"},
    {"bind.single.finetune_without_key.accuracy_attacked", "bound license: fine-tuned without the key"},
    {"bind.single.finetune_without_key.accuracy_scratch", "bound license: from scratch, same data"},
    {"bind.single.reverse_trigger_reinit.accuracy_after", "bound license: reverse-engineered trigger (patch)"},
    {"bind.single.unlock_ms_per_load", "bound license: unlock per load (ms)"},
    {"api.accuracy_plain", "API without watermark"}, {"api.accuracy_soft", "API, soft watermark"},
    {"api.accuracy_label", "API, label watermark"}, {"api.labels_changed_label", "labels changed (label mode)"},
    {"extraction.accuracy", "surrogate accuracy"}, {"extraction.fidelity", "surrogate fidelity"},
    {"extraction.p_value", "verification p-value"}, {"label_mode.p_value", "label-mode p-value"},
    {"independent.p_value", "independent model p-value"}, {"false_positives.soft", "false positives (soft)"},
    {"false_positives.label", "false positives (label)"},
    {"removal.p_value", "after removal attack: p-value"}, {"removal.accuracy", "after removal attack: accuracy"},
};

const char *ng_report_metric_label(const char *metric)
{
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strcmp(labels[i].metric, metric)) return labels[i].label;
    return metric;
}
