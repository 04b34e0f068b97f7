/* cli/report/report_impl.h - inside report.html: chart specifications and labels (report_svg.c,
 * report_html.c). */
#ifndef NG_REPORT_IMPL_H
#define NG_REPORT_IMPL_H
#include <stdio.h>
#include "results.h"

typedef struct ng_chart {
    const char *id, *title, *caption, *xlabel, *ylabel, *yunit;
    const char *metrics[8];   /* rows plotted (NULL-terminated); each a point of class "pt" */
    const char *xkey;         /* setting field on the x axis (line charts) */
    int logx, logy, pct, xpct, bars;
    double ylo, yhi;          /* y range (log: the top, and the highest bottom) */
    double hline;             /* a horizontal reference line (> 0), e.g. the decision threshold */
    const char *hline_label;
} ng_chart;

/* Write one chart (a <figure> with an inline <svg id="chart-ID">) for rows to f. */
void ng_report_chart(FILE *f, const json_t *rows, const ng_chart *ch);
/* A reader's name for a metric ("finetune.accuracy_attacked" -> "fine-tuned without the key"). */
const char *ng_report_metric_label(const char *metric);
#endif
