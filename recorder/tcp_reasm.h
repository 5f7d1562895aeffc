/* tcp_reasm.h -- TCP reassembly: packets in, each direction's in-order bytes and gaps out.
 *
 * Private to recorder/. Sans-I/O. Side 0 is the client when the handshake was seen, else a
 * guess (the record layer may swap). Sequence numbers are compared modulo 2^32. */
#ifndef RR_REC_TCP_REASM_H
#define RR_REC_TCP_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "rr/recorder.h"

enum rr_tcp_end {
    RR_TCP_END_FIN = 1,
    RR_TCP_END_RST,
    RR_TCP_END_IDLE,
    RR_TCP_END_CAP,
    RR_TCP_END_FINISH,
    RR_TCP_END_REUSE
};

struct rr_tcp_seg;

struct rr_tcp_dir {
    uint32_t next;  /* next expected sequence number */
    uint32_t acked; /* highest ack the peer sent for this direction */
    uint32_t fin_seq;
    uint32_t isn;
    uint8_t have_isn;
    uint8_t have_next, have_ack, fin, done;
    struct rr_tcp_seg *ooo; /* out-of-order segments, sorted by seq */
    size_t ooo_bytes;
};

struct rr_tcp_conn {
    uint8_t ipv;
    uint8_t ip[2][16]; /* side 0, side 1 */
    uint16_t port[2];
    uint8_t saw_syn, closed;
    uint8_t rst;
    uint8_t snaplen_gap; /* set while on_gap reports bytes cut by the snaplen */
    uint64_t t_first, t_last;
    struct rr_tcp_dir d[2];
    void *app; /* the record layer's per-connection state */
    struct rr_tcp_conn *hnext, *lprev, *lnext;
    uint64_t hash;
};

struct rr_tcp_pkt {
    uint8_t ipv;
    const uint8_t *src, *dst; /* 4 or 16 bytes */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags; /* TCP flags byte */
    const uint8_t *payload;
    size_t len;     /* captured payload bytes */
    size_t missing; /* payload bytes cut by the snaplen */
    uint64_t ts_us;
};

#define RR_TCP_FIN 0x01
#define RR_TCP_SYN 0x02
#define RR_TCP_RST 0x04
#define RR_TCP_ACK 0x10

struct rr_tcp_cb {
    /* A new connection: return 0 to track it. */
    int (*on_data)(void *ud, struct rr_tcp_conn *c, int side, const uint8_t *p, size_t n,
                   uint64_t ts_us);
    int (*on_gap)(void *ud, struct rr_tcp_conn *c, int side, uint64_t n, uint64_t ts_us);
    /* All bytes of one direction up to its FIN were delivered (may be NULL). */
    int (*on_fin)(void *ud, struct rr_tcp_conn *c, int side, uint64_t ts_us);
    /* The connection ends (app state must be released here). */
    int (*on_end)(void *ud, struct rr_tcp_conn *c, enum rr_tcp_end why, uint64_t ts_us);
    void *ud;
};

struct rr_tcp;
void rr_tcp_new(struct rr_tcp **out, const struct rr_rec_opts *o, struct rr_rec_stats *st,
                const struct rr_tcp_cb *cb);
int rr_tcp_feed(struct rr_tcp *t, const struct rr_tcp_pkt *pk) RR_WUR;
/* Ends every connection still tracked. */
int rr_tcp_finish(struct rr_tcp *t, uint64_t ts_us) RR_WUR;
size_t rr_tcp_nconns(const struct rr_tcp *t);
size_t rr_tcp_buffered(const struct rr_tcp *t);
void rr_tcp_free(struct rr_tcp **t);

#endif
