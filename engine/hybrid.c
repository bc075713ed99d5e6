/*
 * hybrid.c - a weighted blend of a collaborative-filtering model and the
 * content model (engine/content.c).
 *
 * Design. fit() looks the CF class up in the registry by the "cf"
 * parameter's name, fits it with its own defaults (and the hybrid's seed),
 * then fits a content model with its defaults. Raw scores of different
 * models live on different scales (cosines, dot products, counts), so each
 * part is normalised per user before blending, over that user's candidate
 * items (items not in the history; for the CF part also only items with
 * training interactions, since a CF score of an item nobody has seen means
 * nothing):
 *   zscore  z = (s - mean) / std           (the default)
 *   minmax  z = (s - min) / (max - min)
 * (a part with no spread normalises to 0). Then
 *   score(u, i) = (1 - alpha) * z_cf(u, i) + alpha * z_content(u, i)
 * for items with training interactions, and score(u, i) = z_content(u, i)
 * for items without: the weights of the available parts always sum to 1, so
 * a brand-new item competes on its content score alone (Burke, "Hybrid
 * recommender systems: survey and experiments", UMUAI 2002, section 3.1 on
 * weighted hybrids).
 *
 * Defaults (NDCG@10, full ranking, 80/20 per-user random split, 3 seeds):
 * alpha = 0.2 with z-scores. On the sample data the content part helps
 * (ItemKNN 0.358 -> 0.378, EASE 0.481 -> 0.497, larger alpha helps more);
 * on MovieLens-100K, whose metadata is thin, it is neutral at 0.1-0.2
 * (ItemKNN 0.343 -> 0.341, EASE 0.449 -> 0.448) and costs beyond. Min-max
 * was slightly better on the sample data and worse on MovieLens.
 *
 * The explanation gives the two parts (EXPL_PART "cf" and "content", which
 * sum to the score) and then the content part's strongest terms with their
 * shares of the raw content cosine; the list as a whole is therefore not
 * additive (e->additive = 0).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "model.h"

enum { HP_CF, HP_ALPHA, HP_NORM, HP_COUNT };
enum { NORM_ZSCORE, NORM_MINMAX };

#define HYBRID_CF_CHOICES "itemknn|userknn|als|bpr|ease|mf|pop"
#define HYBRID_TERMS 8 /* content terms shown in an explanation */

static const ParamSpec hybrid_params[] = {
    {"cf", PARAM_ENUM, 0, 0, 0, HYBRID_CF_CHOICES,
     "the collaborative part, fitted with its own defaults"},
    {"alpha", PARAM_FLOAT, 0.2, 0, 1, NULL, "weight of the content part (0: CF only)"},
    {"norm", PARAM_ENUM, NORM_ZSCORE, 0, 0, "zscore|minmax",
     "per-user normalisation of each part before blending"},
};

_Static_assert(RS_ARRAY_LEN(hybrid_params) == HP_COUNT, "hybrid_params out of step");

typedef struct Hybrid {
    RsModel *cf;   /* the CF part */
    RsModel *ct;   /* the content part */
} Hybrid;

static void hybrid_free(RsModel *m)
{
    Hybrid *h = m->state;
    if (h) {
        model_free(h->cf);
        model_free(h->ct);
        free(h);
    }
    m->state = NULL;
}

/* Copies choice k of "a|b|c" into out (empty when out of range). */
static void choice_name(const char *choices, int k, char *out, size_t cap)
{
    const char *p = choices;
    for (int c = 0; c < k && *p; c++)
        p += strcspn(p, "|") + (p[strcspn(p, "|")] == '|');
    snprintf(out, cap, "%.*s", (int)strcspn(p, "|"), p);
}

static void cf_name(const RsModel *m, char *out, size_t cap)
{
    choice_name(HYBRID_CF_CHOICES, (int)m->pv.v[HP_CF], out, cap);
}

/* ---- fitting ------------------------------------------------------------------ */

