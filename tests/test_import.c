/*
 * test_import.c - every importer on small fixture files written here, and
 * bad input: each case gives a clear error naming file, line and field, and
 * leaves the database's content exactly as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "browse.h"
#include "import.h"
#include "query.h"
#include "store.h"
#include "testutil.h"

typedef struct Fx {
    char *dir;
    char *db;
    Store *s;
} Fx;

static int setup(void **state)
{
    Fx *fx = calloc(1, sizeof *fx);
    fx->dir = tu_mkdtemp();
    fx->db = tu_path(fx->dir, "t.db");
    RsErr err = {0};
    if (store_open(&fx->s, fx->db, STORE_OPEN_CREATE, &err) != RS_OK)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    Fx *fx = *state;
    store_close(fx->s);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx->db);
    free(fx);
    return 0;
}

/* A hash of every row of every table, in a fixed order; of every table but
 * "imports" (which records when) when data_only. */
static uint64_t table_hash(const char *db, int data_only)
{
    sqlite3 *h;
    sqlite3_stmt *tabs, *rows;
    uint64_t x = 1469598103934665603ull;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT name, sql FROM sqlite_schema ORDER BY name",
                                        -1, &tabs, NULL),
                     SQLITE_OK);
    while (sqlite3_step(tabs) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tabs, 0);
        const char *sql = (const char *)sqlite3_column_text(tabs, 1);
        for (const char *p = sql ? sql : ""; *p; p++)
            x = (x ^ (unsigned char)*p) * 1099511628211ull;
        if (!sql || strncmp(sql, "CREATE TABLE", 12) || (data_only && !strcmp(name, "imports")))
            continue;
        char q[256];
        snprintf(q, sizeof q, "SELECT * FROM \"%s\"", name);
        assert_int_equal(sqlite3_prepare_v2(h, q, -1, &rows, NULL), SQLITE_OK);
        while (sqlite3_step(rows) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                const unsigned char *t = sqlite3_column_text(rows, c);
                for (const unsigned char *p = t ? t : (const unsigned char *)"\x01"; *p; p++)
                    x = (x ^ *p) * 1099511628211ull;
                x = (x ^ 0xff) * 1099511628211ull;
            }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tabs);
    sqlite3_close(h);
    return x;
}

static uint64_t content_hash(const char *db) { return table_hash(db, 0); }

static int run_import(Fx *fx, const char *path, const ImportOptions *o, ImportReport *rep,
                      RsErr *err)
{
    const char *paths[] = {path};
    return store_import(fx->s, paths, 1, o, rep, err);
}

static int64_t count(Fx *fx, const char *what)
{
    StoreStats st;
    RsErr err;
    assert_int_equal(store_stats(fx->s, &st, &err), RS_OK);
    if (!strcmp(what, "users"))
        return st.users;
    if (!strcmp(what, "items"))
        return st.items;
    return st.interactions;
}


/* ---- a large file read by two threads ------------------------------------ */

/* Imports path into a new database twice, read in one pass and split in two
 * halves (split_min_bytes = 1 splits any file), and checks that the two give
 * the same return code, message, report and database content. Returns the
 * split import's code; *rep_out gets its report. */
