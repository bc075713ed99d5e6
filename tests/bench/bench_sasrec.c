/* bench_sasrec.c - one SASRec epoch (defaults: maxlen 50, dim 50, 2 blocks,
 * 1 head, dropout 0.2, batch 128, Adam) on MovieLens-100K; prints the
 * median of RUNS one-epoch fits for 1 and 2 threads, in seconds and in
 * samples (predicted positions) per second. tests/bench/sasrec_ref.py
 * times the same model and epoch in PyTorch.
 *
 *   bench_sasrec [ML100K_DIR [RUNS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "sasrec.h"

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
        fprintf(stderr, "cannot load %s\n", path);
    free(t);
    return m;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench(const RsMatrix *t, int nthreads, int runs)
{
    double s[16];
    runs = runs < 1 ? 1 : runs > 16 ? 16 : runs;
    for (int r = 0; r < runs; r++) {
        ParamValues pv;
        RsErr err;
        const char *kv[] = {"epochs=1"};
        RsModel *m;
        if (params_parse(model_sasrec.params, model_sasrec.nparams, kv, 1, &pv, &err) ||
            model_new(&model_sasrec, t->U, t->I, &pv, 42, &m, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        FitContext ctx = {.train = t, .nthreads = nthreads};
        double t0 = rs_now();
        if (model_fit(m, &ctx, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        s[r] = rs_now() - t0;
        model_free(m);
    }
    qsort(s, (size_t)runs, sizeof *s, cmp_d);
    double med = runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2;
    size_t samples = 0; /* predicted positions: min(len - 1, maxlen) per user */
    for (size_t u = 0; u < t->U; u++) {
        size_t n = rs_user_count(t, (uint32_t)u);
        samples += n < 2 ? 0 : n - 1 < 50 ? n - 1 : 50;
    }
    printf("sasrec epoch ml-100k %zu samples, %d thread(s): %.3f s, %.0f samples/s\n", samples,
           nthreads, med, (double)samples / med);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/datasets/ml-100k";
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    RsMatrix *ml = load_udata(dir);
    if (!ml) {
        printf("sasrec epoch ml-100k: skipped (%s/u.data not found)\n", dir);
        return 0;
    }
    bench(ml, 1, runs);
    bench(ml, 2, runs);
    rs_matrix_free(ml);
    return 0;
}
