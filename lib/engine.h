/*
 * engine: events in, diagnoses out. Matches each event against the candidate rules of a
 * rule set, extracts entities, applies thresholds and quiet periods (judged by event time,
 * so files may come in any order), and makes correlation diagnoses from other diagnoses.
 */
#ifndef HVD_ENGINE_H
#define HVD_ENGINE_H

#include "diagnosis.h"
#include "error.h"
#include "event.h"
#include "rules.h"

#include <stdint.h>

typedef struct hvd_engine hvd_engine;

/* Receives each diagnosis as it is made, and again (same key) each time it grows.
 * d and everything it points to are borrowed for the call. */
typedef void (*hvd_engine_emit)(void *ud, const hvd_diagnosis *d);

typedef struct hvd_engine_stats {
    uint64_t events;     /* events fed */
    uint64_t candidates; /* rules an event was tested against, summed */
    uint64_t predicates; /* predicate evaluations */
    uint64_t matches;    /* event-rule matches */
    uint64_t diagnoses;  /* distinct diagnosis keys made */
    uint64_t emitted;    /* calls to emit (updates included) */
    uint64_t groups;     /* time-grouping states held now */
    uint64_t rendered;   /* cluster.log lines recognised as rendered events (msgtable) */
} hvd_engine_stats;

/* rs is borrowed and must outlive the engine. On success *out owns the engine. */
int hvd_engine_create(hvd_engine **out, const hvd_ruleset *rs, hvd_engine_emit emit, void *ud,
                      hvd_error *err);

/* Matches one event. Returns HVD_OK or HVD_ENOMEM. */
int hvd_engine_feed(hvd_engine *e, const hvd_event *ev, hvd_error *err);

/*
 * After a restart: how far back (event time, before the newest stored diagnosis) stored
 * diagnoses still matter to a new engine: as far as it keeps its own state (at least a
 * week, at least twice the longest span a rule looks at), since files come in any order.
 */
hvd_time hvd_engine_prime_span(const hvd_engine *e);

/*
 * Gives the engine a diagnosis made before it started (stored before a restart), as if it
 * had made it itself, without emitting it again: correlations can still join it (but
 * combinations among primed ones, made before, are not made again), and a signature
 * diagnosis stays open, so matches within its quiet period fold into it (count counts on
 * from count). A rule the set does not know is ignored. Returns HVD_OK or HVD_ENOMEM.
 */
int hvd_engine_prime(hvd_engine *e, const char *rule_id, const char *key, const hvd_entity *ents,
                     size_t nents, hvd_time first, hvd_time last, uint64_t count, hvd_error *err);

/* End of input. Nothing is pending in this version; kept so callers mark the end. */
int hvd_engine_flush(hvd_engine *e, hvd_error *err);

const hvd_engine_stats *hvd_engine_get_stats(const hvd_engine *e);

void hvd_engine_destroy(hvd_engine *e); /* NULL-safe */

#endif
