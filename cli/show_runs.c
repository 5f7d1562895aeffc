/* show_runs.c -- rrload show FILE runs: the replays recorded in a store. */
#include <stdio.h>

#include "cli.h"
#include "show.h"

int cli_show_runs(struct rr_store *s, int json)
{
    fprintf(stderr, "rrload show runs: not built yet\n");
    return RR_EXIT_USAGE;
}
