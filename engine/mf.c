/*
 * mf.c - biased matrix factorisation for explicit ratings (class "mf"), and
 * the factor-model plumbing bpr.c shares (mf_internal.h): the parameter
 * block, scoring, ridge fold-in, explanations, similar items, save/load.
 *
 * Model (Koren, Bell & Volinsky 2009, "Matrix factorization techniques for
 * recommender systems", eq. 5):
 *     r^_ui = mu + b_u + b_i + p_u . q_i
 * fitted by SGD on  sum_(u,i) 1/2 (r_ui - r^_ui)^2 + reg/2 (b_u^2 + b_i^2 +
 * |p_u|^2 + |q_i|^2), one step per rating (Funk's "SVD", Surprise's SVD),
 * over the ratings in a fresh seeded shuffle each epoch. Predictions are
 * clipped to the training rating range; scores (for ranking) are not.
 * With a validation matrix the fit reports its RMSE after each epoch and
 * stops `patience` epochs after the best one, keeping the best epoch.
 *
 * Threads: with nthreads = 1 (and always below MF_PAR_MIN ratings) an epoch
 * is one pass over all the ratings in a fresh shuffle. With T = nthreads > 1
 * the epochs are stratified as in DSGD (Gemulla, Nijkamp, Haas & Sismanis
 * 2011, "Large-scale matrix factorization with distributed stochastic
 * gradient descent", section 4): users are cut into T blocks and items into
 * T blocks of about equal ratings, and sub-epoch s runs the T blocks
 * (t, (t + s) mod T) at once, one thread each, each in its own shuffle. No
 * two threads ever touch the same user or item, so there are no races (the
 * Hogwild scheme this replaced, Niu et al. 2011, let two cores fight over
 * the cache lines of popular items and ran slower on two cores than on
 * one), and a fit is deterministic for a seed and a thread count.
 *
 * Fold-in (score_profile, and explain for a profile) solves for the user's
 * [p; b_u] with the item parameters fixed: ridge regression
 *     [p; b_u] = (X^T X + lambda I)^-1 X^T (r - mu - b_i),  X rows [q_j, 1],
 * over the profile's items j with lambda = reg * n (n profile items): the
 * exact minimiser of the training objective above in p_u and b_u alone. A
 * profile entry without a rating counts as the top of the training range.
 */
#include "mf.h"

#include <cblas.h>
/* OpenBLAS's config pulls in <complex.h>, whose macro I is our item count. */
#undef I
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf_internal.h"
#include "parallel.h"
#include "rng.h"

/* LAPACK (in OpenBLAS, which ships no lapacke.h here): Cholesky solve of a
 * symmetric positive definite system. The trailing length is gfortran's
 * hidden CHARACTER length argument. */
void sposv_(const char *uplo, const int *n, const int *nrhs, float *a, const int *lda,
            float *b, const int *ldb, int *info, size_t uplo_len);

/* ======================= shared factor-model plumbing ===================== */

int fm_new(size_t U, size_t I, size_t K, FactorModel **out, RsErr *err)
{
    *out = NULL;
    if (K == 0 || K > 65536 || U + I < U || U + I > SIZE_MAX / sizeof(float) / (K + 2))
        return rs_err_set(err, RS_EUSAGE,
                          "factor model too large (%zu users, %zu items, %zu factors)", U, I, K);
    FactorModel *f = calloc(1, sizeof *f);
    if (!f)
        return rs_err_set(err, RS_ENOMEM, "out of memory for the factor model");
    f->U = U;
    f->I = I;
    f->K = K;
    size_t n = 0;
#define FM_COUNT(name, size) n += (size);
    FM_TENSORS(FM_COUNT)
#undef FM_COUNT
    f->nmem = n;
    f->mem = calloc(n ? n : 1, sizeof(float));
    f->qnorm = calloc(I ? I : 1, sizeof(float));
    if (!f->mem || !f->qnorm) {
        fm_free(f);
        return rs_err_set(err, RS_ENOMEM, "out of memory for %zu factor parameters", n);
    }
    float *at = f->mem;
#define FM_SET(name, size)                                                                  \
    f->name = at;                                                                           \
    at += (size);
    FM_TENSORS(FM_SET)
#undef FM_SET
    *out = f;
    return RS_OK;
}

void fm_free(FactorModel *f)
{
    if (!f)
        return;
    free(f->mem);
    free(f->qnorm);
    free(f);
}

