/*
 * tui_table.c - the scrolling table widget (see tui_table.h).
 *
 * The window rows[0..n) is a contiguous run of the list in display order;
 * at_start / at_end say whether it reaches the list's ends. Moving past an
 * edge of the window fetches a chunk next to the edge row (keyset: the
 * source gets that row as its anchor) and, when the window is full, drops
 * as many rows from the other edge. Home and End reload from the list's
 * ends; a search match reloads the window around the matching row.
 *
 * Filter mode re-reads the list from its start on every keystroke of the
 * prompt (the source filters); a pattern the source refuses (a bad regular
 * expression) leaves the rows as they were and shows why. Search mode asks
 * the source for the first matching row after the row before the one
 * selected when the prompt opened, then for the next / previous one from
 * the selection (n / N), wrapping around at the ends.
 */
#include "tui_table.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_export.h"
#include "tui_theme.h"

#define KEY_CTRL(c) ((c) & 0x1f)
#define KEY_ESC 27
#define COL_GAP 2

static const TuiKey table_keys[] = {
    { KEY_DOWN, "Down", TUI_ACT_MOVE, "Move down / up", 0 },
    { KEY_UP, "Up", TUI_ACT_MOVE, "Move down / up", 0 },
    { 'j', "j", TUI_ACT_MOVE, "Move down / up", 0 },
    { 'k', "k", TUI_ACT_MOVE, "Move down / up", 0 },
    { KEY_NPAGE, "PgDn", TUI_ACT_PAGE, "Page down / up", 0 },
    { KEY_PPAGE, "PgUp", TUI_ACT_PAGE, "Page down / up", 0 },
    { KEY_CTRL('f'), "^F", TUI_ACT_PAGE, "Page down / up", 0 },
    { KEY_CTRL('b'), "^B", TUI_ACT_PAGE, "Page down / up", 0 },
    { KEY_HOME, "Home", TUI_ACT_ENDS, "First / last row", 0 },
    { KEY_END, "End", TUI_ACT_ENDS, "First / last row", 0 },
    { 'g', "g", TUI_ACT_ENDS, "First / last row", 0 },
    { 'G', "G", TUI_ACT_ENDS, "First / last row", 0 },
};

const TuiKeyTable tui_table_keys = { table_keys, RS_ARRAY_LEN(table_keys) };

/* Listed only by the screens whose tables can be exported. */
static const TuiKey export_keys[] = {
    { 'e', "e", TUI_ACT_EXPORT, "Export (.csv, .tsv, .md)", 0 },
};

const TuiKeyTable tui_export_keys = { export_keys, RS_ARRAY_LEN(export_keys) };

const TuiKey tui_table_edit_keys[TUI_TABLE_NEDIT_KEYS] = {
    { '\r', "Enter", TUI_ACT_OPEN, "Apply", TUI_KEY_HINT },
    { '\n', "Enter", TUI_ACT_OPEN, "Apply", 0 },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Apply", 0 },
    { KEY_ESC, "Esc", TUI_ACT_BACK, "Cancel", TUI_KEY_HINT },
    { KEY_CTRL('u'), "^U", TUI_ACT_EDIT, "Clear", TUI_KEY_HINT },
    { KEY_BACKSPACE, "Backspace", TUI_ACT_EDIT, "Delete a character", 0 },
    { 127, "Backspace", TUI_ACT_EDIT, "Delete a character", 0 },
    { KEY_CTRL('h'), "Backspace", TUI_ACT_EDIT, "Delete a character", 0 },
    { KEY_CTRL('l'), "^L", TUI_ACT_REDRAW, "Redraw", 0 },
    { TUI_KEY_ANY, "text", TUI_ACT_EDIT, "Type", 0 },
};


/* --- setting up ------------------------------------------------------------------ */

