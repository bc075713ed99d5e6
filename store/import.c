/*
 * import.c - the file formats: recognising a path, and reading MovieLens,
 * generator and generic CSV files into the staging area (stage.h). The
 * database is written by import_write.c once everything has been read.
 *
 * Every bad field is reported as FILE:LINE: field 'NAME': what was expected,
 * what was found; with skip_bad the row is skipped and counted instead.
 */
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "csvread.h"
#include "import_internal.h"

#define MAX_ID_LEN 256
#define MAX_TEXT_LEN 4096
#define MAX_DESC_LEN 65536

void import_options_default(ImportOptions *o)
{
    memset(o, 0, sizeof *o);
    o->format = IMPORT_AUTO;
    o->encoding = TEXT_UTF8;
    o->split_min_bytes = IMPORT_SPLIT_MIN_BYTES;
}

static const struct {
    const char *name;
    ImportFormat f;
} format_names[] = {
    {"auto", IMPORT_AUTO},         {"ml-100k", IMPORT_ML100K},  {"ml-1m", IMPORT_ML1M},
    {"ml-10m", IMPORT_ML1M},       {"ml-latest", IMPORT_MLLATEST}, {"ml-20m", IMPORT_MLLATEST},
    {"ml-25m", IMPORT_MLLATEST},   {"csv", IMPORT_CSV},
};

int import_parse_format(const char *s, ImportFormat *out)
{
    for (size_t k = 0; k < RS_ARRAY_LEN(format_names); k++)
        if (!strcmp(s, format_names[k].name)) {
            *out = format_names[k].f;
            return 0;
        }
    return -1;
}

const char *import_format_name(ImportFormat f)
{
    for (size_t k = 0; k < RS_ARRAY_LEN(format_names); k++)
        if (format_names[k].f == f)
            return format_names[k].name;
    return "?";
}

/* ---- errors ------------------------------------------------------------ */

/* Reports a bad row. Returns 0 when the row is to be skipped (skip_bad),
 * RS_EPARSE otherwise (im->err filled). */
static int bad_row(Importer *im, const CsvReader *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad_row(Importer *im, const CsvReader *r, const char *fmt, ...)
{
    char msg[RS_ERRLEN - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!im->opt->skip_bad)
        return rs_err_set(im->err, RS_EPARSE, "%s:%ld: %s", csvr_path(r), csvr_line(r), msg);
    ImportReport *rep = im->rep;
    if (rep->n_bad_shown < IMPORT_MAX_BAD_SHOWN) {
        RsErr line;
        rs_err_set(&line, RS_EPARSE, "%s:%ld: %s", csvr_path(r), csvr_line(r), msg);
        char *dst = rep->bad[rep->n_bad_shown++];
        size_t n = strlen(line.msg);
        if (n >= sizeof rep->bad[0])
            n = sizeof rep->bad[0] - 1; /* cut to the report's line length */
        memcpy(dst, line.msg, n);
        dst[n] = '\0';
    }
    rep->skipped++;
    return 0;
}

/* Quotes a field for an error message, cut to a readable length and with
 * control characters escaped. */
static const char *shown(const char *s, size_t len, char *buf, size_t cap)
{
    size_t w = 0;
    buf[w++] = '"';
    for (size_t k = 0; k < len && w + 8 < cap; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x20 || c == 0x7f)
            w += (size_t)snprintf(buf + w, cap - w, "\\x%02x", c);
        else
            buf[w++] = (char)c;
    }
    if (w + 8 >= cap)
        w += (size_t)snprintf(buf + w, cap - w, "...");
    buf[w++] = '"';
    buf[w] = '\0';
    return buf;
}

/* ---- field readers ------------------------------------------------------ */
/* Each returns 1 when the value is good, 0 when the row was reported bad
 * and is to be skipped, or a negative RS_E* code. */

/* Converts field col to a UTF-8 string (malloc'd into *out, NULL when the
 * field is empty and allow_empty). */
static int get_text(Importer *im, const CsvReader *r, size_t col, const char *name,
                    TextEncoding enc, size_t max_len, int allow_empty, char **out)
{
    *out = NULL;
    const char *s = csvr_field(r, col);
    size_t len = csvr_field_len(r, col);
    char buf[96];
    if (len == 0) {
        if (allow_empty)
            return 1;
        int rc = bad_row(im, r, "field '%s': empty", name);
        return rc ? rc : 0;
    }
    if (len > max_len) {
        int rc = bad_row(im, r, "field '%s': too long (%zu bytes; the limit is %zu)", name, len,
                         max_len);
        return rc ? rc : 0;
    }
    size_t bad_at = 0;
    int t = text_to_utf8(s, len, enc, out, &bad_at);
    if (t == -2)
        return rs_err_set(im->err, RS_ENOMEM, "out of memory");
    if (t == -1) {
        int rc = bad_row(im, r,
                         "field '%s': invalid UTF-8 (byte 0x%02x at offset %zu) in %s; if the "
                         "file is latin-1, use --encoding latin1",
                         name, (unsigned char)s[bad_at], bad_at, shown(s, len, buf, sizeof buf));
        return rc ? rc : 0;
    }
    if (t == -3) {
        int rc = bad_row(im, r, "field '%s': contains a NUL byte", name);
        return rc ? rc : 0;
    }
    return 1;
}