void fm_init_random(FactorModel *f, const RsMatrix *train, uint64_t seed, float std)
{
    RsRng rng;
    rng_seed(&rng, seed);
    size_t K = f->K;
    for (size_t k = 0; k < f->U * K; k++)
        f->P[k] = (float)(std * rng_normal(&rng));
    for (size_t k = 0; k < f->I * K; k++)
        f->Q[k] = (float)(std * rng_normal(&rng));
    memset(f->bu, 0, f->U * sizeof(float));
    memset(f->bi, 0, f->I * sizeof(float));
    for (size_t u = 0; u < f->U; u++)
        if (u >= train->U || rs_user_count(train, (uint32_t)u) == 0)
            memset(f->P + u * K, 0, K * sizeof(float));
    for (size_t i = 0; i < f->I; i++)
        if (i >= train->I || rs_item_count(train, (uint32_t)i) == 0)
            memset(f->Q + i * K, 0, K * sizeof(float));
}

void fm_finish(FactorModel *f)
{
    for (size_t i = 0; i < f->I; i++) {
        const float *q = f->Q + i * f->K;
        double s = 0;
        for (size_t k = 0; k < f->K; k++)
            s += (double)q[k] * q[k];
        f->qnorm[i] = (float)sqrt(s);
    }
}

void fm_scores(const FactorModel *f, const float *p, float bu, float *scores)
{
    size_t I = f->I, K = f->K;
    if (I <= INT32_MAX && K <= INT32_MAX) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)I, (int)K, 1.0f, f->Q, (int)K, p, 1,
                    0.0f, scores, 1);
    } else {
        for (size_t i = 0; i < I; i++)
            scores[i] = fm_dot(f->Q + i * K, p, K);
    }
    float base = f->mu + bu;
    for (size_t i = 0; i < I; i++)
        scores[i] += base + f->bi[i];
}

int fm_best_offer(FmBest *b, const FactorModel *f, int epoch, double value, int higher_better,
                  int patience)
{
    int better = isfinite(value) &&
                 (b->epoch == 0 || (higher_better ? value > b->value : value < b->value));
    if (better) {
        if (!b->mem && !(b->mem = malloc(f->nmem * sizeof(float))))
            return RS_ENOMEM;
        memcpy(b->mem, f->mem, f->nmem * sizeof(float));
        b->value = value;
        b->epoch = epoch;
        return 0;
    }
    return patience > 0 && epoch - b->epoch >= patience;
}

void fm_best_finish(FmBest *b, FactorModel *f)
{
    if (b->mem)
        memcpy(f->mem, b->mem, f->nmem * sizeof(float));
    free(b->mem);
    b->mem = NULL;
}

uint64_t fm_stream_seed(uint64_t seed, uint64_t epoch, uint64_t chunk)
{
    uint64_t z = seed ^ (0x9E3779B97F4A7C15ull * (epoch + 1)) ^
                 (0xC2B2AE3D27D4EB4Full * (chunk + 1));
    /* splitmix64's finaliser */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int fm_cancelled(atomic_int *cancel)
{
    return cancel && atomic_load_explicit(cancel, memory_order_relaxed);
}

int fm_ridge_solve(float *w, const float *X, const float *y, size_t n, size_t D, float lambda,
                   RsErr *err)
{
    if (n > INT32_MAX || D > 46340)
        return fm_ridge_solve_naive(w, X, y, n, D, lambda, err);
    int ni = (int)n, Di = (int)D, one = 1, info = 0;
    float *A = calloc(D * D, sizeof *A); // (D, D) X^T X + lambda I
    if (!A)
        return rs_err_set(err, RS_ENOMEM, "out of memory for a %zux%zu system", D, D);
    memset(w, 0, D * sizeof *w);
    if (n > 0) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Di, ni, 1.0f, X, Di, 0.0f, A, Di);
        cblas_sgemv(CblasRowMajor, CblasTrans, ni, Di, 1.0f, X, Di, y, 1, 0.0f, w, 1);
    }
    for (size_t r = 0; r < D; r++) {
        A[r * D + r] += lambda;
        for (size_t c = r + 1; c < D; c++)
            A[c * D + r] = A[r * D + c];
    }
    sposv_("U", &Di, &one, A, &Di, w, &Di, &info, 1);
    free(A);
    if (info != 0)
        return rs_err_set(err, RS_EPARSE, "ridge system not positive definite (sposv info %d)",
                          info);
    return RS_OK;
}

