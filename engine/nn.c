/*
 * nn.c - the NN toolkit of nn.h: parameter blocks, dense layers on OpenBLAS
 * sgemm (with the naive loops beside them), activations, dropout, layer
 * norm, embeddings with sparse gradients, losses and Adam / AdamW.
 *
 * Every backward pass is the hand-derived gradient of its forward pass;
 * tests/test_nn.c checks each against central finite differences.
 */
#include "nn.h"

#include <cblas.h>
/* OpenBLAS's config pulls in <complex.h>, whose macro I we do not want. */
#undef I
#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The element-wise loops and the Adam update get an AVX2 clone picked at
 * load time (glibc ifunc) and GCC's full vectoriser (-O2's cost model
 * leaves loops with a remainder scalar). */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
#define NN_HOT __attribute__((target_clones("avx2", "default"), optimize("O3")))
#elif defined(__x86_64__) && defined(__GLIBC__) && defined(__clang__) && __clang_major__ >= 16
/* clang 14 makes the ifunc of an extern target_clones function a local
 * symbol, so callers in other files do not link (make fuzz builds with it). */
#define NN_HOT __attribute__((target_clones("avx2", "default")))
#else
#define NN_HOT
#endif

/* ---- the parameter block ------------------------------------------------------ */

int nn_block_init(NnBlock *b, size_t n, RsErr *err)
{
    memset(b, 0, sizeof *b);
    if (n > SIZE_MAX / sizeof(float) / 4)
        return rs_err_set(err, RS_EUSAGE, "parameter block of %zu floats is too large", n);
    b->n = n;
    b->w = calloc(n ? n : 1, sizeof(float));
    b->g = calloc(n ? n : 1, sizeof(float));
    b->m = calloc(n ? n : 1, sizeof(float));
    b->v = calloc(n ? n : 1, sizeof(float));
    if (!b->w || !b->g || !b->m || !b->v) {
        nn_block_done(b);
        return rs_err_set(err, RS_ENOMEM, "out of memory for %zu parameters", n);
    }
    return RS_OK;
}

void nn_block_done(NnBlock *b)
{
    free(b->w);
    free(b->g);
    free(b->m);
    free(b->v);
    memset(b, 0, sizeof *b);
}

void nn_block_zero_grad(NnBlock *b) { memset(b->g, 0, b->n * sizeof(float)); }

void nn_block_save(const NnBlock *b, RsBlob *out)
{
    blob_put_u64(out, b->n);
    blob_put_f32s(out, b->w, b->n);
}

int nn_block_load(NnBlock *b, RsBlobReader *r, RsErr *err)
{
    uint64_t n;
    if (blob_get_u64(r, &n))
        return rs_err_set(err, RS_EPARSE, "parameter block: truncated");
    if (n != b->n)
        return rs_err_set(err, RS_EPARSE, "parameter block: %llu floats, expected %zu",
                          (unsigned long long)n, b->n);
    if (blob_get_f32s(r, b->w, b->n))
        return rs_err_set(err, RS_EPARSE,
                          "parameter block: %zu parameters truncated or not finite", b->n);
    return RS_OK;
}

/* ---- initialisation --------------------------------------------------------------- */

void nn_init_normal(float *w, size_t n, float std, RsRng *rng)
{
    for (size_t k = 0; k < n; k++)
        w[k] = (float)(std * rng_normal(rng));
}

void nn_init_glorot(float *w, size_t OUT, size_t IN, RsRng *rng)
{
    double a = sqrt(6.0 / (double)(IN + OUT));
    for (size_t k = 0; k < OUT * IN; k++)
        w[k] = (float)(a * (2 * rng_uniform(rng) - 1));
}

/* ---- dense -------------------------------------------------------------------------- */

void nn_dense_forward(float *out, const float *in, const float *w, const float *b, size_t B,
                      size_t IN, size_t OUT)
{
    assert(B <= INT_MAX && IN <= INT_MAX && OUT <= INT_MAX);
    if (B == 0 || OUT == 0)
        return;
    float beta = 0;
    if (b) {
        for (size_t r = 0; r < B; r++)
            memcpy(out + r * OUT, b, OUT * sizeof(float));
        beta = 1;
    }
    if (IN == 0) {
        if (!b)
            memset(out, 0, B * OUT * sizeof(float));
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)OUT, (int)IN, 1.0f, in,
                (int)IN, w, (int)IN, beta, out, (int)OUT);
}

