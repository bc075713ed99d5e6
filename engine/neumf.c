/*
 * neumf.c - NeuMF, GMF and MLP (classes "neumf", "gmf", "mlp"; neumf.h).
 *
 * Model (He et al. 2017, "Neural Collaborative Filtering", section 3):
 *   GMF branch (eq. 9):  g = p^G_u * q^G_i                    (K)
 *   MLP branch (eq. 10): a_0 = [p^M_u ; q^M_i]                (8K)
 *                        a_l = ReLU(W_l a_{l-1} + b_l)         4K, 2K, K
 *   fusion (eq. 12):     z_ui = h . [g ; a_3] + h_0,  y^_ui = sigma(z_ui)
 * with K = `factors` predictive factors: the default K = 8 gives the
 * paper's MLP tower 64-32-16-8 (embeddings of 32 per side). "gmf" keeps the
 * GMF branch only, "mlp" the MLP branch only (the same code with the other
 * branch's sizes 0). Scores are the logits z_ui (higher is better).
 *
 * Training (section 4.1 and eq. 7): every training entry is a positive
 * (ratings are ignored); each epoch draws `negatives` items per positive
 * uniformly from the items not in the user's row, shuffles the
 * (1 + negatives) NNZ samples, and takes Adam steps on the mean binary
 * cross-entropy of mini-batches of `batch` samples. Embedding tables get
 * sparse gradients and a lazy Adam step on the rows a batch touched;
 * weight_decay > 0 makes it AdamW. Initialisation: embeddings N(0, 0.01^2)
 * as in the paper, dense layers Glorot-uniform, biases 0.
 *
 * GPU (ctx->device == RS_DEVICE_GPU): the same epochs run on the GPU
 * (gpu/neumf.cu), one mini-batch after another as with one thread: the
 * same samples, batches and Adam steps, so the loss follows the CPU's up to
 * rounding; the parameters come back to the host after each epoch when
 * there is a validation matrix (which is scored on the CPU), and at the end.
 *
 * Threads: with nthreads = 1 a fit is deterministic for a seed. With more,
 * the shuffled batches are dealt round-robin to nthreads parts run
 * concurrently on the one parameter block without locks (Hogwild, Niu et
 * al. 2011), each part with its own gradients and workspace; results then
 * vary slightly from run to run.
 *
 * Early stopping: with a validation matrix, after each epoch the fit
 * reports HR@10 under the paper's protocol (each validation item ranked
 * against 99 items the user never interacted with, drawn from a stream
 * seeded by the model seed and the user; at most NEUMF_VALID_USERS evenly
 * spread users, averaged over (user, item) pairs), keeps the best epoch's
 * parameters and stops after `patience` epochs without improvement.
 *
 * Fold-in (score_profile, explain for a profile): a new user row [p^G; p^M]
 * starts from the mean of the trained user rows and takes `foldin_steps`
 * Adam steps (rate foldin_lr) on the same loss, mini-batches of profile
 * items and sampled negatives, with every other parameter frozen; the draws
 * come from a stream seeded by the model seed, so a profile always gets the
 * same scores.
 *
 * Explanations: z_ui = h_0 + h^G . g + h^M . a_3 is additive in its two
 * branches: EXPL_PART "GMF" and "MLP" with bias h_0; then the history items
 * nearest the item by the cosine of the learned item rows [q^G ; q^M]
 * (EXPL_ITEM, value 0, similarity = the cosine).
 */
#include "neumf.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "metrics.h"
#include "nn.h"
#include "parallel.h"
#include "rng.h"

#define NEUMF_VALID_USERS 1000
#define NEUMF_VALID_NEG 99
#define NEUMF_EXPLAIN_ITEMS 10
#define NEUMF_SCORE_CHUNK 512

typedef enum { NEUMF_BOTH = 0, NEUMF_GMF = 1, NEUMF_MLP = 2 } NeumfVariant;

/* The parameter block, in this order: X(view, number of floats). The
 * embeddings come first so the dense part is one tail [dense_at, n). */
#define NEUMF_TENSORS(X)                                                                    \
    X(Pu, d->U * d->DE)       /* (U, DE) user rows [p^G_u | p^M_u], DE = KG + E */          \
    X(Qi, d->I * d->DE)       /* (I, DE) item rows [q^G_i | q^M_i] */                       \
    X(W1, d->L1 * 2 * d->E)   /* (L1, 2E) */                                                \
    X(b1, d->L1)              /* (L1) */                                                    \
    X(W2, d->L2 * d->L1)      /* (L2, L1) */                                                \
    X(b2, d->L2)              /* (L2) */                                                    \
    X(W3, d->L3 * d->L2)      /* (L3, L2) */                                                \
    X(b3, d->L3)              /* (L3) */                                                    \
    X(h, d->Z)                /* (Z) output weights over [g ; a_3], Z = KG + L3 */          \
    X(h0, 1)                  /* (1) output bias */

typedef struct NeumfDims {
    size_t U, I, KG, E, L1, L2, L3, DE, Z;
} NeumfDims;

typedef struct NeumfViews {
    NEUMF_TENSORS(NN_VIEW_FIELD)
} NeumfViews;

typedef struct Neumf {
    NeumfDims d;
    NeumfVariant variant;
    NnBlock blk;
    NeumfViews w;       /* views into blk.w */
    size_t dense_at;    /* offset of W1: [dense_at, blk.n) is the dense part */
} Neumf;

static void neumf_bind(NeumfViews *v, float *base, const NeumfDims *d)
{
    float *at = base;
    NEUMF_TENSORS(NN_VIEW_BIND)
}

static size_t neumf_count(const NeumfDims *d) { return 0 NEUMF_TENSORS(NN_VIEW_COUNT); }

static NeumfVariant neumf_variant_of(const ModelClass *cls);

static void neumf_dims(NeumfDims *d, size_t U, size_t I, size_t K, NeumfVariant var)
{
    d->U = U;
    d->I = I;
    d->KG = var == NEUMF_MLP ? 0 : K;
    int mlp = var != NEUMF_GMF;
    d->E = mlp ? 4 * K : 0;
    d->L1 = mlp ? 4 * K : 0;
    d->L2 = mlp ? 2 * K : 0;
    d->L3 = mlp ? K : 0;
    d->DE = d->KG + d->E;
    d->Z = d->KG + d->L3;
}

