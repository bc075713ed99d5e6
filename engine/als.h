/*
 * als.h - implicit-feedback ALS: the weighted matrix factorisation of Hu,
 * Koren & Volinsky 2008 ("Collaborative Filtering for Implicit Feedback
 * Datasets", ICDM), solved row by row with the conjugate-gradient method of
 * Takacs, Pilaszy & Tikk 2011 ("Applications of the conjugate gradient
 * method for implicit feedback collaborative filtering", RecSys).
 *
 * The class is model_als ("als"); parameters factors (64), reg (20),
 * alpha (1), iterations (15), cg_steps (3; 0 = exact solves throughout),
 * confidence (binary|linear|log) and epsilon (1, for log). Flags:
 * MODEL_FOLDIN | MODEL_ADDITIVE. The two row solvers are exported so the
 * tests can compare them.
 */
#ifndef RS_ALS_H
#define RS_ALS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

extern const ModelClass model_als;

/* One row of the ALS normal equations (Hu et al. 2008, eq. 4), solved
 * exactly by Cholesky (LAPACK spotrf + spotrs):
 *
 *     (G + sum_j (c_j - 1) y_j y_j') x = sum_j c_j y_j,   G = Y'Y + reg I
 *
 * where j runs over the n rows idx[0..n) of Y with confidences conf[0..n)
 * (every other row has confidence 1 and preference 0).
 *   x     (K)      the solution (output)
 *   G     (K, K)   Y'Y + reg I, symmetric, both triangles filled
 *   Y     (N, K)   the fixed factors, row-major
 *   work  (K*K + K) scratch
 * Returns 0, or -1 when the system is not positive definite (x is then
 * zeroed). Thread-safe (call it with OpenBLAS single-threaded inside
 * parallel loops, as rs_parallel_for arranges). */
int als_solve_naive(float *x, const float *G, const float *Y, const uint32_t *idx,
                    const float *conf, size_t n, size_t K, float *work);

/* The same system, `steps` conjugate-gradient iterations from the x given
 * (a warm start), never forming the matrix: each step costs one K x K
 * product with G and 2 n K for the rows (Takacs et al. 2011, alg. 2; the
 * implicit library's cg.pyx). steps >= K converges up to rounding.
 *   x     (K)      start on entry, improved solution on return
 *   work  (3 K)    scratch
 * Thread-safe. */
void als_solve_cg(float *x, const float *G, const float *Y, const uint32_t *idx,
                  const float *conf, size_t n, size_t K, int steps, float *work);

#endif
