/* cmd_browse.c - `recscope info`, `users`, `items` and `history`. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "query.h"
#include "store.h"

typedef struct BrowseArgs {
    const char *db;
    const char *search;
    const char *user;
    long limit;
    OutFormat fmt;
} BrowseArgs;

/* Parses the options shared by the browsing commands. want_user: the
 * command takes a USER argument after DB. */
static int parse_browse(int argc, char **argv, const char *usage, int want_search,
                        int want_user, BrowseArgs *a)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"search", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->limit = want_search ? 50 : 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (cli_parse_format(optarg, &a->fmt))
                return cli_usage_error(argv[0], "unknown format '%s' (valid: text, tsv, json)",
                                       optarg);
            break;
        case 's':
            if (!want_search)
                return cli_usage_error(argv[0], "--search is not an option of %s", argv[0]);
            a->search = optarg;
            break;
        case 'n':
            if (!want_search || cli_parse_long(optarg, &a->limit))
                return cli_usage_error(argv[0], "bad --limit '%s' (a number, 0 for all)",
                                       optarg);
            break;
        case 'h': fputs(usage, stdout); return -1;
        default: return cli_usage_error(argv[0], "bad option");
        }
    }
    int need = 1 + want_user;
    if (argc - optind != need)
        return cli_usage_error(argv[0], "expected %s", want_user ? "DB USER" : "DB");
    a->db = argv[optind];
    a->user = want_user ? argv[optind + 1] : NULL;
    return CLI_OK;
}

static Store *open_db(const char *db)
{
    Store *s;
    RsErr err = {0};
    if (store_open(&s, db, STORE_OPEN_READONLY, &err)) {
        cli_fail(&err);
        return NULL;
    }
    return s;
}

static const char *fmt_date(int64_t ts, char *buf, size_t cap)
{
    if (ts == STORE_NO_TS)
        return "";
    time_t t = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return "";
    strftime(buf, cap, "%Y-%m-%d", &tm);
    return buf;
}

static void json_num(FILE *f, double v)
{
    if (isnan(v))
        fputs("null", f);
    else
        fprintf(f, "%.10g", v);
}

/* ---- info ------------------------------------------------------------------ */

static const char info_usage[] =
    "usage: recscope info DB [--format text|tsv|json]\n"
    "\n"
    "Dataset statistics (cached at import time): counts, density, rating\n"
    "range and histogram, interactions per user and per item.\n";

static void info_json(const StoreStats *st)
{
    printf("{\"users\":%lld,\"items\":%lld,\"interactions\":%lld,\"rated\":%lld,"
           "\"timed\":%lld,\"density\":",
           (long long)st->users, (long long)st->items, (long long)st->interactions,
           (long long)st->rated, (long long)st->timed);
    json_num(stdout, st->density);
    printf(",\"rating_min\":");
    json_num(stdout, st->rating_min);
    printf(",\"rating_max\":");
    json_num(stdout, st->rating_max);
    printf(",\"rating_mean\":");
    json_num(stdout, st->rating_mean);
    printf(",\"ts_min\":");
    json_num(stdout, st->timed ? (double)st->ts_min : NAN);
    printf(",\"ts_max\":");
    json_num(stdout, st->timed ? (double)st->ts_max : NAN);
    printf(",\"rating_histogram\":{");
    for (int k = 0; k < st->n_hist; k++)
        printf("%s\"%g\":%lld", k ? "," : "", st->hist_value[k], (long long)st->hist_count[k]);
    printf("},\"per_user\":{\"min\":%g,\"median\":%g,\"p90\":%g,\"max\":%g}",
           st->user_count_q[0], st->user_count_q[2], st->user_count_q[4], st->user_count_q[6]);
    printf(",\"per_item\":{\"min\":%g,\"median\":%g,\"p90\":%g,\"max\":%g}",
           st->item_count_q[0], st->item_count_q[2], st->item_count_q[4], st->item_count_q[6]);
    printf(",\"splits\":%lld,\"runs\":%lld}\n", (long long)st->splits, (long long)st->runs);
}

