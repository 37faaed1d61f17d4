/*
 * syslog5424: RFC 5424 messages about incidents, over a local datagram socket, UDP or TCP.
 * It sits after the store: the daemon hands it incident changes, it knows nothing of rules
 * or SQLite. Formatting is a pure function (hvd_syslog_format); the sender keeps one
 * non-blocking socket and, for TCP, at most the unsent end of one frame, which always goes
 * out before the next frame so the octet counts stay true.
 *
 * States of the socket: none (fd -1: the next send connects), connecting (TCP only: a
 * non-blocking connect in progress, finished by poll() + SO_ERROR), ready. Any send error
 * other than "would block" closes it; the next send connects again. A TCP peer that closed
 * its side is noticed before a send (a zero-byte peek), so no message is written into a
 * connection that is already gone.
 */
#define _DEFAULT_SOURCE
#include "syslog5424.h"

#include "alloc.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_APP_NAME 48
#define MAX_PROCID   128
#define MAX_MSGID    32
/* Bytes of one parameter value before escaping: with every byte escaped, four of them and
 * the longest header still fit HVD_SYSLOG_MAX_MESSAGE, so the SD is never cut. */
#define MAX_PARAM    128
#define FRAME_PREFIX 8 /* "2048 " with room to spare */

enum state { ST_NONE, ST_CONNECTING, ST_READY };

struct hvd_syslog {
    hvd_syslog_target target;
    hvd_syslog_config cfg; /* strings point into the copies below */
    char hostname[HVD_SYSLOG_MAX_HOST + 1];
    char app_name[MAX_APP_NAME + 1];
    char name[HVD_SYSLOG_MAX_HOST + 32];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int fd;
    enum state state;
    int no_socket;      /* the last connect_start() could not make a socket */
    size_t pending_off; /* TCP: the unsent end of the last frame is frame[off, len) */
    size_t pending_len;
    char frame[FRAME_PREFIX + HVD_SYSLOG_MAX_MESSAGE + 1];
};

/* --- names --------------------------------------------------------------------------- */

static const char *const facilities[24] = {
    "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
    "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
    "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
};

int hvd_syslog_facility_parse(const char *text)
{
    char *end = NULL;
    long n;

    for (int i = 0; i < 24; i++) {
        if (strcmp(text, facilities[i]) == 0) {
            return i;
        }
    }
    if (text[0] < '0' || text[0] > '9') {
        return -1;
    }
    errno = 0;
    n = strtol(text, &end, 10);
    if (errno || *end || n < 0 || n > 23) {
        return -1;
    }
    return (int)n;
}

const char *hvd_syslog_facility_name(int facility)
{
    return facility >= 0 && facility < 24 ? facilities[facility] : "?";
}

int hvd_syslog_severity(hvd_severity s)
{
    switch (s) {
    case HVD_SEVERITY_CRITICAL:
        return 2;
    case HVD_SEVERITY_ERROR:
        return 3;
    case HVD_SEVERITY_WARNING:
        return 4;
    case HVD_SEVERITY_INFO:
    case HVD_SEVERITY_NONE:
        break;
    }
    return 6;
}

/* --- target -------------------------------------------------------------------------- */

static int parse_port(const char *s, char out[6])
{
    size_t n = strlen(s);
    unsigned long v = 0;

    if (n == 0 || n > 5) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v == 0 || v > 65535) {
        return -1;
    }
    snprintf(out, 6, "%lu", v);
    return 0;
}

