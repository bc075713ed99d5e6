/*
 * screen_runs.c - the Runs screen: every run in the database with its
 * algorithm, status, split, device, training time, NDCG@10 under the
 * full-ranking protocol (store_metrics_get "full") and parameters, and the
 * selected run's details below. n opens the new-run form, Enter the live
 * view of a job started in this session, x cancels one (confirmed there).
 *
 * The list is small (one row per run) and is read whole: again whenever a
 * background job creates or ends a run (the tick hook), every few seconds
 * while the screen is on top (another process may train), and on r.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"
#include "tui_jobs.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

#define RUNS_TICK_MS 3000

enum {
    RUNS_ACT_NEW = TUI_ACT_SCREEN,
    RUNS_ACT_CANCEL,
    RUNS_ACT_RELOAD,
};

typedef struct RunsScreen {
    TuiScreen base;
    Store *store;           /* not owned; NULL: an empty file */
    TuiJobs *jobs;          /* not owned; NULL: training is off */
    const char *why_no_jobs;
    StoreRun *runs;         /* (n) oldest first */
    double *ndcg;           /* (n) NDCG@10, full protocol; NAN when not evaluated */
    size_t n;
    int cur, top;
    TuiRect head, list, detail;
    char msg[RS_ERRLEN + 32];
    int msg_error;
} RunsScreen;

