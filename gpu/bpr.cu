/*
 * bpr.cu - LearnBPR epochs on the GPU (backend.h; engine/bpr.c runs the
 * epochs, the validation and the early stopping, and calls these).
 *
 * The same algorithm as bpr.c's CPU epoch (Rendle et al. 2009, section
 * 4.2): NNZ draws per epoch of a training entry (u, i) uniformly, an item j
 * uniformly from the items not in u's row, and one SGD step on
 * -ln sigma(x_ui - x_uj) with L2 regularisation:
 *   p <- a p + b (q_i - q_j),  q_i <- a q_i + b p,  q_j <- a q_j - b p,
 *   b_i += lr (g - reg b_i),   b_j += lr (-g - reg b_j),
 * with g = sigma(-x), a = 1 - lr reg, b = lr g and p the old p.
 *
 * - One warp per draw, lane k owning coordinates k, k + 32, ...: the two dot
 *   products are lane-partial sums reduced by shuffles, the updates are
 *   coalesced loads and stores of the three rows.
 * - Draws come from a counter-based generator (SplitMix64 of seed, epoch,
 *   draw and attempt), so no generator state lives on the device and a
 *   draw's numbers do not depend on scheduling. j is redrawn while it is in
 *   u's row (lane 0 binary-searches the sorted CSR row), at most
 *   BPR_MAX_TRIES times; a user who has (nearly) every item skips the draw.
 * - Like the CPU's threads, the warps update the shared rows without locks
 *   (Hogwild, Niu et al. 2011): thousands of draws are in flight at once, so
 *   the trajectory differs from the CPU's, not the expected result; the
 *   parity test (tests/test_gpu.c) compares the loss curves and NDCG@10.
 *   The updates are atomicAdd()s of the step (no update is lost when two
 *   warps meet on a popular item), and the rows are read with __ldcg(),
 *   past the SM's L1: L1 is not coherent with the other SMs' atomics in L2,
 *   and plain loads read rows that stay stale for the whole epoch (measured:
 *   the loss after 15 epochs 0.43 instead of the CPU's 0.20).
 * - The epoch's loss sum_draws ln(1 + e^-x) is summed in double per block
 *   and added to one double with atomicAdd (sm_60+); its last digits depend
 *   on the order of the blocks.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_internal.h"

#define BPR_THREADS 256
#define BPR_WARPS (BPR_THREADS / 32)
#define BPR_MAX_TRIES 64
#define BPR_FULL_MASK 0xffffffffu

struct GpuBpr {
    size_t U, I, NNZ, K;
    int bias;
    unsigned blocks;
    cudaStream_t stream;
    size_t *u_ptr;      /* (U + 1) CSR row starts */
    uint32_t *u_idx;    /* (NNZ) items of each row, ascending */
    uint32_t *row_of;   /* (NNZ) user of each CSR entry */
    float *P, *Q, *bi;  /* (U, K), (I, K), (I) */
    double *loss;       /* (1) */
};

__device__ static inline uint64_t bpr_mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A number below n from a 64-bit draw: the high half of r n (Lemire's
 * multiply-shift, without the rejection step: a bias below n / 2^64). */
__device__ static inline uint64_t bpr_below(uint64_t r, uint64_t n)
{
    return __umul64hi(r, n);
}

__device__ static inline int bpr_in_row(const uint32_t *row, size_t n, uint32_t j)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t v = row[mid];
        if (v == j)
            return 1;
        if (v < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

__device__ static inline float bpr_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(BPR_FULL_MASK, v, o);
    return v;
}

