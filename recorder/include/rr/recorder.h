/* recorder.h -- HTTP/1.x and h2c exchanges out of packets (pcap files, live interfaces).
 *
 * The pipeline is: capture source -> link layer -> IPv4/IPv6 -> TCP reassembly -> protocol
 * detection -> HTTP dissector -> sink. Everything after the capture source is sans-I/O:
 * rr_rec_packet() takes one captured frame, so a fuzzer or a test drives the same code as
 * rrload record. Exchanges reach the sink in the order they finish (per connection: request
 * order). */
#ifndef RR_RECORDER_H
#define RR_RECORDER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"
#include "rr/exchange.h"

struct rr_store;

/* Where exchanges go. c is the exchange's connection; on_conn is called before the first
 * exchange of a connection (so a store can assign c->id) and again when it ends (final flags
 * and times). Views and bodies are valid only during the call; non-zero aborts the run. */
struct rr_rec_sink {
    int (*on_conn)(void *ud, struct rr_conn *c);
    int (*on_exchange)(void *ud, const struct rr_conn *c, struct rr_exchange *x,
                       const uint8_t *req_body, size_t req_len, const uint8_t *resp_body,
                       size_t resp_len);
    void *ud;
};

struct rr_rec_opts {
    size_t max_conns;         /* tracked TCP connections; the least recently active is evicted */
    size_t max_buffered;      /* out-of-order bytes held over all connections */
    size_t max_conn_buffered; /* out-of-order bytes held per direction */
    uint64_t idle_us;         /* a connection quiet this long (capture time) is ended */
    size_t max_body;          /* body bytes kept per message (longer ones are counted) */
    size_t max_pending;       /* requests waiting for their response per connection */
    uint64_t max_exchanges;   /* stop after this many (0: no limit) */
    size_t max_frag_dgrams;   /* IP datagrams being reassembled at once (0: 1024) */
    uint64_t frag_timeout_us; /* an incomplete one is evicted after this (0: 30 s) */
};

/* Counters for the summary. */
struct rr_rec_stats {
    uint64_t packets, bytes; /* frames and captured bytes seen */
    uint64_t exchanges, incomplete, no_response, no_request;
    uint64_t conns, http_conns, h2_conns, nonhttp_conns;
    uint64_t gaps, gap_bytes;
    uint64_t skip_link, skip_nonip, skip_nontcp, skip_frag, skip_malformed, skip_snaplen;
    uint64_t conns_evicted_idle, conns_evicted_cap, ooo_dropped_bytes, ooo_forced_flushes;
    uint64_t parse_errors, body_capped;
    uint64_t h2_pushes, h2_resets, h2_errors; /* prior-knowledge h2 connections */
    uint64_t kernel_drops, if_drops;          /* live capture only (pcap_stats) */
    /* IP fragments: skip_frag counts the ones discarded (malformed, contradicting, or in a
     * datagram evicted incomplete); frag_used the ones in datagrams handed on to TCP. */
    uint64_t frag_used, frag_datagrams, frag_evicted;
};

struct rr_rec;

/* Fills opts with the defaults. */
void rr_rec_opts_default(struct rr_rec_opts *o);
int rr_rec_new(struct rr_rec **out, const struct rr_rec_opts *opts,
               const struct rr_rec_sink *sink) RR_WUR;
/* Returns RR_ELIMIT when the link type is not one the recorder decodes. */
int rr_rec_set_linktype(struct rr_rec *r, int dlt) RR_WUR;
/* One captured frame: caplen bytes at p, wirelen its length on the wire. Returns a sink error
 * or RR_ESTOP once max_exchanges is reached; bad packets are counted, never errors. */
int rr_rec_packet(struct rr_rec *r, const uint8_t *p, size_t caplen, size_t wirelen,
                  uint64_t ts_us) RR_WUR;
/* Ends every connection still open (their exchanges are emitted, flagged incomplete). */
int rr_rec_finish(struct rr_rec *r) RR_WUR;
const struct rr_rec_stats *rr_rec_stats(const struct rr_rec *r);
struct rr_rec_stats *rr_rec__stats_mut(struct rr_rec *r);
void rr_rec_free(struct rr_rec **r);
/* Writes the summary (several lines) into out. */
void rr_rec_summary(const struct rr_rec_stats *s, char *out, size_t outlen);

/* A sink that writes into a store (conn ids assigned by the store). */
void rr_rec_store_sink(struct rr_rec_sink *out, struct rr_store *s);

/* --- capture sources (pcap_src.c) --- */
struct rr_rec_src_opts {
    const char *file;            /* -r: pcap or pcapng; "-" for stdin */
    const char *iface;           /* -i: live */
    const char *bpf;             /* -f */
    uint64_t duration_us;        /* live: stop after this long (0: until stopped) */
    int progress;                /* print a progress line on stderr */
    int quiet;                   /* live: do not say on stderr when the capture has started */
    volatile sig_atomic_t *stop; /* set by a signal handler: stop and commit */
};
/* Checks that a file is a capture the recorder reads (before a store is created for it). */
int rr_rec_probe_file(const char *path, char *why, size_t whylen) RR_WUR;
/* Reads the whole source into r. On bad input returns RR_EPARSE (or -ENOENT, RR_ELIMIT for an
 * unsupported link type, RR_ETRUNC for a truncated file) with one line in why. What was read
 * before a truncation has been fed (call rr_rec_finish). */
int rr_rec_run(struct rr_rec *r, const struct rr_rec_src_opts *o, char *why, size_t whylen) RR_WUR;

#endif
