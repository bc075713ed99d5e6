/* test_mf.c - the factor models mf (biased MF by SGD) and bpr (BPR-MF):
 * per-sample gradients against finite differences, training behaviour on
 * small synthetic matrices (loss, AUC, early stopping, determinism,
 * cancellation), fold-in, explanations, similar items, save/load and
 * damaged blobs, and quality on MovieLens-100K against published numbers
 * (skipped when the data set is absent). */
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

#include "mf.h"
#include "mf_internal.h"
#include "rng.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Ratings 1..5 of a rank-3 model plus noise; each (u, i) present with
 * probability density. Every user and item gets at least one entry. */
static RsMatrix *synth_ratings(size_t U, size_t I, double density, uint64_t seed)
{
    RsRng rng;
    rng_seed(&rng, seed);
    double a[3 * 512], b[3 * 512];
    assert_true(U <= 512 && I <= 512);
    for (size_t k = 0; k < 3 * U; k++)
        a[k] = rng_normal(&rng);
    for (size_t k = 0; k < 3 * I; k++)
        b[k] = rng_normal(&rng);
    RsTriplet *t = malloc(U * I * sizeof *t);
    assert_non_null(t);
    size_t n = 0;
    for (size_t u = 0; u < U; u++)
        for (size_t i = 0; i < I; i++) {
            if (rng_uniform(&rng) >= density && i != u % I && u != i % U)
                continue;
            double r = 3.2 + 0.6 * (a[3 * u] * b[3 * i] + a[3 * u + 1] * b[3 * i + 1] +
                                    a[3 * u + 2] * b[3 * i + 2]) +
                       0.3 * rng_normal(&rng);
            r = r < 1 ? 1 : r > 5 ? 5 : r;
            t[n++] = (RsTriplet){(uint32_t)u, (uint32_t)i, (float)floor(r + 0.5), RS_NO_TS};
        }
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, t, n, &m, &err), RS_OK);
    free(t);
    return m;
}

/* Implicit data with C taste clusters: user u likes cluster u % C and
 * takes each of its items with probability p_in, others with p_out. */
static RsMatrix *synth_implicit(size_t U, size_t I, size_t C, double p_in, double p_out,
                                uint64_t seed)
{
    RsRng rng;
    rng_seed(&rng, seed);
    RsTriplet *t = malloc(U * I * sizeof *t);
    assert_non_null(t);
    size_t n = 0;
    for (size_t u = 0; u < U; u++)
        for (size_t i = 0; i < I; i++)
            if (rng_uniform(&rng) < (u % C == i % C ? p_in : p_out))
                t[n++] = (RsTriplet){(uint32_t)u, (uint32_t)i, NAN, RS_NO_TS};
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, t, n, &m, &err), RS_OK);
    free(t);
    return m;
}

/* What a fit reported, epoch by epoch. */
typedef struct Trace {
    int n;
    double loss[256], valid[256];
    int cancel_at; /* ask to stop at this epoch (0 never) */
} Trace;

static int record(void *ctx, const FitProgress *p)
{
    Trace *tr = ctx;
    if (tr->n < 256) {
        tr->loss[tr->n] = p->loss;
        tr->valid[tr->n] = p->valid;
        tr->n++;
    }
    return tr->cancel_at && p->epoch >= tr->cancel_at;
}

/* Fits cls on train (valid may be NULL); returns RS_OK etc., model in *out. */
static int fit_rc(const ModelClass *cls, const RsMatrix *train, const RsMatrix *valid,
                  const char *const *kv, size_t nkv, uint64_t seed, int nthreads, Trace *tr,
                  atomic_int *cancel, RsModel **out)
{
    ParamValues pv;
    RsErr err = {0};
    assert_int_equal(params_parse(cls->params, cls->nparams, kv, nkv, &pv, &err), RS_OK);
    assert_int_equal(model_new(cls, train->U, train->I, &pv, seed, out, &err), RS_OK);
    FitContext ctx = {.train = train, .valid = valid, .nthreads = nthreads,
                      .progress = tr ? record : NULL, .progress_ctx = tr, .cancel = cancel};
    int rc = model_fit(*out, &ctx, &err);
    if (rc)
        print_message("fit %s: %s\n", cls->name, err.msg);
    return rc;
}

static RsModel *fit(const ModelClass *cls, const RsMatrix *train, const char *const *kv,
                    size_t nkv, uint64_t seed, Trace *tr)
{
    RsModel *m;
    assert_int_equal(fit_rc(cls, train, NULL, kv, nkv, seed, 1, tr, NULL, &m), RS_OK);
    return m;
}

static float *all_scores(const RsModel *m, const RsMatrix *train)
{
    float *s = malloc(m->U * m->I * sizeof *s);
    assert_non_null(s);
    RsErr err;
    for (uint32_t u = 0; u < m->U; u++)
        assert_int_equal(m->cls->score(m, train, u, s + (size_t)u * m->I, &err), RS_OK);
    return s;
}

/* Sampled training AUC: fraction of (u, i in row, j not in row) triples with
 * score(u, i) > score(u, j), from n draws of the test's own generator. */
