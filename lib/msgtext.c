/*
 * msgtext: a documented message text compiled into a PCRE2 regex (see msgtext.h).
 *
 * "Cluster node '%1' was removed ..." in PREFIX mode compiles to
 * ^\s*Cluster\s+node\s+'(.*?)'\s+was\s+removed ... : only the text given must match, so a
 * message that goes on (the boilerplate after the first sentence) or was cut after it still
 * matches.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "msgtext.h"

#include "alloc.h"

#include <ctype.h>
#include <limits.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATCH_LIMIT 100000

struct hvd_msgtext_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
};

int hvd_msgtext_params(hvd_msgtext *mt, const char *s, hvd_msgtext_name_ok name_ok,
                       const char *what, char *why, size_t cap)
{
    while (s && *s) {
        size_t len;

        while (isspace((unsigned char)*s)) {
            s++;
        }
        len = strcspn(s, " \t\r\n");
        if (len == 0) {
            break;
        }
        if (mt->nparams == HVD_MSGTEXT_PARAMS) {
            snprintf(why, cap, "more than %d params", HVD_MSGTEXT_PARAMS);
            return -1;
        }
        if (len == 1 && *s == '-') {
            mt->params[mt->nparams++] = NULL;
        } else if (name_ok && !name_ok(s, len)) {
            snprintf(why, cap, "params: '%.*s' is not %s", (int)(len < 60 ? len : 60), s, what);
            return -1;
        } else {
            mt->params[mt->nparams] = hvd_strndup(s, len);
            if (!mt->params[mt->nparams]) {
                snprintf(why, cap, "out of memory");
                return -1;
            }
            mt->nparams++;
        }
        s += len;
    }
    return 0;
}

/* Appends c to the pattern, escaped when PCRE2 could read it as syntax. */
static int add_literal(hvd_buf *re, char c)
{
    if (!isalnum((unsigned char)c) && !((unsigned char)c & 0x80)) {
        if (hvd_buf_addc(re, '\\') < 0) {
            return -1;
        }
    }
    return hvd_buf_addc(re, c);
}

/* The quote marks a localized text may use, in UTF-8: any of them matches any other. */
static const char *const quotes[] = {"'",
                                     "\"",
                                     "\xC2\xAB",
                                     "\xC2\xBB",
                                     "\xE2\x80\x9E",
                                     "\xE2\x80\x9C",
                                     "\xE2\x80\x9D",
                                     "\xE2\x80\x9A",
                                     "\xE2\x80\x98",
                                     "\xE2\x80\x99"};

/* White space in a localized text: no-break spaces too (French puts them inside « »). */
#define SPACE_RE "[\\s\\x{a0}\\x{202f}]*"
/* A quote mark in a localized text, and the white space around it. */
#define QUOTE_RE \
    SPACE_RE "['\"\\x{ab}\\x{bb}\\x{201a}\\x{201c}-\\x{201e}\\x{2018}\\x{2019}]" SPACE_RE

/* The length of the quote mark p starts with, or 0. */
static size_t quote_len(const char *p)
{
    for (size_t i = 0; i < sizeof(quotes) / sizeof(quotes[0]); i++) {
        size_t n = strlen(quotes[i]);

        if (strncmp(p, quotes[i], n) == 0) {
            return n;
        }
    }
    return 0;
}

/* Appends c to a localized pattern: k and s match only their two ASCII cases (caseless
 * UTF matching would also fold them with U+212A and U+017F, keeping them out of the
 * prefilter's literals), the rest as add_literal() has it. */
static int add_cased(hvd_buf *re, char c)
{
    if (strchr("kKsS", c)) {
        char cls[16];

        snprintf(cls, sizeof(cls), "(?-i:[%c%c])", tolower((unsigned char)c),
                 toupper((unsigned char)c));
        return hvd_buf_adds(re, cls);
    }
    return add_literal(re, c);
}

/* The pattern of text into re; localized as hvd_msgtext_compile_localized() says.
 * Cost: O(length of text). */
