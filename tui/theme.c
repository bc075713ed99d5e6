/*
 * theme.c - the look of the TUI: the semantic colour table (with its
 * monochrome fallback), the UTF-8 and ASCII glyph sets, text sanitising,
 * number formatting, and the clipped drawing primitives screens draw with.
 *
 * Every string reaches the terminal through tui_text_fit(), which decodes
 * UTF-8 itself (so that the result does not depend on the C library's idea
 * of the locale), replaces anything that could move the cursor or start an
 * escape sequence, and cuts the text at a column budget.
 */
#include "tui_theme.h"

#include <curses.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

/* --- colours ------------------------------------------------------------- */

typedef struct ThemeEntry {
    short fg, bg;   /* -1: the terminal's default */
    attr_t attr;    /* added to the colour pair */
    attr_t mono;    /* used alone without colours */
} ThemeEntry;

static const ThemeEntry theme_table[COL_COUNT] = {
    [COL_DEFAULT] = { -1, -1, 0, 0 },
    [COL_TITLE] = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
    [COL_TITLE_DIM] = { COLOR_BLUE, COLOR_CYAN, 0, A_REVERSE },
    [COL_HEADER] = { COLOR_CYAN, -1, A_BOLD, A_BOLD | A_UNDERLINE },
    [COL_LABEL] = { -1, -1, 0, 0 },
    [COL_VALUE] = { -1, -1, A_BOLD, A_BOLD },
    [COL_BAR] = { COLOR_GREEN, -1, 0, 0 },
    [COL_BAR_ALT] = { COLOR_YELLOW, -1, 0, 0 },
    [COL_CHART] = { COLOR_CYAN, -1, 0, 0 },
    [COL_TRACK] = { -1, -1, A_DIM, A_DIM },
    [COL_DIM] = { -1, -1, A_DIM, A_DIM },
    [COL_SELECTED] = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
    [COL_HINT_KEY] = { -1, -1, A_BOLD, A_BOLD },
    [COL_HINT] = { COLOR_BLACK, COLOR_CYAN, 0, A_REVERSE },
    [COL_BOX] = { COLOR_CYAN, -1, 0, 0 },
    [COL_ERROR] = { COLOR_RED, -1, A_BOLD, A_BOLD },
};

static attr_t theme_attrs[COL_COUNT];
static int theme_ready;

static void theme_mono(void)
{
    for (int e = 0; e < COL_COUNT; e++)
        theme_attrs[e] = theme_table[e].mono;
    theme_ready = 1;
}

void tui_theme_init(int use_color)
{
    theme_mono();
    if (!use_color || !has_colors() || start_color() == ERR || COLOR_PAIRS < COL_COUNT)
        return;
    int defaults = use_default_colors() == OK;
    for (int e = 1; e < COL_COUNT; e++) {
        short fg = theme_table[e].fg, bg = theme_table[e].bg;
        if (!defaults) {
            fg = fg < 0 ? COLOR_WHITE : fg;
            bg = bg < 0 ? COLOR_BLACK : bg;
        }
        init_pair((short) e, fg, bg);
        theme_attrs[e] = COLOR_PAIR(e) | theme_table[e].attr;
    }
}

unsigned long tui_attr(TuiElem e)
{
    if (!theme_ready)
        theme_mono();
    return (e >= 0 && e < COL_COUNT) ? theme_attrs[e] : 0;
}

/* --- glyphs -------------------------------------------------------------- */

static const TuiGlyphs glyphs_utf8 = {
    .hbar = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "█" },
    .vbar = { " ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" },
    .track = "·",
    .hline = "─",
    .vline = "│",
    .corner = { "┌", "┐", "└", "┘" },
    .dash = " — ",
    .ellipsis = "…",
    .sep = "·",
    .up = "▲",
    .down = "▼",
    .cursor = "█",
};

static const TuiGlyphs glyphs_ascii = {
    .hbar = { "", "=", "=", "=", "=", "=", "=", "=", "#" },
    .vbar = { " ", ".", ".", ".", ":", ":", ":", ":", "#" },
    .track = ".",
    .hline = "-",
    .vline = "|",
    .corner = { "+", "+", "+", "+" },
    .dash = " - ",
    .ellipsis = "~",
    .sep = "/",
    .up = "^",
    .down = "v",
    .cursor = "_",
};

static const TuiGlyphs *glyphs_cur = &glyphs_ascii;

void tui_glyphs_init(int utf8)
{
    glyphs_cur = utf8 ? &glyphs_utf8 : &glyphs_ascii;
}

const TuiGlyphs *tui_glyphs(void)
{
    return glyphs_cur;
}

int tui_utf8(void)
{
    return glyphs_cur == &glyphs_utf8;
}

/* --- text ---------------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s. Returns the bytes it spans (>= 1) and
 * sets *cp, or sets *cp = (uint32_t) -1 for an invalid or truncated one. */
static int utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned c = s[0];
    int len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, v = c & 0x07, min = 0x10000;
    else {
        *cp = (uint32_t) -1;
        return 1;
    }
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = (uint32_t) -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        v = (uint32_t) -1;
    *cp = v;
    return len;
}

