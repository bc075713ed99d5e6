/* gpu_none.c - the GPU backend when the build found no nvcc. */
#include "backend.h"

#include <stdio.h>
#include <string.h>

void gpu_probe(RsGpuInfo *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->message, sizeof info->message,
             "this recscope was built without CUDA (nvcc was not found at build time)");
}

const char *gpu_build_description(void) { return "CUDA: not built"; }