__global__ static void bpr_epoch_kernel(const size_t *u_ptr, const uint32_t *u_idx,
                                        const uint32_t *row_of, float *P, float *Q, float *bi,
                                        size_t NNZ, size_t I, size_t K, int bias, uint64_t key,
                                        float lr, float reg, double *loss_out)
{
    __shared__ double block_loss[BPR_WARPS];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    size_t nwarps = (size_t)gridDim.x * BPR_WARPS;
    double loss = 0;
    for (size_t s = (size_t)blockIdx.x * BPR_WARPS + warp; s < NNZ; s += nwarps) {
        uint64_t base = bpr_mix(key ^ bpr_mix(s));
        size_t k = (size_t)bpr_below(bpr_mix(base), NNZ);
        uint32_t u = row_of[k], i = u_idx[k];
        size_t rb = u_ptr[u], rn = u_ptr[u + 1] - rb;
        if (rn >= I)
            continue;
        uint32_t j = 0;
        int found = 0;
        if (lane == 0) {
            for (int t = 1; t <= BPR_MAX_TRIES && !found; t++) {
                j = (uint32_t)bpr_below(bpr_mix(base + (uint64_t)t), I);
                found = !bpr_in_row(u_idx + rb, rn, j);
            }
        }
        found = __shfl_sync(BPR_FULL_MASK, found, 0);
        j = __shfl_sync(BPR_FULL_MASK, j, 0);
        if (!found)
            continue;
        float *p = P + (size_t)u * K, *qi = Q + (size_t)i * K, *qj = Q + (size_t)j * K;
        float part = 0;
        for (size_t c = lane; c < K; c += 32)
            part += __ldcg(p + c) * (__ldcg(qi + c) - __ldcg(qj + c));
        float x = bpr_warp_sum(part);
        float bI = 0, bJ = 0;
        if (bias) {
            bI = __ldcg(bi + i);
            bJ = __ldcg(bi + j);
            x += bI - bJ;
        }
        float g = 1.0f / (1.0f + expf(x));
        float d = -lr * reg, b = lr * g;
        for (size_t c = lane; c < K; c += 32) {
            float pk = __ldcg(p + c), ik = __ldcg(qi + c), jk = __ldcg(qj + c);
            atomicAdd(p + c, d * pk + b * (ik - jk));
            atomicAdd(qi + c, d * ik + b * pk);
            atomicAdd(qj + c, d * jk - b * pk);
        }
        if (lane == 0) {
            if (bias) {
                atomicAdd(bi + i, lr * (g - reg * bI));
                atomicAdd(bi + j, lr * (-g - reg * bJ));
            }
            loss += x > 0 ? log1pf(expf(-x)) : -x + log1pf(expf(x));
        }
    }
    if (lane == 0)
        block_loss[warp] = loss;
    __syncthreads();
    if (threadIdx.x == 0) {
        double sum = 0;
        for (int w = 0; w < BPR_WARPS; w++)
            sum += block_loss[w];
        atomicAdd(loss_out, sum);
    }
}

