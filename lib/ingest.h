/*
 * ingest: the pipeline for one input file, source -> seen-filter -> engine -> store. The
 * file's events, the diagnoses they produced and its checkpoint commit in one transaction.
 */
#ifndef HVD_INGEST_H
#define HVD_INGEST_H

#include "error.h"
#include "event.h"
#include "log.h"
#include "rules.h"
#include "source.h"
#include "store.h"

#include <stdint.h>

typedef struct hvd_ingest hvd_ingest;

typedef struct hvd_ingest_options {
    hvd_time since; /* events before are ignored; 0 for no bound */
    hvd_time until; /* events after are ignored; 0 for no bound */
    int include_recovered;
    const char *host_hint;
    hvd_evtx_decoder evtx_decoder; /* which decoder reads EVTX files */
    /* Decode every EVTX record whole. By default a record no rule can match (needs.h) is
     * decoded up to its System part only, which is all the pipeline then uses (the seen
     * marks, the engine's clock): the database is the same either way. */
    int decode_all;
    /* The file may be appended to (a live cluster.log): a cluster.log that is provably the
     * one checkpointed, grown (same device and inode, not shorter, the same bytes at its
     * start and just before the checkpoint), is read from its checkpoint instead of from
     * the start, and a last line without its newline is left for a later read. */
    int follow;
    /* With follow: the writer is done, so a last line without newline is read too. */
    int complete;
    /* Test and diagnostic switch: read every cluster.log event whole, without the rule set's
     * prefilter (the diagnoses are the same; only lines given to the engine are marked
     * seen, so the count of marked lines differs). */
    int no_prefilter;
} hvd_ingest_options;

typedef struct hvd_ingest_result {
    uint64_t events;      /* read from the file (those the prefilter passed over included) */
    uint64_t fresh;       /* not seen before, given to the engine */
    uint64_t repeated;    /* seen before (re-exports, re-runs) */
    uint64_t outside;     /* outside since/until */
    int changed;          /* the database changed */
    int resumed;          /* follow: read from the checkpoint, not from the start */
    uint64_t pending;     /* follow: bytes after the checkpoint left for later (a partial line) */
    hvd_source_kind kind; /* what the file turned out to be */
    hvd_time newest;      /* the latest dated event read; 0 if none */
    hvd_source_stats stats;
} hvd_ingest_result;

/* st and rs are borrowed and must outlive the pipeline. The rule engine is given stored
 * diagnoses as the events of each file need them (by event time, see engine.h), not up
 * front. */
int hvd_ingest_create(hvd_ingest **out, hvd_store *st, const hvd_ruleset *rs, const hvd_logger *log,
                      hvd_error *err);

/*
 * Reads path (shown as display in the store and in evidence; NULL: path) and stores what it
 * produced. A damaged file is read as far as it goes and its problems recorded; an error
 * for this file is returned with err set, and nothing it produced is half-stored: the
 * transaction is rolled back and the rule engine replaced (the next read loads what the
 * store holds), so a retry stores what one good read stores. Rules whose regexes hit a
 * PCRE2 limit while reading are named in one warning each through the logger.
 */
int hvd_ingest_file(hvd_ingest *ing, const char *path, const char *display,
                    const hvd_ingest_options *opt, hvd_ingest_result *res, hvd_error *err);

/*
 * Whether the checkpoint stored for display (NULL: path) is the file now at path, read up
 * to its size: same device and inode, size and mtime, and the same bytes at its start and
 * before the saved offset (size and mtime alone survive a copy over it with 'cp -p').
 * Returns 1, 0 (unknown or another file: read it), or a negative store error.
 */
int hvd_ingest_checkpoint_holds(hvd_store *st, const char *path, const char *display,
                                hvd_error *err);

/* End of input: stores what the engine still holds. *changed (may be NULL) says whether
 * the database changed since create or the last finish. */
int hvd_ingest_finish(hvd_ingest *ing, int *changed, hvd_error *err);

void hvd_ingest_destroy(hvd_ingest *ing); /* NULL-safe */

#endif
