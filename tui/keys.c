/*
 * keys.c - the global key table, the screen-switching table, and the
 * key -> action -> intent steps.
 *
 * Nothing here draws or reads the terminal, so the whole path from a key
 * code to what the event loop will do can be unit-tested with a fake screen.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "tui_models.h"
#include "tui_screen.h"

#define KEY_CTRL(c) ((c) & 0x1f)
#define KEY_ESC 27

/* Bindings every screen has, after its own. The first hinted entry of each
 * action is what the key-hint bar shows. */
static const TuiKey global_keys[] = {
    { 'q', "q", TUI_ACT_BACK, "Quit", TUI_KEY_HINT },
    { KEY_ESC, "Esc", TUI_ACT_BACK, "Quit", 0 },
    { '?', "?", TUI_ACT_HELP, "Help", TUI_KEY_HINT },
    { KEY_F(1), "F1", TUI_ACT_HELP, "Help", 0 },
    { KEY_CTRL('l'), "^L", TUI_ACT_REDRAW, "Redraw", TUI_KEY_HINT },
};

static const TuiKey nav_keys[] = {
    { 'u', "u", TUI_ACT_GO_USERS, "Users", TUI_KEY_HINT },
    { 'i', "i", TUI_ACT_GO_ITEMS, "Items", TUI_KEY_HINT },
    { 'o', "o", TUI_ACT_GO_OVERVIEW, "Overview", TUI_KEY_HINT },
    { 'R', "R", TUI_ACT_GO_RUNS, "Runs (training)", 0 },
    /* one action, so one help line; tui_models_intent() reads the key */
    { 'c', "c", TUI_ACT_MODELS, "Compare runs, What-if user, Select runs", 0 },
    { 'w', "w", TUI_ACT_MODELS, "Compare runs, What-if user, Select runs", 0 },
    { 'S', "S", TUI_ACT_MODELS, "Compare runs, What-if user, Select runs", 0 },
};

const TuiKeyTable tui_nav_keys = { nav_keys, RS_ARRAY_LEN(nav_keys) };

/* The tables of screen s in lookup order: its own, its shared ones, the
 * global one. Returns how many were stored (at most max). */
static size_t screen_tables(const TuiScreen *s, TuiKeyTable *out, size_t max)
{
    size_t n = 0;
    if (s && s->cls->keys && n < max)
        out[n++] = (TuiKeyTable) { s->cls->keys, s->cls->nkeys };
    for (size_t i = 0; s && s->cls->shared && s->cls->shared[i] && n < max; i++)
        out[n++] = *s->cls->shared[i];
    if (n < max)
        out[n++] = (TuiKeyTable) { global_keys, RS_ARRAY_LEN(global_keys) };
    return n;
}

/* Looks key up in one table: 1 and *action when found or a wildcard was
 * reached (*action is TUI_ACT_NONE past a wildcard with no match). */
static int table_lookup(const TuiKey *keys, size_t n, int key, int *action)
{
    for (size_t i = 0; i < n; i++) {
        if (keys[i].key == key || keys[i].key == TUI_KEY_ANY) {
            *action = keys[i].action;
            return 1;
        }
    }
    return 0;
}

int tui_key_action(const TuiScreen *s, int key)
{
    TuiKeyTable tables[8];
    size_t n = screen_tables(s, tables, RS_ARRAY_LEN(tables));
    int action = TUI_ACT_NONE;
    for (size_t t = 0; t < n; t++)
        if (table_lookup(tables[t].keys, tables[t].n, key, &action))
            return action;
    return action;
}

TuiIntent tui_action_intent(int action, int depth)
{
    switch (action) {
    case TUI_ACT_QUIT: return tui_intent(TUI_INTENT_QUIT);
    case TUI_ACT_BACK: return tui_intent(depth <= 1 ? TUI_INTENT_QUIT : TUI_INTENT_CLOSE);
    case TUI_ACT_HELP: return tui_intent(TUI_INTENT_HELP);
    case TUI_ACT_REDRAW: return tui_intent(TUI_INTENT_FULL_REDRAW | TUI_INTENT_REDRAW);
    case TUI_ACT_GO_OVERVIEW:
    case TUI_ACT_GO_USERS:
    case TUI_ACT_GO_ITEMS:
    case TUI_ACT_GO_RUNS: {
        TuiIntent in = tui_intent(TUI_INTENT_GOTO | TUI_INTENT_REDRAW);
        in.go = action == TUI_ACT_GO_USERS   ? TUI_SCREEN_USERS
              : action == TUI_ACT_GO_ITEMS ? TUI_SCREEN_ITEMS
              : action == TUI_ACT_GO_RUNS  ? TUI_SCREEN_RUNS
                                           : TUI_SCREEN_OVERVIEW;
        return in;
    }
    default: return tui_intent(TUI_INTENT_NONE);
    }
}

