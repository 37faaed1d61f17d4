/* Suite for the store: real SQLite files in a temp dir. */
#define _DEFAULT_SOURCE /* kill(), for the crash test */
#include "store.h"
#include "store_internal.h"

#include "alloc.h"
#include "buf.h"
#include "hvtime.h"
#include "store_sql.h"
#include "synth.h"
#include "testutil.h"

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define H (3600 * HVD_TICKS_PER_SECOND)

static char *tmp;
static char *dbpath;

static void setup(void)
{
    tmp = hvd_test_tmpdir();
    dbpath = hvd_test_path(tmp, "t.db");
}

static void teardown(void)
{
    hvd_test_rmtree(tmp);
    free(tmp);
    free(dbpath);
}

static hvd_store *open_path(const char *path, int flags)
{
    hvd_store *st = NULL;
    hvd_error err;

    ck_assert_msg(hvd_store_open(&st, path, flags, &err) == HVD_OK, "%s", err.msg);
    return st;
}

static hvd_store *open_db(int flags)
{
    return open_path(dbpath, flags);
}

/* One number from the database file, read with plain SQLite. */
static int64_t count(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t n = -1;

    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    if (sqlite3_step(q) == SQLITE_ROW) {
        n = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void exec_sql(const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;

    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s", msg);
    sqlite3_close(db);
}

/* A diagnosis fixture: entities and evidence live in the struct so it can be copied. */
struct tdiag {
    hvd_diagnosis d;
    hvd_entity ents[4];
    hvd_evidence ev;
    const char *related[4];
};

static const char *const refs[] = {"https://example.invalid/kb", "https://example.invalid/2"};

static void tdiag_init(struct tdiag *t, const char *key, const char *vm, const char *vmid,
                       const char *host, hvd_time first, hvd_time last, uint64_t n, uint64_t record)
{
    size_t ne = 0;

    memset(t, 0, sizeof(*t));
    t->ents[ne++] = (hvd_entity){HVD_ENTITY_HOST, host};
    if (vm) {
        t->ents[ne++] = (hvd_entity){HVD_ENTITY_VM_NAME, vm};
    }
    if (vmid) {
        t->ents[ne++] = (hvd_entity){HVD_ENTITY_VM_ID, vmid};
    }
    t->d.key = key;
    t->d.kind = HVD_DIAGNOSIS_SIGNATURE;
    t->d.rule_id = "r";
    t->d.title = key;
    t->d.severity = HVD_SEVERITY_ERROR;
    t->d.confidence = "high";
    t->d.cause = "c\twith a tab";
    t->d.remedy = "fix\nsecond line";
    t->d.references = refs;
    t->d.nreferences = 2;
    t->d.entities = t->ents;
    t->d.nentities = ne;
    t->d.first_time = first;
    t->d.last_time = last;
    t->d.count = n;
    t->ev.kind = HVD_SOURCE_EVTX;
    t->ev.source_path = "a.evtx";
    t->ev.record_id = record;
    t->ev.event_record_id = record;
    t->ev.time = first;
    t->ev.host = host;
    t->ev.provider = "p";
    t->ev.channel = "c";
    t->ev.component = "";
    t->ev.message = "m";
    t->d.evidence = &t->ev;
    t->d.nevidence = 1;
}

/* Re-points the internal pointers after a struct copy. */
static hvd_diagnosis *tdiag_get(struct tdiag *t)
{
    t->d.entities = t->ents;
    t->d.evidence = &t->ev;
    t->d.related = t->d.nrelated ? t->related : NULL;
    return &t->d;
}

static void put(hvd_store *st, struct tdiag *t)
{
    hvd_error err;

    ck_assert_msg(hvd_store_put_diagnosis(st, tdiag_get(t), NULL, &err) == HVD_OK, "%s", err.msg);
}

static void begin(hvd_store *st)
{
    hvd_error err;

    ck_assert_msg(hvd_store_begin(st, &err) == HVD_OK, "%s", err.msg);
}

static void commit(hvd_store *st)
{
    hvd_error err;

    ck_assert_msg(hvd_store_commit(st, &err) == HVD_OK, "%s", err.msg);
}

static void digest_of(hvd_store *st, char out[HVD_STORE_DIGEST_SIZE])
{
    hvd_error err;

    ck_assert_msg(hvd_store_digest(st, out, &err) == HVD_OK, "%s", err.msg);
    ck_assert_uint_eq(strlen(out), 32);
}

/* --- schema ------------------------------------------------------------------------------ */

START_TEST(schema_is_created_versioned_and_in_wal_mode)
{
    hvd_store *st = open_db(0);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;

    hvd_store_close(st);
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                           " ('sources', 'evtx_seen', 'clog_cover', 'clog_lines', 'counters',"
                           " 'diagnoses', 'diagnosis_entities', 'diagnosis_related', 'evidence',"
                           " 'incidents')"),
                     10);
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                           " ('diagnoses_vm_name', 'diagnoses_vm_id',"
                           " 'diagnoses_host_list', 'diagnoses_rule_list', 'diagnoses_time',"
                           " 'diagnoses_severity', 'diagnoses_host_short', 'diagnoses_vm_pair',"
                           " 'diagnoses_vm_pair_id', 'diagnoses_inverted', 'related_member',"
                           " 'diagnoses_span', 'incidents_span')"),
                     13);
    /* no statement looked entities up by value (step 12) */
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE name = 'entities_value'"), 0);
    /* the host and rule indexes of steps 1 and 5 gave way to ones that also give the time
     * order and carry what listings filter on */
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                           " ('diagnoses_host', 'diagnoses_rule', 'diagnoses_host_time',"
                           " 'diagnoses_rule_time')"),
                     0);
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* Opening again migrates nothing and keeps the version. */
    hvd_store_close(open_db(0));
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
}
END_TEST

/* The schema of the database at path, one line per object in sqlite_master's order:
 * "type|name|table|sql". Caller frees. */
static char *schema_of(const char *path)
{
    hvd_buf out;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rc;

    hvd_buf_init(&out, 1 << 20);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db,
                                        "SELECT type, name, tbl_name, coalesce(sql, '')"
                                        " FROM sqlite_master ORDER BY rowid",
                                        -1, &q, NULL),
                     SQLITE_OK);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < 4; c++) {
            ck_assert_int_eq(hvd_buf_adds(&out, (const char *)sqlite3_column_text(q, c)), 0);
            ck_assert_int_eq(hvd_buf_addc(&out, c < 3 ? '|' : '\n'), 0);
        }
    }
    ck_assert_int_eq(rc, SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return hvd_buf_take(&out);
}

START_TEST(a_new_database_has_the_schema_every_migration_gives)
{
    char *migrated_path = hvd_test_path(tmp, "migrated.db");
    char *migrated;
    char *created;
    sqlite3 *db = NULL;
    char *msg = NULL;

    /* Every migration in turn, as a database made by an older hvdiag went through them. */
    ck_assert_int_eq(sqlite3_open(migrated_path, &db), SQLITE_OK);
    for (size_t i = 0; i < sizeof(store_migrations) / sizeof(store_migrations[0]); i++) {
        ck_assert_msg(sqlite3_exec(db, store_migrations[i], NULL, NULL, &msg) == SQLITE_OK, "%s",
                      msg);
    }
    sqlite3_close(db);
    hvd_store_close(open_db(0)); /* a new file: store_schema_latest at once */
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
    migrated = schema_of(migrated_path);
    created = schema_of(dbpath);
    if (strcmp(migrated, created) != 0) {
        /* What store_schema_latest should read (lib/store_sql.h). */
        char *p = migrated;

        fprintf(stderr, "store_schema_latest differs from the migrations' schema; it is:\n");
        while (*p) {
            char *nl = strchr(p, '\n');
            char *sql = p;

            for (int bar = 0; bar < 3; bar++) {
                sql = strchr(sql, '|') + 1;
            }
            if (*sql != '\n' && strncmp(sql, "CREATE TABLE sqlite_", 20) != 0) {
                fprintf(stderr, "    \"%.*s;\"\n", (int)(nl - sql), sql);
            }
            p = nl + 1;
        }
    }
    ck_assert_msg(strcmp(created, migrated) == 0, "a new database has another schema");
    free(migrated);
    free(created);
    free(migrated_path);
}
END_TEST

START_TEST(version_1_database_is_migrated_keeping_its_rows)
{
    hvd_store *st;
    hvd_store_source src;
    hvd_store_counts c;
    hvd_error err;
    char sql[256];

    /* A database exactly as schema version 1 wrote it. */
    exec_sql(store_migrations[0]);
    exec_sql("INSERT INTO sources(path, kind, position, events) VALUES('/l/a.evtx', 'evtx',"
             " 'r:7', 7);"
             "INSERT INTO evtx_seen VALUES('HV1', 'System', 1, 7);"
             "INSERT INTO clog_seen VALUES('N1', '', 100, '00000000000000aa');"
             "PRAGMA user_version = 1;");
    /* Read-only cannot upgrade, and says so. */
    ck_assert_int_lt(hvd_store_open(&st, dbpath, HVD_STORE_READONLY, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
    ck_assert_ptr_nonnull(strstr(err.msg, "older"));
    ck_assert_int_eq(count("PRAGMA user_version"), 1);
    /* Asked to, a reader upgrades it first (as 'hvdiag query' does), then reads. */
    ck_assert_msg(hvd_store_open(&st, dbpath, HVD_STORE_READONLY | HVD_STORE_UPGRADE, &err) ==
                      HVD_OK,
                  "%s", err.msg);
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
    ck_assert_int_eq(hvd_store_get_source(st, "/l/a.evtx", &src, &err), 1);
    hvd_store_close(st);
    st = open_db(0);
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
    ck_assert_int_eq(hvd_store_get_source(st, "/l/a.evtx", &src, &err), 1);
    ck_assert_str_eq(src.position, "r:7");
    ck_assert_uint_eq(src.events, 7);
    ck_assert_uint_eq(src.inode, 0);
    ck_assert_str_eq(src.prefix_hash, "");
    ck_assert_int_eq(hvd_store_get_counts(st, &c, &err), HVD_OK);
    ck_assert_int_eq(c.events_marked, 7); /* counted from the seen intervals */
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 7, 0, &err), 1);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 8, 0, &err), 0);
    hvd_store_close(st);
    /* Every statement of this version prepares against the migrated schema. */
    for (size_t i = 0; i < SQL_COUNT; i++) {
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;

        ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
        snprintf(sql, sizeof(sql), "%.200s", store_sql[i]);
        ck_assert_msg(sqlite3_prepare_v2(db, store_sql[i], -1, &q, NULL) == SQLITE_OK, "%s: %s",
                      sql, sqlite3_errmsg(db));
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
}
END_TEST

START_TEST(bad_files_are_refused_with_their_name)
{
    hvd_store *st = NULL;
    hvd_error err;
    char junk[4096];
    char *missing;

    /* Garbage bytes. */
    memset(junk, 'x', sizeof(junk));
    ck_assert_int_eq(hvd_test_write_file(dbpath, junk, sizeof(junk)), 0);
    ck_assert_int_lt(hvd_store_open(&st, dbpath, 0, &err), 0);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(err.code, HVD_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
    ck_assert_int_lt(hvd_store_open(&st, dbpath, HVD_STORE_READONLY, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
    remove(dbpath);
    /* A real database whose pages were overwritten after the header. */
    hvd_store_close(open_db(0));
    {
        size_t len;
        char *data = hvd_test_read_file(dbpath, &len);

        ck_assert_ptr_nonnull(data);
        if (len > 4096) {
            memset(data + 100, 0x5a, len - 100);
        }
        ck_assert_int_eq(hvd_test_write_file(dbpath, data, len), 0);
        free(data);
    }
    {
        char *wal = hvd_test_path(tmp, "t.db-wal");

        remove(wal);
        free(wal);
    }
    if (hvd_store_open(&st, dbpath, 0, &err) == HVD_OK) {
        /* SQLite may only notice on first read; a read must fail cleanly then. */
        hvd_store_counts c;

        ck_assert_int_lt(hvd_store_get_counts(st, &c, &err), 0);
        ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
        hvd_store_close(st);
    } else {
        ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
    }
    remove(dbpath);
    /* A newer schema. */
    exec_sql("PRAGMA user_version = 99");
    ck_assert_int_lt(hvd_store_open(&st, dbpath, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "newer hvdiag"));
    ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
    ck_assert_int_lt(hvd_store_open(&st, dbpath, HVD_STORE_READONLY, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "newer hvdiag"));
    ck_assert_int_eq(count("PRAGMA user_version"), 99); /* untouched */
    remove(dbpath);
    /* Read-only does not create. */
    ck_assert_int_lt(hvd_store_open(&st, dbpath, HVD_STORE_READONLY, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
    missing = hvd_test_path(tmp, "no/such/dir/x.db");
    ck_assert_int_lt(hvd_store_open(&st, missing, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, missing));
    free(missing);
}
END_TEST

/* --- diagnoses and evidence -------------------------------------------------------------- */

START_TEST(upsert_by_key_grows_and_dedupes_evidence)
{
    hvd_store *st = open_db(0);
    struct tdiag t;
    hvd_error err;
    int changed = 0;

    tdiag_init(&t, "k1", "SQL01", NULL, "HV1", 10 * H, 10 * H, 1, 1);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&t), NULL, &err), HVD_EINVAL);
    begin(st);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&t), &changed, NULL), HVD_OK);
    ck_assert_int_eq(changed, 1);
    tdiag_init(&t, "k1", "SQL01", NULL, "HV1", 9 * H, 11 * H, 5, 2);
    put(st, &t);
    changed = 0;
    ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&t), &changed, NULL), HVD_OK);
    ck_assert_int_eq(changed, 0); /* the same again changes nothing */
    /* An older emission (smaller running total, narrower span) shrinks nothing. */
    tdiag_init(&t, "k1", "SQL01", NULL, "HV1", 10 * H, 10 * H, 2, 1);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&t), &changed, NULL), HVD_OK);
    ck_assert_int_eq(changed, 0);
    /* The same event behind another diagnosis is that diagnosis's evidence too. */
    tdiag_init(&t, "k2", "SQL01", NULL, "HV1", 10 * H, 10 * H, 1, 1);
    put(st, &t);
    commit(st);
    hvd_store_close(st);
    ck_assert_int_eq(count("SELECT count(*) FROM diagnoses"), 2);
    ck_assert_int_eq(count("SELECT count FROM diagnoses WHERE key = 'k1'"), 5);
    ck_assert_int_eq(count("SELECT first_time FROM diagnoses WHERE key = 'k1'"), 9 * H);
    ck_assert_int_eq(count("SELECT last_time FROM diagnoses WHERE key = 'k1'"), 11 * H);
    ck_assert_int_eq(count("SELECT count(*) FROM evidence e JOIN diagnoses d ON d.id ="
                           " e.diagnosis WHERE d.key = 'k1'"),
                     2);
    ck_assert_int_eq(count("SELECT count(*) FROM evidence"), 3);
    ck_assert_int_eq(count("SELECT count(*) FROM diagnosis_entities WHERE name = 'vm_name'"
                           " AND value = 'SQL01'"),
                     2);
}
END_TEST

START_TEST(cluster_log_evidence_is_told_apart_by_line)
{
    hvd_store *st = open_db(0);
    struct tdiag t;

    begin(st);
    tdiag_init(&t, "k", NULL, NULL, "N1", H, H, 1, 0);
    t.ev.kind = HVD_SOURCE_CLUSTERLOG;
    t.ev.source_path = "N1_cluster.log";
    t.ev.record_id = 0;
    t.ev.event_record_id = 0;
    for (uint64_t line = 1; line <= 3; line++) {
        t.ev.line = line;
        t.ev.byte_offset = line * 80;
        put(st, &t);
        put(st, &t);
    }
    commit(st);
    hvd_store_close(st);
    ck_assert_int_eq(count("SELECT count(*) FROM evidence WHERE kind = 'clusterlog'"), 3);
}
END_TEST

