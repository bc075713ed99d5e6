/*
 * als.c - implicit-feedback ALS (Hu, Koren & Volinsky 2008) with
 * conjugate-gradient row solves (Takacs, Pilaszy & Tikk 2011).
 *
 * Model: user factors X (U, K), item factors Y (I, K), score x_u . y_i.
 * Every (u, i) cell has a preference p_ui (1 for an interaction, else 0) and
 * a confidence c_ui (1 + alpha r_ui for an interaction, else 1); the fit
 * minimises (Hu et al. 2008, eq. 3)
 *
 *     L = sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (sum_u |x_u|^2 + sum_i |y_i|^2)
 *
 * by alternating exact minimisation over all Y (X fixed) and all X (Y
 * fixed). Each half-step is one independent K x K system per row; the dense
 * part G = Y'Y + reg I is shared and computed once per sweep (cblas_ssyrk),
 * so a row costs O(K^2 + n_u K) per CG step instead of O(K^3 + n_u K^2)
 * for the exact solve. Rows are solved in parallel (rs_parallel_for, BLAS
 * single-threaded inside); the result does not depend on the thread count.
 *
 * Design decisions:
 * - Each iteration solves items first, then users, and the last user sweep
 *   uses the exact Cholesky solver. So the stored X is exactly the user
 *   step for the final Y: fold-in (score_profile) and the Hu et al. section 5
 *   explanation, which both solve the user's system exactly, reproduce
 *   the training users' scores up to float rounding.
 * - The loss is computed every iteration in O(U K^2 + NNZ K) with the
 *   identity sum_i (x.y_i)^2 = x' Y'Y x (as the implicit library does), and
 *   reported normalised by the total confidence sum_{u,i} c_ui.
 * - With ctx->device == RS_DEVICE_GPU the same iterations run through
 *   backend.h (gpu/als.cu) from the same start; the factors come back into
 *   the same AlsState, so the blob and everything after fit are unchanged.
 */
#include "als.h"

#include <cblas.h>
/* OpenBLAS's config pulls in <complex.h>, whose macro I is our item count. */
#undef I
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "parallel.h"
#include "rng.h"

/* LAPACK (Fortran ABI, from OpenBLAS; trailing hidden string lengths). */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t l1);
void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda,
             float *b, const int *ldb, int *info, size_t l1);

#define ALS_FORMAT 1
#define ALS_MAX_FACTORS 1024
#define ALS_ROW_GRAIN 32

enum { P_FACTORS, P_REG, P_ALPHA, P_ITERATIONS, P_CG_STEPS, P_CONFIDENCE, P_EPSILON };
enum { CONF_BINARY, CONF_LINEAR, CONF_LOG };

/* Defaults tuned on MovieLens-100K (seeded 80/20 per-user random splits,
 * NDCG@10 over all unseen items): reg 20 and alpha 1 with binary confidence
 * give 0.455 (mean of three splits; exact and 3-step CG agree to 1e-3). The
 * optimum is a ridge along reg / (1 + alpha): reg 5, alpha 3 gives 0.37 and
 * reg 50, alpha 10 gives 0.43. */
static const ParamSpec als_params[] = {
    [P_FACTORS] = {"factors", PARAM_INT, 64, 1, ALS_MAX_FACTORS, NULL, "latent factors K"},
    [P_REG] = {"reg", PARAM_FLOAT, 20.0, 1e-6, 1e6, NULL,
               "L2 regularisation of the factors (lambda)"},
    [P_ALPHA] = {"alpha", PARAM_FLOAT, 1.0, 0, 1e6, NULL,
                 "confidence slope: c = 1 + alpha * r"},
    [P_ITERATIONS] = {"iterations", PARAM_INT, 15, 1, 1000, NULL,
                      "alternating sweeps (items then users)"},
    [P_CG_STEPS] = {"cg_steps", PARAM_INT, 3, 0, 1024, NULL,
                    "conjugate-gradient steps per row and sweep (0: exact Cholesky)"},
    [P_CONFIDENCE] = {"confidence", PARAM_ENUM, CONF_BINARY, 0, 0, "binary|linear|log",
                      "r in c = 1 + alpha r: 1, the rating, or log(1 + rating/epsilon)"},
    [P_EPSILON] = {"epsilon", PARAM_FLOAT, 1.0, 1e-6, 1e6, NULL,
                   "epsilon of the log confidence scaling"},
};