int fm_ridge_solve_naive(float *w, const float *X, const float *y, size_t n, size_t D,
                         float lambda, RsErr *err)
{
    double *L = calloc(D * D + D, sizeof *L); // (D, D) then (D) right-hand side
    if (!L)
        return rs_err_set(err, RS_ENOMEM, "out of memory for a %zux%zu system", D, D);
    double *b = L + D * D;
    /* A = X^T X + lambda I (lower triangle), b = X^T y */
    for (size_t k = 0; k < n; k++) {
        const float *x = X + k * D;
        for (size_t r = 0; r < D; r++) {
            b[r] += (double)x[r] * y[k];
            for (size_t c = 0; c <= r; c++)
                L[r * D + c] += (double)x[r] * x[c];
        }
    }
    for (size_t r = 0; r < D; r++)
        L[r * D + r] += lambda;
    /* Cholesky A = L L^T in place */
    for (size_t j = 0; j < D; j++) {
        double d = L[j * D + j], a = d;
        for (size_t k = 0; k < j; k++)
            d -= L[j * D + k] * L[j * D + k];
        if (!(d > 1e-12 * a)) { /* not positive definite, up to rounding */
            free(L);
            return rs_err_set(err, RS_EPARSE, "ridge system not positive definite");
        }
        d = sqrt(d);
        L[j * D + j] = d;
        for (size_t r = j + 1; r < D; r++) {
            double s = L[r * D + j];
            for (size_t k = 0; k < j; k++)
                s -= L[r * D + k] * L[j * D + k];
            L[r * D + j] = s / d;
        }
    }
    /* L z = b, then L^T w = z */
    for (size_t r = 0; r < D; r++) {
        double s = b[r];
        for (size_t k = 0; k < r; k++)
            s -= L[r * D + k] * b[k];
        b[r] = s / L[r * D + r];
    }
    for (size_t r = D; r-- > 0;) {
        double s = b[r];
        for (size_t k = r + 1; k < D; k++)
            s -= L[k * D + r] * b[k];
        b[r] = s / L[r * D + r];
    }
    for (size_t r = 0; r < D; r++)
        w[r] = (float)b[r];
    free(L);
    return RS_OK;
}

/* Keeps the best FM_EXPLAIN_ITEMS (item, cosine) pairs, best first. */
typedef struct FmNear {
    size_t n;
    uint32_t item[FM_EXPLAIN_ITEMS];
    float cos[FM_EXPLAIN_ITEMS];
} FmNear;

static void fm_near_offer(FmNear *nr, uint32_t item, float cos)
{
    for (size_t k = 0; k < nr->n; k++)
        if (nr->item[k] == item)
            return;
    size_t at = nr->n;
    while (at > 0 && cos > nr->cos[at - 1])
        at--;
    if (at >= FM_EXPLAIN_ITEMS)
        return;
    size_t last = nr->n < FM_EXPLAIN_ITEMS ? nr->n : FM_EXPLAIN_ITEMS - 1;
    memmove(nr->item + at + 1, nr->item + at, (last - at) * sizeof *nr->item);
    memmove(nr->cos + at + 1, nr->cos + at, (last - at) * sizeof *nr->cos);
    nr->item[at] = item;
    nr->cos[at] = cos;
    if (nr->n < FM_EXPLAIN_ITEMS)
        nr->n++;
}

int fm_explain(const FactorModel *f, const float *p, float bu, unsigned parts,
               const RsProfile *h, uint32_t item, const char *method, RsExplanation *e,
               RsErr *err)
{
    if (item >= f->I)
        return rs_err_set(err, RS_ENOTFOUND, "item %u out of range (%zu items)", item, f->I);
    size_t K = f->K;
    const float *q = f->Q + (size_t)item * K;
    double total = 0;
    int rc = RS_OK;
    if (parts & FM_PART_MU) {
        rc |= rs_explanation_add(e, EXPL_PART, 0, "global mean", f->mu, NAN);
        total += f->mu;
    }
    if (parts & FM_PART_BU) {
        rc |= rs_explanation_add(e, EXPL_PART, 1, "user bias", bu, NAN);
        total += bu;
    }
    if (parts & FM_PART_BI) {
        rc |= rs_explanation_add(e, EXPL_PART, 2, "item bias", f->bi[item], NAN);
        total += f->bi[item];
    }
    for (size_t k = 0; k < K && rc == RS_OK; k++) {
        char label[32];
        snprintf(label, sizeof label, "factor %zu", k);
        float v = p[k] * q[k];
        rc = rs_explanation_add(e, EXPL_FACTOR, (uint32_t)k, label, v, NAN);
        total += v;
    }
    /* the history items whose factors point the same way as q_item */
    FmNear nr = {0};
    for (size_t k = 0; h && k < h->n && f->qnorm[item] > 0; k++) {
        uint32_t j = h->items[k];
        if (j >= f->I || j == item || f->qnorm[j] <= 0)
            continue;
        float c = fm_dot(q, f->Q + (size_t)j * K, K) / (f->qnorm[item] * f->qnorm[j]);
        fm_near_offer(&nr, j, c);
    }
    for (size_t k = 0; k < nr.n && rc == RS_OK; k++)
        rc = rs_explanation_add(e, EXPL_ITEM, nr.item[k], "", 0.0f, nr.cos[k]);
    if (rc != RS_OK)
        return rs_err_set(err, RS_ENOMEM, "out of memory for the explanation");
    e->score = (float)total;
    e->additive = 1;
    e->bias = 0;
    snprintf(e->method, sizeof e->method, "%s", method);
    return RS_OK;
}

