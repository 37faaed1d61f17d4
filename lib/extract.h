/*
 * extract: the names an event's text holds. Hyper-V and Failover Clustering write the VM, the
 * peer host or the resource into their message text rather than into fields of their own
 * (Hyper-V-High-Availability 21502 has the VM and the source host only inside its third
 * insertion string, "Virtual machine migration operation for 'SQL01' failed at migration
 * source 'HV-NODE01'."). A table of the documented message texts with named insertion
 * points finds them, for every rule at once: the engine gives each diagnosis these names
 * first, and a rule's own <extract> may replace them.
 *
 * The table is data shipped beside the rules (the XML files in rules/names/, format in
 * rules/FORMAT.md). Part of the match stage: between the reader's event and the engine's rules.
 */
#ifndef HVD_EXTRACT_H
#define HVD_EXTRACT_H

#include "diagnosis.h"
#include "error.h"
#include "event.h"
#include "log.h"

#include <stddef.h>

typedef struct hvd_extract_table hvd_extract_table;

/* Loads every *.xml file in dir, sorted by name. A missing dir gives an empty table. Every
 * problem is logged as "file:line: message", the first is in err, and any problem rejects
 * the table (HVD_ERULE or HVD_ENOMEM). On success *out owns the table until
 * hvd_extract_destroy(). */
int hvd_extract_load(hvd_extract_table **out, const char *dir, const hvd_logger *log,
                     hvd_error *err);

void hvd_extract_destroy(hvd_extract_table *t); /* NULL-safe */

size_t hvd_extract_count(const hvd_extract_table *t); /* templates held; 0 for NULL */

/* Puts up to cap distinct entity names the table gives into names (borrowed from t, in
 * table order) and returns how many there are in all: rules may use these in their texts
 * without an <extract> of their own. Cost: O(templates * params^2). */
size_t hvd_extract_entities(const hvd_extract_table *t, const char **names, size_t cap);

typedef struct hvd_extractor hvd_extractor;

/* An extractor holds the scratch memory of matching (one per thread). t is borrowed and
 * must outlive it. */
int hvd_extractor_create(hvd_extractor **out, const hvd_extract_table *t, hvd_error *err);
void hvd_extractor_destroy(hvd_extractor *x); /* NULL-safe */

/*
 * The names ev's text holds. Templates of ev's provider (and event id, when they name ids)
 * are tried in file order; the first template to give an entity a non-empty value wins, so
 * the answer depends on the event alone. Returns the number of entities in *out (borrowed:
 * valid until the next call on x), 0 for none, or HVD_ENOMEM.
 * Cost: O(templates of the table) provider comparisons and one regex search per template of
 * the provider.
 */
int hvd_extractor_find(hvd_extractor *x, const hvd_event *ev, const hvd_entity **out);

#endif
