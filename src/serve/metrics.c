/* serve/metrics.c - counters and the /metrics page (Prometheus text format 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "serve_impl.h"

const double ng_lat_bounds[NG_LAT_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 0};
const int ng_codes[NG_CODES] = {200, 400, 401, 404, 405, 413, 415, 429, 500, 503, 507, 0};

void ng_metrics_request(ng_metrics *m, int code, double seconds)
{
    int i = 0;
    while (i < NG_CODES - 1 && ng_codes[i] != code) i++;
    atomic_fetch_add(&m->req[i], 1);
    if (seconds < 0) return;   /* not a prediction: no latency */
    int b = 0;
    while (b < NG_LAT_BUCKETS - 1 && seconds > ng_lat_bounds[b]) b++;
    atomic_fetch_add(&m->lat[b], 1);
    atomic_fetch_add(&m->lat_sum_ns, (uint64_t)(seconds * 1e9));
}

typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

__attribute__((format(printf, 2, 3)))
static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (b->oom) return;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (k >= 0 && (size_t)k < b->cap - b->n) { b->n += (size_t)k; return; }
        size_t nc = 2 * b->cap + (size_t)(k > 0 ? k : 0);
        char *np = realloc(b->p, nc);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = nc;
    }
}

char *ng_server_metrics(ng_server *s, size_t *len)
{
    ng_metrics *m = &s->metrics;
    sbuf b = { malloc(4096), 0, 4096, 0 };
    if (!b.p) return NULL;
    put(&b, "# HELP nnguard_requests_total HTTP requests answered, by status code.\n"
            "# TYPE nnguard_requests_total counter\n");
    for (int i = 0; i < NG_CODES; i++) {
        uint64_t v = atomic_load(&m->req[i]);
        if (ng_codes[i]) put(&b, "nnguard_requests_total{code=\"%d\"} %llu\n", ng_codes[i], (unsigned long long)v);
        else put(&b, "nnguard_requests_total{code=\"other\"} %llu\n", (unsigned long long)v);
    }
    put(&b, "# HELP nnguard_request_seconds Time from a request's arrival to its answer.\n"
            "# TYPE nnguard_request_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < NG_LAT_BUCKETS; i++) {
        cum += atomic_load(&m->lat[i]);
        if (i < NG_LAT_BUCKETS - 1) put(&b, "nnguard_request_seconds_bucket{le=\"%g\"} %llu\n", ng_lat_bounds[i], (unsigned long long)cum);
        else put(&b, "nnguard_request_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    put(&b, "nnguard_request_seconds_sum %.9f\n" "nnguard_request_seconds_count %llu\n",
        (double)atomic_load(&m->lat_sum_ns) * 1e-9, (unsigned long long)cum);
    put(&b, "# HELP nnguard_images_total Images answered by /v1/predict.\n# TYPE nnguard_images_total counter\n"
            "nnguard_images_total %llu\n", (unsigned long long)atomic_load(&m->images));
    put(&b, "# HELP nnguard_watermarked_total Answers changed by the watermark.\n# TYPE nnguard_watermarked_total counter\n"
            "nnguard_watermarked_total %llu\n", (unsigned long long)atomic_load(&m->watermarked));
    put(&b, "# HELP nnguard_batches_total Forward passes run (requests are batched together).\n"
            "# TYPE nnguard_batches_total counter\n" "nnguard_batches_total %llu\n", (unsigned long long)atomic_load(&m->batches));
    put(&b, "# HELP nnguard_batch_images_total Images in those forward passes.\n"
            "# TYPE nnguard_batch_images_total counter\n" "nnguard_batch_images_total %llu\n",
        (unsigned long long)atomic_load(&m->batch_images));
    if (s->o.clients) {
        put(&b, "# HELP nnguard_client_queries_total Images admitted per client.\n"
                "# TYPE nnguard_client_queries_total counter\n");
        for (size_t i = 0; i < ng_clients_count(s->o.clients); i++)
            put(&b, "nnguard_client_queries_total{client=\"%s\"} %lld\n", ng_clients_name(s->o.clients, i),
                (long long)ng_clients_used(s->o.clients, (int)i));
    }
    if (b.oom) { free(b.p); return NULL; }
    *len = b.n;
    return b.p;
}
