/* SPDX-License-Identifier: MIT */
/* cmd_replay.c -- rrload replay: run a store's plan as virtual users against a target.
 *
 * A thin shell over rr/replayer.h: parse the flags (Locust's names and defaults), load the
 * plan (building it when the store has none), print the target, start, report every 2 s,
 * stop on -t, SIGINT or SIGTERM (a second signal stops at once), print the final stats. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#include "rr/plan.h"
#include "rr/replayer.h"
#include "rr/stats.h"
#include "rr/store.h"
#include "rr/transform.h"
#include "rr/util.h"

static const char usage_text[] =
    "usage: rrload replay FILE.db [-u USERS] [-r SPAWN_RATE] [-t RUN_TIME] [--host URL]\n"
    "                     [--headless] [--csv PREFIX] [--html FILE] [--json] [--only-summary]\n"
    "                     [--stop-timeout S] [--mode users|rate|timeline] [--rate N/s]\n"
    "                     [--arrival poisson|fixed] [--speed X] [--threads N]\n"
    "                     [--engine auto|native|h2|curl] [--http2] [--timeout S]\n"
    "                     [--allow-host HOST]... [--single-user] [--iterations N]\n"
    "                     [--think-scale F]\n"
    "\n"
    "Runs the store's plan (built from the recording when it has none) as virtual users.\n"
    "\n"
    "  -u, --users N          users to reach (default 1)\n"
    "  -r, --spawn-rate R     users started per second (default 1)\n"
    "  -t, --run-time T       stop after T: 300s, 20m, 1h30m (default: until Ctrl-C)\n"
    "  -H, --host URL         the target (default: the plan's host); nothing else is contacted\n"
    "      --headless         accepted for Locust compatibility (there is no web UI)\n"
    "      --csv PREFIX       write PREFIX_stats.csv, _stats_history.csv, _failures.csv\n"
    "      --html FILE        write an HTML report\n"
    "      --json             print the final stats as JSON\n"
    "      --only-summary     print only the final stats\n"
    "      --stop-timeout S   let running iterations finish for S after the stop (default 0)\n"
    "      --mode M           users (closed model, default), rate (open model), timeline\n"
    "      --rate N/s         rate mode: iterations started per second\n"
    "      --arrival A        rate mode: poisson (default) or fixed intervals\n"
    "      --speed X          timeline mode: X times the recorded speed (default 1)\n"
    "      --threads N        event loops (default: one per CPU)\n"
    "      --engine E         auto (native for http:// and https://, h2 with --http2 over\n"
    "                         http://, curl for https:// with --http2), native, h2, curl\n"
    "      --http2            HTTP/2: h2c prior knowledge (h2 engine), ALPN for https (curl)\n"
    "      --timeout S        per-request timeout (default 60s)\n"
    "      --allow-host H     another host requests may go to (repeatable)\n"
    "      --single-user      one user runs each flow once; a row per request\n"
    "      --iterations N     stop after N iterations in total\n"
    "      --seed N           seed the random choices (flows, pools, waits)\n"
    "      --think-scale F    multiply the recorded think times by F (0: no waits); replaces\n"
    "                         the plan's 'wait recorded scale'\n"
    "      --csv-full-history every entry in PREFIX_stats_history.csv, not only Aggregated\n"
    "      --exit-code-on-error N    exit code when requests failed (default 1)\n"
    "      --check-fail-ratio R      fail the run past this failure ratio (0.01 or 1%)\n"
    "      --check-p95 T             fail the run when the total p95 exceeds T (500ms)\n"
    "      --check-rps N             fail the run below N requests per second\n"
    "\n"
    "Logs and tables go to stderr, --json to stdout, as Locust does.\n"
    "Exit codes: 0 ok, 1 some requests failed, 2 bad usage or input, 3 a --check-*\n"
    "threshold was missed.\n";

static struct rr_replay *g_run;
static volatile sig_atomic_t g_signals;

static void on_signal(int sig)
{
    (void)sig;
    g_signals++;
    if (g_run)
        rr_replay_stop(g_run, g_signals == 1); /* async-signal-safe */
}

