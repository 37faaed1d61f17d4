/*
 * All SQL text of the store. Times are hvd_time (100-ns ticks since 1970, UTC); text columns
 * are never NULL ('' when unknown).
 *
 * Schema (version 13):
 *   sources             one row per input path: identity (device, inode, size, mtime, hash of
 *                       the first 4 KiB, hash of the bytes before the saved offset) of the
 *                       file as read, reader position token, stats, fresh and repeated
 *                       events, warnings, last error, quarantine, seen times.
 *   evtx_seen           EVTX records stored before: closed intervals [lo, hi] of EventRecordID
 *                       per (host, channel, log instance), disjoint and not adjacent within an
 *                       instance, with the times of the records at lo and hi and the span of
 *                       times inside (0 / INT64_MIN..INT64_MAX: unknown).
 *   clog_cover          cluster.log time ranges [lo, hi] read per (node, section), disjoint
 *                       and not touching, with the hashes of the lines at exactly lo and hi.
 *   clog_lines          cluster.log lines marked per (node, section).
 *   counters            named totals (events marked).
 *   diagnoses           one row per diagnosis key, with vm_name/vm_id/host copied out of the
 *                       entities for fast filters; incident = the incident it belongs to.
 *   diagnosis_entities  every entity of a diagnosis, read by diagnosis.
 *   diagnosis_related   a correlation's member keys.
 *   join_sides          the (rule, entity name) pairs the engine has searched diagnoses by.
 *   diagnosis_keys      for those, each diagnosis's join key (the value's first label, lower
 *                       case) by first time: a correlation's partners by the value its join
 *                       compares, in one search.
 *   evidence            events behind a diagnosis, unique per (diagnosis, path, record, line).
 *   incidents           diagnoses grouped by subject (VM, else host; a role event a VM's
 *                       correlation explains, the VM) and time; root = the diagnosis named
 *                       as root cause.
 *   outbox              one row per incident change (new, severity, update) in the order
 *                       of commits, written with the incident, with a snapshot of
 *                       the incident; rows every output cursor has passed are pruned.
 *   incident_revisions  the last revision of each incident id ever written.
 *   output_cursors      per output (name): the last outbox seq it delivered; active marks
 *                       the outputs the daemon runs now.
 * The outbox, revisions and cursors are delivery bookkeeping, the join keys an index of the
 * entities: hvd_store_dump() and the digest leave them out, as they leave out source rows,
 * so replay safety is unchanged.
 * Indexes on a subject (VM name, VM id, host short name) then (last_time, first_time) let a
 * commit regroup only the diagnoses near the ones it changed. Listings search by VM, host
 * short name, rule or time, each index giving the newest first where it can (see the
 * listing parts below).
 */
#ifndef HVD_STORE_SQL_H
#define HVD_STORE_SQL_H

/* A host's short name (before the first dot), as grouping uses it. Part of the schema
 * (migration 3 indexes it; queries must repeat it exactly to use that index): never edit. */
#define STORE_HOST_SHORT "substr(host, 1, instr(host || '.', '.') - 1)"

/* The outbox triggers' parts (migration 5; part of the schema: never edit). The wall
 * clock in hvd_time ticks; the columns an outbox row is inserted with; the snapshot of
 * incident 'new' and its root cause, from its revision row r. */
#define STORE_NOW_TICKS "CAST((julianday('now') - 2440587.5) * 864000000000.0 AS INTEGER)"
#define STORE_OUTBOX_INSERT_COLUMNS                                                           \
    "incident, revision, change, changed_at, severity, previous_severity, subject_kind,"      \
    " subject, hosts, first_time, last_time, title, remedy, diagnoses, rule, root_key, host," \
    " vm_name, vm_id"
#define STORE_OUTBOX_SNAPSHOT                                                             \
    "new.subject_kind, new.subject, new.hosts, new.first_time, new.last_time, new.title," \
    " new.remedy, new.diagnoses, coalesce(d.rule, ''), coalesce(d.key, ''),"              \
    " coalesce(d.host, ''), coalesce(d.vm_name, ''), coalesce(d.vm_id, '')"               \
    " FROM incident_revisions r LEFT JOIN diagnoses d ON d.id = new.root"                 \
    " WHERE r.incident = new.id"

/* The longest span of any diagnosis (0 for none), in one search of diagnoses_span. */
#define STORE_DIAG_MAX_SPAN "(SELECT coalesce(max(last_time - first_time), 0) FROM diagnoses)"

/* The key an entity's value is joined by: its first label (up to a '.'), lower case, as
 * the engine keys a join (a host by its short name; any other value is then narrowed by
 * the value itself). */
#define STORE_JOIN_KEY(v) "lower(substr(" v ", 1, instr(" v " || '.', '.') - 1))"

