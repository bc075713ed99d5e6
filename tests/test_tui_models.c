/* test_tui_models.c - the TUI's model cache without a terminal: the run
 * list (done runs only), the default and bounded selection, lazy loading
 * of the dataset, split parts and models, index lookups, held-out hits,
 * top-K lists for a user and for a what-if profile, and similar items.
 *
 * A small database is built through the store and engine APIs: 4 users, 6
 * items, a hand-made split (each user's last item held out), a MostPopular
 * run, an ItemKNN run, and a run left 'failed' that must not be listed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "model.h"
#include "persist.h"
#include "split.h"
#include "testutil.h"
#include "tui_models.h"

static const char interactions[] =
    "user_id,item_id,rating,timestamp\n"
    "u1,i1,5,1\nu1,i2,4,2\nu1,i3,3,3\n"
    "u2,i1,4,4\nu2,i2,2,5\nu2,i4,5,6\n"
    "u3,i1,3,7\nu3,i2,5,8\nu3,i5,1,9\n"
    "u4,i1,4,10\nu4,i3,4,11\nu4,i6,2,12\n";

/* Trains cls on train and records it as a finished run called name. */
static void add_run(Store *s, const char *name, const char *algo, int64_t split_id,
                    const RsMatrix *train, const RsCatalog *cat, const char *status)
{
    RsErr err = { 0 };
    const ModelClass *cls = model_class_find(algo);
    ParamValues pv;
    RsModel *m = NULL;
    RsBlob blob;
    int64_t id;
    assert_non_null(cls);
    assert_int_equal(params_parse(cls->params, cls->nparams, NULL, 0, &pv, &err), RS_OK);
    assert_int_equal(model_new(cls, train->U, train->I, &pv, 42, &m, &err), RS_OK);
    FitContext ctx = { .train = train, .cat = cat, .nthreads = 1 };
    assert_int_equal(model_fit(m, &ctx, &err), RS_OK);
    blob_init(&blob);
    assert_int_equal(model_save(m, &blob, &err), RS_OK);
    assert_int_equal(store_run_create(s, name, algo, "{}", split_id, "cpu", 42, &id, &err), RS_OK);
    assert_int_equal(store_run_finish(s, id, status, NULL, 0.1, blob.data, blob.len,
                                      (int)cls->format_version, &err),
                     RS_OK);
    blob_done(&blob);
    model_free(m);
}

/* Waits for the worker as the event loop does (poll on its pipe, then
 * drain) until run k is loaded or failed; returns what tui_models_load
 * says in the end. */
static int load_wait(TuiModels *m, size_t k)
{
    int rc;
    while ((rc = tui_models_load(m, k, NULL)) == TUI_MODELS_LOADING) {
        struct pollfd pfd = { tui_models_fd(m), POLLIN, 0 };
        assert_true(pfd.fd >= 0);
        assert_true(poll(&pfd, 1, 60000) == 1);
        tui_models_drain(m);
    }
    return rc;
}

