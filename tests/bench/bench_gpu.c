/*
 * bench_gpu.c - ALS fit time and batch top-10 scoring, CPU against GPU, on
 * generated data (engine/synth.h, 20M interactions by default).
 *
 * usage: bench_gpu [USERS ITEMS INTERACTIONS [RUNS [CPU_RUNS]]]
 *   defaults 500000 100000 20000000 3 (CPU_RUNS = RUNS)
 * Generates the data set into a temporary folder (removed at the end), reads
 * interactions.csv back, then for 64 and 128 factors fits ALS (15
 * iterations, 3 CG steps, the defaults otherwise) RUNS times on the CPU (all
 * cores) and on the GPU and prints each median; then times top-10
 * recommendation of every user with training items excluded: the GPU's batch
 * path (backend.h) against model_recommend() on all CPU cores (a sample of
 * users). Without a usable GPU it prints why and times the CPU alone.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "als.h"
#include "backend.h"
#include "dataset.h"
#include "mf.h"
#include "model.h"
#include "parallel.h"
#include "synth.h"

#define MAX_RUNS 9

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const RsErr *err)
{
    fprintf(stderr, "bench_gpu: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* interactions.csv (user_id,item_id,rating,timestamp; ids 1-based) -> matrix */
static RsMatrix *load_csv(const char *path, size_t U, size_t I, size_t nnz)
{
    FILE *f = fopen(path, "r");
    RsTriplet *t = malloc(nnz * sizeof *t);
    char line[256];
    size_t n = 0;
    RsErr err;
    if (!f || !t)
        die(path, NULL);
    if (!fgets(line, sizeof line, f))
        die("empty csv", NULL);
    while (n < nnz && fgets(line, sizeof line, f)) {
        char *p = line;
        unsigned long u = strtoul(p, &p, 10), i = strtoul(p + 1, &p, 10);
        float r = strtof(p + 1, &p);
        long long ts = strtoll(p + 1, &p, 10);
        t[n++] = (RsTriplet){(uint32_t)(u - 1), (uint32_t)(i - 1), r, ts};
    }
    fclose(f);
    RsMatrix *m = NULL;
    if (rs_matrix_build(U, I, t, n, &m, &err))
        die("rs_matrix_build", &err);
    free(t);
    return m;
}

static int last_loss(void *ctx, const FitProgress *p)
{
    *(double *)ctx = p->loss;
    return 0;
}

/* Fits ALS with K factors; *secs the wall time, *loss the last iteration's
 * training loss. */
static RsModel *fit(const RsMatrix *R, size_t K, int device, double *secs, double *loss)
{
    char fk[32];
    snprintf(fk, sizeof fk, "factors=%zu", K);
    const char *kv[] = {fk, "iterations=15", "cg_steps=3"};
    ParamValues pv;
    RsModel *m = NULL;
    RsErr err;
    if (params_parse(model_als.params, model_als.nparams, kv, 3, &pv, &err) ||
        model_new(&model_als, R->U, R->I, &pv, 42, &m, &err))
        die("model", &err);
    FitContext ctx = {.train = R, .nthreads = rs_ncpus(), .device = device,
                      .progress = last_loss, .progress_ctx = loss};
    double t0 = now();
    if (model_fit(m, &ctx, &err))
        die(device == RS_DEVICE_GPU ? "GPU fit" : "CPU fit", &err);
    *secs = now() - t0;
    return m;
}

/* Fits BPR (K = 64, `epochs` epochs, the defaults otherwise). */
static double fit_bpr(const RsMatrix *R, int epochs, int device, double *loss)
{
    char fe[32];
    snprintf(fe, sizeof fe, "epochs=%d", epochs);
    const char *kv[] = {"factors=64", fe};
    ParamValues pv;
    RsModel *m = NULL;
    RsErr err;
    if (params_parse(model_bpr.params, model_bpr.nparams, kv, 2, &pv, &err) ||
        model_new(&model_bpr, R->U, R->I, &pv, 42, &m, &err))
        die("model", &err);
    FitContext ctx = {.train = R, .nthreads = rs_ncpus(), .device = device,
                      .progress = last_loss, .progress_ctx = loss};
    double t0 = now();
    if (model_fit(m, &ctx, &err))
        die(device == RS_DEVICE_GPU ? "GPU BPR fit" : "CPU BPR fit", &err);
    double secs = now() - t0;
    model_free(m);
    return secs;
}

