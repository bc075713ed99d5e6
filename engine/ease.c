/*
 * ease.c - EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for
 * Sparse Data", WWW), section 3: with the binary interaction matrix X
 * (U, I),
 *
 *     G = X'X + lambda I,   P = G^-1,   B_ij = -P_ij / P_jj (i != j),   B_jj = 0
 *
 * and a user's scores are x_u B (row-major B: the sum of the rows of B for
 * the user's items). B is the closed-form minimiser of
 * |X - XB|^2 + lambda |B|^2 subject to diag(B) = 0 (Steck's eq. 1-8).
 *
 * Design: one dense I x I float buffer goes through every stage in place:
 * the Gram matrix (accumulated from the sparse co-occurrences, O(sum_u
 * n_u^2), in parallel over item rows; no dense X), its Cholesky factor
 * (spotrf), the inverse (spotri), and B. The two LAPACK calls are the
 * O(I^3) part and run on every core through OpenBLAS's own threads.
 * Catalogues beyond max_items are refused before any allocation.
 */
#include "ease.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

/* LAPACK (Fortran ABI, from OpenBLAS; trailing hidden string lengths). */
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t l1);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t l1);

#define EASE_FORMAT 1
#define EASE_ROW_GRAIN 16

enum { P_LAMBDA, P_MAX_ITEMS };

static const ParamSpec ease_params[] = {
    [P_LAMBDA] = {"lambda", PARAM_FLOAT, 400.0, 0, 1e9, NULL,
                  "L2 regularisation added to the Gram matrix's diagonal"},
    [P_MAX_ITEMS] = {"max_items", PARAM_INT, 40000, 1, 200000, NULL,
                     "refuse catalogues larger than this (B needs 4 I^2 bytes)"},
};

typedef struct EaseState {
    float *B; /* (I, I) item-item weights, row-major, zero diagonal */
} EaseState;

static void ease_free_state(RsModel *m)
{
    EaseState *s = m->state;
    if (s) {
        free(s->B);
        free(s);
    }
    m->state = NULL;
}

/* ---- fit --------------------------------------------------------------------------- */

typedef struct GramCtx {
    float *G;            /* (I, I) */
    const RsMatrix *R;
} GramCtx;

/* Rows [begin, end) of G = X'X: G_ij = number of users with both i and j. */
static void gram_rows(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    GramCtx *g = ctx;
    const RsMatrix *R = g->R;
    size_t I = R->I;
    for (size_t i = begin; i < end; i++) {
        float *row = g->G + i * I;
        memset(row, 0, I * sizeof *row);
        for (size_t k = R->i_ptr[i]; k < R->i_ptr[i + 1]; k++) {
            uint32_t u = R->i_users[k];
            for (size_t q = R->u_ptr[u]; q < R->u_ptr[u + 1]; q++)
                row[R->u_items[q]] += 1.0f;
        }
    }
}

typedef struct WeightCtx {
    float *P;            /* (I, I) upper triangle of G^-1 on entry, B on return */
    const float *d;      /* (I) diag(P) */
    size_t I;
    int pass;            /* 0: mirror the upper triangle; 1: P -> B */
} WeightCtx;

static void weight_rows(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    WeightCtx *w = ctx;
    size_t I = w->I;
    for (size_t i = begin; i < end; i++) {
        float *row = w->P + i * I;
        if (w->pass == 0) {
            for (size_t j = 0; j < i; j++)
                row[j] = w->P[j * I + i];
        } else {
            for (size_t j = 0; j < I; j++)
                row[j] = -row[j] / w->d[j];
            row[i] = 0;
        }
    }
}

static int tick(const FitContext *ctx, const char *phase, double fraction, RsErr *err)
{
    FitProgress p = {.phase = phase, .fraction = fraction, .loss = NAN, .valid = NAN};
    return model_fit_tick(ctx, &p, err);
}

/* "1.5 GiB", "12.0 MiB": the size of the dense I x I float matrix. */
static void matrix_size(char *buf, size_t cap, size_t I)
{
    double b = 4.0 * (double)I * (double)I;
    if (b >= 1024.0 * 1024.0 * 1024.0)
        snprintf(buf, cap, "%.1f GiB", b / (1024.0 * 1024.0 * 1024.0));
    else
        snprintf(buf, cap, "%.1f MiB", b / (1024.0 * 1024.0));
}

