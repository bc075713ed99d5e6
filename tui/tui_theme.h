/*
 * tui_theme.h - how the TUI looks: semantic colour elements, glyph sets
 * (UTF-8 or ASCII), text sanitising and number formatting, and clipped
 * drawing primitives. Screen code names elements (COL_HEADER), never colour
 * pairs, and draws only through these primitives, which clip to a TuiRect
 * and sanitise every string (text from the database is untrusted).
 *
 * Not thread-safe: the theme and glyph set are process-wide and belong to
 * the UI thread.
 */
#ifndef RS_TUI_THEME_H
#define RS_TUI_THEME_H

#include <stddef.h>
#include <stdint.h>

#include "tui_screen.h"

typedef enum TuiElem {
    COL_DEFAULT = 0,
    COL_TITLE,     /* the title bar */
    COL_TITLE_DIM, /* secondary text in the title bar */
    COL_HEADER,    /* section headings */
    COL_LABEL,     /* row labels */
    COL_VALUE,     /* numbers that matter */
    COL_BAR,       /* histogram bars */
    COL_BAR_ALT,   /* a second bar colour (shares) */
    COL_CHART,     /* time charts */
    COL_TRACK,     /* the empty part of a bar */
    COL_DIM,       /* secondary text */
    COL_SELECTED,  /* the cursor row of a list */
    COL_HINT_KEY,  /* a key name in the key-hint bar */
    COL_HINT,      /* the rest of the key-hint bar */
    COL_BOX,       /* overlay frames */
    COL_ERROR,
    COL_COUNT
} TuiElem;

/* Sets up colour pairs (when use_color and the terminal has colours) or the
 * monochrome attributes. Call after the terminal is initialised. */
void tui_theme_init(int use_color);
/* The curses attributes (pair included) for an element. */
unsigned long tui_attr(TuiElem e);

/* Glyphs: UTF-8 block characters or their ASCII stand-ins. */
typedef struct TuiGlyphs {
    const char *hbar[9]; /* horizontal bar cell filled 0/8 .. 8/8 from the left */
    const char *vbar[9]; /* vertical bar cell filled 0/8 .. 8/8 from the bottom */
    const char *track;   /* empty part of a bar */
    const char *hline;   /* frame pieces */
    const char *vline;
    const char *corner[4]; /* top-left, top-right, bottom-left, bottom-right */
    const char *dash;      /* the title separator: " — " or " - " */
    const char *ellipsis;
    const char *sep;       /* a small separator: "·" or "/" */
    const char *up, *down; /* sort order indicators: "▲" "▼" or "^" "v" */
    const char *cursor;    /* the text cursor of a prompt: "█" or "_" */
} TuiGlyphs;

/* Chooses the glyph set; utf8 = 0 means plain ASCII output. */
void tui_glyphs_init(int utf8);
const TuiGlyphs *tui_glyphs(void);
int tui_utf8(void);

/* Copies src into dst (size dstsz) fitting in at most maxcols terminal
 * columns: control characters, escape sequences, invalid UTF-8 and (in
 * ASCII mode) every non-ASCII character become '?'; tabs and newlines become
 * spaces. Returns the columns used. Never writes more than dstsz bytes and
 * always terminates dst (dstsz > 0). */
int tui_text_fit(char *dst, size_t dstsz, const char *src, int maxcols, int utf8);
/* Columns that src occupies once sanitised. */
int tui_text_width(const char *src);

/* Number formatting into buf; each returns buf. */
char *tui_fmt_int(char *buf, size_t n, int64_t v);             /* 1,234,567 */
char *tui_fmt_num(char *buf, size_t n, double v, int maxw);    /* 1,234 or 12.5 or 1.2M */
char *tui_fmt_pct(char *buf, size_t n, double frac);           /* 6.30%, 0.054%, <0.001% */
char *tui_fmt_date(char *buf, size_t n, int64_t unix_s);       /* 1998-04-22 (UTC) */
char *tui_fmt_span(char *buf, size_t n, double seconds);       /* 4.5 days, 3 h */
char *tui_fmt_mean(char *buf, size_t n, double v);             /* 3.61; NAN: - */
char *tui_fmt_day(char *buf, size_t n, int64_t unix_s);        /* a date; INT64_MIN: - */
char *tui_fmt_list(char *buf, size_t n, const char *bars);     /* "a|b" -> "a, b" */

/* Drawing, clipped to r; row and col are relative to r. */
int tui_put(const TuiRect *r, int row, int col, TuiElem e, const char *text);
/* tui_put, ending in an ellipsis when text is cut at r's right edge. */
int tui_put_clip(const TuiRect *r, int row, int col, TuiElem e, const char *text);
int tui_put_right(const TuiRect *r, int row, int right, TuiElem e, const char *text);
int tui_printf(const TuiRect *r, int row, int col, TuiElem e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Fills a row of r with e. Filling with COL_SELECTED (the selected row of
 * a list) also asks for the terminal cursor at the row's start. */
void tui_fill(const TuiRect *r, int row, TuiElem e);
void tui_clear(const TuiRect *r);
/* A horizontal bar of width cells filled to frac (0..1); the rest is drawn
 * as a track in the track element, or left alone when that is COL_DEFAULT. */
void tui_hbar(const TuiRect *r, int row, int col, int width, double frac, TuiElem bar,
              TuiElem track);
/* A section heading: title, then detail in dim text if it fits. */
void tui_heading(const TuiRect *r, int row, const char *title, const char *detail);
/* A frame around r (drawn on its border cells) with a title in the top edge. */
void tui_frame(const TuiRect *r, const char *title);

/* Where the terminal cursor goes after a frame is drawn (screen readers
 * follow it): the start of the selected row, or a prompt's insertion point.
 * tui_cursor_reset() forgets the request (before each screen draws);
 * tui_cursor_want() records one (the last request wins); tui_cursor_get()
 * returns 1 and the position when there is one. */
void tui_cursor_reset(void);
void tui_cursor_want(int y, int x);
int tui_cursor_get(int *y, int *x);

#endif
