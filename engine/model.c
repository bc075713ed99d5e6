/*
 * model.c - what every model shares: parameters from KEY=VALUE strings,
 * top-K selection, recommendation with seen items left out, explanation
 * bookkeeping, and the blob container around a class's payload.
 */
#include "model.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ------------------------------------------------------------ */

int params_index(const ParamSpec *spec, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(spec[k].name, name))
            return (int)k;
    return -1;
}

static void list_names(const ParamSpec *spec, size_t n, char *buf, size_t cap)
{
    size_t w = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && w + 2 < cap; k++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%s", k ? ", " : "", spec[k].name);
    if (n == 0)
        snprintf(buf, cap, "(none)");
}

/* Index of choice s in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *s)
{
    int idx = 0;
    const char *p = choices;
    size_t len = strlen(s);
    while (*p) {
        size_t n = strcspn(p, "|");
        if (n == len && !strncmp(p, s, n))
            return idx;
        p += n + (p[n] == '|');
        idx++;
    }
    return -1;
}

static int parse_value(const ParamSpec *sp, const char *val, double *out, RsErr *err)
{
    char *end;
    switch (sp->type) {
    case PARAM_ENUM: {
        int k = choice_index(sp->choices, val);
        if (k < 0)
            return rs_err_set(err, RS_EUSAGE, "parameter %s: unknown value '%s' (valid: %s)",
                              sp->name, val, sp->choices);
        *out = k;
        return RS_OK;
    }
    case PARAM_BOOL:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes") ||
            !strcmp(val, "on"))
            *out = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") ||
                 !strcmp(val, "off"))
            *out = 0;
        else
            return rs_err_set(err, RS_EUSAGE, "parameter %s: expected true or false, got '%s'",
                              sp->name, val);
        return RS_OK;
    case PARAM_INT:
    case PARAM_FLOAT: {
        double v = strtod(val, &end);
        if (!*val || *end || !isfinite(v))
            return rs_err_set(err, RS_EUSAGE, "parameter %s: expected a number, got '%s'",
                              sp->name, val);
        if (sp->type == PARAM_INT && v != floor(v))
            return rs_err_set(err, RS_EUSAGE, "parameter %s: expected an integer, got '%s'",
                              sp->name, val);
        if (v < sp->min || v > sp->max)
            return rs_err_set(err, RS_EUSAGE, "parameter %s: %s is out of range [%g, %g]",
                              sp->name, val, sp->min, sp->max);
        *out = v;
        return RS_OK;
    }
    }
    return RS_EUSAGE;
}

int params_parse(const ParamSpec *spec, size_t n, const char *const *kv, size_t nkv,
                 ParamValues *pv, RsErr *err)
{
    assert(n <= MODEL_MAX_PARAMS);
    memset(pv, 0, sizeof *pv);
    for (size_t k = 0; k < n; k++)
        pv->v[k] = spec[k].def;
    for (size_t k = 0; k < nkv; k++) {
        const char *eq = strchr(kv[k], '=');
        char name[64], names[512];
        if (!eq || eq == kv[k] || (size_t)(eq - kv[k]) >= sizeof name)
            return rs_err_set(err, RS_EUSAGE, "bad parameter '%s' (expected KEY=VALUE)", kv[k]);
        snprintf(name, sizeof name, "%.*s", (int)(eq - kv[k]), kv[k]);
        int idx = params_index(spec, n, name);
        if (idx < 0) {
            list_names(spec, n, names, sizeof names);
            return rs_err_set(err, RS_EUSAGE, "unknown parameter '%s' (valid: %s)", name, names);
        }
        int rc = parse_value(&spec[idx], eq + 1, &pv->v[idx], err);
        if (rc)
            return rc;
    }
    return RS_OK;
}

char *params_to_json(const ParamSpec *spec, size_t n, const ParamValues *pv)
{
    size_t cap = 64 + n * 96, w = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    w += (size_t)snprintf(s + w, cap - w, "{");
    for (size_t k = 0; k < n; k++) {
        w += (size_t)snprintf(s + w, cap - w, "%s\"%s\":", k ? "," : "", spec[k].name);
        if (spec[k].type == PARAM_ENUM) {
            const char *p = spec[k].choices;
            for (int c = 0; c < (int)pv->v[k] && *p; c++)
                p += strcspn(p, "|") + (p[strcspn(p, "|")] == '|');
            w += (size_t)snprintf(s + w, cap - w, "\"%.*s\"", (int)strcspn(p, "|"), p);
        } else if (spec[k].type == PARAM_BOOL) {
            w += (size_t)snprintf(s + w, cap - w, "%s", pv->v[k] ? "true" : "false");
        } else {
            w += (size_t)snprintf(s + w, cap - w, "%.10g", pv->v[k]);
        }
    }
    snprintf(s + w, cap - w, "}");
    return s;
}

double model_param(const RsModel *m, const char *name)
{
    int k = params_index(m->cls->params, m->cls->nparams, name);
    assert(k >= 0 && "unknown parameter name");
    return k >= 0 ? m->pv.v[k] : NAN;
}

/* ---- explanations ---------------------------------------------------------- */

