/*
 * screen_newrun.c - the new-run form: the algorithm (cycled through the
 * model registry), its hyper-parameters prefilled with their defaults and
 * checked as they are typed (params_parse's message, which lists what is
 * valid, shown under the form), the split (one of the store's, or a new
 * random 80/20 split "r80" when there is none), the device, the seed and
 * the run's name. Enter starts the training in the background
 * (tui_jobs.h) and closes the form; Esc closes it.
 */
#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"
#include "tui_jobs.h"
#include "tui_screen.h"
#include "tui_theme.h"

#define FORM_VAL 64
#define FORM_DEFAULT_SPLIT "r80"

enum {
    FORM_ACT_START = TUI_ACT_SCREEN,
    FORM_ACT_FIELD, /* Down/Tab next, Up/S-Tab previous */
    FORM_ACT_CHOICE, /* Right/Space next choice, Left previous */
    FORM_ACT_ERASE,
    FORM_ACT_CLEAR,
    FORM_ACT_CANCEL,
    FORM_ACT_TYPE,
};

/* Field kinds, in order: algorithm, each parameter, split, device, seed, name. */
enum { F_ALGO, F_PARAM, F_SPLIT, F_DEVICE, F_SEED, F_NAME };

static const char *const devices[] = { "auto", "cpu", "gpu" };

typedef struct FormScreen {
    TuiScreen base;
    Store *store;
    TuiJobs *jobs;
    size_t algo;                 /* index in the registry */
    char val[MODEL_MAX_PARAMS][FORM_VAL];
    StoreSplitInfo *splits;
    size_t nsplits;
    size_t split;                /* index; nsplits: the default new split */
    int device;
    char seed[24];
    char name[TUI_JOB_NAME];
    int field;                   /* 0 .. nfields-1 */
    char err[RS_ERRLEN];
    TuiRect area;
} FormScreen;

static const TuiKey form_keys[] = {
    { '\r', "Enter", FORM_ACT_START, "Start training", TUI_KEY_HINT },
    { KEY_ENTER, "Enter", FORM_ACT_START, "Start training", 0 },
    { KEY_DOWN, "Down", FORM_ACT_FIELD, "Next / previous field", TUI_KEY_HINT },
    { KEY_UP, "Up", FORM_ACT_FIELD, "Next / previous field", 0 },
    { '\t', "Tab", FORM_ACT_FIELD, "Next / previous field", 0 },
    { KEY_BTAB, "S-Tab", FORM_ACT_FIELD, "Next / previous field", 0 },
    { KEY_RIGHT, "Right", FORM_ACT_CHOICE, "Change a choice", TUI_KEY_HINT },
    { KEY_LEFT, "Left", FORM_ACT_CHOICE, "Change a choice", 0 },
    { ' ', "Space", FORM_ACT_CHOICE, "Change a choice", 0 },
    { KEY_BACKSPACE, "BS", FORM_ACT_ERASE, "Erase a character", 0 },
    { 127, "BS", FORM_ACT_ERASE, "Erase a character", 0 },
    { 8, "^H", FORM_ACT_ERASE, "Erase a character", 0 },
    { 'u' & 0x1f, "^U", FORM_ACT_CLEAR, "Clear the field", 0 },
    { 27, "Esc", FORM_ACT_CANCEL, "Cancel", TUI_KEY_HINT },
    { TUI_KEY_ANY, "any", FORM_ACT_TYPE, "Type into the field", 0 },
};

static const ModelClass *form_cls(const FormScreen *f) { return model_class_at(f->algo); }

static int nfields(const FormScreen *f) { return (int)form_cls(f)->nparams + 5; }

/* The kind of field k; *param receives the parameter index for F_PARAM. */
static int field_kind(const FormScreen *f, int k, int *param)
{
    int np = (int)form_cls(f)->nparams;
    if (k == 0)
        return F_ALGO;
    if (k <= np) {
        *param = k - 1;
        return F_PARAM;
    }
    return F_SPLIT + (k - np - 1);
}

