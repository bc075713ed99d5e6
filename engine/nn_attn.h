/*
 * nn_attn.h - causal multi-head self-attention, learned positional
 * embeddings and a pre-LayerNorm transformer block for the NN toolkit
 * (nn.h), written for SASRec (Kang & McAuley 2018) and usable by any
 * sequence model.
 *
 * Layout: N sequences of T positions, each position a row of C channels;
 * activations are row-major (N*T, C), sequence n's position t at row
 * n*T + t. H heads of D = C / H channels each (C % H == 0). A position is
 * "valid" (valid[n*T + t] != 0) or padding; padding positions are never
 * attended to (key mask) and a query with no valid key at or before it gets
 * all-zero weights and a zero output.
 *
 * The conventions are nn.h's: outputs first, then inputs and weights, then
 * dimensions; backward passes ACCUMULATE into their gradient outputs, and
 * the caller zeroes them. Thread-safe on distinct buffers; nothing here
 * allocates.
 */
#ifndef RS_NN_ATTN_H
#define RS_NN_ATTN_H

#include <stddef.h>
#include <stdint.h>

#include "nn.h"
#include "rng.h"

/* ---- scaled dot-product attention ------------------------------------------------------
 * Vaswani et al. 2017, "Attention is all you need", section 3.2.1-3.2.2:
 *   for each sequence n and head h, with Q_h, K_h, V_h (T, D) the columns
 *   [hD, hD + D), [C + hD, ...), [2C + hD, ...) of qkv's rows of sequence n,
 *   S = Q_h K_h^T / sqrt(D), S_tj = -inf where j > t (causal) or j is padding,
 *   att = softmax over each row of S,   out_h = att V_h.
 * qkv (N*T, 3C) the projected [Q | K | V]; out (N*T, C) the heads side by
 * side; att (N, H, T, T) the weights, kept for backward and explanations.
 * valid (N*T) or NULL (all valid). The sgemm version and the naive loops. */
void nn_attn_forward(float *out, float *att, const float *qkv, const uint8_t *valid, size_t N,
                     size_t T, size_t C, size_t H);
void nn_attn_forward_naive(float *out, float *att, const float *qkv, const uint8_t *valid,
                           size_t N, size_t T, size_t C, size_t H);
/* dqkv (N*T, 3C) += the gradient through attention of dout (N*T, C), from
 * the forward's att and qkv; scratch (T*T) is workspace. */
void nn_attn_backward(float *dqkv, float *scratch, const float *dout, const float *att,
                      const float *qkv, size_t N, size_t T, size_t C, size_t H);
void nn_attn_backward_naive(float *dqkv, const float *dout, const float *att, const float *qkv,
                            size_t N, size_t T, size_t C, size_t H);

/* Multi-head self-attention with its projections:
 *   qkv = x Wqkv^T + bqkv,  y = attn(qkv),  out = y Wo^T + bo
 * x, y, out (N*T, C); qkv (N*T, 3C); att (N, H, T, T); Wqkv (3C, C), bqkv
 * (3C), Wo (C, C), bo (C). qkv, y and att are kept for the backward. */
void nn_mha_forward(float *out, float *qkv, float *y, float *att, const float *x,
                    const uint8_t *valid, const float *wqkv, const float *bqkv, const float *wo,
                    const float *bo, size_t N, size_t T, size_t C, size_t H);
/* dx (N*T, C) += and the weight gradients += from dout; dqkv (N*T, 3C), dy
 * (N*T, C) and scratch (T*T) are workspace (overwritten). dx may be NULL. */
void nn_mha_backward(float *dx, float *dwqkv, float *dbqkv, float *dwo, float *dbo,
                     float *dqkv, float *dy, float *scratch, const float *dout, const float *x,
                     const float *qkv, const float *y, const float *att, const float *wqkv,
                     const float *wo, size_t N, size_t T, size_t C, size_t H);

/* ---- learned positional embeddings -----------------------------------------------------
 * out (N*T, C) = x + Pos[t] on the rows of each sequence, Pos (T, C).
 * out may be x. Backward: dx += dout (when dx), dPos += sum over n. */
void nn_posemb_forward(float *out, const float *x, const float *pos, size_t N, size_t T,
                       size_t C);
void nn_posemb_backward(float *dx, float *dpos, const float *dout, size_t N, size_t T, size_t C);