/* The fixture set for ordering tests: two VMs (one named by name, id and both), a host, a
 * correlation over two of them. */
enum { NSET = 7 };

static void fixture_set(struct tdiag *v)
{
    tdiag_init(&v[0], "a-vmname", "SQL01", NULL, "HV1", 1 * H, 2 * H, 3, 1);
    tdiag_init(&v[1], "b-vmid", NULL, "8e3a-01", "HV2.corp.local", 2 * H, 2 * H, 1, 2);
    tdiag_init(&v[2], "c-both", "sql01", "8E3A-01", "HV1", 3 * H, 3 * H, 1, 3);
    tdiag_init(&v[3], "d-host", NULL, NULL, "HV3", 1 * H, 1 * H, 1, 4);
    tdiag_init(&v[4], "e-later", "SQL01", NULL, "HV1", 30 * H, 30 * H, 1, 5);
    tdiag_init(&v[5], "f-web", "WEB01", NULL, "HV3", 40 * H, 40 * H, 1, 6);
    tdiag_init(&v[6], "g-corr", NULL, NULL, "HV3", 40 * H, 41 * H, 2, 7);
    v[6].d.kind = HVD_DIAGNOSIS_CORRELATION;
    v[6].d.severity = HVD_SEVERITY_WARNING;
    v[6].related[0] = "f-web";
    v[6].related[1] = "e-later";
    v[6].d.nrelated = 2;
}

/* Puts the set in the given order into a fresh database; per_tx commits after each. */
static void build(const char *path, const int *order, int per_tx, char out[HVD_STORE_DIGEST_SIZE])
{
    struct tdiag v[NSET];
    hvd_store *st;

    fixture_set(v);
    remove(path);
    st = open_path(path, 0);
    begin(st);
    for (int i = 0; i < NSET; i++) {
        put(st, &v[order[i]]);
        if (per_tx) {
            commit(st);
            begin(st);
        }
    }
    commit(st);
    digest_of(st, out);
    hvd_store_close(st);
}

START_TEST(same_diagnoses_in_any_order_give_the_same_digest)
{
    static const int fwd[NSET] = {0, 1, 2, 3, 4, 5, 6};
    static const int rev[NSET] = {6, 5, 4, 3, 2, 1, 0};
    static const int mix[NSET] = {2, 6, 0, 4, 1, 5, 3};
    char a[HVD_STORE_DIGEST_SIZE];
    char b[HVD_STORE_DIGEST_SIZE];
    char *other = hvd_test_path(tmp, "other.db");
    struct tdiag v[NSET];
    hvd_store *st;
    int changed = 0;

    build(dbpath, fwd, 0, a);
    build(other, rev, 0, b);
    ck_assert_str_eq(a, b);
    build(other, mix, 1, b); /* one transaction per diagnosis: incidents regrouped each time */
    ck_assert_str_eq(a, b);
    build(other, rev, 1, b);
    ck_assert_str_eq(a, b);
    /* Putting it all again changes nothing. */
    fixture_set(v);
    st = open_db(0);
    begin(st);
    for (int i = 0; i < NSET; i++) {
        ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&v[i]), &changed, NULL), HVD_OK);
    }
    commit(st);
    ck_assert_int_eq(changed, 0);
    digest_of(st, b);
    ck_assert_str_eq(a, b);
    /* And a real change shows. */
    begin(st);
    v[3].ev.record_id = 99;
    put(st, &v[3]);
    commit(st);
    digest_of(st, b);
    ck_assert_str_ne(a, b);
    hvd_store_close(st);
    free(other);
}
END_TEST

/* Evidence of one diagnosis as "time|level_text|task_text|opcode_text|channel_text;". */
static int note_rendering(void *ud, const hvd_evidence *e)
{
    char *out = ud;
    size_t len = strlen(out);

    snprintf(out + len, 4096 - len, "%lld|%s|%s|%s|%s;", (long long)e->time, e->level_text,
             e->task_text, e->opcode_text, e->channel_text);
    return 0;
}

START_TEST(evidence_keeps_rendering_texts_and_old_rows_read_empty)
{
    hvd_store *st = open_db(0);
    struct tdiag t;
    char got[4096] = "";
    hvd_error err;

    tdiag_init(&t, "k1", NULL, NULL, "HV1", 10, 10, 1, 1);
    begin(st);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&t), NULL, &err), HVD_OK);
    commit(st);
    hvd_store_close(st);
    /* The row as schema version 7 stored it: no RenderingInfo columns, no VM list indexes,
     * the incident's index on its id alone (the outbox triggers 10 drops are left out). */
    exec_sql("DROP INDEX diagnoses_incident_order;"
             "ALTER TABLE diagnoses DROP COLUMN show_kind;"
             "ALTER TABLE diagnoses DROP COLUMN show_severity;"
             "ALTER TABLE diagnoses DROP COLUMN show_count;"
             "CREATE INDEX diagnoses_incident ON diagnoses(incident);"
             "DROP INDEX diagnoses_vm_name_list;"
             "DROP INDEX diagnoses_vm_id_list;"
             "ALTER TABLE evidence DROP COLUMN level_text;"
             "ALTER TABLE evidence DROP COLUMN task_text;"
             "ALTER TABLE evidence DROP COLUMN opcode_text;"
             "ALTER TABLE evidence DROP COLUMN channel_text;"
             "DROP TABLE join_sides;"
             "DROP TABLE diagnosis_keys;"
             "PRAGMA user_version = 7;");
    st = open_db(0);
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
    /* step 12 dropped the entities' (name, value) index, which no statement searched */
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE name = 'entities_value'"), 0);
    /* A forwarded event's evidence: its sender's names come back as stored. */
    tdiag_init(&t, "k1", NULL, NULL, "HV1", 10, 20, 2, 2);
    t.ev.time = 20;
    t.ev.level_text = "Error";
    t.ev.task_text = "Live Migration";
    t.ev.opcode_text = "Info";
    t.ev.channel_text = "Microsoft-Windows-Hyper-V-VMMS-Admin";
    begin(st);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&t), NULL, &err), HVD_OK);
    commit(st);
    ck_assert_int_eq(
        hvd_store_diagnosis_evidence_page(st, count("SELECT id FROM diagnoses WHERE key = 'k1'"),
                                          NULL, -1, note_rendering, got, &err),
        HVD_OK);
    ck_assert_str_eq(got,
                     "10||||;20|Error|Live Migration|Info|Microsoft-Windows-Hyper-V-VMMS-Admin;");
    hvd_store_close(st);
}
END_TEST

#define KEEP 20

/* Puts diagnosis "k" grown to 'n' matches, one evidence event at time times[i] each. */
static void put_flood(hvd_store *st, const hvd_time *times, int n)
{
    struct tdiag t;
    hvd_error err;

    begin(st);
    for (int i = 0; i < n; i++) {
        tdiag_init(&t, "k", NULL, NULL, "HV1", times[i], times[i], (uint64_t)i + 1,
                   (uint64_t)times[i]);
        t.d.evidence_keep = KEEP;
        ck_assert_int_eq(hvd_store_put_diagnosis(st, tdiag_get(&t), NULL, &err), HVD_OK);
    }
    commit(st);
}

START_TEST(evidence_is_the_earliest_whatever_order_it_came_in)
{
    hvd_time up[KEEP + 10];
    hvd_time down[KEEP + 10];
    int n = KEEP + 10;
    char a[HVD_STORE_DIGEST_SIZE];
    char b[HVD_STORE_DIGEST_SIZE];
    hvd_store *st;

    for (int i = 0; i < n; i++) {
        up[i] = 100 + i;
        down[i] = 100 + n - 1 - i;
    }
    st = open_db(0);
    put_flood(st, up, n);
    digest_of(st, a);
    hvd_store_close(st);
    ck_assert_int_eq(count("SELECT count(*) FROM evidence"), KEEP);
    ck_assert_int_eq(count("SELECT max(time) FROM evidence"), 100 + KEEP - 1);
    unlink(dbpath);
    st = open_db(0);
    put_flood(st, down, n);
    digest_of(st, b);
    hvd_store_close(st);
    ck_assert_int_eq(count("SELECT count(*) FROM evidence"), KEEP);
    ck_assert_int_eq(count("SELECT min(time) FROM evidence"), 100);
    ck_assert_str_eq(a, b);
}
END_TEST

/* --- seen input -------------------------------------------------------------------------- */

START_TEST(evtx_seen_ranges_merge_persist_and_roll_back)
{
    static const uint64_t order[] = {5, 3, 4, 10, 1, 2, 7, 6, 9, 8};
    hvd_store *st = open_db(0);
    hvd_store_counts c;
    hvd_error err;

    ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", 1, 0, &err), HVD_EINVAL);
    begin(st);
    for (size_t i = 0; i < 10; i++) {
        ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", order[i], 0, NULL), 0);
        ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", order[i], 0, NULL), HVD_OK);
        ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", order[i], 0, NULL), 1);
    }
    /* Two runs with a hole, then the hole: one interval. */
    ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", 20, 0, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", 22, 0, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 21, 0, NULL), 0);
    ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", 21, 0, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", 21, 0, NULL), HVD_OK); /* again */
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 15, 0, NULL), 0);
    /* Another channel or host is another sequence; id 0 identifies nothing. */
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "Application", 6, 0, NULL), 0);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV2", "System", 6, 0, NULL), 0);
    ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", 0, 0, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 0, 0, NULL), 0);
    commit(st);
    hvd_store_close(st);
    ck_assert_int_eq(count("SELECT count(*) FROM evtx_seen"), 2);
    ck_assert_int_eq(count("SELECT hi FROM evtx_seen WHERE lo = 1"), 10);
    ck_assert_int_eq(count("SELECT hi FROM evtx_seen WHERE lo = 20"), 22);
    st = open_db(0);
    ck_assert_int_eq(hvd_store_get_counts(st, &c, &err), HVD_OK);
    ck_assert_int_eq(c.events_marked, 13);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 10, 0, NULL), 1);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 11, 0, NULL), 0);
    begin(st);
    ck_assert_int_eq(hvd_store_evtx_mark(st, "HV1", "System", 11, 0, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 11, 0, NULL), 1);
    hvd_store_rollback(st);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 11, 0, NULL), 0); /* forgotten */
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 10, 0, NULL), 1); /* kept */
    hvd_store_close(st);
    ck_assert_int_eq(count("SELECT hi FROM evtx_seen WHERE lo = 1"), 10);
    ck_assert_int_eq(count("SELECT value FROM counters WHERE name = 'events_marked'"), 13);
}
END_TEST

#define CLOG_SEEN(st, t, pid, text) hvd_store_clusterlog_seen(st, "N1", "", t, pid, 2, text, NULL)
#define CLOG_MARK(st, t, pid, text) hvd_store_clusterlog_mark(st, "N1", "", t, pid, 2, text, NULL)

/* One "file": lines at times from[0..n), each with its pid and text, in one transaction. */
static void clog_file(hvd_store *st, const int64_t *times, size_t n, const char *text)
{
    begin(st);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(CLOG_MARK(st, times[i], 1, text), HVD_OK);
    }
    commit(st);
}

START_TEST(clusterlog_lines_at_equal_times_are_told_apart)
{
    hvd_store *st = open_db(0);
    hvd_event ev;
    int seen;

    begin(st);
    ck_assert_int_eq(CLOG_MARK(st, 100, 1, "a"), HVD_OK);
    ck_assert_int_eq(CLOG_SEEN(st, 100, 1, "a"), 1);
    /* Same time: other text, or the same text from another thread, is another line. */
    ck_assert_int_eq(CLOG_SEEN(st, 100, 1, "b"), 0);
    ck_assert_int_eq(hvd_store_clusterlog_seen(st, "N1", "", 100, 1, 3, "a", NULL), 0);
    ck_assert_int_eq(CLOG_MARK(st, 100, 1, "b"), HVD_OK);
    /* Older or newer than what was read: new. */
    ck_assert_int_eq(CLOG_SEEN(st, 50, 9, "never"), 0);
    ck_assert_int_eq(CLOG_SEEN(st, 101, 1, "a"), 0);
    /* Another node or section is another stream. */
    ck_assert_int_eq(hvd_store_clusterlog_seen(st, "N2", "", 100, 1, 2, "a", NULL), 0);
    ck_assert_int_eq(hvd_store_clusterlog_seen(st, "N1", "Operational", 100, 1, 2, "a", NULL), 0);
    commit(st);
    hvd_store_close(st);
    st = open_db(0);
    ck_assert_int_eq(CLOG_SEEN(st, 100, 1, "b"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 100, 1, "c"), 0);
    /* The event form checks and marks at once. */
    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_CLUSTERLOG;
    ev.host = "N1";
    ev.channel = "";
    ev.time = 105;
    ev.pid = 1;
    ev.tid = 2;
    ev.message = "x";
    begin(st);
    ck_assert_int_eq(hvd_store_event_seen(st, &ev, &seen, NULL), HVD_OK);
    ck_assert_int_eq(seen, 0);
    ck_assert_int_eq(hvd_store_event_seen(st, &ev, &seen, NULL), HVD_OK);
    ck_assert_int_eq(seen, 1);
    /* Not yet merged: the run covers only its ends. */
    ck_assert_int_eq(CLOG_SEEN(st, 103, 1, "c"), 0);
    ck_assert_int_eq(hvd_store_seen_break(st, NULL), HVD_OK);
    /* The run touched nothing stored, so 100..105 is not taken as read. */
    ck_assert_int_eq(CLOG_SEEN(st, 103, 1, "c"), 0);
    ck_assert_int_eq(CLOG_SEEN(st, 105, 1, "x"), 1);
    hvd_store_rollback(st);
    ck_assert_int_eq(hvd_store_event_seen(st, &ev, &seen, NULL), HVD_EINVAL); /* no tx */
    ck_assert_int_eq(seen, 0);
    ck_assert_int_eq(CLOG_SEEN(st, 105, 1, "x"), 0);
    ck_assert_int_eq(CLOG_SEEN(st, 100, 1, "a"), 1);
    hvd_store_close(st);
}
END_TEST

/* Files in any order: an older one is read, an overlapping one adds only what lies outside
 * what was read, and the lines at the shared edge are compared one by one. */
