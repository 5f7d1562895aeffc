/* replayer.h -- Run a plan (or a recorded timeline) as virtual users against one target.
 *
 * A run is created from a plan or a store, then started: worker threads (one event loop each,
 * users and stats sharded per thread) send the requests while the caller's thread reads the
 * merged stats and decides when to stop. Callbacks mirror Locust's events: test_start,
 * test_stop and request. The command-line `rrload replay` is built on this API only.
 *
 *     struct rr_replay *r;
 *     struct rr_replay_opts o;
 *     rr_replay_opts_init(&o);
 *     o.users = 10; o.spawn_rate = 10; o.run_time_us = 5000000;
 *     if (rr_replay_new(&r, plan, NULL, &o, &cb, why, sizeof(why)) == 0 &&
 *         rr_replay_start(r) == 0)
 *         while (rr_replay_wait(r, 1000000) == -ETIMEDOUT)
 *             report(r);
 *     rr_replay_free(&r);
 */
#ifndef RR_REPLAYER_H
#define RR_REPLAYER_H

#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"
#include "rr/plan.h"
#include "rr/stats.h"
#include "rr/store.h"

struct rr_replay;

enum rr_replay_mode {
    RR_REPLAY_USERS,    /* closed model: -u users, spawned at spawn_rate, Locust semantics */
    RR_REPLAY_RATE,     /* open model: iterations start at `rate` per second */
    RR_REPLAY_TIMELINE, /* the recorded exchanges at their recorded times / speed */
};

enum rr_replay_engine {
    RR_ENGINE_AUTO,
    RR_ENGINE_NATIVE,
    RR_ENGINE_CURL,
    RR_ENGINE_H2 /* HTTP/2 cleartext (prior knowledge) on nghttp2; plain http:// only */
};
enum rr_replay_arrival {
    RR_ARRIVAL_POISSON,
    RR_ARRIVAL_FIXED
};

struct rr_replay_opts {
    const char *host; /* "http://host:port"; NULL: the plan's host */
    enum rr_replay_mode mode;
    unsigned users;           /* users mode: users to reach; rate mode: most iterations at once */
    double spawn_rate;        /* users started per second (all threads together) */
    uint64_t run_time_us;     /* 0: until stopped (or iterations reached) */
    uint64_t stop_timeout_us; /* how long running iterations may finish after the stop */
    double rate;              /* rate mode: iterations per second */
    enum rr_replay_arrival arrival;
    double speed;     /* timeline mode: 2 = twice as fast as recorded */
    unsigned threads; /* 0: one per CPU this process may run on */
    enum rr_replay_engine engine;
    int http2;                      /* HTTP/2: h2c (h2 engine, or curl), ALPN for https (curl) */
    uint64_t timeout_us;            /* per request, connect included; 0: 60 s as Locust */
    const char *const *allow_hosts; /* other hosts ("name" or "name:port") requests may reach */
    size_t n_allow_hosts;
    uint64_t iterations; /* stop after this many iterations in total; 0: no limit */
    int single_user;     /* one user runs each flow once, one thread */
    uint64_t seed;       /* 0: from the clock */
};

void rr_replay_opts_init(struct rr_replay_opts *o);

/* One request, as Locust's events.request. Strings are valid during the callback only. */
struct rr_replay_request {
    const char *method;
    const char *name;
    const char *url; /* the full URL as sent */
    double response_time_ms;
    uint64_t response_length; /* body bytes */
    int status;               /* 0 when no response */
    const char *exception;    /* NULL on success, else the Locust-style error string */
    uint64_t start_time_us;   /* Unix time the request was (meant to be) sent */
    unsigned user;            /* user number, 1-based */
    const char *context;      /* "name=value, ..." of the values drawn and extracted */
};

struct rr_replay_callbacks {
    void (*test_start)(void *ud); /* on the caller's thread, from rr_replay_start */
    void (*test_stop)(void *ud);  /* on the caller's thread, when rr_replay_wait sees the end */
    /* On a worker thread, for every request: must be thread-safe when threads > 1. Setting
     * it costs a context string per request; leave it NULL for full speed. */
    void (*request)(const struct rr_replay_request *r, void *ud);
    void *ud;
};

/* Creates a run of plan (which must outlive the run), or of the store's recorded exchanges
 * in timeline mode (store must outlive rr_replay_new only: what is needed is copied).
 * cb may be NULL. Resolves the target, compiles templates and reads CSV pools. On RR_EPARSE,
 * RR_EUSAGE or -errno, why gets a one-line reason. Takes no ownership. */
int rr_replay_new(struct rr_replay **out, const struct rr_plan *plan, struct rr_store *store,
                  const struct rr_replay_opts *opts, const struct rr_replay_callbacks *cb,
                  char *why, size_t whylen) RR_WUR;
/* Stops (immediately) if running, joins the threads, frees. NULL-safe; sets *r = NULL. */
void rr_replay_free(struct rr_replay **r);

/* The target as "http://host:port", and the engine chosen ("native", "h2" or "curl"). */
const char *rr_replay_target(const struct rr_replay *r);
const char *rr_replay_engine_name(const struct rr_replay *r);

/* Starts the worker threads. Returns 0 or a negated errno. */
int rr_replay_start(struct rr_replay *r) RR_WUR;
/* Asks the run to stop: graceful lets running iterations finish within stop_timeout;
 * otherwise every request in flight is abandoned. Thread-safe and async-signal-safe. */
void rr_replay_stop(struct rr_replay *r, int graceful);
/* Waits at most timeout_us for the run to end. Returns 0 once it has ended (test_stop has
 * then been called), -ETIMEDOUT while it is running. */
int rr_replay_wait(struct rr_replay *r, uint64_t timeout_us) RR_WUR;

struct rr_replay_counts {
    uint64_t requests, failures;
    uint64_t iterations;
    uint64_t unserved; /* rate mode: starts with no free user */
    unsigned users;    /* users running now */
    int running;
};
/* Counts as of the workers' last publication (every 250 ms and at the end). Thread-safe. */
void rr_replay_counts(struct rr_replay *r, struct rr_replay_counts *out);
/* Adds the run's stats so far (all threads) into dst, which the caller owns. Thread-safe. */
void rr_replay_stats(struct rr_replay *r, struct rr_stats *dst);

#endif