extern "C" int gpu_bpr_new(const RsMatrix *R, const float *P, const float *Q, const float *bi,
                           size_t K, int bias, GpuBpr **out, RsErr *err)
{
    *out = NULL;
    if (K < 1 || K > 4096)
        return rs_err_set(err, RS_EUSAGE, "GPU BPR: factors must be 1..4096 (got %zu)", K);
    if (R->U == 0 || R->I == 0 || R->NNZ == 0)
        return rs_err_set(err, RS_EUSAGE, "GPU BPR: the training matrix is empty");
    if (R->U > UINT32_MAX || R->I > UINT32_MAX)
        return rs_err_set(err, RS_EUSAGE, "GPU BPR: too many rows");
    const GpuBlas *blas;
    int rc = gpu_device_init(&blas, err);
    if (rc)
        return rc;
    GpuBpr *g = (GpuBpr *)calloc(1, sizeof *g);
    uint32_t *row_of = (uint32_t *)malloc(R->NNZ * sizeof *row_of);
    int sms = 0;
    if (!g || !row_of) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t u = 0; u < R->U; u++)
        for (size_t k = R->u_ptr[u]; k < R->u_ptr[u + 1]; k++)
            row_of[k] = (uint32_t)u;
    g->U = R->U, g->I = R->I, g->NNZ = R->NNZ, g->K = K, g->bias = bias;
    GPU_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    /* enough resident warps to hide latency (measured on an H100: 132 and
     * 1056 blocks learn alike, loss within 0.1% after 15 epochs) */
    g->blocks = (unsigned)(sms > 0 ? sms * 8 : 256);
    GPU_CHECK(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
    GPU_CHECK(gpu_alloc(&g->u_ptr, R->U + 1));
    GPU_CHECK(gpu_alloc(&g->u_idx, R->NNZ));
    GPU_CHECK(gpu_alloc(&g->row_of, R->NNZ));
    GPU_CHECK(gpu_alloc(&g->P, R->U * K));
    GPU_CHECK(gpu_alloc(&g->Q, R->I * K));
    GPU_CHECK(gpu_alloc(&g->bi, R->I));
    GPU_CHECK(gpu_alloc(&g->loss, 1));
    GPU_CHECK(cudaMemcpy(g->u_ptr, R->u_ptr, (R->U + 1) * sizeof(size_t),
                         cudaMemcpyHostToDevice));
    GPU_CHECK(cudaMemcpy(g->u_idx, R->u_items, R->NNZ * sizeof(uint32_t),
                         cudaMemcpyHostToDevice));
    GPU_CHECK(cudaMemcpy(g->row_of, row_of, R->NNZ * sizeof(uint32_t), cudaMemcpyHostToDevice));
    GPU_CHECK(cudaMemcpy(g->P, P, R->U * K * sizeof(float), cudaMemcpyHostToDevice));
    GPU_CHECK(cudaMemcpy(g->Q, Q, R->I * K * sizeof(float), cudaMemcpyHostToDevice));
    GPU_CHECK(cudaMemcpy(g->bi, bi, R->I * sizeof(float), cudaMemcpyHostToDevice));
done:
    free(row_of);
    if (rc) {
        gpu_bpr_free(g);
        return rc;
    }
    *out = g;
    return RS_OK;
}

extern "C" int gpu_bpr_epoch(GpuBpr *g, uint64_t seed, uint64_t epoch, float lr, float reg,
                             double *loss, RsErr *err)
{
    int rc = RS_OK;
    uint64_t key = seed * 0xD6E8FEB86659FD93ull ^ (epoch + 1) * 0x9E3779B97F4A7C15ull;
    *loss = NAN;
    GPU_CHECK(cudaMemsetAsync(g->loss, 0, sizeof(double), g->stream));
    bpr_epoch_kernel<<<g->blocks, BPR_THREADS, 0, g->stream>>>(
        g->u_ptr, g->u_idx, g->row_of, g->P, g->Q, g->bi, g->NNZ, g->I, g->K, g->bias, key, lr,
        reg, g->loss);
    GPU_LAUNCHED("the BPR epoch");
    GPU_CHECK(cudaMemcpyAsync(loss, g->loss, sizeof(double), cudaMemcpyDeviceToHost,
                              g->stream));
    GPU_CHECK(cudaStreamSynchronize(g->stream));
done:
    return rc;
}

extern "C" int gpu_bpr_download(const GpuBpr *g, float *P, float *Q, float *bi, RsErr *err)
{
    int rc = RS_OK;
    GPU_CHECK(cudaMemcpy(P, g->P, g->U * g->K * sizeof(float), cudaMemcpyDeviceToHost));
    GPU_CHECK(cudaMemcpy(Q, g->Q, g->I * g->K * sizeof(float), cudaMemcpyDeviceToHost));
    GPU_CHECK(cudaMemcpy(bi, g->bi, g->I * sizeof(float), cudaMemcpyDeviceToHost));
done:
    return rc;
}

extern "C" void gpu_bpr_free(GpuBpr *g)
{
    if (!g)
        return;
    cudaFree(g->u_ptr);
    cudaFree(g->u_idx);
    cudaFree(g->row_of);
    cudaFree(g->P);
    cudaFree(g->Q);
    cudaFree(g->bi);
    cudaFree(g->loss);
    if (g->stream)
        cudaStreamDestroy(g->stream);
    free(g);
}
