/*
 * screen_item.c - one item: title, year, genres, tags and the description
 * (word-wrapped) at the top; the rating distribution as bars; the users
 * who interacted with it, a page at a time (store/browse.h), searchable
 * (/, n, N), Enter opening the user; and the most similar items under each
 * selected run whose model has an item similarity (tui_models.h).
 *
 * Layout: from 72 columns the distribution (and the similar items under
 * it) takes the left two fifths and the users the rest; narrower, the users
 * go under the distribution.
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "browse.h"
#include "tui_models.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

#define ITEM_WIDE 72

typedef struct ItemScreen {
    TuiScreen base;
    Store *store; /* not owned */
    int64_t id;
    BrowseItem item;
    char *desc;   /* NULL when unknown */
    int found;
    char err[RS_ERRLEN];
    BrowseBin bins[STORE_MAX_HIST];
    size_t nbins;
    TuiTable users;
    int udesc;    /* users in descending id order */
    TuiRect head, desc_r, dist_r, sim_r, users_h, users_r;
    /* the most similar items under each selected run */
    TuiModels *models; /* NULL: no runs */
    unsigned sim_gen;
    int sim_made;
    size_t nsim;
    TuiRecList sim[TUI_MODELS_MAXSEL];
} ItemScreen;

/* The user, the rating and date of this interaction, then the user's own
 * numbers and attributes as room allows. */
enum { U_USER, U_RATING, U_DATE, U_N, U_MEAN, U_ATTRS, U_NCOLS };
static const TuiColumn users_cols[U_NCOLS] = {
    [U_USER] = { .title = "User", .min_w = 6, .max_w = 12 },
    [U_RATING] = { .title = "Rating", .min_w = 6, .max_w = 6, .right = 1 },
    [U_DATE] = { .title = "Date", .min_w = 10, .max_w = 10 },
    [U_N] = { .title = "Interactions", .min_w = 12, .max_w = 12, .right = 1, .prio = 1 },
    [U_MEAN] = { .title = "Mean", .min_w = 5, .max_w = 5, .right = 1, .prio = 2 },
    [U_ATTRS] = { .title = "Attributes", .min_w = 12, .prio = 3 },
};