/* Migrations are applied in order, each in one transaction; user_version is the number of
 * the last one applied. Append only: never edit a step that has shipped. */
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

    /* 2: file identity for rotation/copytruncate detection, warnings and seen times on
     * sources; counters; severity indexes. */
    "ALTER TABLE sources ADD COLUMN device INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sources ADD COLUMN inode INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sources ADD COLUMN head_hash TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sources ADD COLUMN prefix_len INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sources ADD COLUMN prefix_hash TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sources ADD COLUMN warnings TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sources ADD COLUMN first_seen INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sources ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX sources_identity ON sources(device, inode);"
    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO counters(name, value) SELECT 'events_marked', coalesce(sum(hi - lo + 1), 0)"
    " FROM evtx_seen;"
    "CREATE INDEX diagnoses_severity ON diagnoses(severity, first_time);"
    "CREATE INDEX incidents_severity ON incidents(severity, first_time);",

    /* 3: for regrouping only what a commit changed. A subject's diagnoses by time (the VM
     * indexes replace the single-column ones), the (VM name, VM id) pairs that join
     * subjects, times that end before they start, correlations by member. */
    "DROP INDEX diagnoses_vm_name;"
    "DROP INDEX diagnoses_vm_id;"
    "CREATE INDEX diagnoses_vm_name ON diagnoses(vm_name COLLATE NOCASE, last_time, first_time);"
    "CREATE INDEX diagnoses_vm_id ON diagnoses(vm_id COLLATE NOCASE, last_time, first_time);"
    "CREATE INDEX diagnoses_host_short ON diagnoses(" STORE_HOST_SHORT " COLLATE NOCASE,"
    " last_time, first_time) WHERE vm_name = '' AND vm_id = '';"
    "CREATE INDEX diagnoses_vm_pair ON diagnoses(vm_name COLLATE NOCASE, vm_id COLLATE NOCASE)"
    " WHERE vm_name != '' AND vm_id != '';"
    "CREATE INDEX diagnoses_vm_pair_id ON diagnoses(vm_id COLLATE NOCASE, vm_name COLLATE NOCASE)"
    " WHERE vm_name != '' AND vm_id != '';"
    "CREATE INDEX diagnoses_inverted ON diagnoses(first_time) WHERE first_time > last_time;"
    "CREATE INDEX related_member ON diagnosis_related(member);",

    /* 4: exact identity of seen input. EVTX intervals belong to a log instance and keep the
     * times of the records at their ends and their time span (rows from before know no
     * times: any time agrees with them). cluster.log keeps covered time ranges with the
     * hashes of the lines at their two ends instead of one high-water time (a high-water
     * mark becomes a range open to the past) and counts the lines marked. Source rows count
     * their fresh and repeated events. */
    "ALTER TABLE evtx_seen RENAME TO evtx_seen_v3;"
    "CREATE TABLE evtx_seen(host TEXT NOT NULL, channel TEXT NOT NULL, inst INTEGER NOT NULL,"
    " lo INTEGER NOT NULL, hi INTEGER NOT NULL, lo_time INTEGER NOT NULL,"
    " hi_time INTEGER NOT NULL, min_time INTEGER NOT NULL, max_time INTEGER NOT NULL,"
    " PRIMARY KEY(host, channel, inst, lo)) WITHOUT ROWID;"
    "INSERT INTO evtx_seen SELECT host, channel, 1, lo, hi, 0, 0, -9223372036854775807 - 1,"
    " 9223372036854775807 FROM evtx_seen_v3;"
    "DROP TABLE evtx_seen_v3;"
    "CREATE TABLE clog_cover(node TEXT NOT NULL, section TEXT NOT NULL, lo INTEGER NOT NULL,"
    " hi INTEGER NOT NULL, lo_hashes TEXT NOT NULL, hi_hashes TEXT NOT NULL,"
    " PRIMARY KEY(node, section, lo)) WITHOUT ROWID;"
    "INSERT INTO clog_cover SELECT node, section, -9223372036854775807 - 1, hwm, '', hashes"
    " FROM clog_seen;"
    "CREATE TABLE clog_lines(node TEXT NOT NULL, section TEXT NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(node, section)) WITHOUT ROWID;"
    "DROP TABLE clog_seen;"
    "ALTER TABLE sources ADD COLUMN fresh INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sources ADD COLUMN repeated INTEGER NOT NULL DEFAULT 0;",

    /* 5: listings on their indexes. A host's diagnoses by short name then time, carrying
     * the host and incident so that finding a host's incidents reads only the index; a
     * rule's by time; the longest span of a diagnosis and of an incident (so "ends at or
     * after T" also bounds where the start can be). They replace the host and rule
     * indexes of step 1. */
    "DROP INDEX diagnoses_host;"
    "DROP INDEX diagnoses_rule;"
    "CREATE INDEX diagnoses_host_time ON diagnoses(" STORE_HOST_SHORT " COLLATE NOCASE,"
    " first_time, host, incident);"
    "CREATE INDEX diagnoses_rule_time ON diagnoses(rule, first_time);"
    "CREATE INDEX diagnoses_span ON diagnoses(last_time - first_time);"
    "CREATE INDEX incidents_span ON incidents(last_time - first_time);",

    /* 6: the outbox. Triggers on incidents write one row per new or changed incident in
     * the transaction that changed it, a snapshot of the incident and its root cause, so a
     * crash can lose no change an output has yet to see. While no output has a cursor (a
     * database of 'hvdiag analyze', a daemon without outputs) the triggers do nothing, so
     * they cost one lookup. Revisions count per incident id and are never reset (an id
     * freed by a merge and used again goes on counting), so (incident, revision) names one
     * change for good. AUTOINCREMENT: a seq is never used twice, even after every row was
     * pruned. output_cursors: the last seq each output delivered. */
    "CREATE TABLE outbox("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, incident INTEGER NOT NULL,"
    " revision INTEGER NOT NULL, change TEXT NOT NULL, changed_at INTEGER NOT NULL,"
    " severity INTEGER NOT NULL, previous_severity INTEGER NOT NULL,"
    " subject_kind TEXT NOT NULL, subject TEXT NOT NULL, hosts TEXT NOT NULL,"
    " first_time INTEGER NOT NULL, last_time INTEGER NOT NULL, title TEXT NOT NULL,"
    " remedy TEXT NOT NULL, diagnoses INTEGER NOT NULL, rule TEXT NOT NULL,"
    " root_key TEXT NOT NULL, host TEXT NOT NULL, vm_name TEXT NOT NULL,"
    " vm_id TEXT NOT NULL);"
    "CREATE TABLE incident_revisions(incident INTEGER PRIMARY KEY,"
    " revision INTEGER NOT NULL);"
    "CREATE TABLE output_cursors(name TEXT PRIMARY KEY, seq INTEGER NOT NULL,"
    " active INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;"
    "INSERT INTO incident_revisions(incident, revision) SELECT id, 1 FROM incidents;"
    "CREATE TRIGGER incidents_outbox_insert AFTER INSERT ON incidents"
    " WHEN EXISTS(SELECT 1 FROM output_cursors) BEGIN"
    " INSERT INTO incident_revisions(incident, revision) VALUES(new.id, 1)"
    "  ON CONFLICT(incident) DO UPDATE SET revision = revision + 1;"
    " INSERT INTO outbox(" STORE_OUTBOX_INSERT_COLUMNS ")"
    "  SELECT new.id, r.revision, 'new', " STORE_NOW_TICKS ", new.severity, -1,"
    "  " STORE_OUTBOX_SNAPSHOT ";"
    " END;"
    "CREATE TRIGGER incidents_outbox_update AFTER UPDATE ON incidents"
    " WHEN EXISTS(SELECT 1 FROM output_cursors) BEGIN"
    " INSERT INTO incident_revisions(incident, revision) VALUES(new.id, 1)"
    "  ON CONFLICT(incident) DO UPDATE SET revision = revision + 1;"
    " INSERT INTO outbox(" STORE_OUTBOX_INSERT_COLUMNS ")"
    "  SELECT new.id, r.revision,"
    "  CASE WHEN new.severity != old.severity THEN 'severity' ELSE 'update' END,"
    "  " STORE_NOW_TICKS ", new.severity, old.severity,"
    "  " STORE_OUTBOX_SNAPSHOT ";"
    " END;",

    /* 7: a host's and a rule's diagnoses newest first, on one index each that carries
     * every column a listing filters on: the (first_time, id) order pages without a sort,
     * and finding the incidents of a host or rule walks the index alone, newest first,
     * until its page is full. They replace the host and rule indexes of step 5. */
    "DROP INDEX diagnoses_host_time;"
    "DROP INDEX diagnoses_rule_time;"
    "CREATE INDEX diagnoses_host_list ON diagnoses(" STORE_HOST_SHORT " COLLATE NOCASE,"
    " first_time, id, host, rule, severity, last_time, incident);"
    "CREATE INDEX diagnoses_rule_list ON diagnoses(rule, first_time, id, host, severity,"
    " last_time, incident);",

    /* 8: evidence keeps the RenderingInfo texts of forwarded events (hvd_evidence); rows
     * stored before have none. */
    "ALTER TABLE evidence ADD COLUMN level_text TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE evidence ADD COLUMN task_text TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE evidence ADD COLUMN opcode_text TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE evidence ADD COLUMN channel_text TEXT NOT NULL DEFAULT '';",

    /* 9: a VM's diagnoses newest first, by name and by id, each on an index that carries
     * every column a listing filters on (as step 7's for hosts and rules): a VM's listing
     * reads no row it does not show. Regrouping keeps the VM indexes of step 3. */
    "CREATE INDEX diagnoses_vm_name_list ON diagnoses(vm_name COLLATE NOCASE, first_time, id,"
    " vm_id, host, rule, severity, last_time, incident);"
    "CREATE INDEX diagnoses_vm_id_list ON diagnoses(vm_id COLLATE NOCASE, first_time, id,"
    " vm_name, host, rule, severity, last_time, incident);",

    /* 10: the outbox is written by the store's incident write (SQL_OUTBOX_* below), not by
     * triggers: every open parsed the triggers, a third of the schema's parse, though
     * only a writer fires them. */
    "DROP TRIGGER IF EXISTS incidents_outbox_insert;"
    "DROP TRIGGER IF EXISTS incidents_outbox_update;",

    /* 11: an incident's diagnoses in the order they are shown (STORE_INCIDENT_DIAG_ORDER),
     * on one index whose columns are that order's terms, so a page after a cursor seeks to
     * it instead of sorting the whole incident again: listing an incident of n diagnoses
     * page by page costs O(n log n), not O(n^2 / page). The terms are virtual columns, as
     * SQLite seeks on a row value of columns only. It replaces the incident index of step 1. */
    "ALTER TABLE diagnoses ADD COLUMN show_kind INTEGER AS (-(kind = 'correlation')) VIRTUAL;"
    "ALTER TABLE diagnoses ADD COLUMN show_severity INTEGER AS (-severity) VIRTUAL;"
    "ALTER TABLE diagnoses ADD COLUMN show_count INTEGER"
    " AS (-(CASE WHEN kind = 'correlation' THEN count ELSE 0 END)) VIRTUAL;"
    "DROP INDEX diagnoses_incident;"
    "CREATE INDEX diagnoses_incident_order ON diagnoses(incident, show_kind, show_severity,"
    " first_time, show_count, key);",

    /* 12: no statement searches entities by (name, value): every one reads a diagnosis's
     * entities by its id, on the primary key. The index of step 1 was a third of the
     * entities' pages and the costliest write of a diagnosis: its entries go to as many
     * places as there are entity names and values, which a large write transaction reads
     * back from the WAL and writes again once they outgrow the page cache. An incident's
     * diagnoses in shown order (step 11) leave out those in no incident yet: a new
     * diagnosis gets its entry when a commit groups it, with those of its incident,
     * instead of once among the diagnoses of no incident and again there. Every search on
     * it is by incident (incident = ?), which implies the index's condition. */
    "DROP INDEX IF EXISTS entities_value;"
    "DROP INDEX diagnoses_incident_order;"
    "CREATE INDEX diagnoses_incident_order ON diagnoses(incident, show_kind, show_severity,"
    " first_time, show_count, key) WHERE incident IS NOT NULL;",

    /* 13: join keys. The engine finds a correlation's partners by the value its join
     * compares (SQL_DIAGS_JOINED), so that a day's window of them need not stay in
     * memory: for each (rule, entity name) it has searched by (join_sides), the key of
     * each diagnosis's value (its first label, lower case, as the engine keys a join)
     * by first time. Written with the entities (SQL_KEYS_PUT), moved when a first time
     * is (SQL_KEYS_MOVE), filled for the diagnoses before when a side is added
     * (SQL_SIDE_FILL). Only join sides: a key per entity would cost 3 % of an analyze. */
    "CREATE TABLE join_sides(rule TEXT NOT NULL, name TEXT NOT NULL,"
    " PRIMARY KEY(rule, name)) WITHOUT ROWID;"
    "CREATE TABLE diagnosis_keys(rule TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,"
    " first_time INTEGER NOT NULL, diagnosis INTEGER NOT NULL,"
    " PRIMARY KEY(rule, name, key, first_time, diagnosis)) WITHOUT ROWID;",
};

