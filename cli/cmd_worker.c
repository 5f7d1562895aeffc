/* cmd_worker.c -- rrload worker: join a Locust master and run the users it assigns. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rr/log.h"
#include "rr/util.h"
#include "rr/worker.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(void)
{
    printf("usage: rrload worker [FILE.db] --master-host HOST [options]\n"
           "\n"
           "Joins a Locust master (locust --master) as one of its workers. The master decides how\n"
           "many users of each User class run here; its web UI, headless mode and CSV/HTML\n"
           "reports cover every worker.\n"
           "\n"
           "  --master-host HOST      the master's address (required)\n"
           "  --master-port PORT      its --master-bind-port (default 5557)\n"
           "  --url URL               without FILE.db: every user loops over these GET URLs\n"
           "                          (repeatable; a path is joined to the master's --host)\n"
           "  --node-id ID            worker id (default HOSTNAME_<random hex>, as Locust)\n"
           "  --master-timeout DUR    give up on a silent or unreachable master after DUR\n"
           "                          (default 60s); exit status 1\n"
           "  --connect-retries N     client_ready resends, 5 s apart (default 60)\n"
           "  --log-level LEVEL       err, warn, info (default), debug, trace\n"
           "\n"
           "Exit status: 0 when the master said quit (or on SIGINT/SIGTERM after telling it),\n"
           "1 when the master was lost or never answered, 2 on bad usage.\n");
}

int rr_cmd_worker(int argc, char **argv)
{
    enum { O_HOST = 256, O_PORT, O_URL, O_NODE, O_TIMEOUT, O_RETRIES, O_LOG };
    static const struct option opts[] = {
        {"master-host", required_argument, NULL, O_HOST},
        {"master-port", required_argument, NULL, O_PORT},
        {"url", required_argument, NULL, O_URL},
        {"node-id", required_argument, NULL, O_NODE},
        {"master-timeout", required_argument, NULL, O_TIMEOUT},
        {"connect-retries", required_argument, NULL, O_RETRIES},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rr_worker_opts wo;
    const char *urls[64];
    size_t nurls = 0;
    uint64_t v;
    int c;

    if (cli_wants_help(argc, argv)) {
        usage();
        return RR_EXIT_OK;
    }
    rr_worker_opts_init(&wo);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_HOST:
            wo.master_host = optarg;
            break;
        case O_PORT:
            if (rr_parse_u64(optarg, 65535, &v) != 0 || v == 0)
                return cli_usage_error("worker", "--master-port: expected 1-65535, got '%s'",
                                       optarg);
            wo.master_port = (unsigned)v;
            break;
        case O_URL:
            if (nurls == sizeof(urls) / sizeof(urls[0]))
                return cli_usage_error("worker", "--url: at most 64");
            if (optarg[0] != '/' && strncmp(optarg, "http://", 7) != 0 &&
                strncmp(optarg, "https://", 8) != 0)
                return cli_usage_error("worker", "--url: expected http(s)://... or /path, got '%s'",
                                       optarg);
            urls[nurls++] = optarg;
            break;
        case O_NODE:
            if (!optarg[0] || strlen(optarg) > 190)
                return cli_usage_error("worker", "--node-id: expected 1-190 characters");
            wo.node_id = optarg;
            break;
        case O_TIMEOUT:
            if (rr_parse_duration(optarg, &v) != 0 || v == 0)
                return cli_usage_error("worker", "--master-timeout: expected a duration such as "
                                                 "30s, got '%s'", optarg);
            wo.master_timeout_us = v;
            break;
        case O_RETRIES:
            if (rr_parse_u64(optarg, 100000, &v) != 0)
                return cli_usage_error("worker", "--connect-retries: expected a count, got '%s'",
                                       optarg);
            wo.connect_retries = (unsigned)v;
            break;
        case O_LOG:
            if (rr_log_set_level(optarg) != 0)
                return cli_usage_error("worker", "--log-level: unknown level '%s'", optarg);
            break;
        default:
            return cli_usage_error("worker", "unknown option");
        }
    }
    if (!wo.master_host)
        return cli_usage_error("worker", "--master-host is required");
    if (optind < argc)
        return cli_usage_error("worker", "replaying FILE.db under a master is not available in "
                                         "this build; use --url");
    if (!nurls)
        return cli_usage_error("worker", "nothing to run: give --url");

    struct rr_httpload *h = NULL;
    struct rr_worker_load load;
    memset(&load, 0, sizeof(load));
    if (rr_httpload_new(&h, urls, nurls) != 0)
        return cli_usage_error("worker", "bad --url list");
    rr_httpload_bind(h, &load);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    wo.interrupted = &interrupted;

    int rc = rr_worker_run(&wo, &load);
    rr_httpload_free(&h);
    if (rc == RR_EUSAGE)
        return RR_EXIT_USAGE;
    if (rc != 0) {
        if (rc != RR_WORKER_LOST && rc != RR_WORKER_NOT_ACKED)
            fprintf(stderr, "rrload worker: %s\n", rr_strerror(rc));
        return RR_EXIT_FAIL;
    }
    return RR_EXIT_OK;
}
