/*
 * text: file bytes -> UTF-8 lines, the first step of the cluster.log reader.
 *
 * Layouts (after SQLite's utf.c): UTF-16LE stores each code unit low byte first; a
 * character above U+FFFF is a surrogate pair (D800-DBFF then DC00-DFFF), 4 bytes; the BOM
 * is FF FE. UTF-8 uses 1-4 bytes per character, BOM EF BB BF. Windows-1252 is one byte per
 * character; glibc leaves 81 8D 8F 90 9D undefined.
 *
 * Flow: raw[] holds file bytes; the whole lines in it are decoded into out[] in one go
 * (valid UTF-8 is only checked and stays where it is in raw[], UTF-8 with invalid bytes is
 * copied, ASCII narrowed from UTF-16LE, anything else converted by iconv(3)), a prefilter
 * (if set) marks in one pass where its literals end, and lines are handed out where they
 * lie in the decoded text (copied to line[] only when longer than raw[]). A sequence cut
 * by the end of raw[] (EINVAL) stays at raw's head for the next read; an invalid one (EILSEQ, a
 * lone surrogate, a truncated tail at the end of the data) becomes U+FFFD, one code unit is skipped
 * and counted. Half a UTF-16 code unit at the end of the data is left unread, as a file still being
 * written would have it: offsets in UTF-16 are always even, so every offset reported can be resumed
 * from.
 *
 * Offsets: out[] never mixes a replacement with converted text (a replacement is a fill of
 * its own), so the original width of any run of converted text follows from the encoding:
 * UTF-8 one byte per byte, Windows-1252 one byte per character, UTF-16LE two bytes per
 * character and four for a character above U+FFFF. next_off is the original offset of
 * out[out_pos]; it advances by those widths as out[] is consumed.
 */
#include "text.h"

#include "alloc.h"
#include "prefilter.h"

#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define RAW_CAP  (128 * 1024)
#define OUT_CAP  (3 * RAW_CAP + 8) /* any RAW_CAP bytes decode into it: 1 byte -> 3 at most */
#define REPL_CAP (RAW_CAP + 1)

struct hvd_text_reader {
    const char *name;
    int fd;                    /* -1 for a memory reader */
    const unsigned char *data; /* memory reader */
    size_t data_len;
    hvd_text_encoding enc;
    size_t bom_len;
    iconv_t cd;

    unsigned char raw[RAW_CAP];
    size_t raw_pos, raw_len;
    uint64_t raw_end_off; /* file offset of raw[raw_len] */

    char out[OUT_CAP + 1];
    char *text; /* the decoded text: out[], or raw[] itself for valid UTF-8 */
    size_t out_pos, out_len;
    uint64_t out_off; /* file offset of out[0] */
    int out_uniform;  /* out[] is ASCII only: one character a code unit */
    uint32_t *repl; /* UTF-8: where in out[] a U+FFFD replaced one byte (REPL_CAP, allocated at the
                       first) */
    size_t nrepl;
    int nomem;      /* the replacement list could not be allocated */
    size_t cur_pos; /* offset_at()'s cursor: out[cur_pos] is at file offset cur_off */
    uint64_t cur_off;
    size_t cur_repl;
    uint64_t next_off; /* file offset where the next line starts */

    hvd_prefilter_scanner *scan; /* NULL: every line is a hit */
    uint64_t *bits;              /* prefilter hits: bit i set when a literal ends at out[i] */
    int all_hits;                /* the scanner failed on this chunk: every line is a hit */
    size_t hit_at;               /* the first hit at or after out_pos when hit_known */
    int hit_known;

    char line[HVD_TEXT_LINE_MAX + 1];
    uint64_t bad_units;
    uint64_t cut_lines;
};

static const char *iconv_name(hvd_text_encoding enc)
{
    switch (enc) {
    case HVD_TEXT_UTF16LE:
        return "UTF-16LE";
    case HVD_TEXT_WINDOWS1252:
        return "CP1252";
    default:
        return "UTF-8";
    }
}

