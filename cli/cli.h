/* cli.h -- What the subcommands share: usage errors, opening a store, the entry points. */
#ifndef RR_CLI_H
#define RR_CLI_H

#include "rr/err.h"
#include "rr/store.h"

/* Exit codes, as Locust: 0 ok, 1 the run had failures, 2 usage or bad input. */
enum { RR_EXIT_OK = 0, RR_EXIT_FAIL = 1, RR_EXIT_USAGE = 2 };

/* Prints "rrload CMD: MESSAGE" and a hint to --help on stderr; returns RR_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) RR_PRINTF(2, 3);
/* Prints "rrload: MESSAGE" on stderr; returns RR_EXIT_USAGE. */
int cli_input_error(const char *fmt, ...) RR_PRINTF(1, 2);
/* Opens a store, printing one line naming the file and the problem on failure. Returns 0 or
 * RR_EXIT_USAGE. */
int cli_open_store(const char *path, int readonly, int create, struct rr_store **out);
/* Routes SIGINT and SIGTERM to fn (which may only set a flag or call async-signal-safe
 * code), and ignores SIGPIPE when ignore_pipe: a peer that goes away mid-write is then an
 * EPIPE for the command to report, not a silent death. */
void cli_catch_stop(void (*fn)(int), int ignore_pipe);
/* True when argv holds -h or --help before any "--". */
int cli_wants_help(int argc, char **argv);

int rr_cmd_record(int argc, char **argv);
/* record --proxy: the recording reverse proxy (cmd_record_proxy.c). */
int rr_cmd_record_proxy(int argc, char **argv);
int rr_cmd_import(int argc, char **argv);
int rr_cmd_show(int argc, char **argv);
int rr_cmd_transform(int argc, char **argv);
int rr_cmd_plan(int argc, char **argv);
int rr_cmd_replay(int argc, char **argv);
int rr_cmd_worker(int argc, char **argv);
int rr_cmd_export(int argc, char **argv);
int rr_cmd_compare(int argc, char **argv);

#endif
