/*
 * msgtable: rendered event messages back to events. Since WS2016 a node's cluster.log carries
 * its System and FailoverClustering/Operational events as text lines, without provider or
 * event id ("[System] ... Cluster node 'N2' was removed from the active failover cluster
 * membership. ..."). A table of the documented message texts, with their %1..%n insertion
 * points named like the event's EventData fields, turns such a line back into the event it
 * was rendered from, so one rule fires on the EVTX event and on its cluster.log line.
 *
 * The table is data shipped beside the rules (one XML file a provider and channel in
 * rules/messages/, format in rules/FORMAT.md). A message may carry localized texts of the
 * same event (<text xml:lang="de">), whose insertion points name the same fields, in the
 * order the language puts them.
 */
#ifndef HVD_MSGTABLE_H
#define HVD_MSGTABLE_H

#include "error.h"
#include "event.h"
#include "log.h"

#include <stddef.h>

typedef struct hvd_msgtable hvd_msgtable;

/* Loads every *.xml file in dir, sorted by name. A missing dir gives an empty table. Every
 * problem is logged as "file:line: message" and the first is in err; any problem rejects the
 * table. On success *out owns the table until hvd_msgtable_destroy(). */
int hvd_msgtable_load(hvd_msgtable **out, const char *dir, const hvd_logger *log, hvd_error *err);

void hvd_msgtable_destroy(hvd_msgtable *t); /* NULL-safe */

size_t hvd_msgtable_count(const hvd_msgtable *t); /* message templates held; 0 for NULL */
/* A piece of template i's text that every line it recognises holds (ASCII, compared without
 * case), "" when it has none; borrowed, valid until destroy. For the rules' prefilter. */
const char *hvd_msgtable_literal(const hvd_msgtable *t, size_t i);

/* The channel of template i: the tag of the cluster.log lines it recognises ("System");
 * borrowed, valid until destroy; "" past the end. */
const char *hvd_msgtable_channel(const hvd_msgtable *t, size_t i);

/* The provider and event id of template i (i < hvd_msgtable_count()): the provider is
 * borrowed from the table. */
void hvd_msgtable_entry(const hvd_msgtable *t, size_t i, const char **provider, uint16_t *event_id);

/* What one recognised line says. Strings are borrowed from the matcher and the event given
 * (valid until the next match on m, and while ev's strings are). */
typedef struct hvd_msgtable_match {
    const char *provider;
    const char *channel;
    const char *lang; /* the language of the text that matched ("de"); NULL for English */
    uint16_t event_id;
    uint8_t level;
    const hvd_field *fields; /* the event's own fields, then the named insertion strings */
    size_t nfields;
} hvd_msgtable_match;

typedef struct hvd_msgmatcher hvd_msgmatcher;

/* A matcher holds the scratch memory of matching (one per thread). t is borrowed and must
 * outlive it. */
int hvd_msgmatcher_create(hvd_msgmatcher **out, const hvd_msgtable *t, hvd_error *err);
void hvd_msgmatcher_destroy(hvd_msgmatcher *m); /* NULL-safe */

/*
 * Recognises a cluster.log event (kind clusterlog, no event id) whose section is a channel of
 * the table and whose message starts with a known message text; or an EVTX event with a
 * rendered message and no fields (a forwarded event that carries only rendered text) whose
 * message is a text of its own provider and event id. Returns 1 and fills *out, 0 when the
 * event is not such a line or event, or HVD_ENOMEM.
 * Texts are tried in file order, each English text before its localized ones.
 * Cost: O(templates) compares and at most O(templates of the channel, or of the provider
 * and id, that start with the message's first letter) regex matches, each anchored at the
 * start of the message.
 */
int hvd_msgmatcher_match(hvd_msgmatcher *m, const hvd_event *ev, hvd_msgtable_match *out);

#endif