static void neumf_free(Neumf *n)
{
    if (!n)
        return;
    nn_block_done(&n->blk);
    free(n);
}

static int neumf_new(size_t U, size_t I, size_t K, NeumfVariant var, Neumf **out, RsErr *err)
{
    *out = NULL;
    if (K == 0 || K > 4096 || U > INT32_MAX || I > INT32_MAX ||
        (U + I) > SIZE_MAX / sizeof(float) / (5 * K + 1))
        return rs_err_set(err, RS_EUSAGE, "neumf: model too large (%zu users, %zu items)", U, I);
    Neumf *n = calloc(1, sizeof *n);
    if (!n)
        return rs_err_set(err, RS_ENOMEM, "out of memory for neumf");
    neumf_dims(&n->d, U, I, K, var);
    n->variant = var;
    int rc = nn_block_init(&n->blk, neumf_count(&n->d), err);
    if (rc) {
        free(n);
        return rc;
    }
    neumf_bind(&n->w, n->blk.w, &n->d);
    n->dense_at = (size_t)(n->w.W1 - n->blk.w);
    *out = n;
    return RS_OK;
}

/* ---- one mini-batch: workspace, forward, backward ------------------------------------- */

#define NEUMF_WS(X)                                                                        \
    X(ue, B * d->DE) X(ie, B * d->DE) X(g, B * d->KG) X(x0, B * 2 * d->E)                  \
    X(z1, B * d->L1) X(a1, B * d->L1) X(z2, B * d->L2) X(a2, B * d->L2) X(z3, B * d->L3)   \
    X(a3, B * d->L3) X(zc, B * d->Z) X(logit, B) X(y, B) X(dlogit, B) X(dzc, B * d->Z)     \
    X(da3, B * d->L3) X(dz3, B * d->L3) X(da2, B * d->L2) X(dz2, B * d->L2)                 \
    X(da1, B * d->L1) X(dz1, B * d->L1) X(dx0, B * 2 * d->E) X(dg, B * d->KG)              \
    X(due, B * d->DE) X(die, B * d->DE)

typedef struct NeumfWs {
    size_t B;           /* capacity in samples */
    float *mem;
    NEUMF_WS(NN_VIEW_FIELD)
    uint32_t *u, *it;   /* (B) */
    NnSparseGrad su, si;
    float *grad;        /* (blk.n) this part's gradients, same layout as the block */
    NeumfViews gv;      /* views into grad */
} NeumfWs;

static void neumf_ws_done(NeumfWs *ws)
{
    free(ws->mem);
    free(ws->u);
    free(ws->it);
    free(ws->grad);
    nn_sparse_done(&ws->su);
    nn_sparse_done(&ws->si);
    memset(ws, 0, sizeof *ws);
}

/* A workspace for batches of up to B samples over user tables of Urows
 * rows (U, or 1 for a fold-in). */
static int neumf_ws_init(NeumfWs *ws, const Neumf *n, size_t B, size_t Urows, RsErr *err)
{
    memset(ws, 0, sizeof *ws);
    const NeumfDims *d = &n->d;
    ws->B = B;
    size_t total = 0 NEUMF_WS(NN_VIEW_COUNT);
    ws->mem = calloc(total, sizeof(float));
    ws->u = calloc(B, sizeof *ws->u);
    ws->it = calloc(B, sizeof *ws->it);
    ws->grad = calloc(n->blk.n, sizeof(float));
    int rc = RS_ENOMEM;
    if (!ws->mem || !ws->u || !ws->it || !ws->grad ||
        (rc = nn_sparse_init(&ws->su, Urows, d->DE, B, err)) ||
        (rc = nn_sparse_init(&ws->si, d->I, d->DE, B, err))) {
        neumf_ws_done(ws);
        return rc == RS_ENOMEM ? rs_err_set(err, RS_ENOMEM, "out of memory for neumf") : rc;
    }
    NeumfWs *v = ws;
    float *at = ws->mem;
    NEUMF_WS(NN_VIEW_BIND)
    neumf_bind(&ws->gv, ws->grad, d);
    return RS_OK;
}

/* logit (B) of the samples (ws->u[b], ws->it[b]), users' rows from P
 * (rows of DE floats; the model's Pu or a folded-in row). */
static void neumf_forward(const Neumf *n, const float *P, NeumfWs *ws, size_t B)
{
    const NeumfDims *d = &n->d;
    const NeumfViews *w = &n->w;
    size_t DE = d->DE, KG = d->KG, E = d->E, Z = d->Z;
    nn_embedding_forward(ws->ue, ws->u, P, B, DE);
    nn_embedding_forward(ws->ie, ws->it, w->Qi, B, DE);
    for (size_t b = 0; b < B; b++) {
        const float *ur = ws->ue + b * DE, *ir = ws->ie + b * DE;
        nn_mul_forward(ws->g + b * KG, ur, ir, KG);         /* GMF: p^G * q^G */
        memcpy(ws->x0 + b * 2 * E, ur + KG, E * sizeof(float)); /* MLP input [p^M ; q^M] */
        memcpy(ws->x0 + b * 2 * E + E, ir + KG, E * sizeof(float));
    }
    if (E) {
        nn_dense_forward(ws->z1, ws->x0, w->W1, w->b1, B, 2 * E, d->L1);
        nn_relu_forward(ws->a1, ws->z1, B * d->L1);
        nn_dense_forward(ws->z2, ws->a1, w->W2, w->b2, B, d->L1, d->L2);
        nn_relu_forward(ws->a2, ws->z2, B * d->L2);
        nn_dense_forward(ws->z3, ws->a2, w->W3, w->b3, B, d->L2, d->L3);
        nn_relu_forward(ws->a3, ws->z3, B * d->L3);
    }
    for (size_t b = 0; b < B; b++) { /* zc = [g ; a_3] */
        memcpy(ws->zc + b * Z, ws->g + b * KG, KG * sizeof(float));
        memcpy(ws->zc + b * Z + KG, ws->a3 + b * d->L3, d->L3 * sizeof(float));
    }
    nn_dense_forward(ws->logit, ws->zc, w->h, w->h0, B, Z, 1);
}

