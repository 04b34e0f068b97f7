/* core/blas_core.c - does OpenBLAS use the best GEMM kernels this CPU has?
 *
 * Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernels from the CPUID family/model numbers. On
 * virtual machines that report a generic model ("Intel(R) Xeon(R) Processor") it falls back
 * to Prescott (SSE3) kernels even when the CPU has AVX2 or AVX-512: LeNet-5 inference runs
 * about 3x slower; on AMD Zen 4 (AVX-512) it picks its AVX2 Haswell kernels. The choice is made when the library loads, before main(); the only way to
 * change it is the OPENBLAS_CORETYPE environment variable at process start. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cblas.h>
#include "nnguard/init.h"

/* How capable a kernel set is: 0 before AVX, 1 AVX, 2 AVX2+FMA, 3 AVX-512. OpenBLAS 0.3.21 (Debian
 * 12) runs its Haswell kernels on AMD Zen 4, which has AVX-512: there its SkylakeX kernels take
 * about a third less CPU time on LeNet-5 at batch 256 and a quarter less on ResNet-18 (measured
 * with bench_model, CPU seconds, OPENBLAS_CORETYPE=Haswell against SkylakeX). */
static int core_rank(const char *name)
{
    static const char *const r3[] = {"skylakex", "cooperlake", "sapphirerapids"};
    static const char *const r2[] = {"haswell", "zen", "excavator"};
    static const char *const r1[] = {"sandybridge", "bulldozer", "piledriver", "steamroller"};
    for (size_t i = 0; i < sizeof r3 / sizeof r3[0]; i++) if (!strcasecmp(name, r3[i])) return 3;
    for (size_t i = 0; i < sizeof r2 / sizeof r2[0]; i++) if (!strcasecmp(name, r2[i])) return 2;
    for (size_t i = 0; i < sizeof r1 / sizeof r1[0]; i++) if (!strcasecmp(name, r1[i])) return 1;
    return 0;
}

const char *ng_blas_better_core(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    const char *cur = openblas_get_corename();
    if (!cur) return NULL;
    __builtin_cpu_init();
    const char *best = NULL;
    int rank = 0;
    /* __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 registers */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
        best = "SkylakeX", rank = 3;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = "Haswell", rank = 2;
    else if (__builtin_cpu_supports("avx"))
        best = "Sandybridge", rank = 1;
    return best && core_rank(cur) < rank ? best : NULL;
#else
    return NULL;
#endif
}

void ng_blas_reexec(char **argv)
{
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : ng_blas_better_core();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");   /* the exec failed: go on with the kernels we have */
}