int fm_similar(const FactorModel *f, uint32_t item, float *scores, RsErr *err)
{
    if (item >= f->I)
        return rs_err_set(err, RS_ENOTFOUND, "item %u out of range (%zu items)", item, f->I);
    size_t K = f->K;
    const float *q = f->Q + (size_t)item * K;
    float ni = f->qnorm[item];
    for (size_t j = 0; j < f->I; j++) {
        if (ni <= 0 || f->qnorm[j] <= 0 || j == item)
            scores[j] = -INFINITY;
        else
            scores[j] = fm_dot(q, f->Q + j * K, K) / (ni * f->qnorm[j]);
    }
    return RS_OK;
}

int fm_save(const FactorModel *f, RsBlob *b, RsErr *err)
{
    blob_put_u64(b, f->U);
    blob_put_u64(b, f->I);
    blob_put_u32(b, (uint32_t)f->K);
    blob_put_f32(b, f->mu);
    blob_put_f32(b, f->rmin);
    blob_put_f32(b, f->rmax);
    blob_put_f32s(b, f->mem, f->nmem);
    if (b->oom)
        return rs_err_set(err, RS_ENOMEM, "out of memory saving the factor model");
    return RS_OK;
}

int fm_load(RsBlobReader *r, size_t U, size_t I, double want_K, FactorModel **out, RsErr *err)
{
    *out = NULL;
    uint64_t bu, bi;
    uint32_t K;
    float mu, rmin, rmax;
    if (blob_get_u64(r, &bu) || blob_get_u64(r, &bi) || blob_get_u32(r, &K) ||
        blob_get_f32(r, &mu) || blob_get_f32(r, &rmin) || blob_get_f32(r, &rmax))
        return rs_err_set(err, RS_EPARSE, "factor model: truncated header");
    if (bu != U || bi != I)
        return rs_err_set(err, RS_EPARSE,
                          "factor model: shape %llux%llu does not match the dataset (%zux%zu)",
                          (unsigned long long)bu, (unsigned long long)bi, U, I);
    if ((double)K != want_K)
        return rs_err_set(err, RS_EPARSE, "factor model: %u factors, parameters say %g", K,
                          want_K);
    if (!isfinite(mu) || !isfinite(rmin) || !isfinite(rmax) || rmin > rmax)
        return rs_err_set(err, RS_EPARSE, "factor model: bad mean or rating range");
    FactorModel *f;
    int rc = fm_new(U, I, K, &f, err);
    if (rc)
        return rc;
    if (blob_get_f32s(r, f->mem, f->nmem)) {
        size_t n = f->nmem;
        fm_free(f);
        return rs_err_set(err, RS_EPARSE,
                          "factor model: %zu parameters truncated or not finite", n);
    }
    f->mu = mu;
    f->rmin = rmin;
    f->rmax = rmax;
    fm_finish(f);
    *out = f;
    return RS_OK;
}

const FactorModel *fm_of(const RsModel *m, RsErr *err)
{
    if (!m->state)
        rs_err_set(err, RS_EUSAGE, "%s: model is not trained", m->cls->name);
    return m->state;
}

/* ============================== biased MF ================================= */

