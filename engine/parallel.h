/*
 * parallel.h - a small fork-join loop over pthreads, and control of
 * OpenBLAS's own threads.
 *
 * When a loop is parallelised here, BLAS calls inside it must run
 * single-threaded (nested threading is a large slowdown: the implicit
 * library's authors measured it), so rs_parallel_for() sets OpenBLAS to one
 * thread for its duration and restores it after.
 */
#ifndef RS_PARALLEL_H
#define RS_PARALLEL_H

#include <stddef.h>

/* Body of a parallel loop: handles [begin, end) on worker tid. */
typedef void (*RsRangeFn)(void *ctx, size_t begin, size_t end, int tid);

/* Splits [0, n) into chunks of about `grain` (>= 1) indices handed out
 * dynamically to nthreads workers (the calling thread is one of them) and
 * waits for all. nthreads <= 1 runs inline. Returns 0, or -1 when threads
 * could not be started (the loop then ran inline). */
int rs_parallel_for(size_t n, int nthreads, size_t grain, RsRangeFn fn, void *ctx);

/* The number of cores (at least 1). */
int rs_ncpus(void);

/* Sets the number of threads OpenBLAS uses; returns the previous number. */
int rs_blas_threads(int n);

#endif
