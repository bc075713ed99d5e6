/*
 * metrics.c - evaluation metrics and eval_model (definitions in metrics.h).
 *
 * Design: eval_model scores the users in parallel (rs_parallel_for), each
 * worker with its own scratch (a score buffer of I floats, two masks of I
 * bytes, exposure counts per cutoff, ...). A worker writes only its users'
 * rows of per-user tables (U rows: metric values, rating error sums) and
 * its own integer exposure counts; every mean, coverage and Gini index is
 * reduced afterwards on the calling thread in user order, so results do
 * not depend on the number of threads or on scheduling. The sampled protocol's negatives come from an RsRng
 * seeded with seed ^ user for the same reason.
 */
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "parallel.h"
#include "rng.h"

/* ---- per-list metrics: the definitions written out ------------------------------ */

/* number of hits among the first min(K, n) ranks */
static size_t hits_within(const uint8_t *hits, size_t n, size_t K)
{
    size_t h = 0;
    for (size_t r = 0; r < n && r < K; r++)
        h += hits[r] != 0;
    return h;
}

/* 1 / log2(r + 1), the DCG discount of the 1-based rank r (Jarvelin &
 * Kekalainen 2002) */
static double discount(size_t r)
{
    return 1.0 / log2((double)r + 1.0);
}

static double f1_of(double p, double r)
{
    return p + r > 0 ? 2.0 * p * r / (p + r) : 0.0;
}

double metric_precision_at_k(const uint8_t *hits, size_t n, size_t K)
{
    return K ? (double)hits_within(hits, n, K) / (double)K : 0.0;
}

double metric_recall_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K)
{
    return K && n_rel ? (double)hits_within(hits, n, K) / (double)n_rel : 0.0;
}

double metric_f1_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K)
{
    if (!K || !n_rel)
        return 0.0;
    return f1_of(metric_precision_at_k(hits, n, K), metric_recall_at_k(hits, n, n_rel, K));
}

double metric_ndcg_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K)
{
    if (!K || !n_rel)
        return 0.0;
    double dcg = 0.0, idcg = 0.0;
    for (size_t r = 1; r <= K && r <= n; r++) /* DCG over the hits in the top K */
        if (hits[r - 1])
            dcg += discount(r);
    for (size_t r = 1; r <= K && r <= n_rel; r++) /* ideal: min(K, R) hits first */
        idcg += discount(r);
    return dcg / idcg;
}

double metric_ap_at_k(const uint8_t *hits, size_t n, size_t n_rel, size_t K)
{
    if (!K || !n_rel)
        return 0.0;
    double sum = 0.0;
    size_t h = 0;
    for (size_t r = 1; r <= K && r <= n; r++) { /* precision at each hit's rank */
        if (hits[r - 1]) {
            h++;
            sum += (double)h / (double)r;
        }
    }
    return sum / (double)(K < n_rel ? K : n_rel);
}

double metric_rr_at_k(const uint8_t *hits, size_t n, size_t K)
{
    for (size_t r = 1; r <= K && r <= n; r++)
        if (hits[r - 1])
            return 1.0 / (double)r;
    return 0.0;
}

double metric_hr_at_k(const uint8_t *hits, size_t n, size_t K)
{
    return hits_within(hits, n, K) > 0 ? 1.0 : 0.0;
}

/* ---- all top-K metrics for several cutoffs in one pass --------------------------- */

static void fill_at_k(MetricsAtK *o, size_t K, size_t n_rel, size_t h, size_t first, double dcg,
                      double idcg, double apsum)
{
    o->precision = (double)h / (double)K;
    o->recall = n_rel ? (double)h / (double)n_rel : 0.0;
    o->f1 = n_rel ? f1_of(o->precision, o->recall) : 0.0;
    o->ndcg = n_rel ? dcg / idcg : 0.0;
    o->ap = n_rel ? apsum / (double)(K < n_rel ? K : n_rel) : 0.0;
    o->rr = first ? 1.0 / (double)first : 0.0;
    o->hr = h > 0 ? 1.0 : 0.0;
}

void metrics_at_ks(const uint8_t *hits, size_t n, size_t n_rel, const size_t *ks, size_t nks,
                   MetricsAtK *out)
{
    size_t maxK = 0;
    for (size_t j = 0; j < nks; j++) {
        if (ks[j] > maxK)
            maxK = ks[j];
        if (ks[j] == 0)
            out[j] = (MetricsAtK){0};
    }
    /* running sums over ranks 1..r: hits, first hit, DCG, ideal DCG, sum of
     * precision at hits; emitted when r reaches a cutoff */
    size_t h = 0, first = 0;
    double dcg = 0.0, idcg = 0.0, apsum = 0.0;
    for (size_t r = 1; r <= maxK; r++) {
        double d = discount(r);
        if (r <= n && hits[r - 1]) {
            h++;
            dcg += d;
            apsum += (double)h / (double)r;
            if (!first)
                first = r;
        }
        if (r <= n_rel)
            idcg += d;
        for (size_t j = 0; j < nks; j++)
            if (ks[j] == r)
                fill_at_k(&out[j], r, n_rel, h, first, dcg, idcg, apsum);
    }
}

/* ---- AUC and Gini ----------------------------------------------------------------- */