/* From ws->dlogit (B): dense gradients into ws->gv (accumulated: zero the
 * dense part first), embedding gradients into ws->su / ws->si (cleared
 * here). Returns -1 on a sparse-gradient overflow (cannot happen when B <=
 * the workspace's capacity). */
static int neumf_backward(const Neumf *n, NeumfWs *ws, size_t B)
{
    const NeumfDims *d = &n->d;
    const NeumfViews *w = &n->w;
    NeumfViews *g = &ws->gv;
    size_t DE = d->DE, KG = d->KG, E = d->E, Z = d->Z;
    memset(ws->dzc, 0, B * Z * sizeof(float));
    nn_dense_backward(ws->dzc, g->h, g->h0, ws->dlogit, ws->zc, w->h, B, Z, 1);
    memset(ws->dg, 0, B * KG * sizeof(float));
    memset(ws->due, 0, B * DE * sizeof(float));
    memset(ws->die, 0, B * DE * sizeof(float));
    for (size_t b = 0; b < B; b++) {
        memcpy(ws->dg + b * KG, ws->dzc + b * Z, KG * sizeof(float));
        memcpy(ws->da3 + b * d->L3, ws->dzc + b * Z + KG, d->L3 * sizeof(float));
        nn_mul_backward(ws->due + b * DE, ws->die + b * DE, ws->dg + b * KG, ws->ue + b * DE,
                        ws->ie + b * DE, KG);
    }
    if (E) {
        memset(ws->dz3, 0, B * d->L3 * sizeof(float));
        nn_relu_backward(ws->dz3, ws->da3, ws->z3, B * d->L3);
        memset(ws->da2, 0, B * d->L2 * sizeof(float));
        nn_dense_backward(ws->da2, g->W3, g->b3, ws->dz3, ws->a2, w->W3, B, d->L2, d->L3);
        memset(ws->dz2, 0, B * d->L2 * sizeof(float));
        nn_relu_backward(ws->dz2, ws->da2, ws->z2, B * d->L2);
        memset(ws->da1, 0, B * d->L1 * sizeof(float));
        nn_dense_backward(ws->da1, g->W2, g->b2, ws->dz2, ws->a1, w->W2, B, d->L1, d->L2);
        memset(ws->dz1, 0, B * d->L1 * sizeof(float));
        nn_relu_backward(ws->dz1, ws->da1, ws->z1, B * d->L1);
        memset(ws->dx0, 0, B * 2 * E * sizeof(float));
        nn_dense_backward(ws->dx0, g->W1, g->b1, ws->dz1, ws->x0, w->W1, B, 2 * E, d->L1);
        for (size_t b = 0; b < B; b++) {
            float *du = ws->due + b * DE + KG, *di = ws->die + b * DE + KG;
            const float *dx = ws->dx0 + b * 2 * E;
            for (size_t k = 0; k < E; k++) {
                du[k] += dx[k];
                di[k] += dx[E + k];
            }
        }
    }
    nn_sparse_clear(&ws->su);
    nn_sparse_clear(&ws->si);
    if (nn_embedding_backward(&ws->su, ws->due, ws->u, B) ||
        nn_embedding_backward(&ws->si, ws->die, ws->it, B))
        return -1;
    return 0;
}

/* Mean BCE of the batch in ws (labels ws->y), forward and backward into
 * every gradient; returns the loss. */
static double neumf_batch_grad(const Neumf *n, const float *P, NeumfWs *ws, size_t B)
{
    neumf_forward(n, P, ws, B);
    double loss = nn_bce_logits_forward(ws->logit, ws->y, B);
    memset(ws->dlogit, 0, B * sizeof(float));
    nn_bce_logits_backward(ws->dlogit, ws->logit, ws->y, B, 1.0f);
    memset(ws->grad + n->dense_at, 0, (n->blk.n - n->dense_at) * sizeof(float));
    neumf_backward(n, ws, B); /* B <= capacity: no overflow */
    return loss;
}

/* ---- exported for the tests: the whole network's loss and gradient -------------------- */

int neumf_debug_grad(const RsModel *m, const uint32_t *u, const uint32_t *it, const float *y,
                     size_t B, float *grad, double *loss)
{
    const Neumf *n = m->state;
    NeumfWs ws;
    RsErr err;
    if (!n || neumf_ws_init(&ws, n, B, n->d.U, &err))
        return -1;
    memcpy(ws.u, u, B * sizeof *u);
    memcpy(ws.it, it, B * sizeof *it);
    memcpy(ws.y, y, B * sizeof *y);
    *loss = neumf_batch_grad(n, n->w.Pu, &ws, B);
    if (grad) {
        memcpy(grad, ws.grad, n->blk.n * sizeof(float));
        memset(grad, 0, n->dense_at * sizeof(float));
        nn_embedding_backward_dense(grad, ws.due, ws.u, B, n->d.DE);
        nn_embedding_backward_dense(grad + (n->w.Qi - n->w.Pu), ws.die, ws.it, B, n->d.DE);
    }
    neumf_ws_done(&ws);
    return 0;
}

float *neumf_debug_params(const RsModel *m, size_t *n)
{
    Neumf *s = m->state;
    *n = s ? s->blk.n : 0;
    return s ? s->blk.w : NULL;
}

/* ---- parameters --------------------------------------------------------------------------- */

