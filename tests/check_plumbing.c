/* Suite for the plumbing modules: error, buf, alloc, hvtime. */
#include "alloc.h"
#include "buf.h"
#include "error.h"
#include "hvtime.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

START_TEST(error_message_names_path_and_line)
{
    hvd_error err;
    int rc = hvd_error_set(&err, HVD_ERULE, "rules/lm.xml", 42, "unknown element <%s>", "X");

    ck_assert_int_eq(rc, HVD_ERULE);
    ck_assert_int_eq(err.code, HVD_ERULE);
    ck_assert_str_eq(err.msg, "rules/lm.xml:42: unknown element <X>");
    hvd_error_set(&err, HVD_EIO, "a.evtx", 0, "short read");
    ck_assert_str_eq(err.msg, "a.evtx: short read");
    ck_assert_str_eq(hvd_strerror(HVD_ENOMEM), "out of memory");
    ck_assert_str_eq(hvd_strerror(12345), "unknown error");
    ck_assert_int_eq(hvd_error_set(NULL, HVD_EIO, NULL, 0, "x"), HVD_EIO);
}
END_TEST

START_TEST(error_message_is_cut_not_overrun)
{
    hvd_error err;
    char long_path[2000];

    memset(long_path, 'p', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    hvd_error_set(&err, HVD_EIO, long_path, 7, "tail %s", "text");
    ck_assert_uint_eq(strlen(err.msg), sizeof(err.msg) - 1);
}
END_TEST

START_TEST(buf_grows_to_its_maximum_and_no_further)
{
    hvd_buf b;

    hvd_buf_init(&b, 10);
    ck_assert_str_eq(hvd_buf_str(&b), "");
    ck_assert_int_eq(hvd_buf_adds(&b, "0123456789"), HVD_OK);
    ck_assert_str_eq(hvd_buf_str(&b), "0123456789");
    ck_assert_int_eq(hvd_buf_addc(&b, 'x'), HVD_ELIMIT);
    /* A failed append frees the contents. */
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(hvd_buf_printf(&b, "%d-%s", 12, "ab"), HVD_OK);
    ck_assert_str_eq(hvd_buf_str(&b), "12-ab");
    hvd_buf_free(&b);
}
END_TEST

START_TEST(buf_printf_handles_long_output)
{
    hvd_buf b;
    char big[1000];
    char *taken;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hvd_buf_init(&b, 4096);
    ck_assert_int_eq(hvd_buf_printf(&b, "<%s>", big), HVD_OK);
    ck_assert_uint_eq(b.len, 1001);
    taken = hvd_buf_take(&b);
    ck_assert_uint_eq(strlen(taken), 1001);
    ck_assert_ptr_null(b.data);
    hvd_free(taken);
}
END_TEST

START_TEST(buf_reports_allocation_failure)
{
    hvd_buf b;

    hvd_buf_init(&b, 100);
    hvd_alloc_fail_after(1);
    ck_assert_int_eq(hvd_buf_adds(&b, "abc"), HVD_ENOMEM);
    hvd_alloc_fail_after(0);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(hvd_buf_adds(&b, "abc"), HVD_OK);
    hvd_buf_free(&b);
}
END_TEST

/* Pieces are aligned and zeroed, strings packed and kept, a piece larger than a block gets
 * one of its own, and a failed block leaves what was given intact. */
START_TEST(arena_gives_aligned_zeroed_pieces_and_packed_strings)
{
    hvd_arena a = {0};
    char *s[3000];
    unsigned char *big;

    for (int i = 0; i < 3000; i++) {
        char text[32];
        unsigned char *p = hvd_arena_alloc(&a, (size_t)(i % 40));

        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        for (int k = 0; k < i % 40; k++) {
            ck_assert_uint_eq(p[k], 0);
        }
        memset(p, 0xAB, (size_t)(i % 40));
        snprintf(text, sizeof(text), "value %d", i);
        s[i] = hvd_arena_strdup(&a, text);
        ck_assert_ptr_nonnull(s[i]);
    }
    big = hvd_arena_alloc(&a, 200 * 1024);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(big[200 * 1024 - 1], 0);
    ck_assert_str_eq(hvd_arena_strdup(&a, ""), "");
    hvd_alloc_fail_after(1);
    ck_assert_ptr_null(hvd_arena_alloc(&a, 100 * 1024));
    hvd_alloc_fail_after(0);
    for (int i = 0; i < 3000; i++) {
        char text[32];

        snprintf(text, sizeof(text), "value %d", i);
        ck_assert_str_eq(s[i], text);
    }
    hvd_arena_free(&a);
    ck_assert_ptr_null(a.head);
    ck_assert_str_eq(hvd_arena_strdup(&a, "again"), "again");
    hvd_arena_free(&a);
}
END_TEST

START_TEST(time_filetime_and_text_agree)
{
    char text[40];
    hvd_time t;

    /* 2024-03-05T10:00:01Z as FILETIME, from a record written by Windows' own format. */
    t = hvd_time_from_filetime(UINT64_C(133541064010000000));
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)), "2024-03-05T10:00:01.0000000Z");
    ck_assert_int_eq(hvd_time_parse("2024-03-05T10:00:01Z", &t), 0);
    ck_assert_int_eq(t, hvd_time_from_filetime(UINT64_C(133541064010000000)));
    ck_assert_int_eq(hvd_time_parse("2024-03-05T10:00:01.123456789Z", &t), 0);
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)), "2024-03-05T10:00:01.1234567Z");
    ck_assert_int_eq(hvd_time_parse("2024-03-05T12:00:01+02:00", &t), 0);
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)), "2024-03-05T10:00:01.0000000Z");
    ck_assert_int_eq(hvd_time_parse("2024-03-05", &t), 0);
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)), "2024-03-05T00:00:00.0000000Z");
    ck_assert_int_eq(hvd_time_parse("1969-12-31T23:59:59.5Z", &t), 0);
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)), "1969-12-31T23:59:59.5000000Z");
}
END_TEST

