/*
 * output: pushing incident changes to the world (journald, a JSON lines file, a command
 * hook; syslog fits the same shape). The daemon reads batches of outbox records from the
 * store (store.h, "outbox") and hands each batch to every output through one small
 * interface; an output says how many records, from the first, reached its receiver. The
 * daemon then moves that output's cursor, retries the rest with back-off, and reports the
 * output's state in "health".
 *
 * An output never blocks its caller for long: a file output appends a few small lines, the
 * journald output sends datagrams, the hook (in the daemon, on libuv) spawns and returns.
 *
 * This module: the interface, a batch that owns copies of records, and what every output
 * builds from a record (the ECS JSON document, journald fields, hook environment), plus
 * the --check-config checks of the output keys.
 */
#ifndef HVD_OUTPUT_H
#define HVD_OUTPUT_H

#include "buf.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "store.h"

#include <stddef.h>
#include <stdint.h>

/* Records of one delivery, and at most this many. */
#define HVD_OUTPUT_BATCH_MAX 64

/* How a delivery ended. delivered: the records from the first that reached the receiver
 * (0..n); rc: HVD_OK when all did, else a negative HVD_E* code with 'error' saying why
 * (borrowed for the call). */
typedef void (*hvd_output_done_fn)(void *ud, size_t delivered, int rc, const char *error);

typedef struct hvd_output_ops {
    const char *name; /* "journald", "file", "hook", "syslog": also the outbox cursor name */
    /* Delivers recs[0..n) (borrowed until done is called). Calls done exactly once, before
     * returning or later from the daemon loop. One delivery at a time per output. */
    void (*deliver)(void *impl, const hvd_outbox_record *recs, size_t n, hvd_output_done_fn done,
                    void *ud);
    /* SIGHUP: reopen what can be reopened (a rotated file). NULL when nothing to do. */
    void (*reopen)(void *impl);
    /* Ends the output: done is not called after this. The output frees itself now, or
     * once its last child or handle is gone. */
    void (*close)(void *impl);
    /* A short description for "health" ("/var/log/hvdiag/incidents.json"); NULL: none. */
    const char *(*target)(const void *impl);
} hvd_output_ops;

/* One output: its operations and its own state. */
typedef struct hvd_output {
    const hvd_output_ops *ops;
    void *impl;
} hvd_output;

/* --- a batch of records, owning copies -------------------------------------------------- */

typedef struct hvd_output_batch {
    hvd_outbox_record rec[HVD_OUTPUT_BATCH_MAX];
    size_t n;
    char *text[HVD_OUTPUT_BATCH_MAX]; /* the strings of rec[i], in one allocation */
} hvd_output_batch;

void hvd_output_batch_init(hvd_output_batch *b);
/* Appends a copy of r. HVD_ELIMIT when full, HVD_ENOMEM. */
int hvd_output_batch_add(hvd_output_batch *b, const hvd_outbox_record *r);
/* Drops the first k records (delivered), keeping the rest in order. */
void hvd_output_batch_shift(hvd_output_batch *b, size_t k);
void hvd_output_batch_free(hvd_output_batch *b); /* leaves it empty and usable */

/* --- what outputs build from a record ---------------------------------------------------- */

/* The stable id of a change: "<incident>-<revision>". cap >= 48. Returns buf. */
char *hvd_output_record_id(const hvd_outbox_record *r, char *buf, size_t cap);

/*
 * One line of JSON (no newline) for r, with Elastic Common Schema names where one fits:
 * @timestamp (when the change was committed), event.kind "alert", event.id (the stable
 * id), event.action ("incident-new", "incident-severity", "incident-update"),
 * event.severity (0 benign .. 4 critical), event.start/end (the incident's span),
 * host.name, rule.id, rule.name, message (the title), log.level, and hvdiag.* for the rest
 * (incident id, revision, change, severity names, subject, hosts, VM, diagnoses, remedy).
 * Replaces out's content. HVD_ENOMEM, or HVD_ELIMIT past out's maximum.
 */
int hvd_output_json(const hvd_outbox_record *r, hvd_buf *out);

/* Whether a change is worth one journald (or syslog) line: a new incident or a severity
 * change. Updates of span or counts are not. */
int hvd_output_is_notable(const hvd_outbox_record *r);

/*
 * The journald fields of r, "NAME=value" each (MESSAGE = the title, PRIORITY as
 * hvd_syslog_severity(), SYSLOG_IDENTIFIER=hvdiagd, HVDIAG_ID, HVDIAG_INCIDENT,
 * HVDIAG_REVISION, HVDIAG_CHANGE, HVDIAG_SEVERITY, HVDIAG_RULE, HVDIAG_HOST, HVDIAG_VM,
 * HVDIAG_SUBJECT). Writes at most max pointers into fields, all pointing into text (reset
 * first; it must outlive them). Values are cut at 4 KiB and newlines become spaces. Returns
 * the count, or a negative HVD_E* code.
 */
#define HVD_OUTPUT_JOURNAL_FIELDS 16
int hvd_output_journal_fields(const hvd_outbox_record *r, hvd_buf *text, const char **fields,
                              size_t max);

/* The hook's environment entries ("HVDIAG_INCIDENT=12", ... the same names as journald
 * but HVDIAG_TITLE for the title), as for hvd_output_journal_fields(). */
int hvd_output_hook_env(const hvd_outbox_record *r, hvd_buf *text, const char **env, size_t max);

/* --- configuration ---------------------------------------------------------------------- */

/* --check-config: the output keys name things that work here (json_file's folder exists
 * and the file can be appended to by this user; on_incident is an executable regular
 * file; syslog_target's host resolves). Each problem is logged as "file:line: ..." at error level;
 * the first is in err. Returns HVD_OK or HVD_ECONFIG. */
int hvd_output_check_config(const hvd_config *c, const hvd_logger *log, hvd_error *err);

/* Whether systemd-journald listens here (its socket exists): journald = auto turns on. */
int hvd_output_journald_available(void);

/* --- the outputs of this module ---------------------------------------------------------- */

/*
 * A JSON lines file at path: one hvd_output_json() line per record, appended with
 * O_APPEND. Before each batch the file is checked: a path that now names another inode
 * (logrotate's rename + create) or no file is reopened (created 0640); a file shorter than
 * what was written (copytruncate) goes on at its end, as O_APPEND does. reopen() reopens
 * at once. A line is written whole or the batch stops there. On success *out owns the
 * output until ops->close(). The file is opened at the first batch, so a folder that
 * appears later works.
 */
int hvd_output_file_open(hvd_output *out, const char *path, const hvd_logger *log, hvd_error *err);

/* journald through sd_journal_sendv(): notable changes only (hvd_output_is_notable()),
 * the others count as delivered. HVD_EUNSUPPORTED when built without libsystemd. */
int hvd_output_journald_open(hvd_output *out, const hvd_logger *log, hvd_error *err);

/* syslog_target as RFC 5424 messages (syslog5424.h), every change. The target's host is
 * resolved now; a receiver that is down is no error (deliveries retry). */
int hvd_output_syslog_open(hvd_output *out, const hvd_config *c, hvd_error *err);

#endif
