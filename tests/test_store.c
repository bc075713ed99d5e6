/* test_store.c - opening, migrations, refusal of foreign files, statistics. */
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
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
