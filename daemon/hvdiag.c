/* hvdiag: the command-line front end. Picks a subcommand; all work happens in lib/. */
#include "cmd.h"

#include "config.h"
#include "reslimit.h"

#include <libxml/parser.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What hvdiag may allocate unless HVDIAG_MEMORY_LIMIT says otherwise: a hostile export
 * that makes the EVTX library ask for more gets that record skipped, not the machine
 * pushed into the OOM killer. */
#define MEMORY_LIMIT_DEFAULT (4ull << 30)

#ifdef HVD_RESLIMIT_ASAN
/* Sanitizer builds cannot limit memory with setrlimit: their allocator refuses instead
 * what the default limit would (ASAN_OPTIONS can still change it). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=4096";
}
#endif

/* Applies HVDIAG_MEMORY_LIMIT (a size; 0: none) or the default. Returns 0 or -1. */
static int limit_memory(void)
{
    const char *v = getenv("HVDIAG_MEMORY_LIMIT");
    uint64_t bytes = MEMORY_LIMIT_DEFAULT;
    hvd_error err;

    if (v && *v && hvd_config_parse_size(v, &bytes) < 0) {
        fprintf(stderr, "hvdiag: HVDIAG_MEMORY_LIMIT: '%s' is not a size (like 512M, 4G, 0)\n", v);
        return -1;
    }
    if (hvd_reslimit_memory(bytes, &err) == HVD_ELIMIT) {
        fprintf(stderr, "hvdiag: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    int reads_files; /* wants LC_CTYPE set (see main); query only reads the store */
} commands[] = {
    {"analyze", hvd_cmd_analyze, "diagnose a Get-ClusterLog bundle, EVTX exports or files", 1},
    {"dump", hvd_cmd_dump, "print the events hvdiag reads from files, one JSON object a line", 1},
    {"query", hvd_cmd_query, "ask about past incidents (through hvdiagd or the database)", 0},
    {"rules", hvd_cmd_rules, "check rule files or run their examples", 1},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: hvdiag COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(out, "\n'hvdiag COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    int rc = HVD_EXIT_USAGE;

    if (argc < 2) {
        usage(stderr);
        return HVD_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return HVD_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("hvdiag %s\n", HVD_VERSION);
        return HVD_EXIT_OK;
    }
    if (limit_memory() < 0) {
        return HVD_EXIT_USAGE;
    }
    xmlInitParser();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            /* Archive member names are UTF-8 whatever the environment says: with the C
             * locale libarchive cannot hand over a non-ASCII name at all. A query reads
             * only the store and prints its text as it is, without loading a locale. */
            if (commands[i].reads_files && !setlocale(LC_CTYPE, "C.UTF-8")) {
                setlocale(LC_CTYPE, "");
            }
            rc = commands[i].run(argc - 1, argv + 1);
            xmlCleanupParser();
            return rc;
        }
    }
    xmlCleanupParser();
    fprintf(stderr, "hvdiag: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return HVD_EXIT_USAGE;
}