FM_HOT static float mf_step(float *restrict p, float *restrict q, float *bu, float *bi,
                            float mu, float r, float lr, float reg, size_t K)
{
    float e = r - (mu + *bu + *bi + fm_dot(p, q, K));
    *bu += lr * (e - reg * *bu);
    *bi += lr * (e - reg * *bi);
    /* p <- p + lr (e q - reg p), q <- q + lr (e p - reg q), written as
     * a p + b q and a q + b p */
    float a = 1.0f - lr * reg, b = lr * e;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        FmV8 pv, qv, np, nq;
        FM_LOAD8(pv, p + k);
        FM_LOAD8(qv, q + k);
        np = a * pv + b * qv;
        nq = a * qv + b * pv;
        FM_STORE8(p + k, np);
        FM_STORE8(q + k, nq);
    }
    for (; k < K; k++) {
        float pk = p[k], qk = q[k];
        p[k] = a * pk + b * qk;
        q[k] = a * qk + b * pk;
    }
    return e;
}

float mf_sgd_step(float *p, float *q, float *bu, float *bi, float mu, float r, float lr,
                  float reg, size_t K)
{
    return mf_step(p, q, bu, bi, mu, r, lr, reg, K);
}

double mf_sample_loss(const float *p, const float *q, float bu, float bi, float mu, float r,
                      float reg, size_t K)
{
    double dot = 0, norm = (double)bu * bu + (double)bi * bi;
    for (size_t k = 0; k < K; k++) {
        dot += (double)p[k] * q[k];
        norm += (double)p[k] * p[k] + (double)q[k] * q[k];
    }
    double e = r - (mu + (double)bu + bi + dot);
    return 0.5 * e * e + 0.5 * reg * norm;
}

static const ParamSpec mf_params[] = {
    {"factors", PARAM_INT, 64, 1, 4096, NULL, "latent factors K"},
    {"epochs", PARAM_INT, 30, 1, 10000, NULL, "passes over the ratings"},
    {"lr", PARAM_FLOAT, 0.01, 1e-6, 1, NULL, "SGD learning rate"},
    {"reg", PARAM_FLOAT, 0.07, 0, 10, NULL, "L2 regularisation of factors and biases"},
    {"init_std", PARAM_FLOAT, 0.04, 0, 10, NULL, "std of the normal initial factors"},
    {"patience", PARAM_INT, 3, 0, 1000, NULL,
     "with a validation set: stop after this many epochs without a better RMSE (0 never)"},
};

/* Below this many ratings a fit stays on one thread. */
#define MF_PAR_MIN 20000

typedef struct MfRating {
    uint32_t u, i;
    float r;
} MfRating;


/* One sub-epoch: the T blocks (t, (t + s) mod T) of x, one per thread t (see
 * the file comment). */
typedef struct MfEpoch {
    FactorModel *f;
    MfRating *x;        /* (n) the ratings by block, (user block, item block) */
    const size_t *boff; /* (T * T + 1) where each block starts in x */
    size_t T, s;
    uint64_t seed, epoch;
    float lr, reg;
    double *sse;        /* (T) squared error of each thread's blocks this epoch */
    atomic_int *cancel;
} MfEpoch;

static void mf_epoch_part(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    MfEpoch *ep = ctx;
    FactorModel *f = ep->f;
    size_t K = f->K;
    for (size_t t = begin; t < end; t++) {
        size_t b = t * ep->T + (t + ep->s) % ep->T;
        double sse = 0;
        if (ep->T > 1) { /* one seeded stream per (epoch, block) */
            RsRng rng;
            rng_seed(&rng, fm_stream_seed(ep->seed, ep->epoch, b));
            rng_shuffle(&rng, ep->x + ep->boff[b], ep->boff[b + 1] - ep->boff[b],
                        sizeof *ep->x);
        }
        for (size_t k = ep->boff[b]; k < ep->boff[b + 1]; k++) {
            if ((k & 8191) == 0 && fm_cancelled(ep->cancel))
                break;
            const MfRating *x = &ep->x[k];
            float e = mf_step(f->P + x->u * K, f->Q + x->i * K, f->bu + x->u, f->bi + x->i,
                              f->mu, x->r, ep->lr, ep->reg, K);
            sse += (double)e * e;
        }
        ep->sse[t] += sse;
    }
}

/* Block of each of the n indices (by their counts cnt) when cut into T
 * ranges of about equal total count: blk[j] = floor(T * (ratings before
 * j) / total). */
static void mf_cut(const size_t *cnt, size_t n, size_t total, size_t T, uint32_t *blk)
{
    size_t before = 0;
    for (size_t j = 0; j < n; j++) {
        blk[j] = (uint32_t)(total ? T * before / total : 0);
        before += cnt[j];
    }
}

/* Reorders x[0..n) into the T x T blocks (stable); fills boff (T * T + 1).
 * -1 when out of memory (x untouched). */
