/*
 * fuzz.h - shared by the libFuzzer targets in tests/fuzz/.
 *
 * Each target defines LLVMFuzzerTestOneInput(). It is linked either with
 * libFuzzer (clang -fsanitize=fuzzer, `make fuzz`) or with driver.c, a
 * plain main() that feeds it the files named on its command line (`make
 * test` runs every committed corpus and regression input that way, with
 * gcc, no clang needed).
 *
 * The importer targets write the input as one or more files into a private
 * temporary folder and run the real importer into an in-memory database.
 * An input holding several files separates them with FUZZ_SPLIT lines.
 */
#ifndef RS_FUZZ_H
#define RS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "import.h"

#define FUZZ_SPLIT "\n----8<----\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's temporary folder (created on first use, removed at exit). */
const char *fuzz_dir(void);

/* Splits data at FUZZ_SPLIT into at most n files named names[0..n) in a
 * fresh sub-folder of fuzz_dir(), removing those of a previous input; an
 * input with fewer parts leaves the later files absent. Returns the
 * folder's path (static storage). */
const char *fuzz_write_files(const uint8_t *data, size_t size, const char *const *names,
                             size_t n);

/* Imports paths[0..n) with opt into a fresh in-memory store, then (when
 * it succeeded) reads the result back through the store's queries; twice,
 * reading the interactions file in one pass and split in two halves on two
 * threads, and aborts when the two differ in anything. */
void fuzz_import(const char *const *paths, size_t n, const ImportOptions *opt);

#endif
