/*
 * Suite for diagbuf: diagnoses merged per key and written once give a real SQLite store the
 * same content (hvd_store_digest) as writing every emitted one in order, into an empty store
 * and into one that holds some of the keys already; the bound asks for a flush; a failed put
 * stops the flush and empties the buffer; an allocation failure leaves an empty buffer.
 */
#include "diagbuf.h"
#include "store.h"

#include "alloc.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NDIAG 60

static char *tmp;

static void setup(void)
{
    tmp = hvd_test_tmpdir();
}

static void teardown(void)
{
    hvd_test_rmtree(tmp);
    free(tmp);
}

/* Storage for one emitted diagnosis. */
struct emitted {
    hvd_diagnosis d;
    char key[64];
    char title[96];
    char message[96];
    char related[64];
    const char *related_list[1];
    hvd_entity ents[2];
    hvd_evidence ev;
};

static const char *const refs[] = {"https://learn.microsoft.com/a", "https://example.org/b"};

/* Emission i: five keys interleaved; the span and count grow, the title changes once and
 * changes back; each brings one event, some twice over (same line: the first text stays);
 * key 4 is a correlation naming key (i % 3). */
static void emitted_make(struct emitted *e, int i)
{
    int k = i % 5;
    int n = i / 5 + 1;

    memset(e, 0, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "rule-%d\x1fvm%d\x1f@2024-07-24T08", k, k);
    snprintf(e->title, sizeof(e->title), "VM vm%d failed%s", k,
             k == 1 && n >= 4 && n < 7 ? " (again)" : "");
    snprintf(e->message, sizeof(e->message), "event %d of key %d, emission %d", n % 9, k, i);
    snprintf(e->related, sizeof(e->related), "rule-%d\x1fvm%d\x1f@2024-07-24T08", i % 3, i % 3);
    e->ents[0] = (hvd_entity){HVD_ENTITY_VM_NAME, k == 2 ? (n == 1 ? "vm2" : "VM2-later") : "vmx"};
    e->ents[1] = (hvd_entity){HVD_ENTITY_HOST, "HV-NODE01"};
    e->ev.kind = HVD_SOURCE_CLUSTERLOG;
    e->ev.source_path = "/logs/HV-NODE01_cluster.log";
    e->ev.line = (uint64_t)(100 * k + n % 9); /* n and n + 9 share a line */
    e->ev.byte_offset = e->ev.line * 150;
    e->ev.time =
        INT64_C(17217960000000000) + (int64_t)((i * 7) % NDIAG) * 10000000; /* not in order */
    e->ev.host = "HV-NODE01";
    e->ev.provider = "cluster.log";
    e->ev.channel = "";
    e->ev.component = "RHS";
    e->ev.level = 2;
    e->ev.message = e->message;
    e->d.key = e->key;
    e->d.kind = k == 4 ? HVD_DIAGNOSIS_CORRELATION : HVD_DIAGNOSIS_SIGNATURE;
    e->d.rule_id = "rule";
    e->d.title = e->title;
    e->d.severity = k == 3 && n > 5 ? HVD_SEVERITY_CRITICAL : HVD_SEVERITY_ERROR;
    e->d.confidence = "high";
    e->d.cause = "a cause";
    e->d.remedy = k == 0 && n > 8 ? "another remedy" : "a remedy";
    e->d.references = refs;
    e->d.nreferences = 2;
    e->d.entities = e->ents;
    e->d.nentities = 2;
    e->d.first_time = e->ev.time - (int64_t)(n % 4) * 10000000;
    e->d.last_time = e->ev.time;
    e->d.count = (uint64_t)n;
    e->d.evidence = &e->ev;
    e->d.nevidence = 1;
    if (k == 4) {
        e->related_list[0] = e->related;
        e->d.related = e->related_list;
        e->d.nrelated = 1;
    }
}

static int put_store(void *ud, const hvd_diagnosis *d)
{
    hvd_error err;
    int rc = hvd_store_put_diagnosis(ud, d, NULL, &err);

    ck_assert_msg(rc == HVD_OK, "%s", err.msg);
    return rc;
}

static hvd_store *store_open(const char *name)
{
    char *path = hvd_test_path(tmp, name);
    hvd_store *st = NULL;
    hvd_error err;

    ck_assert_msg(hvd_store_open(&st, path, 0, &err) == HVD_OK, "%s", err.msg);
    free(path);
    return st;
}

/* Emissions [from, to) into st: each written when b is NULL, else merged into b and written
 * with one flush. */
static void write_range(hvd_store *st, hvd_diagbuf *b, int from, int to)
{
    hvd_error err;

    ck_assert_int_eq(hvd_store_begin(st, &err), HVD_OK);
    for (int i = from; i < to; i++) {
        struct emitted e;

        emitted_make(&e, i);
        if (b) {
            ck_assert_int_ge(hvd_diagbuf_add(b, &e.d), 0);
        } else {
            ck_assert_int_eq(put_store(st, &e.d), HVD_OK);
        }
    }
    if (b) {
        ck_assert_uint_eq(hvd_diagbuf_count(b), to - from < 5 ? (size_t)(to - from) : 5);
        ck_assert_int_eq(hvd_diagbuf_flush(b, put_store, st), HVD_OK);
        ck_assert_uint_eq(hvd_diagbuf_count(b), 0);
    }
    ck_assert_msg(hvd_store_commit(st, &err) == HVD_OK, "%s", err.msg);
}

