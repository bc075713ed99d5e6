/*
 * dataset.h - interactions in memory: a sparse user x item matrix kept both
 * as CSR (user -> items) and CSC (item -> users), with ratings and timestamps
 * alongside, plus the catalogue that maps dense indices back to external ids
 * and carries item metadata for content models.
 *
 * Indices are dense: users 0..U-1, items 0..I-1. Within a user's CSR row the
 * items are sorted ascending; within an item's CSC column the users are
 * sorted ascending. Index arithmetic uses size_t (U * I can exceed 2^31).
 *
 * A matrix is immutable once built and may be read from any number of
 * threads.
 */
#ifndef RS_DATASET_H
#define RS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define RS_NO_TS INT64_MIN

typedef struct RsMatrix {
    size_t U, I, NNZ;
    /* CSR */
    size_t *u_ptr;      /* (U + 1) row starts */
    uint32_t *u_items;  /* (NNZ) item index of each entry */
    float *u_rating;    /* (NNZ) rating, NAN when implicit */
    int64_t *u_ts;      /* (NNZ) Unix seconds, RS_NO_TS when unknown */
    /* CSC */
    size_t *i_ptr;      /* (I + 1) column starts */
    uint32_t *i_users;  /* (NNZ) user index of each entry */
    float *i_rating;    /* (NNZ) */
    size_t *i_to_u;     /* (NNZ) position of each CSC entry in the CSR arrays */
    int has_ratings;    /* at least one entry has a rating */
} RsMatrix;

/* One interaction, for building matrices. */
typedef struct RsTriplet {
    uint32_t u, i;
    float rating;       /* NAN when implicit */
    int64_t ts;         /* RS_NO_TS when unknown */
} RsTriplet;

/* Builds a U x I matrix from n triplets (any order; a repeated (u, i) keeps
 * the last one given). On success *out is owned by the caller
 * (rs_matrix_free). RS_EUSAGE for an index out of range, RS_ENOMEM. */
int rs_matrix_build(size_t U, size_t I, const RsTriplet *t, size_t n, RsMatrix **out,
                    RsErr *err);
void rs_matrix_free(RsMatrix *m);

/* Makes a U x I matrix of CSR arrays that are already built, and builds
 * its CSC side with nthreads threads (the result does not depend on the
 * count). Takes ownership of u_ptr (U + 1 row starts, u_ptr[0] = 0) and of
 * u_items, u_rating and u_ts (u_ptr[U] entries each), all from malloc and
 * not NULL, on failure too. Within each row the items must be strictly
 * increasing and below I. On success *out is owned by the caller.
 * RS_EUSAGE for rows that are not so, RS_ENOMEM. */
int rs_matrix_from_csr(size_t U, size_t I, size_t *u_ptr, uint32_t *u_items, float *u_rating,
                       int64_t *u_ts, int nthreads, RsMatrix **out, RsErr *err);

/* The entries of m whose part[k] == which (part indexed by CSR position),
 * as a new matrix of the same shape. */
int rs_matrix_select(const RsMatrix *m, const uint8_t *part, uint8_t which, RsMatrix **out,
                     RsErr *err);

/* Position of (u, i) in the CSR arrays, or (size_t)-1 when absent
 * (binary search in the row). */
size_t rs_matrix_find(const RsMatrix *m, uint32_t u, uint32_t i);

/* Whether (u, i) is an entry of m (0 for a user beyond m's rows). */
static inline int rs_matrix_has(const RsMatrix *m, uint32_t u, uint32_t i)
{
    return u < m->U && rs_matrix_find(m, u, i) != (size_t)-1;
}

/* Number of entries of user u / item i. */
static inline size_t rs_user_count(const RsMatrix *m, uint32_t u)
{
    return m->u_ptr[u + 1] - m->u_ptr[u];
}
static inline size_t rs_item_count(const RsMatrix *m, uint32_t i)
{
    return m->i_ptr[i + 1] - m->i_ptr[i];
}

/* The mean of all ratings (0 when there are none). */
double rs_matrix_mean_rating(const RsMatrix *m);

/* What maps indices back to the world, and item metadata. All strings are
 * UTF-8 and owned by the catalogue; metadata pointers may be NULL. */
typedef struct RsCatalog {
    size_t U, I;
    char **user_ext;        /* (U) external user ids */
    char **item_ext;        /* (I) external item ids */
    int64_t *user_db;       /* (U) database ids (store's users.id) */
    int64_t *item_db;       /* (I) database ids */
    char **item_title;      /* (I) or NULL entries */
    char **item_genres;     /* (I) '|'-separated */
    char **item_tags;       /* (I) '|'-separated */
    char **item_desc;       /* (I) */
    int *item_year;         /* (I) 0 unknown */
    uint32_t *user_hash, *item_hash; /* lookup tables (index + 1), built by finish */
    size_t user_hcap, item_hcap;
} RsCatalog;

/* An empty catalogue for U users and I items (all strings NULL). */
int rs_catalog_new(size_t U, size_t I, RsCatalog **out, RsErr *err);
void rs_catalog_free(RsCatalog *c);
/* Builds the id lookup tables; call once after filling user_ext/item_ext.
 * RS_ENOMEM, or RS_EUSAGE when an external id is missing or repeated. */
int rs_catalog_finish(RsCatalog *c, RsErr *err);
/* Index of the user / item with the external id, or -1. Thread-safe after
 * rs_catalog_finish(). */
long rs_catalog_user(const RsCatalog *c, const char *ext);
long rs_catalog_item(const RsCatalog *c, const char *ext);

/* A whole dataset: the catalogue and every interaction. */
typedef struct RsDataset {
    RsCatalog *cat;
    RsMatrix *all;
} RsDataset;

void rs_dataset_free(RsDataset *d);

#endif