/* An external id: non-empty, at most MAX_ID_LEN bytes, digits only when
 * numeric (MovieLens). */
static int get_id(Importer *im, const CsvReader *r, size_t col, const char *name, int numeric,
                  TextEncoding enc, char **out)
{
    char buf[96];
    if (numeric && !text_is_digits(csvr_field(r, col), csvr_field_len(r, col))) {
        int rc = bad_row(im, r, "field '%s': expected a numeric id, got %s", name,
                         shown(csvr_field(r, col), csvr_field_len(r, col), buf, sizeof buf));
        return rc ? rc : 0;
    }
    return get_text(im, r, col, name, enc, MAX_ID_LEN, 0, out);
}

/* get_id without a copy when the field can be used as it is (valid UTF-8
 * or ASCII): *out points into the reader's row, or to *own when converted.
 * The caller frees *own. This is the hot path of every interaction row. */
static int get_id_view(Importer *im, const CsvReader *r, size_t col, const char *name,
                       int numeric, TextEncoding enc, const char **out, char **own)
{
    const char *s = csvr_field(r, col);
    size_t len = csvr_field_len(r, col);
    *own = NULL;
    if (len > 0 && len <= MAX_ID_LEN && enc != TEXT_LATIN1 &&
        (numeric ? text_is_digits(s, len)
                 : text_utf8_invalid_at(s, len) == len && !memchr(s, '\0', len))) {
        *out = s;
        return 1;
    }
    int ok = get_id(im, r, col, name, numeric, enc, own);
    *out = *own;
    return ok;
}

static int get_rating(Importer *im, const CsvReader *r, size_t col, const char *name,
                      float *out)
{
    char buf[96];
    const char *s = csvr_field(r, col);
    double v;
    *out = NAN;
    if (csvr_field_len(r, col) == 0)
        return 1; /* no rating: implicit feedback */
    if (text_parse_double(s, &v) != 0 || fabs(v) > 1e30) {
        int rc = bad_row(im, r, "field '%s': expected a number, got %s", name,
                         shown(s, csvr_field_len(r, col), buf, sizeof buf));
        return rc ? rc : 0;
    }
    *out = (float)v;
    return 1;
}

static int get_ts(Importer *im, const CsvReader *r, size_t col, const char *name, int64_t *out)
{
    char buf[96];
    const char *s = csvr_field(r, col);
    *out = STAGE_NO_TS;
    if (csvr_field_len(r, col) == 0)
        return 1;
    if (text_parse_timestamp(s, out) != 0 || *out == STAGE_NO_TS) {
        int rc = bad_row(im, r,
                         "field '%s': expected Unix seconds or an ISO-8601 date, got %s", name,
                         shown(s, csvr_field_len(r, col), buf, sizeof buf));
        return rc ? rc : 0;
    }
    return 1;
}

/* Checks that the row has at least need fields. */
static int check_width(Importer *im, const CsvReader *r, size_t need)
{
    size_t n = csvr_nfields(r);
    if (n >= need)
        return 1;
    char sep = csvr_sep(r);
    int rc = bad_row(im, r, "expected %zu fields separated by '%s', got %zu (truncated row?)",
                     need, sep == '\t' ? "\\t" : sep == ':' ? "::" : (char[]){sep, 0}, n);
    return rc ? rc : 0;
}

static int progress(Importer *im, const CsvReader *r)
{
    if (++im->tick & 0x3FFF)
        return RS_OK;
    if (im->stop && atomic_load_explicit(im->stop, memory_order_relaxed))
        return RS_ECANCEL; /* the other half failed: its error is the one reported */
    if (!im->opt->progress)
        return RS_OK;
    /* A file split in two: this thread's half is as far as the other's. */
    int64_t total = csvr_end(r) > 0 ? csvr_end(r) : csvr_size(r);
    double f = total ? (double)csvr_offset(r) / (double)total : -1;
    if (im->opt->progress(im->opt->progress_ctx, f, csvr_path(r)))
        return rs_err_set(im->err, RS_ECANCEL, "import cancelled");
    return RS_OK;
}

/* ---- interactions ------------------------------------------------------ */

typedef struct RowSpec {
    long user, item, rating, time;    /* column indices, -1 absent */
    const char *nuser, *nitem, *nrating, *ntime; /* names for messages */
    int numeric_ids;
    TextEncoding enc;
} RowSpec;

static size_t spec_width(const RowSpec *sp)
{
    long m = sp->user > sp->item ? sp->user : sp->item;
    if (sp->rating > m)
        m = sp->rating;
    if (sp->time > m)
        m = sp->time;
    return (size_t)m + 1;
}

