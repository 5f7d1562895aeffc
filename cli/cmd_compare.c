/* cmd_compare.c -- rrload compare. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_compare(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload compare ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload compare: not built yet\n");
    return RR_EXIT_USAGE;
}
