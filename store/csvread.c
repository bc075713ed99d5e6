/*
 * csvread.c - libcsv driven one physical line at a time, so that each row
 * knows the line it started on. Completed rows are queued (a line with bare
 * CRs holds several); the fields of a row still open at the end of a line
 * (a quoted field spanning lines) are kept for the next call.
 */
#include "csvread.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define UNIT_SEP '\x1f' /* stands for "::" */

typedef struct Field {
    size_t off, len;
} Field;

typedef struct Row {
    size_t first, n; /* fields[first .. first + n) */
    long line;
} Row;

struct CsvReader {
    FILE *f;
    char *path;
    struct csv_parser p;
    int parser_ready;
    char sep;
    int double_colon;
    char *line;
    size_t line_cap;
    long lineno;      /* lines read so far */
    long row_start;   /* line on which the row being parsed started */
    int eof;
    int64_t offset, size;
    int64_t end;      /* stop at the first row boundary at or after this byte; -1: none */
    int quoting;
    char *buf;        /* field bytes, each NUL-terminated */
    size_t buf_len, buf_cap;
    Field *fields;
    size_t nfields, fields_cap;
    Row *rows;
    size_t nrows, rows_cap, head; /* rows[head - 1] is the current row */
    size_t done_fields; /* fields belonging to completed rows */
    int oom;
};

static int space_only(unsigned char c) { return c == ' '; }
static int space_or_tab(unsigned char c) { return c == ' ' || c == '\t'; }

static void on_field(void *data, size_t len, void *ctx)
{
    CsvReader *r = ctx;
    if (r->oom)
        return;
    if (r->buf_len + len + 1 > r->buf_cap) {
        size_t nc = (r->buf_cap ? r->buf_cap : 4096);
        while (nc < r->buf_len + len + 1)
            nc *= 2;
        char *nb = realloc(r->buf, nc);
        if (!nb) {
            r->oom = 1;
            return;
        }
        r->buf = nb;
        r->buf_cap = nc;
    }
    if (r->nfields == r->fields_cap) {
        size_t nc = r->fields_cap ? r->fields_cap * 2 : 32;
        Field *nf = realloc(r->fields, nc * sizeof *nf);
        if (!nf) {
            r->oom = 1;
            return;
        }
        r->fields = nf;
        r->fields_cap = nc;
    }
    if (len)
        memcpy(r->buf + r->buf_len, data, len);
    r->buf[r->buf_len + len] = '\0';
    r->fields[r->nfields++] = (Field){r->buf_len, len};
    r->buf_len += len + 1;
}

static void on_row(int c, void *ctx)
{
    (void)c;
    CsvReader *r = ctx;
    if (r->oom)
        return;
    if (r->nrows == r->rows_cap) {
        size_t nc = r->rows_cap ? r->rows_cap * 2 : 8;
        Row *nr = realloc(r->rows, nc * sizeof *nr);
        if (!nr) {
            r->oom = 1;
            return;
        }
        r->rows = nr;
        r->rows_cap = nc;
    }
    r->rows[r->nrows++] = (Row){r->done_fields, r->nfields - r->done_fields, r->row_start};
    r->done_fields = r->nfields;
    r->row_start = r->lineno; /* a row following on the same line starts here */
}

/* Counts the candidate separators of a header line outside quotes. */
static char detect_sep(const char *line, size_t len)
{
    static const char cands[] = {'\t', ',', ';', '|'};
    size_t count[4] = {0};
    int inq = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '"')
            inq = !inq;
        for (int k = 0; k < 4 && !inq; k++)
            count[k] += line[i] == cands[k];
    }
    int best = 1; /* comma when nothing is found */
    for (int k = 0; k < 4; k++)
        if (count[k] > count[best])
            best = k;
    return cands[best];
}

