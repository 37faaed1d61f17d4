/*
 * output: the outbox in a real SQLite file (incident writes, revisions, cursors, pruning, the
 * digest left alone), what outputs build from a record (ECS JSON, journald fields, hook
 * environment), batches, and the JSON lines file output through rename and copytruncate.
 * The daemon side (hook, retries, kill -9) is tests/tools/outputs_check.py.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include "alloc.h"
#include "output.h"
#include "syslog5424.h"
#include "store.h"

#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T(s) ((hvd_time)(s)*10000000)

static char *tmp;
static char *dbpath;

static void fresh_setup(void)
{
    tmp = hvd_test_tmpdir();
    dbpath = hvd_test_path(tmp, "o.db");
}

static void fresh_teardown(void)
{
    hvd_test_rmtree(tmp);
    free(tmp);
    free(dbpath);
}

static hvd_store *open_db(void)
{
    hvd_store *st = NULL;
    hvd_error err;

    ck_assert_msg(hvd_store_open(&st, dbpath, 0, &err) == HVD_OK, "%s", err.msg);
    return st;
}

/* One diagnosis of host (and VM) at [first, last], written and committed. */
static void put(hvd_store *st, const char *key, const char *host, const char *vm, int severity,
                hvd_time first, hvd_time last)
{
    hvd_entity ents[2] = {{HVD_ENTITY_HOST, host}, {HVD_ENTITY_VM_NAME, vm}};
    hvd_diagnosis d;
    hvd_error err;

    memset(&d, 0, sizeof(d));
    d.key = key;
    d.kind = HVD_DIAGNOSIS_SIGNATURE;
    d.rule_id = "rule-x";
    d.title = key;
    d.severity = (hvd_severity)severity;
    d.confidence = "high";
    d.cause = "c";
    d.remedy = "r";
    d.entities = ents;
    d.nentities = vm ? 2 : 1;
    d.first_time = first;
    d.last_time = last;
    d.count = 1;
    ck_assert_msg(hvd_store_begin(st, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_store_put_diagnosis(st, &d, NULL, &err) == HVD_OK, "%s", err.msg);
    ck_assert_msg(hvd_store_commit(st, &err) == HVD_OK, "%s", err.msg);
}

struct seen {
    size_t n;
    char id[32][48];
    char change[32][16];
    int64_t seq[32];
    int previous[32];
};

static int collect(void *ud, const hvd_outbox_record *r)
{
    struct seen *s = ud;

    ck_assert_uint_lt(s->n, 32);
    hvd_output_record_id(r, s->id[s->n], sizeof(s->id[0]));
    snprintf(s->change[s->n], sizeof(s->change[0]), "%s", r->change);
    s->seq[s->n] = r->seq;
    s->previous[s->n] = r->previous_severity;
    s->n++;
    return 0;
}

static struct seen read_after(hvd_store *st, int64_t after)
{
    struct seen s;
    hvd_error err;

    memset(&s, 0, sizeof(s));
    ck_assert_msg(hvd_store_outbox_read(st, after, 100, collect, &s, &err) == HVD_OK, "%s",
                  err.msg);
    return s;
}

/* --- outbox ------------------------------------------------------------------------------ */

/* An output that listens from the start. */
static void attach_one(hvd_store *st)
{
    const char *names[] = {"file"};
    hvd_error err;

    ck_assert_msg(hvd_store_outbox_attach(st, names, 1, &err) == HVD_OK, "%s", err.msg);
}

START_TEST(each_incident_change_is_one_outbox_row_with_a_new_revision)
{
    hvd_store *st = open_db();
    struct seen s;

    attach_one(st);
    put(st, "a", "HV1", "VM1", HVD_SEVERITY_WARNING, T(1000), T(1000));
    s = read_after(st, 0);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_str_eq(s.id[0], "1-1");
    ck_assert_str_eq(s.change[0], "new");
    ck_assert_int_eq(s.previous[0], -1);
    /* a worse diagnosis of the same VM joins the incident: its severity changes */
    put(st, "b", "HV1", "VM1", HVD_SEVERITY_CRITICAL, T(1100), T(1100));
    s = read_after(st, 0);
    ck_assert_uint_eq(s.n, 2);
    ck_assert_str_eq(s.id[1], "1-2");
    ck_assert_str_eq(s.change[1], "severity");
    ck_assert_int_eq(s.previous[1], HVD_SEVERITY_WARNING);
    /* a later one of the same severity widens it: an update */
    put(st, "c", "HV1", "VM1", HVD_SEVERITY_ERROR, T(1200), T(1200));
    s = read_after(st, s.seq[1]);
    ck_assert_uint_eq(s.n, 1);
    ck_assert_str_eq(s.id[0], "1-3");
    ck_assert_str_eq(s.change[0], "update");
    /* writing the same diagnosis again changes nothing: no row */
    put(st, "c", "HV1", "VM1", HVD_SEVERITY_ERROR, T(1200), T(1200));
    ck_assert_uint_eq(read_after(st, 0).n, 3);
    hvd_store_close(st);
}
END_TEST

static int keep_title(void *ud, const hvd_outbox_record *r)
{
    snprintf(ud, 64, "%s|%s|%s|%s", r->title, r->rule, r->vm_name, r->subject);
    return 1; /* one is enough */
}

START_TEST(outbox_rows_are_snapshots_of_the_incident_and_its_root_cause)
{
    hvd_store *st = open_db();
    char text[64] = "";
    hvd_error err;

    attach_one(st);
    put(st, "a", "HV1.contoso.local", "VM1", HVD_SEVERITY_ERROR, T(1000), T(1000));
    ck_assert_int_eq(hvd_store_outbox_read(st, 0, 10, keep_title, text, &err), HVD_OK);
    ck_assert_str_eq(text, "a|rule-x|VM1|VM1");
    hvd_store_close(st);
}
END_TEST

START_TEST(a_new_output_starts_at_the_end_and_cursors_only_move_forward)
{
    hvd_store *st = open_db();
    const char *names[] = {"file", "hook"};
    int64_t seq = -1;
    int64_t end = 0;
    hvd_error err;

    /* no output listens: the change is not kept */
    put(st, "a", "HV1", NULL, HVD_SEVERITY_ERROR, T(1000), T(1000));
    ck_assert_uint_eq(read_after(st, 0).n, 0);
    ck_assert_int_eq(hvd_store_outbox_end(st, &end, &err), HVD_OK);
    ck_assert_int_eq(end, 0);
    ck_assert_int_eq(hvd_store_outbox_attach(st, names, 1, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_cursor(st, "file", &seq, &err), HVD_OK);
    ck_assert_int_eq(seq, 0);
    ck_assert_int_eq(hvd_store_outbox_cursor(st, "hook", &seq, &err), HVD_ENOTFOUND);
    put(st, "b", "HV2", NULL, HVD_SEVERITY_ERROR, T(1000), T(1000));
    ck_assert_int_eq(hvd_store_outbox_end(st, &end, &err), HVD_OK);
    ck_assert_int_eq(end, 1);
    put(st, "c", "HV3", NULL, HVD_SEVERITY_ERROR, T(1000), T(1000));
    ck_assert_int_eq(hvd_store_outbox_ack(st, "file", 2, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_ack(st, "file", 1, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_cursor(st, "file", &seq, &err), HVD_OK);
    ck_assert_int_eq(seq, 2);
    ck_assert_int_eq(hvd_store_outbox_ack(st, "nobody", 2, &err), HVD_ENOTFOUND);
    /* a second output attached now starts at the end */
    ck_assert_int_eq(hvd_store_outbox_attach(st, names, 2, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_cursor(st, "hook", &seq, &err), HVD_OK);
    ck_assert_int_eq(seq, 2);
    /* attaching again keeps a cursor; an output no longer named loses its own */
    ck_assert_int_eq(hvd_store_outbox_attach(st, names + 1, 1, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_cursor(st, "file", &seq, &err), HVD_ENOTFOUND);
    ck_assert_int_eq(hvd_store_outbox_cursor(st, "hook", &seq, &err), HVD_OK);
    ck_assert_int_eq(seq, 2);
    /* not inside a transaction of diagnoses */
    ck_assert_int_eq(hvd_store_begin(st, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_ack(st, "hook", 2, &err), HVD_EINVAL);
    hvd_store_rollback(st);
    hvd_store_close(st);
}
END_TEST

START_TEST(rows_every_cursor_passed_are_pruned_and_seqs_never_reused)
{
    hvd_store *st = open_db();
    const char *names[] = {"file", "hook"};
    int64_t deleted = 0;
    int64_t end = 0;
    hvd_error err;

    ck_assert_int_eq(hvd_store_outbox_attach(st, names, 2, &err), HVD_OK);
    put(st, "a", "HV1", NULL, HVD_SEVERITY_ERROR, T(1000), T(1000));
    put(st, "b", "HV2", NULL, HVD_SEVERITY_ERROR, T(1000), T(1000));
    ck_assert_int_eq(hvd_store_outbox_ack(st, "file", 2, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_ack(st, "hook", 1, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_prune(st, &deleted, &err), HVD_OK);
    ck_assert_int_eq(deleted, 1); /* the hook still needs row 2 */
    ck_assert_uint_eq(read_after(st, 0).n, 1);
    ck_assert_int_eq(hvd_store_outbox_ack(st, "hook", 2, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_prune(st, &deleted, &err), HVD_OK);
    ck_assert_int_eq(deleted, 1);
    ck_assert_uint_eq(read_after(st, 0).n, 0);
    /* an empty outbox goes on numbering where it was */
    put(st, "c", "HV3", NULL, HVD_SEVERITY_ERROR, T(1000), T(1000));
    ck_assert_int_eq(hvd_store_outbox_end(st, &end, &err), HVD_OK);
    ck_assert_int_eq(end, 3);
    /* with no output at all, everything goes, and nothing more is kept */
    ck_assert_int_eq(hvd_store_outbox_attach(st, NULL, 0, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_prune(st, &deleted, &err), HVD_OK);
    ck_assert_int_eq(deleted, 1);
    put(st, "d", "HV4", NULL, HVD_SEVERITY_ERROR, T(1000), T(1000));
    ck_assert_uint_eq(read_after(st, 0).n, 0);
    hvd_store_close(st);
}
END_TEST

START_TEST(the_outbox_leaves_the_digest_alone)
{
    hvd_store *st = open_db();
    const char *names[] = {"file"};
    char before[HVD_STORE_DIGEST_SIZE];
    char after[HVD_STORE_DIGEST_SIZE];
    hvd_error err;

    ck_assert_int_eq(hvd_store_outbox_attach(st, names, 1, &err), HVD_OK);
    put(st, "a", "HV1", "VM1", HVD_SEVERITY_ERROR, T(1000), T(1000));
    put(st, "b", "HV1", "VM1", HVD_SEVERITY_CRITICAL, T(1100), T(1100));
    ck_assert_int_eq(hvd_store_digest(st, before, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_ack(st, "file", 2, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_outbox_prune(st, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_store_digest(st, after, &err), HVD_OK);
    ck_assert_str_eq(before, after);
    hvd_store_close(st);
}
END_TEST

START_TEST(an_incident_id_used_again_goes_on_counting_revisions)
{
    hvd_store *st = open_db();
    struct seen s;
    int last2 = 0;

    attach_one(st);
    /* VM1 a week apart: incidents 1 and 2; then one diagnosis spanning both merges them,
     * which frees id 2; the next new incident gets it again. */
    put(st, "a", "HV1", "VM1", HVD_SEVERITY_WARNING, T(1000), T(1000));
    put(st, "b", "HV1", "VM1", HVD_SEVERITY_WARNING, T(1000 + 7 * 86400), T(1000 + 7 * 86400));
    put(st, "c", "HV1", "VM1", HVD_SEVERITY_WARNING, T(1000), T(1000 + 7 * 86400));
    s = read_after(st, 0);
    for (size_t i = 0; i < s.n; i++) {
        if (strncmp(s.id[i], "2-", 2) == 0) {
            last2 = atoi(s.id[i] + 2);
        }
    }
    ck_assert_int_ge(last2, 1);
    put(st, "d", "HV9", "VM9", HVD_SEVERITY_ERROR, T(500000), T(500000));
    s = read_after(st, 0);
    ck_assert_uint_ge(s.n, 4);
    ck_assert_int_eq(strncmp(s.id[s.n - 1], "2-", 2), 0);
    ck_assert_int_eq(atoi(s.id[s.n - 1] + 2), last2 + 1);
    ck_assert_str_eq(s.change[s.n - 1], "new");
    hvd_store_close(st);
}
END_TEST

/* --- what a record says -------------------------------------------------------------------- */

static hvd_outbox_record sample_record(void)
{
    hvd_outbox_record r;

    memset(&r, 0, sizeof(r));
    r.seq = 7;
    r.incident = 12;
    r.revision = 3;
    r.change = "severity";
    r.changed_at = T(1700000000);
    r.severity = HVD_SEVERITY_CRITICAL;
    r.previous_severity = HVD_SEVERITY_ERROR;
    r.subject_kind = "vm";
    r.subject = "SQL01";
    r.hosts = "HV-NODE01,HV-NODE02";
    r.first_time = T(1699990000);
    r.last_time = T(1699999000);
    r.title = "Live migration of SQL01 failed:\nSPN missing";
    r.remedy = "setspn -S ...";
    r.diagnoses = 3;
    r.rule = "hv-spn";
    r.root_key = "k";
    r.host = "HV-NODE01.contoso.local";
    r.vm_name = "SQL01";
    r.vm_id = "";
    return r;
}

START_TEST(json_line_has_ecs_names_and_the_stable_id)
{
    hvd_outbox_record r = sample_record();
    hvd_buf b;
    json_t *o;
    json_error_t je;

    hvd_buf_init(&b, 1 << 20);
    ck_assert_int_eq(hvd_output_json(&r, &b), HVD_OK);
    ck_assert_ptr_null(memchr(b.data, '\n', b.len)); /* one line */
    o = json_loads(hvd_buf_str(&b), 0, &je);
    ck_assert_msg(o != NULL, "%s", je.text);
    ck_assert_str_eq(json_string_value(json_object_get(o, "@timestamp")),
                     "2023-11-14T22:13:20.0000000Z");
    ck_assert_str_eq(json_string_value(json_object_get(o, "message")), r.title);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "event"), "kind")),
                     "alert");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "event"), "id")), "12-3");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "event"), "action")),
                     "incident-severity");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o, "event"), "severity")),
                     4);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "host"), "name")),
                     "HV-NODE01.contoso.local");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "rule"), "id")),
                     "hv-spn");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "log"), "level")),
                     "critical");
    json_t *inc = json_object_get(json_object_get(o, "hvdiag"), "incident");
    ck_assert_int_eq(json_integer_value(json_object_get(inc, "id")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(inc, "revision")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(inc, "previous_severity")), "error");
    ck_assert_uint_eq(json_array_size(json_object_get(inc, "hosts")), 2);
    json_decref(o);
    hvd_buf_free(&b);
}
END_TEST

