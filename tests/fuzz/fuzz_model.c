/*
 * fuzz_model.c - the model-blob loader (model_load) over every registered
 * class, and the loaded model's scoring, prediction, similar items and
 * explanations on a small training matrix.
 *
 * Input: a class name and '\n', then bytes read in order: U-1, I-1 (each
 * mod 12), a count n of training entries (mod 48) and n (user, item,
 * rating) byte triples, one byte per class parameter (mod 4: default, min,
 * max, midpoint; integers capped at FUZZ_INT_CAP), then the class's
 * payload. The harness wraps the payload in
 * a well-formed container (magic, versions, shape, parameters, length,
 * checksum) so that the mutations reach the class's own loader. An unknown
 * class name passes the rest of the input to model_load unwrapped, which
 * exercises the container checks.
 *
 * Built with -DFUZZ_MODEL_SEEDS this file is instead a program that trains
 * every class on a fixed input and writes one seed per class into the folder
 * given as its argument (tests/fuzz/corpus/model/).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "model.h"

#define FUZZ_INT_CAP 64
#define FUZZ_RAW_U 6 /* the seeds' shape, so that whole blobs load */
#define FUZZ_RAW_I 8

typedef struct Cursor {
    const uint8_t *p;
    size_t n;
} Cursor;

static uint8_t next_byte(Cursor *c)
{
    if (!c->n)
        return 0;
    c->n--;
    return *c->p++;
}

static double param_value(const ParamSpec *sp, int mode)
{
    if (sp->type == PARAM_BOOL)
        return mode == 0 ? sp->def : mode == 1 ? 0 : 1;
    if (sp->type == PARAM_ENUM) {
        int n = 1;
        for (const char *q = sp->choices; *q; q++)
            n += *q == '|';
        return mode == 0 ? sp->def : mode == 1 ? 0 : mode == 2 ? n - 1 : n / 2;
    }
    /* integers (epochs, factors, neighbours) at most FUZZ_INT_CAP, so that
     * fold-in and scoring stay fast: a legitimately huge model is slow, not
     * broken, and would only time the fuzzer out */
    double max = sp->type == PARAM_INT && sp->max > FUZZ_INT_CAP ? fmax(sp->min, FUZZ_INT_CAP)
                                                                  : sp->max;
    double def = sp->type == PARAM_INT ? fmin(sp->def, max) : sp->def;
    double mid = sp->min + (max - sp->min) / 2;
    if (sp->type == PARAM_INT)
        mid = floor(mid);
    return mode == 0 ? def : mode == 1 ? sp->min : mode == 2 ? max : mid;
}

/* A catalogue with titles and genres, for the content models. */
static RsCatalog *small_catalog(size_t U, size_t I)
{
    static const char *const genres[] = {"Drama", "Comedy|Drama", "Horror", "Comedy"};
    RsCatalog *cat = NULL;
    char buf[64];
    if (rs_catalog_new(U, I, &cat, NULL))
        return NULL;
    for (size_t u = 0; u < U; u++) {
        snprintf(buf, sizeof buf, "u%zu", u);
        cat->user_ext[u] = strdup(buf);
    }
    for (size_t i = 0; i < I; i++) {
        snprintf(buf, sizeof buf, "i%zu", i);
        cat->item_ext[i] = strdup(buf);
        snprintf(buf, sizeof buf, "Film %zu of the %s", i, i % 2 ? "night" : "day");
        cat->item_title[i] = strdup(buf);
        cat->item_genres[i] = strdup(genres[i % 4]);
        cat->item_year[i] = 1990 + (int)i;
    }
    if (rs_catalog_finish(cat, NULL)) {
        rs_catalog_free(cat);
        return NULL;
    }
    return cat;
}

/* Reads the shape, training matrix and parameters from c. */
static int read_setup(Cursor *c, const ModelClass *cls, size_t *U, size_t *I, RsMatrix **train,
                      ParamValues *pv)
{
    *U = 1 + next_byte(c) % 12;
    *I = 1 + next_byte(c) % 12;
    RsTriplet t[48];
    size_t n = next_byte(c) % 48;
    for (size_t k = 0; k < n; k++) {
        t[k].u = next_byte(c) % *U;
        t[k].i = next_byte(c) % *I;
        uint8_t r = next_byte(c);
        t[k].rating = r % 6 ? (float)(r % 6) : NAN;
        t[k].ts = 1000000 + (int64_t)k;
    }
    if (rs_matrix_build(*U, *I, t, n, train, NULL))
        return -1;
    for (size_t k = 0; k < cls->nparams; k++)
        pv->v[k] = param_value(&cls->params[k], next_byte(c) % 4);
    return 0;
}

/* The container model_save would write around payload. */
static void wrap(RsBlob *b, const ModelClass *cls, size_t U, size_t I, const ParamValues *pv,
                 const uint8_t *payload, size_t len)
{
    blob_init(b);
    blob_put_bytes(b, "RSMODEL1", 8);
    blob_put_u32(b, MODEL_BLOB_VERSION);
    blob_put_str(b, cls->name);
    blob_put_u32(b, cls->format_version);
    blob_put_u64(b, U);
    blob_put_u64(b, I);
    blob_put_u64(b, 42);
    blob_put_u32(b, (uint32_t)cls->nparams);
    for (size_t k = 0; k < cls->nparams; k++)
        blob_put_f64(b, pv->v[k]);
    blob_put_u64(b, len);
    blob_put_bytes(b, payload, len);
    blob_put_u64(b, blob_hash(b->data, b->len));
}

