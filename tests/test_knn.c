/*
 * test_knn.c - ItemKNN and UserKNN: every similarity by hand on a tiny
 * matrix (shrinkage, min_common, the asymmetric cosine), top-N scores and
 * rating predictions by hand, the whole pipeline against a naive dense
 * reference written straight from the definitions, explanations adding up to
 * the score, fold-in equal to scoring, determinism across thread counts,
 * blobs (round trip, every truncation, damaged fields), cancellation, and
 * the MovieLens-100K quality bars (skipped when the data is absent).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob.h"
#include "dataset.h"
#include "knn.h"
#include "model.h"
#include "rng.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------ */

#define KV(...) ((const char *const[]){__VA_ARGS__}), \
    (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

static RsModel *fit_n(const ModelClass *cls, const RsMatrix *t, int nthreads,
                      const char *const *kv, size_t nkv)
{
    ParamValues pv;
    RsErr err = {0};
    RsModel *m = NULL;
    if (params_parse(cls->params, cls->nparams, kv, nkv, &pv, &err))
        fail_msg("params: %s", err.msg);
    assert_int_equal(model_new(cls, t->U, t->I, &pv, 7, &m, &err), RS_OK);
    FitContext ctx = {.train = t, .nthreads = nthreads};
    if (model_fit(m, &ctx, &err))
        fail_msg("fit %s: %s", cls->name, err.msg);
    return m;
}

static RsModel *fit(const ModelClass *cls, const RsMatrix *t, const char *const *kv, size_t nkv)
{
    return fit_n(cls, t, 2, kv, nkv);
}

static float *scores_of(const RsModel *m, const RsMatrix *t, uint32_t u)
{
    float *s = malloc(t->I * sizeof *s);
    RsErr err;
    assert_non_null(s);
    assert_int_equal(m->cls->score(m, t, u, s, &err), RS_OK);
    return s;
}

static float similar_of(const RsModel *m, const RsMatrix *t, uint32_t a, uint32_t b)
{
    float s[16];
    RsErr err;
    assert_true(t->I <= 16);
    assert_int_equal(m->cls->similar(m, t, a, s, &err), RS_OK);
    return s[b];
}

static float predict_of(const RsModel *m, const RsMatrix *t, uint32_t u, uint32_t i)
{
    float p = NAN;
    assert_int_equal(m->cls->predict(m, t, u, i, &p), RS_OK);
    return p;
}

#define NEAR(a, b) assert_float_equal((a), (b), 1e-5)

/* The hand-worked matrix (6 users x 3 items, plus an empty user u6):
 *
 *         i0  i1  i2        user means
 *   u0     5   4   1        10/3
 *   u1     3   2   .        5/2
 *   u2     4   .   2        3
 *   u3     .   5   4        9/2
 *   u4     2   .   .        2
 *   u5     2   3   .        5/2
 *   u6     .   .   .        (none: global mean 37/12)
 *
 * item columns: i0 = {u0:5, u1:3, u2:4, u4:2, u5:2}  (5 users, sum r^2 = 58)
 *               i1 = {u0:4, u1:2, u3:5, u5:3}        (4 users, sum r^2 = 54)
 *               i2 = {u0:1, u2:2, u3:4}              (3 users, sum r^2 = 21)
 * common users: (i0,i1) = {u0,u1,u5}, (i0,i2) = {u0,u2}, (i1,i2) = {u0,u3}
 * item means: i0 16/5, i1 7/2, i2 7/3. */
static RsMatrix *hand(void)
{
    const RsTriplet t[] = {
        {0, 0, 5, RS_NO_TS}, {0, 1, 4, RS_NO_TS}, {0, 2, 1, RS_NO_TS}, {1, 0, 3, RS_NO_TS},
        {1, 1, 2, RS_NO_TS}, {2, 0, 4, RS_NO_TS}, {2, 2, 2, RS_NO_TS}, {3, 1, 5, RS_NO_TS},
        {3, 2, 4, RS_NO_TS}, {4, 0, 2, RS_NO_TS}, {5, 0, 2, RS_NO_TS}, {5, 1, 3, RS_NO_TS},
    };
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(7, 3, t, RS_ARRAY_LEN(t), &m, &err), RS_OK);
    return m;
}

/* ---- similarities by hand ----------------------------------------------------------- */

static void test_cosine_jaccard_by_hand(void **state)
{
    (void)state;
    RsMatrix *t = hand();
    /* binary cosine: common / sqrt(|a| |b|)
     *   (i0,i1) = 3 / sqrt(5 * 4), (i0,i2) = 2 / sqrt(5 * 3), (i1,i2) = 2 / sqrt(4 * 3) */
    RsModel *m = fit(&model_itemknn, t, KV("k=2", "shrink=0", "alpha=0.5"));
    NEAR(similar_of(m, t, 0, 1), 3 / sqrt(20));
    NEAR(similar_of(m, t, 1, 0), 3 / sqrt(20));
    NEAR(similar_of(m, t, 0, 2), 2 / sqrt(15));
    NEAR(similar_of(m, t, 2, 1), 2 / sqrt(12));
    assert_true(similar_of(m, t, 0, 0) == -INFINITY); /* never its own neighbour */
    model_free(m);

    /* cosine on ratings: (i0,i1) = (5*4 + 3*2 + 2*3) / sqrt(58 * 54) = 32 / sqrt(3132)
     * (i0,i2) = (5*1 + 4*2) / sqrt(58 * 21) = 13 / sqrt(1218)
     * (i1,i2) = (4*1 + 5*4) / sqrt(54 * 21) = 24 / sqrt(1134) */
    m = fit(&model_itemknn, t, KV("k=2", "shrink=0", "alpha=0.5", "ratings=1"));
    NEAR(similar_of(m, t, 0, 1), 32 / sqrt(3132));
    NEAR(similar_of(m, t, 2, 0), 13 / sqrt(1218));
    NEAR(similar_of(m, t, 1, 2), 24 / sqrt(1134));
    model_free(m);

    /* jaccard: common / (|a| + |b| - common): 3/6, 2/6, 2/5; ratings ignored */
    m = fit(&model_itemknn, t, KV("similarity=jaccard", "k=2", "shrink=0", "ratings=1"));
    NEAR(similar_of(m, t, 0, 1), 3.0 / 6);
    NEAR(similar_of(m, t, 0, 2), 2.0 / 6);
    NEAR(similar_of(m, t, 1, 2), 2.0 / 5);
    model_free(m);

    /* shrinkage n / (n + shrink) with shrink = 2: jaccard (i0,i1) 3/6 * 3/5,
     * (i1,i2) 2/5 * 2/4 */
    m = fit(&model_itemknn, t, KV("similarity=jaccard", "k=2", "shrink=2"));
    NEAR(similar_of(m, t, 0, 1), 0.5 * 3 / 5);
    NEAR(similar_of(m, t, 1, 2), 0.4 * 2 / 4);
    model_free(m);

    /* asymmetric cosine, alpha = 0.75, the list owner first:
     * sim(i0 -> i1) = 3 / (5^0.25 * 4^0.75), sim(i1 -> i0) = 3 / (4^0.25 * 5^0.75) */
    m = fit(&model_itemknn, t, KV("k=2", "shrink=0", "alpha=0.75"));
    NEAR(similar_of(m, t, 0, 1), 3 / (pow(5, 0.25) * pow(4, 0.75)));
    NEAR(similar_of(m, t, 1, 0), 3 / (pow(4, 0.25) * pow(5, 0.75)));
    model_free(m);
    rs_matrix_free(t);
}

