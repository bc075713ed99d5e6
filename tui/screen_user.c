/*
 * screen_user.c - one user: attributes and activity at the top; the
 * history (title, genres, rating, date) a page at a time, newest first,
 * sortable by time or rating (s) and reversible (r), searchable (/, n, N),
 * Enter opening the item; beside it the genre profile (the user's
 * interactions per genre of the items, as bars with the mean rating), Enter
 * on a genre searching the history for it; and, under the profile, the
 * top-10 recommendations of the selected runs (tui_models.h; S selects up
 * to three, side by side as far as they fit), '*' marking the user's
 * held-out test items, Enter explaining one. Tab moves from the history to
 * the profile, then to each run's list. w and c open a what-if user and
 * Compare starting from this user.
 *
 * Layout: from 72 columns the history takes the left three fifths and the
 * profile and recommendations the right; narrower, the profile goes under
 * the history and the recommendations pane is left out. The lists are made
 * on the first draw after the selection changes (the dataset and model
 * load then, behind a notice).
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "browse.h"
#include "tui_screen.h"
#include "tui_models.h"
#include "tui_table.h"
#include "tui_theme.h"

#define USER_GENRES 64 /* genres kept for the profile (most frequent first) */
#define USER_WIDE 72   /* body width from which the panes sit side by side */

#define USER_RECS_K 10 /* recommendations shown per run */

enum { PANE_HISTORY, PANE_GENRES, PANE_RECS };

/* The recommendations pane: the selected runs' lists for this user,
 * computed on the first draw after the selection changes. */
typedef struct UserRecs {
    TuiModels *models; /* NULL: no runs (or no store) */
    unsigned gen;      /* of the selection the lists were made for */
    int made;
    long u;            /* dataset index of the user, -1 unknown */
    size_t nl;
    TuiRecList lists[TUI_MODELS_MAXSEL];
    int row, col;      /* the cursor */
    int ncols;         /* columns that fit, from the last draw */
} UserRecs;

typedef struct UserScreen {
    TuiScreen base;
    Store *store; /* not owned */
    int64_t id;
    BrowseUser user;
    int found;
    char err[RS_ERRLEN];
    BrowseGenre genres[USER_GENRES];
    size_t ngenres, genres_total;
    TuiTable hist, gen;
    int hsort, hdesc; /* a BrowseHistCol and its direction */
    int focus;        /* PANE_HISTORY or PANE_GENRES */
    TuiRect head, hist_h, hist_r, gen_h, gen_r, recs_r;
    UserRecs recs;
} UserScreen;

enum { H_TITLE, H_GENRES, H_RATING, H_DATE, H_NCOLS };
static const TuiColumn hist_cols[H_NCOLS] = {
    [H_TITLE] = { .title = "Title", .min_w = 12, .flex = 2 },
    [H_GENRES] = { .title = "Genres", .min_w = 8, .prio = 1 },
    [H_RATING] = { .title = "Rating", .min_w = 6, .max_w = 6, .right = 1 },
    [H_DATE] = { .title = "Date", .min_w = 10, .max_w = 10 },
};

enum { G_NAME, G_BAR, G_N, G_MEAN, G_NCOLS };
static const TuiColumn gen_cols[G_NCOLS] = {
    [G_NAME] = { .title = "Genre", .min_w = 6, .max_w = 11 },
    [G_BAR] = { .title = "Share", .min_w = 5, .bar = 1 },
    [G_N] = { .title = "Items", .min_w = 5, .max_w = 6, .right = 1 },
    [G_MEAN] = { .title = "Mean", .min_w = 4, .max_w = 4, .right = 1, .prio = 1 },
};

static const TuiKey user_keys[] = {
    { '\r', "Enter", TUI_ACT_OPEN, "Open", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Open", 0 },
    { '/', "/", TUI_ACT_FIND, "Search", TUI_KEY_HINT },
    { 'n', "n", TUI_ACT_NEXT, "Next match", 0 },
    { 'N', "N", TUI_ACT_PREV, "Previous match", 0 },
    { 's', "s", TUI_ACT_SORT, "Sort", TUI_KEY_HINT },
    { 'r', "r", TUI_ACT_REVERSE, "Reverse", TUI_KEY_HINT },
    { '\t', "Tab", TUI_ACT_PANE, "Next pane", TUI_KEY_HINT },
    { KEY_BTAB, "S-Tab", TUI_ACT_PANE, "Next pane", 0 },
};



static const TuiKeyTable *const user_shared[] = { &tui_table_keys, &tui_export_keys, &tui_nav_keys,
                                                   NULL };

/* --- the history ------------------------------------------------------------------------ */

static int hist_fetch(void *ctx, const TuiTableRow *anchor, int dir, const char *filter,
                      TuiTableRow *rows, int max, int64_t *total, RsErr *err)
{
    UserScreen *us = ctx;
    if (total)
        *total = us->found ? us->user.n : 0;
    if (!us->found || max <= 0)
        return 0;
    BrowseHist *h = malloc((size_t)max * sizeof *h);
    if (!h)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    BrowseQuery q = { .sort = us->hsort, .desc = us->hdesc, .filter = filter,
                      .anchor = anchor ? &anchor->key : NULL, .dir = dir, .max = (size_t)max };
    size_t n = 0;
    int rc = browse_history(us->store, us->id, &q, h, &n, err);
    for (size_t k = 0; !rc && k < n; k++) {
        TuiTableRow *row = &rows[k];
        memset(row, 0, sizeof *row);
        row->key = h[k].key;
        row->id = h[k].item_id;
        row->pos = -1;
        snprintf(row->cell[H_TITLE], TUI_TABLE_CELL, "%s",
                 h[k].title[0] ? h[k].title : h[k].item_ext);
        tui_fmt_list(row->cell[H_GENRES], TUI_TABLE_CELL, h[k].genres);
        tui_fmt_num(row->cell[H_RATING], TUI_TABLE_CELL, h[k].rating, 6);
        tui_fmt_day(row->cell[H_DATE], TUI_TABLE_CELL, h[k].ts);
    }
    free(h);
    return rc ? rc : (int)n;
}

static void hist_sort(UserScreen *us, int sort, int desc)
{
    us->hsort = sort;
    us->hdesc = desc;
    us->hist.sort_col = sort == BROWSE_H_TIME ? H_DATE : H_RATING;
    us->hist.sort_desc = desc;
    tui_table_reload(&us->hist);
}

/* --- the genre profile (held in memory: a few dozen rows) ----------------------------------- */

static int genre_matches(const BrowseGenre *g, const char *filter)
{
    return !filter || strcasestr(g->name, filter) != NULL;
}

static int gen_fetch(void *ctx, const TuiTableRow *anchor, int dir, const char *filter,
                     TuiTableRow *rows, int max, int64_t *total, RsErr *err)
{
    UserScreen *us = ctx;
    int64_t n = (int64_t)us->ngenres, i = dir > 0 ? (anchor ? anchor->key.rank + 1 : 0)
                                                  : (anchor ? anchor->key.rank - 1 : n - 1);
    int got = 0;
    (void)err;
    if (total)
        *total = filter ? -1 : n;
    for (; i >= 0 && i < n && got < max; i += dir > 0 ? 1 : -1) {
        const BrowseGenre *g = &us->genres[i];
        if (!genre_matches(g, filter))
            continue;
        TuiTableRow *row = &rows[got++];
        memset(row, 0, sizeof *row);
        row->key.rank = i;
        row->id = i;
        row->pos = filter ? -1 : i;
        snprintf(row->cell[G_NAME], TUI_TABLE_CELL, "%s", g->name);
        snprintf(row->cell[G_BAR], TUI_TABLE_CELL, "%.6f",
                 us->user.n > 0 ? (double)g->n / (double)us->user.n : 0.0);
        tui_fmt_int(row->cell[G_N], TUI_TABLE_CELL, g->n);
        tui_fmt_mean(row->cell[G_MEAN], TUI_TABLE_CELL, g->mean);
    }
    if (dir < 0) /* read backwards: put them in display order */
        for (int a = 0, b = got - 1; a < b; a++, b--) {
            TuiTableRow tmp = rows[a];
            rows[a] = rows[b];
            rows[b] = tmp;
        }
    return got;
}

/* --- drawing ------------------------------------------------------------------------------- */

/* "age 25 · F · scientist · zip 12345", leaving out what is unknown. */
static void attrs_text(char *line, size_t n, const BrowseUser *u)
{
    char age[24], zip[BROWSE_SHORT + 8];
    const char *parts[4];
    int np = 0;
    size_t o = 0;
    if (u->age >= 0) {
        snprintf(age, sizeof age, "age %d", u->age);
        parts[np++] = age;
    }
    if (u->gender[0])
        parts[np++] = u->gender;
    if (u->occupation[0])
        parts[np++] = u->occupation;
    if (u->zip[0]) {
        snprintf(zip, sizeof zip, "zip %s", u->zip);
        parts[np++] = zip;
    }
    line[0] = '\0';
    for (int k = 0; k < np && o < n; k++) {
        if (k)
            o += (size_t)snprintf(line + o, n - o, " %s ", tui_glyphs()->sep);
        if (o < n)
            o += (size_t)snprintf(line + o, n - o, "%s", parts[k]);
    }
}

static void draw_head(const UserScreen *us)
{
    const TuiRect *r = &us->head;
    const BrowseUser *u = &us->user;
    const char *sep = tui_glyphs()->sep;
    char title[96], line[256], a[32], b[32], c[32];
    if (!us->found) {
        tui_heading(r, 0, "User", NULL);
        tui_put(r, 1, 0, COL_ERROR, us->err);
        return;
    }
    snprintf(title, sizeof title, "User %s", u->ext_id);
    attrs_text(line, sizeof line, u);
    tui_heading(r, 0, title, line[0] ? line : "no attributes");
    if (u->n == 0) {
        tui_put(r, 1, 0, COL_DIM, "no interactions");
        return;
    }
    int x = tui_put(r, 1, 0, COL_VALUE, tui_fmt_int(a, sizeof a, u->n));
    x += tui_put(r, 1, x, COL_LABEL, u->n == 1 ? " interaction" : " interactions");
    if (u->n_rated > 0)
        x += tui_printf(r, 1, x, COL_LABEL, " %s mean rating %s (%s rated)", sep,
                        tui_fmt_mean(b, sizeof b, u->mean), tui_fmt_int(c, sizeof c, u->n_rated));
    if (u->first_ts != STORE_NO_TS)
        tui_printf(r, 1, x, COL_LABEL, " %s %s to %s", sep, tui_fmt_day(a, sizeof a, u->first_ts),
                   tui_fmt_day(b, sizeof b, u->last_ts));
}

static void pane_title(const TuiRect *r, int focused, const char *title, const char *detail)
{
    int w = tui_put(r, 0, 0, focused ? COL_HEADER : COL_LABEL, title);
    if (detail && w + 2 + tui_text_width(detail) <= r->w)
        tui_put(r, 0, w + 2, COL_DIM, detail);
}

/* The lists of the selected runs, made again when the selection changed. */
static void recs_make(UserScreen *us)
{
    UserRecs *rc = &us->recs;
    if (!rc->models || (rc->made && rc->gen == tui_models_gen(rc->models)))
        return;
    size_t idx[TUI_MODELS_MAXSEL];
    rc->nl = tui_models_selected(rc->models, idx, TUI_MODELS_MAXSEL);
    rc->made = 1;
    rc->gen = tui_models_gen(rc->models);
    rc->u = -1;
    if (rc->nl == 0)
        return;
    if (!tui_models_ready(rc->models)) { /* "loading...": made again once it is */
        for (size_t j = 0; j < rc->nl; j++)
            tui_models_placeholder(rc->models, idx[j], &rc->lists[j]);
        return;
    }
    rc->u = tui_models_user(rc->models, us->id);
    for (size_t j = 0; j < rc->nl; j++) {
        if (rc->u < 0) {
            memset(&rc->lists[j], 0, sizeof rc->lists[j]);
            rc->lists[j].run = idx[j];
            snprintf(rc->lists[j].err, sizeof rc->lists[j].err, "user not in the dataset");
        } else {
            tui_models_recommend(rc->models, idx[j], rc->u, NULL, USER_RECS_K, &rc->lists[j]);
        }
    }
    if (rc->col >= (int)rc->nl)
        rc->col = 0;
}

/* The recommendations pane: one column per selected run that fits
 * (at least 20 cells each), '*' on the user's held-out test items. */
static void recs_draw(UserScreen *us)
{
    const TuiRect *r = &us->recs_r;
    UserRecs *rc = &us->recs;
    if (r->h <= 0)
        return;
    int focused = us->focus == PANE_RECS;
    pane_title(r, focused, "Recommendations", rc->models ? "* held-out hit, S runs" : NULL);
    if (!rc->models) {
        tui_put(r, 1, 0, COL_DIM, "no run yet (train one: recscope train)");
        return;
    }
    recs_make(us);
    if (rc->nl == 0) {
        tui_put(r, 1, 0, COL_DIM, "no run selected (S selects runs)");
        return;
    }
    int ncols = r->w / 20;
    ncols = ncols < 1 ? 1 : ncols > (int)rc->nl ? (int)rc->nl : ncols;
    int first = rc->col >= ncols ? rc->col - ncols + 1 : 0, w = (r->w - (ncols - 1)) / ncols;
    rc->ncols = ncols;
    for (int c = 0; c < ncols; c++) {
        const TuiRecList *l = &rc->lists[first + c];
        const TuiRun *run = tui_models_run(rc->models, l->run);
        TuiRect hr = { r->y, r->x + c * (w + 1), r->h, w };
        tui_printf(&hr, 1, 0, first + c == rc->col && focused ? COL_HEADER : COL_LABEL, "%s (%s)",
                   run ? run->name : "?", run ? run->algo : "?");
        tui_models_draw_recs(rc->models, r, 2, c * (w + 1), w, l, rc->u,
                             focused && first + c == rc->col ? rc->row : -1, NULL, 0, NULL);
    }
}

static void user_draw(TuiScreen *s, const TuiRect *body)
{
    UserScreen *us = (UserScreen *)s;
    char detail[96], share[96];
    (void)body;
    draw_head(us);
    snprintf(detail, sizeof detail, "%s",
             us->hsort == BROWSE_H_TIME ? (us->hdesc ? "newest first" : "oldest first")
                                        : (us->hdesc ? "highest rating first"
                                                     : "lowest rating first"));
    pane_title(&us->hist_h, us->focus == PANE_HISTORY, "History", detail);
    tui_table_draw(&us->hist, &us->hist_r);
    if (us->gen_h.h > 0) {
        snprintf(share, sizeof share, "share of interactions");
        if (us->genres_total > us->ngenres)
            snprintf(share, sizeof share, "top %zu of %zu genres", us->ngenres,
                     us->genres_total);
        pane_title(&us->gen_h, us->focus == PANE_GENRES, "Genre profile", share);
        tui_table_draw(&us->gen, &us->gen_r);
    }
    recs_draw(us);
}

static void user_layout(UserScreen *us, const TuiRect *body)
{
    int pad = body->h > 16, x = body->x + 1, w = body->w - 2;
    us->head = (TuiRect) { body->y + pad, x, 2, w };
    int top = us->head.y + 2 + (body->h > 20), avail = body->y + body->h - top;
    memset(&us->recs_r, 0, sizeof us->recs_r);
    if (w >= USER_WIDE) {
        int rw = w * 2 / 5, lw;
        rw = rw < 30 ? 30 : rw > 48 ? 48 : rw;
        lw = w - rw - 3;
        int x2 = x + lw + 3, gh = (int)us->ngenres + 2;
        /* leave the recommendations pane room for its lists when there are runs */
        int want = us->recs.models ? USER_RECS_K + 3 : 4;
        want = want > avail / 2 ? (avail / 2 > 4 ? avail / 2 : 4) : want;
        int most = avail - 1 - want;
        gh = gh > most ? most : gh;
        gh = gh < 3 ? 3 : gh;
        us->hist_h = (TuiRect) { top, x, 1, lw };
        us->hist_r = (TuiRect) { top + 1, x, avail - 1, lw };
        us->gen_h = (TuiRect) { top, x2, 1, rw };
        us->gen_r = (TuiRect) { top + 1, x2, gh, rw };
        int ry = top + 1 + gh + 1;
        if (body->y + body->h - ry >= 2)
            us->recs_r = (TuiRect) { ry, x2, body->y + body->h - ry, rw };
    } else {
        int hh = avail < 12 ? avail : avail * 3 / 5; /* short: the history alone */
        us->hist_h = (TuiRect) { top, x, 1, w };
        us->hist_r = (TuiRect) { top + 1, x, hh - 1, w };
        us->gen_h = (TuiRect) { top + hh, x, avail - hh > 0 ? 1 : 0, w };
        us->gen_r = (TuiRect) { top + hh + 1, x, avail - hh - 1 > 0 ? avail - hh - 1 : 0, w };
    }
}

static void set_focus(UserScreen *us, int pane);

static void user_resize(TuiScreen *s, const TuiRect *body)
{
    UserScreen *us = (UserScreen *)s;
    user_layout(us, body);
    if (us->gen_h.h <= 0)
        set_focus(us, PANE_HISTORY);
    tui_table_layout(&us->hist, &us->hist_r);
    tui_table_layout(&us->gen, &us->gen_r);
}

/* --- keys ---------------------------------------------------------------------------------- */

static const TuiScreenClass user_class, user_edit_class;

static void set_focus(UserScreen *us, int pane)
{
    us->focus = pane;
    us->hist.focused = pane == PANE_HISTORY;
    us->gen.focused = pane == PANE_GENRES;
}

/* Enter on a recommendation: its explanation. */
static TuiIntent recs_open(UserScreen *us)
{
    UserRecs *rc = &us->recs;
    if (!rc->models || rc->col >= (int)rc->nl || rc->u < 0)
        return tui_intent(TUI_INTENT_NONE);
    const TuiRecList *l = &rc->lists[rc->col];
    const TuiRun *run = tui_models_run(rc->models, l->run);
    if (!l->ok || rc->row < 0 || (size_t)rc->row >= l->n || !run)
        return tui_intent(TUI_INTENT_NONE);
    return tui_intent_open(
        tui_explain_new(us->store, run->id, rc->u, NULL, 0, l->recs[rc->row].item));
}

/* Movement in the recommendations pane. */
static TuiIntent recs_key(UserScreen *us, int action, int key)
{
    UserRecs *rc = &us->recs;
    int n = rc->col < (int)rc->nl ? (int)rc->lists[rc->col].n : 0;
    switch (action) {
    case TUI_ACT_MOVE:
        rc->row += key == KEY_UP || key == 'k' ? -1 : 1;
        break;
    case TUI_ACT_PAGE:
    case TUI_ACT_ENDS:
        rc->row = key == KEY_PPAGE || key == KEY_HOME || key == 'g' || key == ('b' & 0x1f) ? 0
                                                                                      : n - 1;
        break;
    case TUI_ACT_OPEN:
        return recs_open(us);
    default:
        return tui_intent(TUI_INTENT_UNHANDLED);
    }
    rc->row = rc->row >= n ? n - 1 : rc->row;
    rc->row = rc->row < 0 ? 0 : rc->row;
    return tui_intent(TUI_INTENT_REDRAW);
}

static TuiIntent user_open(UserScreen *us, const TuiTableRow *sel)
{
    if (!sel)
        return tui_intent(TUI_INTENT_NONE);
    if (us->focus == PANE_HISTORY)
        return tui_intent_open(tui_item_new(us->store, sel->id));
    /* a genre: find its items in the history */
    set_focus(us, PANE_HISTORY);
    tui_table_search(&us->hist, us->genres[sel->id].name);
    return tui_intent(TUI_INTENT_REDRAW);
}

static TuiIntent user_key(TuiScreen *s, int action, int key)
{
    UserScreen *us = (UserScreen *)s;
    TuiTable *t = us->focus == PANE_HISTORY ? &us->hist : &us->gen;
    /* the global w (what-if) and c (compare) start from this user here */
    if (action == TUI_ACT_MODELS && key == 'w')
        return tui_intent_open(tui_whatif_new(us->store, us->id));
    if (action == TUI_ACT_MODELS && key == 'c')
        return tui_intent_open(tui_compare_new(us->store, us->id));
    if (us->focus == PANE_RECS && action == TUI_ACT_PANE && us->recs.col + 1 < (int)us->recs.nl) {
        us->recs.col++; /* Tab: the next run's list, then back to the history */
        return tui_intent(TUI_INTENT_REDRAW);
    }
    if (us->focus == PANE_RECS && action != TUI_ACT_PANE)
        return recs_key(us, action, key);
    if (!t->editing) {
        switch (action) {
        case TUI_ACT_OPEN:
            return user_open(us, tui_table_selected(t));
        case TUI_ACT_SORT:
            hist_sort(us, us->hsort == BROWSE_H_TIME ? BROWSE_H_RATING : BROWSE_H_TIME, 1);
            return tui_intent(TUI_INTENT_REDRAW);
        case TUI_ACT_REVERSE:
            hist_sort(us, us->hsort, !us->hdesc);
            return tui_intent(TUI_INTENT_REDRAW);
        case TUI_ACT_PANE:
            set_focus(us, us->focus == PANE_HISTORY && us->gen_h.h > 0 ? PANE_GENRES
                          : us->focus != PANE_RECS && us->recs_r.h > 2 && us->recs.models
                              ? PANE_RECS
                              : PANE_HISTORY);
            us->recs.col = 0;
            return tui_intent(TUI_INTENT_REDRAW);
        default:
            break;
        }
    }
    unsigned f = tui_table_key(t, action, key);
    us->base.cls = t->editing ? &user_edit_class : &user_class;
    return tui_intent(f);
}

/* A run finished in the background: its list appears. */
static unsigned user_tick(TuiScreen *s)
{
    UserScreen *us = (UserScreen *)s;
    return tui_models_tick(&us->recs.models, us->store);
}

static void user_free(TuiScreen *s)
{
    UserScreen *us = (UserScreen *)s;
    if (us) {
        tui_table_done(&us->hist);
        tui_table_done(&us->gen);
        free(us);
    }
}

static const TuiScreenClass user_class = {
    .name = "User",
    .keys = user_keys,
    .nkeys = RS_ARRAY_LEN(user_keys),
    .shared = user_shared,
    .draw = user_draw,
    .handle_key = user_key,
    .resize = user_resize,
    .tick = user_tick,
    .free = user_free,
};

/* The same screen while a search prompt is open. */
static const TuiScreenClass user_edit_class = {
    .name = "User",
    .keys = tui_table_edit_keys,
    .nkeys = TUI_TABLE_NEDIT_KEYS,
    .draw = user_draw,
    .handle_key = user_key,
    .resize = user_resize,
    .tick = user_tick,
    .free = user_free,
};

TuiScreen *tui_user_new(Store *store, int64_t user_id)
{
    UserScreen *us = calloc(1, sizeof *us);
    RsErr err;
    rs_err_clear(&err);
    if (!us)
        return NULL;
    us->base.cls = &user_class;
    us->store = store;
    us->id = user_id;
    if (tui_table_init(&us->hist, hist_cols, H_NCOLS, hist_fetch, us, TUI_TABLE_SEARCH) < 0 ||
        tui_table_init(&us->gen, gen_cols, G_NCOLS, gen_fetch, us, TUI_TABLE_SEARCH) < 0) {
        user_free(&us->base);
        return NULL;
    }
    us->hist.empty = "no interactions";
    us->gen.empty = "no genres";
    us->found = store && browse_user(store, user_id, &us->user, &err) == RS_OK;
    if (us->found && browse_genres(store, user_id, us->genres, USER_GENRES, &us->ngenres,
                                   &us->genres_total, &err) != RS_OK)
        us->ngenres = 0;
    if (!us->found)
        snprintf(us->err, sizeof us->err, "%s", err.msg[0] ? err.msg : "no such user");
    if ((us->recs.models = tui_models_for(store)) != NULL) {
        tui_models_refresh(us->recs.models, NULL);
        if (tui_models_nruns(us->recs.models) == 0)
            us->recs.models = NULL;
    }
    set_focus(us, PANE_HISTORY);
    hist_sort(us, BROWSE_H_TIME, 1);
    tui_table_reload(&us->gen);
    return &us->base;
}
