/*
 * mf_internal.h - what the two factor models (engine/mf.c, engine/bpr.c)
 * share, and the per-sample SGD steps that tests/test_mf.c checks against
 * finite differences. Nothing outside those three files should include it.
 *
 * A trained factor model is a FactorModel (RsModel.state): every parameter
 * in one float block, with typed views generated from FM_TENSORS, so that
 * snapshots (early stopping) and save/load are one copy of the block.
 * Implemented in mf.c except where noted.
 */
#ifndef RS_MF_INTERNAL_H
#define RS_MF_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "model.h"
#include "rng.h"

/* The parameter block, in this order: X(view, number of floats). */
#define FM_TENSORS(X)                                                                 \
    X(P, U * K) /* (U, K) user factors p_u */                                         \
    X(Q, I * K) /* (I, K) item factors q_i */                                         \
    X(bu, U)    /* (U) user biases b_u (always 0 in bpr) */                           \
    X(bi, I)    /* (I) item biases b_i (0 in bpr without item_bias) */

typedef struct FactorModel {
    size_t U, I, K;
    float mu;           /* global mean rating (0 in bpr) */
    float rmin, rmax;   /* training rating range, predictions are clipped to it */
    size_t nmem;        /* floats in mem */
    float *mem;         /* the parameter block */
#define FM_VIEW(name, size) float *name;
    FM_TENSORS(FM_VIEW)
#undef FM_VIEW
    float *qnorm;       /* (I) |q_i|, derived from Q by fm_finish(), not saved */
} FactorModel;

/* A zeroed model for U users, I items and K factors; *out owned by the
 * caller (fm_free). RS_ENOMEM, RS_EUSAGE when the block would overflow. */
int fm_new(size_t U, size_t I, size_t K, FactorModel **out, RsErr *err);
void fm_free(FactorModel *f);
/* P and Q from N(0, std^2), biases 0; users and items without any training
 * entry get zero factors, so they score by the biases alone. */
void fm_init_random(FactorModel *f, const RsMatrix *train, uint64_t seed, float std);
/* Recomputes the derived qnorm after P/Q changed. */
void fm_finish(FactorModel *f);

/* scores[i] = mu + bu + b_i + p . q_i for every item (p: K floats). */
void fm_scores(const FactorModel *f, const float *p, float bu, float *scores);

/* Snapshot of the best epoch for early stopping on a validation metric. */
typedef struct FmBest {
    float *mem;         /* copy of the block at the best epoch, NULL before one */
    double value;       /* its metric */
    int epoch;          /* 1-based, 0 none yet */
} FmBest;
/* Offers the state after epoch (1-based) with metric value (higher is
 * better when higher_better). Returns 1 when patience epochs have passed
 * without improvement (patience 0: never), 0 to go on, RS_ENOMEM. */
int fm_best_offer(FmBest *b, const FactorModel *f, int epoch, double value, int higher_better,
                  int patience);
/* Copies the best snapshot (if any) back into f and frees it. */
void fm_best_finish(FmBest *b, FactorModel *f);

/* A seed for one (epoch, chunk) of a fit: a chunk's random stream does not
 * depend on which thread runs it. */
uint64_t fm_stream_seed(uint64_t seed, uint64_t epoch, uint64_t chunk);
/* Non-zero when *cancel is set (cancel may be NULL). */
int fm_cancelled(atomic_int *cancel);

/* Ridge regression w = (X^T X + lambda I)^-1 X^T y for X (n, D) row-major,
 * y (n), lambda > 0: OpenBLAS ssyrk/sgemv and LAPACK sposv. _naive is the
 * plain double-precision Cholesky the tests compare it with. RS_ENOMEM, or
 * RS_EPARSE when the system is not positive definite. Thread-safe. */
int fm_ridge_solve(float *w, const float *X, const float *y, size_t n, size_t D, float lambda,
                   RsErr *err);
int fm_ridge_solve_naive(float *w, const float *X, const float *y, size_t n, size_t D,
                         float lambda, RsErr *err);

/* Explanation of item for a user with factors p and bias bu, history h:
 * EXPL_PART "global mean" / "user bias" / "item bias" for the parts the
 * class uses (FM_PART_* in parts), one EXPL_FACTOR per factor f with value
 * p[f] q_item[f] (parts and factors sum to the score: additive, bias 0),
 * then up to FM_EXPLAIN_ITEMS history items nearest to item by the cosine
 * of their factors: EXPL_ITEM with value 0 (not part of the sum) and the
 * cosine as similarity. method is the one-line description. */
enum { FM_PART_MU = 1, FM_PART_BU = 2, FM_PART_BI = 4 };
#define FM_EXPLAIN_ITEMS 10
int fm_explain(const FactorModel *f, const float *p, float bu, unsigned parts,
               const RsProfile *h, uint32_t item, const char *method, RsExplanation *e,
               RsErr *err);