void rs_explanation_init(RsExplanation *e) { memset(e, 0, sizeof *e); }

void rs_explanation_done(RsExplanation *e)
{
    free(e->c);
    memset(e, 0, sizeof *e);
}

int rs_explanation_add(RsExplanation *e, ExplKind kind, uint32_t index, const char *label,
                       float value, float similarity)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        RsContribution *c = realloc(e->c, nc * sizeof *c);
        if (!c)
            return RS_ENOMEM;
        e->c = c;
        e->cap = nc;
    }
    RsContribution *c = &e->c[e->n++];
    c->kind = kind;
    c->index = index;
    snprintf(c->label, sizeof c->label, "%s", label ? label : "");
    c->value = value;
    c->similarity = similarity;
    return RS_OK;
}

static int cmp_contrib(const void *a, const void *b)
{
    float x = fabsf(((const RsContribution *)a)->value);
    float y = fabsf(((const RsContribution *)b)->value);
    if (x != y)
        return x > y ? -1 : 1;
    uint32_t i = ((const RsContribution *)a)->index, j = ((const RsContribution *)b)->index;
    return (i > j) - (i < j);
}

void rs_explanation_sort(RsExplanation *e, size_t max)
{
    if (e->n > 1)
        qsort(e->c, e->n, sizeof *e->c, cmp_contrib);
    if (max && e->n > max)
        e->n = max;
}

RsProfile rs_profile_of_user(const RsMatrix *train, uint32_t u)
{
    RsProfile p = {train->u_ptr[u + 1] - train->u_ptr[u], train->u_items + train->u_ptr[u],
                   train->u_rating + train->u_ptr[u]};
    return p;
}

/* ---- top-K --------------------------------------------------------------------- */

/* a ranks before b: higher score, then smaller index */
static int better(float sa, uint32_t ia, float sb, uint32_t ib)
{
    return sa > sb || (sa == sb && ia < ib);
}

/* Min-heap on "better": the root is the worst kept item. */
static void sift_down(RsRec *h, size_t n, size_t k)
{
    for (;;) {
        size_t l = 2 * k + 1, r = l + 1, w = k;
        if (l < n && better(h[w].score, h[w].item, h[l].score, h[l].item))
            w = l;
        if (r < n && better(h[w].score, h[w].item, h[r].score, h[r].item))
            w = r;
        if (w == k)
            return;
        RsRec t = h[k];
        h[k] = h[w];
        h[w] = t;
        k = w;
    }
}

static int cmp_rec(const void *a, const void *b)
{
    const RsRec *x = a, *y = b;
    if (better(x->score, x->item, y->score, y->item))
        return -1;
    return better(y->score, y->item, x->score, x->item) ? 1 : 0;
}

size_t topk(const float *scores, size_t I, const uint8_t *exclude, size_t K, RsRec *out)
{
    size_t n = 0;
    if (K == 0)
        return 0;
    for (size_t i = 0; i < I; i++) {
        float s = scores[i];
        if ((exclude && exclude[i]) || isnan(s) || s == -INFINITY)
            continue;
        if (n < K) {
            out[n++] = (RsRec){(uint32_t)i, s};
            if (n == K)
                for (size_t k = K / 2; k-- > 0;)
                    sift_down(out, n, k);
        } else if (better(s, (uint32_t)i, out[0].score, out[0].item)) {
            out[0] = (RsRec){(uint32_t)i, s};
            sift_down(out, n, 0);
        }
    }
    qsort(out, n, sizeof *out, cmp_rec);
    return n;
}