static void info_text(const char *db, const StoreStats *st, int tsv)
{
    char b1[32], b2[32];
    if (tsv) {
        printf("users\t%lld\nitems\t%lld\ninteractions\t%lld\ndensity\t%.6g\n",
               (long long)st->users, (long long)st->items, (long long)st->interactions,
               st->density);
        printf("rating_min\t%g\nrating_max\t%g\nrating_mean\t%.4f\n", st->rating_min,
               st->rating_max, st->rating_mean);
        return;
    }
    printf("%s\n", db);
    printf("  users         %lld\n  items         %lld\n  interactions  %lld\n",
           (long long)st->users, (long long)st->items, (long long)st->interactions);
    printf("  density       %.4f%%\n", st->density * 100);
    if (st->rated)
        printf("  ratings       %lld rated, %g..%g, mean %.3f\n", (long long)st->rated,
               st->rating_min, st->rating_max, st->rating_mean);
    else
        printf("  ratings       none (implicit feedback)\n");
    if (st->timed)
        printf("  time span     %s .. %s\n", fmt_date(st->ts_min, b1, sizeof b1),
               fmt_date(st->ts_max, b2, sizeof b2));
    printf("  per user      min %g, median %g, p90 %g, max %g\n", st->user_count_q[0],
           st->user_count_q[2], st->user_count_q[4], st->user_count_q[6]);
    printf("  per item      min %g, median %g, p90 %g, max %g\n", st->item_count_q[0],
           st->item_count_q[2], st->item_count_q[4], st->item_count_q[6]);
    printf("  popularity    top 1%% of items hold %.1f%%, top 10%% hold %.1f%%\n",
           st->pop_share[0] * 100, st->pop_share[2] * 100);
    if (st->n_hist) {
        printf("  histogram    ");
        for (int k = 0; k < st->n_hist; k++)
            printf(" %g:%lld", st->hist_value[k], (long long)st->hist_count[k]);
        printf("\n");
    }
    printf("  splits        %lld\n  runs          %lld\n", (long long)st->splits,
           (long long)st->runs);
}

