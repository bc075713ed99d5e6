/*
 * registry.c - every model class recscope knows, in the order help lists
 * them. A class is added here once it exists; nothing else needs to know.
 */
#include <string.h>

#include "als.h"
#include "content.h"
#include "ease.h"
#include "gru4rec.h"
#include "knn.h"
#include "mf.h"
#include "model.h"
#include "neumf.h"
#include "pop.h"

static const ModelClass *const classes[] = {
    &model_pop,
    &model_itemknn,
    &model_userknn,
    &model_ease,
    &model_als,
    &model_bpr,
    &model_mf,
    &model_gmf,
    &model_mlp,
    &model_neumf,
    &model_gru4rec,
    &model_content,
    &model_hybrid,
};

const ModelClass *model_class_find(const char *name)
{
    for (size_t k = 0; k < RS_ARRAY_LEN(classes); k++)
        if (!strcmp(classes[k]->name, name))
            return classes[k];
    return NULL;
}

size_t model_class_count(void) { return RS_ARRAY_LEN(classes); }

const ModelClass *model_class_at(size_t k) { return k < RS_ARRAY_LEN(classes) ? classes[k] : NULL; }

const char *model_class_names(void)
{
    static char buf[256];
    if (!buf[0]) {
        size_t w = 0;
        for (size_t k = 0; k < RS_ARRAY_LEN(classes) && w + 2 < sizeof buf; k++) {
            size_t n = strlen(classes[k]->name);
            if (w + n + 3 >= sizeof buf)
                break;
            if (k) {
                memcpy(buf + w, ", ", 2);
                w += 2;
            }
            memcpy(buf + w, classes[k]->name, n);
            w += n;
        }
        buf[w] = '\0';
    }
    return buf;
}
