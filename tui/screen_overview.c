/*
 * screen_overview.c - the dataset overview, the first screen: counts,
 * rating histogram, interactions per user and item, the popularity long
 * tail and interactions over time, all from the statistics the importer
 * cached (store_stats), read once when the screen opens.
 *
 * Layout: five sections, placed by ov_layout() in rows of two columns when
 * the body is wide enough (one column otherwise). Every row gets its
 * minimum height; rows that do not fit are left out; spare rows then go to
 * the histogram (only if it can then show every rating value) and to the
 * time chart. Each section draws into its own rectangle and clips to it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "tui_screen.h"
#include "tui_theme.h"

_Static_assert(STORE_NQUANT == 7, "the activity table names seven quantile points");

enum { OV_COUNTS, OV_RATINGS, OV_ACTIVITY, OV_POPULARITY, OV_TIME, OV_NSEC };

#define OV_TWO_COLUMNS 64 /* body width from which sections sit side by side */
#define OV_GAP 3          /* columns between the two columns */
#define OV_CHART_MIN 2    /* rows of the time chart */
#define OV_CHART_MAX 16
#define OV_HIST_MIN 5     /* rows of the rating histogram */
#define OV_HIST_MAX 12
#define OV_LABEL_W 14     /* label column of the counts */

typedef struct Overview {
    TuiScreen base;
    char *path;
    StoreStats st;
    TuiRect sec[OV_NSEC]; /* h == 0: not shown */
} Overview;

typedef struct OvSection {
    void (*draw)(const Overview *o, const TuiRect *r);
    int (*height)(const Overview *o, int want); /* minimum rows, or wanted rows */
} OvSection;

static int max_i(int a, int b)
{
    return a > b ? a : b;
}

/* A share of a whole, always with one decimal so that a column lines up. */
static char *share_fmt(char *buf, size_t n, double frac)
{
    snprintf(buf, n, "%.1f%%", frac * 100.0);
    return buf;
}

/* --- Dataset: the counts --------------------------------------------------- */

