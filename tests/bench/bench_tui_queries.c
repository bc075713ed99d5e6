/*
 * bench_tui_queries.c - times what each browsing screen of the TUI costs to
 * draw, on a database given on the command line (opened read-only: a
 * missing browse cache is built in TEMP first, and that build is timed).
 *
 *   bench_tui_queries DB [RUNS]
 *
 * Part 1 times the store queries (store/browse.c) each screen makes, one by
 * one, worst cases included (the heaviest user, the most popular item,
 * filters that match nothing). Part 2 times whole screens as the event
 * loop runs them: the screen built, laid out and drawn at 120x40 into a
 * curses terminal writing to /dev/null, and keys dispatched through the
 * key tables, each followed by a redraw. Each figure is the median of RUNS
 * runs (default 7) in milliseconds; the budget is 50 ms per screen
 * on a 20M-interaction database.
 */
#include <curses.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "browse.h"
#include "store.h"
/* the screens themselves (libtui.a is linked; its headers are not on the
 * bench's include path) */
#include "../../tui/tui_screen.h"
#include "../../tui/tui_theme.h"

#define PAGE 60 /* rows a tall terminal shows, with margin */

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct Bench {
    Store *s;
    int runs;
    int failed;
    int64_t user, item;  /* the heaviest user, the most popular item */
    BrowseUser urows[PAGE];
    BrowseItem irows[PAGE];
    BrowseHist hrows[PAGE];
    BrowseItemUser iurows[PAGE];
} Bench;

typedef int (*BenchFn)(Bench *b, const void *arg, RsErr *err);

/* Runs fn b->runs times; prints and returns the median in ms. */
static double timed(Bench *b, const char *what, BenchFn fn, const void *arg)
{
    double t[64];
    int runs = b->runs < 64 ? b->runs : 64;
    RsErr err = {0};
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        if (fn(b, arg, &err) != RS_OK) {
            printf("  %-52s FAILED: %s\n", what, err.msg);
            b->failed = 1;
            return NAN;
        }
        t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    double med = t[runs / 2];
    printf("  %-52s %8.2f ms\n", what, med);
    return med;
}

/* --- the queries -------------------------------------------------------------------- */

typedef struct ListArg {
    int sort, desc, dir;
    const char *filter;
    int middle; /* anchor: the row at the middle rank */
} ListArg;

static int q_users(Bench *b, const void *arg, RsErr *err)
{
    const ListArg *a = arg;
    BrowseKey mid = {0};
    int64_t total = 0;
    int rc = browse_user_total(b->s, &total, err);
    mid.rank = total / 2;
    int64_t matches;
    BrowseQuery q = {.sort = a->sort, .desc = a->desc, .filter = a->filter,
                     .anchor = a->middle ? &mid : NULL, .dir = a->dir, .max = PAGE,
                     .matches = &matches};
    size_t n;
    return rc ? rc : browse_users(b->s, &q, b->urows, &n, err);
}

static int q_items(Bench *b, const void *arg, RsErr *err)
{
    const ListArg *a = arg;
    BrowseKey mid = {0};
    int64_t total = 0;
    int rc = browse_item_total(b->s, &total, err);
    mid.rank = total / 2;
    int64_t matches;
    BrowseQuery q = {.sort = a->sort, .desc = a->desc, .filter = a->filter,
                     .anchor = a->middle ? &mid : NULL, .dir = a->dir, .max = PAGE,
                     .matches = &matches};
    size_t n;
    return rc ? rc : browse_items(b->s, &q, b->irows, &n, err);
}

static int q_user_count(Bench *b, const void *arg, RsErr *err)
{
    int64_t n;
    return browse_user_count(b->s, arg, 0, &n, err);
}

static int q_item_count(Bench *b, const void *arg, RsErr *err)
{
    int64_t n;
    return browse_item_count(b->s, arg, 0, &n, err);
}

static int q_user_head(Bench *b, const void *arg, RsErr *err)
{
    (void)arg;
    BrowseUser u;
    return browse_user(b->s, b->user, &u, err);
}

static int q_history(Bench *b, const void *arg, RsErr *err)
{
    const ListArg *a = arg;
    BrowseQuery q = {.sort = a->sort, .desc = a->desc, .filter = a->filter, .dir = a->dir,
                     .max = PAGE};
    size_t n;
    return browse_history(b->s, b->user, &q, b->hrows, &n, err);
}