/* The digits written by hand for years 0-9999 and printf's text past them agree, and a
 * short buffer gets the text cut as snprintf() cuts it. */
START_TEST(time_format_edges)
{
    char text[40];
    char small[11];
    hvd_time t;

    t = hvd_time_from_utc(9999, 12, 31, 23, 59, 59, 9999999);
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)), "9999-12-31T23:59:59.9999999Z");
    ck_assert_str_eq(hvd_time_format(t + 1, text, sizeof(text)), "10000-01-01T00:00:00.0000000Z");
    t = hvd_time_from_utc(0, 1, 1, 0, 0, 0, 0);
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)), "0000-01-01T00:00:00.0000000Z");
    ck_assert_str_eq(hvd_time_format(t - 1, text, sizeof(text)), "-001-12-31T23:59:59.9999999Z");
    t = hvd_time_from_utc(2025, 6, 23, 4, 40, 0, 1);
    ck_assert_str_eq(hvd_time_format(t, text, 29), "2025-06-23T04:40:00.0000001Z");
    ck_assert_str_eq(hvd_time_format(t, text, 28), "2025-06-23T04:40:00.0000001");
    ck_assert_str_eq(hvd_time_format(t, small, sizeof(small)), "2025-06-23");
}
END_TEST

START_TEST(time_of_day_without_a_date_is_never_1970)
{
    char text[40];
    hvd_time t = (21 * 3600 + 16 * 60 + 17) * HVD_TICKS_PER_SECOND + 2560000;

    ck_assert_int_eq(hvd_time_has_date(t), 0);
    ck_assert_str_eq(hvd_time_format(t, text, sizeof(text)),
                     "\?\?\?\?-\?\?-\?\?T21:16:17.2560000Z");
    ck_assert_int_eq(hvd_time_parse(text, &t), 0);
    ck_assert_int_eq(t, (21 * 3600 + 16 * 60 + 17) * HVD_TICKS_PER_SECOND + 2560000);
    ck_assert_int_eq(hvd_time_has_date(HVD_TIME_UNDATED_END), 1);
    ck_assert_int_eq(hvd_time_has_date(-1), 1);
}
END_TEST

START_TEST(time_parse_rejects_nonsense)
{
    hvd_time t;

    ck_assert_int_eq(hvd_time_parse("", &t), -1);
    ck_assert_int_eq(hvd_time_parse("2024-13-01", &t), -1);
    ck_assert_int_eq(hvd_time_parse("2024-03-05T25:00", &t), -1);
    ck_assert_int_eq(hvd_time_parse("2024-03-05Tjunk", &t), -1);
    ck_assert_int_eq(hvd_time_parse("2024-03-05T10:00:01Zjunk", &t), -1);
}
END_TEST

static Suite *plumbing_suite(void)
{
    Suite *s = suite_create("plumbing");
    TCase *tc = tcase_create("error");

    tcase_add_test(tc, error_message_names_path_and_line);
    tcase_add_test(tc, error_message_is_cut_not_overrun);
    suite_add_tcase(s, tc);
    tc = tcase_create("buf");
    tcase_add_test(tc, buf_grows_to_its_maximum_and_no_further);
    tcase_add_test(tc, buf_printf_handles_long_output);
    tcase_add_test(tc, buf_reports_allocation_failure);
    tcase_add_test(tc, arena_gives_aligned_zeroed_pieces_and_packed_strings);
    suite_add_tcase(s, tc);
    tc = tcase_create("time");
    tcase_add_test(tc, time_filetime_and_text_agree);
    tcase_add_test(tc, time_parse_rejects_nonsense);
    tcase_add_test(tc, time_of_day_without_a_date_is_never_1970);
    tcase_add_test(tc, time_format_edges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plumbing_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
