/*
 * tui_models.h - the TUI's cache of what the model screens need: the
 * dataset in memory, split parts, trained models, the list of finished
 * ('done') runs and which of them are selected for display.
 *
 * Design. One cache per process, bound to the store the TUI opened (the
 * first tui_models_for() call names it). Everything is loaded lazily, on a
 * worker thread so that the UI never waits for it, and kept until exit:
 *   - the dataset (store_load_dataset) on the first call that needs it:
 *     seconds on tens of millions of interactions;
 *   - the train and test parts of a split, once per split id, shared by
 *     every run on that split;
 *   - a run's model from its blob, once per run.
 * A call that needs what is not loaded yet starts the worker (one load at
 * a time) and returns TUI_MODELS_LOADING; the screen shows a placeholder.
 * The event loop polls tui_models_fd() and calls tui_models_drain(), which
 * moves the result into the cache and bumps the generation, then redraws:
 * the screens make their lists again and ask for the next missing piece.
 * The run list is re-read by tui_models_refresh() (a small query), so a run
 * that finished in the background appears on the next screen opened; models
 * already loaded are kept. The selection (up to TUI_MODELS_MAXSEL runs, in
 * the order chosen) defaults to the most recent done run; a change bumps a
 * generation number that screens compare to know when to recompute.
 *
 * Not thread-safe: UI thread only (the worker touches only its own
 * request and results). Only 'done' runs are listed, so a model still
 * training is never read.
 */
#ifndef RS_TUI_MODELS_H
#define RS_TUI_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "model.h"
#include "store.h"
#include "tui_screen.h"

#define TUI_MODELS_MAXSEL 3
#define TUI_MODELS_MAXRUNS 256

typedef struct TuiRun {
    int64_t id, split_id;
    char name[128];
    char algo[48];
    char split[128];
    RsModel *model;          /* NULL until tui_models_load */
    const RsMatrix *train;   /* the split's parts, NULL until loaded */
    const RsMatrix *test;
    int failed;              /* loading failed: err says why */
    char err[RS_ERRLEN];
} TuiRun;

typedef struct TuiModels TuiModels;

/* What the loading calls return while the worker loads what they need
 * (not an RS_E* error: ask again after tui_models_drain()). */
#define TUI_MODELS_LOADING (-100)

/* The process-wide cache, created on the first call (which binds it to
 * store; later calls return the same cache whatever store they name).
 * NULL for a NULL store (an empty file) or out of memory. The cache is
 * freed at exit. */
TuiModels *tui_models_for(Store *store);
/* The cache if one was created, else NULL. */
TuiModels *tui_models_current(void);

/* Re-reads the list of done runs; keeps loaded models, drops runs that are
 * gone from the selection, and selects the most recent run when nothing is
 * selected and the selection was never changed by tui_models_toggle.
 * Returns RS_OK or an RS_E* code with err filled. */
int tui_models_refresh(TuiModels *m, RsErr *err);

/* The dataset, or NULL with err filled: code TUI_MODELS_LOADING while the
 * worker loads it (the first call starts it), or the load's error. */
const RsDataset *tui_models_dataset(TuiModels *m, RsErr *err);
/* Whether the dataset is in memory already. */
int tui_models_ready(const TuiModels *m);
/* Whether the worker is loading something. */
int tui_models_loading(const TuiModels *m);
/* The file descriptor that becomes readable when the worker has finished,
 * or -1 when nothing loads (m may be NULL). */
int tui_models_fd(const TuiModels *m);
/* After tui_models_fd() became readable: joins the worker and moves what
 * it loaded into the cache (or records why it failed), bumping the
 * generation. Returns 1 when a load ended, else 0. m may be NULL. */
int tui_models_drain(TuiModels *m);

size_t tui_models_nruns(const TuiModels *m);
TuiRun *tui_models_run(TuiModels *m, size_t k);
/* Index of the run with that id, or -1. */
long tui_models_find(const TuiModels *m, int64_t run_id);

/* The selected runs in order: stores up to max indices, returns how many. */
size_t tui_models_selected(const TuiModels *m, size_t *idx, size_t max);
int tui_models_is_selected(const TuiModels *m, size_t k);
/* Selects or unselects run k (at most TUI_MODELS_MAXSEL: selecting a
 * fourth drops the oldest choice). */
