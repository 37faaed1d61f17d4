/*
 * clusterlog_reader: cluster.log text (cluster log /g on WS2008 R2, Get-ClusterLog on 2012
 * to 2022) -> hvd_event, one per log line. Part of the read stage; text.c decodes the file
 * into UTF-8 lines, this module parses them.
 *
 * Line shapes (b.2 of the format notes):
 *   [Tag] PPPPPPPP.TTTTTTTT::YYYY/MM/DD-HH:MM:SS.mmm LEVEL  [COMP] message
 * The tag ([Verbose], [Operational], [System], 2016+) and the component are optional; the
 * spaces between fields may be collapsed. Excerpts are read too: a leading editor line
 * number before a whole line (then also stripped from the continuation lines of the file),
 * and "HH:MM:SS.mmm LEVEL [COMP] message" with the date cut off: such a line takes the date
 * of the last dated line before it (a day is added when the clock goes back by more than
 * 12 hours); with no dated line before it, it keeps its time of day with the date unknown
 * (a time within the first day, written "????-??-??T21:16:17Z": see hvtime.h).
 *
 * 2016+ files open with "[=== Name ===]" sections. The Cluster section gives the time-zone
 * offset, whether the times are local, and the node; the other configuration sections are
 * skipped; event-channel sections ("System", ".../Operational logs", "Cluster Logs") yield
 * events. Files without sections are all events.
 *
 * A line without the prefix continues the previous event's message (joined with "\n"), so
 * an event is returned when the next event line, a section marker or the end arrives: one
 * line of look-ahead, kept in one of two slots (the other holds the event last returned).
 * A line that is neither is counted as skipped. Memory is bounded: lines by the text reader,
 * a message by MSG_MAX.
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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MSG_MAX       (256 * 1024)
#define WORD_MAX      64  /* tag, component */
#define HOST_MAX      255 /* DNS name */
#define TOKEN_MAX     1200
#define TICKS_PER_DAY (INT64_C(86400) * HVD_TICKS_PER_SECOND)
#define TOD_ROLLBACK  (INT64_C(12) * 3600 * HVD_TICKS_PER_SECOND)
/* Bounds of what a position token holds; the reader never goes past them, so every token it
 * writes is read back. Dates start at 1970 (day 0; -1 is "no date yet") and the day count
 * stops growing at DAY_MAX (year 29349), where day * TICKS_PER_DAY still fits in int64. */
#define TZ_MAX_MINUTES (24 * 60)
#define DAY_MAX        INT64_C(10000000)

enum section {
    SEC_NONE = 0, /* no marker seen: a file without sections, every line may be an event */
    SEC_CLUSTER,  /* [=== Cluster ===]: header facts */
    SEC_HEADER,   /* other configuration sections: not events */
    SEC_EVENTS,   /* event-channel sections and Cluster Logs */
};
static const char *const section_names[] = {"none", "cluster", "hdr", "ev"};

enum parse_result { PARSE_NONE = 0, PARSE_EVENT, PARSE_MALFORMED };

typedef struct slot {
    uint64_t line;
    uint64_t byte_offset;
    hvd_time time;
    uint32_t pid, tid;
    uint8_t level;
    char pid_text[17], tid_text[17];
    char tag[WORD_MAX + 1];
    char comp[WORD_MAX + 1];
    char comp_arg[WORD_MAX + 1];
    char level_word[16];
    hvd_buf msg;
    int msg_cut;
    hvd_field fields[6];
} slot;

struct hvd_clusterlog_reader {
    char *path;
    int fd; /* -1 for a memory reader */
    hvd_text_reader *text;
    const hvd_logger *log;
    int tail;
    hvd_source_stats stats;

    char host[HOST_MAX + 1];
    int tz_minutes; /* UTC = local + tz_minutes */
    int have_tz;
    int local_time; /* the header says the times are local */
    int section;
    int numbered;     /* lines carry editor line numbers */
    int64_t day;      /* days since 1970 of the last dated line, -1 when none */
    int64_t last_tod; /* time of day (ticks) of the last line, for date-less lines */
    uint64_t lineno;  /* lines read so far */

    slot slots[2];
    int pending; /* index of the slot holding a parsed event not yet returned, or -1 */
    /* Prefilter: an event whose lines hold no literal is skipped: its first line is parsed for
     * the reader's state only, its continuation lines are passed over. Should one of them
     * hold a literal, the reader goes back to the event's first line and reads it whole. */
    int skipping;       /* the current event is a skipped one */
    uint64_t skip_line; /* its first line's number and offset */
    uint64_t skip_offset;
    uint64_t skip_bad; /* the text reader's counts before that line */
    uint64_t skip_cut;
    uint64_t pre_bad; /* the text reader's counts before the line being handled */
    uint64_t pre_cut;
    uint64_t force_end; /* lines starting before this offset are read whole */
    /* The tagged part of the prefilter (hvd_line_prefilter): the lines of an event tagged
     * with one of tags are also hits when they hold one of its literals. */
    hvd_prefilter_scanner *tag_scan; /* NULL: none */
    const char *const *tags;
    size_t ntags;
    int skip_tagged;            /* the skipped event is tagged with one of tags */
    int date_y, date_m, date_d; /* the last date converted, and its day number */
    int64_t date_days;
    char dt_text[19]; /* the last "YYYY/MM/DD-HH:MM:SS" read (valid when dt_ok), its day */
    int dt_ok;        /* and its time of day in whole seconds */
    int64_t dt_days;
    int64_t dt_secs;
    uint64_t skips_reported;
    uint64_t cuts_reported;
    int warned_no_tz;
    char token[TOKEN_MAX];
};

/* ---- small parsing helpers ---- */

static int is_hex(char c)
{
    unsigned char u = (unsigned char)c;

    return (unsigned)(u - '0') < 10u || (unsigned)((u | 0x20) - 'a') < 6u;
}

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* Reads exactly n decimal digits. */
static int read_digits(const char **pp, int n, int *out)
{
    const char *p = *pp;
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    *pp = p + n;
    return 0;
}

