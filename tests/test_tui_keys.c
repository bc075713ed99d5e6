/* test_tui_keys.c - the TUI without a terminal: key tables, the key ->
 * action -> intent path, hint and help generation, the layout, and the
 * text sanitising and number formatting every screen draws through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curses.h>
#include <locale.h>
#include <string.h>

#include "tui_screen.h"
#include "tui_theme.h"

/* --- a fake screen with its own bindings ---------------------------------------- */

enum { ACT_FAKE_OPEN = TUI_ACT_SCREEN, ACT_FAKE_IGNORED };

static const TuiKey fake_keys[] = {
    { 'o', "o", ACT_FAKE_OPEN, "Open", TUI_KEY_HINT },
    { 'q', "q", ACT_FAKE_IGNORED, "Not quit", 0 }, /* shadows the global q */
    { 'x', "x", TUI_ACT_QUIT, "Exit", 0 },
};

static int fake_last_action = -1;

static TuiIntent fake_handle_key(TuiScreen *s, int action, int key)
{
    (void) s, (void) key;
    fake_last_action = action;
    if (action == ACT_FAKE_OPEN)
        return tui_intent(TUI_INTENT_REDRAW);
    if (action == ACT_FAKE_IGNORED)
        return tui_intent(TUI_INTENT_NONE);
    return tui_intent(TUI_INTENT_UNHANDLED);
}

static void fake_draw(TuiScreen *s, const TuiRect *body)
{
    (void) s, (void) body;
}

static void fake_free(TuiScreen *s)
{
    (void) s;
}

static const TuiScreenClass fake_class = {
    .name = "Fake",
    .keys = fake_keys,
    .nkeys = RS_ARRAY_LEN(fake_keys),
    .draw = fake_draw,
    .handle_key = fake_handle_key,
    .free = fake_free,
};

static const TuiScreenClass plain_class = {
    .name = "Plain",
    .draw = fake_draw,
    .free = fake_free,
};

static const TuiKey modal_keys[] = {
    { TUI_KEY_ANY, "any key", TUI_ACT_BACK, "Close", TUI_KEY_HINT },
};

static const TuiScreenClass modal_class = {
    .name = "Modal",
    .keys = modal_keys,
    .nkeys = 1,
    .overlay = 1,
    .draw = fake_draw,
    .free = fake_free,
};

/* --- keys and intents ------------------------------------------------------------- */

static void test_global_keys(void **state)
{
    (void) state;
    TuiScreen plain = { &plain_class };
    assert_int_equal(tui_key_action(&plain, 'q'), TUI_ACT_BACK);
    assert_int_equal(tui_key_action(&plain, 27), TUI_ACT_BACK);
    assert_int_equal(tui_key_action(&plain, '?'), TUI_ACT_HELP);
    assert_int_equal(tui_key_action(&plain, KEY_F(1)), TUI_ACT_HELP);
    assert_int_equal(tui_key_action(&plain, 'L' & 0x1f), TUI_ACT_REDRAW);
    assert_int_equal(tui_key_action(&plain, 'z'), TUI_ACT_NONE);
    assert_int_equal(tui_key_action(NULL, 'q'), TUI_ACT_BACK);
}

static void test_action_intents(void **state)
{
    (void) state;
    assert_int_equal(tui_action_intent(TUI_ACT_BACK, 1).flags, TUI_INTENT_QUIT);
    assert_int_equal(tui_action_intent(TUI_ACT_BACK, 2).flags, TUI_INTENT_CLOSE);
    assert_int_equal(tui_action_intent(TUI_ACT_QUIT, 3).flags, TUI_INTENT_QUIT);
    assert_int_equal(tui_action_intent(TUI_ACT_HELP, 1).flags, TUI_INTENT_HELP);
    assert_int_equal(tui_action_intent(TUI_ACT_REDRAW, 1).flags,
                     TUI_INTENT_FULL_REDRAW | TUI_INTENT_REDRAW);
    assert_int_equal(tui_action_intent(TUI_ACT_NONE, 1).flags, TUI_INTENT_NONE);
    assert_null(tui_action_intent(TUI_ACT_HELP, 1).open);
}

