/*
 * tui_export.h - writing a table or a comparison to a file for sharing:
 * CSV (RFC 4180 quoting), TSV (tabs and newlines in a cell become spaces)
 * or a Markdown table ('|' escaped), chosen by the file's extension. The
 * file is written to a temporary file beside it and renamed over it once
 * complete, so a reader never sees half a file and a failed export leaves
 * any old file as it was. Nothing here touches the terminal.
 */
#ifndef RS_TUI_EXPORT_H
#define RS_TUI_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "common.h"

typedef enum TuiExportFormat {
    TUI_EXPORT_CSV = 0,
    TUI_EXPORT_TSV,
    TUI_EXPORT_MD,
} TuiExportFormat;

/* The format of path by its extension (.csv, .tsv, .md / .markdown,
 * ignoring case); -1 for any other. */
int tui_export_format(const char *path);

/* Writes one row of n cells in format fmt to f, ending the line. header:
 * the first row (Markdown then adds its |---| line). Returns 0 or -1 on a
 * write error. */
int tui_export_write_row(FILE *f, int fmt, const char *const *cells, size_t n, int header);

/* A file being exported. */
typedef struct TuiExport {
    FILE *f;
    int fmt;
    long rows; /* data rows written */
    char path[512];
    char tmp[540];
} TuiExport;

/* Opens a temporary file beside path for writing in path's format. Returns
 * 0, or a negative RS_E* code with err filled (unknown extension, name too
 * long, cannot create). */
int tui_export_open(TuiExport *x, const char *path, RsErr *err);
/* One row; header as in tui_export_write_row. Returns 0 or RS_EIO. */
int tui_export_row(TuiExport *x, const char *const *cells, size_t n, int header);
/* Flushes, closes and renames the temporary file over path. Returns 0 or
 * RS_EIO with err filled (the temporary file is then removed). */
int tui_export_commit(TuiExport *x, RsErr *err);
/* Closes and removes the temporary file (after an error). */
void tui_export_abort(TuiExport *x);

/* The default file name for what (a screen or table name, "Users"):
 * "recscope-users.csv", lowercased, anything but letters and digits
 * becoming '-'. */
void tui_export_default_name(char *buf, size_t n, const char *what);

#endif
