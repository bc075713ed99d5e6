/* test_browse.c - the browsing queries (store/browse.c): every sort order,
 * keyset pages and their boundaries, filters (substring with '%', '_' and
 * quotes; "re:" regular expressions), a user with no interactions, an item
 * nobody rated, histories with unknown times and ratings, genre profiles,
 * rating distributions, the users of an item, and the cache written at
 * import time against the one built per connection.
 *
 * The dataset, written as CSV by the fixture: users "1".."25" (user k has
 * interacted with items i1..ik), user "lonely" with no interaction, items
 * i1..i30 (i26..i30 never interacted with). User 5's ratings and user 7's
 * times are unknown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "browse.h"
#include "import.h"
#include "store.h"
#include "testutil.h"

#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#define NUSERS 25
#define NITEMS 30

typedef struct Fx {
    char *dir, *db;
    Store *s;
} Fx;

static double rating_of(int k, int j)
{
    return (double)((k + j) % 5 + 1);
}

static void write_dataset(const char *dir)
{
    char *buf = malloc(1 << 16);
    size_t o = (size_t)sprintf(buf, "user_id,item_id,rating,timestamp\n");
    for (int k = 1; k <= NUSERS; k++) {
        for (int j = 1; j <= k; j++) {
            o += (size_t)sprintf(buf + o, "%d,i%d,", k, j);
            if (k != 5)
                o += (size_t)sprintf(buf + o, "%g", rating_of(k, j));
            o += (size_t)sprintf(buf + o, ",");
            if (k != 7)
                o += (size_t)sprintf(buf + o, "%d", 1000000 + 1000 * k + (j * 7) % 11);
            o += (size_t)sprintf(buf + o, "\n");
        }
    }
    free(tu_write(dir, "interactions.csv", buf, o));
    o = (size_t)sprintf(buf, "item_id,title,year,genres,tags,description\n");
    for (int j = 1; j <= NITEMS; j++) {
        const char *genres = j % 3 == 0 ? "Drama" : j % 3 == 1 ? "Comedy|Drama" : "Action";
        if (j == 1)
            o += (size_t)sprintf(buf + o, "i1,100%% Pure_Fun,1999,%s,fun,A fine film\n", genres);
        else if (j == 2)
            o += (size_t)sprintf(buf + o, "i2,\"It's \"\"Quoted\"\"\",,%s,,\n", genres);
        else
            o += (size_t)sprintf(buf + o, "i%d,Title %d,%d,%s,,\n", j, j, 1990 + j % 7, genres);
    }
    free(tu_write(dir, "items.csv", buf, o));
    o = (size_t)sprintf(buf, "user_id,age,gender,occupation,zip\n");
    for (int k = 1; k <= NUSERS; k++) {
        const char *occ = k == 3 ? "100%_pure" : k == 4 ? "o'neil" : k % 2 ? "scientist" : "writer";
        o += (size_t)sprintf(buf + o, "%d,%d,%s,%s,\n", k, 60 + k, k % 2 ? "F" : "M", occ);
    }
    o += (size_t)sprintf(buf + o, "lonely,40,F,artist,99999\n");
    free(tu_write(dir, "users.csv", buf, o));
    free(buf);
}

static int setup(void **state)
{
    Fx *fx = calloc(1, sizeof *fx);
    RsErr err = {0};
    fx->dir = tu_mkdtemp();
    char *data = tu_path(fx->dir, "data");
    assert_int_equal(mkdir(data, 0755), 0);
    write_dataset(data);
    fx->db = tu_path(fx->dir, "b.db");
    assert_int_equal(store_open(&fx->s, fx->db, STORE_OPEN_CREATE, &err), RS_OK);
    ImportOptions o;
    import_options_default(&o);
    const char *paths[] = {data};
    assert_int_equal(store_import(fx->s, paths, 1, &o, NULL, &err), RS_OK);
    store_close(fx->s);
    /* the TUI's view: read-only, no cache in the file, a TEMP one is built */
    assert_int_equal(store_open(&fx->s, fx->db, STORE_OPEN_READONLY, &err), RS_OK);
    free(data);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    Fx *fx = *state;
    store_close(fx->s);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx->db);
    free(fx);
    return 0;
}

/* --- helpers -------------------------------------------------------------------------- */

#define MAXROWS 64

/* Every user in display order, read page by page forwards (or backwards
 * from the end when back), pages of size page. Returns the row count. */