static void test_dispatch_screen_keys_first(void **state)
{
    (void) state;
    TuiScreen fake = { &fake_class };
    assert_int_equal(tui_dispatch_key(&fake, 1, 'o').flags, TUI_INTENT_REDRAW);
    assert_int_equal(fake_last_action, ACT_FAKE_OPEN);
    /* the screen's q shadows the global one, and its handler ignores it */
    assert_int_equal(tui_dispatch_key(&fake, 1, 'q').flags, TUI_INTENT_NONE);
    /* unhandled actions fall back to the defaults */
    assert_int_equal(tui_dispatch_key(&fake, 2, 'x').flags, TUI_INTENT_QUIT);
    assert_int_equal(tui_dispatch_key(&fake, 2, 27).flags, TUI_INTENT_CLOSE);
    assert_int_equal(tui_dispatch_key(&fake, 1, '?').flags, TUI_INTENT_HELP);
    /* an unbound key reaches the handler as TUI_ACT_NONE */
    assert_int_equal(tui_dispatch_key(&fake, 1, 'z').flags, TUI_INTENT_NONE);
    assert_int_equal(fake_last_action, TUI_ACT_NONE);
}

static void test_dispatch_without_handler(void **state)
{
    (void) state;
    TuiScreen plain = { &plain_class };
    assert_int_equal(tui_dispatch_key(&plain, 1, 'q').flags, TUI_INTENT_QUIT);
    assert_int_equal(tui_dispatch_key(&plain, 1, 27).flags, TUI_INTENT_QUIT);
    assert_int_equal(tui_dispatch_key(&plain, 1, 'L' & 0x1f).flags,
                     TUI_INTENT_FULL_REDRAW | TUI_INTENT_REDRAW);
}

static void test_modal_any_key(void **state)
{
    (void) state;
    TuiScreen modal = { &modal_class };
    assert_int_equal(tui_dispatch_key(&modal, 2, 'q').flags, TUI_INTENT_CLOSE);
    assert_int_equal(tui_dispatch_key(&modal, 2, '?').flags, TUI_INTENT_CLOSE);
    assert_int_equal(tui_dispatch_key(&modal, 2, KEY_DOWN).flags, TUI_INTENT_CLOSE);
}

/* --- hints and help -------------------------------------------------------------------- */

static void test_hints(void **state)
{
    (void) state;
    const TuiKey *h[8];
    TuiScreen plain = { &plain_class }, fake = { &fake_class }, modal = { &modal_class };
    assert_int_equal(tui_key_hints(&plain, h, 8), 3);
    assert_string_equal(h[0]->name, "q");
    assert_string_equal(tui_key_help(h[0], 1), "Quit");
    assert_string_equal(tui_key_help(h[0], 2), "Back");
    assert_string_equal(h[1]->name, "?");
    assert_string_equal(h[2]->name, "^L");
    assert_int_equal(tui_key_hints(&fake, h, 8), 4);
    assert_string_equal(h[0]->name, "o");
    assert_int_equal(tui_key_hints(&modal, h, 8), 1);
    assert_string_equal(tui_key_help(h[0], 2), "Close");
    assert_int_equal(tui_key_hints(&plain, h, 2), 2);
}

static void test_help_lines(void **state)
{
    (void) state;
    TuiHelpLine lines[16];
    TuiScreen plain = { &plain_class }, fake = { &fake_class };
    size_t n = tui_help_lines(&plain, 1, lines, 16);
    assert_int_equal(n, 3);
    assert_string_equal(lines[0].keys, "q, Esc");
    assert_string_equal(lines[0].help, "Quit");
    assert_string_equal(lines[1].keys, "?, F1");
    assert_string_equal(lines[2].keys, "^L");
    assert_string_equal(lines[2].help, "Redraw");
    n = tui_help_lines(&plain, 2, lines, 16);
    assert_string_equal(lines[0].help, "Back");
    n = tui_help_lines(&fake, 1, lines, 16);
    assert_int_equal(n, 6);
    assert_string_equal(lines[0].keys, "o");
    assert_string_equal(lines[3].keys, "q, Esc"); /* the global q still listed */
    assert_int_equal(tui_help_lines(&plain, 1, lines, 1), 1);
}

/* --- layout --------------------------------------------------------------------------- */

static void test_layout(void **state)
{
    (void) state;
    TuiLayout lay;
    tui_layout_compute(&lay, 24, 80);
    assert_false(lay.too_small);
    assert_int_equal(lay.title.y, 0);
    assert_int_equal(lay.title.w, 80);
    assert_int_equal(lay.body.y, 1);
    assert_int_equal(lay.body.h, 22);
    assert_int_equal(lay.hints.y, 23);
    tui_layout_compute(&lay, 5, 20);
    assert_true(lay.too_small);
    assert_int_equal(lay.body.h, 0);
    tui_layout_compute(&lay, 0, -3);
    assert_true(lay.too_small);
    assert_int_equal(lay.cols, 0);
    tui_layout_compute(&lay, TUI_MIN_LINES, TUI_MIN_COLS);
    assert_false(lay.too_small);
}

