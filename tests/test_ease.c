/* test_ease.c - EASE (engine/ease.c): B against the closed form computed
 * here in double with a hand-written Gauss-Jordan inverse; the zero
 * diagonal; fold-in, explanations and "similar" against the definition;
 * the item limit; determinism; save/load and damaged blobs; cancellation;
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

#include "dataset.h"
#include "ease.h"
#include "model.h"
#include "rng.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------------- */

/* model_load() finds classes through engine/registry.c. */
static void require_registered(void)
{
    if (model_class_find("ease") != &model_ease)
        fail_msg("model_ease is not in engine/registry.c: model_load() cannot find it");
}

static RsMatrix *random_matrix(size_t U, size_t I, double density, uint64_t seed)
{
    RsRng rng;
    rng_seed(&rng, seed);
    size_t n = 0;
    RsTriplet *t = malloc((U * I + 1) * sizeof *t);
    assert_non_null(t);
    for (size_t u = 0; u < U; u++)
        for (size_t i = 0; i < I; i++)
            if (rng_uniform(&rng) < density || i == u % I)
                t[n++] = (RsTriplet){(uint32_t)u, (uint32_t)i, (float)(1 + rng_below(&rng, 5)),
                                     RS_NO_TS};
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, t, n, &m, &err), RS_OK);
    free(t);
    return m;
}

static int stop_at_phase(void *ctx, const FitProgress *p)
{
    return !strcmp(p->phase, (const char *)ctx);
}

static int fit_model(const RsMatrix *train, const char *const *kv, size_t nkv,
                     FitProgressFn progress, void *pctx, RsModel **out, RsErr *err)
{
    ParamValues pv;
    assert_int_equal(params_parse(model_ease.params, model_ease.nparams, kv, nkv, &pv, err),
                     RS_OK);
    assert_int_equal(model_new(&model_ease, train->U, train->I, &pv, 1, out, err), RS_OK);
    FitContext ctx = {.train = train, .nthreads = 2, .progress = progress, .progress_ctx = pctx};
    return model_fit(*out, &ctx, err);
}

static RsModel *fit_ok(const RsMatrix *train, const char *const *kv, size_t nkv)
{
    RsModel *m;
    RsErr err = {0};
    int rc = fit_model(train, kv, nkv, NULL, NULL, &m, &err);
    if (rc)
        print_message("fit: %s\n", err.msg);
    assert_int_equal(rc, RS_OK);
    return m;
}

static void reseal(uint8_t *data, size_t len)
{
    uint64_t h = blob_hash(data, len - 8);
    memcpy(data + len - 8, &h, 8);
}

/* Inverse of the n x n matrix A (row-major, double) by Gauss-Jordan with
 * partial pivoting; A is destroyed. */
static void gauss_jordan(double *A, double *inv, size_t n)
{
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < n; c++)
            inv[r * n + c] = r == c;
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[piv * n + c]))
                piv = r;
        assert_true(fabs(A[piv * n + c]) > 1e-12);
        for (size_t k = 0; k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[piv * n + k];
            A[piv * n + k] = t;
            t = inv[c * n + k];
            inv[c * n + k] = inv[piv * n + k];
            inv[piv * n + k] = t;
        }
        double d = A[c * n + c];
        for (size_t k = 0; k < n; k++) {
            A[c * n + k] /= d;
            inv[c * n + k] /= d;
        }
        for (size_t r = 0; r < n; r++) {
            if (r == c)
                continue;
            double f = A[r * n + c];
            for (size_t k = 0; k < n; k++) {
                A[r * n + k] -= f * A[c * n + k];
                inv[r * n + k] -= f * inv[c * n + k];
            }
        }
    }
}

/* B of Steck 2019 in double, from the definition: G = X'X + lambda I with
 * X binary and dense, P = G^-1, B_ij = -P_ij / P_jj, B_jj = 0. */
