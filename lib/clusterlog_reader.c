/*
 * clusterlog_reader: cluster.log text, from WS2008 R2 'cluster log /g' to Get-ClusterLog on
 * WS2022, one event per prefixed line:
 *
 *   [<Tag>] PPPPPPPP.TTTTTTTT::YYYY/MM/DD-HH:MM:SS.mmm LEVEL  [COMP] message
 *
 * The tag (2016+) and the component are optional. Lines without the prefix continue the
 * previous event's message. Since 2016 the file opens with configuration sections
 * ([=== Cluster ===] ... [=== Cluster Logs ===]); their lines are not events, but the
 * Cluster section says which node wrote the file, its time-zone offset and whether times
 * are local. Excerpts found in articles are also accepted: a leading editor line number,
 * and time-only lines (HH:MM:SS.mmm, date cut off), which keep the time of day on
 * 1970-01-01 with the field date=unknown.
 *
 * Raw bytes are split into lines on whole code units (0x000A in UTF-16LE), so each line's
 * byte offset in the file is exact; each line is then decoded to UTF-8. The reader holds
 * one event back until the next prefixed line shows it is complete; two slots alternate so
 * the event handed out stays valid until the next call. Memory is bounded by the longest
 * line (cut at HVD_CLOG_MAX_LINE) and message (cut at HVD_CLOG_MAX_MESSAGE).
 */
#include "clusterlog_reader.h"

#include "alloc.h"
#include "buf.h"
#include "hvtime.h"
#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HVD_CLOG_MAX_LINE    (64u * 1024)
#define HVD_CLOG_MAX_MESSAGE (256u * 1024)
#define RAW_CAP              (2 * HVD_CLOG_MAX_LINE)
#define WARN_LINES           5

struct slot {
    int used;
    uint64_t line;
    uint64_t byte_offset;
    hvd_time time;
    uint8_t level;
    uint32_t pid;
    uint32_t tid;
    char pid_text[16];
    char tid_text[16];
    char tag[64];
    char component[128];
    char level_word[16];
    int time_only;
    hvd_buf message;
    hvd_field fields[6];
    size_t nfields;
};

struct hvd_clusterlog_reader {
    char *path;
    int fd;                   /* -1 when reading from memory */
    const unsigned char *mem; /* borrowed */
    size_t mem_len;
    uint64_t mem_pos;

    unsigned char *raw;
    size_t raw_len;
    size_t raw_pos;
    uint64_t raw_off; /* file offset of raw[0] */
    int eof;
    int tail;

    hvd_encoding enc;
    size_t unit;
    hvd_text_decoder *dec;
    hvd_buf text; /* the current line, UTF-8 */

    uint64_t lines; /* lines consumed so far */
    int tz_minutes; /* UTC = local + tz_minutes */
    int local_time;
    int in_config; /* inside a configuration section: lines are not events */
    char host[256];

    struct slot slots[2];
    int pending; /* slot holding an event not yet handed out, or -1 */

    hvd_source_stats stats;
    int summarized; /* the end-of-file summary was logged */
    char position[512];
    const hvd_logger *log;
};

static int slot_init(struct slot *s)
{
    memset(s, 0, sizeof(*s));
    hvd_buf_init(&s->message, HVD_CLOG_MAX_MESSAGE);
    return 0;
}

/* --- raw input ---------------------------------------------------------------------- */

static ssize_t fill_raw(hvd_clusterlog_reader *r, unsigned char *dst, size_t room)
{
    if (r->fd < 0) {
        size_t n = r->mem_len - (size_t)r->mem_pos;

        if (n > room) {
            n = room;
        }
        memcpy(dst, r->mem + r->mem_pos, n);
        r->mem_pos += n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = read(r->fd, dst, room);

        if (n >= 0 || errno != EINTR) {
            return n;
        }
    }
}

/* Finds the next newline unit at or after 'from'; returns its index or -1. */
static long find_newline(const hvd_clusterlog_reader *r, size_t from)
{
    if (r->unit == 1) {
        const unsigned char *nl = memchr(r->raw + from, '\n', r->raw_len - from);

        return nl ? (long)(nl - r->raw) : -1;
    }
    for (size_t i = from; i + 1 < r->raw_len; i += 2) {
        if (r->raw[i] == '\n' && r->raw[i + 1] == 0) {
            return (long)i;
        }
    }
    return -1;
}

