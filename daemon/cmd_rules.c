/*
 * hvdiag rules check [DIR]: validate rule files and list the rules.
 * hvdiag rules test [DIR]: run every rule's examples through the engine.
 */
#include "cmd.h"

#include "cli.h"

#include "log.h"
#include "needs.h"
#include "rules.h"
#include "ruletest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hvdiag rules check [--xsd FILE] [DIR]\n"
            "       hvdiag rules test [--xsd FILE] [DIR]\n"
            "\n"
            "check  validate every rule file in DIR and list the rules\n"
            "test   run every rule's positive and negative examples\n"
            "DIR defaults to ./rules when it exists, else %s.\n"
            "exit status: 0 all good, 1 an example failed, 2 invalid rules or usage\n",
            HVD_RULES_DIR);
}

static void log_to_stderr(void *ud, int level, const char *msg)
{
    (void)ud;
    (void)level;
    hvd_cli_error("%s", msg);
}

static void print_failure(void *ud, const char *line)
{
    char *shown = hvd_cli_clean(line, 0);

    (void)ud;
    printf("FAIL %s\n", shown ? shown : "");
    free(shown);
}

int hvd_cmd_rules(int argc, char **argv)
{
    hvd_logger log = {log_to_stderr, NULL, HVD_LOG_ERR};
    const char *xsd = NULL;
    const char *dir = NULL;
    const char *what;
    hvd_ruleset *rs = NULL;
    hvd_error err;
    int i;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? HVD_EXIT_USAGE : HVD_EXIT_OK;
    }
    what = argv[1];
    if (strcmp(what, "check") != 0 && strcmp(what, "test") != 0) {
        hvd_cli_error("hvdiag rules: unknown action '%s'", what);
        usage(stderr);
        return HVD_EXIT_USAGE;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--xsd") == 0 && i + 1 < argc) {
            xsd = argv[++i];
        } else if (argv[i][0] == '-') {
            hvd_cli_error("hvdiag rules: unknown option '%s'", argv[i]);
            return HVD_EXIT_USAGE;
        } else if (!dir) {
            dir = argv[i];
        } else {
            usage(stderr);
            return HVD_EXIT_USAGE;
        }
    }
    if (!dir) {
        dir = hvd_cli_default_rules();
    }
    hvd_error_clear(&err);
    if (hvd_ruleset_load_flags(&rs, dir, xsd,
                               strcmp(what, "test") == 0 ? 0 : HVD_RULESET_MATCH_ONLY, &log,
                               &err) < 0) {
        hvd_cli_error("hvdiag rules: the rule set in %s is invalid", dir);
        return HVD_EXIT_USAGE;
    }
    if (strcmp(what, "check") == 0) {
        size_t n = hvd_ruleset_count(rs);
        size_t correlations = 0;
        size_t unkeyed = 0;

        for (size_t k = 0; k < n; k++) {
            const hvd_rule_info *r = hvd_ruleset_rule(rs, k);

            correlations += (size_t)r->correlation;
            printf("%-40s %-8s %-6s %-11s %s:%d  %s\n", r->id,
                   r->benign ? "benign" : hvd_severity_name(r->severity), r->confidence,
                   r->correlation ? "correlation" : "rule", r->file, r->line, r->title);
        }
        /* Valid, but costly: such a rule is tried on every EVTX event, and the reader must
         * decode every record whole for it. */
        for (size_t k = 0; k < n; k++) {
            const hvd_rule_info *r = hvd_ruleset_rule(rs, k);

            if (hvd_needs_unkeyed(rs, k)) {
                unkeyed++;
                hvd_cli_error(
                    "%s:%d: warning: rule %s names no <provider> and no <event-id>: it is "
                    "tried on every EVTX event and every record must be decoded "
                    "whole; name them (or <source>clusterlog</source>)",
                    r->file, r->line, r->id);
            }
        }
        printf("%zu rules (%zu correlations) in %s: valid", n, correlations, dir);
        if (unkeyed) {
            printf(", %zu unkeyed EVTX rule%s (warned above)", unkeyed, unkeyed == 1 ? "" : "s");
        }
        printf("\n");
        hvd_ruleset_destroy(rs);
        return HVD_EXIT_OK;
    }
    {
        hvd_ruletest_result res;
        int rc = hvd_ruletest_run(rs, print_failure, NULL, &res, &err);

        hvd_ruleset_destroy(rs);
        if (rc < 0) {
            hvd_cli_error("hvdiag rules test: %s", err.msg);
            return HVD_EXIT_USAGE;
        }
        printf("%zu passed, %zu failed\n", res.passed, res.failed);
        return res.failed ? HVD_EXIT_FOUND : HVD_EXIT_OK;
    }
}