typedef struct AlsState {
    size_t K;
    float *X; /* (U, K) user factors */
    float *Y; /* (I, K) item factors */
    float *G; /* (K, K) Y'Y + reg I for fold-in and explanations (derived, not saved) */
} AlsState;

/* ---- small vector helpers ----------------------------------------------------- */

/* Unrolled by 8 so that gcc -O2 vectorises them (its cheap cost model
 * leaves plain loops of unknown length scalar) and the dot product has 8
 * independent sums instead of one dependency chain; plain scalars rather
 * than an array keep the -O1 sanitizer build fast too. The order of the
 * additions is fixed, so results do not depend on the build. */
static float dot(const float *restrict a, const float *restrict b, size_t K)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        s0 += a[k] * b[k];
        s1 += a[k + 1] * b[k + 1];
        s2 += a[k + 2] * b[k + 2];
        s3 += a[k + 3] * b[k + 3];
        s4 += a[k + 4] * b[k + 4];
        s5 += a[k + 5] * b[k + 5];
        s6 += a[k + 6] * b[k + 6];
        s7 += a[k + 7] * b[k + 7];
    }
    for (; k < K; k++)
        s0 += a[k] * b[k];
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7));
}

static void axpy(float *restrict y, float a, const float *restrict x, size_t K)
{
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        y[k] += a * x[k];
        y[k + 1] += a * x[k + 1];
        y[k + 2] += a * x[k + 2];
        y[k + 3] += a * x[k + 3];
        y[k + 4] += a * x[k + 4];
        y[k + 5] += a * x[k + 5];
        y[k + 6] += a * x[k + 6];
        y[k + 7] += a * x[k + 7];
    }
    for (; k < K; k++)
        y[k] += a * x[k];
}

/* out (K) = G (K, K) v (K), G with both triangles filled. Not cblas_ssymv:
 * OpenBLAS's level-2 routines take a global lock for their scratch buffer,
 * which serialises the per-row solves of a parallel sweep. */
static void symv(float *restrict out, const float *restrict G, const float *restrict v, size_t K)
{
    for (size_t r = 0; r < K; r++)
        out[r] = dot(G + r * K, v, K);
}

/* ---- the two row solvers --------------------------------------------------------- */

int als_solve_naive(float *x, const float *G, const float *Y, const uint32_t *idx,
                    const float *conf, size_t n, size_t K, float *work)
{
    float *A = work; /* (K, K) G + sum_j (c_j - 1) y_j y_j', upper triangle (row-major) */
    float *b = work + K * K; /* (K) sum_j c_j y_j */
    memcpy(A, G, K * K * sizeof *A);
    memset(b, 0, K * sizeof *b);
    for (size_t j = 0; j < n; j++) {
        const float *y = Y + (size_t)idx[j] * K;
        float c = conf[j];
        /* row r from column r rounded down to a block (the extra entries
         * land in the lower triangle, which LAPACK does not read) */
        for (size_t r = 0; r < K; r++) {
            size_t s0 = r / 8 * 8;
            axpy(A + r * K + s0, (c - 1) * y[r], y + s0, K - s0);
        }
        axpy(b, c, y, K);
    }
    /* The row-major upper triangle is the column-major lower one. */
    int nk = (int)K, one = 1, info = 0;
    spotrf_("L", &nk, A, &nk, &info, 1);
    if (info == 0)
        spotrs_("L", &nk, &one, A, &nk, b, &nk, &info, 1);
    if (info != 0) {
        memset(x, 0, K * sizeof *x);
        return -1;
    }
    memcpy(x, b, K * sizeof *x);
    return 0;
}

