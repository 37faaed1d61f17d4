/*
 * store: the keep stage. Diagnoses, the evidence behind them, incidents, per-file
 * checkpoints, and what input was already seen, in one SQLite file (WAL mode, so readers
 * such as 'hvdiag query' run beside the writer).
 *
 * Writes happen between hvd_store_begin() and hvd_store_commit(); a file's checkpoint, the
 * input it marked seen and the diagnoses it produced commit together, so a crash at any
 * moment loses or repeats nothing. Commit also regroups incidents when diagnoses changed.
 *
 * Strings handed to the store are borrowed for the call; strings the store hands out
 * (callbacks, hvd_store_get_source) are borrowed as each function says.
 */
#ifndef HVD_STORE_H
#define HVD_STORE_H

#include "diagnosis.h"
#include "error.h"
#include "event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hvd_store hvd_store;

enum {
    HVD_STORE_READONLY = 1, /* no writes, no migrations; the schema must exist and be current */
    HVD_STORE_UPGRADE = 2,  /* with READONLY: an older schema is first migrated by a
                               read-write open, when the file can be written */
};

/* The schema version this build writes (PRAGMA user_version). */
#define HVD_STORE_SCHEMA_VERSION 13

/* A diagnosis joins an incident of the same subject whose span, widened by this gap on
 * each side, covers it. */
#define HVD_STORE_INCIDENT_GAP (6 * 3600 * INT64_C(10000000))

/* Opens (creating and migrating as needed) the database at path; flags: 0 or
 * HVD_STORE_READONLY, with HVD_STORE_UPGRADE or not. On success *out owns it until
 * hvd_store_close(). An older schema is migrated in one transaction; a database written by a newer
 * hvdiag, or (read-only) one without the current schema, is refused. Errors name the path. */
int hvd_store_open(hvd_store **out, const char *path, int flags, hvd_error *err);
void hvd_store_close(hvd_store *st); /* NULL-safe; rolls back an open transaction */

/* Every write happens between begin (BEGIN IMMEDIATE) and commit. Commit flushes the marks
 * of seen input and regroups the incidents the changed diagnoses can touch (the others are
 * neither read nor written); on failure it rolls back.
 * Rollback forgets the writes and the marks made since begin. Begin fails on a read-only
 * store or when a transaction is already open; writes fail when none is open. */
int hvd_store_begin(hvd_store *st, hvd_error *err);
int hvd_store_commit(hvd_store *st, hvd_error *err);
void hvd_store_rollback(hvd_store *st); /* NULL-safe; harmless without a transaction */

/* Regroups now, inside the open transaction, the incidents of what changed since begin or
 * the last settle (when enough did), as commit would; commit then regroups only what
 * changes after. The incidents are the same either way: a long transaction calls it from
 * time to time so that regrouping holds what changed between two calls, not all it wrote. */
int hvd_store_settle(hvd_store *st, hvd_error *err);
/* 1 when hvd_store_settle() would leave the regrouping to the commit whatever is written
 * before it (the changes call for a pass over every diagnosis already), else 0; or a
 * negative code. A caller may then keep its writes for later too. */
int hvd_store_settle_waits(hvd_store *st, hvd_error *err);

/* --- seen input ----------------------------------------------------------------------
 * Re-reading a file, or an export that repeats old records, must add nothing twice, and
 * anything not read before is new, whatever order files come in.
 *
 * EVTX: a record is (host, channel, log instance, EventRecordID). Ids seen are kept as
 * merged intervals per instance, each with the times of the records at its two ends and the
 * span of times inside it. A record is a repeat when an instance holds its id and agrees on
 * its time: exactly at an interval's ends, within its span inside. A rebuilt host or a
 * cleared log restarts its ids with later times, so it agrees with no instance and is new.
 * The first record of the open transaction (a file) that an instance holds, or that extends
 * one of its intervals in time order, makes the file's new records marks of that instance;
 * a file that shares records with two instances joins them into one; a file that meets no
 * instance starts its own. Time 0 (unknown) agrees with anything, and so do intervals stored
 * before times were kept. Id 0 (unknown) is never seen and marking it does nothing.
 *
 * cluster.log: a line is (node, section, time, pid.tid, text). Assumption: a node writes
 * the lines of one section in time order and an export holds every line of its section
 * between its first and its last time. Each (node, section) keeps the time ranges files
 * covered, merged when they overlap or touch, with the hashes of the lines at exactly the
 * two ends of each range. A line strictly inside a range is a repeat, a line at an end is a
 * repeat when its hash is stored there, anything else is new. So a disjoint file costs no
 * per-line storage, an overlapping one adds exactly its lines outside what was covered, and
 * lines at one time with other text or pid.tid are other lines. The lines of the open
 * transaction (repeats too) form its run, merged into the ranges by
 * hvd_store_seen_break() or at commit; within the run, a line equal to one at the run's
 * first or last time is a repeat.
 *
 * seen returns 1 (stored before, or marked in the open transaction), 0, or a negative code.
 * mark needs an open transaction; marks reach the database at commit. */
