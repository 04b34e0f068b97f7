/* serve/server.c - the HTTP side of `nnguard serve` on libmicrohttpd (see nnguard/serve.h).
 *
 * One event loop per thread (one per core by default), each with its own daemon in external
 * select mode (external epoll when the connection limit is past select()'s FD_SETSIZE: see
 * loop_main); the loops accept from one listening socket, each into its own daemon, keeping
 * their numbers of connections within one of each other (may_accept). A /v1/predict body that arrives in
 * one piece is parsed where libmicrohttpd read it, else read into the connection's context
 * (never more than max_body bytes) and parsed at the request's end; then checked against the client's
 * quota and rate, then queued on the loop with its connection suspended; after each pass over
 * the ready connections the loop runs the queued requests as batches (batch.c) and resumes
 * them, and the next pass sends their answers: everything on the loop's thread. Memory per
 * connection is bounded by max_body, the number of connections by max_connections, the waiting
 * images by max_queue; slow clients time out. */
#define _GNU_SOURCE 1   /* ppoll */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/select.h>
#include <unistd.h>
#include <microhttpd.h>
#include "serve_impl.h"
#include "core/core.h"
#include "core/pool.h"

typedef struct conn_ctx {
    double  t0;
    int     kind;          /* 0 predict, 1 other */
    int     ctype;         /* 0 JSON, 1 float32 */
    int     client;
    char   *body;
    size_t  len, cap;
    int     too_big;
    ng_job *job;
    int     counted;       /* inflight incremented */
    int     responded;     /* an answer is queued: ignore the rest of the body */
    size_t  expect;        /* Content-Length (0 unknown) */
    float  *in;            /* inputs parsed straight from MHD's buffer (whole body in one piece) */
    int64_t n_in;
} conn_ctx;

/* The watermark's input hashes h(x) of a request's n images, where the request is parsed (the
 * loop's thread, like the batch). NULL when out of memory. */
static uint8_t *input_hashes(ng_server *s, const float *in, int64_t n)
{
    uint8_t *d = malloc((size_t)n * NG_WM_HASH_BYTES);
    if (d) ng_wm_hash_batch(s->o.wm, in, (size_t)n, (size_t)s->dim, d);
    return d;
}

ng_serve_options ng_serve_options_default(void)
{
    ng_serve_options o;
    memset(&o, 0, sizeof o);
    o.bind = "127.0.0.1";
    o.port = 8080;
    o.max_batch = 64;
    o.max_delay_us = 500;
    o.max_body = (size_t)4 << 20;
    o.max_images = 1024;
    o.max_queue = 8192;
    o.max_connections = 512;
    o.timeout_s = 10;
    return o;
}

static enum MHD_Result reply(ng_server *s, struct MHD_Connection *c, conn_ctx *x, int code, char *body,
                             size_t len, const char *ctype, const char *retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) { free(body); return MHD_NO; }
    MHD_add_response_header(r, "Content-Type", ctype);
    if (retry_after) MHD_add_response_header(r, "Retry-After", retry_after);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)code, r);
    MHD_destroy_response(r);
    if (x) x->responded = 1;
    if (x && x->kind == 0) ng_metrics_request(&s->metrics, code, ng_now() - x->t0);
    else ng_metrics_request(&s->metrics, code, -1);
    return ok;
}

