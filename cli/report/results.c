/* cli/report/results.c - results.json: eval-scheme reports flattened to one row per figure, the
 * machine they ran on, and the papers' figures beside ours (format: results.h). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "json_num.h"
#include "results.h"

/* Fields of an array element that say which one it is: they go to the row's setting. */
static const char *const ident[] = {"fraction", "rate", "budget", "model", "mode", "form", "changed", "seed",
                                    "detector", "arch", "stamp", NULL};
/* Per-epoch arrays: the row is the last epoch. */
static const char *const per_epoch[] = {"accuracy_attacked", "accuracy_scratch", "accuracy_sanity", "loss_attacked", NULL};

static int in(const char *const *list, const char *k)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], k)) return 1;
    return 0;
}

typedef struct flat {
    json_t *rows;
    const char *scheme;
    long long seed;
} flat;

static void row(const flat *f, const char *model, const json_t *setting, const char *metric, const json_t *jv)
{
    if (!json_is_number(jv) && !json_is_boolean(jv)) return;   /* null: a NaN the run wrote, not a 0 */
    double v = json_is_boolean(jv) ? json_is_true(jv) : json_number_value(jv);
    json_t *r = json_object();
    json_object_set_new(r, "scheme", json_string(f->scheme));
    json_object_set_new(r, "model", json_string(model));
    json_object_set_new(r, "setting", json_deep_copy(setting));
    json_object_set_new(r, "metric", json_string(metric));
    json_object_set_new(r, "value", json_is_integer(jv) ? json_integer(json_integer_value(jv))
                                  : json_is_boolean(jv) ? json_integer(json_is_true(jv)) : ng_json_num(v));
    json_object_set_new(r, "seed", json_integer(f->seed));
    json_array_append_new(f->rows, r);
}

static void walk(const flat *f, const char *model, const json_t *o, const char *path, const json_t *setting);

static void walk_array(const flat *f, const char *model, const json_t *a, const char *path, const char *key,
                       const json_t *setting)
{
    size_t n = json_array_size(a);
    if (!n) return;
    if (json_is_number(json_array_get(a, 0))) {
        if (!in(per_epoch, key)) return;   /* per class, tau, ...: raw report only */
        json_t *s = json_deep_copy(setting);
        json_object_set_new(s, "epochs", json_integer((json_int_t)n));
        row(f, model, s, path, json_array_get(a, n - 1));
        json_decref(s);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        if (!json_is_object(e)) continue;
        json_t *s = json_deep_copy(setting);
        const char *k;
        json_t *v;
        int any = 0;
        json_object_foreach((json_t *)e, k, v)
            if (in(ident, k) && (json_is_number(v) || json_is_string(v))) { json_object_set(s, k, v); any = 1; }
        if (!any) json_object_set_new(s, "index", json_integer((json_int_t)i));
        char p[256];
        if (snprintf(p, sizeof p, "%s.", path) < (int)sizeof p) walk(f, model, e, p, s);
        json_decref(s);
    }
}

/* Every number under o: metric = path + key. */
static void walk(const flat *f, const char *model, const json_t *o, const char *path, const json_t *setting)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v) {
        char p[256];
        if (snprintf(p, sizeof p, "%s%s", path, k) >= (int)sizeof p) continue;   /* no report nests that deep */
        if (json_object_get(setting, k) && (json_is_number(v) || json_is_string(v))) continue;   /* an identifier */
        if (json_is_number(v) || json_is_boolean(v)) row(f, model, setting, p, v);
        else if (json_is_object(v)) {   /* its identifying fields (label_mode's budget, ...) join the setting */
            char q[256];
            json_t *s = json_deep_copy(setting);
            const char *ik;
            json_t *iv;
            json_object_foreach(v, ik, iv)
                if (in(ident, ik) && (json_is_number(iv) || json_is_string(iv))) json_object_set(s, ik, iv);
            if (snprintf(q, sizeof q, "%s.", p) < (int)sizeof q) walk(f, model, v, q, s);
            json_decref(s);
        }
        else if (json_is_array(v)) walk_array(f, model, v, p, k, setting);
    }
}

static void model_name(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(out, n, "%s", b ? b + 1 : path);
    char *dot = strstr(out, ".onnx");
    if (dot) *dot = 0;
}

