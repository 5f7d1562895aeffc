/* cli.c -- Helpers shared by the subcommands. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "rrload %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'rrload %s --help')\n", cmd);
    return RR_EXIT_USAGE;
}

int cli_input_error(const char *fmt, ...)
{
    va_list ap;
    fputs("rrload: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return RR_EXIT_USAGE;
}

int cli_open_store(const char *path, int readonly, int create, struct rr_store **out)
{
    struct rr_store_opts o = {.path = path, .readonly = readonly, .create = create};
    char why[256] = "";
    int rc = rr_store_open(out, &o, why, sizeof(why));
    if (rc == 0)
        return 0;
    return cli_input_error("%s: %s", path, why[0] ? why : rr_strerror(rc));
}

void cli_catch_stop(void (*fn)(int), int ignore_pipe)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (ignore_pipe)
        signal(SIGPIPE, SIG_IGN);
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}