static float clean_score(float s)
{
    return isnan(s) ? -INFINITY : s;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Mann-Whitney U / (n_rel n_neg) = the ROC area (Hanley & McNeil 1982): for
 * each negative, the relevant scores above it count 1, equal ones 1/2. */
/* Branchless binary searches over the ascending a[0..n), n >= 1: how many
 * entries are < s (below) and <= s (upto). The negatives' searches are most
 * of an evaluation's time; without branches they do not mispredict. */
static size_t count_below(const float *a, size_t n, float s)
{
    const float *base = a;
    while (n > 1) {
        size_t half = n / 2;
        base = base[half] < s ? base + half : base;
        n -= half;
    }
    return (size_t)(base - a) + (*base < s);
}

static size_t count_upto(const float *a, size_t n, float s)
{
    const float *base = a;
    while (n > 1) {
        size_t half = n / 2;
        base = base[half] <= s ? base + half : base;
        n -= half;
    }
    return (size_t)(base - a) + (*base <= s);
}

double metric_auc(float *rel, size_t n_rel, const float *neg, size_t n_neg)
{
    if (!n_rel || !n_neg)
        return NAN;
    for (size_t k = 0; k < n_rel; k++)
        rel[k] = clean_score(rel[k]);
    qsort(rel, n_rel, sizeof *rel, cmp_float);
    /* Most negatives score below every relevant item (or above them all):
     * those need no search. */
    size_t below_all = 0;
    double correct = 0.0;
    float lowest = rel[0], highest = rel[n_rel - 1];
    for (size_t k = 0; k < n_neg; k++) {
        float s = clean_score(neg[k]);
        if (s < lowest) {
            below_all++;
        } else if (s <= highest) {
            size_t lo = count_below(rel, n_rel, s), eq = count_upto(rel, n_rel, s);
            correct += (double)(n_rel - eq) + 0.5 * (double)(eq - lo);
        }
    }
    correct += (double)below_all * (double)n_rel;
    return correct / ((double)n_rel * (double)n_neg);
}

double metric_auc_naive(const float *rel, size_t n_rel, const float *neg, size_t n_neg)
{
    if (!n_rel || !n_neg)
        return NAN;
    double correct = 0.0;
    for (size_t a = 0; a < n_rel; a++) {
        for (size_t b = 0; b < n_neg; b++) {
            float x = clean_score(rel[a]), y = clean_score(neg[b]);
            correct += x > y ? 1.0 : x == y ? 0.5 : 0.0;
        }
    }
    return correct / ((double)n_rel * (double)n_neg);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Castells, Hurley & Vargas 2015, "Novelty and diversity in recommender
 * systems", Recommender Systems Handbook 2nd ed., eq. 26.14:
 * G = 1/(I-1) sum_j (2j - I - 1) p(i_j), p the share of recommendations,
 * items in ascending order of p. */
double metric_gini(uint32_t *counts, size_t I)
{
    if (I < 2)
        return 0.0;
    qsort(counts, I, sizeof *counts, cmp_u32);
    double acc = 0.0, sum = 0.0;
    for (size_t j = 1; j <= I; j++) {
        acc += (2.0 * (double)j - (double)I - 1.0) * counts[j - 1];
        sum += counts[j - 1];
    }
    if (sum == 0.0)
        return NAN;
    return acc / ((double)(I - 1) * sum);
}

/* ---- options ---------------------------------------------------------------------- */

const char *eval_protocol_name(EvalProtocol p)
{
    return p == EVAL_SAMPLED ? "sampled" : "full";
}

int eval_protocol_parse(const char *s, EvalProtocol *p, RsErr *err)
{
    if (s && strcmp(s, "full") == 0)
        *p = EVAL_FULL;
    else if (s && strcmp(s, "sampled") == 0)
        *p = EVAL_SAMPLED;
    else
        return rs_err_set(err, RS_EUSAGE, "unknown protocol '%s' (full, sampled)",
                          s ? s : "");
    return RS_OK;
}

void eval_options_default(EvalOptions *o)
{
    memset(o, 0, sizeof *o);
    o->protocol = EVAL_FULL;
    o->relevance_threshold = NAN;
    o->negatives = EVAL_DEFAULT_NEGATIVES;
    o->seed = 42;
    o->nthreads = 0;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* sorts ks ascending and drops repeats; returns the new count */
static size_t sort_unique(size_t *ks, size_t n)
{
    qsort(ks, n, sizeof *ks, cmp_size);
    size_t m = 0;
    for (size_t j = 0; j < n; j++)
        if (m == 0 || ks[m - 1] != ks[j])
            ks[m++] = ks[j];
    return m;
}

#define EVAL_MAX_K 100000

int eval_parse_ks(const char *s, EvalOptions *o, RsErr *err)
{
    size_t ks[EVAL_MAX_KS], n = 0;
    const char *p = s ? s : "";
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!isdigit((unsigned char)*p))
            return rs_err_set(err, RS_EUSAGE,
                              "bad cutoff list '%s': expected integers 1..%d separated by commas",
                              s ? s : "", EVAL_MAX_K);
        errno = 0;
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || v < 1 || v > EVAL_MAX_K)
            return rs_err_set(err, RS_EUSAGE, "cutoff out of range in '%s' (1..%d)", s,
                              EVAL_MAX_K);
        if (n == EVAL_MAX_KS)
            return rs_err_set(err, RS_EUSAGE, "too many cutoffs in '%s' (at most %d)", s,
                              EVAL_MAX_KS);
        ks[n++] = v;
        p = end;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        if (*p != ',')
            return rs_err_set(err, RS_EUSAGE, "bad cutoff list '%s': unexpected '%c'", s, *p);
        p++;
    }
    n = sort_unique(ks, n);
    memcpy(o->ks, ks, n * sizeof *ks);
    o->nks = n;
    return RS_OK;
}

/* ---- genre sets (diversity_genre) -------------------------------------------------- */

typedef struct GenreSets {
    size_t *ptr;    /* (I + 1) */
    uint32_t *ids;  /* (ptr[I]) genre ids, ascending and distinct within an item */
} GenreSets;

typedef struct GenreTok {
    const char *s;
    size_t len;
    uint32_t item;
} GenreTok;

static int cmp_tok(const void *a, const void *b)
{
    const GenreTok *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* Splits s into genres ('|'-separated, trimmed; empties and MovieLens's
 * "(no genres listed)" skipped), written to out when not NULL; returns the
 * count. */
static size_t split_genres(const char *s, GenreTok *out, uint32_t item)
{
    size_t n = 0;
    while (s && *s) {
        const char *e = strchr(s, '|');
        const char *end = e ? e : s + strlen(s);
        const char *b = s;
        while (b < end && isspace((unsigned char)*b))
            b++;
        const char *t = end;
        while (t > b && isspace((unsigned char)t[-1]))
            t--;
        size_t len = (size_t)(t - b);
        if (len && !(len == 18 && memcmp(b, "(no genres listed)", 18) == 0)) {
            if (out)
                out[n] = (GenreTok){b, len, item};
            n++;
        }
        s = e ? e + 1 : end;
    }
    return n;
}

static void genre_sets_free(GenreSets *g)
{
    if (g) {
        free(g->ptr);
        free(g->ids);
    }
}

/* Builds the genre sets of cat; *any = 0 when no item has a genre.
 * RS_ENOMEM. */
static int genre_sets_build(const RsCatalog *cat, size_t I, GenreSets *g, int *any)
{
    size_t ntok = 0, *cur = NULL;
    GenreTok *tok = NULL;
    int rc = RS_ENOMEM;
    *any = 0;
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < I; i++)
        ntok += split_genres(cat->item_genres[i], NULL, (uint32_t)i);
    if (ntok == 0)
        return RS_OK;
    tok = malloc(ntok * sizeof *tok);
    g->ptr = calloc(I + 1, sizeof *g->ptr);
    g->ids = malloc(ntok * sizeof *g->ids);
    cur = malloc((I + 1) * sizeof *cur);
    if (!tok || !g->ptr || !g->ids || !cur)
        goto done;
    size_t k = 0;
    for (size_t i = 0; i < I; i++) {
        size_t c = split_genres(cat->item_genres[i], tok + k, (uint32_t)i);
        g->ptr[i + 1] = g->ptr[i] + c;
        k += c;
    }
    /* intern: sort by name, number the distinct names, and append each id
     * to its item (in id order, so ascending within an item) */
    qsort(tok, ntok, sizeof *tok, cmp_tok);
    memcpy(cur, g->ptr, (I + 1) * sizeof *cur);
    uint32_t id = 0;
    for (size_t t = 0; t < ntok; t++) {
        if (t > 0 && (tok[t].len != tok[t - 1].len ||
                      memcmp(tok[t].s, tok[t - 1].s, tok[t].len) != 0))
            id++;
        g->ids[cur[tok[t].item]++] = id;
    }
    /* drop repeats within an item ("Drama|Drama") and compact */
    size_t w = 0, start = 0;
    for (size_t i = 0; i < I; i++) {
        size_t b = start, e = g->ptr[i + 1];
        start = e;
        g->ptr[i] = w;
        for (size_t p = b; p < e; p++)
            if (p == b || g->ids[p] != g->ids[p - 1])
                g->ids[w++] = g->ids[p];
    }
    g->ptr[I] = w;
    *any = 1;
    rc = RS_OK;
done:
    free(tok);
    free(cur);
    if (rc)
        genre_sets_free(g);
    return rc;
}

