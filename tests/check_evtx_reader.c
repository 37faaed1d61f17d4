/*
 * Suite for the libevtx EVTX reader (the reference decoder, chosen explicitly): every real
 * corpus file (counts checked against libevtx itself), evtxgen fixtures with known values,
 * damaged files and garbage. hvdiag's own decoder has check_evtx_native.
 */
#include "source.h"

#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <libevtx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define EVTXGEN HVD_TEST_BINDIR "/evtxgen"

static char *tmp;
static const hvd_source_options libevtx = {.evtx_decoder = HVD_EVTX_LIBEVTX};

static void tmp_setup(void)
{
    tmp = hvd_test_tmpdir();
}

static void tmp_teardown(void)
{
    hvd_test_rmtree(tmp);
    free(tmp);
}

static char *generate(const char *xml, const char *name, const char *opt)
{
    char *out = hvd_test_path(tmp, name);
    char *argv[] = {EVTXGEN, (char *)(opt ? opt : xml), opt ? (char *)xml : out, opt ? out : NULL,
                    NULL};

    ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
    return out;
}

/* Reads a whole file; returns the number of events and fills *stats. */
static long read_all(const char *path, const hvd_source_options *opt, hvd_source_stats *stats)
{
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    long n = 0;
    int rc;

    ck_assert_msg(hvd_source_open(&s, path, opt, NULL, &err) == HVD_OK, "%s", err.msg);
    ck_assert_int_eq(hvd_source_get_kind(s), HVD_SOURCE_EVTX);
    while ((rc = hvd_source_next(s, &ev, &err)) == 1) {
        ck_assert_int_eq(ev.kind, HVD_SOURCE_EVTX);
        ck_assert_ptr_nonnull(ev.host);
        ck_assert_ptr_nonnull(ev.provider);
        ck_assert_ptr_nonnull(ev.channel);
        ck_assert_ptr_nonnull(ev.message);
        n++;
    }
    ck_assert_int_eq(rc, 0);
    *stats = *hvd_source_get_stats(s);
    hvd_source_close(s);
    return n;
}

static int libevtx_count(const char *path)
{
    libevtx_file_t *f = NULL;
    int n = -1;

    ck_assert_int_eq(libevtx_file_initialize(&f, NULL), 1);
    ck_assert_int_eq(libevtx_file_open(f, path, LIBEVTX_OPEN_READ, NULL), 1);
    ck_assert_int_eq(libevtx_file_get_number_of_records(f, &n, NULL), 1);
    libevtx_file_close(f, NULL);
    libevtx_file_free(&f, NULL);
    return n;
}

START_TEST(every_corpus_file_reads_and_counts_match_libevtx)
{
    const char *dir = HVD_CORPUS_DIR "/evtx";
    DIR *d;
    struct dirent *de;
    int files = 0;

    if (!hvd_test_have_corpus()) {
        fprintf(stderr, "%s absent: corpus test skipped\n", dir);
        return;
    }
    d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        hvd_source_stats st;
        char *path;
        long n;

        if (!strstr(de->d_name, ".evtx")) {
            continue;
        }
        path = hvd_test_path(dir, de->d_name);
        n = read_all(path, &libevtx, &st);
        ck_assert_msg((uint64_t)n + st.skipped == (uint64_t)libevtx_count(path),
                      "%s: %ld read + %llu skipped != %d", de->d_name, n,
                      (unsigned long long)st.skipped, libevtx_count(path));
        ck_assert_uint_eq(st.records, (uint64_t)libevtx_count(path));
        ck_assert_uint_eq(st.events, (uint64_t)n);
        free(path);
        files++;
    }
    closedir(d);
    ck_assert_int_ge(files, 30);
}
END_TEST