struct single_ctx {
    pthread_mutex_t mu;
};

static void single_row(const struct rr_replay_request *q, void *ud)
{
    struct single_ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    printf("%-7s %-40s %9.2f ms  %-4d %s  %s\n", q->method, q->name, q->response_time_ms, q->status,
           q->exception ? q->exception : "-", q->context && *q->context ? q->context : "");
    fflush(stdout);
    pthread_mutex_unlock(&c->mu);
}

/* The plan of a store without one is built by the transform, as `rrload transform` does,
 * with the default rules; it is not stored (a replay does not write the recording's plan). */
static int build_plan(struct rr_store *st, const char *path, struct rr_plan **out)
{
    struct rr_transform_stats ts;
    char why[256] = "";
    int rc;

    *out = NULL;
    rr_transform_stats_init(&ts);
    rc = rr_transform_run(st, NULL, out, &ts, why, sizeof(why));
    rr_transform_stats_fini(&ts);
    if (rc)
        return cli_input_error("%s: building the plan: %s", path, why);
    fprintf(stderr,
            "rrload replay: %s has no plan: built one from the recording "
            "('rrload transform %s' stores it)\n",
            path, path);
    return 0;
}

static int load_plan(struct rr_store *st, const char *path, struct rr_plan **out)
{
    struct rr_buf text;
    char why[256] = "";
    int rc;

    rr_buf_init(&text);
    rc = rr_store_plan_get(st, &text);
    if (rc == RR_ENOTFOUND) {
        rr_buf_fini(&text);
        return build_plan(st, path, out);
    }
    if (rc) {
        rr_buf_fini(&text);
        return cli_input_error("%s: reading the plan: %s", path, rr_strerror(rc));
    }
    rc = rr_plan_parse(text.p, text.len, out, why, sizeof(why));
    rr_buf_fini(&text);
    if (rc)
        return cli_input_error("%s: plan:%s", path, why);
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *slash = strchr(buf, '/');
    if (slash) {
        if (strcmp(slash, "/s") && strcmp(slash, "/sec"))
            return RR_EPARSE;
        *slash = 0;
    }
    return rr_parse_double(buf, out);
}

static double now_real(void)
{
    return (double)rr_now_real_us() / 1e6;
}

/* The run's total: every shard merged (they are cumulative), with the test's start time. */
static void total_of(struct rr_replay *r, struct rr_stats *total, double start)
{
    rr_stats_reset(total);
    rr_replay_stats(r, total);
    rr_stats_set_start_time(total, start);
}

static void put(FILE *f, struct rr_buf *b)
{
    fwrite(b->p, 1, b->len, f);
    fflush(f);
    rr_buf_reset(b);
}

/* Keeps the run in the store's runs database (for `show runs` and `compare`). */
static void save_run(const char *path, struct rr_report *rep, const struct rr_stats *total,
                     struct rr_replay *r, const struct rr_replay_opts *o, double secs)
{
    static const char *modes[] = {"users", "rate", "timeline"};
    struct rr_store *st = NULL;
    struct rr_buf params, doc;
    struct rr_store_opts so = {.path = path};
    char why[256];
    uint64_t id;

    rr_buf_init(&params);
    rr_buf_init(&doc);
    rr_buf_printf(&params,
                  "{\"target\": \"%s\", \"engine\": \"%s\", \"mode\": \"%s\", \"users\": %u, "
                  "\"spawn_rate\": %g, \"run_time_s\": %g, \"rate\": %g, \"speed\": %g, "
                  "\"duration_s\": %.3f}",
                  rr_replay_target(r), rr_replay_engine_name(r), modes[o->mode], o->users,
                  o->spawn_rate, (double)o->run_time_us / 1e6, o->rate, o->speed, secs);
    rr_report_run_json(rep, total, rr_buf_cstr(&params), &doc);
    if (rr_store_open(&st, &so, why, sizeof(why)) == 0) {
        if (rr_store_run_add(st, doc.p, doc.len, &id))
            fprintf(stderr, "rrload replay: %s: could not keep the run\n", path);
        if (rr_store_close(&st))
            fprintf(stderr, "rrload replay: %s: could not keep the run\n", path);
    }
    rr_buf_fini(&params);
    rr_buf_fini(&doc);
}