static void test_adjusted_pearson_by_hand(void **state)
{
    (void)state;
    RsMatrix *t = hand();
    /* adjusted cosine (Sarwar sec. 3.1.3): ratings minus the user's mean, sums
     * over the common users.
     *   (i0,i1) over u0,u1,u5: x = (5-10/3, 3-5/2, 2-5/2) = (5/3, 1/2, -1/2)
     *                          y = (4-10/3, 2-5/2, 3-5/2) = (2/3, -1/2, 1/2)
     *   sum xy = 10/9 - 1/4 - 1/4 = 11/18, sum x^2 = 25/9 + 1/2 = 59/18,
     *   sum y^2 = 4/9 + 1/2 = 17/18: sim = 11 / sqrt(59 * 17) = 11 / sqrt(1003)
     *   (i0,i2) over u0,u2: (5/3)(-7/3) + (1)(-1) < 0: no neighbour
     *   (i1,i2) over u0,u3: (2/3)(-7/3) + (1/2)(-1/2) < 0: none */
    RsModel *m = fit(&model_itemknn, t, KV("similarity=adjusted", "k=2", "shrink=0"));
    NEAR(similar_of(m, t, 0, 1), 11 / sqrt(1003));
    assert_true(similar_of(m, t, 0, 2) == -INFINITY);
    assert_true(similar_of(m, t, 1, 2) == -INFINITY);
    model_free(m);

    /* pearson over the common users, each item centred by its mean there:
     *   (i0,i1): i0 (5,3,2) mean 10/3 -> (5/3, -1/3, -4/3); i1 (4,2,3) mean 3 -> (1,-1,0)
     *   cov = 5/3 + 1/3 = 2, var x = 42/9, var y = 2: 2 / sqrt(84/9) = sqrt(3/7)
     *   (i1,i2): i1 (4,5), i2 (1,4): two points, correlation 1
     *   (i0,i2): i0 (5,4), i2 (1,2): correlation -1: none */
    m = fit(&model_itemknn, t, KV("similarity=pearson", "k=2", "shrink=0"));
    NEAR(similar_of(m, t, 0, 1), sqrt(3.0 / 7));
    NEAR(similar_of(m, t, 1, 2), 1);
    assert_true(similar_of(m, t, 0, 2) == -INFINITY);
    model_free(m);

    /* shrink = 2: sqrt(3/7) * 3/5 and 1 * 2/4 */
    m = fit(&model_itemknn, t, KV("similarity=pearson", "k=2", "shrink=2"));
    NEAR(similar_of(m, t, 0, 1), sqrt(3.0 / 7) * 3 / 5);
    NEAR(similar_of(m, t, 1, 2), 0.5);
    model_free(m);

    /* min_common = 3 drops (i1,i2), which has 2 common users */
    m = fit(&model_itemknn, t, KV("similarity=pearson", "k=2", "shrink=0", "min_common=3"));
    NEAR(similar_of(m, t, 0, 1), sqrt(3.0 / 7));
    assert_true(similar_of(m, t, 1, 2) == -INFINITY);
    model_free(m);

    /* UserKNN's similar: the item-item similarity computed on the fly with
     * the model's measure gives the same numbers */
    m = fit(&model_userknn, t, KV("similarity=pearson", "shrink=2"));
    NEAR(similar_of(m, t, 0, 1), sqrt(3.0 / 7) * 3 / 5);
    NEAR(similar_of(m, t, 2, 1), 0.5);
    model_free(m);
    rs_matrix_free(t);
}

/* ---- scores and predictions by hand ---------------------------------------------------- */

