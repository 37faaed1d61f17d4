/*
 * config: hvdiagd's INI file through inih, the one parser that decides what the file says.
 * Debian 12's inih (r55) is built without INI_HANDLER_LINENO and without
 * INI_CALL_HANDLER_ON_NEW_SECTION, so its handler learns neither the line nor a section
 * that has no key. We feed inih through ini_parse_stream() with our own reader that hands
 * out exactly one line per call and counts them: when the handler runs, the count is the
 * line of the key.
 *
 * To name empty and unknown sections with their line, the reader also classifies each line
 * the way inih r55 does (ini.c, ini_parse_stream(): comment, indented continuation of the
 * previous key, [section], key = value), tracking the same state (is there a previous key).
 * inih stays the truth: the handler files every key under the section inih passes it, and
 * a disagreement with the reader's view is reported as an error rather than guessed.
 * An indented line after a key is a continuation in inih (Python configparser style): it is
 * accepted only for 'pattern' (a list) and otherwise refused at its line, with a hint when
 * it looks like an indented section header. A line longer than inih's buffer would be split
 * by inih into two "lines"; the reader refuses it instead.
 */
#include "config.h"

#include "alloc.h"
#include "buf.h"
#include "source.h"
#include "syslog5424.h"

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FILE_BYTES (1024 * 1024)
/* inih r55's fixed buffers (ini.c MAX_SECTION, MAX_NAME): names are cut to 49 bytes. */
#define INIH_MAX_SECTION 50
#define INIH_MAX_NAME    50

enum section { SEC_NONE, SEC_DAEMON, SEC_WATCH, SEC_OUTPUTS, SEC_BAD };

struct parse {
    hvd_config *c;
    const char *name; /* file name for messages */
    const hvd_logger *log;
    hvd_error *err;
    int errors;
    /* reader state */
    const char *text;
    size_t len;
    size_t pos;
    unsigned line; /* lines handed to inih so far */
    /* inih's state, mirrored by the reader (see the top of this file) */
    int prev_key;                       /* inih has a previous key to continue (prev_name) */
    char prev_name[INIH_MAX_NAME];      /* that key, as inih keeps it */
    unsigned prev_line;                 /* the line that set it */
    int continuation;                   /* the current line continues prev_name */
    char section_raw[INIH_MAX_SECTION]; /* the section name as inih keeps it */
    /* current section */
    enum section sec;
    hvd_config_watch *watch;
    int seen_daemon;
    uint64_t daemon_keys; /* bit per [daemon] key, to refuse repeats */
    uint64_t watch_keys;
    int seen_outputs;
    uint64_t output_keys;
};

static void problem(struct parse *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct parse *p, unsigned line, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->errors == 0) {
        hvd_error_set(p->err, HVD_ECONFIG, p->name, line, "%s", msg);
    }
    p->errors++;
    if (line) {
        hvd_log(p->log, HVD_LOG_ERR, "%s:%u: %s", p->name, line, msg);
    } else {
        hvd_log(p->log, HVD_LOG_ERR, "%s: %s", p->name, msg);
    }
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

static void watch_free(hvd_config_watch *w)
{
    hvd_free(w->name);
    hvd_free(w->path);
    for (size_t i = 0; i < w->npatterns; i++) {
        hvd_free(w->patterns[i]);
    }
    hvd_free(w->patterns);
    hvd_free(w->host);
}

void hvd_config_destroy(hvd_config *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->nwatches; i++) {
        watch_free(&c->watches[i]);
    }
    hvd_free(c->watches);
    hvd_free(c->file);
    hvd_free(c->database);
    hvd_free(c->rules);
    hvd_free(c->socket);
    hvd_free(c->json_file);
    hvd_free(c->on_incident);
    hvd_free(c->metrics_listen);
    hvd_free(c->metrics_textfile);
    hvd_free(c->syslog_target);
    hvd_free(c);
}

/* A section header whose name (between the brackets) is raw, len bytes: seen by the
 * reader, on a line inih also takes as a section header. */
