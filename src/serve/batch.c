/* serve/batch.c - the inference workers: requests waiting together share one forward pass.
 *
 * Each worker owns one ng_exec (one thread) on the shared read-only model. One worker at a time
 * gathers the next batch: when fewer than max_batch images wait it waits up to max_delay_us after
 * the oldest one arrived for more (dynamic batching, as serving systems do) while the others run
 * their batches or sleep; only the empty -> non-empty and the batch-full transitions wake anyone.
 * The batch then runs as one forward pass, turns logits into probabilities, applies the watermark, records the marked answers of
 * label mode, and resumes the connections of the requests it completed. */
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

int ng_batch_submit(ng_server *s, ng_job *j)
{
    pthread_mutex_lock(&s->mu);
    if (s->queued + j->n > s->o.max_queue) { pthread_mutex_unlock(&s->mu); return -1; }
    j->t_enq = ng_now();
    j->next = NULL;
    if (s->tail) s->tail->next = j; else s->head = j;
    s->tail = j;
    int was_empty = s->queued == 0;
    s->queued += j->n;
    if (s->collecting) { if (s->queued >= s->o.max_batch) pthread_cond_signal(&s->full); }
    else if (was_empty) pthread_cond_signal(&s->nonempty);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void deadline_ts(double t, struct timespec *ts)
{
    /* ng_now() is CLOCK_MONOTONIC; the condition variable uses the same clock */
    ts->tv_sec = (time_t)t;
    ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

typedef struct slice { ng_job *j; int64_t from, n; } slice;

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

static void *worker(void *arg)
{
    ng_server *s = arg;
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = 1;
    ng_exec *e = NULL;
    ng_status est = ng_exec_new(s->model, &eo, &e);
    int64_t mb = s->o.max_batch;
    float *xb = est == NG_OK ? malloc((size_t)mb * (size_t)s->dim * sizeof *xb) : NULL;
    slice *sl = malloc((size_t)mb * sizeof *sl);
    ng_job **done = malloc((size_t)mb * sizeof *done);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while ((!s->head || s->collecting) && !s->stop_workers) pthread_cond_wait(&s->nonempty, &s->mu);
        if (!s->head) break;   /* stopping and nothing left */
        if (s->collecting) { pthread_cond_wait(&s->nonempty, &s->mu); continue; }   /* stopping */
        s->collecting = 1;
        double deadline = s->head->t_enq + s->o.max_delay_us * 1e-6;
        while (s->queued < mb && !s->stop_workers && ng_now() < deadline) {
            struct timespec ts;
            deadline_ts(deadline, &ts);
            pthread_cond_timedwait(&s->full, &s->mu, &ts);
        }
        s->collecting = 0;
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
        if (s->stop_workers) pthread_cond_broadcast(&s->nonempty);
        else if (s->head) pthread_cond_signal(&s->nonempty);   /* more left: another worker gathers it */
        pthread_mutex_unlock(&s->mu);

        const float *logits = NULL;
        ng_shape os;
        ng_status st = est != NG_OK || !xb || !sl || !done ? NG_E_NOMEM : NG_OK;
        if (st == NG_OK) {
            int64_t off = 0;
            for (int i = 0; i < ns; i++) {
                memcpy(xb + off * s->dim, sl[i].j->x + sl[i].from * s->dim, (size_t)(sl[i].n * s->dim) * sizeof *xb);
                off += sl[i].n;
            }
            st = ng_exec_forward(e, xb, tot, &logits, &os);
        }
        int64_t marked = 0, off = 0;
        for (int i = 0; i < ns; i++) {
            if (st != NG_OK) { sl[i].j->st = st; continue; }
            for (int64_t r = 0; r < sl[i].n; r++)
                answer_row(s, sl[i].j, sl[i].from + r, logits + (off + r) * s->classes, &marked);
            off += sl[i].n;
        }
        atomic_fetch_add(&s->metrics.batches, 1);
        atomic_fetch_add(&s->metrics.batch_images, (uint64_t)tot);
        atomic_fetch_add(&s->metrics.watermarked, (uint64_t)marked);
        int nd = 0;
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < ns; i++) {
            ng_job *j = sl[i].j;
            j->done += sl[i].n;
            if (j->done == j->n) { j->finished = 1; done[nd++] = j; }
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < nd; i++) MHD_resume_connection(done[i]->conn);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    free(xb);
    free(sl);
    free(done);
    ng_exec_free(e);
    return NULL;
}

ng_status ng_batch_start(ng_server *s)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->nonempty, &ca);
    pthread_cond_init(&s->full, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers) return ng_fail(NG_E_NOMEM, "out of memory");
    for (int i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker, s) != 0) {
            ng_batch_stop(s);
            return ng_fail(NG_E_NOMEM, "cannot start inference worker threads");
        }
        s->workers_started++;
    }
    return NG_OK;
}

void ng_batch_stop(ng_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop_workers = 1;
    pthread_cond_broadcast(&s->nonempty);
    pthread_cond_broadcast(&s->full);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->workers_started; i++) pthread_join(s->workers[i], NULL);
    s->workers_started = 0;
}
