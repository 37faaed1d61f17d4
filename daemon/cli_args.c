/* cli_args: options and defaults shared by the hvdiag subcommands; see cli.h. */
#define _XOPEN_SOURCE 700 /* realpath() */
#include "cli.h"

#include "hvtime.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hvd_cli_is_one_of(const char *opt, const char *const *names)
{
    for (; *names; names++) {
        if (strcmp(opt, *names) == 0) {
            return 1;
        }
    }
    return 0;
}

int hvd_cli_check_range(const char *prog, hvd_time since, hvd_time until)
{
    char a[40];
    char b[40];

    if (since && until && since > until) {
        hvd_cli_error("%s: --since %s is after --until %s: nothing can match", prog,
                      hvd_time_format(since, a, sizeof(a)), hvd_time_format(until, b, sizeof(b)));
        return -1;
    }
    return 0;
}

static int has_rules(const char *dir)
{
    char xsd[PATH_MAX];
    struct stat st;
    int n = snprintf(xsd, sizeof(xsd), "%s/hvdiag-rules.xsd", dir);

    return n > 0 && (size_t)n < sizeof(xsd) && stat(xsd, &st) == 0 && S_ISREG(st.st_mode);
}

/* True when the running executable sits in the build tree it was built in. */
static int running_from_build_tree(void)
{
#ifdef HVD_BUILD_DIR
    char exe[PATH_MAX];
    char build[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    if (n <= 0 || !realpath(HVD_BUILD_DIR, build)) {
        return 0;
    }
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash) {
        return 0;
    }
    *slash = '\0';
    return strcmp(exe, build) == 0;
#else
    return 0;
#endif
}

const char *hvd_cli_default_rules(void)
{
    if (has_rules("rules")) {
        return "rules";
    }
#ifdef HVD_SOURCE_RULES_DIR
    if (running_from_build_tree() && has_rules(HVD_SOURCE_RULES_DIR)) {
        return HVD_SOURCE_RULES_DIR;
    }
#endif
    return HVD_RULES_DIR;
}

int hvd_cli_rules_present(const char *prog, const char *dir)
{
    if (has_rules(dir)) {
        return 0;
    }
    hvd_cli_error("%s: no rules found in %s; use --rules DIR", prog, dir);
    return -1;
}
