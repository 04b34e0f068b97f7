/* cli/report/report_svg.c - the report's charts as inline SVG: axes with ticks and labels, one
 * series per (scheme, model, metric[, setting.model]), a legend, and one element of class "pt"
 * per results.json row plotted (the browser test counts them against the rows). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "report_impl.h"

#define W 640
#define PLOT_H 300
#define ML 64
#define MR 16
#define MT 34
#define MB 48
#define MAX_SERIES 24
#define MAX_PTS 64

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
                                      "#17becf", "#7f7f7f", "#bcbd22"};

typedef struct series {
    char key[192], label[192];
    int dashed, n;
    double x[MAX_PTS], y[MAX_PTS];
} series;

static int is_scratch(const char *metric) { return strstr(metric, "scratch") != NULL; }

static double xval(const json_t *row, const char *xkey)
{
    const json_t *v = json_object_get(json_object_get(row, "setting"), xkey);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The metric part of a series key "scheme|model|metric|setting.model". */
static void key_metric(const char *key, char *out, size_t n)
{
    const char *a = strchr(key, '|');
    a = a ? strchr(a + 1, '|') : NULL;
    snprintf(out, n, "%s", a ? a + 1 : key);
    char *e = strchr(out, '|');
    if (e) *e = 0;
}

/* Where a series' metric comes in the chart's list (its order on the page). */
static int metric_index(const ng_chart *ch, const char *key)
{
    char m[192];
    key_metric(key, m, sizeof m);
    int i = 0;
    while (ch->metrics[i] && strcmp(ch->metrics[i], m)) i++;
    return i;
}

/* Group the chart's rows into series; returns the number of series. */
static int collect(const json_t *rows, const ng_chart *ch, series *s)
{
    int ns = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        const char *metric = json_string_value(json_object_get(r, "metric"));
        int hit = 0;
        for (int m = 0; ch->metrics[m]; m++) hit |= !strcmp(metric, ch->metrics[m]);
        const json_t *val = json_object_get(r, "value");
        if (!hit || !json_is_number(val)) continue;
        const char *sm = json_string_value(json_object_get(json_object_get(r, "setting"), "model"));
        char key[192], label[192];
        snprintf(key, sizeof key, "%s|%s|%s|%s", json_string_value(json_object_get(r, "scheme")),
                 json_string_value(json_object_get(r, "model")), metric, sm ? sm : "");
        snprintf(label, sizeof label, "%s %s: %s%s%s", json_string_value(json_object_get(r, "scheme")),
                 json_string_value(json_object_get(r, "model")), ng_report_metric_label(metric), sm ? ", " : "",
                 sm ? sm : "");
        int k = 0;
        while (k < ns && strcmp(s[k].key, key)) k++;
        if (k == ns) {
            if (ns == MAX_SERIES) continue;
            memset(&s[ns], 0, sizeof s[ns]);
            snprintf(s[ns].key, sizeof s[ns].key, "%s", key);
            snprintf(s[ns].label, sizeof s[ns].label, "%s", label);
            s[ns].dashed = is_scratch(metric);
            ns++;
        }
        if (s[k].n < MAX_PTS) {
            s[k].x[s[k].n] = ch->bars ? s[k].n : xval(r, ch->xkey);
            s[k].y[s[k].n] = json_number_value(val);
            s[k].n++;
        }
    }
    for (int a = 1; a < ns; a++)   /* series in the order of the chart's metrics (stable) */
        for (int b = a; b > 0 && metric_index(ch, s[b].key) < metric_index(ch, s[b - 1].key); b--) {
            series t = s[b]; s[b] = s[b - 1]; s[b - 1] = t;
        }
    for (int k = 0; k < ns; k++)   /* by x, for the lines */
        for (int a = 1; a < s[k].n; a++)
            for (int b = a; b > 0 && s[k].x[b] < s[k].x[b - 1]; b--) {
                double t = s[k].x[b]; s[k].x[b] = s[k].x[b - 1]; s[k].x[b - 1] = t;
                t = s[k].y[b]; s[k].y[b] = s[k].y[b - 1]; s[k].y[b - 1] = t;
            }
    return ns;
}

typedef struct scale { double lo, hi; int log; double p0, p1; } scale;

