/* test_content.c - the content model (TF-IDF, engine/content.c) and the
 * CF + content hybrid (engine/hybrid.c): tokenising, TF-IDF weights and
 * scores worked by hand, explanations that add up, cold-start items,
 * fold-in, save/load and damaged blobs, determinism, and quality on
 * MovieLens-100K (skipped when the data set is absent). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "content.h"
#include "dataset.h"
#include "model.h"
#include "rng.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------- */

/* One catalogue entry: title, genres, tags, description, year. */
typedef struct ItemDef {
    const char *title, *genres, *tags, *desc;
    int year;
} ItemDef;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static RsCatalog *make_catalog(size_t U, size_t I, const ItemDef *items)
{
    RsCatalog *c;
    RsErr err;
    assert_int_equal(rs_catalog_new(U, I, &c, &err), RS_OK);
    for (size_t i = 0; i < I; i++) {
        c->item_title[i] = dup_or_null(items[i].title);
        c->item_genres[i] = dup_or_null(items[i].genres);
        c->item_tags[i] = dup_or_null(items[i].tags);
        c->item_desc[i] = dup_or_null(items[i].desc);
        c->item_year[i] = items[i].year;
    }
    return c;
}

/* A matrix from (user, item) pairs; ratings may be NULL (implicit). */
static RsMatrix *make_matrix(size_t U, size_t I, const uint32_t (*ui)[2], size_t n,
                             const float *ratings)
{
    RsTriplet *t = calloc(n ? n : 1, sizeof *t);
    assert_non_null(t);
    for (size_t k = 0; k < n; k++)
        t[k] = (RsTriplet){ui[k][0], ui[k][1], ratings ? ratings[k] : NAN, RS_NO_TS};
    RsMatrix *m;
    RsErr err;
    assert_int_equal(rs_matrix_build(U, I, t, n, &m, &err), RS_OK);
    free(t);
    return m;
}

static float *score_user(const RsModel *m, const RsMatrix *train, uint32_t u)
{
    float *s = malloc(m->I * sizeof *s);
    RsErr err = {0};
    assert_non_null(s);
    if (m->cls->score(m, train, u, s, &err) != RS_OK)
        fail_msg("score: %s", err.msg);
    return s;
}

/* Whether item is among the top K unseen recommendations of user u. */
static int in_top(const RsModel *m, const RsMatrix *train, uint32_t u, uint32_t item, size_t K)
{
    RsRec rec[16];
    size_t n;
    RsErr err = {0};
    assert_true(K <= 16);
    if (model_recommend(m, train, u, K, 1, rec, &n, &err) != RS_OK)
        fail_msg("recommend: %s", err.msg);
    for (size_t k = 0; k < n; k++)
        if (rec[k].item == item)
            return 1;
    return 0;
}

/* Where the payload of a saved blob starts: magic, container version, class
 * name, format version, U, I, seed, parameter count, parameters, payload
 * length (model.h). */
static size_t payload_at(const RsModel *m)
{
    return 8 + 4 + 4 + strlen(m->cls->name) + 4 + 8 + 8 + 8 + 4 + 8 * m->cls->nparams + 8;
}

static size_t params_at(const RsModel *m)
{
    return 8 + 4 + 4 + strlen(m->cls->name) + 4 + 8 + 8 + 8 + 4;
}

static void fix_checksum(uint8_t *d, size_t len)
{
    uint64_t h = blob_hash(d, len - 8);
    memcpy(d + len - 8, &h, 8);
}

/* model_load() finds classes by name in the registry (engine/registry.c). */
static void need_registered(void)
{
    if (model_class_find("content") != &model_content ||
        model_class_find("hybrid") != &model_hybrid) {
        printf("    content/hybrid are not in engine/registry.c yet: blob test skipped\n");
        skip();
    }
}

/* Loads a (damaged) copy; returns the error code, freeing any model. */
static int load_copy(const uint8_t *d, size_t len, const RsModel *m, RsErr *err)
{
    RsModel *out = NULL;
    int rc = model_load(d, len, m->U, m->I, &out, err);
    model_free(out);
    return rc;
}

/* ---- tokenising ------------------------------------------------------------- */

typedef struct Tokens {
    char tok[32][CONTENT_TERM_MAX + 1];
    size_t n;
} Tokens;

static void add_token(void *ctx, const char *tok, size_t len)
{
    Tokens *t = ctx;
    assert_int_equal(strlen(tok), len);
    assert_true(t->n < 32);
    snprintf(t->tok[t->n++], sizeof t->tok[0], "%s", tok);
}

static void test_tokenize(void **state)
{
    (void)state;
    Tokens t = {0};
    /* stop words in any case, one-character tokens, ASCII punctuation, an
     * em dash (U+2014), a non-breaking space (U+00A0), an invalid byte and a
     * cut multi-byte sequence all separate or vanish; accented letters and
     * CJK characters stay whole, Latin-1 capitals are lower-cased. */
    const char *text = "The QUICK, brown fox's caf\xc3\xa9\xe2\x80\x94na\xc3\xafve \xc3\x9c"
                       "ber\xc2\xa0\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e x I a1 of ABOUT "
                       "between yours with\xffzz end\xc3";
    size_t n = content_tokenize(text, add_token, &t);
    const char *want[] = {"quick", "brown", "fox", "caf\xc3\xa9", "na\xc3\xafve",
                          "\303\274ber", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "a1", "zz",
                          "end"};
    assert_int_equal(n, RS_ARRAY_LEN(want));
    assert_int_equal(t.n, RS_ARRAY_LEN(want));
    for (size_t k = 0; k < t.n; k++)
        assert_string_equal(t.tok[k], want[k]);

    /* a long word is cut at a character boundary: 40 x "é" (80 bytes) keeps
     * 31 characters (62 bytes <= CONTENT_TERM_MAX = 63) */
    char longw[200] = "";
    for (int k = 0; k < 40; k++)
        strcat(longw, "\xc3\xa9");
    t.n = 0;
    assert_int_equal(content_tokenize(longw, add_token, &t), 1);
    assert_int_equal(strlen(t.tok[0]), 62);
    assert_memory_equal(t.tok[0], longw, 62);

    t.n = 0;
    assert_int_equal(content_tokenize(NULL, add_token, &t), 0);
    assert_int_equal(content_tokenize("a I of the, --", add_token, &t), 0);
}

