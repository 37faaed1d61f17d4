/*
 * Suite for hvdiag's own EVTX decoder (evtx_native + evtx_binxml): forwarded-event exports
 * of the corpus, evtxgen fixtures with known values, positions shared with the libevtx
 * reader, damaged files, damaged bytes anywhere, and allocation failures. The field-by-field
 * comparison with libevtx is the evtx_decoder_diff_* tests.
 */
#include <libdeflate.h>
#include "source.h"

#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifdef HVD_TESTING
#include "alloc.h"
#endif

#define EVTXGEN HVD_TEST_BINDIR "/evtxgen"

static char *tmp;
static const char vmms_ha[] = HVD_TEST_DATADIR "/evtx/vmms-ha.xml";
static const hvd_source_options native = {.evtx_decoder = HVD_EVTX_NATIVE};

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

/* Reads a whole file with opt; returns the number of events and fills *stats. */
static long read_all(const char *path, const hvd_source_options *opt, hvd_source_stats *stats)
{
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    long n = 0;
    int rc;

    ck_assert_msg(hvd_source_open(&s, path, opt, NULL, &err) == HVD_OK, "%s", err.msg);
    while ((rc = hvd_source_next(s, &ev, &err)) == 1) {
        ck_assert_int_eq(ev.kind, HVD_SOURCE_EVTX);
        ck_assert_ptr_nonnull(ev.host);
        ck_assert_ptr_nonnull(ev.provider);
        ck_assert_ptr_nonnull(ev.provider_guid);
        ck_assert_ptr_nonnull(ev.channel);
        ck_assert_ptr_nonnull(ev.user_sid);
        ck_assert_ptr_nonnull(ev.message);
        for (size_t i = 0; i < ev.nfields; i++) {
            ck_assert_ptr_nonnull(ev.fields[i].name);
            ck_assert_ptr_nonnull(ev.fields[i].value);
        }
        n++;
    }
    ck_assert_int_eq(rc, 0);
    *stats = *hvd_source_get_stats(s);
    hvd_source_close(s);
    return n;
}

/* Forwarded events (Windows Event Collector): no templates, every value as text. */
START_TEST(forwarded_event_exports_are_read)
{
    static const char *const names[] = {
        "omerbenamram_evtx__MSExchange_Management_wec.evtx",
        "Yamato-Security_hayabusa-sample-evtx__ID1151-Defender_health_status.evtx",
        "Yamato-Security_hayabusa-sample-evtx__ID131-RDP_brutforce_no_user_info.evtx",
    };
    static const long events[] = {1, 455, 154};
    char *path;
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;

    if (!hvd_test_have_corpus()) {
        fprintf(stderr, "corpus absent: forwarded-event test skipped\n");
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        hvd_source_stats st;

        path = hvd_test_path(HVD_CORPUS_DIR "/evtx", names[i]);
        ck_assert_int_eq(read_all(path, &native, &st), events[i]);
        ck_assert_uint_eq(st.skipped, 0);
        ck_assert_uint_eq(st.records, (uint64_t)events[i]);
        free(path);
    }
    path = hvd_test_path(HVD_CORPUS_DIR "/evtx", names[1]);
    ck_assert_int_eq(hvd_source_open(&s, path, &native, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_id, 1151);
    ck_assert_str_eq(ev.provider, "Microsoft-Windows-Windows Defender");
    ck_assert_str_eq(ev.channel, "Microsoft-Windows-Windows Defender/Operational");
    ck_assert_uint_eq(ev.level, 4);
    ck_assert_int_gt(ev.time, 0);
    ck_assert_str_eq(ev.host, "WIN10-client01.offsec.lan");
    ck_assert_str_eq(ev.user_sid, "S-1-5-18");
    ck_assert_uint_eq(ev.event_record_id, 2189);
    ck_assert_uint_eq(ev.keywords, UINT64_C(0x8000000000000000));
    ck_assert_str_eq(hvd_event_field(&ev, "Platform version"), "4.18.2005.5");
    /* No RenderingInfo in these exports: the insert strings are the message. */
    ck_assert_ptr_nonnull(strstr(ev.message, "4.18.2005.5"));
    ck_assert_ptr_null(ev.xml);
    hvd_source_close(s);
    free(path);
}
END_TEST

/* evtxgen --forwarded: the collector's shape, with RenderingInfo; libevtx reads none. */
START_TEST(forwarded_events_give_the_rendered_message)
{
    char *path = generate(HVD_TEST_DATADIR "/evtx/forwarded.xml", "fw.evtx", "--forwarded");
    hvd_source_options libevtx = {.evtx_decoder = HVD_EVTX_LIBEVTX};
    hvd_source_stats st;
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;

    ck_assert_int_eq(read_all(path, &libevtx, &st), 0);
    ck_assert_uint_eq(st.skipped, 3);
    ck_assert_int_eq(hvd_source_open(&s, path, &native, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_id, 20413);
    ck_assert_str_eq(ev.host, "HV-NODE01.contoso.local");
    ck_assert_str_eq(ev.provider_guid, "{6066F867-7CA1-4418-85FD-36E3F9C0600C}");
    ck_assert_str_eq(ev.message, "'SQL01' could not initialize. (Virtual machine ID "
                                 "6F1A2B3C-0000-4000-8000-000000000001)");
    ck_assert_str_eq(hvd_event_field(&ev, "VmName"), "SQL01");
    ck_assert_uint_eq(ev.nfields, 2); /* RenderingInfo is not data */
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_id, 1069);
    ck_assert_uint_eq(ev.task, 3);
    ck_assert_str_eq(ev.host, "HV-NODE02.contoso.local");
    ck_assert_str_eq(ev.channel, "System");
    ck_assert_ptr_nonnull(strstr(ev.message, "failed.\n\nBased on the failure policies"));
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_id, 21502);
    ck_assert_str_eq(ev.host, "HV-NODE03.contoso.local");
    ck_assert_uint_eq(ev.event_record_id, 977);
    ck_assert_int_eq(ev.time % 10000000, 0);
    ck_assert_ptr_nonnull(strstr(ev.message, "Failed to establish a connection with host"));
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    hvd_source_close(s);
    free(path);
}
END_TEST

