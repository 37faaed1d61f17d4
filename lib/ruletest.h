/*
 * ruletest: runs the examples every rule carries through the real engine. Windows event
 * XML examples go through eventxml (as EVTX records do), cluster.log examples through the
 * cluster.log reader; a positive example must make its rule's diagnosis (and meet its
 * <expect> lines), a negative one must not. Rules with enabled="false" are run too.
 */
#ifndef HVD_RULETEST_H
#define HVD_RULETEST_H

#include "error.h"
#include "rules.h"

#include <stddef.h>

typedef struct hvd_ruletest_result {
    size_t passed;
    size_t failed;
} hvd_ruletest_result;

/* Called once per failing example with "file:line: rule 'id': what went wrong". */
typedef void (*hvd_ruletest_report)(void *ud, const char *line);

int hvd_ruletest_run(const hvd_ruleset *rs, hvd_ruletest_report report, void *ud,
                     hvd_ruletest_result *result, hvd_error *err);

#endif
