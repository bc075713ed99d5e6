/*
 * screen_job.c - the live view of a training started in this session: its
 * state and phase, epoch / epochs, the latest loss, elapsed time and ETA,
 * and the loss curve drawn with block characters (ASCII through the
 * glyph set). x asks to cancel the training, y confirms and n (or any
 * other key) keeps it running. The view reads copied snapshots only
 * (tui_jobs.h): the model stays the worker's.
 *
 * Also the overlay that asks before quitting while trainings run.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_jobs.h"
#include "tui_screen.h"
#include "tui_theme.h"

#define JOB_MAX_LOSSES 4096

enum {
    JOB_ACT_CANCEL = TUI_ACT_SCREEN,
    JOB_ACT_YES,
    JOB_ACT_NO,
};

typedef struct JobScreen {
    TuiScreen base;
    TuiJobs *jobs;
    int id;
    char msg[96];
    TuiRect area;
    double *losses; /* (JOB_MAX_LOSSES) scratch for drawing */
} JobScreen;

static const TuiKey job_keys[] = {
    { 'x', "x", JOB_ACT_CANCEL, "Cancel training", TUI_KEY_HINT },
};

/* While asking whether to cancel: modal. */
static const TuiKey job_confirm_keys[] = {
    { 'y', "y", JOB_ACT_YES, "Yes, cancel the training", TUI_KEY_HINT },
    { 'Y', "Y", JOB_ACT_YES, "Yes, cancel the training", 0 },
    { 'n', "n", JOB_ACT_NO, "No, keep it running", TUI_KEY_HINT },
    { TUI_KEY_ANY, "any", JOB_ACT_NO, "No, keep it running", 0 },
};

static const TuiKeyTable *const job_shared[] = { &tui_nav_keys, NULL };

static const char *state_name(TuiJobState s)
{
    switch (s) {
    case TUI_JOB_RUNNING: return "running";
    case TUI_JOB_DONE: return "done";
    case TUI_JOB_FAILED: return "failed";
    default: return "cancelled";
    }
}

static char *secs(char *buf, size_t n, double s)
{
    if (isnan(s))
        snprintf(buf, n, "-");
    else if (s < 60)
        snprintf(buf, n, "%.1f s", s);
    else
        snprintf(buf, n, "%d min %02d s", (int)s / 60, (int)s % 60);
    return buf;
}

/* The loss curve in r: one column per loss, or the last loss of each of
 * r.w buckets when there are more; heights in eighths of a cell between
 * the smallest and largest loss. */
static void draw_curve(const TuiRect *r, const double *loss, size_t n)
{
    if (r->h < 2 || r->w < 12 || n == 0)
        return;
    char lo[32], hi[32];
    double mn = INFINITY, mx = -INFINITY;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(loss[k]))
            continue;
        mn = loss[k] < mn ? loss[k] : mn;
        mx = loss[k] > mx ? loss[k] : mx;
    }
    if (!isfinite(mn))
        return;
    snprintf(hi, sizeof hi, "%.4g", mx);
    snprintf(lo, sizeof lo, "%.4g", mn);
    int lw = (int)(strlen(hi) > strlen(lo) ? strlen(hi) : strlen(lo)) + 1;
    TuiRect plot = { r->y, r->x + lw, r->h - 1, r->w - lw };
    tui_put_right(r, 0, lw - 2, COL_DIM, hi);
    tui_put_right(r, plot.h - 1, lw - 2, COL_DIM, lo);
    size_t cols = n < (size_t)plot.w ? n : (size_t)plot.w;
    const TuiGlyphs *g = tui_glyphs();
    for (size_t c = 0; c < cols; c++) {
        size_t k = n <= (size_t)plot.w ? c : (c + 1) * n / cols - 1;
        double v = isfinite(loss[k]) ? loss[k] : mn;
        double frac = mx > mn ? (v - mn) / (mx - mn) : 1.0;
        int eighths = 1 + (int)lround(frac * (plot.h * 8 - 1));
        for (int row = 0; row < plot.h; row++) {
            int from_bottom = plot.h - 1 - row;
            int fill = eighths - from_bottom * 8;
            fill = fill < 0 ? 0 : fill > 8 ? 8 : fill;
            if (fill)
                tui_put(&plot, row, (int)c, COL_CHART, g->vbar[fill]);
        }
    }
    tui_printf(r, r->h - 1, lw, COL_DIM, "loss per report %s %zu points%s", g->sep, n,
               n > (size_t)plot.w ? " (sampled)" : "");
}