/* {"error": msg} with msg JSON-escaped. */
static enum MHD_Result reply_error(ng_server *s, struct MHD_Connection *c, conn_ctx *x, int code,
                                   const char *retry_after, const char *fmt, ...)
{
    char msg[512], esc[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t k = 0;
    for (const char *p = msg; *p && k < sizeof esc - 8; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') { esc[k++] = '\\'; esc[k++] = (char)ch; }
        else if (ch < 0x20) k += (size_t)snprintf(esc + k, sizeof esc - k, "\\u%04x", ch);
        else esc[k++] = (char)ch;
    }
    esc[k] = 0;
    size_t n = k + 32;
    char *body = malloc(n);
    if (!body) return MHD_NO;
    int len = snprintf(body, n, "{\"error\":\"%s\"}\n", esc);
    return reply(s, c, x, code, body, (size_t)len, "application/json", retry_after);
}

static enum MHD_Result reply_text(ng_server *s, struct MHD_Connection *c, int code, const char *text, const char *ctype)
{
    char *b = ng_strdup(text);
    return b ? reply(s, c, NULL, code, b, strlen(b), ctype, NULL) : MHD_NO;
}

static int status_code(ng_status st)
{
    switch (st) {
    case NG_E_FORMAT: case NG_E_SHAPE: case NG_E_INVALID: return 400;
    case NG_E_NOMEM: return 507;
    default: return 500;
    }
}

/* Bearer token -> client index; -1 missing/unknown. */
static int authenticate(ng_server *s, struct MHD_Connection *c)
{
    const char *t;
    size_t n;
    if (ng_req_bearer(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), &t, &n)) return -1;
    return ng_clients_find(s->o.clients, t, n);
}

/* The answer of a job the batch has finished (resumed follower or inline leader). */
static enum MHD_Result answer_job(ng_server *s, struct MHD_Connection *c, conn_ctx *x, ng_job *j)
{
    atomic_fetch_sub(&s->inflight, 1);
    x->counted = 0;
    if (j->st != NG_OK) return reply_error(s, c, x, 500, NULL, "inference failed: %s", ng_status_str(j->st));
    size_t len;
    char *body = ng_req_format_answer(j->probs, j->labels, j->n, s->classes, &len);
    if (!body) return reply_error(s, c, x, 507, NULL, "out of memory");
    atomic_fetch_add(&s->metrics.images, (uint64_t)j->n);
    return reply(s, c, x, 200, body, len, "application/json", NULL);
}

