/* cmd_import.c -- rrload import. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_import(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload import ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload import: not built yet\n");
    return RR_EXIT_USAGE;
}
