/* SPDX-License-Identifier: MIT */
/* replay.c -- The public replay API: create a run, start its workers, stop, read stats. */
#define _GNU_SOURCE
#include "rr/replayer.h"

#include <errno.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <arpa/inet.h>
#include <netdb.h>
#include <pcre2.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "rp_int.h"
#include "rr/util.h"

void rr_replay_opts_init(struct rr_replay_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = RR_REPLAY_USERS;
    o->users = 1;
    o->spawn_rate = 1;
    o->speed = 1;
    o->arrival = RR_ARRIVAL_POISSON;
}

static int parse_target(struct rp_target *t, const char *url, char *why, size_t whylen)
{
    const char *p = url;
    memset(t, 0, sizeof(*t));
    if (!strncasecmp(p, "http://", 7)) {
        p += 7;
    } else if (!strncasecmp(p, "https://", 8)) {
        p += 8;
        t->tls = true;
    } else {
        snprintf(why, whylen, "target %s: expected http://HOST[:PORT] or https://HOST[:PORT]", url);
        return RR_EUSAGE;
    }
    size_t alen = strcspn(p, "/?#");
    if (alen == 0 || alen >= sizeof(t->authority)) {
        snprintf(why, whylen, "target %s: no host", url);
        return RR_EUSAGE;
    }
    memcpy(t->authority, p, alen);
    t->authority[alen] = 0;
    const char *a = t->authority, *port = NULL;
    size_t hlen;
    if (*a == '[') {
        const char *e = strchr(a, ']');
        if (!e) {
            snprintf(why, whylen, "target %s: unclosed [", url);
            return RR_EUSAGE;
        }
        hlen = (size_t)(e - a - 1);
        memcpy(t->host, a + 1, hlen);
        if (e[1] == ':')
            port = e + 2;
    } else {
        const char *c = strchr(a, ':');
        hlen = c ? (size_t)(c - a) : strlen(a);
        memcpy(t->host, a, hlen);
        if (c)
            port = c + 1;
    }
    t->host[hlen] = 0;
    t->port = t->tls ? 443 : 80;
    if (port) {
        uint64_t v;
        if (rr_parse_u64(port, 65535, &v) || v == 0) {
            snprintf(why, whylen, "target %s: bad port", url);
            return RR_EUSAGE;
        }
        t->port = (unsigned)v;
    }
    snprintf(t->base, sizeof(t->base), "%s://%s", t->tls ? "https" : "http", t->authority);
    return 0;
}

static int resolve(struct rp_target *t, char *why, size_t whylen)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[16];
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    snprintf(port, sizeof(port), "%u", t->port);
    int rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc || !res) {
        snprintf(why, whylen, "target %s: cannot resolve %s: %s", t->base, t->host,
                 gai_strerror(rc));
        return -EHOSTUNREACH;
    }
    memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
    t->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static unsigned cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    return 1;
}

int rr_replay_new(struct rr_replay **out, const struct rr_plan *plan, struct rr_store *store,
                  const struct rr_replay_opts *opts, const struct rr_replay_callbacks *cb,
                  char *why, size_t whylen)
{
    struct rr_replay *r = rr_xcalloc(1, sizeof(*r));
    const char *host;
    int rc;

    *out = NULL;
    why[0] = 0;
    r->o = *opts;
    if (cb)
        r->cb = *cb;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    atomic_init(&r->iter_budget, 0);
    atomic_init(&r->stop_all, 0);
    host = opts->host && *opts->host ? opts->host : plan ? plan->host : NULL;
    if (!host || !*host) {
        snprintf(why, whylen, "no target: the plan has no host; give --host http://HOST:PORT");
        rc = RR_EUSAGE;
        goto fail;
    }
    rc = parse_target(&r->target, host, why, whylen);
    if (rc)
        goto fail;
    r->n_allow = opts->n_allow_hosts;
    r->allow = rr_xcalloc(r->n_allow + 1, sizeof(char *));
    for (size_t i = 0; i < r->n_allow; i++) {
        const char *a = opts->allow_hosts[i];
        /* accept "http://name:port/..." as well as "name[:port]" */
        const char *s = strstr(a, "://");
        a = s ? s + 3 : a;
        r->allow[i] = rr_xstrndup(a, strcspn(a, "/"));
    }
    if (r->o.timeout_us == 0)
        r->o.timeout_us = 60000000;
    if (r->o.speed <= 0)
        r->o.speed = 1;
    snprintf(r->timeout_err, sizeof(r->timeout_err),
             "ReadTimeout(\"%sConnectionPool(host='%s', port=%u): Read timed out. (read "
             "timeout=%g)\")",
             r->target.tls ? "HTTPS" : "HTTP", r->target.host, r->target.port,
             (double)r->o.timeout_us / 1e6);
    if (opts->mode == RR_REPLAY_TIMELINE) {
        if (!store) {
            snprintf(why, whylen, "timeline mode replays a store's exchanges: no store given");
            rc = RR_EUSAGE;
            goto fail;
        }
        rc = rp__compile_timeline(r, store, why, whylen);
    } else {
        if (!plan) {
            snprintf(why, whylen, "no plan to replay");
            rc = RR_EUSAGE;
            goto fail;
        }
        rc = rp__compile(r, plan, why, whylen);
    }
    if (rc)
        goto fail;
    bool foreign = false;
    for (size_t i = 0; i < r->n_steps; i++)
        foreign = foreign || r->all_steps[i]->foreign;
    switch (opts->engine) {
    case RR_ENGINE_NATIVE:
    case RR_ENGINE_H2:
        /* Our own engines: HTTP/1.1 over http:// or https://, h2c with --http2 (or --engine
         * h2) over plain http:// only (HTTP/2 over TLS is curl's) */
        if (r->target.tls && (opts->http2 || opts->engine == RR_ENGINE_H2)) {
            snprintf(why, whylen,
                     "--engine %s speaks HTTP/2 over plain http:// only; use --engine curl",
                     opts->engine == RR_ENGINE_H2 ? "h2" : "native");
            rc = RR_EUSAGE;
            goto fail;
        }
        r->eng = opts->http2 || opts->engine == RR_ENGINE_H2 ? &rp__engine_h2 : &rp__engine_native;
        break;
    case RR_ENGINE_CURL:
        r->eng = &rp__engine_curl;
        break;
    default:
        /* HTTP/2 over https (ALPN) and absolute URLs to other hosts need curl */
        r->eng = (r->target.tls && opts->http2) || foreign ? &rp__engine_curl
                 : opts->http2                             ? &rp__engine_h2
                                                           : &rp__engine_native;
        break;
    }
    rc = resolve(&r->target, why, whylen);
    if (rc)
        goto fail;
    *out = r;
    return 0;
fail:
    rr_replay_free(&r);
    return rc;
}

const char *rr_replay_target(const struct rr_replay *r)
{
    return r->target.base;
}