static enum MHD_Result finish_predict(ng_loop *l, struct MHD_Connection *c, conn_ctx *x)
{
    ng_server *s = l->s;
    ng_job *j = x->job;
    if (j) return answer_job(s, c, x, j);   /* resumed: its batch answered it */
    if (x->too_big) return reply_error(s, c, x, 413, NULL, "request body over %zu bytes", s->o.max_body);
    if (atomic_load(&s->stopping)) return reply_error(s, c, x, 503, "1", "the server is shutting down");
    float *in = x->in;
    int64_t n = x->n_in;
    ng_status st = NG_OK;
    x->in = NULL;
    if (!in)
        st = x->ctype == 1 ? ng_req_parse_f32(x->body, x->len, &s->shape, s->o.max_images, &in, &n)
                           : ng_req_parse_json(x->body ? x->body : "", x->len, &s->shape, s->o.max_images, &in, &n);
    free(x->body);
    x->body = NULL;
    if (st != NG_OK) return reply_error(s, c, x, status_code(st), NULL, "%s", ng_last_error());
    if (x->client >= 0) {
        double retry = 0;
        int a = ng_clients_admit(s->o.clients, x->client, n, ng_now(), &retry);
        if (a) {
            free(in);
            char ra[32];
            snprintf(ra, sizeof ra, "%d", a == 2 ? (int)(retry + 0.999) : 3600);
            if (a == 1) return reply_error(s, c, x, 429, ra, "query quota of client '%s' used up",
                                           ng_clients_name(s->o.clients, (size_t)x->client));
            return reply_error(s, c, x, 429, ra, "rate limit of client '%s' exceeded",
                               ng_clients_name(s->o.clients, (size_t)x->client));
        }
    }
    j = calloc(1, sizeof *j);
    if (j) {
        j->probs = malloc((size_t)n * (size_t)s->classes * sizeof *j->probs);
        j->labels = malloc((size_t)n * sizeof *j->labels);
        if (s->o.wm) j->digests = input_hashes(s, in, n);
    }
    if (!j || !j->probs || !j->labels || (s->o.wm && !j->digests)) { free(in); ng_job_free(j); return reply_error(s, c, x, 507, NULL, "out of memory"); }
    j->x = in;
    j->n = n;
    j->conn = c;
    j->client = x->client;
    x->job = j;
    atomic_fetch_add(&s->inflight, 1);
    x->counted = 1;
    if (l->queued + n > s->o.max_queue) {
        x->job = NULL;
        ng_job_free(j);
        atomic_fetch_sub(&s->inflight, 1);
        x->counted = 0;
        return reply_error(s, c, x, 503, "1", "the server is overloaded (inference queue full)");
    }
    MHD_suspend_connection(c);   /* the loop resumes it after the batch that answers it */
    ng_loop_submit(l, j);
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **ctxp)
{
    ng_loop *l = cls;
    ng_server *s = l->s;
    conn_ctx *x = *ctxp;
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x) return MHD_NO;
        x->t0 = ng_now();
        x->client = -1;
        *ctxp = x;
        int is_post = !strcmp(method, MHD_HTTP_METHOD_POST), is_get = !strcmp(method, MHD_HTTP_METHOD_GET);
        if (!strcmp(url, "/v1/predict")) {
            if (!is_post) { x->kind = 1; return reply_error(s, c, x, 405, NULL, "use POST for /v1/predict"); }
            const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
            if (!ct || !strncmp(ct, "application/json", 16)) x->ctype = 0;
            else if (!strncmp(ct, "application/octet-stream", 24)) x->ctype = 1;
            else return reply_error(s, c, x, 415, NULL, "Content-Type must be application/json or application/octet-stream");
            if (s->o.clients && (x->client = authenticate(s, c)) < 0)
                return reply_error(s, c, x, 401, NULL, "missing or unknown bearer token (Authorization: Bearer TOKEN)");
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
            if (len > s->o.max_body)
                return reply_error(s, c, x, 413, NULL, "request body over %zu bytes", s->o.max_body);
            x->expect = (size_t)len;
            return MHD_YES;
        }
        x->kind = 1;
        if (!strcmp(url, "/healthz") && is_get) return reply_text(s, c, 200, "{\"status\":\"ok\"}\n", "application/json");
        if (!strcmp(url, "/metrics") && is_get) {
            size_t len;
            char *m = ng_server_metrics(s, &len);
            if (!m) return MHD_NO;
            return reply(s, c, NULL, 200, m, len, "text/plain; version=0.0.4", NULL);
        }
        if (!strcmp(url, "/healthz") || !strcmp(url, "/metrics"))
            return reply_error(s, c, x, 405, NULL, "use GET for %s", url);
        return reply_error(s, c, x, 404, NULL, "no such endpoint (POST /v1/predict, GET /healthz, GET /metrics)");
    }
    if (x->kind != 0 || x->responded) { *upload_size = 0; return MHD_YES; }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        /* the whole body in one piece (the usual single-image request): parse it where MHD read
         * it, no copy; a body that does not parse is copied as below and parsed again at the
         * final call, which answers its error */
        if (n == x->expect && x->len == 0 && !x->in && !x->too_big && x->ctype == 0) {
            float *in;
            int64_t k;
            if (ng_req_parse_json(upload, n, &s->shape, s->o.max_images, &in, &k) == NG_OK) {
                x->in = in;
                x->n_in = k;
                return MHD_YES;
            }
        }
        if (x->in || x->too_big || x->len + n > s->o.max_body) { x->too_big = 1; free(x->body); x->body = NULL; return MHD_YES; }
        if (x->len + n + 1 > x->cap) {
            size_t nc = x->cap ? 2 * x->cap : 16384;
            while (nc < x->len + n + 1) nc *= 2;
            if (nc > s->o.max_body + 1) nc = s->o.max_body + 1;
            char *nb = realloc(x->body, nc);
            if (!nb) { x->too_big = 1; free(x->body); x->body = NULL; return MHD_YES; }
            x->body = nb;
            x->cap = nc;
        }
        memcpy(x->body + x->len, upload, n);
        x->len += n;
        x->body[x->len] = 0;
        return MHD_YES;
    }
    return finish_predict(l, c, x);
}

