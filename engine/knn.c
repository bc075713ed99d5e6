/*
 * knn.c - ItemKNN and UserKNN: neighbourhood models with sparse top-k lists.
 *
 * One code path serves both classes. It speaks of "entities" (the things
 * that get neighbours: items for ItemKNN, users for UserKNN) described by
 * "features" (the other side: users for ItemKNN, items for UserKNN). The
 * entity -> features rows are the CSC columns for ItemKNN and the CSR rows for
 * UserKNN; the feature -> entities rows are the other orientation.
 *
 * Fit. For every entity e (in parallel, rs_parallel_for, one set of dense
 * accumulators of N entries per thread): walk e's features f, then the
 * entities e2 of each f, and accumulate co-occurrence sums for every e2
 * sharing a feature with e (sparse co-occurrence accumulation: the work is
 * sum over features of |f|^2, the memory N per thread plus the N x k lists,
 * never N^2). Then the similarity of each touched e2 is finished, and a
 * min-heap keeps the k best with sim > 0 (ties: the smaller index wins), so
 * the result does not depend on the thread count. Lists are stored best
 * first. e's list is N_k(e), "the k nearest of e".
 *
 * Values. r is an entry's rating; an entry without a rating (NaN) counts as
 * the global mean rating. With ratings=0 (the default), or when the training
 * data has no ratings at all, cosine and the top-N sums treat every
 * interaction as 1. With x(e, f) the value of entity e at feature f, C the
 * features the list owner a and the candidate b share, and n = |C|:
 *
 *   cosine    x = 1 (binary) or r. sim(a -> b) = sum_C x_a x_b /
 *             (||x_a||^(2 (1 - alpha)) ||x_b||^(2 alpha)), the norms over all
 *             of each entity's entries (missing = 0; Sarwar et al. 2001, sec.
 *             3.1.1). alpha = 0.5 is the plain cosine; other values give the
 *             asymmetric cosine of Aiolli 2013 ("Efficient top-N
 *             recommendation for very large scale binary rated datasets",
 *             sec. 3): with binary data and alpha = 1, sim(a -> b) =
 *             P(a | b). alpha applies to cosine only.
 *   adjusted  x = r - mean(f): centred by the feature's mean over all its
 *             ratings (ItemKNN: the user's mean; UserKNN: the item's mean).
 *             sim = sum_C x_a x_b / sqrt(sum_C x_a^2 * sum_C x_b^2), all sums
 *             over the common features, as Sarwar et al. 2001, sec. 3.1.3
 *             write it.
 *   pearson   the sample correlation of the two entities' ratings over their
 *             common features, each centred by its own mean over C (ItemKNN:
 *             the item's mean over the co-rating users, Sarwar et al. 2001,
 *             sec. 3.1.2; UserKNN: the user's mean over the co-rated items -
 *             Herlocker et al. 1999's correlation restricted to the co-rated
 *             items, not centred by the user's overall mean). Computed from
 *             sums of x, x^2 and x_a x_b over C on values pre-shifted by each
 *             entity's overall mean (a shift leaves a correlation unchanged
 *             and avoids cancellation). n = 1, or zero variance on C, gives
 *             no similarity.
 *   jaccard   n / (|a| + |b| - n), binary.
 *
 * Then pairs with n < min_common are dropped and the similarity is shrunk
 * towards 0: sim * n / (n + shrink) (Koren 2008, "Factor in the neighbors",
 * sec. 2.2). Only positive similarities become neighbours. UserKNN never
 * makes two users with exactly the same item set neighbours: this always
 * covers the user itself, such a user could only add score to items the
 * other already has, and it lets fold-in of a training user's own history
 * (the user still being in the data) find exactly the neighbours fit found.
 *
 * Top-N scores (score, score_profile; an item nothing reaches scores 0):
 *   ItemKNN  s(u, i) = sum over the user's items j in N_k(i) of
 *            w(u, j) sim(i -> j) scale(i)
 *            (the target item's neighbourhood, as Sarwar et al. 2001, sec.
 *            3.2 predict; on MovieLens-100K it ranks better than letting each
 *            history item add its own k nearest as Deshpande & Karypis 2004
 *            do: NDCG@10 0.384 against about 0.34, or 0.36 with their
 *            normalisation, at k = 50, alpha = 0.5). Scoring walks the
 *            transposed lists (for each j, the i whose list holds j).
 *   UserKNN  s(u, i) = sum over v in N_k(u) who have i of w(v, i) sim(u -> v) scale(u).
 * w = 1, or the rating with ratings=1. scale = 1, or with normalize=1 the
 * inverse of the sum of the list's similarities: the score becomes the
 * similarity-weighted share of the neighbourhood that agrees (for UserKNN
 * that only rescales a user's scores). Explanations list exactly these
 * terms; `similar` shows raw similarities.
 *
 * Rating prediction (predict), mean-centred, center=user:
 *   ItemKNN  r(u, i) = mean(u) + sum_j sim(i, j) (r(u, j) - mean(u)) / sum_j sim(i, j)
 *            over j in N_k(i) rated by u;
 *   UserKNN  r(u, i) = mean(u) + sum_v sim(u, v) (r(v, i) - mean(v)) / sum_v sim(u, v)
 *            over v in N_k(u) who rated i (Herlocker et al. 1999);
 * center=item replaces the user means by item means: ItemKNN r(u, i) =
 * mean(i) + sum_j sim(i, j) (r(u, j) - mean(j)) / sum_j sim(i, j) (its
 * default: RMSE 0.936 against 0.962 on ML-100K u1 with adjusted, k = 1000,
 * shrink = 100; 0.998 against 1.092 on the sample data with the defaults);
 * UserKNN then gives the plain weighted average of the neighbours' ratings.
 * No neighbour applies: the baseline mean (the global mean for a user or
 * item without ratings). Predictions are clamped to the training ratings'
 * range.
 *
 * Defaults (k = 50, shrink = 5, alpha = 0.75, binary cosine) were tuned on
 * MovieLens-100K and the generated sample data (80/20 per-user random
 * split, full-ranking NDCG@10): ItemKNN 0.412 / 0.440, UserKNN 0.404 /
 * 0.476 (alpha = 0.5 gives 0.384 and 0.390 on ML-100K).
 */
#include "knn.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

enum { SIM_COSINE, SIM_ADJUSTED, SIM_PEARSON, SIM_JACCARD };
enum { KNN_CENTER_USER, KNN_CENTER_ITEM };

/* The parameters of both classes, in table order: id, name, type, ItemKNN
 * default, UserKNN default, min, max, choices, help. */
