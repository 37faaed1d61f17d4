/*
 * hvd_event: one normalised event, whatever file it came from. Readers fill it; the rule
 * engine and the store read it. All strings are NUL-terminated UTF-8 and borrowed from the
 * reader that filled the event (valid until that reader's next call or close); a consumer
 * that keeps anything copies it.
 */
#ifndef HVD_EVENT_H
#define HVD_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum hvd_source_kind {
    HVD_SOURCE_UNKNOWN = 0,
    HVD_SOURCE_EVTX = 1,
    HVD_SOURCE_CLUSTERLOG = 2,
} hvd_source_kind;

/* Windows levels; cluster.log level words map to the same numbers. */
enum {
    HVD_LEVEL_LOGALWAYS = 0,
    HVD_LEVEL_CRITICAL = 1,
    HVD_LEVEL_ERROR = 2,   /* cluster.log ERR */
    HVD_LEVEL_WARNING = 3, /* cluster.log WARN */
    HVD_LEVEL_INFO = 4,    /* cluster.log INFO */
    HVD_LEVEL_VERBOSE = 5, /* cluster.log DBG */
};

typedef struct hvd_field {
    const char *name;  /* EVTX Data@Name or UserData leaf name; cluster.log "pid", "tid", ... */
    const char *value; /* never NULL; "" for an empty value */
} hvd_field;

/* 100-ns ticks since 1970-01-01 UTC. */
typedef int64_t hvd_time;

typedef struct hvd_event {
    hvd_source_kind kind;
    const char *source_path; /* the file it came from */

    /* Position in the source. EVTX: record_id is the record header's identifier (equal to
     * EventRecordID in sane files), index the 0-based record index, recovered set for a
     * record libevtx recovered from free space. cluster.log: line is 1-based, byte_offset
     * the offset of the line's first byte in the file. */
    uint64_t record_id;
    uint64_t index;
    int recovered;
    uint64_t line;
    uint64_t byte_offset;

    hvd_time time;             /* EVTX TimeCreated; cluster.log line time converted to UTC */
    const char *host;          /* EVTX Computer; cluster.log node; "" when unknown */
    const char *provider;      /* EVTX Provider@Name; cluster.log "cluster.log" */
    const char *provider_guid; /* "{6066F867-...}" or "" */
    const char *channel;       /* EVTX Channel; cluster.log section tag ("Operational") or "" */
    uint16_t event_id;
    uint16_t qualifiers;
    uint8_t level; /* HVD_LEVEL_* */
    uint8_t version;
    uint16_t task;
    uint8_t opcode;
    uint64_t keywords;
    uint64_t event_record_id; /* EVTX System/EventRecordID; 0 for cluster.log */
    const char *user_sid;     /* EVTX Security@UserID or "" */

    /* cluster.log only ("" for EVTX); also present in fields[]. */
    const char *component;  /* "RCM", "RES", ... without brackets; "" when the line has none */
    const char *level_word; /* "INFO", "WARN", "ERR", "DBG" */
    /* cluster.log: the line's process and thread (also in fields[]); EVTX: System/Execution
     * ProcessID and ThreadID, 0 when absent or unreadable. */
    uint32_t pid;
    uint32_t tid;

    /* Named fields: EVTX EventData/Data@Name (or Data0.. for unnamed Data, or the leaves
     * of the single UserData child), cluster.log pid/tid/tag/component/level. */
    const hvd_field *fields;
    size_t nfields;

    /* EVTX: insert strings joined with "\n"; cluster.log: the text after the component
     * (continuation lines joined with "\n"). */
    const char *message;

    /* EVTX: the record rendered as XML by libevtx; NULL for cluster.log. */
    const char *xml;

    /* EVTX RenderingInfo (forwarded events carry it): the level, task, opcode and channel
     * as the sending host rendered them ("Error", "Live Migration", "Info", "System"); the
     * rendered message is in message. NULL or "" when the record has none. */
    const char *level_text;
    const char *task_text;
    const char *opcode_text;
    const char *channel_text;

    /* EVTX: 1 when only the System part was decoded because no loaded rule can match the
     * event (hvd_source_options.needs): fields, message and the texts above are empty. */
    int system_only;
} hvd_event;

/* The value of the named field (case-sensitive), or NULL when absent. */
const char *hvd_event_field(const hvd_event *ev, const char *name);

const char *hvd_source_kind_name(hvd_source_kind kind); /* "evtx", "clusterlog", "unknown" */

#endif