void als_solve_cg(float *x, const float *G, const float *Y, const uint32_t *idx,
                  const float *conf, size_t n, size_t K, int steps, float *work)
{
    float *r = work;          /* (K) residual b - A x */
    float *p = work + K;      /* (K) search direction */
    float *Ap = work + 2 * K; /* (K) A p */
    /* r = sum_j c_j y_j - G x - sum_j (c_j - 1)(y_j . x) y_j */
    symv(r, G, x, K);
    for (size_t k = 0; k < K; k++)
        r[k] = -r[k];
    for (size_t j = 0; j < n; j++) {
        const float *y = Y + (size_t)idx[j] * K;
        float c = conf[j];
        axpy(r, c - (c - 1) * dot(y, x, K), y, K);
    }
    memcpy(p, r, K * sizeof *p);
    float rs_old = dot(r, r, K);
    for (int it = 0; it < steps && rs_old > 1e-20f; it++) {
        /* Ap = G p + sum_j (c_j - 1)(y_j . p) y_j */
        symv(Ap, G, p, K);
        for (size_t j = 0; j < n; j++) {
            const float *y = Y + (size_t)idx[j] * K;
            axpy(Ap, (conf[j] - 1) * dot(y, p, K), y, K);
        }
        float pAp = dot(p, Ap, K);
        if (!(pAp > 0))
            break;
        float a = rs_old / pAp;
        axpy(x, a, p, K);
        axpy(r, -a, Ap, K);
        float rs_new = dot(r, r, K);
        float beta = rs_new / rs_old;
        for (size_t k = 0; k < K; k++)
            p[k] = r[k] + beta * p[k];
        rs_old = rs_new;
    }
}

/* ---- confidence and the Gram matrix --------------------------------------------------- */

typedef struct Conf {
    int scaling;
    float alpha, eps;
} Conf;

static Conf conf_of(const RsModel *m)
{
    return (Conf){(int)m->pv.v[P_CONFIDENCE], (float)m->pv.v[P_ALPHA],
                  (float)m->pv.v[P_EPSILON]};
}

/* c = 1 + alpha r (Hu et al. 2008, eq. 1; the log form is their eq. 6).
 * A missing rating counts as r = 1 before scaling; negative ratings as 0. */
static float confidence(const Conf *cf, float rating)
{
    float r = 1;
    if (cf->scaling != CONF_BINARY && !isnan(rating))
        r = rating > 0 ? rating : 0;
    if (cf->scaling == CONF_LOG)
        r = logf(1 + r / cf->eps);
    return 1 + cf->alpha * r;
}

/* G (K, K) = F' F + reg I for F (N, K), both triangles filled. Uses
 * nthreads OpenBLAS threads. */
static void gram(float *G, const float *F, size_t N, size_t K, float reg, int nthreads)
{
    int old = rs_blas_threads(nthreads);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)K, (int)N, 1.0f, F, (int)K, 0.0f,
                G, (int)K);
    rs_blas_threads(old);
    for (size_t r = 0; r < K; r++) {
        G[r * K + r] += reg;
        for (size_t s = r + 1; s < K; s++)
            G[s * K + r] = G[r * K + s];
    }
}

/* ---- a sweep: solve every row of one side ------------------------------------------------ */

typedef struct Sweep {
    float *dst;           /* (N, K) rows being solved */
    const float *src;     /* (M, K) fixed factors */
    const float *G;       /* (K, K) src' src + reg I */
    const size_t *ptr;    /* (N + 1) row starts into idx / conf */
    const uint32_t *idx;  /* (NNZ) rows of src */
    const float *conf;    /* (NNZ) confidences */
    size_t K, wsize;
    int cg_steps;         /* 0: exact solve */
    float *work;          /* (nthreads, wsize) */
    atomic_int failed;
} Sweep;