static size_t all_users(Store *s, int sort, int desc, const char *filter, size_t page, int back,
                        BrowseUser *out)
{
    BrowseUser rows[MAXROWS];
    BrowseKey anchor;
    size_t total = 0, n;
    RsErr err = {0};
    int first = 1;
    for (;;) {
        BrowseQuery q = {.sort = sort, .desc = desc, .filter = filter,
                         .anchor = first ? NULL : &anchor, .dir = back ? -1 : 1, .max = page};
        assert_int_equal(browse_users(s, &q, rows, &n, &err), RS_OK);
        assert_true(n <= page);
        if (n == 0)
            break;
        assert_true(total + n <= MAXROWS);
        if (back) {
            memmove(out + n, out, total * sizeof *out);
            memcpy(out, rows, n * sizeof *rows);
            anchor = rows[0].key;
        } else {
            memcpy(out + total, rows, n * sizeof *rows);
            anchor = rows[n - 1].key;
        }
        total += n;
        first = 0;
    }
    return total;
}

static const BrowseUser *find_user(const BrowseUser *u, size_t n, const char *ext)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(u[k].ext_id, ext))
            return &u[k];
    return NULL;
}

/* Compares two users under a sort column: <0, 0, >0 (0 only for ties the
 * id order then breaks). NaN and unknown times come first. */
static int user_cmp(int sort, const BrowseUser *a, const BrowseUser *b)
{
    switch (sort) {
    case BROWSE_U_N: return (a->n > b->n) - (a->n < b->n);
    case BROWSE_U_MEAN:
        if (isnan(a->mean) || isnan(b->mean))
            return !isnan(a->mean) - !isnan(b->mean);
        return (a->mean > b->mean) - (a->mean < b->mean);
    case BROWSE_U_FIRST: return (a->first_ts > b->first_ts) - (a->first_ts < b->first_ts);
    case BROWSE_U_LAST: return (a->last_ts > b->last_ts) - (a->last_ts < b->last_ts);
    case BROWSE_U_ATTRS: return (a->age > b->age) - (a->age < b->age);
    default: return 0;
    }
}

/* --- users ----------------------------------------------------------------------------- */

static void test_users_id_order_and_pages(void **state)
{
    Fx *fx = *state;
    BrowseUser rows[MAXROWS];
    size_t n;
    RsErr err = {0};
    BrowseQuery q = {.sort = BROWSE_U_ID, .dir = 1, .max = 10};
    assert_int_equal(browse_users(fx->s, &q, rows, &n, &err), RS_OK);
    assert_int_equal(n, 10);
    for (size_t k = 0; k < n; k++) { /* natural order: 1, 2, ..., 10 */
        char want[32];
        snprintf(want, sizeof want, "%zu", k + 1);
        assert_string_equal(rows[k].ext_id, want);
        assert_int_equal(rows[k].pos, (int64_t)k);
    }
    /* the page before the first row is empty */
    q.anchor = &rows[0].key;
    q.dir = -1;
    assert_int_equal(browse_users(fx->s, &q, rows + 20, &n, &err), RS_OK);
    assert_int_equal(n, 0);
    /* the last page: "21".."25", then "lonely" */
    q.anchor = NULL;
    q.dir = -1;
    q.max = 6;
    assert_int_equal(browse_users(fx->s, &q, rows, &n, &err), RS_OK);
    assert_int_equal(n, 6);
    assert_string_equal(rows[0].ext_id, "21");
    assert_string_equal(rows[5].ext_id, "lonely");
    assert_int_equal(rows[5].pos, NUSERS);
    /* the page after the last row is empty */
    q.anchor = &rows[5].key;
    q.dir = 1;
    assert_int_equal(browse_users(fx->s, &q, rows + 10, &n, &err), RS_OK);
    assert_int_equal(n, 0);
    /* a short page at the end */
    q.anchor = &rows[2].key;
    q.max = 10;
    assert_int_equal(browse_users(fx->s, &q, rows + 10, &n, &err), RS_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[10].ext_id, "24");
    int64_t total = 0;
    assert_int_equal(browse_user_total(fx->s, &total, &err), RS_OK);
    assert_int_equal(total, NUSERS + 1);
}