static int mf_block(MfRating *x, size_t n, size_t U, size_t I, size_t T, size_t *boff)
{
    size_t *cu = calloc(U + I + 1, sizeof *cu), *ci = cu ? cu + U : NULL;
    uint32_t *bu = malloc((U + I + 1) * sizeof *bu), *bi = bu ? bu + U : NULL;
    MfRating *y = malloc((n ? n : 1) * sizeof *y);
    size_t *next = malloc(T * T * sizeof *next);
    int rc = -1;
    if (!cu || !bu || !y || !next)
        goto done;
    for (size_t k = 0; k < n; k++) {
        cu[x[k].u]++;
        ci[x[k].i]++;
    }
    mf_cut(cu, U, n, T, bu);
    mf_cut(ci, I, n, T, bi);
    memset(boff, 0, (T * T + 1) * sizeof *boff);
    for (size_t k = 0; k < n; k++)
        boff[bu[x[k].u] * T + bi[x[k].i] + 1]++;
    for (size_t b = 0; b < T * T; b++)
        boff[b + 1] += boff[b];
    memcpy(next, boff, T * T * sizeof *next);
    for (size_t k = 0; k < n; k++)
        y[next[bu[x[k].u] * T + bi[x[k].i]]++] = x[k];
    memcpy(x, y, n * sizeof *x);
    rc = 0;
done:
    free(cu);
    free(bu);
    free(y);
    free(next);
    return rc;
}

static float mf_predict_raw(const FactorModel *f, size_t u, size_t i)
{
    return f->mu + f->bu[u] + f->bi[i] + fm_dot(f->P + u * f->K, f->Q + i * f->K, f->K);
}

static float mf_clip(const FactorModel *f, float r)
{
    return r < f->rmin ? f->rmin : r > f->rmax ? f->rmax : r;
}

/* RMSE of the clipped predictions over the rated entries of v (NAN if none). */
static double mf_rmse(const FactorModel *f, const RsMatrix *v)
{
    double sse = 0;
    size_t n = 0;
    for (size_t u = 0; u < v->U && u < f->U; u++)
        for (size_t k = v->u_ptr[u]; k < v->u_ptr[u + 1]; k++) {
            float r = v->u_rating[k];
            uint32_t i = v->u_items[k];
            if (!isfinite(r) || i >= f->I)
                continue;
            double e = r - mf_clip(f, mf_predict_raw(f, u, i));
            sse += e * e;
            n++;
        }
    return n ? sqrt(sse / (double)n) : NAN;
}

/* The rated entries of train as (u, i, r), with mu and the rating range. */
static int mf_collect(const RsMatrix *t, FactorModel *f, MfRating **out, size_t *n,
                      RsErr *err)
{
    MfRating *x = malloc((t->NNZ ? t->NNZ : 1) * sizeof *x);
    if (!x)
        return rs_err_set(err, RS_ENOMEM, "out of memory for %zu ratings", t->NNZ);
    size_t m = 0;
    double sum = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t u = 0; u < t->U; u++)
        for (size_t k = t->u_ptr[u]; k < t->u_ptr[u + 1]; k++) {
            float r = t->u_rating[k];
            if (!isfinite(r))
                continue;
            x[m++] = (MfRating){(uint32_t)u, t->u_items[k], r};
            sum += r;
            lo = r < lo ? r : lo;
            hi = r > hi ? r : hi;
        }
    if (m == 0) {
        free(x);
        return rs_err_set(err, RS_EUSAGE,
                          "mf needs explicit ratings and the training data has none (try bpr)");
    }
    f->mu = (float)(sum / (double)m);
    f->rmin = lo;
    f->rmax = hi;
    *out = x;
    *n = m;
    return RS_OK;
}