static int read_line(CsvReader *r, ssize_t *len, RsErr *err)
{
    errno = 0;
    *len = getline(&r->line, &r->line_cap, r->f);
    if (*len < 0) {
        if (ferror(r->f))
            return rs_err_set(err, RS_EIO, "%s:%ld: read error: %s", r->path, r->lineno + 1,
                              strerror(errno ? errno : EIO));
        return 0;
    }
    r->lineno++;
    r->offset += *len;
    if ((size_t)*len > CSVR_MAX_LINE)
        return rs_err_set(err, RS_EPARSE, "%s:%ld: line too long (%zd bytes; the limit is %u)",
                          r->path, r->lineno, *len, CSVR_MAX_LINE);
    if (r->lineno == 1 && *len >= 3 && !memcmp(r->line, "\xEF\xBB\xBF", 3)) {
        memmove(r->line, r->line + 3, (size_t)*len - 2);
        *len -= 3;
    }
    if (memchr(r->line, '\0', (size_t)*len))
        return rs_err_set(err, RS_EPARSE, "%s:%ld: contains a NUL byte (is this a binary file?)",
                          r->path, r->lineno);
    if (r->double_colon) {
        size_t w = 0;
        for (ssize_t i = 0; i < *len; i++) {
            if (r->line[i] == ':' && i + 1 < *len && r->line[i + 1] == ':') {
                r->line[w++] = UNIT_SEP;
                i++;
            } else {
                r->line[w++] = r->line[i];
            }
        }
        *len = (ssize_t)w;
    }
    return 1;
}

static int init_parser(CsvReader *r, int quoting)
{
    r->quoting = quoting;
    r->end = -1;
    if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return -1;
    csv_set_delim(&r->p, (unsigned char)r->sep);
    csv_set_space_func(&r->p, r->sep == '\t' ? space_only : space_or_tab);
    if (!quoting)
        csv_set_quote(&r->p, '\0'); /* NUL never reaches the parser */
    r->parser_ready = 1;
    return 0;
}

