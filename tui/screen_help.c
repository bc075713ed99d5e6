/*
 * screen_help.c - the help overlay: a framed box over the screen beneath,
 * listing that screen's bindings and the global ones, generated from the
 * key tables by tui_help_lines(). Any key closes it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tui_screen.h"
#include "tui_theme.h"

#define HELP_MAX_LINES 32

typedef struct HelpScreen {
    TuiScreen base;
    const TuiScreen *under;
    TuiHelpLine lines[HELP_MAX_LINES];
    size_t n;
    int keys_w;  /* width of the key column */
    TuiRect box; /* recomputed by help_resize */
} HelpScreen;

static const TuiKey help_keys[] = {
    { TUI_KEY_ANY, "any key", TUI_ACT_BACK, "Close", TUI_KEY_HINT },
};

static const char help_footer[] = "press any key to close";

static void help_resize(TuiScreen *s, const TuiRect *body)
{
    HelpScreen *h = (HelpScreen *) s;
    int w = tui_text_width(help_footer);
    for (size_t i = 0; i < h->n; i++) {
        int lw = h->keys_w + 3 + tui_text_width(h->lines[i].help);
        w = lw > w ? lw : w;
    }
    w += 6; /* frame and padding */
    if (w < 44)
        w = 44;
    int ht = (int) h->n + 6;
    h->box.w = w < body->w ? w : body->w;
    h->box.h = ht < body->h ? ht : body->h;
    h->box.x = body->x + (body->w - h->box.w) / 2;
    h->box.y = body->y + (body->h - h->box.h) / 2;
}

static void help_draw(TuiScreen *s, const TuiRect *body)
{
    HelpScreen *h = (HelpScreen *) s;
    char title[96];
    (void) body;
    tui_clear(&h->box);
    snprintf(title, sizeof title, "Help%s%s", tui_glyphs()->dash,
             h->under ? h->under->cls->name : "recscope");
    tui_frame(&h->box, title);
    TuiRect in = { h->box.y + 1, h->box.x + 3, h->box.h - 2, h->box.w - 6 };
    for (size_t i = 0; i < h->n; i++) {
        tui_put(&in, (int) i + 1, 0, COL_VALUE, h->lines[i].keys);
        tui_put(&in, (int) i + 1, h->keys_w + 3, COL_LABEL, h->lines[i].help);
    }
    int fw = tui_put(&in, in.h - 2, 0, COL_DIM, help_footer);
    int vw = tui_text_width("recscope " RS_VERSION);
    if (fw + 2 + vw <= in.w)
        tui_put(&in, in.h - 2, in.w - vw, COL_DIM, "recscope " RS_VERSION);
}

static void help_free(TuiScreen *s)
{
    free(s);
}

static const TuiScreenClass help_class = {
    .name = "Help",
    .keys = help_keys,
    .nkeys = RS_ARRAY_LEN(help_keys),
    .overlay = 1,
    .draw = help_draw,
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
    return &h->base;
}