static int q_genres(Bench *b, const void *arg, RsErr *err)
{
    (void)arg;
    BrowseGenre g[64];
    size_t n, total;
    return browse_genres(b->s, b->user, g, 64, &n, &total, err);
}

static int q_item_head(Bench *b, const void *arg, RsErr *err)
{
    (void)arg;
    BrowseItem it;
    char *desc = NULL;
    int rc = browse_item(b->s, b->item, &it, &desc, err);
    free(desc);
    return rc;
}

static int q_item_ratings(Bench *b, const void *arg, RsErr *err)
{
    (void)arg;
    BrowseBin bins[STORE_MAX_HIST];
    size_t n;
    return browse_item_ratings(b->s, b->item, bins, STORE_MAX_HIST, &n, err);
}

static int q_item_users(Bench *b, const void *arg, RsErr *err)
{
    const ListArg *a = arg;
    BrowseQuery q = {.desc = a->desc, .filter = a->filter, .dir = a->dir, .max = PAGE};
    size_t n;
    return browse_item_users(b->s, b->item, &q, b->iurows, &n, err);
}

/* --- the screens ------------------------------------------------------------------------ */

static const char *const user_cols[] = {"id", "#interactions", "mean", "first", "last",
                                        "attributes"};
static const char *const item_cols[] = {"id", "title", "year", "genres", "popularity", "mean"};

static void bench_users(Bench *b)
{
    printf("Users screen\n");
    char what[96];
    double open = 0;
    for (int c = 0; c < BROWSE_U_NCOLS; c++) {
        for (int d = 0; d < 2; d++) {
            ListArg a = {c, d, 1, NULL, 0};
            snprintf(what, sizeof what, "first page by %s%s", user_cols[c], d ? " (reversed)" : "");
            double t = timed(b, what, q_users, &a);
            open = c == 0 && d == 0 ? t : open;
        }
    }
    ListArg last = {BROWSE_U_N, 1, -1, NULL, 0}, mid = {BROWSE_U_LAST, 0, 1, NULL, 1};
    timed(b, "last page (End) by #interactions", q_users, &last);
    timed(b, "page after the middle row by last activity", q_users, &mid);
    static const char *const filters[] = {"12", "re:^1[0-9]*7$", "scientist", "no-such-user",
                                          "re:^zz"};
    for (size_t k = 0; k < sizeof filters / sizeof filters[0]; k++) {
        ListArg f = {BROWSE_U_N, 1, 1, filters[k], 0};
        snprintf(what, sizeof what, "filter '%s': first page and match count", filters[k]);
        timed(b, what, q_users, &f);
        snprintf(what, sizeof what, "filter '%s': count alone", filters[k]);
        timed(b, what, q_user_count, filters[k]);
    }
    printf("  %-52s %8.2f ms\n", "= Users screen opening (first page by id)", open);
}

static void bench_user(Bench *b)
{
    printf("User screen (the heaviest user, internal id %lld)\n", (long long)b->user);
    ListArg time_desc = {BROWSE_H_TIME, 1, 1, NULL, 0}, rating = {BROWSE_H_RATING, 1, 1, NULL, 0};
    ListArg end = {BROWSE_H_TIME, 1, -1, NULL, 0}, search = {BROWSE_H_TIME, 1, 1, "re:^zz", 0};
    double t = timed(b, "user row", q_user_head, NULL);
    t += timed(b, "history, newest first", q_history, &time_desc);
    timed(b, "history by rating", q_history, &rating);
    timed(b, "history, last page (End)", q_history, &end);
    timed(b, "history search with no match", q_history, &search);
    t += timed(b, "genre profile", q_genres, NULL);
    printf("  %-52s %8.2f ms\n", "= User screen opening", t);
}

