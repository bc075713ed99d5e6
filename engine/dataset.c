/*
 * dataset.c - building the CSR/CSC matrix from triplets, selecting parts of
 * it, and the catalogue's id lookup.
 *
 * Build: counting sort of the triplets by user into CSR (stable, so the last
 * of repeated (u, i) pairs can be kept), then each row sorted by item; CSC
 * by a second counting pass over CSR in user order, which leaves every
 * column sorted by user without a sort.
 *
 * CSC with several threads (rs_matrix_from_csr): the users are cut into
 * contiguous parts of about equal entries; each thread counts the items of
 * its part, the counts give every part its own start in every column
 * (after the earlier parts' entries), and each thread scatters its part
 * there. Columns come out exactly as the one-thread build_csc leaves them.
 */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

void rs_matrix_free(RsMatrix *m)
{
    if (!m)
        return;
    free(m->u_ptr);
    free(m->u_items);
    free(m->u_rating);
    free(m->u_ts);
    free(m->i_ptr);
    free(m->i_users);
    free(m->i_rating);
    free(m->i_to_u);
    free(m);
}

/* A matrix owning the given CSR arrays, with CSC arrays allocated (not
 * filled); NULL when out of memory (the CSR arrays are then freed). */
static RsMatrix *matrix_adopt(size_t U, size_t I, size_t *u_ptr, uint32_t *u_items,
                              float *u_rating, int64_t *u_ts)
{
    RsMatrix *m = calloc(1, sizeof *m);
    if (!m) {
        free(u_ptr);
        free(u_items);
        free(u_rating);
        free(u_ts);
        return NULL;
    }
    m->U = U;
    m->I = I;
    m->NNZ = u_ptr[U];
    m->u_ptr = u_ptr;
    m->u_items = u_items;
    m->u_rating = u_rating;
    m->u_ts = u_ts;
    size_t n = m->NNZ ? m->NNZ : 1;
    m->i_ptr = calloc(I + 1, sizeof *m->i_ptr);
    m->i_users = malloc(n * sizeof *m->i_users);
    m->i_rating = malloc(n * sizeof *m->i_rating);
    m->i_to_u = malloc(n * sizeof *m->i_to_u);
    if (!m->i_ptr || !m->i_users || !m->i_rating || !m->i_to_u) {
        rs_matrix_free(m);
        return NULL;
    }
    return m;
}

static RsMatrix *matrix_alloc(size_t U, size_t I, size_t nnz)
{
    RsMatrix *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->U = U;
    m->I = I;
    m->NNZ = nnz;
    size_t n = nnz ? nnz : 1;
    m->u_ptr = calloc(U + 1, sizeof *m->u_ptr);
    m->u_items = malloc(n * sizeof *m->u_items);
    m->u_rating = malloc(n * sizeof *m->u_rating);
    m->u_ts = malloc(n * sizeof *m->u_ts);
    m->i_ptr = calloc(I + 1, sizeof *m->i_ptr);
    m->i_users = malloc(n * sizeof *m->i_users);
    m->i_rating = malloc(n * sizeof *m->i_rating);
    m->i_to_u = malloc(n * sizeof *m->i_to_u);
    if (!m->u_ptr || !m->u_items || !m->u_rating || !m->u_ts || !m->i_ptr || !m->i_users ||
        !m->i_rating || !m->i_to_u) {
        rs_matrix_free(m);
        return NULL;
    }
    return m;
}

/* Fills the CSC arrays from CSR (columns come out sorted by user). */
static int build_csc(RsMatrix *m)
{
    size_t *next = malloc((m->I + 1) * sizeof *next);
    if (!next)
        return -1;
    memset(m->i_ptr, 0, (m->I + 1) * sizeof *m->i_ptr);
    for (size_t k = 0; k < m->NNZ; k++)
        m->i_ptr[m->u_items[k] + 1]++;
    for (size_t i = 0; i < m->I; i++)
        m->i_ptr[i + 1] += m->i_ptr[i];
    memcpy(next, m->i_ptr, (m->I + 1) * sizeof *next);
    for (size_t u = 0; u < m->U; u++)
        for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1]; k++) {
            size_t pos = next[m->u_items[k]]++;
            m->i_users[pos] = (uint32_t)u;
            m->i_rating[pos] = m->u_rating[k];
            m->i_to_u[pos] = k;
        }
    free(next);
    m->has_ratings = 0;
    for (size_t k = 0; k < m->NNZ && !m->has_ratings; k++)
        m->has_ratings = !isnan(m->u_rating[k]);
    return 0;
}