static void sweep_rows(void *ctx, size_t begin, size_t end, int tid)
{
    Sweep *s = ctx;
    float *w = s->work + (size_t)tid * s->wsize;
    for (size_t r = begin; r < end; r++) {
        size_t a = s->ptr[r], n = s->ptr[r + 1] - a;
        float *x = s->dst + r * s->K;
        if (s->cg_steps > 0)
            als_solve_cg(x, s->G, s->src, s->idx + a, s->conf + a, n, s->K, s->cg_steps, w);
        else if (als_solve_naive(x, s->G, s->src, s->idx + a, s->conf + a, n, s->K, w))
            atomic_store(&s->failed, 1);
    }
}

/* ---- the loss ------------------------------------------------------------------------------- */

typedef struct LossCtx {
    const float *X, *Y, *G;
    const size_t *ptr;
    const uint32_t *idx;
    const float *conf;
    size_t K;
    float *work;     /* (nthreads, K) */
    double *partial; /* (chunks) one sum per chunk of ALS_ROW_GRAIN users */
} LossCtx;

/* sum_u [x_u' G x_u + sum_{i in N(u)} (c (1 - s)^2 - s^2)], s = x_u . y_i:
 * the data term over all cells plus the users' regulariser, since
 * sum_i c_ui (p_ui - s_ui)^2 = x' Y'Y x + sum_{i in N(u)} [c (1 - s)^2 - s^2]. */
static void loss_rows(void *ctx, size_t begin, size_t end, int tid)
{
    LossCtx *l = ctx;
    float *Gx = l->work + (size_t)tid * l->K;
    double sum = 0;
    for (size_t u = begin; u < end; u++) {
        const float *x = l->X + u * l->K;
        symv(Gx, l->G, x, l->K);
        sum += dot(x, Gx, l->K);
        for (size_t k = l->ptr[u]; k < l->ptr[u + 1]; k++) {
            double s = dot(x, l->Y + (size_t)l->idx[k] * l->K, l->K), c = l->conf[k];
            sum += c * (1 - s) * (1 - s) - s * s;
        }
    }
    l->partial[begin / ALS_ROW_GRAIN] = sum;
}

/* ---- fit ----------------------------------------------------------------------------------------- */

static void state_free(AlsState *s)
{
    if (!s)
        return;
    free(s->X);
    free(s->Y);
    free(s->G);
    free(s);
}

static void als_free_state(RsModel *m)
{
    state_free(m->state);
    m->state = NULL;
}

static AlsState *state_alloc(size_t U, size_t I, size_t K)
{
    AlsState *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->K = K;
    s->X = malloc((U ? U : 1) * K * sizeof *s->X);
    s->Y = malloc((I ? I : 1) * K * sizeof *s->Y);
    s->G = malloc(K * K * sizeof *s->G);
    if (!s->X || !s->Y || !s->G) {
        state_free(s);
        return NULL;
    }
    return s;
}

typedef struct FitBufs {
    float *conf_u; /* (NNZ) confidences in CSR order */
    float *conf_i; /* (NNZ) the same in CSC order */
    float *work;   /* (nthreads, K*K + 3K) solver scratch */
    double *partial;
} FitBufs;

/* als_fit's iterations on the GPU (backend.h): the same sweeps (items, then
 * users; the last user sweep exact), the same loss, from the start s holds.
 * On success s holds the factors and G = Y'Y + reg I. */
