/*
 * gpu_cuda.cu - the CUDA backend. Linked with the static CUDA runtime, so the
 * binary starts on machines without a driver; gpu_probe() then reports why no
 * device can be used and callers fall back to the CPU.
 */
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

extern "C" {
#include "backend.h"
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
    info->devices = n;
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
}

extern "C" const char *gpu_build_description(void)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "CUDA %d.%d (runtime linked statically)", CUDART_VERSION / 1000,
             (CUDART_VERSION % 1000) / 10);
    return buf;
}