void nn_dense_forward_naive(float *out, const float *in, const float *w, const float *b,
                            size_t B, size_t IN, size_t OUT)
{
    for (size_t r = 0; r < B; r++)
        for (size_t o = 0; o < OUT; o++) {
            float s = b ? b[o] : 0.0f;
            for (size_t k = 0; k < IN; k++)
                s += in[r * IN + k] * w[o * IN + k];
            out[r * OUT + o] = s;
        }
}

void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, size_t B, size_t IN, size_t OUT)
{
    assert(B <= INT_MAX && IN <= INT_MAX && OUT <= INT_MAX);
    if (B == 0 || OUT == 0)
        return;
    if (db)
        for (size_t r = 0; r < B; r++)
            for (size_t o = 0; o < OUT; o++)
                db[o] += dout[r * OUT + o];
    if (IN == 0)
        return;
    if (din) /* (B, IN) += (B, OUT) (OUT, IN) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)IN, (int)OUT, 1.0f,
                    dout, (int)OUT, w, (int)IN, 1.0f, din, (int)IN);
    /* (OUT, IN) += (OUT, B) (B, IN) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)OUT, (int)IN, (int)B, 1.0f, dout,
                (int)OUT, in, (int)IN, 1.0f, dw, (int)IN);
}

void nn_dense_backward_naive(float *din, float *dw, float *db, const float *dout,
                             const float *in, const float *w, size_t B, size_t IN, size_t OUT)
{
    for (size_t r = 0; r < B; r++)
        for (size_t o = 0; o < OUT; o++) {
            float d = dout[r * OUT + o];
            if (db)
                db[o] += d;
            for (size_t k = 0; k < IN; k++) {
                if (din)
                    din[r * IN + k] += d * w[o * IN + k];
                dw[o * IN + k] += d * in[r * IN + k];
            }
        }
}

/* ---- activations ------------------------------------------------------------------- */

NN_HOT void nn_relu_forward(float *y, const float *x, size_t N)
{
    for (size_t k = 0; k < N; k++)
        y[k] = x[k] > 0 ? x[k] : 0.0f;
}

NN_HOT void nn_relu_backward(float *dx, const float *dy, const float *x, size_t N)
{
    for (size_t k = 0; k < N; k++)
        dx[k] += x[k] > 0 ? dy[k] : 0.0f;
}

static float sigmoidf_(float x)
{
    /* no overflow for large |x| */
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void nn_sigmoid_forward(float *y, const float *x, size_t N)
{
    for (size_t k = 0; k < N; k++)
        y[k] = sigmoidf_(x[k]);
}

void nn_sigmoid_backward(float *dx, const float *dy, const float *y, size_t N)
{
    for (size_t k = 0; k < N; k++)
        dx[k] += dy[k] * y[k] * (1.0f - y[k]);
}

void nn_tanh_forward(float *y, const float *x, size_t N)
{
    for (size_t k = 0; k < N; k++)
        y[k] = tanhf(x[k]);
}

void nn_tanh_backward(float *dx, const float *dy, const float *y, size_t N)
{
    for (size_t k = 0; k < N; k++)
        dx[k] += dy[k] * (1.0f - y[k] * y[k]);
}

#define NN_GELU_S 0.7978845608f /* sqrt(2 / pi) */

void nn_gelu_forward(float *y, const float *x, size_t N)
{
    for (size_t k = 0; k < N; k++) {
        float v = x[k];
        y[k] = 0.5f * v * (1.0f + tanhf(NN_GELU_S * (v + 0.044715f * v * v * v)));
    }
}

void nn_gelu_backward(float *dx, const float *dy, const float *x, size_t N)
{
    for (size_t k = 0; k < N; k++) {
        float v = x[k];
        float t = tanhf(NN_GELU_S * (v + 0.044715f * v * v * v));
        float dt = NN_GELU_S * (1.0f + 3.0f * 0.044715f * v * v) * (1.0f - t * t);
        dx[k] += dy[k] * (0.5f * (1.0f + t) + 0.5f * v * dt);
    }
}

NN_HOT void nn_mul_forward(float *y, const float *a, const float *b, size_t N)
{
    for (size_t k = 0; k < N; k++)
        y[k] = a[k] * b[k];
}

NN_HOT void nn_mul_backward(float *da, float *db, const float *dy, const float *a, const float *b,
                     size_t N)
{
    for (size_t k = 0; k < N; k++) {
        if (da)
            da[k] += dy[k] * b[k];
        if (db)
            db[k] += dy[k] * a[k];
    }
}

void nn_dropout_forward(float *y, float *mask, const float *x, float p, size_t N, RsRng *rng)
{
    float keep = 1.0f - p, scale = p > 0 ? 1.0f / keep : 1.0f;
    for (size_t k = 0; k < N; k++) {
        mask[k] = p <= 0 || rng_uniform(rng) < keep ? scale : 0.0f;
        y[k] = x[k] * mask[k];
    }
}

void nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t N)
{
    for (size_t k = 0; k < N; k++)
        dx[k] += dy[k] * mask[k];
}

/* ---- layer norm ---------------------------------------------------------------------- */

void nn_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, size_t B, size_t C)
{
    for (size_t r = 0; r < B; r++) {
        const float *xr = x + r * C;
        double s = 0, ss = 0;
        for (size_t c = 0; c < C; c++)
            s += xr[c];
        double mu = C ? s / (double)C : 0;
        for (size_t c = 0; c < C; c++)
            ss += (xr[c] - mu) * (xr[c] - mu);
        float rs = (float)(1.0 / sqrt((C ? ss / (double)C : 0) + 1e-5));
        for (size_t c = 0; c < C; c++)
            y[r * C + c] = ((xr[c] - (float)mu) * rs) * w[c] + b[c];
        mean[r] = (float)mu;
        rstd[r] = rs;
    }
}

