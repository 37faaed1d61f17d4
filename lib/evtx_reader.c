/*
 * evtx_reader: an exported .evtx file, read record by record with libevtx 20181227.
 *
 * libevtx has no accessor for Channel, TimeCreated, Task, Keywords or named Data, so every
 * record is rendered to XML by libevtx and parsed by eventxml; the record identifier and
 * the recovered flag come from libevtx itself. Records libevtx cannot parse (forwarded-event
 * exports, damaged chunks) are skipped and counted, never fatal: a file where every record
 * fails reports N skipped and 0 events, which is not the same as an empty file. Records
 * recovered from free space are mostly junk or duplicates, so they are returned only when
 * asked for.
 *
 * libevtx does most of the work (decoding, checksums, rendering), so a file of more than a
 * few thousand records is read by a child process: it renders records and writes them down
 * a pipe while this process parses, matches and stores the previous ones. A process, not a
 * thread: libevtx makes several allocations per value, and a second thread would put a lock
 * on every one of them. The child also takes a libevtx crash on a hostile file with it: the
 * records before stand and the file ends with an error. Memory stays flat: the pipe is the
 * only queue, and the child limits its own memory (CHILD_MEMORY, or the lower limit it
 * inherits), so a count libevtx takes from a hostile file and allocates fails there and
 * the record is skipped. Smaller files are read in this process, under its own limit.
 *
 * libevtx ignores a partial last chunk (a file still being copied), so 'tail' needs nothing
 * here: the records of that chunk appear when the file is read again once complete.
 */
#define _GNU_SOURCE /* pipe2 */
#include "evtx_reader.h"

#include "alloc.h"
#include "eventxml.h"
#include "reslimit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libevtx.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define XML_INITIAL  (64u * 1024)
#define XML_MAX      (16u * 1024 * 1024)
#define WARN_RECORDS 5    /* records named one by one in the log; the rest are summed up */
#define CHILD_MIN    2048 /* records from which a child process reads */
#define PIPE_BUF_SZ  (256u * 1024)
#define MAX_CRASHES  8            /* reading processes a file may kill before it is given up */
#define CHILD_MEMORY (1ull << 30) /* the child needs ~12 MB for any file; records <= XML_MAX */

enum rec_status { REC_OK, REC_NO_RECORD, REC_NO_XML, REC_END, REC_RETRY };

/* One record as the child writes it, followed by len bytes of XML. */
struct rec_head {
    int32_t index; /* records first, then recovered ones */
    int32_t status;
    uint64_t id;
    uint32_t len;
};

struct hvd_evtx_reader {
    libevtx_file_t *file;
    char *path;
    int nrecords;
    int nrecovered;
    int next; /* next index: records first, then recovered ones */
    int end;  /* index to stop before */
    int include_recovered;
    uint8_t *xml; /* the current record, NUL-terminated */
    size_t xml_cap;
    hvd_eventxml *px;
    hvd_source_stats stats;
    char position[48];
    int summarized; /* the end-of-file summary was logged */
    const hvd_logger *log;

    /* the reading child, when there is one */
    pid_t child;
    int fd;      /* read end of its pipe, or -1 */
    uint8_t *in; /* what was read from the pipe and not yet taken */
    size_t in_len;
    size_t in_pos;
    int ended;   /* its end marker arrived */
    int crashes; /* children that died on this file */
    int careful; /* the child writes every record at once, so a death points at one */
};

static void skipped(hvd_evtx_reader *r, int index, const char *why);