/* Maps a part's progress into [lo, hi] of the hybrid's. */
typedef struct Stage {
    const FitContext *outer;
    double lo, hi;
    const char *part;
    char phase[64];
} Stage;

static int stage_progress(void *ctx, const FitProgress *p)
{
    Stage *st = ctx;
    FitProgress q = *p;
    q.fraction = st->lo + (st->hi - st->lo) * p->fraction;
    snprintf(st->phase, sizeof st->phase, "%s %s", st->part, p->phase ? p->phase : "");
    q.phase = st->phase;
    return st->outer->progress(st->outer->progress_ctx, &q);
}

/* Fits a model of class cls with its defaults on ctx, its progress mapped
 * into [lo, hi]. */
static int fit_part(const RsModel *m, const ModelClass *cls, const FitContext *ctx, double lo,
                    double hi, RsModel **out, RsErr *err)
{
    ParamValues pv;
    int rc = params_parse(cls->params, cls->nparams, NULL, 0, &pv, err);
    if (rc || (rc = model_new(cls, m->U, m->I, &pv, m->seed, out, err)))
        return rc;
    Stage st = {.outer = ctx, .lo = lo, .hi = hi, .part = cls->name};
    FitContext sub = *ctx;
    if (ctx->progress) {
        sub.progress = stage_progress;
        sub.progress_ctx = &st;
    }
    return model_fit(*out, &sub, err);
}

static int hybrid_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    char name[32];
    cf_name(m, name, sizeof name);
    const ModelClass *cls = model_class_find(name);
    if (!cls)
        return rs_err_set(err, RS_EUSAGE,
                          "hybrid: the CF model '%s' is not available in this build (known: %s)",
                          name, model_class_names());
    Hybrid *h = calloc(1, sizeof *h);
    if (!h)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    int rc = fit_part(m, cls, ctx, 0, 0.9, &h->cf, err);
    if (!rc)
        rc = fit_part(m, &model_content, ctx, 0.9, 1, &h->ct, err);
    if (rc) {
        model_free(h->cf);
        model_free(h->ct);
        free(h);
        return rc;
    }
    m->state = h;
    return RS_OK;
}

/* ---- blending ------------------------------------------------------------------ */

/* z = (s - shift) * scale */
typedef struct Norm {
    double shift, scale;
} Norm;

/* The normalisation of scores s over the items with cand[i] != 0 and a
 * finite score. */
static Norm norm_of(int kind, const float *s, const uint8_t *cand, size_t I)
{
    Norm n = {0, 0};
    size_t cnt = 0;
    if (kind == NORM_MINMAX) {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < I; i++)
            if (cand[i] && isfinite(s[i])) {
                lo = fmin(lo, s[i]);
                hi = fmax(hi, s[i]);
                cnt++;
            }
        if (cnt && hi > lo)
            n = (Norm){lo, 1.0 / (hi - lo)};
        return n;
    }
    double mean = 0, m2 = 0;
    for (size_t i = 0; i < I; i++) /* Welford */
        if (cand[i] && isfinite(s[i])) {
            double d = s[i] - mean;
            mean += d / (double)++cnt;
            m2 += d * (s[i] - mean);
        }
    if (cnt && m2 > 0)
        n = (Norm){mean, 1.0 / sqrt(m2 / (double)cnt)};
    return n;
}

/* Both parts' scores for one user (u >= 0) or profile, normalised. */
typedef struct Blend {
    float *cf, *ct;      /* (I) raw part scores */
    uint8_t *warm;       /* (I) item has training interactions */
    Norm ncf, nct;
    double alpha;
} Blend;

static void blend_done(Blend *b)
{
    free(b->cf);
    free(b->ct);
    free(b->warm);
}