/*
 * Hands out the next raw line (without its newline). Returns 1, 0 at the end (in tail
 * mode an unterminated last line is left for later), or HVD_EIO.
 */
static int next_raw_line(hvd_clusterlog_reader *r, const unsigned char **line, size_t *len,
                         uint64_t *offset, hvd_error *err)
{
    for (;;) {
        long nl = find_newline(r, r->raw_pos);
        size_t avail = r->raw_len - r->raw_pos;
        ssize_t n;

        if (nl >= 0) {
            *line = r->raw + r->raw_pos;
            *len = (size_t)nl - r->raw_pos;
            *offset = r->raw_off + r->raw_pos;
            r->raw_pos = (size_t)nl + r->unit;
            return 1;
        }
        if (avail >= HVD_CLOG_MAX_LINE) {
            /* An overlong line is cut; the rest reads as its continuation. */
            *line = r->raw + r->raw_pos;
            *len = HVD_CLOG_MAX_LINE;
            *offset = r->raw_off + r->raw_pos;
            r->raw_pos += HVD_CLOG_MAX_LINE;
            return 1;
        }
        if (r->eof) {
            if (avail == 0 || r->tail) {
                return 0;
            }
            *line = r->raw + r->raw_pos;
            *len = avail;
            *offset = r->raw_off + r->raw_pos;
            r->raw_pos = r->raw_len;
            return 1;
        }
        memmove(r->raw, r->raw + r->raw_pos, avail);
        r->raw_off += r->raw_pos;
        r->raw_pos = 0;
        r->raw_len = avail;
        n = fill_raw(r, r->raw + r->raw_len, RAW_CAP - r->raw_len);
        if (n < 0) {
            return hvd_error_set_cause(err, HVD_EIO, errno, r->path, r->lines + 1, "read error: %s",
                                       strerror(errno));
        }
        if (n == 0) {
            r->eof = 1;
        }
        r->raw_len += (size_t)n;
    }
}

/* --- line grammar ------------------------------------------------------------------- */

static int hex8(const char *p, uint32_t *v)
{
    uint32_t x = 0;

    for (int i = 0; i < 8; i++) {
        int c = (unsigned char)p[i];
        int d;

        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return -1;
        }
        x = x << 4 | (uint32_t)d;
    }
    *v = x;
    return 0;
}

static int digits(const char *p, int n, int *v)
{
    int x = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) {
            return -1;
        }
        x = x * 10 + (p[i] - '0');
    }
    *v = x;
    return 0;
}

/* "HH:MM:SS.mmm" into ticks of the day; returns 0 or -1. */
static int parse_clock(const char *p, int64_t *ticks)
{
    int h;
    int m;
    int s;
    int ms;

    if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &m) || p[5] != ':' ||
        digits(p + 6, 2, &s) || p[8] != '.' || digits(p + 9, 3, &ms) || h > 23 || m > 59 ||
        s > 60) {
        return -1;
    }
    *ticks = ((int64_t)h * 3600 + m * 60 + s) * HVD_TICKS_PER_SECOND + (int64_t)ms * 10000;
    return 0;
}

