/*
 * test_gpu.c - CPU/GPU parity of the GPU backend (engine/backend.h, gpu/):
 * ALS sweeps against the exported CPU row solvers, whole ALS fits against the
 * CPU fit (loss curve, NDCG@10 on held-out data, top-10 lists, the blob), and
 * batch top-N scoring against topk() of CPU scores.
 *
 * Self-contained (no cmocka: `make gpu-test` builds it on a GPU machine that
 * has only the CUDA toolkit): each check prints "ok - NAME" or
 * "not ok - NAME: why", and the last line is "N passed, N failed, N skipped";
 * the exit status is 1 when any failed. Without a usable device every test
 * prints "skip - no CUDA device: REASON" and the run passes.
 *
 * Tolerances (float32 on both sides; the GPU sums in other orders):
 *   one sweep (CG or exact) from the same start: max |x_gpu - x_cpu| <=
 *     1e-4 * max |x_cpu| (GPU_TOL_SWEEP);
 *   loss per iteration of a whole fit: relative difference <= 1e-3
 *     (GPU_TOL_LOSS);
 *   NDCG@10 on the held-out part: absolute difference <= 0.005 (GPU_TOL_NDCG);
 *   top-10 lists: at each rank the same item, unless the two items' CPU scores
 *     are within 1e-3 of the list's top score (a near tie; GPU_TOL_TIE); the
 *     share of identical lists is printed;
 *   batch scoring: identical to topk() on integer-valued factors (exact
 *     arithmetic, ties by index); on random factors the same items where not
 *     tied within 1e-5 of the top score, and scores within 1e-5 relative; on
 *     a trained ALS model, model_recommend()'s lists where not tied within
 *     1e-4 of the top score.
 */
#include <math.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "als.h"
#include "metrics.h"
#include "mf.h"
#include "backend.h"
#include "dataset.h"
#include "model.h"
#include "parallel.h"
#include "rng.h"

#define GPU_TOL_SWEEP 1e-4
#define GPU_TOL_LOSS 1e-3
#define GPU_TOL_NDCG 0.005
#define GPU_TOL_TIE 1e-3
#define GPU_TOL_BPR_LOSS 0.05 /* relative, per epoch: Hogwild on both sides */
#define GPU_TOL_BPR_NDCG 0.1  /* relative */

/* ---- the runner ----------------------------------------------------------------- */

static int n_pass, n_fail;
static char fail_msg[512];

/* Records why the current test failed (the first reason) and returns 1. */
__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    if (!fail_msg[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
        va_end(ap);
    }
    return 1;
}

static void report(const char *name, int failed)
{
    if (failed) {
        printf("not ok - %s: %s\n", name, fail_msg[0] ? fail_msg : "failed");
        n_fail++;
    } else {
        printf("ok - %s\n", name);
        n_pass++;
    }
    fail_msg[0] = 0;
    fflush(stdout);
}

/* ---- generated data ----------------------------------------------------------------- */

/* U users, I items, about NNZ interactions with Zipf-like item popularity and
 * a taste structure: users and items belong to one of 8 groups, and 70% of a
 * user's picks come from the own group. Ratings 1..5 (integers). Seeded. */
static RsMatrix *gen_matrix(size_t U, size_t I, size_t NNZ, uint64_t seed)
{
    enum { GROUPS = 8 };
    RsRng rng;
    rng_seed(&rng, seed);
    double *cdf = malloc(I * sizeof *cdf);               /* (I) popularity CDF, by item */
    size_t *by_group = malloc(I * sizeof *by_group);     /* (I) items ordered by group */
    size_t gstart[GROUPS + 1] = {0};
    RsTriplet *t = malloc(NNZ * sizeof *t);
    if (!cdf || !by_group || !t)
        abort();
    double sum = 0;
    for (size_t i = 0; i < I; i++)
        cdf[i] = sum += 1.0 / pow((double)i + 10.0, 0.9);
    for (size_t i = 0; i < I; i++)
        gstart[i % GROUPS + 1]++;
    for (int g = 0; g < GROUPS; g++)
        gstart[g + 1] += gstart[g];
    for (size_t i = 0, fill[GROUPS] = {0}; i < I; i++)
        by_group[gstart[i % GROUPS] + fill[i % GROUPS]++] = i;
    size_t n = 0;
    for (size_t u = 0; u < U; u++) {
        /* heavy-tailed activity, mean about NNZ / U */
        size_t want = (size_t)((double)NNZ / U * 0.35 / pow(1 - rng_uniform(&rng) * 0.999, 0.6));
        if (want < 3)
            want = 3;
        int g = (int)(u % GROUPS);
        for (size_t k = 0; k < want && n < NNZ; k++) {
            size_t i;
            if (rng_uniform(&rng) < 0.7) {
                size_t gn = gstart[g + 1] - gstart[g];
                /* popular-first inside the group too: squared uniform */
                double x = rng_uniform(&rng);
                i = by_group[gstart[g] + (size_t)(x * x * (double)gn)];
            } else {
                double x = rng_uniform(&rng) * sum;
                size_t lo = 0, hi = I - 1;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    if (cdf[mid] < x)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                i = lo;
            }
            t[n++] = (RsTriplet){(uint32_t)u, (uint32_t)i, (float)(1 + rng_below(&rng, 5)),
                                 RS_NO_TS};
        }
    }
    RsMatrix *m = NULL;
    RsErr err;
    if (rs_matrix_build(U, I, t, n, &m, &err)) {
        fprintf(stderr, "gen_matrix: %s\n", err.msg);
        abort();
    }
    free(cdf);
    free(by_group);
    free(t);
    return m;
}

