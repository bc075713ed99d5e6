/*
 * stats.h - paired significance tests for comparing two runs user by user:
 * a paired bootstrap confidence interval of the mean difference and the
 * Wilcoxon signed-rank test.
 *
 * Both take two arrays a[0..n), b[0..n) of per-user values aligned by user
 * (EvalMetric.per_user of two EvalResults over the same users) and look at
 * the differences d = b - a; pairs where either value is not finite (NAN
 * from a user for whom the metric is undefined) are left out. Pure
 * functions: thread-safe, deterministic for a given seed.
 */
#ifndef RS_STATS_H
#define RS_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define STATS_BOOTSTRAP_DEFAULT_R 1000

typedef struct StatsBootstrap {
    size_t n;            /* pairs used */
    double mean_diff;    /* mean of b - a over them */
    double lo, hi;       /* percentile interval of the mean difference */
    double level;        /* e.g. 0.95 */
    size_t replicates;   /* R */
} StatsBootstrap;

/* Paired bootstrap (Efron & Tibshirani 1993, "An Introduction to the
 * Bootstrap", ch. 13, percentile interval): R times, draw n users with
 * replacement (an RsRng seeded with seed) and take the mean of their
 * differences; lo and hi are the (1 - level)/2 and (1 + level)/2 quantiles
 * of those R means (linear interpolation between order statistics,
 * Hyndman & Fan 1996 type 7, numpy's default). Cost O(R n).
 * RS_EUSAGE when no pair is usable, R < 1 or level is not in (0, 1);
 * RS_ENOMEM. */
int stats_paired_bootstrap(const double *a, const double *b, size_t n, size_t R, double level,
                           uint64_t seed, StatsBootstrap *out, RsErr *err);

#define STATS_WILCOXON_EXACT_MAX 25

typedef struct StatsWilcoxon {
    size_t n;            /* pairs used */
    size_t n_nonzero;    /* after dropping zero differences */
    double w_plus;       /* sum of the ranks of |d| for d > 0 */
    double w_minus;      /* ... for d < 0 */
    double z;            /* normal statistic (continuity-corrected, >= 0); NAN when exact */
    double p;            /* two-sided p-value */
    int exact;           /* p from the exact null distribution */
} StatsWilcoxon;

/* Wilcoxon signed-rank test of "the differences b - a are symmetric about
 * 0" (Wilcoxon 1945; Hollander & Wolfe 1999, "Nonparametric Statistical
 * Methods", 2nd ed., section 3.1), two-sided:
 *   - zero differences are dropped (Wilcoxon's own rule; scipy's
 *     zero_method="wilcox"); |d| are ranked with average ranks for ties
 *     (exact equality);
 *   - n_nonzero <= STATS_WILCOXON_EXACT_MAX and no tied |d|: exact p from
 *     the null distribution of W+ (all 2^n sign patterns equally likely),
 *     p = min(1, 2 P(W+ <= min(W+, W-)));
 *   - otherwise the normal approximation with E W+ = n(n+1)/4,
 *     Var W+ = n(n+1)(2n+1)/24 - sum_t (t^3 - t)/48 over groups of t tied
 *     |d|, continuity correction 1/2:
 *     z = max(0, |W+ - E W+| - 1/2) / sqrt(Var), p = erfc(z / sqrt 2).
 * All differences zero gives p = 1. RS_EUSAGE when no pair is usable;
 * RS_ENOMEM. */
int stats_wilcoxon(const double *a, const double *b, size_t n, StatsWilcoxon *out, RsErr *err);

#endif