static void test_users_every_sort(void **state)
{
    Fx *fx = *state;
    BrowseUser fwd[MAXROWS], back[MAXROWS], one[MAXROWS];
    for (int sort = 0; sort < BROWSE_U_NCOLS; sort++) {
        for (int desc = 0; desc < 2; desc++) {
            size_t n = all_users(fx->s, sort, desc, NULL, 4, 0, fwd);
            assert_int_equal(n, NUSERS + 1);
            /* backwards from the end in pages of 3 gives the same sequence */
            assert_int_equal(all_users(fx->s, sort, desc, NULL, 3, 1, back), n);
            assert_int_equal(all_users(fx->s, sort, desc, NULL, MAXROWS, 0, one), n);
            for (size_t k = 0; k < n; k++) {
                assert_int_equal(fwd[k].id, back[k].id);
                assert_int_equal(fwd[k].id, one[k].id);
                assert_int_equal(fwd[k].pos, (int64_t)k);
                if (k > 0) {
                    int c = user_cmp(sort, &fwd[k - 1], &fwd[k]);
                    assert_true(desc ? c >= 0 : c <= 0);
                }
            }
        }
    }
    /* spot checks */
    all_users(fx->s, BROWSE_U_N, 1, NULL, 10, 0, fwd);
    assert_string_equal(fwd[0].ext_id, "25");
    assert_int_equal(fwd[0].n, 25);
    assert_string_equal(fwd[NUSERS].ext_id, "lonely");
    all_users(fx->s, BROWSE_U_MEAN, 0, NULL, 10, 0, fwd);
    assert_string_equal(fwd[0].ext_id, "5"); /* unrated, ties by id: "5" < "lonely" */
    assert_string_equal(fwd[1].ext_id, "lonely");
    all_users(fx->s, BROWSE_U_LAST, 1, NULL, 10, 0, fwd);
    assert_string_equal(fwd[0].ext_id, "25");
    assert_int_equal(fwd[NUSERS - 1].last_ts, STORE_NO_TS); /* "7" and "lonely" last */
    assert_int_equal(fwd[NUSERS].last_ts, STORE_NO_TS);
}

static void test_users_filters(void **state)
{
    Fx *fx = *state;
    BrowseUser rows[MAXROWS];
    size_t n;
    RsErr err = {0};
    int64_t matches = 0, count = 0;
    /* a regular expression anchored on one field: ids starting with 2 */
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "re:^2", 3, 0, rows), 7);
    assert_string_equal(rows[0].ext_id, "2");
    assert_string_equal(rows[1].ext_id, "20");
    assert_string_equal(rows[6].ext_id, "25");
    assert_int_equal(rows[0].pos, -1);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 1, "re:^2", 2, 1, rows), 7);
    assert_string_equal(rows[0].ext_id, "25");
    assert_string_equal(rows[6].ext_id, "2");
    BrowseQuery q = {.sort = BROWSE_U_N, .desc = 1, .filter = "re:^2", .dir = 1, .max = 2,
                     .matches = &matches};
    assert_int_equal(browse_users(fx->s, &q, rows, &n, &err), RS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(matches, 7);
    assert_string_equal(rows[0].ext_id, "25");
    assert_string_equal(rows[1].ext_id, "24");
    assert_int_equal(browse_user_count(fx->s, "re:^2", 0, &count, &err), RS_OK);
    assert_int_equal(count, 7);
    assert_int_equal(browse_user_count(fx->s, "re:^2", 3, &count, &err), RS_OK);
    assert_int_equal(count, 3);
    /* exactly one id */
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "re:^1$", 5, 0, rows), 1);
    assert_string_equal(rows[0].ext_id, "1");
    /* '$' and '^' anchor at each field; nothing matches across two */
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "re:^lonely$", 5, 0, rows), 1);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "re:lonely.40", 5, 0, rows), 0);
    /* substrings: case-insensitive; '%', '_' and quotes are plain characters */
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "SCIENTIST", 4, 0, rows), 12);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "100%_", 4, 0, rows), 1);
    assert_string_equal(rows[0].ext_id, "3");
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "%", 4, 0, rows), 1);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "_", 4, 0, rows), 1);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "o'neil", 4, 0, rows), 1);
    assert_string_equal(rows[0].ext_id, "4");
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "'", 4, 0, rows), 1);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "nobody here", 4, 0, rows), 0);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "99999", 4, 0, rows), 1); /* zip */
    /* an empty filter and an empty expression keep every row */
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "", 10, 0, rows), NUSERS + 1);
    assert_int_equal(all_users(fx->s, BROWSE_U_ID, 0, "re:", 10, 0, rows), NUSERS + 1);
    /* a bad expression is a usage error with regcomp's message */
    q.filter = "re:(";
    assert_int_equal(browse_users(fx->s, &q, rows, &n, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "regular expression"));
    assert_int_equal(browse_filter_check("re:[a-", &err), RS_EUSAGE);
    assert_int_equal(browse_filter_check("[a-", &err), RS_OK); /* a plain substring */
    q.filter = NULL;
    q.sort = BROWSE_U_NCOLS;
    assert_int_equal(browse_users(fx->s, &q, rows, &n, &err), RS_EUSAGE);
}

