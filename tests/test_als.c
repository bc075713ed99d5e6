/* test_als.c - implicit ALS (engine/als.c): the CG row solver against the
 * exact Cholesky one and against the normal equations assembled here in
 * double; the loss (non-increasing, and equal to the objective recomputed
 * from the saved factors); fold-in reproducing training users; additive
 * explanations; determinism; save/load and damaged blobs; cancellation;
 * and NDCG@10 on MovieLens-100K. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "als.h"
#include "dataset.h"
#include "model.h"
#include "rng.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------------- */

/* model_load() finds classes through engine/registry.c. */
static void require_registered(void)
{
    if (model_class_find("als") != &model_als)
        fail_msg("model_als is not in engine/registry.c: model_load() cannot find it");
}

/* A random U x I matrix with about density * U * I entries, every user and
 * item with at least one; ratings 1..5 when rated, else NAN. */
static RsMatrix *random_matrix(size_t U, size_t I, double density, uint64_t seed, int rated)
{
    RsRng rng;
    rng_seed(&rng, seed);
    size_t cap = U * I + U + I, n = 0;
    RsTriplet *t = malloc(cap * sizeof *t);
    assert_non_null(t);
    for (size_t u = 0; u < U; u++)
        for (size_t i = 0; i < I; i++)
            if (rng_uniform(&rng) < density || i == u % I || u == i % U)
                t[n++] = (RsTriplet){(uint32_t)u, (uint32_t)i,
                                     rated ? (float)(1 + rng_below(&rng, 5)) : NAN, RS_NO_TS};
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, t, n, &m, &err), RS_OK);
    free(t);
    return m;
}

typedef struct Trace {
    int calls, last_epoch, stop_at;
    double loss[64];
} Trace;

static int record(void *ctx, const FitProgress *p)
{
    Trace *t = ctx;
    if (t->calls < 64)
        t->loss[t->calls] = p->loss;
    t->calls++;
    t->last_epoch = p->epoch;
    return t->stop_at && t->calls >= t->stop_at;
}

static int fit_model(const RsMatrix *train, const char *const *kv, size_t nkv, uint64_t seed,
                     int nthreads, Trace *trace, atomic_int *cancel, RsModel **out, RsErr *err)
{
    ParamValues pv;
    int rc = params_parse(model_als.params, model_als.nparams, kv, nkv, &pv, err);
    assert_int_equal(rc, RS_OK);
    assert_int_equal(model_new(&model_als, train->U, train->I, &pv, seed, out, err), RS_OK);
    FitContext ctx = {.train = train, .nthreads = nthreads, .progress = trace ? record : NULL,
                      .progress_ctx = trace, .cancel = cancel};
    return model_fit(*out, &ctx, err);
}

