/*
 * score.cu - batch scoring of factor models on the GPU: every listed user's
 * top-N items by x_u . y_i, leaving out the user's training items.
 *
 * Design: users are taken in blocks of B, B chosen so that the block's score
 * matrix S (B, I) fits a fixed budget of device memory (never U x I at
 * once). Per block: gather the users' factor rows, S = X_b Y' by cuBLAS SGEMM
 * (FP32), write -INFINITY over each user's excluded items, then one thread
 * block per user selects its top N: each thread keeps a sorted list of the
 * best candidates among the items it reads (coalesced, item t, t + T, ...),
 * and the block merges the lists by N rounds of a block-wide arg-max over
 * the lists' heads. The order is topk()'s (engine/model.c): higher score
 * first, ties by the smaller item index; NaN and -INFINITY never qualify.
 * With a query matrix (evaluation's test items), a second kernel over the
 * same block counts, for each query item, the row's items scoring above
 * it and the same (AUC's pair counts), while S is still on the device.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gpu_internal.h"

#define SCORE_BUDGET ((size_t)1 << 30) /* bytes for S per block of users */
#define SCORE_FULL_MASK 0xffffffffu
#define SCORE_NONE 0xffffffffu

/* a better than b: a higher score, or the same score and a smaller item */
__device__ __forceinline__ bool better(float sa, uint32_t ia, float sb, uint32_t ib)
{
    return sa > sb || (sa == sb && ia < ib);
}

/* Xb (B, K) = rows users[0..B) of X */
__global__ void gather_rows(float *__restrict__ Xb, const float *__restrict__ X,
                            const uint32_t *__restrict__ users, size_t B, int K)
{
    size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (e >= B * (size_t)K)
        return;
    size_t b = e / K;
    Xb[e] = X[(size_t)users[b] * K + e % K];
}

/* S[b][i] = -INFINITY for the items i of user users[b] in the exclusion CSR;
 * S has rows of ldS floats */
__global__ void mask_seen(float *__restrict__ S, size_t ldS, const uint32_t *__restrict__ users,
                          const size_t *__restrict__ ptr, const uint32_t *__restrict__ items)
{
    size_t b = blockIdx.x;
    uint32_t u = users[b];
    for (size_t j = ptr[u] + threadIdx.x; j < ptr[u + 1]; j += blockDim.x)
        S[b * ldS + items[j]] = -INFINITY;
}

/* Offers item i with score s to a thread's sorted list ls/li (n of N used;
 * worst / worst_i: its last entry once full). */
template <int CAP>
__device__ __forceinline__ void consider(float (&ls)[CAP], uint32_t (&li)[CAP], int &n, int N,
                                         float &worst, uint32_t &worst_i, float s, uint32_t i)
{
    if (!(s > -INFINITY)) /* NaN, -INFINITY, excluded */
        return;
    if (n == N && !better(s, i, worst, worst_i))
        return;
    int p = n < N ? n++ : N - 1; /* the free slot, or the worst's */
    while (p > 0 && better(s, i, ls[p - 1], li[p - 1])) {
        ls[p] = ls[p - 1];
        li[p] = li[p - 1];
        p--;
    }
    ls[p] = s;
    li[p] = i;
    if (n == N) {
        worst = ls[N - 1];
        worst_i = li[N - 1];
    }
}

/* One block per row b of S (B, I; rows of ldS floats, ldS a multiple of 4):
 * the best N (<= CAP) of the row into out_items/out_scores (B, N) and
 * count[b]. Threads read 4 consecutive scores at a time (16-byte loads). */
