/* parallel.c - fork-join loops with dynamic chunking. */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* OpenBLAS's thread control (declared in its cblas.h, but engine code
 * should not depend on which BLAS header is first on the include path). */
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

typedef struct Loop {
    size_t n, grain;
    atomic_size_t next;
    RsRangeFn fn;
    void *ctx;
} Loop;

typedef struct Worker {
    Loop *loop;
    int tid;
} Worker;

static void run_chunks(Loop *l, int tid)
{
    for (;;) {
        size_t b = atomic_fetch_add(&l->next, l->grain);
        if (b >= l->n)
            return;
        size_t e = b + l->grain < l->n ? b + l->grain : l->n;
        l->fn(l->ctx, b, e, tid);
    }
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    run_chunks(w->loop, w->tid);
    return NULL;
}

int rs_parallel_for(size_t n, int nthreads, size_t grain, RsRangeFn fn, void *ctx)
{
    if (n == 0)
        return 0;
    if (grain == 0)
        grain = 1;
    if (nthreads <= 1 || n <= grain) {
        fn(ctx, 0, n, 0);
        return 0;
    }
    Loop l = {.n = n, .grain = grain, .fn = fn, .ctx = ctx};
    atomic_init(&l.next, 0);
    pthread_t *th = malloc((size_t)nthreads * sizeof *th);
    Worker *w = malloc((size_t)nthreads * sizeof *w);
    int started = 0, rc = 0;
    int blas = rs_blas_threads(1);
    for (int t = 1; th && w && t < nthreads; t++) {
        w[t] = (Worker){&l, t};
        if (pthread_create(&th[t], NULL, worker_main, &w[t]) != 0) {
            rc = -1;
            break;
        }
        started = t;
    }
    if (!th || !w)
        rc = -1;
    run_chunks(&l, 0);
    for (int t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    rs_blas_threads(blas);
    free(th);
    free(w);
    return rc;
}

int rs_ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int rs_blas_threads(int n)
{
    int old = openblas_get_num_threads();
    openblas_set_num_threads(n);
    return old;
}
