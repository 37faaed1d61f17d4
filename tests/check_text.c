/* Suite for text: encoding detection, iconv conversion across chunks, line offsets. */
#include "text.h"

#include "testutil.h"

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* UTF-8 (valid) -> UTF-16LE, optionally with a BOM; caller frees. */
static unsigned char *to_utf16le(const char *s, int bom, size_t *out_len)
{
    size_t n = strlen(s);
    unsigned char *o = malloc(n * 4 + 2);
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)s;

    ck_assert_ptr_nonnull(o);
    if (bom) {
        o[k++] = 0xFF;
        o[k++] = 0xFE;
    }
    while (*p) {
        uint32_t c;
        if (*p < 0x80) {
            c = *p++;
        } else if (*p < 0xE0) {
            c = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else if (*p < 0xF0) {
            c = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            p += 3;
        } else {
            c = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
                ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
            p += 4;
        }
        if (c >= 0x10000) {
            uint32_t v = c - 0x10000;
            uint32_t hi = 0xD800 | (v >> 10), lo = 0xDC00 | (v & 0x3FF);
            o[k++] = hi & 0xFF;
            o[k++] = hi >> 8;
            o[k++] = lo & 0xFF;
            o[k++] = lo >> 8;
        } else {
            o[k++] = c & 0xFF;
            o[k++] = c >> 8;
        }
    }
    *out_len = k;
    return o;
}

static hvd_text_reader *open_mem(const void *data, size_t len, uint64_t off, hvd_text_encoding e)
{
    hvd_text_reader *t = NULL;
    hvd_error err;

    ck_assert_int_eq(hvd_text_reader_open_mem(&t, data, len, "mem.log", off, e, &err), HVD_OK);
    return t;
}

START_TEST(detect_by_bom_nuls_and_validity)
{
    size_t bom = 9;

    ck_assert_int_eq(hvd_text_detect("\xFF\xFEh\0i\0", 6, &bom), HVD_TEXT_UTF16LE);
    ck_assert_uint_eq(bom, 2);
    ck_assert_int_eq(hvd_text_detect("\xEF\xBB\xBFhi", 5, &bom), HVD_TEXT_UTF8);
    ck_assert_uint_eq(bom, 3);
    ck_assert_int_eq(hvd_text_detect("h\0e\0l\0l\0o\0\n\0", 12, &bom), HVD_TEXT_UTF16LE);
    ck_assert_uint_eq(bom, 0);
    ck_assert_int_eq(hvd_text_detect("caf\xC3\xA9\n", 6, NULL), HVD_TEXT_UTF8);
    ck_assert_int_eq(hvd_text_detect("caf\xE9\n", 5, NULL), HVD_TEXT_WINDOWS1252);
    /* A sequence cut by the end of the window is not held against UTF-8. */
    ck_assert_int_eq(hvd_text_detect("abc\xE2\x82", 5, NULL), HVD_TEXT_UTF8);
    /* Surrogates and overlong forms are not UTF-8. */
    ck_assert_int_eq(hvd_text_detect("\xED\xA0\x80", 3, NULL), HVD_TEXT_WINDOWS1252);
    ck_assert_int_eq(hvd_text_detect("\xC0\xAF", 2, NULL), HVD_TEXT_WINDOWS1252);
    ck_assert_int_eq(hvd_text_detect("", 0, NULL), HVD_TEXT_UTF8);
    ck_assert_str_eq(hvd_text_encoding_name(HVD_TEXT_UTF16LE), "utf-16le");
    ck_assert_int_eq(hvd_text_encoding_from_name("UTF-16LE"), HVD_TEXT_UTF16LE);
    ck_assert_int_eq(hvd_text_encoding_from_name("windows-1252"), HVD_TEXT_WINDOWS1252);
    ck_assert_int_eq(hvd_text_encoding_from_name("ebcdic"), HVD_TEXT_DETECT);
}
END_TEST

