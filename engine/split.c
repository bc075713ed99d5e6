/* split.c - seeded train/test/validation splits and k folds. */
#include "split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

static const char *const method_names[] = {"random", "loo", "temporal", "file", "kfold"};

int split_parse_method(const char *s, SplitMethod *out)
{
    for (size_t k = 0; k < RS_ARRAY_LEN(method_names); k++)
        if (!strcmp(s, method_names[k])) {
            *out = (SplitMethod)k;
            return 0;
        }
    return -1;
}

const char *split_method_name(SplitMethod m)
{
    return (size_t)m < RS_ARRAY_LEN(method_names) ? method_names[m] : "?";
}


/* Marks round(frac * n) random positions of each user's entries whose part
 * is `from` as `to`; at least one when frac > 0 and two or more are there.
 * The RNG is seeded per user, so a user's split does not depend on others. */
static int holdout(const RsMatrix *m, double frac, uint64_t seed, uint8_t from, uint8_t to,
                   uint8_t *part, RsErr *err)
{
    size_t maxrow = 0;
    for (size_t u = 0; u < m->U; u++)
        if (rs_user_count(m, (uint32_t)u) > maxrow)
            maxrow = rs_user_count(m, (uint32_t)u);
    size_t *idx = malloc((maxrow ? maxrow : 1) * sizeof *idx);
    if (!idx)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t u = 0; u < m->U; u++) {
        size_t n = 0;
        for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1]; k++)
            if (part[k] == from)
                idx[n++] = k;
        RsRng r;
        rng_seed(&r, seed ^ (0x9E3779B97F4A7C15ull * (u + 1)));
        rng_shuffle(&r, idx, n, sizeof *idx);
        size_t nt = (size_t)floor(frac * (double)n + 0.5);
        if (nt == 0 && frac > 0 && n >= 2)
            nt = 1;
        if (nt >= n && n > 0)
            nt = n - 1; /* keep at least one for training */
        for (size_t k = 0; k < nt; k++)
            part[idx[k]] = to;
    }
    free(idx);
    return RS_OK;
}

/* The position of the latest entry of user u among those with part `from`
 * (ties by larger item index), or (size_t)-1. */
static size_t latest(const RsMatrix *m, size_t u, const uint8_t *part, uint8_t from)
{
    size_t best = (size_t)-1;
    for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1]; k++) {
        if (part[k] != from)
            continue;
        if (best == (size_t)-1 || m->u_ts[k] > m->u_ts[best] ||
            (m->u_ts[k] == m->u_ts[best] && m->u_items[k] > m->u_items[best]))
            best = k;
    }
    return best;
}

static int need_time(const RsMatrix *m, const char *what, RsErr *err)
{
    for (size_t k = 0; k < m->NNZ; k++)
        if (m->u_ts[k] == RS_NO_TS)
            return rs_err_set(err, RS_EUSAGE,
                              "the %s split needs timestamps, and some interactions have none",
                              what);
    return RS_OK;
}

static int leave_last_out(const RsMatrix *m, int valid, uint8_t *part, RsErr *err)
{
    int rc = need_time(m, "loo", err);
    if (rc)
        return rc;
    for (size_t u = 0; u < m->U; u++) {
        if (rs_user_count(m, (uint32_t)u) < 2)
            continue;
        part[latest(m, u, part, SPLIT_TRAIN)] = SPLIT_TEST;
        if (valid && rs_user_count(m, (uint32_t)u) >= 3)
            part[latest(m, u, part, SPLIT_TRAIN)] = SPLIT_VALID;
    }
    return RS_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The timestamp at the (1 - frac) quantile: interactions at or after it
 * are the latest frac. */
static int64_t time_cut(const RsMatrix *m, double frac, int *ok)
{
    int64_t *ts = malloc((m->NNZ ? m->NNZ : 1) * sizeof *ts);
    *ok = ts != NULL;
    if (!ts)
        return 0;
    memcpy(ts, m->u_ts, m->NNZ * sizeof *ts);
    qsort(ts, m->NNZ, sizeof *ts, cmp_i64);
    size_t k = (size_t)floor((1.0 - frac) * (double)m->NNZ);
    if (k >= m->NNZ)
        k = m->NNZ - 1;
    int64_t cut = ts[k];
    free(ts);
    return cut;
}

static int temporal(const RsMatrix *m, double test_frac, double valid_frac, uint8_t *part,
                    RsErr *err)
{
    int rc = need_time(m, "temporal", err), ok;
    if (rc)
        return rc;
    if (m->NNZ == 0)
        return RS_OK;
    int64_t cut = time_cut(m, test_frac, &ok);
    int64_t vcut = valid_frac > 0 ? time_cut(m, test_frac + valid_frac, &ok) : INT64_MAX;
    if (!ok)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; k < m->NNZ; k++)
        part[k] = m->u_ts[k] >= cut ? SPLIT_TEST : m->u_ts[k] >= vcut ? SPLIT_VALID : SPLIT_TRAIN;
    return RS_OK;
}

