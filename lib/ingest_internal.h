/* Fault injection for the replay tests (test builds only), not for production callers. */
#ifndef HVD_INGEST_INTERNAL_H
#define HVD_INGEST_INTERNAL_H

#include "ingest.h"

#ifdef HVD_TESTING
/* After n more diagnoses are stored, the next store write fails with HVD_ESTORE (as a full
 * disk would), once; the file being read is rolled back. n < 0 turns it off. */
void hvd__ingest_fail_store_after(hvd_ingest *ing, long n);

/* Tight memory: every engine drops far state after every event and the store regroups
 * what changed after every event, as a long file would have them do from time to time
 * (results must not change). Returns the groups and diagnoses the engines dropped so far. */
void hvd__ingest_tight(hvd_ingest *ing);
uint64_t hvd__ingest_dropped(const hvd_ingest *ing);

/* Groups, open and kept diagnoses the engine holds now. */
size_t hvd__ingest_held(const hvd_ingest *ing);
#endif

#endif
