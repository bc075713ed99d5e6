/*
 * neumf.cu - NeuMF / GMF / MLP training epochs on the GPU (backend.h;
 * engine/neumf.c draws the samples, runs the epochs, the validation and the
 * early stopping, and calls these).
 *
 * The same computation as neumf.c's epoch with one thread: the host's
 * samples in the host's order, mini-batches of `batch`, one Adam step per
 * batch on the batch's mean binary cross-entropy, dense Adam for the tower
 * and the output layer, lazy Adam on the embedding rows the batch touched
 * (each row once, with its summed gradient). So the loss curve follows the
 * CPU's up to rounding (the parity test compares them).
 *
 * Per batch, on one stream, without synchronising:
 * - a gather kernel builds the users' and items' rows, the GMF product and
 *   the MLP input [p^M ; q^M];
 * - each dense layer is one cuBLAS SGEMM (FP32) and a bias + ReLU kernel;
 *   backward, two SGEMMs per layer (the weights' gradient, the input's)
 *   and one for the bias (the column sums, as a product with a vector of
 *   ones: a kernel summing a column serially took milliseconds at batch
 *   4096);
 * - one thread per sample computes the output logit, its loss (summed into
 *   a double for the epoch) and dlogit;
 * - the embedding gradients are added with atomicAdd into one slot per
 *   distinct row of the batch (the slots are numbered on the host, which
 *   knows the batches before the epoch starts), then an Adam kernel updates
 *   those rows; the sums' order, and so their last bits, vary from run to
 *   run.
 * Row-major matrices are handed to cuBLAS as their column-major transposes:
 * out (B, OUT) = in (B, IN) W' with W (OUT, IN) is Out' = W In'.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_internal.h"

#define NEUMF_THREADS 256

struct GpuNeumf {
    GpuNeumfDims d;
    size_t DE, Z, n, dense_at, batch;
    const GpuBlas *b;
    cublasHandle_t blas;
    cudaStream_t st;
    float *w, *m, *v;           /* (n) parameters and Adam moments, neumf.c's layout */
    float *gd;                  /* (n - dense_at) dense gradients */
    /* per batch (capacity batch) */
    float *ue, *ie, *g, *x0, *z1, *a1, *z2, *a2, *z3, *a3, *zc, *dlogit;
    float *dzc, *dg, *da3, *dz3, *da2, *dz2, *da1, *dz1, *dx0, *gu, *gi;
    float *ones;                /* (batch) 1s: column sums as matrix products */
    double *loss;               /* (1) the epoch's sum */
    /* per epoch (capacity cap samples) */
    size_t cap;
    uint32_t *su, *si, *uslot, *islot, *urows, *irows;
    float *y;
    /* host scratch */
    int64_t *ustamp, *istamp;   /* (U), (I) last batch a row was numbered in */
    uint32_t *h_uslot, *h_islot, *h_urows, *h_irows;
    size_t *h_uoff, *h_ioff;    /* (batches + 1) */
    float *h_y;
};

/* ---- kernels ---------------------------------------------------------------------------- */

/* ue, ie (B, DE) rows; g (B, KG) = p^G * q^G; x0 (B, 2E) = [p^M ; q^M] */
__global__ static void k_gather(const uint32_t *su, const uint32_t *si, const float *Pu,
                                const float *Qi, float *ue, float *ie, float *g, float *x0,
                                size_t B, size_t DE, size_t KG, size_t E)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= B * DE)
        return;
    size_t b = e / DE, d = e % DE;
    float pu = Pu[(size_t)su[b] * DE + d], qi = Qi[(size_t)si[b] * DE + d];
    ue[e] = pu;
    ie[e] = qi;
    if (d < KG) {
        g[b * KG + d] = pu * qi;
    } else {
        x0[b * 2 * E + (d - KG)] = pu;
        x0[b * 2 * E + E + (d - KG)] = qi;
    }
}