/* "HH:MM:SS.f" with 1-7 fraction digits -> ticks since midnight. */
static int parse_tod(const char **pp, int64_t *out)
{
    const char *p = *pp;
    int h, m, s;
    int64_t frac = 0;
    int digits = 0;

    if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &m) || *p++ != ':' ||
        read_digits(&p, 2, &s) || *p++ != '.') {
        return -1;
    }
    while (*p >= '0' && *p <= '9' && digits < 7) {
        frac = frac * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || (*p >= '0' && *p <= '9') || h > 23 || m > 59 || s > 60) {
        return -1;
    }
    for (; digits < 7; digits++) {
        frac *= 10;
    }
    *out = ((int64_t)h * 3600 + m * 60 + s) * HVD_TICKS_PER_SECOND + frac;
    *pp = p;
    return 0;
}

/* "YYYY/MM/DD-HH:MM:SS.mmm" -> *days since 1970 and *tod ticks. The last date converted
 * is kept in r: lines of one day need no conversion. */
static int parse_datetime(hvd_clusterlog_reader *r, const char **pp, int64_t *days, int64_t *tod)
{
    const char *p = *pp;
    int y, mo, d;

    /* Lines of one second share all but the fraction: read only that. */
    if (r->dt_ok && strncmp(p, r->dt_text, sizeof(r->dt_text)) == 0 &&
        p[sizeof(r->dt_text)] == '.') {
        const char *q = p + sizeof(r->dt_text) + 1;
        int64_t frac = 0;
        int digits = 0;

        while (*q >= '0' && *q <= '9' && digits < 7) {
            frac = frac * 10 + (*q++ - '0');
            digits++;
        }
        if (digits == 0 || (*q >= '0' && *q <= '9')) {
            return -1;
        }
        for (; digits < 7; digits++) {
            frac *= 10;
        }
        *days = r->dt_days;
        *tod = r->dt_secs + frac;
        *pp = q;
        return 0;
    }

    if (read_digits(&p, 4, &y) || *p++ != '/' || read_digits(&p, 2, &mo) || *p++ != '/' ||
        read_digits(&p, 2, &d) || *p++ != '-') {
        return -1;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || parse_tod(&p, tod)) {
        return -1;
    }
    if (y != r->date_y || mo != r->date_m || d != r->date_d) {
        r->date_days = hvd_time_from_utc(y, mo, d, 0, 0, 0, 0) / TICKS_PER_DAY;
        r->date_y = y;
        r->date_m = mo;
        r->date_d = d;
    }
    *days = r->date_days;
    memcpy(r->dt_text, *pp, sizeof(r->dt_text));
    r->dt_ok = 1;
    r->dt_days = *days;
    r->dt_secs = *tod - *tod % HVD_TICKS_PER_SECOND;
    *pp = p;
    return 0;
}

/* Copies a bracketed word "[...]" at p, within len bytes or up to a NUL (SIZE_MAX: a
 * NUL-terminated line), into out (cap WORD_MAX+1); returns the pointer past ']' or NULL
 * when p holds no such word. */
static const char *bracket_word(const char *p, size_t len, char *out)
{
    size_t n = 0;

    if (len == 0 || *p != '[') {
        return NULL;
    }
    p++;
    while (n + 1 < len && p[n] && p[n] != ']' && p[n] != '[' && n < WORD_MAX) {
        n++;
    }
    if (n + 1 >= len || p[n] != ']' || n == 0) {
        return NULL;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return p + n + 1;
}

/* The level of a known level word, or -1. */
static int known_level(const char *w)
{
    static const struct {
        const char *word;
        int level;
    } map[] = {
        {"ERR", HVD_LEVEL_ERROR},      {"ERROR", HVD_LEVEL_ERROR},     {"WARN", HVD_LEVEL_WARNING},
        {"INFO", HVD_LEVEL_INFO},      {"WARNING", HVD_LEVEL_WARNING}, {"DBG", HVD_LEVEL_VERBOSE},
        {"DEBUG", HVD_LEVEL_VERBOSE},  {"VERB", HVD_LEVEL_VERBOSE},    {"CRIT", HVD_LEVEL_CRITICAL},
        {"FATAL", HVD_LEVEL_CRITICAL},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(w, map[i].word) == 0) {
            return map[i].level;
        }
    }
    return -1;
}

/* An upper-case word of 1-8 letters ending at a space or the end of the line, copied to
 * out (16 bytes); returns the pointer past it or NULL. */
