/*
 * gru4rec.h - GRU4Rec, session-based recommendation with a recurrent
 * network (Hidasi, Karatzoglou, Baltrunas & Tikk, "Session-based
 * Recommendations with Recurrent Neural Networks", ICLR 2016; Hidasi &
 * Karatzoglou, "Recurrent Neural Networks with Top-k Gains for
 * Session-based Recommendations", CIKM 2018), class "gru4rec", on the NN
 * toolkit (nn.h, nn_gru.h). Each user's training history, in time order
 * (seq.h), is one sequence; the model predicts each next item.
 */
#ifndef RS_GRU4REC_H
#define RS_GRU4REC_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

extern const ModelClass model_gru4rec;

/* For tests/test_gru4rec.c's finite-difference check of the whole network:
 * the mean loss (the model's `loss` parameter; no dropout) of one
 * mini-batch of the nseq sequences seqs[k] of lens[k] >= 2 items each (the
 * items but the last are inputs, each followed by its target) with the
 * shared negatives neg[0..S), and its gradient with respect to every
 * parameter in grad (the block's layout, n floats as gru4rec_debug_params
 * gives; may be NULL). -1 when m is untrained, a sequence is shorter than
 * 2 or out of memory. Not thread-safe with a fit of m. */
int gru4rec_debug_grad(const RsModel *m, const uint32_t *const *seqs, const size_t *lens,
                       size_t nseq, const uint32_t *neg, size_t S, float *grad, double *loss);
/* The parameter block of a trained model (n floats), or NULL. */
float *gru4rec_debug_params(const RsModel *m, size_t *n);

#endif
