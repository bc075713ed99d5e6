/* cli.c - helpers shared by the subcommands: errors, option values, output. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("recscope: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_fail(const RsErr *err)
{
    cli_error("%s", err->msg[0] ? err->msg : rs_strerror(err->code));
    return CLI_ERROR;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("recscope: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "\nTry 'recscope %s --help'.\n", cmd);
    else
        fputs("\nTry 'recscope --help'.\n", stderr);
    return CLI_USAGE;
}

int cli_parse_format(const char *s, OutFormat *out)
{
    if (!strcmp(s, "text"))
        *out = OUT_TEXT;
    else if (!strcmp(s, "tsv"))
        *out = OUT_TSV;
    else if (!strcmp(s, "json"))
        *out = OUT_JSON;
    else
        return -1;
    return 0;
}

int cli_parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void tsv_str(FILE *f, const char *s)
{
    if (!s)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\\': fputs("\\\\", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\x%02x", *p);
            else
                fputc(*p, f);
        }
    }
}

const char *cli_clean(const char *s, char *buf, size_t cap)
{
    if (!s)
        s = "-";
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && w + 1 < cap; p++) {
        if (*p >= 0x80) {
            /* copy a whole UTF-8 sequence or stop */
            size_t n = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 1;
            if (w + n >= cap)
                break;
            for (size_t k = 0; k < n && p[k]; k++)
                buf[w++] = (char)p[k];
            p += n - 1;
            continue;
        }
        buf[w++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
    }
    buf[w] = '\0';
    return buf;
}

int cli_progress(void *ctx, double fraction, const char *phase)
{
    CliProgress *p = ctx;
    double now = rs_now();
    if (now - p->last < 0.25 && fraction < 1.0)
        return 0;
    p->last = now;
    const char *base = strrchr(phase, '/');
    base = base ? base + 1 : phase;
    if (fraction >= 0)
        fprintf(stderr, "\r\033[K%s: %s %3.0f%%", p->what, base, fraction * 100);
    else
        fprintf(stderr, "\r\033[K%s: %s...", p->what, base);
    return 0;
}

void cli_progress_end(CliProgress *p)
{
    (void)p;
    fputs("\r\033[K", stderr);
}
