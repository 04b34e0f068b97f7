/* core/alloc.c - checked allocation helpers. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "core/core.h"

void ng_advise_huge(void *p, size_t n)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + n) & ~(huge - 1);
    if (n >= 4 * huge && e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

void *ng_alloc_aligned(size_t n)
{
    void *p = NULL;
    size_t r = (n + 63) & ~(size_t)63;
    if (r < n || posix_memalign(&p, 64, r ? r : 64) != 0) {
        ng_fail(NG_E_NOMEM, "cannot allocate %zu bytes", n);
        return NULL;
    }
    ng_advise_huge(p, r);
    return p;
}

void ng_free_aligned(void *p) { free(p); }

void *ng_calloc(size_t n, size_t size)
{
    void *p = (n && size > SIZE_MAX / n) ? NULL : calloc(n ? n : 1, size ? size : 1);
    if (!p) ng_fail(NG_E_NOMEM, "cannot allocate %zu x %zu bytes", n, size);
    return p;
}

void *ng_reallocarray(void *p, size_t n, size_t size)
{
    void *q = (n && size > SIZE_MAX / n) ? NULL : realloc(p, (n * size) != 0 ? n * size : 1);
    if (!q) ng_fail(NG_E_NOMEM, "cannot allocate %zu x %zu bytes", n, size);
    return q;
}

char *ng_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) { ng_fail(NG_E_NOMEM, "cannot allocate %zu bytes", n); return NULL; }
    return memcpy(d, s, n);
}

double ng_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ng_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
