/* worker.h -- Join a real Locust master as a worker (ZeroMQ DEALER, msgpack messages).
 *
 * The worker speaks Locust's master/worker protocol (docs/distributed.md): client_ready,
 * heartbeats every second, stats deltas every 3 s, spawn/stop/quit/reconnect from the master.
 * It does not generate load itself: a struct rr_worker_load says how to run users per
 * Locust user class and how to read what they recorded. Stats travel as struct rr_wstats,
 * a delta accumulator in Locust's own model (one entry per (method, name), errors keyed by
 * (method, name, error)), which serialises to the exact payload a Python worker sends.
 *
 *     struct rr_worker_opts o;
 *     rr_worker_opts_init(&o);
 *     o.master_host = "10.0.0.5";
 *     rc = rr_worker_run(&o, &load);   -- returns when the master says quit or is lost
 */
#ifndef RR_WORKER_H
#define RR_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"

/* ---- stats deltas, Locust's model ------------------------------------------------------ */

struct rr_wstats;

struct rr_wstats *rr_wstats_new(void);
void rr_wstats_free(struct rr_wstats **s);
/* Records one request. resp_ms < 0 is a request without a response time (Locust's "none"
 * requests). error is NULL on success, else the error text as Locust prints it
 * (e.g. "HTTPError('500 Server Error: ...')"). now_us is the Unix time of the response. */
void rr_wstats_record(struct rr_wstats *s, const char *method, const char *name, double resp_ms,
                      uint64_t content_len, const char *error, uint64_t now_us);
/* Adds every entry, histogram, per-second count and error of src into dst, as the master's
 * StatsEntry.extend does. */
void rr_wstats_merge(struct rr_wstats *dst, const struct rr_wstats *src);
/* Forgets all counts and entries; the next delta starts at now_us. */
void rr_wstats_reset(struct rr_wstats *s, uint64_t now_us);
/* Total requests and failures counted since the last reset. */
uint64_t rr_wstats_requests(const struct rr_wstats *s);
uint64_t rr_wstats_failures(const struct rr_wstats *s);

/* The error key Locust uses: sha256 hex of "METHOD.NAME.repr(error)". out: 65 bytes. */
void rr_wstats_error_key(const char *method, const char *name, const char *error, char out[65]);

/* ---- what drives the load -------------------------------------------------------------- */

struct rr_worker_load {
    /* Makes counts[i] users of class classes[i] run (absolute targets, zeros included), against
     * host when it is not NULL (the master's --host). Called on the worker's thread. Returns 0
     * or a negated errno; running[i] gets the counts actually running. */
    int (*spawn)(void *ud, const char *const *classes, const unsigned *counts, size_t n,
                 const char *host, unsigned *running);
    /* Stops every user; waits at most stop_timeout_us for running requests to finish. */
    void (*stop)(void *ud, uint64_t stop_timeout_us);
    /* Adds everything recorded since the previous call into dst. Thread-safe. */
    void (*collect)(void *ud, struct rr_wstats *dst);
    void *ud;
};

struct rr_worker_opts {
    const char *master_host; /* required */
    unsigned master_port;    /* default 5557 */
    const char *node_id;     /* NULL: "<hostname>_<32 hex digits>" as Locust */
    /* The version sent in client_ready: NULL sends -1, which every Locust 2.x master accepts
     * without a warning (its check is skipped for -1). */
    const char *version;
    unsigned connect_retries;       /* client_ready resends, 5 s apart, before giving up (60) */
    uint64_t connect_interval_us;   /* 5 s */
    uint64_t heartbeat_interval_us; /* 1 s */
    uint64_t stats_interval_us;     /* 3 s */
    /* The master counts as lost after this long without its heartbeats (masters >= 2.19) or,
     * for masters that send none, this long disconnected. Default 60 s, as Locust. */
    uint64_t master_timeout_us;
    /* Set asynchronously (a signal handler) to leave: final stats and quit are sent. */
    volatile sig_atomic_t *interrupted;
};

void rr_worker_opts_init(struct rr_worker_opts *o);

/* Exit reasons of rr_worker_run besides negated errno. */
enum {
    RR_WORKER_QUIT = 0,          /* the master said quit (or we were interrupted) */
    RR_WORKER_LOST = -1101,      /* the master went silent or away */
    RR_WORKER_NOT_ACKED = -1102, /* client_ready was never acknowledged */
};

/* Connects and serves the master until it says quit (0), the interrupt flag is set (0,
 * after telling the master), or the master is lost (RR_WORKER_LOST, users stopped). */
int rr_worker_run(const struct rr_worker_opts *o, const struct rr_worker_load *load) RR_WUR;

/* ---- a load source of plain HTTP requests, before or besides a replay plan --------------- */

/* Every user of every class loops over urls (GET, no wait), recording as Locust's HttpUser
 * does: name = path and query, HTTP 400-599 and transport errors are failures. */
struct rr_httpload;
int rr_httpload_new(struct rr_httpload **out, const char *const *urls, size_t n) RR_WUR;
void rr_httpload_free(struct rr_httpload **h);
void rr_httpload_bind(struct rr_httpload *h, struct rr_worker_load *load);
/* The host paths are joined to until the master sends one ("http://host:port"). */
void rr_httpload_set_host(struct rr_httpload *h, const char *host);

/* ---- users that replay a plan's flows -------------------------------------------------- */

/* A class named like a flow of plan runs that flow; any other class runs every flow by
 * weight. base gives the replay options (host, engine, timeouts...); users, spawn rate and
 * threads are set per class. plan must outlive the load. */
struct rr_plan;
struct rr_replay_opts;
struct rr_replayload;
int rr_replayload_new(struct rr_replayload **out, const struct rr_plan *plan,
                      const struct rr_replay_opts *base) RR_WUR;
void rr_replayload_free(struct rr_replayload **l);
void rr_replayload_bind(struct rr_replayload *l, struct rr_worker_load *load);

#endif
