/* All SQL text of the store. Times are hvd_time (100-ns ticks since 1970, UTC). */
#ifndef HVD_STORE_SQL_H
#define HVD_STORE_SQL_H

/* Schema version 1. Migrations are applied in order; user_version is the last applied. */
static const char *const store_migrations[] = {
    /* 1 */
    "CREATE TABLE sources("
    " path TEXT PRIMARY KEY, kind TEXT NOT NULL, host TEXT NOT NULL DEFAULT '',"
    " size INTEGER NOT NULL DEFAULT 0, mtime INTEGER NOT NULL DEFAULT 0,"
    " position TEXT NOT NULL DEFAULT '', events INTEGER NOT NULL DEFAULT 0,"
    " skipped INTEGER NOT NULL DEFAULT 0, first_skipped INTEGER NOT NULL DEFAULT 0,"
    " recovered INTEGER NOT NULL DEFAULT 0, corrupted INTEGER NOT NULL DEFAULT 0,"
    " dirty INTEGER NOT NULL DEFAULT 0, encoding TEXT NOT NULL DEFAULT '',"
    " last_error TEXT NOT NULL DEFAULT '', quarantined INTEGER NOT NULL DEFAULT 0,"
    " quarantine_reason TEXT NOT NULL DEFAULT '');"
    /* EVTX records seen: closed intervals of EventRecordID per host and channel. */
    "CREATE TABLE evtx_seen(host TEXT NOT NULL, channel TEXT NOT NULL, lo INTEGER NOT NULL,"
    " hi INTEGER NOT NULL, PRIMARY KEY(host, channel, lo)) WITHOUT ROWID;"
    /* cluster.log lines seen: high-water time per node and section, and the hashes of the
     * lines at exactly that time. */
    "CREATE TABLE clog_seen(node TEXT NOT NULL, section TEXT NOT NULL, hwm INTEGER NOT NULL,"
    " hashes TEXT NOT NULL, PRIMARY KEY(node, section)) WITHOUT ROWID;"
    "CREATE TABLE diagnoses("
    " id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, rule TEXT NOT NULL,"
    " title TEXT NOT NULL, severity INTEGER NOT NULL, confidence TEXT NOT NULL,"
    " cause TEXT NOT NULL, remedy TEXT NOT NULL, refs TEXT NOT NULL,"
    " vm_name TEXT NOT NULL DEFAULT '', vm_id TEXT NOT NULL DEFAULT '',"
    " host TEXT NOT NULL DEFAULT '', first_time INTEGER NOT NULL, last_time INTEGER NOT NULL,"
    " count INTEGER NOT NULL, incident INTEGER);"
    "CREATE TABLE diagnosis_entities(diagnosis INTEGER NOT NULL REFERENCES diagnoses(id),"
    " name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(diagnosis, name));"
    "CREATE TABLE diagnosis_related(diagnosis INTEGER NOT NULL REFERENCES diagnoses(id),"
    " member TEXT NOT NULL, PRIMARY KEY(diagnosis, member));"
    "CREATE TABLE evidence("
    " id INTEGER PRIMARY KEY, diagnosis INTEGER NOT NULL REFERENCES diagnoses(id),"
    " kind TEXT NOT NULL, path TEXT NOT NULL, record_id INTEGER NOT NULL,"
    " event_record_id INTEGER NOT NULL, line INTEGER NOT NULL, byte_offset INTEGER NOT NULL,"
    " time INTEGER NOT NULL, host TEXT NOT NULL, provider TEXT NOT NULL, channel TEXT NOT NULL,"
    " component TEXT NOT NULL, event_id INTEGER NOT NULL, level INTEGER NOT NULL,"
    " message TEXT NOT NULL, UNIQUE(diagnosis, path, record_id, line));"
    "CREATE TABLE incidents("
    " id INTEGER PRIMARY KEY, subject_kind TEXT NOT NULL, subject TEXT NOT NULL,"
    " hosts TEXT NOT NULL, first_time INTEGER NOT NULL, last_time INTEGER NOT NULL,"
    " severity INTEGER NOT NULL, title TEXT NOT NULL, remedy TEXT NOT NULL,"
    " root INTEGER, diagnoses INTEGER NOT NULL);"
    "CREATE INDEX diagnoses_vm_name ON diagnoses(vm_name COLLATE NOCASE);"
    "CREATE INDEX diagnoses_vm_id ON diagnoses(vm_id COLLATE NOCASE);"
    "CREATE INDEX diagnoses_host ON diagnoses(host COLLATE NOCASE);"
    "CREATE INDEX diagnoses_rule ON diagnoses(rule);"
    "CREATE INDEX diagnoses_time ON diagnoses(first_time, last_time);"
    "CREATE INDEX diagnoses_incident ON diagnoses(incident);"
    "CREATE INDEX entities_value ON diagnosis_entities(name, value COLLATE NOCASE);"
    "CREATE INDEX evidence_diagnosis ON evidence(diagnosis, time);"
    "CREATE INDEX incidents_time ON incidents(first_time, last_time);"
    "CREATE INDEX incidents_subject ON incidents(subject COLLATE NOCASE);",
};

