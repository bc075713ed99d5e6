/* test_sasrec.c - causal multi-head self-attention and the transformer
 * block (engine/nn_attn.c) and SASRec (engine/sasrec.c): the sgemm
 * attention against the naive loops, every backward pass (attention,
 * projections, positional embeddings, the whole block, the whole network)
 * against central finite differences, the causal and padding masks,
 * determinism for a seed, save/load and damaged blobs, explanations,
 * fold-in, cancellation, and quality on MovieLens-100K under the NCF /
 * SASRec protocol (each user's last interaction ranked against 99 sampled
 * items; HR@10, NDCG@10) against NeuMF's measured figure and MostPopular
 * (skipped when the data set is absent). */
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

#include "metrics.h"
#include "nn_attn.h"
#include "rng.h"
#include "sasrec.h"
#include "split.h"
#include "testutil.h"

static void fill(float *x, size_t n, float scale, RsRng *rng)
{
    for (size_t k = 0; k < n; k++)
        x[k] = (float)((2 * rng_uniform(rng) - 1) * scale);
}

/* ---- finite differences ----------------------------------------------------------------------
 * the loss is evaluated in float with a double sum; |g - fd| <= atol +
 * rtol |fd|, atol = 1e-3 max(1, max |fd|); elements whose one-sided
 * differences disagree (a ReLU kink within h) are skipped, at most 3%. */
static TuGradTol fd_tol(float h, double rtol)
{
    return (TuGradTol){.h = h, .atol = 1e-3, .rtol = rtol, .atol_scaled = 1, .kink = 2e-2};
}

/* ---- attention: sgemm against naive, masks ------------------------------------------------ */

enum { AN = 2, AT = 5, AC = 6, AH = 2 };

static void test_attn_naive_and_masks(void **state)
{
    (void)state;
    RsRng rng;
    rng_seed(&rng, 1);
    float qkv[AN * AT * 3 * AC], out[AN * AT * AC], out2[AN * AT * AC];
    float att[AN * AH * AT * AT], att2[AN * AH * AT * AT];
    float dout[AN * AT * AC], dq[AN * AT * 3 * AC] = {0}, dq2[AN * AT * 3 * AC] = {0};
    float scratch[AT * AT];
    uint8_t valid[AN * AT] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    fill(qkv, RS_ARRAY_LEN(qkv), 1.0f, &rng);
    fill(dout, RS_ARRAY_LEN(dout), 1.0f, &rng);
    nn_attn_forward(out, att, qkv, valid, AN, AT, AC, AH);
    nn_attn_forward_naive(out2, att2, qkv, valid, AN, AT, AC, AH);
    for (size_t k = 0; k < RS_ARRAY_LEN(out); k++)
        assert_true(fabsf(out[k] - out2[k]) < 1e-5f);
    for (size_t k = 0; k < RS_ARRAY_LEN(att); k++)
        assert_true(fabsf(att[k] - att2[k]) < 1e-6f);
    nn_attn_backward(dq, scratch, dout, att, qkv, AN, AT, AC, AH);
    nn_attn_backward_naive(dq2, dout, att, qkv, AN, AT, AC, AH);
    for (size_t k = 0; k < RS_ARRAY_LEN(dq); k++)
        assert_true(fabsf(dq[k] - dq2[k]) < 1e-5f);
    /* causal: no weight on a later position; padding: none on a padded
     * key; each row with a valid key sums to 1, a row without is 0 */
    for (size_t n = 0; n < AN; n++)
        for (size_t h = 0; h < AH; h++)
            for (size_t t = 0; t < AT; t++) {
                const float *row = att + ((n * AH + h) * AT + t) * AT;
                double sum = 0;
                int any = 0;
                for (size_t j = 0; j < AT; j++) {
                    if (j > t || !valid[n * AT + j])
                        assert_true(row[j] == 0.0f);
                    sum += row[j];
                    any |= j <= t && valid[n * AT + j];
                }
                assert_true(fabs(sum - (any ? 1.0 : 0.0)) < 1e-6);
            }
    /* changing a later position leaves earlier outputs unchanged */
    for (size_t c = 0; c < 3 * AC; c++)
        qkv[(1 * AT + 4) * 3 * AC + c] += 1.0f;
    nn_attn_forward(out2, att2, qkv, valid, AN, AT, AC, AH);
    assert_memory_equal(out, out2, sizeof(float) * (AT * AC + 4 * AC));
}

