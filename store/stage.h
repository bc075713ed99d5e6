/*
 * stage.h - the in-memory staging area of an import: interned user and item
 * ids with their attributes, and the interaction rows, gathered from every
 * file before anything touches the database.
 */
#ifndef RS_STAGE_H
#define RS_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define STAGE_NO_TS INT64_MIN

typedef struct StageUser {
    char *ext;                 /* owned by the map */
    int age;                   /* -1 unknown */
    char *gender, *occupation, *zip; /* malloc'd or NULL */
} StageUser;

typedef struct StageItem {
    char *ext;
    char *title;
    int year;                  /* 0 unknown */
    char *genres, *tags, *description;
} StageItem;

typedef struct StageRow {
    uint32_t u, i;             /* staging indices, later database ids */
    float rating;              /* NAN for implicit */
    uint32_t seq;              /* order of reading: the later row wins ties */
    int64_t ts;                /* STAGE_NO_TS when unknown */
} StageRow;

typedef struct StrMap {
    uint32_t *slots;           /* index + 1, 0 = empty */
    size_t cap;                /* power of two */
} StrMap;

typedef struct Stage {
    StrMap umap, imap;
    StageUser *users;
    size_t nusers, users_cap;
    StageItem *items;
    size_t nitems, items_cap;
    StageRow *rows;
    size_t nrows, rows_cap;
} Stage;

void stage_init(Stage *st);
void stage_done(Stage *st);

/* Finds or adds the user/item with external id ext (copied); returns its
 * staging index through *idx. RS_ENOMEM on failure. */
int stage_user(Stage *st, const char *ext, uint32_t *idx);
int stage_item(Stage *st, const char *ext, uint32_t *idx);
/* Looks up without adding: 1 found, 0 not. */
int stage_find_item(const Stage *st, const char *ext, uint32_t *idx);

int stage_add_row(Stage *st, uint32_t u, uint32_t i, float rating, int64_t ts);
/* Makes room for n rows in all (one allocation instead of doublings). */
int stage_reserve_rows(Stage *st, size_t n);

/* Sorts rows by (u, i, ts, seq) and keeps the last of each (u, i) group.
 * Returns the number of rows dropped. */
size_t stage_dedupe(Stage *st);

/* Replaces *slot with v (taking ownership of v; v may be NULL = keep). */
void stage_set_text(char **slot, char *v);

#endif
