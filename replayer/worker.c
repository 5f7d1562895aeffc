/* SPDX-License-Identifier: MIT */
/* worker.c -- One replay thread: its loop, its users, its stats shard, its load model.
 *
 * A worker shares nothing mutable with the others but the iteration budget and unique pools
 * (atomics) and its mailbox (a mutex-protected shard the main thread reads). Every 250 ms it
 * moves its local stats into the mailbox, so recording never takes a lock. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <string.h>

#include "rp_int.h"
#include "rr/util.h"

#define PUBLISH_US 250000
#define ON_STOP_US 1000000 /* on_stop steps after a stop with no stop timeout */

uint64_t rp__rand(struct rp_worker *w)
{
    /* xorshift64*: small, fast, good enough for picking flows and pool values */
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

double rp__rand01(struct rp_worker *w)
{
    return (double)(rp__rand(w) >> 11) * (1.0 / 9007199254740992.0);
}

static void publish(struct rp_worker *w)
{
    pthread_mutex_lock(&w->shard.mu);
    rr_stats_merge(w->shard.stats, w->stats);
    w->counts.users = w->live;
    w->counts.running = w->phase < 2;
    w->shard.counts = w->counts;
    pthread_mutex_unlock(&w->shard.mu);
    rr_stats_reset(w->stats);
}

static void publish_fire(struct rr_timer *t)
{
    struct rp_worker *w =
        (struct rp_worker *)((char *)t - offsetof(struct rp_worker, publish_timer));
    publish(w);
    rr_timer_start(w->loop, t, rr_loop_now(w->loop) + PUBLISH_US);
}

static void worker_end(struct rp_worker *w)
{
    if (w->phase == 2)
        return;
    w->phase = 2;
    rr_timer_stop(w->loop, &w->spawn_timer);
    rr_timer_stop(w->loop, &w->stop_timer);
    rr_timer_stop(w->loop, &w->hard_timer);
    rr_timer_stop(w->loop, &w->publish_timer);
    rr_loop_stop(w->loop);
}

static bool all_spawned(struct rp_worker *w)
{
    return w->stopped_spawning || w->spawned >= w->users_target;
}

static void maybe_end(struct rp_worker *w)
{
    if (w->live)
        return;
    if (w->phase == 1 || all_spawned(w))
        worker_end(w);
}

void rp__worker_vu_done(struct rp_worker *w, struct rp_vu *vu)
{
    (void)vu;
    w->live--;
    maybe_end(w);
}

static void hard_stop(struct rp_worker *w)
{
    w->stopped_spawning = true;
    rr_timer_stop(w->loop, &w->spawn_timer);
    /* Users finishing may end the worker from inside the loop: keep going over all. */
    for (size_t i = 0; i < w->n_vus; i++)
        rp__vu_stop(&w->vus[i], false);
    worker_end(w);
}

static void hard_fire(struct rr_timer *t)
{
    hard_stop((struct rp_worker *)((char *)t - offsetof(struct rp_worker, hard_timer)));
}

static void begin_stop(struct rp_worker *w, bool graceful)
{
    if (w->phase >= 1) {
        if (!graceful)
            hard_stop(w);
        return;
    }
    if (!graceful) {
        w->phase = 1;
        hard_stop(w);
        return;
    }
    if (w->r->o.stop_timeout_us == 0) {
        /* Stop at once, but let every user run its on_stop steps as Locust does, within
         * ON_STOP_US; whatever is still running then is abandoned. */
        w->phase = 1;
        w->stopped_spawning = true;
        rr_timer_stop(w->loop, &w->spawn_timer);
        rr_timer_start(w->loop, &w->hard_timer, rr_loop_now(w->loop) + ON_STOP_US);
        for (size_t i = 0; i < w->n_vus && w->phase == 1; i++)
            rp__vu_stop_now(&w->vus[i]);
        if (w->phase == 1)
            maybe_end(w);
        return;
    }
    w->phase = 1;
    w->stopped_spawning = true;
    rr_timer_stop(w->loop, &w->spawn_timer);
    rr_timer_start(w->loop, &w->hard_timer, rr_loop_now(w->loop) + w->r->o.stop_timeout_us);
    for (size_t i = 0; i < w->n_vus && w->phase == 1; i++)
        rp__vu_stop(&w->vus[i], true);
    if (w->phase == 1)
        maybe_end(w);
}

static void stop_fire(struct rr_timer *t)
{
    begin_stop((struct rp_worker *)((char *)t - offsetof(struct rp_worker, stop_timer)), true);
}

/* ---------------------------------------------------------------- load models */

static void spawn_fire(struct rr_timer *t)
{
    struct rp_worker *w = (struct rp_worker *)((char *)t - offsetof(struct rp_worker, spawn_timer));
    struct rr_replay *r = w->r;
    uint64_t now = rr_loop_now(w->loop);

    if (w->phase || w->stopped_spawning)
        return;
    if (r->o.mode == RR_REPLAY_RATE) {
        unsigned n = 0;
        while (w->next_arrival_us <= now && n++ < 10000) {
            if (r->o.iterations && atomic_load(&r->iter_budget) >= r->o.iterations) {
                w->stopped_spawning = true;
                break;
            }
            struct rp_vu *vu = w->free_vus;
            if (vu) {
                w->free_vus = vu->next_free;
                rp__vu_arrive(vu, w->next_arrival_us);
            } else if (w->spawned < w->n_vus) {
                vu = &w->vus[w->spawned++];
                rp__vu_arrive(vu, w->next_arrival_us);
            } else {
                w->counts.unserved++;
            }
            double gap = 1e6 / w->rate;
            if (r->o.arrival == RR_ARRIVAL_POISSON)
                gap = -log(1.0 - rp__rand01(w)) * gap;
            w->next_arrival_us += (uint64_t)(gap < 1 ? 1 : gap);
            if (w->phase)
                return;
        }
        if (w->stopped_spawning) {
            /* the budget is spent: end once the running iterations are done */
            w->phase = 1;
            for (size_t i = 0; i < w->spawned; i++)
                if (w->vus[i].is_free)
                    rp__vu_stop(&w->vus[i], true);
            maybe_end(w);
            return;
        }
        rr_timer_start(w->loop, t, w->next_arrival_us);
        return;
    }
    /* users mode: everyone due by now */
    uint64_t due = w->spawn_interval_us <= 0
                       ? w->users_target
                       : (uint64_t)((double)(now - r->start_mono_us) / w->spawn_interval_us) + 1;
    while (w->spawned < w->users_target && w->spawned < due && !w->stopped_spawning) {
        if (atomic_load_explicit(&r->stop_all, memory_order_relaxed) ||
            (r->o.iterations && atomic_load(&r->iter_budget) >= r->o.iterations)) {
            w->stopped_spawning = true;
            break;
        }
        rp__vu_spawn(&w->vus[w->spawned++]);
        if (w->phase)
            return;
    }
    if (w->spawned < w->users_target && !w->stopped_spawning) {
        rr_timer_start(w->loop, t,
                       r->start_mono_us + (uint64_t)((double)w->spawned * w->spawn_interval_us));
        return;
    }
    maybe_end(w);
}

static void before_poll(struct rr_loop *l, void *data)
{
    struct rp_worker *w = data;
    (void)l;
    if (w->r->eng->reap)
        w->r->eng->reap(w);
    int req = atomic_load_explicit(&w->stop_req, memory_order_relaxed);
    if (!req && !w->fixed_flow && atomic_load_explicit(&w->r->stop_all, memory_order_relaxed))
        req = 1;
    if (req && w->phase < 2 && !(req == 1 && w->phase == 1))
        begin_stop(w, req == 1);
}

void *rp__worker_main(void *arg)
{
    struct rp_worker *w = arg;
    struct rr_replay *r = w->r;

    w->match_data = pcre2_match_data_create(32, NULL);
    rr_loop_set_before_poll(w->loop, before_poll, w);
    rr_timer_init(&w->spawn_timer, spawn_fire);
    rr_timer_init(&w->stop_timer, stop_fire);
    rr_timer_init(&w->hard_timer, hard_fire);
    rr_timer_init(&w->publish_timer, publish_fire);
    rr_loop_update_time(w->loop);
    rr_timer_start(w->loop, &w->publish_timer, rr_loop_now(w->loop) + PUBLISH_US);
    if (r->o.run_time_us && !w->fixed_flow)
        rr_timer_start(w->loop, &w->stop_timer, r->start_mono_us + r->o.run_time_us);
    if (w->fixed_flow) {
        w->spawned = 1;
        rp__vu_spawn(&w->vus[0]);
        w->stopped_spawning = true;
        maybe_end(w);
    } else if (r->o.mode == RR_REPLAY_TIMELINE) {
        /* recorded connections dealt round-robin over the workers */
        for (size_t i = 0; i < w->n_vus && w->phase < 2; i++) {
            w->spawned++;
            rp__vu_timeline(&w->vus[i], &r->plan.tl[w->idx + i * r->n_load]);
        }
        w->stopped_spawning = true;
        maybe_end(w);
    } else if (r->o.mode == RR_REPLAY_RATE) {
        w->next_arrival_us = r->start_mono_us;
        if (w->rate > 0 && w->n_vus)
            rr_timer_start(w->loop, &w->spawn_timer, r->start_mono_us);
        else
            worker_end(w);
    } else {
        if (w->users_target)
            rr_timer_start(w->loop, &w->spawn_timer, r->start_mono_us);
        else
            worker_end(w);
    }
    if (w->phase < 2) {
        int rc = rr_loop_run(w->loop);
        if (rc)
            hard_stop(w);
    }
    /* Final drain: requests in flight are abandoned; counts published one last time. */
    for (size_t i = 0; i < w->n_vus; i++) {
        if (w->vus[i].conn && w->vus[i].state == VU_IN_FLIGHT)
            r->eng->abort(w->vus[i].conn);
    }
    w->phase = 2;
    w->live = 0;
    publish(w);
    pthread_mutex_lock(&r->mu);
    r->running--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}
