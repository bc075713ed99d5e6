/*
 * backend.h - the GPU backend's entry points. engine/ implements the CPU
 * kernels; gpu/ implements these in CUDA (gpu/gpu_cuda.cu, gpu/als.cu,
 * gpu/score.cu) when nvcc was found at build time, and gpu/gpu_none.c
 * otherwise, where every kernel entry point fails with RS_EGPU "built
 * without CUDA". A GPU can be compiled in and still be absent at run time,
 * so callers ask gpu_probe() before choosing it.
 *
 * The orchestration stays in engine/: als.c runs the ALS iterations, checks
 * cancellation and reports progress, and calls the sweeps here; whatever
 * trained the factors, the model and its blob are the same.
 *
 * This header is also compiled as C++ by nvcc: it includes only headers
 * that are valid in both languages (not model.h, whose <stdatomic.h> is C).
 *
 * Errors: every function that can fail returns RS_OK or a negative RS_E*
 * code and fills err. A failing CUDA or cuBLAS call (out of device memory
 * included) is RS_EGPU with the call and CUDA's message; host allocation
 * failures are RS_ENOMEM. Nothing here prints, exits or uses managed memory.
 *
 * Threads: each GpuAls belongs to one thread at a time. Different GpuAls
 * objects and gpu_topk_factors() calls may run in different threads; they
 * all use device 0.
 */
#ifndef RS_BACKEND_H
#define RS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dataset.h"

/* ---- the device ---------------------------------------------------------------- */

typedef struct RsGpuInfo {
    int built;          /* 1 when the binary was built with CUDA */
    int devices;        /* number of usable CUDA devices (0 when none) */
    int runtime_version;/* cudaRuntimeGetVersion(), 0 when not built */
    char name[128];     /* name of device 0, "" when none */
    char message[256];  /* why no device is usable, "" when one is */
} RsGpuInfo;

/* Fills *info. Never fails: the absence of a GPU, or of the cuBLAS library
 * the kernels need (loaded at run time), is described in info->message and
 * gives info->devices == 0. Thread-safe. */
void gpu_probe(RsGpuInfo *info);

/* "CUDA 13.0" or "CUDA: not built": a short description for --version. */
const char *gpu_build_description(void);

/* ---- implicit ALS (Hu, Koren & Volinsky 2008; CG of Takacs et al. 2011) ------ */

/* The device side of one ALS fit: the training matrix in CSR (users) and
 * CSC (items) with its confidences, uploaded once; the factors X, Y; the
 * Gram matrix and solver scratch. */
typedef struct GpuAls GpuAls;

/* Uploads R's CSR and CSC index arrays, the confidences conf_u (NNZ, CSR
 * order) and conf_i (NNZ, CSC order), and the starting factors
 * X (U, K), Y (I, K) (row-major, as AlsState keeps them). reg is the L2
 * weight (lambda). Copies everything: the caller keeps its arrays. On
 * success *out is the caller's (gpu_als_free). RS_EGPU (no device, out of
 * device memory, cuBLAS missing), RS_ENOMEM, RS_EUSAGE (K out of 1..1024,
 * an empty matrix). */
int gpu_als_new(const RsMatrix *R, const float *conf_u, const float *conf_i, const float *X,
                const float *Y, size_t K, float reg, GpuAls **out, RsErr *err);

/* One half-sweep of ALS, as engine/als.c's CPU sweep: the Gram matrix
 * G = F'F + reg I of the fixed side F (cuBLAS), then every row of the other
 * side solved for (Hu et al. 2008, eq. 4):
 *   users == 0: Y given X (item rows, CSC);  users != 0: X given Y (CSR);
 *   cg_steps > 0: that many conjugate-gradient steps from the current row
 *   (warm start; als_solve_cg's algorithm); cg_steps == 0: exact solves by
 *   Cholesky (als_solve_naive's system).
 * RS_EGPU on a CUDA failure; RS_EUSAGE when an exact system was not
 * positive definite (the message says which side). */
int gpu_als_sweep(GpuAls *g, int users, int cg_steps, RsErr *err);

/* The unnormalised training loss of the current factors, as als.c computes
 * it (Hu et al. 2008, eq. 3):
 *   sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (sum_u |x_u|^2 + sum_i |y_i|^2),
 * summed in double. Valid after a user sweep (it reuses that sweep's Y'Y + reg I).
 * RS_EGPU on a CUDA failure. */