static void copy_field(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static uint8_t level_of(const char *word)
{
    if (strcmp(word, "ERR") == 0 || strcmp(word, "ERROR") == 0) {
        return HVD_LEVEL_ERROR;
    }
    if (strcmp(word, "WARN") == 0 || strcmp(word, "WARNING") == 0) {
        return HVD_LEVEL_WARNING;
    }
    if (strcmp(word, "DBG") == 0 || strcmp(word, "DEBUG") == 0 || strcmp(word, "VERBOSE") == 0) {
        return HVD_LEVEL_VERBOSE;
    }
    if (strcmp(word, "CRIT") == 0 || strcmp(word, "CRITICAL") == 0) {
        return HVD_LEVEL_CRITICAL;
    }
    return HVD_LEVEL_INFO;
}

/* Parses a prefixed line into s (time as written: local or UTC). Returns 0, or -1 when
 * the line is not an event line. */
static int parse_event_line(const char *line, struct slot *s)
{
    const char *p = line;
    const char *q;
    int64_t clock;

    s->tag[0] = '\0';
    s->component[0] = '\0';
    s->pid_text[0] = '\0';
    s->tid_text[0] = '\0';
    s->pid = 0;
    s->tid = 0;
    s->time_only = 0;
    /* An editor's line number in front (excerpts in articles), maybe indented. */
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    q = p;
    while (isdigit((unsigned char)*q)) {
        q++;
    }
    if (q > p && *q == ' ' && (q[1] == '[' || isxdigit((unsigned char)q[1]))) {
        p = q + 1;
    }
    if (*p == '[' && strncmp(p, "[===", 4) != 0) {
        q = strchr(p, ']');
        if (!q || q - p > 60) {
            return -1;
        }
        copy_field(s->tag, sizeof(s->tag), p + 1, (size_t)(q - p - 1));
        p = q + 1;
        while (*p == ' ') {
            p++;
        }
    }
    if (strlen(p) >= 42 && p[8] == '.' && p[17] == ':' && p[18] == ':' && hex8(p, &s->pid) == 0 &&
        hex8(p + 9, &s->tid) == 0) {
        int y;
        int mo;
        int d;

        copy_field(s->pid_text, sizeof(s->pid_text), p, 8);
        copy_field(s->tid_text, sizeof(s->tid_text), p + 9, 8);
        p += 19;
        if (digits(p, 4, &y) || p[4] != '/' || digits(p + 5, 2, &mo) || p[7] != '/' ||
            digits(p + 8, 2, &d) || p[10] != '-' || parse_clock(p + 11, &clock) < 0 || mo < 1 ||
            mo > 12 || d < 1 || d > 31) {
            return -1;
        }
        s->time = hvd_time_from_utc(y, mo, d, 0, 0, 0, 0) + clock;
        p += 23;
    } else if (parse_clock(p, &clock) == 0 && p[12] == ' ') {
        s->time = clock;
        s->time_only = 1;
        p += 12;
    } else {
        return -1;
    }
    if (*p != ' ' && *p != '\t') {
        return -1;
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    q = p;
    while (isalpha((unsigned char)*q)) {
        q++;
    }
    if (q == p || (*q != ' ' && *q != '\t' && *q != '\0')) {
        return -1;
    }
    copy_field(s->level_word, sizeof(s->level_word), p, (size_t)(q - p));
    s->level = level_of(s->level_word);
    p = q;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '[') {
        q = strchr(p, ']');
        if (q && q - p < (long)sizeof(s->component)) {
            copy_field(s->component, sizeof(s->component), p + 1, (size_t)(q - p - 1));
            p = q + 1;
            while (*p == ' ') {
                p++;
            }
        }
    }
    hvd_buf_reset(&s->message);
    if (hvd_buf_adds(&s->message, p) < 0) {
        hvd_buf_init(&s->message, HVD_CLOG_MAX_MESSAGE);
    }
    return 0;
}

/* Configuration sections of 2016+ files hold state dumps, not events. */
static int is_config_section(const char *name)
{
    static const char *const event_sections[] = {"Cluster Logs", "System"};
    size_t n = strlen(name);

    for (size_t i = 0; i < 2; i++) {
        if (strcmp(name, event_sections[i]) == 0) {
            return 0;
        }
    }
    /* "[=== Microsoft-Windows-FailoverClustering/Operational logs ===]" and the like. */
    return !(n > 5 && strcmp(name + n - 5, " logs") == 0) && strncmp(name, "Microsoft-", 10) != 0;
}

/* Header facts: which node wrote the file, its time-zone offset, local or UTC times. */
static void read_header_line(hvd_clusterlog_reader *r, const char *line)
{
    const char *p;

    p = strstr(line, "Current node:");
    if (p) {
        p = strstr(p, "name (");
        if (p) {
            const char *end = strchr(p + 6, ')');

            if (end && end > p + 6) {
                copy_field(r->host, sizeof(r->host), p + 6, (size_t)(end - p - 6));
            }
        }
    }
    p = strstr(line, "offset of this machine is");
    if (p) {
        char *end;
        long v;

        errno = 0;
        v = strtol(p + strlen("offset of this machine is"), &end, 10);
        if (!errno && end != p && v > -100000 && v < 100000) {
            while (*end == ' ') {
                end++;
            }
            r->tz_minutes = strncasecmp(end, "hour", 4) == 0 ? (int)v * 60 : (int)v;
        }
    }
    if (strstr(line, "generated using local time")) {
        r->local_time = 1;
    }
}

static void finish_slot(hvd_clusterlog_reader *r, struct slot *s)
{
    size_t n = 0;

    if (r->local_time && !s->time_only) {
        s->time += (int64_t)r->tz_minutes * 60 * HVD_TICKS_PER_SECOND;
    }
    s->fields[n++] = (hvd_field){"pid", s->pid_text};
    s->fields[n++] = (hvd_field){"tid", s->tid_text};
    s->fields[n++] = (hvd_field){"tag", s->tag};
    s->fields[n++] = (hvd_field){"component", s->component};
    s->fields[n++] = (hvd_field){"level", s->level_word};
    if (s->time_only) {
        s->fields[n++] = (hvd_field){"date", "unknown"};
    }
    s->nfields = n;
}

static void fill_event(const hvd_clusterlog_reader *r, const struct slot *s, hvd_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = HVD_SOURCE_CLUSTERLOG;
    ev->source_path = r->path;
    ev->line = s->line;
    ev->byte_offset = s->byte_offset;
    ev->time = s->time;
    ev->host = r->host;
    ev->provider = "cluster.log";
    ev->provider_guid = "";
    ev->channel = s->tag;
    ev->level = s->level;
    ev->user_sid = "";
    ev->component = s->component;
    ev->level_word = s->level_word;
    ev->pid = s->pid;
    ev->tid = s->tid;
    ev->fields = s->fields;
    ev->nfields = s->nfields;
    ev->message = hvd_buf_str(&s->message);
}

static void skip_line(hvd_clusterlog_reader *r, const char *why)
{
    if (r->stats.skipped == 0) {
        r->stats.first_skipped = r->lines;
    }
    r->stats.skipped++;
    if (r->stats.skipped <= WARN_LINES) {
        hvd_log(r->log, HVD_LOG_WARNING, "%s:%" PRIu64 ": %s; skipped", r->path, r->lines, why);
    }
}

int hvd_clusterlog_reader_next(hvd_clusterlog_reader *r, hvd_event *ev, hvd_error *err)
{
    for (;;) {
        const unsigned char *raw = NULL;
        size_t len = 0;
        uint64_t offset = 0;
        const char *line;
        int rc = next_raw_line(r, &raw, &len, &offset, err);

        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            if (r->pending >= 0) {
                struct slot *s = &r->slots[r->pending];

                r->pending = -1;
                finish_slot(r, s);
                fill_event(r, s, ev);
                r->stats.events++;
                return 1;
            }
            if (r->stats.skipped > WARN_LINES && !r->summarized) {
                hvd_log(r->log, HVD_LOG_WARNING, "%s: %" PRIu64 " lines could not be read", r->path,
                        r->stats.skipped);
            }
            r->summarized = 1;
            return 0;
        }
        r->lines++;
        hvd_buf_reset(&r->text);
        rc = hvd_text_decode(r->dec, raw, len, &r->text, &r->stats.bad_bytes);
        if (rc < 0) {
            return hvd_error_set(err, rc, r->path, r->lines, "cannot decode the line");
        }
        while (r->text.len && (r->text.data[r->text.len - 1] == '\r')) {
            r->text.data[--r->text.len] = '\0';
        }
        line = hvd_buf_str(&r->text);
        if (!*line) {
            continue;
        }
        if (strncmp(line, "[===", 4) == 0) {
            const char *end = strstr(line, "===]");
            char name[96];

            if (end && end > line + 5) {
                copy_field(name, sizeof(name), line + 5, (size_t)(end - line - 6));
                r->in_config = is_config_section(name);
            }
            continue;
        }
        if (!r->in_config) {
            int fresh = r->pending >= 0 ? 1 - r->pending : 0;
            struct slot *s = &r->slots[fresh];

            if (parse_event_line(line, s) == 0) {
                s->used = 1;
                s->line = r->lines;
                s->byte_offset = offset;
                if (r->pending >= 0) {
                    struct slot *done = &r->slots[r->pending];

                    r->pending = fresh;
                    finish_slot(r, done);
                    fill_event(r, done, ev);
                    r->stats.events++;
                    return 1;
                }
                r->pending = fresh;
                continue;
            }
        }
        if (r->in_config || r->pending < 0) {
            /* Header facts may sit in sections or, in older files, above the first event. */
            read_header_line(r, line);
            if (!r->in_config && r->stats.events == 0 && r->pending < 0 &&
                !strstr(line, "Current node:") && !strstr(line, "offset of this machine") &&
                !strstr(line, "local time")) {
                skip_line(r, "not a cluster.log line");
            }
            continue;
        }
        /* A continuation of the pending event's message. */
        {
            struct slot *s = &r->slots[r->pending];

            if (hvd_buf_addc(&s->message, '\n') < 0 || hvd_buf_adds(&s->message, line) < 0) {
                /* Message past its cap: keep what fits and go on. */
                hvd_buf_init(&s->message, HVD_CLOG_MAX_MESSAGE);
                skip_line(r, "message too long");
            }
        }
    }
}