const char *rr_replay_engine_name(const struct rr_replay *r)
{
    return r->eng->name;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int worker_setup(struct rr_replay *r, struct rp_worker *w, unsigned idx, size_t share,
                        size_t total_vus, uint64_t seed)
{
    const struct rr_replay_opts *o = &r->o;
    int rc;

    w->r = r;
    w->idx = idx;
    w->rng = seed * 0x9E3779B97F4A7C15ull + idx * 0xBF58476D1CE4E5B9ull + 1;
    w->real_off_us = rr_now_real_us() - rr_now_mono_us();
    atomic_init(&w->stop_req, 0);
    pthread_mutex_init(&w->shard.mu, NULL);
    rc = rr_loop_new(&w->loop);
    if (!rc)
        rc = rr_stats_new(&w->stats);
    if (!rc)
        rc = rr_stats_new(&w->shard.stats);
    if (rc)
        return rc;
    w->entries = rr_xcalloc(r->n_steps + 1, sizeof(int));
    w->flow_credit = rr_xcalloc(r->plan.n_flows + 1, sizeof(*w->flow_credit));
    for (size_t k = 0; k < r->n_steps; k++) {
        w->entries[k] = rr_stats_entry(w->stats, r->all_steps[k]->method, r->all_steps[k]->name);
        (void)rr_stats_entry(w->shard.stats, r->all_steps[k]->method, r->all_steps[k]->name);
    }
    w->n_vus = share;
    w->vus = rr_xcalloc(share + 1, sizeof(*w->vus));
    for (size_t k = 0; k < share; k++)
        rp__vu_init(w, &w->vus[k], (unsigned)(idx + k * r->n_load + 1));
    w->users_target = (unsigned)share;
    double rate_share =
        o->spawn_rate > 0 && total_vus ? o->spawn_rate * (double)share / (double)total_vus : 0;
    w->spawn_interval_us = rate_share > 0 && !o->single_user ? 1e6 / rate_share : 0;
    if (o->mode == RR_REPLAY_RATE)
        w->rate = o->rate / r->n_load;
    if (r->eng->worker_init)
        return r->eng->worker_init(w);
    return 0;
}

/* Runs a once-per-test worker (the plan's before or after steps) on the caller's thread. */
static void run_oneshot(struct rr_replay *r, struct rp_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&r->mu);
    r->running++;
    pthread_mutex_unlock(&r->mu);
    r->start_mono_us = rr_now_mono_us();
    rp__worker_main(w);
}

int rr_replay_start(struct rr_replay *r)
{
    struct rr_replay_opts *o = &r->o;
    unsigned n;
    uint64_t seed = o->seed ? o->seed : rr_now_real_us() ^ (uint64_t)getpid() << 32;
    int rc = 0;

    if (r->started)
        return -EALREADY;
    raise_nofile();
    n = o->threads ? o->threads : cpu_count();
    size_t total_vus;
    if (o->single_user) {
        n = 1;
        total_vus = 1;
    } else if (o->mode == RR_REPLAY_TIMELINE) {
        total_vus = r->plan.n_tl;
    } else if (o->mode == RR_REPLAY_RATE) {
        double d = o->rate * 10;
        total_vus = o->users > 1 ? o->users : (size_t)(d < 100 ? 100 : d > 20000 ? 20000 : d);
    } else {
        total_vus = o->users;
    }
    if (n > total_vus)
        n = total_vus ? (unsigned)total_vus : 1;
    r->n_load = n;
    r->workers = rr_xcalloc(n + 2, sizeof(*r->workers));
    r->n_workers = n + 2;
    if (r->target.addr.ss_family == AF_INET && total_vus > 10000 &&
        (ntohl(((struct sockaddr_in *)&r->target.addr)->sin_addr.s_addr) >> 24) == 127)
        r->spread_src = true;
    for (unsigned i = 0; i < n; i++) {
        size_t share = total_vus / n + (i < total_vus % n ? 1 : 0);
        rc = worker_setup(r, &r->workers[i], i, share, total_vus, seed);
        if (rc)
            return rc;
    }
    /* the plan's before and after steps: one user each, once */
    const struct rp_flow *once[2] = {&r->plan.before, &r->plan.after};
    for (unsigned k = 0; k < 2; k++) {
        struct rp_worker *w = &r->workers[n + k];
        if (!once[k]->n_steps || o->mode == RR_REPLAY_TIMELINE)
            continue;
        w->fixed_flow = once[k];
        rc = worker_setup(r, w, n + k, 1, 1, seed);
        if (rc)
            return rc;
        if (k == 0)
            r->before_w = w;
        else
            r->after_w = w;
    }
    r->started = true;
    if (r->cb.test_start)
        r->cb.test_start(r->cb.ud);
    run_oneshot(r, r->before_w);
    /* Timeline: a lead time so every thread runs and every connection is open before the
     * first recorded request is due (its gaps to the others are the point). */
    r->start_mono_us = rr_now_mono_us() + (o->mode == RR_REPLAY_TIMELINE ? 30000 : 1000);
    pthread_mutex_lock(&r->mu);
    for (unsigned i = 0; i < n; i++) {
        rc = -pthread_create(&r->workers[i].thread, NULL, rp__worker_main, &r->workers[i]);
        if (rc) {
            pthread_mutex_unlock(&r->mu);
            rr_replay_stop(r, 0);
            return rc;
        }
        r->workers[i].threaded = true;
        r->running++;
    }
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void rr_replay_stop(struct rr_replay *r, int graceful)
{
    for (unsigned i = 0; i < r->n_workers; i++) {
        struct rp_worker *w = &r->workers[i];
        int want = graceful ? 1 : 2;
        if (!w->loop)
            continue;
        if (atomic_load(&w->stop_req) < want)
            atomic_store(&w->stop_req, want);
        if (w->loop)
            rr_loop_wake(w->loop);
    }
}

int rr_replay_wait(struct rr_replay *r, uint64_t timeout_us)
{
    struct timespec ts;
    int ended;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (timeout_us % 1000000) * 1000;
    ts.tv_sec += (time_t)(timeout_us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&r->mu);
    while (r->running) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT)
            break;
    }
    ended = r->running == 0;
    pthread_mutex_unlock(&r->mu);
    if (!ended)
        return -ETIMEDOUT;
    if (!r->ended) {
        r->ended = true;
        for (unsigned i = 0; i < r->n_workers; i++)
            if (r->workers[i].threaded)
                pthread_join(r->workers[i].thread, NULL);
        if (r->after_w && atomic_load(&r->after_w->stop_req) == 1)
            atomic_store(&r->after_w->stop_req, 0); /* a graceful stop still runs after */
        run_oneshot(r, r->after_w);
        if (r->cb.test_stop)
            r->cb.test_stop(r->cb.ud);
    }
    return 0;
}