/* ---- attention, projections, positions: gradients ---------------------------------------------- */

typedef struct MhaCase {
    float x[AN * AT * AC], wqkv[3 * AC * AC], bqkv[3 * AC], wo[AC * AC], bo[AC],
        pos[AT * AC];
    float qkv[AN * AT * 3 * AC], y[AN * AT * AC], att[AN * AH * AT * AT], out[AN * AT * AC],
        xp[AN * AT * AC];
    float r[AN * AT * AC]; /* loss = sum r * out */
    uint8_t valid[AN * AT];
} MhaCase;

static double mha_loss(void *ctx)
{
    MhaCase *c = ctx;
    nn_posemb_forward(c->xp, c->x, c->pos, AN, AT, AC);
    nn_mha_forward(c->out, c->qkv, c->y, c->att, c->xp, c->valid, c->wqkv, c->bqkv, c->wo, c->bo,
                   AN, AT, AC, AH);
    return tu_dot(c->r, c->out, RS_ARRAY_LEN(c->out));
}

static void test_attn_gradients(void **state)
{
    (void)state;
    static MhaCase c;
    RsRng rng;
    rng_seed(&rng, 2);
    fill(c.x, RS_ARRAY_LEN(c.x), 1.0f, &rng);
    fill(c.wqkv, RS_ARRAY_LEN(c.wqkv), 0.7f, &rng);
    fill(c.bqkv, RS_ARRAY_LEN(c.bqkv), 0.3f, &rng);
    fill(c.wo, RS_ARRAY_LEN(c.wo), 0.5f, &rng);
    fill(c.bo, RS_ARRAY_LEN(c.bo), 0.3f, &rng);
    fill(c.pos, RS_ARRAY_LEN(c.pos), 0.5f, &rng);
    fill(c.r, RS_ARRAY_LEN(c.r), 1.0f, &rng);
    for (size_t k = 0; k < AN * AT; k++)
        c.valid[k] = k != 0 && k != 1 && k != 7; /* left padding, and a hole */
    static float dx[AN * AT * AC], dxp[AN * AT * AC], dwqkv[3 * AC * AC], dbqkv[3 * AC],
        dwo[AC * AC], dbo[AC], dpos[AT * AC], dqkv[AN * AT * 3 * AC], dy[AN * AT * AC],
        scratch[AT * AT];
    mha_loss(&c);
    nn_mha_backward(dxp, dwqkv, dbqkv, dwo, dbo, dqkv, dy, scratch, c.r, c.xp, c.qkv, c.y, c.att,
                    c.wqkv, c.wo, AN, AT, AC, AH);
    nn_posemb_backward(dx, dpos, dxp, AN, AT, AC);
    const TuGradTol tol = fd_tol(1e-2f, 1e-2);
    tu_grad_check("x", mha_loss, &c, c.x, RS_ARRAY_LEN(c.x), dx, &tol);
    tu_grad_check("pos", mha_loss, &c, c.pos, RS_ARRAY_LEN(c.pos), dpos, &tol);
    tu_grad_check("wqkv", mha_loss, &c, c.wqkv, RS_ARRAY_LEN(c.wqkv), dwqkv, &tol);
    tu_grad_check("bqkv", mha_loss, &c, c.bqkv, RS_ARRAY_LEN(c.bqkv), dbqkv, &tol);
    tu_grad_check("wo", mha_loss, &c, c.wo, RS_ARRAY_LEN(c.wo), dwo, &tol);
    tu_grad_check("bo", mha_loss, &c, c.bo, RS_ARRAY_LEN(c.bo), dbo, &tol);
}