/* ---- TF-IDF by hand ------------------------------------------------------------ */

/* Four items, I = 4, fields: title (weight 1) and genres (weight 2):
 *   0 "Red Star"      Drama
 *   1 "Red Red Moon"  Drama|Comedy
 *   2 "Blue Moon"     Comedy
 *   3 "Green (1995)"  -            (nobody interacts with it)
 * Document frequencies: red 2, moon 2, genre:drama 2, genre:comedy 2, star 1,
 * blue 1, green 1 ("1995" is cut from the title, and year_weight = 0).
 * Smoothed idf = ln((1 + I) / (1 + df)) + 1:
 *   df 1: ln(5/2) + 1 = 1.916291     df 2: ln(5/3) + 1 = 1.510826
 * Sublinear tf = field weight x (1 + ln count).
 * Item 0: red 1 x 1.510826 = 1.510826, star 1.916291,
 *         genre:drama 2 x 1.510826 = 3.021651;
 *         norm^2 = 2.282594 + 3.672170 + 9.130378 = 15.085142, norm 3.883959
 *         -> red 0.388991, star 0.493386, genre:drama 0.777982
 * Item 1: red (1 + ln 2) x 1.510826 = 2.558054, moon 1.510826,
 *         genre:drama 3.021651, genre:comedy 3.021651;
 *         norm^2 = 6.543640 + 2.282594 + 2 x 9.130378 = 27.086990, norm 5.204514
 *         -> red 0.491506, moon 0.290291, drama 0.580583, comedy 0.580583
 * Item 2: blue 1.916291, moon 1.510826, genre:comedy 3.021651 (norm 3.883959)
 *         -> blue 0.493386, moon 0.388991, genre:comedy 0.777982
 * Item 3: green alone -> 1.
 * User 0 has item 0: profile x_0, so
 *   score(0, 1) = red 0.388991 x 0.491506 + drama 0.777982 x 0.580583
 *               = 0.191192 + 0.451683 = 0.642875
 *   score(0, 2) = 0 (nothing shared), score(0, 0) = 1. */
static const ItemDef hand_items[] = {
    {"Red Star", "Drama", NULL, NULL, 0},
    {"Red Red Moon", "Drama|Comedy", NULL, NULL, 0},
    {"Blue Moon", "Comedy", NULL, NULL, 0},
    {"Green (1995)", NULL, NULL, NULL, 0},
};

static const char *const hand_params[] = {
    "title_weight=1", "genre_weight=2", "tag_weight=0",  "desc_weight=0",
    "year_weight=0",  "min_df=1",       "max_df=1",      "tf=sublinear",
};

typedef struct Hand {
    RsCatalog *cat;
    RsMatrix *train;
} Hand;

static void hand_init(Hand *h, const float *ratings)
{
    /* user 0: item 0; user 1: items 0 and 2 (rated 5 and 1 when ratings) */
    static const uint32_t ui[][2] = {{0, 0}, {1, 0}, {1, 2}};
    h->cat = make_catalog(2, 4, hand_items);
    h->train = make_matrix(2, 4, ui, 3, ratings);
}

static void hand_done(Hand *h)
{
    rs_catalog_free(h->cat);
    rs_matrix_free(h->train);
}

static void test_tfidf_by_hand(void **state)
{
    (void)state;
    Hand h;
    hand_init(&h, NULL);
    RsModel *m = tu_fit(&model_content, h.train, h.cat, hand_params, RS_ARRAY_LEN(hand_params), 1);

    const char *vocab[] = {"blue", "genre:comedy", "genre:drama", "green", "moon", "red", "star"};
    assert_int_equal(content_vocab_size(m), RS_ARRAY_LEN(vocab));
    for (size_t t = 0; t < RS_ARRAY_LEN(vocab); t++)
        assert_string_equal(content_term(m, t), vocab[t]);
    assert_float_equal(content_idf(m, "star"), 1.916291, 1e-5);
    assert_float_equal(content_idf(m, "red"), 1.510826, 1e-5);
    assert_true(isnan(content_idf(m, "1995")));

    assert_float_equal(content_weight(m, 0, "red"), 0.388991, 1e-5);
    assert_float_equal(content_weight(m, 0, "star"), 0.493386, 1e-5);
    assert_float_equal(content_weight(m, 0, "genre:drama"), 0.777982, 1e-5);
    assert_float_equal(content_weight(m, 0, "moon"), 0, 0);
    assert_float_equal(content_weight(m, 1, "red"), 0.491506, 1e-5);
    assert_float_equal(content_weight(m, 1, "moon"), 0.290291, 1e-5);
    assert_float_equal(content_weight(m, 1, "genre:drama"), 0.580583, 1e-5);
    assert_float_equal(content_weight(m, 1, "genre:comedy"), 0.580583, 1e-5);
    assert_float_equal(content_weight(m, 2, "blue"), 0.493386, 1e-5);
    assert_float_equal(content_weight(m, 2, "genre:comedy"), 0.777982, 1e-5);
    assert_float_equal(content_weight(m, 3, "green"), 1, 1e-6);

    float *s = score_user(m, h.train, 0);
    assert_float_equal(s[0], 1, 1e-5);
    assert_float_equal(s[1], 0.642875, 1e-5);
    assert_float_equal(s[2], 0, 1e-7);
    assert_float_equal(s[3], 0, 1e-7); /* the cold item is scored too */
    free(s);
    model_free(m);

    /* min_df = 2 keeps the four df-2 terms, max_df = 0.4 (df <= 1.6) the
     * three df-1 ones (later KEY=VALUE strings override earlier ones) */
    const char *kv[RS_ARRAY_LEN(hand_params) + 1];
    memcpy(kv, hand_params, sizeof hand_params);
    kv[RS_ARRAY_LEN(hand_params)] = "min_df=2";
    m = tu_fit(&model_content, h.train, h.cat, kv, RS_ARRAY_LEN(kv), 1);
    assert_int_equal(content_vocab_size(m), 4);
    assert_true(isnan(content_idf(m, "star")));
    assert_float_equal(content_idf(m, "moon"), 1.510826, 1e-5);
    model_free(m);
    kv[RS_ARRAY_LEN(hand_params)] = "max_df=0.4";
    m = tu_fit(&model_content, h.train, h.cat, kv, RS_ARRAY_LEN(kv), 1);
    assert_int_equal(content_vocab_size(m), 3);
    assert_true(isnan(content_idf(m, "red")));
    assert_false(isnan(content_idf(m, "star")));
    assert_float_equal(content_weight(m, 0, "star"), 1, 1e-6);
    model_free(m);
    hand_done(&h);
}