START_TEST(clusterlog_ranges_take_files_in_any_order)
{
    static const int64_t late[] = {1000, 1100, 1200};
    static const int64_t early[] = {800, 900, 1000};
    static const int64_t wider[] = {700, 800, 850, 1100, 1150, 1200, 1300};
    hvd_store *st = open_db(0);
    hvd_store_counts c;
    hvd_error err;

    clog_file(st, late, 3, "late");
    /* Inside what was read: covered, whatever the text; at its ends only the lines read. */
    ck_assert_int_eq(CLOG_SEEN(st, 1150, 7, "anything"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 1000, 1, "late"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 1000, 1, "early"), 0);
    ck_assert_int_eq(CLOG_SEEN(st, 999, 1, "early"), 0);
    /* The older export is read whole, its line at 1000 too (other text). */
    clog_file(st, early, 3, "early");
    hvd_store_close(st);
    st = open_db(0);
    /* They touch at 1000: one range, with both lines at 1000 inside it. */
    ck_assert_int_eq(count("SELECT count(*) FROM clog_cover"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 1000, 1, "early"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 950, 1, "x"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 1050, 1, "x"), 1);
    /* A wider re-export: only 700 and 1300 are new. */
    begin(st);
    for (size_t i = 0; i < 7; i++) {
        int64_t t = wider[i];
        const char *text = t < 1000 ? "early" : "late";
        int seen = CLOG_SEEN(st, t, 1, text);

        ck_assert_int_eq(seen, t != 700 && t != 1300);
        ck_assert_int_eq(CLOG_MARK(st, t, 1, text), HVD_OK);
    }
    commit(st);
    ck_assert_int_eq(count("SELECT count(*) FROM clog_cover"), 1);
    ck_assert_int_eq(count("SELECT lo FROM clog_cover"), 700);
    ck_assert_int_eq(count("SELECT hi FROM clog_cover"), 1300);
    ck_assert_int_eq(count("SELECT n FROM clog_lines"), 8);
    ck_assert_int_eq(hvd_store_get_counts(st, &c, &err), HVD_OK);
    ck_assert_int_eq(c.events_marked, 8);
    ck_assert_int_eq(CLOG_SEEN(st, 700, 1, "early"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 700, 2, "early"), 0);
    ck_assert_int_eq(CLOG_SEEN(st, 1000, 1, "middle"), 1); /* inside now */
    hvd_store_close(st);
}
END_TEST

/* A database from before keeps what its high-water time said: everything up to it read. */
START_TEST(version_3_clusterlog_high_water_becomes_a_range)
{
    hvd_store *st;
    hvd_store_source src;
    hvd_error err;
    char sql[512];

    for (int i = 0; i < 3; i++) {
        exec_sql(store_migrations[i]);
    }
    snprintf(sql, sizeof(sql),
             "INSERT INTO clog_seen VALUES('N1', '', 100, '%016" PRIx64 "');"
             "INSERT INTO evtx_seen VALUES('HV1', 'System', 1, 7);"
             "INSERT INTO sources(path, kind, position, events, inode, head_hash)"
             " VALUES('/l/a.evtx', 'evtx', 'r:7', 7, 42, '0123456789abcdef');"
             "PRAGMA user_version = 3;",
             (uint64_t)0);
    exec_sql(sql);
    st = open_db(0);
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
    ck_assert_int_eq(count("SELECT count(*) FROM clog_cover"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 50, 1, "older"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 100, 1, "other"), 0);
    ck_assert_int_eq(CLOG_SEEN(st, 101, 1, "newer"), 0);
    /* Intervals without times agree with any time. */
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 7, 1234, &err), 1);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 8, 1234, &err), 0);
    ck_assert_int_eq(hvd_store_get_source(st, "/l/a.evtx", &src, &err), 1);
    ck_assert_uint_eq(src.inode, 42);
    ck_assert_uint_eq(src.fresh, 0);
    ck_assert_uint_eq(src.repeated, 0);
    /* A later line joins the old range. */
    begin(st);
    ck_assert_int_eq(CLOG_MARK(st, 100, 1, "other"), HVD_OK);
    ck_assert_int_eq(CLOG_MARK(st, 120, 1, "newer"), HVD_OK);
    commit(st);
    ck_assert_int_eq(count("SELECT count(*) FROM clog_cover"), 1);
    ck_assert_int_eq(CLOG_SEEN(st, 110, 1, "x"), 1);
    hvd_store_close(st);
}
END_TEST

#define T(s) ((hvd_time)(s)*10000000)

/* One EVTX "file": ids [lo, hi] with times base + id seconds. */
static void evtx_file(hvd_store *st, const char *host, uint64_t lo, uint64_t hi, int64_t base,
                      uint64_t *fresh)
{
    *fresh = 0;
    begin(st);
    for (uint64_t id = lo; id <= hi; id++) {
        hvd_event ev;
        int seen;

        memset(&ev, 0, sizeof(ev));
        ev.kind = HVD_SOURCE_EVTX;
        ev.host = host;
        ev.channel = "System";
        ev.event_record_id = id;
        ev.time = T(base + (int64_t)id);
        ck_assert_int_eq(hvd_store_event_seen(st, &ev, &seen, NULL), HVD_OK);
        *fresh += !seen;
    }
    commit(st);
}

/* Re-exports of one log add nothing twice; a rebuilt host or a cleared log (ids again from
 * 1, later times) is another instance and is read. */
START_TEST(evtx_log_instances_tell_a_rebuilt_host_from_a_re_export)
{
    hvd_store *st = open_db(0);
    uint64_t fresh;

    evtx_file(st, "HV1", 1, 100, 1000, &fresh);
    ck_assert_uint_eq(fresh, 100);
    evtx_file(st, "HV1", 50, 150, 1000, &fresh); /* a later export of the same log */
    ck_assert_uint_eq(fresh, 50);
    evtx_file(st, "HV1", 1, 80, 50000, &fresh); /* rebuilt: ids again, times later */
    ck_assert_uint_eq(fresh, 80);
    ck_assert_int_eq(count("SELECT count(DISTINCT inst) FROM evtx_seen"), 2);
    evtx_file(st, "HV1", 1, 120, 50000, &fresh); /* the rebuilt host's log grew */
    ck_assert_uint_eq(fresh, 40);
    evtx_file(st, "HV1", 20, 150, 1000, &fresh); /* the old log again */
    ck_assert_uint_eq(fresh, 0);
    /* Time agrees exactly at the ends, within the span inside. */
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 1, T(1001), NULL), 1);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 1, T(1002), NULL), 0);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 150, T(1150), NULL), 1);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 130, T(90000), NULL), 0);
    /* A file split in two, the second half first: the halves join on their shared edge. */
    evtx_file(st, "HV2", 51, 100, 0, &fresh);
    evtx_file(st, "HV2", 1, 50, 0, &fresh);
    ck_assert_uint_eq(fresh, 50);
    evtx_file(st, "HV2", 1, 100, 0, &fresh);
    ck_assert_uint_eq(fresh, 0);
    ck_assert_int_eq(count("SELECT count(*) FROM evtx_seen WHERE host = 'HV2'"), 1);
    hvd_store_close(st);
}
END_TEST

/* The digest does not depend on how files were split or which came first. */
START_TEST(seen_input_digests_the_same_in_any_order)
{
    static const int64_t a[] = {800, 900, 1000};
    static const int64_t b[] = {1000, 1100, 1200};
    static const int64_t ab[] = {800, 900, 1000, 1100, 1200};
    char one[HVD_STORE_DIGEST_SIZE];
    char two[HVD_STORE_DIGEST_SIZE];
    char *other = hvd_test_path(tmp, "other.db");
    hvd_store *st = open_db(0);
    hvd_store *st2 = open_path(other, 0);
    uint64_t fresh;

    clog_file(st, ab, 5, "x");
    evtx_file(st, "HV1", 1, 100, 0, &fresh);
    digest_of(st, one);
    evtx_file(st2, "HV1", 61, 100, 0, &fresh);
    clog_file(st2, b, 3, "x");
    evtx_file(st2, "HV1", 1, 70, 0, &fresh);
    clog_file(st2, a, 3, "x");
    digest_of(st2, two);
    ck_assert_str_eq(one, two);
    hvd_store_close(st);
    hvd_store_close(st2);
    free(other);
}
END_TEST

/* A failing store says so, with or without an error record to fill. */
START_TEST(seen_lookups_keep_the_store_error_code)
{
    hvd_store *st = open_db(0);
    hvd_error err;

    exec_sql("DROP TABLE evtx_seen; DROP TABLE clog_cover;");
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 5, 0, NULL), HVD_ESTORE);
    ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 5, 0, &err), HVD_ESTORE);
    ck_assert_int_eq(err.code, HVD_ESTORE);
    ck_assert_int_eq(hvd_store_clusterlog_seen(st, "N1", "", 5, 1, 2, "x", NULL), HVD_ESTORE);
    hvd_store_close(st);
}
END_TEST

START_TEST(a_second_writer_sees_the_first_writers_marks)
{
    hvd_store *a = open_db(0);
    hvd_store *b = open_db(0);

    /* b caches the set before a writes. */
    ck_assert_int_eq(hvd_store_evtx_seen(b, "HV1", "System", 5, 0, NULL), 0);
    begin(a);
    ck_assert_int_eq(hvd_store_evtx_mark(a, "HV1", "System", 5, 0, NULL), HVD_OK);
    commit(a);
    begin(b);
    ck_assert_int_eq(hvd_store_evtx_seen(b, "HV1", "System", 5, 0, NULL), 1);
    ck_assert_int_eq(hvd_store_evtx_mark(b, "HV1", "System", 6, 0, NULL), HVD_OK);
    commit(b);
    hvd_store_close(a);
    hvd_store_close(b);
    ck_assert_int_eq(count("SELECT count(*) FROM evtx_seen"), 1);
    ck_assert_int_eq(count("SELECT hi FROM evtx_seen WHERE lo = 5"), 6);
}
END_TEST

/* --- incidents --------------------------------------------------------------------------- */

static char incidents_text[4096];

static int note_incident(void *ud, const hvd_incident *in)
{
    size_t used = strlen(incidents_text);

    (void)ud;
    snprintf(incidents_text + used, sizeof(incidents_text) - used, "%s:%s:%lld;", in->subject_kind,
             in->subject, (long long)in->diagnoses);
    return 0;
}

static const char *incidents(hvd_store *st, const hvd_incident_filter *f)
{
    hvd_error err;

    incidents_text[0] = '\0';
    ck_assert_msg(hvd_store_incidents(st, f, note_incident, NULL, &err) == HVD_OK, "%s", err.msg);
    return incidents_text;
}

START_TEST(incidents_group_by_vm_then_host_and_do_not_depend_on_order)
{
    static const struct {
        const char *key;
        const char *vm;
        const char *host;
        hvd_time first;
    } rows[] = {
        {"a", "SQL01", "HV1", 1 * H},      {"b", "SQL01", "HV2", 2 * H},
        {"c", "sql01", "HV1", 20 * H},     {"d", NULL, "HV3", 1 * H},
        {"e", NULL, "HV3.x.local", 3 * H},
    };
    char first[4096] = "";

    for (int pass = 0; pass < 2; pass++) {
        hvd_store *st;

        remove(dbpath);
        st = open_db(0);
        begin(st);
        for (size_t k = 0; k < 5; k++) {
            size_t i = pass ? 4 - k : k;
            struct tdiag t;

            tdiag_init(&t, rows[i].key, rows[i].vm, NULL, rows[i].host, rows[i].first,
                       rows[i].first, 1, k + 1);
            put(st, &t);
        }
        commit(st);
        /* SQL01 at 1h and 2h: one incident (two hosts); SQL01 at 20h: another (gap > 6 h);
         * HV3 and HV3.x.local: one host incident. Newest first. */
        ck_assert_str_eq(incidents(st, NULL), "vm:sql01:1;host:HV3:2;vm:SQL01:2;");
        if (pass == 0) {
            snprintf(first, sizeof(first), "%s", incidents_text);
        } else {
            ck_assert_str_eq(incidents_text, first);
        }
        hvd_store_close(st);
    }
    ck_assert_int_eq(count("SELECT count(*) FROM incidents WHERE hosts = 'HV1,HV2'"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents WHERE hosts = 'HV3'"), 1);
}
END_TEST

START_TEST(vm_name_and_id_join_through_a_diagnosis_naming_both)
{
    struct tdiag v[NSET];
    hvd_store *st = open_db(0);

    fixture_set(v);
    begin(st);
    put(st, &v[0]); /* SQL01 by name */
    put(st, &v[1]); /* 8e3a-01 by id */
    commit(st);
    ck_assert_str_eq(incidents(st, NULL), "vm:8e3a-01:1;vm:SQL01:1;");
    begin(st);
    put(st, &v[2]); /* names both: the two become one */
    commit(st);
    ck_assert_str_eq(incidents(st, NULL), "vm:SQL01:3;");
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1);
    hvd_store_close(st);
}
END_TEST

START_TEST(a_time_gap_splits_and_a_bridge_joins)
{
    struct tdiag t;
    hvd_store *st = open_db(0);
    int64_t kept;

    begin(st);
    tdiag_init(&t, "a", "VM", NULL, "HV1", 0, 1 * H, 1, 1);
    put(st, &t);
    tdiag_init(&t, "b", "VM", NULL, "HV1", 6 * H, 6 * H, 1, 2); /* 5 h after a: joins */
    put(st, &t);
    tdiag_init(&t, "c", "VM", NULL, "HV1", 13 * H, 13 * H, 1, 3); /* 7 h after b: new */
    put(st, &t);
    commit(st);
    ck_assert_str_eq(incidents(st, NULL), "vm:VM:1;vm:VM:2;");
    kept = count("SELECT incident FROM diagnoses WHERE key = 'a'");
    /* One in the gap joins all three; the earlier incident keeps its id. */
    begin(st);
    tdiag_init(&t, "d", "VM", NULL, "HV1", 9 * H, 9 * H, 1, 4);
    put(st, &t);
    commit(st);
    ck_assert_str_eq(incidents(st, NULL), "vm:VM:4;");
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1);
    ck_assert_int_eq(count("SELECT id FROM incidents"), kept);
    /* A diagnosis growing later (same key) stretches its incident. */
    begin(st);
    tdiag_init(&t, "c", "VM", NULL, "HV1", 13 * H, 30 * H, 2, 5);
    put(st, &t);
    commit(st);
    ck_assert_int_eq(count("SELECT last_time FROM incidents"), 30 * H);
    hvd_store_close(st);
}
END_TEST

struct diag_list {
    char text[1024];
    int64_t ids[16];
    size_t n;
};

static int note_diagnosis(void *ud, const hvd_stored_diagnosis *d)
{
    struct diag_list *l = ud;
    size_t used = strlen(l->text);

    snprintf(l->text + used, sizeof(l->text) - used, "%s%s;", d->key, d->root ? "*" : "");
    if (l->n < 16) {
        l->ids[l->n++] = d->id;
    }
    return 0;
}

static int first_incident(void *ud, const hvd_incident *in)
{
    *(hvd_incident *)ud = *in;
    ((hvd_incident *)ud)->subject = NULL; /* borrowed: not kept */
    ((hvd_incident *)ud)->title = NULL;
    return 1;
}

START_TEST(a_correlation_pulls_its_members_in_and_comes_first)
{
    struct tdiag v[NSET];
    struct diag_list l;
    hvd_store *st = open_db(0);
    hvd_incident in;

    fixture_set(v);
    begin(st);
    for (int i = 0; i < NSET; i++) {
        put(st, &v[i]);
    }
    commit(st);
    /* e-later (SQL01, 30 h) and f-web (WEB01, 40 h) are apart by subject and time, but the
     * correlation names both: one incident, titled after the root cause. */
    memset(&in, 0, sizeof(in));
    ck_assert_int_eq(hvd_store_incidents(st, NULL, first_incident, &in, NULL), HVD_OK);
    ck_assert_int_eq(in.diagnoses, 3);
    ck_assert_int_eq(in.severity, HVD_SEVERITY_ERROR);
    ck_assert_int_eq(in.first_time, 30 * H);
    ck_assert_int_eq(in.last_time, 41 * H);
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(hvd_store_incident_diagnoses(st, in.id, note_diagnosis, &l, NULL), HVD_OK);
    ck_assert_str_eq(l.text, "g-corr*;e-later;f-web;");
    ck_assert_int_eq(in.root, l.ids[0]);
    ck_assert_int_eq(hvd_store_get_incident(st, in.id, first_incident, &in, NULL), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents WHERE title = 'g-corr'"
                           " AND subject = 'SQL01' AND subject_kind = 'vm'"),
                     1);
    ck_assert_int_eq(hvd_store_get_incident(st, 9999, first_incident, &in, NULL), 0);
    hvd_store_close(st);
}
END_TEST