void ng_results_flatten(json_t *rows, const char *scheme, const json_t *report, long long seed)
{
    flat f = {rows, scheme, seed};
    json_t *empty = json_object();
    const json_t *models = json_object_get(report, "models");
    char name[128] = "lenet5";
    const char *path = json_string_value(json_object_get(report, "model"));
    if (!path) path = json_string_value(json_object_get(report, "owner_model"));
    if (path) model_name(path, name, sizeof name);
    json_t *top = json_deep_copy(report);
    static const char *const header[] = {"scheme", "data", "seed", "models", NULL};
    for (int i = 0; header[i]; i++) json_object_del(top, header[i]);
    walk(&f, name, top, "", empty);
    json_decref(top);
    for (size_t i = 0; i < json_array_size(models); i++) {
        json_t *m = json_deep_copy(json_array_get(models, i));
        const char *arch = json_string_value(json_object_get(m, "arch")), *mp = json_string_value(json_object_get(m, "model"));
        char an[128];
        if (arch && strcmp(arch, "model")) snprintf(an, sizeof an, "%s", arch);
        else if (mp) model_name(mp, an, sizeof an);   /* eval-scheme --model: the file's name */
        else snprintf(an, sizeof an, "%s", name);
        json_object_del(m, "model");
        json_object_del(m, "arch");
        json_t *s = json_object();
        if (json_is_string(json_object_get(m, "form"))) json_object_set(s, "form", json_object_get(m, "form"));
        walk(&f, an, m, "", s);
        json_decref(s);
        json_decref(m);
    }
    json_decref(empty);
}

json_t *ng_results_machine(void)
{
    struct utsname u;
    char sys[512] = "unknown", cpu[256] = "unknown", line[512];
    if (uname(&u) == 0) snprintf(sys, sizeof sys, "%s %s %s", u.sysname, u.release, u.machine);
    FILE *fp = fopen("/proc/cpuinfo", "r");
    while (fp && fgets(line, sizeof line, fp)) {
        char *c = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && c) {
            snprintf(cpu, sizeof cpu, "%s", c + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    }
    if (fp) fclose(fp);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = -1;
    double mem = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 1e9;
    return json_pack("{s:s,s:s,s:I,s:f,s:[f,f,f]}", "system", sys, "cpu", cpu, "cores",
                     (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "memory_gb", mem, "load", load[0], load[1], load[2]);
}

/* The first row of scheme/metric whose setting has key = val (key NULL: any); NAN if none. */
static double find(const json_t *rows, const char *scheme, const char *model, const char *metric, const char *key,
                   double val)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "scheme")), scheme) ||
            strcmp(json_string_value(json_object_get(r, "metric")), metric))
            continue;
        if (model && strcmp(json_string_value(json_object_get(r, "model")), model)) continue;
        if (key && fabs(json_number_value(json_object_get(json_object_get(r, "setting"), key)) - val) > 1e-9) continue;
        return json_is_number(json_object_get(r, "value")) ? json_number_value(json_object_get(r, "value")) : NAN;
    }
    return NAN;
}

/* The smallest value of scheme/metric among rows whose setting.model is model. */
static double min_of(const json_t *rows, const char *scheme, const char *metric, const char *model)
{
    double m = NAN;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *sm = json_string_value(json_object_get(json_object_get(r, "setting"), "model"));
        if (!strcmp(json_string_value(json_object_get(r, "scheme")), scheme) &&
            !strcmp(json_string_value(json_object_get(r, "metric")), metric) && sm && !strcmp(sm, model)) {
            double v = json_number_value(json_object_get(r, "value"));
            if (isnan(m) || v < m) m = v;
        }
    }
    return m;
}

static double largest_setting(const json_t *rows, const char *scheme, const char *metric, const char *key)
{
    double m = NAN;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
        if (!strcmp(json_string_value(json_object_get(r, "scheme")), scheme) &&
            !strcmp(json_string_value(json_object_get(r, "metric")), metric)) {
            double v = json_number_value(json_object_get(json_object_get(r, "setting"), key));
            if (isnan(m) || v > m) m = v;
        }
    return m;
}