/* ---- the transformer block: gradients ---------------------------------------------------------- */

enum { BF = 8 };

typedef struct BlockCase {
    float *w, *x, *out, *actmem, *r;
    NnTBlockW v;
    NnTBlockActs a;
    uint8_t valid[AN * AT];
} BlockCase;

static double block_loss(void *ctx)
{
    BlockCase *c = ctx;
    nn_tblock_forward(c->out, &c->a, c->x, c->valid, &c->v, 0.0f, NULL, AN, AT, AC, BF, AH);
    return tu_dot(c->r, c->out, AN * AT * AC);
}

static void test_tblock_gradients(void **state)
{
    (void)state;
    RsRng rng;
    rng_seed(&rng, 3);
    size_t P = nn_tblock_size(AC, BF), R = AN * AT;
    BlockCase c;
    c.w = malloc(P * sizeof(float));
    c.x = malloc(R * AC * sizeof(float));
    c.out = malloc(R * AC * sizeof(float));
    c.r = malloc(R * AC * sizeof(float));
    c.actmem = malloc(nn_tblock_acts_size(AN, AT, AC, BF, AH) * sizeof(float));
    nn_tblock_bind(&c.v, c.w, AC, BF);
    nn_tblock_acts_bind(&c.a, c.actmem, AN, AT, AC, BF, AH);
    nn_tblock_init(&c.v, AC, BF, &rng);
    /* move the LayerNorm gains and biases off 1 and 0 so their gradients matter */
    fill(c.v.ln1b, AC, 0.3f, &rng);
    fill(c.v.ln2b, AC, 0.3f, &rng);
    fill(c.v.bqkv, 3 * AC, 0.3f, &rng);
    fill(c.v.b1, BF, 0.3f, &rng);
    for (size_t k = 0; k < AC; k++) {
        c.v.ln1w[k] += 0.2f * (float)k / AC;
        c.v.ln2w[k] -= 0.2f * (float)k / AC;
    }
    fill(c.x, R * AC, 1.0f, &rng);
    fill(c.r, R * AC, 1.0f, &rng);
    for (size_t k = 0; k < R; k++)
        c.valid[k] = k >= 2;
    float *g = calloc(P, sizeof(float)), *dx = calloc(R * AC, sizeof(float));
    float *scr = malloc(nn_tblock_scratch_size(AN, AT, AC, BF) * sizeof(float));
    NnTBlockW gv;
    nn_tblock_bind(&gv, g, AC, BF);
    block_loss(&c);
    nn_tblock_backward(dx, &gv, scr, c.r, c.x, &c.a, &c.v, AN, AT, AC, BF, AH);
    const TuGradTol tol = fd_tol(2e-3f, 2e-2);
    tu_grad_check("block input", block_loss, &c, c.x, R * AC, dx, &tol);
    tu_grad_check("block params", block_loss, &c, c.w, P, g, &tol);
    /* dropout: the same streams give the same masks and outputs */
    RsRng s1[AN], s2[AN];
    for (size_t n = 0; n < AN; n++) {
        rng_seed(&s1[n], 10 + n);
        rng_seed(&s2[n], 10 + n);
    }
    float *o2 = malloc(R * AC * sizeof(float));
    nn_tblock_forward(c.out, &c.a, c.x, c.valid, &c.v, 0.3f, s1, AN, AT, AC, BF, AH);
    nn_tblock_forward(o2, &c.a, c.x, c.valid, &c.v, 0.3f, s2, AN, AT, AC, BF, AH);
    assert_memory_equal(c.out, o2, R * AC * sizeof(float));
    free(o2);
    free(scr);
    free(g);
    free(dx);
    free(c.w);
    free(c.x);
    free(c.out);
    free(c.r);
    free(c.actmem);
}

