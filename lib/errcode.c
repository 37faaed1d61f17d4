/* errcode: error-code tokens in free text, normalised to uint32. */
#include "errcode.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A token boundary: not a letter, digit, '_' or '-' joined to a word (GUIDs, paths). */
static int word_char(int c)
{
    return isalnum(c) || c == '_';
}

int hvd_errcode_parse(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    size_t n;
    int neg = 0;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    if (n == 0) {
        return -1;
    }
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (n - 2 > 8) {
            return -1;
        }
        for (size_t i = 2; i < n; i++) {
            int h = hexval((unsigned char)s[i]);

            if (h < 0) {
                return -1;
            }
            v = v << 4 | (uint64_t)h;
        }
        *out = (uint32_t)v;
        return 0;
    }
    if (s[0] == '-') {
        neg = 1;
        s++;
        n--;
    }
    if (n == 8 && !neg) {
        int all_digits = 1;

        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)s[i])) {
                all_digits = 0;
            }
        }
        if (!all_digits) {
            /* 8 hex digits without prefix, as in "error codes 80042001 and 8007000D". */
            for (size_t i = 0; i < n; i++) {
                int h = hexval((unsigned char)s[i]);

                if (h < 0) {
                    return -1;
                }
                v = v << 4 | (uint64_t)h;
            }
            *out = (uint32_t)v;
            return 0;
        }
    }
    if (n == 0 || n > 10) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg) {
        if (v > UINT64_C(2147483648)) {
            return -1;
        }
        *out = (uint32_t)(-(int64_t)v);
        return 0;
    }
    if (v > UINT32_MAX) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

char *hvd_errcode_format(uint32_t code, char *buf, size_t cap)
{
    snprintf(buf, cap, "0x%08X", code);
    return buf;
}

uint32_t hvd_errcode_win32(uint32_t code)
{
    return (code & 0xFFFF0000u) == 0x80070000u ? code & 0xFFFFu : code;
}

/* A code starts where no word, GUID ('-') or version ('.') continues into it... */
static int boundary_before(const unsigned char *text, const unsigned char *p)
{
    return p == text || (!word_char(p[-1]) && p[-1] != '-' && p[-1] != '.');
}

/* ...and ends where no word or GUID part follows. */
static int boundary_after(const unsigned char *q)
{
    return !word_char(*q) && *q != '-' && !(*q == '.' && isdigit(q[1]));
}

static uint64_t hex_value(const unsigned char *s, size_t len)
{
    uint64_t v = 0;

    for (size_t i = 0; i < len; i++) {
        v = v << 4 | (uint64_t)hexval(s[i]);
    }
    return v;
}

int hvd_errcode_scan(const char *text, int (*fn)(void *ud, uint32_t value), void *ud)
{
    const unsigned char *start = (const unsigned char *)text;
    const unsigned char *p = start;
    int rc;

    while (*p) {
        const unsigned char *s = p;
        const unsigned char *q;
        int neg = 0;
        size_t len;

        if (*p == '-' && isdigit(p[1]) && boundary_before(start, p)) {
            neg = 1;
            s = p + 1;
        } else if (!isxdigit(*p) || !boundary_before(start, p)) {
            /* No code starts inside a word (boundary_before): skip the word at once. */
            if (word_char(*p)) {
                while (word_char(*p)) {
                    p++;
                }
            } else {
                p++;
            }
            continue;
        }
        if (!neg && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit(s[2])) {
            for (q = s + 2; isxdigit(*q); q++) {
            }
            len = (size_t)(q - (s + 2));
            if (len <= 8 && boundary_after(q) && (rc = fn(ud, (uint32_t)hex_value(s + 2, len)))) {
                return rc;
            }
        } else {
            int digits_only = 1;
            uint32_t v;
            char tok[16];

            for (q = s; isxdigit(*q); q++) {
                digits_only = digits_only && isdigit(*q);
            }
            len = (size_t)(q - s);
            if (boundary_after(q)) {
                if (!neg && len == 8 && (rc = fn(ud, (uint32_t)hex_value(s, len)))) {
                    return rc;
                }
                if (digits_only && len >= 4 && len <= 10) {
                    snprintf(tok, sizeof(tok), "%s%.*s", neg ? "-" : "", (int)len, (const char *)s);
                    /* hvd_errcode_parse() reads 8 bare digits as decimal: the other reading. */
                    if (hvd_errcode_parse(tok, &v) == 0 && (rc = fn(ud, v))) {
                        return rc;
                    }
                }
            }
        }
        /* Skip the rest of this word. */
        for (p = q; word_char(*p); p++) {
        }
    }
    return 0;
}
