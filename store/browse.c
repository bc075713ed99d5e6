/*
 * browse.c - paginated, sortable, filterable queries for the browsing
 * screens, and the cache of per-user and per-item statistics they sort on.
 *
 * The cache (see browse.h for why it exists) is three tables:
 *   browse_users(user_id, n, n_rated, mean, first_ts, last_ts, r_*)
 *   browse_items(item_id, n, n_rated, mean, first_ts, last_ts, r_*)
 *   browse_item_hist(item_id, rating, n)
 * one row per user and per item (those with no interaction included), where
 * each r_* column is the row's rank 0..N-1 in one sort order, with a unique
 * index. cache_build() fills them in one pass over the interactions in
 * primary-key order (from the table, or from the rows a first import holds
 * in memory: see StRows), accumulating per-id arrays in memory, then sorts the
 * users and items in C for the ranks (the natural order of ids and titles
 * needs a comparison SQLite has no collation for). It writes either to
 * main (browse_cache_refresh, at import time, with marker rows in stats)
 * or to temp (browse_prepare, when main has no current cache); the queries
 * name the tables unqualified, and SQLite resolves temp before main.
 *
 * A page of the user or item list is a range scan of one rank index:
 *   WHERE r > :anchor_rank ORDER BY r LIMIT :n      (or <, DESC)
 * A filtered page is one scan of the cache table instead, testing each
 * row's filter text (hay: the searchable fields lowercased, one per line)
 * and keeping the page in a bounded heap by rank, counting the matches on
 * the way: about 20 ms for 138k users whatever the filter matches, where
 * walking the rank index would stop early on a common match but cost 150 ms
 * per page on a rare one. Substrings go through instr(), regular
 * expressions through browse_match() (POSIX regcomp/regexec, REG_NEWLINE so
 * that an expression stays within a field).
 * A history page is a keyset on (sort value, item id) with NULLs first,
 * over the (user_id, ts) index for time and over the user's primary-key
 * range plus a bounded sort for rating (a history is at most a few thousand
 * rows). The users of an item are a keyset on user id over the item index.
 */
#include "browse.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define FILTER_RE "re:"
#define HAY_SEP '\n' /* between the fields of a filter text: never typed in a filter */

/* --- small helpers ---------------------------------------------------------- */

/* Copies src into dst[cap], cut at a UTF-8 character boundary. */
static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    size_t n = src ? strlen((const char *)src) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && (src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static void col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    copy_text(dst, cap, sqlite3_column_text(st, col));
}

static double col_num(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static int64_t col_ts(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? STORE_NO_TS
                                                      : sqlite3_column_int64(st, col);
}

static int col_int_or(sqlite3_stmt *st, int col, int unknown)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? unknown : sqlite3_column_int(st, col);
}

/* ASCII case folding, the same whatever the locale (the filter text is
 * folded at import time, the pattern in the TUI). */
static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* NULL for a filter that keeps every row: none, "" or "re:" alone. */
static const char *filter_or_null(const char *f)
{
    return f && *f && strcmp(f, FILTER_RE) != 0 ? f : NULL;
}

/* Natural order: runs of digits compare as numbers, other bytes by ASCII
 * case-insensitive value; equal strings under that order tie (0). */
static int natcmp(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0' && isdigit((unsigned char)a[1]))
                a++;
            while (*b == '0' && isdigit((unsigned char)b[1]))
                b++;
            size_t la = 0, lb = 0;
            while (isdigit((unsigned char)a[la]))
                la++;
            while (isdigit((unsigned char)b[lb]))
                lb++;
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = memcmp(a, b, la);
            if (c)
                return c < 0 ? -1 : 1;
            a += la;
            b += lb;
            continue;
        }
        int ca = ascii_lower((unsigned char)*a), cb = ascii_lower((unsigned char)*b);
        if (ca != cb)
            return ca < cb ? -1 : 1;
        a++, b++;
    }
    return (*a != 0) - (*b != 0);
}

/* --- the filter: browse_match(pattern, field, ...) ------------------------------ */

/* Whether needle occurs in hay, ASCII letters compared case-insensitively. */
static int ci_contains(const char *hay, const char *needle)
{
    size_t m = strlen(needle);
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < m && hay[k] &&
               ascii_lower((unsigned char)hay[k]) == ascii_lower((unsigned char)needle[k]))
            k++;
        if (k == m)
            return 1;
    }
    return m == 0;
}

static void regex_free(void *p)
{
    regfree(p);
    sqlite3_free(p);
}

/* REG_NEWLINE: '^' and '$' also match at the HAY_SEP between two fields,
 * and '.' and [^...] never match it, so an expression matches one field. */
#define RE_FLAGS (REG_EXTENDED | REG_ICASE | REG_NOSUB | REG_NEWLINE)

/* 1 when any field (argument 1.., each maybe several joined by HAY_SEP)
 * matches the pattern (argument 0): a substring, or a regular expression
 * after "re:", compiled once per statement and kept as the pattern
 * argument's auxiliary data. NULL fields never match; an empty pattern
 * matches every row. */
static void match_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *pat = (const char *)sqlite3_value_text(argv[0]);
    int hit = 0;
    if (!pat || !*pat || !strcmp(pat, FILTER_RE)) {
        sqlite3_result_int(ctx, 1);
        return;
    }
    if (strncmp(pat, FILTER_RE, 3) != 0) {
        for (int k = 1; k < argc && !hit; k++) {
            const char *f = (const char *)sqlite3_value_text(argv[k]);
            hit = f && ci_contains(f, pat);
        }
        sqlite3_result_int(ctx, hit);
        return;
    }
    regex_t *re = sqlite3_get_auxdata(ctx, 0);
    int fresh = !re;
    if (fresh) {
        if (!(re = sqlite3_malloc(sizeof *re))) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (regcomp(re, pat + 3, RE_FLAGS) != 0) {
            sqlite3_free(re);
            sqlite3_result_error(ctx, "bad regular expression", -1);
            return;
        }
    }
    for (int k = 1; k < argc && !hit; k++) {
        const char *f = (const char *)sqlite3_value_text(argv[k]);
        hit = f && regexec(re, f, 0, NULL, 0) == 0;
    }
    sqlite3_result_int(ctx, hit);
    if (fresh) /* may free re at once: last use above */
        sqlite3_set_auxdata(ctx, 0, re, regex_free);
}

int browse_filter_check(const char *filter, RsErr *err)
{
    if (!filter || strncmp(filter, FILTER_RE, 3) != 0 || !filter[3])
        return RS_OK;
    regex_t re;
    int rc = regcomp(&re, filter + 3, RE_FLAGS);
    if (rc == 0) {
        regfree(&re);
        return RS_OK;
    }
    char msg[160];
    regerror(rc, &re, msg, sizeof msg);
    return rs_err_set(err, RS_EUSAGE, "bad regular expression: %s", msg);
}

