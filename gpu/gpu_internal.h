/*
 * gpu_internal.h - what the CUDA files of gpu/ share (C++, nvcc only): error
 * reporting for CUDA and cuBLAS calls, the cuBLAS functions (loaded at run
 * time with dlopen, so that the binary needs no CUDA shared library to start)
 * and device selection.
 *
 * Error style: a function keeps `int rc = RS_OK` and one cleanup label
 * `done`; GPU_CHECK(call) and GPU_BLAS(call) turn a failure into RS_EGPU with
 * the call's text and CUDA's message in err, and jump there.
 */
#ifndef RS_GPU_INTERNAL_H
#define RS_GPU_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend.h"
}

/* The cuBLAS entry points gpu/ uses, resolved from libcublas.so.N. */
typedef struct GpuBlas {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemm_v2) sgemm;
    decltype(&cublasGetStatusString) status_string; /* may be NULL */
    char path[256];                                 /* the library loaded */
} GpuBlas;

/* The cuBLAS functions, loaded on first use (thread-safe). NULL when the
 * library cannot be loaded; *why then says why (static storage). */
const GpuBlas *gpu_blas(const char **why);

/* Fills err with RS_EGPU "CUDA: <what>: <CUDA's message>" and returns
 * RS_EGPU; clears CUDA's last (non-sticky) error. */
int gpu_cuda_error(RsErr *err, const char *what, cudaError_t e);
/* The same for a cuBLAS status. */
int gpu_blas_error(RsErr *err, const char *what, cublasStatus_t s);

/* Checks that device 0 is usable and makes it current; RS_EGPU with the
 * reason otherwise. Loads cuBLAS too (*blas). */
int gpu_device_init(const GpuBlas **blas, RsErr *err);

/* A cuBLAS handle on a stream, default (FP32, no TF32) math. */
int gpu_blas_handle(const GpuBlas *b, cudaStream_t stream, cublasHandle_t *h, RsErr *err);

#define GPU_CHECK(call)                                                                 \
    do {                                                                                \
        cudaError_t gpu_e_ = (call);                                                    \
        if (gpu_e_ != cudaSuccess) {                                                    \
            rc = gpu_cuda_error(err, #call, gpu_e_);                                    \
            goto done;                                                                  \
        }                                                                               \
    } while (0)

/* After a kernel launch: launch-configuration errors now, execution errors
 * at the next synchronising call's GPU_CHECK. */
#define GPU_LAUNCHED(what)                                                              \
    do {                                                                                \
        cudaError_t gpu_e_ = cudaGetLastError();                                        \
        if (gpu_e_ != cudaSuccess) {                                                    \
            rc = gpu_cuda_error(err, "launching " what, gpu_e_);                        \
            goto done;                                                                  \
        }                                                                               \
    } while (0)

#define GPU_BLAS(blas, call)                                                            \
    do {                                                                                \
        cublasStatus_t gpu_s_ = (blas)->call;                                           \
        if (gpu_s_ != CUBLAS_STATUS_SUCCESS) {                                          \
            rc = gpu_blas_error(err, #call, gpu_s_);                                    \
            goto done;                                                                  \
        }                                                                               \
    } while (0)

/* cudaMalloc of n elements of T (n == 0 allocates one, so pointers are
 * never NULL on success). */
template <typename T> static inline cudaError_t gpu_alloc(T **p, size_t n)
{
    return cudaMalloc((void **)p, (n ? n : 1) * sizeof(T));
}

static inline unsigned gpu_div_up(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

#endif
