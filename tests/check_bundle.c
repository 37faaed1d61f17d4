/* Suite for bundle: folders, single files and zip archives expanded into inputs. */
#include "bundle.h"

#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;
static char *ttmp;      /* $TMPDIR of the code under test: must be empty after every close */
static char *saved_tmp; /* $TMPDIR before, back after each test (CK_FORK=no runs them all) */

static void tmp_setup(void)
{
    saved_tmp = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    tmp = hvd_test_tmpdir();
    ttmp = hvd_test_path(tmp, "TMPDIR");
    ck_assert_int_eq(mkdir(ttmp, 0700), 0);
    ck_assert_int_eq(setenv("TMPDIR", ttmp, 1), 0);
}

static void tmp_teardown(void)
{
    hvd_test_rmtree(tmp);
    free(ttmp);
    free(tmp);
    if (saved_tmp) {
        setenv("TMPDIR", saved_tmp, 1);
    } else {
        unsetenv("TMPDIR");
    }
    free(saved_tmp);
}

/* Nothing left in the bundle's temporary folder. */
static void assert_tmpdir_empty(void)
{
    DIR *d = opendir(ttmp);
    struct dirent *de;
    int left = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            left++;
        }
    }
    closedir(d);
    ck_assert_int_eq(left, 0);
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

static struct archive *zip_create(const char *path)
{
    struct archive *a = archive_write_new();

    ck_assert_int_eq(archive_write_set_format_zip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    return a;
}

static void archive_done(struct archive *a)
{
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
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
    put(tmp, "excerpt.txt", clog_line, strlen(clog_line));
    put(sub, "HV-NODE02_cluster.log", clog_line, strlen(clog_line));
    paths[0] = tmp;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    ck_assert_uint_eq(hvd_bundle_count(b), 6);
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
    /* An excerpt saved as .txt: known by its lines. */
    f = find(b, "/excerpt.txt");
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    ck_assert_int_eq(f->kind, HVD_SOURCE_CLUSTERLOG);
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
    ck_assert_int_eq(find(b, "big.zip!/two_cluster.log")->status, HVD_BUNDLE_ERROR);
    ck_assert_uint_eq(hvd_bundle_extracted_bytes(b), 100000);
    hvd_bundle_close(b);
    assert_tmpdir_empty();
    free(payload);
    free(zip);
}
END_TEST

START_TEST(sparse_member_counts_at_its_logical_size)
{
    char *tar = hvd_test_path(tmp, "sparse.tar");
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    hvd_bundle_limits small = {.max_archive_bytes = 64 * 1024};
    hvd_bundle_limits roomy = {.max_archive_bytes = 1024 * 1024};
    char text[2048];
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;
    const hvd_bundle_file *f;
    struct stat st;

    /* 200000 logical bytes: 1 KiB of lines at the start and at the end, a hole between. */
    for (size_t i = 0; i < sizeof(text); i++) {
        text[i] = clog_line[i % strlen(clog_line)];
    }
    ck_assert_int_eq(archive_write_set_format_pax(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, tar), ARCHIVE_OK);
    archive_entry_set_pathname(e, "HV1_cluster.log");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 200000);
    archive_entry_sparse_add_entry(e, 0, 1024);
    archive_entry_sparse_add_entry(e, 200000 - 1024, 1024);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(a, text, sizeof(text)), (la_ssize_t)sizeof(text));
    archive_entry_free(e);
    archive_done(a);
    paths[0] = tar;

    /* Over the limit: refused, nothing written, the archive and member named. */
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, &small, NULL, &err), HVD_OK);
    f = find(b, "sparse.tar!/HV1_cluster.log");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_ERROR);
    ck_assert_ptr_nonnull(strstr(f->reason, "limit of 64 KiB"));
    ck_assert_ptr_nonnull(strstr(f->reason, "--max-extract"));
    ck_assert_uint_eq(hvd_bundle_extracted_bytes(b), 0);
    hvd_bundle_close(b);
    assert_tmpdir_empty();

    /* Within it: extracted whole, holes included, and charged at 200000 bytes. */
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, &roomy, NULL, &err), HVD_OK);
    f = find(b, "sparse.tar!/HV1_cluster.log");
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    ck_assert_int_eq(stat(f->path, &st), 0);
    ck_assert_int_eq(st.st_size, 200000);
    ck_assert_uint_eq(hvd_bundle_extracted_bytes(b), 200000);
    ck_assert_int_eq(f->kind, HVD_SOURCE_CLUSTERLOG);
    hvd_bundle_close(b);
    assert_tmpdir_empty();
    free(tar);
}
END_TEST