int tui_table_init(TuiTable *t, const TuiColumn *cols, int ncols, TuiTableFetch fetch, void *ctx,
                   int mode)
{
    memset(t, 0, sizeof *t);
    t->cols = cols;
    t->ncols = ncols < TUI_TABLE_MAXCOLS ? ncols : TUI_TABLE_MAXCOLS;
    t->fetch = fetch;
    t->ctx = ctx;
    t->mode = mode;
    t->sort_col = -1;
    t->focused = 1;
    t->page = 20;
    t->total = -1;
    t->first_pos = -1;
    t->empty = "nothing to show";
    t->rows = malloc(TUI_TABLE_WINDOW * sizeof *t->rows);
    t->scratch = malloc(TUI_TABLE_CHUNK * sizeof *t->scratch);
    if (!t->rows || !t->scratch) {
        tui_table_done(t);
        return -1;
    }
    return 0;
}

void tui_table_done(TuiTable *t)
{
    free(t->rows);
    free(t->scratch);
    t->rows = t->scratch = NULL;
    t->n = 0;
}

const TuiTableRow *tui_table_selected(const TuiTable *t)
{
    return t->n > 0 && t->cur >= 0 && t->cur < t->n ? &t->rows[t->cur] : NULL;
}

/* --- reading ---------------------------------------------------------------------- */

