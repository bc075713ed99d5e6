/*
 * import_write.c - writing the staged import in one transaction.
 *
 * Users and items are matched to existing rows by external id (new ones get
 * the next ids in the order first seen); interactions are written in (user,
 * item) order, which appends to the WITHOUT ROWID table's B-tree. When the
 * table was empty, its secondary indexes are dropped for the load and built
 * afterwards. The statistics cache is refreshed before COMMIT, so readers
 * never see counts that disagree with the data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "browse.h"
#include "import_internal.h"
#include "store_internal.h"

static const char *const secondary_indexes[][2] = {
    {"interactions_user_ts", "CREATE INDEX interactions_user_ts ON interactions(user_id, ts)"},
    {"interactions_item", "CREATE INDEX interactions_item ON interactions(item_id)"},
};

static void bind_opt_int(sqlite3_stmt *st, int col, int v, int unknown)
{
    if (v == unknown)
        sqlite3_bind_null(st, col);
    else
        sqlite3_bind_int(st, col, v);
}

/* Maps staging user k to a database id: finds it or inserts it. */
static int write_users(Store *s, Stage *stg, int fresh, int64_t **ids, ImportReport *rep,
                       RsErr *err)
{
    sqlite3_stmt *find = NULL, *ins = NULL, *upd = NULL;
    int64_t next = 1;
    int rc = st_query_int(s, "SELECT coalesce(max(id), 0) + 1 FROM users", &next, err);
    if (!rc)
        rc = st_prepare(s, "SELECT id FROM users WHERE ext_id = ?1", &find, err);
    if (!rc)
        rc = st_prepare(s, "INSERT INTO users(id, ext_id, age, gender, occupation, zip) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &ins, err);
    if (!rc)
        rc = st_prepare(s, "UPDATE users SET age = coalesce(?3, age), gender = coalesce(?4, "
                           "gender), occupation = coalesce(?5, occupation), zip = coalesce(?6, "
                           "zip) WHERE id = ?1", &upd, err);
    if (!rc && !(*ids = malloc((stg->nusers + 1) * sizeof **ids)))
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; !rc && k < stg->nusers; k++) {
        const StageUser *u = &stg->users[k];
        int64_t id = -1;
        if (!fresh) {
            sqlite3_reset(find);
            st_bind_text(find, 1, u->ext);
            if (sqlite3_step(find) == SQLITE_ROW)
                id = sqlite3_column_int64(find, 0);
        }
        sqlite3_stmt *w = id >= 0 ? upd : ins;
        if (id < 0) {
            id = next++;
            rep->users_added++;
        }
        sqlite3_reset(w);
        sqlite3_bind_int64(w, 1, id);
        st_bind_text(w, 2, u->ext);
        bind_opt_int(w, 3, u->age, -1);
        st_bind_text(w, 4, u->gender);
        st_bind_text(w, 5, u->occupation);
        st_bind_text(w, 6, u->zip);
        if (sqlite3_step(w) != SQLITE_DONE)
            rc = st_dberr(s, "writing users", err);
        (*ids)[k] = id;
    }
    sqlite3_finalize(find);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return rc;
}

static int write_items(Store *s, Stage *stg, int fresh, int64_t **ids, ImportReport *rep,
                       RsErr *err)
{
    sqlite3_stmt *find = NULL, *ins = NULL, *upd = NULL;
    int64_t next = 1;
    int rc = st_query_int(s, "SELECT coalesce(max(id), 0) + 1 FROM items", &next, err);
    if (!rc)
        rc = st_prepare(s, "SELECT id FROM items WHERE ext_id = ?1", &find, err);
    if (!rc)
        rc = st_prepare(s, "INSERT INTO items(id, ext_id, title, year, genres, tags, "
                           "description) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)", &ins, err);
    if (!rc)
        rc = st_prepare(s, "UPDATE items SET title = coalesce(?3, title), year = coalesce(?4, "
                           "year), genres = coalesce(?5, genres), tags = coalesce(?6, tags), "
                           "description = coalesce(?7, description) WHERE id = ?1", &upd, err);
    if (!rc && !(*ids = malloc((stg->nitems + 1) * sizeof **ids)))
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; !rc && k < stg->nitems; k++) {
        const StageItem *it = &stg->items[k];
        int64_t id = -1;
        if (!fresh) {
            sqlite3_reset(find);
            st_bind_text(find, 1, it->ext);
            if (sqlite3_step(find) == SQLITE_ROW)
                id = sqlite3_column_int64(find, 0);
        }
        sqlite3_stmt *w = id >= 0 ? upd : ins;
        if (id < 0) {
            id = next++;
            rep->items_added++;
        }
        sqlite3_reset(w);
        sqlite3_bind_int64(w, 1, id);
        st_bind_text(w, 2, it->ext);
        st_bind_text(w, 3, it->title);
        bind_opt_int(w, 4, it->year, 0);
        st_bind_text(w, 5, it->genres);
        st_bind_text(w, 6, it->tags);
        st_bind_text(w, 7, it->description);
        if (sqlite3_step(w) != SQLITE_DONE)
            rc = st_dberr(s, "writing items", err);
        (*ids)[k] = id;
    }
    sqlite3_finalize(find);
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return rc;
}

