/* tests/tutil.h - tiny assertion helpers for nnguard tests.
 * Each test_*.c is one CTest case; it prints one line per check that fails and
 * a closing "N passed, N failed" line, and exits non-zero on any failure.
 * Add `ctest-label: slow` in a comment for a long test, `ctest-label: heavy` to keep it out of
 * the sanitizer run (.ci/run: -LE heavy) when a shorter test covers its code paths. */
#ifndef NG_TUTIL_H
#define NG_TUTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nnguard/nnguard.h"

static int tu_pass, tu_fail;

#define CHECK(cond) do { if (cond) tu_pass++; else { tu_fail++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECKF(cond, ...) do { if (cond) tu_pass++; else { tu_fail++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
/* Expect NG_OK; print ng_last_error() otherwise. */
#define CHECK_OK(expr) do { ng_status tu_st_ = (expr); if (tu_st_ == NG_OK) tu_pass++; else { tu_fail++; \
    fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #expr, ng_status_str(tu_st_), ng_last_error()); } } while (0)
#define CHECK_ST(expr, want) do { ng_status tu_st_ = (expr); if (tu_st_ == (want)) tu_pass++; else { tu_fail++; \
    fprintf(stderr, "%s:%d: %s -> %s, wanted %s (%s)\n", __FILE__, __LINE__, #expr, ng_status_str(tu_st_), \
            ng_status_str(want), ng_last_error()); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double tu_a_ = (a), tu_b_ = (b); if (fabs(tu_a_ - tu_b_) <= (tol)) tu_pass++; \
    else { tu_fail++; fprintf(stderr, "%s:%d: %s = %.9g, %s = %.9g, differ by more than %g\n", \
    __FILE__, __LINE__, #a, tu_a_, #b, tu_b_, (double)(tol)); } } while (0)

static inline int tu_done(void)
{
    printf("%d passed, %d failed\n", tu_pass, tu_fail);
    return tu_fail ? 1 : 0;
}

/* Path of a file under tests/ (static buffer). */
static inline const char *tu_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", NG_TEST_DIR, rel);
    return buf;
}

/* Fresh temp folder for a test (static buffer). */
static inline const char *tu_tmpdir(void)
{
    static char buf[256];
    if (!buf[0]) {
        snprintf(buf, sizeof buf, "/tmp/nnguard-test-XXXXXX");
        if (!mkdtemp(buf)) { perror("mkdtemp"); exit(2); }
    }
    return buf;
}
#endif
