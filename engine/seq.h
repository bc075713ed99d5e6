/*
 * seq.h - each user's interactions as a time-ordered item sequence, the
 * input of the sequence models (GRU4Rec, SASRec).
 *
 * Within a user, entries are ordered by timestamp, ties (and unknown
 * timestamps, which sort first) broken by item index, so the order is the
 * same on every run. A sequence is a view into the arrays of RsSeqs.
 */
#ifndef RS_SEQ_H
#define RS_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dataset.h"

typedef struct RsSeqs {
    size_t U;
    size_t *off;        /* (U + 1) start of each user's sequence in items */
    uint32_t *items;    /* (NNZ) item indices, each user's in time order */
} RsSeqs;

/* Builds the sequences of every user of m. On success *out is owned by the
 * caller (rs_seqs_free). RS_ENOMEM. */
int rs_seqs_new(const RsMatrix *m, RsSeqs **out, RsErr *err);
void rs_seqs_free(RsSeqs *s);

static inline size_t rs_seq_len(const RsSeqs *s, uint32_t u)
{
    return s->off[u + 1] - s->off[u];
}
static inline const uint32_t *rs_seq(const RsSeqs *s, uint32_t u)
{
    return s->items + s->off[u];
}

#endif
