/*
 * store.c - opening, migrating and closing the database; the cached dataset
 * statistics.
 *
 * A new or empty file becomes a recscope database (application_id "RCSP",
 * user_version = schema version). Migrations run in one transaction, so a
 * crash mid-migration leaves the old version intact.
 */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema.h"
#include "store_internal.h"

const double store_quantile_points[STORE_NQUANT] = {0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0};
static const char *const quant_names[STORE_NQUANT] = {"min", "q25", "q50", "q75",
                                                      "q90", "q99", "max"};
static const double pop_fracs[5] = {0.01, 0.05, 0.10, 0.20, 0.50};

int st_dberr(Store *s, const char *what, RsErr *err)
{
    return rs_err_set(err, RS_EDB, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

int st_prepare(Store *s, const char *sql, sqlite3_stmt **st, RsErr *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return st_dberr(s, "prepare", err);
    }
    return RS_OK;
}

int st_exec(Store *s, const char *sql, RsErr *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        rs_err_set(err, RS_EDB, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return RS_EDB;
    }
    return RS_OK;
}

int st_query_int(Store *s, const char *sql, int64_t *out, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, sql, &st, err);
    if (rc)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        rc = st_dberr(s, "query", err);
    sqlite3_finalize(st);
    return rc;
}

int st_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

const char *store_path(const Store *s) { return s->path; }

int st_grow(void **rows, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*rows, nc * elem);
    if (!p)
        return -1;
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *rows = p;
    *cap = nc;
    return 0;
}

static int migrate(Store *s, int from, RsErr *err)
{
    int rc = st_exec(s, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    for (int v = from; v < schema_latest() && rc == RS_OK; v++)
        rc = st_exec(s, schema_migration(v), err);
    if (rc == RS_OK) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d",
                 STORE_APPLICATION_ID, schema_latest());
        rc = st_exec(s, sql, err);
    }
    if (rc == RS_OK)
        rc = st_exec(s, "COMMIT", err);
    if (rc != RS_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Checks that the file is ours (or empty) and brings it up to date. */
static int check_and_migrate(Store *s, RsErr *err)
{
    int64_t app = 0, ver = 0, objects = 0;
    if (st_query_int(s, "PRAGMA application_id", &app, NULL) != RS_OK) {
        switch (sqlite3_errcode(s->db) & 0xff) {
        case SQLITE_READONLY:
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
            return rs_err_set(err, RS_EIO,
                              "%s: cannot open it%s: its folder is not writable (SQLite keeps "
                              "the files %s-wal and %s-shm beside the database)",
                              s->path, s->readonly ? " read-only" : " for writing", s->path,
                              s->path);
        case SQLITE_NOTADB:
            return rs_err_set(err, RS_EPARSE, "%s: not a SQLite database (%s)", s->path,
                              sqlite3_errmsg(s->db));
        default:
            return rs_err_set(err, RS_EIO, "%s: cannot read it: %s", s->path,
                              sqlite3_errmsg(s->db));
        }
    }
    int rc = st_query_int(s, "PRAGMA user_version", &ver, err);
    if (!rc)
        rc = st_query_int(s, "SELECT count(*) FROM sqlite_schema", &objects, err);
    if (rc)
        return rc;
    if (app != STORE_APPLICATION_ID) {
        if (objects > 0 || ver != 0)
            return rs_err_set(err, RS_EPARSE,
                              "%s: not a recscope database (a SQLite file with other tables)",
                              s->path);
        if (s->readonly)
            return rs_err_set(err, RS_EPARSE, "%s: empty file, not a recscope database yet",
                              s->path);
        return migrate(s, 0, err);
    }
    if (ver > schema_latest())
        return rs_err_set(err, RS_EVERSION,
                          "%s: written by a newer recscope (schema version %lld; this build "
                          "knows up to %d)",
                          s->path, (long long)ver, schema_latest());
    if (ver < schema_latest()) {
        if (s->readonly)
            return rs_err_set(err, RS_EVERSION,
                              "%s: schema version %lld needs an upgrade to %d; open it "
                              "read-write once",
                              s->path, (long long)ver, schema_latest());
        return migrate(s, (int)ver, err);
    }
    return RS_OK;
}

static int wal_exists(const char *path)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s-wal", path);
    return stat(p, &sb) == 0;
}