/* "HOST:PORT" or "[V6]:PORT" (s, within text) into t. */
static int parse_host_port(const char *text, const char *s, hvd_syslog_target *t, hvd_error *err)
{
    const char *colon;
    size_t hlen;
    const char *host = s;

    if (*s == '[') {
        const char *close = strchr(s, ']');

        if (!close || close[1] != ':') {
            return hvd_error_set(err, HVD_EINVAL, NULL, 0,
                                 "'%s': an IPv6 address is written [ADDRESS]:PORT", text);
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            return hvd_error_set(err, HVD_EINVAL, NULL, 0, "'%s' has no :PORT", text);
        }
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen)) {
            return hvd_error_set(err, HVD_EINVAL, NULL, 0,
                                 "'%s': an IPv6 address is written [ADDRESS]:PORT", text);
        }
    }
    if (hlen == 0 || hlen > HVD_SYSLOG_MAX_HOST) {
        return hvd_error_set(err, HVD_EINVAL, NULL, 0, "'%s' has no host name of 1 to %d bytes", s,
                             HVD_SYSLOG_MAX_HOST);
    }
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];

        if (c <= ' ' || c >= 0x7F || c == '/' || c == '[' || c == ']') {
            return hvd_error_set(err, HVD_EINVAL, NULL, 0, "'%s': the host name has a '%c'", text,
                                 c > ' ' && c < 0x7F ? c : '?');
        }
    }
    if (parse_port(colon + 1, t->port) < 0) {
        return hvd_error_set(err, HVD_EINVAL, NULL, 0, "'%s': the port is not 1 to 65535", text);
    }
    memcpy(t->host, host, hlen);
    t->host[hlen] = '\0';
    return HVD_OK;
}

int hvd_syslog_target_parse(const char *text, hvd_syslog_target *out, hvd_error *err)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;

        if (path[0] != '/') {
            return hvd_error_set(err, HVD_EINVAL, NULL, 0,
                                 "'%s': unix: needs an absolute path (unix:/dev/log)", text);
        }
        if (strlen(path) >= sizeof(out->path)) {
            return hvd_error_set(err, HVD_EINVAL, NULL, 0,
                                 "'%s': the socket path is longer than %zu bytes", text,
                                 sizeof(out->path) - 1);
        }
        out->transport = HVD_SYSLOG_UNIX;
        memcpy(out->path, path, strlen(path) + 1);
        return HVD_OK;
    }
    if (strncmp(text, "udp://", 6) == 0) {
        out->transport = HVD_SYSLOG_UDP;
        return parse_host_port(text, text + 6, out, err);
    }
    if (strncmp(text, "tcp://", 6) == 0) {
        out->transport = HVD_SYSLOG_TCP;
        return parse_host_port(text, text + 6, out, err);
    }
    return hvd_error_set(err, HVD_EINVAL, NULL, 0,
                         "'%s' is not udp://HOST:PORT, tcp://HOST:PORT or unix:/PATH", text);
}

/* --- formatting ---------------------------------------------------------------------- */