/* The value of NAME in fields, or NULL. */
static const char *field(const char **fields, int n, const char *name)
{
    size_t len = strlen(name);

    for (int i = 0; i < n; i++) {
        if (strncmp(fields[i], name, len) == 0 && fields[i][len] == '=') {
            return fields[i] + len + 1;
        }
    }
    return NULL;
}

START_TEST(journal_fields_carry_priority_incident_rule_host_vm_and_title)
{
    hvd_outbox_record r = sample_record();
    const char *f[HVD_OUTPUT_JOURNAL_FIELDS];
    hvd_buf text;
    int n;

    hvd_buf_init(&text, 64 * 1024);
    n = hvd_output_journal_fields(&r, &text, f, HVD_OUTPUT_JOURNAL_FIELDS);
    ck_assert_int_gt(n, 8);
    ck_assert_str_eq(field(f, n, "PRIORITY"), "2");
    ck_assert_str_eq(field(f, n, "MESSAGE"), "Live migration of SQL01 failed: SPN missing");
    ck_assert_str_eq(field(f, n, "HVDIAG_INCIDENT"), "12");
    ck_assert_str_eq(field(f, n, "HVDIAG_ID"), "12-3");
    ck_assert_str_eq(field(f, n, "HVDIAG_RULE"), "hv-spn");
    ck_assert_str_eq(field(f, n, "HVDIAG_HOST"), "HV-NODE01.contoso.local");
    ck_assert_str_eq(field(f, n, "HVDIAG_VM"), "SQL01");
    ck_assert_str_eq(field(f, n, "SYSLOG_IDENTIFIER"), "hvdiagd");
    ck_assert_ptr_null(field(f, n, "HVDIAG_TITLE"));
    /* the hook: the same names, the title as HVDIAG_TITLE, no journal-only fields */
    n = hvd_output_hook_env(&r, &text, f, HVD_OUTPUT_JOURNAL_FIELDS);
    ck_assert_str_eq(field(f, n, "HVDIAG_TITLE"), "Live migration of SQL01 failed: SPN missing");
    ck_assert_str_eq(field(f, n, "HVDIAG_CHANGE"), "severity");
    ck_assert_ptr_null(field(f, n, "PRIORITY"));
    /* too few slots is an error, not a cut list */
    ck_assert_int_eq(hvd_output_journal_fields(&r, &text, f, 3), HVD_ELIMIT);
    hvd_buf_free(&text);
}
END_TEST

