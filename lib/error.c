/* hvd_error: the one way lib/ reports failure. Messages read "path:line: what is wrong". */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *hvd_strerror(int code)
{
    switch (code) {
    case HVD_OK:
        return "success";
#define HVD__ERROR_TEXT(name, value, text) \
    case name:                             \
        return text;
        HVD_ERRORS(HVD__ERROR_TEXT)
#undef HVD__ERROR_TEXT
    default:
        return "unknown error";
    }
}

void hvd_error_clear(hvd_error *err)
{
    if (err) {
        memset(err, 0, sizeof(*err));
    }
}

static int error_vset(hvd_error *err, int code, int cause, const char *path, uint64_t line,
                      const char *fmt, va_list ap)
{
    size_t used = 0;
    int n;

    if (!err) {
        return code;
    }
    err->code = code;
    err->cause = cause;
    err->line = line;
    err->offset = 0;
    err->msg[0] = '\0';
    if (path && line) {
        n = snprintf(err->msg, sizeof(err->msg), "%s:%llu: ", path, (unsigned long long)line);
    } else if (path) {
        n = snprintf(err->msg, sizeof(err->msg), "%s: ", path);
    } else {
        n = 0;
    }
    if (n > 0) {
        used = (size_t)n < sizeof(err->msg) ? (size_t)n : sizeof(err->msg) - 1;
    }
    /* A message cut at the buffer's end is still a useful message. */
    vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
    return code;
}

int hvd_error_set(hvd_error *err, int code, const char *path, uint64_t line, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = error_vset(err, code, 0, path, line, fmt, ap);
    va_end(ap);
    return rc;
}

int hvd_error_set_cause(hvd_error *err, int code, int cause, const char *path, uint64_t line,
                        const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = error_vset(err, code, cause, path, line, fmt, ap);
    va_end(ap);
    return rc;
}