static void set_msg(TuiTable *t, int error, const char *text)
{
    size_t n = strlen(text);
    if (n >= sizeof t->msg) {
        n = sizeof t->msg - 1;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(t->msg, text, n);
    t->msg[n] = '\0';
    t->msg_error = error;
}

/* The filter the source applies to the list itself. */
static const char *list_filter(const TuiTable *t)
{
    return t->mode == TUI_TABLE_FILTER && t->pattern[0] ? t->pattern : NULL;
}

/* Rows to fetch at a time: two pages, within bounds. */
static int chunk(const TuiTable *t)
{
    int c = 2 * t->page;
    return c < 32 ? 32 : c > TUI_TABLE_CHUNK ? TUI_TABLE_CHUNK : c;
}

/* Fetches into t->scratch. anchor is copied first: it may point into the
 * window, which the caller changes afterwards. Returns the count or -1. */
static int fetch(TuiTable *t, const TuiTableRow *anchor, int dir, const char *filter, int max,
                 int64_t *total)
{
    TuiTableRow a;
    RsErr err;
    rs_err_clear(&err);
    if (anchor)
        a = *anchor;
    if (max > TUI_TABLE_CHUNK)
        max = TUI_TABLE_CHUNK;
    int got = t->fetch(t->ctx, anchor ? &a : NULL, dir, filter, t->scratch, max, total, &err);
    if (got < 0) {
        set_msg(t, 1, err.msg[0] ? err.msg : "cannot read the list");
        return -1;
    }
    return got;
}

static void keep_visible(TuiTable *t)
{
    int page = t->page > 0 ? t->page : 1;
    if (t->cur < t->top)
        t->top = t->cur;
    if (t->cur >= t->top + page)
        t->top = t->cur - page + 1;
    if (t->at_end && t->top > t->n - page)
        t->top = t->n - page;
    if (t->top < 0)
        t->top = 0;
}

static void drop_front(TuiTable *t, int k)
{
    memmove(t->rows, t->rows + k, (size_t)(t->n - k) * sizeof *t->rows);
    t->n -= k;
    t->cur -= k;
    t->top -= k;
    t->at_start = 0;
    if (t->first_pos >= 0)
        t->first_pos += k;
}

/* Appends a chunk after the last row. Returns the rows added, -1 on error. */
static int extend_after(TuiTable *t)
{
    if (t->at_end || t->n == 0)
        return 0;
    int c = chunk(t), got = fetch(t, &t->rows[t->n - 1], 1, list_filter(t), c, NULL);
    if (got < 0)
        return -1;
    if (got < c)
        t->at_end = 1;
    if (t->n + got > TUI_TABLE_WINDOW)
        drop_front(t, t->n + got - TUI_TABLE_WINDOW);
    memcpy(t->rows + t->n, t->scratch, (size_t)got * sizeof *t->rows);
    t->n += got;
    return got;
}

/* Prepends a chunk before the first row. */
static int extend_before(TuiTable *t)
{
    if (t->at_start || t->n == 0)
        return 0;
    int c = chunk(t), got = fetch(t, &t->rows[0], -1, list_filter(t), c, NULL);
    if (got < 0)
        return -1;
    if (t->n + got > TUI_TABLE_WINDOW) {
        t->n = TUI_TABLE_WINDOW - got;
        t->at_end = 0;
    }
    memmove(t->rows + got, t->rows, (size_t)t->n * sizeof *t->rows);
    memcpy(t->rows, t->scratch, (size_t)got * sizeof *t->rows);
    t->n += got;
    t->cur += got;
    t->top += got;
    if (t->first_pos >= 0)
        t->first_pos -= got;
    if (got < c) {
        t->at_start = 1;
        t->first_pos = 0;
    }
    return got;
}

/* Fills the page below the top row when the window ends too early. */
static void fill_page(TuiTable *t)
{
    while (t->top + t->page > t->n && !t->at_end)
        if (extend_after(t) <= 0)
            break;
    keep_visible(t);
}

/* Reads the list from its first row under filter (filter mode: it becomes
 * the pattern in force). On error the window is left as it was: -1. */
static int reload_with(TuiTable *t, const char *pattern)
{
    char pat[TUI_TABLE_PATTERN]; /* pattern may be t->pattern itself */
    int64_t total = -1;
    snprintf(pat, sizeof pat, "%s", pattern ? pattern : "");
    const char *filter = t->mode == TUI_TABLE_FILTER && *pat ? pat : NULL;
    int c = chunk(t), got = fetch(t, NULL, 1, filter, c, &total);
    if (got < 0)
        return -1;
    if (t->mode == TUI_TABLE_FILTER)
        memcpy(t->pattern, pat, sizeof pat);
    memcpy(t->rows, t->scratch, (size_t)got * sizeof *t->rows);
    t->n = got;
    t->cur = t->top = 0;
    t->at_start = 1;
    t->at_end = got < c;
    t->first_pos = 0;
    t->total = total;
    fill_page(t);
    return 0;
}

void tui_table_reload(TuiTable *t)
{
    t->msg[0] = '\0';
    if (reload_with(t, t->pattern) < 0) {
        t->n = t->cur = t->top = 0;
        t->at_start = t->at_end = 1;
    }
}

void tui_table_layout(TuiTable *t, const TuiRect *r)
{
    t->page = r->h - 2 > 1 ? r->h - 2 : 1;
    fill_page(t);
}

/* --- moving ------------------------------------------------------------------------ */

static int key_dir(int key)
{
    switch (key) {
    case KEY_UP: case 'k': case KEY_PPAGE: case KEY_CTRL('b'): case KEY_HOME: case 'g':
        return -1;
    default:
        return 1;
    }
}

/* Moves the selection by delta rows, fetching across the window's edges.
 * Returns 1 when something changed. */
static int move_by(TuiTable *t, int delta)
{
    int target = t->cur + delta, before_cur = t->cur, before_n = t->n;
    while (target >= t->n && !t->at_end) {
        int cur = t->cur;
        if (extend_after(t) <= 0)
            break;
        target += t->cur - cur; /* rows dropped at the front */
    }
    while (target < 0 && !t->at_start) {
        int cur = t->cur;
        if (extend_before(t) <= 0)
            break;
        target += t->cur - cur;
    }
    if (t->n == 0)
        return before_n != 0;
    target = target < 0 ? 0 : target >= t->n ? t->n - 1 : target;
    int moved = target != t->cur || t->cur != before_cur || t->n != before_n;
    t->cur = target;
    fill_page(t);
    return moved;
}

static unsigned go_home(TuiTable *t)
{
    if (t->at_start) {
        int moved = t->cur != 0;
        t->cur = 0;
        keep_visible(t);
        return moved ? TUI_INTENT_REDRAW : TUI_INTENT_NONE;
    }
    reload_with(t, t->pattern);
    return TUI_INTENT_REDRAW;
}

static unsigned go_end(TuiTable *t)
{
    if (!t->at_end) {
        int c = chunk(t), got = fetch(t, NULL, -1, list_filter(t), c, NULL);
        if (got < 0)
            return TUI_INTENT_REDRAW;
        memcpy(t->rows, t->scratch, (size_t)got * sizeof *t->rows);
        t->n = got;
        t->at_end = 1;
        t->at_start = got < c;
        t->first_pos = t->at_start ? 0 : t->total >= 0 ? t->total - got : -1;
        t->top = 0;
    } else if (t->cur == t->n - 1) {
        return TUI_INTENT_NONE;
    }
    t->cur = t->n > 0 ? t->n - 1 : 0;
    keep_visible(t);
    return TUI_INTENT_REDRAW;
}

/* --- searching ---------------------------------------------------------------------- */

/* Reloads the window around row r (a copy is taken), r selected mid-page. */
static void jump_to(TuiTable *t, const TuiTableRow *r)
{
    TuiTableRow *self = malloc(sizeof *self);
    if (!self)
        return;
    *self = *r;
    int half = t->page / 2 > 0 ? t->page / 2 : 1, c = chunk(t);
    int before = fetch(t, self, -1, list_filter(t), half, NULL);
    if (before < 0)
        goto done;
    memcpy(t->rows, t->scratch, (size_t)before * sizeof *t->rows);
    t->rows[before] = *self;
    t->n = before + 1;
    t->cur = before;
    t->at_start = before < half;
    t->first_pos = t->at_start ? 0 : self->pos >= 0 ? self->pos - before : -1;
    int after = fetch(t, self, 1, list_filter(t), c, NULL);
    if (after < 0)
        after = 0;
    memcpy(t->rows + t->n, t->scratch, (size_t)after * sizeof *t->rows);
    t->n += after;
    t->at_end = after < c;
    t->top = t->cur - half;
    fill_page(t);
done:
    free(self);
}

void tui_table_jump(TuiTable *t, const TuiTableRow *r)
{
    jump_to(t, r);
}

/* Jumps to the first row matching pattern after anchor (dir > 0) or before
 * it (dir < 0); anchor NULL: from the list's first or last row. Wraps
 * around once. Returns 1 when found. */
static int search_from(TuiTable *t, const TuiTableRow *anchor, int dir, const char *pattern)
{
    int got = fetch(t, anchor, dir, pattern, 1, NULL);
    if (got == 0 && anchor) {
        got = fetch(t, NULL, dir, pattern, 1, NULL);
        if (got > 0)
            set_msg(t, 0, dir > 0 ? "search wrapped to the top" : "search wrapped to the bottom");
    }
    if (got < 0)
        return 0;
    if (got == 0) {
        snprintf(t->msg, sizeof t->msg, "no match for \"%s\"", pattern);
        t->msg_error = 1;
        return 0;
    }
    TuiTableRow found = t->scratch[0];
    jump_to(t, &found);
    return 1;
}

void tui_table_search(TuiTable *t, const char *pattern)
{
    t->msg[0] = '\0';
    if (pattern != t->pattern)
        snprintf(t->pattern, sizeof t->pattern, "%s", pattern);
    if (t->mode == TUI_TABLE_SEARCH && pattern[0])
        search_from(t, NULL, 1, t->pattern);
}

static unsigned search_step(TuiTable *t, int dir)
{
    const TuiTableRow *sel = tui_table_selected(t);
    if (t->mode != TUI_TABLE_SEARCH)
        return TUI_INTENT_UNHANDLED;
    if (!t->pattern[0]) {
        set_msg(t, 0, "type / and a pattern first");
        return TUI_INTENT_REDRAW;
    }
    search_from(t, sel, dir, t->pattern);
    return TUI_INTENT_REDRAW;
}

/* --- the prompt ----------------------------------------------------------------------- */

static void begin_edit(TuiTable *t)
{
    t->editing = TUI_TABLE_EDIT_PATTERN;
    t->msg[0] = '\0';
    snprintf(t->saved, sizeof t->saved, "%s", t->pattern);
    snprintf(t->edit, sizeof t->edit, "%s", t->mode == TUI_TABLE_FILTER ? t->pattern : "");
    t->has_origin = t->n > 0;
    t->has_prev = 0;
    if (!t->has_origin)
        return;
    t->origin = t->rows[t->cur];
    if (t->cur > 0) {
        t->origin_prev = t->rows[t->cur - 1];
        t->has_prev = 1;
    } else if (!t->at_start && fetch(t, &t->rows[0], -1, list_filter(t), 1, NULL) == 1) {
        t->origin_prev = t->scratch[0];
        t->has_prev = 1;
    }
}

/* The prompt's text changed: filter again, or search again from the origin. */
static void edit_changed(TuiTable *t)
{
    t->msg[0] = '\0';
    if (t->mode == TUI_TABLE_FILTER) {
        reload_with(t, t->edit);
        return;
    }
    if (!t->edit[0]) {
        if (t->has_origin)
            jump_to(t, &t->origin);
        return;
    }
    search_from(t, t->has_prev ? &t->origin_prev : NULL, 1, t->edit);
}

/* Whether s ends with a whole UTF-8 character (a lead byte and all its
 * continuation bytes). */
static int utf8_complete(const char *s)
{
    size_t n = strlen(s), i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return 1;
    unsigned lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return n - (i - 1) >= need;
}

/* Removes the last UTF-8 character of s. */
static void drop_last_char(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && ((unsigned char)s[n - 1] & 0xC0) == 0x80)
        n--;
    s[n > 0 ? n - 1 : 0] = '\0';
}

