/*
 * fuzz_mllatest.c - the MovieLens latest/20M/25M importer (quoted CSV):
 * ratings.csv, movies.csv and tags.csv separated by FUZZ_SPLIT lines,
 * imported as a folder.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"ratings.csv", "movies.csv", "tags.csv"};
    const char *dir = fuzz_write_files(data, size, names, 3);
    ImportOptions o;
    import_options_default(&o);
    o.format = IMPORT_MLLATEST;
    fuzz_import(&dir, 1, &o);
    return 0;
}