static const char *read_level_word(const char *p, char *out)
{
    size_t n = 0;

    while (p[n] >= 'A' && p[n] <= 'Z' && n < 8) {
        n++;
    }
    if (n == 0 || (p[n] != ' ' && p[n] != '\t' && p[n] != '\0')) {
        return NULL;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return p + n;
}

/* ---- the reader ---- */

static int msg_append(hvd_clusterlog_reader *r, slot *s, const char *p, size_t n, hvd_error *err)
{
    if (n > MSG_MAX - s->msg.len) {
        n = MSG_MAX - s->msg.len;
        if (!s->msg_cut) {
            hvd_log(r->log, HVD_LOG_DEBUG, "%s:%" PRIu64 ": message cut at %d bytes", r->path,
                    s->line, MSG_MAX);
        }
        s->msg_cut = 1;
    }
    if (n == 0) {
        return HVD_OK;
    }
    if (hvd_buf_add(&s->msg, p, n) < 0) {
        return hvd_error_set(err, HVD_ENOMEM, r->path, r->lineno, "out of memory for a message");
    }
    return HVD_OK;
}

/* Time of an event line in UTC. */
static hvd_time line_time(hvd_clusterlog_reader *r, int64_t days, int64_t tod)
{
    hvd_time t = days * TICKS_PER_DAY + tod;

    if (r->local_time) {
        if (r->have_tz) {
            t += (hvd_time)r->tz_minutes * 60 * HVD_TICKS_PER_SECOND;
        } else if (!r->warned_no_tz) {
            hvd_log(r->log, HVD_LOG_WARNING,
                    "%s: times are local but the file gives no time-zone offset; read as UTC",
                    r->path);
            r->warned_no_tz = 1;
        }
    }
    return t;
}

/* The value of n hex digits (n <= 16, checked by the caller), truncated to 32 bits as
 * strtoull() then a cast would give. */
static uint32_t hex_value(const char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        v = v << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return (uint32_t)v;
}

/*
 * Parses an event line into s. PARSE_EVENT on success; PARSE_MALFORMED for a line that
 * starts like an event line (pid.tid::) but is broken after that; PARSE_NONE for anything
 * else. *rc gets a negative HVD_E* code when memory runs out. light: only what the reader's
 * state needs (same result and state, but no component and no message in s).
 */
static int parse_event(hvd_clusterlog_reader *r, const char *p, slot *s, int light, int *rc,
                       hvd_error *err)
{
    const char *q;
    size_t npid = 0, ntid = 0;
    int64_t days = -1, tod = 0;
    int level = -1;

    *rc = HVD_OK;
    s->tag[0] = s->comp[0] = s->comp_arg[0] = s->level_word[0] = '\0';
    s->pid_text[0] = s->tid_text[0] = '\0';
    s->pid = s->tid = 0;
    s->msg_cut = 0;
    hvd_buf_reset(&s->msg);

    q = bracket_word(p, SIZE_MAX, s->tag);
    if (q && (*q == ' ' || *q == '\t')) {
        p = skip_spaces(q);
    } else {
        s->tag[0] = '\0';
    }
    while (is_hex(p[npid]) && npid < 16) {
        npid++;
    }
    if (npid > 0 && p[npid] == '.') {
        q = p + npid + 1;
        while (is_hex(q[ntid]) && ntid < 16) {
            ntid++;
        }
    }
    if (ntid > 0 && p[npid + 1 + ntid] == ':' && p[npid + 2 + ntid] == ':' && light) {
        /* Only the time matters: the rest cannot make the line anything but an event. */
        q = p + npid + ntid + 3;
        if (parse_datetime(r, &q, &days, &tod) || (*q != ' ' && *q != '\t' && *q != '\0')) {
            return PARSE_MALFORMED;
        }
        r->day = days;
        r->last_tod = tod;
        if (r->local_time && !r->have_tz) {
            (void)line_time(r, days, tod); /* its warning, once */
        }
        return PARSE_EVENT;
    }
    if (ntid > 0 && p[npid + 1 + ntid] == ':' && p[npid + 2 + ntid] == ':') {
        /* The line claims the prefix: from here on a failure is a malformed line. */
        memcpy(s->pid_text, p, npid);
        s->pid_text[npid] = '\0';
        memcpy(s->tid_text, p + npid + 1, ntid);
        s->tid_text[ntid] = '\0';
        s->pid = hex_value(s->pid_text, npid);
        s->tid = hex_value(s->tid_text, ntid);
        q = p + npid + ntid + 3;
        if (parse_datetime(r, &q, &days, &tod) || (*q != ' ' && *q != '\t' && *q != '\0')) {
            return PARSE_MALFORMED;
        }
        p = skip_spaces(q);
        q = read_level_word(p, s->level_word);
        if (q) {
            level = known_level(s->level_word);
            p = skip_spaces(q);
        }
    } else {
        /* The excerpt form "HH:MM:SS.mmm LEVEL ...": only with a known level word, so
         * wrapped text that happens to start with a time stays a continuation. */
        q = p;
        if (s->tag[0] || parse_tod(&q, &tod) || (*q != ' ' && *q != '\t')) {
            return PARSE_NONE;
        }
        q = read_level_word(skip_spaces(q), s->level_word);
        if (!q || (level = known_level(s->level_word)) < 0) {
            s->level_word[0] = '\0';
            return PARSE_NONE;
        }
        p = skip_spaces(q);
    }
    s->level = (uint8_t)(level >= 0 ? level : HVD_LEVEL_INFO); /* unknown words kept as text */

    q = light ? NULL : bracket_word(p, SIZE_MAX, s->comp);
    if (q) {
        char *sp = strchr(s->comp, ' ');
        if (sp) {
            /* "[CHANNEL 10.0.0.1:~3343~]": component CHANNEL, the rest kept beside it. */
            memmove(s->comp_arg, sp + 1, strlen(sp + 1) + 1);
            *sp = '\0';
        }
        p = skip_spaces(q);
    } else {
        s->comp[0] = '\0';
    }

    if (days >= 0) {
        r->day = days;
    } else if (r->day >= 0) {
        if (tod + TOD_ROLLBACK < r->last_tod && r->day < DAY_MAX) {
            r->day++;
        }
        days = r->day;
    }
    r->last_tod = tod;
    /* No date yet: the time of day alone (hvtime.h), neither shifted nor dated 1970. */
    s->time = days >= 0 ? line_time(r, days, tod) : tod;
    *rc = light ? HVD_OK : msg_append(r, s, p, strlen(p), err);
    return *rc < 0 ? PARSE_NONE : PARSE_EVENT;
}

/* Skips an editor line number ("   172 " or "261782 ") at p; returns p when there is none. */
static const char *skip_line_number(const char *p)
{
    const char *q = skip_spaces(p);
    size_t n = 0;

    while (q[n] >= '0' && q[n] <= '9' && n < 12) {
        n++;
    }
    if (n == 0 || (q[n] != ' ' && q[n] != '\t' && q[n] != '\0')) {
        return p;
    }
    return q[n] ? q + n + 1 : q + n;
}

/* "[=== Name ===]": copies the name (trimmed) and returns 1. */
static int section_marker(const char *p, char *name, size_t cap)
{
    size_t len = strlen(p);
    const char *a, *b;

    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
        len--;
    }
    if (len < 8 || strncmp(p, "[===", 4) != 0 || strncmp(p + len - 4, "===]", 4) != 0) {
        return 0;
    }
    a = p + 4;
    b = p + len - 4;
    while (a < b && *a == ' ') {
        a++;
    }
    while (b > a && b[-1] == ' ') {
        b--;
    }
    if ((size_t)(b - a) >= cap) {
        b = a + cap - 1;
    }
    memcpy(name, a, (size_t)(b - a));
    name[b - a] = '\0';
    return 1;
}