size_t topk_naive(const float *scores, size_t I, const uint8_t *exclude, size_t K, RsRec *out)
{
    RsRec *all = malloc((I ? I : 1) * sizeof *all);
    size_t n = 0;
    if (!all)
        return 0;
    for (size_t i = 0; i < I; i++)
        if (!(exclude && exclude[i]) && !isnan(scores[i]) && scores[i] != -INFINITY)
            all[n++] = (RsRec){(uint32_t)i, scores[i]};
    qsort(all, n, sizeof *all, cmp_rec);
    if (n > K)
        n = K;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

/* ---- models ---------------------------------------------------------------------- */

int model_new(const ModelClass *cls, size_t U, size_t I, const ParamValues *pv, uint64_t seed,
              RsModel **out, RsErr *err)
{
    RsModel *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    m->cls = cls;
    m->U = U;
    m->I = I;
    m->seed = seed;
    if (pv) {
        m->pv = *pv;
    } else {
        for (size_t k = 0; k < cls->nparams; k++)
            m->pv.v[k] = cls->params[k].def;
    }
    *out = m;
    return RS_OK;
}

void model_free(RsModel *m)
{
    if (!m)
        return;
    if (m->cls->free_state)
        m->cls->free_state(m);
    free(m);
}

int model_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    if (ctx->train->U != m->U || ctx->train->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "training matrix is %zu x %zu, model is %zu x %zu",
                          ctx->train->U, ctx->train->I, m->U, m->I);
    if ((m->cls->flags & MODEL_NEEDS_CATALOG) && !ctx->cat)
        return rs_err_set(err, RS_EUSAGE, "%s needs item metadata", m->cls->name);
    int rc;
    if (ctx->ninit && (rc = model_check_init(m, ctx->init, ctx->ninit, err)))
        return rc;
    if (m->cls->free_state && m->state) {
        m->cls->free_state(m);
        m->state = NULL;
    }
    return m->cls->fit(m, ctx, err);
}

int model_check_init(const RsModel *m, const RsModel *const *init, size_t ninit, RsErr *err)
{
    if (!(m->cls->flags & MODEL_INIT) || !m->cls->check_init)
        return rs_err_set(err, RS_EUSAGE, "%s cannot start from trained models", m->cls->name);
    for (size_t k = 0; k < ninit; k++)
        if (!init[k]->state || init[k]->U != m->U || init[k]->I != m->I)
            return rs_err_set(err, RS_EUSAGE,
                              "%s: the %s model to start from is not trained on this dataset",
                              m->cls->name, init[k]->cls->name);
    return m->cls->check_init(m, init, ninit, err);
}

int model_fit_tick(const FitContext *ctx, const FitProgress *p, RsErr *err)
{
    int stop = ctx->cancel && atomic_load(ctx->cancel);
    if (!stop && ctx->progress && p)
        stop = ctx->progress(ctx->progress_ctx, p);
    if (stop)
        return rs_err_set(err, RS_ECANCEL, "training cancelled");
    return RS_OK;
}

static int recommend_scores(const RsModel *m, float *scores, const uint32_t *seen, size_t nseen,
                            int exclude_seen, size_t K, RsRec *out, size_t *n, RsErr *err)
{
    uint8_t *ex = NULL;
    if (exclude_seen && nseen) {
        if (!(ex = calloc(m->I, 1)))
            return rs_err_set(err, RS_ENOMEM, "out of memory");
        for (size_t k = 0; k < nseen; k++)
            if (seen[k] < m->I)
                ex[seen[k]] = 1;
    }
    *n = topk(scores, m->I, ex, K, out);
    free(ex);
    return RS_OK;
}

int model_recommend(const RsModel *m, const RsMatrix *train, uint32_t u, size_t K,
                    int exclude_seen, RsRec *out, size_t *n, RsErr *err)
{
    *n = 0;
    if (u >= m->U)
        return rs_err_set(err, RS_EUSAGE, "user index %u out of range", u);
    float *scores = malloc((m->I ? m->I : 1) * sizeof *scores);
    if (!scores)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = m->cls->score(m, train, u, scores, err);
    if (!rc)
        rc = recommend_scores(m, scores, train->u_items + train->u_ptr[u], rs_user_count(train, u),
                              exclude_seen, K, out, n, err);
    free(scores);
    return rc;
}

