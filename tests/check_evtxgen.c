/*
 * Suite for the evtxgen fixture writer: its files are read back with libevtx itself (the
 * library hvdiag's reader wraps) and every value is compared with the XML it came from.
 */
#include "testutil.h"

#include <check.h>
#include <libevtx.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Runs evtxgen with up to two options; returns its exit status. */
static int evtxgen(const char *in, const char *out, const char *opt1, const char *opt2)
{
    char *argv[6];
    int n = 0;

    argv[n++] = EVTXGEN;
    if (opt1) {
        argv[n++] = (char *)opt1;
    }
    if (opt2) {
        argv[n++] = (char *)opt2;
    }
    argv[n++] = (char *)in;
    argv[n++] = (char *)out;
    argv[n] = NULL;
    return hvd_test_run(argv, NULL);
}

static libevtx_file_t *open_evtx(const char *path)
{
    libevtx_file_t *f = NULL;
    libevtx_error_t *e = NULL;

    ck_assert_int_eq(libevtx_file_initialize(&f, &e), 1);
    ck_assert_msg(libevtx_file_open(f, path, LIBEVTX_OPEN_READ, &e) == 1, "cannot open %s", path);
    return f;
}

static void close_evtx(libevtx_file_t *f)
{
    libevtx_file_close(f, NULL);
    libevtx_file_free(&f, NULL);
}

static int count_records(libevtx_file_t *f)
{
    int n = -1;

    ck_assert_int_eq(libevtx_file_get_number_of_records(f, &n, NULL), 1);
    return n;
}

static int count_recovered(libevtx_file_t *f)
{
    int n = -1;

    ck_assert_int_eq(libevtx_file_get_number_of_recovered_records(f, &n, NULL), 1);
    return n;
}

static int is_corrupted(libevtx_file_t *f)
{
    return libevtx_file_is_corrupted(f, NULL);
}

/* A libevtx UTF-8 string into buf; returns the accessor's result. */
typedef int (*string_fn)(libevtx_record_t *, uint8_t *, size_t, libevtx_error_t **);

static int record_string(libevtx_record_t *r, string_fn fn, char *buf, size_t cap)
{
    libevtx_error_t *e = NULL;
    int rc = fn(r, (uint8_t *)buf, cap, &e);

    libevtx_error_free(&e);
    return rc;
}

static const char vmms_ha[] = HVD_TEST_DATADIR "/evtx/vmms-ha.xml";

