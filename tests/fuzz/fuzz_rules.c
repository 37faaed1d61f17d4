/*
 * libFuzzer target for rule files: the input is one rule file, loaded (parsed, checked
 * against the shipped schema, compiled) as 'hvdiag rules check' does; when it loads, every
 * rule's examples run through the engine as 'hvdiag rules test' does.
 */
#include "fuzz_util.h"
#include "rules.h"
#include "ruletest.h"

#include <libxml/parser.h>
#include <stdlib.h>

#ifndef HVD_FUZZ_XSD
#error "HVD_FUZZ_XSD names the rule schema"
#endif

static void ignore(void *ud, const char *line)
{
    (void)ud;
    (void)line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    hvd_ruleset *rs = NULL;
    hvd_ruletest_result res = {0, 0};
    hvd_error err;

    if (!ready) {
        xmlInitParser();
        ready = 1;
    }
    hvd_fuzz_write("r.xml", data, size);
    if (hvd_ruleset_load(&rs, hvd_fuzz_tmpdir(), HVD_FUZZ_XSD, NULL, &err) == HVD_OK) {
        if (hvd_ruleset_count(rs) == 0) {
            abort(); /* a loaded set has rules */
        }
        hvd_ruletest_run(rs, ignore, NULL, &res, &err);
        hvd_ruleset_destroy(rs);
    }
    return 0;
}
