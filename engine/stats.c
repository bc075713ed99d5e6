/*
 * stats.c - paired bootstrap interval and Wilcoxon signed-rank test
 * (contracts and sources in stats.h).
 */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* d[k] = b - a over the pairs where both are finite; returns the count.
 * *out is malloc'd (NULL and 0 on failure: *oom set). */
static size_t paired_diffs(const double *a, const double *b, size_t n, double **out, int *oom)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    size_t m = 0;
    *oom = d == NULL;
    *out = d;
    for (size_t k = 0; d && k < n; k++)
        if (isfinite(a[k]) && isfinite(b[k]))
            d[m++] = b[k] - a[k];
    return m;
}

static int cmp_double(const void *x, const void *y)
{
    double p = *(const double *)x, q = *(const double *)y;
    return (p > q) - (p < q);
}

/* Quantile q of sorted x[0..n), Hyndman & Fan (1996) definition 7:
 * h = (n - 1) q, linear between x[floor h] and x[floor h + 1]. */
static double quantile_sorted(const double *x, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t f = (size_t)floor(h);
    if (f + 1 >= n)
        return x[n - 1];
    return x[f] + (h - (double)f) * (x[f + 1] - x[f]);
}

int stats_paired_bootstrap(const double *a, const double *b, size_t n, size_t R, double level,
                           uint64_t seed, StatsBootstrap *out, RsErr *err)
{
    double *d = NULL, *means = NULL;
    int oom, rc = RS_OK;
    memset(out, 0, sizeof *out);
    if (R < 1)
        return rs_err_set(err, RS_EUSAGE, "bootstrap: need at least one replicate");
    if (!(level > 0.0 && level < 1.0))
        return rs_err_set(err, RS_EUSAGE, "bootstrap: level %g not in (0, 1)", level);
    size_t m = paired_diffs(a, b, n, &d, &oom);
    if (oom) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    if (m == 0) {
        rc = rs_err_set(err, RS_EUSAGE, "bootstrap: no pair of finite values");
        goto done;
    }
    means = malloc(R * sizeof *means);
    if (!means) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    double sum = 0.0;
    for (size_t k = 0; k < m; k++)
        sum += d[k];
    /* each replicate: the mean of m differences drawn with replacement */
    RsRng rng;
    rng_seed(&rng, seed);
    for (size_t r = 0; r < R; r++) {
        double s = 0.0;
        for (size_t k = 0; k < m; k++)
            s += d[rng_below(&rng, m)];
        means[r] = s / (double)m;
    }
    qsort(means, R, sizeof *means, cmp_double);
    out->n = m;
    out->mean_diff = sum / (double)m;
    out->lo = quantile_sorted(means, R, (1.0 - level) / 2.0);
    out->hi = quantile_sorted(means, R, (1.0 + level) / 2.0);
    out->level = level;
    out->replicates = R;
done:
    free(d);
    free(means);
    return rc;
}

typedef struct AbsIdx {
    double v;
    int pos;
} AbsIdx;

static int cmp_abs(const void *x, const void *y)
{
    const AbsIdx *p = x, *q = y;
    return (p->v > q->v) - (p->v < q->v);
}

/* |d| ranked ascending with average ranks for ties (ranks 1..n):
 * fills w_plus, w_minus and the tie term sum (t^3 - t); returns whether any
 * tie exists. d must be free of zeros; order is scratch (n). */
static int signed_ranks(const double *d, size_t n, AbsIdx *order, double *w_plus,
                        double *w_minus, double *tie_term)
{
    int ties = 0;
    for (size_t k = 0; k < n; k++)
        order[k] = (AbsIdx){fabs(d[k]), d[k] > 0};
    qsort(order, n, sizeof *order, cmp_abs);
    *w_plus = *w_minus = *tie_term = 0.0;
    for (size_t s = 0; s < n;) {
        size_t e = s + 1;
        while (e < n && order[e].v == order[s].v)
            e++;
        double t = (double)(e - s), rank = ((double)s + 1.0 + (double)e) / 2.0;
        if (e - s > 1) {
            ties = 1;
            *tie_term += t * t * t - t;
        }
        for (size_t k = s; k < e; k++) {
            if (order[k].pos)
                *w_plus += rank;
            else
                *w_minus += rank;
        }
        s = e;
    }
    return ties;
}

/* P(W+ <= w) under H0 for n untied ranks: the number of subsets of
 * {1..n} with sum <= w over 2^n (counts by dynamic programming over the
 * ranks; exact in double since n <= 25 keeps them below 2^53). */
static double exact_cdf(size_t n, double w)
{
    size_t max = n * (n + 1) / 2;
    double count[STATS_WILCOXON_EXACT_MAX * (STATS_WILCOXON_EXACT_MAX + 1) / 2 + 1];
    memset(count, 0, (max + 1) * sizeof *count);
    count[0] = 1.0;
    for (size_t r = 1; r <= n; r++) /* add rank r to every subset so far */
        for (size_t s = r * (r + 1) / 2; s >= r; s--)
            count[s] += count[s - r];
    double below = 0.0, total = ldexp(1.0, (int)n);
    for (size_t s = 0; s <= max && (double)s <= w; s++)
        below += count[s];
    return below / total;
}

int stats_wilcoxon(const double *a, const double *b, size_t n, StatsWilcoxon *out, RsErr *err)
{
    double *d = NULL;
    AbsIdx *order = NULL;
    int oom, rc = RS_OK;
    memset(out, 0, sizeof *out);
    out->z = NAN;
    size_t m = paired_diffs(a, b, n, &d, &oom);
    if (oom) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    if (m == 0) {
        rc = rs_err_set(err, RS_EUSAGE, "wilcoxon: no pair of finite values");
        goto done;
    }
    out->n = m;
    size_t nz = 0; /* drop zero differences */
    for (size_t k = 0; k < m; k++)
        if (d[k] != 0.0)
            d[nz++] = d[k];
    out->n_nonzero = nz;
    if (nz == 0) {
        out->p = 1.0;
        out->exact = 1;
        goto done;
    }
    order = malloc(nz * sizeof *order);
    if (!order) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    double tie_term;
    int ties = signed_ranks(d, nz, order, &out->w_plus, &out->w_minus, &tie_term);
    if (nz <= STATS_WILCOXON_EXACT_MAX && !ties) {
        double w = out->w_plus < out->w_minus ? out->w_plus : out->w_minus;
        double p = 2.0 * exact_cdf(nz, w);
        out->p = p < 1.0 ? p : 1.0;
        out->exact = 1;
        goto done;
    }
    /* large-sample approximation with the tie-corrected variance and a
     * continuity correction (Hollander & Wolfe 1999, section 3.1) */
    double N = (double)nz;
    double mean = N * (N + 1.0) / 4.0;
    double var = N * (N + 1.0) * (2.0 * N + 1.0) / 24.0 - tie_term / 48.0;
    double dev = fabs(out->w_plus - mean) - 0.5;
    out->z = (dev > 0.0 ? dev : 0.0) / sqrt(var);
    out->p = erfc(out->z / sqrt(2.0));
done:
    free(d);
    free(order);
    return rc;
}
