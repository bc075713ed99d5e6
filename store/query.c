/*
 * query.c - read-only browsing queries: users, items, a user's history.
 * Searches use instr() on lower() with a bound parameter (no LIKE, so '%'
 * and '_' in the search text are plain characters).
 */
#include "query.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static char *col_strdup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

static double col_double_or_nan(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static int64_t col_ts(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? STORE_NO_TS
                                                      : sqlite3_column_int64(st, col);
}

static void bind_search(sqlite3_stmt *st, const char *search, long limit)
{
    st_bind_text(st, 1, search && *search ? search : NULL);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
}

int store_users(Store *s, const char *search, long limit, StoreUserRow **out, size_t *n,
                RsErr *err)
{
    static const char sql[] =
        "SELECT u.id, u.ext_id, count(i.item_id), avg(i.rating), min(i.ts), max(i.ts), "
        "u.age, u.gender, u.occupation, u.zip FROM users u "
        "LEFT JOIN interactions i ON i.user_id = u.id "
        "WHERE ?1 IS NULL OR instr(lower(u.ext_id), lower(?1)) > 0 "
        "GROUP BY u.id ORDER BY u.ext_id LIMIT ?2";
    sqlite3_stmt *st;
    StoreUserRow *rows = NULL;
    size_t cap = 0, len = 0;
    int rc = st_prepare(s, sql, &st, err), r;
    if (rc)
        return rc;
    bind_search(st, search, limit);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (st_grow((void **)&rows, &cap, len, sizeof *rows)) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            break;
        }
        StoreUserRow *u = &rows[len++];
        u->id = sqlite3_column_int64(st, 0);
        u->ext_id = col_strdup(st, 1);
        u->n = sqlite3_column_int64(st, 2);
        u->mean_rating = col_double_or_nan(st, 3);
        u->first_ts = col_ts(st, 4);
        u->last_ts = col_ts(st, 5);
        u->age = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6);
        u->gender = col_strdup(st, 7);
        u->occupation = col_strdup(st, 8);
        u->zip = col_strdup(st, 9);
    }
    if (!rc && r != SQLITE_DONE)
        rc = st_dberr(s, "users", err);
    sqlite3_finalize(st);
    if (rc) {
        store_users_free(rows, len);
        return rc;
    }
    *out = rows;
    *n = len;
    return RS_OK;
}

void store_users_free(StoreUserRow *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].ext_id);
        free(rows[i].gender);
        free(rows[i].occupation);
        free(rows[i].zip);
    }
    free(rows);
}

int store_items(Store *s, const char *search, long limit, StoreItemRow **out, size_t *n,
                RsErr *err)
{
    static const char sql[] =
        "SELECT t.id, t.ext_id, t.title, t.year, t.genres, t.tags, t.description, "
        "(SELECT count(*) FROM interactions i WHERE i.item_id = t.id), "
        "(SELECT avg(rating) FROM interactions i WHERE i.item_id = t.id) FROM items t "
        "WHERE ?1 IS NULL OR instr(lower(t.ext_id), lower(?1)) > 0 "
        "OR instr(lower(coalesce(t.title, '')), lower(?1)) > 0 "
        "OR instr(lower(coalesce(t.genres, '')), lower(?1)) > 0 "
        "OR instr(lower(coalesce(t.tags, '')), lower(?1)) > 0 "
        "ORDER BY t.id LIMIT ?2";
    sqlite3_stmt *st;
    StoreItemRow *rows = NULL;
    size_t cap = 0, len = 0;
    int rc = st_prepare(s, sql, &st, err), r;
    if (rc)
        return rc;
    bind_search(st, search, limit);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (st_grow((void **)&rows, &cap, len, sizeof *rows)) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            break;
        }
        StoreItemRow *it = &rows[len++];
        it->id = sqlite3_column_int64(st, 0);
        it->ext_id = col_strdup(st, 1);
        it->title = col_strdup(st, 2);
        it->year = sqlite3_column_int(st, 3);
        it->genres = col_strdup(st, 4);
        it->tags = col_strdup(st, 5);
        it->description = col_strdup(st, 6);
        it->n = sqlite3_column_int64(st, 7);
        it->mean_rating = col_double_or_nan(st, 8);
    }
    if (!rc && r != SQLITE_DONE)
        rc = st_dberr(s, "items", err);
    sqlite3_finalize(st);
    if (rc) {
        store_items_free(rows, len);
        return rc;
    }
    *out = rows;
    *n = len;
    return RS_OK;
}

void store_items_free(StoreItemRow *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].ext_id);
        free(rows[i].title);
        free(rows[i].genres);
        free(rows[i].tags);
        free(rows[i].description);
    }
    free(rows);
}

int store_history(Store *s, const char *user_ext, StoreHistoryRow **out, size_t *n, RsErr *err)
{
    sqlite3_stmt *st;
    int64_t uid = -1;
    int rc = st_prepare(s, "SELECT id FROM users WHERE ext_id = ?1", &st, err), r;
    if (rc)
        return rc;
    st_bind_text(st, 1, user_ext);
    if (sqlite3_step(st) == SQLITE_ROW)
        uid = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (uid < 0)
        return rs_err_set(err, RS_ENOTFOUND, "no user with id \"%s\"", user_ext);
    static const char sql[] =
        "SELECT t.id, t.ext_id, t.title, t.genres, i.rating, i.ts FROM interactions i "
        "JOIN items t ON t.id = i.item_id WHERE i.user_id = ?1 "
        "ORDER BY i.ts IS NULL, i.ts, t.id";
    if ((rc = st_prepare(s, sql, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, uid);
    StoreHistoryRow *rows = NULL;
    size_t cap = 0, len = 0;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (st_grow((void **)&rows, &cap, len, sizeof *rows)) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            break;
        }
        StoreHistoryRow *h = &rows[len++];
        h->item_id = sqlite3_column_int64(st, 0);
        h->item_ext_id = col_strdup(st, 1);
        h->title = col_strdup(st, 2);
        h->genres = col_strdup(st, 3);
        h->rating = col_double_or_nan(st, 4);
        h->ts = col_ts(st, 5);
    }
    if (!rc && r != SQLITE_DONE)
        rc = st_dberr(s, "history", err);
    sqlite3_finalize(st);
    if (rc) {
        store_history_free(rows, len);
        return rc;
    }
    *out = rows;
    *n = len;
    return RS_OK;
}

void store_history_free(StoreHistoryRow *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].item_ext_id);
        free(rows[i].title);
        free(rows[i].genres);
    }
    free(rows);
}
