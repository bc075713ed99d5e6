/*
 * backend.h - the table of compute backends. engine/ implements the CPU
 * kernels; gpu/ implements the same entry points in CUDA when nvcc was found
 * at build time. A GPU can be compiled in and still be absent at run time,
 * so callers ask gpu_probe() before choosing it.
 *
 * For now the table holds the device probe only; the kernels arrive with the
 * GPU issue.
 */
#ifndef RS_BACKEND_H
#define RS_BACKEND_H

#include "common.h"

typedef struct RsGpuInfo {
    int built;          /* 1 when the binary was built with CUDA */
    int devices;        /* number of usable CUDA devices (0 when none) */
    int runtime_version;/* cudaRuntimeGetVersion(), 0 when not built */
    char name[128];     /* name of device 0, "" when none */
    char message[256];  /* why no device is usable, "" when one is */
} RsGpuInfo;

/* Fills *info. Never fails: the absence of a GPU is described in
 * info->message. Thread-safe. Implemented in gpu/. */
void gpu_probe(RsGpuInfo *info);

/* "CUDA 13.0" or "CUDA: not built": a short description for --version. */
const char *gpu_build_description(void);

#endif
