/*
 * als.cu - implicit-feedback ALS on the GPU: the sweeps and the loss of
 * engine/als.c, same algorithm, same order of operations per row, so the
 * loss curves agree with the CPU's up to float rounding.
 *
 * Design:
 * - The CSR (users) and CSC (items) index arrays and their confidences are
 *   uploaded once by gpu_als_new, with the factors; each sweep touches only
 *   device memory. Rows are visited longest first (a permutation computed
 *   once per side), so the few very popular items do not start last and
 *   leave the GPU idle at the end of a sweep.
 * - The Gram matrix G = F'F + reg I of the fixed side is one cuBLAS SGEMM
 *   (FP32, no TF32) per half-sweep, then a kernel adds reg and mirrors the
 *   upper triangle into the lower one, as als.c's gram() does.
 * - CG (Takacs, Pilaszy & Tikk 2011, alg. 2; als_solve_cg): one thread block
 *   per row, thread k owning coordinate k of x, r, p and Ap. G p is read
 *   column-wise from global memory (coalesced; G stays in L1/L2). The sparse
 *   part sum_j w_j y_j runs in tiles of entries j: each warp computes the dot
 *   products y_j . v of its share of the tile (lanes over k, shuffle
 *   reduction), then every thread adds w_j y_jk over the tile. Long rows
 *   (popular items: on skewed data one item can hold most users) get blocks
 *   of up to 1024 threads, several groups of K splitting the entries, on a
 *   second stream beside the ordinary rows; a two-warp block would take
 *   longer over one such row than the GPU over all the others.
 * - Exact solves (the last user sweep; als_solve_naive): one block per row
 *   forms A = G + sum_j (c_j - 1) y_j y_j' (32-row register tiles, y_j's
 *   entries broadcast by warp shuffles) and b = sum_j c_j y_j, factors A by
 *   Cholesky in shared memory (in global scratch when K*K floats exceed what
 *   a block may have) and solves by forward and back substitution.
 * - The loss is one block per user for x'Gx and the data terms, summed in
 *   double per block; the host adds the blocks' partial sums in a fixed order,
 *   so the loss does not depend on scheduling.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_internal.h"

#define ALS_TILE 128       /* entries j per tile of the sparse part, ordinary rows */
#define ALS_TILE_LONG 1024 /* the same for long rows */
#define ALS_LONG_THREADS 1024
#define ALS_LOSS_BLOCKS 1024
#define ALS_FULL_MASK 0xffffffffu

struct GpuAls {
    size_t U, I, NNZ, K;
    float reg;
    unsigned threads;        /* per row block: K rounded up to a warp (KP) */
    unsigned long_threads;   /* per long-row block: KP times the groups */
    size_t u_long, i_long;   /* the first u_long / i_long rows of the orders are long */
    int exact_blocks;        /* persistent grid of the exact solver */
    size_t exact_smem;       /* its dynamic shared memory (0: global scratch) */
    int gram_of;             /* whose Gram matrix G holds: -1 none, 0 X'X, 1 Y'Y */
    cudaStream_t stream;
    cudaStream_t stream2;    /* long rows, beside the ordinary ones on stream */
    cudaEvent_t fork, join;
    const GpuBlas *b;
    cublasHandle_t blas;
    size_t *u_ptr;           /* (U + 1) CSR row starts */
    uint32_t *u_idx;         /* (NNZ) items of each user */
    float *u_conf;           /* (NNZ) confidences, CSR order */
    uint32_t *u_order;       /* (U) users, most items first */
    size_t *i_ptr;           /* (I + 1) CSC column starts */
    uint32_t *i_idx;         /* (NNZ) users of each item */
    float *i_conf;           /* (NNZ) confidences, CSC order */
    uint32_t *i_order;       /* (I) items, most users first */
    float *X;                /* (U, K) */
    float *Y;                /* (I, K) */
    float *G;                /* (K, K) F'F + reg I, both triangles */
    float *scratch;          /* (exact_blocks, K, ld) Cholesky scratch when not in shared memory */
    double *partial;         /* (2 * ALS_LOSS_BLOCKS) loss partial sums */
    int *failed;             /* (1) set when an exact system is not positive definite */
};