static void assert_same_digest(hvd_store *a, hvd_store *b)
{
    char da[HVD_STORE_DIGEST_SIZE];
    char db[HVD_STORE_DIGEST_SIZE];
    hvd_error err;

    ck_assert_int_eq(hvd_store_digest(a, da, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_digest(b, db, &err), HVD_OK);
    ck_assert_str_eq(da, db);
}

START_TEST(merged_writes_equal_each_write_into_empty_store)
{
    hvd_store *each = store_open("each.db");
    hvd_store *merged = store_open("merged.db");
    hvd_diagbuf *b = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_diagbuf_create(&b, 1 << 20, &err), HVD_OK);
    write_range(each, NULL, 0, NDIAG);
    write_range(merged, b, 0, NDIAG);
    assert_same_digest(each, merged);
    hvd_diagbuf_destroy(b);
    hvd_store_close(each);
    hvd_store_close(merged);
}
END_TEST

START_TEST(merged_writes_equal_each_write_onto_stored_rows)
{
    hvd_store *each = store_open("each.db");
    hvd_store *merged = store_open("merged.db");
    hvd_diagbuf *b = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_diagbuf_create(&b, 1 << 20, &err), HVD_OK);
    /* Three keys stored by an earlier file, then the rest in one more. */
    write_range(each, NULL, 0, 13);
    write_range(merged, NULL, 0, 13);
    write_range(each, NULL, 13, NDIAG);
    write_range(merged, b, 13, NDIAG);
    assert_same_digest(each, merged);
    hvd_diagbuf_destroy(b);
    hvd_store_close(each);
    hvd_store_close(merged);
}
END_TEST

START_TEST(bound_asks_for_a_flush)
{
    hvd_diagbuf *b = NULL;
    struct emitted e;
    hvd_error err;
    int rc = 0;
    int i;

    ck_assert_int_eq(hvd_diagbuf_create(&b, 4096, &err), HVD_OK);
    for (i = 0; i < 1000 && rc == 0; i++) {
        emitted_make(&e, 0); /* one key: only its evidence grows */
        rc = hvd_diagbuf_add(b, &e.d);
    }
    ck_assert_int_eq(rc, 1);
    ck_assert_int_gt(i, 1);
    ck_assert_uint_eq(hvd_diagbuf_count(b), 1);
    hvd_diagbuf_destroy(b);
}
END_TEST

static int put_count_fail_second(void *ud, const hvd_diagnosis *d)
{
    int *calls = ud;

    (void)d;
    return ++*calls == 2 ? HVD_ESTORE : HVD_OK;
}

START_TEST(failed_put_stops_the_flush_and_empties)
{
    hvd_diagbuf *b = NULL;
    struct emitted e;
    hvd_error err;
    int calls = 0;

    ck_assert_int_eq(hvd_diagbuf_create(&b, 1 << 20, &err), HVD_OK);
    for (int i = 0; i < 4; i++) {
        emitted_make(&e, i);
        ck_assert_int_eq(hvd_diagbuf_add(b, &e.d), 0);
    }
    ck_assert_uint_eq(hvd_diagbuf_count(b), 4);
    ck_assert_int_eq(hvd_diagbuf_flush(b, put_count_fail_second, &calls), HVD_ESTORE);
    ck_assert_int_eq(calls, 2);
    ck_assert_uint_eq(hvd_diagbuf_count(b), 0);
    hvd_diagbuf_destroy(b);
}
END_TEST

START_TEST(allocation_failure_leaves_an_empty_buffer)
{
    int failed = 0;

    /* Fail allocation n, for each n until a whole run needs no failure. */
    for (unsigned long n = 1;; n++) {
        hvd_diagbuf *b = NULL;
        struct emitted e;
        hvd_error err;
        int rc = HVD_OK;

        hvd_alloc_fail_after(n);
        if (hvd_diagbuf_create(&b, 1 << 20, &err) < 0) {
            hvd_alloc_fail_after(0);
            failed++;
            continue;
        }
        for (int i = 0; i < 12 && rc >= 0; i++) {
            emitted_make(&e, i);
            rc = hvd_diagbuf_add(b, &e.d);
        }
        hvd_alloc_fail_after(0);
        if (rc < 0) {
            ck_assert_int_eq(rc, HVD_ENOMEM);
            ck_assert_uint_eq(hvd_diagbuf_count(b), 0);
            failed++;
        }
        hvd_diagbuf_destroy(b);
        if (rc >= 0) {
            break;
        }
    }
    ck_assert_int_gt(failed, 10);
}
END_TEST

static Suite *diagbuf_suite(void)
{
    Suite *s = suite_create("diagbuf");
    TCase *tc = tcase_create("merge");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, merged_writes_equal_each_write_into_empty_store);
    tcase_add_test(tc, merged_writes_equal_each_write_onto_stored_rows);
    tcase_add_test(tc, bound_asks_for_a_flush);
    tcase_add_test(tc, failed_put_stops_the_flush_and_empties);
    tcase_add_test(tc, allocation_failure_leaves_an_empty_buffer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(diagbuf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
