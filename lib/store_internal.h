/* store internals shared with its tests. */
#ifndef HVD_STORE_INTERNAL_H
#define HVD_STORE_INTERNAL_H

#include "store.h"

#include <stdint.h>

/* How many diagnoses incident regrouping read in the last transaction: all of them for a
 * full pass; at commit, the changed ones and those that can share an incident with them. */
int64_t hvd__store_regroup_loaded(const hvd_store *st);

#endif
