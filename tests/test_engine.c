/*
 * test_engine.c - the engine core: matrix building, top-K against the naive
 * sort, parameters, the model blob container (and its damage detection),
 * MostPopular, splits, background jobs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "job.h"
#include "model.h"
#include "pop.h"
#include "rng.h"
#include "seq.h"
#include "split.h"
#include "testutil.h"

/* A 4 x 5 matrix:
 *   u0: i0 (5, t=10), i2 (3, t=30), i4 (4, t=20)
 *   u1: i0 (2, t=5),  i1 (1, t=7)
 *   u2: i0 (4, t=1),  i2 (5, t=2), i3 (1, t=3)
 *   u3: i0 (3, t=40)
 * item counts: i0 4, i1 1, i2 2, i3 1, i4 1 */
static RsMatrix *tiny(void)
{
    const RsTriplet t[] = {
        {0, 4, 4, 20}, {0, 0, 5, 10}, {0, 2, 3, 30}, {1, 1, 1, 7}, {1, 0, 2, 5},
        {2, 3, 1, 3},  {2, 2, 5, 2},  {2, 0, 4, 1},  {3, 0, 3, 40},
        {1, 1, 9, 8}, /* repeats (u1, i1): the last given wins */
    };
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(4, 5, t, RS_ARRAY_LEN(t), &m, &err), RS_OK);
    return m;
}

static void test_matrix_build(void **state)
{
    (void)state;
    RsMatrix *m = tiny();
    assert_int_equal(m->NNZ, 9);
    assert_int_equal(rs_user_count(m, 0), 3);
    /* rows sorted by item */
    assert_int_equal(m->u_items[m->u_ptr[0]], 0);
    assert_int_equal(m->u_items[m->u_ptr[0] + 1], 2);
    assert_int_equal(m->u_items[m->u_ptr[0] + 2], 4);
    /* the repeat kept the last value */
    size_t k = rs_matrix_find(m, 1, 1);
    assert_true(k != (size_t)-1 && m->u_rating[k] == 9 && m->u_ts[k] == 8);
    assert_true(rs_matrix_find(m, 1, 3) == (size_t)-1);
    /* CSC: item 0 has users 0..3 in order, pointing back into CSR */
    assert_int_equal(rs_item_count(m, 0), 4);
    for (size_t j = 0; j < 4; j++) {
        size_t pos = m->i_ptr[0] + j;
        assert_int_equal(m->i_users[pos], j);
        assert_int_equal(m->u_items[m->i_to_u[pos]], 0);
        assert_true(m->i_rating[pos] == m->u_rating[m->i_to_u[pos]]);
    }
    assert_true(fabs(rs_matrix_mean_rating(m) - (5 + 3 + 4 + 2 + 9 + 4 + 5 + 1 + 3) / 9.0) < 1e-6);
    RsMatrix *bad;
    RsErr err;
    RsTriplet out_of_range = {4, 0, 1, 0};
    assert_int_equal(rs_matrix_build(4, 5, &out_of_range, 1, &bad, &err), RS_EUSAGE);
    rs_matrix_free(m);
}

/* Whether a and b are the same matrix, CSC side included (NANs equal). */
static int same_matrix(const RsMatrix *a, const RsMatrix *b)
{
    if (a->U != b->U || a->I != b->I || a->NNZ != b->NNZ || a->has_ratings != b->has_ratings ||
        memcmp(a->u_ptr, b->u_ptr, (a->U + 1) * sizeof *a->u_ptr) ||
        memcmp(a->i_ptr, b->i_ptr, (a->I + 1) * sizeof *a->i_ptr))
        return 0;
    for (size_t k = 0; k < a->NNZ; k++) {
        if (a->u_items[k] != b->u_items[k] || a->u_ts[k] != b->u_ts[k] ||
            a->i_users[k] != b->i_users[k] || a->i_to_u[k] != b->i_to_u[k])
            return 0;
        if (memcmp(&a->u_rating[k], &b->u_rating[k], sizeof(float)) ||
            memcmp(&a->i_rating[k], &b->i_rating[k], sizeof(float)))
            return 0;
    }
    return 1;
}

