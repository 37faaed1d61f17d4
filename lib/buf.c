/* hvd_buf: bounded growing buffer. Invariant: data is NULL or holds len bytes plus a NUL. */
#include "buf.h"

#include "alloc.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hvd_buf_init(hvd_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void hvd_buf_free(hvd_buf *b)
{
    if (!b) {
        return;
    }
    hvd_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void hvd_buf_reset(hvd_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

int hvd_buf_add(hvd_buf *b, const void *p, size_t n)
{
    size_t need;
    size_t cap;
    char *grown;

    if (n > b->max - b->len || b->len > b->max) {
        hvd_buf_free(b);
        return HVD_ELIMIT;
    }
    need = b->len + n + 1;
    if (need > b->cap) {
        cap = b->cap ? b->cap : 64;
        while (cap < need) {
            cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
        }
        if (cap > b->max + 1) {
            cap = b->max + 1;
        }
        grown = hvd_realloc(b->data, cap);
        if (!grown) {
            hvd_buf_free(b);
            return HVD_ENOMEM;
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return HVD_OK;
}

int hvd_buf_adds(hvd_buf *b, const char *s)
{
    return hvd_buf_add(b, s, strlen(s));
}

int hvd_buf_addc(hvd_buf *b, char c)
{
    /* The common case, room for the byte and its NUL, without hvd_buf_add()'s checks. */
    if (b->len < b->max && b->len + 2 <= b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return HVD_OK;
    }
    return hvd_buf_add(b, &c, 1);
}

int hvd_buf_printf(hvd_buf *b, const char *fmt, ...)
{
    char small[256];
    char *big = NULL;
    va_list ap;
    int n;
    int rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        hvd_buf_free(b);
        return HVD_EINVAL;
    }
    if ((size_t)n < sizeof(small)) {
        return hvd_buf_add(b, small, (size_t)n);
    }
    if ((size_t)n > b->max) {
        hvd_buf_free(b);
        return HVD_ELIMIT;
    }
    big = hvd_malloc((size_t)n + 1);
    if (!big) {
        hvd_buf_free(b);
        return HVD_ENOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rc = hvd_buf_add(b, big, (size_t)n);
    hvd_free(big);
    return rc;
}

const char *hvd_buf_str(const hvd_buf *b)
{
    return b->data ? b->data : "";
}

char *hvd_buf_take(hvd_buf *b)
{
    char *s = b->data;

    if (!s) {
        s = hvd_strdup("");
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return s;
}
