/* test_metrics.c - evaluation metrics and paired tests: hand-worked tiny
 * cases for every top-K metric (ties, fewer relevant items than K, K past
 * the candidates, no hits, a relevance threshold), the one-pass version
 * against the definitions, AUC, Gini, eval_model end to end on a fake
 * model with fixed scores (full and sampled protocols, rating errors,
 * beyond-accuracy measures, determinism across threads, errors and
 * cancellation), and the Wilcoxon / bootstrap statistics against scipy and
 * closed forms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "metrics.h"
#include "model.h"
#include "rng.h"
#include "stats.h"

#define TOL 1e-12

#define assert_near(x, y, tol) near_((x), (y), (tol), #x, __FILE__, __LINE__)
static void near_(double x, double y, double tol, const char *what, const char *file, int line)
{
    if (!(fabs(x - y) <= tol)) {
        print_error("%s = %.17g, expected %.17g (tol %g)\n", what, x, y, tol);
        _fail(file, line);
    }
}

/* 1 / log2(r + 1) */
static double disc(int r)
{
    return 1.0 / log2(r + 1.0);
}

/* ---- per-list metrics by hand ---------------------------------------------------- */

static void test_list_metrics_hand(void **state)
{
    (void)state;
    /* ranks 1..5 = hit, miss, hit, miss, miss; R = 3 relevant items */
    const uint8_t h[] = {1, 0, 1, 0, 0};
    /* K = 5: 2 hits. P = 2/5, R = 2/3, F1 = 2 (0.4)(2/3) / (0.4 + 2/3) = 0.5 */
    assert_near(metric_precision_at_k(h, 5, 5), 0.4, TOL);
    assert_near(metric_recall_at_k(h, 5, 3, 5), 2.0 / 3.0, TOL);
    assert_near(metric_f1_at_k(h, 5, 3, 5), 0.5, TOL);
    /* DCG = 1/log2 2 + 1/log2 4 = 1.5; IDCG (min(5,3) = 3 hits) =
     * 1 + 1/log2 3 + 1/2 = 2.1309297535714573; NDCG = 0.7039180890341348 */
    assert_near(metric_ndcg_at_k(h, 5, 3, 5), 1.5 / (1.5 + 1.0 / log2(3.0)), TOL);
    assert_near(metric_ndcg_at_k(h, 5, 3, 5), 0.7039180890341348, 1e-12);
    /* AP = (1/1 + 2/3) / min(5, 3) = 5/9 */
    assert_near(metric_ap_at_k(h, 5, 3, 5), 5.0 / 9.0, TOL);
    assert_near(metric_rr_at_k(h, 5, 5), 1.0, TOL);
    assert_near(metric_hr_at_k(h, 5, 5), 1.0, TOL);
    /* K = 2: 1 hit. P = 1/2, R = 1/3, F1 = 2 (1/2)(1/3) / (5/6) = 0.4,
     * NDCG = 1 / (1 + 1/log2 3) = 0.6131471927654584, AP = 1 / min(2,3) = 0.5 */
    assert_near(metric_precision_at_k(h, 5, 2), 0.5, TOL);
    assert_near(metric_recall_at_k(h, 5, 3, 2), 1.0 / 3.0, TOL);
    assert_near(metric_f1_at_k(h, 5, 3, 2), 0.4, TOL);
    assert_near(metric_ndcg_at_k(h, 5, 3, 2), 0.6131471927654584, 1e-12);
    assert_near(metric_ap_at_k(h, 5, 3, 2), 0.5, TOL);

    /* one relevant item (fewer than K = 10) at rank 2: P = 1/10, R = 1,
     * NDCG = (1/log2 3) / 1, AP = (1/2) / min(10, 1) = 0.5, RR = 1/2 */
    const uint8_t g[] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_near(metric_precision_at_k(g, 10, 10), 0.1, TOL);
    assert_near(metric_recall_at_k(g, 10, 1, 10), 1.0, TOL);
    assert_near(metric_ndcg_at_k(g, 10, 1, 10), disc(2), TOL);
    assert_near(metric_ap_at_k(g, 10, 1, 10), 0.5, TOL);
    assert_near(metric_rr_at_k(g, 10, 10), 0.5, TOL);
    /* K = 1 misses it */
    assert_near(metric_hr_at_k(g, 10, 1), 0.0, TOL);
    assert_near(metric_rr_at_k(g, 10, 1), 0.0, TOL);

    /* K = 5 past a list of 2 candidates (miss, hit), R = 2: P = 1/5 (still
     * over K), R = 1/2, NDCG = (1/log2 3) / (1 + 1/log2 3) =
     * 0.3868528072345416, AP = (1/2) / min(5, 2) = 0.25 */
    const uint8_t s[] = {0, 1};
    assert_near(metric_precision_at_k(s, 2, 5), 0.2, TOL);
    assert_near(metric_recall_at_k(s, 2, 2, 5), 0.5, TOL);
    assert_near(metric_ndcg_at_k(s, 2, 2, 5), 0.3868528072345416, 1e-12);
    assert_near(metric_ap_at_k(s, 2, 2, 5), 0.25, TOL);

    /* no hits: everything 0 */
    const uint8_t z[] = {0, 0, 0};
    assert_near(metric_precision_at_k(z, 3, 3), 0.0, TOL);
    assert_near(metric_recall_at_k(z, 3, 4, 3), 0.0, TOL);
    assert_near(metric_f1_at_k(z, 3, 4, 3), 0.0, TOL);
    assert_near(metric_ndcg_at_k(z, 3, 4, 3), 0.0, TOL);
    assert_near(metric_ap_at_k(z, 3, 4, 3), 0.0, TOL);
    assert_near(metric_rr_at_k(z, 3, 3), 0.0, TOL);
    assert_near(metric_hr_at_k(z, 3, 3), 0.0, TOL);
}