static int counts_height(const Overview *o, int want)
{
    (void) o, (void) want;
    return 8;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static void counts_draw(const Overview *o, const TuiRect *r)
{
    static const char *labels[7] = { "Users", "Items", "Interactions", "Density",
                                     "Rated", "Timed", "Splits / runs" };
    const StoreStats *st = &o->st;
    char v[7][48], a[24], b[24], pct[2][16];
    tui_fmt_int(v[0], sizeof v[0], st->users);
    tui_fmt_int(v[1], sizeof v[1], st->items);
    tui_fmt_int(v[2], sizeof v[2], st->interactions);
    tui_fmt_pct(v[3], sizeof v[3], st->density);
    tui_fmt_int(v[4], sizeof v[4], st->rated);
    tui_fmt_int(v[5], sizeof v[5], st->timed);
    snprintf(v[6], sizeof v[6], "%s / %s", tui_fmt_int(a, sizeof a, st->splits),
             tui_fmt_int(b, sizeof b, st->runs));
    tui_fmt_pct(pct[0], sizeof pct[0], (double) st->rated / (double) st->interactions);
    tui_fmt_pct(pct[1], sizeof pct[1], (double) st->timed / (double) st->interactions);
    int vw = 7;
    for (int i = 0; i < 7; i++)
        vw = max_i(vw, tui_text_width(v[i]));
    int vend = 2 + OV_LABEL_W + vw;
    vend = vend < r->w ? vend : r->w;
    tui_heading(r, 0, "Dataset", base_name(o->path));
    for (int i = 0; i < 7; i++) {
        tui_put(r, 1 + i, 2, COL_LABEL, labels[i]);
        tui_put_right(r, 1 + i, vend, COL_VALUE, v[i]);
        if (i == 4 || i == 5)
            if (vend + 2 + tui_text_width(pct[i - 4]) <= r->w)
                tui_put(r, 1 + i, vend + 2, COL_DIM, pct[i - 4]);
    }
}

/* --- Ratings: the histogram ------------------------------------------------ */

static int ratings_height(const Overview *o, int want)
{
    int n = o->st.rated > 0 ? o->st.n_hist : 0;
    int cap = want ? OV_HIST_MAX : OV_HIST_MIN;
    return n > 0 ? 1 + (n < cap ? n : cap) : 2;
}

/* Merges the histogram into at most rows bars of g consecutive values. */
static int ratings_merge(const StoreStats *st, int rows, char labels[][32], int64_t *counts)
{
    int g = (st->n_hist + rows - 1) / rows, n = 0;
    for (int i = 0; i < st->n_hist; i += g, n++) {
        int last = i + g - 1 < st->n_hist ? i + g - 1 : st->n_hist - 1;
        counts[n] = 0;
        for (int j = i; j <= last; j++)
            counts[n] += st->hist_count[j];
        if (last == i)
            snprintf(labels[n], 32, "%g", st->hist_value[i]);
        else
            snprintf(labels[n], 32, "%g-%g", st->hist_value[i], st->hist_value[last]);
    }
    return n;
}

static void ratings_heading(const StoreStats *st, const TuiRect *r)
{
    char detail[96];
    snprintf(detail, sizeof detail, "mean %.2f %s range %g-%g", st->rating_mean,
             tui_glyphs()->sep, st->rating_min, st->rating_max);
    tui_heading(r, 0, "Ratings", detail);
}

static void ratings_draw(const Overview *o, const TuiRect *r)
{
    const StoreStats *st = &o->st;
    char labels[STORE_MAX_HIST][32], num[32], pct[16];
    int64_t counts[STORE_MAX_HIST], max = 1;
    if (st->rated <= 0 || st->n_hist <= 0 || r->h < 2) {
        tui_heading(r, 0, "Ratings", NULL);
        tui_put(r, 1, 2, COL_DIM, "no ratings (implicit feedback)");
        return;
    }
    ratings_heading(st, r);
    int n = ratings_merge(st, r->h - 1, labels, counts), lw = 0, cw = 0;
    for (int i = 0; i < n; i++) {
        lw = max_i(lw, tui_text_width(labels[i]));
        cw = max_i(cw, tui_text_width(tui_fmt_int(num, sizeof num, counts[i])));
        max = counts[i] > max ? counts[i] : max;
    }
    int bar_x = 2 + lw + 1, pct_w = 7;
    int bar_w = r->w - bar_x - 1 - cw;
    int show_pct = bar_w - pct_w >= 16;
    bar_w -= show_pct ? pct_w : 0;
    for (int i = 0; i < n; i++) {
        int end = r->w - (show_pct ? pct_w : 0);
        tui_put_right(r, 1 + i, 2 + lw, COL_LABEL, labels[i]);
        tui_hbar(r, 1 + i, bar_x, bar_w, (double) counts[i] / (double) max, COL_BAR, COL_DEFAULT);
        tui_put_right(r, 1 + i, end, COL_VALUE, tui_fmt_int(num, sizeof num, counts[i]));
        if (show_pct)
            tui_put_right(r, 1 + i, r->w, COL_DIM,
                          share_fmt(pct, sizeof pct, (double) counts[i] / (double) st->rated));
    }
}

/* --- Activity: interactions per user and per item ----------------------------- */

typedef struct OvColumn {
    const char *name;
    int q;    /* index into the quantile arrays; -1: the mean */
    int prio; /* columns join in this order while they fit */
} OvColumn;

static const OvColumn ov_columns[] = {
    { "min", 0, 0 }, { "p25", 1, 5 }, { "median", 2, 1 }, { "mean", -1, 4 },
    { "p75", 3, 6 }, { "p90", 4, 2 }, { "p99", 5, 7 }, { "max", 6, 3 },
};
#define OV_NCOLUMNS ((int) RS_ARRAY_LEN(ov_columns))

static int activity_height(const Overview *o, int want)
{
    (void) o, (void) want;
    return 4;
}

static double activity_value(const StoreStats *st, int row, int q)
{
    if (q < 0) {
        int64_t d = row == 0 ? st->users : st->items;
        return d > 0 ? (double) st->interactions / (double) d : NAN;
    }
    return row == 0 ? st->user_count_q[q] : st->item_count_q[q];
}

/* Formats the cells and picks the columns that fit in width. */
static void activity_columns(const StoreStats *st, int width, char val[][OV_NCOLUMNS][16],
                             int *colw, int *shown)
{
    int used = 2 + 4;
    for (int c = 0; c < OV_NCOLUMNS; c++) {
        colw[c] = (int) strlen(ov_columns[c].name);
        for (int row = 0; row < 2; row++) {
            tui_fmt_num(val[row][c], 16, activity_value(st, row, ov_columns[c].q), 7);
            colw[c] = max_i(colw[c], (int) strlen(val[row][c]));
        }
        colw[c] += 2;
        shown[c] = 0;
    }
    for (int p = 0; p < OV_NCOLUMNS; p++)
        for (int c = 0; c < OV_NCOLUMNS; c++)
            if (ov_columns[c].prio == p && used + colw[c] <= width)
                shown[c] = 1, used += colw[c];
}

static void activity_draw(const Overview *o, const TuiRect *r)
{
    static const char *rows[2] = { "user", "item" };
    char val[2][OV_NCOLUMNS][16];
    int colw[OV_NCOLUMNS], shown[OV_NCOLUMNS];
    activity_columns(&o->st, r->w, val, colw, shown);
    tui_heading(r, 0, "Interactions per user / item", NULL);
    for (int row = 0; row < 2; row++)
        tui_put(r, 2 + row, 2, COL_LABEL, rows[row]);
    int x = 2 + 4;
    for (int c = 0; c < OV_NCOLUMNS; c++) {
        if (!shown[c])
            continue;
        x += colw[c];
        tui_put_right(r, 1, x, COL_DIM, ov_columns[c].name);
        for (int row = 0; row < 2; row++)
            tui_put_right(r, 2 + row, x, COL_VALUE, val[row][c]);
    }
}

/* --- Popularity: the long tail ------------------------------------------------ */

static int popularity_height(const Overview *o, int want)
{
    (void) o, (void) want;
    return 6;
}

static void popularity_draw(const Overview *o, const TuiRect *r)
{
    static const int tops[5] = { 1, 5, 10, 20, 50 };
    char label[16], pct[16];
    int bar_x = 2 + 7 + 1, pct_w = 6;
    int bar_w = r->w - bar_x - 1 - pct_w;
    tui_heading(r, 0, "Popularity long tail", "share of interactions");
    for (int i = 0; i < 5; i++) {
        double share = o->st.pop_share[i];
        snprintf(label, sizeof label, "top %2d%%", tops[i]);
        tui_put(r, 1 + i, 2, COL_LABEL, label);
        tui_hbar(r, 1 + i, bar_x, bar_w, share, COL_BAR_ALT, COL_TRACK);
        tui_put_right(r, 1 + i, r->w, COL_VALUE, share_fmt(pct, sizeof pct, share));
    }
}

/* --- Time: interactions over time --------------------------------------------- */

static int time_height(const Overview *o, int want)
{
    if (o->st.timed <= 0 || o->st.n_time <= 0)
        return 2;
    return 2 + (want ? OV_CHART_MAX : OV_CHART_MIN);
}

/* Resamples the time buckets to at most width columns: each bucket spans
 * one or more whole columns, or groups of buckets share one column (their
 * mean).
 * Returns the number of columns written to col. */
static int time_columns(const StoreStats *st, int width, double *col)
{
    int n = st->n_time;
    if (width >= n) {
        for (int i = 0; i < width; i++)
            col[i] = (double) st->time_count[(size_t) i * (size_t) n / (size_t) width];
        return width;
    }
    int g = (n + width - 1) / width, ncol = 0;
    for (int i = 0; i < n; i += g, ncol++) {
        int end = i + g < n ? i + g : n;
        double sum = 0;
        for (int j = i; j < end; j++)
            sum += (double) st->time_count[j];
        col[ncol] = sum / (end - i);
    }
    return ncol;
}

static void time_heading(const StoreStats *st, const TuiRect *r)
{
    char span[32], peak[32], detail[96];
    int64_t max = 0;
    for (int i = 0; i < st->n_time; i++)
        max = st->time_count[i] > max ? st->time_count[i] : max;
    tui_fmt_span(span, sizeof span, (double) (st->ts_max - st->ts_min) / st->n_time);
    snprintf(detail, sizeof detail, "per %s %s peak %s", span, tui_glyphs()->sep,
             tui_fmt_int(peak, sizeof peak, max));
    tui_heading(r, 0, "Interactions over time", detail);
}

static void time_chart(const TuiRect *r, const double *col, int ncol, int rows)
{
    const TuiGlyphs *g = tui_glyphs();
    double max = 0;
    for (int i = 0; i < ncol; i++)
        max = col[i] > max ? col[i] : max;
    for (int i = 0; i < ncol && max > 0; i++) {
        long e = lround(col[i] / max * rows * 8);
        if (e == 0 && col[i] > 0)
            e = 1;
        for (int k = 0; k < rows; k++) {
            long cell = e - 8L * k;
            cell = cell < 0 ? 0 : cell > 8 ? 8 : cell;
            tui_put(r, rows - k, 2 + i, COL_CHART, g->vbar[cell]);
        }
    }
}

static void time_draw(const Overview *o, const TuiRect *r)
{
    const StoreStats *st = &o->st;
    double col[1024];
    char first[32], last[32];
    if (st->timed <= 0 || st->n_time <= 0) {
        tui_heading(r, 0, "Interactions over time", NULL);
        tui_put(r, 1, 2, COL_DIM, "no timestamps");
        return;
    }
    time_heading(st, r);
    int width = r->w - 2 < (int) RS_ARRAY_LEN(col) ? r->w - 2 : (int) RS_ARRAY_LEN(col);
    int rows = r->h - 2;
    if (width < 1 || rows < 1)
        return;
    int ncol = time_columns(st, width, col);
    time_chart(r, col, ncol, rows);
    tui_fmt_date(first, sizeof first, st->ts_min);
    tui_fmt_date(last, sizeof last, st->ts_max);
    tui_put(r, r->h - 1, 2, COL_DIM, first);
    if (ncol >= tui_text_width(first) + tui_text_width(last) + 2)
        tui_put_right(r, r->h - 1, 2 + ncol, COL_DIM, last);
}

/* --- layout --------------------------------------------------------------- */

static const OvSection ov_sections[OV_NSEC] = {
    [OV_COUNTS] = { counts_draw, counts_height },
    [OV_RATINGS] = { ratings_draw, ratings_height },
    [OV_ACTIVITY] = { activity_draw, activity_height },
    [OV_POPULARITY] = { popularity_draw, popularity_height },
    [OV_TIME] = { time_draw, time_height },
};

/* Rows of sections, top to bottom; -1 leaves the second column empty. */
static const int ov_rows_two[][2] = {
    { OV_COUNTS, OV_RATINGS }, { OV_ACTIVITY, OV_POPULARITY }, { OV_TIME, -1 },
};
static const int ov_rows_one[][2] = {
    { OV_COUNTS, -1 }, { OV_RATINGS, -1 }, { OV_ACTIVITY, -1 }, { OV_POPULARITY, -1 },
    { OV_TIME, -1 },
};

static int row_height(const Overview *o, const int *row, int want)
{
    int h = 0;
    for (int c = 0; c < 2; c++)
        if (row[c] >= 0)
            h = max_i(h, ov_sections[row[c]].height(o, want));
    return h;
}

/* Heights of the rows (0: left out) that fit in avail lines with a blank
 * line between rows; a row too tall is skipped, later ones still tried. */
static void ov_heights(const Overview *o, const int (*rows)[2], int nrows, int avail, int *h)
{
    int any = 0;
    for (int i = 0; i < nrows; i++) {
        int need = row_height(o, rows[i], 0) + any;
        h[i] = 0;
        if (need <= avail)
            h[i] = need - any, avail -= need, any = 1;
    }
    if (!any && nrows > 0 && avail > 0) /* clip the first row rather than show nothing */
        h[0] = avail, avail = 0;
    for (int i = 0; i < nrows; i++) {
        int grow = row_height(o, rows[i], 1) - h[i];
        if (h[i] == 0)
            continue;
        if (i == nrows - 1 && grow > avail) /* the time chart takes what is left */
            grow = avail;
        if (grow > 0 && grow <= avail)
            h[i] += grow, avail -= grow;
    }
}

static void ov_layout(Overview *o, const TuiRect *body)
{
    int two = body->w >= OV_TWO_COLUMNS;
    const int (*rows)[2] = two ? ov_rows_two : ov_rows_one;
    int nrows = two ? (int) RS_ARRAY_LEN(ov_rows_two) : (int) RS_ARRAY_LEN(ov_rows_one);
    int h[OV_NSEC];
    int pad = body->h > 12; /* a blank line under the title bar when there is room */
    ov_heights(o, rows, nrows, body->h - pad, h);
    int y = body->y + pad, x = body->x + 1, w = body->w - 2;
    int lw = two ? (w - OV_GAP) / 2 : w;
    memset(o->sec, 0, sizeof o->sec);
    for (int i = 0; i < nrows; i++) {
        if (h[i] == 0)
            continue;
        if (rows[i][1] < 0) {
            o->sec[rows[i][0]] = (TuiRect) { y, x, h[i], w };
        } else {
            o->sec[rows[i][0]] = (TuiRect) { y, x, h[i], lw };
            o->sec[rows[i][1]] = (TuiRect) { y, x + lw + OV_GAP, h[i], w - lw - OV_GAP };
        }
        y += h[i] + 1;
    }
}

/* --- the screen ------------------------------------------------------------- */

static void empty_draw(const TuiRect *body)
{
    static const struct { TuiElem e; const char *text; } lines[] = {
        { COL_HEADER, "This database has no interactions yet." },
        { COL_LABEL, "" },
        { COL_LABEL, "Import a dataset with" },
        { COL_VALUE, "    recscope import DB PATH" },
        { COL_LABEL, "" },
        { COL_DIM, "PATH is an interactions CSV file or a folder" },
        { COL_DIM, "holding interactions.csv (and items.csv)." },
    };
    int n = (int) RS_ARRAY_LEN(lines), w = 0;
    for (int i = 0; i < n; i++)
        w = max_i(w, tui_text_width(lines[i].text));
    int x = max_i(0, (body->w - w) / 2), y = max_i(0, (body->h - n) / 2);
    for (int i = 0; i < n; i++)
        tui_put(body, y + i, x, lines[i].e, lines[i].text);
}

static void ov_draw(TuiScreen *s, const TuiRect *body)
{
    Overview *o = (Overview *) s;
    if (o->st.interactions <= 0) {
        empty_draw(body);
        return;
    }
    for (int i = 0; i < OV_NSEC; i++)
        if (o->sec[i].h > 0)
            ov_sections[i].draw(o, &o->sec[i]);
}

static void ov_resize(TuiScreen *s, const TuiRect *body)
{
    ov_layout((Overview *) s, body);
}

static void ov_free(TuiScreen *s)
{
    Overview *o = (Overview *) s;
    if (o) {
        free(o->path);
        free(o);
    }
}

static const TuiKeyTable *const overview_shared[] = { &tui_nav_keys, NULL };

static const TuiScreenClass overview_class = {
    .name = "Overview",
    .shared = overview_shared,
    .kind = TUI_SCREEN_OVERVIEW,
    .draw = ov_draw,
    .resize = ov_resize,
    .free = ov_free,
};

/* Keeps the counts the screen indexes arrays with inside their bounds, in
 * case the cached statistics are damaged. */
static void stats_clamp(StoreStats *st)
{
    st->n_hist = st->n_hist < 0 ? 0 : st->n_hist > STORE_MAX_HIST ? STORE_MAX_HIST : st->n_hist;
    st->n_time = st->n_time < 0 ? 0
               : st->n_time > STORE_TIME_BUCKETS ? STORE_TIME_BUCKETS : st->n_time;
    if (st->timed > 0 && st->ts_max < st->ts_min)
        st->timed = 0;
}

TuiScreen *tui_overview_new(Store *store, const char *path, RsErr *err)
{
    Overview *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(path))) {
        free(o);
        rs_err_set(err, RS_ENOMEM, "out of memory");
        return NULL;
    }
    o->base.cls = &overview_class;
    if (store && store_stats(store, &o->st, err) < 0) {
        ov_free(&o->base);
        return NULL;
    }
    stats_clamp(&o->st);
    return &o->base;
}