/* z (B, C) += bias; a = max(z, 0) */
__global__ static void k_bias_relu(float *z, float *a, const float *bias, size_t B, size_t C)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= B * C)
        return;
    float x = z[e] + bias[e % C];
    z[e] = x;
    a[e] = x > 0 ? x : 0;
}

/* zc = [g ; a3], logit = h . zc + h0, the loss summed, dlogit = (sigma - y) / B */
__global__ static void k_output(const float *g, const float *a3, const float *h, const float *h0,
                                const float *y, float *zc, float *dlogit, double *loss,
                                size_t B, size_t KG, size_t L3)
{
    size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    float l = 0;
    if (b < B) {
        size_t Z = KG + L3;
        float z = h0[0];
        for (size_t k = 0; k < KG; k++) {
            float v = g[b * KG + k];
            zc[b * Z + k] = v;
            z += h[k] * v;
        }
        for (size_t k = 0; k < L3; k++) {
            float v = a3[b * L3 + k];
            zc[b * Z + KG + k] = v;
            z += h[KG + k] * v;
        }
        float yb = y[b];
        /* softplus(z) - y z, without overflow */
        l = (z > 0 ? z + log1pf(expf(-z)) : log1pf(expf(z))) - yb * z;
        float s = z >= 0 ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
        dlogit[b] = (s - yb) / (float)B;
    }
    for (int o = 16; o > 0; o >>= 1)
        l += __shfl_xor_sync(0xffffffffu, l, o);
    if ((threadIdx.x & 31) == 0 && l != 0)
        atomicAdd(loss, (double)l);
}

/* dg (B, KG) = dlogit h[0..KG); dz3 (B, L3) = dlogit h[KG..) * (z3 > 0) */
__global__ static void k_out_back(const float *dlogit, const float *h, const float *z3,
                                  float *dg, float *dz3, size_t B, size_t KG, size_t L3)
{
    size_t Z = KG + L3, e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= B * Z)
        return;
    size_t b = e / Z, k = e % Z;
    float v = dlogit[b] * h[k];
    if (k < KG)
        dg[b * KG + k] = v;
    else
        dz3[b * L3 + (k - KG)] = z3[b * L3 + (k - KG)] > 0 ? v : 0;
}

/* dz = da * (z > 0) */
__global__ static void k_relu_back(float *dz, const float *da, const float *z, size_t N)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e < N)
        dz[e] = z[e] > 0 ? da[e] : 0;
}

/* The embedding gradients, summed per distinct row into gu / gi (slots) */
__global__ static void k_emb_grad(const float *dg, const float *dx0, const float *ue,
                                  const float *ie, const uint32_t *uslot, const uint32_t *islot,
                                  float *gu, float *gi, size_t B, size_t DE, size_t KG, size_t E)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= B * DE)
        return;
    size_t b = e / DE, d = e % DE;
    float du, di;
    if (d < KG) {
        float gk = dg[b * KG + d];
        du = gk * ie[e];
        di = gk * ue[e];
    } else {
        du = dx0[b * 2 * E + (d - KG)];
        di = dx0[b * 2 * E + E + (d - KG)];
    }
    atomicAdd(gu + (size_t)uslot[b] * DE + d, du);
    atomicAdd(gi + (size_t)islot[b] * DE + d, di);
}

__device__ static inline void adam_one(float *w, float g, float *m, float *v, float a1, float a2,
                                       float b1, float b2, float eps, float wd)
{
    float mk = b1 * *m + (1 - b1) * g;
    float vk = b2 * *v + (1 - b2) * g * g;
    *m = mk;
    *v = vk;
    *w -= a1 * mk / (sqrtf(vk * a2) + eps) + wd * *w;
}

__global__ static void k_adam_dense(float *w, const float *g, float *m, float *v, size_t n,
                                    float a1, float a2, float b1, float b2, float eps, float wd)
{
    size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (k < n)
        adam_one(w + k, g[k], m + k, v + k, a1, a2, b1, b2, eps, wd);
}

