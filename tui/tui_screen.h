/*
 * tui_screen.h - the screen framework of the TUI: screens, intents, key
 * tables and the layout.
 *
 * A screen is a struct whose first member is a TuiScreen pointing at a const
 * TuiScreenClass (its vtable). The event loop in tui.c keeps a stack of
 * screens; only the top one gets keys.
 *
 * A key goes through two steps, neither of which touches the terminal:
 *   1. tui_key_action() maps it to a TuiAction through the top screen's key
 *      table, then the global table (keys.c);
 *   2. the screen's handle_key hook turns the action into a TuiIntent, or
 *      returns TUI_INTENT_UNHANDLED and tui_action_intent() decides.
 * The loop then acts on the intent: redraw, open or close a screen, show
 * help, quit. Handlers never draw.
 *
 * The key-hint bar and the help overlay are generated from the same key
 * tables (tui_key_hints, tui_help_lines), so a binding is declared once.
 * Bindings several screens share (the list movements of tui_table.h, the
 * keys that reach the browsing screens from anywhere) live in shared tables
 * that a screen class lists after its own.
 */
#ifndef RS_TUI_SCREEN_H
#define RS_TUI_SCREEN_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

/* A rectangle of terminal cells: top row, left column, height, width. */
typedef struct TuiRect {
    int y, x, h, w;
} TuiRect;

/* Smallest terminal the TUI draws in; below it says "terminal too small". */
#define TUI_MIN_COLS 80
#define TUI_MIN_LINES 24

/* Geometry of the whole terminal, recomputed on every resize. */
typedef struct TuiLayout {
    int lines, cols;
    int too_small;     /* the screens are not drawn */
    TuiRect title;     /* top row */
    TuiRect body;      /* what a screen draws into */
    TuiRect hints;     /* bottom row: the key-hint bar */
} TuiLayout;

/* Fills lay for a terminal of lines x cols (any values, even <= 0). */
void tui_layout_compute(TuiLayout *lay, int lines, int cols);

/* What a key means, independent of which key it is. */
typedef enum TuiAction {
    TUI_ACT_NONE = 0,
    TUI_ACT_QUIT,   /* leave recscope from any screen */
    TUI_ACT_BACK,   /* close this screen; quits on the first screen */
    TUI_ACT_HELP,   /* the help overlay for this screen */
    TUI_ACT_REDRAW, /* repaint the whole terminal */
    /* reach a screen from anywhere (tui_nav_keys) */
    TUI_ACT_GO_OVERVIEW,
    TUI_ACT_GO_USERS,
    TUI_ACT_GO_ITEMS,
    TUI_ACT_GO_RUNS,
    /* lists (tui_table.h); the key tells the direction where there is one */
    TUI_ACT_MOVE,    /* one row down or up */
    TUI_ACT_PAGE,    /* one page down or up */
    TUI_ACT_ENDS,    /* the first or the last row */
    TUI_ACT_OPEN,    /* open the selected row */
    TUI_ACT_FIND,    /* start typing a filter or a search */
    TUI_ACT_NEXT,    /* next match of the search */
    TUI_ACT_PREV,    /* previous match */
    TUI_ACT_SORT,    /* sort by the next column */
    TUI_ACT_REVERSE, /* reverse the order */
    TUI_ACT_PANE,    /* focus the next (Tab) or previous (BackTab) pane */
    TUI_ACT_EDIT,    /* a key typed into a filter or search prompt */
    /* the model screens from anywhere (tui_models.h); the key tells which:
     * c Compare, w What-if, S the runs shown */
    TUI_ACT_MODELS,
    TUI_ACT_EXPORT,  /* write the table or comparison to a file (tui_export.h) */
    TUI_ACT_SCREEN,  /* first action number free for screen-specific use */
} TuiAction;

/* Screens a key reaches from anywhere (TUI_INTENT_GOTO): the event loop
 * goes back to the nearest one on the stack, or opens a new one. */
typedef enum TuiScreenKind {
    TUI_SCREEN_OTHER = 0,
    TUI_SCREEN_OVERVIEW,
    TUI_SCREEN_USERS,
    TUI_SCREEN_ITEMS,
    TUI_SCREEN_RUNS,
    TUI_SCREEN_COMPARE, /* tui_models_screen_new() builds these three */
    TUI_SCREEN_WHATIF,
    TUI_SCREEN_RUNSEL,
} TuiScreenKind;

