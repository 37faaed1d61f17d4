/*
 * engine: events in, diagnoses out. Matches each event against the candidate rules of a
 * rule set, extracts entities, applies thresholds and quiet periods (judged by event time:
 * one diagnosis per group and quiet period, keyed by the period's start, so files may come
 * in any order, split anywhere), and makes correlation diagnoses from other diagnoses.
 *
 * A kept diagnosis or group is used for an event when it lies within the rule's span of
 * that event's own time, whatever was read before. Memory holds what lies near the events
 * being read (far state goes once enough is held) and is bounded by counts (least
 * recently used goes first); what goes is loaded again from the store through the loader
 * (see hvd_engine_set_loader()) when an event or a search reaches its time, so dropping
 * changes no result, except matches still short of a threshold: only the count bounds drop
 * those.
 */
#ifndef HVD_ENGINE_H
#define HVD_ENGINE_H

#include "diagnosis.h"
#include "error.h"
#include "event.h"
#include "rules.h"

#include <stdint.h>

typedef struct hvd_engine hvd_engine;

/* Receives each diagnosis as it is made, and again (same key) when it grows: at once while
 * it gains evidence, else (only count and span grow) once with what it has by then, at the
 * latest at hvd_engine_flush() or before it is dropped from memory. d and everything it points
 * to are borrowed for the call. Returns HVD_OK, or a negative
 * HVD_E* code that stops the engine: the feed that made d returns that code. */
typedef int (*hvd_engine_emit)(void *ud, const hvd_diagnosis *d);

/* Gives the engine (with hvd_engine_prime()) every stored diagnosis of rule rule_id whose
 * span [first, last] overlaps [lo, hi] (giving others too is harmless). Returns HVD_OK or a
 * negative code with err set. */
typedef int (*hvd_engine_load)(void *ud, const char *rule_id, hvd_time lo, hvd_time hi,
                               hvd_error *err);

/* Gives the engine (with hvd_engine_prime()) every stored diagnosis of rule rule_id whose
 * entity 'entity' has 'value' (any case; when host, a value whose first label is 'value':
 * it is one label) and whose span overlaps [lo, hi] (giving others too is harmless).
 * Returns HVD_OK or a negative code with err set. */
typedef int (*hvd_engine_load_joined)(void *ud, const char *rule_id, const char *entity,
                                      const char *value, int host, hvd_time lo, hvd_time hi,
                                      hvd_error *err);

/* 1 when the store holds a diagnosis of rule rule_id, 0 when it holds none, or a negative
 * code with err set. */
typedef int (*hvd_engine_stored)(void *ud, const char *rule_id, hvd_error *err);

typedef struct hvd_engine_stats {
    uint64_t events;     /* events fed */
    uint64_t candidates; /* rules an event was tested against, summed */
    uint64_t predicates; /* predicate evaluations */
    uint64_t matches;    /* event-rule matches */
    uint64_t diagnoses;  /* distinct diagnosis keys made */
    uint64_t emitted;    /* calls to emit (updates included) */
    uint64_t groups;     /* time-grouping states held now */
    uint64_t rendered;   /* cluster.log lines recognised as rendered events (msgtable) */
    uint64_t kept;       /* diagnoses kept for correlation now */
    uint64_t evicted;    /* groups and kept diagnoses dropped over the memory bounds */
    uint64_t loads;      /* calls to the loader */
    uint64_t limit_hits; /* regex matches stopped by the PCRE2 match or depth limit */
} hvd_engine_stats;

/* rs is borrowed and must outlive the engine. On success *out owns the engine. */
int hvd_engine_create(hvd_engine **out, const hvd_ruleset *rs, hvd_engine_emit emit, void *ud,
                      hvd_error *err);

/*
 * Sets the loader (NULL: none) that gives back stored diagnoses. Before a match of rule R
 * at time t folds, the engine asks for R's stored diagnoses overlapping [t - S, t + S] (S:
 * R's quiet period or threshold window); before partners of a diagnosis spanning [a, b]
 * are searched, for each member rule of its correlations those overlapping [a - W, b + W]
 * (W: the correlation's window); in hours of event time it has not asked for yet for that
 * rule (asked again once state from them was dropped). So a new engine (after a restart
 * or a rollback) needs no priming up front, and sees exactly the stored diagnoses an
 * engine that never stopped would still hold.
 */
void hvd_engine_set_loader(hvd_engine *e, hvd_engine_load load, void *ud);

/*
 * Sets, after hvd_engine_set_loader() (same ud), a loader by join value, and 'stored' to
 * tell whether the store holds any diagnosis of a rule (asked now, once per rule that can
 * use it: while it held none and the engine dropped none, the loader is not asked for the
 * rule). Returns HVD_OK, or the code 'stored' returned (then no loader by value is set).
 * With them, a rule
 * whose every correlation reaches each role through its joins has its stored partners
 * asked for by the value a search looks up, within the correlation's window, instead of
 * by time alone; so its kept diagnoses stay in memory only near the events being read,
 * and a long window (a day) holds no more memory than a short one. NULL: none.
 */
int hvd_engine_set_joined_loader(hvd_engine *e, hvd_engine_load_joined load,
                                 hvd_engine_stored stored, hvd_error *err);

/* Matches one event. Returns HVD_OK, HVD_ENOMEM, or the code emit or the loader returned
 * (err set by them; the engine then holds state it may not have stored: destroy it). */
int hvd_engine_feed(hvd_engine *e, const hvd_event *ev, hvd_error *err);

/*
 * Gives the engine a diagnosis made before it started (stored before a restart), as if it
 * had made it itself, without emitting it again: correlations can still join it (but
 * combinations among primed ones, made before, are not made again), and a signature
 * diagnosis stays open, so later matches of its quiet period fold into it (count counts on
 * from count). A rule the set does not know is ignored. Returns HVD_OK or HVD_ENOMEM.
 */
int hvd_engine_prime(hvd_engine *e, const char *rule_id, const char *key, const hvd_entity *ents,
                     size_t nents, hvd_time first, hvd_time last, uint64_t count, hvd_error *err);

/* Emits every diagnosis that grew since it was last emitted (see hvd_engine_emit): call it
 * before the emitted diagnoses are committed or read. Returns HVD_OK or the code emit
 * returned (then destroy the engine). */
int hvd_engine_flush(hvd_engine *e, hvd_error *err);

const hvd_engine_stats *hvd_engine_get_stats(const hvd_engine *e);

/* Rules whose regexes hit the PCRE2 match or depth limit (counted as no match) since the
 * last call: calls fn once per such rule with the hits since then. Cost: O(rules). */
void hvd_engine_limit_report(hvd_engine *e,
                             void (*fn)(void *ud, const char *rule_id, uint64_t hits,
                                        uint64_t total),
                             void *ud);

void hvd_engine_destroy(hvd_engine *e); /* NULL-safe */

#endif