/* The condition that row's filter text (column hay of alias, "" for
 * none) matches the filter bound at parameter p. A substring is searched
 * with the built-in instr() (the filter text is lowercased at build time,
 * the pattern by bind_filter): a third cheaper per row than a call to
 * browse_match(), which the regular expressions need. */
static void hay_cond(char *buf, size_t n, const char *filter, const char *alias, int p)
{
    if (filter && !strncmp(filter, FILTER_RE, 3))
        snprintf(buf, n, "browse_match(?%d, %s%shay)", p, alias, *alias ? "." : "");
    else
        snprintf(buf, n, "instr(%s%shay, ?%d) > 0", alias, *alias ? "." : "", p);
}

/* Binds filter (non-empty) for hay_cond: a substring lowercased. */
static int bind_filter(sqlite3_stmt *st, int p, const char *filter)
{
    if (!strncmp(filter, FILTER_RE, 3))
        return sqlite3_bind_text(st, p, filter, -1, SQLITE_TRANSIENT);
    size_t n = strlen(filter);
    char *low = sqlite3_malloc64(n + 1);
    if (!low)
        return SQLITE_NOMEM;
    for (size_t k = 0; k <= n; k++)
        low[k] = (char)ascii_lower((unsigned char)filter[k]);
    return sqlite3_bind_text(st, p, low, (int)n, sqlite3_free);
}

static int register_match(Store *s, RsErr *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT browse_match(NULL, NULL)", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_finalize(st);
        return RS_OK;
    }
    if (sqlite3_create_function_v2(s->db, "browse_match", -1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   match_fn, NULL, NULL, NULL) != SQLITE_OK)
        return st_dberr(s, "registering browse_match", err);
    return RS_OK;
}

/* --- building the cache --------------------------------------------------------- */

static const char *const user_rank_cols[BROWSE_U_NCOLS] = {
    [BROWSE_U_ID] = "r_id",       [BROWSE_U_N] = "r_n",       [BROWSE_U_MEAN] = "r_mean",
    [BROWSE_U_FIRST] = "r_first", [BROWSE_U_LAST] = "r_last", [BROWSE_U_ATTRS] = "r_attrs",
};
static const char *const item_rank_cols[BROWSE_I_NCOLS] = {
    [BROWSE_I_ID] = "r_id",         [BROWSE_I_TITLE] = "r_title", [BROWSE_I_YEAR] = "r_year",
    [BROWSE_I_GENRES] = "r_genres", [BROWSE_I_N] = "r_n",         [BROWSE_I_MEAN] = "r_mean",
};

/* Per-id totals from the pass over the interactions. */
typedef struct Acc {
    int64_t n, n_rated;
    double sum;
    int64_t first, last; /* valid when timed */
    int timed;
} Acc;

static void acc_add(Acc *a, const StRow *r)
{
    a->n++;
    if (!isnan(r->rating)) {
        a->n_rated++;
        a->sum += r->rating;
    }
    if (r->ts != STORE_NO_TS) {
        if (!a->timed || r->ts < a->first)
            a->first = r->ts;
        if (!a->timed || r->ts > a->last)
            a->last = r->ts;
        a->timed = 1;
    }
}

/* One user or item with what its ranks are computed from. */
typedef struct Ent {
    int64_t id;
    char *ext, *s1, *s2, *s3; /* users: gender, occupation, zip; items: title, genres, tags */
    char *hay;                /* what filters look at (see make_hay) */
    int num;                  /* users: age (-1); items: year (0 unknown) */
    const Acc *acc;
    int64_t rank[8];
} Ent;

typedef struct Build {
    int64_t max_user, max_item;
    Acc *users;         /* (max_user + 1) */
    Acc *items;         /* (max_item + 1) */
    int nbins;
    double bins[STORE_MAX_HIST];  /* the dataset's rating histogram values, ascending */
    int32_t *hist;      /* (max_item + 1, nbins) */
    int64_t n;          /* interactions seen */
} Build;

static int bin_of(const Build *b, double r)
{
    int lo = 0, hi = b->nbins - 1;
    while (lo < hi) { /* first bin whose value is >= r, then the nearer neighbour */
        int mid = (lo + hi) / 2;
        if (b->bins[mid] < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && r - b->bins[lo - 1] < b->bins[lo] - r)
        lo--;
    return lo;
}

#define BROWSE_MAX_ID ((int64_t)1 << 31)

static int build_alloc(Store *s, Build *b, RsErr *err)
{
    int rc = st_query_int(s, "SELECT coalesce(max(id), 0) FROM users", &b->max_user, err);
    if (!rc)
        rc = st_query_int(s, "SELECT coalesce(max(id), 0) FROM items", &b->max_item, err);
    if (rc)
        return rc;
    if (b->max_user < 0 || b->max_user >= BROWSE_MAX_ID || b->max_item < 0 ||
        b->max_item >= BROWSE_MAX_ID)
        return rs_err_set(err, RS_EDB, "%s: user or item ids out of range", s->path);
    sqlite3_stmt *st;
    if ((rc = st_prepare(s, "SELECT rating FROM stats_rating_hist ORDER BY rating", &st, err)))
        return rc;
    while (sqlite3_step(st) == SQLITE_ROW && b->nbins < STORE_MAX_HIST)
        b->bins[b->nbins++] = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    b->users = calloc((size_t)b->max_user + 1, sizeof *b->users);
    b->items = calloc((size_t)b->max_item + 1, sizeof *b->items);
    b->hist = calloc(((size_t)b->max_item + 1) * (size_t)(b->nbins ? b->nbins : 1),
                     sizeof *b->hist);
    if (!b->users || !b->items || !b->hist)
        return rs_err_set(err, RS_ENOMEM, "out of memory building the browse cache");
    return RS_OK;
}

/* The one pass over the interactions. */
static int build_scan(Store *s, const StRows *mem, Build *b, RsErr *err)
{
    StScan it;
    StRow row;
    int rc = st_scan_open(s, mem, &it, err), r;
    if (rc)
        return rc;
    while ((r = st_scan_next(&it, &row, err)) == 1) {
        b->n++;
        if (row.u >= 0 && row.u <= b->max_user)
            acc_add(&b->users[row.u], &row);
        if (row.i < 0 || row.i > b->max_item)
            continue;
        acc_add(&b->items[row.i], &row);
        if (b->nbins && !isnan(row.rating)) {
            int k = bin_of(b, row.rating);
            b->hist[(size_t)row.i * (size_t)b->nbins + (size_t)k]++;
        }
    }
    st_scan_close(&it);
    return r < 0 ? r : RS_OK;
}

/* The fields a filter looks at, lowercased (ASCII) and joined by HAY_SEP,
 * a byte no typed filter contains, so that a substring never spans two
 * fields and a regular expression compiled with REG_NEWLINE matches within
 * one field: one regexec() per row rather than one per field. A newline
 * inside a field becomes a space. */
static char *make_hay(const char *const *f, int nf)
{
    size_t len = 1;
    for (int k = 0; k < nf; k++)
        len += (f[k] ? strlen(f[k]) : 0) + 1;
    char *h = malloc(len), *o = h;
    if (!h)
        return NULL;
    for (int k = 0; k < nf; k++) {
        if (k)
            *o++ = HAY_SEP;
        for (const char *c = f[k]; c && *c; c++)
            *o++ = *c == HAY_SEP ? ' ' : (char)ascii_lower((unsigned char)*c);
    }
    *o = '\0';
    return h;
}

static char *dup_col(sqlite3_stmt *st, int col, int *oom)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return NULL;
    char *d = strdup((const char *)t);
    *oom |= !d;
    return d;
}

