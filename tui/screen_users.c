/*
 * screen_users.c - the Users screen: every user with their number of
 * interactions, mean rating, first and last activity and attributes, a
 * page at a time (store/browse.h), sortable by any column (s cycles the
 * column, r reverses), filtered as the analyst types after / (a substring
 * of the id or an attribute; "re:" for a regular expression); Enter opens
 * the user.
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "browse.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

typedef struct UsersScreen {
    TuiScreen base;
    Store *store;  /* not owned; NULL: an empty file */
    TuiTable table;
    int sort, desc; /* a BrowseUserCol; its direction */
    TuiRect head, list;
} UsersScreen;

_Static_assert(STORE_NO_TS == INT64_MIN, "tui_fmt_day shows INT64_MIN as unknown");

/* The table's columns, in BrowseUserCol order, and the direction each
 * sorts in first (the largest counts and the latest activity on top). */
static const TuiColumn users_cols[BROWSE_U_NCOLS] = {
    [BROWSE_U_ID] = { .title = "User", .min_w = 6, .max_w = 10 },
    [BROWSE_U_N] = { .title = "Interactions", .min_w = 12, .max_w = 12, .right = 1 },
    [BROWSE_U_MEAN] = { .title = "Mean", .min_w = 4, .max_w = 5, .right = 1 },
    [BROWSE_U_FIRST] = { .title = "First", .min_w = 10, .max_w = 10, .prio = 2 },
    [BROWSE_U_LAST] = { .title = "Last", .min_w = 10, .max_w = 10, .prio = 1 },
    [BROWSE_U_ATTRS] = { .title = "Attributes", .min_w = 10 },
};
static const int users_first_desc[BROWSE_U_NCOLS] = { 0, 1, 1, 0, 1, 0 };

static const TuiKey users_keys[] = {
    { '\r', "Enter", TUI_ACT_OPEN, "Open", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Open", 0 },
    { '/', "/", TUI_ACT_FIND, "Filter", TUI_KEY_HINT },
    { 's', "s", TUI_ACT_SORT, "Sort", TUI_KEY_HINT },
    { 'r', "r", TUI_ACT_REVERSE, "Reverse", TUI_KEY_HINT },
};

static const TuiKeyTable *const users_shared[] = { &tui_table_keys, &tui_export_keys, &tui_nav_keys,
                                                   NULL };

/* --- cells ---------------------------------------------------------------------------- */

/* "25, F, scientist, 12345", leaving out what is unknown. */
static void fmt_attrs(char *buf, size_t n, const BrowseUser *u)
{
    const char *parts[3] = { u->gender, u->occupation, u->zip };
    size_t o = 0;
    buf[0] = '\0';
    if (u->age >= 0)
        o += (size_t)snprintf(buf, n, "%d", u->age);
    for (int k = 0; k < 3 && o < n; k++)
        if (parts[k][0])
            o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? ", " : "", parts[k]);
}

static void user_cells(TuiTableRow *row, const BrowseUser *u)
{
    memset(row, 0, sizeof *row);
    row->key = u->key;
    row->id = u->id;
    row->pos = u->pos;
    snprintf(row->cell[BROWSE_U_ID], TUI_TABLE_CELL, "%s", u->ext_id);
    tui_fmt_int(row->cell[BROWSE_U_N], TUI_TABLE_CELL, u->n);
    tui_fmt_mean(row->cell[BROWSE_U_MEAN], TUI_TABLE_CELL, u->mean);
    tui_fmt_day(row->cell[BROWSE_U_FIRST], TUI_TABLE_CELL, u->first_ts);
    tui_fmt_day(row->cell[BROWSE_U_LAST], TUI_TABLE_CELL, u->last_ts);
    fmt_attrs(row->cell[BROWSE_U_ATTRS], TUI_TABLE_CELL, u);
}

static int users_fetch(void *ctx, const TuiTableRow *anchor, int dir, const char *filter,
                       TuiTableRow *rows, int max, int64_t *total, RsErr *err)
{
    UsersScreen *us = ctx;
    if (!us->store || max <= 0)
        return 0;
    BrowseUser *b = malloc((size_t)max * sizeof *b);
    if (!b)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    BrowseQuery q = { .sort = us->sort, .desc = us->desc, .filter = filter,
                      .anchor = anchor ? &anchor->key : NULL, .dir = dir, .max = (size_t)max,
                      .matches = total };
    size_t n = 0;
    int rc = browse_users(us->store, &q, b, &n, err);
    if (!rc && total && *total < 0) /* unfiltered: the list's size */
        rc = browse_user_total(us->store, total, err);
    for (size_t k = 0; !rc && k < n; k++)
        user_cells(&rows[k], &b[k]);
    free(b);
    return rc ? rc : (int)n;
}