/* A copy of m's CSR arrays, for rs_matrix_from_csr. */
static void csr_copy(const RsMatrix *m, size_t **p, uint32_t **it, float **r, int64_t **t)
{
    size_t n = m->NNZ ? m->NNZ : 1;
    *p = malloc((m->U + 1) * sizeof **p);
    *it = malloc(n * sizeof **it);
    *r = malloc(n * sizeof **r);
    *t = malloc(n * sizeof **t);
    assert_true(*p && *it && *r && *t);
    memcpy(*p, m->u_ptr, (m->U + 1) * sizeof **p);
    memcpy(*it, m->u_items, m->NNZ * sizeof **it);
    memcpy(*r, m->u_rating, m->NNZ * sizeof **r);
    memcpy(*t, m->u_ts, m->NNZ * sizeof **t);
}

/* rs_matrix_from_csr with any number of threads builds the CSC side that
 * the one-thread build of rs_matrix_build does, and refuses bad rows. */
static void test_matrix_from_csr(void **state)
{
    (void)state;
    enum { U = 300, I = 97 };
    RsTriplet *t = malloc(U * I * sizeof *t);
    assert_non_null(t);
    RsRng rng;
    rng_seed(&rng, 7);
    size_t n = 0;
    for (uint32_t u = 0; u < U; u++) {
        size_t deg = u % 17 == 3 ? 0 : (size_t)rng_below(&rng, u % 5 == 0 ? I : 12);
        for (uint32_t i = 0; i < I && deg; i++)
            if (rng_below(&rng, I) < deg)
                t[n++] = (RsTriplet){u, i, u % 7 ? (float)(i % 5) : NAN,
                                     u % 11 ? (int64_t)(u * I + i) : RS_NO_TS};
    }
    RsMatrix *ref, *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, t, n, &ref, &err), RS_OK);
    const int threads[] = {1, 2, 3, 8, 1000};
    for (size_t c = 0; c < RS_ARRAY_LEN(threads); c++) {
        size_t *p;
        uint32_t *it;
        float *r;
        int64_t *ts;
        csr_copy(ref, &p, &it, &r, &ts);
        assert_int_equal(rs_matrix_from_csr(U, I, p, it, r, ts, threads[c], &m, &err), RS_OK);
        assert_true(same_matrix(ref, m));
        rs_matrix_free(m);
    }
    /* an empty matrix, and rows out of order or out of range (arrays freed) */
    size_t *p0 = calloc(4, sizeof *p0);
    assert_int_equal(rs_matrix_from_csr(3, 2, p0, malloc(4), malloc(4), malloc(8), 2, &m, &err),
                     RS_OK);
    assert_true(m->NNZ == 0 && m->i_ptr[2] == 0 && !m->has_ratings);
    rs_matrix_free(m);
    for (int bad = 0; bad < 3; bad++) {
        size_t *p;
        uint32_t *it;
        float *r;
        int64_t *ts;
        csr_copy(ref, &p, &it, &r, &ts);
        uint32_t u = 0;
        while (rs_user_count(ref, u) < 2)
            u++;
        size_t k = ref->u_ptr[u] + 1;
        if (bad == 0)
            it[k] = it[k - 1];
        else if (bad == 1)
            it[k] = I;
        else
            p[7] = p[8] + 1;
        assert_int_equal(rs_matrix_from_csr(U, I, p, it, r, ts, 2, &m, &err), RS_EUSAGE);
        assert_null(m);
    }
    rs_matrix_free(ref);
    free(t);
}

/* Sequences follow time, ties and unknown times broken by item index. */
static void test_seqs(void **state)
{
    (void)state;
    RsTriplet t[] = {
        {0, 3, 1, 30}, {0, 1, 1, 10}, {0, 2, 1, 20}, {0, 0, 1, 20},
        {2, 4, 1, RS_NO_TS}, {2, 1, 1, 5}, {2, 3, 1, RS_NO_TS},
    };
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(3, 5, t, 7, &m, &err), RS_OK);
    RsSeqs *s;
    assert_int_equal(rs_seqs_new(m, &s, &err), RS_OK);
    assert_int_equal(rs_seq_len(s, 0), 4);
    assert_int_equal(rs_seq_len(s, 1), 0);
    const uint32_t want0[] = {1, 0, 2, 3}, want2[] = {3, 4, 1};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(rs_seq(s, 0)[k], want0[k]);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(rs_seq(s, 2)[k], want2[k]);
    rs_seqs_free(s);
    rs_matrix_free(m);
}

