/*
 * store: the keep stage. Diagnoses, the evidence behind them, incidents, per-file
 * checkpoints, and what input was already seen, in one SQLite file.
 */
#ifndef HVD_STORE_H
#define HVD_STORE_H

#include "diagnosis.h"
#include "error.h"
#include "event.h"

#include <stdint.h>

typedef struct hvd_store hvd_store;

enum {
    HVD_STORE_READONLY = 1, /* no writes, no migrations; the schema must exist */
};

/* Opens (creating and migrating as needed) the database at path. On success *out owns it
 * until hvd_store_close(). A database written by a newer hvdiag is refused. */
int hvd_store_open(hvd_store **out, const char *path, int flags, hvd_error *err);
void hvd_store_close(hvd_store *st); /* NULL-safe; rolls back an open transaction */

/* Every write happens between begin (BEGIN IMMEDIATE) and commit; rollback forgets the
 * writes and the marks of seen input made since begin. */
int hvd_store_begin(hvd_store *st, hvd_error *err);
int hvd_store_commit(hvd_store *st, hvd_error *err);
void hvd_store_rollback(hvd_store *st);

/* Checks whether an input event was stored before and marks it seen. EVTX events are
 * identified by (host, channel, EventRecordID); cluster.log lines by node, section, time,
 * pid.tid and text, under the rule that a node's lines in one section come in time order.
 * Sets *seen to 1 for a repeat, 0 for a new event. */
int hvd_store_event_seen(hvd_store *st, const hvd_event *ev, int *seen, hvd_error *err);

/* Adds or updates (by key) a diagnosis and adds its new evidence. *changed (may be NULL)
 * is set when anything in the database changed. */
int hvd_store_put_diagnosis(hvd_store *st, const hvd_diagnosis *d, int *changed, hvd_error *err);

/* The state of one input file. Strings are borrowed: from the caller for put, from the
 * store (valid until the next store call) for get. */
typedef struct hvd_store_source {
    const char *path;
    const char *kind;
    const char *host;
    uint64_t size;
    int64_t mtime;
    const char *position;
    uint64_t events;
    uint64_t skipped;
    uint64_t first_skipped;
    uint64_t recovered;
    int corrupted;
    int dirty;
    const char *encoding;
    const char *last_error;
    int quarantined;
    const char *quarantine_reason;
} hvd_store_source;

/* Records a file's state; unchanged values leave the row as it was. */
int hvd_store_put_source(hvd_store *st, const hvd_store_source *src, hvd_error *err);
/* Returns 1 and fills *out when the path is known, 0 when not, or a negative code. */
int hvd_store_get_source(hvd_store *st, const char *path, hvd_store_source *out, hvd_error *err);

/* Every known source, by path. Rows are borrowed for the call; nonzero stops the walk. */
int hvd_store_sources(hvd_store *st, int (*fn)(void *ud, const hvd_store_source *src), void *ud,
                      hvd_error *err);

/* Regroups diagnoses into incidents: by VM (else host), split by time gaps, correlations
 * pulling their members in. Deterministic: the same diagnoses give the same incidents. */
int hvd_store_rebuild_incidents(hvd_store *st, hvd_error *err);

/* --- reading ------------------------------------------------------------------------ */

typedef struct hvd_incident {
    int64_t id;
    const char *subject_kind; /* "vm" or "host" */
    const char *subject;
    const char *hosts; /* comma-separated */
    hvd_time first_time;
    hvd_time last_time;
    hvd_severity severity;
    const char *title;
    const char *remedy; /* the root cause's remedy */
    int64_t diagnoses;
} hvd_incident;

typedef struct hvd_incident_filter {
    const char *vm;   /* vm name or id; NULL for any */
    const char *host; /* short name or FQDN */
    const char *rule;
    int min_severity; /* hvd_severity; 0 includes benign */
    hvd_time since;   /* 0 for no bound */
    hvd_time until;   /* 0 for no bound */
    int64_t limit;    /* 0 for no limit */
    int64_t offset;
} hvd_incident_filter;

typedef struct hvd_stored_diagnosis {
    int64_t id;
    const char *key;
    const char *kind;
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
    int root; /* a correlation: the incident's root cause */
} hvd_stored_diagnosis;

/* Callbacks get borrowed rows, valid during the call; a nonzero return stops the walk. */
int hvd_store_incidents(hvd_store *st, const hvd_incident_filter *f,
                        int (*fn)(void *ud, const hvd_incident *in), void *ud, hvd_error *err);
/* An incident's diagnoses, root cause first, then by severity and time. */
int hvd_store_incident_diagnoses(hvd_store *st, int64_t incident,
                                 int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                                 hvd_error *err);
/* Diagnoses with an id above 'after', by id: what was added since a reader last looked
 * (ids only grow; a diagnosis that grows keeps its id). */
int hvd_store_diagnoses_after(hvd_store *st, int64_t after,
                              int (*fn)(void *ud, const hvd_stored_diagnosis *d), void *ud,
                              hvd_error *err);
int hvd_store_diagnosis_evidence(hvd_store *st, int64_t diagnosis,
                                 int (*fn)(void *ud, const hvd_evidence *ev), void *ud,
                                 hvd_error *err);

typedef struct hvd_store_counts {
    int64_t sources;
    int64_t diagnoses;
    int64_t incidents;
    int64_t evidence;
} hvd_store_counts;

int hvd_store_get_counts(hvd_store *st, hvd_store_counts *out, hvd_error *err);

#endif
