/* test_store.c - opening, migrations, refusal of foreign files, statistics,
 * loading the dataset with one connection or several. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "import.h"
#include "persist.h"
#include "store.h"
#include "testutil.h"

static void exec_raw(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static long query_long(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long v = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_create_and_reopen(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "a.db");
    Store *s = NULL;
    RsErr err = {0};
    assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, &err), RS_OK);
    store_close(s);
    assert_int_equal(query_long(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_long(db, "PRAGMA application_id"), STORE_APPLICATION_ID);
    /* WAL is persistent in the file */
    sqlite3 *raw;
    sqlite3_open(db, &raw);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(raw);
    assert_int_equal(store_open(&s, db, 0, &err), RS_OK);
    StoreStats stats;
    assert_int_equal(store_stats(s, &stats, &err), RS_OK);
    assert_int_equal(stats.interactions, 0);
    assert_true(isnan(stats.rating_mean));
    store_close(s);
    store_close(NULL);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

static void test_missing_without_create(void **state)
{
    (void)state;
    Store *s = NULL;
    RsErr err = {0};
    assert_int_equal(store_open(&s, "/nonexistent/x.db", 0, &err), RS_ENOTFOUND);
    assert_null(s);
    assert_non_null(strstr(err.msg, "/nonexistent/x.db"));
    char *dir = tu_mkdtemp();
    assert_int_equal(store_open(&s, dir, STORE_OPEN_CREATE, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "directory"));
    tu_rmtree(dir);
    free(dir);
}