static int section_kind(const char *name)
{
    static const char *const header[] = {
        "Resources", "Groups",       "Group Sets",         "Resource Types", "Affinity Rules",
        "Nodes",     "Networks",     "Network Interfaces", "Volumes",        "Volume Logs",
        "SBL Disks", "Certificates", "Performance",        "Storage Spaces", "Health",
    };
    if (strcasecmp(name, "Cluster") == 0) {
        return SEC_CLUSTER;
    }
    for (size_t i = 0; i < sizeof(header) / sizeof(header[0]); i++) {
        if (strcasecmp(name, header[i]) == 0) {
            return SEC_HEADER;
        }
    }
    /* "System", "Cluster Logs", "Microsoft-Windows-.../Operational logs", and sections
     * this list does not know: events when their lines carry the prefix. */
    return SEC_EVENTS;
}

static const char *find_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return hay;
        }
    }
    return NULL;
}

/* Header facts: the time-zone line, "generated using local time", "Current node:".
 * Returns 1 when the line was one of them. */
static int header_fact(hvd_clusterlog_reader *r, const char *p)
{
    const char *q;

    q = find_nocase(p, "time zone offset of this machine is");
    if (q) {
        char *end;
        long v;
        q = skip_spaces(q + strlen("time zone offset of this machine is"));
        errno = 0;
        v = strtol(q, &end, 10);
        /* Minutes, or hours when the unit says so; the range is checked on the minutes,
         * which is what the position token stores. */
        if (end != q && errno == 0 && strncasecmp(skip_spaces(end), "hour", 4) == 0) {
            v = v >= -TZ_MAX_MINUTES / 60 && v <= TZ_MAX_MINUTES / 60 ? v * 60 : LONG_MAX;
        }
        if (end != q && errno == 0 && v >= -TZ_MAX_MINUTES && v <= TZ_MAX_MINUTES) {
            r->tz_minutes = (int)v;
            r->have_tz = 1;
        } else {
            hvd_log(r->log, HVD_LOG_WARNING, "%s:%" PRIu64 ": unreadable time-zone offset", r->path,
                    r->lineno);
        }
        return 1;
    }
    if (find_nocase(p, "generated using local time")) {
        r->local_time = 1;
        return 1;
    }
    if (strncmp(p, "Current node:", 13) == 0) {
        q = strstr(p, "name (");
        if (q) {
            const char *e;
            q += 6;
            e = strchr(q, ')');
            if (e && e > q && (size_t)(e - q) <= HOST_MAX) {
                memcpy(r->host, q, (size_t)(e - q));
                r->host[e - q] = '\0';
            }
        }
        return 1;
    }
    return 0;
}

static void count_skip(hvd_clusterlog_reader *r, const char *why)
{
    r->stats.skipped++;
    if (r->stats.skipped == 1 || r->stats.first_skipped == 0) {
        r->stats.first_skipped = r->lineno;
    }
    hvd_log(r->log, HVD_LOG_DEBUG, "%s:%" PRIu64 ": %s, skipped", r->path, r->lineno, why);
}

static void report_skips(hvd_clusterlog_reader *r)
{
    uint64_t cuts = hvd_text_reader_cut_lines(r->text);

    if (r->stats.skipped > r->skips_reported) {
        hvd_log(r->log, HVD_LOG_WARNING,
                "%s: %" PRIu64 " lines are not cluster.log lines and were skipped (first at line "
                "%" PRIu64 ")",
                r->path, r->stats.skipped, r->stats.first_skipped);
        r->skips_reported = r->stats.skipped;
    }
    if (cuts > r->cuts_reported) {
        hvd_log(r->log, HVD_LOG_WARNING, "%s: %" PRIu64 " lines longer than %d bytes were cut",
                r->path, cuts, HVD_TEXT_LINE_MAX);
        r->cuts_reported = cuts;
    }
    if (r->stats.bad_bytes) {
        hvd_log(r->log, HVD_LOG_DEBUG, "%s: %" PRIu64 " invalid byte sequences replaced", r->path,
                r->stats.bad_bytes);
    }
}

/* Fills *ev from slot s; strings stay in s until the next call. */
static void emit(hvd_clusterlog_reader *r, slot *s, hvd_event *ev)
{
    size_t n = 0;

    /* Trailing blank continuation lines carry nothing. */
    while (s->msg.len > 0 &&
           (s->msg.data[s->msg.len - 1] == '\n' || s->msg.data[s->msg.len - 1] == ' ' ||
            s->msg.data[s->msg.len - 1] == '\t')) {
        s->msg.data[--s->msg.len] = '\0';
    }
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
    ev->component = s->comp;
    ev->level_word = s->level_word;
    ev->pid = s->pid;
    ev->tid = s->tid;
    ev->message = hvd_buf_str(&s->msg);
    s->fields[n++] = (hvd_field){"pid", s->pid_text};
    s->fields[n++] = (hvd_field){"tid", s->tid_text};
    s->fields[n++] = (hvd_field){"tag", s->tag};
    s->fields[n++] = (hvd_field){"component", s->comp};
    s->fields[n++] = (hvd_field){"level", s->level_word};
    if (s->comp_arg[0]) {
        s->fields[n++] = (hvd_field){"component_arg", s->comp_arg};
    }
    ev->fields = s->fields;
    ev->nfields = n;
    r->stats.events++;
    r->stats.host = r->host;
}

/* Returns the pending event (1), or 0 when there is none. */
static int flush(hvd_clusterlog_reader *r, hvd_event *ev)
{
    int i = r->pending;

    if (i < 0) {
        return 0;
    }
    r->pending = -1;
    emit(r, &r->slots[i], ev);
    return 1;
}

#define REREAD 2 /* handle_line(): go back to the skipped event's first line */