static double map(const scale *s, double v)
{
    double a = s->log ? log10(v) : v, lo = s->log ? log10(s->lo) : s->lo, hi = s->log ? log10(s->hi) : s->hi;
    if (hi == lo) return (s->p0 + s->p1) / 2;
    double t = (a - lo) / (hi - lo);
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return s->p0 + t * (s->p1 - s->p0);
}

static void fmt_tick(char *b, size_t n, double v, int pct, int logy)
{
    if (logy) snprintf(b, n, "1e%d", (int)lround(log10(v)));
    else if (pct) snprintf(b, n, "%g%%", 100 * v);
    else if (v == floor(v) && fabs(v) < 1e9) snprintf(b, n, "%.0f", v);
    else snprintf(b, n, "%.3g", v);
}

static void bars(FILE *f, const ng_chart *ch, series *s, int ns, scale *ys)
{
    /* one group per series, one bar each value (throughput: lock, unlock, seal, unseal, memcpy) */
    double top = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) top = fmax(top, s[k].y[i]);
    ys->lo = 0;
    double step = top > 0 ? pow(10, floor(log10(top * 1.1 / 5))) : 0.2, want = top * 1.1 / 5;
    step = want <= step ? step : want <= 2 * step ? 2 * step : want <= 5 * step ? 5 * step : 10 * step;
    ys->hi = 5 * step;   /* five round ticks */
    int total = 0;
    for (int k = 0; k < ns; k++) total += s[k].n;
    double bw = (double)(W - ML - MR) / (total ? total : 1);
    int j = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++, j++) {
            char m[192];
            key_metric(s[k].key, m, sizeof m);
            double x = ML + j * bw + bw * 0.15, y = map(ys, s[k].y[i]), y0 = map(ys, 0);
            fprintf(f, "<rect class=\"pt\" data-metric=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"><title>%s: %.3g %s</title></rect>\n", m, x, y, bw * 0.7, y0 - y,
                    palette[k % 10], s[k].label, s[k].y[i], ch->yunit);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"val\">%.2f</text>\n", x + bw * 0.35, y - 4, s[k].y[i]);
        }
}