static double sampled_auc(const RsModel *m, const RsMatrix *t, size_t n, uint64_t seed)
{
    float *s = all_scores(m, t);
    RsRng rng;
    rng_seed(&rng, seed);
    double hits = 0;
    for (size_t d = 0; d < n; d++) {
        size_t k = (size_t)rng_below(&rng, t->NNZ);
        uint32_t u = 0;
        while (t->u_ptr[u + 1] <= k)
            u++;
        uint32_t i = t->u_items[k], j;
        do
            j = (uint32_t)rng_below(&rng, t->I);
        while (rs_matrix_find(t, u, j) != (size_t)-1);
        float si = s[(size_t)u * t->I + i], sj = s[(size_t)u * t->I + j];
        hits += si > sj ? 1 : si == sj ? 0.5 : 0;
    }
    free(s);
    return hits / (double)n;
}

/* ---- per-sample gradients against central differences ----------------------------- */

/* Central difference of loss() in parameter x, with the step actually taken
 * in float. */
#define FD(x, expr)                                                                         \
    do {                                                                                    \
        float x0 = (x), h = 1e-3f * (fabsf(x0) > 1 ? fabsf(x0) : 1);                        \
        (x) = x0 + h;                                                                       \
        double lp = (expr);                                                                 \
        float xp = (x);                                                                     \
        (x) = x0 - h;                                                                       \
        double lm = (expr);                                                                 \
        float xm = (x);                                                                     \
        (x) = x0;                                                                           \
        fd = (lp - lm) / ((double)xp - xm);                                                 \
    } while (0)

static void check_grad(const char *what, size_t k, double fd, double step_grad, double *worst)
{
    double tol = 2e-4 + 1e-4 * fabs(fd); /* float rounding of the step and the differences */
    double d = fabs(fd - step_grad);
    if (d > *worst)
        *worst = d;
    if (d > tol)
        fail_msg("%s[%zu]: finite difference %.6f, step gives %.6f", what, k, fd, step_grad);
}

static void test_mf_gradient(void **state)
{
    (void)state;
    RsRng rng;
    rng_seed(&rng, 11);
    const size_t Ks[] = {1, 7, 19, 64};
    double worst = 0;
    for (size_t t = 0; t < RS_ARRAY_LEN(Ks); t++) {
        size_t K = Ks[t];
        float p[64] = {0}, q[64] = {0}, p1[64], q1[64], bu, bi, bu1, bi1;
        double fd;
        for (size_t k = 0; k < K; k++) {
            p[k] = (float)(0.5 * rng_normal(&rng));
            q[k] = (float)(0.5 * rng_normal(&rng));
        }
        bu = 0.3f, bi = -0.2f;
        const float mu = 3.5f, r = 5.0f, lr = 1e-2f, reg = 0.07f;
        memcpy(p1, p, sizeof p);
        memcpy(q1, q, sizeof q);
        bu1 = bu, bi1 = bi;
        double e = mf_sgd_step(p1, q1, &bu1, &bi1, mu, r, lr, reg, K);
        double dot = 0;
        for (size_t k = 0; k < K; k++)
            dot += (double)p[k] * q[k];
        assert_true(fabs(e - (r - mu - bu - bi - dot)) < 1e-5);
#define LOSS mf_sample_loss(p, q, bu, bi, mu, r, reg, K)
        for (size_t k = 0; k < K; k++) {
            FD(p[k], LOSS);
            check_grad("mf dL/dp", k, fd, (p[k] - (double)p1[k]) / lr, &worst);
            FD(q[k], LOSS);
            check_grad("mf dL/dq", k, fd, (q[k] - (double)q1[k]) / lr, &worst);
        }
        FD(bu, LOSS);
        check_grad("mf dL/dbu", 0, fd, (bu - (double)bu1) / lr, &worst);
        FD(bi, LOSS);
        check_grad("mf dL/dbi", 0, fd, (bi - (double)bi1) / lr, &worst);
#undef LOSS
    }
    print_message("mf: worst |finite difference - step gradient| = %.2e\n", worst);
}

static void test_bpr_gradient(void **state)
{
    (void)state;
    RsRng rng;
    rng_seed(&rng, 12);
    const size_t Ks[] = {1, 9, 33};
    double worst = 0;
    for (int bias = 0; bias <= 1; bias++)
        for (size_t t = 0; t < RS_ARRAY_LEN(Ks); t++) {
            size_t K = Ks[t];
            float p[64] = {0}, qi[64] = {0}, qj[64] = {0}, p1[64], qi1[64], qj1[64];
            double fd;
            float bi = 0.4f, bj = -0.1f, bi1 = bi, bj1 = bj;
            for (size_t k = 0; k < K; k++) {
                p[k] = (float)(0.5 * rng_normal(&rng));
                qi[k] = (float)(0.5 * rng_normal(&rng));
                qj[k] = (float)(0.5 * rng_normal(&rng));
            }
            const float lr = 1e-2f, reg = 0.02f;
            memcpy(p1, p, sizeof p);
            memcpy(qi1, qi, sizeof qi);
            memcpy(qj1, qj, sizeof qj);
            float *bip = bias ? &bi : NULL, *bjp = bias ? &bj : NULL;
            bpr_sgd_step(p1, qi1, qj1, bias ? &bi1 : NULL, bias ? &bj1 : NULL, lr, reg, K);
#define LOSS bpr_sample_loss(p, qi, qj, bip, bjp, reg, K)
            for (size_t k = 0; k < K; k++) {
                FD(p[k], LOSS);
                check_grad("bpr dL/dp", k, fd, (p[k] - (double)p1[k]) / lr, &worst);
                FD(qi[k], LOSS);
                check_grad("bpr dL/dqi", k, fd, (qi[k] - (double)qi1[k]) / lr, &worst);
                FD(qj[k], LOSS);
                check_grad("bpr dL/dqj", k, fd, (qj[k] - (double)qj1[k]) / lr, &worst);
            }
            if (bias) {
                FD(bi, LOSS);
                check_grad("bpr dL/dbi", 0, fd, (bi - (double)bi1) / lr, &worst);
                FD(bj, LOSS);
                check_grad("bpr dL/dbj", 0, fd, (bj - (double)bj1) / lr, &worst);
            } else {
                assert_true(bi1 == bi && bj1 == bj);
            }
#undef LOSS
        }
    print_message("bpr: worst |finite difference - step gradient| = %.2e\n", worst);
}

