/*
 * metrics.h - offline evaluation of a trained model on a held-out test
 * matrix: top-K ranking metrics, AUC, rating errors and beyond-accuracy
 * measures, per user and averaged, under the "full" or the "sampled"
 * protocol.
 *
 * Definitions (the project's documented ones; eval_model follows them):
 *
 *   Evaluated users: users with at least one relevant test item and at
 *     least one candidate, in ascending index order.
 *   Relevant items: the user's test items that are candidates (a test item
 *     also present in the training row cannot be ranked and is ignored).
 *     With a relevance threshold t (not NAN) only test items with rating
 *     >= t are relevant (implicit entries never are), and users left with
 *     no relevant item are skipped.
 *   Ranking: the model's scores (m->cls->score) over the candidates, sorted
 *     descending, ties broken by the smaller item index (as topk() does).
 *     NaN scores count as -INFINITY; items scoring -INFINITY are never
 *     recommended (as topk()), so they are never hits.
 *   "full" protocol: candidates = every item not in the user's training row.
 *   "sampled" protocol (He et al. 2017, "Neural Collaborative Filtering",
 *     section 4.1): each relevant item is ranked against N (default 99)
 *     items the user never interacted with (in neither train nor test),
 *     drawn without replacement from an RsRng seeded with seed ^ user (so
 *     the draw does not depend on thread scheduling); fewer when fewer
 *     exist. Metrics are computed for each held-out item alone (one
 *     relevant item among N + 1 candidates) and averaged per user.
 *
 *   Top-K metrics, for a ranked list with hits h_1..h_n (h_r = 1 when the
 *   item at rank r is relevant), R relevant items, and cutoff K:
 *     precision@K = (sum_{r<=K} h_r) / K        (K even when fewer candidates)
 *     recall@K    = (sum_{r<=K} h_r) / R
 *     f1@K        = 2 P R / (P + R), 0 when P + R = 0 (per user, then averaged)
 *     ndcg@K      = DCG / IDCG, DCG = sum_{r<=K} h_r / log2(r + 1),
 *                   IDCG = sum_{r=1}^{min(K,R)} 1 / log2(r + 1)
 *                   (Jarvelin & Kekalainen 2002, binary gains)
 *     map@K       = AP@K = (sum_{r<=K} h_r * precision@r) / min(K, R)
 *     mrr@K       = 1 / (rank of the first hit), 0 when none within K
 *     hr@K        = 1 when any hit within K, else 0
 *   auc: per user, the fraction of (relevant, non-relevant candidate) pairs
 *     where the relevant item scores higher; equal scores count 1/2 (the
 *     Mann-Whitney form of the ROC area, Hanley & McNeil 1982). NAN for a
 *     user with no non-relevant candidate.
 *   rmse, mae: over every test entry with a rating (of every test user,
 *     evaluated or not, threshold or not), with cls->predict; only for
 *     classes with MODEL_RATINGS and a test matrix with ratings. No per-user
 *     averaging in the value; per_user holds each evaluated user's own RMSE
 *     / MAE (NAN for a user without rated test entries).
 *
 *   Beyond accuracy, always over each evaluated user's top-K list among
 *   ALL items not in the training row (what the user would be shown, under
 *   either protocol). pop(i) = number of training users of item i;
 *   U_train = number of users with at least one training entry.
 *     coverage@K  = distinct recommended items / I       (Ge et al. 2010)
 *     novelty@K   = mean over the list of -log2(max(pop(i),1) / U_train),
 *                   per user, averaged over users (Zhou et al. 2010)
 *     diversity_genre@K = mean over item pairs of the list of the Jaccard
 *                   distance 1 - |G_a n G_b| / |G_a u G_b| of the
 *                   '|'-separated genre sets of cat->item_genres (pairs with
 *                   an item without genres are left out); only when the
 *                   catalogue has genres  (intra-list diversity, Ziegler et
 *                   al. 2005)
 *     diversity_emb@K = the same with the cosine distance 1 - cos(v_a, v_b)
 *                   of item vectors from o->item_vec (pairs with a missing
 *                   or zero vector left out); only when item_vec is set
 *     arp@K       = mean over the list of pop(i), per user, averaged
 *                   (Abdollahpouri et al. 2019)
 *     gini@K      = Gini index of the number of lists each item appears in,
 *                   over all I items: with c sorted ascending,
 *                   G = sum_j (2j - I - 1) c_(j) / ((I - 1) sum_j c_(j))
 *                   (Castells et al. 2015, Recommender Systems Handbook,
 *                   ch. 26); 0 = equal exposure, 1 = one item only
 *
 * The value of a per-user metric is the mean of its finite per-user values
 * (NAN when there are none).
 */
