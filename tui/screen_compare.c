/*
 * screen_compare.c - two or three runs side by side, and the overlay that
 * selects the runs every model screen shows.
 *
 * Compare: the selected runs (the newest done runs fill in up to two). At
 * the top a metrics table at K (+/- step K through 5, 10, 20, 50) under the
 * full protocol, then for every run after the first a paired test against
 * it over the evaluated users on ndcg@K (bootstrap 95% confidence interval
 * of the mean difference, Wilcoxon signed-rank p; "significant" when
 * p < 0.05 and the interval excludes 0; runs on different splits are not
 * paired). Below, one user at a time (n / p: the next / previous evaluated
 * user): the runs' top-K lists side by side, '*' on held-out test items,
 * '=' on items in every list, the change of rank against the first run.
 * A detector warns when a run gives every one of the first 20 evaluated
 * users the same ranking, less the items each has seen (cmp_detect).
 *
 * Evaluation runs in the UI thread on the first draw at a K, behind a
 * notice: well under a second per run on MovieLens-100K; the results are
 * kept per K.
 */
#include <curses.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stats.h"
#include "tui_export.h"
#include "tui_models.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

#define CMP_MAXRUNS TUI_MODELS_MAXSEL
#define CMP_SAME_USERS 20 /* users the same-list detector looks at */
#define CMP_DETECT_K 10   /* ... and the length of their lists */

static const size_t cmp_ks[] = { 5, 10, 20, 50 };

/* One evaluation on a worker thread (eval_model over millions of users
 * takes seconds; the screen stays live meanwhile). The models, parts and
 * catalogue it reads belong to the model cache, which never changes or
 * frees them while the TUI runs. */
typedef struct CmpEval {
    pthread_t th;
    atomic_int done, cancel;
    int ki;                          /* which K and run: the result's slot */
    size_t j;
    const RsModel *model;
    const RsMatrix *train, *test;
    const RsCatalog *cat;
    EvalOptions o;
    EvalResult *res;
    int rc;
    RsErr err;
} CmpEval;

typedef struct CompareScreen {
    TuiScreen base;
    TuiModels *models;
    size_t run[CMP_MAXRUNS];         /* indices in the run list (cmp_resolve) */
    int64_t run_id[CMP_MAXRUNS];
    size_t n;
    char err[RS_ERRLEN];
    int ki;                          /* index into cmp_ks */
    EvalResult *res[RS_ARRAY_LEN(cmp_ks)][CMP_MAXRUNS];
    char eval_err[RS_ERRLEN];
    CmpEval *job;                    /* the evaluation running, or NULL */
    int same_split;
    /* the user shown */
    long u;                          /* dataset index */
    long pos;                        /* in the evaluated users, -1 when not there */
    int lists_for;                   /* ki the lists were made at, -1: none */
    TuiRecList lists[CMP_MAXRUNS];
    int same[CMP_MAXRUNS];           /* the detector: 1 one list for all, 0 not, -1 unknown */
    size_t distinct[CMP_MAXRUNS];    /* distinct items in the lists it looked at */
    size_t nusers_detect;            /* users it looked at */
    int64_t start_user;              /* database id asked for, -1 none */
    /* export (e): the file name prompt, and the result */
    int exporting;
    char export_name[TUI_TABLE_PATTERN];
    char msg[RS_ERRLEN + 64];
    int msg_error;
} CompareScreen;

enum { CMP_ACT_K = TUI_ACT_SCREEN, CMP_ACT_USER };

static const TuiKey compare_keys[] = {
    { 'n', "n", CMP_ACT_USER, "Next / previous user", TUI_KEY_HINT },
    { 'p', "p", CMP_ACT_USER, "Next / previous user", 0 },
    { '+', "+", CMP_ACT_K, "Larger / smaller K", TUI_KEY_HINT },
    { '=', "=", CMP_ACT_K, "Larger / smaller K", 0 },
    { '-', "-", CMP_ACT_K, "Larger / smaller K", 0 },
    { 'e', "e", TUI_ACT_EXPORT, "Export (.csv, .tsv, .md)", 0 },
};

static const TuiKeyTable *const compare_shared[] = { &tui_nav_keys, NULL };
static const TuiScreenClass compare_class, compare_edit_class;

/* --- computing ---------------------------------------------------------------------------- */

static const RsDataset *cmp_dataset(CompareScreen *cs)
{
    return tui_models_dataset(cs->models, NULL);
}

static void *cmp_eval_main(void *arg)
{
    CmpEval *e = arg;
    e->rc = eval_model(e->model, e->train, e->test, e->cat, &e->o, &e->res, &e->err);
    atomic_store(&e->done, 1);
    return NULL;
}