/* ---- training behaviour ----------------------------------------------------------------- */

static void test_mf_loss_non_increasing(void **state)
{
    (void)state;
    RsMatrix *t = synth_ratings(30, 20, 0.3, 1);
    const char *kv[] = {"lr=0.003", "epochs=60", "factors=5"};
    Trace tr = {0};
    RsModel *m = fit(&model_mf, t, kv, 3, 7, &tr);
    assert_int_equal(tr.n, 60);
    for (int e = 1; e < tr.n; e++)
        if (tr.loss[e] > tr.loss[e - 1])
            fail_msg("training RMSE rose at epoch %d: %.6f -> %.6f", e + 1, tr.loss[e - 1],
                     tr.loss[e]);
    assert_true(tr.loss[tr.n - 1] < 0.95 * tr.loss[0]);
    print_message("mf training RMSE: epoch 1 %.4f, epoch %d %.4f\n", tr.loss[0], tr.n,
                  tr.loss[tr.n - 1]);
    model_free(m);
    rs_matrix_free(t);
}

static void test_bpr_auc_rises(void **state)
{
    (void)state;
    RsMatrix *t = synth_implicit(120, 80, 4, 0.4, 0.03, 2);
    const int epochs[] = {1, 4, 16, 64};
    double auc[4];
    Trace tr = {0};
    for (size_t k = 0; k < 4; k++) {
        char e[32];
        snprintf(e, sizeof e, "epochs=%d", epochs[k]);
        const char *kv[] = {e, "factors=16", "lr=0.02"};
        Trace *trk = k == 3 ? &tr : NULL;
        RsModel *m = fit(&model_bpr, t, kv, 3, 5, trk);
        auc[k] = sampled_auc(m, t, 20000, 99);
        model_free(m);
    }
    print_message("bpr sampled training AUC after 1/4/16/64 epochs: %.3f %.3f %.3f %.3f;"
                  " BPR loss %.4f -> %.4f\n",
                  auc[0], auc[1], auc[2], auc[3], tr.loss[0], tr.loss[tr.n - 1]);
    for (size_t k = 1; k < 4; k++)
        assert_true(auc[k] > auc[k - 1]);
    assert_true(auc[3] > 0.85);
    assert_true(tr.loss[tr.n - 1] < tr.loss[0]);
    rs_matrix_free(t);
}

static void test_deterministic(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(60, 40, 0.3, 3), *im = synth_implicit(60, 40, 3, 0.4, 0.05, 3);
    const ModelClass *cls[] = {&model_mf, &model_bpr};
    const RsMatrix *data[] = {r, im};
    for (size_t c = 0; c < 2; c++) {
        const char *kv[] = {"epochs=5"};
        RsModel *a = fit(cls[c], data[c], kv, 1, 42, NULL);
        RsModel *b = fit(cls[c], data[c], kv, 1, 42, NULL);
        RsModel *d = fit(cls[c], data[c], kv, 1, 43, NULL);
        float *sa = all_scores(a, data[c]), *sb = all_scores(b, data[c]),
              *sd = all_scores(d, data[c]);
        size_t n = a->U * a->I * sizeof *sa;
        assert_memory_equal(sa, sb, n);
        assert_memory_not_equal(sa, sd, n);
        free(sa);
        free(sb);
        free(sd);
        model_free(a);
        model_free(b);
        model_free(d);
    }
    rs_matrix_free(r);
    rs_matrix_free(im);
}

/* Without regularisation and with many factors mf overfits a small matrix:
 * the validation RMSE falls, then turns up; the fit stops `patience`
 * epochs after its best and keeps the best epoch's parameters. */