static int cmp_db_row(const void *a, const void *b)
{
    const StageRow *x = a, *y = b;
    if (x->u != y->u)
        return x->u < y->u ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

#define BATCH 128 /* rows per INSERT statement in a fresh load */

static void bind_row(sqlite3_stmt *st, int base, const StageRow *r)
{
    sqlite3_bind_int64(st, base + 1, r->u);
    sqlite3_bind_int64(st, base + 2, r->i);
    if (isnan(r->rating))
        sqlite3_bind_null(st, base + 3);
    else
        sqlite3_bind_double(st, base + 3, r->rating);
    if (r->ts == STAGE_NO_TS)
        sqlite3_bind_null(st, base + 4);
    else
        sqlite3_bind_int64(st, base + 4, r->ts);
}

/* INSERT of n rows in one statement (fresh loads: no conflicts possible). */
static int prepare_batch(Store *s, size_t n, sqlite3_stmt **st, RsErr *err)
{
    char *sql = malloc(64 + n * 16);
    if (!sql)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    size_t w = (size_t)sprintf(sql, "INSERT INTO interactions(user_id, item_id, rating, ts) VALUES");
    for (size_t k = 0; k < n; k++)
        w += (size_t)sprintf(sql + w, "%s(?,?,?,?)", k ? "," : "");
    int rc = st_prepare(s, sql, st, err);
    free(sql);
    return rc;
}

static int write_interactions(Store *s, Stage *stg, const int64_t *uid, const int64_t *iid,
                              int fresh, const ImportOptions *opt, ImportReport *rep,
                              RsErr *err)
{
    /* Database ids fit in 32 bits here: they were assigned densely. */
    for (size_t k = 0; k < stg->nrows; k++) {
        stg->rows[k].u = (uint32_t)uid[stg->rows[k].u];
        stg->rows[k].i = (uint32_t)iid[stg->rows[k].i];
    }
    /* A fresh load keeps the staging order (ids are assigned in it). */
    int sorted = 1;
    for (size_t k = 1; k < stg->nrows && sorted; k++)
        sorted = cmp_db_row(&stg->rows[k - 1], &stg->rows[k]) < 0;
    if (!sorted)
        qsort(stg->rows, stg->nrows, sizeof *stg->rows, cmp_db_row);
    int64_t before = 0;
    int rc = fresh ? RS_OK : st_query_int(s, "SELECT count(*) FROM interactions", &before, err);
    sqlite3_stmt *one = NULL, *batch = NULL;
    /* The WHERE keeps a newer stored row against an older imported one. */
    if (!rc)
        rc = st_prepare(s,
                        "INSERT INTO interactions(user_id, item_id, rating, ts) "
                        "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(user_id, item_id) DO UPDATE SET "
                        "rating = excluded.rating, ts = excluded.ts WHERE excluded.ts IS NULL "
                        "OR interactions.ts IS NULL OR excluded.ts >= interactions.ts",
                        &one, err);
    if (!rc && fresh)
        rc = prepare_batch(s, BATCH, &batch, err);
    size_t k = 0;
    while (!rc && k < stg->nrows) {
        sqlite3_stmt *st = one;
        size_t n = 1;
        if (batch && stg->nrows - k >= BATCH) {
            st = batch;
            n = BATCH;
        }
        for (size_t j = 0; j < n; j++)
            bind_row(st, (int)(4 * j), &stg->rows[k + j]);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = st_dberr(s, "writing interactions", err);
        sqlite3_reset(st);
        if (!rc && opt->progress && (k / n) % 512 == 0 &&
            opt->progress(opt->progress_ctx, (double)k / (double)stg->nrows, "writing"))
            rc = rs_err_set(err, RS_ECANCEL, "import cancelled");
        k += n;
    }
    sqlite3_finalize(one);
    sqlite3_finalize(batch);
    if (rc)
        return rc;
    int64_t after = (int64_t)stg->nrows;
    if (!fresh && (rc = st_query_int(s, "SELECT count(*) FROM interactions", &after, err)))
        return rc;
    rep->interactions_added = after - before;
    rep->interactions_updated = (int64_t)stg->nrows - rep->interactions_added;
    return RS_OK;
}

static int record_import(Store *s, const char *const *paths, size_t n, ImportReport *rep,
                         RsErr *err)
{
    size_t len = 1;
    for (size_t k = 0; k < n; k++)
        len += strlen(paths[k]) + 1;
    char *src = calloc(1, len);
    if (!src)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        if (k)
            strcat(src, " ");
        strcat(src, paths[k]);
    }
    sqlite3_stmt *st;
    int rc = st_prepare(s, "INSERT INTO imports(at, format, source, rows_read, "
                           "interactions_added, duplicates, skipped) VALUES(?1, ?2, ?3, ?4, "
                           "?5, ?6, ?7)", &st, err);
    if (!rc) {
        sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
        st_bind_text(st, 2, rep->formats);
        st_bind_text(st, 3, src);
        sqlite3_bind_int64(st, 4, rep->rows_read);
        sqlite3_bind_int64(st, 5, rep->interactions_added);
        sqlite3_bind_int64(st, 6, rep->duplicates + rep->interactions_updated);
        sqlite3_bind_int64(st, 7, rep->skipped);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = st_dberr(s, "recording the import", err);
        sqlite3_finalize(st);
    }
    free(src);
    return rc;
}

