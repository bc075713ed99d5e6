/* session.c - store + dataset + split + run, loaded on demand. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "split.h"

int session_open(Session *se, const char *db, int readonly, RsErr *err)
{
    memset(se, 0, sizeof *se);
    int rc = store_open(&se->store, db, readonly ? STORE_OPEN_READONLY : 0, err);
    if (!rc)
        rc = store_load_dataset(se->store, &se->d, err);
    if (!rc && se->d->all->NNZ == 0)
        rc = rs_err_set(err, RS_EUSAGE, "%s: no interactions (import some first)", db);
    return rc;
}

int session_split(Session *se, const char *name, RsErr *err)
{
    const RsMatrix *all = se->d->all;
    free(se->part);
    rs_matrix_free(se->train);
    rs_matrix_free(se->test);
    rs_matrix_free(se->valid);
    se->train = se->test = se->valid = NULL;
    if (!(se->part = malloc(all->NNZ ? all->NNZ : 1)))
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = store_split_load(se->store, name, se->d, se->part, &se->split, err);
    if (rc)
        return rc;
    if (se->split.folds)
        return rs_err_set(err, RS_EUSAGE,
                          "split \"%s\" is a %d-fold cross-validation split: use 'recscope cv'",
                          name, se->split.folds);
    if ((rc = rs_matrix_select(all, se->part, SPLIT_TRAIN, &se->train, err)) ||
        (rc = rs_matrix_select(all, se->part, SPLIT_TEST, &se->test, err)))
        return rc;
    if (se->split.n_valid > 0)
        rc = rs_matrix_select(all, se->part, SPLIT_VALID, &se->valid, err);
    return rc;
}

int session_run(Session *se, const char *name, RsErr *err)
{
    int rc = store_run_get(se->store, name, 1, &se->run, err);
    if (rc)
        return rc;
    if (strcmp(se->run.status, "done") != 0)
        return rs_err_set(err, RS_EUSAGE, "run \"%s\" is %s%s%s", name, se->run.status,
                          se->run.error ? ": " : "", se->run.error ? se->run.error : "");
    if (!se->run.split_name)
        return rs_err_set(err, RS_EUSAGE, "run \"%s\" has no split", name);
    if ((rc = session_split(se, se->run.split_name, err)))
        return rc;
    rc = model_load(se->run.model, se->run.model_len, se->d->all->U, se->d->all->I, &se->model,
                    err);
    if (rc) {
        RsErr inner = *err;
        return rs_err_set(err, rc, "run \"%s\": %s", name, inner.msg);
    }
    return RS_OK;
}

void session_close(Session *se)
{
    model_free(se->model);
    store_run_done(&se->run);
    rs_matrix_free(se->train);
    rs_matrix_free(se->test);
    rs_matrix_free(se->valid);
    free(se->part);
    rs_dataset_free(se->d);
    store_close(se->store);
    memset(se, 0, sizeof *se);
}

int session_user(const Session *se, const char *ext, uint32_t *u, RsErr *err)
{
    long k = rs_catalog_user(se->d->cat, ext);
    if (k < 0)
        return rs_err_set(err, RS_ENOTFOUND, "no user with id \"%s\"", ext);
    *u = (uint32_t)k;
    return RS_OK;
}

int session_item(const Session *se, const char *ext, uint32_t *i, RsErr *err)
{
    long k = rs_catalog_item(se->d->cat, ext);
    if (k < 0)
        return rs_err_set(err, RS_ENOTFOUND, "no item with id \"%s\"", ext);
    *i = (uint32_t)k;
    return RS_OK;
}

const char *session_item_label(const Session *se, uint32_t i)
{
    const char *t = se->d->cat->item_title[i];
    return t ? t : se->d->cat->item_ext[i];
}