int csvr_open(CsvReader **out, const char *path, char sep, int quoting, int double_colon,
              RsErr *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return rs_err_set(err, RS_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return rs_err_set(err, RS_EUSAGE, "%s: is a directory, expected a file", path);
    CsvReader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    r->double_colon = double_colon;
    r->size = S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : 0;
    if (!(r->f = fopen(path, "rb"))) {
        int rc = rs_err_set(err, RS_EIO, "%s: %s", path, strerror(errno));
        csvr_close(r);
        return rc;
    }
    r->sep = double_colon ? UNIT_SEP : sep;
    if (!r->sep) {
        /* Peek at the first line, then rewind. */
        ssize_t len;
        int rc = read_line(r, &len, err);
        if (rc < 0) {
            csvr_close(r);
            return rc;
        }
        r->sep = rc ? detect_sep(r->line, (size_t)len) : ',';
        rewind(r->f);
        r->lineno = 0;
        r->offset = 0;
    }
    if (init_parser(r, quoting)) {
        csvr_close(r);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    *out = r;
    return RS_OK;
}

/* Counts the line ends in the first n bytes of f (positioned at 0). */
static int count_lines(CsvReader *r, int64_t n, long *lines, RsErr *err)
{
    char buf[1 << 16];
    *lines = 0;
    while (n > 0) {
        size_t want = n < (int64_t)sizeof buf ? (size_t)n : sizeof buf;
        size_t got = fread(buf, 1, want, r->f);
        if (got == 0)
            return rs_err_set(err, RS_EIO, "%s: read error: %s", r->path,
                              ferror(r->f) ? strerror(errno ? errno : EIO) : "file shrank");
        for (const char *p = buf, *e = buf + got; (p = memchr(p, '\n', (size_t)(e - p))); p++)
            ++*lines;
        n -= (int64_t)got;
    }
    return RS_OK;
}

int csvr_open_at(CsvReader **out, const CsvReader *like, int64_t start, RsErr *err)
{
    CsvReader *r;
    int rc = csvr_open(&r, like->path, like->sep == UNIT_SEP ? 0 : like->sep, like->quoting,
                       like->double_colon, err);
    if (rc)
        return rc;
    r->sep = like->sep;
    long lines;
    if ((rc = count_lines(r, start, &lines, err))) {
        csvr_close(r);
        return rc;
    }
    r->lineno = lines;
    r->row_start = lines;
    r->offset = start; /* the stream is at start: count_lines read up to it */
    *out = r;
    return RS_OK;
}

int csvr_split_point(const CsvReader *r, int64_t *at, RsErr *err)
{
    *at = -1;
    if (r->size <= r->offset + 2)
        return RS_OK;
    FILE *f = fopen(r->path, "rb");
    if (!f)
        return rs_err_set(err, RS_EIO, "%s: %s", r->path, strerror(errno));
    int64_t pos = r->offset + (r->size - r->offset) / 2;
    char buf[1 << 16];
    size_t got = 0;
    if (fseeko(f, (off_t)pos, SEEK_SET) == 0) {
        while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
            const char *nl = memchr(buf, '\n', got);
            if (nl) {
                pos += nl - buf + 1;
                if (pos < r->size)
                    *at = pos;
                break;
            }
            pos += (int64_t)got;
        }
    }
    fclose(f);
    return RS_OK;
}

void csvr_set_end(CsvReader *r, int64_t end) { r->end = end; }
int64_t csvr_end(const CsvReader *r) { return r->end; }

void csvr_close(CsvReader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    if (r->parser_ready)
        csv_free(&r->p);
    free(r->path);
    free(r->line);
    free(r->buf);
    free(r->fields);
    free(r->rows);
    free(r);
}

/* Drops the completed rows and keeps the fields of a row still open. */
static void compact(CsvReader *r)
{
    size_t keep = r->nfields - r->done_fields;
    if (keep && r->done_fields) {
        size_t base = r->fields[r->done_fields].off;
        memmove(r->buf, r->buf + base, r->buf_len - base);
        r->buf_len -= base;
        for (size_t i = 0; i < keep; i++) {
            r->fields[i] = r->fields[r->done_fields + i];
            r->fields[i].off -= base;
        }
    } else if (!keep) {
        r->buf_len = 0;
    }
    r->nfields = keep;
    r->done_fields = 0;
    r->nrows = 0;
    r->head = 0;
}

int csvr_next(CsvReader *r, RsErr *err)
{
    if (r->head < r->nrows) {
        r->head++;
        return 1;
    }
    compact(r);
    while (r->nrows == 0 && !r->eof) {
        if (r->end >= 0 && r->offset >= r->end && r->p.pstate == 0 && r->nfields == 0)
            return 0; /* at a row boundary past the end set: this reader's part is done */
        ssize_t len;
        int rc = read_line(r, &len, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            r->eof = 1;
            if (csv_fini(&r->p, on_field, on_row, r) != 0)
                return rs_err_set(err, RS_EPARSE,
                                  "%s:%ld: unterminated quoted field (the row starts on line %ld)",
                                  r->path, r->lineno, r->row_start);
            break;
        }
        if (r->p.pstate == 0 && r->nfields == r->done_fields)
            r->row_start = r->lineno; /* libcsv is between rows */
        if (csv_parse(&r->p, r->line, (size_t)len, on_field, on_row, r) != (size_t)len)
            return rs_err_set(err, RS_EPARSE, "%s:%ld: malformed quoting (%s)", r->path,
                              r->lineno, csv_strerror(csv_error(&r->p)));
        if (r->oom)
            return rs_err_set(err, RS_ENOMEM, "%s:%ld: out of memory", r->path, r->lineno);
    }
    if (r->oom)
        return rs_err_set(err, RS_ENOMEM, "%s: out of memory", r->path);
    if (r->nrows == 0)
        return 0;
    r->head = 1;
    return 1;
}

static const Field *field_at(const CsvReader *r, size_t i)
{
    const Row *row = &r->rows[r->head - 1];
    return &r->fields[row->first + i];
}

size_t csvr_nfields(const CsvReader *r) { return r->head ? r->rows[r->head - 1].n : 0; }
const char *csvr_field(const CsvReader *r, size_t i) { return r->buf + field_at(r, i)->off; }
size_t csvr_field_len(const CsvReader *r, size_t i) { return field_at(r, i)->len; }
long csvr_line(const CsvReader *r) { return r->head ? r->rows[r->head - 1].line : r->lineno; }
const char *csvr_path(const CsvReader *r) { return r->path; }
char csvr_sep(const CsvReader *r) { return r->sep == UNIT_SEP ? ':' : r->sep; }
int64_t csvr_offset(const CsvReader *r) { return r->offset; }
int64_t csvr_size(const CsvReader *r) { return r->size; }
