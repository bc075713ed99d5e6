/* test_synth.c - the sample-data generator: determinism, exact counts, the
 * CSV format, and the signals later tests rely on (rating histogram,
 * popularity skew, activity floor, series order, release dates). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "synth.h"

/* ---- helpers (self-contained: temp dirs, files, a small CSV reader) ---------- */

static char *make_tmpdir(void)
{
    char *t = strdup("/tmp/recscope-synth-XXXXXX");
    assert_non_null(t);
    assert_non_null(mkdtemp(t));
    return t;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    if (dir)
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* The whole file (NUL-terminated), its length in *len; NULL if unreadable. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char *path = path_in(dir, name);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static int same_file(const char *a, const char *b, const char *name)
{
    size_t na, nb;
    char *x = slurp(a, name, &na), *y = slurp(b, name, &nb);
    assert_non_null(x);
    assert_non_null(y);
    int same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Reads one RFC 4180 record starting at *pos into fields[] (each malloc'd);
 * returns the field count, 0 at the end of the text, -1 on malformed quoting. */
static int csv_record(const char *s, size_t *pos, char **fields, int max)
{
    size_t i = *pos;
    if (!s[i])
        return 0;
    int n = 0;
    for (;;) {
        size_t cap = 64, len = 0;
        char *f = malloc(cap);
        assert_non_null(f);
        if (s[i] == '"') {
            i++;
            for (;;) {
                if (!s[i]) {
                    free(f);
                    return -1;
                }
                if (s[i] == '"' && s[i + 1] == '"')
                    i++;
                else if (s[i] == '"')
                    break;
                if (len + 1 >= cap)
                    f = realloc(f, cap *= 2);
                f[len++] = s[i++];
            }
            i++;
            if (s[i] != ',' && s[i] != '\n' && s[i]) {
                free(f);
                return -1;
            }
        } else {
            while (s[i] && s[i] != ',' && s[i] != '\n') {
                if (s[i] == '"') {
                    free(f);
                    return -1;
                }
                if (len + 1 >= cap)
                    f = realloc(f, cap *= 2);
                f[len++] = s[i++];
            }
        }
        f[len] = '\0';
        if (n < max)
            fields[n] = f;
        else
            free(f);
        n++;
        if (s[i] == ',') {
            i++;
            continue;
        }
        if (s[i] == '\n')
            i++;
        break;
    }
    *pos = i;
    return n;
}

static void free_fields(char **fields, int n)
{
    for (int k = 0; k < n && k < 8; k++)
        free(fields[k]);
}

/* ---- one default data set, parsed once for the signal tests ---------------- */

typedef struct Row {
    uint32_t user, item;
    int rating;
    int64_t ts;
} Row;

typedef struct Data {
    char *dir;
    SynthParams p;
    Row *rows;         /* (NNZ,) in file order */
    size_t n;
    int *year;         /* (I + 1,) item release year by id */
    int *part;         /* (I + 1,) part number within a series, 0 if none */
    char **series;     /* (I + 1,) series name, NULL if none */
} Data;

static Data D;

static void parse_items(Data *d)
{
    size_t I = d->p.items;
    char *text = slurp(d->dir, "items.csv", NULL);
    assert_non_null(text);
    d->year = calloc(I + 1, sizeof *d->year);
    d->part = calloc(I + 1, sizeof *d->part);
    d->series = calloc(I + 1, sizeof *d->series);
    size_t pos = 0;
    char *f[8];
    int n = csv_record(text, &pos, f, 8);
    assert_int_equal(n, 6);
    assert_string_equal(f[0], "item_id");
    assert_string_equal(f[5], "description");
    free_fields(f, n);
    size_t count = 0;
    while ((n = csv_record(text, &pos, f, 8)) > 0) {
        assert_int_equal(n, 6);
        count++;
        size_t id = strtoul(f[0], NULL, 10);
        assert_int_equal(id, count);
        d->year[id] = atoi(f[2]);
        const char *mark = strstr(f[1], ": Part ");
        if (mark) {
            d->part[id] = atoi(mark + 7);
            d->series[id] = strndup(f[1], (size_t)(mark - f[1]));
        }
        free_fields(f, n);
    }
    assert_int_equal(n, 0);
    assert_int_equal(count, I);
    free(text);
}

static void parse_interactions(Data *d)
{
    char *path = path_in(d->dir, "interactions.csv");
    FILE *f = fopen(path, "r");
    free(path);
    assert_non_null(f);
    char line[128];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "user_id,item_id,rating,timestamp\n");
    d->rows = malloc((d->p.interactions + 1) * sizeof *d->rows);
    assert_non_null(d->rows);
    d->n = 0;
    unsigned u, i;
    int r;
    long long t;
    while (fscanf(f, "%u,%u,%d,%lld\n", &u, &i, &r, &t) == 4 && d->n <= d->p.interactions)
        d->rows[d->n++] = (Row){u, i, r, t};
    assert_true(feof(f));
    fclose(f);
}

static int setup_data(void **state)
{
    (void)state;
    memset(&D, 0, sizeof D);
    D.dir = make_tmpdir();
    synth_params_default(&D.p);
    RsErr err = {0};
    if (synth_generate(D.dir, &D.p, NULL, NULL, &err) != RS_OK) {
        fprintf(stderr, "synth_generate: %s\n", err.msg);
        return -1;
    }
    parse_items(&D);
    parse_interactions(&D);
    return 0;
}

static int teardown_data(void **state)
{
    (void)state;
    rm_tree(D.dir);
    free(D.dir);
    free(D.rows);
    free(D.year);
    free(D.part);
    if (D.series)
        for (size_t i = 0; i <= D.p.items; i++)
            free(D.series[i]);
    free(D.series);
    return 0;
}

/* ---- tests on the default data set ------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    SynthParams p;
    synth_params_default(&p);
    assert_int_equal(p.users, 943);
    assert_int_equal(p.items, 1682);
    assert_int_equal(p.interactions, 100000);
    assert_int_equal(p.seed, 42);
}

static void test_exact_counts(void **state)
{
    (void)state;
    assert_int_equal(D.n, D.p.interactions);
    char *users = slurp(D.dir, "users.csv", NULL);
    assert_non_null(users);
    size_t pos = 0, count = 0;
    char *f[8];
    int n = csv_record(users, &pos, f, 8);
    assert_int_equal(n, 4);
    assert_string_equal(f[0], "user_id");
    assert_string_equal(f[3], "occupation");
    free_fields(f, n);
    while ((n = csv_record(users, &pos, f, 8)) > 0) {
        assert_int_equal(n, 4);
        count++;
        assert_int_equal(strtoul(f[0], NULL, 10), count);
        int age = atoi(f[1]);
        assert_true(age >= 16 && age <= 75);
        assert_true(!strcmp(f[2], "M") || !strcmp(f[2], "F") || !strcmp(f[2], "X"));
        assert_true(f[3][0] != '\0');
        free_fields(f, n);
    }
    assert_int_equal(count, D.p.users);
    free(users);
    char *gen = slurp(D.dir, "generator.txt", NULL);
    assert_non_null(gen);
    assert_string_equal(gen, "recscope generate --users 943 --items 1682 --interactions 100000 "
                             "--seed 42\n");
    free(gen);
}

static void test_ids_in_range_and_no_duplicate_pairs(void **state)
{
    (void)state;
    size_t I = D.p.items, dups = 0;
    uint32_t *owner = calloc(I + 1, sizeof *owner); /* last user seen with each item */
    assert_non_null(owner);
    for (size_t k = 0; k < D.n; k++) {
        const Row *r = &D.rows[k];
        assert_true(r->user >= 1 && r->user <= D.p.users);
        assert_true(r->item >= 1 && r->item <= I);
        /* rows come grouped by user (checked elsewhere), so this finds repeats */
        dups += owner[r->item] == r->user;
        owner[r->item] = r->user;
    }
    assert_int_equal(dups, 0);
    free(owner);
}

static void test_ratings_look_like_movielens(void **state)
{
    (void)state;
    size_t hist[6] = {0};
    double sum = 0;
    for (size_t k = 0; k < D.n; k++) {
        assert_true(D.rows[k].rating >= 1 && D.rows[k].rating <= 5);
        hist[D.rows[k].rating]++;
        sum += D.rows[k].rating;
    }
    double mean = sum / (double)D.n;
    assert_true(mean > 3.2 && mean < 3.8);
    for (int r = 1; r <= 5; r++) {
        assert_true(hist[r] > 0);
        if (r != 4)
            assert_true(hist[4] > hist[r]); /* the mode is 4 */
    }
}

static void test_order_and_time_range(void **state)
{
    (void)state;
    const int64_t t0 = 852076800, t1 = 1735689600; /* 1997-01-01, 2025-01-01 */
    for (size_t k = 0; k < D.n; k++) {
        assert_true(D.rows[k].ts >= t0 && D.rows[k].ts < t1);
        if (k) {
            assert_true(D.rows[k].user >= D.rows[k - 1].user);
            if (D.rows[k].user == D.rows[k - 1].user)
                assert_true(D.rows[k].ts > D.rows[k - 1].ts);
        }
    }
    assert_int_equal(D.rows[0].user, 1);
    assert_int_equal(D.rows[D.n - 1].user, D.p.users);
}

static int compare_size_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x < y) - (x > y);
}