/* scores[j] = cos(q_item, q_j); -INFINITY for item itself and for items
 * with zero factors (never seen in training). */
int fm_similar(const FactorModel *f, uint32_t item, float *scores, RsErr *err);
/* Payload: U, I (u64), K (u32), mu, rmin, rmax (f32), the block. fm_load
 * checks U and I against the model's, K against want_K (the factors
 * parameter), every number
 * finite; *out owned by the caller. RS_EPARSE with a message on damage. */
int fm_save(const FactorModel *f, RsBlob *b, RsErr *err);
int fm_load(RsBlobReader *r, size_t U, size_t I, double want_K, FactorModel **out, RsErr *err);
/* The trained state of m, or NULL with RS_EUSAGE in err. */
const FactorModel *fm_of(const RsModel *m, RsErr *err);

/* The SGD step kernels (static, each behind its exported wrapper: GCC and
 * clang disagree on clones declared in headers) get an AVX2 clone, picked
 * at load time where the CPU has it (the build targets baseline x86-64;
 * glibc's ifunc does the picking). */
#if defined(__x86_64__) && defined(__GLIBC__)
#define FM_HOT __attribute__((target_clones("avx2", "default")))
#else
#define FM_HOT
#endif

/* Eight floats, for explicit SIMD with the GCC/clang vector extensions: the
 * hot loops below compile to vector instructions at any optimisation level,
 * and a sanitizer build checks one 32-byte access per block instead of
 * eight. Vectors are only ever locals (never passed or returned: ABI). */
typedef float FmV8 __attribute__((vector_size(32)));
#define FM_LOAD8(v, ptr) memcpy(&(v), (ptr), sizeof(FmV8))
#define FM_STORE8(ptr, v) memcpy((ptr), &(v), sizeof(FmV8))

/* a . b over K floats: two 8-lane partial sums, then the tail (the order
 * is fixed: results are reproducible on a machine). */
static inline float fm_dot(const float *a, const float *b, size_t K)
{
    FmV8 s0 = {0}, s1 = {0}, x, y;
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
        FM_LOAD8(x, a + k);
        FM_LOAD8(y, b + k);
        s0 += x * y;
        FM_LOAD8(x, a + k + 8);
        FM_LOAD8(y, b + k + 8);
        s1 += x * y;
    }
    if (k + 8 <= K) {
        FM_LOAD8(x, a + k);
        FM_LOAD8(y, b + k);
        s0 += x * y;
        k += 8;
    }
    s0 += s1;
    float t = 0;
    for (; k < K; k++)
        t += a[k] * b[k];
    return t + ((s0[0] + s0[4]) + (s0[1] + s0[5])) + ((s0[2] + s0[6]) + (s0[3] + s0[7]));
}

/* ---- per-sample steps (exported for the finite-difference tests) ---- */

/* Biased MF, one rating r of (user factors p, item factors q, biases *bu,
 * *bi, global mean mu). Loss of the sample:
 *   L = 1/2 (r - mu - bu - bi - p.q)^2 + reg/2 (bu^2 + bi^2 + |p|^2 + |q|^2)
 * mf_sgd_step moves every parameter by -lr dL/dparam (all gradients taken
 * at the old values) and returns the error r - r^ before the step. */
float mf_sgd_step(float *p, float *q, float *bu, float *bi, float mu, float r, float lr,
                  float reg, size_t K);
double mf_sample_loss(const float *p, const float *q, float bu, float bi, float mu, float r,
                      float reg, size_t K);

/* BPR (Rendle et al. 2009, section 4.2), one triple (u, i, j) with x =
 * p.(qi - qj) + bi - bj. Loss of the sample (the negative of BPR-Opt's
 * term):
 *   L = -ln sigma(x) + reg/2 (|p|^2 + |qi|^2 + |qj|^2 + bi^2 + bj^2)
 * bi and bj may both be NULL (no item bias: their terms vanish).
 * bpr_sgd_step moves every parameter by -lr dL/dparam and returns x before
 * the step. In bpr.c. */
float bpr_sgd_step(float *p, float *qi, float *qj, float *bi, float *bj, float lr, float reg,
                   size_t K);
double bpr_sample_loss(const float *p, const float *qi, const float *qj, const float *bi,
                       const float *bj, float reg, size_t K);

/* Hooks shared by the mf and bpr classes (engine/mf.c). */
/* ModelClass.score: mu + b_u + b_i + p_u . q_i (BPR's mu and b_u are 0). */
int fm_model_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                   RsErr *err);
int fm_model_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                     RsErr *err);
int fm_model_save(const RsModel *m, RsBlob *b, RsErr *err);
/* ModelClass.factors: X = [p_u, 1, mu + b_u], Y = [q_i, b_i, 1] (D = K + 2). */
int fm_model_factors(const RsModel *m, float **X, float **Y, size_t *D, RsErr *err);
int fm_model_load(RsModel *m, RsBlobReader *r, RsErr *err);
void fm_model_free_state(RsModel *m);

#endif