/* rows[0..nr) of the table W (rows of D) from their slot gradients g (nr, D) */
__global__ static void k_adam_rows(float *W, float *M, float *V, const uint32_t *rows,
                                   const float *g, size_t nr, size_t D, float a1, float a2,
                                   float b1, float b2, float eps, float wd)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= nr * D)
        return;
    size_t at = (size_t)rows[e / D] * D + e % D;
    adam_one(W + at, g[e], M + at, V + at, a1, a2, b1, b2, eps, wd);
}

/* ---- host ---------------------------------------------------------------------------------- */

static unsigned blocks_for(size_t n) { return gpu_div_up(n ? n : 1, NEUMF_THREADS); }

extern "C" void gpu_neumf_free(GpuNeumf *g)
{
    if (!g)
        return;
    if (g->st)
        cudaStreamSynchronize(g->st);
    float *fb[] = {g->w,   g->m,   g->v,   g->gd,     g->ue,  g->ie,  g->g,   g->x0,  g->z1,
                   g->a1,  g->z2,  g->a2,  g->z3,     g->a3,  g->zc,  g->dlogit, g->dzc, g->dg,
                   g->da3, g->dz3, g->da2, g->dz2,    g->da1, g->dz1, g->dx0, g->gu,  g->gi,
                   g->y,   g->ones};
    for (size_t k = 0; k < sizeof fb / sizeof fb[0]; k++)
        if (fb[k])
            cudaFree(fb[k]);
    uint32_t *ub[] = {g->su, g->si, g->uslot, g->islot, g->urows, g->irows};
    for (size_t k = 0; k < sizeof ub / sizeof ub[0]; k++)
        if (ub[k])
            cudaFree(ub[k]);
    if (g->loss)
        cudaFree(g->loss);
    if (g->blas)
        g->b->destroy(g->blas);
    if (g->st)
        cudaStreamDestroy(g->st);
    cudaGetLastError();
    free(g->ustamp);
    free(g->istamp);
    free(g->h_uslot);
    free(g->h_islot);
    free(g->h_urows);
    free(g->h_irows);
    free(g->h_uoff);
    free(g->h_ioff);
    free(g->h_y);
    free(g);
}

