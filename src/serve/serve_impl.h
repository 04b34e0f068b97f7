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
    uint8_t *digests;      /* n x NG_WM_HASH_BYTES input hashes h(x) (watermark only), computed at parse */
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

/* One HTTP event loop: its own libmicrohttpd daemon (external select or epoll, fed with the
 * connections the loop accepts from the server's listening socket), its own thread, batching
 * queue and executor. */
typedef struct ng_loop {
    struct ng_server *s;
    struct MHD_Daemon *d;
    pthread_t th;
    int       started;
    ng_exec  *e;
    float    *xb;                 /* max_batch x dim gathered inputs */
    struct ng_slice *sl;
    ng_job  **done;
    ng_job   *head, *tail;        /* requests parsed by this loop, their connections suspended */
    int64_t   queued;             /* images in the queue */
    int       jobs;               /* requests in the queue (not yet wholly in a batch) */
    atomic_int conns;             /* open connections of this loop's daemon (the others read it) */
    int       defer;              /* left a pending connection to a loop with fewer: skip one wait */
    int       max_conns;          /* this loop's share of --max-connections */
    int       resumed;            /* connections resumed by the last ng_loop_run_batches */
    uint64_t  submitted, seen;    /* requests queued so far / when the queue was last looked at */
    int       sel;                /* select mode (else external epoll), see server.c */
} ng_loop;

struct ng_server {
    ng_model *model;
    ng_serve_options o;
    ng_req_shape shape;
    int classes, dim;
    int port;
    atomic_int stopping;          /* drain: no new connections, 503 to new requests */
    atomic_int stop_loops;        /* the event loops exit */
    atomic_int inflight;          /* requests accepted and not yet answered */
    int      lfd;                 /* the listening socket (non-blocking), the loops accept from it */
    ng_metrics metrics;
    int      nloops;
    ng_loop *loops;
};

/* batch.c: the loop's queue and its forward passes */
ng_status ng_loop_init(ng_server *s, ng_loop *l);
void ng_loop_free(ng_loop *l);
void ng_loop_submit(ng_loop *l, ng_job *j);           /* j->conn already suspended */
/* Run the queued requests (max_batch images per forward pass) and resume their connections.
 * With force == 0 a batch under max_batch images waits for more while they keep coming: when
 * requests arrived since the last look and the oldest is younger than max_delay_us, returns
 * the microseconds to wait (at most NG_BATCH_GAP_US: a quiet gap that long ends the wait),
 * unless every open connection of the loop has a request queued (l->jobs == l->conns); else
 * runs and returns 0. */
#define NG_BATCH_GAP_US 50
int64_t ng_loop_run_batches(ng_loop *l, int force);
void ng_job_free(ng_job *j);
#endif