const char *hvd_text_encoding_name(hvd_text_encoding enc)
{
    switch (enc) {
    case HVD_TEXT_UTF8:
        return "utf-8";
    case HVD_TEXT_UTF16LE:
        return "utf-16le";
    case HVD_TEXT_WINDOWS1252:
        return "windows-1252";
    default:
        return "";
    }
}

hvd_text_encoding hvd_text_encoding_from_name(const char *name)
{
    if (!name) {
        return HVD_TEXT_DETECT;
    }
    if (strcasecmp(name, "utf-8") == 0) {
        return HVD_TEXT_UTF8;
    }
    if (strcasecmp(name, "utf-16le") == 0) {
        return HVD_TEXT_UTF16LE;
    }
    if (strcasecmp(name, "windows-1252") == 0) {
        return HVD_TEXT_WINDOWS1252;
    }
    return HVD_TEXT_DETECT;
}

/* Length of the valid UTF-8 sequence at p (n bytes available): 1-4, 0 when invalid, -1
 * when it is a valid start cut short by the end of the buffer. */
static int utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    int len;
    unsigned min2;
    unsigned max2 = 0xBF;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min2 = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min2 = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        max2 = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min2 = c == 0xF0 ? 0x90 : 0x80;
        max2 = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) {
            return -1;
        }
        if (i == 1 ? (p[1] < min2 || p[1] > max2) : (p[i] < 0x80 || p[i] > 0xBF)) {
            return 0;
        }
    }
    return len;
}

hvd_text_encoding hvd_text_detect(const void *head, size_t len, size_t *bom_len)
{
    const unsigned char *p = head;
    size_t window = len < HVD_TEXT_DETECT_NUL_WINDOW ? len : HVD_TEXT_DETECT_NUL_WINDOW;
    size_t odd_nul = 0, even_nul = 0;
    size_t i;

    if (bom_len) {
        *bom_len = 0;
    }
    if (len >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
        if (bom_len) {
            *bom_len = 2;
        }
        return HVD_TEXT_UTF16LE;
    }
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        if (bom_len) {
            *bom_len = 3;
        }
        return HVD_TEXT_UTF8;
    }
    for (i = 0; i < window; i++) {
        if (p[i] == 0) {
            if (i % 2) {
                odd_nul++;
            } else {
                even_nul++;
            }
        }
    }
    /* ASCII-heavy UTF-16LE has a NUL in nearly every odd byte and few in even ones. */
    if (odd_nul > 0 && odd_nul * 4 >= window / 2 && even_nul * 2 < odd_nul) {
        return HVD_TEXT_UTF16LE;
    }
    for (i = 0; i < len;) {
        int n = utf8_seq(p + i, len - i);
        if (n == 0) {
            return HVD_TEXT_WINDOWS1252;
        }
        if (n < 0) {
            break; /* cut by the end of the window: not evidence either way */
        }
        i += (size_t)n;
    }
    return HVD_TEXT_UTF8;
}

/* Reads more bytes after what raw[] holds, keeping the unconsumed tail. Returns 1 when
 * bytes were added, 0 at the end of the data, or a negative HVD_E* code. */
static int fill_raw(hvd_text_reader *t, hvd_error *err)
{
    size_t keep = t->raw_len - t->raw_pos;
    size_t room;
    size_t got;

    if (keep && t->raw_pos) {
        memmove(t->raw, t->raw + t->raw_pos, keep);
    }
    t->raw_pos = 0;
    t->raw_len = keep;
    room = RAW_CAP - keep;
    if (room == 0) {
        return 0;
    }
    if (t->fd < 0) {
        if (t->raw_end_off >= t->data_len) {
            return 0;
        }
        got = t->data_len - (size_t)t->raw_end_off;
        if (got > room) {
            got = room;
        }
        memcpy(t->raw + keep, t->data + t->raw_end_off, got);
    } else {
        ssize_t n;
        do {
            n = pread(t->fd, t->raw + keep, room, (off_t)t->raw_end_off);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            return hvd_error_set_cause(err, HVD_EIO, errno, t->name, 0, "read at offset %llu: %s",
                                       (unsigned long long)t->raw_end_off, strerror(errno));
        }
        got = (size_t)n;
    }
    t->raw_len += got;
    t->raw_end_off += got;
    return (int)(got > 0);
}