/* The schema store_migrations leave, statement by statement in sqlite_master's order: a new
 * database is made with it in one step, as replaying every migration (ALTER TABLE re-reads
 * the whole schema each time) costs ten times more. check_store proves the two equal and,
 * when they are not, prints this text anew; with a new migration, raise the version too. */
#define STORE_SQL_SCHEMA_LATEST_VERSION 13
static const char store_schema_latest[] =
    "CREATE TABLE sources( path TEXT PRIMARY KEY, kind TEXT NOT NULL, host TEXT NOT NULL"
    " DEFAULT '', size INTEGER NOT NULL DEFAULT 0, mtime INTEGER NOT NULL DEFAULT 0,"
    " position TEXT NOT NULL DEFAULT '', events INTEGER NOT NULL DEFAULT 0, skipped INTEGER"
    " NOT NULL DEFAULT 0, first_skipped INTEGER NOT NULL DEFAULT 0, recovered INTEGER NOT"
    " NULL DEFAULT 0, corrupted INTEGER NOT NULL DEFAULT 0, dirty INTEGER NOT NULL DEFAULT"
    " 0, encoding TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '',"
    " quarantined INTEGER NOT NULL DEFAULT 0, quarantine_reason TEXT NOT NULL DEFAULT '',"
    " device INTEGER NOT NULL DEFAULT 0, inode INTEGER NOT NULL DEFAULT 0, head_hash TEXT"
    " NOT NULL DEFAULT '', prefix_len INTEGER NOT NULL DEFAULT 0, prefix_hash TEXT NOT NULL"
    " DEFAULT '', warnings TEXT NOT NULL DEFAULT '', first_seen INTEGER NOT NULL DEFAULT 0,"
    " last_seen INTEGER NOT NULL DEFAULT 0, fresh INTEGER NOT NULL DEFAULT 0, repeated"
    " INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE diagnoses( id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT"
    " NOT NULL, rule TEXT NOT NULL, title TEXT NOT NULL, severity INTEGER NOT NULL,"
    " confidence TEXT NOT NULL, cause TEXT NOT NULL, remedy TEXT NOT NULL, refs TEXT NOT"
    " NULL, vm_name TEXT NOT NULL DEFAULT '', vm_id TEXT NOT NULL DEFAULT '', host TEXT NOT"
    " NULL DEFAULT '', first_time INTEGER NOT NULL, last_time INTEGER NOT NULL, count"
    " INTEGER NOT NULL, incident INTEGER, show_kind INTEGER AS (-(kind = 'correlation'))"
    " VIRTUAL, show_severity INTEGER AS (-severity) VIRTUAL, show_count INTEGER AS (-(CASE"
    " WHEN kind = 'correlation' THEN count ELSE 0 END)) VIRTUAL);"
    "CREATE TABLE diagnosis_entities(diagnosis INTEGER NOT NULL REFERENCES diagnoses(id),"
    " name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(diagnosis, name));"
    "CREATE TABLE diagnosis_related(diagnosis INTEGER NOT NULL REFERENCES diagnoses(id),"
    " member TEXT NOT NULL, PRIMARY KEY(diagnosis, member));"
    "CREATE TABLE evidence( id INTEGER PRIMARY KEY, diagnosis INTEGER NOT NULL REFERENCES"
    " diagnoses(id), kind TEXT NOT NULL, path TEXT NOT NULL, record_id INTEGER NOT NULL,"
    " event_record_id INTEGER NOT NULL, line INTEGER NOT NULL, byte_offset INTEGER NOT"
    " NULL, time INTEGER NOT NULL, host TEXT NOT NULL, provider TEXT NOT NULL, channel TEXT"
    " NOT NULL, component TEXT NOT NULL, event_id INTEGER NOT NULL, level INTEGER NOT NULL,"
    " message TEXT NOT NULL, level_text TEXT NOT NULL DEFAULT '', task_text TEXT NOT NULL"
    " DEFAULT '', opcode_text TEXT NOT NULL DEFAULT '', channel_text TEXT NOT NULL DEFAULT"
    " '', UNIQUE(diagnosis, path, record_id, line));"
    "CREATE TABLE incidents( id INTEGER PRIMARY KEY, subject_kind TEXT NOT NULL, subject"
    " TEXT NOT NULL, hosts TEXT NOT NULL, first_time INTEGER NOT NULL, last_time INTEGER"
    " NOT NULL, severity INTEGER NOT NULL, title TEXT NOT NULL, remedy TEXT NOT NULL, root"
    " INTEGER, diagnoses INTEGER NOT NULL);"
    "CREATE INDEX diagnoses_time ON diagnoses(first_time, last_time);"
    "CREATE INDEX evidence_diagnosis ON evidence(diagnosis, time);"
    "CREATE INDEX incidents_time ON incidents(first_time, last_time);"
    "CREATE INDEX incidents_subject ON incidents(subject COLLATE NOCASE);"
    "CREATE INDEX sources_identity ON sources(device, inode);"
    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX diagnoses_severity ON diagnoses(severity, first_time);"
    "CREATE INDEX incidents_severity ON incidents(severity, first_time);"
    "CREATE INDEX diagnoses_vm_name ON diagnoses(vm_name COLLATE NOCASE, last_time,"
    " first_time);"
    "CREATE INDEX diagnoses_vm_id ON diagnoses(vm_id COLLATE NOCASE, last_time,"
    " first_time);"
    "CREATE INDEX diagnoses_host_short ON diagnoses(substr(host, 1, instr(host || '.', '.')"
    " - 1) COLLATE NOCASE, last_time, first_time) WHERE vm_name = '' AND vm_id = '';"
    "CREATE INDEX diagnoses_vm_pair ON diagnoses(vm_name COLLATE NOCASE, vm_id COLLATE"
    " NOCASE) WHERE vm_name != '' AND vm_id != '';"
    "CREATE INDEX diagnoses_vm_pair_id ON diagnoses(vm_id COLLATE NOCASE, vm_name COLLATE"
    " NOCASE) WHERE vm_name != '' AND vm_id != '';"
    "CREATE INDEX diagnoses_inverted ON diagnoses(first_time) WHERE first_time > last_time;"
    "CREATE INDEX related_member ON diagnosis_related(member);"
    "CREATE TABLE evtx_seen(host TEXT NOT NULL, channel TEXT NOT NULL, inst INTEGER NOT"
    " NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, lo_time INTEGER NOT NULL, hi_time"
    " INTEGER NOT NULL, min_time INTEGER NOT NULL, max_time INTEGER NOT NULL, PRIMARY"
    " KEY(host, channel, inst, lo)) WITHOUT ROWID;"
    "CREATE TABLE clog_cover(node TEXT NOT NULL, section TEXT NOT NULL, lo INTEGER NOT"
    " NULL, hi INTEGER NOT NULL, lo_hashes TEXT NOT NULL, hi_hashes TEXT NOT NULL, PRIMARY"
    " KEY(node, section, lo)) WITHOUT ROWID;"
    "CREATE TABLE clog_lines(node TEXT NOT NULL, section TEXT NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(node, section)) WITHOUT ROWID;"
    "CREATE INDEX diagnoses_span ON diagnoses(last_time - first_time);"
    "CREATE INDEX incidents_span ON incidents(last_time - first_time);"
    "CREATE TABLE outbox( seq INTEGER PRIMARY KEY AUTOINCREMENT, incident INTEGER NOT NULL,"
    " revision INTEGER NOT NULL, change TEXT NOT NULL, changed_at INTEGER NOT NULL,"
    " severity INTEGER NOT NULL, previous_severity INTEGER NOT NULL, subject_kind TEXT NOT"
    " NULL, subject TEXT NOT NULL, hosts TEXT NOT NULL, first_time INTEGER NOT NULL,"
    " last_time INTEGER NOT NULL, title TEXT NOT NULL, remedy TEXT NOT NULL, diagnoses"
    " INTEGER NOT NULL, rule TEXT NOT NULL, root_key TEXT NOT NULL, host TEXT NOT NULL,"
    " vm_name TEXT NOT NULL, vm_id TEXT NOT NULL);"
    "CREATE TABLE incident_revisions(incident INTEGER PRIMARY KEY, revision INTEGER NOT"
    " NULL);"
    "CREATE TABLE output_cursors(name TEXT PRIMARY KEY, seq INTEGER NOT NULL, active"
    " INTEGER NOT NULL DEFAULT 1) WITHOUT ROWID;"
    "CREATE INDEX diagnoses_host_list ON diagnoses(substr(host, 1, instr(host || '.', '.')"
    " - 1) COLLATE NOCASE, first_time, id, host, rule, severity, last_time, incident);"
    "CREATE INDEX diagnoses_rule_list ON diagnoses(rule, first_time, id, host, severity,"
    " last_time, incident);"
    "CREATE INDEX diagnoses_vm_name_list ON diagnoses(vm_name COLLATE NOCASE, first_time,"
    " id, vm_id, host, rule, severity, last_time, incident);"
    "CREATE INDEX diagnoses_vm_id_list ON diagnoses(vm_id COLLATE NOCASE, first_time, id,"
    " vm_name, host, rule, severity, last_time, incident);"
    "CREATE INDEX diagnoses_incident_order ON diagnoses(incident, show_kind, show_severity,"
    " first_time, show_count, key) WHERE incident IS NOT NULL;"
    "CREATE TABLE join_sides(rule TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY(rule, name))"
    " WITHOUT ROWID;"
    "CREATE TABLE diagnosis_keys(rule TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,"
    " first_time INTEGER NOT NULL, diagnosis INTEGER NOT NULL, PRIMARY KEY(rule, name, key,"
    " first_time, diagnosis)) WITHOUT ROWID;";

