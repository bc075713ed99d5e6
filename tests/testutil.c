/* testutil.c - temp dirs and files, gradient checks and MovieLens-100K
 * helpers for the unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_mkdtemp(void)
{
    char *t = strdup("/tmp/recscope-test-XXXXXX");
    if (!t || !mkdtemp(t)) {
        perror("mkdtemp");
        abort();
    }
    return t;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *tu_write(const char *dir, const char *name, const char *data, size_t len)
{
    char *p = tu_path(dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        abort();
    }
    if (len == (size_t)-1)
        len = strlen(data);
    fwrite(data, 1, len, f);
    fclose(f);
    return p;
}

/* Where tu_ml100k() looks, in order (env: $RECSCOPE_ML100K, may be NULL). */
#define ML100K_DIRS(env) {(env), "../shared/datasets/ml-100k", "../../shared/datasets/ml-100k"}

const char *tu_ml100k(void)
{
    static char buf[4096];
    const char *env = getenv("RECSCOPE_ML100K");
    if (env && !*env)
        return NULL; /* set and empty: skip the MovieLens tests (make memcheck) */
    const char *cands[] = ML100K_DIRS(env);
    for (size_t k = 0; k < sizeof cands / sizeof cands[0]; k++) {
        if (!cands[k])
            continue;
        snprintf(buf, sizeof buf, "%s/u.data", cands[k]);
        if (access(buf, R_OK) == 0) {
            snprintf(buf, sizeof buf, "%s", cands[k]);
            return buf;
        }
    }
    return NULL;
}

void tu_ml100k_skip_note(void)
{
    const char *env = getenv("RECSCOPE_ML100K");
    if (env && !*env) {
        printf("MovieLens-100K checks off (RECSCOPE_ML100K is set and empty; "
               "make unit UNIT_ML100K=1 runs them): skipped\n");
        return;
    }
    const char *cands[] = ML100K_DIRS(env), *sep = "";
    printf("MovieLens-100K not found (no readable u.data in ");
    for (size_t k = 0; k < sizeof cands / sizeof cands[0]; k++)
        if (cands[k]) {
            printf("%s%s", sep, cands[k]);
            sep = ", ";
        }
    printf("; set RECSCOPE_ML100K to the ml-100k folder): skipped\n");
}

void tu_fill_normal(float *x, size_t n, float std, RsRng *rng)
{
    for (size_t k = 0; k < n; k++)
        x[k] = (float)(std * rng_normal(rng));
}

double tu_dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += (double)a[k] * b[k];
    return s;
}

/* ---- finite-difference gradient checks ------------------------------------ */

void tu_grad_check(const char *what, TuLossFn loss, void *ctx, float *w, size_t n, const float *g,
                   const TuGradTol *tol)
{
    const float h = tol->h;
    double *fd = malloc(n * sizeof *fd), l0 = tol->kink > 0 ? loss(ctx) : 0, mx = 0;
    uint8_t *kink = calloc(n, 1);
    size_t nkink = 0;
    assert_true(fd && kink);
    /* fd_k = (L(w + h e_k) - L(w - h e_k)) / 2h */
    for (size_t k = 0; k < n; k++) {
        fd[k] = 0;
        if (!isfinite(w[k]))
            continue;
        float save = w[k];
        w[k] = save + h;
        double lp = loss(ctx);
        w[k] = save - h;
        double lm = loss(ctx);
        w[k] = save;
        fd[k] = (lp - lm) / (2.0 * h);
        if (tol->kink > 0) {
            kink[k] = fabs((lp - l0) - (l0 - lm)) / h > tol->kink * (1 + fabs(fd[k]));
            nkink += kink[k];
        }
        mx = fabs(fd[k]) > mx ? fabs(fd[k]) : mx;
    }
    double atol = tol->atol_scaled ? tol->atol * (mx > 1 ? mx : 1) : tol->atol;
    for (size_t k = 0; k < n; k++)
        if (!kink[k] && fabs(g[k] - fd[k]) > atol + tol->rtol * fabs(fd[k])) {
            fprintf(stderr, "%s[%zu]: analytic %g, finite difference %g\n", what, k, g[k], fd[k]);
            fail();
        }
    if (nkink * 100 > 3 * n) {
        fprintf(stderr, "%s: %zu of %zu elements at a kink\n", what, nkink, n);
        fail();
    }
    free(fd);
    free(kink);
}