static RsModel *fit_ok(const RsMatrix *train, const char *const *kv, size_t nkv, uint64_t seed)
{
    RsModel *m;
    RsErr err = {0};
    int rc = fit_model(train, kv, nkv, seed, 2, NULL, NULL, &m, &err);
    if (rc)
        print_message("fit: %s\n", err.msg);
    assert_int_equal(rc, RS_OK);
    return m;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The factors inside a saved blob: the payload (u32 K, X, Y) ends just
 * before the 8-byte checksum. */
static const float *blob_factors(const RsBlob *b, size_t U, size_t I, size_t K)
{
    size_t bytes = (U + I) * K * sizeof(float);
    assert_true(b->len > bytes + 12);
    uint32_t k;
    memcpy(&k, b->data + b->len - 8 - bytes - 4, 4);
    assert_int_equal(k, K);
    return (const float *)(b->data + b->len - 8 - bytes);
}

/* Rewrites the checksum after a deliberate edit, so the class's own
 * validation is what has to reject it. */
static void reseal(RsBlob *b)
{
    uint64_t h = blob_hash(b->data, b->len - 8);
    memcpy(b->data + b->len - 8, &h, 8);
}

/* ---- the row solvers ------------------------------------------------------------------ */

/* A random system: Y (N, K), n rows of it with confidences, G = Y'Y + reg I. */
typedef struct Sys {
    size_t N, K, n;
    float Y[40 * 8], G[8 * 8], conf[12];
    uint32_t idx[12];
    float reg;
} Sys;

static void make_sys(Sys *s, uint64_t seed)
{
    RsRng rng;
    rng_seed(&rng, seed);
    s->N = 40;
    s->K = 8;
    s->n = 12;
    s->reg = 0.1f;
    for (size_t k = 0; k < s->N * s->K; k++)
        s->Y[k] = (float)rng_normal(&rng) * 0.5f;
    for (size_t r = 0; r < s->K; r++)
        for (size_t c = 0; c < s->K; c++) {
            double g = r == c ? s->reg : 0;
            for (size_t j = 0; j < s->N; j++)
                g += (double)s->Y[j * s->K + r] * s->Y[j * s->K + c];
            s->G[r * s->K + c] = (float)g;
        }
    for (size_t j = 0; j < s->n; j++) {
        s->idx[j] = (uint32_t)(3 * j + 1);
        s->conf[j] = 1.0f + 4.0f * (float)rng_uniform(&rng);
    }
}

/* |A x - b| / |b| with A, b of the normal equations assembled in double. */
static double rel_residual(const Sys *s, const float *x)
{
    double num = 0, den = 0;
    size_t K = s->K;
    for (size_t r = 0; r < K; r++) {
        double Ax = 0, b = 0;
        for (size_t c = 0; c < K; c++)
            Ax += (double)s->G[r * K + c] * x[c];
        for (size_t j = 0; j < s->n; j++) {
            const float *y = s->Y + (size_t)s->idx[j] * K;
            double yx = 0;
            for (size_t c = 0; c < K; c++)
                yx += (double)y[c] * x[c];
            Ax += (s->conf[j] - 1.0) * yx * y[r];
            b += (double)s->conf[j] * y[r];
        }
        num += (Ax - b) * (Ax - b);
        den += b * b;
    }
    return sqrt(num / den);
}

static void test_solvers_agree(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        Sys s;
        make_sys(&s, seed);
        float exact[8], cg[8], cg3[8], work[8 * 8 + 8], zero[8] = {0};
        assert_int_equal(als_solve_naive(exact, s.G, s.Y, s.idx, s.conf, s.n, s.K, work), 0);
        assert_true(rel_residual(&s, exact) < 1e-5);

        /* K steps of CG from zero converge (exact arithmetic: in K steps) */
        memset(cg, 0, sizeof cg);
        als_solve_cg(cg, s.G, s.Y, s.idx, s.conf, s.n, s.K, (int)s.K, work);
        double err = 0, scale = 0;
        for (size_t k = 0; k < s.K; k++) {
            err = fmax(err, fabs(cg[k] - exact[k]));
            scale = fmax(scale, fabs(exact[k]));
        }
        assert_true(err < 1e-4 * scale);

        /* three steps from zero: better than zero, not yet converged */
        memset(cg3, 0, sizeof cg3);
        als_solve_cg(cg3, s.G, s.Y, s.idx, s.conf, s.n, s.K, 3, work);
        double r3 = rel_residual(&s, cg3);
        assert_true(r3 < 0.9 * rel_residual(&s, zero));
        assert_true(r3 > 1e-5);

        /* warm start at the solution stays there */
        memcpy(cg3, exact, sizeof cg3);
        als_solve_cg(cg3, s.G, s.Y, s.idx, s.conf, s.n, s.K, 3, work);
        assert_true(rel_residual(&s, cg3) < 1e-4);
    }
}

static void test_solver_not_pd(void **state)
{
    (void)state;
    /* G = 0 and no rows: singular, reported and zeroed */
    float G[4] = {0}, Y[2] = {1, 1}, x[2] = {7, 7}, work[6];
    assert_int_equal(als_solve_naive(x, G, Y, NULL, NULL, 0, 2, work), -1);
    assert_true(x[0] == 0 && x[1] == 0);
}

/* ---- the fit ------------------------------------------------------------------------------ */

/* The confidence of the parameter docs: c = 1 + alpha r with r = 1
 * (binary), the rating (linear) or log(1 + rating / epsilon) (log). */