enum {
    SQL_DIAG_FIND,
    SQL_DIAG_INSERT,
    SQL_DIAG_UPDATE,
    SQL_ENTITY_PUT,
    SQL_RELATED_PUT,
    SQL_EVIDENCE_PUT,
    SQL_EVTX_LOAD,
    SQL_EVTX_DELETE,
    SQL_EVTX_INSERT,
    SQL_CLOG_LOAD,
    SQL_CLOG_PUT,
    SQL_SOURCE_GET,
    SQL_SOURCE_PUT,
    SQL_INCIDENT_DIAGS,
    SQL_EVIDENCE_OF,
    SQL_DIAGS_AFTER,
    SQL_COUNT
};

static const char *const store_sql[SQL_COUNT] = {
    [SQL_DIAG_FIND] = "SELECT id, first_time, last_time, count, title, remedy, cause"
                      " FROM diagnoses WHERE key = ?1",
    [SQL_DIAG_INSERT] = "INSERT INTO diagnoses(key, kind, rule, title, severity, confidence,"
                        " cause, remedy, refs, vm_name, vm_id, host, first_time, last_time,"
                        " count) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [SQL_DIAG_UPDATE] = "UPDATE diagnoses SET first_time = ?2, last_time = ?3, count = ?4,"
                        " title = ?5, cause = ?6, remedy = ?7 WHERE id = ?1",
    [SQL_ENTITY_PUT] = "INSERT OR REPLACE INTO diagnosis_entities(diagnosis, name, value)"
                       " VALUES(?1, ?2, ?3)",
    [SQL_RELATED_PUT] = "INSERT OR IGNORE INTO diagnosis_related(diagnosis, member) VALUES(?1, ?2)",
    [SQL_EVIDENCE_PUT] = "INSERT OR IGNORE INTO evidence(diagnosis, kind, path, record_id,"
                         " event_record_id, line, byte_offset, time, host, provider, channel,"
                         " component, event_id, level, message)"
                         " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [SQL_EVTX_LOAD] = "SELECT lo, hi FROM evtx_seen WHERE host = ?1 AND channel = ?2 ORDER BY lo",
    [SQL_EVTX_DELETE] = "DELETE FROM evtx_seen WHERE host = ?1 AND channel = ?2",
    [SQL_EVTX_INSERT] = "INSERT INTO evtx_seen(host, channel, lo, hi) VALUES(?1, ?2, ?3, ?4)",
    [SQL_CLOG_LOAD] = "SELECT hwm, hashes FROM clog_seen WHERE node = ?1 AND section = ?2",
    [SQL_CLOG_PUT] = "INSERT OR REPLACE INTO clog_seen(node, section, hwm, hashes)"
                     " VALUES(?1, ?2, ?3, ?4)",
    [SQL_SOURCE_GET] = "SELECT path, kind, host, size, mtime, position, events, skipped,"
                       " first_skipped, recovered, corrupted, dirty, encoding, last_error,"
                       " quarantined, quarantine_reason FROM sources WHERE path = ?1",
    [SQL_SOURCE_PUT] = "INSERT INTO sources(path, kind, host, size, mtime, position, events,"
                       " skipped, first_skipped, recovered, corrupted, dirty, encoding,"
                       " last_error, quarantined, quarantine_reason)"
                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"
                       " ON CONFLICT(path) DO UPDATE SET kind = ?2, host = ?3, size = ?4,"
                       " mtime = ?5, position = ?6, events = ?7, skipped = ?8,"
                       " first_skipped = ?9, recovered = ?10, corrupted = ?11, dirty = ?12,"
                       " encoding = ?13, last_error = ?14, quarantined = ?15,"
                       " quarantine_reason = ?16",
    [SQL_INCIDENT_DIAGS] = "SELECT id, key, kind, rule, title, severity, confidence, cause,"
                           " remedy, refs, vm_name, vm_id, host, first_time, last_time, count"
                           " FROM diagnoses WHERE incident = ?1"
                           " ORDER BY kind = 'correlation' DESC, severity DESC, first_time, key",
    [SQL_EVIDENCE_OF] = "SELECT kind, path, record_id, event_record_id, line, byte_offset,"
                        " time, host, provider, channel, component, event_id, level, message"
                        " FROM evidence WHERE diagnosis = ?1 ORDER BY time, id",
    [SQL_DIAGS_AFTER] = "SELECT id, key, kind, rule, title, severity, confidence, cause,"
                        " remedy, refs, vm_name, vm_id, host, first_time, last_time, count"
                        " FROM diagnoses WHERE id > ?1 ORDER BY id",
};

/* Incidents are rebuilt from scratch; these read what the grouping needs. */
static const char store_sql_all_diagnoses[] =
    "SELECT id, key, kind, vm_name, vm_id, host, first_time, last_time, severity, title, remedy"
    " FROM diagnoses ORDER BY first_time, key";
static const char store_sql_all_related[] =
    "SELECT r.diagnosis, d.id FROM diagnosis_related r JOIN diagnoses d ON d.key = r.member";

#endif