START_TEST(fixture_reads_back_with_every_value)
{
    char *out = hvd_test_path(tmp, "vmms-ha.evtx");
    libevtx_file_t *f;
    libevtx_record_t *r = NULL;
    char buf[8192];
    uint64_t id;
    uint32_t event_id;
    uint8_t level;
    int n;

    ck_assert_int_eq(evtxgen(vmms_ha, out, NULL, NULL), 0);
    f = open_evtx(out);
    ck_assert_int_eq(count_records(f), 4);
    ck_assert_int_eq(count_recovered(f), 0);
    ck_assert_int_eq(is_corrupted(f), 0);

    /* Record 1: VMMS 14050 on HV-NODE02. */
    ck_assert_int_eq(libevtx_file_get_record_by_index(f, 0, &r, NULL), 1);
    ck_assert_int_eq(libevtx_record_get_identifier(r, &id, NULL), 1);
    ck_assert_uint_eq(id, 1);
    ck_assert_int_eq(libevtx_record_get_event_identifier(r, &event_id, NULL), 1);
    ck_assert_uint_eq(event_id, 14050);
    ck_assert_int_eq(libevtx_record_get_event_level(r, &level, NULL), 1);
    ck_assert_uint_eq(level, 2);
    /* The provider GUID accessor must come before the source name (libevtx 20181227). */
    ck_assert_int_eq(
        record_string(r, libevtx_record_get_utf8_provider_identifier, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "{6066F867-7CA1-4418-85FD-36E3F9C0600C}");
    ck_assert_int_eq(record_string(r, libevtx_record_get_utf8_source_name, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "Microsoft-Windows-Hyper-V-VMMS");
    ck_assert_int_eq(record_string(r, libevtx_record_get_utf8_computer_name, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "HV-NODE02.contoso.local");
    ck_assert_int_eq(
        record_string(r, libevtx_record_get_utf8_user_security_identifier, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "S-1-5-18");
    ck_assert_int_eq(libevtx_record_get_number_of_strings(r, &n, NULL), 1);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(libevtx_record_get_utf8_string(r, 0, (uint8_t *)buf, sizeof(buf), NULL), 1);
    ck_assert_str_eq(buf, "Microsoft Virtual System Migration Service");
    ck_assert_int_eq(libevtx_record_get_utf8_xml_string(r, (uint8_t *)buf, sizeof(buf), NULL), 1);
    ck_assert_ptr_nonnull(strstr(buf, "<Channel>Microsoft-Windows-Hyper-V-VMMS-Admin</Channel>"));
    ck_assert_ptr_nonnull(strstr(buf, "<EventRecordID>311</EventRecordID>"));
    ck_assert_ptr_nonnull(strstr(buf, "SystemTime=\"2024-03-05T09:02:11.123456700Z\""));
    ck_assert_ptr_nonnull(strstr(buf, "<Keywords>0x8000000000000000</Keywords>"));
    ck_assert_ptr_nonnull(strstr(buf, "<Execution ProcessID=\"2468\" ThreadID=\"4321\"/>"));
    ck_assert_ptr_nonnull(
        strstr(buf, "<Data Name=\"Parameter0\">Microsoft Virtual System Migration Service</Data>"));
    libevtx_record_free(&r, NULL);

    /* Record 3: HA 21502 with three insert strings, the template of record 1 reused. */
    ck_assert_int_eq(libevtx_file_get_record_by_index(f, 2, &r, NULL), 1);
    ck_assert_int_eq(libevtx_record_get_event_identifier(r, &event_id, NULL), 1);
    ck_assert_uint_eq(event_id, 21502);
    ck_assert_int_eq(record_string(r, libevtx_record_get_utf8_computer_name, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "HV-NODE01.contoso.local");
    ck_assert_int_eq(libevtx_record_get_number_of_strings(r, &n, NULL), 1);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(libevtx_record_get_utf8_string(r, 2, (uint8_t *)buf, sizeof(buf), NULL), 1);
    ck_assert_ptr_nonnull(strstr(buf, "with host 'HV-NODE02.contoso.local'"));
    ck_assert_ptr_nonnull(strstr(buf, "(0x80090303)"));
    libevtx_record_free(&r, NULL);

    /* Record 4: UserData leaves are the strings; escaping survives. */
    ck_assert_int_eq(libevtx_file_get_record_by_index(f, 3, &r, NULL), 1);
    ck_assert_int_eq(libevtx_record_get_event_level(r, &level, NULL), 1);
    ck_assert_uint_eq(level, 4);
    ck_assert_int_eq(
        record_string(r, libevtx_record_get_utf8_user_security_identifier, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "S-1-5-21-1004336348-1177238915-682003330-512");
    ck_assert_int_eq(libevtx_record_get_number_of_strings(r, &n, NULL), 1);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(libevtx_record_get_utf8_string(r, 0, (uint8_t *)buf, sizeof(buf), NULL), 1);
    ck_assert_str_eq(buf, "SQL01");
    ck_assert_int_eq(libevtx_record_get_utf8_string(r, 2, (uint8_t *)buf, sizeof(buf), NULL), 1);
    ck_assert_ptr_nonnull(strstr(buf, "r&d <tag> \"q\" caf\xc3\xa9"));
    ck_assert_int_eq(libevtx_record_get_utf8_xml_string(r, (uint8_t *)buf, sizeof(buf), NULL), 1);
    ck_assert_ptr_nonnull(strstr(buf, "<VmName>SQL01</VmName>"));
    ck_assert_ptr_nonnull(strstr(buf, "ActivityID=\"{11111111-2222-3333-4444-555555555555}\""));
    ck_assert_ptr_nonnull(strstr(buf, "r&amp;d &lt;tag&gt;"));
    libevtx_record_free(&r, NULL);
    close_evtx(f);
    free(out);
}
END_TEST

/* Writes n synthetic events to path, in several shapes, numbered from 1. */
static void write_many(const char *path, int n)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "<Events>\n");
    for (int i = 0; i < n; i++) {
        fprintf(f,
                "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
                "<Provider Name='Microsoft-Windows-FailoverClustering' "
                "Guid='{BAF908EA-3421-4CA9-9B84-6689B8C6F85F}'/>"
                "<EventID>%d</EventID><Level>%d</Level>"
                "<TimeCreated SystemTime='2024-03-05T10:%02d:%02d.000Z'/>"
                "<EventRecordID>%d</EventRecordID><Channel>System</Channel>"
                "<Computer>HV-NODE%02d.contoso.local</Computer></System>"
                "<EventData><Data Name='ResourceName'>Virtual Machine VM%04d</Data>"
                "%s</EventData></Event>\n",
                i % 3 ? 1069 : 1135, 1 + i % 4, (i / 60) % 60, i % 60, 1000 + i, i % 4, i,
                i % 2 ? "<Data Name='ResourceGroup'>grp</Data>" : "");
    }
    fprintf(f, "</Events>\n");
    fclose(f);
}

START_TEST(many_records_span_chunks_and_all_read)
{
    char *in = hvd_test_path(tmp, "many.xml");
    char *out = hvd_test_path(tmp, "many.evtx");
    libevtx_file_t *f;
    struct stat st;
    int n;

    write_many(in, 1500);
    ck_assert_int_eq(evtxgen(in, out, NULL, NULL), 0);
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq((st.st_size - 4096) % 65536, 0);
    ck_assert_int_ge((st.st_size - 4096) / 65536, 3);
    f = open_evtx(out);
    n = count_records(f);
    ck_assert_int_eq(n, 1500);
    ck_assert_int_eq(is_corrupted(f), 0);
    for (int i = 0; i < n; i++) {
        libevtx_record_t *r = NULL;
        uint32_t event_id;
        uint64_t id;
        char buf[256];

        ck_assert_int_eq(libevtx_file_get_record_by_index(f, i, &r, NULL), 1);
        ck_assert_int_eq(libevtx_record_get_identifier(r, &id, NULL), 1);
        ck_assert_uint_eq(id, (uint64_t)i + 1);
        ck_assert_int_eq(libevtx_record_get_event_identifier(r, &event_id, NULL), 1);
        ck_assert_uint_eq(event_id, i % 3 ? 1069 : 1135);
        ck_assert_int_eq(libevtx_record_get_utf8_string(r, 0, (uint8_t *)buf, sizeof(buf), NULL),
                         1);
        snprintf(buf + 128, 64, "Virtual Machine VM%04d", i);
        ck_assert_str_eq(buf, buf + 128);
        libevtx_record_free(&r, NULL);
    }
    close_evtx(f);
    free(in);
    free(out);
}
END_TEST

/* Records of many sizes, so that some chunk fills to its last byte: libevtx drops a record
 * that ends exactly at the end of a chunk, so the writer must never do that. */
START_TEST(no_record_is_lost_at_a_chunk_boundary)
{
    char *in = hvd_test_path(tmp, "sizes.xml");
    char *out = hvd_test_path(tmp, "sizes.evtx");
    FILE *f = fopen(in, "w");
    libevtx_file_t *ef;

    ck_assert_ptr_nonnull(f);
    fprintf(f, "<Events>\n");
    for (int i = 0; i < 6000; i++) {
        fprintf(f,
                "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
                "<Provider Name='P'/><EventID>1</EventID><EventRecordID>%d</EventRecordID>"
                "</System><EventData><Data Name='a'>%.*s</Data></EventData></Event>\n",
                i + 1, 1 + (i * 13) % 97,
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxx");
    }
    fprintf(f, "</Events>\n");
    fclose(f);
    ck_assert_int_eq(evtxgen(in, out, NULL, NULL), 0);
    ef = open_evtx(out);
    ck_assert_int_eq(count_records(ef), 6000);
    close_evtx(ef);
    free(in);
    free(out);
}
END_TEST

START_TEST(chunk_records_option_starts_new_chunks)
{
    char *out = hvd_test_path(tmp, "split.evtx");
    libevtx_file_t *f;
    struct stat st;

    ck_assert_int_eq(evtxgen(vmms_ha, out, "--chunk-records=1", NULL), 0);
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq(st.st_size, 4096 + 4 * 65536);
    f = open_evtx(out);
    ck_assert_int_eq(count_records(f), 4);
    ck_assert_int_eq(is_corrupted(f), 0);
    close_evtx(f);
    free(out);
}
END_TEST

/* Each damage option and what libevtx 20181227 does with it. */
static const struct damage {
    const char *opt1;
    const char *opt2;
    int corrupted;
    int records;
    int recovered_min;
} damages[] = {
    {"--corrupt=chunk-crc", NULL, 1, 4, 0},  {"--corrupt=data-crc", NULL, 1, 4, 0},
    {"--corrupt=header-crc", NULL, 1, 4, 0}, {"--dirty", NULL, 0, 4, 0},
    {"--stale-record", NULL, 0, 4, 1},       {"--chunk-count=0", NULL, 1, 0, 4},
    {"--chunk-count=0", "--dirty", 1, 4, 0}, {"--truncate", NULL, 1, 0, 0},
};

START_TEST(damage_options_give_the_libevtx_behaviour)
{
    const struct damage *d = &damages[_i];
    char *out = hvd_test_path(tmp, "damaged.evtx");
    libevtx_file_t *f;

    ck_assert_int_eq(evtxgen(vmms_ha, out, d->opt1, d->opt2), 0);
    f = open_evtx(out);
    ck_assert_msg(is_corrupted(f) == d->corrupted, "%s: corrupted=%d", d->opt1, is_corrupted(f));
    ck_assert_msg(count_records(f) == d->records, "%s: records=%d", d->opt1, count_records(f));
    ck_assert_msg(count_recovered(f) >= d->recovered_min, "%s: recovered=%d", d->opt1,
                  count_recovered(f));
    close_evtx(f);
    free(out);
}
END_TEST

START_TEST(malformed_input_names_file_and_line_and_leaves_no_output)
{
    char *in = hvd_test_path(tmp, "bad.xml");
    char *out = hvd_test_path(tmp, "bad.evtx");
    char *err = hvd_test_path(tmp, "stderr.txt");
    static const char bad[] =
        "<Events>\n"
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<EventID>1</EventID></System></Event>\n"
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\n"
        "<EventID>notanumber</EventID></System></Event>\n"
        "</Events>\n";
    struct stat st;

    char *argv[] = {EVTXGEN, in, out, NULL};
    char *msg;

    ck_assert_int_eq(hvd_test_write_file(in, bad, sizeof(bad) - 1), 0);
    ck_assert_int_eq(hvd_test_run_io(argv, NULL, err), 1);
    ck_assert_int_ne(stat(out, &st), 0);
    msg = hvd_test_read_file(err, NULL);
    ck_assert_ptr_nonnull(strstr(msg, "bad.xml:3: bad EventID"));
    free(msg);
    /* Unclosed element: a parse error. */
    ck_assert_int_eq(hvd_test_write_file(in, "<Events><Event>\n<System>", 24), 0);
    ck_assert_int_eq(evtxgen(in, out, NULL, NULL), 1);
    ck_assert_int_ne(stat(out, &st), 0);
    free(in);
    free(out);
    free(err);
}
END_TEST

START_TEST(python_evtx_reads_the_files_too)
{
    char *out = hvd_test_path(tmp, "py.evtx");
    char *many_in = hvd_test_path(tmp, "many.xml");
    char *many_out = hvd_test_path(tmp, "many.evtx");
    struct stat st;
    char *argv[5];

    if (stat("/usr/bin/python3", &st) != 0 ||
        hvd_test_run((char *[]){"/usr/bin/python3", "-c", "import Evtx.Evtx", NULL}, NULL) != 0) {
        fprintf(stderr, "python3-evtx not installed: cross-check skipped\n");
        return;
    }
    ck_assert_int_eq(evtxgen(vmms_ha, out, NULL, NULL), 0);
    write_many(many_in, 700);
    ck_assert_int_eq(evtxgen(many_in, many_out, NULL, NULL), 0);
    argv[0] = "/usr/bin/python3";
    argv[1] = HVD_TEST_SRCDIR "/tests/tools/pyevtx_check.py";
    argv[2] = out;
    argv[3] = "4:14050,14050,21502,18304";
    argv[4] = NULL;
    ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
    argv[2] = many_out;
    argv[3] = "700";
    ck_assert_int_eq(hvd_test_run(argv, NULL), 0);
    free(out);
    free(many_in);
    free(many_out);
}
END_TEST

static Suite *evtxgen_suite(void)
{
    Suite *s = suite_create("evtxgen");
    TCase *tc = tcase_create("roundtrip");

    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fixture_reads_back_with_every_value);
    tcase_add_test(tc, many_records_span_chunks_and_all_read);
    tcase_add_test(tc, chunk_records_option_starts_new_chunks);
    tcase_add_test(tc, no_record_is_lost_at_a_chunk_boundary);
    tcase_add_test(tc, malformed_input_names_file_and_line_and_leaves_no_output);
    tcase_add_test(tc, python_evtx_reads_the_files_too);
    suite_add_tcase(s, tc);
    tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_loop_test(tc, damage_options_give_the_libevtx_behaviour, 0,
                        (int)(sizeof(damages) / sizeof(damages[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(evtxgen_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