/* The text of choice c of "a|b|c". */
static void choice_at(const char *choices, int c, char *buf, size_t n)
{
    const char *p = choices;
    for (int i = 0; i < c && *p; i++)
        p += strcspn(p, "|") + (p[strcspn(p, "|")] == '|');
    snprintf(buf, n, "%.*s", (int)strcspn(p, "|"), p);
}

static int choice_count(const char *choices)
{
    int n = 1;
    for (const char *p = choices; *p; p++)
        n += *p == '|';
    return n;
}

static void param_default(const ParamSpec *sp, char *buf, size_t n)
{
    if (sp->type == PARAM_ENUM)
        choice_at(sp->choices, (int)sp->def, buf, n);
    else if (sp->type == PARAM_BOOL)
        snprintf(buf, n, "%s", sp->def ? "true" : "false");
    else
        snprintf(buf, n, "%g", sp->def);
}

static void set_algo(FormScreen *f, size_t algo)
{
    f->algo = algo;
    const ModelClass *c = form_cls(f);
    for (size_t k = 0; k < c->nparams; k++)
        param_default(&c->params[k], f->val[k], FORM_VAL);
    f->err[0] = '\0';
}

/* Fills spec from the form; 0, or an RS_E* code with err filled. */
static int form_spec(FormScreen *f, TuiJobSpec *spec, RsErr *err)
{
    const ModelClass *c = form_cls(f);
    memset(spec, 0, sizeof *spec);
    snprintf(spec->algo, sizeof spec->algo, "%s", c->name);
    for (size_t k = 0; k < c->nparams && k < TUI_JOB_MAXKV; k++)
        snprintf(spec->kv[spec->nkv++], sizeof spec->kv[0], "%s=%s", c->params[k].name,
                 f->val[k]);
    if (f->split < f->nsplits) {
        snprintf(spec->split, sizeof spec->split, "%s", f->splits[f->split].name);
    } else {
        snprintf(spec->split, sizeof spec->split, FORM_DEFAULT_SPLIT);
        spec->create_split = 1;
    }
    snprintf(spec->device, sizeof spec->device, "%s", devices[f->device]);
    char *end;
    spec->seed = strtoull(f->seed, &end, 10);
    if (!f->seed[0] || *end || f->seed[0] == '-')
        return rs_err_set(err, RS_EUSAGE, "seed: '%s' is not a non-negative integer", f->seed);
    snprintf(spec->name, sizeof spec->name, "%s", f->name);
    spec->evaluate = 1;
    int rc = tui_jobs_validate(spec, err);
    if (rc)
        return rc;
    StoreRun r;
    if (f->name[0] && f->store && store_run_get(f->store, f->name, 0, &r, NULL) == RS_OK) {
        store_run_done(&r);
        return rs_err_set(err, RS_EUSAGE, "name: a run called \"%s\" exists already", f->name);
    }
    return RS_OK;
}

/* Re-checks the form after an edit: the first problem, or nothing. */
static void form_check(FormScreen *f)
{
    TuiJobSpec spec;
    RsErr err;
    rs_err_clear(&err);
    f->err[0] = '\0';
    if (form_spec(f, &spec, &err) != RS_OK)
        snprintf(f->err, sizeof f->err, "%s", err.msg);
}

/* --- drawing -------------------------------------------------------------------------- */

static void form_line(FormScreen *f, int row, int k, const char *label, const char *value,
                      const char *note)
{
    const TuiRect *a = &f->area;
    int sel = k == f->field;
    char shown[FORM_VAL + 16];
    if (sel)
        tui_fill(a, row, COL_SELECTED);
    tui_printf(a, row, 0, sel ? COL_SELECTED : COL_LABEL, "%s%-16s", sel ? ">" : " ", label);
    snprintf(shown, sizeof shown, "%s%s", value, sel ? tui_glyphs()->cursor : "");
    tui_put(a, row, 18, sel ? COL_SELECTED : COL_VALUE, shown);
    if (note)
        tui_put_clip(a, row, 20 + FORM_VAL / 4 + 4, sel ? COL_SELECTED : COL_DIM, note);
    if (sel) /* the insertion point of the field being typed into */
        tui_cursor_want(a->y + row, a->x + 18 + tui_text_width(value) < a->x + a->w
                                        ? a->x + 18 + tui_text_width(value) : a->x);
}