static int mf_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *t = ctx->train;
    size_t K = (size_t)model_param(m, "factors");
    int epochs = (int)model_param(m, "epochs");
    int patience = (int)model_param(m, "patience");
    float lr = (float)model_param(m, "lr"), reg = (float)model_param(m, "reg");
    FactorModel *f = NULL;
    MfRating *x = NULL;
    double *sse = NULL;
    size_t *boff = NULL; /* (T * T + 1) */
    FmBest best = {0};
    size_t n = 0;
    if (t->U != m->U || t->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "mf: training matrix is %zux%zu, model %zux%zu", t->U,
                          t->I, m->U, m->I);
    int rc = fm_new(m->U, m->I, K, &f, err);
    if (rc == RS_OK)
        rc = mf_collect(t, f, &x, &n, err);
    if (rc)
        goto done;
    size_t T = ctx->nthreads > 1 && n >= MF_PAR_MIN ? (size_t)ctx->nthreads : 1;
    if (T > m->U || T > m->I)
        T = 1;
    if (!(sse = calloc(T, sizeof *sse)) || !(boff = calloc(T * T + 1, sizeof *boff)) ||
        (T > 1 && mf_block(x, n, m->U, m->I, T, boff))) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    if (T == 1)
        boff[1] = n;
    fm_init_random(f, t, m->seed, (float)model_param(m, "init_std"));
    RsRng rng;
    rng_seed(&rng, fm_stream_seed(m->seed, 0, UINT64_MAX));
    MfEpoch ep = {f, x, boff, T, 0, m->seed, 0, lr, reg, sse, ctx->cancel};
    for (int e = 1; e <= epochs; e++) {
        if (T == 1)
            rng_shuffle(&rng, x, n, sizeof *x);
        ep.epoch = (uint64_t)e;
        memset(sse, 0, T * sizeof *sse);
        for (ep.s = 0; ep.s < T; ep.s++)
            rs_parallel_for(T, (int)T, 1, mf_epoch_part, &ep);
        double total = 0;
        for (size_t c = 0; c < T; c++)
            total += sse[c];
        FitProgress pr = {.phase = "epoch", .epoch = e, .epochs = epochs,
                          .fraction = (double)e / epochs, .loss = sqrt(total / (double)n),
                          .valid = NAN, .valid_name = ctx->valid ? "rmse" : NULL};
        if (ctx->valid)
            pr.valid = mf_rmse(f, ctx->valid);
        if ((rc = model_fit_tick(ctx, &pr, err)))
            goto done;
        if (!isfinite(pr.loss)) {
            rc = rs_err_set(err, RS_EUSAGE, "mf diverged at epoch %d (loss %g): lower lr", e,
                            pr.loss);
            goto done;
        }
        if (ctx->valid && patience > 0) {
            int stop = fm_best_offer(&best, f, e, pr.valid, 0, patience);
            if (stop < 0) {
                rc = rs_err_set(err, RS_ENOMEM, "out of memory for a snapshot");
                goto done;
            }
            if (stop)
                break;
        }
    }
    fm_best_finish(&best, f);
    fm_finish(f);
    m->cls->free_state(m);
    m->state = f;
    f = NULL;
done:
    free(best.mem);
    fm_free(f);
    free(x);
    free(sse);
    free(boff);
    return rc;
}

int fm_model_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                   RsErr *err)
{
    (void)train;
    const FactorModel *f = fm_of(m, err);
    if (!f)
        return RS_EUSAGE;
    if (u >= f->U)
        return rs_err_set(err, RS_ENOTFOUND, "user %u out of range (%zu users)", u, f->U);
    fm_scores(f, f->P + (size_t)u * f->K, f->bu[u], scores);
    return RS_OK;
}

/* [p; b_u] for a profile by ridge regression (see the file comment). */
static int mf_foldin(const RsModel *m, const FactorModel *f, const RsProfile *pr, float *p,
                     float *bu, RsErr *err)
{
    size_t K = f->K, D = K + 1, n = pr->n;
    for (size_t k = 0; k < n; k++)
        if (pr->items[k] >= f->I)
            return rs_err_set(err, RS_EUSAGE, "profile item %u out of range (%zu items)",
                              pr->items[k], f->I);
    float *X = malloc((n * D + n + D) * sizeof *X); // (n, D) rows [q_j, 1], then y (n), w (D)
    if (!X)
        return rs_err_set(err, RS_ENOMEM, "out of memory for the fold-in");
    float *y = X + n * D, *w = y + n;
    for (size_t k = 0; k < n; k++) {
        uint32_t j = pr->items[k];
        float r = pr->values ? pr->values[k] : NAN;
        if (!isfinite(r))
            r = f->rmax;
        memcpy(X + k * D, f->Q + (size_t)j * K, K * sizeof *X);
        X[k * D + K] = 1.0f;
        y[k] = r - f->mu - f->bi[j];
    }
    float reg = (float)model_param(m, "reg");
    float lambda = (reg > 1e-6f ? reg : 1e-6f) * (float)(n ? n : 1);
    int rc = fm_ridge_solve(w, X, y, n, D, lambda, err);
    if (rc == RS_OK) {
        memcpy(p, w, K * sizeof *p);
        *bu = w[K];
    }
    free(X);
    return rc;
}