/* The parallel CSC build over nparts parts of the users (file comment). */
typedef struct CscBuild {
    RsMatrix *m;
    size_t nparts;
    size_t *first;      /* (nparts + 1) first user of each part */
    size_t *next;       /* (nparts, I) entries of each item in each part; then
                         * where the part's next entry of the item goes */
    int *bad;           /* (nparts) a row of the part unsorted or out of range */
    int *rated;         /* (nparts) the part has a rating */
} CscBuild;

static void csc_count(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    CscBuild *b = ctx;
    const RsMatrix *m = b->m;
    for (size_t p = begin; p < end; p++) {
        size_t *cnt = b->next + p * m->I;
        int bad = 0, rated = 0;
        for (size_t u = b->first[p]; u < b->first[p + 1]; u++) {
            size_t lo = m->u_ptr[u], hi = m->u_ptr[u + 1];
            for (size_t k = lo; k < hi; k++) {
                uint32_t i = m->u_items[k];
                if (i >= m->I || (k > lo && m->u_items[k - 1] >= i)) {
                    bad = 1;
                    break;
                }
                cnt[i]++;
                rated |= !isnan(m->u_rating[k]);
            }
        }
        b->bad[p] = bad;
        b->rated[p] = rated;
    }
}

static void csc_scatter(void *ctx, size_t begin, size_t end, int tid)
{
    (void)tid;
    CscBuild *b = ctx;
    RsMatrix *m = b->m;
    for (size_t p = begin; p < end; p++) {
        size_t *next = b->next + p * m->I;
        for (size_t u = b->first[p]; u < b->first[p + 1]; u++)
            for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1]; k++) {
                size_t pos = next[m->u_items[k]]++;
                m->i_users[pos] = (uint32_t)u;
                m->i_rating[pos] = m->u_rating[k];
                m->i_to_u[pos] = k;
            }
    }
}

/* Checks the CSR side of m and fills its CSC side with nthreads threads.
 * RS_EUSAGE for a bad row, RS_ENOMEM. */
static int build_csc_parallel(RsMatrix *m, int nthreads, RsErr *err)
{
    size_t P = nthreads > 1 ? (size_t)nthreads : 1;
    if (P > m->U)
        P = m->U ? m->U : 1;
    CscBuild b = {.m = m, .nparts = P};
    b.first = malloc((P + 1) * sizeof *b.first);
    b.next = calloc(P * m->I + 1, sizeof *b.next);
    b.bad = calloc(P, sizeof *b.bad);
    b.rated = calloc(P, sizeof *b.rated);
    int rc = RS_OK;
    if (!b.first || !b.next || !b.bad || !b.rated) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory building a %zu-entry matrix", m->NNZ);
        goto done;
    }
    /* part p: the users from the first whose row starts at or after p/P of
     * the entries */
    b.first[0] = 0;
    for (size_t p = 1; p < P; p++) {
        size_t target = m->NNZ / P * p, u = b.first[p - 1];
        while (u < m->U && m->u_ptr[u] < target)
            u++;
        b.first[p] = u;
    }
    b.first[P] = m->U;
    rs_parallel_for(P, nthreads, 1, csc_count, &b);
    m->has_ratings = 0;
    for (size_t p = 0; p < P; p++) {
        if (b.bad[p]) {
            rc = rs_err_set(err, RS_EUSAGE, "matrix rows not sorted, repeated or out of range "
                                            "(%zu items)", m->I);
            goto done;
        }
        m->has_ratings |= b.rated[p];
    }
    /* column starts, then each part's start within each column */
    m->i_ptr[0] = 0;
    for (size_t i = 0; i < m->I; i++) {
        size_t at = m->i_ptr[i];
        for (size_t p = 0; p < P; p++) {
            size_t c = b.next[p * m->I + i];
            b.next[p * m->I + i] = at;
            at += c;
        }
        m->i_ptr[i + 1] = at;
    }
    rs_parallel_for(P, nthreads, 1, csc_scatter, &b);
