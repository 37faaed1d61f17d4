/* Message texts as regexes, shared by msgtable.c (rendered events) and extract.c (names). */
#ifndef HVD_MSGTABLE_INTERNAL_H
#define HVD_MSGTABLE_INTERNAL_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

enum hvd__msgtext_mode {
    HVD__MSGTEXT_PREFIX, /* the text starts the subject; what follows it is free */
    HVD__MSGTEXT_SEARCH, /* the text anywhere in the subject */
    HVD__MSGTEXT_WHOLE,  /* the text is the whole subject (a field's value) */
};

/*
 * Appends to re the PCRE2 pattern of a documented message text: literal text (a run of white
 * space matches any run), %k (1 <= k <= nparams) a lazy capture, %% a '%'. group_of[k-1] gets
 * the capture group of %k (0 when the text does not use it). A %k at the end of the text runs
 * to the end of its sentence or line (PREFIX, SEARCH) or of the subject (WHOLE). Returns 0, or
 * -1 with why filled ("%3: the message has 2 insertion points in 'params'", "too long").
 * Compile the result with PCRE2_UTF | PCRE2_CASELESS | PCRE2_DOTALL.
 */
int hvd__msgtext_pattern(hvd_buf *re, const char *text, size_t nparams, uint32_t *group_of,
                         enum hvd__msgtext_mode mode, char *why, size_t cap);

#endif
