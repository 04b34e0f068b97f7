/* serve/batch.c - batching: requests waiting together share one forward pass.
 *
 * Leader/follower, on the HTTP threads themselves (no inference thread of its own): the HTTP
 * thread that parses a request while no batch is running (or while a full batch waits and a lane
 * is free) becomes the leader: it gathers up to max_batch queued images (waiting up to
 * max_delay_us after the oldest arrived when fewer wait), runs them as one forward pass on its
 * lane's executor, turns logits into probabilities, applies the watermark, records the marked
 * answers of label mode and resumes the connections of the requests it completed; it leads until
 * the queue is empty (so a queued request always has a leader), then answers its own request
 * inline, without suspending its connection. The others (followers) suspend their connection
 * until a leader resumes it. Compared with dedicated inference threads this saves a thread
 * wake-up and a context switch per batch and the suspend/resume of the leader's own request. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include "serve_impl.h"
#include "core/core.h"

void ng_job_free(ng_job *j)
{
    if (!j) return;
    free(j->x);
    free(j->probs);
    free(j->labels);
    free(j->digests);
    free(j);
}

int ng_batch_submit(ng_server *s, ng_job *j, ng_lane **lane)
{
    pthread_mutex_lock(&s->mu);
    if (s->queued + j->n > s->o.max_queue) { pthread_mutex_unlock(&s->mu); return -1; }
    j->t_enq = ng_now();
    j->next = NULL;
    if (s->tail) s->tail->next = j; else s->head = j;
    s->tail = j;
    s->queued += j->n;
    if (s->nfree > 0 && (s->leaders == 0 || (s->queued >= s->o.max_batch && !s->collecting))) {
        *lane = s->free_lanes[--s->nfree];
        s->leaders++;
        pthread_mutex_unlock(&s->mu);
        return 1;
    }
    /* suspended before a leader can see it done (resume must follow suspend) */
    MHD_suspend_connection(j->conn);
    if (s->collecting && s->queued >= s->o.max_batch) pthread_cond_signal(&s->full);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void deadline_ts(double t, struct timespec *ts)
{
    /* ng_now() is CLOCK_MONOTONIC; the condition variable uses the same clock */
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

typedef struct ng_slice { ng_job *j; int64_t from, n; } slice;

static void answer_row(ng_server *s, ng_job *j, int64_t r, const float *logits, int64_t *marked)
{
    int C = s->classes;
    float *p = j->probs + r * C;
    const float *x = j->x + r * s->dim;
    ng_softmax_rows(logits, p, 1, C);
    if (!s->o.wm) {
        int b = 0;
        for (int k = 1; k < C; k++) if (p[k] > p[b]) b = k;
        j->labels[r] = b;
        return;
    }
    ng_wm_answer a;
    ng_wm_apply_digest(s->o.wm, j->digests + r * 32, p, &a);
    j->labels[r] = a.label;
    if (!a.marked) return;
    (*marked)++;
    if (s->o.log && ng_wm_mode_of(s->o.wm) == NG_WM_LABEL) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        ng_wmlog_entry e = { .client = j->client >= 0 && s->o.clients ? ng_clients_name(s->o.clients, (size_t)j->client) : "anonymous",
                             .time_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
                             .c = s->shape.c, .h = s->shape.h, .w = s->shape.w, .input = x,
                             .label_true = a.label_true, .label = a.label };
        memcpy(e.digest, a.digest, 32);
        if (ng_wmlog_record(s->o.log, &e) != NG_OK) j->st = NG_E_IO;   /* an answer we could not log is not given */
    }
}

