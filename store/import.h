/*
 * import.h - loading interaction data and item/user metadata into a store.
 *
 * Formats: MovieLens 100K (u.data, u.item, u.user), MovieLens 1M/10M
 * (ratings.dat, movies.dat, users.dat, tags.dat), MovieLens latest/20M/25M
 * (ratings.csv, movies.csv, tags.csv), the output of `recscope generate`
 * (interactions.csv, items.csv, users.csv) and any CSV/TSV with a header.
 *
 * An import is all or nothing: every file is parsed and checked first, then
 * written in one transaction; on any error the database is left exactly as
 * it was. Duplicate (user, item) pairs keep the row with the latest
 * timestamp (the later row on a tie) and are counted.
 */
#ifndef RS_IMPORT_H
#define RS_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "text.h"

typedef enum {
    IMPORT_AUTO,
    IMPORT_ML100K,
    IMPORT_ML1M,     /* also 10M: '::'-separated .dat files */
    IMPORT_MLLATEST, /* also 20M/25M: ratings.csv + movies.csv */
    IMPORT_CSV,      /* any CSV/TSV with a header */
} ImportFormat;

typedef struct ImportOptions {
    ImportFormat format;
    /* --columns: header names for the generic CSV format; NULL = find by the
     * usual names (user, user_id, userId; item, item_id, itemId, movieId;
     * rating; timestamp, time, ts). */
    const char *col_user, *col_item, *col_rating, *col_time;
    const char *items_file; /* --items: item metadata CSV, or NULL */
    const char *users_file; /* --users: user attributes CSV, or NULL */
    char sep;               /* separator for generic CSV; 0 = detect */
    int skip_bad;           /* skip bad rows instead of failing */
    TextEncoding encoding;  /* of generic CSV files (MovieLens: known) */
    RsProgressFn progress;
    void *progress_ctx;
    /* An interactions file with more than this many bytes after its header
     * is read by two threads, a half each, with the same result as one
     * (0: never; import_options_default: IMPORT_SPLIT_MIN_BYTES). */
    int64_t split_min_bytes;
} ImportOptions;

#define IMPORT_SPLIT_MIN_BYTES ((int64_t)4 << 20)

#define IMPORT_MAX_BAD_SHOWN 5

typedef struct ImportReport {
    char formats[64];             /* e.g. "ml-100k" */
    int64_t rows_read;            /* interaction rows parsed */
    int64_t interactions_added;   /* new (user, item) pairs in the database */
    int64_t interactions_updated; /* pairs already there, replaced by newer rows */
    int64_t duplicates;           /* rows superseded by a later row of the import */
    int64_t skipped;              /* bad rows skipped (skip_bad) */
    int64_t users_added, items_added;
    int n_bad_shown;
    char bad[IMPORT_MAX_BAD_SHOWN][256]; /* the first skipped rows' errors */
    double parse_seconds, write_seconds;
} ImportReport;

void import_options_default(ImportOptions *o);

/* Parses "auto", "ml-100k", "ml-1m", "ml-10m", "ml-latest", "ml-20m",
 * "ml-25m" or "csv"; returns 0 or -1. */
int import_parse_format(const char *s, ImportFormat *out);
const char *import_format_name(ImportFormat f);

/* Imports paths[0..n) (files or MovieLens/generator folders) into s.
 * Returns RS_OK, RS_EPARSE (bad data, message "FILE:LINE: ..."), RS_EIO,
 * RS_EUSAGE (unrecognised folder, bad column mapping), RS_EDB, RS_ENOMEM or
 * RS_ECANCEL. rep may be NULL. Not thread-safe for one Store. */
int store_import(Store *s, const char *const *paths, size_t n, const ImportOptions *opt,
                 ImportReport *rep, RsErr *err);

#endif
