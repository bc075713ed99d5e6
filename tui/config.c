/*
 * config.c - reading and atomically writing the TUI's settings file (see
 * config.h for the format).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (64 * 1024)

static Config config_process = { CONFIG_THEME_DEFAULT, 10, 0, "" };

Config *config_current(void)
{
    return &config_process;
}

void config_defaults(Config *c)
{
    memset(c, 0, sizeof *c);
    c->theme = CONFIG_THEME_DEFAULT;
    c->default_k = 10;
    c->mouse = 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Applies one key = value. Returns 0, or -1 with why filled. */
static int config_set(Config *c, const char *key, const char *val, char *why, size_t whysz)
{
    if (!strcmp(key, "theme")) {
        if (!strcmp(val, "default"))
            c->theme = CONFIG_THEME_DEFAULT;
        else if (!strcmp(val, "mono"))
            c->theme = CONFIG_THEME_MONO;
        else
            goto bad;
    } else if (!strcmp(key, "default_k")) {
        char *end;
        errno = 0;
        long k = strtol(val, &end, 10);
        if (errno || end == val || *end || k < 1 || k > CONFIG_K_MAX)
            goto bad;
        c->default_k = (int)k;
    } else if (!strcmp(key, "mouse")) {
        if (!strcmp(val, "on"))
            c->mouse = 1;
        else if (!strcmp(val, "off"))
            c->mouse = 0;
        else
            goto bad;
    } else {
        snprintf(why, whysz, "unknown setting '%.40s'", key);
        return -1;
    }
    return 0;
bad:
    snprintf(why, whysz, "bad value '%.40s' for %s", val, key);
    return -1;
}

int config_parse(Config *c, const char *text, char *warn, size_t warnsz)
{
    int problems = 0, lineno = 0;
    char line[512], why[160];
    if (warn && warnsz)
        warn[0] = '\0';
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        int toolong = len >= sizeof line;
        memcpy(line, p, toolong ? sizeof line - 1 : len);
        line[toolong ? sizeof line - 1 : len] = '\0';
        p += len + (nl != NULL);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        why[0] = '\0';
        if (toolong)
            snprintf(why, sizeof why, "line too long");
        else if (!eq)
            snprintf(why, sizeof why, "expected key = value");
        else {
            *eq = '\0';
            config_set(c, trim(s), trim(eq + 1), why, sizeof why);
        }
        if (why[0]) {
            if (problems++ == 0 && warn && warnsz)
                snprintf(warn, warnsz, "line %d: %s", lineno, why);
        }
    }
    return problems;
}

int config_load(Config *c, const char *path, char *warn, size_t warnsz, RsErr *err)
{
    int rc = RS_OK;
    char *text = NULL;
    config_defaults(c);
    if (warn && warnsz)
        warn[0] = '\0';
    snprintf(c->path, sizeof c->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR)
            return RS_OK;
        return rs_err_set(err, RS_EIO, "%s: %s", path, strerror(errno));
    }
    text = malloc(CONFIG_MAX_BYTES + 1);
    if (!text) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    size_t n = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        rc = rs_err_set(err, RS_EIO, "%s: read error", path);
        goto done;
    }
    if (n > CONFIG_MAX_BYTES) {
        rc = rs_err_set(err, RS_EPARSE, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
        goto done;
    }
    text[n] = '\0';
    if (memchr(text, '\0', n)) {
        rc = rs_err_set(err, RS_EPARSE, "%s: not a text file", path);
        goto done;
    }
    config_parse(c, text, warn, warnsz);
done:
    if (rc) {
        config_defaults(c);
        snprintf(c->path, sizeof c->path, "%s", path);
    }
    free(text);
    fclose(f);
    return rc;
}

/* mkdir -p of the folder that holds path (mode 0700). */
static int make_parents(const char *path, RsErr *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return RS_OK;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char was = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return rs_err_set(err, RS_EIO, "%s: %s", dir, strerror(errno));
        *p = was;
        if (!was)
            break;
    }
    return RS_OK;
}

int config_save(const Config *c, const char *path, RsErr *err)
{
    char tmp[1100];
    if (!path)
        path = c->path;
    if (!path[0])
        return rs_err_set(err, RS_EUSAGE, "no settings file");
    int rc = make_parents(path, err);
    if (rc)
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return rs_err_set(err, RS_EIO, "%s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        rc = rs_err_set(err, RS_EIO, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    fprintf(f, "# recscope settings (rewritten by recscope when a setting changes)\n"
               "# theme = default | mono; default_k = 1..%d; mouse = on | off\n"
               "theme = %s\ndefault_k = %d\nmouse = %s\n",
            CONFIG_K_MAX, c->theme == CONFIG_THEME_MONO ? "mono" : "default", c->default_k,
            c->mouse ? "on" : "off");
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        rc = rs_err_set(err, RS_EIO, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = rs_err_set(err, RS_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    return RS_OK;
fail:
    unlink(tmp);
    return rc;
}
