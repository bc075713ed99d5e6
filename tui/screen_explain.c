/*
 * screen_explain.c - why a run recommends an item to a user (or to a
 * what-if profile): the score, the item's rank among the unseen items, the
 * method line, then the contributions (history items, neighbours, terms,
 * factors or named parts) largest first, each with a bar for its share of
 * the sum of |contributions|; contributions of value 0 that carry a
 * similarity (the nearest history items of MF / BPR, which explain nothing
 * additively) are listed apart, most similar first. j/k scroll.
 *
 * The explanation is computed once, when the screen opens (model_explain
 * over a model the cache has loaded already).
 */
#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui_models.h"
#include "tui_screen.h"
#include "tui_table.h"
#include "tui_theme.h"

typedef struct ExplainScreen {
    TuiScreen base;
    TuiModels *models;
    int64_t run_id;
    long run;      /* index in the cache's run list, -1 when gone (see explain_run) */
    long user;     /* dataset index, -1 for a profile */
    uint32_t item;
    size_t nprof;  /* profile size (user < 0) */
    RsExplanation e;
    int ok;
    int pending;   /* the run is loading: explain_try again on the next draw */
    uint32_t *prof; /* (nprof) the profile, when user < 0 */
    char err[RS_ERRLEN];
    size_t *order; /* (e.n) the contributions shown: scored ones, then the nearest */
    size_t nscored, nnear;
    int top;       /* first line of the list shown */
    int page;      /* list rows, from the last draw */
} ExplainScreen;

static const TuiKeyTable *const explain_shared[] = { &tui_table_keys, &tui_nav_keys, NULL };

static int is_near(const RsContribution *c)
{
    return c->value == 0 && !isnan(c->similarity);
}

static const RsExplanation *sort_ctx;

static int cmp_near(const void *a, const void *b)
{
    float x = sort_ctx->c[*(const size_t *)a].similarity;
    float y = sort_ctx->c[*(const size_t *)b].similarity;
    return (x < y) - (x > y);
}

static void contrib_label(const ExplainScreen *es, const RsContribution *c, char *buf, size_t n)
{
    const RsDataset *d = tui_models_dataset(es->models, NULL);
    switch (c->kind) {
    case EXPL_ITEM: snprintf(buf, n, "%s", tui_models_item_label(es->models, c->index)); break;
    case EXPL_USER:
        snprintf(buf, n, "user %s", d && c->index < d->cat->U ? d->cat->user_ext[c->index] : "?");
        break;
    case EXPL_FACTOR: snprintf(buf, n, "factor %u", c->index); break;
    default: snprintf(buf, n, "%s", c->label); break;
    }
}

/* The run, looked up by id: the list may have changed since. */
static const TuiRun *explain_run(const ExplainScreen *es)
{
    long k = tui_models_find(es->models, es->run_id);
    return k >= 0 ? tui_models_run(es->models, (size_t)k) : NULL;
}

static void draw_head(const ExplainScreen *es, const TuiRect *r)
{
    const TuiRun *run = explain_run(es);
    const RsDataset *d = tui_models_dataset(es->models, NULL);
    char title[256], who[160], sc[200];
    if (es->user >= 0 && d)
        snprintf(who, sizeof who, "user %s", d->cat->user_ext[es->user]);
    else
        snprintf(who, sizeof who, "a what-if user of %zu items", es->nprof);
    snprintf(title, sizeof title, "Why %s", tui_models_item_label(es->models, es->item));
    snprintf(sc, sizeof sc, "for %s", who);
    tui_heading(r, 0, title, sc);
    tui_printf(r, 1, 0, COL_LABEL, "under %s (%s)", run ? run->name : "?", run ? run->algo : "?");
    if (!es->ok) {
        tui_put(r, 3, 0, es->pending ? COL_DIM : COL_ERROR, es->err);
        return;
    }
    int x = tui_printf(r, 2, 0, COL_LABEL, "score ");
    x += tui_printf(r, 2, x, COL_VALUE, "%.4g", es->e.score);
    if (es->e.rank > 0)
        x += tui_printf(r, 2, x, COL_LABEL, "  %s rank %ld among the unseen items",
                        tui_glyphs()->sep, es->e.rank);
    else
        x += tui_printf(r, 2, x, COL_DIM, "  (not ranked: seen, or no score)");
    if (es->user >= 0 && tui_models_hit(run, (uint32_t)es->user, es->item))
        tui_put(r, 2, x, COL_VALUE, "  * a held-out test item");
    tui_put(r, 3, 0, COL_DIM, es->e.method);
    if (es->e.additive)
        tui_printf(r, 4, 0, COL_DIM, "the contributions%s add up to the score",
                   es->e.bias != 0 ? " plus the baseline" : "");
    if (es->e.bias != 0)
        tui_printf(r, 4, r->w / 2 + 8, COL_DIM, "baseline %.4g", es->e.bias);
}