struct out {
    char *p;
    size_t cap; /* bytes for text; one more holds the NUL */
    size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (n > o->cap - o->len) {
        n = o->cap - o->len;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* A header field: printable US-ASCII other than space, at most max bytes; "-" if empty.
 * Anything else becomes '_', so a field never splits the header. */
static void put_field(struct out *o, const char *s, size_t max)
{
    size_t n = 0;

    for (; s && s[n] && n < max; n++) {
        char c = (s[n] > ' ' && s[n] < 0x7F) ? s[n] : '_';

        put(o, &c, 1);
    }
    if (n == 0) {
        put(o, "-", 1);
    }
}

/* TIMESTAMP: "2026-03-05T10:00:01.123456Z" (microseconds, the most RFC 5424 allows). */
static void put_time(struct out *o, hvd_time t)
{
    struct timespec now;
    struct tm tm;
    time_t secs;
    int64_t frac;
    char buf[80];

    if (t == 0) {
        clock_gettime(CLOCK_REALTIME, &now);
        secs = now.tv_sec;
        frac = now.tv_nsec / 1000;
    } else {
        secs = (time_t)(t / 10000000);
        frac = (t % 10000000) / 10;
        if (frac < 0) {
            secs--;
            frac += 1000000;
        }
    }
    if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999) {
        put(o, "-", 1);
        return;
    }
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    puts_(o, buf);
}

/* One SD-PARAM, ' name="value"': the value made valid UTF-8 without controls, then '"',
 * '\' and ']' escaped with '\' (RFC 5424 6.3.3). Left out when empty. */
static void put_param(struct out *o, const char *name, const char *value)
{
    char clean[MAX_PARAM + 1];

    if (!value || !*value) {
        return;
    }
    hvd_text_sanitize(clean, sizeof(clean), value, strlen(value), 0);
    put(o, " ", 1);
    puts_(o, name);
    put(o, "=\"", 2);
    for (const char *c = clean; *c; c++) {
        if (*c == '"' || *c == '\\' || *c == ']') {
            put(o, "\\", 1);
        }
        put(o, c, 1);
    }
    put(o, "\"", 1);
}

size_t hvd_syslog_format(const hvd_syslog_config *cfg, const hvd_syslog_msg *m, char *out,
                         size_t cap)
{
    struct out o;
    char num[32];
    int facility = cfg->facility >= 0 && cfg->facility < 24 ? cfg->facility : 1;

    if (cap == 0) {
        return 0;
    }
    o.p = out;
    o.cap = (cap - 1 < HVD_SYSLOG_MAX_MESSAGE ? cap - 1 : HVD_SYSLOG_MAX_MESSAGE);
    o.len = 0;
    snprintf(num, sizeof(num), "<%d>1 ", facility * 8 + hvd_syslog_severity(m->severity));
    puts_(&o, num);
    put_time(&o, m->time);
    put(&o, " ", 1);
    put_field(&o, cfg->hostname, HVD_SYSLOG_MAX_HOST);
    put(&o, " ", 1);
    put_field(&o, cfg->app_name ? cfg->app_name : "hvdiagd", MAX_APP_NAME);
    put(&o, " ", 1);
    if (cfg->procid > 0) {
        snprintf(num, sizeof(num), "%" PRId64, cfg->procid);
        put_field(&o, num, MAX_PROCID);
    } else {
        put(&o, "-", 1);
    }
    put(&o, " ", 1);
    put_field(&o, m->msgid, MAX_MSGID);
    put(&o, " [" HVD_SYSLOG_SD_ID, strlen(" [" HVD_SYSLOG_SD_ID));
    snprintf(num, sizeof(num), "%" PRId64, m->incident);
    put_param(&o, "incident", num);
    snprintf(num, sizeof(num), "%" PRId64, m->revision);
    put_param(&o, "revision", num);
    put_param(&o, "rule", m->rule);
    put_param(&o, "host", m->host);
    put_param(&o, "vm", m->vm);
    put_param(&o, "severity", hvd_severity_name(m->severity));
    put(&o, "]", 1);
    if (m->title && *m->title && o.cap - o.len > 4) {
        /* MSG: a BOM says UTF-8 (RFC 5424 6.4); the title is cut at a whole character */
        put(&o, " \xEF\xBB\xBF", 4);
        hvd_text_sanitize(o.p + o.len, o.cap - o.len + 1, m->title, strlen(m->title), 0);
        o.len += strlen(o.p + o.len);
    }
    out[o.len] = '\0';
    return o.len;
}

/* --- the socket ---------------------------------------------------------------------- */

static void drop_socket(hvd_syslog *s)
{
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
    s->state = ST_NONE;
    s->pending_off = s->pending_len = 0;
}

static int fail_io(hvd_syslog *s, int e, const char *what, hvd_error *err)
{
    drop_socket(s);
    return hvd_error_set_cause(err, HVD_EIO, e, NULL, 0, "syslog %s: %s: %s", s->name, what,
                               strerror(e));
}

/* Starts a connection: ready at once for datagrams and for a TCP connect that finished,
 * connecting while a TCP connect is in progress. */
static int connect_start(hvd_syslog *s, hvd_error *err)
{
    int type = s->target.transport == HVD_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM;
    int fd;

    drop_socket(s);
    s->no_socket = 0;
    fd = socket(s->addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        s->no_socket = 1;
        return fail_io(s, errno, "no socket", err);
    }
    s->fd = fd;
    if (connect(fd, (struct sockaddr *)&s->addr, s->addrlen) == 0) {
        s->state = ST_READY;
        return HVD_OK;
    }
    if (errno == EINPROGRESS || errno == EAGAIN) {
        s->state = ST_CONNECTING;
        return hvd_error_set(err, HVD_EAGAIN, NULL, 0, "syslog %s: connecting", s->name);
    }
    return fail_io(s, errno, "cannot connect", err);
}

/* Makes the socket ready: HVD_OK, HVD_EAGAIN while a connect is under way, or HVD_EIO. */
static int ensure_ready(hvd_syslog *s, hvd_error *err)
{
    if (s->state == ST_NONE) {
        return connect_start(s, err);
    }
    if (s->state == ST_CONNECTING) {
        struct pollfd p = {s->fd, POLLOUT, 0};
        int e = 0;
        socklen_t len = sizeof(e);

        if (poll(&p, 1, 0) == 0) {
            return hvd_error_set(err, HVD_EAGAIN, NULL, 0, "syslog %s: connecting", s->name);
        }
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) {
            e = errno;
        }
        if (e) {
            return fail_io(s, e, "cannot connect", err);
        }
        s->state = ST_READY;
    }
    if (s->target.transport == HVD_SYSLOG_TCP && s->pending_len == 0) {
        char c;
        ssize_t n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

        /* A receiver never talks back: end of stream or an error means it is gone. */
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return connect_start(s, err);
        }
    }
    return HVD_OK;
}

