/*
 * fuzz_csv.c - the generic CSV importer with a column mapping. The input's
 * first line holds the options, words separated by spaces:
 *   user=NAME item=NAME rating=NAME time=NAME sep=C enc=latin1|auto skip
 * then, separated by FUZZ_SPLIT lines, the interactions file and optional
 * --items and --users files.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static char opt_buf[512];

/* Applies the option words of line (NUL-terminated, modified) to o. */
static void parse_options(char *line, ImportOptions *o)
{
    char *save = NULL;
    for (char *w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!strncmp(w, "user=", 5))
            o->col_user = w + 5;
        else if (!strncmp(w, "item=", 5))
            o->col_item = w + 5;
        else if (!strncmp(w, "rating=", 7))
            o->col_rating = w + 7;
        else if (!strncmp(w, "time=", 5))
            o->col_time = w + 5;
        else if (!strncmp(w, "sep=", 4))
            o->sep = w[4] == 't' && w[5] == 'a' ? '\t' : w[4];
        else if (!strcmp(w, "enc=latin1"))
            o->encoding = TEXT_LATIN1;
        else if (!strcmp(w, "enc=auto"))
            o->encoding = TEXT_AUTO;
        else if (!strcmp(w, "skip"))
            o->skip_bad = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"data.csv", "items.csv", "users.csv"};
    ImportOptions o;
    import_options_default(&o);
    o.format = IMPORT_CSV;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t head = nl ? (size_t)(nl - data) : size;
    if (head >= sizeof opt_buf)
        head = sizeof opt_buf - 1;
    memcpy(opt_buf, data, head);
    opt_buf[head] = '\0';
    for (size_t k = 0; k < head; k++)
        if (!opt_buf[k])
            opt_buf[k] = ' ';
    parse_options(opt_buf, &o);
    size_t skip = nl ? (size_t)(nl - data) + 1 : size;
    const char *dir = fuzz_write_files(data + skip, size - skip, names, 3);
    static char paths[3][600];
    for (int k = 0; k < 3; k++)
        snprintf(paths[k], sizeof paths[k], "%s/%s", dir, names[k]);
    const char *files[1] = {paths[0]};
    struct stat sb;
    if (stat(paths[1], &sb) == 0)
        o.items_file = paths[1];
    if (stat(paths[2], &sb) == 0)
        o.users_file = paths[2];
    fuzz_import(files, 1, &o);
    return 0;
}
