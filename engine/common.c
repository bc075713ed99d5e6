/* common.c - the error-message carrier. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int rs_err_set(RsErr *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void rs_err_clear(RsErr *err)
{
    if (err) {
        err->code = RS_OK;
        err->msg[0] = '\0';
    }
}

const char *rs_strerror(int code)
{
    switch (code) {
    case RS_OK: return "ok";
    case RS_EIO: return "I/O error";
    case RS_EPARSE: return "bad input";
    case RS_ENOMEM: return "out of memory";
    case RS_EDB: return "database error";
    case RS_EUSAGE: return "bad usage";
    case RS_ENOTFOUND: return "not found";
    case RS_ECANCEL: return "cancelled";
    case RS_EGPU: return "GPU error";
    case RS_EVERSION: return "unsupported version";
    default: return "unknown error";
    }
}

double rs_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