int hvd_store_evtx_seen(hvd_store *st, const char *host, const char *channel, uint64_t erid,
                        hvd_time time, hvd_error *err);
int hvd_store_evtx_mark(hvd_store *st, const char *host, const char *channel, uint64_t erid,
                        hvd_time time, hvd_error *err);
int hvd_store_clusterlog_seen(hvd_store *st, const char *node, const char *section, hvd_time time,
                              uint32_t pid, uint32_t tid, const char *text, hvd_error *err);
int hvd_store_clusterlog_mark(hvd_store *st, const char *node, const char *section, hvd_time time,
                              uint32_t pid, uint32_t tid, const char *text, hvd_error *err);

/* Seen-and-mark for a reader's event (EVTX by host/channel/event_record_id/time, cluster.log
 * by host/channel/time/pid/tid/message). Sets *seen to 1 for a repeat, 0 for a new event,
 * which is then marked (so it needs an open transaction). A repeat still counts as read:
 * it joins the file to its EVTX instance and widens the cluster.log run. Other kinds are
 * never seen. */
int hvd_store_event_seen(hvd_store *st, const hvd_event *ev, int *seen, hvd_error *err);

/* Ends the open transaction's cluster.log runs here (a file ends, or lines between were
 * lost to damage): the next line starts a new run, so a gap is not taken as covered.
 * Needs an open transaction. */
int hvd_store_seen_break(hvd_store *st, hvd_error *err);

/* --- diagnoses ----------------------------------------------------------------------- */

/* Adds or updates (by key) a diagnosis and adds its new evidence. On update, first_time
 * becomes the min, last_time the max, count the larger of the stored and the given total
 * (the engine hands the running total, never a delta); title, cause, remedy, severity and
 * confidence take the new values; new related keys and entities are added. Evidence is
 * unique per (diagnosis, source path, record id, line). *changed (may be NULL) is set to 1
 * when anything in the database changed and left alone otherwise. */
int hvd_store_put_diagnosis(hvd_store *st, const hvd_diagnosis *d, int *changed, hvd_error *err);

/* --- sources ------------------------------------------------------------------------- */

/* The state of one input file. Strings are borrowed: from the caller for put, from the
 * store for get and list (see each). */
typedef struct hvd_store_source {
    const char *path;
    const char *kind; /* hvd_source_kind_name() */
    const char *host;
    uint64_t size;
    int64_t mtime;        /* seconds since 1970 */
    const char *position; /* hvd_source_position() token, opaque */
    uint64_t events;
    uint64_t skipped;
    uint64_t first_skipped;
    uint64_t recovered;
    int corrupted;
    int dirty;
    const char *encoding;
    const char *last_error;
    int quarantined; /* put ignores these two: see hvd_store_set_quarantine() */
    const char *quarantine_reason;
    /* Identity, for rotation and copytruncate detection: a changed inode, a size below the
     * saved offset or a different prefix hash means the file is not the one checkpointed. */
    uint64_t device;
    uint64_t inode;
    const char *head_hash;   /* hash of the first 4 KiB, as the caller writes it */
    uint64_t prefix_len;     /* bytes covered by prefix_hash (the saved offset) */
    const char *prefix_hash; /* hash of the bytes before the saved offset */
    const char *warnings;    /* summary of the file's warnings, or "" */
    hvd_time first_seen;     /* set by the store: first and latest checkpoint (wall clock) */
    hvd_time last_seen;
    uint64_t fresh;    /* events new to the store when read (all reads from the start) */
    uint64_t repeated; /* events already stored: fresh 0 and repeated > 0 is all repeats */
} hvd_store_source;

/* Records a file's checkpoint (insert or update by path), keeping its quarantine and
 * first_seen. Needs an open transaction. */
int hvd_store_put_source(hvd_store *st, const hvd_store_source *src, hvd_error *err);