/* Writes frame[off, len) on TCP. HVD_OK when all went, HVD_EAGAIN with some left. */
static int tcp_write(hvd_syslog *s, hvd_error *err)
{
    while (s->pending_off < s->pending_len) {
        ssize_t n = send(s->fd, s->frame + s->pending_off, s->pending_len - s->pending_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return hvd_error_set(err, HVD_EAGAIN, NULL, 0, "syslog %s: the socket is full",
                                     s->name);
            }
            return fail_io(s, errno, "cannot send", err);
        }
        s->pending_off += (size_t)n;
    }
    s->pending_off = s->pending_len = 0;
    return HVD_OK;
}

int hvd_syslog_flush(hvd_syslog *s, hvd_error *err)
{
    int rc = ensure_ready(s, err);

    if (rc < 0) {
        return rc;
    }
    return s->pending_len ? tcp_write(s, err) : HVD_OK;
}

int hvd_syslog_send(hvd_syslog *s, const hvd_syslog_msg *m, hvd_error *err)
{
    char *msg = s->frame + FRAME_PREFIX;
    size_t len;
    int rc;

    rc = hvd_syslog_flush(s, err);
    if (rc < 0) {
        return rc;
    }
    len = hvd_syslog_format(&s->cfg, m, msg, HVD_SYSLOG_MAX_MESSAGE + 1);
    if (s->target.transport == HVD_SYSLOG_TCP) {
        /* RFC 6587 octet counting: "LEN SP MSG", the prefix written just before msg */
        char prefix[FRAME_PREFIX + 1];
        int n = snprintf(prefix, sizeof(prefix), "%zu ", len);

        memcpy(msg - n, prefix, (size_t)n);
        s->pending_off = FRAME_PREFIX - (size_t)n;
        s->pending_len = FRAME_PREFIX + len;
        {
            size_t start = s->pending_off;

            rc = tcp_write(s, err);
            if (rc == HVD_EAGAIN && s->pending_off == start) {
                s->pending_off = s->pending_len = 0; /* nothing went: not taken */
                return rc;
            }
        }
        return rc == HVD_EAGAIN ? HVD_OK : rc;
    }
    for (int attempt = 0;; attempt++) {
        ssize_t n = send(s->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        int e = errno;

        if (n >= 0) {
            return HVD_OK;
        }
        if (e == EINTR) {
            continue;
        }
        if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS) {
            return hvd_error_set(err, HVD_EAGAIN, NULL, 0, "syslog %s: the receiver is busy",
                                 s->name);
        }
        /* ECONNREFUSED: a receiver restarted (a new socket at the path) or an ICMP error for
         * an earlier datagram. One fresh connection and one more try. */
        if (attempt == 0 && (e == ECONNREFUSED || e == ENOTCONN || e == ENOENT)) {
            rc = connect_start(s, err);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        return fail_io(s, e, "cannot send", err);
    }
}

int hvd_syslog_wait(hvd_syslog *s, int timeout_ms)
{
    struct pollfd p = {s->fd, POLLOUT, 0};

    if (s->fd < 0) {
        return 1; /* the next call connects */
    }
    return poll(&p, 1, timeout_ms) > 0;
}

int hvd_syslog_fd(const hvd_syslog *s)
{
    return s->fd;
}

const char *hvd_syslog_name(const hvd_syslog *s)
{
    return s->name;
}

/* The address of t: the unix path, or the first address the name resolves to. */
static int resolve(hvd_syslog *s, hvd_error *err)
{
    const hvd_syslog_target *t = &s->target;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    int rc;

    memset(&s->addr, 0, sizeof(s->addr));
    if (t->transport == HVD_SYSLOG_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&s->addr;

        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, t->path, strlen(t->path) + 1);
        s->addrlen = sizeof(*un);
        return HVD_OK;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = t->transport == HVD_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(t->host, t->port, &hints, &res);
    if (rc != 0 || !res) {
        return hvd_error_set(err, HVD_EINVAL, NULL, 0, "syslog %s: cannot resolve %s: %s", s->name,
                             t->host, rc ? gai_strerror(rc) : "no address");
    }
    if (res->ai_addrlen > sizeof(s->addr)) {
        freeaddrinfo(res);
        return hvd_error_set(err, HVD_EINVAL, NULL, 0, "syslog %s: unusable address", s->name);
    }
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return HVD_OK;
}

int hvd_syslog_open(hvd_syslog **out, const hvd_syslog_config *cfg, hvd_error *err)
{
    hvd_syslog *s = NULL;
    int rc;

    *out = NULL;
    if (cfg->facility < 0 || cfg->facility > 23) {
        return hvd_error_set(err, HVD_EINVAL, NULL, 0, "syslog: facility %d is not 0 to 23",
                             cfg->facility);
    }
    s = hvd_calloc(1, sizeof(*s));
    if (!s) {
        return hvd_error_set(err, HVD_ENOMEM, NULL, 0, "syslog: out of memory");
    }
    s->fd = -1;
    rc = hvd_syslog_target_parse(cfg->target, &s->target, err);
    if (rc < 0) {
        goto fail;
    }
    snprintf(s->name, sizeof(s->name), "%s", cfg->target);
    s->cfg = *cfg;
    s->cfg.target = s->name;
    if (cfg->hostname) {
        snprintf(s->hostname, sizeof(s->hostname), "%s", cfg->hostname);
    } else if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0) {
        s->hostname[0] = '\0'; /* "-" */
    }
    s->hostname[sizeof(s->hostname) - 1] = '\0';
    s->cfg.hostname = s->hostname;
    snprintf(s->app_name, sizeof(s->app_name), "%s", cfg->app_name ? cfg->app_name : "hvdiagd");
    s->cfg.app_name = s->app_name;
    s->cfg.procid = cfg->procid > 0 ? cfg->procid : (int64_t)getpid();
    rc = resolve(s, err);
    if (rc < 0) {
        goto fail;
    }
    rc = connect_start(s, err);
    if ((rc == HVD_EIO && !s->no_socket) || rc == HVD_EAGAIN) {
        rc = HVD_OK; /* the receiver is not there yet, or TCP is connecting: sends go on */
        hvd_error_clear(err);
    }
    if (rc < 0) {
        goto fail;
    }
    *out = s;
    return HVD_OK;
fail:
    hvd_syslog_close(s);
    return rc;
}

void hvd_syslog_close(hvd_syslog *s)
{
    if (!s) {
        return;
    }
    drop_socket(s);
    hvd_free(s);
}