START_TEST(utf8_lines_crlf_and_lf_with_offsets)
{
    const char *s = "\xEF\xBB\xBF"
                    "one\r\ntwo\n\nthr\xC3\xA9\xC3\xA9";
    hvd_text_reader *t = open_mem(s, strlen(s), 0, HVD_TEXT_DETECT);
    hvd_text_line l;
    hvd_error err;

    ck_assert_int_eq(hvd_text_reader_encoding(t), HVD_TEXT_UTF8);
    ck_assert_uint_eq(hvd_text_reader_bom_len(t), 3);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "one");
    ck_assert_uint_eq(l.offset, 3);
    ck_assert_uint_eq(l.next_offset, 8);
    ck_assert_int_eq(l.terminated, 1);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "two");
    ck_assert_uint_eq(l.offset, 8);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "");
    ck_assert_uint_eq(l.offset, 12);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "thr\xC3\xA9\xC3\xA9");
    ck_assert_uint_eq(l.offset, 13);
    ck_assert_uint_eq(l.next_offset, strlen(s));
    ck_assert_int_eq(l.terminated, 0);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 0);
    ck_assert_uint_eq(hvd_text_reader_bad_units(t), 0);
    hvd_text_reader_close(t);
}
END_TEST

START_TEST(utf16_offsets_count_original_bytes)
{
    /* U+1F600 is a surrogate pair (4 bytes), U+00E9 two bytes, as ASCII is. */
    const char *u8 = "a\xF0\x9F\x98\x80"
                     "b\r\n\xC3\xA9x\nlast\n";
    size_t n;
    unsigned char *u16 = to_utf16le(u8, 1, &n);
    hvd_text_reader *t = open_mem(u16, n, 0, HVD_TEXT_DETECT);
    hvd_text_line l;
    hvd_error err;
    uint64_t second;

    ck_assert_int_eq(hvd_text_reader_encoding(t), HVD_TEXT_UTF16LE);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "a\xF0\x9F\x98\x80"
                             "b");
    ck_assert_uint_eq(l.offset, 2);
    /* BOM 2 + a 2 + pair 4 + b 2 + CR LF 4 */
    ck_assert_uint_eq(l.next_offset, 14);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "\xC3\xA9x");
    ck_assert_uint_eq(l.offset, 14);
    second = l.offset;
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "last");
    ck_assert_uint_eq(l.offset, 20);
    ck_assert_uint_eq(l.next_offset, n);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 0);

    /* Seeking to a reported offset resumes there; an odd offset is refused. */
    ck_assert_int_eq(hvd_text_reader_seek(t, second, &err), HVD_OK);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "\xC3\xA9x");
    ck_assert_int_eq(hvd_text_reader_seek(t, 15, &err), HVD_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "mem.log"));
    hvd_text_reader_close(t);

    /* Opening at an offset with a known encoding starts there. */
    t = open_mem(u16, n, 20, HVD_TEXT_UTF16LE);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "last");
    hvd_text_reader_close(t);
    free(u16);
}
END_TEST

/* A surrogate pair, then a 3-byte UTF-8 character, placed across the 64 KiB read boundary
 * at every alignment: each must come out whole, with exact offsets after it. */