/* A role event (1205: only the role) tied by a correlation naming a VM to that VM's own role
 * is the VM's, not its host's: a host diagnosis of the same hours stays apart, whatever
 * order the three come in. */
START_TEST(a_role_event_tied_to_its_vm_leaves_the_host)
{
    for (int order = 0; order < 2; order++) {
        struct tdiag role;
        struct tdiag other;
        struct tdiag corr;
        hvd_store *st;

        remove(dbpath);
        st = open_db(0);
        tdiag_init(&role, "r-1205", NULL, NULL, "HV1", 10 * H, 10 * H, 1, 1);
        role.ents[role.d.nentities++] = (hvd_entity){"group", "APP12"};
        tdiag_init(&other, "h-privs", NULL, NULL, "HV1", 8 * H, 8 * H, 1, 2);
        tdiag_init(&corr, "c-vm", "APP12", NULL, "HV1", 10 * H, 10 * H, 1, 3);
        corr.ents[corr.d.nentities++] = (hvd_entity){"group", "app12"};
        corr.d.kind = HVD_DIAGNOSIS_CORRELATION;
        corr.d.nrelated = 1;
        corr.related[0] = "r-1205";
        begin(st);
        put(st, order ? &corr : &role);
        put(st, &other);
        commit(st);
        begin(st);
        put(st, order ? &role : &corr);
        commit(st);
        ck_assert_int_eq(count("SELECT count(DISTINCT incident) FROM diagnoses"), 2);
        ck_assert_int_eq(count("SELECT count(*) FROM diagnoses d JOIN incidents i ON i.id ="
                               " d.incident WHERE i.subject_kind = 'vm' AND i.subject = 'APP12'"),
                         2);
        hvd_store_close(st);
    }
}
END_TEST

START_TEST(without_a_correlation_the_most_severe_comes_first)
{
    struct tdiag t;
    struct diag_list l;
    hvd_store *st = open_db(0);

    begin(st);
    tdiag_init(&t, "early-warning", "VM", NULL, "HV1", 1 * H, 1 * H, 1, 1);
    t.d.severity = HVD_SEVERITY_WARNING;
    put(st, &t);
    tdiag_init(&t, "late-critical", "VM", NULL, "HV1", 2 * H, 2 * H, 1, 2);
    t.d.severity = HVD_SEVERITY_CRITICAL;
    put(st, &t);
    tdiag_init(&t, "mid-critical", "VM", NULL, "HV1", (3 * H) / 2, 2 * H, 1, 3);
    t.d.severity = HVD_SEVERITY_CRITICAL;
    put(st, &t);
    commit(st);
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(hvd_store_incident_diagnoses(st, count("SELECT id FROM incidents"),
                                                  note_diagnosis, &l, NULL),
                     HVD_OK);
    /* '*': the incident's root cause, whatever its kind. */
    ck_assert_str_eq(l.text, "mid-critical*;late-critical;early-warning;");
    ck_assert_int_eq(count("SELECT count(*) FROM incidents WHERE title = 'mid-critical'"
                           " AND severity = 4"),
                     1);
    hvd_store_close(st);
}
END_TEST

/* Two correlations that tie on severity and first time: the one naming more member
 * diagnoses leads, though its key sorts later; the paged listing keeps that order. */
START_TEST(of_tied_correlations_the_one_explaining_more_comes_first)
{
    struct tdiag t[5];
    struct diag_list l;
    hvd_store *st = open_db(0);
    hvd_incident_diag_cursor after;
    int64_t inc;

    begin(st);
    tdiag_init(&t[0], "m-one", "VM", NULL, "HV1", 1 * H, 1 * H, 1, 1);
    tdiag_init(&t[1], "m-two", "VM", NULL, "HV1", 1 * H, 1 * H, 1, 2);
    tdiag_init(&t[2], "m-three", "VM", NULL, "HV1", 1 * H, 1 * H, 1, 3);
    tdiag_init(&t[3], "a-pair", "VM", NULL, "HV1", 1 * H, 1 * H, 2, 4);
    t[3].d.kind = HVD_DIAGNOSIS_CORRELATION;
    t[3].related[0] = "m-one";
    t[3].related[1] = "m-two";
    t[3].d.nrelated = 2;
    tdiag_init(&t[4], "z-triple", "VM", NULL, "HV1", 1 * H, 1 * H, 3, 5);
    t[4].d.kind = HVD_DIAGNOSIS_CORRELATION;
    t[4].related[0] = "m-one";
    t[4].related[1] = "m-two";
    t[4].related[2] = "m-three";
    t[4].d.nrelated = 3;
    for (int i = 0; i < 5; i++) {
        put(st, &t[i]);
    }
    commit(st);
    inc = count("SELECT id FROM incidents");
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents WHERE title = 'z-triple'"), 1);
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(hvd_store_incident_diagnoses(st, inc, note_diagnosis, &l, NULL), HVD_OK);
    ck_assert_str_eq(l.text, "z-triple*;a-pair;m-one;m-three;m-two;");
    /* The page after the root goes on with the other correlation. */
    memset(&l, 0, sizeof(l));
    after = (hvd_incident_diag_cursor){1, HVD_SEVERITY_ERROR, 1 * H, 3, "z-triple"};
    ck_assert_int_eq(
        hvd_store_incident_diagnoses_page(st, inc, &after, 2, note_diagnosis, &l, NULL), HVD_OK);
    ck_assert_str_eq(l.text, "a-pair;m-one;");
    hvd_store_close(st);
}
END_TEST

/* --- regrouping what changed ------------------------------------------------------------- */

/* The rows of a query on the database at path, one line each, columns separated by '|'.
 * Caller frees. */
static char *rows_of(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(q); i++) {
            const unsigned char *v = sqlite3_column_text(q, i);

            fprintf(out, "%s%s", i ? "|" : "", v ? (const char *)v : "NULL");
        }
        fputc('\n', out);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    fclose(out);
    return text;
}

/* Everything grouping decides, ids included: every diagnosis's incident, every incident. */
static char *grouping_of(const char *path)
{
    char *members = rows_of(path, "SELECT key, incident FROM diagnoses ORDER BY key");
    char *incs = rows_of(path, "SELECT id, subject_kind, subject, hosts, first_time, last_time,"
                               " severity, title, remedy, root, diagnoses FROM incidents"
                               " ORDER BY id");
    size_t n = strlen(members) + strlen(incs) + 2;
    char *all = malloc(n);

    ck_assert_ptr_nonnull(all);
    snprintf(all, n, "%s\n%s", members, incs);
    free(members);
    free(incs);
    return all;
}

/* Each incident as "id members", members its keys in order. */
static char *memberships_of(const char *path)
{
    return rows_of(path, "SELECT incident, group_concat(key, ',') FROM"
                         " (SELECT incident, key FROM diagnoses WHERE incident IS NOT NULL"
                         "  ORDER BY incident, key) GROUP BY incident");
}

/* An incident whose members did not change keeps its id. */
static void check_ids_kept(const char *before, const char *after)
{
    char *copy = strdup(before);
    char *save = NULL;

    ck_assert_ptr_nonnull(copy);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *members = strchr(line, '|') + 1;
        char probe[4096];
        char *at;

        snprintf(probe, sizeof(probe), "|%s\n", members);
        at = strstr(after, probe);
        if (at) {
            while (at > after && at[-1] != '\n') {
                at--;
            }
            ck_assert_msg(strncmp(at, line, (size_t)(members - line)) == 0,
                          "incident %.*s changed id, members %s", (int)(members - line - 1), line,
                          members);
        }
    }
    free(copy);
}

/* A full rebuild on a copy of path, then its grouping. */
static char *rebuilt_copy_of(const char *path)
{
    char *copy = hvd_test_path(tmp, "copy.db");
    char sql[4200];
    sqlite3 *db = NULL;
    hvd_store *st;
    hvd_error err;
    char *out;

    remove(copy);
    snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    st = open_path(copy, 0);
    begin(st);
    ck_assert_msg(hvd_store_rebuild_incidents(st, &err) == HVD_OK, "%s", err.msg);
    commit(st);
    hvd_store_close(st);
    out = grouping_of(copy);
    free(copy);
    return out;
}

static uint64_t rnd_state;

static uint64_t rnd(uint64_t n)
{
    uint64_t z = (rnd_state += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return (z ^ (z >> 31)) % n;
}

enum { NKEYS = 40 };

/* What the model remembers of a key: the store keeps a diagnosis's entities from its first
 * put, so later puts name the same ones. */
struct mkey {
    char key[8];
    int made;
    const char *vm;
    const char *vmid;
    const char *host;
    const char *role; /* its 'group' entity, or NULL */
    int severity;     /* as last put */
};

static void random_put(hvd_store *inc, hvd_store *ref, struct mkey *keys)
{
    /* Names that differ only in case, FQDNs, and two hosts whose short names agree in the
     * first 255 bytes (grouping keeps that much). */
    static char long_a[300];
    static char long_b[300];
    static const char *const vms[] = {"VM-A", "vm-a", "VM-B", "VM-C"};
    static const char *const ids[] = {"ID-1", "id-1", "ID-2", "ID-3"};
    static const char *const roles[] = {"VM-A", "vm-b", "FS1", "VM-C"};
    const char *hosts[] = {"HV1", "hv1.corp.local", "HV2", "HV2.corp", "hv2", "Hv3", "HV3",
                           "hV3", long_a,           long_b};
    size_t k = (size_t)rnd(NKEYS);
    struct mkey *m = &keys[k];
    struct tdiag t;
    hvd_time first = (hvd_time)rnd(120) * H + (hvd_time)rnd(60) * (H / 60);
    hvd_time last = first + (hvd_time)(rnd(8) ? rnd(8) : rnd(40)) * H;

    if (!long_a[0]) {
        memset(long_a, 'x', 260);
        memcpy(long_b, long_a, 260);
        long_b[259] = 'y';
        memcpy(long_b + 260, ".corp", 6);
    }
    if (!m->made) {
        unsigned shape = (unsigned)rnd(4); /* host only, VM name, VM id, both */

        m->made = 1;
        m->vm = shape == 1 || shape == 3 ? vms[rnd(4)] : NULL;
        m->vmid = shape >= 2 ? ids[rnd(4)] : NULL;
        m->host = hosts[rnd(k % 3 == 0 ? 10 : 8)];
        m->role = rnd(2) ? roles[rnd(4)] : NULL;
        m->severity = 1 + (int)rnd(4);
    }
    /* Mostly a severity kept or raised, which only adds links (the merge path); now and
     * then a lower one, which may take a root away (the closed part). */
    if (rnd(8) == 0) {
        m->severity = 1 + (int)rnd(4);
    } else if (rnd(8) == 0 && m->severity < 4) {
        m->severity++;
    }
    if (rnd(10) == 0) {
        last = first - (hvd_time)rnd(30) * H; /* ends before it starts */
    }
    tdiag_init(&t, m->key, m->vm, m->vmid, m->host, first, last, 1 + rnd(3), rnd(1000));
    if (m->role) {
        t.ents[t.d.nentities++] = (hvd_entity){"group", m->role};
    }
    t.d.severity = (hvd_severity)m->severity;
    t.d.title = rnd(2) ? "one title" : "another title";
    if (k % 6 == 0) {
        t.d.kind = HVD_DIAGNOSIS_CORRELATION;
        t.d.nrelated = 1 + (size_t)rnd(3);
        for (size_t i = 0; i < t.d.nrelated; i++) {
            t.related[i] = keys[rnd(NKEYS)].key; /* may not exist yet */
        }
    }
    put(inc, &t);
    put(ref, &t);
}

/* Adds the merge path's counts of st to *merged and *fell_back, before st is closed. */
static void count_merges(const hvd_store *st, int64_t *merged, int64_t *fell_back)
{
    int64_t m = 0;
    int64_t f = 0;

    hvd__store_merges(st, &m, &f);
    *merged += m;
    *fell_back += f;
}

START_TEST(regrouping_what_changed_equals_a_full_rebuild)
{
    char *refpath = hvd_test_path(tmp, "ref.db");
    int commits = 0;
    int64_t merged = 0;
    int64_t fell_back = 0;

    for (uint64_t seed = 1; seed <= 60; seed++) {
        struct mkey keys[NKEYS];
        hvd_store *inc;
        hvd_store *ref;
        uint64_t per_commit;
        int steps;

        rnd_state = seed;
        memset(keys, 0, sizeof(keys));
        for (int i = 0; i < NKEYS; i++) {
            snprintf(keys[i].key, sizeof(keys[i].key), "k%02d", i);
        }
        remove(dbpath);
        remove(refpath);
        inc = open_db(0);
        ref = open_path(refpath, 0);
        per_commit = 1 + rnd(12); /* mean commit size */
        steps = 40 + (int)rnd(80);
        begin(inc);
        begin(ref);
        for (int s = 0; s < steps; s++) {
            random_put(inc, ref, keys);
            if (rnd(per_commit) == 0 || s == steps - 1) {
                hvd_error err;
                char *before = memberships_of(dbpath);
                char *want;
                char *got;
                char *after;

                if (rnd(12) == 0) { /* a rolled-back file leaves nothing to regroup */
                    hvd_store_rollback(inc);
                    hvd_store_rollback(ref);
                    begin(inc);
                    begin(ref);
                    random_put(inc, ref, keys);
                }
                ck_assert_msg(hvd_store_rebuild_incidents(ref, &err) == HVD_OK, "%s", err.msg);
                commit(ref);
                commit(inc);
                commits++;
                want = grouping_of(refpath);
                got = grouping_of(dbpath);
                ck_assert_msg(strcmp(got, want) == 0, "seed %" PRIu64 " step %d:\n%s\nwant\n%s",
                              seed, s, got, want);
                free(want);
                want = rebuilt_copy_of(dbpath);
                ck_assert_msg(strcmp(got, want) == 0, "seed %" PRIu64 " step %d: copy", seed, s);
                after = memberships_of(dbpath);
                check_ids_kept(before, after);
                free(before);
                free(after);
                free(want);
                free(got);
                if (rnd(20) == 0) { /* nothing lives only in memory between commits */
                    count_merges(inc, &merged, &fell_back);
                    hvd_store_close(inc);
                    inc = open_db(0);
                }
                begin(inc);
                begin(ref);
            }
        }
        hvd_store_rollback(inc);
        hvd_store_rollback(ref);
        count_merges(inc, &merged, &fell_back);
        hvd_store_close(inc);
        hvd_store_close(ref);
    }
    ck_assert_int_gt(commits, 300);
    /* Both ways were taken, and often: the merge path and its fallbacks. */
    ck_assert_int_gt(merged, commits / 4);
    ck_assert_int_gt(fell_back, commits / 10);
    free(refpath);
}
END_TEST

/* 40 VMs, one diagnosis a day for 25 days ("k-VM-DAY"): 1000 incidents of one each. */
static void put_days(hvd_store *st)
{
    struct tdiag t;
    char key[32];
    char vm[32];

    for (int v = 0; v < 40; v++) {
        for (int day = 0; day < 25; day++) {
            snprintf(key, sizeof(key), "k-%d-%d", v, day);
            snprintf(vm, sizeof(vm), "VM%02d", v);
            tdiag_init(&t, key, vm, NULL, "HV1", day * 24 * H, day * 24 * H + H, 1, 1);
            put(st, &t);
        }
    }
}

struct joined_seen {
    char keys[256];
};

static int note_joined(void *ud, const hvd_stored_diagnosis *d)
{
    struct joined_seen *j = ud;

    strncat(j->keys, d->key, sizeof(j->keys) - strlen(j->keys) - 2);
    strcat(j->keys, " ");
    return 0;
}

/* The keys (latest first) of rule r's diagnoses whose 'name' has value (host: by first
 * label) and that overlap [lo, hi]. */
static const char *joined(hvd_store *st, const char *rule, const char *name, const char *value,
                          int host, hvd_time lo, hvd_time hi, struct joined_seen *j)
{
    hvd_error err;

    j->keys[0] = '\0';
    ck_assert_msg(hvd_store_diagnoses_joined(st, rule, name, value, host, lo, hi, 0, note_joined, j,
                                             &err) == HVD_OK,
                  "%s", err.msg);
    return j->keys;
}

/* A search by join value: the side's keys are filled for the diagnoses stored before it
 * was first asked and kept for those after; a host compares by its first label in any
 * case, another value whole in any case; a span overlapping the times counts, also one
 * that grew earlier since; another rule or entity never does. */
START_TEST(diagnoses_are_found_by_join_value)
{
    hvd_store *st = open_db(0);
    struct joined_seen j;
    struct tdiag t;

    begin(st);
    tdiag_init(&t, "a", "VM1", NULL, "HV-NODE02.contoso.local", 10 * H, 11 * H, 1, 1);
    t.ents[t.d.nentities++] = (hvd_entity){"peer", "Node-X"};
    put(st, &t);
    tdiag_init(&t, "b", "VM2", NULL, "hv-node02", 20 * H, 21 * H, 1, 2);
    put(st, &t);
    tdiag_init(&t, "c", "VM3", NULL, "HV-NODE020", 20 * H, 21 * H, 1, 3); /* another host */
    put(st, &t);
    tdiag_init(&t, "d", "VM4", NULL, "HV-NODE02", 20 * H, 21 * H, 1, 4);
    t.d.rule_id = "other";
    put(st, &t);
    /* Asked first now: a and b were stored before. */
    ck_assert_str_eq(joined(st, "r", "host", "HV-NODE02", 1, 0, 100 * H, &j), "b a ");
    ck_assert_str_eq(joined(st, "r", "host", "hv-node02", 1, 10 * H + H / 2, 19 * H, &j), "a ");
    ck_assert_str_eq(joined(st, "r", "host", "hv-node02", 1, 12 * H, 19 * H, &j), "");
    ck_assert_str_eq(joined(st, "r", "host", "HV-NODE02.other", 0, 0, 100 * H, &j), "");
    ck_assert_str_eq(joined(st, "r", "peer", "node-x", 0, 0, 100 * H, &j), "a ");
    ck_assert_str_eq(joined(st, "r", "peer", "node", 0, 0, 100 * H, &j), "");
    ck_assert_str_eq(joined(st, "r", "vm_name", "VM1", 0, 0, 100 * H, &j), "a ");
    ck_assert_str_eq(joined(st, "other", "host", "HV-NODE02", 1, 0, 100 * H, &j), "d ");
    /* Stored after: kept; growing earlier: found at its new start. */
    tdiag_init(&t, "e", "VM5", NULL, "HV-NODE02.fabrikam.com", 40 * H, 41 * H, 1, 5);
    put(st, &t);
    ck_assert_str_eq(joined(st, "r", "host", "HV-NODE02", 1, 30 * H, 100 * H, &j), "e ");
    tdiag_init(&t, "e", "VM5", NULL, "HV-NODE02.fabrikam.com", 32 * H, 41 * H, 2, 6);
    put(st, &t);
    ck_assert_str_eq(joined(st, "r", "host", "HV-NODE02", 1, 31 * H, 33 * H, &j), "e ");
    commit(st);
    ck_assert_int_eq(
        count("SELECT count(*) FROM diagnosis_keys WHERE first_time = 40 * 36000000000"), 0);
    hvd_store_close(st);
}
END_TEST

START_TEST(a_commit_reads_only_what_can_share_an_incident_with_its_changes)
{
    hvd_store *st = open_db(0);
    struct tdiag t;
    hvd_error err;

    begin(st);
    put_days(st);
    commit(st);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1000);
    /* A new one for VM07 two hours after its last: it and that one. */
    begin(st);
    tdiag_init(&t, "new", "vm07", NULL, "HV1", 24 * 24 * H + 3 * H, 24 * 24 * H + 3 * H, 1, 2);
    put(st, &t);
    commit(st);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 2);
    ck_assert_int_eq(count("SELECT diagnoses FROM incidents WHERE id ="
                           " (SELECT incident FROM diagnoses WHERE key = 'new')"),
                     2);
    /* An old one growing across the day to the next: those two and the incident it meets. */
    begin(st);
    tdiag_init(&t, "k-3-10", "VM03", NULL, "HV1", 10 * 24 * H, 11 * 24 * H - 2 * H, 2, 3);
    put(st, &t);
    commit(st);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 999);
    /* A count alone changes no incident: nothing to read. */
    begin(st);
    tdiag_init(&t, "k-5-5", "VM05", NULL, "HV1", 5 * 24 * H, 5 * 24 * H + H, 9, 4);
    put(st, &t);
    commit(st);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 0);
    /* The full pass reads everything. */
    begin(st);
    ck_assert_msg(hvd_store_rebuild_incidents(st, &err) == HVD_OK, "%s", err.msg);
    commit(st);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 1001);
    hvd_store_close(st);
}
END_TEST