/* One line of the list: a heading, a scored contribution or a near item. */
static void draw_line(const ExplainScreen *es, const TuiRect *r, int row, size_t line,
                      double total)
{
    char label[256];
    int bw = r->w >= 70 ? 20 : 10;
    if (line == 0 || line == es->nscored + 1) {
        if (line == 0)
            tui_heading(r, row, "Contributions", "value, share of the score");
        else
            tui_heading(r, row, "Nearest history items", "similarity; no share of the score");
        return;
    }
    size_t k = line <= es->nscored ? es->order[line - 1] : es->order[line - 2];
    const RsContribution *c = &es->e.c[k];
    contrib_label(es, c, label, sizeof label);
    if (line > es->nscored) {
        int x = tui_printf(r, row, 2, COL_VALUE, "%6.3f", c->similarity);
        tui_put_clip(r, row, x + 4, COL_DEFAULT, label);
        return;
    }
    double share = total > 0 ? fabs(c->value) / total : 0;
    int x = tui_printf(r, row, 0, COL_VALUE, "%+10.4g", c->value);
    x += tui_printf(r, row, x, COL_LABEL, " %5.1f%% ", share * 100);
    tui_hbar(r, row, x, bw, share, c->value < 0 ? COL_BAR_ALT : COL_BAR, COL_TRACK);
    x += bw + 1;
    char sim[32] = "";
    if (!isnan(c->similarity))
        snprintf(sim, sizeof sim, "  (sim %.3f)", c->similarity);
    if (x + tui_text_width(label) + tui_text_width(sim) > r->w)
        sim[0] = '\0'; /* narrow: the label first */
    x += tui_put_clip(r, row, x, COL_DEFAULT, label);
    if (sim[0])
        tui_put(r, row, x, COL_DIM, sim);
}

static void explain_try(ExplainScreen *es);

static void explain_draw(TuiScreen *s, const TuiRect *body)
{
    ExplainScreen *es = (ExplainScreen *)s;
    if (es->pending)
        explain_try(es);
    int pad = body->h > 16;
    TuiRect head = { body->y + pad, body->x + 1, 5, body->w - 2 };
    draw_head(es, &head);
    if (!es->ok)
        return;
    TuiRect list = { head.y + 6, body->x + 1, body->y + body->h - head.y - 6, body->w - 2 };
    es->page = list.h;
    double total = 0;
    for (size_t k = 0; k < es->e.n; k++)
        total += fabs(es->e.c[k].value);
    size_t lines = 1 + es->nscored + (es->nnear ? 1 + es->nnear : 0);
    if (es->nscored == 0) {
        tui_heading(&list, 0, "Contributions", NULL);
        tui_put(&list, 1, 2, COL_DIM, "none: the score has no per-part breakdown");
        return;
    }
    for (int row = 0; row < list.h && (size_t)(es->top + row) < lines; row++)
        draw_line(es, &list, row, (size_t)(es->top + row), total);
}

