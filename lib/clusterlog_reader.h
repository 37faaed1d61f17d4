/* clusterlog_reader: a cluster.log text file (cluster log /g, Get-ClusterLog), line by line. */
#ifndef HVD_CLUSTERLOG_READER_H
#define HVD_CLUSTERLOG_READER_H

#include "source.h"

#include <stddef.h>

typedef struct hvd_clusterlog_reader hvd_clusterlog_reader;

/* On success *out owns the open file until hvd_clusterlog_reader_close(). */
int hvd_clusterlog_reader_open(hvd_clusterlog_reader **out, const char *path,
                               const hvd_source_options *opt, const hvd_logger *log,
                               hvd_error *err);
/* Returns 1 and fills *ev, 0 at end of file, or a negative HVD_E* code.
 * Strings in *ev are borrowed: valid until the next call or close. */
int hvd_clusterlog_reader_next(hvd_clusterlog_reader *r, hvd_event *ev, hvd_error *err);
/* As hvd_clusterlog_reader_open(), on len bytes at data (borrowed; must outlive the reader).
 * name stands for the file in events and messages. For rule examples, tests and fuzzing. */
int hvd_clusterlog_reader_open_mem(hvd_clusterlog_reader **out, const char *name, const void *data,
                                   size_t len, const hvd_source_options *opt, const hvd_logger *log,
                                   hvd_error *err);
/* Where the stream stands: the next unread line, as a token hvd_source_options.resume takes:
 * "clog:off=<byte offset>;line=<lines before it>;enc=<utf-8|utf-16le|windows-1252>;
 * tz=<minutes>;havetz=<0|1>;lt=<0|1>;host=<%-escaped>;sec=<none|cluster|hdr|ev>;num=<0|1>;
 * day=<days since 1970 or -1>;tod=<ticks>". Borrowed, valid until the next call or close. */
const char *hvd_clusterlog_reader_position(hvd_clusterlog_reader *r);
const hvd_source_stats *hvd_clusterlog_reader_stats(const hvd_clusterlog_reader *r);
void hvd_clusterlog_reader_close(hvd_clusterlog_reader *r); /* NULL-safe */

/* Reports whether the first len bytes of a text file (UTF-8, ANSI or UTF-16LE) hold the
 * cluster.log grammar: a "[=== Name ===]" section marker, a "pid.tid::YYYY/MM/DD-" line
 * prefix (8 hex digits each), or a time-only line "HH:MM:SS.mmm LEVEL". For telling a
 * pasted excerpt saved as .txt from other text. Cost: O(len). */
int hvd_clusterlog_looks_like(const void *head, size_t len);

#endif
