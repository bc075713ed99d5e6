/* blob.c - the model-blob writer and reader. */
#include "blob.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void blob_init(RsBlob *b) { memset(b, 0, sizeof *b); }

void blob_done(RsBlob *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void blob_put_bytes(RsBlob *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n)
            nc *= 2;
        uint8_t *d = realloc(b->data, nc);
        if (!d) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = nc;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* x86 and ARM are little-endian; the format is defined as little-endian. */
void blob_put_u32(RsBlob *b, uint32_t v) { blob_put_bytes(b, &v, 4); }
void blob_put_u64(RsBlob *b, uint64_t v) { blob_put_bytes(b, &v, 8); }
void blob_put_f32(RsBlob *b, float v) { blob_put_bytes(b, &v, 4); }
void blob_put_f64(RsBlob *b, double v) { blob_put_bytes(b, &v, 8); }
void blob_put_f32s(RsBlob *b, const float *v, size_t n) { blob_put_bytes(b, v, n * 4); }
void blob_put_u32s(RsBlob *b, const uint32_t *v, size_t n) { blob_put_bytes(b, v, n * 4); }

void blob_put_str(RsBlob *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    blob_put_u32(b, (uint32_t)n);
    blob_put_bytes(b, s, n);
}

void blob_reader_init(RsBlobReader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->bad = 0;
}

int blob_get_bytes(RsBlobReader *r, void *out, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return -1;
    }
    if (n)
        memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

int blob_get_u32(RsBlobReader *r, uint32_t *v) { return blob_get_bytes(r, v, 4); }
int blob_get_u64(RsBlobReader *r, uint64_t *v) { return blob_get_bytes(r, v, 8); }
int blob_get_f32(RsBlobReader *r, float *v) { return blob_get_bytes(r, v, 4); }
int blob_get_f64(RsBlobReader *r, double *v) { return blob_get_bytes(r, v, 8); }
int blob_get_u32s(RsBlobReader *r, uint32_t *v, size_t n)
{
    if (n > (r->len - r->pos) / 4) {
        r->bad = 1;
        return -1;
    }
    return blob_get_bytes(r, v, n * 4);
}

int blob_get_f32s(RsBlobReader *r, float *v, size_t n)
{
    if (n > (r->len - r->pos) / 4) {
        r->bad = 1;
        return -1;
    }
    if (blob_get_bytes(r, v, n * 4))
        return -1;
    for (size_t k = 0; k < n; k++)
        if (!isfinite(v[k])) {
            r->bad = 1;
            return -1;
        }
    return 0;
}

int blob_get_str(RsBlobReader *r, char **out, size_t max)
{
    uint32_t n;
    *out = NULL;
    if (blob_get_u32(r, &n) || n > max || n > r->len - r->pos) {
        r->bad = 1;
        return -1;
    }
    char *s = malloc((size_t)n + 1);
    if (!s)
        return -1;
    blob_get_bytes(r, s, n);
    s[n] = '\0';
    *out = s;
    return 0;
}

size_t blob_remaining(const RsBlobReader *r) { return r->len - r->pos; }

uint64_t blob_hash(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < n; k++) {
        h ^= s[k];
        h *= 1099511628211ull;
    }
    return h;
}
