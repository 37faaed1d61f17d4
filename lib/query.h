/*
 * query: the answer stage. One JSON request line in, one JSON response line out, over the
 * store; it never sees a socket, so hvdiagd's socket and 'hvdiag query' without a daemon
 * give the same answers.
 *
 * Requests: {"op":"incidents", "vm", "host", "rule", "severity", "since", "until", "limit",
 * "offset", "cursor"}, {"op":"diagnoses", the same}, {"op":"incident","id":N, "limit",
 * "cursor", "evidence"}, {"op":"evidence","diagnosis":N, "limit", "cursor"},
 * {"op":"sources", "limit", "cursor"}, {"op":"rules"}, {"op":"health"}, {"op":"ping"}.
 * Responses: {"ok":true,...} or {"ok":false,"error":{"code","message"}} with code
 * bad_request, too_large, unknown_op, not_found or internal.
 *
 * Listings are paged: at most "limit" rows (incidents and diagnoses: default 50; sources:
 * default and most HVD_QUERY_MAX_PAGE), and "next_cursor" when more follow; passing it
 * back as "cursor" gives the next page. A cursor is opaque to clients; a sources cursor is
 * "s:" followed by the last path sent (hvdiagd pages its file table by it too).
 *
 * "incident" is paged the same way over the incident's diagnoses (default 50 a page). Each
 * diagnosis carries its first "evidence" events (default HVD_QUERY_EVIDENCE, at most
 * HVD_QUERY_MAX_PAGE; 0: none); one with more also has "evidence_more" (how many more) and
 * "evidence_cursor", the "cursor" of an "evidence" request that lists the rest.
 */
#ifndef HVD_QUERY_H
#define HVD_QUERY_H

#include "rules.h"
#include "store.h"

#include <stddef.h>

#define HVD_QUERY_MAX_REQUEST (64 * 1024)
#define HVD_QUERY_MAX_PAGE    1000 /* rows in one answer of a listing */
#define HVD_QUERY_EVIDENCE    20   /* evidence events with each diagnosis of an incident */

typedef struct hvd_query_context {
    hvd_store *store;         /* borrowed */
    const hvd_ruleset *rules; /* borrowed; NULL: "rules" is not available */
    /* Extra members for "health" (the daemon's counters) as a JSON object text, or NULL. */
    const char *(*health)(void *ud);
    void *ud;
    /* 0, or about the most bytes of rows one page of a listing holds: a page ends early
     * (with its next_cursor) once its rows reach this much JSON. */
    size_t max_answer;
    /* NULL, or where the rows of an "incidents" or "diagnoses" page go instead of the
     * answer, which then holds the rest (ok, next_cursor, next_offset) and no rows: for a
     * caller in the same process that prints them as they come. Rows are borrowed for the
     * call; max_answer does not apply to them. */
    void (*incident_row)(void *row_ud, const hvd_incident *in);
    void (*diagnosis_row)(void *row_ud, const hvd_stored_diagnosis *d);
    void *row_ud;
} hvd_query_context;

/* Answers one request (len bytes, no newline needed). Returns the response as one line of
 * JSON without a newline; caller frees with hvd_free(). NULL only when out of memory. */
char *hvd_query_handle(const hvd_query_context *q, const char *line, size_t len);

struct json_t; /* jansson's */

/* As hvd_query_handle(), the response as a JSON object instead of its text, for a caller
 * in the same process that reads it ('hvdiag query' on the database), which would
 * otherwise parse the text back. Caller frees with json_decref(). NULL only when out of
 * memory. */
struct json_t *hvd_query_answer(const hvd_query_context *q, const char *line, size_t len);

#endif