/* X (U, K) and Y (I, K) of an ALS model, read from its blob (payload
 * u32 K, X, Y, then the 8-byte checksum). Points into b. */
static void factors(const RsModel *m, size_t K, RsBlob *b, const float **X, const float **Y)
{
    RsErr err;
    if (model_save(m, b, &err))
        die("model_save", &err);
    size_t bytes = (m->U + m->I) * K * sizeof(float);
    const uint8_t *end = b->data + b->len - 8;
    *X = (const float *)(end - bytes);
    *Y = *X + m->U * K;
}

typedef struct CpuRec {
    const RsModel *m;
    const RsMatrix *R;
    const uint32_t *users;
    RsRec *out; /* (nthreads, 10) */
} CpuRec;

static void cpu_rec_rows(void *ctx, size_t begin, size_t end, int tid)
{
    CpuRec *c = ctx;
    size_t n;
    for (size_t k = begin; k < end; k++)
        model_recommend(c->m, c->R, c->users[k], 10, 1, c->out + (size_t)tid * 10, &n, NULL);
}

static void bench_scoring(const RsModel *m, const RsMatrix *R, size_t K, int gpu)
{
    RsBlob b = {0};
    const float *X, *Y;
    factors(m, K, &b, &X, &Y);
    size_t U = R->U, I = R->I, N = 10;
    int nth = rs_ncpus();
    /* CPU: model_recommend on all cores, a sample of users */
    size_t ns = U < 5000 ? U : 5000;
    uint32_t *users = malloc(ns * sizeof *users);
    RsRec *out = malloc((size_t)nth * 10 * sizeof *out);
    for (size_t k = 0; k < ns; k++)
        users[k] = (uint32_t)(k * (U / ns));
    CpuRec c = {m, R, users, out};
    double t0 = now();
    rs_parallel_for(ns, nth, 64, cpu_rec_rows, &c);
    double cpu = now() - t0;
    printf("scoring K=%zu: CPU model_recommend, %d threads: %.0f users/s (%zu users in %.2f s)\n",
           K, nth, ns / cpu, ns, cpu);
    if (gpu) {
        uint32_t *items = malloc(U * N * sizeof *items), *counts = malloc(U * sizeof *counts);
        float *scores = malloc(U * N * sizeof *scores);
        RsErr err;
        double best = INFINITY;
        for (int r = 0; r < 3; r++) {
            t0 = now();
            if (gpu_topk_factors(X, U, Y, I, K, R, NULL, U, N, items, scores, counts, &err))
                die("gpu_topk_factors", &err);
            double t = now() - t0;
            best = t < best ? t : best;
        }
        /* S is written by SGEMM and read by the selection: 8 bytes per score */
        printf("scoring K=%zu: GPU batch top-10: %.0f users/s (all %zu users in %.3f s, best of 3, "
               "uploads included; %.0f GB/s of scores written and read, %.1f TFLOP/s)\n",
               K, U / best, U, best, 8.0 * U * I / best / 1e9, 2.0 * U * I * K / best / 1e12);
        free(items), free(counts), free(scores);
    }
    free(users), free(out);
    blob_done(&b);
}