int model_recommend_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                            size_t K, int exclude_seen, RsRec *out, size_t *n, RsErr *err)
{
    *n = 0;
    if (!m->cls->score_profile)
        return rs_err_set(err, RS_EUSAGE, "%s cannot score a new profile (no fold-in)",
                          m->cls->name);
    for (size_t k = 0; k < p->n; k++)
        if (p->items[k] >= m->I)
            return rs_err_set(err, RS_EUSAGE, "item index %u out of range", p->items[k]);
    float *scores = malloc((m->I ? m->I : 1) * sizeof *scores);
    if (!scores)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = m->cls->score_profile(m, train, p, scores, err);
    if (!rc)
        rc = recommend_scores(m, scores, p->items, p->n, exclude_seen, K, out, n, err);
    free(scores);
    return rc;
}

int model_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat, long u,
                  const RsProfile *p, uint32_t item, RsExplanation *e, RsErr *err)
{
    if (!m->cls->explain)
        return rs_err_set(err, RS_EUSAGE, "%s has no explanations", m->cls->name);
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    RsProfile own;
    if (u >= 0) {
        if ((size_t)u >= m->U)
            return rs_err_set(err, RS_EUSAGE, "user index %ld out of range", u);
        own = rs_profile_of_user(train, (uint32_t)u);
        p = &own;
    }
    int rc = m->cls->explain(m, train, cat, u, p, item, e, err);
    if (rc)
        return rc;
    /* rank of the item among the items not in the history */
    float *scores = malloc((m->I ? m->I : 1) * sizeof *scores);
    uint8_t *seen = calloc(m->I ? m->I : 1, 1);
    if (!scores || !seen) {
        free(scores);
        free(seen);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    if (u >= 0)
        rc = m->cls->score(m, train, (uint32_t)u, scores, err);
    else if (m->cls->score_profile)
        rc = m->cls->score_profile(m, train, p, scores, err);
    else
        rc = rs_err_set(err, RS_EUSAGE, "%s cannot score a new profile", m->cls->name);
    if (!rc) {
        for (size_t k = 0; k < p->n; k++)
            seen[p->items[k]] = 1;
        float s = scores[item];
        long rank = 1;
        for (size_t i = 0; i < m->I; i++)
            if (!seen[i] && i != item && !isnan(scores[i]) && better(scores[i], (uint32_t)i, s, item))
                rank++;
        e->rank = seen[item] || isnan(s) || s == -INFINITY ? 0 : rank;
    }
    free(scores);
    free(seen);
    return rc;
}

/* ---- the blob container ------------------------------------------------------------ */

static const char blob_magic[8] = {'R', 'S', 'M', 'O', 'D', 'E', 'L', '1'};

int model_save(const RsModel *m, RsBlob *out, RsErr *err)
{
    blob_init(out);
    blob_put_bytes(out, blob_magic, sizeof blob_magic);
    blob_put_u32(out, MODEL_BLOB_VERSION);
    blob_put_str(out, m->cls->name);
    blob_put_u32(out, m->cls->format_version);
    blob_put_u64(out, m->U);
    blob_put_u64(out, m->I);
    blob_put_u64(out, m->seed);
    blob_put_u32(out, (uint32_t)m->cls->nparams);
    for (size_t k = 0; k < m->cls->nparams; k++)
        blob_put_f64(out, m->pv.v[k]);
    size_t len_at = out->len;
    blob_put_u64(out, 0); /* payload length, patched below */
    size_t start = out->len;
    int rc = m->cls->save ? m->cls->save(m, out, err) : RS_OK;
    if (!rc && out->oom)
        rc = rs_err_set(err, RS_ENOMEM, "out of memory saving the model");
    if (rc) {
        blob_done(out);
        return rc;
    }
    uint64_t plen = out->len - start;
    memcpy(out->data + len_at, &plen, 8);
    blob_put_u64(out, blob_hash(out->data, out->len));
    if (out->oom) {
        blob_done(out);
        return rs_err_set(err, RS_ENOMEM, "out of memory saving the model");
    }
    return RS_OK;
}

/* A stored parameter value the class could have been given. */
static int param_in_range(const ParamSpec *sp, double v)
{
    if (!isfinite(v))
        return 0;
    switch (sp->type) {
    case PARAM_BOOL:
        return v == 0 || v == 1;
    case PARAM_ENUM: {
        int n = 1;
        for (const char *p = sp->choices; *p; p++)
            n += *p == '|';
        return v == floor(v) && v >= 0 && v < n;
    }
    case PARAM_INT:
        return v == floor(v) && v >= sp->min && v <= sp->max;
    case PARAM_FLOAT:
        return v >= sp->min && v <= sp->max;
    }
    return 0;
}

int model_load(const void *data, size_t len, size_t U, size_t I, RsModel **out, RsErr *err)
{
    *out = NULL;
    RsBlobReader r;
    char magic[8], *name = NULL;
    uint32_t ver, fver, np;
    uint64_t u64, i64, seed, plen, sum;
    if (len < sizeof magic + 8)
        return rs_err_set(err, RS_EPARSE, "model blob truncated (%zu bytes)", len);
    memcpy(&sum, (const uint8_t *)data + len - 8, 8);
    blob_reader_init(&r, data, len - 8);
    if (blob_get_bytes(&r, magic, sizeof magic) || memcmp(magic, blob_magic, sizeof magic))
        return rs_err_set(err, RS_EPARSE, "not a recscope model blob (bad magic)");
    if (blob_get_u32(&r, &ver))
        return rs_err_set(err, RS_EPARSE, "model blob truncated (%zu bytes)", len);
    if (ver != MODEL_BLOB_VERSION)
        return rs_err_set(err, RS_EVERSION, "model blob container version %u (this build reads %d)",
                          ver, MODEL_BLOB_VERSION);
    if (blob_hash(data, len - 8) != sum)
        return rs_err_set(err, RS_EPARSE, "model blob damaged (checksum mismatch)");
    if (blob_get_str(&r, &name, 64))
        return rs_err_set(err, RS_EPARSE, "model blob damaged (class name)");
    const ModelClass *cls = model_class_find(name);
    int rc = RS_OK;
    RsModel *m = NULL;
    if (!cls) {
        rc = rs_err_set(err, RS_EVERSION, "model blob of unknown algorithm '%s'", name);
        goto done;
    }
    if (blob_get_u32(&r, &fver) || blob_get_u64(&r, &u64) || blob_get_u64(&r, &i64) ||
        blob_get_u64(&r, &seed) || blob_get_u32(&r, &np)) {
        rc = rs_err_set(err, RS_EPARSE, "model blob truncated (header)");
        goto done;
    }
    if (fver != cls->format_version) {
        rc = rs_err_set(err, RS_EVERSION, "%s model format version %u (this build reads %u)",
                        name, fver, cls->format_version);
        goto done;
    }
    if (u64 != U || i64 != I) {
        rc = rs_err_set(err, RS_EPARSE,
                        "model trained for %llu users x %llu items, the dataset has %zu x %zu",
                        (unsigned long long)u64, (unsigned long long)i64, U, I);
        goto done;
    }
    /* Parameters are only ever appended to a class's table: a blob from
     * before an addition has fewer, and the rest keep their defaults. */
    if (np > cls->nparams) {
        rc = rs_err_set(err, RS_EVERSION, "%s model has %u parameters, this build knows %zu",
                        name, np, cls->nparams);
        goto done;
    }
    if ((rc = model_new(cls, U, I, NULL, seed, &m, err)))
        goto done;
    for (size_t k = 0; k < np; k++)
        if (blob_get_f64(&r, &m->pv.v[k]) || !param_in_range(&cls->params[k], m->pv.v[k])) {
            rc = rs_err_set(err, RS_EPARSE, "model blob damaged (parameter %s)",
                            cls->params[k].name);
            goto done;
        }
    if (blob_get_u64(&r, &plen) || plen != blob_remaining(&r)) {
        rc = rs_err_set(err, RS_EPARSE, "model blob damaged (payload length)");
        goto done;
    }
    if (cls->load && (rc = cls->load(m, &r, err)))
        goto done;
    if (r.bad || blob_remaining(&r) != 0)
        rc = rs_err_set(err, RS_EPARSE, "model blob damaged (%s payload)", name);
done:
    free(name);
    if (rc) {
        model_free(m);
        return rc;
    }
    *out = m;
    return RS_OK;
}