/* Reads every user (items = 0) or item (items = 1) into *out. */
static int load_ents(Store *s, const Build *b, int items, Ent **out, size_t *n, RsErr *err)
{
    const char *sql = items ? "SELECT id, ext_id, title, genres, tags, year FROM items"
                            : "SELECT id, ext_id, gender, occupation, zip, age FROM users";
    static const Acc none;
    int64_t count = 0;
    int rc = st_query_int(s, items ? "SELECT count(*) FROM items" : "SELECT count(*) FROM users",
                          &count, err);
    if (rc)
        return rc;
    Ent *e = calloc((size_t)count + 1, sizeof *e);
    sqlite3_stmt *st;
    if (!e)
        return rs_err_set(err, RS_ENOMEM, "out of memory building the browse cache");
    *out = e;
    *n = 0;
    if ((rc = st_prepare(s, sql, &st, err)))
        return rc;
    int oom = 0, r;
    while (!oom && (size_t)count > *n && (r = sqlite3_step(st)) == SQLITE_ROW) {
        Ent *x = &e[(*n)++];
        x->id = sqlite3_column_int64(st, 0);
        x->ext = dup_col(st, 1, &oom);
        x->s1 = dup_col(st, 2, &oom);
        x->s2 = dup_col(st, 3, &oom);
        x->s3 = dup_col(st, 4, &oom);
        x->num = col_int_or(st, 5, items ? 0 : -1);
        /* users: id, age, gender, occupation, zip; items: id, title, year, genres, tags */
        const char *f[5] = {x->ext, NULL, x->s1, x->s2, x->s3};
        if (items)
            f[1] = x->s1, f[2] = (const char *)sqlite3_column_text(st, 5), f[3] = x->s2;
        else
            f[1] = (const char *)sqlite3_column_text(st, 5);
        oom |= !(x->hay = make_hay(f, 5));
        int64_t max = items ? b->max_item : b->max_user;
        const Acc *acc = items ? b->items : b->users;
        x->acc = x->id >= 0 && x->id <= max ? &acc[x->id] : &none;
    }
    sqlite3_finalize(st);
    if (oom)
        return rs_err_set(err, RS_ENOMEM, "out of memory building the browse cache");
    return RS_OK;
}

static void ents_free(Ent *e, size_t n)
{
    for (size_t k = 0; e && k < n; k++) {
        free(e[k].hay);
        free(e[k].ext);
        free(e[k].s1);
        free(e[k].s2);
        free(e[k].s3);
    }
    free(e);
}

/* Comparators over Ent pointers. Each ends with the id rank (or the id
 * itself for the id order), so every order is total and ranks unique. */
static int cmp3(int c, const Ent *x, const Ent *y)
{
    if (c)
        return c;
    if (x->rank[0] != y->rank[0])
        return x->rank[0] < y->rank[0] ? -1 : 1;
    return 0;
}

static int cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

static int cmp_mean(const Acc *a, const Acc *b)
{
    if (!a->n_rated || !b->n_rated)
        return (a->n_rated != 0) - (b->n_rated != 0);
    double x = a->sum / (double)a->n_rated, y = b->sum / (double)b->n_rated;
    return (x > y) - (x < y);
}

static int cmp_ts(const Acc *a, const Acc *b, int last)
{
    if (!a->timed || !b->timed)
        return a->timed - b->timed;
    return last ? cmp_i64(a->last, b->last) : cmp_i64(a->first, b->first);
}

#define ENTS(a, b) const Ent *x = *(const Ent *const *)(a), *y = *(const Ent *const *)(b)

static int by_id(const void *a, const void *b)
{
    ENTS(a, b);
    int c = natcmp(x->ext, y->ext);
    if (!c)
        c = strcmp(x->ext ? x->ext : "", y->ext ? y->ext : "");
    return c ? c : cmp_i64(x->id, y->id);
}
static int by_n(const void *a, const void *b)
{
    ENTS(a, b);
    return cmp3(cmp_i64(x->acc->n, y->acc->n), x, y);
}
static int by_mean(const void *a, const void *b)
{
    ENTS(a, b);
    return cmp3(cmp_mean(x->acc, y->acc), x, y);
}
static int by_first(const void *a, const void *b)
{
    ENTS(a, b);
    return cmp3(cmp_ts(x->acc, y->acc, 0), x, y);
}
static int by_last(const void *a, const void *b)
{
    ENTS(a, b);
    return cmp3(cmp_ts(x->acc, y->acc, 1), x, y);
}
static int by_attrs(const void *a, const void *b)
{
    ENTS(a, b);
    int c = cmp_i64(x->num, y->num);
    if (!c)
        c = natcmp(x->s1, y->s1);
    if (!c)
        c = natcmp(x->s2, y->s2);
    if (!c)
        c = natcmp(x->s3, y->s3);
    return cmp3(c, x, y);
}
/* Items: s1 is the title, s2 the genres, num the year. Unknown titles,
 * years and genres come first; ties go by title, then id. */
static int item_title_cmp(const Ent *x, const Ent *y)
{
    if (!x->s1 || !y->s1)
        return (x->s1 != NULL) - (y->s1 != NULL);
    return natcmp(x->s1, y->s1);
}
static int by_title(const void *a, const void *b)
{
    ENTS(a, b);
    return cmp3(item_title_cmp(x, y), x, y);
}
static int by_year(const void *a, const void *b)
{
    ENTS(a, b);
    int c = cmp_i64(x->num, y->num);
    return cmp3(c ? c : item_title_cmp(x, y), x, y);
}
static int by_genres(const void *a, const void *b)
{
    ENTS(a, b);
    int c = (x->s2 != NULL) - (y->s2 != NULL);
    if (!c && x->s2)
        c = natcmp(x->s2, y->s2);
    return cmp3(c ? c : item_title_cmp(x, y), x, y);
}

typedef int (*EntCmp)(const void *, const void *);

_Static_assert((int)BROWSE_U_NCOLS <= 8 && (int)BROWSE_I_NCOLS <= 8, "Ent.rank holds every order");