static void completed(void *cls, struct MHD_Connection *c, void **ctxp, enum MHD_RequestTerminationCode toe)
{
    ng_server *s = ((ng_loop *)cls)->s;
    conn_ctx *x = *ctxp;
    if (!x) return;
    if (x->job && !x->job->finished) {
        /* cannot happen: a suspended connection is never terminated before it is resumed */
        return;
    }
    if (x->counted) atomic_fetch_sub(&s->inflight, 1);
    ng_job_free(x->job);
    free(x->in);
    free(x->body);
    free(x);
    *ctxp = NULL;
}

/* Open connections per loop (libmicrohttpd calls this on the loop's thread). */
static void conn_notify(void *cls, struct MHD_Connection *c, void **sock_ctx, enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    (void)sock_ctx;
    ng_loop *l = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) atomic_fetch_add(&l->conns, 1);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED) atomic_fetch_sub(&l->conns, 1);
}

/* Whether loop l may take a new connection: it has at most one more than the loop with the
 * fewest, so every loop gets its share of a client's connections (SO_REUSEPORT's hashing, used
 * before, split wrk's 32 connections 10/22 .. 19/13 in 12 starts; a loop's batches are its
 * connections, and the busiest loop's thread bounds the throughput). */
static int may_accept(const ng_loop *l)
{
    const ng_server *s = l->s;
    int mine = atomic_load(&l->conns), least = mine;
    if (mine >= l->max_conns) return 0;   /* full: the connection waits in the backlog */
    for (int i = 0; i < s->nloops; i++) {
        int c = atomic_load(&s->loops[i].conns);
        if (c < least) least = c;
    }
    return mine <= least + 1;
}

/* Accept the pending connections while this loop may take them; libmicrohttpd serves them on
 * this loop's daemon (it closes a socket it refuses). Otherwise sets l->defer: the next wait
 * leaves the listening socket to the loop with fewer connections, which woke up for it too. */