START_TEST(sparse_10gib_regression_archive_is_refused)
{
    const char *paths[1] = {HVD_TEST_DATADIR "/bundle/bundle-sparse-10GiB.tar"};
    hvd_bundle *b = NULL;
    hvd_error err;
    const hvd_bundle_file *f;

    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    f = find(b, "bundle-sparse-10GiB.tar!/HV1_cluster.log");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_ERROR);
    ck_assert_ptr_nonnull(strstr(f->reason, "10737418242"));
    ck_assert_ptr_nonnull(strstr(f->reason, "limit"));
    ck_assert_uint_eq(hvd_bundle_extracted_bytes(b), 0);
    hvd_bundle_close(b);
    assert_tmpdir_empty();
}
END_TEST

/* "a/a/.../name" with 'depth' folders. */
static char *deep_name(int depth, const char *name)
{
    size_t n = (size_t)depth * 2 + strlen(name) + 1;
    char *p = malloc(n);

    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < depth; i++) {
        memcpy(p + 2 * i, "a/", 2);
    }
    memcpy(p + 2 * depth, name, strlen(name) + 1);
    return p;
}

START_TEST(deep_members_are_refused_and_the_tree_is_removed)
{
    char *zip = hvd_test_path(tmp, "deep.zip");
    char *ok_name = deep_name(32, "HV1_cluster.log");
    char *deep = deep_name(300, "HV2_cluster.log");
    struct archive *a = zip_create(zip);
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;
    const hvd_bundle_file *f;
    char *extracted;
    struct stat st;

    zip_add(a, ok_name, clog_line, strlen(clog_line));
    zip_add(a, deep, clog_line, strlen(clog_line));
    archive_done(a);
    paths[0] = zip;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    f = find(b, "/a/HV1_cluster.log");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    ck_assert_int_eq(stat(f->path, &st), 0);
    extracted = strdup(f->path);
    f = find(b, "/a/HV2_cluster.log");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_SKIPPED);
    ck_assert_ptr_nonnull(strstr(f->reason, "nested deeper"));
    hvd_bundle_close(b);
    ck_assert_int_ne(stat(extracted, &st), 0);
    assert_tmpdir_empty();
    free(extracted);
    free(ok_name);
    free(deep);
    free(zip);
}
END_TEST

START_TEST(deep_nesting_regression_archive_leaves_nothing)
{
    const char *paths[1] = {HVD_TEST_DATADIR "/bundle/bundle-deep-nesting-tmp-leak.zip"};
    hvd_bundle *b = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    ck_assert_int_eq(find(b, "/a/HV1_cluster.log")->status, HVD_BUNDLE_SKIPPED);
    /* Nothing readable in it: the archive itself is an error. */
    ck_assert_int_eq(find(b, "bundle-deep-nesting-tmp-leak.zip")->status, HVD_BUNDLE_ERROR);
    hvd_bundle_close(b);
    assert_tmpdir_empty();
}
END_TEST

static void expect_one_error(const char *path, const char *reason_part)
{
    const char *paths[1] = {path};
    hvd_bundle *b = NULL;
    hvd_error err;
    const hvd_bundle_file *f;

    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    f = find(b, path);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->status, HVD_BUNDLE_ERROR);
    ck_assert_msg(strstr(f->reason, reason_part), "%s: reason '%s'", path, f->reason);
    hvd_bundle_close(b);
    assert_tmpdir_empty();
}

