/*
 * screen_help.c - the help overlay: a framed box over the screen beneath,
 * listing that screen's bindings and the global ones, generated from the
 * key tables by tui_help_lines(). j/k, arrows, PgUp/PgDn, Home/End/g/G
 * scroll it when the list is longer than the box; / types a filter
 * (substring of the keys or the text, ignoring case; Enter keeps it, Esc
 * drops it). Any other key closes it.
 */
#include <ctype.h>
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_screen.h"
#include "tui_theme.h"

#define HELP_MAX_LINES 64
#define KEY_CTRL(c) ((c) & 0x1f)
#define KEY_ESC 27

typedef struct HelpScreen {
    TuiScreen base;
    const TuiScreen *under;
    TuiHelpLine lines[HELP_MAX_LINES];
    size_t n;
    size_t shown[HELP_MAX_LINES]; /* indices of the lines the filter keeps */
    size_t nshown;
    size_t top;        /* first shown line in the box */
    int typing;        /* the filter prompt has the keys */
    char filter[40];
    int keys_w;  /* width of the key column */
    TuiRect box; /* recomputed by help_resize */
} HelpScreen;

/* Only the wildcard is hinted, so the bar reads "any key Close". */
static const TuiKey help_keys[] = {
    { 'j', "j", TUI_ACT_MOVE, "Scroll down / up", 0 },
    { 'k', "k", TUI_ACT_MOVE, "Scroll down / up", 0 },
    { KEY_DOWN, "Down", TUI_ACT_MOVE, "Scroll down / up", 0 },
    { KEY_UP, "Up", TUI_ACT_MOVE, "Scroll down / up", 0 },
    { KEY_NPAGE, "PgDn", TUI_ACT_PAGE, "Page down / up", 0 },
    { KEY_PPAGE, "PgUp", TUI_ACT_PAGE, "Page down / up", 0 },
    { KEY_HOME, "Home", TUI_ACT_ENDS, "Top / bottom", 0 },
    { KEY_END, "End", TUI_ACT_ENDS, "Top / bottom", 0 },
    { 'g', "g", TUI_ACT_ENDS, "Top / bottom", 0 },
    { 'G', "G", TUI_ACT_ENDS, "Top / bottom", 0 },
    { '/', "/", TUI_ACT_FIND, "Filter", 0 },
    { TUI_KEY_ANY, "any key", TUI_ACT_BACK, "Close", TUI_KEY_HINT },
};

static const char help_footer[] = "press any key to close";
static const char help_footer_scroll[] = "j/k scroll, / filter; press any key to close";

/* Whether hay holds needle, ignoring ASCII case. */
static int has_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

static void help_apply_filter(HelpScreen *h)
{
    h->nshown = 0;
    for (size_t i = 0; i < h->n; i++)
        if (has_nocase(h->lines[i].keys, h->filter) || has_nocase(h->lines[i].help, h->filter))
            h->shown[h->nshown++] = i;
    h->top = 0;
}

/* Rows of the box that show lines: the frame, a row for the filter, a
 * blank row and the footer take the rest. */
static size_t help_rows(const HelpScreen *h)
{
    int rows = h->box.h - 2 - 3;
    return rows > 0 ? (size_t)rows : 0;
}

static void help_clamp(HelpScreen *h)
{
    size_t rows = help_rows(h);
    size_t max = h->nshown > rows ? h->nshown - rows : 0;
    if (h->top > max)
        h->top = max;
}

static void help_resize(TuiScreen *s, const TuiRect *body)
{
    HelpScreen *h = (HelpScreen *)s;
    int w = tui_text_width(help_footer_scroll);
    for (size_t i = 0; i < h->n; i++) {
        int lw = h->keys_w + 3 + tui_text_width(h->lines[i].help);
        w = lw > w ? lw : w;
    }
    w += 6; /* frame and padding */
    if (w < 44)
        w = 44;
    int ht = (int)h->n + 5; /* frame, filter row, blank row, footer */
    h->box.w = w < body->w ? w : body->w;
    h->box.h = ht < body->h ? ht : body->h;
    h->box.x = body->x + (body->w - h->box.w) / 2;
    h->box.y = body->y + (body->h - h->box.h) / 2;
    help_clamp(h);
}

