/* nnguard/rng.h - the library's seedable random number generator.
 *
 * xoshiro256** seeded through splitmix64. A value type: every user owns its own
 * state, there is no global generator, and every run is reproducible from its
 * seed. Not for keys: keys come from the OS CSPRNG (libsodium randombytes).
 *
 *     ng_rng r; ng_rng_seed(&r, 42);
 *     float u = ng_rng_uniform(&r);     // [0,1)
 */
#ifndef NNGUARD_RNG_H
#define NNGUARD_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct ng_rng { uint64_t s[4]; } ng_rng;

void     ng_rng_seed(ng_rng *r, uint64_t seed);
uint64_t ng_rng_u64(ng_rng *r);
uint32_t ng_rng_below(ng_rng *r, uint32_t n);          /* uniform in [0, n), unbiased; n > 0 */
float    ng_rng_uniform(ng_rng *r);                    /* uniform in [0, 1) */
float    ng_rng_normal(ng_rng *r);                     /* standard normal (Box-Muller) */
void     ng_rng_shuffle_u32(ng_rng *r, uint32_t *a, size_t n); /* Fisher-Yates */
/* Derive an independent generator (e.g. one per worker thread) from r. */
void     ng_rng_split(ng_rng *r, ng_rng *child);

#endif