/* Waits for the job (cancelled first when cancel) and keeps its result. */
static void cmp_job_finish(CompareScreen *cs, int cancel)
{
    CmpEval *e = cs->job;
    if (!e)
        return;
    if (cancel)
        atomic_store(&e->cancel, 1);
    pthread_join(e->th, NULL);
    if (e->rc == RS_OK)
        cs->res[e->ki][e->j] = e->res;
    else if (e->rc != RS_ECANCEL) {
        const TuiRun *r = tui_models_run(cs->models, cs->run[e->j]);
        snprintf(cs->eval_err, sizeof cs->eval_err, "%.100s: %.300s", r->name, e->err.msg);
    }
    if (e->rc != RS_OK)
        eval_result_free(e->res);
    free(e);
    cs->job = NULL;
}

/* Evaluates every run at the current K (once per K), one at a time on a
 * worker thread: collects a finished job, starts the next missing one.
 * Returns 1 while a result for the current K is still missing. */
static int cmp_evaluate(CompareScreen *cs)
{
    if (cs->job && atomic_load(&cs->job->done))
        cmp_job_finish(cs, 0);
    size_t K = cmp_ks[cs->ki];
    int missing = 0;
    for (size_t j = 0; j < cs->n && !cs->eval_err[0]; j++) {
        if (cs->res[cs->ki][j])
            continue;
        missing = 1;
        if (cs->job)
            break;
        CmpEval *e = calloc(1, sizeof *e);
        if (!e) {
            snprintf(cs->eval_err, sizeof cs->eval_err, "out of memory");
            break;
        }
        const TuiRun *r = tui_models_run(cs->models, cs->run[j]);
        e->ki = cs->ki;
        e->j = j;
        e->model = r->model;
        e->train = r->train;
        e->test = r->test;
        e->cat = cmp_dataset(cs)->cat;
        eval_options_default(&e->o);
        e->o.ks[0] = K;
        e->o.nks = 1;
        e->o.cancel = &e->cancel;
        atomic_init(&e->done, 0);
        atomic_init(&e->cancel, 0);
        if (pthread_create(&e->th, NULL, cmp_eval_main, e) != 0) {
            free(e);
            snprintf(cs->eval_err, sizeof cs->eval_err, "cannot start a thread");
            break;
        }
        cs->job = e;
        break;
    }
    return missing;
}

/* The timer: redraw when the running evaluation has finished. */
static unsigned compare_tick(TuiScreen *s)
{
    CompareScreen *cs = (CompareScreen *)s;
    return cs->job && atomic_load(&cs->job->done) ? TUI_INTENT_REDRAW : 0;
}

/* The first run's evaluated users (ascending dataset indices), or NULL. */
static const EvalResult *cmp_users(const CompareScreen *cs)
{
    for (size_t k = 0; k < RS_ARRAY_LEN(cmp_ks); k++)
        if (cs->res[k][0])
            return cs->res[k][0];
    return NULL;
}

/* Position of item in list[0..n), or -1. */
static int pos_in(const RsRec *list, size_t n, uint32_t item)
{
    for (size_t t = 0; t < n; t++)
        if (list[t].item == item)
            return (int)t;
    return -1;
}

/* The same-list detector, over the top-K lists of the first CMP_SAME_USERS
 * evaluated users under run j: a run that ignores the user gives everyone
 * one ranking with each user's seen items left out, so any two items in
 * two lists come in the same order. It counts the pairs ordered one way in
 * a list and the other way in another (none: the same list for everyone)
 * and the distinct items in all the lists. */
static void cmp_detect(CompareScreen *cs)
{
    const EvalResult *ev = cmp_users(cs);
    for (size_t j = 0; j < cs->n; j++) {
        cs->same[j] = -1;
        if (!ev || ev->n_users < 2)
            continue;
        size_t nu = ev->n_users < CMP_SAME_USERS ? ev->n_users : CMP_SAME_USERS, nd = 0;
        TuiRecList *l = malloc(nu * sizeof *l);
        uint32_t seen[CMP_SAME_USERS * CMP_DETECT_K];
        size_t got = 0, conflicts = 0, pairs = 0;
        for (; l && got < nu; got++) {
            if (tui_models_recommend(cs->models, cs->run[j], ev->users[got], NULL, CMP_DETECT_K,
                                     &l[got]))
                break;
            for (size_t t = 0; t < l[got].n; t++) {
                size_t o = 0;
                while (o < nd && seen[o] != l[got].recs[t].item)
                    o++;
                if (o == nd)
                    seen[nd++] = l[got].recs[t].item;
            }
        }
        /* every ordered pair (a before b) of one list against every other list */
        for (size_t p = 0; p < got; p++)
            for (size_t q = 0; q < got; q++)
                for (size_t x = 0; p != q && x < l[p].n; x++)
                    for (size_t y = x + 1; y < l[p].n; y++) {
                        int px = pos_in(l[q].recs, l[q].n, l[p].recs[x].item);
                        int py = pos_in(l[q].recs, l[q].n, l[p].recs[y].item);
                        if (px < 0 || py < 0)
                            continue;
                        pairs++;
                        conflicts += py < px;
                    }
        free(l);
        cs->distinct[j] = nd;
        cs->same[j] = got == nu && pairs > 0 ? conflicts == 0 : -1;
        cs->nusers_detect = got;
    }
}

