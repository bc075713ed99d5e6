/*
 * bench_models.c - fit time, peak memory and recommendation latency of one
 * algorithm on a recscope database (all interactions are training data).
 *
 * usage: bench_models DB ALGO [KEY=VALUE...] [runs=N] [users=N]
 * Prints each fit's seconds, the median, the peak resident memory of the
 * process, and p50/p99 latency of recommending 10 items to `users` random
 * users (default 1000) with the last fitted model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "model.h"
#include "parallel.h"
#include "persist.h"
#include "rng.h"
#include "store.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_models DB ALGO [KEY=VALUE...] [runs=N] [users=N]\n");
        return 2;
    }
    const ModelClass *cls = model_class_find(argv[2]);
    if (!cls) {
        fprintf(stderr, "unknown algorithm %s (valid: %s)\n", argv[2], model_class_names());
        return 2;
    }
    int runs = 3, users = 1000;
    const char *kv[32];
    size_t nkv = 0;
    for (int a = 3; a < argc && nkv < 32; a++) {
        if (!strncmp(argv[a], "runs=", 5))
            runs = atoi(argv[a] + 5);
        else if (!strncmp(argv[a], "users=", 6))
            users = atoi(argv[a] + 6);
        else
            kv[nkv++] = argv[a];
    }
    if (runs < 1 || runs > 50)
        runs = 3;
    Store *s;
    RsDataset *d;
    RsErr err = {0};
    ParamValues pv;
    if (store_open(&s, argv[1], STORE_OPEN_READONLY, &err) || store_load_dataset(s, &d, &err) ||
        params_parse(cls->params, cls->nparams, kv, nkv, &pv, &err)) {
        fprintf(stderr, "bench_models: %s\n", err.msg);
        return 1;
    }
    store_close(s);
    double base = peak_mib();
    double t[50];
    RsModel *m = NULL;
    for (int r = 0; r < runs; r++) {
        model_free(m);
        if (model_new(cls, d->all->U, d->all->I, &pv, 42, &m, &err)) {
            fprintf(stderr, "bench_models: %s\n", err.msg);
            return 1;
        }
        FitContext ctx = {.train = d->all, .cat = d->cat, .nthreads = rs_ncpus()};
        double t0 = now();
        if (model_fit(m, &ctx, &err)) {
            fprintf(stderr, "bench_models: %s: %s\n", cls->name, err.msg);
            return 1;
        }
        t[r] = now() - t0;
        printf("%s fit: %.3f s\n", cls->name, t[r]);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    printf("median fit %.3f s\n", t[runs / 2]);
    printf("peak memory %.0f MiB (dataset loaded: %.0f MiB)\n", peak_mib(), base);
    double *lat = malloc((size_t)users * sizeof *lat);
    RsRec rec[10];
    RsRng rng;
    rng_seed(&rng, 7);
    for (int k = 0; k < users; k++) {
        uint32_t u = (uint32_t)rng_below(&rng, d->all->U);
        size_t n;
        double t0 = now();
        if (model_recommend(m, d->all, u, 10, 1, rec, &n, &err)) {
            fprintf(stderr, "bench_models: %s\n", err.msg);
            return 1;
        }
        lat[k] = (now() - t0) * 1e3;
    }
    qsort(lat, (size_t)users, sizeof *lat, cmp);
    printf("recommend latency p50 %.3f ms, p99 %.3f ms (%d users)\n", lat[users / 2],
           lat[(size_t)(0.99 * (users - 1))], users);
    free(lat);
    model_free(m);
    rs_dataset_free(d);
    return 0;
}
