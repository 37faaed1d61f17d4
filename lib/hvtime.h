/* hvd_time (100-ns ticks since 1970 UTC): conversions to and from FILETIME and text. */
#ifndef HVD_HVTIME_H
#define HVD_HVTIME_H

#include "event.h"

#include <stddef.h>
#include <stdint.h>

#define HVD_TICKS_PER_SECOND INT64_C(10000000)
/* 100-ns ticks between 1601-01-01 (FILETIME epoch) and 1970-01-01. */
#define HVD_FILETIME_EPOCH_DELTA INT64_C(116444736000000000)

/* FILETIME to ticks; a FILETIME past the range of hvd_time (year 30828+) gives INT64_MAX. */
hvd_time hvd_time_from_filetime(uint64_t filetime);

/* t + d, saturated to [INT64_MIN, INT64_MAX]. Event times come from input, so any sum of
 * an event time and a duration uses this instead of '+'. */
hvd_time hvd_time_add(hvd_time t, int64_t d);

/* hi - lo as an unsigned count of ticks (0 when hi < lo); never overflows. */
uint64_t hvd_time_span(hvd_time lo, hvd_time hi);

/* Ticks for a calendar time in UTC; fields are not range-checked beyond what timegm does. */
hvd_time hvd_time_from_utc(int year, int month, int day, int hour, int min, int sec,
                           int64_t ticks_fraction);

/* A time in [0, one day) is a time of day whose date is unknown: a cluster.log excerpt
 * pasted with its dates cut off and no dated line before it. It is written with '?' for
 * the date ("????-??-??T21:16:17.2560000Z") and read back the same way; nothing in the
 * Windows logs hvdiag reads is dated 1970-01-01. */
#define HVD_TIME_UNDATED_END (86400 * HVD_TICKS_PER_SECOND)

/* 1 when t has a date, 0 for a time of day alone. */
int hvd_time_has_date(hvd_time t);

/* "2024-03-05T10:00:01.1234567Z" (7 fraction digits) into buf; returns buf.
 * cap must be at least 32. */
/* As hvd_time_format(), with a calendar date even for a time of day alone: for keys that
 * must not change with how times are shown. */
char *hvd_time_format_key(hvd_time t, char *buf, size_t cap);
char *hvd_time_format(hvd_time t, char *buf, size_t cap);

/*
 * Parses an ISO-8601 UTC time as Windows and users write it: "2024-03-05T10:00:01Z",
 * "2024-03-05T10:00:01.123456789Z", "2024-03-05 10:00:01", "2024-03-05". A trailing
 * "+hh:mm"/"-hh:mm" offset is applied. "????-??-??T21:16:17Z" is a time of day without a
 * date (see HVD_TIME_UNDATED_END). Returns 0 and sets *out, or -1.
 */
int hvd_time_parse(const char *s, hvd_time *out);

#endif
