/*
 * text: file bytes -> UTF-8 lines, the first step of the cluster.log reader.
 *
 * Layouts (after SQLite's utf.c): UTF-16LE stores each code unit low byte first; a
 * character above U+FFFF is a surrogate pair (D800-DBFF then DC00-DFFF), 4 bytes; the BOM
 * is FF FE. UTF-8 uses 1-4 bytes per character, BOM EF BB BF. Windows-1252 is one byte per
 * character; glibc leaves 81 8D 8F 90 9D undefined.
 *
 * Flow: raw[] holds file bytes; iconv(3) turns them into UTF-8 in out[]; lines are split in
 * out[] and copied to line[]. A sequence cut by the end of raw[] (EINVAL) stays at raw's
 * head for the next read; an invalid one (EILSEQ, a lone surrogate, a truncated tail at the
 * end of the data) becomes U+FFFD, one code unit is skipped and counted. Half a UTF-16 code
 * unit at the end of the data is left unread, as a file still being written would have it:
 * offsets in UTF-16 are always even, so every offset reported can be resumed from.
 *
 * Offsets: out[] never mixes a replacement with converted text (a replacement is a fill of
 * its own), so the original width of any run of converted text follows from the encoding:
 * UTF-8 one byte per byte, Windows-1252 one byte per character, UTF-16LE two bytes per
 * character and four for a character above U+FFFF. next_off is the original offset of
 * out[out_pos]; it advances by those widths as out[] is consumed.
 */
#include "text.h"

#include "alloc.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define RAW_CAP (64 * 1024)
#define OUT_CAP (64 * 1024)

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

    char out[OUT_CAP];
    size_t out_pos, out_len;
    size_t out_repl;   /* when non-zero, out[] is one U+FFFD standing for this many bytes */
    uint64_t next_off; /* file offset of out[out_pos] */

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

/* Refills out[] from raw[]. Returns 1 when out[] has bytes, 0 at the end of the data, or a
 * negative HVD_E* code. */
static int fill_out(hvd_text_reader *t, hvd_error *err)
{
    size_t unit = t->enc == HVD_TEXT_UTF16LE ? 2 : 1;
    int rc;

    t->out_pos = 0;
    t->out_len = 0;
    t->out_repl = 0;
    for (;;) {
        size_t avail = t->raw_len - t->raw_pos;
        char *in;
        char *outp = t->out;
        size_t inleft = avail;
        size_t outleft = OUT_CAP;
        size_t r;
        int e;

        if (avail < 4) {
            rc = fill_raw(t, err);
            if (rc < 0) {
                return rc;
            }
            avail = t->raw_len - t->raw_pos;
            inleft = avail;
        }
        if (avail == 0) {
            return 0;
        }
        in = (char *)t->raw + t->raw_pos;
        r = iconv(t->cd, &in, &inleft, &outp, &outleft);
        e = errno;
        t->raw_pos += avail - inleft;
        t->out_len = OUT_CAP - outleft;
        if (r != (size_t)-1 || e == E2BIG) {
            if (t->out_len > 0) {
                return 1;
            }
            continue;
        }
        if (t->out_len > 0) {
            return 1; /* the problem is met again, alone, on the next fill */
        }
        if (e == EINVAL) {
            /* A unit or pair cut by the end of raw[]: read on, unless the data ends here. */
            rc = fill_raw(t, err);
            if (rc < 0) {
                return rc;
            }
            if (rc > 0) {
                continue;
            }
            if (unit == 2 && t->raw_len - t->raw_pos < 2) {
                /* Half a UTF-16 code unit ends the data: it is not consumed (the file may
                 * still be written), so every offset the reader reports stays even. */
                return 0;
            }
        } else if (e != EILSEQ) {
            return hvd_error_set_cause(err, HVD_EIO, e, t->name, 0, "iconv: %s", strerror(e));
        }
        if (unit > t->raw_len - t->raw_pos) {
            unit = t->raw_len - t->raw_pos;
        }
        memcpy(t->out, "\xEF\xBF\xBD", 3);
        t->out_len = 3;
        t->out_repl = unit;
        t->raw_pos += unit;
        t->bad_units++;
        /* glibc keeps no shift state for these encodings, but reset as the API asks. */
        iconv(t->cd, NULL, NULL, NULL, NULL);
        return 1;
    }
}

/* Original width in bytes of out[a..b). */
static uint64_t out_width(const hvd_text_reader *t, size_t a, size_t b)
{
    uint64_t w = 0;

    if (t->out_repl) {
        return t->out_repl;
    }
    if (t->enc == HVD_TEXT_UTF8) {
        return b - a;
    }
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)t->out[i];
        if ((c & 0xC0) == 0x80) {
            continue;
        }
        if (t->enc == HVD_TEXT_WINDOWS1252) {
            w += 1;
        } else {
            w += c >= 0xF0 ? 4 : 2;
        }
    }
    return w;
}

int hvd_text_reader_next(hvd_text_reader *t, hvd_text_line *line, hvd_error *err)
{
    size_t len = 0;
    int cut = 0;
    int terminated = 0;
    uint64_t start = t->next_off;
    int rc;

    for (;;) {
        const char *seg;
        const char *nl;
        size_t n, take, copy;

        if (t->out_pos == t->out_len) {
            rc = fill_out(t, err);
            if (rc < 0) {
                return rc;
            }
            if (rc == 0) {
                if (len == 0 && !cut && t->next_off == start) {
                    return 0;
                }
                break;
            }
        }
        seg = t->out + t->out_pos;
        n = t->out_len - t->out_pos;
        nl = memchr(seg, '\n', n);
        take = nl ? (size_t)(nl - seg) + 1 : n;
        copy = nl ? take - 1 : take;
        t->next_off += out_width(t, t->out_pos, t->out_pos + take);
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
        /* Do not leave half a character at the cut. */
        size_t back = len;
        while (back > 0 && ((unsigned char)t->line[back - 1] & 0xC0) == 0x80) {
            back--;
        }
        if (back > 0 && (unsigned char)t->line[back - 1] >= 0xC0) {
            int need = utf8_seq((const unsigned char *)t->line + back - 1, len - back + 1);
            if (need <= 0) {
                len = back - 1;
            }
        }
        t->cut_lines++;
    }
    if (len > 0 && t->line[len - 1] == '\r') {
        len--;
    }
    t->line[len] = '\0';
    line->text = t->line;
    line->len = len;
    line->offset = start;
    line->next_offset = t->next_off;
    line->terminated = terminated;
    line->cut = cut;
    return 1;
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
    t->out_repl = 0;
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

void hvd_text_reader_close(hvd_text_reader *t)
{
    if (!t) {
        return;
    }
    if (t->cd != (iconv_t)-1) {
        iconv_close(t->cd);
    }
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