static void cmp_lists(CompareScreen *cs)
{
    if (cs->lists_for == cs->ki || cs->u < 0)
        return;
    for (size_t j = 0; j < cs->n; j++)
        tui_models_recommend(cs->models, cs->run[j], cs->u, NULL, cmp_ks[cs->ki], &cs->lists[j]);
    cs->lists_for = cs->ki;
}

/* Where the user asked for sits among the evaluated users. */
static void cmp_place_user(CompareScreen *cs)
{
    const EvalResult *ev = cmp_users(cs);
    if (cs->u >= 0 || !ev)
        return;
    long want = cs->start_user >= 0 ? tui_models_user(cs->models, cs->start_user) : -1;
    cs->pos = 0;
    cs->u = ev->n_users ? (long)ev->users[0] : -1;
    if (want >= 0) {
        cs->u = want;
        cs->pos = -1;
        for (size_t q = 0; q < ev->n_users; q++)
            if (ev->users[q] == (uint32_t)want)
                cs->pos = (long)q;
    }
    cmp_detect(cs);
}

/* --- drawing ------------------------------------------------------------------------------- */

static const char *const cmp_metrics[] = { "ndcg", "recall", "precision", "map", "mrr", "hr" };

static int draw_table(CompareScreen *cs, const TuiRect *r, int row)
{
    size_t K = cmp_ks[cs->ki];
    int lw = 14, cw = (r->w - lw) / (int)cs->n;
    cw = cw > 28 ? 28 : cw;
    tui_put(r, row, 0, COL_LABEL, "Metric");
    for (size_t j = 0; j < cs->n; j++) {
        const TuiRun *run = tui_models_run(cs->models, cs->run[j]);
        tui_printf(r, row, lw + (int)j * cw, COL_HEADER, "%s (%s)", run->name, run->algo);
    }
    row++;
    size_t nm = r->h >= 34 ? RS_ARRAY_LEN(cmp_metrics) : 3; /* short: ndcg, recall, precision */
    for (size_t m = 0; m < nm && row < r->h; m++, row++) {
        char key[EVAL_NAME_LEN];
        snprintf(key, sizeof key, "%s@%zu", cmp_metrics[m], K);
        tui_put(r, row, 0, COL_LABEL, key);
        for (size_t j = 0; j < cs->n; j++) {
            const EvalMetric *em =
                cs->res[cs->ki][j] ? eval_result_find(cs->res[cs->ki][j], key) : NULL;
            if (em && !isnan(em->value))
                tui_printf(r, row, lw + (int)j * cw, COL_VALUE, "%.4f", em->value);
            else
                tui_put(r, row, lw + (int)j * cw, COL_DIM, "-");
        }
    }
    return row;
}

/* The paired test of run j against the first on key (ndcg@K): 1 and bs,
 * wx when the runs can be paired. */
static int cmp_paired(const CompareScreen *cs, size_t j, const char *key, StatsBootstrap *bs,
                      StatsWilcoxon *wx)
{
    const EvalResult *a = cs->res[cs->ki][0], *b = cs->res[cs->ki][j];
    const EvalMetric *ma = a ? eval_result_find(a, key) : NULL;
    const EvalMetric *mb = b ? eval_result_find(b, key) : NULL;
    return cs->same_split && ma && mb && ma->per_user && mb->per_user &&
           a->n_users == b->n_users &&
           !memcmp(a->users, b->users, a->n_users * sizeof *a->users) &&
           !stats_paired_bootstrap(ma->per_user, mb->per_user, a->n_users,
                                   STATS_BOOTSTRAP_DEFAULT_R, 0.95, 42, bs, NULL) &&
           !stats_wilcoxon(ma->per_user, mb->per_user, a->n_users, wx, NULL);
}