/* --- open, position, close ---------------------------------------------------------- */

static void host_from_name(hvd_clusterlog_reader *r, const char *path)
{
    const char *base = strrchr(path, '/');
    size_t n;
    static const char suffix[] = "_cluster.log";

    base = base ? base + 1 : path;
    n = strlen(base);
    if (n > sizeof(suffix) - 1 && strcasecmp(base + n - (sizeof(suffix) - 1), suffix) == 0) {
        copy_field(r->host, sizeof(r->host), base, n - (sizeof(suffix) - 1));
    }
}

/* Resume token: "clog:off=N;line=N;enc=E;tz=N;lt=N;cfg=N;host=H" (host last, unescaped). */
static int apply_resume(hvd_clusterlog_reader *r, const char *token, uint64_t *off)
{
    unsigned long long o;
    unsigned long long line;
    char enc[32];
    int tz;
    int lt;
    int cfg;
    int n = 0;

    if (sscanf(token, "clog:off=%llu;line=%llu;enc=%31[^;];tz=%d;lt=%d;cfg=%d;host=%n", &o, &line,
               enc, &tz, &lt, &cfg, &n) != 6 ||
        n == 0 || hvd_text_encoding_parse(enc, &r->enc) < 0) {
        return -1;
    }
    *off = o;
    r->lines = line;
    r->tz_minutes = tz;
    r->local_time = lt != 0;
    r->in_config = cfg != 0;
    copy_field(r->host, sizeof(r->host), token + n, strlen(token + n));
    return 0;
}

