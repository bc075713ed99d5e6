/*
 * seq.c - time-ordered item sequences per user.
 */
#include "seq.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t ts;
    uint32_t item;
} SeqEntry;

static int entry_cmp(const void *a, const void *b)
{
    const SeqEntry *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

int rs_seqs_new(const RsMatrix *m, RsSeqs **out, RsErr *err)
{
    *out = NULL;
    RsSeqs *s = calloc(1, sizeof *s);
    size_t longest = 0;
    for (size_t u = 0; u < m->U; u++) {
        size_t n = rs_user_count(m, (uint32_t)u);
        if (n > longest)
            longest = n;
    }
    SeqEntry *tmp = malloc((longest ? longest : 1) * sizeof *tmp);
    if (s) {
        s->U = m->U;
        s->off = malloc((m->U + 1) * sizeof *s->off);
        s->items = malloc((m->NNZ ? m->NNZ : 1) * sizeof *s->items);
    }
    if (!s || !tmp || !s->off || !s->items) {
        free(tmp);
        rs_seqs_free(s);
        return rs_err_set(err, RS_ENOMEM, "out of memory building item sequences (%zu)",
                          m->NNZ);
    }
    for (size_t u = 0; u < m->U; u++) {
        size_t a = m->u_ptr[u], n = m->u_ptr[u + 1] - a;
        s->off[u] = a;
        int sorted = 1;
        for (size_t k = 0; k < n; k++) {
            tmp[k].ts = m->u_ts[a + k];
            tmp[k].item = m->u_items[a + k];
            if (k && entry_cmp(&tmp[k - 1], &tmp[k]) > 0)
                sorted = 0;
        }
        if (!sorted)
            qsort(tmp, n, sizeof *tmp, entry_cmp);
        for (size_t k = 0; k < n; k++)
            s->items[a + k] = tmp[k].item;
    }
    s->off[m->U] = m->NNZ;
    free(tmp);
    *out = s;
    return RS_OK;
}

void rs_seqs_free(RsSeqs *s)
{
    if (!s)
        return;
    free(s->off);
    free(s->items);
    free(s);
}
