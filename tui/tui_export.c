/*
 * tui_export.c - CSV / TSV / Markdown export, written atomically (see
 * tui_export.h).
 */
#include "tui_export.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int tui_export_format(const char *path)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!dot || (slash && dot < slash))
        return -1;
    if (strcasecmp(dot, ".csv") == 0)
        return TUI_EXPORT_CSV;
    if (strcasecmp(dot, ".tsv") == 0)
        return TUI_EXPORT_TSV;
    if (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".markdown") == 0)
        return TUI_EXPORT_MD;
    return -1;
}

/* RFC 4180: quoted when it holds a comma, a quote, CR or LF (or starts or
 * ends with a space), quotes doubled. */
static void put_csv(FILE *f, const char *s)
{
    size_t len = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (len && (s[0] == ' ' || s[len - 1] == ' '));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_tsv(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void put_md(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' || *s == '\\')
            fputc('\\', f);
        fputc(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s, f);
    }
}

int tui_export_write_row(FILE *f, int fmt, const char *const *cells, size_t n, int header)
{
    if (fmt == TUI_EXPORT_MD)
        fputs("|", f);
    for (size_t i = 0; i < n; i++) {
        const char *s = cells[i] ? cells[i] : "";
        if (fmt == TUI_EXPORT_CSV) {
            if (i)
                fputc(',', f);
            put_csv(f, s);
        } else if (fmt == TUI_EXPORT_TSV) {
            if (i)
                fputc('\t', f);
            put_tsv(f, s);
        } else {
            fputc(' ', f);
            put_md(f, s);
            fputs(" |", f);
        }
    }
    fputs(fmt == TUI_EXPORT_CSV ? "\r\n" : "\n", f);
    if (fmt == TUI_EXPORT_MD && header) {
        fputs("|", f);
        for (size_t i = 0; i < n; i++)
            fputs(" --- |", f);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

int tui_export_open(TuiExport *x, const char *path, RsErr *err)
{
    memset(x, 0, sizeof *x);
    x->fmt = tui_export_format(path);
    if (x->fmt < 0)
        return rs_err_set(err, RS_EUSAGE, "unknown format: the name must end in .csv, .tsv or .md");
    if (strlen(path) >= sizeof x->path)
        return rs_err_set(err, RS_EUSAGE, "the file name is too long");
    snprintf(x->path, sizeof x->path, "%s", path);
    snprintf(x->tmp, sizeof x->tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(x->tmp);
    if (fd < 0)
        return rs_err_set(err, RS_EIO, "cannot create %s: %s", path, strerror(errno));
    x->f = fdopen(fd, "w");
    if (!x->f) {
        int e = errno;
        close(fd);
        unlink(x->tmp);
        return rs_err_set(err, RS_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

int tui_export_row(TuiExport *x, const char *const *cells, size_t n, int header)
{
    if (tui_export_write_row(x->f, x->fmt, cells, n, header) < 0)
        return RS_EIO;
    x->rows += !header;
    return 0;
}

int tui_export_commit(TuiExport *x, RsErr *err)
{
    int bad = fflush(x->f) != 0 || ferror(x->f) || fsync(fileno(x->f)) != 0;
    int e = errno;
    bad |= fclose(x->f) != 0;
    x->f = NULL;
    /* mkstemp makes the file 0600; an export is for sharing */
    if (!bad) {
        mode_t um = umask(0);
        umask(um);
        chmod(x->tmp, 0666 & ~um);
    }
    if (!bad && rename(x->tmp, x->path) == 0)
        return 0;
    if (!bad)
        e = errno;
    unlink(x->tmp);
    return rs_err_set(err, RS_EIO, "cannot write %s: %s", x->path, strerror(e));
}

void tui_export_abort(TuiExport *x)
{
    if (x->f) {
        fclose(x->f);
        x->f = NULL;
        unlink(x->tmp);
    }
}

void tui_export_default_name(char *buf, size_t n, const char *what)
{
    char name[64];
    size_t o = 0;
    for (const char *p = what && *what ? what : "table"; *p && o + 1 < sizeof name; p++)
        name[o++] = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '-';
    name[o] = '\0';
    snprintf(buf, n, "recscope-%s.csv", name);
}