/* ---- block-level helpers ------------------------------------------------------------ */

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(ALS_FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ double warp_sum_d(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(ALS_FULL_MASK, v, o);
    return v;
}

/* Sum over the block of v (every thread gets it); red (32) is shared
 * scratch. Adds the warps' sums in a fixed order. */
__device__ float block_sum(float v, float *red)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* red is free again */
    if (lane == 0)
        red[w] = v;
    __syncthreads();
    float s = 0;
    for (int k = 0; k < nw; k++)
        s += red[k];
    return s;
}

/* (G v)_k for v (K) in shared memory; G symmetric, read by columns so that
 * consecutive threads read consecutive addresses. */
__device__ __forceinline__ float symv_k(const float *__restrict__ G, const float *v, int k,
                                        int K)
{
    float s = 0;
    for (int q = 0; q < K; q++)
        s += G[(size_t)q * K + k] * v[q];
    return s;
}

/* Row blocks: blockDim.x = G * KP threads, KP = K rounded up to a warp;
 * thread (g, k) = (threadIdx.x / KP, threadIdx.x % KP). G = 1 for ordinary
 * rows; long rows (many entries) get G > 1 groups that split the entries
 * and the rows of G between them, so that one long row does not keep a
 * two-warp block busy long after the rest of the sweep is done. */

/* Sum of v over the G groups for coordinate k (every thread gets its k's
 * sum); gacc (G * KP) is shared scratch. Adds the groups in a fixed order. */
__device__ __forceinline__ float group_sum(float v, float *gacc, int KP, int G)
{
    if (G == 1)
        return v;
    __syncthreads(); /* gacc is free again */
    gacc[threadIdx.x] = v;
    __syncthreads();
    int k = threadIdx.x % KP;
    float s = 0;
    for (int g = 0; g < G; g++)
        s += gacc[g * KP + k];
    return s;
}

/* Group g's share of sum_j w_j y_jk over the row's entries j (every G-th
 * entry of each tile), where w_j = c_j - (c_j - 1) d_j (residual) or
 * (c_j - 1) d_j (not residual), d_j = y_j . v, v (K) in shared memory.
 * Every warp of the block computes dot products of the tile (two entries at
 * a time, so that their loads overlap); coef and sidx (tile) are shared
 * scratch. Every thread of the block calls it. */
__device__ float rows_accumulate(const float *__restrict__ Y, const uint32_t *__restrict__ idx,
                                 const float *__restrict__ conf, size_t n, const float *v,
                                 int K, int KP, int G, int tile, int residual, float *coef,
                                 uint32_t *sidx)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    int k = threadIdx.x % KP, g = threadIdx.x / KP;
    float acc = 0;
    for (size_t t0 = 0; t0 < n; t0 += tile) {
        int tn = (int)(n - t0 < (size_t)tile ? n - t0 : (size_t)tile);
        for (int j = w; j < tn; j += 2 * nw) {
            int j2 = j + nw < tn ? j + nw : j;
            uint32_t i1 = idx[t0 + j], i2 = idx[t0 + j2];
            const float *y1 = Y + (size_t)i1 * K, *y2 = Y + (size_t)i2 * K;
            float d1 = 0, d2 = 0;
            for (int q = lane; q < K; q += 32) {
                d1 += y1[q] * v[q];
                d2 += y2[q] * v[q];
            }
            d1 = warp_sum(d1);
            d2 = warp_sum(d2);
            if (lane == 0) {
                float c1 = conf[t0 + j], c2 = conf[t0 + j2];
                coef[j] = residual ? c1 - (c1 - 1) * d1 : (c1 - 1) * d1;
                sidx[j] = i1;
                if (j2 != j) {
                    coef[j2] = residual ? c2 - (c2 - 1) * d2 : (c2 - 1) * d2;
                    sidx[j2] = i2;
                }
            }
        }
        __syncthreads();
        if (k < K) {
#pragma unroll 4
            for (int j = g; j < tn; j += G)
                acc += coef[j] * Y[(size_t)sidx[j] * K + k];
        }
        __syncthreads(); /* coef and sidx are rewritten by the next tile */
    }
    return acc;
}

/* ---- the Gram matrix ----------------------------------------------------------------- */

/* G (K, K) += reg I, and the lower triangle := the upper (row-major), so that
 * G is exactly symmetric whatever order SGEMM summed in. */
