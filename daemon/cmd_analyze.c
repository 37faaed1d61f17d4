/* hvdiag analyze: placeholder until the command lands. */
#include "cmd.h"

#include <stdio.h>

int hvd_cmd_analyze(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "hvdiag %s: not available in this build yet\n", argv[0]);
    return HVD_EXIT_USAGE;
}