/* The database's grouping is what a full rebuild of a copy gives. */
static void assert_as_rebuilt(void)
{
    char *got = grouping_of(dbpath);
    char *want = rebuilt_copy_of(dbpath);

    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}

/* 200 diagnoses of VM "LONG", one every 4 h for an hour: one incident. */
static void put_long(hvd_store *st)
{
    struct tdiag t;
    char key[32];

    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "long-%03d", i);
        tdiag_init(&t, key, "LONG", NULL, "HV1", i * 4 * H, i * 4 * H + H, 1, 1);
        put(st, &t);
    }
}

START_TEST(a_diagnosis_joining_a_long_incident_reads_a_handful)
{
    hvd_store *st = open_db(0);
    struct tdiag t;
    int64_t merged = 0;
    int64_t fell_back = 0;

    begin(st);
    put_days(st);
    put_long(st);
    commit(st);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1001);
    ck_assert_int_eq(count("SELECT diagnoses FROM incidents WHERE subject = 'LONG'"), 200);
    /* One more after the last: it, the last (within the gap), and the incident's root. */
    begin(st);
    tdiag_init(&t, "long-new", "long", NULL, "HV2", 199 * 4 * H + 5 * H, 200 * 4 * H, 1, 2);
    put(st, &t);
    commit(st);
    hvd__store_merges(st, &merged, &fell_back);
    ck_assert_int_eq(merged, 1);
    ck_assert_int_eq(fell_back, 0);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 3);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents WHERE subject = 'LONG'"
                           " AND hosts = 'HV1,HV2' AND diagnoses = 201 AND last_time ="
                           " (SELECT max(last_time) FROM diagnoses)"),
                     1);
    /* A bridge between VM07's first day and LONG: two incidents merge, and the one with the
     * lower id stays; still a handful read. */
    begin(st);
    tdiag_init(&t, "bridge", "VM07", "ID-LONG", "HV3", 2 * H, 3 * H, 1, 3);
    put(st, &t);
    tdiag_init(&t, "bridge-2", "LONG", "id-long", "HV3", 3 * H, 3 * H, 1, 4);
    put(st, &t);
    commit(st);
    hvd__store_merges(st, &merged, &fell_back);
    ck_assert_int_eq(merged + fell_back, 2);
    assert_as_rebuilt();
    /* A severity that falls may take a root away: the closed part reads the whole incident. */
    begin(st);
    tdiag_init(&t, "long-000", "LONG", NULL, "HV1", 0, H, 1, 1);
    t.d.severity = HVD_SEVERITY_WARNING;
    put(st, &t);
    commit(st);
    merged = fell_back = 0;
    hvd__store_merges(st, &merged, &fell_back);
    ck_assert_int_eq(fell_back, 2);
    ck_assert_int_ge(hvd__store_regroup_loaded(st), 201);
    assert_as_rebuilt();
    hvd_store_close(st);
}
END_TEST

/* A settle regroups a closed part now; one that would be a full pass leaves it to the
 * commit, which makes the same incidents. */
START_TEST(a_settle_leaves_a_full_pass_to_the_commit)
{
    hvd_store *st = open_db(0);
    struct tdiag t;
    hvd_error err;

    hvd__store_settle_min(st, 0);
    /* A new store's first 1000 diagnoses: every change, a full pass at any time. */
    begin(st);
    put_days(st);
    ck_assert_int_eq(hvd_store_settle_waits(st, &err), 1);
    ck_assert_msg(hvd_store_settle(st, &err) == HVD_OK, "%s", err.msg);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 0);
    commit(st);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 1000);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1000);
    /* Two changes among 1000: the settle regroups their part, the commit nothing more. */
    begin(st);
    tdiag_init(&t, "new", "vm07", NULL, "HV1", 24 * 24 * H + 3 * H, 24 * 24 * H + 3 * H, 1, 2);
    put(st, &t);
    ck_assert_int_eq(hvd_store_settle_waits(st, &err), 0);
    ck_assert_msg(hvd_store_settle(st, &err) == HVD_OK, "%s", err.msg);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 2);
    commit(st);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1000);
    ck_assert_int_eq(count("SELECT diagnoses FROM incidents WHERE id ="
                           " (SELECT incident FROM diagnoses WHERE key = 'new')"),
                     2);
    hvd_store_close(st);
}
END_TEST

START_TEST(regrouping_searches_indexes_and_never_scans_a_table)
{
    sqlite3 *db = NULL;

    hvd_store_close(open_db(0));
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    for (int i = SQL_INC_DIAG_ONE; i <= SQL_INC_MAX_DIAG; i++) {
        char sql[4096];
        sqlite3_stmt *q = NULL;

        snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", store_sql[i]);
        ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK, "%s",
                      sqlite3_errmsg(db));
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *plan = (const char *)sqlite3_column_text(q, 3);

            ck_assert_msg(strncmp(plan, "SEARCH ", 7) == 0, "%s: %s", store_sql[i], plan);
        }
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
}
END_TEST

START_TEST(version_2_database_is_migrated_and_regroups_what_changed)
{
    char *before;
    char *want;
    char *got;
    struct tdiag t;
    hvd_store *st;

    /* A database as schema version 2 wrote it: VM at 1 h and 2 h in incident 5, VM2 at
     * 40 h in incident 9. */
    exec_sql(store_migrations[0]);
    exec_sql(store_migrations[1]);
    exec_sql("INSERT INTO diagnoses(id, key, kind, rule, title, severity, confidence, cause,"
             " remedy, refs, vm_name, vm_id, host, first_time, last_time, count, incident)"
             " VALUES(1, 'a', 'signature', 'r', 'A', 3, 'high', '', 'fix a', '', 'VM', '',"
             " 'HV1', 36000000000, 36000000000, 1, 5),"
             " (2, 'b', 'signature', 'r', 'B', 2, 'high', '', 'fix b', '', 'VM', '', 'HV2',"
             " 72000000000, 72000000000, 1, 5),"
             " (3, 'c', 'signature', 'r', 'C', 2, 'high', '', 'fix c', '', 'VM2', '', 'HV1',"
             " 1440000000000, 1440000000000, 1, 9);"
             "INSERT INTO incidents(id, subject_kind, subject, hosts, first_time, last_time,"
             " severity, title, remedy, root, diagnoses)"
             " VALUES(5, 'vm', 'VM', 'HV1,HV2', 36000000000, 72000000000, 3, 'A', 'fix a', 1, 2),"
             " (9, 'vm', 'VM2', 'HV1', 1440000000000, 1440000000000, 2, 'C', 'fix c', 3, 1);"
             "PRAGMA user_version = 2;");
    before = grouping_of(dbpath);
    want = rebuilt_copy_of(dbpath); /* the fixture is what a full pass writes */
    ck_assert_str_eq(before, want);
    free(want);
    st = open_db(0);
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN"
                           " ('diagnoses_vm_name', 'diagnoses_vm_id', 'diagnoses_host_short',"
                           " 'diagnoses_vm_pair', 'diagnoses_vm_pair_id', 'diagnoses_inverted',"
                           " 'related_member')"),
                     7);
    /* migration 6 made the outbox triggers, 10 dropped them (the store writes the outbox) */
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 0);
    ck_assert_int_eq(count("SELECT count(*) FROM sqlite_master WHERE name = 'outbox'"), 1);
    got = grouping_of(dbpath);
    ck_assert_str_eq(got, before); /* migrating regroups nothing */
    free(got);
    /* A critical one for VM at 4 h joins incident 5 and becomes its root; 9 is not touched. */
    begin(st);
    tdiag_init(&t, "d", "vm", NULL, "HV3", 4 * H, 4 * H, 1, 1);
    t.d.severity = HVD_SEVERITY_CRITICAL;
    put(st, &t);
    commit(st);
    ck_assert_int_eq(hvd__store_regroup_loaded(st), 3);
    ck_assert_int_eq(count("SELECT incident FROM diagnoses WHERE key = 'd'"), 5);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM incidents WHERE id = 5 AND title = 'd'"
                           " AND hosts = 'HV1,HV2,HV3' AND diagnoses = 3"),
                     1);
    got = grouping_of(dbpath);
    want = rebuilt_copy_of(dbpath);
    ck_assert_str_eq(got, want);
    hvd_store_close(st);
    free(before);
    free(got);
    free(want);
}
END_TEST

/* --- reading ----------------------------------------------------------------------------- */

START_TEST(filters_and_paging_answer_the_users_questions)
{
    struct tdiag v[NSET];
    struct diag_list l;
    hvd_store *st = open_db(0);
    hvd_incident_filter f;
    hvd_store_counts c;

    fixture_set(v);
    v[3].d.rule_id = "host-rule";
    v[3].d.severity = HVD_SEVERITY_INFO;
    begin(st);
    for (int i = 0; i < NSET; i++) {
        put(st, &v[i]);
    }
    commit(st);
    ck_assert_str_eq(incidents(st, NULL), "vm:SQL01:3;host:HV3:1;vm:SQL01:3;");
    memset(&f, 0, sizeof(f));
    f.vm = "web01"; /* any case */
    ck_assert_str_eq(incidents(st, &f), "vm:SQL01:3;");
    f.vm = "8E3A-01"; /* by id through the vm filter */
    ck_assert_str_eq(incidents(st, &f), "vm:SQL01:3;");
    f.vm = NULL;
    f.vm_id = "8e3a-01";
    ck_assert_str_eq(incidents(st, &f), "vm:SQL01:3;");
    f.vm_id = NULL;
    f.host = "hv2"; /* short name matches the FQDN */
    ck_assert_str_eq(incidents(st, &f), "vm:SQL01:3;");
    f.host = "HV2.corp.local";
    ck_assert_str_eq(incidents(st, &f), "vm:SQL01:3;");
    f.host = NULL;
    f.rule = "host-rule";
    ck_assert_str_eq(incidents(st, &f), "host:HV3:1;");
    f.rule = NULL;
    f.min_severity = HVD_SEVERITY_WARNING;
    ck_assert_str_eq(incidents(st, &f), "vm:SQL01:3;vm:SQL01:3;");
    f.min_severity = 0;
    f.since = 20 * H;
    ck_assert_str_eq(incidents(st, &f), "vm:SQL01:3;");
    f.since = 0;
    f.until = 1 * H;
    ck_assert_str_eq(incidents(st, &f), "host:HV3:1;vm:SQL01:3;");
    f.until = 0;
    f.limit = 1;
    f.offset = 1;
    ck_assert_str_eq(incidents(st, &f), "host:HV3:1;");
    f.offset = 3;
    ck_assert_str_eq(incidents(st, &f), "");
    /* Diagnoses with the same filter. */
    memset(&f, 0, sizeof(f));
    f.vm = "SQL01";
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(hvd_store_diagnoses(st, &f, note_diagnosis, &l, NULL), HVD_OK);
    ck_assert_str_eq(l.text, "e-later;c-both;a-vmname*;");
    f.limit = 2;
    f.offset = 1;
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(hvd_store_diagnoses(st, &f, note_diagnosis, &l, NULL), HVD_OK);
    ck_assert_str_eq(l.text, "c-both;a-vmname*;");
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(hvd_store_diagnoses(st, NULL, note_diagnosis, &l, NULL), HVD_OK);
    ck_assert_uint_eq(l.n, NSET);
    ck_assert_int_eq(hvd_store_get_counts(st, &c, NULL), HVD_OK);
    ck_assert_int_eq(c.diagnoses, NSET);
    ck_assert_int_eq(c.incidents, 3);
    ck_assert_int_eq(c.evidence, NSET);
    hvd_store_close(st);
}
END_TEST