/* History weights with ratings: user 1 rated item 0 with 5 and item 2 with
 * 1 (mean 3).
 *   centered: weights +2, -2, profile (x_0 - x_2) / ||x_0 - x_2|| with
 *     x_0 . x_2 = 0, so ||.|| = sqrt 2;
 *     x_2 . x_1 = moon 0.388991 x 0.290291 + comedy 0.777982 x 0.580583
 *               = 0.112921 + 0.451683 = 0.564604
 *     score(1, 1) = (0.642875 - 0.564604) / 1.414214 = 0.055346
 *   clipped: weights 2, 0 -> profile x_0 -> score(1, 1) = 0.642875
 *   binary: (x_0 + x_2) / sqrt 2 -> (0.642875 + 0.564604) / 1.414214 = 0.853816 */
static void test_profile_weights(void **state)
{
    (void)state;
    const float ratings[] = {4, 5, 1};
    Hand h;
    hand_init(&h, ratings);
    const char *scheme[] = {"profile=centered", "profile=clipped", "profile=binary"};
    const float want[] = {0.055346f, 0.642875f, 0.853816f};
    for (int k = 0; k < 3; k++) {
        const char *kv[RS_ARRAY_LEN(hand_params) + 1];
        memcpy(kv, hand_params, sizeof hand_params);
        kv[RS_ARRAY_LEN(hand_params)] = scheme[k];
        RsModel *m = tu_fit(&model_content, h.train, h.cat, kv, RS_ARRAY_LEN(kv), 1);
        float *s = score_user(m, h.train, 1);
        assert_float_equal(s[1], want[k], 1e-5);
        free(s);
        /* equal ratings: every centered weight is 0, the binary profile is used */
        const float same[] = {3, 3};
        const uint32_t items[] = {0, 2};
        RsProfile p = {2, items, same};
        float *sp = malloc(4 * sizeof *sp);
        RsErr err = {0};
        assert_int_equal(m->cls->score_profile(m, h.train, &p, sp, &err), RS_OK);
        assert_float_equal(sp[1], 0.853816, 1e-5);
        free(sp);
        model_free(m);
    }
    hand_done(&h);
}

/* The year in "Green (1995)" becomes decade:1990s and no "1995" term; the
 * catalogue's year wins over the title's. */
static void test_title_year(void **state)
{
    (void)state;
    const ItemDef items[] = {
        {"Green (1995)", NULL, NULL, NULL, 0},
        {"Green Hills (1999)", NULL, NULL, NULL, 0},
        {"Hills", NULL, NULL, NULL, 1987},
        {"Hills Again (1960)", NULL, NULL, NULL, 2001},
    };
    RsCatalog *cat = make_catalog(1, 4, items);
    const uint32_t ui[][2] = {{0, 0}};
    RsMatrix *train = make_matrix(1, 4, ui, 1, NULL);
    const char *kv[] = {"min_df=1", "max_df=1"};
    RsModel *m = tu_fit(&model_content, train, cat, kv, 2, 1);
    assert_true(content_weight(m, 0, "decade:1990s") > 0);
    assert_true(content_weight(m, 1, "decade:1990s") > 0);
    assert_true(content_weight(m, 2, "decade:1980s") > 0);
    assert_true(content_weight(m, 3, "decade:2000s") > 0);
    assert_true(isnan(content_idf(m, "1995")));
    assert_true(isnan(content_idf(m, "decade:1960s")));
    model_free(m);
    rs_matrix_free(train);
    rs_catalog_free(cat);
}

/* ---- a generated data set for the behaviour tests ------------------------------ */

#define GEN_U 40
#define GEN_I 90
#define GEN_COLD 10 /* the last GEN_COLD items have no interactions */

typedef struct Gen {
    RsCatalog *cat;
    RsMatrix *train;
} Gen;

