/* engine/v16.h - the 16-float generic vector of the direct convolution kernels (dconv.c,
 * dwconv.c, ops_conv.c): one AVX-512 register, two AVX2 ones, lowered per target clone by
 * GCC and clang alike. */
#ifndef NG_ENGINE_V16_H
#define NG_ENGINE_V16_H
#include <stdint.h>

typedef float   ng_v16  __attribute__((vector_size(64)));
typedef int32_t ng_v16i __attribute__((vector_size(64)));

/* NG_V16_SHUF: the lanes of the 32 floats a:b at 16 indices; the even / odd lanes of a:b (stride-2
 * rows). GCC and clang spell the shuffle differently. */
#if defined(__clang__)
#define NG_V16_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define NG_V16_SHUF(a, b, ...) __builtin_shuffle(a, b, (ng_v16i){ __VA_ARGS__ })
#endif
#if defined(__clang__)
#define NG_V16_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define NG_V16_ODD(a, b)  __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)
#else
#define NG_V16_EVEN(a, b) __builtin_shuffle(a, b, (ng_v16i){ 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30 })
#define NG_V16_ODD(a, b)  __builtin_shuffle(a, b, (ng_v16i){ 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31 })
#endif
#endif
