/*
 * hvd_buf: a growing byte buffer with a hard maximum, after curl's dynbuf. Every buffer that
 * grows from input is one of these. A failed append (no memory, or past the maximum) frees
 * the contents, so a caller cannot go on with half a value by mistake.
 */
#ifndef HVD_BUF_H
#define HVD_BUF_H

#include <stddef.h>

typedef struct hvd_buf {
    char *data; /* NUL-terminated when non-NULL; owned */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* most bytes it may hold, not counting the NUL */
} hvd_buf;

/* Starts an empty buffer that may hold up to max bytes. Allocates nothing. */
void hvd_buf_init(hvd_buf *b, size_t max);

/* Frees the contents; the buffer may be used again (empty). NULL-safe. */
void hvd_buf_free(hvd_buf *b);

/* Empties the buffer, keeping its memory. */
void hvd_buf_reset(hvd_buf *b);

/* Appends n bytes. Returns HVD_OK, HVD_ELIMIT (past max) or HVD_ENOMEM; on failure the
 * contents are freed. */
int hvd_buf_add(hvd_buf *b, const void *p, size_t n);
int hvd_buf_adds(hvd_buf *b, const char *s);
int hvd_buf_addc(hvd_buf *b, char c);
int hvd_buf_printf(hvd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The contents, "" when empty: borrowed, valid until the next change to b. */
const char *hvd_buf_str(const hvd_buf *b);

/* Hands the contents to the caller, who frees them with hvd_free(); b becomes empty.
 * Returns NULL on allocation failure for an empty buffer. */
char *hvd_buf_take(hvd_buf *b);

#endif