#define KNN_PARAMS(X)                                                                        \
    X(P_SIMILARITY, "similarity", PARAM_ENUM, SIM_COSINE, SIM_COSINE, 0, 3,                  \
      "cosine|adjusted|pearson|jaccard",                                                     \
      "similarity measure (adjusted and pearson need ratings)")                              \
    X(P_K, "k", PARAM_INT, 50, 50, 1, 100000, NULL, "neighbours kept per item (user)")      \
    X(P_SHRINK, "shrink", PARAM_FLOAT, 5, 5, 0, 1e6, NULL,                                   \
      "shrinkage: sim * n / (n + shrink), n = common users (items)")                         \
    X(P_ALPHA, "alpha", PARAM_FLOAT, 0.75, 0.75, 0, 1, NULL,                                 \
      "cosine asymmetry: 0.5 symmetric, towards 1 divides more by the neighbour's norm")    \
    X(P_MIN_COMMON, "min_common", PARAM_INT, 1, 1, 1, 1e6, NULL,                             \
      "pairs with fewer common users (items) get no similarity")                             \
    X(P_NORMALIZE, "normalize", PARAM_BOOL, 0, 0, 0, 1, NULL,                                \
      "divide each neighbour list by its sum in top-N scores")                               \
    X(P_RATINGS, "ratings", PARAM_BOOL, 0, 0, 0, 1, NULL,                                    \
      "use rating values in cosine and top-N sums (0: every interaction counts 1)")          \
    X(P_CENTER, "center", PARAM_ENUM, KNN_CENTER_ITEM, KNN_CENTER_USER, 0, 1, "user|item",   \
      "rating prediction: deviations from user means or from item means")

#define KNN_ID(id, name, type, idef, udef, lo, hi, ch, help) id,
enum { KNN_PARAMS(KNN_ID) KNN_NPARAMS };
#undef KNN_ID
_Static_assert(KNN_NPARAMS <= MODEL_MAX_PARAMS, "too many parameters");

#define KNN_ITEM_SPEC(id, name, type, idef, udef, lo, hi, ch, help) {name, type, idef, lo, hi, ch, help},
#define KNN_USER_SPEC(id, name, type, idef, udef, lo, hi, ch, help) {name, type, udef, lo, hi, ch, help},
static const ParamSpec itemknn_params[] = {KNN_PARAMS(KNN_ITEM_SPEC)};
static const ParamSpec userknn_params[] = {KNN_PARAMS(KNN_USER_SPEC)};
#undef KNN_ITEM_SPEC
#undef KNN_USER_SPEC

#define KNN_FORMAT 1
#define KNN_FLAG_BINARY 1u

/* A trained model. N entities: I for ItemKNN, U for UserKNN. */
typedef struct KnnState {
    int binary;         /* values are 1s (ratings=0 or no ratings in train) */
    size_t N, NB;
    size_t *nb_ptr;     /* (N + 1) list starts */
    uint32_t *nb_idx;   /* (NB) neighbour, best first */
    float *nb_sim;      /* (NB) its similarity, > 0 */
    float *nb_scale;    /* (N) factor on list e's similarities in top-N sums */
    float *user_mean;   /* (U) mean rating (the global mean when none) */
    float *item_mean;   /* (I) */
    float *user_norm;   /* (U) cosine norm ||x_u|| (0 unless cosine) */
    float *item_norm;   /* (I) */
    /* derived at fit and load, not saved: */
    float *user_qnorm;  /* (U) user_norm^(2 alpha): a neighbour's side of the cosine */
    float *item_qnorm;  /* (I) */
    size_t *rev_ptr;    /* ItemKNN: (I + 1) for each item j, the lists holding j */
    uint32_t *rev_idx;  /* (NB) owner i of a list holding j, ascending */
    float *rev_sim;     /* (NB) sim(i, j) */
    float gmean;        /* mean of all training ratings (0 when none) */
    float rmin, rmax;   /* range of the training ratings (+-FLT_MAX when none) */
} KnnState;

/* One orientation of the training matrix. */
typedef struct KnnDir {
    size_t N, M;                /* entities, features */
    const size_t *eptr;         /* (N + 1) entity -> entries */
    const uint32_t *eidx;       /* feature of each entry */
    const float *erat;          /* rating of each entry (may be NULL: none) */
    const size_t *fptr;         /* (M + 1) feature -> entries */
    const uint32_t *fidx;       /* entity of each entry */
    const float *frat;
    const float *ent_mean;      /* (N) */
    const float *feat_mean;     /* (M) */
    const float *ent_norm;      /* (N) */
    const float *ent_qnorm;     /* (N) ent_norm^(2 alpha) */
} KnnDir;

typedef struct KnnSim {
    int kind;
    int binary;
    int same_set;               /* equal feature sets are not neighbours */
    double shrink;
    double min_common;
    double alpha;
    float gmean;
} KnnSim;

/* What gets neighbours: an entity's row, or a folded-in profile. */
typedef struct KnnProbe {
    size_t n;
    const uint32_t *feat;       /* (n) */
    const float *rat;           /* (n) or NULL */
    double mean, norm;          /* as ent_mean / ent_norm would hold */
    size_t self;                /* its own entity index, or SIZE_MAX */
    double pnorm;               /* norm^(2 (1 - alpha)): the probe's side of the cosine */
} KnnProbe;

/* Per-thread dense accumulators over the N entities; only the arrays the
 * similarity needs are allocated. */
typedef struct KnnAcc {
    uint32_t *cnt;      /* (N) common features */
    double *dot;        /* (N) sum x x2 */
    double *sxx, *syy;  /* (N) sum x^2, sum x2^2 over the common features */
    double *sx, *sy;    /* (N) sum x, sum x2 (pearson) */
    uint32_t *touched;  /* (N + 1) entities with cnt > 0, in first-touch order */
    size_t nt;
} KnnAcc;

static const KnnState *st_of(const RsModel *m) { return m->state; }
static int is_user_based(const RsModel *m) { return m->cls == &model_userknn; }

static float fill(const KnnSim *s, float r) { return isnan(r) ? s->gmean : r; }

static int sim_is_binary(const KnnSim *s)
{
    return s->kind == SIM_JACCARD || (s->kind == SIM_COSINE && s->binary);
}

/* The value x of an entry with rating r (see the top of the file). */
static double knn_value(const KnnSim *s, float r, double ent_mean, double feat_mean)
{
    double v = fill(s, r);
    switch (s->kind) {
    case SIM_COSINE: return s->binary ? 1.0 : v;
    case SIM_ADJUSTED: return v - feat_mean;
    case SIM_PEARSON: return v - ent_mean;
    default: return 1.0;
    }
}

/* Weight of an interaction in top-N sums. */
static float knn_weight(const KnnState *st, float r)
{
    if (st->binary)
        return 1.0f;
    return isnan(r) ? st->gmean : r;
}

/* One term of a top-N sum; explanations use the same expression, so their
 * contributions add up to the score exactly. */
static float knn_contrib(float w, float sim, float scale) { return w * (sim * scale); }

/* Mean and cosine norm of a row, rounded to float as the stored means and
 * norms are: a folded-in profile then gets exactly what fit computed for the
 * same row. */
static double row_mean(const KnnSim *s, const float *rat, size_t n)
{
    if (n == 0)
        return s->gmean;
    double sum = 0;
    for (size_t a = 0; a < n; a++)
        sum += fill(s, rat ? rat[a] : NAN);
    return (float)(sum / (double)n);
}

/* (0 for the similarities other than cosine) */
static double row_norm(const KnnSim *s, const float *rat, size_t n)
{
    if (s->kind != SIM_COSINE)
        return 0;
    double sum = 0;
    for (size_t a = 0; a < n; a++) {
        double x = knn_value(s, rat ? rat[a] : NAN, 0, 0);
        sum += x * x;
    }
    return (float)sqrt(sum);
}

/* ---- accumulation and similarity -------------------------------------------- */

