/*
 * driver.c - a main() for the fuzz targets without libFuzzer: runs
 * LLVMFuzzerTestOneInput() on each file named on the command line, printing
 * "ok FILE" after each, so that a crash shows which input caused it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            } else {
                buf = nb;
            }
        }
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    printf("ok %s\n", path);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    int rc = 0;
    for (int k = 1; k < argc; k++)
        if (run_file(argv[k]))
            rc = 1;
    return rc;
}