static void test_popularity_is_skewed(void **state)
{
    (void)state;
    size_t I = D.p.items;
    size_t *cnt = calloc(I + 1, sizeof *cnt);
    for (size_t k = 0; k < D.n; k++)
        cnt[D.rows[k].item]++;
    qsort(cnt, I + 1, sizeof *cnt, compare_size_desc);
    size_t top = 0;
    for (size_t i = 0; i < I / 10; i++)
        top += cnt[i];
    assert_true((double)top / (double)D.n > 0.35);
    free(cnt);
}

static void test_activity_floor_and_tail(void **state)
{
    (void)state;
    size_t U = D.p.users;
    size_t *cnt = calloc(U + 1, sizeof *cnt);
    for (size_t k = 0; k < D.n; k++)
        cnt[D.rows[k].user]++;
    for (size_t u = 1; u <= U; u++) {
        assert_true(cnt[u] >= 20);
        assert_true(cnt[u] <= D.p.items);
    }
    qsort(cnt + 1, U, sizeof *cnt, compare_size_desc);
    size_t median = cnt[1 + U / 2], max = cnt[1];
    assert_true(median >= 30 && median <= 100); /* MovieLens-100K: 65 */
    assert_true(max > 4 * median);              /* heavy tail */
    free(cnt);
}