static void acc_free(KnnAcc *a)
{
    if (!a)
        return;
    free(a->cnt);
    free(a->dot);
    free(a->sxx);
    free(a->syy);
    free(a->sx);
    free(a->sy);
    free(a->touched);
    memset(a, 0, sizeof *a);
}

static int acc_init(KnnAcc *a, const KnnSim *s, size_t N)
{
    memset(a, 0, sizeof *a);
    size_t n = N ? N : 1;
    a->cnt = calloc(n, sizeof *a->cnt);
    a->touched = malloc((n + 1) * sizeof *a->touched); /* + 1: acc_add's spare write */
    int ok = a->cnt && a->touched;
    if (!sim_is_binary(s)) {
        a->dot = calloc(n, sizeof *a->dot);
        ok = ok && a->dot;
    }
    if (s->kind == SIM_ADJUSTED || s->kind == SIM_PEARSON) {
        a->sxx = calloc(n, sizeof *a->sxx);
        a->syy = calloc(n, sizeof *a->syy);
        ok = ok && a->sxx && a->syy;
    }
    if (s->kind == SIM_PEARSON) {
        a->sx = calloc(n, sizeof *a->sx);
        a->sy = calloc(n, sizeof *a->sy);
        ok = ok && a->sx && a->sy;
    }
    if (!ok) {
        acc_free(a);
        return RS_ENOMEM;
    }
    return RS_OK;
}

/* Accumulates, for every entity e2 sharing a feature with the probe, the
 * sums over the shared features. */
static void acc_add(KnnAcc *a, const KnnDir *d, const KnnSim *s, const KnnProbe *p)
{
    int bin = sim_is_binary(s);
    for (size_t q = 0; q < p->n; q++) {
        uint32_t f = p->feat[q];
        size_t b = d->fptr[f], e = d->fptr[f + 1];
        if (bin) {
            size_t nt = a->nt;
            for (size_t pos = b; pos < e; pos++) { /* branch-free: the hot loop */
                uint32_t e2 = d->fidx[pos];
                a->touched[nt] = e2;
                nt += a->cnt[e2]++ == 0;
            }
            a->nt = nt;
            continue;
        }
        double fm = d->feat_mean[f];
        double x = knn_value(s, p->rat ? p->rat[q] : NAN, p->mean, fm);
        for (size_t pos = b; pos < e; pos++) {
            uint32_t e2 = d->fidx[pos];
            double y = knn_value(s, d->frat ? d->frat[pos] : NAN, d->ent_mean[e2], fm);
            if (a->cnt[e2]++ == 0)
                a->touched[a->nt++] = e2;
            a->dot[e2] += x * y;
            if (a->sxx) {
                a->sxx[e2] += x * x;
                a->syy[e2] += y * y;
            }
            if (a->sx) {
                a->sx[e2] += x;
                a->sy[e2] += y;
            }
        }
    }
}

/* Clears what acc_add touched. */
static void acc_reset(KnnAcc *a)
{
    for (size_t t = 0; t < a->nt; t++) {
        uint32_t e2 = a->touched[t];
        a->cnt[e2] = 0;
        if (a->dot)
            a->dot[e2] = 0;
        if (a->sxx)
            a->sxx[e2] = a->syy[e2] = 0;
        if (a->sx)
            a->sx[e2] = a->sy[e2] = 0;
    }
    a->nt = 0;
}

/* The shrunk similarity of the probe and a touched entity e2; 0 when the
 * pair has none. */
static double knn_pair(const KnnAcc *a, const KnnDir *d, const KnnSim *s, const KnnProbe *p,
                       uint32_t e2)
{
    double n = a->cnt[e2];
    double n2 = (double)(d->eptr[e2 + 1] - d->eptr[e2]);
    double sim = 0;
    if (e2 == p->self || n < s->min_common)
        return 0;
    if (s->same_set && n == (double)p->n && n == n2)
        return 0;
    switch (s->kind) {
    case SIM_COSINE: {
        double den = p->pnorm * (double)d->ent_qnorm[e2];
        double num = s->binary ? n : a->dot[e2];
        sim = den > 0 ? num / den : 0;
        break;
    }
    case SIM_JACCARD:
        sim = n / ((double)p->n + n2 - n);
        break;
    case SIM_ADJUSTED: {
        double den = sqrt(a->sxx[e2] * a->syy[e2]);
        sim = den > 0 ? a->dot[e2] / den : 0;
        break;
    }
    case SIM_PEARSON: {
        double cov = a->dot[e2] - a->sx[e2] * a->sy[e2] / n;
        double vx = a->sxx[e2] - a->sx[e2] * a->sx[e2] / n;
        double vy = a->syy[e2] - a->sy[e2] * a->sy[e2] / n;
        /* (near) zero variance: all common ratings equal, or n = 1 */
        if (vx <= 1e-9 * (a->sxx[e2] + 1e-9) || vy <= 1e-9 * (a->syy[e2] + 1e-9))
            return 0;
        sim = cov / sqrt(vx * vy);
        break;
    }
    }
    if (!isfinite(sim))
        return 0;
    if (sim > 1)
        sim = 1;
    return sim * n / (n + s->shrink);
}

/* ---- top-k heap ---------------------------------------------------------------- */

/* a is worse than b: smaller similarity, or equal and larger index. */
static int nb_worse(float sa, uint32_t ia, float sb, uint32_t ib)
{
    return sa < sb || (sa == sb && ia > ib);
}

static void heap_down(uint32_t *hi, float *hs, size_t n, size_t at)
{
    for (;;) {
        size_t l = 2 * at + 1, r = l + 1, w = at;
        if (l < n && nb_worse(hs[l], hi[l], hs[w], hi[w]))
            w = l;
        if (r < n && nb_worse(hs[r], hi[r], hs[w], hi[w]))
            w = r;
        if (w == at)
            return;
        float ts = hs[w];
        uint32_t ti = hi[w];
        hs[w] = hs[at];
        hi[w] = hi[at];
        hs[at] = ts;
        hi[at] = ti;
        at = w;
    }
}

/* Offers (idx, sim) to a min-heap (worst on top) of at most k entries. */
static void heap_offer(uint32_t *hi, float *hs, size_t *n, size_t k, uint32_t idx, float sim)
{
    if (*n < k) {
        size_t at = (*n)++;
        hi[at] = idx;
        hs[at] = sim;
        while (at > 0) {
            size_t up = (at - 1) / 2;
            if (!nb_worse(hs[at], hi[at], hs[up], hi[up]))
                break;
            float ts = hs[up];
            uint32_t ti = hi[up];
            hs[up] = hs[at];
            hi[up] = hi[at];
            hs[at] = ts;
            hi[at] = ti;
            at = up;
        }
    } else if (k > 0 && nb_worse(hs[0], hi[0], sim, idx)) {
        hi[0] = idx;
        hs[0] = sim;
        heap_down(hi, hs, *n, 0);
    }
}

/* Heap sort in place: best first. */
static void heap_sort(uint32_t *hi, float *hs, size_t n)
{
    for (size_t end = n; end > 1; end--) {
        float ts = hs[0];
        uint32_t ti = hi[0];
        hs[0] = hs[end - 1];
        hi[0] = hi[end - 1];
        hs[end - 1] = ts;
        hi[end - 1] = ti;
        heap_down(hi, hs, end - 1, 0);
    }
}

