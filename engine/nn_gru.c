/*
 * nn_gru.c - the GRU layer and the BPR-max loss of nn_gru.h.
 *
 * The forward pass does the input side of all T steps as one sgemm
 * ((T B, D) by (D, 3H)), then one (B, H) by (H, 3H) sgemm per step for the
 * recurrent side. The backward pass walks the steps backwards doing only
 * what depends on the step (the gates' gradients and dh_{t-1}), keeps the
 * gates' pre-activation gradients of every step, and does the weight
 * gradients and the input gradient as whole-sequence sgemms at the end.
 * tests/test_gru4rec.c checks the gradients against finite differences.
 */
#include "nn_gru.h"

#include <cblas.h>
/* OpenBLAS's config pulls in <complex.h>, whose macro I we do not want. */
#undef I
#include <math.h>
#include <string.h>

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

/* y (R, C) += 1 b^T: the bias b (C) added to each of R rows */
static void add_rows(float *y, const float *b, size_t R, size_t C)
{
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++)
            y[r * C + c] += b[c];
}

/* db (C) += column sums of dy (R, C) */
static void col_sums(float *db, const float *dy, size_t R, size_t C)
{
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++)
            db[c] += dy[r * C + c];
}

void nn_gru_forward(float *hs, float *gates, float *hn, float *xg, const float *x,
                    const NnGruWeights *w, size_t T, size_t B, size_t D, size_t H)
{
    size_t G = 3 * H, TB = T * B;
    if (TB == 0)
        return;
    /* xg (TB, 3H) = x Wx^T + bx: the input side of every step at once */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)TB, (int)G, (int)D, 1.0f, x,
                (int)D, w->Wx, (int)D, 0.0f, xg, (int)G);
    add_rows(xg, w->bx, TB, G);
    for (size_t t = 0; t < T; t++) {
        const float *hp = hs + t * B * H, *xt = xg + t * B * G;
        float *ht = hs + (t + 1) * B * H, *gt = gates + t * B * G, *hnt = hn + t * B * H;
        /* gt (B, 3H) = h_{t-1} Wh^T + bh, then the gates in place */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)G, (int)H, 1.0f, hp,
                    (int)H, w->Wh, (int)H, 0.0f, gt, (int)G);
        add_rows(gt, w->bh, B, G);
        for (size_t b = 0; b < B; b++) {
            float *g = gt + b * G;
            const float *xb = xt + b * G, *hpb = hp + b * H;
            for (size_t k = 0; k < H; k++) {
                float r = sigmoidf(xb[k] + g[k]);
                float z = sigmoidf(xb[H + k] + g[H + k]);
                float hnv = g[2 * H + k];
                float n = tanhf(xb[2 * H + k] + r * hnv);
                hnt[b * H + k] = hnv;
                g[k] = r;
                g[H + k] = z;
                g[2 * H + k] = n;
                ht[b * H + k] = (1.0f - z) * n + z * hpb[k];
            }
        }
    }
}

void nn_gru_forward_naive(float *hs, const float *x, const NnGruWeights *w, size_t T, size_t B,
                          size_t D, size_t H)
{
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++) {
            const float *xt = x + (t * B + b) * D, *hp = hs + (t * B + b) * H;
            float *ht = hs + ((t + 1) * B + b) * H;
            for (size_t k = 0; k < H; k++) {
                double a[3], c[3];
                for (size_t q = 0; q < 3; q++) {
                    const float *wx = w->Wx + (q * H + k) * D, *wh = w->Wh + (q * H + k) * H;
                    a[q] = w->bx[q * H + k];
                    c[q] = w->bh[q * H + k];
                    for (size_t j = 0; j < D; j++)
                        a[q] += (double)wx[j] * xt[j];
                    for (size_t j = 0; j < H; j++)
                        c[q] += (double)wh[j] * hp[j];
                }
                double r = 1 / (1 + exp(-(a[0] + c[0]))), z = 1 / (1 + exp(-(a[1] + c[1])));
                double n = tanh(a[2] + r * c[2]);
                ht[k] = (float)((1 - z) * n + z * hp[k]);
            }
        }
}

