/*
 * rng.h - small seeded pseudo-random generator (xoshiro256** seeded through
 * splitmix64). Deterministic across platforms: the same seed gives the same
 * stream. Not thread-safe per object; give each thread its own RsRng.
 */
#ifndef RS_RNG_H
#define RS_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct RsRng {
    uint64_t s[4];
} RsRng;

void rng_seed(RsRng *r, uint64_t seed);
uint64_t rng_next(RsRng *r);
/* Uniform integer in [0, n); n > 0. Unbiased (Lemire's method). */
uint64_t rng_below(RsRng *r, uint64_t n);
/* Uniform double in [0, 1). */
double rng_uniform(RsRng *r);
/* Standard normal deviate (Box-Muller, no cached second value). */
double rng_normal(RsRng *r);
/* Shuffles the n elements of size bytes at base in place (Fisher-Yates,
 * from the last element down: rng_below(r, k) for k = n .. 2). */
void rng_shuffle(RsRng *r, void *base, size_t n, size_t size);

/* The seed of an independent stream for (seed, a, b), e.g. (model seed,
 * epoch, part) or (seed, purpose, user): splitmix64's finaliser of a mix
 * of the three, so that streams for nearby (a, b) do not overlap. */
uint64_t rng_stream(uint64_t seed, uint64_t a, uint64_t b);

#endif
