/*
 * gru4rec.c - GRU4Rec (class "gru4rec"; gru4rec.h).
 *
 * Model (Hidasi et al. 2016, section 3; Hidasi & Karatzoglou 2018):
 *   x_t = E[i_t]                      (D) input item embedding
 *   h_t = GRU(x_t, h_{t-1}), h_0 = 0  (H) one GRU layer (nn_gru.h)
 *   r_t(j) = Q[j] . dropout(h_t) + b[j]   the score of item j as the next item
 * with E (I, D) the input embedding, Q (I, H) the output embedding and b (I)
 * the output bias; with `tied`, E is Q (D = H: the "constrained embedding"
 * of the GRU4Rec authors' later implementation, Hidasi & Czapp 2023). A user's score for item j is r(j) after running the GRU
 * over the last `maxlen` items of the user's training history in time order
 * (seq.h's order: by timestamp, ties by item index).
 *
 * Training: each user's time-ordered training sequence i_1..i_n gives the
 * inputs i_1..i_{n-1} and the targets i_2..i_n, cut from the end into
 * windows of at most `maxlen` inputs (each window starts from h_0 = 0, as
 * scoring does). Each epoch shuffles the windows and takes Adam steps on
 * mini-batches of `batch` windows. Every position of a batch is scored
 * against its target and `negatives` items shared by the whole batch (the
 * mini-batch negative sampling of Hidasi & Karatzoglou 2018, section 3.1.1):
 * a fraction `inbatch` of them are the targets of other positions of the
 * batch (so drawn in proportion to popularity), the rest uniform over the
 * items; a negative equal to a position's target is left out of that
 * position's loss. Loss: sampled softmax (cross-entropy over the target
 * and the negatives; nn.h) or BPR-max (nn_gru.h), `loss=softmax|bprmax`.
 * Embeddings and biases get sparse gradients and a lazy Adam step on the
 * rows a batch touched; weight_decay > 0 makes it AdamW. Dropout on the GRU
 * output (p = `dropout`) during training only. Initialisation: E, Q from
 * N(0, init_std^2), the GRU's weights Glorot-uniform, biases 0.
 *
 * Threads: with nthreads = 1 a fit is deterministic for a seed. With more,
 * the shuffled batches are dealt round-robin to nthreads parts run
 * concurrently on the one parameter block without locks (Hogwild, Niu et
 * al. 2011, as engine/neumf.c does), each part with its own workspace.
 *
 * Early stopping: with a validation matrix, after each epoch the fit
 * reports HR@10 with each validation item ranked against 99 sampled items
 * the user never interacted with (the NCF protocol; at most
 * GRU4REC_VALID_USERS evenly spread users), keeps the best epoch's
 * parameters and stops after `patience` epochs without improvement.
 *
 * Fold-in: the model scores any item sequence directly (no training): a
 * profile's items are taken in the order given, oldest first.
 *
 * Explanations: for each of the GRU4REC_EXPLAIN_ITEMS most recent history
 * items, the drop of the item's score when that item is removed from the
 * sequence and the GRU re-run (EXPL_ITEM; not additive: the network is not
 * linear in its inputs).
 */
#include "gru4rec.h"

#include <cblas.h>
#undef I
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "nn.h"
#include "nn_gru.h"
#include "parallel.h"
#include "rng.h"
#include "seq.h"

#define GRU4REC_VALID_USERS 1000
#define GRU4REC_VALID_NEG 99
#define GRU4REC_EXPLAIN_ITEMS 10
#define GRU4REC_MAX_BATCH 4096 /* windows per mini-batch */

enum { GRU4REC_SOFTMAX = 0, GRU4REC_BPRMAX = 1 };

/* The parameter block, in this order: X(view, number of floats). The
 * embeddings come first so the dense part (the GRU) is one tail. */
#define GRU4REC_TENSORS(X)                                                                  \
    X(E, d->tied ? 0 : d->I * d->D) /* (I, D) input item embedding; tied: Q itself */        \
    X(Q, d->I * d->H)          /* (I, H) output item embedding */                           \
    X(bo, d->I)                /* (I) output item bias */                                   \
    X(Wx, NN_GRU_WX(d->D, d->H)) /* (3H, D) */                                              \
    X(Wh, NN_GRU_WH(d->H))     /* (3H, H) */                                                \
    X(bx, NN_GRU_B(d->H))      /* (3H) */                                                   \
    X(bh, NN_GRU_B(d->H))      /* (3H) */

typedef struct GruDims {
    size_t I, D, H;
    int tied;           /* the input embedding is Q (D = H) */
} GruDims;

typedef struct GruViews {
    GRU4REC_TENSORS(NN_VIEW_FIELD)
} GruViews;

typedef struct Gru4rec {
    GruDims d;
    NnBlock blk;
    GruViews w;         /* views into blk.w */
    NnGruWeights gw;    /* the GRU's part of w */
    size_t dense_at;    /* offset of Wx: [dense_at, blk.n) is the dense part */
} Gru4rec;

static void gru_bind(GruViews *v, float *base, const GruDims *d)
{
    float *at = base;
    GRU4REC_TENSORS(NN_VIEW_BIND)
    if (d->tied)
        v->E = v->Q;
}

static size_t gru_count(const GruDims *d) { return 0 GRU4REC_TENSORS(NN_VIEW_COUNT); }

static NnGruWeights gru_weights(const GruViews *v)
{
    return (NnGruWeights){.Wx = v->Wx, .Wh = v->Wh, .bx = v->bx, .bh = v->bh};
}

static void gru_free(Gru4rec *g)
{
    if (!g)
        return;
    nn_block_done(&g->blk);
    free(g);
}