static int write_all(Store *s, Importer *im, const char *const *paths, size_t n)
{
    RsErr *err = im->err;
    int64_t nusers = 0, nitems = 0, ninter = 0, *uid = NULL, *iid = NULL;
    /* The staged rows reference only users and items written in the same
     * transaction, so the per-row foreign-key lookups are redundant; they
     * cost more than the inserts themselves. (The pragma is a no-op inside
     * a transaction, hence before BEGIN.) */
    /* A large page cache and two sorter threads speed up the index builds. */
    int rc = st_exec(s, "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-262144; PRAGMA threads=2",
                     err);
    if (!rc)
        rc = st_exec(s, "BEGIN IMMEDIATE", err);
    if (rc) {
        st_exec(s, "PRAGMA foreign_keys=ON", NULL);
        return rc;
    }
    if (!(rc = st_query_int(s, "SELECT count(*) FROM users", &nusers, err)) &&
        !(rc = st_query_int(s, "SELECT count(*) FROM items", &nitems, err)))
        rc = st_query_int(s, "SELECT EXISTS(SELECT 1 FROM interactions)", &ninter, err);
    int fresh = !ninter;
    for (size_t k = 0; fresh && !rc && k < RS_ARRAY_LEN(secondary_indexes); k++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DROP INDEX IF EXISTS %s", secondary_indexes[k][0]);
        rc = st_exec(s, sql, err);
    }
    if (!rc)
        rc = write_users(s, &im->st, nusers == 0, &uid, im->rep, err);
    if (!rc)
        rc = write_items(s, &im->st, nitems == 0, &iid, im->rep, err);
    if (!rc)
        rc = write_interactions(s, &im->st, uid, iid, fresh, im->opt, im->rep, err);
    for (size_t k = 0; fresh && !rc && k < RS_ARRAY_LEN(secondary_indexes); k++) {
        if (im->opt->progress)
            im->opt->progress(im->opt->progress_ctx, -1, "indexing");
        rc = st_exec(s, secondary_indexes[k][1], err);
    }
    if (!rc)
        rc = record_import(s, paths, n, im->rep, err);
    if (!rc && im->opt->progress)
        im->opt->progress(im->opt->progress_ctx, -1, "statistics");
    /* A first load holds exactly the table's rows, sorted, in the stage. */
    StRows mem = {im->st.rows, im->st.nrows};
    if (!rc)
        rc = st_stats_refresh(s, fresh ? &mem : NULL, err);
    if (!rc)
        rc = st_browse_refresh(s, fresh ? &mem : NULL, err); /* reads the statistics */
    if (!rc)
        rc = st_exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    int fk = st_exec(s, "PRAGMA foreign_keys=ON; PRAGMA cache_size=-2000; PRAGMA threads=0",
                     rc ? NULL : err);
    free(uid);
    free(iid);
    return rc ? rc : fk;
}

int store_import(Store *s, const char *const *paths, size_t n, const ImportOptions *opt,
                 ImportReport *rep, RsErr *err)
{
    ImportReport local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    if (s->readonly)
        return rs_err_set(err, RS_EUSAGE, "%s: opened read-only", s->path);
    if (n == 0)
        return rs_err_set(err, RS_EUSAGE, "nothing to import");
    Importer im = {.opt = opt, .rep = rep, .err = err};
    stage_init(&im.st);
    double t0 = rs_now();
    int rc = RS_OK;
    for (size_t k = 0; k < n && !rc; k++)
        rc = import_path(&im, paths[k]);
    if (!rc)
        rc = import_side_files(&im);
    if (!rc && im.st.nrows == 0)
        rc = rs_err_set(err, RS_EPARSE, "no interactions to import%s",
                        rep->skipped ? " (every row was bad)" : "");
    if (!rc) {
        rep->duplicates = (int64_t)stage_dedupe(&im.st);
        if (im.st.nusers > UINT32_MAX / 2 || im.st.nitems > UINT32_MAX / 2)
            rc = rs_err_set(err, RS_EUSAGE, "too many users or items for one database");
    }
    double t1 = rs_now();
    rep->parse_seconds = t1 - t0;
    if (!rc)
        rc = write_all(s, &im, paths, n);
    rep->write_seconds = rs_now() - t1;
    stage_done(&im.st);
    return rc;
}