static void naive_b(const RsMatrix *R, double lambda, double *B)
{
    size_t U = R->U, I = R->I;
    double *X = calloc(U * I, sizeof *X), *G = calloc(I * I, sizeof *G);
    double *P = calloc(I * I, sizeof *P), *G2 = calloc(I * I, sizeof *G2);
    for (size_t u = 0; u < U; u++)
        for (size_t k = R->u_ptr[u]; k < R->u_ptr[u + 1]; k++)
            X[u * I + R->u_items[k]] = 1;
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < I; j++) {
            double g = i == j ? lambda : 0;
            for (size_t u = 0; u < U; u++)
                g += X[u * I + i] * X[u * I + j];
            G[i * I + j] = G2[i * I + j] = g;
        }
    gauss_jordan(G2, P, I);
    /* the inverse really is one: G P = I */
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < I; j++) {
            double s = 0;
            for (size_t k = 0; k < I; k++)
                s += G[i * I + k] * P[k * I + j];
            assert_true(fabs(s - (i == j)) < 1e-9);
        }
    for (size_t i = 0; i < I; i++)
        for (size_t j = 0; j < I; j++)
            B[i * I + j] = i == j ? 0 : -P[i * I + j] / P[j * I + j];
    free(X);
    free(G);
    free(P);
    free(G2);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_closed_form(void **state)
{
    (void)state;
    const char *lam[] = {"lambda=0.5", "lambda=2", "lambda=25"};
    double lv[] = {0.5, 2, 25};
    for (size_t t = 0; t < 3; t++) {
        RsMatrix *R = random_matrix(9, 6, 0.4, 3 + t);
        RsModel *m = fit_ok(R, lam + t, 1);
        size_t I = R->I;
        double B[36];
        naive_b(R, lv[t], B);
        float s[6];
        RsErr err;
        double maxb = 0;
        for (uint32_t j = 0; j < I; j++) {
            /* a one-item profile scores row j of B */
            RsProfile p = {1, &j, NULL};
            assert_int_equal(model_ease.score_profile(m, R, &p, s, &err), RS_OK);
            assert_true(s[j] == 0.0f); /* diag(B) = 0 exactly */
            for (size_t i = 0; i < I; i++) {
                assert_true(fabs(s[i] - B[j * I + i]) < 1e-5 * (1 + fabs(B[j * I + i])));
                maxb = fmax(maxb, fabs(B[j * I + i]));
            }
            /* similar(i) is column i */
            assert_int_equal(model_ease.similar(m, R, j, s, &err), RS_OK);
            for (size_t i = 0; i < I; i++)
                assert_true(fabs(s[i] - B[i * I + j]) < 1e-5 * (1 + fabs(B[i * I + j])));
        }
        assert_true(maxb > 1e-3); /* not a trivially zero B */
        model_free(m);
        rs_matrix_free(R);
    }
}

static void test_foldin_and_explain(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(40, 30, 0.15, 5);
    const char *kv[] = {"lambda=10"};
    RsModel *m = fit_ok(R, kv, 1);
    float *a = malloc(R->I * sizeof *a), *b = malloc(R->I * sizeof *b);
    RsErr err;
    for (uint32_t u = 0; u < R->U; u++) {
        RsProfile p = rs_profile_of_user(R, u);
        assert_int_equal(model_ease.score(m, R, u, a, &err), RS_OK);
        assert_int_equal(model_ease.score_profile(m, R, &p, b, &err), RS_OK);
        assert_memory_equal(a, b, R->I * sizeof *a);
        for (uint32_t i = 0; i < R->I; i += 3) {
            RsExplanation e;
            rs_explanation_init(&e);
            assert_int_equal(model_explain(m, R, NULL, u, NULL, i, &e, &err), RS_OK);
            assert_true(e.additive);
            assert_int_equal(e.n, p.n);
            double sum = e.bias;
            for (size_t k = 0; k < e.n; k++) {
                assert_int_equal(e.c[k].kind, EXPL_ITEM);
                sum += e.c[k].value;
            }
            assert_true(fabs(sum - a[i]) < 1e-5 * (1 + fabs(a[i])));
            assert_true(fabs(e.score - a[i]) < 1e-5 * (1 + fabs(a[i])));
            rs_explanation_done(&e);
        }
    }
    uint32_t bad = (uint32_t)R->I;
    RsProfile p = {1, &bad, NULL};
    assert_int_equal(model_ease.score_profile(m, R, &p, b, &err), RS_EUSAGE);
    free(a);
    free(b);
    model_free(m);
    rs_matrix_free(R);
}