/* Where the last line end ('\n', or "\n\0" in UTF-16LE) in n bytes at p ends, 0 if none. */
static size_t last_line_end(const unsigned char *p, size_t n, size_t unit)
{
    const unsigned char *nl;

    if (unit == 1) {
        for (nl = p + n; nl > p; nl--) {
            if (nl[-1] == '\n') {
                return (size_t)(nl - p);
            }
        }
        return 0;
    }
    for (size_t i = n & ~(size_t)1; i >= 2; i -= 2) {
        if (p[i - 2] == '\n' && p[i - 1] == 0) {
            return i;
        }
    }
    return 0;
}

/* U+FFFD for one invalid unit. Returns 0, or -1 when out of memory. */
static int put_replacement(hvd_text_reader *t)
{
    if (t->enc == HVD_TEXT_UTF8) {
        if (!t->repl && !(t->repl = hvd_malloc(REPL_CAP * sizeof(*t->repl)))) {
            return -1;
        }
        t->repl[t->nrepl++] = (uint32_t)t->out_len; /* at most one a raw byte: REPL_CAP */
    }
    memcpy(t->out + t->out_len, "\xEF\xBF\xBD", 3);
    t->out_len += 3;
    t->bad_units++;
    return 0;
}

/* Bytes at the start of in[0..n) that are whole valid UTF-8 sequences. Cost: O(n), ASCII
 * sixteen or eight bytes a step. */
static size_t utf8_valid_prefix(const unsigned char *in, size_t n)
{
    size_t i = 0;

    while (i < n) {
        int len;

#ifdef __SSE2__
        while (i + 16 <= n &&
               _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(in + i))) == 0) {
            i += 16;
        }
#endif
        while (i + 8 <= n) {
            uint64_t w;

            memcpy(&w, in + i, 8);
            if (w & UINT64_C(0x8080808080808080)) {
                break;
            }
            i += 8;
        }
        while (i < n && in[i] < 0x80) {
            i++;
        }
        if (i == n) {
            break;
        }
        len = utf8_seq(in + i, n - i);
        if (len <= 0) {
            break;
        }
        i += (size_t)len;
    }
    return i;
}

/* UTF-8: valid text is copied as it is, each invalid byte becomes U+FFFD. Returns the bytes
 * consumed (a sequence cut by the end of in stays unless final). */
static size_t decode_utf8(hvd_text_reader *t, const unsigned char *in, size_t n, int final)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        int len;

        char *o = t->out + t->out_len;

        /* ASCII 8 bytes at a time, checked as it is copied. */
        while (j + 8 <= n) {
            uint64_t w;

            memcpy(&w, in + j, 8);
            if (w & UINT64_C(0x8080808080808080)) {
                break;
            }
            memcpy(o + (j - i), &w, 8);
            j += 8;
        }
        while (j < n && in[j] < 0x80) {
            o[j - i] = (char)in[j];
            j++;
        }
        t->out_len += j - i;
        i = j;
        if (i == n) {
            break;
        }
        len = utf8_seq(in + i, n - i);
        if (len > 0) {
            memcpy(t->out + t->out_len, in + i, (size_t)len);
            t->out_len += (size_t)len;
            i += (size_t)len;
        } else if (len < 0 && !final) {
            break; /* the rest of the sequence comes with the next read */
        } else {
            if (put_replacement(t) < 0) {
                t->nomem = 1;
                break;
            }
            i++;
            t->out_uniform = 0;
        }
    }
    return i;
}