/* Blended score of item i (see the design note). */
static float blend_item(const Blend *b, size_t i, float *part_cf, float *part_ct)
{
    int has_cf = b->warm[i] && isfinite(b->cf[i]), has_ct = isfinite(b->ct[i]);
    double zc = has_cf ? (b->cf[i] - b->ncf.shift) * b->ncf.scale : 0;
    double zt = has_ct ? (b->ct[i] - b->nct.shift) * b->nct.scale : 0;
    double wc = has_cf ? (has_ct ? 1 - b->alpha : 1) : 0;
    double wt = has_ct ? (has_cf ? b->alpha : 1) : 0;
    if (part_cf)
        *part_cf = has_cf ? (float)(wc * zc) : NAN;
    if (part_ct)
        *part_ct = has_ct ? (float)(wt * zt) : NAN;
    if (!has_cf && !has_ct)
        return -INFINITY;
    return (float)(wc * zc + wt * zt);
}

/* Scores both parts for training user u (u >= 0) or profile p (u < 0;
 * also the history in both cases) and their normalisations over the
 * candidates. */
static int blend_scores(const RsModel *m, const RsMatrix *train, long u, const RsProfile *p,
                        Blend *b, RsErr *err)
{
    const Hybrid *h = m->state;
    const size_t I = m->I;
    uint8_t *cand = NULL;
    int rc = RS_OK;
    memset(b, 0, sizeof *b);
    b->alpha = m->pv.v[HP_ALPHA];
    if (!(b->cf = malloc((I ? I : 1) * sizeof *b->cf)) ||
        !(b->ct = malloc((I ? I : 1) * sizeof *b->ct)) || !(b->warm = malloc(I ? I : 1)) ||
        !(cand = calloc(I ? I : 1, 1))) {
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
        goto done;
    }
    if (u >= 0) {
        rc = h->cf->cls->score(h->cf, train, (uint32_t)u, b->cf, err);
        if (!rc)
            rc = h->ct->cls->score(h->ct, train, (uint32_t)u, b->ct, err);
    } else if (!h->cf->cls->score_profile) {
        rc = rs_err_set(err, RS_EUSAGE, "hybrid: its CF part (%s) cannot fold in a new profile",
                        h->cf->cls->name);
    } else {
        rc = h->cf->cls->score_profile(h->cf, train, p, b->cf, err);
        if (!rc)
            rc = h->ct->cls->score_profile(h->ct, train, p, b->ct, err);
    }
    if (rc)
        goto done;
    for (size_t i = 0; i < I; i++) {
        b->warm[i] = train->i_ptr[i + 1] > train->i_ptr[i];
        cand[i] = 1;
    }
    for (size_t k = 0; k < p->n; k++)
        if (p->items[k] < I)
            cand[p->items[k]] = 0;
    int kind = (int)m->pv.v[HP_NORM];
    b->nct = norm_of(kind, b->ct, cand, I);
    for (size_t i = 0; i < I; i++)
        cand[i] &= b->warm[i];
    b->ncf = norm_of(kind, b->cf, cand, I);
done:
    free(cand);
    if (rc)
        blend_done(b);
    return rc;
}

static int hybrid_check(const RsModel *m, const RsProfile *p, RsErr *err)
{
    if (!m->state)
        return rs_err_set(err, RS_EUSAGE, "hybrid model is not trained");
    for (size_t k = 0; p && k < p->n; k++)
        if (p->items[k] >= m->I)
            return rs_err_set(err, RS_EUSAGE, "item index %u out of range", p->items[k]);
    return RS_OK;
}

static int hybrid_score_any(const RsModel *m, const RsMatrix *train, long u, const RsProfile *p,
                            float *scores, RsErr *err)
{
    Blend b;
    int rc = hybrid_check(m, p, err);
    if (rc || (rc = blend_scores(m, train, u, p, &b, err)))
        return rc;
    for (size_t i = 0; i < m->I; i++)
        scores[i] = blend_item(&b, i, NULL, NULL);
    blend_done(&b);
    return RS_OK;
}

static int hybrid_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                        RsErr *err)
{
    if (u >= train->U)
        return rs_err_set(err, RS_EUSAGE, "user index %u out of range", u);
    RsProfile p = rs_profile_of_user(train, u);
    return hybrid_score_any(m, train, (long)u, &p, scores, err);
}