static const EntCmp user_orders[BROWSE_U_NCOLS] = {
    [BROWSE_U_ID] = by_id,       [BROWSE_U_N] = by_n,       [BROWSE_U_MEAN] = by_mean,
    [BROWSE_U_FIRST] = by_first, [BROWSE_U_LAST] = by_last, [BROWSE_U_ATTRS] = by_attrs,
};
static const EntCmp item_orders[BROWSE_I_NCOLS] = {
    [BROWSE_I_ID] = by_id,         [BROWSE_I_TITLE] = by_title, [BROWSE_I_YEAR] = by_year,
    [BROWSE_I_GENRES] = by_genres, [BROWSE_I_N] = by_n,         [BROWSE_I_MEAN] = by_mean,
};

/* Fills e[k].rank[c] for each order (orders[0] must be the id order: the
 * others break ties with its rank). */
static int rank_ents(Ent *e, size_t n, const EntCmp *orders, int norders)
{
    const Ent **p = malloc((n + 1) * sizeof *p);
    if (!p)
        return -1;
    for (int c = 0; c < norders; c++) {
        for (size_t k = 0; k < n; k++)
            p[k] = &e[k];
        qsort(p, n, sizeof *p, orders[c]);
        for (size_t k = 0; k < n; k++)
            ((Ent *)p[k])->rank[c] = (int64_t)k;
    }
    free(p);
    return 0;
}

static void bind_acc(sqlite3_stmt *st, const Acc *a)
{
    sqlite3_bind_int64(st, 2, a->n);
    sqlite3_bind_int64(st, 3, a->n_rated);
    if (a->n_rated)
        sqlite3_bind_double(st, 4, a->sum / (double)a->n_rated);
    else
        sqlite3_bind_null(st, 4);
    if (a->timed) {
        sqlite3_bind_int64(st, 5, a->first);
        sqlite3_bind_int64(st, 6, a->last);
    } else {
        sqlite3_bind_null(st, 5);
        sqlite3_bind_null(st, 6);
    }
}

/* Creates schema.table (the rank columns given) and writes e[0..n) into it,
 * then the rank indexes. */
static int write_ents(Store *s, const char *schema, const char *table, const char *idcol,
                      const char *const *ranks, int nranks, const Ent *e, size_t n, RsErr *err)
{
    char sql[1024], cols[256] = "", params[128] = "";
    size_t o = 0, p = 0;
    for (int c = 0; c < nranks; c++) {
        o += (size_t)snprintf(cols + o, sizeof cols - o, ", %s INTEGER NOT NULL", ranks[c]);
        p += (size_t)snprintf(params + p, sizeof params - p, ", ?%d", 8 + c);
    }
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS %s.%s; CREATE TABLE %s.%s(%s INTEGER PRIMARY KEY, "
             "n INTEGER NOT NULL, n_rated INTEGER NOT NULL, mean REAL, first_ts INTEGER, "
             "last_ts INTEGER, hay TEXT NOT NULL%s)",
             schema, table, schema, table, idcol, cols);
    int rc = st_exec(s, sql, err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql, "INSERT INTO %s.%s VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7%s)", schema,
             table, params);
    sqlite3_stmt *st;
    if ((rc = st_prepare(s, sql, &st, err)))
        return rc;
    for (size_t k = 0; k < n && !rc; k++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, e[k].id);
        bind_acc(st, e[k].acc);
        sqlite3_bind_text(st, 7, e[k].hay, -1, SQLITE_STATIC);
        for (int c = 0; c < nranks; c++)
            sqlite3_bind_int64(st, 8 + c, e[k].rank[c]);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = st_dberr(s, "browse cache", err);
    }
    sqlite3_finalize(st);
    for (int c = 0; c < nranks && !rc; c++) {
        snprintf(sql, sizeof sql, "CREATE UNIQUE INDEX %s.%s_%s ON %s(%s)", schema, table,
                 ranks[c], table, ranks[c]);
        rc = st_exec(s, sql, err);
    }
    return rc;
}