/* Jaccard distance of the genre sets of a and b, or -1 when either has none. */
static double genre_distance(const GenreSets *g, uint32_t a, uint32_t b)
{
    const uint32_t *x = g->ids + g->ptr[a], *y = g->ids + g->ptr[b];
    size_t nx = g->ptr[a + 1] - g->ptr[a], ny = g->ptr[b + 1] - g->ptr[b];
    if (!nx || !ny)
        return -1.0;
    size_t p = 0, q = 0, inter = 0;
    while (p < nx && q < ny) {
        if (x[p] == y[q]) {
            inter++;
            p++;
            q++;
        } else if (x[p] < y[q]) {
            p++;
        } else {
            q++;
        }
    }
    return 1.0 - (double)inter / (double)(nx + ny - inter);
}

/* ---- eval_model: per-user work --------------------------------------------------------- */

enum { M_PREC, M_REC, M_F1, M_NDCG, M_MAP, M_MRR, M_HR, M_NTOPK };
enum { B_NOV, B_DIVG, B_DIVE, B_ARP, B_N };

typedef struct Scratch {
    float *scores;      /* (I) the model's scores, NaN turned into -INFINITY */
    uint8_t *excl;      /* (I) 1 for the user's training items (topk's exclude) */
    uint8_t *mark;      /* (I) full: relevant items; sampled: interacted (1), drawn (2) */
    float *neg;         /* (I) scores of the non-relevant candidates */
    uint32_t *avail;    /* (I) sampled: never-interacted items, for drawing from a list */
    uint32_t *rel;      /* (maxrow) the user's relevant items, ascending */
    float *rel_s;       /* (maxrow) their scores */
    uint32_t *drawn;    /* (N) sampled negatives of one held-out item */
    RsRec *recs;        /* (maxK) top-maxK among all non-training items */
    uint8_t *hits;      /* (maxK) */
    MetricsAtK *mk;     /* (nks) */
    MetricsAtK *acc;    /* (nks) */
    const float **vecs; /* (maxK) item vectors of the list */
    double *norms;      /* (maxK) */
    double *cum_s;      /* (maxK + 1) prefix sums over the list, reused per measure */
    size_t *cum_n;      /* (maxK + 1) */
    uint32_t *counts;   /* (nks, I) lists of this worker's users each item is in */
} Scratch;

typedef struct EvalCtx {
    const RsModel *m;
    const RsMatrix *train, *test;
    const EvalOptions *o;
    size_t U, I, nks, maxK, NV, N;
    const size_t *ks;       /* (nks) ascending, distinct */
    int use_threshold;
    double threshold;
    int want_rating, want_genre, want_emb;
    uint32_t *pop;          /* (I) training users of each item */
    double log2_utrain;     /* log2(users with a training entry) */
    GenreSets genres;
    Scratch *scratch;       /* (nthreads) */
    int nthreads;
    uint8_t *evaluated;     /* (U) */
    double *vals;           /* (U, NV) per-user values; slots below */
    double *sse, *sae;      /* (U) summed squared / absolute rating errors */
    uint32_t *n_rated;      /* (U) */
    atomic_size_t done;
    atomic_int stop, failed;
    int err_code;           /* written by the first failing worker only */
    RsErr err;
    /* scored on the GPU (eval_gpu_prepare), else NULL: */
    size_t *g_row;          /* (U) user's row in the lists, SIZE_MAX when none */
    uint32_t *g_items;      /* (rows, maxK) top-maxK lists */
    float *g_scores;        /* (rows, maxK) */
    uint32_t *g_counts;     /* (rows) */
    uint32_t *g_above;      /* (test NNZ) candidates scoring above each test entry */
    uint32_t *g_ties;       /* (test NNZ) scoring the same, itself included */
    float *g_qscore;        /* (test NNZ) the entry's score */
} EvalCtx;

static size_t slot_topk(const EvalCtx *c, int kind, size_t j) { return (size_t)kind * c->nks + j; }
static size_t slot_auc(const EvalCtx *c) { return M_NTOPK * c->nks; }
static size_t slot_beyond(const EvalCtx *c, int kind, size_t j)
{
    return M_NTOPK * c->nks + 1 + (size_t)kind * c->nks + j;
}

static int is_in(const uint32_t *sorted, size_t n, uint32_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && sorted[lo] == x;
}

static void store_topk(const EvalCtx *c, double *v, const MetricsAtK *mk)
{
    for (size_t j = 0; j < c->nks; j++) {
        v[slot_topk(c, M_PREC, j)] = mk[j].precision;
        v[slot_topk(c, M_REC, j)] = mk[j].recall;
        v[slot_topk(c, M_F1, j)] = mk[j].f1;
        v[slot_topk(c, M_NDCG, j)] = mk[j].ndcg;
        v[slot_topk(c, M_MAP, j)] = mk[j].ap;
        v[slot_topk(c, M_MRR, j)] = mk[j].rr;
        v[slot_topk(c, M_HR, j)] = mk[j].hr;
    }
}

/* Full protocol: the top-maxK list (s->recs[0..n)) against the nr relevant
 * items; AUC over all candidates. */
static void user_full(const EvalCtx *c, Scratch *s, size_t nr, size_t n, double *v)
{
    for (size_t r = 0; r < n; r++)
        s->hits[r] = (uint8_t)is_in(s->rel, nr, s->recs[r].item);
    metrics_at_ks(s->hits, n, nr, c->ks, c->nks, s->mk);
    store_topk(c, v, s->mk);

    for (size_t k = 0; k < nr; k++) {
        s->mark[s->rel[k]] = 1;
        s->rel_s[k] = s->scores[s->rel[k]];
    }
    size_t nn = 0;
    for (size_t i = 0; i < c->I; i++)
        if (!s->excl[i] && !s->mark[i])
            s->neg[nn++] = s->scores[i];
    for (size_t k = 0; k < nr; k++)
        s->mark[s->rel[k]] = 0;
    v[slot_auc(c)] = metric_auc(s->rel_s, nr, s->neg, nn);
}