START_TEST(split_sequences_across_chunks_are_kept_whole)
{
    for (size_t shift = 0; shift < 8; shift += 2) {
        size_t pad = 65536 - 4 + shift;
        char *u8 = malloc(pad + 64);
        size_t n;
        unsigned char *u16;
        hvd_text_reader *t;
        hvd_text_line l;
        hvd_error err;

        ck_assert_ptr_nonnull(u8);
        memset(u8, 'x', pad / 2 - 1); /* 2 bytes of BOM + (pad/2 - 1) units = pad bytes */
        memcpy(u8 + pad / 2 - 1, "\xF0\x9F\x98\x80\xE2\x82\xAC\nend\n", 13);
        u16 = to_utf16le(u8, 1, &n);
        t = open_mem(u16, n, 0, HVD_TEXT_DETECT);
        ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
        ck_assert_uint_eq(l.len, pad / 2 - 1 + 7);
        ck_assert_int_eq(memcmp(l.text + l.len - 7, "\xF0\x9F\x98\x80\xE2\x82\xAC", 7), 0);
        ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
        ck_assert_str_eq(l.text, "end");
        ck_assert_uint_eq(l.offset, n - 8);
        ck_assert_uint_eq(hvd_text_reader_bad_units(t), 0);
        hvd_text_reader_close(t);
        free(u16);

        /* The same in UTF-8: a 4-byte character straddling the boundary. */
        memset(u8, 'y', pad);
        memcpy(u8 + pad - 2, "\xF0\x9F\x98\x80\nend\n", 10);
        u8[99] = '\n'; /* keeps the next line under HVD_TEXT_LINE_MAX */
        t = open_mem(u8, strlen(u8), 0, HVD_TEXT_UTF8);
        ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
        ck_assert_uint_eq(l.len, 99);
        ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
        ck_assert_uint_eq(l.offset, 100);
        ck_assert_uint_eq(l.len, pad - 2 - 100 + 4);
        ck_assert_int_eq(memcmp(l.text + l.len - 4, "\xF0\x9F\x98\x80", 4), 0);
        ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
        ck_assert_str_eq(l.text, "end");
        ck_assert_uint_eq(l.offset, pad + 3);
        ck_assert_uint_eq(hvd_text_reader_bad_units(t), 0);
        hvd_text_reader_close(t);
        free(u8);
    }
}
END_TEST

START_TEST(invalid_sequences_become_replacements_and_are_counted)
{
    /* UTF-8: a stray FF and a cut 3-byte sequence, each one unit. */
    const char *s = "a\xFF"
                    "b\xE2\x82\n\xC3\xA9\n";
    hvd_text_reader *t = open_mem(s, strlen(s), 0, HVD_TEXT_UTF8);
    hvd_text_line l;
    hvd_error err;

    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "a\xEF\xBF\xBD"
                             "b\xEF\xBF\xBD\xEF\xBF\xBD");
    ck_assert_uint_eq(l.next_offset, 6);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "\xC3\xA9");
    ck_assert_uint_eq(l.offset, 6);
    ck_assert_uint_eq(hvd_text_reader_bad_units(t), 3);
    hvd_text_reader_close(t);
}
END_TEST

START_TEST(utf16_lone_surrogates_and_truncated_tail)
{
    /* BOM, 'a', lone low surrogate, 'b', LF, high surrogate, 'c', LF, then a high surrogate
     * and an odd byte at the end of the file. */
    static const unsigned char d[] = {0xFF, 0xFE, 'a', 0, 0x00, 0xDC, 'b',  0,    '\n', 0,
                                      0x3D, 0xD8, 'c', 0, '\n', 0,    0x3D, 0xD8, 'z'};
    hvd_text_reader *t = open_mem(d, sizeof(d), 0, HVD_TEXT_DETECT);
    hvd_text_line l;
    hvd_error err;

    ck_assert_int_eq(hvd_text_reader_encoding(t), HVD_TEXT_UTF16LE);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "a\xEF\xBF\xBD"
                             "b");
    ck_assert_uint_eq(l.next_offset, 10);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "\xEF\xBF\xBD"
                             "c");
    ck_assert_uint_eq(l.offset, 10);
    ck_assert_uint_eq(l.next_offset, 16);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_int_eq(l.terminated, 0);
    ck_assert_uint_eq(l.offset, 16);
    /* The odd byte is half a code unit: left unread, so the offset stays even. */
    ck_assert_uint_eq(l.next_offset, sizeof(d) - 1);
    ck_assert_str_eq(l.text, "\xEF\xBF\xBD");
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 0);
    ck_assert_uint_eq(hvd_text_reader_bad_units(t), 3);
    hvd_text_reader_close(t);
    /* Resuming there is accepted and finds nothing yet; once the unit is whole, it is read. */
    t = open_mem(d, sizeof(d), sizeof(d) - 1, HVD_TEXT_DETECT);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 0);
    hvd_text_reader_close(t);
    {
        unsigned char grown[sizeof(d) + 1];

        memcpy(grown, d, sizeof(d));
        grown[sizeof(d)] = 0;
        t = open_mem(grown, sizeof(grown), sizeof(d) - 1, HVD_TEXT_DETECT);
        ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
        ck_assert_str_eq(l.text, "z");
        ck_assert_uint_eq(l.next_offset, sizeof(grown));
        hvd_text_reader_close(t);
    }
}
END_TEST

