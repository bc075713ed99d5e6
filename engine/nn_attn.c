/*
 * nn_attn.c - causal multi-head self-attention, positional embeddings and
 * the pre-LayerNorm transformer block (nn_attn.h).
 *
 * Per sequence and head the three products (Q K^T, att V and their
 * gradients) are sgemm calls on strided views of the (N*T, 3C) qkv rows, so
 * no head is ever copied out. The naive versions are the same math as
 * loops; tests/test_sasrec.c compares them and checks every backward pass
 * against central finite differences.
 */
#include "nn_attn.h"

#include <cblas.h>
#undef I
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <string.h>

/* ---- attention ----------------------------------------------------------------------------- */

/* Row t of S (T entries, j <= t meaningful) into softmax weights in place,
 * with the causal and padding masks; entries after t are set to 0. */
static void attn_softmax_row(float *row, const uint8_t *valid, size_t t, size_t T)
{
    float mx = -INFINITY;
    for (size_t j = 0; j <= t; j++)
        if ((!valid || valid[j]) && row[j] > mx)
            mx = row[j];
    if (mx == -INFINITY) { /* no valid key at or before t */
        memset(row, 0, T * sizeof *row);
        return;
    }
    double sum = 0;
    for (size_t j = 0; j <= t; j++) {
        float e = (!valid || valid[j]) ? expf(row[j] - mx) : 0.0f;
        row[j] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (size_t j = 0; j <= t; j++)
        row[j] *= inv;
    for (size_t j = t + 1; j < T; j++)
        row[j] = 0.0f;
}

void nn_attn_forward(float *out, float *att, const float *qkv, const uint8_t *valid, size_t N,
                     size_t T, size_t C, size_t H)
{
    assert(H > 0 && C % H == 0 && T <= INT_MAX && 3 * C <= INT_MAX);
    size_t D = C / H;
    float scale = 1.0f / sqrtf((float)D);
    int t_ = (int)T, d_ = (int)D, ld3 = (int)(3 * C), ldc = (int)C;
    for (size_t n = 0; n < N; n++) {
        const float *base = qkv + n * T * 3 * C;
        const uint8_t *vn = valid ? valid + n * T : NULL;
        for (size_t h = 0; h < H; h++) {
            float *A = att + (n * H + h) * T * T; /* (T, T) */
            const float *Q = base + h * D, *K = base + C + h * D, *V = base + 2 * C + h * D;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t_, t_, d_, scale, Q, ld3, K,
                        ld3, 0.0f, A, t_);
            for (size_t t = 0; t < T; t++)
                attn_softmax_row(A + t * T, vn, t, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t_, d_, t_, 1.0f, A, t_, V,
                        ld3, 0.0f, out + n * T * C + h * D, ldc);
        }
    }
}

void nn_attn_forward_naive(float *out, float *att, const float *qkv, const uint8_t *valid,
                           size_t N, size_t T, size_t C, size_t H)
{
    size_t D = C / H;
    float scale = 1.0f / sqrtf((float)D);
    for (size_t n = 0; n < N; n++)
        for (size_t h = 0; h < H; h++) {
            float *A = att + (n * H + h) * T * T;
            for (size_t t = 0; t < T; t++) {
                const float *q = qkv + (n * T + t) * 3 * C + h * D;
                for (size_t j = 0; j < T; j++) {
                    const float *k = qkv + (n * T + j) * 3 * C + C + h * D;
                    float s = 0;
                    for (size_t c = 0; c < D; c++)
                        s += q[c] * k[c];
                    A[t * T + j] = s * scale;
                }
                attn_softmax_row(A + t * T, valid ? valid + n * T : NULL, t, T);
                float *o = out + (n * T + t) * C + h * D;
                for (size_t c = 0; c < D; c++) {
                    float s = 0;
                    for (size_t j = 0; j <= t; j++)
                        s += A[t * T + j] * qkv[(n * T + j) * 3 * C + 2 * C + h * D + c];
                    o[c] = s;
                }
            }
        }
}

/* dS = att * (dA - rowsum(att * dA)) in place of dA (the softmax's
 * Jacobian applied row by row); masked entries have att 0 and stay 0. */