static int evidence_seen;

static int note_evidence(void *ud, const hvd_evidence *e)
{
    (void)ud;
    ck_assert_str_eq(e->source_path, "a.evtx");
    ck_assert_str_eq(e->message, "m");
    evidence_seen++;
    return 0;
}

/* Reads evidence while the incident's diagnosis list is being walked, as the CLI does. */
static int nested(void *ud, const hvd_stored_diagnosis *d)
{
    hvd_store *st = ud;

    ck_assert_int_eq(hvd_store_diagnosis_evidence(st, d->id, note_evidence, NULL, NULL), HVD_OK);
    return 0;
}

static int nested_incident(void *ud, const hvd_incident *in)
{
    hvd_store *st = ud;
    hvd_incident_filter f = {.host = "HV1", .rule = "r", .limit = 2};
    hvd_incident got = {0};

    ck_assert_int_eq(hvd_store_incident_diagnoses(st, in->id, nested, st, NULL), HVD_OK);
    /* Even the same list again, from inside its own walk. */
    ck_assert_int_eq(hvd_store_incidents(st, NULL, first_incident, &(hvd_incident){0}, NULL),
                     HVD_OK);
    /* and a list by host, which walks an index in a read of its own */
    ck_assert_int_eq(hvd_store_incidents(st, &f, first_incident, &got, NULL), HVD_OK);
    ck_assert_int_eq(got.first_time, 30 * H);
    return 0;
}

START_TEST(reads_nest_inside_callbacks)
{
    struct tdiag v[NSET];
    hvd_store *st = open_db(0);

    fixture_set(v);
    begin(st);
    for (int i = 0; i < NSET; i++) {
        put(st, &v[i]);
    }
    commit(st);
    evidence_seen = 0;
    ck_assert_int_eq(hvd_store_incidents(st, NULL, nested_incident, st, NULL), HVD_OK);
    ck_assert_int_eq(evidence_seen, NSET);
    /* the same inside a walk by host (HV3: two incidents) */
    evidence_seen = 0;
    ck_assert_int_eq(
        hvd_store_incidents(st, &(hvd_incident_filter){.host = "hv3"}, nested_incident, st, NULL),
        HVD_OK);
    ck_assert_int_eq(evidence_seen, 4);
    hvd_store_close(st);
}
END_TEST

static int note_source(void *ud, const hvd_store_source *s)
{
    char *text = ud;
    size_t used = strlen(text);

    snprintf(text + used, 256 - used, "%s:%d:%s;", s->path, s->quarantined, s->position);
    return 0;
}

START_TEST(sources_keep_checkpoint_identity_and_quarantine)
{
    hvd_store *st = open_db(0);
    hvd_store_source s;
    hvd_store_source got;
    hvd_error err;
    char text[256] = "";

    memset(&s, 0, sizeof(s));
    s.path = "/logs/HV1/System.evtx";
    s.kind = "evtx";
    s.host = "HV1";
    s.size = 69632;
    s.mtime = 1700000000;
    s.position = "r:120";
    s.events = 120;
    s.skipped = 2;
    s.first_skipped = 17;
    s.dirty = 1;
    s.device = 2049;
    s.inode = 1234567;
    s.head_hash = "h1";
    s.prefix_len = 65536;
    s.prefix_hash = "p1";
    s.warnings = "2 records skipped";
    ck_assert_int_eq(hvd_store_put_source(st, &s, &err), HVD_EINVAL); /* no transaction */
    begin(st);
    ck_assert_int_eq(hvd_store_put_source(st, &s, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_set_quarantine(st, s.path, "CRC errors in every chunk", NULL),
                     HVD_OK);
    ck_assert_int_eq(hvd_store_set_quarantine(st, "/nope", "x", &err), HVD_ENOTFOUND);
    commit(st);
    ck_assert_int_eq(hvd_store_get_source(st, "/nope", &got, NULL), 0);
    ck_assert_int_eq(hvd_store_get_source(st, s.path, &got, NULL), 1);
    ck_assert_str_eq(got.position, "r:120");
    ck_assert_str_eq(got.prefix_hash, "p1");
    ck_assert_str_eq(got.head_hash, "h1");
    ck_assert_str_eq(got.warnings, "2 records skipped");
    ck_assert_uint_eq(got.inode, 1234567);
    ck_assert_uint_eq(got.device, 2049);
    ck_assert_uint_eq(got.prefix_len, 65536);
    ck_assert_uint_eq(got.first_skipped, 17);
    ck_assert_int_eq(got.quarantined, 1);
    ck_assert_str_eq(got.quarantine_reason, "CRC errors in every chunk");
    ck_assert_int_gt(got.first_seen, 0);
    /* A later checkpoint moves the position and keeps the quarantine and first_seen. */
    {
        hvd_time first_seen = got.first_seen;

        s.position = "r:300";
        begin(st);
        ck_assert_int_eq(hvd_store_put_source(st, &s, NULL), HVD_OK);
        commit(st);
        ck_assert_int_eq(hvd_store_get_source(st, s.path, &got, NULL), 1);
        ck_assert_str_eq(got.position, "r:300");
        ck_assert_int_eq(got.quarantined, 1);
        ck_assert_int_eq(got.first_seen, first_seen);
        ck_assert_int_ge(got.last_seen, first_seen);
    }
    begin(st);
    s.path = "/logs/HV1/Application.evtx";
    ck_assert_int_eq(hvd_store_put_source(st, &s, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_set_quarantine(st, "/logs/HV1/System.evtx", NULL, NULL), HVD_OK);
    commit(st);
    ck_assert_int_eq(hvd_store_sources(st, note_source, text, NULL), HVD_OK);
    ck_assert_str_eq(text, "/logs/HV1/Application.evtx:0:r:300;/logs/HV1/System.evtx:0:r:300;");
    hvd_store_close(st);
}
END_TEST

/* --- concurrency and crashes ------------------------------------------------------------- */

static int64_t diagnoses_in(hvd_store *st)
{
    hvd_store_counts c;
    hvd_error err;

    ck_assert_msg(hvd_store_get_counts(st, &c, &err) == HVD_OK, "%s", err.msg);
    return c.diagnoses;
}

START_TEST(readonly_refuses_writes_and_reads_beside_a_writer)
{
    hvd_store *writer = open_db(0);
    hvd_store *reader = open_db(HVD_STORE_READONLY);
    struct tdiag t;
    hvd_error err;

    tdiag_init(&t, "k", "VM", NULL, "HV1", H, H, 1, 1);
    begin(writer);
    put(writer, &t);
    ck_assert_int_eq(diagnoses_in(reader), 0); /* not committed yet: not visible */
    commit(writer);
    ck_assert_int_eq(diagnoses_in(reader), 1);
    ck_assert_int_lt(hvd_store_begin(reader, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "read-only"));
    ck_assert_int_eq(hvd_store_put_diagnosis(reader, tdiag_get(&t), NULL, &err), HVD_EINVAL);
    ck_assert_int_eq(hvd_store_evtx_mark(reader, "HV1", "System", 1, 0, &err), HVD_EINVAL);
    /* The reader can still answer while the writer holds its write transaction. */
    begin(writer);
    ck_assert_int_eq(diagnoses_in(reader), 1);
    hvd_store_rollback(writer);
    hvd_store_close(reader);
    hvd_store_close(writer);
}
END_TEST

START_TEST(a_killed_writer_leaves_nothing_half_done)
{
    char empty[HVD_STORE_DIGEST_SIZE];
    char after[HVD_STORE_DIGEST_SIZE];
    hvd_store *st = open_db(0);
    hvd_store_source got;
    pid_t pid;
    int status;

    digest_of(st, empty);
    hvd_store_close(st);
    for (int committed = 0; committed < 2; committed++) {
        int ready[2];
        char byte = 0;

        ck_assert_int_eq(pipe(ready), 0);
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            struct tdiag t;
            hvd_store_source s;
            hvd_store *cst = NULL;

            close(ready[0]);
            if (hvd_store_open(&cst, dbpath, 0, NULL) < 0 || hvd_store_begin(cst, NULL) < 0) {
                _exit(1);
            }
            tdiag_init(&t, committed ? "second" : "first", "VM", NULL, "HV1", H, H, 1, 1);
            memset(&s, 0, sizeof(s));
            s.path = "/l/System.evtx";
            s.position = "r:1";
            if (hvd_store_put_diagnosis(cst, tdiag_get(&t), NULL, NULL) < 0 ||
                hvd_store_evtx_mark(cst, "HV1", "System", 1, 0, NULL) < 0 ||
                hvd_store_put_source(cst, &s, NULL) < 0) {
                _exit(1);
            }
            if (committed && hvd_store_commit(cst, NULL) < 0) {
                _exit(1);
            }
            /* Tell the parent, then wait for its SIGKILL: no close, no rollback. */
            if (write(ready[1], "x", 1) != 1) {
                _exit(1);
            }
            for (;;) {
                pause();
            }
        }
        close(ready[1]);
        ck_assert_int_eq(read(ready[0], &byte, 1), 1); /* 0: the child failed and exited */
        close(ready[0]);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        st = open_db(0);
        digest_of(st, after);
        if (!committed) {
            ck_assert_str_eq(after, empty);
            ck_assert_int_eq(hvd_store_get_source(st, "/l/System.evtx", &got, NULL), 0);
            ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 1, 0, NULL), 0);
            ck_assert_int_eq(diagnoses_in(st), 0);
        } else {
            ck_assert_str_ne(after, empty);
            ck_assert_int_eq(hvd_store_get_source(st, "/l/System.evtx", &got, NULL), 1);
            ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 1, 0, NULL), 1);
            ck_assert_int_eq(diagnoses_in(st), 1);
            ck_assert_int_eq(count("SELECT count(*) FROM incidents"), 1);
        }
        hvd_store_close(st);
    }
}
END_TEST

/* --- allocation failures ----------------------------------------------------------------- */

/* Puts the fixture set and marks some input; stops at the first failure. */
static int fill(hvd_store *st, struct tdiag *v, hvd_error *err)
{
    int rc = HVD_OK;

    for (int i = 0; rc == HVD_OK && i < NSET; i++) {
        rc = hvd_store_put_diagnosis(st, tdiag_get(&v[i]), NULL, err);
        if (rc == HVD_OK) {
            rc = hvd_store_evtx_mark(st, "HV1", "System", (uint64_t)(3 * i + 1), 0, err);
        }
        if (rc == HVD_OK) {
            rc = hvd_store_clusterlog_mark(st, "N1", "", i, 1, 1, "x", err);
        }
    }
    return rc;
}

START_TEST(allocation_failures_fail_cleanly_and_leave_no_trace)
{
    char want[HVD_STORE_DIGEST_SIZE];
    char got[HVD_STORE_DIGEST_SIZE] = "";
    char *ref = hvd_test_path(tmp, "ref.db");
    struct tdiag v[NSET];
    hvd_store *st = open_path(ref, 0);
    hvd_error err;
    unsigned long n;
    int done = 0;

    fixture_set(v);
    begin(st);
    ck_assert_int_eq(fill(st, v, &err), HVD_OK);
    commit(st);
    digest_of(st, want);
    hvd_store_close(st);
    for (n = 1; !done && n < 5000; n++) {
        int rc;

        st = open_db(0);
        begin(st);
        hvd_alloc_fail_after(n);
        rc = fill(st, v, &err);
        if (rc == HVD_OK) {
            rc = hvd_store_commit(st, &err);
        } else {
            hvd_store_rollback(st);
        }
        hvd_alloc_fail_after(0);
        if (rc == HVD_OK) {
            done = 1;
            digest_of(st, got);
        } else {
            ck_assert_int_eq(rc, HVD_ENOMEM);
            ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
            /* Nothing of the failed transaction stayed. */
            ck_assert_int_eq(diagnoses_in(st), 0);
            ck_assert_int_eq(hvd_store_evtx_seen(st, "HV1", "System", 1, 0, NULL), 0);
            ck_assert_int_eq(hvd_store_clusterlog_seen(st, "N1", "", 0, 1, 1, "x", NULL), 0);
        }
        hvd_store_close(st);
    }
    ck_assert_msg(done, "never succeeded");
    ck_assert_uint_gt(n, 10); /* many allocations did fail on the way */
    ck_assert_str_eq(got, want);
    free(ref);
}
END_TEST