#define TUI_KEY_ANY (-2) /* matches every key; ends the lookup */
#define TUI_KEY_HINT 1u  /* flag: show this binding in the key-hint bar */

/* One key binding. Tables are static const arrays; several keys may share
 * an action (the help overlay then lists them on one line). */
typedef struct TuiKey {
    int key;          /* a character, a KEY_* code, or TUI_KEY_ANY */
    const char *name; /* as the user reads it: "q", "Esc", "^L" */
    int action;       /* a TuiAction or a screen's own value >= TUI_ACT_SCREEN */
    const char *help; /* short description: "Quit" */
    unsigned flags;   /* TUI_KEY_HINT */
} TuiKey;

/* A key table that several screen classes share. */
typedef struct TuiKeyTable {
    const TuiKey *keys;
    size_t n;
} TuiKeyTable;

/* The keys that reach the browsing screens from anywhere: o, u, i. */
extern const TuiKeyTable tui_nav_keys;

/* Intent flags returned by key handlers and acted on by the event loop. */
enum {
    TUI_INTENT_NONE = 0,
    TUI_INTENT_REDRAW = 1u << 0,      /* draw the screens again */
    TUI_INTENT_FULL_REDRAW = 1u << 1, /* forget what is on the terminal first */
    TUI_INTENT_RESIZE = 1u << 2,      /* recompute the layout */
    TUI_INTENT_QUIT = 1u << 3,        /* leave the event loop */
    TUI_INTENT_CLOSE = 1u << 4,       /* pop the top screen */
    TUI_INTENT_OPEN = 1u << 5,        /* push TuiIntent.open */
    TUI_INTENT_HELP = 1u << 6,        /* push the help overlay for the top screen */
    TUI_INTENT_UNHANDLED = 1u << 7,   /* handler declined: use tui_action_intent */
    TUI_INTENT_GOTO = 1u << 8,        /* back to, or open, the screen of kind TuiIntent.go */
};

typedef struct TuiScreen TuiScreen;

typedef struct TuiIntent {
    unsigned flags;
    TuiScreen *open; /* with TUI_INTENT_OPEN; the event loop takes ownership */
    int go;          /* with TUI_INTENT_GOTO: a TuiScreenKind */
} TuiIntent;

/* Screen hooks. Any hook may be NULL except draw and free. */
typedef struct TuiScreenClass {
    const char *name;   /* shown at the right of the title bar */
    const TuiKey *keys; /* looked up before the global keys; may be NULL */
    size_t nkeys;
    /* Shared tables looked up after keys and before the global table;
     * NULL-terminated, may be NULL. Their hints come after the global ones. */
    const TuiKeyTable *const *shared;
    int kind;           /* a TuiScreenKind */
    int overlay;        /* drawn on top of the screen beneath it */
    /* Draws into body, which the loop has just erased; clip to it. */
    void (*draw)(TuiScreen *s, const TuiRect *body);
    /* Maps an action (TUI_ACT_NONE for an unbound key) to an intent. */
    TuiIntent (*handle_key)(TuiScreen *s, int action, int key);
    /* Called with the new body before the first draw and on every resize. */
    void (*resize)(TuiScreen *s, const TuiRect *body);
    void (*free)(TuiScreen *s);
    /* May be NULL. Called by the loop when background jobs changed a run
     * and, while this screen is on top, every tick_ms (0: never); returns
     * intent flags (TUI_INTENT_REDRAW when something changed). */
    unsigned (*tick)(TuiScreen *s);
    int tick_ms;
} TuiScreenClass;

struct TuiScreen {
    const TuiScreenClass *cls;
};

static inline TuiIntent tui_intent(unsigned flags)
{
    TuiIntent in = { flags, NULL, 0 };
    return in;
}

static inline TuiIntent tui_intent_open(TuiScreen *s)
{
    TuiIntent in = { s ? TUI_INTENT_OPEN | TUI_INTENT_REDRAW : TUI_INTENT_NONE, s, 0 };
    return in;
}

/* --- keys.c --------------------------------------------------------------- */