static void bench_items(Bench *b)
{
    printf("Items screen\n");
    char what[96];
    double open = 0;
    for (int c = 0; c < BROWSE_I_NCOLS; c++) {
        for (int d = 0; d < 2; d++) {
            ListArg a = {c, d, 1, NULL, 0};
            snprintf(what, sizeof what, "first page by %s%s", item_cols[c], d ? " (reversed)" : "");
            double t = timed(b, what, q_items, &a);
            open = c == BROWSE_I_N && d == 1 ? t : open;
        }
    }
    ListArg last = {BROWSE_I_TITLE, 0, -1, NULL, 0};
    timed(b, "last page (End) by title", q_items, &last);
    static const char *const filters[] = {"star", "re:^the .*(war|love)", "no-such-item"};
    for (size_t k = 0; k < sizeof filters / sizeof filters[0]; k++) {
        ListArg f = {BROWSE_I_N, 1, 1, filters[k], 0};
        snprintf(what, sizeof what, "filter '%s': first page and match count", filters[k]);
        timed(b, what, q_items, &f);
        snprintf(what, sizeof what, "filter '%s': count alone", filters[k]);
        timed(b, what, q_item_count, filters[k]);
    }
    printf("  %-52s %8.2f ms\n", "= Items screen opening (by popularity)", open);
}

static void bench_item(Bench *b)
{
    printf("Item screen (the most popular item, internal id %lld)\n", (long long)b->item);
    ListArg first = {0, 0, 1, NULL, 0}, last = {0, 0, -1, NULL, 0};
    ListArg nomatch = {0, 0, 1, "re:^zz", 0};
    double t = timed(b, "item row and description", q_item_head, NULL);
    t += timed(b, "rating distribution", q_item_ratings, NULL);
    t += timed(b, "users who interacted, first page", q_item_users, &first);
    timed(b, "users who interacted, last page (End)", q_item_users, &last);
    timed(b, "users who interacted, search with no match", q_item_users, &nomatch);
    printf("  %-52s %8.2f ms\n", "= Item screen opening", t);
}

/* --- part 2: whole screens ---------------------------------------------------------------- */

#define KEY_ESC 27

typedef struct ScreenCase {
    const char *what;
    int kind;           /* 0 Users, 1 User, 2 Items, 3 Item */
    const int *keys;    /* typed before the timed key(s); -1 ends */
    const int *timed;   /* timed: each key and the redraw after it; NULL: the opening */
} ScreenCase;

static TuiLayout bench_lay;

static TuiScreen *open_screen(Bench *b, int kind)
{
    switch (kind) {
    case 0: return tui_users_new(b->s);
    case 1: return tui_user_new(b->s, b->user);
    case 2: return tui_items_new(b->s);
    default: return tui_item_new(b->s, b->item);
    }
}

static void redraw(TuiScreen *s)
{
    erase();
    s->cls->draw(s, &bench_lay.body);
    refresh();
}

static TuiScreen *shown(Bench *b, int kind)
{
    TuiScreen *s = open_screen(b, kind);
    if (s) {
        if (s->cls->resize)
            s->cls->resize(s, &bench_lay.body);
        redraw(s);
    }
    return s;
}

static void press(TuiScreen *s, const int *keys)
{
    for (int k = 0; keys && keys[k] >= 0; k++) {
        TuiIntent in = tui_dispatch_key(s, 2, keys[k]);
        if (in.open)
            in.open->cls->free(in.open);
        redraw(s);
    }
}

static int q_screen(Bench *b, const void *arg, RsErr *err)
{
    const ScreenCase *c = arg;
    if (!c->timed) {
        TuiScreen *s = shown(b, c->kind);
        if (!s)
            return rs_err_set(err, RS_ENOMEM, "out of memory");
        s->cls->free(s);
    }
    return RS_OK;
}

/* The opening is timed by q_screen; a key sequence by this, which builds
 * the screen and types the untimed keys outside the clock. */