static void test_itemknn_scores_by_hand(void **state)
{
    (void)state;
    RsMatrix *t = hand();
    /* k = 1 (binary cosine): N(i0) = {i1} (3/sqrt20 > 2/sqrt15),
     * N(i1) = {i0} (3/sqrt20 > 2/sqrt12), N(i2) = {i1} (2/sqrt12 > 2/sqrt15).
     * s(u, i) sums sim(i, j) over the user's items j in N(i).
     * u2 has {i0, i2}: s(i0) = 0 (i1 not had), s(i1) = 3/sqrt20, s(i2) = 0.
     * u3 has {i1, i2}: s(i0) = 3/sqrt20, s(i1) = 0, s(i2) = 2/sqrt12. */
    RsModel *m = fit(&model_itemknn, t, KV("k=1", "shrink=0", "alpha=0.5"));
    float *s = scores_of(m, t, 2);
    NEAR(s[0], 0);
    NEAR(s[1], 3 / sqrt(20));
    NEAR(s[2], 0);
    free(s);
    s = scores_of(m, t, 3);
    NEAR(s[0], 3 / sqrt(20));
    NEAR(s[1], 0);
    NEAR(s[2], 2 / sqrt(12));
    free(s);
    model_free(m);

    /* k = 2: s(u2, i1) = sim(i1,i0) + sim(i1,i2) = 3/sqrt20 + 2/sqrt12;
     * s(u4, i2) = sim(i2, i0) = 2/sqrt15 */
    m = fit(&model_itemknn, t, KV("k=2", "shrink=0", "alpha=0.5"));
    s = scores_of(m, t, 2);
    NEAR(s[1], 3 / sqrt(20) + 2 / sqrt(12));
    free(s);
    s = scores_of(m, t, 4);
    NEAR(s[2], 2 / sqrt(15));
    free(s);
    model_free(m);

    /* ratings = 1 weights by the user's rating. jaccard k = 1: N(i0) = {i1}
     * (1/2), N(i2) = {i1} (2/5): s(u3, i0) = 5 * 1/2, s(u3, i2) = 5 * 2/5 */
    m = fit(&model_itemknn, t, KV("similarity=jaccard", "k=1", "shrink=0", "ratings=1"));
    s = scores_of(m, t, 3);
    NEAR(s[0], 2.5);
    NEAR(s[2], 2.0);
    free(s);
    model_free(m);

    /* normalize: jaccard k = 2, N(i2) = {i1: 2/5, i0: 1/3}, sum 11/15:
     * s(u4, i2) = (1/3) / (11/15) = 5/11 */
    m = fit(&model_itemknn, t, KV("similarity=jaccard", "k=2", "shrink=0", "normalize=1"));
    s = scores_of(m, t, 4);
    NEAR(s[2], 5.0 / 11);
    free(s);
    model_free(m);
    rs_matrix_free(t);
}

static void test_userknn_scores_by_hand(void **state)
{
    (void)state;
    RsMatrix *t = hand();
    /* binary cosine between users: u4 = {i0} shares i0 with u0 (3 items):
     * 1/sqrt3, with u1, u2, u5 (2 items each): 1/sqrt2; nothing with u3.
     * s(u4, i) sums sim(u4, v) over neighbours v who have i:
     *   i0: u0 u1 u2 u5, i1: u0 u1 u5, i2: u0 u2 */
    RsModel *m = fit(&model_userknn, t, KV("k=10", "shrink=0", "alpha=0.5"));
    float *s = scores_of(m, t, 4);
    NEAR(s[0], 1 / sqrt(3) + 3 / sqrt(2));
    NEAR(s[1], 1 / sqrt(3) + 2 / sqrt(2));
    NEAR(s[2], 1 / sqrt(3) + 1 / sqrt(2));
    free(s);
    /* u1 and u5 have the same item set {i0, i1}: not each other's
     * neighbours. u1's: u0 2/sqrt6, u2 1/2, u3 1/2, u4 1/sqrt2, so
     * s(u1, i0) = 2/sqrt6 + 1/2 + 1/sqrt2 (u5 would have added 1) */
    s = scores_of(m, t, 1);
    NEAR(s[0], 2 / sqrt(6) + 0.5 + 1 / sqrt(2));
    NEAR(s[2], 2 / sqrt(6) + 0.5 + 0.5);
    free(s);
    model_free(m);

    /* k = 1: u4's nearest are u1, u2, u5 at 1/sqrt2; the smaller index wins */
    m = fit(&model_userknn, t, KV("k=1", "shrink=0", "alpha=0.5"));
    s = scores_of(m, t, 4);
    NEAR(s[0], 1 / sqrt(2));
    NEAR(s[1], 1 / sqrt(2));
    NEAR(s[2], 0);
    free(s);
    RsExplanation e;
    RsErr err;
    rs_explanation_init(&e);
    assert_int_equal(model_explain(m, t, NULL, 4, NULL, 0, &e, &err), RS_OK);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.c[0].index, 1);
    rs_explanation_done(&e);
    model_free(m);
    rs_matrix_free(t);
}