static void accept_some(ng_loop *l)
{
    for (int k = 0; k < 16; k++) {
        if (!may_accept(l)) { l->defer = 1; return; }
        struct sockaddr_in a;
        socklen_t al = sizeof a;
        int fd = accept4(l->s->lfd, (struct sockaddr *)&a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;   /* none left (EAGAIN), or another loop took it */
        MHD_add_connection(l->d, fd, (const struct sockaddr *)&a, al);
    }
}

/* One event loop's thread: wait for the daemon's sockets, run one pass over the ready
 * connections, then the batches it queued; their resumed connections make the next wait return
 * at once. In select mode (the default) the wait is one select() over the loop's own sockets per
 * pass; in epoll mode (connection limits past select()'s FD_SETSIZE) a poll on the daemon's epoll
 * descriptor (waiting on it does not take the edge-triggered events MHD_run needs). Select mode
 * costs 2.3 system calls per request against 5.8 (perf stat, 32 connections): libmicrohttpd's
 * epoll mode removes a suspended connection from its epoll set and adds it back on resume (two
 * epoll_ctl), then tries a read that fails with EAGAIN; select mode has no set to edit and reads
 * only what select() reported ready. */
static void *loop_main(void *arg)
{
    ng_loop *l = arg;
    ng_server *s = l->s;
    const union MHD_DaemonInfo *di = l->sel ? NULL : MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
    struct pollfd pf[2] = { { .fd = di ? di->epoll_fd : -1, .events = POLLIN }, { .fd = s->lfd, .events = POLLIN } };
    int64_t wait_us = 0;
    while (!atomic_load(&s->stop_loops)) {
        /* the listening socket while not draining, unless this loop just left a connection to
         * another one */
        int lis = !atomic_load(&s->stopping) && !l->defer, acc = 0;
        l->defer = 0;
        int64_t us = 100000;
        MHD_UNSIGNED_LONG_LONG to;
        if (MHD_get_timeout(l->d, &to) == MHD_YES && to < (MHD_UNSIGNED_LONG_LONG)us / 1000) us = (int64_t)to * 1000;
        if (wait_us > 0 && wait_us < us) us = wait_us;
        if (l->resumed) us = 0;   /* resumed connections: this pass sends their answers now */
        if (l->sel) {
            fd_set rs, ws, es;
            MHD_socket mx = 0;
            FD_ZERO(&rs);
            FD_ZERO(&ws);
            FD_ZERO(&es);
            struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };
            if (MHD_get_fdset(l->d, &rs, &ws, &es, &mx) == MHD_YES) {
                if (lis) { FD_SET(s->lfd, &rs); if (s->lfd > mx) mx = s->lfd; }
                if (select(mx + 1, &rs, &ws, &es, &tv) > 0 && lis && FD_ISSET(s->lfd, &rs)) { FD_CLR(s->lfd, &rs); acc = 1; }
            } else {   /* cannot happen (MHD refuses descriptors past FD_SETSIZE): wait, run timeouts */
                FD_ZERO(&rs);
                FD_ZERO(&ws);
                FD_ZERO(&es);
                select(0, NULL, NULL, NULL, &tv);
            }
            if (acc) accept_some(l);
            MHD_run_from_select(l->d, &rs, &ws, &es);
        } else {
            struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
            pf[1].revents = 0;
            if (us > 0 || lis) ppoll(pf, lis ? 2 : 1, &ts, NULL);
            if (lis && (pf[1].revents & POLLIN)) accept_some(l);
            MHD_run(l->d);
        }
        wait_us = ng_loop_run_batches(l, atomic_load(&s->stopping));
    }
    return NULL;
}

static void stop_loops(ng_server *s)
{
    atomic_store(&s->stop_loops, 1);
    for (int i = 0; i < s->nloops; i++)
        if (s->loops[i].started) pthread_join(s->loops[i].th, NULL);
    for (int i = 0; i < s->nloops; i++) {
        ng_loop *l = &s->loops[i];
        if (l->d) MHD_stop_daemon(l->d);
        ng_job *j = l->head;   /* only after a drain that timed out */
        while (j) { ng_job *nx = j->next; ng_job_free(j); j = nx; }
        ng_loop_free(l);
    }
    free(s->loops);
    if (s->lfd >= 0) close(s->lfd);
    free(s);
}