/* Reads one interaction row. Returns 1 (row added), 0 (skipped) or < 0. */
static int read_interaction(Importer *im, const CsvReader *r, const RowSpec *sp)
{
    const char *u = NULL, *i = NULL;
    char *own_u = NULL, *own_i = NULL;
    float rating = NAN;
    int64_t ts = STAGE_NO_TS;
    int ok = check_width(im, r, spec_width(sp));
    if (ok == 1)
        ok = get_id_view(im, r, (size_t)sp->user, sp->nuser, sp->numeric_ids, sp->enc, &u,
                         &own_u);
    if (ok == 1)
        ok = get_id_view(im, r, (size_t)sp->item, sp->nitem, sp->numeric_ids, sp->enc, &i,
                         &own_i);
    if (ok == 1 && sp->rating >= 0)
        ok = get_rating(im, r, (size_t)sp->rating, sp->nrating, &rating);
    if (ok == 1 && sp->time >= 0)
        ok = get_ts(im, r, (size_t)sp->time, sp->ntime, &ts);
    if (ok == 1) {
        uint32_t ui, ii;
        if (stage_user(&im->st, u, &ui) || stage_item(&im->st, i, &ii) ||
            stage_add_row(&im->st, ui, ii, rating, ts))
            ok = rs_err_set(im->err, RS_ENOMEM, "out of memory");
    }
    free(own_u);
    free(own_i);
    return ok;
}

static int read_rows(Importer *im, CsvReader *r, const RowSpec *sp)
{
    int rc;
    while ((rc = csvr_next(r, im->err)) == 1) {
        if ((rc = read_interaction(im, r, sp)) < 0)
            return rc;
        im->rep->rows_read += rc;
        if ((rc = progress(im, r)))
            return rc;
    }
    return rc;
}

/* The second half of a file split in two (see read_interactions), read on
 * its own thread into its own stage and report. */
typedef struct Half {
    Importer im;
    ImportOptions opt;
    ImportReport rep;
    RsErr err;
    const CsvReader *like; /* the first half's reader: its settings */
    CsvReader *r;
    const RowSpec *sp;
    atomic_int stop;
    int64_t at; /* where the second half starts */
    int rc;
} Half;

static void *half_main(void *arg)
{
    Half *h = arg;
    h->rc = csvr_open_at(&h->r, h->like, h->at, &h->err);
    if (!h->rc)
        h->rc = read_rows(&h->im, h->r, h->sp);
    return NULL;
}

/* Adds what the second half read after what the first did: its users and
 * items in first-seen order, then its rows, so the stage is exactly what
 * one pass over the file would have made. */
static int merge_half(Importer *im, Half *h)
{
    Stage *a = &im->st, *b = &h->im.st;
    uint32_t *umap = malloc((b->nusers + 1) * sizeof *umap);
    uint32_t *imap = malloc((b->nitems + 1) * sizeof *imap);
    int rc = umap && imap ? stage_reserve_rows(a, a->nrows + b->nrows) : RS_ENOMEM;
    for (size_t k = 0; !rc && k < b->nusers; k++)
        rc = stage_user(a, b->users[k].ext, &umap[k]);
    for (size_t k = 0; !rc && k < b->nitems; k++)
        rc = stage_item(a, b->items[k].ext, &imap[k]);
    for (size_t k = 0; !rc && k < b->nrows; k++) {
        const StageRow *row = &b->rows[k];
        rc = stage_add_row(a, umap[row->u], imap[row->i], row->rating, row->ts);
    }
    free(umap);
    free(imap);
    if (rc)
        return rs_err_set(im->err, RS_ENOMEM, "out of memory");
    ImportReport *rep = im->rep;
    rep->rows_read += h->rep.rows_read;
    rep->skipped += h->rep.skipped;
    for (int k = 0; k < h->rep.n_bad_shown && rep->n_bad_shown < IMPORT_MAX_BAD_SHOWN; k++)
        memcpy(rep->bad[rep->n_bad_shown++], h->rep.bad[k], sizeof rep->bad[0]);
    return RS_OK;
}

/* Starts reading the second half of r's file on a thread when the file is
 * large enough and can be split; 1 when started, 0 when not. */
static int start_half(Importer *im, CsvReader *r, const RowSpec *sp, Half *h, pthread_t *tid)
{
    int64_t at;
    RsErr ignored;
    if (im->opt->split_min_bytes <= 0 ||
        csvr_size(r) - csvr_offset(r) <= im->opt->split_min_bytes ||
        csvr_split_point(r, &at, &ignored) || at < 0)
        return 0;
    memset(h, 0, sizeof *h);
    h->opt = *im->opt;
    h->opt.progress = NULL;
    h->im = (Importer){.opt = &h->opt, .rep = &h->rep, .err = &h->err, .stop = &h->stop};
    h->sp = sp;
    atomic_init(&h->stop, 0);
    stage_init(&h->im.st);
    h->like = r;
    h->at = at;
    csvr_set_end(r, at); /* before the thread starts: it reads r's settings */
    if (pthread_create(tid, NULL, half_main, h)) {
        csvr_set_end(r, -1);
        return 0;
    }
    return 1;
}

/* Reads every row of r. A large file is read in two halves on two threads
 * (the second into a stage of its own, merged after), which gives the same
 * rows, users, items, errors and report as one pass: an error in the first
 * half is the one a single pass would meet first; and when a quoted field
 * spans the split, the second half is thrown away and the first reads on. */