/* Whether tag is one of the tagged prefilter's (case ignored). Cost: O(tags). */
static int tagged_tag(const hvd_clusterlog_reader *r, const char *tag)
{
    for (size_t i = 0; i < r->ntags; i++) {
        if (strcasecmp(r->tags[i], tag) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether len bytes at p hold a literal of the tagged prefilter; a failed scan says yes (the
 * line is read whole, as without a prefilter). */
static int tagged_holds(hvd_clusterlog_reader *r, const char *p, size_t len)
{
    return hvd_prefilter_holds(r->tag_scan, p, len) != 0;
}

/* Whether the line at p (after any editor line number) opens with one of the tags and holds
 * a tagged literal: a hit though the scan of every line found none. Cost: O(1) for a line
 * that does not start with '[' or a digit, else O(len). */
static int tagged_hit(hvd_clusterlog_reader *r, const char *p, size_t len)
{
    char tag[WORD_MAX + 1];
    const char *q;

    if (!r->tag_scan) {
        return 0;
    }
    q = *p == '[' ? p : skip_line_number(p);
    if (*q != '[' || !bracket_word(q, SIZE_MAX, tag) || !tagged_tag(r, tag)) {
        return 0;
    }
    return tagged_holds(r, p, len);
}

/* light_common_line() once past any tag. */
static int light_prefix_line(hvd_clusterlog_reader *r, const char *p, size_t len)
{
    const size_t dt = 19; /* where the date starts */
    const char *q;
    int64_t frac = 0;
    int digits = 0;
    uint64_t a0, b0, a1, b1;
    uint32_t a2, b2;
    unsigned ok = 1;
    static const unsigned char hex[256] = {
        ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
        ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
        ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    };

    _Static_assert(sizeof(r->dt_text) == 19, "the date is compared as 8 + 8 + 4 bytes");
    if (len < dt + sizeof(r->dt_text) + 2 || !r->dt_ok || p[8] != '.' || p[17] != ':' ||
        p[18] != ':' || p[dt + sizeof(r->dt_text)] != '.') {
        return 0;
    }
    /* The date and time to the second, as the last one read: three loads a side (the last
     * overlaps), no call. */
    memcpy(&a0, p + dt, 8);
    memcpy(&b0, r->dt_text, 8);
    memcpy(&a1, p + dt + 8, 8);
    memcpy(&b1, r->dt_text + 8, 8);
    memcpy(&a2, p + dt + 15, 4);
    memcpy(&b2, r->dt_text + 15, 4);
    if ((a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2)) {
        return 0;
    }
    /* pid and tid: hex digits, looked up without a branch each. */
    for (int i = 0; i < 17; i++) {
        ok &= i == 8 ? 1u : hex[(unsigned char)p[i]];
    }
    if (!ok) {
        return 0;
    }
    q = p + dt + sizeof(r->dt_text) + 1;
    while (*q >= '0' && *q <= '9' && digits < 7) {
        frac = frac * 10 + (*q++ - '0');
        digits++;
    }
    if (digits == 0 || (*q >= '0' && *q <= '9') || (*q != ' ' && *q != '\t' && *q != '\0')) {
        return 0;
    }
    for (; digits < 7; digits++) {
        frac *= 10;
    }
    r->day = r->dt_days;
    r->last_tod = r->dt_secs + frac;
    if (r->local_time && !r->have_tz) {
        (void)line_time(r, r->day, r->last_tod); /* its warning, once */
    }
    return 1;
}

/*
 * The common line of a skipped event, "pppppppp.tttttttt::" then a date and time within the
 * second of the last one read, perhaps after a tag that is not one of the tagged
 * prefilter's ("[Verbose] "): what parse_event() in light mode does with it (it is an
 * event; the time moves on), without its general paths. Returns 1 when it did, 0 when the
 * line needs parse_event(). Cost: O(1), no call; a tag adds a compare per prefilter tag.
 */
static int light_common_line(hvd_clusterlog_reader *r, const char *p, size_t len)
{
    if (p[0] == '[') {
        /* The tag as parse_event() takes it, within the line: the line may not end in a
         * NUL here. */
        char tag[WORD_MAX + 1];
        const char *q = bracket_word(p, len, tag);
        size_t at = q ? (size_t)(q - p) : len;

        if (at >= len || (p[at] != ' ' && p[at] != '\t') || tagged_tag(r, tag)) {
            return 0;
        }
        while (at < len && (p[at] == ' ' || p[at] == '\t')) {
            at++;
        }
        p += at;
        len -= at;
    }
    return light_prefix_line(r, p, len);
}

/* One decoded line. Returns 1 when *ev was filled, 0 to read on, REREAD, or a negative
 * code. A line without a prefilter hit takes the same path as one with, but an event it
 * starts is skipped instead of kept. */
static int handle_line(hvd_clusterlog_reader *r, const hvd_text_line *l, hvd_event *ev,
                       hvd_error *err)
{
    char name[128];
    const char *p = l->text;
    const char *body;
    slot *s;
    int hit = l->hit || l->offset < r->force_end;
    int res;
    int rc;

    if (p[0] == '[' && p[1] == '=' && section_marker(p, name, sizeof(name))) {
        r->section = section_kind(name);
        r->skipping = 0;
        return flush(r, ev);
    }
    if (r->section == SEC_CLUSTER) {
        header_fact(r, p);
        return 0;
    }
    if (r->section == SEC_HEADER) {
        return 0;
    }
    hit = hit || tagged_hit(r, p, l->len);
    s = &r->slots[r->pending == 0 ? 1 : 0];
    s->line = r->lineno;
    s->byte_offset = l->offset;
    if (!hit && light_common_line(r, p, l->len)) {
        res = PARSE_EVENT;
        rc = HVD_OK;
        s->tag[0] = '\0'; /* none of the tagged prefilter's, whatever it was */
    } else {
        res = parse_event(r, p, s, !hit, &rc, err);
    }
    if (res == PARSE_NONE && rc == HVD_OK) {
        /* An editor line number before a whole line marks an excerpt. */
        body = skip_line_number(p);
        if (body != p) {
            res = parse_event(r, body, s, !hit, &rc, err);
            if (res == PARSE_EVENT && !r->numbered) {
                r->numbered = 1;
            }
        }
    }
    if (rc < 0) {
        return rc;
    }
    if (res == PARSE_EVENT && !hit) {
        r->skipping = 1;
        r->skip_tagged = r->tag_scan && s->tag[0] && tagged_tag(r, s->tag);
        r->skip_line = r->lineno;
        r->skip_offset = l->offset;
        r->skip_bad = r->pre_bad;
        r->skip_cut = r->pre_cut;
        r->stats.events++;
        r->stats.filtered++;
        return flush(r, ev);
    }
    if (res != PARSE_NONE) {
        r->skipping = 0;
    }
    if (res == PARSE_EVENT) {
        int had = r->pending >= 0;
        int old = r->pending;
        r->pending = (int)(s - r->slots);
        if (had) {
            emit(r, &r->slots[old], ev);
            return 1;
        }
        return 0;
    }
    if (res == PARSE_MALFORMED) {
        count_skip(r, "broken cluster.log line");
        return flush(r, ev);
    }
    if (r->skipping) {
        /* A continuation line of a skipped event: read the event whole if it holds a hit. */
        hit = hit || (r->skip_tagged && tagged_holds(r, p, l->len));
        return hit ? REREAD : 0;
    }
    if (r->pending >= 0) {
        slot *pe = &r->slots[r->pending];
        body = r->numbered ? skip_line_number(p) : p;
        rc = msg_append(r, pe, "\n", 1, err);
        if (rc == HVD_OK) {
            rc = msg_append(r, pe, body, strlen(body), err);
        }
        return rc < 0 ? rc : 0;
    }
    if (*skip_spaces(p) == '\0') {
        return 0; /* a blank line outside any event carries nothing */
    }
    if (r->section == SEC_NONE && header_fact(r, p)) {
        return 0;
    }
    count_skip(r, "not a cluster.log line");
    return 0;
}

/*
 * Passes over the common event lines (light_common_line()) at the reader's position that
 * hold no prefilter hit, as handle_line() would one by one: each starts an event that is
 * skipped. Stops before any other line (a hit, another shape, a long line, one not decoded
 * yet), which handle_line() then reads. Only with no event pending (a common line would
 * return it) and past the lines to be read whole. Most lines of a cluster.log take this
 * way. Cost: O(bytes): one memchr and O(1) checks a line, no call into the text reader.
 */
static void pass_quiet_lines(hvd_clusterlog_reader *r)
{
    const char *base;
    const char *q;
    const char *last = NULL;
    size_t avail;
    size_t quiet;
    uint64_t n = 0;

    if (r->pending >= 0 || (r->section != SEC_EVENTS && r->section != SEC_NONE) ||
        hvd_text_reader_offset(r->text) < r->force_end) {
        return;
    }
    quiet = hvd_text_reader_quiet(r->text, &base, &avail);
    for (q = base; (size_t)(q - base) < quiet;) {
        const char *nl = memchr(q, '\n', avail - (size_t)(q - base));
        size_t len;

        if (!nl || (size_t)(nl - base) >= quiet) {
            break;
        }
        len = (size_t)(nl - q);
        if (len > 0 && q[len - 1] == '\r') {
            len--;
        }
        if (len > HVD_TEXT_LINE_MAX || !light_common_line(r, q, len)) {
            break;
        }
        last = q;
        n++;
        q = nl + 1;
    }
    if (n == 0) {
        return;
    }
    r->lineno += n;
    r->stats.events += n;
    r->stats.filtered += n;
    r->skipping = 1;
    r->skip_tagged = 0; /* a common line has no tag */
    r->skip_line = r->lineno;
    r->skip_offset = hvd_text_reader_quiet_offset(r->text, (size_t)(last - base));
    r->skip_bad = hvd_text_reader_bad_units(r->text);
    r->skip_cut = hvd_text_reader_cut_lines(r->text);
    hvd_text_reader_pass(r->text, (size_t)(q - base));
}

int hvd_clusterlog_reader_next(hvd_clusterlog_reader *r, hvd_event *ev, hvd_error *err)
{
    hvd_text_line l;
    int rc;

    for (;;) {
        pass_quiet_lines(r);
        r->pre_bad = hvd_text_reader_bad_units(r->text);
        r->pre_cut = hvd_text_reader_cut_lines(r->text);
        rc = hvd_text_reader_next(r->text, &l, err);
        r->stats.bad_bytes = hvd_text_reader_bad_units(r->text);
        if (rc < 0) {
            return rc;
        }
        if (rc > 0 && !l.terminated && r->tail) {
            /* A writer is mid-line: leave the line for a later read. */
            rc = hvd_text_reader_seek(r->text, l.offset, err);
            if (rc < 0) {
                return rc;
            }
            rc = 0;
        }
        if (rc == 0) {
            r->skipping = 0;
            if (flush(r, ev)) {
                return 1;
            }
            report_skips(r);
            return 0;
        }
        r->lineno++;
        rc = handle_line(r, &l, ev, err);
        if (rc == REREAD) {
            /* Lines before this one read again are what one read without skipping saw:
             * continuation lines, which changed no state. */
            rc = hvd_text_reader_seek(r->text, r->skip_offset, err);
            if (rc < 0) {
                return rc;
            }
            hvd_text_reader_set_counts(r->text, r->skip_bad, r->skip_cut);
            r->stats.events--; /* counted again when it is returned */
            r->stats.filtered--;
            r->lineno = r->skip_line - 1;
            r->force_end = l.offset + 1;
            r->skipping = 0;
            continue;
        }
        if (rc != 0) {
            return rc;
        }
    }
}

/* ---- position tokens ---- */

static void escape_host(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;

    for (; *in && k + 4 < cap; in++) {
        unsigned char c = (unsigned char)*in;
        if (isalnum(c) || c == '-' || c == '_' || c == '.') {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
}

static int unescape_host(const char *in, size_t n, char *out, size_t cap)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            char h[3];
            if (i + 2 >= n || !is_hex(in[i + 1]) || !is_hex(in[i + 2])) {
                return -1;
            }
            h[0] = in[i + 1];
            h[1] = in[i + 2];
            h[2] = '\0';
            c = (char)strtol(h, NULL, 16);
            i += 2;
        }
        if (k + 1 >= cap || c == '\0') {
            return -1;
        }
        out[k++] = c;
    }
    out[k] = '\0';
    return 0;
}

const char *hvd_clusterlog_reader_position(hvd_clusterlog_reader *r)
{
    char host[3 * HOST_MAX + 1];
    uint64_t off, line;
    int n;

    if (r->pending >= 0) {
        off = r->slots[r->pending].byte_offset;
        line = r->slots[r->pending].line - 1;
    } else if (r->skipping) {
        off = r->skip_offset;
        line = r->skip_line - 1;
    } else {
        off = hvd_text_reader_offset(r->text);
        line = r->lineno;
    }
    escape_host(r->host, host, sizeof(host));
    n = snprintf(r->token, sizeof(r->token),
                 "clog:off=%" PRIu64 ";line=%" PRIu64 ";enc=%s;tz=%d;havetz=%d;lt=%d;host=%s;"
                 "sec=%s;num=%d;day=%" PRId64 ";tod=%" PRId64,
                 off, line, hvd_text_encoding_name(hvd_text_reader_encoding(r->text)),
                 r->tz_minutes, r->have_tz, r->local_time, host, section_names[r->section],
                 r->numbered, r->day, r->last_tod);
    if (n < 0 || (size_t)n >= sizeof(r->token)) {
        r->token[0] = '\0'; /* cannot happen with the bounds above */
    }
    return r->token;
}

static int parse_i64(const char *v, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
    char buf[32];
    char *end;
    long long x;

    if (n == 0 || n >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, v, n);
    buf[n] = '\0';
    errno = 0;
    x = strtoll(buf, &end, 10);
    if (errno || *end || x < lo || x > hi) {
        return -1;
    }
    *out = x;
    return 0;
}

/* Reads a token from hvd_clusterlog_reader_position() into r; *off and *enc for the text
 * reader. */
static int parse_token(hvd_clusterlog_reader *r, const char *tok, uint64_t *off,
                       hvd_text_encoding *enc, hvd_error *err)
{
    const char *p = tok;
    int seen_off = 0;

    if (strncmp(p, "clog:", 5) != 0) {
        goto bad;
    }
    p += 5;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ';');
        size_t klen, vlen;
        const char *v;
        int64_t x;

        if (!end) {
            end = p + strlen(p);
        }
        if (!eq || eq > end) {
            goto bad;
        }
        klen = (size_t)(eq - p);
        v = eq + 1;
        vlen = (size_t)(end - v);
#define KEY(k) (klen == sizeof(k) - 1 && strncmp(p, k, klen) == 0)
        if (KEY("off")) {
            if (parse_i64(v, vlen, 0, INT64_MAX, &x)) {
                goto bad;
            }
            *off = (uint64_t)x;
            seen_off = 1;
        } else if (KEY("line")) {
            if (parse_i64(v, vlen, 0, INT64_MAX, &x)) {
                goto bad;
            }
            r->lineno = (uint64_t)x;
        } else if (KEY("enc")) {
            char name[16];
            if (vlen >= sizeof(name)) {
                goto bad;
            }
            memcpy(name, v, vlen);
            name[vlen] = '\0';
            *enc = hvd_text_encoding_from_name(name);
            if (*enc == HVD_TEXT_DETECT) {
                goto bad;
            }
        } else if (KEY("tz")) {
            if (parse_i64(v, vlen, -TZ_MAX_MINUTES, TZ_MAX_MINUTES, &x)) {
                goto bad;
            }
            r->tz_minutes = (int)x;
        } else if (KEY("havetz") || KEY("lt") || KEY("num")) {
            if (parse_i64(v, vlen, 0, 1, &x)) {
                goto bad;
            }
            if (KEY("havetz")) {
                r->have_tz = (int)x;
            } else if (KEY("lt")) {
                r->local_time = (int)x;
            } else {
                r->numbered = (int)x;
            }
        } else if (KEY("host")) {
            if (unescape_host(v, vlen, r->host, sizeof(r->host))) {
                goto bad;
            }
        } else if (KEY("sec")) {
            int found = -1;
            for (int i = 0; i < 4; i++) {
                if (strlen(section_names[i]) == vlen && strncmp(v, section_names[i], vlen) == 0) {
                    found = i;
                }
            }
            if (found < 0) {
                goto bad;
            }
            r->section = found;
        } else if (KEY("day")) {
            if (parse_i64(v, vlen, -1, DAY_MAX, &x)) {
                goto bad;
            }
            r->day = x;
        } else if (KEY("tod")) {
            if (parse_i64(v, vlen, 0, TICKS_PER_DAY + HVD_TICKS_PER_SECOND, &x)) {
                goto bad;
            }
            r->last_tod = x;
        }
        /* Unknown keys are ignored, so a later version may add some. */
#undef KEY
        p = *end ? end + 1 : end;
    }
    if (!seen_off || *enc == HVD_TEXT_DETECT) {
        goto bad;
    }
    return HVD_OK;
bad:
    return hvd_error_set(err, HVD_EINVAL, r->path, 0, "invalid resume position '%.80s'", tok);
}