extern "C" int gpu_neumf_new(const GpuNeumfDims *d, const float *w, size_t n, size_t batch,
                             GpuNeumf **out, RsErr *err)
{
    *out = NULL;
    size_t DE = d->KG + d->E, Z = d->KG + d->L3;
    if (batch < 1 || DE < 1 || Z < 1 || d->U < 1 || d->I < 1 || d->U > UINT32_MAX ||
        d->I > UINT32_MAX || batch > INT32_MAX)
        return rs_err_set(err, RS_EUSAGE, "GPU NeuMF: bad sizes");
    size_t dense = 2 * d->E * d->L1 + d->L1 + d->L1 * d->L2 + d->L2 + d->L2 * d->L3 + d->L3 +
                   Z + 1;
    if (n != (d->U + d->I) * DE + dense)
        return rs_err_set(err, RS_EUSAGE, "GPU NeuMF: %zu parameters, expected %zu", n,
                          (d->U + d->I) * DE + dense);
    const GpuBlas *b;
    int rc = gpu_device_init(&b, err);
    if (rc)
        return rc;
    GpuNeumf *g = (GpuNeumf *)calloc(1, sizeof *g);
    if (!g)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    g->d = *d;
    g->DE = DE, g->Z = Z, g->n = n, g->dense_at = (d->U + d->I) * DE, g->batch = batch, g->b = b;
    g->ustamp = (int64_t *)malloc(d->U * sizeof *g->ustamp);
    g->istamp = (int64_t *)malloc(d->I * sizeof *g->istamp);
    if (!g->ustamp || !g->istamp) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    GPU_CHECK(cudaStreamCreateWithFlags(&g->st, cudaStreamNonBlocking));
    if ((rc = gpu_blas_handle(b, g->st, &g->blas, err)))
        goto done;
    GPU_CHECK(gpu_alloc(&g->w, n));
    GPU_CHECK(gpu_alloc(&g->m, n));
    GPU_CHECK(gpu_alloc(&g->v, n));
    GPU_CHECK(gpu_alloc(&g->gd, n - g->dense_at));
    GPU_CHECK(cudaMemcpy(g->w, w, n * sizeof(float), cudaMemcpyHostToDevice));
    GPU_CHECK(cudaMemset(g->m, 0, n * sizeof(float)));
    GPU_CHECK(cudaMemset(g->v, 0, n * sizeof(float)));
    {
        size_t B = batch, E = d->E;
        float **bufs[] = {&g->ue, &g->ie, &g->gu, &g->gi};
        for (size_t k = 0; k < 4; k++)
            GPU_CHECK(gpu_alloc(bufs[k], B * DE));
        GPU_CHECK(gpu_alloc(&g->g, B * d->KG));
        GPU_CHECK(gpu_alloc(&g->dg, B * d->KG));
        GPU_CHECK(gpu_alloc(&g->x0, B * 2 * E));
        GPU_CHECK(gpu_alloc(&g->dx0, B * 2 * E));
        float **l1[] = {&g->z1, &g->a1, &g->da1, &g->dz1};
        for (size_t k = 0; k < 4; k++)
            GPU_CHECK(gpu_alloc(l1[k], B * d->L1));
        float **l2[] = {&g->z2, &g->a2, &g->da2, &g->dz2};
        for (size_t k = 0; k < 4; k++)
            GPU_CHECK(gpu_alloc(l2[k], B * d->L2));
        GPU_CHECK(gpu_alloc(&g->z3, B * d->L3));
        GPU_CHECK(gpu_alloc(&g->a3, B * d->L3));
        GPU_CHECK(gpu_alloc(&g->da3, B * d->L3));
        GPU_CHECK(gpu_alloc(&g->dz3, B * d->L3));
        GPU_CHECK(gpu_alloc(&g->zc, B * Z));
        GPU_CHECK(gpu_alloc(&g->dzc, B * Z));
        GPU_CHECK(gpu_alloc(&g->dlogit, B));
        GPU_CHECK(gpu_alloc(&g->loss, 1));
        GPU_CHECK(gpu_alloc(&g->ones, B));
        float *h1 = (float *)malloc(B * sizeof(float));
        if (!h1) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t k = 0; k < B; k++)
            h1[k] = 1;
        cudaError_t ce = cudaMemcpy(g->ones, h1, B * sizeof(float), cudaMemcpyHostToDevice);
        free(h1);
        GPU_CHECK(ce);
    }
done:
    if (rc) {
        gpu_neumf_free(g);
        return rc;
    }
    *out = g;
    return RS_OK;
}

/* Room for an epoch of n samples, on the device and the host. */
static int neumf_reserve(GpuNeumf *g, size_t n, RsErr *err)
{
    int rc = RS_OK;
    if (n <= g->cap)
        return RS_OK;
    uint32_t **ub[] = {&g->su, &g->si, &g->uslot, &g->islot, &g->urows, &g->irows};
    for (size_t k = 0; k < sizeof ub / sizeof ub[0]; k++) {
        if (*ub[k])
            cudaFree(*ub[k]);
        *ub[k] = NULL;
    }
    if (g->y)
        cudaFree(g->y);
    g->y = NULL;
    g->cap = 0;
    size_t nb = (n + g->batch - 1) / g->batch;
    free(g->h_uslot);
    free(g->h_islot);
    free(g->h_urows);
    free(g->h_irows);
    free(g->h_uoff);
    free(g->h_ioff);
    free(g->h_y);
    g->h_uslot = (uint32_t *)malloc(n * sizeof(uint32_t));
    g->h_islot = (uint32_t *)malloc(n * sizeof(uint32_t));
    g->h_urows = (uint32_t *)malloc(n * sizeof(uint32_t));
    g->h_irows = (uint32_t *)malloc(n * sizeof(uint32_t));
    g->h_uoff = (size_t *)malloc((nb + 1) * sizeof(size_t));
    g->h_ioff = (size_t *)malloc((nb + 1) * sizeof(size_t));
    g->h_y = (float *)malloc(n * sizeof(float));
    if (!g->h_uslot || !g->h_islot || !g->h_urows || !g->h_irows || !g->h_uoff || !g->h_ioff ||
        !g->h_y)
        return rs_err_set(err, RS_ENOMEM, "out of memory for the GPU's samples");
    for (size_t k = 0; k < sizeof ub / sizeof ub[0]; k++)
        GPU_CHECK(gpu_alloc(ub[k], n));
    GPU_CHECK(gpu_alloc(&g->y, n));
    g->cap = n;
done:
    return rc;
}