static void test_mf_early_stopping(void **state)
{
    (void)state;
    RsMatrix *all = synth_ratings(60, 40, 0.5, 4), *train, *valid;
    tu_split_random(all, 0.2, 1, &train, &valid);
    const char *kv[] = {"reg=0", "factors=20", "lr=0.05", "epochs=300", "init_std=0.2",
                        "patience=5"};
    Trace tr = {0};
    RsModel *m;
    assert_int_equal(fit_rc(&model_mf, train, valid, kv, 6, 1, 1, &tr, NULL, &m), RS_OK);
    assert_true(tr.n < 300);
    int best = 0;
    for (int e = 1; e < tr.n; e++)
        if (tr.valid[e] < tr.valid[best])
            best = e;
    assert_true(best > 0 && tr.valid[best] < 0.9 * tr.valid[0]);
    assert_int_equal(tr.n - 1 - best, 5);
    double got = tu_rmse(m, train, valid);
    print_message("mf early stopping: stopped after %d epochs, best %d (valid RMSE %.4f, "
                  "model %.4f)\n",
                  tr.n, best + 1, tr.valid[best], got);
    assert_true(fabs(got - tr.valid[best]) < 1e-5);
    model_free(m);

    /* bpr reports NDCG@10 on the validation set and keeps its best epoch too */
    RsMatrix *im = synth_implicit(200, 60, 3, 0.5, 0.05, 4), *itr, *iva;
    tu_split_random(im, 0.2, 2, &itr, &iva);
    const char *kb[] = {"epochs=200", "factors=8", "patience=5", "lr=0.1"};
    Trace tb = {0};
    assert_int_equal(fit_rc(&model_bpr, itr, iva, kb, 4, 1, 1, &tb, NULL, &m), RS_OK);
    double bestv = -1;
    assert_true(tb.n < 200);
    for (int e = 0; e < tb.n; e++) {
        assert_true(tb.valid[e] >= 0 && tb.valid[e] <= 1);
        bestv = tb.valid[e] > bestv ? tb.valid[e] : bestv;
    }
    double nd = tu_ndcg_full(m, itr, iva, 10);
    print_message("bpr validation NDCG@10: best %.4f, model %.4f after %d epochs\n", bestv, nd,
                  tb.n);
    assert_true(fabs(nd - bestv) < 1e-6);
    model_free(m);
    rs_matrix_free(im);
    rs_matrix_free(itr);
    rs_matrix_free(iva);
    rs_matrix_free(all);
    rs_matrix_free(train);
    rs_matrix_free(valid);
}

/* Above 20000 entries a fit with nthreads > 1 runs in parallel: MF by
 * DSGD's stratified blocks (reproducible for a thread count), BPR Hogwild
 * (lock-free, not bit-reproducible); both as good as one thread. */
static void test_parallel_sgd(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(500, 200, 0.3, 14);
    RsMatrix *im = synth_implicit(800, 240, 4, 0.5, 0.05, 14);
    RsMatrix *rt, *rv, *it, *iv;
    tu_split_random(r, 0.2, 3, &rt, &rv);
    tu_split_random(im, 0.2, 3, &it, &iv);
    assert_true(rt->NNZ >= 20000 && it->NNZ >= 20000);
    double rmse[2], ndcg[2];
    const char *kv[] = {"epochs=10"};
    for (int t = 0; t < 2; t++) {
        RsModel *m;
        assert_int_equal(fit_rc(&model_mf, rt, NULL, kv, 1, 5, t + 1, NULL, NULL, &m), RS_OK);
        rmse[t] = tu_rmse(m, rt, rv);
        model_free(m);
        assert_int_equal(fit_rc(&model_bpr, it, NULL, kv, 1, 5, t + 1, NULL, NULL, &m), RS_OK);
        ndcg[t] = tu_ndcg_full(m, it, iv, 10);
        model_free(m);
    }
    /* MF on 3 threads: the same model twice */
    RsModel *a, *b;
    assert_int_equal(fit_rc(&model_mf, rt, NULL, kv, 1, 5, 3, NULL, NULL, &a), RS_OK);
    assert_int_equal(fit_rc(&model_mf, rt, NULL, kv, 1, 5, 3, NULL, NULL, &b), RS_OK);
    float pa, pb;
    for (uint32_t u = 0; u < rt->U; u += 7)
        for (uint32_t i = 0; i < rt->I; i += 5) {
            assert_int_equal(model_mf.predict(a, rt, u, i, &pa), RS_OK);
            assert_int_equal(model_mf.predict(b, rt, u, i, &pb), RS_OK);
            assert_true(pa == pb);
        }
    double r3 = tu_rmse(a, rt, rv);
    model_free(a);
    model_free(b);
    print_message("1 / 2 / 3 threads: mf valid RMSE %.4f / %.4f / %.4f, bpr NDCG@10 %.4f / "
                  "%.4f\n", rmse[0], rmse[1], r3, ndcg[0], ndcg[1]);
    assert_true(fabs(rmse[0] - r3) < 0.02);
    assert_true(fabs(rmse[0] - rmse[1]) < 0.02);
    assert_true(fabs(ndcg[0] - ndcg[1]) < 0.05);
    assert_true(ndcg[1] > 0.12); /* random order: about 0.04 */
    rs_matrix_free(r);
    rs_matrix_free(im);
    rs_matrix_free(rt);
    rs_matrix_free(rv);
    rs_matrix_free(it);
    rs_matrix_free(iv);
}

static void test_cancel(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(40, 30, 0.3, 5);
    const ModelClass *cls[] = {&model_mf, &model_bpr};
    for (size_t c = 0; c < 2; c++) {
        atomic_int flag;
        atomic_init(&flag, 1);
        RsModel *m;
        assert_int_equal(fit_rc(cls[c], r, NULL, NULL, 0, 1, 1, NULL, &flag, &m), RS_ECANCEL);
        assert_null(m->state);
        model_free(m);
        Trace tr = {.cancel_at = 2};
        assert_int_equal(fit_rc(cls[c], r, NULL, NULL, 0, 1, 1, &tr, NULL, &m), RS_ECANCEL);
        assert_int_equal(tr.n, 2);
        model_free(m);
    }
    rs_matrix_free(r);
}