START_TEST(generated_fixture_gives_every_field)
{
    char *path = generate(vmms_ha, "f.evtx", NULL);
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;

    ck_assert_int_eq(hvd_source_open(&s, path, &native, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.record_id, 1);
    ck_assert_uint_eq(ev.index, 0);
    ck_assert_int_eq(ev.recovered, 0);
    ck_assert_uint_eq(ev.event_record_id, 311);
    ck_assert_uint_eq(ev.event_id, 14050);
    ck_assert_uint_eq(ev.level, 2);
    ck_assert_str_eq(ev.host, "HV-NODE02.contoso.local");
    ck_assert_str_eq(ev.provider, "Microsoft-Windows-Hyper-V-VMMS");
    ck_assert_str_eq(ev.provider_guid, "{6066F867-7CA1-4418-85FD-36E3F9C0600C}");
    ck_assert_str_eq(ev.channel, "Microsoft-Windows-Hyper-V-VMMS-Admin");
    ck_assert_str_eq(ev.user_sid, "S-1-5-18");
    ck_assert_int_eq(ev.time % 10000000, 1234567);
    ck_assert_str_eq(hvd_event_field(&ev, "Parameter0"),
                     "Microsoft Virtual System Migration Service");
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.event_id, 21502);
    ck_assert_ptr_nonnull(strstr(ev.message, "(0x80090303)"));
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_str_eq(hvd_event_field(&ev, "VmName"), "SQL01");
    /* Escapes, non-ASCII and a character past U+FFFF (a surrogate pair) come back. */
    ck_assert_str_eq(hvd_event_field(&ev, "Note"), "r&d <tag> \"q\" caf\xc3\xa9 \xf0\x9d\x84\x9e");
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    ck_assert_str_eq(hvd_source_position(s), "evtx:next=4");
    hvd_source_close(s);
    free(path);
}
END_TEST

