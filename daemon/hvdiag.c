/* hvdiag: the command-line front end. Picks a subcommand; all work happens in lib/. */
#include "cmd.h"

#include <libxml/parser.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"analyze", hvd_cmd_analyze, "diagnose a Get-ClusterLog bundle, EVTX exports or files"},
    {"dump", hvd_cmd_dump, "print the events hvdiag reads from files, one JSON object a line"},
    {"query", hvd_cmd_query, "ask about past incidents (through hvdiagd or the database)"},
    {"rules", hvd_cmd_rules, "check rule files or run their examples"},
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
    /* Archive member names are UTF-8 whatever the environment says: with the C locale
     * libarchive cannot hand over a non-ASCII name at all. */
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        setlocale(LC_CTYPE, "");
    }
    xmlInitParser();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
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
