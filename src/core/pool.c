/* core/pool.c - fixed worker pool: workers wait for a generation counter to change, run their
 * chunk, and report back.
 *
 * Waiting spins first, then sleeps. A forward pass at batch 1 is a hundred or more short parallel
 * loops (MobileNetV2: ~200 per image, each 20-200 us); if every wait sleeps on a condition variable,
 * every loop pays a futex wake of the other thread, and on a virtual machine an idle vCPU is halted:
 * waking it costs tens of microseconds, and more or less depending on where the scheduler put the
 * threads, so batch-1 times varied 2x between processes. So a worker that finished its chunk (and
 * the caller waiting for the workers) polls the shared counters for up to NG_POOL_SPIN_US
 * microseconds (default 200; 0 = always sleep at once) before it sleeps on the condition variable,
 * as ONNX Runtime's and OpenMP's pools do. The spin is bounded, so an idle pool costs nothing, and
 * by default it is off while the machine is oversubscribed (busy_machine): there spinning only
 * steals time. NG_POOL_SPIN_US set explicitly spins that long whatever the load.
 *
 * Where the workers start: a new thread tends to start on its creator's CPU and stays there until
 * the load balancer moves it, which on this 2-vCPU VM took the first ~10 forwards of MobileNetV2 at
 * batch 1 (6.2-8.0 ms each against 4.0-4.3 after; one thread: 5.3-6.7). So by default each worker
 * first pins itself to a CPU of the caller's mask other than the caller's current one, then widens
 * its mask back to the caller's whole mask: it starts where it should and nothing stays pinned
 * (MobileNetV2 b1: 4.0-4.1 ms from the second forward on). NG_POOL_PLACE=0 turns that off.
 *
 * NG_POOL_PIN=1 (off by default) pins each thread of a pool of n to its own CPU of those the caller
 * may run on: the caller to the first, worker w to the (w mod count)-th. The caller's own mask is
 * put back when the pool is freed on the thread that made it. For measuring whether a batch-1
 * time depends on where the scheduler puts the threads; a library should not hold its caller's
 * thread to one CPU otherwise. */
#define _GNU_SOURCE   /* pthread_{get,set}affinity_np, CPU_* */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/pool.h"
#include "core/core.h"

#define SPIN_US_DEFAULT 200
#define PAUSE_POLLS 256   /* ~5 us of pause-hinted polling before the waiter starts yielding */

struct ng_pool {
    int n;                 /* workers including the caller */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_ulong gen;      /* bumped (under mu) to start a loop */
    atomic_int pending;    /* workers still running the current loop */
    atomic_int stop;
    long spin_ns;          /* how long a waiter polls before it sleeps (NG_POOL_SPIN_US) */
    atomic_int spin;       /* 0: the machine is oversubscribed, sleep at once (busy_machine) */
    long checked;          /* when the caller last looked at the load (mono_ns) */
    int spin_auto;         /* NG_POOL_SPIN_US not set: spin only while the machine is not busy */
    ng_pool_body body;
    void *arg;
    int64_t total;
    int pin;               /* NG_POOL_PIN=1 and the caller may run on 2+ CPUs: cpus[] holds them */
    int place;             /* no pinning, 2+ CPUs: each worker starts on a CPU of cpus[] other than
                              the caller's (cpus[here]), then runs on the caller's whole mask */
    int here;
    int ncpus;
    int *cpus;
    pthread_t owner;       /* the thread that made the pool (pinned to cpus[0]) */
    cpu_set_t caller_set;  /* its mask before, restored by ng_pool_free on that thread */
};

