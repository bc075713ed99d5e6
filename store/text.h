/*
 * text.h - field-level helpers for the importers: encodings, numbers and
 * timestamps. Pure functions, thread-safe.
 */
#ifndef RS_TEXT_H
#define RS_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TEXT_AUTO, TEXT_UTF8, TEXT_LATIN1 } TextEncoding;

/* Returns the offset of the first byte that breaks UTF-8 (overlongs,
 * surrogates and code points above U+10FFFF included), or len when s[0..len)
 * is valid. */
size_t text_utf8_invalid_at(const char *s, size_t len);

/* Converts s[0..len) to a NUL-terminated UTF-8 string in *out (malloc'd,
 * caller frees). TEXT_UTF8 validates; TEXT_LATIN1 converts every byte;
 * TEXT_AUTO keeps valid UTF-8 and converts anything else from latin-1.
 * Returns 0, -1 for invalid UTF-8 under TEXT_UTF8 (*bad_at set to the
 * offset), -2 when out of memory, -3 when s contains a NUL byte. */
int text_to_utf8(const char *s, size_t len, TextEncoding enc, char **out, size_t *bad_at);

/* Parses a finite decimal number filling the whole string (surrounding
 * blanks allowed). Returns 0 or -1. */
int text_parse_double(const char *s, double *out);

/* Parses an integer filling the whole string. Returns 0 or -1. */
int text_parse_int64(const char *s, int64_t *out);

/* Parses a timestamp: Unix seconds (an integer, or a decimal whose fraction
 * is dropped) or ISO-8601: YYYY-MM-DD, optionally followed by 'T' or ' ' and
 * HH:MM[:SS[.fff]], optionally by 'Z' or +HH:MM / -HH:MM (UTC when absent).
 * Returns 0 or -1. */
int text_parse_timestamp(const char *s, int64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
int64_t text_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Extracts a year from a title ending in "(YYYY)" (trailing blanks allowed);
 * returns 0 when there is none. */
int text_title_year(const char *title);

/* True when s[0..len) consists only of ASCII digits (and is non-empty). */
int text_is_digits(const char *s, size_t len);

#endif