int split_make(const RsMatrix *m, const SplitParams *p, uint8_t *part, RsErr *err)
{
    memset(part, SPLIT_TRAIN, m->NNZ);
    if ((p->method == SPLIT_RANDOM || p->method == SPLIT_TEMPORAL) &&
        !(p->test_frac > 0 && p->test_frac < 1))
        return rs_err_set(err, RS_EUSAGE, "--test-frac must be between 0 and 1 (got %g)",
                          p->test_frac);
    if (p->valid_frac < 0 || p->valid_frac >= 1 || p->test_frac + p->valid_frac >= 1)
        return rs_err_set(err, RS_EUSAGE, "--valid-frac must be in [0, 1 - test-frac) (got %g)",
                          p->valid_frac);
    int rc;
    switch (p->method) {
    case SPLIT_RANDOM:
        rc = holdout(m, p->test_frac, p->seed, SPLIT_TRAIN, SPLIT_TEST, part, err);
        if (!rc && p->valid_frac > 0)
            rc = split_add_validation(m, p->valid_frac / (1 - p->test_frac), p->seed, part, err);
        return rc;
    case SPLIT_LOO:
        return leave_last_out(m, p->valid_frac > 0, part, err);
    case SPLIT_TEMPORAL:
        return temporal(m, p->test_frac, p->valid_frac, part, err);
    default:
        return rs_err_set(err, RS_EUSAGE, "split_make: method %s is made elsewhere",
                          split_method_name(p->method));
    }
}

int split_add_validation(const RsMatrix *m, double valid_frac, uint64_t seed, uint8_t *part,
                         RsErr *err)
{
    return holdout(m, valid_frac, seed ^ 0x5851F42D4C957F2Dull, SPLIT_TRAIN, SPLIT_VALID, part,
                   err);
}

int split_kfold(const RsMatrix *m, int k, uint64_t seed, uint8_t *fold, RsErr *err)
{
    if (k < 2 || k > 100)
        return rs_err_set(err, RS_EUSAGE, "--folds must be between 2 and 100 (got %d)", k);
    if ((size_t)k > m->NNZ)
        return rs_err_set(err, RS_EUSAGE, "%d folds for %zu interactions", k, m->NNZ);
    size_t *idx = malloc((m->NNZ ? m->NNZ : 1) * sizeof *idx);
    if (!idx)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t j = 0; j < m->NNZ; j++)
        idx[j] = j;
    RsRng r;
    rng_seed(&r, seed);
    rng_shuffle(&r, idx, m->NNZ, sizeof *idx);
    /* fold f gets positions [f*n/k, (f+1)*n/k) of the shuffled order */
    for (int f = 0; f < k; f++) {
        size_t b = (size_t)f * m->NNZ / (size_t)k, e = (size_t)(f + 1) * m->NNZ / (size_t)k;
        for (size_t j = b; j < e; j++)
            fold[idx[j]] = (uint8_t)f;
    }
    free(idx);
    return RS_OK;
}

void split_counts(const uint8_t *part, size_t nnz, size_t *train, size_t *test, size_t *valid)
{
    size_t c[3] = {0};
    for (size_t k = 0; k < nnz; k++)
        if (part[k] < 3)
            c[part[k]]++;
    *train = c[0];
    *test = c[1];
    *valid = c[2];
}
