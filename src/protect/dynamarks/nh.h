/* protect/dynamarks/nh.h - NH-Toeplitz, the watermark's universal hash of the input (UMAC's NH,
 * Black, Halevi, Krawczyk, Krovetz, Rogaway, CRYPTO 1999), four iterations.
 *
 * For a chunk of l 32-bit words m (zero-padded to a multiple of NG_NH_PAD words, l' words) and a
 * key of l' + 12 words k, iteration j = 0..3 uses the key shifted by 4j words:
 *     NH_j = sum over i < l'/2 of ((m[2i] + k[2i+4j]) mod 2^32) * ((m[2i+1] + k[2i+1+4j]) mod 2^32)  mod 2^64
 * NH is 2^-32-almost-universal on equal-length inputs, and the four Toeplitz iterations together
 * 2^-128-almost-universal (UMAC paper, the NH and Toeplitz theorems). */
#ifndef NG_DYNAMARKS_NH_H
#define NG_DYNAMARKS_NH_H
#include <stddef.h>
#include <stdint.h>

#define NG_NH_CHUNK 1024   /* words of input per NH call (the last chunk may be shorter) */
#define NG_NH_PAD   8      /* chunks are zero-padded to a multiple of this many words */
#define NG_NH_ITER  4
#define NG_NH_KEY_WORDS (NG_NH_CHUNK + 4 * (NG_NH_ITER - 1))

/* The four NH values of the l words at m (l <= NG_NH_CHUNK; float32 inputs are read as their bit
 * patterns, any alignment) under key k (NG_NH_KEY_WORDS words). */
typedef void (*ng_nh_fn)(const uint32_t *k, const void *m, size_t l, uint64_t out[NG_NH_ITER]);
/* The fastest implementation this CPU runs (AVX2, SSE2 or portable C); all give the same values. */
ng_nh_fn ng_nh_best(void);
/* Implementation i (0 portable, 1 SSE2, 2 AVX2), NULL when this CPU or build lacks it: tests
 * compare each with the portable one. */
ng_nh_fn ng_nh_variant(int i);
/* The portable one. */
void ng_nh_ref(const uint32_t *k, const void *m, size_t l, uint64_t out[NG_NH_ITER]);
#endif
