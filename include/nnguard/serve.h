/* nnguard/serve.h - the prediction HTTP API (`nnguard serve`), its clients and its request log.
 *
 *     ng_serve_options o = ng_serve_options_default();
 *     o.port = 0;                          // 0: any free port (ng_server_port tells which)
 *     o.wm = wm;                           // optional DynaMarks watermark (nnguard/dynamarks.h)
 *     ng_server *s;
 *     ng_server_start(model, &o, &s);      // model is shared read-only; one ng_exec per HTTP thread
 *     ... ng_server_stop(s);               // stops accepting, drains the requests in flight
 *
 * HTTP/1.1 on libmicrohttpd: one event loop per thread, each with its own daemon (select, or
 * epoll past FD_SETSIZE connections; the loops accept from one listening socket and keep equal
 * shares of the connections) and its own executor. A loop reads every ready connection,
 * queues the complete requests (connections suspended), then runs what it queued as forward
 * passes of up to max_batch images (waiting at most max_delay_us after the oldest for more,
 * and not at all once every open connection of the loop has a request queued: a client sends
 * its next request on a connection only after the answer) and resumes the connections, all on
 * the same thread: no hand-off between threads.
 *
 *   POST /v1/predict   Content-Type: application/json       {"inputs": IMAGES}
 *                      Content-Type: application/octet-stream  n x C*H*W float32 little-endian
 *     IMAGES: one image ([C*H*W] flat, [H][W] when C = 1, [C][H][W]) or a batch of them (one
 *     more leading dimension); numbers only, finite. Answer 200:
 *       {"probabilities": [[p0, ..., pC-1], ...], "labels": [l, ...]}
 *   GET /healthz       {"status":"ok"}
 *   GET /metrics       Prometheus text format 0.0.4: nnguard_requests_total{code}, a latency
 *                      histogram nnguard_request_seconds, nnguard_images_total,
 *                      nnguard_watermarked_total, nnguard_batches_total, nnguard_client_queries_total{client}
 *   Errors: 4xx/5xx with {"error": "..."}: 400 malformed JSON / wrong shape / not finite,
 *   401 missing or unknown token, 404, 405, 413 body over max_body, 415 content type,
 *   429 over quota or rate (Retry-After), 503 queue full or stopping.
 *
 * Clients file (text, one client per line, '#' comments and blank lines ignored; must not be
 * readable by group/others, like a key file):
 *     TOKEN NAME QUOTA RPS
 *   TOKEN 16..256 characters of [A-Za-z0-9._~+/=-]; NAME 1..64 of [A-Za-z0-9._-], unique;
 *   QUOTA images in total (0 = unlimited); RPS requests per second, a token bucket holding one
 *   second of requests (0 = unlimited). At most NG_CLIENTS_MAX lines, file at most 1 MiB.
 *   When a clients file is given, every /v1/predict needs "Authorization: Bearer TOKEN".
 *
 * Request log (label mode): every watermarked answer is recorded through the ng_wmlog
 * interface (an embedded SQLite database in WAL mode by default; another store - a shared
 * database for several replicas - implements the same four functions).
 *   table nnguard_wm_log(id INTEGER PRIMARY KEY, client TEXT, time_ms INTEGER, digest BLOB(32),
 *                        c INTEGER, h INTEGER, w INTEGER, input BLOB (float32 LE), label_true INTEGER,
 *                        label INTEGER)
 */
#ifndef NNGUARD_SERVE_H
#define NNGUARD_SERVE_H
#include <stddef.h>
#include <stdint.h>
#include "dynamarks.h"
#include "model.h"
#include "status.h"

/* ---- request bodies (exposed for tests and fuzzers) ---- */
typedef struct ng_req_shape { int c, h, w; } ng_req_shape;
/* Parse a JSON body {"inputs": ...} for images of shape s. *x (malloc'ed, n x c*h*w floats) and *n
 * are set on success; max_images bounds n. NG_E_FORMAT (malformed) / NG_E_SHAPE / NG_E_INVALID
 * (not finite) with a message for the client. */
ng_status ng_req_parse_json(const char *body, size_t len, const ng_req_shape *s, int64_t max_images,
                            float **x, int64_t *n);
/* A float32 little-endian body: its length must be a multiple of one image. */
ng_status ng_req_parse_f32(const void *body, size_t len, const ng_req_shape *s, int64_t max_images,
                           float **x, int64_t *n);