int gpu_als_loss(GpuAls *g, double *loss, RsErr *err);

/* Copies the factors back: X (U, K) and Y (I, K), row-major. */
int gpu_als_download(const GpuAls *g, float *X, float *Y, RsErr *err);

/* Frees everything g holds on the device and host. NULL is a no-op. */
void gpu_als_free(GpuAls *g);

/* ---- BPR-MF (Rendle et al. 2009, LearnBPR) ------------------------------------------- */

/* The device side of one BPR fit: the training matrix's CSR rows and the
 * parameters P (U, K), Q (I, K), item biases bi (I), uploaded once. */
typedef struct GpuBpr GpuBpr;

/* Uploads R and the starting parameters (copied: the caller keeps its
 * arrays). bias != 0 learns the item biases. On success *out is the
 * caller's (gpu_bpr_free). RS_EGPU, RS_ENOMEM, RS_EUSAGE (K out of
 * 1..4096, an empty matrix). */
int gpu_bpr_new(const RsMatrix *R, const float *P, const float *Q, const float *bi, size_t K,
                int bias, GpuBpr **out, RsErr *err);
/* One epoch of NNZ LearnBPR draws (engine/bpr.c's epoch; gpu/bpr.cu says
 * how it runs), the draws from a stream keyed by seed and epoch; *loss is
 * the sum over the draws of ln(1 + e^-x_uij). RS_EGPU. */
int gpu_bpr_epoch(GpuBpr *g, uint64_t seed, uint64_t epoch, float lr, float reg, double *loss,
                  RsErr *err);
/* Copies the parameters back into P, Q, bi. */
int gpu_bpr_download(const GpuBpr *g, float *P, float *Q, float *bi, RsErr *err);
void gpu_bpr_free(GpuBpr *g);

/* ---- batch scoring ----------------------------------------------------------------- */

/* Top-N items by the factor score x_u . y_i for many users at once, for
 * evaluation and export: S = X_b Y' (cuBLAS) for blocks of users sized so
 * that no U x I matrix is ever allocated, then a per-user selection.
 *   X        (U, K) user factors, row-major
 *   Y        (I, K) item factors, row-major
 *   exclude  a U x I matrix whose entries are left out of each user's list
 *            (the training matrix), or NULL
 *   users    (nusers) the users to rank, or NULL for all U (nusers == U)
 *   items    (nusers, N) the lists' items, best first, row k for users[k]
 *   scores   (nusers, N) their scores
 *   counts   (nusers) how many of each row are filled (< N only when fewer
 *            items qualify; the rest of the row is UINT32_MAX / -INFINITY)
 * The order is topk()'s: higher score first, ties by the smaller item
 * index; excluded items and items scoring NaN or -INFINITY never appear.
 * The scores are the GPU's single-precision dot products, so they may differ
 * from the CPU's by rounding. N is 1..GPU_TOPK_MAX. Uploads X, Y and
 * exclude on every call (a few milliseconds for millions of rows) and frees
 * them before returning. RS_EGPU, RS_ENOMEM, RS_EUSAGE (shapes, N). */
#define GPU_TOPK_MAX 512
int gpu_topk_factors(const float *X, size_t U, const float *Y, size_t I, size_t K,
                     const RsMatrix *exclude, const uint32_t *users, size_t nusers, size_t N,
                     uint32_t *items, float *scores, uint32_t *counts, RsErr *err);

/* gpu_topk_factors, and for the entries of query (a U x I matrix: the test
 * items) in the rows of the listed users, by position j in query's CSR
 * arrays: qscore[j] = the item's score (-INFINITY when excluded), above[j]
 * = how many of the user's items not excluded score strictly higher, and
 * ties[j] = how many score the same (the item itself included): the pair
 * counts of AUC, without a U x I matrix. above, ties and qscore have
 * query->NNZ entries; those of users not listed are 0. query NULL: as
 * gpu_topk_factors. */
int gpu_topk_rank_factors(const float *X, size_t U, const float *Y, size_t I, size_t K,
                          const RsMatrix *exclude, const uint32_t *users, size_t nusers,
                          size_t N, uint32_t *items, float *scores, uint32_t *counts,
                          const RsMatrix *query, uint32_t *above, uint32_t *ties, float *qscore,
                          RsErr *err);

#endif
