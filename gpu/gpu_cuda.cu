/*
 * gpu_cuda.cu - the CUDA backend's common part: the device probe, error
 * messages, and cuBLAS.
 *
 * The CUDA runtime is linked statically, so the binary starts on machines
 * without a driver; gpu_probe() then reports why no device can be used and
 * callers fall back to the CPU. cuBLAS has no static library in every CUDA
 * install, and linking it statically would add hundreds of megabytes, so it
 * is loaded with dlopen on first use: first by its soname (the loader's
 * search path: ld.so.conf, LD_LIBRARY_PATH), then from the CUDA folder the
 * binary was built against. Its absence makes the GPU unusable, never the
 * binary.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gpu_internal.h"

#define GPU_STR_(x) #x
#define GPU_STR(x) GPU_STR_(x)
#define GPU_CUBLAS_SONAME "libcublas.so." GPU_STR(CUBLAS_VER_MAJOR)

#ifndef RS_CUDA_HOME
#define RS_CUDA_HOME "/usr/local/cuda"
#endif

static GpuBlas g_blas;
static const GpuBlas *g_blas_ok;
static char g_blas_why[320];
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;

static void blas_load(void)
{
    static const char *const paths[] = {
        GPU_CUBLAS_SONAME,
        RS_CUDA_HOME "/lib64/" GPU_CUBLAS_SONAME,
        RS_CUDA_HOME "/targets/x86_64-linux/lib/" GPU_CUBLAS_SONAME,
        "/usr/local/cuda/lib64/" GPU_CUBLAS_SONAME,
    };
    void *h = NULL;
    const char *first_error = NULL;
    char first[200] = "";
    for (size_t k = 0; k < sizeof paths / sizeof paths[0] && !h; k++) {
        h = dlopen(paths[k], RTLD_NOW | RTLD_LOCAL);
        if (h)
            snprintf(g_blas.path, sizeof g_blas.path, "%s", paths[k]);
        else if (!first_error && (first_error = dlerror()))
            snprintf(first, sizeof first, "%s", first_error);
    }
    if (!h) {
        snprintf(g_blas_why, sizeof g_blas_why, "cuBLAS (%s) could not be loaded: %s",
                 GPU_CUBLAS_SONAME, first[0] ? first : "not found");
        return;
    }
    /* dlsym returns void *; POSIX guarantees the conversion to a function
     * pointer works. */
#define GPU_SYM(field, name)                                                     \
    do {                                                                         \
        void *p_ = dlsym(h, name);                                               \
        memcpy(&g_blas.field, &p_, sizeof p_);                                   \
    } while (0)
    GPU_SYM(create, "cublasCreate_v2");
    GPU_SYM(destroy, "cublasDestroy_v2");
    GPU_SYM(set_stream, "cublasSetStream_v2");
    GPU_SYM(set_math_mode, "cublasSetMathMode");
    GPU_SYM(sgemm, "cublasSgemm_v2");
    GPU_SYM(status_string, "cublasGetStatusString");
#undef GPU_SYM
    if (!g_blas.create || !g_blas.destroy || !g_blas.set_stream || !g_blas.set_math_mode ||
        !g_blas.sgemm) {
        snprintf(g_blas_why, sizeof g_blas_why, "%s lacks the functions recscope needs",
                 g_blas.path);
        dlclose(h);
        return;
    }
    g_blas_ok = &g_blas; /* the handle stays open for the process's life */
}

const GpuBlas *gpu_blas(const char **why)
{
    pthread_once(&g_blas_once, blas_load);
    if (why)
        *why = g_blas_ok ? "" : g_blas_why;
    return g_blas_ok;
}

int gpu_cuda_error(RsErr *err, const char *what, cudaError_t e)
{
    cudaGetLastError(); /* clear a non-sticky error */
    if (e == cudaErrorMemoryAllocation)
        return rs_err_set(err, RS_EGPU, "GPU out of memory (%s)", what);
    return rs_err_set(err, RS_EGPU, "CUDA: %s: %s", what, cudaGetErrorString(e));
}

int gpu_blas_error(RsErr *err, const char *what, cublasStatus_t s)
{
    const GpuBlas *b = gpu_blas(NULL);
    const char *msg = b && b->status_string ? b->status_string(s) : "cuBLAS error";
    if (s == CUBLAS_STATUS_ALLOC_FAILED)
        return rs_err_set(err, RS_EGPU, "GPU out of memory (cuBLAS: %s)", what);
    return rs_err_set(err, RS_EGPU, "cuBLAS: %s: %s (status %d)", what, msg, (int)s);
}

int gpu_device_init(const GpuBlas **blas, RsErr *err)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return rs_err_set(err, RS_EGPU, "no usable CUDA device: %s", cudaGetErrorString(e));
    }
    if (n == 0)
        return rs_err_set(err, RS_EGPU, "no CUDA device found");
    if ((e = cudaSetDevice(0)) != cudaSuccess)
        return gpu_cuda_error(err, "cudaSetDevice(0)", e);
    const char *why;
    if (!(*blas = gpu_blas(&why)))
        return rs_err_set(err, RS_EGPU, "%s", why);
    return RS_OK;
}

int gpu_blas_handle(const GpuBlas *b, cudaStream_t stream, cublasHandle_t *h, RsErr *err)
{
    int rc = RS_OK;
    *h = NULL;
    GPU_BLAS(b, create(h));
    GPU_BLAS(b, set_stream(*h, stream));
    /* FP32 throughout: TF32 would change the results beyond CPU parity */
    GPU_BLAS(b, set_math_mode(*h, CUBLAS_DEFAULT_MATH));
done:
    if (rc && *h) {
        b->destroy(*h);
        *h = NULL;
    }
    return rc;
}

extern "C" void gpu_probe(RsGpuInfo *info)
{
    memset(info, 0, sizeof *info);
    info->built = 1;
    int rv = 0;
    if (cudaRuntimeGetVersion(&rv) == cudaSuccess)
        info->runtime_version = rv;
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(info->message, sizeof info->message, "no usable CUDA device: %s",
                 cudaGetErrorString(e));
        cudaGetLastError(); /* clear the sticky error */
        return;
    }
    if (n == 0) {
        snprintf(info->message, sizeof info->message, "no CUDA device found");
        return;
    }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
        char name[64];
        snprintf(name, sizeof name, "%.63s", prop.name);
        snprintf(info->name, sizeof info->name, "%s (%.0f GiB, sm_%d%d)", name,
                 (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), prop.major,
                 prop.minor);
    }
    const char *why;
    if (!gpu_blas(&why)) {
        snprintf(info->message, sizeof info->message, "%.200s found, but %.50s", info->name,
                 why);
        return;
    }
    info->devices = n;
}

extern "C" const char *gpu_build_description(void)
{
    static char buf[96];
    snprintf(buf, sizeof buf, "CUDA %d.%d (runtime linked statically, cuBLAS %d loaded at run time)",
             CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10, CUBLAS_VER_MAJOR);
    return buf;
}