/* ---- SASRec on synthetic sequences ---------------------------------------------------------------
 * U users walk a ring of I items: user u starts at item (7u) % I and each
 * next item is the previous + 1 or + 2 (mod I), timestamps increasing; a
 * sequence model learns "what comes next". */
static RsMatrix *synth_walks(size_t U, size_t I, size_t len, uint64_t seed)
{
    RsRng rng;
    rng_seed(&rng, seed);
    RsTriplet *t = malloc(U * len * sizeof *t);
    uint8_t *seen = calloc(I, 1);
    size_t n = 0;
    for (size_t u = 0; u < U; u++) {
        memset(seen, 0, I);
        size_t i = (7 * u) % I;
        for (size_t k = 0; k < len; k++) {
            if (!seen[i])
                t[n++] = (RsTriplet){(uint32_t)u, (uint32_t)i, NAN, (int64_t)(1000 + k)};
            seen[i] = 1;
            i = (i + 1 + rng_below(&rng, 2)) % I;
        }
    }
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, t, n, &m, &err), RS_OK);
    free(t);
    free(seen);
    return m;
}

typedef struct NetCase {
    RsModel *m;
    uint32_t in[2 * 6], pos[2 * 6], neg[2 * 6];
} NetCase;

static double net_loss(void *ctx)
{
    NetCase *c = ctx;
    double l;
    assert_int_equal(sasrec_debug_grad(c->m, c->in, c->pos, c->neg, 2, NULL, &l), 0);
    return l;
}

static void test_network_gradient(void **state)
{
    (void)state;
    RsMatrix *t = synth_walks(8, 10, 8, 1);
    const char *kv[] = {"maxlen=6", "dim=4", "heads=2", "blocks=2", "epochs=2", "batch=4"};
    NetCase c = {.m = tu_fit_valid(&model_sasrec, t, NULL, kv, RS_ARRAY_LEN(kv), 5, 1)};
    const uint32_t P = UINT32_MAX;
    uint32_t in[12] = {P, P, 3, 4, 6, 7, 0, 2, 3, 5, 6, 8};
    uint32_t pos[12] = {0, 0, 4, 6, 7, 9, 2, 3, 5, 6, 8, 9};
    uint32_t neg[12] = {0, 0, 1, 1, 2, 5, 7, 9, 1, 0, 4, 4};
    memcpy(c.in, in, sizeof in);
    memcpy(c.pos, pos, sizeof pos);
    memcpy(c.neg, neg, sizeof neg);
    size_t n;
    float *w = sasrec_debug_params(c.m, &n);
    assert_non_null(w);
    float *g = malloc(n * sizeof *g);
    double loss;
    assert_int_equal(sasrec_debug_grad(c.m, in, pos, neg, 2, g, &loss), 0);
    assert_true(isfinite(loss) && loss > 0);
    const TuGradTol tol = fd_tol(2e-3f, 3e-2);
    tu_grad_check("sasrec", net_loss, &c, w, n, g, &tol);
    free(g);
    model_free(c.m);
    rs_matrix_free(t);
}

/* Fraction of users whose top unseen item is a true next step (last + 1 or
 * + 2) of their sequence. */
static double next_step_rate(const RsModel *m, const RsMatrix *t)
{
    RsRec rec[1];
    size_t n, good = 0;
    RsErr err;
    for (uint32_t u = 0; u < t->U; u++) {
        assert_int_equal(model_recommend(m, t, u, 1, 1, rec, &n, &err), RS_OK);
        assert_int_equal(n, 1);
        /* the last item in time */
        int64_t best = INT64_MIN;
        uint32_t last = 0;
        for (size_t k = t->u_ptr[u]; k < t->u_ptr[u + 1]; k++)
            if (t->u_ts[k] > best) {
                best = t->u_ts[k];
                last = t->u_items[k];
            }
        uint32_t d = (uint32_t)((rec[0].item + t->I - last) % t->I);
        good += d == 1 || d == 2;
    }
    return (double)good / (double)t->U;
}