/* "B vs A on ndcg@10: +0.0123, 95% CI [...], Wilcoxon p = ...: significant" */
static int draw_tests(CompareScreen *cs, const TuiRect *r, int row)
{
    char key[EVAL_NAME_LEN];
    snprintf(key, sizeof key, "ndcg@%zu", cmp_ks[cs->ki]);
    const TuiRun *r0 = tui_models_run(cs->models, cs->run[0]);
    for (size_t j = 1; j < cs->n && row < r->h; j++, row++) {
        const TuiRun *rj = tui_models_run(cs->models, cs->run[j]);
        StatsBootstrap bs;
        StatsWilcoxon wx;
        int paired = cmp_paired(cs, j, key, &bs, &wx);
        int x = tui_printf(r, row, 0, COL_LABEL, "%s vs %s on %s: ", rj->name, r0->name, key);
        if (!paired) {
            tui_put(r, row, x, COL_DIM, "no paired test (different splits or no values)");
            continue;
        }
        int sig = wx.p < 0.05 && (bs.lo > 0 || bs.hi < 0);
        char ci[96], wp[64];
        snprintf(ci, sizeof ci, ", 95%% CI [%+.4f, %+.4f],", bs.lo, bs.hi);
        snprintf(wp, sizeof wp, " Wilcoxon p = %.3g: ", wx.p);
        x += tui_printf(r, row, x, COL_VALUE, "%+.4f", bs.mean_diff);
        x += tui_put(r, row, x, COL_LABEL, ci);
        const char *verdict = sig ? "significant" : "not significant";
        if (x + tui_text_width(wp) + tui_text_width(verdict) > r->w && row + 1 < r->h)
            x = 1, row++; /* narrow: the test's result on a line of its own */
        x += tui_put(r, row, x, COL_LABEL, wp);
        tui_put(r, row, x, sig ? COL_VALUE : COL_DIM, verdict);
    }
    return row;
}

/* One line per run: distinct items in the first users' lists, with a
 * warning when there are barely more than one list's worth. */
/* One line per run: the detector's verdict and the distinct items. */
static int draw_detector(const CompareScreen *cs, const TuiRect *r, int row)
{
    for (size_t j = 0; j < cs->n && row < r->h; j++) {
        if (cs->same[j] < 0)
            continue;
        const TuiRun *run = tui_models_run(cs->models, cs->run[j]);
        int x = tui_printf(r, row, 0, COL_LABEL, "%s: %zu distinct items in the top-%d of %zu users",
                           run->name, cs->distinct[j], CMP_DETECT_K, cs->nusers_detect);
        const char *warn = "  ! every user gets the same list (less what they saw)";
        if (cs->same[j] && x + tui_text_width(warn) > r->w && row + 1 < r->h)
            x = 0, row++;
        if (cs->same[j])
            tui_put(r, row, x, COL_ERROR, warn);
        row++;
    }
    return row;
}

static void draw_lists(CompareScreen *cs, const TuiRect *r, int row)
{
    const RsDataset *d = cmp_dataset(cs);
    const EvalResult *ev = cmp_users(cs);
    char where[64] = "";
    if (cs->u < 0 || !d)
        return;
    if (cs->pos >= 0 && ev)
        snprintf(where, sizeof where, "%ld of %zu evaluated", cs->pos + 1, ev->n_users);
    else
        snprintf(where, sizeof where, "not evaluated (no test items)");
    char title[160];
    snprintf(title, sizeof title, "User %s", d->cat->user_ext[cs->u]);
    tui_heading(r, row, title, where);
    tui_put_right(r, row, r->w, COL_DIM, "* hit  = in every list  +n rank vs first");
    row++;
    cmp_lists(cs);
    int w = (r->w - (int)(cs->n - 1) * 2) / (int)cs->n;
    for (size_t j = 0; j < cs->n; j++) {
        const TuiRun *run = tui_models_run(cs->models, cs->run[j]);
        int x = (int)j * (w + 2);
        TuiRect col = { r->y, r->x + x, r->h, w };
        tui_printf(&col, row, 0, COL_HEADER, "%s", run->name);
        TuiRecList *cmp = malloc(cs->n * sizeof *cmp); /* the other lists */
        size_t no = 0;
        for (size_t o = 0; cmp && o < cs->n; o++)
            if (o != j)
                cmp[no++] = cs->lists[o];
        tui_models_draw_recs(cs->models, r, row + 1, x, w, &cs->lists[j], cs->u, -1, cmp, no,
                             j > 0 ? &cs->lists[0] : NULL);
        free(cmp);
    }
}

/* The runs' indices again: the run list may have changed since. */
static int cmp_resolve(CompareScreen *cs)
{
    for (size_t j = 0; j < cs->n; j++) {
        long k = tui_models_find(cs->models, cs->run_id[j]);
        if (k < 0)
            return -1;
        if ((size_t)k != cs->run[j])
            cs->lists_for = -1;
        cs->run[j] = (size_t)k;
    }
    return 0;
}

/* Whether the compared runs (and the dataset) are loaded; while the
 * worker loads them, draws what it is waiting for in r and returns 0. A
 * run that cannot be loaded becomes the screen's error. */
static int cmp_loaded(CompareScreen *cs, const TuiRect *r)
{
    RsErr err;
    for (size_t j = 0; j < cs->n; j++) {
        rs_err_clear(&err);
        int rc = tui_models_load(cs->models, cs->run[j], &err);
        if (rc == RS_OK)
            continue;
        tui_heading(r, 0, "Compare", NULL);
        if (rc != TUI_MODELS_LOADING) {
            snprintf(cs->err, sizeof cs->err, "%s", err.msg);
            tui_put(r, 2, 0, COL_ERROR, cs->err);
            return 0;
        }
        tui_printf(r, 2, 0, COL_DIM, "%s (%zu of %zu runs loaded)", err.msg, j, cs->n);
        tui_put(r, 3, 0, COL_DIM, "keys work meanwhile; q or Esc goes back");
        return 0;
    }
    return 1;
}

