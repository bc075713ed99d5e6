/*
 * sasrec.c - SASRec (class "sasrec"; sasrec.h).
 *
 * Model (Kang & McAuley 2018, section III): a user's history, the last
 * T = `maxlen` items in time order, right-aligned in T slots (padding on
 * the left), is embedded as
 *   x_t = M_{s_t} sqrt(C) + P_t                   (III-A; padding slots 0)
 * with M (I, C) the item embedding and P (T, C) learned positions, then
 * goes through `blocks` pre-LayerNorm transformer blocks (nn_attn.h:
 * causal self-attention with `heads` heads, point-wise feed-forward of C
 * ReLU units, residuals, dropout; III-B to III-D) and a final LayerNorm,
 * giving F_t (C) at each slot. The score of item i after slot t is
 *   r_{i,t} = F_t . M_i                           (III-E, shared embedding)
 * so a user's scores are the last slot's F_T against every item row of M.
 *
 * Training (III-F): each user's training sequence s_1..s_n (n >= 2) gives
 * one example per epoch: inputs s_{n-T}..s_{n-1} and targets
 * s_{n-T+1}..s_n at every slot, with one negative per slot drawn uniformly
 * from the items not in the user's row; the loss is the binary
 * cross-entropy of the targets' and negatives' logits, summed over both and
 * averaged over the non-padding slots of the mini-batch (`batch`
 * sequences). Adam (lr `lr`, betas 0.9 / 0.98 as the authors' code; AdamW
 * with weight_decay > 0) over the whole parameter block. Initialisation:
 * Glorot-uniform matrices and embeddings, zero biases, unit LayerNorm
 * gains.
 *
 * Threads: a mini-batch is cut into nthreads contiguous shards of
 * sequences, each with its own workspace and gradient buffer, run by
 * rs_parallel_for; the shards' gradients are then summed in shard order
 * and one Adam step taken. Negatives and dropout masks come from a stream
 * seeded by (model seed, epoch, user), so a fit is deterministic for a seed
 * and a thread count.
 *
 * Early stopping: with a validation matrix, after each epoch the fit
 * reports HR@10 of each validation item ranked against 99 items the user
 * never interacted with (the NCF / SASRec protocol; at most
 * SAS_VALID_USERS evenly spread users), keeps the best epoch's parameters
 * and stops after `patience` epochs without improvement.
 *
 * Scoring reads the user's training row from the matrix it is given and
 * orders it by timestamp (ties by item index, as seq.h does). Fold-in
 * (score_profile) takes a profile's items as a sequence in the order given,
 * the last one most recent: no optimisation is needed. Explanations: the
 * last block's attention weights at the last slot, averaged over heads,
 * are the shares (summing to 1) the history items have in the
 * representation F_T the item is scored against; an item occurring twice
 * adds its shares.
 */
#include "sasrec.h"

#include <cblas.h>
#undef I
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "nn.h"
#include "nn_attn.h"
#include "parallel.h"
#include "rng.h"
#include "seq.h"

#define SAS_MAX_BLOCKS 8
#define SAS_VALID_USERS 1000
#define SAS_VALID_NEG 99
#define SAS_PAD UINT32_MAX
#define SAS_ENCODE_CHUNK 32

typedef struct SasDims {
    size_t U, I, T, C, F, L, H;
    size_t BS;          /* floats of one transformer block */
} SasDims;

/* The parameter block: X(view, number of floats). */
#define SAS_TENSORS(X)                                                                      \
    X(M, d->I * d->C)         /* (I, C) item embeddings, input and output */                \
    X(P, d->T * d->C)         /* (T, C) positional embeddings */                            \
    X(blocks, d->L * d->BS)   /* L transformer blocks (NN_TBLOCK_PARAMS each) */            \
    X(lnw, d->C)              /* (C) final LayerNorm gain */                                \
    X(lnb, d->C)              /* (C) final LayerNorm bias */

typedef struct SasViews {
    SAS_TENSORS(NN_VIEW_FIELD)
    NnTBlockW b[SAS_MAX_BLOCKS];
} SasViews;

typedef struct Sasrec {
    SasDims d;
    NnBlock blk;
    SasViews w;         /* views into blk.w */
} Sasrec;

static void sas_bind(SasViews *v, float *base, const SasDims *d)
{
    float *at = base;
    SAS_TENSORS(NN_VIEW_BIND)
    for (size_t l = 0; l < d->L; l++)
        nn_tblock_bind(&v->b[l], v->blocks + l * d->BS, d->C, d->F);
}

static size_t sas_count(const SasDims *d) { return 0 SAS_TENSORS(NN_VIEW_COUNT); }

static void sas_free(Sasrec *s)
{
    if (!s)
        return;
    nn_block_done(&s->blk);
    free(s);
}

static int sas_new(size_t U, size_t I, size_t T, size_t C, size_t L, size_t H, Sasrec **out,
                   RsErr *err)
{
    *out = NULL;
    if (H == 0 || C % H)
        return rs_err_set(err, RS_EUSAGE, "sasrec: dim %zu is not a multiple of heads %zu", C, H);
    if (L == 0 || L > SAS_MAX_BLOCKS || T == 0 || T > 4096 || C == 0 || C > 4096 ||
        U > INT32_MAX || I == 0 || I > INT32_MAX || I > SIZE_MAX / sizeof(float) / 2 / C)
        return rs_err_set(err, RS_EUSAGE, "sasrec: model too large or empty (%zu items)", I);
    Sasrec *s = calloc(1, sizeof *s);
    if (!s)
        return rs_err_set(err, RS_ENOMEM, "out of memory for sasrec");
    s->d = (SasDims){.U = U, .I = I, .T = T, .C = C, .F = C, .L = L, .H = H};
    s->d.BS = nn_tblock_size(C, C);
    int rc = nn_block_init(&s->blk, sas_count(&s->d), err);
    if (rc) {
        free(s);
        return rc;
    }
    sas_bind(&s->w, s->blk.w, &s->d);
    *out = s;
    return RS_OK;
}

