/* hvdiagd: placeholder until the daemon lands. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "hvdiagd: not available in this build yet\n");
    return 2;
}
