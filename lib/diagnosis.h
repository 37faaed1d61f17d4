/*
 * hvd_diagnosis: what the rule engine concluded, handed to the store and the CLI. A plain
 * struct: all pointers are borrowed from the engine for the duration of the callback that
 * receives it; a consumer that keeps anything copies it.
 */
#ifndef HVD_DIAGNOSIS_H
#define HVD_DIAGNOSIS_H

#include "event.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hvd_severity {
    HVD_SEVERITY_NONE = 0, /* benign: a known-harmless event, recorded but not a problem */
    HVD_SEVERITY_INFO = 1,
    HVD_SEVERITY_WARNING = 2,
    HVD_SEVERITY_ERROR = 3,
    HVD_SEVERITY_CRITICAL = 4,
} hvd_severity;

/* "benign", "info", "warning", "error", "critical"; and back (-1 for an unknown name). */
const char *hvd_severity_name(hvd_severity s);
int hvd_severity_parse(const char *name);

/* Entity names the engine and store know by heart; rules may define others. */
#define HVD_ENTITY_VM_NAME    "vm_name"
#define HVD_ENTITY_VM_ID      "vm_id"
#define HVD_ENTITY_HOST       "host"
#define HVD_ENTITY_PEER_HOST  "peer_host"
#define HVD_ENTITY_RESOURCE   "resource"
#define HVD_ENTITY_CSV_VOLUME "csv_volume"
#define HVD_ENTITY_ERROR_CODE "error_code"
#define HVD_ENTITY_SPN_CLASS  "spn_class"

typedef struct hvd_entity {
    const char *name;
    const char *value;
} hvd_entity;

/* One event behind a diagnosis: enough to find it again and to show it. */
typedef struct hvd_evidence {
    hvd_source_kind kind;
    const char *source_path;
    uint64_t record_id;       /* EVTX record identifier; 0 for cluster.log */
    uint64_t event_record_id; /* EVTX System/EventRecordID; 0 for cluster.log */
    uint64_t line;            /* cluster.log line; 0 for EVTX */
    uint64_t byte_offset;     /* cluster.log line offset; 0 for EVTX */
    hvd_time time;
    const char *host;
    const char *provider;
    const char *channel;
    const char *component; /* cluster.log component or "" */
    uint16_t event_id;
    uint8_t level;
    const char *message; /* excerpt, at most a few hundred bytes */
    /* EVTX RenderingInfo as the sending host rendered it (forwarded events): level, task,
     * opcode and channel texts; "" when the record has none. With any of them the message
     * is the sender's rendered message (cut like any message), else the insert strings. */
    const char *level_text;
    const char *task_text;
    const char *opcode_text;
    const char *channel_text;
} hvd_evidence;

typedef enum hvd_diagnosis_kind {
    HVD_DIAGNOSIS_SIGNATURE = 1,   /* made from events */
    HVD_DIAGNOSIS_CORRELATION = 2, /* made from other diagnoses; names a root cause */
} hvd_diagnosis_kind;

typedef struct hvd_diagnosis {
    /* Stable identity: the engine emits a diagnosis again with the same key when its count,
     * last time or evidence grows; the store updates instead of adding. */
    const char *key;
    hvd_diagnosis_kind kind;
    const char *rule_id;
    const char *title;
    hvd_severity severity;
    const char *confidence; /* "high", "medium", "low" */
    const char *cause;      /* filled template */
    const char *remedy;     /* filled template; first line is the summary */
    const char *const *references;
    size_t nreferences;
    const hvd_entity *entities;
    size_t nentities;
    hvd_time first_time;
    hvd_time last_time;
    uint64_t count;               /* events (or member diagnoses) folded into this one */
    const hvd_evidence *evidence; /* evidence not handed over before for this key */
    size_t nevidence;
    /* 0: every evidence event handed over is kept; else the evidence_keep earliest by
     * (time, path, record, line), whatever order they were handed over in. */
    size_t evidence_keep;
    const char *const *related; /* correlation: keys of the diagnoses it explains */
    size_t nrelated;
} hvd_diagnosis;

/* The value of the named entity, or NULL. */
const char *hvd_diagnosis_entity(const hvd_diagnosis *d, const char *name);

#endif