static double conf_ref(const char *scaling, double alpha, double eps, double rating)
{
    double r = 1;
    if (strcmp(scaling, "binary") != 0)
        r = rating;
    if (!strcmp(scaling, "log"))
        r = log(1 + r / eps);
    return 1 + alpha * r;
}

/* The weighted objective of Hu et al. (eq. 3) recomputed cell by cell from
 * the saved factors, normalised by the total confidence as the fit does. */
static double naive_loss(const RsMatrix *R, const float *X, const float *Y, size_t K, double reg,
                         double alpha, const char *scaling)
{
    double sum = 0, wsum = 0;
    for (size_t u = 0; u < R->U; u++)
        for (size_t i = 0; i < R->I; i++) {
            double s = 0;
            for (size_t k = 0; k < K; k++)
                s += (double)X[u * K + k] * Y[i * K + k];
            size_t pos = rs_matrix_find(R, (uint32_t)u, (uint32_t)i);
            int in = pos != (size_t)-1;
            double c = in ? conf_ref(scaling, alpha, 2.0, R->u_rating[pos]) : 1, p = in ? 1 : 0;
            sum += c * (p - s) * (p - s);
            wsum += c;
        }
    for (size_t k = 0; k < R->U * K; k++)
        sum += reg * X[k] * X[k];
    for (size_t k = 0; k < R->I * K; k++)
        sum += reg * Y[k] * Y[k];
    return sum / wsum;
}

static void check_loss_trace(const char *cg_steps, const char *scaling, double slack)
{
    RsMatrix *R = random_matrix(30, 20, 0.2, 7, 1);
    char conf[64];
    snprintf(conf, sizeof conf, "confidence=%s", scaling);
    const char *kv[] = {"factors=4", "reg=0.5", "alpha=4", "iterations=12", "epsilon=2",
                        cg_steps, conf};
    Trace tr = {0};
    RsModel *m;
    RsErr err;
    assert_int_equal(fit_model(R, kv, 7, 3, 2, &tr, NULL, &m, &err), RS_OK);
    assert_int_equal(tr.calls, 12);
    assert_int_equal(tr.last_epoch, 12);
    for (int k = 1; k < tr.calls; k++) {
        assert_true(isfinite(tr.loss[k]));
        assert_true(tr.loss[k] <= tr.loss[k - 1] * (1 + slack));
    }
    assert_true(tr.loss[tr.calls - 1] < 0.9 * tr.loss[0]);

    RsBlob b;
    assert_int_equal(model_save(m, &b, &err), RS_OK);
    const float *X = blob_factors(&b, R->U, R->I, 4);
    float *Xc = malloc(R->U * 4 * sizeof *Xc), *Yc = malloc(R->I * 4 * sizeof *Yc);
    memcpy(Xc, X, R->U * 4 * sizeof *Xc); /* the blob need not be aligned */
    memcpy(Yc, X + R->U * 4, R->I * 4 * sizeof *Yc);
    double ref = naive_loss(R, Xc, Yc, 4, 0.5, 4.0, scaling);
    print_message("loss (%s, %s): first %.6f last %.6f, recomputed %.6f\n", cg_steps, scaling,
                  tr.loss[0], tr.loss[tr.calls - 1], ref);
    assert_true(fabs(ref - tr.loss[tr.calls - 1]) < 1e-4 * ref);
    free(Xc);
    free(Yc);
    blob_done(&b);
    model_free(m);
    rs_matrix_free(R);
}

static void test_loss_non_increasing_exact(void **state)
{
    (void)state;
    check_loss_trace("cg_steps=0", "binary", 1e-6);
    check_loss_trace("cg_steps=0", "linear", 1e-6);
    check_loss_trace("cg_steps=0", "log", 1e-6);
}

static void test_loss_non_increasing_cg(void **state)
{
    (void)state;
    /* CG from a warm start also only decreases each row's quadratic */
    check_loss_trace("cg_steps=3", "binary", 1e-5);
}