int ng_ncpu(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Poll until the generation differs from seen (want_gen) or pending reaches 0 (!want_gen), or the
 * spin budget runs out; returns whether the condition was met. The first few microseconds poll with
 * the CPU's pause hint; after that each poll yields the core, so that on a loaded machine a spinning
 * worker hands its time to whatever else is runnable (our own caller thread included). */
static int spin_wait(ng_pool *p, int want_gen, unsigned long seen)
{
    if (p->spin_ns <= 0 || !atomic_load_explicit(&p->spin, memory_order_relaxed)) return 0;
    long end = 0;
    for (unsigned k = 0;; k++) {
        if (want_gen ? (atomic_load_explicit(&p->gen, memory_order_acquire) != seen ||
                        atomic_load_explicit(&p->stop, memory_order_relaxed))
                     : atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
            return 1;
        if (k < PAUSE_POLLS) { cpu_relax(); continue; }
        sched_yield();
        if ((k & 15) == 15) {   /* read the clock every 16 yields */
            long now = mono_ns();
            if (!end) end = now + p->spin_ns;
            else if (now >= end) return 0;
        }
    }
}

/* Pin the calling thread to the one CPU cpu; 0 on success. */
static int pin_to(int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return pthread_setaffinity_np(pthread_self(), sizeof one, &one);
}

/* The CPUs the caller may run on, in p->cpus: for NG_POOL_PIN=1 (p->pin), else for the placement
 * of the workers' start (p->place, unless NG_POOL_PLACE=0); neither with fewer than 2. */
static void cpu_plan(ng_pool *p)
{
    const char *s = getenv("NG_POOL_PIN"), *pl = getenv("NG_POOL_PLACE");
    const int pin = s && !strcmp(s, "1");
    if (p->n < 2 || (!pin && pl && pl[0] == '0')) return;
    p->owner = pthread_self();
    if (pthread_getaffinity_np(p->owner, sizeof p->caller_set, &p->caller_set) != 0) return;
    const int count = CPU_COUNT(&p->caller_set), cur = sched_getcpu();
    if (count < 2 || !(p->cpus = ng_calloc((size_t)count, sizeof *p->cpus))) return;
    for (int c = 0; c < CPU_SETSIZE && p->ncpus < count; c++) {
        if (c == cur) p->here = p->ncpus;
        if (CPU_ISSET(c, &p->caller_set)) p->cpus[p->ncpus++] = c;
    }
    p->pin = pin && p->ncpus >= 2;
    p->place = !pin && p->ncpus >= 2;
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
    if (p->pin) pin_to(p->cpus[w % p->ncpus]);   /* p->cpus is set before any worker starts */
    if (p->place && pin_to(p->cpus[(p->here + w) % p->ncpus]) == 0)   /* moved there now, then */
        pthread_setaffinity_np(pthread_self(), sizeof p->caller_set, &p->caller_set);   /* free again */
    unsigned long seen = 0;
    for (;;) {
        if (!spin_wait(p, 1, seen)) {
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->go, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = atomic_load_explicit(&p->gen, memory_order_acquire);
        run_chunk(p, w);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            /* the caller may be asleep: it checks pending under mu before it waits */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* More runnable threads than twice the cores over the last minute (other processes included):
 * a spinning waiter would only take time from threads that have work, ours among them, and every
 * yield hands the core away for a whole time slice. Measured on 2 cores at load 8-9: MobileNetV2
 * batch 1 took 32-36 ms sleeping at once, 32-55 ms spinning 200 us. */
static int busy_machine(void)
{
    double l;
    return getloadavg(&l, 1) == 1 && l > 2.0 * ng_ncpu();
}

static long spin_ns_from_env(void)
{
    const char *s = getenv("NG_POOL_SPIN_US");
    if (!s || !*s) return SPIN_US_DEFAULT * 1000L;
    char *end;
    long us = strtol(s, &end, 10);
    if (*end || us < 0 || us > 100000) return SPIN_US_DEFAULT * 1000L;   /* not a number: the default */
    return us * 1000L;
}

ng_pool *ng_pool_new(int threads)
{
    ng_pool *p = ng_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = threads > 0 ? threads : ng_ncpu();
    p->spin_ns = spin_ns_from_env();
    p->spin_auto = !getenv("NG_POOL_SPIN_US");
    atomic_init(&p->spin, !p->spin_auto || !busy_machine());
    p->checked = mono_ns();
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    cpu_plan(p);
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
    if (p->pin) pin_to(p->cpus[0]);   /* after the workers were made: they inherit the caller's full mask */
    return p;
}

int ng_pool_size(const ng_pool *p) { return p ? p->n : 1; }

void ng_pool_for(ng_pool *p, int64_t n, ng_pool_body body, void *arg)
{
    if (n <= 0) return;
    if (!p || p->n == 1 || n == 1) { body(arg, 0, n, 0); return; }
    if (p->spin_ns > 0 && p->spin_auto) {   /* look at the load again once a second */
        long now = mono_ns();
        if (now - p->checked > 1000000000L) { p->checked = now; atomic_store_explicit(&p->spin, !busy_machine(), memory_order_relaxed); }
    }
    p->body = body; p->arg = arg; p->total = n;   /* no worker reads them until gen moves */
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    run_chunk(p, 0);
    if (spin_wait(p, 0, 0)) return;
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void ng_pool_free(ng_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->th[i], NULL);
    if (p->pin && pthread_equal(p->owner, pthread_self()))
        pthread_setaffinity_np(p->owner, sizeof p->caller_set, &p->caller_set);
    free(p->cpus);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}