/* metrics_at_ks (one pass, several K) equals the definitions on random
 * lists. */
static void test_metrics_at_ks_vs_definitions(void **state)
{
    (void)state;
    RsRng r;
    rng_seed(&r, 7);
    uint8_t hits[60];
    const size_t ks[] = {20, 1, 3, 5, 10, 50, 100};
    MetricsAtK out[RS_ARRAY_LEN(ks)];
    for (int t = 0; t < 2000; t++) {
        size_t n = (size_t)rng_below(&r, 61), nh = 0;
        for (size_t k = 0; k < n; k++)
            nh += hits[k] = rng_uniform(&r) < 0.3;
        size_t n_rel = nh + (size_t)rng_below(&r, 5);
        metrics_at_ks(hits, n, n_rel, ks, RS_ARRAY_LEN(ks), out);
        for (size_t j = 0; j < RS_ARRAY_LEN(ks); j++) {
            size_t K = ks[j];
            assert_near(out[j].precision, metric_precision_at_k(hits, n, K), 1e-15);
            assert_near(out[j].recall, metric_recall_at_k(hits, n, n_rel, K), 1e-15);
            assert_near(out[j].f1, metric_f1_at_k(hits, n, n_rel, K), 1e-15);
            assert_near(out[j].ndcg, metric_ndcg_at_k(hits, n, n_rel, K), 1e-15);
            assert_near(out[j].ap, metric_ap_at_k(hits, n, n_rel, K), 1e-15);
            assert_near(out[j].rr, metric_rr_at_k(hits, n, K), 1e-15);
            assert_near(out[j].hr, metric_hr_at_k(hits, n, K), 1e-15);
            assert_true(out[j].ndcg <= 1.0 + 1e-12 && out[j].ap <= 1.0 + 1e-12);
        }
    }
}

static void test_auc(void **state)
{
    (void)state;
    /* relevant {0.9, 0.5} vs non-relevant {0.7, 0.5, 0.1}: 0.9 beats all 3;
     * 0.5 loses to 0.7, ties 0.5 (1/2), beats 0.1 -> 3 + 1.5 = 4.5 of 6 */
    float rel[] = {0.9f, 0.5f};
    const float neg[] = {0.7f, 0.5f, 0.1f};
    assert_near(metric_auc_naive(rel, 2, neg, 3), 0.75, TOL);
    assert_near(metric_auc(rel, 2, neg, 3), 0.75, TOL);
    /* NaN counts as -inf: ties with -inf, loses to everything else */
    float rn[] = {NAN};
    const float nn[] = {-INFINITY, 0.0f};
    assert_near(metric_auc(rn, 1, nn, 2), 0.25, TOL);
    assert_true(isnan(metric_auc(rel, 2, neg, 0)));

    /* the binary-search version equals the all-pairs count, ties included */
    RsRng r;
    rng_seed(&r, 3);
    float a[40], b[200];
    for (int t = 0; t < 500; t++) {
        size_t na = 1 + (size_t)rng_below(&r, 40), nb = 1 + (size_t)rng_below(&r, 200);
        for (size_t k = 0; k < na; k++) /* NaN counts as -inf */
            a[k] = k % 13 == 5 ? NAN : (float)rng_below(&r, 8);
        for (size_t k = 0; k < nb; k++)
            b[k] = k % 17 == 0 ? -INFINITY : k % 23 == 7 ? NAN : (float)rng_below(&r, 8);
        double naive = metric_auc_naive(a, na, b, nb);
        assert_near(metric_auc(a, na, b, nb), naive, 1e-15);
    }
}

static void test_gini(void **state)
{
    (void)state;
    /* sorted 0,0,2,2, weights 2j - I - 1 = -3,-1,1,3: (2 + 6) / ((4-1) * 4) = 2/3 */
    uint32_t c1[] = {2, 0, 2, 0};
    assert_near(metric_gini(c1, 4), 2.0 / 3.0, TOL);
    /* all on one item: 3 * 4 / (3 * 4) = 1 */
    uint32_t c2[] = {0, 4, 0, 0};
    assert_near(metric_gini(c2, 4), 1.0, TOL);
    uint32_t c3[] = {5, 5, 5};
    assert_near(metric_gini(c3, 3), 0.0, TOL);
    uint32_t c4[] = {0, 0};
    assert_true(isnan(metric_gini(c4, 2)));
}

static void test_parse_options(void **state)
{
    (void)state;
    EvalOptions o;
    RsErr err;
    EvalProtocol p;
    eval_options_default(&o);
    assert_int_equal(o.protocol, EVAL_FULL);
    assert_int_equal(o.negatives, 99);
    assert_true(isnan(o.relevance_threshold));
    assert_int_equal(eval_parse_ks(" 20, 5,10,5 ", &o, &err), RS_OK);
    assert_int_equal(o.nks, 3);
    assert_int_equal(o.ks[0], 5);
    assert_int_equal(o.ks[1], 10);
    assert_int_equal(o.ks[2], 20);
    assert_int_equal(eval_parse_ks("0", &o, &err), RS_EUSAGE);
    assert_int_equal(eval_parse_ks("", &o, &err), RS_EUSAGE);
    assert_int_equal(eval_parse_ks("5,,6", &o, &err), RS_EUSAGE);
    assert_int_equal(eval_parse_ks("5x", &o, &err), RS_EUSAGE);
    assert_int_equal(eval_parse_ks("-3", &o, &err), RS_EUSAGE);
    assert_int_equal(eval_protocol_parse("sampled", &p, &err), RS_OK);
    assert_int_equal(p, EVAL_SAMPLED);
    assert_string_equal(eval_protocol_name(p), "sampled");
    assert_int_equal(eval_protocol_parse("loo", &p, &err), RS_EUSAGE);
}

