/* test_nn.c - the NN toolkit (engine/nn.h): every layer's and loss's
 * backward pass against central finite differences, the sgemm dense layer
 * against its naive loops, sparse embedding gradients against the dense
 * scatter, Adam / AdamW against hand-worked steps, the parameter block's
 * save/load and seeded determinism.
 *
 * Tolerance rule of the gradient checks (float forward passes, central
 * differences with step h = 1e-2, loss L = sum_k R_k out_k with a fixed
 * random R, accumulated in double): for every element of a tensor,
 *     |analytic - fd| <= atol + rtol |fd|,  atol = 5e-3 max(1, max_k |fd_k|),
 *     rtol = 2e-2,
 * i.e. per tensor an absolute part scaled to the tensor's largest gradient
 * (float rounding of L, ~1e-7 |L| / h) plus a relative part for the O(h^2)
 * truncation error. Inputs of ReLU are kept |x| > 0.1 so no difference
 * straddles the kink. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "rng.h"
#include "testutil.h"

/* the tolerance rule above */
static const TuGradTol FD_TOL = {.h = 1e-2f, .atol = 5e-3, .rtol = 2e-2, .atol_scaled = 1};

/* x away from 0 (for ReLU's kink): |x| >= 0.1 */
static void fill_away(float *x, size_t n, RsRng *r)
{
    for (size_t k = 0; k < n; k++) {
        float v = (float)rng_normal(r);
        x[k] = v >= 0 ? v + 0.1f : v - 0.1f;
    }
}

/* ---- dense ---------------------------------------------------------------------- */

enum { DB = 5, DIN = 7, DOUT = 4 };
typedef struct {
    float in[DB * DIN], w[DOUT * DIN], b[DOUT], out[DB * DOUT], R[DB * DOUT];
} DenseCase;

static double dense_loss(void *c)
{
    DenseCase *d = c;
    nn_dense_forward(d->out, d->in, d->w, d->b, DB, DIN, DOUT);
    return tu_dot(d->out, d->R, DB * DOUT);
}

static void test_dense(void **state)
{
    (void)state;
    RsRng r;
    rng_seed(&r, 1);
    DenseCase d;
    tu_fill_normal(d.in, DB * DIN, 1, &r);
    tu_fill_normal(d.w, DOUT * DIN, 0.5f, &r);
    tu_fill_normal(d.b, DOUT, 0.5f, &r);
    tu_fill_normal(d.R, DB * DOUT, 1, &r);
    /* sgemm against the loops */
    float o2[DB * DOUT];
    nn_dense_forward(d.out, d.in, d.w, d.b, DB, DIN, DOUT);
    nn_dense_forward_naive(o2, d.in, d.w, d.b, DB, DIN, DOUT);
    for (size_t k = 0; k < DB * DOUT; k++)
        assert_true(fabsf(d.out[k] - o2[k]) <= 1e-5f * (1 + fabsf(o2[k])));
    float din[DB * DIN] = {0}, dw[DOUT * DIN] = {0}, db[DOUT] = {0};
    float din2[DB * DIN] = {0}, dw2[DOUT * DIN] = {0}, db2[DOUT] = {0};
    nn_dense_backward(din, dw, db, d.R, d.in, d.w, DB, DIN, DOUT);
    nn_dense_backward_naive(din2, dw2, db2, d.R, d.in, d.w, DB, DIN, DOUT);
    for (size_t k = 0; k < DB * DIN; k++)
        assert_true(fabsf(din[k] - din2[k]) <= 1e-5f * (1 + fabsf(din2[k])));
    for (size_t k = 0; k < DOUT * DIN; k++)
        assert_true(fabsf(dw[k] - dw2[k]) <= 1e-5f * (1 + fabsf(dw2[k])));
    for (size_t k = 0; k < DOUT; k++)
        assert_true(fabsf(db[k] - db2[k]) <= 1e-5f * (1 + fabsf(db2[k])));
    tu_grad_check("dense.in", dense_loss, &d, d.in, DB * DIN, din, &FD_TOL);
    tu_grad_check("dense.w", dense_loss, &d, d.w, DOUT * DIN, dw, &FD_TOL);
    tu_grad_check("dense.b", dense_loss, &d, d.b, DOUT, db, &FD_TOL);
    /* accumulation: a second backward doubles the gradients */
    nn_dense_backward(din, dw, db, d.R, d.in, d.w, DB, DIN, DOUT);
    for (size_t k = 0; k < DOUT; k++)
        assert_true(fabsf(db[k] - 2 * db2[k]) <= 1e-5f * (1 + fabsf(db2[k])));
}

