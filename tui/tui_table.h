/*
 * tui_table.h - a scrolling table over a keyset-paginated source: columns
 * that drop out by priority on a narrow terminal, a sort indicator, a
 * selected row, movement by row, page and to either end, and a prompt for
 * an incremental filter (the source re-queries with it) or an incremental
 * search (n / N jump to the next / previous matching row, wherever it is in
 * the list).
 *
 * The table never holds the whole list: a window of at most
 * TUI_TABLE_WINDOW rows in display order, extended a chunk at a time from
 * the source as the selection reaches either edge (rows at the far edge are
 * dropped), and reloaded around a row after a jump. The source fetches the
 * rows next to an anchor row, so it can use keyset pagination.
 *
 * Key handling returns intent flags and never draws (tui_screen.h); the
 * screen calls tui_table_draw() from its draw hook. A screen whose table is
 * editing its prompt switches its class to one whose key table is
 * tui_table_edit_keys, so the hint bar and help show the prompt's keys.
 */
#ifndef RS_TUI_TABLE_H
#define RS_TUI_TABLE_H

#include <stdint.h>

#include "browse.h"
#include "tui_screen.h"

#define TUI_TABLE_MAXCOLS 8
#define TUI_TABLE_CELL 128   /* bytes of one cell's text */
#define TUI_TABLE_WINDOW 512 /* rows held at most */
#define TUI_TABLE_CHUNK 160  /* rows fetched at most at a time */
#define TUI_TABLE_PATTERN 96 /* bytes of a filter or search pattern */

typedef struct TuiColumn {
    const char *title;
    int min_w; /* columns it needs */
    int max_w; /* 0: takes a share of the spare width */
    int right; /* right-aligned (numbers) */
    int prio;  /* 0: always shown; higher ones drop out first when narrow */
    int bar;   /* the cell is a fraction 0..1 drawn as a bar */
    int flex;  /* share of the spare width a flexible column gets (0 counts as 1) */
} TuiColumn;

typedef struct TuiTableRow {
    BrowseKey key; /* where the row sits in its list (the source's) */
    int64_t id;    /* what the row opens */
    int64_t pos;   /* 0-based position in the list; -1 when unknown */
    char cell[TUI_TABLE_MAXCOLS][TUI_TABLE_CELL];
} TuiTableRow;

/* Fills rows[0..max) with the rows next to anchor, in display order:
 * after it when dir > 0, before it when dir < 0; anchor NULL: from the
 * first row (dir > 0) or the last (dir < 0). filter NULL: every row.
 * total, when not NULL, receives the number of rows in the list under the
 * filter if the source knows it (else -1). Returns the number of rows or a
 * negative RS_E* code with err filled. */
typedef int (*TuiTableFetch)(void *ctx, const TuiTableRow *anchor, int dir, const char *filter,
                             TuiTableRow *rows, int max, int64_t *total, RsErr *err);

enum {
    TUI_TABLE_FILTER = 0, /* the prompt filters the rows (the source applies it) */
    TUI_TABLE_SEARCH = 1, /* the prompt moves the selection to a matching row */
};

enum {
    TUI_TABLE_EDIT_PATTERN = 1, /* the filter or search prompt */
    TUI_TABLE_EDIT_EXPORT = 2,  /* the file name to export to (e) */
};

typedef struct TuiTable {
    const TuiColumn *cols;
    int ncols;
    TuiTableFetch fetch;
    void *ctx;
    int mode;               /* TUI_TABLE_FILTER or TUI_TABLE_SEARCH */
    int sort_col, sort_desc; /* the indicator; -1: none */
    int focused;            /* draws the selection */
    const char *empty;      /* shown when the list is empty (static text) */
    char pattern[TUI_TABLE_PATTERN]; /* the filter in force, or the last search */
    /* what the table holds, for the default export file name
     * ("recscope-users.csv"); NULL: the first column's title and an s */
    const char *export_name;
    /* the prompt: TUI_TABLE_EDIT_PATTERN or TUI_TABLE_EDIT_EXPORT, 0 when closed */
    int editing;
    char edit[TUI_TABLE_PATTERN];
    char saved[TUI_TABLE_PATTERN]; /* pattern before the prompt opened */
    TuiTableRow origin;     /* the selection when a search began */
    TuiTableRow origin_prev; /* the row before it: a search starts after that */
    int has_origin, has_prev;
    /* the window */
    TuiTableRow *rows;      /* (TUI_TABLE_WINDOW) */
    TuiTableRow *scratch;   /* (TUI_TABLE_CHUNK) what a fetch returns */
    int n, cur, top;
    int at_start, at_end;   /* the window holds the first / last row */
    int64_t first_pos;      /* position of rows[0]; -1 unknown */
    int64_t total;          /* rows in the list under the filter; -1 unknown */
    int page;               /* data rows drawn, from the last draw */
    char msg[160];          /* a status or error message */
    int msg_error;
} TuiTable;

/* Sets t up (no rows yet: call tui_table_reload). cols must outlive t.
 * Returns 0, or -1 when out of memory. */
int tui_table_init(TuiTable *t, const TuiColumn *cols, int ncols, TuiTableFetch fetch, void *ctx,
                   int mode);
void tui_table_done(TuiTable *t);

/* Reads the list again from its first row (after a sort or filter change). */
void tui_table_reload(TuiTable *t);

/* Sets the rectangle the table will draw in (from a screen's resize hook):
 * the page height follows, and rows are fetched when the page outgrows the
 * window. */
void tui_table_layout(TuiTable *t, const TuiRect *r);

/* Draws into r (the rectangle given to tui_table_layout): column headings,
 * the rows, and a status line (position, filter, prompt, message) on r's
 * last row. */
void tui_table_draw(const TuiTable *t, const TuiRect *r);

/* The selected row, or NULL when the list is empty. */
const TuiTableRow *tui_table_selected(const TuiTable *t);

/* Handles a list action (MOVE, PAGE, ENDS, FIND, NEXT, PREV, EXPORT; BACK from Esc
 * while a filter is in force clears it) or, while the prompt is open, any
 * key. Returns TUI_INTENT_REDRAW when something
 * changed, TUI_INTENT_NONE when not, TUI_INTENT_UNHANDLED for other
 * actions. */
unsigned tui_table_key(TuiTable *t, int action, int key);

/* Writes every row of the list (under the filter in force, every column,
 * in display order) to path: CSV, TSV or Markdown by its extension,
 * atomically (tui_export.h). Returns the rows written, or a negative RS_E*
 * code with err filled. The e key opens a prompt for the file name and
 * calls it on Enter, leaving the result in the status line. */
long tui_table_export(TuiTable *t, const char *path, RsErr *err);

/* Reloads the window around row r (the source's row, copied) and selects
 * it: to keep the selection on a row after the list changed. */
void tui_table_jump(TuiTable *t, const TuiTableRow *r);

/* Searches (search mode) for pattern from the top of the list, as if it
 * had been typed at the prompt from the first row. */
void tui_table_search(TuiTable *t, const char *pattern);

/* Movement keys of every list: arrows, j/k, PgUp/PgDn, ^B/^F, Home/End,
 * g/G; and e, export. Screens list it in their class's shared tables. */
extern const TuiKeyTable tui_table_keys;
/* `e` export: for the screens that hold an exportable table. */
extern const TuiKeyTable tui_export_keys;

/* The key table of a screen class while a prompt is open (modal). */
#define TUI_TABLE_NEDIT_KEYS 10
extern const TuiKey tui_table_edit_keys[TUI_TABLE_NEDIT_KEYS];

#endif
