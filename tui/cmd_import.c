/* cmd_import.c - `recscope import DB PATH...`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "import.h"
#include "store.h"

static const char import_usage[] =
    "usage: recscope import DB PATH... [options]\n"
    "\n"
    "Loads interactions (and item/user metadata) into DB, creating it when\n"
    "missing. PATH is a file or a MovieLens / 'recscope generate' folder.\n"
    "The import is one transaction: on an error nothing is changed.\n"
    "\n"
    "options:\n"
    "  --format F        auto (default), ml-100k, ml-1m, ml-10m, ml-latest,\n"
    "                    ml-20m, ml-25m or csv\n"
    "  --columns MAP     header names for csv: user=NAME,item=NAME,rating=NAME,time=NAME\n"
    "  --items FILE      item metadata CSV (id column and any of title, year,\n"
    "                    genres, tags, description)\n"
    "  --users FILE      user attributes CSV (id column and any of age, gender,\n"
    "                    occupation, zip)\n"
    "  --sep C           separator of csv files: a character, 'tab' or '\\t'\n"
    "                    (default: detected from the header)\n"
    "  --encoding E      of csv files: utf-8 (default), latin1, or auto\n"
    "  --skip-bad        skip bad rows (and report them) instead of stopping\n"
    "  -q, --quiet       print nothing on success\n"
    "  -h, --help        this help\n";

static int parse_columns(const char *spec, ImportOptions *o, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || !eq[1])
            return -1;
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(tok, "user"))
            o->col_user = v;
        else if (!strcmp(tok, "item"))
            o->col_item = v;
        else if (!strcmp(tok, "rating"))
            o->col_rating = v;
        else if (!strcmp(tok, "time") || !strcmp(tok, "timestamp"))
            o->col_time = v;
        else
            return -1;
    }
    return 0;
}

static int parse_sep(const char *s, char *out)
{
    if (!strcmp(s, "tab") || !strcmp(s, "\\t") || !strcmp(s, "\t"))
        *out = '\t';
    else if (strlen(s) == 1 && s[0] != '"' && s[0] != '\n' && s[0] != '\r')
        *out = s[0];
    else
        return -1;
    return 0;
}

static void print_report(const char *db, const ImportReport *r)
{
    printf("imported %s into %s: %lld rows read, %lld interactions added", r->formats, db,
           (long long)r->rows_read, (long long)r->interactions_added);
    if (r->interactions_updated)
        printf(", %lld already present (kept the latest)", (long long)r->interactions_updated);
    printf("; %lld new users, %lld new items (%.2f s: reading %.2f s, writing %.2f s)\n",
           (long long)r->users_added, (long long)r->items_added,
           r->parse_seconds + r->write_seconds, r->parse_seconds, r->write_seconds);
    if (r->duplicates)
        printf("duplicates: %lld rows repeated a (user, item) pair; the latest by timestamp "
               "was kept\n", (long long)r->duplicates);
    if (r->skipped) {
        printf("skipped %lld bad rows; the first:\n", (long long)r->skipped);
        for (int k = 0; k < r->n_bad_shown; k++)
            printf("  %s\n", r->bad[k]);
    }
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"columns", required_argument, NULL, 'c'},
        {"items", required_argument, NULL, 'i'},  {"users", required_argument, NULL, 'u'},
        {"sep", required_argument, NULL, 's'},    {"encoding", required_argument, NULL, 'e'},
        {"skip-bad", no_argument, NULL, 'b'},     {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    ImportOptions o;
    import_options_default(&o);
    char colbuf[512];
    int quiet = 0, c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (import_parse_format(optarg, &o.format))
                return cli_usage_error("import", "unknown format '%s' (valid: auto, ml-100k, "
                                       "ml-1m, ml-10m, ml-latest, ml-20m, ml-25m, csv)", optarg);
            break;
        case 'c':
            if (parse_columns(optarg, &o, colbuf, sizeof colbuf))
                return cli_usage_error("import", "bad --columns '%s' (expected "
                                       "user=NAME,item=NAME,rating=NAME,time=NAME)", optarg);
            break;
        case 'i': o.items_file = optarg; break;
        case 'u': o.users_file = optarg; break;
        case 's':
            if (parse_sep(optarg, &o.sep))
                return cli_usage_error("import", "bad --sep '%s' (one character, or 'tab')",
                                       optarg);
            break;
        case 'e':
            if (!strcmp(optarg, "utf-8") || !strcmp(optarg, "utf8"))
                o.encoding = TEXT_UTF8;
            else if (!strcmp(optarg, "latin1") || !strcmp(optarg, "latin-1") ||
                     !strcmp(optarg, "iso-8859-1"))
                o.encoding = TEXT_LATIN1;
            else if (!strcmp(optarg, "auto"))
                o.encoding = TEXT_AUTO;
            else
                return cli_usage_error("import", "unknown encoding '%s' (valid: utf-8, "
                                       "latin1, auto)", optarg);
            break;
        case 'b': o.skip_bad = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(import_usage, stdout); return CLI_OK;
        default: return cli_usage_error("import", "bad option");
        }
    }
    if (argc - optind < 2)
        return cli_usage_error("import", "expected a database and at least one PATH");
    const char *db = argv[optind];
    CliProgress prog = {"import", 0};
    if (!quiet && isatty(STDERR_FILENO)) {
        o.progress = cli_progress;
        o.progress_ctx = &prog;
    }
    RsErr err = {0};
    Store *s = NULL;
    ImportReport rep;
    int existed = access(db, F_OK) == 0;
    int rc = store_open(&s, db, STORE_OPEN_CREATE, &err);
    if (!rc)
        rc = store_import(s, (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1),
                          &o, &rep, &err);
    if (o.progress)
        cli_progress_end(&prog);
    store_close(s);
    if (rc && !existed) {
        /* Nothing was there before: leave nothing behind. */
        char side[4200];
        unlink(db);
        snprintf(side, sizeof side, "%s-wal", db);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", db);
        unlink(side);
    }
    if (rc)
        return cli_fail(&err);
    if (!quiet)
        print_report(db, &rep);
    return CLI_OK;
}