/* libevtx's error chain as one line in err, then freed. */
static int libevtx_fail(hvd_error *err, int code, const char *path, libevtx_error_t **e,
                        const char *what)
{
    char detail[384] = "";

    if (e && *e) {
        libevtx_error_backtrace_sprint(*e, detail, sizeof(detail));
        libevtx_error_free(e);
        for (char *p = detail; *p; p++) {
            if (*p == '\n') {
                *p = ' ';
            }
        }
    }
    return hvd_error_set(err, code, path, 0, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

/* Reads the dirty flag from the file header; libevtx 20181227 has no accessor for it. */
static int read_dirty_flag(const char *path)
{
    unsigned char flags[4];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0) {
        return 0;
    }
    n = pread(fd, flags, sizeof(flags), 120);
    close(fd);
    return n == (ssize_t)sizeof(flags) && (flags[0] & 1);
}

static int parse_resume(const char *token, int *next)
{
    char *end;
    long v;

    if (strncmp(token, "evtx:next=", 10) != 0) {
        return -1;
    }
    errno = 0;
    v = strtol(token + 10, &end, 10);
    if (errno || *end || v < 0 || v > INT32_MAX) {
        return -1;
    }
    *next = (int)v;
    return 0;
}

/* Renders the record as XML into r->xml, growing the buffer when libevtx says it must. */
static int render_xml(hvd_evtx_reader *r, libevtx_record_t *rec, size_t *len)
{
    size_t size = 0;

    /* Rendering twice (size, then string) costs a second walk: try the buffer first. */
    if (libevtx_record_get_utf8_xml_string(rec, r->xml, r->xml_cap, NULL) != 1) {
        uint8_t *grown;

        if (libevtx_record_get_utf8_xml_string_size(rec, &size, NULL) != 1 || size == 0 ||
            size > XML_MAX) {
            return -1;
        }
        grown = hvd_realloc(r->xml, size);
        if (!grown) {
            return -1;
        }
        r->xml = grown;
        r->xml_cap = size;
        if (libevtx_record_get_utf8_xml_string(rec, r->xml, r->xml_cap, NULL) != 1) {
            return -1;
        }
    }
    *len = strnlen((const char *)r->xml, r->xml_cap);
    return 0;
}

/* Reads record index into r->xml: REC_OK with *id and *len set, or why not. */
static enum rec_status read_record(hvd_evtx_reader *r, int index, uint64_t *id, size_t *len)
{
    libevtx_record_t *rec = NULL;
    int recovered = index >= r->nrecords;
    int got;
    int rendered;

    *id = 0;
    *len = 0;
    got = recovered
              ? libevtx_file_get_recovered_record_by_index(r->file, index - r->nrecords, &rec, NULL)
              : libevtx_file_get_record_by_index(r->file, index, &rec, NULL);
    if (got != 1) {
        return REC_NO_RECORD;
    }
    libevtx_record_get_identifier(rec, id, NULL);
    rendered = render_xml(r, rec, len);
    libevtx_record_free(&rec, NULL);
    return rendered == 0 ? REC_OK : REC_NO_XML;
}

/* --- the reading child ------------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The child of parent: every record down the pipe, then the end marker. Never returns. */
static void child_main(hvd_evtx_reader *r, int fd, pid_t parent)
{
    uint8_t *out = malloc(PIPE_BUF_SZ);
    size_t used = 0;

    /* The reader's owner may be killed (a daemon's worker past its time limit): go too. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent || !out) {
        _exit(1);
    }
    hvd_reslimit_memory(CHILD_MEMORY, NULL); /* best effort; not in sanitizer builds */
    for (int index = r->next; index <= r->end; index++) {
        struct rec_head h;
        size_t len = 0;

        memset(&h, 0, sizeof(h)); /* padding too: it goes down the pipe */
        h.index = index;
        h.status = REC_END;

        if (index < r->end) {
            h.status = (int32_t)read_record(r, index, &h.id, &len);
#ifdef HVD_TESTING
            /* "FIRST-LAST": the records that crash the reading process */
            const char *crash = getenv("HVD_TEST_EVTX_CRASH");
            int first;
            int last;

            if (crash && sscanf(crash, "%d-%d", &first, &last) == 2 && index >= first &&
                index <= last) {
                abort(); /* not SIGSEGV: sanitizers would report it as their own */
            }
#endif
        }
        h.len = h.status == REC_OK ? (uint32_t)len : 0;
        if (used + sizeof(h) + h.len > PIPE_BUF_SZ) {
            if (write_all(fd, out, used) < 0) {
                _exit(1);
            }
            used = 0;
        }
        if (sizeof(h) + h.len > PIPE_BUF_SZ) {
            if (write_all(fd, (const uint8_t *)&h, sizeof(h)) < 0 ||
                write_all(fd, r->xml, h.len) < 0) {
                _exit(1);
            }
            continue;
        }
        memcpy(out + used, &h, sizeof(h));
        memcpy(out + used + sizeof(h), r->xml, h.len);
        used += sizeof(h) + h.len;
        if (r->careful) { /* every record out before the next is read */
            if (write_all(fd, out, used) < 0) {
                _exit(1);
            }
            used = 0;
        }
    }
    /* _exit: no atexit handlers or leak checks on what the parent owns */
    _exit(write_all(fd, out, used) < 0 ? 1 : 0);
}

/* Starts the child; on any failure the records are read in this process instead. */
static void start_child(hvd_evtx_reader *r)
{
    pid_t parent = getpid();
    int p[2];
    pid_t pid;

    if (!r->in) {
        r->in = hvd_malloc(PIPE_BUF_SZ);
    }
    if (!r->in || pipe2(p, O_CLOEXEC) < 0) {
        return;
    }
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_main(r, p[1], parent);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return;
    }
    r->child = pid;
    r->fd = p[0];
    fcntl(r->fd, F_SETPIPE_SZ, (int)PIPE_BUF_SZ * 4); /* room for bursts; failure is harmless */
}