/* ---- open and close ---- */

/* Host from a "<node>_cluster.log" name, as Get-ClusterLog -Destination writes it, also
 * when a copy or a rotation added to it ("_cluster.log.1", "_cluster.log.txt",
 * "_cluster.log-20240309"). */
static void host_from_name(const char *path, char *host)
{
    const char *base = strrchr(path, '/');
    static const char mark[] = "_cluster.log";
    size_t ml = sizeof(mark) - 1;

    base = base ? base + 1 : path;
    for (size_t n = 1; base[n] && n <= HOST_MAX; n++) {
        char after;

        if (strncasecmp(base + n, mark, ml) != 0) {
            continue;
        }
        after = base[n + ml];
        if (after == '\0' || after == '.' || after == '-' || after == '_') {
            memcpy(host, base, n);
            host[n] = '\0';
            return;
        }
    }
}

static int reader_open(hvd_clusterlog_reader **out, const char *path, int fd, const void *data,
                       size_t len, const hvd_source_options *opt, const hvd_logger *log,
                       hvd_error *err)
{
    hvd_clusterlog_reader *r = NULL;
    uint64_t off = 0;
    hvd_text_encoding enc = HVD_TEXT_DETECT;
    int rc;

    r = hvd_calloc(1, sizeof(*r));
    if (!r) {
        if (fd >= 0) {
            close(fd);
        }
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a cluster.log reader");
    }
    r->fd = fd;
    r->log = log;
    r->pending = -1;
    r->day = -1;
    hvd_buf_init(&r->slots[0].msg, MSG_MAX);
    hvd_buf_init(&r->slots[1].msg, MSG_MAX);
    r->stats.encoding = "";
    r->stats.host = r->host;
    r->path = hvd_strdup(path);
    if (!r->path) {
        rc = hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a cluster.log reader");
        goto fail;
    }
    if (opt && opt->host_hint && opt->host_hint[0]) {
        snprintf(r->host, sizeof(r->host), "%s", opt->host_hint);
    } else {
        host_from_name(path, r->host);
    }
    r->tail = opt ? opt->tail : 0;
    if (opt && opt->resume && opt->resume[0]) {
        rc = parse_token(r, opt->resume, &off, &enc, err);
        if (rc < 0) {
            goto fail;
        }
    }
    if (fd >= 0) {
        rc = hvd_text_reader_open_fd(&r->text, fd, r->path, off, enc, err);
    } else {
        rc = hvd_text_reader_open_mem(&r->text, data, len, r->path, off, enc, err);
    }
    if (rc == HVD_OK && opt && opt->prefilter) {
        const hvd_line_prefilter *lp = opt->prefilter(opt->prefilter_arg);

        rc = lp ? hvd_text_reader_set_prefilter(r->text, lp->lines, err) : HVD_OK;
        if (rc == HVD_OK && lp && lp->tagged && lp->ntags > 0) {
            rc = hvd_prefilter_scanner_create(&r->tag_scan, lp->tagged, err);
            r->tags = lp->tags;
            r->ntags = lp->ntags;
        }
    }
    if (rc < 0) {
        goto fail;
    }
    r->stats.encoding = hvd_text_encoding_name(hvd_text_reader_encoding(r->text));
    *out = r;
    return HVD_OK;
fail:
    hvd_clusterlog_reader_close(r);
    return rc;
}