START_TEST(empty_inputs_are_errors_naming_the_input)
{
    char *zero_zip = hvd_test_path(tmp, "zero.zip");
    char *empty_zip = hvd_test_path(tmp, "empty.zip");
    char *zero_log = hvd_test_path(tmp, "zero_cluster.log");
    char *dir = hvd_test_path(tmp, "emptydir");
    char *other = hvd_test_path(tmp, "otherdir");
    struct archive *a;

    put(tmp, "zero.zip", "", 0);
    put(tmp, "zero_cluster.log", "", 0);
    a = zip_create(empty_zip);
    archive_done(a);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(mkdir(other, 0700), 0);
    put(other, "README.txt", "hello\n", 6);
    expect_one_error(zero_zip, "");
    expect_one_error(empty_zip, "nothing to read");
    expect_one_error(zero_log, "empty file");
    expect_one_error(dir, "nothing to read");
    expect_one_error(other, "no .evtx or cluster.log file in it (1 skipped)");
    free(zero_zip);
    free(empty_zip);
    free(zero_log);
    free(dir);
    free(other);
}
END_TEST

/* Fails any write past 'bytes' with EFBIG instead of killing the process. */
static struct rlimit fsize_before;

/* Caps the size of files this process writes (the soft limit, so it can be undone). */
static void cap_file_size(rlim_t bytes)
{
    struct rlimit rl;

    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &fsize_before), 0);
    rl.rlim_cur = bytes;
    rl.rlim_max = fsize_before.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void uncap_file_size(void)
{
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &fsize_before), 0);
    signal(SIGXFSZ, SIG_DFL);
}

START_TEST(members_are_checked_before_they_are_written)
{
    char *zip = hvd_test_path(tmp, "zeros.zip");
    struct archive *a = zip_create(zip);
    struct archive_entry *e = archive_entry_new();
    const size_t chunk = 1 << 20;
    const la_int64_t zeros = (la_int64_t)2 << 30; /* 2 GiB */
    char *buf = calloc(1, chunk);
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;
    const hvd_bundle_file *f;

    /* A 2 GiB member of zeros named like a cluster.log, and small fakes. */
    ck_assert_ptr_nonnull(buf);
    archive_entry_set_pathname(e, "HV1_cluster.log");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, zeros);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    for (la_int64_t done = 0; done < zeros; done += (la_int64_t)chunk) {
        ck_assert_int_eq(archive_write_data(a, buf, chunk), (la_ssize_t)chunk);
    }
    archive_entry_free(e);
    zip_add(a, "System.evtx", "ElfChnk\0 not a file header", 27);
    zip_add(a, "binary.log", "\x01\x00\x02\x00\x00\x00", 6);
    zip_add(a, "readme.txt", "Exported from HV-NODE01 at 10:00:01.123 INFO\n", 45);
    zip_add(a, "excerpt.txt", clog_line, strlen(clog_line));
    zip_add(a, "Application.bin", evtx_head, sizeof(evtx_head));
    archive_done(a);
    free(buf);

    /* From here no file may grow past 1 MiB: writing the zeros out would fail. */
    cap_file_size(1 << 20);
    paths[0] = zip;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    f = find(b, "zeros.zip!/HV1_cluster.log");
    ck_assert_int_eq(f->status, HVD_BUNDLE_SKIPPED);
    ck_assert_ptr_nonnull(strstr(f->reason, "not an .evtx or cluster.log"));
    f = find(b, "zeros.zip!/System.evtx");
    ck_assert_int_eq(f->status, HVD_BUNDLE_SKIPPED);
    ck_assert_ptr_nonnull(strstr(f->reason, "bad signature"));
    ck_assert_int_eq(find(b, "zeros.zip!/binary.log")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_int_eq(find(b, "zeros.zip!/readme.txt")->status, HVD_BUNDLE_SKIPPED);
    /* Text is a cluster.log by its name or by its lines. */
    ck_assert_int_eq(find(b, "zeros.zip!/excerpt.txt")->status, HVD_BUNDLE_READ);
    /* An EVTX is known by its signature, whatever its name. */
    f = find(b, "zeros.zip!/Application.bin");
    ck_assert_int_eq(f->status, HVD_BUNDLE_READ);
    ck_assert_int_eq(f->kind, HVD_SOURCE_EVTX);
    /* Only those two members reached the disk. */
    ck_assert_uint_eq(hvd_bundle_extracted_bytes(b), sizeof(evtx_head) + strlen(clog_line));
    hvd_bundle_close(b);
    uncap_file_size();
    assert_tmpdir_empty();
    free(zip);
}
END_TEST