/* --- export ---------------------------------------------------------------------------- */

long tui_table_export(TuiTable *t, const char *path, RsErr *err)
{
    TuiExport x;
    const char *cells[TUI_TABLE_MAXCOLS];
    int rc = tui_export_open(&x, path, err);
    if (rc < 0)
        return rc;
    for (int c = 0; c < t->ncols; c++)
        cells[c] = t->cols[c].title;
    rc = tui_export_row(&x, cells, (size_t)t->ncols, 1);
    TuiTableRow *last = malloc(sizeof *last);
    if (!last)
        rc = RS_ENOMEM;
    for (int have = 0; rc == 0;) {
        int got = t->fetch(t->ctx, have ? last : NULL, 1, list_filter(t), t->scratch,
                           TUI_TABLE_CHUNK, NULL, err);
        if (got < 0) {
            rc = got;
            break;
        }
        for (int i = 0; i < got && rc == 0; i++) {
            for (int c = 0; c < t->ncols; c++)
                cells[c] = t->scratch[i].cell[c];
            rc = tui_export_row(&x, cells, (size_t)t->ncols, 0);
        }
        if (got < TUI_TABLE_CHUNK)
            break;
        *last = t->scratch[got - 1];
        have = 1;
    }
    free(last);
    if (rc < 0) {
        if (rc == RS_EIO)
            rs_err_set(err, RS_EIO, "cannot write %s", path);
        else if (rc == RS_ENOMEM)
            rs_err_set(err, RS_ENOMEM, "out of memory");
        tui_export_abort(&x);
        return rc;
    }
    rc = tui_export_commit(&x, err);
    return rc < 0 ? rc : x.rows;
}