static void test_train_deterministic_save_load(void **state)
{
    (void)state;
    RsMatrix *t = synth_walks(60, 40, 12, 2);
    const char *kv[] = {"maxlen=10", "dim=16", "epochs=60", "batch=16", "lr=0.005",
                        "dropout=0.1"};
    RsModel *a = tu_fit_valid(&model_sasrec, t, NULL, kv, RS_ARRAY_LEN(kv), 7, 2);
    RsModel *b = tu_fit_valid(&model_sasrec, t, NULL, kv, RS_ARRAY_LEN(kv), 7, 2);
    RsErr err;
    RsBlob ba, bb;
    assert_int_equal(model_save(a, &ba, &err), RS_OK);
    assert_int_equal(model_save(b, &bb, &err), RS_OK);
    assert_int_equal(ba.len, bb.len);
    assert_memory_equal(ba.data, bb.data, ba.len); /* same seed and threads: same model */
    double rate = next_step_rate(a, t);
    fprintf(stderr, "synthetic walks: next step predicted for %.0f%% of users\n", 100 * rate);
    assert_true(rate > 0.8);
    /* the container round trip */
    RsModel *c;
    assert_int_equal(model_load(ba.data, ba.len, 60, 40, &c, &err), RS_OK);
    float s[40], s2[40];
    assert_int_equal(model_sasrec.score(a, t, 5, s, &err), RS_OK);
    assert_int_equal(model_sasrec.score(c, t, 5, s2, &err), RS_OK);
    assert_memory_equal(s, s2, sizeof s);
    model_free(c);
    /* the class payload: round trip, truncation, another shape, other
     * dimensions, a non-finite number */
    RsBlob pb;
    blob_init(&pb);
    assert_int_equal(model_sasrec.save(a, &pb, &err), RS_OK);
    assert_int_equal(model_new(&model_sasrec, 60, 40, &a->pv, 7, &c, &err), RS_OK);
    RsBlobReader rd;
    blob_reader_init(&rd, pb.data, pb.len);
    assert_int_equal(model_sasrec.load(c, &rd, &err), RS_OK);
    assert_int_equal(blob_remaining(&rd), 0);
    blob_reader_init(&rd, pb.data, pb.len - 10);
    assert_int_equal(model_sasrec.load(c, &rd, &err), RS_EPARSE);
    RsModel *d;
    assert_int_equal(model_new(&model_sasrec, 61, 40, &a->pv, 7, &d, &err), RS_OK);
    blob_reader_init(&rd, pb.data, pb.len);
    assert_int_equal(model_sasrec.load(d, &rd, &err), RS_EPARSE);
    model_free(d);
    ParamValues pv = a->pv;
    pv.v[params_index(model_sasrec.params, model_sasrec.nparams, "dim")] = 8;
    assert_int_equal(model_new(&model_sasrec, 60, 40, &pv, 7, &d, &err), RS_OK);
    blob_reader_init(&rd, pb.data, pb.len);
    assert_int_equal(model_sasrec.load(d, &rd, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "dim"));
    model_free(d);
    float nan = NAN;
    memcpy(pb.data + pb.len - 8, &nan, 4);
    blob_reader_init(&rd, pb.data, pb.len);
    assert_int_equal(model_sasrec.load(c, &rd, &err), RS_EPARSE);
    /* and in the container: its checksum catches a flipped byte */
    ba.data[ba.len / 2] ^= 0x40;
    RsModel *e = NULL;
    assert_int_not_equal(model_load(ba.data, ba.len, 60, 40, &e, &err), RS_OK);
    assert_null(e);
    blob_done(&pb);
    model_free(c);
    blob_done(&ba);
    blob_done(&bb);
    model_free(a);
    model_free(b);
    rs_matrix_free(t);
}