START_TEST(forwarded_event_files_are_all_skipped_not_empty)
{
    static const char *const names[] = {
        "omerbenamram_evtx__MSExchange_Management_wec.evtx",
        "Yamato-Security_hayabusa-sample-evtx__ID1151-Defender_health_status.evtx",
        "Yamato-Security_hayabusa-sample-evtx__ID131-RDP_brutforce_no_user_info.evtx",
    };
    static const uint64_t records[] = {1, 455, 154};

    if (!hvd_test_have_corpus()) {
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        char *path = hvd_test_path(HVD_CORPUS_DIR "/evtx", names[i]);
        hvd_source_stats st;

        ck_assert_int_eq(read_all(path, &libevtx, &st), 0);
        ck_assert_uint_eq(st.records, records[i]);
        ck_assert_uint_eq(st.skipped, records[i]);
        ck_assert_uint_eq(st.first_skipped, 0);
        free(path);
    }
}
END_TEST

START_TEST(corpus_damage_flags_are_reported)
{
    char *path = hvd_test_path(HVD_CORPUS_DIR "/evtx", "omerbenamram_evtx__system.evtx");
    hvd_source_stats st;

    if (!hvd_test_have_corpus()) {
        free(path);
        return;
    }
    ck_assert_int_eq(read_all(path, &libevtx, &st), 1881);
    ck_assert_int_eq(st.corrupted, 1);
    ck_assert_int_eq(st.dirty, 1);
    ck_assert_uint_eq(st.recovered, 79);
    free(path);
}
END_TEST

static const char vmms_ha[] = HVD_TEST_DATADIR "/evtx/vmms-ha.xml";

START_TEST(generated_fixture_gives_every_field)
{
    char *path = generate(vmms_ha, "f.evtx", NULL);
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;

    ck_assert_int_eq(hvd_source_open(&s, path, &libevtx, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.record_id, 1);
    ck_assert_uint_eq(ev.event_record_id, 311);
    ck_assert_uint_eq(ev.event_id, 14050);
    ck_assert_uint_eq(ev.level, 2);
    ck_assert_str_eq(ev.host, "HV-NODE02.contoso.local");
    ck_assert_str_eq(ev.provider, "Microsoft-Windows-Hyper-V-VMMS");
    ck_assert_str_eq(ev.provider_guid, "{6066F867-7CA1-4418-85FD-36E3F9C0600C}");
    ck_assert_str_eq(ev.channel, "Microsoft-Windows-Hyper-V-VMMS-Admin");
    ck_assert_str_eq(ev.user_sid, "S-1-5-18");
    /* TimeCreated to 100 ns: 2024-03-05T09:02:11.1234567Z. */
    ck_assert_int_eq(ev.time % 10000000, 1234567);
    ck_assert_str_eq(hvd_event_field(&ev, "Parameter0"),
                     "Microsoft Virtual System Migration Service");
    ck_assert_ptr_nonnull(strstr(ev.xml, "<EventID>14050</EventID>"));
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_id, 21502);
    ck_assert_ptr_nonnull(strstr(ev.message, "(0x80090303)"));
    ck_assert_str_eq(ev.channel, "Microsoft-Windows-Hyper-V-High-Availability-Admin");
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_str_eq(hvd_event_field(&ev, "VmName"), "SQL01");
    /* One export, two channels. */
    ck_assert_str_eq(ev.channel, "Microsoft-Windows-Hyper-V-VMMS-Admin");
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    ck_assert_str_eq(hvd_source_position(s), "evtx:next=4");
    hvd_source_close(s);
    free(path);
}
END_TEST

