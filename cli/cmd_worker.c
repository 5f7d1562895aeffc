/* cmd_worker.c -- rrload worker. */
#include <stdio.h>

#include "cli.h"

int rr_cmd_worker(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: rrload worker ...\n\nNot built yet.\n");
        return RR_EXIT_OK;
    }
    fprintf(stderr, "rrload worker: not built yet\n");
    return RR_EXIT_USAGE;
}
