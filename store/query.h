/*
 * query.h - read-only queries for browsing: users, items, one user's history.
 * Results are arrays the caller frees with the matching *_free function.
 * Text is UTF-8 as stored; NULL fields come back as NULL pointers (text) or
 * NAN / STORE_NO_TS (numbers).
 */
#ifndef RS_QUERY_H
#define RS_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define STORE_NO_TS INT64_MIN

typedef struct StoreUserRow {
    int64_t id;          /* internal id */
    char *ext_id;
    int64_t n;           /* interactions */
    double mean_rating;  /* NAN when none rated */
    int64_t first_ts, last_ts; /* STORE_NO_TS when unknown */
    int age;             /* -1 when unknown */
    char *gender, *occupation, *zip;
} StoreUserRow;

typedef struct StoreItemRow {
    int64_t id;
    char *ext_id;
    char *title;
    int year;            /* 0 when unknown */
    char *genres;        /* '|'-separated */
    char *tags;          /* '|'-separated */
    char *description;
    int64_t n;
    double mean_rating;
} StoreItemRow;

typedef struct StoreHistoryRow {
    int64_t item_id;
    char *item_ext_id;
    char *title;
    char *genres;
    double rating;       /* NAN when implicit */
    int64_t ts;          /* STORE_NO_TS when unknown */
} StoreHistoryRow;

/* Users whose external id contains search (case-insensitive; NULL or "" for
 * all), ordered by external id, at most limit rows (limit <= 0: no limit). */
int store_users(Store *s, const char *search, long limit, StoreUserRow **rows, size_t *n,
                RsErr *err);
void store_users_free(StoreUserRow *rows, size_t n);

/* Items whose external id, title, genres or tags contain search. */
int store_items(Store *s, const char *search, long limit, StoreItemRow **rows, size_t *n,
                RsErr *err);
void store_items_free(StoreItemRow *rows, size_t n);

/* The history of the user with external id user_ext, oldest first.
 * RS_ENOTFOUND when there is no such user. */
int store_history(Store *s, const char *user_ext, StoreHistoryRow **rows, size_t *n,
                  RsErr *err);
void store_history_free(StoreHistoryRow *rows, size_t n);

#endif
