/*
 * screen_whatif.c - the cold-start demo: a made-up user, from a real
 * user's history or from nobody. Items are added by searching the
 * catalogue (a / b: title, id, genre or tag substring, store_items) and
 * toggled off and on (Space) or removed (d); on every change the selected
 * runs recommend for the profile at once by fold-in
 * (model_recommend_profile: no retraining), side by side on the right.
 * Enter on a recommendation explains it for the profile. + and - change
 * K (starting from the settings' default_k, see config.h) and save it as
 * the new default_k.
 *
 * Layout: the profile on the left (the search prompt and its matches over
 * it while searching), the runs' lists on the right.
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "query.h"
#include "tui_models.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

#define WI_MAXITEMS 1024
#define WI_MATCHES 50

static const size_t wi_ks[] = { 5, 10, 20, 50 }; /* the steps of + and - */

enum { WI_PROFILE, WI_RECS };

typedef struct WhatifMatch {
    uint32_t item; /* dataset index */
    char label[160];
} WhatifMatch;

typedef struct WhatifScreen {
    TuiScreen base;
    Store *store; /* not owned */
    TuiModels *models;
    char origin[160];         /* "user 12" or "nobody" */
    int64_t from_user;        /* database id of the user to start from once loaded; -1 none */
    int search_stale;         /* the search ran before the dataset was loaded */
    uint32_t items[WI_MAXITEMS];
    uint8_t on[WI_MAXITEMS];
    size_t n;
    int pcur, ptop;           /* the profile's cursor and scroll */
    int focus;
    /* recommendations */
    unsigned gen;
    int dirty;
    size_t K;                 /* <= TUI_RECS_MAXK */
    char kmsg[120];           /* how saving K went; "" nothing to say */
    size_t nl;
    TuiRecList lists[TUI_MODELS_MAXSEL];
    int rcol, rrow;
    /* the search */
    int searching;
    char query[96];
    WhatifMatch match[WI_MATCHES];
    size_t nmatch;
    int mcur;
    char msg[RS_ERRLEN];
    TuiRect left, right;
} WhatifScreen;

enum { WI_ACT_SEARCH = TUI_ACT_SCREEN, WI_ACT_TOGGLE, WI_ACT_REMOVE, WI_ACT_COLUMN, WI_ACT_ADD,
       WI_ACT_TYPE, WI_ACT_K };

static const TuiKey whatif_keys[] = {
    { 'a', "a", WI_ACT_SEARCH, "Add items (search)", TUI_KEY_HINT },
    { '/', "/", WI_ACT_SEARCH, "Add items (search)", 0 },
    { ' ', "Space", WI_ACT_TOGGLE, "Item on / off", TUI_KEY_HINT },
    { 'd', "d", WI_ACT_REMOVE, "Remove item", TUI_KEY_HINT },
    { '\r', "Enter", TUI_ACT_OPEN, "Explain / toggle", 0 },
    { KEY_ENTER, "Enter", TUI_ACT_OPEN, "Explain / toggle", 0 },
    { '\t', "Tab", TUI_ACT_PANE, "Next pane", TUI_KEY_HINT },
    { KEY_BTAB, "S-Tab", TUI_ACT_PANE, "Next pane", 0 },
    { KEY_LEFT, "Left", WI_ACT_COLUMN, "Previous / next run", 0 },
    { KEY_RIGHT, "Right", WI_ACT_COLUMN, "Previous / next run", 0 },
    { '+', "+", WI_ACT_K, "Larger / smaller K (saved)", TUI_KEY_HINT },
    { '=', "=", WI_ACT_K, "Larger / smaller K (saved)", 0 },
    { '-', "-", WI_ACT_K, "Larger / smaller K (saved)", 0 },
};

