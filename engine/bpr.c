/*
 * bpr.c - BPR-MF for top-N from implicit feedback (class "bpr").
 *
 * Rendle, Freudenthaler, Gantner & Schmidt-Thieme 2009, "BPR: Bayesian
 * Personalized Ranking from Implicit Feedback" (UAI): every training entry
 * is a positive; the model x_ui = p_u . q_i + b_i is fitted by LearnBPR
 * (section 4.2, bootstrap sampling with replacement): draw an entry (u, i)
 * uniformly from the training entries, an item j uniformly from the items
 * not in u's row, and take one SGD step on
 *     -ln sigma(x_ui - x_uj) + reg/2 (|p_u|^2 + |q_i|^2 + |q_j|^2 + b_i^2 + b_j^2)
 * One epoch is NNZ such draws. The item bias (a learnt popularity term) is
 * optional. Ratings, when present, are ignored.
 *
 * Threads: an epoch's draws are cut into parts, each with its own random
 * stream (fm_stream_seed(seed, epoch, part)). With nthreads = 1 (and always
 * below BPR_PAR_MIN entries) there is one part and a fit is deterministic
 * for a seed; with more, the parts run concurrently without locks (Hogwild,
 * Niu et al. 2011) and results vary slightly from run to run.
 *
 * Fold-in (score_profile, and explain for a profile): the same LearnBPR
 * restricted to the new user's p with the item parameters fixed: starting
 * from p = 0, `epochs` passes of n draws (i from the profile's n items, j
 * from the items not in it) with the training learning rate and
 * regularisation, returning the average of p over the second half of the
 * steps (Polyak-Ruppert averaging, so the answer does not depend on the
 * last few draws). The draws come from a stream seeded by the model's seed,
 * so a profile always gets the same scores.
 *
 * With a validation matrix the fit reports NDCG@10 (full ranking of the
 * items not in the training row, binary gains, on at most BPR_VALID_USERS
 * evenly spread validation users) after each epoch and stops early after
 * `patience` epochs without improvement, keeping the best epoch.
 *
 * With ctx->device == RS_DEVICE_GPU the epochs run on the GPU (gpu/bpr.cu:
 * the same draws and steps, one warp per draw, Hogwild across the GPU);
 * the factors come back to the host after each epoch when there is a
 * validation matrix, and at the end. The model and its blob are the same.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "mf.h"
#include "mf_internal.h"
#include "parallel.h"
#include "rng.h"

#define BPR_PAR_MIN 20000
#define BPR_VALID_USERS 1000
#define BPR_VALID_K 10

FM_HOT static float bpr_step(float *restrict p, float *restrict qi, float *restrict qj,
                             float *bi, float *bj, float lr, float reg, size_t K)
{
    float x = fm_dot(p, qi, K) - fm_dot(p, qj, K);
    if (bi)
        x += *bi - *bj;
    float g = 1.0f / (1.0f + expf(x)); /* sigma(-x) = -dL/dx */
    /* p <- a p + b (qi - qj), qi <- a qi + b p, qj <- a qj - b p */
    float a = 1.0f - lr * reg, b = lr * g;
    size_t k = 0;
    for (; k + 8 <= K; k += 8) {
        FmV8 pv, iv, jv, np, ni, nj;
        FM_LOAD8(pv, p + k);
        FM_LOAD8(iv, qi + k);
        FM_LOAD8(jv, qj + k);
        np = a * pv + b * (iv - jv);
        ni = a * iv + b * pv;
        nj = a * jv - b * pv;
        FM_STORE8(p + k, np);
        FM_STORE8(qi + k, ni);
        FM_STORE8(qj + k, nj);
    }
    for (; k < K; k++) {
        float pk = p[k], ik = qi[k], jk = qj[k];
        p[k] = a * pk + b * (ik - jk);
        qi[k] = a * ik + b * pk;
        qj[k] = a * jk - b * pk;
    }
    if (bi) {
        *bi += lr * (g - reg * *bi);
        *bj += lr * (-g - reg * *bj);
    }
    return x;
}

float bpr_sgd_step(float *p, float *qi, float *qj, float *bi, float *bj, float lr, float reg,
                   size_t K)
{
    return bpr_step(p, qi, qj, bi, bj, lr, reg, K);
}

/* -ln sigma(x) = ln(1 + e^-x), without overflow; in float for the epoch's
 * running loss, in double for the reference loss */
static float softplus_negf(float x)
{
    return x > 0 ? log1pf(expf(-x)) : -x + log1pf(expf(x));
}

static double softplus_neg(double x)
{
    return x > 0 ? log1p(exp(-x)) : -x + log1p(exp(x));
}