static int write_hist(Store *s, const char *schema, const Build *b, RsErr *err)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS %s.browse_item_hist; CREATE TABLE %s.browse_item_hist("
             "item_id INTEGER NOT NULL, rating REAL NOT NULL, n INTEGER NOT NULL, "
             "PRIMARY KEY(item_id, rating)) WITHOUT ROWID",
             schema, schema);
    int rc = st_exec(s, sql, err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql, "INSERT INTO %s.browse_item_hist VALUES(?1, ?2, ?3)", schema);
    sqlite3_stmt *st;
    if ((rc = st_prepare(s, sql, &st, err)))
        return rc;
    for (int64_t i = 0; i <= b->max_item && !rc; i++) {
        for (int k = 0; k < b->nbins && !rc; k++) {
            int32_t c = b->hist[(size_t)i * (size_t)b->nbins + (size_t)k];
            if (!c)
                continue;
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, i);
            sqlite3_bind_double(st, 2, b->bins[k]);
            sqlite3_bind_int64(st, 3, c);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = st_dberr(s, "browse cache", err);
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int write_markers(Store *s, const Build *b, size_t nusers, size_t nitems, RsErr *err)
{
    sqlite3_stmt *st;
    int rc = st_prepare(s, "INSERT OR REPLACE INTO main.stats(key, value) VALUES(?1, ?2)", &st,
                        err);
    const struct { const char *k; double v; } marks[] = {
        {"browse_users", (double)nusers},
        {"browse_items", (double)nitems},
        {"browse_interactions", (double)b->n},
    };
    for (size_t k = 0; !rc && k < RS_ARRAY_LEN(marks); k++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, marks[k].k, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 2, marks[k].v);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = st_dberr(s, "browse cache", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Builds the three tables in schema ("main" or "temp"). */
static int cache_build(Store *s, const char *schema, const StRows *mem, RsErr *err)
{
    Build b;
    memset(&b, 0, sizeof b);
    Ent *users = NULL, *items = NULL;
    size_t nu = 0, ni = 0;
    int rc = build_alloc(s, &b, err);
    if (!rc)
        rc = build_scan(s, mem, &b, err);
    if (!rc)
        rc = load_ents(s, &b, 0, &users, &nu, err);
    if (!rc)
        rc = load_ents(s, &b, 1, &items, &ni, err);
    if (!rc && (rank_ents(users, nu, user_orders, BROWSE_U_NCOLS) ||
                rank_ents(items, ni, item_orders, BROWSE_I_NCOLS)))
        rc = rs_err_set(err, RS_ENOMEM, "out of memory building the browse cache");
    if (!rc)
        rc = write_ents(s, schema, "browse_users", "user_id", user_rank_cols, BROWSE_U_NCOLS,
                        users, nu, err);
    if (!rc)
        rc = write_ents(s, schema, "browse_items", "item_id", item_rank_cols, BROWSE_I_NCOLS,
                        items, ni, err);
    if (!rc)
        rc = write_hist(s, schema, &b, err);
    if (!rc && !strcmp(schema, "main"))
        rc = write_markers(s, &b, nu, ni, err);
    ents_free(users, nu);
    ents_free(items, ni);
    free(b.users);
    free(b.items);
    free(b.hist);
    return rc;
}

int browse_cache_refresh(Store *s, RsErr *err) { return st_browse_refresh(s, NULL, err); }

int st_browse_refresh(Store *s, const StRows *mem, RsErr *err)
{
    if (s->readonly)
        return rs_err_set(err, RS_EUSAGE, "%s: opened read-only", s->path);
    return cache_build(s, "main", mem, err);
}

/* 1 when main holds a cache written for the current statistics. */
static int main_cache_current(Store *s)
{
    static const char sql[] =
        "SELECT (SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' AND name IN "
        "('browse_users', 'browse_items', 'browse_item_hist')) = 3 "
        "AND (SELECT value FROM main.stats WHERE key = 'browse_users') IS "
        "(SELECT value FROM main.stats WHERE key = 'users') "
        "AND (SELECT value FROM main.stats WHERE key = 'browse_items') IS "
        "(SELECT value FROM main.stats WHERE key = 'items') "
        "AND (SELECT value FROM main.stats WHERE key = 'browse_interactions') IS "
        "(SELECT value FROM main.stats WHERE key = 'interactions')";
    int64_t ok = 0;
    return st_query_int(s, sql, &ok, NULL) == RS_OK && ok == 1;
}

static int temp_cache_built(Store *s)
{
    int64_t temp = 0;
    return st_query_int(s, "SELECT count(*) FROM temp.sqlite_schema WHERE name = "
                           "'browse_users'", &temp, NULL) == RS_OK && temp > 0;
}

int browse_cache_ready(Store *s)
{
    return temp_cache_built(s) || main_cache_current(s);
}

int browse_prepare(Store *s, RsErr *err)
{
    int rc = register_match(s, err);
    if (rc || browse_cache_ready(s))
        return rc;
    if ((rc = st_exec(s, "SAVEPOINT browse_build", err)))
        return rc;
    rc = cache_build(s, "temp", NULL, err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK TO browse_build", NULL, NULL, NULL);
    sqlite3_exec(s->db, "RELEASE browse_build", NULL, NULL, NULL);
    return rc;
}

/* --- counts -------------------------------------------------------------------------- */

static int rank_total(Store *s, const char *table, int64_t *n, RsErr *err)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(r_id) + 1, 0) FROM %s", table);
    int rc = browse_prepare(s, err);
    return rc ? rc : st_query_int(s, sql, n, err);
}

int browse_user_total(Store *s, int64_t *n, RsErr *err)
{
    return rank_total(s, "browse_users", n, err);
}

int browse_item_total(Store *s, int64_t *n, RsErr *err)
{
    return rank_total(s, "browse_items", n, err);
}

static int count_matches(Store *s, const char *table, const char *filter, int64_t cap,
                         int64_t *n, RsErr *err)
{
    char sql[512], cond[64];
    sqlite3_stmt *st;
    hay_cond(cond, sizeof cond, filter, "", 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT ?2)", table,
             cond);
    int rc = browse_filter_check(filter, err);
    if (!rc)
        rc = browse_prepare(s, err);
    if (!rc)
        rc = st_prepare(s, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 2, cap > 0 ? cap : -1);
    if (bind_filter(st, 1, filter) != SQLITE_OK)
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    else if (sqlite3_step(st) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        rc = st_dberr(s, "count", err);
    sqlite3_finalize(st);
    return rc;
}

int browse_user_count(Store *s, const char *filter, int64_t cap, int64_t *n, RsErr *err)
{
    if (!filter_or_null(filter))
        return browse_user_total(s, n, err);
    return count_matches(s, "browse_users", filter, cap, n, err);
}

int browse_item_count(Store *s, const char *filter, int64_t cap, int64_t *n, RsErr *err)
{
    if (!filter_or_null(filter))
        return browse_item_total(s, n, err);
    return count_matches(s, "browse_items", filter, cap, n, err);
}

/* --- pages of the user and item lists ---------------------------------------------- */

/* Direction of a page in rank order: 1 when it reads ranks upwards. */
static int reads_up(const BrowseQuery *q)
{
    return (q->dir >= 0) != (q->desc != 0);
}

/* Reverses n elements of size sz (a page read against display order). */
static void reverse(void *rows, size_t n, size_t sz)
{
    char tmp[sizeof(BrowseItem) > sizeof(BrowseUser) ? sizeof(BrowseItem) : sizeof(BrowseUser)];
    char *a = rows;
    for (size_t i = 0; i < n / 2; i++) {
        memcpy(tmp, a + i * sz, sz);
        memcpy(a + i * sz, a + (n - 1 - i) * sz, sz);
        memcpy(a + (n - 1 - i) * sz, tmp, sz);
    }
}

_Static_assert(sizeof(BrowseHist) <= sizeof(BrowseItem) &&
                   sizeof(BrowseItemUser) <= sizeof(BrowseItem),
               "reverse() buffer holds every row type");

static int check_query(Store *s, const BrowseQuery *q, int ncols, size_t *n, RsErr *err)
{
    *n = 0;
    if (q->matches)
        *q->matches = -1;
    if (q->sort < 0 || q->sort >= ncols)
        return rs_err_set(err, RS_EUSAGE, "bad sort column %d", q->sort);
    int rc = browse_filter_check(q->filter, err);
    return rc ? rc : browse_prepare(s, err);
}

/* What differs between the user list and the item list. */
typedef struct ListDef {
    const char *table, *idcol;   /* the cache table (aliased b) and its id column */
    const char *cols;            /* the columns read, then the rank (RANK_COL) */
    const char *join;            /* joins b to the base table */
    const char *extra;           /* columns only list_row() reads */
    const char *const *ranks;    /* rank column of each sort column */
    int nranks;
    size_t row_size;
    void (*read)(sqlite3_stmt *st, void *row, int64_t pos); /* also fills key.rank */
} ListDef;

#define USER_COLS                                                                              \
    "b.user_id, u.ext_id, b.n, b.n_rated, b.mean, b.first_ts, b.last_ts, u.age, u.gender, "     \
    "u.occupation, u.zip"
#define ITEM_COLS                                                                              \
    "b.item_id, t.ext_id, t.title, t.year, t.genres, t.tags, b.n, b.n_rated, b.mean, "          \
    "b.first_ts, b.last_ts"
#define RANK_COL 11 /* the column after USER_COLS or ITEM_COLS */

static void read_user(sqlite3_stmt *st, void *row, int64_t pos)
{
    BrowseUser *u = row;
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, u->ext_id, sizeof u->ext_id);
    u->n = sqlite3_column_int64(st, 2);
    u->n_rated = sqlite3_column_int64(st, 3);
    u->mean = col_num(st, 4);
    u->first_ts = col_ts(st, 5);
    u->last_ts = col_ts(st, 6);
    u->age = col_int_or(st, 7, -1);
    col_text(st, 8, u->gender, sizeof u->gender);
    col_text(st, 9, u->occupation, sizeof u->occupation);
    col_text(st, 10, u->zip, sizeof u->zip);
    u->key.rank = sqlite3_column_int64(st, RANK_COL);
    u->pos = pos;
}

static void read_item(sqlite3_stmt *st, void *row, int64_t pos)
{
    BrowseItem *it = row;
    memset(it, 0, sizeof *it);
    it->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, it->ext_id, sizeof it->ext_id);
    col_text(st, 2, it->title, sizeof it->title);
    it->year = col_int_or(st, 3, 0);
    col_text(st, 4, it->genres, sizeof it->genres);
    col_text(st, 5, it->tags, sizeof it->tags);
    it->n = sqlite3_column_int64(st, 6);
    it->n_rated = sqlite3_column_int64(st, 7);
    it->mean = col_num(st, 8);
    it->first_ts = col_ts(st, 9);
    it->last_ts = col_ts(st, 10);
    it->key.rank = sqlite3_column_int64(st, RANK_COL);
    it->pos = pos;
}