TuiIntent tui_dispatch_key(TuiScreen *s, int depth, int key)
{
    int action = tui_key_action(s, key);
    TuiIntent in = tui_intent(TUI_INTENT_UNHANDLED);
    if (s && s->cls->handle_key)
        in = s->cls->handle_key(s, action, key);
    if ((in.flags & TUI_INTENT_UNHANDLED) && action == TUI_ACT_MODELS)
        in = tui_models_intent(key);
    else if (in.flags & TUI_INTENT_UNHANDLED)
        in = tui_action_intent(action, depth);
    return in;
}

const char *tui_key_help(const TuiKey *k, int depth)
{
    if (k->action == TUI_ACT_BACK && depth > 1 && strcmp(k->help, "Quit") == 0)
        return "Back";
    return k->help;
}

/* Whether a table ends the lookup with a wildcard (a modal screen). */
static int table_modal(const TuiKey *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (keys[i].key == TUI_KEY_ANY)
            return 1;
    return 0;
}

static size_t hints_add(const TuiKey *keys, size_t nkeys, const TuiKey **out, size_t n,
                        size_t max)
{
    for (size_t i = 0; i < nkeys && n < max; i++)
        if (keys[i].flags & TUI_KEY_HINT)
            out[n++] = &keys[i];
    return n;
}

/* The screen's own hints, then the global ones, then the shared tables'
 * (screen switching): the bar is cut at the right on a narrow terminal, and
 * what a screen does matters more than how to leave it. */
size_t tui_key_hints(const TuiScreen *s, const TuiKey **out, size_t max)
{
    const TuiKey *own = s ? s->cls->keys : NULL;
    size_t nown = s ? s->cls->nkeys : 0;
    size_t n = hints_add(own, nown, out, 0, max);
    if (table_modal(own, nown))
        return n;
    n = hints_add(global_keys, RS_ARRAY_LEN(global_keys), out, n, max);
    for (size_t i = 0; s && s->cls->shared && s->cls->shared[i]; i++)
        n = hints_add(s->cls->shared[i]->keys, s->cls->shared[i]->n, out, n, max);
    return n;
}

/* Whether the comma-separated list names holds name. */
static int names_have(const char *names, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = names; (p = strstr(p, name)) != NULL; p += len)
        if ((p == names || (p >= names + 2 && p[-2] == ',')) && (p[len] == ',' || !p[len]))
            return 1;
    return 0;
}

/* Adds k to the help lines: appended to the line of the same action and
 * text when there is one (unless a key of the same name is there: Enter
 * and keypad Enter), else as a new line. */
static size_t help_add(TuiHelpLine *out, size_t n, size_t max, const TuiKey *k, int depth,
                       const int *actions)
{
    const char *help = tui_key_help(k, depth);
    for (size_t i = 0; i < n; i++) {
        if (actions[i] == k->action && strcmp(out[i].help, help) == 0) {
            size_t len = strlen(out[i].keys);
            if (!names_have(out[i].keys, k->name))
                snprintf(out[i].keys + len, sizeof out[i].keys - len, ", %s", k->name);
            return n;
        }
    }
    if (n == max)
        return n;
    snprintf(out[n].keys, sizeof out[n].keys, "%s", k->name);
    out[n].help = help;
    return n + 1;
}

size_t tui_help_lines(const TuiScreen *s, int depth, TuiHelpLine *out, size_t max)
{
    int actions[64];
    size_t n = 0;
    TuiKeyTable tables[8];
    size_t ntables = screen_tables(s, tables, RS_ARRAY_LEN(tables));
    if (max > RS_ARRAY_LEN(actions))
        max = RS_ARRAY_LEN(actions);
    for (size_t t = 0; t < ntables; t++) {
        for (size_t i = 0; i < tables[t].n; i++) {
            const TuiKey *k = &tables[t].keys[i];
            if (k->key == TUI_KEY_ANY)
                continue;
            size_t before = n;
            n = help_add(out, n, max, k, depth, actions);
            if (n > before)
                actions[n - 1] = k->action;
        }
    }
    return n;
}