static void job_draw(TuiScreen *s, const TuiRect *body)
{
    JobScreen *js = (JobScreen *)s;
    const TuiRect *a = &js->area;
    TuiJobSnap st;
    char e1[32], e2[32], line[256];
    (void)body;
    if (tui_jobs_find(js->jobs, js->id, &st) != 0) {
        tui_put(a, 0, 0, COL_ERROR, "This job is gone.");
        return;
    }
    snprintf(line, sizeof line, "%s %s %s", st.algo, tui_glyphs()->sep, state_name(st.state));
    tui_heading(a, 0, st.name[0] ? st.name : "(starting)", line);
    tui_printf(a, 1, 0, COL_LABEL, "Phase");
    tui_printf(a, 1, 10, st.state == TUI_JOB_FAILED ? COL_ERROR : COL_VALUE, "%s", st.phase);
    tui_printf(a, 2, 0, COL_LABEL, "Progress");
    tui_hbar(a, 2, 10, 20, st.fraction, COL_BAR, COL_TRACK);
    tui_printf(a, 2, 31, COL_VALUE, "%3.0f%%", st.fraction * 100);
    if (st.epochs)
        tui_printf(a, 2, 37, COL_DEFAULT, "epoch %d/%d", st.epoch, st.epochs);
    tui_printf(a, 3, 0, COL_LABEL, "Loss");
    if (isnan(st.loss))
        tui_put(a, 3, 10, COL_DIM, "-");
    else
        tui_printf(a, 3, 10, COL_VALUE, "%.6g", st.loss);
    tui_printf(a, 4, 0, COL_LABEL, "Elapsed");
    tui_printf(a, 4, 10, COL_DEFAULT, "%s", secs(e1, sizeof e1, st.elapsed));
    if (st.state == TUI_JOB_RUNNING)
        tui_printf(a, 4, 24, COL_DEFAULT, "ETA %s", secs(e2, sizeof e2, st.eta));
    int row = 5;
    if (st.error[0])
        tui_printf(a, row++, 0, st.state == TUI_JOB_CANCELLED ? COL_DIM : COL_ERROR, "%s",
                   st.error);
    if (js->base.cls->keys == job_confirm_keys)
        tui_printf(a, row, 0, COL_ERROR, "Cancel the training of %s? (y/n)",
                   st.name[0] ? st.name : st.algo);
    else if (js->msg[0])
        tui_put(a, row, 0, COL_DIM, js->msg);
    size_t n = tui_jobs_losses(js->jobs, js->id, js->losses, JOB_MAX_LOSSES);
    n = n < JOB_MAX_LOSSES ? n : JOB_MAX_LOSSES;
    TuiRect curve = { a->y + row + 2, a->x, a->h - row - 2, a->w };
    if (n)
        tui_heading(&(TuiRect) { a->y + row + 1, a->x, 1, a->w }, 0, "Loss curve", NULL);
    else
        tui_put(a, row + 1, 0, COL_DIM, "no loss reported (yet)");
    draw_curve(&curve, js->losses, n);
}

static void job_resize(TuiScreen *s, const TuiRect *body)
{
    JobScreen *js = (JobScreen *)s;
    int pad = body->h > 12;
    js->area = (TuiRect) { body->y + pad, body->x + 1, body->h - pad, body->w - 2 };
}

static const TuiScreenClass job_class, job_confirm_class;

