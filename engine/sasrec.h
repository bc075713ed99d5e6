/*
 * sasrec.h - SASRec, self-attentive sequential recommendation (Kang &
 * McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018), class
 * "sasrec", on the NN toolkit (nn.h, nn_attn.h). See sasrec.c for the
 * model, its training and what explain and fold-in mean for it.
 */
#ifndef RS_SASREC_H
#define RS_SASREC_H

#include "model.h"

#include <stddef.h>
#include <stdint.h>

extern const ModelClass model_sasrec;

/* For tests/test_sasrec.c's finite-difference check of the whole network:
 * N sequences of maxlen T slots, in[n*T + t] the input item of slot t
 * (UINT32_MAX: padding), pos / neg the target and the sampled negative of
 * each non-padding slot. *loss receives the mean BCE over the non-padding
 * slots without dropout, grad (sasrec_debug_params's n floats, may be NULL)
 * its gradient. -1 when m is untrained or out of memory. */
int sasrec_debug_grad(const RsModel *m, const uint32_t *in, const uint32_t *pos,
                      const uint32_t *neg, size_t N, float *grad, double *loss);
/* The parameter block of a trained model (n floats), or NULL. */
float *sasrec_debug_params(const RsModel *m, size_t *n);
/* The last block's attention weights (H, T, T) for one item sequence of n
 * items (the last T used), as explain computes them, into att (H*T*T
 * floats). -1 when untrained, out of memory or an item is out of range. */
int sasrec_debug_attention(const RsModel *m, const uint32_t *items, size_t n, float *att);

#endif