static int gru_new(size_t I, size_t D, size_t H, int tied, Gru4rec **out, RsErr *err)
{
    *out = NULL;
    if (tied)
        D = H;
    if (D == 0 || H == 0 || D > 4096 || H > 4096 || I > INT32_MAX ||
        I > SIZE_MAX / sizeof(float) / (D + H + 1) / 2)
        return rs_err_set(err, RS_EUSAGE, "gru4rec: model too large (%zu items)", I);
    Gru4rec *g = calloc(1, sizeof *g);
    if (!g)
        return rs_err_set(err, RS_ENOMEM, "out of memory for gru4rec");
    g->d = (GruDims){.I = I, .D = D, .H = H, .tied = tied};
    int rc = nn_block_init(&g->blk, gru_count(&g->d), err);
    if (rc) {
        free(g);
        return rc;
    }
    gru_bind(&g->w, g->blk.w, &g->d);
    g->gw = gru_weights(&g->w);
    g->dense_at = (size_t)(g->w.Wx - g->blk.w);
    *out = g;
    return RS_OK;
}

/* ---- one mini-batch: workspace, forward, backward ------------------------------------- */

/* T steps, B windows, N = T B positions at most, S shared negatives */
#define GRU4REC_WS(X)                                                                      \
    X(x, T * B * d->D) X(hs, (T + 1) * B * d->H) X(gates, T * B * 3 * d->H)                \
    X(hn, T * B * d->H) X(xg, T * B * 3 * d->H) X(dgx, T * B * 3 * d->H)                   \
    X(dgh, T * B * 3 * d->H) X(dhs, (T + 1) * B * d->H) X(dx, T * B * d->D)                \
    X(hv, N * d->H) X(mask, N * d->H) X(z, N * (S + 1)) X(dz, N * (S + 1))                 \
    X(qneg, S * d->H) X(dqneg, S * d->H) X(dhv, N * d->H) X(bneg, S)

typedef struct GruWs {
    size_t T, B, S;     /* capacity: steps, windows, negatives */
    size_t t, b, n;     /* the current batch: steps, windows, positions */
    float *mem;
    GRU4REC_WS(NN_VIEW_FIELD)
    uint32_t *xin;      /* (T B) input item of each step, time-major */
    uint8_t *live;      /* (T B) whether the step is inside its window */
    uint32_t *tgt;      /* (N) target item of each position */
    uint32_t *at;       /* (N) row t B + b of each position */
    uint32_t *neg;      /* (S) the batch's shared negatives */
    NnSparseGrad sE, sQ, sb;
    float *grad;        /* (blk.n - dense_at) this part's GRU gradients */
    NnGruWeights gg;    /* views into grad */
} GruWs;

static void gru_ws_done(GruWs *ws)
{
    free(ws->mem);
    free(ws->xin);
    free(ws->live);
    free(ws->tgt);
    free(ws->at);
    free(ws->neg);
    free(ws->grad);
    nn_sparse_done(&ws->sE);
    nn_sparse_done(&ws->sQ);
    nn_sparse_done(&ws->sb);
    memset(ws, 0, sizeof *ws);
}

/* A workspace for batches of up to B windows of up to T steps and S
 * negatives (S may be 0: scoring only). */
static int gru_ws_init(GruWs *ws, const Gru4rec *g, size_t T, size_t B, size_t S, RsErr *err)
{
    memset(ws, 0, sizeof *ws);
    const GruDims *d = &g->d;
    size_t N = T * B;
    ws->T = T;
    ws->B = B;
    ws->S = S;
    size_t total = 0 GRU4REC_WS(NN_VIEW_COUNT);
    size_t dn = g->blk.n - g->dense_at;
    ws->mem = calloc(total, sizeof(float));
    ws->xin = calloc(N, sizeof *ws->xin);
    ws->live = calloc(N, 1);
    ws->tgt = calloc(N, sizeof *ws->tgt);
    ws->at = calloc(N, sizeof *ws->at);
    ws->neg = calloc(S ? S : 1, sizeof *ws->neg);
    ws->grad = calloc(dn, sizeof(float));
    int rc = RS_ENOMEM;
    if (!ws->mem || !ws->xin || !ws->live || !ws->tgt || !ws->at || !ws->neg || !ws->grad ||
        (rc = nn_sparse_init(&ws->sE, d->I, d->D, N, err)) ||
        (rc = nn_sparse_init(&ws->sQ, d->I, d->H, 2 * N + S, err)) ||
        (rc = nn_sparse_init(&ws->sb, d->I, 1, N + S, err))) {
        gru_ws_done(ws);
        return rc == RS_ENOMEM ? rs_err_set(err, RS_ENOMEM, "out of memory for gru4rec") : rc;
    }
    GruWs *v = ws;
    float *at = ws->mem;
    GRU4REC_WS(NN_VIEW_BIND)
    float *ga = ws->grad;
    ws->gg.Wx = ga;
    ws->gg.Wh = ga + NN_GRU_WX(d->D, d->H);
    ws->gg.bx = ws->gg.Wh + NN_GRU_WH(d->H);
    ws->gg.bh = ws->gg.bx + NN_GRU_B(d->H);
    return RS_OK;
}

/* Loads B windows into ws: window b is the items w[b][0..len[b]] (len[b] >=
 * 1 inputs, each followed by its target; len[b] <= ws->T). */
