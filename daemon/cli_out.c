/* cli_out: input-derived text made safe for a terminal; see cli_out.h. */
#include "cli.h"

#include "log.h"
#include "text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_MESSAGE_MAX 4096

char *hvd_cli_clean(const char *s, unsigned flags)
{
    size_t len;
    size_t cap;
    char *out;

    if (!s) {
        s = "";
    }
    len = strlen(s);
    cap = hvd_text_sanitize(NULL, 0, s, len, flags) + 1;
    out = malloc(cap);
    if (out) {
        hvd_text_sanitize(out, cap, s, len, flags);
    }
    return out;
}

static int keeps_lines(const char *key)
{
    return key &&
           (strcmp(key, "cause") == 0 || strcmp(key, "remedy") == 0 || strcmp(key, "message") == 0);
}

/* Whether hvd_text_sanitize() would give s back unchanged because every byte is printable
 * ASCII (or a kept LF or TAB): most strings, checked without the copy. O(len). */
static int plain_text(const char *s, size_t len, unsigned flags)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c < 0x20 || c >= 0x7F) &&
            !((c == '\n' || c == '\t') && (flags & HVD_TEXT_KEEP_LINES))) {
            return 0;
        }
    }
    return 1;
}

/* Makes the string v, found under key, safe in place. O(length). */
static void clean_string(json_t *v, const char *key)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    unsigned flags = keeps_lines(key) ? HVD_TEXT_KEEP_LINES : 0;
    size_t need;
    char *out;

    if (plain_text(s, len, flags)) {
        return;
    }
    need = hvd_text_sanitize(NULL, 0, s, len, flags);
    out = malloc(need + 1);
    if (out) {
        hvd_text_sanitize(out, need + 1, s, len, flags);
        if (need != len || memcmp(out, s, len) != 0) {
            json_string_setn(v, out, need);
        }
        free(out);
    }
}

/* Cost: O(total string bytes) over the tree; strings that need no change are left alone. */
static void clean_value(json_t *v, const char *key)
{
    const char *k;
    json_t *child;
    size_t i;

    if (json_is_object(v)) {
        json_object_foreach(v, k, child)
        {
            clean_value(child, k);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            clean_value(child, key);
        }
    } else if (json_is_string(v)) {
        clean_string(v, key);
    }
}

void hvd_cli_clean_json(json_t *v)
{
    clean_value(v, NULL);
}

const char *hvd_cli_clean_member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        return "";
    }
    clean_string(v, key);
    return json_string_value(v);
}

const char *hvd_cli_clean_text(const char *s, const char *key, char **owned)
{
    json_t *v;

    *owned = NULL;
    if (!s) {
        return "";
    }
    if (plain_text(s, strlen(s), keeps_lines(key) ? HVD_TEXT_KEEP_LINES : 0)) {
        return s;
    }
    v = json_string(s); /* NULL when not UTF-8: an answer would not hold it */
    if (!v) {
        return "";
    }
    clean_string(v, key);
    *owned = strdup(json_string_value(v));
    json_decref(v);
    return *owned ? *owned : "";
}

void hvd_cli_error(const char *fmt, ...)
{
    char msg[CLI_MESSAGE_MAX];
    char out[CLI_MESSAGE_MAX * HVD_TEXT_SANITIZE_GROWTH + 1];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    hvd_text_sanitize(out, sizeof(out), msg, strlen(msg), 0);
    fprintf(stderr, "%s%s\n", out, (size_t)n >= sizeof(msg) ? "..." : "");
}

void hvd_cli_log_stderr(void *ud, int level, const char *msg)
{
    (void)ud;
    hvd_cli_error("hvdiag: %s: %s", hvd_log_level_name(level), msg);
}

size_t hvd_cli_json_flags(FILE *out, size_t flags)
{
    return isatty(fileno(out)) ? flags | JSON_ENSURE_ASCII : flags;
}