__global__ void gram_finish(float *G, int K, float reg)
{
    int r = blockIdx.y, s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s >= K)
        return;
    if (r == s)
        G[(size_t)r * K + s] += reg;
    else if (s < r)
        G[(size_t)r * K + s] = G[(size_t)s * K + r];
}

/* ---- CG (als_solve_cg) --------------------------------------------------------------- */

/* One block per row order[row0 + blockIdx.x]: `steps` CG iterations on
 * (G + sum_j (c_j - 1) y_j y_j') x = sum_j c_j y_j from the current x.
 * blockDim.x = Gn * KP (groups as above). Every group holds the vectors x,
 * r, p, Ap for its coordinate k; group 0 writes x back. Shared memory: v
 * (KP), coef and sidx (tile each), gacc (Gn * KP when Gn > 1), red (32). */
__global__ void __launch_bounds__(ALS_LONG_THREADS)
cg_rows(float *__restrict__ dst, const float *__restrict__ src,
                        const float *__restrict__ G, const size_t *__restrict__ ptr,
                        const uint32_t *__restrict__ idx, const float *__restrict__ conf,
                        const uint32_t *__restrict__ order, size_t row0, int K, int steps,
                        int tile)
{
    extern __shared__ float sh[];
    int KP = (K + 31) / 32 * 32, Gn = blockDim.x / KP;
    float *v = sh, *coef = sh + KP;
    uint32_t *sidx = (uint32_t *)(coef + tile);
    float *gacc = (float *)(sidx + tile);
    float *red = gacc + (Gn > 1 ? Gn * KP : 0);
    int k = threadIdx.x % KP, g = threadIdx.x / KP;
    bool on = k < K, lead = on && g == 0; /* lead: counted once in block sums */
    size_t row = order[row0 + blockIdx.x];
    size_t a = ptr[row], n = ptr[row + 1] - a;
    float *x = dst + row * (size_t)K;

    float xk = on ? x[k] : 0;
    if (g == 0)
        v[k] = xk;
    __syncthreads();
    /* r = sum_j c_j y_j - G x - sum_j (c_j - 1)(y_j . x) y_j; group g takes
     * the rows q = g, g + Gn, ... of G */
    float part = 0;
    if (on)
        for (int q = g; q < K; q += Gn)
            part -= G[(size_t)q * K + k] * v[q];
    part += rows_accumulate(src, idx + a, conf + a, n, v, K, KP, Gn, tile, 1, coef, sidx);
    float rk = group_sum(part, gacc, KP, Gn); /* 0 where !on: part is */
    float pk = rk;
    float rs_old = block_sum(lead ? rk * rk : 0, red);
    for (int it = 0; it < steps && rs_old > 1e-20f; it++) {
        __syncthreads(); /* everyone is done reading v */
        if (g == 0)
            v[k] = pk;
        __syncthreads();
        /* Ap = G p + sum_j (c_j - 1)(y_j . p) y_j */
        part = 0;
        if (on)
            for (int q = g; q < K; q += Gn)
                part += G[(size_t)q * K + k] * v[q];
        part += rows_accumulate(src, idx + a, conf + a, n, v, K, KP, Gn, tile, 0, coef, sidx);
        float apk = group_sum(part, gacc, KP, Gn);
        float pap = block_sum(lead ? pk * apk : 0, red);
        if (!(pap > 0))
            break;
        float alpha = rs_old / pap;
        xk += alpha * pk;
        rk -= alpha * apk;
        float rs_new = block_sum(lead ? rk * rk : 0, red);
        float beta = rs_new / rs_old;
        pk = rk + beta * pk;
        rs_old = rs_new;
    }
    if (lead)
        x[k] = xk;
}

/* ---- exact solves (als_solve_naive) ---------------------------------------------------- */

/* A persistent grid; each block solves rows order[blockIdx.x], then
 * gridDim.x further on, ... A (K, ld) lives in dynamic shared memory, or in
 * scratch + blockIdx.x * K * ld when `global_a`; ld is odd, so that the
 * threads of a warp, one per row r, reach A[r][s] in different banks.
 * Thread r owns row r of A, b_r and the solution's x_r. */