static void gru_load(GruWs *ws, const uint32_t *const *w, const size_t *len, size_t B)
{
    size_t T = 0, n = 0;
    for (size_t b = 0; b < B; b++)
        T = len[b] > T ? len[b] : T;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            size_t r = t * B + b;
            ws->live[r] = t < len[b];
            ws->xin[r] = t < len[b] ? w[b][t] : 0;
            if (t < len[b]) {
                ws->tgt[n] = w[b][t + 1];
                ws->at[n++] = (uint32_t)r;
            }
        }
    ws->t = T;
    ws->b = B;
    ws->n = n;
}

/* Embeds the inputs and runs the GRU over the loaded windows. */
static void gru_run(const Gru4rec *g, GruWs *ws)
{
    size_t D = g->d.D, H = g->d.H, TB = ws->t * ws->b;
    nn_embedding_forward(ws->x, ws->xin, g->w.E, TB, D);
    memset(ws->hs, 0, ws->b * H * sizeof(float));
    nn_gru_forward(ws->hs, ws->gates, ws->hn, ws->xg, ws->x, &g->gw, ws->t, ws->b, D, H);
}

/* The loss of the loaded batch with negatives ws->neg[0..S) and, when
 * grad, its gradients: the GRU's into ws->gg (overwritten), the
 * embeddings' into ws->sE, sQ, sb (cleared first). Dropout p from rng
 * (p = 0: none, rng unused). */
static double gru_batch(const Gru4rec *g, GruWs *ws, size_t S, int loss, float lambda, float p,
                        RsRng *rng, int grad)
{
    const GruDims *d = &g->d;
    size_t H = d->H, N = ws->n, B = ws->b, C = S + 1;
    if (N == 0)
        return 0;
    gru_run(g, ws);
    /* hv (N, H) = dropout of h at every position */
    for (size_t k = 0; k < N; k++)
        memcpy(ws->hv + k * H, ws->hs + ((size_t)ws->at[k] + B) * H, H * sizeof(float));
    nn_dropout_forward(ws->hv, ws->mask, ws->hv, p, N * H, rng);
    /* z (N, 1 + S): column 0 the target, then the negatives */
    nn_embedding_forward(ws->qneg, ws->neg, g->w.Q, S, H);
    for (size_t s = 0; s < S; s++)
        ws->bneg[s] = g->w.bo[ws->neg[s]];
    if (S)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)S, (int)H, 1.0f,
                    ws->hv, (int)H, ws->qneg, (int)H, 0.0f, ws->z + 1, (int)C);
    for (size_t k = 0; k < N; k++) {
        float *zk = ws->z + k * C;
        uint32_t j = ws->tgt[k];
        zk[0] = cblas_sdot((int)H, ws->hv + k * H, 1, g->w.Q + (size_t)j * H, 1) + g->w.bo[j];
        for (size_t s = 0; s < S; s++)
            zk[1 + s] = ws->neg[s] == j ? -INFINITY : zk[1 + s] + ws->bneg[s];
    }
    double L;
    if (loss == GRU4REC_BPRMAX) {
        L = nn_bpr_max_forward(ws->z, N, C, lambda);
        if (grad) {
            memset(ws->dz, 0, N * C * sizeof(float));
            nn_bpr_max_backward(ws->dz, ws->z, N, C, lambda, 1.0f);
        }
    } else {
        L = nn_softmax_xent(ws->dz, ws->z, N, C, 1.0f);
    }
    if (!grad)
        return L;
    /* dhv = dz[:, 1:] qneg + dz[:, 0] Q[target];  dqneg = dz[:, 1:]^T hv */
    memset(ws->dhv, 0, N * H * sizeof(float));
    if (S) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)H, (int)S, 1.0f,
                    ws->dz + 1, (int)C, ws->qneg, (int)H, 0.0f, ws->dhv, (int)H);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)S, (int)H, (int)N, 1.0f,
                    ws->dz + 1, (int)C, ws->hv, (int)H, 0.0f, ws->dqneg, (int)H);
    }
    nn_sparse_clear(&ws->sQ);
    nn_sparse_clear(&ws->sb);
    nn_sparse_clear(&ws->sE);
    for (size_t k = 0; k < N; k++) {
        uint32_t j = ws->tgt[k];
        float d0 = ws->dz[k * C];
        const float *q = g->w.Q + (size_t)j * H, *hk = ws->hv + k * H;
        float *dq = nn_sparse_row(&ws->sQ, j), *dhk = ws->dhv + k * H;
        for (size_t c = 0; c < H; c++) {
            dhk[c] += d0 * q[c];
            dq[c] += d0 * hk[c];
        }
        nn_sparse_row(&ws->sb, j)[0] += d0;
    }
    for (size_t s = 0; s < S; s++) {
        float *dq = nn_sparse_row(&ws->sQ, ws->neg[s]), sb = 0;
        for (size_t c = 0; c < H; c++)
            dq[c] += ws->dqneg[s * H + c];
        for (size_t k = 0; k < N; k++)
            sb += ws->dz[k * C + 1 + s];
        nn_sparse_row(&ws->sb, ws->neg[s])[0] += sb;
    }
    /* back through the dropout into dhs, then through time */
    memset(ws->dhs, 0, (ws->t + 1) * B * H * sizeof(float));
    for (size_t k = 0; k < N; k++)
        nn_dropout_backward(ws->dhs + ((size_t)ws->at[k] + B) * H, ws->dhv + k * H,
                            ws->mask + k * H, H);
    memset(ws->grad, 0, (g->blk.n - g->dense_at) * sizeof(float));
    memset(ws->dx, 0, ws->t * B * d->D * sizeof(float));
    nn_gru_backward(ws->dx, &ws->gg, ws->dhs, ws->dgx, ws->dgh, ws->x, ws->hs, ws->gates,
                    ws->hn, &g->gw, ws->t, B, d->D, H);
    NnSparseGrad *sE = d->tied ? &ws->sQ : &ws->sE; /* tied: both uses of Q summed */
    for (size_t r = 0; r < ws->t * B; r++) {
        if (!ws->live[r])
            continue;
        float *de = nn_sparse_row(sE, ws->xin[r]);
        for (size_t c = 0; c < d->D; c++)
            de[c] += ws->dx[r * d->D + c];
    }
    return L;
}

