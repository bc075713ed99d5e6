/*
 * keys.c - the global key table and the key -> action -> intent steps.
 *
 * Nothing here draws or reads the terminal, so the whole path from a key
 * code to what the event loop will do can be unit-tested with a fake screen.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>

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
    int action = TUI_ACT_NONE;
    if (s && table_lookup(s->cls->keys, s->cls->nkeys, key, &action))
        return action;
    table_lookup(global_keys, RS_ARRAY_LEN(global_keys), key, &action);
    return action;
}

TuiIntent tui_action_intent(int action, int depth)
{
    switch (action) {
    case TUI_ACT_QUIT: return tui_intent(TUI_INTENT_QUIT);
    case TUI_ACT_BACK: return tui_intent(depth <= 1 ? TUI_INTENT_QUIT : TUI_INTENT_CLOSE);
    case TUI_ACT_HELP: return tui_intent(TUI_INTENT_HELP);
    case TUI_ACT_REDRAW: return tui_intent(TUI_INTENT_FULL_REDRAW | TUI_INTENT_REDRAW);
    default: return tui_intent(TUI_INTENT_NONE);
    }
}

TuiIntent tui_dispatch_key(TuiScreen *s, int depth, int key)
{
    int action = tui_key_action(s, key);
    TuiIntent in = tui_intent(TUI_INTENT_UNHANDLED);
    if (s && s->cls->handle_key)
        in = s->cls->handle_key(s, action, key);
    if (in.flags & TUI_INTENT_UNHANDLED)
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

size_t tui_key_hints(const TuiScreen *s, const TuiKey **out, size_t max)
{
    const TuiKey *own = s ? s->cls->keys : NULL;
    size_t nown = s ? s->cls->nkeys : 0, n = 0;
    for (size_t i = 0; i < nown && n < max; i++)
        if (own[i].flags & TUI_KEY_HINT)
            out[n++] = &own[i];
    if (table_modal(own, nown))
        return n;
    for (size_t i = 0; i < RS_ARRAY_LEN(global_keys) && n < max; i++)
        if (global_keys[i].flags & TUI_KEY_HINT)
            out[n++] = &global_keys[i];
    return n;
}

/* Adds k to the help lines: appended to the line of the same action and
 * text when there is one, else as a new line. */
static size_t help_add(TuiHelpLine *out, size_t n, size_t max, const TuiKey *k, int depth,
                       const int *actions)
{
    const char *help = tui_key_help(k, depth);
    for (size_t i = 0; i < n; i++) {
        if (actions[i] == k->action && strcmp(out[i].help, help) == 0) {
            size_t len = strlen(out[i].keys);
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
    const TuiKey *tables[2] = { s ? s->cls->keys : NULL, global_keys };
    size_t sizes[2] = { s ? s->cls->nkeys : 0, RS_ARRAY_LEN(global_keys) };
    if (max > RS_ARRAY_LEN(actions))
        max = RS_ARRAY_LEN(actions);
    for (int t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizes[t]; i++) {
            const TuiKey *k = &tables[t][i];
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
