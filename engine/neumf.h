/*
 * neumf.h - Neural Collaborative Filtering (He, Liao, Zhang, Nie, Hu & Chua,
 * "Neural Collaborative Filtering", WWW 2017) on the NN toolkit (nn.h):
 * three classes sharing one implementation and one parameter table:
 *   "neumf"  GMF and MLP branches fused by one output layer (section 3.4)
 *   "gmf"    the generalised matrix factorisation branch alone (3.2)
 *   "mlp"    the multi-layer perceptron branch alone (3.3)
 */
#ifndef RS_NEUMF_H
#define RS_NEUMF_H

#include "model.h"

#include <stddef.h>
#include <stdint.h>

extern const ModelClass model_neumf, model_gmf, model_mlp;

/* For tests/test_neumf.c's finite-difference check of the whole network:
 * the mean BCE *loss of the B samples (u[b], it[b], label y[b]) under the
 * trained model m, and its gradient with respect to every parameter in
 * grad (the block's layout, n floats as neumf_debug_params gives; may be
 * NULL). -1 when m is untrained or out of memory. Not thread-safe with a
 * fit of m. */
int neumf_debug_grad(const RsModel *m, const uint32_t *u, const uint32_t *it, const float *y,
                     size_t B, float *grad, double *loss);
/* The parameter block of a trained model (n floats), or NULL. */
float *neumf_debug_params(const RsModel *m, size_t *n);

#endif