static int split_same_as_one(Fx *fx, const char *path, int skip_bad, ImportReport *rep_out,
                             RsErr *err_out)
{
    ImportReport rep[2];
    RsErr err[2];
    int rc[2];
    uint64_t hash[2];
    for (int split = 0; split < 2; split++) {
        char name[32];
        snprintf(name, sizeof name, "split%d.db", split);
        char *db = tu_path(fx->dir, name);
        unlink(db);
        Store *s;
        assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, &err[split]), RS_OK);
        ImportOptions o;
        import_options_default(&o);
        o.skip_bad = skip_bad;
        o.split_min_bytes = split ? 1 : 0;
        const char *paths[] = {path};
        memset(&err[split], 0, sizeof err[split]);
        rc[split] = store_import(s, paths, 1, &o, &rep[split], &err[split]);
        store_close(s);
        hash[split] = table_hash(db, 1);
        free(db);
    }
    assert_int_equal(rc[0], rc[1]);
    assert_string_equal(err[0].msg, err[1].msg);
    assert_true(hash[0] == hash[1]);
    assert_int_equal(rep[0].rows_read, rep[1].rows_read);
    assert_int_equal(rep[0].skipped, rep[1].skipped);
    assert_int_equal(rep[0].duplicates, rep[1].duplicates);
    assert_int_equal(rep[0].users_added, rep[1].users_added);
    assert_int_equal(rep[0].items_added, rep[1].items_added);
    assert_int_equal(rep[0].n_bad_shown, rep[1].n_bad_shown);
    for (int k = 0; k < rep[0].n_bad_shown; k++)
        assert_string_equal(rep[0].bad[k], rep[1].bad[k]);
    if (rep_out)
        *rep_out = rep[1];
    if (err_out)
        *err_out = err[1];
    return rc[1];
}

/* n rows "u<a>,i<b>,rating,ts" with users and items recurring across the
 * file, a duplicate pair every 7th row, CRLF line ends and a BOM; bad_at[]
 * (0-terminated) are rows whose rating is "abc". */
static char *mixed_file(Fx *fx, const char *name, int n, const int *bad_at)
{
    size_t cap = (size_t)n * 48 + 64, w = 0;
    char *csv = malloc(cap);
    w += (size_t)snprintf(csv + w, cap - w, "\xEF\xBB\xBFuser,item,rating,timestamp\r\n");
    for (int k = 1; k <= n; k++) {
        int bad = 0;
        for (const int *b = bad_at; b && *b; b++)
            bad |= *b == k;
        int u = (k * 7) % 101, i = k % 7 == 0 ? (k - 1) % 89 : (k * 13) % 89;
        if (bad)
            w += (size_t)snprintf(csv + w, cap - w, "u%d,i%d,abc,%d\r\n", u, i, 1000 + k);
        else if (k % 5 == 0)
            w += (size_t)snprintf(csv + w, cap - w, "u%d,i%d,,\r\n", u, i);
        else
            w += (size_t)snprintf(csv + w, cap - w, "u%d,i%d,%d,%d\r\n", u, i, k % 5 + 1,
                                  1000 + k % 50);
    }
    char *f = tu_write(fx->dir, name, csv, w);
    free(csv);
    return f;
}

static void test_split_reads_like_one_pass(void **state)
{
    Fx *fx = *state;
    ImportReport rep;
    RsErr err;
    char *f = mixed_file(fx, "mixed.csv", 3000, NULL);
    assert_int_equal(split_same_as_one(fx, f, 0, &rep, &err), RS_OK);
    assert_int_equal(rep.rows_read, 3000);
    assert_true(rep.duplicates > 0);
    free(f);
    /* bad rows in both halves: skipped alike, the same first five listed */
    const int bad[] = {10, 20, 1400, 1600, 2000, 2900, 0};
    f = mixed_file(fx, "bad.csv", 3000, bad);
    assert_int_equal(split_same_as_one(fx, f, 1, &rep, &err), RS_OK);
    assert_int_equal(rep.skipped, 6);
    assert_int_equal(rep.n_bad_shown, 5);
    assert_non_null(strstr(rep.bad[4], ":2001: field 'rating'")); /* line = row + 1 */
    /* without skip_bad the first bad row is the error, in either half */
    assert_int_equal(split_same_as_one(fx, f, 0, NULL, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "bad.csv:11: field 'rating'"));
    free(f);
    const int late[] = {2900, 0};
    f = mixed_file(fx, "late.csv", 3000, late);
    assert_int_equal(split_same_as_one(fx, f, 0, NULL, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "late.csv:2901: field 'rating'"));
    free(f);
}

