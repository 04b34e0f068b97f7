/* core/blas_core.c - does OpenBLAS use the best GEMM kernels this CPU has?
 *
 * Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from the CPUID family/model numbers. On
 * virtual machines that report a generic model ("Intel(R) Xeon(R) Processor") it falls back
 * to Prescott (SSE3) kernels even when the CPU has AVX2 or AVX-512: LeNet-5 inference runs
 * about 3x slower. The choice is made when the library loads, before main(); the only way to
 * change it is the OPENBLAS_CORETYPE environment variable at process start. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cblas.h>
#include "nnguard/init.h"

/* Kernels older than Haswell: worth replacing when the CPU can run better ones. */
static int weak_core(const char *name)
{
    static const char *const weak[] = {"prescott", "core2", "penryn", "dunnington", "nehalem",
                                       "atom", "sandybridge", "unknown", "katmai", "northwood"};
    for (size_t i = 0; i < sizeof weak / sizeof weak[0]; i++)
        if (!strcasecmp(name, weak[i])) return 1;
    return 0;
}

const char *ng_blas_better_core(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    const char *cur = openblas_get_corename();
    if (!cur || !weak_core(cur)) return NULL;
    __builtin_cpu_init();
    /* __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 registers */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx") && strcasecmp(cur, "sandybridge") != 0) return "Sandybridge";
#endif
    return NULL;
}

void ng_blas_reexec(char **argv)
{
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : ng_blas_better_core();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");   /* the exec failed: go on with the kernels we have */
}