START_TEST(links_and_control_characters_in_names_are_refused)
{
    char *tar = hvd_test_path(tmp, "links.tar");
    char *outside = hvd_test_path(tmp, "target_cluster.log");
    struct archive *a = archive_write_new();
    struct archive_entry *e;
    const char *paths[1];
    hvd_bundle *b = NULL;
    hvd_error err;
    struct stat st;

    put(tmp, "target_cluster.log", clog_line, strlen(clog_line));
    ck_assert_int_eq(archive_write_set_format_pax(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, tar), ARCHIVE_OK);
    e = archive_entry_new();
    archive_entry_set_pathname(e, "sym_cluster.log");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_symlink(e, outside);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
    e = archive_entry_new();
    archive_entry_set_pathname(e, "hard_cluster.log");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_hardlink(e, outside);
    archive_entry_set_size(e, 0);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
    zip_add(a, "esc\033[2J_cluster.log", clog_line, strlen(clog_line));
    zip_add(a, "../up_cluster.log", clog_line, strlen(clog_line));
    archive_done(a);
    paths[0] = tar;
    ck_assert_int_eq(hvd_bundle_open(&b, paths, 1, NULL, NULL, &err), HVD_OK);
    ck_assert_int_eq(find(b, "links.tar!/sym_cluster.log")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_int_eq(find(b, "links.tar!/hard_cluster.log")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_int_eq(find(b, "2J_cluster.log")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_ptr_nonnull(strstr(find(b, "2J_cluster.log")->reason, "control"));
    ck_assert_int_eq(find(b, "links.tar!/../up_cluster.log")->status, HVD_BUNDLE_SKIPPED);
    ck_assert_uint_eq(hvd_bundle_extracted_bytes(b), 0);
    hvd_bundle_close(b);
    /* The link target is untouched. */
    ck_assert_int_eq(stat(outside, &st), 0);
    ck_assert_int_eq(st.st_size, (off_t)strlen(clog_line));
    assert_tmpdir_empty();
    free(outside);
    free(tar);
}
END_TEST

START_TEST(default_limit_is_capped_by_free_space)
{
    uint64_t lim = hvd_bundle_default_max_extract();

    ck_assert_uint_gt(lim, 0);
    ck_assert_uint_le(lim, HVD_BUNDLE_MAX_EXTRACT_CAP);
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
    tcase_add_test(tc, sparse_member_counts_at_its_logical_size);
    tcase_add_test(tc, sparse_10gib_regression_archive_is_refused);
    tcase_add_test(tc, deep_members_are_refused_and_the_tree_is_removed);
    tcase_add_test(tc, deep_nesting_regression_archive_leaves_nothing);
    tcase_add_test(tc, empty_inputs_are_errors_naming_the_input);
    tcase_add_test(tc, members_are_checked_before_they_are_written);
    tcase_add_test(tc, links_and_control_characters_in_names_are_refused);
    tcase_add_test(tc, default_limit_is_capped_by_free_space);
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