static int read_interactions(Importer *im, CsvReader *r, const RowSpec *sp)
{
    int64_t before = im->rep->rows_read + im->rep->skipped;
    Half h;
    pthread_t tid;
    int split = start_half(im, r, sp, &h, &tid);
    int rc = read_rows(im, r, sp);
    if (split) {
        if (rc)
            atomic_store(&h.stop, 1);
        pthread_join(tid, NULL);
        if (!rc && h.r && csvr_offset(r) == h.at) { /* the halves meet at a row boundary */
            if (h.rc < 0) {
                rc = h.rc;
                if (im->err)
                    *im->err = h.err;
                im->rep->rows_read += h.rep.rows_read; /* as far as one pass would get */
                im->rep->skipped += h.rep.skipped;
            } else {
                rc = merge_half(im, &h);
            }
        } else if (!rc) { /* a quoted field spans the split (or the second half
                             could not open the file): read on alone */
            csvr_set_end(r, -1);
            rc = read_rows(im, r, sp);
        }
        csvr_close(h.r);
        stage_done(&h.im.st);
    }
    if (rc < 0)
        return rc;
    if (im->rep->rows_read + im->rep->skipped == before)
        return rs_err_set(im->err, RS_EPARSE, "%s: no interactions in the file%s",
                          csvr_path(r), csvr_line(r) <= 1 ? " (empty, or a header only)" : "");
    return RS_OK;
}

/* Finds a header column by any of the comma-separated names in cands
 * (case-insensitive); -1 when absent. */
static long find_col(const CsvReader *r, const char *cands)
{
    char name[64];
    const char *p = cands;
    while (*p) {
        size_t n = strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        for (size_t k = 0; k < csvr_nfields(r); k++)
            if (!strcasecmp(csvr_field(r, k), name))
                return (long)k;
        p += n + (p[n] == ',');
    }
    return -1;
}

static void header_list(const CsvReader *r, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < csvr_nfields(r) && w + 4 < cap; k++)
        w += (size_t)snprintf(buf + w, cap - w, "%s\"%s\"", k ? ", " : "", csvr_field(r, k));
}

/* Reads the header; a missing column named by the user or a required one is
 * an error listing the columns found. */
static int header_col(Importer *im, const CsvReader *r, const char *user_name,
                      const char *cands, const char *what, int required, long *col)
{
    char found[256];
    *col = find_col(r, user_name ? user_name : cands);
    if (*col >= 0 || (!required && !user_name))
        return RS_OK;
    header_list(r, found, sizeof found);
    char sep = csvr_sep(r);
    return rs_err_set(im->err, RS_EPARSE,
                      "%s:%ld: no %s column%s%s%s in the header (found %s; separator '%s'); "
                      "name it with --columns %s=NAME, or set the separator with --sep",
                      csvr_path(r), csvr_line(r), what, user_name ? " named \"" : "",
                      user_name ? user_name : "", user_name ? "\"" : "", found,
                      sep == '\t' ? "\\t" : (char[]){sep, 0}, what);
}

static int open_header(Importer *im, const char *path, char sep, CsvReader **r)
{
    int rc = csvr_open(r, path, sep, 1, 0, im->err);
    if (rc)
        return rc;
    rc = csvr_next(*r, im->err);
    if (rc == 0)
        rc = rs_err_set(im->err, RS_EPARSE, "%s: empty file (expected a header line)", path);
    if (rc < 0) {
        csvr_close(*r);
        *r = NULL;
        return rc;
    }
    return RS_OK;
}

#define USER_COLS "user,user_id,userid,user id,uid"
#define ITEM_COLS "item,item_id,itemid,item id,movieid,movie_id,iid"
#define RATING_COLS "rating,ratings,score,value"
#define TIME_COLS "timestamp,time,ts,date,datetime"

static int import_csv_interactions(Importer *im, const char *path)
{
    CsvReader *r;
    const ImportOptions *o = im->opt;
    int rc = open_header(im, path, o->sep, &r);
    if (rc)
        return rc;
    RowSpec sp = {.enc = o->encoding, .nuser = "user", .nitem = "item", .nrating = "rating",
                  .ntime = "timestamp"};
    if (!(rc = header_col(im, r, o->col_user, USER_COLS, "user", 1, &sp.user)) &&
        !(rc = header_col(im, r, o->col_item, ITEM_COLS, "item", 1, &sp.item)) &&
        !(rc = header_col(im, r, o->col_rating, RATING_COLS, "rating", 0, &sp.rating)) &&
        !(rc = header_col(im, r, o->col_time, TIME_COLS, "time", 0, &sp.time))) {
        sp.nuser = csvr_field(r, (size_t)sp.user);
        /* Names are copied: the header row's storage is reused. */
        char nu[64], ni[64], nr[64], nt[64];
        snprintf(nu, sizeof nu, "%s", csvr_field(r, (size_t)sp.user));
        snprintf(ni, sizeof ni, "%s", csvr_field(r, (size_t)sp.item));
        snprintf(nr, sizeof nr, "%s", sp.rating >= 0 ? csvr_field(r, (size_t)sp.rating) : "");
        snprintf(nt, sizeof nt, "%s", sp.time >= 0 ? csvr_field(r, (size_t)sp.time) : "");
        sp.nuser = nu, sp.nitem = ni, sp.nrating = nr, sp.ntime = nt;
        rc = read_interactions(im, r, &sp);
    }
    csvr_close(r);
    return rc;
}