/* 1 when the database holds no schema object at all: a new file. */
#define STORE_SQL_SCHEMA_EMPTY "SELECT count(*) = 0 FROM sqlite_master"

/* The columns of a source row, in the order every SELECT of sources gives them. */
#define STORE_SOURCE_COLUMNS                                                                  \
    "path, kind, host, size, mtime, position, events, skipped, first_skipped, recovered,"     \
    " corrupted, dirty, encoding, last_error, quarantined, quarantine_reason, device, inode," \
    " head_hash, prefix_len, prefix_hash, warnings, first_seen, last_seen, fresh, repeated"

/* The columns of a diagnosis row, in the order every SELECT of diagnoses gives them. */
#define STORE_DIAGNOSIS_COLUMNS                                                            \
    "d.id, d.key, d.kind, d.rule, d.title, d.severity, d.confidence, d.cause, d.remedy,"   \
    " d.refs, d.vm_name, d.vm_id, d.host, d.first_time, d.last_time, d.count, d.incident," \
    " coalesce((SELECT r.root FROM incidents r WHERE r.id = d.incident) = d.id, 0)"

#define STORE_INCIDENT_COLUMNS                                                         \
    "i.id, i.subject_kind, i.subject, i.hosts, i.first_time, i.last_time, i.severity," \
    " i.title, i.remedy, i.diagnoses, i.root"

/* A diagnosis as incident grouping reads it. */
#define STORE_INC_COLUMNS                                                   \
    "id, key, kind, vm_name, vm_id, host, first_time, last_time, severity," \
    " coalesce(incident, 0), count"

/*
 * Listings of incidents and diagnoses are put together from the parts below, one statement
 * per combination of filters (store.c prepares each the first time it is asked for), so a
 * filter that is absent is absent from the SQL and the planner can search on the index of
 * each filter that is there: no "?N IS NULL OR ..." hiding a column from it. Parameters,
 * the same in every combination: ?1 min severity, ?2 VM name or id, ?3 VM id, ?4 host
 * (short name or FQDN), ?5 rule, ?6 since, ?7 until, ?8 limit (-1: none), ?9 offset, ?10
 * the smaller of until and the cursor's time, ?11 and ?12 the cursor's (first_time, id).
 *
 * The diagnoses a listing matches are read from one index that carries every column it
 * filters on, newest first, so that only the rows shown are read whole: a VM's (VM name
 * or id given), else a host's, else a rule's. By VM name or id (?2) they are two arms of
 * one UNION ALL: the VM's diagnoses by name, and by id those whose name is not it (no
 * diagnosis comes twice); the planner merges the two in the order each reads its index
 * and stops when the listing does. Each arm names its index: without statistics the
 * planner would take the rule's index and work out every diagnosis's short name.
 *
 * A diagnosis matches a host when its host is it or starts with it and a dot, in any case.
 * Both imply the same short name, which the index diagnoses_host_list searches on; for a
 * short name (no dot) that is all there is to test.
 */
#define STORE_ARG_HOST_SHORT "substr(?4, 1, instr(?4 || '.', '.') - 1)"

enum {
    STORE_LIST_VM = 1 << 0,    /* ?2 */
    STORE_LIST_VM_ID = 1 << 1, /* ?3 */
    STORE_LIST_HOST = 1 << 2,  /* ?4 */
    STORE_LIST_RULE = 1 << 3,  /* ?5 */
    STORE_LIST_SINCE = 1 << 4, /* ?6 */
    STORE_LIST_UNTIL = 1 << 5, /* ?7 */
    STORE_LIST_AFTER = 1 << 6, /* ?11, ?12 */
    STORE_LIST_MATCH = 0x0f,   /* the filters on a diagnosis's own columns */
    STORE_LIST_COMBOS = 1 << 7,
};

/* The arms of a listing: one, or by VM name or id (?2) the VM's by name and by id. */
enum { STORE_ARM_ONE, STORE_ARM_VM_NAME, STORE_ARM_VM_ID };
static const struct {
    const char *index; /* INDEXED BY, or "" for the planner's choice */
    const char *vm;    /* the arm's VM filter */
} store_list_arm[3] = {
    [STORE_ARM_ONE] = {"", ""},
    [STORE_ARM_VM_NAME] = {" INDEXED BY diagnoses_vm_name_list",
                           " AND d.vm_name = ?2 COLLATE NOCASE"},
    [STORE_ARM_VM_ID] = {" INDEXED BY diagnoses_vm_id_list",
                         " AND d.vm_id = ?2 COLLATE NOCASE AND d.vm_name != ?2 COLLATE NOCASE"},
};
/* One arm's index without ?2: by VM id (?3), else by host. */
#define STORE_LIST_BY_VM_ID " INDEXED BY diagnoses_vm_id_list"
#define STORE_LIST_BY_HOST  " INDEXED BY diagnoses_host_list"
#define STORE_LIST_UNION    " UNION ALL "