static void test_explain_foldin(void **state)
{
    (void)state;
    RsMatrix *t = synth_walks(60, 40, 12, 3);
    const char *kv[] = {"maxlen=10", "dim=16", "heads=2", "epochs=40", "batch=16",
                        "lr=0.005"};
    RsModel *m = tu_fit_valid(&model_sasrec, t, NULL, kv, RS_ARRAY_LEN(kv), 9, 1);
    RsErr err;
    float s[40], s2[40];
    /* a training user: the shares sum to 1 and cover its latest items only */
    RsExplanation e;
    rs_explanation_init(&e);
    assert_int_equal(model_explain(m, t, NULL, 3, NULL, 11, &e, &err), RS_OK);
    assert_int_equal(model_sasrec.score(m, t, 3, s, &err), RS_OK);
    assert_true(fabsf(e.score - s[11]) < 1e-5f * (1 + fabsf(s[11])));
    assert_true(e.rank >= 1);
    double sum = 0;
    for (size_t k = 0; k < e.n; k++) {
        assert_int_equal(e.c[k].kind, EXPL_ITEM);
        assert_true(rs_matrix_find(t, 3, e.c[k].index) != (size_t)-1);
        assert_true(e.c[k].value >= 0 && e.c[k].value <= 1.0001f);
        if (k)
            assert_true(e.c[k].value <= e.c[k - 1].value);
        sum += e.c[k].value;
    }
    assert_true(e.n >= 1 && e.n <= 10);
    assert_true(fabs(sum - 1.0) < 1e-4);
    rs_explanation_done(&e);
    /* fold-in: a profile is a sequence; the same sequence gives the same
     * scores, and a profile equal to a user's ordered history gives that
     * user's scores */
    uint32_t walk[6] = {20, 21, 23, 24, 26, 27};
    RsProfile p = {6, walk, NULL};
    assert_int_equal(model_sasrec.score_profile(m, t, &p, s, &err), RS_OK);
    assert_int_equal(model_sasrec.score_profile(m, t, &p, s2, &err), RS_OK);
    assert_memory_equal(s, s2, sizeof s);
    RsRec rec[2];
    size_t n;
    assert_int_equal(model_recommend_profile(m, t, &p, 2, 1, rec, &n, &err), RS_OK);
    assert_int_equal(n, 2);
    assert_true(rec[0].item == 28 || rec[0].item == 29);
    /* order matters: the reversed walk is another sequence */
    uint32_t rev[6] = {27, 26, 24, 23, 21, 20};
    RsProfile pr = {6, rev, NULL};
    assert_int_equal(model_sasrec.score_profile(m, t, &pr, s2, &err), RS_OK);
    assert_memory_not_equal(s, s2, sizeof s);
    /* causality: the explanation of a prefix holds only the prefix's items,
     * and the last block's weights never look ahead */
    rs_explanation_init(&e);
    RsProfile pre = {3, walk, NULL};
    assert_int_equal(model_explain(m, t, NULL, -1, &pre, 30, &e, &err), RS_OK);
    sum = 0;
    for (size_t k = 0; k < e.n; k++) {
        assert_true(e.c[k].index == 20 || e.c[k].index == 21 || e.c[k].index == 23);
        sum += e.c[k].value;
    }
    assert_true(fabs(sum - 1.0) < 1e-4);
    rs_explanation_done(&e);
    size_t T = 10, H = 2;
    float *att = malloc(H * T * T * sizeof *att);
    assert_int_equal(sasrec_debug_attention(m, walk, 6, att), 0);
    for (size_t h = 0; h < H; h++)
        for (size_t i = 0; i < T; i++)
            for (size_t j = 0; j < T; j++)
                if (j > i || j < T - 6)
                    assert_true(att[(h * T + i) * T + j] == 0.0f);
    free(att);
    /* bad input */
    uint32_t bad[2] = {3, 40};
    RsProfile pb = {2, bad, NULL};
    assert_int_equal(model_sasrec.score_profile(m, t, &pb, s, &err), RS_EUSAGE);
    assert_int_equal(model_sasrec.score(m, t, 60, s, &err), RS_ENOTFOUND);
    RsProfile empty = {0, NULL, NULL};
    assert_int_equal(model_sasrec.score_profile(m, t, &empty, s, &err), RS_OK);
    assert_int_equal(model_sasrec.similar(m, t, 3, s, &err), RS_OK);
    assert_true(s[3] == -INFINITY && isfinite(s[7]));
    model_free(m);
    rs_matrix_free(t);
}