template <int CAP>
__global__ void topk_rows(uint32_t *__restrict__ out_items, float *__restrict__ out_scores,
                          uint32_t *__restrict__ count, const float *__restrict__ S, size_t I,
                          size_t ldS, int N)
{
    __shared__ float red_s[32];
    __shared__ uint32_t red_i[32];
    float ls[CAP];    /* this thread's best, sorted, best first */
    uint32_t li[CAP];
    int n = 0;
    const float4 *row = (const float4 *)(S + blockIdx.x * ldS);
    float worst = -INFINITY;
    uint32_t worst_i = SCORE_NONE;
    for (size_t i4 = threadIdx.x; i4 * 4 < I; i4 += blockDim.x) {
        float4 q = row[i4];
        uint32_t i = (uint32_t)(i4 * 4);
        consider<CAP>(ls, li, n, N, worst, worst_i, q.x, i);
        if (i + 1 < I)
            consider<CAP>(ls, li, n, N, worst, worst_i, q.y, i + 1);
        if (i + 2 < I)
            consider<CAP>(ls, li, n, N, worst, worst_i, q.z, i + 2);
        if (i + 3 < I)
            consider<CAP>(ls, li, n, N, worst, worst_i, q.w, i + 3);
    }
    /* merge: N rounds of arg-max over the heads ls[h] */
    int h = 0, lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int r = 0;
    for (; r < N; r++) {
        float s = h < n ? ls[h] : -INFINITY;
        uint32_t it = h < n ? li[h] : SCORE_NONE;
        for (int o = 16; o > 0; o >>= 1) {
            float s2 = __shfl_xor_sync(SCORE_FULL_MASK, s, o);
            uint32_t i2 = __shfl_xor_sync(SCORE_FULL_MASK, it, o);
            if (better(s2, i2, s, it)) {
                s = s2;
                it = i2;
            }
        }
        __syncthreads(); /* the last round's red_* have been read */
        if (lane == 0) {
            red_s[w] = s;
            red_i[w] = it;
        }
        __syncthreads();
        s = red_s[0];
        it = red_i[0];
        for (int q = 1; q < nw; q++)
            if (better(red_s[q], red_i[q], s, it)) {
                s = red_s[q];
                it = red_i[q];
            }
        if (it == SCORE_NONE)
            break; /* every list is exhausted (uniform: all threads agree) */
        if (h < n && li[h] == it)
            h++;
        if (threadIdx.x == 0) {
            out_items[blockIdx.x * (size_t)N + r] = it;
            out_scores[blockIdx.x * (size_t)N + r] = s;
        }
    }
    for (int q = r + threadIdx.x; q < N; q += blockDim.x) {
        out_items[blockIdx.x * (size_t)N + q] = SCORE_NONE;
        out_scores[blockIdx.x * (size_t)N + q] = -INFINITY;
    }
    if (threadIdx.x == 0)
        count[blockIdx.x] = (uint32_t)r;
}

/* Launches the top-N kernel whose list capacity fits N: fewer threads for the
 * longer lists, whose per-thread arrays live in local memory. */
/* For every query entry j of user users[b] (positions ptr[u] .. ptr[u+1]
 * of the query CSR): its score s = S[b][item], and how many entries of the
 * row score strictly above s and exactly s (the excluded are -INFINITY and
 * never count, unless s is -INFINITY itself, which the caller ignores).
 * One block per user; threads read the row coalesced, counts are summed by
 * shared-memory atomics. */
__global__ void rank_rows(uint32_t *__restrict__ above, uint32_t *__restrict__ ties,
                          float *__restrict__ qscore, const float *__restrict__ S, size_t ldS,
                          size_t I, const uint32_t *__restrict__ users,
                          const size_t *__restrict__ ptr, const uint32_t *__restrict__ qitems)
{
    __shared__ unsigned int n_above, n_ties;
    size_t b = blockIdx.x;
    uint32_t u = users[b];
    const float *row = S + b * ldS;
    for (size_t j = ptr[u]; j < ptr[u + 1]; j++) {
        float s = row[qitems[j]];
        if (threadIdx.x == 0)
            n_above = n_ties = 0;
        __syncthreads();
        unsigned int a = 0, t = 0;
        for (size_t i = threadIdx.x; i < I; i += blockDim.x) {
            float v = row[i];
            a += v > s;
            t += v == s;
        }
        for (int o = 16; o > 0; o >>= 1) {
            a += __shfl_xor_sync(SCORE_FULL_MASK, a, o);
            t += __shfl_xor_sync(SCORE_FULL_MASK, t, o);
        }
        if ((threadIdx.x & 31) == 0) {
            atomicAdd(&n_above, a);
            atomicAdd(&n_ties, t);
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            above[j] = n_above;
            ties[j] = n_ties;
            qscore[j] = s;
        }
        __syncthreads();
    }
}

static cudaError_t launch_topk(uint32_t *items, float *scores, uint32_t *count, const float *S,
                               size_t B, size_t I, size_t ldS, int N, cudaStream_t st)
{
    if (N <= 16)
        topk_rows<16><<<(unsigned)B, 256, 0, st>>>(items, scores, count, S, I, ldS, N);
    else if (N <= 64)
        topk_rows<64><<<(unsigned)B, 128, 0, st>>>(items, scores, count, S, I, ldS, N);
    else
        topk_rows<GPU_TOPK_MAX><<<(unsigned)B, 64, 0, st>>>(items, scores, count, S, I, ldS, N);
    return cudaGetLastError();
}