/* Opens s->path with SQLite (as an immutable URI when immutable), with the
 * busy timeout, extended result codes and foreign keys on. */
static int open_db(Store *s, int oflags, int immutable, RsErr *err)
{
    char *uri = NULL;
    const char *name = s->path;
    if (immutable) {
        /* file: URI with every byte outside [A-Za-z0-9/._-] percent-encoded */
        size_t n = strlen(s->path);
        if (!(uri = malloc(3 * n + 32)))
            return rs_err_set(err, RS_ENOMEM, "out of memory");
        char *w = uri + sprintf(uri, "file:");
        for (const unsigned char *p = (const unsigned char *)s->path; *p; p++) {
            if (isalnum(*p) || strchr("/._-", *p))
                *w++ = (char)*p;
            else
                w += sprintf(w, "%%%02X", *p);
        }
        strcpy(w, "?immutable=1");
        name = uri;
        oflags |= SQLITE_OPEN_URI;
    }
    int rc = sqlite3_open_v2(name, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    free(s->uri);
    s->uri = uri; /* the dataset loader's own connections open it alike */
    if (rc != SQLITE_OK)
        return rs_err_set(err, RS_EIO, "%s: cannot open: %s", s->path,
                          s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_busy_timeout(s->db, ST_BUSY_MS);
    sqlite3_extended_result_codes(s->db, 1);
    return st_exec(s, "PRAGMA foreign_keys=ON", err);
}

int store_open(Store **out, const char *path, int flags, RsErr *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return rs_err_set(err, RS_EUSAGE, "%s: is a directory, not a database file", path);
    } else if (errno != ENOENT || !(flags & STORE_OPEN_CREATE) ||
               (flags & STORE_OPEN_READONLY)) {
        return rs_err_set(err, errno == ENOENT ? RS_ENOTFOUND : RS_EIO, "%s: %s", path,
                          strerror(errno));
    }
    Store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    s->readonly = (flags & STORE_OPEN_READONLY) != 0;
    int oflags = s->readonly ? SQLITE_OPEN_READONLY
                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = open_db(s, oflags, 0, err);
    if (rc)
        goto fail;
    if (!s->readonly && sqlite3_db_readonly(s->db, "main") == 1) {
        rc = rs_err_set(err, RS_EIO, "%s: the file is read-only (no permission to write it)",
                        path);
        goto fail;
    }
    rc = check_and_migrate(s, err);
    if (rc && s->readonly && !wal_exists(path)) {
        /* A WAL database in a folder this user cannot write: without a
         * -wal file there is nothing beyond the main file, which SQLite
         * reads as is when told it cannot change (immutable). */
        sqlite3_close_v2(s->db);
        s->db = NULL;
        RsErr again;
        if (open_db(s, oflags, 1, &again) == RS_OK && check_and_migrate(s, &again) == RS_OK)
            rc = RS_OK;
    }
    if (rc)
        goto fail;
    if (!s->readonly) {
        int64_t dummy;
        /* journal_mode returns a row; run it as a query. */
        if ((rc = st_query_int(s, "PRAGMA journal_mode=WAL", &dummy, err)))
            goto fail;
        if ((rc = st_exec(s, "PRAGMA synchronous=NORMAL", err)))
            goto fail;
        /* runs a killed process left 'running' show as interrupted from
         * now on (best effort, without waiting for another writer) */
        st_mark_interrupted(s);
    }
    *out = s;
    return RS_OK;
fail:
    store_close(s);
    return rc;
}

void store_close(Store *s)
{
    if (!s)
        return;
    sqlite3_close_v2(s->db);
    free(s->uri);
    free(s->path);
    free(s);
}

/* ---- statistics -------------------------------------------------------- */

static int put_stat(sqlite3_stmt *ins, const char *key, double v)
{
    sqlite3_reset(ins);
    sqlite3_bind_text(ins, 1, key, -1, SQLITE_TRANSIENT);
    if (isnan(v))
        sqlite3_bind_null(ins, 2);
    else
        sqlite3_bind_double(ins, 2, v);
    return sqlite3_step(ins) == SQLITE_DONE ? 0 : -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Linear-interpolated quantile of sorted v[0..n). */
static double quantile(const int64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    double f = pos - (double)lo;
    return (double)v[lo] * (1 - f) + (double)v[hi] * f;
}

static int put_quantiles(sqlite3_stmt *ins, const char *prefix, const int64_t *v, size_t n)
{
    char key[32];
    for (int i = 0; i < STORE_NQUANT; i++) {
        snprintf(key, sizeof key, "%s_%s", prefix, quant_names[i]);
        if (put_stat(ins, key, quantile(v, n, store_quantile_points[i])))
            return -1;
    }
    return 0;
}

static int put_pop_shares(sqlite3_stmt *ins, const int64_t *v, size_t n, int64_t n_items,
                          int64_t total)
{
    /* v is ascending; the top items are at the end. Items with no
     * interaction count in the denominator of "top x% of items". */
    char key[32];
    for (int i = 0; i < 5; i++) {
        size_t top = (size_t)ceil(pop_fracs[i] * (double)n_items);
        int64_t sum = 0;
        for (size_t j = 0; j < top && j < n; j++)
            sum += v[n - 1 - j];
        snprintf(key, sizeof key, "pop_top%g", pop_fracs[i] * 100);
        if (put_stat(ins, key, total ? (double)sum / (double)total : 0.0))
            return -1;
    }
    return 0;
}

/* ---- passes over the interactions --------------------------------------------- */

int st_scan_open(Store *s, const StRows *mem, StScan *sc, RsErr *err)
{
    memset(sc, 0, sizeof *sc);
    sc->s = s;
    sc->mem = mem;
    return mem ? RS_OK
               : st_prepare(s, "SELECT user_id, item_id, rating, ts FROM interactions", &sc->st,
                            err);
}

int st_scan_next(StScan *sc, StRow *row, RsErr *err)
{
    if (sc->mem) {
        if (sc->k == sc->mem->n)
            return 0;
        const StageRow *r = &sc->mem->v[sc->k++];
        row->u = r->u;
        row->i = r->i;
        row->rating = r->rating; /* NAN stays NAN */
        row->ts = r->ts;         /* STAGE_NO_TS == STORE_NO_TS */
        return 1;
    }
    int r = sqlite3_step(sc->st);
    if (r == SQLITE_DONE)
        return 0;
    if (r != SQLITE_ROW)
        return st_dberr(sc->s, "reading the interactions", err);
    row->u = sqlite3_column_int64(sc->st, 0);
    row->i = sqlite3_column_int64(sc->st, 1);
    row->rating = sqlite3_column_type(sc->st, 2) == SQLITE_NULL
                      ? NAN
                      : sqlite3_column_double(sc->st, 2);
    row->ts = sqlite3_column_type(sc->st, 3) == SQLITE_NULL ? STORE_NO_TS
                                                           : sqlite3_column_int64(sc->st, 3);
    return 1;
}

void st_scan_close(StScan *sc)
{
    sqlite3_finalize(sc->st);
    sc->st = NULL;
}

/* Growable int64 array. */
typedef struct Vec {
    int64_t *v;
    size_t n, cap;
} Vec;

static int vec_push(Vec *a, int64_t x)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 1024;
        int64_t *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = x;
    return 0;
}

/* Everything store_stats_refresh() gathers from the interactions. */
typedef struct Scan {
    int64_t n, rated, timed;
    double rmin, rmax, rsum;
    int64_t tmin, tmax;
    Vec user_counts;  /* one per user with interactions */
    Vec item_counts;  /* indexed by item id */
    int n_hist;       /* distinct ratings, -1 when more than STORE_MAX_HIST */
    double hist_value[STORE_MAX_HIST];
    int64_t hist_count[STORE_MAX_HIST];
    int64_t time_count[STORE_TIME_BUCKETS];
} Scan;

static void scan_rating(Scan *sc, double r)
{
    if (sc->rated == 0 || r < sc->rmin)
        sc->rmin = r;
    if (sc->rated == 0 || r > sc->rmax)
        sc->rmax = r;
    sc->rated++;
    sc->rsum += r;
    if (sc->n_hist < 0)
        return;
    for (int k = 0; k < sc->n_hist; k++)
        if (sc->hist_value[k] == r) {
            sc->hist_count[k]++;
            return;
        }
    if (sc->n_hist == STORE_MAX_HIST) {
        sc->n_hist = -1;
        return;
    }
    sc->hist_value[sc->n_hist] = r;
    sc->hist_count[sc->n_hist++] = 1;
}

/* The first pass, in primary-key order: (user, item) rows grouped by user. */
static int scan_counts(Store *s, const StRows *mem, Scan *sc, RsErr *err)
{
    StScan it;
    StRow row;
    int rc = st_scan_open(s, mem, &it, err);
    if (rc)
        return rc;
    int64_t cur_user = INT64_MIN, cur_n = 0;
    int r, oom = 0;
    while (!oom && (r = st_scan_next(&it, &row, err)) == 1) {
        if (row.u != cur_user) {
            if (cur_n)
                oom |= vec_push(&sc->user_counts, cur_n);
            cur_user = row.u;
            cur_n = 0;
        }
        cur_n++;
        sc->n++;
        if (row.i >= 0 && row.i < (int64_t)1 << 32) {
            while (!oom && sc->item_counts.n <= (size_t)row.i)
                oom |= vec_push(&sc->item_counts, 0);
            if (!oom)
                sc->item_counts.v[row.i]++;
        }
        if (!isnan(row.rating))
            scan_rating(sc, row.rating);
        if (row.ts != STORE_NO_TS) {
            if (sc->timed == 0 || row.ts < sc->tmin)
                sc->tmin = row.ts;
            if (sc->timed == 0 || row.ts > sc->tmax)
                sc->tmax = row.ts;
            sc->timed++;
        }
    }
    st_scan_close(&it);
    if (!oom && cur_n)
        oom |= vec_push(&sc->user_counts, cur_n);
    if (oom)
        return rs_err_set(err, RS_ENOMEM, "out of memory computing statistics");
    return r < 0 ? r : RS_OK;
}

/* The second pass, for the histograms that need the first pass's ranges:
 * time, and continuous ratings (20 equal-width bins labelled by their
 * centre). */
static int scan_hists(Store *s, const StRows *mem, Scan *sc, RsErr *err)
{
    int continuous = sc->n_hist < 0;
    double w = (sc->rmax - sc->rmin) / 20.0;
    if (continuous) {
        memset(sc->hist_count, 0, sizeof sc->hist_count);
        for (int k = 0; k < 20; k++)
            sc->hist_value[k] = sc->rmin + (k + 0.5) * w;
        sc->n_hist = 20;
    }
    if (!continuous && !sc->timed)
        return RS_OK;
    StScan it;
    StRow row;
    int rc = st_scan_open(s, mem, &it, err), r;
    if (rc)
        return rc;
    double span = (double)(sc->tmax - sc->tmin) + 1.0;
    while ((r = st_scan_next(&it, &row, err)) == 1) {
        if (continuous && !isnan(row.rating)) {
            int b = w > 0 ? (int)((row.rating - sc->rmin) / w) : 0;
            sc->hist_count[b < 0 ? 0 : b > 19 ? 19 : b]++;
        }
        if (row.ts != STORE_NO_TS) {
            int b = (int)((double)(row.ts - sc->tmin) * STORE_TIME_BUCKETS / span);
            sc->time_count[b < 0 ? 0 : b >= STORE_TIME_BUCKETS ? STORE_TIME_BUCKETS - 1 : b]++;
        }
    }
    st_scan_close(&it);
    return r < 0 ? r : RS_OK;
}

static int put_hists(Store *s, const Scan *sc, RsErr *err)
{
    sqlite3_stmt *ins;
    int rc = st_exec(s, "DELETE FROM stats_rating_hist; DELETE FROM stats_time_hist;", err);
    if (!rc)
        rc = st_prepare(s, "INSERT INTO stats_rating_hist(rating, n) VALUES(?1, ?2)", &ins, err);
    if (rc)
        return rc;
    for (int k = 0; k < sc->n_hist && !rc; k++) {
        sqlite3_reset(ins);
        sqlite3_bind_double(ins, 1, sc->hist_value[k]);
        sqlite3_bind_int64(ins, 2, sc->hist_count[k]);
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = st_dberr(s, "statistics", err);
    }
    sqlite3_finalize(ins);
    if (rc || sc->timed == 0)
        return rc;
    if ((rc = st_prepare(s, "INSERT INTO stats_time_hist(bucket, n) VALUES(?1, ?2)", &ins, err)))
        return rc;
    for (int b = 0; b < STORE_TIME_BUCKETS && !rc; b++) {
        sqlite3_reset(ins);
        sqlite3_bind_int(ins, 1, b);
        sqlite3_bind_int64(ins, 2, sc->time_count[b]);
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = st_dberr(s, "statistics", err);
    }
    sqlite3_finalize(ins);
    return rc;
}

int store_stats_refresh(Store *s, RsErr *err) { return st_stats_refresh(s, NULL, err); }

int st_stats_refresh(Store *s, const StRows *mem, RsErr *err)
{
    Scan sc;
    memset(&sc, 0, sizeof sc);
    sqlite3_stmt *ins = NULL;
    int64_t n_users = 0, n_items = 0;
    int rc = st_query_int(s, "SELECT count(*) FROM users", &n_users, err);
    if (!rc)
        rc = st_query_int(s, "SELECT count(*) FROM items", &n_items, err);
    if (!rc)
        rc = scan_counts(s, mem, &sc, err);
    if (!rc)
        rc = scan_hists(s, mem, &sc, err);
    if (!rc)
        rc = st_prepare(s, "INSERT OR REPLACE INTO stats(key, value) VALUES(?, ?)", &ins, err);
    if (rc)
        goto done;
    int timed = sc.timed > 0, rated = sc.rated > 0;
    double density =
        n_users && n_items ? (double)sc.n / ((double)n_users * (double)n_items) : 0;
    const struct { const char *k; double v; } scalars[] = {
        {"users", (double)n_users},   {"items", (double)n_items},
        {"interactions", (double)sc.n}, {"rated", (double)sc.rated},
        {"timed", (double)sc.timed},  {"density", density},
        {"rating_min", rated ? sc.rmin : NAN},
        {"rating_max", rated ? sc.rmax : NAN},
        {"rating_mean", rated ? sc.rsum / (double)sc.rated : NAN},
        {"ts_min", timed ? (double)sc.tmin : NAN},
        {"ts_max", timed ? (double)sc.tmax : NAN},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(scalars); i++)
        if (put_stat(ins, scalars[i].k, scalars[i].v)) {
            rc = st_dberr(s, "statistics", err);
            goto done;
        }
    /* Items with no interaction are left out of the per-item quantiles. */
    size_t w = 0;
    for (size_t k = 0; k < sc.item_counts.n; k++)
        if (sc.item_counts.v[k])
            sc.item_counts.v[w++] = sc.item_counts.v[k];
    sc.item_counts.n = w;
    qsort(sc.user_counts.v, sc.user_counts.n, sizeof(int64_t), cmp_i64);
    qsort(sc.item_counts.v, sc.item_counts.n, sizeof(int64_t), cmp_i64);
    if (put_quantiles(ins, "user", sc.user_counts.v, sc.user_counts.n) ||
        put_quantiles(ins, "item", sc.item_counts.v, sc.item_counts.n) ||
        put_pop_shares(ins, sc.item_counts.v, sc.item_counts.n, n_items, sc.n)) {
        rc = st_dberr(s, "statistics", err);
        goto done;
    }
    rc = put_hists(s, &sc, err);
done:
    sqlite3_finalize(ins);
    free(sc.user_counts.v);
    free(sc.item_counts.v);
    return rc;
}

static double stat_or(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static void apply_stat(StoreStats *o, const char *k, double v)
{
    char key[32];
    if (!strcmp(k, "users")) o->users = (int64_t)v;
    else if (!strcmp(k, "items")) o->items = (int64_t)v;
    else if (!strcmp(k, "interactions")) o->interactions = (int64_t)v;
    else if (!strcmp(k, "rated")) o->rated = (int64_t)v;
    else if (!strcmp(k, "timed")) o->timed = (int64_t)v;
    else if (!strcmp(k, "density")) o->density = v;
    else if (!strcmp(k, "rating_min")) o->rating_min = v;
    else if (!strcmp(k, "rating_max")) o->rating_max = v;
    else if (!strcmp(k, "rating_mean")) o->rating_mean = v;
    else if (!strcmp(k, "ts_min")) o->ts_min = isnan(v) ? 0 : (int64_t)v;
    else if (!strcmp(k, "ts_max")) o->ts_max = isnan(v) ? 0 : (int64_t)v;
    for (int i = 0; i < STORE_NQUANT; i++) {
        snprintf(key, sizeof key, "user_%s", quant_names[i]);
        if (!strcmp(k, key)) o->user_count_q[i] = v;
        snprintf(key, sizeof key, "item_%s", quant_names[i]);
        if (!strcmp(k, key)) o->item_count_q[i] = v;
    }
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "pop_top%g", pop_fracs[i] * 100);
        if (!strcmp(k, key)) o->pop_share[i] = v;
    }
}