int hvd_clusterlog_reader_open(hvd_clusterlog_reader **out, const char *path,
                               const hvd_source_options *opt, const hvd_logger *log, hvd_error *err)
{
    int fd;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return hvd_error_set_cause(err, errno == ENOENT ? HVD_ENOENT : HVD_EIO, errno, path, 0,
                                   "cannot open: %s", strerror(errno));
    }
    return reader_open(out, path, fd, NULL, 0, opt, log, err);
}

int hvd_clusterlog_reader_open_mem(hvd_clusterlog_reader **out, const char *name, const void *data,
                                   size_t len, const hvd_source_options *opt, const hvd_logger *log,
                                   hvd_error *err)
{
    *out = NULL;
    return reader_open(out, name, -1, data, len, opt, log, err);
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
    hvd_text_reader_close(r->text);
    hvd_prefilter_scanner_destroy(r->tag_scan);
    if (r->fd >= 0) {
        close(r->fd);
    }
    hvd_buf_free(&r->slots[0].msg);
    hvd_buf_free(&r->slots[1].msg);
    hvd_free(r->path);
    hvd_free(r);
}

static int hex8(const char *p)
{
    for (int i = 0; i < 8; i++) {
        if (!isxdigit((unsigned char)p[i])) {
            return 0;
        }
    }
    return 1;
}

