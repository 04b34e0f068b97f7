/* serve/serve_impl.h - internals shared by the HTTP glue (server.c), the batching inference
 * workers (batch.c) and the metrics (metrics.c). */
#ifndef NG_SERVE_IMPL_H
#define NG_SERVE_IMPL_H
#include <pthread.h>
#include <stdatomic.h>
#include "nnguard/serve.h"

struct MHD_Connection;
struct MHD_Daemon;

/* One /v1/predict request waiting for (or in) the inference workers. */
typedef struct ng_job {
    struct ng_job *next;
    struct MHD_Connection *conn;
    float   *x;            /* n x dim inputs, owned */
    int64_t  n, taken, done;
    float   *probs;        /* n x classes answer */
    int32_t *labels;
    uint8_t *digests;      /* n x 32 input digests (watermark only), computed by the HTTP thread */
    int      client;       /* index in the clients list, -1 without clients */
    int      finished;     /* all rows answered (set under the queue lock) */
    ng_status st;
    double   t_enq;
} ng_job;

#define NG_LAT_BUCKETS 12
extern const double ng_lat_bounds[NG_LAT_BUCKETS];   /* seconds; the last bucket is +Inf */
#define NG_CODES 12
extern const int ng_codes[NG_CODES];                 /* HTTP codes counted; the last is "other" */

typedef struct ng_metrics {
    atomic_uint_fast64_t req[NG_CODES];
    atomic_uint_fast64_t lat[NG_LAT_BUCKETS];
    atomic_uint_fast64_t lat_sum_ns;
    atomic_uint_fast64_t images, watermarked, batches, batch_images;
} ng_metrics;
void ng_metrics_request(ng_metrics *m, int code, double seconds);

struct ng_server {
    ng_model *model;
    ng_serve_options o;
    ng_req_shape shape;
    int classes, dim;
    struct MHD_Daemon *d;
    int port;
    atomic_int stopping;
    atomic_int inflight;          /* requests accepted and not yet answered */
    ng_metrics metrics;
    /* batching queue */
    pthread_mutex_t mu;
    pthread_cond_t  nonempty;     /* idle workers wait here for work */
    pthread_cond_t  full;         /* the collecting worker waits here for a full batch or its deadline */
    int     collecting;           /* a worker is gathering the next batch */
    ng_job *head, *tail;
    int64_t queued;               /* images not yet taken */
    int     stop_workers;
    int     nworkers;
    pthread_t *workers;
    int     workers_started;
};

ng_status ng_batch_start(ng_server *s);
/* Enqueue a job (the connection is already suspended); 0, or -1 when the queue is full. */
int  ng_batch_submit(ng_server *s, ng_job *j);
void ng_batch_stop(ng_server *s);      /* workers finish the queue, then exit */
void ng_job_free(ng_job *j);
#endif