static void test_user_without_interactions(void **state)
{
    Fx *fx = *state;
    BrowseUser all[MAXROWS], u;
    RsErr err = {0};
    all_users(fx->s, BROWSE_U_ID, 0, NULL, 10, 0, all);
    const BrowseUser *lonely = find_user(all, NUSERS + 1, "lonely");
    assert_non_null(lonely);
    assert_int_equal(browse_user(fx->s, lonely->id, &u, &err), RS_OK);
    assert_string_equal(u.ext_id, "lonely");
    assert_int_equal(u.n, 0);
    assert_int_equal(u.n_rated, 0);
    assert_true(isnan(u.mean));
    assert_int_equal(u.first_ts, STORE_NO_TS);
    assert_int_equal(u.last_ts, STORE_NO_TS);
    assert_int_equal(u.age, 40);
    assert_string_equal(u.occupation, "artist");
    assert_string_equal(u.zip, "99999");
    BrowseHist h[4];
    size_t n = 9, total = 9;
    BrowseQuery q = {.sort = BROWSE_H_TIME, .dir = 1, .max = 4};
    assert_int_equal(browse_history(fx->s, u.id, &q, h, &n, &err), RS_OK);
    assert_int_equal(n, 0);
    BrowseGenre g[4];
    assert_int_equal(browse_genres(fx->s, u.id, g, 4, &n, &total, &err), RS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    assert_int_equal(browse_user(fx->s, 999999, &u, &err), RS_ENOTFOUND);
    /* user "3": 3 interactions, mean of ratings (3+1)%5+1.. */
    const BrowseUser *three = find_user(all, NUSERS + 1, "3");
    assert_int_equal(three->n, 3);
    assert_int_equal(three->age, 63);
    assert_string_equal(three->gender, "F");
    assert_near(three->mean, (rating_of(3, 1) + rating_of(3, 2) + rating_of(3, 3)) / 3,
                        1e-9);
    assert_int_equal(three->first_ts, 1000000 + 3000 + 14 % 11);
}

/* --- history ------------------------------------------------------------------------------ */

/* The whole history of user ext, pages of size page, forwards or backwards. */
static size_t all_history(Store *s, int64_t uid, int sort, int desc, const char *filter,
                          size_t page, int back, BrowseHist *out)
{
    BrowseHist rows[MAXROWS];
    BrowseKey anchor;
    size_t total = 0, n;
    RsErr err = {0};
    for (int first = 1;; first = 0) {
        BrowseQuery q = {.sort = sort, .desc = desc, .filter = filter,
                         .anchor = first ? NULL : &anchor, .dir = back ? -1 : 1, .max = page};
        assert_int_equal(browse_history(s, uid, &q, rows, &n, &err), RS_OK);
        if (n == 0)
            break;
        assert_true(total + n <= MAXROWS);
        if (back) {
            memmove(out + n, out, total * sizeof *out);
            memcpy(out, rows, n * sizeof *rows);
            anchor = rows[0].key;
        } else {
            memcpy(out + total, rows, n * sizeof *rows);
            anchor = rows[n - 1].key;
        }
        total += n;
    }
    return total;
}

static int64_t user_id_of(Store *s, const char *ext)
{
    BrowseUser all[MAXROWS];
    size_t n = all_users(s, BROWSE_U_ID, 0, NULL, 30, 0, all);
    const BrowseUser *u = find_user(all, n, ext);
    assert_non_null(u);
    return u->id;
}

static void test_history_orders(void **state)
{
    Fx *fx = *state;
    BrowseHist a[MAXROWS], b[MAXROWS];
    /* user 9: nine items, times 1009000 + (7 j mod 11), ratings (9 + j) mod 5 + 1 */
    int64_t u9 = user_id_of(fx->s, "9");
    for (int sort = 0; sort < BROWSE_H_NCOLS; sort++) {
        for (int desc = 0; desc < 2; desc++) {
            size_t n = all_history(fx->s, u9, sort, desc, NULL, 2, 0, a);
            assert_int_equal(n, 9);
            assert_int_equal(all_history(fx->s, u9, sort, desc, NULL, 4, 1, b), 9);
            for (size_t k = 0; k < n; k++) {
                assert_int_equal(a[k].item_id, b[k].item_id);
                if (k == 0)
                    continue;
                double x = sort == BROWSE_H_TIME ? (double)a[k - 1].ts : a[k - 1].rating;
                double y = sort == BROWSE_H_TIME ? (double)a[k].ts : a[k].rating;
                assert_true(desc ? x >= y : x <= y);
                if (x == y) /* ties by item id */
                    assert_true(desc ? a[k - 1].item_id > a[k].item_id
                                     : a[k - 1].item_id < a[k].item_id);
            }
        }
    }
    all_history(fx->s, u9, BROWSE_H_TIME, 1, NULL, 3, 0, a);
    assert_int_equal(a[0].ts, 1000000 + 9000 + 10); /* j = 3: 21 mod 11 */
    assert_string_equal(a[0].item_ext, "i3");
    assert_string_equal(a[0].title, "Title 3");
    assert_string_equal(a[0].genres, "Drama");
    /* user 7: no times; paging by time still sees every row (by item id) */
    int64_t u7 = user_id_of(fx->s, "7");
    assert_int_equal(all_history(fx->s, u7, BROWSE_H_TIME, 0, NULL, 2, 0, a), 7);
    assert_int_equal(all_history(fx->s, u7, BROWSE_H_TIME, 1, NULL, 3, 1, b), 7);
    for (int k = 0; k < 7; k++) {
        assert_int_equal(a[k].ts, STORE_NO_TS);
        assert_int_equal(a[k].item_id, b[6 - k].item_id);
    }
    /* user 5: no ratings */
    int64_t u5 = user_id_of(fx->s, "5");
    assert_int_equal(all_history(fx->s, u5, BROWSE_H_RATING, 1, NULL, 2, 0, a), 5);
    assert_true(isnan(a[0].rating));
    /* search inside a history: title, genres or item id */
    assert_int_equal(all_history(fx->s, u9, BROWSE_H_TIME, 0, "comedy", 2, 0, a), 3);
    assert_int_equal(all_history(fx->s, u9, BROWSE_H_TIME, 0, "re:^i[12]$", 1, 0, a), 2);
    assert_int_equal(all_history(fx->s, u9, BROWSE_H_TIME, 0, "%", 1, 0, a), 1);
    assert_string_equal(a[0].title, "100% Pure_Fun");
    assert_int_equal(all_history(fx->s, u9, BROWSE_H_TIME, 0, "\"quoted\"", 1, 0, a), 1);
}

static void test_genre_profile(void **state)
{
    Fx *fx = *state;
    BrowseGenre g[8];
    size_t n, total;
    RsErr err = {0};
    /* user 4: i1 Comedy|Drama (r 1), i2 Action (2), i3 Drama (3), i4 Comedy|Drama (4) */
    int64_t u4 = user_id_of(fx->s, "4");
    assert_int_equal(browse_genres(fx->s, u4, g, 8, &n, &total, &err), RS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(total, 3);
    assert_string_equal(g[0].name, "Drama");
    assert_int_equal(g[0].n, 3);
    assert_near(g[0].mean, (rating_of(4, 1) + rating_of(4, 3) + rating_of(4, 4)) / 3,
                        1e-9);
    assert_string_equal(g[1].name, "Comedy");
    assert_int_equal(g[1].n, 2);
    assert_string_equal(g[2].name, "Action");
    assert_int_equal(g[2].n, 1);
    assert_int_equal(browse_genres(fx->s, u4, g, 1, &n, &total, &err), RS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 3);
    /* user 5 has no ratings: counts but no mean */
    int64_t u5 = user_id_of(fx->s, "5");
    assert_int_equal(browse_genres(fx->s, u5, g, 8, &n, &total, &err), RS_OK);
    assert_int_equal(g[0].n_rated, 0);
    assert_true(isnan(g[0].mean));
}

/* --- items ---------------------------------------------------------------------------------- */

static size_t all_items(Store *s, int sort, int desc, const char *filter, size_t page,
                        BrowseItem *out)
{
    BrowseItem rows[MAXROWS];
    BrowseKey anchor;
    size_t total = 0, n;
    RsErr err = {0};
    for (int first = 1;; first = 0) {
        BrowseQuery q = {.sort = sort, .desc = desc, .filter = filter,
                         .anchor = first ? NULL : &anchor, .dir = 1, .max = page};
        assert_int_equal(browse_items(s, &q, rows, &n, &err), RS_OK);
        if (n == 0)
            break;
        assert_true(total + n <= MAXROWS);
        memcpy(out + total, rows, n * sizeof *rows);
        anchor = rows[n - 1].key;
        total += n;
    }
    return total;
}

static void test_items_sorts_and_filters(void **state)
{
    Fx *fx = *state;
    BrowseItem it[MAXROWS];
    RsErr err = {0};
    for (int sort = 0; sort < BROWSE_I_NCOLS; sort++)
        for (int desc = 0; desc < 2; desc++)
            assert_int_equal(all_items(fx->s, sort, desc, NULL, 7, it), NITEMS);
    /* popularity: i1 has every user's interaction, i26..i30 none */
    all_items(fx->s, BROWSE_I_N, 1, NULL, 7, it);
    assert_string_equal(it[0].ext_id, "i1");
    assert_int_equal(it[0].n, NUSERS);
    assert_string_equal(it[0].title, "100% Pure_Fun");
    assert_string_equal(it[0].tags, "fun");
    assert_int_equal(it[0].year, 1999);
    for (int k = 1; k < NITEMS; k++)
        assert_true(it[k - 1].n >= it[k].n);
    assert_int_equal(it[NITEMS - 1].n, 0);
    assert_true(isnan(it[NITEMS - 1].mean));
    /* ids and titles in natural order */
    all_items(fx->s, BROWSE_I_ID, 0, NULL, 7, it);
    assert_string_equal(it[0].ext_id, "i1");
    assert_string_equal(it[1].ext_id, "i2");
    assert_string_equal(it[9].ext_id, "i10");
    all_items(fx->s, BROWSE_I_TITLE, 0, NULL, 7, it);
    assert_string_equal(it[0].title, "100% Pure_Fun");
    assert_string_equal(it[1].title, "It's \"Quoted\"");
    assert_string_equal(it[2].title, "Title 3");
    assert_string_equal(it[9].title, "Title 10");
    /* year: unknown first */
    all_items(fx->s, BROWSE_I_YEAR, 0, NULL, 7, it);
    assert_int_equal(it[0].year, 0);
    for (int k = 1; k < NITEMS; k++)
        assert_true(it[k - 1].year <= it[k].year);
    /* filters over id, title, year, genres and tags */
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "%", 3, it), 1);
    assert_string_equal(it[0].ext_id, "i1");
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "_", 3, it), 1);
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "\"", 3, it), 1);
    assert_string_equal(it[0].ext_id, "i2");
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "it's", 3, it), 1);
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "action", 3, it), 10);
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "re:^comedy[|]drama$", 3, it), 10);
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "re:^comedy$", 3, it), 0);
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "re:^title [0-9]$", 3, it), 7);
    assert_int_equal(all_items(fx->s, BROWSE_I_ID, 0, "1999", 3, it), 1);
    int64_t count;
    assert_int_equal(browse_item_count(fx->s, "drama", 0, &count, &err), RS_OK);
    assert_int_equal(count, 20);
    assert_int_equal(browse_item_total(fx->s, &count, &err), RS_OK);
    assert_int_equal(count, NITEMS);
}

