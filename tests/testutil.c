/* testutil.c - temp dirs and files for the unit tests. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_mkdtemp(void)
{
    char *t = strdup("/tmp/recscope-test-XXXXXX");
    if (!t || !mkdtemp(t)) {
        perror("mkdtemp");
        abort();
    }
    return t;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *tu_write(const char *dir, const char *name, const char *data, size_t len)
{
    char *p = tu_path(dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        abort();
    }
    if (len == (size_t)-1)
        len = strlen(data);
    fwrite(data, 1, len, f);
    fclose(f);
    return p;
}

const char *tu_ml100k(void)
{
    static char buf[4096];
    const char *env = getenv("RECSCOPE_ML100K");
    const char *cands[] = {env, "../shared/datasets/ml-100k", "../../shared/datasets/ml-100k"};
    for (size_t k = 0; k < sizeof cands / sizeof cands[0]; k++) {
        if (!cands[k])
            continue;
        snprintf(buf, sizeof buf, "%s/u.data", cands[k]);
        if (access(buf, R_OK) == 0) {
            snprintf(buf, sizeof buf, "%s", cands[k]);
            return buf;
        }
    }
    return NULL;
}