static void attn_softmax_backward(float *dA, const float *A, size_t T)
{
    for (size_t t = 0; t < T; t++) {
        float *d = dA + t * T;
        const float *a = A + t * T;
        double dot = 0;
        for (size_t j = 0; j <= t; j++)
            dot += (double)a[j] * d[j];
        for (size_t j = 0; j <= t; j++)
            d[j] = a[j] * (d[j] - (float)dot);
        for (size_t j = t + 1; j < T; j++)
            d[j] = 0.0f;
    }
}

void nn_attn_backward(float *dqkv, float *scratch, const float *dout, const float *att,
                      const float *qkv, size_t N, size_t T, size_t C, size_t H)
{
    size_t D = C / H;
    float scale = 1.0f / sqrtf((float)D);
    int t_ = (int)T, d_ = (int)D, ld3 = (int)(3 * C), ldc = (int)C;
    for (size_t n = 0; n < N; n++) {
        const float *base = qkv + n * T * 3 * C;
        float *dbase = dqkv + n * T * 3 * C;
        for (size_t h = 0; h < H; h++) {
            const float *A = att + (n * H + h) * T * T;
            const float *Q = base + h * D, *K = base + C + h * D, *V = base + 2 * C + h * D;
            float *dQ = dbase + h * D, *dK = dbase + C + h * D, *dV = dbase + 2 * C + h * D;
            const float *dY = dout + n * T * C + h * D;
            /* dV += att^T dY;  dA = dY V^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t_, d_, t_, 1.0f, A, t_, dY,
                        ldc, 1.0f, dV, ld3);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t_, t_, d_, 1.0f, dY, ldc, V,
                        ld3, 0.0f, scratch, t_);
            attn_softmax_backward(scratch, A, T);
            /* S = scale Q K^T:  dQ += scale dS K,  dK += scale dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t_, d_, t_, scale, scratch,
                        t_, K, ld3, 1.0f, dQ, ld3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t_, d_, t_, scale, scratch, t_,
                        Q, ld3, 1.0f, dK, ld3);
        }
    }
}

void nn_attn_backward_naive(float *dqkv, const float *dout, const float *att, const float *qkv,
                            size_t N, size_t T, size_t C, size_t H)
{
    size_t D = C / H;
    float scale = 1.0f / sqrtf((float)D);
    for (size_t n = 0; n < N; n++)
        for (size_t h = 0; h < H; h++) {
            const float *A = att + (n * H + h) * T * T;
            for (size_t t = 0; t < T; t++) {
                const float *dy = dout + (n * T + t) * C + h * D;
                /* dA_tj = dy . v_j, then the softmax's Jacobian */
                double dot = 0;
                float dA[T > 0 ? T : 1];
                for (size_t j = 0; j <= t; j++) {
                    const float *v = qkv + (n * T + j) * 3 * C + 2 * C + h * D;
                    float s = 0;
                    for (size_t c = 0; c < D; c++)
                        s += dy[c] * v[c];
                    dA[j] = s;
                    dot += (double)A[t * T + j] * s;
                }
                for (size_t j = 0; j <= t; j++) {
                    float a = A[t * T + j], ds = a * (dA[j] - (float)dot) * scale;
                    const float *q = qkv + (n * T + t) * 3 * C + h * D;
                    const float *k = qkv + (n * T + j) * 3 * C + C + h * D;
                    float *dq = dqkv + (n * T + t) * 3 * C + h * D;
                    float *dk = dqkv + (n * T + j) * 3 * C + C + h * D;
                    float *dv = dqkv + (n * T + j) * 3 * C + 2 * C + h * D;
                    for (size_t c = 0; c < D; c++) {
                        dq[c] += ds * k[c];
                        dk[c] += ds * q[c];
                        dv[c] += a * dy[c];
                    }
                }
            }
        }
}

void nn_mha_forward(float *out, float *qkv, float *y, float *att, const float *x,
                    const uint8_t *valid, const float *wqkv, const float *bqkv, const float *wo,
                    const float *bo, size_t N, size_t T, size_t C, size_t H)
{
    nn_dense_forward(qkv, x, wqkv, bqkv, N * T, C, 3 * C);
    nn_attn_forward(y, att, qkv, valid, N, T, C, H);
    nn_dense_forward(out, y, wo, bo, N * T, C, C);
}