/* ---- exported for the tests: the whole network's loss and gradient -------------------- */

int gru4rec_debug_grad(const RsModel *m, const uint32_t *const *seqs, const size_t *lens,
                       size_t nseq, const uint32_t *neg, size_t S, float *grad, double *loss)
{
    const Gru4rec *g = m->state;
    if (!g || nseq == 0)
        return -1;
    size_t T = 0, *len = malloc(nseq * sizeof *len);
    if (!len)
        return -1;
    for (size_t k = 0; k < nseq; k++) {
        if (lens[k] < 2) {
            free(len);
            return -1;
        }
        len[k] = lens[k] - 1;
        T = len[k] > T ? len[k] : T;
    }
    GruWs ws;
    RsErr err;
    if (gru_ws_init(&ws, g, T, nseq, S, &err)) {
        free(len);
        return -1;
    }
    gru_load(&ws, seqs, len, nseq);
    memcpy(ws.neg, neg, S * sizeof *neg);
    *loss = gru_batch(g, &ws, S, (int)model_param(m, "loss"), (float)model_param(m, "bpreg"),
                      0.0f, NULL, grad != NULL);
    if (grad) {
        memset(grad, 0, g->blk.n * sizeof(float));
        memcpy(grad + g->dense_at, ws.grad, (g->blk.n - g->dense_at) * sizeof(float));
        const NnSparseGrad *sp[3] = {&ws.sE, &ws.sQ, &ws.sb};
        const float *base[3] = {g->w.E, g->w.Q, g->w.bo};
        for (size_t q = 0; q < 3; q++)
            for (size_t k = 0; k < sp[q]->n; k++) {
                size_t D = sp[q]->D, off = (size_t)(base[q] - g->blk.w) + sp[q]->rows[k] * D;
                for (size_t c = 0; c < D; c++)
                    grad[off + c] += sp[q]->g[k * D + c];
            }
    }
    gru_ws_done(&ws);
    free(len);
    return 0;
}

float *gru4rec_debug_params(const RsModel *m, size_t *n)
{
    Gru4rec *g = m->state;
    *n = g ? g->blk.n : 0;
    return g ? g->blk.w : NULL;
}

/* ---- parameters --------------------------------------------------------------------------- */

static const ParamSpec gru4rec_params[] = {
    {"hidden", PARAM_INT, 64, 1, 1024, NULL, "GRU hidden size H (and output embedding size)"},
    {"embed", PARAM_INT, 64, 1, 1024, NULL, "input item embedding size D (untied)"},
    {"tied", PARAM_BOOL, 0, 0, 1, NULL,
     "the input embedding is the output embedding (D = hidden; embed unused)"},
    {"maxlen", PARAM_INT, 50, 2, 1000, NULL,
     "most recent history items the GRU reads (training window length)"},
    {"epochs", PARAM_INT, 10, 1, 10000, NULL, "passes over the training sequences"},
    {"batch", PARAM_INT, 32, 1, GRU4REC_MAX_BATCH, NULL, "mini-batch size in windows of maxlen items"},
    {"lr", PARAM_FLOAT, 0.002, 1e-6, 10, NULL, "Adam learning rate"},
    {"loss", PARAM_ENUM, 0, 0, 0, "softmax|bprmax",
     "sampled softmax cross-entropy or BPR-max (Hidasi & Karatzoglou 2018)"},
    {"negatives", PARAM_INT, 256, 1, 100000, NULL, "negatives shared by a mini-batch"},
    {"inbatch", PARAM_FLOAT, 0.5, 0, 1, NULL,
     "share of the negatives taken from the batch's targets (the rest uniform)"},
    {"bpreg", PARAM_FLOAT, 1.0, 0, 100, NULL, "BPR-max score regularisation lambda"},
    {"dropout", PARAM_FLOAT, 0.2, 0, 0.95, NULL, "dropout on the GRU output while training"},
    {"weight_decay", PARAM_FLOAT, 0, 0, 10, NULL, "AdamW decoupled weight decay (0: Adam)"},
    {"init_std", PARAM_FLOAT, 0.1, 0, 10, NULL, "std of the normal initial item embeddings"},
    {"patience", PARAM_INT, 3, 0, 1000, NULL,
     "with a validation set: stop after this many epochs without a better HR@10 (0 never)"},
};

/* ---- sequences --------------------------------------------------------------------------- */

typedef struct GruEntry {
    int64_t ts;
    uint32_t item;
} GruEntry;

static int entry_cmp(const void *a, const void *b)
{
    const GruEntry *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* User u's training items in time order (seq.h's order, built for one
 * user) into a malloc'd *out; returns the count, or (size_t)-1 out of
 * memory. */
static size_t user_seq(const RsMatrix *t, uint32_t u, uint32_t **out)
{
    size_t a = t->u_ptr[u], n = t->u_ptr[u + 1] - a;
    GruEntry *e = malloc((n ? n : 1) * sizeof *e);
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!e || !*out) {
        free(e);
        free(*out);
        *out = NULL;
        return (size_t)-1;
    }
    for (size_t k = 0; k < n; k++)
        e[k] = (GruEntry){t->u_ts ? t->u_ts[a + k] : RS_NO_TS, t->u_items[a + k]};
    qsort(e, n, sizeof *e, entry_cmp);
    for (size_t k = 0; k < n; k++)
        (*out)[k] = e[k].item;
    free(e);
    return n;
}

