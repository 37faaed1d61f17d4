/*
 * text: Windows text files (cluster.log) as lines of UTF-8. Detects UTF-16LE, UTF-8 and
 * Windows-1252, decodes whole lines a large chunk at a time, splits lines after decoding and
 * reports where each line starts in the original file, so a reader can checkpoint and
 * resume. Memory is bounded: fixed read and decode buffers and a line cap.
 */
#ifndef HVD_TEXT_H
#define HVD_TEXT_H

#include "error.h"
#include "prefilter.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hvd_text_encoding {
    HVD_TEXT_DETECT = 0, /* as an argument: detect from the first bytes */
    HVD_TEXT_UTF8 = 1,
    HVD_TEXT_UTF16LE = 2,
    HVD_TEXT_WINDOWS1252 = 3,
} hvd_text_encoding;

/* Longest line returned, in UTF-8 bytes; longer lines are cut (and counted). */
#define HVD_TEXT_LINE_MAX (64 * 1024)
/* How many leading bytes the NUL test of hvd_text_detect() looks at. */
#define HVD_TEXT_DETECT_NUL_WINDOW 4096

/*
 * The encoding of a file whose first len bytes are head: BOM FF FE -> UTF-16LE, EF BB BF ->
 * UTF-8; without a BOM, NULs at odd offsets in the first 4 KiB -> UTF-16LE, valid UTF-8 (a
 * sequence cut by the end of head is allowed) -> UTF-8, else Windows-1252. *bom_len (may be
 * NULL) gets the BOM's length, 0 when none.
 */
hvd_text_encoding hvd_text_detect(const void *head, size_t len, size_t *bom_len);

/* "utf-8", "utf-16le", "windows-1252"; "" for anything else. */
const char *hvd_text_encoding_name(hvd_text_encoding enc);
/* The reverse (case-insensitive); HVD_TEXT_DETECT for an unknown name. */
hvd_text_encoding hvd_text_encoding_from_name(const char *name);

typedef struct hvd_text_line {
    const char *text;     /* UTF-8 without the line end; borrowed, valid until the next call */
    size_t len;           /* bytes in text; text may hold U+0000 from the file */
    uint64_t offset;      /* offset of the line's first byte in the original file */
    uint64_t next_offset; /* offset just past the line end: where the next line starts */
    int terminated;       /* 1 when an LF ended the line; 0 for a last line without one */
    int cut;              /* 1 when the line was longer than HVD_TEXT_LINE_MAX and was cut */
    int hit; /* 1 when the prefilter found one of its literals in the line (before any cut), or
                the line was longer than a read; always 1 without a prefilter */
} hvd_text_line;

typedef struct hvd_text_reader hvd_text_reader;

/*
 * A line reader over fd (borrowed, not closed; read with pread, so a file that grows can be
 * read further after an end). name stands for the file in error messages (borrowed, must
 * outlive the reader). Reading starts at offset, which must be a line start on a code-unit
 * boundary; at offset 0 a BOM is skipped. enc HVD_TEXT_DETECT detects from the file's first
 * bytes. On success *out owns the reader until hvd_text_reader_close().
 * Errors: HVD_ENOMEM, HVD_EIO, HVD_EINVAL (odd UTF-16 offset), HVD_EUNSUPPORTED (iconv).
 */
int hvd_text_reader_open_fd(hvd_text_reader **out, int fd, const char *name, uint64_t offset,
                            hvd_text_encoding enc, hvd_error *err);

/* As hvd_text_reader_open_fd() over len bytes at data (borrowed; must outlive the reader). */
int hvd_text_reader_open_mem(hvd_text_reader **out, const void *data, size_t len, const char *name,
                             uint64_t offset, hvd_text_encoding enc, hvd_error *err);

/*
 * The next line: returns 1 and fills *line, 0 at the end of the data, or a negative HVD_E*
 * code (read error). CRLF and LF both end a line. An invalid sequence becomes U+FFFD, one
 * code unit is skipped and counted (hvd_text_reader_bad_units()). After 0, a later call on
 * an fd reader reads whatever the file has gained since.
 */
