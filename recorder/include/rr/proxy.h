/* proxy.h -- The recording reverse proxy: clients connect to it, it relays every byte to
 * one upstream server unchanged, and records the exchanges it relayed into a store.
 *
 * Relaying is byte-exact (keep-alive, pipelining, Upgrade and h2c with prior knowledge pass
 * through) except for the Host header when it is rewritten (the default for https://
 * upstreams, which the proxy reaches over TLS); recording reuses the packet recorder's
 * dissectors on the two byte streams as sent. One thread, poll(2). See
 * docs/recorder-proxy.md. */
#ifndef RR_PROXY_H
#define RR_PROXY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"
#include "rr/store.h"

struct rr_proxy_opts {
    const char *listen;   /* "[HOST:]PORT"; HOST defaults to 127.0.0.1; PORT 0: any */
    const char *upstream; /* "http[s]://HOST[:PORT][/]" */
    int insecure;         /* https: do not verify the upstream's certificate */
    int host_header;      /* enum rr_proxy_host */
    struct rr_store *store;
    uint64_t max_exchanges;      /* stop after this many; 0: no limit */
    uint64_t duration_ms;        /* stop after this long; 0: no limit */
    volatile sig_atomic_t *stop; /* stop when it becomes non-zero (a signal handler sets it) */
    unsigned max_conns;          /* client connections at once; 0: 1024 */
    /* Called once listening, with the bound port (tests bind port 0). */
    void (*on_listen)(void *ud, uint16_t port);
    void *ud;
};

/* What becomes of the client's Host header on the way to the upstream. */
enum rr_proxy_host {
    RR_PROXY_HOST_DEFAULT, /* rewrite for https:// upstreams, keep for http:// */
    RR_PROXY_HOST_KEEP,
    RR_PROXY_HOST_REWRITE /* set to the upstream's HOST[:PORT] (HTTP/1 requests) */
};

struct rr_proxy_stats {
    uint64_t conns;     /* client connections accepted */
    uint64_t refused;   /* turned away: upstream unreachable or max_conns reached */
    uint64_t exchanges; /* stored */
    uint64_t bytes_c2s, bytes_s2c;
    uint64_t undissected; /* connections whose bytes were relayed but not recognised */
    uint64_t tls_failed;  /* clients answered 502: the TLS handshake with the upstream failed */
};

/* Checks the options and parses the addresses. On a bad option returns RR_EUSAGE and writes
 * one line into why. */
int rr_proxy_check(const struct rr_proxy_opts *o, char *why, size_t whylen) RR_WUR;
/* Runs until a stop condition; everything recorded is in the store (not yet flushed) when it
 * returns. RR_EUSAGE for bad options, a negated errno when the listener cannot be set up. */
int rr_proxy_run(const struct rr_proxy_opts *o, struct rr_proxy_stats *stats, char *why,
                 size_t whylen) RR_WUR;

#endif