/* Sampled protocol (He et al. 2017, section 4.1): each relevant item against
 * up to N never-interacted items; metrics per held-out item, averaged. */
static void user_sampled(const EvalCtx *c, Scratch *s, uint32_t u, size_t nr, double *v)
{
    const RsMatrix *tr = c->train, *te = c->test;
    size_t tb = tr->u_ptr[u], te_b = te->u_ptr[u];
    size_t tn = tr->u_ptr[u + 1] - tb, sn = te->u_ptr[u + 1] - te_b;
    size_t inter = 0;
    for (size_t k = 0; k < tn + sn; k++) { /* mark train u test, counting distinct */
        uint32_t i = k < tn ? tr->u_items[tb + k] : te->u_items[te_b + k - tn];
        if (!s->mark[i]) {
            s->mark[i] = 1;
            inter++;
        }
    }
    size_t avail = c->I - inter;
    size_t N = c->N < avail ? c->N : avail;
    /* rejection sampling while at least half of all items stay acceptable,
     * else a partial Fisher-Yates shuffle of the explicit list */
    int by_list = 2 * (avail - N) < c->I;
    size_t navail = 0;
    RsRng rng;
    rng_seed(&rng, c->o->seed ^ (uint64_t)u);
    if (by_list)
        for (size_t i = 0; i < c->I; i++)
            if (!s->mark[i])
                s->avail[navail++] = (uint32_t)i;

    memset(s->acc, 0, c->nks * sizeof *s->acc);
    double auc_sum = 0.0;
    size_t auc_n = 0;
    for (size_t j = 0; j < nr; j++) {
        for (size_t d = 0; d < N; d++) {
            if (by_list) {
                size_t k = d + (size_t)rng_below(&rng, navail - d);
                uint32_t t = s->avail[d];
                s->avail[d] = s->avail[k];
                s->avail[k] = t;
                s->drawn[d] = s->avail[d];
            } else {
                uint32_t x;
                do
                    x = (uint32_t)rng_below(&rng, c->I);
                while (s->mark[x]);
                s->mark[x] = 2;
                s->drawn[d] = x;
            }
        }
        if (!by_list)
            for (size_t d = 0; d < N; d++)
                s->mark[s->drawn[d]] = 0;
        /* rank of the held-out item: 1 + negatives ranked before it */
        uint32_t it = s->rel[j];
        float sr = s->scores[it];
        size_t above = 0;
        for (size_t d = 0; d < N; d++) {
            float sn_ = s->scores[s->drawn[d]];
            s->neg[d] = sn_;
            if (sn_ > sr || (sn_ == sr && s->drawn[d] < it))
                above++;
        }
        size_t n = 0;
        if (sr != -INFINITY && above < c->maxK) {
            n = above + 1;
            memset(s->hits, 0, n);
            s->hits[above] = 1;
        }
        metrics_at_ks(s->hits, n, 1, c->ks, c->nks, s->mk);
        for (size_t k = 0; k < c->nks; k++) {
            s->acc[k].precision += s->mk[k].precision;
            s->acc[k].recall += s->mk[k].recall;
            s->acc[k].f1 += s->mk[k].f1;
            s->acc[k].ndcg += s->mk[k].ndcg;
            s->acc[k].ap += s->mk[k].ap;
            s->acc[k].rr += s->mk[k].rr;
            s->acc[k].hr += s->mk[k].hr;
        }
        float one = sr;
        double a = metric_auc(&one, 1, s->neg, N);
        if (!isnan(a)) {
            auc_sum += a;
            auc_n++;
        }
    }
    for (size_t k = 0; k < c->nks; k++) {
        s->acc[k].precision /= (double)nr;
        s->acc[k].recall /= (double)nr;
        s->acc[k].f1 /= (double)nr;
        s->acc[k].ndcg /= (double)nr;
        s->acc[k].ap /= (double)nr;
        s->acc[k].rr /= (double)nr;
        s->acc[k].hr /= (double)nr;
    }
    store_topk(c, v, s->acc);
    v[slot_auc(c)] = auc_n ? auc_sum / (double)auc_n : NAN;
    for (size_t k = 0; k < tn; k++)
        s->mark[tr->u_items[tb + k]] = 0;
    for (size_t k = 0; k < sn; k++)
        s->mark[te->u_items[te_b + k]] = 0;
}

/* Writes mean-per-list values for every cutoff into slot kind, from the
 * prefix sums s->cum_s / s->cum_n over the list's first L entries (pairs,
 * for the diversities). */
static void store_prefix_means(const EvalCtx *c, const Scratch *s, size_t n, int kind, double *v)
{
    for (size_t j = 0; j < c->nks; j++) {
        size_t L = c->ks[j] < n ? c->ks[j] : n;
        v[slot_beyond(c, kind, j)] = s->cum_n[L] ? s->cum_s[L] / (double)s->cum_n[L] : NAN;
    }
}

/* Novelty, ARP and intra-list diversities of the list s->recs[0..n). */
static void user_beyond(const EvalCtx *c, Scratch *s, size_t n, double *v)
{
    /* novelty: self-information log2(U_train / max(pop, 1)) (Zhou et al. 2010) */
    s->cum_s[0] = 0.0;
    s->cum_n[0] = 0;
    for (size_t r = 0; r < n; r++) {
        uint32_t p = c->pop[s->recs[r].item];
        s->cum_s[r + 1] = s->cum_s[r] + (c->log2_utrain - log2(p ? (double)p : 1.0));
        s->cum_n[r + 1] = r + 1;
    }
    store_prefix_means(c, s, n, B_NOV, v);
    /* ARP: training popularity (Abdollahpouri et al. 2019) */
    for (size_t r = 0; r < n; r++)
        s->cum_s[r + 1] = s->cum_s[r] + (double)c->pop[s->recs[r].item];
    store_prefix_means(c, s, n, B_ARP, v);

    /* intra-list diversity (Ziegler et al. 2005): mean distance over pairs
     * (a, b), a < b < L; cum_*[L] holds the pairs within the first L */
    if (c->want_genre) {
        for (size_t b = 0; b < n; b++) {
            double sum = 0.0;
            size_t cnt = 0;
            for (size_t a = 0; a < b; a++) {
                double d = genre_distance(&c->genres, s->recs[a].item, s->recs[b].item);
                if (d >= 0.0) {
                    sum += d;
                    cnt++;
                }
            }
            s->cum_s[b + 1] = s->cum_s[b] + sum;
            s->cum_n[b + 1] = s->cum_n[b] + cnt;
        }
        store_prefix_means(c, s, n, B_DIVG, v);
    }
    if (c->want_emb) {
        size_t D = c->o->item_vec_dim;
        for (size_t r = 0; r < n; r++) {
            const float *x = c->o->item_vec(c->o->item_vec_ctx, s->recs[r].item);
            double nn = 0.0;
            for (size_t k = 0; x && k < D; k++)
                nn += (double)x[k] * x[k];
            s->vecs[r] = x;
            s->norms[r] = sqrt(nn);
        }
        for (size_t b = 0; b < n; b++) {
            double sum = 0.0;
            size_t cnt = 0;
            for (size_t a = 0; a < b; a++) {
                if (!s->vecs[a] || !s->vecs[b] || s->norms[a] == 0.0 || s->norms[b] == 0.0)
                    continue;
                double dot = 0.0;
                for (size_t k = 0; k < D; k++)
                    dot += (double)s->vecs[a][k] * s->vecs[b][k];
                sum += 1.0 - dot / (s->norms[a] * s->norms[b]);
                cnt++;
            }
            s->cum_s[b + 1] = s->cum_s[b] + sum;
            s->cum_n[b + 1] = s->cum_n[b] + cnt;
        }
        store_prefix_means(c, s, n, B_DIVE, v);
    }
}

