/* bench/bench_util.h - what the benchmarks share: medians, a safetensors file of F32 tensors,
 * `cp` of a file as a child process (the peer of file-to-file runs), page-cache warming, and a
 * byte comparison of two files. Header-only (each bench is one executable). */
#ifndef NG_BENCH_UTIL_H
#define NG_BENCH_UTIL_H
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "nnguard/nnguard.h"
#include "nnguard/safetensors.h"
#include "core/core.h"

#define MAXREPS 50

extern char **environ;

static inline double gbps(double bytes, double s) { return bytes / s / 1e9; }

/* CPU seconds (user + system) used so far by this process (all its threads) or by its waited-for
 * children: on a loaded machine the work done, where wall time mostly measures the other load. */
static inline double cpu_seconds(int who)
{
    struct rusage u;
    if (getrusage(who, &u) != 0) return 0;
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

static inline int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline double median(const double *v, int n)
{
    double s[MAXREPS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_d);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* A safetensors file of nt F32 tensors "layerNN.weight" (total / nt bytes each) holding buf. */
static inline int make_file_nt(const char *path, size_t total, const uint8_t *buf, int nt)
{
    ng_st_header *h;
    if (ng_st_header_new(&h) != NG_OK) return -1;
    for (int i = 0; i < nt; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer%02d.weight", i);
        ng_shape s = {2, {(int64_t)(total / (size_t)nt / 4 / 1024), 1024}};
        ng_st_header_add(h, name, NG_DT_F32, &s);
    }
    uint8_t *hdr;
    size_t hlen;
    ng_status st = ng_st_header_serialize(h, &hdr, &hlen);
    ng_st_header_free(h);
    if (st != NG_OK) return -1;
    ng_awriter w;
    st = ng_awrite_open(&w, path, NG_MODE_PUBLIC);
    if (st == NG_OK) st = ng_awrite(&w, hdr, hlen);
    if (st == NG_OK) st = ng_awrite(&w, buf, total);
    if (st == NG_OK) st = ng_awrite_commit(&w);
    free(hdr);
    return st == NG_OK ? 0 : -1;
}

/* `cp in out` as a child process; with sync, then fsync of out. Seconds, or -1. */
static inline double run_cp(const char *in, const char *out, int sync)
{
    char *argv[] = {"cp", (char *)in, (char *)out, NULL};
    pid_t pid;
    int status = 0;
    double t0 = ng_now();
    if (posix_spawnp(&pid, "cp", NULL, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) != pid ||
        !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    if (sync) {
        int fd = open(out, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) { if (fd >= 0) close(fd); return -1; }
        close(fd);
    }
    return ng_now() - t0;
}

/* Read a file once so that it is in the page cache for every timed run. */
static inline void warm(const char *path)
{
    static uint8_t b[1 << 20];
    int fd = open(path, O_RDONLY);
    while (fd >= 0 && read(fd, b, sizeof b) > 0) {}
    if (fd >= 0) close(fd);
}

static inline int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    static uint8_t x[1 << 20], y[1 << 20];
    int same = fa && fb;
    while (same) {
        size_t na = fread(x, 1, sizeof x, fa), nb = fread(y, 1, sizeof y, fb);
        same = na == nb && memcmp(x, y, na) == 0;
        if (na == 0) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

#endif