static int ease_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *R = ctx->train;
    size_t I = R->I, limit = (size_t)m->pv.v[P_MAX_ITEMS];
    int nth = ctx->nthreads > 0 ? ctx->nthreads : 1;
    char need[32];
    matrix_size(need, sizeof need, I);
    if (I > limit)
        return rs_err_set(err, RS_EUSAGE,
                          "EASE needs a dense %zu x %zu float matrix (%s of memory) but "
                          "max_items is %zu; filter the catalogue or raise max_items",
                          I, I, need, limit);
    if (I == 0)
        return rs_err_set(err, RS_EUSAGE, "EASE: the training matrix has no items");
    EaseState *s = calloc(1, sizeof *s);
    float *d = malloc(I * sizeof *d);
    int rc = RS_OK, info = 0, n = (int)I, blas = -1;
    if (s)
        s->B = malloc(I * I * sizeof *s->B);
    if (!s || !s->B || !d) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory: EASE needs %s for %zu items", need, I);
        goto done;
    }
    if ((rc = tick(ctx, "gram", 0.0, err)))
        goto done;
    GramCtx g = {s->B, R};
    rs_parallel_for(I, nth, EASE_ROW_GRAIN, gram_rows, &g);
    float lambda = (float)m->pv.v[P_LAMBDA];
    for (size_t i = 0; i < I; i++)
        s->B[i * I + i] += lambda;

    if ((rc = tick(ctx, "cholesky", 0.1, err)))
        goto done;
    /* G is symmetric: the column-major lower triangle LAPACK sees is the
     * row-major upper one. */
    blas = rs_blas_threads(nth);
    spotrf_("L", &n, s->B, &n, &info, 1);
    if (info != 0) {
        rc = rs_err_set(err, RS_EUSAGE,
                        "EASE: X'X + lambda I is not positive definite (lambda=%g too small?)",
                        (double)lambda);
        goto done;
    }
    if ((rc = tick(ctx, "inverse", 0.4, err)))
        goto done;
    spotri_("L", &n, s->B, &n, &info, 1);
    if (info != 0) {
        rc = rs_err_set(err, RS_EUSAGE, "EASE: the Gram matrix is singular (lambda too small?)");
        goto done;
    }
    rs_blas_threads(blas);
    blas = -1;

    if ((rc = tick(ctx, "weights", 0.9, err)))
        goto done;
    WeightCtx w = {s->B, d, I, 0};
    rs_parallel_for(I, nth, EASE_ROW_GRAIN, weight_rows, &w);
    for (size_t i = 0; i < I; i++) {
        d[i] = s->B[i * I + i];
        if (!(d[i] > 0) || !isfinite(d[i])) {
            rc = rs_err_set(err, RS_EUSAGE, "EASE: inverse not finite (lambda too small?)");
            goto done;
        }
    }
    w.pass = 1;
    rs_parallel_for(I, nth, EASE_ROW_GRAIN, weight_rows, &w);
    rc = tick(ctx, "done", 1.0, err);
done:
    if (blas >= 0)
        rs_blas_threads(blas);
    free(d);
    if (rc) {
        if (s)
            free(s->B);
        free(s);
        return rc;
    }
    m->state = s;
    return RS_OK;
}

/* ---- scoring, fold-in, explanations ----------------------------------------------------- */

static int check_fitted(const RsModel *m, RsErr *err)
{
    return m->state ? RS_OK : rs_err_set(err, RS_EUSAGE, "EASE model is not trained");
}

/* scores (I) = sum_k B[items[k], :] (x binary) */
static void score_items(const RsModel *m, const uint32_t *items, size_t n, float *scores)
{
    const EaseState *s = m->state;
    size_t I = m->I;
    memset(scores, 0, I * sizeof *scores);
    for (size_t k = 0; k < n; k++) {
        const float *row = s->B + (size_t)items[k] * I;
        for (size_t j = 0; j < I; j++)
            scores[j] += row[j];
    }
}

static int ease_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                      RsErr *err)
{
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    if (u >= m->U || u >= train->U)
        return rs_err_set(err, RS_EUSAGE, "user index %u out of range", u);
    size_t a = train->u_ptr[u];
    score_items(m, train->u_items + a, train->u_ptr[u + 1] - a, scores);
    return RS_OK;
}

static int check_profile(const RsModel *m, const RsProfile *p, RsErr *err)
{
    for (size_t k = 0; k < p->n; k++)
        if (p->items[k] >= m->I)
            return rs_err_set(err, RS_EUSAGE, "item index %u out of range", p->items[k]);
    return RS_OK;
}