static int cancel_at_2(void *ctx, const FitProgress *p)
{
    int *calls = ctx;
    ++*calls;
    assert_true(isfinite(p->loss) && p->epoch >= 1 && !strcmp(p->phase, "epoch"));
    return p->epoch >= 2;
}

static void test_cancel_and_usage(void **state)
{
    (void)state;
    RsMatrix *t = synth_walks(30, 20, 8, 4);
    ParamValues pv;
    RsErr err;
    RsModel *m;
    const char *kv[] = {"dim=8", "maxlen=5"};
    assert_int_equal(params_parse(model_sasrec.params, model_sasrec.nparams, kv, 2, &pv, &err), 0);
    assert_int_equal(model_new(&model_sasrec, 30, 20, &pv, 1, &m, &err), RS_OK);
    int calls = 0;
    FitContext ctx = {.train = t, .nthreads = 2, .progress = cancel_at_2, .progress_ctx = &calls};
    assert_int_equal(model_fit(m, &ctx, &err), RS_ECANCEL);
    assert_int_equal(calls, 2);
    atomic_int flag = 1;
    FitContext ctx2 = {.train = t, .nthreads = 1, .cancel = &flag};
    assert_int_equal(model_fit(m, &ctx2, &err), RS_ECANCEL);
    float s[20];
    assert_int_equal(model_sasrec.score(m, t, 0, s, &err), RS_EUSAGE); /* never trained */
    model_free(m);
    /* dim not a multiple of heads */
    const char *kv2[] = {"dim=10", "heads=3"};
    assert_int_equal(params_parse(model_sasrec.params, model_sasrec.nparams, kv2, 2, &pv, &err), 0);
    assert_int_equal(model_new(&model_sasrec, 30, 20, &pv, 1, &m, &err), RS_OK);
    FitContext ctx3 = {.train = t, .nthreads = 1};
    assert_int_equal(model_fit(m, &ctx3, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "heads"));
    model_free(m);
    rs_matrix_free(t);
}

typedef struct ValidLog {
    int epochs, best_epoch;
    double best;
} ValidLog;

static int log_valid(void *ctx, const FitProgress *p)
{
    ValidLog *l = ctx;
    assert_true(isfinite(p->valid) && p->valid_name && !strcmp(p->valid_name, "hr@10"));
    l->epochs = p->epoch;
    if (p->valid > l->best) {
        l->best = p->valid;
        l->best_epoch = p->epoch;
    }
    return 0;
}