static void form_draw(TuiScreen *s, const TuiRect *body)
{
    FormScreen *f = (FormScreen *)s;
    const ModelClass *c = form_cls(f);
    char note[160], split[200];
    (void)body;
    tui_clear(&f->area);
    tui_heading(&f->area, 0, "New run", "trains in the background; keep browsing");
    int row = 2, k = 0, n = nfields(f);
    int rows = f->area.h - 4; /* heading, blank, error lines */
    int first = f->field >= rows ? f->field - rows + 1 : 0;
    for (k = first; k < n && row < 2 + rows; k++, row++) {
        int p = 0;
        switch (field_kind(f, k, &p)) {
        case F_ALGO:
            form_line(f, row, k, "algorithm", c->name, c->title);
            break;
        case F_PARAM: {
            const ParamSpec *sp = &c->params[p];
            if (sp->type == PARAM_ENUM)
                snprintf(note, sizeof note, "%s (%s)", sp->help, sp->choices);
            else if (sp->type == PARAM_BOOL)
                snprintf(note, sizeof note, "%s (true/false)", sp->help);
            else
                snprintf(note, sizeof note, "%s [%g, %g]", sp->help, sp->min, sp->max);
            form_line(f, row, k, sp->name, f->val[p], note);
            break;
        }
        case F_SPLIT:
            if (f->split < f->nsplits) {
                snprintf(split, sizeof split, "%s", f->splits[f->split].name);
                snprintf(note, sizeof note, "%s, %lld train / %lld test", f->splits[f->split].method,
                         (long long)f->splits[f->split].n_train,
                         (long long)f->splits[f->split].n_test);
            } else {
                snprintf(split, sizeof split, FORM_DEFAULT_SPLIT);
                snprintf(note, sizeof note, "no split yet: a random 80/20 split \"%s\" "
                         "(seed 42) will be created", FORM_DEFAULT_SPLIT);
            }
            form_line(f, row, k, "split", split, note);
            break;
        case F_DEVICE:
            form_line(f, row, k, "device", devices[f->device], "auto: the GPU when there is one");
            break;
        case F_SEED: form_line(f, row, k, "seed", f->seed, NULL); break;
        default: form_line(f, row, k, "name", f->name, f->name[0] ? NULL : "empty: ALGO-N"); break;
        }
    }
    if (f->err[0])
        tui_put(&f->area, f->area.h - 1, 1, COL_ERROR, f->err);
    else
        tui_put(&f->area, f->area.h - 1, 1, COL_DIM, "Enter starts the training.");
}

static void form_resize(TuiScreen *s, const TuiRect *body)
{
    FormScreen *f = (FormScreen *)s;
    int pad = body->h > 12;
    f->area = (TuiRect) { body->y + pad, body->x + 1, body->h - pad, body->w - 2 };
}

/* --- keys ------------------------------------------------------------------------------ */

/* The text buffer of the current field, or NULL for a choice field. */
static char *field_text(FormScreen *f, size_t *cap)
{
    int p = 0;
    switch (field_kind(f, f->field, &p)) {
    case F_PARAM: {
        const ParamSpec *sp = &form_cls(f)->params[p];
        if (sp->type == PARAM_ENUM || sp->type == PARAM_BOOL)
            return NULL;
        *cap = FORM_VAL;
        return f->val[p];
    }
    case F_SEED: *cap = sizeof f->seed; return f->seed;
    case F_NAME: *cap = sizeof f->name; return f->name;
    default: return NULL;
    }
}

