/* Suite for bundle: folders, single files and zip archives expanded into inputs. */
#include "bundle.h"

#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A file that starts like an EVTX file: enough for kind detection. */
static const char evtx_head[16] = "ElfFile\0\0\0\0\0\0\0\0";
static const char clog_line[] =
    "00000f20.00001a34::2024/03/05-10:00:01.123 INFO  [RCM] rcm::RcmApi::MoveGroup\r\n";

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char *p = hvd_test_path(dir, name);

    ck_assert_int_eq(hvd_test_write_file(p, data, len), 0);
    free(p);
}

static void zip_add(struct archive *a, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
}

static const hvd_bundle_file *find(const hvd_bundle *b, const char *display_suffix)
{
    size_t n = strlen(display_suffix);

    for (size_t i = 0; i < hvd_bundle_count(b); i++) {
        const hvd_bundle_file *f = hvd_bundle_file_at(b, i);
        size_t m = strlen(f->display);

        if (m >= n && strcmp(f->display + m - n, display_suffix) == 0) {
            return f;
        }
    }
    return NULL;
}

START_TEST(folder_is_walked_and_unknown_files_skipped)
{
    char *sub = hvd_test_path(tmp, "node2");
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;
    const hvd_bundle_file *f;

    ck_assert_int_eq(mkdir(sub, 0700), 0);
    put(tmp, "HV-NODE01_cluster.log", clog_line, strlen(clog_line));
    put(tmp, "System.evtx", evtx_head, sizeof(evtx_head));
    put(tmp, "README.txt", "hello\n", 6);
    put(tmp, "fake.evtx", "not evtx at all\n", 16);
    put(sub, "HV-NODE02_cluster.log", clog_line, strlen(clog_line));
    paths[0] = tmp;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    ck_assert_uint_eq(hvd_bundle_count(b), 5);
    f = find(b, "/HV-NODE01_cluster.log");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    ck_assert_int_eq(f->kind, HVD_SOURCE_CLUSTERLOG);
    f = find(b, "/node2/HV-NODE02_cluster.log");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    f = find(b, "/System.evtx");
    ck_assert_int_eq(f->kind, HVD_SOURCE_EVTX);
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    f = find(b, "/README.txt");
    ck_assert_int_eq(f->status, HVD_BUNDLE_SKIPPED);
    f = find(b, "/fake.evtx");
    ck_assert_int_eq(f->status, HVD_BUNDLE_SKIPPED);
    ck_assert_ptr_nonnull(strstr(f->reason, "EVTX"));
    /* Sorted by display name. */
    for (size_t i = 1; i < hvd_bundle_count(b); i++) {
        ck_assert_int_lt(
            strcmp(hvd_bundle_file_at(b, i - 1)->display, hvd_bundle_file_at(b, i)->display), 0);
    }
    hvd_bundle_close(b);
    free(sub);
}
END_TEST

START_TEST(missing_path_is_an_error_entry_and_others_go_on)
{
    char *missing = hvd_test_path(tmp, "nope");
    char *log = hvd_test_path(tmp, "a_cluster.log");
    const char *paths[2];
    hvd_bundle *b = NULL;
    hvd_error err;

    put(tmp, "a_cluster.log", clog_line, strlen(clog_line));
    paths[0] = missing;
    paths[1] = log;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 2, NULL, NULL, &err), HVD_OK);
    ck_assert_uint_eq(hvd_bundle_count(b), 2);
    ck_assert_int_eq(find(b, "/nope")->status, HVD_BUNDLE_ERROR);
    ck_assert_ptr_nonnull(strstr(find(b, "/nope")->reason, "No such file"));
    ck_assert_int_eq(find(b, "/a_cluster.log")->status, HVD_BUNDLE_READ);
    hvd_bundle_close(b);
    free(missing);
    free(log);
}
END_TEST

START_TEST(named_text_file_is_read_whatever_its_name)
{
    char *p = hvd_test_path(tmp, "export.txt");
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;

    put(tmp, "export.txt", clog_line, strlen(clog_line));
    paths[0] = p;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_bundle_file_at(b, 0)->status, HVD_BUNDLE_READ);
    ck_assert_int_eq(hvd_bundle_file_at(b, 0)->kind, HVD_SOURCE_CLUSTERLOG);
    hvd_bundle_close(b);
    free(p);
}
END_TEST