static const ParamSpec neumf_params[] = {
    {"factors", PARAM_INT, 8, 1, 1024, NULL,
     "predictive factors K: GMF size, last MLP layer (MLP tower 8K-4K-2K-K)"},
    {"epochs", PARAM_INT, 20, 1, 10000, NULL, "passes over the positives and their negatives"},
    {"batch", PARAM_INT, 256, 1, 65536, NULL, "mini-batch size in samples"},
    {"lr", PARAM_FLOAT, 0.001, 1e-6, 10, NULL, "Adam learning rate"},
    {"negatives", PARAM_INT, 4, 1, 100, NULL, "sampled negatives per positive"},
    {"weight_decay", PARAM_FLOAT, 0, 0, 10, NULL, "AdamW decoupled weight decay (0: Adam)"},
    {"init_std", PARAM_FLOAT, 0.01, 0, 10, NULL, "std of the normal initial embeddings"},
    {"patience", PARAM_INT, 3, 0, 1000, NULL,
     "with a validation set: stop after this many epochs without a better HR@10 (0 never)"},
    {"foldin_steps", PARAM_INT, 100, 1, 100000, NULL, "Adam steps fitting a new user's row"},
    {"foldin_lr", PARAM_FLOAT, 0.01, 1e-6, 10, NULL, "learning rate of the fold-in"},
    {"pretrain_alpha", PARAM_FLOAT, 0.5, 0, 1, NULL,
     "started from a GMF and an MLP: weight of GMF's output layer (MLP's: 1 - alpha)"},
    {"average_last", PARAM_INT, 0, 0, 10000, NULL,
     "the model is the mean of the parameters after each of the last N epochs (0: the last)"},
};

/* ---- sampling -------------------------------------------------------------------------------- */

/* The epoch's samples: each positive then its negatives, shuffled. Returns
 * the number of samples. */
static size_t neumf_draw(const RsMatrix *t, size_t neg, RsRng *rng, uint32_t *su, uint32_t *si,
                         uint8_t *sy)
{
    size_t n = 0, I = t->I;
    for (size_t u = 0; u < t->U; u++) {
        size_t cnt = rs_user_count(t, (uint32_t)u);
        if (cnt == 0 || cnt >= I)
            continue;
        for (size_t k = t->u_ptr[u]; k < t->u_ptr[u + 1]; k++) {
            su[n] = (uint32_t)u;
            si[n] = t->u_items[k];
            sy[n++] = 1;
            for (size_t s = 0; s < neg; s++) {
                uint32_t j;
                do
                    j = (uint32_t)rng_below(rng, I);
                while (rs_matrix_has(t, (uint32_t)u, j));
                su[n] = (uint32_t)u;
                si[n] = j;
                sy[n++] = 0;
            }
        }
    }
    for (size_t k = n; k > 1; k--) { /* Fisher-Yates */
        size_t j = (size_t)rng_below(rng, k);
        uint32_t tu = su[k - 1], ti = si[k - 1];
        uint8_t ty = sy[k - 1];
        su[k - 1] = su[j];
        si[k - 1] = si[j];
        sy[k - 1] = sy[j];
        su[j] = tu;
        si[j] = ti;
        sy[j] = ty;
    }
    return n;
}

/* ---- fitting -------------------------------------------------------------------------------- */

typedef struct NeumfEpoch {
    Neumf *n;
    NeumfWs *ws;            /* (nparts) */
    const uint32_t *su, *si;
    const uint8_t *sy;
    size_t nsamples, batch, nparts;
    NnAdam opt;
    atomic_long *step;
    double *loss;           /* (nparts) sum over the part's samples */
    atomic_int *cancel;
} NeumfEpoch;

static void neumf_epoch_part(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    NeumfEpoch *ep = ctx;
    Neumf *n = ep->n;
    size_t nb = (ep->nsamples + ep->batch - 1) / ep->batch, dn = n->blk.n - n->dense_at;
    for (size_t c = begin; c < end; c++) {
        NeumfWs *ws = &ep->ws[c];
        double loss = 0;
        for (size_t bi = c, it = 0; bi < nb; bi += ep->nparts, it++) {
            if ((it & 63) == 0 && ep->cancel && atomic_load(ep->cancel))
                break;
            size_t from = bi * ep->batch, B = ep->nsamples - from;
            B = B < ep->batch ? B : ep->batch;
            memcpy(ws->u, ep->su + from, B * sizeof *ws->u);
            memcpy(ws->it, ep->si + from, B * sizeof *ws->it);
            for (size_t k = 0; k < B; k++)
                ws->y[k] = ep->sy[from + k];
            loss += neumf_batch_grad(n, n->w.Pu, ws, B) * (double)B;
            long t = atomic_fetch_add(ep->step, 1) + 1;
            NnBlock *bk = &n->blk;
            nn_adam_step(bk->w + n->dense_at, ws->grad + n->dense_at, bk->m + n->dense_at,
                         bk->v + n->dense_at, dn, &ep->opt, t);
            size_t qoff = (size_t)(n->w.Qi - n->w.Pu);
            nn_adam_sparse(bk->w, bk->m, bk->v, &ws->su, &ep->opt, t);
            nn_adam_sparse(bk->w + qoff, bk->m + qoff, bk->v + qoff, &ws->si, &ep->opt, t);
        }
        ep->loss[c] = loss;
    }
}

/* Logits of user row P (DE floats: row 0 of a one-row table) for items
 * its[0..m) through ws. */
static void neumf_logits(const Neumf *n, const float *P, uint32_t urow, NeumfWs *ws,
                         const uint32_t *its, size_t m, float *out)
{
    for (size_t from = 0; from < m; from += ws->B) {
        size_t B = m - from < ws->B ? m - from : ws->B;
        for (size_t k = 0; k < B; k++) {
            ws->u[k] = urow;
            ws->it[k] = its[from + k];
        }
        neumf_forward(n, P, ws, B);
        memcpy(out + from, ws->logit, B * sizeof(float));
    }
}