static void help_draw(TuiScreen *s, const TuiRect *body)
{
    HelpScreen *h = (HelpScreen *)s;
    char title[96];
    (void)body;
    if (h->box.h < 3 || h->box.w < 8)
        return;
    tui_clear(&h->box);
    snprintf(title, sizeof title, "Help%s%s", tui_glyphs()->dash,
             h->under ? h->under->cls->name : "recscope");
    tui_frame(&h->box, title);
    TuiRect in = { h->box.y + 1, h->box.x + 3, h->box.h - 2, h->box.w - 6 };
    if (h->typing || h->filter[0])
        tui_printf(&in, 0, 0, h->typing ? COL_VALUE : COL_DIM, "/%s%s", h->filter,
                   h->typing ? "_" : "");
    size_t rows = help_rows(h);
    for (size_t r = 0; r < rows && h->top + r < h->nshown; r++) {
        const TuiHelpLine *l = &h->lines[h->shown[h->top + r]];
        tui_put(&in, (int)r + 1, 0, COL_VALUE, l->keys);
        tui_put(&in, (int)r + 1, h->keys_w + 3, COL_LABEL, l->help);
    }
    if (h->nshown == 0)
        tui_put(&in, 1, 0, COL_DIM, "no key matches the filter");
    int scrolls = h->nshown > rows || h->filter[0] || h->typing;
    if (h->nshown > rows) {
        char pos[32];
        snprintf(pos, sizeof pos, "%zu-%zu of %zu", h->top + 1,
                 h->top + rows < h->nshown ? h->top + rows : h->nshown, h->nshown);
        tui_put_right(&in, 0, in.w, COL_DIM, pos);
    }
    int fw = tui_put(&in, in.h - 1, 0, COL_DIM, scrolls ? help_footer_scroll : help_footer);
    int vw = tui_text_width("recscope " RS_VERSION);
    if (fw + 2 + vw <= in.w)
        tui_put(&in, in.h - 1, in.w - vw, COL_DIM, "recscope " RS_VERSION);
}

/* A key typed into the filter prompt. */
static TuiIntent help_edit(HelpScreen *h, int key)
{
    size_t len = strlen(h->filter);
    if (key == KEY_ESC) {
        h->typing = 0;
        h->filter[0] = '\0';
    } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
        h->typing = 0;
    } else if (key == KEY_BACKSPACE || key == 127 || key == KEY_CTRL('h')) {
        if (len > 0)
            h->filter[len - 1] = '\0';
        else
            h->typing = 0;
    } else if (key == KEY_CTRL('u')) {
        h->filter[0] = '\0';
    } else if (key >= 32 && key < 127 && len + 1 < sizeof h->filter) {
        h->filter[len] = (char)key;
        h->filter[len + 1] = '\0';
    } else if (key == KEY_RESIZE) {
        return tui_intent(TUI_INTENT_UNHANDLED);
    }
    help_apply_filter(h);
    return tui_intent(TUI_INTENT_REDRAW);
}

static TuiIntent help_key(TuiScreen *s, int action, int key)
{
    HelpScreen *h = (HelpScreen *)s;
    size_t rows = help_rows(h);
    size_t page = rows > 1 ? rows - 1 : 1;
    int down = key == 'j' || key == KEY_DOWN || key == KEY_NPAGE || key == KEY_END || key == 'G';
    if (h->typing)
        return help_edit(h, key);
    switch (action) {
    case TUI_ACT_MOVE:
    case TUI_ACT_PAGE: {
        size_t step = action == TUI_ACT_PAGE ? page : 1;
        h->top = down ? h->top + step : (h->top > step ? h->top - step : 0);
        break;
    }
    case TUI_ACT_ENDS: h->top = down ? h->nshown : 0; break;
    case TUI_ACT_FIND: h->typing = 1; break;
    default:
        /* Esc with a filter kept drops the filter first */
        if (key == KEY_ESC && h->filter[0]) {
            h->filter[0] = '\0';
            help_apply_filter(h);
            break;
        }
        return tui_intent(TUI_INTENT_UNHANDLED);
    }
    help_clamp(h);
    return tui_intent(TUI_INTENT_REDRAW);
}

static void help_free(TuiScreen *s) { free(s); }

static const TuiScreenClass help_class = {
    .name = "Help",
    .keys = help_keys,
    .nkeys = RS_ARRAY_LEN(help_keys),
    .overlay = 1,
    .draw = help_draw,
    .handle_key = help_key,
    .resize = help_resize,
    .free = help_free,
};

TuiScreen *tui_help_new(TuiScreen *under, int depth)
{
    HelpScreen *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->base.cls = &help_class;
    h->under = under;
    h->n = tui_help_lines(under, depth, h->lines, HELP_MAX_LINES);
    for (size_t i = 0; i < h->n; i++) {
        int w = tui_text_width(h->lines[i].keys);
        h->keys_w = w > h->keys_w ? w : h->keys_w;
    }
    help_apply_filter(h);
    return &h->base;
}