/* Each user's entries go to test with probability frac (users with fewer
 * than 5 entries keep all). */
static void split(const RsMatrix *m, double frac, uint64_t seed, RsMatrix **train,
                  RsMatrix **test)
{
    RsRng rng;
    rng_seed(&rng, seed);
    uint8_t *part = calloc(m->NNZ ? m->NNZ : 1, 1);
    RsErr err;
    if (!part)
        abort();
    for (size_t u = 0; u < m->U; u++)
        if (m->u_ptr[u + 1] - m->u_ptr[u] >= 5)
            for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1]; k++)
                part[k] = rng_uniform(&rng) < frac;
    if (rs_matrix_select(m, part, 0, train, &err) || rs_matrix_select(m, part, 1, test, &err))
        abort();
    free(part);
}

/* ---- the CPU reference of one sweep ------------------------------------------------- */

/* G (K, K) = F'F + reg I, F (N, K), summed in double. */
static void gram_ref(float *G, const float *F, size_t N, size_t K, float reg)
{
    for (size_t r = 0; r < K; r++)
        for (size_t s = r; s < K; s++) {
            double a = 0;
            for (size_t n = 0; n < N; n++)
                a += (double)F[n * K + r] * F[n * K + s];
            G[r * K + s] = G[s * K + r] = (float)a + (r == s ? reg : 0);
        }
}

/* One sweep of X (users) or Y (items) with als_solve_cg / als_solve_naive. */
static int sweep_ref(float *X, float *Y, const RsMatrix *R, const float *conf_u,
                     const float *conf_i, size_t K, float reg, int users, int cg)
{
    float *dst = users ? X : Y;
    const float *src = users ? Y : X;
    size_t N = users ? R->U : R->I, M = users ? R->I : R->U;
    const size_t *ptr = users ? R->u_ptr : R->i_ptr;
    const uint32_t *idx = users ? R->u_items : R->i_users;
    const float *conf = users ? conf_u : conf_i;
    float *G = malloc(K * K * sizeof *G), *work = malloc((K * K + 3 * K) * sizeof *work);
    int bad = 0;
    if (!G || !work)
        abort();
    gram_ref(G, src, M, K, reg);
    for (size_t r = 0; r < N; r++) {
        size_t a = ptr[r], n = ptr[r + 1] - a;
        if (cg > 0)
            als_solve_cg(dst + r * K, G, src, idx + a, conf + a, n, K, cg, work);
        else
            bad |= als_solve_naive(dst + r * K, G, src, idx + a, conf + a, n, K, work);
    }
    free(G);
    free(work);
    return bad;
}

static float max_abs(const float *v, size_t n)
{
    float m = 0;
    for (size_t k = 0; k < n; k++)
        m = fabsf(v[k]) > m ? fabsf(v[k]) : m;
    return m;
}

static float max_diff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t k = 0; k < n; k++)
        m = fabsf(a[k] - b[k]) > m ? fabsf(a[k] - b[k]) : m;
    return m;
}

/* One sweep on both sides from the same random start: X and Y after it
 * agree within GPU_TOL_SWEEP of the largest factor. */