/* UTF-16LE and Windows-1252: ASCII is narrowed here, anything else goes through iconv(3)
 * run by run; an invalid unit becomes U+FFFD. Returns the bytes consumed. */
static size_t decode_iconv(hvd_text_reader *t, const unsigned char *in, size_t n, int final)
{
    size_t unit = t->enc == HVD_TEXT_UTF16LE ? 2 : 1;
    size_t i = 0;

    while (i + unit <= n) {
        size_t j = i;
        char *src;
        char *dst;
        size_t left, room;

        if (unit == 2) {
            char *o = t->out + t->out_len;
            size_t k = 0;

#ifdef __SSE2__
            /* Sixteen ASCII units at a time: both halves ASCII, packed to bytes. */
            while (j + 32 <= n) {
                __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(in + j));
                __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(in + j + 16));
                __m128i hi = _mm_and_si128(_mm_or_si128(a, b), _mm_set1_epi16((short)0xFF80));

                if (_mm_movemask_epi8(_mm_cmpeq_epi16(hi, _mm_setzero_si128())) != 0xFFFF) {
                    break;
                }
                _mm_storeu_si128((__m128i *)(void *)(o + k), _mm_packus_epi16(a, b));
                k += 16;
                j += 32;
            }
#endif
            /* Eight ASCII units at a time (every high byte 0, every low byte below 0x80),
             * their low bytes packed into one word (little-endian loads). */
            while (j + 16 <= n) {
                uint64_t w0, w1;

                memcpy(&w0, in + j, 8);
                memcpy(&w1, in + j + 8, 8);
                if ((w0 | w1) & UINT64_C(0xFF80FF80FF80FF80)) {
                    break;
                }
                w0 = (w0 | w0 >> 8) & UINT64_C(0x0000FFFF0000FFFF);
                w0 = (w0 | w0 >> 16) & UINT64_C(0x00000000FFFFFFFF);
                w1 = (w1 | w1 >> 8) & UINT64_C(0x0000FFFF0000FFFF);
                w1 = (w1 | w1 >> 16) & UINT64_C(0x00000000FFFFFFFF);
                w0 |= w1 << 32;
                memcpy(o + k, &w0, 8);
                k += 8;
                j += 16;
            }
            t->out_len += k;
            while (j + 2 <= n && in[j + 1] == 0 && in[j] < 0x80) {
                t->out[t->out_len++] = (char)in[j];
                j += 2;
            }
        } else {
            while (j < n && in[j] < 0x80) {
                t->out[t->out_len++] = (char)in[j];
                j++;
            }
        }
        i = j;
        if (i + unit > n) {
            break;
        }
        /* A run of non-ASCII units. */
        while (j + unit <= n && (unit == 2 ? (in[j + 1] != 0 || in[j] >= 0x80) : in[j] >= 0x80)) {
            j += unit;
        }
        t->out_uniform = 0;
        while (i < j) {
            size_t r;

            src = (char *)in + i;
            left = j - i;
            dst = t->out + t->out_len;
            room = OUT_CAP - t->out_len;
            r = iconv(t->cd, &src, &left, &dst, &room);
            t->out_len = OUT_CAP - room;
            i = j - left;
            if (r != (size_t)-1) {
                break;
            }
            if (errno == EINVAL && j == n && !final) {
                return i; /* a pair cut by the end of the read */
            }
            /* EILSEQ, or EINVAL with a unit after the run: a lone surrogate. */
            (void)put_replacement(t); /* cannot fail: nothing to note outside UTF-8 */
            i += unit;
            iconv(t->cd, NULL, NULL, NULL, NULL);
        }
    }
    return i;
}

/* Refills out[] with the decoded text of whole lines from raw[] (a line longer than raw[]
 * comes in parts) and marks the prefilter's hits. Returns 1 when out[] has bytes, 0 at the
 * end of the data, or a negative HVD_E* code. */