/* ---- item and user metadata ---------------------------------------------- */

/* Appends the tag to the '|'-separated list *tags unless already there. */
static int add_tag(char **tags, const char *tag)
{
    size_t tl = strlen(tag);
    if (!tl || strchr(tag, '|'))
        return 0;
    if (*tags) {
        const char *p = *tags;
        size_t count = 1;
        while (*p) {
            size_t n = strcspn(p, "|");
            if (n == tl && !strncasecmp(p, tag, n))
                return 0;
            p += n + (p[n] == '|');
            count++;
        }
        if (count > 50 || strlen(*tags) + tl + 2 > MAX_TEXT_LEN)
            return 0; /* enough tags for one item */
    }
    size_t old = *tags ? strlen(*tags) : 0;
    char *n = realloc(*tags, old + tl + 2);
    if (!n)
        return -1;
    if (old)
        n[old++] = '|';
    memcpy(n + old, tag, tl + 1);
    *tags = n;
    return 0;
}

typedef struct ItemSpec {
    long id, title, year, genres, tags, description;
    int numeric_ids;
    TextEncoding enc;
    int release_date; /* year column holds dd-Mon-yyyy (ML-100K) */
} ItemSpec;

static int parse_year(const char *s, int release_date)
{
    int64_t y;
    if (release_date) {
        size_t n = strlen(s);
        return n >= 4 && text_parse_int64(s + n - 4, &y) == 0 ? (int)y : 0;
    }
    if (text_parse_int64(s, &y) == 0 && y > 0 && y < 10000)
        return (int)y;
    return -1;
}

/* Reads one item row into the staging area. */
static int read_item(Importer *im, const CsvReader *r, const ItemSpec *sp)
{
    char *id = NULL, *title = NULL, *genres = NULL, *tags = NULL, *desc = NULL, *year = NULL;
    long need = sp->id;
    const long cols[] = {sp->title, sp->year, sp->genres, sp->tags, sp->description};
    for (size_t k = 0; k < RS_ARRAY_LEN(cols); k++)
        if (cols[k] > need)
            need = cols[k];
    int ok = check_width(im, r, (size_t)need + 1);
    if (ok == 1)
        ok = get_id(im, r, (size_t)sp->id, "item", sp->numeric_ids, sp->enc, &id);
    if (ok == 1 && sp->title >= 0)
        ok = get_text(im, r, (size_t)sp->title, "title", sp->enc, MAX_TEXT_LEN, 1, &title);
    if (ok == 1 && sp->year >= 0)
        ok = get_text(im, r, (size_t)sp->year, "year", sp->enc, 64, 1, &year);
    if (ok == 1 && sp->genres >= 0)
        ok = get_text(im, r, (size_t)sp->genres, "genres", sp->enc, MAX_TEXT_LEN, 1, &genres);
    if (ok == 1 && sp->tags >= 0)
        ok = get_text(im, r, (size_t)sp->tags, "tags", sp->enc, MAX_TEXT_LEN, 1, &tags);
    if (ok == 1 && sp->description >= 0)
        ok = get_text(im, r, (size_t)sp->description, "description", sp->enc, MAX_DESC_LEN, 1,
                      &desc);
    int y = 0;
    if (ok == 1 && year && (y = parse_year(year, sp->release_date)) < 0) {
        char buf[96];
        ok = bad_row(im, r, "field 'year': expected a year, got %s",
                     shown(year, strlen(year), buf, sizeof buf));
        ok = ok ? ok : 0;
    }
    if (ok == 1) {
        uint32_t idx;
        if (stage_item(&im->st, id, &idx)) {
            ok = rs_err_set(im->err, RS_ENOMEM, "out of memory");
        } else {
            StageItem *it = &im->st.items[idx];
            if (genres && !strcmp(genres, "(no genres listed)")) {
                free(genres);
                genres = NULL;
            }
            int ty = text_title_year(title);
            if (ty || y)
                it->year = ty ? ty : y;
            stage_set_text(&it->title, title);
            stage_set_text(&it->genres, genres);
            stage_set_text(&it->tags, tags);
            stage_set_text(&it->description, desc);
            title = genres = tags = desc = NULL;
        }
    }
    free(id);
    free(title);
    free(genres);
    free(tags);
    free(desc);
    free(year);
    return ok;
}

static int read_items(Importer *im, CsvReader *r, const ItemSpec *sp)
{
    int rc;
    while ((rc = csvr_next(r, im->err)) == 1)
        if ((rc = read_item(im, r, sp)) < 0 || (rc = progress(im, r)))
            return rc;
    return rc;
}