START_TEST(resume_token_continues_where_it_stopped)
{
    char *path = generate(vmms_ha, "r.evtx", NULL);
    hvd_source_options opt = {.evtx_decoder = HVD_EVTX_LIBEVTX};
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char token[64];

    ck_assert_int_eq(hvd_source_open(&s, path, &libevtx, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    snprintf(token, sizeof(token), "%s", hvd_source_position(s));
    hvd_source_close(s);
    opt.resume = token;
    ck_assert_int_eq(hvd_source_open(&s, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_id, 21502);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    hvd_source_close(s);
    opt.resume = "evtx:next=banana";
    ck_assert_int_lt(hvd_source_open(&s, path, &opt, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad resume position"));
    free(path);
}
END_TEST

/* A synthetic export of n records, EventRecordID i+1, EventID 1000 + i % 50, Data n = i. */
static char *generate_many(int n, const char *name)
{
    size_t cap = (size_t)n * 700 + 256;
    char *xml = malloc(cap);
    char *xml_path = hvd_test_path(tmp, "many.xml");
    size_t len = 0;
    char *out;

    ck_assert_ptr_nonnull(xml);
    len += (size_t)snprintf(xml + len, cap - len, "<Events>\n");
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(
            xml + len, cap - len,
            "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>"
            "<Provider Name=\"Microsoft-Windows-Hyper-V-VMMS\" "
            "Guid=\"{6066F867-7CA1-4418-85FD-36E3F9C0600C}\"/><EventID>%d</EventID>"
            "<Level>4</Level><TimeCreated SystemTime=\"2024-03-05T09:%02d:%02d.0000000Z\"/>"
            "<EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Hyper-V-VMMS-Admin"
            "</Channel><Computer>HV-NODE01.contoso.local</Computer></System><EventData>"
            "<Data Name=\"n\">%d</Data></EventData></Event>\n",
            1000 + i % 50, (i / 60) % 60, i % 60, i + 1, i);
    }
    len += (size_t)snprintf(xml + len, cap - len, "</Events>\n");
    ck_assert_int_eq(hvd_test_write_file(xml_path, xml, len), 0);
    out = generate(xml_path, name, NULL);
    free(xml);
    free(xml_path);
    return out;
}

/* No reading process is left behind: every child of this test process was reaped. */
static void assert_no_children(void)
{
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
}

/* Files of thousands of records are read by a child process: same events, in order. */
START_TEST(large_file_read_ahead_gives_every_record_in_order)
{
    char *path = generate_many(5000, "many.evtx");
    hvd_source_options opt = {.evtx_decoder = HVD_EVTX_LIBEVTX};
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char token[64];
    int i = 0;
    int rc;

    ck_assert_int_eq(libevtx_count(path), 5000);
    ck_assert_int_eq(hvd_source_open(&s, path, &libevtx, NULL, &err), HVD_OK);
    while ((rc = hvd_source_next(s, &ev, &err)) == 1) {
        char want[16];

        ck_assert_uint_eq(ev.index, (uint64_t)i);
        ck_assert_uint_eq(ev.event_record_id, (uint64_t)i + 1);
        ck_assert_uint_eq(ev.event_id, 1000 + i % 50);
        snprintf(want, sizeof(want), "%d", i);
        ck_assert_str_eq(hvd_event_field(&ev, "n"), want);
        i++;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(i, 5000);
    ck_assert_str_eq(hvd_source_position(s), "evtx:next=5000");
    hvd_source_close(s);
    assert_no_children();

    /* Resumed in the middle, and closed long before the end. */
    opt.resume = "evtx:next=2500";
    ck_assert_int_eq(hvd_source_open(&s, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_record_id, 2501);
    snprintf(token, sizeof(token), "%s", hvd_source_position(s));
    ck_assert_str_eq(token, "evtx:next=2501");
    hvd_source_close(s);
    assert_no_children();
    free(path);
}
END_TEST

#ifdef HVD_TESTING
/* A record that kills the reading process (libevtx crashing on a hostile file) is found,
 * skipped and counted; the records around it are all read. */
START_TEST(read_ahead_crash_skips_the_record_that_caused_it)
{
    char *path = generate_many(4000, "crash.evtx");
    hvd_source_stats st;
    long n;

    setenv("HVD_TEST_EVTX_CRASH", "3000-3000", 1);
    n = read_all(path, &libevtx, &st);
    unsetenv("HVD_TEST_EVTX_CRASH");
    ck_assert_int_eq(n, 3999);
    ck_assert_uint_eq(st.skipped, 1);
    ck_assert_uint_eq(st.first_skipped, 3000);
    assert_no_children();
    free(path);
}
END_TEST

/* A file that keeps killing it is given up with an error naming the file; what was read
 * before stands. */
START_TEST(read_ahead_crashing_again_and_again_ends_the_file_with_an_error)
{
    char *path = generate_many(4000, "crash.evtx");
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    int n = 0;
    int rc;

    setenv("HVD_TEST_EVTX_CRASH", "3000-3999", 1);
    ck_assert_int_eq(hvd_source_open(&s, path, &libevtx, NULL, &err), HVD_OK);
    while ((rc = hvd_source_next(s, &ev, &err)) == 1) {
        ck_assert_uint_eq(ev.event_record_id, (uint64_t)n + 1);
        n++;
    }
    unsetenv("HVD_TEST_EVTX_CRASH");
    ck_assert_int_lt(rc, 0);
    ck_assert_int_eq(n, 3000);
    ck_assert_msg(strstr(err.msg, "crash.evtx") && strstr(err.msg, "signal 6"), "%s", err.msg);
    /* the first child read ahead; each careful one after it names its record */
    ck_assert_uint_eq(hvd_source_get_stats(s)->skipped, 7);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0); /* the end stays the end */
    hvd_source_close(s);
    assert_no_children();
    free(path);
}
END_TEST
#endif

/* Reads path through with opt, taking the position token before the first event and after
 * each one; every token must be accepted and resume to exactly the events that followed.
 * Events are compared by record id, EventRecordID, EventID and message. */
static void check_evtx_tokens(const char *path, const hvd_source_options *base)
{
    hvd_source_options opt = *base;
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char(*tokens)[64] = NULL;
    uint64_t *ids = NULL;
    size_t n = 0;
    int rc;

    ck_assert_msg(hvd_source_open(&s, path, &opt, NULL, &err) == HVD_OK, "%s", err.msg);
    for (;;) {
        tokens = realloc(tokens, (n + 1) * sizeof(*tokens));
        ids = realloc(ids, (n + 1) * 3 * sizeof(*ids));
        ck_assert(tokens && ids);
        ck_assert_int_lt(snprintf(tokens[n], sizeof(tokens[n]), "%s", hvd_source_position(s)),
                         (int)sizeof(tokens[n]));
        rc = hvd_source_next(s, &ev, &err);
        if (rc != 1) {
            break;
        }
        ids[3 * n] = ev.record_id;
        ids[3 * n + 1] = ev.event_record_id;
        ids[3 * n + 2] = ev.event_id;
        n++;
    }
    ck_assert_msg(rc == 0, "%s", err.msg);
    hvd_source_close(s);
    for (size_t k = 0; k <= n; k++) {
        size_t i = k;

        opt.resume = tokens[k];
        ck_assert_msg(hvd_source_open(&s, path, &opt, NULL, &err) == HVD_OK, "token %s: %s",
                      tokens[k], err.msg);
        while ((rc = hvd_source_next(s, &ev, &err)) == 1) {
            ck_assert_uint_lt(i, n);
            ck_assert_uint_eq(ev.record_id, ids[3 * i]);
            ck_assert_uint_eq(ev.event_record_id, ids[3 * i + 1]);
            ck_assert_uint_eq(ev.event_id, ids[3 * i + 2]);
            i++;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_msg(i == n, "from %s: %zu events, expected %zu", tokens[k], i - k, n - k);
        hvd_source_close(s);
    }
    free(tokens);
    free(ids);
}

/* Every EVTX position token the reader writes is read back, on whole, damaged and
 * truncated files, with and without recovered records. */
START_TEST(every_evtx_token_is_read_back)
{
    static const char *const damage[] = {NULL, "--corrupt=chunk-crc", "--dirty", "--stale-record",
                                         "--truncate"};
    hvd_source_options plain = {0};
    hvd_source_options recovered = {.include_recovered = 1};
    char *path;

    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        path = generate(vmms_ha, "tok.evtx", damage[i]);
        check_evtx_tokens(path, &plain);
        check_evtx_tokens(path, &recovered);
        free(path);
    }
    path = generate_many(60, "tok-many.evtx");
    check_evtx_tokens(path, &plain);
    free(path);
}
END_TEST

START_TEST(damaged_files_are_read_and_flagged)
{
    hvd_source_options with_recovered = {.include_recovered = 1, .evtx_decoder = HVD_EVTX_LIBEVTX};
    hvd_source_stats st;
    char *path;

    path = generate(vmms_ha, "crc.evtx", "--corrupt=chunk-crc");
    ck_assert_int_eq(read_all(path, &libevtx, &st), 4);
    ck_assert_int_eq(st.corrupted, 1);
    free(path);
    path = generate(vmms_ha, "dirty.evtx", "--dirty");
    ck_assert_int_eq(read_all(path, &libevtx, &st), 4);
    ck_assert_int_eq(st.dirty, 1);
    ck_assert_int_eq(st.corrupted, 0);
    free(path);
    path = generate(vmms_ha, "stale.evtx", "--stale-record");
    ck_assert_int_eq(read_all(path, &libevtx, &st), 4);
    ck_assert_uint_ge(st.recovered, 1);
    ck_assert_int_eq(read_all(path, &with_recovered, &st), 4 + (long)st.recovered);
    free(path);
    path = generate(vmms_ha, "trunc.evtx", "--truncate");
    ck_assert_int_eq(read_all(path, &libevtx, &st), 0);
    ck_assert_int_eq(st.corrupted, 1);
    free(path);
}
END_TEST

START_TEST(garbage_and_truncated_headers_are_errors_naming_the_file)
{
    char *garbage = hvd_test_path(tmp, "garbage.evtx");
    char *header = hvd_test_path(tmp, "header.evtx");
    unsigned char bytes[70000];
    hvd_source *s = NULL;
    hvd_error err;

    srand(7);
    for (size_t i = 0; i < sizeof(bytes); i++) {
        bytes[i] = (unsigned char)rand();
    }
    bytes[1] = 0; /* binary, not text */
    ck_assert_int_eq(hvd_test_write_file(garbage, bytes, sizeof(bytes)), 0);
    ck_assert_int_lt(hvd_source_open(&s, garbage, &libevtx, NULL, &err), 0);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err.msg, garbage));
    /* A valid signature followed by garbage. */
    memcpy(bytes, "ElfFile", 8);
    ck_assert_int_eq(hvd_test_write_file(header, bytes, 100), 0);
    ck_assert_int_lt(hvd_source_open(&s, header, &libevtx, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, header));
    ck_assert_int_eq(hvd_test_write_file(header, bytes, sizeof(bytes)), 0);
    if (hvd_source_open(&s, header, &libevtx, NULL, &err) == HVD_OK) {
        hvd_event ev;

        while (hvd_source_next(s, &ev, &err) == 1) {
        }
        hvd_source_close(s);
    } else {
        ck_assert_ptr_nonnull(strstr(err.msg, header));
    }
    free(garbage);
    free(header);
}
END_TEST

static Suite *evtx_reader_suite(void)
{
    Suite *s = suite_create("evtx_reader");
    TCase *tc = tcase_create("corpus");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_corpus_file_reads_and_counts_match_libevtx);
    tcase_add_test(tc, forwarded_event_files_are_all_skipped_not_empty);
    tcase_add_test(tc, corpus_damage_flags_are_reported);
    suite_add_tcase(s, tc);
    tc = tcase_create("fixtures");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, generated_fixture_gives_every_field);
    tcase_add_test(tc, resume_token_continues_where_it_stopped);
    tcase_add_test(tc, every_evtx_token_is_read_back);
    tcase_add_test(tc, damaged_files_are_read_and_flagged);
    tcase_add_test(tc, large_file_read_ahead_gives_every_record_in_order);
#ifdef HVD_TESTING
    tcase_add_test(tc, read_ahead_crash_skips_the_record_that_caused_it);
    tcase_add_test(tc, read_ahead_crashing_again_and_again_ends_the_file_with_an_error);
#endif
    tcase_add_test(tc, garbage_and_truncated_headers_are_errors_naming_the_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(evtx_reader_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
