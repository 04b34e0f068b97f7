/* protect/dynamarks/nh.c - NH-Toeplitz over 32-bit words (definition in nh.h): portable C, SSE2
 * and AVX2 (PMULUDQ multiplies the low 32-bit halves of 64-bit lanes: one vector add of message
 * and key words, one shift, one multiply per 2 / 4 products). */
#include <string.h>
#include "nh.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* 32-bit words read through any type (the input is float32) at any alignment */
typedef uint32_t __attribute__((may_alias, aligned(1))) word;

void ng_nh_ref(const uint32_t *k, const void *mv, size_t l, uint64_t out[NG_NH_ITER])
{
    const word *m = mv;
    for (int j = 0; j < NG_NH_ITER; j++) {
        const uint32_t *kj = k + 4 * j;
        uint64_t s = 0;
        size_t i = 0;
        for (; i + 1 < l; i += 2) s += (uint64_t)(uint32_t)(m[i] + kj[i]) * (uint32_t)(m[i + 1] + kj[i + 1]);
        /* the zero padding: words l .. l' - 1 are 0, so each pair is (k[2i]) (k[2i+1]) */
        if (i < l) { s += (uint64_t)(uint32_t)(m[i] + kj[i]) * kj[i + 1]; i += 2; }
        for (; i % NG_NH_PAD; i += 2) s += (uint64_t)kj[i] * kj[i + 1];
        out[j] = s;
    }
}

#if defined(__x86_64__)
/* The last partial block of a chunk, zero-padded to NG_NH_PAD words. */
static size_t tail_block(const void *m, size_t l, uint32_t buf[NG_NH_PAD])
{
    size_t full = l / NG_NH_PAD * NG_NH_PAD;
    memset(buf, 0, NG_NH_PAD * sizeof *buf);
    memcpy(buf, (const uint8_t *)m + 4 * full, (l - full) * 4);
    return full;
}

__attribute__((target("avx2")))
static void nh_avx2(const uint32_t *k, const void *mv, size_t l, uint64_t out[NG_NH_ITER])
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, s;
    const uint32_t *m = mv;   /* only read through unaligned vector loads (may alias) */
    uint32_t buf[NG_NH_PAD];
    size_t full = tail_block(mv, l, buf), end = full + (l > full ? NG_NH_PAD : 0);
    for (size_t i = 0; i < end; i += 8) {
        const uint32_t *src = i < full ? m + i : buf;
        __m256i v = _mm256_loadu_si256((const __m256i *)src);
#define NH_STEP(a, o)                                                            \
        s = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)(k + i + (o)))); \
        a = _mm256_add_epi64(a, _mm256_mul_epu32(s, _mm256_srli_epi64(s, 32)));
        NH_STEP(a0, 0) NH_STEP(a1, 4) NH_STEP(a2, 8) NH_STEP(a3, 12)
#undef NH_STEP
    }
    uint64_t t[4][4];
    _mm256_storeu_si256((__m256i *)t[0], a0);
    _mm256_storeu_si256((__m256i *)t[1], a1);
    _mm256_storeu_si256((__m256i *)t[2], a2);
    _mm256_storeu_si256((__m256i *)t[3], a3);
    for (int j = 0; j < NG_NH_ITER; j++) out[j] = t[j][0] + t[j][1] + t[j][2] + t[j][3];
}

static void nh_sse2(const uint32_t *k, const void *mv, size_t l, uint64_t out[NG_NH_ITER])
{
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0, s;
    const uint32_t *m = mv;   /* only read through unaligned vector loads (may alias) */
    uint32_t buf[NG_NH_PAD];
    size_t full = tail_block(mv, l, buf), end = full + (l > full ? NG_NH_PAD : 0);
    for (size_t i = 0; i < end; i += 4) {
        const uint32_t *src = i < full ? m + i : buf + (i - full);
        __m128i v = _mm_loadu_si128((const __m128i *)src);
#define NH_STEP(a, o)                                                      \
        s = _mm_add_epi32(v, _mm_loadu_si128((const __m128i *)(k + i + (o)))); \
        a = _mm_add_epi64(a, _mm_mul_epu32(s, _mm_srli_epi64(s, 32)));
        NH_STEP(a0, 0) NH_STEP(a1, 4) NH_STEP(a2, 8) NH_STEP(a3, 12)
#undef NH_STEP
    }
    uint64_t t[4][2];
    _mm_storeu_si128((__m128i *)t[0], a0);
    _mm_storeu_si128((__m128i *)t[1], a1);
    _mm_storeu_si128((__m128i *)t[2], a2);
    _mm_storeu_si128((__m128i *)t[3], a3);
    for (int j = 0; j < NG_NH_ITER; j++) out[j] = t[j][0] + t[j][1];
}
#endif

ng_nh_fn ng_nh_variant(int i)
{
    if (i == 0) return ng_nh_ref;
#if defined(__x86_64__)
    if (i == 1) return nh_sse2;
    if (i == 2 && __builtin_cpu_supports("avx2")) return nh_avx2;
#endif
    return NULL;
}

ng_nh_fn ng_nh_best(void)
{
#if defined(__x86_64__)
    /* __builtin_cpu_supports also checks that the OS saves the AVX registers */
    return __builtin_cpu_supports("avx2") ? nh_avx2 : nh_sse2;
#else
    return ng_nh_ref;
#endif
}
