/* store internals shared with its tests. */
#ifndef HVD_STORE_INTERNAL_H
#define HVD_STORE_INTERNAL_H

#include "buf.h"
#include "store.h"

#include <stdint.h>

/* How many diagnoses incident regrouping read in the last transaction: all of them for a
 * full pass; at commit, the changed ones and those that can share an incident with them. */
int64_t hvd__store_regroup_loaded(const hvd_store *st);

/* Since open: how many regroupings took the merge path, and how many tried it and fell back
 * to the closed part or a full pass. */
void hvd__store_merges(const hvd_store *st, int64_t *merged, int64_t *fell_back);

/* hvd_store_settle() regroups once n diagnoses changed (SETTLE_MIN by default). */
void hvd__store_settle_min(hvd_store *st, size_t n);

/* Appends the SQL of a listing to out: diagnoses (incidents 0) or incidents (1) with the
 * filters of mask (STORE_LIST_* bits of store_sql.h). The store prepares exactly this;
 * tests explain it. Returns HVD_OK or the hvd_buf error. */
int hvd__store_list_sql(int incidents, unsigned mask, hvd_buf *out);

/* Whether that listing is a walk (incidents by VM, host or rule): then the SQL
 * is the walk's statement, and each incident it meets is read by SQL_INCIDENT_GET. */
int hvd__store_list_walks(int incidents, unsigned mask);

#endif