/* Counts by severity agree with the rows, and with the totals. */
START_TEST(severity_counts_match_the_rows)
{
    hvd_store *st = open_db(0);
    struct tdiag a, b, c, w;
    int64_t diag[HVD_STORE_SEVERITIES];
    int64_t inc[HVD_STORE_SEVERITIES];
    hvd_store_counts totals;
    hvd_error err;
    int64_t dsum = 0;
    int64_t isum = 0;

    ck_assert_int_eq(hvd_store_severity_counts(st, diag, inc, &err), HVD_OK);
    for (int s = 0; s < HVD_STORE_SEVERITIES; s++) {
        ck_assert_int_eq(diag[s] + inc[s], 0);
    }
    tdiag_init(&a, "k1", "vm1", NULL, "HV1", 1000, 2000, 1, 1);
    tdiag_init(&b, "k2", "vm1", NULL, "HV1", 1500, 2500, 1, 2);
    tdiag_init(&c, "k3", "vm2", NULL, "HV2", 1000, 2000, 1, 3);
    tdiag_init(&w, "k4", NULL, NULL, "HV3", 1000, 2000, 1, 4);
    b.d.severity = HVD_SEVERITY_CRITICAL;
    w.d.severity = HVD_SEVERITY_WARNING;
    begin(st);
    put(st, &a);
    put(st, &b);
    put(st, &c);
    put(st, &w);
    commit(st);
    ck_assert_int_eq(hvd_store_severity_counts(st, diag, inc, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_get_counts(st, &totals, &err), HVD_OK);
    ck_assert_int_eq(diag[HVD_SEVERITY_ERROR], 2);
    ck_assert_int_eq(diag[HVD_SEVERITY_CRITICAL], 1);
    ck_assert_int_eq(diag[HVD_SEVERITY_WARNING], 1);
    for (int s = 0; s < HVD_STORE_SEVERITIES; s++) {
        char sql[80];

        snprintf(sql, sizeof(sql), "SELECT count(*) FROM incidents WHERE severity = %d", s);
        ck_assert_int_eq(inc[s], count(sql));
        dsum += diag[s];
        isum += inc[s];
    }
    ck_assert_int_eq(dsum, totals.diagnoses);
    ck_assert_int_eq(isum, totals.incidents);
    ck_assert_int_ge(inc[HVD_SEVERITY_CRITICAL], 1);
    hvd_store_close(st);
}
END_TEST

/* --- listings on their indexes ---------------------------------------------------------- */

/* One line of EXPLAIN QUERY PLAN: its id, its parent's and what it does. */
struct plan_line {
    int id;
    int parent;
    char detail[256];
};

/* Whether line k searches the listing's diagnoses (alias d) on an index other than the
 * primary key: a set of rows that grows with what the filters match. */
static int plan_searches_d(const struct plan_line *p, int k)
{
    return strncmp(p[k].detail, "SEARCH d USING ", 15) == 0 &&
           strstr(p[k].detail, "INTEGER PRIMARY KEY") == NULL;
}

/* Whether line k, or a line below it that belongs to the same select (not to a
 * subquery materialized on its own, which has its own lines), searches d by index. */
static int plan_feeds_from_d(const struct plan_line *p, int n, int k)
{
    if (plan_searches_d(p, k)) {
        return 1;
    }
    if (strncmp(p[k].detail, "MATERIALIZE ", 12) == 0 ||
        strncmp(p[k].detail, "CO-ROUTINE ", 11) == 0) {
        return 0;
    }
    for (int c = 0; c < n; c++) {
        if (p[c].parent == p[k].id && plan_feeds_from_d(p, n, c)) {
            return 1;
        }
    }
    return 0;
}

/* Checks one statement's plan: no plan line may read all of a table or index (SCAN) of
 * diagnoses, incidents or evidence, except, when 'walk_ok', a walk along an index (a
 * listing with no filter reads the newest first and stops at its page). The page
 * subquery (p) is a handful of rows. When 'strict' (a VM, host or rule filter), the
 * diagnoses it matches are read from a covering index, in the order of the listing: a
 * sort (temp B-tree) fed by them, wholly or in its right part, fails. Returns how many
 * lines the plan has. */
static int check_plan(sqlite3 *db, const char *what, const char *sql, int walk_ok, int strict)
{
    char *explain = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    struct plan_line p[64];
    sqlite3_stmt *q = NULL;
    int n = 0;

    ck_assert_msg(sqlite3_prepare_v2(db, explain, -1, &q, NULL) == SQLITE_OK, "%s: %s", what,
                  sqlite3_errmsg(db));
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *plan = (const char *)sqlite3_column_text(q, 3);

        ck_assert_int_lt(n, 64);
        p[n].id = sqlite3_column_int(q, 0);
        p[n].parent = sqlite3_column_int(q, 1);
        snprintf(p[n].detail, sizeof(p[n].detail), "%s", plan);
        n++;
        if (strncmp(plan, "SCAN ", 5) != 0 || strncmp(plan, "SCAN p", 6) == 0 ||
            strncmp(plan, "SCAN CONSTANT ROW", 17) == 0) {
            continue;
        }
        ck_assert_msg(walk_ok && strstr(plan, " USING ") != NULL, "%s scans: %s\n%s", what, plan,
                      sql);
    }
    sqlite3_finalize(q);
    sqlite3_free(explain);
    for (int k = 0; strict && k < n; k++) {
        ck_assert_msg(!plan_searches_d(p, k) || strstr(p[k].detail, " COVERING INDEX ") != NULL,
                      "%s reads the table for each diagnosis: %s\n%s", what, p[k].detail, sql);
        if (strncmp(p[k].detail, "USE TEMP B-TREE", 15) != 0) {
            continue;
        }
        for (int j = 0; j < n; j++) {
            ck_assert_msg(j == k || p[j].parent != p[k].parent || !plan_feeds_from_d(p, n, j),
                          "%s sorts the diagnoses it matches: %s\n%s", what, p[k].detail, sql);
        }
    }
    return n;
}

START_TEST(listings_search_their_indexes_for_every_filter_combination)
{
    static const int reads[] = {SQL_INCIDENT_GET, SQL_INCIDENT_DIAGS, SQL_INCIDENT_DIAGS_AFTER,
                                SQL_DIAGS_AFTER,  SQL_EVIDENCE_OF,    SQL_EVIDENCE_COUNT,
                                SQL_ENTITIES_OF};
    static const int pages[] = {SQL_INCIDENT_DIAGS, SQL_INCIDENT_DIAGS_AFTER};
    struct tdiag v[NSET];
    hvd_store *st = open_db(0);
    sqlite3 *db = NULL;
    int walks = 0;

    /* a real file with rows; no ANALYZE, as no store has one */
    fixture_set(v);
    begin(st);
    for (int i = 0; i < NSET; i++) {
        put(st, &v[i]);
    }
    commit(st);
    hvd_store_close(st);
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    for (int inc = 0; inc <= 1; inc++) {
        for (unsigned mask = 0; mask < STORE_LIST_COMBOS; mask++) {
            /* by VM, host or rule: read from a covering index, newest first */
            int strict = (mask & STORE_LIST_MATCH) != 0;
            char what[64];
            hvd_buf sql;

            hvd_buf_init(&sql, 1 << 16);
            ck_assert_int_eq(hvd__store_list_sql(inc, mask, &sql), HVD_OK);
            snprintf(what, sizeof(what), "%s with filters 0x%02x", inc ? "incidents" : "diagnoses",
                     mask);
            ck_assert_int_gt(check_plan(db, what, hvd_buf_str(&sql), mask == 0, strict), 0);
            /* incidents by VM, host or rule: a walk of the diagnoses' index, newest first */
            ck_assert_int_eq(hvd__store_list_walks(inc, mask), inc && strict);
            walks += hvd__store_list_walks(inc, mask);
            hvd_buf_free(&sql);
        }
    }
    ck_assert_int_eq(walks, 120);
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        ck_assert_int_gt(check_plan(db, store_sql[reads[i]], store_sql[reads[i]], 0, 0), 0);
    }
    /* An incident's diagnoses come in the index's order, a later page from its cursor on:
     * no sort of the whole incident for each page. */
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        char *explain = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", store_sql[pages[i]]);
        sqlite3_stmt *q = NULL;
        int seeks = 0;

        ck_assert_int_eq(sqlite3_prepare_v2(db, explain, -1, &q, NULL), SQLITE_OK);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *plan = (const char *)sqlite3_column_text(q, 3);

            ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "%s sorts: %s", store_sql[pages[i]],
                          plan);
            seeks += strstr(plan, "USING INDEX diagnoses_incident_order (incident=? AND (") != NULL;
        }
        ck_assert_int_eq(seeks, pages[i] == SQL_INCIDENT_DIAGS_AFTER);
        sqlite3_finalize(q);
        sqlite3_free(explain);
    }
    sqlite3_close(db);
}
END_TEST

/* A diagnosis as the reference filter sees it. */
struct ref_diag {
    int64_t id;
    int64_t incident;
    int severity;
    char vm_name[16];
    char vm_id[16];
    char host[32];
    char rule[8];
    hvd_time first;
    hvd_time last;
};

struct ref_inc {
    int64_t id;
    int severity;
    hvd_time first;
    hvd_time last;
};

struct ref_set {
    struct ref_diag d[256];
    size_t nd;
    struct ref_inc i[256];
    size_t ni;
    int64_t got[256]; /* ids a listing gave, in order */
    size_t ngot;
};

static int ref_note_diag(void *ud, const hvd_stored_diagnosis *d)
{
    struct ref_set *r = ud;
    struct ref_diag *x = &r->d[r->nd++];

    ck_assert_uint_le(r->nd, 256);
    x->id = d->id;
    x->incident = d->incident;
    x->severity = (int)d->severity;
    snprintf(x->vm_name, sizeof(x->vm_name), "%s", d->vm_name);
    snprintf(x->vm_id, sizeof(x->vm_id), "%s", d->vm_id);
    snprintf(x->host, sizeof(x->host), "%s", d->host);
    snprintf(x->rule, sizeof(x->rule), "%s", d->rule_id);
    x->first = d->first_time;
    x->last = d->last_time;
    return 0;
}

static int ref_note_inc(void *ud, const hvd_incident *in)
{
    struct ref_set *r = ud;
    struct ref_inc *x = &r->i[r->ni++];

    ck_assert_uint_le(r->ni, 256);
    x->id = in->id;
    x->severity = (int)in->severity;
    x->first = in->first_time;
    x->last = in->last_time;
    return 0;
}

static int ref_note_id_diag(void *ud, const hvd_stored_diagnosis *d)
{
    struct ref_set *r = ud;

    r->got[r->ngot++] = d->id;
    return 0;
}

static int ref_note_id_inc(void *ud, const hvd_incident *in)
{
    struct ref_set *r = ud;

    r->got[r->ngot++] = in->id;
    return 0;
}

/* The filters on a diagnosis's own columns, as the listings document them. */
static int ref_match(const struct ref_diag *d, const hvd_incident_filter *f)
{
    size_t n = f->host ? strlen(f->host) : 0;

    return (!f->vm || strcasecmp(d->vm_name, f->vm) == 0 || strcasecmp(d->vm_id, f->vm) == 0) &&
           (!f->vm_id || strcasecmp(d->vm_id, f->vm_id) == 0) &&
           (!f->host || strcasecmp(d->host, f->host) == 0 ||
            (strncasecmp(d->host, f->host, n) == 0 && d->host[n] == '.')) &&
           (!f->rule || strcmp(d->rule, f->rule) == 0);
}

static int ref_time(hvd_time first, hvd_time last, int64_t id, const hvd_incident_filter *f)
{
    return (!f->since || last >= f->since) && (!f->until || first <= f->until) &&
           (!f->after || first < f->after_time || (first == f->after_time && id < f->after_id));
}

/* Newest first: by first time, then id, both descending. */
static int ref_newer(hvd_time fa, int64_t ia, hvd_time fb, int64_t ib)
{
    return fa > fb || (fa == fb && ia > ib);
}

/* The ids a listing must give for f, in order, into want. */
static size_t ref_expect(const struct ref_set *r, int inc, const hvd_incident_filter *f,
                         int64_t *want)
{
    hvd_time t[256];
    size_t n = 0;
    int64_t skip = f->offset;

    for (size_t k = 0; k < (inc ? r->ni : r->nd); k++) {
        int ok;
        hvd_time first = inc ? r->i[k].first : r->d[k].first;
        int64_t id = inc ? r->i[k].id : r->d[k].id;

        if (inc) {
            ok =
                r->i[k].severity >= f->min_severity && ref_time(r->i[k].first, r->i[k].last, id, f);
            if (ok && (f->vm || f->vm_id || f->host || f->rule)) {
                ok = 0;
                for (size_t j = 0; j < r->nd && !ok; j++) {
                    ok = r->d[j].incident == id && ref_match(&r->d[j], f);
                }
            }
        } else {
            ok = r->d[k].severity >= f->min_severity && ref_match(&r->d[k], f) &&
                 ref_time(r->d[k].first, r->d[k].last, id, f);
        }
        if (!ok) {
            continue;
        }
        /* insertion into newest-first order */
        size_t at = n;
        while (at > 0 && ref_newer(first, id, t[at - 1], want[at - 1])) {
            t[at] = t[at - 1];
            want[at] = want[at - 1];
            at--;
        }
        t[at] = first;
        want[at] = id;
        n++;
    }
    if (skip > (int64_t)n) {
        skip = (int64_t)n;
    }
    memmove(want, want + skip, (n - (size_t)skip) * sizeof(*want));
    n -= (size_t)skip;
    if (f->limit > 0 && (size_t)f->limit < n) {
        n = (size_t)f->limit;
    }
    return n;
}