/* The probe's k best neighbours (sim > 0) into out_idx/out_sim, best first;
 * returns how many. acc must be clear and is left clear. */
static size_t knn_neighbours(KnnAcc *a, const KnnDir *d, const KnnSim *s, const KnnProbe *p,
                             size_t k, uint32_t *out_idx, float *out_sim)
{
    size_t n = 0;
    acc_add(a, d, s, p);
    for (size_t t = 0; t < a->nt; t++) {
        uint32_t e2 = a->touched[t];
        float sim = (float)knn_pair(a, d, s, p, e2);
        if (sim > 0)
            heap_offer(out_idx, out_sim, &n, k, e2, sim);
    }
    acc_reset(a);
    heap_sort(out_idx, out_sim, n);
    return n;
}

static float list_scale(int normalize, const float *sim, size_t n)
{
    if (!normalize || n == 0)
        return 1.0f;
    double sum = 0;
    for (size_t q = 0; q < n; q++)
        sum += sim[q];
    return sum > 0 ? (float)(1.0 / sum) : 1.0f;
}

/* ---- state, views ---------------------------------------------------------------- */

static void state_free(KnnState *st)
{
    if (!st)
        return;
    free(st->nb_ptr);
    free(st->nb_idx);
    free(st->nb_sim);
    free(st->nb_scale);
    free(st->user_mean);
    free(st->item_mean);
    free(st->user_norm);
    free(st->item_norm);
    free(st->user_qnorm);
    free(st->item_qnorm);
    free(st->rev_ptr);
    free(st->rev_idx);
    free(st->rev_sim);
    free(st);
}

static void knn_free_state(RsModel *m)
{
    state_free(m->state);
    m->state = NULL;
}

/* Allocates everything but the neighbour arrays (NB unknown yet). */
static KnnState *state_new(size_t U, size_t I, size_t N)
{
    KnnState *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->N = N;
    st->nb_ptr = calloc(N + 1, sizeof *st->nb_ptr);
    st->nb_scale = calloc(N ? N : 1, sizeof *st->nb_scale);
    st->user_mean = calloc(U ? U : 1, sizeof *st->user_mean);
    st->item_mean = calloc(I ? I : 1, sizeof *st->item_mean);
    st->user_norm = calloc(U ? U : 1, sizeof *st->user_norm);
    st->item_norm = calloc(I ? I : 1, sizeof *st->item_norm);
    st->user_qnorm = calloc(U ? U : 1, sizeof *st->user_qnorm);
    st->item_qnorm = calloc(I ? I : 1, sizeof *st->item_qnorm);
    if (!st->nb_ptr || !st->nb_scale || !st->user_mean || !st->item_mean || !st->user_norm ||
        !st->item_norm || !st->user_qnorm || !st->item_qnorm) {
        state_free(st);
        return NULL;
    }
    return st;
}

/* The neighbours' side of the cosine denominators, from the norms. */
static void state_qnorms(KnnState *st, double alpha, size_t U, size_t I)
{
    for (size_t u = 0; u < U; u++)
        st->user_qnorm[u] = (float)pow(st->user_norm[u], 2 * alpha);
    for (size_t i = 0; i < I; i++)
        st->item_qnorm[i] = (float)pow(st->item_norm[i], 2 * alpha);
}

/* ItemKNN: the transposed lists (for each item j, the items i with j in
 * N_k(i), ascending), so scoring walks only the history's lists. */
static int state_reverse(KnnState *st)
{
    size_t N = st->N;
    st->rev_ptr = calloc(N + 1, sizeof *st->rev_ptr);
    st->rev_idx = malloc((st->NB ? st->NB : 1) * sizeof *st->rev_idx);
    st->rev_sim = malloc((st->NB ? st->NB : 1) * sizeof *st->rev_sim);
    if (!st->rev_ptr || !st->rev_idx || !st->rev_sim)
        return RS_ENOMEM;
    for (size_t a = 0; a < st->NB; a++)
        st->rev_ptr[st->nb_idx[a] + 1]++;
    for (size_t j = 0; j < N; j++)
        st->rev_ptr[j + 1] += st->rev_ptr[j];
    /* rev_ptr[j] walks forward as j's list fills; shifted back after */
    for (size_t i = 0; i < N; i++)
        for (size_t a = st->nb_ptr[i]; a < st->nb_ptr[i + 1]; a++) {
            size_t at = st->rev_ptr[st->nb_idx[a]]++;
            st->rev_idx[at] = (uint32_t)i;
            st->rev_sim[at] = st->nb_sim[a];
        }
    for (size_t j = N; j > 0; j--)
        st->rev_ptr[j] = st->rev_ptr[j - 1];
    st->rev_ptr[0] = 0;
    return RS_OK;
}

static void knn_sim_of(KnnSim *s, const RsModel *m, const KnnState *st, int user_side)
{
    s->kind = (int)m->pv.v[P_SIMILARITY];
    s->binary = st->binary;
    s->same_set = user_side;
    s->shrink = m->pv.v[P_SHRINK];
    s->min_common = m->pv.v[P_MIN_COMMON];
    s->alpha = m->pv.v[P_ALPHA];
    s->gmean = st->gmean;
}

/* Entities are users (user_side) or items. */
static void knn_dir_of(KnnDir *d, const RsMatrix *t, const KnnState *st, int user_side)
{
    if (user_side) {
        *d = (KnnDir){t->U, t->I, t->u_ptr, t->u_items, t->u_rating, t->i_ptr, t->i_users,
                      t->i_rating, st->user_mean, st->item_mean, st->user_norm, st->user_qnorm};
    } else {
        *d = (KnnDir){t->I, t->U, t->i_ptr, t->i_users, t->i_rating, t->u_ptr, t->u_items,
                      t->u_rating, st->item_mean, st->user_mean, st->item_norm, st->item_qnorm};
    }
}

/* The probe's side of the (asymmetric) cosine denominator. */
static double probe_pnorm(const KnnSim *s, double norm)
{
    return s->kind == SIM_COSINE ? pow(norm, 2 * (1 - s->alpha)) : 0;
}

static KnnProbe probe_of_entity(const KnnDir *d, const KnnSim *s, size_t e)
{
    size_t b = d->eptr[e];
    return (KnnProbe){d->eptr[e + 1] - b, d->eidx + b, d->erat ? d->erat + b : NULL,
                      d->ent_mean[e], d->ent_norm[e], e, probe_pnorm(s, d->ent_norm[e])};
}

