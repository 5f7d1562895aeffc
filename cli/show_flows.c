/* show_flows.c -- rrload show FILE flows|plan|sessions: the transform's view of a store. */
#include <stdio.h>

#include "cli.h"
#include "show.h"

int cli_show_flows(struct rr_store *s, const char *what, int json)
{
    fprintf(stderr, "rrload show %s: not built yet\n", what);
    return RR_EXIT_USAGE;
}