static void gen_init(Gen *g)
{
    static const char *words[] = {"dragon", "river",  "night",  "city",   "ghost", "storm",
                                  "garden", "empire", "mirror", "silver", "ocean", "winter",
                                  "shadow", "fire",   "stone",  "caf\xc3\xa9"};
    static const char *genres[] = {"Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"};
    static const char *tags[] = {"twist ending", "heist", "space", "based on a book", "revenge"};
    RsRng r;
    rng_seed(&r, 7);
    RsCatalog *c;
    assert_int_equal(rs_catalog_new(GEN_U, GEN_I, &c, NULL), RS_OK);
    for (size_t i = 0; i < GEN_I; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "The %s of %s %s (%d)", words[rng_below(&r, 16)],
                 words[rng_below(&r, 16)], words[rng_below(&r, 16)],
                 1950 + (int)rng_below(&r, 70));
        c->item_title[i] = strdup(buf);
        snprintf(buf, sizeof buf, "%s|%s", genres[rng_below(&r, 6)], genres[rng_below(&r, 6)]);
        c->item_genres[i] = strdup(buf);
        snprintf(buf, sizeof buf, "%s", tags[rng_below(&r, 5)]);
        c->item_tags[i] = strdup(buf);
        snprintf(buf, sizeof buf, "A %s story about a %s and the %s.", words[rng_below(&r, 16)],
                 words[rng_below(&r, 16)], words[rng_below(&r, 16)]);
        c->item_desc[i] = strdup(buf);
    }
    RsTriplet t[GEN_U * 15];
    size_t n = 0;
    for (uint32_t u = 0; u < GEN_U; u++)
        for (int k = 0; k < 15; k++)
            t[n++] = (RsTriplet){u, (uint32_t)rng_below(&r, GEN_I - GEN_COLD),
                                 (float)(1 + rng_below(&r, 5)), RS_NO_TS};
    assert_int_equal(rs_matrix_build(GEN_U, GEN_I, t, n, &g->train, NULL), RS_OK);
    g->cat = c;
}

static void gen_done(Gen *g)
{
    rs_catalog_free(g->cat);
    rs_matrix_free(g->train);
}

static RsModel *fit_hybrid(const Gen *g, const char *cf, const char *alpha)
{
    char a[64], b[64];
    snprintf(a, sizeof a, "cf=%s", cf);
    snprintf(b, sizeof b, "alpha=%s", alpha);
    const char *kv[] = {a, b};
    return tu_fit(&model_hybrid, g->train, g->cat, kv, 2, 3);
}

/* Explanation terms sum to the score, each is profile weight x item weight. */
static void test_explain_sums(void **state)
{
    (void)state;
    Gen g;
    gen_init(&g);
    const char *kv[] = {"profile=centered"};
    for (int variant = 0; variant < 2; variant++) {
        RsModel *m = tu_fit(&model_content, g.train, g.cat, kv, (size_t)variant, 1);
        for (uint32_t u = 0; u < GEN_U; u += 7) {
            float *s = score_user(m, g.train, u);
            for (uint32_t i = 0; i < GEN_I; i += 5) {
                RsExplanation e;
                RsErr err = {0};
                rs_explanation_init(&e);
                if (model_explain(m, g.train, g.cat, u, NULL, i, &e, &err))
                    fail_msg("explain: %s", err.msg);
                assert_true(e.additive);
                assert_float_equal(e.score, s[i], 1e-6);
                double sum = e.bias;
                for (size_t k = 0; k < e.n; k++) {
                    assert_int_equal(e.c[k].kind, EXPL_TERM);
                    float w = content_weight(m, i, e.c[k].label);
                    assert_true(w > 0); /* the label is one of the item's terms */
                    assert_float_equal(e.c[k].value, e.c[k].similarity * w, 1e-6);
                    if (k)
                        assert_true(fabsf(e.c[k].value) <= fabsf(e.c[k - 1].value));
                    sum += e.c[k].value;
                }
                assert_float_equal(sum, s[i], 1e-5);
                rs_explanation_done(&e);
            }
            free(s);
        }
        model_free(m);
    }
    gen_done(&g);
}

/* An item nobody has interacted with is recommended by content and by the
 * hybrid when it matches the user's history. */
static void test_cold_item_recommended(void **state)
{
    (void)state;
    /* items 6-19 are fillers with words of their own, so that the shared
     * terms stay under the default max_df (0.3 of the catalogue) */
    ItemDef items[20] = {
        {"Green Dragon Returns", "Fantasy", "dragons", NULL, 1990},
        {"City Lights", "Comedy", NULL, NULL, 1931},
        {"Night Train", "Thriller", NULL, NULL, 1959},
        {"Harbour Blues", "Drama", NULL, NULL, 1975},
        {"Paper Moon", "Comedy", NULL, NULL, 1973},
        {"Green Dragon", "Fantasy", "dragons", NULL, 1988}, /* brand new */
    };
    char filler[20][16];
    for (int i = 6; i < 20; i++) {
        snprintf(filler[i], sizeof filler[i], "Zq%c%c", 'a' + i, 'a' + i);
        items[i].title = filler[i];
    }
    RsCatalog *cat = make_catalog(5, 20, items);
    /* user 0 liked item 0; the others make items 1-4 popular */
    static const uint32_t ui[][2] = {{0, 0}, {1, 1}, {1, 2}, {2, 1}, {2, 3}, {3, 1},
                                     {3, 4}, {4, 2}, {4, 3}, {4, 4}, {4, 1}};
    RsMatrix *train = make_matrix(5, 20, ui, RS_ARRAY_LEN(ui), NULL);
    RsModel *m = tu_fit(&model_content, train, cat, NULL, 0, 1);
    assert_true(in_top(m, train, 0, 5, 1));
    model_free(m);

    const char *hv[] = {"cf=pop", "alpha=0.2"};
    m = tu_fit(&model_hybrid, train, cat, hv, 2, 1);
    /* content alone gives it z = 18 / sqrt 18 = 4.24 (the one match among 19
     * candidates); the best warm item, item 1, gets 0.8 x 1.73 (its z among the
     * popularity counts 4, 2, 2, 2) + 0.2 x -0.24 = 1.34 */
    assert_true(in_top(m, train, 0, 5, 1));
    /* its explanation: the content part alone, with the whole weight */
    RsExplanation e;
    RsErr err = {0};
    rs_explanation_init(&e);
    assert_int_equal(model_explain(m, train, cat, 0, NULL, 5, &e, &err), RS_OK);
    assert_int_equal(e.rank, 1);
    assert_float_equal(e.score, 18 / sqrt(18), 1e-4);
    int parts = 0;
    for (size_t k = 0; k < e.n; k++)
        if (e.c[k].kind == EXPL_PART) {
            parts++;
            assert_string_equal(e.c[k].label, "content");
            assert_float_equal(e.c[k].value, e.score, 1e-6);
        }
    assert_int_equal(parts, 1);
    rs_explanation_done(&e);
    model_free(m);
    rs_matrix_free(train);
    rs_catalog_free(cat);
}

