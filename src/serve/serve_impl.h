/* serve/serve_impl.h - internals shared by the HTTP glue (server.c), the batching inference
 * workers (batch.c) and the metrics (metrics.c). */
#ifndef NG_SERVE_IMPL_H
#define NG_SERVE_IMPL_H
#include <pthread.h>
#include <stdatomic.h>
#include "nnguard/serve.h"

struct MHD_Connection;
struct MHD_Daemon;
struct ng_slice;

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
    int      led;          /* its own HTTP thread leads: answered inline, never suspended */
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

/* An inference lane: one executor and its scratch, used by one leader at a time. */
typedef struct ng_lane {
    ng_exec *e;
    float   *xb;                  /* max_batch x dim gathered inputs */
    struct ng_slice *sl;
    ng_job **done;
} ng_lane;

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
    /* batching queue (batch.c): leader/follower, no thread of its own */
    pthread_mutex_t mu;
    pthread_cond_t  full;         /* a collecting leader waits here for a full batch or its deadline */
    pthread_cond_t  owned;        /* leaders whose own request another leader took wait here */
    int     collecting;           /* a leader is gathering the next batch */
    int     owners_waiting;
    ng_job *head, *tail;
    int64_t queued;               /* images not yet taken */
    int     stop_workers;
    int     leaders;              /* lanes in use */
    int     nlanes, nfree;
    ng_lane *lanes;
    ng_lane **free_lanes;
    int     batch_ready;          /* mu, conds and lanes set up */
};

ng_status ng_batch_start(ng_server *s);
/* Enqueue a job from the HTTP handler of its connection: -1 when the queue is full (nothing
 * done); 0 when the connection was suspended (a leader resumes it once answered); 1 when the
 * caller is to lead: run ng_batch_lead with *lane, then answer its own job inline. */
int  ng_batch_submit(ng_server *s, ng_job *j, ng_lane **lane);
void ng_batch_lead(ng_server *s, ng_lane *lane, ng_job *own);
void ng_batch_stop(ng_server *s);      /* wakes a collecting leader: no more waiting for batches */
void ng_batch_free(ng_server *s);      /* after the HTTP threads are gone */
void ng_job_free(ng_job *j);
#endif
