/*
 * store_internal.h - what the store sources share: the connection struct and small
 * statement helpers. Not for use outside store/.
 */
#ifndef RS_STORE_INTERNAL_H
#define RS_STORE_INTERNAL_H

#include <sqlite3.h>

#include "query.h" /* STORE_NO_TS */
#include "stage.h"
#include "store.h"

_Static_assert(STAGE_NO_TS == STORE_NO_TS, "one no-timestamp value in the store");

/* How long a connection waits for another process's write transaction
 * before SQLITE_BUSY ("database is locked"): an import holds the write lock
 * while it writes, about 30 s for 20M interactions, and a training that
 * finishes meanwhile must still save its model. Readers never wait (WAL). */
#define ST_BUSY_MS 120000

struct Store {
    sqlite3 *db;
    char *path;
    char *uri;    /* "file:...?immutable=1" when opened so (see store_open), else NULL */
    int readonly;
};

/* Prepares sql; on failure fills err with the SQLite message. */
int st_prepare(Store *s, const char *sql, sqlite3_stmt **st, RsErr *err);
/* Runs one or more statements without parameters (schema, BEGIN, ...). */
int st_exec(Store *s, const char *sql, RsErr *err);
/* Fills err from the connection's last error, prefixed by what. */
int st_dberr(Store *s, const char *what, RsErr *err);
/* Runs a single-integer query (no parameters); RS_EDB on failure. */
int st_query_int(Store *s, const char *sql, int64_t *out, RsErr *err);
/* Makes room for entry n in the array *rows of elem-byte entries (capacity
 * *cap, doubled as needed, new space zeroed). 0, or -1 when out of memory
 * (the array is untouched). */
int st_grow(void **rows, size_t *cap, size_t n, size_t elem);
/* Marks the runs left 'running' by a process that has ended as
 * 'interrupted', in one transaction (persist.c), without waiting when
 * another process is writing. Read-write stores only; 0, or -1 when the
 * database was busy or failed (nothing marked). */
int st_mark_interrupted(Store *s);
/* Binds text or NULL. */
int st_bind_text(sqlite3_stmt *st, int i, const char *v);

/* A pass over the interactions in primary-key order (by user, then item),
 * read from the table, or from memory when the caller holds exactly the
 * table's rows: a first import has them staged, already in that order
 * (import_write.c), and the statistics and the browse cache then cost a
 * pass over an array instead of two scans of the table. */
typedef struct StRows {
    const StageRow *v; /* database ids, sorted by (u, i), one per pair */
    size_t n;
} StRows;

typedef struct StRow {
    int64_t u, i;
    double rating; /* NAN when NULL */
    int64_t ts;    /* STORE_NO_TS when NULL */
} StRow;

typedef struct StScan {
    Store *s;
    sqlite3_stmt *st;  /* NULL when reading mem */
    const StRows *mem;
    size_t k;
} StScan;

/* Starts a pass: over mem when not NULL, else over the table. */
int st_scan_open(Store *s, const StRows *mem, StScan *sc, RsErr *err);
/* 1 with *row filled, 0 at the end, or a negative RS_E* code (err filled). */
int st_scan_next(StScan *sc, StRow *row, RsErr *err);
void st_scan_close(StScan *sc);

/* store_stats_refresh() and browse_cache_refresh() reading mem (see StRows)
 * when not NULL. */
int st_stats_refresh(Store *s, const StRows *mem, RsErr *err);
int st_browse_refresh(Store *s, const StRows *mem, RsErr *err);

#endif