START_TEST(windows1252_bytes_convert)
{
    const char *s = "caf\xE9 \x80 \x93q\x94\r\nbad\x81\n";
    hvd_text_reader *t = open_mem(s, strlen(s), 0, HVD_TEXT_DETECT);
    hvd_text_line l;
    hvd_error err;

    ck_assert_int_eq(hvd_text_reader_encoding(t), HVD_TEXT_WINDOWS1252);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "caf\xC3\xA9 \xE2\x82\xAC \xE2\x80\x9Cq\xE2\x80\x9D");
    ck_assert_uint_eq(l.next_offset, 12);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "bad\xEF\xBF\xBD");
    ck_assert_uint_eq(l.offset, 12);
    ck_assert_uint_eq(l.next_offset, strlen(s));
    ck_assert_uint_eq(hvd_text_reader_bad_units(t), 1);
    hvd_text_reader_close(t);
}
END_TEST

START_TEST(long_lines_are_cut_and_counted)
{
    size_t big = HVD_TEXT_LINE_MAX + 5000;
    char *s = malloc(big + 16);
    hvd_text_reader *t;
    hvd_text_line l;
    hvd_error err;

    ck_assert_ptr_nonnull(s);
    /* 2-byte characters, offset by one so the cap falls inside one. */
    s[0] = 'x';
    for (size_t i = 1; i + 1 < big; i += 2) {
        s[i] = '\xC3';
        s[i + 1] = '\xA9';
    }
    s[big - 1] = 'x';
    memcpy(s + big, "\nnext\n", 7);
    t = open_mem(s, big + 6, 0, HVD_TEXT_UTF8);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_int_eq(l.cut, 1);
    ck_assert_uint_le(l.len, HVD_TEXT_LINE_MAX);
    ck_assert_uint_ge(l.len, HVD_TEXT_LINE_MAX - 3);
    ck_assert_int_eq((unsigned char)l.text[l.len - 1], 0xA9); /* ends on a whole character */
    ck_assert_uint_eq(l.next_offset, big + 1);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "next");
    ck_assert_int_eq(l.cut, 0);
    ck_assert_uint_eq(hvd_text_reader_cut_lines(t), 1);
    hvd_text_reader_close(t);
    free(s);
}
END_TEST

START_TEST(fd_reader_sees_a_growing_file)
{
    char *dir = hvd_test_tmpdir();
    char *path = hvd_test_path(dir, "grow.log");
    hvd_text_reader *t = NULL;
    hvd_text_line l;
    hvd_error err;
    int fd;

    ck_assert_int_eq(hvd_test_write_file(path, "one\ntw", 6), 0);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(hvd_text_reader_open_fd(&t, fd, path, 0, HVD_TEXT_DETECT, &err), HVD_OK);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "one");
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_int_eq(l.terminated, 0);
    ck_assert_uint_eq(l.offset, 4);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 0);
    /* The writer finishes the line: seek back to its start and read it whole. */
    ck_assert_int_eq(hvd_test_write_file(path, "one\ntwo\n", 8), 0);
    ck_assert_int_eq(hvd_text_reader_seek(t, 4, &err), HVD_OK);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 1);
    ck_assert_str_eq(l.text, "two");
    ck_assert_int_eq(l.terminated, 1);
    ck_assert_int_eq(hvd_text_reader_next(t, &l, &err), 0);
    hvd_text_reader_close(t);
    close(fd);
    hvd_test_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