static int fill_out(hvd_text_reader *t, hvd_error *err)
{
    size_t unit = t->enc == HVD_TEXT_UTF16LE ? 2 : 1;
    size_t avail, take, used;
    int final;
    int rc;

    t->out_pos = 0;
    t->out_len = 0;
    t->nrepl = 0;
    t->out_uniform = 1;
    rc = fill_raw(t, err);
    if (rc < 0) {
        return rc;
    }
    avail = t->raw_len - t->raw_pos;
    final = t->raw_len < RAW_CAP; /* the read stopped short: the end of the data, for now */
    if (avail == 0) {
        return 0;
    }
    t->out_off = t->raw_end_off - avail;
    take = last_line_end(t->raw + t->raw_pos, avail, unit);
    if (take == 0) {
        take = avail; /* a last line without its end, or a line longer than raw[] */
    }
    t->text = t->out;
    if (t->enc == HVD_TEXT_UTF8) {
        const unsigned char *in = t->raw + t->raw_pos;
        size_t valid = utf8_valid_prefix(in, take);

        if (valid == take || (!final && utf8_seq(in + valid, take - valid) < 0)) {
            /* Valid as it is (but for a sequence the next read completes): the lines are
             * handed out where they lie in raw[], which is not read into again before
             * they are all consumed. */
            t->text = (char *)t->raw + t->raw_pos;
            t->out_len = valid;
            used = valid;
        } else {
            used = decode_utf8(t, in, take, final);
        }
    } else {
        used = decode_iconv(t, t->raw + t->raw_pos, take, final);
    }
    t->raw_pos += used;
    if (t->nomem) {
        t->nomem = 0;
        return hvd_error_set(err, HVD_ENOMEM, t->name, 0, "out of memory decoding text");
    }
    t->cur_pos = 0;
    t->cur_off = t->out_off;
    t->cur_repl = 0;
    if (t->out_len == 0) {
        return 0; /* half a code unit or a cut sequence ends the data */
    }
    if (t->scan) {
        memset(t->bits, 0, ((t->out_len + 63) / 64) * sizeof(*t->bits));
        t->all_hits = hvd_prefilter_scan(t->scan, t->text, t->out_len, t->bits) < 0;
        t->hit_known = 0;
    }
    return 1;
}

/* The file offset of out[p], p at or after the last position asked (the cursor): out[]
 * decoded from UTF-8 is the file's bytes but for U+FFFD (3 bytes for 1); otherwise each
 * character is 2 bytes in UTF-16LE (4 above U+FFFF), 1 in Windows-1252.
 * Cost: O(1) for UTF-8 and for ASCII-only chunks, else O(p - cursor). */
static uint64_t offset_at(hvd_text_reader *t, size_t p)
{
    uint64_t w = 0;

    if (t->enc == HVD_TEXT_UTF8) {
        w = p - t->cur_pos;
        while (t->cur_repl < t->nrepl && t->repl[t->cur_repl] < p) {
            w -= 2;
            t->cur_repl++;
        }
    } else if (t->out_uniform) {
        w = (uint64_t)(p - t->cur_pos) * (t->enc == HVD_TEXT_UTF16LE ? 2 : 1);
    } else {
        for (size_t i = t->cur_pos; i < p; i++) {
            unsigned char c = (unsigned char)t->text[i];

            if ((c & 0xC0) == 0x80) {
                continue;
            }
            w += t->enc == HVD_TEXT_WINDOWS1252 ? 1 : c >= 0xF0 ? 4 : 2;
        }
    }
    t->cur_pos = p;
    t->cur_off += w;
    return t->cur_off;
}

/* Whether a prefilter hit ends in out[a..b). */
static int hit_in(const hvd_text_reader *t, size_t a, size_t b)
{
    if (!t->scan || t->all_hits) {
        return 1;
    }
    while (a < b) {
        uint64_t w = t->bits[a / 64] >> (a % 64);
        size_t span = 64 - a % 64;

        if (span > b - a) {
            w &= (UINT64_C(1) << (b - a)) - 1;
            span = b - a;
        }
        if (w) {
            return 1;
        }
        a += span;
    }
    return 0;
}