static void sas_init_params(Sasrec *s, uint64_t seed)
{
    RsRng rng;
    rng_seed(&rng, seed);
    const SasDims *d = &s->d;
    nn_init_glorot(s->w.M, d->I, d->C, &rng);
    nn_init_glorot(s->w.P, d->T, d->C, &rng);
    for (size_t l = 0; l < d->L; l++)
        nn_tblock_init(&s->w.b[l], d->C, d->F, &rng);
    for (size_t c = 0; c < d->C; c++) {
        s->w.lnw[c] = 1.0f;
        s->w.lnb[c] = 0.0f;
    }
}

/* ---- a workspace for N sequences: forward, loss, backward -------------------------------- */

typedef struct SasWs {
    size_t N;           /* capacity in sequences */
    size_t Tb;          /* slots in use (<= T): the batch's longest sequence; slot t
                         * is position T - Tb + t, rows are laid out (N, Tb) */
    float *mem;
    float *x;           /* (L + 1, N*T, C) embeddings after dropout, then each block's output */
    float *m0;          /* (N*T, C) embedding dropout mask */
    float *f;           /* (N*T, C) final LayerNorm output F */
    float *fmean, *frstd; /* (N*T) */
    float *df, *dx, *dx2; /* (N*T, C) */
    float *scratch;     /* nn_tblock_scratch_size */
    NnTBlockActs acts[SAS_MAX_BLOCKS];
    uint32_t *in, *pos, *neg; /* (N*T) input item (SAS_PAD), target, negative */
    uint8_t *valid;     /* (N*T) */
    RsRng *rng;         /* (N) each sequence's stream */
    float *grad;        /* (blk.n) gradients (training workspaces only) */
    SasViews gv;        /* views into grad */
} SasWs;

static void sas_ws_done(SasWs *ws)
{
    free(ws->mem);
    free(ws->in);
    free(ws->pos);
    free(ws->neg);
    free(ws->valid);
    free(ws->rng);
    free(ws->grad);
    memset(ws, 0, sizeof *ws);
}

static int sas_ws_init(SasWs *ws, const Sasrec *s, size_t N, int training, RsErr *err)
{
    memset(ws, 0, sizeof *ws);
    const SasDims *d = &s->d;
    size_t R = N * d->T, C = d->C, RC = R * C;
    size_t acts = nn_tblock_acts_size(N, d->T, C, d->F, d->H);
    size_t scr = training ? nn_tblock_scratch_size(N, d->T, C, d->F) : 0;
    size_t total = (d->L + 1) * RC + RC + RC + 2 * R + (training ? 3 * RC : 0) + scr +
                   d->L * acts;
    ws->N = N;
    ws->mem = calloc(total, sizeof(float));
    ws->in = calloc(R, sizeof *ws->in);
    ws->pos = calloc(R, sizeof *ws->pos);
    ws->neg = calloc(R, sizeof *ws->neg);
    ws->valid = calloc(R, 1);
    ws->rng = calloc(N, sizeof *ws->rng);
    if (training)
        ws->grad = calloc(s->blk.n, sizeof(float));
    if (!ws->mem || !ws->in || !ws->pos || !ws->neg || !ws->valid || !ws->rng ||
        (training && !ws->grad)) {
        sas_ws_done(ws);
        return rs_err_set(err, RS_ENOMEM, "out of memory for a sasrec workspace (%zu floats)",
                          total);
    }
    float *at = ws->mem;
    ws->x = at, at += (d->L + 1) * RC;
    ws->m0 = at, at += RC;
    ws->f = at, at += RC;
    ws->fmean = at, at += R;
    ws->frstd = at, at += R;
    if (training) {
        ws->df = at, at += RC;
        ws->dx = at, at += RC;
        ws->dx2 = at, at += RC;
        ws->scratch = at, at += scr;
        sas_bind(&ws->gv, ws->grad, d);
    }
    for (size_t l = 0; l < d->L; l++, at += acts)
        nn_tblock_acts_bind(&ws->acts[l], at, N, d->T, C, d->F, d->H);
    return RS_OK;
}

/* F (ws->f) of the N sequences of ws->Tb slots in ws->in; dropout p with
 * the streams ws->rng when p > 0. Leading padding slots common to the whole
 * batch are left out (ws->Tb): they change no valid slot's output. */