static void test_predict_by_hand(void **state)
{
    (void)state;
    RsMatrix *t = hand();
    double s10 = 3 / sqrt(20), s12 = 2 / sqrt(12); /* sim(i1, i0), sim(i1, i2) */
    /* ItemKNN, user-centred: u2 rated i0 = 4, i2 = 2, mean 3:
     *   r(u2, i1) = 3 + (s10 (4 - 3) + s12 (2 - 3)) / (s10 + s12) */
    RsModel *m = fit(&model_itemknn, t, KV("k=2", "shrink=0", "alpha=0.5", "center=user"));
    NEAR(predict_of(m, t, 2, 1), 3 + (s10 - s12) / (s10 + s12));
    /* no neighbour rated: u4's mean 2; a user without ratings: the global mean 37/12 */
    model_free(m);
    m = fit(&model_itemknn, t, KV("k=1", "shrink=0", "alpha=0.5", "center=user"));
    NEAR(predict_of(m, t, 4, 2), 2); /* N(i2) = {i1}, which u4 has not rated */
    NEAR(predict_of(m, t, 6, 0), 37.0 / 12);
    model_free(m);
    /* item-centred: r(u2, i1) = 7/2 + (s10 (4 - 16/5) + s12 (2 - 7/3)) / (s10 + s12);
     * fallback: the item's mean */
    m = fit(&model_itemknn, t, KV("k=2", "shrink=0", "alpha=0.5", "center=item"));
    NEAR(predict_of(m, t, 2, 1), 3.5 + (s10 * 0.8 - s12 / 3) / (s10 + s12));
    model_free(m);
    m = fit(&model_itemknn, t, KV("k=1", "shrink=0", "alpha=0.5", "center=item"));
    NEAR(predict_of(m, t, 4, 2), 7.0 / 3);
    model_free(m);

    /* UserKNN, user-centred (Herlocker): u4 (mean 2), i1 rated by neighbours
     * u0 (1/sqrt3, 4, mean 10/3), u1 (1/sqrt2, 2, mean 5/2), u5 (1/sqrt2, 3, mean 5/2):
     *   2 + (1/sqrt3 * 2/3 - 1/sqrt2 * 1/2 + 1/sqrt2 * 1/2) / (1/sqrt3 + 2/sqrt2) */
    double a = 1 / sqrt(3), b = 1 / sqrt(2);
    m = fit(&model_userknn, t, KV("k=10", "shrink=0", "alpha=0.5"));
    NEAR(predict_of(m, t, 4, 1), 2 + (a * 2 / 3) / (a + 2 * b));
    /* clamped to the training range: u3 = {i1, i2}, mean 9/2; i0 rated by
     * u0 (2/sqrt6, +5/3), u1 (1/2, +1/2), u2 (1/2, +1), u5 (1/2, -1/2):
     * 9/2 + (2/sqrt6 * 5/3 + 1/2) / (2/sqrt6 + 3/2) = 5.30 -> 5 */
    assert_true(4.5 + (2 / sqrt(6) * 5 / 3 + 0.5) / (2 / sqrt(6) + 1.5) > 5.3);
    NEAR(predict_of(m, t, 3, 0), 5);
    model_free(m);
    /* item-centred user-based is the plain weighted average of the neighbours' ratings */
    m = fit(&model_userknn, t, KV("k=10", "shrink=0", "alpha=0.5", "center=item"));
    NEAR(predict_of(m, t, 4, 1), (a * 4 + b * 2 + b * 3) / (a + 2 * b));
    model_free(m);
    rs_matrix_free(t);
}

/* ---- explanations ------------------------------------------------------------------------ */

static void test_explain_by_hand(void **state)
{
    (void)state;
    RsMatrix *t = hand();
    RsErr err;
    RsExplanation e;
    /* jaccard k = 1 ratings = 1: s(u3, i0) = 5 * 1/2, all from i1 */
    RsModel *m = fit(&model_itemknn, t, KV("similarity=jaccard", "k=1", "shrink=0", "ratings=1"));
    rs_explanation_init(&e);
    assert_int_equal(model_explain(m, t, NULL, 3, NULL, 0, &e, &err), RS_OK);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.c[0].kind, EXPL_ITEM);
    assert_int_equal(e.c[0].index, 1);
    NEAR(e.c[0].value, 2.5);
    NEAR(e.c[0].similarity, 0.5);
    NEAR(e.score, 2.5);
    assert_true(e.additive);
    assert_true(m->cls->flags & MODEL_ADDITIVE);
    assert_true(strlen(e.method) > 10);
    rs_explanation_done(&e);
    model_free(m);

    /* UserKNN: s(u4, i1) comes from u0, u1 and u5 */
    m = fit(&model_userknn, t, KV("k=10", "shrink=0", "alpha=0.5"));
    rs_explanation_init(&e);
    assert_int_equal(model_explain(m, t, NULL, 4, NULL, 1, &e, &err), RS_OK);
    assert_int_equal(e.n, 3);
    unsigned seen = 0;
    double sum = 0;
    for (size_t k = 0; k < e.n; k++) {
        assert_int_equal(e.c[k].kind, EXPL_USER);
        seen |= 1u << e.c[k].index;
        sum += e.c[k].value;
    }
    assert_int_equal(seen, (1u << 0) | (1u << 1) | (1u << 5));
    NEAR(sum, 1 / sqrt(3) + 2 / sqrt(2));
    NEAR(e.score, sum);
    rs_explanation_done(&e);
    model_free(m);
    rs_matrix_free(t);
}

/* ---- a random matrix and the naive reference -------------------------------------------- */

#define RU 30
#define RI 20

/* RU x RI, about 30% filled with ratings 1..5; user RU-1 has exactly user
 * RU-2's items (other ratings), so the same-set rule matters. */
static RsMatrix *random_matrix(uint64_t seed, int implicit)
{
    RsTriplet t[RU * RI];
    size_t n = 0;
    RsRng g;
    rng_seed(&g, seed);
    for (uint32_t u = 0; u < RU - 1; u++)
        for (uint32_t i = 0; i < RI; i++)
            if (rng_uniform(&g) < 0.3)
                t[n++] = (RsTriplet){u, i, implicit ? NAN : (float)(1 + rng_below(&g, 5)), RS_NO_TS};
    size_t last = n;
    for (size_t k = 0; k < last; k++)
        if (t[k].u == RU - 2)
            t[n++] = (RsTriplet){RU - 1, t[k].i, implicit ? NAN : (float)(1 + rng_below(&g, 5)),
                                 RS_NO_TS};
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(RU, RI, t, n, &m, &err), RS_OK);
    return m;
}

enum { NV_COSINE, NV_ADJUSTED, NV_PEARSON, NV_JACCARD };

typedef struct NaiveOpt {
    int kind, ratings, normalize, same_set;
    double shrink, alpha, min_common;
} NaiveOpt;

/* sim(a -> b) between rows a and b of the dense N x M matrix E (0 =
 * missing), straight from the definitions in knn.c; 0 when none. */
