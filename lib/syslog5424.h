/*
 * syslog5424: incident changes as RFC 5424 syslog messages, sent to a local datagram socket
 * (/dev/log, a receiver's private socket), a UDP address (RFC 5426) or a TCP address with
 * octet-counting framing (RFC 6587). One message:
 *
 *   <PRI>1 TIMESTAMP HOSTNAME hvdiagd PROCID MSGID [hvdiag@32473 incident="12" revision="3"
 *   rule="lm-spn" host="HV01" vm="web01" severity="critical"] BOM title
 *
 * PRI is the configured facility and the syslog severity of the hvdiag severity. Header
 * fields keep to printable US-ASCII within their RFC lengths; parameter values and MSG are
 * UTF-8 (invalid bytes become U+FFFD, controls become "\n"-style escapes); a message is at
 * most HVD_SYSLOG_MAX_MESSAGE bytes (the size every RFC 5424 receiver must take), the title
 * cut at a whole character when it would pass that.
 *
 * Sending never blocks: the socket is non-blocking, a TCP connection is made in the
 * background and made again after the peer closed or failed it. A send that cannot go now
 * returns HVD_EAGAIN and may be repeated as is; a receiver that failed returns HVD_EIO (the
 * next send reconnects). The caller owns retries and back-off.
 */
#ifndef HVD_SYSLOG5424_H
#define HVD_SYSLOG5424_H

#include "diagnosis.h"
#include "error.h"
#include "event.h"

#include <stddef.h>
#include <stdint.h>

#define HVD_SYSLOG_MAX_MESSAGE 2048           /* bytes of one message, framing excluded */
#define HVD_SYSLOG_SD_ID       "hvdiag@32473" /* 32473: the documentation enterprise number */
#define HVD_SYSLOG_MAX_HOST    255            /* RFC 5424 HOSTNAME */

typedef enum hvd_syslog_transport {
    HVD_SYSLOG_UNIX = 1, /* a local datagram socket */
    HVD_SYSLOG_UDP,
    HVD_SYSLOG_TCP,
} hvd_syslog_transport;

/* Where messages go, parsed from "udp://HOST:PORT", "tcp://HOST:PORT" or "unix:/PATH".
 * HOST is a name, an IPv4 address or an IPv6 address in brackets ("udp://[::1]:514"). */
typedef struct hvd_syslog_target {
    hvd_syslog_transport transport;
    char host[HVD_SYSLOG_MAX_HOST + 1]; /* UDP, TCP; IPv6 without brackets */
    char port[6];                       /* UDP, TCP: "1" to "65535" */
    char path[108];                     /* UNIX: absolute */
} hvd_syslog_target;

/* Parses text into *out. Returns HVD_OK, or HVD_EINVAL with what is wrong in err->msg (a
 * phrase without file or line, for the caller to place). */
int hvd_syslog_target_parse(const char *text, hvd_syslog_target *out, hvd_error *err);

/* A facility by name ("kern", "user", "daemon", "auth", ..., "local0" to "local7") or
 * number (0 to 23): returns 0 to 23, or -1. And the name of one. */
int hvd_syslog_facility_parse(const char *text);
const char *hvd_syslog_facility_name(int facility);

/* The syslog severity (RFC 5424 6.2.1) of an hvdiag severity: critical 2 (crit), error 3
 * (err), warning 4, info 6, benign 6. */
int hvd_syslog_severity(hvd_severity s);

typedef struct hvd_syslog_config {
    const char *target;   /* as hvd_syslog_target_parse() reads it */
    int facility;         /* 0 to 23 */
    const char *hostname; /* HOSTNAME; NULL: gethostname() */
    const char *app_name; /* APP-NAME; NULL: "hvdiagd" */
    int64_t procid;       /* PROCID; 0: getpid() */
} hvd_syslog_config;

/* One incident change. Strings are borrowed for the call; NULL or "" leaves a parameter
 * out (msgid NULL: "-"). */
typedef struct hvd_syslog_msg {
    hvd_severity severity;
    const char *msgid; /* e.g. "incident-new", "incident-update" */
    int64_t incident;
    int64_t revision;
    const char *rule;
    const char *host;
    const char *vm;
    const char *title;
    hvd_time time; /* TIMESTAMP; 0: now */
} hvd_syslog_msg;

typedef struct hvd_syslog hvd_syslog;

/*
 * Formats m as one RFC 5424 message (no framing) into out, at most cap bytes including a
 * NUL; cap must be at least HVD_SYSLOG_MAX_MESSAGE + 1 to hold any message. cfg gives
 * facility, hostname (NULL: "-"), app_name and procid (0: "-"); its target is not used.
 * Returns the message length.
 */
size_t hvd_syslog_format(const hvd_syslog_config *cfg, const hvd_syslog_msg *m, char *out,
                         size_t cap);

/*
 * Parses cfg->target, resolves its host and starts connecting. A receiver that is not
 * there yet is no error here (sends retry); a bad target, a name that does not resolve
 * or no socket is. On success *out owns the sender until hvd_syslog_close().
 */
int hvd_syslog_open(hvd_syslog **out, const hvd_syslog_config *cfg, hvd_error *err);

/*
 * Sends m. Returns HVD_OK when the whole message went to the kernel (for TCP: or its
 * unsent end is kept and goes before any later message), HVD_EAGAIN when it cannot go now
 * (connecting, socket full: nothing of m was sent), or HVD_EIO when the receiver failed
 * (nothing of m was sent; the next call reconnects). err says which receiver and why.
 */
int hvd_syslog_send(hvd_syslog *s, const hvd_syslog_msg *m, hvd_error *err);

/* Finishes a pending connect or the unsent end of a TCP message: HVD_OK when nothing is
 * waiting, HVD_EAGAIN, or HVD_EIO as for send. */
int hvd_syslog_flush(hvd_syslog *s, hvd_error *err);

/* Waits up to timeout_ms for the socket to take more (a connect done, room for bytes).
 * Returns 1 when it can, 0 on timeout. Blocks: for tools and tests, not an event loop. */
int hvd_syslog_wait(hvd_syslog *s, int timeout_ms);

/* The socket, for an event loop to watch for writability while send or flush say
 * HVD_EAGAIN; -1 while there is none. Borrowed: it changes at reconnect. */
int hvd_syslog_fd(const hvd_syslog *s);

/* "udp://127.0.0.1:514" and the like, for messages. Borrowed, valid until close. */
const char *hvd_syslog_name(const hvd_syslog *s);

void hvd_syslog_close(hvd_syslog *s); /* NULL-safe; an unsent end of a message is dropped */

#endif