extern "C" int gpu_topk_factors(const float *X, size_t U, const float *Y, size_t I, size_t K,
                                const RsMatrix *exclude, const uint32_t *users, size_t nusers,
                                size_t N, uint32_t *items, float *scores, uint32_t *counts,
                                RsErr *err)
{
    return gpu_topk_rank_factors(X, U, Y, I, K, exclude, users, nusers, N, items, scores, counts,
                                 NULL, NULL, NULL, NULL, err);
}

extern "C" int gpu_topk_rank_factors(const float *X, size_t U, const float *Y, size_t I,
                                     size_t K, const RsMatrix *exclude, const uint32_t *users,
                                     size_t nusers, size_t N, uint32_t *items, float *scores,
                                     uint32_t *counts, const RsMatrix *query, uint32_t *above,
                                     uint32_t *ties, float *qscore, RsErr *err)
{
    if (N < 1 || N > GPU_TOPK_MAX)
        return rs_err_set(err, RS_EUSAGE, "GPU top-N: N must be 1..%d (got %zu)", GPU_TOPK_MAX, N);
    if (K < 1 || I < 1 || I > UINT32_MAX - 1 || U > UINT32_MAX || I > INT32_MAX ||
        K > INT32_MAX)
        return rs_err_set(err, RS_EUSAGE, "GPU top-N: bad shape (%zu users, %zu items, K %zu)", U,
                          I, K);
    if (exclude && (exclude->U != U || exclude->I != I))
        return rs_err_set(err, RS_EUSAGE, "GPU top-N: the exclusion matrix is %zu x %zu, not %zu x %zu",
                          exclude->U, exclude->I, U, I);
    if (query && (query->U != U || query->I != I || !above || !ties || !qscore))
        return rs_err_set(err, RS_EUSAGE, "GPU top-N: the query matrix is %zu x %zu, not %zu x %zu",
                          query->U, query->I, U, I);
    if (!users && nusers != U)
        return rs_err_set(err, RS_EUSAGE, "GPU top-N: nusers must be U when users is NULL");
    for (size_t k = 0; users && k < nusers; k++)
        if (users[k] >= U)
            return rs_err_set(err, RS_EUSAGE, "GPU top-N: user index %u out of range", users[k]);
    if (nusers == 0)
        return RS_OK;
    const GpuBlas *b;
    int rc = gpu_device_init(&b, err);
    if (rc)
        return rc;
    size_t ldS = (I + 3) / 4 * 4; /* 16-byte aligned rows of S */
    size_t B = SCORE_BUDGET / (ldS * sizeof(float));
    if (B < 1)
        B = 1;
    if (B > nusers)
        B = nusers;
    if (B > 65535 * 16)
        B = 65535 * 16;
    cudaStream_t st = NULL;
    cublasHandle_t h = NULL;
    float *dX = NULL, *dY = NULL, *dXb = NULL, *dS = NULL, *dscore = NULL;
    size_t *dptr = NULL, *dqptr = NULL;
    uint32_t *ditems = NULL, *dusers = NULL, *ditem_out = NULL, *dcount = NULL;
    uint32_t *dqitems = NULL, *dabove = NULL, *dties = NULL;
    float *dqscore = NULL;
    uint32_t *all = NULL;
    const uint32_t *list = users;
    if (!list) {
        if (!(all = (uint32_t *)malloc(nusers * sizeof *all)))
            return rs_err_set(err, RS_ENOMEM, "out of memory");
        for (size_t k = 0; k < nusers; k++)
            all[k] = (uint32_t)k;
        list = all;
    }
    GPU_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    if ((rc = gpu_blas_handle(b, st, &h, err)))
        goto done;
    GPU_CHECK(gpu_alloc(&dX, U * K));
    GPU_CHECK(gpu_alloc(&dY, I * K));
    GPU_CHECK(gpu_alloc(&dXb, B * K));
    GPU_CHECK(gpu_alloc(&dS, B * ldS));
    GPU_CHECK(gpu_alloc(&dusers, nusers));
    GPU_CHECK(gpu_alloc(&ditem_out, B * N));
    GPU_CHECK(gpu_alloc(&dscore, B * N));
    GPU_CHECK(gpu_alloc(&dcount, B));
    GPU_CHECK(cudaMemcpyAsync(dX, X, U * K * sizeof(float), cudaMemcpyHostToDevice, st));
    GPU_CHECK(cudaMemcpyAsync(dY, Y, I * K * sizeof(float), cudaMemcpyHostToDevice, st));
    GPU_CHECK(cudaMemcpyAsync(dusers, list, nusers * sizeof(uint32_t), cudaMemcpyHostToDevice,
                              st));
    if (exclude) {
        GPU_CHECK(gpu_alloc(&dptr, U + 1));
        GPU_CHECK(gpu_alloc(&ditems, exclude->NNZ));
        GPU_CHECK(cudaMemcpyAsync(dptr, exclude->u_ptr, (U + 1) * sizeof(size_t),
                                  cudaMemcpyHostToDevice, st));
        GPU_CHECK(cudaMemcpyAsync(ditems, exclude->u_items, exclude->NNZ * sizeof(uint32_t),
                                  cudaMemcpyHostToDevice, st));
    }
    if (query) {
        size_t qn = query->NNZ;
        GPU_CHECK(gpu_alloc(&dqptr, U + 1));
        GPU_CHECK(gpu_alloc(&dqitems, qn));
        GPU_CHECK(gpu_alloc(&dabove, qn));
        GPU_CHECK(gpu_alloc(&dties, qn));
        GPU_CHECK(gpu_alloc(&dqscore, qn));
        GPU_CHECK(cudaMemcpyAsync(dqptr, query->u_ptr, (U + 1) * sizeof(size_t),
                                  cudaMemcpyHostToDevice, st));
        GPU_CHECK(cudaMemcpyAsync(dqitems, query->u_items, qn * sizeof(uint32_t),
                                  cudaMemcpyHostToDevice, st));
        GPU_CHECK(cudaMemsetAsync(dqscore, 0, (qn ? qn : 1) * sizeof(float), st));
        GPU_CHECK(cudaMemsetAsync(dabove, 0, (qn ? qn : 1) * sizeof(uint32_t), st));
        GPU_CHECK(cudaMemsetAsync(dties, 0, (qn ? qn : 1) * sizeof(uint32_t), st));
    }
    for (size_t b0 = 0; b0 < nusers; b0 += B) {
        size_t nb = nusers - b0 < B ? nusers - b0 : B;
        const float one = 1, zero = 0;
        gather_rows<<<gpu_div_up(nb * K, 256), 256, 0, st>>>(dXb, dX, dusers + b0, nb, (int)K);
        GPU_LAUNCHED("gather_rows");
        /* S (nb, I) row-major (rows of ldS) is the column-major I x nb
         * matrix Y X_b' */
        GPU_BLAS(b, sgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, (int)I, (int)nb, (int)K, &one, dY,
                          (int)K, dXb, (int)K, &zero, dS, (int)ldS));
        if (exclude) {
            mask_seen<<<(unsigned)nb, 128, 0, st>>>(dS, ldS, dusers + b0, dptr, ditems);
            GPU_LAUNCHED("mask_seen");
        }
        GPU_CHECK(launch_topk(ditem_out, dscore, dcount, dS, nb, I, ldS, (int)N, st));
        if (query) {
            rank_rows<<<(unsigned)nb, 256, 0, st>>>(dabove, dties, dqscore, dS, ldS, I,
                                                   dusers + b0, dqptr, dqitems);
            GPU_LAUNCHED("rank_rows");
        }
        GPU_CHECK(cudaMemcpyAsync(items + b0 * N, ditem_out, nb * N * sizeof(uint32_t),
                                  cudaMemcpyDeviceToHost, st));
        GPU_CHECK(cudaMemcpyAsync(scores + b0 * N, dscore, nb * N * sizeof(float),
                                  cudaMemcpyDeviceToHost, st));
        GPU_CHECK(cudaMemcpyAsync(counts + b0, dcount, nb * sizeof(uint32_t),
                                  cudaMemcpyDeviceToHost, st));
        /* pageable host memory: the copies are done when this returns, and
         * the buffers are free for the next block */
        GPU_CHECK(cudaStreamSynchronize(st));
    }
    if (query && query->NNZ) {
        GPU_CHECK(cudaMemcpy(above, dabove, query->NNZ * sizeof(uint32_t),
                             cudaMemcpyDeviceToHost));
        GPU_CHECK(cudaMemcpy(ties, dties, query->NNZ * sizeof(uint32_t), cudaMemcpyDeviceToHost));
        GPU_CHECK(cudaMemcpy(qscore, dqscore, query->NNZ * sizeof(float),
                             cudaMemcpyDeviceToHost));
    }
done:
    if (st)
        cudaStreamSynchronize(st);
    void *bufs[] = {dX,      dY,     dXb,       dS,     dscore, dptr,  ditems, dusers,
                    ditem_out, dcount, dqptr, dqitems, dabove, dties, dqscore};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++)
        if (bufs[k])
            cudaFree(bufs[k]);
    if (h)
        b->destroy(h);
    if (st)
        cudaStreamDestroy(st);
    cudaGetLastError();
    free(all);
    return rc;
}