static double timed_keys(Bench *b, const ScreenCase *c)
{
    double t[64];
    int runs = b->runs < 64 ? b->runs : 64;
    for (int r = 0; r < runs; r++) {
        TuiScreen *s = shown(b, c->kind);
        if (!s)
            return NAN;
        press(s, c->keys);
        int nkeys = 0;
        while (c->timed[nkeys] >= 0)
            nkeys++;
        double t0 = now_ms();
        press(s, c->timed);
        t[r] = (now_ms() - t0) / nkeys;
        s->cls->free(s);
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    printf("  %-52s %8.2f ms\n", c->what, t[runs / 2]);
    return t[runs / 2];
}

static int bench_screens(Bench *b)
{
    static const int none[] = { -1 };
    static const int sort[] = { 's', -1 }, end[] = { KEY_END, -1 }, pgdn[] = { KEY_NPAGE, -1 };
    static const int slash[] = { '/', -1 }, enter[] = { '\r', -1 };
    static const int scientist[] = { 's', 'c', 'i', 'e', 'n', 't', 'i', 's', 't', -1 };
    static const int nomatch[] = { 'z', 'q', 'x', -1 };
    static const int regex[] = { 'r', 'e', ':', '^', '1', '2', '3', '$', -1 };
    static const int star[] = { 's', 't', 'a', 'r', -1 };
    static const int tab_enter[] = { '\t', '\r', -1 };
    static const ScreenCase cases[] = {
        { "Users: open", 0, none, NULL },
        { "Users: s (sort by the next column)", 0, none, sort },
        { "Users: End", 0, none, end },
        { "Users: PgDn", 0, none, pgdn },
        { "Users: each key of /scientist (filter as one types)", 0, slash, scientist },
        { "Users: each key of /zqx (matches nothing)", 0, slash, nomatch },
        { "Users: each key of /re:^123$", 0, slash, regex },
        { "User (heaviest): open", 1, none, NULL },
        { "User: s (history by rating)", 1, none, sort },
        { "User: End of the history", 1, none, end },
        { "User: Tab Enter (search the history for a genre)", 1, none, tab_enter },
        { "Items: open", 2, none, NULL },
        { "Items: s", 2, none, sort },
        { "Items: each key of /star", 2, slash, star },
        { "Item (most popular): open", 3, none, NULL },
        { "Item: End of its users", 3, none, end },
        { "Item: each key of /zqx (search its users, no match)", 3, slash, nomatch },
        { "Item: Enter (open a user from its users)", 3, none, enter },
    };
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    setlocale(LC_ALL, "C.UTF-8");
    SCREEN *term = out && in ? newterm("xterm-256color", out, in) : NULL;
    if (!term) {
        printf("Screens: skipped (no terminal description for xterm-256color)\n");
        if (out)
            fclose(out);
        if (in)
            fclose(in);
        return 0;
    }
    set_term(term);
    resize_term(40, 120);
    tui_glyphs_init(1);
    tui_theme_init(1);
    tui_layout_compute(&bench_lay, 40, 120);
    printf("Screens at 120x40: built, laid out, drawn, refreshed (per key where keys)\n");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (cases[k].timed)
            timed_keys(b, &cases[k]);
        else
            timed(b, cases[k].what, q_screen, &cases[k]);
    }
    endwin();
    delscreen(term);
    fclose(out);
    fclose(in);
    return 0;
}

/* The heaviest user and the most popular item: the worst cases. */
static int pick_targets(Bench *b, RsErr *err)
{
    BrowseQuery q = {.sort = BROWSE_U_N, .desc = 1, .dir = 1, .max = 1};
    size_t n = 0;
    int rc = browse_users(b->s, &q, b->urows, &n, err);
    if (rc || n == 0)
        return rc ? rc : rs_err_set(err, RS_ENOTFOUND, "no users");
    b->user = b->urows[0].id;
    q.sort = BROWSE_I_N;
    if ((rc = browse_items(b->s, &q, b->irows, &n, err)) || n == 0)
        return rc ? rc : rs_err_set(err, RS_ENOTFOUND, "no items");
    b->item = b->irows[0].id;
    return RS_OK;
}

int main(int argc, char **argv)
{
    static Bench b;
    RsErr err = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tui_queries DB [RUNS]\n");
        return 2;
    }
    b.runs = argc > 2 ? atoi(argv[2]) : 7;
    b.runs = b.runs < 1 ? 1 : b.runs;
    if (store_open(&b.s, argv[1], STORE_OPEN_READONLY, &err)) {
        fprintf(stderr, "bench_tui_queries: %s\n", err.msg);
        return 1;
    }
    StoreStats st;
    if (store_stats(b.s, &st, &err) == RS_OK)
        printf("%s: %lld users, %lld items, %lld interactions; medians of %d runs\n", argv[1],
               (long long)st.users, (long long)st.items, (long long)st.interactions, b.runs);
    double t0 = now_ms();
    if (browse_prepare(b.s, &err) || pick_targets(&b, &err)) {
        fprintf(stderr, "bench_tui_queries: %s\n", err.msg);
        store_close(b.s);
        return 1;
    }
    printf("browse cache ready in %.0f ms (built in TEMP when the file has none)\n",
           now_ms() - t0);
    bench_users(&b);
    bench_user(&b);
    bench_items(&b);
    bench_item(&b);
    bench_screens(&b);
    store_close(b.s);
    return b.failed;
}
