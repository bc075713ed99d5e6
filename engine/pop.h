/* pop.h - the MostPopular baseline (engine/pop.c). */
#ifndef RS_POP_H
#define RS_POP_H

#include "model.h"

extern const ModelClass model_pop;

#endif
