/* cmd_export.c -- rrload export. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_export(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload export ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload export: not built yet\n");
    return RR_EXIT_USAGE;
}