static double naive_sim(const double *E, size_t N, size_t M, size_t a, size_t b,
                        const NaiveOpt *o)
{
    (void)N;
    double n = 0, na = 0, nb = 0;
    for (size_t f = 0; f < M; f++) {
        na += E[a * M + f] != 0;
        nb += E[b * M + f] != 0;
        n += E[a * M + f] != 0 && E[b * M + f] != 0;
    }
    if (a == b || n == 0 || n < o->min_common || (o->same_set && n == na && n == nb))
        return 0;
    double sim = 0;
    if (o->kind == NV_JACCARD) {
        sim = n / (na + nb - n);
    } else if (o->kind == NV_COSINE) {
        double num = 0, A = 0, B = 0;
        for (size_t f = 0; f < M; f++) {
            double x = E[a * M + f], y = E[b * M + f];
            if (!o->ratings) {
                x = x != 0;
                y = y != 0;
            }
            num += x * y;
            A += x * x;
            B += y * y;
        }
        sim = num / (pow(A, 1 - o->alpha) * pow(B, o->alpha));
    } else {
        double ma = 0, mb = 0;
        for (size_t f = 0; f < M; f++)
            if (E[a * M + f] != 0 && E[b * M + f] != 0) {
                ma += E[a * M + f] / n;
                mb += E[b * M + f] / n;
            }
        double num = 0, A = 0, B = 0;
        for (size_t f = 0; f < M; f++) {
            if (E[a * M + f] == 0 || E[b * M + f] == 0)
                continue;
            double x, y;
            if (o->kind == NV_ADJUSTED) { /* minus the feature's mean over all its entries */
                double fm = 0, fn = 0;
                for (size_t e = 0; e < N; e++)
                    if (E[e * M + f] != 0) {
                        fm += E[e * M + f];
                        fn++;
                    }
                x = E[a * M + f] - fm / fn;
                y = E[b * M + f] - fm / fn;
            } else {
                x = E[a * M + f] - ma;
                y = E[b * M + f] - mb;
            }
            num += x * y;
            A += x * x;
            B += y * y;
        }
        if (A < 1e-9 || B < 1e-9)
            return 0;
        sim = num / sqrt(A * B);
    }
    if (sim > 1)
        sim = 1;
    sim *= n / (n + o->shrink);
    return sim > 1e-9 ? sim : 0;
}

/* Naive top-N scores of every user with every neighbour kept (k = all). */
static void naive_scores(const RsMatrix *t, int user_based, const NaiveOpt *o, double *S)
{
    double *R = calloc(RU * RI, sizeof *R), *E = calloc(RU * RI, sizeof *E);
    for (size_t u = 0; u < RU; u++)
        for (size_t p = t->u_ptr[u]; p < t->u_ptr[u + 1]; p++)
            R[u * RI + t->u_items[p]] = t->has_ratings ? t->u_rating[p] : 1;
    size_t N = user_based ? RU : RI, M = user_based ? RI : RU;
    for (size_t u = 0; u < RU; u++)
        for (size_t i = 0; i < RI; i++)
            E[user_based ? u * RI + i : i * RU + u] = R[u * RI + i];
    double *sim = calloc(N * N, sizeof *sim), *scale = calloc(N, sizeof *scale);
    for (size_t a = 0; a < N; a++) {
        double sum = 0;
        for (size_t b = 0; b < N; b++)
            sum += sim[a * N + b] = naive_sim(E, N, M, a, b, o);
        scale[a] = o->normalize && sum > 0 ? 1 / sum : 1;
    }
    for (size_t u = 0; u < RU; u++)
        for (size_t i = 0; i < RI; i++) {
            double s = 0;
            if (user_based) {
                for (size_t v = 0; v < RU; v++)
                    if (R[v * RI + i] != 0)
                        s += (o->ratings ? R[v * RI + i] : 1) * sim[u * N + v] * scale[u];
            } else {
                for (size_t j = 0; j < RI; j++)
                    if (R[u * RI + j] != 0)
                        s += (o->ratings ? R[u * RI + j] : 1) * sim[i * N + j] * scale[i];
            }
            S[u * RI + i] = s;
        }
    free(R);
    free(E);
    free(sim);
    free(scale);
}

static void check_against_naive(const RsMatrix *t, const ModelClass *cls, const NaiveOpt *o,
                                const char *const *kv, size_t nkv)
{
    double *S = malloc(RU * RI * sizeof *S);
    naive_scores(t, cls == &model_userknn, o, S);
    RsModel *m = fit(cls, t, kv, nkv);
    for (uint32_t u = 0; u < RU; u++) {
        float *s = scores_of(m, t, u);
        for (size_t i = 0; i < RI; i++)
            if (fabs(s[i] - S[u * RI + i]) > 1e-4 * (1 + fabs(S[u * RI + i])))
                fail_msg("%s %s: user %u item %zu: %g, naive %g", cls->name, kv[0], u, i,
                         (double)s[i], S[u * RI + i]);
        free(s);
    }
    model_free(m);
    free(S);
}

static void test_matches_naive(void **state)
{
    (void)state;
    RsMatrix *t = random_matrix(11, 0);
    for (int ub = 0; ub < 2; ub++) {
        const ModelClass *cls = ub ? &model_userknn : &model_itemknn;
        NaiveOpt o = {NV_COSINE, 0, 0, ub, 5, 0.75, 1};
        check_against_naive(t, cls, &o, KV("k=100000"));
        o = (NaiveOpt){NV_COSINE, 1, 1, ub, 0, 0.5, 1};
        check_against_naive(t, cls, &o, KV("ratings=1", "normalize=1", "k=100000", "shrink=0",
                                           "alpha=0.5"));
        o = (NaiveOpt){NV_JACCARD, 0, 0, ub, 3, 0.5, 2};
        check_against_naive(t, cls, &o, KV("similarity=jaccard", "k=100000", "shrink=3",
                                           "min_common=2"));
        o = (NaiveOpt){NV_ADJUSTED, 1, 0, ub, 1, 0.5, 1};
        check_against_naive(t, cls, &o, KV("similarity=adjusted", "ratings=1", "k=100000",
                                           "shrink=1"));
        o = (NaiveOpt){NV_PEARSON, 0, 1, ub, 2, 0.5, 2};
        check_against_naive(t, cls, &o, KV("similarity=pearson", "normalize=1", "k=100000",
                                           "shrink=2", "min_common=2"));
    }
    rs_matrix_free(t);
    /* implicit data: everything is 1 */
    t = random_matrix(12, 1);
    NaiveOpt o = {NV_COSINE, 0, 0, 0, 5, 0.75, 1};
    check_against_naive(t, &model_itemknn, &o, KV("k=100000", "ratings=1"));
    o.same_set = 1;
    check_against_naive(t, &model_userknn, &o, KV("k=100000", "ratings=1"));
    rs_matrix_free(t);
}

