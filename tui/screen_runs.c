/*
 * screen_runs.c - the Runs screen: every run in the database with its
 * algorithm, status, split, device, training time, NDCG@10 under the
 * full-ranking protocol (store_metrics_get "full") and parameters, in the
 * generic table (tui_table.h: s sorts by the next column, r reverses, /
 * filters, e exports), and the selected run's details below. n opens the
 * new-run form, Enter the live view of a job started in this session, x
 * cancels one (confirmed there).
 *
 * The list is small (one row per run) and is read whole into memory: again
 * whenever a background job creates or ends a run (the tick hook), every
 * few seconds while the screen is on top (another process may train), and
 * on ^R. The table's source sorts and filters that copy; a row's key is its
 * position in the sorted, filtered list. A running job's status cell is
 * refreshed from its snapshot on every draw, so its progress stays live.
 */
#include <curses.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"
#include "tui_jobs.h"
#include "tui_models.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

#define RUNS_TICK_MS 3000
#define KEY_CTRL(c) ((c) & 0x1f)

enum {
    RUNS_ACT_NEW = TUI_ACT_SCREEN,
    RUNS_ACT_CANCEL,
    RUNS_ACT_RELOAD,
    RUNS_ACT_SHOW,
};

enum { RC_NAME, RC_ALGO, RC_STATUS, RC_SPLIT, RC_DEVICE, RC_TIME, RC_NDCG, RC_PARAMS, RC_N };
_Static_assert(RC_N <= TUI_TABLE_MAXCOLS, "the runs table needs a column per field");

typedef char RunCells[RC_N][TUI_TABLE_CELL];

typedef struct RunsScreen {
    TuiScreen base;
    Store *store;           /* not owned; NULL: an empty file */
    TuiJobs *jobs;          /* not owned; NULL: training is off */
    const char *why_no_jobs;
    StoreRun *runs;         /* (n) oldest first */
    double *ndcg;           /* (n) NDCG@10, full protocol; NAN when not evaluated */
    RunCells *cells;        /* (n) the table's text of each run */
    size_t n;
    TuiTable table;
    int sort, desc;         /* an RC_* column, or -1: the order the runs were made in */
    TuiRect head, list, detail;
} RunsScreen;

