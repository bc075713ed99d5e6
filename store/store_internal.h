/*
 * store_internal.h - what the store sources share: the connection struct and small
 * statement helpers. Not for use outside store/.
 */
#ifndef RS_STORE_INTERNAL_H
#define RS_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

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

#endif