static void test_hybrid_explain(void **state)
{
    (void)state;
    Gen g;
    gen_init(&g);
    RsModel *m = fit_hybrid(&g, "pop", "0.3");
    for (uint32_t u = 0; u < GEN_U; u += 9) {
        float *s = score_user(m, g.train, u);
        for (uint32_t i = 0; i < GEN_I; i += 4) {
            RsExplanation e;
            RsErr err = {0};
            rs_explanation_init(&e);
            assert_int_equal(model_explain(m, g.train, g.cat, u, NULL, i, &e, &err), RS_OK);
            assert_float_equal(e.score, s[i], 1e-6);
            double parts = 0;
            int nparts = 0, nterms = 0;
            for (size_t k = 0; k < e.n; k++) {
                if (e.c[k].kind == EXPL_PART) {
                    parts += e.c[k].value;
                    nparts++;
                } else {
                    assert_int_equal(e.c[k].kind, EXPL_TERM);
                    nterms++;
                }
            }
            assert_int_equal(nparts, rs_item_count(g.train, i) ? 2 : 1);
            assert_float_equal(parts, s[i], 1e-5);
            assert_true(nterms <= 8);
            rs_explanation_done(&e);
        }
        free(s);
    }
    model_free(m);
    gen_done(&g);
}

/* The blend recomputed here from the two parts' raw scores: each part
 * normalised over the user's candidates (not in the history; for CF also
 * with training interactions), (1 - alpha) z_cf + alpha z_content for warm
 * items, z_content alone for cold ones. */
static void test_hybrid_blend(void **state)
{
    (void)state;
    Gen g;
    gen_init(&g);
    const char *norms[] = {"norm=zscore", "norm=minmax"};
    for (int k = 0; k < 2; k++) {
        const char *kv[] = {"cf=pop", "alpha=0.3", norms[k]};
        RsModel *m = tu_fit(&model_hybrid, g.train, g.cat, kv, 3, 5);
        const RsModel *cf = hybrid_cf_part(m), *ct = hybrid_content_part(m);
        assert_non_null(cf);
        assert_non_null(ct);
        assert_string_equal(cf->cls->name, "pop");
        assert_ptr_equal(ct->cls, &model_content);
        for (uint32_t u = 0; u < GEN_U; u += 3) {
            float *s = score_user(m, g.train, u), *a = score_user(cf, g.train, u),
                  *b = score_user(ct, g.train, u);
            double st[2][4] = {{0, 0, INFINITY, -INFINITY}, {0, 0, INFINITY, -INFINITY}};
            size_t cnt[2] = {0, 0};
            for (uint32_t i = 0; i < GEN_I; i++) { /* sums, sums of squares, min, max */
                if (rs_matrix_find(g.train, u, i) != (size_t)-1)
                    continue;
                for (int p = 0; p < 2; p++) {
                    double v = p ? b[i] : a[i];
                    if (p == 0 && rs_item_count(g.train, i) == 0)
                        continue;
                    st[p][0] += v;
                    st[p][1] += v * v;
                    st[p][2] = fmin(st[p][2], v);
                    st[p][3] = fmax(st[p][3], v);
                    cnt[p]++;
                }
            }
            double z[2][2]; /* shift, scale */
            for (int p = 0; p < 2; p++) {
                double mean = st[p][0] / (double)cnt[p];
                double sd = sqrt(st[p][1] / (double)cnt[p] - mean * mean);
                z[p][0] = k ? st[p][2] : mean;
                z[p][1] = k ? 1 / (st[p][3] - st[p][2]) : 1 / sd;
            }
            for (uint32_t i = 0; i < GEN_I; i++) {
                double zc = (a[i] - z[0][0]) * z[0][1], zt = (b[i] - z[1][0]) * z[1][1];
                double want = rs_item_count(g.train, i) ? 0.7 * zc + 0.3 * zt : zt;
                assert_float_equal(s[i], want, 1e-4);
            }
            free(s);
            free(a);
            free(b);
        }
        model_free(m);
    }
    gen_done(&g);
}

/* score_profile on a user's own training row equals score. */
static void test_foldin_equals_score(void **state)
{
    (void)state;
    Gen g;
    gen_init(&g);
    RsModel *models[] = {tu_fit(&model_content, g.train, g.cat, NULL, 0, 1),
                         fit_hybrid(&g, "pop", "0.2")};
    for (size_t k = 0; k < 2; k++) {
        assert_non_null(models[k]->cls->score_profile);
        for (uint32_t u = 0; u < GEN_U; u++) {
            float *s = score_user(models[k], g.train, u);
            float *f = malloc(GEN_I * sizeof *f);
            RsProfile p = rs_profile_of_user(g.train, u);
            RsErr err = {0};
            assert_int_equal(models[k]->cls->score_profile(models[k], g.train, &p, f, &err),
                             RS_OK);
            assert_memory_equal(s, f, GEN_I * sizeof *f);
            free(s);
            free(f);
        }
        /* an out-of-range item is an error, not a crash */
        uint32_t bad = GEN_I;
        RsProfile p = {1, &bad, NULL};
        float *f = malloc(GEN_I * sizeof *f);
        RsErr err = {0};
        assert_int_equal(models[k]->cls->score_profile(models[k], g.train, &p, f, &err),
                         RS_EUSAGE);
        free(f);
        model_free(models[k]);
    }
    gen_done(&g);
}