/* The filters on a diagnosis (alias d) besides ?2, each with its bit of STORE_LIST_MATCH,
 * in the order they are written: the host's LIKE after the rule, which is cheaper. */
static const struct {
    unsigned bit;
    const char *sql;
} store_list_match[3] = {
    {STORE_LIST_VM_ID, " AND d.vm_id = ?3 COLLATE NOCASE"},
    {STORE_LIST_RULE, " AND d.rule = ?5"},
    {STORE_LIST_HOST, " AND " STORE_HOST_SHORT " = " STORE_ARG_HOST_SHORT " COLLATE NOCASE"
                      " AND (instr(?4, '.') = 0 OR d.host = ?4 COLLATE NOCASE"
                      " OR d.host LIKE ?4 || '.%')"},
};

/* Diagnoses, newest first: the page's ids are found on the indexes (each arm a select of
 * STORE_LIST_DIAG_ARM and the filters), then only its rows are read whole. Time filters: a
 * diagnosis that ends at or after ?6 starts no earlier than ?6 minus the longest span of
 * any (diagnoses_span gives it in one search). */
#define STORE_LIST_DIAG_HEAD  "SELECT " STORE_DIAGNOSIS_COLUMNS " FROM ("
#define STORE_LIST_DIAG_ARM   "SELECT d.id AS id, d.first_time AS first FROM diagnoses d"
#define STORE_LIST_DIAG_WHERE " WHERE d.severity >= ?1"
#define STORE_LIST_DIAG_SINCE " AND d.last_time >= ?6 AND d.first_time >= ?6 - " STORE_DIAG_MAX_SPAN
#define STORE_LIST_DIAG_UNTIL " AND d.first_time <= ?7"
#define STORE_LIST_DIAG_AFTER " AND (d.first_time, d.id) < (?11, ?12)"
#define STORE_LIST_DIAG_TAIL                              \
    " ORDER BY first DESC, id DESC LIMIT ?8 OFFSET ?9) p" \
    " JOIN diagnoses d ON d.id = p.id ORDER BY p.first DESC, p.id DESC"

/* Incidents without a filter on their diagnoses, newest first, on their own indexes. */
#define STORE_LIST_INC_HEAD \
    "SELECT " STORE_INCIDENT_COLUMNS " FROM incidents i WHERE i.severity >= ?1"
#define STORE_LIST_INC_SINCE                        \
    " AND i.last_time >= ?6 AND i.first_time >= ?6" \
    " - (SELECT coalesce(max(last_time - first_time), 0) FROM incidents)"
#define STORE_LIST_INC_UNTIL " AND i.first_time <= ?7"
#define STORE_LIST_INC_AFTER " AND (i.first_time, i.id) < (?11, ?12)"
#define STORE_LIST_INC_TAIL  " ORDER BY i.first_time DESC, i.id DESC LIMIT ?8 OFFSET ?9"

/* Incidents with a filter on their diagnoses (an incident matches when one of its
 * diagnoses does) are found by a walk, not by one sorted statement: the diagnoses that
 * match newest first on their index alone (the arms above), each joined to its incident,
 * which must pass the incident filters (STORE_LIST_INC_SINCE and on). store.c keeps the
 * newest incidents met and stops when no incident not met yet can be newer than its page:
 * an incident starts no later than any of its diagnoses. Columns: the incident's id and
 * first time, the diagnosis's first time. Time filters bound the walk: an incident that
 * ends at or after ?6 starts no earlier than ?6 minus the longest incident span, and so do
 * its diagnoses; one that starts at or before ?10 (the smaller of until and the cursor's
 * time) ends by ?10 plus that span, and its diagnoses start by then, plus the most any
 * diagnosis ends before it starts. */
#define STORE_LIST_WALK_ARM   "SELECT i.id, i.first_time, d.first_time AS first FROM diagnoses d"
#define STORE_LIST_WALK_WHERE " JOIN incidents i ON i.id = d.incident WHERE i.severity >= ?1"
#define STORE_LIST_WALK_SINCE \
    " AND d.first_time >= ?6 - (SELECT coalesce(max(last_time - first_time), 0) FROM incidents)"
#define STORE_LIST_WALK_TOP                                               \
    " AND d.first_time <= ?10"                                            \
    " + (SELECT coalesce(max(last_time - first_time), 0) FROM incidents)" \
    " + max(0, -(SELECT coalesce(min(last_time - first_time), 0) FROM diagnoses))"
#define STORE_LIST_WALK_TAIL " ORDER BY first DESC"

/* An incident's diagnoses in the order they are shown, as a key that sorts ascending: a
 * correlation first, then the most severe, the earliest, the correlation that names more
 * member diagnoses (its count), and the key (root_order() in store.c is the same order). */
#define STORE_INCIDENT_DIAG_ORDER "d.show_kind, d.show_severity, d.first_time, d.show_count, d.key"

enum {
    SQL_DIAG_FIND,
    SQL_DIAG_INSERT,
    SQL_DIAG_UPDATE,
    SQL_KEYS_PUT,
    SQL_KEYS_MOVE,
    SQL_SIDE_ADD,
    SQL_SIDE_FILL,
    SQL_SIDES_COUNT,
    SQL_ENTITY_PUT,
    SQL_RELATED_PUT,
    SQL_EVIDENCE_PUT,
    SQL_EVTX_LOAD,
    SQL_EVTX_DELETE,
    SQL_EVTX_INSERT,
    SQL_CLOG_LOAD,
    SQL_CLOG_DELETE,
    SQL_CLOG_PUT,
    SQL_CLOG_LINES_ADD,
    SQL_COUNTER_ADD,
    SQL_SOURCE_GET,
    SQL_SOURCE_PUT,
    SQL_SOURCE_QUARANTINE,
    SQL_SOURCE_LIST,
    SQL_SOURCE_PAGE,
    SQL_INC_DIAGS,
    SQL_INC_RELATED,
    SQL_INC_IDS,
    SQL_INC_DIAG_ONE,
    SQL_INC_NEAR_NAME,
    SQL_INC_NEAR_ID,
    SQL_INC_NEAR_HOST,
    SQL_INC_NEAR_INVERTED,
    SQL_INC_IDS_OF_NAME,
    SQL_INC_NAMES_OF_ID,
    SQL_INC_PAIR,
    SQL_INC_RELATED_OF,
    SQL_INC_RELATED_TO,
    SQL_INC_MEMBERS,
    SQL_INC_EXISTS,
    SQL_INC_ROW,
    SQL_INC_ADOPTABLE,
    SQL_INC_COMMA_HOST,
    SQL_INC_MOVE,
    SQL_INC_MAX_ID,
    SQL_INC_MAX_DIAG,
    SQL_INC_COUNT_DIAG,
    SQL_INC_PUT,
    SQL_INC_SET,
    SQL_INC_DELETE,
    SQL_INCIDENT_GET,
    SQL_INCIDENT_DIAGS,
    SQL_INCIDENT_DIAGS_AFTER,
    SQL_DIAGS_AFTER,
    SQL_DIAGS_JOINED,
    SQL_DIAG_MAX_SPAN,
    SQL_RULE_STORED,
    SQL_EVIDENCE_OF,
    SQL_EVIDENCE_COUNT,
    SQL_ENTITIES_OF,
    SQL_COUNTS,
    SQL_DUMP_DIAG,
    SQL_DUMP_ENTITY,
    SQL_DUMP_RELATED,
    SQL_DUMP_EVIDENCE,
    SQL_DUMP_INCIDENT,
    SQL_DUMP_MEMBER,
    SQL_DUMP_EVTX,
    SQL_DUMP_CLOG,
    SQL_OUTBOX_READ,
    SQL_OUTBOX_END,
    SQL_CURSOR_GET,
    SQL_CURSOR_DEACTIVATE,
    SQL_CURSOR_ATTACH,
    SQL_CURSOR_DROP_INACTIVE,
    SQL_CURSOR_SET,
    SQL_OUTBOX_PRUNE,
    SQL_SEVERITY_COUNTS,
    SQL_READ_BEGIN,
    SQL_READ_END,
    SQL_INC_ROOT_TEXT,
    SQL_EVIDENCE_TRIM,
    SQL_OUTBOX_STATE,
    SQL_OUTBOX_REVISION,
    SQL_OUTBOX_RECORD,
    SQL_COUNT
};

