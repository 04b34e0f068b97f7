/* cli/report/report_html.c - report.html: one self-contained page (no script, no network, no
 * external font) from a results.json document: the run, the papers' figures beside ours, the
 * charts (report_svg.c), a table per scheme and every row. Readable on a phone, printable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "report_impl.h"

/* The table of each scheme: these metrics, in this order (the rest is in "every figure"). */
static const char *const summary[4][24] = {
    {"accuracy_original", "accuracy_unlocked", "accuracy_locked", "wrong_keys.mean", "wrong_keys.max",
     "finetune.accuracy_attacked", "finetune.accuracy_scratch", "parameters", "unlock_bit_exact",
     "throughput.lock_gb_s", "throughput.unlock_gb_s", "throughput.seal_gb_s", "throughput.unseal_gb_s",
     "throughput.memcpy_gb_s", NULL},
    {"accuracy_before", "accuracy_after", "finetune.accuracy_attacked", "finetune.accuracy_scratch", "prune.accuracy",
     "prune.accuracy_tuned", "adaptive.accuracy_reset", "adaptive.accuracy_tuned", "changed", "changed_fraction",
     "encrypt_seconds", "decrypt_bit_exact", NULL},
    {"normal.accuracy", "schemes.single.keys.key-0.accuracy", "schemes.single.no-key.accuracy",
     "schemes.single.random_keys_worst", "schemes.single.one_bit_keys_worst", "schemes.single-blend.keys.key-0.accuracy",
     "schemes.per-user.keys.key-0.accuracy", "schemes.per-user.random_keys_worst", "schemes.class-subset.keys.key-0.accuracy",
     "schemes.hierarchical.keys.master.accuracy", "schemes.hierarchical.keys.tier-1.accuracy",
     "replacement.new-key.accuracy", "replacement.old-key.accuracy", "attacks.finetune_without_key.accuracy_attacked",
     "attacks.finetune_without_key.accuracy_scratch", "attacks.reverse_trigger_patch.accuracy_after",
     "attacks.reverse_trigger_blend.accuracy_after", "license_vs_normal_train_time", "normal.train_seconds",
     "schemes.single.train_seconds", "replacement.cost_seconds_vs_license_training",
     "bind.single.finetune_without_key.accuracy_attacked", "bind.single.reverse_trigger_reinit.accuracy_after", NULL},
    {"api.accuracy_plain", "api.accuracy_soft", "api.accuracy_label", "api.labels_changed_label", "extraction.accuracy",
     "extraction.fidelity", "extraction.p_value", "label_mode.p_value", "independent.p_value", "false_positives.soft",
     "false_positives.label", "removal.accuracy", "removal.p_value", NULL},
};
static const char *const scheme_names[4] = {"deeplock", "advparams", "securenet", "dynamarks"};
static const char *const scheme_titles[4] = {"Deep-Lock (parameter locking)", "AdvParams (adversarial parameter perturbation)",
                                             "SecureNet (license key trained into the model)",
                                             "DynaMarks (watermarked prediction API)"};