/* HR@10 on the validation matrix (see the file comment); NAN when none. */
static double neumf_valid_hr(const Neumf *n, const RsMatrix *t, const RsMatrix *v, uint64_t seed,
                             NeumfWs *ws)
{
    size_t nusers = 0;
    for (size_t u = 0; u < v->U && u < t->U; u++)
        nusers += rs_user_count(v, (uint32_t)u) > 0;
    size_t stride = nusers > NEUMF_VALID_USERS ? (nusers + NEUMF_VALID_USERS - 1) / NEUMF_VALID_USERS : 1;
    size_t hits = 0, pairs = 0, seen = 0;
    uint32_t cand[NEUMF_VALID_NEG + 1];
    float sc[NEUMF_VALID_NEG + 1];
    for (size_t u = 0; u < v->U && u < t->U; u++) {
        if (rs_user_count(v, (uint32_t)u) == 0 || seen++ % stride)
            continue;
        size_t busy = rs_user_count(t, (uint32_t)u) + rs_user_count(v, (uint32_t)u);
        if (busy + NEUMF_VALID_NEG > t->I)
            continue;
        RsRng rng;
        rng_seed(&rng, rng_stream(seed, 0xFFFF, u));
        for (size_t k = v->u_ptr[u]; k < v->u_ptr[u + 1]; k++) {
            uint32_t item = v->u_items[k];
            if (rs_matrix_has(t, (uint32_t)u, item))
                continue;
            cand[0] = item;
            eval_draw_negatives(t, v, (uint32_t)u, NEUMF_VALID_NEG, &rng, cand + 1);
            neumf_logits(n, n->w.Pu, (uint32_t)u, ws, cand, NEUMF_VALID_NEG + 1, sc);
            size_t above = 0;
            for (size_t s = 1; s <= NEUMF_VALID_NEG; s++)
                above += sc[s] > sc[0] || (sc[s] == sc[0] && cand[s] < item);
            hits += above < 10;
            pairs++;
        }
    }
    return pairs ? (double)hits / (double)pairs : NAN;
}

static void neumf_init_params(Neumf *n, uint64_t seed, float std)
{
    RsRng rng;
    rng_seed(&rng, seed);
    const NeumfDims *d = &n->d;
    NeumfViews *w = &n->w;
    nn_init_normal(w->Pu, d->U * d->DE, std, &rng);
    nn_init_normal(w->Qi, d->I * d->DE, std, &rng);
    nn_init_glorot(w->W1, d->L1, 2 * d->E, &rng);
    nn_init_glorot(w->W2, d->L2, d->L1, &rng);
    nn_init_glorot(w->W3, d->L3, d->L2, &rng);
    nn_init_glorot(w->h, 1, d->Z, &rng);
}

/* The GMF and the MLP among init[] (NULLs when the set is not exactly one
 * of each of n's sizes: RS_EUSAGE saying why). */
static int neumf_init_pair(const NeumfDims *d, const RsModel *const *init, size_t ninit,
                           const Neumf **g, const Neumf **p, RsErr *err)
{
    *g = *p = NULL;
    for (size_t k = 0; k < ninit; k++) {
        const RsModel *m = init[k];
        if (m->cls == &model_gmf && !*g && m->state)
            *g = m->state;
        else if (m->cls == &model_mlp && !*p && m->state)
            *p = m->state;
        else
            return rs_err_set(err, RS_EUSAGE,
                              "neumf starts from one gmf and one mlp model, not %s",
                              m->cls->name);
    }
    if (!*g || !*p)
        return rs_err_set(err, RS_EUSAGE, "neumf starts from one gmf and one mlp model");
    if ((*g)->d.KG != d->KG || (*p)->d.L3 != d->L3)
        return rs_err_set(err, RS_EUSAGE,
                          "neumf: factors=%zu, but the gmf model has %zu and the mlp model %zu",
                          d->KG, (*g)->d.KG, (*p)->d.L3);
    return RS_OK;
}

static int neumf_check_init(const RsModel *m, const RsModel *const *init, size_t ninit,
                            RsErr *err)
{
    NeumfDims d;
    neumf_dims(&d, m->U, m->I, (size_t)model_param(m, "factors"), neumf_variant_of(m->cls));
    const Neumf *g, *p;
    return neumf_init_pair(&d, init, ninit, &g, &p, err);
}

/* The pre-training of section 3.4.1: NeuMF's embeddings and tower are the
 * trained GMF's and MLP's, its output layer h = [alpha h_GMF ; (1 - alpha)
 * h_MLP] (and h_0 likewise). */
static int neumf_pretrained(Neumf *n, const RsModel *const *init, size_t ninit, double alpha,
                            RsErr *err)
{
    const NeumfDims *d = &n->d;
    const Neumf *g, *p;
    int rc = neumf_init_pair(d, init, ninit, &g, &p, err);
    if (rc)
        return rc;
    const NeumfViews *gw = &g->w, *pw = &p->w;
    NeumfViews *w = &n->w;
    for (size_t r = 0; r < d->U + d->I; r++) {
        int item = r >= d->U;
        size_t i = item ? r - d->U : r;
        float *dst = (item ? w->Qi : w->Pu) + i * d->DE;
        memcpy(dst, (item ? gw->Qi : gw->Pu) + i * d->KG, d->KG * sizeof(float));
        memcpy(dst + d->KG, (item ? pw->Qi : pw->Pu) + i * d->E, d->E * sizeof(float));
    }
    memcpy(w->W1, pw->W1, (size_t)(pw->h - pw->W1) * sizeof(float)); /* W1 .. b3 */
    for (size_t k = 0; k < d->KG; k++)
        w->h[k] = (float)(alpha * gw->h[k]);
    for (size_t k = 0; k < d->L3; k++)
        w->h[d->KG + k] = (float)((1 - alpha) * pw->h[k]);
    w->h0[0] = (float)(alpha * gw->h0[0] + (1 - alpha) * pw->h0[0]);
    return RS_OK;
}

static int neumf_cancelled(void *flag)
{
    return flag && atomic_load((atomic_int *)flag);
}