/* Means, norms, the global mean and range of the training ratings. */
static void knn_stats(KnnState *st, const KnnSim *s0, const RsMatrix *t)
{
    double sum = 0;
    size_t n = 0;
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (size_t p = 0; t->u_rating && p < t->NNZ; p++) {
        float r = t->u_rating[p];
        if (isnan(r))
            continue;
        sum += r;
        n++;
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    st->gmean = n ? (float)(sum / (double)n) : 0.0f;
    st->rmin = n ? lo : -FLT_MAX;
    st->rmax = n ? hi : FLT_MAX;
    KnnSim s = *s0;
    s.gmean = st->gmean;
    for (size_t u = 0; u < t->U; u++) {
        size_t b = t->u_ptr[u], c = t->u_ptr[u + 1] - b;
        const float *r = t->u_rating ? t->u_rating + b : NULL;
        st->user_mean[u] = (float)row_mean(&s, r, c);
        st->user_norm[u] = (float)row_norm(&s, r, c);
    }
    for (size_t i = 0; i < t->I; i++) {
        size_t b = t->i_ptr[i], c = t->i_ptr[i + 1] - b;
        const float *r = t->i_rating ? t->i_rating + b : NULL;
        st->item_mean[i] = (float)row_mean(&s, r, c);
        st->item_norm[i] = (float)row_norm(&s, r, c);
    }
}

/* ---- fit -------------------------------------------------------------------------- */

typedef struct FitJob {
    const KnnDir *d;
    const KnnSim *s;
    KnnAcc *acc;        /* (nthreads) */
    size_t kk, base;
    uint32_t *out_idx;  /* (N, kk) */
    float *out_sim;     /* (N, kk) */
    size_t *out_n;      /* (N) */
    atomic_int *cancel;
    atomic_int stop;
} FitJob;

static void fit_range(void *arg, size_t begin, size_t end, int tid)
{
    FitJob *j = arg;
    for (size_t x = j->base + begin; x < j->base + end; x++) {
        if (atomic_load_explicit(&j->stop, memory_order_relaxed))
            return;
        if (j->cancel && atomic_load_explicit(j->cancel, memory_order_relaxed)) {
            atomic_store(&j->stop, 1);
            return;
        }
        KnnProbe p = probe_of_entity(j->d, j->s, x);
        j->out_n[x] = knn_neighbours(&j->acc[tid], j->d, j->s, &p, j->kk, j->out_idx + x * j->kk,
                                     j->out_sim + x * j->kk);
    }
}

/* Runs the similarity pass in blocks, reporting progress between them. */
static int fit_lists(FitJob *j, const FitContext *ctx, RsErr *err)
{
    size_t N = j->d->N;
    size_t block = N / 50 + 1;
    if (block < 256)
        block = 256;
    for (size_t b = 0; b < N; b += block) {
        j->base = b;
        rs_parallel_for(b + block < N ? block : N - b, ctx->nthreads, 8, fit_range, j);
        FitProgress fp = {.phase = "similarity",
                          .fraction = (double)(b + block < N ? b + block : N) / (double)N,
                          .loss = NAN,
                          .valid = NAN};
        int rc = model_fit_tick(ctx, &fp, err);
        if (rc)
            return rc;
        if (atomic_load(&j->stop))
            return rs_err_set(err, RS_ECANCEL, "fit cancelled");
    }
    return RS_OK;
}

/* Moves the per-entity slots into the compact lists. */
static int fit_compact(KnnState *st, const FitJob *j, int normalize)
{
    size_t N = st->N, NB = 0;
    for (size_t e = 0; e < N; e++) {
        st->nb_ptr[e] = NB;
        NB += j->out_n[e];
    }
    st->nb_ptr[N] = NB;
    st->NB = NB;
    st->nb_idx = malloc((NB ? NB : 1) * sizeof *st->nb_idx);
    st->nb_sim = malloc((NB ? NB : 1) * sizeof *st->nb_sim);
    if (!st->nb_idx || !st->nb_sim)
        return RS_ENOMEM;
    for (size_t e = 0; e < N; e++) {
        size_t n = j->out_n[e], at = st->nb_ptr[e];
        memcpy(st->nb_idx + at, j->out_idx + e * j->kk, n * sizeof *st->nb_idx);
        memcpy(st->nb_sim + at, j->out_sim + e * j->kk, n * sizeof *st->nb_sim);
        st->nb_scale[e] = list_scale(normalize, st->nb_sim + at, n);
    }
    return RS_OK;
}

static int knn_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    const RsMatrix *t = ctx->train;
    int user_side = is_user_based(m);
    int kind = (int)m->pv.v[P_SIMILARITY];
    int rc = RS_OK;
    KnnState *st = NULL;
    FitJob j = {0};
    int nthreads = ctx->nthreads > 0 ? ctx->nthreads : 1;

    if (!t || t->U != m->U || t->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "%s: training matrix does not match the model's shape",
                          m->cls->name);
    if ((kind == SIM_ADJUSTED || kind == SIM_PEARSON) && !t->has_ratings)
        return rs_err_set(err, RS_EUSAGE,
                          "%s: similarity=%s needs ratings, and the training data has none "
                          "(use cosine or jaccard)",
                          m->cls->name, kind == SIM_ADJUSTED ? "adjusted" : "pearson");
    knn_free_state(m);
    st = state_new(m->U, m->I, user_side ? m->U : m->I);
    if (!st)
        return rs_err_set(err, RS_ENOMEM, "%s: out of memory", m->cls->name);
    st->binary = !t->has_ratings || m->pv.v[P_RATINGS] == 0;

    KnnSim s;
    knn_sim_of(&s, m, st, user_side);
    knn_stats(st, &s, t);
    state_qnorms(st, s.alpha, m->U, m->I);
    s.gmean = st->gmean;
    KnnDir d;
    knn_dir_of(&d, t, st, user_side);

    size_t N = st->N;
    size_t k = (size_t)m->pv.v[P_K];
    j.kk = N > 1 ? (k < N - 1 ? k : N - 1) : 0;
    j.d = &d;
    j.s = &s;
    j.cancel = ctx->cancel;
    atomic_init(&j.stop, 0);
    size_t slots = N * j.kk > 0 ? N * j.kk : 1;
    j.out_idx = malloc(slots * sizeof *j.out_idx);
    j.out_sim = malloc(slots * sizeof *j.out_sim);
    j.out_n = calloc(N ? N : 1, sizeof *j.out_n);
    j.acc = calloc((size_t)nthreads, sizeof *j.acc);
    if (!j.out_idx || !j.out_sim || !j.out_n || !j.acc) {
        rc = rs_err_set(err, RS_ENOMEM, "%s: out of memory for %zu x %zu neighbours",
                        m->cls->name, N, j.kk);
        goto done;
    }
    for (int th = 0; th < nthreads; th++)
        if (acc_init(&j.acc[th], &s, N)) {
            rc = rs_err_set(err, RS_ENOMEM, "%s: out of memory", m->cls->name);
            goto done;
        }
    rc = fit_lists(&j, ctx, err);
    if (rc)
        goto done;
    if (fit_compact(st, &j, m->pv.v[P_NORMALIZE] != 0) || (!user_side && state_reverse(st))) {
        rc = rs_err_set(err, RS_ENOMEM, "%s: out of memory", m->cls->name);
        goto done;
    }
    m->state = st;
    st = NULL;
done:
    for (int th = 0; j.acc && th < nthreads; th++)
        acc_free(&j.acc[th]);
    free(j.acc);
    free(j.out_idx);
    free(j.out_sim);
    free(j.out_n);
    state_free(st);
    return rc;
}

/* ---- scoring --------------------------------------------------------------------- */

static int check_ready(const RsModel *m, const RsMatrix *train, RsErr *err)
{
    if (!m->state)
        return rs_err_set(err, RS_EUSAGE, "%s: model is not trained", m->cls->name);
    if (!train || train->U != m->U || train->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "%s: matrix does not match the model's shape",
                          m->cls->name);
    return RS_OK;
}

static int check_profile(const RsModel *m, const RsProfile *p, RsErr *err)
{
    for (size_t q = 0; q < p->n; q++)
        if (p->items[q] >= m->I)
            return rs_err_set(err, RS_EUSAGE, "%s: profile item %u out of range (%zu items)",
                              m->cls->name, (unsigned)p->items[q], m->I);
    return RS_OK;
}

