/*
 * bench_load.c - times loading a database into memory (store_load_dataset:
 * users, items with metadata, every interaction into CSR + CSC).
 * usage: bench_load DB [RUNS]; prints one line per run and the median.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "persist.h"
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_load DB [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    double t[32];
    if (runs < 1 || runs > 32)
        runs = 3;
    for (int r = 0; r < runs; r++) {
        Store *s;
        RsDataset *d;
        RsErr err = {0};
        double t0 = now();
        if (store_open(&s, argv[1], STORE_OPEN_READONLY, &err) ||
            store_load_dataset(s, &d, &err)) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            return 1;
        }
        t[r] = now() - t0;
        printf("load %zu users, %zu items, %zu interactions: %.3f s\n", d->all->U, d->all->I,
               d->all->NNZ, t[r]);
        rs_dataset_free(d);
        store_close(s);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    printf("median %.3f s\n", t[runs / 2]);
    return 0;
}
