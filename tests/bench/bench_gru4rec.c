/* bench_gru4rec.c - one GRU4Rec epoch (defaults: embedding 64, one GRU
 * layer of 64, windows of 50 items, batch 32 windows, 256 shared negatives
 * half in-batch, sampled softmax, dropout 0.2, Adam) on ML-100K; prints
 * predicted positions (samples) per second for 1 and 2 threads, the median
 * of RUNS fits of one epoch each. tests/bench/gru4rec_ref.py times the same
 * model and epoch in PyTorch.
 *
 *   bench_gru4rec [ML100K_DIR [RUNS]]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gru4rec.h"
#include "model.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static RsMatrix *load_udata(const char *dir)
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
        if (n == cap)
            t = realloc(t, (cap *= 2) * sizeof *t);
        if (t)
            t[n++] = (RsTriplet){u - 1, i - 1, r, ts};
    }
    fclose(f);
    RsMatrix *m = NULL;
    RsErr err;
    if (!t || rs_matrix_build(943, 1682, t, n, &m, &err))
        fprintf(stderr, "%s\n", t ? err.msg : "out of memory");
    free(t);
    return m;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(const RsMatrix *t, int nthreads, int runs)
{
    double s[16];
    runs = runs < 1 ? 1 : runs > 16 ? 16 : runs;
    for (int r = 0; r < runs; r++) {
        ParamValues pv;
        RsErr err;
        const char *kv[] = {"epochs=1"};
        RsModel *m;
        if (params_parse(model_gru4rec.params, model_gru4rec.nparams, kv, 1, &pv, &err) ||
            model_new(&model_gru4rec, t->U, t->I, &pv, 42, &m, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        FitContext ctx = {.train = t, .nthreads = nthreads};
        double t0 = now_s();
        int rc = model_fit(m, &ctx, &err);
        s[r] = now_s() - t0;
        model_free(m);
        if (rc) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    qsort(s, (size_t)runs, sizeof *s, cmp_d);
    double med = runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2;
    size_t samples = 0; /* predicted positions: every item but each user's first */
    for (size_t u = 0; u < t->U; u++)
        samples += rs_user_count(t, (uint32_t)u) > 1 ? rs_user_count(t, (uint32_t)u) - 1 : 0;
    printf("gru4rec epoch ml-100k %zu samples, %d thread(s): %.3f s, %.0f samples/s\n", samples,
           nthreads, med, (double)samples / med);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/datasets/ml-100k";
    int runs = argc > 2 ? atoi(argv[2]) : 1;
    RsMatrix *ml = load_udata(dir);
    if (!ml) {
        printf("gru4rec epoch ml-100k: skipped (%s/u.data not found)\n", dir);
        return 0;
    }
    int rc = bench(ml, 1, runs) || bench(ml, 2, runs);
    rs_matrix_free(ml);
    return rc;
}