/* --- text ----------------------------------------------------------------------------- */

static void assert_fit(const char *src, int maxcols, int utf8, const char *want, int cols)
{
    char buf[64];
    assert_int_equal(tui_text_fit(buf, sizeof buf, src, maxcols, utf8), cols);
    assert_string_equal(buf, want);
}

static void test_sanitise(void **state)
{
    (void) state;
    assert_fit("plain", 80, 1, "plain", 5);
    assert_fit("hello", 3, 1, "hel", 3);
    assert_fit("a\033[31mb", 80, 1, "a?[31mb", 7);
    assert_fit("t\a\bx\x7f", 80, 1, "t??x?", 5);
    assert_fit("a\tb\nc\r", 80, 1, "a b c ", 6);
    assert_fit("\xff\xfe", 80, 1, "??", 2);
    assert_fit("\xc3", 80, 1, "?", 1);                 /* truncated sequence */
    assert_fit("\xc0\xaf", 80, 1, "??", 2);            /* overlong '/' */
    assert_fit("\xed\xa0\x80", 80, 1, "?", 1);         /* a surrogate */
    assert_fit("\xc2\x9b" "2J", 80, 1, "?2J", 3);       /* C1 CSI */
    assert_fit("x\xe2\x80\xaey", 80, 1, "x?y", 3);      /* right-to-left override */
    assert_fit("caf\xc3\xa9", 80, 0, "caf?", 4);        /* ASCII mode */
    assert_fit(NULL, 80, 1, "", 0);
    assert_fit("abc", 0, 1, "", 0);
    char small[4];
    assert_int_equal(tui_text_fit(small, sizeof small, "abcdef", 80, 1), 3);
    assert_string_equal(small, "abc");
}

static void test_sanitise_wide(void **state)
{
    (void) state;
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        skip();
        return;
    }
    assert_fit("caf\xc3\xa9", 80, 1, "caf\xc3\xa9", 4);
    assert_fit("\xe6\x97\xa5\xe6\x9c\xac", 3, 1, "\xe6\x97\xa5", 2); /* a wide char does not split */
    assert_fit("\xe2\x96\x88\xe2\x96\x8c", 80, 1, "\xe2\x96\x88\xe2\x96\x8c", 2);
    setlocale(LC_CTYPE, "C");
}

/* --- numbers ---------------------------------------------------------------------------- */

static void test_numbers(void **state)
{
    (void) state;
    char b[32];
    assert_string_equal(tui_fmt_int(b, sizeof b, 0), "0");
    assert_string_equal(tui_fmt_int(b, sizeof b, 999), "999");
    assert_string_equal(tui_fmt_int(b, sizeof b, 1234567), "1,234,567");
    assert_string_equal(tui_fmt_int(b, sizeof b, -1000), "-1,000");
    assert_string_equal(tui_fmt_int(b, sizeof b, INT64_MIN), "-9,223,372,036,854,775,808");
    assert_string_equal(tui_fmt_num(b, sizeof b, 64.5, 7), "64.5");
    assert_string_equal(tui_fmt_num(b, sizeof b, 737, 7), "737");
    assert_string_equal(tui_fmt_num(b, sizeof b, 12345678, 7), "12M");
    assert_string_equal(tui_fmt_num(b, sizeof b, 1234567, 7), "1.2M");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 0.063), "6.30%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 0.5), "50.0%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 1.0), "100%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 0.00054), "0.054%");
    assert_string_equal(tui_fmt_pct(b, sizeof b, 1e-9), "<0.001%");
    assert_string_equal(tui_fmt_date(b, sizeof b, 0), "1970-01-01");
    assert_string_equal(tui_fmt_date(b, sizeof b, 1585612800), "2020-03-31");
    assert_string_equal(tui_fmt_span(b, sizeof b, 4.5 * 86400), "4.5 days");
    assert_string_equal(tui_fmt_span(b, sizeof b, 3 * 3600), "3.0 h");
    assert_string_equal(tui_fmt_span(b, sizeof b, 2 * 365.25 * 86400), "2.0 years");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_global_keys),
        cmocka_unit_test(test_action_intents),
        cmocka_unit_test(test_dispatch_screen_keys_first),
        cmocka_unit_test(test_dispatch_without_handler),
        cmocka_unit_test(test_modal_any_key),
        cmocka_unit_test(test_hints),
        cmocka_unit_test(test_help_lines),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_sanitise),
        cmocka_unit_test(test_sanitise_wide),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
