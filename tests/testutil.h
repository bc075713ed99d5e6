/* testutil.h - helpers for the cmocka unit tests: temp dirs and files. */
#ifndef RS_TESTUTIL_H
#define RS_TESTUTIL_H

#include <stddef.h>

/* Creates a fresh temporary directory; returns its path (static storage,
 * one per call slot: free with tu_rmtree). */
char *tu_mkdtemp(void);
/* Removes a directory tree (rm -rf). */
void tu_rmtree(const char *dir);
/* Writes data (len bytes; len = (size_t)-1 for strlen) to dir/name and
 * returns the full path (malloc'd). */
char *tu_write(const char *dir, const char *name, const char *data, size_t len);
/* dir/name (malloc'd). */
char *tu_path(const char *dir, const char *name);
/* The ML-100K folder ($RECSCOPE_ML100K or ../shared/datasets/ml-100k from
 * the project root), or NULL when absent. */
const char *tu_ml100k(void);

#endif
