/* cmd_replay.c -- rrload replay. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_replay(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload replay ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload replay: not built yet\n");
    return RR_EXIT_USAGE;
}