static void sas_forward(const Sasrec *s, SasWs *ws, size_t N, float p)
{
    const SasDims *d = &s->d;
    size_t T = ws->Tb, C = d->C, R = N * T, P0 = d->T - T;
    float sc = sqrtf((float)C);
    for (size_t r = 0; r < R; r++) { /* x_0 = M_s sqrt(C) + P_t, 0 on padding */
        float *x = ws->x + r * C;
        ws->valid[r] = ws->in[r] != SAS_PAD;
        if (!ws->valid[r]) {
            memset(x, 0, C * sizeof *x);
            continue;
        }
        const float *e = s->w.M + (size_t)ws->in[r] * C, *pp = s->w.P + (P0 + r % T) * C;
        for (size_t c = 0; c < C; c++)
            x[c] = e[c] * sc + pp[c];
    }
    for (size_t n = 0; n < N; n++)
        nn_dropout_forward(ws->x + n * T * C, ws->m0 + n * T * C, ws->x + n * T * C, p, T * C,
                           p > 0 ? &ws->rng[n] : NULL);
    for (size_t l = 0; l < d->L; l++)
        nn_tblock_forward(ws->x + (l + 1) * R * C, &ws->acts[l], ws->x + l * R * C, ws->valid,
                          &s->w.b[l], p, p > 0 ? ws->rng : NULL, N, T, C, d->F, d->H);
    nn_layernorm_forward(ws->f, ws->fmean, ws->frstd, ws->x + d->L * R * C, s->w.lnw, s->w.lnb,
                         R, C);
}

static double softplus(double z) { return (z > 0 ? z : 0) + log1p(exp(-fabs(z))); }

/* The BCE of the targets and negatives of the forward's valid slots,
 * scaled by `scale` (1 / the batch's valid slots), and its gradient into
 * ws->gv (accumulated: zero it first). Returns the unscaled sum. */
static double sas_loss_backward(const Sasrec *s, SasWs *ws, size_t N, float scale)
{
    const SasDims *d = &s->d;
    size_t T = ws->Tb, C = d->C, R = N * T, P0 = d->T - T;
    const float *M = s->w.M;
    float *gM = ws->gv.M;
    double loss = 0;
    memset(ws->df, 0, R * C * sizeof *ws->df);
    for (size_t r = 0; r < R; r++) {
        if (!ws->valid[r])
            continue;
        const float *f = ws->f + r * C, *ep = M + (size_t)ws->pos[r] * C,
                    *en = M + (size_t)ws->neg[r] * C;
        float zp = 0, zn = 0;
        for (size_t c = 0; c < C; c++) {
            zp += f[c] * ep[c];
            zn += f[c] * en[c];
        }
        loss += softplus(-zp) + softplus(zn);
        /* d/dz softplus(-z) = sigma(z) - 1,  d/dz softplus(z) = sigma(z) */
        float gp = (float)(1.0 / (1.0 + exp(-(double)zp)) - 1.0) * scale;
        float gn = (float)(1.0 / (1.0 + exp(-(double)zn))) * scale;
        float *dfr = ws->df + r * C, *gp_row = gM + (size_t)ws->pos[r] * C,
              *gn_row = gM + (size_t)ws->neg[r] * C;
        for (size_t c = 0; c < C; c++) {
            dfr[c] = gp * ep[c] + gn * en[c];
            gp_row[c] += gp * f[c];
            gn_row[c] += gn * f[c];
        }
    }
    /* final LayerNorm, the blocks top-down, the embeddings */
    float *dcur = ws->dx, *dprev = ws->dx2;
    memset(dcur, 0, R * C * sizeof *dcur);
    nn_layernorm_backward(dcur, ws->gv.lnw, ws->gv.lnb, ws->df, ws->x + d->L * R * C, s->w.lnw,
                          ws->fmean, ws->frstd, R, C);
    for (size_t l = d->L; l-- > 0;) {
        memset(dprev, 0, R * C * sizeof *dprev);
        nn_tblock_backward(dprev, &ws->gv.b[l], ws->scratch, dcur, ws->x + l * R * C,
                           &ws->acts[l], &s->w.b[l], N, T, C, d->F, d->H);
        float *tmp = dcur;
        dcur = dprev;
        dprev = tmp;
    }
    float sc = sqrtf((float)C);
    for (size_t r = 0; r < R; r++) {
        if (!ws->valid[r])
            continue;
        const float *dx = dcur + r * C, *mask = ws->m0 + r * C;
        float *gm = gM + (size_t)ws->in[r] * C, *gpos = ws->gv.P + (P0 + r % T) * C;
        for (size_t c = 0; c < C; c++) {
            float g = dx[c] * mask[c];
            gm[c] += g * sc;
            gpos[c] += g;
        }
    }
    return loss;
}

/* ---- sequences ------------------------------------------------------------------------------- */

/* Fills slots [n*T, n*T + T) of ws->in (T = ws->Tb) with the last T of
 * items[0..len), right-aligned. */
static void sas_put_seq(SasWs *ws, size_t n, const uint32_t *items, size_t len)
{
    size_t T = ws->Tb;
    uint32_t *in = ws->in + n * T;
    size_t k = len < T ? len : T;
    for (size_t t = 0; t < T - k; t++)
        in[t] = SAS_PAD;
    if (k)
        memcpy(in + (T - k), items + (len - k), k * sizeof *in);
}

typedef struct {
    int64_t ts;
    uint32_t item;
} SasEntry;

static int sas_entry_cmp(const void *a, const void *b)
{
    const SasEntry *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* The last at most T items of user u's row of t in time order (seq.h's
 * order) into out; returns how many. */