/* Among users who rated consecutive parts k and k+1 of a series, most rated
 * them in order; most users who rated part 1 went on to part 2. */
static void test_series_watched_in_order(void **state)
{
    (void)state;
    size_t I = D.p.items, in_series = 0;
    for (size_t i = 1; i <= I; i++)
        in_series += D.part[i] > 0;
    assert_true(in_series > I / 20 && in_series < I / 5);
    int64_t *when = malloc((I + 1) * sizeof *when); /* one user's time per item */
    size_t in_order = 0, pairs = 0, started = 0, continued = 0;
    size_t a = 0;
    while (a < D.n) {
        size_t b = a;
        for (size_t i = 0; i <= I; i++)
            when[i] = -1;
        while (b < D.n && D.rows[b].user == D.rows[a].user) {
            when[D.rows[b].item] = D.rows[b].ts;
            b++;
        }
        for (size_t i = 2; i <= I; i++) {
            if (D.part[i] < 2 || D.part[i - 1] != D.part[i] - 1)
                continue;
            assert_string_equal(D.series[i], D.series[i - 1]);
            if (when[i] >= 0 && when[i - 1] >= 0) {
                pairs++;
                in_order += when[i - 1] < when[i];
            }
            if (D.part[i] == 2 && when[i - 1] >= 0) {
                started++;
                continued += when[i] >= 0;
            }
        }
        a = b;
    }
    free(when);
    assert_true(pairs > 100);
    assert_true((double)in_order / (double)pairs > 0.9);
    assert_true(started > 100);
    assert_true((double)continued / (double)started > 0.5);
}

