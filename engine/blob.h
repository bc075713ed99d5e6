/*
 * blob.h - little-endian binary writer and bounds-checked reader for model
 * blobs. The reader never reads past the end: every get returns -1 on
 * truncation and sets r->bad, so a corrupt blob becomes an error, never a
 * crash.
 */
#ifndef RS_BLOB_H
#define RS_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct RsBlob {
    uint8_t *data;
    size_t len, cap;
    int oom;            /* set when an allocation failed; later puts do nothing */
} RsBlob;

void blob_init(RsBlob *b);
void blob_done(RsBlob *b);
void blob_put_bytes(RsBlob *b, const void *p, size_t n);
void blob_put_u32(RsBlob *b, uint32_t v);
void blob_put_u64(RsBlob *b, uint64_t v);
void blob_put_f32(RsBlob *b, float v);
void blob_put_f64(RsBlob *b, double v);
void blob_put_f32s(RsBlob *b, const float *v, size_t n);
void blob_put_u32s(RsBlob *b, const uint32_t *v, size_t n);
void blob_put_str(RsBlob *b, const char *s); /* u32 length + bytes */

typedef struct RsBlobReader {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} RsBlobReader;

void blob_reader_init(RsBlobReader *r, const void *p, size_t len);
int blob_get_bytes(RsBlobReader *r, void *out, size_t n);
int blob_get_u32(RsBlobReader *r, uint32_t *v);
int blob_get_u64(RsBlobReader *r, uint64_t *v);
int blob_get_f32(RsBlobReader *r, float *v);
int blob_get_f64(RsBlobReader *r, double *v);
/* n floats; -1 also when any of them is NaN or infinite. */
int blob_get_f32s(RsBlobReader *r, float *v, size_t n);
int blob_get_u32s(RsBlobReader *r, uint32_t *v, size_t n);
/* A string of at most max bytes into a malloc'd NUL-terminated *out. */
int blob_get_str(RsBlobReader *r, char **out, size_t max);
size_t blob_remaining(const RsBlobReader *r);

/* FNV-1a 64 of n bytes. */
uint64_t blob_hash(const void *p, size_t n);

#endif
