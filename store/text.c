/* text.c - encodings, numbers and timestamps for the importers. */
#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t text_utf8_invalid_at(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (i + need >= len)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return len;
}

int text_to_utf8(const char *s, size_t len, TextEncoding enc, char **out, size_t *bad_at)
{
    *out = NULL;
    if (memchr(s, '\0', len))
        return -3;
    size_t bad = enc == TEXT_LATIN1 ? 0 : text_utf8_invalid_at(s, len);
    int convert = enc == TEXT_LATIN1 || (enc == TEXT_AUTO && bad < len);
    if (enc == TEXT_UTF8 && bad < len) {
        if (bad_at)
            *bad_at = bad;
        return -1;
    }
    if (!convert) {
        char *r = malloc(len + 1);
        if (!r)
            return -2;
        memcpy(r, s, len);
        r[len] = '\0';
        *out = r;
        return 0;
    }
    char *r = malloc(2 * len + 1), *p = r;
    if (!r)
        return -2;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *p++ = (char)c;
        } else {
            *p++ = (char)(0xC0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *p = '\0';
    *out = r;
    return 0;
}

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int only_blanks(const char *s) { return *skip_blanks(s) == '\0'; }

int text_parse_double(const char *s, double *out)
{
    s = skip_blanks(s);
    if (!*s)
        return -1;
    /* Refuse hex floats, inf and nan spelled out. */
    for (const char *p = s; *p && *p != ' ' && *p != '\t'; p++)
        if (!strchr("0123456789+-.eE", *p))
            return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || !only_blanks(end))
        return -1;
    *out = v;
    return 0;
}

int text_parse_int64(const char *s, int64_t *out)
{
    s = skip_blanks(s);
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE || !only_blanks(end))
        return -1;
    *out = v;
    return 0;
}

int64_t text_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits at *p into *v and advances. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        x = x * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static int parse_iso(const char *p, int64_t *out)
{
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    int64_t offset = 0;
    if (*p == 'T' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
        p++;
        if (digits(&p, 2, &hh) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &ss))
                return -1;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p))
                    return -1;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (hh > 23 || mi > 59 || ss > 60)
            return -1;
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
                return -1;
            if (oh > 14 || om > 59)
                return -1;
            offset = sign * (oh * 3600 + om * 60);
        }
    }
    if (!only_blanks(p))
        return -1;
    *out = text_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 +
           ss - offset;
    return 0;
}

int text_parse_timestamp(const char *s, int64_t *out)
{
    s = skip_blanks(s);
    size_t n = strspn(s, "0123456789");
    if (n == 4 && s[4] == '-')
        return parse_iso(s, out);
    double v;
    if (text_parse_int64(s, out) == 0)
        return 0;
    if (text_parse_double(s, &v) == 0 && fabs(v) < 9.2e18) {
        *out = (int64_t)floor(v);
        return 0;
    }
    return -1;
}

int text_title_year(const char *title)
{
    if (!title)
        return 0;
    size_t n = strlen(title);
    while (n && (title[n - 1] == ' ' || title[n - 1] == '\t'))
        n--;
    if (n < 6 || title[n - 1] != ')' || title[n - 6] != '(')
        return 0;
    int y = 0;
    for (size_t i = n - 5; i < n - 1; i++) {
        if (!isdigit((unsigned char)title[i]))
            return 0;
        y = y * 10 + (title[i] - '0');
    }
    return y >= 1800 && y <= 2100 ? y : 0;
}

int text_is_digits(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}