static void begin_export(TuiTable *t)
{
    char what[64];
    t->editing = TUI_TABLE_EDIT_EXPORT;
    t->msg[0] = '\0';
    if (t->export_name)
        snprintf(what, sizeof what, "%s", t->export_name);
    else
        snprintf(what, sizeof what, "%ss", t->ncols > 0 ? t->cols[0].title : "table");
    tui_export_default_name(t->edit, sizeof t->edit, what);
}

static void finish_export(TuiTable *t)
{
    RsErr err;
    char rows[32];
    rs_err_clear(&err);
    t->editing = 0;
    long n = tui_table_export(t, t->edit, &err);
    if (n < 0)
        set_msg(t, 1, err.msg[0] ? err.msg : "export failed");
    else
        snprintf(t->msg, sizeof t->msg, "%s row%s written to %s", tui_fmt_int(rows, sizeof rows, n),
                 n == 1 ? "" : "s", t->edit), t->msg_error = 0;
}

static unsigned edit_key(TuiTable *t, int action, int key)
{
    if (t->editing == TUI_TABLE_EDIT_EXPORT && (action == TUI_ACT_OPEN || action == TUI_ACT_BACK)) {
        if (action == TUI_ACT_OPEN && t->edit[0])
            finish_export(t);
        else
            t->editing = 0;
        return TUI_INTENT_REDRAW;
    }
    if (action == TUI_ACT_OPEN) {
        if (t->mode == TUI_TABLE_FILTER && strcmp(t->pattern, t->edit) != 0)
            return TUI_INTENT_REDRAW; /* the pattern was refused: keep editing */
        t->editing = 0;
        snprintf(t->pattern, sizeof t->pattern, "%s", t->edit);
        return TUI_INTENT_REDRAW;
    }
    if (action == TUI_ACT_BACK) {
        t->editing = 0;
        t->msg[0] = '\0';
        if (t->mode == TUI_TABLE_FILTER) {
            if (strcmp(t->pattern, t->saved) != 0)
                reload_with(t, t->saved);
        } else {
            snprintf(t->pattern, sizeof t->pattern, "%s", t->saved);
            if (t->has_origin)
                jump_to(t, &t->origin);
        }
        return TUI_INTENT_REDRAW;
    }
    if (action == TUI_ACT_REDRAW)
        return TUI_INTENT_UNHANDLED;
    size_t len = strlen(t->edit);
    if (key == KEY_CTRL('u')) {
        t->edit[0] = '\0';
    } else if (key == KEY_BACKSPACE || key == 127 || key == KEY_CTRL('h')) {
        if (!len)
            return TUI_INTENT_NONE;
        drop_last_char(t->edit);
    } else if (key >= 0x20 && key <= 0xFF && key != 127 && len + 1 < sizeof t->edit) {
        t->edit[len] = (char)key;
        t->edit[len + 1] = '\0';
        if (!utf8_complete(t->edit)) /* wait for the rest of the character */
            return TUI_INTENT_REDRAW;
    } else {
        return TUI_INTENT_NONE;
    }
    if (t->editing == TUI_TABLE_EDIT_EXPORT)
        return TUI_INTENT_REDRAW;
    edit_changed(t);
    return TUI_INTENT_REDRAW;
}