/* Makes n bytes available at r->in + r->in_pos: 1, 0 at EOF, -1 on a read error. */
static int fill(hvd_evtx_reader *r, size_t n)
{
    if (r->in_len - r->in_pos >= n) {
        return 1;
    }
    memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
    r->in_len -= r->in_pos;
    r->in_pos = 0;
    while (r->in_len < n) {
        ssize_t got = read(r->fd, r->in + r->in_len, PIPE_BUF_SZ - r->in_len);

        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return got == 0 ? 0 : -1;
        }
        r->in_len += (size_t)got;
    }
    return 1;
}

/* Copies n bytes from the pipe into r->xml. */
static int take_bytes(hvd_evtx_reader *r, size_t n)
{
    size_t done = 0;

    if (n + 1 > r->xml_cap) {
        uint8_t *grown = hvd_realloc(r->xml, n + 1);

        if (!grown) {
            return -1;
        }
        r->xml = grown;
        r->xml_cap = n + 1;
    }
    while (done < n) {
        size_t chunk = n - done < PIPE_BUF_SZ ? n - done : PIPE_BUF_SZ;

        if (fill(r, chunk) != 1) {
            return -1;
        }
        memcpy(r->xml + done, r->in + r->in_pos, chunk);
        r->in_pos += chunk;
        done += chunk;
    }
    r->xml[n] = 0;
    return 0;
}

/* Reaps the child; describes how it ended in why. */
static void reap(hvd_evtx_reader *r, int kill_it, char *why, size_t size)
{
    int status = 0;

    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    if (r->child <= 0) {
        return;
    }
    if (kill_it) {
        kill(r->child, SIGKILL);
    }
    while (waitpid(r->child, &status, 0) < 0 && errno == EINTR) {
    }
    r->child = 0;
    if (why) {
        if (WIFSIGNALED(status)) {
            snprintf(why, size, "the EVTX reading process died (signal %d)", WTERMSIG(status));
        } else {
            snprintf(why, size, "the EVTX reading process stopped (status %d)",
                     WEXITSTATUS(status));
        }
    }
}

