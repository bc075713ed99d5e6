/*
 * model.h - the one interface every recommender implements (MostPopular,
 * KNN, MF, ALS, BPR, EASE, content, hybrid, and later the deep models).
 *
 * A model class is a const ModelClass (a vtable plus a parameter table); a
 * trained model is an RsModel holding the class, the parameter values, the
 * shape (U users, I items) it was trained for, the seed and the class's own
 * state. Generic code here does what every model shares: parameters from
 * KEY=VALUE strings, top-K recommendation excluding seen items, the blob
 * container (magic, versions, checksum) around the class's payload.
 *
 * Scoring, explaining and saving read the model only and are thread-safe on
 * a trained model; fit is not. Scores: higher is better; a model that cannot
 * score an item gives it -INFINITY.
 */
#ifndef RS_MODEL_H
#define RS_MODEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "common.h"
#include "dataset.h"

/* ---- parameters ------------------------------------------------------------ */

typedef enum { PARAM_INT, PARAM_FLOAT, PARAM_BOOL, PARAM_ENUM } ParamType;

typedef struct ParamSpec {
    const char *name;   /* lower_snake, e.g. "factors" */
    ParamType type;
    double def;         /* default; for PARAM_ENUM the index into choices */
    double min, max;    /* inclusive bounds (INT, FLOAT) */
    const char *choices; /* PARAM_ENUM: "cosine|adjusted|pearson|jaccard" */
    const char *help;   /* one line */
} ParamSpec;

#define MODEL_MAX_PARAMS 32

/* Values in the order of the class's ParamSpec table (enum: choice index). */
typedef struct ParamValues {
    double v[MODEL_MAX_PARAMS];
} ParamValues;

/* Fills pv with the defaults, then applies "key=value" strings. Unknown
 * keys, bad values and values out of range give RS_EUSAGE with a message
 * listing what is valid. */
int params_parse(const ParamSpec *spec, size_t n, const char *const *kv, size_t nkv,
                 ParamValues *pv, RsErr *err);
/* Writes the values as a JSON object {"factors":64,"reg":0.01,...} into a
 * malloc'd string. */
char *params_to_json(const ParamSpec *spec, size_t n, const ParamValues *pv);
/* Index of the parameter called name, or -1. */
int params_index(const ParamSpec *spec, size_t n, const char *name);

/* ---- fitting ---------------------------------------------------------------- */

typedef struct FitProgress {
    const char *phase;   /* "epoch", "similarity", "solving", ... */
    int epoch, epochs;   /* 0 when not epoch-based */
    double fraction;     /* of the whole fit, in [0, 1] */
    double loss;         /* training loss, NAN when none */
    double valid;        /* validation metric, NAN when none */
    const char *valid_name; /* e.g. "ndcg@10", "rmse" */
} FitProgress;

/* Returns non-zero to ask the fit to stop (same effect as *cancel). */
typedef int (*FitProgressFn)(void *ctx, const FitProgress *p);

typedef struct RsModel RsModel;

typedef struct FitContext {
    const RsMatrix *train;     /* required */
    const RsMatrix *valid;     /* validation part for early stopping, or NULL */
    const RsCatalog *cat;      /* item metadata; required by content models */
    int nthreads;              /* worker threads to use, >= 1 */
    FitProgressFn progress;    /* may be NULL */
    void *progress_ctx;
    atomic_int *cancel;        /* may be NULL; fit returns RS_ECANCEL when set */
    int device;                /* RS_DEVICE_CPU, or RS_DEVICE_GPU for a class with
                                * MODEL_GPU when gpu_probe() found a device */
    const RsModel *const *init; /* trained models to start from (NeuMF: a GMF and
                                 * an MLP of the same size), or NULL */
    size_t ninit;
} FitContext;

enum { RS_DEVICE_CPU = 0, RS_DEVICE_GPU = 1 };

/* ---- fold-in profiles and explanations -------------------------------------- */

/* A user given by a list of items (a new user, or an edited history): the
 * what-if and fold-in input. values may be NULL (implicit feedback); entries
 * of values may be NAN (no rating). */