int cmd_info(int argc, char **argv)
{
    BrowseArgs a;
    int rc = parse_browse(argc, argv, info_usage, 0, 0, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Store *s = open_db(a.db);
    if (!s)
        return CLI_ERROR;
    StoreStats st;
    RsErr err = {0};
    rc = store_stats(s, &st, &err);
    store_close(s);
    if (rc)
        return cli_fail(&err);
    if (a.fmt == OUT_JSON)
        info_json(&st);
    else
        info_text(a.db, &st, a.fmt == OUT_TSV);
    return CLI_OK;
}

/* ---- users --------------------------------------------------------------- */

static const char users_usage[] =
    "usage: recscope users DB [--search TEXT] [--limit N] [--format text|tsv|json]\n"
    "\n"
    "Users with their interaction count, mean rating, first and last activity\n"
    "and attributes. --search keeps ids containing TEXT; --limit defaults to 50\n"
    "(0 for all).\n";

int cmd_users(int argc, char **argv)
{
    BrowseArgs a;
    int rc = parse_browse(argc, argv, users_usage, 1, 0, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Store *s = open_db(a.db);
    if (!s)
        return CLI_ERROR;
    StoreUserRow *rows;
    size_t n;
    RsErr err = {0};
    rc = store_users(s, a.search, a.limit, &rows, &n, &err);
    store_close(s);
    if (rc)
        return cli_fail(&err);
    char b1[32], b2[32];
    if (a.fmt == OUT_JSON)
        printf("[");
    else if (a.fmt == OUT_TSV)
        printf("user\tinteractions\tmean_rating\tfirst\tlast\tage\tgender\toccupation\n");
    else
        printf("%-12s %6s %5s %-10s %-10s %4s %-6s %s\n", "USER", "N", "MEAN", "FIRST", "LAST",
               "AGE", "GENDER", "OCCUPATION");
    for (size_t k = 0; k < n; k++) {
        const StoreUserRow *u = &rows[k];
        if (a.fmt == OUT_JSON) {
            printf("%s{\"user\":", k ? "," : "");
            json_str(stdout, u->ext_id);
            printf(",\"interactions\":%lld,\"mean_rating\":", (long long)u->n);
            json_num(stdout, u->mean_rating);
            printf(",\"first\":");
            json_num(stdout, u->first_ts == STORE_NO_TS ? NAN : (double)u->first_ts);
            printf(",\"last\":");
            json_num(stdout, u->last_ts == STORE_NO_TS ? NAN : (double)u->last_ts);
            printf(",\"age\":");
            json_num(stdout, u->age < 0 ? NAN : u->age);
            printf(",\"gender\":");
            json_str(stdout, u->gender);
            printf(",\"occupation\":");
            json_str(stdout, u->occupation);
            printf("}");
        } else if (a.fmt == OUT_TSV) {
            tsv_str(stdout, u->ext_id);
            printf("\t%lld\t", (long long)u->n);
            if (!isnan(u->mean_rating))
                printf("%.4f", u->mean_rating);
            printf("\t%s", fmt_date(u->first_ts, b1, sizeof b1));
            printf("\t%s\t", fmt_date(u->last_ts, b2, sizeof b2));
            if (u->age >= 0)
                printf("%d", u->age);
            putchar('\t');
            tsv_str(stdout, u->gender);
            putchar('\t');
            tsv_str(stdout, u->occupation);
            putchar('\n');
        } else {
            char c1[64], c2[64], c3[256];
            printf("%-12s %6lld ", cli_clean(u->ext_id, c1, 13), (long long)u->n);
            if (isnan(u->mean_rating))
                printf("%5s", "-");
            else
                printf("%5.2f", u->mean_rating);
            printf(" %-10s %-10s ", fmt_date(u->first_ts, b1, sizeof b1),
                   fmt_date(u->last_ts, b2, sizeof b2));
            if (u->age >= 0)
                printf("%4d", u->age);
            else
                printf("%4s", "-");
            printf(" %-6s %s\n", cli_clean(u->gender, c2, 7), cli_clean(u->occupation, c3, sizeof c3));
        }
    }
    if (a.fmt == OUT_JSON)
        printf("]\n");
    store_users_free(rows, n);
    return CLI_OK;
}

/* ---- items --------------------------------------------------------------- */

static const char items_usage[] =
    "usage: recscope items DB [--search TEXT] [--limit N] [--format text|tsv|json]\n"
    "\n"
    "Items with title, year, genres, popularity and mean rating. --search keeps\n"
    "items whose id, title, genres or tags contain TEXT (case-insensitive);\n"
    "--limit defaults to 50 (0 for all).\n";

int cmd_items(int argc, char **argv)
{
    BrowseArgs a;
    int rc = parse_browse(argc, argv, items_usage, 1, 0, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Store *s = open_db(a.db);
    if (!s)
        return CLI_ERROR;
    StoreItemRow *rows;
    size_t n;
    RsErr err = {0};
    rc = store_items(s, a.search, a.limit, &rows, &n, &err);
    store_close(s);
    if (rc)
        return cli_fail(&err);
    if (a.fmt == OUT_JSON)
        printf("[");
    else if (a.fmt == OUT_TSV)
        printf("item\ttitle\tyear\tgenres\tinteractions\tmean_rating\n");
    else
        printf("%-8s %-44s %4s %6s %5s  %s\n", "ITEM", "TITLE", "YEAR", "N", "MEAN", "GENRES");
    for (size_t k = 0; k < n; k++) {
        const StoreItemRow *it = &rows[k];
        if (a.fmt == OUT_JSON) {
            printf("%s{\"item\":", k ? "," : "");
            json_str(stdout, it->ext_id);
            printf(",\"title\":");
            json_str(stdout, it->title);
            printf(",\"year\":");
            json_num(stdout, it->year ? it->year : NAN);
            printf(",\"genres\":");
            json_str(stdout, it->genres);
            printf(",\"tags\":");
            json_str(stdout, it->tags);
            printf(",\"interactions\":%lld,\"mean_rating\":", (long long)it->n);
            json_num(stdout, it->mean_rating);
            printf("}");
        } else if (a.fmt == OUT_TSV) {
            tsv_str(stdout, it->ext_id);
            putchar('\t');
            tsv_str(stdout, it->title);
            putchar('\t');
            if (it->year)
                printf("%d", it->year);
            putchar('\t');
            tsv_str(stdout, it->genres);
            printf("\t%lld\t", (long long)it->n);
            if (!isnan(it->mean_rating))
                printf("%.4f", it->mean_rating);
            putchar('\n');
        } else {
            char c1[64], c2[256], c3[256];
            printf("%-8s %-44s ", cli_clean(it->ext_id, c1, 9), cli_clean(it->title, c2, 45));
            if (it->year)
                printf("%4d", it->year);
            else
                printf("%4s", "-");
            printf(" %6lld ", (long long)it->n);
            if (isnan(it->mean_rating))
                printf("%5s", "-");
            else
                printf("%5.2f", it->mean_rating);
            printf("  %s\n", it->genres ? cli_clean(it->genres, c3, sizeof c3) : "");
        }
    }
    if (a.fmt == OUT_JSON)
        printf("]\n");
    store_items_free(rows, n);
    return CLI_OK;
}

/* ---- history ------------------------------------------------------------- */

static const char history_usage[] =
    "usage: recscope history DB USER [--format text|tsv|json]\n"
    "\n"
    "The interactions of USER (an external user id), oldest first.\n";

int cmd_history(int argc, char **argv)
{
    BrowseArgs a;
    int rc = parse_browse(argc, argv, history_usage, 0, 1, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    Store *s = open_db(a.db);
    if (!s)
        return CLI_ERROR;
    StoreHistoryRow *rows;
    size_t n;
    RsErr err = {0};
    rc = store_history(s, a.user, &rows, &n, &err);
    store_close(s);
    if (rc)
        return cli_fail(&err);
    char b[32];
    if (a.fmt == OUT_JSON)
        printf("[");
    else if (a.fmt == OUT_TSV)
        printf("item\ttitle\tgenres\trating\ttimestamp\n");
    else
        printf("%-10s %-8s %6s  %-44s %s\n", "DATE", "ITEM", "RATING", "TITLE", "GENRES");
    for (size_t k = 0; k < n; k++) {
        const StoreHistoryRow *h = &rows[k];
        if (a.fmt == OUT_JSON) {
            printf("%s{\"item\":", k ? "," : "");
            json_str(stdout, h->item_ext_id);
            printf(",\"title\":");
            json_str(stdout, h->title);
            printf(",\"genres\":");
            json_str(stdout, h->genres);
            printf(",\"rating\":");
            json_num(stdout, h->rating);
            printf(",\"timestamp\":");
            json_num(stdout, h->ts == STORE_NO_TS ? NAN : (double)h->ts);
            printf("}");
        } else if (a.fmt == OUT_TSV) {
            tsv_str(stdout, h->item_ext_id);
            putchar('\t');
            tsv_str(stdout, h->title);
            putchar('\t');
            tsv_str(stdout, h->genres);
            putchar('\t');
            if (!isnan(h->rating))
                printf("%g", h->rating);
            putchar('\t');
            if (h->ts != STORE_NO_TS)
                printf("%lld", (long long)h->ts);
            putchar('\n');
        } else {
            char c1[64], c2[256], c3[256];
            printf("%-10s %-8s ", fmt_date(h->ts, b, sizeof b), cli_clean(h->item_ext_id, c1, 9));
            if (isnan(h->rating))
                printf("%6s", "-");
            else
                printf("%6g", h->rating);
            printf("  %-44s %s\n", cli_clean(h->title, c2, 45),
                   h->genres ? cli_clean(h->genres, c3, sizeof c3) : "");
        }
    }
    if (a.fmt == OUT_JSON)
        printf("]\n");
    store_history_free(rows, n);
    return CLI_OK;
}
