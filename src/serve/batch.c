/* serve/batch.c - batching: requests waiting together share one forward pass.
 *
 * Each HTTP event loop (server.c) batches its own requests: one pass of the loop reads every
 * connection that is ready, parses each complete request and queues it, its connection
 * suspended; after the pass the loop runs what is queued as forward passes of up to max_batch
 * images (while fewer wait and more keep coming, it waits for them: until a pass brings none
 * within NG_BATCH_GAP_US, at most max_delay_us after the oldest request, and not at all when
 * every open connection of the loop has its request queued: none can send another before its
 * answer; waiting longer when nothing arrives would only leave the core idle), turns
 * logits into probabilities, applies the watermark, records the marked answers of label mode
 * and resumes the connections, whose answers the next pass sends. No lock, no thread hand-off,
 * no wake-up: the requests that arrive while a batch runs form the next one. */
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
    ng_wm_apply_hash(s->o.wm, j->digests + r * NG_WM_HASH_BYTES, p, &a);
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

void ng_loop_submit(ng_loop *l, ng_job *j)
{
    j->t_enq = ng_now();
    j->next = NULL;
    if (l->tail) l->tail->next = j; else l->head = j;
    l->tail = j;
    l->queued += j->n;
    l->jobs++;
    l->submitted++;
}

int64_t ng_loop_run_batches(ng_loop *l, int force)
{
    ng_server *s = l->s;
    int64_t mb = s->o.max_batch;
    l->resumed = 0;
    while (l->head) {
        /* every open connection waits for its answer (a client sends its next request on a
         * connection after the answer): no request can come, waiting would only idle the core */
        if (!force && l->queued < mb && l->submitted != l->seen && l->jobs < l->conns) {
            l->seen = l->submitted;
            double wait = l->head->t_enq + s->o.max_delay_us * 1e-6 - ng_now();
            if (wait > 0) return wait * 1e6 < NG_BATCH_GAP_US ? (int64_t)(wait * 1e6) + 1 : NG_BATCH_GAP_US;
        }
        int ns = 0;
        int64_t tot = 0;
        while (l->head && tot < mb) {
            ng_job *j = l->head;
            int64_t k = j->n - j->taken;
            if (k > mb - tot) k = mb - tot;
            l->sl[ns++] = (slice){ j, j->taken, k };
            memcpy(l->xb + tot * s->dim, j->x + j->taken * s->dim, (size_t)(k * s->dim) * sizeof *l->xb);
            j->taken += k;
            tot += k;
            l->queued -= k;
            if (j->taken == j->n) { l->head = j->next; if (!l->head) l->tail = NULL; l->jobs--; }
        }
        const float *logits = NULL;
        ng_shape os;
        ng_status st = ng_exec_forward(l->e, l->xb, tot, &logits, &os);
        int64_t marked = 0, off = 0;
        int nd = 0;
        for (int i = 0; i < ns; i++) {
            ng_job *j = l->sl[i].j;
            if (st != NG_OK) j->st = st;
            else
                for (int64_t r = 0; r < l->sl[i].n; r++)
                    answer_row(s, j, l->sl[i].from + r, logits + (off + r) * s->classes, &marked);
            off += l->sl[i].n;
            j->done += l->sl[i].n;
            if (j->done == j->n) { j->finished = 1; l->done[nd++] = j; }
        }
        atomic_fetch_add(&s->metrics.batches, 1);
        atomic_fetch_add(&s->metrics.batch_images, (uint64_t)tot);
        atomic_fetch_add(&s->metrics.watermarked, (uint64_t)marked);
        for (int i = 0; i < nd; i++) MHD_resume_connection(l->done[i]->conn);
        l->resumed += nd;
    }
    return 0;
}

ng_status ng_loop_init(ng_server *s, ng_loop *l)
{
    l->s = s;
    ng_exec_options eo = ng_exec_options_default();
    eo.threads = 1;
    eo.const_params = 1;   /* the served model never changes while the server runs */
    ng_status st = ng_exec_new(s->model, &eo, &l->e);
    if (st != NG_OK) return st;
    size_t mb = (size_t)s->o.max_batch;
    l->xb = malloc(mb * (size_t)s->dim * sizeof *l->xb);
    l->sl = malloc(mb * sizeof *l->sl);
    l->done = malloc(mb * sizeof *l->done);
    if (!l->xb || !l->sl || !l->done) return ng_fail(NG_E_NOMEM, "out of memory for %zu-image batches", mb);
    return NG_OK;
}

void ng_loop_free(ng_loop *l)
{
    ng_exec_free(l->e);
    free(l->xb);
    free(l->sl);
    free(l->done);
}