static const ListDef user_list = {
    "browse_users", "user_id", USER_COLS, "CROSS JOIN users u ON u.id = b.user_id", "",
    user_rank_cols, BROWSE_U_NCOLS, sizeof(BrowseUser), read_user,
};

static const ListDef item_list = {
    "browse_items", "item_id", ITEM_COLS, "CROSS JOIN items t ON t.id = b.item_id",
    ", t.description", item_rank_cols, BROWSE_I_NCOLS, sizeof(BrowseItem), read_item,
};

/* The query of one row by id (?1), with rank column r. */
static void row_sql(char *sql, size_t cap, const ListDef *d, const char *r, int extra)
{
    snprintf(sql, cap, "SELECT %s, b.%s%s FROM %s b %s WHERE b.%s = ?1", d->cols, r,
             extra ? d->extra : "", d->table, d->join, d->idcol);
}

/* A row picked by a filtered scan: its key is the rank, negated when the
 * page reads ranks downwards, so a page is always the smallest keys. */
typedef struct Pick {
    int64_t key, id;
} Pick;

static void pick_swap(Pick *h, size_t i, size_t j)
{
    Pick t = h[i];
    h[i] = h[j];
    h[j] = t;
}

/* Offers p to the max-heap h[0..*n) that keeps the max smallest keys. */
static void pick_offer(Pick *h, size_t *n, size_t max, Pick p)
{
    size_t i;
    if (*n < max) {
        h[i = (*n)++] = p;
        while (i > 0 && h[(i - 1) / 2].key < h[i].key) {
            pick_swap(h, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
        return;
    }
    if (max == 0 || p.key >= h[0].key)
        return;
    h[i = 0] = p;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l].key > h[m].key)
            m = l;
        if (r < *n && h[r].key > h[m].key)
            m = r;
        if (m == i)
            return;
        pick_swap(h, i, m);
        i = m;
    }
}

