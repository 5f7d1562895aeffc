/* cmd_worker.c -- rrload worker: join a Locust master and run the users it assigns. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rr/log.h"
#include "rr/plan.h"
#include "rr/replayer.h"
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
    printf("usage: rrload worker FILE.db|PLAN.txt --master-host HOST [options]\n"
           "       rrload worker --url URL... --master-host HOST [options]\n"
           "\n"
           "Joins a Locust master (locust --master) as one of its workers. The master decides how\n"
           "many users of each User class run here; its web UI, headless mode and CSV/HTML\n"
           "reports cover every worker. A class named like a flow of the plan (in FILE.db, or\n"
           "a plan text file) runs that flow; other classes run every flow by weight.\n"
           "The master's --host replaces the plan's host.\n"
           "\n"
           "  --master-host HOST      the master's address (required)\n"
           "  --master-port PORT      its --master-bind-port (default 5557)\n"
           "  --host URL              target when the master gives none (default: the plan's)\n"
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

/* FILE is a store with a plan, or a plan text file. Prints one line and returns
 * RR_EXIT_USAGE when it is neither. */
static int load_plan(const char *path, struct rr_plan **out)
{
    struct rr_buf text;
    char why[256] = "";
    char head[12] = "";
    int rc = RR_EXIT_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_input_error("%s: %s", path, strerror(errno));
    size_t n = fread(head, 1, sizeof(head), f);
    rr_buf_init(&text);
    if (n == sizeof(head) && memcmp(head, "rrload-plan ", 12) == 0) {
        char chunk[65536];
        rr_buf_add(&text, head, n);
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            rr_buf_add(&text, chunk, n);
        fclose(f);
    } else {
        struct rr_store *st = NULL;
        fclose(f);
        rc = cli_open_store(path, 1, 0, &st);
        if (rc)
            goto out;
        int e = rr_store_plan_get(st, &text);
        rr_store_close(&st);
        if (e == RR_ENOTFOUND) {
            rc = cli_input_error("%s: no plan in this store; run 'rrload transform %s' first", path,
                                 path);
            goto out;
        }
        if (e) {
            rc = cli_input_error("%s: %s", path, rr_strerror(e));
            goto out;
        }
    }
    if (rr_plan_parse(text.p, text.len, out, why, sizeof(why)) != 0 ||
        rr_plan_validate(*out, why, sizeof(why)) != 0) {
        rr_plan_free(out);
        rc = cli_input_error("%s: plan: %s", path, why);
    }
out:
    rr_buf_fini(&text);
    return rc;
}

int rr_cmd_worker(int argc, char **argv)
{
    enum {
        O_HOST = 256,
        O_PORT,
        O_URL,
        O_NODE,
        O_TIMEOUT,
        O_RETRIES,
        O_LOG,
        O_TARGET
    };
    static const struct option opts[] = {
        {"master-host", required_argument, NULL, O_HOST},
        {"master-port", required_argument, NULL, O_PORT},
        {"url", required_argument, NULL, O_URL},
        {"node-id", required_argument, NULL, O_NODE},
        {"master-timeout", required_argument, NULL, O_TIMEOUT},
        {"connect-retries", required_argument, NULL, O_RETRIES},
        {"log-level", required_argument, NULL, O_LOG},
        {"host", required_argument, NULL, O_TARGET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rr_worker_opts wo;
    const char *urls[64];
    const char *target = NULL;
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
                return cli_usage_error("worker",
                                       "--master-timeout: expected a duration such as "
                                       "30s, got '%s'",
                                       optarg);
            wo.master_timeout_us = v;
            break;
        case O_RETRIES:
            if (rr_parse_u64(optarg, 100000, &v) != 0)
                return cli_usage_error("worker", "--connect-retries: expected a count, got '%s'",
                                       optarg);
            wo.connect_retries = (unsigned)v;
            break;
        case O_TARGET:
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
                return cli_usage_error("worker", "--host: expected http(s)://HOST[:PORT], got '%s'",
                                       optarg);
            target = optarg;
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
    if (optind < argc && nurls)
        return cli_usage_error("worker", "give FILE.db or --url, not both");
    if (optind + 1 < argc)
        return cli_usage_error("worker", "one FILE.db only");
    if (optind == argc && !nurls)
        return cli_usage_error("worker", "nothing to run: give FILE.db or --url");

    struct rr_worker_load load;
    struct rr_httpload *h = NULL;
    struct rr_replayload *rl = NULL;
    struct rr_plan *plan = NULL;
    memset(&load, 0, sizeof(load));
    if (nurls) {
        if (rr_httpload_new(&h, urls, nurls) != 0)
            return cli_usage_error("worker", "bad --url list");
        if (target)
            rr_httpload_set_host(h, target);
        rr_httpload_bind(h, &load);
    } else {
        int e = load_plan(argv[optind], &plan);
        if (e)
            return e;
        struct rr_replay_opts ro;
        rr_replay_opts_init(&ro);
        ro.host = target;
        if (rr_replayload_new(&rl, plan, &ro) != 0) {
            rr_plan_free(&plan);
            return RR_EXIT_FAIL;
        }
        rr_replayload_bind(rl, &load);
    }

    cli_catch_stop(on_signal, 1);
    wo.interrupted = &interrupted;

    int rc = rr_worker_run(&wo, &load);
    rr_httpload_free(&h);
    rr_replayload_free(&rl);
    rr_plan_free(&plan);
    if (rc == RR_EUSAGE)
        return RR_EXIT_USAGE;
    if (rc != 0) {
        if (rc != RR_WORKER_LOST && rc != RR_WORKER_NOT_ACKED)
            fprintf(stderr, "rrload worker: %s\n", rr_strerror(rc));
        return RR_EXIT_FAIL;
    }
    return RR_EXIT_OK;
}