static int hybrid_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                                float *scores, RsErr *err)
{
    return hybrid_score_any(m, train, -1, p, scores, err);
}

static int hybrid_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                          long user, const RsProfile *p, uint32_t item, RsExplanation *out,
                          RsErr *err)
{
    const Hybrid *h = m->state;
    Blend b;
    int rc = hybrid_check(m, p, err);
    if (rc || (rc = blend_scores(m, train, user, p, &b, err)))
        return rc;
    float pcf, pct;
    out->score = blend_item(&b, item, &pcf, &pct);
    out->bias = 0;
    out->additive = 0;
    const char *how = m->pv.v[HP_NORM] == NORM_MINMAX ? "min-max" : "z-score";
    if (isnan(pcf))
        snprintf(out->method, sizeof out->method,
                 "hybrid: no training interactions, so the %s content part alone; terms: shares "
                 "of its cosine", how);
    else
        snprintf(out->method, sizeof out->method,
                 "hybrid: (1-%.2g) x %s cf + %.2g x %s content; terms: shares of the content "
                 "cosine", b.alpha, how, b.alpha, how);
    if ((!isnan(pcf) && rs_explanation_add(out, EXPL_PART, 0, "cf", pcf, b.cf[item])) ||
        (!isnan(pct) && rs_explanation_add(out, EXPL_PART, 1, "content", pct, b.ct[item])))
        rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    blend_done(&b);
    if (rc)
        return rc;
    RsExplanation terms;
    rs_explanation_init(&terms);
    rc = h->ct->cls->explain(h->ct, train, cat, user, p, item, &terms, err);
    if (!rc) {
        rs_explanation_sort(&terms, HYBRID_TERMS);
        for (size_t k = 0; k < terms.n && !rc; k++)
            if (rs_explanation_add(out, EXPL_TERM, terms.c[k].index, terms.c[k].label,
                                   terms.c[k].value, terms.c[k].similarity))
                rc = rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    rs_explanation_done(&terms);
    return rc;
}

/* Item-item: the parts' "similar" scores blended like user scores (the CF
 * part only when its class has them). */
static int hybrid_similar(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                          RsErr *err)
{
    const Hybrid *h = m->state;
    int rc = hybrid_check(m, NULL, err);
    if (rc)
        return rc;
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    if (!h->cf->cls->similar)
        return h->ct->cls->similar(h->ct, train, item, scores, err);
    Blend b = {.alpha = m->pv.v[HP_ALPHA]};
    uint8_t *cand = calloc(m->I ? m->I : 1, 1);
    if (!cand || !(b.cf = malloc((m->I ? m->I : 1) * sizeof *b.cf)) ||
        !(b.warm = malloc(m->I ? m->I : 1))) {
        free(cand);
        blend_done(&b);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    b.ct = scores;
    rc = h->cf->cls->similar(h->cf, train, item, b.cf, err);
    if (!rc)
        rc = h->ct->cls->similar(h->ct, train, item, b.ct, err);
    if (!rc) {
        int kind = (int)m->pv.v[HP_NORM];
        for (size_t i = 0; i < m->I; i++) {
            b.warm[i] = train->i_ptr[i + 1] > train->i_ptr[i];
            cand[i] = i != item;
        }
        b.nct = norm_of(kind, b.ct, cand, m->I);
        for (size_t i = 0; i < m->I; i++)
            cand[i] &= b.warm[i];
        b.ncf = norm_of(kind, b.cf, cand, m->I);
        for (size_t i = 0; i < m->I; i++)
            scores[i] = blend_item(&b, i, NULL, NULL); /* reads b.ct[i] == scores[i] first */
        scores[item] = -INFINITY;
    }
    b.ct = NULL;
    free(cand);
    blend_done(&b);
    return rc;
}

/* ---- save / load ------------------------------------------------------------------
 * payload: u64 length + the CF part's whole model blob, u64 length + the
 * content part's whole model blob (model_save's format, checksums
 * included). */

static int hybrid_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    const Hybrid *h = m->state;
    if (!h)
        return rs_err_set(err, RS_EUSAGE, "hybrid model is not trained");
    const RsModel *parts[2] = {h->cf, h->ct};
    for (int k = 0; k < 2; k++) {
        RsBlob sub;
        int rc = model_save(parts[k], &sub, err);
        if (rc)
            return rc;
        blob_put_u64(b, sub.len);
        blob_put_bytes(b, sub.data, sub.len);
        blob_done(&sub);
    }
    return RS_OK;
}

/* Loads one nested model blob from r into *out, checking its class. */
static int load_part(const RsModel *m, RsBlobReader *r, const char *want, RsModel **out,
                     RsErr *err)
{
    uint64_t len;
    if (blob_get_u64(r, &len) || len > blob_remaining(r))
        return rs_err_set(err, RS_EPARSE, "hybrid model blob damaged (%s part length)", want);
    /* the nested class name (after the magic and the container version),
     * checked before loading so that a crafted blob cannot nest hybrids */
    const uint8_t *sub_p = r->p + r->pos;
    uint32_t nlen;
    size_t wlen = strlen(want);
    if (len < 16 || (memcpy(&nlen, sub_p + 12, 4), nlen != wlen) || len - 16 < wlen ||
        memcmp(sub_p + 16, want, wlen))
        return rs_err_set(err, RS_EPARSE, "hybrid model blob damaged (no %s part)", want);
    RsErr sub = {0};
    int rc = model_load(r->p + r->pos, (size_t)len, m->U, m->I, out, &sub);
    if (rc)
        return rs_err_set(err, rc, "hybrid model blob, %s part: %s", want, sub.msg);
    r->pos += (size_t)len;
    if (strcmp((*out)->cls->name, want))
        return rs_err_set(err, RS_EPARSE, "hybrid model blob damaged (a %s part where %s belongs)",
                          (*out)->cls->name, want);
    return RS_OK;
}

static int hybrid_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    double cf = m->pv.v[HP_CF], a = m->pv.v[HP_ALPHA], norm = m->pv.v[HP_NORM];
    size_t ncf = 1;
    for (const char *c = HYBRID_CF_CHOICES; *c; c++)
        ncf += *c == '|';
    if (cf < 0 || cf >= (double)ncf || cf != floor(cf) || !(a >= 0 && a <= 1) ||
        (norm != NORM_ZSCORE && norm != NORM_MINMAX))
        return rs_err_set(err, RS_EPARSE, "hybrid model blob damaged (parameter out of range)");
    Hybrid *h = calloc(1, sizeof *h);
    if (!h)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    m->state = h; /* freed by the caller's model_free on failure */
    char name[32];
    cf_name(m, name, sizeof name);
    int rc = load_part(m, r, name, &h->cf, err);
    if (!rc)
        rc = load_part(m, r, model_content.name, &h->ct, err);
    return rc;
}

const RsModel *hybrid_cf_part(const RsModel *m)
{
    return m && m->cls == &model_hybrid && m->state ? ((const Hybrid *)m->state)->cf : NULL;
}

const RsModel *hybrid_content_part(const RsModel *m)
{
    return m && m->cls == &model_hybrid && m->state ? ((const Hybrid *)m->state)->ct : NULL;
}

const ModelClass model_hybrid = {
    .name = "hybrid",
    .title = "Hybrid: a CF model blended with the content model",
    .params = hybrid_params,
    .nparams = RS_ARRAY_LEN(hybrid_params),
    .flags = MODEL_FOLDIN | MODEL_NEEDS_CATALOG,
    .format_version = 1,
    .fit = hybrid_fit,
    .score = hybrid_score,
    .score_profile = hybrid_score_profile,
    .explain = hybrid_explain,
    .similar = hybrid_similar,
    .save = hybrid_save,
    .load = hybrid_load,
    .free_state = hybrid_free,
};