/* Explanations add up to the score, for training users and folded-in
 * profiles, over every item. */
static void test_explanations_add_up(void **state)
{
    (void)state;
    RsMatrix *t = random_matrix(13, 0);
    RsErr err;
    for (int c = 0; c < 4; c++) {
        const ModelClass *cls = c & 1 ? &model_userknn : &model_itemknn;
        RsModel *m = c < 2 ? fit(cls, t, KV("k=5"))
                           : fit(cls, t, KV("k=7", "ratings=1", "normalize=1",
                                            "similarity=adjusted"));
        for (uint32_t u = 0; u < RU; u += 3) {
            float *s = scores_of(m, t, u);
            RsProfile p = rs_profile_of_user(t, u);
            for (uint32_t i = 0; i < RI; i++)
                for (long who = (long)u; who >= -1; who -= (long)u + 1) {
                    RsExplanation e;
                    rs_explanation_init(&e);
                    assert_int_equal(model_explain(m, t, NULL, who, &p, i, &e, &err), RS_OK);
                    double sum = e.bias;
                    for (size_t k = 0; k < e.n; k++) {
                        sum += e.c[k].value;
                        assert_true(e.c[k].similarity > 0);
                        assert_int_equal(e.c[k].kind, c & 1 ? EXPL_USER : EXPL_ITEM);
                    }
                    assert_true(e.additive);
                    assert_true(e.score == s[i]); /* the same sum, term by term */
                    assert_float_equal(sum, s[i], 1e-5 * (1 + fabs(s[i])));
                    rs_explanation_done(&e);
                }
            free(s);
        }
        model_free(m);
    }
    rs_matrix_free(t);
}

/* ---- fold-in, determinism, blobs, cancel --------------------------------------------------- */

static void check_foldin(const RsModel *m, const RsMatrix *t, uint32_t users)
{
    RsErr err;
    float *f = malloc(t->I * sizeof *f);
    for (uint32_t u = 0; u < users; u++) {
        float *s = scores_of(m, t, u);
        RsProfile p = rs_profile_of_user(t, u);
        assert_int_equal(m->cls->score_profile(m, t, &p, f, &err), RS_OK);
        if (memcmp(s, f, t->I * sizeof *f))
            fail_msg("%s: fold-in of user %u differs from its scores", m->cls->name, u);
        free(s);
    }
    free(f);
}

static void test_foldin_equals_score(void **state)
{
    (void)state;
    RsMatrix *t = random_matrix(14, 0);
    for (int c = 0; c < 2; c++) {
        const ModelClass *cls = c ? &model_userknn : &model_itemknn;
        RsModel *m = fit(cls, t, KV("k=3"));
        check_foldin(m, t, RU);
        model_free(m);
        m = fit(cls, t, KV("k=4", "similarity=pearson", "ratings=1", "normalize=1"));
        check_foldin(m, t, RU);
        model_free(m);
        assert_true(cls->flags & MODEL_FOLDIN);
    }
    /* a profile with an item out of range is refused */
    RsModel *m = fit(&model_userknn, t, KV("k=3"));
    uint32_t bad[] = {1, RI};
    RsProfile p = {2, bad, NULL};
    float s[RI];
    RsErr err;
    assert_int_equal(m->cls->score_profile(m, t, &p, s, &err), RS_EUSAGE);
    model_free(m);
    rs_matrix_free(t);
}

static void payload_of(const RsModel *m, RsBlob *b)
{
    RsErr err;
    blob_init(b);
    assert_int_equal(m->cls->save(m, b, &err), RS_OK);
}

static void test_determinism(void **state)
{
    (void)state;
    RsMatrix *t = random_matrix(15, 0);
    for (int c = 0; c < 2; c++) {
        const ModelClass *cls = c ? &model_userknn : &model_itemknn;
        RsModel *a = fit_n(cls, t, 1, KV("k=4"));
        RsModel *b = fit_n(cls, t, 2, KV("k=4"));
        RsModel *d = fit_n(cls, t, 3, KV("k=4"));
        RsBlob ba, bb, bd;
        payload_of(a, &ba);
        payload_of(b, &bb);
        payload_of(d, &bd);
        assert_int_equal(ba.len, bb.len);
        assert_memory_equal(ba.data, bb.data, ba.len);
        assert_int_equal(ba.len, bd.len);
        assert_memory_equal(ba.data, bd.data, ba.len);
        blob_done(&ba);
        blob_done(&bb);
        blob_done(&bd);
        model_free(a);
        model_free(b);
        model_free(d);
    }
    rs_matrix_free(t);
}

/* Loads a payload into a fresh model of m's class and parameters. */
static int load_payload(const RsModel *m, const void *data, size_t len, RsModel **out, RsErr *err)
{
    RsModel *n;
    assert_int_equal(model_new(m->cls, m->U, m->I, &m->pv, m->seed, &n, err), RS_OK);
    RsBlobReader r;
    blob_reader_init(&r, data, len);
    int rc = m->cls->load(n, &r, err);
    if (!rc && blob_remaining(&r) != 0)
        rc = RS_EPARSE;
    if (rc) {
        model_free(n);
        return rc;
    }
    *out = n;
    return RS_OK;
}

static void same_scores(const RsModel *a, const RsModel *b, const RsMatrix *t)
{
    for (uint32_t u = 0; u < t->U; u++) {
        float *x = scores_of(a, t, u), *y = scores_of(b, t, u);
        assert_memory_equal(x, y, t->I * sizeof *x);
        for (uint32_t i = 0; i < t->I; i += 7)
            assert_true(predict_of(a, t, u, i) == predict_of(b, t, u, i));
        free(x);
        free(y);
    }
}