/* h (H): the GRU's state after the last min(n, maxlen) items of seq (zeros
 * for an empty sequence), through ws (capacity T >= maxlen, B >= 1). */
static void gru_final_state(const Gru4rec *g, GruWs *ws, const uint32_t *seq, size_t n,
                            size_t maxlen, float *h)
{
    size_t H = g->d.H;
    if (n == 0) {
        memset(h, 0, H * sizeof *h);
        return;
    }
    size_t L = n < maxlen ? n : maxlen;
    memcpy(ws->xin, seq + n - L, L * sizeof *seq);
    ws->t = L;
    ws->b = 1;
    gru_run(g, ws);
    memcpy(h, ws->hs + L * H, H * sizeof *h);
}

/* scores[0..I) = Q h + bo */
static void gru_scores(const Gru4rec *g, const float *h, float *scores)
{
    memcpy(scores, g->w.bo, g->d.I * sizeof *scores);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)g->d.I, (int)g->d.H, 1.0f, g->w.Q,
                (int)g->d.H, h, 1, 1.0f, scores, 1);
}

/* ---- fitting -------------------------------------------------------------------------------- */

typedef struct GruWindow {
    uint32_t u;
    uint32_t len;       /* inputs; the window holds len + 1 items */
    size_t at;          /* its first item in RsSeqs.items */
} GruWindow;

typedef struct GruEpoch {
    Gru4rec *g;
    GruWs *ws;              /* (nparts) */
    const RsSeqs *seqs;
    const GruWindow *win;   /* (nwin) in this epoch's order */
    size_t nwin, batch, nparts, S, nin;
    int loss;
    float lambda, dropout, inbatch;
    uint64_t seed;
    int epoch;
    NnAdam opt;
    atomic_long *step;
    double *lsum;           /* (nparts) loss sums over positions */
    size_t *lcnt;           /* (nparts) positions */
    atomic_int *cancel;
} GruEpoch;

/* The batch's shared negatives: a share `inbatch` from the targets of the
 * batch's positions, the rest uniform over the items. */
static void gru_draw_negatives(GruWs *ws, size_t S, float inbatch, size_t I, RsRng *rng)
{
    size_t from_batch = ws->n ? (size_t)lrintf(inbatch * (float)S) : 0;
    for (size_t s = 0; s < S; s++)
        ws->neg[s] = s < from_batch ? ws->tgt[rng_below(rng, ws->n)]
                                    : (uint32_t)rng_below(rng, I);
}

static void gru_epoch_part(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    GruEpoch *ep = ctx;
    Gru4rec *g = ep->g;
    size_t nb = (ep->nwin + ep->batch - 1) / ep->batch, dn = g->blk.n - g->dense_at;
    const uint32_t *w[GRU4REC_MAX_BATCH];
    size_t len[GRU4REC_MAX_BATCH];
    for (size_t c = begin; c < end; c++) {
        GruWs *ws = &ep->ws[c];
        RsRng rng;
        rng_seed(&rng, rng_stream(ep->seed, (uint64_t)ep->epoch, c + 1));
        double loss = 0;
        size_t cnt = 0;
        for (size_t bi = c, it = 0; bi < nb; bi += ep->nparts, it++) {
            if ((it & 7) == 0 && ep->cancel && atomic_load(ep->cancel))
                break;
            size_t from = bi * ep->batch, B = ep->nwin - from;
            B = B < ep->batch ? B : ep->batch;
            for (size_t k = 0; k < B; k++) {
                w[k] = ep->seqs->items + ep->win[from + k].at;
                len[k] = ep->win[from + k].len;
            }
            gru_load(ws, w, len, B);
            gru_draw_negatives(ws, ep->S, ep->inbatch, g->d.I, &rng);
            loss += gru_batch(g, ws, ep->S, ep->loss, ep->lambda, ep->dropout, &rng, 1) *
                    (double)ws->n;
            cnt += ws->n;
            long t = atomic_fetch_add(ep->step, 1) + 1;
            NnBlock *bk = &g->blk;
            size_t da = g->dense_at, qo = (size_t)(g->w.Q - g->blk.w),
                   bo = (size_t)(g->w.bo - g->blk.w);
            nn_adam_step(bk->w + da, ws->grad, bk->m + da, bk->v + da, dn, &ep->opt, t);
            nn_adam_sparse(bk->w, bk->m, bk->v, &ws->sE, &ep->opt, t);
            nn_adam_sparse(bk->w + qo, bk->m + qo, bk->v + qo, &ws->sQ, &ep->opt, t);
            nn_adam_sparse(bk->w + bo, bk->m + bo, bk->v + bo, &ws->sb, &ep->opt, t);
        }
        ep->lsum[c] = loss;
        ep->lcnt[c] = cnt;
    }
}