static void test_mf_needs_ratings(void **state)
{
    (void)state;
    RsMatrix *im = synth_implicit(20, 10, 2, 0.5, 0.1, 6);
    RsModel *m;
    assert_int_equal(fit_rc(&model_mf, im, NULL, NULL, 0, 1, 1, NULL, NULL, &m), RS_EUSAGE);
    model_free(m);
    rs_matrix_free(im);
}

/* ---- fold-in, explanations, similar items ----------------------------------------------- */

static void test_ridge_solvers_agree(void **state)
{
    (void)state;
    RsRng rng;
    rng_seed(&rng, 8);
    const size_t ns[] = {0, 3, 50}, D = 11;
    for (size_t t = 0; t < 3; t++) {
        size_t n = ns[t];
        float X[50 * 11], y[50], w1[11], w2[11];
        for (size_t k = 0; k < n * D; k++)
            X[k] = (float)rng_normal(&rng);
        for (size_t k = 0; k < n; k++)
            y[k] = (float)rng_normal(&rng);
        RsErr err;
        assert_int_equal(fm_ridge_solve(w1, X, y, n, D, 0.5f, &err), RS_OK);
        assert_int_equal(fm_ridge_solve_naive(w2, X, y, n, D, 0.5f, &err), RS_OK);
        for (size_t k = 0; k < D; k++)
            assert_true(fabsf(w1[k] - w2[k]) <= 1e-4f + 1e-4f * fabsf(w2[k]));
        /* the normal equations hold: X^T (y - X w) = lambda w */
        for (size_t c = 0; c < D; c++) {
            double g = 0;
            for (size_t r = 0; r < n; r++) {
                double res = y[r];
                for (size_t k = 0; k < D; k++)
                    res -= (double)X[r * D + k] * w2[k];
                g += X[r * D + c] * res;
            }
            assert_true(fabs(g - 0.5 * w2[c]) < 1e-3);
        }
    }
    float X[4] = {1, 1, 1, 1}, y[2] = {1, 1}, w[2];
    RsErr err;
    assert_int_equal(fm_ridge_solve_naive(w, X, y, 2, 2, 0, &err), RS_EPARSE);
}

/* The share of the trained top-N (training items left out) that the
 * fold-in also puts in its top-N. */
static double topn_overlap(const float *a, const float *b, size_t I, const RsMatrix *t,
                           uint32_t u, size_t N)
{
    uint8_t *ex = calloc(I, 1);
    for (size_t k = t->u_ptr[u]; k < t->u_ptr[u + 1]; k++)
        ex[t->u_items[k]] = 1;
    RsRec ra[64], rb[64];
    size_t na = topk(a, I, ex, N, ra), nb = topk(b, I, ex, N, rb), same = 0;
    for (size_t x = 0; x < na; x++)
        for (size_t y = 0; y < nb; y++)
            same += ra[x].item == rb[y].item;
    free(ex);
    return na ? (double)same / (double)na : 1;
}

/* Fold-in of a training user from its own row gives (nearly) its trained
 * ranking. mf: the ridge solve is the exact minimiser in (p_u, b_u) of the
 * training objective with the items fixed, which SGD approaches but does
 * not reach in a finite number of epochs: we ask for a mean Pearson
 * correlation >= 0.98 between the two score vectors and >= 85% shared
 * top-10 (measured: 0.998, 95%; with lambda = reg instead of reg * n:
 * 0.947, 76%). bpr folds in by SGD on p alone, which is noisier:
 * correlation >= 0.95, top-10 overlap >= 75% (measured 0.987, 88%). */
/* Mean over users of the Pearson correlation between trained and
 * folded-in scores, and the mean top-10 overlap. */
static void foldin_agreement(const RsModel *m, const RsMatrix *t, double *corr, double *over)
{
    float *a = malloc(t->I * sizeof *a), *b = malloc(t->I * sizeof *b);
    RsErr err;
    size_t users = 0;
    *corr = *over = 0;
    for (uint32_t u = 0; u < t->U; u++) {
        RsProfile p = rs_profile_of_user(t, u);
        if (p.n == 0)
            continue;
        assert_int_equal(m->cls->score(m, t, u, a, &err), RS_OK);
        assert_int_equal(m->cls->score_profile(m, t, &p, b, &err), RS_OK);
        double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < t->I; i++) {
            ma += a[i];
            mb += b[i];
        }
        ma /= (double)t->I;
        mb /= (double)t->I;
        for (size_t i = 0; i < t->I; i++) {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        *corr += sab / sqrt(saa * sbb);
        *over += topn_overlap(a, b, t->I, t, u, 10);
        users++;
    }
    *corr /= (double)users;
    *over /= (double)users;
    free(a);
    free(b);
}

static void check_foldin(const ModelClass *cls, const RsMatrix *t, const char *const *kv,
                         size_t nkv, double min_corr, double min_overlap)
{
    RsModel *m = fit(cls, t, kv, nkv, 3, NULL);
    double corr, over;
    foldin_agreement(m, t, &corr, &over);
    print_message("%s fold-in of training users: mean score correlation %.3f, top-10 overlap "
                  "%.1f%%\n",
                  cls->name, corr, 100 * over);
    assert_true(corr >= min_corr);
    assert_true(over >= min_overlap);
    model_free(m);
}

