/*
 * Suite for ingest's follow mode: a cluster.log that grows is read on from its checkpoint,
 * and only when it is provably the file checkpointed; anything else (copytruncate, a
 * replaced or rewritten file, rotation) is read from the start, and the seen-filter keeps
 * every event stored once. Real SQLite files, the shipped rules, synthetic cluster.log
 * lines written by the tests.
 */
#include "ingest.h"
#include "ingest_internal.h"

#include "testutil.h"

#include <check.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;
static hvd_ruleset *rules;

static void setup(void)
{
    hvd_error err;

    tmp = hvd_test_tmpdir();
    ck_assert_msg(hvd_ruleset_load(&rules, HVD_TEST_SRCDIR "/rules", NULL, NULL, &err) == HVD_OK,
                  "%s", err.msg);
}

static void teardown(void)
{
    hvd_ruleset_destroy(rules);
    hvd_test_rmtree(tmp);
    free(tmp);
}

/* Line i of a synthetic cluster.log: a missed-heartbeat line (a diagnosis) every third,
 * a lost connection otherwise; a minute apart from 08:00 on 2024-07-24, lines from 10000 on
 * three days later (i - 10000 minutes from 08:00). */
static void line(char *out, size_t size, int i)
{
    int day = i >= 10000 ? 27 : 24;

    i = i >= 10000 ? i - 10000 : i;
    if (i % 3 == 0) {
        snprintf(out, size,
                 "00001320.00001724::2024/07/%02d-%02d:%02d:30.789 WARN  [NETWORK] Missed 40%% of "
                 "the heart beats with node 'sqlnode%02d' (2) on route "
                 "10.10.20.18:~3343~->10.10.148.18:~3343~\n",
                 day, 8 + i / 60, i % 60, i % 4);
    } else {
        snprintf(out, size,
                 "00001320.00002cf8::2024/07/%02d-%02d:%02d:35.251 WARN  [NETWORK] Lost connection "
                 "to node sqlnode%02d\n",
                 day, 8 + i / 60, i % 60, i % 4);
    }
}

/* Appends lines [from, to) to path; the last one without its newline when cut. */
static void append_lines(const char *path, int from, int to, int cut)
{
    FILE *f = fopen(path, "ab");
    char buf[256];

    ck_assert_ptr_nonnull(f);
    for (int i = from; i < to; i++) {
        line(buf, sizeof(buf), i);
        if (cut && i == to - 1) {
            buf[strlen(buf) / 2] = '\0';
        }
        ck_assert_int_eq(fputs(buf, f) >= 0, 1);
    }
    ck_assert_int_eq(fclose(f), 0);
}