/* A quoted field with newlines across the middle of the file: the second
 * half's start is inside it, so the first half reads on alone. */
static void test_split_quoted_field_across_middle(void **state)
{
    Fx *fx = *state;
    size_t cap = 1 << 16, w = 0;
    char *csv = malloc(cap);
    w += (size_t)snprintf(csv + w, cap - w, "user,item,rating,note\nu1,i1,4,\nu2,i2,5,\"a note");
    for (int k = 0; k < 500; k++)
        w += (size_t)snprintf(csv + w, cap - w, "\n line %d, with a comma", k);
    w += (size_t)snprintf(csv + w, cap - w, "\"\nu3,i1,3,\n");
    char *f = tu_write(fx->dir, "quoted.csv", csv, w);
    ImportReport rep;
    RsErr err;
    assert_int_equal(split_same_as_one(fx, f, 0, &rep, &err), RS_OK);
    assert_int_equal(rep.rows_read, 3);
    assert_int_equal(rep.users_added, 3);
    free(f);
    free(csv);
}

/* The MovieLens formats read through the same path: u.data (tabs, no
 * header) and ratings.dat ("::"). */
static void test_split_movielens_formats(void **state)
{
    Fx *fx = *state;
    size_t cap = 1 << 17, w = 0, v = 0;
    char *tab = malloc(cap), *dc = malloc(cap);
    for (int k = 1; k <= 2000; k++) {
        w += (size_t)snprintf(tab + w, cap - w, "%d\t%d\t%d\t%d\n", k % 37 + 1, k % 61 + 1,
                              k % 5 + 1, 880000000 + k);
        v += (size_t)snprintf(dc + v, cap - v, "%d::%d::%d::%d\n", k % 41 + 1, k % 67 + 1,
                              k % 5 + 1, 960000000 + k);
    }
    char *dir100 = tu_path(fx->dir, "ml100k"), *dir1m = tu_path(fx->dir, "ml1m");
    mkdir(dir100, 0700);
    mkdir(dir1m, 0700);
    free(tu_write(dir100, "u.data", tab, w));
    free(tu_write(dir1m, "ratings.dat", dc, v));
    ImportReport rep;
    assert_int_equal(split_same_as_one(fx, dir100, 0, &rep, NULL), RS_OK);
    assert_int_equal(rep.rows_read, 2000);
    assert_int_equal(split_same_as_one(fx, dir1m, 0, &rep, NULL), RS_OK);
    assert_int_equal(rep.rows_read, 2000);
    free(dir100);
    free(dir1m);
    free(tab);
    free(dc);
}

/* ---- happy paths --------------------------------------------------------- */

/* A first import computes the statistics and the browse cache from the rows
 * it holds in memory rather than from the table: they must be exactly what
 * a scan of the table gives (store_stats_refresh and browse_cache_refresh
 * scan it). Users appear out of order, with duplicates, missing ratings and
 * missing timestamps; continuous = 1 gives more distinct ratings than the
 * histogram keeps. */