static void test_foldin_reproduces_users(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(150, 120, 0.2, 9), *im = synth_implicit(150, 120, 4, 0.3, 0.03, 9);
    const char *kv[] = {"factors=16", "epochs=60"};
    check_foldin(&model_mf, r, kv, 2, 0.98, 0.85);
    check_foldin(&model_bpr, im, kv, 2, 0.95, 0.75);
    rs_matrix_free(r);
    rs_matrix_free(im);
}

/* parts + factors sum to the score, for a training user and for a profile;
 * history items come with cosines in [-1, 1], value 0. */
static void check_explain(const ModelClass *cls, const RsMatrix *t)
{
    const char *kv[] = {"factors=12", "epochs=10"};
    RsModel *m = fit(cls, t, kv, 2, 4, NULL);
    float *s = malloc(t->I * sizeof *s);
    RsErr err;
    for (long u = -1; u < 5; u++) {
        RsProfile own = rs_profile_of_user(t, u < 0 ? 7 : (uint32_t)u);
        const uint32_t few[] = {1, 3, 5, 8};
        const float vals[] = {5, NAN, 2, 4};
        RsProfile prof = {4, few, vals};
        const RsProfile *p = u < 0 ? &prof : &own;
        if (u < 0)
            assert_int_equal(cls->score_profile(m, t, p, s, &err), RS_OK);
        else
            assert_int_equal(cls->score(m, t, (uint32_t)u, s, &err), RS_OK);
        for (uint32_t item = 0; item < 6; item++) {
            RsExplanation e;
            rs_explanation_init(&e);
            assert_int_equal(model_explain(m, t, NULL, u, p, item, &e, &err), RS_OK);
            double sum = e.bias;
            size_t nfac = 0, nitem = 0;
            for (size_t k = 0; k < e.n; k++) {
                sum += e.c[k].value;
                nfac += e.c[k].kind == EXPL_FACTOR;
                if (e.c[k].kind == EXPL_ITEM) {
                    nitem++;
                    assert_true(e.c[k].value == 0);
                    assert_true(e.c[k].similarity >= -1.0001f && e.c[k].similarity <= 1.0001f);
                }
            }
            assert_int_equal(nfac, 12);
            assert_true(nitem > 0);
            assert_true(e.additive);
            if (fabs(sum - s[item]) > 1e-4 + 1e-5 * fabs(s[item]) ||
                fabs(e.score - s[item]) > 1e-4 + 1e-5 * fabs(s[item]))
                fail_msg("%s explain(user %ld, item %u): parts sum %.6f, score %.6f, e.score "
                         "%.6f",
                         cls->name, u, item, sum, s[item], e.score);
            rs_explanation_done(&e);
        }
    }
    free(s);
    model_free(m);
}

static void test_explain_additive(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(40, 30, 0.3, 10), *im = synth_implicit(40, 30, 3, 0.4, 0.05, 10);
    check_explain(&model_mf, r);
    check_explain(&model_bpr, im);
    rs_matrix_free(r);
    rs_matrix_free(im);
}

static void test_similar_cosine(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(40, 30, 0.3, 11);
    const char *kv[] = {"factors=6", "epochs=5"};
    RsModel *m = fit(&model_mf, r, kv, 2, 1, NULL);
    const FactorModel *f = m->state;
    float s0[30], s1[30];
    RsErr err;
    assert_int_equal(m->cls->similar(m, r, 0, s0, &err), RS_OK);
    assert_int_equal(m->cls->similar(m, r, 1, s1, &err), RS_OK);
    assert_true(s0[0] == -INFINITY);
    assert_true(fabsf(s0[1] - s1[0]) < 1e-6f);
    double dot = 0, n0 = 0, n2 = 0;
    for (size_t k = 0; k < 6; k++) {
        dot += (double)f->Q[k] * f->Q[2 * 6 + k];
        n0 += (double)f->Q[k] * f->Q[k];
        n2 += (double)f->Q[2 * 6 + k] * f->Q[2 * 6 + k];
    }
    assert_true(fabs(s0[2] - dot / sqrt(n0 * n2)) < 1e-5);
    for (size_t j = 1; j < 30; j++)
        assert_true(s0[j] >= -1.0001f && s0[j] <= 1.0001f);
    model_free(m);
    rs_matrix_free(r);
}

/* ---- save / load ---------------------------------------------------------------------- */

