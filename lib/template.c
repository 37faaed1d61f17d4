/*
 * template: rule texts with placeholders (grammar in template.h). One walker serves both
 * checking (at rule load) and rendering (per diagnosis), so the two cannot disagree.
 */
#include "template.h"

#include "error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH  4  /* {a?+ ... {b?+ ... } ... } nesting a rule may use */
#define SCAN_DEPTH 32 /* nesting closing() follows before it gives up (bounds recursion) */

struct walk {
    hvd_template_value value; /* rendering: value and out set */
    hvd_template_known known; /* checking: known may be NULL (syntax only) */
    void *ud;
    hvd_buf *out;
    char *msg;
    size_t cap;
    int failed; /* checking: a message was written */
    int rc;     /* rendering: the first failure */
};

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

static void fail(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct walk *w, const char *fmt, ...)
{
    va_list ap;

    if (!w->failed && w->msg && w->cap) {
        va_start(ap, fmt);
        vsnprintf(w->msg, w->cap, fmt, ap);
        va_end(ap);
    }
    w->failed = 1;
}

static void put(struct walk *w, int emit, const char *p, size_t n)
{
    if (emit && w->out && w->rc == HVD_OK) {
        w->rc = hvd_buf_add(w->out, p, n);
    }
}

static const char *token_end(const char *p, const char *end, int depth);

/* The '}' that closes a {name?+ whose text starts at p, or NULL. Placeholders inside are
 * skipped whole, so "{a?+ {a}}" closes at its last brace; {{ is literal, and so is }} at
 * the top level only (inside, "{b}}" closes b and then a). */
static const char *closing(const char *p, const char *end, int depth)
{
    while (p < end) {
        if (p[0] == '{' && p + 1 < end && p[1] == '{') {
            p += 2;
        } else if (*p == '}') {
            return p;
        } else if (*p == '{') {
            p = token_end(p, end, depth);
            if (!p) {
                return NULL;
            }
        } else {
            p++;
        }
    }
    return NULL;
}

/* Just past the placeholder that starts at p ('{'), or NULL when it does not close. */
static const char *token_end(const char *p, const char *end, int depth)
{
    const char *q = p + 1;

    while (q < end && is_name_char(*q)) {
        q++;
    }
    if (q >= end || depth > SCAN_DEPTH) {
        return NULL;
    }
    if (*q == '?' && q + 1 < end && q[1] == '+') {
        q = closing(q + 2, end, depth + 1);
    } else {
        while (q < end && *q != '}') {
            q++;
        }
    }
    return q && q < end ? q + 1 : NULL;
}

/* Has name a value? In rendering the value is looked up and dropped again. */
static int has_value(struct walk *w, const char *name, size_t len)
{
    size_t before;
    int got;

    if (!w->out) {
        return 1; /* checking walks every branch */
    }
    if (w->rc != HVD_OK) {
        return 0;
    }
    before = w->out->len;
    got = w->value(w->ud, name, len, w->out);
    if (got < 0) {
        w->rc = got;
        return 0;
    }
    if (w->out->data) {
        w->out->len = before;
        w->out->data[before] = '\0';
    }
    return got > 0;
}

static void check_name(struct walk *w, const char *name, size_t len)
{
    if (!w->out && w->known && !w->known(w->ud, name, len)) {
        fail(w, "unknown entity {%.*s}", (int)len, name);
    }
}

/* Walks [p, end): copies text when emit, fills placeholders, checks syntax. Cost: linear in
 * the template, plus one closing() scan per {name?+ (quadratic only in nesting depth). */