static void test_cache(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    char *csv = tu_write(dir, "interactions.csv", interactions, (size_t)-1);
    char *db = tu_path(dir, "t.db");
    Store *s = NULL;
    RsDataset *d = NULL;
    RsMatrix *train = NULL;
    RsErr err = { 0 };
    ImportOptions o;
    import_options_default(&o);
    o.format = IMPORT_CSV;
    const char *paths[] = { csv };
    assert_int_equal(store_open(&s, db, STORE_OPEN_CREATE, &err), RS_OK);
    assert_int_equal(store_import(s, paths, 1, &o, NULL, &err), RS_OK);
    assert_int_equal(store_load_dataset(s, &d, &err), RS_OK);
    /* each user's last item (in CSR order) held out */
    uint8_t *part = calloc(d->all->NNZ, 1);
    for (uint32_t u = 0; u < d->all->U; u++)
        part[d->all->u_ptr[u + 1] - 1] = SPLIT_TEST;
    assert_int_equal(store_split_save(s, "half", "random", "{}", 1, d, part, 0, &err), RS_OK);
    StoreSplitInfo info;
    assert_int_equal(store_split_info(s, "half", &info, &err), RS_OK);
    assert_int_equal(rs_matrix_select(d->all, part, SPLIT_TRAIN, &train, &err), RS_OK);
    add_run(s, "pop-a", "pop", info.id, train, d->cat, "done");
    add_run(s, "knn-b", "itemknn", info.id, train, d->cat, "done");
    add_run(s, "bad-c", "pop", info.id, train, d->cat, "failed");

    TuiModels *m = tui_models_for(s);
    assert_non_null(m);
    assert_ptr_equal(tui_models_current(), m);
    assert_false(tui_models_ready(m));
    /* done runs only, oldest first; the newest selected by default */
    assert_int_equal(tui_models_nruns(m), 2);
    assert_string_equal(tui_models_run(m, 0)->name, "pop-a");
    assert_string_equal(tui_models_run(m, 1)->name, "knn-b");
    size_t sel[TUI_MODELS_MAXSEL];
    assert_int_equal(tui_models_selected(m, sel, TUI_MODELS_MAXSEL), 1);
    assert_int_equal(sel[0], 1);
    unsigned gen = tui_models_gen(m);
    tui_models_toggle(m, 0);
    assert_int_not_equal(tui_models_gen(m), gen);
    assert_int_equal(tui_models_selected(m, sel, TUI_MODELS_MAXSEL), 2);
    assert_int_equal(sel[0], 1);
    assert_int_equal(sel[1], 0);
    tui_models_toggle(m, 1); /* unselect */
    assert_int_equal(tui_models_selected(m, sel, TUI_MODELS_MAXSEL), 1);
    assert_int_equal(sel[0], 0);
    /* a refresh keeps the selection */
    assert_int_equal(tui_models_refresh(m, &err), RS_OK);
    assert_int_equal(tui_models_selected(m, sel, TUI_MODELS_MAXSEL), 1);
    assert_int_equal(sel[0], 0);
    /* an empty selection the analyst made stays empty */
    tui_models_toggle(m, 0);
    assert_int_equal(tui_models_refresh(m, &err), RS_OK);
    assert_int_equal(tui_models_selected(m, sel, TUI_MODELS_MAXSEL), 0);
    tui_models_toggle(m, 0);

    /* loading on the worker: the first call starts it and says so, the
     * pipe wakes the caller, the drain moves the dataset, the split parts
     * and the model into the cache */
    assert_int_equal(tui_models_fd(m), -1);
    assert_int_equal(tui_models_load(m, 0, &err), TUI_MODELS_LOADING);
    assert_true(tui_models_loading(m));
    assert_int_equal(tui_models_load(m, 1, &err), TUI_MODELS_LOADING); /* busy: later */
    assert_int_equal(load_wait(m, 0), RS_OK);
    assert_false(tui_models_loading(m));
    assert_true(tui_models_ready(m));
    assert_int_equal(tui_models_fd(m), -1);
    const TuiRun *pop = tui_models_run(m, 0);
    assert_non_null(pop->model);
    assert_int_equal(pop->train->NNZ, 8);
    assert_int_equal(pop->test->NNZ, 4);
    long u1 = tui_models_user(m, d->cat->user_db[0]);
    long i1 = tui_models_item(m, d->cat->item_db[0]);
    assert_int_equal(u1, 0);
    assert_int_equal(i1, 0);
    assert_int_equal(tui_models_user(m, -5), -1);
    assert_string_equal(tui_models_item_label(m, 0), "i1");

    /* u1 trained on i1, i2 and holds out i3: its list leaves the seen
     * items out, and i3 in it is the one hit */
    TuiRecList l;
    assert_int_equal(tui_models_recommend(m, 0, u1, NULL, 10, &l), RS_OK);
    assert_true(l.ok);
    assert_int_equal(l.n, 4); /* six items less the two seen */
    int hits = 0;
    for (size_t k = 0; k < l.n; k++) {
        assert_int_not_equal(l.recs[k].item, 0);
        assert_int_not_equal(l.recs[k].item, 1);
        hits += tui_models_hit(pop, (uint32_t)u1, l.recs[k].item);
    }
    assert_int_equal(hits, 1);
    assert_true(tui_models_hit(pop, 0, 2));
    assert_false(tui_models_hit(pop, 0, 0));

    /* a what-if profile of one item, under a run not loaded yet: a
     * placeholder first, then the list */
    uint32_t items[] = { 0 };
    RsProfile p = { 1, items, NULL };
    assert_int_equal(tui_models_recommend(m, 1, -1, &p, 3, &l), TUI_MODELS_LOADING);
    assert_false(l.ok);
    assert_true(l.loading);
    assert_int_equal(load_wait(m, 1), RS_OK);
    assert_int_equal(tui_models_recommend(m, 1, -1, &p, 3, &l), RS_OK);
    assert_true(l.ok);
    assert_true(l.n >= 1 && l.n <= 3);
    for (size_t k = 0; k < l.n; k++)
        assert_int_not_equal(l.recs[k].item, 0);

    /* similar items: ItemKNN has them, MostPopular says it has none */
    assert_int_equal(tui_models_similar(m, 1, 0, 5, &l), RS_OK);
    assert_true(l.ok);
    for (size_t k = 0; k < l.n; k++)
        assert_int_not_equal(l.recs[k].item, 0);
    assert_int_not_equal(tui_models_similar(m, 0, 0, 5, &l), RS_OK);
    assert_false(l.ok);
    assert_non_null(strstr(l.err, "no item similarity"));

    /* selecting again appends */
    tui_models_toggle(m, 1);
    assert_int_equal(tui_models_selected(m, sel, TUI_MODELS_MAXSEL), 2);

    rs_matrix_free(train);
    free(part);
    rs_dataset_free(d);
    store_close(s); /* the cache keeps no statement open */
    free(csv);
    free(db);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