static int itemknn_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                                 float *scores, RsErr *err)
{
    int rc = check_ready(m, train, err);
    if (rc || (rc = check_profile(m, p, err)))
        return rc;
    const KnnState *st = st_of(m);
    for (size_t i = 0; i < m->I; i++)
        scores[i] = 0;
    /* history item j adds to every i whose list holds it */
    for (size_t q = 0; q < p->n; q++) {
        uint32_t j = p->items[q];
        float w = knn_weight(st, p->values ? p->values[q] : NAN);
        for (size_t a = st->rev_ptr[j]; a < st->rev_ptr[j + 1]; a++) {
            uint32_t i = st->rev_idx[a];
            scores[i] += knn_contrib(w, st->rev_sim[a], st->nb_scale[i]);
        }
    }
    return RS_OK;
}

static int itemknn_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                         RsErr *err)
{
    int rc = check_ready(m, train, err);
    if (rc)
        return rc;
    if (u >= train->U)
        return rs_err_set(err, RS_EUSAGE, "itemknn: user %u out of range", (unsigned)u);
    RsProfile p = rs_profile_of_user(train, u);
    return itemknn_score_profile(m, train, &p, scores, err);
}

/* Neighbours of a profile computed on the fly (UserKNN fold-in): the same
 * computation fit does for a training user. *idx and *sim are malloc'd. */
static int userknn_probe(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                         uint32_t **idx, float **sim, size_t *n, RsErr *err)
{
    const KnnState *st = st_of(m);
    KnnSim s;
    KnnDir d;
    KnnAcc a;
    knn_sim_of(&s, m, st, 1);
    knn_dir_of(&d, train, st, 1);
    size_t k = (size_t)m->pv.v[P_K];
    size_t kk = k < d.N ? k : d.N;
    *idx = malloc((kk ? kk : 1) * sizeof **idx);
    *sim = malloc((kk ? kk : 1) * sizeof **sim);
    if (!*idx || !*sim || acc_init(&a, &s, d.N)) {
        free(*idx);
        free(*sim);
        *idx = NULL;
        *sim = NULL;
        return rs_err_set(err, RS_ENOMEM, "userknn: out of memory");
    }
    KnnProbe pr = {p->n, p->items, p->values, 0, 0, SIZE_MAX, 0};
    pr.mean = row_mean(&s, p->values, p->n);
    pr.norm = row_norm(&s, p->values, p->n);
    pr.pnorm = probe_pnorm(&s, pr.norm);
    *n = knn_neighbours(&a, &d, &s, &pr, kk, *idx, *sim);
    acc_free(&a);
    return RS_OK;
}

/* Adds a user's neighbour list into scores. */
static void userknn_sum(const KnnState *st, const RsMatrix *train, const uint32_t *idx,
                        const float *sim, size_t n, float scale, float *scores)
{
    for (size_t q = 0; q < n; q++) {
        uint32_t v = idx[q];
        for (size_t pos = train->u_ptr[v]; pos < train->u_ptr[v + 1]; pos++) {
            float w = knn_weight(st, train->u_rating ? train->u_rating[pos] : NAN);
            scores[train->u_items[pos]] += knn_contrib(w, sim[q], scale);
        }
    }
}

static int userknn_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                         RsErr *err)
{
    int rc = check_ready(m, train, err);
    if (rc)
        return rc;
    if (u >= train->U)
        return rs_err_set(err, RS_EUSAGE, "userknn: user %u out of range", (unsigned)u);
    const KnnState *st = st_of(m);
    for (size_t i = 0; i < m->I; i++)
        scores[i] = 0;
    size_t b = st->nb_ptr[u];
    userknn_sum(st, train, st->nb_idx + b, st->nb_sim + b, st->nb_ptr[u + 1] - b,
                st->nb_scale[u], scores);
    return RS_OK;
}

static int userknn_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                                 float *scores, RsErr *err)
{
    int rc = check_ready(m, train, err);
    if (rc || (rc = check_profile(m, p, err)))
        return rc;
    uint32_t *idx;
    float *sim;
    size_t n;
    if ((rc = userknn_probe(m, train, p, &idx, &sim, &n, err)))
        return rc;
    for (size_t i = 0; i < m->I; i++)
        scores[i] = 0;
    userknn_sum(st_of(m), train, idx, sim, n, list_scale(m->pv.v[P_NORMALIZE] != 0, sim, n),
                scores);
    free(idx);
    free(sim);
    return RS_OK;
}

/* ---- rating prediction ------------------------------------------------------------ */

static float clamp_rating(const KnnState *st, double r)
{
    if (r < st->rmin)
        r = st->rmin;
    if (r > st->rmax)
        r = st->rmax;
    return (float)r;
}

static float rating_at(const KnnState *st, const RsMatrix *t, size_t pos)
{
    float r = t->u_rating ? t->u_rating[pos] : NAN;
    return isnan(r) ? st->gmean : r;
}

static int itemknn_predict(const RsModel *m, const RsMatrix *train, uint32_t u, uint32_t i,
                           float *out)
{
    if (check_ready(m, train, NULL) || u >= m->U || i >= m->I)
        return RS_EUSAGE;
    const KnnState *st = st_of(m);
    int by_item = m->pv.v[P_CENTER] == KNN_CENTER_ITEM;
    double base = by_item ? st->item_mean[i] : st->user_mean[u], num = 0, den = 0;
    for (size_t a = st->nb_ptr[i]; a < st->nb_ptr[i + 1]; a++) {
        uint32_t j = st->nb_idx[a];
        size_t pos = rs_matrix_find(train, u, j);
        if (pos == (size_t)-1)
            continue;
        num += st->nb_sim[a] * (rating_at(st, train, pos) - (by_item ? st->item_mean[j] : base));
        den += st->nb_sim[a];
    }
    *out = clamp_rating(st, den > 0 ? base + num / den : base);
    return RS_OK;
}

static int userknn_predict(const RsModel *m, const RsMatrix *train, uint32_t u, uint32_t i,
                           float *out)
{
    if (check_ready(m, train, NULL) || u >= m->U || i >= m->I)
        return RS_EUSAGE;
    const KnnState *st = st_of(m);
    int by_item = m->pv.v[P_CENTER] == KNN_CENTER_ITEM;
    double base = by_item ? st->item_mean[i] : st->user_mean[u], num = 0, den = 0;
    for (size_t a = st->nb_ptr[u]; a < st->nb_ptr[u + 1]; a++) {
        uint32_t v = st->nb_idx[a];
        size_t pos = rs_matrix_find(train, v, i);
        if (pos == (size_t)-1)
            continue;
        num += st->nb_sim[a] * (rating_at(st, train, pos) - (by_item ? base : st->user_mean[v]));
        den += st->nb_sim[a];
    }
    *out = clamp_rating(st, den > 0 ? base + num / den : base);
    return RS_OK;
}

/* ---- explanations and similar items ------------------------------------------------ */

static const char *item_label(const RsCatalog *cat, uint32_t i)
{
    if (!cat || i >= cat->I)
        return NULL;
    if (cat->item_title && cat->item_title[i])
        return cat->item_title[i];
    return cat->item_ext ? cat->item_ext[i] : NULL;
}

