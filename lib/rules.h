/*
 * rules: the rule set, loaded from a folder of XML files (rules/FORMAT.md), validated
 * against the schema and compiled (regexes with JIT, templates checked) before use.
 */
#ifndef HVD_RULES_H
#define HVD_RULES_H

#include "diagnosis.h"
#include "error.h"
#include "log.h"
#include "prefilter.h"

#include <stddef.h>

typedef struct hvd_ruleset hvd_ruleset;

/* Limits the loader enforces (rules/FORMAT.md): the longest duration a rule may give
 * (window, quiet period), in seconds, and the largest threshold count. */
#define HVD_RULE_MAX_DURATION  (366 * 86400)
#define HVD_RULE_MAX_THRESHOLD 1000

typedef struct hvd_rule_info {
    const char *id;
    int correlation; /* 1 for <correlation>, 0 for <rule> */
    const char *title;
    hvd_severity severity;
    const char *confidence;
    int benign;
    int enabled;
    const char *file;
    int line;
    size_t nreferences;
    size_t nexamples;
    const char *const *references;       /* nreferences URLs (href) */
    const char *const *reference_labels; /* nreferences labels; NULL or "" when none */
    const char *cause;                   /* templates as written; NULL when absent */
    const char *remedy;
} hvd_rule_info;

/*
 * Loads every *.xml file in dir (sorted by name), validating each against the schema at
 * xsd_path (NULL: dir/hvdiag-rules.xsd, then HVD_RULES_DIR/hvdiag-rules.xsd). Any problem
 * rejects the whole set: every problem is logged at error level as "file:line: message"
 * and the first one is in err. DOCTYPEs are refused, so no entity is ever expanded and
 * nothing is fetched. On success *out owns the set until hvd_ruleset_destroy().
 */
int hvd_ruleset_load(hvd_ruleset **out, const char *dir, const char *xsd_path,
                     const hvd_logger *log, hvd_error *err);

/* Flags of hvd_ruleset_load_flags(). */
#define HVD_RULESET_MATCH_ONLY                                   \
    1u /* examples are checked, but their Windows events are not \
        * kept: hvd_ruletest_run() refuses the set */

/* As hvd_ruleset_load(), with HVD_RULESET_* flags: for a run that only matches events,
 * HVD_RULESET_MATCH_ONLY loads faster and accepts and rejects the same files. */
int hvd_ruleset_load_flags(hvd_ruleset **out, const char *dir, const char *xsd_path, unsigned flags,
                           const hvd_logger *log, hvd_error *err);

/* As hvd_ruleset_load(), for one file. */
int hvd_ruleset_load_file(hvd_ruleset **out, const char *path, const char *xsd_path,
                          const hvd_logger *log, hvd_error *err);

void hvd_ruleset_destroy(hvd_ruleset *rs); /* NULL-safe */

size_t hvd_ruleset_count(const hvd_ruleset *rs);
/* Rule i, in load order (NULL past the end): the struct and every string it points to are
 * borrowed, valid until hvd_ruleset_destroy(). */
const hvd_rule_info *hvd_ruleset_rule(const hvd_ruleset *rs, size_t i);

/* The literals one of which every cluster.log event a rule of rs can match holds, for
 * hvd_source_options.prefilter: the message table's texts among the tagged ones, as only a
 * line tagged with its channels can be an event of the table. NULL when some rule may match
 * a line without one (then every line is read in full). Compiled at the first call (safe
 * from several threads), so ask only when a cluster.log is read. Borrowed, valid until
 * destroy. */
const hvd_line_prefilter *hvd_ruleset_prefilter(const hvd_ruleset *rs);

#endif
