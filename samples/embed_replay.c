/* SPDX-License-Identifier: MIT */
/* embed_replay.c -- Embeds the replayer: builds a one-step plan in C and runs it.
 *
 *   embed_replay URL [USERS] [SECONDS] [native|curl|h2|curl-h2|auto] [PATH] [THINK_SECONDS]
 *
 * USERS users (default 10) send GET PATH (default: the URL's path, or /) as fast as the target
 * answers (or wait THINK_SECONDS after each), for SECONDS seconds (default 5), then the totals are
 * printed, wrk-style. It shows the whole public API: options, callbacks, start, wait, stop, counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/plan.h"
#include "rr/replayer.h"
#include "rr/util.h"

static void on_start(void *ud)
{
    fprintf(stderr, "test started against %s\n", (const char *)ud);
}

static void on_stop(void *ud)
{
    (void)ud;
    fprintf(stderr, "test stopped\n");
}

int main(int argc, char **argv)
{
    struct rr_plan_step step = {0};
    struct rr_plan_flow flow = {0};
    struct rr_plan plan = {0};
    struct rr_replay_opts o;
    struct rr_replay_callbacks cb = {0};
    struct rr_replay_counts c;
    struct rr_replay *r = NULL;
    char why[512], host[512], path[512] = "/";

    if (argc < 2) {
        fprintf(stderr,
                "usage: embed_replay URL [USERS] [SECONDS] [native|curl|h2|auto] [PATH] [THINK]\n");
        return 2;
    }
    /* split URL into host and path */
    snprintf(host, sizeof(host), "%s", argv[1]);
    char *slash = strstr(host, "://");
    slash = slash ? strchr(slash + 3, '/') : NULL;
    if (slash) {
        snprintf(path, sizeof(path), "%s", slash);
        *slash = 0;
    }
    if (argc > 5)
        snprintf(path, sizeof(path), "%s", argv[5]);
    step.name = path;
    step.method = "GET";
    step.target = path;
    flow.name = "main";
    flow.weight = 1;
    flow.n_steps = 1;
    flow.steps = &step;
    plan.host = host;
    plan.wait.kind = RR_WAIT_NONE;
    if (argc > 6 && atof(argv[6]) > 0) {
        plan.wait.kind = RR_WAIT_CONSTANT;
        plan.wait.a = atof(argv[6]);
    }
    plan.n_flows = 1;
    plan.flows = &flow;

    rr_replay_opts_init(&o);
    o.users = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
    o.spawn_rate = o.users > 10000 ? 10000 : 1e9; /* all at once, or 10k/s for very many */
    o.run_time_us = (uint64_t)(argc > 3 ? atof(argv[3]) : 5) * 1000000u;
    if (argc > 4 && !strcmp(argv[4], "native"))
        o.engine = RR_ENGINE_NATIVE;
    else if (argc > 4 && !strcmp(argv[4], "curl"))
        o.engine = RR_ENGINE_CURL;
    else if (argc > 4 && !strcmp(argv[4], "h2")) {
        o.engine = RR_ENGINE_H2; /* h2c with prior knowledge, one connection per user */
        o.http2 = 1;
    } else if (argc > 4 && !strcmp(argv[4], "curl-h2")) {
        o.engine = RR_ENGINE_CURL;
        o.http2 = 1;
    }
    cb.test_start = on_start;
    cb.test_stop = on_stop;
    cb.ud = host;
    if (rr_replay_new(&r, &plan, NULL, &o, &cb, why, sizeof(why))) {
        fprintf(stderr, "embed_replay: %s\n", why);
        return 2;
    }
    uint64_t t0 = rr_now_mono_us();
    if (rr_replay_start(r)) {
        fprintf(stderr, "embed_replay: cannot start\n");
        rr_replay_free(&r);
        return 1;
    }
    while (rr_replay_wait(r, 1000000) == -ETIMEDOUT)
        ;
    double secs = (double)(rr_now_mono_us() - t0) / 1e6;
    rr_replay_counts(r, &c);
    printf("engine %s, %u users, %.2f s\n", rr_replay_engine_name(r), o.users, secs);
    printf("  %llu requests, %llu failures\n", (unsigned long long)c.requests,
           (unsigned long long)c.failures);
    printf("Requests/sec: %.2f\n", (double)c.requests / secs);
    rr_replay_free(&r);
    return c.failures ? 1 : 0;
}
