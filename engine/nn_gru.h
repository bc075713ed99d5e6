/*
 * nn_gru.h - the recurrent part of the NN toolkit (nn.h) for the session
 * models (GRU4Rec): a GRU layer over a batch of sequences with its
 * backward pass through time, and the BPR-max ranking loss.
 *
 * Layout: sequences are time-major, (T, B, C): step t of sequence b is row
 * t * B + b, as in cuDNN and PyTorch's nn.GRU default, so that one step of
 * the whole batch, and all T steps together, are contiguous matrices for
 * sgemm. Same conventions as nn.h otherwise: outputs first, backward passes
 * accumulate into the weight gradients, none of these functions allocates,
 * all are thread-safe on distinct buffers.
 */
#ifndef RS_NN_GRU_H
#define RS_NN_GRU_H

#include <stddef.h>

/* The weights of one GRU layer, views into an NnBlock (or, for the
 * gradients, into a buffer of the same layout). Gates in PyTorch's order
 * r (reset), z (update), n (candidate): rows [0, H), [H, 2H), [2H, 3H). */
typedef struct NnGruWeights {
    float *Wx;  /* (3H, D) input weights */
    float *Wh;  /* (3H, H) recurrent weights */
    float *bx;  /* (3H) input biases */
    float *bh;  /* (3H) recurrent biases */
} NnGruWeights;

/* Floats of each tensor, for a model's X-macro list. */
#define NN_GRU_WX(D, H) (3 * (size_t)(H) * (size_t)(D))
#define NN_GRU_WH(H) (3 * (size_t)(H) * (size_t)(H))
#define NN_GRU_B(H) (3 * (size_t)(H))

/* GRU forward (Cho et al. 2014, eq. 5-8, in the form of cuDNN / PyTorch):
 *   r_t = sigma(Wx_r x_t + bx_r + Wh_r h_{t-1} + bh_r)
 *   z_t = sigma(Wx_z x_t + bx_z + Wh_z h_{t-1} + bh_z)
 *   n_t = tanh(Wx_n x_t + bx_n + r_t * (Wh_n h_{t-1} + bh_n))
 *   h_t = (1 - z_t) * n_t + z_t * h_{t-1}
 * x (T, B, D) the inputs; hs (T + 1, B, H): hs[0] is h_0 (the caller's,
 * usually zeros), hs[1..T] receive h_1..h_T. Saved for the backward pass:
 * gates (T, B, 3H) r, z, n after their activations and hn (T, B, H) the
 * term Wh_n h_{t-1} + bh_n. xg (T, B, 3H) is scratch. */
void nn_gru_forward(float *hs, float *gates, float *hn, float *xg, const float *x,
                    const NnGruWeights *w, size_t T, size_t B, size_t D, size_t H);
/* The same one step, one sequence at a time, with plain loops: the
 * reference the tests compare nn_gru_forward with. */
void nn_gru_forward_naive(float *hs, const float *x, const NnGruWeights *w, size_t T, size_t B,
                          size_t D, size_t H);

/* Backward through time. dhs (T + 1, B, H): on entry dhs[1..T] hold the
 * loss's gradients with respect to h_1..h_T (zeros where h_t is not used);
 * on return dhs[1..T] hold the total gradients of h_1..h_T (overwritten)
 * and the gradient with respect to h_0 has been added to dhs[0]. dgx, dgh
 * (T, B, 3H) are scratch (the gates' pre-activation gradients on the input
 * and the recurrent side). Accumulates dw->Wx, Wh, bx, bh (+=) and dx
 * (T, B, D) (+=; may be NULL). x, hs, gates, hn are the forward's. */
void nn_gru_backward(float *dx, const NnGruWeights *dw, float *dhs, float *dgx, float *dgh,
                     const float *x, const float *hs, const float *gates, const float *hn,
                     const NnGruWeights *w, size_t T, size_t B, size_t D, size_t H);

/* Sampled softmax cross-entropy (nn.h's nn_sampled_softmax_forward and
 * _backward: positive in column 0 of each of B rows of z (B, C)) in one
 * pass over each row and in float: returns the mean loss and WRITES dz =
 * scale (softmax(z_b) - e_0) / B (not +=). A column scored -INFINITY is
 * absent (the positive's must be finite). For the hot loop of the session
 * models; the tests compare it with the double-precision reference. */
double nn_softmax_xent(float *dz, const float *z, size_t B, size_t C, float scale);

/* BPR-max (Hidasi & Karatzoglou 2018, "Recurrent Neural Networks with
 * Top-k Gains for Session-based Recommendations", section 3.1.2, eq. 7
 * with the score regularisation of section 3.1.3): each of B rows of
 * scores r (B, C) has its positive in column 0 and C - 1 negatives; with
 * s_j = softmax of the negatives' scores,
 *   L_b = -log sum_j s_j sigma(r_0 - r_j) + lambda sum_j s_j r_j^2,
 *   L = (1/B) sum_b L_b.
 * A negative scored -INFINITY is absent (a collision with the positive).
 * Backward: dr += scale * dL/dr. In double, the softmax max-shifted (a
 * positive more than ~700 below every negative saturates). */
double nn_bpr_max_forward(const float *r, size_t B, size_t C, float lambda);
void nn_bpr_max_backward(float *dr, const float *r, size_t B, size_t C, float lambda,
                         float scale);

#endif