static void test_item_limit(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(10, 8, 0.3, 7);
    const char *kv[] = {"max_items=7"};
    RsModel *m;
    RsErr err;
    assert_int_equal(fit_model(R, kv, 1, NULL, NULL, &m, &err), RS_EUSAGE);
    print_message("limit: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "MiB"));
    assert_non_null(strstr(err.msg, "max_items"));
    assert_null(m->state);
    model_free(m);
    /* the default limit refuses 50,000 items before allocating 9.3 GiB */
    RsMatrix *big = random_matrix(3, 50000, 0.0001, 8);
    assert_int_equal(fit_model(big, NULL, 0, NULL, NULL, &m, &err), RS_EUSAGE);
    print_message("limit: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "9.3 GiB"));
    model_free(m);
    rs_matrix_free(big);
    const char *ok[] = {"max_items=8"};
    assert_int_equal(fit_model(R, ok, 1, NULL, NULL, &m, &err), RS_OK);
    model_free(m);
    rs_matrix_free(R);
}

static void test_cancel(void **state)
{
    (void)state;
    RsMatrix *R = random_matrix(10, 8, 0.3, 9);
    const char *phases[] = {"gram", "cholesky", "inverse", "weights"};
    for (size_t k = 0; k < 4; k++) {
        RsModel *m;
        RsErr err;
        assert_int_equal(fit_model(R, NULL, 0, stop_at_phase, (void *)phases[k], &m, &err),
                         RS_ECANCEL);
        assert_null(m->state);
        model_free(m);
    }
    rs_matrix_free(R);
}

static void test_deterministic_and_save_load(void **state)
{
    (void)state;
    require_registered();
    RsMatrix *R = random_matrix(60, 45, 0.1, 11);
    RsModel *a = fit_ok(R, NULL, 0), *b = fit_ok(R, NULL, 0), *l = NULL;
    RsBlob ba, bb;
    RsErr err;
    assert_int_equal(model_save(a, &ba, &err), RS_OK);
    assert_int_equal(model_save(b, &bb, &err), RS_OK);
    assert_int_equal(ba.len, bb.len);
    assert_memory_equal(ba.data, bb.data, ba.len);

    int rc = model_load(ba.data, ba.len, R->U, R->I, &l, &err);
    if (rc)
        print_message("load: %s\n", err.msg);
    assert_int_equal(rc, RS_OK);
    for (uint32_t u = 0; u < R->U; u++) {
        RsRec r1[10], r2[10];
        size_t n1, n2;
        assert_int_equal(model_recommend(a, R, u, 10, 1, r1, &n1, &err), RS_OK);
        assert_int_equal(model_recommend(l, R, u, 10, 1, r2, &n2, &err), RS_OK);
        assert_int_equal(n1, n2);
        assert_memory_equal(r1, r2, n1 * sizeof *r1);
    }
    model_free(l);

    size_t I = R->I, bpos = ba.len - 8 - I * I * sizeof(float);
    uint8_t *copy = malloc(ba.len);
    /* a flipped bit: the checksum */
    memcpy(copy, ba.data, ba.len);
    copy[bpos + 100] ^= 1;
    assert_int_not_equal(model_load(copy, ba.len, R->U, R->I, &l, &err), RS_OK);
    assert_null(l);
    /* a non-zero diagonal behind a valid checksum */
    memcpy(copy, ba.data, ba.len);
    float one = 1;
    memcpy(copy + bpos + (3 * I + 3) * sizeof(float), &one, sizeof one);
    reseal(copy, ba.len);
    assert_int_equal(model_load(copy, ba.len, R->U, R->I, &l, &err), RS_EPARSE);
    assert_null(l);
    /* an infinite weight */
    memcpy(copy, ba.data, ba.len);
    float inf = INFINITY;
    memcpy(copy + bpos + 7 * sizeof(float), &inf, sizeof inf);
    reseal(copy, ba.len);
    assert_int_equal(model_load(copy, ba.len, R->U, R->I, &l, &err), RS_EPARSE);
    assert_null(l);
    /* a wrong item count inside the payload */
    memcpy(copy, ba.data, ba.len);
    uint64_t wrong = I + 1;
    memcpy(copy + bpos - 8, &wrong, 8);
    reseal(copy, ba.len);
    assert_int_equal(model_load(copy, ba.len, R->U, R->I, &l, &err), RS_EPARSE);
    assert_null(l);
    free(copy);
    blob_done(&ba);
    blob_done(&bb);
    model_free(a);
    model_free(b);
    rs_matrix_free(R);
}

static void test_ml100k_ndcg(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *all = tu_ml100k_load("u.data");
    RsMatrix *train, *test;
    tu_split_random(all, 0.2, 1, &train, &test);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    RsModel *m = fit_ok(train, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ndcg = tu_ndcg_full(m, train, test, 10);
    print_message("EASE (defaults) on ML-100K: NDCG@10 = %.4f, fit %.2f s\n", ndcg,
                  (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    assert_true(ndcg >= 0.42);
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
    rs_matrix_free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_form),
        cmocka_unit_test(test_foldin_and_explain),
        cmocka_unit_test(test_item_limit),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_deterministic_and_save_load),
        cmocka_unit_test(test_ml100k_ndcg),
    };
    return cmocka_run_group_tests_name("ease", tests, NULL, NULL);
}
