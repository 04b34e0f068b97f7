/* cli/report/results.h - `nnguard evaluate`'s results.json and report.html.
 *
 * results.json (schema "nnguard-results/1"), one file for every scheme:
 *   {
 *     "schema": "nnguard-results/1", "nnguard_version": "0.1.0",
 *     "command": "nnguard evaluate --quick --out DIR",   the command line that made it
 *     "quick": true, "started": "2026-12-02T14:40:00Z", "wall_seconds": 301.2,
 *     "machine": {"system", "cpu", "cores", "memory_gb", "load_start": [1,5,15 min], "load_end": [...]},
 *     "data": "/usr/share/datasets/fashion-mnist", "seed": 0,
 *     "settings": {"train_images", "test_images", "train_epochs", "attack_epochs", ...},
 *     "results": [ one row per figure:
 *       {"scheme": "deeplock", "model": "lenet5", "setting": {"fraction": 0.01, "epochs": 2},
 *        "metric": "finetune.accuracy_attacked", "value": 0.41, "seed": 0} ],
 *     "paper": [ the papers' reported figures beside ours:
 *       {"scheme", "quantity", "paper", "paper_text", "ours", "difference", "unit", "setting", "source"} ],
 *     "schemes": {"deeplock": {"wall_seconds": 61.2, "report": { eval-scheme's JSON report }}, ...}
 *   }
 * Rows: every number of a scheme's eval-scheme report, flattened (results_flatten). A metric is
 * the path of object keys ("wrong_keys.mean"); an array of objects adds each element's identifying
 * fields (fraction, rate, budget, model, mode, form, ...) to the row's setting, and so do a nested
 * object's (label_mode's budget); an array of
 * per-epoch figures (accuracy_attacked, ...) gives its last epoch with setting.epochs; other number
 * arrays (per class, tau) stay in the raw report only. Accuracies are fractions in [0, 1]. The
 * command, version and machine of every row are the file's top-level fields. */
#ifndef NG_REPORT_RESULTS_H
#define NG_REPORT_RESULTS_H
#include <jansson.h>
#include "nnguard/status.h"

/* Append scheme's rows, flattened from its eval-scheme report, to the array rows. */
void ng_results_flatten(json_t *rows, const char *scheme, const json_t *report, long long seed);
/* The machine: {"system", "cpu", "cores", "memory_gb", "load": [1, 5, 15 min]} (new reference). */
json_t *ng_results_machine(void);
/* Fill results["paper"] from its rows: the papers' figures (SCHEMES.md) beside ours. */
void ng_results_paper(json_t *results);
/* Write report.html for results (a results.json document) to path, atomically. */
ng_status ng_report_html_write(const json_t *results, const char *path);
#endif