static void test_save_load(void **state)
{
    (void)state;
    RsMatrix *t = random_matrix(16, 0);
    RsErr err;
    for (int c = 0; c < 2; c++) {
        const ModelClass *cls = c ? &model_userknn : &model_itemknn;
        RsModel *m = fit(cls, t, KV("k=5", "ratings=1", "normalize=1"));
        RsModel *n = NULL;
        RsBlob b;
        payload_of(m, &b);
        assert_int_equal(load_payload(m, b.data, b.len, &n, &err), RS_OK);
        same_scores(m, n, t);
        check_foldin(n, t, RU);
        model_free(n);
        blob_done(&b);
        /* the whole container, once the registry knows the class */
        if (model_class_find(cls->name) == cls) {
            assert_int_equal(model_save(m, &b, &err), RS_OK);
            assert_int_equal(model_load(b.data, b.len, RU, RI, &n, &err), RS_OK);
            same_scores(m, n, t);
            model_free(n);
            for (size_t len = 0; len < b.len; len += 1 + len / 8)
                assert_int_not_equal(model_load(b.data, len, RU, RI, &n, &err), RS_OK);
            blob_done(&b);
        } else {
            print_message("%s is not in the registry yet: container round trip skipped\n",
                          cls->name);
        }
        model_free(m);
    }
    rs_matrix_free(t);
}

/* Payload v1 layout: u32 flags, u64 N, u64 NB, u32 count[N], u32 idx[NB],
 * f32 sim[NB], f32 scale[N], means and norms, f32 gmean, rmin, rmax. */
static int load_patched(const RsModel *m, const RsBlob *b, size_t at, const void *val, size_t n,
                        RsErr *err)
{
    uint8_t *d = malloc(b->len);
    memcpy(d, b->data, b->len);
    memcpy(d + at, val, n);
    RsModel *out = NULL;
    int rc = load_payload(m, d, b->len, &out, err);
    model_free(out);
    free(d);
    return rc;
}

static void test_corrupt_blob(void **state)
{
    (void)state;
    RsMatrix *t = random_matrix(17, 0);
    RsErr err;
    for (int c = 0; c < 2; c++) {
        const ModelClass *cls = c ? &model_userknn : &model_itemknn;
        RsModel *m = fit(cls, t, KV("k=4")), *n = NULL;
        size_t N = c ? RU : RI;
        RsBlob b;
        payload_of(m, &b);
        /* every truncation fails cleanly */
        for (size_t len = 0; len < b.len; len++)
            assert_int_equal(load_payload(m, b.data, len, &n, &err), RS_EPARSE);
        /* trailing bytes */
        uint8_t *longer = calloc(b.len + 4, 1);
        memcpy(longer, b.data, b.len);
        assert_int_not_equal(load_payload(m, longer, b.len + 4, &n, &err), RS_OK);
        free(longer);

        size_t idx0 = 20 + 4 * N;          /* first neighbour index */
        uint64_t NB;
        memcpy(&NB, b.data + 12, 8);
        assert_true(NB > 0);
        size_t sim0 = idx0 + 4 * NB;        /* first similarity */
        uint32_t big = (uint32_t)N + 5, cnt = 99, flags = 6;
        uint64_t wrongN = N + 1;
        float nan = NAN, neg = -0.5f;
        uint32_t owner = 0, zero = 0, len0 = 0;
        for (;; owner++) { /* the first non-empty list: its first entry is idx[0] */
            memcpy(&len0, b.data + 20 + 4 * owner, 4);
            if (len0)
                break;
        }

        assert_int_equal(load_patched(m, &b, idx0, &big, 4, &err), RS_EPARSE);
        assert_non_null(strstr(err.msg, "out of range"));
        assert_int_equal(load_patched(m, &b, idx0, &owner, 4, &err), RS_EPARSE);
        assert_int_equal(load_patched(m, &b, sim0, &nan, 4, &err), RS_EPARSE);
        assert_int_equal(load_patched(m, &b, sim0, &neg, 4, &err), RS_EPARSE);
        assert_int_equal(load_patched(m, &b, 20 + 4 * owner, &cnt, 4, &err), RS_EPARSE);
        assert_int_equal(load_patched(m, &b, 20 + 4 * owner, &zero, 4, &err), RS_EPARSE);
        assert_int_equal(load_patched(m, &b, 0, &flags, 4, &err), RS_EPARSE);
        assert_int_equal(load_patched(m, &b, 4, &wrongN, 8, &err), RS_EPARSE);
        assert_int_equal(load_patched(m, &b, b.len - 4, &nan, 4, &err), RS_EPARSE);
        /* the untouched payload still loads */
        assert_int_equal(load_payload(m, b.data, b.len, &n, &err), RS_OK);
        model_free(n);
        blob_done(&b);
        model_free(m);
    }
    rs_matrix_free(t);
}

static int count_progress(void *ctx, const FitProgress *p)
{
    double *last = ctx;
    assert_true(p->fraction >= *last && p->fraction <= 1);
    *last = p->fraction;
    return 0;
}

