/*
 * pop.c - MostPopular: every user gets the items with the most training
 * interactions. The baseline every other model must beat. Its explanation
 * is the item's popularity; fold-in is trivial (the same list for anyone).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pop.h"

typedef struct Pop {
    float *count; /* (I) training interactions of each item */
} Pop;

static const ParamSpec pop_params[] = {
    {"min_rating", PARAM_FLOAT, 0, 0, 1e9,
     NULL, "count only interactions rated at least this (0: all)"},
};

static int pop_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    Pop *p = calloc(1, sizeof *p);
    if (!p || !(p->count = calloc(m->I ? m->I : 1, sizeof *p->count))) {
        free(p);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    double min_rating = model_param(m, "min_rating");
    const RsMatrix *t = ctx->train;
    for (size_t i = 0; i < m->I; i++)
        for (size_t k = t->i_ptr[i]; k < t->i_ptr[i + 1]; k++)
            if (min_rating <= 0 || isnan(t->i_rating[k]) || t->i_rating[k] >= min_rating)
                p->count[i] += 1;
    m->state = p;
    FitProgress pr = {.phase = "counting", .fraction = 1, .loss = NAN, .valid = NAN};
    return model_fit_tick(ctx, &pr, err);
}

static int pop_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                     RsErr *err)
{
    (void)train;
    (void)u;
    (void)err;
    memcpy(scores, ((const Pop *)m->state)->count, m->I * sizeof *scores);
    return RS_OK;
}

static int pop_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                             float *scores, RsErr *err)
{
    (void)p;
    return pop_score(m, train, 0, scores, err);
}

static int pop_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat, long user,
                       const RsProfile *p, uint32_t item, RsExplanation *e, RsErr *err)
{
    (void)train;
    (void)cat;
    (void)user;
    (void)p;
    float c = ((const Pop *)m->state)->count[item];
    e->score = c;
    e->additive = 1;
    snprintf(e->method, sizeof e->method,
             "MostPopular: the score is the number of training interactions with the item");
    if (rs_explanation_add(e, EXPL_PART, 0, "popularity", c, NAN))
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    return RS_OK;
}

static int pop_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    (void)err;
    blob_put_f32s(b, ((const Pop *)m->state)->count, m->I);
    return RS_OK;
}

static int pop_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    Pop *p = calloc(1, sizeof *p);
    if (!p || !(p->count = malloc((m->I ? m->I : 1) * sizeof *p->count))) {
        free(p);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    m->state = p;
    if (blob_get_f32s(r, p->count, m->I))
        return rs_err_set(err, RS_EPARSE, "pop model blob damaged (counts)");
    for (size_t i = 0; i < m->I; i++)
        if (p->count[i] < 0)
            return rs_err_set(err, RS_EPARSE, "pop model blob damaged (negative count)");
    return RS_OK;
}

static void pop_free(RsModel *m)
{
    Pop *p = m->state;
    if (p)
        free(p->count);
    free(p);
    m->state = NULL;
}

const ModelClass model_pop = {
    .name = "pop",
    .title = "MostPopular: the most interacted-with items, for everyone",
    .params = pop_params,
    .nparams = RS_ARRAY_LEN(pop_params),
    .flags = MODEL_FOLDIN | MODEL_ADDITIVE,
    .format_version = 1,
    .fit = pop_fit,
    .score = pop_score,
    .score_profile = pop_score_profile,
    .explain = pop_explain,
    .save = pop_save,
    .load = pop_load,
    .free_state = pop_free,
};