static size_t sas_user_seq(const RsMatrix *t, uint32_t u, size_t T, uint32_t *out, RsErr *err,
                           int *rc)
{
    size_t a = t->u_ptr[u], n = t->u_ptr[u + 1] - a;
    *rc = RS_OK;
    SasEntry *e = malloc((n ? n : 1) * sizeof *e);
    if (!e) {
        *rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        return 0;
    }
    for (size_t k = 0; k < n; k++)
        e[k] = (SasEntry){t->u_ts[a + k], t->u_items[a + k]};
    qsort(e, n, sizeof *e, sas_entry_cmp);
    size_t k0 = n > T ? n - T : 0;
    for (size_t k = k0; k < n; k++)
        out[k - k0] = e[k].item;
    free(e);
    return n - k0;
}

/* ---- exported for the tests ------------------------------------------------------------------ */

int sasrec_debug_grad(const RsModel *m, const uint32_t *in, const uint32_t *pos,
                      const uint32_t *neg, size_t N, float *grad, double *loss)
{
    const Sasrec *s = m->state;
    SasWs ws;
    if (!s || sas_ws_init(&ws, s, N, 1, NULL))
        return -1;
    size_t R = N * s->d.T, nv = 0;
    ws.Tb = s->d.T;
    memcpy(ws.in, in, R * sizeof *in);
    memcpy(ws.pos, pos, R * sizeof *pos);
    memcpy(ws.neg, neg, R * sizeof *neg);
    for (size_t r = 0; r < R; r++)
        nv += in[r] != SAS_PAD;
    sas_forward(s, &ws, N, 0.0f);
    *loss = sas_loss_backward(s, &ws, N, nv ? 1.0f / (float)nv : 0.0f) / (double)(nv ? nv : 1);
    if (grad)
        memcpy(grad, ws.grad, s->blk.n * sizeof *grad);
    sas_ws_done(&ws);
    return 0;
}

float *sasrec_debug_params(const RsModel *m, size_t *n)
{
    Sasrec *s = m->state;
    *n = s ? s->blk.n : 0;
    return s ? s->blk.w : NULL;
}

int sasrec_debug_attention(const RsModel *m, const uint32_t *items, size_t n, float *att)
{
    const Sasrec *s = m->state;
    SasWs ws;
    if (!s)
        return -1;
    for (size_t k = 0; k < n; k++)
        if (items[k] >= s->d.I)
            return -1;
    if (sas_ws_init(&ws, s, 1, 0, NULL))
        return -1;
    size_t T = s->d.T, H = s->d.H;
    ws.Tb = T; /* every slot, padding included */
    sas_put_seq(&ws, 0, items, n);
    sas_forward(s, &ws, 1, 0.0f);
    memcpy(att, ws.acts[s->d.L - 1].att, H * T * T * sizeof *att);
    sas_ws_done(&ws);
    return 0;
}

/* ---- parameters --------------------------------------------------------------------------- */

static const ParamSpec sas_params[] = {
    {"maxlen", PARAM_INT, 50, 1, 4096, NULL,
     "the last N items of a history the model reads (the paper: 200 for ML-1M)"},
    {"dim", PARAM_INT, 50, 1, 4096, NULL, "embedding and hidden size (a multiple of heads)"},
    {"blocks", PARAM_INT, 2, 1, SAS_MAX_BLOCKS, NULL, "self-attention blocks"},
    {"heads", PARAM_INT, 1, 1, 64, NULL, "attention heads per block"},
    {"dropout", PARAM_FLOAT, 0.2, 0, 0.9, NULL, "dropout rate"},
    {"epochs", PARAM_INT, 200, 1, 100000, NULL, "passes over the users' sequences"},
    {"batch", PARAM_INT, 128, 1, 65536, NULL, "mini-batch size in sequences"},
    {"lr", PARAM_FLOAT, 0.001, 1e-6, 10, NULL, "Adam learning rate"},
    {"weight_decay", PARAM_FLOAT, 0, 0, 10, NULL, "AdamW decoupled weight decay (0: Adam)"},
    {"patience", PARAM_INT, 10, 0, 100000, NULL,
     "with a validation set: stop after this many epochs without a better HR@10 (0 never)"},
};

/* ---- fitting -------------------------------------------------------------------------------- */

typedef struct SasEpoch {
    const Sasrec *s;
    const RsMatrix *t;
    const RsSeqs *seqs;
    SasWs *ws;              /* (nparts) */
    const uint32_t *users;  /* this batch's users */
    size_t nusers, nparts, per;
    float p, scale;
    uint64_t seed;
    int epoch;
    double *loss;           /* (nparts) */
} SasEpoch;

/* Shard c of the batch: sequences, negatives, forward, loss, backward. */
static void sas_shard(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    SasEpoch *ep = ctx;
    const Sasrec *s = ep->s;
    size_t I = s->d.I;
    for (size_t c = begin; c < end; c++) {
        size_t T = s->d.T;
        SasWs *ws = &ep->ws[c];
        size_t from = c * ep->per, to = from + ep->per < ep->nusers ? from + ep->per : ep->nusers;
        ep->loss[c] = 0;
        memset(ws->grad, 0, s->blk.n * sizeof *ws->grad);
        if (from >= to)
            continue;
        size_t N = to - from;
        ws->Tb = 1;
        for (size_t n = 0; n < N; n++) {
            size_t k = rs_seq_len(ep->seqs, ep->users[from + n]) - 1;
            k = k < T ? k : T;
            ws->Tb = k > ws->Tb ? k : ws->Tb;
        }
        T = ws->Tb;
        for (size_t n = 0; n < N; n++) {
            uint32_t u = ep->users[from + n];
            const uint32_t *sq = rs_seq(ep->seqs, u);
            size_t len = rs_seq_len(ep->seqs, u);
            /* inputs s_1..s_{len-1}, targets s_2..s_len, right-aligned */
            sas_put_seq(ws, n, sq, len - 1);
            size_t k = len - 1 < T ? len - 1 : T;
            RsRng *rng = &ws->rng[n];
            rng_seed(rng, rng_stream(ep->seed, (uint64_t)ep->epoch, u));
            for (size_t t = 0; t < T; t++) {
                size_t r = n * T + t;
                if (t < T - k) {
                    ws->pos[r] = ws->neg[r] = 0;
                    continue;
                }
                ws->pos[r] = sq[len + t - T];
                uint32_t j;
                do
                    j = (uint32_t)rng_below(rng, I);
                while (rs_matrix_has(ep->t, u, j));
                ws->neg[r] = j;
            }
        }
        sas_forward(s, ws, N, ep->p);
        ep->loss[c] = sas_loss_backward(s, ws, N, ep->scale);
    }
}