/* ---- a fake model: fixed scores from a table or a hash ------------------------------ */

typedef struct Fake {
    const float *scores; /* (U, I), or NULL: hashed scores with ties */
    float pred;          /* predict() answer */
    long fail_user;      /* score() fails for this user (-1: never) */
} Fake;

static float hashed_score(uint32_t u, uint32_t i)
{
    uint64_t x = ((uint64_t)u << 32 | i) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (float)(x % 50); /* 50 levels: many ties */
}

static int fake_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                      RsErr *err)
{
    const Fake *f = m->state;
    (void)train;
    if ((long)u == f->fail_user)
        return rs_err_set(err, RS_EIO, "fake failure for user %u", u);
    for (size_t i = 0; i < m->I; i++)
        scores[i] = f->scores ? f->scores[(size_t)u * m->I + i] : hashed_score(u, (uint32_t)i);
    return RS_OK;
}

static int fake_predict(const RsModel *m, const RsMatrix *train, uint32_t u, uint32_t i,
                        float *out)
{
    const Fake *f = m->state;
    (void)train;
    (void)u;
    (void)i;
    *out = f->pred;
    return 0;
}

static const ModelClass fake_class = {
    .name = "fake",
    .title = "Fake: fixed scores",
    .flags = MODEL_RATINGS,
    .score = fake_score,
    .predict = fake_predict,
};

static const ModelClass fake_class_norating = {
    .name = "fake",
    .title = "Fake: fixed scores",
    .score = fake_score,
};

static RsModel *fake_model(const ModelClass *cls, size_t U, size_t I, Fake *f)
{
    RsModel *m;
    RsErr err;
    assert_int_equal(model_new(cls, U, I, NULL, 0, &m, &err), RS_OK);
    m->state = f;
    return m;
}

/* triples (u, i, rating) -> matrix */
static RsMatrix *matrix_of(size_t U, size_t I, const float (*t)[3], size_t n)
{
    RsTriplet *tr = calloc(n ? n : 1, sizeof *tr);
    assert_non_null(tr);
    for (size_t k = 0; k < n; k++)
        tr[k] = (RsTriplet){(uint32_t)t[k][0], (uint32_t)t[k][1], t[k][2], RS_NO_TS};
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, tr, n, &m, &err), RS_OK);
    free(tr);
    return m;
}

static double metric(const EvalResult *r, const char *name)
{
    const EvalMetric *m = eval_result_find(r, name);
    if (!m)
        print_error("metric %s missing\n", name);
    assert_non_null(m);
    return m->value;
}

static double per_user(const EvalResult *r, const char *name, size_t j)
{
    const EvalMetric *m = eval_result_find(r, name);
    assert_non_null(m);
    assert_non_null(m->per_user);
    assert_true(j < r->n_users);
    return m->per_user[j];
}

/* The tiny world of the end-to-end tests: 4 users, 6 items.
 *   user 0: train {0}, test {1 (rating 5), 3 (rating 2)}
 *   user 1: train {1, 2}, test {4 (rating 1)}
 *   user 2: train {0, 1, 2}, no test       -> not evaluated
 *   user 3: train {5}, test {5 (rating 4)} -> its test item is not a
 *           candidate: not evaluated (but its rating counts for RMSE)
 * pop (training users per item) = 2, 2, 2, 0, 0, 1; U_train = 4. */
#define TU 4
#define TI 6
static const float tiny_train[][3] = {{0, 0, 4}, {1, 1, 3}, {1, 2, 5}, {2, 0, 1},
                                      {2, 1, 2}, {2, 2, 3}, {3, 5, 4}};
static const float tiny_test[][3] = {{0, 1, 5}, {0, 3, 2}, {1, 4, 1}, {3, 5, 4}};
static const float tiny_scores[TU * TI] = {
    /* user 0: ranking of the candidates 1..5: 2 (7), 1 (5), 3 (5: tie with
     * 1, the larger index goes second), 4 (1), 5 (0) -> hits at ranks 2, 3 */
    9, 5, 7, 5, 1, 0,
    /* user 1: candidates 0, 3, 4, 5 ranked 0 (3), 3 (2), 5 (1), 4 (-1) -> its
     * only relevant item 4 at rank 4 */
    3, 9, 9, 2, -1, 1,
    0, 0, 0, 0, 0, 0,
    1, 1, 1, 1, 1, 1,
};

static const float *tiny_vec(void *ctx, uint32_t item)
{
    /* 2-d vectors: 0 (1,0), 1 (0,1), 2 (1,0), 3 (1,1), 4 none, 5 (0,0) */
    static const float v[TI][2] = {{1, 0}, {0, 1}, {1, 0}, {1, 1}, {0, 0}, {0, 0}};
    (void)ctx;
    return item == 4 ? NULL : v[item];
}

static RsCatalog *tiny_catalog(void)
{
    static const char *const g[TI] = {"Action|Comedy", "Comedy|Drama", " Action | Drama|Drama",
                                      "Drama", "(no genres listed)", "Action"};
    RsCatalog *c;
    RsErr err;
    assert_int_equal(rs_catalog_new(TU, TI, &c, &err), RS_OK);
    for (size_t i = 0; i < TI; i++) {
        c->item_genres[i] = strdup(g[i]);
        assert_non_null(c->item_genres[i]);
    }
    return c;
}