static void compare_draw(TuiScreen *s, const TuiRect *body)
{
    CompareScreen *cs = (CompareScreen *)s;
    int pad = body->h > 16;
    TuiRect r = { body->y + pad, body->x + 1, body->h - pad, body->w - 2 };
    char detail[256];
    if (cs->err[0]) {
        tui_heading(&r, 0, "Compare", NULL);
        tui_put(&r, 2, 0, COL_ERROR, cs->err);
        return;
    }
    if (cmp_resolve(cs) < 0) {
        tui_heading(&r, 0, "Compare", NULL);
        tui_put(&r, 2, 0, COL_ERROR, "a compared run is gone");
        return;
    }
    if (!cmp_loaded(cs, &r))
        return;
    int pending = cmp_evaluate(cs);
    cmp_place_user(cs);
    const TuiRun *r0 = tui_models_run(cs->models, cs->run[0]);
    snprintf(detail, sizeof detail, "full protocol, K = %zu, split %s%s", cmp_ks[cs->ki],
             r0->split, cs->same_split ? "" : " (runs on different splits)");
    tui_heading(&r, 0, "Compare", detail);
    if (cs->eval_err[0])
        tui_put(&r, 1, 0, COL_ERROR, cs->eval_err);
    else if (pending && cs->job) {
        const TuiRun *rj = tui_models_run(cs->models, cs->run[cs->job->j]);
        tui_printf(&r, 1, 0, COL_DIM, "evaluating %s at K = %zu... (keys work meanwhile)",
                   rj->name, cmp_ks[cs->job->ki]);
    }
    TuiRect top = r;
    if (cs->exporting || cs->msg[0])
        top.h--; /* the last row: the export prompt or its result */
    int row = draw_table(cs, &top, 2);
    row = draw_tests(cs, &top, row);
    row = draw_detector(cs, &top, row);
    draw_lists(cs, &top, row + 1);
    if (cs->exporting) {
        tui_fill(&r, r.h - 1, COL_DEFAULT);
        int x = tui_printf(&r, r.h - 1, 0, COL_VALUE, "Export to: %s", cs->export_name);
        x += tui_put(&r, r.h - 1, x, COL_DIM, tui_glyphs()->cursor) + 2;
        tui_put(&r, r.h - 1, x, COL_DIM, ".csv, .tsv or .md; Enter writes, Esc cancels");
    } else if (cs->msg[0]) {
        tui_put(&r, r.h - 1, 0, cs->msg_error ? COL_ERROR : COL_DIM, cs->msg);
    }
}

/* --- export -------------------------------------------------------------------------------- */

/* One row of the export: a label and a cell per run. */
static int cmp_export_row(TuiExport *x, const CompareScreen *cs, const char *label,
                          char cells[][96], int header)
{
    const char *row[1 + CMP_MAXRUNS];
    row[0] = label;
    for (size_t j = 0; j < cs->n; j++)
        row[1 + j] = cells[j];
    return tui_export_row(x, row, 1 + cs->n, header);
}

/* The metrics at K, the paired tests and the shown user's lists, one
 * column per run. Returns the rows written or a negative RS_E* code. */
