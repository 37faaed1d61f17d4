/* evtx_reader: an exported .evtx file read with libevtx, streamed record by record. */
#ifndef HVD_EVTX_READER_H
#define HVD_EVTX_READER_H

#include "source.h"

typedef struct hvd_evtx_reader hvd_evtx_reader;

/* On success *out owns the open file until hvd_evtx_reader_close(). */
int hvd_evtx_reader_open(hvd_evtx_reader **out, const char *path, const hvd_source_options *opt,
                         const hvd_logger *log, hvd_error *err);
/* Returns 1 and fills *ev, 0 at end of file, or a negative HVD_E* code.
 * Strings in *ev are borrowed: valid until the next call or close. */
int hvd_evtx_reader_next(hvd_evtx_reader *r, hvd_event *ev, hvd_error *err);
const char *hvd_evtx_reader_position(hvd_evtx_reader *r);
const hvd_source_stats *hvd_evtx_reader_stats(const hvd_evtx_reader *r);
void hvd_evtx_reader_close(hvd_evtx_reader *r); /* NULL-safe */

#endif
