/*
 * fuzz_common.c - temporary files and the import-then-read-back step the
 * importer fuzz targets share (see fuzz.h).
 */
#include "fuzz.h"

#include <math.h>
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

/* What one import gave: its code, message and report, and (when it worked)
 * a hash of the dataset read back from the store. */
typedef struct Outcome {
    int rc;
    RsErr err;
    ImportReport rep;
    uint64_t data;
} Outcome;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t k = 0; k < n; k++)
        h = (h ^ b[k]) * 1099511628211ull;
    return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    return mix(h, s ? s : "\x01", s ? strlen(s) + 1 : 1);
}

static uint64_t dataset_hash(const RsDataset *d)
{
    const RsMatrix *m = d->all;
    const RsCatalog *c = d->cat;
    uint64_t h = 1469598103934665603ull;
    for (size_t u = 0; u < c->U; u++)
        h = mix_str(h, c->user_ext[u]);
    for (size_t i = 0; i < c->I; i++) {
        h = mix_str(mix_str(mix_str(h, c->item_ext[i]), c->item_title[i]), c->item_genres[i]);
        h = mix(h, &c->item_year[i], sizeof c->item_year[i]);
    }
    h = mix(h, m->u_ptr, (m->U + 1) * sizeof *m->u_ptr);
    h = mix(h, m->u_items, m->NNZ * sizeof *m->u_items);
    h = mix(h, m->u_ts, m->NNZ * sizeof *m->u_ts);
    for (size_t k = 0; k < m->NNZ; k++) /* NAN payloads aside */
        h = mix(h, &(float){isnan(m->u_rating[k]) ? -1e30f : m->u_rating[k]}, sizeof(float));
    return h;
}

static void import_once(const char *const *paths, size_t n, const ImportOptions *opt,
                        Outcome *out)
{
    Store *s = NULL;
    memset(out, 0, sizeof *out);
    if (store_open(&s, ":memory:", STORE_OPEN_CREATE, &out->err)) {
        fprintf(stderr, "fuzz: cannot open an in-memory store: %s\n", out->err.msg);
        abort();
    }
    out->rc = store_import(s, paths, n, opt, &out->rep, &out->err);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "import (split_min_bytes %lld): %d %s (%lld rows, %lld users, %lld "
                        "items)\n",
                (long long)opt->split_min_bytes, out->rc, out->rc ? out->err.msg : "",
                (long long)out->rep.rows_read, (long long)out->rep.users_added,
                (long long)out->rep.items_added);
    if (out->rc == RS_OK) {
        StoreStats stats;
        RsDataset *d = NULL;
        RsErr err = {0};
        store_stats(s, &stats, &err);
        if (store_load_dataset(s, &d, &err) == RS_OK) {
            out->data = dataset_hash(d);
            rs_dataset_free(d);
        }
    }
    store_close(s);
}

#define SAME(what, cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz: one pass and two halves differ in %s\n", what);           \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

void fuzz_import(const char *const *paths, size_t n, const ImportOptions *opt)
{
    /* Differential: the file read in one pass, then split in two halves
     * read by two threads (forced at any size), must give the same. */
    Outcome one, two;
    ImportOptions o = *opt;
    o.split_min_bytes = 0;
    import_once(paths, n, &o, &one);
    o.split_min_bytes = 1;
    import_once(paths, n, &o, &two);
    SAME("the return code", one.rc == two.rc);
    if (one.rc != RS_ENOMEM)
        SAME("the error message", !strcmp(one.err.msg, two.err.msg));
    SAME("the dataset", one.data == two.data);
    SAME("rows read", one.rep.rows_read == two.rep.rows_read);
    SAME("rows skipped", one.rep.skipped == two.rep.skipped);
    SAME("duplicates", one.rep.duplicates == two.rep.duplicates);
    SAME("users added", one.rep.users_added == two.rep.users_added);
    SAME("items added", one.rep.items_added == two.rep.items_added);
    SAME("the bad rows shown", one.rep.n_bad_shown == two.rep.n_bad_shown);
    for (int k = 0; k < one.rep.n_bad_shown; k++)
        SAME("a bad row's message", !strcmp(one.rep.bad[k], two.rep.bad[k]));
}
