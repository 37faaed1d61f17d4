/*
 * hvd_source: one input file, whatever its kind, read as a stream of hvd_event. It detects
 * the kind from the content (EVTX signature, else cluster.log text) and hands the work to
 * evtx_reader or clusterlog_reader, like Redis' rio hands I/O to a backend.
 */
#ifndef HVD_SOURCE_H
#define HVD_SOURCE_H

#include "error.h"
#include "event.h"
#include "log.h"
#include "prefilter.h"

#include <stdint.h>

/* Which decoder reads EVTX files. */
typedef enum hvd_evtx_decoder {
    HVD_EVTX_DEFAULT = 0, /* the default below */
    HVD_EVTX_LIBEVTX = 1, /* libevtx renders XML, eventxml parses it: the reference */
    HVD_EVTX_NATIVE = 2,  /* hvdiag's own BinXML decoder (evtx_native) */
} hvd_evtx_decoder;

/* The default: the native decoder gives libevtx's events for every record libevtx reads
 * (tests evtx_decoder_diff_*), reads the records libevtx cannot, and is far faster. */
#define HVD_EVTX_DECODER_DEFAULT HVD_EVTX_NATIVE

/* "libevtx" or "native" (case-sensitive) into *out; returns 0, or -1 for anything else. */
int hvd_evtx_decoder_parse(const char *name, hvd_evtx_decoder *out);
const char *hvd_evtx_decoder_name(hvd_evtx_decoder d); /* "libevtx", "native" */

typedef struct hvd_source_options {
    int include_recovered; /* EVTX: also return records recovered from free space (marked) */
    const char *resume;    /* a token from hvd_source_position(); NULL reads from the start */
    int tail;              /* the file may still grow: an unterminated last line (cluster.log)
                              or a partial last chunk (EVTX) is left for a later read */
    const char *host_hint; /* host when the file does not name one; NULL derives it from the
                              file name ("<node>_cluster.log") */
    hvd_evtx_decoder evtx_decoder; /* EVTX: which decoder reads it */
    /* EVTX, own decoder: what the rules can match (needs.h; borrowed, must outlive the
     * source). A record none can match is decoded up to its System part only and returned
     * with system_only set. NULL (and the libevtx reader) decode every record whole. */
    const struct hvd_needs *needs;
    /* cluster.log: only events holding one of the literals of prefilter(prefilter_arg) are
     * returned whole; the others only move the reader's state on. Called only when the file
     * is a cluster.log, so a filter compiled at first use (hvd_ruleset_prefilter()) costs an
     * EVTX-only run nothing. NULL, or a NULL return: every event. */
    const hvd_line_prefilter *(*prefilter)(const void *prefilter_arg);
    const void *prefilter_arg;
} hvd_source_options;

typedef struct hvd_source_stats {
    uint64_t events;        /* events read so far: returned, or passed over (filtered) */
    uint64_t filtered;      /* cluster.log events passed over: no prefilter literal in them */
    uint64_t skipped;       /* EVTX records or cluster.log lines that could not be read */
    uint64_t first_skipped; /* record index or line number of the first one skipped */
    uint64_t recovered;     /* EVTX recovered records seen (returned only if asked) */
    uint64_t records;       /* EVTX records libevtx counts in the file */
    uint64_t bad_bytes;     /* cluster.log invalid byte sequences replaced with U+FFFD */
    int corrupted;          /* EVTX: libevtx flags the file corrupted (CRC, counts) */
    int dirty;              /* EVTX: the file header says dirty */
    const char *encoding;   /* cluster.log: "utf-16le", "utf-8", "windows-1252"; else "" */
    const char *host;       /* host the whole file is from, when it says so; else "" */
    uint64_t system_only;   /* EVTX events returned with System only (see needs) */
} hvd_source_stats;

typedef struct hvd_source hvd_source;

/* How many leading bytes hvd_source_detect_head() looks at. */
#define HVD_SOURCE_DETECT_HEAD 512

/* The first bytes of a file as read to detect its kind: enough to tell cluster.log lines
 * from other text (hvd_clusterlog_looks_like()) as well. */
#define HVD_SOURCE_HEAD 1024
typedef struct {
    unsigned char bytes[HVD_SOURCE_HEAD];
    size_t len;
} hvd_source_head;

/* The kind of a file whose first len bytes are head (at most HVD_SOURCE_DETECT_HEAD are
 * looked at): HVD_SOURCE_EVTX for "ElfFile\0", HVD_SOURCE_CLUSTERLOG for text (a UTF-16LE
 * BOM, or no NUL at an even offset), HVD_SOURCE_UNKNOWN for binary data or len 0. */
hvd_source_kind hvd_source_detect_head(const void *head, size_t len);

/* The kind of the file at path, from its first bytes: HVD_SOURCE_EVTX for "ElfFile\0",
 * HVD_SOURCE_CLUSTERLOG for text, HVD_SOURCE_UNKNOWN with err set for anything else
 * (including unreadable files). head, when not NULL, receives the bytes read. */
hvd_source_kind hvd_source_detect(const char *path, hvd_source_head *head, hvd_error *err);

/* Opens path. On success *out owns the open file until hvd_source_close(). opt and log may
 * be NULL; both are borrowed and must outlive the source. */
int hvd_source_open(hvd_source **out, const char *path, const hvd_source_options *opt,
                    const hvd_logger *log, hvd_error *err);

/* Returns 1 and fills *ev, 0 at the end, or a negative HVD_E* code for an error that ends
 * the file. A record or line that cannot be read is skipped, counted in the stats and
 * logged at warning level; it is not an error. Strings in *ev are borrowed: valid until the
 * next call or close. */
int hvd_source_next(hvd_source *s, hvd_event *ev, hvd_error *err);

/* Where the stream stands after the last event returned: a short printable token that
 * hvd_source_options.resume accepts. Borrowed, valid until the next call or close. */
const char *hvd_source_position(hvd_source *s);

hvd_source_kind hvd_source_get_kind(const hvd_source *s);
const char *hvd_source_path(const hvd_source *s);
/* A read-only descriptor of the very file the reader opened (the path may name another file
 * by now): fstat() it or pread() it to identify what was read. Borrowed, valid until close;
 * never read with read() or lseek(). */
int hvd_source_fd(const hvd_source *s);
const hvd_source_stats *hvd_source_get_stats(const hvd_source *s);

void hvd_source_close(hvd_source *s); /* NULL-safe */

#endif
