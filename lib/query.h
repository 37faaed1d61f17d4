/*
 * query: the answer stage. One JSON request line in, one JSON response line out, over the
 * store; it never sees a socket, so hvdiagd's socket and 'hvdiag query' without a daemon
 * give the same answers.
 *
 * Requests: {"op":"incidents", "vm", "host", "rule", "severity", "since", "until", "limit",
 * "offset"}, {"op":"incident","id":N}, {"op":"sources"}, {"op":"rules"}, {"op":"health"},
 * {"op":"ping"}. Responses: {"ok":true,...} or {"ok":false,"error":{"code","message"}} with
 * code bad_request, too_large, unknown_op, not_found or internal.
 */
#ifndef HVD_QUERY_H
#define HVD_QUERY_H

#include "rules.h"
#include "store.h"

#include <stddef.h>

#define HVD_QUERY_MAX_REQUEST (64 * 1024)

typedef struct hvd_query_context {
    hvd_store *store;         /* borrowed */
    const hvd_ruleset *rules; /* borrowed; NULL: "rules" is not available */
    /* Extra members for "health" (the daemon's counters) as a JSON object text, or NULL. */
    const char *(*health)(void *ud);
    void *ud;
} hvd_query_context;

/* Answers one request (len bytes, no newline needed). Returns the response as one line of
 * JSON without a newline; caller frees with hvd_free(). NULL only when out of memory. */
char *hvd_query_handle(const hvd_query_context *q, const char *line, size_t len);

#endif
