/*
 * needs: which EVTX events a rule set can match, by provider, channel and event id. The EVTX
 * reader decodes a record's System part first and, when no rule can match it, stops there:
 * the record still counts (and is marked seen) but its EventData is never decoded.
 *
 * An EVTX rule that names no provider and no event id is tried on every event (the engine's
 * fallback list) and makes every record needed; hvd_needs_unkeyed() names such rules so that
 * `hvdiag rules check` can warn about them.
 */
#ifndef HVD_NEEDS_H
#define HVD_NEEDS_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hvd_needs hvd_needs;
struct hvd_ruleset; /* rules.h: readers see this header, not the rules */

/*
 * What the enabled rules of rs (and its message table) can match. rs is borrowed and must
 * outlive the set (its event-id ranges are used in place). On success *out owns the set
 * until hvd_needs_destroy(). Returns HVD_OK or HVD_ENOMEM.
 * Cost: O(rules × providers of a rule) and a sort.
 */
int hvd_needs_create(hvd_needs **out, const struct hvd_ruleset *rs, hvd_error *err);
void hvd_needs_destroy(hvd_needs *n); /* NULL-safe */

/* 1 when every EVTX event may match (an unkeyed rule is enabled): nothing can be skipped. */
int hvd_needs_everything(const hvd_needs *n);

/*
 * 1 when an EVTX event with this provider (case-insensitive), channel (compared as rules
 * compare channels) and event id may match a rule, 0 when no rule can match it. NULL
 * strings count as "". Cost: O(log providers + rules filed under the provider).
 */
int hvd_needs_evtx(const hvd_needs *n, const char *provider, const char *channel,
                   uint16_t event_id);

/*
 * The answers of hvd_needs_evtx() for the (provider, channel, event id) triples met last,
 * held by value by one reader (all zero: empty), so a file's records, which repeat a few
 * triples, cost a hash and a compare each. Valid for one set: empty it (memset to zero)
 * when the set changes. Triples longer than a slot holds are answered without it.
 */
#define HVD_NEEDS_MEMO_SLOTS 64  /* a power of two */
#define HVD_NEEDS_MEMO_TEXT  120 /* provider and channel bytes a slot holds, NULs included */
typedef struct hvd_needs_memo {
    struct hvd_needs_memo_slot {
        uint8_t used;
        uint8_t answer;
        uint8_t plen; /* provider length; the channel follows its NUL */
        uint8_t clen;
        uint16_t event_id;
        char text[HVD_NEEDS_MEMO_TEXT];
    } slot[HVD_NEEDS_MEMO_SLOTS];
} hvd_needs_memo;

/* hvd_needs_evtx() through the memo m. Cost: O(length of the names) when the triple is in
 * m, else that of hvd_needs_evtx(). */
int hvd_needs_evtx_memo(const hvd_needs *n, hvd_needs_memo *m, const char *provider,
                        const char *channel, uint16_t event_id);

/* 1 when rule i of rs (enabled or not) can match EVTX events but names no provider and no
 * event id, so the engine tries it on every EVTX event; 0 otherwise (correlations,
 * cluster.log rules, keyed rules, i out of range). */
int hvd_needs_unkeyed(const struct hvd_ruleset *rs, size_t i);

#endif
