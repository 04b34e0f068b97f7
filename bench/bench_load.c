/* bench_load: loading a large ONNX model, against Python's onnx.load on the same file in the same run.
 *
 * usage: bench_load FILE.onnx [ROUNDS]   (scripts/bench_load.sh makes a 512 MiB file and runs it)
 * Each round (default 5) times, with the file in the page cache for both:
 *   nnguard  ng_weights_open + ng_model_from_weights + free (what every CLI command does), in process;
 *   peer     `python3 -c "import onnx; onnx.load(FILE)"`: the time of onnx.load alone, measured inside the
 *            child (python start-up and `import onnx` excluded), $PYTHON (default /usr/bin/python3).
 * Prints the medians and the ratio peer / nnguard (> 1: nnguard loads faster; the target >= 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/nnguard.h"
#include "core/core.h"

#define MAXR 50

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double load_ours(const char *path)
{
    double t0 = ng_now();
    ng_model *m;
    if (ng_model_load(path, &m) != NG_OK) { fprintf(stderr, "bench_load: %s\n", ng_last_error()); exit(1); }
    ng_model_free(m);
    return ng_now() - t0;
}

/* onnx.load's own time, printed by the child; the path goes through argv, not the code string. */
static double load_peer(const char *py, const char *path)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c 'import sys, time, onnx; t = time.perf_counter(); onnx.load(sys.argv[1]); "
             "print(time.perf_counter() - t)' '%s'", py, path);
    FILE *f = popen(cmd, "r");
    double s = -1;
    if (!f || fscanf(f, "%lf", &s) != 1) s = -1;
    if (f) pclose(f);
    if (s < 0) { fprintf(stderr, "bench_load: %s with onnx failed\n", py); exit(1); }
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strchr(argv[1], '\'')) { fprintf(stderr, "usage: bench_load FILE.onnx [ROUNDS]\n"); return 2; }
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > MAXR) rounds = 5;
    const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
    ng_init();
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    double mb = (double)ftell(f) / 1e6;
    fclose(f);
    double ours[MAXR] = {0}, peer[MAXR] = {0};
    load_ours(argv[1]);   /* warm the page cache */
    for (int r = 0; r < rounds; r++) {
        peer[r] = load_peer(py, argv[1]);
        ours[r] = load_ours(argv[1]);
        printf("round %d: nnguard %.3f s, onnx.load %.3f s\n", r + 1, ours[r], peer[r]);
    }
    double o = median(ours, rounds), p = median(peer, rounds);
    printf("load %.0f MB: nnguard %.3f s (%.2f GB/s), onnx.load %.3f s; ratio onnx.load / nnguard = %.2fx "
           "(target >= 1.0)\n", mb, o, mb / 1e3 / o, p, p / o);
    return 0;
}