unsigned tui_table_key(TuiTable *t, int action, int key)
{
    if (t->editing)
        return edit_key(t, action, key);
    switch (action) {
    case TUI_ACT_MOVE:
        t->msg[0] = '\0';
        return move_by(t, key_dir(key)) ? TUI_INTENT_REDRAW : TUI_INTENT_NONE;
    case TUI_ACT_PAGE:
        t->msg[0] = '\0';
        return move_by(t, key_dir(key) * (t->page > 1 ? t->page - 1 : 1)) ? TUI_INTENT_REDRAW
                                                                          : TUI_INTENT_NONE;
    case TUI_ACT_ENDS:
        t->msg[0] = '\0';
        return key_dir(key) < 0 ? go_home(t) : go_end(t);
    case TUI_ACT_FIND:
        begin_edit(t);
        return TUI_INTENT_REDRAW;
    case TUI_ACT_EXPORT:
        begin_export(t);
        return TUI_INTENT_REDRAW;
    case TUI_ACT_BACK: /* Esc clears a filter before it leaves the screen */
        if (key != KEY_ESC || t->mode != TUI_TABLE_FILTER || !t->pattern[0])
            return TUI_INTENT_UNHANDLED;
        reload_with(t, "");
        return TUI_INTENT_REDRAW;
    case TUI_ACT_NEXT:
        return search_step(t, 1);
    case TUI_ACT_PREV:
        return search_step(t, -1);
    default:
        return TUI_INTENT_UNHANDLED;
    }
}

/* --- drawing -------------------------------------------------------------------------- */

/* Column positions and widths for a table w columns wide: columns drop out
 * by priority until the minimum widths fit, then the spare width goes to
 * the bounded columns (up to their maximum) and the rest, evenly, to the
 * flexible ones. Hidden columns get width 0. */