/* F_T (out, (N, C)) of N item sequences seqs[n] of lens[n] items, without
 * dropout, through ws (capacity >= N). */
static void sas_encode(const Sasrec *s, SasWs *ws, const uint32_t *const *seqs,
                       const size_t *lens, size_t N, float *out)
{
    size_t T = 1, C = s->d.C;
    for (size_t n = 0; n < N; n++)
        T = lens[n] > T ? lens[n] : T;
    ws->Tb = T = T < s->d.T ? T : s->d.T;
    for (size_t n = 0; n < N; n++)
        sas_put_seq(ws, n, seqs[n], lens[n]);
    sas_forward(s, ws, N, 0.0f);
    for (size_t n = 0; n < N; n++)
        memcpy(out + n * C, ws->f + (n * T + T - 1) * C, C * sizeof *out);
}

typedef struct SasValid {
    const Sasrec *s;
    const RsMatrix *t, *v;
    const RsSeqs *seqs;
    SasWs *ws;              /* (nparts) inference workspaces of SAS_ENCODE_CHUNK */
    const uint32_t *users;
    size_t nusers;
    uint64_t seed;
    size_t *hits, *pairs;   /* (nparts) */
} SasValid;

static void sas_valid_part(void *ctx, size_t begin, size_t end, int tid)
{
    SasValid *vc = ctx;
    const Sasrec *s = vc->s;
    size_t C = s->d.C, T = s->d.T;
    SasWs *ws = &vc->ws[tid];
    float F[SAS_ENCODE_CHUNK * 64], *f = C <= 64 ? F : malloc(SAS_ENCODE_CHUNK * C * sizeof *f);
    if (!f)
        return;
    const uint32_t *sq[SAS_ENCODE_CHUNK];
    size_t lens[SAS_ENCODE_CHUNK];
    for (size_t b = begin; b < end; b += SAS_ENCODE_CHUNK) {
        size_t N = end - b < SAS_ENCODE_CHUNK ? end - b : SAS_ENCODE_CHUNK;
        for (size_t n = 0; n < N; n++) {
            uint32_t u = vc->users[b + n];
            size_t len = rs_seq_len(vc->seqs, u);
            sq[n] = rs_seq(vc->seqs, u) + (len > T ? len - T : 0);
            lens[n] = len > T ? T : len;
        }
        sas_encode(s, ws, sq, lens, N, f);
        for (size_t n = 0; n < N; n++) {
            uint32_t u = vc->users[b + n];
            const float *fu = f + n * C;
            RsRng rng;
            rng_seed(&rng, rng_stream(vc->seed, 0xFFFF, u));
            for (size_t k = vc->v->u_ptr[u]; k < vc->v->u_ptr[u + 1]; k++) {
                uint32_t item = vc->v->u_items[k];
                if (rs_matrix_has(vc->t, u, item))
                    continue;
                float s0 = (float)cblas_sdot((int)C, fu, 1, s->w.M + (size_t)item * C, 1);
                size_t above = 0;
                uint32_t cand[SAS_VALID_NEG];
                eval_draw_negatives(vc->t, vc->v, u, SAS_VALID_NEG, &rng, cand);
                for (size_t q = 0; q < SAS_VALID_NEG; q++) {
                    uint32_t j = cand[q];
                    float sj = (float)cblas_sdot((int)C, fu, 1, s->w.M + (size_t)j * C, 1);
                    above += sj > s0 || (sj == s0 && j < item);
                }
                vc->hits[tid] += above < 10;
                vc->pairs[tid]++;
            }
        }
    }
    if (f != F)
        free(f);
}

/* HR@10 on the validation matrix (see the file comment); NAN when none. */
static double sas_valid_hr(const Sasrec *s, const RsMatrix *t, const RsMatrix *v,
                           const RsSeqs *seqs, uint64_t seed, SasWs *ws, size_t nparts,
                           uint32_t *users)
{
    size_t n = 0, cand = 0;
    for (size_t u = 0; u < v->U && u < t->U; u++)
        cand += rs_user_count(v, (uint32_t)u) > 0 && rs_user_count(t, (uint32_t)u) > 0;
    size_t stride = cand > SAS_VALID_USERS ? (cand + SAS_VALID_USERS - 1) / SAS_VALID_USERS : 1;
    size_t seen = 0;
    for (size_t u = 0; u < v->U && u < t->U; u++) {
        size_t nt = rs_user_count(t, (uint32_t)u), nv = rs_user_count(v, (uint32_t)u);
        if (!nv || !nt || seen++ % stride || nt + nv + SAS_VALID_NEG > t->I)
            continue;
        users[n++] = (uint32_t)u;
    }
    size_t hits[64] = {0}, pairs[64] = {0};
    SasValid vc = {.s = s, .t = t, .v = v, .seqs = seqs, .ws = ws, .users = users, .nusers = n,
                   .seed = seed, .hits = hits, .pairs = pairs};
    rs_parallel_for(n, (int)nparts, SAS_ENCODE_CHUNK, sas_valid_part, &vc);
    size_t h = 0, p = 0;
    for (size_t c = 0; c < nparts; c++) {
        h += hits[c];
        p += pairs[c];
    }
    return p ? (double)h / (double)p : NAN;
}