/* a larger, odd-shaped case: sgemm against the loops */
static void test_dense_large(void **state)
{
    (void)state;
    size_t B = 67, IN = 129, OUT = 33;
    float *in = malloc(B * IN * 4), *w = malloc(OUT * IN * 4), *b = malloc(OUT * 4),
          *o1 = malloc(B * OUT * 4), *o2 = malloc(B * OUT * 4);
    RsRng r;
    rng_seed(&r, 2);
    tu_fill_normal(in, B * IN, 1, &r);
    tu_fill_normal(w, OUT * IN, 0.1f, &r);
    tu_fill_normal(b, OUT, 1, &r);
    nn_dense_forward(o1, in, w, b, B, IN, OUT);
    nn_dense_forward_naive(o2, in, w, b, B, IN, OUT);
    for (size_t k = 0; k < B * OUT; k++)
        assert_true(fabsf(o1[k] - o2[k]) <= 1e-4f * (1 + fabsf(o2[k])));
    free(in);
    free(w);
    free(b);
    free(o1);
    free(o2);
}

/* ---- element-wise layers ----------------------------------------------------------- */

enum { EN = 23 };
typedef struct {
    int kind; /* 0 relu, 1 sigmoid, 2 tanh, 3 gelu, 4 mul (a), 5 dropout */
    float x[EN], b[EN], y[EN], R[EN], mask[EN];
} EwCase;

static double ew_loss(void *c)
{
    EwCase *e = c;
    RsRng r;
    switch (e->kind) {
    case 0: nn_relu_forward(e->y, e->x, EN); break;
    case 1: nn_sigmoid_forward(e->y, e->x, EN); break;
    case 2: nn_tanh_forward(e->y, e->x, EN); break;
    case 3: nn_gelu_forward(e->y, e->x, EN); break;
    case 4: nn_mul_forward(e->y, e->x, e->b, EN); break;
    default:
        rng_seed(&r, 99); /* the same mask every call */
        nn_dropout_forward(e->y, e->mask, e->x, 0.3f, EN, &r);
        break;
    }
    return tu_dot(e->y, e->R, EN);
}

static void test_elementwise(void **state)
{
    (void)state;
    static const char *names[] = {"relu", "sigmoid", "tanh", "gelu", "mul", "dropout"};
    for (int kind = 0; kind < 6; kind++) {
        RsRng r;
        rng_seed(&r, 10 + (uint64_t)kind);
        EwCase e = {.kind = kind};
        fill_away(e.x, EN, &r);
        tu_fill_normal(e.b, EN, 1, &r);
        tu_fill_normal(e.R, EN, 1, &r);
        ew_loss(&e);
        float dx[EN] = {0}, db[EN] = {0};
        switch (kind) {
        case 0: nn_relu_backward(dx, e.R, e.x, EN); break;
        case 1: nn_sigmoid_backward(dx, e.R, e.y, EN); break;
        case 2: nn_tanh_backward(dx, e.R, e.y, EN); break;
        case 3: nn_gelu_backward(dx, e.R, e.x, EN); break;
        case 4: nn_mul_backward(dx, db, e.R, e.x, e.b, EN); break;
        default: nn_dropout_backward(dx, e.R, e.mask, EN); break;
        }
        tu_grad_check(names[kind], ew_loss, &e, e.x, EN, dx, &FD_TOL);
        if (kind == 4)
            tu_grad_check("mul.b", ew_loss, &e, e.b, EN, db, &FD_TOL);
    }
}

static void test_dropout_stats(void **state)
{
    (void)state;
    enum { N = 20000 };
    float *x = malloc(N * 4), *y = malloc(N * 4), *m = malloc(N * 4), *y2 = malloc(N * 4);
    for (size_t k = 0; k < N; k++)
        x[k] = 1;
    RsRng r;
    rng_seed(&r, 5);
    nn_dropout_forward(y, m, x, 0.25f, N, &r);
    double s = 0;
    size_t zeros = 0;
    for (size_t k = 0; k < N; k++) {
        s += y[k];
        zeros += y[k] == 0;
    }
    assert_true(fabs(s / N - 1) < 0.03);           /* inverted: mean kept */
    assert_true(fabs((double)zeros / N - 0.25) < 0.02);
    rng_seed(&r, 5);                                 /* seeded: same mask */
    nn_dropout_forward(y2, m, x, 0.25f, N, &r);
    assert_memory_equal(y, y2, N * 4);
    nn_dropout_forward(y2, m, x, 0, N, &r);          /* p = 0 copies */
    assert_memory_equal(x, y2, N * 4);
    free(x);
    free(y);
    free(m);
    free(y2);
}