static void test_refuses_foreign_and_newer(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *other = tu_path(dir, "other.db"), *newer = tu_path(dir, "newer.db");
    exec_raw(other, "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
    Store *s = NULL;
    RsErr err = {0};
    assert_int_equal(store_open(&s, other, 0, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "not a recscope database"));
    assert_int_equal(query_long(other, "SELECT count(*) FROM t"), 1);
    assert_int_equal(store_open(&s, newer, STORE_OPEN_CREATE, &err), RS_OK);
    store_close(s);
    exec_raw(newer, "PRAGMA user_version=99");
    assert_int_equal(store_open(&s, newer, 0, &err), RS_EVERSION);
    assert_non_null(strstr(err.msg, "newer recscope"));
    char *text = tu_write(dir, "text.db", "this is not a database at all, just some text......"
                                          "................................................",
                          (size_t)-1);
    assert_int_equal(store_open(&s, text, 0, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "not a SQLite database"));
    free(other);
    free(newer);
    free(text);
    tu_rmtree(dir);
    free(dir);
}

/* A database at version 0 with our application id (as an interrupted first
 * migration would leave it) is migrated on open. */
static void test_migration_from_zero(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "m.db");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d", STORE_APPLICATION_ID);
    exec_raw(db, sql);
    Store *s = NULL;
    RsErr err = {0};
    assert_int_equal(store_open(&s, db, 0, &err), RS_OK);
    store_close(s);
    assert_int_equal(query_long(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    assert_int_equal(query_long(db, "SELECT count(*) FROM sqlite_schema WHERE name='runs'"), 1);
    /* read-only open of an up-to-date file works and refuses imports */
    assert_int_equal(store_open(&s, db, STORE_OPEN_READONLY, &err), RS_OK);
    const char *paths[] = {db};
    ImportOptions o;
    import_options_default(&o);
    assert_int_equal(store_import(s, paths, 1, &o, NULL, &err), RS_EUSAGE);
    store_close(s);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

/* Statistics against values worked out by hand. */
static void test_stats_hand_computed(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "s.db");
    char *csv = tu_write(dir, "r.csv",
                         "user,item,rating,timestamp\n"
                         "a,x,5,100\n"
                         "a,y,3,200\n"
                         "a,z,4,300\n"
                         "b,x,1,400\n"
                         "c,x,4,500\n",
                         (size_t)-1);
    Store *s = NULL;
    RsErr err = {0};
    ImportOptions o;
    import_options_default(&o);
    const char *paths[] = {csv};
    assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, &err), RS_OK);
    assert_int_equal(store_import(s, paths, 1, &o, NULL, &err), RS_OK);
    StoreStats st;
    assert_int_equal(store_stats(s, &st, &err), RS_OK);
    assert_int_equal(st.users, 3);
    assert_int_equal(st.items, 3);
    assert_int_equal(st.interactions, 5);
    assert_int_equal(st.rated, 5);
    assert_true(fabs(st.density - 5.0 / 9.0) < 1e-12);
    assert_true(fabs(st.rating_mean - 17.0 / 5.0) < 1e-12);
    assert_true(st.rating_min == 1 && st.rating_max == 5);
    assert_int_equal(st.ts_min, 100);
    assert_int_equal(st.ts_max, 500);
    /* per-user counts {1, 1, 3}: min 1, median 1, max 3 */
    assert_true(st.user_count_q[0] == 1 && st.user_count_q[2] == 1 && st.user_count_q[6] == 3);
    /* per-item counts {1, 1, 3} too */
    assert_true(st.item_count_q[6] == 3);
    /* histogram: 1:1 3:1 4:2 5:1 */
    assert_int_equal(st.n_hist, 4);
    assert_true(st.hist_value[2] == 4 && st.hist_count[2] == 2);
    int64_t total = 0;
    for (int k = 0; k < st.n_time; k++)
        total += st.time_count[k];
    assert_int_equal(total, 5);
    assert_int_equal(st.time_count[0], 1);
    assert_int_equal(st.time_count[STORE_TIME_BUCKETS - 1], 1);
    /* top 1% of 3 items = 1 item (x) holds 3 of 5 */
    assert_true(fabs(st.pop_share[0] - 0.6) < 1e-12);
    store_close(s);
    free(csv);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

/* A database of 60 users (ids with gaps, two users without interactions)
 * and 40 items; ratings NULL, 0 and others, timestamps NULL, 0 and others. */
static char *load_db(const char *dir)
{
    char *db = tu_path(dir, "load.db");
    Store *s;
    RsErr err;
    assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, &err), RS_OK);
    store_close(s);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    char sql[256];
    for (int u = 0; u < 60; u++) {
        snprintf(sql, sizeof sql, "INSERT INTO users(id, ext_id) VALUES (%d, 'u%d')",
                 u < 50 ? 3 * u + 1 : 1000000 + u, u);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    for (int i = 0; i < 40; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO items(id, ext_id, title) VALUES (%d, 'i%d', 't%d')",
                 i + 1, i, i);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    assert_int_equal(sqlite3_exec(h,
                                  "INSERT INTO interactions(user_id, item_id, rating, ts) "
                                  "SELECT u.id, i.id, CASE (u.id + i.id) % 4 WHEN 0 THEN NULL "
                                  "WHEN 1 THEN 0 ELSE (u.id * i.id) % 5 + 0.5 END, "
                                  "CASE (u.id * i.id) % 3 WHEN 0 THEN NULL WHEN 1 THEN 0 "
                                  "ELSE u.id * 100 + i.id END FROM users u, items i "
                                  "WHERE (u.id * 7 + i.id * 3) % 5 < 2 AND u.id NOT IN (4, 1000051)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    return db;
}

static int same_dataset(const RsDataset *a, const RsDataset *b)
{
    const RsMatrix *x = a->all, *y = b->all;
    if (a->cat->U != b->cat->U || a->cat->I != b->cat->I || x->NNZ != y->NNZ ||
        x->has_ratings != y->has_ratings ||
        memcmp(x->u_ptr, y->u_ptr, (x->U + 1) * sizeof *x->u_ptr) ||
        memcmp(x->i_ptr, y->i_ptr, (x->I + 1) * sizeof *x->i_ptr))
        return 0;
    for (size_t u = 0; u < a->cat->U; u++)
        if (strcmp(a->cat->user_ext[u], b->cat->user_ext[u]))
            return 0;
    for (size_t k = 0; k < x->NNZ; k++)
        if (x->u_items[k] != y->u_items[k] || x->u_ts[k] != y->u_ts[k] ||
            memcmp(&x->u_rating[k], &y->u_rating[k], sizeof(float)) ||
            x->i_users[k] != y->i_users[k] || x->i_to_u[k] != y->i_to_u[k])
            return 0;
    return 1;
}

/* Loading with one connection or several gives the same dataset, NULL
 * ratings and times apart from zeros. */
static void test_load_readers_agree(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *db = load_db(dir);
    Store *s;
    RsErr err;
    RsDataset *one, *d;
    assert_int_equal(store_open(&s, db, STORE_OPEN_READONLY, &err), RS_OK);
    StoreLoadOptions o = {.readers = 1};
    assert_int_equal(store_load_dataset_opts(s, &o, &one, &err), RS_OK);
    const RsMatrix *m = one->all;
    assert_int_equal(one->cat->U, 60);
    assert_int_equal(m->NNZ, (size_t)query_long(db, "SELECT count(*) FROM interactions"));
    assert_int_equal(rs_user_count(m, 1), 0); /* id 4 */
    assert_true(rs_user_count(m, 55) > 0);    /* id 1000055 */
    /* user index 0 is id 1: (1 + item id) % 4 and (1 * item id) % 3 pick NULL or 0 */
    int seen[4] = {0};
    for (size_t k = m->u_ptr[0]; k < m->u_ptr[1]; k++) {
        int item_id = (int)m->u_items[k] + 1;
        float r = m->u_rating[k];
        int64_t ts = m->u_ts[k];
        switch ((1 + item_id) % 4) {
        case 0: assert_true(isnan(r)); seen[0] = 1; break;
        case 1: assert_true(r == 0); seen[1] = 1; break;
        default: assert_true(r == (float)(item_id % 5) + 0.5f);
        }
        switch (item_id % 3) {
        case 0: assert_true(ts == RS_NO_TS); seen[2] = 1; break;
        case 1: assert_true(ts == 0); seen[3] = 1; break;
        default: assert_true(ts == 100 + item_id);
        }
    }
    assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
    for (int readers = 0; readers <= 5; readers++) {
        o.readers = readers;
        assert_int_equal(store_load_dataset_opts(s, &o, &d, &err), RS_OK);
        assert_true(same_dataset(one, d));
        rs_dataset_free(d);
    }
    rs_dataset_free(one);
    /* the last of four readers' parts (users 45..59) without rows */
    exec_raw(db, "DELETE FROM interactions WHERE user_id >= 136");
    o.readers = 1;
    assert_int_equal(store_load_dataset_opts(s, &o, &one, &err), RS_OK);
    assert_int_equal(one->all->u_ptr[45], one->all->NNZ);
    o.readers = 4;
    assert_int_equal(store_load_dataset_opts(s, &o, &d, &err), RS_OK);
    assert_true(same_dataset(one, d));
    rs_dataset_free(d);
    rs_dataset_free(one);
    store_close(s);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

typedef struct Writer {
    const char *db;
    int calls, writes; /* writes: how many of the first calls add an interaction */
    int added;         /* items 3, 4, ... of user id 13 added so far */
} Writer;

static void write_between(void *arg)
{
    Writer *w = arg;
    if (w->calls++ >= w->writes)
        return;
    char sql[128];
    snprintf(sql, sizeof sql, "INSERT INTO interactions VALUES (13, %d, 4, 1)", 3 + w->added++);
    exec_raw(w->db, sql);
}

/* A commit by another connection while a parallel load reads makes it
 * start again; commits every time make it read on one connection. */
static void test_load_retries_after_write(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp(), *db = load_db(dir);
    /* user id 13 must not have items 3..6 yet */
    exec_raw(db, "DELETE FROM interactions WHERE user_id = 13 AND item_id BETWEEN 3 AND 6");
    long base = query_long(db, "SELECT count(*) FROM interactions");
    Store *s;
    RsErr err;
    RsDataset *d;
    assert_int_equal(store_open(&s, db, STORE_OPEN_READONLY, &err), RS_OK);
    Writer w = {db, 0, 1, 0};
    StoreLoadOptions o = {.readers = 2, .after_read = write_between, .arg = &w};
    assert_int_equal(store_load_dataset_opts(s, &o, &d, &err), RS_OK);
    assert_int_equal(w.calls, 2);
    assert_int_equal(d->all->NNZ, base + 1);
    rs_dataset_free(d);
    w.calls = 0;
    w.writes = 100;
    assert_int_equal(store_load_dataset_opts(s, &o, &d, &err), RS_OK);
    assert_int_equal(w.calls, 3);
    assert_int_equal(d->all->NNZ, base + 4);
    RsDataset *one;
    o = (StoreLoadOptions){.readers = 1};
    assert_int_equal(store_load_dataset_opts(s, &o, &one, &err), RS_OK);
    assert_true(same_dataset(one, d));
    rs_dataset_free(one);
    rs_dataset_free(d);
    store_close(s);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

/* Runs left 'running' by a process that has ended, or whose pid another
 * process has taken since, read as interrupted and are stored so on the
 * next read-write open; a run of a live owner stays running. */
static void test_interrupted_runs(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *db = tu_path(dir, "r.db");
    Store *s;
    RsErr err;
    assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, &err), RS_OK);
    int64_t id[3];
    const char *names[3] = {"dead", "reused", "live"};
    for (int k = 0; k < 3; k++)
        assert_int_equal(store_run_create(s, names[k], "pop", "{}", 0, "cpu", 1, &id[k], &err),
                         RS_OK);
    store_close(s);
    /* a pid that is certainly gone: a child that has been reaped */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0);
    sqlite3 *h;
    char sql[256];
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    snprintf(sql, sizeof sql, "UPDATE runs SET pid = %ld WHERE name = 'dead'", (long)child);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    /* this process's pid, recorded a day before this process started */
    assert_int_equal(sqlite3_exec(h, "UPDATE runs SET started_at = started_at - 86400 "
                                     "WHERE name = 'reused'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);

    /* read-only: shown as interrupted, nothing written */
    StoreRun *runs;
    size_t n;
    assert_int_equal(store_open(&s, db, STORE_OPEN_READONLY, &err), RS_OK);
    assert_int_equal(store_runs_list(s, &runs, &n, &err), RS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(runs[0].status, "interrupted");
    assert_string_equal(runs[1].status, "interrupted");
    assert_string_equal(runs[2].status, "running");
    store_runs_free(runs, n);
    store_close(s);
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT group_concat(status) FROM runs", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "running,running,running");
    sqlite3_finalize(st);

    /* read-write open: stored */
    assert_int_equal(store_open(&s, db, 0, &err), RS_OK);
    store_close(s);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT group_concat(status) FROM runs", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "interrupted,interrupted,running");
    sqlite3_finalize(st);
    sqlite3_close(h);
    tu_rmtree(dir);
    free(dir);
    free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_reopen),
        cmocka_unit_test(test_interrupted_runs),
        cmocka_unit_test(test_missing_without_create),
        cmocka_unit_test(test_refuses_foreign_and_newer),
        cmocka_unit_test(test_migration_from_zero),
        cmocka_unit_test(test_stats_hand_computed),
        cmocka_unit_test(test_load_readers_agree),
        cmocka_unit_test(test_load_retries_after_write),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
