/* bench_neumf.c - one NeuMF epoch (defaults: 8 factors, MLP 64-32-16-8, 4
 * negatives, batch 256, Adam) on ML-100K and on a generated 1M-interaction
 * data set; prints samples per second, the median of RUNS fits of one
 * epoch each, for 1 and 2 threads. tests/bench/neumf_ref.py times the same
 * model in PyTorch.
 *
 *   bench_neumf [ML100K_DIR [RUNS]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "model.h"
#include "neumf.h"
#include "rng.h"

/* U users, I items, NNZ interactions with Zipf-like item popularity. */
static RsMatrix *generate(size_t U, size_t I, size_t NNZ)
{
    RsRng rng;
    rng_seed(&rng, 42);
    RsTriplet *t = malloc(NNZ * sizeof *t);
    for (size_t k = 0; k < NNZ; k++) {
        uint32_t u = (uint32_t)(k % U);
        double x = rng_uniform(&rng);
        uint32_t i = (uint32_t)((double)I * x * x * x);
        t[k] = (RsTriplet){u, i < I ? i : (uint32_t)I - 1, NAN, RS_NO_TS};
    }
    RsMatrix *m = NULL;
    RsErr err;
    if (rs_matrix_build(U, I, t, NNZ, &m, &err))
        fprintf(stderr, "%s\n", err.msg);
    free(t);
    return m;
}

static void bench(const char *name, const RsMatrix *t, int nthreads, int runs)
{
    double med = bench_epoch_seconds(&model_neumf, t, nthreads, runs);
    if (med < 0)
        exit(1);
    double samples = (double)t->NNZ * 5;
    printf("neumf epoch %-8s %zu samples, %d thread(s): %.3f s, %.0f samples/s\n", name,
           (size_t)samples, nthreads, med, samples / med);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/datasets/ml-100k";
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    RsMatrix *ml = bench_load_udata(dir);
    if (ml) {
        bench("ml-100k", ml, 1, runs);
        bench("ml-100k", ml, 2, runs);
        rs_matrix_free(ml);
    } else {
        printf("neumf epoch ml-100k: skipped (%s/u.data not found)\n", dir);
    }
    RsMatrix *g = generate(6040, 3706, 1000000);
    bench("gen-1m", g, 1, runs);
    bench("gen-1m", g, 2, runs);
    rs_matrix_free(g);
    return 0;
}