/* ---- layer norm ------------------------------------------------------------------------ */

enum { LB = 3, LC = 6 };
typedef struct {
    float x[LB * LC], w[LC], b[LC], y[LB * LC], R[LB * LC], mean[LB], rstd[LB];
} LnCase;

static double ln_loss(void *c)
{
    LnCase *l = c;
    nn_layernorm_forward(l->y, l->mean, l->rstd, l->x, l->w, l->b, LB, LC);
    return tu_dot(l->y, l->R, LB * LC);
}

static void test_layernorm(void **state)
{
    (void)state;
    RsRng r;
    rng_seed(&r, 3);
    LnCase l;
    tu_fill_normal(l.x, LB * LC, 1, &r);
    tu_fill_normal(l.w, LC, 1, &r);
    tu_fill_normal(l.b, LC, 1, &r);
    tu_fill_normal(l.R, LB * LC, 1, &r);
    ln_loss(&l);
    float dx[LB * LC] = {0}, dw[LC] = {0}, db[LC] = {0};
    nn_layernorm_backward(dx, dw, db, l.R, l.x, l.w, l.mean, l.rstd, LB, LC);
    tu_grad_check("layernorm.x", ln_loss, &l, l.x, LB * LC, dx, &FD_TOL);
    tu_grad_check("layernorm.w", ln_loss, &l, l.w, LC, dw, &FD_TOL);
    tu_grad_check("layernorm.b", ln_loss, &l, l.b, LC, db, &FD_TOL);
}

/* ---- embeddings ------------------------------------------------------------------------- */

enum { ER = 9, ED = 4, EB = 7 };
typedef struct {
    float W[ER * ED], out[EB * ED], R[EB * ED];
    uint32_t idx[EB];
} EmbCase;

static double emb_loss(void *c)
{
    EmbCase *e = c;
    nn_embedding_forward(e->out, e->idx, e->W, EB, ED);
    return tu_dot(e->out, e->R, EB * ED);
}

static void test_embedding(void **state)
{
    (void)state;
    RsRng r;
    rng_seed(&r, 4);
    EmbCase e = {.idx = {3, 1, 3, 8, 0, 3, 1}}; /* duplicates on purpose */
    tu_fill_normal(e.W, ER * ED, 1, &r);
    tu_fill_normal(e.R, EB * ED, 1, &r);
    float dW[ER * ED] = {0}, dS[ER * ED] = {0};
    nn_embedding_backward_dense(dW, e.R, e.idx, EB, ED);
    tu_grad_check("embedding.W", emb_loss, &e, e.W, ER * ED, dW, &FD_TOL);
    NnSparseGrad s;
    RsErr err;
    assert_int_equal(nn_sparse_init(&s, ER, ED, EB, &err), RS_OK);
    assert_int_equal(nn_embedding_backward(&s, e.R, e.idx, EB), 0);
    assert_int_equal(s.n, 4); /* rows 3, 1, 8, 0 */
    for (size_t k = 0; k < s.n; k++)
        memcpy(dS + s.rows[k] * ED, s.g + k * ED, ED * sizeof(float));
    for (size_t k = 0; k < ER * ED; k++)
        assert_true(fabsf(dS[k] - dW[k]) <= 1e-6f);
    nn_sparse_clear(&s);
    assert_int_equal(s.n, 0);
    for (size_t k = 0; k < ER; k++)
        assert_int_equal(s.slot[k], -1);
    nn_sparse_done(&s);
    /* overflow of cap is reported */
    assert_int_equal(nn_sparse_init(&s, ER, ED, 2, &err), RS_OK);
    assert_int_equal(nn_embedding_backward(&s, e.R, e.idx, EB), -1);
    nn_sparse_done(&s);
}

/* ---- losses --------------------------------------------------------------------------------- */

enum { LN = 12, SB = 3, SC = 5 };
typedef struct {
    int kind; /* 0 bce, 1 sampled softmax, 2 bpr */
    float z[LN], y[LN], neg[LN];
} LossCase;

