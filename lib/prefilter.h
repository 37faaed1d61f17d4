/*
 * prefilter: a set of ASCII literals found, case ignored, in a buffer of text in one pass.
 * The rule set compiles one from the literals its cluster.log rules need (rules.c), and the
 * text reader marks the lines that hold one of them, so only those lines are parsed and
 * matched. Vectorscan (the portable Hyperscan) scans when the build has it; otherwise
 * PCRE2, with the same literals and the same answers.
 */
#ifndef HVD_PREFILTER_H
#define HVD_PREFILTER_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hvd_prefilter hvd_prefilter;
typedef struct hvd_prefilter_scanner hvd_prefilter_scanner;

/* Longest literal kept; a longer one is cut to its first HVD_PREFILTER_LIT_MAX bytes (any
 * text holding it holds that prefix, so the set still finds everything). */
#define HVD_PREFILTER_LIT_MAX 128

/*
 * Compiles n literals (NUL-terminated, non-empty, ASCII without '\n'; copied). Matching
 * ignores ASCII case; with n == 0 nothing is ever found. On success *out owns the set until
 * hvd_prefilter_destroy(). Errors: HVD_ENOMEM, HVD_EINVAL (an empty or non-ASCII literal).
 */
int hvd_prefilter_create(hvd_prefilter **out, const char *const *lits, size_t n, hvd_error *err);
void hvd_prefilter_destroy(hvd_prefilter *pf); /* NULL-safe */

size_t hvd_prefilter_count(const hvd_prefilter *pf);
/* Literal i (borrowed, valid until destroy), in the order given after duplicates and
 * literals holding another one went (the lines found are the same without them). */
const char *hvd_prefilter_literal(const hvd_prefilter *pf, size_t i);
/* "vectorscan" or "pcre2": what scans. */
const char *hvd_prefilter_backend(const hvd_prefilter *pf);

/* The scratch memory of scanning (one per reader or thread). pf is borrowed and must outlive
 * the scanner. On success *out owns it until hvd_prefilter_scanner_destroy(). */
int hvd_prefilter_scanner_create(hvd_prefilter_scanner **out, const hvd_prefilter *pf,
                                 hvd_error *err);
void hvd_prefilter_scanner_destroy(hvd_prefilter_scanner *s); /* NULL-safe */

/*
 * Scans len bytes at buf and sets bit i (bits[i / 64] >> (i % 64)) for positions i where a
 * literal occurrence ends (its last byte) -- at least one for every line ('\n'-separated)
 * holding a literal; bits is not cleared first and must hold len bits. Returns HVD_OK or
 * HVD_EIO (the scanner failed: the caller takes every line as a hit).
 * Cost: O(len), one pass (Vectorscan), or one PCRE2 search a line holding a literal.
 */
int hvd_prefilter_scan(hvd_prefilter_scanner *s, const char *buf, size_t len, uint64_t *bits);

/* Whether len bytes at buf hold a literal: 1 or 0, or HVD_EIO (the scanner failed: take it
 * as held). Cost: O(len), stopping at the first literal. */
int hvd_prefilter_holds(hvd_prefilter_scanner *s, const char *buf, size_t len);

/*
 * A cluster.log reader's filter: a line holding a literal of lines is read whole, and so is
 * an event tagged with one of tags ("[System] ...", tag compared without case) whose lines
 * hold a literal of tagged. The tagged literals (the message table's texts) can only matter
 * in such events, so they stay out of the scan of every byte and are looked for in those
 * lines alone. tagged NULL or ntags 0: none. Borrowed from its maker.
 */
typedef struct hvd_line_prefilter {
    const hvd_prefilter *lines;
    const hvd_prefilter *tagged;
    const char *const *tags;
    size_t ntags;
} hvd_line_prefilter;

#endif