static const ng_chart charts[] = {
    {"finetune", "Fine-tuning attack: accuracy against the attacker's data",
     "Each protected model fine-tuned without the key on a share of the training data, against training the same "
     "architecture from scratch on the same data for the same epochs (dashed). A scheme holds when its line stays at "
     "or under its dashed line.", "attacker's share of the training data", "test accuracy", "",
     {"finetune.accuracy_attacked", "finetune.accuracy_scratch", "attacks.finetune_without_key.accuracy_attacked",
      "attacks.finetune_without_key.accuracy_scratch", NULL}, "fraction", 0, 0, 1, 1, 0, 0, 1, 0, NULL},
    {"prune", "Pruning attack (AdvParams): accuracy against pruning rate",
     "Magnitude pruning of the encrypted model, alone and followed by a short fine-tune.", "share of weights pruned",
     "test accuracy", "", {"prune.accuracy", "prune.accuracy_tuned", NULL}, "rate", 0, 0, 1, 1, 0, 0, 1, 0, NULL},
    {"pvalue", "DynaMarks: verification p-value against the extraction query budget",
     "Surrogates extracted through the HTTP API with each query budget; lower is stronger evidence. Under the "
     "dashed line the verdict is \"stolen\".", "queries to the API", "p-value (log scale)", "",
     {"extraction.p_value", "label_mode.p_value", NULL}, "budget", 1, 1, 0, 0, 0, 1e-12, 1, 1e-6, "threshold 1e-6"},
    {"throughput", "Deep-Lock and seal: lock, unlock, seal and unseal throughput against memcpy",
     "The same 256 MiB in memory, best of three, in the same run: lock, unlock, seal and unseal on all cores, "
     "memcpy (the C library's, one call) as the reference for moving the bytes at all. Lock and "
     "unlock are Deep-Lock's cipher over the parameters; seal and unseal the authenticated encryption of a whole "
     "model (nnguard seal, AES-256-GCM with AES-NI) over the same bytes as one tensor.", "", "GB/s", "GB/s",
     {"throughput.lock_gb_s", "throughput.unlock_gb_s", "throughput.seal_gb_s", "throughput.unseal_gb_s",
      "throughput.memcpy_gb_s", NULL}, NULL, 0, 0, 0, 0, 1, 0, 1, 0, NULL},
};

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int is_pct(const char *metric)
{
    return (strstr(metric, "accuracy") || strstr(metric, "fidelity") || strstr(metric, "wrong_keys.m") ||
            strstr(metric, "keys_worst") || strstr(metric, "keys_mean")) && !strstr(metric, "seconds");
}

static void value(FILE *f, const char *metric, const json_t *v)
{
    if (!json_is_number(v)) { fputs("n/a", f); return; }
    double x = json_number_value(v);
    if (is_pct(metric)) fprintf(f, "%.2f%%", 100 * x);
    else if (strstr(metric, "p_value")) fprintf(f, "%.3g", x);
    else if (strstr(metric, "fraction")) fprintf(f, "%.5f%%", 100 * x);
    else if (x == floor(x) && fabs(x) < 1e15) fprintf(f, "%.0f", x);
    else fprintf(f, "%.3g", x);
}

static void setting(FILE *f, const json_t *s)
{
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)s, k, v) {
        fprintf(f, "%s", first ? "" : ", ");
        first = 0;
        esc(f, k);
        fputc('=', f);
        if (json_is_string(v)) esc(f, json_string_value(v));
        else if (!strcmp(k, "fraction") || !strcmp(k, "rate")) fprintf(f, "%g%%", 100 * json_number_value(v));
        else fprintf(f, "%g", json_number_value(v));
    }
}

static void row_html(FILE *f, const json_t *r)
{
    const char *m = json_string_value(json_object_get(r, "metric"));
    fputs("<tr><td>", f);
    esc(f, ng_report_metric_label(m));
    fputs("</td><td>", f);
    esc(f, json_string_value(json_object_get(r, "model")));
    fputs("</td><td>", f);
    setting(f, json_object_get(r, "setting"));
    fputs("</td><td class=\"num\">", f);
    value(f, m, json_object_get(r, "value"));
    fputs("</td></tr>\n", f);
}

static void scheme_section(FILE *f, const json_t *res, int k)
{
    const json_t *rows = json_object_get(res, "results");
    size_t i, n = 0;
    json_t *r;
    json_array_foreach(rows, i, r) n += !strcmp(json_string_value(json_object_get(r, "scheme")), scheme_names[k]);
    if (!n) return;
    const json_t *raw = json_object_get(json_object_get(res, "schemes"), scheme_names[k]);
    fprintf(f, "<section id=\"%s\"><h2>%s</h2>\n", scheme_names[k], scheme_titles[k]);
    if (json_is_number(json_object_get(raw, "wall_seconds")))
        fprintf(f, "<p class=\"meta\">%zu figures, %.0f s of this run.</p>\n", n, json_number_value(json_object_get(raw, "wall_seconds")));
    fputs("<div class=\"scroll\"><table><thead><tr><th>quantity</th><th>model</th><th>setting</th><th>value</th></tr>"
          "</thead><tbody>\n", f);
    for (int m = 0; summary[k][m]; m++)
        json_array_foreach(rows, i, r)
            if (!strcmp(json_string_value(json_object_get(r, "scheme")), scheme_names[k]) &&
                !strcmp(json_string_value(json_object_get(r, "metric")), summary[k][m]))
                row_html(f, r);
    fputs("</tbody></table></div>\n", f);
    fprintf(f, "<details><summary>every figure of %s (%zu rows)</summary><div class=\"scroll\"><table><thead><tr>"
            "<th>metric</th><th>model</th><th>setting</th><th>value</th></tr></thead><tbody>\n", scheme_names[k], n);
    json_array_foreach(rows, i, r)
        if (!strcmp(json_string_value(json_object_get(r, "scheme")), scheme_names[k])) row_html(f, r);
    fputs("</tbody></table></div></details></section>\n", f);
}