START_TEST(only_new_incidents_and_severity_changes_are_notable)
{
    hvd_outbox_record r = sample_record();

    ck_assert(hvd_output_is_notable(&r));
    r.change = "new";
    ck_assert(hvd_output_is_notable(&r));
    r.change = "update";
    ck_assert(!hvd_output_is_notable(&r));
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_ERROR), 3);
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_WARNING), 4);
    ck_assert_int_eq(hvd_syslog_severity(HVD_SEVERITY_NONE), 6);
}
END_TEST

START_TEST(a_batch_owns_copies_and_shifts_what_was_delivered)
{
    hvd_output_batch b;
    hvd_outbox_record r = sample_record();
    char title[32] = "first";

    hvd_output_batch_init(&b);
    r.title = title;
    ck_assert_int_eq(hvd_output_batch_add(&b, &r), HVD_OK);
    snprintf(title, sizeof(title), "second");
    r.seq = 8;
    ck_assert_int_eq(hvd_output_batch_add(&b, &r), HVD_OK);
    ck_assert_str_eq(b.rec[0].title, "first");
    hvd_output_batch_shift(&b, 1);
    ck_assert_uint_eq(b.n, 1);
    ck_assert_str_eq(b.rec[0].title, "second");
    ck_assert_int_eq(b.rec[0].seq, 8);
    for (int i = 1; i < HVD_OUTPUT_BATCH_MAX; i++) {
        ck_assert_int_eq(hvd_output_batch_add(&b, &r), HVD_OK);
    }
    ck_assert_int_eq(hvd_output_batch_add(&b, &r), HVD_ELIMIT);
    hvd_output_batch_free(&b);
    ck_assert_uint_eq(b.n, 0);
}
END_TEST