/* Everything a loaded model is asked to do by the CLI and the TUI. */
static void exercise(const RsModel *m, const RsMatrix *train, const RsCatalog *cat)
{
    RsRec recs[8];
    size_t n;
    float *scores = malloc(m->I * sizeof *scores);
    for (uint32_t u = 0; u < m->U; u++) {
        model_recommend(m, train, u, 8, 1, recs, &n, NULL);
        if (m->cls->predict) {
            float r;
            m->cls->predict(m, train, u, (uint32_t)(u % m->I), &r);
        }
    }
    uint32_t items[2] = {0, (uint32_t)(m->I - 1)};
    float values[2] = {4, NAN};
    RsProfile p = {2, items, values};
    if (m->cls->score_profile)
        model_recommend_profile(m, train, &p, 8, 1, recs, &n, NULL);
    if (m->cls->similar && scores)
        m->cls->similar(m, train, 0, scores, NULL);
    RsExplanation e;
    rs_explanation_init(&e);
    model_explain(m, train, cat, 0, NULL, (uint32_t)(m->I - 1), &e, NULL);
    rs_explanation_done(&e);
    rs_explanation_init(&e);
    if (m->cls->score_profile)
        model_explain(m, train, cat, -1, &p, 0, &e, NULL);
    rs_explanation_done(&e);
    free(scores);
}

#ifndef FUZZ_MODEL_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
    char name[64] = "";
    if (nl) {
        memcpy(name, data, (size_t)(nl - data));
        name[nl - data] = '\0';
    }
    const ModelClass *cls = nl ? model_class_find(name) : NULL;
    RsModel *m = NULL;
    if (!cls) {
        if (model_load(data, size, FUZZ_RAW_U, FUZZ_RAW_I, &m, NULL) == RS_OK)
            model_free(m);
        return 0;
    }
    Cursor c = {nl + 1, size - (size_t)(nl + 1 - data)};
    size_t U, I;
    RsMatrix *train = NULL;
    ParamValues pv = {{0}};
    if (read_setup(&c, cls, &U, &I, &train, &pv))
        return 0;
    RsBlob b;
    wrap(&b, cls, U, I, &pv, c.p, c.n);
    if (!b.oom && model_load(b.data, b.len, U, I, &m, NULL) == RS_OK) {
        RsCatalog *cat = small_catalog(U, I);
        if (cat)
            exercise(m, train, cat);
        rs_catalog_free(cat);
        model_free(m);
    }
    blob_done(&b);
    rs_matrix_free(train);
    return 0;
}

#else

/* The fixed setup every seed starts with: 6 users, 8 items, 30 ratings,
 * default parameters. */
static size_t seed_setup(uint8_t *buf, size_t nparams)
{
    size_t w = 0;
    buf[w++] = 5;
    buf[w++] = 7;
    buf[w++] = 30;
    for (uint8_t k = 0; k < 30; k++) {
        buf[w++] = (uint8_t)(k % 6);
        buf[w++] = (uint8_t)((k * 5 + k / 6) % 8);
        buf[w++] = (uint8_t)(1 + (k * 7) % 5);
    }
    for (size_t k = 0; k < nparams; k++)
        buf[w++] = 0;
    return w;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
        return 2;
    }
    for (size_t k = 0; k < model_class_count(); k++) {
        const ModelClass *cls = model_class_at(k);
        uint8_t head[256];
        size_t hlen = seed_setup(head, cls->nparams);
        Cursor c = {head, hlen};
        size_t U, I;
        RsMatrix *train = NULL;
        ParamValues pv = {{0}};
        RsModel *m = NULL;
        RsBlob b = {0};
        RsErr err = {0};
        if (read_setup(&c, cls, &U, &I, &train, &pv) ||
            model_new(cls, U, I, &pv, 42, &m, &err)) {
            fprintf(stderr, "%s: cannot set up: %s\n", cls->name, err.msg);
            return 1;
        }
        RsCatalog *cat = small_catalog(U, I);
        FitContext ctx = {.train = train, .cat = cat, .nthreads = 1};
        size_t plen = 0;
        const uint8_t *payload = NULL;
        if (model_fit(m, &ctx, &err) == RS_OK && model_save(m, &b, &err) == RS_OK) {
            size_t start = 8 + 4 + 4 + strlen(cls->name) + 4 + 3 * 8 + 4 + 8 * cls->nparams + 8;
            payload = b.data + start;
            plen = b.len - start - 8;
        } else {
            fprintf(stderr, "%s: not trained (%s); empty payload\n", cls->name, err.msg);
        }
        /* the seed must load through the harness's own container */
        RsBlob w;
        RsModel *back = NULL;
        wrap(&w, cls, U, I, &pv, payload, plen);
        if (model_load(w.data, w.len, U, I, &back, &err) == RS_OK)
            exercise(back, train, cat);
        else if (plen)
            fprintf(stderr, "%s: seed does not load back: %s\n", cls->name, err.msg);
        model_free(back);
        blob_done(&w);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", argv[1], cls->name);
        FILE *f = fopen(path, "wb");
        if (!f || fprintf(f, "%s\n", cls->name) < 0 || fwrite(head, 1, hlen, f) != hlen ||
            (plen && fwrite(payload, 1, plen, f) != plen) || fclose(f)) {
            perror(path);
            return 1;
        }
        printf("%s: %zu payload bytes\n", path, plen);
        if (plen && (k == 0 || !strcmp(cls->name, "itemknn"))) {
            /* a whole blob too, for the container checks */
            snprintf(path, sizeof path, "%s/raw-%s", argv[1], cls->name);
            if (!(f = fopen(path, "wb")) || fwrite(b.data, 1, b.len, f) != b.len || fclose(f)) {
                perror(path);
                return 1;
            }
        }
        blob_done(&b);
        rs_catalog_free(cat);
        model_free(m);
        rs_matrix_free(train);
    }
    return 0;
}

#endif