/* Quarantines the file (reason non-NULL) or lifts it (reason NULL). Returns HVD_OK, or
 * HVD_ENOTFOUND for an unknown path. Needs an open transaction. */
int hvd_store_set_quarantine(hvd_store *st, const char *path, const char *reason, hvd_error *err);

/* Returns 1 and fills *out when the path is known, 0 when not, or a negative code. Strings
 * in *out are borrowed: valid until the next call on st. */
int hvd_store_get_source(hvd_store *st, const char *path, hvd_store_source *out, hvd_error *err);

/* Every known source, by path. Rows are borrowed for the call; nonzero stops the walk. */
int hvd_store_sources(hvd_store *st, int (*fn)(void *ud, const hvd_store_source *src), void *ud,
                      hvd_error *err);
/* One page of sources by path: those after 'after' (NULL: from the first), at most limit
 * (0: no limit). An index range scan: O(log n + limit). Rows as for hvd_store_sources(). */
int hvd_store_sources_page(hvd_store *st, const char *after, int64_t limit,
                           int (*fn)(void *ud, const hvd_store_source *src), void *ud,
                           hvd_error *err);

/* --- incidents ----------------------------------------------------------------------- */

/* Regroups every diagnosis into incidents now, reading them all: a repair (commit regroups
 * what changed, with the same result). Needs an open transaction.
 *
 * Grouping: a diagnosis's subject is its VM (vm_name and vm_id name the same VM when one
 * diagnosis carries both), else its host (short name, any case); a diagnosis without a VM
 * whose role (entity 'group') is the role of a correlation naming a VM, which explains it,
 * takes that VM (a role event shown to be a VM's is not its host's). Diagnoses of one subject
 * whose times lie within HVD_STORE_INCIDENT_GAP of each other form one incident; a
 * correlation pulls the diagnoses it explains into its incident. The root cause is the
 * correlation, else the most severe, then the earliest. The grouping depends only on the
 * set of diagnoses, not on the order they came in. An incident keeps its id while its root
 * cause (else one of its members) stays in it; merged-away incidents are deleted. */
int hvd_store_rebuild_incidents(hvd_store *st, hvd_error *err);

/* --- reading ------------------------------------------------------------------------- */

typedef struct hvd_incident {
    int64_t id;
    const char *subject_kind; /* "vm" or "host" */
    const char *subject;      /* VM name (else id), or host short name */
    const char *hosts;        /* comma-separated short names, sorted */
    hvd_time first_time;
    hvd_time last_time;
    hvd_severity severity; /* the highest of its diagnoses */
    const char *title;     /* the root cause's */
    const char *remedy;    /* the root cause's */
    int64_t diagnoses;     /* how many */
    int64_t root;          /* the root cause's diagnosis id */
} hvd_incident;

/* Filters incidents (an incident matches when one of its diagnoses does) and diagnoses.
 * NULL strings and zero bounds do not filter. */
typedef struct hvd_incident_filter {
    const char *vm;   /* vm name or id, any case */
    const char *host; /* short name or FQDN */
    const char *rule;
    int min_severity; /* hvd_severity; 0 includes benign */
    hvd_time since;   /* ends at or after */
    hvd_time until;   /* starts at or before */
    int64_t limit;    /* 0 for no limit */
    int64_t offset;
    const char *vm_id; /* vm id only */
    /* Keyset cursor: with 'after' set, only rows past (after_time, after_id) in the
     * listing's order, the last row of the previous page. Unlike an offset it stays right
     * while rows are added. */
    int after;
    hvd_time after_time;
    int64_t after_id;
} hvd_incident_filter;

typedef hvd_incident_filter hvd_diagnosis_filter;

typedef struct hvd_stored_diagnosis {
    int64_t id;
    const char *key;
    const char *kind; /* "signature" or "correlation" */
    const char *rule_id;
    const char *title;
    hvd_severity severity;
    const char *confidence;
    const char *cause;
    const char *remedy;
    const char *references; /* newline-separated URLs */
    const char *vm_name;
    const char *vm_id;
    const char *host;
    hvd_time first_time;
    hvd_time last_time;
    uint64_t count;
    int root;         /* the incident's root cause (the first of its diagnoses) */
    int64_t incident; /* 0 until grouped */
} hvd_stored_diagnosis;

/* Callbacks get borrowed rows, valid during the call; a nonzero return stops the walk.
 * Calls on other read functions from inside a callback are allowed. */