static int reader_start(hvd_clusterlog_reader *r, const hvd_source_options *opt, hvd_error *err)
{
    uint64_t start = 0;
    size_t bom = 0;
    ssize_t n;
    int rc;

    r->pending = -1;
    r->tail = opt && opt->tail;
    slot_init(&r->slots[0]);
    slot_init(&r->slots[1]);
    hvd_buf_init(&r->text, 4 * HVD_CLOG_MAX_LINE);
    r->raw = hvd_malloc(RAW_CAP);
    if (!r->raw) {
        return hvd_error_set(err, HVD_ENOMEM, r->path, 0, "cannot allocate a reader");
    }
    if (opt && opt->host_hint && *opt->host_hint) {
        copy_field(r->host, sizeof(r->host), opt->host_hint, strlen(opt->host_hint));
    } else {
        host_from_name(r, r->path);
    }
    if (opt && opt->resume && *opt->resume) {
        if (apply_resume(r, opt->resume, &start) < 0) {
            return hvd_error_set(err, HVD_EINVAL, r->path, 0, "bad resume position '%s'",
                                 opt->resume);
        }
        if (r->fd >= 0 && lseek(r->fd, (off_t)start, SEEK_SET) < 0) {
            return hvd_error_set_cause(err, HVD_EIO, errno, r->path, 0, "cannot seek: %s",
                                       strerror(errno));
        }
        if (r->fd < 0) {
            r->mem_pos = start < r->mem_len ? start : r->mem_len;
        }
        r->raw_off = start;
    } else {
        n = fill_raw(r, r->raw, RAW_CAP);
        if (n < 0) {
            return hvd_error_set_cause(err, HVD_EIO, errno, r->path, 0, "read error: %s",
                                       strerror(errno));
        }
        r->raw_len = (size_t)n;
        r->eof = n == 0;
        r->enc = hvd_text_detect(r->raw, r->raw_len, &bom);
        r->raw_pos = bom;
    }
    r->unit = hvd_text_unit(r->enc);
    rc = hvd_text_decoder_create(&r->dec, r->enc, err);
    if (rc < 0) {
        return rc;
    }
    r->stats.encoding = hvd_text_encoding_name(r->enc);
    r->stats.host = r->host;
    return HVD_OK;
}