static int als_fit_gpu(AlsState *s, const FitContext *ctx, const FitBufs *fb, int iters, int cg,
                       float reg, double total_conf, int nth, RsErr *err)
{
    const RsMatrix *R = ctx->train;
    GpuAls *g = NULL;
    int rc = gpu_als_new(R, fb->conf_u, fb->conf_i, s->X, s->Y, s->K, reg, &g, err);
    for (int it = 0; !rc && it < iters; it++) {
        for (int side = 0; !rc && side < 2; side++) {
            if (ctx->cancel && atomic_load(ctx->cancel))
                rc = rs_err_set(err, RS_ECANCEL, "training cancelled");
            else
                rc = gpu_als_sweep(g, side, (side == 1 && it == iters - 1) ? 0 : cg, err);
        }
        double loss = 0;
        if (rc || (rc = gpu_als_loss(g, &loss, err)))
            break;
        loss /= total_conf;
        if (!isfinite(loss)) {
            rc = rs_err_set(err, RS_EUSAGE,
                            "ALS diverged at iteration %d (loss not finite; raise reg or lower alpha)",
                            it + 1);
            break;
        }
        FitProgress p = {.phase = "iteration", .epoch = it + 1, .epochs = iters,
                         .fraction = (double)(it + 1) / iters, .loss = loss, .valid = NAN};
        rc = model_fit_tick(ctx, &p, err);
    }
    if (!rc)
        rc = gpu_als_download(g, s->X, s->Y, err);
    gpu_als_free(g);
    if (!rc)
        gram(s->G, s->Y, R->I, s->K, reg, nth);
    return rc;
}

static int als_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *R = ctx->train;
    size_t U = R->U, I = R->I, K = (size_t)m->pv.v[P_FACTORS];
    int iters = (int)m->pv.v[P_ITERATIONS], cg = (int)m->pv.v[P_CG_STEPS];
    int nth = ctx->nthreads > 0 ? ctx->nthreads : 1;
    float reg = (float)m->pv.v[P_REG];
    Conf cf = conf_of(m);
    if (U == 0 || I == 0)
        return rs_err_set(err, RS_EUSAGE, "ALS: the training matrix is empty (%zu x %zu)", U, I);
    size_t wsize = K * K + 3 * K, nchunks = U / ALS_ROW_GRAIN + 1;
    FitBufs fb = {0};
    int rc = RS_OK;
    AlsState *s = state_alloc(U, I, K);
    fb.conf_u = malloc((R->NNZ ? R->NNZ : 1) * sizeof *fb.conf_u);
    fb.conf_i = malloc((R->NNZ ? R->NNZ : 1) * sizeof *fb.conf_i);
    fb.work = malloc((size_t)nth * wsize * sizeof *fb.work);
    fb.partial = calloc(nchunks, sizeof *fb.partial);
    if (!s || !fb.conf_u || !fb.conf_i || !fb.work || !fb.partial) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for ALS (%zu x %zu, %zu factors)", U, I, K);
        goto done;
    }
    double total_conf = (double)U * (double)I;
    for (size_t k = 0; k < R->NNZ; k++) {
        fb.conf_u[k] = confidence(&cf, R->u_rating[k]);
        total_conf += fb.conf_u[k] - 1;
    }
    for (size_t k = 0; k < R->NNZ; k++)
        fb.conf_i[k] = fb.conf_u[R->i_to_u[k]];

    /* Small random start, as the implicit library does (uniform * 0.01). */
    RsRng rng;
    rng_seed(&rng, m->seed);
    for (size_t k = 0; k < U * K; k++)
        s->X[k] = (float)(rng_uniform(&rng) * 0.01);
    for (size_t k = 0; k < I * K; k++)
        s->Y[k] = (float)(rng_uniform(&rng) * 0.01);

    if (ctx->device == RS_DEVICE_GPU) {
        rc = als_fit_gpu(s, ctx, &fb, iters, cg, reg, total_conf, nth, err);
        goto done;
    }
    for (int it = 0; it < iters; it++) {
        /* items: Y <- argmin given X (CSC rows); then users given Y (CSR rows),
         * exactly on the last iteration */
        for (int side = 0; side < 2; side++) {
            if (ctx->cancel && atomic_load(ctx->cancel)) {
                rc = rs_err_set(err, RS_ECANCEL, "training cancelled");
                goto done;
            }
            int users = side == 1;
            Sweep sw = {.dst = users ? s->X : s->Y,
                        .src = users ? s->Y : s->X,
                        .G = s->G,
                        .ptr = users ? R->u_ptr : R->i_ptr,
                        .idx = users ? R->u_items : R->i_users,
                        .conf = users ? fb.conf_u : fb.conf_i,
                        .K = K,
                        .wsize = wsize,
                        .cg_steps = (users && it == iters - 1) ? 0 : cg,
                        .work = fb.work};
            atomic_init(&sw.failed, 0);
            gram(s->G, sw.src, users ? I : U, K, reg, nth);
            rs_parallel_for(users ? U : I, nth, ALS_ROW_GRAIN, sweep_rows, &sw);
            if (atomic_load(&sw.failed)) {
                rc = rs_err_set(err, RS_EUSAGE,
                                "ALS: a %s system is not positive definite (reg=%g too small?)",
                                users ? "user" : "item", reg);
                goto done;
            }
        }
        /* G is Y'Y + reg I for the final Y here */
        LossCtx lc = {s->X, s->Y, s->G, R->u_ptr, R->u_items, fb.conf_u, K, fb.work, fb.partial};
        memset(fb.partial, 0, nchunks * sizeof *fb.partial);
        rs_parallel_for(U, nth, ALS_ROW_GRAIN, loss_rows, &lc);
        double loss = 0;
        for (size_t c = 0; c < nchunks; c++)
            loss += fb.partial[c];
        for (size_t k = 0; k < I * K; k++)
            loss += (double)reg * s->Y[k] * s->Y[k];
        loss /= total_conf;
        if (!isfinite(loss)) {
            rc = rs_err_set(err, RS_EUSAGE,
                            "ALS diverged at iteration %d (loss not finite; raise reg or lower alpha)",
                            it + 1);
            goto done;
        }
        FitProgress p = {.phase = "iteration", .epoch = it + 1, .epochs = iters,
                         .fraction = (double)(it + 1) / iters, .loss = loss, .valid = NAN};
        if ((rc = model_fit_tick(ctx, &p, err)))
            goto done;
    }