void nn_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const float *mean, const float *rstd, size_t B,
                           size_t C)
{
    for (size_t r = 0; r < B; r++) {
        const float *xr = x + r * C, *dyr = dy + r * C;
        /* the means of dnorm and dnorm * norm over the row */
        double m1 = 0, m2 = 0;
        for (size_t c = 0; c < C; c++) {
            float norm = (xr[c] - mean[r]) * rstd[r], dn = dyr[c] * w[c];
            m1 += dn;
            m2 += dn * norm;
        }
        m1 /= (double)C;
        m2 /= (double)C;
        for (size_t c = 0; c < C; c++) {
            float norm = (xr[c] - mean[r]) * rstd[r], dn = dyr[c] * w[c];
            db[c] += dyr[c];
            dw[c] += norm * dyr[c];
            if (dx)
                dx[r * C + c] += rstd[r] * (dn - (float)m1 - norm * (float)m2);
        }
    }
}

/* ---- embeddings ------------------------------------------------------------------------ */

void nn_embedding_forward(float *out, const uint32_t *idx, const float *W, size_t B, size_t D)
{
    for (size_t r = 0; r < B; r++)
        memcpy(out + r * D, W + (size_t)idx[r] * D, D * sizeof(float));
}

void nn_embedding_backward_dense(float *dW, const float *dout, const uint32_t *idx, size_t B,
                                 size_t D)
{
    for (size_t r = 0; r < B; r++)
        for (size_t k = 0; k < D; k++)
            dW[(size_t)idx[r] * D + k] += dout[r * D + k];
}