static int import_csv_items(Importer *im, const char *path, char sep)
{
    CsvReader *r;
    int rc = open_header(im, path, sep, &r);
    if (rc)
        return rc;
    ItemSpec sp = {.enc = im->opt->encoding};
    rc = header_col(im, r, NULL, ITEM_COLS ",id", "item id", 1, &sp.id);
    if (!rc) {
        sp.title = find_col(r, "title,name");
        sp.year = find_col(r, "year");
        sp.genres = find_col(r, "genres,genre");
        sp.tags = find_col(r, "tags,tag");
        sp.description = find_col(r, "description,overview,plot");
        rc = read_items(im, r, &sp);
    }
    csvr_close(r);
    return rc;
}

typedef struct UserSpec {
    long id, age, gender, occupation, zip;
    int numeric_ids;
    TextEncoding enc;
    const char *const *occupation_names; /* ML-1M codes, or NULL */
    size_t n_occupation_names;
} UserSpec;

static int read_user(Importer *im, const CsvReader *r, const UserSpec *sp)
{
    char *id = NULL, *age = NULL, *gender = NULL, *occ = NULL, *zip = NULL;
    long need = sp->id;
    const long cols[] = {sp->age, sp->gender, sp->occupation, sp->zip};
    for (size_t k = 0; k < RS_ARRAY_LEN(cols); k++)
        if (cols[k] > need)
            need = cols[k];
    int ok = check_width(im, r, (size_t)need + 1);
    if (ok == 1)
        ok = get_id(im, r, (size_t)sp->id, "user", sp->numeric_ids, sp->enc, &id);
    if (ok == 1 && sp->age >= 0)
        ok = get_text(im, r, (size_t)sp->age, "age", sp->enc, 64, 1, &age);
    if (ok == 1 && sp->gender >= 0)
        ok = get_text(im, r, (size_t)sp->gender, "gender", sp->enc, MAX_ID_LEN, 1, &gender);
    if (ok == 1 && sp->occupation >= 0)
        ok = get_text(im, r, (size_t)sp->occupation, "occupation", sp->enc, MAX_ID_LEN, 1, &occ);
    if (ok == 1 && sp->zip >= 0)
        ok = get_text(im, r, (size_t)sp->zip, "zip", sp->enc, MAX_ID_LEN, 1, &zip);
    int64_t a = -1;
    if (ok == 1 && age && (text_parse_int64(age, &a) != 0 || a < 0 || a > 200)) {
        char buf[96];
        ok = bad_row(im, r, "field 'age': expected an age in years, got %s",
                     shown(age, strlen(age), buf, sizeof buf));
        ok = ok ? ok : 0;
    }
    if (ok == 1 && occ && sp->occupation_names) {
        int64_t code;
        if (text_parse_int64(occ, &code) == 0 && code >= 0 &&
            (size_t)code < sp->n_occupation_names) {
            char *name = strdup(sp->occupation_names[code]);
            if (!name)
                ok = rs_err_set(im->err, RS_ENOMEM, "out of memory");
            free(occ);
            occ = name;
        }
    }
    if (ok == 1) {
        uint32_t idx;
        if (stage_user(&im->st, id, &idx)) {
            ok = rs_err_set(im->err, RS_ENOMEM, "out of memory");
        } else {
            StageUser *u = &im->st.users[idx];
            if (a >= 0)
                u->age = (int)a;
            stage_set_text(&u->gender, gender);
            stage_set_text(&u->occupation, occ);
            stage_set_text(&u->zip, zip);
            gender = occ = zip = NULL;
        }
    }
    free(id);
    free(age);
    free(gender);
    free(occ);
    free(zip);
    return ok;
}

static int read_users(Importer *im, CsvReader *r, const UserSpec *sp)
{
    int rc;
    while ((rc = csvr_next(r, im->err)) == 1)
        if ((rc = read_user(im, r, sp)) < 0 || (rc = progress(im, r)))
            return rc;
    return rc;
}

static int import_csv_users(Importer *im, const char *path, char sep)
{
    CsvReader *r;
    int rc = open_header(im, path, sep, &r);
    if (rc)
        return rc;
    UserSpec sp = {.enc = im->opt->encoding};
    rc = header_col(im, r, NULL, USER_COLS ",id", "user id", 1, &sp.id);
    if (!rc) {
        sp.age = find_col(r, "age");
        sp.gender = find_col(r, "gender,sex");
        sp.occupation = find_col(r, "occupation,job");
        sp.zip = find_col(r, "zip,zip_code,zipcode,postcode");
        rc = read_users(im, r, &sp);
    }
    csvr_close(r);
    return rc;
}

