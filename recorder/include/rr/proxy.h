/* proxy.h -- The recording reverse proxy: clients connect to it, it relays every byte to
 * one upstream server unchanged, and records the exchanges it relayed into a store.
 *
 * Relaying is byte-exact (no header rewriting, keep-alive, pipelining, Upgrade and h2c with
 * prior knowledge pass through); recording reuses the packet recorder's dissectors on the
 * two byte streams. One thread, poll(2). See docs/recorder-proxy.md. */
#ifndef RR_PROXY_H
#define RR_PROXY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"
#include "rr/store.h"

struct rr_proxy_opts {
    const char *listen;   /* "[HOST:]PORT"; HOST defaults to 127.0.0.1; PORT 0: any */
    const char *upstream; /* "http://HOST[:PORT][/]" */
    struct rr_store *store;
    uint64_t max_exchanges;      /* stop after this many; 0: no limit */
    uint64_t duration_ms;        /* stop after this long; 0: no limit */
    volatile sig_atomic_t *stop; /* stop when it becomes non-zero (a signal handler sets it) */
    unsigned max_conns;          /* client connections at once; 0: 1024 */
    /* Called once listening, with the bound port (tests bind port 0). */
    void (*on_listen)(void *ud, uint16_t port);
    void *ud;
};

struct rr_proxy_stats {
    uint64_t conns;     /* client connections accepted */
    uint64_t refused;   /* turned away: upstream unreachable or max_conns reached */
    uint64_t exchanges; /* stored */
    uint64_t bytes_c2s, bytes_s2c;
    uint64_t undissected; /* connections whose bytes were relayed but not recognised */
};

/* Checks the options and parses the addresses. On a bad option returns RR_EUSAGE and writes
 * one line into why. */
int rr_proxy_check(const struct rr_proxy_opts *o, char *why, size_t whylen) RR_WUR;
/* Runs until a stop condition; everything recorded is in the store (not yet flushed) when it
 * returns. RR_EUSAGE for bad options, a negated errno when the listener cannot be set up. */
int rr_proxy_run(const struct rr_proxy_opts *o, struct rr_proxy_stats *stats, char *why,
                 size_t whylen) RR_WUR;

#endif