done:
    free(b.first);
    free(b.next);
    free(b.bad);
    free(b.rated);
    return rc;
}

int rs_matrix_from_csr(size_t U, size_t I, size_t *u_ptr, uint32_t *u_items, float *u_rating,
                       int64_t *u_ts, int nthreads, RsMatrix **out, RsErr *err)
{
    *out = NULL;
    int ok = U < UINT32_MAX && I < UINT32_MAX && u_ptr[0] == 0;
    for (size_t u = 0; ok && u < U; u++)
        ok = u_ptr[u] <= u_ptr[u + 1];
    if (!ok || u_ptr[U] >= UINT32_MAX) {
        free(u_ptr);
        free(u_items);
        free(u_rating);
        free(u_ts);
        return rs_err_set(err, RS_EUSAGE, "bad CSR matrix (%zu x %zu)", U, I);
    }
    RsMatrix *m = matrix_adopt(U, I, u_ptr, u_items, u_rating, u_ts);
    if (!m)
        return rs_err_set(err, RS_ENOMEM, "out of memory building a matrix");
    int rc = build_csc_parallel(m, nthreads, err);
    if (rc) {
        rs_matrix_free(m);
        return rc;
    }
    *out = m;
    return RS_OK;
}

typedef struct Entry {
    uint32_t i;
    uint32_t order; /* position in the input, for "last one wins" */
    float r;
    int64_t ts;
} Entry;