done:
    free(fb.conf_u);
    free(fb.conf_i);
    free(fb.work);
    free(fb.partial);
    if (rc) {
        state_free(s);
        return rc;
    }
    als_free_state(m);
    m->state = s;
    return RS_OK;
}

/* ---- scoring, fold-in, explanations ------------------------------------------------------------- */

static int check_fitted(const RsModel *m, RsErr *err)
{
    return m->state ? RS_OK : rs_err_set(err, RS_EUSAGE, "ALS model is not trained");
}

/* scores (I) = Y (I, K) x (K). Plain dots rather than cblas_sgemv, whose
 * scratch buffer lock would serialise callers scoring users in parallel. */
static void score_factors(const AlsState *s, size_t I, const float *x, float *scores)
{
    for (size_t i = 0; i < I; i++)
        scores[i] = dot(s->Y + i * s->K, x, s->K);
}

static int als_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                     RsErr *err)
{
    (void)train;
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    if (u >= m->U)
        return rs_err_set(err, RS_EUSAGE, "user index %u out of range", u);
    const AlsState *s = m->state;
    score_factors(s, m->I, s->X + (size_t)u * s->K, scores);
    return RS_OK;
}

/* The confidences (n) of a profile; RS_EUSAGE for an item out of range. */
static int profile_conf(const RsModel *m, const RsProfile *p, float **out, RsErr *err)
{
    Conf cf = conf_of(m);
    *out = NULL;
    for (size_t k = 0; k < p->n; k++)
        if (p->items[k] >= m->I)
            return rs_err_set(err, RS_EUSAGE, "item index %u out of range", p->items[k]);
    float *c = malloc((p->n ? p->n : 1) * sizeof *c);
    if (!c)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; k < p->n; k++)
        c[k] = confidence(&cf, p->values ? p->values[k] : NAN);
    *out = c;
    return RS_OK;
}