void nn_gru_backward(float *dx, const NnGruWeights *dw, float *dhs, float *dgx, float *dgh,
                     const float *x, const float *hs, const float *gates, const float *hn,
                     const NnGruWeights *w, size_t T, size_t B, size_t D, size_t H)
{
    size_t G = 3 * H, TB = T * B;
    if (TB == 0)
        return;
    for (size_t t = T; t-- > 0;) {
        const float *hp = hs + t * B * H, *gt = gates + t * B * G, *hnt = hn + t * B * H;
        const float *dh = dhs + (t + 1) * B * H;
        float *dhp = dhs + t * B * H, *gx = dgx + t * B * G, *gh = dgh + t * B * G;
        for (size_t b = 0; b < B; b++)
            for (size_t k = 0; k < H; k++) {
                size_t i = b * H + k, j = b * G + k;
                float r = gt[j], z = gt[j + H], n = gt[j + 2 * H], d = dh[i];
                float dan = d * (1.0f - z) * (1.0f - n * n);       /* d(pre-tanh) */
                float dar = dan * hnt[i] * r * (1.0f - r);         /* d(pre-sigma r) */
                float daz = d * (hp[i] - n) * z * (1.0f - z);      /* d(pre-sigma z) */
                gx[j] = dar;
                gx[j + H] = daz;
                gx[j + 2 * H] = dan;
                gh[j] = dar;
                gh[j + H] = daz;
                gh[j + 2 * H] = dan * r;
                dhp[i] += d * z;                                   /* h_t = ... + z h_{t-1} */
            }
        /* dh_{t-1} += gh Wh */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)G, 1.0f, gh,
                    (int)G, w->Wh, (int)H, 1.0f, dhp, (int)H);
    }
    /* dWh += dgh^T h_{0..T-1};  dWx += dgx^T x;  biases;  dx += dgx Wx */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)H, (int)TB, 1.0f, dgh,
                (int)G, hs, (int)H, 1.0f, dw->Wh, (int)H);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)D, (int)TB, 1.0f, dgx,
                (int)G, x, (int)D, 1.0f, dw->Wx, (int)D);
    col_sums(dw->bh, dgh, TB, G);
    col_sums(dw->bx, dgx, TB, G);
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)TB, (int)D, (int)G, 1.0f,
                    dgx, (int)G, w->Wx, (int)D, 1.0f, dx, (int)D);
}

/* ---- sampled softmax, fused -------------------------------------------------------------- */

double nn_softmax_xent(float *dz, const float *z, size_t B, size_t C, float scale)
{
    double L = 0;
    float cb = B ? scale / (float)B : 0;
    for (size_t r = 0; r < B; r++) {
        const float *zr = z + r * C;
        float *dr = dz + r * C, mx = zr[0], se = 0;
        for (size_t c = 1; c < C; c++)
            mx = zr[c] > mx ? zr[c] : mx;
        for (size_t c = 0; c < C; c++) {
            dr[c] = expf(zr[c] - mx);
            se += dr[c];
        }
        float k = cb / se;
        for (size_t c = 0; c < C; c++)
            dr[c] *= k;
        dr[0] -= cb;
        L += (double)logf(se) + mx - zr[0];
    }
    return B ? L / (double)B : 0;
}

/* ---- BPR-max ---------------------------------------------------------------------------- */

/* One row: the loss, and when dr is not NULL dr += c * its gradient. With
 * e_j = e^(r_j - max), s_j = e_j / Z, sigma_j = sigma(r_0 - r_j):
 *   P = sum_j s_j sigma_j,  R2 = sum_j s_j r_j^2,  L = -log P + lambda R2,
 *   dL/dr_0 = -sum_j w_j (1 - sigma_j),  w_j = s_j sigma_j / P,
 *   dL/dr_j = s_j - w_j sigma_j + lambda s_j (r_j^2 - R2 + 2 r_j). */
static double bpr_max_row(float *dr, const float *r, size_t C, double lambda, double c)
{
    double mx = -INFINITY, r0 = r[0];
    for (size_t j = 1; j < C; j++)
        if (isfinite(r[j]) && r[j] > mx)
            mx = r[j];
    if (!isfinite(mx))
        return 0; /* no negative */
    double Z = 0, P = 0, R2 = 0;
    for (size_t j = 1; j < C; j++)
        if (isfinite(r[j])) {
            double e = exp(r[j] - mx), sg = 1 / (1 + exp(r[j] - r0));
            Z += e;
            P += e * sg;
            R2 += e * r[j] * r[j];
        }
    P /= Z;
    R2 /= Z;
    P = P > 1e-300 ? P : 1e-300; /* the positive ~700 below every negative */
    if (dr) {
        double d0 = 0;
        for (size_t j = 1; j < C; j++) {
            if (!isfinite(r[j]))
                continue;
            double s = exp(r[j] - mx) / Z, sg = 1 / (1 + exp(r[j] - r0)), w = s * sg / P;
            d0 -= w * (1 - sg);
            dr[j] += (float)(c * (s - w * sg + lambda * s * (r[j] * r[j] - R2 + 2 * r[j])));
        }
        dr[0] += (float)(c * d0);
    }
    return -log(P) + lambda * R2;
}

double nn_bpr_max_forward(const float *r, size_t B, size_t C, float lambda)
{
    double s = 0;
    for (size_t b = 0; b < B; b++)
        s += bpr_max_row(NULL, r + b * C, C, lambda, 0);
    return B ? s / (double)B : 0;
}

void nn_bpr_max_backward(float *dr, const float *r, size_t B, size_t C, float lambda,
                         float scale)
{
    double c = B ? (double)scale / (double)B : 0;
    for (size_t b = 0; b < B; b++)
        bpr_max_row(dr + b * C, r + b * C, C, lambda, c);
}