/* The 200 answer for n rows of C probabilities and n labels (malloc'ed string, *len bytes). */
char *ng_req_format_answer(const float *probs, const int32_t *labels, int64_t n, int classes, size_t *len);

/* The token of an "Authorization: Bearer TOKEN" header value (trailing blanks dropped): 0 and
 * *tok, *len pointing into h; -1 when h is not a bearer credential of 1..256 bytes. */
int ng_req_bearer(const char *h, const char **tok, size_t *len);

/* ---- clients ---- */
#define NG_CLIENTS_MAX 10000
typedef struct ng_clients ng_clients;
ng_status ng_clients_load(const char *path, ng_clients **out);    /* refuses group/other-readable files */
ng_status ng_clients_parse(const char *text, size_t len, const char *name, ng_clients **out);
void      ng_clients_free(ng_clients *c);
size_t    ng_clients_count(const ng_clients *c);
const char *ng_clients_name(const ng_clients *c, size_t i);
/* Index of the client holding token (constant-time comparison), or -1. */
int       ng_clients_find(const ng_clients *c, const char *token, size_t len);
/* Admit a request of `images` images now: 0 yes (counted), 1 over quota, 2 over rate (*retry_s). */
int       ng_clients_admit(ng_clients *c, int i, int64_t images, double now, double *retry_s);
int64_t   ng_clients_used(const ng_clients *c, int i);

/* ---- request log (storage interface) ---- */
typedef struct ng_wmlog_entry {
    const char *client;
    int64_t     time_ms;
    uint8_t     digest[32];
    int         c, h, w;
    const float *input;       /* c*h*w floats */
    int         label_true, label;
} ng_wmlog_entry;
typedef int (*ng_wmlog_cb)(void *arg, const ng_wmlog_entry *e);   /* non-zero stops */
typedef struct ng_wmlog ng_wmlog;
typedef struct ng_wmlog_ops {
    ng_status (*record)(ng_wmlog *l, const ng_wmlog_entry *e);
    ng_status (*foreach)(ng_wmlog *l, const char *client, ng_wmlog_cb cb, void *arg);
    ng_status (*flush)(ng_wmlog *l);
    void      (*close)(ng_wmlog *l);
} ng_wmlog_ops;
struct ng_wmlog { const ng_wmlog_ops *ops; };
/* The SQLite store (WAL, synchronous=NORMAL); created when absent. readonly: for verification. */
ng_status ng_wmlog_sqlite_open(const char *path, int readonly, ng_wmlog **out);
static inline ng_status ng_wmlog_record(ng_wmlog *l, const ng_wmlog_entry *e) { return l->ops->record(l, e); }
static inline ng_status ng_wmlog_foreach(ng_wmlog *l, const char *client, ng_wmlog_cb cb, void *arg)
{ return l->ops->foreach(l, client, cb, arg); }
static inline void ng_wmlog_close(ng_wmlog *l) { if (l) l->ops->close(l); }

/* ---- server ---- */
typedef struct ng_serve_options {
    const char *bind;          /* IPv4 address to listen on (default "127.0.0.1") */
    int      port;             /* 0: any free port */
    int      threads;          /* event loops: HTTP + inference threads (0 = all cores) */
    int      max_batch;        /* images per forward pass (default 64) */
    int      max_delay_us;     /* wait for more requests to batch (default 500) */
    size_t   max_body;         /* bytes (default 4 MiB) */
    int64_t  max_images;       /* per request (default 1024) */
    int64_t  max_queue;        /* images waiting; more get 503 (default 8192) */
    int      max_connections;  /* default 512 (split evenly between the loops) */
    int      timeout_s;        /* idle/slow connection timeout (default 10) */
    const ng_wm *wm;           /* watermark, or NULL */
    ng_clients *clients;       /* or NULL: no authentication */
    ng_wmlog *log;             /* label mode: watermarked answers recorded here (may be NULL) */
} ng_serve_options;
ng_serve_options ng_serve_options_default(void);

typedef struct ng_server ng_server;
ng_status ng_server_start(ng_model *m, const ng_serve_options *o, ng_server **out);
int       ng_server_port(const ng_server *s);
/* Stop accepting, answer the requests in flight (at most drain_s seconds), free. */
void      ng_server_stop(ng_server *s, double drain_s);
/* The /metrics text (malloc'ed). */
char     *ng_server_metrics(ng_server *s, size_t *len);
#endif