static int neumf_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *t = ctx->train;
    NeumfVariant var = neumf_variant_of(m->cls);
    size_t K = (size_t)model_param(m, "factors"), batch = (size_t)model_param(m, "batch"),
           neg = (size_t)model_param(m, "negatives");
    int epochs = (int)model_param(m, "epochs"), patience = (int)model_param(m, "patience");
    if (t->U != m->U || t->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "%s: training matrix is %zux%zu, model %zux%zu",
                          m->cls->name, t->U, t->I, m->U, m->I);
    if (t->NNZ == 0)
        return rs_err_set(err, RS_EUSAGE, "%s: the training data is empty", m->cls->name);
    if (t->NNZ > SIZE_MAX / (neg + 1) / 16)
        return rs_err_set(err, RS_EUSAGE, "%s: too many training entries", m->cls->name);
    Neumf *n = NULL;
    int rc = neumf_new(m->U, m->I, K, var, &n, err);
    if (rc)
        return rc;
    int on_gpu = ctx->device == RS_DEVICE_GPU;
    GpuNeumf *gpu = NULL;
    size_t nparts = ctx->nthreads > 1 && !on_gpu ? (size_t)ctx->nthreads : 1,
           cap = t->NNZ * (neg + 1);
    NeumfWs *ws = calloc(nparts, sizeof *ws);
    uint32_t *su = malloc(cap * sizeof *su), *si = malloc(cap * sizeof *si);
    uint8_t *sy = malloc(cap);
    double *sums = calloc(nparts, sizeof *sums);
    NnBest best = {0};
    int avg_last = (int)model_param(m, "average_last");
    float *avg = NULL;
    size_t navg = 0, nready = 0;
    int blas_old = 0;
    if (!ws || !su || !si || !sy || !sums) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for %s", m->cls->name);
        goto done;
    }
    for (; nready < nparts; nready++)
        if ((rc = neumf_ws_init(&ws[nready], n, batch, n->d.U, err)))
            goto done;
    if (ctx->ninit) {
        if ((rc = neumf_pretrained(n, ctx->init, ctx->ninit, model_param(m, "pretrain_alpha"),
                                   err)))
            goto done;
    } else {
        neumf_init_params(n, m->seed, (float)model_param(m, "init_std"));
    }
    atomic_long step = 0;
    NeumfEpoch ep = {.n = n, .ws = ws, .su = su, .si = si, .sy = sy, .batch = batch,
                     .nparts = nparts, .step = &step, .loss = sums, .cancel = ctx->cancel};
    nn_adam_default(&ep.opt);
    blas_old = rs_blas_threads(1); /* the batches' sgemm calls are tiny */
    ep.opt.lr = (float)model_param(m, "lr");
    ep.opt.weight_decay = (float)model_param(m, "weight_decay");
    GpuAdam gopt = {ep.opt.lr, ep.opt.beta1, ep.opt.beta2, ep.opt.eps, ep.opt.weight_decay};
    long gstep = 0;
    if (on_gpu) {
        GpuNeumfDims gd = {n->d.U, n->d.I, n->d.KG, n->d.E, n->d.L1, n->d.L2, n->d.L3};
        if ((rc = gpu_neumf_new(&gd, n->blk.w, n->blk.n, batch, &gpu, err)))
            goto done;
    }
    for (int e = 1; e <= epochs; e++) {
        RsRng rng;
        rng_seed(&rng, rng_stream(m->seed, (uint64_t)e, 0));
        ep.nsamples = neumf_draw(t, neg, &rng, su, si, sy);
        double loss = 0;
        if (gpu) {
            if ((rc = gpu_neumf_epoch(gpu, su, si, sy, ep.nsamples, &gopt, &gstep,
                                      neumf_cancelled, ctx->cancel, &loss, err)) ||
                (ctx->valid && (rc = gpu_neumf_download(gpu, n->blk.w, err))))
                goto done;
        } else {
            rs_parallel_for(nparts, (int)nparts, 1, neumf_epoch_part, &ep);
            for (size_t c = 0; c < nparts; c++)
                loss += sums[c];
        }
        FitProgress pr = {.phase = "epoch", .epoch = e, .epochs = epochs,
                          .fraction = (double)e / epochs,
                          .loss = ep.nsamples ? loss / (double)ep.nsamples : NAN, .valid = NAN,
                          .valid_name = ctx->valid ? "hr@10" : NULL};
        if (ctx->valid)
            pr.valid = neumf_valid_hr(n, t, ctx->valid, m->seed, &ws[0]);
        if ((rc = model_fit_tick(ctx, &pr, err)))
            goto done;
        if (!isfinite(pr.loss)) {
            rc = rs_err_set(err, RS_EUSAGE, "%s diverged at epoch %d: lower lr", m->cls->name, e);
            goto done;
        }
        if (ctx->valid && patience > 0) {
            int stop = nn_best_offer(&best, &n->blk, e, pr.valid, patience, err);
            if (stop < 0) {
                rc = stop;
                goto done;
            }
            if (stop)
                break;
        }
        if (avg_last > 0 && e > epochs - avg_last) { /* the running mean (Polyak) */
            if (gpu && !ctx->valid && (rc = gpu_neumf_download(gpu, n->blk.w, err)))
                goto done;
            if (!avg && !(avg = calloc(n->blk.n, sizeof *avg))) {
                rc = rs_err_set(err, RS_ENOMEM, "out of memory for the average");
                goto done;
            }
            navg++;
            for (size_t k = 0; k < n->blk.n; k++)
                avg[k] += (n->blk.w[k] - avg[k]) / (float)navg;
        }
    }
    if (gpu && !ctx->valid && !avg && (rc = gpu_neumf_download(gpu, n->blk.w, err)))
        goto done;
    if (avg && !best.w)
        memcpy(n->blk.w, avg, n->blk.n * sizeof *avg);
    nn_best_finish(&best, &n->blk);
    m->cls->free_state(m);
    m->state = n;
    n = NULL;
done:
    free(avg);
    gpu_neumf_free(gpu);
    if (blas_old > 0)
        rs_blas_threads(blas_old);
    for (size_t c = 0; c < nready; c++)
        neumf_ws_done(&ws[c]);
    free(ws);
    free(su);
    free(si);
    free(sy);
    free(sums);
    nn_best_done(&best);
    neumf_free(n);
    return rc;
}

/* ---- scoring, fold-in -------------------------------------------------------------------- */

static const Neumf *neumf_of(const RsModel *m, RsErr *err)
{
    if (!m->state)
        rs_err_set(err, RS_EUSAGE, "%s: the model is not trained", m->cls->name);
    return m->state;
}

