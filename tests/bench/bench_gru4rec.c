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

#include "benchutil.h"
#include "gru4rec.h"
#include "model.h"

static int bench(const RsMatrix *t, int nthreads, int runs)
{
    double med = bench_epoch_seconds(&model_gru4rec, t, nthreads, runs);
    if (med < 0)
        return 1;
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
    RsMatrix *ml = bench_load_udata(dir);
    if (!ml) {
        printf("gru4rec epoch ml-100k: skipped (%s/u.data not found)\n", dir);
        return 0;
    }
    int rc = bench(ml, 1, runs) || bench(ml, 2, runs);
    rs_matrix_free(ml);
    return rc;
}