/* "pid.tid::YYYY/MM/DD-" ending at p (the "::"), with n bytes after it. */
static int thread_date_at(const char *text, const char *p, size_t n)
{
    static const char shape[] = "dddd/dd/dd-";

    if (p - text < 17 || p[-9] != '.' || !hex8(p - 17) || !hex8(p - 8) || n < 2 + 11) {
        return 0;
    }
    for (size_t i = 0; i < 11; i++) {
        char c = p[2 + i];

        if (shape[i] == 'd' ? !isdigit((unsigned char)c) : c != shape[i]) {
            return 0;
        }
    }
    return 1;
}

/* A line (starting at p, n bytes left) "HH:MM:SS.mmm" then spaces and a level word. */
static int time_line_at(const char *p, size_t n)
{
    static const char shape[] = "dd:dd:dd.ddd";
    static const char *const levels[] = {"INFO", "DBG", "WARN", "ERR", "CRIT"};
    size_t i = 12;

    if (n < 12 + 2 + 3) {
        return 0;
    }
    for (size_t k = 0; k < 12; k++) {
        if (shape[k] == 'd' ? !isdigit((unsigned char)p[k]) : p[k] != shape[k]) {
            return 0;
        }
    }
    if (p[i] != ' ') {
        return 0;
    }
    while (i < n && p[i] == ' ') {
        i++;
    }
    for (size_t k = 0; k < sizeof(levels) / sizeof(levels[0]); k++) {
        size_t m = strlen(levels[k]);

        if (n - i >= m && strncmp(p + i, levels[k], m) == 0) {
            return 1;
        }
    }
    return 0;
}

int hvd_clusterlog_looks_like(const void *head, size_t len)
{
    const unsigned char *h = head;
    char text[1024];
    size_t n = 0;
    int wide = len >= 2 && ((h[0] == 0xFF && h[1] == 0xFE) || (h[0] != 0 && h[1] == 0));

    /* UTF-16LE as bytes: the low byte of each unit (the grammar is ASCII). */
    for (size_t i = 0; i < len && n < sizeof(text); i += wide ? 2 : 1) {
        text[n++] = (char)h[i];
    }
    for (size_t i = 0; i < n; i++) {
        int line_start = i == 0 || text[i - 1] == '\n';

        if (text[i] == ':' && i + 1 < n && text[i + 1] == ':' &&
            thread_date_at(text, text + i, n - i)) {
            return 1;
        }
        if (line_start && n - i >= 8 && strncmp(text + i, "[===", 4) == 0) {
            const char *end = memchr(text + i, '\n', n - i);
            size_t m = end ? (size_t)(end - (text + i)) : n - i;

            while (m > 0 && (text[i + m - 1] == '\r' || text[i + m - 1] == ' ')) {
                m--;
            }
            if (m >= 8 && strncmp(text + i + m - 4, "===]", 4) == 0) {
                return 1;
            }
        }
        if (line_start && time_line_at(text + i, n - i)) {
            return 1;
        }
    }
    return 0;
}
