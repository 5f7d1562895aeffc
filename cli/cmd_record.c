/* cmd_record.c -- rrload record. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_record(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload record ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload record: not built yet\n");
    return RR_EXIT_USAGE;
}