static void layout_cols(const TuiTable *t, int w, int *x, int *wid)
{
    int shown[TUI_TABLE_MAXCOLS], min[TUI_TABLE_MAXCOLS], need = 0, weights = 0;
    for (int c = 0; c < t->ncols; c++) {
        shown[c] = 1;
        /* room for the title and a sort arrow */
        int tw = tui_text_width(t->cols[c].title) + 1;
        min[c] = t->cols[c].min_w > tw ? t->cols[c].min_w : tw;
    }
    for (;;) {
        int count = 0, worst = -1;
        need = 0;
        for (int c = 0; c < t->ncols; c++) {
            if (!shown[c])
                continue;
            need += min[c] + (count++ ? COL_GAP : 0);
            if (t->cols[c].prio > 0 && (worst < 0 || t->cols[c].prio >= t->cols[worst].prio))
                worst = c;
        }
        if (need <= w || worst < 0)
            break;
        shown[worst] = 0;
    }
    int spare = w - need;
    for (int c = 0; c < t->ncols; c++) {
        wid[c] = shown[c] ? min[c] : 0;
        if (shown[c] && t->cols[c].max_w > wid[c] && spare > 0) {
            int add = t->cols[c].max_w - wid[c];
            add = add < spare ? add : spare;
            wid[c] += add;
            spare -= add;
        }
        if (shown[c] && t->cols[c].max_w == 0)
            weights += t->cols[c].flex > 0 ? t->cols[c].flex : 1;
    }
    for (int c = 0, given = 0, seen = 0; c < t->ncols && weights > 0; c++) {
        if (shown[c] && t->cols[c].max_w == 0) {
            seen += t->cols[c].flex > 0 ? t->cols[c].flex : 1;
            int upto = spare * seen / weights; /* cumulative: the shares add up to spare */
            wid[c] += upto - given;
            given = upto;
        }
    }
    for (int c = 0, at = 0; c < t->ncols; c++) {
        x[c] = at;
        if (wid[c])
            at += wid[c] + COL_GAP;
    }
}

/* Draws text in a cell of width w, with an ellipsis when it is cut. */
static void put_cell(const TuiRect *row, int x, int w, int right, TuiElem e, const char *text)
{
    char buf[TUI_TABLE_CELL * 2];
    TuiRect cell = { row->y, row->x + x, 1, w };
    if (x >= row->w)
        return;
    if (cell.x + cell.w > row->x + row->w)
        cell.w = row->x + row->w - cell.x;
    if (tui_text_width(text) > cell.w && cell.w > 1) {
        tui_text_fit(buf, sizeof buf - 8, text, cell.w - 1, tui_utf8());
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof buf - len, "%s", tui_glyphs()->ellipsis);
        text = buf;
    }
    if (right)
        tui_put_right(&cell, 0, cell.w, e, text);
    else
        tui_put(&cell, 0, 0, e, text);
}

static void draw_header(const TuiTable *t, const TuiRect *r, const int *x, const int *wid)
{
    char title[64];
    TuiRect line = { r->y, r->x, 1, r->w };
    for (int c = 0; c < t->ncols; c++) {
        if (!wid[c])
            continue;
        const char *arrow = c == t->sort_col ? (t->sort_desc ? tui_glyphs()->down
                                                              : tui_glyphs()->up) : "";
        snprintf(title, sizeof title, "%s%s", t->cols[c].title, arrow);
        put_cell(&line, x[c], wid[c], t->cols[c].right, COL_HEADER, title);
    }
}

static void draw_row(const TuiTable *t, const TuiRect *r, int y, const TuiTableRow *row,
                     int selected, const int *x, const int *wid)
{
    TuiRect line = { r->y + y, r->x, 1, r->w };
    TuiElem e = selected ? COL_SELECTED : COL_DEFAULT;
    if (selected)
        tui_fill(&line, 0, COL_SELECTED);
    for (int c = 0; c < t->ncols; c++) {
        if (!wid[c])
            continue;
        if (t->cols[c].bar) {
            TuiRect cell = { line.y, line.x, 1, line.w };
            tui_hbar(&cell, 0, x[c], wid[c], atof(row->cell[c]), COL_BAR, COL_TRACK);
        } else {
            put_cell(&line, x[c], wid[c], t->cols[c].right, e, row->cell[c]);
        }
    }
}