static void paper_section(FILE *f, const json_t *res)
{
    const json_t *p = json_object_get(res, "paper");
    fputs("<section id=\"papers\"><h2>The papers' figures beside ours</h2>\n<div class=\"scroll\"><table><thead><tr>"
          "<th>scheme</th><th>quantity</th><th>paper</th><th>ours</th><th>difference</th><th>setting</th><th>source</th>"
          "</tr></thead><tbody>\n", f);
    size_t i;
    json_t *e;
    json_array_foreach(p, i, e) {
        const char *unit = json_string_value(json_object_get(e, "unit"));
        int pct = !strcmp(unit, "accuracy") || !strcmp(unit, "points");
        fputs("<tr><td>", f);
        esc(f, json_string_value(json_object_get(e, "scheme")));
        fputs("</td><td>", f);
        esc(f, json_string_value(json_object_get(e, "quantity")));
        fputs("</td><td>", f);
        esc(f, json_string_value(json_object_get(e, "paper_text")));
        double o = json_number_value(json_object_get(e, "ours"));
        const json_t *d = json_object_get(e, "difference");
        if (pct) fprintf(f, "</td><td class=\"num\">%.2f%s", 100 * o, !strcmp(unit, "points") ? " pts" : "%");
        else if (!strcmp(unit, "share")) fprintf(f, "</td><td class=\"num\">%.6f%%", 100 * o);
        else fprintf(f, "</td><td class=\"num\">%.3g", o);
        if (!json_is_number(d)) fputs("</td><td class=\"num\">n/a", f);
        else if (pct) fprintf(f, "</td><td class=\"num\">%+.2f pts", 100 * json_number_value(d));
        else if (!strcmp(unit, "share")) fprintf(f, "</td><td class=\"num\">%+.6f%%", 100 * json_number_value(d));
        else fprintf(f, "</td><td class=\"num\">%+.3g", json_number_value(d));
        fputs("</td><td>", f);
        esc(f, json_string_value(json_object_get(e, "setting")));
        fputs("</td><td>", f);
        esc(f, json_string_value(json_object_get(e, "source")));
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div></section>\n", f);
}

static const char css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1100px;"
    "padding:0 12px 40px;color:#222}h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}"
    ".meta{color:#555}.quick{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px}"
    "table{border-collapse:collapse;width:100%;font-size:.92em}th,td{border-bottom:1px solid #e4e4e4;padding:4px 8px;"
    "text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "th{background:#f4f4f4}.scroll{overflow-x:auto}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}"
    "dt{font-weight:600}dd{margin:0;word-break:break-word}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}"
    "figure{margin:0}svg.chart{width:100%;height:auto;background:#fff}figcaption{font-size:.88em;color:#444}"
    "svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#222}svg .title{font-size:14px;font-weight:600;"
    "text-anchor:middle}svg .ytick{text-anchor:end}svg .xtick,svg .xlabel,svg .ylabel,svg .val,svg .empty{text-anchor:middle}"
    "svg .thr{text-anchor:end;fill:#a00}svg .axis{stroke:#333}svg .grid{stroke:#e6e6e6}svg .tick{stroke:#333}"
    "svg .threshold{stroke:#a00;stroke-dasharray:4 3}"
    "@media (max-width:600px){body{font-size:14px}.charts{grid-template-columns:1fr}td,th{padding:3px 4px}"
    ".scroll table{min-width:600px}}"
    "@media print{body{max-width:none;font-size:11px}details{display:none}.charts{grid-template-columns:1fr 1fr}"
    "figure,tr{break-inside:avoid}h2{break-after:avoid}}";

static void run_info(FILE *f, const json_t *res)
{
    const json_t *m = json_object_get(res, "machine"), *l = json_object_get(m, "load"), *le = json_object_get(m, "load_end");
    fputs("<dl>\n<dt>date</dt><dd>", f);
    esc(f, json_string_value(json_object_get(res, "started")));
    fputs("</dd>\n<dt>command</dt><dd><code>", f);
    esc(f, json_string_value(json_object_get(res, "command")));
    fputs("</code></dd>\n<dt>nnguard</dt><dd>", f);
    esc(f, json_string_value(json_object_get(res, "nnguard_version")));
    fputs("</dd>\n<dt>machine</dt><dd>", f);
    esc(f, json_string_value(json_object_get(m, "cpu")));
    fprintf(f, ", %lld cores, %.1f GB; ", (long long)json_integer_value(json_object_get(m, "cores")),
            json_number_value(json_object_get(m, "memory_gb")));
    esc(f, json_string_value(json_object_get(m, "system")));
    fprintf(f, "</dd>\n<dt>load average</dt><dd>%.2f at the start, %.2f at the end (1 min)</dd>\n",
            json_number_value(json_array_get(l, 0)), json_number_value(json_array_get(le, 0)));
    fprintf(f, "<dt>wall time</dt><dd>%.0f s (%.1f min)</dd>\n<dt>data</dt><dd>",
            json_number_value(json_object_get(res, "wall_seconds")), json_number_value(json_object_get(res, "wall_seconds")) / 60);
    esc(f, json_string_value(json_object_get(res, "data")));
    const json_t *s = json_object_get(res, "settings");
    fprintf(f, ": %lld training images, %lld test images; %lld training epochs",
            (long long)json_integer_value(json_object_get(s, "train_images")),
            (long long)json_integer_value(json_object_get(s, "test_images")),
            (long long)json_integer_value(json_object_get(s, "train_epochs")));
    if (json_is_integer(json_object_get(s, "securenet_train_epochs")))
        fprintf(f, " (SecureNet %lld)", (long long)json_integer_value(json_object_get(s, "securenet_train_epochs")));
    fprintf(f, ", %lld attack epochs; seed %lld</dd>\n</dl>\n",
            (long long)json_integer_value(json_object_get(s, "attack_epochs")),
            (long long)json_integer_value(json_object_get(res, "seed")));
}

ng_status ng_report_html_write(const json_t *res, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return ng_fail(NG_E_NOMEM, "out of memory");
    int quick = json_is_true(json_object_get(res, "quick"));
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" "
            "content=\"width=device-width,initial-scale=1\">\n<title>nnguard evaluation%s</title>\n<style>%s</style>\n"
            "</head><body>\n<h1>nnguard: every scheme under the same attacks%s</h1>\n", quick ? " (quick)" : "", css,
            quick ? " (quick run)" : "");
    if (quick)
        fputs("<p class=\"quick\">A <b>quick</b> run: a subset of the training data, fewer epochs and smaller budgets. "
              "Its figures show the shape of each result, not the full run's values.</p>\n", f);
    run_info(f, res);
    fputs("<nav>Sections: <a href=\"#papers\">papers beside ours</a> · <a href=\"#charts\">charts</a>", f);
    for (int k = 0; k < 4; k++) fprintf(f, " · <a href=\"#%s\">%s</a>", scheme_names[k], scheme_names[k]);
    fputs("</nav>\n", f);
    paper_section(f, res);
    fputs("<section id=\"charts\"><h2>Charts</h2><div class=\"charts\">\n", f);
    for (size_t c = 0; c < sizeof charts / sizeof charts[0]; c++) ng_report_chart(f, json_object_get(res, "results"), &charts[c]);
    fputs("</div></section>\n", f);
    for (int k = 0; k < 4; k++) scheme_section(f, res, k);
    fputs("<footer class=\"meta\"><p>Written by <code>nnguard evaluate</code> from results.json (schema ", f);
    esc(f, json_string_value(json_object_get(res, "schema")));
    fputs("). Accuracies are on the test split; every figure's seed is in results.json.</p></footer>\n</body></html>\n", f);
    if (fclose(f) != 0) { free(buf); return ng_fail(NG_E_NOMEM, "out of memory writing the report"); }
    ng_status st = ng_write_file_atomic(path, buf, len, NG_MODE_PUBLIC);
    free(buf);
    return st;
}