static void test_cancel_and_errors(void **state)
{
    (void)state;
    RsMatrix *t = random_matrix(18, 0);
    RsErr err;
    RsModel *m;
    for (int c = 0; c < 2; c++) {
        const ModelClass *cls = c ? &model_userknn : &model_itemknn;
        assert_int_equal(model_new(cls, RU, RI, NULL, 1, &m, &err), RS_OK);
        atomic_int cancel = 1;
        FitContext ctx = {.train = t, .nthreads = 2, .cancel = &cancel};
        assert_int_equal(model_fit(m, &ctx, &err), RS_ECANCEL);
        assert_null(m->state);
        double last = 0;
        atomic_store(&cancel, 0);
        ctx.progress = count_progress;
        ctx.progress_ctx = &last;
        assert_int_equal(model_fit(m, &ctx, &err), RS_OK);
        assert_true(last == 1.0);
        model_free(m);
    }
    rs_matrix_free(t);

    /* adjusted and pearson need ratings */
    t = random_matrix(19, 1);
    ParamValues pv;
    const char *kv[] = {"similarity=pearson"};
    assert_int_equal(params_parse(model_itemknn.params, model_itemknn.nparams, kv, 1, &pv, &err),
                     RS_OK);
    assert_int_equal(model_new(&model_itemknn, RU, RI, &pv, 1, &m, &err), RS_OK);
    FitContext ctx = {.train = t, .nthreads = 1};
    assert_int_equal(model_fit(m, &ctx, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "needs ratings"));
    /* an untrained model says so */
    float s[RI];
    assert_int_equal(m->cls->score(m, t, 0, s, &err), RS_EUSAGE);
    model_free(m);
    /* ranges are validated */
    const char *bad[] = {"k=0"};
    assert_int_equal(params_parse(model_itemknn.params, model_itemknn.nparams, bad, 1, &pv, &err),
                     RS_EUSAGE);
    const char *bad2[] = {"alpha=1.5"};
    assert_int_equal(params_parse(model_userknn.params, model_userknn.nparams, bad2, 1, &pv, &err),
                     RS_EUSAGE);
    rs_matrix_free(t);
}

/* Degenerate data: no interactions, one item, one user. */
static void test_degenerate(void **state)
{
    (void)state;
    const RsTriplet one[] = {{0, 0, 4, RS_NO_TS}};
    size_t shapes[][3] = {{3, 2, 0}, {1, 1, 1}, {2, 1, 1}, {1, 3, 1}};
    RsErr err;
    for (size_t k = 0; k < RS_ARRAY_LEN(shapes); k++)
        for (int c = 0; c < 2; c++) {
            const ModelClass *cls = c ? &model_userknn : &model_itemknn;
            RsMatrix *t;
            assert_int_equal(rs_matrix_build(shapes[k][0], shapes[k][1], one, shapes[k][2], &t,
                                             &err), RS_OK);
            RsModel *m = fit(cls, t, NULL, 0), *n = NULL;
            float s[3];
            for (uint32_t u = 0; u < t->U; u++) {
                assert_int_equal(cls->score(m, t, u, s, &err), RS_OK);
                for (size_t i = 0; i < t->I; i++)
                    assert_true(s[i] == 0);
                float p = predict_of(m, t, u, 0);
                assert_true(isfinite(p));
            }
            RsBlob b;
            payload_of(m, &b);
            assert_int_equal(load_payload(m, b.data, b.len, &n, &err), RS_OK);
            blob_done(&b);
            model_free(n);
            model_free(m);
            rs_matrix_free(t);
        }
}

/* ---- MovieLens-100K -------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_ml100k_topn(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *all = tu_ml100k_load("u.data"), *tr, *te;
    tu_split_random(all, 0.2, 42, &tr, &te);
    rs_matrix_free(all);

    double t0 = now_s();
    RsModel *m = tu_fit(&model_itemknn, tr, NULL, NULL, 0, 1);
    double t1 = now_s();
    double ndcg = tu_ndcg_full(m, tr, te, 10);
    print_message("ItemKNN (defaults) ML-100K NDCG@10 = %.4f, fit %.3f s\n", ndcg, t1 - t0);
    assert_true(ndcg >= 0.37); /* measured 0.412 */
    model_free(m);

    t0 = now_s();
    m = tu_fit(&model_userknn, tr, NULL, NULL, 0, 1);
    t1 = now_s();
    ndcg = tu_ndcg_full(m, tr, te, 10);
    print_message("UserKNN (defaults) ML-100K NDCG@10 = %.4f, fit %.3f s\n", ndcg, t1 - t0);
    assert_true(ndcg >= 0.38); /* measured 0.4035 */
    check_foldin(m, tr, 100);
    model_free(m);
    rs_matrix_free(tr);
    rs_matrix_free(te);
}

static void test_ml100k_rmse(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *tr = tu_ml100k_load("u1.base"), *te = tu_ml100k_load("u1.test");
    RsModel *m = tu_fit(&model_itemknn, tr, NULL, NULL, 0, 1);
    double rmse = tu_rmse(m, tr, te);
    print_message("ItemKNN (defaults) u1 RMSE = %.4f\n", rmse);
    assert_true(rmse <= 0.975); /* measured 0.956 */
    model_free(m);

    const char *kv[] = {"similarity=adjusted", "k=200", "shrink=100"};
    double t0 = now_s();
    m = tu_fit(&model_itemknn, tr, NULL, kv, 3, 1);
    double t1 = now_s();
    rmse = tu_rmse(m, tr, te);
    print_message("ItemKNN (adjusted, k=200, shrink=100) u1 RMSE = %.4f, fit %.3f s\n", rmse,
                  t1 - t0);
    assert_true(rmse <= 0.95); /* measured 0.939 */
    model_free(m);

    const char *kv2[] = {"similarity=pearson", "k=200", "shrink=100"};
    m = tu_fit(&model_userknn, tr, NULL, kv2, 3, 1);
    rmse = tu_rmse(m, tr, te);
    print_message("UserKNN (pearson, k=200, shrink=100) u1 RMSE = %.4f\n", rmse);
    assert_true(rmse <= 0.97); /* measured 0.956 */
    model_free(m);
    rs_matrix_free(tr);
    rs_matrix_free(te);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosine_jaccard_by_hand),
        cmocka_unit_test(test_adjusted_pearson_by_hand),
        cmocka_unit_test(test_itemknn_scores_by_hand),
        cmocka_unit_test(test_userknn_scores_by_hand),
        cmocka_unit_test(test_predict_by_hand),
        cmocka_unit_test(test_explain_by_hand),
        cmocka_unit_test(test_matches_naive),
        cmocka_unit_test(test_explanations_add_up),
        cmocka_unit_test(test_foldin_equals_score),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt_blob),
        cmocka_unit_test(test_cancel_and_errors),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_ml100k_topn),
        cmocka_unit_test(test_ml100k_rmse),
    };
    return cmocka_run_group_tests_name("knn", tests, NULL, NULL);
}