static void test_foldin_reproduces_users(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(60, 40, 0.15, 11, 1);
    const char *kv[] = {"factors=8", "iterations=6", "reg=1", "alpha=2", "confidence=linear"};
    RsModel *m = fit_ok(R, kv, 5, 5);
    float *a = malloc(R->I * sizeof *a), *b = malloc(R->I * sizeof *b);
    RsRec ra[10], rb[10];
    RsErr err;
    for (uint32_t u = 0; u < R->U; u++) {
        RsProfile p = rs_profile_of_user(R, u);
        assert_int_equal(model_als.score(m, R, u, a, &err), RS_OK);
        assert_int_equal(model_als.score_profile(m, R, &p, b, &err), RS_OK);
        double scale = 0, diff = 0;
        for (size_t i = 0; i < R->I; i++) {
            scale = fmax(scale, fabs(a[i]));
            diff = fmax(diff, fabs(a[i] - b[i]));
        }
        assert_true(scale > 0.01);
        assert_true(diff <= 1e-4 * scale);
        size_t na, nb;
        assert_int_equal(model_recommend(m, R, u, 10, 1, ra, &na, &err), RS_OK);
        assert_int_equal(model_recommend_profile(m, R, &p, 10, 1, rb, &nb, &err), RS_OK);
        assert_int_equal(na, nb);
        for (size_t k = 0; k < na; k++)
            assert_int_equal(ra[k].item, rb[k].item);
    }
    /* an item out of range is refused */
    uint32_t bad = (uint32_t)R->I;
    RsProfile p = {1, &bad, NULL};
    assert_int_equal(model_als.score_profile(m, R, &p, b, &err), RS_EUSAGE);
    free(a);
    free(b);
    model_free(m);
    rs_matrix_free(R);
}

static void check_additive(const RsModel *m, const RsMatrix *R, long u, const RsProfile *p,
                           uint32_t item, float expect)
{
    RsExplanation e;
    RsErr err;
    rs_explanation_init(&e);
    assert_int_equal(model_explain(m, R, NULL, u, p, item, &e, &err), RS_OK);
    assert_true(e.additive);
    double sum = e.bias, mag = 0;
    for (size_t k = 0; k < e.n; k++) {
        assert_int_equal(e.c[k].kind, EXPL_ITEM);
        sum += e.c[k].value;
        mag += fabs(e.c[k].value);
    }
    assert_true(fabs(sum - e.score) <= 1e-4 * (mag + 1e-3));
    assert_true(fabs(e.score - expect) <= 1e-4 * (fabs(expect) + 1e-3));
    rs_explanation_done(&e);
}

static void test_explain_sums_to_score(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(50, 30, 0.2, 13, 1);
    const char *kv[] = {"factors=6", "iterations=5", "reg=1", "alpha=3", "confidence=log"};
    RsModel *m = fit_ok(R, kv, 5, 9);
    float *s = malloc(R->I * sizeof *s);
    RsErr err;
    for (uint32_t u = 0; u < 10; u++) {
        assert_int_equal(model_als.score(m, R, u, s, &err), RS_OK);
        for (uint32_t i = 0; i < R->I; i += 7)
            check_additive(m, R, u, NULL, i, s[i]);
    }
    /* a what-if profile (user < 0), with and without values */
    uint32_t items[] = {1, 4, 9, 20};
    float vals[] = {5, 1, NAN, 3};
    RsProfile p = {4, items, vals}, q = {4, items, NULL};
    assert_int_equal(model_als.score_profile(m, R, &p, s, &err), RS_OK);
    check_additive(m, R, -1, &p, 2, s[2]);
    assert_int_equal(model_als.score_profile(m, R, &q, s, &err), RS_OK);
    check_additive(m, R, -1, &q, 25, s[25]);
    free(s);
    model_free(m);
    rs_matrix_free(R);
}

static void test_similar_cosine(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(40, 25, 0.2, 17, 0);
    const char *kv[] = {"factors=5", "iterations=4", "reg=0.5"};
    RsModel *m = fit_ok(R, kv, 3, 1);
    float *s = malloc(R->I * sizeof *s);
    RsErr err;
    for (uint32_t i = 0; i < R->I; i++) {
        assert_int_equal(model_als.similar(m, R, i, s, &err), RS_OK);
        assert_float_equal(s[i], 1.0f, 1e-5);
        for (size_t j = 0; j < R->I; j++)
            assert_true(s[j] >= -1.0001f && s[j] <= 1.0001f);
    }
    assert_int_equal(model_als.similar(m, R, (uint32_t)R->I, s, &err), RS_EUSAGE);
    free(s);
    model_free(m);
    rs_matrix_free(R);
}