static void test_topk_matches_naive(void **state)
{
    (void)state;
    RsRng r;
    rng_seed(&r, 7);
    enum { I = 500 };
    float s[I];
    uint8_t ex[I];
    RsRec a[50], b[50];
    for (int trial = 0; trial < 200; trial++) {
        for (int i = 0; i < I; i++) {
            /* few distinct values: many ties */
            s[i] = (float)rng_below(&r, 20);
            if (rng_below(&r, 50) == 0)
                s[i] = -INFINITY;
            ex[i] = rng_below(&r, 10) == 0;
        }
        size_t K = 1 + rng_below(&r, 50);
        size_t na = topk(s, I, trial % 2 ? ex : NULL, K, a);
        size_t nb = topk_naive(s, I, trial % 2 ? ex : NULL, K, b);
        assert_int_equal(na, nb);
        for (size_t k = 0; k < na; k++) {
            assert_int_equal(a[k].item, b[k].item);
            assert_true(a[k].score == b[k].score);
        }
    }
    /* ties go to the smaller index */
    float t[4] = {1, 2, 2, NAN};
    assert_int_equal(topk(t, 4, NULL, 3, a), 3);
    assert_int_equal(a[0].item, 1);
    assert_int_equal(a[1].item, 2);
    assert_int_equal(a[2].item, 0);
}

static const ParamSpec spec[] = {
    {"factors", PARAM_INT, 64, 1, 1024, NULL, "latent factors"},
    {"reg", PARAM_FLOAT, 0.01, 0, 10, NULL, "regularisation"},
    {"sim", PARAM_ENUM, 0, 0, 0, "cosine|pearson|jaccard", "similarity"},
    {"bias", PARAM_BOOL, 1, 0, 1, NULL, "use biases"},
};

static void test_params(void **state)
{
    (void)state;
    ParamValues pv;
    RsErr err = {0};
    const char *ok[] = {"factors=32", "sim=jaccard", "bias=false"};
    assert_int_equal(params_parse(spec, 4, ok, 3, &pv, &err), RS_OK);
    assert_true(pv.v[0] == 32 && pv.v[1] == 0.01 && pv.v[2] == 2 && pv.v[3] == 0);
    char *json = params_to_json(spec, 4, &pv);
    assert_string_equal(json, "{\"factors\":32,\"reg\":0.01,\"sim\":\"jaccard\",\"bias\":false}");
    free(json);
    const char *unknown[] = {"fctors=3"};
    assert_int_equal(params_parse(spec, 4, unknown, 1, &pv, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "unknown parameter 'fctors' (valid: factors, reg, sim, bias)"));
    const char *range[] = {"factors=0"};
    assert_int_equal(params_parse(spec, 4, range, 1, &pv, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "out of range"));
    const char *notint[] = {"factors=2.5"};
    assert_int_equal(params_parse(spec, 4, notint, 1, &pv, &err), RS_EUSAGE);
    const char *badenum[] = {"sim=euclid"};
    assert_int_equal(params_parse(spec, 4, badenum, 1, &pv, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "cosine|pearson|jaccard"));
    const char *junk[] = {"reg=abc"};
    assert_int_equal(params_parse(spec, 4, junk, 1, &pv, &err), RS_EUSAGE);
    const char *noeq[] = {"factors"};
    assert_int_equal(params_parse(spec, 4, noeq, 1, &pv, &err), RS_EUSAGE);
}

static void test_pop_recommend_and_explain(void **state)
{
    (void)state;
    RsMatrix *m = tiny();
    RsModel *p = tu_fit(&model_pop, m, NULL, NULL, 0, 1);
    RsRec rec[5];
    size_t n;
    RsErr err;
    /* u1 has i0, i1: unseen by popularity: i2 (2), then i3, i4 (1 each, by index) */
    assert_int_equal(model_recommend(p, m, 1, 5, 1, rec, &n, &err), RS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rec[0].item, 2);
    assert_int_equal(rec[1].item, 3);
    assert_int_equal(rec[2].item, 4);
    /* without excluding seen items, i0 (4) comes first */
    assert_int_equal(model_recommend(p, m, 1, 2, 0, rec, &n, &err), RS_OK);
    assert_int_equal(rec[0].item, 0);
    RsExplanation e;
    rs_explanation_init(&e);
    assert_int_equal(model_explain(p, m, NULL, 1, NULL, 2, &e, &err), RS_OK);
    assert_true(e.score == 2 && e.additive && e.n == 1 && e.c[0].value == 2);
    assert_int_equal(e.rank, 1);
    rs_explanation_done(&e);
    /* fold-in: a new profile gets the same popular items minus its own */
    uint32_t items[] = {2};
    RsProfile prof = {1, items, NULL};
    assert_int_equal(model_recommend_profile(p, m, &prof, 2, 1, rec, &n, &err), RS_OK);
    assert_int_equal(rec[0].item, 0);
    assert_int_equal(rec[1].item, 1);
    model_free(p);
    rs_matrix_free(m);
}