static double loss_loss(void *c)
{
    LossCase *l = c;
    switch (l->kind) {
    case 0: return nn_bce_logits_forward(l->z, l->y, LN);
    case 1: return nn_sampled_softmax_forward(l->z, SB, SC - 1); /* 3 x 4 = 12 */
    default: return nn_bpr_forward(l->z, l->neg, LN);
    }
}

static void test_losses(void **state)
{
    (void)state;
    RsRng r;
    rng_seed(&r, 6);
    LossCase l = {0};
    tu_fill_normal(l.z, LN, 2, &r);
    tu_fill_normal(l.neg, LN, 2, &r);
    for (size_t k = 0; k < LN; k++)
        l.y[k] = k % 5 == 0;
    float dz[LN] = {0}, dn[LN] = {0};
    l.kind = 0;
    nn_bce_logits_backward(dz, l.z, l.y, LN, 1);
    tu_grad_check("bce.z", loss_loss, &l, l.z, LN, dz, &FD_TOL);
    l.kind = 1;
    memset(dz, 0, sizeof dz);
    nn_sampled_softmax_backward(dz, l.z, SB, SC - 1, 1);
    tu_grad_check("sampled_softmax.z", loss_loss, &l, l.z, LN, dz, &FD_TOL);
    l.kind = 2;
    memset(dz, 0, sizeof dz);
    nn_bpr_backward(dz, dn, l.z, l.neg, LN, 1);
    tu_grad_check("bpr.pos", loss_loss, &l, l.z, LN, dz, &FD_TOL);
    tu_grad_check("bpr.neg", loss_loss, &l, l.neg, LN, dn, &FD_TOL);
    /* numerically stable at extreme logits */
    float big[2] = {200, -200}, yb[2] = {1, 0};
    assert_true(nn_bce_logits_forward(big, yb, 2) < 1e-30);
    float yw[2] = {0, 1};
    assert_true(fabs(nn_bce_logits_forward(big, yw, 2) - 200) < 1e-3);
    float zs[3] = {1000, -1000, 0};
    assert_true(fabs(nn_sampled_softmax_forward(zs, 1, 3)) < 1e-6);
    float bp = 100, bn = -100;
    assert_true(isfinite(nn_bpr_forward(&bn, &bp, 1)));
}

/* ---- optimisers ---------------------------------------------------------------------------- */

static void test_adam(void **state)
{
    (void)state;
    NnAdam o;
    nn_adam_default(&o);
    o.lr = 0.1f;
    /* step 1 moves each weight by -lr sign(g) (bias correction) */
    float w[3] = {1, -2, 3}, g[3] = {0.5f, -4, 1e-3f}, m[3] = {0}, v[3] = {0};
    nn_adam_step(w, g, m, v, 3, &o, 1);
    assert_true(fabsf(w[0] - 0.9f) < 1e-5f);
    assert_true(fabsf(w[1] + 1.9f) < 1e-5f);
    assert_true(fabsf(w[2] - 2.9f) < 1e-4f);
    /* AdamW: the decay is decoupled, lr * wd * w */
    o.weight_decay = 0.5f;
    float w2 = 2, g2 = 0, m2 = 0, v2 = 0;
    nn_adam_step(&w2, &g2, &m2, &v2, 1, &o, 1);
    assert_true(fabsf(w2 - (2 - 0.1f * 0.5f * 2)) < 1e-6f);
    /* minimises a quadratic */
    o.weight_decay = 0;
    float x[2] = {3, -5}, mx[2] = {0}, vx[2] = {0};
    for (long t = 1; t <= 2000; t++) {
        float gx[2] = {2 * (x[0] - 1), 20 * (x[1] + 2)};
        nn_adam_step(x, gx, mx, vx, 2, &o, t);
    }
    assert_true(fabsf(x[0] - 1) < 1e-2f && fabsf(x[1] + 2) < 1e-2f);
    /* sparse Adam: touched rows as dense Adam, other rows (and moments) untouched */
    enum { R = 5, D = 3 };
    float W[R * D], W2[R * D], M[R * D] = {0}, V[R * D] = {0}, M2[R * D] = {0}, V2[R * D] = {0};
    RsRng r;
    rng_seed(&r, 7);
    tu_fill_normal(W, R * D, 1, &r);
    memcpy(W2, W, sizeof W);
    float dout[2 * D];
    tu_fill_normal(dout, 2 * D, 1, &r);
    uint32_t idx[2] = {1, 3};
    NnSparseGrad s;
    RsErr err;
    assert_int_equal(nn_sparse_init(&s, R, D, 2, &err), RS_OK);
    nn_embedding_backward(&s, dout, idx, 2);
    nn_adam_sparse(W, M, V, &s, &o, 1);
    float G[R * D] = {0};
    nn_embedding_backward_dense(G, dout, idx, 2, D);
    nn_adam_step(W2, G, M2, V2, R * D, &o, 1);
    for (size_t k = 0; k < R * D; k++)
        assert_true(fabsf(W[k] - W2[k]) < 1e-6f);
    nn_sparse_done(&s);
}

