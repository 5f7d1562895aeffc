/* rrload.c -- The rrload command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef RR_VERSION
#define RR_VERSION "unknown"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} cmds[] = {
    {"record", rr_cmd_record, "capture HTTP traffic (live, pcap file, or proxy) into a store"},
    {"import", rr_cmd_import, "import a HAR file into a store"},
    {"show", rr_cmd_show, "list a store's exchanges, sessions, flows, plan, runs or meta"},
    {"transform", rr_cmd_transform, "build the replay plan from the recorded sessions"},
    {"plan", rr_cmd_plan, "export the plan to a text file or import an edited one"},
    {"replay", rr_cmd_replay, "run the plan as virtual users against a target"},
    {"worker", rr_cmd_worker, "run as a worker of a Locust master"},
    {"export", rr_cmd_export, "write the plan as a locustfile, or the exchanges as HAR"},
    {"compare", rr_cmd_compare, "compare two runs and fail past a regression"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: rrload [--version] [--help] COMMAND [ARGS]\n\n"
               "Record real HTTP traffic and replay it as load, reported as Locust does.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].what);
    fprintf(f, "\nThe store defaults to session.db. 'rrload COMMAND --help' tells more.\n"
               "Exit codes: 0 ok, 1 the run had failures, 2 bad usage or bad input.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return RR_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return RR_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("rrload %s\n", RR_VERSION);
        return RR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "rrload: unknown command '%s' (see 'rrload --help')\n", argv[1]);
    return RR_EXIT_USAGE;
}