/* Reads userId,movieId,tag[,timestamp] rows into the items' tag lists. */
static int read_tags(Importer *im, CsvReader *r, int header, TextEncoding enc)
{
    int rc;
    long item = 1, tag = 2;
    if (header) {
        if ((rc = csvr_next(r, im->err)) <= 0)
            return rc;
        item = find_col(r, ITEM_COLS);
        tag = find_col(r, "tag");
        if (item < 0 || tag < 0)
            return rs_err_set(im->err, RS_EPARSE, "%s:1: expected movieId and tag columns",
                              csvr_path(r));
    }
    size_t need = (size_t)(item > tag ? item : tag) + 1;
    while ((rc = csvr_next(r, im->err)) == 1) {
        char *id = NULL, *t = NULL;
        int ok = check_width(im, r, need);
        if (ok == 1)
            ok = get_id(im, r, (size_t)item, "movieId", 1, enc, &id);
        if (ok == 1)
            ok = get_text(im, r, (size_t)tag, "tag", enc, MAX_ID_LEN, 1, &t);
        uint32_t idx;
        if (ok == 1 && t && stage_item(&im->st, id, &idx) == RS_OK) {
            for (char *p = t; *p; p++)
                if (*p == '|')
                    *p = ' ';
            if (add_tag(&im->st.items[idx].tags, t))
                ok = rs_err_set(im->err, RS_ENOMEM, "out of memory");
        }
        free(id);
        free(t);
        if (ok < 0)
            return ok;
        if ((rc = progress(im, r)))
            return rc;
    }
    return rc;
}

/* ---- MovieLens ----------------------------------------------------------- */

static const char *const ml100k_genres[19] = {
    "unknown", "Action",  "Adventure", "Animation", "Children's", "Comedy",   "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",    "Musical",  "Mystery",
    "Romance", "Sci-Fi",   "Thriller",  "War",       "Western"};

static const char *const ml1m_occupations[21] = {
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer"};

static int exists_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void join(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] != '/' ? "/" : "", name);
}

/* Reads u.item: id|title|release date|video release date|URL|19 genre flags. */
static int ml100k_items(Importer *im, const char *path)
{
    CsvReader *r;
    int rc = csvr_open(&r, path, '|', 0, 0, im->err);
    if (rc)
        return rc;
    ItemSpec sp = {.id = 0, .title = 1, .year = 2, .genres = -1, .tags = -1,
                   .description = -1, .numeric_ids = 1, .enc = TEXT_LATIN1, .release_date = 1};
    while ((rc = csvr_next(r, im->err)) == 1) {
        int ok = read_item(im, r, &sp);
        if (ok < 0) {
            rc = ok;
            break;
        }
        if (ok == 0 || csvr_nfields(r) < 24)
            continue;
        char genres[256] = "";
        size_t w = 0;
        for (size_t g = 0; g < 19; g++)
            if (csvr_field(r, 5 + g)[0] == '1')
                w += (size_t)snprintf(genres + w, sizeof genres - w, "%s%s", w ? "|" : "",
                                      ml100k_genres[g]);
        uint32_t idx;
        if (w && stage_find_item(&im->st, csvr_field(r, 0), &idx)) {
            char *g = strdup(genres);
            if (!g) {
                rc = rs_err_set(im->err, RS_ENOMEM, "out of memory");
                break;
            }
            stage_set_text(&im->st.items[idx].genres, g);
        }
    }
    csvr_close(r);
    return rc;
}

static int import_ml100k(Importer *im, const char *path)
{
    char dir[4096], p[4200];
    const char *ratings = path;
    if (is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        join(p, sizeof p, dir, "u.data");
        ratings = p;
    } else {
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    }
    char side[4200];
    int rc;
    join(side, sizeof side, dir, "u.user");
    UserSpec us = {.id = 0, .age = 1, .gender = 2, .occupation = 3, .zip = 4,
                   .numeric_ids = 1, .enc = TEXT_LATIN1};
    if (exists_file(side)) {
        CsvReader *r;
        if ((rc = csvr_open(&r, side, '|', 0, 0, im->err)))
            return rc;
        rc = read_users(im, r, &us);
        csvr_close(r);
        if (rc)
            return rc;
    }
    join(side, sizeof side, dir, "u.item");
    if (exists_file(side) && (rc = ml100k_items(im, side)))
        return rc;
    CsvReader *r;
    if ((rc = csvr_open(&r, ratings, '\t', 0, 0, im->err)))
        return rc;
    RowSpec sp = {0, 1, 2, 3, "user", "item", "rating", "timestamp", 1, TEXT_UTF8};
    rc = read_interactions(im, r, &sp);
    csvr_close(r);
    return rc;
}

static int import_ml1m(Importer *im, const char *path)
{
    char dir[4096], p[4200], side[4200];
    const char *ratings = path;
    if (is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        join(p, sizeof p, dir, "ratings.dat");
        ratings = p;
    } else {
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    }
    CsvReader *r;
    int rc;
    join(side, sizeof side, dir, "users.dat");
    if (exists_file(side)) {
        UserSpec us = {.id = 0, .gender = 1, .age = 2, .occupation = 3, .zip = 4,
                       .numeric_ids = 1, .enc = TEXT_AUTO, .occupation_names = ml1m_occupations,
                       .n_occupation_names = RS_ARRAY_LEN(ml1m_occupations)};
        if ((rc = csvr_open(&r, side, 0, 0, 1, im->err)))
            return rc;
        rc = read_users(im, r, &us);
        csvr_close(r);
        if (rc)
            return rc;
    }
    join(side, sizeof side, dir, "movies.dat");
    if (exists_file(side)) {
        ItemSpec is = {.id = 0, .title = 1, .genres = 2, .year = -1, .tags = -1,
                       .description = -1, .numeric_ids = 1, .enc = TEXT_AUTO};
        if ((rc = csvr_open(&r, side, 0, 0, 1, im->err)))
            return rc;
        rc = read_items(im, r, &is);
        csvr_close(r);
        if (rc)
            return rc;
    }
    join(side, sizeof side, dir, "tags.dat");
    if (exists_file(side)) {
        if ((rc = csvr_open(&r, side, 0, 0, 1, im->err)))
            return rc;
        rc = read_tags(im, r, 0, TEXT_AUTO);
        csvr_close(r);
        if (rc)
            return rc;
    }
    if ((rc = csvr_open(&r, ratings, 0, 0, 1, im->err)))
        return rc;
    RowSpec sp = {0, 1, 2, 3, "user", "item", "rating", "timestamp", 1, TEXT_UTF8};
    rc = read_interactions(im, r, &sp);
    csvr_close(r);
    return rc;
}