__global__ void exact_rows(float *__restrict__ dst, const float *__restrict__ src,
                           const float *__restrict__ G, const size_t *__restrict__ ptr,
                           const uint32_t *__restrict__ idx, const float *__restrict__ conf,
                           const uint32_t *__restrict__ order, size_t nrows, int K, int ld,
                           float *scratch, int global_a, int *failed)
{
    extern __shared__ float sh[];
    __shared__ float zc;     /* the pivot value being broadcast */
    __shared__ int bad;
    float *A = global_a ? scratch + (size_t)blockIdx.x * K * ld : sh;
    int t = threadIdx.x, lane = t & 31;
    bool on = t < K;
    for (size_t o = blockIdx.x; o < nrows; o += gridDim.x) {
        size_t row = order[o];
        size_t a = ptr[row], n = ptr[row + 1] - a;
        __syncthreads(); /* the previous row is done with A */
        for (int e = t; e < K * K; e += blockDim.x)
            A[(e / K) * ld + e % K] = G[e];
        if (t == 0)
            bad = 0;
        __syncthreads();
        /* A += sum_j (c_j - 1) y_j y_j' by tiles of 32 rows q; thread t is
         * column t; y_j[r0 + q] comes from lane q's load by shuffle. b_t =
         * sum_j c_j y_jt on the first tile. */
        float bt = 0;
        for (int r0 = 0; r0 < K; r0 += 32) {
            float acc[32];
#pragma unroll
            for (int q = 0; q < 32; q++)
                acc[q] = 0;
            for (size_t j = 0; j < n; j++) {
                const float *y = src + (size_t)idx[a + j] * K;
                float c = conf[a + j];
                float yt = on ? y[t] : 0;
                float yr = r0 + lane < K ? y[r0 + lane] : 0;
                float wy = (c - 1) * yt;
                if (r0 == 0)
                    bt += c * yt;
#pragma unroll
                for (int q = 0; q < 32; q++)
                    acc[q] += wy * __shfl_sync(ALS_FULL_MASK, yr, q);
            }
            if (on)
#pragma unroll
                for (int q = 0; q < 32; q++)
                    if (r0 + q < K)
                        A[(r0 + q) * ld + t] += acc[q];
        }
        __syncthreads();
        /* Cholesky A = L L' in the lower triangle, right-looking */
        for (int c = 0; c < K; c++) {
            float d = A[c * ld + c];
            if (!(d > 0)) {
                bad = 1; /* every thread read the same d: a uniform exit */
                break;
            }
            d = sqrtf(d);
            __syncthreads(); /* everyone has read A[c][c] */
            if (t == c)
                A[c * ld + c] = d;
            else if (on && t > c)
                A[t * ld + c] /= d;
            __syncthreads();
            if (on && t > c) {
                float lrc = A[t * ld + c];
                for (int s = c + 1; s <= t; s++)
                    A[t * ld + s] -= lrc * A[s * ld + c];
            }
            __syncthreads();
        }
        __syncthreads();
        if (bad) {
            if (on)
                dst[row * K + t] = 0;
            if (t == 0)
                *failed = 1;
            continue;
        }
        /* L z = b: thread r keeps b_r, then z_r */
        for (int c = 0; c < K; c++) {
            if (t == c) {
                bt /= A[c * ld + c];
                zc = bt;
            }
            __syncthreads();
            if (on && t > c)
                bt -= A[t * ld + c] * zc;
            __syncthreads();
        }
        /* L' x = z */
        for (int c = K - 1; c >= 0; c--) {
            if (t == c) {
                bt /= A[c * ld + c];
                zc = bt;
            }
            __syncthreads();
            if (on && t < c)
                bt -= A[c * ld + t] * zc;
            __syncthreads();
        }
        if (on)
            dst[row * K + t] = bt;
    }
}

/* ---- the loss -------------------------------------------------------------------------- */

/* partial[blockIdx.x] = sum over its users u of
 *   x_u' G x_u + sum_{i in N(u)} [c (1 - s)^2 - s^2],  s = x_u . y_i
 * (als.c's loss_rows); a persistent grid. Shared: v (threads), red (32). */
