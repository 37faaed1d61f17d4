/*
 * msgtext: one documented message text with numbered insertion points ("Cluster node '%1'
 * was removed from the active failover cluster membership."), compiled once into a regex
 * whose captures give the inserted values. The template tables build on it: msgtable
 * (a rendered message back to its event) and extract (names in an event's text).
 */
#ifndef HVD_MSGTEXT_H
#define HVD_MSGTEXT_H

#include "buf.h"
#include "error.h"

#include <stddef.h>
#include <stdint.h>

#define HVD_MSGTEXT_PARAMS 16 /* insertion points a text may name */

enum hvd_msgtext_mode {
    HVD_MSGTEXT_PREFIX, /* the text starts the subject; what follows it is free */
    HVD_MSGTEXT_SEARCH, /* the text anywhere in the subject */
    HVD_MSGTEXT_WHOLE,  /* the text is the whole subject (a field's value) */
};

struct pcre2_real_code_8;

/* A compiled text. Zero it before use; it owns its names and regex until
 * hvd_msgtext_free(). */
typedef struct hvd_msgtext {
    size_t nparams;
    char *params[HVD_MSGTEXT_PARAMS];      /* name of %1..%n; NULL for "-" (not needed) */
    uint32_t group_of[HVD_MSGTEXT_PARAMS]; /* capture group of %k+1; 0 when not in the text */
    struct pcre2_real_code_8 *re;
} hvd_msgtext;

/* Reports whether s[0..len) is an acceptable name for an insertion point. */
typedef int (*hvd_msgtext_name_ok)(const char *s, size_t len);

/* Splits the space-separated names of %1..%n ("vm_name - vm_id") into mt->params; "-" skips
 * a point. name_ok (NULL: any) vets every name; what says what it accepts, for the message
 * "params: 'X' is not <what>". Returns 0, or -1 with why filled. */
int hvd_msgtext_params(hvd_msgtext *mt, const char *s, hvd_msgtext_name_ok name_ok,
                       const char *what, char *why, size_t cap);

/*
 * Compiles text (after hvd_msgtext_params()) into mt->re: literal text where a run of white
 * space matches any run, %k a lazy capture, %% a '%'; caseless, '.' matching newlines. A %k
 * at the end of the text (before a last full stop at most) runs to the end of its sentence
 * or line (PREFIX, SEARCH) or of the subject (WHOLE). With jit set the regex is JIT-compiled
 * too (unless HVD_PCRE2_JIT=0); a table whose texts are mostly never tried leaves that to
 * hvd_msgtext_jit_copy(). Returns 0, or -1 with why filled ("%3: the message has 2 insertion
 * points in 'params'", a PCRE2 error).
 */
int hvd_msgtext_compile(hvd_msgtext *mt, const char *text, enum hvd_msgtext_mode mode, int jit,
                        char *why, size_t cap);

/*
 * As hvd_msgtext_compile(), for a localized text (a German or French rendering whose known
 * sources are translated documentation pages and quoted events): a run of white space also
 * matches none (the pages split compounds Windows writes as one word, "Cluster Knoten" for
 * "Clusterknoten"), and a quote mark (' " « » „ “ ” ‚ ‘ ’) matches any of them with any white
 * space around it (the renderings differ in their quotes, ' %1 ' for « %1 »). Its k and s
 * match only their ASCII cases (not U+212A and U+017F, as caseless UTF matching would), so
 * they may be in its literal.
 */
int hvd_msgtext_compile_localized(hvd_msgtext *mt, const char *text, enum hvd_msgtext_mode mode,
                                  int jit, char *why, size_t cap);

/* A JIT-compiled copy of mt->re, owned by the caller (hvd_msgtext_jit_free()), for a
 * matcher that compiles the texts it tries the first time it tries them: the table is never
 * written, so matchers in several threads need no lock. NULL when JIT is off
 * (HVD_PCRE2_JIT=0) or memory is short: then match with mt->re, which gives the same
 * answers. */
struct pcre2_real_code_8 *hvd_msgtext_jit_copy(const hvd_msgtext *mt);
void hvd_msgtext_jit_free(struct pcre2_real_code_8 *re); /* NULL-safe */

/* The first named insertion point the text does not use, or -1. */
int hvd_msgtext_unused(const hvd_msgtext *mt);

/* The longest piece of text every match holds as it is, into out (at most cap - 1 bytes,
 * "" when none): printable ASCII without white space, '%' or the letters k and s (caseless
 * UTF matching folds them with U+212A and U+017F). For a prefilter, compared without case. */
void hvd_msgtext_literal(const char *text, char *out, size_t cap);

/* Rates s[0..len) as the literal of a localized text: negative rejects it (a word of other
 * texts' lines), higher is better; for hvd_msgtext_literal_localized(). */
typedef long (*hvd_msgtext_score)(void *ud, const char *s, size_t len);

/* As hvd_msgtext_literal(), for a localized text: quote marks end a piece too, since they
 * match any other quote mark, and k and s do not (hvd_msgtext_compile_localized()). The
 * piece score (NULL: all 0) rates highest wins, the longer of equals; the longest of all
 * when it rejects every piece. */
void hvd_msgtext_literal_localized(const char *text, hvd_msgtext_score score, void *ud, char *out,
                                   size_t cap);

/* 1 when the text's first character is fixed: *first is it, lowered, when an ASCII letter
 * other than k and s (which caseless UTF matching also folds with U+212A and U+017F), or
 * (localized: any ASCII letter), or
 * the UTF-8 lead byte 0xC3 of a Latin-1 letter such as 'É' whose cases share it. 0 when a
 * message may start otherwise (an insertion point or a quote mark first, another letter).
 * A matcher skips a text whose first character a message does not start with. */
int hvd_msgtext_first(const char *text, int localized, unsigned char *first);

void hvd_msgtext_free(hvd_msgtext *mt); /* leaves mt zeroed; NULL-safe */

/* The scratch memory of matching (one per thread). */
typedef struct hvd_msgtext_scratch hvd_msgtext_scratch;

int hvd_msgtext_scratch_create(hvd_msgtext_scratch **out, hvd_error *err);
void hvd_msgtext_scratch_destroy(hvd_msgtext_scratch *s); /* NULL-safe */

/* Matches subject[0..len) against mt, with re (a copy from hvd_msgtext_jit_copy()) or, when
 * NULL, mt->re. Returns 1 (the values are in s until its next match), 0 for no match (also
 * when PCRE2's match limit is hit), or HVD_ENOMEM. */
int hvd_msgtext_match(hvd_msgtext_scratch *s, const hvd_msgtext *mt,
                      const struct pcre2_real_code_8 *re, const char *subject, size_t len);

/* After a match of mt on subject: the value of %k+1 as subject + *off, *len bytes. Returns 0,
 * or -1 when the point has no name or took no part in the match. */
int hvd_msgtext_value(const hvd_msgtext_scratch *s, const hvd_msgtext *mt, size_t k, size_t *off,
                      size_t *len);

#endif
