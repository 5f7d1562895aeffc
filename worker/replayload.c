/* SPDX-License-Identifier: MIT */
/* replayload.c -- Locust user classes run as replay plan flows.
 *
 * A class whose name is a flow's name runs that flow only; any other class runs the whole
 * plan, flows picked by weight, as `rrload replay` does. A replay run has a fixed user count,
 * so a class's users are a stack of runs: more users start one more run beside the running
 * ones (a ramp-up never interrupts users already running), fewer users stop the newest runs
 * and, if needed, start one smaller run. Requests are recorded from the replayer's request
 * event into per-thread shards, so the worker's deltas never depend on report timing. */
#define RR_LOG_MODULE "worker"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/log.h"
#include "rr/replayer.h"
#include "rr/util.h"
#include "wk_int.h"

#define RL_SHARDS 16

struct rl_shard {
    pthread_mutex_t lock;
    struct rr_wstats *stats;
};

struct rl_run {
    struct rr_replay *r;
    unsigned users;
};

struct rl_class {
    char *name;
    struct rr_plan view; /* the plan, or the plan narrowed to one flow */
    struct rr_plan_flow flow;
    struct rl_run *runs;
    size_t nruns, cap;
    unsigned users;
};

struct rr_replayload {
    const struct rr_plan *plan;
    struct rr_replay_opts base;
    char *host;
    struct rl_class *cls;
    size_t ncls;
    struct rl_shard shard[RL_SHARDS];
    atomic_uint next_shard;
};

static _Thread_local int my_shard = -1;

static void on_request(const struct rr_replay_request *q, void *ud)
{
    struct rr_replayload *l = ud;
    if (my_shard < 0)
        my_shard = (int)(atomic_fetch_add(&l->next_shard, 1) % RL_SHARDS);
    struct rl_shard *s = &l->shard[my_shard];
    /* Locust stamps a request when it is logged, i.e. when the response is complete */
    uint64_t end = q->start_time_us + (uint64_t)(q->response_time_ms * 1000.0);
    pthread_mutex_lock(&s->lock);
    rr_wstats_record(s->stats, q->method, q->name, q->response_time_ms, q->response_length,
                     q->exception, end);
    pthread_mutex_unlock(&s->lock);
}

static struct rl_class *find_class(struct rr_replayload *l, const char *name)
{
    for (size_t i = 0; i < l->ncls; i++)
        if (strcmp(l->cls[i].name, name) == 0)
            return &l->cls[i];
    l->cls = rr_xrealloc(l->cls, (l->ncls + 1) * sizeof(*l->cls));
    struct rl_class *c = &l->cls[l->ncls++];
    memset(c, 0, sizeof(*c));
    c->name = rr_xstrdup(name);
    c->view = *l->plan;
    for (size_t i = 0; i < l->plan->n_flows; i++) {
        if (strcmp(l->plan->flows[i].name, name) != 0)
            continue;
        c->flow = l->plan->flows[i];
        if (!c->flow.weight)
            c->flow.weight = 1;
        c->view.n_flows = 1;
        c->view.flows = &c->flow;
        return c;
    }
    rr_log(RR_LOG_INFO, "user class %s names no flow: its users run every flow by weight", name);
    return c;
}

static void stop_run(struct rl_run *run, uint64_t timeout_us)
{
    uint64_t deadline = rr_now_mono_us() + timeout_us;
    rr_replay_stop(run->r, 1);
    while (rr_replay_wait(run->r, 50000) == -ETIMEDOUT)
        if (rr_now_mono_us() >= deadline) {
            rr_replay_stop(run->r, 0);
            while (rr_replay_wait(run->r, 50000) == -ETIMEDOUT)
                ;
            break;
        }
    rr_replay_free(&run->r);
    run->users = 0;
}