/* ---- MovieLens-100K helpers ----------------------------------------------- */

#include "metrics.h"
#include "pop.h"
#include "rng.h"
#include "split.h"

RsMatrix *tu_ml100k_load(const char *name)
{
    const char *dir = tu_ml100k();
    if (!dir)
        return NULL;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        abort();
    }
    size_t cap = 1 << 17, n = 0;
    RsTriplet *t = malloc(cap * sizeof *t);
    unsigned u, i;
    double r;
    long long ts;
    while (fscanf(f, "%u %u %lf %lld", &u, &i, &r, &ts) == 4) {
        if (u < 1 || u > 943 || i < 1 || i > 1682)
            abort();
        if (n == cap)
            t = realloc(t, (cap *= 2) * sizeof *t);
        t[n++] = (RsTriplet){u - 1, i - 1, (float)r, ts};
    }
    fclose(f);
    RsMatrix *m;
    RsErr err;
    if (rs_matrix_build(943, 1682, t, n, &m, &err) != RS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    free(t);
    return m;
}

void tu_split_random(const RsMatrix *m, double test_frac, uint64_t seed, RsMatrix **train,
                     RsMatrix **test)
{
    uint8_t *part = calloc(m->NNZ ? m->NNZ : 1, 1);
    size_t *idx = malloc((m->I + 1) * sizeof *idx);
    RsRng rng;
    rng_seed(&rng, seed);
    for (size_t u = 0; u < m->U; u++) {
        size_t b = m->u_ptr[u], n = m->u_ptr[u + 1] - b;
        for (size_t k = 0; k < n; k++)
            idx[k] = b + k;
        for (size_t k = n; k > 1; k--) { /* Fisher-Yates */
            size_t j = (size_t)rng_below(&rng, k);
            size_t tmp = idx[k - 1];
            idx[k - 1] = idx[j];
            idx[j] = tmp;
        }
        size_t nt = (size_t)floor(test_frac * (double)n + 0.5);
        if (nt == 0 && n >= 2)
            nt = 1;
        for (size_t k = 0; k < nt; k++)
            part[idx[k]] = 1;
    }
    RsErr err;
    if (rs_matrix_select(m, part, 0, train, &err) || rs_matrix_select(m, part, 1, test, &err))
        abort();
    free(part);
    free(idx);
}

double tu_ndcg_full(const RsModel *m, const RsMatrix *train, const RsMatrix *test, size_t K)
{
    double total = 0;
    size_t users = 0;
    RsRec *rec = malloc(K * sizeof *rec);
    RsErr err;
    for (uint32_t u = 0; u < test->U; u++) {
        size_t nrel = rs_user_count(test, u);
        if (nrel == 0)
            continue;
        size_t n;
        if (model_recommend(m, train, u, K, 1, rec, &n, &err) != RS_OK) {
            fprintf(stderr, "recommend: %s\n", err.msg);
            abort();
        }
        double dcg = 0, idcg = 0;
        for (size_t r = 0; r < n; r++)
            if (rs_matrix_find(test, u, rec[r].item) != (size_t)-1)
                dcg += 1.0 / log2((double)r + 2.0);
        for (size_t r = 0; r < (nrel < K ? nrel : K); r++)
            idcg += 1.0 / log2((double)r + 2.0);
        total += dcg / idcg;
        users++;
    }
    free(rec);
    return users ? total / (double)users : 0;
}

double tu_rmse(const RsModel *m, const RsMatrix *train, const RsMatrix *test)
{
    double se = 0;
    size_t n = 0;
    for (uint32_t u = 0; u < test->U; u++)
        for (size_t k = test->u_ptr[u]; k < test->u_ptr[u + 1]; k++) {
            float p;
            if (isnan(test->u_rating[k]) || m->cls->predict(m, train, u, test->u_items[k], &p))
                continue;
            se += (p - test->u_rating[k]) * (double)(p - test->u_rating[k]);
            n++;
        }
    return n ? sqrt(se / (double)n) : NAN;
}