__global__ void loss_users(double *partial, const float *__restrict__ X,
                           const float *__restrict__ Y, const float *__restrict__ G,
                           const size_t *__restrict__ ptr, const uint32_t *__restrict__ idx,
                           const float *__restrict__ conf, size_t U, int K)
{
    extern __shared__ float sh[];
    __shared__ double dred[32];
    float *v = sh, *red = sh + blockDim.x;
    int k = threadIdx.x, lane = k & 31, w = k >> 5, nw = blockDim.x >> 5;
    bool on = k < K;
    double sum = 0; /* lane 0 of each warp: its terms; thread 0: x'Gx too */
    for (size_t u = blockIdx.x; u < U; u += gridDim.x) {
        float xk = on ? X[u * K + k] : 0;
        __syncthreads();
        v[k] = xk;
        __syncthreads();
        float gx = on ? symv_k(G, v, k, K) : 0;
        float xgx = block_sum(xk * gx, red);
        if (k == 0)
            sum += xgx;
        for (size_t j = ptr[u] + w; j < ptr[u + 1]; j += nw) {
            const float *y = Y + (size_t)idx[j] * K;
            float d = 0;
            for (int q = lane; q < K; q += 32)
                d += y[q] * v[q];
            d = warp_sum(d);
            if (lane == 0) {
                double s = d, c = conf[j];
                sum += c * (1 - s) * (1 - s) - s * s;
            }
        }
    }
    if (lane == 0)
        dred[w] = sum;
    __syncthreads();
    if (k == 0) {
        double s = 0;
        for (int q = 0; q < nw; q++)
            s += dred[q];
        partial[blockIdx.x] = s;
    }
}

/* partial[blockIdx.x] = sum of v[e]^2 over the block's share of v (n). */
__global__ void sum_squares(double *partial, const float *__restrict__ v, size_t n)
{
    __shared__ double dred[32];
    double s = 0;
    for (size_t e = blockIdx.x * (size_t)blockDim.x + threadIdx.x; e < n;
         e += (size_t)gridDim.x * blockDim.x)
        s += (double)v[e] * v[e];
    s = warp_sum_d(s);
    if ((threadIdx.x & 31) == 0)
        dred[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0;
        for (unsigned q = 0; q < blockDim.x >> 5; q++)
            t += dred[q];
        partial[blockIdx.x] = t;
    }
}

/* ---- host side ---------------------------------------------------------------------------- */

/* order (N): 0..N-1 sorted by row length (ptr) descending, ties by index. */
static uint32_t *order_by_length(const size_t *ptr, size_t N)
{
    size_t maxlen = 0;
    for (size_t r = 0; r < N; r++)
        if (ptr[r + 1] - ptr[r] > maxlen)
            maxlen = ptr[r + 1] - ptr[r];
    /* counting sort on the length, longest first */
    size_t *start = (size_t *)calloc(maxlen + 2, sizeof *start);
    uint32_t *order = (uint32_t *)malloc((N ? N : 1) * sizeof *order);
    if (!start || !order) {
        free(start);
        free(order);
        return NULL;
    }
    for (size_t r = 0; r < N; r++)
        start[maxlen - (ptr[r + 1] - ptr[r]) + 1]++;
    for (size_t l = 1; l <= maxlen + 1; l++)
        start[l] += start[l - 1];
    for (size_t r = 0; r < N; r++)
        order[start[maxlen - (ptr[r + 1] - ptr[r])]++] = (uint32_t)r;
    free(start);
    return order;
}

/* The number of rows with at least `thr` entries (the first ones of order). */
static size_t count_long(const size_t *ptr, const uint32_t *order, size_t N, size_t thr)
{
    size_t n = 0;
    while (n < N && ptr[order[n] + 1] - ptr[order[n]] >= thr)
        n++;
    return n;
}

static int upload(void *dst, const void *src, size_t bytes, RsErr *err)
{
    int rc = RS_OK;
    GPU_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
done:
    return rc;
}

/* The exact solver's launch: shared memory when the K x ld matrix fits in
 * what a block may have, else global scratch; enough blocks to fill the GPU. */
static int exact_setup(GpuAls *g, RsErr *err)
{
    int rc = RS_OK, dev = 0, nsm = 0, optin = 0, per_sm = 0;
    size_t K = g->K, ld = K | 1;
    size_t bytes = K * ld * sizeof(float);
    GPU_CHECK(cudaGetDevice(&dev));
    GPU_CHECK(cudaDeviceGetAttribute(&nsm, cudaDevAttrMultiProcessorCount, dev));
    GPU_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    if (bytes + 1024 <= (size_t)optin) {
        GPU_CHECK(cudaFuncSetAttribute(exact_rows, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       (int)bytes));
        g->exact_smem = bytes;
        GPU_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, exact_rows,
                                                                (int)g->threads, bytes));
        if (per_sm < 1)
            per_sm = 1;
        g->exact_blocks = nsm * per_sm;
    } else {
        g->exact_smem = 0;
        g->exact_blocks = 2 * nsm;
        GPU_CHECK(gpu_alloc(&g->scratch, (size_t)g->exact_blocks * K * ld));
    }
