/*
 * evtx_binxml: the Binary XML of EVTX records decoded straight into an hvd_event, with no
 * XML text in between. Templates are compiled once per chunk into a flat node list and
 * replayed with each record's substitution values; template-less records (forwarded events)
 * are compiled per record. The event gets what eventxml would take from the XML libevtx
 * renders: System fields, EventData/UserData fields, RenderingInfo/Message.
 */
#ifndef HVD_EVTX_BINXML_H
#define HVD_EVTX_BINXML_H

#include "error.h"
#include "event.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hvd_binxml hvd_binxml; /* per-chunk caches and the current event's strings */

int hvd_binxml_create(hvd_binxml **out, hvd_error *err);
void hvd_binxml_destroy(hvd_binxml *bx); /* NULL-safe */

struct hvd_needs;
/* From now on, a record no rule can match (needs.h; borrowed, must outlive bx) has only its
 * System part rendered: the rest is walked for damage (a record a full decode rejects is
 * rejected alike) but no value is rendered, and the event comes with system_only set and no
 * fields, message or RenderingInfo texts. NULL decodes every record whole. */
void hvd_binxml_set_needs(hvd_binxml *bx, const struct hvd_needs *needs);

/* Starts a chunk: size bytes at chunk (borrowed; unchanged until the next call or destroy).
 * Drops the templates of the previous chunk. */
void hvd_binxml_set_chunk(hvd_binxml *bx, const uint8_t *chunk, size_t size);

/*
 * Decodes the BinXML document at chunk bytes [off, off + len) into ev's System fields,
 * fields[] and message; position, kind and path are left as the caller set them. Strings
 * in *ev are borrowed from bx until the next decode, set_chunk or destroy. Every read is
 * checked against the chunk (templates) or the record (values). Returns HVD_OK, or
 * HVD_ECORRUPT / HVD_ELIMIT / HVD_ENOMEM with why (why_size bytes) saying what is wrong.
 */
int hvd_binxml_decode(hvd_binxml *bx, size_t off, size_t len, hvd_event *ev, char *why,
                      size_t why_size);

#endif