START_TEST(every_filter_combination_lists_what_its_filters_select)
{
    static const char *const hosts[] = {
        "HV1.corp.local", "hv1", "HV10.corp.local", "hv2.CORP.local", "HV1.corp.local.x", "HV1_x"};
    static const char *const names[] = {"VM-1", "vm-2", "", "ID-2"};
    static const char *const ids[] = {"id-1", "", "ID-2", "vm-1"};
    static struct ref_set r;
    hvd_store *st = open_db(0);
    uint64_t rng = 7;

    begin(st);
    for (int k = 0; k < 200; k++) {
        struct tdiag t;
        char key[16];
        char rule[8];
        const char *name;
        const char *id;
        hvd_time first;
        hvd_time span;

        rng = rng * 6364136223846793005u + 1442695040888963407u;
        name = names[(rng >> 33) % 4];
        id = ids[(rng >> 40) % 4];
        first = (hvd_time)((rng >> 20) % 100) * H;
        /* mostly short; some run for days; some end before they start */
        span = (rng >> 50) % 8 == 0   ? 50 * H
               : (rng >> 50) % 8 == 1 ? -2 * H
                                      : (hvd_time)(k % 3) * H;
        snprintf(key, sizeof(key), "k%d", k);
        snprintf(rule, sizeof(rule), "r%d", (int)((rng >> 45) % 4));
        tdiag_init(&t, key, *name ? name : NULL, *id ? id : NULL, hosts[(rng >> 28) % 6], first,
                   first + span, 1, (uint64_t)k + 1);
        t.d.rule_id = rule;
        t.d.severity = (hvd_severity)((rng >> 55) % 5);
        put(st, &t);
    }
    commit(st);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(hvd_store_diagnoses(st, NULL, ref_note_diag, &r, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_incidents(st, NULL, ref_note_inc, &r, NULL), HVD_OK);
    ck_assert_uint_eq(r.nd, 200);
    for (int inc = 0; inc <= 1; inc++) {
        for (unsigned mask = 0; mask < STORE_LIST_COMBOS; mask++) {
            /* all; a page of 4 after 1; the first only (a walk stops soonest) */
            for (int paged = 0; paged <= 2; paged++) {
                hvd_incident_filter f;
                int64_t want[256];
                size_t n;
                int rc;

                memset(&f, 0, sizeof(f));
                f.min_severity = 2;
                f.vm = mask & STORE_LIST_VM ? "vm-1" : NULL;
                f.vm_id = mask & STORE_LIST_VM_ID ? "Id-2" : NULL;
                f.host = mask & STORE_LIST_HOST ? (paged ? "hv1.CORP.local" : "HV1") : NULL;
                f.rule = mask & STORE_LIST_RULE ? "r1" : NULL;
                f.since = mask & STORE_LIST_SINCE ? 40 * H : 0;
                f.until = mask & STORE_LIST_UNTIL ? 70 * H : 0;
                f.after = (mask & STORE_LIST_AFTER) != 0;
                f.after_time = 60 * H;
                f.after_id = inc ? r.i[r.ni / 2].id : r.d[r.nd / 2].id;
                f.limit = paged == 1 ? 4 : paged;
                f.offset = paged == 1 ? 1 : 0;
                n = ref_expect(&r, inc, &f, want);
                r.ngot = 0;
                rc = inc ? hvd_store_incidents(st, &f, ref_note_id_inc, &r, NULL)
                         : hvd_store_diagnoses(st, &f, ref_note_id_diag, &r, NULL);
                ck_assert_int_eq(rc, HVD_OK);
                ck_assert_msg(r.ngot == n, "%s 0x%02x paged %d: %zu rows, want %zu",
                              inc ? "incidents" : "diagnoses", mask, paged, r.ngot, n);
                for (size_t k = 0; k < n; k++) {
                    ck_assert_msg(r.got[k] == want[k],
                                  "%s 0x%02x paged %d: row %zu is %lld, want %lld",
                                  inc ? "incidents" : "diagnoses", mask, paged, k,
                                  (long long)r.got[k], (long long)want[k]);
                }
            }
        }
    }
    hvd_store_close(st);
}
END_TEST

/* Incidents by rule or host are walked from the time bounds of their diagnoses. A
 * diagnosis that ends before it starts can start after every other end of its incident:
 * its incident is still found under 'until' and under a cursor at the incident's start. */
START_TEST(walks_reach_a_diagnosis_that_ends_before_it_starts)
{
    static struct ref_set r;
    hvd_store *st = open_db(0);
    struct tdiag d0, d1, d2;
    hvd_incident_filter f;
    int64_t inc;

    /* d0 starts vm-a's incident (9 h to 29 h); d1, of rule r1 on HV1, starts at 30 h and
     * ends at 10 h; d2, of rule r1 on HV1, is another VM's much later */
    tdiag_init(&d0, "d0", "vm-a", NULL, "HV2", 9 * H, 29 * H, 1, 1);
    tdiag_init(&d1, "d1", "vm-a", NULL, "HV1", 30 * H, 10 * H, 1, 2);
    tdiag_init(&d2, "d2", "vm-b", NULL, "HV1", 200 * H, 200 * H, 1, 3);
    d1.d.rule_id = "r1";
    d2.d.rule_id = "r1";
    begin(st);
    put(st, &d0);
    put(st, &d1);
    put(st, &d2);
    commit(st);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(hvd_store_incidents(st, NULL, ref_note_inc, &r, NULL), HVD_OK);
    ck_assert_uint_eq(r.ni, 2);
    ck_assert_int_eq(r.i[1].first, 9 * H);
    ck_assert_int_eq(r.i[1].last, 29 * H);
    inc = r.i[1].id;
    for (int k = 0; k < 4; k++) {
        memset(&f, 0, sizeof(f));
        f.rule = k % 2 ? "r1" : NULL;
        f.host = k % 2 ? NULL : "HV1";
        f.limit = 1;
        if (k < 2) {
            f.until = 9 * H;
        } else {
            f.after = 1;
            f.after_time = 9 * H;
            f.after_id = inc + 1;
        }
        r.ngot = 0;
        ck_assert_int_eq(hvd_store_incidents(st, &f, ref_note_id_inc, &r, NULL), HVD_OK);
        ck_assert_msg(r.ngot == 1 && r.got[0] == inc, "case %d: %zu rows", k, r.ngot);
    }
    hvd_store_close(st);
}
END_TEST

/* --- listings on a generated store, against plain statements ------------------------- */

/* What a listing must give, written as plainly as SQL allows: every filter a test on the
 * row ("?N IS NULL OR ..."), no index in mind. ?1 min severity, ?2 VM name or id, ?3 VM id,
 * ?4 host, ?5 rule, ?6 since, ?7 until (0: none), ?8 cursor set, ?9 and ?10 its (time, id),
 * ?11 limit, ?12 offset. */
#define PLAIN_MATCH                                                                     \
    " AND (?2 IS NULL OR d.vm_name = ?2 COLLATE NOCASE OR d.vm_id = ?2 COLLATE NOCASE)" \
    " AND (?3 IS NULL OR d.vm_id = ?3 COLLATE NOCASE)"                                  \
    " AND (?4 IS NULL OR lower(d.host) = lower(?4)"                                     \
    "  OR lower(substr(d.host, 1, length(?4) + 1)) = lower(?4) || '.')"                 \
    " AND (?5 IS NULL OR d.rule = ?5)"
static const char *const plain_listing[2] = {
    "SELECT d.id, d.first_time FROM diagnoses d WHERE d.severity >= ?1" PLAIN_MATCH
    " AND (?6 = 0 OR d.last_time >= ?6) AND (?7 = 0 OR d.first_time <= ?7)"
    " AND (?8 = 0 OR d.first_time < ?9 OR (d.first_time = ?9 AND d.id < ?10))"
    " ORDER BY d.first_time DESC, d.id DESC LIMIT ?11 OFFSET ?12",
    "SELECT i.id, i.first_time FROM incidents i WHERE i.severity >= ?1"
    " AND (?6 = 0 OR i.last_time >= ?6) AND (?7 = 0 OR i.first_time <= ?7)"
    " AND (?8 = 0 OR i.first_time < ?9 OR (i.first_time = ?9 AND i.id < ?10))"
    " AND (coalesce(?2, ?3, ?4, ?5) IS NULL"
    "  OR EXISTS(SELECT 1 FROM diagnoses d WHERE d.incident = i.id" PLAIN_MATCH "))"
    " ORDER BY i.first_time DESC, i.id DESC LIMIT ?11 OFFSET ?12",
};

struct got_rows {
    int64_t id[16384];
    hvd_time first[16384];
    size_t n;
};

static int got_diag(void *ud, const hvd_stored_diagnosis *d)
{
    struct got_rows *g = ud;

    ck_assert_uint_lt(g->n, 16384);
    g->id[g->n] = d->id;
    g->first[g->n++] = d->first_time;
    return 0;
}

static int got_inc(void *ud, const hvd_incident *in)
{
    struct got_rows *g = ud;

    ck_assert_uint_lt(g->n, 16384);
    g->id[g->n] = in->id;
    g->first[g->n++] = in->first_time;
    return 0;
}

static void bind_opt(sqlite3_stmt *q, int i, const char *v)
{
    if (v) {
        sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(q, i);
    }
}

/* The plain statement's rows for f into want. */
static void plain_rows(sqlite3 *db, int inc, const hvd_incident_filter *f, struct got_rows *want)
{
    sqlite3_stmt *q = NULL;
    int rc;

    ck_assert_int_eq(sqlite3_prepare_v2(db, plain_listing[inc], -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_int(q, 1, f->min_severity);
    bind_opt(q, 2, f->vm);
    bind_opt(q, 3, f->vm_id);
    bind_opt(q, 4, f->host);
    bind_opt(q, 5, f->rule);
    sqlite3_bind_int64(q, 6, f->since);
    sqlite3_bind_int64(q, 7, f->until);
    sqlite3_bind_int(q, 8, f->after);
    sqlite3_bind_int64(q, 9, f->after_time);
    sqlite3_bind_int64(q, 10, f->after_id);
    sqlite3_bind_int64(q, 11, f->limit > 0 ? f->limit : -1);
    sqlite3_bind_int64(q, 12, f->offset);
    want->n = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        ck_assert_uint_lt(want->n, 16384);
        want->id[want->n] = sqlite3_column_int64(q, 0);
        want->first[want->n++] = sqlite3_column_int64(q, 1);
    }
    ck_assert_int_eq(rc, SQLITE_DONE);
    sqlite3_finalize(q);
}

static void same_rows(const struct got_rows *got, const struct got_rows *want, const char *what,
                      unsigned mask, int variant)
{
    ck_assert_msg(got->n == want->n, "%s 0x%02x variant %d: %zu rows, want %zu", what, mask,
                  variant, got->n, want->n);
    for (size_t k = 0; k < got->n; k++) {
        ck_assert_msg(got->id[k] == want->id[k],
                      "%s 0x%02x variant %d: row %zu is %" PRId64 ", want %" PRId64, what, mask,
                      variant, k, got->id[k], want->id[k]);
    }
}

/* One text of the row the plain SELECT sql gives (its first column), copied into out. */
static void first_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *q = NULL;

    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
}

/* A store from the benches' generator (bursts over 64 hosts, VMs by name, by id or both,
 * 70 rules, diagnoses that run for days, correlations): every filter combination, whole,
 * in pages by offset and walked page by page with the cursor, lists what a plain
 * statement over the same rows lists, in the same order. */
START_TEST(listings_of_a_generated_store_equal_plain_statements)
{
    static struct got_rows got;
    static struct got_rows want;
    static struct got_rows walked;
    char vm[64];
    char vm_id[64];
    char rule[32];
    synth g;
    hvd_store *st = open_db(0);
    sqlite3 *db = NULL;
    hvd_error err;
    hvd_time mid;

    synth_init(&g, 7);
    begin(st);
    while (g.serial < 6000) {
        /* about one burst an hour: the 64 hosts' incidents overlap in time */
        ck_assert_int_eq(
            synth_burst(st, &g, SYNTH_EPOCH + (hvd_time)g.serial * 20 * SYNTH_MINUTE, &err),
            HVD_OK);
    }
    commit(st);
    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    /* the busiest VM by name (asked in capitals: any case) and an id of a VM named too */
    first_text(db,
               "SELECT upper(vm_name) FROM diagnoses WHERE vm_name != '' GROUP BY vm_name"
               " ORDER BY count(*) DESC, vm_name LIMIT 1",
               vm, sizeof(vm));
    first_text(db,
               "SELECT vm_id FROM diagnoses WHERE vm_name != '' AND vm_id != '' GROUP BY vm_id"
               " ORDER BY count(*) DESC, vm_id LIMIT 1",
               vm_id, sizeof(vm_id));
    first_text(db, "SELECT rule FROM diagnoses GROUP BY rule ORDER BY count(*) DESC, rule LIMIT 1",
               rule, sizeof(rule));
    mid = SYNTH_EPOCH + 3000 * 20 * SYNTH_MINUTE;
    for (int inc = 0; inc <= 1; inc++) {
        const char *what = inc ? "incidents" : "diagnoses";

        for (unsigned mask = 0; mask < STORE_LIST_COMBOS; mask++) {
            for (int variant = 0; variant < 4; variant++) {
                hvd_incident_filter f;

                memset(&f, 0, sizeof(f));
                f.min_severity = HVD_SEVERITY_WARNING;
                /* the VM by name, or (variants 2, 3) by id, which other arms must not repeat */
                f.vm = mask & STORE_LIST_VM ? (variant >= 2 ? vm_id : vm) : NULL;
                f.vm_id = mask & STORE_LIST_VM_ID ? vm_id : NULL;
                f.host =
                    mask & STORE_LIST_HOST ? (variant % 2 ? "hv07.CORP.example" : "HV07") : NULL;
                f.rule = mask & STORE_LIST_RULE ? rule : NULL;
                /* a week, at the middle of the store's time */
                f.since = mask & STORE_LIST_SINCE ? mid - 3 * SYNTH_DAY : 0;
                f.until = mask & STORE_LIST_UNTIL ? mid + 4 * SYNTH_DAY : 0;
                f.after = (mask & STORE_LIST_AFTER) != 0;
                f.after_time = mid + SYNTH_DAY;
                f.after_id = inc ? 1000 : 3000;
                /* whole; the first row; a page of 5 after 2; the first 3 */
                f.limit = variant == 0 ? 0 : variant == 1 ? 1 : variant == 2 ? 5 : 3;
                f.offset = variant == 2 ? 2 : 0;
                plain_rows(db, inc, &f, &want);
                got.n = 0;
                ck_assert_int_eq(inc ? hvd_store_incidents(st, &f, got_inc, &got, &err)
                                     : hvd_store_diagnoses(st, &f, got_diag, &got, &err),
                                 HVD_OK);
                same_rows(&got, &want, what, mask, variant);
                if (variant != 0) {
                    continue;
                }
                /* the whole listing again, 7 rows a page, each page after the last row of
                 * the one before */
                walked.n = 0;
                f.limit = 7;
                for (;;) {
                    size_t before = walked.n;

                    ck_assert_int_eq(inc ? hvd_store_incidents(st, &f, got_inc, &walked, &err)
                                         : hvd_store_diagnoses(st, &f, got_diag, &walked, &err),
                                     HVD_OK);
                    if (walked.n - before < 7) {
                        break;
                    }
                    f.after = 1;
                    f.after_time = walked.first[walked.n - 1];
                    f.after_id = walked.id[walked.n - 1];
                }
                same_rows(&walked, &want, what, mask, 4);
            }
        }
    }
    sqlite3_close(db);
    hvd_store_close(st);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("schema");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schema_is_created_versioned_and_in_wal_mode);
    tcase_add_test(tc, a_new_database_has_the_schema_every_migration_gives);
    tcase_add_test(tc, version_1_database_is_migrated_keeping_its_rows);
    tcase_add_test(tc, version_2_database_is_migrated_and_regroups_what_changed);
    tcase_add_test(tc, bad_files_are_refused_with_their_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("diagnoses");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, upsert_by_key_grows_and_dedupes_evidence);
    tcase_add_test(tc, severity_counts_match_the_rows);
    tcase_add_test(tc, cluster_log_evidence_is_told_apart_by_line);
    tcase_add_test(tc, same_diagnoses_in_any_order_give_the_same_digest);
    tcase_add_test(tc, evidence_keeps_rendering_texts_and_old_rows_read_empty);
    tcase_add_test(tc, evidence_is_the_earliest_whatever_order_it_came_in);
    suite_add_tcase(s, tc);
    tc = tcase_create("seen");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, evtx_seen_ranges_merge_persist_and_roll_back);
    tcase_add_test(tc, clusterlog_lines_at_equal_times_are_told_apart);
    tcase_add_test(tc, clusterlog_ranges_take_files_in_any_order);
    tcase_add_test(tc, version_3_clusterlog_high_water_becomes_a_range);
    tcase_add_test(tc, evtx_log_instances_tell_a_rebuilt_host_from_a_re_export);
    tcase_add_test(tc, seen_input_digests_the_same_in_any_order);
    tcase_add_test(tc, seen_lookups_keep_the_store_error_code);
    tcase_add_test(tc, a_second_writer_sees_the_first_writers_marks);
    suite_add_tcase(s, tc);
    tc = tcase_create("incidents");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, incidents_group_by_vm_then_host_and_do_not_depend_on_order);
    tcase_add_test(tc, vm_name_and_id_join_through_a_diagnosis_naming_both);
    tcase_add_test(tc, a_time_gap_splits_and_a_bridge_joins);
    tcase_add_test(tc, a_correlation_pulls_its_members_in_and_comes_first);
    tcase_add_test(tc, a_role_event_tied_to_its_vm_leaves_the_host);
    tcase_add_test(tc, without_a_correlation_the_most_severe_comes_first);
    tcase_add_test(tc, of_tied_correlations_the_one_explaining_more_comes_first);
    suite_add_tcase(s, tc);
    tc = tcase_create("regroup");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, regrouping_what_changed_equals_a_full_rebuild);
    tcase_add_test(tc, a_commit_reads_only_what_can_share_an_incident_with_its_changes);
    tcase_add_test(tc, diagnoses_are_found_by_join_value);
    tcase_add_test(tc, a_diagnosis_joining_a_long_incident_reads_a_handful);
    tcase_add_test(tc, a_settle_leaves_a_full_pass_to_the_commit);
    tcase_add_test(tc, regrouping_searches_indexes_and_never_scans_a_table);
    suite_add_tcase(s, tc);
    tc = tcase_create("read");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, filters_and_paging_answer_the_users_questions);
    tcase_add_test(tc, reads_nest_inside_callbacks);
    tcase_add_test(tc, sources_keep_checkpoint_identity_and_quarantine);
    tcase_add_test(tc, listings_search_their_indexes_for_every_filter_combination);
    tcase_add_test(tc, every_filter_combination_lists_what_its_filters_select);
    tcase_add_test(tc, walks_reach_a_diagnosis_that_ends_before_it_starts);
    tcase_add_test(tc, listings_of_a_generated_store_equal_plain_statements);
    suite_add_tcase(s, tc);
    tc = tcase_create("robustness");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, readonly_refuses_writes_and_reads_beside_a_writer);
    tcase_add_test(tc, a_killed_writer_leaves_nothing_half_done);
    tcase_add_test(tc, allocation_failures_fail_cleanly_and_leave_no_trace);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
