/* Fault injection for the replay tests (test builds only), not for production callers. */
#ifndef HVD_INGEST_INTERNAL_H
#define HVD_INGEST_INTERNAL_H

#include "ingest.h"

#ifdef HVD_TESTING
/* After n more diagnoses are stored, the next store write fails with HVD_ESTORE (as a full
 * disk would), once; the file being read is rolled back. n < 0 turns it off. */
void hvd__ingest_fail_store_after(hvd_ingest *ing, long n);
#endif

#endif