void nn_mha_backward(float *dx, float *dwqkv, float *dbqkv, float *dwo, float *dbo,
                     float *dqkv, float *dy, float *scratch, const float *dout, const float *x,
                     const float *qkv, const float *y, const float *att, const float *wqkv,
                     const float *wo, size_t N, size_t T, size_t C, size_t H)
{
    size_t R = N * T;
    memset(dy, 0, R * C * sizeof *dy);
    nn_dense_backward(dy, dwo, dbo, dout, y, wo, R, C, C);
    memset(dqkv, 0, R * 3 * C * sizeof *dqkv);
    nn_attn_backward(dqkv, scratch, dy, att, qkv, N, T, C, H);
    nn_dense_backward(dx, dwqkv, dbqkv, dqkv, x, wqkv, R, C, 3 * C);
}

/* ---- positional embeddings ------------------------------------------------------------------ */

void nn_posemb_forward(float *out, const float *x, const float *pos, size_t N, size_t T,
                       size_t C)
{
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < T * C; k++)
            out[n * T * C + k] = x[n * T * C + k] + pos[k];
}

void nn_posemb_backward(float *dx, float *dpos, const float *dout, size_t N, size_t T, size_t C)
{
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < T * C; k++) {
            float d = dout[n * T * C + k];
            if (dx)
                dx[n * T * C + k] += d;
            dpos[k] += d;
        }
}

/* ---- the transformer block -------------------------------------------------------------------- */

size_t nn_tblock_size(size_t C, size_t F) { return 0 NN_TBLOCK_PARAMS(NN_VIEW_COUNT, C, F); }

void nn_tblock_bind(NnTBlockW *v, float *base, size_t C, size_t F)
{
    float *at = base;
    NN_TBLOCK_PARAMS(NN_VIEW_BIND, C, F)
}

size_t nn_tblock_acts_size(size_t N, size_t T, size_t C, size_t F, size_t H)
{
    return 0 NN_TBLOCK_ACTS(NN_VIEW_COUNT, N * T, C, F, N * H * T * T);
}

void nn_tblock_acts_bind(NnTBlockActs *v, float *base, size_t N, size_t T, size_t C, size_t F,
                         size_t H)
{
    float *at = base;
    NN_TBLOCK_ACTS(NN_VIEW_BIND, N * T, C, F, N * H * T * T)
}

/* The backward's workspace: dh, db, dy, dm (R, C); df, dr (R, F); dqkv
 * (R, 3C); the attention's (T, T). */
size_t nn_tblock_scratch_size(size_t N, size_t T, size_t C, size_t F)
{
    size_t R = N * T;
    return 4 * R * C + 2 * R * F + 3 * R * C + T * T;
}

void nn_tblock_init(const NnTBlockW *w, size_t C, size_t F, RsRng *rng)
{
    for (size_t c = 0; c < C; c++) {
        w->ln1w[c] = w->ln2w[c] = 1.0f;
        w->ln1b[c] = w->ln2b[c] = w->bo[c] = w->b2[c] = 0.0f;
    }
    for (size_t k = 0; k < 3; k++)
        nn_init_glorot(w->wqkv + k * C * C, C, C, rng);
    memset(w->bqkv, 0, 3 * C * sizeof(float));
    nn_init_glorot(w->wo, C, C, rng);
    nn_init_glorot(w->w1, F, C, rng);
    memset(w->b1, 0, F * sizeof(float));
    nn_init_glorot(w->w2, C, F, rng);
}

/* y = dropout(y) in place, sequence n's rows from rng[n]: nn_dropout_forward's
 * semantics, two 32-bit draws per 64-bit number (rng_uniform's double per
 * value was a tenth of a SASRec epoch). */
static void tblock_dropout(float *y, float *mask, float p, RsRng *rng, size_t N, size_t L)
{
    if (p <= 0 || !rng) {
        for (size_t k = 0; k < N * L; k++)
            mask[k] = 1.0f;
        return;
    }
    float scale = 1.0f / (1.0f - p);
    uint32_t keep = (uint32_t)((1.0 - (double)p) * 4294967296.0 > 4294967295.0
                                   ? 4294967295.0
                                   : (1.0 - (double)p) * 4294967296.0);
    for (size_t n = 0; n < N; n++) {
        float *yn = y + n * L, *mn = mask + n * L;
        uint64_t bits = 0;
        for (size_t k = 0; k < L; k++) {
            if ((k & 1) == 0)
                bits = rng_next(&rng[n]);
            else
                bits >>= 32;
            mn[k] = (uint32_t)bits < keep ? scale : 0.0f;
            yn[k] *= mn[k];
        }
    }
}