/* The action bound to key on screen s (its own table, then the global one);
 * TUI_ACT_NONE when unbound. */
int tui_key_action(const TuiScreen *s, int key);

/* The default meaning of an action on a screen at depth (1 = the first
 * screen): BACK quits at depth 1 and closes otherwise, GO_* go to their
 * screen, and so on. */
TuiIntent tui_action_intent(int action, int depth);

/* Runs one key through screen s at depth: lookup, the screen's hook, then
 * the defaults. Pure apart from what the hook does. */
TuiIntent tui_dispatch_key(TuiScreen *s, int depth, int key);

/* The help text of a binding as shown at depth ("Quit" becomes "Back" for
 * TUI_ACT_BACK below the first screen). */
const char *tui_key_help(const TuiKey *k, int depth);

/* Bindings for the key-hint bar of screen s, in order: its own hinted keys,
 * then the global ones (unless its table has a TUI_KEY_ANY entry). Stores up
 * to max pointers in out and returns how many. */
size_t tui_key_hints(const TuiScreen *s, const TuiKey **out, size_t max);

/* One line of the help overlay: the keys sharing an action, and the text. */
typedef struct TuiHelpLine {
    char keys[32];    /* "q, Esc" */
    const char *help; /* static text */
} TuiHelpLine;

/* The help lines for screen s at depth, grouped by action. Returns how many
 * were stored (at most max). */
size_t tui_help_lines(const TuiScreen *s, int depth, TuiHelpLine *out, size_t max);

/* --- screens ---------------------------------------------------------------- */

/* The dataset overview. Reads the statistics from store (which the caller
 * keeps open and owns) once; store NULL stands for an empty file and shows
 * how to import. path is copied for display. Returns NULL and fills err on
 * failure. */
TuiScreen *tui_overview_new(Store *store, const char *path, RsErr *err);

/* The help overlay for screen under at depth; under must outlive it. Any
 * key closes it. Returns NULL when out of memory. */
TuiScreen *tui_help_new(TuiScreen *under, int depth);

/* The browsing screens. Each reads from store (which the caller keeps open
 * and owns; NULL stands for an empty file) a page at a time through
 * store/browse.h, and shows a database error in its body rather than
 * failing. Each returns NULL only when out of memory. */
TuiScreen *tui_users_new(Store *store);
TuiScreen *tui_user_new(Store *store, int64_t user_id);
TuiScreen *tui_items_new(Store *store);
TuiScreen *tui_item_new(Store *store, int64_t item_id);

/* The model screens (tui_models.h holds the runs they show). Each returns
 * NULL only when out of memory or store is NULL. */
/* Why run run_id recommends item (a dataset index) to user (a dataset
 * index), or to the profile items[0..n) (copied) when user < 0. */
TuiScreen *tui_explain_new(Store *store, int64_t run_id, long user, const uint32_t *items,
                           size_t n, uint32_t item);
/* The selected runs (at least two: the newest fill in) side by side,
 * starting at the user with database id user_id (-1: the first evaluated). */
TuiScreen *tui_compare_new(Store *store, int64_t user_id);
/* A what-if user starting from the history of user_id (-1: nobody). */
TuiScreen *tui_whatif_new(Store *store, int64_t user_id);
/* The run selection overlay. */
TuiScreen *tui_runsel_new(Store *store);

/* Runs, training in the background (screen_runs.c, screen_newrun.c,
 * screen_job.c). jobs (tui_jobs.h) is NULL when the database cannot be
 * written: the screens then say why training is off. store and jobs are
 * the caller's and outlive the screens. Each returns NULL only when out of
 * memory. */
struct TuiJobs;
TuiScreen *tui_runs_new(Store *store, struct TuiJobs *jobs, const char *why_no_jobs);
TuiScreen *tui_newrun_new(Store *store, struct TuiJobs *jobs);
TuiScreen *tui_job_new(struct TuiJobs *jobs, int job_id);
/* The question asked before quitting while trainings run: y quits (the
 * loop then cancels them), any other key closes it. The loop recognises it
 * with tui_quit_confirm_is(). */
TuiScreen *tui_quit_confirm_new(size_t running);
int tui_quit_confirm_is(const TuiScreen *s);

#endif