static const char *const store_sql[SQL_COUNT] = {
    /* --- writing diagnoses --- */
    [SQL_DIAG_FIND] = "SELECT id, first_time, last_time, count, title, remedy, cause, severity,"
                      " confidence FROM diagnoses WHERE key = ?1",
    [SQL_DIAG_INSERT] = "INSERT INTO diagnoses(key, kind, rule, title, severity, confidence,"
                        " cause, remedy, refs, vm_name, vm_id, host, first_time, last_time,"
                        " count) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [SQL_DIAG_UPDATE] = "UPDATE diagnoses SET first_time = ?2, last_time = ?3, count = ?4,"
                        " title = ?5, cause = ?6, remedy = ?7, severity = ?8, confidence = ?9"
                        " WHERE id = ?1",
    /* The join keys of diagnosis ?1 of rule ?2 starting at ?3, from its entities. */
    [SQL_KEYS_PUT] = "INSERT OR IGNORE INTO diagnosis_keys(rule, name, key, first_time, diagnosis)"
                     " SELECT ?2, e.name, " STORE_JOIN_KEY(
                         "e.value") ", ?3, e.diagnosis"
                                    " FROM join_sides s JOIN diagnosis_entities e"
                                    " ON e.diagnosis = ?1 AND e.name = s.name WHERE s.rule = ?2",
    [SQL_SIDE_ADD] = "INSERT OR IGNORE INTO join_sides(rule, name) VALUES(?1, ?2)",
    [SQL_SIDE_FILL] = "INSERT OR IGNORE INTO diagnosis_keys(rule, name, key, first_time, diagnosis)"
                      " SELECT d.rule, e.name, " STORE_JOIN_KEY(
                          "e.value") ", d.first_time, d.id"
                                     " FROM diagnoses d JOIN diagnosis_entities e"
                                     " ON e.diagnosis = d.id AND e.name = ?2 WHERE d.rule = ?1",
    [SQL_SIDES_COUNT] = "SELECT count(*) FROM join_sides",
    /* Diagnosis ?1 of rule ?2 starts at ?4 instead of ?3. */
    [SQL_KEYS_MOVE] =
        "UPDATE diagnosis_keys SET first_time = ?4 WHERE rule = ?2 AND first_time = ?3"
        " AND diagnosis = ?1 AND (name, key) IN (SELECT name, " STORE_JOIN_KEY(
            "value") " FROM diagnosis_entities WHERE diagnosis = ?1)",
    [SQL_ENTITY_PUT] = "INSERT OR IGNORE INTO diagnosis_entities(diagnosis, name, value)"
                       " VALUES(?1, ?2, ?3)",
    [SQL_RELATED_PUT] = "INSERT OR IGNORE INTO diagnosis_related(diagnosis, member) VALUES(?1, ?2)",
    [SQL_EVIDENCE_PUT] = "INSERT OR IGNORE INTO evidence(diagnosis, kind, path, record_id,"
                         " event_record_id, line, byte_offset, time, host, provider, channel,"
                         " component, event_id, level, message, level_text, task_text,"
                         " opcode_text, channel_text)"
                         " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
                         "?18,?19)",

    /* --- seen input --- */
    [SQL_EVTX_LOAD] = "SELECT inst, lo, hi, lo_time, hi_time, min_time, max_time FROM evtx_seen"
                      " WHERE host = ?1 AND channel = ?2 ORDER BY inst, lo",
    [SQL_EVTX_DELETE] = "DELETE FROM evtx_seen WHERE host = ?1 AND channel = ?2",
    [SQL_EVTX_INSERT] = "INSERT INTO evtx_seen(host, channel, inst, lo, hi, lo_time, hi_time,"
                        " min_time, max_time) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [SQL_CLOG_LOAD] = "SELECT lo, hi, lo_hashes, hi_hashes FROM clog_cover"
                      " WHERE node = ?1 AND section = ?2 ORDER BY lo",
    [SQL_CLOG_DELETE] = "DELETE FROM clog_cover WHERE node = ?1 AND section = ?2 AND lo = ?3",
    [SQL_CLOG_PUT] = "INSERT OR REPLACE INTO clog_cover(node, section, lo, hi, lo_hashes,"
                     " hi_hashes) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [SQL_CLOG_LINES_ADD] = "INSERT INTO clog_lines(node, section, n) VALUES(?1, ?2, ?3)"
                           " ON CONFLICT(node, section) DO UPDATE SET n = n + ?3",
    [SQL_COUNTER_ADD] = "INSERT INTO counters(name, value) VALUES(?1, ?2)"
                        " ON CONFLICT(name) DO UPDATE SET value = value + ?2",

    /* --- sources --- */
    [SQL_SOURCE_GET] = "SELECT " STORE_SOURCE_COLUMNS " FROM sources WHERE path = ?1",
    /* The checkpoint: everything but the quarantine, which only set_quarantine changes, and
     * first_seen, kept from the first time. */
    [SQL_SOURCE_PUT] = "INSERT INTO sources(path, kind, host, size, mtime, position, events,"
                       " skipped, first_skipped, recovered, corrupted, dirty, encoding,"
                       " last_error, quarantined, quarantine_reason, device, inode, head_hash,"
                       " prefix_len, prefix_hash, warnings, first_seen, last_seen, fresh,"
                       " repeated)"
                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,"
                       " ?19,?20,?21,?22,?23,?23,?24,?25)"
                       " ON CONFLICT(path) DO UPDATE SET kind = ?2, host = ?3, size = ?4,"
                       " mtime = ?5, position = ?6, events = ?7, skipped = ?8,"
                       " first_skipped = ?9, recovered = ?10, corrupted = ?11, dirty = ?12,"
                       " encoding = ?13, last_error = ?14, device = ?17, inode = ?18,"
                       " head_hash = ?19, prefix_len = ?20, prefix_hash = ?21, warnings = ?22,"
                       " last_seen = ?23, fresh = ?24, repeated = ?25",
    [SQL_SOURCE_QUARANTINE] = "UPDATE sources SET quarantined = ?2, quarantine_reason = ?3"
                              " WHERE path = ?1",
    [SQL_SOURCE_LIST] = "SELECT " STORE_SOURCE_COLUMNS " FROM sources ORDER BY path",
    [SQL_SOURCE_PAGE] = "SELECT " STORE_SOURCE_COLUMNS " FROM sources"
                        " WHERE ?1 IS NULL OR path > ?1 ORDER BY path LIMIT ?2",

    /* --- incident grouping --- */
    [SQL_INC_DIAGS] = "SELECT " STORE_INC_COLUMNS " FROM diagnoses",
    /* With each pair, the role ('group') of the member and of the correlation: a role
     * event tied to a VM's correlation of its own role takes the VM as subject. */
    [SQL_INC_RELATED] = "SELECT r.diagnosis, d.id, coalesce(g.value, ''), coalesce(cg.value, '')"
                        " FROM diagnosis_related r JOIN diagnoses d ON d.key = r.member"
                        " LEFT JOIN diagnosis_entities g ON g.diagnosis = d.id AND g.name = 'group'"
                        " LEFT JOIN diagnosis_entities cg ON cg.diagnosis = r.diagnosis"
                        " AND cg.name = 'group'",
    [SQL_INC_IDS] = "SELECT id FROM incidents ORDER BY id",
    /* Regrouping what changed: every lookup below is an index search. */
    [SQL_INC_DIAG_ONE] = "SELECT " STORE_INC_COLUMNS " FROM diagnoses WHERE id = ?1",
    /* A subject's diagnoses that end at or after ?2 and start at or before ?3, one for
     * each incident they are in and each in none: any of them links with a diagnosis so
     * near, and the rest of its incident is in it already. ?4, ?3 plus the longest span of
     * any, bounds the search by end, which would else run to the subject's last. */
    [SQL_INC_NEAR_NAME] = "SELECT id FROM diagnoses WHERE vm_name = ?1 COLLATE NOCASE"
                          " AND last_time >= ?2 AND last_time <= ?4 AND first_time <= ?3",
    [SQL_INC_NEAR_ID] = "SELECT id FROM diagnoses WHERE vm_id = ?1 COLLATE NOCASE"
                        " AND last_time >= ?2 AND last_time <= ?4 AND first_time <= ?3",
    [SQL_INC_NEAR_HOST] = "SELECT id FROM diagnoses WHERE vm_name = '' AND vm_id = ''"
                          " AND " STORE_HOST_SHORT " = ?1 COLLATE NOCASE"
                          " AND last_time >= ?2 AND last_time <= ?4 AND first_time <= ?3",
    /* Diagnoses of any subject that end before they start, starting in [?1, ?2]. Named:
     * the planner would rather range over every diagnosis of those times. */
    [SQL_INC_NEAR_INVERTED] = "SELECT id FROM diagnoses INDEXED BY diagnoses_inverted"
                              " WHERE first_time > last_time"
                              " AND first_time >= ?1 AND first_time <= ?2",
    /* The next VM id (after ?2, any case) named with VM name ?1, and the reverse: walking
     * the distinct values one index search at a time. */
    [SQL_INC_IDS_OF_NAME] = "SELECT vm_id FROM diagnoses WHERE vm_name != '' AND vm_id != ''"
                            " AND vm_name = ?1 COLLATE NOCASE AND vm_id > ?2 COLLATE NOCASE"
                            " ORDER BY vm_id COLLATE NOCASE LIMIT 1",
    [SQL_INC_NAMES_OF_ID] = "SELECT vm_name FROM diagnoses WHERE vm_name != '' AND vm_id != ''"
                            " AND vm_id = ?1 COLLATE NOCASE AND vm_name > ?2 COLLATE NOCASE"
                            " ORDER BY vm_name COLLATE NOCASE LIMIT 1",
    [SQL_INC_PAIR] = "SELECT id FROM diagnoses WHERE vm_name != '' AND vm_id != ''"
                     " AND vm_name = ?1 COLLATE NOCASE AND vm_id = ?2 COLLATE NOCASE",
    [SQL_INC_RELATED_OF] = "SELECT d.id, coalesce(g.value, ''), coalesce(cg.value, '')"
                           " FROM diagnosis_related r JOIN diagnoses d ON d.key = r.member"
                           " LEFT JOIN diagnosis_entities g ON g.diagnosis = d.id"
                           " AND g.name = 'group'"
                           " LEFT JOIN diagnosis_entities cg ON cg.diagnosis = r.diagnosis"
                           " AND cg.name = 'group' WHERE r.diagnosis = ?1",
    [SQL_INC_RELATED_TO] = "SELECT diagnosis FROM diagnosis_related WHERE member = ?1",
    [SQL_INC_MEMBERS] = "SELECT id FROM diagnoses WHERE incident = ?1",
    [SQL_INC_EXISTS] = "SELECT 1 FROM incidents WHERE id = ?1",
    /* The merge path: an incident's row before it is regrouped, */
    [SQL_INC_ROW] = "SELECT subject_kind, hosts, first_time, last_time, severity, diagnoses,"
                    " coalesce(root, 0) FROM incidents WHERE id = ?1",
    /* whether a correlation naming a VM names diagnosis ?1 (key ?2) with its role, which
     * could make it the VM's (relset_add() in store.c), */
    [SQL_INC_ADOPTABLE] = "SELECT 1 FROM diagnosis_related r"
                          " JOIN diagnoses c ON c.id = r.diagnosis"
                          " JOIN diagnosis_entities g ON g.diagnosis = ?1 AND g.name = 'group'"
                          " JOIN diagnosis_entities cg ON cg.diagnosis = r.diagnosis"
                          " AND cg.name = 'group'"
                          " WHERE r.member = ?2 AND c.kind = 'correlation' AND c.vm_name != ''"
                          " AND g.value != '' AND cg.value = g.value COLLATE NOCASE LIMIT 1",
    /* whether a member of incident ?1 has a comma in its short host name, */
    [SQL_INC_COMMA_HOST] = "SELECT 1 FROM diagnoses WHERE incident = ?1"
                           " AND instr(" STORE_HOST_SHORT ", ',') > 0 LIMIT 1",
    /* and the members of incident ?2 moved into ?1. */
    [SQL_INC_MOVE] = "UPDATE diagnoses SET incident = ?1 WHERE incident = ?2",
    [SQL_INC_MAX_ID] = "SELECT coalesce(max(id), 0) FROM incidents",
    [SQL_INC_MAX_DIAG] = "SELECT coalesce(max(id), 0) FROM diagnoses",
    [SQL_INC_COUNT_DIAG] = "SELECT count(*) FROM diagnoses",
    /* Writes only when something differs, so an unchanged incident costs no page write. */
    [SQL_INC_PUT] = "INSERT INTO incidents(id, subject_kind, subject, hosts, first_time,"
                    " last_time, severity, title, remedy, root, diagnoses)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
                    " ON CONFLICT(id) DO UPDATE SET subject_kind = ?2, subject = ?3,"
                    " hosts = ?4, first_time = ?5, last_time = ?6, severity = ?7, title = ?8,"
                    " remedy = ?9, root = ?10, diagnoses = ?11"
                    " WHERE (subject_kind, subject, hosts, first_time, last_time, severity,"
                    " title, remedy, root, diagnoses) IS NOT (?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [SQL_INC_SET] = "UPDATE diagnoses SET incident = ?1 WHERE id = ?2",
    [SQL_INC_DELETE] = "DELETE FROM incidents WHERE id = ?1",

    /* --- reading --- */
    [SQL_INCIDENT_GET] = "SELECT " STORE_INCIDENT_COLUMNS " FROM incidents i WHERE i.id = ?1",
    /* A page of an incident's diagnoses: those after the cursor (?2 nonzero) whose order
     * key is (?3, ?4, ?5, ?8, ?6), at most ?7 (-1: all). */
    [SQL_INCIDENT_DIAGS] = "SELECT " STORE_DIAGNOSIS_COLUMNS " FROM diagnoses d"
                           " WHERE d.incident = ?1"
                           " ORDER BY " STORE_INCIDENT_DIAG_ORDER " LIMIT ?7",
    [SQL_INCIDENT_DIAGS_AFTER] = "SELECT " STORE_DIAGNOSIS_COLUMNS " FROM diagnoses d"
                                 " WHERE d.incident = ?1"
                                 " AND (" STORE_INCIDENT_DIAG_ORDER ") > (?3, ?4, ?5, ?8, ?6)"
                                 " ORDER BY " STORE_INCIDENT_DIAG_ORDER " LIMIT ?7",
    /* A rule's diagnoses whose entity ?2 has join key ?3 (and value ?4 in any case, when
     * not NULL) and that start from ?5 to ?6 and end at or after ?7: latest first, at most
     * ?8 (-1: all). */
    [SQL_DIAGS_JOINED] =
        "SELECT " STORE_DIAGNOSIS_COLUMNS " FROM diagnosis_keys k"
        " JOIN diagnoses d ON d.id = k.diagnosis"
        " WHERE k.rule = ?1 AND k.name = ?2 AND k.key = ?3"
        " AND k.first_time >= ?5 AND k.first_time <= ?6 AND d.last_time >= ?7"
        " AND (?4 IS NULL OR EXISTS(SELECT 1 FROM diagnosis_entities e"
        " WHERE e.diagnosis = d.id AND e.name = ?2 AND e.value = ?4 COLLATE NOCASE))"
        " ORDER BY d.last_time DESC LIMIT ?8",
    /* 1 when rule ?1 has a diagnosis. */
    [SQL_RULE_STORED] = "SELECT EXISTS(SELECT 1 FROM diagnoses WHERE rule = ?1)",
    /* The longest span of any diagnosis (0 for none). */
    [SQL_DIAG_MAX_SPAN] = "SELECT " STORE_DIAG_MAX_SPAN,
    [SQL_DIAGS_AFTER] = "SELECT " STORE_DIAGNOSIS_COLUMNS " FROM diagnoses d WHERE d.id > ?1"
                        " ORDER BY d.id",
    /* A page of a diagnosis's evidence: after the cursor (?2 nonzero) at (?3, ?4, ?5, ?6),
     * at most ?7 (-1: all). */
    [SQL_EVIDENCE_OF] = "SELECT kind, path, record_id, event_record_id, line, byte_offset,"
                        " time, host, provider, channel, component, event_id, level, message,"
                        " level_text, task_text, opcode_text, channel_text"
                        " FROM evidence WHERE diagnosis = ?1"
                        " AND (?2 = 0 OR (time, path, record_id, line) > (?3, ?4, ?5, ?6))"
                        " ORDER BY time, path, record_id, line LIMIT ?7",
    [SQL_EVIDENCE_COUNT] = "SELECT count(*) FROM evidence WHERE diagnosis = ?1",
    [SQL_ENTITIES_OF] = "SELECT name, value FROM diagnosis_entities WHERE diagnosis = ?1"
                        " ORDER BY rowid",
    [SQL_COUNTS] = "SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM diagnoses),"
                   " (SELECT count(*) FROM incidents), (SELECT count(*) FROM evidence),"
                   " (SELECT coalesce(sum(value), 0) FROM counters"
                   "  WHERE name = 'events_marked'),"
                   " (SELECT count(*) FROM incidents WHERE severity = 0)",
    /* one full scan of each table: the table says 0 for diagnoses, 1 for incidents */
    [SQL_SEVERITY_COUNTS] = "SELECT 0, severity, count(*) FROM diagnoses GROUP BY severity"
                            " UNION ALL SELECT 1, severity, count(*) FROM incidents"
                            " GROUP BY severity",

    /* --- digest: every stored fact in a stable order, without row ids or seen times --- */
    [SQL_DUMP_DIAG] = "SELECT key, kind, rule, title, severity, confidence, cause, remedy, refs,"
                      " vm_name, vm_id, host, first_time, last_time, count FROM diagnoses"
                      " ORDER BY key",
    [SQL_DUMP_ENTITY] = "SELECT d.key, e.name, e.value FROM diagnosis_entities e"
                        " JOIN diagnoses d ON d.id = e.diagnosis ORDER BY d.key, e.name",
    [SQL_DUMP_RELATED] = "SELECT d.key, r.member FROM diagnosis_related r"
                         " JOIN diagnoses d ON d.id = r.diagnosis ORDER BY d.key, r.member",
    [SQL_DUMP_EVIDENCE] = "SELECT d.key, e.kind, e.path, e.record_id, e.event_record_id, e.line,"
                          " e.byte_offset, e.time, e.host, e.provider, e.channel, e.component,"
                          " e.event_id, e.level, e.message, e.level_text, e.task_text,"
                          " e.opcode_text, e.channel_text FROM evidence e"
                          " JOIN diagnoses d ON d.id = e.diagnosis"
                          " ORDER BY d.key, e.path, e.record_id, e.line",
    [SQL_DUMP_INCIDENT] = "SELECT r.key, i.subject_kind, i.subject, i.hosts, i.first_time,"
                          " i.last_time, i.severity, i.title, i.remedy, i.diagnoses"
                          " FROM incidents i JOIN diagnoses r ON r.id = i.root ORDER BY r.key",
    [SQL_DUMP_MEMBER] = "SELECT r.key, d.key FROM diagnoses d"
                        " JOIN incidents i ON i.id = d.incident"
                        " JOIN diagnoses r ON r.id = i.root ORDER BY r.key, d.key",
    /* Record ids seen, whatever instance holds them; their union is dumped (see store.c). */
    [SQL_DUMP_EVTX] = "SELECT host, channel, lo, hi FROM evtx_seen ORDER BY host, channel, lo",
    [SQL_DUMP_CLOG] = "SELECT node, section, n FROM clog_lines ORDER BY node, section",

    /* --- outbox --- */
    [SQL_OUTBOX_READ] = "SELECT seq, incident, revision, change, changed_at, severity,"
                        " previous_severity, subject_kind, subject, hosts, first_time, last_time,"
                        " title, remedy, diagnoses, rule, root_key, host, vm_name, vm_id"
                        " FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    /* The highest seq ever given out, pruned or not. */
    [SQL_OUTBOX_END] = "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'),"
                       " 0)",
    [SQL_CURSOR_GET] = "SELECT seq FROM output_cursors WHERE name = ?1",
    [SQL_CURSOR_DEACTIVATE] = "UPDATE output_cursors SET active = 0",
    /* A new output starts at the end: it gets the changes from now on. */
    [SQL_CURSOR_ATTACH] = "INSERT INTO output_cursors(name, seq, active) VALUES(?1, ?2, 1)"
                          " ON CONFLICT(name) DO UPDATE SET active = 1",
    [SQL_CURSOR_DROP_INACTIVE] = "DELETE FROM output_cursors WHERE active = 0",
    /* Cursors only move forward. */
    [SQL_CURSOR_SET] = "UPDATE output_cursors SET seq = max(seq, ?2) WHERE name = ?1",
    /* Rows every cursor has passed; with no cursor, every row up to ?1. */
    [SQL_OUTBOX_PRUNE] = "DELETE FROM outbox WHERE seq <= coalesce("
                         "(SELECT min(seq) FROM output_cursors), ?1)",

    /* --- a read of several statements that must see one state of the database --- */
    [SQL_READ_BEGIN] = "BEGIN",
    [SQL_READ_END] = "COMMIT",
    /* An incident's title and fix are its root's: read when it is written, not kept. */
    [SQL_INC_ROOT_TEXT] = "SELECT title, remedy FROM diagnoses WHERE id = ?1",
    /* A diagnosis keeps its ?2 earliest evidence events (hvd_diagnosis.evidence_keep). */
    [SQL_EVIDENCE_TRIM] = "DELETE FROM evidence WHERE id IN (SELECT id FROM evidence"
                          " WHERE diagnosis = ?1 ORDER BY time, path, record_id, line"
                          " LIMIT -1 OFFSET ?2)",

    /* An incident change into the outbox, as migration 6's triggers wrote it: before the
     * write, whether any output has a cursor (none: nothing is recorded) and the
     * incident's severity (NULL: it is new); after it, the next revision, then the row
     * (?2 the change, ?3 the previous severity or -1). */
    [SQL_OUTBOX_STATE] = "SELECT EXISTS(SELECT 1 FROM output_cursors),"
                         " (SELECT severity FROM incidents WHERE id = ?1)",
    [SQL_OUTBOX_REVISION] = "INSERT INTO incident_revisions(incident, revision) VALUES(?1, 1)"
                            " ON CONFLICT(incident) DO UPDATE SET revision = revision + 1",
    [SQL_OUTBOX_RECORD] = "INSERT INTO outbox(" STORE_OUTBOX_INSERT_COLUMNS ")"
                          " SELECT i.id, r.revision, ?2, " STORE_NOW_TICKS ", i.severity, ?3,"
                          " i.subject_kind, i.subject, i.hosts, i.first_time, i.last_time,"
                          " i.title, i.remedy, i.diagnoses, coalesce(d.rule, ''),"
                          " coalesce(d.key, ''), coalesce(d.host, ''), coalesce(d.vm_name, ''),"
                          " coalesce(d.vm_id, '')"
                          " FROM incidents i JOIN incident_revisions r ON r.incident = i.id"
                          " LEFT JOIN diagnoses d ON d.id = i.root WHERE i.id = ?1",
};

/* Opening for writing: WAL, and synchronous=NORMAL (a power cut may lose the last commits,
 * never corrupt). */
#define STORE_SQL_OPEN_WRITE \
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON"
/* Opening read-only: pages are read from a map of the file (SQLite maps at most
 * SQLITE_MAX_MMAP_SIZE, 2 GiB on Linux, and reads the rest), not with one pread() each. */
#define STORE_SQL_OPEN_READ    "PRAGMA mmap_size = 2147418112"
#define STORE_SQL_USER_VERSION "PRAGMA user_version"
#define STORE_SQL_DATA_VERSION "PRAGMA data_version"

#endif
