/*
 * main.c - the single entry point: `recscope [DB]` opens the TUI,
 * `recscope SUBCOMMAND ...` runs a headless command. The only file that
 * calls exit().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "cli.h"
#include "common.h"
#include "tui.h"

typedef struct Command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"import", cmd_import, "load interactions and metadata into a database"},
    {"generate", cmd_generate, "write a generated sample dataset as CSV"},
    {"info", cmd_info, "dataset statistics"},
    {"users", cmd_users, "list users"},
    {"items", cmd_items, "list items"},
    {"history", cmd_history, "one user's interactions, oldest first"},
    {"split", cmd_split, "make a seeded train/test split"},
    {"train", cmd_train, "fit a model on a split (a run)"},
    {"runs", cmd_runs, "list the runs"},
    {"eval", cmd_eval, "measure a run on its split's test part"},
    {"cv", cmd_cv, "k-fold cross-validation of an algorithm"},
    {"compare", cmd_compare, "runs side by side, with paired tests"},
    {"recommend", cmd_recommend, "a run's top-N items for a user"},
    {"explain", cmd_explain, "why a run recommends an item to a user"},
    {"similar", cmd_similar, "items similar to an item under a run"},
    {"whatif", cmd_whatif, "recommendations for a new user given items (fold-in)"},
    {"export-recs", cmd_export_recs, "every evaluated user's recommendations as TSV"},
    {"export-split", cmd_export_split, "a part of a split as TSV"},
};

static void usage(FILE *f)
{
    fputs("usage: recscope [--ascii] [--no-color] DB\n"
          "                                   open the terminal UI on DB\n"
          "       recscope COMMAND [ARGS...]   run a command headless\n"
          "       recscope --version | --help\n\ncommands:\n",
          f);
    for (size_t k = 0; k < RS_ARRAY_LEN(commands); k++)
        fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].summary);
    fputs("\n'recscope COMMAND --help' describes a command; 'man recscope' describes all.\n", f);
}

static void version(void)
{
    RsGpuInfo gi;
    gpu_probe(&gi);
    printf("recscope %s\n", RS_VERSION);
    printf("build: %s", gpu_build_description());
    if (gi.built)
        printf("; device: %s", gi.devices > 0 ? gi.name : gi.message);
    printf("\n");
}

/* $XDG_CONFIG_HOME/recscope/config, or ~/.config/recscope/config; NULL
 * when neither variable gives an absolute folder. */
static const char *config_path(char *buf, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(buf, n, "%s/recscope/config", xdg);
    else if (home && home[0] == '/')
        snprintf(buf, n, "%s/.config/recscope/config", home);
    else
        return NULL;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *a = argv[1];
    if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
        version();
        return CLI_OK;
    }
    for (size_t k = 0; k < RS_ARRAY_LEN(commands); k++)
        if (!strcmp(a, commands[k].name))
            exit(commands[k].run(argc - 1, argv + 1));
    /* the TUI's own options: recscope [--ascii] [--no-color] DB */
    const char *db = NULL;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--ascii"))
            setenv("RECSCOPE_ASCII", "1", 1); /* read by tui.c */
        else if (!strcmp(argv[k], "--no-color"))
            setenv("NO_COLOR", "1", 1);
        else if (argv[k][0] == '-')
            return cli_usage_error(NULL, "unknown option '%s'", argv[k]);
        else if (db)
            return cli_usage_error(NULL, "unexpected argument '%s'", argv[k]);
        else
            db = argv[k];
    }
    if (!db)
        return cli_usage_error(NULL, "expected a database");
    a = db;
    struct stat sb;
    if (stat(a, &sb) != 0) {
        if (!strchr(a, '/') && !strchr(a, '.'))
            return cli_usage_error(NULL, "unknown command '%s'", a);
        cli_error("%s: no such database (create one with 'recscope import %s PATH')", a, a);
        return CLI_ERROR;
    }
    char cfg[4096];
    return tui_run(a, config_path(cfg, sizeof cfg));
}
