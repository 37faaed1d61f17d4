/*
 * libFuzzer target for rule files: the input is one rule file, loaded (parsed, checked
 * against the shipped schema, compiled) as 'hvdiag rules check' does; when it loads, every
 * rule's examples run through the engine as 'hvdiag rules test' does, and its cluster.log
 * prefilter is compiled. Inputs of odd length are loaded beside the shipped message table
 * (a rule naming a provider or an event id then takes the table's literals).
 */
#include "fuzz_util.h"
#include "rules.h"
#include "ruletest.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HVD_FUZZ_RULES
#error "HVD_FUZZ_RULES names the shipped rules"
#endif

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

    static char plain[4200], tabled[4200];
    const hvd_line_prefilter *lp;

    if (!ready) {
        char link[4300];

        xmlInitParser();
        snprintf(plain, sizeof(plain), "%s/plain", hvd_fuzz_tmpdir());
        snprintf(tabled, sizeof(tabled), "%s/tabled", hvd_fuzz_tmpdir());
        snprintf(link, sizeof(link), "%s/messages", tabled);
        if (mkdir(plain, 0700) < 0 || mkdir(tabled, 0700) < 0 ||
            symlink(HVD_FUZZ_RULES "/messages", link) < 0) {
            perror("fuzz_rules: cannot make its folders");
            abort();
        }
        ready = 1;
    }
    hvd_fuzz_write(size % 2 ? "tabled/r.xml" : "plain/r.xml", data, size);
    if (hvd_ruleset_load(&rs, size % 2 ? tabled : plain, HVD_FUZZ_XSD, NULL, &err) == HVD_OK) {
        if (hvd_ruleset_count(rs) == 0) {
            abort(); /* a loaded set has rules */
        }
        hvd_ruletest_run(rs, ignore, NULL, &res, &err);
        lp = hvd_ruleset_prefilter(rs);
        if (lp && (!lp->lines || (lp->tagged && (lp->ntags == 0 || !lp->tags)))) {
            abort(); /* a prefilter scans every line; tagged literals come with their tags */
        }
        hvd_ruleset_destroy(rs);
    }
    return 0;
}
