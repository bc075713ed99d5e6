/*
 * synth.h - the deterministic sample-data generator behind `recscope generate`.
 *
 * Writes a made-up but realistic catalogue (items.csv), user table
 * (users.csv) and rating log (interactions.csv) that carries the kinds of
 * signal recommendation models learn from: Zipf item popularity, genre
 * tastes, latent-factor ratings, heavy-tailed user activity, series that are
 * watched in order and tastes that drift over time. The same SynthParams give
 * the same bytes on every run and machine.
 */
#ifndef RS_SYNTH_H
#define RS_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct SynthParams {
    size_t users;        /* U, >= 1 */
    size_t items;        /* I, >= 1 */
    size_t interactions; /* NNZ, users <= NNZ <= users * items */
    uint64_t seed;
} SynthParams;

/* Hard limits on the sizes synth_generate accepts. */
#define SYNTH_MAX_USERS ((size_t)0x7FFFFFFF)
#define SYNTH_MAX_ITEMS ((size_t)100000000)

/* Sets the MovieLens-100K-sized defaults: 943 users, 1682 items, 100000
 * interactions, seed 42. */
void synth_params_default(SynthParams *p);

/* Checks p without writing anything: RS_OK, or RS_EUSAGE with a message
 * (zero sizes, sizes over the limits, fewer interactions than users, more
 * than users * items). */
int synth_params_check(const SynthParams *p, RsErr *err);

/* Generates the data set described by p into the folder outdir, creating it
 * (and missing parents) if needed. Writes, each with a header line, '\n'
 * line ends and RFC 4180 quoting only where a field needs it:
 *
 *   items.csv         item_id,title,year,genres,tags,description
 *                     (ids 1..I; years 1930..2024; 1-3 of 18 MovieLens
 *                     genres and 0-4 tags, '|'-separated; parts of a series
 *                     have consecutive ids and titles "NAME: Part k")
 *   users.csv         user_id,age,gender,occupation   (ids 1..U)
 *   interactions.csv  user_id,item_id,rating,timestamp
 *                     (ratings 1..5, Unix seconds 1997..2024, each
 *                     (user, item) at most once, ordered by user then
 *                     strictly increasing timestamp; exactly NNZ rows; every
 *                     user has at least min(20, NNZ / U) rows)
 *   generator.txt     "recscope generate --users U --items I
 *                     --interactions NNZ --seed S", one line
 *
 * Files are written under temporary names (OUTDIR/.NAME.part) and renamed
 * when all are complete, so a failed or cancelled run leaves no partial CSV
 * behind (files of an earlier run in outdir are replaced only on success).
 *
 * progress (may be NULL) is called now and then with the fraction done and
 * "generating"; a non-zero return stops with RS_ECANCEL. Returns RS_OK,
 * RS_EUSAGE (bad p), RS_EIO (folder or file error, message names the path),
 * RS_ENOMEM or RS_ECANCEL. Memory use is O(U + I) plus one user's rows.
 * Thread-safe: no global state.
 */
int synth_generate(const char *outdir, const SynthParams *p, RsProgressFn progress, void *ctx,
                   RsErr *err);

#endif
