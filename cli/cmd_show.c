/* cmd_show.c -- rrload show. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_show(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload show FILE [exchanges|sessions|flows|plan|runs|meta] [--json]\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload show: not built yet\n");
    return RR_EXIT_USAGE;
}