/* Everything a fit allocates, for one cleanup path. */
typedef struct SasFit {
    Sasrec *s;
    RsSeqs *seqs;
    SasWs *ws, *vws;
    size_t nws, nvws;
    uint32_t *order, *vusers;
    double *loss;
    NnBest best;
} SasFit;

static void sas_fit_done(SasFit *f)
{
    for (size_t c = 0; c < f->nws; c++)
        sas_ws_done(&f->ws[c]);
    for (size_t c = 0; c < f->nvws; c++)
        sas_ws_done(&f->vws[c]);
    free(f->ws);
    free(f->vws);
    free(f->order);
    free(f->vusers);
    free(f->loss);
    nn_best_done(&f->best);
    rs_seqs_free(f->seqs);
    sas_free(f->s);
}


/* One epoch of mini-batches over order[0..nu); *loss gets the mean per
 * valid slot. RS_ECANCEL when *cancel is set between batches. */
static int sas_epoch(SasFit *f, SasEpoch *ep, const NnAdam *opt, long *step, size_t nu,
                     size_t batch, const atomic_int *cancel, double *loss, RsErr *err)
{
    Sasrec *s = f->s;
    size_t T = s->d.T;
    double sum = 0, slots = 0;
    for (size_t b0 = 0; b0 < nu; b0 += batch) {
        if (cancel && atomic_load(cancel))
            return rs_err_set(err, RS_ECANCEL, "cancelled");
        size_t nb = nu - b0 < batch ? nu - b0 : batch, nv = 0;
        for (size_t k = 0; k < nb; k++) {
            size_t len = rs_seq_len(f->seqs, f->order[b0 + k]) - 1;
            nv += len < T ? len : T;
        }
        ep->users = f->order + b0;
        ep->nusers = nb;
        ep->per = (nb + ep->nparts - 1) / ep->nparts;
        ep->scale = 1.0f / (float)nv;
        rs_parallel_for(ep->nparts, (int)ep->nparts, 1, sas_shard, ep);
        /* the shards' gradients, summed in shard order */
        float *g = s->blk.g;
        memcpy(g, f->ws[0].grad, s->blk.n * sizeof *g);
        for (size_t c = 1; c < ep->nparts; c++) {
            const float *gc = f->ws[c].grad;
            for (size_t k = 0; k < s->blk.n; k++)
                g[k] += gc[k];
        }
        for (size_t c = 0; c < ep->nparts; c++)
            sum += ep->loss[c];
        slots += (double)nv;
        nn_adam_step(s->blk.w, g, s->blk.m, s->blk.v, s->blk.n, opt, ++*step);
    }
    *loss = slots > 0 ? sum / slots : NAN;
    return RS_OK;
}