/* --- the JSON lines file ------------------------------------------------------------------- */

struct result {
    size_t delivered;
    int rc;
    int calls;
};

static void done(void *ud, size_t delivered, int rc, const char *error)
{
    struct result *res = ud;

    (void)error;
    res->delivered = delivered;
    res->rc = rc;
    res->calls++;
}

static size_t count_lines(const char *path)
{
    size_t len = 0;
    char *text = hvd_test_read_file(path, &len);
    size_t n = 0;

    for (size_t i = 0; text && i < len; i++) {
        n += text[i] == '\n';
    }
    free(text);
    return n;
}

START_TEST(file_output_follows_rename_and_copytruncate)
{
    hvd_outbox_record recs[2] = {sample_record(), sample_record()};
    char *path = hvd_test_path(tmp, "incidents.json");
    char *moved = hvd_test_path(tmp, "incidents.json.1");
    struct result res = {0, 0, 0};
    hvd_output out;
    hvd_error err;
    char *text;
    size_t len;
    struct stat sb;

    recs[1].revision = 4;
    ck_assert_int_eq(hvd_output_file_open(&out, path, NULL, &err), HVD_OK);
    ck_assert_str_eq(out.ops->name, "file");
    out.ops->deliver(out.impl, recs, 2, done, &res);
    ck_assert_int_eq(res.calls, 1);
    ck_assert_int_eq(res.rc, HVD_OK);
    ck_assert_uint_eq(res.delivered, 2);
    ck_assert_uint_eq(count_lines(path), 2);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0640);
    /* logrotate create: renamed away; the next batch makes a new file */
    ck_assert_int_eq(rename(path, moved), 0);
    out.ops->deliver(out.impl, recs, 1, done, &res);
    ck_assert_uint_eq(count_lines(moved), 2);
    ck_assert_uint_eq(count_lines(path), 1);
    /* copytruncate: the same file, emptied; the next line starts at its new end */
    ck_assert_int_eq(truncate(path, 0), 0);
    out.ops->deliver(out.impl, recs + 1, 1, done, &res);
    text = hvd_test_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(count_lines(path), 1);
    ck_assert_int_eq(text[0], '{');
    ck_assert_ptr_nonnull(strstr(text, "\"12-4\""));
    free(text);
    /* SIGHUP: reopen at once */
    ck_assert_int_eq(unlink(path), 0);
    out.ops->reopen(out.impl);
    out.ops->deliver(out.impl, recs, 1, done, &res);
    ck_assert_uint_eq(count_lines(path), 1);
    out.ops->close(out.impl);
    free(path);
    free(moved);
}
END_TEST