/* Logits of every item for user row P (row urow of the table P). */
static int neumf_score_all(const Neumf *n, const float *P, uint32_t urow, float *scores,
                           RsErr *err)
{
    NeumfWs ws;
    size_t B = n->d.I < NEUMF_SCORE_CHUNK ? (n->d.I ? n->d.I : 1) : NEUMF_SCORE_CHUNK;
    int rc = neumf_ws_init(&ws, n, B, 1, err);
    if (rc)
        return rc;
    uint32_t its[NEUMF_SCORE_CHUNK];
    for (size_t from = 0; from < n->d.I; from += B) {
        size_t cnt = n->d.I - from < B ? n->d.I - from : B;
        for (size_t k = 0; k < cnt; k++)
            its[k] = (uint32_t)(from + k);
        neumf_logits(n, P, urow, &ws, its, cnt, scores + from);
    }
    neumf_ws_done(&ws);
    return RS_OK;
}

static int neumf_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                       RsErr *err)
{
    (void)train;
    const Neumf *n = neumf_of(m, err);
    if (!n)
        return RS_EUSAGE;
    if (u >= n->d.U)
        return rs_err_set(err, RS_ENOTFOUND, "user %u out of range (%zu users)", u, n->d.U);
    return neumf_score_all(n, n->w.Pu, u, scores, err);
}

/* p (DE) for a profile (see the file comment). */
static int neumf_foldin(const RsModel *m, const Neumf *n, const RsProfile *pr, float *p,
                        RsErr *err)
{
    const NeumfDims *d = &n->d;
    size_t DE = d->DE, I = d->I, np = pr->n;
    for (size_t k = 0; k < np; k++)
        if (pr->items[k] >= I)
            return rs_err_set(err, RS_EUSAGE, "profile item %u out of range (%zu items)",
                              pr->items[k], I);
    /* start: the mean trained user row */
    memset(p, 0, DE * sizeof *p);
    for (size_t u = 0; u < d->U; u++)
        for (size_t k = 0; k < DE; k++)
            p[k] += n->w.Pu[u * DE + k] / (float)d->U;
    uint8_t *in = calloc(I ? I : 1, 1);
    float *pm = calloc(2 * DE, sizeof *pm);
    NeumfWs ws;
    memset(&ws, 0, sizeof ws);
    size_t neg = (size_t)model_param(m, "negatives"), batch = (size_t)model_param(m, "batch");
    int rc = RS_OK;
    if (!in || !pm) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for the fold-in");
        goto done;
    }
    size_t distinct = 0;
    for (size_t k = 0; k < np; k++)
        if (!in[pr->items[k]]) {
            in[pr->items[k]] = 1;
            distinct++;
        }
    if (distinct == 0 || distinct >= I)
        goto done;
    size_t B = np * (neg + 1) < batch ? np * (neg + 1) : batch;
    if ((rc = neumf_ws_init(&ws, n, B, 1, err)))
        goto done;
    NnAdam opt;
    nn_adam_default(&opt);
    opt.lr = (float)model_param(m, "foldin_lr");
    RsRng rng;
    rng_seed(&rng, rng_stream(m->seed, UINT64_MAX, np));
    int steps = (int)model_param(m, "foldin_steps");
    for (int s = 1; s <= steps; s++) {
        for (size_t k = 0; k < B; k++) {
            ws.u[k] = 0;
            if (k % (neg + 1) == 0) {
                ws.it[k] = pr->items[rng_below(&rng, np)];
                ws.y[k] = 1;
            } else {
                uint32_t j;
                do
                    j = (uint32_t)rng_below(&rng, I);
                while (in[j]);
                ws.it[k] = j;
                ws.y[k] = 0;
            }
        }
        neumf_batch_grad(n, p, &ws, B);
        nn_adam_sparse(p, pm, pm + DE, &ws.su, &opt, s); /* the user row alone */
    }
done:
    neumf_ws_done(&ws);
    free(in);
    free(pm);
    return rc;
}

static int neumf_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *pr,
                               float *scores, RsErr *err)
{
    (void)train;
    const Neumf *n = neumf_of(m, err);
    if (!n)
        return RS_EUSAGE;
    float *p = malloc(n->d.DE * sizeof *p);
    if (!p)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = neumf_foldin(m, n, pr, p, err);
    if (rc == RS_OK)
        rc = neumf_score_all(n, p, 0, scores, err);
    free(p);
    return rc;
}

/* ---- explanations, similar items ---------------------------------------------------------- */

static int neumf_explain_row(const Neumf *n, const float *P, uint32_t urow, const RsProfile *h,
                             uint32_t item, RsExplanation *e, const char *method, RsErr *err)
{
    if (item >= n->d.I)
        return rs_err_set(err, RS_ENOTFOUND, "item %u out of range (%zu items)", item, n->d.I);
    NeumfWs ws;
    int rc = neumf_ws_init(&ws, n, 1, urow + 1, err);
    if (rc)
        return rc;
    float logit;
    neumf_logits(n, P, urow, &ws, &item, 1, &logit);
    const NeumfDims *d = &n->d;
    double gmf = 0, mlp = 0;
    for (size_t k = 0; k < d->KG; k++)
        gmf += (double)n->w.h[k] * ws.zc[k];
    for (size_t k = d->KG; k < d->Z; k++)
        mlp += (double)n->w.h[k] * ws.zc[k];
    neumf_ws_done(&ws);
    if (d->KG)
        rc |= rs_explanation_add(e, EXPL_PART, 0, "GMF", (float)gmf, NAN);
    if (d->L3)
        rc |= rs_explanation_add(e, EXPL_PART, 1, "MLP", (float)mlp, NAN);
    /* the history items nearest the item in the learned item embedding */
    uint32_t best[NEUMF_EXPLAIN_ITEMS];
    float bc[NEUMF_EXPLAIN_ITEMS];
    size_t nb = 0;
    const float *q = n->w.Qi + (size_t)item * d->DE;
    for (size_t k = 0; h && k < h->n; k++) {
        uint32_t j = h->items[k];
        if (j >= d->I || j == item)
            continue;
        int dup = 0;
        for (size_t s = 0; s < nb && !dup; s++)
            dup = best[s] == j;
        float c = nn_cosine(q, n->w.Qi + (size_t)j * d->DE, d->DE);
        if (dup || !isfinite(c))
            continue;
        size_t at = nb < NEUMF_EXPLAIN_ITEMS ? nb : NEUMF_EXPLAIN_ITEMS;
        while (at > 0 && c > bc[at - 1])
            at--;
        if (at >= NEUMF_EXPLAIN_ITEMS)
            continue;
        size_t last = nb < NEUMF_EXPLAIN_ITEMS ? nb : NEUMF_EXPLAIN_ITEMS - 1;
        memmove(best + at + 1, best + at, (last - at) * sizeof *best);
        memmove(bc + at + 1, bc + at, (last - at) * sizeof *bc);
        best[at] = j;
        bc[at] = c;
        if (nb < NEUMF_EXPLAIN_ITEMS)
            nb++;
    }
    for (size_t k = 0; k < nb && rc == RS_OK; k++)
        rc = rs_explanation_add(e, EXPL_ITEM, best[k], "", 0.0f, bc[k]);
    if (rc != RS_OK)
        return rs_err_set(err, RS_ENOMEM, "out of memory for the explanation");
    e->score = logit;
    e->additive = 1;
    e->bias = n->w.h0[0];
    snprintf(e->method, sizeof e->method, "%s", method);
    return RS_OK;
}

