/* hvdiag dump: placeholder until the command lands. */
#include "cmd.h"

#include <stdio.h>

int hvd_cmd_dump(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "hvdiag %s: not available in this build yet\n", argv[0]);
    return HVD_EXIT_USAGE;
}