static long cmp_export(CompareScreen *cs, const char *path, RsErr *err)
{
    TuiExport x;
    char cells[CMP_MAXRUNS][96], key[EVAL_NAME_LEN], label[160];
    size_t K = cmp_ks[cs->ki];
    const RsDataset *d = cmp_dataset(cs);
    int rc = tui_export_open(&x, path, err);
    if (rc < 0)
        return rc;
    for (size_t j = 0; j < cs->n; j++) {
        const TuiRun *run = tui_models_run(cs->models, cs->run[j]);
        snprintf(cells[j], sizeof cells[j], "%.60s (%.30s)", run->name, run->algo);
    }
    rc = cmp_export_row(&x, cs, "Metric", cells, 1);
    for (size_t m = 0; rc == 0 && m < RS_ARRAY_LEN(cmp_metrics); m++) {
        snprintf(key, sizeof key, "%s@%zu", cmp_metrics[m], K);
        for (size_t j = 0; j < cs->n; j++) {
            const EvalMetric *em =
                cs->res[cs->ki][j] ? eval_result_find(cs->res[cs->ki][j], key) : NULL;
            if (em && !isnan(em->value))
                snprintf(cells[j], sizeof cells[j], "%.4f", em->value);
            else
                snprintf(cells[j], sizeof cells[j], "-");
        }
        rc = cmp_export_row(&x, cs, key, cells, 0);
    }
    snprintf(key, sizeof key, "ndcg@%zu", K);
    const char *what[] = { "difference", "95% CI", "Wilcoxon p", "significant" };
    StatsBootstrap bs[CMP_MAXRUNS];
    StatsWilcoxon wx[CMP_MAXRUNS];
    int paired[CMP_MAXRUNS] = { 0 };
    for (size_t j = 1; j < cs->n; j++)
        paired[j] = cmp_paired(cs, j, key, &bs[j], &wx[j]);
    for (size_t t = 0; rc == 0 && cs->n > 1 && t < RS_ARRAY_LEN(what); t++) {
        snprintf(label, sizeof label, "%s %s vs %.100s", key, what[t],
                 tui_models_run(cs->models, cs->run[0])->name);
        for (size_t j = 0; j < cs->n; j++) {
            if (j == 0 || !paired[j])
                snprintf(cells[j], sizeof cells[j], "-");
            else if (t == 0)
                snprintf(cells[j], sizeof cells[j], "%+.4f", bs[j].mean_diff);
            else if (t == 1)
                snprintf(cells[j], sizeof cells[j], "[%+.4f, %+.4f]", bs[j].lo, bs[j].hi);
            else if (t == 2)
                snprintf(cells[j], sizeof cells[j], "%.3g", wx[j].p);
            else
                snprintf(cells[j], sizeof cells[j], "%s",
                         wx[j].p < 0.05 && (bs[j].lo > 0 || bs[j].hi < 0) ? "yes" : "no");
        }
        rc = cmp_export_row(&x, cs, label, cells, 0);
    }
    if (rc == 0 && cs->u >= 0 && d) {
        cmp_lists(cs);
        for (size_t t = 0; rc == 0 && t < K; t++) {
            int any = 0;
            snprintf(label, sizeof label, "user %s #%zu", d->cat->user_ext[cs->u], t + 1);
            for (size_t j = 0; j < cs->n; j++) {
                const TuiRecList *l = &cs->lists[j];
                cells[j][0] = '\0';
                if (!l->ok || t >= l->n)
                    continue;
                uint32_t it = l->recs[t].item;
                const char *title = d->cat->item_title && d->cat->item_title[it]
                                        ? d->cat->item_title[it] : d->cat->item_ext[it];
                const TuiRun *run = tui_models_run(cs->models, cs->run[j]);
                snprintf(cells[j], sizeof cells[j], "%.80s%s", title,
                         tui_models_hit(run, (uint32_t)cs->u, it) ? " *" : "");
                any = 1;
            }
            if (any)
                rc = cmp_export_row(&x, cs, label, cells, 0);
        }
    }
    if (rc < 0) {
        tui_export_abort(&x);
        return rs_err_set(err, RS_EIO, "cannot write %s", path);
    }
    rc = tui_export_commit(&x, err);
    return rc < 0 ? rc : x.rows;
}

/* A key while the file name prompt is open. */
static TuiIntent cmp_export_key(CompareScreen *cs, int action, int key)
{
    size_t len = strlen(cs->export_name);
    if (action == TUI_ACT_OPEN && len) {
        RsErr err;
        rs_err_clear(&err);
        cs->exporting = 0;
        long n = cmp_export(cs, cs->export_name, &err);
        cs->msg_error = n < 0;
        if (n < 0)
            snprintf(cs->msg, sizeof cs->msg, "%s", err.msg[0] ? err.msg : "export failed");
        else
            snprintf(cs->msg, sizeof cs->msg, "%ld rows written to %s", n, cs->export_name);
    } else if (action == TUI_ACT_BACK || action == TUI_ACT_OPEN) {
        cs->exporting = 0;
    } else if (action == TUI_ACT_REDRAW) {
        return tui_intent(TUI_INTENT_UNHANDLED);
    } else if (key == ('u' & 0x1f)) {
        cs->export_name[0] = '\0';
    } else if (key == KEY_BACKSPACE || key == 127 || key == ('h' & 0x1f)) {
        while (len > 0 && ((unsigned char)cs->export_name[len - 1] & 0xC0) == 0x80)
            len--;
        cs->export_name[len > 0 ? len - 1 : 0] = '\0';
    } else if (key >= 0x20 && key <= 0xFF && key != 127 && len + 1 < sizeof cs->export_name) {
        cs->export_name[len] = (char)key;
        cs->export_name[len + 1] = '\0';
    } else {
        return tui_intent(TUI_INTENT_NONE);
    }
    cs->base.cls = cs->exporting ? &compare_edit_class : &compare_class;
    return tui_intent(TUI_INTENT_REDRAW);
}

/* --- keys ---------------------------------------------------------------------------------- */