static int sas_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *t = ctx->train;
    size_t T = (size_t)model_param(m, "maxlen"), C = (size_t)model_param(m, "dim"),
           L = (size_t)model_param(m, "blocks"), H = (size_t)model_param(m, "heads"),
           batch = (size_t)model_param(m, "batch");
    int epochs = (int)model_param(m, "epochs"), patience = (int)model_param(m, "patience");
    if (t->U != m->U || t->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "sasrec: training matrix is %zux%zu, model %zux%zu",
                          t->U, t->I, m->U, m->I);
    SasFit f = {0};
    int rc = sas_new(m->U, m->I, T, C, L, H, &f.s, err);
    if (rc)
        return rc;
    Sasrec *s = f.s;
    size_t nparts = ctx->nthreads > 1 ? (size_t)ctx->nthreads : 1;
    nparts = nparts > 64 ? 64 : nparts;
    int blas_old = 0;
    if ((rc = rs_seqs_new(t, &f.seqs, err)))
        goto done;
    f.order = malloc((t->U ? t->U : 1) * sizeof *f.order);
    f.vusers = malloc((t->U ? t->U : 1) * sizeof *f.vusers);
    f.loss = calloc(nparts, sizeof *f.loss);
    f.ws = calloc(nparts, sizeof *f.ws);
    f.vws = calloc(nparts, sizeof *f.vws);
    if (!f.order || !f.vusers || !f.loss || !f.ws || !f.vws) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for sasrec");
        goto done;
    }
    size_t nu = 0; /* users with a next item to predict */
    for (size_t u = 0; u < t->U; u++) {
        size_t n = rs_seq_len(f.seqs, (uint32_t)u);
        if (n >= 2 && n < t->I)
            f.order[nu++] = (uint32_t)u;
    }
    if (nu == 0) {
        rc = rs_err_set(err, RS_EUSAGE, "sasrec: no user has two or more training items");
        goto done;
    }
    size_t per = (batch + nparts - 1) / nparts;
    for (; f.nws < nparts; f.nws++)
        if ((rc = sas_ws_init(&f.ws[f.nws], s, per, 1, err)))
            goto done;
    if (ctx->valid)
        for (; f.nvws < nparts; f.nvws++)
            if ((rc = sas_ws_init(&f.vws[f.nvws], s, SAS_ENCODE_CHUNK, 0, err)))
                goto done;
    sas_init_params(s, m->seed);
    NnAdam opt;
    nn_adam_default(&opt);
    opt.beta2 = 0.98f;
    opt.lr = (float)model_param(m, "lr");
    opt.weight_decay = (float)model_param(m, "weight_decay");
    SasEpoch ep = {.s = s, .t = t, .seqs = f.seqs, .ws = f.ws, .nparts = nparts,
                   .p = (float)model_param(m, "dropout"), .seed = m->seed, .loss = f.loss};
    blas_old = rs_blas_threads(1); /* the batches' sgemm calls are small */
    long step = 0;
    for (int e = 1; e <= epochs; e++) {
        RsRng rng;
        rng_seed(&rng, rng_stream(m->seed, (uint64_t)e, UINT32_MAX));
        rng_shuffle(&rng, f.order, nu, sizeof *f.order);
        ep.epoch = e;
        FitProgress pr = {.phase = "epoch", .epoch = e, .epochs = epochs,
                          .fraction = (double)e / epochs, .valid = NAN,
                          .valid_name = ctx->valid ? "hr@10" : NULL};
        if ((rc = sas_epoch(&f, &ep, &opt, &step, nu, batch, ctx->cancel, &pr.loss, err)))
            goto done;
        if (!isfinite(pr.loss)) {
            rc = rs_err_set(err, RS_EUSAGE, "sasrec diverged at epoch %d: lower lr", e);
            goto done;
        }
        if (ctx->valid)
            pr.valid = sas_valid_hr(s, t, ctx->valid, f.seqs, m->seed, f.vws, nparts, f.vusers);
        if ((rc = model_fit_tick(ctx, &pr, err)))
            goto done;
        if (ctx->valid && patience > 0) {
            int stop = nn_best_offer(&f.best, &s->blk, e, pr.valid, patience, err);
            if (stop < 0) {
                rc = stop;
                goto done;
            }
            if (stop)
                break;
        }
    }
    nn_best_finish(&f.best, &s->blk);
    m->cls->free_state(m);
    m->state = s;
    f.s = NULL;
done:
    if (blas_old > 0)
        rs_blas_threads(blas_old);
    sas_fit_done(&f);
    return rc;
}

/* ---- scoring, fold-in ---------------------------------------------------------------------- */

static const Sasrec *sas_of(const RsModel *m, RsErr *err)
{
    if (!m->state)
        rs_err_set(err, RS_EUSAGE, "sasrec: the model is not trained");
    return m->state;
}

/* Scores of every item after the sequence items[0..n) (the last T used);
 * att (H, Tb, Tb), when not NULL, receives the last block's weights over
 * the last Tb = min(max(n, 1), T) positions. */
static int sas_score_seq(const Sasrec *s, const uint32_t *items, size_t n, float *scores,
                         float *att, RsErr *err)
{
    const SasDims *d = &s->d;
    for (size_t k = 0; k < n; k++)
        if (items[k] >= d->I)
            return rs_err_set(err, RS_EUSAGE, "profile item %u out of range (%zu items)",
                              items[k], d->I);
    SasWs ws;
    int rc = sas_ws_init(&ws, s, 1, 0, err);
    if (rc)
        return rc;
    float *f = malloc(d->C * sizeof *f);
    if (!f) {
        sas_ws_done(&ws);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    sas_encode(s, &ws, &items, &n, 1, f);
    if (scores)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)d->I, (int)d->C, 1.0f, s->w.M, (int)d->C,
                    f, 1, 0.0f, scores, 1);
    if (att)
        memcpy(att, ws.acts[d->L - 1].att, d->H * ws.Tb * ws.Tb * sizeof *att);
    free(f);
    sas_ws_done(&ws);
    return RS_OK;
}

/* User u's last T training items in time order into a malloc'd *out. */
static int sas_history(const Sasrec *s, const RsMatrix *train, uint32_t u, uint32_t **out,
                       size_t *n, RsErr *err)
{
    if (u >= s->d.U || !train || u >= train->U)
        return rs_err_set(err, RS_ENOTFOUND, "user %u out of range (%zu users)", u, s->d.U);
    *out = malloc(s->d.T * sizeof **out);
    if (!*out)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc;
    *n = sas_user_seq(train, u, s->d.T, *out, err, &rc);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int sas_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                     RsErr *err)
{
    const Sasrec *s = sas_of(m, err);
    if (!s)
        return RS_EUSAGE;
    uint32_t *h;
    size_t n;
    int rc = sas_history(s, train, u, &h, &n, err);
    if (rc)
        return rc;
    rc = sas_score_seq(s, h, n, scores, NULL, err);
    free(h);
    return rc;
}

static int sas_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                             float *scores, RsErr *err)
{
    (void)train;
    const Sasrec *s = sas_of(m, err);
    if (!s)
        return RS_EUSAGE;
    return sas_score_seq(s, p->items, p->n, scores, NULL, err);
}

/* ---- explanations, similar items ---------------------------------------------------------- */

