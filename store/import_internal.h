/* import_internal.h - shared by import.c (formats) and import_write.c. */
#ifndef RS_IMPORT_INTERNAL_H
#define RS_IMPORT_INTERNAL_H

#include <stdatomic.h>

#include "import.h"
#include "stage.h"

typedef struct Importer {
    const ImportOptions *opt;
    ImportReport *rep;
    RsErr *err;
    Stage st;
    unsigned tick; /* progress throttle */
    atomic_int *stop; /* the second half of a split file: set when the first fails */
} Importer;

/* Reads one path (file or folder) into im->st according to its format. */
int import_path(Importer *im, const char *path);
/* Reads --users and --items files, if given. */
int import_side_files(Importer *im);

#endif