static void test_items_rated_after_release(void **state)
{
    (void)state;
    size_t ok = 0;
    for (size_t k = 0; k < D.n; k++) {
        time_t t = (time_t)D.rows[k].ts;
        struct tm tm;
        gmtime_r(&t, &tm);
        int year = D.year[D.rows[k].item];
        assert_true(year >= 1930 && year <= 2024);
        ok += year <= tm.tm_year + 1900;
    }
    assert_true((double)ok / (double)D.n > 0.95);
}

static void test_items_csv_fields(void **state)
{
    (void)state;
    static const char *genres[] = {"Action", "Adventure", "Animation", "Children", "Comedy",
                                   "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir",
                                   "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
                                   "Thriller", "War", "Western"};
    char *text = slurp(D.dir, "items.csv", NULL);
    assert_non_null(text);
    assert_null(strchr(text, '\r'));
    size_t pos = 0, quoted_comma = 0, tagged = 0;
    char *f[8];
    int n = csv_record(text, &pos, f, 8);
    free_fields(f, n);
    while ((n = csv_record(text, &pos, f, 8)) > 0) {
        assert_true(f[1][0] != '\0');
        quoted_comma += strchr(f[1], ',') != NULL || strchr(f[5], ',') != NULL;
        int ng = 0;
        for (char *save = NULL, *g = strtok_r(f[3], "|", &save); g;
             g = strtok_r(NULL, "|", &save)) {
            int known = 0;
            for (size_t k = 0; k < sizeof genres / sizeof *genres; k++)
                known |= !strcmp(g, genres[k]);
            assert_true(known);
            ng++;
        }
        assert_true(ng >= 1 && ng <= 3);
        int nt = 0;
        for (char *save = NULL, *t = strtok_r(f[4], "|", &save); t;
             t = strtok_r(NULL, "|", &save))
            nt++;
        assert_true(nt <= 4);
        tagged += nt > 0;
        size_t dl = strlen(f[5]);
        assert_true(dl > 20 && f[5][dl - 1] == '.');
        free_fields(f, n);
    }
    assert_true(quoted_comma > 0);
    assert_true(tagged > 0);
    free(text);
}

/* ---- tests that generate their own data ------------------------------------- */

static void test_deterministic(void **state)
{
    (void)state;
    char *b = make_tmpdir(), *c = make_tmpdir();
    RsErr err = {0};
    assert_int_equal(synth_generate(b, &D.p, NULL, NULL, &err), RS_OK);
    static const char *files[] = {"items.csv", "users.csv", "interactions.csv", "generator.txt"};
    for (size_t k = 0; k < 4; k++)
        assert_true(same_file(D.dir, b, files[k]));
    SynthParams q = D.p;
    q.seed = 43;
    assert_int_equal(synth_generate(c, &q, NULL, NULL, &err), RS_OK);
    assert_false(same_file(D.dir, c, "items.csv"));
    assert_false(same_file(D.dir, c, "users.csv"));
    assert_false(same_file(D.dir, c, "interactions.csv"));
    rm_tree(b);
    rm_tree(c);
    free(b);
    free(c);
}

