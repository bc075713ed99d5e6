/*
 * mf.h - latent factor models trained by stochastic gradient descent.
 *
 *   mf   biased matrix factorisation for explicit ratings (Koren, Bell &
 *        Volinsky 2009, eq. 5; Funk's "SVD" as in Surprise's SVD):
 *        r^ = mu + b_u + b_i + p_u . q_i, squared error, L2 regularisation.
 *   bpr  BPR-MF for implicit feedback (Rendle et al. 2009, "BPR: Bayesian
 *        Personalized Ranking from Implicit Feedback"): LearnBPR with
 *        bootstrap sampling of (u, i, j) triples; score = p_u . q_i + b_i.
 *
 * Both fold in new profiles without retraining, explain a score as the sum
 * of its biases and its per-factor products p_u[f] q_i[f] (plus the nearest
 * history items in factor space), and give item-item cosine similarities
 * of the item factors. What the two files share is in mf_internal.h.
 */
#ifndef RS_MF_H
#define RS_MF_H

#include "model.h"

extern const ModelClass model_mf, model_bpr;

#endif