/* A position taken with one reader resumes at the same record with the other. */
START_TEST(positions_are_shared_with_the_libevtx_reader)
{
    char *path = generate(vmms_ha, "r.evtx", "--chunk-records=2");
    hvd_source_options opt = {0};
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char token[64];

    for (int from = HVD_EVTX_LIBEVTX; from <= HVD_EVTX_NATIVE; from++) {
        opt.evtx_decoder = (hvd_evtx_decoder)from;
        opt.resume = NULL;
        ck_assert_int_eq(hvd_source_open(&s, path, &opt, NULL, &err), HVD_OK);
        ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
        ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
        snprintf(token, sizeof(token), "%s", hvd_source_position(s));
        hvd_source_close(s);
        ck_assert_str_eq(token, "evtx:next=2");
        opt.evtx_decoder = from == HVD_EVTX_LIBEVTX ? HVD_EVTX_NATIVE : HVD_EVTX_LIBEVTX;
        opt.resume = token;
        ck_assert_int_eq(hvd_source_open(&s, path, &opt, NULL, &err), HVD_OK);
        ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
        ck_assert_uint_eq(ev.index, 2);
        ck_assert_uint_eq(ev.event_id, 21502);
        ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
        ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
        ck_assert_str_eq(hvd_source_position(s), "evtx:next=4");
        hvd_source_close(s);
    }
    opt.evtx_decoder = HVD_EVTX_NATIVE;
    opt.resume = "evtx:next=banana";
    ck_assert_int_lt(hvd_source_open(&s, path, &opt, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad resume position"));
    opt.resume = "evtx:next=99"; /* past the end: nothing more */
    ck_assert_int_eq(hvd_source_open(&s, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    hvd_source_close(s);
    free(path);
}
END_TEST

START_TEST(damaged_files_are_read_and_flagged)
{
    hvd_source_options with_recovered = native;
    hvd_source_options tail = native;
    hvd_source_stats st;
    char *path;

    with_recovered.include_recovered = 1;
    tail.tail = 1;
    path = generate(vmms_ha, "crc.evtx", "--corrupt=chunk-crc");
    ck_assert_int_eq(read_all(path, &native, &st), 4);
    ck_assert_int_eq(st.corrupted, 1);
    free(path);
    path = generate(vmms_ha, "data.evtx", "--corrupt=data-crc");
    ck_assert_int_eq(read_all(path, &native, &st), 4);
    ck_assert_int_eq(st.corrupted, 1);
    free(path);
    path = generate(vmms_ha, "head.evtx", "--corrupt=header-crc");
    ck_assert_int_eq(read_all(path, &native, &st), 4);
    ck_assert_int_eq(st.corrupted, 1);
    free(path);
    path = generate(vmms_ha, "dirty.evtx", "--dirty");
    ck_assert_int_eq(read_all(path, &native, &st), 4);
    ck_assert_int_eq(st.dirty, 1);
    ck_assert_int_eq(st.corrupted, 0);
    free(path);
    path = generate(vmms_ha, "stale.evtx", "--stale-record");
    ck_assert_int_eq(read_all(path, &native, &st), 4);
    ck_assert_uint_ge(st.recovered, 1);
    ck_assert_int_eq(read_all(path, &with_recovered, &st), 4 + (long)st.recovered);
    free(path);
    /* Chunks past the header's count hold recovered records only (as libevtx has it). */
    path = generate(vmms_ha, "count.evtx", "--chunk-count=0");
    ck_assert_int_eq(read_all(path, &native, &st), 0);
    ck_assert_uint_eq(st.recovered, 4);
    free(path);
    /* A partial last chunk: damage, or with tail a file still being copied; either way its
     * records wait for the whole chunk. */
    path = generate(vmms_ha, "trunc.evtx", "--truncate");
    ck_assert_int_eq(read_all(path, &native, &st), 0);
    ck_assert_int_eq(st.corrupted, 1);
    ck_assert_int_eq(read_all(path, &tail, &st), 0);
    ck_assert_int_eq(st.corrupted, 0);
    free(path);
}
END_TEST

/* Bytes damaged anywhere in a multi-chunk file: every read stays in bounds (the suite runs
 * under ASan), the file reads to its end, and what cannot be decoded is counted. */
START_TEST(damaged_bytes_anywhere_never_break_the_reader)
{
    char *path = generate(vmms_ha, "base.evtx", "--chunk-records=1");
    char *bad = hvd_test_path(tmp, "bad.evtx");
    size_t len = 0;
    unsigned char *orig = (unsigned char *)hvd_test_read_file(path, &len);
    unsigned char *copy = malloc(len);
    unsigned long skipped = 0;

    ck_assert_ptr_nonnull(orig);
    ck_assert_ptr_nonnull(copy);
    ck_assert_uint_gt(len, 4096 + 65536);
    srand(13);
    for (int round = 0; round < 400; round++) {
        hvd_source_stats st;
        int flips = 1 + rand() % 16;

        memcpy(copy, orig, len);
        for (int i = 0; i < flips; i++) {
            /* Mostly the chunk headers and records, where the structure is. */
            size_t chunk = 4096 + (size_t)(rand() % (int)((len - 4096) / 65536)) * 65536;
            size_t at = chunk + (size_t)(rand() % 4096);

            copy[at] = (unsigned char)rand();
        }
        ck_assert_int_eq(hvd_test_write_file(bad, copy, len), 0);
        read_all(bad, &native, &st);
        skipped += st.skipped;
    }
    ck_assert_uint_gt(skipped, 0); /* the damage was seen, not ignored */
    free(orig);
    free(copy);
    free(bad);
    free(path);
}
END_TEST

#ifdef HVD_TESTING
/* Every allocation failing in turn: an error or a clean end, never a crash or a leak. */
START_TEST(allocation_failures_are_errors)
{
    char *path = generate(vmms_ha, "a.evtx", NULL);
    int completed = 0;

    for (unsigned long n = 1; n < 200 && !completed; n++) {
        hvd_source *s = NULL;
        hvd_event ev;
        hvd_error err;
        int rc;
        int events = 0;

        hvd_alloc_fail_after(n);
        rc = hvd_source_open(&s, path, &native, NULL, &err);
        if (rc == HVD_OK) {
            while ((rc = hvd_source_next(s, &ev, &err)) == 1) {
                events++;
            }
            completed = rc == 0 && events == 4 && hvd_source_get_stats(s)->skipped == 0;
            hvd_source_close(s);
        } else {
            ck_assert_int_eq(rc, HVD_ENOMEM);
        }
        hvd_alloc_fail_after(0);
    }
    ck_assert_int_eq(completed, 1);
    free(path);
}
END_TEST
#endif

/* The chunk checksums: libdeflate's CRC gives zlib's for every length, start value and
 * alignment, chained or in one call, long buffers (whole chunks) included. */
START_TEST(crc32_is_zlibs)
{
    static unsigned char b[65536 + 64];
    uint32_t x = 2463534242u;

    for (size_t i = 0; i < sizeof(b); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
    for (size_t len = 0; len < 700; len++) {
        for (size_t off = 0; off < 4; off++) {
            uint32_t start = (uint32_t)(len * 2654435761u);

            ck_assert_uint_eq(libdeflate_crc32(start, b + off, len),
                              (uint32_t)crc32(start, b + off, (uInt)len));
        }
    }
    for (size_t len = 65536 - 512 - 40; len <= 65536; len += 7) {
        uint32_t whole = (uint32_t)crc32(0, b + 1, (uInt)len);

        ck_assert_uint_eq(libdeflate_crc32(0, b + 1, len), whole);
        ck_assert_uint_eq(libdeflate_crc32(libdeflate_crc32(0, b + 1, 100), b + 101, len - 100),
                          whole);
    }
}
END_TEST

static Suite *evtx_native_suite(void)
{
    Suite *s = suite_create("evtx_native");
    TCase *tc = tcase_create("corpus");

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, forwarded_event_exports_are_read);
    suite_add_tcase(s, tc);
    tc = tcase_create("checksum");
    tcase_add_test(tc, crc32_is_zlibs);
    suite_add_tcase(s, tc);
    tc = tcase_create("generated");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, generated_fixture_gives_every_field);
    tcase_add_test(tc, forwarded_events_give_the_rendered_message);
    tcase_add_test(tc, positions_are_shared_with_the_libevtx_reader);
    tcase_add_test(tc, damaged_files_are_read_and_flagged);
    tcase_add_test(tc, damaged_bytes_anywhere_never_break_the_reader);
#ifdef HVD_TESTING
    tcase_add_test(tc, allocation_failures_are_errors);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(evtx_native_suite());
    int failed;

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