/* ---- the transformer block ---------------------------------------------------------------
 * Pre-LayerNorm block as SASRec writes it (section III-B, C and D:
 * g(x) = x + Dropout(g(LayerNorm(x)))), with a point-wise feed-forward of
 * F hidden units (ReLU):
 *   a  = LN1(x)
 *   h  = x + Drop(MHA(a))
 *   b  = LN2(h)
 *   out = h + Drop(W2 Drop(ReLU(W1 b + b1)) + b2)
 * Parameters: one contiguous run of nn_tblock_size(C, F) floats laid out
 * by NN_TBLOCK_PARAMS; activations (what backward needs) by NN_TBLOCK_ACTS
 * for R = N*T rows. */
#define NN_TBLOCK_PARAMS(X, C, F)                                                          \
    X(ln1w, (C)) X(ln1b, (C))                        /* (C) LN1 gain, bias */               \
    X(wqkv, 3 * (C) * (C)) X(bqkv, 3 * (C))          /* (3C, C), (3C) */                    \
    X(wo, (C) * (C)) X(bo, (C))                      /* (C, C), (C) */                      \
    X(ln2w, (C)) X(ln2b, (C))                        /* (C) */                              \
    X(w1, (F) * (C)) X(b1, (F))                      /* (F, C), (F) */                      \
    X(w2, (C) * (F)) X(b2, (C))                      /* (C, F), (C) */

#define NN_TBLOCK_ACTS(X, R, C, F, NHTT)                                                   \
    X(a, (R) * (C)) X(mean1, (R)) X(rstd1, (R))      /* LN1 out, its statistics */          \
    X(qkv, (R) * 3 * (C)) X(y, (R) * (C))            /* projections, heads' output */      \
    X(att, (NHTT))                                   /* (N, H, T, T) weights */            \
    X(o, (R) * (C)) X(mo, (R) * (C))                 /* dropped MHA output, its mask */     \
    X(h, (R) * (C))                                  /* first residual sum */               \
    X(b, (R) * (C)) X(mean2, (R)) X(rstd2, (R))      /* LN2 */                              \
    X(f1, (R) * (F)) X(r1, (R) * (F)) X(m1, (R) * (F)) /* W1 b + b1, dropped ReLU, mask */  \
    X(f2, (R) * (C)) X(m2, (R) * (C))                /* dropped W2 output, its mask */


typedef struct NnTBlockW {
    NN_TBLOCK_PARAMS(NN_VIEW_FIELD, 0, 0)
} NnTBlockW;

typedef struct NnTBlockActs {
    NN_TBLOCK_ACTS(NN_VIEW_FIELD, 0, 0, 0, 0)
} NnTBlockActs;

/* Floats of one block's parameters. */
size_t nn_tblock_size(size_t C, size_t F);
/* Points v's views into base (nn_tblock_size floats). */
void nn_tblock_bind(NnTBlockW *v, float *base, size_t C, size_t F);
/* Floats of the activations for N sequences of T positions. */
size_t nn_tblock_acts_size(size_t N, size_t T, size_t C, size_t F, size_t H);
void nn_tblock_acts_bind(NnTBlockActs *v, float *base, size_t N, size_t T, size_t C, size_t F,
                         size_t H);
/* Workspace floats nn_tblock_backward needs. */
size_t nn_tblock_scratch_size(size_t N, size_t T, size_t C, size_t F);
/* Glorot-uniform matrices, zero biases, unit LayerNorm gains. */
void nn_tblock_init(const NnTBlockW *w, size_t C, size_t F, RsRng *rng);

/* out (N*T, C) from x (N*T, C); the activations into acts. Inverted
 * dropout with probability p (nn_dropout_forward's semantics) draws
 * sequence n's masks from rng[n], so the masks do not depend on how
 * sequences are grouped into calls; rng NULL means no dropout (inference).
 * out may not alias x. */
void nn_tblock_forward(float *out, const NnTBlockActs *acts, const float *x,
                       const uint8_t *valid, const NnTBlockW *w, float p, RsRng *rng, size_t N,
                       size_t T, size_t C, size_t F, size_t H);
/* dx (N*T, C) += and g (the parameter gradients, same layout as w) +=
 * from dout; scratch (nn_tblock_scratch_size floats) is workspace. */
void nn_tblock_backward(float *dx, const NnTBlockW *g, float *scratch, const float *dout,
                        const float *x, const NnTBlockActs *acts, const NnTBlockW *w, size_t N,
                        size_t T, size_t C, size_t F, size_t H);

#endif
