/* ip_frag.h -- IPv4 and IPv6 fragment reassembly ahead of TCP.
 *
 * Private to recorder/. Sans-I/O. Datagrams are keyed by (version, src, dst, id, protocol).
 * Coverage is tracked in 8-byte units (the fragment offset granularity); where fragments
 * overlap, the bytes that arrived first are kept. Memory is bounded: at most max_dgrams
 * datagrams in progress, each at most 65535 payload bytes; a datagram not completed within
 * timeout_us of capture time after its first fragment is evicted, as is the oldest one when a
 * new datagram would exceed max_dgrams. Expiry is checked only when a fragment arrives, so
 * unfragmented traffic pays nothing. */
#ifndef RR_REC_IP_FRAG_H
#define RR_REC_IP_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"

/* The largest reassembled payload: IPv4's total length is 16 bits, and IPv6 fragments
 * carry no jumbo payloads. */
#define RR_IPFRAG_MAX_PAYLOAD 65535u

struct rr_ipfrag_key {
    uint8_t ipv;   /* 4 or 6 */
    uint8_t proto; /* v4: the protocol field; v6: the fragment header's next header */
    uint8_t pad[2];
    uint32_t id; /* v4: 16-bit identification; v6: 32-bit */
    uint8_t src[16], dst[16];
};

struct rr_ipfrag_stats {
    uint64_t reassembled; /* fragments that ended up in a completed datagram */
    uint64_t datagrams;   /* datagrams completed */
    uint64_t evicted;     /* datagrams dropped incomplete (timeout, cap, end of capture) */
    uint64_t evicted_timeout, evicted_cap;
    uint64_t dropped; /* fragments discarded: malformed, inconsistent, or in evicted datagrams */
};

struct rr_ipfrag;

int rr_ipfrag_new(struct rr_ipfrag **out, size_t max_dgrams, uint64_t timeout_us) RR_WUR;
void rr_ipfrag_free(struct rr_ipfrag **f);
/* One fragment: payload bytes [off, off + n) of the datagram key, more: the MF flag. Returns 1
 * when it completes the datagram (*out, *outlen: its payload, valid until the next call), 0
 * when more is needed or the fragment was discarded (counted), or -ENOMEM. */
int rr_ipfrag_add(struct rr_ipfrag *f, const struct rr_ipfrag_key *key, uint32_t off, int more,
                  const uint8_t *p, size_t n, uint64_t ts_us, const uint8_t **out,
                  size_t *outlen) RR_WUR;
/* Evicts every datagram still in progress (end of capture). */
void rr_ipfrag_flush(struct rr_ipfrag *f);
const struct rr_ipfrag_stats *rr_ipfrag_stats(const struct rr_ipfrag *f);
/* Datagrams in progress. */
size_t rr_ipfrag_pending(const struct rr_ipfrag *f);

#endif