void nn_tblock_forward(float *out, const NnTBlockActs *a, const float *x, const uint8_t *valid,
                       const NnTBlockW *w, float p, RsRng *rng, size_t N, size_t T, size_t C,
                       size_t F, size_t H)
{
    size_t R = N * T;
    if (!rng)
        p = 0.0f;
    nn_layernorm_forward(a->a, a->mean1, a->rstd1, x, w->ln1w, w->ln1b, R, C);
    nn_mha_forward(a->o, a->qkv, a->y, a->att, a->a, valid, w->wqkv, w->bqkv, w->wo, w->bo, N, T,
                   C, H);
    tblock_dropout(a->o, a->mo, p, rng, N, T * C);
    for (size_t k = 0; k < R * C; k++)
        a->h[k] = x[k] + a->o[k];
    nn_layernorm_forward(a->b, a->mean2, a->rstd2, a->h, w->ln2w, w->ln2b, R, C);
    nn_dense_forward(a->f1, a->b, w->w1, w->b1, R, C, F);
    nn_relu_forward(a->r1, a->f1, R * F);
    tblock_dropout(a->r1, a->m1, p, rng, N, T * F);
    nn_dense_forward(a->f2, a->r1, w->w2, w->b2, R, F, C);
    tblock_dropout(a->f2, a->m2, p, rng, N, T * C);
    for (size_t k = 0; k < R * C; k++)
        out[k] = a->h[k] + a->f2[k];
}

void nn_tblock_backward(float *dx, const NnTBlockW *g, float *scratch, const float *dout,
                        const float *x, const NnTBlockActs *a, const NnTBlockW *w, size_t N,
                        size_t T, size_t C, size_t F, size_t H)
{
    size_t R = N * T;
    float *dh = scratch, *db = dh + R * C, *dy = db + R * C, *dm = dy + R * C,
          *df = dm + R * C, *dr = df + R * F, *dqkv = dr + R * F, *tt = dqkv + 3 * R * C;
    /* out = h + f2':  dh = dout;  the feed-forward branch */
    memcpy(dh, dout, R * C * sizeof *dh);
    memset(dy, 0, R * C * sizeof *dy);
    nn_dropout_backward(dy, dout, a->m2, R * C); /* dy: d(W2 r + b2) */
    memset(dr, 0, R * F * sizeof *dr);
    nn_dense_backward(dr, g->w2, g->b2, dy, a->r1, w->w2, R, F, C);
    memset(df, 0, R * F * sizeof *df);
    nn_dropout_backward(df, dr, a->m1, R * F); /* df: d relu(f1) */
    memset(dr, 0, R * F * sizeof *dr);
    nn_relu_backward(dr, df, a->f1, R * F);
    memset(db, 0, R * C * sizeof *db);
    nn_dense_backward(db, g->w1, g->b1, dr, a->b, w->w1, R, C, F);
    nn_layernorm_backward(dh, g->ln2w, g->ln2b, db, a->h, w->ln2w, a->mean2, a->rstd2, R, C);
    /* h = x + o':  dx += dh;  the attention branch */
    for (size_t k = 0; k < R * C; k++)
        dx[k] += dh[k];
    memset(dy, 0, R * C * sizeof *dy);
    nn_dropout_backward(dy, dh, a->mo, R * C); /* dy: d MHA output */
    memset(db, 0, R * C * sizeof *db);         /* db: d LN1 output */
    nn_mha_backward(db, g->wqkv, g->bqkv, g->wo, g->bo, dqkv, dm, tt, dy, a->a, a->qkv, a->y,
                    a->att, w->wqkv, w->wo, N, T, C, H);
    nn_layernorm_backward(dx, g->ln1w, g->ln1b, db, x, w->ln1w, a->mean1, a->rstd1, R, C);
}