static void test_eval_full_tiny(void **state)
{
    (void)state;
    RsMatrix *train = matrix_of(TU, TI, tiny_train, RS_ARRAY_LEN(tiny_train));
    RsMatrix *test = matrix_of(TU, TI, tiny_test, RS_ARRAY_LEN(tiny_test));
    RsCatalog *cat = tiny_catalog();
    Fake f = {tiny_scores, 3.0f, -1};
    RsModel *m = fake_model(&fake_class, TU, TI, &f);
    EvalOptions o;
    eval_options_default(&o);
    o.ks[0] = 10; /* 10 > the 5 and 4 candidates */
    o.ks[1] = 2;
    o.ks[2] = 5;
    o.nks = 3;
    o.nthreads = 2;
    o.item_vec = tiny_vec;
    o.item_vec_dim = 2;
    EvalResult *r;
    RsErr err;
    assert_int_equal(eval_model(m, train, test, cat, &o, &r, &err), RS_OK);
    assert_int_equal(r->n_users, 2);
    assert_int_equal(r->users[0], 0);
    assert_int_equal(r->users[1], 1);
    assert_int_equal(r->nks, 3);
    assert_int_equal(r->ks[0], 2); /* sorted */

    /* user 0: hits = 0,1,1,0,0, R = 2.
     *   @2: P 1/2, R 1/2, F1 1/2, NDCG (1/log2 3) / (1 + 1/log2 3) =
     *       0.38685280723454158, AP (1/2) / 2 = 0.25, RR 1/2, HR 1
     *   @5: P 2/5, R 1, F1 2(0.4)/1.4 = 4/7, NDCG (1/log2 3 + 1/2) /
     *       (1 + 1/log2 3) = 0.69342640361727081, AP (1/2 + 2/3) / 2 = 7/12
     *   @10: P 2/10, the rest as @5
     *   AUC: relevant scores {5, 5} vs {7, 1, 0}: each beats 2 of 3 -> 4/6
     * user 1: hit at rank 4, R = 1.
     *   @2: all 0.  @5: P 1/5, R 1, F1 2(0.2)/1.2 = 1/3, NDCG 1/log2 5,
     *   AP 1/4, RR 1/4, HR 1.  @10: P 1/10, F1 2(0.1)/1.1 = 2/11.
     *   AUC: -1 vs {3, 2, 1} -> 0 */
    const double n0_2 = disc(2) / (1 + disc(2)), n0_5 = (disc(2) + 0.5) / (1 + disc(2));
    assert_near(per_user(r, "precision@2", 0), 0.5, TOL);
    assert_near(per_user(r, "precision@2", 1), 0.0, TOL);
    assert_near(metric(r, "precision@2"), 0.25, TOL);
    assert_near(metric(r, "recall@2"), 0.25, TOL);
    assert_near(metric(r, "f1@2"), 0.25, TOL);
    assert_near(per_user(r, "ndcg@2", 0), 0.38685280723454158, 1e-12);
    assert_near(metric(r, "ndcg@2"), n0_2 / 2, TOL);
    assert_near(metric(r, "map@2"), 0.125, TOL);
    assert_near(metric(r, "mrr@2"), 0.25, TOL);
    assert_near(metric(r, "hr@2"), 0.5, TOL);

    assert_near(metric(r, "precision@5"), (0.4 + 0.2) / 2, TOL);
    assert_near(metric(r, "recall@5"), 1.0, TOL);
    assert_near(metric(r, "f1@5"), (4.0 / 7 + 1.0 / 3) / 2, TOL);
    assert_near(per_user(r, "ndcg@5", 0), 0.69342640361727081, 1e-12);
    assert_near(metric(r, "ndcg@5"), (n0_5 + disc(4)) / 2, TOL);
    assert_near(metric(r, "map@5"), (7.0 / 12 + 0.25) / 2, TOL);
    assert_near(metric(r, "mrr@5"), (0.5 + 0.25) / 2, TOL);
    assert_near(metric(r, "hr@5"), 1.0, TOL);

    assert_near(metric(r, "precision@10"), (0.2 + 0.1) / 2, TOL);
    assert_near(metric(r, "f1@10"), (2 * 0.2 / 1.2 + 2.0 / 11) / 2, TOL);
    assert_near(metric(r, "ndcg@10"), (n0_5 + disc(4)) / 2, TOL);
    assert_near(metric(r, "map@10"), (7.0 / 12 + 0.25) / 2, TOL);

    assert_near(per_user(r, "auc", 0), 4.0 / 6, TOL);
    assert_near(per_user(r, "auc", 1), 0.0, TOL);
    assert_near(metric(r, "auc"), 1.0 / 3, TOL);

    /* Top-2 lists: user 0 [2, 1], user 1 [0, 3].
     * coverage@2 = |{0,1,2,3}| / 6 = 2/3; counts 1,1,1,1,0,0 sorted
     * 0,0,1,1,1,1 with weights -5,-3,-1,1,3,5: gini@2 = 8 / (5 * 4) = 0.4.
     * novelty@2: user 0 log2(4/2) twice = 1; user 1 log2(4/2) = 1 and
     * log2(4/max(0,1)) = 2 -> 1.5; mean 1.25.  arp@2: (2 + 2)/2 = 2 and
     * (2 + 0)/2 = 1 -> 1.5.
     * diversity_genre@2: {Action, Drama} vs {Comedy, Drama} = 1 - 1/3 and
     * {Action, Comedy} vs {Drama} = 1 -> 5/6.
     * diversity_emb@2: cos((1,0),(0,1)) = 0 -> 1; cos((1,0),(1,1)) = 1/sqrt 2
     * -> 1 - 1/sqrt 2; mean 0.64644660940672627. */
    assert_near(metric(r, "coverage@2"), 2.0 / 3, TOL);
    assert_near(metric(r, "gini@2"), 0.4, TOL);
    assert_null(eval_result_find(r, "coverage@2")->per_user);
    assert_null(eval_result_find(r, "gini@2")->per_user);
    assert_near(metric(r, "novelty@2"), 1.25, TOL);
    assert_near(metric(r, "arp@2"), 1.5, TOL);
    assert_near(metric(r, "diversity_genre@2"), 5.0 / 6, TOL);
    assert_near(metric(r, "diversity_emb@2"), 0.64644660940672627, 1e-12);
    /* Top-5 lists: user 0 [2,1,3,4,5], user 1 [0,3,5,4]: all 6 items ->
     * coverage 1; counts 1,1,1,2,2,2: (-5-3-1+2+6+10) / (5 * 9) = 0.2.
     * diversity_genre@5 of user 1: item 4 has no genres; pairs (0,3) 1,
     * (0,5) 1 - 1/2, (3,5) 1 -> 2.5 / 3 */
    assert_near(metric(r, "coverage@5"), 1.0, TOL);
    assert_near(metric(r, "gini@5"), 0.2, TOL);
    assert_near(per_user(r, "diversity_genre@5", 1), 2.5 / 3, TOL);

    /* RMSE / MAE over all 4 rated test entries (user 3's too), prediction 3:
     * errors -2, 1, 2, -1 -> RMSE sqrt(10/4), MAE 6/4. Per user: user 0
     * sqrt(5/2), 3/2; user 1: 2, 2. */
    assert_int_equal(r->n_rated, 4);
    assert_near(metric(r, "rmse"), sqrt(2.5), TOL);
    assert_near(metric(r, "mae"), 1.5, TOL);
    assert_near(per_user(r, "rmse", 0), sqrt(2.5), TOL);
    assert_near(per_user(r, "mae", 1), 2.0, TOL);

    /* the documented order: precision@2,@5,@10, recall@2, ... */
    assert_string_equal(r->metrics[0].name, "precision@2");
    assert_string_equal(r->metrics[3].name, "recall@2");
    assert_string_equal(r->metrics[21].name, "auc");
    assert_string_equal(r->metrics[r->n_metrics - 1].name, "mae");
    assert_int_equal(r->n_metrics, 7 * 3 + 1 + 6 * 3 + 2);
    assert_null(eval_result_find(r, "ndcg@3"));
    eval_result_free(r);

    /* relevance threshold 5 (rating >= 5, the boundary included): user 0's
     * only relevant item is 1 (rating 5), user 1 (rating 1) is skipped.  @2: hit at rank 2 of 1 relevant:
     * P 1/2, R 1, NDCG 1/log2 3, AP 1/2. AUC: 5 vs {7, 5, 1, 0} = 2.5 / 4 */
    o.relevance_threshold = 5.0;
    assert_int_equal(eval_model(m, train, test, cat, &o, &r, &err), RS_OK);
    assert_int_equal(r->n_users, 1);
    assert_int_equal(r->users[0], 0);
    assert_near(metric(r, "precision@2"), 0.5, TOL);
    assert_near(metric(r, "recall@2"), 1.0, TOL);
    assert_near(metric(r, "ndcg@2"), disc(2), TOL);
    assert_near(metric(r, "map@2"), 0.5, TOL);
    assert_near(metric(r, "auc"), 0.625, TOL);
    assert_near(metric(r, "rmse"), sqrt(2.5), TOL); /* all rated entries still */
    eval_result_free(r);

    /* no catalogue, no vectors, no ratings: those metrics are absent */
    model_free(m);
    m = fake_model(&fake_class_norating, TU, TI, &f);
    assert_int_equal(eval_model(m, train, test, NULL, NULL, &r, &err), RS_OK);
    assert_null(eval_result_find(r, "diversity_genre@10"));
    assert_null(eval_result_find(r, "diversity_emb@10"));
    assert_null(eval_result_find(r, "rmse"));
    assert_non_null(eval_result_find(r, "ndcg@20")); /* default K 5, 10, 20 */
    assert_non_null(eval_result_find(r, "gini@5"));
    eval_result_free(r);

    model_free(m);
    rs_catalog_free(cat);
    rs_matrix_free(train);
    rs_matrix_free(test);
}

