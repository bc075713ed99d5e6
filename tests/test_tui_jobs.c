/* test_tui_jobs.c - background training for the TUI without a terminal:
 * validation messages, a job that trains and evaluates MostPopular on a
 * default split it creates, two jobs at once getting distinct run names,
 * cancellation, a name already taken, the self-pipe, and the status text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "persist.h"
#include "store.h"
#include "testutil.h"
#include "tui_jobs.h"

typedef struct Fixture {
    char *dir, *db;
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    f->dir = tu_mkdtemp();
    f->db = tu_path(f->dir, "j.db");
    char csv[4096];
    size_t o = (size_t)snprintf(csv, sizeof csv, "user,item,rating,timestamp\n");
    for (int u = 0; u < 12; u++)
        for (int i = 0; i < 10; i++)
            if ((u * 7 + i * 3) % 4 != 0)
                o += (size_t)snprintf(csv + o, sizeof csv - o, "u%d,i%d,%d,%d\n", u, i,
                                      1 + (u + i) % 5, 1000 + u * 10 + i);
    char *path = tu_write(f->dir, "r.csv", csv, (size_t)-1);
    Store *s = NULL;
    RsErr err = { 0 };
    ImportOptions io;
    import_options_default(&io);
    const char *paths[] = { path };
    assert_int_equal(store_open(&s, f->db, STORE_OPEN_CREATE, &err), RS_OK);
    assert_int_equal(store_import(s, paths, 1, &io, NULL, &err), RS_OK);
    store_close(s);
    free(path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->db);
    free(f);
    return 0;
}

static TuiJobSpec spec_of(const char *algo)
{
    TuiJobSpec sp;
    memset(&sp, 0, sizeof sp);
    snprintf(sp.algo, sizeof sp.algo, "%s", algo);
    snprintf(sp.split, sizeof sp.split, "r80");
    sp.create_split = 1;
    snprintf(sp.device, sizeof sp.device, "cpu");
    sp.seed = 42;
    sp.evaluate = 1;
    sp.nthreads = 2;
    return sp;
}

/* Sleeps on the self-pipe until no job runs (30 s at most); returns how
 * many times the pipe woke us. */
static int wait_idle(TuiJobs *js)
{
    int wakes = 0;
    for (int k = 0; k < 300 && tui_jobs_running(js) > 0; k++) {
        struct pollfd p = { tui_jobs_fd(js), POLLIN, 0 };
        if (poll(&p, 1, 100) > 0) {
            wakes++;
            tui_jobs_drain(js);
        }
    }
    assert_int_equal(tui_jobs_running(js), 0);
    return wakes;
}

static void run_status(const char *db, const char *name, char *status, size_t n)
{
    Store *s = NULL;
    RsErr err = { 0 };
    StoreRun r;
    assert_int_equal(store_open(&s, db, STORE_OPEN_READONLY, &err), RS_OK);
    assert_int_equal(store_run_get(s, name, 0, &r, &err), RS_OK);
    snprintf(status, n, "%s", r.status);
    store_run_done(&r);
    store_close(s);
}

static void test_validate(void **state)
{
    (void)state;
    RsErr err = { 0 };
    TuiJobSpec sp = spec_of("nosuch");
    assert_int_equal(tui_jobs_validate(&sp, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "itemknn"));
    sp = spec_of("als");
    snprintf(sp.kv[sp.nkv++], sizeof sp.kv[0], "iterations=0");
    assert_int_equal(tui_jobs_validate(&sp, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "iterations"));
    sp = spec_of("als");
    snprintf(sp.kv[sp.nkv++], sizeof sp.kv[0], "bogus=1");
    assert_int_equal(tui_jobs_validate(&sp, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "factors")); /* lists what is valid */
    sp = spec_of("pop");
    snprintf(sp.device, sizeof sp.device, "tpu");
    assert_int_equal(tui_jobs_validate(&sp, &err), RS_EUSAGE);
    sp = spec_of("pop");
    assert_int_equal(tui_jobs_validate(&sp, &err), RS_OK);
}

static void test_train_and_evaluate(void **state)
{
    Fixture *f = *state;
    RsErr err = { 0 };
    char st[32], buf[256];
    TuiJobs *js = tui_jobs_new(f->db, &err);
    assert_non_null(js);
    assert_string_equal(tui_jobs_status(js, buf, sizeof buf, 80), "");
    unsigned gen0 = tui_jobs_generation(js);
    TuiJobSpec sp = spec_of("pop");
    int id = 0;
    assert_int_equal(tui_jobs_start(js, &sp, &id, &err), RS_OK);
    assert_true(id > 0);
    assert_true(wait_idle(js) > 0);
    TuiJobSnap s;
    assert_int_equal(tui_jobs_find(js, id, &s), 0);
    assert_int_equal(s.state, TUI_JOB_DONE);
    assert_string_equal(s.name, "pop-1");
    assert_true(s.run_id > 0);
    assert_true(fabs(s.fraction - 1) < 1e-12);
    assert_true(tui_jobs_generation(js) > gen0);
    assert_int_equal(tui_jobs_find_run(js, "pop-1", &s), 0);
    assert_int_equal(tui_jobs_cancel(js, id), -1); /* ended */
    assert_string_equal(tui_jobs_status(js, buf, sizeof buf, 80), "");
    run_status(f->db, "pop-1", st, sizeof st);
    assert_string_equal(st, "done");
    /* the default split was made, and the metrics stored under "full" */
    Store *db = NULL;
    StoreSplitInfo info;
    StoreMetric *m = NULL;
    size_t n = 0;
    int found = 0;
    assert_int_equal(store_open(&db, f->db, STORE_OPEN_READONLY, &err), RS_OK);
    assert_int_equal(store_split_info(db, "r80", &info, &err), RS_OK);
    assert_string_equal(info.method, "random");
    assert_int_equal(store_metrics_get(db, s.run_id, "full", &m, &n, &err), RS_OK);
    for (size_t k = 0; k < n; k++)
        found |= !strcmp(m[k].name, "ndcg") && m[k].k == 10 && m[k].value >= 0 && m[k].value <= 1;
    assert_true(found);
    free(m);
    store_close(db);
    tui_jobs_free(js);
}