/* ---- the block --------------------------------------------------------------------------------- */

#define T_TENSORS(X) X(A, 6) X(bias, 2) X(C, 4)
typedef struct {
    T_TENSORS(NN_VIEW_FIELD)
} TViews;

static void t_bind(TViews *v, float *base)
{
    float *at = base;
    T_TENSORS(NN_VIEW_BIND)
}

static void test_block(void **state)
{
    (void)state;
    NnBlock b, c;
    RsErr err;
    size_t n = 0 T_TENSORS(NN_VIEW_COUNT);
    assert_int_equal(n, 12);
    assert_int_equal(nn_block_init(&b, n, &err), RS_OK);
    TViews w, g;
    t_bind(&w, b.w);
    t_bind(&g, b.g);
    assert_ptr_equal(w.bias, b.w + 6);
    assert_ptr_equal(g.C, b.g + 8);
    RsRng r;
    rng_seed(&r, 8);
    nn_init_normal(b.w, n, 1, &r);
    g.C[3] = 1;
    nn_block_zero_grad(&b);
    assert_true(g.C[3] == 0);
    RsBlob blob;
    blob_init(&blob);
    nn_block_save(&b, &blob);
    assert_int_equal(nn_block_init(&c, n, &err), RS_OK);
    RsBlobReader rd;
    blob_reader_init(&rd, blob.data, blob.len);
    assert_int_equal(nn_block_load(&c, &rd, &err), RS_OK);
    assert_memory_equal(b.w, c.w, n * sizeof(float));
    /* a non-finite parameter and a truncation are errors */
    float nan = NAN;
    memcpy(blob.data + 8 + 4 * 5, &nan, 4);
    blob_reader_init(&rd, blob.data, blob.len);
    assert_int_equal(nn_block_load(&c, &rd, &err), RS_EPARSE);
    blob_reader_init(&rd, blob.data, blob.len - 3);
    assert_int_equal(nn_block_load(&c, &rd, &err), RS_EPARSE);
    blob_done(&blob);
    /* seeded init: the same seed gives the same parameters */
    rng_seed(&r, 8);
    nn_init_normal(c.w, n, 1, &r);
    assert_memory_equal(b.w, c.w, n * sizeof(float));
    nn_init_glorot(c.w, 3, 4, &r);
    for (size_t k = 0; k < 12; k++)
        assert_true(fabsf(c.w[k]) <= sqrtf(6.0f / 7));
    nn_block_done(&b);
    nn_block_done(&c);
}

/* Early stopping keeps the best epoch's parameters and stops `patience`
 * epochs after it; NaN metrics are ignored. */
static void test_best(void **state)
{
    (void)state;
    NnBlock b;
    RsErr err;
    assert_int_equal(nn_block_init(&b, 3, &err), RS_OK);
    NnBest best = {0};
    const double vals[] = {0.1, NAN, 0.3, 0.2, 0.25, 0.29};
    int stopped_at = 0;
    for (int e = 1; e <= 6 && !stopped_at; e++) {
        b.w[0] = (float)e;
        int stop = nn_best_offer(&best, &b, e, vals[e - 1], 3, &err);
        assert_true(stop >= 0);
        if (stop)
            stopped_at = e;
    }
    assert_int_equal(stopped_at, 6); /* best at 3, then 4, 5, 6 without better */
    assert_int_equal(best.epoch, 3);
    nn_best_finish(&best, &b);
    assert_true(b.w[0] == 3.0f && best.w == NULL);
    nn_block_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),        cmocka_unit_test(test_dense_large),
        cmocka_unit_test(test_elementwise),  cmocka_unit_test(test_dropout_stats),
        cmocka_unit_test(test_layernorm),    cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_losses),       cmocka_unit_test(test_adam),
        cmocka_unit_test(test_block),        cmocka_unit_test(test_best),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