static void test_eval_errors(void **state)
{
    (void)state;
    RsMatrix *train = matrix_of(TU, TI, tiny_train, RS_ARRAY_LEN(tiny_train));
    RsMatrix *test = matrix_of(TU, TI, tiny_test, RS_ARRAY_LEN(tiny_test));
    RsMatrix *other = matrix_of(TU, TI + 1, tiny_test, RS_ARRAY_LEN(tiny_test));
    Fake f = {tiny_scores, 3.0f, 1};
    RsModel *m = fake_model(&fake_class, TU, TI, &f);
    EvalOptions o;
    EvalResult *r = (EvalResult *)&r;
    RsErr err;
    eval_options_default(&o);
    o.nthreads = 1;
    /* the model's own error comes back */
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_EIO);
    assert_null(r);
    assert_non_null(strstr(err.msg, "fake failure"));
    f.fail_user = -1;
    /* shapes */
    assert_int_equal(eval_model(m, train, other, NULL, &o, &r, &err), RS_EUSAGE);
    /* a threshold nobody reaches */
    o.relevance_threshold = 6;
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_EUSAGE);
    o.relevance_threshold = NAN;
    /* a non-finite prediction */
    f.pred = NAN;
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_EPARSE);
    f.pred = 3;
    /* cancelled before starting */
    atomic_int cancel;
    atomic_init(&cancel, 1);
    o.cancel = &cancel;
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_ECANCEL);
    assert_null(r);
    o.cancel = NULL;
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
    rs_matrix_free(other);
}

/* ---- the sampled protocol ------------------------------------------------------------ */

/* 300 items, scores decreasing with the index (s_i = -i) unless set.
 *   user 0: train 0..9, test {299}: the worst item, so it ranks last among
 *           its N + 1 candidates whichever negatives are drawn.
 *   user 1: train 0..9, test {10 (scored +1000), 299}: ranks 1 and N + 1.
 *   user 2: train 0..289, test {290, 291}: only 8 never-interacted items
 *           (292..299) exist. Item 290 scores 0, below the training items
 *           and 291 (+1000) but above 292..299 (negative): rank 1 only if
 *           the negatives come from never-interacted items. Item 291
 *           (+1000) also ranks 1.  */