void rr_replay_counts(struct rr_replay *r, struct rr_replay_counts *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < r->n_workers; i++) {
        struct rp_worker *w = &r->workers[i];
        if (!w->shard.stats)
            continue; /* no before/after steps */
        pthread_mutex_lock(&w->shard.mu);
        out->requests += w->shard.counts.requests;
        out->failures += w->shard.counts.failures;
        out->iterations += w->shard.counts.iterations;
        out->unserved += w->shard.counts.unserved;
        out->users += w->shard.counts.users;
        out->running |= w->shard.counts.running;
        pthread_mutex_unlock(&w->shard.mu);
    }
    pthread_mutex_lock(&r->mu);
    out->running = r->running > 0;
    pthread_mutex_unlock(&r->mu);
}

void rr_replay_stats(struct rr_replay *r, struct rr_stats *dst)
{
    for (unsigned i = 0; i < r->n_workers; i++) {
        struct rp_worker *w = &r->workers[i];
        if (!w->shard.stats)
            continue;
        pthread_mutex_lock(&w->shard.mu);
        rr_stats_merge(dst, w->shard.stats);
        pthread_mutex_unlock(&w->shard.mu);
    }
}

void rr_replay_free(struct rr_replay **pr)
{
    struct rr_replay *r = pr ? *pr : NULL;
    if (!r)
        return;
    if (r->started && !r->ended) {
        rr_replay_stop(r, 0);
        while (rr_replay_wait(r, 1000000) == -ETIMEDOUT)
            ;
    }
    for (unsigned i = 0; i < r->n_workers; i++) {
        struct rp_worker *w = &r->workers[i];
        for (size_t k = 0; k < w->n_vus; k++)
            rp__vu_fini(&w->vus[k]);
        if (r->eng && r->eng->reap)
            r->eng->reap(w);
        if (r->eng && r->eng->worker_fini)
            r->eng->worker_fini(w);
        free(w->vus);
        free(w->entries);
        free(w->flow_credit);
        rr_stats_free(&w->stats);
        rr_stats_free(&w->shard.stats);
        rr_loop_free(&w->loop);
        if (w->match_data)
            pcre2_match_data_free(w->match_data);
        pthread_mutex_destroy(&w->shard.mu);
    }
    free(r->workers);
    rp__plan_fini(&r->plan);
    free(r->all_steps);
    for (size_t i = 0; i < r->n_allow; i++)
        free(r->allow[i]);
    free(r->allow);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
    *pr = NULL;
}
