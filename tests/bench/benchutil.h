/*
 * benchutil.h - what the deep models' epoch benchmarks (bench_neumf.c,
 * bench_gru4rec.c, bench_sasrec.c) share: loading ML-100K's u.data and the
 * median time of one-epoch fits. Header-only: each benchmark is built from
 * its one .c file.
 */
#ifndef RS_BENCHUTIL_H
#define RS_BENCHUTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "dataset.h"
#include "model.h"

#define BENCH_MAX_RUNS 16

/* dir/u.data as a 943 x 1682 matrix (index = id - 1); NULL when the file is
 * absent or cannot be read (saying why on stderr). */
static inline RsMatrix *bench_load_udata(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/u.data", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = 0, cap = 100000;
    RsTriplet *t = malloc(cap * sizeof *t);
    unsigned u, i;
    float r;
    long long ts;
    while (t && fscanf(f, "%u %u %f %lld", &u, &i, &r, &ts) == 4) {
        if (n == cap) {
            RsTriplet *bigger = realloc(t, (cap *= 2) * sizeof *t);
            if (!bigger)
                free(t);
            t = bigger;
        }
        if (t)
            t[n++] = (RsTriplet){u - 1, i - 1, r, ts};
    }
    fclose(f);
    RsMatrix *m = NULL;
    RsErr err;
    if (!t || rs_matrix_build(943, 1682, t, n, &m, &err))
        fprintf(stderr, "cannot load %s: %s\n", path, t ? err.msg : "out of memory");
    free(t);
    return m;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median wall time of `runs` (1..BENCH_MAX_RUNS) fits of one epoch of
 * cls (its defaults otherwise, seed 42) on t with nthreads; -1 after
 * printing the error. */
static inline double bench_epoch_seconds(const ModelClass *cls, const RsMatrix *t, int nthreads,
                                         int runs)
{
    double s[BENCH_MAX_RUNS];
    runs = runs < 1 ? 1 : runs > BENCH_MAX_RUNS ? BENCH_MAX_RUNS : runs;
    for (int r = 0; r < runs; r++) {
        ParamValues pv;
        RsErr err;
        const char *kv[] = {"epochs=1"};
        RsModel *m;
        if (params_parse(cls->params, cls->nparams, kv, 1, &pv, &err) ||
            model_new(cls, t->U, t->I, &pv, 42, &m, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        FitContext ctx = {.train = t, .nthreads = nthreads};
        double t0 = rs_now();
        int rc = model_fit(m, &ctx, &err);
        s[r] = rs_now() - t0;
        model_free(m);
        if (rc) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
    }
    qsort(s, (size_t)runs, sizeof *s, bench_cmp_double);
    return runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2;
}

#endif