ng_status ng_server_start(ng_model *m, const ng_serve_options *o, ng_server **out)
{
    *out = NULL;
    ng_shape is;
    ng_model_input_shape(m, &is);
    if (is.ndim != 4 || is.d[1] < 1 || is.d[2] < 1 || is.d[3] < 1)
        return ng_fail(NG_E_SHAPE, "serve: the model's input is not N x C x H x W images");
    if (o->max_batch < 1 || o->max_delay_us < 0 || o->max_body < 16 || o->max_images < 1 || o->max_queue < 1)
        return ng_fail(NG_E_INVALID, "serve: max-batch, max-images and max-queue must be >= 1, max-body >= 16");
    ng_server *s = calloc(1, sizeof *s);
    if (!s) return ng_fail(NG_E_NOMEM, "out of memory");
    s->lfd = -1;
    s->model = m;
    s->o = *o;
    if (s->o.max_queue < s->o.max_images) s->o.max_queue = s->o.max_images;
    s->shape = (ng_req_shape){ (int)is.d[1], (int)is.d[2], (int)is.d[3] };
    s->dim = s->shape.c * s->shape.h * s->shape.w;
    s->classes = ng_model_num_classes(m);
    if (o->wm && ng_wm_classes(o->wm) != s->classes) {
        int mc = s->classes;
        free(s);
        return ng_fail(NG_E_INVALID, "serve: the watermark was made for %d classes, the model has %d",
                       ng_wm_classes(o->wm), mc);
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->bind ? o->bind : "127.0.0.1", &sa.sin_addr) != 1) {
        free(s);
        return ng_fail(NG_E_INVALID, "serve: --bind %s is not an IPv4 address", o->bind);
    }
    s->nloops = o->threads > 0 ? o->threads : ng_ncpu();
    s->loops = calloc((size_t)s->nloops, sizeof *s->loops);
    if (!s->loops) { free(s); return ng_fail(NG_E_NOMEM, "out of memory"); }
    for (int i = 0; i < s->nloops; i++) {
        ng_status st = ng_loop_init(s, &s->loops[i]);
        if (st != NG_OK) { stop_loops(s); return st; }
    }
    /* one listening socket; each loop accepts from it into its own daemon (see may_accept) */
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t sl = sizeof sa;
    if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s->lfd, 1024) != 0 ||
        getsockname(s->lfd, (struct sockaddr *)&sa, &sl) != 0) {
        stop_loops(s);
        return ng_fail(NG_E_IO, "serve: cannot listen on %s:%d (in use, or not allowed)", o->bind ? o->bind : "127.0.0.1", o->port);
    }
    s->port = ntohs(sa.sin_port);
    unsigned conns = (unsigned)(o->max_connections > 0 ? o->max_connections : 512);
    /* select mode while every descriptor the process may hold fits select()'s FD_SETSIZE (the
     * connections, the loops' listening sockets and wake-up descriptors, the model, the log and
     * stdio: 128 spare), external epoll beyond (see loop_main) */
    int sel = (size_t)conns + 128 <= FD_SETSIZE;
    unsigned flags = (sel ? 0 : MHD_USE_EPOLL) | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_NO_LISTEN_SOCKET;
    conns = (conns + (unsigned)s->nloops - 1) / (unsigned)s->nloops;
    for (int i = 0; i < s->nloops; i++) {
        ng_loop *l = &s->loops[i];
        struct MHD_OptionItem opts[] = {
            { MHD_OPTION_CONNECTION_LIMIT, conns, NULL },
            { MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s > 0 ? o->timeout_s : 10, NULL },
            { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, l },
            { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)conn_notify, l },
            /* libmicrohttpd zeroes a connection's whole memory pool before each request (4.4% of
             * the server's samples at its default 32 KiB, the pools of 32 connections out of
             * cache): 16 KiB still reads a single-image JSON body (4.2 KiB) with its headers in
             * one piece (8 KiB would split it and copy it), and a larger body arrives in chunks
             * that handler() gathers anyway */
            { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)16384, NULL },
            { MHD_OPTION_END, 0, NULL } };
        l->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, l, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
        if (!l->d) {
            stop_loops(s);
            return ng_fail(NG_E_IO, "serve: cannot start the HTTP server (libmicrohttpd)");
        }
        l->sel = sel;
        l->max_conns = (int)conns;
    }
    for (int i = 0; i < s->nloops; i++) {
        if (pthread_create(&s->loops[i].th, NULL, loop_main, &s->loops[i]) != 0) {
            stop_loops(s);
            return ng_fail(NG_E_NOMEM, "serve: cannot start the HTTP threads");
        }
        s->loops[i].started = 1;
    }
    *out = s;
    return NG_OK;
}

int ng_server_port(const ng_server *s) { return s->port; }

void ng_server_stop(ng_server *s, double drain_s)
{
    if (!s) return;
    atomic_store(&s->stopping, 1);   /* the loops stop accepting, run what is queued at once */
    double t_end = ng_now() + drain_s;
    while (atomic_load(&s->inflight) > 0 && ng_now() < t_end) usleep(2000);
    usleep(20000);   /* let the last resumed connections send their answers */
    stop_loops(s);
}