/* The first position in out[a..b) where a prefilter hit ends, or b. Cost: O((b - a) / 64). */
static size_t next_hit(const hvd_text_reader *t, size_t a, size_t b)
{
    while (a < b) {
        uint64_t w = t->bits[a / 64] >> (a % 64);

        if (w) {
            size_t h = a + (size_t)__builtin_ctzll(w);
            return h < b ? h : b;
        }
        a = (a / 64 + 1) * 64;
    }
    return b;
}

size_t hvd_text_reader_quiet(hvd_text_reader *t, const char **text, size_t *avail)
{
    *text = t->text + t->out_pos;
    *avail = t->out_len - t->out_pos;
    if (!t->scan || t->all_hits || *avail == 0) {
        return 0;
    }
    /* Each hit is looked for once a chunk: the search goes on from the last one passed. */
    if (!t->hit_known || t->hit_at < t->out_pos) {
        t->hit_at = next_hit(t, t->out_pos, t->out_len);
        t->hit_known = 1;
    }
    return t->hit_at - t->out_pos;
}

uint64_t hvd_text_reader_quiet_offset(hvd_text_reader *t, size_t n)
{
    return offset_at(t, t->out_pos + n);
}

void hvd_text_reader_pass(hvd_text_reader *t, size_t n)
{
    t->next_off = offset_at(t, t->out_pos + n);
    t->out_pos += n;
}

/* Cuts the line at most bytes without leaving half a character. */
static size_t cut_at(const char *s, size_t len)
{
    size_t back = len;

    while (back > 0 && ((unsigned char)s[back - 1] & 0xC0) == 0x80) {
        back--;
    }
    if (back > 0 && (unsigned char)s[back - 1] >= 0xC0) {
        int need = utf8_seq((const unsigned char *)s + back - 1, len - back + 1);
        if (need <= 0) {
            len = back - 1;
        }
    }
    return len;
}

int hvd_text_reader_next(hvd_text_reader *t, hvd_text_line *line, hvd_error *err)
{
    size_t len = 0;
    int cut = 0;
    int terminated = 0;
    int pieces = 0;
    int hit = 0;
    uint64_t start = t->next_off;
    char *text = t->line;
    int rc;

    for (;;) {
        char *seg;
        char *nl;
        size_t n, take, copy;

        if (t->out_pos == t->out_len) {
            rc = fill_out(t, err);
            if (rc < 0) {
                return rc;
            }
            if (rc == 0) {
                if (pieces == 0) {
                    return 0;
                }
                break;
            }
        }
        seg = t->text + t->out_pos;
        n = t->out_len - t->out_pos;
        nl = memchr(seg, '\n', n);
        take = nl ? (size_t)(nl - seg) + 1 : n;
        if (pieces == 0) {
            start = offset_at(t, t->out_pos);
        }
        hit |= hit_in(t, t->out_pos, t->out_pos + take);
        if (nl && pieces == 0) {
            /* The whole line is in out[]: handed out where it lies. */
            text = seg;
            len = take - 1;
            t->next_off = offset_at(t, t->out_pos + take);
            t->out_pos += take;
            terminated = 1;
            if (len > HVD_TEXT_LINE_MAX) {
                len = cut_at(text, HVD_TEXT_LINE_MAX);
                cut = 1;
            }
            pieces = 1;
            break;
        }
        pieces++;
        copy = nl ? take - 1 : take;
        t->next_off = offset_at(t, t->out_pos + take);
        if (copy > HVD_TEXT_LINE_MAX - len) {
            copy = HVD_TEXT_LINE_MAX - len;
            cut = 1;
        }
        memcpy(t->line + len, seg, copy);
        len += copy;
        t->out_pos += take;
        if (nl) {
            terminated = 1;
            break;
        }
    }
    if (cut) {
        if (text == t->line) {
            len = cut_at(text, len);
        }
        t->cut_lines++;
    }
    if (len > 0 && text[len - 1] == '\r') {
        len--;
    }
    text[len] = '\0';
    line->text = text;
    line->len = len;
    line->offset = start;
    line->next_offset = t->next_off;
    line->terminated = terminated;
    line->cut = cut;
    /* A line read in parts is always a hit: what it holds depends on how it was split. */
    line->hit = hit || pieces > 1;
    return 1;
}

