/* test_tui_export.c - export of tables and comparisons: the format by
 * extension, CSV (RFC 4180) / TSV / Markdown quoting, the default file
 * name, and the atomic write (temporary file renamed over the target; a
 * failed export leaves the old file alone). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tui_export.h"

/* The text tui_export_write_row writes for one row. */
static char *row_text(int fmt, const char *const *cells, size_t n, int header)
{
    static char buf[1024];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    assert_non_null(f);
    assert_int_equal(tui_export_write_row(f, fmt, cells, n, header), 0);
    fclose(f);
    return buf;
}

static void test_format(void **state)
{
    (void)state;
    assert_int_equal(tui_export_format("a.csv"), TUI_EXPORT_CSV);
    assert_int_equal(tui_export_format("dir/A.CSV"), TUI_EXPORT_CSV);
    assert_int_equal(tui_export_format("a.tsv"), TUI_EXPORT_TSV);
    assert_int_equal(tui_export_format("a.md"), TUI_EXPORT_MD);
    assert_int_equal(tui_export_format("a.markdown"), TUI_EXPORT_MD);
    assert_int_equal(tui_export_format("a.txt"), -1);
    assert_int_equal(tui_export_format("a"), -1);
    assert_int_equal(tui_export_format("dir.csv/a"), -1);
    assert_int_equal(tui_export_format(NULL), -1);
}

static void test_csv(void **state)
{
    (void)state;
    const char *plain[] = { "1", "Alpha", "3.50" };
    assert_string_equal(row_text(TUI_EXPORT_CSV, plain, 3, 0), "1,Alpha,3.50\r\n");
    const char *odd[] = { "a,b", "say \"hi\"", "two\nlines", " pad", "", NULL };
    assert_string_equal(row_text(TUI_EXPORT_CSV, odd, 6, 1),
                        "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\",,\r\n");
}

static void test_tsv(void **state)
{
    (void)state;
    const char *cells[] = { "a\tb", "c\nd", "e,\"f\"" };
    assert_string_equal(row_text(TUI_EXPORT_TSV, cells, 3, 0), "a b\tc d\te,\"f\"\n");
}

static void test_markdown(void **state)
{
    (void)state;
    const char *head[] = { "User", "Mean" };
    assert_string_equal(row_text(TUI_EXPORT_MD, head, 2, 1),
                        "| User | Mean |\n| --- | --- |\n");
    const char *cells[] = { "a|b", "c\\d\ne" };
    assert_string_equal(row_text(TUI_EXPORT_MD, cells, 2, 0), "| a\\|b | c\\\\d e |\n");
}

static void test_default_name(void **state)
{
    (void)state;
    char buf[64];
    tui_export_default_name(buf, sizeof buf, "Users");
    assert_string_equal(buf, "recscope-users.csv");
    tui_export_default_name(buf, sizeof buf, "What if");
    assert_string_equal(buf, "recscope-what-if.csv");
    tui_export_default_name(buf, sizeof buf, NULL);
    assert_string_equal(buf, "recscope-table.csv");
}

static char *slurp(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void test_atomic(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *path = tu_write(dir, "out.tsv", "old\n", (size_t)-1);
    TuiExport x;
    RsErr err;
    const char *head[] = { "A", "B" }, *row[] = { "1", "2" };

    /* aborted: the old file stays, no temporary file is left */
    assert_int_equal(tui_export_open(&x, path, &err), 0);
    assert_int_equal(tui_export_row(&x, head, 2, 1), 0);
    tui_export_abort(&x);
    assert_string_equal(slurp(path), "old\n");
    assert_int_equal(count_entries(dir), 1);

    /* committed: replaced whole */
    assert_int_equal(tui_export_open(&x, path, &err), 0);
    assert_int_equal(tui_export_row(&x, head, 2, 1), 0);
    assert_int_equal(tui_export_row(&x, row, 2, 0), 0);
    assert_int_equal(tui_export_commit(&x, &err), 0);
    assert_int_equal(x.rows, 1);
    assert_string_equal(slurp(path), "A\tB\n1\t2\n");
    assert_int_equal(count_entries(dir), 1);

    /* refused: unknown extension, missing directory */
    char *bad = tu_path(dir, "out.txt");
    assert_int_equal(tui_export_open(&x, bad, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, ".csv"));
    char *missing = tu_path(dir, "no/such/dir/out.csv");
    assert_int_equal(tui_export_open(&x, missing, &err), RS_EIO);
    free(bad);
    free(missing);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),   cmocka_unit_test(test_csv),
        cmocka_unit_test(test_tsv),      cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_default_name), cmocka_unit_test(test_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