static void test_item_details(void **state)
{
    Fx *fx = *state;
    BrowseItem it[MAXROWS], one;
    RsErr err = {0};
    char *desc = NULL;
    all_items(fx->s, BROWSE_I_ID, 0, NULL, 10, it);
    assert_int_equal(browse_item(fx->s, it[0].id, &one, &desc, &err), RS_OK);
    assert_string_equal(desc, "A fine film");
    free(desc);
    assert_int_equal(one.n, NUSERS);
    /* its rating distribution over the dataset's values 1..5 */
    BrowseBin bins[8];
    size_t n;
    assert_int_equal(browse_item_ratings(fx->s, one.id, bins, 8, &n, &err), RS_OK);
    assert_int_equal(n, 5);
    int64_t want[6] = {0};
    for (int k = 1; k <= NUSERS; k++)
        if (k != 5)
            want[(int)rating_of(k, 1)]++;
    for (size_t b = 0; b < n; b++) {
        assert_near(bins[b].rating, (double)(b + 1), 0);
        assert_int_equal(bins[b].n, want[b + 1]);
    }
    /* an item nobody rated: zeros, no users, no description */
    const BrowseItem *none = NULL;
    for (int k = 0; k < NITEMS; k++)
        if (!strcmp(it[k].ext_id, "i30"))
            none = &it[k];
    assert_non_null(none);
    assert_int_equal(browse_item(fx->s, none->id, &one, &desc, &err), RS_OK);
    assert_null(desc);
    assert_int_equal(one.n, 0);
    assert_true(isnan(one.mean));
    assert_int_equal(one.first_ts, STORE_NO_TS);
    assert_int_equal(browse_item_ratings(fx->s, none->id, bins, 8, &n, &err), RS_OK);
    assert_int_equal(n, 5);
    for (size_t b = 0; b < n; b++)
        assert_int_equal(bins[b].n, 0);
    BrowseItemUser iu[4];
    BrowseQuery q = {.dir = 1, .max = 4};
    assert_int_equal(browse_item_users(fx->s, none->id, &q, iu, &n, &err), RS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(browse_item(fx->s, 999999, &one, &desc, &err), RS_ENOTFOUND);
}

static void test_item_users(void **state)
{
    Fx *fx = *state;
    BrowseItem it[MAXROWS];
    BrowseItemUser rows[MAXROWS], page[MAXROWS];
    RsErr err = {0};
    size_t n, total = 0;
    all_items(fx->s, BROWSE_I_ID, 0, NULL, 10, it);
    int64_t i3 = it[2].id; /* users 3..25 */
    BrowseQuery q = {.dir = 1, .max = 10};
    for (;;) {
        assert_int_equal(browse_item_users(fx->s, i3, &q, page, &n, &err), RS_OK);
        if (!n)
            break;
        memcpy(rows + total, page, n * sizeof *page);
        total += n;
        q.anchor = &rows[total - 1].key;
    }
    assert_int_equal(total, NUSERS - 2);
    assert_string_equal(rows[0].user_ext, "3");
    assert_near(rows[0].rating, rating_of(3, 3), 0);
    assert_int_equal(rows[0].user_n, 3);
    for (size_t k = 1; k < total; k++)
        assert_true(rows[k - 1].user_id < rows[k].user_id);
    /* backwards from the end, and the page before the first row */
    q.anchor = NULL;
    q.dir = -1;
    q.max = 4;
    assert_int_equal(browse_item_users(fx->s, i3, &q, page, &n, &err), RS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(page[3].user_id, rows[total - 1].user_id);
    q.anchor = &rows[0].key;
    assert_int_equal(browse_item_users(fx->s, i3, &q, page, &n, &err), RS_OK);
    assert_int_equal(n, 0);
    /* search among them: ids starting with 2 */
    q.anchor = NULL;
    q.dir = 1;
    q.max = 20;
    q.filter = "re:^2";
    assert_int_equal(browse_item_users(fx->s, i3, &q, page, &n, &err), RS_OK);
    assert_int_equal(n, 6);
    assert_string_equal(page[0].user_ext, "20");
    q.desc = 1;
    assert_int_equal(browse_item_users(fx->s, i3, &q, page, &n, &err), RS_OK);
    assert_int_equal(n, 6);
    assert_string_equal(page[0].user_ext, "25");
}

/* An item with more interactions than ITEM_USERS_SCAN_USERS: its filtered
 * users come from a scan of the users, and must agree with the index. */
static void test_item_users_popular(void **state)
{
    (void)state;
    enum { N = 10050 };
    char *dir = tu_mkdtemp(), *db = tu_path(dir, "p.db");
    char *buf = malloc((size_t)N * 32 + 64);
    size_t o = (size_t)sprintf(buf, "user,item,rating\n");
    for (int k = 0; k < N; k++)
        o += (size_t)sprintf(buf + o, "u%d,hit,%d\nu%d,other%d,1\n", k, k % 5 + 1, k, k % 3);
    char *csv = tu_write(dir, "r.csv", buf, o);
    Store *s;
    RsErr err = {0};
    assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, &err), RS_OK);
    ImportOptions opt;
    import_options_default(&opt);
    const char *paths[] = {csv};
    assert_int_equal(store_import(s, paths, 1, &opt, NULL, &err), RS_OK);
    BrowseItem it;
    size_t n;
    BrowseQuery iq = {.sort = BROWSE_I_N, .desc = 1, .dir = 1, .max = 1};
    assert_int_equal(browse_items(s, &iq, &it, &n, &err), RS_OK);
    assert_string_equal(it.ext_id, "hit");
    assert_int_equal(it.n, N);
    BrowseItemUser rows[64];
    /* u7, u70..u79, u700..u799, u7000..u7999: 1 + 10 + 100 + 1000 */
    const char *filters[] = {"re:^u7", "U99"};
    const size_t want[] = {1111, 1 + 10 + 100};
    for (int f = 0; f < 2; f++) {
        size_t total = 0;
        int64_t last = -1;
        BrowseQuery q = {.filter = filters[f], .dir = 1, .max = 64};
        BrowseKey anchor;
        for (;;) {
            assert_int_equal(browse_item_users(s, it.id, &q, rows, &n, &err), RS_OK);
            if (!n)
                break;
            for (size_t k = 0; k < n; k++) {
                assert_true(rows[k].user_id > last);
                last = rows[k].user_id;
            }
            total += n;
            anchor = rows[n - 1].key;
            q.anchor = &anchor;
        }
        assert_int_equal(total, want[f]);
    }
    store_close(s);
    free(csv);
    free(buf);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

/* --- the cache in the file -------------------------------------------------------------- */

static long raw_long(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long v = -1;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = (long)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

static void test_cache_in_file(void **state)
{
    Fx *fx = *state;
    RsErr err = {0};
    BrowseUser before[MAXROWS], after[MAXROWS];
    size_t n = all_users(fx->s, BROWSE_U_MEAN, 1, NULL, 5, 0, before);
    /* the import built the cache in the file */
    assert_int_equal(raw_long(fx->db, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                      "'browse_users'"), 1);
    assert_int_equal(browse_cache_refresh(fx->s, &err), RS_EUSAGE); /* read-only */
    Store *rw;
    assert_int_equal(store_open(&rw, fx->db, 0, &err), RS_OK);
    assert_int_equal(browse_cache_refresh(rw, &err), RS_OK);
    store_close(rw);
    assert_int_equal(raw_long(fx->db, "SELECT count(*) FROM browse_users"), NUSERS + 1);
    assert_int_equal(raw_long(fx->db, "SELECT count(*) FROM browse_items"), NITEMS);
    assert_int_equal(raw_long(fx->db, "SELECT value FROM stats WHERE key = "
                                      "'browse_interactions'"),
                     NUSERS * (NUSERS + 1) / 2);
    /* a fresh connection uses the file's cache, with the same answers */
    Store *ro;
    assert_int_equal(store_open(&ro, fx->db, STORE_OPEN_READONLY, &err), RS_OK);
    assert_int_equal(all_users(ro, BROWSE_U_MEAN, 1, NULL, 5, 0, after), n);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(before[k].id, after[k].id);
    store_close(ro);
    /* a later import makes the file's cache stale until refreshed: readers
     * then build their own */
    char *more = tu_write(fx->dir, "more.csv", "user,item,rating\nnew,i1,5\n", (size_t)-1);
    assert_int_equal(store_open(&rw, fx->db, 0, &err), RS_OK);
    ImportOptions o;
    import_options_default(&o);
    const char *paths[] = {more};
    assert_int_equal(store_import(rw, paths, 1, &o, NULL, &err), RS_OK);
    store_close(rw);
    assert_int_equal(store_open(&ro, fx->db, STORE_OPEN_READONLY, &err), RS_OK);
    int64_t total;
    assert_int_equal(browse_user_total(ro, &total, &err), RS_OK);
    assert_int_equal(total, NUSERS + 2);
    store_close(ro);
    free(more);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_users_id_order_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_every_sort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_without_interactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_genre_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_items_sorts_and_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_details, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_users, setup, teardown),
        cmocka_unit_test(test_item_users_popular),
        cmocka_unit_test_setup_teardown(test_cache_in_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
