/*
 * ease.h - EASE, the embarrassingly shallow autoencoder of Steck 2019
 * ("Embarrassingly Shallow Autoencoders for Sparse Data", WWW): an item x
 * item weight matrix B with a zero diagonal, in closed form.
 *
 * The class is model_ease ("ease"); parameters lambda (400, the L2
 * regularisation) and max_items (40000, the largest catalogue it accepts:
 * B is a dense I x I float matrix, 4 I^2 bytes, 6 GiB at 40,000 items).
 * Flags: MODEL_FOLDIN | MODEL_ADDITIVE.
 */
#ifndef RS_EASE_H
#define RS_EASE_H

#include "model.h"

extern const ModelClass model_ease;

#endif