int hvd_text_reader_set_prefilter(hvd_text_reader *t, const hvd_prefilter *pf, hvd_error *err)
{
    hvd_prefilter_scanner_destroy(t->scan);
    t->scan = NULL;
    if (!pf) {
        return HVD_OK;
    }
    if (!t->bits) {
        t->bits = hvd_calloc(OUT_CAP / 64 + 1, sizeof(*t->bits));
        if (!t->bits) {
            return hvd_error_set(err, HVD_ENOMEM, t->name, 0, "cannot allocate a prefilter");
        }
    }
    return hvd_prefilter_scanner_create(&t->scan, pf, err);
}

/* Positions the reader at offset with nothing buffered; at 0, skips the BOM. */
static int reader_reset(hvd_text_reader *t, uint64_t offset, hvd_error *err)
{
    if (t->enc == HVD_TEXT_UTF16LE && offset % 2) {
        return hvd_error_set(err, HVD_EINVAL, t->name, 0,
                             "offset %llu is not on a UTF-16 code-unit boundary",
                             (unsigned long long)offset);
    }
    if (offset == 0 || offset < t->bom_len) {
        offset = t->bom_len;
    }
    t->raw_pos = 0;
    t->raw_len = 0;
    t->raw_end_off = offset;
    t->out_pos = 0;
    t->out_len = 0;
    t->text = t->out;
    t->nrepl = 0;
    t->next_off = offset;
    iconv(t->cd, NULL, NULL, NULL, NULL);
    return HVD_OK;
}

int hvd_text_reader_seek(hvd_text_reader *t, uint64_t offset, hvd_error *err)
{
    return reader_reset(t, offset, err);
}

static int reader_open(hvd_text_reader **out, int fd, const void *data, size_t len,
                       const char *name, uint64_t offset, hvd_text_encoding enc, hvd_error *err)
{
    hvd_text_reader *t = NULL;
    hvd_text_encoding found;
    size_t bom = 0;
    int rc;

    *out = NULL;
    t = hvd_calloc(1, sizeof(*t));
    if (!t) {
        return hvd_error_set(err, HVD_ENOMEM, name, 0, "cannot allocate a text reader");
    }
    t->cd = (iconv_t)-1;
    t->name = name;
    t->fd = fd;
    t->data = data;
    t->data_len = len;
    /* The file's head decides the encoding and tells whether there is a BOM to skip. */
    rc = fill_raw(t, err);
    if (rc < 0) {
        goto fail;
    }
    found = hvd_text_detect(t->raw, t->raw_len, &bom);
    if (enc == HVD_TEXT_DETECT) {
        enc = found;
    }
    t->enc = enc;
    t->bom_len = found == enc ? bom : 0;
    t->cd = iconv_open("UTF-8", iconv_name(enc));
    if (t->cd == (iconv_t)-1) {
        rc =
            hvd_error_set_cause(err, errno == ENOMEM ? HVD_ENOMEM : HVD_EUNSUPPORTED, errno, name,
                                0, "iconv cannot convert %s: %s", iconv_name(enc), strerror(errno));
        goto fail;
    }
    rc = reader_reset(t, offset, err);
    if (rc < 0) {
        goto fail;
    }
    *out = t;
    return HVD_OK;
fail:
    hvd_text_reader_close(t);
    return rc;
}