static void walk(struct walk *w, const char *p, const char *end, int emit, int depth)
{
    while (p < end && !(w->failed && !w->out)) {
        const char *name;
        const char *stop;
        size_t len;

        if ((p[0] == '{' || (p[0] == '}' && depth == 0)) && p + 1 < end && p[1] == p[0]) {
            put(w, emit, p, 1);
            p += 2;
            continue;
        }
        if (p[0] == '}') {
            fail(w, "'}' without '{' (write '}}' for a brace)");
            put(w, emit, p++, 1);
            continue;
        }
        if (p[0] != '{') {
            stop = p;
            while (stop < end && *stop != '{' && *stop != '}') {
                stop++;
            }
            put(w, emit, p, (size_t)(stop - p));
            p = stop;
            continue;
        }
        name = p + 1;
        len = 0;
        while (name + len < end && is_name_char(name[len])) {
            len++;
        }
        stop = name + len;
        if (len == 0 || stop >= end || (*stop != '}' && *stop != '?')) {
            fail(w, "'{' not followed by a name and '}' near '{%.*s' (write '{{' for a brace)",
                 (int)((size_t)(end - name) < 20 ? (size_t)(end - name) : 20), name);
            put(w, emit, p++, 1);
            continue;
        }
        check_name(w, name, len);
        if (*stop == '}') {
            if (emit && w->out && w->rc == HVD_OK) {
                int got = w->value(w->ud, name, len, w->out);

                w->rc = got < 0 ? got : w->rc;
            }
            p = stop + 1;
        } else if (stop + 1 < end && stop[1] == '+') {
            const char *close = depth < MAX_DEPTH ? closing(stop + 2, end, depth + 1) : NULL;

            if (!close) {
                fail(w,
                     depth < MAX_DEPTH ? "{%.*s?+ without its closing '}'"
                                       : "{%.*s?+ nested too deeply",
                     (int)len, name);
                put(w, emit, p++, 1);
                continue;
            }
            walk(w, stop + 2, close, emit && has_value(w, name, len), depth + 1);
            p = close + 1;
        } else {
            const char *close = stop + 1;

            while (close < end && *close != '}' && *close != '{') {
                close++;
            }
            if (close >= end || *close == '{') {
                fail(w,
                     "the fallback of {%.*s? holds a '{' or has no '}' (for text with values "
                     "use {name?+text})",
                     (int)len, name);
                put(w, emit, p++, 1);
                continue;
            }
            if (emit && !has_value(w, name, len)) {
                put(w, emit, stop + 1, (size_t)(close - (stop + 1)));
            } else if (emit && w->out && w->rc == HVD_OK) {
                int got = w->value(w->ud, name, len, w->out);

                w->rc = got < 0 ? got : w->rc;
            }
            p = close + 1;
        }
    }
}

int hvd_template_render(const char *tmpl, hvd_template_value value, void *ud, hvd_buf *out)
{
    struct walk w = {.value = value, .ud = ud, .out = out, .rc = HVD_OK};

    if (tmpl) {
        walk(&w, tmpl, tmpl + strlen(tmpl), 1, 0);
    }
    if (w.rc == HVD_OK && !out->data) {
        w.rc = hvd_buf_add(out, "", 0);
    }
    return w.rc;
}

int hvd_template_check(const char *tmpl, hvd_template_known known, void *ud, char *msg, size_t cap)
{
    struct walk w = {.known = known, .ud = ud, .msg = msg, .cap = cap, .rc = HVD_OK};

    if (msg && cap) {
        msg[0] = '\0';
    }
    if (tmpl) {
        walk(&w, tmpl, tmpl + strlen(tmpl), 0, 0);
    }
    return w.failed ? -1 : 0;
}

const char *hvd_template_leftover(const char *text)
{
    for (const char *p = text ? strchr(text, '{') : NULL; p; p = strchr(p + 1, '{')) {
        size_t len = 0;

        /* Entity names are lower case; {GUID} in a remedy is text. */
        while (is_name_char(p[1 + len]) && !isupper((unsigned char)p[1 + len])) {
            len++;
        }
        if (len && islower((unsigned char)p[1]) && (p[1 + len] == '}' || p[1 + len] == '?')) {
            return p;
        }
    }
    return NULL;
}