done:
    return rc;
}

extern "C" int gpu_als_new(const RsMatrix *R, const float *conf_u, const float *conf_i,
                           const float *X, const float *Y, size_t K, float reg, GpuAls **out,
                           RsErr *err)
{
    *out = NULL;
    if (K < 1 || K > 1024)
        return rs_err_set(err, RS_EUSAGE, "GPU ALS: factors must be 1..1024 (got %zu)", K);
    if (R->U == 0 || R->I == 0)
        return rs_err_set(err, RS_EUSAGE, "GPU ALS: the training matrix is empty");
    if (R->U > UINT32_MAX || R->I > UINT32_MAX)
        return rs_err_set(err, RS_EUSAGE, "GPU ALS: too many rows");
    const GpuBlas *b;
    int rc = gpu_device_init(&b, err);
    if (rc)
        return rc;
    GpuAls *g = (GpuAls *)calloc(1, sizeof *g);
    uint32_t *u_order = order_by_length(R->u_ptr, R->U);
    uint32_t *i_order = order_by_length(R->i_ptr, R->I);
    if (!g || !u_order || !i_order) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    g->U = R->U, g->I = R->I, g->NNZ = R->NNZ, g->K = K, g->reg = reg, g->b = b;
    g->threads = (unsigned)((K + 31) / 32 * 32);
    g->long_threads = ALS_LONG_THREADS / g->threads * g->threads;
    g->gram_of = -1;
    {
        /* a row is long from 1024 entries on (a two-warp block needs
         * milliseconds for it), or from fewer on small data sets, where a
         * sweep is over sooner */
        int dev = 0, nsm = 1;
        GPU_CHECK(cudaGetDevice(&dev));
        GPU_CHECK(cudaDeviceGetAttribute(&nsm, cudaDevAttrMultiProcessorCount, dev));
        size_t thr = R->NNZ / (8 * (size_t)nsm);
        thr = thr < 64 ? 64 : thr > 1024 ? 1024 : thr;
        g->u_long = count_long(R->u_ptr, u_order, R->U, thr);
        g->i_long = count_long(R->i_ptr, i_order, R->I, thr);
    }
    GPU_CHECK(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
    GPU_CHECK(cudaStreamCreateWithFlags(&g->stream2, cudaStreamNonBlocking));
    GPU_CHECK(cudaEventCreateWithFlags(&g->fork, cudaEventDisableTiming));
    GPU_CHECK(cudaEventCreateWithFlags(&g->join, cudaEventDisableTiming));
    if ((rc = gpu_blas_handle(b, g->stream, &g->blas, err)))
        goto done;
    GPU_CHECK(gpu_alloc(&g->u_ptr, g->U + 1));
    GPU_CHECK(gpu_alloc(&g->u_idx, g->NNZ));
    GPU_CHECK(gpu_alloc(&g->u_conf, g->NNZ));
    GPU_CHECK(gpu_alloc(&g->u_order, g->U));
    GPU_CHECK(gpu_alloc(&g->i_ptr, g->I + 1));
    GPU_CHECK(gpu_alloc(&g->i_idx, g->NNZ));
    GPU_CHECK(gpu_alloc(&g->i_conf, g->NNZ));
    GPU_CHECK(gpu_alloc(&g->i_order, g->I));
    GPU_CHECK(gpu_alloc(&g->X, g->U * K));
    GPU_CHECK(gpu_alloc(&g->Y, g->I * K));
    GPU_CHECK(gpu_alloc(&g->G, K * K));
    GPU_CHECK(gpu_alloc(&g->partial, 2 * ALS_LOSS_BLOCKS));
    GPU_CHECK(gpu_alloc(&g->failed, 1));
    if ((rc = upload(g->u_ptr, R->u_ptr, (g->U + 1) * sizeof(size_t), err)) ||
        (rc = upload(g->u_idx, R->u_items, g->NNZ * sizeof(uint32_t), err)) ||
        (rc = upload(g->u_conf, conf_u, g->NNZ * sizeof(float), err)) ||
        (rc = upload(g->u_order, u_order, g->U * sizeof(uint32_t), err)) ||
        (rc = upload(g->i_ptr, R->i_ptr, (g->I + 1) * sizeof(size_t), err)) ||
        (rc = upload(g->i_idx, R->i_users, g->NNZ * sizeof(uint32_t), err)) ||
        (rc = upload(g->i_conf, conf_i, g->NNZ * sizeof(float), err)) ||
        (rc = upload(g->i_order, i_order, g->I * sizeof(uint32_t), err)) ||
        (rc = upload(g->X, X, g->U * K * sizeof(float), err)) ||
        (rc = upload(g->Y, Y, g->I * K * sizeof(float), err)))
        goto done;
    rc = exact_setup(g, err);
done:
    free(u_order);
    free(i_order);
    if (rc) {
        gpu_als_free(g);
        return rc;
    }
    *out = g;
    return RS_OK;
}

/* G = F'F + reg I for F (N, K) row-major: F is the column-major K x N
 * matrix F', so G = F' (F')' is SGEMM(N, T) with m = n = K, k = N. */
static int gram(GpuAls *g, const float *F, size_t N, RsErr *err)
{
    int rc = RS_OK;
    int K = (int)g->K;
    const float one = 1, zero = 0;
    GPU_BLAS(g->b, sgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, K, K, (int)N, &one, F, K, F, K,
                         &zero, g->G, K));
    gram_finish<<<dim3(gpu_div_up(g->K, 128), (unsigned)K), 128, 0, g->stream>>>(g->G, K,
                                                                               g->reg);
    GPU_LAUNCHED("gram_finish");
done:
    return rc;
}