/* Code points that must never reach the terminal as they are: C0/C1
 * controls, DEL, bidirectional overrides and invisible formatting. */
static int cp_unsafe(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C ||
           (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF || cp == (uint32_t) -1;
}

/* Display columns of a safe code point, or -1 when it should be replaced. */
static int cp_width(uint32_t cp, int utf8)
{
    if (cp < 0x80)
        return 1;
    if (!utf8)
        return -1;
    int w = wcwidth((wchar_t) cp);
    return w < 0 ? -1 : w;
}

int tui_text_fit(char *dst, size_t dstsz, const char *src, int maxcols, int utf8)
{
    const unsigned char *s = (const unsigned char *) (src ? src : "");
    size_t o = 0;
    int cols = 0;
    while (*s) {
        uint32_t cp;
        int len = utf8_decode(s, &cp), w = 1;
        const char *out = "?";
        size_t outlen = 1;
        if (cp == '\t' || cp == '\n' || cp == '\r')
            out = " ";
        else if (!cp_unsafe(cp) && (w = cp_width(cp, utf8)) >= 0)
            out = (const char *) s, outlen = (size_t) len;
        else
            w = 1;
        if (cols + w > maxcols || (dst && o + outlen >= dstsz))
            break;
        if (dst)
            memcpy(dst + o, out, outlen);
        o += outlen;
        cols += w;
        s += len;
    }
    if (dst && dstsz)
        dst[o] = '\0';
    return cols;
}

int tui_text_width(const char *src)
{
    return tui_text_fit(NULL, 0, src, 1 << 30, tui_utf8());
}

/* --- numbers ------------------------------------------------------------- */

char *tui_fmt_int(char *buf, size_t n, int64_t v)
{
    char digits[32];
    uint64_t m = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long) m);
    char tmp[48];
    size_t o = 0;
    if (v < 0)
        tmp[o++] = '-';
    for (int i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = '\0';
    snprintf(buf, n, "%s", tmp);
    return buf;
}

static char *fmt_compact(char *buf, size_t n, double v)
{
    static const char suffix[] = "kMGTP";
    double a = fabs(v);
    int i = -1;
    while (a >= 999.5 && i < 4)
        a /= 1000, v /= 1000, i++;
    if (i < 0)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, a < 9.95 ? "%.1f%c" : "%.0f%c", v, suffix[i]);
    return buf;
}

char *tui_fmt_num(char *buf, size_t n, double v, int maxw)
{
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return buf;
    }
    if (fabs(v - round(v)) < 1e-9 && fabs(v) < 9e18)
        tui_fmt_int(buf, n, (int64_t) llround(v));
    else
        snprintf(buf, n, fabs(v) < 100 ? "%.1f" : "%.0f", v);
    if ((int) strlen(buf) > maxw)
        fmt_compact(buf, n, v);
    return buf;
}

char *tui_fmt_pct(char *buf, size_t n, double frac)
{
    double p = frac * 100.0;
    if (isnan(p))
        snprintf(buf, n, "-");
    else if (p == 0 || p == 100)
        snprintf(buf, n, "%.0f%%", p);
    else if (p < 0.001)
        snprintf(buf, n, "<0.001%%");
    else if (p >= 99.95)
        snprintf(buf, n, ">99.9%%");
    else if (p >= 10)
        snprintf(buf, n, "%.1f%%", p);
    else if (p >= 1)
        snprintf(buf, n, "%.2f%%", p);
    else
        snprintf(buf, n, "%#.2g%%", p);
    return buf;
}

char *tui_fmt_date(char *buf, size_t n, int64_t unix_s)
{
    time_t t = (time_t) unix_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, n, "?");
    return buf;
}

char *tui_fmt_mean(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.2f", v);
    return buf;
}

char *tui_fmt_day(char *buf, size_t n, int64_t unix_s)
{
    if (unix_s == INT64_MIN)
        snprintf(buf, n, "-");
    else
        tui_fmt_date(buf, n, unix_s);
    return buf;
}

char *tui_fmt_list(char *buf, size_t n, const char *bars)
{
    size_t o = 0;
    for (const char *c = bars ? bars : ""; *c && o + 3 < n; c++) {
        if (*c == '|') {
            buf[o++] = ',';
            buf[o++] = ' ';
        } else {
            buf[o++] = *c;
        }
    }
    if (n)
        buf[o < n ? o : n - 1] = '\0';
    return buf;
}

char *tui_fmt_span(char *buf, size_t n, double s)
{
    static const struct { double secs; const char *unit; } units[] = {
        { 365.25 * 86400, "years" }, { 30.44 * 86400, "months" }, { 7 * 86400, "weeks" },
        { 86400, "days" }, { 3600, "h" }, { 60, "min" }, { 1, "s" },
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(units); i++) {
        double v = s / units[i].secs;
        if (v >= 1.5 || units[i].secs == 1) {
            snprintf(buf, n, v < 9.95 ? "%.1f %s" : "%.0f %s", v, units[i].unit);
            return buf;
        }
    }
    return buf;
}

