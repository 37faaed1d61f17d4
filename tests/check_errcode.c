/* Suite for errcode: every spelling of a code, from the signature catalog's own triples. */
#include "errcode.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* hex, unsigned, signed: rows of the catalog (SEC_E_*, WSA*, ERROR_*). */
static const struct {
    const char *hex;
    const char *dec;
    const char *neg;
} triples[] = {
    {"0x80090303", "2148074243", "-2146893053"}, {"0x8009030E", "2148074254", "-2146893042"},
    {"0x8009030D", "2148074253", "-2146893043"}, {"0x80070005", "2147942405", "-2147024891"},
    {"0x80071398", "2147947416", "-2147019880"}, {"0x8007271D", "2147952413", "-2147014883"},
    {"0x800705AA", "2147943850", "-2147023446"}, {"0xC03A0014", "3225026580", "-1069940716"},
    {"0x80090322", "2148074274", "-2146893022"}, {"0xC0370027", "3224829991", "-1070137305"},
    {"0xC0130021", "3222470689", "-1072496607"}, {"0xC00000B5", "3221225653", "-1073741643"},
};

START_TEST(parse_accepts_every_spelling)
{
    uint32_t a;
    uint32_t b;
    uint32_t c;
    uint32_t d;
    char lower[16];
    char bare[16];

    for (size_t i = 0; i < sizeof(triples) / sizeof(triples[0]); i++) {
        ck_assert_int_eq(hvd_errcode_parse(triples[i].hex, &a), 0);
        ck_assert_int_eq(hvd_errcode_parse(triples[i].dec, &b), 0);
        ck_assert_int_eq(hvd_errcode_parse(triples[i].neg, &c), 0);
        snprintf(lower, sizeof(lower), "%s", triples[i].hex);
        for (char *p = lower; *p; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
        ck_assert_int_eq(hvd_errcode_parse(lower, &d), 0);
        ck_assert_uint_eq(a, b);
        ck_assert_uint_eq(a, c);
        ck_assert_uint_eq(a, d);
        snprintf(bare, sizeof(bare), "%s", triples[i].hex + 2);
        if (strspn(bare, "0123456789") != 8) {
            ck_assert_int_eq(hvd_errcode_parse(bare, &d), 0);
            ck_assert_uint_eq(a, d);
        }
    }
    ck_assert_int_eq(hvd_errcode_parse("10013", &a), 0);
    ck_assert_uint_eq(a, 10013);
    ck_assert_int_eq(hvd_errcode_parse("0x123456789", &a), -1);
    ck_assert_int_eq(hvd_errcode_parse("4294967296", &a), -1);
    ck_assert_int_eq(hvd_errcode_parse("-2147483649", &a), -1);
    ck_assert_int_eq(hvd_errcode_parse("banana", &a), -1);
    ck_assert_int_eq(hvd_errcode_parse("", &a), -1);
}
END_TEST

START_TEST(win32_inside_hresult)
{
    char buf[16];

    ck_assert_uint_eq(hvd_errcode_win32(0x8007271Du), 10013);
    ck_assert_uint_eq(hvd_errcode_win32(0x80090303u), 0x80090303u);
    ck_assert_str_eq(hvd_errcode_format(0x8009030Eu, buf, sizeof(buf)), "0x8009030E");
}
END_TEST

struct found {
    uint32_t v[32];
    size_t n;
};

static int collect(void *ud, uint32_t value)
{
    struct found *f = ud;

    if (f->n < 32) {
        f->v[f->n++] = value;
    }
    return 0;
}

static int has(const struct found *f, uint32_t v)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->v[i] == v) {
            return 1;
        }
    }
    return 0;
}

START_TEST(scan_finds_codes_in_messages)
{
    static const char *const texts[] = {
        "The specified target is unknown or unreachable. (0x80090303).",
        "the target is unknown (0x80090303)",
        "failed with error 2148074243",
        "failed with error -2146893053.",
        "codes 80090303 and others",
    };
    struct found f;

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        memset(&f, 0, sizeof(f));
        hvd_errcode_scan(texts[i], collect, &f);
        ck_assert_msg(has(&f, 0x80090303u), "'%s'", texts[i]);
    }
    memset(&f, 0, sizeof(f));
    hvd_errcode_scan("error codes 80042001 and 8007000D", collect, &f);
    ck_assert(has(&f, 0x80042001u));
    ck_assert(has(&f, 0x8007000Du));
    ck_assert(has(&f, 80042001u)); /* the decimal reading of an all-digit word too */
}
END_TEST

START_TEST(scan_ignores_guids_paths_and_words)
{
    struct found f;

    memset(&f, 0, sizeof(f));
    hvd_errcode_scan("VM 6F1A2B3C-0000-4000-8000-000000000001 at C:\\VMs\\80090303x and "
                     "Volume{80090303-aaaa-bbbb-cccc-dddddddddddd} build 17763.1 ab80090303",
                     collect, &f);
    ck_assert(!has(&f, 0x80090303u));
    ck_assert(!has(&f, 0x6F1A2B3Cu));
    ck_assert(!has(&f, 17763));
}
END_TEST

static Suite *errcode_suite(void)
{
    Suite *s = suite_create("errcode");
    TCase *tc = tcase_create("codes");

    tcase_add_test(tc, parse_accepts_every_spelling);
    tcase_add_test(tc, win32_inside_hresult);
    tcase_add_test(tc, scan_finds_codes_in_messages);
    tcase_add_test(tc, scan_ignores_guids_paths_and_words);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(errcode_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