static TuiIntent explain_key(TuiScreen *s, int action, int key)
{
    ExplainScreen *es = (ExplainScreen *)s;
    int lines = (int)(1 + es->nscored + (es->nnear ? 1 + es->nnear : 0));
    int most = lines - es->page > 0 ? lines - es->page : 0, top = es->top;
    switch (action) {
    case TUI_ACT_MOVE: top += key == KEY_UP || key == 'k' ? -1 : 1; break;
    case TUI_ACT_PAGE:
        top += (key == KEY_PPAGE || key == ('b' & 0x1f) ? -1 : 1) * (es->page > 1 ? es->page - 1 : 1);
        break;
    case TUI_ACT_ENDS: top = key == KEY_HOME || key == 'g' ? 0 : most; break;
    default: return tui_intent(TUI_INTENT_UNHANDLED);
    }
    top = top > most ? most : top < 0 ? 0 : top;
    if (top == es->top)
        return tui_intent(TUI_INTENT_NONE);
    es->top = top;
    return tui_intent(TUI_INTENT_REDRAW);
}

static void explain_free(TuiScreen *s)
{
    ExplainScreen *es = (ExplainScreen *)s;
    if (es) {
        rs_explanation_done(&es->e);
        free(es->order);
        free(es->prof);
        free(es);
    }
}

static const TuiScreenClass explain_class = {
    .name = "Explain",
    .shared = explain_shared,
    .draw = explain_draw,
    .handle_key = explain_key,
    .free = explain_free,
};

/* Runs model_explain and orders what it gave. */
static int explain_make(ExplainScreen *es, const uint32_t *items, size_t n, RsErr *err)
{
    int rc = tui_models_load(es->models, (size_t)es->run, err);
    if (rc)
        return rc;
    const TuiRun *run = tui_models_run(es->models, (size_t)es->run);
    const RsDataset *d = tui_models_dataset(es->models, err);
    RsProfile p = { n, items, NULL };
    if (es->user >= 0)
        p = rs_profile_of_user(run->train, (uint32_t)es->user);
    if (es->user < 0 && !(run->model->cls->flags & MODEL_FOLDIN))
        return rs_err_set(err, RS_EUSAGE, "%s cannot fold in a new user", run->model->cls->name);
    rc = model_explain(run->model, run->train, d->cat, es->user, &p, es->item, &es->e, err);
    if (rc)
        return rc;
    rs_explanation_sort(&es->e, 0);
    if (!(es->order = malloc((es->e.n ? es->e.n : 1) * sizeof *es->order)))
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t k = 0; k < es->e.n; k++)
        if (!is_near(&es->e.c[k]))
            es->order[es->nscored++] = k;
    for (size_t k = 0; k < es->e.n; k++)
        if (is_near(&es->e.c[k]))
            es->order[es->nscored + es->nnear++] = k;
    sort_ctx = &es->e;
    qsort(es->order + es->nscored, es->nnear, sizeof *es->order, cmp_near);
    return RS_OK;
}

TuiScreen *tui_explain_new(Store *store, int64_t run_id, long user, const uint32_t *items,
                           size_t n, uint32_t item)
{
    ExplainScreen *es = calloc(1, sizeof *es);
    RsErr err;
    rs_err_clear(&err);
    if (!es)
        return NULL;
    es->base.cls = &explain_class;
    es->models = tui_models_for(store);
    es->run_id = run_id;
    es->run = tui_models_find(es->models, run_id);
    es->user = user;
    es->item = item;
    es->nprof = n;
    rs_explanation_init(&es->e);
    if (n && !(es->prof = malloc(n * sizeof *es->prof))) {
        free(es);
        return NULL;
    }
    if (n)
        memcpy(es->prof, items, n * sizeof *es->prof);
    if (!es->models || es->run < 0)
        snprintf(es->err, sizeof es->err, "no such run");
    else
        explain_try(es);
    return &es->base;
}

/* Explains once the run is loaded; until then says it is loading. */
static void explain_try(ExplainScreen *es)
{
    RsErr err;
    rs_err_clear(&err);
    es->run = tui_models_find(es->models, es->run_id); /* the list may have been re-read */
    int rc = es->run < 0 ? rs_err_set(&err, RS_ENOTFOUND, "the run is gone")
                         : tui_models_load(es->models, (size_t)es->run, &err);
    es->pending = rc == TUI_MODELS_LOADING;
    if (es->pending)
        snprintf(es->err, sizeof es->err, "%s", err.msg);
    else if (rc || explain_make(es, es->prof, es->nprof, &err))
        snprintf(es->err, sizeof es->err, "%s", err.msg[0] ? err.msg : "cannot explain");
    else
        es->ok = 1;
}