static int cmp_entry(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    if (x->i != y->i)
        return x->i < y->i ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

int rs_matrix_build(size_t U, size_t I, const RsTriplet *t, size_t n, RsMatrix **out,
                    RsErr *err)
{
    *out = NULL;
    if (U >= UINT32_MAX || I >= UINT32_MAX || n >= UINT32_MAX)
        return rs_err_set(err, RS_EUSAGE, "matrix too large (%zu x %zu, %zu entries)", U, I, n);
    for (size_t k = 0; k < n; k++)
        if (t[k].u >= U || t[k].i >= I)
            return rs_err_set(err, RS_EUSAGE, "entry %zu: (%u, %u) outside %zu x %zu", k,
                              t[k].u, t[k].i, U, I);
    /* Fast path: triplets already in strictly increasing (u, i) order (as
     * the store returns them) go straight into CSR. */
    int ordered = 1;
    for (size_t k = 1; k < n && ordered; k++)
        ordered = t[k - 1].u < t[k].u || (t[k - 1].u == t[k].u && t[k - 1].i < t[k].i);
    if (ordered) {
        RsMatrix *m = matrix_alloc(U, I, n);
        if (!m)
            return rs_err_set(err, RS_ENOMEM, "out of memory building a %zu-entry matrix", n);
        for (size_t k = 0; k < n; k++) {
            m->u_ptr[t[k].u + 1]++;
            m->u_items[k] = t[k].i;
            m->u_rating[k] = t[k].rating;
            m->u_ts[k] = t[k].ts;
        }
        for (size_t u = 0; u < U; u++)
            m->u_ptr[u + 1] += m->u_ptr[u];
        if (build_csc(m)) {
            rs_matrix_free(m);
            return rs_err_set(err, RS_ENOMEM, "out of memory building a %zu-entry matrix", n);
        }
        *out = m;
        return RS_OK;
    }
    size_t *start = calloc(U + 1, sizeof *start); /* (U + 1) row offsets in e */
    size_t *next = malloc((U + 1) * sizeof *next);
    size_t *len = malloc((U + 1) * sizeof *len);  /* row lengths after dedupe */
    Entry *e = malloc((n ? n : 1) * sizeof *e);   /* (n) entries grouped by user */
    RsMatrix *m = NULL;
    int rc = RS_OK;
    if (!start || !next || !len || !e) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory building a %zu-entry matrix", n);
        goto done;
    }
    /* counting sort by user (stable) */
    for (size_t k = 0; k < n; k++)
        start[t[k].u + 1]++;
    for (size_t u = 0; u < U; u++)
        start[u + 1] += start[u];
    memcpy(next, start, (U + 1) * sizeof *next);
    for (size_t k = 0; k < n; k++)
        e[next[t[k].u]++] = (Entry){t[k].i, (uint32_t)k, t[k].rating, t[k].ts};
    /* sort each row by item (then input order) and keep the last repeat */
    size_t nnz = 0;
    for (size_t u = 0; u < U; u++) {
        Entry *row = e + start[u];
        size_t n_row = start[u + 1] - start[u], w = 0;
        int sorted = 1; /* rows loaded from the store arrive sorted */
        for (size_t k = 1; k < n_row && sorted; k++)
            sorted = row[k - 1].i < row[k].i;
        if (!sorted)
            qsort(row, n_row, sizeof *row, cmp_entry);
        for (size_t k = 0; k < n_row; k++) {
            if (w > 0 && row[w - 1].i == row[k].i)
                row[w - 1] = row[k];
            else
                row[w++] = row[k];
        }
        len[u] = w;
        nnz += w;
    }
    if (!(m = matrix_alloc(U, I, nnz))) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory building a %zu-entry matrix", n);
        goto done;
    }
    size_t dst = 0;
    for (size_t u = 0; u < U; u++) {
        m->u_ptr[u] = dst;
        for (size_t k = 0; k < len[u]; k++, dst++) {
            const Entry *x = &e[start[u] + k];
            m->u_items[dst] = x->i;
            m->u_rating[dst] = x->r;
            m->u_ts[dst] = x->ts;
        }
    }
    m->u_ptr[U] = dst;
    if (build_csc(m)) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory building a %zu-entry matrix", n);
        rs_matrix_free(m);
        m = NULL;
    }
done:
    free(start);
    free(next);
    free(len);
    free(e);
    *out = m;
    return rc;
}