void ng_batch_lead(ng_server *s, ng_lane *L, ng_job *own)
{
    int64_t mb = s->o.max_batch;
    slice *sl = L->sl;
    ng_job **done = L->done;
    pthread_mutex_lock(&s->mu);
    while (s->head) {
        if (s->queued < mb && s->o.max_delay_us > 0 && !s->collecting && !s->stop_workers) {
            s->collecting = 1;
            double deadline = s->head->t_enq + s->o.max_delay_us * 1e-6;
            while (s->queued < mb && !s->stop_workers && ng_now() < deadline) {
                struct timespec ts;
                deadline_ts(deadline, &ts);
                pthread_cond_timedwait(&s->full, &s->mu, &ts);
            }
            s->collecting = 0;
            if (!s->head) break;   /* another leader took it all */
        }
        int ns = 0;
        int64_t tot = 0;
        while (s->head && tot < mb) {
            ng_job *j = s->head;
            int64_t k = j->n - j->taken;
            if (k > mb - tot) k = mb - tot;
            sl[ns++] = (slice){ j, j->taken, k };
            j->taken += k;
            tot += k;
            s->queued -= k;
            if (j->taken == j->n) { s->head = j->next; if (!s->head) s->tail = NULL; }
        }
        pthread_mutex_unlock(&s->mu);

        const float *logits = NULL;
        ng_shape os;
        int64_t off = 0;
        for (int i = 0; i < ns; i++) {
            memcpy(L->xb + off * s->dim, sl[i].j->x + sl[i].from * s->dim, (size_t)(sl[i].n * s->dim) * sizeof *L->xb);
            off += sl[i].n;
        }
        ng_status st = ng_exec_forward(L->e, L->xb, tot, &logits, &os);
        int64_t marked = 0;
        off = 0;
        for (int i = 0; i < ns; i++) {
            if (st != NG_OK) { sl[i].j->st = st; continue; }
            for (int64_t r = 0; r < sl[i].n; r++)
                answer_row(s, sl[i].j, sl[i].from + r, logits + (off + r) * s->classes, &marked);
            off += sl[i].n;
        }
        atomic_fetch_add(&s->metrics.batches, 1);
        atomic_fetch_add(&s->metrics.batch_images, (uint64_t)tot);
        atomic_fetch_add(&s->metrics.watermarked, (uint64_t)marked);
        int nd = 0, wake_owner = 0;
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < ns; i++) {
            ng_job *j = sl[i].j;
            j->done += sl[i].n;
            if (j->done == j->n) {
                j->finished = 1;
                if (j->led) wake_owner = 1;   /* a leader answers it inline */
                else done[nd++] = j;
            }
        }
        if (wake_owner && s->owners_waiting) pthread_cond_broadcast(&s->owned);
        if (nd) {
            pthread_mutex_unlock(&s->mu);
            for (int i = 0; i < nd; i++) MHD_resume_connection(done[i]->conn);
            pthread_mutex_lock(&s->mu);
        }
    }
    s->free_lanes[s->nfree++] = L;
    s->leaders--;
    while (!own->finished) {   /* another leader took (part of) it: rare */
        s->owners_waiting++;
        pthread_cond_wait(&s->owned, &s->mu);
        s->owners_waiting--;
    }
    pthread_mutex_unlock(&s->mu);
}

static void lane_free(ng_lane *L)
{
    ng_exec_free(L->e);
    free(L->xb);
    free(L->sl);
    free(L->done);
}

ng_status ng_batch_start(ng_server *s)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->full, &ca);
    pthread_cond_init(&s->owned, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    s->batch_ready = 1;
    s->lanes = calloc((size_t)s->nlanes, sizeof *s->lanes);
    s->free_lanes = calloc((size_t)s->nlanes, sizeof *s->free_lanes);
    if (!s->lanes || !s->free_lanes) return ng_fail(NG_E_NOMEM, "out of memory");
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = 1;
    size_t mb = (size_t)s->o.max_batch;
    for (int i = 0; i < s->nlanes; i++) {
        ng_lane *L = &s->lanes[i];
        ng_status st = ng_exec_new(s->model, &eo, &L->e);
        if (st != NG_OK) return st;
        L->xb = malloc(mb * (size_t)s->dim * sizeof *L->xb);
        L->sl = malloc(mb * sizeof *L->sl);
        L->done = malloc(mb * sizeof *L->done);
        if (!L->xb || !L->sl || !L->done) return ng_fail(NG_E_NOMEM, "out of memory for %zu-image batches", mb);
        s->free_lanes[s->nfree++] = L;
    }
    return NG_OK;
}

void ng_batch_stop(ng_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop_workers = 1;
    pthread_cond_broadcast(&s->full);
    pthread_mutex_unlock(&s->mu);
}

void ng_batch_free(ng_server *s)
{
    if (!s->batch_ready) return;
    for (int i = 0; s->lanes && i < s->nlanes; i++) lane_free(&s->lanes[i]);
    free(s->lanes);
    free(s->free_lanes);
    s->lanes = NULL;
    s->free_lanes = NULL;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->full);
    pthread_cond_destroy(&s->owned);
    s->batch_ready = 0;
}