static RsModel *fit_ctx(const ModelClass *cls, const FitContext *base, const char *const *kv,
                        size_t nkv, uint64_t seed)
{
    ParamValues pv;
    RsErr err = {0};
    RsModel *m;
    const RsMatrix *train = base->train;
    if (params_parse(cls->params, cls->nparams, kv, nkv, &pv, &err) ||
        model_new(cls, train->U, train->I, &pv, seed, &m, &err)) {
        fprintf(stderr, "tu_fit: %s\n", err.msg);
        abort();
    }
    if (model_fit(m, base, &err)) {
        fprintf(stderr, "tu_fit %s: %s\n", cls->name, err.msg);
        abort();
    }
    return m;
}

RsModel *tu_fit(const ModelClass *cls, const RsMatrix *train, const RsCatalog *cat,
                const char *const *kv, size_t nkv, uint64_t seed)
{
    FitContext ctx = {.train = train, .cat = cat, .nthreads = 2};
    return fit_ctx(cls, &ctx, kv, nkv, seed);
}

RsModel *tu_fit_valid(const ModelClass *cls, const RsMatrix *train, const RsMatrix *valid,
                      const char *const *kv, size_t nkv, uint64_t seed, int nthreads)
{
    FitContext ctx = {.train = train, .valid = valid, .nthreads = nthreads};
    return fit_ctx(cls, &ctx, kv, nkv, seed);
}

void tu_split_loo(const RsMatrix *m, RsMatrix **train, RsMatrix **test)
{
    uint8_t *part = malloc(m->NNZ ? m->NNZ : 1);
    RsErr err;
    SplitParams sp = {.method = SPLIT_LOO, .seed = 1};
    if (!part || split_make(m, &sp, part, &err) ||
        rs_matrix_select(m, part, SPLIT_TRAIN, train, &err) ||
        rs_matrix_select(m, part, SPLIT_TEST, test, &err))
        abort();
    free(part);
}

void tu_eval_at10(const RsModel *m, const RsMatrix *train, const RsMatrix *test, int protocol,
                  double *hr, double *ndcg)
{
    EvalOptions o;
    eval_options_default(&o);
    o.protocol = (EvalProtocol)protocol;
    o.ks[0] = 10;
    o.nks = 1;
    o.seed = 42;
    EvalResult *r;
    RsErr err;
    if (eval_model(m, train, test, NULL, &o, &r, &err))
        abort();
    *hr = eval_result_find(r, "hr@10")->value;
    *ndcg = eval_result_find(r, "ndcg@10")->value;
    eval_result_free(r);
}

TuLoo tu_loo_vs_pop(const char *name, const RsModel *m, double fit_seconds,
                    const RsMatrix *train, const RsMatrix *test)
{
    TuLoo r;
    RsModel *pop = tu_fit(&model_pop, train, NULL, NULL, 0, 1);
    tu_eval_at10(m, train, test, EVAL_SAMPLED, &r.hr, &r.ndcg);
    tu_eval_at10(pop, train, test, EVAL_SAMPLED, &r.pop_hr, &r.pop_ndcg);
    tu_eval_at10(m, train, test, EVAL_FULL, &r.full_hr, &r.full_ndcg);
    tu_eval_at10(pop, train, test, EVAL_FULL, &r.pop_full_hr, &r.pop_full_ndcg);
    model_free(pop);
    fprintf(stderr,
            "ML-100K leave-last-out by time, 99 sampled negatives: %s HR@10 %.4f NDCG@10 %.4f "
            "(fit %.1f s); pop HR@10 %.4f NDCG@10 %.4f\n"
            "  full ranking: %s HR@10 %.4f NDCG@10 %.4f; pop HR@10 %.4f NDCG@10 %.4f\n",
            name, r.hr, r.ndcg, fit_seconds, r.pop_hr, r.pop_ndcg, name, r.full_hr, r.full_ndcg,
            r.pop_full_hr, r.pop_full_ndcg);
    return r;
}
