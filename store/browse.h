/*
 * browse.h - the queries behind the browsing screens of the TUI: pages of
 * users and items sorted by any column and filtered, one user's history and
 * genre profile, one item's rating distribution and the users who
 * interacted with it.
 *
 * Design. Every list is read a page at a time with keyset pagination: a
 * page starts next to the key of a row the caller already has (BrowseKey),
 * never at an OFFSET, so reading page 10,000 costs what reading page 1
 * does. The user and item lists sort through a cache of per-user and
 * per-item statistics (browse_users, browse_items, browse_item_hist) that
 * holds, for every sortable column, the row's rank in that column's order
 * (ties broken by the natural order of the external id, so every rank is
 * unique) with an index on it; a page is then an index range scan
 * "rank > K ORDER BY rank LIMIT N" whatever the column. The cache is
 * written by browse_cache_refresh() in the import's transaction; a database
 * without a current cache gets a TEMP copy built once per connection on the
 * first call (a full pass over the interactions: seconds at 20M rows), so
 * the functions work on read-only connections and on older files alike.
 *
 * Filters are evaluated by SQLite inside the query that reads the page, so
 * a page of a filtered list holds the next matching rows in order however
 * far apart they are, and the next page continues after the last match: a
 * filter applied to the rows already on screen could not do that. A filter
 * is a case-insensitive (ASCII) substring (plain text: '%', '_' and quotes
 * are ordinary characters; it is a bound parameter searched with instr(),
 * never a LIKE pattern), or, after a "re:" prefix, a POSIX extended regular
 * expression (case-insensitive), evaluated by the SQL function
 * browse_match() that this module registers on the connection and that
 * compiles the expression once per statement. A field matches on its own,
 * so "re:^1$" finds the user whose id is exactly 1. "" and "re:" alone
 * filter nothing.
 *
 * Text fields are copied into fixed buffers and cut at a UTF-8 character
 * boundary; they are as stored (untrusted: sanitise before drawing).
 * Functions return RS_OK or a negative RS_E* code with err filled; none is
 * thread-safe for one Store.
 */
#ifndef RS_BROWSE_H
#define RS_BROWSE_H

#include <stddef.h>
#include <stdint.h>

#include "query.h" /* STORE_NO_TS */
#include "store.h"

/* Sortable columns of the user list. */
typedef enum BrowseUserCol {
    BROWSE_U_ID,    /* external id, natural order ("2" before "10") */
    BROWSE_U_N,     /* interactions */
    BROWSE_U_MEAN,  /* mean rating, unrated first */
    BROWSE_U_FIRST, /* first activity, unknown first */
    BROWSE_U_LAST,  /* last activity */
    BROWSE_U_ATTRS, /* age, gender, occupation, zip */
    BROWSE_U_NCOLS
} BrowseUserCol;

/* Sortable columns of the item list. */
typedef enum BrowseItemCol {
    BROWSE_I_ID,     /* external id, natural order */
    BROWSE_I_TITLE,  /* case-insensitive natural order */
    BROWSE_I_YEAR,
    BROWSE_I_GENRES,
    BROWSE_I_N,      /* popularity: interactions */
    BROWSE_I_MEAN,   /* mean rating */
    BROWSE_I_NCOLS
} BrowseItemCol;

/* Sort orders of a user's history. */
typedef enum BrowseHistCol {
    BROWSE_H_TIME,   /* unknown times first */
    BROWSE_H_RATING, /* unrated first */
    BROWSE_H_NCOLS
} BrowseHistCol;

/* Where a row sits in its list; a page starts next to one. Filled by the
 * functions that return rows; callers copy it, never build one. */
typedef struct BrowseKey {
    int64_t rank; /* user and item lists: rank in the sort column */
    double v;     /* history: the sort value (time or rating) */
    int v_null;   /* history: the sort value is unknown */
    int64_t id;   /* history: item id; item's users: user id */
} BrowseKey;

/* A page request. Rows come back in display order (after desc) whatever
 * dir is. */
typedef struct BrowseQuery {
    int sort;                /* a BROWSE_U_*, BROWSE_I_* or BROWSE_H_* value */
    int desc;                /* reverse the order */
    const char *filter;      /* NULL or "": every row */
    const BrowseKey *anchor; /* NULL: from the first row (dir > 0) or the last (dir < 0) */
    int dir;                 /* > 0: the rows after anchor; < 0: the rows before it */
    size_t max;              /* at most this many rows */
    /* Out, may be NULL: a filtered page of the user or item list stores
     * here how many rows of the whole list match (its scan sees them all);
     * -1 otherwise. */
    int64_t *matches;
} BrowseQuery;

#define BROWSE_EXT 64    /* bytes of an external id */
#define BROWSE_SHORT 48  /* gender, occupation, zip */
#define BROWSE_TEXT 192  /* title, genres, tags */

typedef struct BrowseUser {
    BrowseKey key;
    int64_t pos;                /* 0-based position in the unfiltered list; -1 when filtered */
    int64_t id;                 /* internal id */
    char ext_id[BROWSE_EXT];
    int64_t n, n_rated;         /* interactions, of which rated */
    double mean;                /* NAN when none rated */
    int64_t first_ts, last_ts;  /* STORE_NO_TS when unknown */
    int age;                    /* -1 when unknown */
    char gender[BROWSE_SHORT], occupation[BROWSE_SHORT], zip[BROWSE_SHORT];
} BrowseUser;