static void form_choice(FormScreen *f, int dir)
{
    int p = 0;
    switch (field_kind(f, f->field, &p)) {
    case F_ALGO: {
        size_t n = model_class_count();
        set_algo(f, (f->algo + n + (size_t)(dir > 0 ? 1 : n - 1)) % n);
        break;
    }
    case F_PARAM: {
        const ParamSpec *sp = &form_cls(f)->params[p];
        if (sp->type == PARAM_BOOL) {
            snprintf(f->val[p], FORM_VAL, "%s", strcmp(f->val[p], "true") ? "true" : "false");
        } else if (sp->type == PARAM_ENUM) {
            int n = choice_count(sp->choices), cur = 0;
            char c[FORM_VAL];
            for (int i = 0; i < n; i++) {
                choice_at(sp->choices, i, c, sizeof c);
                if (!strcmp(c, f->val[p]))
                    cur = i;
            }
            choice_at(sp->choices, (cur + n + dir) % n, f->val[p], FORM_VAL);
        }
        break;
    }
    case F_SPLIT: {
        size_t n = f->nsplits ? f->nsplits : 1;
        f->split = (f->split + n + (size_t)(dir > 0 ? 1 : n - 1)) % n;
        break;
    }
    case F_DEVICE: f->device = (f->device + 3 + dir) % 3; break;
    default: break;
    }
}

static TuiIntent form_key(TuiScreen *s, int action, int key)
{
    FormScreen *f = (FormScreen *)s;
    size_t cap = 0;
    char *text = field_text(f, &cap);
    switch (action) {
    case FORM_ACT_CANCEL: return tui_intent(TUI_INTENT_CLOSE | TUI_INTENT_REDRAW);
    case FORM_ACT_FIELD: {
        int dir = key == KEY_UP || key == KEY_BTAB ? -1 : 1;
        f->field = (f->field + nfields(f) + dir) % nfields(f);
        return tui_intent(TUI_INTENT_REDRAW);
    }
    case FORM_ACT_CHOICE:
        if (text && key == ' ')
            break; /* a space typed into a text field is refused below */
        form_choice(f, key == KEY_LEFT ? -1 : 1);
        form_check(f);
        return tui_intent(TUI_INTENT_REDRAW);
    case FORM_ACT_ERASE:
        if (text && text[0])
            text[strlen(text) - 1] = '\0';
        form_check(f);
        return tui_intent(TUI_INTENT_REDRAW);
    case FORM_ACT_CLEAR:
        if (text)
            text[0] = '\0';
        form_check(f);
        return tui_intent(TUI_INTENT_REDRAW);
    case FORM_ACT_START: {
        TuiJobSpec spec;
        RsErr err;
        rs_err_clear(&err);
        if (form_spec(f, &spec, &err) == RS_OK && tui_jobs_start(f->jobs, &spec, NULL, &err) == RS_OK)
            return tui_intent(TUI_INTENT_CLOSE | TUI_INTENT_REDRAW);
        snprintf(f->err, sizeof f->err, "%s", err.msg);
        return tui_intent(TUI_INTENT_REDRAW);
    }
    default:
        break;
    }
    if (text && key > ' ' && key < 127) {
        size_t len = strlen(text);
        if (len + 1 < cap) {
            text[len] = (char)key;
            text[len + 1] = '\0';
        }
        form_check(f);
    }
    return tui_intent(TUI_INTENT_REDRAW);
}

static void form_free(TuiScreen *s)
{
    FormScreen *f = (FormScreen *)s;
    if (f) {
        free(f->splits);
        free(f);
    }
}

static const TuiScreenClass form_class = {
    .name = "New run",
    .keys = form_keys,
    .nkeys = RS_ARRAY_LEN(form_keys),
    .draw = form_draw,
    .handle_key = form_key,
    .resize = form_resize,
    .free = form_free,
};

TuiScreen *tui_newrun_new(Store *store, struct TuiJobs *jobs)
{
    FormScreen *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base.cls = &form_class;
    f->store = store;
    f->jobs = jobs;
    snprintf(f->seed, sizeof f->seed, "42");
    if (!store || store_splits_list(store, &f->splits, &f->nsplits, NULL) != RS_OK) {
        f->splits = NULL;
        f->nsplits = 0;
    }
    /* k-fold splits cannot be trained on here: leave them out */
    size_t w = 0;
    for (size_t k = 0; k < f->nsplits; k++)
        if (!f->splits[k].folds)
            f->splits[w++] = f->splits[k];
    f->nsplits = w;
    const ModelClass *pop = model_class_find("pop");
    size_t algo = 0;
    for (size_t k = 0; pop && k < model_class_count(); k++)
        if (model_class_at(k) == pop)
            algo = k;
    set_algo(f, algo);
    return &f->base;
}