static void test_two_at_once(void **state)
{
    Fixture *f = *state;
    RsErr err = { 0 };
    TuiJobs *js = tui_jobs_new(f->db, &err);
    TuiJobSpec a = spec_of("pop"), b = spec_of("itemknn");
    TuiJobSpec c = spec_of("pop");
    int ia, ib, ic;
    assert_int_equal(tui_jobs_start(js, &a, &ia, &err), RS_OK);
    assert_int_equal(tui_jobs_start(js, &b, &ib, &err), RS_OK);
    assert_int_equal(tui_jobs_start(js, &c, &ic, &err), RS_OK);
    assert_true(ia != ib && ib != ic);
    wait_idle(js);
    assert_int_equal(tui_jobs_count(js), 3);
    TuiJobSnap sa, sb, sc;
    assert_int_equal(tui_jobs_find(js, ia, &sa), 0);
    assert_int_equal(tui_jobs_find(js, ib, &sb), 0);
    assert_int_equal(tui_jobs_find(js, ic, &sc), 0);
    if (sa.state != TUI_JOB_DONE || sb.state != TUI_JOB_DONE || sc.state != TUI_JOB_DONE)
        fail_msg("jobs: %d %s / %d %s / %d %s", sa.state, sa.error, sb.state, sb.error, sc.state,
                 sc.error);
    assert_string_equal(sb.name, "itemknn-1");
    /* one algorithm twice at once: two names, no clash */
    assert_true(strcmp(sa.name, sc.name) != 0);
    assert_true(!strcmp(sa.name, "pop-1") || !strcmp(sa.name, "pop-2"));
    tui_jobs_free(js);
}

static void test_cancel_and_name_taken(void **state)
{
    Fixture *f = *state;
    RsErr err = { 0 };
    TuiJobs *js = tui_jobs_new(f->db, &err);
    TuiJobSpec a = spec_of("als");
    snprintf(a.kv[a.nkv++], sizeof a.kv[0], "iterations=1000");
    int ia, ib;
    assert_int_equal(tui_jobs_start(js, &a, &ia, &err), RS_OK);
    assert_int_equal(tui_jobs_cancel(js, ia), 0); /* at once: while it loads or fits */
    wait_idle(js);
    TuiJobSnap s;
    assert_int_equal(tui_jobs_find(js, ia, &s), 0);
    assert_int_equal(s.state, TUI_JOB_CANCELLED);
    if (s.name[0]) { /* the run existed by then: recorded as cancelled */
        char st[32];
        run_status(f->db, s.name, st, sizeof st);
        assert_string_equal(st, "cancelled");
    }
    TuiJobSpec b = spec_of("pop");
    snprintf(b.name, sizeof b.name, "taken");
    assert_int_equal(tui_jobs_start(js, &b, &ib, &err), RS_OK);
    wait_idle(js);
    assert_int_equal(tui_jobs_start(js, &b, &ib, &err), RS_OK);
    wait_idle(js);
    assert_int_equal(tui_jobs_find(js, ib, &s), 0);
    assert_int_equal(s.state, TUI_JOB_FAILED);
    assert_non_null(strstr(s.error, "taken"));
    /* a missing split without create_split fails with the store's message */
    TuiJobSpec c = spec_of("pop");
    c.create_split = 0;
    snprintf(c.split, sizeof c.split, "nosuch");
    assert_int_equal(tui_jobs_start(js, &c, &ib, &err), RS_OK);
    wait_idle(js);
    assert_int_equal(tui_jobs_find(js, ib, &s), 0);
    assert_int_equal(s.state, TUI_JOB_FAILED);
    assert_non_null(strstr(s.error, "nosuch"));
    tui_jobs_free(js);
}

static void test_brief(void **state)
{
    (void)state;
    TuiJobSnap s;
    char buf[128];
    memset(&s, 0, sizeof s);
    s.state = TUI_JOB_RUNNING;
    snprintf(s.name, sizeof s.name, "als-3");
    snprintf(s.phase, sizeof s.phase, "iteration");
    s.fraction = 0.42;
    s.eta = 75;
    s.loss = 0.125;
    assert_string_equal(tui_job_brief(&s, buf, sizeof buf), "als-3 42% ETA 1m15s loss 0.125");
    s.eta = NAN;
    s.loss = NAN;
    s.fraction = 0;
    snprintf(s.name, sizeof s.name, "%s", "");
    snprintf(s.algo, sizeof s.algo, "bpr");
    snprintf(s.phase, sizeof s.phase, "loading");
    assert_string_equal(tui_job_brief(&s, buf, sizeof buf), "bpr 0% loading");
    assert_string_equal(tui_jobs_status(NULL, buf, sizeof buf, 80), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_brief),
        cmocka_unit_test_setup_teardown(test_train_and_evaluate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_name_taken, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