extern "C" int gpu_als_sweep(GpuAls *g, int users, int cg_steps, RsErr *err)
{
    int rc = RS_OK, failed = 0;
    if (g->U > INT32_MAX || g->I > INT32_MAX)
        return rs_err_set(err, RS_EUSAGE, "GPU ALS: more than 2^31 rows");
    float *dst = users ? g->X : g->Y;
    const float *src = users ? g->Y : g->X;
    size_t N = users ? g->U : g->I, M = users ? g->I : g->U;
    const size_t *ptr = users ? g->u_ptr : g->i_ptr;
    const uint32_t *idx = users ? g->u_idx : g->i_idx;
    const float *conf = users ? g->u_conf : g->i_conf;
    const uint32_t *order = users ? g->u_order : g->i_order;
    size_t nlong = users ? g->u_long : g->i_long;
    int K = (int)g->K;
    if ((rc = gram(g, src, M, err)))
        return rc;
    g->gram_of = users ? 1 : 0;
    if (cg_steps > 0) {
        /* long rows on stream2 with big blocks, the rest beside them */
        if (nlong > 0) {
            unsigned groups = g->long_threads / g->threads;
            size_t smem = (g->threads + 2 * ALS_TILE_LONG + (groups > 1 ? g->long_threads : 0) +
                           32) * sizeof(float);
            GPU_CHECK(cudaEventRecord(g->fork, g->stream));
            GPU_CHECK(cudaStreamWaitEvent(g->stream2, g->fork, 0));
            cg_rows<<<(unsigned)nlong, g->long_threads, smem, g->stream2>>>(
                dst, src, g->G, ptr, idx, conf, order, 0, K, cg_steps, ALS_TILE_LONG);
            GPU_LAUNCHED("cg_rows (long rows)");
            GPU_CHECK(cudaEventRecord(g->join, g->stream2));
        }
        if (N > nlong) {
            size_t smem = (g->threads + 2 * ALS_TILE + 32) * sizeof(float);
            cg_rows<<<(unsigned)(N - nlong), g->threads, smem, g->stream>>>(
                dst, src, g->G, ptr, idx, conf, order, nlong, K, cg_steps, ALS_TILE);
            GPU_LAUNCHED("cg_rows");
        }
        if (nlong > 0)
            GPU_CHECK(cudaStreamWaitEvent(g->stream, g->join, 0));
        GPU_CHECK(cudaStreamSynchronize(g->stream));
        return RS_OK;
    }
    GPU_CHECK(cudaMemsetAsync(g->failed, 0, sizeof(int), g->stream));
    {
        unsigned blocks = (unsigned)(N < (size_t)g->exact_blocks ? N : (size_t)g->exact_blocks);
        exact_rows<<<blocks, g->threads, g->exact_smem, g->stream>>>(
            dst, src, g->G, ptr, idx, conf, order, N, K, K | 1, g->scratch,
            g->exact_smem == 0, g->failed);
    }
    GPU_LAUNCHED("exact_rows");
    GPU_CHECK(cudaMemcpyAsync(&failed, g->failed, sizeof(int), cudaMemcpyDeviceToHost,
                              g->stream));
    GPU_CHECK(cudaStreamSynchronize(g->stream));
    if (failed)
        rc = rs_err_set(err, RS_EUSAGE,
                        "ALS: a %s system is not positive definite (reg=%g too small?)",
                        users ? "user" : "item", (double)g->reg);
done:
    return rc;
}