static TuiIntent job_key(TuiScreen *s, int action, int key)
{
    JobScreen *js = (JobScreen *)s;
    TuiJobSnap st;
    (void)key;
    switch (action) {
    case JOB_ACT_CANCEL:
        if (tui_jobs_find(js->jobs, js->id, &st) != 0 || st.state != TUI_JOB_RUNNING) {
            snprintf(js->msg, sizeof js->msg, "The training has ended: nothing to cancel.");
            return tui_intent(TUI_INTENT_REDRAW);
        }
        js->base.cls = &job_confirm_class;
        return tui_intent(TUI_INTENT_REDRAW);
    case JOB_ACT_YES:
        js->base.cls = &job_class;
        snprintf(js->msg, sizeof js->msg, tui_jobs_cancel(js->jobs, js->id) == 0
                                              ? "Cancelling..."
                                              : "The training has ended: nothing to cancel.");
        return tui_intent(TUI_INTENT_REDRAW);
    case JOB_ACT_NO:
        js->base.cls = &job_class;
        snprintf(js->msg, sizeof js->msg, "Still training.");
        return tui_intent(TUI_INTENT_REDRAW);
    default:
        return tui_intent(TUI_INTENT_UNHANDLED);
    }
}

static void job_free(TuiScreen *s)
{
    JobScreen *js = (JobScreen *)s;
    if (js) {
        free(js->losses);
        free(js);
    }
}

static const TuiScreenClass job_class = {
    .name = "Job",
    .keys = job_keys,
    .nkeys = RS_ARRAY_LEN(job_keys),
    .shared = job_shared,
    .draw = job_draw,
    .handle_key = job_key,
    .resize = job_resize,
    .free = job_free,
};

static const TuiScreenClass job_confirm_class = {
    .name = "Job",
    .keys = job_confirm_keys,
    .nkeys = RS_ARRAY_LEN(job_confirm_keys),
    .draw = job_draw,
    .handle_key = job_key,
    .resize = job_resize,
    .free = job_free,
};

TuiScreen *tui_job_new(struct TuiJobs *jobs, int job_id)
{
    JobScreen *js = calloc(1, sizeof *js);
    if (!js || !(js->losses = malloc(JOB_MAX_LOSSES * sizeof *js->losses))) {
        free(js);
        return NULL;
    }
    js->base.cls = &job_class;
    js->jobs = jobs;
    js->id = job_id;
    return &js->base;
}

/* --- quitting while trainings run ------------------------------------------------------ */

typedef struct QuitScreen {
    TuiScreen base;
    size_t running;
} QuitScreen;

static const TuiKey quit_keys[] = {
    { 'y', "y", JOB_ACT_YES, "Quit and cancel the trainings", TUI_KEY_HINT },
    { 'Y', "Y", JOB_ACT_YES, "Quit and cancel the trainings", 0 },
    { TUI_KEY_ANY, "any key", JOB_ACT_NO, "Keep them running", TUI_KEY_HINT },
};

static void quit_draw(TuiScreen *s, const TuiRect *body)
{
    QuitScreen *q = (QuitScreen *)s;
    char msg[128];
    snprintf(msg, sizeof msg, "%zu training%s running: quit and cancel %s? (y/n)", q->running,
             q->running == 1 ? " is" : "s are", q->running == 1 ? "it" : "them");
    int w = tui_text_width(msg) + 4;
    w = w < body->w ? w : body->w;
    TuiRect box = { body->y + body->h / 2 - 1, body->x + (body->w - w) / 2, 3, w };
    if (box.h > body->h)
        return;
    tui_clear(&box);
    tui_frame(&box, NULL);
    tui_put(&box, 1, 2, COL_ERROR, msg);
}

static TuiIntent quit_key(TuiScreen *s, int action, int key)
{
    (void)s, (void)key;
    return tui_intent(action == JOB_ACT_YES ? TUI_INTENT_QUIT
                                            : TUI_INTENT_CLOSE | TUI_INTENT_REDRAW);
}

static void quit_free(TuiScreen *s) { free(s); }

static const TuiScreenClass quit_class = {
    .name = "Quit?",
    .keys = quit_keys,
    .nkeys = RS_ARRAY_LEN(quit_keys),
    .overlay = 1,
    .draw = quit_draw,
    .handle_key = quit_key,
    .free = quit_free,
};

TuiScreen *tui_quit_confirm_new(size_t running)
{
    QuitScreen *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->base.cls = &quit_class;
    q->running = running;
    return &q->base;
}

int tui_quit_confirm_is(const TuiScreen *s) { return s && s->cls == &quit_class; }
