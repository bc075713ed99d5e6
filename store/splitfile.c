/* splitfile.c - a split given by a file of test interactions. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "csvread.h"
#include "persist.h"
#include "text.h"

static long find_header(const CsvReader *r, const char *const *names)
{
    for (size_t k = 0; k < csvr_nfields(r); k++)
        for (size_t j = 0; names[j]; j++)
            if (!strcasecmp(csvr_field(r, k), names[j]))
                return (long)k;
    return -1;
}

int store_split_file(const char *path, const RsDataset *d, uint8_t *part, size_t *marked,
                     RsErr *err)
{
    static const char *const user_names[] = {"user", "user_id", "userid", NULL};
    static const char *const item_names[] = {"item", "item_id", "itemid", "movieid", NULL};
    CsvReader *r;
    *marked = 0;
    int rc = csvr_open(&r, path, 0, 1, 0, err);
    if (rc)
        return rc;
    long cu = 0, ci = 1;
    int first = 1;
    while ((rc = csvr_next(r, err)) == 1) {
        if (first) {
            first = 0;
            long hu = find_header(r, user_names), hi = find_header(r, item_names);
            if (hu >= 0 && hi >= 0) {
                cu = hu;
                ci = hi;
                continue;
            }
        }
        size_t need = (size_t)(cu > ci ? cu : ci) + 1;
        if (csvr_nfields(r) < need) {
            rc = rs_err_set(err, RS_EPARSE, "%s:%ld: expected a user and an item, got %zu field(s)",
                            path, csvr_line(r), csvr_nfields(r));
            break;
        }
        const char *ue = csvr_field(r, (size_t)cu), *ie = csvr_field(r, (size_t)ci);
        long u = rs_catalog_user(d->cat, ue), i = rs_catalog_item(d->cat, ie);
        if (u < 0 || i < 0) {
            rc = rs_err_set(err, RS_EPARSE, "%s:%ld: unknown %s \"%.64s\" (not in the dataset)",
                            path, csvr_line(r), u < 0 ? "user" : "item", u < 0 ? ue : ie);
            break;
        }
        size_t k = rs_matrix_find(d->all, (uint32_t)u, (uint32_t)i);
        if (k == (size_t)-1) {
            rc = rs_err_set(err, RS_EPARSE,
                            "%s:%ld: user \"%.64s\" has no interaction with item \"%.64s\"", path,
                            csvr_line(r), ue, ie);
            break;
        }
        if (part[k] != 1) {
            part[k] = 1;
            (*marked)++;
        }
    }
    csvr_close(r);
    if (rc < 0)
        return rc;
    if (*marked == 0)
        return rs_err_set(err, RS_EPARSE, "%s: no test interactions in the file", path);
    return RS_OK;
}
