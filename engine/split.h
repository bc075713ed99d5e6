/*
 * split.h - train/test(/validation) splits of a matrix, seeded and
 * reproducible: the same matrix, parameters and seed give the same split on
 * every machine.
 *
 * A split is an array part[NNZ] over the CSR positions of the full matrix:
 * SPLIT_TRAIN, SPLIT_TEST or SPLIT_VALID. k-fold cross-validation instead
 * gives fold[NNZ] in 0..k-1 (fold f's test part is fold == f).
 */
#ifndef RS_SPLIT_H
#define RS_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dataset.h"

enum { SPLIT_TRAIN = 0, SPLIT_TEST = 1, SPLIT_VALID = 2 };

typedef enum {
    SPLIT_RANDOM,   /* per-user random holdout of test_frac of each user's items */
    SPLIT_LOO,      /* leave the last interaction (by timestamp) of each user out */
    SPLIT_TEMPORAL, /* global cut in time: the latest test_frac of all interactions */
    SPLIT_FILE,     /* test interactions listed in a file (store/ reads it) */
    SPLIT_KFOLD,    /* k folds over all interactions (rating prediction) */
} SplitMethod;

typedef struct SplitParams {
    SplitMethod method;
    double test_frac;   /* random, temporal: in (0, 1); default 0.2 */
    double valid_frac;  /* share of each user's training part held out for
                         * validation (random, file); loo and temporal use the
                         * last training interaction / the slice before the cut.
                         * 0 = no validation part. */
    int folds;          /* kfold: >= 2 */
    uint64_t seed;
} SplitParams;

/* Parses "random", "loo", "temporal", "file", "kfold"; 0 or -1. */
int split_parse_method(const char *s, SplitMethod *out);
const char *split_method_name(SplitMethod m);

/* Fills part[0..NNZ) for random, loo or temporal. Users with a single
 * interaction keep it in training (random, loo). loo and temporal need
 * timestamps (RS_EUSAGE otherwise); ties in time are broken by item index.
 * temporal: every test interaction is at or after the cut and every training
 * interaction before it (no future leakage). */
int split_make(const RsMatrix *m, const SplitParams *p, uint8_t *part, RsErr *err);

/* Adds a validation part to a split whose test part is already marked
 * (SPLIT_FILE): valid_frac of each user's training interactions, seeded. */
int split_add_validation(const RsMatrix *m, double valid_frac, uint64_t seed, uint8_t *part,
                         RsErr *err);

/* k folds: all interactions shuffled with the seed and dealt into k folds of
 * equal size (within one), as Surprise's KFold does. */
int split_kfold(const RsMatrix *m, int k, uint64_t seed, uint8_t *fold, RsErr *err);

/* Counts of each part. */
void split_counts(const uint8_t *part, size_t nnz, size_t *train, size_t *test, size_t *valid);

#endif