/* Rating errors of every rated test entry of u. */
static int user_ratings(EvalCtx *c, uint32_t u, RsErr *err)
{
    const RsMatrix *te = c->test;
    double sse = 0.0, sae = 0.0;
    uint32_t cnt = 0;
    for (size_t k = te->u_ptr[u]; k < te->u_ptr[u + 1]; k++) {
        float r = te->u_rating[k], p;
        if (isnan(r))
            continue;
        int rc = c->m->cls->predict(c->m, c->train, u, te->u_items[k], &p);
        if (rc)
            return rs_err_set(err, rc < 0 ? rc : RS_EUSAGE,
                              "%s: predict failed for user %u, item %u", c->m->cls->name, u,
                              te->u_items[k]);
        if (!isfinite(p))
            return rs_err_set(err, RS_EPARSE,
                              "%s: non-finite predicted rating for user %u, item %u",
                              c->m->cls->name, u, te->u_items[k]);
        double d = (double)p - (double)r;
        sse += d * d;
        sae += fabs(d);
        cnt++;
    }
    c->sse[u] = sse;
    c->sae[u] = sae;
    c->n_rated[u] = cnt;
    return RS_OK;
}

/* Full protocol from the GPU's counts: AUC as metric_auc computes it, the
 * negatives being the candidates (not training items) that are not
 * relevant; each relevant item's candidates above / tied come from the GPU
 * (relevant ones among them taken out here). */
static void user_full_gpu(const EvalCtx *c, Scratch *s, uint32_t u, size_t nr, size_t n,
                          double *v)
{
    for (size_t r = 0; r < n; r++)
        s->hits[r] = (uint8_t)is_in(s->rel, nr, s->recs[r].item);
    metrics_at_ks(s->hits, n, nr, c->ks, c->nks, s->mk);
    store_topk(c, v, s->mk);
    const RsMatrix *te = c->test;
    size_t ntrain = rs_user_count(c->train, u);
    size_t nn = c->I - ntrain - nr, k = 0;
    for (size_t j = te->u_ptr[u]; j < te->u_ptr[u + 1]; j++)
        if (is_in(s->rel, nr, te->u_items[j]))
            s->rel_s[k++] = c->g_qscore[j];
    double correct = 0;
    k = 0;
    for (size_t j = te->u_ptr[u]; j < te->u_ptr[u + 1]; j++) {
        if (!is_in(s->rel, nr, te->u_items[j]))
            continue;
        float sr = s->rel_s[k++];
        size_t rel_above = 0, rel_ties = 0;
        for (size_t q = 0; q < nr; q++) {
            rel_above += s->rel_s[q] > sr;
            rel_ties += s->rel_s[q] == sr;
        }
        double above = (double)c->g_above[j] - (double)rel_above;
        double ties = (double)c->g_ties[j] - (double)rel_ties;
        correct += (double)nn - above - ties + 0.5 * ties;
    }
    v[slot_auc(c)] = nr && nn ? correct / ((double)nr * (double)nn) : NAN;
}

static int eval_user(EvalCtx *c, Scratch *s, uint32_t u, RsErr *err)
{
    const RsMatrix *tr = c->train, *te = c->test;
    size_t tb = tr->u_ptr[u], tn = tr->u_ptr[u + 1] - tb;
    size_t sb = te->u_ptr[u], sn = te->u_ptr[u + 1] - sb;
    int rc = RS_OK;
    if (sn == 0)
        return RS_OK;
    if (c->want_rating && (rc = user_ratings(c, u, err)) != RS_OK)
        return rc;
    for (size_t k = 0; k < tn; k++)
        s->excl[tr->u_items[tb + k]] = 1;
    /* relevant: test items that are candidates (and pass the threshold) */
    size_t nr = 0;
    for (size_t k = 0; k < sn; k++) {
        uint32_t i = te->u_items[sb + k];
        if (s->excl[i])
            continue;
        if (c->use_threshold && !(te->u_rating[sb + k] >= c->threshold))
            continue;
        s->rel[nr++] = i;
    }
    if (nr == 0)
        goto done;
    size_t n;
    if (c->g_items) {
        size_t row = c->g_row[u];
        n = c->g_counts[row];
        for (size_t r = 0; r < n; r++) {
            s->recs[r].item = c->g_items[row * c->maxK + r];
            s->recs[r].score = c->g_scores[row * c->maxK + r];
        }
    } else {
        if ((rc = c->m->cls->score(c->m, tr, u, s->scores, err)) != RS_OK)
            goto done;
        for (size_t i = 0; i < c->I; i++)
            s->scores[i] = clean_score(s->scores[i]);
        n = topk(s->scores, c->I, s->excl, c->maxK, s->recs);
    }
    for (size_t j = 0; j < c->nks; j++) /* exposure counts for coverage and Gini */
        for (size_t r = 0; r < n && r < c->ks[j]; r++)
            s->counts[j * c->I + s->recs[r].item]++;
    double *v = c->vals + u * c->NV;
    if (c->o->protocol == EVAL_SAMPLED)
        user_sampled(c, s, u, nr, v);
    else if (c->g_items)
        user_full_gpu(c, s, u, nr, n, v);
    else
        user_full(c, s, nr, n, v);
    user_beyond(c, s, n, v);
    c->evaluated[u] = 1;
done:
    for (size_t k = 0; k < tn; k++)
        s->excl[tr->u_items[tb + k]] = 0;
    return rc;
}

static void eval_fail(EvalCtx *c, int code, const RsErr *e)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&c->failed, &expected, 1)) {
        c->err_code = code;
        c->err = *e;
    }
    atomic_store(&c->stop, 1);
}