int rs_matrix_select(const RsMatrix *src, const uint8_t *part, uint8_t which, RsMatrix **out,
                     RsErr *err)
{
    *out = NULL;
    size_t nnz = 0;
    for (size_t k = 0; k < src->NNZ; k++)
        nnz += part[k] == which;
    RsMatrix *m = matrix_alloc(src->U, src->I, nnz);
    if (!m)
        return rs_err_set(err, RS_ENOMEM, "out of memory selecting %zu entries", nnz);
    size_t dst = 0;
    for (size_t u = 0; u < src->U; u++) {
        m->u_ptr[u] = dst;
        for (size_t k = src->u_ptr[u]; k < src->u_ptr[u + 1]; k++)
            if (part[k] == which) {
                m->u_items[dst] = src->u_items[k];
                m->u_rating[dst] = src->u_rating[k];
                m->u_ts[dst] = src->u_ts[k];
                dst++;
            }
    }
    m->u_ptr[src->U] = dst;
    if (build_csc(m)) {
        rs_matrix_free(m);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    *out = m;
    return RS_OK;
}

size_t rs_matrix_find(const RsMatrix *m, uint32_t u, uint32_t i)
{
    if (u >= m->U)
        return (size_t)-1;
    size_t lo = m->u_ptr[u], hi = m->u_ptr[u + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->u_items[mid] < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->u_ptr[u + 1] && m->u_items[lo] == i ? lo : (size_t)-1;
}

double rs_matrix_mean_rating(const RsMatrix *m)
{
    double sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < m->NNZ; k++)
        if (!isnan(m->u_rating[k])) {
            sum += m->u_rating[k];
            n++;
        }
    return n ? sum / (double)n : 0.0;
}

/* ---- catalogue ----------------------------------------------------------- */

int rs_catalog_new(size_t U, size_t I, RsCatalog **out, RsErr *err)
{
    RsCatalog *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    c->U = U;
    c->I = I;
    c->user_ext = calloc(U ? U : 1, sizeof *c->user_ext);
    c->item_ext = calloc(I ? I : 1, sizeof *c->item_ext);
    c->user_db = calloc(U ? U : 1, sizeof *c->user_db);
    c->item_db = calloc(I ? I : 1, sizeof *c->item_db);
    c->item_title = calloc(I ? I : 1, sizeof *c->item_title);
    c->item_genres = calloc(I ? I : 1, sizeof *c->item_genres);
    c->item_tags = calloc(I ? I : 1, sizeof *c->item_tags);
    c->item_desc = calloc(I ? I : 1, sizeof *c->item_desc);
    c->item_year = calloc(I ? I : 1, sizeof *c->item_year);
    if (!c->user_ext || !c->item_ext || !c->user_db || !c->item_db || !c->item_title ||
        !c->item_genres || !c->item_tags || !c->item_desc || !c->item_year) {
        rs_catalog_free(c);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    *out = c;
    return RS_OK;
}

static void free_strs(char **v, size_t n)
{
    for (size_t k = 0; v && k < n; k++)
        free(v[k]);
    free(v);
}

void rs_catalog_free(RsCatalog *c)
{
    if (!c)
        return;
    free_strs(c->user_ext, c->U);
    free_strs(c->item_ext, c->I);
    free_strs(c->item_title, c->I);
    free_strs(c->item_genres, c->I);
    free_strs(c->item_tags, c->I);
    free_strs(c->item_desc, c->I);
    free(c->user_db);
    free(c->item_db);
    free(c->item_year);
    free(c->user_hash);
    free(c->item_hash);
    free(c);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

static int build_hash(char **keys, size_t n, uint32_t **table, size_t *cap, const char *what,
                      RsErr *err)
{
    size_t c = 16;
    while (c < 2 * n)
        c *= 2;
    uint32_t *t = calloc(c, sizeof *t);
    if (!t)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        if (!keys[k]) {
            free(t);
            return rs_err_set(err, RS_EUSAGE, "%s %zu has no external id", what, k);
        }
        size_t pos = hash_str(keys[k]) & (c - 1);
        while (t[pos]) {
            if (!strcmp(keys[t[pos] - 1], keys[k])) {
                free(t);
                return rs_err_set(err, RS_EUSAGE, "%s id \"%s\" appears twice", what, keys[k]);
            }
            pos = (pos + 1) & (c - 1);
        }
        t[pos] = (uint32_t)k + 1;
    }
    free(*table);
    *table = t;
    *cap = c;
    return RS_OK;
}

int rs_catalog_finish(RsCatalog *c, RsErr *err)
{
    int rc = build_hash(c->user_ext, c->U, &c->user_hash, &c->user_hcap, "user", err);
    return rc ? rc : build_hash(c->item_ext, c->I, &c->item_hash, &c->item_hcap, "item", err);
}

static long lookup(char **keys, const uint32_t *t, size_t cap, const char *ext)
{
    if (!t || !ext)
        return -1;
    size_t pos = hash_str(ext) & (cap - 1);
    while (t[pos]) {
        if (!strcmp(keys[t[pos] - 1], ext))
            return (long)t[pos] - 1;
        pos = (pos + 1) & (cap - 1);
    }
    return -1;
}

long rs_catalog_user(const RsCatalog *c, const char *ext)
{
    return lookup(c->user_ext, c->user_hash, c->user_hcap, ext);
}

long rs_catalog_item(const RsCatalog *c, const char *ext)
{
    return lookup(c->item_ext, c->item_hash, c->item_hcap, ext);
}

void rs_dataset_free(RsDataset *d)
{
    if (!d)
        return;
    rs_catalog_free(d->cat);
    rs_matrix_free(d->all);
    free(d);
}
