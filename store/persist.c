/*
 * persist.c - dataset loading, splits, runs and metrics.
 *
 * Indices: the dataset's user index k is the k-th user by database id, and
 * likewise for items, so database ids map back to indices by binary search
 * in cat->user_db / cat->item_db (both ascending).
 */
#include "persist.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parallel.h"
#include "store_internal.h"

static char *col_dup(sqlite3_stmt *st, int c)
{
    const unsigned char *t = sqlite3_column_text(st, c);
    return t ? strdup((const char *)t) : NULL;
}

/* Index of db id v in the ascending ids[0..n), or -1. */
static long index_of(const int64_t *ids, size_t n, int64_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == v ? (long)lo : -1;
}

/* ---- the dataset --------------------------------------------------------------- */

static int load_users(Store *s, RsCatalog *c, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT id, ext_id FROM users ORDER BY id", &st, err);
    size_t k = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW && k < c->U) {
        c->user_db[k] = sqlite3_column_int64(st, 0);
        if (!(c->user_ext[k++] = col_dup(st, 1)))
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    if (!rc && k != c->U)
        rc = rs_err_set(err, RS_EDB, "%s: users changed while loading", s->path);
    return rc;
}

static int load_items(Store *s, RsCatalog *c, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT id, ext_id, title, genres, tags, description, year FROM items "
                           "ORDER BY id", &st, err);
    size_t k = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW && k < c->I) {
        c->item_db[k] = sqlite3_column_int64(st, 0);
        c->item_ext[k] = col_dup(st, 1);
        c->item_title[k] = col_dup(st, 2);
        c->item_genres[k] = col_dup(st, 3);
        c->item_tags[k] = col_dup(st, 4);
        c->item_desc[k] = col_dup(st, 5);
        c->item_year[k] = sqlite3_column_int(st, 6);
        if (!c->item_ext[k++])
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    if (!rc && k != c->I)
        rc = rs_err_set(err, RS_EDB, "%s: items changed while loading", s->path);
    return rc;
}

/* Maps database ids to indices: a direct table over [min id, max id] when
 * the ids are dense enough (they are, as the importer assigns them), else
 * binary search. */
typedef struct IdMap {
    const int64_t *ids;
    size_t n;
    int64_t base;
    int32_t *direct; /* (span) index or -1 */
    size_t span;
} IdMap;

static int idmap_init(IdMap *m, const int64_t *ids, size_t n)
{
    memset(m, 0, sizeof *m);
    m->ids = ids;
    m->n = n;
    if (n == 0 || ids[n - 1] - ids[0] >= (int64_t)(4 * n + 1024))
        return 0;
    m->base = ids[0];
    m->span = (size_t)(ids[n - 1] - ids[0]) + 1;
    if (!(m->direct = malloc(m->span * sizeof *m->direct)))
        return -1;
    for (size_t k = 0; k < m->span; k++)
        m->direct[k] = -1;
    for (size_t k = 0; k < n; k++)
        m->direct[ids[k] - m->base] = (int32_t)k;
    return 0;
}

static long idmap_get(const IdMap *m, int64_t id)
{
    if (m->direct)
        return id >= m->base && (uint64_t)(id - m->base) < m->span ? m->direct[id - m->base] : -1;
    return index_of(m->ids, m->n, id);
}

/* The interactions are read in primary-key order, (user id, item id), and
 * ids map to indices in the same order, so the rows arrive as CSR: each
 * reader appends its users' rows, and the parts join end to end.
 *
 * Large databases are read by several connections at once, each over a
 * range of users (the B-tree walk is most of the time). SQLite here has no
 * snapshot API to give them one snapshot, so consistency is checked
 * instead: PRAGMA data_version on the store's connection, read before its
 * catalogue transaction and again after every reader has finished, changes
 * if any other connection committed in between. Unchanged, the catalogue
 * and all the readers saw the same state; changed, the load starts again,
 * and after LOAD_TRIES such tries reads everything on the one connection
 * in one transaction. */

/* Below this database size one connection reads everything. */
#define LOAD_PAR_BYTES ((int64_t)16 << 20)
#define LOAD_MAX_READERS 4
#define LOAD_TRIES 3

/* One reader's part: the rows of the users with ids in [lo, hi), in key
 * order, as the CSR rows of those users. */