static void add(json_t *out, const char *scheme, const char *quantity, double paper, const char *paper_text, double ours,
                const char *unit, const char *setting, const char *source)
{
    if (isnan(ours)) return;   /* the scheme did not run */
    json_t *p = json_object();
    json_object_set_new(p, "scheme", json_string(scheme));
    json_object_set_new(p, "quantity", json_string(quantity));
    json_object_set_new(p, "paper", isnan(paper) ? json_null() : ng_json_num(paper));
    json_object_set_new(p, "paper_text", json_string(paper_text));
    json_object_set_new(p, "ours", ng_json_num(ours));
    json_object_set_new(p, "difference", isnan(paper) ? json_null() : ng_json_num(ours - paper));
    json_object_set_new(p, "unit", json_string(unit));
    json_object_set_new(p, "setting", json_string(setting));
    json_object_set_new(p, "source", json_string(source));
    json_array_append_new(out, p);
}

void ng_results_paper(json_t *results)
{
    const json_t *R = json_object_get(results, "results");
    json_t *out = json_array();
    const char *ours = "ours: Fashion-MNIST, LeNet-5 (the paper's dataset and model are not given in its abstract)";
    /* Deep-Lock */
    add(out, "deeplock", "accuracy with random wrong keys (mean)", 0.10, "about a random classifier (1/10)",
        find(R, "deeplock", NULL, "wrong_keys.mean", NULL, 0), "accuracy", ours, "Deep-Lock abstract");
    double fmax = largest_setting(R, "deeplock", "finetune.accuracy_attacked", "fraction");
    double fa = find(R, "deeplock", NULL, "finetune.accuracy_attacked", "fraction", fmax);
    double fs = find(R, "deeplock", NULL, "finetune.accuracy_scratch", "fraction", fmax);
    add(out, "deeplock", "fine-tuned locked model minus training from scratch (largest data share)", 0,
        "no better than from scratch (<= 0)", fa - fs, "points", ours, "Deep-Lock abstract");
    /* AdvParams */
    add(out, "advparams", "accuracy drop on Fashion-MNIST", 0.8065, "80.65%",
        find(R, "advparams", "lenet5", "drop_points", NULL, 0), "points",
        "paper's dataset (Fashion-MNIST); our model (LeNet-5) and form (hardened unless --form paper)", "AdvParams abstract");
    add(out, "advparams", "share of parameters changed", 0.00000205, "as few as 0.000205%",
        find(R, "advparams", "lenet5", "changed_fraction", NULL, 0), "share",
        "ours: the hardened form changes a larger budget on purpose (SCHEMES.md 2)", "AdvParams abstract");
    double pmax = largest_setting(R, "advparams", "finetune.accuracy_attacked", "fraction");
    add(out, "advparams", "fine-tuned encrypted model minus training from scratch (largest data share)", 0,
        "robust to fine-tuning (<= 0)",
        find(R, "advparams", "lenet5", "finetune.accuracy_attacked", "fraction", pmax) -
        find(R, "advparams", "lenet5", "finetune.accuracy_scratch", "fraction", pmax), "points", ours, "AdvParams abstract");
    /* SecureNet */
    add(out, "securenet", "accuracy loss with the license key (single)", 0.015, "target: within 1.5 points (SCHEMES.md)",
        find(R, "securenet", NULL, "normal.accuracy", NULL, 0) - find(R, "securenet", NULL, "schemes.single.keys.key-0.accuracy", NULL, 0),
        "points", ours, "SCHEMES.md 3 (the abstract gives no figure)");
    add(out, "securenet", "accuracy without the key", 0.10, "model works correctly only with the key (chance: 1/10)",
        find(R, "securenet", NULL, "schemes.single.no-key.accuracy", NULL, 0), "accuracy", ours, "SecureNet abstract");
    /* DynaMarks / DAWN */
    double plain = find(R, "dynamarks", NULL, "api.accuracy_plain", NULL, 0);
    add(out, "dynamarks", "API accuracy loss, soft mode", 0, "original accuracy preserved",
        plain - find(R, "dynamarks", NULL, "api.accuracy_soft", NULL, 0), "points", ours, "DynaMarks abstract");
    add(out, "dynamarks", "API accuracy loss, label mode (rate 0.5%)", 0.005, "0.03-0.5% (DAWN)",
        plain - find(R, "dynamarks", NULL, "api.accuracy_label", NULL, 0), "points", ours, "DAWN (Szyller et al. 2021)");
    add(out, "dynamarks", "p-value of the best-detected surrogate of the watermarked API", 5.42e-20,
        "confidence above 1 - 2^-64 (DAWN)", min_of(R, "dynamarks", "extraction.p_value", "surrogate_watermarked_api"),
        "p", ours, "DAWN (Szyller et al. 2021)");
    json_object_set_new(results, "paper", out);
}