static int check_sweep(const RsMatrix *R, size_t K, int users, int cg, double *rel)
{
    RsRng rng;
    rng_seed(&rng, 7 + K);
    size_t nx = R->U * K, ny = R->I * K;
    float *X = malloc(nx * sizeof *X), *Y = malloc(ny * sizeof *Y);
    float *Xg = malloc(nx * sizeof *Xg), *Yg = malloc(ny * sizeof *Yg);
    float *cu = malloc(R->NNZ * sizeof *cu), *ci = malloc(R->NNZ * sizeof *ci);
    float reg = 2;
    int failed = 0;
    GpuAls *g = NULL;
    RsErr err = {0};
    if (!X || !Y || !Xg || !Yg || !cu || !ci)
        abort();
    for (size_t k = 0; k < nx; k++)
        X[k] = (float)(rng_uniform(&rng) - 0.5) * 0.2f;
    for (size_t k = 0; k < ny; k++)
        Y[k] = (float)(rng_uniform(&rng) - 0.5) * 0.2f;
    for (size_t k = 0; k < R->NNZ; k++)
        cu[k] = 1 + 2 * R->u_rating[k];
    for (size_t k = 0; k < R->NNZ; k++)
        ci[k] = cu[R->i_to_u[k]];
    if (gpu_als_new(R, cu, ci, X, Y, K, reg, &g, &err) || gpu_als_sweep(g, users, cg, &err) ||
        gpu_als_download(g, Xg, Yg, &err)) {
        failed = fail("GPU: %s", err.msg);
        goto done;
    }
    if (sweep_ref(X, Y, R, cu, ci, K, reg, users, cg)) {
        failed = fail("CPU reference: a system was not positive definite");
        goto done;
    }
    const float *a = users ? X : Y, *b = users ? Xg : Yg;
    size_t n = users ? nx : ny;
    *rel = max_diff(a, b, n) / max_abs(a, n);
    if (!(*rel <= GPU_TOL_SWEEP))
        failed = fail("max |gpu - cpu| = %.3g of the largest factor (tolerance %g)", *rel,
                      GPU_TOL_SWEEP);
    if (max_diff(users ? Y : X, users ? Yg : Xg, users ? ny : nx) != 0)
        failed = fail("the fixed side changed");
done:
    gpu_als_free(g);
    free(X), free(Y), free(Xg), free(Yg), free(cu), free(ci);
    return failed;
}

/* ---- whole fits ------------------------------------------------------------------------ */

#define MAX_ITERS 64

typedef struct Curve {
    int n;
    double loss[MAX_ITERS];
} Curve;

