/* show.h -- The views of rrload show that belong to other modules. */
#ifndef RR_CLI_SHOW_H
#define RR_CLI_SHOW_H

#include "rr/store.h"

/* what: "flows", "plan" or "sessions". Returns an exit code. */
int cli_show_flows(struct rr_store *s, const char *what, int json);
int cli_show_runs(struct rr_store *s, int json);

#endif