typedef struct RsProfile {
    size_t n;
    const uint32_t *items;
    const float *values;
} RsProfile;

/* The training row of user u as a profile (points into train). */
RsProfile rs_profile_of_user(const RsMatrix *train, uint32_t u);

typedef enum {
    EXPL_ITEM,      /* a history item; index = item */
    EXPL_USER,      /* a neighbour user; index = user */
    EXPL_TERM,      /* a content term; label = the term */
    EXPL_FACTOR,    /* a latent factor; index = factor */
    EXPL_PART,      /* a named part of the score; label = "bias", "GMF", ... */
} ExplKind;

typedef struct RsContribution {
    ExplKind kind;
    uint32_t index;
    char label[64];
    float value;        /* contribution to the score */
    float similarity;   /* similarity / weight shown beside it, NAN when none */
} RsContribution;

typedef struct RsExplanation {
    float score;        /* the model's score for the item */
    long rank;          /* 1-based rank among unseen items; 0 when unknown */
    int additive;       /* bias + sum of contributions == score (up to rounding) */
    float bias;         /* part of the score no contribution accounts for */
    char method[128];   /* one line: how the contributions were computed */
    size_t n, cap;
    RsContribution *c;
} RsExplanation;

void rs_explanation_init(RsExplanation *e);
void rs_explanation_done(RsExplanation *e);
int rs_explanation_add(RsExplanation *e, ExplKind kind, uint32_t index, const char *label,
                       float value, float similarity);
/* Sorts contributions by |value|, largest first, and keeps the first max. */
void rs_explanation_sort(RsExplanation *e, size_t max);

/* ---- the class ---------------------------------------------------------------- */

enum {
    MODEL_RATINGS = 1,      /* predict() gives ratings (RMSE/MAE apply) */
    MODEL_FOLDIN = 2,       /* score_profile() is implemented */
    MODEL_ADDITIVE = 4,     /* explanations are additive */
    MODEL_NEEDS_CATALOG = 8,/* fit needs ctx->cat metadata */
    MODEL_GPU = 16,         /* fit can run on the GPU (ctx->device) */
    MODEL_INIT = 32,        /* fit can start from trained models (ctx->init) */
};


typedef struct ModelClass {
    const char *name;           /* "itemknn": what --algo takes */
    const char *title;          /* "ItemKNN: item-based k nearest neighbours" */
    const ParamSpec *params;
    size_t nparams;
    unsigned flags;
    uint32_t format_version;    /* version of this class's blob payload */

    /* Trains m on ctx->train. Must honour ctx->cancel (RS_ECANCEL) and
     * report progress. Returns RS_OK or an RS_E* code. */
    int (*fit)(RsModel *m, const FitContext *ctx, RsErr *err);
    /* scores[0..I) for training user u; train is the matrix the model was
     * trained on. */
    int (*score)(const RsModel *m, const RsMatrix *train, uint32_t u, float *scores,
                 RsErr *err);
    /* scores for a profile (fold-in, no retraining); NULL when unsupported. */
    int (*score_profile)(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                         float *scores, RsErr *err);
    /* predicted rating of (u, i); NULL unless MODEL_RATINGS. */
    int (*predict)(const RsModel *m, const RsMatrix *train, uint32_t u, uint32_t i,
                   float *out);
    /* why item for the user: user >= 0 is a training user whose history is
     * p (its training row); user < 0 is a folded-in profile p. */
    int (*explain)(const RsModel *m, const RsMatrix *train, const RsCatalog *cat, long user,
                   const RsProfile *p, uint32_t item, RsExplanation *out, RsErr *err);
    /* item-item scores for "similar items"; NULL when the model has none. */
    int (*similar)(const RsModel *m, const RsMatrix *train, uint32_t item, float *scores,
                   RsErr *err);
    /* writes / reads the class's payload (the container is generic) */
    int (*save)(const RsModel *m, RsBlob *b, RsErr *err);
    int (*load)(RsModel *m, RsBlobReader *r, RsErr *err);
    /* frees m->state (may be NULL) */
    void (*free_state)(RsModel *m);
    /* With MODEL_INIT: whether the trained models init[] can start m's fit
     * (RS_EUSAGE saying why not). */
    int (*check_init)(const RsModel *m, const RsModel *const *init, size_t ninit, RsErr *err);
    /* Factor models: matrices with score(u)[i] == X_u . Y_i (up to
     * rounding; biases folded in as extra columns), X (U, D) and Y (I, D)
     * row-major, malloc'd, the caller's; for batch scoring on the GPU. NULL
     * for other classes. */
    int (*factors)(const RsModel *m, float **X, float **Y, size_t *D, RsErr *err);
} ModelClass;