extern "C" int gpu_als_loss(GpuAls *g, double *loss, RsErr *err)
{
    int rc = RS_OK;
    double part[2 * ALS_LOSS_BLOCKS];
    *loss = 0;
    if (g->gram_of != 1)
        return rs_err_set(err, RS_EUSAGE, "GPU ALS: the loss needs Y'Y (run a user sweep first)");
    {
        unsigned ub = (unsigned)(g->U < ALS_LOSS_BLOCKS ? g->U : ALS_LOSS_BLOCKS);
        size_t smem = (g->threads + 32) * sizeof(float);
        /* unused partial slots stay zero */
        GPU_CHECK(cudaMemsetAsync(g->partial, 0, sizeof part, g->stream));
        loss_users<<<ub, g->threads, smem, g->stream>>>(g->partial, g->X, g->Y, g->G, g->u_ptr,
                                                       g->u_idx, g->u_conf, g->U, (int)g->K);
        GPU_LAUNCHED("loss_users");
        sum_squares<<<ALS_LOSS_BLOCKS, 256, 0, g->stream>>>(g->partial + ALS_LOSS_BLOCKS, g->Y,
                                                           g->I * g->K);
        GPU_LAUNCHED("sum_squares");
    }
    GPU_CHECK(cudaMemcpyAsync(part, g->partial, sizeof part, cudaMemcpyDeviceToHost, g->stream));
    GPU_CHECK(cudaStreamSynchronize(g->stream));
    {
        double data = 0, yy = 0;
        for (int q = 0; q < ALS_LOSS_BLOCKS; q++) {
            data += part[q];
            yy += part[ALS_LOSS_BLOCKS + q];
        }
        /* x'Gx already holds reg |x|^2; add the items' regulariser */
        *loss = data + (double)g->reg * yy;
    }
done:
    return rc;
}

extern "C" int gpu_als_download(const GpuAls *g, float *X, float *Y, RsErr *err)
{
    int rc = RS_OK;
    GPU_CHECK(cudaStreamSynchronize(g->stream));
    GPU_CHECK(cudaMemcpy(X, g->X, g->U * g->K * sizeof(float), cudaMemcpyDeviceToHost));
    GPU_CHECK(cudaMemcpy(Y, g->Y, g->I * g->K * sizeof(float), cudaMemcpyDeviceToHost));
done:
    return rc;
}

extern "C" void gpu_als_free(GpuAls *g)
{
    if (!g)
        return;
    if (g->stream)
        cudaStreamSynchronize(g->stream);
    if (g->stream2)
        cudaStreamSynchronize(g->stream2);
    void *bufs[] = {g->u_ptr, g->u_idx,  g->u_conf, g->u_order, g->i_ptr,   g->i_idx,
                    g->i_conf, g->i_order, g->X,    g->Y,       g->G,       g->scratch,
                    g->partial, g->failed};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++)
        if (bufs[k])
            cudaFree(bufs[k]);
    if (g->blas)
        g->b->destroy(g->blas);
    if (g->stream)
        cudaStreamDestroy(g->stream);
    if (g->stream2)
        cudaStreamDestroy(g->stream2);
    if (g->fork)
        cudaEventDestroy(g->fork);
    if (g->join)
        cudaEventDestroy(g->join);
    cudaGetLastError(); /* a failed free leaves nothing to report */
    free(g);
}