static const TuiKey runs_keys[] = {
    { '\r', "Enter", TUI_ACT_OPEN, "Job view", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Job view", 0 },
    { 'n', "n", RUNS_ACT_NEW, "New run", TUI_KEY_HINT },
    { 'x', "x", RUNS_ACT_CANCEL, "Cancel training", TUI_KEY_HINT },
    { '/', "/", TUI_ACT_FIND, "Filter", TUI_KEY_HINT },
    { 's', "s", TUI_ACT_SORT, "Sort", TUI_KEY_HINT },
    { 'r', "r", TUI_ACT_REVERSE, "Reverse", TUI_KEY_HINT },
    { ' ', "Space", RUNS_ACT_SHOW, "Show in Compare", TUI_KEY_HINT },
    { KEY_CTRL('r'), "^R", RUNS_ACT_RELOAD, "Reload", TUI_KEY_HINT },
};

static const TuiKeyTable *const runs_shared[] = { &tui_table_keys, &tui_export_keys, &tui_nav_keys,
                                                  NULL };

static const TuiColumn runs_cols[RC_N] = {
    [RC_NAME] = { .title = "Run", .min_w = 8, .max_w = 16 },
    [RC_ALGO] = { .title = "Algorithm", .min_w = 9, .max_w = 9 },
    [RC_STATUS] = { .title = "Status", .min_w = 11, .max_w = 11 },
    [RC_SPLIT] = { .title = "Split", .min_w = 6, .max_w = 10, .prio = 2 },
    [RC_DEVICE] = { .title = "Device", .min_w = 6, .max_w = 6, .prio = 3 },
    [RC_TIME] = { .title = "Train s", .min_w = 8, .max_w = 8, .right = 1, .prio = 1 },
    [RC_NDCG] = { .title = "NDCG@10", .min_w = 8, .max_w = 8, .right = 1 },
    [RC_PARAMS] = { .title = "Parameters", .min_w = 10, .prio = 4 },
};
/* the direction each column sorts in first: the newest, longest, best on top */
static const int runs_first_desc[RC_N] = { 0, 0, 0, 0, 0, 1, 1, 0 };

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

/* The status cell: a live job of this session shows its progress. */
static void status_cell(const RunsScreen *rs, const StoreRun *r, char *buf, size_t n)
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

static void runs_cells(const RunsScreen *rs, size_t k, RunCells cell)
{
    const StoreRun *r = &rs->runs[k];
    snprintf(cell[RC_NAME], TUI_TABLE_CELL, "%s", r->name ? r->name : "");
    snprintf(cell[RC_ALGO], TUI_TABLE_CELL, "%s", r->algorithm ? r->algorithm : "");
    status_cell(rs, r, cell[RC_STATUS], TUI_TABLE_CELL);
    snprintf(cell[RC_SPLIT], TUI_TABLE_CELL, "%s", r->split_name ? r->split_name : "-");
    snprintf(cell[RC_DEVICE], TUI_TABLE_CELL, "%s", r->device ? r->device : "-");
    if (isnan(r->train_seconds))
        snprintf(cell[RC_TIME], TUI_TABLE_CELL, "-");
    else
        snprintf(cell[RC_TIME], TUI_TABLE_CELL, "%.2f", r->train_seconds);
    if (isnan(rs->ndcg[k]))
        snprintf(cell[RC_NDCG], TUI_TABLE_CELL, "-");
    else
        snprintf(cell[RC_NDCG], TUI_TABLE_CELL, "%.4f", rs->ndcg[k]);
    snprintf(cell[RC_PARAMS], TUI_TABLE_CELL, "%s", r->params ? r->params : "");
}

/* Index of the run with that id, or -1. */
static long run_index(const RunsScreen *rs, int64_t id)
{
    for (size_t k = 0; k < rs->n; k++)
        if (rs->runs[k].id == id)
            return (long)k;
    return -1;
}

/* The sort of the list: the column's value (numbers as numbers, unknown
 * last), then the order the runs were made in. qsort has no context
 * argument in C11: the screen being sorted, UI thread only. */
static const RunsScreen *sorting;

static double num_cell(const RunsScreen *rs, size_t k, int col)
{
    return col == RC_TIME ? rs->runs[k].train_seconds : rs->ndcg[k];
}

static int cmp_runs(const void *a, const void *b)
{
    const RunsScreen *rs = sorting;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = 0, col = rs->sort;
    if (col == RC_TIME || col == RC_NDCG) {
        double x = num_cell(rs, i, col), y = num_cell(rs, j, col);
        if (isnan(x) || isnan(y))
            return isnan(x) && isnan(y) ? (i > j) - (i < j) : isnan(x) ? 1 : -1;
        c = (x > y) - (x < y);
    } else if (col >= 0) {
        c = strcmp(rs->cells[i][col], rs->cells[j][col]);
    }
    if (rs->desc)
        c = -c;
    return c ? c : (i > j) - (i < j);
}

/* Whether run k matches the filter: a substring of any cell (ignoring
 * case), or with re: an extended regular expression. */
static int run_matches(const RunsScreen *rs, size_t k, const char *filter, const regex_t *re)
{
    for (int c = 0; c < RC_N; c++) {
        const char *cell = rs->cells[k][c];
        if (re ? regexec(re, cell, 0, NULL, 0) == 0 : strcasestr(cell, filter) != NULL)
            return 1;
    }
    return 0;
}

/* The list as shown: indices into runs, filtered and sorted, into order
 * (n entries). Returns how many, or a negative RS_E* code. */
static long runs_view(const RunsScreen *rs, const char *filter, size_t *order, RsErr *err)
{
    regex_t re;
    int use_re = filter && !strncmp(filter, "re:", 3);
    if (use_re && regcomp(&re, filter + 3, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0)
        return rs_err_set(err, RS_EUSAGE, "not a regular expression: %s", filter + 3);
    size_t m = 0;
    for (size_t k = 0; k < rs->n; k++)
        if (!filter || !*filter || run_matches(rs, k, filter, use_re ? &re : NULL))
            order[m++] = k;
    if (use_re)
        regfree(&re);
    sorting = rs;
    qsort(order, m, sizeof *order, cmp_runs);
    sorting = NULL;
    return (long)m;
}

/* The table's source: rows next to the anchor in the view. */
static int runs_fetch(void *ctx, const TuiTableRow *anchor, int dir, const char *filter,
                      TuiTableRow *rows, int max, int64_t *total, RsErr *err)
{
    RunsScreen *rs = ctx;
    size_t *order = malloc((rs->n ? rs->n : 1) * sizeof *order);
    if (!order)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    long m = runs_view(rs, filter, order, err);
    if (m < 0) {
        free(order);
        return (int)m;
    }
    if (total)
        *total = m;
    long from, to; /* [from, to) of the view */
    if (dir > 0) {
        from = anchor ? anchor->key.rank + 1 : 0;
        to = from + max < m ? from + max : m;
    } else {
        to = anchor ? anchor->key.rank : m;
        to = to > m ? m : to;
        from = to - max > 0 ? to - max : 0;
    }
    int got = 0;
    for (long p = from; p < to; p++, got++) {
        TuiTableRow *row = &rows[got];
        size_t k = order[p];
        memset(&row->key, 0, sizeof row->key);
        row->key.rank = p;
        row->id = rs->runs[k].id;
        row->pos = p;
        memcpy(row->cell, rs->cells[k], sizeof rs->cells[k]);
    }
    free(order);
    return got;
}

/* Selects the row of run id in the table, if it is in the view. */
static void select_run(RunsScreen *rs, int64_t id)
{
    size_t *order = malloc((rs->n ? rs->n : 1) * sizeof *order);
    if (!order)
        return;
    long m = runs_view(rs, rs->table.pattern, order, NULL);
    for (long p = 0; p < m; p++) {
        if (rs->runs[order[p]].id == id) {
            TuiTableRow *row = calloc(1, sizeof *row);
            if (row) {
                row->key.rank = p;
                row->id = id;
                row->pos = p;
                memcpy(row->cell, rs->cells[order[p]], sizeof row->cell);
                tui_table_jump(&rs->table, row);
                free(row);
            }
            break;
        }
    }
    free(order);
}

/* Reads the runs again, keeping the selection on the same run; the last
 * row selected follows new runs (tail -f) when the list is in the order
 * the runs were made in. */
static void runs_reload(RunsScreen *rs)
{
    const TuiTableRow *selrow = tui_table_selected(&rs->table);
    int at_last = !selrow || (rs->table.at_end && rs->table.cur == rs->table.n - 1);
    int64_t sel = selrow ? selrow->id : -1;
    StoreRun *runs = NULL;
    size_t n = 0;
    RsErr err;
    rs_err_clear(&err);
    if (!rs->store)
        return;
    if (store_runs_list(rs->store, &runs, &n, &err) != RS_OK) {
        snprintf(rs->table.msg, sizeof rs->table.msg, "%.150s", err.msg);
        rs->table.msg_error = 1;
        return;
    }
    double *ndcg = calloc(n ? n : 1, sizeof *ndcg);
    RunCells *cells = calloc(n ? n : 1, sizeof *cells);
    if (!ndcg || !cells) {
        free(ndcg);
        free(cells);
        store_runs_free(runs, n);
        return;
    }
    for (size_t k = 0; k < n; k++)
        ndcg[k] = ndcg10(rs->store, runs[k].id);
    store_runs_free(rs->runs, rs->n);
    free(rs->ndcg);
    free(rs->cells);
    rs->runs = runs;
    rs->ndcg = ndcg;
    rs->cells = cells;
    rs->n = n;
    for (size_t k = 0; k < n; k++)
        runs_cells(rs, k, cells[k]);
    if (tui_models_current()) /* the runs the model screens can show, as listed here */
        tui_models_refresh(tui_models_current(), NULL);
    int editing = rs->table.editing; /* a reload under the prompt keeps it open */
    char msg[sizeof rs->table.msg];
    snprintf(msg, sizeof msg, "%s", rs->table.msg_error ? "" : rs->table.msg);
    tui_table_reload(&rs->table);
    rs->table.editing = editing;
    if (!rs->table.msg[0])
        snprintf(rs->table.msg, sizeof rs->table.msg, "%s", msg);
    if (at_last && rs->sort < 0 && !rs->desc)
        tui_table_key(&rs->table, TUI_ACT_ENDS, KEY_END);
    else if (sel >= 0)
        select_run(rs, sel);
}

/* --- drawing ---------------------------------------------------------------------------- */

/* The selected run, or NULL. */
static const StoreRun *selected_run(const RunsScreen *rs, long *index)
{
    const TuiTableRow *row = tui_table_selected(&rs->table);
    long k = row ? run_index(rs, row->id) : -1;
    if (index)
        *index = k;
    return k >= 0 ? &rs->runs[k] : NULL;
}

/* Whether run id is among the runs the model screens show (tui_models.h). */
static int run_shown(const RunsScreen *rs, int64_t id)
{
    TuiModels *m = rs->store ? tui_models_for(rs->store) : NULL; /* a run list, no loading */
    long k = tui_models_find(m, id);
    return k >= 0 && tui_models_is_selected(m, (size_t)k);
}

static void runs_detail(RunsScreen *rs)
{
    const TuiRect *d = &rs->detail;
    long k;
    const StoreRun *r = selected_run(rs, &k);
    if (d->h <= 0 || !r)
        return;
    char day[32];
    tui_printf(d, 0, 0, COL_LABEL, "%s", r->name);
    int x = tui_text_width(r->name) + 1;
    x += tui_printf(d, 0, x, COL_DIM, "%s %s %s seed %lld %s started %s", r->algorithm,
                    tui_glyphs()->sep, r->device ? r->device : "-", (long long)r->seed,
                    tui_glyphs()->sep, tui_fmt_date(day, sizeof day, r->started_at));
    if (run_shown(rs, r->id))
        tui_printf(d, 0, x, COL_VALUE, " %s shown in Compare", tui_glyphs()->sep);
    if (d->h > 1) {
        char params[512];
        snprintf(params, sizeof params, "params %s", r->params ? r->params : "{}");
        tui_put_clip(d, 1, 0, COL_DEFAULT, params);
    }
    if (d->h > 2) {
        if (r->error && r->error[0])
            tui_printf(d, 2, 0, COL_ERROR, "error: %s", r->error);
        else if (!isnan(rs->ndcg[k]))
            tui_printf(d, 2, 0, COL_VALUE, "NDCG@10 %.4f (full protocol: all unseen items ranked)",
                       rs->ndcg[k]);
        else
            tui_put(d, 2, 0, COL_DIM, "not evaluated (recscope eval DB --run NAME)");
    }
}

/* The progress of this session's running jobs, into the rows the table
 * holds, so that it moves between reloads. */
static void live_status(RunsScreen *rs)
{
    for (int i = 0; rs->jobs && i < rs->table.n; i++) {
        TuiTableRow *row = &rs->table.rows[i];
        long k = run_index(rs, row->id);
        if (k >= 0 && !strcmp(rs->runs[k].status, "running"))
            status_cell(rs, &rs->runs[k], row->cell[RC_STATUS], TUI_TABLE_CELL);
    }
}

static void runs_draw(TuiScreen *s, const TuiRect *body)
{
    RunsScreen *rs = (RunsScreen *)s;
    char detail[160];
    (void)body;
    if (rs->sort >= 0)
        snprintf(detail, sizeof detail, "%zu run%s %s sorted by %s, %s %s NDCG@10 full protocol",
                 rs->n, rs->n == 1 ? "" : "s", tui_glyphs()->sep, runs_cols[rs->sort].title,
                 rs->desc ? "descending" : "ascending", tui_glyphs()->sep);
    else
        snprintf(detail, sizeof detail, "%zu run%s %s NDCG@10 under the full-ranking protocol",
                 rs->n, rs->n == 1 ? "" : "s", tui_glyphs()->sep);
    tui_heading(&rs->head, 0, "Runs", detail);
    live_status(rs);
    tui_table_draw(&rs->table, &rs->list);
    const TuiRect *l = &rs->list;
    if (!rs->n && !rs->jobs && rs->why_no_jobs && l->h > 3)
        tui_put(l, 2, 0, COL_ERROR, rs->why_no_jobs);
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
    tui_table_layout(&rs->table, &rs->list);
}

/* --- keys ------------------------------------------------------------------------------------ */

/* The session's job behind the selected run; 0 when found. */
static int selected_job(RunsScreen *rs, TuiJobSnap *s)
{
    const StoreRun *r = selected_run(rs, NULL);
    if (!r || !rs->jobs)
        return -1;
    return tui_jobs_find_run(rs->jobs, r->name, s);
}

static void say(RunsScreen *rs, int error, const char *text)
{
    snprintf(rs->table.msg, sizeof rs->table.msg, "%.150s", text);
    rs->table.msg_error = error;
}

static void runs_sort(RunsScreen *rs, int sort, int desc)
{
    const TuiTableRow *row = tui_table_selected(&rs->table);
    int64_t sel = row ? row->id : -1;
    rs->sort = sort;
    rs->desc = desc;
    rs->table.sort_col = sort;
    rs->table.sort_desc = desc;
    tui_table_reload(&rs->table);
    if (sel >= 0)
        select_run(rs, sel);
}

static const TuiScreenClass runs_class, runs_edit_class;

static TuiIntent runs_action(RunsScreen *rs, int action)
{
    TuiJobSnap js;
    switch (action) {
    case TUI_ACT_SORT: /* the order of creation, then each column in turn */
        if (rs->sort + 1 >= RC_N)
            runs_sort(rs, -1, 0);
        else
            runs_sort(rs, rs->sort + 1, runs_first_desc[rs->sort + 1]);
        return tui_intent(TUI_INTENT_REDRAW);
    case TUI_ACT_REVERSE:
        runs_sort(rs, rs->sort, !rs->desc);
        return tui_intent(TUI_INTENT_REDRAW);
    case RUNS_ACT_RELOAD:
        runs_reload(rs);
        return tui_intent(TUI_INTENT_REDRAW);
    case RUNS_ACT_SHOW: {
        const StoreRun *r = selected_run(rs, NULL);
        TuiModels *m = rs->store ? tui_models_for(rs->store) : NULL;
        if (m)
            tui_models_refresh(m, NULL);
        long k = r ? tui_models_find(m, r->id) : -1;
        if (k < 0) {
            say(rs, 1, r ? "Only a finished run on a split can be shown." : "No runs yet.");
            return tui_intent(TUI_INTENT_REDRAW);
        }
        tui_models_toggle(m, (size_t)k);
        say(rs, 0, tui_models_is_selected(m, (size_t)k)
                       ? "Shown in Compare and on the model screens (c compares)."
                       : "No longer shown on the model screens.");
        return tui_intent(TUI_INTENT_REDRAW);
    }
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

static TuiIntent runs_key(TuiScreen *s, int action, int key)
{
    RunsScreen *rs = (RunsScreen *)s;
    if (!rs->table.editing) {
        TuiIntent in = runs_action(rs, action);
        if (in.flags != TUI_INTENT_UNHANDLED)
            return in;
    }
    unsigned f = tui_table_key(&rs->table, action, key);
    rs->base.cls = rs->table.editing ? &runs_edit_class : &runs_class;
    return tui_intent(f);
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
        tui_table_done(&rs->table);
        store_runs_free(rs->runs, rs->n);
        free(rs->ndcg);
        free(rs->cells);
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

/* The same screen while the filter or export prompt is open. */
static const TuiScreenClass runs_edit_class = {
    .name = "Runs",
    .keys = tui_table_edit_keys,
    .nkeys = TUI_TABLE_NEDIT_KEYS,
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
    rs->sort = -1;
    if (tui_table_init(&rs->table, runs_cols, RC_N, runs_fetch, rs, TUI_TABLE_FILTER) < 0) {
        free(rs);
        return NULL;
    }
    rs->table.empty = store ? "No runs yet. Press n to train a model."
                            : "This database has no data yet.";
    rs->table.export_name = "runs";
    runs_reload(rs);
    return &rs->base;
}
