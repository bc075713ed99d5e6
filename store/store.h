/*
 * store.h - the recscope database: one SQLite file per dataset.
 *
 * The schema is versioned with PRAGMA user_version and migrated forward on
 * open; a file written by a newer recscope is refused (RS_EVERSION), and a
 * SQLite file that is not a recscope database is refused unless it is empty.
 * Connections use WAL, a busy timeout and foreign keys.
 *
 * A Store is one connection and is not thread-safe: a background thread opens
 * its own Store on the same file.
 */
#ifndef RS_STORE_H
#define RS_STORE_H

#include <stdint.h>

#include "common.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_APPLICATION_ID 0x52435350 /* "RCSP" */

typedef struct Store Store;

enum {
    STORE_OPEN_CREATE = 1,   /* create the file when missing */
    STORE_OPEN_READONLY = 2, /* never write, never migrate */
};

/* Opens (and creates/migrates, unless READONLY) the database at path.
 * On success *out owns the connection; free it with store_close(). */
int store_open(Store **out, const char *path, int flags, RsErr *err);
/* Closes the connection. store_close(NULL) is a no-op. */
void store_close(Store *s);
/* The file name this store was opened with. */
const char *store_path(const Store *s);

/* Quantile points kept for per-user and per-item interaction counts. */
#define STORE_NQUANT 7
extern const double store_quantile_points[STORE_NQUANT]; /* 0, .25, .5, .75, .9, .99, 1 */

#define STORE_MAX_HIST 64
#define STORE_TIME_BUCKETS 48

/* Dataset statistics, cached at import time (store_stats never scans the
 * interactions table). */
typedef struct StoreStats {
    int64_t users, items, interactions;
    int64_t rated;                 /* interactions with a rating */
    int64_t timed;                 /* interactions with a timestamp */
    double density;                /* interactions / (users * items) */
    double rating_min, rating_max, rating_mean; /* NAN when nothing is rated */
    int64_t ts_min, ts_max;        /* valid when timed > 0 */
    double user_count_q[STORE_NQUANT]; /* interactions per user at store_quantile_points */
    double item_count_q[STORE_NQUANT]; /* interactions per item (items with >= 1) */
    int n_hist;                    /* distinct rating values (at most STORE_MAX_HIST) */
    double hist_value[STORE_MAX_HIST];
    int64_t hist_count[STORE_MAX_HIST];
    int n_time;                    /* equal-width buckets over [ts_min, ts_max] */
    int64_t time_count[STORE_TIME_BUCKETS];
    /* item popularity long tail: share of interactions held by the top
     * 1%, 5%, 10%, 20%, 50% of items */
    double pop_share[5];
    int64_t splits, runs;          /* counted live (small tables) */
} StoreStats;

int store_stats(Store *s, StoreStats *out, RsErr *err);

/* Recomputes the cached statistics from the tables. Called by the importer
 * inside its transaction; exposed for tests and repair. */
int store_stats_refresh(Store *s, RsErr *err);

#endif