static void cache_from_memory_equals_scan(Fx *fx, int continuous)
{
    size_t cap = 1 << 16, w = 0;
    char *csv = malloc(cap);
    w += (size_t)snprintf(csv + w, cap - w, "user,item,rating,timestamp\n");
    uint32_t x = 12345;
    for (int k = 0; k < 600; k++) {
        x = x * 1103515245u + 12345u;
        unsigned u = (x >> 8) % 37, i = (x >> 16) % 53, r = (x >> 4) % 9;
        char rating[16] = "", ts[16] = "";
        if (r)
            snprintf(rating, sizeof rating, continuous ? "%u.%03u" : "%u", r % 5 + 1,
                     (x >> 3) % 997);
        if ((x >> 12) % 7)
            snprintf(ts, sizeof ts, "%u", 1600000000u + (x >> 2) % 5000000u);
        w += (size_t)snprintf(csv + w, cap - w, "u%u,i%u,%s,%s\n", 36 - u, i, rating, ts);
    }
    char *f = tu_write(fx->dir, "mix.csv", csv, w);
    ImportOptions o;
    import_options_default(&o);
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, f, &o, &rep, &err), RS_OK);
    assert_true(rep.duplicates > 0);
    StoreStats st;
    assert_int_equal(store_stats(fx->s, &st, &err), RS_OK);
    assert_int_equal(st.n_hist, continuous ? 20 : 5);
    assert_true(st.timed > 0 && st.timed < st.interactions);
    assert_true(st.rated > 0 && st.rated < st.interactions);
    uint64_t from_memory = content_hash(fx->db);
    assert_int_equal(store_stats_refresh(fx->s, &err), RS_OK);
    assert_int_equal(browse_cache_refresh(fx->s, &err), RS_OK);
    assert_int_equal(content_hash(fx->db), from_memory);
    free(f);
    free(csv);
}

static void test_cache_from_memory_equals_scan(void **state)
{
    cache_from_memory_equals_scan(*state, 0);
}

static void test_cache_from_memory_equals_scan_continuous(void **state)
{
    cache_from_memory_equals_scan(*state, 1);
}