#define SU 3
#define SI 300

static RsMatrix *sampled_matrix(int test)
{
    float (*t)[3] = calloc(400, sizeof *t);
    size_t n = 0;
    assert_non_null(t);
    if (test) {
        const float te[][3] = {{0, 299, 1}, {1, 10, 1}, {1, 299, 1}, {2, 290, 1}, {2, 291, 1}};
        memcpy(t, te, sizeof te);
        n = RS_ARRAY_LEN(te);
    } else {
        for (int i = 0; i < 10; i++) {
            t[n][0] = 0, t[n][1] = (float)i, t[n++][2] = 1;
            t[n][0] = 1, t[n][1] = (float)i, t[n++][2] = 1;
        }
        for (int i = 0; i < 290; i++)
            t[n][0] = 2, t[n][1] = (float)i, t[n++][2] = 1;
    }
    RsMatrix *m = matrix_of(SU, SI, (const float(*)[3])t, n);
    free(t);
    return m;
}

static void test_eval_sampled(void **state)
{
    (void)state;
    static float sc[SU * SI];
    for (size_t u = 0; u < SU; u++)
        for (size_t i = 0; i < SI; i++)
            sc[u * SI + i] = -(float)i;
    sc[1 * SI + 10] = 1000;
    sc[2 * SI + 290] = 0;
    sc[2 * SI + 291] = 1000;
    for (size_t i = 0; i < 290; i++)
        sc[2 * SI + i] = 500;
    RsMatrix *train = sampled_matrix(0), *test = sampled_matrix(1);
    Fake f = {sc, 0, -1};
    RsModel *m = fake_model(&fake_class_norating, SU, SI, &f);
    EvalOptions o;
    eval_options_default(&o);
    o.protocol = EVAL_SAMPLED;
    o.ks[0] = 10;
    o.ks[1] = 99;
    o.ks[2] = 100;
    o.ks[3] = 200;
    o.nks = 4;
    o.nthreads = 3;
    EvalResult *r;
    RsErr err;
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_OK);
    assert_int_equal(r->n_users, 3);
    assert_int_equal(r->negatives, 99);
    /* user 0: 99 negatives + the held-out item = 100 candidates, rank 100:
     * missed at 99, hit at 100: RR 1/100, NDCG 1/log2 101, P@200 = 1/200,
     * AUC 0 (every negative above) */
    assert_near(per_user(r, "hr@99", 0), 0.0, TOL);
    assert_near(per_user(r, "hr@100", 0), 1.0, TOL);
    assert_near(per_user(r, "mrr@100", 0), 0.01, TOL);
    assert_near(per_user(r, "ndcg@100", 0), disc(100), TOL);
    assert_near(per_user(r, "precision@200", 0), 1.0 / 200, TOL);
    assert_near(per_user(r, "auc", 0), 0.0, TOL);
    /* user 1: ranks 1 and 100, averaged per held-out item:
     * HR@10 (1 + 0)/2, MRR@100 (1 + 1/100)/2, NDCG@100 (1 + 1/log2 101)/2,
     * AUC (1 + 0)/2 */
    assert_near(per_user(r, "hr@10", 1), 0.5, TOL);
    assert_near(per_user(r, "mrr@100", 1), 0.505, TOL);
    assert_near(per_user(r, "ndcg@100", 1), (1 + disc(100)) / 2, TOL);
    assert_near(per_user(r, "recall@10", 1), 0.5, TOL);
    assert_near(per_user(r, "auc", 1), 0.5, TOL);
    /* user 2: both held-out items at rank 1 among 1 + 8 candidates (only
     * never-interacted items are drawn, and fewer than 99 exist) */
    assert_near(per_user(r, "mrr@10", 2), 1.0, TOL);
    assert_near(per_user(r, "precision@10", 2), 0.1, TOL);
    assert_near(per_user(r, "auc", 2), 1.0, TOL);
    eval_result_free(r);

    /* N = 10: user 0's item ranks 11 */
    o.negatives = 10;
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_OK);
    assert_near(per_user(r, "mrr@100", 0), 1.0 / 11, TOL);
    assert_near(per_user(r, "hr@10", 0), 0.0, TOL);
    eval_result_free(r);

    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);

    /* ties: 20 items all scoring 0, one user with no training items and
     * test {10}: all 19 other items are drawn (fewer than 99 exist) and tie
     * with it; the 10 with a smaller index rank first -> rank 11, MRR 1/11,
     * and AUC 1/2 (every pair a tie) */
    static const float z[20];
    const float one_train[][3] = {{1, 0, 1}}, one_test[][3] = {{0, 10, 1}};
    train = matrix_of(2, 20, one_train, 1);
    test = matrix_of(2, 20, one_test, 1);
    Fake fz = {z, 0, -1};
    m = fake_model(&fake_class_norating, 2, 20, &fz);
    o.negatives = 99;
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_OK);
    assert_int_equal(r->n_users, 1);
    assert_near(per_user(r, "mrr@100", 0), 1.0 / 11, TOL);
    assert_near(per_user(r, "hr@10", 0), 0.0, TOL);
    assert_near(per_user(r, "auc", 0), 0.5, TOL);
    eval_result_free(r);
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
}

