/*
 * common.h - error codes, the error-message carrier and small helpers shared
 * by every recscope module.
 *
 * Library functions return int: RS_OK (0) on success or a negative RS_E*
 * code, and fill an RsErr the caller can show. Every function that takes an
 * RsErr * accepts NULL for "don't care".
 */
#ifndef RS_COMMON_H
#define RS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define RS_VERSION "0.1.0"

enum {
    RS_OK = 0,
    RS_EIO = -1,       /* file or OS error */
    RS_EPARSE = -2,    /* bad input data */
    RS_ENOMEM = -3,    /* allocation failed */
    RS_EDB = -4,       /* database error */
    RS_EUSAGE = -5,    /* bad argument or option value */
    RS_ENOTFOUND = -6, /* unknown user, item, run, ... */
    RS_ECANCEL = -7,   /* cancelled by the caller */
    RS_EGPU = -8,      /* GPU missing or failed */
    RS_EVERSION = -9,  /* unsupported format or schema version */
};

#define RS_ERRLEN 512

typedef struct RsErr {
    int code;
    char msg[RS_ERRLEN];
} RsErr;

/* Formats a message into err (if not NULL) and returns code. */
int rs_err_set(RsErr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err (if not NULL). */
void rs_err_clear(RsErr *err);

/* Seconds on the monotonic clock (for durations, progress throttles and
 * ETAs; not a date). Thread-safe. */
double rs_now(void);

/* Returns a short name for an RS_E* code ("I/O error", ...). */
const char *rs_strerror(int code);

/* Progress callback used by long operations: fraction in [0,1] (or a negative
 * value when unknown) and a short phase text. Returning non-zero asks the
 * operation to stop with RS_ECANCEL. */
typedef int (*RsProgressFn)(void *ctx, double fraction, const char *phase);

#define RS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