START_TEST(zip_members_are_extracted_safely_and_removed_on_close)
{
    char *zip = hvd_test_path(tmp, "bundle.zip");
    char *outside = hvd_test_path(tmp, "evil.log");
    struct archive *a = archive_write_new();
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;
    const hvd_bundle_file *f;
    char *extracted;
    struct stat st;

    ck_assert_int_eq(archive_write_set_format_zip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, zip), ARCHIVE_OK);
    zip_add(a, "logs/HV-NODE01_cluster.log", clog_line, strlen(clog_line));
    zip_add(a, "logs/System.evtx", evtx_head, sizeof(evtx_head));
    zip_add(a, "notes.txt", "x\n", 2);
    zip_add(a, "../evil.log", clog_line, strlen(clog_line));
    zip_add(a, "/abs_cluster.log", clog_line, strlen(clog_line));
    zip_add(a, "inner.zip", "PK", 2);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);

    paths[0] = zip;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    f = find(b, "bundle.zip!/logs/HV-NODE01_cluster.log");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    ck_assert_int_eq(f->kind, HVD_SOURCE_CLUSTERLOG);
    ck_assert_int_eq(stat(f->path, &st), 0);
    extracted = strdup(f->path);
    f = find(b, "bundle.zip!/logs/System.evtx");
    ck_assert_int_eq(f->kind, HVD_SOURCE_EVTX);
    ck_assert_int_eq(find(b, "bundle.zip!/notes.txt")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_int_eq(find(b, "bundle.zip!/../evil.log")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_int_eq(find(b, "bundle.zip!//abs_cluster.log")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_int_eq(find(b, "bundle.zip!/inner.zip")->status, HVD_BUNDLE_SKIPPED);
    /* Nothing was written outside the extraction folder. */
    ck_assert_int_ne(stat(outside, &st), 0);
    ck_assert_int_ne(stat("/abs_cluster.log", &st), 0);
    hvd_bundle_close(b);
    ck_assert_int_ne(stat(extracted, &st), 0);
    free(extracted);
    free(zip);
    free(outside);
}
END_TEST

START_TEST(damaged_zip_is_an_error_entry)
{
    char *zip = hvd_test_path(tmp, "broken.zip");
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;

    static const char junk[] = "PK\003\004garbage garbage garbage";

    put(tmp, "broken.zip", junk, sizeof(junk) - 1);
    paths[0] = zip;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    ck_assert_uint_ge(hvd_bundle_count(b), 1);
    ck_assert_int_eq(find(b, "broken.zip")->status, HVD_BUNDLE_ERROR);
    hvd_bundle_close(b);
    free(zip);
}
END_TEST

START_TEST(zip_over_the_byte_limit_stops)
{
    char *zip = hvd_test_path(tmp, "big.zip");
    struct archive *a = archive_write_new();
    char *payload = malloc(100000);
    hvd_bundle_limits limits = {.max_archive_bytes = 150000, .max_archive_entries = 100};
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;
    int errors = 0;

    memset(payload, 'a', 100000);
    memcpy(payload, clog_line, strlen(clog_line));
    archive_write_set_format_zip(a);
    ck_assert_int_eq(archive_write_open_filename(a, zip), ARCHIVE_OK);
    zip_add(a, "one_cluster.log", payload, 100000);
    zip_add(a, "two_cluster.log", payload, 100000);
    archive_write_close(a);
    archive_write_free(a);
    paths[0] = zip;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, &limits, NULL, &err), HVD_OK);
    for (size_t i = 0; i < hvd_bundle_count(b); i++) {
        if (hvd_bundle_file_at(b, i)->status == HVD_BUNDLE_ERROR) {
            errors++;
            ck_assert_ptr_nonnull(strstr(hvd_bundle_file_at(b, i)->reason, "limit"));
        }
    }
    ck_assert_int_eq(errors, 1);
    hvd_bundle_close(b);
    free(payload);
    free(zip);
}
END_TEST

static Suite *bundle_suite(void)
{
    Suite *s = suite_create("bundle");
    TCase *tc = tcase_create("paths");

    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, folder_is_walked_and_unknown_files_skipped);
    tcase_add_test(tc, missing_path_is_an_error_entry_and_others_go_on);
    tcase_add_test(tc, named_text_file_is_read_whatever_its_name);
    suite_add_tcase(s, tc);
    tc = tcase_create("archives");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, zip_members_are_extracted_safely_and_removed_on_close);
    tcase_add_test(tc, damaged_zip_is_an_error_entry);
    tcase_add_test(tc, zip_over_the_byte_limit_stops);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bundle_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