static void test_ml100k_folder(void **state)
{
    Fx *fx = *state;
    char *d = tu_path(fx->dir, "ml");
    mkdir(d, 0755);
    free(tu_write(d, "u.data", "1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t881250951\n",
                  (size_t)-1));
    /* latin-1 e-acute in a title, 19 genre flags */
    free(tu_write(d, "u.item",
                  "10|Caf\xe9 Society (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                  "20|Heat (1995)|01-Jan-1995||http://y|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n",
                  (size_t)-1));
    free(tu_write(d, "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n", (size_t)-1));
    ImportOptions o;
    import_options_default(&o);
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, d, &o, &rep, &err), RS_OK);
    assert_string_equal(rep.formats, "ml-100k");
    assert_int_equal(rep.rows_read, 3);
    assert_int_equal(count(fx, "interactions"), 3);
    StoreItemRow *items;
    size_t n;
    assert_int_equal(store_items(fx->s, "caf", 0, &items, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].title, "Caf\xc3\xa9 Society (1995)");
    assert_string_equal(items[0].genres, "Animation|Children's|Comedy");
    assert_int_equal(items[0].year, 1995);
    store_items_free(items, n);
    StoreUserRow *users;
    assert_int_equal(store_users(fx->s, "2", 0, &users, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(users[0].age, 53);
    assert_string_equal(users[0].occupation, "other");
    assert_int_equal(users[0].n, 1);
    store_users_free(users, n);
    free(d);
}

static void test_ml1m_folder(void **state)
{
    Fx *fx = *state;
    char *d = tu_path(fx->dir, "ml1m");
    mkdir(d, 0755);
    free(tu_write(d, "ratings.dat", "1::1193::5::978300760\r\n1::661::3::978302109\r\n"
                                    "2::1193::4::978298413",
                  (size_t)-1));
    free(tu_write(d, "movies.dat",
                  "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                  "661::James and the Giant Peach: The Movie (1996)::Animation|Children's\n",
                  (size_t)-1));
    free(tu_write(d, "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n", (size_t)-1));
    ImportOptions o;
    import_options_default(&o);
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, d, &o, &rep, &err), RS_OK);
    assert_string_equal(rep.formats, "ml-1m");
    assert_int_equal(count(fx, "interactions"), 3);
    StoreItemRow *items;
    size_t n;
    assert_int_equal(store_items(fx->s, "peach", 0, &items, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    /* a single ':' inside a title is not a separator */
    assert_string_equal(items[0].title, "James and the Giant Peach: The Movie (1996)");
    assert_int_equal(items[0].year, 1996);
    store_items_free(items, n);
    StoreUserRow *users;
    assert_int_equal(store_users(fx->s, "1", 1, &users, &n, &err), RS_OK);
    assert_string_equal(users[0].occupation, "K-12 student");
    store_users_free(users, n);
    free(d);
}

static void test_mllatest_folder(void **state)
{
    Fx *fx = *state;
    char *d = tu_path(fx->dir, "latest");
    mkdir(d, 0755);
    free(tu_write(d, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"
                                    "1,3,4.5,964981247\n7,1,0.5,1106635946\n",
                  (size_t)-1));
    free(tu_write(d, "movies.csv",
                  "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n"
                  "3,\"American President, The (1995)\",Comedy|Drama|Romance\n"
                  "5,Nobody Watched This (2001),(no genres listed)\n",
                  (size_t)-1));
    free(tu_write(d, "tags.csv", "userId,movieId,tag,timestamp\n1,1,pixar,1\n2,1,Pixar,2\n"
                                 "2,1,fun,3\n",
                  (size_t)-1));
    ImportOptions o;
    import_options_default(&o);
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, d, &o, &rep, &err), RS_OK);
    assert_string_equal(rep.formats, "ml-latest");
    assert_int_equal(count(fx, "items"), 3); /* the unrated item is kept */
    StoreItemRow *items;
    size_t n;
    assert_int_equal(store_items(fx->s, "president", 0, &items, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].title, "American President, The (1995)");
    store_items_free(items, n);
    assert_int_equal(store_items(fx->s, "toy", 0, &items, &n, &err), RS_OK);
    assert_string_equal(items[0].tags, "pixar|fun");
    store_items_free(items, n);
    assert_int_equal(store_items(fx->s, "nobody", 0, &items, &n, &err), RS_OK);
    assert_null(items[0].genres);
    assert_int_equal(items[0].n, 0);
    store_items_free(items, n);
    StoreHistoryRow *h;
    assert_int_equal(store_history(fx->s, "7", &h, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    assert_true(h[0].rating == 0.5);
    store_history_free(h, n);
    free(d);
}

/* What spreadsheets write: BOM, CRLF, quoted fields, no final newline; ids
 * kept as strings (leading zeros, huge numbers), ISO dates, implicit data. */
static void test_generic_csv_spreadsheet(void **state)
{
    Fx *fx = *state;
    char *f = tu_write(fx->dir, "s.csv",
                       "\xEF\xBB\xBFuser_id;item_id;when\r\n"
                       "007;\"a;b\";2021-03-04\r\n"
                       "99999999999999999999999;x;2021-03-04T10:00:00Z\r\n"
                       "007;x;2021-03-05 12:30:00+02:00",
                       (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    o.col_time = "when";
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, f, &o, &rep, &err), RS_OK);
    assert_int_equal(rep.rows_read, 3);
    StoreHistoryRow *h;
    size_t n;
    assert_int_equal(store_history(fx->s, "007", &h, &n, &err), RS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].item_ext_id, "a;b");
    assert_true(isnan(h[0].rating));
    assert_int_equal(h[0].ts, 1614816000);             /* 2021-03-04T00:00:00Z */
    assert_int_equal(h[1].ts, 1614940200); /* 2021-03-05 12:30+02:00 = 10:30Z */
    store_history_free(h, n);
    assert_int_equal(store_history(fx->s, "99999999999999999999999", &h, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    store_history_free(h, n);
    assert_int_equal(store_history(fx->s, "7", &h, &n, &err), RS_ENOTFOUND);
    free(f);
}

static void test_generic_tsv_columns_and_items(void **state)
{
    Fx *fx = *state;
    char *f = tu_write(fx->dir, "r.tsv", "who\twhat\tstars\n1\tA\t2\n2\tA\t4\n1\tB\t5\n",
                       (size_t)-1);
    char *items = tu_write(fx->dir, "items.csv",
                           "item_id,title,year,genres,tags,description\n"
                           "A,Alpha,1999,Drama|War,old|classic,\"A film, with \"\"quotes\"\".\"\n"
                           "C,Gamma,,Comedy,,Nobody has seen it\n",
                           (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    o.col_user = "who";
    o.col_item = "what";
    o.col_rating = "stars";
    o.items_file = items;
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, f, &o, &rep, &err), RS_OK);
    assert_int_equal(count(fx, "items"), 3);
    StoreItemRow *it;
    size_t n;
    assert_int_equal(store_items(fx->s, "alpha", 0, &it, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(it[0].year, 1999);
    assert_string_equal(it[0].description, "A film, with \"quotes\".");
    assert_int_equal(it[0].n, 2);
    assert_true(fabs(it[0].mean_rating - 3.0) < 1e-9);
    store_items_free(it, n);
    free(f);
    free(items);
}

static void test_duplicates_keep_latest(void **state)
{
    Fx *fx = *state;
    char *f = tu_write(fx->dir, "d.csv",
                       "user,item,rating,timestamp\n"
                       "u,i,1,300\n"
                       "u,i,5,100\n"  /* older: loses */
                       "u,j,2,10\n"
                       "u,j,3,10\n",  /* same time: the later row wins */
                       (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, f, &o, &rep, &err), RS_OK);
    assert_int_equal(rep.duplicates, 2);
    assert_int_equal(rep.interactions_added, 2);
    StoreHistoryRow *h;
    size_t n;
    assert_int_equal(store_history(fx->s, "u", &h, &n, &err), RS_OK);
    assert_int_equal(n, 2);
    assert_true(h[0].rating == 3 && h[1].rating == 1);
    store_history_free(h, n);
    /* Importing again merges: a newer row replaces, an older one does not. */
    char *g = tu_write(fx->dir, "e.csv", "user,item,rating,timestamp\nu,i,4,400\nu,j,5,5\n"
                                         "v,i,2,1\n",
                       (size_t)-1);
    assert_int_equal(run_import(fx, g, &o, &rep, &err), RS_OK);
    assert_int_equal(rep.interactions_added, 1);
    assert_int_equal(rep.interactions_updated, 2);
    assert_int_equal(store_history(fx->s, "u", &h, &n, &err), RS_OK);
    assert_true(h[0].rating == 3 && h[1].rating == 4);
    store_history_free(h, n);
    assert_int_equal(count(fx, "users"), 2);
    assert_int_equal(count(fx, "interactions"), 3);
    free(f);
    free(g);
}

/* ---- bad input ----------------------------------------------------------- */

typedef struct BadCase {
    const char *name;     /* file name */
    const char *data;     /* NULL: don't create */
    size_t len;           /* (size_t)-1: strlen */
    const char *expect[3]; /* substrings of the error */
    int code;
} BadCase;

/* Imports a good base first, then the bad case; checks the error and that
 * the content is unchanged. */
static void check_bad(Fx *fx, const BadCase *c, const ImportOptions *opt)
{
    char *base = tu_write(fx->dir, "base.csv", "user,item,rating\nb1,bi,3\n", (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    RsErr err = {0};
    if (count(fx, "interactions") == 0)
        assert_int_equal(run_import(fx, base, &o, NULL, &err), RS_OK);
    uint64_t before = content_hash(fx->db);
    char *path = c->data ? tu_write(fx->dir, c->name, c->data, c->len) : tu_path(fx->dir, c->name);
    rs_err_clear(&err);
    int rc = run_import(fx, path, opt ? opt : &o, NULL, &err);
    if (rc != c->code || !strstr(err.msg, c->expect[0]))
        fail_msg("case %s: rc %d (want %d), message \"%s\"", c->name, rc, c->code, err.msg);
    for (int k = 1; k < 3 && c->expect[k]; k++)
        if (!strstr(err.msg, c->expect[k]))
            fail_msg("case %s: message \"%s\" lacks \"%s\"", c->name, err.msg, c->expect[k]);
    assert_true(content_hash(fx->db) == before);
    free(path);
    free(base);
}

static void test_bad_inputs(void **state)
{
    Fx *fx = *state;
    static char huge[100100];
    memcpy(huge, "user,item,rating\nu,", 19);
    memset(huge + 19, 'x', 100000);
    memcpy(huge + 19 + 100000, ",3\n", 4);
    const BadCase cases[] = {
        {"truncated.csv", "user,item,rating\nu1,i1,4\nu2,i2\n", (size_t)-1,
         {"truncated.csv:3:", "expected 3 fields", "got 2"}, RS_EPARSE},
        {"rating.csv", "user,item,rating\nu1,i1,4\nu2,i2,abc\n", (size_t)-1,
         {"rating.csv:3: field 'rating': expected a number, got \"abc\""}, RS_EPARSE},
        {"u.data", "1\t2\t3\t4\nx7\t2\t3\t4\n", (size_t)-1,
         {"u.data:2: field 'user': expected a numeric id, got \"x7\""}, RS_EPARSE},
        {"time.csv", "user,item,timestamp\nu,i,yesterday\n", (size_t)-1,
         {"time.csv:2: field 'timestamp'", "yesterday"}, RS_EPARSE},
        {"u2.base", "1,2,3,881250949\n", (size_t)-1,
         {"u2.base:1: expected 4 fields separated by '\\t', got 1"}, RS_EPARSE},
        {"empty.csv", "", 0, {"empty.csv", "empty"}, RS_EPARSE},
        {"header.csv", "user,item,rating\n", (size_t)-1, {"header.csv", "no interactions"},
         RS_EPARSE},
        {"missing.csv", NULL, 0, {"missing.csv", "No such file"}, RS_EIO},
        {"utf8.csv", "user,item\nu\xff\xfe,i\n", (size_t)-1,
         {"utf8.csv:2: field 'user': invalid UTF-8", "latin1"}, RS_EPARSE},
        {"huge.csv", huge, 19 + 100000 + 3, {"huge.csv:2: field 'item': too long", "100000"},
         RS_EPARSE},
        {"quote.csv", "user,item\nu,\"open\n", (size_t)-1, {"quote.csv", "unterminated"},
         RS_EPARSE},
        {"nul.csv", "user,item\nu,i\0x\n", 15, {"nul.csv:2:", "NUL"}, RS_EPARSE},
        {"emptyid.csv", "user,item\n,i\n", (size_t)-1, {"emptyid.csv:2: field 'user': empty"},
         RS_EPARSE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        check_bad(fx, &cases[k], NULL);
}

static void test_bad_directory_and_items(void **state)
{
    Fx *fx = *state;
    char *d = tu_path(fx->dir, "nothing");
    mkdir(d, 0755);
    BadCase dir = {"nothing", NULL, 0, {"nothing", "no recognised dataset"}, RS_EUSAGE};
    check_bad(fx, &dir, NULL);
    /* bad metadata fails the whole import too */
    char *items = tu_write(fx->dir, "bad-items.csv", "item,title,year\nA,Alpha,19x9\n",
                           (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    o.items_file = items;
    BadCase c = {"good.csv", "user,item\nz,A\n", (size_t)-1,
                 {"bad-items.csv:2: field 'year'", "19x9"}, RS_EPARSE};
    check_bad(fx, &c, &o);
    free(items);
    free(d);
}

/* An explicit --sep that does not match the file. */
static void test_bad_explicit_separator(void **state)
{
    Fx *fx = *state;
    ImportOptions o;
    import_options_default(&o);
    o.sep = ',';
    BadCase c = {"semi.csv", "user;item;rating\nu;i;3\n", (size_t)-1,
                 {"semi.csv:1: no user column", "--sep"}, RS_EPARSE};
    check_bad(fx, &c, &o);
}

static void test_latin1_option_converts(void **state)
{
    Fx *fx = *state;
    char *f = tu_write(fx->dir, "l1.csv", "user,item\nJos\xe9,i\n", (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    o.encoding = TEXT_LATIN1;
    RsErr err = {0};
    assert_int_equal(run_import(fx, f, &o, NULL, &err), RS_OK);
    StoreHistoryRow *h;
    size_t n;
    assert_int_equal(store_history(fx->s, "Jos\xc3\xa9", &h, &n, &err), RS_OK);
    assert_int_equal(n, 1);
    store_history_free(h, n);
    free(f);
}

static void test_skip_bad_reports(void **state)
{
    Fx *fx = *state;
    char *f = tu_write(fx->dir, "mixed.csv",
                       "user,item,rating\nu1,i1,4\nu2,i2,abc\nu3\nu4,i4,5\n", (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    o.skip_bad = 1;
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, f, &o, &rep, &err), RS_OK);
    assert_int_equal(rep.rows_read, 2);
    assert_int_equal(rep.skipped, 2);
    assert_int_equal(rep.n_bad_shown, 2);
    assert_non_null(strstr(rep.bad[0], "mixed.csv:3: field 'rating'"));
    assert_non_null(strstr(rep.bad[1], "mixed.csv:4:"));
    assert_int_equal(count(fx, "interactions"), 2);
    free(f);
}

/* A quoted field spanning lines: the next row's line number stays right. */
static void test_line_numbers_multiline(void **state)
{
    Fx *fx = *state;
    char *f = tu_write(fx->dir, "ml.csv", "user,item,rating\n\"u\n1\",i,3\nu2,i,bad\n",
                       (size_t)-1);
    ImportOptions o;
    import_options_default(&o);
    RsErr err = {0};
    assert_int_equal(run_import(fx, f, &o, NULL, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "ml.csv:4: field 'rating'"));
    free(f);
}

/* The real MovieLens 100K, when present. */
static void test_ml100k_real(void **state)
{
    Fx *fx = *state;
    TU_REQUIRE_ML100K();
    const char *ml = tu_ml100k();
    ImportOptions o;
    import_options_default(&o);
    ImportReport rep;
    RsErr err = {0};
    assert_int_equal(run_import(fx, ml, &o, &rep, &err), RS_OK);
    StoreStats st;
    assert_int_equal(store_stats(fx->s, &st, &err), RS_OK);
    assert_int_equal(st.users, 943);
    assert_int_equal(st.items, 1682);
    assert_int_equal(st.interactions, 100000);
    assert_int_equal(st.rated, 100000);
    assert_true(st.rating_min == 1 && st.rating_max == 5);
    assert_true(fabs(st.rating_mean - 3.52986) < 1e-4);
    assert_int_equal(st.user_count_q[0], 20); /* every ML-100K user rated >= 20 */
    StoreItemRow *it;
    size_t n;
    assert_int_equal(store_items(fx->s, NULL, 1, &it, &n, &err), RS_OK);
    assert_string_equal(it[0].ext_id, "1");
    assert_string_equal(it[0].title, "Toy Story (1995)");
    assert_string_equal(it[0].genres, "Animation|Children's|Comedy");
    store_items_free(it, n);
    StoreUserRow *u;
    assert_int_equal(store_users(fx->s, "1", 1, &u, &n, &err), RS_OK);
    assert_int_equal(u[0].age, 24);
    assert_string_equal(u[0].occupation, "technician");
    store_users_free(u, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ml100k_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ml1m_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mllatest_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generic_csv_spreadsheet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_from_memory_equals_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_reads_like_one_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_quoted_field_across_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_movielens_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_from_memory_equals_scan_continuous, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_generic_tsv_columns_and_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_keep_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_directory_and_items, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_explicit_separator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latin1_option_converts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_bad_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_numbers_multiline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ml100k_real, setup, teardown),
    };
    return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