static void test_blob_round_trip_and_damage(void **state)
{
    (void)state;
    RsMatrix *m = tiny();
    RsModel *p = tu_fit(&model_pop, m, NULL, NULL, 0, 42);
    RsBlob b;
    RsErr err = {0};
    assert_int_equal(model_save(p, &b, &err), RS_OK);
    RsModel *q;
    assert_int_equal(model_load(b.data, b.len, 4, 5, &q, &err), RS_OK);
    assert_int_equal(q->seed, 42);
    float s1[5], s2[5];
    p->cls->score(p, m, 0, s1, &err);
    q->cls->score(q, m, 0, s2, &err);
    assert_memory_equal(s1, s2, sizeof s1);
    model_free(q);
    /* every truncation is an error */
    for (size_t len = 0; len < b.len; len++) {
        int rc = model_load(b.data, len, 4, 5, &q, &err);
        assert_true(rc == RS_EPARSE || rc == RS_EVERSION);
        assert_null(q);
    }
    /* every flipped byte is an error */
    for (size_t k = 0; k < b.len; k++) {
        b.data[k] ^= 0x41;
        assert_int_not_equal(model_load(b.data, b.len, 4, 5, &q, &err), RS_OK);
        b.data[k] ^= 0x41;
    }
    /* the wrong dataset shape */
    assert_int_equal(model_load(b.data, b.len, 4, 6, &q, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "4 users x 5 items"));
    blob_done(&b);
    model_free(p);
    rs_matrix_free(m);
}

static void test_splits(void **state)
{
    (void)state;
    RsMatrix *m = tiny();
    uint8_t a[9], b[9];
    RsErr err;
    SplitParams sp = {.method = SPLIT_RANDOM, .test_frac = 0.34, .seed = 5};
    assert_int_equal(split_make(m, &sp, a, &err), RS_OK);
    assert_int_equal(split_make(m, &sp, b, &err), RS_OK);
    assert_memory_equal(a, b, 9); /* reproducible */
    /* per user: u0 1 of 3, u1 1 of 2, u2 1 of 3, u3 (1 interaction) none */
    size_t per[4] = {0};
    for (size_t u = 0; u < 4; u++)
        for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1]; k++)
            per[u] += a[k] == SPLIT_TEST;
    assert_true(per[0] == 1 && per[1] == 1 && per[2] == 1 && per[3] == 0);
    /* leave-last-one-out: the latest of each user with >= 2 */
    sp.method = SPLIT_LOO;
    assert_int_equal(split_make(m, &sp, a, &err), RS_OK);
    assert_int_equal(a[rs_matrix_find(m, 0, 2)], SPLIT_TEST); /* t=30 */
    assert_int_equal(a[rs_matrix_find(m, 1, 1)], SPLIT_TEST); /* t=8 */
    assert_int_equal(a[rs_matrix_find(m, 2, 3)], SPLIT_TEST); /* t=3 */
    assert_int_equal(a[rs_matrix_find(m, 3, 0)], SPLIT_TRAIN);
    size_t ntr, nte, nva;
    split_counts(a, 9, &ntr, &nte, &nva);
    assert_true(ntr == 6 && nte == 3 && nva == 0);
    /* temporal: no training interaction is later than a test one */
    sp.method = SPLIT_TEMPORAL;
    sp.test_frac = 0.3;
    assert_int_equal(split_make(m, &sp, a, &err), RS_OK);
    int64_t max_train = INT64_MIN, min_test = INT64_MAX;
    for (size_t k = 0; k < 9; k++) {
        if (a[k] == SPLIT_TEST && m->u_ts[k] < min_test)
            min_test = m->u_ts[k];
        if (a[k] == SPLIT_TRAIN && m->u_ts[k] > max_train)
            max_train = m->u_ts[k];
    }
    assert_true(max_train < min_test);
    split_counts(a, 9, &ntr, &nte, &nva);
    assert_int_equal(nte, 3); /* t = 20, 30, 40 */
    /* k folds: sizes within one, every entry in exactly one fold */
    uint8_t f[9];
    assert_int_equal(split_kfold(m, 3, 1, f, &err), RS_OK);
    size_t fc[3] = {0};
    for (size_t k = 0; k < 9; k++)
        fc[f[k]]++;
    assert_true(fc[0] == 3 && fc[1] == 3 && fc[2] == 3);
    assert_int_equal(split_kfold(m, 1, 1, f, &err), RS_EUSAGE);
    sp.method = SPLIT_RANDOM;
    sp.test_frac = 1.5;
    assert_int_equal(split_make(m, &sp, a, &err), RS_EUSAGE);
    rs_matrix_free(m);
}