int store_stats(Store *s, StoreStats *o, RsErr *err)
{
    memset(o, 0, sizeof *o);
    o->rating_min = o->rating_max = o->rating_mean = NAN;
    sqlite3_stmt *st;
    int rc = st_prepare(s, "SELECT key, value FROM stats", &st, err);
    if (rc)
        return rc;
    while (sqlite3_step(st) == SQLITE_ROW)
        apply_stat(o, (const char *)sqlite3_column_text(st, 0), stat_or(st, 1));
    sqlite3_finalize(st);
    if ((rc = st_prepare(s, "SELECT rating, n FROM stats_rating_hist ORDER BY rating", &st, err)))
        return rc;
    while (sqlite3_step(st) == SQLITE_ROW && o->n_hist < STORE_MAX_HIST) {
        o->hist_value[o->n_hist] = sqlite3_column_double(st, 0);
        o->hist_count[o->n_hist++] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if ((rc = st_prepare(s, "SELECT bucket, n FROM stats_time_hist", &st, err)))
        return rc;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t b = sqlite3_column_int64(st, 0);
        if (b >= 0 && b < STORE_TIME_BUCKETS)
            o->time_count[b] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    o->n_time = o->timed ? STORE_TIME_BUCKETS : 0;
    if ((rc = st_query_int(s, "SELECT count(*) FROM splits", &o->splits, err)))
        return rc;
    return st_query_int(s, "SELECT count(*) FROM runs", &o->runs, err);
}