/* --- the screen ------------------------------------------------------------------------- */

static void users_draw(TuiScreen *s, const TuiRect *body)
{
    UsersScreen *us = (UsersScreen *)s;
    char detail[160], total[32];
    (void)body;
    if (us->table.total >= 0 && !us->table.pattern[0])
        snprintf(detail, sizeof detail, "%s users %s sorted by %s, %s",
                 tui_fmt_int(total, sizeof total, us->table.total), tui_glyphs()->sep,
                 users_cols[us->sort].title, us->desc ? "descending" : "ascending");
    else
        snprintf(detail, sizeof detail, "sorted by %s, %s", users_cols[us->sort].title,
                 us->desc ? "descending" : "ascending");
    tui_heading(&us->head, 0, "Users", detail);
    tui_table_draw(&us->table, &us->list);
}

static void users_resize(TuiScreen *s, const TuiRect *body)
{
    UsersScreen *us = (UsersScreen *)s;
    int pad = body->h > 12;
    us->head = (TuiRect) { body->y + pad, body->x + 1, 1, body->w - 2 };
    us->list = (TuiRect) { body->y + pad + 1, body->x + 1, body->h - pad - 1, body->w - 2 };
    tui_table_layout(&us->table, &us->list);
}

static void users_sort(UsersScreen *us, int sort, int desc)
{
    us->sort = sort;
    us->desc = desc;
    us->table.sort_col = sort;
    us->table.sort_desc = desc;
    tui_table_reload(&us->table);
}

static const TuiScreenClass users_class, users_edit_class;

static TuiIntent users_key(TuiScreen *s, int action, int key)
{
    UsersScreen *us = (UsersScreen *)s;
    unsigned f = TUI_INTENT_UNHANDLED;
    const TuiTableRow *sel = tui_table_selected(&us->table);
    if (!us->table.editing) {
        switch (action) {
        case TUI_ACT_OPEN:
            return sel ? tui_intent_open(tui_user_new(us->store, sel->id))
                       : tui_intent(TUI_INTENT_NONE);
        case TUI_ACT_SORT: {
            int next = (us->sort + 1) % BROWSE_U_NCOLS;
            users_sort(us, next, users_first_desc[next]);
            return tui_intent(TUI_INTENT_REDRAW);
        }
        case TUI_ACT_REVERSE:
            users_sort(us, us->sort, !us->desc);
            return tui_intent(TUI_INTENT_REDRAW);
        default:
            break;
        }
    }
    f = tui_table_key(&us->table, action, key);
    us->base.cls = us->table.editing ? &users_edit_class : &users_class;
    return tui_intent(f);
}

static void users_free(TuiScreen *s)
{
    UsersScreen *us = (UsersScreen *)s;
    if (us) {
        tui_table_done(&us->table);
        free(us);
    }
}

static const TuiScreenClass users_class = {
    .name = "Users",
    .keys = users_keys,
    .nkeys = RS_ARRAY_LEN(users_keys),
    .shared = users_shared,
    .kind = TUI_SCREEN_USERS,
    .draw = users_draw,
    .handle_key = users_key,
    .resize = users_resize,
    .free = users_free,
};

/* The same screen while the filter prompt is open. */
static const TuiScreenClass users_edit_class = {
    .name = "Users",
    .keys = tui_table_edit_keys,
    .nkeys = TUI_TABLE_NEDIT_KEYS,
    .kind = TUI_SCREEN_USERS,
    .draw = users_draw,
    .handle_key = users_key,
    .resize = users_resize,
    .free = users_free,
};

TuiScreen *tui_users_new(Store *store)
{
    UsersScreen *us = calloc(1, sizeof *us);
    if (!us)
        return NULL;
    us->base.cls = &users_class;
    us->store = store;
    if (tui_table_init(&us->table, users_cols, BROWSE_U_NCOLS, users_fetch, us,
                       TUI_TABLE_FILTER) < 0) {
        free(us);
        return NULL;
    }
    us->table.empty = store ? "no users" : "This database has no users yet.";
    users_sort(us, BROWSE_U_ID, users_first_desc[BROWSE_U_ID]);
    return &us->base;
}