static int on_progress(void *ctx, const FitProgress *p)
{
    Curve *c = ctx;
    if (p->epoch >= 1 && p->epoch <= MAX_ITERS) {
        c->loss[p->epoch - 1] = p->loss;
        c->n = p->epoch;
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static RsModel *fit_als(const RsMatrix *train, const char *const *kv, size_t nkv, int device,
                        Curve *c, RsErr *err)
{
    ParamValues pv;
    RsModel *m = NULL;
    memset(c, 0, sizeof *c);
    if (params_parse(model_als.params, model_als.nparams, kv, nkv, &pv, err) ||
        model_new(&model_als, train->U, train->I, &pv, 42, &m, err))
        return NULL;
    FitContext ctx = {.train = train, .nthreads = rs_ncpus(), .progress = on_progress,
                      .progress_ctx = c, .device = device};
    if (model_fit(m, &ctx, err)) {
        model_free(m);
        return NULL;
    }
    return m;
}

/* NDCG@10 under full ranking, all test items relevant, over users with test
 * items (binary gains; Jarvelin & Kekalainen 2002). */
static double ndcg10(const RsModel *m, const RsMatrix *train, const RsMatrix *test)
{
    RsRec rec[10];
    double sum = 0;
    size_t users = 0;
    for (uint32_t u = 0; u < test->U; u++) {
        size_t nrel = test->u_ptr[u + 1] - test->u_ptr[u], n = 0;
        if (nrel == 0)
            continue;
        if (model_recommend(m, train, u, 10, 1, rec, &n, NULL))
            return NAN;
        double dcg = 0, idcg = 0;
        for (size_t r = 0; r < n; r++)
            if (rs_matrix_find(test, u, rec[r].item) != (size_t)-1)
                dcg += 1 / log2((double)r + 2);
        for (size_t r = 0; r < nrel && r < 10; r++)
            idcg += 1 / log2((double)r + 2);
        sum += dcg / idcg;
        users++;
    }
    return users ? sum / users : NAN;
}

/* Fraction of users whose top-10 lists (model a vs model b) are identical;
 * *bad counts ranks where they differ although the CPU scores of model a
 * say the two items are not tied within tie * (top score). */
static double same_lists(const RsModel *a, const RsModel *b, const RsMatrix *train, double tie,
                         size_t *bad)
{
    RsRec ra[10], rb[10];
    float *sa = malloc(train->I * sizeof *sa);
    size_t same = 0;
    *bad = 0;
    if (!sa)
        abort();
    for (uint32_t u = 0; u < train->U; u++) {
        size_t na = 0, nb = 0;
        model_recommend(a, train, u, 10, 1, ra, &na, NULL);
        model_recommend(b, train, u, 10, 1, rb, &nb, NULL);
        a->cls->score(a, train, u, sa, NULL);
        int eq = na == nb;
        for (size_t r = 0; r < na && r < nb; r++) {
            if (ra[r].item == rb[r].item)
                continue;
            eq = 0;
            if (fabsf(sa[ra[r].item] - sa[rb[r].item]) > tie * fabsf(ra[0].score))
                (*bad)++;
        }
        same += eq;
    }
    free(sa);
    return (double)same / train->U;
}

/* A GPU-trained model saved and loaded again (the CPU-only path) recommends
 * what the trained one does. */
static int check_blob(const RsModel *m, const RsMatrix *train)
{
    RsBlob b = {0};
    RsModel *l = NULL;
    RsErr err;
    int failed = 0;
    if (model_save(m, &b, &err) || model_load(b.data, b.len, m->U, m->I, &l, &err)) {
        failed = fail("save/load: %s", err.msg);
        goto done;
    }
    for (uint32_t u = 0; u < train->U && !failed; u += 7) {
        RsRec r1[10], r2[10];
        size_t n1 = 0, n2 = 0;
        model_recommend(m, train, u, 10, 1, r1, &n1, NULL);
        model_recommend(l, train, u, 10, 1, r2, &n2, NULL);
        if (n1 != n2 || memcmp(r1, r2, n1 * sizeof *r1))
            failed = fail("user %u: the loaded model recommends differently", u);
    }
done:
    model_free(l);
    blob_done(&b);
    return failed;
}

/* X (U, K) and Y (I, K) of an ALS model, read from its blob (payload
 * u32 K, X, Y, then the 8-byte checksum); they point into b. */
static int als_factors(const RsModel *m, size_t K, RsBlob *b, const float **X, const float **Y)
{
    RsErr err;
    if (model_save(m, b, &err))
        return fail("model_save: %s", err.msg);
    size_t bytes = (m->U + m->I) * K * sizeof(float);
    *X = (const float *)(b->data + b->len - 8 - bytes);
    *Y = *X + m->U * K;
    return 0;
}

/* gpu_topk_factors on a trained model's factors gives model_recommend's
 * lists, except where two scores are tied within 1e-4 of the top score. */
static int check_topk_model(const RsModel *m, const RsMatrix *train, size_t K)
{
    RsBlob b = {0};
    const float *X = NULL, *Y = NULL;
    size_t U = train->U, N = 10;
    uint32_t *items = malloc(U * N * sizeof *items), *counts = malloc(U * sizeof *counts);
    float *scores = malloc(U * N * sizeof *scores), *s = malloc(train->I * sizeof *s);
    RsErr err;
    size_t ties = 0;
    int failed = 0;
    if (!items || !counts || !scores || !s)
        abort();
    if ((failed = als_factors(m, K, &b, &X, &Y)))
        goto done;
    if (gpu_topk_factors(X, U, Y, train->I, K, train, NULL, U, N, items, scores, counts, &err)) {
        failed = fail("GPU: %s", err.msg);
        goto done;
    }
    for (uint32_t u = 0; u < U && !failed; u++) {
        RsRec ref[10];
        size_t n = 0;
        model_recommend(m, train, u, N, 1, ref, &n, NULL);
        m->cls->score(m, train, u, s, NULL);
        if (counts[u] != n) {
            failed = fail("user %u: %u items from the GPU, %zu from the CPU", u, counts[u], n);
            break;
        }
        float tol = 1e-4f * fabsf(ref[0].score);
        for (size_t r = 0; r < n && !failed; r++) {
            uint32_t it = items[u * N + r];
            if (it == ref[r].item)
                continue;
            if (it >= train->I || fabsf(s[it] - ref[r].score) > tol)
                failed = fail("user %u rank %zu: gpu item %u, cpu item %u, not tied", u, r, it,
                              ref[r].item);
            else
                ties++;
        }
    }
    printf("#   %zu list positions differ between near-tied items\n", ties);
done:
    blob_done(&b);
    free(items), free(counts), free(scores), free(s);
    return failed;
}

typedef struct FitCase {
    const char *name;
    const char *kv[8];
    size_t nkv;
} FitCase;

static int check_fit(const FitCase *fc, const RsMatrix *train, const RsMatrix *test)
{
    Curve cc, cg;
    RsErr err;
    int failed = 0;
    double t0 = now();
    RsModel *mc = fit_als(train, fc->kv, fc->nkv, RS_DEVICE_CPU, &cc, &err);
    if (!mc)
        return fail("CPU fit: %s", err.msg);
    double t1 = now();
    RsModel *mg = fit_als(train, fc->kv, fc->nkv, RS_DEVICE_GPU, &cg, &err);
    if (!mg) {
        model_free(mc);
        return fail("GPU fit: %s", err.msg);
    }
    printf("#   %s: fit %.2f s on the CPU (%d threads), %.2f s on the GPU\n", fc->name, t1 - t0,
           rs_ncpus(), now() - t1);
    double worst = 0;
    int at = 0;
    for (int k = 0; k < cc.n; k++) {
        double rel = fabs(cg.loss[k] - cc.loss[k]) / fabs(cc.loss[k]);
        if (!(rel <= worst)) {
            worst = rel;
            at = k + 1;
        }
    }
    printf("#   %s: loss cpu %.6f -> %.6f, gpu %.6f -> %.6f; max rel diff %.2e (iteration %d)\n",
           fc->name, cc.loss[0], cc.loss[cc.n - 1], cg.loss[0], cg.loss[cg.n - 1], worst, at);
    if (cg.n != cc.n)
        failed = fail("%d GPU iterations reported, %d on the CPU", cg.n, cc.n);
    else if (!(worst <= GPU_TOL_LOSS))
        failed = fail("loss differs by %.3g relative at iteration %d (tolerance %g)", worst, at,
                      GPU_TOL_LOSS);
    double nc = ndcg10(mc, train, test), ng = ndcg10(mg, train, test);
    size_t bad = 0;
    double same = same_lists(mc, mg, train, GPU_TOL_TIE, &bad);
    printf("#   %s: ndcg@10 cpu %.4f gpu %.4f; identical top-10 lists %.1f%%, "
           "untied differences %zu\n",
           fc->name, nc, ng, 100 * same, bad);
    if (!(fabs(nc - ng) <= GPU_TOL_NDCG))
        failed = fail("ndcg@10 %.4f (cpu) vs %.4f (gpu), tolerance %g", nc, ng, GPU_TOL_NDCG);
    if (bad > 0)
        failed = fail("%zu list positions differ where the scores are not tied", bad);
    failed |= check_blob(mg, train);
    failed |= check_topk_model(mc, train, (size_t)model_param(mc, "factors"));
    model_free(mc);
    model_free(mg);
    return failed;
}

/* BPR: the GPU's epochs (thousands of warps, Hogwild) against the CPU's
 * (one thread, deterministic). The draws differ, so the comparison is
 * statistical: the mean loss of every epoch within GPU_TOL_BPR_LOSS
 * relative, NDCG@10 within GPU_TOL_BPR_NDCG relative, both far better than
 * the random start; and the GPU model's blob loads and recommends the same. */
static RsModel *fit_bpr(const RsMatrix *train, int device, Curve *c, RsErr *err)
{
    const char *kv[] = {"factors=32", "epochs=15", "lr=0.05", "reg=0.01"};
    ParamValues pv;
    RsModel *m = NULL;
    memset(c, 0, sizeof *c);
    if (params_parse(model_bpr.params, model_bpr.nparams, kv, 4, &pv, err) ||
        model_new(&model_bpr, train->U, train->I, &pv, 42, &m, err))
        return NULL;
    FitContext ctx = {.train = train, .nthreads = 1, .progress = on_progress,
                      .progress_ctx = c, .device = device};
    if (model_fit(m, &ctx, err)) {
        model_free(m);
        return NULL;
    }
    return m;
}

static int check_bpr(const RsMatrix *train, const RsMatrix *test)
{
    Curve cc, cg;
    RsErr err;
    int failed = 0;
    double t0 = now();
    RsModel *mc = fit_bpr(train, RS_DEVICE_CPU, &cc, &err);
    if (!mc)
        return fail("CPU fit: %s", err.msg);
    double t1 = now();
    RsModel *mg = fit_bpr(train, RS_DEVICE_GPU, &cg, &err);
    if (!mg) {
        model_free(mc);
        return fail("GPU fit: %s", err.msg);
    }
    printf("#   bpr: fit %.2f s on the CPU (1 thread), %.2f s on the GPU\n", t1 - t0, now() - t1);
    double worst = 0;
    int at = 0;
    for (int k = 0; k < cc.n && k < cg.n; k++) {
        double rel = fabs(cg.loss[k] - cc.loss[k]) / fabs(cc.loss[k]);
        if (!(rel <= worst)) {
            worst = rel;
            at = k + 1;
        }
    }
    printf("#   bpr: loss cpu %.4f -> %.4f, gpu %.4f -> %.4f; max rel diff %.3f (epoch %d)\n",
           cc.loss[0], cc.loss[cc.n - 1], cg.loss[0], cg.loss[cg.n - 1], worst, at);
    double nc = ndcg10(mc, train, test), ng = ndcg10(mg, train, test);
    printf("#   bpr: ndcg@10 cpu %.4f gpu %.4f\n", nc, ng);
    if (cg.n != cc.n)
        failed = fail("%d GPU epochs reported, %d on the CPU", cg.n, cc.n);
    else if (!(worst <= GPU_TOL_BPR_LOSS))
        failed = fail("loss differs by %.3f relative at epoch %d (tolerance %g)", worst, at,
                      GPU_TOL_BPR_LOSS);
    else if (!(cg.loss[cg.n - 1] < 0.8 * log(2.0)))
        failed = fail("the GPU's loss %.4f is no better than chance (ln 2)", cg.loss[cg.n - 1]);
    if (!(fabs(nc - ng) <= GPU_TOL_BPR_NDCG * nc))
        failed = fail("ndcg@10 %.4f (cpu) vs %.4f (gpu), tolerance %g relative", nc, ng,
                      GPU_TOL_BPR_NDCG);
    failed |= check_blob(mg, train);
    model_free(mc);
    model_free(mg);
    return failed;
}

/* eval_model on the GPU (lists and AUC pair counts from
 * gpu_topk_rank_factors) against the CPU, for a model of the class: every
 * metric's mean within 1e-3 absolute (near-tied items may swap places),
 * AUC within 1e-4. */
static int check_eval(const ModelClass *cls, const char *const *kv, size_t nkv,
                      const RsMatrix *train, const RsMatrix *test)
{
    ParamValues pv;
    RsModel *m = NULL;
    RsErr err;
    EvalResult *rc_ = NULL, *rg = NULL;
    int failed = 0;
    if (params_parse(cls->params, cls->nparams, kv, nkv, &pv, &err) ||
        model_new(cls, train->U, train->I, &pv, 42, &m, &err))
        return fail("%s: %s", cls->name, err.msg);
    FitContext ctx = {.train = train, .nthreads = rs_ncpus()};
    if (model_fit(m, &ctx, &err)) {
        failed = fail("fit %s: %s", cls->name, err.msg);
        goto done;
    }
    EvalOptions o;
    eval_options_default(&o);
    double t0 = now();
    if (eval_model(m, train, test, NULL, &o, &rc_, &err)) {
        failed = fail("CPU eval: %s", err.msg);
        goto done;
    }
    double t1 = now();
    o.device = RS_DEVICE_GPU;
    if (eval_model(m, train, test, NULL, &o, &rg, &err)) {
        failed = fail("GPU eval: %s", err.msg);
        goto done;
    }
    printf("#   %s: eval %.2f s on the CPU, %.2f s with the GPU\n", cls->name, t1 - t0,
           now() - t1);
    if (rc_->n_metrics != rg->n_metrics || rc_->n_users != rg->n_users) {
        failed = fail("%zu metrics / %zu users on the CPU, %zu / %zu on the GPU",
                      rc_->n_metrics, rc_->n_users, rg->n_metrics, rg->n_users);
        goto done;
    }
    double worst = 0;
    const char *at = "";
    for (size_t k = 0; k < rc_->n_metrics; k++) {
        double a = rc_->metrics[k].value, b = rg->metrics[k].value;
        double tol = strcmp(rc_->metrics[k].name, "auc") ? 1e-3 : 1e-4;
        double d = fabs(a - b);
        if (isnan(a) && isnan(b))
            continue;
        if (!(d <= worst)) {
            worst = d;
            at = rc_->metrics[k].name;
        }
        if (!(d <= tol))
            failed = fail("%s: %.6f (cpu) vs %.6f (gpu), tolerance %g", rc_->metrics[k].name,
                          a, b, tol);
        if (!strcmp(rc_->metrics[k].name, "ndcg@10") || !strcmp(rc_->metrics[k].name, "auc"))
            printf("#   %s: %s cpu %.6f gpu %.6f\n", cls->name, rc_->metrics[k].name, a, b);
    }
    printf("#   %s: largest difference %.2e (%s)\n", cls->name, worst, at);
done:
    eval_result_free(rc_);
    eval_result_free(rg);
    model_free(m);
    return failed;
}

/* ---- batch scoring --------------------------------------------------------------------- */

/* GPU top-N of X Y' against topk() of CPU dot products. ints: factors are
 * small integers, so both sides compute exact sums and must agree exactly
 * (ties by index included). */
static int check_topk(const RsMatrix *R, size_t K, size_t N, int ints, int subset,
                      int with_exclude)
{
    size_t U = R->U, I = R->I;
    RsRng rng;
    rng_seed(&rng, 99 + N + K);
    float *X = malloc(U * K * sizeof *X), *Y = malloc(I * K * sizeof *Y);
    float *s = malloc(I * sizeof *s);
    uint8_t *ex = calloc(I, 1);
    uint32_t *users = malloc(U * sizeof *users);
    size_t nu = 0;
    int failed = 0;
    for (size_t k = 0; k < U * K; k++)
        X[k] = ints ? (float)((int)rng_below(&rng, 5) - 2) : (float)rng_normal(&rng);
    for (size_t k = 0; k < I * K; k++)
        Y[k] = ints ? (float)((int)rng_below(&rng, 3) - 1) : (float)rng_normal(&rng);
    for (uint32_t u = 0; u < U; u++)
        if (!subset || u % 3 == 1)
            users[nu++] = u;
    uint32_t *items = malloc(nu * N * sizeof *items), *counts = malloc(nu * sizeof *counts);
    float *scores = malloc(nu * N * sizeof *scores);
    RsRec *ref = malloc(N * sizeof *ref);
    if (!X || !Y || !s || !ex || !users || !items || !counts || !scores || !ref)
        abort();
    RsErr err;
    if (gpu_topk_factors(X, U, Y, I, K, with_exclude ? R : NULL, subset ? users : NULL, nu, N,
                         items, scores, counts, &err)) {
        failed = fail("GPU: %s", err.msg);
        goto done;
    }
    for (size_t k = 0; k < nu && !failed; k++) {
        uint32_t u = users[k];
        for (size_t i = 0; i < I; i++) {
            double d = 0;
            for (size_t q = 0; q < K; q++)
                d += (double)X[u * K + q] * Y[i * K + q];
            s[i] = (float)d;
        }
        if (with_exclude)
            for (size_t j = R->u_ptr[u]; j < R->u_ptr[u + 1]; j++)
                ex[R->u_items[j]] = 1;
        size_t n = topk(s, I, with_exclude ? ex : NULL, N, ref);
        const uint32_t *it = items + k * N;
        const float *sc = scores + k * N;
        if (counts[k] != n)
            failed = fail("user %u: %u items from the GPU, %zu from topk()", u, counts[k], n);
        for (size_t r = 0; r < n && !failed; r++) {
            float top = fabsf(ref[0].score) > 1 ? fabsf(ref[0].score) : 1;
            if (it[r] >= I || (with_exclude && ex[it[r]]))
                failed = fail("user %u rank %zu: item %u is excluded or out of range", u, r,
                              it[r]);
            else if (ints ? (it[r] != ref[r].item || sc[r] != ref[r].score)
                          : fabsf(sc[r] - s[it[r]]) > 1e-5f * top)
                failed = fail("user %u rank %zu: gpu item %u (%g), cpu item %u (%g)", u, r,
                              it[r], (double)sc[r], ref[r].item, (double)ref[r].score);
            else if (!ints && it[r] != ref[r].item &&
                     fabsf(s[it[r]] - ref[r].score) > 1e-5f * top)
                failed = fail("user %u rank %zu: gpu item %u, cpu item %u, not tied", u, r,
                              it[r], ref[r].item);
        }
        for (size_t r = n; r < N && !failed; r++)
            if (it[r] != UINT32_MAX)
                failed = fail("user %u: slot %zu beyond the count is filled", u, r);
        if (with_exclude)
            for (size_t j = R->u_ptr[u]; j < R->u_ptr[u + 1]; j++)
                ex[R->u_items[j]] = 0;
    }
done:
    free(X), free(Y), free(s), free(ex), free(users), free(items), free(counts), free(scores),
        free(ref);
    return failed;
}

/* Bad arguments are errors with messages, not crashes. */
static int check_errors(const RsMatrix *R)
{
    RsErr err = {0};
    GpuAls *g = NULL;
    float x[4] = {0}, conf[1] = {1};
    uint32_t it[1], cnt[1];
    float sc[1];
    int failed = 0;
    if (gpu_als_new(R, conf, conf, x, x, 0, 1, &g, &err) != RS_EUSAGE || g || !err.msg[0])
        failed = fail("K = 0 was not refused");
    if (gpu_topk_factors(x, 1, x, 1, 1, NULL, NULL, 1, 0, it, sc, cnt, &err) != RS_EUSAGE)
        failed = fail("N = 0 was not refused");
    if (gpu_topk_factors(x, 1, x, 1, 1, NULL, NULL, 1, GPU_TOPK_MAX + 1, it, sc, cnt, &err) !=
        RS_EUSAGE)
        failed = fail("N > GPU_TOPK_MAX was not refused");
    return failed;
}

/* ---- main ------------------------------------------------------------------------------ */


static const char *const test_names[] = {
    "errors: bad arguments are refused with messages",
    "sweep: CG items, K=64",
    "sweep: CG users, K=40 (a partial warp)",
    "sweep: exact users, K=64 (Cholesky in shared memory)",
    "sweep: exact items, K=300 (Cholesky in global memory)",
    "fit: ALS K=64, 12 iterations, binary confidence, 3 CG steps (+ blob, batch top-10)",
    "fit: ALS K=48, 6 iterations, linear confidence, exact solves (+ blob, batch top-10)",
    "topk: integer factors, N=10, exclusions (exact, ties by index)",
    "topk: random factors, N=10, user subset, exclusions",
    "topk: random factors, N=100, no exclusions",
    "topk: integer factors, N=300, exclusions",
    "fit: BPR K=32, 15 epochs, against the CPU (+ blob)",
    "eval: ALS K=32, full protocol, GPU lists and AUC against the CPU",
    "eval: biased MF K=16 (biases as factor columns), GPU against the CPU",
};

int main(void)
{
    RsGpuInfo gi;
    gpu_probe(&gi);
    size_t ntests = RS_ARRAY_LEN(test_names);
    if (gi.devices == 0) {
        for (size_t k = 0; k < ntests; k++)
            printf("skip - no CUDA device: %s (%s)\n", gi.message, test_names[k]);
        printf("0 passed, 0 failed, %zu skipped\n", ntests);
        return 0;
    }
    printf("# device: %s; %s\n", gi.name, gpu_build_description());

    /* item counts that are not multiples of 4 (the scoring pads rows) */
    RsMatrix *all = gen_matrix(6000, 2999, 300000, 1), *train = NULL, *test = NULL;
    split(all, 0.2, 2, &train, &test);
    RsMatrix *small = gen_matrix(400, 301, 8000, 3);
    printf("# data: %zu users, %zu items, %zu train / %zu test interactions\n", train->U,
           train->I, train->NNZ, test->NNZ);
    double rel = 0;
    int t = 0;

    report(test_names[t++], check_errors(small));
    report(test_names[t++], check_sweep(train, 64, 0, 3, &rel));
    printf("#   max rel diff %.2e\n", rel);
    report(test_names[t++], check_sweep(train, 40, 1, 3, &rel));
    printf("#   max rel diff %.2e\n", rel);
    report(test_names[t++], check_sweep(train, 64, 1, 0, &rel));
    printf("#   max rel diff %.2e\n", rel);
    report(test_names[t++], check_sweep(small, 300, 0, 0, &rel));
    printf("#   max rel diff %.2e\n", rel);

    FitCase f1 = {"K=64", {"factors=64", "iterations=12", "reg=20", "alpha=2"}, 4};
    FitCase f2 = {"K=48",
                  {"factors=48", "iterations=6", "cg_steps=0", "confidence=linear", "alpha=1",
                   "reg=10"},
                  6};
    report(test_names[t++], check_fit(&f1, train, test));
    report(test_names[t++], check_fit(&f2, train, test));

    report(test_names[t++], check_topk(train, 16, 10, 1, 0, 1));
    report(test_names[t++], check_topk(train, 64, 10, 0, 1, 1));
    report(test_names[t++], check_topk(train, 32, 100, 0, 0, 0));
    report(test_names[t++], check_topk(small, 8, 300, 1, 0, 1));
    report(test_names[t++], check_bpr(train, test));
    const char *ka[] = {"factors=32", "iterations=5"}, *km[] = {"factors=16", "epochs=3"};
    report(test_names[t++], check_eval(&model_als, ka, 2, train, test));
    report(test_names[t++], check_eval(&model_mf, km, 2, train, test));

    rs_matrix_free(all);
    rs_matrix_free(train);
    rs_matrix_free(test);
    rs_matrix_free(small);
    printf("%d passed, %d failed, 0 skipped\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