/* --- drawing ------------------------------------------------------------- */

static void set_elem(TuiElem e)
{
    attrset((int) tui_attr(e));
}

int tui_put(const TuiRect *r, int row, int col, TuiElem e, const char *text)
{
    char buf[1024];
    if (row < 0 || row >= r->h || col < 0 || col >= r->w)
        return 0;
    int cols = tui_text_fit(buf, sizeof buf, text, r->w - col, tui_utf8());
    set_elem(e);
    mvaddstr(r->y + row, r->x + col, buf);
    return cols;
}

int tui_put_clip(const TuiRect *r, int row, int col, TuiElem e, const char *text)
{
    char buf[1024];
    int room = r->w - col;
    if (room > 1 && tui_text_width(text) > room) {
        tui_text_fit(buf, sizeof buf - 8, text, room - 1, tui_utf8());
        snprintf(buf + strlen(buf), 8, "%s", tui_glyphs()->ellipsis);
        text = buf;
    }
    return tui_put(r, row, col, e, text);
}

int tui_put_right(const TuiRect *r, int row, int right, TuiElem e, const char *text)
{
    int w = tui_text_width(text);
    int col = right - w;
    return tui_put(r, row, col < 0 ? 0 : col, e, text);
}

int tui_printf(const TuiRect *r, int row, int col, TuiElem e, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return tui_put(r, row, col, e, buf);
}

void tui_fill(const TuiRect *r, int row, TuiElem e)
{
    if (row < 0 || row >= r->h || r->w <= 0)
        return;
    set_elem(e);
    mvhline(r->y + row, r->x, ' ' | (chtype) tui_attr(e), r->w);
    if (e == COL_SELECTED)
        tui_cursor_want(r->y + row, r->x);
}

/* --- the terminal cursor ------------------------------------------------------- */

static int cursor_y = -1, cursor_x = -1;

void tui_cursor_reset(void)
{
    cursor_y = cursor_x = -1;
}

void tui_cursor_want(int y, int x)
{
    cursor_y = y;
    cursor_x = x;
}

int tui_cursor_get(int *y, int *x)
{
    if (cursor_y < 0 || cursor_x < 0)
        return 0;
    *y = cursor_y;
    *x = cursor_x;
    return 1;
}

void tui_clear(const TuiRect *r)
{
    for (int row = 0; row < r->h; row++)
        tui_fill(r, row, COL_DEFAULT);
}

void tui_hbar(const TuiRect *r, int row, int col, int width, double frac, TuiElem bar,
              TuiElem track)
{
    const TuiGlyphs *g = tui_glyphs();
    char buf[1024];
    size_t o = 0;
    if (width <= 0)
        return;
    if (!(frac >= 0))
        frac = 0;
    long e = lround((frac > 1 ? 1 : frac) * width * 8);
    if (e == 0 && frac > 0)
        e = 1;
    int full = (int) (e / 8), part = (int) (e % 8), i;
    for (i = 0; i < full && o + 8 < sizeof buf; i++)
        o += (size_t) snprintf(buf + o, sizeof buf - o, "%s", g->hbar[8]);
    if (part && o + 8 < sizeof buf)
        o += (size_t) snprintf(buf + o, sizeof buf - o, "%s", g->hbar[part]);
    buf[o] = '\0';
    int used = tui_put(r, row, col, bar, buf);
    for (i = used; i < width && track != COL_DEFAULT; i++)
        tui_put(r, row, col + i, track, g->track);
}

void tui_heading(const TuiRect *r, int row, const char *title, const char *detail)
{
    int w = tui_put(r, row, 0, COL_HEADER, title);
    if (detail && *detail && w + 2 + tui_text_width(detail) <= r->w)
        tui_put(r, row, w + 2, COL_DIM, detail);
}

void tui_frame(const TuiRect *r, const char *title)
{
    const TuiGlyphs *g = tui_glyphs();
    if (r->h < 2 || r->w < 2)
        return;
    for (int x = 1; x < r->w - 1; x++) {
        tui_put(r, 0, x, COL_BOX, g->hline);
        tui_put(r, r->h - 1, x, COL_BOX, g->hline);
    }
    for (int y = 1; y < r->h - 1; y++) {
        tui_put(r, y, 0, COL_BOX, g->vline);
        tui_put(r, y, r->w - 1, COL_BOX, g->vline);
    }
    tui_put(r, 0, 0, COL_BOX, g->corner[0]);
    tui_put(r, 0, r->w - 1, COL_BOX, g->corner[1]);
    tui_put(r, r->h - 1, 0, COL_BOX, g->corner[2]);
    tui_put(r, r->h - 1, r->w - 1, COL_BOX, g->corner[3]);
    if (title && r->w > 6) {
        TuiRect t = { r->y, r->x + 2, 1, r->w - 4 };
        tui_printf(&t, 0, 0, COL_HEADER, " %s ", title);
    }
}