static void test_deterministic(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(80, 50, 0.1, 19, 0);
    const char *kv[] = {"factors=8", "iterations=4"};
    RsModel *a = fit_ok(R, kv, 2, 42), *b = fit_ok(R, kv, 2, 42), *c = fit_ok(R, kv, 2, 43);
    RsBlob ba, bb, bc;
    RsErr err;
    assert_int_equal(model_save(a, &ba, &err), RS_OK);
    assert_int_equal(model_save(b, &bb, &err), RS_OK);
    assert_int_equal(model_save(c, &bc, &err), RS_OK);
    assert_int_equal(ba.len, bb.len);
    assert_memory_equal(ba.data, bb.data, ba.len);
    /* another seed: other factors (not just another seed in the header) */
    size_t fbytes = (R->U + R->I) * 8 * sizeof(float);
    assert_int_equal(ba.len, bc.len);
    assert_memory_not_equal(blob_factors(&ba, R->U, R->I, 8), blob_factors(&bc, R->U, R->I, 8),
                            fbytes);
    blob_done(&ba);
    blob_done(&bb);
    blob_done(&bc);
    model_free(a);
    model_free(b);
    model_free(c);
    rs_matrix_free(R);
}

static void test_save_load(void **state)
{
    (void)state;
    require_registered();
    RsMatrix *R = random_matrix(50, 35, 0.15, 23, 1);
    const char *kv[] = {"factors=7", "iterations=3", "confidence=linear"};
    RsModel *m = fit_ok(R, kv, 3, 4), *l = NULL;
    RsBlob b;
    RsErr err;
    assert_int_equal(model_save(m, &b, &err), RS_OK);
    int rc = model_load(b.data, b.len, R->U, R->I, &l, &err);
    if (rc)
        print_message("load: %s\n", err.msg);
    assert_int_equal(rc, RS_OK);
    assert_ptr_equal(l->cls, &model_als);
    float *s1 = malloc(R->I * sizeof *s1), *s2 = malloc(R->I * sizeof *s2);
    for (uint32_t u = 0; u < R->U; u++) {
        RsRec r1[10], r2[10];
        size_t n1, n2;
        assert_int_equal(model_recommend(m, R, u, 10, 1, r1, &n1, &err), RS_OK);
        assert_int_equal(model_recommend(l, R, u, 10, 1, r2, &n2, &err), RS_OK);
        assert_int_equal(n1, n2);
        assert_memory_equal(r1, r2, n1 * sizeof *r1);
        /* fold-in uses the Gram matrix rebuilt on load */
        RsProfile p = rs_profile_of_user(R, u);
        assert_int_equal(model_als.score_profile(m, R, &p, s1, &err), RS_OK);
        assert_int_equal(model_als.score_profile(l, R, &p, s2, &err), RS_OK);
        for (size_t i = 0; i < R->I; i++)
            assert_float_equal(s1[i], s2[i], 1e-5 * (1 + fabsf(s1[i])));
    }
    free(s1);
    free(s2);
    model_free(l);

    /* a shape mismatch is refused */
    assert_int_not_equal(model_load(b.data, b.len, R->U + 1, R->I, &l, &err), RS_OK);
    assert_null(l);
    blob_done(&b);
    model_free(m);
    rs_matrix_free(R);
}