void tui_models_toggle(TuiModels *m, size_t k);
/* Bumped whenever the selection or the run list changes. */
unsigned tui_models_gen(const TuiModels *m);

/* Run k's model and its split's parts (and the dataset): RS_OK when they
 * are loaded; TUI_MODELS_LOADING while the worker loads them (this call
 * starts it when it is idle); or an error (kept in the run's err, not
 * retried). */
int tui_models_load(TuiModels *m, size_t k, RsErr *err);

/* The training part of the split of the first selected run (the newest
 * run when none is selected), loaded on first use: what a what-if user
 * started from a real user begins with, so that held-out test items are
 * not folded in. Sets *train (owned by the cache) and *split (the split's
 * name, owned by the cache). Returns RS_OK, RS_ENOTFOUND when there is no
 * run, TUI_MODELS_LOADING while the run and its split load, or another
 * error with err filled. */
int tui_models_train_part(TuiModels *m, const RsMatrix **train, const char **split,
                          RsErr *err);

/* Dataset indices of a database user / item id, or -1 (dataset loaded). */
long tui_models_user(TuiModels *m, int64_t db_id);
long tui_models_item(TuiModels *m, int64_t db_id);
/* The title of item i, or its external id (untrusted text). */
const char *tui_models_item_label(const TuiModels *m, uint32_t i);
/* Whether (u, i) is in the test part of run r's split. */
int tui_models_hit(const TuiRun *r, uint32_t u, uint32_t i);

/* A top-K list of one run, for drawing. */
#define TUI_RECS_MAXK 50
typedef struct TuiRecList {
    size_t run;                 /* index into the run list */
    int ok;                     /* recs holds the list; else err says why */
    int loading;                /* not ok because the run is still loading */
    char err[160];
    size_t n;
    RsRec recs[TUI_RECS_MAXK];
} TuiRecList;

/* Fills out with run k's top K (<= TUI_RECS_MAXK) for training user u, or
 * for profile p when u < 0 (fold-in), seen items left out; loads the run
 * first. Returns RS_OK or an error (also in out->err). */
int tui_models_recommend(TuiModels *m, size_t k, long u, const RsProfile *p, size_t K,
                         TuiRecList *out);

/* Fills out with a placeholder for run k while the dataset is not in
 * memory: "loading..." (starting the load) or why it cannot be loaded. */
void tui_models_placeholder(TuiModels *m, size_t k, TuiRecList *out);

/* Fills out with the K items most similar to item under run k (the
 * class's similar hook; RS_EUSAGE in out->err when it has none). */
int tui_models_similar(TuiModels *m, size_t k, uint32_t item, size_t K, TuiRecList *out);

/* Draws list l in the column (row, x, width w) of r, from row on, one
 * recommendation a row: rank, marks and title. Marks: '*' a held-out test
 * item of user u (u >= 0); when others[0..nothers) are given (the lists
 * compared with l), '=' an item in every one of them; when base is given,
 * the change of rank against base ("+2" up, "-1" down, "new"). cursor: the
 * selected row, or -1. Returns the rows drawn. */
int tui_models_draw_recs(TuiModels *m, const TuiRect *r, int row, int x, int w,
                         const TuiRecList *l, long u, int cursor, const TuiRecList *others,
                         size_t nothers, const TuiRecList *base);

/* Draws msg in a frame in the middle of the terminal and shows it at once:
 * for work that keeps the loop busy for a while. */
void tui_models_notice(const char *msg);

/* For a screen's tick hook (called when a background job created or
 * ended a run): re-reads the run list of the cache for store and returns
 * TUI_INTENT_REDRAW when it changed, else TUI_INTENT_NONE. *m (may point
 * to NULL: a screen that had no run yet) is set to the cache when there is
 * a done run, with TUI_INTENT_RESIZE added so layouts make room. */
unsigned tui_models_tick(TuiModels **m, Store *store);

/* What TUI_ACT_MODELS does for key (c, w, S): opens Compare, a what-if
 * user from nobody or the run selection when the cache knows its store;
 * else a GOTO intent to the screen's kind, which the event loop can build
 * with tui_models_screen_new(). */
TuiIntent tui_models_intent(int key);

/* The screens that use the cache, reached from anywhere (keys.c): a
 * TUI_SCREEN_* kind of this module; store NULL: the cache's store. NULL
 * when there is no store yet or out of memory. */
TuiScreen *tui_models_screen_new(Store *store, int kind);

#endif