/* The next record from the child: its status, with *index, *id and *len set. */
static int next_from_child(hvd_evtx_reader *r, int *index, uint64_t *id, size_t *len,
                           hvd_error *err)
{
    struct rec_head h;
    char why[96];

    if (fill(r, sizeof(h)) != 1) {
        goto died;
    }
    memcpy(&h, r->in + r->in_pos, sizeof(h));
    r->in_pos += sizeof(h);
    if (h.status == REC_END) {
        r->ended = 1;
        reap(r, 0, NULL, 0);
        return REC_END;
    }
    if (h.len > XML_MAX || h.index < r->next || h.index >= r->end || take_bytes(r, h.len) < 0) {
        goto died;
    }
    *index = h.index;
    *id = h.id;
    *len = h.len;
    return h.status;
died:
    reap(r, 1, why, sizeof(why));
    r->in_len = r->in_pos = 0;
    if (++r->crashes > MAX_CRASHES) {
        r->ended = 1;
        return hvd_error_set(err, HVD_ECORRUPT, r->path, 0,
                             "record %d: %s, %d times; the records before are kept", r->next, why,
                             r->crashes);
    }
    /* A careful child dies on the record it was reading: skip that one. A buffered one may
     * have taken records it read with it, so a careful child reads them again. */
    if (r->careful) {
        skipped(r, r->next, why);
        r->next++;
    }
    r->careful = 1;
    if (r->next < r->end) {
        start_child(r);
        if (r->fd < 0) {
            r->ended = 1;
            return hvd_error_set(err, HVD_ENOMEM, r->path, 0,
                                 "record %d: %s and no new reading process could start", r->next,
                                 why);
        }
    }
    return REC_RETRY;
}

static void skipped(hvd_evtx_reader *r, int index, const char *why)
{
    if (r->stats.skipped == 0) {
        r->stats.first_skipped = (uint64_t)index;
    }
    r->stats.skipped++;
    if (r->stats.skipped <= WARN_RECORDS) {
        hvd_log(r->log, HVD_LOG_WARNING, "%s: record %d: %s; skipped", r->path, index, why);
    }
}

int hvd_evtx_reader_open(hvd_evtx_reader **out, const char *path, const hvd_source_options *opt,
                         const hvd_logger *log, hvd_error *err)
{
    hvd_evtx_reader *r = NULL;
    libevtx_error_t *e = NULL;
    int rc;

    *out = NULL;
    r = hvd_calloc(1, sizeof(*r));
    if (!r) {
        return hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a reader");
    }
    r->log = log;
    r->fd = -1;
    r->include_recovered = opt && opt->include_recovered;
    r->path = hvd_strdup(path);
    r->xml_cap = XML_INITIAL;
    r->xml = hvd_malloc(r->xml_cap);
    if (!r->path || !r->xml) {
        rc = hvd_error_set(err, HVD_ENOMEM, path, 0, "cannot allocate a reader");
        goto fail;
    }
    rc = hvd_eventxml_create(&r->px, err);
    if (rc < 0) {
        goto fail;
    }
    if (opt && opt->resume && *opt->resume && parse_resume(opt->resume, &r->next) < 0) {
        rc = hvd_error_set(err, HVD_EINVAL, path, 0, "bad resume position '%s'", opt->resume);
        goto fail;
    }
    if (libevtx_file_initialize(&r->file, &e) != 1) {
        rc = libevtx_fail(err, HVD_ENOMEM, path, &e, "cannot start libevtx");
        goto fail;
    }
    if (libevtx_file_open(r->file, path, LIBEVTX_OPEN_READ, &e) != 1) {
        rc = libevtx_fail(err, HVD_ECORRUPT, path, &e, "cannot open as EVTX");
        libevtx_file_free(&r->file, NULL);
        goto fail;
    }
    if (libevtx_file_get_number_of_records(r->file, &r->nrecords, &e) != 1 ||
        libevtx_file_get_number_of_recovered_records(r->file, &r->nrecovered, &e) != 1) {
        rc = libevtx_fail(err, HVD_ECORRUPT, path, &e, "cannot count records");
        goto fail;
    }
    r->stats.records = (uint64_t)r->nrecords;
    r->stats.recovered = (uint64_t)r->nrecovered;
    r->stats.corrupted = libevtx_file_is_corrupted(r->file, NULL) == 1;
    r->stats.dirty = read_dirty_flag(path);
    r->stats.encoding = "";
    r->stats.host = "";
    if (r->stats.corrupted) {
        hvd_log(log, HVD_LOG_WARNING,
                "%s: libevtx reports damage (checksum or chunk counts); reading what it can", path);
    }
    /* next and end are ints written into the position token; the sum must not wrap. */
    r->end = r->nrecords;
    if (r->include_recovered && r->nrecovered > 0) {
        r->end = r->nrecovered > INT32_MAX - r->nrecords ? INT32_MAX : r->nrecords + r->nrecovered;
    }
    if (r->end - r->next >= CHILD_MIN) {
        start_child(r);
    }
    *out = r;
    return HVD_OK;
fail:
    hvd_evtx_reader_close(r);
    return rc;
}