/* Numbers the distinct rows of each batch: slot[s] is sample s's row's
 * place in its batch's list rows[off[b] .. off[b+1]). */
static void number_rows(const uint32_t *idx, size_t n, size_t batch, int64_t *stamp, size_t R,
                        uint32_t *slot, uint32_t *rows, size_t *off)
{
    for (size_t r = 0; r < R; r++)
        stamp[r] = -1;
    size_t nr = 0, b = 0;
    for (size_t from = 0; from < n; from += batch, b++) {
        off[b] = nr;
        size_t to = from + batch < n ? from + batch : n;
        for (size_t s = from; s < to; s++) {
            uint32_t r = idx[s];
            if (stamp[r] < (int64_t)off[b]) { /* not yet in this batch */
                stamp[r] = (int64_t)nr;
                rows[nr++] = r;
            }
            slot[s] = (uint32_t)((size_t)stamp[r] - off[b]);
        }
    }
    off[b] = nr;
}

extern "C" int gpu_neumf_epoch(GpuNeumf *g, const uint32_t *su, const uint32_t *si,
                               const uint8_t *sy, size_t n, const GpuAdam *opt, long *step,
                               int (*cancelled)(void *), void *cancel_ctx, double *loss,
                               RsErr *err)
{
    int rc = RS_OK;
    *loss = NAN;
    if ((rc = neumf_reserve(g, n, err)))
        return rc;
    const GpuNeumfDims *d = &g->d;
    size_t DE = g->DE, Z = g->Z, KG = d->KG, E = d->E, L1 = d->L1, L2 = d->L2, L3 = d->L3;
    number_rows(su, n, g->batch, g->ustamp, d->U, g->h_uslot, g->h_urows, g->h_uoff);
    number_rows(si, n, g->batch, g->istamp, d->I, g->h_islot, g->h_irows, g->h_ioff);
    for (size_t s = 0; s < n; s++)
        g->h_y[s] = sy[s];
    size_t nb = (n + g->batch - 1) / g->batch;
    float *Pu = g->w, *Qi = g->w + d->U * DE, *Mu = g->m, *Mi = g->m + d->U * DE,
          *Vu = g->v, *Vi = g->v + d->U * DE;
    /* the dense part's views, in neumf.c's order */
    float *W1 = g->w + g->dense_at, *b1 = W1 + L1 * 2 * E, *W2 = b1 + L1, *b2 = W2 + L2 * L1,
          *W3 = b2 + L2, *b3 = W3 + L3 * L2, *h = b3 + L3, *h0 = h + Z;
    float *gW1 = g->gd, *gb1 = gW1 + L1 * 2 * E, *gW2 = gb1 + L1, *gb2 = gW2 + L2 * L1,
          *gW3 = gb2 + L2, *gb3 = gW3 + L3 * L2, *gh = gb3 + L3, *gh0 = gh + Z;
    const float one = 1, zero = 0;
    GPU_CHECK(cudaMemcpyAsync(g->su, su, n * sizeof(uint32_t), cudaMemcpyHostToDevice, g->st));
    GPU_CHECK(cudaMemcpyAsync(g->si, si, n * sizeof(uint32_t), cudaMemcpyHostToDevice, g->st));
    GPU_CHECK(cudaMemcpyAsync(g->uslot, g->h_uslot, n * sizeof(uint32_t), cudaMemcpyHostToDevice,
                              g->st));
    GPU_CHECK(cudaMemcpyAsync(g->islot, g->h_islot, n * sizeof(uint32_t), cudaMemcpyHostToDevice,
                              g->st));
    GPU_CHECK(cudaMemcpyAsync(g->urows, g->h_urows, g->h_uoff[nb] * sizeof(uint32_t),
                              cudaMemcpyHostToDevice, g->st));
    GPU_CHECK(cudaMemcpyAsync(g->irows, g->h_irows, g->h_ioff[nb] * sizeof(uint32_t),
                              cudaMemcpyHostToDevice, g->st));
    GPU_CHECK(cudaMemcpyAsync(g->y, g->h_y, n * sizeof(float), cudaMemcpyHostToDevice, g->st));
    GPU_CHECK(cudaMemsetAsync(g->loss, 0, sizeof(double), g->st));
    for (size_t bi = 0; bi < nb; bi++) {
        if ((bi & 63) == 0 && cancelled && cancelled(cancel_ctx))
            break;
        size_t from = bi * g->batch, B = n - from < g->batch ? n - from : g->batch;
        int Bi = (int)B;
        const uint32_t *bu = g->su + from, *bis = g->si + from;
        k_gather<<<blocks_for(B * DE), NEUMF_THREADS, 0, g->st>>>(bu, bis, Pu, Qi, g->ue, g->ie,
                                                                 g->g, g->x0, B, DE, KG, E);
        GPU_LAUNCHED("k_gather");
        if (E) { /* the tower: z = in W' + b, a = ReLU(z) */
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)L1, Bi, (int)(2 * E),
                                 &one, W1, (int)(2 * E), g->x0, (int)(2 * E), &zero, g->z1,
                                 (int)L1));
            k_bias_relu<<<blocks_for(B * L1), NEUMF_THREADS, 0, g->st>>>(g->z1, g->a1, b1, B, L1);
            GPU_LAUNCHED("k_bias_relu");
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)L2, Bi, (int)L1, &one,
                                 W2, (int)L1, g->a1, (int)L1, &zero, g->z2, (int)L2));
            k_bias_relu<<<blocks_for(B * L2), NEUMF_THREADS, 0, g->st>>>(g->z2, g->a2, b2, B, L2);
            GPU_LAUNCHED("k_bias_relu");
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)L3, Bi, (int)L2, &one,
                                 W3, (int)L2, g->a2, (int)L2, &zero, g->z3, (int)L3));
            k_bias_relu<<<blocks_for(B * L3), NEUMF_THREADS, 0, g->st>>>(g->z3, g->a3, b3, B, L3);
            GPU_LAUNCHED("k_bias_relu");
        }
        k_output<<<blocks_for(B), NEUMF_THREADS, 0, g->st>>>(g->g, g->a3, h, h0, g->y + from,
                                                            g->zc, g->dlogit, g->loss, B, KG, L3);
        GPU_LAUNCHED("k_output");
        /* dh (Z) = zc' dlogit, dh0 = 1' dlogit */
        GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)Z, 1, Bi, &one, g->zc,
                             (int)Z, g->dlogit, Bi, &zero, gh, (int)Z));
        GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, Bi, &one, g->ones, 1,
                             g->dlogit, Bi, &zero, gh0, 1));
        k_out_back<<<blocks_for(B * Z), NEUMF_THREADS, 0, g->st>>>(g->dlogit, h, g->z3, g->dg,
                                                                  g->dz3, B, KG, L3);
        GPU_LAUNCHED("k_out_back");
        if (E) { /* backward through the tower: dW = dz' in, db = sum dz, din = dz W */
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)L2, (int)L3, Bi, &one,
                                 g->a2, (int)L2, g->dz3, (int)L3, &zero, gW3, (int)L2));
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)L3, 1, Bi, &one, g->dz3,
                                 (int)L3, g->ones, Bi, &zero, gb3, (int)L3));
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)L2, Bi, (int)L3, &one,
                                 W3, (int)L2, g->dz3, (int)L3, &zero, g->da2, (int)L2));
            k_relu_back<<<blocks_for(B * L2), NEUMF_THREADS, 0, g->st>>>(g->dz2, g->da2, g->z2,
                                                                        B * L2);
            GPU_LAUNCHED("k_relu_back");
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)L1, (int)L2, Bi, &one,
                                 g->a1, (int)L1, g->dz2, (int)L2, &zero, gW2, (int)L1));
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)L2, 1, Bi, &one, g->dz2,
                                 (int)L2, g->ones, Bi, &zero, gb2, (int)L2));
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)L1, Bi, (int)L2, &one,
                                 W2, (int)L1, g->dz2, (int)L2, &zero, g->da1, (int)L1));
            k_relu_back<<<blocks_for(B * L1), NEUMF_THREADS, 0, g->st>>>(g->dz1, g->da1, g->z1,
                                                                        B * L1);
            GPU_LAUNCHED("k_relu_back");
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, (int)(2 * E), (int)L1, Bi,
                                 &one, g->x0, (int)(2 * E), g->dz1, (int)L1, &zero, gW1,
                                 (int)(2 * E)));
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)L1, 1, Bi, &one, g->dz1,
                                 (int)L1, g->ones, Bi, &zero, gb1, (int)L1));
            GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)(2 * E), Bi, (int)L1,
                                 &one, W1, (int)(2 * E), g->dz1, (int)L1, &zero, g->dx0,
                                 (int)(2 * E)));
        }
        size_t nu = g->h_uoff[bi + 1] - g->h_uoff[bi], ni = g->h_ioff[bi + 1] - g->h_ioff[bi];
        GPU_CHECK(cudaMemsetAsync(g->gu, 0, nu * DE * sizeof(float), g->st));
        GPU_CHECK(cudaMemsetAsync(g->gi, 0, ni * DE * sizeof(float), g->st));
        k_emb_grad<<<blocks_for(B * DE), NEUMF_THREADS, 0, g->st>>>(
            g->dg, g->dx0, g->ue, g->ie, g->uslot + from, g->islot + from, g->gu, g->gi, B, DE, KG,
            E);
        GPU_LAUNCHED("k_emb_grad");
        long t = ++*step;
        float a1 = (float)(opt->lr / (1.0 - pow(opt->beta1, (double)t)));
        float a2 = (float)(1.0 / (1.0 - pow(opt->beta2, (double)t)));
        float wd = opt->lr * opt->weight_decay;
        size_t nd = g->n - g->dense_at;
        k_adam_dense<<<blocks_for(nd), NEUMF_THREADS, 0, g->st>>>(
            W1, g->gd, g->m + g->dense_at, g->v + g->dense_at, nd, a1, a2, opt->beta1,
            opt->beta2, opt->eps, wd);
        GPU_LAUNCHED("k_adam_dense");
        k_adam_rows<<<blocks_for(nu * DE), NEUMF_THREADS, 0, g->st>>>(
            Pu, Mu, Vu, g->urows + g->h_uoff[bi], g->gu, nu, DE, a1, a2, opt->beta1, opt->beta2,
            opt->eps, wd);
        GPU_LAUNCHED("k_adam_rows");
        k_adam_rows<<<blocks_for(ni * DE), NEUMF_THREADS, 0, g->st>>>(
            Qi, Mi, Vi, g->irows + g->h_ioff[bi], g->gi, ni, DE, a1, a2, opt->beta1, opt->beta2,
            opt->eps, wd);
        GPU_LAUNCHED("k_adam_rows");
    }
    GPU_CHECK(cudaMemcpyAsync(loss, g->loss, sizeof(double), cudaMemcpyDeviceToHost, g->st));
    GPU_CHECK(cudaStreamSynchronize(g->st));
done:
    return rc;
}

extern "C" int gpu_neumf_download(const GpuNeumf *g, float *w, RsErr *err)
{
    int rc = RS_OK;
    GPU_CHECK(cudaStreamSynchronize(g->st));
    GPU_CHECK(cudaMemcpy(w, g->w, g->n * sizeof(float), cudaMemcpyDeviceToHost));
done:
    return rc;
}
