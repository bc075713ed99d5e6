/*
 * fuzz_ml100k.c - the MovieLens 100K importer: the input is a folder's
 * u.data, u.item and u.user, separated by FUZZ_SPLIT lines (later parts may
 * be missing), imported as a folder.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"u.data", "u.item", "u.user"};
    const char *dir = fuzz_write_files(data, size, names, 3);
    ImportOptions o;
    import_options_default(&o);
    o.format = IMPORT_ML100K;
    fuzz_import(&dir, 1, &o);
    return 0;
}