int rr_cmd_replay(int argc, char **argv)
{
    enum {
        O_HEADLESS = 256,
        O_CSV,
        O_HTML,
        O_JSON,
        O_ONLY_SUMMARY,
        O_STOP_TIMEOUT,
        O_MODE,
        O_RATE,
        O_ARRIVAL,
        O_SPEED,
        O_THREADS,
        O_ENGINE,
        O_HTTP2,
        O_TIMEOUT,
        O_ALLOW,
        O_SINGLE,
        O_ITER,
        O_SEED,
        O_CSV_FULL,
        O_CHECK,
        O_THINK_SCALE,
    };
    static const struct option longopts[] = {
        {"users", required_argument, NULL, 'u'},
        {"spawn-rate", required_argument, NULL, 'r'},
        {"run-time", required_argument, NULL, 't'},
        {"host", required_argument, NULL, 'H'},
        {"headless", no_argument, NULL, O_HEADLESS},
        {"csv", required_argument, NULL, O_CSV},
        {"html", required_argument, NULL, O_HTML},
        {"json", no_argument, NULL, O_JSON},
        {"only-summary", no_argument, NULL, O_ONLY_SUMMARY},
        {"stop-timeout", required_argument, NULL, O_STOP_TIMEOUT},
        {"mode", required_argument, NULL, O_MODE},
        {"rate", required_argument, NULL, O_RATE},
        {"arrival", required_argument, NULL, O_ARRIVAL},
        {"speed", required_argument, NULL, O_SPEED},
        {"threads", required_argument, NULL, O_THREADS},
        {"engine", required_argument, NULL, O_ENGINE},
        {"http2", no_argument, NULL, O_HTTP2},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"allow-host", required_argument, NULL, O_ALLOW},
        {"single-user", no_argument, NULL, O_SINGLE},
        {"iterations", required_argument, NULL, O_ITER},
        {"seed", required_argument, NULL, O_SEED},
        {"think-scale", required_argument, NULL, O_THINK_SCALE},
        {"csv-full-history", no_argument, NULL, O_CSV_FULL},
        {"exit-code-on-error", required_argument, NULL, O_CHECK},
        {"check-fail-ratio", required_argument, NULL, O_CHECK},
        {"check-p95", required_argument, NULL, O_CHECK},
        {"check-rps", required_argument, NULL, O_CHECK},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct rr_replay_opts o;
    struct rr_replay_callbacks cb = {0};
    struct single_ctx single = {PTHREAD_MUTEX_INITIALIZER};
    const char **allow = NULL;
    size_t n_allow = 0;
    struct rr_store *st = NULL;
    struct rr_plan *plan = NULL;
    struct rr_replay *r = NULL;
    const char *path = NULL, *csv = NULL, *html = NULL;
    struct rr_report *rep = NULL;
    struct rr_stats *total = NULL;
    struct rr_buf out;
    char *cmdline = NULL;
    int json = 0, only_summary = 0, csv_full = 0, ret = RR_EXIT_USAGE, opt, longidx = -1;
    struct rr_stats_checks checks;
    struct rr_buf msgs, log;
    uint64_t v;
    double d, think_scale = -1;
    char why[512];

    rr_replay_opts_init(&o);
    rr_buf_init(&out);
    rr_buf_init(&msgs);
    rr_buf_init(&log);
    rr_stats_checks_init(&checks);
    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return RR_EXIT_OK;
    }
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":u:r:t:H:h", longopts, &longidx)) != -1) {
        switch (opt) {
        case 'u':
            if (rr_parse_u64(optarg, 10000000, &v))
                return cli_usage_error("replay", "-u: expected a number of users, got '%s'",
                                       optarg);
            o.users = (unsigned)v;
            break;
        case 'r':
            if (rr_parse_double(optarg, &d) || d <= 0)
                return cli_usage_error("replay", "-r: expected users per second, got '%s'", optarg);
            o.spawn_rate = d;
            break;
        case 't':
            if (rr_parse_duration(optarg, &o.run_time_us))
                return cli_usage_error(
                    "replay", "-t: expected a time such as 300s, 20m or 1h30m, got '%s'", optarg);
            break;
        case 'H':
            o.host = optarg;
            break;
        case O_HEADLESS:
            break;
        case O_CSV:
            csv = optarg;
            break;
        case O_HTML:
            html = optarg;
            break;
        case O_JSON:
            json = 1;
            break;
        case O_ONLY_SUMMARY:
            only_summary = 1;
            break;
        case O_STOP_TIMEOUT:
            if (rr_parse_duration(optarg, &o.stop_timeout_us))
                return cli_usage_error("replay", "--stop-timeout: expected a time, got '%s'",
                                       optarg);
            break;
        case O_MODE:
            if (!strcmp(optarg, "users"))
                o.mode = RR_REPLAY_USERS;
            else if (!strcmp(optarg, "rate"))
                o.mode = RR_REPLAY_RATE;
            else if (!strcmp(optarg, "timeline"))
                o.mode = RR_REPLAY_TIMELINE;
            else
                return cli_usage_error(
                    "replay", "--mode: expected users, rate or timeline, got '%s'", optarg);
            break;
        case O_RATE:
            if (parse_rate(optarg, &o.rate) || o.rate <= 0)
                return cli_usage_error("replay", "--rate: expected N/s, got '%s'", optarg);
            break;
        case O_ARRIVAL:
            if (!strcmp(optarg, "poisson"))
                o.arrival = RR_ARRIVAL_POISSON;
            else if (!strcmp(optarg, "fixed"))
                o.arrival = RR_ARRIVAL_FIXED;
            else
                return cli_usage_error("replay", "--arrival: expected poisson or fixed, got '%s'",
                                       optarg);
            break;
        case O_SPEED:
            if (rr_parse_double(optarg, &o.speed) || o.speed <= 0)
                return cli_usage_error("replay", "--speed: expected a factor above 0, got '%s'",
                                       optarg);
            break;
        case O_THREADS:
            if (rr_parse_u64(optarg, 1024, &v) || v == 0)
                return cli_usage_error("replay", "--threads: expected 1-1024, got '%s'", optarg);
            o.threads = (unsigned)v;
            break;
        case O_ENGINE:
            if (!strcmp(optarg, "auto"))
                o.engine = RR_ENGINE_AUTO;
            else if (!strcmp(optarg, "native"))
                o.engine = RR_ENGINE_NATIVE;
            else if (!strcmp(optarg, "curl"))
                o.engine = RR_ENGINE_CURL;
            else if (!strcmp(optarg, "h2"))
                o.engine = RR_ENGINE_H2;
            else
                return cli_usage_error(
                    "replay", "--engine: expected auto, native, h2 or curl, got '%s'", optarg);
            break;
        case O_HTTP2:
            o.http2 = 1;
            break;
        case O_TIMEOUT:
            if (rr_parse_duration(optarg, &o.timeout_us) || o.timeout_us == 0)
                return cli_usage_error("replay", "--timeout: expected a time, got '%s'", optarg);
            break;
        case O_ALLOW:
            allow = rr_xrealloc(allow, (n_allow + 1) * sizeof(*allow));
            allow[n_allow++] = optarg;
            break;
        case O_SINGLE:
            o.single_user = 1;
            break;
        case O_ITER:
            if (rr_parse_u64(optarg, UINT64_MAX, &o.iterations) || o.iterations == 0)
                return cli_usage_error("replay", "--iterations: expected a number, got '%s'",
                                       optarg);
            break;
        case O_SEED:
            if (rr_parse_u64(optarg, UINT64_MAX, &o.seed))
                return cli_usage_error("replay", "--seed: expected a number, got '%s'", optarg);
            break;
        case O_THINK_SCALE:
            if (rr_parse_double(optarg, &d) || !(d >= 0) || d > 1e6) {
                free(allow);
                return cli_usage_error("replay", "--think-scale: expected a factor, got '%s'",
                                       optarg);
            }
            think_scale = d;
            break;
        case O_CSV_FULL:
            csv_full = 1;
            break;
        case O_CHECK: {
            char opt_name[64];
            snprintf(opt_name, sizeof(opt_name), "--%s", longopts[longidx].name);
            if (rr_stats_checks_parse(&checks, opt_name, optarg, why, sizeof(why))) {
                free(allow);
                return cli_usage_error("replay", "%s", why);
            }
            break;
        }
        case ':':
            free(allow);
            return cli_usage_error("replay", "%s needs a value", argv[optind - 1]);
        default:
            free(allow);
            return cli_usage_error("replay", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        free(allow);
        return cli_usage_error(
            "replay", optind >= argc ? "expected FILE.db" : "expected one FILE.db, got '%s' too",
            optind < argc - 1 ? argv[optind + 1] : "");
    }
    path = argv[optind];
    if (o.mode == RR_REPLAY_RATE && o.rate <= 0) {
        free(allow);
        return cli_usage_error("replay", "--mode rate needs --rate N/s");
    }
    o.allow_hosts = allow;
    o.n_allow_hosts = n_allow;
    /* the command line, shown in the HTML report */
    struct rr_buf cl;
    rr_buf_init(&cl);
    rr_buf_adds(&cl, "rrload replay");
    for (int i = 1; i < argc; i++) {
        rr_buf_addc(&cl, ' ');
        rr_buf_adds(&cl, argv[i]);
    }
    rr_buf_cstr(&cl);
    cmdline = (char *)rr_buf_take(&cl, &(size_t){0});

    if (cli_open_store(path, 1, 0, &st))
        goto out;
    if (o.mode != RR_REPLAY_TIMELINE || !o.host) {
        ret = load_plan(st, path, &plan);
        if (ret)
            goto out;
    }
    if (think_scale >= 0 && plan && plan->wait.kind == RR_WAIT_RECORDED) {
        /* the replayer reads a scale of 0 as "unset", so no waiting is its own kind */
        plan->wait.kind = think_scale > 0 ? RR_WAIT_RECORDED : RR_WAIT_NONE;
        plan->wait.scale = think_scale > 0 ? think_scale : 1.0;
    } else if (think_scale >= 0) {
        fprintf(stderr, "rrload replay: --think-scale ignored: the plan's waits are not the "
                        "recorded ones\n");
    }
    if (o.single_user) {
        cb.request = single_row;
        cb.ud = &single;
        printf("%-7s %-40s %12s  %-4s %s  %s\n", "type", "name", "time", "code", "exception",
               "context");
    }
    if (rr_replay_new(&r, plan, st, &o, &cb, why, sizeof(why))) {
        ret = cli_input_error("%s: %s", path, why);
        goto out;
    }
    /* The timeline was copied out: no read transaction stays open during the run. */
    rr_store_close(&st);
    fprintf(stderr, "rrload replay: target %s (engine %s)\n", rr_replay_target(r),
            rr_replay_engine_name(r));

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct rr_report_opts ro = {.csv_prefix = csv,
                                .csv_full_history = csv_full,
                                .html_path = html,
                                .host = rr_replay_target(r),
                                .script = path,
                                .command_line = cmdline};
    if (rr_report_new(&rep, &ro)) {
        ret = cli_input_error("cannot write the reports (--csv %s, --html %s)", csv ? csv : "-",
                              html ? html : "-");
        goto out;
    }
    if (rr_stats_new(&total)) {
        ret = cli_input_error("out of memory");
        goto out;
    }
    /* As Locust: logs and tables on stderr, the JSON alone on stdout; the name column's width
     * follows stdout's terminal. */
    FILE *tables = stderr;
    int width = rr_stats_name_width(STDOUT_FILENO);
    double start = now_real();
    if (o.run_time_us)
        rr_stats_log(&log, start, "INFO", "locust.main", "Run time limit set to %llu seconds",
                     (unsigned long long)(o.run_time_us / 1000000));
    else
        rr_stats_log(&log, start, "INFO", "locust.main",
                     "No run time limit set, use CTRL+C to interrupt");
    rr_stats_log(&log, start, "INFO", "locust.main", "Starting rrload %s", RR_VERSION);
    if (o.mode == RR_REPLAY_USERS && !o.single_user)
        rr_stats_log(&log, start, "INFO", "locust.runners",
                     "Ramping to %u users at a rate of %.2f per second", o.users, o.spawn_rate);
    put(tables, &log);
    int all_spawned = o.mode != RR_REPLAY_USERS || o.single_user;
    rr_stats_start(total, start);
    rr_report_clear_history(rep);
    uint64_t t0 = rr_now_mono_us(), next_tick = t0 + 1000000, next_print = t0 + 2000000;
    if (rr_replay_start(r)) {
        ret = cli_input_error("cannot start the replay");
        goto out;
    }
    g_run = r; /* from here the signal handler may stop it */
    if (g_signals)
        rr_replay_stop(r, g_signals == 1);
    while (rr_replay_wait(r, 100000) == -ETIMEDOUT) {
        uint64_t now = rr_now_mono_us();
        if (now < next_tick)
            continue;
        struct rr_replay_counts c;
        rr_replay_counts(r, &c);
        total_of(r, total, start);
        (void)rr_report_tick(rep, total, now_real(), (int)c.users);
        if (!all_spawned && c.users >= o.users) {
            all_spawned = 1;
            rr_stats_log(&log, now_real(), "INFO", "locust.runners",
                         "All users spawned: {\"rrload\": %u} (%u total users)", c.users, c.users);
            put(tables, &log);
        }
        next_tick += 1000000;
        if (!only_summary && !o.single_user && now >= next_print) {
            rr_stats_print_table(total, width, 1, &out);
            put(tables, &out);
            next_print += 2000000;
        }
    }
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    g_run = NULL;
    double secs = (double)(rr_now_mono_us() - t0) / 1e6;
    struct rr_replay_counts c;
    rr_replay_counts(r, &c);
    total_of(r, total, start);
    if (rr_report_finish(rep, total, now_real(), 0))
        fprintf(stderr, "rrload replay: could not write every report file\n");
    /* Locust decides and logs the exit code before it prints the final tables. */
    ret = rr_stats_exit_code(total, &checks, &msgs);
    if (o.run_time_us && !g_signals && secs * 1e6 >= (double)o.run_time_us)
        rr_stats_log(&log, now_real(), "INFO", "locust.main",
                     "--run-time limit reached, shutting down");
    rr_stats_log(&log, now_real(), "INFO", "locust.main", "Shutting down (exit code %d)", ret);
    put(tables, &log);
    if (!o.single_user) {
        rr_stats_print_summary(total, width, &out);
        put(tables, &out);
    }
    if (c.unserved)
        fprintf(stderr, "rrload replay: %llu iteration starts found no free user (raise -u)\n",
                (unsigned long long)c.unserved);
    if (json) {
        rr_stats_json(total, &out);
        put(stdout, &out);
    }
    save_run(path, rep, total, r, &o, secs);
    if (msgs.len)
        fputs(rr_buf_cstr(&msgs), stderr);
out:
    rr_buf_fini(&msgs);
    rr_buf_fini(&log);
    g_run = NULL;
    rr_replay_free(&r);
    rr_report_free(&rep);
    rr_stats_free(&total);
    rr_buf_fini(&out);
    free(cmdline);
    rr_plan_free(&plan);
    rr_store_close(&st);
    free(allow);
    return ret;
}
