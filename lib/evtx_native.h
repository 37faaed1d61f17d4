/* evtx_native: an exported .evtx file read by hvdiag's own decoder (evtx_binxml), streamed
 * chunk by chunk. Same contract and position tokens as evtx_reader (libevtx). */
#ifndef HVD_EVTX_NATIVE_H
#define HVD_EVTX_NATIVE_H

#include "source.h"

typedef struct hvd_evtx_native hvd_evtx_native;

/* On success *out owns the open file until hvd_evtx_native_close(). */
int hvd_evtx_native_open(hvd_evtx_native **out, const char *path, const hvd_source_options *opt,
                         const hvd_logger *log, hvd_error *err);
/* Returns 1 and fills *ev, 0 at end of file, or a negative HVD_E* code.
 * Strings in *ev are borrowed: valid until the next call or close. ev->xml is NULL. */
int hvd_evtx_native_next(hvd_evtx_native *r, hvd_event *ev, hvd_error *err);
const char *hvd_evtx_native_position(hvd_evtx_native *r);
/* Counts grow as the file is read: records and recovered are final at the end. */
const hvd_source_stats *hvd_evtx_native_stats(const hvd_evtx_native *r);
void hvd_evtx_native_close(hvd_evtx_native *r); /* NULL-safe */

#endif
