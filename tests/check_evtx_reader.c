/*
 * Suite for the EVTX reader: every real corpus file (counts checked against libevtx itself),
 * evtxgen fixtures with known values, damaged files and garbage.
 */
#include "source.h"

#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <libevtx.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVTXGEN HVD_TEST_BINDIR "/evtxgen"

static char *tmp;

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
        n = read_all(path, NULL, &st);
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

        ck_assert_int_eq(read_all(path, NULL, &st), 0);
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
    ck_assert_int_eq(read_all(path, NULL, &st), 1881);
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

    ck_assert_int_eq(hvd_source_open(&s, path, NULL, NULL, &err), HVD_OK);
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
    hvd_source_options opt = {0};
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char token[64];

    ck_assert_int_eq(hvd_source_open(&s, path, NULL, NULL, &err), HVD_OK);
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

START_TEST(damaged_files_are_read_and_flagged)
{
    hvd_source_options with_recovered = {.include_recovered = 1};
    hvd_source_stats st;
    char *path;

    path = generate(vmms_ha, "crc.evtx", "--corrupt=chunk-crc");
    ck_assert_int_eq(read_all(path, NULL, &st), 4);
    ck_assert_int_eq(st.corrupted, 1);
    free(path);
    path = generate(vmms_ha, "dirty.evtx", "--dirty");
    ck_assert_int_eq(read_all(path, NULL, &st), 4);
    ck_assert_int_eq(st.dirty, 1);
    ck_assert_int_eq(st.corrupted, 0);
    free(path);
    path = generate(vmms_ha, "stale.evtx", "--stale-record");
    ck_assert_int_eq(read_all(path, NULL, &st), 4);
    ck_assert_uint_ge(st.recovered, 1);
    ck_assert_int_eq(read_all(path, &with_recovered, &st), 4 + (long)st.recovered);
    free(path);
    path = generate(vmms_ha, "trunc.evtx", "--truncate");
    ck_assert_int_eq(read_all(path, NULL, &st), 0);
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
    ck_assert_int_lt(hvd_source_open(&s, garbage, NULL, NULL, &err), 0);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err.msg, garbage));
    /* A valid signature followed by garbage. */
    memcpy(bytes, "ElfFile", 8);
    ck_assert_int_eq(hvd_test_write_file(header, bytes, 100), 0);
    ck_assert_int_lt(hvd_source_open(&s, header, NULL, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, header));
    ck_assert_int_eq(hvd_test_write_file(header, bytes, sizeof(bytes)), 0);
    if (hvd_source_open(&s, header, NULL, NULL, &err) == HVD_OK) {
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
    tcase_add_test(tc, damaged_files_are_read_and_flagged);
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