static const TuiKey runs_keys[] = {
    { '\r', "Enter", TUI_ACT_OPEN, "Job view", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Job view", 0 },
    { 'n', "n", RUNS_ACT_NEW, "New run", TUI_KEY_HINT },
    { 'x', "x", RUNS_ACT_CANCEL, "Cancel training", TUI_KEY_HINT },
    { 'r', "r", RUNS_ACT_RELOAD, "Reload", 0 },
};

static const TuiKeyTable *const runs_shared[] = { &tui_table_keys, &tui_nav_keys, NULL };

/* --- the list ------------------------------------------------------------------------ */

static double ndcg10(Store *s, int64_t run_id)
{
    StoreMetric *m = NULL;
    size_t n = 0;
    double v = NAN;
    if (store_metrics_get(s, run_id, "full", &m, &n, NULL) == RS_OK) {
        for (size_t k = 0; k < n; k++)
            if (!strcmp(m[k].name, "ndcg") && m[k].k == 10)
                v = m[k].value;
        free(m);
    }
    return v;
}

/* Reads the runs again, keeping the selection on the same run. */
static void runs_reload(RunsScreen *rs)
{
    /* the last row selected follows new runs (tail -f) */
    int64_t sel = rs->n && rs->cur < (int)rs->n - 1 ? rs->runs[rs->cur].id : -1;
    StoreRun *runs = NULL;
    size_t n = 0;
    RsErr err;
    rs_err_clear(&err);
    if (!rs->store)
        return;
    if (store_runs_list(rs->store, &runs, &n, &err) != RS_OK) {
        snprintf(rs->msg, sizeof rs->msg, "%s", err.msg);
        rs->msg_error = 1;
        return;
    }
    double *ndcg = calloc(n ? n : 1, sizeof *ndcg);
    if (!ndcg) {
        store_runs_free(runs, n);
        return;
    }
    for (size_t k = 0; k < n; k++)
        ndcg[k] = ndcg10(rs->store, runs[k].id);
    store_runs_free(rs->runs, rs->n);
    free(rs->ndcg);
    rs->runs = runs;
    rs->ndcg = ndcg;
    rs->n = n;
    rs->cur = n ? (int)n - 1 : 0;
    for (size_t k = 0; k < n; k++)
        if (runs[k].id == sel)
            rs->cur = (int)k;
    if (rs->msg_error) {
        rs->msg[0] = '\0';
        rs->msg_error = 0;
    }
}

/* --- drawing ---------------------------------------------------------------------------- */

typedef struct RunsCol {
    const char *title;
    int w, right, min_cols; /* shown when the list is at least min_cols wide */
} RunsCol;

enum { RC_NAME, RC_ALGO, RC_STATUS, RC_SPLIT, RC_DEVICE, RC_TIME, RC_NDCG, RC_PARAMS, RC_N };

static const RunsCol runs_cols[RC_N] = {
    [RC_NAME] = { "Run", 16, 0, 0 },       [RC_ALGO] = { "Algorithm", 9, 0, 0 },
    [RC_STATUS] = { "Status", 11, 0, 0 },  [RC_SPLIT] = { "Split", 10, 0, 0 },
    [RC_DEVICE] = { "Device", 6, 0, 96 }, [RC_TIME] = { "Train s", 8, 1, 0 },
    [RC_NDCG] = { "NDCG@10", 8, 1, 0 },    [RC_PARAMS] = { "Parameters", 0, 0, 0 },
};

/* The status cell: a live job of this session shows its progress. */
static void status_cell(RunsScreen *rs, const StoreRun *r, char *buf, size_t n)
{
    TuiJobSnap s;
    if (!strcmp(r->status, "running") && rs->jobs &&
        tui_jobs_find_run(rs->jobs, r->name, &s) == 0 && s.state == TUI_JOB_RUNNING) {
        if (!strcmp(s.phase, "evaluating"))
            snprintf(buf, n, "evaluating");
        else
            snprintf(buf, n, "running %.0f%%", s.fraction * 100);
    } else {
        snprintf(buf, n, "%s", r->status);
    }
}

static void runs_cells(RunsScreen *rs, size_t k, char cell[RC_N][512])
{
    const StoreRun *r = &rs->runs[k];
    snprintf(cell[RC_NAME], 512, "%s", r->name ? r->name : "");
    snprintf(cell[RC_ALGO], 512, "%s", r->algorithm ? r->algorithm : "");
    status_cell(rs, r, cell[RC_STATUS], 512);
    snprintf(cell[RC_SPLIT], 512, "%s", r->split_name ? r->split_name : "-");
    snprintf(cell[RC_DEVICE], 512, "%s", r->device ? r->device : "-");
    if (isnan(r->train_seconds))
        snprintf(cell[RC_TIME], 512, "-");
    else
        snprintf(cell[RC_TIME], 512, "%.2f", r->train_seconds);
    if (isnan(rs->ndcg[k]))
        snprintf(cell[RC_NDCG], 512, "-");
    else
        snprintf(cell[RC_NDCG], 512, "%.4f", rs->ndcg[k]);
    snprintf(cell[RC_PARAMS], 512, "%s", r->params ? r->params : "");
}

/* Draws one row (k < 0: the headings) at row y of the list. */
static void runs_row(RunsScreen *rs, int y, long k, int selected)
{
    static char cell[RC_N][512];
    const TuiRect *r = &rs->list;
    int x = 0;
    TuiElem e = selected ? COL_SELECTED : k < 0 ? COL_HEADER : COL_DEFAULT;
    if (k >= 0)
        runs_cells(rs, (size_t)k, cell);
    if (selected)
        tui_fill(r, y, COL_SELECTED);
    for (int c = 0; c < RC_N && x < r->w; c++) {
        const RunsCol *col = &runs_cols[c];
        if (r->w < col->min_cols)
            continue;
        int w = col->w ? col->w : r->w - x;
        TuiRect cr = { r->y, r->x + x, r->h, w < r->w - x ? w : r->w - x };
        const char *text = k < 0 ? col->title : cell[c];
        TuiElem ce = e;
        if (k >= 0 && !selected && c == RC_STATUS)
            ce = strcmp(text, "failed") == 0 ? COL_ERROR
               : strcmp(text, "done") == 0   ? COL_VALUE
                                             : COL_DIM;
        if (col->right)
            tui_put_right(&cr, y, cr.w - 1, ce, text);
        else
            tui_put(&cr, y, 0, ce, text);
        x += w + 1;
    }
}

static void runs_detail(RunsScreen *rs)
{
    const TuiRect *d = &rs->detail;
    if (d->h <= 0 || !rs->n)
        return;
    const StoreRun *r = &rs->runs[rs->cur];
    char day[32];
    tui_printf(d, 0, 0, COL_LABEL, "%s", r->name);
    tui_printf(d, 0, tui_text_width(r->name) + 1, COL_DIM, "%s %s %s seed %lld %s started %s",
               r->algorithm, tui_glyphs()->sep, r->device ? r->device : "-",
               (long long)r->seed, tui_glyphs()->sep, tui_fmt_date(day, sizeof day, r->started_at));
    if (d->h > 1)
        tui_printf(d, 1, 0, COL_DEFAULT, "params %s", r->params ? r->params : "{}");
    if (d->h > 2) {
        if (r->error && r->error[0])
            tui_printf(d, 2, 0, COL_ERROR, "error: %s", r->error);
        else if (!isnan(rs->ndcg[rs->cur]))
            tui_printf(d, 2, 0, COL_VALUE, "NDCG@10 %.4f (full protocol: all unseen items ranked)",
                       rs->ndcg[rs->cur]);
        else
            tui_put(d, 2, 0, COL_DIM, "not evaluated (recscope eval DB --run NAME)");
    }
}

static void runs_draw(TuiScreen *s, const TuiRect *body)
{
    RunsScreen *rs = (RunsScreen *)s;
    char detail[160];
    (void)body;
    snprintf(detail, sizeof detail, "%zu run%s %s NDCG@10 under the full-ranking protocol", rs->n,
             rs->n == 1 ? "" : "s", tui_glyphs()->sep);
    tui_heading(&rs->head, 0, "Runs", detail);
    const TuiRect *l = &rs->list;
    if (l->h < 2)
        return;
    runs_row(rs, 0, -1, 0);
    int rows = l->h - 2; /* headings, status line */
    if (!rs->n) {
        tui_put(l, 1, 0, COL_DIM, rs->store ? "No runs yet. Press n to train a model."
                                            : "This database has no data yet.");
        if (!rs->jobs && rs->why_no_jobs)
            tui_put(l, 2, 0, COL_ERROR, rs->why_no_jobs);
    }
    if (rs->cur < rs->top)
        rs->top = rs->cur;
    if (rows > 0 && rs->cur >= rs->top + rows)
        rs->top = rs->cur - rows + 1;
    for (int i = 0; i < rows && rs->top + i < (int)rs->n; i++)
        runs_row(rs, 1 + i, rs->top + i, rs->top + i == rs->cur);
    if (rs->msg[0])
        tui_put(l, l->h - 1, 0, rs->msg_error ? COL_ERROR : COL_VALUE, rs->msg);
    else if (!rs->jobs && rs->n && rs->why_no_jobs)
        tui_put(l, l->h - 1, 0, COL_DIM, rs->why_no_jobs);
    else if (rs->n)
        tui_printf(l, l->h - 1, 0, COL_DIM, "run %d of %zu", rs->cur + 1, rs->n);
    runs_detail(rs);
}

static void runs_resize(TuiScreen *s, const TuiRect *body)
{
    RunsScreen *rs = (RunsScreen *)s;
    int pad = body->h > 12;
    int dh = body->h > 14 ? 3 : 0;
    rs->head = (TuiRect) { body->y + pad, body->x + 1, 1, body->w - 2 };
    rs->list = (TuiRect) { body->y + pad + 1, body->x + 1, body->h - pad - 1 - dh - (dh > 0),
                           body->w - 2 };
    rs->detail = (TuiRect) { body->y + body->h - dh, body->x + 1, dh, body->w - 2 };
}

/* --- keys ------------------------------------------------------------------------------------ */

static int key_dir(int key)
{
    return key == KEY_UP || key == 'k' || key == KEY_PPAGE || key == ('b' & 0x1f) ||
                   key == KEY_HOME || key == 'g'
               ? -1
               : 1;
}

/* The session's job behind the selected run; 0 when found. */
static int selected_job(RunsScreen *rs, TuiJobSnap *s)
{
    if (!rs->n || !rs->jobs)
        return -1;
    return tui_jobs_find_run(rs->jobs, rs->runs[rs->cur].name, s);
}

static void say(RunsScreen *rs, int error, const char *text)
{
    snprintf(rs->msg, sizeof rs->msg, "%s", text);
    rs->msg_error = error;
}

static TuiIntent runs_key(TuiScreen *s, int action, int key)
{
    RunsScreen *rs = (RunsScreen *)s;
    int page = rs->list.h > 3 ? rs->list.h - 3 : 1;
    TuiJobSnap js;
    switch (action) {
    case TUI_ACT_MOVE:
    case TUI_ACT_PAGE:
    case TUI_ACT_ENDS: {
        int step = action == TUI_ACT_MOVE ? 1 : action == TUI_ACT_PAGE ? page : (int)rs->n;
        int cur = rs->cur + key_dir(key) * step;
        cur = cur >= (int)rs->n ? (int)rs->n - 1 : cur;
        rs->cur = cur < 0 ? 0 : cur;
        rs->msg[0] = '\0';
        return tui_intent(TUI_INTENT_REDRAW);
    }
    case RUNS_ACT_RELOAD:
        runs_reload(rs);
        return tui_intent(TUI_INTENT_REDRAW);
    case RUNS_ACT_NEW:
        if (!rs->jobs) {
            say(rs, 1, rs->why_no_jobs ? rs->why_no_jobs : "Training is off.");
            return tui_intent(TUI_INTENT_REDRAW);
        }
        return tui_intent_open(tui_newrun_new(rs->store, rs->jobs));
    case TUI_ACT_OPEN:
    case RUNS_ACT_CANCEL:
        if (selected_job(rs, &js) != 0) {
            say(rs, 1, rs->n ? "That run was not trained in this session: no live view."
                             : "No runs yet.");
            return tui_intent(TUI_INTENT_REDRAW);
        }
        if (action == RUNS_ACT_CANCEL && js.state != TUI_JOB_RUNNING) {
            say(rs, 1, "That training has ended already.");
            return tui_intent(TUI_INTENT_REDRAW);
        }
        {
            TuiScreen *v = tui_job_new(rs->jobs, js.id);
            if (v && action == RUNS_ACT_CANCEL)
                tui_dispatch_key(v, 2, 'x'); /* opens the view asking to confirm */
            return tui_intent_open(v);
        }
    default:
        return tui_intent(TUI_INTENT_UNHANDLED);
    }
}

static unsigned runs_tick(TuiScreen *s)
{
    runs_reload((RunsScreen *)s);
    return TUI_INTENT_REDRAW;
}

static void runs_free(TuiScreen *s)
{
    RunsScreen *rs = (RunsScreen *)s;
    if (rs) {
        store_runs_free(rs->runs, rs->n);
        free(rs->ndcg);
        free(rs);
    }
}

static const TuiScreenClass runs_class = {
    .name = "Runs",
    .keys = runs_keys,
    .nkeys = RS_ARRAY_LEN(runs_keys),
    .shared = runs_shared,
    .kind = TUI_SCREEN_RUNS,
    .draw = runs_draw,
    .handle_key = runs_key,
    .resize = runs_resize,
    .free = runs_free,
    .tick = runs_tick,
    .tick_ms = RUNS_TICK_MS,
};

TuiScreen *tui_runs_new(Store *store, struct TuiJobs *jobs, const char *why_no_jobs)
{
    RunsScreen *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->base.cls = &runs_class;
    rs->store = store;
    rs->jobs = jobs;
    rs->why_no_jobs = why_no_jobs;
    runs_reload(rs);
    return &rs->base;
}