static const TuiKey whatif_edit_keys[] = {
    { '\r', "Enter", WI_ACT_ADD, "Add the match", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", WI_ACT_ADD, "Add the match", 0 },
    { 27, "Esc", TUI_ACT_BACK, "Done", TUI_KEY_HINT },
    { KEY_DOWN, "Down", TUI_ACT_MOVE, "Next / previous match", TUI_KEY_HINT },
    { KEY_UP, "Up", TUI_ACT_MOVE, "Next / previous match", 0 },
    { TUI_KEY_ANY, "text", WI_ACT_TYPE, "Type", 0 },
};

static const TuiKeyTable *const whatif_shared[] = { &tui_table_keys, &tui_nav_keys, NULL };

/* --- the profile and the lists ---------------------------------------------------------------- */

static int profile_has(const WhatifScreen *ws, uint32_t item)
{
    for (size_t k = 0; k < ws->n; k++)
        if (ws->items[k] == item)
            return 1;
    return 0;
}

static void lists_make(WhatifScreen *ws)
{
    if (!ws->models || (!ws->dirty && ws->gen == tui_models_gen(ws->models)))
        return;
    size_t idx[TUI_MODELS_MAXSEL], np = 0;
    if (!tui_models_ready(ws->models) || ws->from_user >= 0) { /* made again once loaded */
        ws->nl = tui_models_selected(ws->models, idx, TUI_MODELS_MAXSEL);
        for (size_t j = 0; j < ws->nl; j++)
            tui_models_placeholder(ws->models, idx[j], &ws->lists[j]);
        ws->gen = tui_models_gen(ws->models);
        return;
    }
    uint32_t *on = malloc((ws->n ? ws->n : 1) * sizeof *on);
    for (size_t k = 0; on && k < ws->n; k++)
        if (ws->on[k])
            on[np++] = ws->items[k];
    RsProfile p = { np, on, NULL };
    ws->nl = tui_models_selected(ws->models, idx, TUI_MODELS_MAXSEL);
    for (size_t j = 0; j < ws->nl; j++)
        tui_models_recommend(ws->models, idx[j], -1, &p, ws->K, &ws->lists[j]);
    free(on);
    ws->dirty = 0;
    ws->gen = tui_models_gen(ws->models);
    if (ws->rcol >= (int)ws->nl)
        ws->rcol = 0;
}

static void search_run(WhatifScreen *ws)
{
    StoreItemRow *rows = NULL;
    size_t n = 0;
    RsErr err;
    rs_err_clear(&err);
    ws->nmatch = 0;
    ws->mcur = 0;
    ws->msg[0] = '\0';
    if (!ws->query[0])
        return;
    if (!ws->models)
        return;
    ws->search_stale = !tui_models_dataset(ws->models, &err);
    if (ws->search_stale && err.code != TUI_MODELS_LOADING) {
        ws->search_stale = 0;
        snprintf(ws->msg, sizeof ws->msg, "%s", err.msg);
        return;
    }
    if (ws->search_stale) { /* searched again once the dataset is in */
        snprintf(ws->msg, sizeof ws->msg, "loading the dataset...");
        return;
    }
    if (store_items(ws->store, ws->query, WI_MATCHES, &rows, &n, &err)) {
        snprintf(ws->msg, sizeof ws->msg, "%s", err.msg);
        return;
    }
    for (size_t k = 0; k < n && ws->nmatch < WI_MATCHES; k++) {
        long i = tui_models_item(ws->models, rows[k].id);
        if (i < 0)
            continue;
        WhatifMatch *m = &ws->match[ws->nmatch++];
        m->item = (uint32_t)i;
        if (rows[k].year > 0)
            snprintf(m->label, sizeof m->label, "%.140s (%d)",
                     rows[k].title ? rows[k].title : rows[k].ext_id, rows[k].year);
        else
            snprintf(m->label, sizeof m->label, "%.150s",
                     rows[k].title ? rows[k].title : rows[k].ext_id);
    }
    store_items_free(rows, n);
}

/* --- drawing ---------------------------------------------------------------------------------- */

static void draw_profile(WhatifScreen *ws, const TuiRect *r)
{
    size_t on = 0;
    for (size_t k = 0; k < ws->n; k++)
        on += ws->on[k];
    char detail[96];
    snprintf(detail, sizeof detail, "%zu items, %zu on", ws->n, on);
    tui_put(r, 0, 0, ws->focus == WI_PROFILE ? COL_HEADER : COL_LABEL, "Profile");
    tui_put(r, 0, 9, COL_DIM, detail);
    if (ws->n == 0) {
        tui_put(r, 2, 0, COL_DIM, "empty: a adds items by searching");
        return;
    }
    int rows = r->h - 1;
    if (ws->pcur < ws->ptop)
        ws->ptop = ws->pcur;
    if (rows > 0 && ws->pcur >= ws->ptop + rows)
        ws->ptop = ws->pcur - rows + 1;
    for (int row = 0; row < rows && (size_t)(ws->ptop + row) < ws->n; row++) {
        size_t k = (size_t)(ws->ptop + row);
        int sel = ws->focus == WI_PROFILE && (int)k == ws->pcur;
        if (sel)
            tui_fill(r, row + 1, COL_SELECTED);
        int x = tui_put(r, row + 1, 0, sel ? COL_SELECTED : COL_VALUE, ws->on[k] ? "[x] " : "[ ] ");
        tui_put_clip(r, row + 1, x, sel ? COL_SELECTED : ws->on[k] ? COL_DEFAULT : COL_DIM,
                     tui_models_item_label(ws->models, ws->items[k]));
    }
}

static void draw_search(WhatifScreen *ws, const TuiRect *r)
{
    int x = tui_put(r, 0, 0, COL_HEADER, "Add: ");
    x += tui_put(r, 0, x, COL_VALUE, ws->query);
    tui_put(r, 0, x, COL_VALUE, tui_glyphs()->cursor);
    if (ws->msg[0]) {
        tui_put(r, 1, 0, COL_ERROR, ws->msg);
        return;
    }
    if (ws->query[0] && ws->nmatch == 0)
        tui_put(r, 1, 0, COL_DIM, "no item matches");
    if (!ws->query[0])
        tui_put(r, 1, 0, COL_DIM, "type part of a title, id, genre or tag");
    for (int k = 0; k < (int)ws->nmatch && k + 1 < r->h; k++) {
        int sel = k == ws->mcur;
        const WhatifMatch *m = &ws->match[k];
        if (sel)
            tui_fill(r, k + 1, COL_SELECTED);
        int in = profile_has(ws, m->item);
        int cx = tui_put(r, k + 1, 0, sel ? COL_SELECTED : COL_DIM, in ? "  + " : "    ");
        tui_put(r, k + 1, cx, sel ? COL_SELECTED : COL_DEFAULT, m->label);
    }
}

static void draw_recs(WhatifScreen *ws, const TuiRect *r)
{
    tui_put(r, 0, 0, ws->focus == WI_RECS ? COL_HEADER : COL_LABEL, "Recommendations");
    char about[200];
    snprintf(about, sizeof about, "top %zu%s, fold-in, no retraining", ws->K, ws->kmsg);
    tui_put_clip(r, 0, 17, COL_DIM, about);
    if (!ws->models) {
        tui_put(r, 2, 0, COL_DIM, "no finished run yet");
        return;
    }
    lists_make(ws);
    if (ws->nl == 0) {
        tui_put(r, 2, 0, COL_DIM, "no run selected (S selects runs)");
        return;
    }
    int ncols = r->w / 20;
    ncols = ncols < 1 ? 1 : ncols > (int)ws->nl ? (int)ws->nl : ncols;
    int first = ws->rcol >= ncols ? ws->rcol - ncols + 1 : 0, w = (r->w - (ncols - 1)) / ncols;
    for (int c = 0; c < ncols; c++) {
        const TuiRecList *l = &ws->lists[first + c];
        const TuiRun *run = tui_models_run(ws->models, l->run);
        TuiRect hr = { r->y, r->x + c * (w + 1), r->h, w };
        int cur = ws->focus == WI_RECS && first + c == ws->rcol;
        tui_printf(&hr, 1, 0, cur ? COL_HEADER : COL_LABEL, "%s (%s)", run->name, run->algo);
        tui_models_draw_recs(ws->models, r, 2, c * (w + 1), w, l, -1, cur ? ws->rrow : -1, NULL,
                             0, NULL);
    }
}

static void whatif_from_user(WhatifScreen *ws, const RsDataset *d, uint32_t u);

/* What waited for the dataset or a run: the user to start from, the
 * search typed meanwhile. */
static void whatif_resolve(WhatifScreen *ws)
{
    if (ws->from_user >= 0) {
        const RsDataset *d = tui_models_dataset(ws->models, NULL);
        long u = d ? tui_models_user(ws->models, ws->from_user) : -1;
        if (d && u < 0) {
            ws->from_user = -1;
            snprintf(ws->origin, sizeof ws->origin, "from nobody (user not in the dataset)");
        } else if (d) {
            whatif_from_user(ws, d, (uint32_t)u);
        } else if (!tui_models_loading(ws->models)) {
            ws->from_user = -1; /* the dataset cannot be loaded: the lists say why */
            snprintf(ws->origin, sizeof ws->origin, "from nobody");
        }
    }
    if (ws->search_stale && !tui_models_loading(ws->models))
        search_run(ws);
}

static void whatif_draw(TuiScreen *s, const TuiRect *body)
{
    WhatifScreen *ws = (WhatifScreen *)s;
    if (ws->models)
        whatif_resolve(ws);
    int pad = body->h > 16, w = body->w - 2;
    TuiRect head = { body->y + pad, body->x + 1, 1, w };
    tui_heading(&head, 0, "What-if user", ws->origin);
    int top = head.y + 2, h = body->y + body->h - top;
    int lw = w >= 72 ? w * 2 / 5 : w;
    ws->left = (TuiRect) { top, body->x + 1, w >= 72 ? h : h / 2, lw };
    ws->right = w >= 72 ? (TuiRect) { top, body->x + 1 + lw + 3, h, w - lw - 3 }
                        : (TuiRect) { top + h / 2, body->x + 1, h - h / 2, w };
    if (ws->searching)
        draw_search(ws, &ws->left);
    else
        draw_profile(ws, &ws->left);
    draw_recs(ws, &ws->right);
}

/* --- keys ------------------------------------------------------------------------------------- */

static const TuiScreenClass whatif_class, whatif_edit_class;

static TuiIntent search_key(WhatifScreen *ws, int action, int key)
{
    size_t len = strlen(ws->query);
    switch (action) {
    case TUI_ACT_BACK:
        ws->searching = 0;
        ws->base.cls = &whatif_class;
        return tui_intent(TUI_INTENT_REDRAW);
    case TUI_ACT_MOVE:
        ws->mcur += key == KEY_UP ? -1 : 1;
        ws->mcur = ws->mcur >= (int)ws->nmatch ? (int)ws->nmatch - 1 : ws->mcur;
        ws->mcur = ws->mcur < 0 ? 0 : ws->mcur;
        return tui_intent(TUI_INTENT_REDRAW);
    case WI_ACT_ADD:
        if (ws->nmatch > 0 && ws->n < WI_MAXITEMS &&
            !profile_has(ws, ws->match[ws->mcur].item)) {
            ws->items[ws->n] = ws->match[ws->mcur].item;
            ws->on[ws->n++] = 1;
            ws->pcur = (int)ws->n - 1; /* the profile shows what was added */
            ws->dirty = 1;
        }
        return tui_intent(TUI_INTENT_REDRAW);
    default:
        break;
    }
    if (key == KEY_BACKSPACE || key == 127 || key == ('h' & 0x1f)) {
        if (len > 0) {
            while (len > 0 && ((unsigned char)ws->query[len - 1] & 0xC0) == 0x80)
                len--;
            ws->query[len > 0 ? len - 1 : 0] = '\0';
        }
    } else if (key == ('u' & 0x1f)) {
        ws->query[0] = '\0';
    } else if (key >= 32 && key < 256 && key != 127 && len + 1 < sizeof ws->query) {
        ws->query[len] = (char)key;
        ws->query[len + 1] = '\0';
    } else {
        return tui_intent(TUI_INTENT_NONE);
    }
    search_run(ws);
    return tui_intent(TUI_INTENT_REDRAW);
}

/* The next step of wi_ks above (dir > 0) or below K, kept as the
 * settings' default_k and saved to the settings file. */
static TuiIntent k_change(WhatifScreen *ws, int dir)
{
    size_t K = ws->K;
    for (size_t j = 0; j < RS_ARRAY_LEN(wi_ks); j++) {
        size_t c = wi_ks[dir > 0 ? j : RS_ARRAY_LEN(wi_ks) - 1 - j];
        if (dir > 0 ? c > ws->K : c < ws->K) {
            K = c;
            break;
        }
    }
    if (K == ws->K)
        return tui_intent(TUI_INTENT_NONE);
    ws->K = K;
    ws->dirty = 1;
    Config *cfg = config_current();
    cfg->default_k = (int)K;
    RsErr err;
    rs_err_clear(&err);
    if (!cfg->path[0])
        ws->kmsg[0] = '\0';
    else if (config_save(cfg, NULL, &err) == RS_OK)
        snprintf(ws->kmsg, sizeof ws->kmsg, " (saved)");
    else
        snprintf(ws->kmsg, sizeof ws->kmsg, " (not saved: %.90s)", err.msg);
    return tui_intent(TUI_INTENT_REDRAW);
}

static TuiIntent recs_open(WhatifScreen *ws)
{
    if (ws->rcol >= (int)ws->nl)
        return tui_intent(TUI_INTENT_NONE);
    const TuiRecList *l = &ws->lists[ws->rcol];
    const TuiRun *run = tui_models_run(ws->models, l->run);
    if (!l->ok || ws->rrow >= (int)l->n || !run)
        return tui_intent(TUI_INTENT_NONE);
    uint32_t on[WI_MAXITEMS];
    size_t np = 0;
    for (size_t k = 0; k < ws->n; k++)
        if (ws->on[k])
            on[np++] = ws->items[k];
    return tui_intent_open(
        tui_explain_new(ws->store, run->id, -1, on, np, l->recs[ws->rrow].item));
}

static TuiIntent whatif_key(TuiScreen *s, int action, int key)
{
    WhatifScreen *ws = (WhatifScreen *)s;
    if (ws->searching)
        return search_key(ws, action, key);
    int *cur = ws->focus == WI_PROFILE ? &ws->pcur : &ws->rrow;
    int n = ws->focus == WI_PROFILE ? (int)ws->n
          : ws->rcol < (int)ws->nl  ? (int)ws->lists[ws->rcol].n : 0;
    switch (action) {
    case WI_ACT_SEARCH:
        if (!ws->models)
            return tui_intent(TUI_INTENT_NONE);
        ws->searching = 1;
        ws->base.cls = &whatif_edit_class;
        search_run(ws);
        return tui_intent(TUI_INTENT_REDRAW);
    case WI_ACT_TOGGLE:
    case TUI_ACT_OPEN:
        if (ws->focus == WI_RECS)
            return action == TUI_ACT_OPEN ? recs_open(ws) : tui_intent(TUI_INTENT_NONE);
        if (ws->pcur < (int)ws->n) {
            ws->on[ws->pcur] = !ws->on[ws->pcur];
            ws->dirty = 1;
        }
        return tui_intent(TUI_INTENT_REDRAW);
    case WI_ACT_REMOVE:
        if (ws->focus != WI_PROFILE || ws->pcur >= (int)ws->n)
            return tui_intent(TUI_INTENT_NONE);
        memmove(&ws->items[ws->pcur], &ws->items[ws->pcur + 1],
                (ws->n - (size_t)ws->pcur - 1) * sizeof *ws->items);
        memmove(&ws->on[ws->pcur], &ws->on[ws->pcur + 1], ws->n - (size_t)ws->pcur - 1);
        ws->n--;
        ws->dirty = 1;
        n--;
        break;
    case TUI_ACT_PANE:
        ws->focus = ws->focus == WI_PROFILE ? WI_RECS : WI_PROFILE;
        return tui_intent(TUI_INTENT_REDRAW);
    case WI_ACT_K:
        return k_change(ws, key == '-' ? -1 : 1);
    case WI_ACT_COLUMN:
        ws->rcol += key == KEY_LEFT ? -1 : 1;
        ws->rcol = ws->rcol >= (int)ws->nl ? (int)ws->nl - 1 : ws->rcol;
        ws->rcol = ws->rcol < 0 ? 0 : ws->rcol;
        return tui_intent(TUI_INTENT_REDRAW);
    case TUI_ACT_MOVE: *cur += key == KEY_UP || key == 'k' ? -1 : 1; break;
    case TUI_ACT_PAGE:
    case TUI_ACT_ENDS:
        *cur = key == KEY_PPAGE || key == KEY_HOME || key == 'g' || key == ('b' & 0x1f) ? 0
                                                                                     : n - 1;
        break;
    default: return tui_intent(TUI_INTENT_UNHANDLED);
    }
    *cur = *cur >= n ? n - 1 : *cur;
    *cur = *cur < 0 ? 0 : *cur;
    return tui_intent(TUI_INTENT_REDRAW);
}

/* A run finished in the background: its list appears. */
static unsigned whatif_tick(TuiScreen *s)
{
    WhatifScreen *ws = (WhatifScreen *)s;
    return tui_models_tick(&ws->models, ws->store);
}

static void whatif_free(TuiScreen *s)
{
    free(s);
}

static const TuiScreenClass whatif_class = {
    .name = "What-if",
    .keys = whatif_keys,
    .nkeys = RS_ARRAY_LEN(whatif_keys),
    .shared = whatif_shared,
    .kind = TUI_SCREEN_WHATIF,
    .draw = whatif_draw,
    .handle_key = whatif_key,
    .tick = whatif_tick,
    .free = whatif_free,
};

/* The same screen while the search prompt is open. */
static const TuiScreenClass whatif_edit_class = {
    .name = "What-if",
    .keys = whatif_edit_keys,
    .nkeys = RS_ARRAY_LEN(whatif_edit_keys),
    .kind = TUI_SCREEN_WHATIF,
    .draw = whatif_draw,
    .handle_key = whatif_key,
    .tick = whatif_tick,
    .free = whatif_free,
};

/* Starts the profile from user u's training history under the split of
 * the first selected run, every item on: the held-out test items stay
 * out, so the what-if lists can be compared with the user's own. */
static void whatif_from_user(WhatifScreen *ws, const RsDataset *d, uint32_t u)
{
    const RsMatrix *train;
    const char *split;
    RsErr err;
    rs_err_clear(&err);
    int rc = tui_models_train_part(ws->models, &train, &split, &err);
    if (rc == TUI_MODELS_LOADING)
        return; /* again on the next draw */
    ws->from_user = -1;
    ws->dirty = 1;
    if (rc) {
        snprintf(ws->origin, sizeof ws->origin, "from nobody (user %.60s: %.60s)",
                 d->cat->user_ext[u], err.msg);
        return;
    }
    for (size_t k = train->u_ptr[u]; k < train->u_ptr[u + 1] && ws->n < WI_MAXITEMS; k++) {
        ws->items[ws->n] = train->u_items[k];
        ws->on[ws->n++] = 1;
    }
    snprintf(ws->origin, sizeof ws->origin, "from the training history of user %.50s, split %.50s",
             d->cat->user_ext[u], split);
}

TuiScreen *tui_whatif_new(Store *store, int64_t user_id)
{
    WhatifScreen *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->base.cls = &whatif_class;
    ws->store = store;
    ws->models = tui_models_for(store);
    ws->dirty = 1;
    int k = config_current()->default_k;
    ws->K = k < 1 ? 1 : k > TUI_RECS_MAXK ? TUI_RECS_MAXK : (size_t)k;
    snprintf(ws->origin, sizeof ws->origin, "from nobody");
    if (ws->models) {
        tui_models_refresh(ws->models, NULL);
        if (tui_models_nruns(ws->models) == 0)
            ws->models = NULL;
    }
    ws->from_user = ws->models ? user_id : -1;
    if (ws->from_user >= 0)
        snprintf(ws->origin, sizeof ws->origin, "loading the user's training history...");
    return &ws->base;
}
