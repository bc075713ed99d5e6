/*
 * session.h - what the model commands share: an open store, the dataset in
 * memory, a split's train/test/validation parts, and a run's model.
 */
#ifndef RS_SESSION_H
#define RS_SESSION_H

#include "dataset.h"
#include "model.h"
#include "persist.h"
#include "store.h"

typedef struct Session {
    Store *store;
    RsDataset *d;
    uint8_t *part;          /* (NNZ) of d->all: SPLIT_* codes (fold numbers for kfold) */
    StoreSplitInfo split;
    RsMatrix *train, *test, *valid; /* NULL until a split is loaded */
    StoreRun run;
    RsModel *model;         /* NULL until a run is loaded */
} Session;

/* Opens db (read-only when readonly) and loads the dataset. */
int session_open(Session *se, const char *db, int readonly, RsErr *err);
/* Loads the split called name and builds its parts. */
int session_split(Session *se, const char *name, RsErr *err);
/* Loads the run called name, its split and its model. A run that is not
 * 'done' is an error saying its status. */
int session_run(Session *se, const char *name, RsErr *err);
void session_close(Session *se);

/* Index of a user / item by external id; RS_ENOTFOUND with a message. */
int session_user(const Session *se, const char *ext, uint32_t *u, RsErr *err);
int session_item(const Session *se, const char *ext, uint32_t *i, RsErr *err);

/* A display label for an item: "Title (ext)" or the ext id. */
const char *session_item_label(const Session *se, uint32_t i);

#endif