static void eval_range(void *ctx, size_t b, size_t e, int tid)
{
    EvalCtx *c = ctx;
    Scratch *s = &c->scratch[tid];
    for (size_t u = b; u < e; u++) {
        if (atomic_load(&c->stop) || (c->o->cancel && atomic_load(c->o->cancel))) {
            atomic_store(&c->stop, 1);
            return;
        }
        RsErr err;
        rs_err_clear(&err);
        int rc = eval_user(c, s, (uint32_t)u, &err);
        if (rc) {
            eval_fail(c, rc, &err);
            return;
        }
        size_t done = atomic_fetch_add(&c->done, 1) + 1;
        /* progress from the calling thread only (it is worker 0) */
        if (tid == 0 && c->o->progress && (done % 64 == 0 || u + 1 == e) &&
            c->o->progress(c->o->progress_ctx, (double)done / (double)c->U, "evaluating"))
            atomic_store(&c->stop, 1);
    }
}

/* ---- eval_model: setup and results -------------------------------------------------- */

static void scratch_free(Scratch *s)
{
    free(s->scores);
    free(s->excl);
    free(s->mark);
    free(s->neg);
    free(s->avail);
    free(s->rel);
    free(s->rel_s);
    free(s->drawn);
    free(s->recs);
    free(s->hits);
    free(s->mk);
    free(s->acc);
    free(s->vecs);
    free(s->norms);
    free(s->cum_s);
    free(s->cum_n);
    free(s->counts);
}

static int scratch_init(Scratch *s, const EvalCtx *c, size_t maxrow)
{
    size_t I = c->I ? c->I : 1, mr = maxrow ? maxrow : 1, N = c->N ? c->N : 1;
    memset(s, 0, sizeof *s);
    s->scores = malloc(I * sizeof *s->scores);
    s->excl = calloc(I, 1);
    s->mark = calloc(I, 1);
    s->neg = malloc(I * sizeof *s->neg);
    s->avail = malloc(I * sizeof *s->avail);
    s->rel = malloc(mr * sizeof *s->rel);
    s->rel_s = malloc(mr * sizeof *s->rel_s);
    s->drawn = malloc(N * sizeof *s->drawn);
    s->recs = malloc(c->maxK * sizeof *s->recs);
    s->hits = malloc(c->maxK);
    s->mk = malloc(c->nks * sizeof *s->mk);
    s->acc = malloc(c->nks * sizeof *s->acc);
    s->vecs = malloc(c->maxK * sizeof *s->vecs);
    s->norms = malloc(c->maxK * sizeof *s->norms);
    s->cum_s = malloc((c->maxK + 1) * sizeof *s->cum_s);
    s->cum_n = malloc((c->maxK + 1) * sizeof *s->cum_n);
    s->counts = calloc(c->nks * I, sizeof *s->counts);
    if (!s->scores || !s->excl || !s->mark || !s->neg || !s->avail || !s->rel || !s->rel_s ||
        !s->drawn || !s->recs || !s->hits || !s->mk || !s->acc || !s->vecs || !s->norms ||
        !s->cum_s || !s->cum_n || !s->counts) {
        scratch_free(s);
        return RS_ENOMEM;
    }
    return RS_OK;
}

static EvalMetric *add_metric(EvalResult *r, const char *name, size_t k)
{
    EvalMetric *em = &r->metrics[r->n_metrics++];
    if (k)
        snprintf(em->name, sizeof em->name, "%s@%zu", name, k);
    else
        snprintf(em->name, sizeof em->name, "%s", name);
    em->k = k;
    em->value = NAN;
    em->per_user = NULL;
    return em;
}

/* A per-user metric from value slot `slot`: per_user copied for the
 * evaluated users, value = mean of the finite ones. */
static int add_per_user(EvalResult *r, const EvalCtx *c, const char *name, size_t k, size_t slot)
{
    EvalMetric *em = add_metric(r, name, k);
    em->per_user = malloc((r->n_users ? r->n_users : 1) * sizeof *em->per_user);
    if (!em->per_user)
        return RS_ENOMEM;
    double sum = 0.0;
    size_t cnt = 0;
    for (size_t j = 0; j < r->n_users; j++) {
        double x = c->vals[(size_t)r->users[j] * c->NV + slot];
        em->per_user[j] = x;
        if (isfinite(x)) {
            sum += x;
            cnt++;
        }
    }
    em->value = cnt ? sum / (double)cnt : NAN;
    return RS_OK;
}

/* coverage@K and gini@K from the workers' exposure counts at cutoff j. */
static void add_global(EvalResult *r, const EvalCtx *c, size_t j, uint32_t *counts, int gini)
{
    size_t K = c->ks[j];
    memset(counts, 0, c->I * sizeof *counts);
    for (int t = 0; t < c->nthreads; t++)
        for (size_t i = 0; i < c->I; i++)
            counts[i] += c->scratch[t].counts[j * c->I + i];
    if (gini) {
        add_metric(r, "gini", K)->value = metric_gini(counts, c->I);
    } else {
        size_t distinct = 0;
        for (size_t i = 0; i < c->I; i++)
            distinct += counts[i] > 0;
        add_metric(r, "coverage", K)->value = c->I ? (double)distinct / (double)c->I : NAN;
    }
}

static int add_ratings(EvalResult *r, const EvalCtx *c)
{
    double sse = 0.0, sae = 0.0;
    size_t cnt = 0;
    for (size_t u = 0; u < c->U; u++) {
        sse += c->sse[u];
        sae += c->sae[u];
        cnt += c->n_rated[u];
    }
    r->n_rated = cnt;
    if (cnt == 0)
        return RS_OK;
    EvalMetric *rm = add_metric(r, "rmse", 0), *am;
    rm->value = sqrt(sse / (double)cnt);
    am = add_metric(r, "mae", 0);
    am->value = sae / (double)cnt;
    size_t nu = r->n_users ? r->n_users : 1;
    rm->per_user = malloc(nu * sizeof *rm->per_user);
    am->per_user = malloc(nu * sizeof *am->per_user);
    if (!rm->per_user || !am->per_user)
        return RS_ENOMEM;
    for (size_t j = 0; j < r->n_users; j++) {
        uint32_t u = r->users[j], n = c->n_rated[u];
        rm->per_user[j] = n ? sqrt(c->sse[u] / n) : NAN;
        am->per_user[j] = n ? c->sae[u] / n : NAN;
    }
    return RS_OK;
}

