/*
 * tui_models.c - the TUI's lazily loaded dataset, split parts, models and
 * run selection (see tui_models.h for the design).
 *
 * The loader. One worker thread at a time reads what a screen asked for on
 * its own read-only connection to the database: the dataset (unless the
 * cache has it: then the worker only reads it, and nothing writes a loaded
 * dataset), a split's train and test parts, a run's model. It builds them
 * into the Loader's result fields, which the UI thread alone reads, after
 * the worker has said it is done by writing a byte to the self-pipe and
 * after pthread_join. tui_models_drain() moves the results into the cache
 * (matching the run by id: the run list may have been re-read meanwhile)
 * and bumps the generation, so that the screens make their lists again;
 * the next missing piece is asked for by the screen that still lacks it.
 */
#include "tui_models.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "persist.h"
#include "split.h"
#include "tui_theme.h"

#define TUI_MODELS_MAXSPLITS 32

typedef struct TuiSplit {
    int64_t id;
    RsMatrix *train, *test;
} TuiSplit;

/* One request to the worker, and what it made. The request fields are set
 * before the thread starts; the results are read after it is joined. */
typedef struct Loader {
    pthread_t thread;
    int busy;                 /* a thread was started and not joined yet */
    int fds[2];               /* the self-pipe: the worker writes one byte when done */
    char db[4096];            /* the database file */
    const RsDataset *d_in;    /* the cache's dataset, read-only; NULL: load one */
    int64_t run_id;           /* the run to load; -1: only the dataset */
    char run_name[128], split_name[128];
    int64_t split_id;
    int need_split;           /* the cache has no parts of that split yet */
    /* results */
    RsDataset *d;             /* loaded when d_in was NULL */
    int d_rc;
    RsMatrix *train, *test;
    RsModel *model;
    int run_rc;
    char err[RS_ERRLEN];
} Loader;

struct TuiModels {
    Store *store; /* not owned */
    Loader ld;
    RsDataset *d;
    int d_failed;
    char d_err[RS_ERRLEN];
    TuiRun *runs; /* (nruns) done runs, oldest first */
    size_t nruns;
    TuiSplit splits[TUI_MODELS_MAXSPLITS];
    size_t nsplits;
    int64_t sel[TUI_MODELS_MAXSEL]; /* run ids */
    size_t nsel;
    int chosen; /* the analyst has changed the selection: no default any more */
    unsigned gen;
};

static TuiModels *the_cache;

static void loader_join(TuiModels *m);
static void loader_discard(Loader *ld);

static void models_free(void)
{
    TuiModels *m = the_cache;
    if (!m)
        return;
    loader_join(m); /* a load in flight: wait for it (it cannot be interrupted) */
    loader_discard(&m->ld);
    if (m->ld.fds[0] >= 0) {
        close(m->ld.fds[0]);
        close(m->ld.fds[1]);
    }
    for (size_t k = 0; k < m->nruns; k++)
        model_free(m->runs[k].model);
    free(m->runs);
    for (size_t k = 0; k < m->nsplits; k++) {
        rs_matrix_free(m->splits[k].train);
        rs_matrix_free(m->splits[k].test);
    }
    rs_dataset_free(m->d);
    free(m);
    the_cache = NULL;
}

TuiModels *tui_models_for(Store *store)
{
    if (the_cache || !store)
        return the_cache;
    TuiModels *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->store = store;
    m->ld.fds[0] = m->ld.fds[1] = -1;
    if (pipe(m->ld.fds) != 0) {
        m->ld.fds[0] = m->ld.fds[1] = -1;
    } else {
        for (int k = 0; k < 2; k++) {
            fcntl(m->ld.fds[k], F_SETFL, fcntl(m->ld.fds[k], F_GETFL) | O_NONBLOCK);
            fcntl(m->ld.fds[k], F_SETFD, FD_CLOEXEC);
        }
    }
    the_cache = m;
    atexit(models_free);
    tui_models_refresh(m, NULL);
    return m;
}

TuiModels *tui_models_current(void)
{
    return the_cache;
}

/* --- runs and the selection ----------------------------------------------------------- */

long tui_models_find(const TuiModels *m, int64_t run_id)
{
    for (size_t k = 0; m && k < m->nruns; k++)
        if (m->runs[k].id == run_id)
            return (long)k;
    return -1;
}

