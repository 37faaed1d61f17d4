/* Suite for the store: real SQLite files in a temp dir. */
#include "store.h"

#include "hvtime.h"
#include "testutil.h"

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static hvd_store *open_db(int flags)
{
    hvd_store *st = NULL;
    hvd_error err;

    ck_assert_msg(hvd_store_open(&st, dbpath, flags, &err) == HVD_OK, "%s", err.msg);
    return st;
}

static int64_t count(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t n = -1;

    ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW) {
        n = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* A diagnosis with one entity set and one piece of evidence. */
static hvd_diagnosis diag(const char *key, const char *vm, const char *host, hvd_time first,
                          hvd_time last, uint64_t n, hvd_entity *ents, hvd_evidence *ev,
                          uint64_t record)
{
    hvd_diagnosis d;
    static const char *const refs[] = {"https://example.invalid/kb"};

    memset(&d, 0, sizeof(d));
    memset(ev, 0, sizeof(*ev));
    ents[0] = (hvd_entity){"host", host};
    ents[1] = (hvd_entity){"vm_name", vm};
    d.key = key;
    d.kind = HVD_DIAGNOSIS_SIGNATURE;
    d.rule_id = "r";
    d.title = key;
    d.severity = HVD_SEVERITY_ERROR;
    d.confidence = "high";
    d.cause = "c";
    d.remedy = "fix";
    d.references = refs;
    d.nreferences = 1;
    d.entities = ents;
    d.nentities = vm ? 2 : 1;
    d.first_time = first;
    d.last_time = last;
    d.count = n;
    ev->kind = HVD_SOURCE_EVTX;
    ev->source_path = "a.evtx";
    ev->record_id = record;
    ev->time = first;
    ev->host = host;
    ev->provider = "p";
    ev->channel = "c";
    ev->component = "";
    ev->message = "m";
    d.evidence = ev;
    d.nevidence = 1;
    return d;
}

#define H (3600 * HVD_TICKS_PER_SECOND)

START_TEST(upsert_by_key_grows_and_dedupes_evidence)
{
    hvd_store *st = open_db(0);
    hvd_entity ents[2];
    hvd_evidence ev;
    hvd_diagnosis d;
    int changed = 0;

    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    d = diag("k1", "SQL01", "HV1", 10 * H, 10 * H, 1, ents, &ev, 1);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, &d, &changed, NULL), HVD_OK);
    ck_assert_int_eq(changed, 1);
    d = diag("k1", "SQL01", "HV1", 10 * H, 11 * H, 5, ents, &ev, 2);
    ck_assert_int_eq(hvd_store_put_diagnosis(st, &d, NULL, NULL), HVD_OK);
    changed = 0;
    ck_assert_int_eq(hvd_store_put_diagnosis(st, &d, &changed, NULL), HVD_OK);
    ck_assert_int_eq(changed, 0); /* the same again changes nothing */
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
    hvd_store_close(st);
    ck_assert_int_eq(count("SELECT count(*) FROM diagnoses"), 1);
    ck_assert_int_eq(count("SELECT count FROM diagnoses"), 5);
    ck_assert_int_eq(count("SELECT last_time FROM diagnoses"), 11 * H);
    ck_assert_int_eq(count("SELECT count(*) FROM evidence"), 2);
    ck_assert_int_eq(count("SELECT count(*) FROM diagnosis_entities"), 2);
    ck_assert_int_eq(count("PRAGMA user_version"), HVD_STORE_SCHEMA_VERSION);
}
END_TEST

static hvd_event evtx_event(const char *host, const char *channel, uint64_t erid)
{
    hvd_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_EVTX;
    ev.host = host;
    ev.channel = channel;
    ev.event_record_id = erid;
    return ev;
}

START_TEST(evtx_seen_ranges_are_exact_persist_and_roll_back)
{
    static const uint64_t order[] = {5, 3, 4, 10, 1, 2, 7, 6, 9, 8};
    hvd_store *st = open_db(0);
    hvd_event ev;
    int seen;

    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    for (size_t i = 0; i < 10; i++) {
        ev = evtx_event("HV1", "System", order[i]);
        ck_assert_int_eq(hvd_store_event_seen(st, &ev, &seen, NULL), HVD_OK);
        ck_assert_int_eq(seen, 0);
    }
    ev = evtx_event("HV1", "System", 6);
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 1);
    ev = evtx_event("HV1", "Application", 6); /* another channel: another sequence */
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 0);
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
    hvd_store_close(st);
    /* Ten ids in any order make one interval. */
    ck_assert_int_eq(count("SELECT count(*) FROM evtx_seen WHERE channel = 'System'"), 1);
    st = open_db(0);
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    ev = evtx_event("HV1", "System", 10);
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 1);
    ev = evtx_event("HV1", "System", 11);
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 0);
    hvd_store_rollback(st);
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 0); /* the rolled-back mark is forgotten */
    hvd_store_rollback(st);
    hvd_store_close(st);
}
END_TEST

