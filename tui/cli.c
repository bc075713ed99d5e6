/* cli.c - helpers shared by the subcommands: errors, option values, output. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Writes "recscope: " and the message to stderr with control characters
 * replaced (a message may quote an id or a field from a file). */
static void error_v(const char *fmt, va_list ap)
{
    char msg[2048], clean[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "recscope: %s", cli_clean(msg, clean, sizeof clean));
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_v(fmt, ap);
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
    va_start(ap, fmt);
    error_v(fmt, ap);
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

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when p does not
 * start one (a stray continuation byte, an overlong form, a surrogate, a
 * code point above U+10FFFF, a sequence cut short by the end). */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (!n || p[0] > 0xF4)
        return 0;
    for (size_t k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80) /* the NUL terminator fails this too */
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

const char *cli_clean(const char *s, char *buf, size_t cap)
{
    if (!s)
        s = "-";
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && w + 1 < cap;) {
        if (*p < 0x80) {
            buf[w++] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
            p++;
            continue;
        }
        size_t n = utf8_len(p);
        /* invalid bytes and the C1 controls U+0080..U+009F (CSI, OSC, ...
         * to some terminals) become '?' */
        if (!n || (p[0] == 0xC2 && p[1] < 0xA0)) {
            buf[w++] = '?';
            p += n ? n : 1;
            continue;
        }
        if (w + n >= cap)
            break;
        memcpy(buf + w, p, n);
        w += n;
        p += n;
    }
    if (cap)
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