static void section_header(struct parse *p, const char *raw, size_t len)
{
    char name[HVD_CONFIG_MAX_LINE];

    p->sec = SEC_BAD;
    p->watch = NULL;
    if (len >= INIH_MAX_SECTION) {
        /* inih would cut it, and two long names could become one section. */
        problem(p, p->line, "section name longer than %d bytes", INIH_MAX_SECTION - 1);
        return;
    }
    memcpy(name, raw, len);
    name[len] = '\0';
    while (len && (name[len - 1] == ' ' || name[len - 1] == '\t')) {
        name[--len] = '\0';
    }
    const char *s = skip_space(name);
    if (strcmp(s, "daemon") == 0) {
        if (p->seen_daemon) {
            problem(p, p->line, "[daemon] appears twice");
        }
        p->seen_daemon = 1;
        p->sec = SEC_DAEMON;
        p->daemon_keys = 0;
        return;
    }
    if (strcmp(s, "outputs") == 0) {
        if (p->seen_outputs) {
            problem(p, p->line, "[outputs] appears twice");
        }
        p->seen_outputs = 1;
        p->sec = SEC_OUTPUTS;
        p->output_keys = 0;
        return;
    }
    if (strncmp(s, "watch", 5) == 0 && (s[5] == ' ' || s[5] == '\t' || s[5] == '\0')) {
        const char *wname = skip_space(s + 5);
        hvd_config_watch *grown;

        if (!*wname) {
            problem(p, p->line, "[watch] needs a name: [watch NAME]");
            return;
        }
        for (size_t i = 0; i < p->c->nwatches; i++) {
            if (strcmp(p->c->watches[i].name, wname) == 0) {
                problem(p, p->line, "[watch %s] appears twice", wname);
                return;
            }
        }
        if (p->c->nwatches >= HVD_CONFIG_MAX_WATCHES) {
            problem(p, p->line, "more than %d [watch] sections", HVD_CONFIG_MAX_WATCHES);
            return;
        }
        grown = hvd_realloc(p->c->watches, (p->c->nwatches + 1) * sizeof(*grown));
        if (!grown) {
            problem(p, p->line, "out of memory");
            return;
        }
        p->c->watches = grown;
        memset(&grown[p->c->nwatches], 0, sizeof(*grown));
        grown[p->c->nwatches].name = hvd_strdup(wname);
        if (!grown[p->c->nwatches].name) {
            problem(p, p->line, "out of memory");
            return;
        }
        p->watch = &grown[p->c->nwatches++];
        p->watch->line = p->line;
        p->sec = SEC_WATCH;
        p->watch_keys = 0;
        return;
    }
    problem(p, p->line, "unknown section [%s] (expected [daemon], [outputs] or [watch NAME])", s);
}

/* inih r55's helpers, as ini.c has them (INI_ALLOW_INLINE_COMMENTS, prefix ";"). */
static char *ini_rstrip(char *s)
{
    char *p = s + strlen(s);

    while (p > s && isspace((unsigned char)p[-1])) {
        *--p = '\0';
    }
    return s;
}

static char *ini_lskip(char *s)
{
    while (*s && isspace((unsigned char)*s)) {
        s++;
    }
    return s;
}

/* The first of chars (any when NULL), or a ';' after whitespace (an inline comment). */
static char *ini_find_chars_or_comment(char *s, const char *chars)
{
    int was_space = 0;

    while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
        was_space = isspace((unsigned char)*s);
        s++;
    }
    return s;
}