static int build_result(const EvalCtx *c, EvalResult **out, RsErr *err)
{
    static const char *const topk_names[M_NTOPK] = {"precision", "recall", "f1", "ndcg",
                                                    "map", "mrr", "hr"};
    uint32_t *counts = NULL;
    int rc = RS_ENOMEM;
    EvalResult *r = calloc(1, sizeof *r);
    if (!r)
        goto done;
    r->protocol = c->o->protocol;
    r->negatives = c->o->protocol == EVAL_SAMPLED ? c->N : 0;
    r->relevance_threshold = c->use_threshold ? c->threshold : NAN;
    memcpy(r->ks, c->ks, c->nks * sizeof *c->ks);
    r->nks = c->nks;
    for (size_t u = 0; u < c->U; u++)
        r->n_users += c->evaluated[u];
    r->users = malloc((r->n_users ? r->n_users : 1) * sizeof *r->users);
    r->metrics = calloc((M_NTOPK + B_N + 2) * c->nks + 3, sizeof *r->metrics);
    counts = malloc((c->I ? c->I : 1) * sizeof *counts);
    if (!r->users || !r->metrics || !counts)
        goto done;
    for (size_t u = 0, j = 0; u < c->U; u++)
        if (c->evaluated[u])
            r->users[j++] = (uint32_t)u;

    for (int kind = 0; kind < M_NTOPK; kind++)
        for (size_t j = 0; j < c->nks; j++)
            if (add_per_user(r, c, topk_names[kind], c->ks[j], slot_topk(c, kind, j)))
                goto done;
    if (add_per_user(r, c, "auc", 0, slot_auc(c)))
        goto done;
    for (size_t j = 0; j < c->nks; j++)
        add_global(r, c, j, counts, 0);
    for (size_t j = 0; j < c->nks; j++)
        if (add_per_user(r, c, "novelty", c->ks[j], slot_beyond(c, B_NOV, j)))
            goto done;
    for (size_t j = 0; c->want_genre && j < c->nks; j++)
        if (add_per_user(r, c, "diversity_genre", c->ks[j], slot_beyond(c, B_DIVG, j)))
            goto done;
    for (size_t j = 0; c->want_emb && j < c->nks; j++)
        if (add_per_user(r, c, "diversity_emb", c->ks[j], slot_beyond(c, B_DIVE, j)))
            goto done;
    for (size_t j = 0; j < c->nks; j++)
        if (add_per_user(r, c, "arp", c->ks[j], slot_beyond(c, B_ARP, j)))
            goto done;
    for (size_t j = 0; j < c->nks; j++)
        add_global(r, c, j, counts, 1);
    if (c->want_rating && add_ratings(r, c))
        goto done;
    rc = RS_OK;
done:
    free(counts);
    if (rc) {
        eval_result_free(r);
        r = NULL;
        rs_err_set(err, rc, "out of memory");
    }
    *out = r;
    return rc;
}

/* Checks the arguments and fills the option-derived fields of c. */
static int eval_setup(EvalCtx *c, const RsModel *m, const RsMatrix *train, const RsMatrix *test,
                      const EvalOptions *o, size_t *ks, RsErr *err)
{
    if (!m || !train || !test || !m->cls || !m->cls->score)
        return rs_err_set(err, RS_EUSAGE, "eval: model, train and test are required");
    if (train->U != m->U || train->I != m->I || test->U != m->U || test->I != m->I)
        return rs_err_set(err, RS_EUSAGE,
                          "eval: shapes differ (model %zux%zu, train %zux%zu, test %zux%zu)",
                          m->U, m->I, train->U, train->I, test->U, test->I);
    if (m->I > UINT32_MAX || m->U > UINT32_MAX)
        return rs_err_set(err, RS_EUSAGE, "eval: too many users or items");
    size_t nks = o->nks;
    if (nks > EVAL_MAX_KS)
        return rs_err_set(err, RS_EUSAGE, "eval: at most %d cutoffs", EVAL_MAX_KS);
    if (nks == 0) {
        ks[0] = 5;
        ks[1] = 10;
        ks[2] = 20;
        nks = 3;
    } else {
        memcpy(ks, o->ks, nks * sizeof *ks);
    }
    for (size_t j = 0; j < nks; j++)
        if (ks[j] < 1 || ks[j] > EVAL_MAX_K)
            return rs_err_set(err, RS_EUSAGE, "eval: cutoff %zu out of range (1..%d)", ks[j],
                              EVAL_MAX_K);
    if (o->protocol != EVAL_FULL && o->protocol != EVAL_SAMPLED)
        return rs_err_set(err, RS_EUSAGE, "eval: unknown protocol %d", (int)o->protocol);
    if (o->protocol == EVAL_SAMPLED && o->negatives < 1)
        return rs_err_set(err, RS_EUSAGE, "eval: the sampled protocol needs negatives >= 1");
    if (o->item_vec && o->item_vec_dim == 0)
        return rs_err_set(err, RS_EUSAGE, "eval: item_vec given without item_vec_dim");
    c->m = m;
    c->train = train;
    c->test = test;
    c->o = o;
    c->U = m->U;
    c->I = m->I;
    c->nks = sort_unique(ks, nks);
    c->ks = ks;
    c->maxK = ks[c->nks - 1];
    c->NV = (M_NTOPK + B_N) * c->nks + 1;
    c->N = o->protocol == EVAL_SAMPLED ? o->negatives : 0;
    c->use_threshold = !isnan(o->relevance_threshold);
    c->threshold = o->relevance_threshold;
    c->want_rating = (m->cls->flags & MODEL_RATINGS) && m->cls->predict && test->has_ratings;
    c->want_emb = o->item_vec != NULL;
    return RS_OK;
}

static int eval_alloc(EvalCtx *c, const RsCatalog *cat, int nthreads)
{
    size_t U = c->U ? c->U : 1, I = c->I ? c->I : 1;
    c->pop = malloc(I * sizeof *c->pop);
    c->evaluated = calloc(U, 1);
    c->vals = malloc(U * c->NV * sizeof *c->vals);
    c->sse = calloc(U, sizeof *c->sse);
    c->sae = calloc(U, sizeof *c->sae);
    c->n_rated = calloc(U, sizeof *c->n_rated);
    c->scratch = calloc((size_t)nthreads, sizeof *c->scratch);
    c->nthreads = nthreads;
    if (!c->pop || !c->evaluated || !c->vals || !c->sse ||
        !c->sae || !c->n_rated || !c->scratch)
        return RS_ENOMEM;
    size_t utrain = 0, maxrow = 0;
    for (size_t i = 0; i < c->I; i++)
        c->pop[i] = (uint32_t)rs_item_count(c->train, (uint32_t)i);
    for (size_t u = 0; u < c->U; u++) {
        utrain += rs_user_count(c->train, (uint32_t)u) > 0;
        size_t n = rs_user_count(c->test, (uint32_t)u);
        if (n > maxrow)
            maxrow = n;
    }
    c->log2_utrain = log2(utrain ? (double)utrain : 1.0);
    if (cat && cat->item_genres && cat->I == c->I &&
        genre_sets_build(cat, c->I, &c->genres, &c->want_genre))
        return RS_ENOMEM;
    for (int t = 0; t < nthreads; t++)
        if (scratch_init(&c->scratch[t], c, maxrow))
            return RS_ENOMEM;
    return RS_OK;
}