int tui_models_refresh(TuiModels *m, RsErr *err)
{
    StoreRun *list = NULL;
    size_t n = 0, ndone = 0, skip = 0;
    int rc = store_runs_list(m->store, &list, &n, err);
    if (rc)
        return rc;
    for (size_t k = 0; k < n; k++)
        ndone += strcmp(list[k].status, "done") == 0 && list[k].split_name;
    if (ndone > TUI_MODELS_MAXRUNS) { /* keep the newest */
        skip = ndone - TUI_MODELS_MAXRUNS;
        ndone = TUI_MODELS_MAXRUNS;
    }
    TuiRun *runs = calloc(ndone ? ndone : 1, sizeof *runs);
    if (!runs) {
        store_runs_free(list, n);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    size_t got = 0;
    for (size_t k = 0; k < n; k++) {
        const StoreRun *s = &list[k];
        if (strcmp(s->status, "done") != 0 || !s->split_name)
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        long old = tui_models_find(m, s->id);
        TuiRun *r = &runs[got];
        if (old >= 0) {
            *r = m->runs[old];
            m->runs[old].model = NULL; /* moved */
        } else {
            r->id = s->id;
            r->split_id = s->split_id;
            snprintf(r->name, sizeof r->name, "%s", s->name);
            snprintf(r->algo, sizeof r->algo, "%s", s->algorithm ? s->algorithm : "?");
            snprintf(r->split, sizeof r->split, "%s", s->split_name);
        }
        if (++got == ndone)
            break;
    }
    store_runs_free(list, n);
    int changed = got != m->nruns; /* or a run in another place: indices moved */
    for (size_t k = 0; !changed && k < got; k++)
        changed = runs[k].id != m->runs[k].id;
    for (size_t k = 0; k < m->nruns; k++)
        model_free(m->runs[k].model); /* of runs that are gone: the others moved */
    free(m->runs);
    m->runs = runs;
    m->nruns = got;
    size_t keep = 0; /* the selection, without runs that are gone */
    for (size_t j = 0; j < m->nsel; j++)
        if (tui_models_find(m, m->sel[j]) >= 0)
            m->sel[keep++] = m->sel[j];
    changed |= keep != m->nsel;
    m->nsel = keep;
    if (m->nsel == 0 && m->nruns > 0 && !m->chosen) {
        m->sel[m->nsel++] = m->runs[m->nruns - 1].id;
        changed = 1;
    }
    if (changed)
        m->gen++;
    return RS_OK;
}

size_t tui_models_nruns(const TuiModels *m)
{
    return m ? m->nruns : 0;
}

TuiRun *tui_models_run(TuiModels *m, size_t k)
{
    return m && k < m->nruns ? &m->runs[k] : NULL;
}

size_t tui_models_selected(const TuiModels *m, size_t *idx, size_t max)
{
    size_t n = 0;
    for (size_t j = 0; m && j < m->nsel && n < max; j++) {
        long k = tui_models_find(m, m->sel[j]);
        if (k >= 0)
            idx[n++] = (size_t)k;
    }
    return n;
}

int tui_models_is_selected(const TuiModels *m, size_t k)
{
    for (size_t j = 0; m && k < m->nruns && j < m->nsel; j++)
        if (m->sel[j] == m->runs[k].id)
            return 1;
    return 0;
}

void tui_models_toggle(TuiModels *m, size_t k)
{
    if (!m || k >= m->nruns)
        return;
    int64_t id = m->runs[k].id;
    m->chosen = 1;
    for (size_t j = 0; j < m->nsel; j++) {
        if (m->sel[j] == id) {
            memmove(&m->sel[j], &m->sel[j + 1], (m->nsel - j - 1) * sizeof *m->sel);
            m->nsel--;
            m->gen++;
            return;
        }
    }
    if (m->nsel == TUI_MODELS_MAXSEL) {
        memmove(&m->sel[0], &m->sel[1], (m->nsel - 1) * sizeof *m->sel);
        m->nsel--;
    }
    m->sel[m->nsel++] = id;
    m->gen++;
}

unsigned tui_models_gen(const TuiModels *m)
{
    return m ? m->gen : 0;
}

/* --- loading ----------------------------------------------------------------------------- */

int tui_models_ready(const TuiModels *m)
{
    return m && m->d;
}

int tui_models_loading(const TuiModels *m)
{
    return m && m->ld.busy;
}

/* Reads split name's train and test parts of d from s into sp. */
static int split_read(Store *s, const RsDataset *d, const char *name, TuiSplit *sp, RsErr *err)
{
    const RsMatrix *all = d->all;
    uint8_t *part = malloc(all->NNZ ? all->NNZ : 1);
    StoreSplitInfo info;
    int rc = part ? store_split_load(s, name, d, part, &info, err)
                  : rs_err_set(err, RS_ENOMEM, "out of memory");
    if (!rc && info.folds)
        rc = rs_err_set(err, RS_EUSAGE, "split \"%s\" is a cross-validation split", name);
    if (!rc)
        rc = rs_matrix_select(all, part, SPLIT_TRAIN, &sp->train, err);
    if (!rc)
        rc = rs_matrix_select(all, part, SPLIT_TEST, &sp->test, err);
    free(part);
    if (rc) {
        rs_matrix_free(sp->train);
        rs_matrix_free(sp->test);
        sp->train = sp->test = NULL;
    }
    return rc;
}

/* The worker: the dataset, then the run's split and model, on its own
 * connection. Touches only its Loader's request and result fields. */
static void *loader_main(void *arg)
{
    Loader *ld = arg;
    Store *s = NULL;
    RsErr e;
    rs_err_clear(&e);
    const RsDataset *d = ld->d_in;
    ld->d_rc = ld->run_rc = store_open(&s, ld->db, STORE_OPEN_READONLY, &e);
    if (!ld->d_rc && !d) {
        ld->d_rc = store_load_dataset(s, &ld->d, &e);
        if (ld->d_rc)
            ld->d = NULL;
        d = ld->d;
        ld->run_rc = ld->d_rc;
    }
    if (d && ld->run_id >= 0) {
        StoreRun sr;
        memset(&sr, 0, sizeof sr);
        TuiSplit sp = { ld->split_id, NULL, NULL };
        int rc = ld->need_split ? split_read(s, d, ld->split_name, &sp, &e) : RS_OK;
        if (!rc)
            rc = store_run_get(s, ld->run_name, 1, &sr, &e);
        if (!rc && !sr.model)
            rc = rs_err_set(&e, RS_EUSAGE, "run %s has no model", ld->run_name);
        if (!rc)
            rc = model_load(sr.model, sr.model_len, d->all->U, d->all->I, &ld->model, &e);
        if (rc)
            ld->model = NULL;
        store_run_done(&sr);
        ld->train = sp.train;
        ld->test = sp.test;
        ld->run_rc = rc;
    }
    snprintf(ld->err, sizeof ld->err, "%s", e.msg[0] ? e.msg : "cannot load");
    store_close(s);
    if (ld->fds[1] >= 0) {
        ssize_t w;
        do
            w = write(ld->fds[1], "x", 1);
        while (w < 0 && errno == EINTR);
    }
    return NULL;
}

/* Frees results that were not moved into the cache. */
static void loader_discard(Loader *ld)
{
    rs_dataset_free(ld->d);
    rs_matrix_free(ld->train);
    rs_matrix_free(ld->test);
    model_free(ld->model);
    ld->d = NULL;
    ld->train = ld->test = NULL;
    ld->model = NULL;
}

static void loader_join(TuiModels *m)
{
    if (m->ld.busy) {
        pthread_join(m->ld.thread, NULL);
        m->ld.busy = 0;
    }
}

static TuiSplit *split_find(TuiModels *m, int64_t split_id)
{
    for (size_t k = 0; k < m->nsplits; k++)
        if (m->splits[k].id == split_id)
            return &m->splits[k];
    return NULL;
}

/* Starts the worker for the dataset and, when r is not NULL, run r.
 * Returns TUI_MODELS_LOADING, or an error when the thread cannot start. */
static int loader_start(TuiModels *m, const TuiRun *r, RsErr *err)
{
    Loader *ld = &m->ld;
    if (ld->busy)
        return rs_err_set(err, TUI_MODELS_LOADING, "loading...");
    if (m->nsplits == TUI_MODELS_MAXSPLITS && r && !split_find(m, r->split_id))
        return rs_err_set(err, RS_EUSAGE, "too many splits in use");
    snprintf(ld->db, sizeof ld->db, "%s", store_path(m->store));
    ld->d_in = m->d;
    ld->run_id = r ? r->id : -1;
    snprintf(ld->run_name, sizeof ld->run_name, "%s", r ? r->name : "");
    snprintf(ld->split_name, sizeof ld->split_name, "%s", r ? r->split : "");
    ld->split_id = r ? r->split_id : -1;
    ld->need_split = r && !split_find(m, r->split_id);
    ld->d = NULL;
    ld->train = ld->test = NULL;
    ld->model = NULL;
    ld->err[0] = '\0';
    if (pthread_create(&ld->thread, NULL, loader_main, ld) != 0)
        return rs_err_set(err, RS_ENOMEM, "cannot start the loading thread");
    ld->busy = 1;
    return rs_err_set(err, TUI_MODELS_LOADING, "loading...");
}

int tui_models_fd(const TuiModels *m)
{
    return m && m->ld.busy ? m->ld.fds[0] : -1;
}

int tui_models_drain(TuiModels *m)
{
    Loader *ld = m ? &m->ld : NULL;
    char buf[16];
    if (!ld || !ld->busy)
        return 0;
    if (read(ld->fds[0], buf, sizeof buf) <= 0)
        return 0; /* not finished yet */
    loader_join(m);
    if (!m->d && ld->d) {
        m->d = ld->d;
        ld->d = NULL;
    } else if (!m->d && ld->d_rc) {
        m->d_failed = 1;
        snprintf(m->d_err, sizeof m->d_err, "%s", ld->err);
    }
    if (ld->train && ld->test && !split_find(m, ld->split_id) &&
        m->nsplits < TUI_MODELS_MAXSPLITS) {
        m->splits[m->nsplits++] = (TuiSplit) { ld->split_id, ld->train, ld->test };
        ld->train = ld->test = NULL;
    }
    long k = ld->run_id >= 0 && m->d ? tui_models_find(m, ld->run_id) : -1;
    TuiRun *r = k >= 0 ? &m->runs[k] : NULL;
    const TuiSplit *sp = r ? split_find(m, r->split_id) : NULL;
    if (r && !r->model && !ld->run_rc && ld->model && sp) {
        r->model = ld->model;
        ld->model = NULL;
        r->train = sp->train;
        r->test = sp->test;
    } else if (r && !r->model && ld->run_rc) {
        r->failed = 1;
        snprintf(r->err, sizeof r->err, "%s", ld->err);
    }
    loader_discard(ld);
    m->gen++;
    return 1;
}

const RsDataset *tui_models_dataset(TuiModels *m, RsErr *err)
{
    if (!m)
        return NULL;
    if (m->d)
        return m->d;
    if (m->d_failed) {
        rs_err_set(err, RS_EIO, "%s", m->d_err[0] ? m->d_err : "cannot load the dataset");
        return NULL;
    }
    int rc = loader_start(m, NULL, err);
    if (rc == TUI_MODELS_LOADING)
        rs_err_set(err, rc, "loading the dataset...");
    return NULL;
}

int tui_models_load(TuiModels *m, size_t k, RsErr *err)
{
    TuiRun *r = tui_models_run(m, k);
    if (!r)
        return rs_err_set(err, RS_ENOTFOUND, "no such run");
    if (r->model)
        return RS_OK;
    if (r->failed)
        return rs_err_set(err, RS_EUSAGE, "%s", r->err);
    if (m->d_failed)
        return rs_err_set(err, RS_EIO, "%s", m->d_err[0] ? m->d_err : "cannot load the dataset");
    int rc = loader_start(m, r, err);
    if (rc == TUI_MODELS_LOADING)
        rs_err_set(err, rc, "loading %s%.120s...", m->d ? "run " : "the dataset and run ",
                   r->name);
    return rc;
}

int tui_models_train_part(TuiModels *m, const RsMatrix **train, const char **split,
                          RsErr *err)
{
    size_t k;
    *train = NULL;
    *split = NULL;
    if (!m || m->nruns == 0)
        return rs_err_set(err, RS_ENOTFOUND, "no finished run");
    if (tui_models_selected(m, &k, 1) == 0)
        k = m->nruns - 1;
    int rc = tui_models_load(m, k, err); /* the run's split comes with it */
    if (rc)
        return rc;
    const TuiRun *r = &m->runs[k];
    *train = r->train;
    *split = r->split;
    return RS_OK;
}

/* --- indices and labels ------------------------------------------------------------------- */

/* Index of id in the ascending array ids[n], or -1. */
static long find_id(const int64_t *ids, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id ? (long)lo : -1;
}

long tui_models_user(TuiModels *m, int64_t db_id)
{
    return m && m->d ? find_id(m->d->cat->user_db, m->d->cat->U, db_id) : -1;
}

long tui_models_item(TuiModels *m, int64_t db_id)
{
    return m && m->d ? find_id(m->d->cat->item_db, m->d->cat->I, db_id) : -1;
}

const char *tui_models_item_label(const TuiModels *m, uint32_t i)
{
    if (!m || !m->d || i >= m->d->cat->I)
        return "?";
    const char *t = m->d->cat->item_title ? m->d->cat->item_title[i] : NULL;
    return t && *t ? t : m->d->cat->item_ext[i];
}

int tui_models_hit(const TuiRun *r, uint32_t u, uint32_t i)
{
    return r && r->test && u < r->test->U && rs_matrix_find(r->test, u, i) != (size_t)-1;
}

/* --- the notice ---------------------------------------------------------------------------- */

void tui_models_notice(const char *msg)
{
    if (!stdscr || LINES < TUI_MIN_LINES || COLS < TUI_MIN_COLS)
        return;
    int w = tui_text_width(msg) + 4;
    w = w < COLS ? w : COLS;
    TuiRect box = { LINES / 2 - 1, (COLS - w) / 2, 3, w };
    WINDOW *saved = dupwin(stdscr); /* what is being drawn, to put back */
    tui_clear(&box);
    tui_frame(&box, NULL);
    tui_put(&box, 1, 2, COL_VALUE, msg);
    attrset(A_NORMAL);
    refresh();
    if (saved) {
        overwrite(saved, stdscr);
        delwin(saved);
    }
}

void tui_models_placeholder(TuiModels *m, size_t k, TuiRecList *out)
{
    RsErr e;
    rs_err_clear(&e);
    memset(out, 0, sizeof *out);
    out->run = k;
    if (tui_models_dataset(m, &e) && tui_models_load(m, k, &e) == RS_OK)
        rs_err_set(&e, TUI_MODELS_LOADING, "loading...");
    out->loading = e.code == TUI_MODELS_LOADING;
    snprintf(out->err, sizeof out->err, "%.150s", e.msg[0] ? e.msg : "no dataset");
}

TuiScreen *tui_models_screen_new(Store *store, int kind)
{
    TuiModels *m = store ? tui_models_for(store) : tui_models_current();
    if (!m)
        return NULL;
    switch (kind) {
    case TUI_SCREEN_COMPARE: return tui_compare_new(m->store, -1);
    case TUI_SCREEN_WHATIF: return tui_whatif_new(m->store, -1);
    case TUI_SCREEN_RUNSEL: return tui_runsel_new(m->store);
    default: return NULL;
    }
}

/* --- recommendation lists ------------------------------------------------------------------ */

int tui_models_recommend(TuiModels *m, size_t k, long u, const RsProfile *p, size_t K,
                         TuiRecList *out)
{
    RsErr e;
    rs_err_clear(&e);
    memset(out, 0, sizeof *out);
    out->run = k;
    K = K > TUI_RECS_MAXK ? TUI_RECS_MAXK : K;
    int rc = tui_models_load(m, k, &e);
    const TuiRun *r = tui_models_run(m, k);
    if (!rc && u >= 0)
        rc = model_recommend(r->model, r->train, (uint32_t)u, K, 1, out->recs, &out->n, &e);
    else if (!rc && !(r->model->cls->flags & MODEL_FOLDIN))
        rc = rs_err_set(&e, RS_EUSAGE, "%s cannot fold in a new user", r->model->cls->name);
    else if (!rc)
        rc = model_recommend_profile(r->model, r->train, p, K, 1, out->recs, &out->n, &e);
    if (rc) {
        out->n = 0;
        out->loading = rc == TUI_MODELS_LOADING;
        snprintf(out->err, sizeof out->err, "%.150s", e.msg[0] ? e.msg : "cannot recommend");
        return rc;
    }
    out->ok = 1;
    return RS_OK;
}

/* Rank (0-based) of item in l, or -1. */
static long list_rank(const TuiRecList *l, uint32_t item)
{
    for (size_t q = 0; q < l->n; q++)
        if (l->recs[q].item == item)
            return (long)q;
    return -1;
}

int tui_models_draw_recs(TuiModels *m, const TuiRect *r, int row, int x, int w,
                         const TuiRecList *l, long u, int cursor, const TuiRecList *others,
                         size_t nothers, const TuiRecList *base)
{
    TuiRect col = { r->y, r->x + x, r->h, w };
    if (!l->ok) {
        tui_put(&col, row, 0, l->loading ? COL_DIM : COL_ERROR, l->err);
        return 1;
    }
    if (l->n == 0) {
        tui_put(&col, row, 0, COL_DIM, "no recommendation");
        return 1;
    }
    const TuiRun *run = tui_models_run(m, l->run);
    int drawn = 0;
    for (size_t k = 0; k < l->n && row + drawn < r->h; k++, drawn++) {
        uint32_t i = l->recs[k].item;
        int hit = u >= 0 && tui_models_hit(run, (uint32_t)u, i), every = nothers > 0;
        for (size_t o = 0; o < nothers; o++)
            every &= list_rank(&others[o], i) >= 0;
        char change[8] = "";
        if (base && base->ok) {
            long was = list_rank(base, i);
            if (was < 0)
                snprintf(change, sizeof change, "new");
            else if (was != (long)k)
                snprintf(change, sizeof change, "%+ld", was - (long)k);
        }
        int y = row + drawn, sel = (long)k == cursor;
        TuiElem plain = sel ? COL_SELECTED : COL_DEFAULT;
        if (sel)
            tui_fill(&col, y, COL_SELECTED);
        int cx = tui_printf(&col, y, 0, sel ? COL_SELECTED : COL_DIM, "%2zu", k + 1);
        cx += tui_put(&col, y, cx, sel ? COL_SELECTED : COL_VALUE, hit ? "*" : " ");
        if (nothers > 0 || base)
            cx += tui_put(&col, y, cx, sel ? COL_SELECTED : COL_HEADER, every ? "=" : " ");
        cx += tui_put(&col, y, cx, plain, " ");
        int tw = col.w - cx - (change[0] ? 4 : 0);
        TuiRect tr = { col.y, col.x + cx, col.h, tw > 0 ? tw : 0 };
        tui_put_clip(&tr, y, 0, every ? (sel ? COL_SELECTED : COL_HEADER) : plain,
                     tui_models_item_label(m, i));
        if (change[0])
            tui_put_right(&col, y, col.w, sel ? COL_SELECTED : COL_DIM, change);
    }
    return drawn;
}

int tui_models_similar(TuiModels *m, size_t k, uint32_t item, size_t K, TuiRecList *out)
{
    RsErr e;
    rs_err_clear(&e);
    memset(out, 0, sizeof *out);
    out->run = k;
    K = K > TUI_RECS_MAXK ? TUI_RECS_MAXK : K;
    float *scores = NULL;
    int rc = tui_models_load(m, k, &e);
    const TuiRun *r = tui_models_run(m, k);
    if (!rc && !r->model->cls->similar)
        rc = rs_err_set(&e, RS_EUSAGE, "%s has no item similarity", r->model->cls->name);
    if (!rc && item >= r->model->I)
        rc = rs_err_set(&e, RS_EUSAGE, "no such item");
    if (!rc && !(scores = malloc(r->model->I * sizeof *scores)))
        rc = rs_err_set(&e, RS_ENOMEM, "out of memory");
    if (!rc)
        rc = r->model->cls->similar(r->model, r->train, item, scores, &e);
    if (!rc) {
        scores[item] = -INFINITY;
        out->n = topk(scores, r->model->I, NULL, K, out->recs);
        out->ok = 1;
    } else {
        out->loading = rc == TUI_MODELS_LOADING;
        snprintf(out->err, sizeof out->err, "%.150s", e.msg[0] ? e.msg : "no similar items");
    }
    free(scores);
    return rc;
}

TuiIntent tui_models_intent(int key)
{
    int kind = key == 'c' ? TUI_SCREEN_COMPARE : key == 'w' ? TUI_SCREEN_WHATIF
                                                            : TUI_SCREEN_RUNSEL;
    TuiScreen *s = the_cache ? tui_models_screen_new(NULL, kind) : NULL;
    TuiIntent in = s ? tui_intent_open(s) : tui_intent(TUI_INTENT_GOTO | TUI_INTENT_REDRAW);
    in.go = kind;
    return in;
}

unsigned tui_models_tick(TuiModels **m, Store *store)
{
    TuiModels *c = tui_models_for(store);
    if (!c)
        return TUI_INTENT_NONE;
    unsigned gen = c->gen;
    tui_models_refresh(c, NULL);
    if (!*m && c->nruns > 0) {
        *m = c;
        return TUI_INTENT_RESIZE | TUI_INTENT_REDRAW;
    }
    return gen != c->gen ? TUI_INTENT_REDRAW : TUI_INTENT_NONE;
}