/* MovieLens latest/20M/25M and the generator's output share one shape: a
 * headed interactions file plus optional items, users and tags files. */
static int import_headed_dir(Importer *im, const char *dir, const char *inter,
                             const char *items, const char *users, const char *tags)
{
    char p[4200];
    int rc;
    join(p, sizeof p, dir, users);
    if (exists_file(p) && (rc = import_csv_users(im, p, ',')))
        return rc;
    join(p, sizeof p, dir, items);
    if (exists_file(p) && (rc = import_csv_items(im, p, ',')))
        return rc;
    join(p, sizeof p, dir, tags);
    if (exists_file(p)) {
        CsvReader *r;
        if ((rc = csvr_open(&r, p, ',', 1, 0, im->err)))
            return rc;
        rc = read_tags(im, r, 1, TEXT_AUTO);
        csvr_close(r);
        if (rc)
            return rc;
    }
    join(p, sizeof p, dir, inter);
    return import_csv_interactions(im, p);
}

/* ---- recognising a path -------------------------------------------------- */

static int has(const char *dir, const char *name)
{
    char p[4200];
    join(p, sizeof p, dir, name);
    return exists_file(p);
}

static ImportFormat detect(const char *path, int *generator)
{
    *generator = 0;
    if (is_dir(path)) {
        if (has(path, "u.data"))
            return IMPORT_ML100K;
        if (has(path, "ratings.dat"))
            return IMPORT_ML1M;
        if (has(path, "ratings.csv"))
            return IMPORT_MLLATEST;
        if (has(path, "interactions.csv")) {
            *generator = 1;
            return IMPORT_CSV;
        }
        return IMPORT_AUTO;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (!strcmp(base, "u.data") ||
        (base[0] == 'u' && n >= 6 && (!strcmp(base + n - 5, ".base") ||
                                      !strcmp(base + n - 5, ".test"))))
        return IMPORT_ML100K;
    if (!strcmp(base, "ratings.dat"))
        return IMPORT_ML1M;
    return IMPORT_CSV;
}

int import_path(Importer *im, const char *path)
{
    int generator = 0;
    ImportFormat f = im->opt->format;
    ImportFormat seen = detect(path, &generator);
    if (f == IMPORT_AUTO)
        f = seen;
    const char *name = generator ? "recscope-generated" : import_format_name(f);
    if (!strstr(im->rep->formats, name)) {
        size_t w = strlen(im->rep->formats);
        snprintf(im->rep->formats + w, sizeof im->rep->formats - w, "%s%s", w ? "+" : "", name);
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return rs_err_set(im->err, RS_EIO, "%s: %s", path, strerror(errno));
    int dir = S_ISDIR(sb.st_mode);
    switch (f) {
    case IMPORT_ML100K:
        if (dir && !has(path, "u.data"))
            break;
        return import_ml100k(im, path);
    case IMPORT_ML1M:
        if (dir && !has(path, "ratings.dat"))
            break;
        return import_ml1m(im, path);
    case IMPORT_MLLATEST:
        if (dir) {
            if (!has(path, "ratings.csv"))
                break;
            return import_headed_dir(im, path, "ratings.csv", "movies.csv", "users.csv",
                                     "tags.csv");
        }
        return import_csv_interactions(im, path);
    case IMPORT_CSV:
        if (dir) {
            if (!has(path, "interactions.csv"))
                break;
            return import_headed_dir(im, path, "interactions.csv", "items.csv", "users.csv",
                                     "tags.csv");
        }
        return import_csv_interactions(im, path);
    case IMPORT_AUTO:
        break;
    }
    return rs_err_set(im->err, RS_EUSAGE,
                      "%s: is a directory with no recognised dataset (expected u.data, "
                      "ratings.dat, ratings.csv or interactions.csv%s%s)",
                      path, im->opt->format != IMPORT_AUTO ? " for --format " : "",
                      im->opt->format != IMPORT_AUTO ? import_format_name(im->opt->format) : "");
}

int import_side_files(Importer *im)
{
    int rc = RS_OK;
    if (im->opt->users_file)
        rc = import_csv_users(im, im->opt->users_file, 0);
    if (!rc && im->opt->items_file)
        rc = import_csv_items(im, im->opt->items_file, 0);
    return rc;
}