#ifndef RS_METRICS_H
#define RS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dataset.h"
#include "model.h"

/* ---- per-list metrics ----------------------------------------------------------
 * hits[0..n) is a ranked list seen through relevance: hits[r] != 0 when the
 * item at rank r + 1 is relevant; n_rel is the user's number of relevant
 * items (hits beyond the list do not exist: a list shorter than K simply
 * has no hits there). Each function is the definition above written out
 * directly (the reference the tests check by hand); eval_model uses
 * metrics_at_ks(), which computes them all for several K in one pass and is
 * tested against these. All return 0 when K == 0 or n_rel == 0 (precision:
 * when K == 0). Thread-safe (pure). */
double metric_precision_at_k(const uint8_t *hits, size_t n, size_t K);
double metric_recall_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K);
double metric_f1_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K);
double metric_ndcg_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K);
double metric_ap_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K);
double metric_rr_at_k(const uint8_t *hits, size_t n, size_t K);
double metric_hr_at_k(const uint8_t *hits, size_t n, size_t K);

/* The top-K metrics of one list at one cutoff. */
typedef struct MetricsAtK {
    double precision, recall, f1, ndcg, ap, rr, hr;
} MetricsAtK;

/* All of the above for the cutoffs ks[0..nks) (any order) in one pass over
 * hits: out[k] is for ks[k]. */
void metrics_at_ks(const uint8_t *hits, size_t n, size_t n_rel, const size_t *ks, size_t nks,
                   MetricsAtK *out);

/* AUC of one user: rel[0..n_rel) are the relevant items' scores, neg[0..n_neg)
 * the non-relevant candidates' scores (NaN counts as -INFINITY). metric_auc
 * sorts rel in place and binary-searches it for each negative
 * (O((n_rel + n_neg) log n_rel)); metric_auc_naive counts all n_rel * n_neg
 * pairs. NAN when either side is empty. */
double metric_auc(float *rel, size_t n_rel, const float *neg, size_t n_neg);
double metric_auc_naive(const float *rel, size_t n_rel, const float *neg, size_t n_neg);

/* Gini index (formula above) of counts[0..I), which it sorts in place; 0
 * when I < 2, NAN when all counts are 0. */
double metric_gini(uint32_t *counts, size_t I);

/* ---- evaluating a model ---------------------------------------------------------- */

typedef enum { EVAL_FULL = 0, EVAL_SAMPLED = 1 } EvalProtocol;

/* "full" / "sampled". */
const char *eval_protocol_name(EvalProtocol p);
/* Parses "full" / "sampled" into *p; RS_EUSAGE otherwise. */
int eval_protocol_parse(const char *s, EvalProtocol *p, RsErr *err);

#define EVAL_MAX_KS 16
#define EVAL_DEFAULT_NEGATIVES 99

/* Item vector for diversity_emb: a pointer to dim floats for item, valid
 * until eval_model returns, or NULL when the item has none. Called from
 * several threads at once: must be thread-safe (reading a factor matrix
 * is). */
typedef const float *(*EvalItemVecFn)(void *ctx, uint32_t item);