START_TEST(file_output_that_cannot_open_delivers_nothing_and_says_why)
{
    hvd_outbox_record r = sample_record();
    char *path = hvd_test_path(tmp, "no/such/folder/x.json");
    struct result res = {9, 0, 0};
    hvd_output out;
    hvd_error err;

    ck_assert_int_eq(hvd_output_file_open(&out, path, NULL, &err), HVD_OK);
    out.ops->deliver(out.impl, &r, 1, done, &res);
    ck_assert_int_eq(res.calls, 1);
    ck_assert_int_eq(res.rc, HVD_EIO);
    ck_assert_uint_eq(res.delivered, 0);
    out.ops->close(out.impl);
    free(path);
}
END_TEST

START_TEST(check_config_names_the_line_of_an_output_that_cannot_work)
{
    hvd_config *c = NULL;
    hvd_error err;
    char text[1024];
    char *prog = hvd_test_path(tmp, "prog");

    ck_assert_int_eq(hvd_test_write_file(prog, "#!/bin/sh\n", 10), 0);
    snprintf(text, sizeof(text),
             "[daemon]\n[outputs]\njournald = no\njson_file = %s/none/x.json\non_incident = %s\n",
             tmp, prog);
    ck_assert_int_eq(hvd_config_parse_string(&c, text, "t.conf", NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_output_check_config(c, NULL, &err), HVD_ECONFIG);
    ck_assert_uint_eq(err.line, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not exist"));
    hvd_config_destroy(c);
    /* the program, once the file is fine: not executable */
    snprintf(text, sizeof(text), "[outputs]\njson_file = %s/x.json\non_incident = %s\n", tmp, prog);
    ck_assert_int_eq(hvd_config_parse_string(&c, text, "t.conf", NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_output_check_config(c, NULL, &err), HVD_ECONFIG);
    ck_assert_uint_eq(err.line, 3);
    ck_assert_ptr_nonnull(strstr(err.msg, "not executable"));
    ck_assert_int_eq(chmod(prog, 0755), 0);
    ck_assert_int_eq(hvd_output_check_config(c, NULL, &err), HVD_OK);
    hvd_config_destroy(c);
    /* keys that are not understood are refused at parse time */
    ck_assert_int_ne(hvd_config_parse_string(&c, "[outputs]\njournald = maybe\n", "t", NULL, &err),
                     HVD_OK);
    ck_assert_int_ne(
        hvd_config_parse_string(&c, "[outputs]\njson_file = rel.json\n", "t", NULL, &err), HVD_OK);
    free(prog);
}
END_TEST

static Suite *output_suite(void)
{
    Suite *s = suite_create("output");
    TCase *box = tcase_create("outbox");
    TCase *rec = tcase_create("record");
    TCase *file = tcase_create("file");

    tcase_add_checked_fixture(box, fresh_setup, fresh_teardown);
    tcase_add_test(box, each_incident_change_is_one_outbox_row_with_a_new_revision);
    tcase_add_test(box, outbox_rows_are_snapshots_of_the_incident_and_its_root_cause);
    tcase_add_test(box, a_new_output_starts_at_the_end_and_cursors_only_move_forward);
    tcase_add_test(box, rows_every_cursor_passed_are_pruned_and_seqs_never_reused);
    tcase_add_test(box, the_outbox_leaves_the_digest_alone);
    tcase_add_test(box, an_incident_id_used_again_goes_on_counting_revisions);
    suite_add_tcase(s, box);
    tcase_add_test(rec, json_line_has_ecs_names_and_the_stable_id);
    tcase_add_test(rec, journal_fields_carry_priority_incident_rule_host_vm_and_title);
    tcase_add_test(rec, only_new_incidents_and_severity_changes_are_notable);
    tcase_add_test(rec, a_batch_owns_copies_and_shifts_what_was_delivered);
    suite_add_tcase(s, rec);
    tcase_add_checked_fixture(file, fresh_setup, fresh_teardown);
    tcase_add_test(file, file_output_follows_rename_and_copytruncate);
    tcase_add_test(file, file_output_that_cannot_open_delivers_nothing_and_says_why);
    tcase_add_test(file, check_config_names_the_line_of_an_output_that_cannot_work);
    suite_add_tcase(s, file);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(output_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
