/*
 * persist.h - the store's side of the engine: loading the dataset into
 * engine types, and saving/loading splits, runs (with their model blobs)
 * and metrics. store/ knows engine types only (dataset.h); it never calls
 * models.
 */
#ifndef RS_PERSIST_H
#define RS_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "store.h"

/* Loads every user, item (with metadata) and interaction. Indices follow
 * the database ids in ascending order. *out owned by the caller
 * (rs_dataset_free). */
int store_load_dataset(Store *s, RsDataset **out, RsErr *err);

/* How store_load_dataset_opts reads. */
typedef struct StoreLoadOptions {
    int readers;        /* connections reading the interactions at once, each
                         * over a range of users: 0 chooses (one below 16 MiB
                         * of database, else one per core, at most 4); a
                         * database in memory always has one */
    /* For tests: called when the readers of a parallel load have finished,
     * before the check that no other connection wrote meanwhile. */
    void (*after_read)(void *arg);
    void *arg;
} StoreLoadOptions;

/* store_load_dataset with options (o may be NULL). The result is the same
 * for any number of readers: one consistent state of the database (a
 * parallel load that another connection's commit overlapped starts again,
 * and after three such tries reads with one connection). */
int store_load_dataset_opts(Store *s, const StoreLoadOptions *o, RsDataset **out, RsErr *err);

typedef struct StoreSplitInfo {
    int64_t id;
    char name[128];
    char method[16];
    char params[256];   /* JSON */
    int64_t seed;
    int64_t created_at;
    int64_t n_train, n_test, n_valid;
    int folds;          /* k for kfold, 0 otherwise */
} StoreSplitInfo;

/* Saves a split of d->all under a new name. part[NNZ] holds SPLIT_* codes,
 * or fold numbers when folds > 0 (k-fold). RS_EUSAGE when the name exists. */
int store_split_save(Store *s, const char *name, const char *method, const char *params_json,
                     uint64_t seed, const RsDataset *d, const uint8_t *part, int folds,
                     RsErr *err);
/* Loads the split called name into part[NNZ] of d->all (interactions added
 * after the split was made count as training). RS_ENOTFOUND lists the
 * splits that exist. info may be NULL. */
int store_split_load(Store *s, const char *name, const RsDataset *d, uint8_t *part,
                     StoreSplitInfo *info, RsErr *err);
int store_split_info(Store *s, const char *name, StoreSplitInfo *info, RsErr *err);
int store_splits_list(Store *s, StoreSplitInfo **out, size_t *n, RsErr *err);

typedef struct StoreRun {
    int64_t id;
    char *name, *algorithm, *params, *device, *status, *error, *split_name;
    int64_t split_id, seed, started_at, finished_at, pid;
    double train_seconds;   /* NAN when unknown */
    int model_format;
    void *model;            /* blob, NULL unless asked for */
    size_t model_len;
} StoreRun;

void store_run_done(StoreRun *r);

/* Records a new run with status 'running' (and this process's pid); fills
 * *id. RS_EUSAGE when the name is taken. */
int store_run_create(Store *s, const char *name, const char *algorithm, const char *params_json,
                     int64_t split_id, const char *device, uint64_t seed, int64_t *id,
                     RsErr *err);
/* Ends a run: status 'done' (with the model blob), 'failed' (error) or
 * 'cancelled'. */
int store_run_finish(Store *s, int64_t id, const char *status, const char *error,
                     double train_seconds, const void *blob, size_t len, int model_format,
                     RsErr *err);
/* The run called name (with its model blob when with_model). RS_ENOTFOUND
 * lists the runs that exist. */
int store_run_get(Store *s, const char *name, int with_model, StoreRun *out, RsErr *err);
/* Every run, oldest first, without blobs. Runs left 'running' by a process
 * that no longer exists are marked 'interrupted' first (read-write stores). */
int store_runs_list(Store *s, StoreRun **out, size_t *n, RsErr *err);
void store_runs_free(StoreRun *runs, size_t n);
/* A name "ALGO-N" not used yet. */
int store_run_fresh_name(Store *s, const char *algorithm, char *buf, size_t cap, RsErr *err);

/* Metrics of a run under a protocol ("full", "sampled"): name is the
 * metric without "@K" and k its cut-off (0 for none). Replaces earlier
 * values of the same (run, protocol, metric, k). */
typedef struct StoreMetric {
    char name[32];
    int k;
    double value;
} StoreMetric;
int store_metrics_save(Store *s, int64_t run_id, const char *protocol, const StoreMetric *m,
                       size_t n, RsErr *err);
int store_metrics_get(Store *s, int64_t run_id, const char *protocol, StoreMetric **out,
                      size_t *n, RsErr *err);
/* Per-user values of one metric, by user index of d (values[U], NAN for
 * users without a value). */
int store_user_metrics_save(Store *s, int64_t run_id, const char *protocol, const char *name,
                            int k, const RsCatalog *cat, const uint32_t *users,
                            const double *values, size_t n, RsErr *err);
int store_user_metrics_get(Store *s, int64_t run_id, const char *protocol, const char *name,
                           int k, const RsCatalog *cat, double *values, RsErr *err);


/* Marks as SPLIT_TEST (1) in part[NNZ] the interactions listed in the file
 * at path: user and item ids in its first two columns (MovieLens u1.test
 * style, any separator, no header), or in the columns a header names
 * (user/user_id/userId, item/item_id/itemId/movieId). A listed pair that is
 * not an interaction of d is an error naming the line. *marked counts
 * them. */
int store_split_file(const char *path, const RsDataset *d, uint8_t *part, size_t *marked,
                     RsErr *err);
#endif