/* HR@10 on the validation matrix (see the file comment); NAN when none. */
static double gru_valid_hr(const Gru4rec *g, const RsMatrix *t, const RsSeqs *seqs,
                           const RsMatrix *v, uint64_t seed, size_t maxlen, GruWs *ws)
{
    size_t nusers = 0, H = g->d.H;
    for (size_t u = 0; u < v->U && u < t->U; u++)
        nusers += rs_user_count(v, (uint32_t)u) > 0;
    size_t stride = nusers > GRU4REC_VALID_USERS
                        ? (nusers + GRU4REC_VALID_USERS - 1) / GRU4REC_VALID_USERS
                        : 1;
    size_t hits = 0, pairs = 0, seen = 0;
    uint32_t cand[GRU4REC_VALID_NEG + 1];
    float *h = malloc(H * sizeof *h);
    if (!h)
        return NAN;
    for (size_t u = 0; u < v->U && u < t->U; u++) {
        if (rs_user_count(v, (uint32_t)u) == 0 || seen++ % stride)
            continue;
        size_t busy = rs_user_count(t, (uint32_t)u) + rs_user_count(v, (uint32_t)u);
        if (busy + GRU4REC_VALID_NEG > t->I)
            continue;
        gru_final_state(g, ws, rs_seq(seqs, (uint32_t)u), rs_seq_len(seqs, (uint32_t)u),
                        maxlen, h);
        RsRng rng;
        rng_seed(&rng, rng_stream(seed, 0xFFFF, u));
        for (size_t k = v->u_ptr[u]; k < v->u_ptr[u + 1]; k++) {
            uint32_t item = v->u_items[k];
            if (rs_matrix_has(t, (uint32_t)u, item))
                continue;
            cand[0] = item;
            eval_draw_negatives(t, v, (uint32_t)u, GRU4REC_VALID_NEG, &rng, cand + 1);
            float s0 = 0;
            size_t above = 0;
            for (size_t s = 0; s <= GRU4REC_VALID_NEG; s++) {
                float sc = cblas_sdot((int)H, h, 1, g->w.Q + (size_t)cand[s] * H, 1) +
                           g->w.bo[cand[s]];
                if (s == 0)
                    s0 = sc;
                else
                    above += sc > s0 || (sc == s0 && cand[s] < item);
            }
            hits += above < 10;
            pairs++;
        }
    }
    free(h);
    return pairs ? (double)hits / (double)pairs : NAN;
}

static void gru_init_params(Gru4rec *g, uint64_t seed, float std)
{
    RsRng rng;
    rng_seed(&rng, seed);
    const GruDims *d = &g->d;
    if (!d->tied)
        nn_init_normal(g->w.E, d->I * d->D, std, &rng);
    nn_init_normal(g->w.Q, d->I * d->H, std, &rng);
    nn_init_glorot(g->w.Wx, 3 * d->H, d->D, &rng);
    nn_init_glorot(g->w.Wh, 3 * d->H, d->H, &rng);
}

/* The windows of every user's sequence (see the file comment) into a
 * malloc'd *out; returns their count, or (size_t)-1 out of memory. */
static size_t gru_windows(const RsSeqs *s, size_t maxlen, GruWindow **out)
{
    size_t n = 0;
    for (size_t u = 0; u < s->U; u++) {
        size_t L = rs_seq_len(s, (uint32_t)u);
        n += L >= 2 ? (L - 1 + maxlen - 1) / maxlen : 0;
    }
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out)
        return (size_t)-1;
    size_t k = 0;
    for (size_t u = 0; u < s->U; u++) {
        size_t L = rs_seq_len(s, (uint32_t)u);
        if (L < 2)
            continue;
        for (size_t end = L - 1; end > 0;) { /* inputs [begin, end), from the end */
            size_t begin = end > maxlen ? end - maxlen : 0;
            (*out)[k++] = (GruWindow){(uint32_t)u, (uint32_t)(end - begin), s->off[u] + begin};
            end = begin;
        }
    }
    return n;
}

static int gru4rec_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *t = ctx->train;
    size_t H = (size_t)model_param(m, "hidden"), D = (size_t)model_param(m, "embed"),
           maxlen = (size_t)model_param(m, "maxlen"), batch = (size_t)model_param(m, "batch"),
           S = (size_t)model_param(m, "negatives");
    int epochs = (int)model_param(m, "epochs"), patience = (int)model_param(m, "patience");
    if (t->U != m->U || t->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "gru4rec: training matrix is %zux%zu, model %zux%zu",
                          t->U, t->I, m->U, m->I);
    if (t->NNZ == 0)
        return rs_err_set(err, RS_EUSAGE, "gru4rec: the training data is empty");
    Gru4rec *g = NULL;
    RsSeqs *seqs = NULL;
    GruWindow *win = NULL;
    GruWs *ws = NULL;
    double *lsum = NULL;
    size_t *lcnt = NULL, nready = 0;
    NnBest best = {0};
    int blas_old = 0;
    int rc = gru_new(m->I, D, H, (int)model_param(m, "tied"), &g, err);
    if (rc)
        return rc;
    if ((rc = rs_seqs_new(t, &seqs, err)))
        goto done;
    size_t nwin = gru_windows(seqs, maxlen, &win);
    size_t nparts = ctx->nthreads > 1 ? (size_t)ctx->nthreads : 1;
    ws = calloc(nparts, sizeof *ws);
    lsum = calloc(nparts, sizeof *lsum);
    lcnt = calloc(nparts, sizeof *lcnt);
    if (nwin == (size_t)-1 || !ws || !lsum || !lcnt) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for gru4rec");
        goto done;
    }
    if (nwin == 0) {
        rc = rs_err_set(err, RS_EUSAGE, "gru4rec: no user has two training interactions");
        goto done;
    }
    for (; nready < nparts; nready++)
        if ((rc = gru_ws_init(&ws[nready], g, maxlen, batch, S, err)))
            goto done;
    gru_init_params(g, m->seed, (float)model_param(m, "init_std"));
    atomic_long step = 0;
    GruEpoch ep = {.g = g, .ws = ws, .seqs = seqs, .win = win, .nwin = nwin, .batch = batch,
                   .nparts = nparts, .S = S, .loss = (int)model_param(m, "loss"),
                   .lambda = (float)model_param(m, "bpreg"),
                   .dropout = (float)model_param(m, "dropout"),
                   .inbatch = (float)model_param(m, "inbatch"), .seed = m->seed, .step = &step,
                   .lsum = lsum, .lcnt = lcnt, .cancel = ctx->cancel};
    nn_adam_default(&ep.opt);
    ep.opt.lr = (float)model_param(m, "lr");
    ep.opt.weight_decay = (float)model_param(m, "weight_decay");
    blas_old = rs_blas_threads(1); /* the batches' sgemm calls are small */
    for (int e = 1; e <= epochs; e++) {
        RsRng rng;
        rng_seed(&rng, rng_stream(m->seed, (uint64_t)e, 0));
        rng_shuffle(&rng, win, nwin, sizeof *win);
        ep.epoch = e;
        rs_parallel_for(nparts, (int)nparts, 1, gru_epoch_part, &ep);
        double loss = 0;
        size_t cnt = 0;
        for (size_t c = 0; c < nparts; c++) {
            loss += lsum[c];
            cnt += lcnt[c];
        }
        FitProgress pr = {.phase = "epoch", .epoch = e, .epochs = epochs,
                          .fraction = (double)e / epochs,
                          .loss = cnt ? loss / (double)cnt : NAN, .valid = NAN,
                          .valid_name = ctx->valid ? "hr@10" : NULL};
        if (ctx->valid && isfinite(pr.loss))
            pr.valid = gru_valid_hr(g, t, seqs, ctx->valid, m->seed, maxlen, &ws[0]);
        if ((rc = model_fit_tick(ctx, &pr, err)))
            goto done;
        if (!isfinite(pr.loss)) {
            rc = rs_err_set(err, RS_EUSAGE, "gru4rec diverged at epoch %d: lower lr", e);
            goto done;
        }
        if (ctx->valid && patience > 0) {
            int stop = nn_best_offer(&best, &g->blk, e, pr.valid, patience, err);
            if (stop < 0) {
                rc = stop;
                goto done;
            }
            if (stop)
                break;
        }
    }
    nn_best_finish(&best, &g->blk);
    m->cls->free_state(m);
    m->state = g;
    g = NULL;