int eval_gpu_usable(const RsModel *m, EvalProtocol p, size_t maxK, RsErr *err)
{
    if (p != EVAL_FULL)
        return rs_err_set(err, RS_EUSAGE, "the GPU evaluates the full protocol only");
    if (!m->cls->factors)
        return rs_err_set(err, RS_EUSAGE, "%s has no GPU scoring (not a factor model)",
                          m->cls->name);
    if (maxK > GPU_TOPK_MAX)
        return rs_err_set(err, RS_EUSAGE, "the GPU ranks at most %d items per user (cutoff %zu)",
                          GPU_TOPK_MAX, maxK);
    return RS_OK;
}

/* Every test user's top-maxK list and the AUC pair counts of every test
 * entry, on the GPU, in one call (blocked there: no U x I matrix). */
static int eval_gpu_prepare(EvalCtx *c, RsErr *err)
{
    int rc = eval_gpu_usable(c->m, c->o->protocol, c->maxK, err);
    if (rc)
        return rc;
    float *X = NULL, *Y = NULL;
    size_t D = 0, rows = 0;
    uint32_t *users = NULL;
    if ((rc = c->m->cls->factors(c->m, &X, &Y, &D, err)))
        return rc;
    const RsMatrix *te = c->test;
    size_t U = c->U ? c->U : 1, Q = te->NNZ ? te->NNZ : 1;
    c->g_row = malloc(U * sizeof *c->g_row);
    users = malloc(U * sizeof *users);
    if (c->g_row && users)
        for (size_t u = 0; u < c->U; u++) {
            c->g_row[u] = SIZE_MAX;
            if (rs_user_count(te, (uint32_t)u) > 0) {
                c->g_row[u] = rows;
                users[rows++] = (uint32_t)u;
            }
        }
    size_t R = rows ? rows : 1;
    c->g_items = malloc(R * c->maxK * sizeof *c->g_items);
    c->g_scores = malloc(R * c->maxK * sizeof *c->g_scores);
    c->g_counts = malloc(R * sizeof *c->g_counts);
    c->g_above = malloc(Q * sizeof *c->g_above);
    c->g_ties = malloc(Q * sizeof *c->g_ties);
    c->g_qscore = malloc(Q * sizeof *c->g_qscore);
    if (!c->g_row || !users || !c->g_items || !c->g_scores || !c->g_counts || !c->g_above ||
        !c->g_ties || !c->g_qscore)
        rc = rs_err_set(err, RS_ENOMEM, "out of memory for the GPU's lists");
    else
        rc = gpu_topk_rank_factors(X, c->U, Y, c->I, D, c->train, users, rows, c->maxK,
                                   c->g_items, c->g_scores, c->g_counts, te, c->g_above,
                                   c->g_ties, c->g_qscore, err);
    free(X);
    free(Y);
    free(users);
    if (rc) { /* back to NULL: eval_user must not take the GPU path */
        free(c->g_items);
        c->g_items = NULL;
    }
    return rc;
}

static void eval_ctx_done(EvalCtx *c, int nthreads)
{
    free(c->g_row);
    free(c->g_items);
    free(c->g_scores);
    free(c->g_counts);
    free(c->g_above);
    free(c->g_ties);
    free(c->g_qscore);
    for (int t = 0; c->scratch && t < nthreads; t++)
        scratch_free(&c->scratch[t]);
    free(c->scratch);
    free(c->pop);
    free(c->evaluated);
    free(c->vals);
    free(c->sse);
    free(c->sae);
    free(c->n_rated);
    genre_sets_free(&c->genres);
}

int eval_model(const RsModel *m, const RsMatrix *train, const RsMatrix *test,
               const RsCatalog *cat, const EvalOptions *o, EvalResult **out, RsErr *err)
{
    EvalOptions defaults;
    EvalCtx c;
    size_t ks[EVAL_MAX_KS];
    int nthreads = 0, rc;
    *out = NULL;
    memset(&c, 0, sizeof c);
    if (!o) {
        eval_options_default(&defaults);
        o = &defaults;
    }
    if ((rc = eval_setup(&c, m, train, test, o, ks, err)) != RS_OK)
        return rc;
    nthreads = o->nthreads > 0 ? o->nthreads : rs_ncpus();
    if ((size_t)nthreads > c.U)
        nthreads = c.U ? (int)c.U : 1;
    atomic_init(&c.done, 0);
    atomic_init(&c.stop, 0);
    atomic_init(&c.failed, 0);
    if ((rc = eval_alloc(&c, cat, nthreads)) != RS_OK) {
        rs_err_set(err, rc, "out of memory");
        goto done;
    }
    if (o->device == RS_DEVICE_GPU) {
        if (o->progress && o->progress(o->progress_ctx, 0.0, "ranking on the GPU")) {
            rc = rs_err_set(err, RS_ECANCEL, "evaluation cancelled");
            goto done;
        }
        if ((rc = eval_gpu_prepare(&c, err)) != RS_OK)
            goto done;
    }
    rs_parallel_for(c.U, nthreads, 4, eval_range, &c);
    if (atomic_load(&c.failed)) {
        rc = c.err_code;
        if (err)
            *err = c.err;
        goto done;
    }
    if (atomic_load(&c.stop)) {
        rc = rs_err_set(err, RS_ECANCEL, "evaluation cancelled");
        goto done;
    }
    size_t n_users = 0;
    for (size_t u = 0; u < c.U; u++)
        n_users += c.evaluated[u];
    if (n_users == 0) {
        rc = rs_err_set(err, RS_EUSAGE,
                        "eval: no user to evaluate (no user has a relevant test item%s)",
                        c.use_threshold ? " at or above the relevance threshold" : "");
        goto done;
    }
    rc = build_result(&c, out, err);
    if (rc == RS_OK && o->progress)
        o->progress(o->progress_ctx, 1.0, "evaluating");
done:
    eval_ctx_done(&c, nthreads);
    return rc;
}

void eval_result_free(EvalResult *r)
{
    if (!r)
        return;
    for (size_t k = 0; r->metrics && k < r->n_metrics; k++)
        free(r->metrics[k].per_user);
    free(r->metrics);
    free(r->users);
    free(r);
}

const EvalMetric *eval_result_find(const EvalResult *r, const char *name)
{
    for (size_t k = 0; r && name && k < r->n_metrics; k++)
        if (strcmp(r->metrics[k].name, name) == 0)
            return &r->metrics[k];
    return NULL;
}

void eval_draw_negatives(const RsMatrix *a, const RsMatrix *b, uint32_t u, size_t N, RsRng *rng,
                         uint32_t *out)
{
    for (size_t s = 0; s < N; s++) {
        uint32_t j;
        int dup;
        do {
            j = (uint32_t)rng_below(rng, a->I);
            dup = 0;
            for (size_t q = 0; q < s && !dup; q++)
                dup = out[q] == j;
        } while (dup || rs_matrix_has(a, u, j) || (b && rs_matrix_has(b, u, j)));
        out[s] = j;
    }
}