static int itemknn_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                           long user, const RsProfile *p, uint32_t item, RsExplanation *out,
                           RsErr *err)
{
    (void)user;
    int rc = check_ready(m, train, err);
    if (rc || (rc = check_profile(m, p, err)))
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "itemknn: item %u out of range", (unsigned)item);
    const KnnState *st = st_of(m);
    float score = 0;
    /* the terms of itemknn_score_profile's sum for this item, in its order */
    for (size_t q = 0; q < p->n; q++) {
        uint32_t j = p->items[q];
        size_t lo = st->rev_ptr[j], hi = st->rev_ptr[j + 1];
        while (lo < hi) { /* binary search for item among the lists holding j */
            size_t mid = lo + (hi - lo) / 2;
            if (st->rev_idx[mid] < item)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == st->rev_ptr[j + 1] || st->rev_idx[lo] != item)
            continue;
        float w = knn_weight(st, p->values ? p->values[q] : NAN);
        float c = knn_contrib(w, st->rev_sim[lo], st->nb_scale[item]);
        score += c;
        if (rs_explanation_add(out, EXPL_ITEM, j, item_label(cat, j), c, st->rev_sim[lo]))
            return rs_err_set(err, RS_ENOMEM, "itemknn: out of memory");
    }
    out->score = score;
    out->additive = 1;
    out->bias = 0;
    snprintf(out->method, sizeof out->method,
             "sum of sim(item, j)%s%s over your items j among the item's %d nearest",
             st->binary ? "" : " x your rating of j",
             m->pv.v[P_NORMALIZE] != 0 ? " / sum over all its nearest" : "", (int)m->pv.v[P_K]);
    if (out->n > 1)
        rs_explanation_sort(out, out->n);
    return RS_OK;
}

static int userknn_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                           long user, const RsProfile *p, uint32_t item, RsExplanation *out,
                           RsErr *err)
{
    int rc = check_ready(m, train, err);
    if (rc || (rc = check_profile(m, p, err)))
        return rc;
    if (item >= m->I || (user >= 0 && (size_t)user >= m->U))
        return rs_err_set(err, RS_EUSAGE, "userknn: user or item out of range");
    const KnnState *st = st_of(m);
    uint32_t *idx = NULL;
    float *sim = NULL;
    size_t n;
    float scale;
    if (user >= 0) {
        size_t b = st->nb_ptr[user];
        idx = st->nb_idx + b;
        sim = st->nb_sim + b;
        n = st->nb_ptr[user + 1] - b;
        scale = st->nb_scale[user];
    } else {
        if ((rc = userknn_probe(m, train, p, &idx, &sim, &n, err)))
            return rc;
        scale = list_scale(m->pv.v[P_NORMALIZE] != 0, sim, n);
    }
    float score = 0;
    for (size_t q = 0; q < n && rc == RS_OK; q++) {
        size_t pos = rs_matrix_find(train, idx[q], item);
        if (pos == (size_t)-1)
            continue;
        float w = knn_weight(st, train->u_rating ? train->u_rating[pos] : NAN);
        float c = knn_contrib(w, sim[q], scale);
        const char *label = cat && cat->user_ext && idx[q] < cat->U ? cat->user_ext[idx[q]] : NULL;
        score += c;
        if (rs_explanation_add(out, EXPL_USER, idx[q], label, c, sim[q]))
            rc = rs_err_set(err, RS_ENOMEM, "userknn: out of memory");
    }
    if (user < 0) {
        free(idx);
        free(sim);
    }
    if (rc)
        return rc;
    out->score = score;
    out->additive = 1;
    out->bias = 0;
    snprintf(out->method, sizeof out->method,
             "sum of sim(you, v)%s%s over your %d nearest users v who chose it",
             st->binary ? "" : " x v's rating", m->pv.v[P_NORMALIZE] != 0 ? " / sum" : "",
             (int)m->pv.v[P_K]);
    if (out->n > 1)
        rs_explanation_sort(out, out->n);
    return RS_OK;
}

/* The item's neighbour similarities; items outside its list (and the item
 * itself) get -INFINITY. */
static int itemknn_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                           RsErr *err)
{
    int rc = check_ready(m, train, err);
    if (rc)
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "itemknn: item %u out of range", (unsigned)item);
    const KnnState *st = st_of(m);
    for (size_t i = 0; i < m->I; i++)
        scores[i] = -INFINITY;
    for (size_t a = st->nb_ptr[item]; a < st->nb_ptr[item + 1]; a++)
        scores[st->nb_idx[a]] = st->nb_sim[a];
    return RS_OK;
}

/* UserKNN keeps no item lists: the item-item similarity of the model's
 * measure (same shrinkage, min_common) is computed on the fly against every
 * item; items with none (and the item itself) get -INFINITY. */
static int userknn_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                           RsErr *err)
{
    int rc = check_ready(m, train, err);
    if (rc)
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "userknn: item %u out of range", (unsigned)item);
    const KnnState *st = st_of(m);
    KnnSim s;
    KnnDir d;
    KnnAcc a;
    knn_sim_of(&s, m, st, 0);
    knn_dir_of(&d, train, st, 0);
    if (acc_init(&a, &s, d.N))
        return rs_err_set(err, RS_ENOMEM, "userknn: out of memory");
    for (size_t i = 0; i < m->I; i++)
        scores[i] = -INFINITY;
    KnnProbe p = probe_of_entity(&d, &s, item);
    acc_add(&a, &d, &s, &p);
    for (size_t t = 0; t < a.nt; t++) {
        float sim = (float)knn_pair(&a, &d, &s, &p, a.touched[t]);
        if (sim > 0)
            scores[a.touched[t]] = sim;
    }
    acc_free(&a);
    return RS_OK;
}

/* ---- save / load ------------------------------------------------------------------- */

/* Payload v1: u32 flags, u64 N, u64 NB, u32 count[N], u32 idx[NB],
 * f32 sim[NB], f32 scale[N], f32 user_mean[U], item_mean[I], user_norm[U],
 * item_norm[I], f32 gmean, rmin, rmax. */
static int knn_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    const KnnState *st = st_of(m);
    if (!st)
        return rs_err_set(err, RS_EUSAGE, "%s: model is not trained", m->cls->name);
    blob_put_u32(b, st->binary ? KNN_FLAG_BINARY : 0);
    blob_put_u64(b, st->N);
    blob_put_u64(b, st->NB);
    for (size_t e = 0; e < st->N; e++)
        blob_put_u32(b, (uint32_t)(st->nb_ptr[e + 1] - st->nb_ptr[e]));
    blob_put_u32s(b, st->nb_idx, st->NB);
    blob_put_f32s(b, st->nb_sim, st->NB);
    blob_put_f32s(b, st->nb_scale, st->N);
    blob_put_f32s(b, st->user_mean, m->U);
    blob_put_f32s(b, st->item_mean, m->I);
    blob_put_f32s(b, st->user_norm, m->U);
    blob_put_f32s(b, st->item_norm, m->I);
    blob_put_f32(b, st->gmean);
    blob_put_f32(b, st->rmin);
    blob_put_f32(b, st->rmax);
    if (b->oom)
        return rs_err_set(err, RS_ENOMEM, "%s: out of memory saving the model", m->cls->name);
    return RS_OK;
}