int hvd_text_reader_open_fd(hvd_text_reader **out, int fd, const char *name, uint64_t offset,
                            hvd_text_encoding enc, hvd_error *err)
{
    return reader_open(out, fd, NULL, 0, name, offset, enc, err);
}

int hvd_text_reader_open_mem(hvd_text_reader **out, const void *data, size_t len, const char *name,
                             uint64_t offset, hvd_text_encoding enc, hvd_error *err)
{
    return reader_open(out, -1, data, len, name, offset, enc, err);
}

hvd_text_encoding hvd_text_reader_encoding(const hvd_text_reader *t)
{
    return t->enc;
}

size_t hvd_text_reader_bom_len(const hvd_text_reader *t)
{
    return t->bom_len;
}

uint64_t hvd_text_reader_offset(const hvd_text_reader *t)
{
    return t->next_off;
}

uint64_t hvd_text_reader_bad_units(const hvd_text_reader *t)
{
    return t->bad_units;
}

uint64_t hvd_text_reader_cut_lines(const hvd_text_reader *t)
{
    return t->cut_lines;
}

void hvd_text_reader_set_counts(hvd_text_reader *t, uint64_t bad_units, uint64_t cut_lines)
{
    t->bad_units = bad_units;
    t->cut_lines = cut_lines;
}

void hvd_text_reader_close(hvd_text_reader *t)
{
    if (!t) {
        return;
    }
    if (t->cd != (iconv_t)-1) {
        iconv_close(t->cd);
    }
    hvd_prefilter_scanner_destroy(t->scan);
    hvd_free(t->bits);
    hvd_free(t->repl);
    hvd_free(t);
}

/* --- text for a terminal ---------------------------------------------------------------- */

/* Bidirectional overrides and isolates: they reorder what follows them on screen. */
static int is_bidi_control(uint32_t cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E ||
           cp == 0x200F || cp == 0x061C;
}

static uint32_t utf8_value(const unsigned char *p, int len)
{
    static const unsigned char lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    uint32_t cp = p[0] & lead_mask[len];

    for (int i = 1; i < len; i++) {
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    return cp;
}

/* Cost: O(len), one pass; nothing allocated. */
size_t hvd_text_sanitize(char *out, size_t cap, const char *s, size_t len, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t need = 0;
    size_t used = 0;
    int full = 0;

    for (size_t i = 0; i < len;) {
        char piece[8];
        size_t n;
        size_t adv = 1;
        unsigned c = p[i];

        if (c >= 0x20 && c < 0x7F) {
            piece[0] = (char)c;
            n = 1;
        } else if ((c == '\n' || c == '\t') && (flags & HVD_TEXT_KEEP_LINES)) {
            piece[0] = (char)c;
            n = 1;
        } else if (c == '\n' || c == '\t' || c == '\r') {
            piece[0] = '\\';
            piece[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
            n = 2;
        } else if (c < 0x80) {
            n = (size_t)snprintf(piece, sizeof(piece), "\\x%02x", c);
        } else {
            int seq = utf8_seq(p + i, len - i);

            if (seq <= 0) {
                memcpy(piece, "\xEF\xBF\xBD", 3); /* U+FFFD for a byte that is not UTF-8 */
                n = 3;
            } else {
                uint32_t cp = utf8_value(p + i, seq);

                adv = (size_t)seq;
                if (cp <= 0x9F || is_bidi_control(cp)) {
                    n = (size_t)snprintf(piece, sizeof(piece), "\\u%04x", (unsigned)cp);
                } else {
                    memcpy(piece, p + i, adv);
                    n = adv;
                }
            }
        }
        need += n;
        /* Whole pieces only: an escape or a character is never cut. */
        if (!full && cap > 0 && n < cap - used) {
            memcpy(out + used, piece, n);
            used += n;
        } else {
            full = 1;
        }
        i += adv;
    }
    if (cap > 0) {
        out[used] = '\0';
    }
    return need;
}