/* A random world: U users with 5..24 training and 1..6 test items. */
static void random_world(size_t U, size_t I, uint64_t seed, RsMatrix **train, RsMatrix **test)
{
    RsRng r;
    rng_seed(&r, seed);
    float (*tr)[3] = malloc(U * 24 * sizeof *tr), (*te)[3] = malloc(U * 6 * sizeof *te);
    uint8_t *seen = calloc(I, 1);
    size_t ntr = 0, nte = 0;
    assert_true(tr && te && seen);
    for (size_t u = 0; u < U; u++) {
        size_t a = 5 + (size_t)rng_below(&r, 20), b = 1 + (size_t)rng_below(&r, 6);
        for (size_t k = 0; k < a + b; k++) {
            uint32_t i;
            do
                i = (uint32_t)rng_below(&r, I);
            while (seen[i]);
            seen[i] = 1;
            float (*row)[3] = k < a ? &tr[ntr++] : &te[nte++];
            (*row)[0] = (float)u;
            (*row)[1] = (float)i;
            (*row)[2] = (float)(1 + rng_below(&r, 5));
        }
        for (size_t k = 0; k < a; k++)
            seen[(uint32_t)tr[ntr - a + k][1]] = 0;
        for (size_t k = 0; k < b; k++)
            seen[(uint32_t)te[nte - b + k][1]] = 0;
    }
    *train = matrix_of(U, I, (const float(*)[3])tr, ntr);
    *test = matrix_of(U, I, (const float(*)[3])te, nte);
    free(tr);
    free(te);
    free(seen);
}

static int same_results(const EvalResult *a, const EvalResult *b)
{
    if (a->n_users != b->n_users || a->n_metrics != b->n_metrics)
        return 0;
    for (size_t k = 0; k < a->n_metrics; k++) {
        const EvalMetric *x = &a->metrics[k], *y = &b->metrics[k];
        if (strcmp(x->name, y->name) != 0 || memcmp(&x->value, &y->value, sizeof x->value))
            return 0;
        if (x->per_user && memcmp(x->per_user, y->per_user, a->n_users * sizeof(double)))
            return 0;
    }
    return 1;
}

/* Results do not depend on the number of threads; the sampled protocol
 * depends on the seed only. */
static void test_eval_deterministic(void **state)
{
    (void)state;
    RsMatrix *train, *test;
    random_world(600, 400, 11, &train, &test);
    Fake f = {NULL, 3.0f, -1};
    RsModel *m = fake_model(&fake_class, 600, 400, &f);
    EvalOptions o;
    eval_options_default(&o);
    EvalResult *r1, *r4, *r5;
    RsErr err;
    for (int proto = 0; proto < 2; proto++) {
        o.protocol = (EvalProtocol)proto;
        o.seed = 5;
        o.nthreads = 1;
        assert_int_equal(eval_model(m, train, test, NULL, &o, &r1, &err), RS_OK);
        o.nthreads = 4;
        assert_int_equal(eval_model(m, train, test, NULL, &o, &r4, &err), RS_OK);
        assert_int_equal(r1->n_users, 600);
        assert_true(same_results(r1, r4));
        o.seed = 6;
        assert_int_equal(eval_model(m, train, test, NULL, &o, &r5, &err), RS_OK);
        /* another seed draws other negatives (the full protocol has none) */
        assert_int_equal(same_results(r1, r5), proto == EVAL_FULL);
        /* sanity: hashed scores are noise, so AUC is near 1/2 */
        assert_near(metric(r1, "auc"), 0.5, 0.05);
        eval_result_free(r1);
        eval_result_free(r4);
        eval_result_free(r5);
    }
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
}

static int stop_at_half(void *ctx, double fraction, const char *phase)
{
    (void)phase;
    (*(int *)ctx)++;
    return fraction >= 0.5;
}

static void test_eval_progress_cancel(void **state)
{
    (void)state;
    RsMatrix *train, *test;
    random_world(300, 200, 12, &train, &test);
    Fake f = {NULL, 3.0f, -1};
    RsModel *m = fake_model(&fake_class, 300, 200, &f);
    EvalOptions o;
    eval_options_default(&o);
    o.nthreads = 2;
    o.progress = stop_at_half;
    int calls = 0;
    o.progress_ctx = &calls;
    EvalResult *r;
    RsErr err;
    assert_int_equal(eval_model(m, train, test, NULL, &o, &r, &err), RS_ECANCEL);
    assert_null(r);
    assert_true(calls >= 1);
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
}

/* ---- statistics ---------------------------------------------------------------------- */

