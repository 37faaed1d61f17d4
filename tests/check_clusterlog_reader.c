/* Suite for the cluster.log reader and the text decoder behind it. */
#include "clusterlog_reader.h"

#include "alloc.h"
#include "hvtime.h"
#include "source.h"
#include "testutil.h"
#include "text.h"

#include <check.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA HVD_TEST_DATADIR "/clusterlog/"

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

/* A copy of src in another encoding (iconv name), with an optional BOM. */
static char *recode(const char *src, const char *name, const char *to, const char *bom,
                    size_t bom_len)
{
    size_t len;
    char *in = hvd_test_read_file(src, &len);
    size_t cap = 4 * len + 16;
    char *out = malloc(cap);
    char *ip = in;
    char *op = out + bom_len;
    size_t il = len;
    size_t ol = cap - bom_len;
    iconv_t cd = iconv_open(to, "UTF-8");
    char *path = hvd_test_path(tmp, name);

    ck_assert_ptr_nonnull(in);
    ck_assert(cd != (iconv_t)-1);
    memcpy(out, bom, bom_len);
    ck_assert_int_ne(iconv(cd, &ip, &il, &op, &ol), (size_t)-1);
    iconv_close(cd);
    ck_assert_int_eq(hvd_test_write_file(path, out, (size_t)(op - out)), 0);
    free(in);
    free(out);
    return path;
}