/* Incidents matching f (NULL: all), newest first (by first time, then id). By VM, host or
 * rule, a walk of that index newest first that stops once no incident not met yet can
 * enter the page: about the page's own diagnoses, whatever the store's size. */
int hvd_store_incidents(hvd_store *st, const hvd_incident_filter *f,
                        int (*fn)(void *ud, const hvd_incident *in), void *ud, hvd_error *err);
/* One incident: returns 1 after calling fn once, 0 when there is no such id, or < 0. */
int hvd_store_get_incident(hvd_store *st, int64_t id, int (*fn)(void *ud, const hvd_incident *in),
                           void *ud, hvd_error *err);
/* An incident's diagnoses, root cause first (a correlation), then by severity (highest
 * first), first time, the number of member diagnoses a correlation names (most first) and
 * key. */
int hvd_store_incident_diagnoses(hvd_store *st, int64_t incident,
                                 int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                                 hvd_error *err);
/* Where a page of an incident's diagnoses goes on: after the diagnosis with these values
 * (the last one of the previous page), in the order above. key is borrowed for the call. */
typedef struct hvd_incident_diag_cursor {
    int correlation; /* the kind is "correlation" */
    hvd_severity severity;
    hvd_time first_time;
    int64_t explains; /* a correlation's count (member diagnoses it names); else ignored */
    const char *key;
} hvd_incident_diag_cursor;
/* One page of them: those after 'after' (NULL: from the first), at most limit (0: all).
 * Sorts the incident's diagnoses: O(m log m) for an incident of m. */
int hvd_store_incident_diagnoses_page(hvd_store *st, int64_t incident,
                                      const hvd_incident_diag_cursor *after, int64_t limit,
                                      int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                                      hvd_error *err);
/* Diagnoses matching f (NULL: all), newest first (by first time, then id): each filter
 * combination reads its index in that order and stops at the page. */
int hvd_store_diagnoses(hvd_store *st, const hvd_diagnosis_filter *f,
                        int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                        hvd_error *err);
/* Diagnoses with an id above 'after', by id: what was added since a reader last looked.
 * Ids only grow; a diagnosis that grows keeps its id. */
int hvd_store_diagnoses_after(hvd_store *st, int64_t after,
                              int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                              hvd_error *err);
/* The diagnoses of rule whose entity 'name' has 'value' (any case; when host, a value
 * whose first label is 'value', itself one label: some others may come too) and whose span
 * overlaps [lo, hi]: the latest first, at most limit (0: all). Cost: one walk of the
 * entities' index over the value's entries. */
int hvd_store_diagnoses_joined(hvd_store *st, const char *rule, const char *name, const char *value,
                               int host, hvd_time lo, hvd_time hi, int64_t limit,
                               int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                               hvd_error *err);
/* 1 when a diagnosis of rule is stored, 0 when none is, or a negative code. */
int hvd_store_rule_stored(hvd_store *st, const char *rule, hvd_error *err);
/* A diagnosis's entities, in the order they were first stored. Rows are borrowed for the
 * call; nonzero stops the walk. */
int hvd_store_diagnosis_entities(hvd_store *st, int64_t diagnosis,
                                 int (*fn)(void *ud, const hvd_entity *ent), void *ud,
                                 hvd_error *err);
/* A diagnosis's evidence, oldest first (by time, source path, record id, line). */
int hvd_store_diagnosis_evidence(hvd_store *st, int64_t diagnosis,
                                 int (*fn)(void *ud, const hvd_evidence *ev), void *ud,
                                 hvd_error *err);
/* Where a page of evidence goes on: after the event with these values (the last one of the
 * previous page). source_path is borrowed for the call. */
typedef struct hvd_evidence_cursor {
    hvd_time time;
    const char *source_path;
    uint64_t record_id;
    uint64_t line;
} hvd_evidence_cursor;
/* One page of it: the events after 'after' (NULL: from the first), at most limit (0: all). */
int hvd_store_diagnosis_evidence_page(hvd_store *st, int64_t diagnosis,
                                      const hvd_evidence_cursor *after, int64_t limit,
                                      int (*fn)(void *ud, const hvd_evidence *ev), void *ud,
                                      hvd_error *err);
/* How many evidence events a diagnosis has (0 for an unknown id): O(that many). */
int hvd_store_evidence_count(hvd_store *st, int64_t diagnosis, int64_t *out, hvd_error *err);

typedef struct hvd_store_counts {
    int64_t sources;
    int64_t diagnoses;
    int64_t incidents;
    int64_t evidence;
    int64_t events_marked;    /* input events marked seen, all time */
    int64_t benign_incidents; /* of the incidents, those only of benign diagnoses */
} hvd_store_counts;

