/*
 * diagbuf: the diagnoses the engine emits during one file, merged per key until they are
 * written to the store. Part of the keep stage (ingest.c): the engine emits a diagnosis
 * again for every event it folds in, and writing each one costs a lookup, an update and an
 * insert; merged, a key is written once per flush.
 *
 * Writing the merged diagnosis gives the store what writing every emitted one in order
 * would (hvd_store_put_diagnosis()): the smallest first time, the largest last time and
 * count, the title, cause, remedy, severity and confidence of the last one emitted, the
 * entities of the first (the store takes them only when it adds the row), and the evidence
 * and related keys of all, in the order they came. Keys are written in the order they first
 * came, so new rows are added in the same order.
 */
#ifndef HVD_DIAGBUF_H
#define HVD_DIAGBUF_H

#include "diagnosis.h"
#include "error.h"

#include <stddef.h>

typedef struct hvd_diagbuf hvd_diagbuf;

/* On success *out owns an empty buffer until hvd_diagbuf_destroy(). max_bytes bounds what
 * it holds before hvd_diagbuf_add() asks for a flush. HVD_OK or HVD_ENOMEM. */
int hvd_diagbuf_create(hvd_diagbuf **out, size_t max_bytes, hvd_error *err);
void hvd_diagbuf_destroy(hvd_diagbuf *b); /* NULL-safe */

/* Merges a copy of d into what the buffer holds for d->key. Returns 1 when the buffer now
 * holds more than its bound (flush it), 0, or HVD_ENOMEM (d was not taken).
 * Cost: O(length of d) to hash and copy, O(1) expected to find the key. */
int hvd_diagbuf_add(hvd_diagbuf *b, const hvd_diagnosis *d);

/* Number of keys held. */
size_t hvd_diagbuf_count(const hvd_diagbuf *b);

/* Whether a diagnosis of rule rule_id is held. Cost: O(keys held). */
int hvd_diagbuf_holds_rule(const hvd_diagbuf *b, const char *rule_id);

/* Calls put for each key held, in the order the keys first came (d and everything it points
 * to are borrowed for the call), then empties the buffer, also when put fails: returns the
 * first negative code put returned (the rest are not put), else HVD_OK. */
int hvd_diagbuf_flush(hvd_diagbuf *b, int (*put)(void *ud, const hvd_diagnosis *d), void *ud);

/* Empties the buffer without writing anything (after a rollback). */
void hvd_diagbuf_clear(hvd_diagbuf *b);

#endif