/* Appends the rest of line i (after append_lines cut it). */
static void finish_line(const char *path, int i)
{
    FILE *f = fopen(path, "ab");
    char buf[256];

    ck_assert_ptr_nonnull(f);
    line(buf, sizeof(buf), i);
    ck_assert_int_eq(fputs(buf + strlen(buf) / 2, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

struct db {
    hvd_store *st;
    hvd_ingest *ing;
};

static void db_open(struct db *db, const char *name)
{
    char *path = hvd_test_path(tmp, name);
    hvd_error err;

    ck_assert_int_eq(hvd_store_open(&db->st, path, 0, &err), HVD_OK);
    ck_assert_int_eq(hvd_ingest_create(&db->ing, db->st, rules, NULL, &err), HVD_OK);
    free(path);
}

static void db_close(struct db *db)
{
    hvd_ingest_destroy(db->ing);
    hvd_store_close(db->st);
}

/* One read of path (displayed as itself); returns the result. */
static hvd_ingest_result db_read(struct db *db, const char *path, int follow, int complete)
{
    hvd_ingest_options opt = {0};
    hvd_ingest_result res;
    hvd_error err;

    opt.follow = follow;
    opt.complete = complete;
    ck_assert_msg(hvd_ingest_file(db->ing, path, NULL, &opt, &res, &err) == HVD_OK, "%s", err.msg);
    ck_assert_int_eq(hvd_ingest_finish(db->ing, NULL, &err), HVD_OK);
    return res;
}

static void digest(struct db *db, char out[HVD_STORE_DIGEST_SIZE])
{
    hvd_error err;

    ck_assert_int_eq(hvd_store_digest(db->st, out, &err), HVD_OK);
}

/* Closes db after checking it holds what one plain read of path into a fresh database
 * holds. */
static void db_close_same_as_one_read(struct db *db, const char *path)
{
    char followed[HVD_STORE_DIGEST_SIZE];
    char whole[HVD_STORE_DIGEST_SIZE];
    struct db once;

    digest(db, followed);
    db_close(db);
    db_open(&once, "once.db");
    db_read(&once, path, 0, 0);
    digest(&once, whole);
    db_close(&once);
    ck_assert_str_eq(followed, whole);
}

START_TEST(appended_lines_are_read_from_the_checkpoint)
{
    char *log = hvd_test_path(tmp, "NODE1_cluster.log");
    struct db db;
    hvd_ingest_result res;
    hvd_store_source row;
    hvd_error err;

    db_open(&db, "f.db");
    append_lines(log, 0, 30, 0);
    res = db_read(&db, log, 1, 0);
    ck_assert_int_eq(res.resumed, 0);
    ck_assert_uint_eq(res.events, 30);
    for (int step = 0; step < 5; step++) {
        append_lines(log, 30 + step * 7, 37 + step * 7, 0);
        res = db_read(&db, log, 1, 0);
        ck_assert_int_eq(res.resumed, 1);
        ck_assert_uint_eq(res.events, 7); /* only the new lines, not the file */
        ck_assert_uint_eq(res.fresh, 7);
        ck_assert_uint_eq(res.pending, 0);
    }
    /* The checkpoint counts every event the file gave, and covers it to its end. */
    ck_assert_int_eq(hvd_store_get_source(db.st, log, &row, &err), 1);
    ck_assert_uint_eq(row.events, 65);
    ck_assert_uint_eq(row.prefix_len, row.size);
    ck_assert_str_ne(row.prefix_hash, "");
    /* Nothing new: nothing read. */
    res = db_read(&db, log, 1, 0);
    ck_assert_int_eq(res.resumed, 1);
    ck_assert_uint_eq(res.events, 0);
    db_close_same_as_one_read(&db, log);
    free(log);
}
END_TEST

START_TEST(a_line_being_written_is_read_once_whole)
{
    char *log = hvd_test_path(tmp, "NODE1_cluster.log");
    struct db db;
    hvd_ingest_result res;

    db_open(&db, "f.db");
    append_lines(log, 0, 10, 1); /* line 9 half written */
    res = db_read(&db, log, 1, 0);
    ck_assert_uint_eq(res.events, 9);
    ck_assert_uint_gt(res.pending, 0);
    finish_line(log, 9);
    append_lines(log, 10, 12, 0);
    res = db_read(&db, log, 1, 0);
    ck_assert_int_eq(res.resumed, 1);
    ck_assert_uint_eq(res.events, 3); /* line 9 whole, then 10 and 11 */
    ck_assert_uint_eq(res.pending, 0);
    db_close_same_as_one_read(&db, log);
    free(log);
}
END_TEST

/* A writer that stopped mid-line: "complete" reads the line; a later end adds nothing. */
START_TEST(a_last_line_without_newline_is_read_when_complete)
{
    char *log = hvd_test_path(tmp, "NODE1_cluster.log");
    struct db db;
    hvd_ingest_result res;

    db_open(&db, "f.db");
    append_lines(log, 0, 6, 1);
    res = db_read(&db, log, 1, 0);
    ck_assert_uint_eq(res.events, 5);
    ck_assert_uint_gt(res.pending, 0);
    res = db_read(&db, log, 1, 1);
    ck_assert_int_eq(res.resumed, 1);
    ck_assert_uint_eq(res.events, 1);
    ck_assert_uint_eq(res.pending, 0);
    res = db_read(&db, log, 1, 0);
    ck_assert_uint_eq(res.events, 0);
    db_close(&db);
    free(log);
}
END_TEST

/* Anything but growth is read from the start, and stores nothing twice. */
START_TEST(changed_files_are_read_from_the_start)
{
    char *log = hvd_test_path(tmp, "NODE1_cluster.log");
    char *rotated = hvd_test_path(tmp, "NODE1_cluster.log.1");
    struct db db;
    hvd_ingest_result res;
    size_t len;
    char *data;

    db_open(&db, "f.db");
    append_lines(log, 0, 20, 0);
    db_read(&db, log, 1, 0);

    /* copytruncate: emptied in place, then written again */
    ck_assert_int_eq(truncate(log, 0), 0);
    append_lines(log, 20, 25, 0);
    res = db_read(&db, log, 1, 0);
    ck_assert_int_eq(res.resumed, 0);
    ck_assert_uint_eq(res.events, 5);
    ck_assert_uint_eq(res.fresh, 5);

    /* rewritten before the checkpoint, same size: the bytes there differ */
    data = hvd_test_read_file(log, &len);
    ck_assert_ptr_nonnull(data);
    data[len - 5] = data[len - 5] == '1' ? '2' : '1';
    ck_assert_int_eq(hvd_test_write_file(log, data, len), 0);
    append_lines(log, 25, 26, 0);
    res = db_read(&db, log, 1, 0);
    ck_assert_int_eq(res.resumed, 0);
    ck_assert_uint_eq(res.events, 6);
    free(data);

    /* the start rewritten (a regenerated Get-ClusterLog): read again, old events skipped */
    data = hvd_test_read_file(log, &len);
    data[0] = '1';
    ck_assert_int_eq(hvd_test_write_file(log, data, len), 0);
    append_lines(log, 26, 28, 0);
    res = db_read(&db, log, 1, 0);
    ck_assert_int_eq(res.resumed, 0);
    ck_assert_uint_eq(res.events, 8);
    ck_assert_uint_le(res.fresh, 3); /* the first line changed, then two new ones */
    free(data);

    /* rotation by rename: the old file under a new name, a new one at the path */
    ck_assert_int_eq(rename(log, rotated), 0);
    res = db_read(&db, rotated, 1, 0);
    ck_assert_int_eq(res.resumed, 0);
    ck_assert_uint_eq(res.fresh, 0);
    append_lines(log, 28, 31, 0);
    res = db_read(&db, log, 1, 0);
    ck_assert_int_eq(res.resumed, 0);
    ck_assert_uint_eq(res.events, 3);
    ck_assert_uint_eq(res.fresh, 3);
    db_close(&db);
    free(log);
    free(rotated);
}
END_TEST

/* Without follow (hvdiag analyze) a file is always read whole. */
START_TEST(without_follow_a_file_is_read_whole)
{
    char *log = hvd_test_path(tmp, "NODE1_cluster.log");
    struct db db;
    hvd_ingest_result res;

    db_open(&db, "f.db");
    append_lines(log, 0, 10, 0);
    db_read(&db, log, 0, 0);
    append_lines(log, 10, 12, 1);
    res = db_read(&db, log, 0, 0);
    ck_assert_int_eq(res.resumed, 0);
    ck_assert_uint_eq(res.events, 12); /* the cut last line is read as it is */
    /* Lines 10 and 11 are new; 11, cut before its text, holds no literal a rule needs, so
     * the prefilter passes it over instead of giving it to the engine. */
    ck_assert_uint_eq(res.fresh, 1);
    ck_assert_uint_eq(res.stats.filtered, 1);
    ck_assert_uint_eq(res.pending, 0);
    db_close(&db);
    free(log);
}
END_TEST

#define LM_SAMPLE  HVD_TEST_SRCDIR "/samples/live-migration-spn/"
#define NODE1_VMMS LM_SAMPLE "HV-NODE01/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"
#define NODE2_VMMS LM_SAMPLE "HV-NODE02/Microsoft-Windows-Hyper-V-VMMS-Admin.evtx"

/* The digest after reading files[] into dbname, with a new pipeline per file (a restart
 * between files) or one for all. */
static void read_files(const char *dbname, const char *const *files, size_t n, int restart,
                       char out[HVD_STORE_DIGEST_SIZE])
{
    struct db db;

    db_open(&db, dbname);
    for (size_t i = 0; i < n; i++) {
        if (restart && i > 0) {
            db_close(&db);
            db_open(&db, dbname);
        }
        db_read(&db, files[i], 0, 0);
    }
    digest(&db, out);
    db_close(&db);
}

static int count_one(void *ud, const hvd_stored_diagnosis *d)
{
    (void)d;
    (*(int64_t *)ud)++;
    return 0;
}

static int64_t correlations(const char *dbname)
{
    struct db db;
    hvd_diagnosis_filter f = {0};
    int64_t n = 0;
    hvd_error err;

    db_open(&db, dbname);
    f.rule = "lm-spn-missing-on-destination";
    ck_assert_int_eq(hvd_store_diagnoses(db.st, &f, count_one, &n, &err), HVD_OK);
    db_close(&db);
    return n;
}

/* 14050 on the destination in one file, 0x80090303 towards it in another: the root cause
 * is made once, whichever came first and whether or not the pipeline restarted between. */
START_TEST(a_restart_between_files_keeps_their_correlation)
{
    static const char *const forward[] = {NODE2_VMMS, NODE1_VMMS};
    static const char *const backward[] = {NODE1_VMMS, NODE2_VMMS};
    char once[HVD_STORE_DIGEST_SIZE];
    char split[HVD_STORE_DIGEST_SIZE];

    read_files("once.db", forward, 2, 0, once);
    ck_assert_int_eq(correlations("once.db"), 1);
    read_files("forward.db", forward, 2, 1, split);
    ck_assert_str_eq(split, once);
    ck_assert_int_eq(correlations("forward.db"), 1);
    read_files("backward.db", backward, 2, 1, split);
    ck_assert_str_eq(split, once);
    /* And a third pipeline on the same files adds nothing. */
    read_files("backward.db", backward, 2, 1, split);
    ck_assert_str_eq(split, once);
}
END_TEST

/* Only what correlations use is given back, and a primed diagnosis is not stored again. */
START_TEST(priming_a_new_pipeline_changes_nothing_by_itself)
{
    static const char *const both[] = {NODE2_VMMS, NODE1_VMMS};
    char before[HVD_STORE_DIGEST_SIZE];
    char after[HVD_STORE_DIGEST_SIZE];
    struct db db;
    hvd_error err;

    read_files("p.db", both, 2, 0, before);
    db_open(&db, "p.db");
    ck_assert_int_eq(hvd_ingest_finish(db.ing, NULL, &err), HVD_OK);
    digest(&db, after);
    db_close(&db);
    ck_assert_str_eq(before, after);
}
END_TEST

#define CONFIG_XML                                               \
    HVD_TEST_SRCDIR "/samples/xml/unplanned-failover/HV-NODE01/" \
                    "Microsoft-Windows-Hyper-V-Config-Admin.xml"

static char *export_shifted(const char *name, int from, int to, const char *old, const char *now);

/* Writes events [from, to) of the sample export as an EVTX file; returns its path. */
static char *export_part(const char *name, int from, int to)
{
    return export_shifted(name, from, to, NULL, NULL);
}

/* As export_part(), with every 'old' in the events replaced by 'now' (same length). */
static char *export_shifted(const char *name, int from, int to, const char *old, const char *now)
{
    char *xml = hvd_test_read_file(CONFIG_XML, NULL);
    char *xml_path = hvd_test_path(tmp, "part.xml");
    char *out = hvd_test_path(tmp, name);
    char *argv[] = {HVD_TEST_BINDIR "/evtxgen", xml_path, out, NULL};
    const char *start = NULL;
    const char *end = NULL;
    const char *p;
    int i = 0;
    FILE *f;

    ck_assert_ptr_nonnull(xml);
    for (p = strstr(xml, "<Event "); p; p = strstr(p + 1, "<Event "), i++) {
        start = i == from ? p : start;
        end = i == to ? p : end;
    }
    ck_assert_ptr_nonnull(start);
    end = end ? end : strstr(xml, "</Events>");
    for (char *q = old ? strstr(xml, old) : NULL; q; q = strstr(q + 1, old)) {
        ck_assert_uint_eq(strlen(old), strlen(now));
        memcpy(q, now, strlen(now));
    }
    f = fopen(xml_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "<Events>\n%.*s</Events>\n", (int)(end - start), start);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
    free(xml);
    free(xml_path);
    return out;
}

/* Hyper-V-Config 4096 repeating (a stale VM link file), the export cut in two: after a
 * restart between the parts the flood still folds into the one diagnosis. */
START_TEST(a_restart_inside_a_flood_keeps_one_diagnosis)
{
    char *a = export_part("a.evtx", 0, 4);
    char *b = export_part("b.evtx", 4, 6);
    const char *const parts[] = {a, b};
    char once[HVD_STORE_DIGEST_SIZE];
    char split[HVD_STORE_DIGEST_SIZE];

    read_files("once.db", parts, 2, 0, once);
    read_files("split.db", parts, 2, 1, split);
    ck_assert_str_eq(split, once);
    free(a);
    free(b);
}
END_TEST

/* One cluster.log with lines [from, to) at dir/HV-NODE09_cluster.log; returns its path. */
static char *clog_export(const char *dir, int from, int to)
{
    char *d = hvd_test_path(tmp, dir);
    char *path;

    mkdir(d, 0755);
    path = hvd_test_path(d, "HV-NODE09_cluster.log");
    unlink(path);
    append_lines(path, from, to, 0);
    free(d);
    return path;
}

/* Reads path shown as 'display' (so evidence names one file whatever folder it came from). */
static hvd_ingest_result read_as(struct db *db, const char *path, const char *display)
{
    hvd_ingest_options opt = {0};
    hvd_ingest_result res;
    hvd_error err;

    ck_assert_msg(hvd_ingest_file(db->ing, path, display, &opt, &res, &err) == HVD_OK, "%s",
                  err.msg);
    ck_assert_int_eq(hvd_ingest_finish(db->ing, NULL, &err), HVD_OK);
    return res;
}

struct dump_hash {
    uint64_t h;
    int evidence; /* include evidence lines (they name lines and offsets in a file) */
};

static int hash_line(void *ud, const char *line)
{
    struct dump_hash *d = ud;

    if (!d->evidence && strncmp(line, "evidence\t", 9) == 0) {
        return 0;
    }
    for (const char *p = line; *p; p++) {
        d->h = (d->h ^ (unsigned char)*p) * 1099511628211ull;
    }
    d->h = (d->h ^ '\n') * 1099511628211ull;
    return 0;
}

/* The store's dump, hashed; without evidence it compares reads of differently cut files. */
static uint64_t dump_hash(struct db *db, int evidence)
{
    struct dump_hash d = {14695981039346656037ull, evidence};
    hvd_error err;

    ck_assert_int_eq(hvd_store_dump(db->st, hash_line, &d, &err), HVD_OK);
    return d.h;
}

static int count_before(void *ud, const hvd_stored_diagnosis *d)
{
    /* 2024-07-24 10:00 UTC in ticks */
    *(int *)ud += d->first_time < INT64_C(17218152000000000);
    return 0;
}

/* b (10:00-12:00) then a (08:00-10:00, one line shared), a restart between as with two
 * 'hvdiag analyze' runs: a is read, but for the line b had, and its diagnoses stored. */
START_TEST(an_older_cluster_log_read_after_a_newer_one_is_read)
{
    char *a = clog_export("a", 0, 121);
    char *b = clog_export("b", 120, 240);
    struct db db;
    hvd_ingest_result res;
    hvd_store_counts c;
    hvd_error err;
    int early = 0;

    db_open(&db, "ba.db");
    res = read_as(&db, b, "HV-NODE09_cluster.log");
    ck_assert_uint_eq(res.fresh, 120);
    ck_assert_int_eq(hvd_store_diagnoses(db.st, NULL, count_before, &early, &err), HVD_OK);
    ck_assert_int_eq(early, 0);
    db_close(&db);
    db_open(&db, "ba.db");
    res = read_as(&db, a, "HV-NODE09_cluster.log");
    ck_assert_uint_eq(res.fresh, 120);
    ck_assert_uint_eq(res.repeated, 1);
    ck_assert_int_eq(hvd_store_get_counts(db.st, &c, &err), HVD_OK);
    ck_assert_int_eq(c.events_marked, 240);
    ck_assert_int_eq(hvd_store_diagnoses(db.st, NULL, count_before, &early, &err), HVD_OK);
    ck_assert_int_gt(early, 0);
    db_close(&db);
    free(a);
    free(b);
}
END_TEST

/* Exports of one node read newest first, oldest first, or as one file hold the same (but
 * for which file and line the evidence names). Days apart, so what the engine folds does
 * not depend on the order either. */
START_TEST(cluster_log_exports_in_any_order_give_one_database)
{
    char *a = clog_export("a", 0, 120);
    char *b = clog_export("b", 10000, 10120);
    char *whole = clog_export("whole", 0, 120);
    char ba[HVD_STORE_DIGEST_SIZE];
    char ab[HVD_STORE_DIGEST_SIZE];
    struct db db;
    uint64_t split;

    append_lines(whole, 10000, 10120, 0);
    db_open(&db, "ba.db");
    read_as(&db, b, "HV-NODE09_cluster.log");
    db_close(&db);
    db_open(&db, "ba.db");
    read_as(&db, a, "HV-NODE09_cluster.log");
    read_as(&db, b, "HV-NODE09_cluster.log"); /* again: nothing */
    digest(&db, ba);
    split = dump_hash(&db, 0);
    db_close(&db);

    db_open(&db, "ab.db");
    read_as(&db, a, "HV-NODE09_cluster.log");
    read_as(&db, b, "HV-NODE09_cluster.log");
    digest(&db, ab);
    db_close(&db);
    ck_assert_str_eq(ba, ab);

    db_open(&db, "whole.db");
    read_as(&db, whole, "HV-NODE09_cluster.log");
    ck_assert_uint_eq(dump_hash(&db, 0), split);
    db_close(&db);
    free(a);
    free(b);
    free(whole);
}
END_TEST

/* A re-export that overlaps one read before adds only its new lines; one that adds nothing
 * still leaves its source row, which says it was all repeats. */
START_TEST(an_overlapping_re_export_adds_only_its_new_lines)
{
    char *first = clog_export("first", 60, 180);
    char *again = clog_export("again", 0, 200);
    char *copy = clog_export("copy", 60, 180);
    struct db db;
    hvd_ingest_result res;
    hvd_store_source row;
    hvd_error err;
    char dig[HVD_STORE_DIGEST_SIZE];
    char dig2[HVD_STORE_DIGEST_SIZE];

    db_open(&db, "o.db");
    res = read_as(&db, first, NULL);
    ck_assert_uint_eq(res.fresh, 120);
    res = read_as(&db, again, NULL);
    ck_assert_uint_eq(res.fresh, 80);
    ck_assert_uint_eq(res.repeated, 120);
    ck_assert_int_eq(hvd_store_get_source(db.st, again, &row, &err), 1);
    ck_assert_uint_eq(row.fresh, 80);
    ck_assert_uint_eq(row.repeated, 120);
    res = read_as(&db, copy, NULL);
    ck_assert_uint_eq(res.fresh, 0);
    ck_assert_int_eq(hvd_store_get_source(db.st, copy, &row, &err), 1);
    ck_assert_uint_eq(row.fresh, 0);
    ck_assert_uint_eq(row.repeated, 120);
    ck_assert_uint_eq(row.events, 120);
    ck_assert_int_eq(hvd_store_digest(db.st, dig, &err), HVD_OK);
    db_close(&db);
    /* Then the first file again, and the copy: all repeats, nothing changes. */
    db_open(&db, "o.db");
    res = read_as(&db, first, NULL);
    ck_assert_uint_eq(res.fresh, 0);
    digest(&db, dig2);
    ck_assert_str_eq(dig, dig2);
    db_close(&db);
    free(first);
    free(again);
    free(copy);
}
END_TEST

static int count_diags(struct db *db, const char *rule)
{
    hvd_diagnosis_filter f = {0};
    int64_t n = 0;
    hvd_error err;

    f.rule = rule;
    ck_assert_int_eq(hvd_store_diagnoses(db->st, &f, count_one, &n, &err), HVD_OK);
    return (int)n;
}

/* A host rebuilt under its name restarts its record ids with later times: another log, read;
 * a re-export of either log adds nothing. */
START_TEST(an_evtx_from_a_rebuilt_host_reusing_record_ids_is_read)
{
    char *old = export_part("old.evtx", 0, 6);
    char *rebuilt = export_shifted("rebuilt.evtx", 0, 6, "2024-03-09T", "2025-06-21T");
    struct db db;
    hvd_ingest_result res;
    int before;

    db_open(&db, "r.db");
    res = db_read(&db, old, 0, 0);
    ck_assert_uint_eq(res.fresh, 6);
    before = count_diags(&db, NULL);
    ck_assert_int_gt(before, 0);
    res = db_read(&db, rebuilt, 0, 0);
    ck_assert_uint_eq(res.fresh, 6);
    ck_assert_uint_eq(res.repeated, 0);
    ck_assert_int_gt(count_diags(&db, NULL), before);
    res = db_read(&db, old, 0, 0);
    ck_assert_uint_eq(res.fresh, 0);
    res = db_read(&db, rebuilt, 0, 0);
    ck_assert_uint_eq(res.fresh, 0);
    db_close(&db);
    free(old);
    free(rebuilt);
}
END_TEST

/* A checkpoint holds only for the very file read: a copy over it with the same size and
 * mtime (cp -p) is another file. */
START_TEST(a_checkpoint_holds_only_for_the_file_read)
{
    char *a = export_part("a.evtx", 0, 4);
    char *b = export_part("b.evtx", 0, 6);
    char *tmpb = hvd_test_path(tmp, "b.tmp");
    struct stat sa;
    struct stat sb;
    struct timespec times[2];
    struct db db;
    hvd_error err;
    size_t len;
    char *data;

    ck_assert_int_eq(stat(a, &sa), 0);
    ck_assert_int_eq(stat(b, &sb), 0);
    ck_assert_int_eq(sa.st_size, sb.st_size); /* EVTX grows by whole chunks */
    db_open(&db, "c.db");
    ck_assert_int_eq(hvd_ingest_checkpoint_holds(db.st, a, NULL, &err), 0);
    db_read(&db, a, 0, 0);
    ck_assert_int_eq(hvd_ingest_checkpoint_holds(db.st, a, NULL, &err), 1);
    /* In place, same inode, size and mtime: the bytes differ. */
    data = hvd_test_read_file(b, &len);
    ck_assert_ptr_nonnull(data);
    {
        FILE *f = fopen(a, "r+b");

        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, len, f), len);
        ck_assert_int_eq(fclose(f), 0);
    }
    times[0] = sa.st_atim;
    times[1] = sa.st_mtim;
    ck_assert_int_eq(utimensat(AT_FDCWD, a, times, 0), 0);
    ck_assert_int_eq(hvd_ingest_checkpoint_holds(db.st, a, NULL, &err), 0);
    db_read(&db, a, 0, 0);
    ck_assert_int_eq(hvd_ingest_checkpoint_holds(db.st, a, NULL, &err), 1);
    /* Renamed over: another inode. */
    ck_assert_int_eq(hvd_test_write_file(tmpb, data, len), 0);
    ck_assert_int_eq(utimensat(AT_FDCWD, tmpb, times, 0), 0);
    ck_assert_int_eq(rename(tmpb, a), 0);
    ck_assert_int_eq(hvd_ingest_checkpoint_holds(db.st, a, NULL, &err), 0);
    db_close(&db);
    free(data);
    free(a);
    free(b);
    free(tmpb);
}
END_TEST

/* A read that fails half way (the store refuses the (k+1)th diagnosis) is rolled back, and
 * the engine with it: the retry counts nothing twice, and a correlation first made in the
 * failed read is made and stored again. */
START_TEST(a_retry_after_a_rollback_stores_what_one_read_stores)
{
    char *flood = export_part("flood.evtx", 0, 6);
    const char *const files[] = {NODE2_VMMS, flood, NODE1_VMMS};
    char once[HVD_STORE_DIGEST_SIZE];
    char retried[HVD_STORE_DIGEST_SIZE];

    read_files("once.db", files, 3, 0, once);
    for (long k = 0; k < 4; k++) {
        char name[32];
        int failures = 0;
        struct db db;

        snprintf(name, sizeof(name), "retry%ld.db", k);
        db_open(&db, name);
        for (size_t i = 0; i < 3; i++) {
            hvd_ingest_result res;
            hvd_error err;

            /* Each file first fails after k diagnoses (when it makes more), then is retried. */
            hvd__ingest_fail_store_after(db.ing, k);
            if (hvd_ingest_file(db.ing, files[i], NULL, NULL, &res, &err) < 0) {
                ck_assert_int_eq(err.code, HVD_ESTORE);
                ck_assert_ptr_nonnull(strstr(err.msg, "injected"));
                failures++;
            }
            hvd__ingest_fail_store_after(db.ing, -1);
            db_read(&db, files[i], 0, 0);
        }
        ck_assert_int_gt(failures, 0);
        digest(&db, retried);
        db_close(&db);
        ck_assert_str_eq(retried, once);
        ck_assert_int_eq(correlations(name), 1);
    }
    free(flood);
}
END_TEST

static Suite *ingest_suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("follow");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, appended_lines_are_read_from_the_checkpoint);
    tcase_add_test(tc, a_line_being_written_is_read_once_whole);
    tcase_add_test(tc, a_last_line_without_newline_is_read_when_complete);
    tcase_add_test(tc, changed_files_are_read_from_the_start);
    tcase_add_test(tc, without_follow_a_file_is_read_whole);
    tcase_add_test(tc, a_restart_between_files_keeps_their_correlation);
    tcase_add_test(tc, priming_a_new_pipeline_changes_nothing_by_itself);
    tcase_add_test(tc, a_restart_inside_a_flood_keeps_one_diagnosis);
    tcase_add_test(tc, an_older_cluster_log_read_after_a_newer_one_is_read);
    tcase_add_test(tc, cluster_log_exports_in_any_order_give_one_database);
    tcase_add_test(tc, an_overlapping_re_export_adds_only_its_new_lines);
    tcase_add_test(tc, an_evtx_from_a_rebuilt_host_reusing_record_ids_is_read);
    tcase_add_test(tc, a_checkpoint_holds_only_for_the_file_read);
    tcase_add_test(tc, a_retry_after_a_rollback_stores_what_one_read_stores);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ingest_suite());
    int failed;

    xmlInitParser();
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    xmlCleanupParser();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