static void test_wilcoxon_scipy(void **state)
{
    (void)state;
    StatsWilcoxon w;
    RsErr err;
    /* Hollander & Wolfe (1999), Example 3.1 (Hamilton depression scale,
     * before x / after y); scipy 1.10.1
     * stats.wilcoxon(y, x, method='exact') -> statistic 5.0, pvalue 0.0390625.
     * The NaN pair at the end is left out. */
    const double x[] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30, NAN};
    const double y[] = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29, 1.0};
    assert_int_equal(stats_wilcoxon(x, y, 10, &w, &err), RS_OK);
    assert_int_equal(w.n, 9);
    assert_int_equal(w.n_nonzero, 9);
    assert_true(w.exact);
    assert_near(w.w_plus, 5.0, TOL);
    assert_near(w.w_minus, 40.0, TOL);
    assert_near(w.p, 0.0390625, 1e-15);

    /* n = 12, no ties: a = 0.1 k, b = a + 0.013((7k mod 12) + 1) * (k mod 3 ?
     * 1 : -1); scipy 1.10.1 stats.wilcoxon(b, a, method='exact') ->
     * statistic 22.0, pvalue 0.20361328125 */
    double a[40], b[40];
    for (int k = 0; k < 12; k++) {
        a[k] = 0.1 * k;
        b[k] = 0.1 * k + (0.013 * ((k * 7) % 12 + 1)) * (k % 3 ? 1 : -1);
    }
    assert_int_equal(stats_wilcoxon(a, b, 12, &w, &err), RS_OK);
    assert_true(w.exact);
    assert_near(fmin(w.w_plus, w.w_minus), 22.0, TOL);
    assert_near(w.p, 0.20361328125, 1e-15);

    /* n = 40 with 3 zero differences and many ties: a = ((37k) mod 11)/10,
     * b = ((53k + 3) mod 13)/10; scipy 1.10.1 stats.wilcoxon(b, a,
     * method='approx', correction=True, zero_method='wilcox') ->
     * statistic 267.0, pvalue 0.2047700881590767 */
    for (int k = 0; k < 40; k++) {
        a[k] = (double)((k * 37) % 11) / 10;
        b[k] = (double)((k * 53 + 3) % 13) / 10;
    }
    assert_int_equal(stats_wilcoxon(a, b, 40, &w, &err), RS_OK);
    assert_false(w.exact);
    assert_int_equal(w.n_nonzero, 37);
    assert_near(fmin(w.w_plus, w.w_minus), 267.0, TOL);
    assert_near(w.p, 0.2047700881590767, 1e-12);

    /* small n with ties -> normal approximation. d = 1,2,0,2,-1,3,2,-1:
     * zero dropped, |d| ranks: 1s -> 2, 2s -> 5, 3 -> 7; W+ = 2+5+5+7+5 = 24,
     * W- = 4. Var = 7*8*15/24 - (24 + 24)/48 = 34,
     * z = (|24 - 14| - 1/2) / sqrt 34 = 1.6292, p = 0.1033;
     * scipy 1.10.1 (method='approx'): pvalue 0.10326295042870087 */
    const double c[] = {1, 2, 3, 4, 5, 6, 7, 8}, e[] = {2, 4, 3, 6, 4, 9, 9, 7};
    assert_int_equal(stats_wilcoxon(c, e, 8, &w, &err), RS_OK);
    assert_false(w.exact);
    assert_near(w.w_plus, 24.0, TOL);
    assert_near(w.w_minus, 4.0, TOL);
    assert_near(w.z, 9.5 / sqrt(34.0), 1e-12);
    assert_near(w.p, 0.10326295042870087, 1e-12);

    /* identical runs: p = 1; nothing usable: RS_EUSAGE */
    assert_int_equal(stats_wilcoxon(c, c, 8, &w, &err), RS_OK);
    assert_near(w.p, 1.0, TOL);
    const double nan1[] = {NAN};
    assert_int_equal(stats_wilcoxon(nan1, c, 1, &w, &err), RS_EUSAGE);
}

static void test_bootstrap(void **state)
{
    (void)state;
    enum { N = 2000 };
    static double a[N], b[N];
    RsRng r;
    rng_seed(&r, 99);
    /* b = a + 0.05 + noise(sd 0.1): the true mean difference is 0.05 */
    for (int k = 0; k < N; k++) {
        a[k] = rng_uniform(&r);
        b[k] = a[k] + 0.05 + 0.1 * rng_normal(&r);
    }
    StatsBootstrap s1, s2, s3;
    RsErr err;
    assert_int_equal(stats_paired_bootstrap(a, b, N, 2000, 0.95, 1, &s1, &err), RS_OK);
    assert_int_equal(s1.n, N);
    assert_true(s1.lo < 0.05 && 0.05 < s1.hi);
    assert_true(s1.lo < s1.mean_diff && s1.mean_diff < s1.hi);
    /* closed form: the mean of N differences has sd s/sqrt(N); the 95%
     * interval is about mean +- 1.96 s/sqrt(N) */
    double mean = 0, ss = 0;
    for (int k = 0; k < N; k++)
        mean += b[k] - a[k];
    mean /= N;
    for (int k = 0; k < N; k++)
        ss += (b[k] - a[k] - mean) * (b[k] - a[k] - mean);
    double half = 1.959963984540054 * sqrt(ss / N) / sqrt((double)N);
    assert_near(s1.mean_diff, mean, 1e-12);
    assert_near(s1.hi - s1.lo, 2 * half, 0.1 * 2 * half);
    assert_near((s1.lo + s1.hi) / 2, mean, 0.1 * half);
    /* deterministic for a seed, another seed moves the ends a little */
    assert_int_equal(stats_paired_bootstrap(a, b, N, 2000, 0.95, 1, &s2, &err), RS_OK);
    assert_true(s1.lo == s2.lo && s1.hi == s2.hi);
    assert_int_equal(stats_paired_bootstrap(a, b, N, 2000, 0.95, 2, &s3, &err), RS_OK);
    assert_true(s1.lo != s3.lo || s1.hi != s3.hi);
    /* a constant difference: a degenerate interval at it */
    for (int k = 0; k < 10; k++)
        b[k] = a[k] + 0.25;
    assert_int_equal(stats_paired_bootstrap(a, b, 10, 100, 0.9, 3, &s1, &err), RS_OK);
    assert_near(s1.lo, 0.25, 1e-12);
    assert_near(s1.hi, 0.25, 1e-12);
    /* bad arguments */
    assert_int_equal(stats_paired_bootstrap(a, b, 10, 100, 1.0, 3, &s1, &err), RS_EUSAGE);
    assert_int_equal(stats_paired_bootstrap(a, b, 10, 0, 0.9, 3, &s1, &err), RS_EUSAGE);
    assert_int_equal(stats_paired_bootstrap(a, b, 0, 100, 0.9, 3, &s1, &err), RS_EUSAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_metrics_hand),
        cmocka_unit_test(test_metrics_at_ks_vs_definitions),
        cmocka_unit_test(test_auc),
        cmocka_unit_test(test_gini),
        cmocka_unit_test(test_parse_options),
        cmocka_unit_test(test_eval_full_tiny),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_eval_sampled),
        cmocka_unit_test(test_eval_deterministic),
        cmocka_unit_test(test_eval_progress_cancel),
        cmocka_unit_test(test_wilcoxon_scipy),
        cmocka_unit_test(test_bootstrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