static void test_tiny_and_dense(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    RsErr err = {0};
    /* every (user, item) pair */
    SynthParams p = {.users = 3, .items = 4, .interactions = 12, .seed = 1};
    assert_int_equal(synth_generate(dir, &p, NULL, NULL, &err), RS_OK);
    char *text = slurp(dir, "interactions.csv", NULL);
    int seen[4][5] = {{0}};
    unsigned u, i, r;
    long long t;
    int n = 0;
    for (char *line = strchr(text, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        assert_int_equal(sscanf(line, "%u,%u,%u,%lld", &u, &i, &r, &t), 4);
        assert_true(u >= 1 && u <= 3 && i >= 1 && i <= 4);
        seen[u][i]++;
        n++;
    }
    assert_int_equal(n, 12);
    for (u = 1; u <= 3; u++)
        for (i = 1; i <= 4; i++)
            assert_int_equal(seen[u][i], 1);
    free(text);
    /* one of everything */
    p = (SynthParams){.users = 1, .items = 1, .interactions = 1, .seed = 0};
    assert_int_equal(synth_generate(dir, &p, NULL, NULL, &err), RS_OK);
    /* a subfolder that does not exist yet */
    char *sub = path_in(dir, "a/b");
    p = (SynthParams){.users = 10, .items = 50, .interactions = 300, .seed = 5};
    assert_int_equal(synth_generate(sub, &p, NULL, NULL, &err), RS_OK);
    char *gen = slurp(sub, "generator.txt", NULL);
    assert_string_equal(gen,
                        "recscope generate --users 10 --items 50 --interactions 300 --seed 5\n");
    free(gen);
    free(sub);
    rm_tree(dir);
    free(dir);
}

static void test_bad_params(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    RsErr err = {0};
    SynthParams p = {.users = 0, .items = 10, .interactions = 10, .seed = 1};
    assert_int_equal(synth_generate(dir, &p, NULL, NULL, &err), RS_EUSAGE);
    assert_int_equal(err.code, RS_EUSAGE);
    p = (SynthParams){.users = 10, .items = 0, .interactions = 10};
    assert_int_equal(synth_generate(dir, &p, NULL, NULL, &err), RS_EUSAGE);
    p = (SynthParams){.users = 10, .items = 10, .interactions = 0};
    assert_int_equal(synth_generate(dir, &p, NULL, NULL, &err), RS_EUSAGE);
    p = (SynthParams){.users = 10, .items = 10, .interactions = 101};
    assert_int_equal(synth_generate(dir, &p, NULL, NULL, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, "101"));
    p = (SynthParams){.users = 10, .items = 10, .interactions = 9};
    assert_int_equal(synth_generate(dir, &p, NULL, NULL, &err), RS_EUSAGE);
    p = (SynthParams){.users = 10, .items = 10, .interactions = 100};
    assert_int_equal(synth_params_check(&p, &err), RS_OK);
    /* nothing was written */
    char *f = path_in(dir, "items.csv");
    assert_int_not_equal(access(f, F_OK), 0);
    free(f);
    /* the output folder is a file */
    char *file = path_in(dir, "plain");
    FILE *fp = fopen(file, "w");
    fclose(fp);
    assert_int_equal(synth_generate(file, &p, NULL, NULL, &err), RS_EIO);
    assert_non_null(strstr(err.msg, file));
    free(file);
    rm_tree(dir);
    free(dir);
}

typedef struct Seen {
    int calls;
    double last;
    int monotone;
    int cancel_at; /* cancel on this call, 0 never */
} Seen;

static int record_progress(void *ctx, double fraction, const char *phase)
{
    Seen *s = ctx;
    assert_string_equal(phase, "generating");
    s->monotone &= fraction >= s->last && fraction <= 1.0;
    s->last = fraction;
    return ++s->calls == s->cancel_at;
}

static void test_progress_and_cancel(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    RsErr err = {0};
    SynthParams p = {.users = 300, .items = 800, .interactions = 70000, .seed = 3};
    Seen s = {.monotone = 1};
    assert_int_equal(synth_generate(dir, &p, record_progress, &s, &err), RS_OK);
    assert_true(s.calls >= 3);
    assert_true(s.monotone);
    assert_true(s.last == 1.0);
    char *out = make_tmpdir();
    s = (Seen){.monotone = 1, .cancel_at = 2};
    assert_int_equal(synth_generate(out, &p, record_progress, &s, &err), RS_ECANCEL);
    assert_int_equal(s.calls, 2);
    /* a cancelled run leaves its folder empty: no partial files */
    size_t entries = 0;
    char *gen = path_in(out, "generator.txt");
    assert_int_not_equal(access(gen, F_OK), 0);
    free(gen);
    static const char *names[] = {"items.csv", "users.csv", "interactions.csv",
                                  ".items.csv.part", ".users.csv.part",
                                  ".interactions.csv.part"};
    for (size_t k = 0; k < 6; k++) {
        char *x = path_in(out, names[k]);
        entries += access(x, F_OK) == 0;
        free(x);
    }
    assert_int_equal(entries, 0);
    rm_tree(out);
    free(out);
    rm_tree(dir);
    free(dir);
}

/* Runs cmd_generate with stdout and stderr sent to /dev/null. */
static int run_cmd(int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int o = dup(1), e = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    int rc = cmd_generate(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(o, 1);
    dup2(e, 2);
    close(o);
    close(e);
    close(null);
    return rc;
}

static void test_cmd_generate(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    char *out = path_in(dir, "gen");
    char *help[] = {"generate", "--help", NULL};
    assert_int_equal(run_cmd(2, help), CLI_OK);
    char *none[] = {"generate", NULL};
    assert_int_equal(run_cmd(1, none), CLI_USAGE);
    char *junk[] = {"generate", out, "--users", "abc", NULL};
    assert_int_equal(run_cmd(4, junk), CLI_USAGE);
    char *zero[] = {"generate", out, "--items", "0", NULL};
    assert_int_equal(run_cmd(4, zero), CLI_USAGE);
    char *toomany[] = {"generate", out, "--users", "2", "--items", "2", "--interactions", "5",
                       NULL};
    assert_int_equal(run_cmd(8, toomany), CLI_USAGE);
    char *badseed[] = {"generate", out, "--seed", "-1", NULL};
    assert_int_equal(run_cmd(4, badseed), CLI_USAGE);
    char *two[] = {"generate", out, "extra", NULL};
    assert_int_equal(run_cmd(3, two), CLI_USAGE);
    char *ok[] = {"generate", out,      "--users", "20",     "--items",
                  "30",       "--seed", "18446744073709551615", "--interactions", "400",
                  NULL};
    assert_int_equal(run_cmd(10, ok), CLI_OK);
    char *gen = slurp(out, "generator.txt", NULL);
    assert_non_null(gen);
    assert_string_equal(gen, "recscope generate --users 20 --items 30 --interactions 400 "
                             "--seed 18446744073709551615\n");
    free(gen);
    rm_tree(dir);
    free(out);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_exact_counts),
        cmocka_unit_test(test_ids_in_range_and_no_duplicate_pairs),
        cmocka_unit_test(test_ratings_look_like_movielens),
        cmocka_unit_test(test_order_and_time_range),
        cmocka_unit_test(test_popularity_is_skewed),
        cmocka_unit_test(test_activity_floor_and_tail),
        cmocka_unit_test(test_series_watched_in_order),
        cmocka_unit_test(test_items_rated_after_release),
        cmocka_unit_test(test_items_csv_fields),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_tiny_and_dense),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_progress_and_cancel),
        cmocka_unit_test(test_cmd_generate),
    };
    return cmocka_run_group_tests_name("synth", tests, setup_data, teardown_data);
}