static void test_corrupt_blob(void **state)
{
    (void)state;
    require_registered();
    RsMatrix *R = random_matrix(20, 15, 0.2, 29, 0);
    const char *kv[] = {"factors=3", "iterations=2"};
    RsModel *m = fit_ok(R, kv, 2, 4), *l = NULL;
    RsBlob b;
    RsErr err;
    assert_int_equal(model_save(m, &b, &err), RS_OK);
    size_t fbytes = (R->U + R->I) * 3 * sizeof(float), kpos = b.len - 8 - fbytes - 4;
    uint8_t *copy = malloc(b.len);

    /* a flipped bit anywhere in the payload: the checksum */
    memcpy(copy, b.data, b.len);
    copy[b.len - 20] ^= 0x10;
    assert_int_not_equal(model_load(copy, b.len, R->U, R->I, &l, &err), RS_OK);
    assert_null(l);

    /* a NaN factor behind a valid checksum: the class rejects it */
    RsBlob e = {copy, b.len, b.len, 0};
    memcpy(copy, b.data, b.len);
    float nan = NAN;
    memcpy(copy + kpos + 4 + 5 * sizeof(float), &nan, sizeof nan);
    reseal(&e);
    assert_int_equal(model_load(copy, b.len, R->U, R->I, &l, &err), RS_EPARSE);
    assert_null(l);
    print_message("NaN factor: %s\n", err.msg);

    /* a factor count that disagrees with the parameters */
    memcpy(copy, b.data, b.len);
    uint32_t k4 = 4;
    memcpy(copy + kpos, &k4, 4);
    reseal(&e);
    assert_int_equal(model_load(copy, b.len, R->U, R->I, &l, &err), RS_EPARSE);
    assert_null(l);

    /* truncated payload (length field and checksum fixed up) */
    memcpy(copy, b.data, b.len);
    size_t cut = 4 * sizeof(float), plen_pos = kpos - 8;
    uint64_t plen;
    memcpy(&plen, copy + plen_pos, 8);
    assert_int_equal(plen, fbytes + 4);
    plen -= cut;
    memcpy(copy + plen_pos, &plen, 8);
    RsBlob t = {copy, b.len - cut, b.len - cut, 0};
    reseal(&t);
    assert_int_equal(model_load(copy, b.len - cut, R->U, R->I, &l, &err), RS_EPARSE);
    assert_null(l);

    /* the untouched blob still loads */
    assert_int_equal(model_load(b.data, b.len, R->U, R->I, &l, &err), RS_OK);
    model_free(l);
    free(copy);
    blob_done(&b);
    model_free(m);
    rs_matrix_free(R);
}

static void test_cancel(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(30, 20, 0.2, 31, 0);
    const char *kv[] = {"factors=4", "iterations=10"};
    RsModel *m;
    RsErr err;
    atomic_int cancel;
    atomic_init(&cancel, 1);
    assert_int_equal(fit_model(R, kv, 2, 1, 2, NULL, &cancel, &m, &err), RS_ECANCEL);
    assert_non_null(strstr(err.msg, "cancel"));
    model_free(m);

    Trace tr = {.stop_at = 3};
    assert_int_equal(fit_model(R, kv, 2, 1, 2, &tr, NULL, &m, &err), RS_ECANCEL);
    assert_int_equal(tr.calls, 3);
    assert_null(m->state);
    model_free(m);
    rs_matrix_free(R);
}

/* ---- MovieLens-100K ------------------------------------------------------------------------- */

static void test_ml100k_ndcg(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *all = tu_ml100k_load("u.data");
    RsMatrix *train, *test;
    tu_split_random(all, 0.2, 1, &train, &test);
    double t0 = now();
    RsModel *m = fit_ok(train, NULL, 0, 1);
    double t1 = now();
    double ndcg = tu_ndcg_full(m, train, test, 10);
    print_message("ALS (defaults) on ML-100K: NDCG@10 = %.4f, fit %.2f s (2 threads)\n", ndcg,
                  t1 - t0);
    assert_true(ndcg >= 0.33);
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
    rs_matrix_free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solvers_agree),
        cmocka_unit_test(test_solver_not_pd),
        cmocka_unit_test(test_loss_non_increasing_exact),
        cmocka_unit_test(test_loss_non_increasing_cg),
        cmocka_unit_test(test_foldin_reproduces_users),
        cmocka_unit_test(test_explain_sums_to_score),
        cmocka_unit_test(test_similar_cosine),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt_blob),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_ml100k_ndcg),
    };
    return cmocka_run_group_tests_name("als", tests, NULL, NULL);
}
