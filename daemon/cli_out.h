/*
 * cli_out: what the hvdiag subcommands write to a terminal. Every string that came from
 * input (file and archive member names, event text, host and VM names, rule texts filled
 * from events, messages quoting them) goes through here, so an escape sequence in a log
 * is shown, never obeyed.
 */
#ifndef HVD_CLI_OUT_H
#define HVD_CLI_OUT_H

#include <jansson.h>
#include <stdio.h>

/* A copy of s (NULL: "") safe for a terminal (hvd_text_sanitize() with flags); the caller
 * frees it with free(). NULL only when out of memory. */
char *hvd_cli_clean(const char *s, unsigned flags);

/* Makes every string in v (objects and arrays, recursively) safe for a terminal, in place.
 * Strings under the keys "cause", "remedy" and "message" keep their line breaks. */
void hvd_cli_clean_json(json_t *v);

/* Writes the formatted text and a newline to stderr, made safe for a terminal. */
void hvd_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An hvd_logger callback: "hvdiag: LEVEL: msg" on stderr, msg made safe. */
void hvd_cli_log_stderr(void *ud, int level, const char *msg);

/* Flags for json_dumpf() of output: on a terminal, everything outside ASCII is escaped
 * too (jansson escapes the C0 controls only). */
size_t hvd_cli_json_flags(FILE *out, size_t flags);

#endif
