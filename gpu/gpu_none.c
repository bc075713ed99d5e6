/* gpu_none.c - the GPU backend when the build found no nvcc: the probe says
 * so and every kernel entry point fails with RS_EGPU. */
#include "backend.h"

#include <stdio.h>
#include <string.h>

#define NOT_BUILT "this recscope was built without CUDA (nvcc was not found at build time)"

void gpu_probe(RsGpuInfo *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->message, sizeof info->message, NOT_BUILT);
}

const char *gpu_build_description(void) { return "CUDA: not built"; }

int gpu_als_new(const RsMatrix *R, const float *conf_u, const float *conf_i, const float *X,
                const float *Y, size_t K, float reg, GpuAls **out, RsErr *err)
{
    (void)R, (void)conf_u, (void)conf_i, (void)X, (void)Y, (void)K, (void)reg;
    *out = NULL;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

int gpu_als_sweep(GpuAls *g, int users, int cg_steps, RsErr *err)
{
    (void)g, (void)users, (void)cg_steps;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

int gpu_als_loss(GpuAls *g, double *loss, RsErr *err)
{
    (void)g;
    *loss = 0;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

int gpu_als_download(const GpuAls *g, float *X, float *Y, RsErr *err)
{
    (void)g, (void)X, (void)Y;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

void gpu_als_free(GpuAls *g) { (void)g; }

int gpu_topk_factors(const float *X, size_t U, const float *Y, size_t I, size_t K,
                     const RsMatrix *exclude, const uint32_t *users, size_t nusers, size_t N,
                     uint32_t *items, float *scores, uint32_t *counts, RsErr *err)
{
    (void)X, (void)U, (void)Y, (void)I, (void)K, (void)exclude, (void)users, (void)nusers,
        (void)N, (void)items, (void)scores, (void)counts;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

int gpu_bpr_new(const RsMatrix *R, const float *P, const float *Q, const float *bi, size_t K,
                int bias, GpuBpr **out, RsErr *err)
{
    (void)R, (void)P, (void)Q, (void)bi, (void)K, (void)bias;
    *out = NULL;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

int gpu_bpr_epoch(GpuBpr *g, uint64_t seed, uint64_t epoch, float lr, float reg, double *loss,
                  RsErr *err)
{
    (void)g, (void)seed, (void)epoch, (void)lr, (void)reg;
    *loss = 0;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

int gpu_bpr_download(const GpuBpr *g, float *P, float *Q, float *bi, RsErr *err)
{
    (void)g, (void)P, (void)Q, (void)bi;
    return rs_err_set(err, RS_EGPU, NOT_BUILT);
}

void gpu_bpr_free(GpuBpr *g) { (void)g; }

int gpu_topk_rank_factors(const float *X, size_t U, const float *Y, size_t I, size_t K,
                          const RsMatrix *exclude, const uint32_t *users, size_t nusers,
                          size_t N, uint32_t *items, float *scores, uint32_t *counts,
                          const RsMatrix *query, uint32_t *above, uint32_t *ties, float *qscore,
                          RsErr *err)
{
    (void)query, (void)above, (void)ties, (void)qscore;
    return gpu_topk_factors(X, U, Y, I, K, exclude, users, nusers, N, items, scores, counts,
                            err);
}