typedef struct Part {
    sqlite3 *db;           /* its connection: the store's, or its own when NULL */
    const char *path, *uri; /* to open its own (uri when not NULL) */
    int64_t lo, hi;
    const IdMap *users, *items;
    size_t *u_ptr;         /* (U + 1) shared; the part sets u_ptr[u + 1] to the
                            * length of the row of each of its users u */
    uint32_t *items_idx;   /* (n) the rows' item indices, in order */
    float *rating;         /* (n) NAN when implicit */
    int64_t *ts;           /* (n) RS_NO_TS when unknown */
    size_t n, cap;
    int rc;
    RsErr err;
} Part;

static int part_grow(Part *p)
{
    size_t nc = p->cap ? p->cap * 2 : (size_t)1 << 16;
    uint32_t *it = realloc(p->items_idx, nc * sizeof *it);
    if (it)
        p->items_idx = it;
    float *r = it ? realloc(p->rating, nc * sizeof *r) : NULL;
    if (r)
        p->rating = r;
    int64_t *t = r ? realloc(p->ts, nc * sizeof *t) : NULL;
    if (!t)
        return -1;
    p->ts = t;
    p->cap = nc;
    return 0;
}

/* Reads p's rows (a thread's body): p->rc and p->err say how it went. */
static void *part_read(void *arg)
{
    Part *p = arg;
    sqlite3 *db = p->db;
    sqlite3_stmt *st = NULL;
    if (!db && sqlite3_open_v2(p->uri ? p->uri : p->path, &db,
                               SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX |
                                   (p->uri ? SQLITE_OPEN_URI : 0), NULL) != SQLITE_OK) {
        p->rc = rs_err_set(&p->err, RS_EDB, "%s: %s", p->path,
                           db ? sqlite3_errmsg(db) : "cannot open");
        goto done;
    }
    if (!p->db)
        sqlite3_busy_timeout(db, ST_BUSY_MS);
    if (sqlite3_prepare_v2(db, "SELECT user_id, item_id, rating, ts FROM interactions "
                               "WHERE user_id >= ?1 AND user_id < ?2 ORDER BY user_id, item_id",
                           -1, &st, NULL) != SQLITE_OK) {
        p->rc = rs_err_set(&p->err, RS_EDB, "%s: %s", p->path, sqlite3_errmsg(db));
        goto done;
    }
    sqlite3_bind_int64(st, 1, p->lo);
    sqlite3_bind_int64(st, 2, p->hi);
    long u = -1, cur = -1, last_i = -1;
    int64_t last_user = 0;
    int have_user = 0, r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t udb = sqlite3_column_int64(st, 0);
        if (!have_user || udb != last_user) { /* rows come grouped by user */
            have_user = 1;
            last_user = udb;
            if ((cur = idmap_get(p->users, udb)) >= 0) {
                if (cur <= u)
                    goto unordered; /* ORDER BY makes this impossible */
                u = cur;
                last_i = -1;
            }
        }
        long i = idmap_get(p->items, sqlite3_column_int64(st, 1));
        if (cur < 0 || i < 0)
            continue; /* a dangling row: impossible with foreign keys on */
        if (i <= last_i)
            goto unordered;
        last_i = i;
        if (p->n == p->cap && part_grow(p)) {
            p->rc = rs_err_set(&p->err, RS_ENOMEM, "out of memory loading interactions");
            goto done;
        }
        /* A NULL reads as 0: only then is the type asked for. */
        double rating = sqlite3_column_double(st, 2);
        if (rating == 0 && sqlite3_column_type(st, 2) == SQLITE_NULL)
            rating = NAN;
        int64_t ts = sqlite3_column_int64(st, 3);
        if (ts == 0 && sqlite3_column_type(st, 3) == SQLITE_NULL)
            ts = RS_NO_TS;
        p->items_idx[p->n] = (uint32_t)i;
        p->rating[p->n] = (float)rating;
        p->ts[p->n] = ts;
        p->n++;
        p->u_ptr[u + 1]++;
    }
    if (r != SQLITE_DONE)
        p->rc = rs_err_set(&p->err, RS_EDB, "%s: reading interactions: %s", p->path,
                           sqlite3_errmsg(db));
    goto done;
unordered:
    p->rc = rs_err_set(&p->err, RS_EDB, "%s: interactions not in key order", p->path);
