/* test_config.c - the TUI's settings file: parsing (comments, spaces,
 * every key), unknown keys and bad values (a warning with the line, the
 * defaults kept), a missing file, and the atomic save and reload round trip
 * in a temporary folder that does not exist yet. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "testutil.h"

static void test_defaults(void **state)
{
    (void)state;
    Config c;
    config_defaults(&c);
    assert_int_equal(c.theme, CONFIG_THEME_DEFAULT);
    assert_int_equal(c.default_k, 10);
    assert_int_equal(c.mouse, 0);
    assert_string_equal(c.path, "");
}

static void test_parse(void **state)
{
    (void)state;
    Config c;
    char warn[200];
    config_defaults(&c);
    const char *text = "# recscope\n"
                       "\n"
                       "  theme=mono   # no colours\n"
                       "default_k = 25\r\n"
                       "\tmouse\t=\ton\n"
                       "   # indented comment";
    assert_int_equal(config_parse(&c, text, warn, sizeof warn), 0);
    assert_string_equal(warn, "");
    assert_int_equal(c.theme, CONFIG_THEME_MONO);
    assert_int_equal(c.default_k, 25);
    assert_int_equal(c.mouse, 1);
    assert_int_equal(config_parse(&c, "theme = default\nmouse = off\ndefault_k = 1\n", warn,
                                  sizeof warn), 0);
    assert_int_equal(c.theme, CONFIG_THEME_DEFAULT);
    assert_int_equal(c.mouse, 0);
    assert_int_equal(c.default_k, 1);
    assert_int_equal(config_parse(&c, "default_k = 100", NULL, 0), 0);
    assert_int_equal(c.default_k, 100);
    assert_int_equal(config_parse(&c, "", warn, sizeof warn), 0);
}

static void test_bad_values(void **state)
{
    (void)state;
    Config c;
    char warn[200];
    config_defaults(&c);
    const char *text = "theme = mono\n"
                       "colour = red\n"        /* line 2: unknown key */
                       "default_k = 0\n"
                       "default_k = 101\n"
                       "default_k = 12abc\n"
                       "default_k = \n"
                       "default_k = 99999999999999999999\n"
                       "mouse = maybe\n"
                       "theme = Dark\n"
                       "just some words\n"
                       "= 3\n";
    assert_int_equal(config_parse(&c, text, warn, sizeof warn), 10);
    assert_string_equal(warn, "line 2: unknown setting 'colour'");
    assert_int_equal(c.theme, CONFIG_THEME_MONO); /* line 1 applied, line 9 ignored */
    assert_int_equal(c.default_k, 10);
    assert_int_equal(c.mouse, 0);

    assert_int_equal(config_parse(&c, "default_k = -3\n", warn, sizeof warn), 1);
    assert_string_equal(warn, "line 1: bad value '-3' for default_k");
    assert_int_equal(config_parse(&c, "\n\nmouse\n", warn, sizeof warn), 1);
    assert_string_equal(warn, "line 3: expected key = value");

    char *longline = malloc(2000);
    assert_non_null(longline);
    memset(longline, 'x', 1999);
    longline[1999] = '\0';
    memcpy(longline, "theme = ", 8);
    assert_int_equal(config_parse(&c, longline, warn, sizeof warn), 1);
    assert_string_equal(warn, "line 1: line too long");
    free(longline);

    char tiny[8]; /* a short warning buffer is cut, never overrun */
    assert_int_equal(config_parse(&c, "nope = 1\n", tiny, sizeof tiny), 1);
    assert_string_equal(tiny, "line 1:");
}

static void test_missing_file(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = tu_path(dir, "no/such/config");
    Config c;
    char warn[200] = "junk";
    RsErr err = { 0 };
    c.default_k = 77;
    assert_int_equal(config_load(&c, path, warn, sizeof warn, &err), RS_OK);
    assert_string_equal(warn, "");
    assert_int_equal(c.default_k, 10);
    assert_string_equal(c.path, path);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_load_warns(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = tu_write(dir, "config", "default_k = 30\nmouse = sometimes\n", (size_t)-1);
    Config c;
    char warn[200];
    RsErr err = { 0 };
    assert_int_equal(config_load(&c, path, warn, sizeof warn, &err), RS_OK);
    assert_string_equal(warn, "line 2: bad value 'sometimes' for mouse");
    assert_int_equal(c.default_k, 30);
    assert_int_equal(c.mouse, 0);
    free(path);
    /* a binary file is refused, leaving the defaults */
    path = tu_write(dir, "binary", "default_k = 5\n\0\1\2", 17);
    assert_int_equal(config_load(&c, path, warn, sizeof warn, &err), RS_EPARSE);
    assert_int_equal(c.default_k, 10);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Names in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_save_reload(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *sub = tu_path(dir, "xdg/recscope");
    char *path = tu_path(dir, "xdg/recscope/config");
    Config c, back;
    char warn[200];
    RsErr err = { 0 };
    config_defaults(&c);
    assert_int_equal(config_save(&c, NULL, &err), RS_EUSAGE); /* no path */
    c.theme = CONFIG_THEME_MONO;
    c.default_k = 42;
    c.mouse = 1;
    assert_int_equal(config_save(&c, path, &err), RS_OK); /* creates xdg/recscope */
    struct stat sb;
    assert_int_equal(stat(sub, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(count_entries(sub), 1); /* no temporary file left */
    assert_int_equal(config_load(&back, path, warn, sizeof warn, &err), RS_OK);
    assert_string_equal(warn, "");
    assert_int_equal(back.theme, CONFIG_THEME_MONO);
    assert_int_equal(back.default_k, 42);
    assert_int_equal(back.mouse, 1);
    assert_string_equal(back.path, path);

    /* saving again replaces the file, through c->path */
    back.default_k = 7;
    back.theme = CONFIG_THEME_DEFAULT;
    assert_int_equal(config_save(&back, NULL, &err), RS_OK);
    assert_int_equal(config_load(&c, path, warn, sizeof warn, &err), RS_OK);
    assert_int_equal(c.default_k, 7);
    assert_int_equal(c.theme, CONFIG_THEME_DEFAULT);
    assert_int_equal(c.mouse, 1);
    assert_int_equal(count_entries(sub), 1);

    /* a folder that cannot be made: an error, nothing written */
    char *blocked = tu_write(dir, "file", "x", 1);
    char *under = tu_path(dir, "file/recscope/config");
    assert_int_equal(config_save(&c, under, &err), RS_EIO);
    assert_true(strlen(err.msg) > 0);
    free(blocked);
    free(under);
    free(sub);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_current(void **state)
{
    (void)state;
    Config *c = config_current();
    assert_non_null(c);
    assert_ptr_equal(config_current(), c);
    assert_int_equal(c->default_k, 10);
    assert_int_equal(c->theme, CONFIG_THEME_DEFAULT);
    assert_int_equal(c->mouse, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_load_warns),
        cmocka_unit_test(test_save_reload),
        cmocka_unit_test(test_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