static int reader_new(hvd_clusterlog_reader **out, const char *path, hvd_error *err)
{
    hvd_clusterlog_reader *r = hvd_calloc(1, sizeof(*r));

    *out = NULL;
    if (!r) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a reader");
    }
    r->fd = -1;
    r->path = hvd_strdup(path);
    if (!r->path) {
        hvd_free(r);
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a reader");
    }
    *out = r;
    return HVD_OK;
}

int hvd_clusterlog_reader_open(hvd_clusterlog_reader **out, const char *path,
                               const hvd_source_options *opt, const hvd_logger *log, hvd_error *err)
{
    hvd_clusterlog_reader *r = NULL;
    int rc;

    rc = reader_new(&r, path, err);
    if (rc < 0) {
        return rc;
    }
    r->log = log;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = hvd_error_set_cause(err, errno == ENOENT ? HVD_ENOENT : HVD_EIO, errno, path, 0,
                                 "cannot open: %s", strerror(errno));
        goto fail;
    }
    rc = reader_start(r, opt, err);
    if (rc < 0) {
        goto fail;
    }
    *out = r;
    return HVD_OK;
fail:
    hvd_clusterlog_reader_close(r);
    return rc;
}

int hvd_clusterlog_reader_open_mem(hvd_clusterlog_reader **out, const char *name, const void *data,
                                   size_t len, const hvd_source_options *opt, const hvd_logger *log,
                                   hvd_error *err)
{
    hvd_clusterlog_reader *r = NULL;
    int rc;

    rc = reader_new(&r, name, err);
    if (rc < 0) {
        return rc;
    }
    r->log = log;
    r->mem = data;
    r->mem_len = len;
    rc = reader_start(r, opt, err);
    if (rc < 0) {
        hvd_clusterlog_reader_close(r);
        return rc;
    }
    *out = r;
    return HVD_OK;
}

const char *hvd_clusterlog_reader_position(hvd_clusterlog_reader *r)
{
    uint64_t off = r->raw_off + r->raw_pos;
    uint64_t line = r->lines;

    if (r->pending >= 0) {
        /* The held-back event is not handed out yet: resume at its first line. */
        off = r->slots[r->pending].byte_offset;
        line = r->slots[r->pending].line - 1;
    }
    snprintf(r->position, sizeof(r->position),
             "clog:off=%" PRIu64 ";line=%" PRIu64 ";enc=%s;tz=%d;lt=%d;cfg=%d;host=%s", off, line,
             hvd_text_encoding_name(r->enc), r->tz_minutes, r->local_time, r->in_config, r->host);
    return r->position;
}

const hvd_source_stats *hvd_clusterlog_reader_stats(const hvd_clusterlog_reader *r)
{
    return &r->stats;
}

void hvd_clusterlog_reader_close(hvd_clusterlog_reader *r)
{
    if (!r) {
        return;
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    hvd_text_decoder_destroy(r->dec);
    hvd_buf_free(&r->text);
    hvd_buf_free(&r->slots[0].message);
    hvd_buf_free(&r->slots[1].message);
    hvd_free(r->raw);
    hvd_free(r->path);
    hvd_free(r);
}