/* Fold-in needs no solve: a profile is just another row x of X. */
static int ease_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                              float *scores, RsErr *err)
{
    (void)train;
    int rc = check_fitted(m, err);
    if (!rc)
        rc = check_profile(m, p, err);
    if (!rc)
        score_items(m, p->items, p->n, scores);
    return rc;
}

/* score_ui = sum_{j in history} B_ji: one additive term per history item. */
static int ease_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat, long user,
                        const RsProfile *p, uint32_t item, RsExplanation *out, RsErr *err)
{
    (void)cat;
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    RsProfile own;
    if (user >= 0) {
        if ((size_t)user >= m->U)
            return rs_err_set(err, RS_EUSAGE, "user index %ld out of range", user);
        own = rs_profile_of_user(train, (uint32_t)user);
        p = &own;
    }
    if ((rc = check_profile(m, p, err)))
        return rc;
    const EaseState *s = m->state;
    out->n = 0;
    out->additive = 1;
    out->bias = 0;
    snprintf(out->method, sizeof out->method,
             "Steck 2019 (EASE): score = sum of B[j,i] over history items j");
    float score = 0;
    for (size_t k = 0; k < p->n; k++) {
        float w = s->B[(size_t)p->items[k] * m->I + item];
        score += w;
        if (rs_explanation_add(out, EXPL_ITEM, p->items[k], NULL, w, NAN))
            return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    out->score = score;
    return RS_OK;
}

/* Column i of B: how much having j in a history adds to i's score. */
static int ease_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                        RsErr *err)
{
    (void)train;
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    const EaseState *s = m->state;
    for (size_t j = 0; j < m->I; j++)
        scores[j] = s->B[j * m->I + item];
    return RS_OK;
}

/* ---- save / load ------------------------------------------------------------------------------ */

/* Payload: u64 I, then B (I*I f32, row-major). */
static int ease_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    int rc = check_fitted(m, err);
    if (rc)
        return rc;
    const EaseState *s = m->state;
    blob_put_u64(b, m->I);
    blob_put_f32s(b, s->B, m->I * m->I);
    return RS_OK;
}

static int ease_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    uint64_t I;
    double lambda = m->pv.v[P_LAMBDA], lim = m->pv.v[P_MAX_ITEMS];
    if (!(lambda >= ease_params[P_LAMBDA].min && lambda <= ease_params[P_LAMBDA].max) ||
        !(lim >= ease_params[P_MAX_ITEMS].min && lim <= ease_params[P_MAX_ITEMS].max) ||
        lim != floor(lim))
        return rs_err_set(err, RS_EPARSE, "EASE model blob damaged (parameter out of range)");
    if (blob_get_u64(r, &I) || I != m->I || m->I > (size_t)ease_params[P_MAX_ITEMS].max)
        return rs_err_set(err, RS_EPARSE, "EASE model blob damaged (item count)");
    size_t need = m->I * m->I * sizeof(float);
    if (blob_remaining(r) != need)
        return rs_err_set(err, RS_EPARSE, "EASE model blob damaged (%zu payload bytes, expected %zu)",
                          blob_remaining(r), need);
    EaseState *s = calloc(1, sizeof *s);
    if (s)
        s->B = malloc((m->I ? m->I * m->I : 1) * sizeof *s->B);
    if (!s || !s->B) {
        if (s)
            free(s->B);
        free(s);
        return rs_err_set(err, RS_ENOMEM, "out of memory loading EASE");
    }
    int bad = blob_get_f32s(r, s->B, m->I * m->I) != 0;
    for (size_t i = 0; i < m->I && !bad; i++)
        bad = s->B[i * m->I + i] != 0;
    if (bad) {
        free(s->B);
        free(s);
        return rs_err_set(err, RS_EPARSE,
                          "EASE model blob damaged (non-finite weights or non-zero diagonal)");
    }
    ease_free_state(m);
    m->state = s;
    return RS_OK;
}

const ModelClass model_ease = {
    .name = "ease",
    .title = "EASE: embarrassingly shallow autoencoder (Steck 2019)",
    .params = ease_params,
    .nparams = RS_ARRAY_LEN(ease_params),
    .flags = MODEL_FOLDIN | MODEL_ADDITIVE,
    .format_version = EASE_FORMAT,
    .fit = ease_fit,
    .score = ease_score,
    .score_profile = ease_score_profile,
    .predict = NULL,
    .explain = ease_explain,
    .similar = ease_similar,
    .save = ease_save,
    .load = ease_load,
    .free_state = ease_free_state,
};