struct RsModel {
    const ModelClass *cls;
    ParamValues pv;
    size_t U, I;
    uint64_t seed;
    void *state;
};

/* Parameter value by name (asserts the name exists: programmer error). */
double model_param(const RsModel *m, const char *name);

/* The registry: every class recscope knows. */
const ModelClass *model_class_find(const char *name);
size_t model_class_count(void);
const ModelClass *model_class_at(size_t k);
/* "pop, itemknn, ..." for error messages (static storage). */
const char *model_class_names(void);

/* A new untrained model. Takes nothing; free with model_free(). */
int model_new(const ModelClass *cls, size_t U, size_t I, const ParamValues *pv, uint64_t seed,
              RsModel **out, RsErr *err);
void model_free(RsModel *m);
int model_fit(RsModel *m, const FitContext *ctx, RsErr *err);
/* Whether ctx->init / ninit models can start m's fit: RS_EUSAGE for a class
 * without MODEL_INIT or models that do not fit (model_fit checks it too). */
int model_check_init(const RsModel *m, const RsModel *const *init, size_t ninit, RsErr *err);

/* One recommendation. */
typedef struct RsRec {
    uint32_t item;
    float score;
} RsRec;

/* Top-K of scores[0..I) with exclude[i] != 0 left out (exclude may be NULL),
 * best first, ties broken by the smaller index; items scoring -INFINITY or
 * NaN are never returned. Returns how many were written to out (<= K).
 * topk_naive() is the sort-everything reference the tests compare with. */
size_t topk(const float *scores, size_t I, const uint8_t *exclude, size_t K, RsRec *out);
size_t topk_naive(const float *scores, size_t I, const uint8_t *exclude, size_t K, RsRec *out);

/* Recommends K items for training user u, leaving out its training items
 * when exclude_seen. *n receives the count. */
int model_recommend(const RsModel *m, const RsMatrix *train, uint32_t u, size_t K,
                    int exclude_seen, RsRec *out, size_t *n, RsErr *err);
/* The same for a profile (what-if); its items are left out when
 * exclude_seen. RS_EUSAGE when the model cannot fold in. */
int model_recommend_profile(const RsModel *m, const RsMatrix *train, const RsProfile *p,
                            size_t K, int exclude_seen, RsRec *out, size_t *n, RsErr *err);
/* Explains item for training user u (or for profile p when u < 0), and
 * fills e->rank among the items not in the history. */
int model_explain(const RsModel *m, const RsMatrix *train, const RsCatalog *cat, long u,
                  const RsProfile *p, uint32_t item, RsExplanation *e, RsErr *err);

/* The blob: "RSMODEL1", container version, class name, class format
 * version, U, I, seed, parameter values, payload length, payload, FNV-1a
 * checksum of everything before it. */
#define MODEL_BLOB_VERSION 1
int model_save(const RsModel *m, RsBlob *out, RsErr *err);
/* Loads a blob for a dataset of U users and I items. Any damage (truncation,
 * wrong magic or version, checksum, unknown class, shape mismatch,
 * non-finite numbers, trailing bytes) is RS_EVERSION or RS_EPARSE with a
 * message, never a crash. */
int model_load(const void *data, size_t len, size_t U, size_t I, RsModel **out, RsErr *err);

/* Checks ctx->cancel and reports progress; returns RS_ECANCEL (err filled)
 * when the fit must stop. For use inside fit(). */
int model_fit_tick(const FitContext *ctx, const FitProgress *p, RsErr *err);

#endif
