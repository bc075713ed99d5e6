/* stage.c - interning and the interaction buffer of an import. */
#include "stage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

void stage_init(Stage *st) { memset(st, 0, sizeof *st); }

void stage_done(Stage *st)
{
    for (size_t k = 0; k < st->nusers; k++) {
        free(st->users[k].ext);
        free(st->users[k].gender);
        free(st->users[k].occupation);
        free(st->users[k].zip);
    }
    for (size_t k = 0; k < st->nitems; k++) {
        free(st->items[k].ext);
        free(st->items[k].title);
        free(st->items[k].genres);
        free(st->items[k].tags);
        free(st->items[k].description);
    }
    free(st->users);
    free(st->items);
    free(st->rows);
    free(st->umap.slots);
    free(st->imap.slots);
    memset(st, 0, sizeof *st);
}

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 1024;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* ext_of(k) gives the key of entry k - 1 for slot value k. */
typedef const char *(*KeyFn)(const Stage *st, uint32_t k);
static const char *user_key(const Stage *st, uint32_t k) { return st->users[k - 1].ext; }
static const char *item_key(const Stage *st, uint32_t k) { return st->items[k - 1].ext; }

static size_t map_probe(const Stage *st, const StrMap *m, KeyFn key, const char *ext)
{
    size_t mask = m->cap - 1, pos = hash_str(ext) & mask;
    while (m->slots[pos] && strcmp(key(st, m->slots[pos]), ext) != 0)
        pos = (pos + 1) & mask;
    return pos;
}

static int map_rehash(const Stage *st, StrMap *m, KeyFn key, size_t n)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    StrMap nm = {slots, cap};
    for (uint32_t k = 1; k <= n; k++)
        slots[map_probe(st, &nm, key, key(st, k))] = k;
    free(m->slots);
    *m = nm;
    return 0;
}

int stage_user(Stage *st, const char *ext, uint32_t *idx)
{
    if ((st->nusers + 1) * 2 > st->umap.cap && map_rehash(st, &st->umap, user_key, st->nusers))
        return RS_ENOMEM;
    size_t pos = map_probe(st, &st->umap, user_key, ext);
    if (st->umap.slots[pos]) {
        *idx = st->umap.slots[pos] - 1;
        return RS_OK;
    }
    if (grow((void **)&st->users, &st->users_cap, st->nusers, sizeof *st->users))
        return RS_ENOMEM;
    StageUser *u = &st->users[st->nusers];
    memset(u, 0, sizeof *u);
    u->age = -1;
    if (!(u->ext = strdup(ext)))
        return RS_ENOMEM;
    st->umap.slots[pos] = (uint32_t)++st->nusers;
    *idx = (uint32_t)(st->nusers - 1);
    return RS_OK;
}

int stage_item(Stage *st, const char *ext, uint32_t *idx)
{
    if ((st->nitems + 1) * 2 > st->imap.cap && map_rehash(st, &st->imap, item_key, st->nitems))
        return RS_ENOMEM;
    size_t pos = map_probe(st, &st->imap, item_key, ext);
    if (st->imap.slots[pos]) {
        *idx = st->imap.slots[pos] - 1;
        return RS_OK;
    }
    if (grow((void **)&st->items, &st->items_cap, st->nitems, sizeof *st->items))
        return RS_ENOMEM;
    StageItem *it = &st->items[st->nitems];
    memset(it, 0, sizeof *it);
    if (!(it->ext = strdup(ext)))
        return RS_ENOMEM;
    st->imap.slots[pos] = (uint32_t)++st->nitems;
    *idx = (uint32_t)(st->nitems - 1);
    return RS_OK;
}

int stage_find_item(const Stage *st, const char *ext, uint32_t *idx)
{
    if (!st->imap.cap)
        return 0;
    size_t pos = map_probe(st, &st->imap, item_key, ext);
    if (!st->imap.slots[pos])
        return 0;
    *idx = st->imap.slots[pos] - 1;
    return 1;
}

int stage_reserve_rows(Stage *st, size_t n)
{
    if (n <= st->rows_cap)
        return RS_OK;
    StageRow *v = realloc(st->rows, n * sizeof *v);
    if (!v)
        return RS_ENOMEM;
    st->rows = v;
    st->rows_cap = n;
    return RS_OK;
}

int stage_add_row(Stage *st, uint32_t u, uint32_t i, float rating, int64_t ts)
{
    if (grow((void **)&st->rows, &st->rows_cap, st->nrows, sizeof *st->rows))
        return RS_ENOMEM;
    st->rows[st->nrows] = (StageRow){u, i, rating, (uint32_t)st->nrows, ts};
    st->nrows++;
    return RS_OK;
}

static int cmp_row(const void *a, const void *b)
{
    const StageRow *x = a, *y = b;
    if (x->u != y->u)
        return x->u < y->u ? -1 : 1;
    if (x->i != y->i)
        return x->i < y->i ? -1 : 1;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1; /* STAGE_NO_TS sorts first */
    return (x->seq > y->seq) - (x->seq < y->seq);
}

size_t stage_dedupe(Stage *st)
{
    if (st->nrows < 2)
        return 0;
    /* Rows usually arrive grouped by user, users in first-seen order: then
     * each user's rows are sorted alone (small, cache-resident sorts). */
    int by_user = 1;
    for (size_t k = 1; k < st->nrows && by_user; k++)
        by_user = st->rows[k - 1].u <= st->rows[k].u;
    if (by_user) {
        for (size_t a = 0, b; a < st->nrows; a = b) {
            for (b = a + 1; b < st->nrows && st->rows[b].u == st->rows[a].u; b++)
                ;
            qsort(st->rows + a, b - a, sizeof *st->rows, cmp_row);
        }
    } else {
        qsort(st->rows, st->nrows, sizeof *st->rows, cmp_row);
    }
    size_t w = 0;
    for (size_t k = 0; k < st->nrows; k++) {
        if (w > 0 && st->rows[w - 1].u == st->rows[k].u && st->rows[w - 1].i == st->rows[k].i)
            st->rows[w - 1] = st->rows[k]; /* later (ts, seq) wins */
        else
            st->rows[w++] = st->rows[k];
    }
    size_t dropped = st->nrows - w;
    st->nrows = w;
    return dropped;
}

void stage_set_text(char **slot, char *v)
{
    if (!v)
        return;
    free(*slot);
    *slot = v;
}