double bpr_sample_loss(const float *p, const float *qi, const float *qj, const float *bi,
                       const float *bj, float reg, size_t K)
{
    double x = 0, norm = 0;
    for (size_t k = 0; k < K; k++) {
        x += (double)p[k] * ((double)qi[k] - qj[k]);
        norm += (double)p[k] * p[k] + (double)qi[k] * qi[k] + (double)qj[k] * qj[k];
    }
    if (bi) {
        x += (double)*bi - *bj;
        norm += (double)*bi * *bi + (double)*bj * *bj;
    }
    return softplus_neg(x) + 0.5 * reg * norm;
}

static const ParamSpec bpr_params[] = {
    {"factors", PARAM_INT, 64, 1, 4096, NULL, "latent factors K"},
    {"epochs", PARAM_INT, 40, 1, 10000, NULL, "passes of NNZ sampled (u, i, j) triples"},
    {"lr", PARAM_FLOAT, 0.05, 1e-6, 10, NULL, "SGD learning rate"},
    {"reg", PARAM_FLOAT, 0.02, 0, 10, NULL, "L2 regularisation of factors and item biases"},
    {"init_std", PARAM_FLOAT, 0.1, 0, 10, NULL, "std of the normal initial factors"},
    {"item_bias", PARAM_BOOL, 1, 0, 1, NULL, "learn an item bias b_i"},
    {"patience", PARAM_INT, 3, 0, 1000, NULL,
     "with a validation set: stop after this many epochs without a better NDCG@10 (0 never)"},
};

/* One epoch's draws in nparts parts (see the file comment). */
typedef struct BprEpoch {
    FactorModel *f;
    const RsMatrix *t;
    const uint32_t *row_of; /* (NNZ) user of each CSR entry */
    uint64_t seed, epoch;
    size_t nparts;
    float lr, reg;
    int bias;
    double *loss;           /* (nparts) sum of -ln sigma(x) of each part */
    atomic_int *cancel;
} BprEpoch;

static void bpr_epoch_part(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    BprEpoch *ep = ctx;
    FactorModel *f = ep->f;
    const RsMatrix *t = ep->t;
    size_t K = f->K, NNZ = t->NNZ, I = t->I;
    for (size_t c = begin; c < end; c++) {
        RsRng rng;
        rng_seed(&rng, fm_stream_seed(ep->seed, ep->epoch, c));
        size_t n = NNZ * (c + 1) / ep->nparts - NNZ * c / ep->nparts;
        double loss = 0;
        for (size_t s = 0; s < n; s++) {
            if ((s & 8191) == 0 && fm_cancelled(ep->cancel))
                break;
            size_t k = (size_t)rng_below(&rng, NNZ);
            uint32_t u = ep->row_of[k], i = t->u_items[k], j;
            if (rs_user_count(t, u) >= I)
                continue;
            do
                j = (uint32_t)rng_below(&rng, I);
            while (rs_matrix_has(t, u, j));
            float x = bpr_step(f->P + u * K, f->Q + (size_t)i * K, f->Q + (size_t)j * K,
                                   ep->bias ? f->bi + i : NULL, ep->bias ? f->bi + j : NULL,
                                   ep->lr, ep->reg, K);
            loss += softplus_negf(x);
        }
        ep->loss[c] = loss;
    }
}

/* NDCG@10 on the validation matrix (see the file comment); NAN when no
 * user has a validation item. */
static double bpr_valid_ndcg(const FactorModel *f, const RsMatrix *t, const RsMatrix *v,
                             float *scores, uint8_t *seen)
{
    size_t nusers = 0;
    for (size_t u = 0; u < v->U && u < t->U; u++)
        nusers += rs_user_count(v, (uint32_t)u) > 0;
    size_t stride = nusers > BPR_VALID_USERS ? (nusers + BPR_VALID_USERS - 1) / BPR_VALID_USERS : 1;
    double sum = 0;
    size_t n = 0, seen_users = 0;
    for (size_t u = 0; u < v->U && u < t->U; u++) {
        if (rs_user_count(v, (uint32_t)u) == 0 || seen_users++ % stride)
            continue;
        fm_scores(f, f->P + u * f->K, 0, scores);
        for (size_t k = t->u_ptr[u]; k < t->u_ptr[u + 1]; k++)
            seen[t->u_items[k]] = 1;
        RsRec top[BPR_VALID_K];
        size_t m = topk(scores, f->I, seen, BPR_VALID_K, top);
        for (size_t k = t->u_ptr[u]; k < t->u_ptr[u + 1]; k++)
            seen[t->u_items[k]] = 0;
        size_t rel = 0;
        for (size_t k = v->u_ptr[u]; k < v->u_ptr[u + 1]; k++)
            rel += !rs_matrix_has(t, (uint32_t)u, v->u_items[k]);
        if (rel == 0)
            continue;
        double dcg = 0, idcg = 0;
        for (size_t r = 0; r < m; r++)
            if (rs_matrix_has(v, (uint32_t)u, top[r].item))
                dcg += 1.0 / log2((double)r + 2);
        for (size_t r = 0; r < BPR_VALID_K && r < rel; r++)
            idcg += 1.0 / log2((double)r + 2);
        sum += dcg / idcg;
        n++;
    }
    return n ? sum / (double)n : NAN;
}