static const TuiKey item_keys[] = {
    { '\r', "Enter", TUI_ACT_OPEN, "Open user", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Open user", 0 },
    { '/', "/", TUI_ACT_FIND, "Search", TUI_KEY_HINT },
    { 'n', "n", TUI_ACT_NEXT, "Next match", 0 },
    { 'N', "N", TUI_ACT_PREV, "Previous match", 0 },
    { 'r', "r", TUI_ACT_REVERSE, "Reverse", TUI_KEY_HINT },
};

static const TuiKeyTable *const item_shared[] = { &tui_table_keys, &tui_export_keys, &tui_nav_keys,
                                                   NULL };

/* "25, F, scientist", leaving out what is unknown. */
static void fmt_attrs(char *buf, size_t n, const BrowseItemUser *u)
{
    const char *parts[2] = { u->gender, u->occupation };
    size_t o = 0;
    buf[0] = '\0';
    if (u->age >= 0)
        o += (size_t)snprintf(buf, n, "%d", u->age);
    for (int k = 0; k < 2 && o < n; k++)
        if (parts[k][0])
            o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", parts[k]);
}

static int users_fetch(void *ctx, const TuiTableRow *anchor, int dir, const char *filter,
                       TuiTableRow *rows, int max, int64_t *total, RsErr *err)
{
    ItemScreen *is = ctx;
    if (total)
        *total = is->found ? is->item.n : 0;
    if (!is->found || max <= 0)
        return 0;
    BrowseItemUser *u = malloc((size_t)max * sizeof *u);
    if (!u)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    BrowseQuery q = { .desc = is->udesc, .filter = filter, .anchor = anchor ? &anchor->key : NULL,
                      .dir = dir, .max = (size_t)max };
    size_t n = 0;
    int rc = browse_item_users(is->store, is->id, &q, u, &n, err);
    for (size_t k = 0; !rc && k < n; k++) {
        TuiTableRow *row = &rows[k];
        memset(row, 0, sizeof *row);
        row->key = u[k].key;
        row->id = u[k].user_id;
        row->pos = -1;
        snprintf(row->cell[U_USER], TUI_TABLE_CELL, "%s", u[k].user_ext);
        tui_fmt_num(row->cell[U_RATING], TUI_TABLE_CELL, u[k].rating, 6);
        tui_fmt_day(row->cell[U_DATE], TUI_TABLE_CELL, u[k].ts);
        tui_fmt_int(row->cell[U_N], TUI_TABLE_CELL, u[k].user_n);
        tui_fmt_mean(row->cell[U_MEAN], TUI_TABLE_CELL, u[k].user_mean);
        fmt_attrs(row->cell[U_ATTRS], TUI_TABLE_CELL, &u[k]);
    }
    free(u);
    return rc ? rc : (int)n;
}

/* --- drawing -------------------------------------------------------------------------------- */

/* Word-wraps text into r, at most r->h lines (an ellipsis ends the last one
 * when the text goes on); draw = 0 only counts. Returns the lines the whole
 * text takes at r's width. */
static int wrap_text(const TuiRect *r, const char *text, int draw)
{
    char clean[4096], line[1024];
    int lines = 0, lw = 0;
    size_t ll = 0;
    if (r->w <= 0)
        return 0;
    tui_text_fit(clean, sizeof clean, text, 1 << 30, tui_utf8());
    line[0] = '\0';
    for (char *p = clean; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *e = p;
        while (*e && *e != ' ')
            e++;
        char save = *e;
        *e = '\0';
        int ww = tui_text_width(p);
        if (lw > 0 && lw + 1 + ww > r->w) {
            if (draw && lines < r->h)
                tui_put(r, lines, 0, COL_LABEL, line);
            lines++;
            ll = 0, lw = 0, line[0] = '\0';
        }
        int k = snprintf(line + ll, sizeof line - ll, "%s%s", lw ? " " : "", p);
        ll = k < 0 ? ll : ll + (size_t)k < sizeof line ? ll + (size_t)k : sizeof line - 1;
        lw += (lw ? 1 : 0) + ww;
        *e = save;
        p = e;
    }
    if (lw > 0) {
        if (draw && lines < r->h)
            tui_put(r, lines, 0, COL_LABEL, line);
        lines++;
    }
    if (draw && lines > r->h && r->h > 0)
        tui_put(r, r->h - 1, r->w - 1, COL_DIM, tui_glyphs()->ellipsis);
    return lines;
}

static void draw_head(const ItemScreen *is)
{
    const TuiRect *r = &is->head;
    const BrowseItem *it = &is->item;
    char title[BROWSE_TEXT + 32], detail[BROWSE_EXT + 16], genres[BROWSE_TEXT * 2];
    char tags[BROWSE_TEXT * 2];
    if (!is->found) {
        tui_heading(r, 0, "Item", NULL);
        tui_put(r, 1, 0, COL_ERROR, is->err);
        return;
    }
    char year[24] = "";
    const char *name = it->title[0] ? it->title : it->ext_id;
    if (it->year) /* MovieLens titles carry their year already: "Star Wars (1977)" */
        snprintf(year, sizeof year, " (%d)", it->year);
    size_t nl = strlen(name), yl = strlen(year);
    if (yl && nl >= yl - 1 && !strcmp(name + nl - (yl - 1), year + 1))
        year[0] = '\0';
    snprintf(title, sizeof title, "%s%s", name, year);
    snprintf(detail, sizeof detail, "item %s", it->ext_id);
    tui_heading(r, 0, title, detail);
    tui_fmt_list(genres, sizeof genres, it->genres[0] ? it->genres : "no genres");
    int x = tui_put(r, 1, 0, COL_LABEL, genres);
    if (it->tags[0]) {
        tui_fmt_list(tags, sizeof tags, it->tags);
        x += tui_printf(r, 1, x, COL_DIM, " %s tags: ", tui_glyphs()->sep);
        tui_put(r, 1, x, COL_LABEL, tags);
    }
}

static void draw_dist(const ItemScreen *is)
{
    const TuiRect *r = &is->dist_r;
    const BrowseItem *it = &is->item;
    char detail[96], a[32], b[32], label[16], num[32], pct[16];
    if (r->h <= 0)
        return;
    if (it->n_rated)
        snprintf(detail, sizeof detail, "%s rated, mean %s",
                 tui_fmt_int(a, sizeof a, it->n_rated), tui_fmt_mean(b, sizeof b, it->mean));
    else
        snprintf(detail, sizeof detail, "%s interactions", tui_fmt_int(a, sizeof a, it->n));
    tui_heading(r, 0, "Ratings", detail);
    if (is->nbins == 0 || it->n_rated == 0) {
        tui_put(r, 1, 0, COL_DIM, it->n == 0 ? "nobody has rated it" : "no ratings (implicit)");
        return;
    }
    int64_t max = 0;
    int lw = 0;
    for (size_t k = 0; k < is->nbins; k++) {
        max = is->bins[k].n > max ? is->bins[k].n : max;
        tui_fmt_num(label, sizeof label, is->bins[k].rating, 5);
        lw = tui_text_width(label) > lw ? tui_text_width(label) : lw;
    }
    int cw = (int)strlen(tui_fmt_int(num, sizeof num, max)), pw = 6;
    int bar_w = r->w - lw - 1 - 1 - cw - 1 - pw;
    for (size_t k = 0; k < is->nbins && (int)k + 1 < r->h; k++) {
        int row = (int)k + 1, x = lw + 1;
        /* highest rating on top, as a distribution is read */
        const BrowseBin *bin = &is->bins[is->nbins - 1 - k];
        tui_put_right(r, row, lw, COL_LABEL, tui_fmt_num(label, sizeof label, bin->rating, 5));
        tui_hbar(r, row, x, bar_w, max ? (double)bin->n / (double)max : 0, COL_BAR, COL_TRACK);
        tui_put_right(r, row, x + bar_w + 1 + cw, COL_VALUE, tui_fmt_int(num, sizeof num, bin->n));
        tui_put_right(r, row, r->w, COL_DIM,
                      tui_fmt_pct(pct, sizeof pct, (double)bin->n / (double)it->n_rated));
    }
}

#define ITEM_SIM_K 10

/* The similar-item lists of the selected runs, made again when the
 * selection changed. */
static void similar_make(ItemScreen *is)
{
    if (!is->models || (is->sim_made && is->sim_gen == tui_models_gen(is->models)))
        return;
    size_t idx[TUI_MODELS_MAXSEL];
    is->nsim = tui_models_selected(is->models, idx, TUI_MODELS_MAXSEL);
    is->sim_made = 1;
    is->sim_gen = tui_models_gen(is->models);
    long i = tui_models_ready(is->models) ? tui_models_item(is->models, is->id) : -1;
    for (size_t j = 0; j < is->nsim; j++) {
        if (!tui_models_ready(is->models)) { /* "loading...": made again once it is */
            tui_models_placeholder(is->models, idx[j], &is->sim[j]);
        } else if (i >= 0) {
            tui_models_similar(is->models, idx[j], (uint32_t)i, ITEM_SIM_K, &is->sim[j]);
        } else {
            memset(&is->sim[j], 0, sizeof is->sim[j]);
            is->sim[j].run = idx[j];
            snprintf(is->sim[j].err, sizeof is->sim[j].err, "item not in the dataset");
        }
    }
}

/* The most similar items under each selected run, one block per run,
 * sharing the pane's rows. */
static void draw_similar(ItemScreen *is)
{
    const TuiRect *r = &is->sim_r;
    if (r->h <= 0)
        return;
    tui_heading(r, 0, "Similar items", is->models ? "S selects runs" : NULL);
    if (!is->models) {
        tui_put(r, 1, 0, COL_DIM, "no run yet");
        return;
    }
    similar_make(is);
    if (is->nsim == 0) {
        tui_put(r, 1, 0, COL_DIM, "no run selected (S selects runs)");
        return;
    }
    int row = 1, per = (r->h - 1) / (int)is->nsim - 1;
    per = per < 1 ? 1 : per;
    for (size_t j = 0; j < is->nsim && row < r->h; j++) {
        const TuiRun *run = tui_models_run(is->models, is->sim[j].run);
        tui_printf(r, row++, 0, COL_LABEL, "under %s (%s)", run ? run->name : "?",
                   run ? run->algo : "?");
        TuiRect part = { r->y, r->x, row + per < r->h ? row + per : r->h, r->w };
        row += tui_models_draw_recs(is->models, &part, row, 0, r->w, &is->sim[j], -1, -1,
                                    NULL, 0, NULL);
    }
}

static void item_draw(TuiScreen *s, const TuiRect *body)
{
    ItemScreen *is = (ItemScreen *)s;
    char detail[64];
    (void)body;
    draw_head(is);
    if (is->desc)
        wrap_text(&is->desc_r, is->desc, 1);
    draw_dist(is);
    draw_similar(is);
    snprintf(detail, sizeof detail, "in user id order%s", is->udesc ? ", reversed" : "");
    tui_heading(&is->users_h, 0, "Users who interacted", detail);
    tui_table_draw(&is->users, &is->users_r);
}

static void item_layout(ItemScreen *is, const TuiRect *body)
{
    int pad = body->h > 16, x = body->x + 1, w = body->w - 2;
    int bottom = body->y + body->h;
    is->head = (TuiRect) { body->y + pad, x, 2, w };
    /* the description gives way first on a short terminal */
    int dl = body->h >= 36 ? 5 : body->h >= 28 ? 3 : body->h >= 20 ? 2 : body->h >= 14 ? 1 : 0;
    TuiRect probe = { 0, 0, dl, w };
    int need = is->desc ? wrap_text(&probe, is->desc, 0) : 0;
    dl = need < dl ? need : dl;
    is->desc_r = (TuiRect) { is->head.y + 2, x, dl, w };
    int top = is->desc_r.y + dl + 1, avail = bottom - top;
    int dist_h = (int)is->nbins + 1 > 2 ? (int)is->nbins + 1 : 2;
    memset(&is->sim_r, 0, sizeof is->sim_r);
    if (w >= ITEM_WIDE) {
        int lw = w * 2 / 5;
        lw = lw < 30 ? 30 : lw > 46 ? 46 : lw;
        int x2 = x + lw + 3, rw = w - lw - 3;
        dist_h = dist_h < avail ? dist_h : avail;
        is->dist_r = (TuiRect) { top, x, dist_h, lw };
        if (bottom - (top + dist_h + 1) >= 2)
            is->sim_r = (TuiRect) { top + dist_h + 1, x, bottom - (top + dist_h + 1), lw };
        is->users_h = (TuiRect) { top, x2, 1, rw };
        is->users_r = (TuiRect) { top + 1, x2, avail - 1, rw };
    } else {
        /* the users keep a header, three rows and a status line */
        dist_h = dist_h < avail - 6 ? dist_h : avail - 6;
        dist_h = dist_h < 0 ? 0 : dist_h;
        is->dist_r = (TuiRect) { top, x, dist_h, w };
        int uy = top + dist_h + (dist_h > 0);
        is->users_h = (TuiRect) { uy, x, 1, w };
        is->users_r = (TuiRect) { uy + 1, x, bottom - uy - 1 > 0 ? bottom - uy - 1 : 0, w };
    }
}

static void item_resize(TuiScreen *s, const TuiRect *body)
{
    ItemScreen *is = (ItemScreen *)s;
    item_layout(is, body);
    tui_table_layout(&is->users, &is->users_r);
}

static const TuiScreenClass item_class, item_edit_class;

static TuiIntent item_key(TuiScreen *s, int action, int key)
{
    ItemScreen *is = (ItemScreen *)s;
    const TuiTableRow *sel = tui_table_selected(&is->users);
    if (!is->users.editing) {
        if (action == TUI_ACT_OPEN)
            return sel ? tui_intent_open(tui_user_new(is->store, sel->id))
                       : tui_intent(TUI_INTENT_NONE);
        if (action == TUI_ACT_REVERSE) {
            is->udesc = !is->udesc;
            tui_table_reload(&is->users);
            return tui_intent(TUI_INTENT_REDRAW);
        }
    }
    unsigned f = tui_table_key(&is->users, action, key);
    is->base.cls = is->users.editing ? &item_edit_class : &item_class;
    return tui_intent(f);
}

/* A run finished in the background: its similar items appear. */
static unsigned item_tick(TuiScreen *s)
{
    ItemScreen *is = (ItemScreen *)s;
    return tui_models_tick(&is->models, is->store);
}

static void item_free(TuiScreen *s)
{
    ItemScreen *is = (ItemScreen *)s;
    if (is) {
        tui_table_done(&is->users);
        free(is->desc);
        free(is);
    }
}

static const TuiScreenClass item_class = {
    .name = "Item",
    .keys = item_keys,
    .nkeys = RS_ARRAY_LEN(item_keys),
    .shared = item_shared,
    .draw = item_draw,
    .handle_key = item_key,
    .resize = item_resize,
    .tick = item_tick,
    .free = item_free,
};

/* The same screen while the search prompt is open. */
static const TuiScreenClass item_edit_class = {
    .name = "Item",
    .keys = tui_table_edit_keys,
    .nkeys = TUI_TABLE_NEDIT_KEYS,
    .draw = item_draw,
    .handle_key = item_key,
    .resize = item_resize,
    .tick = item_tick,
    .free = item_free,
};

TuiScreen *tui_item_new(Store *store, int64_t item_id)
{
    ItemScreen *is = calloc(1, sizeof *is);
    RsErr err;
    rs_err_clear(&err);
    if (!is)
        return NULL;
    is->base.cls = &item_class;
    is->store = store;
    is->id = item_id;
    if (tui_table_init(&is->users, users_cols, U_NCOLS, users_fetch, is, TUI_TABLE_SEARCH) < 0) {
        free(is);
        return NULL;
    }
    is->users.empty = "nobody has interacted with it";
    if ((is->models = tui_models_for(store)) != NULL) {
        tui_models_refresh(is->models, NULL);
        if (tui_models_nruns(is->models) == 0)
            is->models = NULL;
    }
    is->found = store && browse_item(store, item_id, &is->item, &is->desc, &err) == RS_OK;
    if (is->found && browse_item_ratings(store, item_id, is->bins, STORE_MAX_HIST, &is->nbins,
                                         &err) != RS_OK)
        is->nbins = 0;
    if (!is->found)
        snprintf(is->err, sizeof is->err, "%s", err.msg[0] ? err.msg : "no such item");
    tui_table_reload(&is->users);
    return &is->base;
}