/* x (K): the user step of ALS for a profile, solved exactly. */
static int fold_in(const RsModel *m, const RsProfile *p, float *x, RsErr *err)
{
    const AlsState *s = m->state;
    size_t K = s->K;
    float *c = NULL, *work = NULL;
    int rc = profile_conf(m, p, &c, err);
    if (rc)
        return rc;
    if (!(work = malloc((K * K + K) * sizeof *work))) {
        free(c);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    if (als_solve_naive(x, s->G, s->Y, p->items, c, p->n, K, work))
        rc = rs_err_set(err, RS_EUSAGE, "ALS fold-in: system not positive definite");
    free(c);
    free(work);
    return rc;
}

/* ModelClass.factors: copies of X and Y (D = K). */
static int als_factors(const RsModel *m, float **X, float **Y, size_t *D, RsErr *err)
{
    *X = *Y = NULL;
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    const AlsState *s = m->state;
    size_t nx = m->U * s->K, ny = m->I * s->K;
    float *x = malloc((nx ? nx : 1) * sizeof *x), *y = malloc((ny ? ny : 1) * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return rs_err_set(err, RS_ENOMEM, "out of memory for the factor matrices");
    }
    memcpy(x, s->X, nx * sizeof *x);
    memcpy(y, s->Y, ny * sizeof *y);
    *X = x;
    *Y = y;
    *D = s->K;
    return RS_OK;
}

static int als_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                             float *scores, RsErr *err)
{
    (void)train;
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    const AlsState *s = m->state;
    float *x = malloc(s->K * sizeof *x);
    if (!x)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    if (!(rc = fold_in(m, p, x, err)))
        score_factors(s, m->I, x, scores);
    free(x);
    return rc;
}

/* Hu et al. 2008, section 5: with W_u = (Y'C_uY + reg I)^-1 the user's
 * factors are x_u = W_u sum_j c_uj y_j, so
 *     score_ui = y_i . x_u = sum_j c_uj s_ij,   s_ij = y_i' W_u y_j,
 * one additive contribution per history item j. One Cholesky factorisation
 * of W_u^-1 and one solve z = W_u y_i give every s_ij = z . y_j. */
static int als_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat, long user,
                       const RsProfile *p, uint32_t item, RsExplanation *out, RsErr *err)
{
    (void)cat;
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    if (user >= 0 && (size_t)user >= m->U)
        return rs_err_set(err, RS_EUSAGE, "user index %ld out of range", user);
    RsProfile own;
    if (user >= 0) {
        own = rs_profile_of_user(train, (uint32_t)user);
        p = &own;
    }
    const AlsState *s = m->state;
    size_t K = s->K;
    const float *yi = s->Y + (size_t)item * K;
    float *c = NULL;
    float *A = malloc((K * K + 2 * K) * sizeof *A); /* (K, K) W_u^-1, then z (K), x (K) */
    if (!A)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    float *z = A + K * K, *x = z + K;
    if ((rc = profile_conf(m, p, &c, err)))
        goto done;
    /* W_u^-1 = G + sum_j (c_j - 1) y_j y_j' (row-major upper = column-major lower) */
    memcpy(A, s->G, K * K * sizeof *A);
    for (size_t j = 0; j < p->n; j++) {
        const float *y = s->Y + (size_t)p->items[j] * K;
        for (size_t r = 0; r < K; r++)
            for (size_t q = r; q < K; q++)
                A[r * K + q] += (c[j] - 1) * y[r] * y[q];
    }
    memcpy(z, yi, K * sizeof *z);
    int nk = (int)K, one = 1, info = 0;
    spotrf_("L", &nk, A, &nk, &info, 1);
    if (info == 0)
        spotrs_("L", &nk, &one, A, &nk, z, &nk, &info, 1);
    if (info != 0) {
        rc = rs_err_set(err, RS_EUSAGE, "ALS explain: system not positive definite");
        goto done;
    }
    out->n = 0;
    out->additive = 1;
    out->bias = 0;
    snprintf(out->method, sizeof out->method,
             "Hu et al. 2008 sec. 5: c_uj * y_i'W_u y_j, W_u = (Y'C_uY + reg I)^-1");
    for (size_t j = 0; j < p->n && !rc; j++) {
        float sij = dot(z, s->Y + (size_t)p->items[j] * K, K);
        rc = rs_explanation_add(out, EXPL_ITEM, p->items[j], NULL, c[j] * sij, sij);
    }
    if (rc) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    if (user >= 0) {
        out->score = dot(s->X + (size_t)user * K, yi, K);
    } else if (!(rc = fold_in(m, p, x, err))) {
        out->score = dot(x, yi, K);
    }
done:
    free(A);
    free(c);
    return rc;
}