static void test_save_load(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(50, 40, 0.3, 12), *im = synth_implicit(50, 40, 3, 0.4, 0.05, 12);
    const ModelClass *cls[] = {&model_mf, &model_bpr};
    const RsMatrix *data[] = {r, im};
    for (size_t c = 0; c < 2; c++) {
        const char *kv[] = {"factors=9", "epochs=4"};
        RsModel *m = fit(cls[c], data[c], kv, 2, 8, NULL), *l = NULL;
        RsErr err;
        /* the class payload alone */
        RsBlob b;
        blob_init(&b);
        assert_int_equal(cls[c]->save(m, &b, &err), RS_OK);
        RsBlobReader rd;
        blob_reader_init(&rd, b.data, b.len);
        assert_int_equal(model_new(cls[c], m->U, m->I, &m->pv, m->seed, &l, &err), RS_OK);
        assert_int_equal(cls[c]->load(l, &rd, &err), RS_OK);
        assert_int_equal(blob_remaining(&rd), 0);
        float *sa = all_scores(m, data[c]), *sb = all_scores(l, data[c]);
        assert_memory_equal(sa, sb, m->U * m->I * sizeof *sa);
        free(sb);
        model_free(l);
        blob_done(&b);
        /* the whole container, when the registry knows the class */
        if (model_class_find(cls[c]->name) == cls[c]) {
            assert_int_equal(model_save(m, &b, &err), RS_OK);
            assert_int_equal(model_load(b.data, b.len, m->U, m->I, &l, &err), RS_OK);
            sb = all_scores(l, data[c]);
            assert_memory_equal(sa, sb, m->U * m->I * sizeof *sa);
            if (cls[c]->predict) {
                float pa, pb;
                assert_int_equal(cls[c]->predict(m, data[c], 3, 4, &pa), RS_OK);
                assert_int_equal(cls[c]->predict(l, data[c], 3, 4, &pb), RS_OK);
                assert_true(pa == pb);
            }
            free(sb);
            model_free(l);
            blob_done(&b);
        } else {
            print_message("%s not in the registry yet: container round trip not tested\n",
                          cls[c]->name);
        }
        free(sa);
        model_free(m);
    }
    rs_matrix_free(r);
    rs_matrix_free(im);
}

static int load_payload(const RsModel *m, const uint8_t *data, size_t len, RsErr *err)
{
    RsModel *l;
    RsErr e2;
    assert_int_equal(model_new(m->cls, m->U, m->I, &m->pv, m->seed, &l, &e2), RS_OK);
    RsBlobReader rd;
    blob_reader_init(&rd, data, len);
    int rc = m->cls->load(l, &rd, err);
    if (rc == RS_OK && (rd.bad || blob_remaining(&rd)))
        rc = -100;
    model_free(l);
    return rc;
}

static void test_corrupt_blob(void **state)
{
    (void)state;
    RsMatrix *r = synth_ratings(30, 20, 0.3, 13);
    const char *kv[] = {"factors=4", "epochs=2"};
    RsModel *m = fit(&model_mf, r, kv, 2, 8, NULL);
    RsBlob b;
    blob_init(&b);
    RsErr err;
    assert_int_equal(m->cls->save(m, &b, &err), RS_OK);
    uint8_t *d = malloc(b.len);
    /* every truncation fails cleanly */
    for (size_t len = 0; len < b.len; len += len < 64 ? 1 : 97)
        assert_int_equal(load_payload(m, b.data, len, &err), RS_EPARSE);
    /* header fields: U (offset 0), I (8), K (16), mu (20), rmin/rmax (24, 28) */
    const size_t offs[] = {0, 8, 16, 20, 24, 28};
    for (size_t k = 0; k < RS_ARRAY_LEN(offs); k++) {
        memcpy(d, b.data, b.len);
        if (offs[k] >= 20) {
            float nan = NAN;
            memcpy(d + offs[k], &nan, 4);
        } else {
            d[offs[k]] ^= 1;
        }
        assert_int_equal(load_payload(m, d, b.len, &err), RS_EPARSE);
        print_message("damaged header field at %zu: %s\n", offs[k], err.msg);
    }
    /* rmin > rmax */
    memcpy(d, b.data, b.len);
    float hi = 100;
    memcpy(d + 24, &hi, 4);
    assert_int_equal(load_payload(m, d, b.len, &err), RS_EPARSE);
    /* a non-finite parameter anywhere in the block */
    const size_t at[] = {32, 32 + 4 * 17, b.len - 4};
    for (size_t k = 0; k < 3; k++) {
        memcpy(d, b.data, b.len);
        float inf = INFINITY;
        memcpy(d + at[k], &inf, 4);
        assert_int_equal(load_payload(m, d, b.len, &err), RS_EPARSE);
    }
    print_message("non-finite parameter: %s\n", err.msg);
    assert_int_equal(load_payload(m, b.data, b.len, &err), RS_OK);
    /* a whole, consistent payload of 4 factors for a model whose factors
     * parameter says 5 */
    {
        const char *k5[] = {"factors=5"};
        ParamValues pv;
        RsModel *l;
        assert_int_equal(params_parse(model_mf.params, model_mf.nparams, k5, 1, &pv, &err), RS_OK);
        assert_int_equal(model_new(&model_mf, m->U, m->I, &pv, 1, &l, &err), RS_OK);
        RsBlobReader rd;
        blob_reader_init(&rd, b.data, b.len);
        assert_int_equal(model_mf.load(l, &rd, &err), RS_EPARSE);
        print_message("factor count mismatch: %s\n", err.msg);
        assert_null(l->state);
        model_free(l);
    }
    /* through the container, a flipped byte anywhere is caught */
    blob_done(&b);
    if (model_class_find("mf") == &model_mf) {
        assert_int_equal(model_save(m, &b, &err), RS_OK);
        d = realloc(d, b.len);
        RsModel *l;
        for (size_t k = 0; k < b.len; k += 13) {
            memcpy(d, b.data, b.len);
            d[k] ^= 0x40;
            assert_int_not_equal(model_load(d, b.len, m->U, m->I, &l, &err), RS_OK);
        }
        assert_int_not_equal(model_load(b.data, b.len, m->U + 1, m->I, &l, &err), RS_OK);
        blob_done(&b);
    }
    free(d);
    model_free(m);
    rs_matrix_free(r);
}