typedef struct EvalOptions {
    EvalProtocol protocol;
    size_t ks[EVAL_MAX_KS];   /* cutoffs, each >= 1; nks == 0 means 5, 10, 20 */
    size_t nks;
    double relevance_threshold; /* NAN: every test item is relevant */
    size_t negatives;         /* sampled protocol: N per held-out item (99) */
    uint64_t seed;            /* sampled protocol */
    int nthreads;             /* <= 0: all cores */
    RsProgressFn progress;    /* may be NULL; called from the calling thread */
    void *progress_ctx;
    atomic_int *cancel;       /* may be NULL; non-zero stops with RS_ECANCEL */
    EvalItemVecFn item_vec;   /* may be NULL (no diversity_emb) */
    void *item_vec_ctx;
    size_t item_vec_dim;      /* length of the vectors item_vec returns */
    int device;               /* RS_DEVICE_CPU (default), or RS_DEVICE_GPU: under the
                               * full protocol, a class with factors() gets its
                               * lists and AUC pair counts from the GPU
                               * (gpu_topk_rank_factors); see eval_gpu_usable */
} EvalOptions;

/* Whether eval_model can score m on the GPU under protocol p: RS_OK, or
 * RS_EUSAGE saying why not (the sampled protocol, a class without
 * factors(), more than GPU_TOPK_MAX as the largest cutoff). It does not
 * look for a device (gpu_probe does). */
int eval_gpu_usable(const RsModel *m, EvalProtocol p, size_t maxK, RsErr *err);

/* Defaults: full protocol, K = 5, 10, 20, threshold NAN, 99 negatives,
 * seed 42, all cores, no progress, no cancel, no item vectors. */
void eval_options_default(EvalOptions *o);

/* Parses a comma-separated list of cutoffs ("5,10,20") into o->ks / o->nks
 * (duplicates removed, ascending). RS_EUSAGE for an empty list, a value
 * that is not an integer in 1..100000 or more than EVAL_MAX_KS values. */
int eval_parse_ks(const char *s, EvalOptions *o, RsErr *err);

#define EVAL_NAME_LEN 32

typedef struct EvalMetric {
    char name[EVAL_NAME_LEN]; /* "ndcg@10", "auc", "rmse", ... */
    size_t k;                 /* the cutoff, 0 for auc / rmse / mae */
    double value;             /* mean over users or global value; NAN when undefined */
    double *per_user;         /* (n_users) aligned with EvalResult.users, NAN
                               * where undefined for that user; NULL for the
                               * global metrics (coverage, gini) */
} EvalMetric;

typedef struct EvalResult {
    EvalProtocol protocol;
    size_t negatives;         /* sampled: N asked for; 0 under full */
    double relevance_threshold;
    size_t ks[EVAL_MAX_KS], nks;
    size_t n_users;
    uint32_t *users;          /* (n_users) evaluated users, ascending */
    size_t n_rated;           /* rated test entries behind rmse / mae (0: none) */
    size_t n_metrics;
    /* (n_metrics) in this order: precision, recall, f1, ndcg, map, mrr, hr
     * (each for every K, ascending), auc, coverage, novelty,
     * diversity_genre, diversity_emb, arp, gini (each for every K; the
     * diversities only when available), rmse, mae (only for rating models
     * on rated test data). */
    EvalMetric *metrics;
} EvalResult;

/* Evaluates m on test (train is the matrix m was trained on; same shape as
 * test and as the model). cat may be NULL (no diversity_genre). o may be
 * NULL (defaults). On success *out is owned by the caller
 * (eval_result_free). Returns RS_OK; RS_EUSAGE for mismatched shapes, bad
 * options or no user to evaluate; RS_ECANCEL when cancelled (by *o->cancel
 * or by the progress callback); RS_ENOMEM; the model's own error when its
 * score / predict fails, or RS_EPARSE when predict gives a non-finite
 * rating. The evaluated users depend on train, test and the threshold only
 * (not on the model), so two models' per_user arrays on one split line up
 * for stats.h. Results do not depend on nthreads (for a model whose scores
 * are deterministic). Memory: U * (11 nks + 1) doubles, plus per thread
 * about I * (18 + 4 nks) bytes. Thread-safe for a trained model (reads it
 * only). */
int eval_model(const RsModel *m, const RsMatrix *train, const RsMatrix *test,
               const RsCatalog *cat, const EvalOptions *o, EvalResult **out, RsErr *err);

void eval_result_free(EvalResult *r);

/* The metric called name ("ndcg@10"), or NULL. */
const EvalMetric *eval_result_find(const EvalResult *r, const char *name);

#endif