static int neumf_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                         long user, const RsProfile *h, uint32_t item, RsExplanation *e,
                         RsErr *err)
{
    (void)train;
    (void)cat;
    const Neumf *n = neumf_of(m, err);
    if (!n)
        return RS_EUSAGE;
    if (user >= 0) {
        if ((size_t)user >= n->d.U)
            return rs_err_set(err, RS_ENOTFOUND, "user %ld out of range", user);
        return neumf_explain_row(n, n->w.Pu, (uint32_t)user, h, item, e,
                                 "logit = h0 + GMF part + MLP part (NeuMF, He et al. 2017, eq. 12);"
                                 " history items by cosine of item embeddings",
                                 err);
    }
    float *p = malloc(n->d.DE * sizeof *p);
    if (!p)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = neumf_foldin(m, n, h, p, err);
    if (rc == RS_OK)
        rc = neumf_explain_row(n, p, 0, h, item, e,
                               "logit = h0 + GMF part + MLP part, user row folded in by Adam;"
                               " history items by cosine of item embeddings",
                               err);
    free(p);
    return rc;
}

static int neumf_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                         RsErr *err)
{
    (void)train;
    const Neumf *n = neumf_of(m, err);
    if (!n)
        return RS_EUSAGE;
    return nn_similar_items(n->w.Qi, n->d.I, n->d.DE, item, scores, err);
}

/* ---- save / load ------------------------------------------------------------------------------ */

/* Payload: U, I (u64), variant, factors (u32), the parameter block. */
static int neumf_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    const Neumf *n = neumf_of(m, err);
    if (!n)
        return RS_EUSAGE;
    blob_put_u64(b, n->d.U);
    blob_put_u64(b, n->d.I);
    blob_put_u32(b, (uint32_t)n->variant);
    blob_put_u32(b, (uint32_t)(n->d.KG ? n->d.KG : n->d.L3));
    nn_block_save(&n->blk, b);
    if (b->oom)
        return rs_err_set(err, RS_ENOMEM, "out of memory saving %s", m->cls->name);
    return RS_OK;
}

static int neumf_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    uint64_t U, I;
    uint32_t var, K;
    if (blob_get_u64(r, &U) || blob_get_u64(r, &I) || blob_get_u32(r, &var) ||
        blob_get_u32(r, &K))
        return rs_err_set(err, RS_EPARSE, "%s: truncated header", m->cls->name);
    if (U != m->U || I != m->I)
        return rs_err_set(err, RS_EPARSE, "%s: shape %llux%llu does not match the dataset (%zux%zu)",
                          m->cls->name, (unsigned long long)U, (unsigned long long)I, m->U, m->I);
    if (var != (uint32_t)neumf_variant_of(m->cls))
        return rs_err_set(err, RS_EPARSE, "%s: blob holds variant %u", m->cls->name, var);
    if ((double)K != model_param(m, "factors"))
        return rs_err_set(err, RS_EPARSE, "%s: %u factors, parameters say %g", m->cls->name, K,
                          model_param(m, "factors"));
    Neumf *n;
    int rc = neumf_new(m->U, m->I, K, (NeumfVariant)var, &n, err);
    if (rc)
        return rc;
    if ((rc = nn_block_load(&n->blk, r, err))) {
        neumf_free(n);
        return rc;
    }
    m->cls->free_state(m);
    m->state = n;
    return RS_OK;
}

static void neumf_free_state(RsModel *m)
{
    neumf_free(m->state);
    m->state = NULL;
}

#define NEUMF_CLASS(name_, title_, flags_)                                                     \
    {                                                                                          \
        .name = name_, .title = title_, .params = neumf_params,                                \
        .nparams = RS_ARRAY_LEN(neumf_params),                                                 \
        .flags = MODEL_FOLDIN | MODEL_ADDITIVE | MODEL_GPU | (flags_),                                     \
        .format_version = 1, .fit = neumf_fit, .score = neumf_score,                           \
        .score_profile = neumf_score_profile, .predict = NULL, .explain = neumf_explain,       \
        .similar = neumf_similar, .save = neumf_save, .load = neumf_load,                      \
        .free_state = neumf_free_state, .check_init = neumf_check_init,                        \
    }

const ModelClass model_neumf =
    NEUMF_CLASS("neumf", "NeuMF: GMF + MLP neural CF (He et al. 2017)", MODEL_INIT);
const ModelClass model_gmf =
    NEUMF_CLASS("gmf", "GMF: generalised MF, NeuMF's GMF branch (He et al. 2017)", 0);
const ModelClass model_mlp =
    NEUMF_CLASS("mlp", "MLP: NeuMF's multi-layer perceptron branch (He et al. 2017)", 0);

static NeumfVariant neumf_variant_of(const ModelClass *cls)
{
    return cls == &model_gmf ? NEUMF_GMF : cls == &model_mlp ? NEUMF_MLP : NEUMF_BOTH;
}