int hvd_text_reader_next(hvd_text_reader *t, hvd_text_line *line, hvd_error *err);

/* Marks the lines holding one of pf's literals (hvd_text_line.hit); NULL: every line.
 * pf is borrowed and must outlive the reader. HVD_OK or HVD_ENOMEM. */
int hvd_text_reader_set_prefilter(hvd_text_reader *t, const hvd_prefilter *pf, hvd_error *err);

/*
 * The decoded text from the reader's position on, for a caller that passes over lines
 * without a prefilter hit itself instead of one hvd_text_reader_next() call each: *text
 * points at it (borrowed, not NUL-terminated, valid until the next call that reads or
 * seeks), *avail says how many bytes are decoded, and the return how many of them no
 * prefilter hit ends in: a line ending in '\n' before that many bytes is one that
 * hvd_text_reader_next() would return whole with hit 0. Returns 0 (nothing to pass over)
 * without a prefilter, after a failed scan, and when nothing is decoded: then read on with
 * hvd_text_reader_next(). Cost: O(1), and O(bytes to the next hit / 64) once per hit.
 */
size_t hvd_text_reader_quiet(hvd_text_reader *t, const char **text, size_t *avail);
/* The file offset of byte n of the text hvd_text_reader_quiet() gave (n at or after any
 * byte asked before, up to what is passed over). */
uint64_t hvd_text_reader_quiet_offset(hvd_text_reader *t, size_t n);
/* Passes over the first n bytes of that text: whole lines, each ending in '\n', that hold
 * no hit and are not longer than HVD_TEXT_LINE_MAX, as that many hvd_text_reader_next()
 * calls would. */
void hvd_text_reader_pass(hvd_text_reader *t, size_t n);

/* Drops everything buffered and goes on at offset (same rules as at open). */
int hvd_text_reader_seek(hvd_text_reader *t, uint64_t offset, hvd_error *err);

hvd_text_encoding hvd_text_reader_encoding(const hvd_text_reader *t);
size_t hvd_text_reader_bom_len(const hvd_text_reader *t);
/* Offset where the next line returned will start. */
uint64_t hvd_text_reader_offset(const hvd_text_reader *t);
/* Invalid sequences replaced with U+FFFD so far. */
uint64_t hvd_text_reader_bad_units(const hvd_text_reader *t);
/* Lines cut at HVD_TEXT_LINE_MAX so far. */
uint64_t hvd_text_reader_cut_lines(const hvd_text_reader *t);
/* Sets both counts back, for a caller that seeks back to read lines again. */
void hvd_text_reader_set_counts(hvd_text_reader *t, uint64_t bad_units, uint64_t cut_lines);

void hvd_text_reader_close(hvd_text_reader *t); /* NULL-safe */

/* hvd_text_sanitize() flag: keep LF and TAB (multi-line text such as a rule's remedy). */
#define HVD_TEXT_KEEP_LINES 1u
/* The most bytes hvd_text_sanitize() writes for one input byte (a control as "\xhh"). */
#define HVD_TEXT_SANITIZE_GROWTH 4

/*
 * Text from input (file and archive member names, event text, host names), made safe to
 * write to a terminal: C0 controls and DEL become "\x1b"-style escapes ("\n", "\t", "\r"
 * for those, or kept with HVD_TEXT_KEEP_LINES), C1 controls (U+0080-U+009F) and the
 * bidirectional overrides "\u009b"-style escapes, bytes that are not UTF-8 U+FFFD; other
 * text is copied. Writes at most cap bytes to out including a NUL (whole characters and
 * escapes only; out may be NULL when cap is 0) and returns the length of the whole result,
 * as snprintf() does: the output was cut when the return value is >= cap. A buffer of
 * len * HVD_TEXT_SANITIZE_GROWTH + 1 bytes always suffices.
 */
size_t hvd_text_sanitize(char *out, size_t cap, const char *s, size_t len, unsigned flags);

#endif
