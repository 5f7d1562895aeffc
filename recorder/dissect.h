/* dissect.h -- Sans-I/O HTTP dissectors: the bytes of one TCP connection in, exchanges out.
 *
 * Private to recorder/. The TCP reassembler (or the proxy, or a fuzzer) feeds each direction's
 * in-order bytes; the dissector calls the sink once per finished exchange. No I/O inside.
 * The h1 (llhttp) and h2 (nghttp2) dissectors share this shape so the pipeline can switch
 * from one to the other (Upgrade: h2c, or the h2 preface seen on a fresh connection). */
#ifndef RR_REC_DISSECT_H
#define RR_REC_DISSECT_H

#include <stddef.h>
#include <stdint.h>

#include "rr/exchange.h"

enum rr_dir { RR_DIR_C2S = 0, RR_DIR_S2C = 1 };

struct rr_dissect_limits {
    size_t max_body;    /* longest body kept per message (the rest is counted, not kept) */
    size_t max_headers; /* most header bytes per message before it is marked incomplete */
    size_t max_pending; /* most exchanges waiting for their response (pipelining, streams) */
};

struct rr_dissect_sink {
    /* Called once per exchange, when its response ended (or at finish/gap for one that never
     * will). The caller-side fields conn_id and id are left 0. x's views and the body bytes
     * are valid only during the call. A non-zero return aborts the feed and is returned. */
    int (*on_exchange)(void *ud, struct rr_exchange *x, const uint8_t *req_body,
                       size_t req_len, const uint8_t *resp_body, size_t resp_len);
    void *ud;
};

/* The HTTP/2 dissector (h2_dissect.c). */
struct rr_h2d;
/* Creates a dissector for a connection that speaks h2 from its first byte (prior knowledge:
 * the client sends the preface). */
int rr_h2d_new(struct rr_h2d **out, const struct rr_dissect_sink *sink,
               const struct rr_dissect_limits *lim) RR_WUR;
/* Creates one for a connection that switched with "Upgrade: h2c": the HTTP/1 request up is
 * stream 1 (its response comes as h2); the client still sends the preface after the 101. */
int rr_h2d_new_upgraded(struct rr_h2d **out, const struct rr_dissect_sink *sink,
                        const struct rr_dissect_limits *lim, const struct rr_exchange *up,
                        const uint8_t *req_body, size_t req_len) RR_WUR;
/* Feeds in-order bytes of one direction; ts_us is the capture time of the packet. */
int rr_h2d_feed(struct rr_h2d *d, enum rr_dir dir, const uint8_t *p, size_t n,
                uint64_t ts_us) RR_WUR;
/* nbytes of dir were never captured: HPACK state is lost, so open streams end incomplete and
 * the rest of the connection is skipped (counted). */
int rr_h2d_gap(struct rr_h2d *d, enum rr_dir dir, uint64_t nbytes, uint64_t ts_us) RR_WUR;
/* End of the connection: streams still open are emitted, flagged incomplete. */
int rr_h2d_finish(struct rr_h2d *d, uint64_t ts_us) RR_WUR;
void rr_h2d_free(struct rr_h2d **d);
/* True when p starts with (a prefix of) the client connection preface "PRI * HTTP/2.0...". */
int rr_h2d_is_preface(const uint8_t *p, size_t n);

#endif