done:
    if (blas_old > 0)
        rs_blas_threads(blas_old);
    for (size_t c = 0; c < nready; c++)
        gru_ws_done(&ws[c]);
    free(ws);
    free(lsum);
    free(lcnt);
    nn_best_done(&best);
    free(win);
    rs_seqs_free(seqs);
    gru_free(g);
    return rc;
}

/* ---- scoring, fold-in -------------------------------------------------------------------- */

static const Gru4rec *gru_of(const RsModel *m, RsErr *err)
{
    if (!m->state)
        rs_err_set(err, RS_EUSAGE, "gru4rec: the model is not trained");
    return m->state;
}

/* A scoring context: a one-sequence workspace and a state vector. */
typedef struct GruScorer {
    GruWs ws;
    float *h;   /* (H) */
    size_t maxlen;
} GruScorer;

static int gru_scorer_init(GruScorer *sc, const RsModel *m, const Gru4rec *g, RsErr *err)
{
    sc->maxlen = (size_t)model_param(m, "maxlen");
    sc->h = malloc(g->d.H * sizeof *sc->h);
    if (!sc->h)
        return rs_err_set(err, RS_ENOMEM, "out of memory for gru4rec");
    int rc = gru_ws_init(&sc->ws, g, sc->maxlen, 1, 0, err);
    if (rc)
        free(sc->h);
    return rc;
}

static void gru_scorer_done(GruScorer *sc)
{
    gru_ws_done(&sc->ws);
    free(sc->h);
}

/* scores[0..I) after the sequence seq[0..n) */
static int gru_score_seq(const RsModel *m, const Gru4rec *g, const uint32_t *seq, size_t n,
                         float *scores, RsErr *err)
{
    for (size_t k = 0; k < n; k++)
        if (seq[k] >= g->d.I)
            return rs_err_set(err, RS_EUSAGE, "profile item %u out of range (%zu items)",
                              seq[k], g->d.I);
    GruScorer sc;
    int rc = gru_scorer_init(&sc, m, g, err);
    if (rc)
        return rc;
    gru_final_state(g, &sc.ws, seq, n, sc.maxlen, sc.h);
    gru_scores(g, sc.h, scores);
    gru_scorer_done(&sc);
    return RS_OK;
}

static int gru4rec_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                         RsErr *err)
{
    const Gru4rec *g = gru_of(m, err);
    if (!g)
        return RS_EUSAGE;
    if (u >= train->U)
        return rs_err_set(err, RS_ENOTFOUND, "user %u out of range (%zu users)", u, train->U);
    uint32_t *seq;
    size_t n = user_seq(train, u, &seq);
    if (n == (size_t)-1)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = gru_score_seq(m, g, seq, n, scores, err);
    free(seq);
    return rc;
}

static int gru4rec_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                                 float *scores, RsErr *err)
{
    (void)train;
    const Gru4rec *g = gru_of(m, err);
    if (!g)
        return RS_EUSAGE;
    return gru_score_seq(m, g, p->items, p->n, scores, err);
}

/* ---- explanations, similar items ---------------------------------------------------------- */

/* The score of item after seq[0..n) without position skip (n when none). */
static float gru_item_score(const Gru4rec *g, GruScorer *sc, const uint32_t *seq, size_t n,
                            size_t skip, uint32_t *tmp, uint32_t item)
{
    size_t L = 0;
    for (size_t k = 0; k < n; k++)
        if (k != skip)
            tmp[L++] = seq[k];
    gru_final_state(g, &sc->ws, tmp, L, sc->maxlen, sc->h);
    return cblas_sdot((int)g->d.H, sc->h, 1, g->w.Q + (size_t)item * g->d.H, 1) +
           g->w.bo[item];
}

