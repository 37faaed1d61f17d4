/* Error codes and the error record every lib/ call fills on failure. */
#ifndef HVD_ERROR_H
#define HVD_ERROR_H

#include <stdint.h>

#define HVD_OK 0

/* One table gives the codes and hvd_strerror() text. */
#define HVD_ERRORS(X)                            \
    X(HVD_ENOMEM, -1, "out of memory")           \
    X(HVD_ECORRUPT, -2, "damaged input")         \
    X(HVD_ESTORE, -3, "database error")          \
    X(HVD_EIO, -4, "input/output error")         \
    X(HVD_EINVAL, -5, "invalid argument")        \
    X(HVD_ENOENT, -6, "no such file")            \
    X(HVD_ERULE, -7, "invalid rule")             \
    X(HVD_EUNSUPPORTED, -8, "unsupported input") \
    X(HVD_ELIMIT, -9, "limit exceeded")          \
    X(HVD_ECONFIG, -10, "invalid configuration") \
    X(HVD_EPROTO, -11, "invalid request")        \
    X(HVD_ENOTFOUND, -12, "not found")           \
    X(HVD_EAGAIN, -13, "try again later")

enum {
#define HVD__ERROR_ENUM(name, value, text) name = value,
    HVD_ERRORS(HVD__ERROR_ENUM)
#undef HVD__ERROR_ENUM
};

typedef struct hvd_error {
    int code;        /* HVD_E* or HVD_OK */
    int cause;       /* errno, SQLite or PCRE2 code behind it; 0 if none */
    uint64_t line;   /* 1-based line in a text input; 0 if none */
    uint64_t offset; /* byte offset or EVTX record id; 0 if none */
    char msg[512];   /* "rules/lm.xml:42: unknown element <EventIdd>" */
} hvd_error;

/* Static text for an HVD_E* code; "unknown error" for anything else. */
const char *hvd_strerror(int code);

/* Clears *err (NULL allowed). */
void hvd_error_clear(hvd_error *err);

/*
 * Records the error and returns 'code', so callers write 'return hvd_error_set(...)'.
 * The message is "path:line: text", "path: text" when line is 0, or just "text" when
 * path is NULL. err may be NULL.
 */
int hvd_error_set(hvd_error *err, int code, const char *path, uint64_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* As hvd_error_set(), and also records the errno/SQLite/PCRE2 code behind it. */
int hvd_error_set_cause(hvd_error *err, int code, int cause, const char *path, uint64_t line,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
