/* testutil.h - helpers for the cmocka unit tests: temp dirs and files,
 * finite-difference gradient checks, MovieLens-100K data and reference
 * metrics. */
#ifndef RS_TESTUTIL_H
#define RS_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh temporary directory; returns its path (static storage,
 * one per call slot: free with tu_rmtree). */
char *tu_mkdtemp(void);
/* Removes a directory tree (rm -rf). */
void tu_rmtree(const char *dir);
/* Writes data (len bytes; len = (size_t)-1 for strlen) to dir/name and
 * returns the full path (malloc'd). */
char *tu_write(const char *dir, const char *name, const char *data, size_t len);
/* dir/name (malloc'd). */
char *tu_path(const char *dir, const char *name);
/* The ML-100K folder ($RECSCOPE_ML100K or ../shared/datasets/ml-100k from
 * the project root), or NULL when absent or when RECSCOPE_ML100K is set
 * and empty. */
const char *tu_ml100k(void);
/* Prints (stdout) one line saying why tu_ml100k() is NULL: RECSCOPE_ML100K
 * set and empty (make unit without UNIT_ML100K=1), or the folders it looked
 * in and how to point RECSCOPE_ML100K at the data. */
void tu_ml100k_skip_note(void);
/* In a cmocka test that needs MovieLens-100K: when tu_ml100k() finds no
 * folder, prints tu_ml100k_skip_note()'s line and skips the test (cmocka's
 * skip(), which does not return). After it, tu_ml100k() and
 * tu_ml100k_load() do not return NULL. */
#define TU_REQUIRE_ML100K()                                                                        \
    do {                                                                                           \
        if (!tu_ml100k()) {                                                                        \
            tu_ml100k_skip_note();                                                                 \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- finite-difference gradient checks ---- */

#include "rng.h"

/* x[k] = std * a standard normal draw, for k < n: a test case's tensors. */
void tu_fill_normal(float *x, size_t n, float std, RsRng *rng);
/* sum of a[k] b[k] over k < n, in double: the scalar loss r . out that a
 * gradient check differentiates. */
double tu_dot(const float *a, const float *b, size_t n);

/* The scalar loss of a test case (float forward pass, double sum) at the
 * current values of its tensors. It may use cmocka's assertions. */
typedef double (*TuLossFn)(void *ctx);

/* How tu_grad_check compares: central differences with step h, and per
 * element |g_k - fd_k| <= atol' + rtol |fd_k|, where atol' = atol, or
 * atol max(1, max_k |fd_k|) (per tensor) when atol_scaled. kink > 0: an
 * element whose forward and backward one-sided differences disagree by
 * more than kink (1 + |fd_k|) straddles a kink (ReLU's) and is not
 * compared; at most 3% of the elements may. */
typedef struct TuGradTol {
    float h;
    double atol, rtol;
    int atol_scaled;
    double kink;
} TuGradTol;

/* Checks the analytic gradient g (n) of loss(ctx) in w (n, a tensor the
 * loss reads: each element is moved by +-h and restored) against central
 * differences under tol; a non-finite element of w (an absent entry) is
 * not moved, and its gradient must be 0 within atol. On a mismatch prints
 * what[k], the analytic and the finite-difference value (stderr) and
 * fails the calling cmocka test. */
void tu_grad_check(const char *what, TuLossFn loss, void *ctx, float *w, size_t n, const float *g,
                   const TuGradTol *tol);

#endif

/* ---- MovieLens-100K helpers for model tests (independent of store/ and of
 * engine/metrics.c, so quality tests also check those) ---- */
#include "dataset.h"
#include "model.h"

/* 1 in a build with AddressSanitizer (the quality tests then train less
 * and only check that the model beats MostPopular). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_SANITIZED 1
#endif
#endif
#ifndef TU_SANITIZED
#define TU_SANITIZED 0
#endif

/* Loads a u.data-style file (user item rating ts, tab-separated) from the
 * ML-100K folder into a 943 x 1682 matrix (index = id - 1). NULL when the
 * folder is absent; aborts on a malformed file. name: "u.data", "u1.base"... */
RsMatrix *tu_ml100k_load(const char *name);
/* Per-user random holdout: each user's interactions are shuffled with a
 * seeded RNG and the first round(frac * n) (at least 1 when n >= 2) go to
 * test. */
void tu_split_random(const RsMatrix *m, double test_frac, uint64_t seed, RsMatrix **train,
                     RsMatrix **test);
/* NDCG@K with binary gains under full ranking (all items not in the user's
 * training row are candidates; all test items relevant), averaged over
 * users with test items. A plain reference implementation. */
double tu_ndcg_full(const RsModel *m, const RsMatrix *train, const RsMatrix *test, size_t K);
/* The split of the NCF and SASRec papers: each user's last interaction by
 * time in test, the rest in train (split_make's loo, seed 1, no validation
 * part). Aborts on failure. */
void tu_split_loo(const RsMatrix *m, RsMatrix **train, RsMatrix **test);
/* HR@10 and NDCG@10 of m by eval_model under protocol (an EvalProtocol:
 * full ranking, or sampled with 99 negatives and seed 42). Aborts on
 * failure. */
void tu_eval_at10(const RsModel *m, const RsMatrix *train, const RsMatrix *test, int protocol,
                  double *hr, double *ndcg);
/* HR@10 and NDCG@10 of a model and of MostPopular on a leave-last-out
 * split, sampled (99 negatives) and under full ranking. */
typedef struct TuLoo {
    double hr, ndcg, full_hr, full_ndcg;             /* the model */
    double pop_hr, pop_ndcg, pop_full_hr, pop_full_ndcg; /* MostPopular */
} TuLoo;
/* Fits MostPopular on train, evaluates it and m (tu_eval_at10, both
 * protocols) and prints the figures on stderr, named name, with the fit's
 * seconds. Aborts on failure. */
TuLoo tu_loo_vs_pop(const char *name, const RsModel *m, double fit_seconds,
                    const RsMatrix *train, const RsMatrix *test);
/* RMSE of m->cls->predict over the rated test entries. */
double tu_rmse(const RsModel *m, const RsMatrix *train, const RsMatrix *test);
/* Fits a model of class cls with its defaults (or params kv) on train. */
RsModel *tu_fit(const ModelClass *cls, const RsMatrix *train, const RsCatalog *cat,
                const char *const *kv, size_t nkv, uint64_t seed);
/* The same with a validation part (may be NULL) and nthreads threads.
 * Both abort, saying why, when the parameters or the fit fail. */
RsModel *tu_fit_valid(const ModelClass *cls, const RsMatrix *train, const RsMatrix *valid,
                      const char *const *kv, size_t nkv, uint64_t seed, int nthreads);