static int bpr_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *t = ctx->train;
    size_t K = (size_t)model_param(m, "factors");
    int epochs = (int)model_param(m, "epochs");
    int patience = (int)model_param(m, "patience");
    FactorModel *f = NULL;
    uint32_t *row_of = NULL;
    double *sums = NULL;
    float *scores = NULL;
    uint8_t *seen = NULL;
    FmBest best = {0};
    GpuBpr *gpu = NULL;
    if (t->U != m->U || t->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "bpr: training matrix is %zux%zu, model %zux%zu",
                          t->U, t->I, m->U, m->I);
    if (t->NNZ == 0)
        return rs_err_set(err, RS_EUSAGE, "bpr: the training data is empty");
    int rc = fm_new(m->U, m->I, K, &f, err);
    if (rc)
        return rc;
    size_t nparts = ctx->nthreads > 1 && t->NNZ >= BPR_PAR_MIN ? (size_t)ctx->nthreads : 1;
    row_of = malloc(t->NNZ * sizeof *row_of);
    sums = calloc(nparts, sizeof *sums);
    if (ctx->valid) {
        scores = malloc(m->I * sizeof *scores);
        seen = calloc(m->I, 1);
    }
    if (!row_of || !sums || (ctx->valid && (!scores || !seen))) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for bpr");
        goto done;
    }
    for (size_t u = 0; u < t->U; u++)
        for (size_t k = t->u_ptr[u]; k < t->u_ptr[u + 1]; k++)
            row_of[k] = (uint32_t)u;
    fm_init_random(f, t, m->seed, (float)model_param(m, "init_std"));
    f->mu = f->rmin = f->rmax = 0;
    BprEpoch ep = {f, t, row_of, m->seed, 0, nparts, (float)model_param(m, "lr"),
                   (float)model_param(m, "reg"), model_param(m, "item_bias") != 0,
                   sums, ctx->cancel};
    if (ctx->device == RS_DEVICE_GPU &&
        (rc = gpu_bpr_new(t, f->P, f->Q, f->bi, K, ep.bias, &gpu, err)))
        goto done;
    for (int e = 1; e <= epochs; e++) {
        ep.epoch = (uint64_t)e;
        double loss = 0;
        if (gpu) {
            if ((rc = gpu_bpr_epoch(gpu, m->seed, ep.epoch, ep.lr, ep.reg, &loss, err)) ||
                (ctx->valid && (rc = gpu_bpr_download(gpu, f->P, f->Q, f->bi, err))))
                goto done;
        } else {
            rs_parallel_for(nparts, ctx->nthreads, 1, bpr_epoch_part, &ep);
            for (size_t c = 0; c < nparts; c++)
                loss += sums[c];
        }
        FitProgress pr = {.phase = "epoch", .epoch = e, .epochs = epochs,
                          .fraction = (double)e / epochs, .loss = loss / (double)t->NNZ,
                          .valid = NAN, .valid_name = ctx->valid ? "ndcg@10" : NULL};
        if (ctx->valid)
            pr.valid = bpr_valid_ndcg(f, t, ctx->valid, scores, seen);
        if ((rc = model_fit_tick(ctx, &pr, err)))
            goto done;
        if (!isfinite(pr.loss)) {
            rc = rs_err_set(err, RS_EUSAGE, "bpr diverged at epoch %d: lower lr", e);
            goto done;
        }
        if (ctx->valid && patience > 0) {
            int stop = fm_best_offer(&best, f, e, pr.valid, 1, patience);
            if (stop < 0) {
                rc = rs_err_set(err, RS_ENOMEM, "out of memory for a snapshot");
                goto done;
            }
            if (stop)
                break;
        }
    }
    if (gpu && !ctx->valid && (rc = gpu_bpr_download(gpu, f->P, f->Q, f->bi, err)))
        goto done;
    fm_best_finish(&best, f);
    fm_finish(f);
    m->cls->free_state(m);
    m->state = f;
    f = NULL;
done:
    gpu_bpr_free(gpu);
    free(best.mem);
    fm_free(f);
    free(row_of);
    free(sums);
    free(scores);
    free(seen);
    return rc;
}

