/* bench/bench_serve.c - the two halves of the serving limit, for scripts/bench_serve.sh.
 *
 *   bench_serve infer MODEL [BATCH] [SECONDS]   in-process inference, images/s at BATCH (default 256)
 *                                               on all cores (one exec), no HTTP
 *   bench_serve static ANSWER_FILE [THREADS]    libmicrohttpd's own epoll thread pool (one thread per
 *                                               core), reading each POST body in full and answering
 *                                               the bytes of ANSWER_FILE: the HTTP side alone (nnguard
 *                                               serve runs one daemon per core in its own event loop
 *                                               instead, to batch without handing requests between
 *                                               threads). Prints its port, serves until SIGINT/SIGTERM.
 * 1 / (1/static + 1/inference) is what one machine can do when both halves share its cores.
 * `infer` also prints the CPU time per image (all threads): on a machine shared with other work
 * the CPU time per request is the steadier figure. */
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <microhttpd.h>
#include "nnguard/nnguard.h"
#include "core/core.h"
#include "core/pool.h"

static char *answer;
static size_t answer_len;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    if (!*ctx) { *ctx = (void *)1; return MHD_YES; }
    if (*upload_size) { *upload_size = 0; return MHD_YES; }   /* read and drop the body */
    struct MHD_Response *r = MHD_create_response_from_buffer(answer_len, answer, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static int run_static(const char *file, int threads)
{
    uint8_t *d;
    if (ng_read_file(file, 1 << 20, &d, &answer_len) != NG_OK) { fprintf(stderr, "%s\n", ng_last_error()); return 1; }
    answer = (char *)d;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    struct MHD_Daemon *dm = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO,
                                             0, NULL, NULL, handler, NULL,
                                             MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 0 ? threads : ng_ncpu()),
                                             MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                             MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (!dm) { fprintf(stderr, "bench_serve: cannot start libmicrohttpd\n"); return 1; }
    printf("listening on http://127.0.0.1:%u\n", MHD_get_daemon_info(dm, MHD_DAEMON_INFO_BIND_PORT)->port);
    fflush(stdout);
    int sig;
    sigwait(&s, &sig);
    MHD_stop_daemon(dm);
    free(d);
    return 0;
}

static int run_infer(const char *path, int batch, double secs)
{
    ng_model *m;
    ng_dataset te;
    if (ng_model_load(path, &m) != NG_OK || ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &te) != NG_OK) {
        fprintf(stderr, "bench_serve: %s\n", ng_last_error());
        return 1;
    }
    ng_exec *e;
    ng_exec_options o = ng_exec_options_default();
    ng_exec_new(m, &o, &e);
    const float *z;
    ng_shape os;
    int64_t done = 0, off = 0;
    ng_exec_forward(e, te.x, batch, &z, &os);   /* warm-up: buffers sized */
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = ng_now();
    while (ng_now() - t0 < secs) {
        if (off + batch > te.n) off = 0;
        ng_exec_forward(e, te.x + off * 784, batch, &z, &os);
        off += batch;
        done += batch;
    }
    double wall = ng_now() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                 1e-6 * (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
    printf("inference_images_per_s %.0f cpu_us_per_image %.2f\n", (double)done / wall, 1e6 * cpu / (double)done);
    ng_exec_free(e);
    ng_model_free(m);
    ng_dataset_free(&te);
    return 0;
}

int main(int argc, char **argv)
{
    ng_blas_reexec(argv);
    ng_init();
    if (argc >= 3 && !strcmp(argv[1], "infer"))
        return run_infer(argv[2], argc > 3 ? atoi(argv[3]) : 256, argc > 4 ? atof(argv[4]) : 5.0);
    if (argc >= 3 && !strcmp(argv[1], "static")) return run_static(argv[2], argc > 3 ? atoi(argv[3]) : 0);
    fprintf(stderr, "usage: bench_serve infer MODEL [BATCH] [SECONDS] | bench_serve static ANSWER_FILE [THREADS]\n");
    return 2;
}