int main(int argc, char **argv)
{
    SynthParams p = {500000, 100000, 20000000, 42};
    int runs = 3, cpu_runs = -1;
    if (argc >= 4) {
        p.users = strtoul(argv[1], NULL, 10);
        p.items = strtoul(argv[2], NULL, 10);
        p.interactions = strtoul(argv[3], NULL, 10);
    }
    if (argc >= 5)
        runs = atoi(argv[4]);
    if (argc >= 6)
        cpu_runs = atoi(argv[5]);
    if (runs < 1 || runs > MAX_RUNS)
        runs = 3;
    if (cpu_runs < 1 || cpu_runs > MAX_RUNS)
        cpu_runs = runs;
    RsErr err;
    RsGpuInfo gi;
    gpu_probe(&gi);
    int gpu = gi.devices > 0;
    printf("bench_gpu: %s; %d CPU threads; device: %s\n", gpu_build_description(), rs_ncpus(),
           gpu ? gi.name : gi.message);

    char dir[] = "/tmp/bench_gpu.XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    double t0 = now();
    if (synth_generate(dir, &p, NULL, NULL, &err))
        die("synth_generate", &err);
    double tgen = now() - t0;
    char path[512];
    snprintf(path, sizeof path, "%s/interactions.csv", dir);
    t0 = now();
    RsMatrix *R = load_csv(path, p.users, p.items, p.interactions);
    printf("data: %zu users, %zu items, %zu interactions (generated in %.1f s, loaded in %.1f s)\n",
           R->U, R->I, R->NNZ, tgen, now() - t0);
    const char *names[] = {"interactions.csv", "items.csv", "users.csv", "generator.txt"};
    for (size_t k = 0; k < RS_ARRAY_LEN(names); k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        unlink(path);
    }
    rmdir(dir);

    { /* BPR: per-epoch time, 5 epochs per fit */
        double tc[MAX_RUNS], tg[MAX_RUNS], lc = NAN, lg = NAN;
        for (int r = 0; gpu && r < runs; r++)
            tg[r] = fit_bpr(R, 5, RS_DEVICE_GPU, &lg) / 5;
        for (int r = 0; r < cpu_runs; r++)
            tc[r] = fit_bpr(R, 5, RS_DEVICE_CPU, &lc) / 5;
        double mc = median(tc, cpu_runs);
        if (gpu)
            printf("BPR K=64, one epoch (%zu draws): CPU %.2f s (median of %d), GPU %.3f s "
                   "(median of %d); %.1fx; loss after 5 epochs CPU %.4f GPU %.4f\n",
                   R->NNZ, mc, cpu_runs, median(tg, runs), runs, mc / median(tg, runs), lc, lg);
        else
            printf("BPR K=64, one epoch (%zu draws): CPU %.2f s (median of %d); no GPU\n",
                   R->NNZ, mc, cpu_runs);
        fflush(stdout);
    }

    size_t Ks[] = {64, 128};
    for (size_t k = 0; k < RS_ARRAY_LEN(Ks); k++) {
        size_t K = Ks[k];
        double tc[MAX_RUNS], tg[MAX_RUNS], lc = NAN, lg = NAN;
        RsModel *last = NULL;
        for (int r = 0; gpu && r < runs; r++) {
            model_free(last);
            last = fit(R, K, RS_DEVICE_GPU, &tg[r], &lg);
            printf("  ALS K=%zu GPU run %d: %.2f s\n", K, r + 1, tg[r]);
            fflush(stdout);
        }
        for (int r = 0; r < cpu_runs; r++) {
            model_free(last);
            last = fit(R, K, RS_DEVICE_CPU, &tc[r], &lc);
            printf("  ALS K=%zu CPU run %d: %.2f s\n", K, r + 1, tc[r]);
            fflush(stdout);
        }
        double mc = median(tc, cpu_runs);
        if (gpu) {
            double mg = median(tg, runs);
            printf("ALS K=%zu, 15 iterations: CPU %.2f s (median of %d), GPU %.2f s (median of %d);"
                   " %.1fx; GPU %.3f s per iteration; final loss CPU %.6f GPU %.6f (rel diff %.1e)\n",
                   K, mc, cpu_runs, mg, runs, mc / mg, mg / 15, lc, lg, fabs(lg - lc) / lc);
        } else {
            printf("ALS K=%zu, 15 iterations: CPU %.2f s (median of %d); no GPU\n", K, mc,
                   cpu_runs);
        }
        fflush(stdout);
        bench_scoring(last, R, K, gpu);
        model_free(last);
    }
    rs_matrix_free(R);
    return 0;
}