static const char *clean(const char *s, unsigned flags)
{
    static char out[512];

    ck_assert_uint_lt(hvd_text_sanitize(out, sizeof(out), s, strlen(s), flags), sizeof(out));
    return out;
}

START_TEST(sanitize_escapes_controls_and_keeps_text)
{
    /* A screen-clearing, title-setting member name. */
    ck_assert_str_eq(clean("evil\033[2J\033]0;pwned\007.log", 0),
                     "evil\\x1b[2J\\x1b]0;pwned\\x07.log");
    ck_assert_str_eq(clean("a\nb\tc\rd\x7f", 0), "a\\nb\\tc\\rd\\x7f");
    ck_assert_str_eq(clean("a\nb\tc\rd", HVD_TEXT_KEEP_LINES), "a\nb\tc\\rd");
    /* C1 CSI (U+009B) and a right-to-left override are escaped; other UTF-8 is kept. */
    ck_assert_str_eq(clean("x\xc2\x9b"
                           "2Jy",
                           0),
                     "x\\u009b2Jy");
    ck_assert_str_eq(clean("gpj.\xe2\x80\xae"
                           "exe",
                           0),
                     "gpj.\\u202eexe");
    ck_assert_str_eq(clean("Hyper-V \xc3\xa9t\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80", 0),
                     "Hyper-V \xc3\xa9t\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80");
    /* Bytes that are not UTF-8 (a lone lead, an overlong, a cut sequence) become U+FFFD. */
    ck_assert_str_eq(clean("a\xff"
                           "b\xc0\xaf"
                           "c\xe2\x80",
                           0),
                     "a\xef\xbf\xbd"
                     "b\xef\xbf\xbd\xef\xbf\xbd"
                     "c\xef\xbf\xbd\xef\xbf\xbd");
}
END_TEST

START_TEST(sanitize_cuts_whole_pieces_and_reports_the_full_length)
{
    char out[6];
    char big[4 * 64 + 1];
    char in[64];

    /* "ab\x1b" needs 6 bytes; 5 fit: the escape is left out whole. */
    ck_assert_uint_eq(hvd_text_sanitize(out, sizeof(out), "ab\033cd", 5, 0), 8);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(hvd_text_sanitize(NULL, 0, "ab\033cd", 5, 0), 8);
    /* The documented worst case fits. */
    memset(in, 1, sizeof(in));
    ck_assert_uint_eq(hvd_text_sanitize(big, sizeof(big), in, sizeof(in), 0), 4 * 64);
    ck_assert_uint_eq(strlen(big), 4 * 64);
}
END_TEST

static Suite *text_suite(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("decode");

    tcase_add_test(tc, detect_by_bom_nuls_and_validity);
    tcase_add_test(tc, utf8_lines_crlf_and_lf_with_offsets);
    tcase_add_test(tc, utf16_offsets_count_original_bytes);
    tcase_add_test(tc, split_sequences_across_chunks_are_kept_whole);
    tcase_add_test(tc, invalid_sequences_become_replacements_and_are_counted);
    tcase_add_test(tc, utf16_lone_surrogates_and_truncated_tail);
    tcase_add_test(tc, windows1252_bytes_convert);
    tcase_add_test(tc, long_lines_are_cut_and_counted);
    tcase_add_test(tc, fd_reader_sees_a_growing_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("terminal");
    tcase_add_test(tc, sanitize_escapes_controls_and_keeps_text);
    tcase_add_test(tc, sanitize_cuts_whole_pieces_and_reports_the_full_length);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(text_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