static int start_run(struct rr_replayload *l, struct rl_class *c, unsigned users)
{
    struct rr_replay_opts o = l->base;
    struct rr_replay_callbacks cb = {.request = on_request, .ud = l};
    char why[256] = "";
    struct rr_replay *r = NULL;
    o.host = l->host ? l->host : l->base.host;
    o.mode = RR_REPLAY_USERS;
    o.users = users;
    o.spawn_rate = users * 100.0; /* all at once: the master paces the ramp-up */
    o.run_time_us = 0;
    o.threads = 1;
    int rc = rr_replay_new(&r, &c->view, NULL, &o, &cb, why, sizeof(why));
    if (rc != 0) {
        rr_log(RR_LOG_ERR, "cannot run class %s: %s", c->name, why[0] ? why : rr_strerror(rc));
        return rc;
    }
    rc = rr_replay_start(r);
    if (rc != 0) {
        rr_replay_free(&r);
        return rc;
    }
    if (c->nruns == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->runs = rr_xrealloc(c->runs, c->cap * sizeof(*c->runs));
    }
    c->runs[c->nruns].r = r;
    c->runs[c->nruns].users = users;
    c->nruns++;
    c->users += users;
    return 0;
}

static int rl_spawn(void *ud, const char *const *classes, const unsigned *counts, size_t n,
                    const char *host, unsigned *running)
{
    struct rr_replayload *l = ud;
    int rc = 0;
    if (host && (!l->host || strcmp(host, l->host) != 0)) {
        /* runs already going keep their target; new users go to the master's host */
        free(l->host);
        l->host = rr_xstrdup(host);
    }
    for (size_t i = 0; i < n; i++) {
        struct rl_class *c = find_class(l, classes[i]);
        while (c->nruns && c->users - c->runs[c->nruns - 1].users >= counts[i]) {
            c->users -= c->runs[c->nruns - 1].users;
            stop_run(&c->runs[--c->nruns], 200000);
        }
        if (c->users > counts[i]) {
            c->users -= c->runs[c->nruns - 1].users;
            stop_run(&c->runs[--c->nruns], 200000);
        }
        if (c->users < counts[i]) {
            int e = start_run(l, c, counts[i] - c->users);
            if (e && !rc)
                rc = e;
        }
        running[i] = c->users;
    }
    return rc;
}

static void rl_stop(void *ud, uint64_t timeout_us)
{
    struct rr_replayload *l = ud;
    for (size_t i = 0; i < l->ncls; i++) {
        struct rl_class *c = &l->cls[i];
        for (size_t k = 0; k < c->nruns; k++)
            rr_replay_stop(c->runs[k].r, 1);
        for (size_t k = c->nruns; k-- > 0;)
            stop_run(&c->runs[k], timeout_us);
        c->nruns = 0;
        c->users = 0;
    }
}

static void rl_collect(void *ud, struct rr_wstats *dst)
{
    struct rr_replayload *l = ud;
    uint64_t now = rr_now_real_us();
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_lock(&l->shard[i].lock);
        rr_wstats_merge(dst, l->shard[i].stats);
        rr_wstats_reset(l->shard[i].stats, now);
        pthread_mutex_unlock(&l->shard[i].lock);
    }
}

int rr_replayload_new(struct rr_replayload **out, const struct rr_plan *plan,
                      const struct rr_replay_opts *base)
{
    struct rr_replayload *l = rr_xcalloc(1, sizeof(*l));
    l->plan = plan;
    l->base = *base;
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_init(&l->shard[i].lock, NULL);
        l->shard[i].stats = rr_wstats_new();
    }
    *out = l;
    return 0;
}

void rr_replayload_free(struct rr_replayload **lp)
{
    struct rr_replayload *l = *lp;
    if (!l)
        return;
    rl_stop(l, 0);
    for (size_t i = 0; i < l->ncls; i++) {
        free(l->cls[i].name);
        free(l->cls[i].runs);
    }
    free(l->cls);
    free(l->host);
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_destroy(&l->shard[i].lock);
        rr_wstats_free(&l->shard[i].stats);
    }
    free(l);
    *lp = NULL;
}

void rr_replayload_bind(struct rr_replayload *l, struct rr_worker_load *load)
{
    load->spawn = rl_spawn;
    load->stop = rl_stop;
    load->collect = rl_collect;
    load->ud = l;
}