int hvd_evtx_reader_next(hvd_evtx_reader *r, hvd_event *ev, hvd_error *err)
{
    while (r->next < r->end && !r->ended) {
        int index = r->next;
        int recovered;
        int status;
        uint64_t id = 0;
        size_t len = 0;
        hvd_error perr;

        if (r->fd >= 0) {
            status = next_from_child(r, &index, &id, &len, err);
            if (status < 0) {
                return status;
            }
            if (status == REC_END) {
                r->next = r->end;
                break;
            }
            if (status == REC_RETRY) {
                continue;
            }
        } else {
            status = read_record(r, index, &id, &len);
        }
        r->next = index + 1;
        recovered = index >= r->nrecords;
        if (status != REC_OK) {
            if (!recovered) {
                skipped(r, index,
                        status == REC_NO_RECORD ? "libevtx cannot parse it"
                                                : "libevtx cannot render it as XML");
            }
            continue;
        }
        memset(ev, 0, sizeof(*ev));
        hvd_error_clear(&perr);
        hvd_eventxml_scrub((char *)r->xml, len);
        if (hvd_eventxml_parse(r->px, NULL, (const char *)r->xml, len, ev, &perr) < 0) {
            if (!recovered) {
                skipped(r, index, perr.msg);
            }
            continue;
        }
        ev->kind = HVD_SOURCE_EVTX;
        ev->source_path = r->path;
        ev->record_id = id;
        ev->index = recovered ? (uint64_t)(index - r->nrecords) : (uint64_t)index;
        ev->recovered = recovered;
        ev->xml = (const char *)r->xml;
        r->stats.events++;
        return 1;
    }
    if (r->stats.skipped > WARN_RECORDS && !r->summarized) {
        hvd_log(r->log, HVD_LOG_WARNING, "%s: %" PRIu64 " of %d records could not be read", r->path,
                r->stats.skipped, r->nrecords);
    }
    r->summarized = 1;
    return 0;
}

const char *hvd_evtx_reader_position(hvd_evtx_reader *r)
{
    snprintf(r->position, sizeof(r->position), "evtx:next=%d", r->next);
    return r->position;
}

const hvd_source_stats *hvd_evtx_reader_stats(const hvd_evtx_reader *r)
{
    return &r->stats;
}

void hvd_evtx_reader_close(hvd_evtx_reader *r)
{
    if (!r) {
        return;
    }
    reap(r, !r->ended, NULL, 0);
    hvd_free(r->in);
    if (r->file) {
        libevtx_file_close(r->file, NULL);
        libevtx_file_free(&r->file, NULL);
    }
    hvd_eventxml_destroy(r->px);
    hvd_free(r->xml);
    hvd_free(r->path);
    hvd_free(r);
}