typedef struct BrowseItem {
    BrowseKey key;
    int64_t pos;
    int64_t id;
    char ext_id[BROWSE_EXT];
    char title[BROWSE_TEXT];    /* "" when unknown */
    int year;                   /* 0 when unknown */
    char genres[BROWSE_TEXT];   /* '|'-separated */
    char tags[BROWSE_TEXT];
    int64_t n, n_rated;
    double mean;
    int64_t first_ts, last_ts;
} BrowseItem;

typedef struct BrowseHist {
    BrowseKey key;
    int64_t item_id;
    char item_ext[BROWSE_EXT];
    char title[BROWSE_TEXT];
    char genres[BROWSE_TEXT];
    double rating;              /* NAN when implicit */
    int64_t ts;                 /* STORE_NO_TS when unknown */
} BrowseHist;

typedef struct BrowseItemUser {
    BrowseKey key;
    int64_t user_id;
    char user_ext[BROWSE_EXT];
    double rating;
    int64_t ts;
    int64_t user_n;             /* that user's interactions */
    double user_mean;           /* that user's mean rating; NAN when none rated */
    int age;                    /* -1 when unknown */
    char gender[BROWSE_SHORT], occupation[BROWSE_SHORT];
} BrowseItemUser;

typedef struct BrowseGenre {
    char name[BROWSE_SHORT];
    int64_t n, n_rated;         /* the user's interactions with items of the genre */
    double mean;                /* their mean rating; NAN when none rated */
} BrowseGenre;

typedef struct BrowseBin {
    double rating;              /* a value of the dataset's rating histogram */
    int64_t n;
} BrowseBin;

/* Checks a filter: RS_EUSAGE with the regcomp message for a bad "re:"
 * expression, else RS_OK. */
int browse_filter_check(const char *filter, RsErr *err);

/* Rebuilds the cached statistics and ranks in the main database: DROP and
 * CREATE of browse_users, browse_items and browse_item_hist, one pass over
 * the interactions, and marker rows in stats. Call inside the import's
 * transaction after store_stats_refresh() (it reads the rating histogram
 * and leaves markers that the readers compare with the statistics); it
 * opens no transaction of its own. */
int browse_cache_refresh(Store *s, RsErr *err);

/* Makes the cache usable on this connection: nothing when the main
 * database's is current, else builds the TEMP copy (once per connection).
 * Every function below calls it; exposed for benchmarks and for a screen
 * that wants to build the cache before it draws. */
int browse_prepare(Store *s, RsErr *err);

/* 1 when browse_prepare() has nothing to build: the functions below answer
 * at once. A caller can then warn before the first one takes seconds. */
int browse_cache_ready(Store *s);

/* The number of users / items in the lists (cached, instant). */
int browse_user_total(Store *s, int64_t *n, RsErr *err);
int browse_item_total(Store *s, int64_t *n, RsErr *err);

/* Users matching filter, counted up to cap (cap <= 0: no limit): the cost
 * is one scan of at most the whole user table. */
int browse_user_count(Store *s, const char *filter, int64_t cap, int64_t *n, RsErr *err);
int browse_item_count(Store *s, const char *filter, int64_t cap, int64_t *n, RsErr *err);

/* A page of users (q->sort a BrowseUserCol; the filter looks at the id and
 * the attributes) into rows[0..q->max); *n is how many. */
int browse_users(Store *s, const BrowseQuery *q, BrowseUser *rows, size_t *n, RsErr *err);
/* One user by internal id; RS_ENOTFOUND when there is none. */
int browse_user(Store *s, int64_t id, BrowseUser *out, RsErr *err);

/* A page of items (q->sort a BrowseItemCol; the filter looks at the id,
 * title, year, genres and tags). */
int browse_items(Store *s, const BrowseQuery *q, BrowseItem *rows, size_t *n, RsErr *err);
/* One item by internal id; *description (malloc'd, NULL when unknown) is
 * the caller's to free; description may be NULL. */
int browse_item(Store *s, int64_t id, BrowseItem *out, char **description, RsErr *err);

/* A page of a user's history (q->sort a BrowseHistCol; the filter looks at
 * the title, genres and item id). A user with no interactions has an empty
 * history; an unknown user too. */
int browse_history(Store *s, int64_t user_id, const BrowseQuery *q, BrowseHist *rows,
                   size_t *n, RsErr *err);

/* The user's genre profile: interactions and mean rating per genre of the
 * items (items.genres split at '|'), most frequent first (ties by name),
 * at most max genres; *n_total is how many distinct genres there were. */
int browse_genres(Store *s, int64_t user_id, BrowseGenre *rows, size_t max, size_t *n,
                  size_t *n_total, RsErr *err);

/* The item's rating distribution over the dataset's rating histogram
 * values (zeros included, ascending); *n = 0 for implicit data. */
int browse_item_ratings(Store *s, int64_t item_id, BrowseBin *bins, size_t max, size_t *n,
                        RsErr *err);

/* A page of the users who interacted with the item, in internal user id
 * order (the index order; q->desc reverses it, q->sort is ignored; the
 * filter looks at the user's id and attributes). */
int browse_item_users(Store *s, int64_t item_id, const BrowseQuery *q, BrowseItemUser *rows,
                      size_t *n, RsErr *err);

#endif
