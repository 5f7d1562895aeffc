/* cmd_plan.c -- rrload plan. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_plan(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload plan ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload plan: not built yet\n");
    return RR_EXIT_USAGE;
}