/* Content "similar": cosines between item vectors, the item itself left out. */
static void test_similar(void **state)
{
    (void)state;
    Gen g;
    gen_init(&g);
    RsModel *m = tu_fit(&model_content, g.train, g.cat, NULL, 0, 1);
    float *s = malloc(GEN_I * sizeof *s);
    RsErr err = {0};
    for (uint32_t i = 0; i < GEN_I; i += 11) {
        assert_int_equal(m->cls->similar(m, g.train, i, s, &err), RS_OK);
        assert_true(s[i] == -INFINITY);
        for (uint32_t j = 0; j < GEN_I; j++) {
            if (j == i)
                continue;
            double dot = 0; /* brute force over the whole vocabulary */
            for (size_t t = 0; t < content_vocab_size(m); t++)
                dot += content_weight(m, i, content_term(m, t)) *
                       (double)content_weight(m, j, content_term(m, t));
            assert_float_equal(s[j], dot, 1e-5);
        }
    }
    free(s);
    model_free(m);
    gen_done(&g);
}

/* ---- save / load ------------------------------------------------------------- */

static void assert_same_scores(const RsModel *a, const RsModel *b, const RsMatrix *train)
{
    for (uint32_t u = 0; u < a->U; u++) {
        float *sa = score_user(a, train, u), *sb = score_user(b, train, u);
        assert_memory_equal(sa, sb, a->I * sizeof *sa);
        free(sa);
        free(sb);
    }
}

static void test_save_load(void **state)
{
    (void)state;
    need_registered();
    Gen g;
    gen_init(&g);
    RsModel *models[] = {tu_fit(&model_content, g.train, g.cat, NULL, 0, 1),
                         fit_hybrid(&g, "pop", "0.25")};
    for (size_t k = 0; k < 2; k++) {
        RsBlob b;
        RsErr err = {0};
        assert_int_equal(model_save(models[k], &b, &err), RS_OK);
        RsModel *back = NULL;
        if (model_load(b.data, b.len, GEN_U, GEN_I, &back, &err))
            fail_msg("load %s: %s", models[k]->cls->name, err.msg);
        assert_ptr_equal(back->cls, models[k]->cls);
        assert_same_scores(models[k], back, g.train);
        RsBlob b2;
        assert_int_equal(model_save(back, &b2, &err), RS_OK);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.data, b.data, b.len);
        blob_done(&b2);
        blob_done(&b);
        model_free(back);
        model_free(models[k]);
    }
    gen_done(&g);
}

static void test_content_blob_damage(void **state)
{
    (void)state;
    need_registered();
    Gen g;
    gen_init(&g);
    RsModel *m = tu_fit(&model_content, g.train, g.cat, NULL, 0, 1);
    RsBlob b;
    RsErr err = {0};
    assert_int_equal(model_save(m, &b, &err), RS_OK);
    const size_t off = payload_at(m), len = b.len;
    uint8_t *d = malloc(len);
    uint64_t V, nnz;
    memcpy(&V, b.data + off, 8);
    memcpy(&nnz, b.data + off + 8, 8);
    assert_int_equal(V, content_vocab_size(m));
    assert_true(V > 2 && nnz > 0);

    /* every truncation (a stride keeps it quick) */
    for (size_t cut = 0; cut < len; cut += 7)
        assert_int_not_equal(load_copy(b.data, cut, m, &err), RS_OK);

    /* the first term's length over CONTENT_TERM_MAX, checksum made good */
    memcpy(d, b.data, len);
    uint32_t big = CONTENT_TERM_MAX + 1;
    memcpy(d + off + 16, &big, 4);
    fix_checksum(d, len);
    assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);
    assert_non_null(strstr(err.msg, "term"));

    /* the first term padded to CONTENT_TERM_MAX bytes (with 0x01 bytes, so
     * that the order holds) still loads; one byte more is rejected */
    for (size_t extra = 0; extra < 2; extra++) {
        uint32_t tl;
        uint64_t pl;
        memcpy(&tl, b.data + off + 16, 4);
        const size_t end = off + 20 + tl, newl = CONTENT_TERM_MAX + extra, grow = newl - tl;
        uint8_t *e = malloc(len + grow);
        memcpy(e, b.data, end);
        memset(e + end, 0x01, grow);
        memcpy(e + end + grow, b.data + end, len - end);
        uint32_t nl = (uint32_t)newl;
        memcpy(e + off + 16, &nl, 4);
        memcpy(&pl, e + off - 8, 8);
        pl += grow;
        memcpy(e + off - 8, &pl, 8);
        fix_checksum(e, len + grow);
        if (extra == 0) {
            if (load_copy(e, len + grow, m, &err) != RS_OK)
                fail_msg("a term of CONTENT_TERM_MAX bytes: %s", err.msg);
        } else {
            assert_int_equal(load_copy(e, len + grow, m, &err), RS_EPARSE);
            assert_non_null(strstr(err.msg, "over 63 bytes"));
        }
        free(e);
    }

    /* terms out of order: the first term's first byte made 0x7e ('~') */
    memcpy(d, b.data, len);
    d[off + 20] = 0x7e;
    fix_checksum(d, len);
    assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);

    /* payload cut by 4 bytes with its length and checksum made good */
    memcpy(d, b.data, len);
    memmove(d + len - 12, d + len - 8, 8);
    uint64_t plen;
    memcpy(&plen, d + off - 8, 8);
    plen -= 4;
    memcpy(d + off - 8, &plen, 8);
    fix_checksum(d, len - 4);
    assert_int_equal(load_copy(d, len - 4, m, &err), RS_EPARSE);

    /* a term index beyond the vocabulary: term[NNZ] precedes weight[NNZ];
     * the very last one is changed, so that the order within its item holds */
    const size_t wt_at = len - 8 - 4 * nnz, tid_at = wt_at - 4 * nnz;
    memcpy(d, b.data, len);
    uint32_t tv = (uint32_t)V;
    memcpy(d + tid_at + 4 * (nnz - 1), &tv, 4);
    fix_checksum(d, len);
    assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);

    /* a negative weight, then a NaN weight */
    const float bad[] = {-0.5f, NAN};
    for (int k = 0; k < 2; k++) {
        memcpy(d, b.data, len);
        memcpy(d + wt_at, &bad[k], 4);
        fix_checksum(d, len);
        assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);
    }

    /* a weight changed so that the vector is no longer unit length */
    memcpy(d, b.data, len);
    float w;
    memcpy(&w, d + wt_at, 4);
    w *= 1.5f;
    memcpy(d + wt_at, &w, 4);
    fix_checksum(d, len);
    assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);

    /* a parameter out of range (tf = 7) */
    memcpy(d, b.data, len);
    double tf = 7;
    memcpy(d + params_at(m) + 8 * (size_t)params_index(m->cls->params, m->cls->nparams, "tf"),
           &tf, 8);
    fix_checksum(d, len);
    assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);

    /* untouched, it loads */
    assert_int_equal(load_copy(b.data, len, m, &err), RS_OK);
    free(d);
    blob_done(&b);
    model_free(m);
    gen_done(&g);
}