/* A model whose fit loops until cancelled, reporting a falling loss. */
static int slow_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    (void)m;
    for (int e = 1;; e++) {
        FitProgress p = {.phase = "epoch", .epoch = e, .epochs = 1000000,
                         .fraction = e / 1e6, .loss = 1.0 / e, .valid = NAN};
        int rc = model_fit_tick(ctx, &p, err);
        if (rc)
            return rc;
        usleep(1000);
    }
}

static const ModelClass slow_class = {.name = "slow", .fit = slow_fit};

static void test_jobs(void **state)
{
    (void)state;
    RsMatrix *m = tiny();
    RsErr err;
    RsModel *pm;
    assert_int_equal(model_new(&model_pop, 4, 5, NULL, 1, &pm, &err), RS_OK);
    FitContext ctx = {.train = m, .nthreads = 1};
    RsJob *j;
    assert_int_equal(job_start_fit(pm, &ctx, &j, &err), RS_OK);
    assert_int_equal(job_wait(j, &err), RS_OK);
    RsJobStatus st;
    job_status(j, &st);
    assert_int_equal(st.state, JOB_DONE);
    RsModel *trained = job_take_model(j);
    assert_non_null(trained);
    job_free(j);
    model_free(trained);
    /* cancelling a long fit */
    RsModel *sm;
    assert_int_equal(model_new(&slow_class, 4, 5, NULL, 1, &sm, &err), RS_OK);
    assert_int_equal(job_start_fit(sm, &ctx, &j, &err), RS_OK);
    while (job_loss_history(j, NULL, 0) < 3)
        usleep(1000);
    job_status(j, &st);
    assert_int_equal(st.state, JOB_RUNNING);
    assert_true(st.loss > 0 && st.loss <= 1);
    job_cancel(j);
    assert_int_equal(job_wait(j, &err), RS_ECANCEL);
    job_status(j, &st);
    assert_int_equal(st.state, JOB_CANCELLED);
    assert_null(job_take_model(j));
    double hist[4];
    assert_true(job_loss_history(j, hist, 4) >= 3);
    assert_true(hist[0] == 1.0 && hist[1] == 0.5);
    job_free(j); /* frees the model */
    rs_matrix_free(m);
}

/* Every registered class: fit on a small random dataset (with a catalogue
 * for the content models), save, load, and get the very same scores for
 * every user; fold-in, where offered, scores a profile without error. */