int hvd_store_get_counts(hvd_store *st, hvd_store_counts *out, hvd_error *err);

/* Diagnoses and incidents stored, by severity (index: hvd_severity, benign 0 to critical
 * 4). Reads both tables whole: O(diagnoses + incidents). */
#define HVD_STORE_SEVERITIES 5
int hvd_store_severity_counts(hvd_store *st, int64_t diagnoses[HVD_STORE_SEVERITIES],
                              int64_t incidents[HVD_STORE_SEVERITIES], hvd_error *err);

/* Everything the database holds about diagnoses, evidence, incidents and seen input, one
 * fact a line in a stable order, without row ids, incident ids or wall-clock times (source
 * rows are left out: they are bookkeeping of each read). Two databases built from the
 * same input in any order dump the same. Lines are borrowed for the call. */
int hvd_store_dump(hvd_store *st, int (*fn)(void *ud, const char *line), void *ud, hvd_error *err);

/* --- outbox --------------------------------------------------------------------------
 * Every incident that is created or changes gets one outbox row in the transaction that
 * changed it (triggers in the schema, so nothing that writes incidents can forget it). Each
 * output the daemon runs has a cursor: the seq of the last row it delivered. Rows all
 * cursors have passed are pruned; while no output has a cursor, nothing is written and
 * revisions do not count (they go on from where they were once one has). (incident,
 * revision) names one change for good: a receiver can drop a record it has seen. The
 * outbox is not part of hvd_store_dump().
 *
 * These calls write outside hvd_store_begin()/commit() (each is one statement or its own
 * transaction) and fail when a transaction is open. */

typedef struct hvd_outbox_record {
    int64_t seq;              /* position in the outbox; grows with each commit */
    int64_t incident;         /* incident id */
    int64_t revision;         /* 1, 2, ... per incident id */
    const char *change;       /* "new", "severity" (severity changed) or "update" */
    hvd_time changed_at;      /* wall clock of the commit */
    hvd_severity severity;    /* the incident's, after the change */
    int previous_severity;    /* before a change; -1 for a new incident */
    const char *subject_kind; /* as hvd_incident */
    const char *subject;
    const char *hosts;
    hvd_time first_time;
    hvd_time last_time;
    const char *title;
    const char *remedy;
    int64_t diagnoses;
    const char *rule; /* the root cause's rule id, key, host and VM ('' when unknown) */
    const char *root_key;
    const char *host;
    const char *vm_name;
    const char *vm_id;
} hvd_outbox_record;

/* Marks names[0..n) as the outputs that run now, in one transaction: an output without a
 * cursor gets one at the end of the outbox (it sees the changes from now on), cursors of
 * outputs no longer named are dropped (they would keep rows from being pruned). */
int hvd_store_outbox_attach(hvd_store *st, const char *const *names, size_t n, hvd_error *err);

/* The cursor of output name in *seq; HVD_ENOTFOUND when it has none. */
int hvd_store_outbox_cursor(hvd_store *st, const char *name, int64_t *seq, hvd_error *err);

/* Moves the cursor of output name forward to seq (never back). */
int hvd_store_outbox_ack(hvd_store *st, const char *name, int64_t seq, hvd_error *err);

/* Rows after seq 'after', oldest first, at most limit (> 0). Rows are borrowed for the
 * call; nonzero stops the walk. An index range scan: O(log n + limit). */
int hvd_store_outbox_read(hvd_store *st, int64_t after, int64_t limit,
                          int (*fn)(void *ud, const hvd_outbox_record *r), void *ud,
                          hvd_error *err);

/* The highest seq ever written, in *end (0: none). Seqs are consecutive and rows are only
 * pruned behind every cursor, so end - cursor is the number of rows an output has yet to
 * deliver. */
int hvd_store_outbox_end(hvd_store *st, int64_t *end, hvd_error *err);

/* Deletes the rows every cursor has passed (all rows when there is no cursor); the number
 * deleted in *deleted (may be NULL). */
int hvd_store_outbox_prune(hvd_store *st, int64_t *deleted, hvd_error *err);

/* A 128-bit hash of hvd_store_dump() as 32 hex digits and a NUL. */
#define HVD_STORE_DIGEST_SIZE 33
int hvd_store_digest(hvd_store *st, char out[HVD_STORE_DIGEST_SIZE], hvd_error *err);

#endif
