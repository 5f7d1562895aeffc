/* cmd_transform.c -- rrload transform. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_transform(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload transform ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload transform: not built yet\n");
    return RR_EXIT_USAGE;
}