/* Checks the neighbour lists: indices in range, not the entity itself, no
 * repeats, similarities positive. seen: (N) zeroed scratch. */
static int check_lists(const KnnState *st, uint32_t *seen, RsErr *err, const char *name)
{
    for (size_t e = 0; e < st->N; e++) {
        for (size_t a = st->nb_ptr[e]; a < st->nb_ptr[e + 1]; a++) {
            uint32_t v = st->nb_idx[a];
            if (v >= st->N || v == e || seen[v] == e + 1)
                return rs_err_set(err, RS_EPARSE,
                                  "%s blob: neighbour %u of %zu is out of range or repeated",
                                  name, (unsigned)v, e);
            seen[v] = (uint32_t)(e + 1);
            if (!(st->nb_sim[a] > 0 && st->nb_sim[a] <= 1))
                return rs_err_set(err, RS_EPARSE, "%s blob: similarity %g of %zu is not in (0, 1]",
                                  name, (double)st->nb_sim[a], e);
        }
        if (!(st->nb_scale[e] > 0))
            return rs_err_set(err, RS_EPARSE, "%s blob: list scale of %zu is not positive", name, e);
    }
    return RS_OK;
}

static int knn_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    const char *name = m->cls->name;
    size_t N = is_user_based(m) ? m->U : m->I;
    size_t k = (size_t)m->pv.v[P_K];
    size_t kk = N > 1 ? (k < N - 1 ? k : N - 1) : 0;
    uint32_t flags = 0, *cnt = NULL, *seen = NULL;
    uint64_t n64 = 0, nb64 = 0;
    int rc = RS_OK;
    KnnState *st = NULL;

    if (blob_get_u32(r, &flags) || blob_get_u64(r, &n64) || blob_get_u64(r, &nb64))
        return rs_err_set(err, RS_EPARSE, "%s blob: truncated header", name);
    if (flags & ~KNN_FLAG_BINARY)
        return rs_err_set(err, RS_EPARSE, "%s blob: unknown flags %#x", name, (unsigned)flags);
    if (n64 != N)
        return rs_err_set(err, RS_EPARSE, "%s blob: %llu lists for %zu %s", name,
                          (unsigned long long)n64, N, is_user_based(m) ? "users" : "items");
    if (nb64 > (uint64_t)N * kk || nb64 > blob_remaining(r) / 8)
        return rs_err_set(err, RS_EPARSE, "%s blob: %llu neighbours is more than %zu lists of %zu "
                          "or than the blob holds", name, (unsigned long long)nb64, N, kk);
    st = state_new(m->U, m->I, N);
    cnt = malloc((N ? N : 1) * sizeof *cnt);
    seen = calloc(N ? N : 1, sizeof *seen);
    if (st) {
        st->NB = (size_t)nb64;
        st->nb_idx = malloc((st->NB ? st->NB : 1) * sizeof *st->nb_idx);
        st->nb_sim = malloc((st->NB ? st->NB : 1) * sizeof *st->nb_sim);
    }
    if (!st || !cnt || !seen || !st->nb_idx || !st->nb_sim) {
        rc = rs_err_set(err, RS_ENOMEM, "%s: out of memory loading the model", name);
        goto done;
    }
    st->binary = (flags & KNN_FLAG_BINARY) != 0;
    if (blob_get_u32s(r, cnt, N)) {
        rc = rs_err_set(err, RS_EPARSE, "%s blob: truncated list lengths", name);
        goto done;
    }
    size_t sum = 0;
    for (size_t e = 0; e < N; e++) {
        if (cnt[e] > kk) {
            rc = rs_err_set(err, RS_EPARSE, "%s blob: list %zu has %u neighbours (k = %zu)", name,
                            e, (unsigned)cnt[e], kk);
            goto done;
        }
        st->nb_ptr[e] = sum;
        sum += cnt[e];
    }
    st->nb_ptr[N] = sum;
    if (sum != st->NB) {
        rc = rs_err_set(err, RS_EPARSE, "%s blob: list lengths add up to %zu, not %zu", name, sum,
                        st->NB);
        goto done;
    }
    if (blob_get_u32s(r, st->nb_idx, st->NB) || blob_get_f32s(r, st->nb_sim, st->NB) ||
        blob_get_f32s(r, st->nb_scale, N) || blob_get_f32s(r, st->user_mean, m->U) ||
        blob_get_f32s(r, st->item_mean, m->I) || blob_get_f32s(r, st->user_norm, m->U) ||
        blob_get_f32s(r, st->item_norm, m->I) || blob_get_f32s(r, &st->gmean, 1) ||
        blob_get_f32s(r, &st->rmin, 1) || blob_get_f32s(r, &st->rmax, 1)) {
        rc = rs_err_set(err, RS_EPARSE, "%s blob: truncated, or a number is not finite", name);
        goto done;
    }
    if (!(st->rmin <= st->rmax)) {
        rc = rs_err_set(err, RS_EPARSE, "%s blob: rating range is empty", name);
        goto done;
    }
    if ((rc = check_lists(st, seen, err, name)))
        goto done;
    for (size_t u = 0; u < m->U; u++)
        if (st->user_norm[u] < 0) {
            rc = rs_err_set(err, RS_EPARSE, "%s blob: negative norm of user %zu", name, u);
            goto done;
        }
    for (size_t i = 0; i < m->I; i++)
        if (st->item_norm[i] < 0) {
            rc = rs_err_set(err, RS_EPARSE, "%s blob: negative norm of item %zu", name, i);
            goto done;
        }
    state_qnorms(st, m->pv.v[P_ALPHA], m->U, m->I);
    if (!is_user_based(m) && state_reverse(st)) {
        rc = rs_err_set(err, RS_ENOMEM, "%s: out of memory loading the model", name);
        goto done;
    }
    knn_free_state(m);
    m->state = st;
    st = NULL;
done:
    free(cnt);
    free(seen);
    state_free(st);
    return rc;
}

/* ---- the classes --------------------------------------------------------------------- */

const ModelClass model_itemknn = {
    .name = "itemknn",
    .title = "ItemKNN: item-based k nearest neighbours",
    .params = itemknn_params,
    .nparams = RS_ARRAY_LEN(itemknn_params),
    .flags = MODEL_RATINGS | MODEL_FOLDIN | MODEL_ADDITIVE,
    .format_version = KNN_FORMAT,
    .fit = knn_fit,
    .score = itemknn_score,
    .score_profile = itemknn_score_profile,
    .predict = itemknn_predict,
    .explain = itemknn_explain,
    .similar = itemknn_similar,
    .save = knn_save,
    .load = knn_load,
    .free_state = knn_free_state,
};

const ModelClass model_userknn = {
    .name = "userknn",
    .title = "UserKNN: user-based k nearest neighbours",
    .params = userknn_params,
    .nparams = RS_ARRAY_LEN(userknn_params),
    .flags = MODEL_RATINGS | MODEL_FOLDIN | MODEL_ADDITIVE,
    .format_version = KNN_FORMAT,
    .fit = knn_fit,
    .score = userknn_score,
    .score_profile = userknn_score_profile,
    .predict = userknn_predict,
    .explain = userknn_explain,
    .similar = userknn_similar,
    .save = knn_save,
    .load = knn_load,
    .free_state = knn_free_state,
};