int nn_sparse_init(NnSparseGrad *s, size_t R, size_t D, size_t cap, RsErr *err)
{
    memset(s, 0, sizeof *s);
    if (R > INT32_MAX || (D && cap > SIZE_MAX / sizeof(float) / D))
        return rs_err_set(err, RS_EUSAGE, "embedding table of %zu rows is too large", R);
    s->R = R;
    s->D = D;
    s->cap = cap;
    s->rows = malloc((cap ? cap : 1) * sizeof *s->rows);
    s->g = malloc((cap * D > 0 ? cap * D : 1) * sizeof *s->g);
    s->slot = malloc((R ? R : 1) * sizeof *s->slot);
    if (!s->rows || !s->g || !s->slot) {
        nn_sparse_done(s);
        return rs_err_set(err, RS_ENOMEM, "out of memory for a sparse gradient");
    }
    for (size_t r = 0; r < R; r++)
        s->slot[r] = -1;
    return RS_OK;
}

void nn_sparse_done(NnSparseGrad *s)
{
    free(s->rows);
    free(s->g);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

void nn_sparse_clear(NnSparseGrad *s)
{
    for (size_t k = 0; k < s->n; k++)
        s->slot[s->rows[k]] = -1;
    s->n = 0;
}

float *nn_sparse_row(NnSparseGrad *s, uint32_t row)
{
    assert(row < s->R);
    int32_t at = s->slot[row];
    if (at < 0) {
        if (s->n >= s->cap)
            return NULL;
        at = (int32_t)s->n++;
        s->slot[row] = at;
        s->rows[at] = row;
        memset(s->g + (size_t)at * s->D, 0, s->D * sizeof(float));
    }
    return s->g + (size_t)at * s->D;
}

int nn_embedding_backward(NnSparseGrad *s, const float *dout, const uint32_t *idx, size_t B)
{
    size_t D = s->D;
    for (size_t r = 0; r < B; r++) {
        float *g = nn_sparse_row(s, idx[r]);
        if (!g)
            return -1;
        for (size_t k = 0; k < D; k++)
            g[k] += dout[r * D + k];
    }
    return 0;
}

/* ---- losses ----------------------------------------------------------------------------- */

/* ln(1 + e^x) without overflow */
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

double nn_bce_logits_forward(const float *z, const float *y, size_t N)
{
    double s = 0;
    for (size_t k = 0; k < N; k++)
        s += softplus(z[k]) - (double)y[k] * z[k];
    return N ? s / (double)N : 0;
}

void nn_bce_logits_backward(float *dz, const float *z, const float *y, size_t N, float scale)
{
    float c = N ? scale / (float)N : 0;
    for (size_t k = 0; k < N; k++)
        dz[k] += c * (sigmoidf_(z[k]) - y[k]);
}

double nn_sampled_softmax_forward(const float *z, size_t B, size_t C)
{
    double s = 0;
    for (size_t r = 0; r < B; r++) {
        const float *zr = z + r * C;
        float mx = zr[0];
        for (size_t c = 1; c < C; c++)
            mx = zr[c] > mx ? zr[c] : mx;
        double se = 0;
        for (size_t c = 0; c < C; c++)
            se += exp((double)zr[c] - mx);
        s += log(se) + mx - zr[0];
    }
    return B ? s / (double)B : 0;
}

void nn_sampled_softmax_backward(float *dz, const float *z, size_t B, size_t C, float scale)
{
    float cb = B ? scale / (float)B : 0;
    for (size_t r = 0; r < B; r++) {
        const float *zr = z + r * C;
        float mx = zr[0];
        for (size_t c = 1; c < C; c++)
            mx = zr[c] > mx ? zr[c] : mx;
        double se = 0;
        for (size_t c = 0; c < C; c++)
            se += exp((double)zr[c] - mx);
        for (size_t c = 0; c < C; c++) {
            float p = (float)(exp((double)zr[c] - mx) / se);
            dz[r * C + c] += cb * (p - (c == 0 ? 1.0f : 0.0f));
        }
    }
}

double nn_bpr_forward(const float *pos, const float *neg, size_t N)
{
    double s = 0;
    for (size_t k = 0; k < N; k++)
        s += softplus((double)neg[k] - pos[k]);
    return N ? s / (double)N : 0;
}

void nn_bpr_backward(float *dpos, float *dneg, const float *pos, const float *neg, size_t N,
                     float scale)
{
    float c = N ? scale / (float)N : 0;
    for (size_t k = 0; k < N; k++) {
        float g = c * sigmoidf_(neg[k] - pos[k]);
        dpos[k] -= g;
        dneg[k] += g;
    }
}

/* ---- optimisers ------------------------------------------------------------------------- */

void nn_adam_default(NnAdam *o)
{
    o->lr = 1e-3f;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = 0;
}

/* The bias-corrected step sizes of step t: w -= a1 * m / (sqrt(v * a2) + eps). */
static void adam_coefs(const NnAdam *o, long t, float *a1, float *a2)
{
    *a1 = (float)(o->lr / (1.0 - pow(o->beta1, (double)t)));
    *a2 = (float)(1.0 / (1.0 - pow(o->beta2, (double)t)));
}

NN_HOT static void adam_update(float *restrict w, const float *restrict g, float *restrict m,
                        float *restrict v, size_t n, const NnAdam *o, float a1, float a2)
{
    float b1 = o->beta1, b2 = o->beta2, eps = o->eps, wd = o->lr * o->weight_decay;
    for (size_t k = 0; k < n; k++) {
        float gk = g[k];
        m[k] = b1 * m[k] + (1 - b1) * gk;
        v[k] = b2 * v[k] + (1 - b2) * gk * gk;
        w[k] -= a1 * m[k] / (sqrtf(v[k] * a2) + eps) + wd * w[k];
    }
}

void nn_adam_step(float *w, const float *g, float *m, float *v, size_t n, const NnAdam *o,
                  long t)
{
    float a1, a2;
    adam_coefs(o, t, &a1, &a2);
    adam_update(w, g, m, v, n, o, a1, a2);
}

void nn_adam_sparse(float *W, float *M, float *V, const NnSparseGrad *s, const NnAdam *o,
                    long t)
{
    float a1, a2;
    adam_coefs(o, t, &a1, &a2);
    size_t D = s->D;
    for (size_t k = 0; k < s->n; k++) {
        size_t at = (size_t)s->rows[k] * D;
        adam_update(W + at, s->g + k * D, M + at, V + at, D, o, a1, a2);
    }
}

/* ---- early stopping ------------------------------------------------------------------ */

int nn_best_offer(NnBest *best, const NnBlock *b, int epoch, double value, int patience,
                  RsErr *err)
{
    if (isnan(value))
        return 0;
    if (best->epoch == 0 || value > best->value) {
        if (!best->w && !(best->w = malloc((b->n ? b->n : 1) * sizeof *best->w)))
            return rs_err_set(err, RS_ENOMEM, "out of memory for a snapshot");
        memcpy(best->w, b->w, b->n * sizeof *best->w);
        best->value = value;
        best->epoch = epoch;
        return 0;
    }
    return epoch - best->epoch >= patience;
}

void nn_best_finish(NnBest *best, NnBlock *b)
{
    if (best->w)
        memcpy(b->w, best->w, b->n * sizeof *best->w);
    nn_best_done(best);
}

void nn_best_done(NnBest *best)
{
    free(best->w);
    memset(best, 0, sizeof *best);
}

/* ---- cosines of embedding rows ---------------------------------------------------------- */

float nn_cosine(const float *a, const float *b, size_t D)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t k = 0; k < D; k++) {
        ab += (double)a[k] * b[k];
        aa += (double)a[k] * a[k];
        bb += (double)b[k] * b[k];
    }
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : NAN;
}

void nn_similar_rows(const float *W, size_t R, size_t D, uint32_t row, float *scores)
{
    const float *q = W + (size_t)row * D;
    for (size_t j = 0; j < R; j++) {
        float c = j == row ? NAN : nn_cosine(q, W + j * D, D);
        scores[j] = isfinite(c) ? c : -INFINITY;
    }
}

int nn_similar_items(const float *W, size_t I, size_t D, uint32_t item, float *scores,
                     RsErr *err)
{
    if (item >= I)
        return rs_err_set(err, RS_ENOTFOUND, "item %u out of range (%zu items)", item, I);
    nn_similar_rows(W, I, D, item, scores);
    return RS_OK;
}