static int pattern(hvd_buf *re, hvd_msgtext *mt, const char *text, enum hvd_msgtext_mode mode,
                   int localized, char *why, size_t cap)
{
    uint32_t group = 0;
    int rc = 0;
    const char *p = text;

    rc |= hvd_buf_adds(re, mode == HVD_MSGTEXT_SEARCH ? "" : "^\\s*");
    while (isspace((unsigned char)*p)) {
        p++;
    }
    while (*p && rc == 0) {
        size_t q = localized ? quote_len(p) : 0;

        if (q > 0) {
            /* The white space on either side belongs to the quote's pattern. */
            rc |= hvd_buf_adds(re, QUOTE_RE);
            p += q;
            while (isspace((unsigned char)*p)) {
                p++;
            }
        } else if (isspace((unsigned char)*p)) {
            while (isspace((unsigned char)*p)) {
                p++;
            }
            if (localized && *p && quote_len(p) == 0) {
                rc |= hvd_buf_adds(re, SPACE_RE);
            } else if (!localized) {
                rc |= hvd_buf_adds(re, *p ? "\\s+" : "");
            }
        } else if (p[0] == '%' && p[1] == '%') {
            rc |= add_literal(re, '%');
            p += 2;
        } else if (p[0] == '%' && isdigit((unsigned char)p[1])) {
            char *end;
            unsigned long k = strtoul(p + 1, &end, 10);

            if (k == 0 || k > mt->nparams) {
                snprintf(why, cap, "%%%lu: the message has %zu insertion points in 'params'", k,
                         mt->nparams);
                return -1;
            }
            /* A value at the very end (before a last full stop at most) runs to the end
             * of its sentence or line, or of a whole field: "endpoint %2." keeps the dots
             * of "10.0.0.2". */
            if (end[0] == '.' && mode != HVD_MSGTEXT_WHOLE &&
                !end[1 + strspn(end + 1, " \t\r\n")]) {
                end += strlen(end);
            }
            if (*end) {
                rc |= hvd_buf_adds(re, "(.*?)");
            } else {
                rc |= hvd_buf_adds(re,
                                   mode == HVD_MSGTEXT_WHOLE ? "(.+?)" : "(.+?)(?=\\.?\\s|\\.?$)");
            }
            mt->group_of[k - 1] = ++group;
            p = end;
        } else if (localized) {
            rc |= add_cased(re, *p++);
        } else {
            rc |= add_literal(re, *p++);
        }
    }
    if (rc == 0 && mode == HVD_MSGTEXT_WHOLE) {
        rc |= hvd_buf_adds(re, "\\s*$");
    }
    if (rc != 0) {
        snprintf(why, cap, "message text too long");
        return -1;
    }
    return 0;
}

/* JIT compiling, unless HVD_PCRE2_JIT=0 (for valgrind). */
static int jit_on(void)
{
    const char *jit = getenv("HVD_PCRE2_JIT");

    return !jit || strcmp(jit, "0") != 0;
}

static int compile(hvd_msgtext *mt, const char *text, enum hvd_msgtext_mode mode, int localized,
                   int jit, char *why, size_t cap)
{
    hvd_buf re;
    int errcode;
    PCRE2_SIZE erroff;

    hvd_buf_init(&re, 64 * 1024);
    if (pattern(&re, mt, text, mode, localized, why, cap) < 0) {
        hvd_buf_free(&re);
        return -1;
    }
    mt->re = pcre2_compile((PCRE2_SPTR)hvd_buf_str(&re), PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_CASELESS | PCRE2_DOTALL, &errcode, &erroff, NULL);
    hvd_buf_free(&re);
    if (!mt->re) {
        PCRE2_UCHAR msg[200];

        pcre2_get_error_message(errcode, msg, sizeof(msg));
        snprintf(why, cap, "message text does not compile: %s", (const char *)msg);
        return -1;
    }
    if (jit && jit_on()) {
        pcre2_jit_compile(mt->re, PCRE2_JIT_COMPLETE);
    }
    return 0;
}

int hvd_msgtext_compile(hvd_msgtext *mt, const char *text, enum hvd_msgtext_mode mode, int jit,
                        char *why, size_t cap)
{
    return compile(mt, text, mode, 0, jit, why, cap);
}

int hvd_msgtext_compile_localized(hvd_msgtext *mt, const char *text, enum hvd_msgtext_mode mode,
                                  int jit, char *why, size_t cap)
{
    return compile(mt, text, mode, 1, jit, why, cap);
}

pcre2_code *hvd_msgtext_jit_copy(const hvd_msgtext *mt)
{
    pcre2_code *copy = jit_on() ? pcre2_code_copy(mt->re) : NULL;

    if (copy) {
        pcre2_jit_compile(copy, PCRE2_JIT_COMPLETE);
    }
    return copy;
}

void hvd_msgtext_jit_free(pcre2_code *re)
{
    pcre2_code_free(re);
}

