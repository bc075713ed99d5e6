/*
 * csvread.h - a row reader over libcsv that knows line numbers.
 *
 * Handles what spreadsheets write: a UTF-8 byte-order mark, CRLF or CR line
 * ends, a missing final newline, quoted fields with separators, quotes and
 * newlines inside. MovieLens' unquoted formats use quoting = 0, and the
 * "::" separator of ratings.dat is read by turning "::" into one separator
 * byte before libcsv sees the line.
 *
 * Errors name the file and line: "FILE:LINE: ...".
 */
#ifndef RS_CSVREAD_H
#define RS_CSVREAD_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define CSVR_MAX_LINE (1u << 20) /* longest physical line accepted */

typedef struct CsvReader CsvReader;

/* Opens path. sep: the separator byte, or 0 to detect it from the first line
 * (tab, comma, semicolon or pipe, whichever occurs most outside quotes).
 * quoting: 1 for RFC 4180 quotes, 0 for none. double_colon: 1 for "::". */
int csvr_open(CsvReader **out, const char *path, char sep, int quoting, int double_colon,
              RsErr *err);
void csvr_close(CsvReader *r);

/* Reads the next row: 1 when a row is ready, 0 at the end of the file, or a
 * negative RS_E* code (err filled). Blank lines are skipped. */
int csvr_next(CsvReader *r, RsErr *err);

size_t csvr_nfields(const CsvReader *r);
/* Field i of the current row, NUL-terminated; valid until the next
 * csvr_next(). csvr_field_len() gives its length (it may contain NULs). */
const char *csvr_field(const CsvReader *r, size_t i);
size_t csvr_field_len(const CsvReader *r, size_t i);
/* The line on which the current row starts (1-based). */
long csvr_line(const CsvReader *r);
const char *csvr_path(const CsvReader *r);
char csvr_sep(const CsvReader *r);
/* Bytes consumed so far and the file's size (for progress; size 0 when
 * unknown). */
int64_t csvr_offset(const CsvReader *r);
int64_t csvr_size(const CsvReader *r);

/* Reading one file in two parts on two threads. csvr_split_point() picks
 * the start of a line near the middle of what r has not read yet (*at = -1
 * when there is none). csvr_set_end(r, at) makes r stop at the first row
 * boundary at or after byte at (-1: read on to the end of the file again),
 * and csvr_open_at() opens a second reader with r's settings that starts at
 * byte at, counting the lines before it so that its rows carry the file's
 * line numbers (it reads only the settings of r, which do not change, so
 * it may run on another thread while r reads). The two parts give exactly the rows of one reader when r
 * stops at byte at itself (csvr_offset(r) == at); otherwise a quoted field
 * spans the split, and r must read on (csvr_set_end(r, -1)) instead. */
int csvr_split_point(const CsvReader *r, int64_t *at, RsErr *err);
void csvr_set_end(CsvReader *r, int64_t end);
int64_t csvr_end(const CsvReader *r); /* -1 when not set */
int csvr_open_at(CsvReader **out, const CsvReader *like, int64_t start, RsErr *err);

#endif