done:
    sqlite3_finalize(st);
    if (!p->db)
        sqlite3_close(db);
    return NULL;
}

static void part_free(Part *p)
{
    free(p->items_idx);
    free(p->rating);
    free(p->ts);
}

/* Reads every interaction of the users and items of c into *out, with
 * `readers` connections at once (1: the store's own, in the caller's
 * transaction). */
static int load_interactions(Store *s, const RsCatalog *c, int readers, RsMatrix **out,
                             RsErr *err)
{
    IdMap um = {0}, im = {0};
    Part part[LOAD_MAX_READERS];
    pthread_t th[LOAD_MAX_READERS];
    int started[LOAD_MAX_READERS] = {0};
    size_t *u_ptr = calloc(c->U + 1, sizeof *u_ptr); /* (U + 1) */
    int rc = RS_OK;
    memset(part, 0, sizeof part);
    if (readers > (int)c->U)
        readers = c->U ? (int)c->U : 1;
    if (!u_ptr || idmap_init(&um, c->user_db, c->U) || idmap_init(&im, c->item_db, c->I)) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < readers; k++)
        part[k] = (Part){.db = readers == 1 ? s->db : NULL, .path = s->path, .uri = s->uri,
                         .lo = k ? c->user_db[c->U * (size_t)k / (size_t)readers] : INT64_MIN,
                         .hi = k + 1 < readers
                                   ? c->user_db[c->U * (size_t)(k + 1) / (size_t)readers]
                                   : INT64_MAX,
                         .users = &um, .items = &im, .u_ptr = u_ptr};
    for (int k = 1; k < readers; k++)
        started[k] = pthread_create(&th[k], NULL, part_read, &part[k]) == 0;
    part_read(&part[0]);
    for (int k = 1; k < readers; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            part_read(&part[k]);
    }
    size_t n = 0;
    for (int k = 0; k < readers; k++) {
        if (part[k].rc && !rc) {
            rc = part[k].rc;
            *err = part[k].err;
        }
        n += part[k].n;
    }
    if (rc)
        goto done;
    /* the parts end to end, in the first part's arrays */
    Part *p0 = &part[0];
    uint32_t *it = realloc(p0->items_idx, (n ? n : 1) * sizeof *it);
    if (it)
        p0->items_idx = it;
    float *r = it ? realloc(p0->rating, (n ? n : 1) * sizeof *r) : NULL;
    if (r)
        p0->rating = r;
    int64_t *t = r ? realloc(p0->ts, (n ? n : 1) * sizeof *t) : NULL;
    if (!t) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory loading %zu interactions", n);
        goto done;
    }
    p0->ts = t;
    size_t w = p0->n;
    for (int k = 1; k < readers; w += part[k++].n) {
        if (!part[k].n)
            continue; /* its arrays may be NULL */
        memcpy(p0->items_idx + w, part[k].items_idx, part[k].n * sizeof *it);
        memcpy(p0->rating + w, part[k].rating, part[k].n * sizeof *r);
        memcpy(p0->ts + w, part[k].ts, part[k].n * sizeof *t);
    }
    for (size_t u = 0; u < c->U; u++)
        u_ptr[u + 1] += u_ptr[u];
    rc = rs_matrix_from_csr(c->U, c->I, u_ptr, p0->items_idx, p0->rating, p0->ts, readers, out,
                            err);
    u_ptr = NULL; /* owned by *out now, or freed */
    p0->items_idx = NULL;
    p0->rating = NULL;
    p0->ts = NULL;
done:
    for (int k = 0; k < readers; k++)
        part_free(&part[k]);
    free(u_ptr);
    free(um.direct);
    free(im.direct);
    return rc;
}

/* How many connections read the interactions (see LOAD_PAR_BYTES). */
static int load_readers(Store *s, const StoreLoadOptions *o)
{
    const char *file = sqlite3_db_filename(s->db, "main");
    if (!file || !*file)
        return 1; /* in memory: no other connection sees it */
    if (o && o->readers > 0)
        return o->readers < LOAD_MAX_READERS ? o->readers : LOAD_MAX_READERS;
    int64_t pages = 0, size = 0;
    if (st_query_int(s, "PRAGMA page_count", &pages, NULL) ||
        st_query_int(s, "PRAGMA page_size", &size, NULL) || pages * size < LOAD_PAR_BYTES)
        return 1;
    int n = rs_ncpus();
    return n < LOAD_MAX_READERS ? n : LOAD_MAX_READERS;
}

/* One try at the whole dataset with `readers` connections; *changed when
 * another connection committed while they read (the result is then
 * discarded). */
static int load_once(Store *s, int readers, const StoreLoadOptions *o, RsDataset **out,
                     int *changed, RsErr *err)
{
    int64_t U = 0, I = 0, v0 = 0, v1 = 0;
    RsDataset *d = NULL;
    int rc = RS_OK;
    *out = NULL;
    *changed = 0;
    if (readers > 1 && (rc = st_query_int(s, "PRAGMA data_version", &v0, err)))
        return rc;
    if ((rc = st_exec(s, "BEGIN", err)))
        return rc;
    if (!(d = calloc(1, sizeof *d))) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = st_query_int(s, "SELECT count(*) FROM users", &U, err)) ||
        (rc = st_query_int(s, "SELECT count(*) FROM items", &I, err)) ||
        (rc = rs_catalog_new((size_t)U, (size_t)I, &d->cat, err)) ||
        (rc = load_users(s, d->cat, err)) || (rc = load_items(s, d->cat, err)) ||
        (rc = rs_catalog_finish(d->cat, err)))
        goto done;
    if (readers == 1)
        rc = load_interactions(s, d->cat, 1, &d->all, err);
done:
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (!rc && readers > 1) {
        rc = load_interactions(s, d->cat, readers, &d->all, err);
        if (!rc && o && o->after_read)
            o->after_read(o->arg);
        if (!rc)
            rc = st_query_int(s, "PRAGMA data_version", &v1, err);
        *changed = !rc && v1 != v0;
    }
    if (rc) {
        rs_dataset_free(d);
        return rc;
    }
    *out = d;
    return RS_OK;
}

int store_load_dataset_opts(Store *s, const StoreLoadOptions *o, RsDataset **out, RsErr *err)
{
    int readers = load_readers(s, o), changed = 0;
    for (int tries = 0;; tries++) {
        int rc = load_once(s, tries < LOAD_TRIES ? readers : 1, o, out, &changed, err);
        if (rc || !changed)
            return rc;
        rs_dataset_free(*out);
        *out = NULL;
    }
}

int store_load_dataset(Store *s, RsDataset **out, RsErr *err)
{
    return store_load_dataset_opts(s, NULL, out, err);
}

/* ---- splits ---------------------------------------------------------------------- */

static void fill_split_info(sqlite3_stmt *st, StoreSplitInfo *info)
{
    memset(info, 0, sizeof *info);
    info->id = sqlite3_column_int64(st, 0);
    snprintf(info->name, sizeof info->name, "%s", (const char *)sqlite3_column_text(st, 1));
    snprintf(info->method, sizeof info->method, "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(info->params, sizeof info->params, "%s", (const char *)sqlite3_column_text(st, 3));
    info->seed = sqlite3_column_int64(st, 4);
    info->created_at = sqlite3_column_int64(st, 5);
    info->n_train = sqlite3_column_int64(st, 6);
    info->n_test = sqlite3_column_int64(st, 7);
    info->n_valid = sqlite3_column_int64(st, 8);
    info->folds = sqlite3_column_int(st, 9);
}

#define SPLIT_COLS                                                                           \
    "id, name, method, params, seed, created_at, n_train, n_test, n_valid, "                 \
    "CASE method WHEN 'kfold' THEN (SELECT max(fold) + 1 FROM split_members m WHERE "         \
    "m.split_id = splits.id) ELSE 0 END"

int store_splits_list(Store *s, StoreSplitInfo **out, size_t *n, RsErr *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    int rc = st_prepare(s, "SELECT " SPLIT_COLS " FROM splits ORDER BY id", &st, err);
    size_t cap = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (st_grow((void **)out, &cap, *n, sizeof **out)) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            break;
        }
        fill_split_info(st, &(*out)[(*n)++]);
    }
    sqlite3_finalize(st);
    return rc;
}

