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

#include "benchutil.h"
#include "model.h"
#include "sasrec.h"

static void bench(const RsMatrix *t, int nthreads, int runs)
{
    double med = bench_epoch_seconds(&model_sasrec, t, nthreads, runs);
    if (med < 0)
        exit(1);
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
    RsMatrix *ml = bench_load_udata(dir);
    if (!ml) {
        printf("sasrec epoch ml-100k: skipped (%s/u.data not found)\n", dir);
        return 0;
    }
    bench(ml, 1, runs);
    bench(ml, 2, runs);
    rs_matrix_free(ml);
    return 0;
}
