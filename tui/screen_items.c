/*
 * screen_items.c - the Items screen: every item with its title, year,
 * genres, popularity (interactions) and mean rating, a page at a time
 * (store/browse.h), most popular first; sortable by any column (s cycles
 * the column, r reverses), filtered as the analyst types after / (a
 * substring of the id, title, year, genres or tags; "re:" for a regular
 * expression); Enter opens the item.
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "browse.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

typedef struct ItemsScreen {
    TuiScreen base;
    Store *store;  /* not owned; NULL: an empty file */
    TuiTable table;
    int sort, desc; /* a BrowseItemCol; its direction */
    TuiRect head, list;
} ItemsScreen;

/* Columns in BrowseItemCol order, and the direction each sorts in first. */
static const TuiColumn items_cols[BROWSE_I_NCOLS] = {
    [BROWSE_I_ID] = { .title = "Item", .min_w = 4, .max_w = 8, .prio = 3 },
    [BROWSE_I_TITLE] = { .title = "Title", .min_w = 12, .flex = 3 },
    [BROWSE_I_YEAR] = { .title = "Year", .min_w = 4, .max_w = 4, .right = 1, .prio = 2 },
    [BROWSE_I_GENRES] = { .title = "Genres", .min_w = 8, .prio = 1, .flex = 2 },
    [BROWSE_I_N] = { .title = "Popularity", .min_w = 10, .max_w = 10, .right = 1 },
    [BROWSE_I_MEAN] = { .title = "Mean", .min_w = 4, .max_w = 5, .right = 1 },
};
static const int items_first_desc[BROWSE_I_NCOLS] = { 0, 0, 1, 0, 1, 1 };