static void test_every_class_round_trip(void **state)
{
    (void)state;
    enum { U = 24, I = 30 };
    RsTriplet t[U * 8];
    size_t n = 0;
    RsRng r;
    rng_seed(&r, 3);
    for (uint32_t u = 0; u < U; u++)
        for (int k = 0; k < 8; k++)
            t[n++] = (RsTriplet){u, (uint32_t)rng_below(&r, I), (float)(1 + rng_below(&r, 5)),
                                 (int64_t)(1000 + n)};
    RsMatrix *m;
    RsCatalog *cat;
    RsErr err = {0};
    assert_int_equal(rs_matrix_build(U, I, t, n, &m, &err), RS_OK);
    assert_int_equal(rs_catalog_new(U, I, &cat, &err), RS_OK);
    static const char *const genres[] = {"Drama", "Comedy", "Action|Drama", "Horror"};
    char buf[64];
    for (size_t i = 0; i < I; i++) {
        snprintf(buf, sizeof buf, "Film number %zu", i);
        cat->item_title[i] = strdup(buf);
        cat->item_genres[i] = strdup(genres[i % 4]);
        snprintf(buf, sizeof buf, "i%zu", i);
        cat->item_ext[i] = strdup(buf);
    }
    for (size_t u = 0; u < U; u++) {
        snprintf(buf, sizeof buf, "u%zu", u);
        cat->user_ext[u] = strdup(buf);
    }
    assert_int_equal(rs_catalog_finish(cat, &err), RS_OK);
    float a[I], b[I];
    for (size_t c = 0; c < model_class_count(); c++) {
        const ModelClass *cls = model_class_at(c);
        RsModel *fit = tu_fit(cls, m, cat, NULL, 0, 11), *back = NULL;
        RsBlob blob;
        if (model_save(fit, &blob, &err) != RS_OK ||
            model_load(blob.data, blob.len, U, I, &back, &err) != RS_OK)
            fail_msg("%s: save/load: %s", cls->name, err.msg);
        assert_ptr_equal(back->cls, cls);
        for (uint32_t u = 0; u < U; u++) {
            assert_int_equal(cls->score(fit, m, u, a, &err), RS_OK);
            assert_int_equal(cls->score(back, m, u, b, &err), RS_OK);
            if (memcmp(a, b, sizeof a) != 0)
                fail_msg("%s: user %u scores differ after save/load", cls->name, u);
        }
        if (cls->score_profile) {
            RsProfile p = rs_profile_of_user(m, 0);
            RsRec rec[5];
            size_t nrec;
            if (model_recommend_profile(back, m, &p, 5, 1, rec, &nrec, &err) != RS_OK)
                fail_msg("%s: fold-in: %s", cls->name, err.msg);
        }
        blob_done(&blob);
        model_free(fit);
        model_free(back);
    }
    rs_catalog_free(cat);
    rs_matrix_free(m);
}

/* MostPopular on MovieLens-100K lands near NDCG@10 0.22 (80/20 split). */
static void test_pop_ml100k(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *all = tu_ml100k_load("u.data");
    RsMatrix *train, *test;
    tu_split_random(all, 0.2, 42, &train, &test);
    RsModel *p = tu_fit(&model_pop, train, NULL, NULL, 0, 1);
    double ndcg = tu_ndcg_full(p, train, test, 10);
    print_message("MostPopular NDCG@10 on ML-100K (80/20 random): %.4f\n", ndcg);
    assert_true(ndcg > 0.18 && ndcg < 0.26);
    model_free(p);
    rs_matrix_free(train);
    rs_matrix_free(test);
    rs_matrix_free(all);
}

/* rng_shuffle is a permutation, the same one whatever the element size
 * (chunked swaps past 64 bytes included), and the textbook Fisher-Yates. */
static void test_rng_shuffle(void **state)
{
    (void)state;
    enum { N = 200 };
    typedef struct Big { uint32_t id; unsigned char pad[96]; } Big;
    uint32_t a[N], ref[N];
    static Big big[N];
    for (uint32_t k = 0; k < N; k++) {
        a[k] = ref[k] = k;
        big[k].id = k;
        memset(big[k].pad, (int)(k & 0xff), sizeof big[k].pad);
    }
    RsRng r1, r2, r3;
    rng_seed(&r1, 11);
    rng_seed(&r2, 11);
    rng_seed(&r3, 11);
    rng_shuffle(&r1, a, N, sizeof *a);
    rng_shuffle(&r2, big, N, sizeof *big);
    for (size_t k = N; k > 1; k--) { /* the definition, written out */
        size_t j = (size_t)rng_below(&r3, k);
        uint32_t t = ref[k - 1];
        ref[k - 1] = ref[j];
        ref[j] = t;
    }
    int seen[N] = {0}, moved = 0;
    for (size_t k = 0; k < N; k++) {
        assert_int_equal(a[k], ref[k]);
        assert_int_equal(big[k].id, a[k]);
        assert_int_equal(big[k].pad[95], a[k] & 0xff);
        seen[a[k]]++;
        moved += a[k] != k;
    }
    for (size_t k = 0; k < N; k++)
        assert_int_equal(seen[k], 1);
    assert_true(moved > N / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_shuffle),
        cmocka_unit_test(test_matrix_build),
        cmocka_unit_test(test_matrix_from_csr),
        cmocka_unit_test(test_seqs),
        cmocka_unit_test(test_topk_matches_naive),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_pop_recommend_and_explain),
        cmocka_unit_test(test_blob_round_trip_and_damage),
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_jobs),
        cmocka_unit_test(test_every_class_round_trip),
        cmocka_unit_test(test_pop_ml100k),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
