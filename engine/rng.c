/* rng.c - xoshiro256** (Blackman & Vigna, 2018) seeded with splitmix64. */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(RsRng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t rng_next(RsRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(RsRng *r, uint64_t n)
{
    /* Lemire, "Fast random integer generation in an interval" (2019). */
    __uint128_t m = (__uint128_t)rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = -n % n;
        while (lo < thresh) {
            m = (__uint128_t)rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double rng_uniform(RsRng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_normal(RsRng *r)
{
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t rng_stream(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t z = seed ^ (0x9E3779B97F4A7C15ull * (a + 1)) ^ (0xD6E8FEB86659FD93ull * (b + 1));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_shuffle(RsRng *r, void *base, size_t n, size_t size)
{
    unsigned char *b = base, tmp[64];
    for (size_t k = n; k > 1; k--) {
        size_t j = (size_t)rng_below(r, k);
        unsigned char *x = b + (k - 1) * size, *y = b + j * size;
        for (size_t o = 0; o < size; o += sizeof tmp) { /* in chunks: any size */
            size_t c = size - o < sizeof tmp ? size - o : sizeof tmp;
            memcpy(tmp, x + o, c);
            memcpy(x + o, y + o, c);
            memcpy(y + o, tmp, c);
        }
    }
}