static int by_pick_key(const void *a, const void *b)
{
    const Pick *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

/* The ids of a filtered page, in reading order, and the number of matches
 * in the whole list: one scan of the cache table (its compact filter text
 * and rank column), keeping the page in a bounded heap. Walking the rank
 * index instead would cost a pass over the index per page when few rows
 * match (150 ms at 138k users); the scan costs one pass whatever matches
 * (about 20 ms) and counts the matches on the way. */
static int filtered_ids(Store *s, const ListDef *d, const BrowseQuery *q, Pick *picks,
                        size_t *npicks, int64_t *matches, RsErr *err)
{
    char sql[256], cond[64];
    hay_cond(cond, sizeof cond, q->filter, "", 1);
    snprintf(sql, sizeof sql, "SELECT %s, %s FROM %s WHERE %s", d->ranks[q->sort], d->idcol,
             d->table, cond);
    sqlite3_stmt *st;
    int rc = st_prepare(s, sql, &st, err), step, up = reads_up(q);
    if (rc)
        return rc;
    *npicks = 0;
    *matches = 0;
    if (bind_filter(st, 1, q->filter) != SQLITE_OK) {
        sqlite3_finalize(st);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t r = sqlite3_column_int64(st, 0);
        (*matches)++;
        if (q->anchor && (up ? r <= q->anchor->rank : r >= q->anchor->rank))
            continue;
        Pick p = {up ? r : -r, sqlite3_column_int64(st, 1)};
        pick_offer(picks, npicks, q->max, p);
    }
    if (step != SQLITE_DONE)
        rc = st_dberr(s, "filter", err);
    sqlite3_finalize(st);
    qsort(picks, *npicks, sizeof *picks, by_pick_key);
    return rc;
}

/* Reads the rows of picks[0..npicks) into rows, in that order. */
static int read_picks(Store *s, const ListDef *d, const BrowseQuery *q, const Pick *picks,
                      size_t npicks, void *rows, size_t *n, RsErr *err)
{
    char sql[512];
    row_sql(sql, sizeof sql, d, d->ranks[q->sort], 0);
    sqlite3_stmt *st;
    int rc = st_prepare(s, sql, &st, err);
    for (size_t k = 0; !rc && k < npicks; k++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, picks[k].id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            d->read(st, (char *)rows + (*n)++ * d->row_size, -1);
        else if (step != SQLITE_DONE)
            rc = st_dberr(s, "filter", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* An unfiltered page: a range scan of the rank index that stops after the
 * page, then the columns of the page's rows. */
static int unfiltered_page(Store *s, const ListDef *d, const BrowseQuery *q, void *rows,
                           size_t *n, RsErr *err)
{
    int64_t total = 0;
    int rc = rank_total(s, d->table, &total, err), up = reads_up(q), step = SQLITE_DONE;
    if (rc)
        return rc;
    const char *r = d->ranks[q->sort], *ord = up ? "ASC" : "DESC";
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s, p.r FROM (SELECT %s AS id, %s AS r FROM %s WHERE %s %s ?2 "
             "ORDER BY %s %s LIMIT ?3) p CROSS JOIN %s b ON b.%s = p.id %s ORDER BY p.r %s",
             d->cols, d->idcol, r, d->table, r, up ? ">" : "<", r, ord, d->table, d->idcol,
             d->join, ord);
    sqlite3_stmt *st;
    if ((rc = st_prepare(s, sql, &st, err)))
        return rc;
    sqlite3_bind_int64(st, 2, q->anchor ? q->anchor->rank : up ? -1 : INT64_MAX);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)q->max);
    while (*n < q->max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rank = sqlite3_column_int64(st, RANK_COL);
        d->read(st, (char *)rows + (*n)++ * d->row_size, q->desc ? total - 1 - rank : rank);
    }
    if (*n < q->max && step != SQLITE_DONE)
        rc = st_dberr(s, d->table, err);
    sqlite3_finalize(st);
    return rc;
}

static int list_page(Store *s, const ListDef *d, const BrowseQuery *q, void *rows, size_t *n,
                     RsErr *err)
{
    int rc = check_query(s, q, d->nranks, n, err);
    if (rc || q->max == 0)
        return rc;
    if (!filter_or_null(q->filter)) {
        rc = unfiltered_page(s, d, q, rows, n, err);
    } else {
        Pick *picks = malloc(q->max * sizeof *picks);
        size_t npicks = 0;
        int64_t matches = 0;
        if (!picks)
            return rs_err_set(err, RS_ENOMEM, "out of memory");
        rc = filtered_ids(s, d, q, picks, &npicks, &matches, err);
        if (!rc)
            rc = read_picks(s, d, q, picks, npicks, rows, n, err);
        if (!rc && q->matches)
            *q->matches = matches;
        free(picks);
    }
    if (!rc && q->dir < 0)
        reverse(rows, *n, d->row_size);
    return rc;
}

/* One row of a list by id, with its id rank. */
static int list_row(Store *s, const ListDef *d, int64_t id, void *row, char **description,
                    RsErr *err)
{
    char sql[512];
    row_sql(sql, sizeof sql, d, "r_id", 1);
    sqlite3_stmt *st;
    int rc = browse_prepare(s, err);
    if (!rc)
        rc = st_prepare(s, sql, &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        d->read(st, row, -1);
        const unsigned char *t = description ? sqlite3_column_text(st, RANK_COL + 1) : NULL;
        if (t && !(*description = strdup((const char *)t)))
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = rs_err_set(err, RS_ENOTFOUND, "no %s with internal id %lld",
                        d == &user_list ? "user" : "item", (long long)id);
    } else {
        rc = st_dberr(s, d->table, err);
    }
    sqlite3_finalize(st);
    return rc;
}

int browse_users(Store *s, const BrowseQuery *q, BrowseUser *rows, size_t *n, RsErr *err)
{
    return list_page(s, &user_list, q, rows, n, err);
}

int browse_user(Store *s, int64_t id, BrowseUser *out, RsErr *err)
{
    return list_row(s, &user_list, id, out, NULL, err);
}

int browse_items(Store *s, const BrowseQuery *q, BrowseItem *rows, size_t *n, RsErr *err)
{
    return list_page(s, &item_list, q, rows, n, err);
}

int browse_item(Store *s, int64_t id, BrowseItem *out, char **description, RsErr *err)
{
    if (description)
        *description = NULL;
    return list_row(s, &item_list, id, out, description, err);
}

/* --- a user's history ------------------------------------------------------------------ */

/* Keyset conditions on (c, i.item_id) in ascending order with NULLs first.
 * ?2: an anchor is given; ?3: its value is NULL; ?4: its value; ?5: its id. */
#define KEY_AFTER(c)                                                                           \
    "(?2 = 0 OR (?3 = 1 AND (" c " IS NOT NULL OR i.item_id > ?5)) OR (?3 = 0 AND (" c         \
    " > ?4 OR (" c " = ?4 AND i.item_id > ?5))))"
#define KEY_BEFORE(c)                                                                          \
    "(?2 = 0 OR (?3 = 1 AND " c " IS NULL AND i.item_id < ?5) OR (?3 = 0 AND (" c             \
    " IS NULL OR " c " < ?4 OR (" c " = ?4 AND i.item_id < ?5))))"
#define HIST_SQL(c, cond, ord)                                                                 \
    "SELECT i.item_id, t.ext_id, t.title, t.genres, i.rating, i.ts FROM interactions i "       \
    "CROSS JOIN items t ON t.id = i.item_id WHERE i.user_id = ?1 AND " cond(c)                 \
    " AND (?6 IS NULL OR browse_match(?6, t.title, t.genres, t.ext_id)) "                      \
    "ORDER BY " c " " ord ", i.item_id " ord " LIMIT ?7"

static const char *const hist_sql[BROWSE_H_NCOLS][2] = {
    [BROWSE_H_TIME] = {HIST_SQL("i.ts", KEY_BEFORE, "DESC"), HIST_SQL("i.ts", KEY_AFTER, "ASC")},
    [BROWSE_H_RATING] = {HIST_SQL("i.rating", KEY_BEFORE, "DESC"),
                         HIST_SQL("i.rating", KEY_AFTER, "ASC")},
};

int browse_history(Store *s, int64_t user_id, const BrowseQuery *q, BrowseHist *rows,
                   size_t *n, RsErr *err)
{
    int rc = check_query(s, q, BROWSE_H_NCOLS, n, err);
    if (rc || q->max == 0)
        return rc;
    int up = reads_up(q);
    sqlite3_stmt *st;
    if ((rc = st_prepare(s, hist_sql[q->sort][up], &st, err)))
        return rc;
    const BrowseKey *a = q->anchor;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_int(st, 2, a != NULL);
    sqlite3_bind_int(st, 3, a && a->v_null);
    sqlite3_bind_double(st, 4, a && !a->v_null ? a->v : 0);
    sqlite3_bind_int64(st, 5, a ? a->id : 0);
    st_bind_text(st, 6, filter_or_null(q->filter));
    sqlite3_bind_int64(st, 7, (sqlite3_int64)q->max);
    int step = SQLITE_DONE, vcol = q->sort == BROWSE_H_TIME ? 5 : 4;
    while (*n < q->max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        BrowseHist *h = &rows[(*n)++];
        memset(h, 0, sizeof *h);
        h->item_id = sqlite3_column_int64(st, 0);
        col_text(st, 1, h->item_ext, sizeof h->item_ext);
        col_text(st, 2, h->title, sizeof h->title);
        col_text(st, 3, h->genres, sizeof h->genres);
        h->rating = col_num(st, 4);
        h->ts = col_ts(st, 5);
        h->key.id = h->item_id;
        h->key.v_null = sqlite3_column_type(st, vcol) == SQLITE_NULL;
        h->key.v = h->key.v_null ? 0 : sqlite3_column_double(st, vcol);
    }
    if (*n < q->max && step != SQLITE_DONE)
        rc = st_dberr(s, "history", err);
    sqlite3_finalize(st);
    if (!rc && q->dir < 0)
        reverse(rows, *n, sizeof *rows);
    return rc;
}

/* --- the genre profile -------------------------------------------------------------------- */

#define GENRES_MAX 256 /* distinct genres tracked; more are left out */

typedef struct GenreAcc {
    BrowseGenre g[GENRES_MAX];
    double sum[GENRES_MAX];
    size_t n;
} GenreAcc;

static void genre_add(GenreAcc *a, const char *name, size_t len, int rated, double r)
{
    while (len && isspace((unsigned char)*name))
        name++, len--;
    while (len && isspace((unsigned char)name[len - 1]))
        len--;
    if (!len)
        return;
    char buf[BROWSE_SHORT];
    char tmp[BROWSE_SHORT * 4];
    if (len >= sizeof tmp)
        len = sizeof tmp - 1;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    copy_text(buf, sizeof buf, (const unsigned char *)tmp);
    size_t k = 0;
    while (k < a->n && strcmp(a->g[k].name, buf))
        k++;
    if (k == a->n) {
        if (a->n == GENRES_MAX)
            return;
        memset(&a->g[k], 0, sizeof a->g[k]);
        memcpy(a->g[k].name, buf, sizeof buf);
        a->sum[k] = 0;
        a->n++;
    }
    a->g[k].n++;
    if (rated) {
        a->g[k].n_rated++;
        a->sum[k] += r;
    }
}

static int by_genre_count(const void *a, const void *b)
{
    const BrowseGenre *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
}

int browse_genres(Store *s, int64_t user_id, BrowseGenre *rows, size_t max, size_t *n,
                  size_t *n_total, RsErr *err)
{
    sqlite3_stmt *st;
    *n = *n_total = 0;
    int rc = st_prepare(s, "SELECT t.genres, i.rating FROM interactions i CROSS JOIN items t "
                           "ON t.id = i.item_id WHERE i.user_id = ?1", &st, err), step;
    if (rc)
        return rc;
    GenreAcc *a = calloc(1, sizeof *a);
    if (!a) {
        sqlite3_finalize(st);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    sqlite3_bind_int64(st, 1, user_id);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *g = (const char *)sqlite3_column_text(st, 0);
        int rated = sqlite3_column_type(st, 1) != SQLITE_NULL;
        double r = sqlite3_column_double(st, 1);
        while (g && *g) {
            const char *bar = strchr(g, '|');
            size_t len = bar ? (size_t)(bar - g) : strlen(g);
            genre_add(a, g, len, rated, r);
            g = bar ? bar + 1 : NULL;
        }
    }
    if (step != SQLITE_DONE)
        rc = st_dberr(s, "genre profile", err);
    sqlite3_finalize(st);
    for (size_t k = 0; k < a->n; k++)
        a->g[k].mean = a->g[k].n_rated ? a->sum[k] / (double)a->g[k].n_rated : NAN;
    qsort(a->g, a->n, sizeof a->g[0], by_genre_count);
    *n_total = a->n;
    for (size_t k = 0; !rc && k < a->n && k < max; k++)
        rows[(*n)++] = a->g[k];
    free(a);
    return rc;
}

/* --- an item ---------------------------------------------------------------------------- */

int browse_item_ratings(Store *s, int64_t item_id, BrowseBin *bins, size_t max, size_t *n,
                        RsErr *err)
{
    sqlite3_stmt *st;
    *n = 0;
    int rc = browse_prepare(s, err), step = SQLITE_DONE;
    if (!rc)
        rc = st_prepare(s, "SELECT h.rating, coalesce(b.n, 0) FROM stats_rating_hist h "
                           "LEFT JOIN browse_item_hist b ON b.item_id = ?1 AND b.rating = "
                           "h.rating ORDER BY h.rating", &st, err);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, item_id);
    while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        bins[*n].rating = sqlite3_column_double(st, 0);
        bins[(*n)++].n = sqlite3_column_int64(st, 1);
    }
    if (*n < max && step != SQLITE_DONE)
        rc = st_dberr(s, "item ratings", err);
    sqlite3_finalize(st);
    return rc;
}