/* p for a profile by LearnBPR on p alone (see the file comment). */
static int bpr_foldin(const RsModel *m, const FactorModel *f, const RsProfile *pr, float *p,
                      RsErr *err)
{
    size_t K = f->K, I = f->I, n = pr->n;
    memset(p, 0, K * sizeof *p);
    for (size_t k = 0; k < n; k++)
        if (pr->items[k] >= I)
            return rs_err_set(err, RS_EUSAGE, "profile item %u out of range (%zu items)",
                              pr->items[k], I);
    uint8_t *in = calloc(I ? I : 1, 1);
    float *cur = calloc(K, sizeof *cur), *qi = malloc(K * sizeof *qi),
          *qj = malloc(K * sizeof *qj);
    if (!in || !cur || !qi || !qj) {
        free(in);
        free(cur);
        free(qi);
        free(qj);
        return rs_err_set(err, RS_ENOMEM, "out of memory for the fold-in");
    }
    size_t distinct = 0;
    for (size_t k = 0; k < n; k++)
        if (!in[pr->items[k]]) {
            in[pr->items[k]] = 1;
            distinct++;
        }
    if (distinct > 0 && distinct < I) {
        int bias = model_param(m, "item_bias") != 0;
        float lr = (float)model_param(m, "lr"), reg = (float)model_param(m, "reg");
        size_t steps = (size_t)model_param(m, "epochs") * n, avg_from = steps / 2, navg = 0;
        RsRng rng;
        rng_seed(&rng, fm_stream_seed(m->seed, UINT64_MAX, n));
        for (size_t s = 0; s < steps; s++) {
            uint32_t i = pr->items[rng_below(&rng, n)], j;
            do
                j = (uint32_t)rng_below(&rng, I);
            while (in[j]);
            /* the step on copies: item parameters stay fixed */
            memcpy(qi, f->Q + (size_t)i * K, K * sizeof *qi);
            memcpy(qj, f->Q + (size_t)j * K, K * sizeof *qj);
            float bi = f->bi[i], bj = f->bi[j];
            bpr_step(cur, qi, qj, bias ? &bi : NULL, bias ? &bj : NULL, lr, reg, K);
            if (s >= avg_from) {
                navg++;
                for (size_t k = 0; k < K; k++)
                    p[k] += (cur[k] - p[k]) / (float)navg;
            }
        }
    }
    free(in);
    free(cur);
    free(qi);
    free(qj);
    return RS_OK;
}

static int bpr_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *pr,
                             float *scores, RsErr *err)
{
    (void)train;
    const FactorModel *f = fm_of(m, err);
    if (!f)
        return RS_EUSAGE;
    float *p = malloc(f->K * sizeof *p);
    if (!p)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = bpr_foldin(m, f, pr, p, err);
    if (rc == RS_OK)
        fm_scores(f, p, 0, scores);
    free(p);
    return rc;
}

static int bpr_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                       long user, const RsProfile *h, uint32_t item, RsExplanation *e,
                       RsErr *err)
{
    (void)train;
    (void)cat;
    const FactorModel *f = fm_of(m, err);
    if (!f)
        return RS_EUSAGE;
    unsigned parts = model_param(m, "item_bias") != 0 ? FM_PART_BI : 0;
    if (user >= 0) {
        if ((size_t)user >= f->U)
            return rs_err_set(err, RS_ENOTFOUND, "user %ld out of range", user);
        return fm_explain(f, f->P + (size_t)user * f->K, 0, parts, h, item,
                          "x_ui = b_i + sum_f p_u[f] q_i[f] (BPR-MF, Rendle et al. 2009);"
                          " history items by cosine of item factors",
                          e, err);
    }
    float *p = malloc(f->K * sizeof *p);
    if (!p)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = bpr_foldin(m, f, h, p, err);
    if (rc == RS_OK)
        rc = fm_explain(f, p, 0, parts, h, item,
                        "x_ui = b_i + sum_f p[f] q_i[f], p folded in by LearnBPR on p alone;"
                        " history items by cosine of item factors",
                        e, err);
    free(p);
    return rc;
}


const ModelClass model_bpr = {
    .name = "bpr",
    .title = "BPR: Bayesian personalised ranking MF (Rendle et al. 2009)",
    .params = bpr_params,
    .nparams = RS_ARRAY_LEN(bpr_params),
    .flags = MODEL_FOLDIN | MODEL_ADDITIVE | MODEL_GPU,
    .format_version = 1,
    .fit = bpr_fit,
    .score = fm_model_score,
    .score_profile = bpr_score_profile,
    .predict = NULL,
    .explain = bpr_explain,
    .similar = fm_model_similar,
    .factors = fm_model_factors,
    .save = fm_model_save,
    .load = fm_model_load,
    .free_state = fm_model_free_state,
};