/* Copies at most cap - 1 bytes and terminates, as inih's strncpy0(). */
static void ini_copy(char *dst, const char *src, size_t cap)
{
    size_t n = strnlen(src, cap - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

/*
 * Classifies one line exactly as inih r55's ini_parse_stream() does, on a scratch copy,
 * and updates the mirrored state: a start-of-line comment or blank line; with a previous
 * key, an indented non-blank line continues it; a "[section]" line (']' before any inline
 * comment) starts a section and forgets the previous key; "name = value" or "name: value"
 * makes name the previous key. Anything else is a syntax error inih reports.
 */
static void mirror_inih(struct parse *p, const char *text)
{
    char line[HVD_CONFIG_MAX_LINE + 1];
    char *start;
    char *end;

    p->continuation = 0;
    ini_copy(line, text, sizeof(line));
    start = line;
    if (p->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
    }
    start = ini_lskip(ini_rstrip(start));
    if (*start == ';' || *start == '#' || *start == '\0') {
        return;
    }
    if (p->prev_key && start > line) {
        p->continuation = 1;
        return;
    }
    if (*start == '[') {
        end = ini_find_chars_or_comment(start + 1, "]");
        if (*end == ']') {
            *end = '\0';
            ini_copy(p->section_raw, start + 1, sizeof(p->section_raw));
            p->prev_key = 0;
            section_header(p, start + 1, strlen(start + 1));
        }
        return;
    }
    end = ini_find_chars_or_comment(start, "=:");
    if (*end == '=' || *end == ':') {
        *end = '\0';
        ini_copy(p->prev_name, ini_rstrip(start), sizeof(p->prev_name));
        p->prev_key = p->prev_name[0] != '\0';
        p->prev_line = p->line;
    }
}

/* inih's reader: one whole line per call, or NULL at the end. */
static char *reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    const char *start = p->text + p->pos;
    const char *nl;
    size_t n;

    if (p->pos >= p->len) {
        return NULL;
    }
    nl = memchr(start, '\n', p->len - p->pos);
    n = nl ? (size_t)(nl - start) + 1 : p->len - p->pos;
    p->pos += n;
    p->line++;
    p->continuation = 0;
    if (memchr(start, '\0', n)) {
        problem(p, p->line, "NUL byte in line");
        str[0] = '\0';
        return str;
    }
    if (n >= (size_t)num || n > HVD_CONFIG_MAX_LINE) {
        problem(p, p->line, "line longer than %d bytes", num - 1);
        str[0] = '\0';
        return str;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    mirror_inih(p, str);
    return str;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int hvd_config_parse_duration(const char *s, uint64_t *ms)
{
    char *end = NULL;
    unsigned long long v;
    uint64_t mult;

    if (!s || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s) {
        return -1;
    }
    if (strcmp(end, "ms") == 0) {
        mult = 1;
    } else if (*end == '\0' || strcmp(end, "s") == 0) {
        mult = 1000;
    } else if (strcmp(end, "m") == 0) {
        mult = 60 * 1000;
    } else if (strcmp(end, "h") == 0) {
        mult = 3600 * 1000;
    } else {
        return -1;
    }
    if (v > UINT64_MAX / mult) {
        return -1;
    }
    *ms = v * mult;
    return 0;
}

int hvd_config_parse_size(const char *s, uint64_t *bytes)
{
    static const char units[] = "KMGT";
    char *end = NULL;
    unsigned long long v;
    const char *u;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s) {
        return -1;
    }
    /* Units in either case: 256k and 256K are the same. */
    if (*end && (u = strchr(units, toupper((unsigned char)*end))) != NULL) {
        shift = 10 * (unsigned)(u - units + 1);
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0) {
            end += strlen(end);
        }
    } else if (strcmp(end, "B") == 0) {
        end++;
    }
    if (*end || v > (UINT64_MAX >> shift)) {
        return -1;
    }
    *bytes = (uint64_t)v << shift;
    return 0;
}

static int parse_uint(const char *v, unsigned base, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    unsigned long long n;

    if (*v < '0' || *v > '9') {
        return -1;
    }
    errno = 0;
    n = strtoull(v, &end, (int)base);
    if (errno || *end || n > max) {
        return -1;
    }
    *out = (unsigned long)n;
    return 0;
}

/* Replaces *slot with a copy of v. */
static int set_string(struct parse *p, char **slot, const char *v)
{
    char *copy = hvd_strdup(v);

    if (!copy) {
        problem(p, p->line, "out of memory");
        return -1;
    }
    hvd_free(*slot);
    *slot = copy;
    return 0;
}

static int set_duration(struct parse *p, const char *key, const char *v, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    uint64_t ms;

    if (hvd_config_parse_duration(v, &ms) < 0) {
        problem(p, p->line, "%s: '%s' is not a duration (like 500ms, 30s, 5m, 1h)", key, v);
        return -1;
    }
    if (ms < min || ms > max) {
        problem(p, p->line, "%s: %s is out of range (%llums to %llums)", key, v,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = ms;
    return 0;
}

/* A size key from min to max bytes; with zero_off, 0 (off) too. */
static int set_size_in(struct parse *p, const char *key, const char *v, uint64_t min, uint64_t max,
                       int zero_off, uint64_t *out)
{
    uint64_t n;

    if (hvd_config_parse_size(v, &n) < 0) {
        problem(p, p->line, "%s: '%s' is not a size (like %s)", key, v,
                zero_off ? "512M, 1G" : "65536, 256k, 32M");
        return -1;
    }
    if (zero_off && n != 0 && (n < min || n > max)) {
        problem(p, p->line, "%s: %s is out of range (0 for none, or %lluM to %lluG)", key, v,
                (unsigned long long)(min >> 20), (unsigned long long)(max >> 30));
        return -1;
    }
    if (!zero_off && (n < min || n > max)) {
        problem(p, p->line, "%s: %s is out of range (%llu to %llu bytes)", key, v,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

static int set_size(struct parse *p, const char *key, const char *v, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    return set_size_in(p, key, v, min, max, 1, out);
}

/* A byte size from min to max (k, m, g: powers of 1024); no "0 for none" here. */
static int set_bytes(struct parse *p, const char *key, const char *v, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    return set_size_in(p, key, v, min, max, 0, out);
}

/* metrics_listen: "ADDRESS:PORT", "[V6]:PORT", or a bare PORT on 127.0.0.1. Numeric
 * addresses only: the daemon binds to what the file says, without name lookups. */
static void set_listen(struct parse *p, const char *v)
{
    hvd_config *c = p->c;
    const char *port = v;
    char addr[sizeof(c->metrics_address)] = "127.0.0.1";
    unsigned long n;
    unsigned char bin[16];

    if (v[0] == '[') {
        const char *close = strchr(v, ']');

        if (!close || close[1] != ':' || (size_t)(close - v - 1) >= sizeof(addr)) {
            goto bad;
        }
        memcpy(addr, v + 1, (size_t)(close - v - 1));
        addr[close - v - 1] = '\0';
        if (inet_pton(AF_INET6, addr, bin) != 1) {
            goto bad;
        }
        port = close + 2;
    } else if (strchr(v, ':')) {
        const char *colon = strrchr(v, ':');

        if ((size_t)(colon - v) >= sizeof(addr)) {
            goto bad;
        }
        memcpy(addr, v, (size_t)(colon - v));
        addr[colon - v] = '\0';
        if (inet_pton(AF_INET, addr, bin) != 1) {
            goto bad;
        }
        port = colon + 1;
    }
    if (parse_uint(port, 10, 65535, &n) < 0 || n == 0) {
        goto bad;
    }
    if (set_string(p, &c->metrics_listen, v) == 0) {
        memcpy(c->metrics_address, addr, sizeof(addr));
        c->metrics_port = (unsigned)n;
        c->metrics_listen_line = p->line;
    }
    return;
bad:
    problem(p, p->line,
            "metrics_listen: '%s' is not ADDRESS:PORT with a numeric address (like "
            "127.0.0.1:9464 or [::1]:9464) or a PORT from 1 to 65535",
            v);
}

/* Finds key in keys[0..nkeys) for section "[<sec><name>]" and marks it in *seen. Returns
 * its index, or -1 after reporting an unknown key, a repeat (unless the key's index is
 * 'repeatable') or an empty value. */
static long take_key(struct parse *p, const char *const *keys, size_t nkeys, uint64_t *seen,
                     long repeatable, const char *sec, const char *name, const char *key,
                     const char *v)
{
    size_t k;

    for (k = 0; k < nkeys && strcmp(keys[k], key) != 0; k++) {
    }
    if (k == nkeys) {
        problem(p, p->line, "unknown key '%s' in [%s%s]", key, sec, name);
        return -1;
    }
    if ((long)k != repeatable && (*seen & (UINT64_C(1) << k))) {
        problem(p, p->line, "'%s' is set twice in [%s%s]", key, sec, name);
        return -1;
    }
    *seen |= UINT64_C(1) << k;
    if (!*v) {
        problem(p, p->line, "%s: empty value", key);
        return -1;
    }
    return (long)k;
}

static const char *const daemon_keys[] = {
    "database",
    "rules",
    "socket",
    "socket_mode",
    "log_level",
    "rescan_interval",
    "settle_time",
    "file_timeout",
    "workers",
    "worker_memory_limit",
    "worker_cpu_limit",
    "worker_max_files",
    "worker_max_rss",
    "max_clients",
    "max_clients_per_uid",
    "client_idle_timeout",
    "client_queue_limit",
    "client_output_budget",
    "evtx_reader",
    "metrics_listen",
    "metrics_textfile",
};

static void daemon_key(struct parse *p, const char *key, const char *v)
{
    long k = take_key(p, daemon_keys, sizeof(daemon_keys) / sizeof(daemon_keys[0]), &p->daemon_keys,
                      -1, "daemon", "", key, v);
    unsigned long n;
    hvd_config *c = p->c;

    if (k < 0) {
        return;
    }
    switch (k) {
    case 0:
        set_string(p, &c->database, v);
        break;
    case 1:
        set_string(p, &c->rules, v);
        break;
    case 2:
        if (v[0] != '/') {
            problem(p, p->line, "socket: '%s' is not an absolute path", v);
        } else if (strlen(v) >= 108) {
            problem(p, p->line, "socket: the path is longer than 107 bytes");
        } else {
            set_string(p, &c->socket, v);
        }
        break;
    case 3:
        if (parse_uint(v, 8, 0777, &n) < 0) {
            problem(p, p->line, "socket_mode: '%s' is not an octal mode (like 0660)", v);
        } else {
            c->socket_mode = (unsigned)n;
        }
        break;
    case 4:
        if (hvd_log_level_parse(v) < 0) {
            problem(p, p->line, "log_level: '%s' is not error, warning, notice, info or debug", v);
        } else {
            c->log_level = hvd_log_level_parse(v);
        }
        break;
    case 5:
        set_duration(p, key, v, 100, 24ull * 3600 * 1000, &c->rescan_ms);
        break;
    case 6:
        set_duration(p, key, v, 0, 3600ull * 1000, &c->settle_ms);
        break;
    case 7:
        set_duration(p, key, v, 100, 24ull * 3600 * 1000, &c->file_timeout_ms);
        break;
    case 8:
        if (parse_uint(v, 10, 64, &n) < 0 || n == 0) {
            problem(p, p->line, "workers: '%s' is not a number from 1 to 64", v);
        } else {
            c->workers = (unsigned)n;
        }
        break;
    case 9:
        set_size(p, key, v, 64ull << 20, 1ull << 40, &c->worker_memory_limit);
        break;
    case 10:
        /* 0: the same as file_timeout */
        if (hvd_config_parse_duration(v, &c->worker_cpu_ms) < 0 ||
            (c->worker_cpu_ms != 0 && c->worker_cpu_ms < 1000) ||
            c->worker_cpu_ms > 24ull * 3600 * 1000) {
            problem(p, p->line, "worker_cpu_limit: '%s' is not 0 or a duration from 1s to 24h", v);
        }
        break;
    case 11:
        if (parse_uint(v, 10, 100000000, &n) < 0) {
            problem(p, p->line, "worker_max_files: '%s' is not a number from 0 to 100000000", v);
        } else {
            c->worker_max_files = n;
        }
        break;
    case 12:
        set_size(p, key, v, 1ull << 20, 1ull << 40, &c->worker_max_rss);
        break;
    case 13:
    case 14:
        if (parse_uint(v, 10, 65536, &n) < 0 || n == 0) {
            problem(p, p->line, "%s: '%s' is not a number from 1 to 65536", key, v);
        } else if (k == 13) {
            c->max_clients = (unsigned)n;
        } else {
            c->max_clients_per_uid = (unsigned)n;
        }
        break;
    case 15:
        set_duration(p, key, v, 100, 24ull * 3600 * 1000, &c->client_idle_ms);
        break;
    case 16:
        set_bytes(p, key, v, 4096, 1ull << 30, &c->client_queue_limit);
        break;
    case 17:
        set_bytes(p, key, v, 65536, 1ull << 34, &c->client_output_budget);
        break;
    case 18: {
        hvd_evtx_decoder d;

        if (hvd_evtx_decoder_parse(v, &d) < 0) {
            problem(p, p->line, "evtx_reader: '%s' is not libevtx or native", v);
        } else {
            c->evtx_decoder = (int)d;
        }
        break;
    }
    case 19:
        set_listen(p, v);
        break;
    case 20: {
        size_t len = strlen(v);

        if (v[0] != '/' || len < 7 || strcmp(v + len - 5, ".prom") != 0 || v[len - 6] == '/') {
            problem(p, p->line,
                    "metrics_textfile: '%s' is not an absolute path ending in .prom (the "
                    "textfile collector reads only *.prom)",
                    v);
        } else if (set_string(p, &c->metrics_textfile, v) == 0) {
            c->metrics_textfile_line = p->line;
        }
        break;
    }
    default:
        break;
    }
}

static void set_patterns(struct parse *p, hvd_config_watch *w, const char *v)
{
    const char *s = v;

    while (*(s = skip_space(s))) {
        size_t n = strcspn(s, " \t");
        char **grown;

        if (w->npatterns >= HVD_CONFIG_MAX_PATTERNS) {
            problem(p, p->line, "pattern: more than %d patterns", HVD_CONFIG_MAX_PATTERNS);
            return;
        }
        grown = hvd_realloc(w->patterns, (w->npatterns + 1) * sizeof(*grown));
        if (!grown) {
            problem(p, p->line, "out of memory");
            return;
        }
        w->patterns = grown;
        w->patterns[w->npatterns] = hvd_strndup(s, n);
        if (!w->patterns[w->npatterns]) {
            problem(p, p->line, "out of memory");
            return;
        }
        w->npatterns++;
        s += n;
    }
}

static const char *const watch_keys[] = {"path", "pattern", "kind", "recursive", "host"};

static void watch_key(struct parse *p, const char *key, const char *v)
{
    hvd_config_watch *w = p->watch;
    /* pattern (1) may be given on several lines (or continued); the others only once */
    long k = take_key(p, watch_keys, sizeof(watch_keys) / sizeof(watch_keys[0]), &p->watch_keys, 1,
                      "watch ", w->name, key, v);

    if (k < 0) {
        return;
    }
    switch (k) {
    case 0:
        if (v[0] != '/') {
            problem(p, p->line, "path: '%s' is not an absolute path", v);
        } else {
            set_string(p, &w->path, v);
        }
        break;
    case 1:
        set_patterns(p, w, v);
        break;
    case 2:
        if (strcmp(v, "evtx") == 0) {
            w->kind = HVD_SOURCE_EVTX;
        } else if (strcmp(v, "clusterlog") == 0) {
            w->kind = HVD_SOURCE_CLUSTERLOG;
        } else if (strcmp(v, "auto") == 0) {
            w->kind = HVD_SOURCE_UNKNOWN;
        } else {
            problem(p, p->line, "kind: '%s' is not evtx, clusterlog or auto", v);
        }
        break;
    case 3:
        if (parse_bool(v, &w->recursive) < 0) {
            problem(p, p->line, "recursive: '%s' is not yes or no", v);
        }
        break;
    case 4:
        set_string(p, &w->host, v);
        break;
    default:
        break;
    }
}

static const char *const output_keys[] = {
    "journald",
    "json_file",
    "on_incident",
    "on_incident_timeout",
    "on_incident_max_running",
    "retry_max",
    "syslog_target",
    "syslog_facility",
};

static void output_key(struct parse *p, const char *key, const char *v)
{
    long k = take_key(p, output_keys, sizeof(output_keys) / sizeof(output_keys[0]), &p->output_keys,
                      -1, "outputs", "", key, v);
    unsigned long n;
    hvd_config *c = p->c;

    if (k < 0) {
        return;
    }
    switch (k) {
    case 0: {
        int on;

        if (strcmp(v, "auto") == 0) {
            c->journald = HVD_CONFIG_AUTO;
        } else if (parse_bool(v, &on) == 0) {
            c->journald = on ? HVD_CONFIG_ON : HVD_CONFIG_OFF;
        } else {
            problem(p, p->line, "journald: '%s' is not auto, yes or no", v);
        }
        c->journald_line = p->line;
        break;
    }
    case 1:
    case 2:
        if (v[0] != '/') {
            problem(p, p->line, "%s: '%s' is not an absolute path", key, v);
        } else if (k == 1 && v[strlen(v) - 1] == '/') {
            problem(p, p->line, "json_file: '%s' names a folder, not a file", v);
        } else if (set_string(p, k == 1 ? &c->json_file : &c->on_incident, v) == 0) {
            *(k == 1 ? &c->json_file_line : &c->on_incident_line) = p->line;
        }
        break;
    case 3:
        set_duration(p, key, v, 100, 24ull * 3600 * 1000, &c->hook_timeout_ms);
        break;
    case 4:
        if (parse_uint(v, 10, 64, &n) < 0 || n == 0) {
            problem(p, p->line, "on_incident_max_running: '%s' is not a number from 1 to 64", v);
        } else {
            c->hook_max_running = (unsigned)n;
        }
        break;
    case 5:
        set_duration(p, key, v, 1000, 24ull * 3600 * 1000, &c->retry_max_ms);
        break;
    case 6: {
        hvd_syslog_target t;
        hvd_error terr;

        if (hvd_syslog_target_parse(v, &t, &terr) < 0) {
            problem(p, p->line, "syslog_target: %s", terr.msg);
        } else if (set_string(p, &c->syslog_target, v) == 0) {
            c->syslog_target_line = p->line;
        }
        break;
    }
    case 7: {
        int f = hvd_syslog_facility_parse(v);

        if (f < 0) {
            problem(p, p->line,
                    "syslog_facility: '%s' is not a facility (kern, user, daemon, auth, ..., "
                    "local0 to local7, or 0 to 23)",
                    v);
        } else {
            c->syslog_facility = f;
        }
        break;
    }
    default:
        break;
    }
}

/* Whether v looks like a section header: what an indented "[watch b]" becomes. */
static int looks_like_section(const char *v)
{
    size_t n = strlen(v);

    return n >= 2 && v[0] == '[' && v[n - 1] == ']';
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;

    if (strcmp(section, p->section_raw) != 0 ||
        (p->continuation && strcmp(name, p->prev_name) != 0)) {
        /* Cannot happen while the mirror follows inih; refuse rather than guess. */
        problem(p, p->line, "cannot tell which section '%s' belongs to (the INI parser says [%s])",
                name, section);
        return 1;
    }
    if (p->continuation) {
        /* inih hands an indented line after a key to that key again. */
        if (looks_like_section(value)) {
            problem(p, p->line,
                    "'%s' is indented, so it continues '%s' from line %u instead of starting "
                    "a section: remove the indentation",
                    value, name, p->prev_line);
            return 1;
        }
        if (p->sec != SEC_WATCH || strcmp(name, "pattern") != 0) {
            problem(p, p->line,
                    "indented line continues '%s' from line %u; only pattern may go on over "
                    "several lines",
                    name, p->prev_line);
            return 1;
        }
    }
    switch (p->sec) {
    case SEC_NONE:
        problem(p, p->line, "'%s' is outside any section", name);
        break;
    case SEC_DAEMON:
        daemon_key(p, name, value);
        break;
    case SEC_WATCH:
        watch_key(p, name, value);
        break;
    case SEC_OUTPUTS:
        output_key(p, name, value);
        break;
    case SEC_BAD:
        break; /* the section header was reported */
    }
    return 1;
}

static int set_defaults(hvd_config *c)
{
    c->database = hvd_strdup("/var/lib/hvdiag/hvdiag.db");
    c->rules = hvd_strdup(HVD_RULES_DIR);
    c->socket = hvd_strdup("/run/hvdiag/hvdiag.sock");
    c->socket_mode = 0660;
    c->log_level = HVD_LOG_INFO;
    c->rescan_ms = 30 * 1000;
    c->settle_ms = 2 * 1000;
    c->file_timeout_ms = 5 * 60 * 1000;
    c->workers = 1;
    c->worker_memory_limit = 1ull << 30;
    c->worker_cpu_ms = 0;
    c->worker_max_files = 1000;
    c->worker_max_rss = 512ull << 20;
    c->max_clients = 1024;
    c->max_clients_per_uid = 64;
    c->client_idle_ms = 5 * 60 * 1000;
    c->client_queue_limit = 256 * 1024;
    c->client_output_budget = 32 * 1024 * 1024;
    c->journald = HVD_CONFIG_AUTO;
    c->hook_timeout_ms = 30 * 1000;
    c->hook_max_running = 4;
    c->retry_max_ms = 5 * 60 * 1000;
    c->syslog_facility = 3; /* daemon */
    return c->database && c->rules && c->socket ? 0 : -1;
}

static void check_watches(struct parse *p)
{
    for (size_t i = 0; i < p->c->nwatches; i++) {
        hvd_config_watch *w = &p->c->watches[i];

        if (!w->path) {
            problem(p, w->line, "[watch %s] has no path", w->name);
        }
        if (w->npatterns == 0) {
            set_patterns(p, w, "*.evtx *.log");
        }
    }
}

int hvd_config_parse_string(hvd_config **out, const char *text, const char *name,
                            const hvd_logger *log, hvd_error *err)
{
    struct parse p;
    int rc;

    *out = NULL;
    memset(&p, 0, sizeof(p));
    p.name = name ? name : "<string>";
    p.log = log;
    p.err = err;
    p.text = text;
    p.len = strlen(text);
    p.c = hvd_calloc(1, sizeof(*p.c));
    if (!p.c || set_defaults(p.c) < 0 || !(p.c->file = hvd_strdup(p.name))) {
        hvd_config_destroy(p.c);
        return hvd_error_set(err, HVD_ENOMEM, p.name, 0, "out of memory");
    }
    rc = ini_parse_stream(reader, &p, handler, &p);
    if (rc > 0) {
        /* the handler never fails, so this is a line inih could not read (lines the
         * reader refused reach inih empty) */
        problem(&p, (unsigned)rc, "syntax error (expected [section] or key = value)");
    } else if (rc < 0) {
        problem(&p, 0, "out of memory");
    }
    check_watches(&p);
    if (p.errors) {
        hvd_config_destroy(p.c);
        return err ? err->code : HVD_ECONFIG;
    }
    *out = p.c;
    return HVD_OK;
}

int hvd_config_load(hvd_config **out, const char *path, const hvd_logger *log, hvd_error *err)
{
    FILE *f;
    hvd_buf b;
    char chunk[4096];
    size_t n;
    int rc;

    *out = NULL;
    f = fopen(path, "rb");
    if (!f) {
        rc = errno;
        hvd_error_set_cause(err, HVD_ECONFIG, rc, path, 0, "cannot open: %s", strerror(rc));
        hvd_log(log, HVD_LOG_ERR, "%s", err ? err->msg : path);
        return HVD_ECONFIG;
    }
    hvd_buf_init(&b, MAX_FILE_BYTES);
    rc = HVD_OK;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rc = hvd_buf_add(&b, chunk, n);
        if (rc < 0) {
            break;
        }
    }
    if (rc == HVD_OK && ferror(f)) {
        rc = HVD_EIO;
    }
    fclose(f);
    if (rc < 0) {
        hvd_buf_free(&b);
        hvd_error_set(err, HVD_ECONFIG, path, 0, "cannot read (%s)", hvd_strerror(rc));
        hvd_log(log, HVD_LOG_ERR, "%s", err ? err->msg : path);
        return HVD_ECONFIG;
    }
    if (b.len != strlen(hvd_buf_str(&b))) {
        /* a NUL would hide the rest of the file from the reader */
        hvd_buf_free(&b);
        hvd_error_set(err, HVD_ECONFIG, path, 0, "NUL byte in the file");
        hvd_log(log, HVD_LOG_ERR, "%s", err ? err->msg : path);
        return HVD_ECONFIG;
    }
    rc = hvd_config_parse_string(out, hvd_buf_str(&b), path, log, err);
    hvd_buf_free(&b);
    return rc;
}

static const char *kind_name(hvd_source_kind k)
{
    return k == HVD_SOURCE_UNKNOWN ? "auto" : hvd_source_kind_name(k);
}

static void describe_ms(hvd_buf *b, const char *key, uint64_t ms)
{
    if (ms % 1000) {
        hvd_buf_printf(b, "%s = %llums\n", key, (unsigned long long)ms);
    } else {
        hvd_buf_printf(b, "%s = %llus\n", key, (unsigned long long)(ms / 1000));
    }
}

static void describe_size(hvd_buf *b, const char *key, uint64_t n)
{
    static const char units[] = "KMGT";
    int u = -1;

    while (u < 3 && n && n % 1024 == 0) {
        n /= 1024;
        u++;
    }
    if (u < 0) {
        hvd_buf_printf(b, "%s = %llu\n", key, (unsigned long long)n);
    } else {
        hvd_buf_printf(b, "%s = %llu%c\n", key, (unsigned long long)n, units[u]);
    }
}

char *hvd_config_describe(const hvd_config *c)
{
    hvd_buf b;

    hvd_buf_init(&b, 1024 * 1024);
    hvd_buf_printf(&b, "# %s\n[daemon]\n", c->file);
    hvd_buf_printf(&b, "database = %s\nrules = %s\nsocket = %s\nsocket_mode = %04o\n", c->database,
                   c->rules, c->socket, c->socket_mode);
    hvd_buf_printf(&b, "log_level = %s\n", hvd_log_level_name(c->log_level));
    describe_ms(&b, "rescan_interval", c->rescan_ms);
    describe_ms(&b, "settle_time", c->settle_ms);
    describe_ms(&b, "file_timeout", c->file_timeout_ms);
    hvd_buf_printf(&b, "workers = %u\n", c->workers);
    describe_size(&b, "worker_memory_limit", c->worker_memory_limit);
    describe_ms(&b, "worker_cpu_limit", c->worker_cpu_ms);
    hvd_buf_printf(&b, "worker_max_files = %llu\n", (unsigned long long)c->worker_max_files);
    describe_size(&b, "worker_max_rss", c->worker_max_rss);
    hvd_buf_printf(&b, "max_clients = %u\nmax_clients_per_uid = %u\n", c->max_clients,
                   c->max_clients_per_uid);
    describe_ms(&b, "client_idle_timeout", c->client_idle_ms);
    hvd_buf_printf(&b, "client_queue_limit = %llu\nclient_output_budget = %llu\n",
                   (unsigned long long)c->client_queue_limit,
                   (unsigned long long)c->client_output_budget);
    hvd_buf_printf(&b, "evtx_reader = %s\n",
                   hvd_evtx_decoder_name((hvd_evtx_decoder)c->evtx_decoder));
    if (c->metrics_listen) {
        hvd_buf_printf(&b, "metrics_listen = %s\n", c->metrics_listen);
    }
    if (c->metrics_textfile) {
        hvd_buf_printf(&b, "metrics_textfile = %s\n", c->metrics_textfile);
    }
    hvd_buf_printf(&b, "\n[outputs]\njournald = %s\n",
                   c->journald == HVD_CONFIG_AUTO ? "auto"
                   : c->journald == HVD_CONFIG_ON ? "yes"
                                                  : "no");
    if (c->json_file) {
        hvd_buf_printf(&b, "json_file = %s\n", c->json_file);
    }
    if (c->on_incident) {
        hvd_buf_printf(&b, "on_incident = %s\n", c->on_incident);
    }
    describe_ms(&b, "on_incident_timeout", c->hook_timeout_ms);
    hvd_buf_printf(&b, "on_incident_max_running = %u\n", c->hook_max_running);
    describe_ms(&b, "retry_max", c->retry_max_ms);
    if (c->syslog_target) {
        hvd_buf_printf(&b, "syslog_target = %s\n", c->syslog_target);
    }
    hvd_buf_printf(&b, "syslog_facility = %s\n", hvd_syslog_facility_name(c->syslog_facility));
    for (size_t i = 0; i < c->nwatches; i++) {
        const hvd_config_watch *w = &c->watches[i];

        hvd_buf_printf(&b, "\n[watch %s]\npath = %s\npattern =", w->name, w->path);
        for (size_t j = 0; j < w->npatterns; j++) {
            hvd_buf_printf(&b, " %s", w->patterns[j]);
        }
        hvd_buf_printf(&b, "\nkind = %s\nrecursive = %s\n", kind_name(w->kind),
                       w->recursive ? "yes" : "no");
        if (w->host) {
            hvd_buf_printf(&b, "host = %s\n", w->host);
        }
    }
    return hvd_buf_take(&b);
}