static TuiIntent compare_key(TuiScreen *s, int action, int key)
{
    CompareScreen *cs = (CompareScreen *)s;
    if (cs->err[0])
        return tui_intent(TUI_INTENT_UNHANDLED);
    if (cs->exporting)
        return cmp_export_key(cs, action, key);
    if (action == TUI_ACT_EXPORT && !cs->res[cs->ki][0]) {
        snprintf(cs->msg, sizeof cs->msg, "nothing to export yet: the runs are loading");
        cs->msg_error = 1;
        return tui_intent(TUI_INTENT_REDRAW);
    }
    if (action == TUI_ACT_EXPORT) {
        cs->exporting = 1;
        cs->msg[0] = '\0';
        tui_export_default_name(cs->export_name, sizeof cs->export_name, "compare");
        cs->base.cls = &compare_edit_class;
        return tui_intent(TUI_INTENT_REDRAW);
    }
    if (action != TUI_ACT_NONE)
        cs->msg[0] = '\0';
    if (action == CMP_ACT_K) {
        int ki = cs->ki + (key == '-' ? -1 : 1);
        if (ki < 0 || ki >= (int)RS_ARRAY_LEN(cmp_ks))
            return tui_intent(TUI_INTENT_NONE);
        cs->ki = ki;
        return tui_intent(TUI_INTENT_REDRAW);
    }
    if (action == CMP_ACT_USER) {
        const EvalResult *ev = cmp_users(cs);
        if (!ev || ev->n_users == 0)
            return tui_intent(TUI_INTENT_NONE);
        long pos = cs->pos + (key == 'p' ? -1 : 1);
        if (cs->pos < 0) /* from a user not evaluated: the first */
            pos = 0;
        if (pos < 0 || pos >= (long)ev->n_users)
            return tui_intent(TUI_INTENT_NONE);
        cs->pos = pos;
        cs->u = ev->users[pos];
        cs->lists_for = -1;
        return tui_intent(TUI_INTENT_REDRAW);
    }
    return tui_intent(TUI_INTENT_UNHANDLED);
}

static void compare_free(TuiScreen *s)
{
    CompareScreen *cs = (CompareScreen *)s;
    if (!cs)
        return;
    cmp_job_finish(cs, 1);
    for (size_t k = 0; k < RS_ARRAY_LEN(cmp_ks); k++)
        for (size_t j = 0; j < CMP_MAXRUNS; j++)
            eval_result_free(cs->res[k][j]);
    free(cs);
}

static const TuiScreenClass compare_class = {
    .name = "Compare",
    .keys = compare_keys,
    .nkeys = RS_ARRAY_LEN(compare_keys),
    .shared = compare_shared,
    .kind = TUI_SCREEN_COMPARE,
    .draw = compare_draw,
    .handle_key = compare_key,
    .free = compare_free,
    .tick = compare_tick,
    .tick_ms = 200,
};

/* The same screen while the export prompt is open. */
static const TuiScreenClass compare_edit_class = {
    .name = "Compare",
    .keys = tui_table_edit_keys,
    .nkeys = TUI_TABLE_NEDIT_KEYS,
    .kind = TUI_SCREEN_COMPARE,
    .draw = compare_draw,
    .handle_key = compare_key,
    .free = compare_free,
    .tick = compare_tick,
    .tick_ms = 200,
};

/* The runs: the selection, then the newest others up to two. */
static void cmp_pick(CompareScreen *cs)
{
    cs->n = tui_models_selected(cs->models, cs->run, CMP_MAXRUNS);
    size_t nr = tui_models_nruns(cs->models);
    for (size_t k = nr; k-- > 0 && cs->n < 2;) {
        int taken = 0;
        for (size_t j = 0; j < cs->n; j++)
            taken |= cs->run[j] == k;
        if (!taken)
            cs->run[cs->n++] = k;
    }
}

TuiScreen *tui_compare_new(Store *store, int64_t user_id)
{
    CompareScreen *cs = calloc(1, sizeof *cs);
    RsErr err;
    rs_err_clear(&err);
    if (!cs)
        return NULL;
    cs->base.cls = &compare_class;
    cs->models = tui_models_for(store);
    cs->ki = 1; /* K = 10 */
    cs->u = cs->pos = -1;
    cs->lists_for = -1;
    cs->start_user = user_id;
    for (size_t j = 0; j < CMP_MAXRUNS; j++)
        cs->same[j] = -1;
    if (cs->models)
        tui_models_refresh(cs->models, NULL);
    if (cs->models)
        cmp_pick(cs);
    if (!cs->models || cs->n < 2) {
        snprintf(cs->err, sizeof cs->err,
                 "compare needs two finished runs (train them: recscope train DB --algo ...)");
        return &cs->base;
    }
    cs->same_split = 1;
    for (size_t j = 0; j < cs->n; j++) {
        cs->run_id[j] = tui_models_run(cs->models, cs->run[j])->id;
        cs->same_split &= tui_models_run(cs->models, cs->run[j])->split_id ==
                          tui_models_run(cs->models, cs->run[0])->split_id;
    }
    return &cs->base; /* the runs load in the background (cmp_loaded) */
}