START_TEST(clusterlog_high_water_mark_per_node_and_section)
{
    hvd_store *st = open_db(0);
    hvd_event ev;
    int seen;

    memset(&ev, 0, sizeof(ev));
    ev.kind = HVD_SOURCE_CLUSTERLOG;
    ev.host = "N1";
    ev.channel = "";
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    ev.time = 100;
    ev.message = "a";
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 0);
    ev.message = "b"; /* same time, other text */
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 0);
    ev.message = "a";
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 1);
    ev.time = 50; /* older: seen */
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 1);
    ev.channel = "Operational"; /* another section has its own clock */
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 0);
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
    hvd_store_close(st);
    st = open_db(0);
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    ev.channel = "";
    ev.time = 100;
    ev.message = "b";
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 1);
    ev.time = 101;
    hvd_store_event_seen(st, &ev, &seen, NULL);
    ck_assert_int_eq(seen, 0);
    hvd_store_rollback(st);
    hvd_store_close(st);
}
END_TEST

static char incidents_text[4096];

static int note_incident(void *ud, const hvd_incident *in)
{
    size_t used = strlen(incidents_text);

    (void)ud;
    snprintf(incidents_text + used, sizeof(incidents_text) - used, "%s:%s:%lld;", in->subject_kind,
             in->subject, (long long)in->diagnoses);
    return 0;
}

/* Puts diagnoses in the given order and returns the incidents as text. */
static void incidents_for(const int *order, size_t n)
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
    hvd_store *st;
    hvd_entity ents[2];
    hvd_evidence ev;

    remove(dbpath);
    st = open_db(0);
    ck_assert_int_eq(hvd_store_begin(st, NULL), HVD_OK);
    for (size_t i = 0; i < n; i++) {
        hvd_diagnosis d = diag(rows[order[i]].key, rows[order[i]].vm, rows[order[i]].host,
                               rows[order[i]].first, rows[order[i]].first, 1, ents, &ev, i + 1);

        ck_assert_int_eq(hvd_store_put_diagnosis(st, &d, NULL, NULL), HVD_OK);
    }
    ck_assert_int_eq(hvd_store_rebuild_incidents(st, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_commit(st, NULL), HVD_OK);
    incidents_text[0] = '\0';
    ck_assert_int_eq(hvd_store_incidents(st, NULL, note_incident, NULL, NULL), HVD_OK);
    hvd_store_close(st);
}

START_TEST(incidents_group_by_vm_then_host_and_do_not_depend_on_order)
{
    static const int forward[] = {0, 1, 2, 3, 4};
    static const int backward[] = {4, 3, 2, 1, 0};
    char first[4096];

    incidents_for(forward, 5);
    snprintf(first, sizeof(first), "%s", incidents_text);
    /* SQL01 at 1h and 2h: one incident (two hosts); SQL01 at 20h: another (gap > 6 h);
     * HV3 and HV3.x.local: one host incident. Newest first; ties by incident id. */
    ck_assert_str_eq(first, "vm:sql01:1;host:HV3:2;vm:SQL01:2;");
    incidents_for(backward, 5);
    ck_assert_str_eq(incidents_text, first);
}
END_TEST

START_TEST(readonly_refuses_writes_and_works_beside_a_writer)
{
    hvd_store *writer = open_db(0);
    hvd_store *reader;
    hvd_error err;
    hvd_store_counts c;

    reader = open_db(HVD_STORE_READONLY);
    ck_assert_int_eq(hvd_store_begin(writer, NULL), HVD_OK);
    ck_assert_int_eq(hvd_store_get_counts(reader, &c, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_commit(writer, NULL), HVD_OK);
    ck_assert_int_lt(hvd_store_begin(reader, &err), 0);
    hvd_store_close(reader);
    hvd_store_close(writer);
}
END_TEST

START_TEST(bad_files_are_refused_with_their_name)
{
    hvd_store *st = NULL;
    hvd_error err;
    char junk[4096];
    sqlite3 *db = NULL;

    memset(junk, 'x', sizeof(junk));
    ck_assert_int_eq(hvd_test_write_file(dbpath, junk, sizeof(junk)), 0);
    ck_assert_int_lt(hvd_store_open(&st, dbpath, 0, &err), 0);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(err.msg, dbpath));
    remove(dbpath);
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert_int_lt(hvd_store_open(&st, dbpath, 0, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "newer hvdiag"));
    remove(dbpath);
    ck_assert_int_lt(hvd_store_open(&st, dbpath, HVD_STORE_READONLY, &err), 0);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, upsert_by_key_grows_and_dedupes_evidence);
    tcase_add_test(tc, evtx_seen_ranges_are_exact_persist_and_roll_back);
    tcase_add_test(tc, clusterlog_high_water_mark_per_node_and_section);
    tcase_add_test(tc, incidents_group_by_vm_then_host_and_do_not_depend_on_order);
    tcase_add_test(tc, readonly_refuses_writes_and_works_beside_a_writer);
    tcase_add_test(tc, bad_files_are_refused_with_their_name);
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