static int mf_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *pr,
                            float *scores, RsErr *err)
{
    (void)train;
    const FactorModel *f = fm_of(m, err);
    if (!f)
        return RS_EUSAGE;
    float *p = malloc(f->K * sizeof *p), bu = 0;
    if (!p)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = mf_foldin(m, f, pr, p, &bu, err);
    if (rc == RS_OK)
        fm_scores(f, p, bu, scores);
    free(p);
    return rc;
}

static int mf_predict(const RsModel *m, const RsMatrix *train, uint32_t u, uint32_t i,
                      float *out)
{
    (void)train;
    const FactorModel *f = m->state;
    if (!f || u >= f->U || i >= f->I)
        return RS_EUSAGE;
    *out = mf_clip(f, mf_predict_raw(f, u, i));
    return RS_OK;
}

static int mf_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat, long user,
                      const RsProfile *h, uint32_t item, RsExplanation *e, RsErr *err)
{
    (void)train;
    (void)cat;
    const FactorModel *f = fm_of(m, err);
    if (!f)
        return RS_EUSAGE;
    const char *method = "r^ = mu + b_u + b_i + sum_f p_u[f] q_i[f] (Koren et al. 2009, eq. 5);"
                         " history items by cosine of item factors";
    if (user >= 0) {
        if ((size_t)user >= f->U)
            return rs_err_set(err, RS_ENOTFOUND, "user %ld out of range", user);
        return fm_explain(f, f->P + (size_t)user * f->K, f->bu[user],
                          FM_PART_MU | FM_PART_BU | FM_PART_BI, h, item, method, e, err);
    }
    float *p = malloc(f->K * sizeof *p), bu = 0;
    if (!p)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = mf_foldin(m, f, h, p, &bu, err);
    if (rc == RS_OK)
        rc = fm_explain(f, p, bu, FM_PART_MU | FM_PART_BU | FM_PART_BI, h, item,
                        "r^ = mu + b_u + b_i + sum_f p[f] q_i[f], [p; b_u] folded in by ridge"
                        " regression; history items by cosine of item factors",
                        e, err);
    free(p);
    return rc;
}

/* The hooks both factor classes (mf, bpr) share: similar items by factor
 * cosine, the blob, freeing. */
int fm_model_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                     RsErr *err)
{
    (void)train;
    const FactorModel *f = fm_of(m, err);
    return f ? fm_similar(f, item, scores, err) : RS_EUSAGE;
}

int fm_model_factors(const RsModel *m, float **X, float **Y, size_t *D, RsErr *err)
{
    *X = *Y = NULL;
    const FactorModel *f = fm_of(m, err);
    if (!f)
        return RS_EUSAGE;
    size_t K = f->K, W = K + 2;
    float *x = malloc((f->U ? f->U : 1) * W * sizeof *x);
    float *y = malloc((f->I ? f->I : 1) * W * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return rs_err_set(err, RS_ENOMEM, "out of memory for the factor matrices");
    }
    for (size_t u = 0; u < f->U; u++) {
        memcpy(x + u * W, f->P + u * K, K * sizeof *x);
        x[u * W + K] = 1;
        x[u * W + K + 1] = f->mu + f->bu[u];
    }
    for (size_t i = 0; i < f->I; i++) {
        memcpy(y + i * W, f->Q + i * K, K * sizeof *y);
        y[i * W + K] = f->bi[i];
        y[i * W + K + 1] = 1;
    }
    *X = x;
    *Y = y;
    *D = W;
    return RS_OK;
}

int fm_model_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    const FactorModel *f = fm_of(m, err);
    return f ? fm_save(f, b, err) : RS_EUSAGE;
}

int fm_model_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    FactorModel *f;
    int rc = fm_load(r, m->U, m->I, model_param(m, "factors"), &f, err);
    if (rc)
        return rc;
    m->cls->free_state(m);
    m->state = f;
    return RS_OK;
}

void fm_model_free_state(RsModel *m)
{
    fm_free(m->state);
    m->state = NULL;
}

const ModelClass model_mf = {
    .name = "mf",
    .title = "MF: biased matrix factorisation by SGD (Koren et al. 2009)",
    .params = mf_params,
    .nparams = RS_ARRAY_LEN(mf_params),
    .flags = MODEL_RATINGS | MODEL_FOLDIN | MODEL_ADDITIVE,
    .format_version = 1,
    .fit = mf_fit,
    .score = fm_model_score,
    .score_profile = mf_score_profile,
    .predict = mf_predict,
    .explain = mf_explain,
    .similar = fm_model_similar,
    .factors = fm_model_factors,
    .save = fm_model_save,
    .load = fm_model_load,
    .free_state = fm_model_free_state,
};
