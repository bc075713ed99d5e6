/*
 * fuzz_common.c - temporary files and the import-then-read-back step the
 * importer fuzz targets share (see fuzz.h).
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist.h"
#include "store.h"

static char fuzz_tmp[256];
static char fuzz_in[300];
static const char *const *fuzz_names;
static size_t fuzz_nnames;

static void fuzz_cleanup(void)
{
    char p[600];
    for (size_t k = 0; k < fuzz_nnames; k++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_in, fuzz_names[k]);
        unlink(p);
    }
    rmdir(fuzz_in);
    rmdir(fuzz_tmp);
}

const char *fuzz_dir(void)
{
    if (!fuzz_tmp[0]) {
        struct stat sb;
        const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
        snprintf(fuzz_tmp, sizeof fuzz_tmp, "%s/recscope-fuzz.XXXXXX", base);
        if (!mkdtemp(fuzz_tmp)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        snprintf(fuzz_in, sizeof fuzz_in, "%s/in", fuzz_tmp);
        mkdir(fuzz_in, 0700);
        atexit(fuzz_cleanup);
    }
    return fuzz_tmp;
}

/* The first occurrence of FUZZ_SPLIT in data[0..size), or NULL. */
static const uint8_t *find_split(const uint8_t *data, size_t size)
{
    size_t m = strlen(FUZZ_SPLIT);
    for (size_t k = 0; k + m <= size; k++)
        if (data[k] == FUZZ_SPLIT[0] && !memcmp(data + k, FUZZ_SPLIT, m))
            return data + k;
    return NULL;
}

const char *fuzz_write_files(const uint8_t *data, size_t size, const char *const *names,
                             size_t n)
{
    char p[600];
    fuzz_dir();
    fuzz_names = names;
    fuzz_nnames = n;
    for (size_t k = 0; k < n; k++) {
        snprintf(p, sizeof p, "%s/%s", fuzz_in, names[k]);
        unlink(p);
    }
    const uint8_t *end = data + size;
    for (size_t k = 0; k < n && data; k++) {
        const uint8_t *cut = find_split(data, (size_t)(end - data));
        size_t len = cut ? (size_t)(cut - data) : (size_t)(end - data);
        snprintf(p, sizeof p, "%s/%s", fuzz_in, names[k]);
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
            perror(p);
            abort();
        }
        data = cut ? cut + strlen(FUZZ_SPLIT) : NULL;
    }
    return fuzz_in;
}

void fuzz_import(const char *const *paths, size_t n, const ImportOptions *opt)
{
    Store *s = NULL;
    RsErr err = {0};
    ImportReport rep;
    if (store_open(&s, ":memory:", STORE_OPEN_CREATE, &err)) {
        fprintf(stderr, "fuzz: cannot open an in-memory store: %s\n", err.msg);
        abort();
    }
    int rc = store_import(s, paths, n, opt, &rep, &err);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "import: %d %s (%lld rows, %lld users, %lld items)\n", rc,
                rc ? err.msg : "", (long long)rep.rows_read, (long long)rep.users_added,
                (long long)rep.items_added);
    if (rc == RS_OK) {
        StoreStats stats;
        RsDataset *d = NULL;
        store_stats(s, &stats, &err);
        if (store_load_dataset(s, &d, &err) == RS_OK)
            rs_dataset_free(d);
    }
    store_close(s);
}