/* ---- MovieLens-100K ---------------------------------------------------------------------- */

/* The quality tests fit with the defaults on one thread (reproducible
 * numbers), or on two under the sanitizers, which slow SGD about tenfold
 * (Hogwild: the numbers then vary in the 4th decimal from run to run; the
 * thresholds leave far more room than that). */
#if defined(__SANITIZE_ADDRESS__)
#define ML_THREADS 2
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ML_THREADS 2
#endif
#endif
#ifndef ML_THREADS
#define ML_THREADS 1
#endif

static RsModel *fit_ml(const ModelClass *cls, const RsMatrix *train, uint64_t seed)
{
    RsModel *m;
    assert_int_equal(fit_rc(cls, train, NULL, NULL, 0, seed, ML_THREADS, NULL, NULL, &m), RS_OK);
    return m;
}

/* 5-fold cross-validation as Surprise's KFold does it: all ratings
 * shuffled with a seed, cut into 5 equal folds, each the test set once.
 * Surprise's published SVD: 0.934 mean RMSE. */
static void test_ml100k_mf_cv(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *all = tu_ml100k_load("u.data");
    size_t n = all->NNZ, *perm = malloc(n * sizeof *perm);
    uint8_t *part = malloc(n);
    RsRng rng;
    rng_seed(&rng, 2024);
    for (size_t k = 0; k < n; k++)
        perm[k] = k;
    for (size_t k = n; k > 1; k--) {
        size_t j = (size_t)rng_below(&rng, k), t = perm[k - 1];
        perm[k - 1] = perm[j];
        perm[j] = t;
    }
    double sum = 0, sum2 = 0, fit_s = 0;
    for (int f = 0; f < 5; f++) {
        for (size_t k = 0; k < n; k++)
            part[perm[k]] = k * 5 / n == (size_t)f;
        RsMatrix *train, *test;
        RsErr err;
        assert_int_equal(rs_matrix_select(all, part, 0, &train, &err), RS_OK);
        assert_int_equal(rs_matrix_select(all, part, 1, &test, &err), RS_OK);
        double t0 = now_s();
        RsModel *m = fit_ml(&model_mf, train, (uint64_t)f + 1);
        fit_s += now_s() - t0;
        double r = tu_rmse(m, train, test);
        sum += r;
        sum2 += r * r;
        model_free(m);
        rs_matrix_free(train);
        rs_matrix_free(test);
    }
    double mean = sum / 5, sd = sqrt(fmax(0, sum2 / 5 - mean * mean));
    print_message("mf (defaults) ML-100K 5-fold CV: RMSE %.4f +- %.4f, fits %.2f s in all "
                  "(%d thread(s)); Surprise SVD: 0.934\n",
                  mean, sd, fit_s, ML_THREADS);
    assert_true(mean <= 0.925);
    free(perm);
    free(part);
    rs_matrix_free(all);
}

static void test_ml100k_mf_u1(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *train = tu_ml100k_load("u1.base"), *test = tu_ml100k_load("u1.test");
    double t0 = now_s();
    RsModel *m = fit_ml(&model_mf, train, 1);
    double fit_s = now_s() - t0, r = tu_rmse(m, train, test);
    print_message("mf (defaults) ML-100K u1.base/u1.test: RMSE %.4f, fit %.2f s\n", r, fit_s);
    assert_true(r <= 0.93);
    double corr, over;
    foldin_agreement(m, train, &corr, &over);
    print_message("mf fold-in of the u1.base users: mean score correlation %.3f, top-10 overlap "
                  "%.1f%%\n",
                  corr, 100 * over);
    assert_true(corr >= 0.95 && over >= 0.6); /* measured 0.987, 76% */
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
}

static void test_ml100k_bpr_ndcg(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *all = tu_ml100k_load("u.data"), *train, *test;
    tu_split_random(all, 0.2, 1, &train, &test);
    double t0 = now_s();
    RsModel *m = fit_ml(&model_bpr, train, 1);
    double fit_s = now_s() - t0, nd = tu_ndcg_full(m, train, test, 10);
    print_message("bpr (defaults) ML-100K 80/20 per-user split: NDCG@10 %.4f (full ranking), "
                  "fit %.2f s\n",
                  nd, fit_s);
    assert_true(nd >= 0.30);
    model_free(m);
    rs_matrix_free(all);
    rs_matrix_free(train);
    rs_matrix_free(test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mf_gradient),
        cmocka_unit_test(test_bpr_gradient),
        cmocka_unit_test(test_mf_loss_non_increasing),
        cmocka_unit_test(test_bpr_auc_rises),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_mf_early_stopping),
        cmocka_unit_test(test_parallel_sgd),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_mf_needs_ratings),
        cmocka_unit_test(test_ridge_solvers_agree),
        cmocka_unit_test(test_foldin_reproduces_users),
        cmocka_unit_test(test_explain_additive),
        cmocka_unit_test(test_similar_cosine),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt_blob),
        cmocka_unit_test(test_ml100k_mf_cv),
        cmocka_unit_test(test_ml100k_mf_u1),
        cmocka_unit_test(test_ml100k_bpr_ndcg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
