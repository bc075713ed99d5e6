/*
 * knn.h - the neighbourhood models.
 *
 *   itemknn  item-based k nearest neighbours (Sarwar et al. 2001, "Item-based
 *            collaborative filtering recommendation algorithms"; top-N
 *            scoring after Deshpande & Karypis 2004, "Item-based top-N
 *            recommendation algorithms")
 *   userknn  user-based k nearest neighbours (Herlocker et al. 1999, "An
 *            algorithmic framework for performing collaborative filtering")
 *
 * Both keep, at fit time, the k most similar items (users) of every item
 * (user) as a sparse neighbour list, score top-N by summing similarities,
 * predict ratings by the mean-centred weighted average, explain additively,
 * fold in new profiles without retraining, and save their lists into the
 * model blob. Parameters, conventions and formulas are described at the top
 * of knn.c and in the classes' parameter tables.
 */
#ifndef RS_KNN_H
#define RS_KNN_H

#include "model.h"

extern const ModelClass model_itemknn, model_userknn;

#endif
