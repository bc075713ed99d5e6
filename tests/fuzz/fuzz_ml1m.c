/*
 * fuzz_ml1m.c - the MovieLens 1M/10M importer ('::'-separated .dat files):
 * ratings.dat, movies.dat, users.dat and tags.dat separated by FUZZ_SPLIT
 * lines, imported as a folder.
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"ratings.dat", "movies.dat", "users.dat", "tags.dat"};
    const char *dir = fuzz_write_files(data, size, names, 4);
    ImportOptions o;
    import_options_default(&o);
    o.format = IMPORT_ML1M;
    fuzz_import(&dir, 1, &o);
    return 0;
}
