/* test_cli.c - the command line's output helpers for untrusted text:
 * cli_clean() for the terminal (C0, DEL and C1 controls, invalid and cut
 * UTF-8, cutting to fit at a character boundary) and json_str()/tsv_str()
 * escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void test_clean_controls(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(cli_clean("plain text", b, sizeof b), "plain text");
    assert_string_equal(cli_clean(NULL, b, sizeof b), "-");
    assert_string_equal(cli_clean("\033[2Jx", b, sizeof b), "?[2Jx");
    assert_string_equal(cli_clean("\033]0;t\007y", b, sizeof b), "?]0;t?y");
    assert_string_equal(cli_clean("a\nb\tc\177", b, sizeof b), "a?b?c?");
    /* U+009B (CSI) and U+0085 are C1 controls; U+00A0 and up are text */
    assert_string_equal(cli_clean("\xc2\x9b" "2J\xc2\x85", b, sizeof b), "?2J?");
    assert_string_equal(cli_clean("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac", b, sizeof b),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac");
}

static void test_clean_invalid_utf8(void **state)
{
    (void)state;
    char b[64];
    /* a stray continuation byte, a raw 8-bit CSI, an overlong '/', a
     * surrogate, a lead byte above U+10FFFF */
    assert_string_equal(cli_clean("a\x80" "b\x9b" "c", b, sizeof b), "a?b?c");
    assert_string_equal(cli_clean("\xc0\xaf|\xed\xa0\x80|\xf5\x80\x80\x80", b, sizeof b),
                        "??|???|????");
    /* sequences cut short by the end of the string never read past it */
    char *cut = malloc(3);
    memcpy(cut, "x\xf0", 3);
    assert_string_equal(cli_clean(cut, b, sizeof b), "x?");
    memcpy(cut, "\xe2\x82", 3);
    assert_string_equal(cli_clean(cut, b, sizeof b), "??");
    free(cut);
}

static void test_clean_cuts_at_characters(void **state)
{
    (void)state;
    char b[5];
    assert_string_equal(cli_clean("abcdef", b, sizeof b), "abcd");
    assert_string_equal(cli_clean("abc\xc3\xa9", b, sizeof b), "abc");
    assert_string_equal(cli_clean("\xe2\x82\xac\xe2\x82\xac", b, sizeof b), "\xe2\x82\xac");
}

/* What f(s) writes, in a static buffer. */
static const char *written(void (*f)(FILE *, const char *), const char *s)
{
    static char buf[256];
    FILE *m = fmemopen(buf, sizeof buf, "w");
    assert_non_null(m);
    f(m, s);
    fclose(m);
    return buf;
}

static void test_json_tsv_escape(void **state)
{
    (void)state;
    assert_string_equal(written(json_str, "q\"b\\n\n\033[2J\007"),
                        "\"q\\\"b\\\\n\\n\\u001b[2J\\u0007\"");
    assert_string_equal(written(json_str, NULL), "null");
    assert_string_equal(written(json_str, "100% _x_ caf\xc3\xa9"), "\"100% _x_ caf\xc3\xa9\"");
    assert_string_equal(written(tsv_str, "a\tb\nc\\d"), "a\\tb\\nc\\\\d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_controls),
        cmocka_unit_test(test_clean_invalid_utf8),
        cmocka_unit_test(test_clean_cuts_at_characters),
        cmocka_unit_test(test_json_tsv_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