static const TuiKey items_keys[] = {
    { '\r', "Enter", TUI_ACT_OPEN, "Open", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Open", 0 },
    { '/', "/", TUI_ACT_FIND, "Filter", TUI_KEY_HINT },
    { 's', "s", TUI_ACT_SORT, "Sort", TUI_KEY_HINT },
    { 'r', "r", TUI_ACT_REVERSE, "Reverse", TUI_KEY_HINT },
};

static const TuiKeyTable *const items_shared[] = { &tui_table_keys, &tui_export_keys, &tui_nav_keys,
                                                   NULL };

static void item_cells(TuiTableRow *row, const BrowseItem *it)
{
    memset(row, 0, sizeof *row);
    row->key = it->key;
    row->id = it->id;
    row->pos = it->pos;
    snprintf(row->cell[BROWSE_I_ID], TUI_TABLE_CELL, "%s", it->ext_id);
    snprintf(row->cell[BROWSE_I_TITLE], TUI_TABLE_CELL, "%s", it->title[0] ? it->title : "-");
    if (it->year)
        snprintf(row->cell[BROWSE_I_YEAR], TUI_TABLE_CELL, "%d", it->year);
    else
        snprintf(row->cell[BROWSE_I_YEAR], TUI_TABLE_CELL, "-");
    tui_fmt_list(row->cell[BROWSE_I_GENRES], TUI_TABLE_CELL, it->genres);
    tui_fmt_int(row->cell[BROWSE_I_N], TUI_TABLE_CELL, it->n);
    tui_fmt_mean(row->cell[BROWSE_I_MEAN], TUI_TABLE_CELL, it->mean);
}

static int items_fetch(void *ctx, const TuiTableRow *anchor, int dir, const char *filter,
                       TuiTableRow *rows, int max, int64_t *total, RsErr *err)
{
    ItemsScreen *is = ctx;
    if (!is->store || max <= 0)
        return 0;
    BrowseItem *b = malloc((size_t)max * sizeof *b);
    if (!b)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    BrowseQuery q = { .sort = is->sort, .desc = is->desc, .filter = filter,
                      .anchor = anchor ? &anchor->key : NULL, .dir = dir, .max = (size_t)max,
                      .matches = total };
    size_t n = 0;
    int rc = browse_items(is->store, &q, b, &n, err);
    if (!rc && total && *total < 0) /* unfiltered: the list's size */
        rc = browse_item_total(is->store, total, err);
    for (size_t k = 0; !rc && k < n; k++)
        item_cells(&rows[k], &b[k]);
    free(b);
    return rc ? rc : (int)n;
}

static void items_draw(TuiScreen *s, const TuiRect *body)
{
    ItemsScreen *is = (ItemsScreen *)s;
    char detail[160], total[32];
    const char *order = is->desc ? "descending" : "ascending";
    (void)body;
    if (is->table.total >= 0 && !is->table.pattern[0])
        snprintf(detail, sizeof detail, "%s items %s sorted by %s, %s",
                 tui_fmt_int(total, sizeof total, is->table.total), tui_glyphs()->sep,
                 items_cols[is->sort].title, order);
    else
        snprintf(detail, sizeof detail, "sorted by %s, %s", items_cols[is->sort].title, order);
    tui_heading(&is->head, 0, "Items", detail);
    tui_table_draw(&is->table, &is->list);
}

static void items_resize(TuiScreen *s, const TuiRect *body)
{
    ItemsScreen *is = (ItemsScreen *)s;
    int pad = body->h > 12;
    is->head = (TuiRect) { body->y + pad, body->x + 1, 1, body->w - 2 };
    is->list = (TuiRect) { body->y + pad + 1, body->x + 1, body->h - pad - 1, body->w - 2 };
    tui_table_layout(&is->table, &is->list);
}

static void items_sort(ItemsScreen *is, int sort, int desc)
{
    is->sort = sort;
    is->desc = desc;
    is->table.sort_col = sort;
    is->table.sort_desc = desc;
    tui_table_reload(&is->table);
}

static const TuiScreenClass items_class, items_edit_class;

static TuiIntent items_key(TuiScreen *s, int action, int key)
{
    ItemsScreen *is = (ItemsScreen *)s;
    const TuiTableRow *sel = tui_table_selected(&is->table);
    if (!is->table.editing) {
        switch (action) {
        case TUI_ACT_OPEN:
            return sel ? tui_intent_open(tui_item_new(is->store, sel->id))
                       : tui_intent(TUI_INTENT_NONE);
        case TUI_ACT_SORT: {
            int next = (is->sort + 1) % BROWSE_I_NCOLS;
            items_sort(is, next, items_first_desc[next]);
            return tui_intent(TUI_INTENT_REDRAW);
        }
        case TUI_ACT_REVERSE:
            items_sort(is, is->sort, !is->desc);
            return tui_intent(TUI_INTENT_REDRAW);
        default:
            break;
        }
    }
    unsigned f = tui_table_key(&is->table, action, key);
    is->base.cls = is->table.editing ? &items_edit_class : &items_class;
    return tui_intent(f);
}

static void items_free(TuiScreen *s)
{
    ItemsScreen *is = (ItemsScreen *)s;
    if (is) {
        tui_table_done(&is->table);
        free(is);
    }
}

static const TuiScreenClass items_class = {
    .name = "Items",
    .keys = items_keys,
    .nkeys = RS_ARRAY_LEN(items_keys),
    .shared = items_shared,
    .kind = TUI_SCREEN_ITEMS,
    .draw = items_draw,
    .handle_key = items_key,
    .resize = items_resize,
    .free = items_free,
};

/* The same screen while the filter prompt is open. */
static const TuiScreenClass items_edit_class = {
    .name = "Items",
    .keys = tui_table_edit_keys,
    .nkeys = TUI_TABLE_NEDIT_KEYS,
    .kind = TUI_SCREEN_ITEMS,
    .draw = items_draw,
    .handle_key = items_key,
    .resize = items_resize,
    .free = items_free,
};

TuiScreen *tui_items_new(Store *store)
{
    ItemsScreen *is = calloc(1, sizeof *is);
    if (!is)
        return NULL;
    is->base.cls = &items_class;
    is->store = store;
    if (tui_table_init(&is->table, items_cols, BROWSE_I_NCOLS, items_fetch, is,
                       TUI_TABLE_FILTER) < 0) {
        free(is);
        return NULL;
    }
    is->table.empty = store ? "no items" : "This database has no items yet.";
    items_sort(is, BROWSE_I_N, items_first_desc[BROWSE_I_N]);
    return &is->base;
}