void ng_report_chart(FILE *f, const json_t *rows, const ng_chart *ch)
{
    series *s = calloc(MAX_SERIES, sizeof *s);
    if (!s) return;
    int ns = collect(rows, ch, s), npts = 0;
    for (int k = 0; k < ns; k++) npts += s[k].n;
    int H = MT + PLOT_H + MB + 18 * ns + 4;
    fprintf(f, "<figure class=\"chart\">\n<svg id=\"chart-%s\" class=\"chart\" data-points=\"%d\" viewBox=\"0 0 %d %d\" "
            "role=\"img\" aria-label=\"%s\" xmlns=\"http://www.w3.org/2000/svg\">\n", ch->id, npts, W, H, ch->title);
    fprintf(f, "<text x=\"%d\" y=\"20\" class=\"title\">%s</text>\n", W / 2, ch->title);
    if (!ns) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"empty\">no data in this run</text>\n</svg></figure>\n", W / 2, MT + PLOT_H / 2);
        free(s);
        return;
    }
    scale xs = {0, 1, ch->logx, ML, W - MR}, ys = {ch->ylo, ch->yhi, ch->logy, MT + PLOT_H, MT};
    if (ch->logy) {   /* decades covering the data */
        double lo = 1;
        for (int k = 0; k < ns; k++)
            for (int i = 0; i < s[k].n; i++) lo = fmin(lo, fmax(s[k].y[i], 1e-300));
        ys.lo = pow(10, floor(log10(fmin(lo, ch->ylo))));
    }
    /* y axis, grid and ticks */
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT, ML, MT + PLOT_H);
    fprintf(f, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", ML, MT + PLOT_H, W - MR, MT + PLOT_H);
    if (ch->bars) bars(f, ch, s, ns, &ys);
    int nt = ch->logy ? (int)lround(log10(ys.hi) - log10(ys.lo)) : 5, step = ch->logy && nt > 8 ? (nt + 7) / 8 : 1;
    for (int t = 0; t <= nt; t += step) {
        double v = ch->logy ? ys.hi / pow(10, t) : ys.lo + (ys.hi - ys.lo) * t / nt;
        double y = map(&ys, v);
        char b[32];
        fmt_tick(b, sizeof b, v, ch->pct, ch->logy);
        fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/><text x=\"%d\" y=\"%.1f\" "
                "class=\"ytick\">%s</text>\n", ML, y, W - MR, y, ML - 6, y + 4, b);
    }
    fprintf(f, "<text class=\"ylabel\" transform=\"translate(14 %d) rotate(-90)\">%s</text>\n", MT + PLOT_H / 2, ch->ylabel);
    fprintf(f, "<text class=\"xlabel\" x=\"%d\" y=\"%d\">%s</text>\n", (ML + W - MR) / 2, MT + PLOT_H + 38, ch->xlabel);
    if (ch->bars) {
        int j = 0;
        double bw = (double)(W - ML - MR) / (npts ? npts : 1);
        for (int k = 0; k < ns; k++)
            for (int i = 0; i < s[k].n; i++, j++)
            {
                char m[192];
                key_metric(s[k].key, m, sizeof m);
                char lab[96];   /* the label without its remark in brackets: the legend has it whole */
                snprintf(lab, sizeof lab, "%s", ng_report_metric_label(m));
                char *br = strstr(lab, " (");
                if (br) *br = 0;
                fprintf(f, "<text class=\"xtick\" x=\"%.1f\" y=\"%d\">%s</text>\n", ML + (j + 0.5) * bw,
                        MT + PLOT_H + 16, lab);
            }
    } else {
        /* x: the data's own values as ticks */
        double xv[MAX_PTS];
        int nx = 0;
        xs.lo = INFINITY; xs.hi = -INFINITY;
        for (int k = 0; k < ns; k++)
            for (int i = 0; i < s[k].n; i++) {
                double v = s[k].x[i];
                xs.lo = fmin(xs.lo, v); xs.hi = fmax(xs.hi, v);
                int seen = 0;
                for (int q = 0; q < nx; q++) seen |= xv[q] == v;
                if (!seen && nx < MAX_PTS) xv[nx++] = v;
            }
        double pad = ch->logx ? 1.25 : (xs.hi - xs.lo) * 0.06 + (xs.hi == xs.lo);
        if (ch->logx) { xs.lo /= pad; xs.hi *= pad; } else { xs.lo -= pad; xs.hi += pad; }
        if (!ch->logx && xs.lo < 0 && ch->xpct) xs.lo = 0;
        for (int q = 0; q < nx; q++) {
            char b[32];
            fmt_tick(b, sizeof b, xv[q], ch->xpct, 0);
            fprintf(f, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/><text class=\"xtick\" x=\"%.1f\" "
                    "y=\"%d\">%s</text>\n", map(&xs, xv[q]), MT + PLOT_H, map(&xs, xv[q]), MT + PLOT_H + 5,
                    map(&xs, xv[q]), MT + PLOT_H + 18, b);
        }
        if (ch->hline > 0) {
            double y = map(&ys, ch->hline);
            fprintf(f, "<line class=\"threshold\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/><text class=\"thr\" "
                    "x=\"%d\" y=\"%.1f\">%s</text>\n", ML, y, W - MR, y, W - MR - 4, y - 4, ch->hline_label);
        }
        for (int k = 0; k < ns; k++) {
            const char *col = palette[k % 10];
            char m[192];
            key_metric(s[k].key, m, sizeof m);
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                    s[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
            for (int i = 0; i < s[k].n; i++)
                fprintf(f, "%.1f,%.1f ", map(&xs, s[k].x[i]), map(&ys, ch->logy ? fmax(s[k].y[i], ys.lo) : s[k].y[i]));
            fprintf(f, "\"/>\n");
            for (int i = 0; i < s[k].n; i++)
                fprintf(f, "<circle class=\"pt\" data-metric=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\">"
                        "<title>%s: x=%g, y=%.4g</title></circle>\n", m, map(&xs, s[k].x[i]),
                        map(&ys, ch->logy ? fmax(s[k].y[i], ys.lo) : s[k].y[i]), col, s[k].label, s[k].x[i], s[k].y[i]);
        }
    }
    /* legend under the plot, one series a line */
    for (int k = 0; k < ns; k++) {
        int lx = ML, ly = MT + PLOT_H + MB + 18 * k;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"%d\"%s/>"
                "<text class=\"legend\" x=\"%d\" y=\"%d\">%s</text>\n", lx, ly, lx + 22, ly, palette[k % 10],
                ch->bars ? 8 : 2, s[k].dashed ? " stroke-dasharray=\"6 4\"" : "", lx + 28, ly + 4, s[k].label);
    }
    fprintf(f, "</svg>\n<figcaption>%s</figcaption>\n</figure>\n", ch->caption);
    free(s);
}