static void test_hybrid_blob_damage(void **state)
{
    (void)state;
    need_registered();
    Gen g;
    gen_init(&g);
    RsModel *m = fit_hybrid(&g, "pop", "0.2");
    RsBlob b;
    RsErr err = {0};
    assert_int_equal(model_save(m, &b, &err), RS_OK);
    const size_t off = payload_at(m), len = b.len;
    uint8_t *d = malloc(len);

    for (size_t cut = 0; cut < len; cut += 13)
        assert_int_not_equal(load_copy(b.data, cut, m, &err), RS_OK);

    /* the CF part's length larger than what is left */
    memcpy(d, b.data, len);
    uint64_t huge = len;
    memcpy(d + off, &huge, 8);
    fix_checksum(d, len);
    assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);

    /* a byte of the nested content blob flipped: its own checksum fails */
    uint64_t cf_len;
    memcpy(&cf_len, b.data + off, 8);
    memcpy(d, b.data, len);
    d[off + 8 + cf_len + 8 + 40] ^= 0x55;
    fix_checksum(d, len);
    assert_int_not_equal(load_copy(d, len, m, &err), RS_OK);
    assert_non_null(strstr(err.msg, "content"));

    /* the two parts swapped (lengths included): a part of the wrong class */
    uint64_t ct_len;
    memcpy(&ct_len, b.data + off + 8 + cf_len, 8);
    memcpy(d, b.data, off);
    memcpy(d + off, b.data + off + 8 + cf_len, 8 + ct_len);
    memcpy(d + off + 8 + ct_len, b.data + off, 8 + cf_len);
    memcpy(d + len - 8, b.data + len - 8, 8);
    fix_checksum(d, len);
    assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);

    /* cf, alpha and norm out of range in turn */
    const double bad[3] = {9, 2, 5};
    for (size_t k = 0; k < 3; k++) {
        memcpy(d, b.data, len);
        memcpy(d + params_at(m) + 8 * k, &bad[k], 8);
        fix_checksum(d, len);
        assert_int_equal(load_copy(d, len, m, &err), RS_EPARSE);
    }

    assert_int_equal(load_copy(b.data, len, m, &err), RS_OK);
    free(d);
    blob_done(&b);
    model_free(m);
    gen_done(&g);
}

/* Two fits with the same data give byte-identical blobs. */
static void test_determinism(void **state)
{
    (void)state;
    Gen g;
    gen_init(&g);
    for (int k = 0; k < 2; k++) {
        RsModel *a = k ? fit_hybrid(&g, "pop", "0.2")
                       : tu_fit(&model_content, g.train, g.cat, NULL, 0, 1);
        RsModel *b = k ? fit_hybrid(&g, "pop", "0.2")
                       : tu_fit(&model_content, g.train, g.cat, NULL, 0, 1);
        RsBlob ba, bb;
        assert_int_equal(model_save(a, &ba, NULL), RS_OK);
        assert_int_equal(model_save(b, &bb, NULL), RS_OK);
        assert_int_equal(ba.len, bb.len);
        assert_memory_equal(ba.data, bb.data, ba.len);
        assert_same_scores(a, b, g.train);
        blob_done(&ba);
        blob_done(&bb);
        model_free(a);
        model_free(b);
    }
    gen_done(&g);
}

/* A CF class that is not registered is a usage error with a message; the
 * content model without a catalogue too. */
static void test_usage_errors(void **state)
{
    (void)state;
    Gen g;
    gen_init(&g);
    RsErr err = {0};
    RsModel *m;
    FitContext ctx = {.train = g.train, .cat = NULL, .nthreads = 1};
    assert_int_equal(model_new(&model_content, GEN_U, GEN_I, NULL, 1, &m, &err), RS_OK);
    assert_int_equal(model_fit(m, &ctx, &err), RS_EUSAGE);
    model_free(m);

    const char *choices = model_hybrid.params[params_index(model_hybrid.params,
                                                           model_hybrid.nparams, "cf")]
                              .choices;
    char missing[32] = "";
    for (const char *p = choices; *p && !missing[0];) {
        size_t n = strcspn(p, "|");
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        if (!model_class_find(name))
            snprintf(missing, sizeof missing, "%s", name);
        p += n + (p[n] == '|');
    }
    if (missing[0]) {
        char kv0[64];
        snprintf(kv0, sizeof kv0, "cf=%s", missing);
        const char *kv[] = {kv0};
        ParamValues pv;
        assert_int_equal(params_parse(model_hybrid.params, model_hybrid.nparams, kv, 1, &pv, &err),
                         RS_OK);
        assert_int_equal(model_new(&model_hybrid, GEN_U, GEN_I, &pv, 1, &m, &err), RS_OK);
        ctx.cat = g.cat;
        assert_int_equal(model_fit(m, &ctx, &err), RS_EUSAGE);
        assert_non_null(strstr(err.msg, missing));
        model_free(m);
    } else {
        printf("    (every CF class of the hybrid is registered: no missing one to try)\n");
    }
    gen_done(&g);
}