static int sas_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                       long user, const RsProfile *p, uint32_t item, RsExplanation *e,
                       RsErr *err)
{
    (void)cat;
    const Sasrec *s = sas_of(m, err);
    if (!s)
        return RS_EUSAGE;
    const SasDims *d = &s->d;
    if (item >= d->I)
        return rs_err_set(err, RS_ENOTFOUND, "item %u out of range (%zu items)", item, d->I);
    uint32_t *h = NULL;
    size_t n = 0;
    int rc = RS_OK;
    if (user >= 0)
        rc = sas_history(s, train, (uint32_t)user, &h, &n, err);
    float *sc = malloc(d->I * sizeof *sc), *att = malloc(d->H * d->T * d->T * sizeof *att);
    if (!rc && (!sc || !att))
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    const uint32_t *items = user >= 0 ? h : p ? p->items : NULL;
    if (user < 0)
        n = p ? p->n : 0;
    if (!rc)
        rc = sas_score_seq(s, items, n, sc, att, err);
    if (!rc) {
        /* the last row of the last block's weights, averaged over heads, by
         * slot: the used slots are the last T = min(max(n, 1), maxlen) */
        size_t T = n < d->T ? (n ? n : 1) : d->T, k = n < T ? n : T;
        const uint32_t *tail = k ? items + (n - k) : NULL;
        for (size_t j = T - k; j < T && !rc; j++) {
            float w = 0;
            for (size_t hh = 0; hh < d->H; hh++)
                w += att[(hh * T + T - 1) * T + j];
            w /= (float)d->H;
            uint32_t it = tail[j - (T - k)];
            size_t at = 0;
            while (at < e->n && !(e->c[at].kind == EXPL_ITEM && e->c[at].index == it))
                at++;
            if (at < e->n)
                e->c[at].value += w;
            else if (rs_explanation_add(e, EXPL_ITEM, it, "", w, NAN))
                rc = rs_err_set(err, RS_ENOMEM, "out of memory for the explanation");
        }
        rs_explanation_sort(e, e->n);
        e->score = sc[item];
        e->additive = 0;
        e->bias = 0;
        snprintf(e->method, sizeof e->method,
                 "shares of the history in the last position's attention (last block, mean of "
                 "%zu head%s; SASRec, Kang & McAuley 2018)",
                 d->H, d->H == 1 ? "" : "s");
    }
    free(h);
    free(sc);
    free(att);
    return rc;
}

static int sas_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                       RsErr *err)
{
    (void)train;
    const Sasrec *s = sas_of(m, err);
    if (!s)
        return RS_EUSAGE;
    return nn_similar_items(s->w.M, s->d.I, s->d.C, item, scores, err);
}

/* ---- save / load ------------------------------------------------------------------------------ */

/* Payload: U, I (u64); maxlen, dim, blocks, heads (u32); the parameter block. */
static int sas_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    const Sasrec *s = sas_of(m, err);
    if (!s)
        return RS_EUSAGE;
    blob_put_u64(b, s->d.U);
    blob_put_u64(b, s->d.I);
    blob_put_u32(b, (uint32_t)s->d.T);
    blob_put_u32(b, (uint32_t)s->d.C);
    blob_put_u32(b, (uint32_t)s->d.L);
    blob_put_u32(b, (uint32_t)s->d.H);
    nn_block_save(&s->blk, b);
    if (b->oom)
        return rs_err_set(err, RS_ENOMEM, "out of memory saving sasrec");
    return RS_OK;
}

static int sas_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    uint64_t U, I;
    uint32_t dims[4];
    static const char *const names[4] = {"maxlen", "dim", "blocks", "heads"};
    if (blob_get_u64(r, &U) || blob_get_u64(r, &I) || blob_get_u32s(r, dims, 4))
        return rs_err_set(err, RS_EPARSE, "sasrec: truncated header");
    if (U != m->U || I != m->I)
        return rs_err_set(err, RS_EPARSE, "sasrec: shape %llux%llu does not match the dataset (%zux%zu)",
                          (unsigned long long)U, (unsigned long long)I, m->U, m->I);
    for (int k = 0; k < 4; k++)
        if ((double)dims[k] != model_param(m, names[k]))
            return rs_err_set(err, RS_EPARSE, "sasrec: blob has %s %u, parameters say %g",
                              names[k], dims[k], model_param(m, names[k]));
    Sasrec *s;
    int rc = sas_new(m->U, m->I, dims[0], dims[1], dims[2], dims[3], &s, err);
    if (rc)
        return rc == RS_EUSAGE ? rs_err_set(err, RS_EPARSE, "sasrec: bad blob header") : rc;
    if ((rc = nn_block_load(&s->blk, r, err))) {
        sas_free(s);
        return rc;
    }
    m->cls->free_state(m);
    m->state = s;
    return RS_OK;
}

static void sas_free_state(RsModel *m)
{
    sas_free(m->state);
    m->state = NULL;
}

const ModelClass model_sasrec = {
    .name = "sasrec",
    .title = "SASRec: self-attentive sequential recommendation (Kang & McAuley 2018)",
    .params = sas_params,
    .nparams = RS_ARRAY_LEN(sas_params),
    .flags = MODEL_FOLDIN,
    .format_version = 1,
    .fit = sas_fit,
    .score = sas_score,
    .score_profile = sas_score_profile,
    .predict = NULL,
    .explain = sas_explain,
    .similar = sas_similar,
    .save = sas_save,
    .load = sas_load,
    .free_state = sas_free_state,
};
