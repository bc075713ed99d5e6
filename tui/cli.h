/*
 * cli.h - the headless subcommands and their shared helpers.
 *
 * Each subcommand is `int cmd_NAME(int argc, char **argv)` with argv[0] the
 * subcommand's name; it returns the process exit code: CLI_OK (0),
 * CLI_ERROR (1) or CLI_USAGE (2). Errors go to stderr as "recscope: ...".
 * Only main.c calls exit().
 */
#ifndef RS_CLI_H
#define RS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "common.h"

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

typedef enum { OUT_TEXT, OUT_TSV, OUT_JSON } OutFormat;

/* Prints "recscope: <message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the error of a failed library call and returns CLI_ERROR. */
int cli_fail(const RsErr *err);
/* Prints "recscope: <message>\nTry 'recscope CMD --help'." and returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses "text", "tsv" or "json". Returns 0, or -1 for anything else. */
int cli_parse_format(const char *s, OutFormat *out);
/* Parses a non-negative integer option value; -1 on junk or overflow. */
int cli_parse_long(const char *s, long *out);
/* Parses an unsigned 64-bit value (seeds); -1 on junk or overflow. */
int cli_parse_u64(const char *s, uint64_t *out);

/* JSON output: writes s as a JSON string literal (with quotes). */
void json_str(FILE *f, const char *s);
/* TSV output: writes s with tabs, newlines and backslashes escaped. */
void tsv_str(FILE *f, const char *s);

/* Copies s into buf with control characters (C0, DEL and the C1 range
 * U+0080..U+009F: terminal escapes included) and invalid UTF-8 bytes
 * replaced by '?', cut at a character boundary to fit; returns buf. For
 * writing untrusted text to a terminal. NULL gives "-". cli_error() and
 * cli_usage_error() pass their messages through it. */
const char *cli_clean(const char *s, char *buf, size_t cap);

/* Progress on stderr for a long command: "WHAT: PHASE NN%" redrawn in place
 * at most four times a second. Use cli_progress as the RsProgressFn with a
 * CliProgress as its context, and cli_progress_end() to clear the line. */
typedef struct CliProgress {
    const char *what;
    double last;
} CliProgress;
int cli_progress(void *ctx, double fraction, const char *phase);
void cli_progress_end(CliProgress *p);

int cmd_import(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_users(int argc, char **argv);
int cmd_items(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_export_split(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_similar(int argc, char **argv);
int cmd_whatif(int argc, char **argv);
int cmd_export_recs(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_cv(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif
