/* h1_dissect.h -- The HTTP/1.x dissector (llhttp on both directions). Sans-I/O.
 *
 * Private to recorder/. Responses pair with the oldest unanswered request that began before
 * them (HTTP/1.1 ordering, correct for pipelining); after lost server bytes, with the newest
 * such request (older ones end without a response). After lost bytes or a parse error a
 * direction resynchronises at the next plausible message start. An "Upgrade: h2c" answered
 * by 101 hands the connection to the h2 dissector when it is built in. */
#ifndef RR_REC_H1_DISSECT_H
#define RR_REC_H1_DISSECT_H

#include "dissect.h"

struct rr_h1d;

enum rr_h1d_flag {
    RR_H1D_RESYNC_C2S = 1 << 0, /* the capture started mid-stream: look for a message start */
    RR_H1D_RESYNC_S2C = 1 << 1,
};

int rr_h1d_new(struct rr_h1d **out, const struct rr_dissect_sink *sink,
               const struct rr_dissect_limits *lim, unsigned flags) RR_WUR;
int rr_h1d_feed(struct rr_h1d *d, enum rr_dir dir, const uint8_t *p, size_t n,
                uint64_t ts_us) RR_WUR;
int rr_h1d_gap(struct rr_h1d *d, enum rr_dir dir, uint64_t nbytes, uint64_t ts_us) RR_WUR;
/* Adds flags (RR_XF_*) to the message being parsed in dir, if any. */
void rr_h1d_flag(struct rr_h1d *d, enum rr_dir dir, uint32_t flags);
/* One direction ended (FIN): a response delimited by the close is complete. */
int rr_h1d_eof(struct rr_h1d *d, enum rr_dir dir, uint64_t ts_us) RR_WUR;
int rr_h1d_finish(struct rr_h1d *d, uint64_t ts_us) RR_WUR;
/* 0: HTTP/1; 1: switched to a protocol not parsed; 2: switched to h2 (upgrade). */
int rr_h1d_state(const struct rr_h1d *d);
uint64_t rr_h1d_parse_errors(const struct rr_h1d *d);
void rr_h1d_free(struct rr_h1d **d);

/* True when p starts like an HTTP/1 request line ("TOKEN SP target SP HTTP/1.x"). */
int rr_h1_is_request_start(const uint8_t *p, size_t n);
/* Length of a method tshark and servers know, followed by SP or the line end; else 0. */
size_t rr_h1_known_method(const uint8_t *p, size_t n);
/* True when p starts like a status line ("HTTP/1.x NNN"). */
int rr_h1_is_response_start(const uint8_t *p, size_t n);

#endif
