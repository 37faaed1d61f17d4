/*
 * cli: what the hvdiag subcommands share.
 *
 * cli_out.c: what they write to a terminal. Every string that came from input (file and
 * archive member names, event text, host and VM names, rule texts filled from events,
 * messages quoting them) goes through here, so an escape sequence in a log is shown,
 * never obeyed.
 *
 * cli_args.c: options and defaults that behave the same in every subcommand.
 */
#ifndef HVD_CLI_H
#define HVD_CLI_H

#include "event.h"

#include <jansson.h>
#include <stdio.h>

/* --- cli_out.c ------------------------------------------------------------------------ */

/* A copy of s (NULL: "") safe for a terminal (hvd_text_sanitize() with flags); the caller
 * frees it with free(). NULL only when out of memory. */
char *hvd_cli_clean(const char *s, unsigned flags);

/* Makes every string in v (objects and arrays, recursively) safe for a terminal, in place.
 * Strings under the keys "cause", "remedy" and "message" keep their line breaks. */
void hvd_cli_clean_json(json_t *v);

/* The string member key of o (NULL: none) made safe as hvd_cli_clean_json() would, in
 * place: for a table that prints a few members of a large answer. "" when o has no
 * string under key. The text is o's. */
const char *hvd_cli_clean_member(json_t *o, const char *key);

/* Text s as hvd_cli_clean_member() would give it from an answer holding s under key: ""
 * for NULL or text that is not UTF-8, s itself when it needs no change, else a cleaned
 * copy that *owned holds (the caller frees it; NULL when none was made). */
const char *hvd_cli_clean_text(const char *s, const char *key, char **owned);

/* Writes the formatted text and a newline to stderr, made safe for a terminal. */
void hvd_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An hvd_logger callback: "hvdiag: LEVEL: msg" on stderr, msg made safe. */
void hvd_cli_log_stderr(void *ud, int level, const char *msg);

/* Flags for json_dumpf() of output: on a terminal, everything outside ASCII is escaped
 * too (jansson escapes the C0 controls only). */
size_t hvd_cli_json_flags(FILE *out, size_t flags);

/* --- cli_args.c ----------------------------------------------------------------------- */

/* True when opt is one of the NULL-terminated names. */
int hvd_cli_is_one_of(const char *opt, const char *const *names);

/* 0 when the range is empty of contradiction (either bound 0 means open); else says
 * "PROG: --since ... is after --until ..." on stderr and returns -1. */
int hvd_cli_check_range(const char *prog, hvd_time since, hvd_time until);

/*
 * The rule folder when none is given: ./rules when it holds hvdiag-rules.xsd; the source
 * tree's rules when this binary runs from its build tree; else the installed rules
 * (HVD_RULES_DIR). Static storage.
 */
const char *hvd_cli_default_rules(void);

/* 0 when dir holds a rule set (hvdiag-rules.xsd); else says "PROG: no rules found in DIR;
 * use --rules DIR" on stderr and returns -1. */
int hvd_cli_rules_present(const char *prog, const char *dir);

#endif
