/* core/pool.c - fixed worker pool: workers wait on a condition variable for a
 * generation counter to change, run their chunk, and report back. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "core/pool.h"
#include "core/core.h"

struct ng_pool {
    int n;                 /* workers including the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen;
    int pending, stop;
    ng_pool_body body;
    void *arg;
    int64_t total;
};

int ng_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static void run_chunk(ng_pool *p, int w)
{
    int64_t per = p->total / p->n, rem = p->total % p->n;
    int64_t i0 = w * per + (w < rem ? w : rem);
    int64_t i1 = i0 + per + (w < rem ? 1 : 0);
    if (i1 > i0) p->body(p->arg, i0, i1, w);
}

struct worker_arg { ng_pool *p; int w; };

static void *worker(void *a)
{
    struct worker_arg *wa = a;
    ng_pool *p = wa->p;
    int w = wa->w;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->go, &p->mu);
        if (p->stop) { pthread_mutex_unlock(&p->mu); return NULL; }
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        run_chunk(p, w);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

ng_pool *ng_pool_new(int threads)
{
    ng_pool *p = ng_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = threads > 0 ? threads : ng_ncpu();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    if (p->n > 1) {
        p->th = ng_calloc((size_t)p->n, sizeof *p->th);
        if (!p->th) { p->n = 1; return p; }
        for (int i = 1; i < p->n; i++) {
            struct worker_arg *wa = malloc(sizeof *wa);
            if (wa) { wa->p = p; wa->w = i; }
            if (!wa || pthread_create(&p->th[i], NULL, worker, wa) != 0) {
                free(wa);
                p->n = i; /* run with the workers we have */
                break;
            }
        }
    }
    return p;
}

int ng_pool_size(const ng_pool *p) { return p ? p->n : 1; }

void ng_pool_for(ng_pool *p, int64_t n, ng_pool_body body, void *arg)
{
    if (n <= 0) return;
    if (!p || p->n == 1 || n == 1) { body(arg, 0, n, 0); return; }
    pthread_mutex_lock(&p->mu);
    p->body = body; p->arg = arg; p->total = n;
    p->pending = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_chunk(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void ng_pool_free(ng_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}