/* "a, b, c" of the names in the table, for "not found" messages. */
static void names_of(Store *s, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *st;
    size_t w = 0;
    buf[0] = '\0';
    if (st_prepare(s, sql, &st, NULL))
        return;
    while (sqlite3_step(st) == SQLITE_ROW && w + 8 < cap)
        w += (size_t)snprintf(buf + w, cap - w, "%s%s", w ? ", " : "",
                              (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!buf[0])
        snprintf(buf, cap, "none yet");
}

int store_split_info(Store *s, const char *name, StoreSplitInfo *info, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT " SPLIT_COLS " FROM splits WHERE name = ?1", &st, err);
    if (rc)
        return rc;
    st_bind_text(st, 1, name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        fill_split_info(st, info);
    } else {
        char names[512];
        names_of(s, "SELECT name FROM splits ORDER BY id", names, sizeof names);
        rc = rs_err_set(err, RS_ENOTFOUND, "no split named \"%s\" (splits: %s)", name, names);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_split_save(Store *s, const char *name, const char *method, const char *params_json,
                     uint64_t seed, const RsDataset *d, const uint8_t *part, int folds,
                     RsErr *err)
{
    const RsMatrix *m = d->all;
    const RsCatalog *c = d->cat;
    size_t cnt[3] = {0};
    for (size_t k = 0; k < m->NNZ; k++)
        cnt[folds ? 1 : part[k] < 3 ? part[k] : 0]++;
    sqlite3_stmt *ins = NULL, *mem = NULL;
    int rc = st_exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if ((rc = st_prepare(s, "INSERT INTO splits(name, method, params, seed, created_at, n_train, "
                            "n_test, n_valid) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &ins, err)))
        goto done;
    st_bind_text(ins, 1, name);
    st_bind_text(ins, 2, method);
    st_bind_text(ins, 3, params_json ? params_json : "{}");
    sqlite3_bind_int64(ins, 4, (int64_t)seed);
    sqlite3_bind_int64(ins, 5, (int64_t)time(NULL));
    sqlite3_bind_int64(ins, 6, (int64_t)cnt[0]);
    sqlite3_bind_int64(ins, 7, (int64_t)cnt[1]);
    sqlite3_bind_int64(ins, 8, (int64_t)cnt[2]);
    if (sqlite3_step(ins) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
            rc = rs_err_set(err, RS_EUSAGE, "a split named \"%s\" exists already", name);
        else
            rc = st_dberr(s, "saving the split", err);
        goto done;
    }
    int64_t sid = sqlite3_last_insert_rowid(s->db);
    if ((rc = st_prepare(s, "INSERT INTO split_members(split_id, user_id, item_id, part, fold) "
                            "VALUES(?1, ?2, ?3, ?4, ?5)", &mem, err)))
        goto done;
    sqlite3_bind_int64(mem, 1, sid);
    for (size_t u = 0; u < m->U && !rc; u++)
        for (size_t k = m->u_ptr[u]; k < m->u_ptr[u + 1] && !rc; k++) {
            if (!folds && part[k] == 0)
                continue;
            sqlite3_bind_int64(mem, 2, c->user_db[u]);
            sqlite3_bind_int64(mem, 3, c->item_db[m->u_items[k]]);
            sqlite3_bind_int(mem, 4, folds ? 1 : part[k]);
            sqlite3_bind_int(mem, 5, folds ? part[k] : 0);
            if (sqlite3_step(mem) != SQLITE_DONE)
                rc = st_dberr(s, "saving the split", err);
            sqlite3_reset(mem);
        }
done:
    sqlite3_finalize(ins);
    sqlite3_finalize(mem);
    if (!rc)
        rc = st_exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_split_load(Store *s, const char *name, const RsDataset *d, uint8_t *part,
                     StoreSplitInfo *info, RsErr *err)
{
    StoreSplitInfo local;
    if (!info)
        info = &local;
    int rc = store_split_info(s, name, info, err);
    if (rc)
        return rc;
    const RsMatrix *m = d->all;
    memset(part, 0, m->NNZ);
    sqlite3_stmt *st;
    if ((rc = st_prepare(s, "SELECT user_id, item_id, part, fold FROM split_members "
                            "WHERE split_id = ?1", &st, err)))
        return rc;
    sqlite3_bind_int64(st, 1, info->id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        long u = index_of(d->cat->user_db, d->cat->U, sqlite3_column_int64(st, 0));
        long i = index_of(d->cat->item_db, d->cat->I, sqlite3_column_int64(st, 1));
        if (u < 0 || i < 0)
            continue;
        size_t k = rs_matrix_find(m, (uint32_t)u, (uint32_t)i);
        if (k != (size_t)-1)
            part[k] = (uint8_t)(info->folds ? sqlite3_column_int(st, 3) : sqlite3_column_int(st, 2));
    }
    sqlite3_finalize(st);
    return RS_OK;
}

/* ---- runs ------------------------------------------------------------------------- */

void store_run_done(StoreRun *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->algorithm);
    free(r->params);
    free(r->device);
    free(r->status);
    free(r->error);
    free(r->split_name);
    free(r->model);
    memset(r, 0, sizeof *r);
}

void store_runs_free(StoreRun *runs, size_t n)
{
    for (size_t k = 0; runs && k < n; k++)
        store_run_done(&runs[k]);
    free(runs);
}

int store_run_create(Store *s, const char *name, const char *algorithm, const char *params_json,
                     int64_t split_id, const char *device, uint64_t seed, int64_t *id,
                     RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "INSERT INTO runs(name, algorithm, params, split_id, device, seed, "
                           "status, started_at, pid) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'running', "
                           "?7, ?8)", &st, err);
    if (rc)
        return rc;
    st_bind_text(st, 1, name);
    st_bind_text(st, 2, algorithm);
    st_bind_text(st, 3, params_json ? params_json : "{}");
    if (split_id > 0)
        sqlite3_bind_int64(st, 4, split_id);
    else
        sqlite3_bind_null(st, 4);
    st_bind_text(st, 5, device ? device : "cpu");
    sqlite3_bind_int64(st, 6, (int64_t)seed);
    sqlite3_bind_int64(st, 7, (int64_t)time(NULL));
    sqlite3_bind_int64(st, 8, (int64_t)getpid());
    if (sqlite3_step(st) != SQLITE_DONE) {
        if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
            rc = rs_err_set(err, RS_EUSAGE, "a run named \"%s\" exists already", name);
        else
            rc = st_dberr(s, "creating the run", err);
    } else {
        *id = sqlite3_last_insert_rowid(s->db);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_run_finish(Store *s, int64_t id, const char *status, const char *error,
                     double train_seconds, const void *blob, size_t len, int model_format,
                     RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "UPDATE runs SET status = ?2, error = ?3, finished_at = ?4, "
                           "train_seconds = ?5, model = ?6, model_format = ?7 WHERE id = ?1",
                        &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    st_bind_text(st, 2, status);
    st_bind_text(st, 3, error);
    sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
    if (isnan(train_seconds))
        sqlite3_bind_null(st, 5);
    else
        sqlite3_bind_double(st, 5, train_seconds);
    if (blob)
        sqlite3_bind_blob64(st, 6, blob, len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_int(st, 7, model_format);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = st_dberr(s, "finishing the run", err);
    sqlite3_finalize(st);
    return rc;
}

/* When the process with this pid started, in Unix seconds, from Linux's
 * /proc; -1 when unknown. */
static int64_t process_start(pid_t pid)
{
    char path[64], buf[1024];
    long long btime = -1;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "btime %lld", &btime) == 1)
            break;
    fclose(f);
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (btime < 0 || !(f = fopen(path, "r")))
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name, which may hold spaces and ')' */
    char *p = strrchr(buf, ')');
    unsigned long long ticks;
    long hz = sysconf(_SC_CLK_TCK);
    if (!p || hz <= 0 ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
                      "%*d %*d %llu", &ticks) != 1)
        return -1;
    return btime + (int64_t)(ticks / (unsigned long long)hz);
}

/* Whether the process that recorded a run as running (pid, at started_at)
 * has ended: no process has that pid, or the one that has it started after
 * the run did (the pid was reused, as after a reboot or in a fresh
 * container). An unknown pid (0) is never judged gone. */
static int run_owner_gone(int64_t pid, int64_t started_at)
{
    if (pid <= 0 || pid > INT32_MAX)
        return 0;
    if (kill((pid_t)pid, 0) != 0)
        return errno == ESRCH;
    int64_t t = process_start((pid_t)pid);
    return t >= 0 && t > started_at + 2; /* btime and tick rounding: 2 s slack */
}

/* A run read as 'running' whose process has ended reads as interrupted
 * (read-only stores, and a race with another connection's update). */
static int fix_status(StoreRun *r)
{
    if (strcmp(r->status, "running") || !run_owner_gone(r->pid, r->started_at))
        return 0;
    char *st = strdup("interrupted");
    if (!st)
        return -1;
    free(r->status);
    r->status = st;
    return 0;
}

#define RUN_COLS                                                                                \
    "r.id, r.name, r.algorithm, r.params, r.device, r.status, r.error, s.name, r.split_id, "     \
    "r.seed, r.started_at, r.finished_at, r.pid, r.train_seconds, r.model_format"

static int fill_run(sqlite3_stmt *st, StoreRun *r, int with_model)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->name = col_dup(st, 1);
    r->algorithm = col_dup(st, 2);
    r->params = col_dup(st, 3);
    r->device = col_dup(st, 4);
    r->status = col_dup(st, 5);
    r->error = col_dup(st, 6);
    r->split_name = col_dup(st, 7);
    r->split_id = sqlite3_column_int64(st, 8);
    r->seed = sqlite3_column_int64(st, 9);
    r->started_at = sqlite3_column_int64(st, 10);
    r->finished_at = sqlite3_column_int64(st, 11);
    r->pid = sqlite3_column_int64(st, 12);
    r->train_seconds = sqlite3_column_type(st, 13) == SQLITE_NULL ? NAN
                                                                  : sqlite3_column_double(st, 13);
    r->model_format = sqlite3_column_int(st, 14);
    if (with_model && sqlite3_column_type(st, 15) == SQLITE_BLOB) {
        r->model_len = (size_t)sqlite3_column_bytes(st, 15);
        if (!(r->model = malloc(r->model_len ? r->model_len : 1)))
            return -1;
        memcpy(r->model, sqlite3_column_blob(st, 15), r->model_len);
    }
    return r->name && r->algorithm && r->status ? 0 : -1;
}

int store_run_get(Store *s, const char *name, int with_model, StoreRun *out, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT " RUN_COLS ", r.model FROM runs r LEFT JOIN splits s ON "
                           "s.id = r.split_id WHERE r.name = ?1", &st, err);
    if (rc)
        return rc;
    st_bind_text(st, 1, name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (fill_run(st, out, with_model) || fix_status(out))
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    } else {
        char names[512];
        names_of(s, "SELECT name FROM runs ORDER BY id", names, sizeof names);
        rc = rs_err_set(err, RS_ENOTFOUND, "no run named \"%s\" (runs: %s)", name, names);
    }
    sqlite3_finalize(st);
    return rc;
}

int st_mark_interrupted(Store *s)
{
    sqlite3_stmt *st, *up = NULL;
    int64_t ids[64];
    size_t n = 0;
    if (s->readonly ||
        st_prepare(s, "SELECT id, pid, started_at FROM runs WHERE status = 'running'", &st, NULL))
        return 0;
    while (n < RS_ARRAY_LEN(ids) && sqlite3_step(st) == SQLITE_ROW)
        if (run_owner_gone(sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2)))
            ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (!n)
        return 0;
    /* one transaction: a reader sees all of them marked or none; never
     * waiting for another process's write (a listing must not hang while
     * an import writes: the next open or listing marks them) */
    sqlite3_busy_timeout(s->db, 0);
    int busy = st_exec(s, "BEGIN IMMEDIATE", NULL);
    sqlite3_busy_timeout(s->db, ST_BUSY_MS);
    if (busy)
        return -1;
    int rc = st_prepare(s, "UPDATE runs SET status = 'interrupted', error = 'the process "
                           "training it ended before it finished' "
                           "WHERE id = ?1 AND status = 'running'", &up, NULL);
    for (size_t k = 0; k < n && !rc; k++) {
        sqlite3_bind_int64(up, 1, ids[k]);
        if (sqlite3_step(up) != SQLITE_DONE)
            rc = -1;
        sqlite3_reset(up);
    }
    sqlite3_finalize(up);
    if (rc || st_exec(s, "COMMIT", NULL)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int store_runs_list(Store *s, StoreRun **out, size_t *n, RsErr *err)
{
    *out = NULL;
    *n = 0;
    st_mark_interrupted(s);
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT " RUN_COLS " FROM runs r LEFT JOIN splits s ON s.id = "
                           "r.split_id ORDER BY r.id", &st, err);
    size_t cap = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (st_grow((void **)out, &cap, *n, sizeof **out)) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            break;
        }
        if (fill_run(st, &(*out)[(*n)++], 0) || fix_status(&(*out)[*n - 1]))
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    sqlite3_finalize(st);
    if (rc) {
        store_runs_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int store_run_fresh_name(Store *s, const char *algorithm, char *buf, size_t cap, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT 1 FROM runs WHERE name = ?1", &st, err);
    if (rc)
        return rc;
    for (int k = 1; k < 1000000; k++) {
        snprintf(buf, cap, "%s-%d", algorithm, k);
        sqlite3_reset(st);
        st_bind_text(st, 1, buf);
        if (sqlite3_step(st) != SQLITE_ROW)
            break;
    }
    sqlite3_finalize(st);
    return RS_OK;
}

/* ---- metrics ------------------------------------------------------------------------ */

int store_metrics_save(Store *s, int64_t run_id, const char *protocol, const StoreMetric *m,
                       size_t n, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if (!(rc = st_prepare(s, "INSERT OR REPLACE INTO metrics(run_id, protocol, metric, k, value) "
                             "VALUES(?1, ?2, ?3, ?4, ?5)", &st, err))) {
        for (size_t k = 0; k < n && !rc; k++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, run_id);
            st_bind_text(st, 2, protocol);
            st_bind_text(st, 3, m[k].name);
            sqlite3_bind_int(st, 4, m[k].k);
            if (isnan(m[k].value))
                sqlite3_bind_null(st, 5);
            else
                sqlite3_bind_double(st, 5, m[k].value);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = st_dberr(s, "saving metrics", err);
        }
        sqlite3_finalize(st);
    }
    if (!rc)
        rc = st_exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_metrics_get(Store *s, int64_t run_id, const char *protocol, StoreMetric **out,
                      size_t *n, RsErr *err)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    int rc = st_prepare(s, "SELECT metric, k, value FROM metrics WHERE run_id = ?1 AND "
                           "protocol = ?2 ORDER BY metric, k", &st, err);
    size_t cap = 0;
    sqlite3_bind_int64(st, 1, run_id);
    st_bind_text(st, 2, protocol);
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        if (st_grow((void **)out, &cap, *n, sizeof **out)) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            break;
        }
        StoreMetric *m = &(*out)[(*n)++];
        snprintf(m->name, sizeof m->name, "%s", (const char *)sqlite3_column_text(st, 0));
        m->k = sqlite3_column_int(st, 1);
        m->value = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_user_metrics_save(Store *s, int64_t run_id, const char *protocol, const char *name,
                            int k, const RsCatalog *cat, const uint32_t *users,
                            const double *values, size_t n, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    if (!(rc = st_prepare(s, "INSERT OR REPLACE INTO user_metrics(run_id, protocol, metric, k, "
                             "user_id, value) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &st, err))) {
        sqlite3_bind_int64(st, 1, run_id);
        st_bind_text(st, 2, protocol);
        st_bind_text(st, 3, name);
        sqlite3_bind_int(st, 4, k);
        for (size_t j = 0; j < n && !rc; j++) {
            sqlite3_bind_int64(st, 5, cat->user_db[users[j]]);
            if (isnan(values[j]))
                sqlite3_bind_null(st, 6);
            else
                sqlite3_bind_double(st, 6, values[j]);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = st_dberr(s, "saving per-user metrics", err);
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
    }
    if (!rc)
        rc = st_exec(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_user_metrics_get(Store *s, int64_t run_id, const char *protocol, const char *name,
                           int k, const RsCatalog *cat, double *values, RsErr *err)
{
    for (size_t u = 0; u < cat->U; u++)
        values[u] = NAN;
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT user_id, value FROM user_metrics WHERE run_id = ?1 AND "
                           "protocol = ?2 AND metric = ?3 AND k = ?4", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    st_bind_text(st, 2, protocol);
    st_bind_text(st, 3, name);
    sqlite3_bind_int(st, 4, k);
    while (sqlite3_step(st) == SQLITE_ROW) {
        long u = index_of(cat->user_db, cat->U, sqlite3_column_int64(st, 0));
        if (u >= 0 && sqlite3_column_type(st, 1) != SQLITE_NULL)
            values[u] = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    return RS_OK;
}