int hvd_msgtext_unused(const hvd_msgtext *mt)
{
    for (size_t k = 0; k < mt->nparams; k++) {
        if (mt->params[k] && mt->group_of[k] == 0) {
            return (int)k;
        }
    }
    return -1;
}

static void literal(const char *text, int localized, hvd_msgtext_score score, void *ud, char *out,
                    size_t cap)
{
    size_t best = 0;
    long best_score = LONG_MIN;
    const char *at = text;

    for (const char *p = text; *p;) {
        const char *q = p;
        long sc;

        while (*q > ' ' && *q < 0x7F && *q != '%' &&
               (localized ? *q != '\'' && *q != '"' : !strchr("kKsS", *q))) {
            q++;
        }
        sc = q > p && score ? score(ud, p, (size_t)(q - p)) : 0;
        sc = sc < 0 ? -1 : sc; /* rejected pieces rank alike, by length */
        if (q > p && (sc > best_score || (sc == best_score && (size_t)(q - p) > best))) {
            best_score = sc;
            best = (size_t)(q - p);
            at = p;
        }
        p = *q ? q + 1 : q;
        if (*q == '%') {
            while (*p >= '0' && *p <= '9') {
                p++; /* the insertion point's number */
            }
        }
    }
    if (cap == 0) {
        return;
    }
    best = best > cap - 1 ? cap - 1 : best;
    memcpy(out, at, best);
    out[best] = '\0';
}

void hvd_msgtext_literal(const char *text, char *out, size_t cap)
{
    literal(text, 0, NULL, NULL, out, cap);
}

void hvd_msgtext_literal_localized(const char *text, hvd_msgtext_score score, void *ud, char *out,
                                   size_t cap)
{
    literal(text, 1, score, ud, out, cap);
}

int hvd_msgtext_first(const char *text, int localized, unsigned char *first)
{
    const unsigned char *p = (const unsigned char *)text;

    while (isspace(*p)) {
        p++;
    }
    /* A localized pattern's k and s match only k, K, s and S. */
    if (*p < 0x80 && isalpha(*p) && (localized || !strchr("kKsS", *p))) {
        *first = (unsigned char)tolower(*p);
        return 1;
    }
    /* À-þ share the lead byte with their other case; not × ÷, ß (ẞ), ÿ (Ÿ), Å å (U+212B). */
    if (*p == 0xC3 && p[1] >= 0x80 && p[1] <= 0xBE && !strchr("\x85\x97\x9F\xA5\xB7", p[1])) {
        *first = 0xC3;
        return 1;
    }
    return 0;
}

void hvd_msgtext_free(hvd_msgtext *mt)
{
    if (!mt) {
        return;
    }
    for (size_t i = 0; i < mt->nparams; i++) {
        hvd_free(mt->params[i]);
    }
    pcre2_code_free(mt->re);
    memset(mt, 0, sizeof(*mt));
}

int hvd_msgtext_scratch_create(hvd_msgtext_scratch **out, hvd_error *err)
{
    hvd_msgtext_scratch *s = hvd_calloc(1, sizeof(*s));

    *out = NULL;
    if (s) {
        s->md = pcre2_match_data_create(HVD_MSGTEXT_PARAMS + 1, NULL);
        s->mctx = pcre2_match_context_create(NULL);
    }
    if (!s || !s->md || !s->mctx) {
        hvd_msgtext_scratch_destroy(s);
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "out of memory");
    }
    pcre2_set_match_limit(s->mctx, MATCH_LIMIT);
    *out = s;
    return HVD_OK;
}

void hvd_msgtext_scratch_destroy(hvd_msgtext_scratch *s)
{
    if (!s) {
        return;
    }
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    hvd_free(s);
}

int hvd_msgtext_match(hvd_msgtext_scratch *s, const hvd_msgtext *mt, const pcre2_code *re,
                      const char *subject, size_t len)
{
    int rc = pcre2_match(re ? re : mt->re, (PCRE2_SPTR)subject, len, 0, 0, s->md, s->mctx);

    if (rc == PCRE2_ERROR_NOMEMORY) {
        return HVD_ENOMEM;
    }
    return rc > 0;
}

int hvd_msgtext_value(const hvd_msgtext_scratch *s, const hvd_msgtext *mt, size_t k, size_t *off,
                      size_t *len)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    uint32_t g = k < mt->nparams ? mt->group_of[k] : 0;

    if (g == 0 || !mt->params[k] || ov[2 * g] == PCRE2_UNSET) {
        return -1;
    }
    *off = ov[2 * g];
    *len = ov[2 * g + 1] - ov[2 * g];
    return 0;
}
