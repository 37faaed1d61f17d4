/*
 * evtx_reader: an exported .evtx file, read record by record with libevtx 20181227.
 *
 * libevtx has no accessor for Channel, TimeCreated, Task, Keywords or named Data, so every
 * record is rendered to XML by libevtx and parsed by eventxml; the record identifier and
 * the recovered flag come from libevtx itself. Records libevtx cannot parse (forwarded-event
 * exports, damaged chunks) are skipped and counted, never fatal: a file where every record
 * fails reports N skipped and 0 events, which is not the same as an empty file. Records
 * recovered from free space are mostly junk or duplicates, so they are returned only when
 * asked for. One record is held at a time, so memory does not grow with the file.
 *
 * libevtx ignores a partial last chunk (a file still being copied), so 'tail' needs nothing
 * here: the records of that chunk appear when the file is read again once complete.
 */
#include "evtx_reader.h"

#include "alloc.h"
#include "eventxml.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libevtx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XML_INITIAL  (64u * 1024)
#define XML_MAX      (16u * 1024 * 1024)
#define WARN_RECORDS 5 /* records named one by one in the log; the rest are summed up */

struct hvd_evtx_reader {
    libevtx_file_t *file;
    char *path;
    int nrecords;
    int nrecovered;
    int next; /* next index: records first, then recovered ones */
    int include_recovered;
    uint8_t *xml;
    size_t xml_cap;
    hvd_eventxml *px;
    hvd_source_stats stats;
    char position[48];
    int summarized; /* the end-of-file summary was logged */
    const hvd_logger *log;
};

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
    *out = r;
    return HVD_OK;
fail:
    hvd_evtx_reader_close(r);
    return rc;
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

int hvd_evtx_reader_next(hvd_evtx_reader *r, hvd_event *ev, hvd_error *err)
{
    while (r->next < r->nrecords + (r->include_recovered ? r->nrecovered : 0)) {
        libevtx_record_t *rec = NULL;
        int index = r->next++;
        int recovered = index >= r->nrecords;
        int got;
        uint64_t id = 0;
        size_t len = 0;
        hvd_error perr;

        got = recovered ? libevtx_file_get_recovered_record_by_index(r->file, index - r->nrecords,
                                                                     &rec, NULL)
                        : libevtx_file_get_record_by_index(r->file, index, &rec, NULL);
        if (got != 1) {
            if (!recovered) {
                skipped(r, index, "libevtx cannot parse it");
            }
            continue;
        }
        libevtx_record_get_identifier(rec, &id, NULL);
        if (render_xml(r, rec, &len) < 0) {
            libevtx_record_free(&rec, NULL);
            if (!recovered) {
                skipped(r, index, "libevtx cannot render it as XML");
            }
            continue;
        }
        libevtx_record_free(&rec, NULL);
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
    (void)err;
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
    if (r->file) {
        libevtx_file_close(r->file, NULL);
        libevtx_file_free(&r->file, NULL);
    }
    hvd_eventxml_destroy(r->px);
    hvd_free(r->xml);
    hvd_free(r->path);
    hvd_free(r);
}