/* Filtered, the users of an item are read from whichever side is smaller:
 * the item's index entries (each joined to its user's filter text), or,
 * for an item with more interactions than this, the user table scanned in
 * id order with the filter, each match probed in the interactions' primary
 * key. A no-match search then costs one pass over the users (~20 ms at
 * 138k) instead of a join per interaction (~300 ms for an item with 130k). */
#define ITEM_USERS_SCAN_USERS 10000

int browse_item_users(Store *s, int64_t item_id, const BrowseQuery *q, BrowseItemUser *rows,
                      size_t *n, RsErr *err)
{
    int rc = check_query(s, q, 1, n, err);
    int64_t item_n = 0;
    if (rc || q->max == 0)
        return rc;
    if (filter_or_null(q->filter)) {
        sqlite3_stmt *st;
        if ((rc = st_prepare(s, "SELECT n FROM browse_items WHERE item_id = ?1", &st, err)))
            return rc;
        sqlite3_bind_int64(st, 1, item_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            item_n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    int up = reads_up(q);
    const char *op = up ? ">" : "<", *ord = up ? "ASC" : "DESC";
    char sql[768], cond[64] = "1";
    if (filter_or_null(q->filter))
        hay_cond(cond, sizeof cond, q->filter, "b", 3);
    if (item_n > ITEM_USERS_SCAN_USERS)
        snprintf(sql, sizeof sql,
                 "SELECT b.user_id, u.ext_id, i.rating, i.ts, b.n, b.mean, u.age, u.gender, "
                 "u.occupation FROM browse_users b "
                 "CROSS JOIN interactions i ON i.user_id = b.user_id AND i.item_id = ?1 "
                 "CROSS JOIN users u ON u.id = b.user_id WHERE b.user_id %s ?2 "
                 "AND %s ORDER BY b.user_id %s LIMIT ?4",
                 op, cond, ord);
    else
        snprintf(sql, sizeof sql,
                 "SELECT i.user_id, u.ext_id, i.rating, i.ts, b.n, b.mean, u.age, u.gender, "
                 "u.occupation FROM interactions i "
                 "INDEXED BY interactions_item CROSS JOIN users u ON u.id = i.user_id "
                 "LEFT JOIN browse_users b ON b.user_id = i.user_id "
                 "WHERE i.item_id = ?1 AND i.user_id %s ?2 AND %s ORDER BY i.user_id %s LIMIT ?4",
                 op, cond, ord);
    sqlite3_stmt *st;
    if ((rc = st_prepare(s, sql, &st, err)))
        return rc;
    int64_t bound = up ? INT64_MIN : INT64_MAX;
    if (q->anchor)
        bound = q->anchor->id;
    sqlite3_bind_int64(st, 1, item_id);
    sqlite3_bind_int64(st, 2, bound);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)q->max);
    if (filter_or_null(q->filter) && bind_filter(st, 3, q->filter) != SQLITE_OK) {
        sqlite3_finalize(st);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    int step = SQLITE_DONE;
    while (*n < q->max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        BrowseItemUser *u = &rows[(*n)++];
        memset(u, 0, sizeof *u);
        u->user_id = sqlite3_column_int64(st, 0);
        col_text(st, 1, u->user_ext, sizeof u->user_ext);
        u->rating = col_num(st, 2);
        u->ts = col_ts(st, 3);
        u->user_n = sqlite3_column_int64(st, 4);
        u->user_mean = col_num(st, 5);
        u->age = col_int_or(st, 6, -1);
        col_text(st, 7, u->gender, sizeof u->gender);
        col_text(st, 8, u->occupation, sizeof u->occupation);
        u->key.id = u->user_id;
    }
    if (*n < q->max && step != SQLITE_DONE)
        rc = st_dberr(s, "item users", err);
    sqlite3_finalize(st);
    if (!rc && q->dir < 0)
        reverse(rows, *n, sizeof *rows);
    return rc;
}