/* "row 12 of 943", "row 12 of 57 matches", "row 12". */
static void position_text(const TuiTable *t, char *buf, size_t n)
{
    const TuiTableRow *sel = tui_table_selected(t);
    char a[32], b[32];
    int64_t pos = !sel ? -1 : sel->pos >= 0 ? sel->pos : t->first_pos >= 0 ? t->first_pos + t->cur
                                                                            : -1;
    int64_t total = t->total;
    if (t->at_start && t->at_end)
        total = t->n;
    if (!sel) {
        snprintf(buf, n, "%s", list_filter(t) ? "no match" : "");
        return;
    }
    const char *what = list_filter(t) ? (total == 1 ? "match" : "matches")
                                      : (total == 1 ? "row" : "rows");
    if (pos < 0 && total >= 0)
        snprintf(buf, n, "%s %s", tui_fmt_int(b, sizeof b, total), what);
    else if (pos < 0)
        buf[0] = '\0';
    else if (total < 0)
        snprintf(buf, n, "row %s", tui_fmt_int(a, sizeof a, pos + 1));
    else
        snprintf(buf, n, "row %s of %s%s%s", tui_fmt_int(a, sizeof a, pos + 1),
                 tui_fmt_int(b, sizeof b, total), list_filter(t) ? " " : "",
                 list_filter(t) ? what : "");
}

/* The terminal cursor at a prompt's insertion point, when it is inside r. */
static void want_cursor(const TuiRect *r, int row, int col)
{
    if (col < r->w)
        tui_cursor_want(r->y + row, r->x + col);
}

/* The last row: the prompt, or the pattern in force, and a message on the
 * left; the position on the right. */
static void draw_status(const TuiTable *t, const TuiRect *r)
{
    char pos[96], left[TUI_TABLE_PATTERN + 16];
    int row = r->h - 1, w = 0;
    position_text(t, pos, sizeof pos);
    int pw = tui_text_width(pos);
    int room = r->w - (pw ? pw + 2 : 0);
    TuiRect lr = { r->y, r->x, r->h, room > 0 ? room : 0 };
    if (t->editing == TUI_TABLE_EDIT_EXPORT) {
        w = tui_printf(&lr, row, 0, COL_VALUE, "Export to: %s", t->edit);
        want_cursor(&lr, row, w);
        w += tui_put(&lr, row, w, COL_DIM, tui_glyphs()->cursor) + 2;
        tui_put(&lr, row, w, COL_DIM, ".csv, .tsv or .md; Enter writes, Esc cancels");
    } else if (t->editing) {
        w = tui_printf(&lr, row, 0, COL_VALUE, "/%s", t->edit);
        want_cursor(&lr, row, w);
        w += tui_put(&lr, row, w, COL_DIM, tui_glyphs()->cursor) + 2;
        if (!t->edit[0] && !t->msg[0])
            tui_put(&lr, row, w, COL_DIM, "a substring, or re: and a regular expression");
    } else if (t->pattern[0]) {
        snprintf(left, sizeof left, "%s: %s", t->mode == TUI_TABLE_FILTER ? "filter" : "search",
                 t->pattern);
        w = tui_put(&lr, row, 0, COL_LABEL, left) + 2;
    }
    if (t->msg[0])
        tui_put(&lr, row, w, t->msg_error ? COL_ERROR : COL_DIM, t->msg);
    if (pw && pw <= r->w)
        tui_put_right(r, row, r->w, COL_DIM, pos);
}

void tui_table_draw(const TuiTable *t, const TuiRect *r)
{
    int x[TUI_TABLE_MAXCOLS], wid[TUI_TABLE_MAXCOLS];
    if (r->h <= 0 || r->w <= 0)
        return;
    layout_cols(t, r->w, x, wid);
    draw_header(t, r, x, wid);
    int rows = r->h - 2 > 0 ? r->h - 2 : 0;
    for (int i = 0; i < rows && t->top + i < t->n; i++)
        draw_row(t, r, 1 + i, &t->rows[t->top + i], t->focused && t->top + i == t->cur, x,
                 wid);
    if (t->n == 0 && !t->msg_error && rows > 0)
        tui_put(r, 1, 0, COL_DIM, list_filter(t) ? "no row matches the filter" : t->empty);
    if (r->h >= 2)
        draw_status(t, r);
}