static void test_early_stopping(void **state)
{
    (void)state;
    RsMatrix *all = synth_walks(80, 130, 14, 5); /* I >= len + 1 + 99 */
    uint8_t *part = malloc(all->NNZ);
    RsErr err;
    SplitParams sp = {.method = SPLIT_LOO, .valid_frac = 0.1, .seed = 1};
    assert_int_equal(split_make(all, &sp, part, &err), RS_OK);
    RsMatrix *train, *valid;
    assert_int_equal(rs_matrix_select(all, part, SPLIT_TRAIN, &train, &err), RS_OK);
    assert_int_equal(rs_matrix_select(all, part, SPLIT_VALID, &valid, &err), RS_OK);
    const char *kv[] = {"maxlen=10", "dim=16", "epochs=300", "lr=0.01", "patience=3"};
    ParamValues pv;
    RsModel *m;
    assert_int_equal(
        params_parse(model_sasrec.params, model_sasrec.nparams, kv, RS_ARRAY_LEN(kv), &pv, &err),
        RS_OK);
    assert_int_equal(model_new(&model_sasrec, train->U, train->I, &pv, 3, &m, &err), RS_OK);
    ValidLog log = {0};
    FitContext ctx = {.train = train, .valid = valid, .nthreads = 2, .progress = log_valid,
                      .progress_ctx = &log};
    assert_int_equal(model_fit(m, &ctx, &err), RS_OK);
    /* HR@10 reported every epoch; stopped well before 300 epochs, 3 after the best */
    fprintf(stderr, "early stopping: %d epochs, best validation HR@10 %.3f at epoch %d\n",
            log.epochs, log.best, log.best_epoch);
    assert_true(log.epochs < 300 && log.epochs == log.best_epoch + 3);
    assert_true(log.best > 0.5);
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(valid);
    rs_matrix_free(all);
    free(part);
}

/* ---- quality on MovieLens-100K ------------------------------------------------------------------ */

/* NeuMF's figures on this protocol (tests/test_neumf.c: HR@10 0.566-0.586,
 * NDCG@10 0.310-0.315). */
#define NEUMF_HR10 0.586
#define NEUMF_NDCG10 0.315

static void test_ml100k_quality(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    RsMatrix *all = tu_ml100k_load("u.data");
    /* leave-last-out by time; no validation part, so that the input
     * sequence at test time is every training item up to the test item */
    RsMatrix *train, *test;
    tu_split_loo(all, &train, &test);
    /* the test's budget, about 25 CPU seconds: one block, 60 epochs at lr
     * 2e-3 (two blocks, 30 epochs: HR@10 0.644, NDCG@10 0.355 for the same
     * time; the defaults, two blocks and 200 epochs at 1e-3: 0.680, 0.407);
     * under sanitizers 5 epochs (measured 0.363, 0.194) and only "beats
     * pop" */
    const char *kv[] = {TU_SANITIZED ? "epochs=5" : "epochs=60", "lr=0.002", "blocks=1"};
    double t0 = rs_now();
    RsModel *m = tu_fit_valid(&model_sasrec, train, NULL, kv, RS_ARRAY_LEN(kv), 42, 2);
    double t1 = rs_now();
    TuLoo r = tu_loo_vs_pop("sasrec", m, t1 - t0, train, test);
    fprintf(stderr, "  (%s %s %s, 2 threads; neumf measured HR@10 %.3f NDCG@10 %.3f)\n", kv[0],
            kv[1], kv[2], NEUMF_HR10, NEUMF_NDCG10);
    if (!TU_SANITIZED) {
        /* measured HR@10 0.670, NDCG@10 0.390 (deterministic for the seed
         * and two threads; BLAS builds may differ in the last bits); bounds
         * = measured - margin, and above NeuMF */
        assert_true(r.hr > NEUMF_HR10 && r.ndcg > NEUMF_NDCG10);
        assert_true(r.hr >= 0.64 && r.ndcg >= 0.36);
    }
    assert_true(r.hr > r.pop_hr && r.ndcg > r.pop_ndcg);
    model_free(m);
    rs_matrix_free(train);
    rs_matrix_free(test);
    rs_matrix_free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attn_naive_and_masks),
        cmocka_unit_test(test_attn_gradients),
        cmocka_unit_test(test_tblock_gradients),
        cmocka_unit_test(test_network_gradient),
        cmocka_unit_test(test_train_deterministic_save_load),
        cmocka_unit_test(test_explain_foldin),
        cmocka_unit_test(test_cancel_and_usage),
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_ml100k_quality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