/* Cosine of item factors. */
static int als_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                       RsErr *err)
{
    (void)train;
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    const AlsState *s = m->state;
    size_t K = s->K;
    const float *yi = s->Y + (size_t)item * K;
    float ni = sqrtf(dot(yi, yi, K));
    for (size_t j = 0; j < m->I; j++) {
        const float *yj = s->Y + j * K;
        float nj = sqrtf(dot(yj, yj, K));
        scores[j] = ni > 0 && nj > 0 ? dot(yi, yj, K) / (ni * nj) : 0;
    }
    return RS_OK;
}

/* ---- save / load --------------------------------------------------------------------------------- */

/* Payload: u32 K, X (U*K f32), Y (I*K f32). */
static int als_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    const AlsState *s = m->state;
    blob_put_u32(b, (uint32_t)s->K);
    blob_put_f32s(b, s->X, m->U * s->K);
    blob_put_f32s(b, s->Y, m->I * s->K);
    return RS_OK;
}

/* Every parameter inside its spec's range (a blob's values are not checked
 * by the container). */
static int params_valid(const RsModel *m)
{
    for (size_t k = 0; k < m->cls->nparams; k++) {
        const ParamSpec *sp = &m->cls->params[k];
        double v = m->pv.v[k];
        if (sp->type == PARAM_ENUM) {
            size_t n = 1;
            for (const char *c = sp->choices; *c; c++)
                n += *c == '|';
            if (v < 0 || v >= (double)n || v != floor(v))
                return 0;
        } else if (sp->type == PARAM_INT || sp->type == PARAM_FLOAT) {
            if (v < sp->min || v > sp->max || (sp->type == PARAM_INT && v != floor(v)))
                return 0;
        }
    }
    return 1;
}

static int als_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    uint32_t K;
    if (!params_valid(m))
        return rs_err_set(err, RS_EPARSE, "ALS model blob damaged (parameter out of range)");
    if (blob_get_u32(r, &K) || K == 0 || K != (uint32_t)m->pv.v[P_FACTORS])
        return rs_err_set(err, RS_EPARSE, "ALS model blob damaged (factor count)");
    size_t need = (m->U + m->I) * (size_t)K * sizeof(float);
    if (blob_remaining(r) != need)
        return rs_err_set(err, RS_EPARSE, "ALS model blob damaged (%zu payload bytes, expected %zu)",
                          blob_remaining(r), need);
    AlsState *s = state_alloc(m->U, m->I, K);
    if (!s)
        return rs_err_set(err, RS_ENOMEM, "out of memory loading ALS");
    als_free_state(m);
    m->state = s;
    if (blob_get_f32s(r, s->X, m->U * K) || blob_get_f32s(r, s->Y, m->I * K)) {
        als_free_state(m);
        return rs_err_set(err, RS_EPARSE, "ALS model blob damaged (non-finite or missing factors)");
    }
    gram(s->G, s->Y, m->I, K, (float)m->pv.v[P_REG], 1);
    return RS_OK;
}

const ModelClass model_als = {
    .name = "als",
    .title = "ALS: implicit-feedback matrix factorisation (Hu et al. 2008, CG solver)",
    .params = als_params,
    .nparams = RS_ARRAY_LEN(als_params),
    .flags = MODEL_FOLDIN | MODEL_ADDITIVE | MODEL_GPU,
    .format_version = ALS_FORMAT,
    .fit = als_fit,
    .score = als_score,
    .score_profile = als_score_profile,
    .predict = NULL,
    .explain = als_explain,
    .similar = als_similar,
    .factors = als_factors,
    .save = als_save,
    .load = als_load,
    .free_state = als_free_state,
};