/* ---- quality on MovieLens-100K -------------------------------------------------- */

/* u.item: id|title|date|video date|url|19 genre flags, latin-1. */
static RsCatalog *ml_catalog(const char *dir)
{
    static const char *genres[19] = {"unknown", "Action", "Adventure", "Animation", "Children's",
                                     "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
                                     "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
                                     "Sci-Fi", "Thriller", "War", "Western"};
    char path[4200], line[4096];
    snprintf(path, sizeof path, "%s/u.item", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    RsCatalog *c;
    assert_int_equal(rs_catalog_new(943, 1682, &c, NULL), RS_OK);
    while (fgets(line, sizeof line, f)) {
        char *fl[24], *p = line;
        int n = 0;
        while (n < 24) {
            fl[n++] = p;
            size_t k = strcspn(p, "|\r\n");
            int more = p[k] == '|';
            p[k] = '\0';
            if (!more)
                break;
            p += k + 1;
        }
        int id = atoi(fl[0]);
        assert_true(n == 24 && id >= 1 && id <= 1682);
        char title[1024], g[512] = "";
        size_t w = 0;
        for (const unsigned char *s = (const unsigned char *)fl[1]; *s && w + 3 < sizeof title;
             s++) { /* latin-1 -> UTF-8 */
            if (*s < 0x80) {
                title[w++] = (char)*s;
            } else {
                title[w++] = (char)(0xC0 | (*s >> 6));
                title[w++] = (char)(0x80 | (*s & 0x3F));
            }
        }
        title[w] = '\0';
        for (int k = 0; k < 19; k++)
            if (fl[5 + k][0] == '1')
                snprintf(g + strlen(g), sizeof g - strlen(g), "%s%s", g[0] ? "|" : "", genres[k]);
        c->item_title[id - 1] = strdup(title);
        c->item_genres[id - 1] = strdup(g);
    }
    fclose(f);
    return c;
}

/* The expected NDCG@K of a uniformly random ranking of each user's
 * candidates: every position holds a test item with probability T / C. */
static double random_ndcg(const RsMatrix *train, const RsMatrix *test, size_t K)
{
    double total = 0;
    size_t users = 0;
    for (uint32_t u = 0; u < test->U; u++) {
        size_t T = rs_user_count(test, u);
        if (!T)
            continue;
        double p = (double)T / (double)(train->I - rs_user_count(train, u)), dcg = 0, idcg = 0;
        for (size_t r = 0; r < K; r++)
            dcg += p / log2((double)r + 2);
        for (size_t r = 0; r < (T < K ? T : K); r++)
            idcg += 1 / log2((double)r + 2);
        total += dcg / idcg;
        users++;
    }
    return total / (double)users;
}

static void test_ml100k_quality(void **state)
{
    (void)state;
    TU_REQUIRE_ML100K();
    const char *dir = tu_ml100k();
    clock_t t0 = clock();
    RsMatrix *all = tu_ml100k_load("u.data"), *train, *test;
    RsCatalog *cat = ml_catalog(dir);
    tu_split_random(all, 0.2, 42, &train, &test);
    double rnd = random_ndcg(train, test, 10);

    RsModel *m = tu_fit(&model_content, train, cat, NULL, 0, 1);
    double nd = tu_ndcg_full(m, train, test, 10);
    printf("    ML-100K content NDCG@10 %.4f (random ranking %.4f, vocabulary %zu)\n", nd, rnd,
           content_vocab_size(m));
    assert_true(nd > 2 * rnd);
    model_free(m);

    const char *cf = model_class_find("itemknn") ? "itemknn"
                     : model_class_find("ease")  ? "ease"
                                                 : "pop";
    RsModel *c = tu_fit(model_class_find(cf), train, cat, NULL, 0, 1);
    double nd_cf = tu_ndcg_full(c, train, test, 10);
    char kv0[64];
    snprintf(kv0, sizeof kv0, "cf=%s", cf);
    const char *kv[] = {kv0};
    RsModel *h = tu_fit(&model_hybrid, train, cat, kv, 1, 1);
    double nd_h = tu_ndcg_full(h, train, test, 10);
    printf("    ML-100K %s NDCG@10 %.4f, hybrid(%s, default alpha) %.4f (%.2f s in all)\n", cf,
           nd_cf, cf, nd_h, (double)(clock() - t0) / CLOCKS_PER_SEC);
    assert_true(nd_h >= 0.95 * nd_cf);
    model_free(c);
    model_free(h);
    rs_matrix_free(all);
    rs_matrix_free(train);
    rs_matrix_free(test);
    rs_catalog_free(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_tfidf_by_hand),
        cmocka_unit_test(test_profile_weights),
        cmocka_unit_test(test_title_year),
        cmocka_unit_test(test_explain_sums),
        cmocka_unit_test(test_cold_item_recommended),
        cmocka_unit_test(test_hybrid_explain),
        cmocka_unit_test(test_hybrid_blend),
        cmocka_unit_test(test_foldin_equals_score),
        cmocka_unit_test(test_similar),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_content_blob_damage),
        cmocka_unit_test(test_hybrid_blob_damage),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_ml100k_quality),
    };
    return cmocka_run_group_tests_name("content", tests, NULL, NULL);
}