static int gru4rec_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                           long user, const RsProfile *p, uint32_t item, RsExplanation *e,
                           RsErr *err)
{
    (void)cat;
    const Gru4rec *g = gru_of(m, err);
    if (!g)
        return RS_EUSAGE;
    if (item >= g->d.I)
        return rs_err_set(err, RS_ENOTFOUND, "item %u out of range (%zu items)", item, g->d.I);
    uint32_t *seq = NULL, *tmp = NULL;
    size_t n;
    if (user >= 0) {
        if ((size_t)user >= train->U)
            return rs_err_set(err, RS_ENOTFOUND, "user %ld out of range", user);
        n = user_seq(train, (uint32_t)user, &seq);
        if (n == (size_t)-1)
            return rs_err_set(err, RS_ENOMEM, "out of memory");
    } else {
        n = p ? p->n : 0;
        seq = malloc((n ? n : 1) * sizeof *seq);
        if (!seq)
            return rs_err_set(err, RS_ENOMEM, "out of memory");
        for (size_t k = 0; k < n; k++) {
            if (p->items[k] >= g->d.I) {
                free(seq);
                return rs_err_set(err, RS_EUSAGE, "profile item %u out of range (%zu items)",
                                  p->items[k], g->d.I);
            }
            seq[k] = p->items[k];
        }
    }
    GruScorer sc;
    int rc = gru_scorer_init(&sc, m, g, err);
    if (rc) {
        free(seq);
        return rc;
    }
    tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    float s0 = gru_item_score(g, &sc, seq, n, n, tmp, item);
    for (size_t k = n, c = 0; k-- > 0 && c < GRU4REC_EXPLAIN_ITEMS; c++) {
        float s = gru_item_score(g, &sc, seq, n, k, tmp, item);
        if ((rc = rs_explanation_add(e, EXPL_ITEM, seq[k], "", s0 - s, NAN))) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory for the explanation");
            goto done;
        }
    }
    e->score = s0;
    e->additive = 0;
    e->bias = 0;
    snprintf(e->method, sizeof e->method,
             "score drop when each of the %d most recent history items is removed and the "
             "GRU re-run (GRU4Rec)",
             GRU4REC_EXPLAIN_ITEMS);
done:
    gru_scorer_done(&sc);
    free(seq);
    free(tmp);
    return rc;
}

static int gru4rec_similar(const RsModel *m, const RsMatrix *train, uint32_t item,
                           float *scores, RsErr *err)
{
    (void)train;
    const Gru4rec *g = gru_of(m, err);
    if (!g)
        return RS_EUSAGE;
    return nn_similar_items(g->w.Q, g->d.I, g->d.H, item, scores, err);
}

/* ---- save / load ------------------------------------------------------------------------------ */

/* Payload: I (u64), embed D, hidden H, tied (u32), the parameter block. */
static int gru4rec_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    const Gru4rec *g = gru_of(m, err);
    if (!g)
        return RS_EUSAGE;
    blob_put_u64(b, g->d.I);
    blob_put_u32(b, (uint32_t)g->d.D);
    blob_put_u32(b, (uint32_t)g->d.H);
    blob_put_u32(b, (uint32_t)g->d.tied);
    nn_block_save(&g->blk, b);
    if (b->oom)
        return rs_err_set(err, RS_ENOMEM, "out of memory saving gru4rec");
    return RS_OK;
}

static int gru4rec_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    uint64_t I;
    uint32_t D, H, tied;
    if (blob_get_u64(r, &I) || blob_get_u32(r, &D) || blob_get_u32(r, &H) ||
        blob_get_u32(r, &tied))
        return rs_err_set(err, RS_EPARSE, "gru4rec: truncated header");
    if (I != m->I)
        return rs_err_set(err, RS_EPARSE, "gru4rec: %llu items, the dataset has %zu",
                          (unsigned long long)I, m->I);
    double want_tied = model_param(m, "tied"), want_D = want_tied ? model_param(m, "hidden")
                                                                  : model_param(m, "embed");
    if ((double)tied != want_tied || (double)D != want_D || (double)H != model_param(m, "hidden"))
        return rs_err_set(err, RS_EPARSE,
                          "gru4rec: blob has embed %u hidden %u tied %u, parameters say %g, %g "
                          "and %g",
                          D, H, tied, want_D, model_param(m, "hidden"), want_tied);
    Gru4rec *g;
    int rc = gru_new(m->I, D, H, (int)tied, &g, err);
    if (rc)
        return rc;
    if ((rc = nn_block_load(&g->blk, r, err))) {
        gru_free(g);
        return rc;
    }
    m->cls->free_state(m);
    m->state = g;
    return RS_OK;
}

static void gru4rec_free_state(RsModel *m)
{
    gru_free(m->state);
    m->state = NULL;
}

const ModelClass model_gru4rec = {
    .name = "gru4rec",
    .title = "GRU4Rec: next-item GRU over each user's history (Hidasi et al. 2016, 2018)",
    .params = gru4rec_params,
    .nparams = RS_ARRAY_LEN(gru4rec_params),
    .flags = MODEL_FOLDIN,
    .format_version = 1,
    .fit = gru4rec_fit,
    .score = gru4rec_score,
    .score_profile = gru4rec_score_profile,
    .predict = NULL,
    .explain = gru4rec_explain,
    .similar = gru4rec_similar,
    .save = gru4rec_save,
    .load = gru4rec_load,
    .free_state = gru4rec_free_state,
};