/* Events of a file as text lines "time|host|tag|level|component|message", one per event. */
static char *events_text(const char *path, const hvd_source_options *opt, hvd_source_stats *stats)
{
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char *acc = calloc(1, 1);
    size_t len = 0;
    int rc;

    ck_assert_msg(hvd_source_open(&s, path, opt, NULL, &err) == HVD_OK, "%s", err.msg);
    ck_assert_int_eq(hvd_source_get_kind(s), HVD_SOURCE_CLUSTERLOG);
    while ((rc = hvd_source_next(s, &ev, &err)) == 1) {
        char t[40];
        char line[4096];
        int n = snprintf(line, sizeof(line), "%s|%s|%s|%u|%s|%s\n",
                         hvd_time_format(ev.time, t, sizeof(t)), ev.host, ev.channel, ev.level,
                         ev.component, ev.message);

        acc = realloc(acc, len + (size_t)n + 1);
        memcpy(acc + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    ck_assert_int_eq(rc, 0);
    if (stats) {
        *stats = *hvd_source_get_stats(s);
    }
    hvd_source_close(s);
    return acc;
}

START_TEST(text_detects_encodings)
{
    static const unsigned char utf16[] = {'0', 0, '0', 0, '1', 0, '.', 0};
    static const unsigned char bom16[] = {0xFF, 0xFE, 'a', 0};
    static const unsigned char bom8[] = {0xEF, 0xBB, 0xBF, 'a'};
    static const unsigned char cp1252[] = {'c', 'a', 'f', 0xE9, ' ', 'x'};
    static const unsigned char utf8[] = {'c', 'a', 'f', 0xC3, 0xA9};
    size_t bom;

    ck_assert_int_eq(hvd_text_detect(utf16, sizeof(utf16), &bom), HVD_ENC_UTF16LE);
    ck_assert_uint_eq(bom, 0);
    ck_assert_int_eq(hvd_text_detect(bom16, sizeof(bom16), &bom), HVD_ENC_UTF16LE);
    ck_assert_uint_eq(bom, 2);
    ck_assert_int_eq(hvd_text_detect(bom8, sizeof(bom8), &bom), HVD_ENC_UTF8);
    ck_assert_uint_eq(bom, 3);
    ck_assert_int_eq(hvd_text_detect(cp1252, sizeof(cp1252), &bom), HVD_ENC_CP1252);
    ck_assert_int_eq(hvd_text_detect(utf8, sizeof(utf8), &bom), HVD_ENC_UTF8);
}
END_TEST

START_TEST(text_replaces_bad_input_and_counts_it)
{
    /* "a", a lone low surrogate, "b", then half a code unit. */
    static const unsigned char in16[] = {'a', 0, 0x00, 0xDC, 'b', 0, 'c'};
    static const unsigned char in8[] = {'x', 0xFF, 'y'};
    hvd_text_decoder *d = NULL;
    hvd_buf out;
    uint64_t bad = 0;

    hvd_buf_init(&out, 1024);
    ck_assert_int_eq(hvd_text_decoder_create(&d, HVD_ENC_UTF16LE, NULL), HVD_OK);
    ck_assert_int_eq(hvd_text_decode(d, in16, sizeof(in16), &out, &bad), HVD_OK);
    ck_assert_str_eq(hvd_buf_str(&out), "a\xEF\xBF\xBD"
                                        "b\xEF\xBF\xBD");
    ck_assert_uint_eq(bad, 2);
    hvd_text_decoder_destroy(d);
    hvd_buf_reset(&out);
    bad = 0;
    ck_assert_int_eq(hvd_text_decoder_create(&d, HVD_ENC_UTF8, NULL), HVD_OK);
    ck_assert_int_eq(hvd_text_decode(d, in8, sizeof(in8), &out, &bad), HVD_OK);
    ck_assert_str_eq(hvd_buf_str(&out), "x\xEF\xBF\xBDy");
    ck_assert_uint_eq(bad, 1);
    hvd_text_decoder_destroy(d);
    hvd_buf_free(&out);
}
END_TEST

START_TEST(each_generation_reads_with_its_fields)
{
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char t[40];

    ck_assert_int_eq(hvd_source_open(&s, DATA "ws2008r2_cluster.log", NULL, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_str_eq(hvd_time_format(ev.time, t, sizeof(t)), "2010-05-12T18:32:28.1630000Z");
    ck_assert_uint_eq(ev.pid, 0x7b8);
    ck_assert_uint_eq(ev.tid, 0xd1c);
    ck_assert_str_eq(ev.component, "RCM");
    ck_assert_str_eq(ev.level_word, "INFO");
    ck_assert_str_eq(ev.message, "rcm::RcmApi::MoveGroup: (Virtual Machine SQL01, 2)");
    ck_assert_str_eq(hvd_event_field(&ev, "pid"), "000007b8");
    ck_assert_uint_eq(ev.line, 1);
    ck_assert_uint_eq(ev.byte_offset, 0);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.line, 2);
    ck_assert_uint_eq(ev.byte_offset, 106);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_uint_eq(ev.level, HVD_LEVEL_ERROR);
    ck_assert_str_eq(ev.message, "Virtual Machine <Virtual Machine SQL01>: Live migration failed.");
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_str_eq(ev.component, "");
    ck_assert_str_eq(ev.message, "Shutdown lock acquired, proceeding with shutdown");
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    hvd_source_close(s);
}
END_TEST

START_TEST(continuations_join_and_damaged_lines_are_kept)
{
    hvd_source_stats st;
    char *text = events_text(DATA "ws2012r2_cluster.log", NULL, &st);

    ck_assert_uint_eq(st.events, 5);
    ck_assert_uint_eq(st.skipped, 0);
    ck_assert_ptr_nonnull(strstr(text, "|RHS|Online for resource Virtual Machine SQL01 failed.\n"
                                       "    The text wraps onto a second line\n"
                                       "    and a third one.\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "(status = 5925)\nthis line is damaged and has no prefix\n"));
    ck_assert_ptr_nonnull(strstr(text, "|ws2012r2|"));
    free(text);
}
END_TEST

START_TEST(sections_local_time_and_current_node)
{
    hvd_source_stats st;
    char *text = events_text(DATA "HV-NODE02_cluster.log", NULL, &st);

    /* Local times with offset -480 minutes: 18:00:01 local is 10:00:01 UTC. */
    ck_assert_uint_eq(st.events, 4);
    ck_assert_uint_eq(st.skipped, 0);
    ck_assert_ptr_nonnull(strstr(text, "2024-03-05T09:59:59.8680000Z|HV-NODE02|Operational|4||The "
                                       "cluster service has been stopped"));
    ck_assert_ptr_nonnull(strstr(text, "2024-03-05T10:00:01.2360000Z|HV-NODE02||4|NETWORK|Error "
                                       "when processing connection to node HV-NODE01"));
    ck_assert_ptr_nonnull(strstr(text, "2024-03-05T10:03:44.8910000Z|HV-NODE02|Verbose|2|RES|"
                                       "Physical Disk <Cluster Disk 2>: Failing online"));
    /* Lines inside configuration sections are not events. */
    ck_assert_ptr_null(strstr(text, "this state line is not an event"));
    free(text);
}
END_TEST

START_TEST(utf16_utf8_bom_and_cp1252_give_identical_events)
{
    static const char *const files[] = {"HV-NODE02_cluster.log", "ws2012r2_cluster.log",
                                        "ws2022_cluster.log"};

    for (size_t i = 0; i < 3; i++) {
        char *src = hvd_test_path(DATA, files[i]);
        char *utf16 = recode(src, files[i], "UTF-16LE", "\xFF\xFE", 2);
        char *plain = events_text(src, NULL, NULL);
        char *wide;
        char *path;
        char *other;
        hvd_source_stats st;

        wide = events_text(utf16, NULL, &st);
        ck_assert_str_eq(st.encoding, "utf-16le");
        ck_assert_str_eq(wide, plain);
        free(wide);
        free(utf16);
        /* Without a BOM too. */
        utf16 = recode(src, files[i], "UTF-16LE", "", 0);
        wide = events_text(utf16, NULL, &st);
        ck_assert_str_eq(st.encoding, "utf-16le");
        ck_assert_str_eq(wide, plain);
        free(wide);
        free(utf16);
        path = recode(src, files[i], "UTF-8", "\xEF\xBB\xBF", 3);
        other = events_text(path, NULL, &st);
        ck_assert_str_eq(other, plain);
        free(other);
        free(path);
        path = recode(src, files[i], "CP1252", "", 0);
        other = events_text(path, NULL, &st);
        ck_assert_str_eq(other, plain);
        if (strstr(plain, "caf\xc3\xa9")) {
            ck_assert_str_eq(st.encoding, "windows-1252");
        }
        free(other);
        free(path);
        free(plain);
        free(src);
    }
}
END_TEST

START_TEST(host_comes_from_the_file_name_or_the_hint)
{
    char *path = hvd_test_path(tmp, "hv-node07_cluster.log");
    hvd_source_options opt = {.host_hint = "HINTED"};
    char *copy = hvd_test_read_file(DATA "ws2008r2_cluster.log", NULL);
    char *text;

    ck_assert_int_eq(hvd_test_write_file(path, copy, strlen(copy)), 0);
    text = events_text(path, NULL, NULL);
    ck_assert_ptr_nonnull(strstr(text, "|hv-node07|"));
    free(text);
    text = events_text(path, &opt, NULL);
    ck_assert_ptr_nonnull(strstr(text, "|HINTED|"));
    free(text);
    free(copy);
    free(path);
}
END_TEST

START_TEST(resume_token_gives_exactly_the_rest)
{
    static const char *const files[] = {"HV-NODE02_cluster.log", "ws2012r2_cluster.log"};

    for (size_t f = 0; f < 2; f++) {
        char *src = hvd_test_path(DATA, files[f]);
        char *utf16 = recode(src, files[f], "UTF-16LE", "\xFF\xFE", 2);
        char *whole = events_text(utf16, NULL, NULL);

        for (int stop = 1; stop <= 3; stop++) {
            hvd_source_options opt = {0};
            hvd_source *s = NULL;
            hvd_event ev;
            hvd_error err;
            char token[600];
            char *rest;
            const char *at = whole;

            ck_assert_int_eq(hvd_source_open(&s, utf16, NULL, NULL, &err), HVD_OK);
            for (int i = 0; i < stop; i++) {
                ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
                at = strchr(at, '\n') + 1;
                /* Messages may span lines: skip to the next event line. */
                while (*at && strncmp(at, "20", 2) != 0) {
                    at = strchr(at, '\n') + 1;
                }
            }
            snprintf(token, sizeof(token), "%s", hvd_source_position(s));
            hvd_source_close(s);
            opt.resume = token;
            rest = events_text(utf16, &opt, NULL);
            ck_assert_msg(strcmp(rest, at) == 0, "%s after %d: '%s' vs '%s' (%s)", files[f], stop,
                          rest, at, token);
            free(rest);
        }
        free(whole);
        free(utf16);
        free(src);
    }
}
END_TEST

START_TEST(tail_mode_leaves_an_unterminated_line_for_later)
{
    char *path = hvd_test_path(tmp, "growing_cluster.log");
    static const char part1[] = "000007b8.00000d1c::2010/05/12-18:32:28.163 INFO  [RCM] one\n"
                                "000007b8.00000d1c::2010/05/12-18:32:28.164 INFO  [RCM] tw";
    static const char whole[] = "000007b8.00000d1c::2010/05/12-18:32:28.163 INFO  [RCM] one\n"
                                "000007b8.00000d1c::2010/05/12-18:32:28.164 INFO  [RCM] two\n";
    hvd_source_options opt = {.tail = 1};
    hvd_source *s = NULL;
    hvd_event ev;
    hvd_error err;
    char token[600];

    ck_assert_int_eq(hvd_test_write_file(path, part1, sizeof(part1) - 1), 0);
    ck_assert_int_eq(hvd_source_open(&s, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_str_eq(ev.message, "one");
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    snprintf(token, sizeof(token), "%s", hvd_source_position(s));
    hvd_source_close(s);
    ck_assert_ptr_nonnull(strstr(token, "off=59;"));
    ck_assert_int_eq(hvd_test_write_file(path, whole, sizeof(whole) - 1), 0);
    opt.resume = token;
    ck_assert_int_eq(hvd_source_open(&s, path, &opt, NULL, &err), HVD_OK);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 1);
    ck_assert_str_eq(ev.message, "two");
    ck_assert_uint_eq(ev.line, 2);
    ck_assert_int_eq(hvd_source_next(s, &ev, &err), 0);
    hvd_source_close(s);
    free(path);
}
END_TEST

START_TEST(truncated_utf16_and_garbage_do_not_crash)
{
    char *src = hvd_test_path(DATA, "ws2022_cluster.log");
    char *utf16 = recode(src, "t_cluster.log", "UTF-16LE", "\xFF\xFE", 2);
    size_t len;
    char *bytes = hvd_test_read_file(utf16, &len);
    char *junk = hvd_test_path(tmp, "junk_cluster.log");
    unsigned char noise[5000];
    hvd_source_stats st;
    hvd_source *s = NULL;
    hvd_error err;
    char *text;

    /* Odd length: the last code unit is cut in half. */
    ck_assert_int_eq(hvd_test_write_file(utf16, bytes, len - 3), 0);
    text = events_text(utf16, NULL, &st);
    ck_assert_uint_eq(st.events, 3);
    ck_assert_uint_ge(st.bad_bytes, 1);
    free(text);
    /* Text-looking noise: read, every line skipped and counted. */
    srand(3);
    for (size_t i = 0; i < sizeof(noise); i++) {
        noise[i] = (unsigned char)(' ' + rand() % 90);
        if (i % 70 == 69) {
            noise[i] = '\n';
        }
    }
    ck_assert_int_eq(hvd_test_write_file(junk, noise, sizeof(noise)), 0);
    text = events_text(junk, NULL, &st);
    ck_assert_uint_eq(st.events, 0);
    ck_assert_uint_ge(st.skipped, 70);
    ck_assert_uint_eq(st.first_skipped, 1);
    free(text);
    /* Binary noise: not accepted as a text log, and the error names the file. */
    for (size_t i = 0; i < sizeof(noise); i++) {
        noise[i] = (unsigned char)rand();
    }
    noise[0] = 0;
    ck_assert_int_eq(hvd_test_write_file(junk, noise, sizeof(noise)), 0);
    ck_assert_int_lt(hvd_source_open(&s, junk, NULL, NULL, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "junk_cluster.log"));
    free(junk);
    free(bytes);
    free(utf16);
    free(src);
}
END_TEST

START_TEST(corpus_excerpts_read)
{
    static const struct {
        const char *name;
        uint64_t events;
    } files[] = {
        {"jadarnel27_joshthecoder.com__2020-05-21-prevent-unexpected-failovers-when-patching-"
         "ags.excerpt.log",
         185},
        {"zeroch_FailoverDetector__TestCase_0.txt", 8},
        {"zeroch_FailoverDetector__Cluster_Log_Information", 92},
    };

    if (!hvd_test_have_corpus()) {
        fprintf(stderr, "corpus absent: skipped\n");
        return;
    }
    for (size_t i = 0; i < 3; i++) {
        char *path = hvd_test_path(HVD_CORPUS_DIR "/clusterlog", files[i].name);
        hvd_source_stats st;
        char *text = events_text(path, NULL, &st);

        ck_assert_msg(st.events == files[i].events, "%s: %llu events", files[i].name,
                      (unsigned long long)st.events);
        ck_assert_uint_le(st.skipped, 2);
        free(text);
        free(path);
    }
}
END_TEST

START_TEST(allocation_failures_fail_cleanly)
{
    size_t len;
    char *data = hvd_test_read_file(DATA "ws2012r2_cluster.log", &len);

    for (unsigned long n = 1; n < 200; n++) {
        hvd_clusterlog_reader *r = NULL;
        hvd_event ev;
        hvd_error err;
        int rc;

        hvd_alloc_fail_after(n);
        rc = hvd_clusterlog_reader_open_mem(&r, "mem_cluster.log", data, len, NULL, NULL, &err);
        if (rc == HVD_OK) {
            while ((rc = hvd_clusterlog_reader_next(r, &ev, &err)) == 1) {
            }
            hvd_clusterlog_reader_close(r);
        } else {
            ck_assert_ptr_null(r);
            ck_assert_int_eq(rc, HVD_ENOMEM);
        }
        if (hvd_alloc_fail_after(0) < n) {
            break; /* all allocations succeeded: every failure point was visited */
        }
    }
    free(data);
}
END_TEST

static Suite *clusterlog_suite(void)
{
    Suite *s = suite_create("clusterlog_reader");
    TCase *tc = tcase_create("text");

    tcase_add_test(tc, text_detects_encodings);
    tcase_add_test(tc, text_replaces_bad_input_and_counts_it);
    suite_add_tcase(s, tc);
    tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
    tcase_add_test(tc, each_generation_reads_with_its_fields);
    tcase_add_test(tc, continuations_join_and_damaged_lines_are_kept);
    tcase_add_test(tc, sections_local_time_and_current_node);
    tcase_add_test(tc, utf16_utf8_bom_and_cp1252_give_identical_events);
    tcase_add_test(tc, host_comes_from_the_file_name_or_the_hint);
    tcase_add_test(tc, resume_token_gives_exactly_the_rest);
    tcase_add_test(tc, tail_mode_leaves_an_unterminated_line_for_later);
    tcase_add_test(tc, truncated_utf16_and_garbage_do_not_crash);
    tcase_add_test(tc, corpus_excerpts_read);
    tcase_add_test(tc, allocation_failures_fail_cleanly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(clusterlog_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