/* --- the run selection overlay -------------------------------------------------------------- */

typedef struct RunselScreen {
    TuiScreen base;
    TuiModels *models;
    int cur, top;
    TuiRect box;
} RunselScreen;

enum { RUNSEL_ACT_TOGGLE = TUI_ACT_SCREEN };

static const TuiKey runsel_keys[] = {
    { ' ', "Space", RUNSEL_ACT_TOGGLE, "Select / unselect", TUI_KEY_HINT },
    { '\r', "Enter", RUNSEL_ACT_TOGGLE, "Select / unselect", 0 },
    { KEY_ENTER, "Enter", RUNSEL_ACT_TOGGLE, "Select / unselect", 0 },
    { 'x', "x", RUNSEL_ACT_TOGGLE, "Select / unselect", 0 },
};

static const TuiKeyTable *const runsel_shared[] = { &tui_table_keys, NULL };

static void runsel_resize(TuiScreen *s, const TuiRect *body)
{
    RunselScreen *rs = (RunselScreen *)s;
    int n = (int)tui_models_nruns(rs->models);
    int h = n + 5, w = 64;
    rs->box.h = h < body->h ? h : body->h;
    rs->box.w = w < body->w ? w : body->w;
    rs->box.y = body->y + (body->h - rs->box.h) / 2;
    rs->box.x = body->x + (body->w - rs->box.w) / 2;
}

static void runsel_draw(TuiScreen *s, const TuiRect *body)
{
    RunselScreen *rs = (RunselScreen *)s;
    runsel_resize(s, body);
    tui_clear(&rs->box);
    tui_frame(&rs->box, "Runs shown (up to 3)");
    TuiRect in = { rs->box.y + 1, rs->box.x + 2, rs->box.h - 2, rs->box.w - 4 };
    size_t n = tui_models_nruns(rs->models);
    if (n == 0) {
        tui_put(&in, 1, 0, COL_DIM, "no finished run yet");
        return;
    }
    int rows = in.h - 2;
    if (rs->cur < rs->top)
        rs->top = rs->cur;
    if (rows > 0 && rs->cur >= rs->top + rows)
        rs->top = rs->cur - rows + 1;
    for (int row = 0; row < rows && (size_t)(rs->top + row) < n; row++) {
        size_t k = (size_t)(rs->top + row);
        const TuiRun *run = tui_models_run(rs->models, k);
        int sel = (int)k == rs->cur;
        if (sel)
            tui_fill(&in, row + 1, COL_SELECTED);
        tui_printf(&in, row + 1, 0, sel ? COL_SELECTED : COL_DEFAULT, "[%s] %-20s %-10s split %s",
                   tui_models_is_selected(rs->models, k) ? "x" : " ", run->name, run->algo,
                   run->split);
    }
    tui_put(&in, in.h - 1, 0, COL_DIM, "Space selects, q closes");
}

static TuiIntent runsel_key(TuiScreen *s, int action, int key)
{
    RunselScreen *rs = (RunselScreen *)s;
    int n = (int)tui_models_nruns(rs->models);
    switch (action) {
    case RUNSEL_ACT_TOGGLE: tui_models_toggle(rs->models, (size_t)rs->cur); break;
    case TUI_ACT_MOVE: rs->cur += key == KEY_UP || key == 'k' ? -1 : 1; break;
    case TUI_ACT_PAGE:
    case TUI_ACT_ENDS:
        rs->cur = key == KEY_PPAGE || key == KEY_HOME || key == 'g' || key == ('b' & 0x1f)
                      ? 0 : n - 1;
        break;
    default: return tui_intent(TUI_INTENT_UNHANDLED);
    }
    rs->cur = rs->cur >= n ? n - 1 : rs->cur;
    rs->cur = rs->cur < 0 ? 0 : rs->cur;
    return tui_intent(TUI_INTENT_REDRAW);
}

static void runsel_free(TuiScreen *s)
{
    free(s);
}

static const TuiScreenClass runsel_class = {
    .name = "Runs shown",
    .keys = runsel_keys,
    .nkeys = RS_ARRAY_LEN(runsel_keys),
    .shared = runsel_shared,
    .kind = TUI_SCREEN_RUNSEL,
    .overlay = 1,
    .draw = runsel_draw,
    .handle_key = runsel_key,
    .resize = runsel_resize,
    .free = runsel_free,
};

TuiScreen *tui_runsel_new(Store *store)
{
    RunselScreen *rs = calloc(1, sizeof *rs);
    if (!rs)
        return NULL;
    rs->base.cls = &runsel_class;
    rs->models = tui_models_for(store);
    if (rs->models)
        tui_models_refresh(rs->models, NULL);
    rs->cur = (int)tui_models_nruns(rs->models) - 1;
    rs->cur = rs->cur < 0 ? 0 : rs->cur;
    return &rs->base;
}
